/* store_sqlite.c - the SQLite backend of the site database: WAL, foreign keys, a busy timeout,
 * prepared statements only, and the compiled-in migrations of src/server/migrations/. */
#include "store.h"
#include "store_migrations.h"
#include "store_sqlite_internal.h"

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

/* Maps a SQLite result to an HRESULT and records "<what>: <SQLite's message>". */
int sq_fail(struct sq *q, int rc, struct pp_error *err, const char *what)
{
	uint32_t code;

	switch (rc & 0xFF) {
	case SQLITE_NOMEM:
		code = HR_E_OUTOFMEMORY;
		break;
	case SQLITE_FULL:
		code = HR_ERROR_DISK_FULL;
		break;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		code = HR_ERROR_INVALID_DATA;
		break;
	case SQLITE_CANTOPEN:
		code = HR_ERROR_FILE_NOT_FOUND;
		break;
	case SQLITE_PERM:
	case SQLITE_READONLY:
	case SQLITE_AUTH:
		code = HR_E_ACCESSDENIED;
		break;
	case SQLITE_CONSTRAINT:
		code = rc == SQLITE_CONSTRAINT_FOREIGNKEY ? HR_CRYPT_E_NOT_FOUND
		       : (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
			   ? HR_ERROR_ALREADY_EXISTS
			   : HR_E_INVALIDARG;
		break;
	default:
		code = HR_E_FAIL;
		break;
	}
	pp_error_set(err, code, "site database: %s: %s", what,
		     q != NULL && q->db != NULL ? sqlite3_errmsg(q->db) : sqlite3_errstr(rc));
	return -1;
}

/* A prepared statement for sql: the connection's cached one when it is free (preparing is most
 * of the cost of a short query), else a new one, cached when there is room. Give it back with
 * sq_release. */
sqlite3_stmt *sq_prepare(struct sq *q, const char *sql, struct pp_error *err)
{
	struct sq_cached *slot = NULL;
	sqlite3_stmt *st = NULL;
	int rc;

	for (size_t i = 0; i < SQ_CACHE; i++) {
		struct sq_cached *c = &q->cache[i];

		if (c->sql == sql && !c->in_use) {
			c->in_use = true;
			return c->st;
		}
		if (c->sql == NULL && slot == NULL)
			slot = c;
	}
	rc = sqlite3_prepare_v2(q->db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK) {
		(void)sq_fail(q, rc, err, "prepare");
		sqlite3_finalize(st);
		return NULL;
	}
	if (slot != NULL) {
		slot->sql = sql;
		slot->st = st;
		slot->in_use = true;
	}
	return st;
}

/* Gives back a statement from sq_prepare: a cached one is reset for its next use, any other is
 * finalized. NULL is a no-op. */
void sq_release(struct sq *q, sqlite3_stmt *st)
{
	if (st == NULL)
		return;
	for (size_t i = 0; i < SQ_CACHE; i++) {
		if (q->cache[i].st == st) {
			(void)sqlite3_reset(st);
			(void)sqlite3_clear_bindings(st);
			q->cache[i].in_use = false;
			return;
		}
	}
	(void)sqlite3_finalize(st); /* prepared when the cache was full */
}

/* Binding helpers: return 0, or -1 with err set. */
int sq_text(struct sq *q, sqlite3_stmt *st, int i, const char *v, struct pp_error *err)
{
	int rc = v != NULL ? sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT)
			   : sqlite3_bind_null(st, i);

	return rc == SQLITE_OK ? 0 : sq_fail(q, rc, err, "bind");
}

int sq_int(struct sq *q, sqlite3_stmt *st, int i, int64_t v, struct pp_error *err)
{
	int rc = sqlite3_bind_int64(st, i, v);

	return rc == SQLITE_OK ? 0 : sq_fail(q, rc, err, "bind");
}

int sq_blob(struct sq *q, sqlite3_stmt *st, int i, const void *v, size_t n, struct pp_error *err)
{
	int rc;

	if (n > INT_MAX)
		return sq_fail(q, SQLITE_TOOBIG, err, "bind");
	rc = sqlite3_bind_blob(st, i, v, (int)n, SQLITE_TRANSIENT);
	return rc == SQLITE_OK ? 0 : sq_fail(q, rc, err, "bind");
}

/* Steps a statement that returns no row. */
int sq_done(struct sq *q, sqlite3_stmt *st, struct pp_error *err, const char *what)
{
	int rc = sqlite3_step(st);

	return rc == SQLITE_DONE ? 0 : sq_fail(q, rc, err, what);
}

/* Steps a statement that returns at most one row: 1 row, 0 none, -1 error. */
int sq_row(struct sq *q, sqlite3_stmt *st, struct pp_error *err, const char *what)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	return sq_fail(q, rc, err, what);
}

void sq_col_text(sqlite3_stmt *st, int i, char *buf, size_t size)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	(void)snprintf(buf, size, "%s", t != NULL ? (const char *)t : "");
}

