/* store_sqlite_ts.c - the SQLite side of packages, task sequences, their deployments and runs
 * (struct store_ts_ops, migration 0007_task_sequences.sql). */
#include "store.h"
#include "store_sqlite_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

/* Binds with bind (0 or -1), steps st expecting no row, releases it. */
static int done(struct sq *q, sqlite3_stmt *st, int bind, struct pp_error *err, const char *what)
{
	int rc = bind != 0 ? -1 : sq_done(q, st, err, what);

	sq_release(q, st);
	return rc;
}

static int64_t col_int(sqlite3_stmt *st, int i)
{
	return sqlite3_column_int64(st, i);
}

/* ---- ids ---- */

static int sq_id_last(void *impl, const char *prefix, char out[TS_ID_LEN + 1], struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st =
	    sq_prepare(q, "SELECT max(id) FROM package_ids WHERE substr(id, 1, 3) = ?", err);
	int r;

	out[0] = '\0';
	if (st == NULL)
		return -1;
	if (sq_text(q, st, 1, prefix, err) != 0) {
		sq_release(q, st);
		return -1;
	}
	r = sq_row(q, st, err, "read the last package id");
	if (r == 1)
		sq_col_text(st, 0, out, TS_ID_LEN + 1);
	sq_release(q, st);
	return r < 0 ? -1 : 0;
}

static int sq_id_claim(void *impl, const char *id, struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st = sq_prepare(q, "INSERT INTO package_ids (id) VALUES (?)", err);

	if (st == NULL)
		return -1;
	return done(q, st, sq_text(q, st, 1, id, err), err, "claim a package id");
}

/* ---- packages ---- */

#define PACKAGE_COLUMNS                                                                            \
	"SELECT p.id, p.name, p.version, p.source_version, p.created_at, p.updated_at, "           \
	"(SELECT count(*) FROM package_files f WHERE f.package_id = p.id), "                       \
	"(SELECT ifnull(sum(size), 0) FROM package_files f WHERE f.package_id = p.id) "            \
	"FROM packages p "

static void package_from_row(sqlite3_stmt *st, void *record)
{
	struct store_package *p = record;

	memset(p, 0, sizeof(*p));
	sq_col_text(st, 0, p->id, sizeof(p->id));
	sq_col_text(st, 1, p->name, sizeof(p->name));
	sq_col_text(st, 2, p->version, sizeof(p->version));
	p->source_version = col_int(st, 3);
	p->created_at = col_int(st, 4);
	p->updated_at = col_int(st, 5);
	p->file_count = col_int(st, 6);
	p->total_size = col_int(st, 7);
}

static int sq_package_get(void *impl, const char *id_or_name, struct store_package *out,
			  bool *found, struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st =
	    sq_prepare(q,
		       PACKAGE_COLUMNS "WHERE p.id = ?1 OR p.name = ?1 COLLATE NOCASE "
				       "ORDER BY p.id = ?1 DESC LIMIT 1",
		       err);

	if (st == NULL)
		return -1;
	if (sq_text(q, st, 1, id_or_name, err) != 0) {
		sq_release(q, st);
		return -1;
	}
	return sq_one(q, st, package_from_row, out, found, err, "read the package");
}

static int sq_package_list(void *impl, struct store_package **out, size_t *count,
			   struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st = sq_prepare(q, PACKAGE_COLUMNS "ORDER BY p.name COLLATE NOCASE", err);

	if (st == NULL)
		return -1;
	return sq_list(q, st, package_from_row, sizeof(**out), (void **)out, count, err,
		       "list the packages");
}

static void file_from_row(sqlite3_stmt *st, void *record)
{
	struct store_package_file *f = record;

	memset(f, 0, sizeof(*f));
	sq_col_text(st, 0, f->path, sizeof(f->path));
	sq_col_text(st, 1, f->sha1, sizeof(f->sha1));
	sq_col_text(st, 2, f->sha256, sizeof(f->sha256));
	f->size = (uint64_t)col_int(st, 3);
}

