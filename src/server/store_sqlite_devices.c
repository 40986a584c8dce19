/* store_sqlite_devices.c - the SQLite side of enrollment keys, devices, collection rules and
 * members, and client settings (migration 0004). */
#include "store_sqlite_internal.h"

#include "hresult.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Binds the arguments of a statement that returns no row and runs it. */
static int run_done(struct sq *q, sqlite3_stmt *st, int bound, struct pp_error *err,
		    const char *what)
{
	int rc = bound == 0 ? sq_done(q, st, err, what) : -1;

	sq_release(q, st);
	return rc;
}

/* ---- enrollment keys ---- */

static void ekey_from_row(sqlite3_stmt *st, void *record)
{
	struct store_enrollment_key *k = record;

	memset(k, 0, sizeof(*k));
	k->id = sqlite3_column_int64(st, 0);
	sq_col_text(st, 1, k->name, sizeof(k->name));
	k->created_at = sqlite3_column_int64(st, 2);
	k->expires_at = sqlite3_column_int64(st, 3);
	k->revoked = sqlite3_column_int(st, 4) != 0;
	k->uses = sqlite3_column_int64(st, 5);
}

#define EKEY_COLUMNS "id, name, created_at, ifnull(expires_at, 0), revoked, uses"

int sq_ekey_insert(void *impl, struct store_enrollment_key *k, const uint8_t hash[32],
		   struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st = sq_prepare(q,
				      "INSERT INTO enrollment_keys (name, key_hash, created_at, "
				      "expires_at) VALUES (?, ?, ?, nullif(?, 0))",
				      err);
	int rc;

	if (st == NULL)
		return -1;
	rc = run_done(q, st,
		      sq_text(q, st, 1, k->name, err) || sq_blob(q, st, 2, hash, 32, err) ||
			  sq_int(q, st, 3, k->created_at, err) ||
			  sq_int(q, st, 4, k->expires_at, err),
		      err, "add the enrollment key");
	if (rc == 0)
		k->id = sqlite3_last_insert_rowid(q->db);
	return rc;
}

int sq_ekey_find(void *impl, const uint8_t hash[32], struct store_enrollment_key *out, bool *found,
		 struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st =
	    sq_prepare(q, "SELECT " EKEY_COLUMNS " FROM enrollment_keys WHERE key_hash = ?", err);

	*found = false;
	if (st == NULL)
		return -1;
	if (sq_blob(q, st, 1, hash, 32, err) != 0) {
		sq_release(q, st);
		return -1;
	}
	return sq_one(q, st, ekey_from_row, out, found, err, "read the enrollment key");
}

int sq_ekey_list(void *impl, struct store_enrollment_key **out, size_t *count, struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st =
	    sq_prepare(q, "SELECT " EKEY_COLUMNS " FROM enrollment_keys ORDER BY id", err);

	if (st == NULL)
		return -1;
	return sq_list(q, st, ekey_from_row, sizeof(**out), (void **)out, count, err,
		       "list the enrollment keys");
}

int sq_ekey_revoke(void *impl, int64_t id, bool *found, struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st =
	    sq_prepare(q, "UPDATE enrollment_keys SET revoked = 1 WHERE id = ?", err);
	int rc;

	if (st == NULL)
		return -1;
	rc = run_done(q, st, sq_int(q, st, 1, id, err), err, "revoke the enrollment key");
	*found = rc == 0 && sqlite3_changes(q->db) > 0;
	return rc;
}

int sq_ekey_used(void *impl, int64_t id, struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st =
	    sq_prepare(q, "UPDATE enrollment_keys SET uses = uses + 1 WHERE id = ?", err);

	if (st == NULL)
		return -1;
	return run_done(q, st, sq_int(q, st, 1, id, err), err, "count the enrollment key's use");
}

/* ---- devices ---- */

#define DEVICE_COLUMNS                                                                             \
	"d.id, d.machine_id, d.name, d.os, d.client_version, d.tags, d.registered_at, "            \
	"ifnull(d.last_policy_at, 0)"