/* Runs SQL without parameters (fixed statements and the compiled-in migrations). */
static int sq_exec(struct sq *q, const char *sql, struct pp_error *err, const char *what)
{
	char *msg = NULL;
	int rc = sqlite3_exec(q->db, sql, NULL, NULL, &msg);

	if (rc != SQLITE_OK) {
		pp_error_set(err, rc == SQLITE_FULL ? HR_ERROR_DISK_FULL : HR_E_FAIL,
			     "site database: %s: %s", what, msg != NULL ? msg : sqlite3_errstr(rc));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

/* ---- transactions ---- */

static int sq_begin(void *impl, struct pp_error *err)
{
	struct sq *q = impl;

	/* IMMEDIATE takes the write lock up front, so that two writers queue on busy_timeout
	 * instead of failing when a reader upgrades. */
	if (sq_exec(q, q->depth == 0 ? "BEGIN IMMEDIATE" : "SAVEPOINT store", err, "begin") != 0)
		return -1;
	q->depth++;
	return 0;
}

static int sq_commit(void *impl, struct pp_error *err)
{
	struct sq *q = impl;

	if (q->depth == 0) {
		pp_error_set(err, HR_E_FAIL, "site database: commit without a transaction");
		return -1;
	}
	if (sq_exec(q, q->depth == 1 ? "COMMIT" : "RELEASE store", err, "commit") != 0)
		return -1; /* still open: the caller rolls back */
	q->depth--;
	return 0;
}

static void sq_rollback(void *impl)
{
	struct sq *q = impl;

	if (q->depth == 0)
		return;
	if (q->depth == 1) {
		/* Fails only when SQLite already rolled back (e.g. on SQLITE_FULL). */
		if (sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL) != SQLITE_OK &&
		    !sqlite3_get_autocommit(q->db))
			(void)sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
	} else {
		(void)sqlite3_exec(q->db, "ROLLBACK TO store; RELEASE store", NULL, NULL, NULL);
	}
	q->depth--;
}

static void sq_close(void *impl)
{
	struct sq *q = impl;

	if (q == NULL)
		return;
	while (q->depth > 0)
		sq_rollback(q);
	for (size_t i = 0; i < SQ_CACHE; i++)
		sqlite3_finalize(q->cache[i].st);
	/* sqlite3_close_v2 defers the close if a statement leaked; none should. */
	(void)sqlite3_close_v2(q->db);
	free(q);
}

/* ---- schema ---- */

static int sq_version(struct sq *q, int *version, struct pp_error *err)
{
	sqlite3_stmt *st =
	    sq_prepare(q, "SELECT ifnull(max(version), 0) FROM schema_migrations", err);
	int rc = -1;

	if (st == NULL)
		return -1;
	if (sq_row(q, st, err, "read the schema version") == 1) {
		*version = sqlite3_column_int(st, 0);
		rc = 0;
	} else {
		pp_error_set(err, HR_E_FAIL, "site database: no schema version");
	}
	sq_release(q, st);
	return rc;
}

static int sq_schema_version(void *impl, int *version, struct pp_error *err)
{
	return sq_version(impl, version, err);
}

/* Whether migration version is recorded. By version, not by the highest one: a migration
 * numbered below one already applied (a branch's 0006 applied before main's 0005 was merged)
 * still runs. */
static int sq_applied(struct sq *q, int version, bool *applied, struct pp_error *err)
{
	sqlite3_stmt *st =
	    sq_prepare(q, "SELECT count(*) FROM schema_migrations WHERE version = ?", err);
	int rc = -1;

	if (st == NULL)
		return -1;
	if (sq_int(q, st, 1, version, err) == 0 && sq_row(q, st, err, "read the migrations") == 1) {
		*applied = sqlite3_column_int(st, 0) > 0;
		rc = 0;
	}
	sq_release(q, st);
	return rc;
}

/* Applies one migration inside its own transaction unless another process did it first. */
static int sq_migrate_one(struct sq *q, const struct store_migration *m, struct pp_error *err)
{
	sqlite3_stmt *st = NULL;
	bool applied = false;
	int rc = -1;

	if (sq_begin(q, err) != 0)
		return -1;
	if (sq_applied(q, m->version, &applied, err) != 0)
		goto out;
	if (applied) {
		rc = 0;
		goto out;
	}
	if (sq_exec(q, m->sql, err, m->name) != 0)
		goto out;
	st = sq_prepare(
	    q, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)", err);
	if (st == NULL || sq_int(q, st, 1, m->version, err) != 0 ||
	    sq_text(q, st, 2, m->name, err) != 0 ||
	    sq_int(q, st, 3, (int64_t)time(NULL), err) != 0 ||
	    sq_done(q, st, err, "record the migration") != 0)
		goto out;
	rc = 0;
out:
	sq_release(q, st);
	if (rc == 0)
		rc = sq_commit(q, err);
	if (rc != 0)
		sq_rollback(q);
	return rc;
}

static int sq_migrate(struct sq *q, const char *path, const struct store_migration *migrations,
		      unsigned count, struct pp_error *err)
{
	int known = 0, version = 0;

	if (sq_exec(q,
		    "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
		    "name TEXT NOT NULL, applied_at INTEGER NOT NULL)",
		    err, "create schema_migrations") != 0)
		return -1;
	for (unsigned i = 0; i < count; i++) {
		if (i > 0 && migrations[i].version <= migrations[i - 1].version) {
			pp_error_set(err, HR_E_FAIL, "migration %s is out of order",
				     migrations[i].name);
			return -1;
		}
		known = migrations[i].version;
	}
	if (sq_version(q, &version, err) != 0)
		return -1;
	if (version > known) {
		pp_error_set(err, STORE_E_SCHEMA_NEWER,
			     "site database %s has schema version %d, newer than the %d this "
			     "patchpointd knows; run a newer patchpointd or restore a backup",
			     path, version, known);
		return -1;
	}
	for (unsigned i = 0; i < count; i++) {
		if (sq_migrate_one(q, &migrations[i], err) != 0)
			return -1;
	}
	return 0;
}

static int sq_pragma(struct sq *q, const char *sql, const char *expect, struct pp_error *err);

/* ---- sites ---- */

#define SITE_COLUMNS                                                                               \
	"code, name, ifnull(parent_code, ''), created_at, "                                        \
	"EXISTS (SELECT 1 FROM sites c WHERE c.parent_code = sites.code)"

/* Steps st once: *found tells whether a row came, and from_row fills out from it. Finalizes st
 * in every case. */
int sq_one(struct sq *q, sqlite3_stmt *st, sq_row_fn from_row, void *out, bool *found,
	   struct pp_error *err, const char *what)
{
	int r = sq_row(q, st, err, what);

	*found = r == 1;
	if (r == 1)
		from_row(st, out);
	sq_release(q, st);
	return r < 0 ? -1 : 0;
}

static void site_from_row(sqlite3_stmt *st, void *record)
{
	struct store_site *out = record;

	memset(out, 0, sizeof(*out));
	sq_col_text(st, 0, out->code, sizeof(out->code));
	sq_col_text(st, 1, out->name, sizeof(out->name));
	sq_col_text(st, 2, out->parent_code, sizeof(out->parent_code));
	out->created_at = sqlite3_column_int64(st, 3);
	out->has_children = sqlite3_column_int(st, 4) != 0;
}

static int sq_site_insert(void *impl, const struct store_site *site, struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st = sq_prepare(
	    q, "INSERT INTO sites (code, name, parent_code, created_at) VALUES (?, ?, ?, ?)", err);
	int rc = -1;

	if (st == NULL)
		return -1;
	if (sq_text(q, st, 1, site->code, err) == 0 && sq_text(q, st, 2, site->name, err) == 0 &&
	    sq_text(q, st, 3, site->parent_code[0] != '\0' ? site->parent_code : NULL, err) == 0 &&
	    sq_int(q, st, 4, site->created_at, err) == 0 &&
	    sq_done(q, st, err, "add the site") == 0)
		rc = 0;
	sq_release(q, st);
	return rc;
}

static int sq_site_reparent(void *impl, const char *code, const char *parent_code,
			    struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st = sq_prepare(q, "UPDATE sites SET parent_code = ? WHERE code = ?", err);
	int rc = -1;

	if (st == NULL)
		return -1;
	/* The new parent is inserted next: check the foreign key at commit (the pragma ends with
	 * the transaction). */
	if (q->depth == 0) {
		pp_error_set(err, HR_E_FAIL, "site database: moving a site needs a transaction");
		goto out;
	}
	if (sq_pragma(q, "PRAGMA defer_foreign_keys = ON", NULL, err) != 0)
		goto out;
	if (sq_text(q, st, 1, parent_code, err) == 0 && sq_text(q, st, 2, code, err) == 0 &&
	    sq_done(q, st, err, "move the site") == 0)
		rc = 0;
out:
	sq_release(q, st);
	return rc;
}

static int site_one(struct sq *q, const char *sql, const char *code, struct store_site *out,
		    bool *found, struct pp_error *err)
{
	sqlite3_stmt *st = sq_prepare(q, sql, err);

	*found = false;
	if (st == NULL)
		return -1;
	if (code != NULL && sq_text(q, st, 1, code, err) != 0) {
		sq_release(q, st);
		return -1;
	}
	return sq_one(q, st, site_from_row, out, found, err, "read the site");
}

static int sq_site_get(void *impl, const char *code, struct store_site *out, bool *found,
		       struct pp_error *err)
{
	return site_one(impl, "SELECT " SITE_COLUMNS " FROM sites WHERE code = ?", code, out, found,
			err);
}

static int sq_site_top(void *impl, struct store_site *out, bool *found, struct pp_error *err)
{
	return site_one(impl, "SELECT " SITE_COLUMNS " FROM sites WHERE parent_code IS NULL", NULL,
			out, found, err);
}

/* Grows *arr of elem-sized items to hold one more; -1 with err at SQ_LIST_MAX or OOM. */
int sq_list_grow(void **arr, size_t *cap, size_t n, size_t elem, struct pp_error *err)
{
	void *p;
	size_t ncap;

	if (n < *cap)
		return 0;
	if (n >= SQ_LIST_MAX) {
		pp_error_set(err, HR_ERROR_FILE_TOO_LARGE, "site database: more than %d rows",
			     SQ_LIST_MAX);
		return -1;
	}
	ncap = *cap == 0 ? 8 : *cap * 2;
	p = realloc(*arr, ncap * elem);
	if (p == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory listing the site database");
		return -1;
	}
	*arr = p;
	*cap = ncap;
	return 0;
}

/* Reads every row of st (bound already) into a malloc'd array of records of size bytes each,
 * filled by from_row; releases st. *out is NULL when there is no row. */
int sq_list(struct sq *q, sqlite3_stmt *st, sq_row_fn from_row, size_t size, void **out,
	    size_t *count, struct pp_error *err, const char *what)
{
	void *arr = NULL;
	size_t n = 0, cap = 0;
	int r, rc = -1;

	while ((r = sq_row(q, st, err, what)) == 1) {
		if (sq_list_grow(&arr, &cap, n, size, err) != 0)
			goto out;
		from_row(st, (char *)arr + n * size);
		n++;
	}
	if (r < 0)
		goto out;
	*out = arr;
	*count = n;
	arr = NULL;
	rc = 0;
out:
	free(arr);
	sq_release(q, st);
	return rc;
}

static int sq_site_list(void *impl, struct store_site **out, size_t *count, struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st = sq_prepare(
	    q, "SELECT " SITE_COLUMNS " FROM sites ORDER BY parent_code IS NOT NULL, code", err);

	if (st == NULL)
		return -1;
	return sq_list(q, st, site_from_row, sizeof(**out), (void **)out, count, err,
		       "list the sites");
}

/* ---- settings ---- */

static int sq_settings_get(void *impl, struct store_third_party_settings *out, struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st = sq_prepare(q,
				      "SELECT enable_third_party_updates, certificate_mode, "
				      "updated_at FROM hierarchy_settings WHERE id = 1",
				      err);
	int rc = -1;

	if (st == NULL)
		return -1;
	if (sq_row(q, st, err, "read the hierarchy settings") == 1) {
		const unsigned char *mode = sqlite3_column_text(st, 1);

		out->enable_third_party_updates = sqlite3_column_int(st, 0) != 0;
		out->certificate_mode = mode != NULL && strcmp((const char *)mode, "manual") == 0
					    ? STORE_CERT_MODE_MANUAL
					    : STORE_CERT_MODE_MANAGED;
		out->updated_at = sqlite3_column_int64(st, 2);
		rc = 0;
	} else {
		pp_error_set(err, HR_ERROR_INVALID_DATA,
			     "site database: the hierarchy settings row is missing");
	}
	sq_release(q, st);
	return rc;
}

static int sq_settings_put(void *impl, const struct store_third_party_settings *in,
			   struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st =
	    sq_prepare(q,
		       "UPDATE hierarchy_settings SET enable_third_party_updates = ?, "
		       "certificate_mode = ?, updated_at = ? WHERE id = 1",
		       err);
	int rc = -1;

	if (st == NULL)
		return -1;
	if (sq_int(q, st, 1, in->enable_third_party_updates ? 1 : 0, err) == 0 &&
	    sq_text(q, st, 2, store_certificate_mode_name(in->certificate_mode), err) == 0 &&
	    sq_int(q, st, 3, in->updated_at, err) == 0 &&
	    sq_done(q, st, err, "update the hierarchy settings") == 0)
		rc = 0;
	if (rc == 0 && sqlite3_changes(q->db) != 1) {
		pp_error_set(err, HR_ERROR_INVALID_DATA,
			     "site database: the hierarchy settings row is missing");
		rc = -1;
	}
	sq_release(q, st);
	return rc;
}

/* ---- SUPs ---- */

#define SUP_COLUMNS "id, site_code, url, location, sync_source, created_at"

static void sup_from_row(sqlite3_stmt *st, void *record)
{
	struct store_sup *out = record;
	const unsigned char *loc;

	memset(out, 0, sizeof(*out));
	out->id = sqlite3_column_int64(st, 0);
	sq_col_text(st, 1, out->site_code, sizeof(out->site_code));
	sq_col_text(st, 2, out->url, sizeof(out->url));
	loc = sqlite3_column_text(st, 3);
	out->location = loc != NULL && strcmp((const char *)loc, "remote") == 0 ? STORE_SUP_REMOTE
										: STORE_SUP_LOCAL;
	out->sync_source = sqlite3_column_int(st, 4) != 0;
	out->created_at = sqlite3_column_int64(st, 5);
}

static int sq_sup_set_sync_source(void *impl, int64_t id, bool sync_source, struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st = sq_prepare(q, "UPDATE sups SET sync_source = ? WHERE id = ?", err);
	int rc = -1;

	if (st == NULL)
		return -1;
	if (sq_int(q, st, 1, sync_source ? 1 : 0, err) == 0 && sq_int(q, st, 2, id, err) == 0 &&
	    sq_done(q, st, err, "change the sync source") == 0)
		rc = 0;
	sq_release(q, st);
	return rc;
}

static int sq_sup_insert(void *impl, struct store_sup *sup, struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st = sq_prepare(q,
				      "INSERT INTO sups (site_code, url, location, sync_source, "
				      "created_at) VALUES (?, ?, ?, ?, ?)",
				      err);
	int rc = -1;

	if (st == NULL)
		return -1;
	if (sq_text(q, st, 1, sup->site_code, err) == 0 && sq_text(q, st, 2, sup->url, err) == 0 &&
	    sq_text(q, st, 3, sup->location == STORE_SUP_REMOTE ? "remote" : "local", err) == 0 &&
	    sq_int(q, st, 4, sup->sync_source ? 1 : 0, err) == 0 &&
	    sq_int(q, st, 5, sup->created_at, err) == 0 &&
	    sq_done(q, st, err, "add the SUP") == 0) {
		sup->id = sqlite3_last_insert_rowid(q->db);
		rc = 0;
	}
	sq_release(q, st);
	return rc;
}

static int sq_sup_get(void *impl, int64_t id, struct store_sup *out, bool *found,
		      struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st = sq_prepare(q, "SELECT " SUP_COLUMNS " FROM sups WHERE id = ?", err);

	*found = false;
	if (st == NULL)
		return -1;
	if (sq_int(q, st, 1, id, err) != 0) {
		sq_release(q, st);
		return -1;
	}
	return sq_one(q, st, sup_from_row, out, found, err, "read the SUP");
}

static int sq_sup_sync_source(void *impl, const char *site_code, struct store_sup *out, bool *found,
			      struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st = sq_prepare(
	    q, "SELECT " SUP_COLUMNS " FROM sups WHERE site_code = ? AND sync_source = 1", err);

	*found = false;
	if (st == NULL)
		return -1;
	if (sq_text(q, st, 1, site_code, err) != 0) {
		sq_release(q, st);
		return -1;
	}
	return sq_one(q, st, sup_from_row, out, found, err, "read the SUP");
}

static int sq_sup_list(void *impl, const char *site_code, struct store_sup **out, size_t *count,
		       struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st = sq_prepare(
	    q, "SELECT " SUP_COLUMNS " FROM sups WHERE ?1 IS NULL OR site_code = ?1 ORDER BY id",
	    err);

	if (st == NULL)
		return -1;
	if (sq_text(q, st, 1, site_code, err) != 0) {
		sq_release(q, st);
		return -1;
	}
	return sq_list(q, st, sup_from_row, sizeof(**out), (void **)out, count, err,
		       "list the SUPs");
}

/* ---- certificates ---- */

#define CERT_COLUMNS                                                                               \
	"thumbprint, type, der, subject, not_before, not_after, blocked, added_at, approved"

static int cert_from_row(sqlite3_stmt *st, struct store_certificate *out, struct pp_error *err)
{
	const void *der;
	int len;
	struct pp_error ignore;

	memset(out, 0, sizeof(*out));
	sq_col_text(st, 0, out->thumbprint, sizeof(out->thumbprint));
	pp_error_clear(&ignore);
	if (store_certificate_type_parse((const char *)sqlite3_column_text(st, 1), &out->type,
					 &ignore) != 0)
		out->type = STORE_CERT_WSUS_SIGNING; /* the CHECK constraint rules this out */
	der = sqlite3_column_blob(st, 2);
	len = sqlite3_column_bytes(st, 2);
	if (der == NULL || len <= 0) {
		pp_error_set(err, HR_ERROR_INVALID_DATA, "site database: certificate %s has no DER",
			     out->thumbprint);
		return -1;
	}
	out->der = malloc((size_t)len);
	if (out->der == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory reading certificate %s",
			     out->thumbprint);
		return -1;
	}
	memcpy(out->der, der, (size_t)len);
	out->der_len = (size_t)len;
	sq_col_text(st, 3, out->subject, sizeof(out->subject));
	out->not_before = sqlite3_column_int64(st, 4);
	out->not_after = sqlite3_column_int64(st, 5);
	out->blocked = sqlite3_column_int(st, 6) != 0;
	out->added_at = sqlite3_column_int64(st, 7);
	out->approved = sqlite3_column_int(st, 8) != 0;
	return 0;
}