static int sq_package_files(void *impl, const char *id, struct store_package_file **out,
			    size_t *count, struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st = sq_prepare(q,
				      "SELECT path, sha1, sha256, size FROM package_files WHERE "
				      "package_id = ? ORDER BY path",
				      err);

	if (st == NULL)
		return -1;
	if (sq_text(q, st, 1, id, err) != 0) {
		sq_release(q, st);
		return -1;
	}
	return sq_list(q, st, file_from_row, sizeof(**out), (void **)out, count, err,
		       "list the package's files");
}

static int sq_package_put(void *impl, const struct store_package *p, bool insert,
			  struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st = sq_prepare(
	    q,
	    insert ? "INSERT INTO packages (id, name, version, source_version, created_at, "
		     "updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5)"
		   : "UPDATE packages SET name = ?2, version = ?3, source_version = ?4, "
		     "updated_at = ?5 WHERE id = ?1",
	    err);

	if (st == NULL)
		return -1;
	return done(q, st,
		    sq_text(q, st, 1, p->id, err) || sq_text(q, st, 2, p->name, err) ||
			sq_text(q, st, 3, p->version, err) ||
			sq_int(q, st, 4, p->source_version, err) ||
			sq_int(q, st, 5, p->updated_at, err),
		    err, "write the package");
}

static int sq_package_files_replace(void *impl, const char *id,
				    const struct store_package_file *files, size_t count,
				    struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st = sq_prepare(q, "DELETE FROM package_files WHERE package_id = ?", err);

	if (st == NULL ||
	    done(q, st, sq_text(q, st, 1, id, err), err, "replace the package's files") != 0)
		return -1;
	for (size_t i = 0; i < count; i++) {
		st = sq_prepare(q,
				"INSERT INTO package_files (package_id, path, sha1, sha256, size) "
				"VALUES (?, ?, ?, ?, ?)",
				err);
		if (st == NULL ||
		    done(q, st,
			 sq_text(q, st, 1, id, err) || sq_text(q, st, 2, files[i].path, err) ||
			     sq_text(q, st, 3, files[i].sha1, err) ||
			     sq_text(q, st, 4, files[i].sha256, err) ||
			     sq_int(q, st, 5, (int64_t)files[i].size, err),
			 err, "record a package file") != 0)
			return -1;
	}
	return 0;
}

static int sq_package_delete(void *impl, const char *id, struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st = sq_prepare(q, "DELETE FROM packages WHERE id = ?", err);

	if (st == NULL)
		return -1;
	return done(q, st, sq_text(q, st, 1, id, err), err, "delete the package");
}

static int sq_package_user(void *impl, const char *id, char *out, size_t size, struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st = sq_prepare(
	    q,
	    "SELECT 'step ' || s.position || ' of task sequence \"' || t.name || '\"' FROM "
	    "ts_steps s JOIN task_sequences t ON t.id = s.ts_id WHERE s.package_id = ? "
	    "ORDER BY t.name, s.position LIMIT 1",
	    err);
	int r;

	out[0] = '\0';
	if (st == NULL)
		return -1;
	if (sq_text(q, st, 1, id, err) != 0) {
		sq_release(q, st);
		return -1;
	}
	r = sq_row(q, st, err, "read what uses the package");
	if (r == 1)
		sq_col_text(st, 0, out, size);
	sq_release(q, st);
	return r < 0 ? -1 : 0;
}

static int sq_package_sha1_used(void *impl, const char *sha1, bool *used, struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st = sq_prepare(q, "SELECT 1 FROM package_files WHERE sha1 = ? LIMIT 1", err);
	int r;

	*used = false;
	if (st == NULL)
		return -1;
	if (sq_text(q, st, 1, sha1, err) != 0) {
		sq_release(q, st);
		return -1;
	}
	r = sq_row(q, st, err, "read the package files");
	*used = r == 1;
	sq_release(q, st);
	return r < 0 ? -1 : 0;
}

/* ---- task sequences ---- */