static void device_from_row(sqlite3_stmt *st, void *record)
{
	struct store_device *d = record;

	memset(d, 0, sizeof(*d));
	sq_col_text(st, 0, d->id, sizeof(d->id));
	sq_col_text(st, 1, d->machine_id, sizeof(d->machine_id));
	sq_col_text(st, 2, d->name, sizeof(d->name));
	sq_col_text(st, 3, d->os, sizeof(d->os));
	sq_col_text(st, 4, d->client_version, sizeof(d->client_version));
	sq_col_text(st, 5, d->tags, sizeof(d->tags));
	d->registered_at = sqlite3_column_int64(st, 6);
	d->last_policy_at = sqlite3_column_int64(st, 7);
}

int sq_device_find(void *impl, const char *by, const void *key, size_t key_len,
		   struct store_device *out, bool *found, struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st;
	int bound;

	*found = false;
	if (strcmp(by, "credential") == 0) {
		st = sq_prepare(
		    q, "SELECT " DEVICE_COLUMNS " FROM devices d WHERE d.credential_hash = ?", err);
		bound = st != NULL ? sq_blob(q, st, 1, key, key_len, err) : -1;
	} else if (strcmp(by, "machine_id") == 0) {
		st = sq_prepare(
		    q, "SELECT " DEVICE_COLUMNS " FROM devices d WHERE d.machine_id = ?", err);
		bound = st != NULL ? sq_text(q, st, 1, key, err) : -1;
	} else {
		st = sq_prepare(q, "SELECT " DEVICE_COLUMNS " FROM devices d WHERE d.id = ?", err);
		bound = st != NULL ? sq_text(q, st, 1, key, err) : -1;
	}
	if (st == NULL)
		return -1;
	if (bound != 0) {
		sq_release(q, st);
		return -1;
	}
	return sq_one(q, st, device_from_row, out, found, err, "read the device");
}

int sq_device_list(void *impl, const char *name, struct store_device **out, size_t *count,
		   struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st = sq_prepare(q,
				      "SELECT " DEVICE_COLUMNS " FROM devices d WHERE ?1 IS NULL "
				      "OR d.name = ?1 COLLATE NOCASE ORDER BY d.name "
				      "COLLATE NOCASE, d.id",
				      err);

	if (st == NULL)
		return -1;
	if (sq_text(q, st, 1, name, err) != 0) {
		sq_release(q, st);
		return -1;
	}
	return sq_list(q, st, device_from_row, sizeof(**out), (void **)out, count, err,
		       "list the devices");
}

int sq_device_put(void *impl, const struct store_device *d, const uint8_t cred_hash[32],
		  int64_t ekey_id, struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st = sq_prepare(
	    q,
	    "INSERT INTO devices (id, machine_id, name, os, client_version, tags, credential_hash, "
	    "enrollment_key_id, registered_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) "
	    "ON CONFLICT (machine_id) DO UPDATE SET name = ?3, os = ?4, client_version = ?5, "
	    "tags = ?6, credential_hash = ?7, enrollment_key_id = ?8",
	    err);

	if (st == NULL)
		return -1;
	return run_done(
	    q, st,
	    sq_text(q, st, 1, d->id, err) || sq_text(q, st, 2, d->machine_id, err) ||
		sq_text(q, st, 3, d->name, err) || sq_text(q, st, 4, d->os, err) ||
		sq_text(q, st, 5, d->client_version, err) || sq_text(q, st, 6, d->tags, err) ||
		sq_blob(q, st, 7, cred_hash, 32, err) || sq_int(q, st, 8, ekey_id, err) ||
		sq_int(q, st, 9, d->registered_at, err),
	    err, "record the device");
}

int sq_device_set_policy_time(void *impl, const char *id, int64_t when, bool *found,
			      struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st = sq_prepare(q, "UPDATE devices SET last_policy_at = ? WHERE id = ?", err);
	int rc;

	if (st == NULL)
		return -1;
	rc = run_done(q, st, sq_int(q, st, 1, when, err) || sq_text(q, st, 2, id, err), err,
		      "record the policy time");
	*found = rc == 0 && sqlite3_changes(q->db) > 0;
	return rc;
}

/* ---- collections ---- */

