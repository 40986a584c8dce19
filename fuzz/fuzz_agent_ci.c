/* fuzz_agent_ci.c - libFuzzer target for the agent's baselines document parser
 * (src/agent/agent_ci.h): a document from the network, checked whole before any item is
 * evaluated (nothing is evaluated here: no script runs, no store changes).
 *
 * The input is parsed as JSON (jansson) and handed to agent_ci_parse. Broken invariants abort():
 *   - a rejected document comes with a message;
 *   - an accepted one has at most AGENT_CI_MAX_BASELINES baselines, each with 1 to
 *     CONFIGITEM_BASELINE_ITEMS_MAX items and a 64-digit fingerprint; a certificate item has a
 *     parsed X509, a 40-digit upper-case thumbprint and only Root and TrustedPublisher as stores;
 *     a script item a discovery script, a time limit of 1 to CONFIGITEM_TIMEOUT_MAX seconds and
 *     an expected value that is canonical for its type.
 *
 * Seed corpus (scripts/fuzz.sh): a baselines document as patchpointd serves it, with one item of
 * each kind. */
#include "agent_ci.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_item(const struct agent_ci_item *it)
{
	char again[CONFIGITEM_VALUE_MAX + 1];
	struct pp_error err;

	pp_error_clear(&err);
	if (it->kind == CONFIGITEM_KIND_CERTIFICATE) {
		if (it->cert == NULL || strlen(it->thumbprint) != 40 ||
		    strspn(it->thumbprint, "0123456789ABCDEF") != 40 || it->stores == 0 ||
		    (it->stores & ~CONFIGITEM_STORES_ALLOWED) != 0)
			abort();
		return;
	}
	if (it->discovery == NULL || it->discovery[0] == '\0' || it->timeout_seconds < 1 ||
	    it->timeout_seconds > CONFIGITEM_TIMEOUT_MAX ||
	    configitem_value_normalize(it->data_type, it->expected, "expected", again, &err) != 0 ||
	    strcmp(again, it->expected) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_error_t jerr;
	json_t *doc = json_loadb((const char *)data, size, 0, &jerr);
	struct agent_ci_doc *d;
	struct pp_error err;

	if (doc == NULL)
		return 0;
	pp_error_clear(&err);
	d = agent_ci_parse(doc, &err);
	if (d == NULL) {
		if (err.message[0] == '\0')
			abort();
	} else {
		if (d->count > AGENT_CI_MAX_BASELINES)
			abort();
		for (size_t i = 0; i < d->count; i++) {
			const struct agent_ci_baseline *b = &d->baselines[i];

			if (b->count < 1 || b->count > CONFIGITEM_BASELINE_ITEMS_MAX ||
			    strlen(b->fingerprint) != AGENT_CI_FINGERPRINT)
				abort();
			for (size_t k = 0; k < b->count; k++)
				check_item(&b->items[k]);
		}
		agent_ci_doc_free(d);
	}
	json_decref(doc);
	return 0;
}
