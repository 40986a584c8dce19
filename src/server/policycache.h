/* policycache.h - machine policy answers kept in memory between a device's polls
 * (docs/internals/device-protocol.md "Policy cache").
 *
 * An answer is the serialised machine policy document of one device with its ETag, found by
 * the digest of the device's credential and labelled with the policy generation it was built
 * at (store_policy_generation). It is served only while the site is at that generation and
 * before valid_until (the next expiry of a signing certificate, which turns an install into a
 * removal). A newer generation drops every answer at once. The cache is shared by the HTTP
 * workers (one mutex, held for a lookup or an insert, never while a document is built) and
 * bounded in bytes: beyond the budget the least recently served answers go first.
 *
 * Entries are counted references: one from the table while an answer is in it, one for each
 * caller between get/put and release, so an answer dropped while it is being sent stays valid
 * until its sender releases it. */
#ifndef PATCHPOINT_POLICYCACHE_H
#define PATCHPOINT_POLICYCACHE_H

#include "policy.h"
#include "store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define POLICYCACHE_DEFAULT_BYTES (32u << 20) /* about 14,000 devices of 2.2 KB answers */

struct policycache;

struct policycache_entry {
	uint8_t key[32];			 /* SHA-256 of the device credential */
	char device_id[STORE_DEVICE_ID_LEN + 1]; /* "GUID:..." */
	char etag[POLICY_VERSION_LEN + 3];	 /* "\"<version>\"" */
	char *body;				 /* the document, JSON text */
	size_t len;
	int64_t generation;
	int64_t valid_until; /* Unix seconds; INT64_MAX when nothing expires */
	/* private: under the cache's mutex */
	int64_t policy_time; /* the device's last_policy_at as last written */
	unsigned refs;
	bool in_table;
	size_t bytes;
	struct policycache_entry *chain, *newer, *older;
};

/* NULL when out of memory. max_bytes 0 means POLICYCACHE_DEFAULT_BYTES. */
struct policycache *policycache_new(size_t max_bytes);
void policycache_free(struct policycache *c);

/* The answer for key built at generation gen and valid at now, with a reference; NULL when there
 * is none. Seeing a generation newer than the cache's drops every answer. */
struct policycache_entry *policycache_get(struct policycache *c, const uint8_t key[32], int64_t gen,
					  int64_t now);

/* Makes an answer of body (taken in every case; NUL-terminated, len bytes) and returns it with
 * a reference; NULL when out of memory (body freed). It enters the table unless the cache has
 * already seen a newer generation; then it is the caller's alone and goes at release. */
struct policycache_entry *policycache_put(struct policycache *c, const uint8_t key[32], int64_t gen,
					  const char *device_id, const char *etag, char *body,
					  size_t len, int64_t valid_until, int64_t policy_time);

/* True when the device's last_policy_at is interval seconds old or more at now: the caller then
 * writes it, and the answer remembers now so that the other polls of that minute do not. */
bool policycache_policy_time_due(struct policycache *c, struct policycache_entry *e, int64_t now,
				 int64_t interval);

void policycache_release(struct policycache *c, struct policycache_entry *e);

struct policycache_stats {
	size_t entries, bytes, max_bytes;
	uint64_t hits, misses, evictions, drops; /* drops: answers dropped by a new generation */
	int64_t generation;
};
void policycache_stats(struct policycache *c, struct policycache_stats *out);

#endif