static int sq_cert_insert(void *impl, const struct store_certificate *c, bool *inserted,
			  struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st = sq_prepare(q,
				      "INSERT INTO certificates (" CERT_COLUMNS
				      ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
				      "ON CONFLICT (thumbprint) DO NOTHING",
				      err);
	int rc = -1;

	*inserted = false;
	if (st == NULL)
		return -1;
	if (sq_text(q, st, 1, c->thumbprint, err) == 0 &&
	    sq_text(q, st, 2, store_certificate_type_name(c->type), err) == 0 &&
	    sq_blob(q, st, 3, c->der, c->der_len, err) == 0 &&
	    sq_text(q, st, 4, c->subject, err) == 0 && sq_int(q, st, 5, c->not_before, err) == 0 &&
	    sq_int(q, st, 6, c->not_after, err) == 0 &&
	    sq_int(q, st, 7, c->blocked ? 1 : 0, err) == 0 &&
	    sq_int(q, st, 8, c->added_at, err) == 0 &&
	    sq_int(q, st, 9, c->type != STORE_CERT_CONTENT || c->approved ? 1 : 0, err) == 0 &&
	    sq_done(q, st, err, "add the certificate") == 0) {
		*inserted = sqlite3_changes(q->db) == 1;
		rc = 0;
	}
	sq_release(q, st);
	return rc;
}

