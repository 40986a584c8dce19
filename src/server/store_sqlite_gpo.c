/* store_sqlite_gpo.c - the SQLite side of group policy objects (migration 0006): the table of
 * struct store_gpo_ops that store_sqlite.c's operations point at. */
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

#define GPO_COLUMNS "id, name, version, created_at, updated_at"

static void gpo_from_row(sqlite3_stmt *st, void *record)
{
	struct store_gpo *g = record;

	memset(g, 0, sizeof(*g));
	sq_col_text(st, 0, g->id, sizeof(g->id));
	sq_col_text(st, 1, g->name, sizeof(g->name));
	g->version = (uint32_t)sqlite3_column_int64(st, 2);
	g->created_at = sqlite3_column_int64(st, 3);
	g->updated_at = sqlite3_column_int64(st, 4);
}

static int gpo_insert(void *impl, const struct store_gpo *g, struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st =
	    sq_prepare(q,
		       "INSERT INTO gpos (id, name, version, created_at, updated_at) "
		       "VALUES (?, ?, ?, ?, ?)",
		       err);

	if (st == NULL)
		return -1;
	return run_done(q, st,
			sq_text(q, st, 1, g->id, err) || sq_text(q, st, 2, g->name, err) ||
			    sq_int(q, st, 3, g->version, err) ||
			    sq_int(q, st, 4, g->created_at, err) ||
			    sq_int(q, st, 5, g->updated_at, err),
			err, "add the GPO");
}

static int gpo_get(void *impl, const char *id_or_name, struct store_gpo *out, bool *found,
		   struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st = sq_prepare(
	    q, "SELECT " GPO_COLUMNS " FROM gpos WHERE id = ?1 OR name = ?1 COLLATE NOCASE", err);

	*found = false;
	if (st == NULL)
		return -1;
	if (sq_text(q, st, 1, id_or_name, err) != 0) {
		sq_release(q, st);
		return -1;
	}
	return sq_one(q, st, gpo_from_row, out, found, err, "read the GPO");
}

static int gpo_list(void *impl, struct store_gpo **out, size_t *count, struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st =
	    sq_prepare(q, "SELECT " GPO_COLUMNS " FROM gpos ORDER BY name COLLATE NOCASE, id", err);

	if (st == NULL)
		return -1;
	return sq_list(q, st, gpo_from_row, sizeof(**out), (void **)out, count, err,
		       "list the GPOs");
}

static int gpo_remove(void *impl, const char *id, struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st = sq_prepare(q, "DELETE FROM gpos WHERE id = ?", err);

	if (st == NULL)
		return -1;
	return run_done(q, st, sq_text(q, st, 1, id, err), err, "delete the GPO");
}

static int gpo_set_version(void *impl, const char *id, uint32_t version, int64_t now,
			   struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st =
	    sq_prepare(q, "UPDATE gpos SET version = ?, updated_at = ? WHERE id = ?", err);

	if (st == NULL)
		return -1;
	return run_done(q, st,
			sq_int(q, st, 1, version, err) || sq_int(q, st, 2, now, err) ||
			    sq_text(q, st, 3, id, err),
			err, "record the GPO's version");
}

/* ---- certificates ---- */

static int cert_insert(void *impl, const char *id, const struct store_gpo_cert *c,
		       struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st =
	    sq_prepare(q,
		       "INSERT INTO gpo_certificates (gpo_id, store, thumbprint, der, subject, "
		       "not_after, added_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
		       err);

	if (st == NULL)
		return -1;
	return run_done(
	    q, st,
	    sq_text(q, st, 1, id, err) || sq_text(q, st, 2, c->store, err) ||
		sq_text(q, st, 3, c->thumbprint, err) ||
		sq_blob(q, st, 4, c->der, c->der_len, err) || sq_text(q, st, 5, c->subject, err) ||
		sq_int(q, st, 6, c->not_after, err) || sq_int(q, st, 7, c->added_at, err),
	    err, "add the certificate to the GPO");
}

