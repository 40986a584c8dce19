/* store_sqlite_internal.h - what the SQLite backend's files share: the connection with its
 * statement cache, the statement helpers, and the operations store_sqlite_updates.c implements
 * for the table in store_sqlite.c. Not for callers of the store. */
#ifndef PATCHPOINT_STORE_SQLITE_INTERNAL_H
#define PATCHPOINT_STORE_SQLITE_INTERNAL_H

#include "store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#define SQ_BUSY_TIMEOUT_MS 5000
#define SQ_LIST_MAX	   100000 /* rows a list call returns at most */
#define SQ_CACHE	   96	  /* prepared statements kept per connection */

/* A statement kept prepared between calls, keyed by its SQL text (a string literal of this file,
 * so the pointer identifies it). */
struct sq_cached {
	const char *sql;
	sqlite3_stmt *st;
	bool in_use;
};

struct sq {
	sqlite3 *db;
	int depth; /* open transaction levels: 0 none, 1 BEGIN, more are savepoints */
	struct sq_cached cache[SQ_CACHE];
};

/* Maps a SQLite result to an HRESULT and records "<what>: <SQLite's message>"; returns -1. */
int sq_fail(struct sq *q, int rc, struct pp_error *err, const char *what);

/* A prepared statement for sql (a string literal: its address is the cache key); give it back
 * with sq_release. */
sqlite3_stmt *sq_prepare(struct sq *q, const char *sql, struct pp_error *err);
void sq_release(struct sq *q, sqlite3_stmt *st);

/* Binding helpers: 0, or -1 with err set. A NULL text binds NULL. */
int sq_text(struct sq *q, sqlite3_stmt *st, int i, const char *v, struct pp_error *err);
int sq_int(struct sq *q, sqlite3_stmt *st, int i, int64_t v, struct pp_error *err);
int sq_blob(struct sq *q, sqlite3_stmt *st, int i, const void *v, size_t n, struct pp_error *err);

/* Steps a statement that returns no row (0 / -1), or at most one row (1 row, 0 none, -1). */
int sq_done(struct sq *q, sqlite3_stmt *st, struct pp_error *err, const char *what);
int sq_row(struct sq *q, sqlite3_stmt *st, struct pp_error *err, const char *what);

/* Column i as text into buf ("" for NULL), cut to size. */
void sq_col_text(sqlite3_stmt *st, int i, char *buf, size_t size);

/* Fills a record of some type from the current row of st. */
typedef void (*sq_row_fn)(sqlite3_stmt *st, void *out);

/* One row through from_row (*found tells whether it came), or every row into a malloc'd array
 * of size-byte records; both release st. */
int sq_one(struct sq *q, sqlite3_stmt *st, sq_row_fn from_row, void *out, bool *found,
	   struct pp_error *err, const char *what);
int sq_list(struct sq *q, sqlite3_stmt *st, sq_row_fn from_row, size_t size, void **out,
	    size_t *count, struct pp_error *err, const char *what);
int sq_list_grow(void **arr, size_t *cap, size_t n, size_t elem, struct pp_error *err);

/* ---- store_sqlite_updates.c: catalogs, updates, their content, collections, deployments ---- */

int sq_catalog_put(void *impl, const struct store_catalog *c, bool *changed, struct pp_error *err);
int sq_catalog_get(void *impl, const char *name, struct store_catalog *out, bool *found,
		   struct pp_error *err);
int sq_catalog_list(void *impl, struct store_catalog **out, size_t *count, struct pp_error *err);
int sq_update_get(void *impl, const char *id, struct store_update *out, bool *found,
		  struct pp_error *err);
int sq_update_sdp(void *impl, const char *id, char **xml, size_t *len, bool *found,
		  struct pp_error *err);
int sq_update_put(void *impl, const struct store_update *u, const char *sdp, size_t sdp_len,
		  struct pp_error *err);
int sq_update_list(void *impl, const struct store_update_filter *f, struct store_update **out,
		   size_t *count, struct pp_error *err);
int sq_update_delete(void *impl, const char *id, struct pp_error *err);
int sq_update_set_state(void *impl, const char *id, int64_t revision, enum store_update_state state,
			int64_t now, struct pp_error *err);
int sq_content_get(void *impl, const char *id, int64_t revision, struct store_update_content *out,
		   bool *found, struct pp_error *err);
int sq_content_insert(void *impl, const struct store_update_content *c, struct pp_error *err);
int sq_content_list(void *impl, const char *id, struct store_update_content **out, size_t *count,
		    struct pp_error *err);
int sq_content_referenced(void *impl, const char *sha1, bool *referenced, struct pp_error *err);
int sq_collection_get(void *impl, const char *id_or_name, struct store_collection *out, bool *found,
		      struct pp_error *err);