#define TS_COLUMNS                                                                                 \
	"SELECT t.id, t.name, t.revision, t.created_at, t.updated_at, "                            \
	"(SELECT count(*) FROM ts_steps s WHERE s.ts_id = t.id), "                                 \
	"(SELECT count(*) FROM ts_deployments d WHERE d.ts_id = t.id) FROM task_sequences t "

static void ts_from_row(sqlite3_stmt *st, void *record)
{
	struct store_task_sequence *t = record;

	memset(t, 0, sizeof(*t));
	sq_col_text(st, 0, t->id, sizeof(t->id));
	sq_col_text(st, 1, t->name, sizeof(t->name));
	t->revision = col_int(st, 2);
	t->created_at = col_int(st, 3);
	t->updated_at = col_int(st, 4);
	t->step_count = col_int(st, 5);
	t->deployment_count = col_int(st, 6);
}

static int sq_ts_get(void *impl, const char *id_or_name, struct store_task_sequence *out,
		     bool *found, struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st = sq_prepare(q,
				      TS_COLUMNS "WHERE t.id = ?1 OR t.name = ?1 COLLATE NOCASE "
						 "ORDER BY t.id = ?1 DESC LIMIT 1",
				      err);

	if (st == NULL)
		return -1;
	if (sq_text(q, st, 1, id_or_name, err) != 0) {
		sq_release(q, st);
		return -1;
	}
	return sq_one(q, st, ts_from_row, out, found, err, "read the task sequence");
}

static int sq_ts_list(void *impl, struct store_task_sequence **out, size_t *count,
		      struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st = sq_prepare(q, TS_COLUMNS "ORDER BY t.name COLLATE NOCASE", err);

	if (st == NULL)
		return -1;
	return sq_list(q, st, ts_from_row, sizeof(**out), (void **)out, count, err,
		       "list the task sequences");
}

static void step_from_row(sqlite3_stmt *st, void *record)
{
	struct store_ts_step *s = record;
	struct pp_error e;
	char type[32];

	memset(s, 0, sizeof(*s));
	pp_error_clear(&e);
	s->position = sqlite3_column_int(st, 0);
	sq_col_text(st, 1, s->step.name, sizeof(s->step.name));
	sq_col_text(st, 2, type, sizeof(type));
	(void)ts_step_type_parse(type, &s->step.type, &e); /* the CHECK constraint holds it */
	s->step.continue_on_error = sqlite3_column_int(st, 3) != 0;
	sq_col_text(st, 4, s->step.package_id, sizeof(s->step.package_id));
	sq_col_text(st, 5, s->step.command_line, sizeof(s->step.command_line));
	s->step.timeout = (unsigned)sqlite3_column_int64(st, 6);
	sq_col_text(st, 7, s->step.policy_name, sizeof(s->step.policy_name));
	s->step.policy_value = (uint32_t)sqlite3_column_int64(st, 8);
	sq_col_text(st, 9, s->package_name, sizeof(s->package_name));
}

static int sq_ts_steps(void *impl, const char *id, struct store_ts_step **out, size_t *count,
		       struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st = sq_prepare(
	    q,
	    "SELECT s.position, s.name, s.type, s.continue_on_error, s.package_id, "
	    "s.command_line, ifnull(s.timeout, 0), s.policy_name, ifnull(s.policy_value, 0), "
	    "p.name FROM ts_steps s LEFT JOIN packages p ON p.id = s.package_id "
	    "WHERE s.ts_id = ? ORDER BY s.position",
	    err);

	if (st == NULL)
		return -1;
	if (sq_text(q, st, 1, id, err) != 0) {
		sq_release(q, st);
		return -1;
	}
	return sq_list(q, st, step_from_row, sizeof(**out), (void **)out, count, err,
		       "list the steps");
}