int sq_collection_insert(void *impl, const struct store_collection *c, struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st =
	    sq_prepare(q, "INSERT INTO collections (id, name, created_at) VALUES (?, ?, ?)", err);

	if (st == NULL ||
	    run_done(q, st,
		     sq_text(q, st, 1, c->id, err) || sq_text(q, st, 2, c->name, err) ||
			 sq_int(q, st, 3, c->created_at, err),
		     err, "add the collection") != 0)
		return -1;
	st = sq_prepare(q, "INSERT OR IGNORE INTO collection_ids (id) VALUES (?)", err);
	if (st == NULL)
		return -1;
	return run_done(q, st, sq_text(q, st, 1, c->id, err), err, "record the collection id");
}

int sq_collection_delete(void *impl, const char *id, struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st = sq_prepare(q, "DELETE FROM collections WHERE id = ?", err);

	if (st == NULL)
		return -1;
	return run_done(q, st, sq_text(q, st, 1, id, err), err, "delete the collection");
}

int sq_collection_last_id(void *impl, const char *prefix, char out[STORE_COLLECTION_ID_LEN + 1],
			  struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st =
	    sq_prepare(q,
		       "SELECT max(id) FROM collection_ids WHERE substr(id, 1, 3) = ? "
		       "AND length(id) = 8",
		       err);
	int r;

	out[0] = '\0';
	if (st == NULL)
		return -1;
	if (sq_text(q, st, 1, prefix, err) != 0) {
		sq_release(q, st);
		return -1;
	}
	r = sq_row(q, st, err, "read the collection ids");
	if (r == 1)
		sq_col_text(st, 0, out, STORE_COLLECTION_ID_LEN + 1);
	sq_release(q, st);
	return r < 0 ? -1 : 0;
}

int sq_collection_rule_insert(void *impl, const char *collection_id,
			      const struct membership_rule *r, struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st =
	    sq_prepare(q,
		       "INSERT INTO collection_rules (collection_id, kind, "
		       "device_id, field, value, other_id) VALUES (?, ?, ?, ?, ?, ?)",
		       err);

	if (st == NULL)
		return -1;
	return run_done(
	    q, st,
	    sq_text(q, st, 1, collection_id, err) ||
		sq_text(q, st, 2, membership_kind_name(r->kind), err) ||
		sq_text(q, st, 3, r->kind == MEMBERSHIP_DIRECT ? r->value : NULL, err) ||
		sq_text(q, st, 4,
			r->kind == MEMBERSHIP_QUERY ? membership_field_name(r->field) : NULL,
			err) ||
		sq_text(q, st, 5, r->kind == MEMBERSHIP_QUERY ? r->value : NULL, err) ||
		sq_text(q, st, 6,
			r->kind == MEMBERSHIP_INCLUDE || r->kind == MEMBERSHIP_EXCLUDE ? r->other
										       : NULL,
			err),
	    err, "add the collection rule");
}

