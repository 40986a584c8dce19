/* store_ts.c - the domain rules of packages, task sequences, their deployments and runs (store.h
 * "packages and task sequences"): every field checked with tasksequence.h before a backend sees
 * it, every write one transaction. */
#include "store.h"
#include "store_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A well-formed package id that names no package: step checks run on it before the real
 * package is looked up in the transaction. */
#define STAND_IN_PACKAGE_ID "PKG00000"

#define ID_FIRST 0x10 /* as collections: lower numbers are ConfigMgr's own */

static const struct store_ts_ops *ops(struct store *s)
{
	return s->ops->ts;
}

static int no_backend(struct store *s, struct pp_error *err)
{
	if (s->ops->ts != NULL)
		return 0;
	pp_error_set(err, HR_ERROR_NOT_SUPPORTED,
		     "this site database has no packages or task sequences");
	return -1;
}

/* The next id of the shared sequence, claimed. */
static int next_id(struct store *s, char out[TS_ID_LEN + 1], struct pp_error *err)
{
	struct store_site top;
	char last[TS_ID_LEN + 1] = "";
	unsigned long n = ID_FIRST;
	bool found = false;

	if (s->ops->site_top(s->impl, &top, &found, err) != 0)
		return -1;
	if (!found) {
		pp_error_set(err, HR_E_INVALIDARG, "there is no site to make a package in");
		return -1;
	}
	if (ops(s)->id_last(s->impl, top.code, last, err) != 0)
		return -1;
	if (last[0] != '\0') {
		unsigned long v = strtoul(last + STORE_SITE_CODE_LEN, NULL, 16);

		if (v >= 0xFFFFF) {
			pp_error_set(err, HR_ERROR_DISK_FULL, "no package id is left");
			return -1;
		}
		if (v + 1 > n)
			n = v + 1;
	}
	(void)snprintf(out, TS_ID_LEN + 1, "%s%05lX", top.code, n);
	return ops(s)->id_claim(s->impl, out, err);
}

/* ---- packages ---- */

static int files_check(const struct store_package_file *files, size_t count, struct pp_error *err)
{
	if (count == 0 || count > TS_PACKAGE_FILES_MAX) {
		pp_error_set(err, HR_E_INVALIDARG, "a package holds 1 to %d files, not %zu",
			     TS_PACKAGE_FILES_MAX, count);
		return -1;
	}
	for (size_t i = 0; i < count; i++) {
		const struct store_package_file *f = &files[i];

		if (ts_package_path_check(f->path, err) != 0) {
			err->code = HR_E_INVALIDARG;
			return -1;
		}
		if (strlen(f->sha1) != 40 || strspn(f->sha1, "0123456789ABCDEF") != 40 ||
		    strlen(f->sha256) != 64 || strspn(f->sha256, "0123456789abcdef") != 64) {
			pp_error_set(err, HR_E_INVALIDARG, "file %s has no valid digests", f->path);
			return -1;
		}
		for (size_t k = 0; k < i; k++)
			if (strcmp(files[k].path, f->path) == 0) {
				pp_error_set(err, HR_E_INVALIDARG,
					     "the package lists file %s twice", f->path);
				return -1;
			}
	}
	return 0;
}

static int package_find(struct store *s, const char *id_or_name, struct store_package *out,
			struct pp_error *err)
{
	bool found = false;

	if (ops(s)->package_get(s->impl, id_or_name, out, &found, err) != 0)
		return -1;
	if (!found) {
		pp_error_set(err, HR_CRYPT_E_NOT_FOUND, "package \"%s\" does not exist",
			     id_or_name);
		return -1;
	}
	return 0;
}

/* A name no other package (packages), or no other task sequence, has. self: the id that may
 * keep it (a rename to itself). */
static int name_free(struct store *s, bool package, const char *name, const char *self,
		     struct pp_error *err)
{
	struct store_package p;
	struct store_task_sequence t;
	bool found = false;

	if (package) {
		if (ops(s)->package_get(s->impl, name, &p, &found, err) != 0)
			return -1;
		if (found && (self == NULL || strcmp(p.id, self) != 0)) {
			pp_error_set(err, HR_ERROR_ALREADY_EXISTS,
				     "package \"%s\" already exists (%s)", p.name, p.id);
			return -1;
		}
		return 0;
	}
	if (ops(s)->ts_get(s->impl, name, &t, &found, err) != 0)
		return -1;
	if (found && (self == NULL || strcmp(t.id, self) != 0)) {
		pp_error_set(err, HR_ERROR_ALREADY_EXISTS,
			     "task sequence \"%s\" already exists (%s)", t.name, t.id);
		return -1;
	}
	return 0;
}