static int sq_ts_put(void *impl, const struct store_task_sequence *t, bool insert,
		     struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st = sq_prepare(
	    q,
	    insert ? "INSERT INTO task_sequences (id, name, revision, created_at, updated_at) "
		     "VALUES (?1, ?2, ?3, ?4, ?4)"
		   : "UPDATE task_sequences SET name = ?2, revision = ?3, updated_at = ?4 "
		     "WHERE id = ?1",
	    err);

	if (st == NULL)
		return -1;
	return done(q, st,
		    sq_text(q, st, 1, t->id, err) || sq_text(q, st, 2, t->name, err) ||
			sq_int(q, st, 3, t->revision, err) || sq_int(q, st, 4, t->updated_at, err),
		    err, "write the task sequence");
}

static const char *nonempty(const char *s)
{
	return s[0] != '\0' ? s : NULL;
}

static int sq_ts_steps_replace(void *impl, const char *id, const struct store_ts_step *steps,
			       size_t count, struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st = sq_prepare(q, "DELETE FROM ts_steps WHERE ts_id = ?", err);

	if (st == NULL || done(q, st, sq_text(q, st, 1, id, err), err, "replace the steps") != 0)
		return -1;
	for (size_t i = 0; i < count; i++) {
		const struct ts_step *s = &steps[i].step;
		bool rcl = s->type == TS_STEP_RUN_COMMAND_LINE, pol = s->type == TS_STEP_SET_POLICY;
		int bind;

		st = sq_prepare(q,
				"INSERT INTO ts_steps (ts_id, position, name, type, "
				"continue_on_error, package_id, command_line, timeout, "
				"policy_name, policy_value) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
				err);
		if (st == NULL)
			return -1;
		bind = sq_text(q, st, 1, id, err) || sq_int(q, st, 2, steps[i].position, err) ||
		       sq_text(q, st, 3, s->name, err) ||
		       sq_text(q, st, 4, ts_step_type_key(s->type), err) ||
		       sq_int(q, st, 5, s->continue_on_error ? 1 : 0, err) ||
		       sq_text(q, st, 6, rcl ? nonempty(s->package_id) : NULL, err) ||
		       sq_text(q, st, 7, rcl ? s->command_line : NULL, err);
		if (bind == 0 && rcl)
			bind = sq_int(q, st, 8, s->timeout, err);
		if (bind == 0 && pol)
			bind = sq_text(q, st, 9, s->policy_name, err) ||
			       sq_int(q, st, 10, s->policy_value, err);
		if (done(q, st, bind, err, "record a step") != 0)
			return -1;
	}
	return 0;
}

static int sq_ts_delete(void *impl, const char *id, struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st = sq_prepare(q, "DELETE FROM task_sequences WHERE id = ?", err);

	if (st == NULL)
		return -1;
	return done(q, st, sq_text(q, st, 1, id, err), err, "delete the task sequence");
}

/* ---- deployments ---- */

#define DEP_COLUMNS                                                                                \
	"SELECT d.id, d.ts_id, t.name, d.collection_id, c.name, d.available_at, d.created_at "     \
	"FROM ts_deployments d JOIN task_sequences t ON t.id = d.ts_id "                           \
	"JOIN collections c ON c.id = d.collection_id "

static void dep_from_row(sqlite3_stmt *st, void *record)
{
	struct store_ts_deployment *d = record;

	memset(d, 0, sizeof(*d));
	d->id = col_int(st, 0);
	sq_col_text(st, 1, d->ts_id, sizeof(d->ts_id));
	sq_col_text(st, 2, d->ts_name, sizeof(d->ts_name));
	sq_col_text(st, 3, d->collection_id, sizeof(d->collection_id));
	sq_col_text(st, 4, d->collection_name, sizeof(d->collection_name));
	d->available_at = col_int(st, 5);
	d->created_at = col_int(st, 6);
}

static int sq_dep_insert(void *impl, struct store_ts_deployment *d, struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st = sq_prepare(q,
				      "INSERT INTO ts_deployments (ts_id, collection_id, "
				      "available_at, created_at) VALUES (?, ?, ?, ?)",
				      err);

	if (st == NULL ||
	    done(q, st,
		 sq_text(q, st, 1, d->ts_id, err) || sq_text(q, st, 2, d->collection_id, err) ||
		     sq_int(q, st, 3, d->available_at, err) || sq_int(q, st, 4, d->created_at, err),
		 err, "record the deployment") != 0)
		return -1;
	d->id = sqlite3_last_insert_rowid(q->db);
	return 0;
}