static int cert_delete(void *impl, const char *id, const char *store, const char *thumbprint,
		       bool *found, struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st = sq_prepare(
	    q, "DELETE FROM gpo_certificates WHERE gpo_id = ? AND store = ? AND thumbprint = ?",
	    err);
	int rc;

	*found = false;
	if (st == NULL)
		return -1;
	rc = run_done(q, st,
		      sq_text(q, st, 1, id, err) || sq_text(q, st, 2, store, err) ||
			  sq_text(q, st, 3, thumbprint, err),
		      err, "remove the certificate from the GPO");
	if (rc == 0)
		*found = sqlite3_changes(q->db) > 0;
	return rc;
}

static int cert_from_row(sqlite3_stmt *st, struct store_gpo_cert *c, struct pp_error *err)
{
	const void *der = sqlite3_column_blob(st, 2);
	int len = sqlite3_column_bytes(st, 2);

	memset(c, 0, sizeof(*c));
	sq_col_text(st, 0, c->store, sizeof(c->store));
	sq_col_text(st, 1, c->thumbprint, sizeof(c->thumbprint));
	sq_col_text(st, 3, c->subject, sizeof(c->subject));
	c->not_after = sqlite3_column_int64(st, 4);
	c->added_at = sqlite3_column_int64(st, 5);
	if (der == NULL || len <= 0) {
		pp_error_set(err, HR_ERROR_INVALID_DATA,
			     "site database: GPO certificate %s has no DER", c->thumbprint);
		return -1;
	}
	c->der = malloc((size_t)len);
	if (c->der == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory reading a GPO certificate");
		return -1;
	}
	memcpy(c->der, der, (size_t)len);
	c->der_len = (size_t)len;
	return 0;
}

