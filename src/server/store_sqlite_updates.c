/* store_sqlite_updates.c - the SQLite backend's operations for third-party update catalogs,
 * updates, their published content, collections and deployments (migrations 0002, 0003). */
#include "store_sqlite_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- catalogs and updates ---- */

static void catalog_from_row(sqlite3_stmt *st, void *record)
{
	struct store_catalog *out = record;

	memset(out, 0, sizeof(*out));
	sq_col_text(st, 0, out->name, sizeof(out->name));
	out->allow_unsigned_content = sqlite3_column_int(st, 1) != 0;
	out->added_at = sqlite3_column_int64(st, 2);
}

int sq_catalog_put(void *impl, const struct store_catalog *c, bool *changed, struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st = sq_prepare(
	    q,
	    "INSERT INTO catalogs (name, allow_unsigned_content, added_at) VALUES (?, ?, ?) "
	    "ON CONFLICT (name) DO UPDATE SET allow_unsigned_content = "
	    "excluded.allow_unsigned_content "
	    "WHERE allow_unsigned_content <> excluded.allow_unsigned_content",
	    err);
	int rc = -1;

	*changed = false;
	if (st == NULL)
		return -1;
	if (sq_text(q, st, 1, c->name, err) == 0 &&
	    sq_int(q, st, 2, c->allow_unsigned_content ? 1 : 0, err) == 0 &&
	    sq_int(q, st, 3, c->added_at, err) == 0 &&
	    sq_done(q, st, err, "add the catalog") == 0) {
		*changed = sqlite3_changes(q->db) == 1;
		rc = 0;
	}
	sq_release(q, st);
	return rc;
}

int sq_catalog_get(void *impl, const char *name, struct store_catalog *out, bool *found,
		   struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st = sq_prepare(
	    q, "SELECT name, allow_unsigned_content, added_at FROM catalogs WHERE name = ?", err);

	*found = false;
	if (st == NULL)
		return -1;
	if (sq_text(q, st, 1, name, err) != 0) {
		sq_release(q, st);
		return -1;
	}
	return sq_one(q, st, catalog_from_row, out, found, err, "read the catalog");
}

int sq_catalog_list(void *impl, struct store_catalog **out, size_t *count, struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st = sq_prepare(
	    q, "SELECT name, allow_unsigned_content, added_at FROM catalogs ORDER BY name", err);

	if (st == NULL)
		return -1;
	return sq_list(q, st, catalog_from_row, sizeof(**out), (void **)out, count, err,
		       "list the catalogs");
}

#define UPDATE_COLUMNS                                                                             \
	"id, revision, ifnull(catalog, ''), vendor, product, title, classification, severity, "    \
	"kb, "                                                                                     \
	"creation_date, sdp_sha256, state, created_at, updated_at"

static void update_from_row(sqlite3_stmt *st, void *record)
{
	struct store_update *out = record;
	const unsigned char *state;

	memset(out, 0, sizeof(*out));
	sq_col_text(st, 0, out->id, sizeof(out->id));
	out->revision = sqlite3_column_int64(st, 1);
	sq_col_text(st, 2, out->catalog, sizeof(out->catalog));
	sq_col_text(st, 3, out->vendor, sizeof(out->vendor));
	sq_col_text(st, 4, out->product, sizeof(out->product));
	sq_col_text(st, 5, out->title, sizeof(out->title));
	sq_col_text(st, 6, out->classification, sizeof(out->classification));
	sq_col_text(st, 7, out->severity, sizeof(out->severity));
	sq_col_text(st, 8, out->kb, sizeof(out->kb));
	sq_col_text(st, 9, out->creation_date, sizeof(out->creation_date));
	sq_col_text(st, 10, out->sdp_sha256, sizeof(out->sdp_sha256));
	state = sqlite3_column_text(st, 11);
	out->state = STORE_UPDATE_METADATA;
	for (unsigned i = 0; state != NULL && i <= STORE_UPDATE_EXPIRED; i++) {
		if (strcmp((const char *)state, store_update_state_name(i)) == 0)
			out->state = (enum store_update_state)i;
	}
	out->created_at = sqlite3_column_int64(st, 12);
	out->updated_at = sqlite3_column_int64(st, 13);
}

int sq_update_get(void *impl, const char *id, struct store_update *out, bool *found,
		  struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st =
	    sq_prepare(q, "SELECT " UPDATE_COLUMNS " FROM updates WHERE id = ?", err);

	*found = false;
	if (st == NULL)
		return -1;
	if (sq_text(q, st, 1, id, err) != 0) {
		sq_release(q, st);
		return -1;
	}
	return sq_one(q, st, update_from_row, out, found, err, "read the update");
}