static int sq_dep_delete(void *impl, const char *ts_id, const char *collection_id, bool *found,
			 struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st =
	    sq_prepare(q, "DELETE FROM ts_deployments WHERE ts_id = ? AND collection_id = ?", err);

	*found = false;
	if (st == NULL ||
	    done(q, st, sq_text(q, st, 1, ts_id, err) || sq_text(q, st, 2, collection_id, err), err,
		 "remove the deployment") != 0)
		return -1;
	*found = sqlite3_changes(q->db) > 0;
	return 0;
}

static int sq_dep_list(void *impl, const char *ts_id, struct store_ts_deployment **out,
		       size_t *count, struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st =
	    sq_prepare(q, DEP_COLUMNS "WHERE ?1 IS NULL OR d.ts_id = ?1 ORDER BY d.id", err);

	if (st == NULL)
		return -1;
	if (sq_text(q, st, 1, ts_id, err) != 0) {
		sq_release(q, st);
		return -1;
	}
	return sq_list(q, st, dep_from_row, sizeof(**out), (void **)out, count, err,
		       "list the task sequence deployments");
}

static int sq_dep_for_device(void *impl, const char *device_id, struct store_ts_deployment **out,
			     size_t *count, struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st =
	    sq_prepare(q,
		       DEP_COLUMNS "WHERE d.collection_id = '" STORE_ALL_SYSTEMS "' OR EXISTS "
				   "(SELECT 1 FROM collection_members m WHERE m.collection_id = "
				   "d.collection_id AND m.device_id = ?) ORDER BY d.id",
		       err);

	if (st == NULL)
		return -1;
	if (sq_text(q, st, 1, device_id, err) != 0) {
		sq_release(q, st);
		return -1;
	}
	return sq_list(q, st, dep_from_row, sizeof(**out), (void **)out, count, err,
		       "list the device's task sequence deployments");
}

/* ---- runs ---- */

#define RUN_COLUMNS                                                                                \
	"SELECT r.run_id, r.device_id, ifnull(d.name, ''), r.ts_id, r.deployment_id, r.revision, " \
	"r.seq, r.state, r.hresult, r.started_at, ifnull(r.finished_at, 0), r.received_at "        \
	"FROM ts_runs r LEFT JOIN devices d ON d.id = r.device_id "

static void run_from_row(sqlite3_stmt *st, void *record)
{
	struct store_ts_run *r = record;
	char state[32];
	int s;

	memset(r, 0, sizeof(*r));
	sq_col_text(st, 0, r->run_id, sizeof(r->run_id));
	sq_col_text(st, 1, r->device_id, sizeof(r->device_id));
	sq_col_text(st, 2, r->device_name, sizeof(r->device_name));
	sq_col_text(st, 3, r->ts_id, sizeof(r->ts_id));
	r->deployment_id = col_int(st, 4);
	r->revision = col_int(st, 5);
	r->seq = col_int(st, 6);
	sq_col_text(st, 7, state, sizeof(state));
	s = ts_run_state_parse(state);
	r->state = s >= 0 ? (enum ts_run_state)s : TS_RUN_FAILED;
	r->has_hresult = sqlite3_column_type(st, 8) != SQLITE_NULL;
	r->hresult = (uint32_t)col_int(st, 8);
	r->started_at = col_int(st, 9);
	r->finished_at = col_int(st, 10);
	r->received_at = col_int(st, 11);
}

static int sq_run_get(void *impl, const char *run_id, struct store_ts_run *out, bool *found,
		      struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st = sq_prepare(q, RUN_COLUMNS "WHERE r.run_id = ?", err);

	if (st == NULL)
		return -1;
	if (sq_text(q, st, 1, run_id, err) != 0) {
		sq_release(q, st);
		return -1;
	}
	return sq_one(q, st, run_from_row, out, found, err, "read the run");
}

