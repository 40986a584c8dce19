/* fuzz_agent_gpo.c - libFuzzer target for what the agent reads in group policy
 * (src/agent/agent_gpo.h): a GPO's Registry.pol and the site's list of GPOs, both from the
 * network.
 *
 * An input starting "PReg" goes to agent_gpo_parse_pol, anything else is parsed as JSON and
 * handed to agent_gpo_parse_list. Broken invariants abort():
 *   - a rejected input comes with a message and leaves nothing behind;
 *   - an accepted Registry.pol gives at most AGENT_GPO_CERTS_MAX certificates, each with a
 *     parsed X509 whose thumbprint is 40 upper-case hex digits in a policy store (not My), no
 *     (store, thumbprint) twice, and a refusal message whenever something was refused;
 *   - an accepted list has at most AGENT_GPO_MAX GPOs with upper-case GUID ids in braces,
 *     each in its place (order i + 1), no id twice.
 *
 * Seed corpus (scripts/fuzz.sh): a Registry.pol as patchpointd builds it (Root and
 * TrustedPublisher Blobs, AcceptTrustedPublisherCerts) and a GPO list. */
#include "agent_gpo.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_pol(const uint8_t *data, size_t size)
{
	struct agent_gpo_contents c;
	struct pp_error err;
	size_t i, k;

	pp_error_clear(&err);
	if (agent_gpo_parse_pol(data, size, "fuzz", NULL, &c, &err) != 0) {
		if (err.message[0] == '\0' || c.certs != NULL || c.ncerts != 0)
			abort();
		return;
	}
	if (c.ncerts > AGENT_GPO_CERTS_MAX || (c.refused > 0 && c.refusal[0] == '\0'))
		abort();
	for (i = 0; i < c.ncerts; i++) {
		if (c.certs[i].cert == NULL || c.certs[i].store == CERTSTORE_MY ||
		    c.certs[i].store >= CERTSTORE_COUNT || strlen(c.certs[i].thumbprint) != 40 ||
		    strspn(c.certs[i].thumbprint, "0123456789ABCDEF") != 40)
			abort();
		for (k = 0; k < i; k++)
			if (c.certs[k].store == c.certs[i].store &&
			    strcmp(c.certs[k].thumbprint, c.certs[i].thumbprint) == 0)
				abort();
	}
	agent_gpo_contents_free(&c);
}

static void check_list(const uint8_t *data, size_t size)
{
	json_error_t jerr;
	json_t *doc = json_loadb((const char *)data, size, 0, &jerr);
	struct agent_gpo *g = NULL;
	struct pp_error err;
	size_t n = 0, i, k;

	if (doc == NULL)
		return;
	pp_error_clear(&err);
	if (agent_gpo_parse_list(doc, &g, &n, &err) != 0) {
		if (err.message[0] == '\0' || g != NULL || n != 0)
			abort();
		json_decref(doc);
		return;
	}
	if (n > AGENT_GPO_MAX)
		abort();
	for (i = 0; i < n; i++) {
		if (strlen(g[i].id) != AGENT_GPO_ID_LEN || g[i].id[0] != '{' ||
		    strspn(g[i].id + 1, "0123456789ABCDEF-") != 36 ||
		    g[i].order != (long long)i + 1 || g[i].name[0] == '\0')
			abort();
		for (k = 0; k < i; k++)
			if (strcmp(g[k].id, g[i].id) == 0)
				abort();
	}
	agent_gpo_list_free(g, n);
	json_decref(doc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size >= 4 && memcmp(data, "PReg", 4) == 0)
		check_pol(data, size);
	else
		check_list(data, size);
	return 0;
}