int sq_collection_list(void *impl, struct store_collection **out, size_t *count,
		       struct pp_error *err);
int sq_deployment_insert(void *impl, struct store_deployment *d, struct pp_error *err);
int sq_deployment_list(void *impl, const char *update_id, struct store_deployment **out,
		       size_t *count, struct pp_error *err);

/* ---- store_sqlite_devices.c: enrollment keys, devices, collections, client settings ---- */
int sq_ekey_insert(void *impl, struct store_enrollment_key *k, const uint8_t hash[32],
		   struct pp_error *err);
int sq_ekey_find(void *impl, const uint8_t hash[32], struct store_enrollment_key *out, bool *found,
		 struct pp_error *err);
int sq_ekey_list(void *impl, struct store_enrollment_key **out, size_t *count,
		 struct pp_error *err);
int sq_ekey_revoke(void *impl, int64_t id, bool *found, struct pp_error *err);
int sq_ekey_used(void *impl, int64_t id, struct pp_error *err);
int sq_device_find(void *impl, const char *by, const void *key, size_t key_len,
		   struct store_device *out, bool *found, struct pp_error *err);
int sq_device_list(void *impl, const char *name, struct store_device **out, size_t *count,
		   struct pp_error *err);
int sq_device_put(void *impl, const struct store_device *d, const uint8_t cred_hash[32],
		  int64_t ekey_id, struct pp_error *err);
int sq_device_set_policy_time(void *impl, const char *id, int64_t when, bool *found,
			      struct pp_error *err);
int sq_collection_insert(void *impl, const struct store_collection *c, struct pp_error *err);
int sq_collection_delete(void *impl, const char *id, struct pp_error *err);
int sq_collection_last_id(void *impl, const char *prefix, char out[STORE_COLLECTION_ID_LEN + 1],
			  struct pp_error *err);
int sq_collection_rule_insert(void *impl, const char *collection_id,
			      const struct membership_rule *r, struct pp_error *err);
int sq_collection_rule_list(void *impl, const char *id, struct store_collection_rule **out,
			    char (**owner)[STORE_COLLECTION_ID_LEN + 1], size_t *count,
			    struct pp_error *err);
int sq_collection_referrer(void *impl, const char *id, char *out, size_t size,
			   struct pp_error *err);
int sq_members_set_for_device(void *impl, const char *device_id,
			      const char (*ids)[STORE_COLLECTION_ID_LEN + 1], size_t count,
			      struct pp_error *err);
int sq_members_set_for_collection(void *impl, const char *collection_id,
				  const char (*device_ids)[STORE_DEVICE_ID_LEN + 1], size_t count,
				  struct pp_error *err);
int sq_members_of_collection(void *impl, const char *collection_id, struct store_device **out,
			     size_t *count, struct pp_error *err);
int sq_collections_of_device(void *impl, const char *device_id, struct store_collection **out,
			     size_t *count, struct pp_error *err);
int sq_cs_list(void *impl, struct store_client_setting **out, size_t *count, struct pp_error *err);
int sq_cs_insert(void *impl, struct store_client_setting *c, struct pp_error *err);
int sq_cs_put_values(void *impl, int64_t id, const struct clientsettings_values *v, int64_t now,
		     struct pp_error *err);
int sq_cs_delete(void *impl, int64_t id, struct pp_error *err);
int sq_cs_set_order(void *impl, int64_t id, int64_t order, struct pp_error *err);
int sq_cs_deploy(void *impl, int64_t id, const char *collection_id, bool on, bool *changed,
		 int64_t now, struct pp_error *err);
int sq_cs_deployments(void *impl, int64_t id, struct store_client_setting_deployment **out,
		      size_t *count, struct pp_error *err);
int sq_min_version_get(void *impl, char out[STORE_VERSION_MAX], struct pp_error *err);
int sq_min_version_put(void *impl, const char *version, struct pp_error *err);
int sq_policy_generation(void *impl, int64_t *out, struct pp_error *err);

int sq_state_insert(void *impl, const char *device_id, const struct store_state_message *m,
		    int64_t now, bool *inserted, struct pp_error *err);
int sq_compliance_list(void *impl, const char *update_id, int64_t deployment_id,
		       struct store_compliance **out, size_t *count, struct pp_error *err);

/* ---- store_sqlite_gpo.c: group policy objects (migration 0006) ---- */
extern const struct store_gpo_ops sq_gpo_ops;
/* ---- store_sqlite_ci.c: configuration items and baselines (migration 0008) ---- */
extern const struct store_ci_ops sq_ci_ops;
/* ---- store_sqlite_ts.c: packages, task sequences, deployments, runs ---- */
extern const struct store_ts_ops sq_ts_ops;

#endif