struct package_ctx {
	const char *id_or_name, *name, *version;
	const struct store_package_file *files;
	size_t count;
	struct store_package *out;
};

static int package_create_tx(struct store *s, void *p, struct pp_error *err)
{
	struct package_ctx *c = p;
	struct store_package pkg;

	memset(&pkg, 0, sizeof(pkg));
	if (name_free(s, true, c->name, NULL, err) != 0 || next_id(s, pkg.id, err) != 0)
		return -1;
	(void)snprintf(pkg.name, sizeof(pkg.name), "%s", c->name);
	(void)snprintf(pkg.version, sizeof(pkg.version), "%s", c->version);
	pkg.source_version = 1;
	pkg.created_at = pkg.updated_at = store_now();
	if (ops(s)->package_put(s->impl, &pkg, true, err) != 0 ||
	    ops(s)->package_files_replace(s->impl, pkg.id, c->files, c->count, err) != 0)
		return -1;
	return c->out != NULL ? package_find(s, pkg.id, c->out, err) : 0;
}

int store_package_create(struct store *s, const char *name, const char *version,
			 const struct store_package_file *files, size_t count,
			 struct store_package *out, struct pp_error *err)
{
	struct package_ctx c = {NULL, name, version, files, count, out};

	if (no_backend(s, err) != 0 || ts_name_check(name, "package name", err) != 0 ||
	    ts_version_check(version, err) != 0 || files_check(files, count, err) != 0)
		return -1;
	return store_transaction(s, package_create_tx, &c, err);
}

/* Whether two file lists are the same set (same paths with the same bytes). */
static bool files_equal(const struct store_package_file *a, size_t na,
			const struct store_package_file *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++) {
		size_t k;

		for (k = 0; k < nb; k++)
			if (strcmp(a[i].path, b[k].path) == 0)
				break;
		if (k == nb || strcmp(a[i].sha256, b[k].sha256) != 0 || a[i].size != b[k].size)
			return false;
	}
	return true;
}

static int package_update_tx(struct store *s, void *p, struct pp_error *err)
{
	struct package_ctx *c = p;
	struct store_package pkg;
	struct store_package_file *old = NULL;
	size_t nold = 0;
	bool changed = false;
	int rc = -1;

	if (package_find(s, c->id_or_name, &pkg, err) != 0)
		return -1;
	if (c->name != NULL && strcmp(c->name, pkg.name) != 0) {
		if (name_free(s, true, c->name, pkg.id, err) != 0)
			return -1;
		(void)snprintf(pkg.name, sizeof(pkg.name), "%s", c->name);
		changed = true;
	}
	if (c->version != NULL && strcmp(c->version, pkg.version) != 0) {
		(void)snprintf(pkg.version, sizeof(pkg.version), "%s", c->version);
		changed = true;
	}
	if (c->files != NULL) {
		if (ops(s)->package_files(s->impl, pkg.id, &old, &nold, err) != 0)
			goto out;
		if (!files_equal(old, nold, c->files, c->count)) {
			if (ops(s)->package_files_replace(s->impl, pkg.id, c->files, c->count,
							  err) != 0)
				goto out;
			pkg.source_version++;
			changed = true;
		}
	}
	if (changed) {
		pkg.updated_at = store_now();
		if (ops(s)->package_put(s->impl, &pkg, false, err) != 0)
			goto out;
	}
	rc = c->out != NULL ? package_find(s, pkg.id, c->out, err) : 0;
out:
	free(old);
	return rc;
}

int store_package_update(struct store *s, const char *id_or_name, const char *new_name,
			 const char *version, const struct store_package_file *files, size_t count,
			 struct store_package *out, struct pp_error *err)
{
	struct package_ctx c = {id_or_name, new_name, version, files, count, out};

	if (no_backend(s, err) != 0 ||
	    (new_name != NULL && ts_name_check(new_name, "package name", err) != 0) ||
	    (version != NULL && ts_version_check(version, err) != 0) ||
	    (files != NULL && files_check(files, count, err) != 0))
		return -1;
	return store_transaction(s, package_update_tx, &c, err);
}