static int bind_time(struct sq *q, sqlite3_stmt *st, int i, int64_t t, struct pp_error *err)
{
	int rc = t > 0 ? sqlite3_bind_int64(st, i, t) : sqlite3_bind_null(st, i);

	return rc == SQLITE_OK ? 0 : sq_fail(q, rc, err, "bind");
}

static int sq_run_put(void *impl, const struct store_ts_run *r, struct pp_error *err)
{
	struct sq *q = impl;
	sqlite3_stmt *st = sq_prepare(q, "DELETE FROM ts_run_steps WHERE run_id = ?", err);
	int bind;

	if (st == NULL ||
	    done(q, st, sq_text(q, st, 1, r->run_id, err), err, "replace the run's steps") != 0)
		return -1;
	st = sq_prepare(
	    q,
	    "INSERT OR REPLACE INTO ts_runs (run_id, device_id, ts_id, deployment_id, revision, "
	    "seq, state, hresult, started_at, finished_at, received_at) VALUES (?, ?, ?, ?, ?, ?, "
	    "?, ?, ?, ?, ?)",
	    err);
	if (st == NULL)
		return -1;
	bind = sq_text(q, st, 1, r->run_id, err) || sq_text(q, st, 2, r->device_id, err) ||
	       sq_text(q, st, 3, r->ts_id, err) || sq_int(q, st, 4, r->deployment_id, err) ||
	       sq_int(q, st, 5, r->revision, err) || sq_int(q, st, 6, r->seq, err) ||
	       sq_text(q, st, 7, ts_run_state_name(r->state), err) ||
	       (r->has_hresult && sq_int(q, st, 8, r->hresult, err)) ||
	       sq_int(q, st, 9, r->started_at, err) || bind_time(q, st, 10, r->finished_at, err) ||
	       sq_int(q, st, 11, r->received_at, err);
	if (done(q, st, bind, err, "record the run") != 0)
		return -1;
	for (size_t i = 0; i < r->step_count; i++) {
		const struct store_ts_step_result *s = &r->steps[i];

		st =
		    sq_prepare(q,
			       "INSERT INTO ts_run_steps (run_id, position, name, type, "
			       "state, exit_code, hresult, started_at, finished_at, detail) VALUES "
			       "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
			       err);
		if (st == NULL)
			return -1;
		bind = sq_text(q, st, 1, r->run_id, err) || sq_int(q, st, 2, s->position, err) ||
		       sq_text(q, st, 3, s->name, err) ||
		       sq_text(q, st, 4, ts_step_type_key(s->type), err) ||
		       sq_text(q, st, 5, ts_step_state_name(s->state), err) ||
		       (s->has_exit_code && sq_int(q, st, 6, s->exit_code, err)) ||
		       (s->has_hresult && sq_int(q, st, 7, s->hresult, err)) ||
		       bind_time(q, st, 8, s->started_at, err) ||
		       bind_time(q, st, 9, s->finished_at, err) ||
		       sq_text(q, st, 10, s->detail, err);
		if (done(q, st, bind, err, "record a step result") != 0)
			return -1;
	}
	return 0;
}

static void result_from_row(sqlite3_stmt *st, void *record)
{
	struct store_ts_step_result *s = record;
	struct pp_error e;
	char text[32];
	int v;

	memset(s, 0, sizeof(*s));
	pp_error_clear(&e);
	s->position = sqlite3_column_int(st, 1);
	sq_col_text(st, 2, s->name, sizeof(s->name));
	sq_col_text(st, 3, text, sizeof(text));
	(void)ts_step_type_parse(text, &s->type, &e);
	sq_col_text(st, 4, text, sizeof(text));
	v = ts_step_state_parse(text);
	s->state = v >= 0 ? (enum ts_step_state)v : TS_STEP_FAILED;
	s->has_exit_code = sqlite3_column_type(st, 5) != SQLITE_NULL;
	s->exit_code = col_int(st, 5);
	s->has_hresult = sqlite3_column_type(st, 6) != SQLITE_NULL;
	s->hresult = (uint32_t)col_int(st, 6);
	s->started_at = col_int(st, 7);
	s->finished_at = col_int(st, 8);
	sq_col_text(st, 9, s->detail, sizeof(s->detail));
}