static int cert_list(void *impl, const char *id, struct store_gpo_cert **out, size_t *count,
		     struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st = sq_prepare(q,
				      "SELECT store, thumbprint, der, subject, not_after, added_at "
				      "FROM gpo_certificates WHERE gpo_id = ? ORDER BY store, "
				      "thumbprint",
				      err);
	void *arr = NULL;
	size_t n = 0, cap = 0;
	int r, rc = -1;

	*out = NULL;
	*count = 0;
	if (st == NULL)
		return -1;
	if (sq_text(q, st, 1, id, err) != 0)
		goto out;
	while ((r = sq_row(q, st, err, "list the GPO's certificates")) == 1) {
		if (sq_list_grow(&arr, &cap, n, sizeof(struct store_gpo_cert), err) != 0)
			goto out;
		if (cert_from_row(st, (struct store_gpo_cert *)arr + n, err) != 0) {
			free(((struct store_gpo_cert *)arr)[n].der);
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
	store_gpo_certs_free(arr, n);
	sq_release(q, st);
	return rc;
}

/* ---- values ---- */

static int value_put(void *impl, const char *id, const struct store_gpo_value *v,
		     struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st =
	    sq_prepare(q,
		       "INSERT INTO gpo_values (gpo_id, name, value) VALUES (?, ?, ?) "
		       "ON CONFLICT (gpo_id, name) DO UPDATE SET value = excluded.value",
		       err);

	if (st == NULL)
		return -1;
	return run_done(q, st,
			sq_text(q, st, 1, id, err) || sq_text(q, st, 2, v->name, err) ||
			    sq_int(q, st, 3, v->value, err),
			err, "set the GPO's policy value");
}

static void value_from_row(sqlite3_stmt *st, void *record)
{
	struct store_gpo_value *v = record;

	memset(v, 0, sizeof(*v));
	sq_col_text(st, 0, v->name, sizeof(v->name));
	v->value = (uint32_t)sqlite3_column_int64(st, 1);
}

static int value_list(void *impl, const char *id, struct store_gpo_value **out, size_t *count,
		      struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st =
	    sq_prepare(q, "SELECT name, value FROM gpo_values WHERE gpo_id = ? ORDER BY name", err);

	*out = NULL;
	*count = 0;
	if (st == NULL)
		return -1;
	if (sq_text(q, st, 1, id, err) != 0) {
		sq_release(q, st);
		return -1;
	}
	return sq_list(q, st, value_from_row, sizeof(**out), (void **)out, count, err,
		       "list the GPO's policy values");
}

static int value_delete(void *impl, const char *id, const char *name, bool *found,
			struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st =
	    sq_prepare(q, "DELETE FROM gpo_values WHERE gpo_id = ? AND name = ?", err);
	int rc;

	*found = false;
	if (st == NULL)
		return -1;
	rc = run_done(q, st, sq_text(q, st, 1, id, err) || sq_text(q, st, 2, name, err), err,
		      "take the policy value out of the GPO");
	if (rc == 0)
		*found = sqlite3_changes(q->db) > 0;
	return rc;
}

/* ---- links ---- */

static int link_insert(void *impl, const struct store_gpo_link *l, struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st = sq_prepare(q,
				      "INSERT INTO gpo_links (gpo_id, collection_id, link_order, "
				      "created_at) VALUES (?, ?, ?, ?)",
				      err);

	if (st == NULL)
		return -1;
	return run_done(
	    q, st,
	    sq_text(q, st, 1, l->gpo_id, err) || sq_text(q, st, 2, l->collection_id, err) ||
		sq_int(q, st, 3, l->link_order, err) || sq_int(q, st, 4, l->created_at, err),
	    err, "link the GPO");
}

static int link_delete(void *impl, const char *id, const char *collection_id, bool *found,
		       struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st =
	    sq_prepare(q, "DELETE FROM gpo_links WHERE gpo_id = ? AND collection_id = ?", err);
	int rc;

	*found = false;
	if (st == NULL)
		return -1;
	rc = run_done(q, st, sq_text(q, st, 1, id, err) || sq_text(q, st, 2, collection_id, err),
		      err, "unlink the GPO");
	if (rc == 0)
		*found = sqlite3_changes(q->db) > 0;
	return rc;
}

static int link_set_order(void *impl, const char *id, const char *collection_id, int64_t order,
			  struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st = sq_prepare(
	    q, "UPDATE gpo_links SET link_order = ? WHERE gpo_id = ? AND collection_id = ?", err);

	if (st == NULL)
		return -1;
	return run_done(q, st,
			sq_int(q, st, 1, order, err) || sq_text(q, st, 2, id, err) ||
			    sq_text(q, st, 3, collection_id, err),
			err, "set a GPO link's order");
}

static void link_from_row(sqlite3_stmt *st, void *record)
{
	struct store_gpo_link *l = record;

	memset(l, 0, sizeof(*l));
	sq_col_text(st, 0, l->gpo_id, sizeof(l->gpo_id));
	sq_col_text(st, 1, l->gpo_name, sizeof(l->gpo_name));
	l->gpo_version = (uint32_t)sqlite3_column_int64(st, 2);
	sq_col_text(st, 3, l->collection_id, sizeof(l->collection_id));
	sq_col_text(st, 4, l->collection_name, sizeof(l->collection_name));
	l->link_order = sqlite3_column_int64(st, 5);
	l->created_at = sqlite3_column_int64(st, 6);
}

static int link_list(void *impl, const char *id, struct store_gpo_link **out, size_t *count,
		     struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st = sq_prepare(
	    q,
	    "SELECT l.gpo_id, g.name, g.version, l.collection_id, c.name, l.link_order, "
	    "l.created_at FROM gpo_links l JOIN gpos g ON g.id = l.gpo_id JOIN collections c ON "
	    "c.id = l.collection_id WHERE ?1 IS NULL OR l.gpo_id = ?1 ORDER BY l.collection_id, "
	    "l.link_order",
	    err);

	*out = NULL;
	*count = 0;
	if (st == NULL)
		return -1;
	if (sq_text(q, st, 1, id, err) != 0) {
		sq_release(q, st);
		return -1;
	}
	return sq_list(q, st, link_from_row, sizeof(**out), (void **)out, count, err,
		       "list the GPO links");
}

const struct store_gpo_ops sq_gpo_ops = {
    .insert = gpo_insert,
    .get = gpo_get,
    .list = gpo_list,
    .remove = gpo_remove,
    .set_version = gpo_set_version,
    .cert_insert = cert_insert,
    .cert_delete = cert_delete,
    .cert_list = cert_list,
    .value_put = value_put,
    .value_list = value_list,
    .value_delete = value_delete,
    .link_insert = link_insert,
    .link_delete = link_delete,
    .link_set_order = link_set_order,
    .link_list = link_list,
};