int sq_collection_rule_list(void *impl, const char *id, struct store_collection_rule **out,
			    char (**owner)[STORE_COLLECTION_ID_LEN + 1], size_t *count,
			    struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st = sq_prepare(
	    q,
	    "SELECT r.collection_id, r.kind, ifnull(r.device_id, ''), ifnull(r.field, ''), "
	    "ifnull(r.value, ''), ifnull(r.other_id, ''), ifnull(d.name, ''), ifnull(o.name, '') "
	    "FROM collection_rules r LEFT JOIN devices d ON d.id = r.device_id "
	    "LEFT JOIN collections o ON o.id = r.other_id "
	    "WHERE ?1 IS NULL OR r.collection_id = ?1 ORDER BY r.collection_id, r.id",
	    err);
	size_t cap = 0, cap2 = 0;
	int r;

	*out = NULL;
	*owner = NULL;
	*count = 0;
	if (st == NULL)
		return -1;
	if (sq_text(q, st, 1, id, err) != 0) {
		sq_release(q, st);
		return -1;
	}
	while ((r = sq_row(q, st, err, "list the collection rules")) == 1) {
		struct store_collection_rule *x;
		char kind[16], field[32];

		if (sq_list_grow((void **)out, &cap, *count + 1, sizeof(**out), err) != 0 ||
		    sq_list_grow((void **)owner, &cap2, *count + 1, sizeof(**owner), err) != 0) {
			r = -1;
			break;
		}
		x = &(*out)[*count];
		memset(x, 0, sizeof(*x));
		sq_col_text(st, 0, (*owner)[*count], sizeof((*owner)[*count]));
		sq_col_text(st, 1, kind, sizeof(kind));
		sq_col_text(st, 3, field, sizeof(field));
		for (int k = MEMBERSHIP_DIRECT; k <= MEMBERSHIP_EXCLUDE; k++)
			if (strcmp(kind, membership_kind_name((enum membership_rule_kind)k)) == 0)
				x->rule.kind = (enum membership_rule_kind)k;
		for (int f = MEMBERSHIP_FIELD_NAME; f <= MEMBERSHIP_FIELD_TAG; f++)
			if (strcmp(field, membership_field_name((enum membership_field)f)) == 0)
				x->rule.field = (enum membership_field)f;
		if (x->rule.kind == MEMBERSHIP_DIRECT)
			sq_col_text(st, 2, x->rule.value, sizeof(x->rule.value));
		else
			sq_col_text(st, 4, x->rule.value, sizeof(x->rule.value));
		x->rule.glob =
		    x->rule.kind == MEMBERSHIP_QUERY && strpbrk(x->rule.value, "*?") != NULL;
		sq_col_text(st, 5, x->rule.other, sizeof(x->rule.other));
		sq_col_text(st, 6, x->device_name, sizeof(x->device_name));
		sq_col_text(st, 7, x->other_name, sizeof(x->other_name));
		(*count)++;
	}
	sq_release(q, st);
	if (r < 0) {
		free(*out);
		free(*owner);
		*out = NULL;
		*owner = NULL;
		*count = 0;
		return -1;
	}
	return 0;
}

int sq_collection_referrer(void *impl, const char *id, char *out, size_t size, struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st = sq_prepare(
	    q,
	    "SELECT 'update ' || update_id || ' is deployed to it' FROM deployments "
	    "WHERE collection_id = ?1 UNION ALL "
	    "SELECT 'client setting \"' || s.name || '\" is deployed to it' FROM "
	    "client_setting_deployments d JOIN client_settings s ON s.id = d.setting_id "
	    "WHERE d.collection_id = ?1 UNION ALL "
	    "SELECT 'configuration baseline \"' || b.name || '\" is deployed to it' FROM "
	    "baseline_deployments d JOIN baselines b ON b.id = d.baseline_id "
	    "WHERE d.collection_id = ?1 UNION ALL "
	    "SELECT 'collection \"' || c.name || '\" ' || r.kind || 's it' FROM collection_rules r "
	    "JOIN collections c ON c.id = r.collection_id WHERE r.other_id = ?1 LIMIT 1",
	    err);
	int r;

	out[0] = '\0';
	if (st == NULL)
		return -1;
	if (sq_text(q, st, 1, id, err) != 0) {
		sq_release(q, st);
		return -1;
	}
	r = sq_row(q, st, err, "read what refers to the collection");
	if (r == 1)
		sq_col_text(st, 0, out, size);
	sq_release(q, st);
	return r < 0 ? -1 : 0;
}

int sq_members_set_for_device(void *impl, const char *device_id,
			      const char (*ids)[STORE_COLLECTION_ID_LEN + 1], size_t count,
			      struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st = sq_prepare(q, "DELETE FROM collection_members WHERE device_id = ?", err);

	if (st == NULL || run_done(q, st, sq_text(q, st, 1, device_id, err), err,
				   "recompute the device's collections") != 0)
		return -1;
	for (size_t i = 0; i < count; i++) {
		st = sq_prepare(q,
				"INSERT INTO collection_members (collection_id, device_id) VALUES "
				"(?, ?)",
				err);
		if (st == NULL ||
		    run_done(q, st,
			     sq_text(q, st, 1, ids[i], err) || sq_text(q, st, 2, device_id, err),
			     err, "record a membership") != 0)
			return -1;
	}
	return 0;
}

