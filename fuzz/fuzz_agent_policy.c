/* fuzz_agent_policy.c - libFuzzer target for the agent's machine policy parser
 * (src/agent/agent_policy.h): a document from the network, validated whole before anything is
 * applied.
 *
 * The input is parsed as JSON (jansson) and handed to agent_policy_parse. Broken invariants
 * abort():
 *   - a rejected document comes with a message;
 *   - an accepted one has at most AGENT_POLICY_MAX_CERTS certificates, each with a parsed X509
 *     whose thumbprint is 40 upper-case hex digits and 1 or 2 stores, and at most
 *     AGENT_POLICY_MAX_REMOVALS removals whose reason is "blocked" or "expired".
 *
 * Seed corpus (scripts/fuzz.sh): a machine policy document as patchpointd serves it, with a
 * certificate and a removal. */
#include "agent_policy.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_error_t jerr;
	json_t *doc = json_loadb((const char *)data, size, 0, &jerr);
	struct agent_policy_doc *p;
	struct pp_error err;

	if (doc == NULL)
		return 0;
	pp_error_clear(&err);
	p = agent_policy_parse(doc, &err);
	if (p == NULL) {
		if (err.message[0] == '\0')
			abort();
	} else {
		if (p->ncerts > AGENT_POLICY_MAX_CERTS || p->nremovals > AGENT_POLICY_MAX_REMOVALS)
			abort();
		for (size_t i = 0; i < p->ncerts; i++)
			if (p->certs[i].cert == NULL || strlen(p->certs[i].thumbprint) != 40 ||
			    strspn(p->certs[i].thumbprint, "0123456789ABCDEF") != 40 ||
			    p->certs[i].nstores < 1 || p->certs[i].nstores > 2)
				abort();
		for (size_t i = 0; i < p->nremovals; i++)
			if (strcmp(p->removals[i].reason, "blocked") != 0 &&
			    strcmp(p->removals[i].reason, "expired") != 0)
				abort();
		agent_policy_doc_free(p);
	}
	json_decref(doc);
	return 0;
}
