/* store_sqlite_ci.c - the SQLite side of configuration items, baselines, their deployments and
 * the reports of devices (migration 0008; struct store_ci_ops in store.h). */
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

/* ---- items ---- */

#define CI_COLUMNS                                                                                 \
	"id, name, kind, revision, ifnull(thumbprint, ''), ifnull(subject, ''), der, "             \
	"ifnull(stores, 0), discovery, remediation, ifnull(data_type, 'boolean'), "                \
	"ifnull(expected, ''), ifnull(timeout_seconds, 0), created_at, updated_at, "               \
	"(SELECT count(*) FROM baseline_items b WHERE b.item_id = configuration_items.id)"

/* Column i as a malloc'd NUL-terminated text, NULL for NULL; -1 when out of memory. */
static int col_alloc_text(sqlite3_stmt *st, int i, char **out, struct pp_error *err)
{
	const unsigned char *v = sqlite3_column_text(st, i);
	size_t n = (size_t)sqlite3_column_bytes(st, i);

	*out = NULL;
	if (v == NULL)
		return 0;
	*out = malloc(n + 1);
	if (*out == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory reading the site database");
		return -1;
	}
	memcpy(*out, v, n);
	(*out)[n] = '\0';
	return 0;
}

static int ci_from_row(sqlite3_stmt *st, struct store_ci *ci, struct pp_error *err)
{
	struct pp_error ignored;
	const void *der;
	char kind[16], type[16];
	size_t n;

	memset(ci, 0, sizeof(*ci));
	pp_error_clear(&ignored);
	ci->id = sqlite3_column_int64(st, 0);
	sq_col_text(st, 1, ci->name, sizeof(ci->name));
	sq_col_text(st, 2, kind, sizeof(kind));
	ci->kind =
	    strcmp(kind, "script") == 0 ? CONFIGITEM_KIND_SCRIPT : CONFIGITEM_KIND_CERTIFICATE;
	ci->revision = sqlite3_column_int64(st, 3);
	sq_col_text(st, 4, ci->thumbprint, sizeof(ci->thumbprint));
	sq_col_text(st, 5, ci->subject, sizeof(ci->subject));
	der = sqlite3_column_blob(st, 6);
	n = (size_t)sqlite3_column_bytes(st, 6);
	if (der != NULL && n > 0) {
		ci->der = malloc(n);
		if (ci->der == NULL) {
			pp_error_set(err, HR_E_OUTOFMEMORY,
				     "out of memory reading the site database");
			return -1;
		}
		memcpy(ci->der, der, n);
		ci->der_len = n;
	}
	ci->stores = (unsigned)sqlite3_column_int64(st, 7);
	if (col_alloc_text(st, 8, &ci->discovery, err) != 0 ||
	    col_alloc_text(st, 9, &ci->remediation, err) != 0)
		return -1;
	sq_col_text(st, 10, type, sizeof(type));
	if (configitem_type_parse(type, &ci->data_type, &ignored) != 0)
		ci->data_type = CONFIGITEM_TYPE_STRING;
	sq_col_text(st, 11, ci->expected, sizeof(ci->expected));
	ci->timeout_seconds = sqlite3_column_int64(st, 12);
	ci->created_at = sqlite3_column_int64(st, 13);
	ci->updated_at = sqlite3_column_int64(st, 14);
	ci->baseline_count = sqlite3_column_int64(st, 15);
	return 0;
}

/* Binds the fields of ci from parameter 1 on, as ci_insert and ci_update write them. */
static int bind_ci(struct sq *q, sqlite3_stmt *st, const struct store_ci *ci, struct pp_error *err)
{
	const bool cert = ci->kind == CONFIGITEM_KIND_CERTIFICATE;

	return sq_text(q, st, 1, ci->name, err) ||
	       sq_text(q, st, 2, configitem_kind_name(ci->kind), err) ||
	       sq_int(q, st, 3, ci->revision, err) ||
	       sq_text(q, st, 4, cert ? ci->thumbprint : NULL, err) ||
	       sq_text(q, st, 5, cert ? ci->subject : NULL, err) ||
	       (cert ? sq_blob(q, st, 6, ci->der, ci->der_len, err) : 0) ||
	       (cert ? sq_int(q, st, 7, ci->stores, err) : 0) ||
	       sq_text(q, st, 8, cert ? NULL : ci->discovery, err) ||
	       sq_text(q, st, 9, cert ? NULL : ci->remediation, err) ||
	       sq_text(q, st, 10, cert ? NULL : configitem_type_name(ci->data_type), err) ||
	       sq_text(q, st, 11, cert ? NULL : "equals", err) ||
	       sq_text(q, st, 12, cert ? NULL : ci->expected, err) ||
	       (cert ? 0 : sq_int(q, st, 13, ci->timeout_seconds, err)) ||
	       sq_int(q, st, 14, ci->created_at, err) || sq_int(q, st, 15, ci->updated_at, err);
}