int sq_members_set_for_collection(void *impl, const char *collection_id,
				  const char (*device_ids)[STORE_DEVICE_ID_LEN + 1], size_t count,
				  struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st =
	    sq_prepare(q, "DELETE FROM collection_members WHERE collection_id = ?", err);

	if (st == NULL || run_done(q, st, sq_text(q, st, 1, collection_id, err), err,
				   "recompute the collection's members") != 0)
		return -1;
	for (size_t i = 0; i < count; i++) {
		st = sq_prepare(q,
				"INSERT INTO collection_members (collection_id, device_id) VALUES "
				"(?, ?)",
				err);
		if (st == NULL || run_done(q, st,
					   sq_text(q, st, 1, collection_id, err) ||
					       sq_text(q, st, 2, device_ids[i], err),
					   err, "record a membership") != 0)
			return -1;
	}
	return 0;
}

int sq_members_of_collection(void *impl, const char *collection_id, struct store_device **out,
			     size_t *count, struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st = sq_prepare(q,
				      "SELECT " DEVICE_COLUMNS
				      " FROM collection_members m JOIN devices d ON d.id = "
				      "m.device_id WHERE m.collection_id = ? ORDER BY d.name "
				      "COLLATE NOCASE, d.id",
				      err);

	if (st == NULL)
		return -1;
	if (sq_text(q, st, 1, collection_id, err) != 0) {
		sq_release(q, st);
		return -1;
	}
	return sq_list(q, st, device_from_row, sizeof(**out), (void **)out, count, err,
		       "list the collection's members");
}

static void collection_row(sqlite3_stmt *st, void *record)
{
	struct store_collection *c = record;

	memset(c, 0, sizeof(*c));
	sq_col_text(st, 0, c->id, sizeof(c->id));
	sq_col_text(st, 1, c->name, sizeof(c->name));
	c->created_at = sqlite3_column_int64(st, 2);
}

int sq_collections_of_device(void *impl, const char *device_id, struct store_collection **out,
			     size_t *count, struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st = sq_prepare(
	    q,
	    "SELECT id, name, created_at FROM (SELECT id, name, created_at FROM collections "
	    "WHERE id = 'SMS00001' AND EXISTS (SELECT 1 FROM devices WHERE id = ?1) UNION ALL "
	    "SELECT c.id, c.name, c.created_at FROM collection_members m JOIN collections c ON "
	    "c.id = m.collection_id WHERE m.device_id = ?1) ORDER BY id <> 'SMS00001', id",
	    err);

	if (st == NULL)
		return -1;
	if (sq_text(q, st, 1, device_id, err) != 0) {
		sq_release(q, st);
		return -1;
	}
	return sq_list(q, st, collection_row, sizeof(**out), (void **)out, count, err,
		       "list the device's collections");
}

/* ---- client settings ---- */

int sq_cs_list(void *impl, struct store_client_setting **out, size_t *count, struct pp_error *err)
{
	struct sq *q = impl;
	const struct clientsettings_key_info *keys = clientsettings_keys();
	sqlite3_stmt *st =
	    sq_prepare(q,
		       "SELECT s.id, s.name, s.priority, s.is_default, s.created_at, "
		       "s.updated_at, v.key, v.value FROM client_settings s LEFT JOIN "
		       "client_setting_values v ON v.setting_id = s.id ORDER BY "
		       "s.priority, v.key",
		       err);
	size_t cap = 0;
	int r;

	*out = NULL;
	*count = 0;
	if (st == NULL)
		return -1;
	while ((r = sq_row(q, st, err, "list the client settings")) == 1) {
		int64_t id = sqlite3_column_int64(st, 0);
		struct store_client_setting *c;
		char key[96];
		int k;

		if (*count == 0 || (*out)[*count - 1].id != id) {
			if (sq_list_grow((void **)out, &cap, *count + 1, sizeof(**out), err) != 0) {
				r = -1;
				break;
			}
			c = &(*out)[(*count)++];
			memset(c, 0, sizeof(*c));
			c->id = id;
			sq_col_text(st, 1, c->name, sizeof(c->name));
			c->order = sqlite3_column_int64(st, 2);
			c->is_default = sqlite3_column_int(st, 3) != 0;
			c->created_at = sqlite3_column_int64(st, 4);
			c->updated_at = sqlite3_column_int64(st, 5);
		}
		c = &(*out)[*count - 1];
		sq_col_text(st, 6, key, sizeof(key));
		k = clientsettings_key_index(key);
		if (k >= 0) {
			c->values.configured[keys[k].group] = true;
			c->values.value[k] = sqlite3_column_int64(st, 7);
		}
	}
	sq_release(q, st);
	if (r < 0) {
		free(*out);
		*out = NULL;
		*count = 0;
		return -1;
	}
	return 0;
}