static int sq_cert_get(void *impl, const char *thumbprint, struct store_certificate *out,
		       bool *found, struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st =
	    sq_prepare(q, "SELECT " CERT_COLUMNS " FROM certificates WHERE thumbprint = ?", err);
	int r, rc = -1;

	*found = false;
	if (st == NULL)
		return -1;
	if (sq_text(q, st, 1, thumbprint, err) != 0)
		goto out;
	r = sq_row(q, st, err, "read the certificate");
	if (r < 0)
		goto out;
	if (r == 1) {
		if (cert_from_row(st, out, err) != 0) {
			store_certificate_clear(out);
			goto out;
		}
		*found = true;
	}
	rc = 0;
out:
	sq_release(q, st);
	return rc;
}

static int sq_cert_list(void *impl, struct store_certificate **out, size_t *count,
			struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st = sq_prepare(
	    q, "SELECT " CERT_COLUMNS " FROM certificates ORDER BY added_at, thumbprint", err);
	void *arr = NULL;
	size_t n = 0, cap = 0;
	int r, rc = -1;

	if (st == NULL)
		return -1;
	while ((r = sq_row(q, st, err, "list the certificates")) == 1) {
		if (sq_list_grow(&arr, &cap, n, sizeof(struct store_certificate), err) != 0)
			goto out;
		if (cert_from_row(st, (struct store_certificate *)arr + n, err) != 0) {
			store_certificate_clear((struct store_certificate *)arr + n);
			goto out;
		}
		n++;
	}
	if (r < 0)
		goto out;
	*out = arr;
	*count = n;
	arr = NULL;
	n = 0;
	rc = 0;
out:
	store_certificate_list_free(arr, n);
	sq_release(q, st);
	return rc;
}