static int sq_ci_insert(void *impl, struct store_ci *ci, struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st = sq_prepare(
	    q,
	    "INSERT INTO configuration_items (name, kind, revision, thumbprint, subject, der, "
	    "stores, discovery, remediation, data_type, operator, expected, timeout_seconds, "
	    "created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, "
	    "?13, ?14, ?15)",
	    err);

	if (st == NULL)
		return -1;
	if (run_done(q, st, bind_ci(q, st, ci, err), err, "add the configuration item") != 0)
		return -1;
	ci->id = sqlite3_last_insert_rowid(q->db);
	return 0;
}

static int sq_ci_get(void *impl, const char *name, struct store_ci *out, bool *found,
		     struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st =
	    sq_prepare(q, "SELECT " CI_COLUMNS " FROM configuration_items WHERE name = ?", err);
	int r, rc = -1;

	*found = false;
	if (st == NULL)
		return -1;
	if (sq_text(q, st, 1, name, err) != 0)
		goto out;
	r = sq_row(q, st, err, "read the configuration item");
	if (r < 0)
		goto out;
	if (r == 1) {
		if (ci_from_row(st, out, err) != 0) {
			store_ci_clear(out);
			goto out;
		}
		*found = true;
	}
	rc = 0;
out:
	sq_release(q, st);
	return rc;
}