int sq_cs_insert(void *impl, struct store_client_setting *c, struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st = sq_prepare(q,
				      "INSERT INTO client_settings (name, priority, is_default, "
				      "created_at, updated_at) VALUES (?, ?, 0, ?, ?)",
				      err);
	int rc;

	if (st == NULL)
		return -1;
	rc = run_done(q, st,
		      sq_text(q, st, 1, c->name, err) || sq_int(q, st, 2, c->order, err) ||
			  sq_int(q, st, 3, c->created_at, err) ||
			  sq_int(q, st, 4, c->updated_at, err),
		      err, "add the client setting");
	if (rc == 0)
		c->id = sqlite3_last_insert_rowid(q->db);
	return rc;
}

int sq_cs_put_values(void *impl, int64_t id, const struct clientsettings_values *v, int64_t now,
		     struct pp_error *err)
{
	struct sq *q = impl;
	const struct clientsettings_key_info *keys = clientsettings_keys();
	sqlite3_stmt *st =
	    sq_prepare(q, "DELETE FROM client_setting_values WHERE setting_id = ?", err);

	if (st == NULL ||
	    run_done(q, st, sq_int(q, st, 1, id, err), err, "replace the client setting") != 0)
		return -1;
	for (int k = 0; k < CS_KEY_COUNT; k++) {
		if (!v->configured[keys[k].group])
			continue;
		st = sq_prepare(q,
				"INSERT INTO client_setting_values (setting_id, key, value) VALUES "
				"(?, ?, ?)",
				err);
		if (st == NULL ||
		    run_done(q, st,
			     sq_int(q, st, 1, id, err) || sq_text(q, st, 2, keys[k].key, err) ||
				 sq_int(q, st, 3, v->value[k], err),
			     err, "record a client setting value") != 0)
			return -1;
	}
	st = sq_prepare(q, "UPDATE client_settings SET updated_at = ? WHERE id = ?", err);
	if (st == NULL)
		return -1;
	return run_done(q, st, sq_int(q, st, 1, now, err) || sq_int(q, st, 2, id, err), err,
			"record the client setting's change");
}

int sq_cs_delete(void *impl, int64_t id, struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st = sq_prepare(q, "DELETE FROM client_settings WHERE id = ?", err);

	if (st == NULL)
		return -1;
	return run_done(q, st, sq_int(q, st, 1, id, err), err, "delete the client setting");
}

int sq_cs_set_order(void *impl, int64_t id, int64_t order, struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st =
	    sq_prepare(q, "UPDATE client_settings SET priority = ? WHERE id = ?", err);

	if (st == NULL)
		return -1;
	return run_done(q, st, sq_int(q, st, 1, order, err) || sq_int(q, st, 2, id, err), err,
			"change the client setting's order");
}

int sq_cs_deploy(void *impl, int64_t id, const char *collection_id, bool on, bool *changed,
		 int64_t now, struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st =
	    on ? sq_prepare(q,
			    "INSERT OR IGNORE INTO client_setting_deployments (setting_id, "
			    "collection_id, created_at) VALUES (?, ?, ?)",
			    err)
	       : sq_prepare(q,
			    "DELETE FROM client_setting_deployments WHERE setting_id = ? AND "
			    "collection_id = ? AND ? IS NOT NULL",
			    err);
	int rc;

	*changed = false;
	if (st == NULL)
		return -1;
	rc = run_done(q, st,
		      sq_int(q, st, 1, id, err) || sq_text(q, st, 2, collection_id, err) ||
			  sq_int(q, st, 3, now, err),
		      err, on ? "deploy the client setting" : "undeploy the client setting");
	*changed = rc == 0 && sqlite3_changes(q->db) > 0;
	return rc;
}