int store_package_get(struct store *s, const char *id_or_name, struct store_package *out,
		      struct pp_error *err)
{
	if (no_backend(s, err) != 0)
		return -1;
	return package_find(s, id_or_name, out, err);
}

int store_package_list(struct store *s, struct store_package **out, size_t *count,
		       struct pp_error *err)
{
	*out = NULL;
	*count = 0;
	if (no_backend(s, err) != 0)
		return -1;
	return ops(s)->package_list(s->impl, out, count, err);
}

int store_package_files(struct store *s, const char *id, struct store_package_file **out,
			size_t *count, struct pp_error *err)
{
	*out = NULL;
	*count = 0;
	if (no_backend(s, err) != 0)
		return -1;
	return ops(s)->package_files(s->impl, id, out, count, err);
}

static int package_delete_tx(struct store *s, void *p, struct pp_error *err)
{
	struct store_package pkg;
	char user[STORE_NAME_MAX + 64];

	if (package_find(s, p, &pkg, err) != 0 ||
	    ops(s)->package_user(s->impl, pkg.id, user, sizeof(user), err) != 0)
		return -1;
	if (user[0] != '\0') {
		pp_error_set(err, HR_E_INVALIDARG,
			     "package \"%s\" is used by %s; remove that step first", pkg.name,
			     user);
		return -1;
	}
	return ops(s)->package_delete(s->impl, pkg.id, err);
}

int store_package_delete(struct store *s, const char *id_or_name, struct pp_error *err)
{
	if (no_backend(s, err) != 0)
		return -1;
	return store_transaction(s, package_delete_tx, (void *)id_or_name, err);
}

int store_package_content_referenced(struct store *s, const char *sha1, bool *referenced,
				     struct pp_error *err)
{
	*referenced = false;
	if (s->ops->ts == NULL)
		return 0;
	return ops(s)->package_sha1_used(s->impl, sha1, referenced, err);
}

/* ---- task sequences ---- */

static int ts_find(struct store *s, const char *id_or_name, struct store_task_sequence *out,
		   struct pp_error *err)
{
	bool found = false;

	if (ops(s)->ts_get(s->impl, id_or_name, out, &found, err) != 0)
		return -1;
	if (!found) {
		pp_error_set(err, HR_CRYPT_E_NOT_FOUND, "task sequence \"%s\" does not exist",
			     id_or_name);
		return -1;
	}
	return 0;
}

struct ts_ctx {
	const char *id_or_name, *name;
	struct store_task_sequence *out;
};

static int ts_create_tx(struct store *s, void *p, struct pp_error *err)
{
	struct ts_ctx *c = p;
	struct store_task_sequence t;

	memset(&t, 0, sizeof(t));
	if (name_free(s, false, c->name, NULL, err) != 0 || next_id(s, t.id, err) != 0)
		return -1;
	(void)snprintf(t.name, sizeof(t.name), "%s", c->name);
	t.revision = 1;
	t.created_at = t.updated_at = store_now();
	if (ops(s)->ts_put(s->impl, &t, true, err) != 0)
		return -1;
	return c->out != NULL ? ts_find(s, t.id, c->out, err) : 0;
}

int store_ts_create(struct store *s, const char *name, struct store_task_sequence *out,
		    struct pp_error *err)
{
	struct ts_ctx c = {NULL, name, out};

	if (no_backend(s, err) != 0 || ts_name_check(name, "task sequence name", err) != 0)
		return -1;
	return store_transaction(s, ts_create_tx, &c, err);
}

int store_ts_get(struct store *s, const char *id_or_name, struct store_task_sequence *out,
		 struct pp_error *err)
{
	if (no_backend(s, err) != 0)
		return -1;
	return ts_find(s, id_or_name, out, err);
}

int store_ts_list(struct store *s, struct store_task_sequence **out, size_t *count,
		  struct pp_error *err)
{
	*out = NULL;
	*count = 0;
	if (no_backend(s, err) != 0)
		return -1;
	return ops(s)->ts_list(s->impl, out, count, err);
}

int store_ts_steps(struct store *s, const char *id, struct store_ts_step **out, size_t *count,
		   struct pp_error *err)
{
	*out = NULL;
	*count = 0;
	if (no_backend(s, err) != 0)
		return -1;
	return ops(s)->ts_steps(s->impl, id, out, count, err);
}