static int sq_cert_set_flag(void *impl, const char *thumbprint, enum store_cert_flag flag,
			    bool value, bool *found, struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st =
	    sq_prepare(q,
		       flag == STORE_CERT_FLAG_APPROVED
			   ? "UPDATE certificates SET approved = ? WHERE thumbprint = ?"
			   : "UPDATE certificates SET blocked = ? WHERE thumbprint = ?",
		       err);
	int rc = -1;

	*found = false;
	if (st == NULL)
		return -1;
	if (sq_int(q, st, 1, value ? 1 : 0, err) == 0 && sq_text(q, st, 2, thumbprint, err) == 0 &&
	    sq_done(q, st, err, "change the certificate") == 0) {
		*found = sqlite3_changes(q->db) == 1;
		rc = 0;
	}
	sq_release(q, st);
	return rc;
}

/* ---- syncs ---- */

#define SYNC_COLUMNS "id, state, step, started_at, ifnull(finished_at, 0), error"

static void sync_from_row(sqlite3_stmt *st, void *record)
{
	struct store_sync *out = record;
	const unsigned char *state;

	memset(out, 0, sizeof(*out));
	out->id = sqlite3_column_int64(st, 0);
	state = sqlite3_column_text(st, 1);
	out->state = STORE_SYNC_FAILED;
	if (state != NULL && strcmp((const char *)state, "running") == 0)
		out->state = STORE_SYNC_RUNNING;
	else if (state != NULL && strcmp((const char *)state, "succeeded") == 0)
		out->state = STORE_SYNC_SUCCEEDED;
	sq_col_text(st, 2, out->step, sizeof(out->step));
	out->started_at = sqlite3_column_int64(st, 3);
	out->finished_at = sqlite3_column_int64(st, 4);
	sq_col_text(st, 5, out->error, sizeof(out->error));
}