static int sq_ci_list(void *impl, struct store_ci **out, size_t *count, struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st = sq_prepare(
	    q, "SELECT " CI_COLUMNS " FROM configuration_items ORDER BY name COLLATE NOCASE", err);
	struct store_ci *arr = NULL;
	size_t n = 0, cap = 0;
	int r, rc = -1;

	if (st == NULL)
		return -1;
	while ((r = sq_row(q, st, err, "list the configuration items")) == 1) {
		if (sq_list_grow((void **)&arr, &cap, n, sizeof(*arr), err) != 0)
			goto out;
		if (ci_from_row(st, &arr[n], err) != 0) {
			store_ci_clear(&arr[n]);
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
	store_ci_list_free(arr, n);
	sq_release(q, st);
	return rc;
}

static int sq_ci_update(void *impl, const struct store_ci *ci, struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st = sq_prepare(
	    q,
	    "UPDATE configuration_items SET name = ?1, kind = ?2, revision = ?3, thumbprint = ?4, "
	    "subject = ?5, der = ?6, stores = ?7, discovery = ?8, remediation = ?9, data_type = "
	    "?10, operator = ?11, expected = ?12, timeout_seconds = ?13, created_at = ?14, "
	    "updated_at = ?15 WHERE id = ?16",
	    err);

	if (st == NULL)
		return -1;
	return run_done(q, st, bind_ci(q, st, ci, err) || sq_int(q, st, 16, ci->id, err), err,
			"change the configuration item");
}

static int sq_ci_delete(void *impl, int64_t id, struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st = sq_prepare(q, "DELETE FROM configuration_items WHERE id = ?", err);

	if (st == NULL)
		return -1;
	return run_done(q, st, sq_int(q, st, 1, id, err), err, "delete the configuration item");
}

static int sq_ci_referrer(void *impl, int64_t id, char *out, size_t size, struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st =
	    sq_prepare(q,
		       "SELECT b.name FROM baseline_items i JOIN baselines b ON b.id = "
		       "i.baseline_id WHERE i.item_id = ? ORDER BY b.name LIMIT 1",
		       err);
	int r;

	out[0] = '\0';
	if (st == NULL)
		return -1;
	if (sq_int(q, st, 1, id, err) != 0) {
		sq_release(q, st);
		return -1;
	}
	r = sq_row(q, st, err, "read the baselines holding the item");
	if (r == 1)
		sq_col_text(st, 0, out, size);
	sq_release(q, st);
	return r < 0 ? -1 : 0;
}

/* ---- baselines ---- */

#define BASELINE_COLUMNS                                                                           \
	"id, name, revision, created_at, updated_at, "                                             \
	"(SELECT count(*) FROM baseline_items i WHERE i.baseline_id = baselines.id), "             \
	"(SELECT count(*) FROM baseline_deployments d WHERE d.baseline_id = baselines.id)"

static void baseline_from_row(sqlite3_stmt *st, void *record)
{
	struct store_baseline *b = record;

	memset(b, 0, sizeof(*b));
	b->id = sqlite3_column_int64(st, 0);
	sq_col_text(st, 1, b->name, sizeof(b->name));
	b->revision = sqlite3_column_int64(st, 2);
	b->created_at = sqlite3_column_int64(st, 3);
	b->updated_at = sqlite3_column_int64(st, 4);
	b->item_count = sqlite3_column_int64(st, 5);
	b->deployment_count = sqlite3_column_int64(st, 6);
}

static int sq_baseline_insert(void *impl, struct store_baseline *b, struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st = sq_prepare(q,
				      "INSERT INTO baselines (name, revision, created_at, "
				      "updated_at) VALUES (?, ?, ?, ?)",
				      err);

	if (st == NULL)
		return -1;
	if (run_done(q, st,
		     sq_text(q, st, 1, b->name, err) || sq_int(q, st, 2, b->revision, err) ||
			 sq_int(q, st, 3, b->created_at, err) ||
			 sq_int(q, st, 4, b->updated_at, err),
		     err, "add the configuration baseline") != 0)
		return -1;
	b->id = sqlite3_last_insert_rowid(q->db);
	return 0;
}

static int sq_baseline_get(void *impl, const char *name, int64_t id, struct store_baseline *out,
			   bool *found, struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st =
	    sq_prepare(q,
		       "SELECT " BASELINE_COLUMNS
		       " FROM baselines WHERE (?1 IS NOT NULL AND name = ?1) OR id = "
		       "?2",
		       err);

	*found = false;
	if (st == NULL)
		return -1;
	if (sq_text(q, st, 1, name, err) != 0 || sq_int(q, st, 2, id, err) != 0) {
		sq_release(q, st);
		return -1;
	}
	return sq_one(q, st, baseline_from_row, out, found, err, "read the configuration baseline");
}

static int sq_baseline_list(void *impl, struct store_baseline **out, size_t *count,
			    struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st = sq_prepare(
	    q, "SELECT " BASELINE_COLUMNS " FROM baselines ORDER BY name COLLATE NOCASE", err);

	if (st == NULL)
		return -1;
	return sq_list(q, st, baseline_from_row, sizeof(**out), (void **)out, count, err,
		       "list the configuration baselines");
}

static int sq_baseline_touch(void *impl, int64_t id, int64_t revision, int64_t now,
			     struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st =
	    sq_prepare(q, "UPDATE baselines SET revision = ?, updated_at = ? WHERE id = ?", err);

	if (st == NULL)
		return -1;
	return run_done(q, st,
			sq_int(q, st, 1, revision, err) || sq_int(q, st, 2, now, err) ||
			    sq_int(q, st, 3, id, err),
			err, "change the configuration baseline");
}

static int sq_baseline_delete(void *impl, int64_t id, struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st = sq_prepare(q, "DELETE FROM baselines WHERE id = ?", err);

	if (st == NULL)
		return -1;
	return run_done(q, st, sq_int(q, st, 1, id, err), err, "delete the configuration baseline");
}

static int sq_item_insert(void *impl, int64_t baseline_id, int64_t item_id, struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st = sq_prepare(
	    q,
	    "INSERT INTO baseline_items (baseline_id, item_id, position) VALUES (?1, ?2, "
	    "(SELECT ifnull(max(position), 0) + 1 FROM baseline_items WHERE baseline_id = ?1))",
	    err);

	if (st == NULL)
		return -1;
	return run_done(q, st, sq_int(q, st, 1, baseline_id, err) || sq_int(q, st, 2, item_id, err),
			err, "add the item to the baseline");
}

static int sq_item_delete(void *impl, int64_t baseline_id, int64_t item_id, bool *found,
			  struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st =
	    sq_prepare(q, "DELETE FROM baseline_items WHERE baseline_id = ? AND item_id = ?", err);

	*found = false;
	if (st == NULL)
		return -1;
	if (run_done(q, st, sq_int(q, st, 1, baseline_id, err) || sq_int(q, st, 2, item_id, err),
		     err, "remove the item from the baseline") != 0)
		return -1;
	*found = sqlite3_changes(q->db) > 0;
	return 0;
}

static void item_from_row(sqlite3_stmt *st, void *record)
{
	struct store_baseline_item *it = record;
	char kind[16];

	memset(it, 0, sizeof(*it));
	it->item_id = sqlite3_column_int64(st, 0);
	sq_col_text(st, 1, it->name, sizeof(it->name));
	sq_col_text(st, 2, kind, sizeof(kind));
	it->kind =
	    strcmp(kind, "script") == 0 ? CONFIGITEM_KIND_SCRIPT : CONFIGITEM_KIND_CERTIFICATE;
	it->revision = sqlite3_column_int64(st, 3);
}

static int sq_items(void *impl, int64_t baseline_id, struct store_baseline_item **out,
		    size_t *count, struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st = sq_prepare(q,
				      "SELECT c.id, c.name, c.kind, c.revision FROM baseline_items "
				      "i JOIN configuration_items c ON c.id = i.item_id WHERE "
				      "i.baseline_id = ? ORDER BY i.position",
				      err);

	if (st == NULL)
		return -1;
	if (sq_int(q, st, 1, baseline_id, err) != 0) {
		sq_release(q, st);
		return -1;
	}
	return sq_list(q, st, item_from_row, sizeof(**out), (void **)out, count, err,
		       "list the baseline's items");
}

/* ---- deployments ---- */

static void deployment_from_row(sqlite3_stmt *st, void *record)
{
	struct store_baseline_deployment *d = record;

	memset(d, 0, sizeof(*d));
	d->id = sqlite3_column_int64(st, 0);
	d->baseline_id = sqlite3_column_int64(st, 1);
	sq_col_text(st, 2, d->baseline_name, sizeof(d->baseline_name));
	sq_col_text(st, 3, d->collection_id, sizeof(d->collection_id));
	sq_col_text(st, 4, d->collection_name, sizeof(d->collection_name));
	d->remediate = sqlite3_column_int(st, 5) != 0;
	d->schedule_hours = sqlite3_column_int64(st, 6);
	d->created_at = sqlite3_column_int64(st, 7);
}

static int sq_bdep_insert(void *impl, struct store_baseline_deployment *d, struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st =
	    sq_prepare(q,
		       "INSERT INTO baseline_deployments (baseline_id, "
		       "collection_id, remediate, schedule_hours, created_at) VALUES "
		       "(?, ?, ?, ?, ?)",
		       err);

	if (st == NULL)
		return -1;
	if (run_done(q, st,
		     sq_int(q, st, 1, d->baseline_id, err) ||
			 sq_text(q, st, 2, d->collection_id, err) ||
			 sq_int(q, st, 3, d->remediate ? 1 : 0, err) ||
			 sq_int(q, st, 4, d->schedule_hours, err) ||
			 sq_int(q, st, 5, d->created_at, err),
		     err, "deploy the configuration baseline") != 0)
		return -1;
	d->id = sqlite3_last_insert_rowid(q->db);
	return 0;
}

static int sq_bdep_delete(void *impl, int64_t baseline_id, const char *collection_id, bool *found,
			  struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st = sq_prepare(
	    q, "DELETE FROM baseline_deployments WHERE baseline_id = ? AND collection_id = ?", err);

	*found = false;
	if (st == NULL)
		return -1;
	if (run_done(q, st,
		     sq_int(q, st, 1, baseline_id, err) || sq_text(q, st, 2, collection_id, err),
		     err, "undeploy the configuration baseline") != 0)
		return -1;
	*found = sqlite3_changes(q->db) > 0;
	return 0;
}

static int sq_bdeps(void *impl, int64_t baseline_id, const char *device_id,
		    struct store_baseline_deployment **out, size_t *count, struct pp_error *err)
{
	struct sq *q = impl;
	/* All Systems has no rows in collection_members: every device is in it. */
	sqlite3_stmt *st = sq_prepare(
	    q,
	    "SELECT d.id, d.baseline_id, b.name, d.collection_id, c.name, d.remediate, "
	    "d.schedule_hours, d.created_at FROM baseline_deployments d JOIN baselines b ON b.id "
	    "= d.baseline_id JOIN collections c ON c.id = d.collection_id WHERE (?1 = 0 OR "
	    "d.baseline_id = ?1) AND (?2 IS NULL OR d.collection_id = 'SMS00001' OR EXISTS "
	    "(SELECT 1 FROM collection_members m WHERE m.collection_id = d.collection_id AND "
	    "m.device_id = ?2)) ORDER BY b.name COLLATE NOCASE, d.collection_id",
	    err);

	if (st == NULL)
		return -1;
	if (sq_int(q, st, 1, baseline_id, err) != 0 || sq_text(q, st, 2, device_id, err) != 0) {
		sq_release(q, st);
		return -1;
	}
	return sq_list(q, st, deployment_from_row, sizeof(**out), (void **)out, count, err,
		       "list the baseline deployments");
}

/* ---- reports ---- */

static int sq_report_insert(void *impl, const char *device_id,
			    const struct store_baseline_report *r, int64_t now, bool *inserted,
			    bool *known, struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st;
	int r1;

	*inserted = false;
	*known = false;
	st = sq_prepare(q, "SELECT 1 FROM baselines WHERE id = ?", err);
	if (st == NULL)
		return -1;
	if (sq_int(q, st, 1, r->baseline_id, err) != 0) {
		sq_release(q, st);
		return -1;
	}
	r1 = sq_row(q, st, err, "read the configuration baseline");
	sq_release(q, st);
	if (r1 < 0)
		return -1;
	if (r1 == 0)
		return 0;
	*known = true;
	st = sq_prepare(q,
			"INSERT OR IGNORE INTO baseline_reports (id, device_id, baseline_id, "
			"baseline_revision, time, received_at) VALUES (?, ?, ?, ?, ?, ?)",
			err);
	if (st == NULL)
		return -1;
	if (run_done(q, st,
		     sq_text(q, st, 1, r->id, err) || sq_text(q, st, 2, device_id, err) ||
			 sq_int(q, st, 3, r->baseline_id, err) ||
			 sq_int(q, st, 4, r->baseline_revision, err) ||
			 sq_int(q, st, 5, r->time, err) || sq_int(q, st, 6, now, err),
		     err, "record the baseline report") != 0)
		return -1;
	*inserted = sqlite3_changes(q->db) > 0;
	if (!*inserted)
		return 0;
	for (size_t i = 0; i < r->count; i++) {
		const struct store_ci_result *x = &r->results[i];

		/* Only the items the baseline holds now: a result of one taken out since is of
		 * nothing compliance shows. */
		st = sq_prepare(
		    q,
		    "INSERT INTO baseline_report_items (report_id, item_id, "
		    "item_revision, state, hresult, exit_code, detail) SELECT ?1, ?2, "
		    "?3, ?4, ?5, ?6, ?7 WHERE EXISTS (SELECT 1 FROM baseline_items WHERE "
		    "baseline_id = ?8 AND item_id = ?2)",
		    err);
		if (st == NULL)
			return -1;
		if (run_done(
			q, st,
			sq_text(q, st, 1, r->id, err) || sq_int(q, st, 2, x->item_id, err) ||
			    sq_int(q, st, 3, x->item_revision, err) ||
			    sq_text(q, st, 4, configitem_state_name(x->state), err) ||
			    (x->has_hresult ? sq_int(q, st, 5, (int64_t)x->hresult, err) : 0) ||
			    (x->has_exit_code ? sq_int(q, st, 6, x->exit_code, err) : 0) ||
			    sq_text(q, st, 7, x->detail, err) ||
			    sq_int(q, st, 8, r->baseline_id, err),
			err, "record the result of the item") != 0)
			return -1;
	}
	st = sq_prepare(
	    q,
	    "INSERT INTO device_baseline_state (device_id, baseline_id, report_id, time) "
	    "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (device_id, baseline_id) DO UPDATE SET "
	    "report_id = ?3, time = ?4 WHERE ?4 >= time",
	    err);
	if (st == NULL)
		return -1;
	return run_done(q, st,
			sq_text(q, st, 1, device_id, err) ||
			    sq_int(q, st, 2, r->baseline_id, err) ||
			    sq_text(q, st, 3, r->id, err) || sq_int(q, st, 4, r->time, err),
			err, "record the device's state of the baseline");
}

static void compliance_from_row(sqlite3_stmt *st, void *record)
{
	struct store_ci_compliance *c = record;
	struct pp_error ignored;
	char state[32];

	memset(c, 0, sizeof(*c));
	pp_error_clear(&ignored);
	sq_col_text(st, 0, c->device_id, sizeof(c->device_id));
	sq_col_text(st, 1, c->device_name, sizeof(c->device_name));
	c->report_time = sqlite3_column_int64(st, 2);
	c->baseline_revision = sqlite3_column_int64(st, 3);
	c->item_id = sqlite3_column_int64(st, 4);
	sq_col_text(st, 5, c->item_name, sizeof(c->item_name));
	sq_col_text(st, 6, state, sizeof(state));
	if (configitem_state_parse(state, &c->state, &ignored) != 0)
		c->state = CONFIGITEM_UNKNOWN;
	c->item_revision = sqlite3_column_int64(st, 7);
	c->has_hresult = sqlite3_column_type(st, 8) != SQLITE_NULL;
	c->hresult = (uint32_t)sqlite3_column_int64(st, 8);
	c->has_exit_code = sqlite3_column_type(st, 9) != SQLITE_NULL;
	c->exit_code = sqlite3_column_int64(st, 9);
	sq_col_text(st, 10, c->detail, sizeof(c->detail));
}

static int sq_bl_compliance(void *impl, int64_t baseline_id, struct store_ci_compliance **out,
			    size_t *count, struct pp_error *err)
{
	struct sq *q = impl;
	/* The devices targeted (members of the deployments' collections; All Systems is every
	 * device) and those that reported the baseline, each with every item of the baseline and
	 * that item's result in the device's latest report. */
	sqlite3_stmt *st = sq_prepare(
	    q,
	    "WITH targets(collection_id) AS (SELECT collection_id FROM baseline_deployments WHERE "
	    "baseline_id = ?1), "
	    "devs(id) AS (SELECT m.device_id FROM collection_members m JOIN targets t ON "
	    "t.collection_id = m.collection_id UNION SELECT d.id FROM devices d WHERE EXISTS "
	    "(SELECT 1 FROM targets WHERE collection_id = 'SMS00001') UNION SELECT device_id FROM "
	    "device_baseline_state WHERE baseline_id = ?1) "
	    "SELECT d.id, d.name, ifnull(s.time, 0), ifnull(r.baseline_revision, 0), c.id, c.name, "
	    "ifnull(x.state, 'unknown'), ifnull(x.item_revision, 0), x.hresult, x.exit_code, "
	    "ifnull(x.detail, '') FROM devs JOIN devices d ON d.id = devs.id "
	    "JOIN baseline_items i ON i.baseline_id = ?1 "
	    "JOIN configuration_items c ON c.id = i.item_id "
	    "LEFT JOIN device_baseline_state s ON s.device_id = d.id AND s.baseline_id = ?1 "
	    "LEFT JOIN baseline_reports r ON r.id = s.report_id "
	    "LEFT JOIN baseline_report_items x ON x.report_id = s.report_id AND x.item_id = c.id "
	    "ORDER BY d.name COLLATE NOCASE, d.id, i.position",
	    err);

	if (st == NULL)
		return -1;
	if (sq_int(q, st, 1, baseline_id, err) != 0) {
		sq_release(q, st);
		return -1;
	}
	return sq_list(q, st, compliance_from_row, sizeof(**out), (void **)out, count, err,
		       "read the compliance of the baseline");
}

const struct store_ci_ops sq_ci_ops = {
    .ci_insert = sq_ci_insert,
    .ci_get = sq_ci_get,
    .ci_list = sq_ci_list,
    .ci_update = sq_ci_update,
    .ci_delete = sq_ci_delete,
    .ci_referrer = sq_ci_referrer,
    .baseline_insert = sq_baseline_insert,
    .baseline_get = sq_baseline_get,
    .baseline_list = sq_baseline_list,
    .baseline_touch = sq_baseline_touch,
    .baseline_delete = sq_baseline_delete,
    .item_insert = sq_item_insert,
    .item_delete = sq_item_delete,
    .items = sq_items,
    .deployment_insert = sq_bdep_insert,
    .deployment_delete = sq_bdep_delete,
    .deployments = sq_bdeps,
    .report_insert = sq_report_insert,
    .compliance = sq_bl_compliance,
};