int sq_update_sdp(void *impl, const char *id, char **xml, size_t *len, bool *found,
		  struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st = sq_prepare(q, "SELECT sdp FROM updates WHERE id = ?", err);
	int r, rc = -1;

	*found = false;
	*xml = NULL;
	if (st == NULL)
		return -1;
	if (sq_text(q, st, 1, id, err) != 0)
		goto out;
	r = sq_row(q, st, err, "read the SDP of the update");
	if (r < 0)
		goto out;
	if (r == 1) {
		const void *b = sqlite3_column_blob(st, 0);
		int n = sqlite3_column_bytes(st, 0);

		*xml = malloc((size_t)n + 1);
		if (*xml == NULL) {
			pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory reading update %s", id);
			goto out;
		}
		if (n > 0)
			memcpy(*xml, b, (size_t)n);
		(*xml)[n] = '\0';
		*len = (size_t)n;
		*found = true;
	}
	rc = 0;
out:
	sq_release(q, st);
	return rc;
}

int sq_update_put(void *impl, const struct store_update *u, const char *sdp, size_t sdp_len,
		  struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st = sq_prepare(
	    q,
	    "INSERT INTO updates (id, revision, catalog, vendor, product, title, classification, "
	    "severity, kb, creation_date, sdp_sha256, state, created_at, updated_at, sdp) "
	    "VALUES (?, ?, nullif(?, ''), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
	    "ON CONFLICT (id) DO UPDATE SET revision = excluded.revision, catalog = "
	    "excluded.catalog, "
	    "vendor = excluded.vendor, product = excluded.product, title = excluded.title, "
	    "classification = excluded.classification, severity = excluded.severity, "
	    "kb = excluded.kb, creation_date = excluded.creation_date, "
	    "sdp_sha256 = excluded.sdp_sha256, state = excluded.state, "
	    "updated_at = excluded.updated_at, sdp = excluded.sdp",
	    err);
	int rc = -1;

	if (st == NULL)
		return -1;
	if (sq_text(q, st, 1, u->id, err) == 0 && sq_int(q, st, 2, u->revision, err) == 0 &&
	    sq_text(q, st, 3, u->catalog, err) == 0 && sq_text(q, st, 4, u->vendor, err) == 0 &&
	    sq_text(q, st, 5, u->product, err) == 0 && sq_text(q, st, 6, u->title, err) == 0 &&
	    sq_text(q, st, 7, u->classification, err) == 0 &&
	    sq_text(q, st, 8, u->severity, err) == 0 && sq_text(q, st, 9, u->kb, err) == 0 &&
	    sq_text(q, st, 10, u->creation_date, err) == 0 &&
	    sq_text(q, st, 11, u->sdp_sha256, err) == 0 &&
	    sq_text(q, st, 12, store_update_state_name(u->state), err) == 0 &&
	    sq_int(q, st, 13, u->created_at, err) == 0 &&
	    sq_int(q, st, 14, u->updated_at, err) == 0 &&
	    sq_blob(q, st, 15, sdp, sdp_len, err) == 0 &&
	    sq_done(q, st, err, "store the update") == 0)
		rc = 0;
	sq_release(q, st);
	return rc;
}

int sq_update_list(void *impl, const struct store_update_filter *f, struct store_update **out,
		   size_t *count, struct pp_error *err)
{
	struct sq *q = impl;
	/* instr() on lower() for the substring: LIKE would give '%' and '_' in a title a meaning.
	 */
	sqlite3_stmt *st = sq_prepare(
	    q,
	    "SELECT " UPDATE_COLUMNS " FROM updates WHERE "
	    "(?1 IS NULL OR vendor = ?1 COLLATE NOCASE) AND "
	    "(?2 IS NULL OR product = ?2 COLLATE NOCASE) AND "
	    "(?3 IS NULL OR instr(lower(title), lower(?3)) > 0) AND "
	    "(?4 IS NULL OR ifnull(catalog, '') = ?4) AND "
	    "(?5 < 0 OR (state = 'published') = (?5 = 1)) "
	    "ORDER BY vendor COLLATE NOCASE, product COLLATE NOCASE, title COLLATE NOCASE, id",
	    err);

	if (st == NULL)
		return -1;
	if (sq_text(q, st, 1, f->vendor != NULL && f->vendor[0] != '\0' ? f->vendor : NULL, err) !=
		0 ||
	    sq_text(q, st, 2, f->product != NULL && f->product[0] != '\0' ? f->product : NULL,
		    err) != 0 ||
	    sq_text(q, st, 3, f->title != NULL && f->title[0] != '\0' ? f->title : NULL, err) !=
		0 ||
	    sq_text(q, st, 4, f->catalog, err) != 0 || sq_int(q, st, 5, f->published, err) != 0) {
		sq_release(q, st);
		return -1;
	}
	return sq_list(q, st, update_from_row, sizeof(**out), (void **)out, count, err,
		       "list the updates");
}