static int sq_sync_get(void *impl, int64_t id, struct store_sync *out, bool *found,
		       struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st = sq_prepare(q, "SELECT " SYNC_COLUMNS " FROM syncs WHERE id = ?", err);

	*found = false;
	if (st == NULL)
		return -1;
	if (sq_int(q, st, 1, id, err) != 0) {
		sq_release(q, st);
		return -1;
	}
	return sq_one(q, st, sync_from_row, out, found, err, "read the sync");
}

static int sq_sync_latest(void *impl, struct store_sync *out, bool *found, struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st =
	    sq_prepare(q, "SELECT " SYNC_COLUMNS " FROM syncs ORDER BY id DESC LIMIT 1", err);

	*found = false;
	if (st == NULL)
		return -1;
	return sq_one(q, st, sync_from_row, out, found, err, "read the sync");
}

static int sq_sync_insert(void *impl, int64_t now, int64_t *id, int64_t *running_id,
			  struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st = NULL;
	struct store_sync running;
	bool found = false;
	int rc = -1, r;

	if (sq_begin(q, err) != 0)
		return -1;
	st = sq_prepare(q, "INSERT INTO syncs (state, started_at) VALUES ('running', ?)", err);
	if (st == NULL || sq_int(q, st, 1, now, err) != 0)
		goto out;
	r = sqlite3_step(st);
	if (r == SQLITE_DONE) {
		*id = sqlite3_last_insert_rowid(q->db);
		rc = 0;
		goto out;
	}
	if (r != SQLITE_CONSTRAINT_UNIQUE) {
		(void)sq_fail(q, r, err, "start the sync");
		goto out;
	}
	/* syncs_one_running refused it: name the sync that runs. */
	sq_release(q, st);
	st = sq_prepare(q, "SELECT " SYNC_COLUMNS " FROM syncs WHERE state = 'running'", err);
	if (st == NULL)
		goto out;
	r = sq_one(q, st, sync_from_row, &running, &found, err, "read the sync");
	st = NULL;
	if (r != 0)
		goto out;
	*running_id = found ? running.id : 0;
	pp_error_set(err, HR_ERROR_ALREADY_EXISTS,
		     "synchronization %lld is running (step \"%s\"); one sync runs at a time",
		     (long long)*running_id, found ? running.step : "");
out:
	sq_release(q, st);
	if (rc == 0)
		rc = sq_commit(q, err);
	if (rc != 0)
		sq_rollback(q);
	return rc;
}