static void csd_from_row(sqlite3_stmt *st, void *record)
{
	struct store_client_setting_deployment *d = record;

	memset(d, 0, sizeof(*d));
	d->setting_id = sqlite3_column_int64(st, 0);
	sq_col_text(st, 1, d->setting_name, sizeof(d->setting_name));
	sq_col_text(st, 2, d->collection_id, sizeof(d->collection_id));
	sq_col_text(st, 3, d->collection_name, sizeof(d->collection_name));
	d->created_at = sqlite3_column_int64(st, 4);
}

int sq_cs_deployments(void *impl, int64_t id, struct store_client_setting_deployment **out,
		      size_t *count, struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st = sq_prepare(
	    q,
	    "SELECT d.setting_id, s.name, d.collection_id, c.name, d.created_at FROM "
	    "client_setting_deployments d JOIN client_settings s ON s.id = d.setting_id JOIN "
	    "collections c ON c.id = d.collection_id WHERE ?1 = 0 OR d.setting_id = ?1 "
	    "ORDER BY s.priority, d.collection_id",
	    err);

	if (st == NULL)
		return -1;
	if (sq_int(q, st, 1, id, err) != 0) {
		sq_release(q, st);
		return -1;
	}
	return sq_list(q, st, csd_from_row, sizeof(**out), (void **)out, count, err,
		       "list the client setting deployments");
}

int sq_min_version_get(void *impl, char out[STORE_VERSION_MAX], struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st =
	    sq_prepare(q, "SELECT min_client_version FROM hierarchy_settings WHERE id = 1", err);
	int r;

	out[0] = '\0';
	if (st == NULL)
		return -1;
	r = sq_row(q, st, err, "read the minimum client version");
	if (r == 1)
		sq_col_text(st, 0, out, STORE_VERSION_MAX);
	sq_release(q, st);
	if (r == 0)
		pp_error_set(err, HR_ERROR_INVALID_DATA,
			     "site database: the hierarchy settings row is missing");
	return r == 1 ? 0 : -1;
}

int sq_min_version_put(void *impl, const char *version, struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st =
	    sq_prepare(q, "UPDATE hierarchy_settings SET min_client_version = ? WHERE id = 1", err);

	if (st == NULL)
		return -1;
	return run_done(q, st, sq_text(q, st, 1, version, err), err,
			"record the minimum client version");
}

int sq_policy_generation(void *impl, int64_t *out, struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st = sq_prepare(q, "SELECT n FROM policy_generation WHERE id = 1", err);
	int r;

	*out = 0;
	if (st == NULL)
		return -1;
	r = sq_row(q, st, err, "read the policy generation");
	if (r == 1)
		*out = sqlite3_column_int64(st, 0);
	sq_release(q, st);
	if (r == 0)
		pp_error_set(err, HR_ERROR_INVALID_DATA,
			     "site database: the policy generation row is missing");
	return r == 1 ? 0 : -1;
}

/* ---- state messages and compliance ---- */