struct step_ctx {
	const char *id_or_name;
	const struct ts_step *step;
	const char *package;
	int position; /* in: where (0 end, or the one to remove); out: where it went */
	bool remove;
};

/* Reads the steps, lets the caller change the list, writes it back with the revision up. */
static int step_change_tx(struct store *s, void *p, struct pp_error *err)
{
	struct step_ctx *c = p;
	struct store_task_sequence t;
	struct store_ts_step *steps = NULL, *grown;
	size_t n = 0;
	int rc = -1;

	if (ts_find(s, c->id_or_name, &t, err) != 0 ||
	    ops(s)->ts_steps(s->impl, t.id, &steps, &n, err) != 0)
		return -1;
	if (c->remove) {
		if (c->position < 1 || (size_t)c->position > n) {
			pp_error_set(err, HR_CRYPT_E_NOT_FOUND,
				     "task sequence \"%s\" has no step %d (it has %zu)", t.name,
				     c->position, n);
			goto out;
		}
		memmove(&steps[c->position - 1], &steps[c->position],
			(n - (size_t)c->position) * sizeof(*steps));
		n--;
	} else {
		struct store_ts_step add;

		if (n >= TS_STEPS_MAX) {
			pp_error_set(err, HR_E_INVALIDARG,
				     "task sequence \"%s\" has %d steps already, the most it can",
				     t.name, TS_STEPS_MAX);
			goto out;
		}
		if (c->position < 0 || (size_t)c->position > n + 1) {
			pp_error_set(err, HR_E_INVALIDARG,
				     "step position %d is not 1 to %zu (one past the last step)",
				     c->position, n + 1);
			goto out;
		}
		memset(&add, 0, sizeof(add));
		add.step = *c->step;
		if (c->package != NULL && c->package[0] != '\0') {
			struct store_package pkg;

			if (package_find(s, c->package, &pkg, err) != 0)
				goto out;
			memcpy(add.step.package_id, pkg.id, sizeof(pkg.id));
			memcpy(add.package_name, pkg.name, sizeof(pkg.name));
		}
		if (ts_step_check(&add.step, err) != 0)
			goto out;
		grown = realloc(steps, (n + 1) * sizeof(*steps));
		if (grown == NULL) {
			pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
			goto out;
		}
		steps = grown;
		if (c->position == 0)
			c->position = (int)n + 1;
		memmove(&steps[c->position], &steps[c->position - 1],
			(n - (size_t)(c->position - 1)) * sizeof(*steps));
		steps[c->position - 1] = add;
		n++;
	}
	for (size_t i = 0; i < n; i++)
		steps[i].position = (int)i + 1;
	t.revision++;
	t.updated_at = store_now();
	if (ops(s)->ts_steps_replace(s->impl, t.id, steps, n, err) != 0 ||
	    ops(s)->ts_put(s->impl, &t, false, err) != 0)
		goto out;
	rc = 0;
out:
	free(steps);
	return rc;
}

int store_ts_add_step(struct store *s, const char *id_or_name, const struct ts_step *step,
		      const char *package, int *position, struct pp_error *err)
{
	struct step_ctx c = {id_or_name, step, package, *position, false};
	struct ts_step probe;

	if (no_backend(s, err) != 0)
		return -1;
	if (package != NULL && package[0] != '\0' && step->type != TS_STEP_RUN_COMMAND_LINE) {
		pp_error_set(err, HR_E_INVALIDARG, "a %s step takes no package",
			     ts_step_type_label(step->type));
		return -1;
	}
	/* The package is resolved in the transaction; the rest is checked now, with a stand-in
	 * id, so that a bad field is named before any lookup. */
	probe = *step;
	if (package != NULL && package[0] != '\0')
		(void)snprintf(probe.package_id, sizeof(probe.package_id), "%s",
			       STAND_IN_PACKAGE_ID);
	if (ts_step_check(&probe, err) != 0)
		return -1;
	if (store_transaction(s, step_change_tx, &c, err) != 0)
		return -1;
	*position = c.position;
	return 0;
}

int store_ts_remove_step(struct store *s, const char *id_or_name, int position,
			 struct pp_error *err)
{
	struct step_ctx c = {id_or_name, NULL, NULL, position, true};

	if (no_backend(s, err) != 0)
		return -1;
	return store_transaction(s, step_change_tx, &c, err);
}

