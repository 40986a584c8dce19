/* policy.h - resultant client settings and machine policy (DESIGN 5.6, 5.7,
 * docs/internals/device-protocol.md).
 *
 * A policy table is a snapshot of the client settings, their order and the collections each
 * is deployed to, with those deployments as one bitset per setting; a device's memberships are
 * a bitset over the same collections, so resolving one device is a few word operations per
 * client setting (bench/policy resolves 100,000 devices from one table). The machine policy
 * document of a device is built from its resultant settings, the site's signing certificates and
 * the deployments targeting its collections; its version is a digest of its contents, so an
 * unchanged policy is recognised without any state kept per device. */
#ifndef PATCHPOINT_POLICY_H
#define PATCHPOINT_POLICY_H

#include "clientsettings.h"
#include "error.h"
#include "store.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define POLICY_VERSION_LEN 16 /* lower-case hex */

struct policy_table {
	struct store_client_setting *settings; /* by order: custom 1..n, the default last */
	size_t setting_count;
	struct store_collection *collections; /* every collection, by id */
	size_t collection_count;
	size_t words;	    /* uint64_t words of a collection bitset */
	uint64_t *deployed; /* setting_count bitsets: the collections each is deployed to */
	struct clientsettings_item *items; /* setting_count, pointing into settings */
	size_t default_index;
};

/* Loads the table from the store. */
int policy_table_load(struct store *s, struct policy_table *t, struct pp_error *err) PP_WARN_UNUSED;
void policy_table_free(struct policy_table *t);

/* Sets the bits of collections (ids, as store_device_collections gives them) in bits (t->words
 * words, cleared first). */
void policy_device_bits(const struct policy_table *t, const struct store_collection *colls,
			size_t count, uint64_t *bits);

/* The resultant settings of a device whose collections are bits. deployed (may be NULL; room
 * for t->setting_count) receives the indexes of the client settings deployed to it, by order,
 * the default last; *deployed_count their number. */
void policy_resolve(const struct policy_table *t, const uint64_t *bits,
		    struct clientsettings_resultant *out, size_t *deployed, size_t *deployed_count);

/* {"settings":{key:{"value","source","group","label"}},...} for the admin API and the policy. */
json_t *policy_settings_json(const struct clientsettings_resultant *r, bool with_labels);

/* The machine policy document of device d, "version" included; NULL with err. *valid_until is
 * the first second at which the same store would give another document (a signing certificate
 * expires), INT64_MAX when none would. */
json_t *policy_machine_document(struct store *s, const struct store_device *d, int64_t *valid_until,
				struct pp_error *err);

#endif
