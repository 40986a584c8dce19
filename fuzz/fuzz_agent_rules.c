/* fuzz_agent_rules.c - libFuzzer target for the agent's applicability rule parser
 * (src/agent/agent_rules.h): the inner XML of an sdp:IsInstalled / sdp:IsInstallable from a
 * catalog, parsed and checked whole (namespaces, lar: structure, plr: attributes, limits).
 *
 * Only agent_rules_check runs: evaluating would run whatever plr:CommandExitCode the fuzzer
 * writes (say /bin/rm), and the check is where all of the parsing is. The input, cut at its
 * first NUL, is the fragment. Broken invariants abort():
 *   - a rejected rule comes with HR_ERROR_INVALID_DATA (or out of memory) and a one-line
 *     message;
 *   - checking the same rule twice gives the same answer.
 *
 * Seed corpus: any fragment of docs/formats/sdp.md "Applicability rules on Linux", or the
 * IsInstallable of a package of ../shared/fixtures. */
#include "agent_rules.h"

#include "hresult.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *fragment = malloc(size + 1);
	struct pp_error err, again;
	int rc;

	if (fragment == NULL)
		return 0;
	memcpy(fragment, data, size);
	fragment[size] = '\0';
	pp_error_clear(&err);
	rc = agent_rules_check(fragment, &err);
	if (rc != 0) {
		if (err.message[0] == '\0' || strchr(err.message, '\n') != NULL ||
		    (err.code != HR_ERROR_INVALID_DATA && err.code != HR_E_OUTOFMEMORY))
			abort();
	} else if (err.code != 0) {
		abort();
	}
	pp_error_clear(&again);
	if (agent_rules_check(fragment, &again) != rc ||
	    (rc != 0 && err.code != HR_E_OUTOFMEMORY && strcmp(err.message, again.message) != 0))
		abort();
	free(fragment);
	return 0;
}