int sq_update_delete(void *impl, const char *id, struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st = sq_prepare(q, "DELETE FROM updates WHERE id = ?", err);
	int rc = -1;

	if (st == NULL)
		return -1;
	if (sq_text(q, st, 1, id, err) == 0 && sq_done(q, st, err, "delete the update") == 0)
		rc = 0;
	sq_release(q, st);
	return rc;
}

int sq_update_set_state(void *impl, const char *id, int64_t revision, enum store_update_state state,
			int64_t now, struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st = sq_prepare(
	    q, "UPDATE updates SET revision = ?, state = ?, updated_at = ? WHERE id = ?", err);
	int rc = -1;

	if (st == NULL)
		return -1;
	if (sq_int(q, st, 1, revision, err) == 0 &&
	    sq_text(q, st, 2, store_update_state_name(state), err) == 0 &&
	    sq_int(q, st, 3, now, err) == 0 && sq_text(q, st, 4, id, err) == 0 &&
	    sq_done(q, st, err, "change the update") == 0)
		rc = 0;
	sq_release(q, st);
	return rc;
}

/* ---- content ---- */

#define CONTENT_COLUMNS                                                                            \
	"update_id, revision, ifnull(sha1, ''), ifnull(sha256, ''), ifnull(size, 0), "             \
	"input_sha256, signer_thumbprint, files, published_at"

static void content_from_row(sqlite3_stmt *st, void *record)
{
	struct store_update_content *out = record;

	memset(out, 0, sizeof(*out));
	sq_col_text(st, 0, out->update_id, sizeof(out->update_id));
	out->revision = sqlite3_column_int64(st, 1);
	sq_col_text(st, 2, out->sha1, sizeof(out->sha1));
	sq_col_text(st, 3, out->sha256, sizeof(out->sha256));
	out->size = (uint64_t)sqlite3_column_int64(st, 4);
	sq_col_text(st, 5, out->input_sha256, sizeof(out->input_sha256));
	sq_col_text(st, 6, out->signer, sizeof(out->signer));
	sq_col_text(st, 7, out->files, sizeof(out->files));
	out->published_at = sqlite3_column_int64(st, 8);
	out->has_content = out->sha1[0] != '\0';
}

int sq_content_get(void *impl, const char *id, int64_t revision, struct store_update_content *out,
		   bool *found, struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st = sq_prepare(q,
				      "SELECT " CONTENT_COLUMNS
				      " FROM update_content WHERE update_id = ? AND revision = ?",
				      err);

	*found = false;
	if (st == NULL)
		return -1;
	if (sq_text(q, st, 1, id, err) != 0 || sq_int(q, st, 2, revision, err) != 0) {
		sq_release(q, st);
		return -1;
	}
	return sq_one(q, st, content_from_row, out, found, err, "read the update's content");
}

int sq_content_insert(void *impl, const struct store_update_content *c, struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st = sq_prepare(
	    q,
	    "INSERT INTO update_content (update_id, revision, sha1, sha256, size, input_sha256, "
	    "signer_thumbprint, files, published_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
	    err);
	int rc = -1;

	if (st == NULL)
		return -1;
	if (sq_text(q, st, 1, c->update_id, err) == 0 && sq_int(q, st, 2, c->revision, err) == 0 &&
	    sq_text(q, st, 3, c->has_content ? c->sha1 : NULL, err) == 0 &&
	    sq_text(q, st, 4, c->has_content ? c->sha256 : NULL, err) == 0 &&
	    (c->has_content ? sq_int(q, st, 5, (int64_t)c->size, err)
			    : sq_text(q, st, 5, NULL, err)) == 0 &&
	    sq_text(q, st, 6, c->input_sha256, err) == 0 &&
	    sq_text(q, st, 7, c->signer, err) == 0 && sq_text(q, st, 8, c->files, err) == 0 &&
	    sq_int(q, st, 9, c->published_at, err) == 0 &&
	    sq_done(q, st, err, "record the update's content") == 0)
		rc = 0;
	sq_release(q, st);
	return rc;
}