static int ts_delete_tx(struct store *s, void *p, struct pp_error *err)
{
	struct store_task_sequence t;
	struct store_ts_deployment *deps = NULL;
	size_t n = 0;
	int rc = -1;

	if (ts_find(s, p, &t, err) != 0 || ops(s)->dep_list(s->impl, t.id, &deps, &n, err) != 0)
		return -1;
	if (n > 0) {
		pp_error_set(err, HR_E_INVALIDARG,
			     "task sequence \"%s\" is deployed to collection \"%s\"; undeploy it "
			     "first",
			     t.name, deps[0].collection_name);
		goto out;
	}
	rc = ops(s)->ts_delete(s->impl, t.id, err);
out:
	free(deps);
	return rc;
}

int store_ts_delete(struct store *s, const char *id_or_name, struct pp_error *err)
{
	if (no_backend(s, err) != 0)
		return -1;
	return store_transaction(s, ts_delete_tx, (void *)id_or_name, err);
}

struct deploy_ctx {
	const char *id_or_name, *collection;
	int64_t available_at;
	struct store_ts_deployment *out;
};

static int deploy_tx(struct store *s, void *p, struct pp_error *err)
{
	struct deploy_ctx *c = p;
	struct store_task_sequence t;
	struct store_collection coll;
	struct store_ts_deployment d;
	struct store_ts_deployment *deps = NULL;
	size_t n = 0;
	int rc = -1;

	if (ts_find(s, c->id_or_name, &t, err) != 0 ||
	    store_collection_get(s, c->collection, &coll, err) != 0)
		return -1;
	if (t.step_count == 0) {
		pp_error_set(err, HR_E_INVALIDARG,
			     "task sequence \"%s\" has no steps; add one before deploying it",
			     t.name);
		return -1;
	}
	if (ops(s)->dep_list(s->impl, t.id, &deps, &n, err) != 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (strcmp(deps[i].collection_id, coll.id) == 0) {
			pp_error_set(
			    err, HR_ERROR_ALREADY_EXISTS,
			    "task sequence \"%s\" is already deployed to collection \"%s\"", t.name,
			    coll.name);
			goto out;
		}
	memset(&d, 0, sizeof(d));
	memcpy(d.ts_id, t.id, sizeof(d.ts_id));
	memcpy(d.ts_name, t.name, sizeof(d.ts_name));
	memcpy(d.collection_id, coll.id, sizeof(d.collection_id));
	memcpy(d.collection_name, coll.name, sizeof(d.collection_name));
	d.available_at = c->available_at;
	d.created_at = store_now();
	if (ops(s)->dep_insert(s->impl, &d, err) != 0)
		goto out;
	if (c->out != NULL)
		*c->out = d;
	rc = 0;
out:
	free(deps);
	return rc;
}

int store_ts_deploy(struct store *s, const char *id_or_name, const char *collection,
		    int64_t available_at, struct store_ts_deployment *out, struct pp_error *err)
{
	struct deploy_ctx c = {id_or_name, collection, available_at, out};

	if (no_backend(s, err) != 0)
		return -1;
	if (available_at < 0) {
		pp_error_set(err, HR_E_INVALIDARG, "the available time must not be negative");
		return -1;
	}
	return store_transaction(s, deploy_tx, &c, err);
}

static int undeploy_tx(struct store *s, void *p, struct pp_error *err)
{
	struct deploy_ctx *c = p;
	struct store_task_sequence t;
	struct store_collection coll;
	bool found = false;

	if (ts_find(s, c->id_or_name, &t, err) != 0 ||
	    store_collection_get(s, c->collection, &coll, err) != 0 ||
	    ops(s)->dep_delete(s->impl, t.id, coll.id, &found, err) != 0)
		return -1;
	if (!found) {
		pp_error_set(err, HR_CRYPT_E_NOT_FOUND,
			     "task sequence \"%s\" is not deployed to collection \"%s\"", t.name,
			     coll.name);
		return -1;
	}
	return 0;
}

int store_ts_undeploy(struct store *s, const char *id_or_name, const char *collection,
		      struct pp_error *err)
{
	struct deploy_ctx c = {id_or_name, collection, 0, NULL};

	if (no_backend(s, err) != 0)
		return -1;
	return store_transaction(s, undeploy_tx, &c, err);
}

int store_ts_deployments(struct store *s, const char *id, struct store_ts_deployment **out,
			 size_t *count, struct pp_error *err)
{
	*out = NULL;
	*count = 0;
	if (no_backend(s, err) != 0)
		return -1;
	return ops(s)->dep_list(s->impl, id, out, count, err);
}

int store_ts_deployments_for_device(struct store *s, const char *device_id,
				    struct store_ts_deployment **out, size_t *count,
				    struct pp_error *err)
{
	*out = NULL;
	*count = 0;
	if (no_backend(s, err) != 0)
		return -1;
	return ops(s)->dep_for_device(s->impl, device_id, out, count, err);
}

/* ---- runs ---- */

static int run_check(const struct store_ts_run *r, struct pp_error *err)
{
	const char *bad = NULL;

	if (!ts_run_id_valid(r->run_id))
		bad = "run_id (a lower-case UUID)";
	else if (!ts_id_valid(r->ts_id))
		bad = "task_sequence_id";
	else if (r->deployment_id < 1)
		bad = "deployment_id";
	else if (r->revision < 1)
		bad = "revision";
	else if (r->seq < 1)
		bad = "seq";
	else if ((unsigned)r->state >= TS_RUN_STATE_COUNT)
		bad = "state";
	else if (r->started_at < 0 || r->finished_at < 0)
		bad = "started_at or finished_at";
	else if (r->step_count < 1 || r->step_count > TS_STEPS_MAX || r->steps == NULL)
		bad = "steps (1 to 100)";
	for (size_t i = 0; bad == NULL && i < r->step_count; i++) {
		const struct store_ts_step_result *st = &r->steps[i];
		struct pp_error e;

		pp_error_clear(&e);
		if (st->position != (int)i + 1 || (unsigned)st->type >= TS_STEP_TYPE_COUNT ||
		    (unsigned)st->state >= TS_STEP_STATE_COUNT ||
		    ts_name_check(st->name, "step name", &e) != 0 || st->started_at < 0 ||
		    st->finished_at < 0)
			bad = "steps (positions 1..n with a name, type and state)";
	}
	if (bad != NULL) {
		pp_error_set(err, HR_E_INVALIDARG, "the run report has a bad or missing %s", bad);
		return -1;
	}
	return 0;
}

struct report_ctx {
	const char *device_id;
	const struct store_ts_run *run;
	enum store_ts_report_outcome *outcome;
};

static int report_tx(struct store *s, void *p, struct pp_error *err)
{
	struct report_ctx *c = p;
	struct store_task_sequence t;
	struct store_ts_run stored, r = *c->run;
	bool found = false;

	if (ops(s)->ts_get(s->impl, r.ts_id, &t, &found, err) != 0)
		return -1;
	if (!found || strcmp(t.id, r.ts_id) != 0) {
		*c->outcome = STORE_TS_REPORT_IGNORED;
		return 0;
	}
	found = false;
	if (ops(s)->run_get(s->impl, r.run_id, &stored, &found, err) != 0)
		return -1;
	if (found && strcmp(stored.device_id, c->device_id) != 0) {
		pp_error_set(err, HR_E_INVALIDARG, "run %s belongs to another device", r.run_id);
		return -1;
	}
	if (found && stored.seq >= r.seq) {
		*c->outcome = STORE_TS_REPORT_STALE;
		return 0;
	}
	(void)snprintf(r.device_id, sizeof(r.device_id), "%s", c->device_id);
	r.received_at = store_now();
	if (ops(s)->run_put(s->impl, &r, err) != 0)
		return -1;
	*c->outcome = STORE_TS_REPORT_ACCEPTED;
	return 0;
}

int store_ts_run_report(struct store *s, const char *device_id, const struct store_ts_run *run,
			enum store_ts_report_outcome *outcome, struct pp_error *err)
{
	struct report_ctx c = {device_id, run, outcome};

	if (no_backend(s, err) != 0 || run_check(run, err) != 0)
		return -1;
	return store_transaction(s, report_tx, &c, err);
}

int store_ts_runs(struct store *s, const char *id, struct store_ts_run **out, size_t *count,
		  struct pp_error *err)
{
	*out = NULL;
	*count = 0;
	if (no_backend(s, err) != 0)
		return -1;
	return ops(s)->run_list(s->impl, id, out, count, err);
}

void store_ts_runs_free(struct store_ts_run *runs, size_t count)
{
	for (size_t i = 0; runs != NULL && i < count; i++)
		free(runs[i].steps);
	free(runs);
}