static int sq_sync_update(void *impl, const struct store_sync *s, struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st = sq_prepare(q,
				      "UPDATE syncs SET state = ?, step = ?, finished_at = ?, "
				      "error = ? WHERE id = ?",
				      err);
	int rc = -1;

	if (st == NULL)
		return -1;
	if (sq_text(q, st, 1, store_sync_state_name(s->state), err) == 0 &&
	    sq_text(q, st, 2, s->step, err) == 0 &&
	    (s->finished_at != 0 ? sq_int(q, st, 3, s->finished_at, err)
				 : sq_text(q, st, 3, NULL, err)) == 0 &&
	    sq_text(q, st, 4, s->error, err) == 0 && sq_int(q, st, 5, s->id, err) == 0 &&
	    sq_done(q, st, err, "update the sync") == 0)
		rc = 0;
	sq_release(q, st);
	return rc;
}

static int sq_sync_fail_running(void *impl, const char *reason, int64_t now, unsigned *count,
				struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st =
	    sq_prepare(q,
		       "UPDATE syncs SET state = 'failed', finished_at = ?, error = ? "
		       "WHERE state = 'running'",
		       err);
	int rc = -1;

	if (st == NULL)
		return -1;
	if (sq_int(q, st, 1, now, err) == 0 && sq_text(q, st, 2, reason, err) == 0 &&
	    sq_done(q, st, err, "fail the running syncs") == 0) {
		*count = (unsigned)sqlite3_changes(q->db);
		rc = 0;
	}
	sq_release(q, st);
	return rc;
}

/* ---- admin tokens ---- */

static int sq_token_insert(void *impl, const char *name, const uint8_t hash[32], int64_t now,
			   struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st = sq_prepare(
	    q, "INSERT INTO admin_tokens (name, sha256, created_at) VALUES (?, ?, ?)", err);
	int rc = -1;

	if (st == NULL)
		return -1;
	if (sq_text(q, st, 1, name, err) == 0 && sq_blob(q, st, 2, hash, 32, err) == 0 &&
	    sq_int(q, st, 3, now, err) == 0 && sq_done(q, st, err, "add the admin token") == 0)
		rc = 0;
	sq_release(q, st);
	return rc;
}

static int sq_token_hashes(void *impl, uint8_t **hashes, size_t *count, struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st = sq_prepare(q, "SELECT sha256 FROM admin_tokens ORDER BY id", err);
	void *arr = NULL;
	size_t n = 0, cap = 0;
	int r, rc = -1;

	*hashes = NULL;
	*count = 0;
	if (st == NULL)
		return -1;
	while ((r = sq_row(q, st, err, "read the admin tokens")) == 1) {
		const void *h = sqlite3_column_blob(st, 0);

		if (h == NULL || sqlite3_column_bytes(st, 0) != 32)
			continue; /* the CHECK constraint rules this out */
		if (sq_list_grow(&arr, &cap, n, 32, err) != 0)
			goto out;
		memcpy((uint8_t *)arr + 32 * n, h, 32);
		n++;
	}
	if (r < 0)
		goto out;
	*hashes = arr;
	*count = n;
	arr = NULL;
	rc = 0;
out:
	free(arr);
	sq_release(q, st);
	return rc;
}