int sq_content_list(void *impl, const char *id, struct store_update_content **out, size_t *count,
		    struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st = sq_prepare(q,
				      "SELECT " CONTENT_COLUMNS
				      " FROM update_content WHERE update_id = ? ORDER BY revision",
				      err);

	if (st == NULL)
		return -1;
	if (sq_text(q, st, 1, id, err) != 0) {
		sq_release(q, st);
		return -1;
	}
	return sq_list(q, st, content_from_row, sizeof(**out), (void **)out, count, err,
		       "list the update's content");
}

int sq_content_referenced(void *impl, const char *sha1, bool *referenced, struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st =
	    sq_prepare(q, "SELECT EXISTS (SELECT 1 FROM update_content WHERE sha1 = ?)", err);
	int r;

	*referenced = false;
	if (st == NULL)
		return -1;
	if (sq_text(q, st, 1, sha1, err) != 0) {
		sq_release(q, st);
		return -1;
	}
	r = sq_row(q, st, err, "look the content up");
	if (r == 1)
		*referenced = sqlite3_column_int(st, 0) != 0;
	sq_release(q, st);
	return r < 0 ? -1 : 0;
}

/* ---- collections and deployments ---- */

static void collection_from_row(sqlite3_stmt *st, void *record)
{
	struct store_collection *out = record;

	memset(out, 0, sizeof(*out));
	sq_col_text(st, 0, out->id, sizeof(out->id));
	sq_col_text(st, 1, out->name, sizeof(out->name));
	out->created_at = sqlite3_column_int64(st, 2);
}

int sq_collection_get(void *impl, const char *id_or_name, struct store_collection *out, bool *found,
		      struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st = sq_prepare(
	    q, "SELECT id, name, created_at FROM collections WHERE id = ?1 OR name = ?1", err);

	*found = false;
	if (st == NULL)
		return -1;
	if (sq_text(q, st, 1, id_or_name, err) != 0) {
		sq_release(q, st);
		return -1;
	}
	return sq_one(q, st, collection_from_row, out, found, err, "read the collection");
}

int sq_collection_list(void *impl, struct store_collection **out, size_t *count,
		       struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st =
	    sq_prepare(q, "SELECT id, name, created_at FROM collections ORDER BY id", err);

	if (st == NULL)
		return -1;
	return sq_list(q, st, collection_from_row, sizeof(**out), (void **)out, count, err,
		       "list the collections");
}

int sq_deployment_insert(void *impl, struct store_deployment *d, struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st = sq_prepare(
	    q,
	    "INSERT INTO deployments (update_id, collection_id, available_at, deadline_at, "
	    "created_at) VALUES (?, ?, ?, nullif(?, 0), ?)",
	    err);
	int rc = -1;

	if (st == NULL)
		return -1;
	if (sq_text(q, st, 1, d->update_id, err) == 0 &&
	    sq_text(q, st, 2, d->collection_id, err) == 0 &&
	    sq_int(q, st, 3, d->available_at, err) == 0 &&
	    sq_int(q, st, 4, d->deadline_at, err) == 0 &&
	    sq_int(q, st, 5, d->created_at, err) == 0 &&
	    sq_done(q, st, err, "add the deployment") == 0) {
		d->id = sqlite3_last_insert_rowid(q->db);
		rc = 0;
	}
	sq_release(q, st);
	return rc;
}

static void deployment_from_row(sqlite3_stmt *st, void *record)
{
	struct store_deployment *out = record;

	memset(out, 0, sizeof(*out));
	out->id = sqlite3_column_int64(st, 0);
	sq_col_text(st, 1, out->update_id, sizeof(out->update_id));
	sq_col_text(st, 2, out->collection_id, sizeof(out->collection_id));
	sq_col_text(st, 3, out->collection_name, sizeof(out->collection_name));
	sq_col_text(st, 4, out->title, sizeof(out->title));
	out->available_at = sqlite3_column_int64(st, 5);
	out->deadline_at = sqlite3_column_int64(st, 6);
	out->created_at = sqlite3_column_int64(st, 7);
}

int sq_deployment_list(void *impl, const char *update_id, struct store_deployment **out,
		       size_t *count, struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st = sq_prepare(
	    q,
	    "SELECT d.id, d.update_id, d.collection_id, c.name, u.title, d.available_at, "
	    "ifnull(d.deadline_at, 0), d.created_at FROM deployments d "
	    "JOIN collections c ON c.id = d.collection_id JOIN updates u ON u.id = d.update_id "
	    "WHERE ?1 IS NULL OR d.update_id = ?1 ORDER BY d.id DESC",
	    err);

	if (st == NULL)
		return -1;
	if (sq_text(q, st, 1, update_id, err) != 0) {
		sq_release(q, st);
		return -1;
	}
	return sq_list(q, st, deployment_from_row, sizeof(**out), (void **)out, count, err,
		       "list the deployments");
}