/* A step result with the run it belongs to, as the join reads them. */
struct owned_result {
	char run_id[TS_RUN_ID_LEN + 1];
	struct store_ts_step_result r;
};

static void owned_from_row(sqlite3_stmt *st, void *record)
{
	struct owned_result *o = record;

	result_from_row(st, &o->r);
	sq_col_text(st, 0, o->run_id, sizeof(o->run_id));
}

static int sq_run_list(void *impl, const char *ts_id, struct store_ts_run **out, size_t *count,
		       struct pp_error *err)
{
	struct sq *q = impl;
	struct owned_result *steps = NULL;
	size_t nsteps = 0;
	sqlite3_stmt *st =
	    sq_prepare(q,
		       RUN_COLUMNS "WHERE r.ts_id = ? ORDER BY r.started_at DESC, r.received_at "
				   "DESC, r.run_id",
		       err);
	int rc = -1;

	if (st == NULL)
		return -1;
	if (sq_text(q, st, 1, ts_id, err) != 0) {
		sq_release(q, st);
		return -1;
	}
	if (sq_list(q, st, run_from_row, sizeof(**out), (void **)out, count, err,
		    "list the runs") != 0)
		return -1;
	st = sq_prepare(
	    q,
	    "SELECT s.run_id, s.position, s.name, s.type, s.state, s.exit_code, "
	    "s.hresult, ifnull(s.started_at, 0), ifnull(s.finished_at, 0), s.detail "
	    "FROM ts_run_steps s JOIN ts_runs r ON r.run_id = s.run_id WHERE r.ts_id = ? "
	    "ORDER BY s.run_id, s.position",
	    err);
	if (st == NULL)
		goto out;
	if (sq_text(q, st, 1, ts_id, err) != 0) {
		sq_release(q, st);
		goto out;
	}
	if (sq_list(q, st, owned_from_row, sizeof(*steps), (void **)&steps, &nsteps, err,
		    "list the step results") != 0)
		goto out;
	for (size_t i = 0; i < *count; i++) {
		struct store_ts_run *run = &(*out)[i];
		size_t n = 0, k;

		for (k = 0; k < nsteps; k++)
			if (strcmp(steps[k].run_id, run->run_id) == 0)
				n++;
		if (n == 0)
			continue;
		run->steps = calloc(n, sizeof(*run->steps));
		if (run->steps == NULL) {
			pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
			goto out;
		}
		for (k = 0; k < nsteps; k++)
			if (strcmp(steps[k].run_id, run->run_id) == 0)
				run->steps[run->step_count++] = steps[k].r;
	}
	rc = 0;
out:
	free(steps);
	if (rc != 0) {
		store_ts_runs_free(*out, *count);
		*out = NULL;
		*count = 0;
	}
	return rc;
}

const struct store_ts_ops sq_ts_ops = {
    .id_last = sq_id_last,
    .id_claim = sq_id_claim,
    .package_get = sq_package_get,
    .package_list = sq_package_list,
    .package_files = sq_package_files,
    .package_put = sq_package_put,
    .package_files_replace = sq_package_files_replace,
    .package_delete = sq_package_delete,
    .package_user = sq_package_user,
    .package_sha1_used = sq_package_sha1_used,
    .ts_get = sq_ts_get,
    .ts_list = sq_ts_list,
    .ts_steps = sq_ts_steps,
    .ts_put = sq_ts_put,
    .ts_steps_replace = sq_ts_steps_replace,
    .ts_delete = sq_ts_delete,
    .dep_insert = sq_dep_insert,
    .dep_delete = sq_dep_delete,
    .dep_list = sq_dep_list,
    .dep_for_device = sq_dep_for_device,
    .run_get = sq_run_get,
    .run_put = sq_run_put,
    .run_list = sq_run_list,
};