static const struct store_ops sqlite_ops = {
    .close = sq_close,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .schema_version = sq_schema_version,
    .gpo = &sq_gpo_ops,
    .site_insert = sq_site_insert,
    .site_reparent = sq_site_reparent,
    .site_get = sq_site_get,
    .site_top = sq_site_top,
    .site_list = sq_site_list,
    .settings_get = sq_settings_get,
    .settings_put = sq_settings_put,
    .sup_insert = sq_sup_insert,
    .sup_set_sync_source = sq_sup_set_sync_source,
    .sup_get = sq_sup_get,
    .sup_sync_source = sq_sup_sync_source,
    .sup_list = sq_sup_list,
    .cert_insert = sq_cert_insert,
    .cert_get = sq_cert_get,
    .cert_list = sq_cert_list,
    .cert_set_flag = sq_cert_set_flag,
    .sync_insert = sq_sync_insert,
    .sync_update = sq_sync_update,
    .sync_get = sq_sync_get,
    .sync_latest = sq_sync_latest,
    .sync_fail_running = sq_sync_fail_running,
    .token_insert = sq_token_insert,
    .token_hashes = sq_token_hashes,
    .catalog_put = sq_catalog_put,
    .catalog_get = sq_catalog_get,
    .catalog_list = sq_catalog_list,
    .update_get = sq_update_get,
    .update_sdp = sq_update_sdp,
    .update_put = sq_update_put,
    .update_list = sq_update_list,
    .update_delete = sq_update_delete,
    .update_set_state = sq_update_set_state,
    .content_get = sq_content_get,
    .content_insert = sq_content_insert,
    .content_list = sq_content_list,
    .content_referenced = sq_content_referenced,
    .collection_get = sq_collection_get,
    .collection_list = sq_collection_list,
    .deployment_insert = sq_deployment_insert,
    .deployment_list = sq_deployment_list,
    .ekey_insert = sq_ekey_insert,
    .ekey_find = sq_ekey_find,
    .ekey_list = sq_ekey_list,
    .ekey_revoke = sq_ekey_revoke,
    .ekey_used = sq_ekey_used,
    .device_find = sq_device_find,
    .device_list = sq_device_list,
    .device_put = sq_device_put,
    .device_set_policy_time = sq_device_set_policy_time,
    .collection_insert = sq_collection_insert,
    .collection_delete = sq_collection_delete,
    .collection_last_id = sq_collection_last_id,
    .collection_rule_insert = sq_collection_rule_insert,
    .collection_rule_list = sq_collection_rule_list,
    .collection_referrer = sq_collection_referrer,
    .members_set_for_device = sq_members_set_for_device,
    .members_set_for_collection = sq_members_set_for_collection,
    .members_of_collection = sq_members_of_collection,
    .collections_of_device = sq_collections_of_device,
    .cs_list = sq_cs_list,
    .cs_insert = sq_cs_insert,
    .cs_put_values = sq_cs_put_values,
    .cs_delete = sq_cs_delete,
    .cs_set_order = sq_cs_set_order,
    .cs_deploy = sq_cs_deploy,
    .cs_deployments = sq_cs_deployments,
    .min_version_get = sq_min_version_get,
    .min_version_put = sq_min_version_put,
    .policy_generation = sq_policy_generation,
    .state_insert = sq_state_insert,
    .compliance_list = sq_compliance_list,
    .ci = &sq_ci_ops,
    .ts = &sq_ts_ops,
};

/* Sets a pragma and checks that it took (journal_mode answers with the mode in force). */
static int sq_pragma(struct sq *q, const char *sql, const char *expect, struct pp_error *err)
{
	sqlite3_stmt *st = sq_prepare(q, sql, err);
	int r, rc = -1;

	if (st == NULL)
		return -1;
	r = sq_row(q, st, err, sql);
	if (r < 0)
		goto out;
	if (expect != NULL) {
		const unsigned char *v = r == 1 ? sqlite3_column_text(st, 0) : NULL;

		if (v == NULL || strcmp((const char *)v, expect) != 0) {
			pp_error_set(err, HR_E_FAIL, "site database: %s answered %s, not %s", sql,
				     v != NULL ? (const char *)v : "nothing", expect);
			goto out;
		}
	} else {
		while (r == 1)
			r = sq_row(q, st, err, sql);
		if (r < 0)
			goto out;
	}
	rc = 0;
out:
	sq_release(q, st);
	return rc;
}

static pthread_once_t sq_once = PTHREAD_ONCE_INIT;

/* Before SQLite's first use in the process: no memory statistics, whose global mutex every
 * allocation of every connection would take. Refused (and harmless) when the program has already
 * used SQLite. */
static void sq_configure(void)
{
	(void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

struct store *store_open_sqlite_with(const char *path, const struct store_migration *migrations,
				     unsigned count, struct pp_error *err)
{
	struct sq *q = calloc(1, sizeof(*q));
	int rc;

	if (q == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory opening the site database");
		return NULL;
	}
	(void)pthread_once(&sq_once, sq_configure);
	/* A struct store is used by one thread at a time (store.h): no per-connection mutex. */
	rc = sqlite3_open_v2(path, &q->db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOFOLLOW |
				 SQLITE_OPEN_NOMUTEX,
			     NULL);
	if (rc != SQLITE_OK) {
		pp_error_set(err, rc == SQLITE_CANTOPEN ? HR_ERROR_FILE_NOT_FOUND : HR_E_FAIL,
			     "cannot open the site database %s: %s", path,
			     q->db != NULL ? sqlite3_errmsg(q->db) : sqlite3_errstr(rc));
		goto fail;
	}
	rc = sqlite3_extended_result_codes(q->db, 1);
	if (rc != SQLITE_OK) {
		(void)sq_fail(q, rc, err, "extended result codes");
		goto fail;
	}
	rc = sqlite3_busy_timeout(q->db, SQ_BUSY_TIMEOUT_MS);
	if (rc != SQLITE_OK) {
		(void)sq_fail(q, rc, err, "busy timeout");
		goto fail;
	}
	if (sq_pragma(q, "PRAGMA journal_mode = WAL", "wal", err) != 0 ||
	    sq_pragma(q, "PRAGMA foreign_keys = ON", NULL, err) != 0 ||
	    sq_pragma(q, "PRAGMA foreign_keys", "1", err) != 0 ||
	    sq_pragma(q, "PRAGMA synchronous = FULL", NULL, err) != 0)
		goto fail;
	if (sq_migrate(q, path, migrations, count, err) != 0)
		goto fail;
	return store_new(&sqlite_ops, q, err);
fail:
	sq_close(q);
	return NULL;
}

struct store *store_open_sqlite(const char *path, struct pp_error *err)
{
	return store_open_sqlite_with(path, store_migrations, store_migration_count, err);
}