int sq_state_insert(void *impl, const char *device_id, const struct store_state_message *m,
		    int64_t now, bool *inserted, struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st = sq_prepare(
	    q,
	    "INSERT OR IGNORE INTO state_messages (id, device_id, time, topic, update_id, "
	    "revision, "
	    "deployment_id, state, hresult, detail, received_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
	    "nullif(?7, 0), ?8, ?9, ?10, ?11)",
	    err);
	int bound;

	*inserted = false;
	if (st == NULL)
		return -1;
	bound = sq_text(q, st, 1, m->id, err) || sq_text(q, st, 2, device_id, err) ||
		sq_int(q, st, 3, m->time, err) ||
		sq_text(q, st, 4, store_state_topic_name(m->topic), err) ||
		sq_text(q, st, 5, m->update_id, err) || sq_int(q, st, 6, m->revision, err) ||
		sq_int(q, st, 7, m->deployment_id, err) ||
		sq_text(q, st, 8, store_update_status_name(m->state), err) ||
		(m->has_hresult ? sq_int(q, st, 9, (int64_t)m->hresult, err) : 0) ||
		sq_text(q, st, 10, m->detail, err) || sq_int(q, st, 11, now, err);
	if (run_done(q, st, bound, err, "record the state message") != 0)
		return -1;
	*inserted = sqlite3_changes(q->db) > 0;
	if (!*inserted)
		return 0;
	st = sq_prepare(q,
			"INSERT INTO device_update_state (device_id, update_id, revision, state, "
			"hresult, detail, time) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT "
			"(device_id, update_id) DO UPDATE SET revision = ?3, state = ?4, hresult = "
			"?5, detail = ?6, time = ?7 WHERE ?7 >= time",
			err);
	if (st == NULL)
		return -1;
	bound = sq_text(q, st, 1, device_id, err) || sq_text(q, st, 2, m->update_id, err) ||
		sq_int(q, st, 3, m->revision, err) ||
		sq_text(q, st, 4, store_update_status_name(m->state), err) ||
		(m->has_hresult ? sq_int(q, st, 5, (int64_t)m->hresult, err) : 0) ||
		sq_text(q, st, 6, m->detail, err) || sq_int(q, st, 7, m->time, err);
	return run_done(q, st, bound, err, "record the device's state of the update");
}

static void compliance_from_row(sqlite3_stmt *st, void *record)
{
	struct store_compliance *c = record;
	char state[32];
	int k;

	memset(c, 0, sizeof(*c));
	sq_col_text(st, 0, c->device_id, sizeof(c->device_id));
	sq_col_text(st, 1, c->device_name, sizeof(c->device_name));
	sq_col_text(st, 2, state, sizeof(state));
	k = store_update_status_parse(state);
	c->state = k >= 0 ? (enum store_update_status)k : STORE_STATUS_UNKNOWN;
	c->revision = sqlite3_column_int64(st, 3);
	c->has_hresult = sqlite3_column_type(st, 4) != SQLITE_NULL;
	c->hresult = (uint32_t)sqlite3_column_int64(st, 4);
	sq_col_text(st, 5, c->detail, sizeof(c->detail));
	c->time = sqlite3_column_int64(st, 6);
}

int sq_compliance_list(void *impl, const char *update_id, int64_t deployment_id,
		       struct store_compliance **out, size_t *count, struct pp_error *err)
{
	struct sq *q = impl;
	/* The devices targeted (through the collections of the update's deployments, or of one
	 * deployment; All Systems is every device), and with no deployment filter every device
	 * that reported a state too. */
	sqlite3_stmt *st = sq_prepare(
	    q,
	    "WITH targets(collection_id) AS (SELECT collection_id FROM deployments WHERE "
	    "update_id = ?1 AND (?2 = 0 OR id = ?2)), "
	    "devs(id) AS (SELECT m.device_id FROM collection_members m JOIN targets t ON "
	    "t.collection_id = m.collection_id UNION SELECT d.id FROM devices d WHERE EXISTS "
	    "(SELECT 1 FROM targets WHERE collection_id = 'SMS00001') UNION SELECT device_id FROM "
	    "device_update_state WHERE update_id = ?1 AND ?2 = 0) "
	    "SELECT d.id, d.name, ifnull(s.state, 'unknown'), ifnull(s.revision, 0), s.hresult, "
	    "ifnull(s.detail, ''), ifnull(s.time, 0) FROM devs JOIN devices d ON d.id = devs.id "
	    "LEFT JOIN device_update_state s ON s.device_id = d.id AND s.update_id = ?1 "
	    "ORDER BY d.name COLLATE NOCASE, d.id",
	    err);

	if (st == NULL)
		return -1;
	if (sq_text(q, st, 1, update_id, err) != 0 || sq_int(q, st, 2, deployment_id, err) != 0) {
		sq_release(q, st);
		return -1;
	}
	return sq_list(q, st, compliance_from_row, sizeof(**out), (void **)out, count, err,
		       "read the compliance of the update");
}
