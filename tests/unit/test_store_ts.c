/* test_store_ts.c - packages, task sequences, their deployments and runs in the site database
 * (src/server/store_ts.c, store_sqlite_ts.c, migration 0007): ids from one sequence, names,
 * files and source versions, steps added and removed (positions, revisions, packages by name),
 * the refusals that change nothing (a package in use, a deployed task sequence, a collection a
 * task sequence is deployed to, an empty one deployed), deployments per device, run reports
 * (new, later, stale, another device's, a deleted task sequence's) and the sweep's view of
 * package files. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "store.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY	  "0123456789abcdef0123456789abcdef"
#define CRED_A	  "c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1"
#define CRED_B	  "c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2"
#define MACHINE_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define MACHINE_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define SHA1_X	  "1111111111111111111111111111111111111111"
#define SHA1_Y	  "2222222222222222222222222222222222222222"
#define SHA256_X  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define SHA256_Y  "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define RUN_1	  "0f8fad5b-d9cb-469f-a165-70867728950e"

struct fx {
	char *dir, *db;
	struct store *s;
	struct store_device a, b;
};

#define OK(call)                                                                                   \
	do {                                                                                       \
		struct pp_error e_;                                                                \
		pp_error_clear(&e_);                                                               \
		if ((call) != 0)                                                                   \
			fail_msg("%s: %s", #call, e_.message);                                     \
	} while (0)

static void device(struct store_device *d, const char *machine, const char *name)
{
	memset(d, 0, sizeof(*d));
	(void)snprintf(d->machine_id, sizeof(d->machine_id), "%s", machine);
	(void)snprintf(d->name, sizeof(d->name), "%s", name);
	(void)snprintf(d->client_version, sizeof(d->client_version), "5.00.9128.1000");
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct store_enrollment_key k;
	struct store_collection c;
	struct store_collection_rule rule;
	struct pp_error err;
	bool is_new;

	assert_non_null(f);
	pp_error_clear(&err);
	f->dir = tu_tmpdir();
	f->db = tu_path(f->dir, "site.db");
	f->s = store_open_sqlite(f->db, &err);
	if (f->s == NULL)
		fail_msg("open: %s", err.message);
	assert_int_equal(store_site_add(f->s, "PP1", "Primary", NULL, &err), 0);
	assert_int_equal(store_enrollment_key_add(f->s, "lab", KEY, 0, &k, &err), 0);
	device(&f->a, MACHINE_A, "desk-a");
	device(&f->b, MACHINE_B, "desk-b");
	assert_int_equal(store_device_register(f->s, KEY, CRED_A, &f->a, &is_new, &err), 0);
	assert_int_equal(store_device_register(f->s, KEY, CRED_B, &f->b, &is_new, &err), 0);
	memset(&rule, 0, sizeof(rule));
	rule.rule.kind = MEMBERSHIP_DIRECT;
	(void)snprintf(rule.rule.value, sizeof(rule.rule.value), "desk-a");
	if (store_collection_create(f->s, "Lab A", &rule, 1, &c, &err) != 0)
		fail_msg("collection: %s", err.message);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	store_close(f->s);
	tu_rmrf(f->dir);
	free(f->dir);
	free(f->db);
	free(f);
	return 0;
}

static void file(struct store_package_file *fl, const char *path, const char *sha1,
		 const char *sha256, uint64_t size)
{
	memset(fl, 0, sizeof(*fl));
	(void)snprintf(fl->path, sizeof(fl->path), "%s", path);
	(void)snprintf(fl->sha1, sizeof(fl->sha1), "%s", sha1);
	(void)snprintf(fl->sha256, sizeof(fl->sha256), "%s", sha256);
	fl->size = size;
}

static void test_packages(void **state)
{
	struct fx *f = *state;
	struct store_package_file files[2], *got = NULL;
	struct store_package p, q, *list = NULL;
	struct store_task_sequence t;
	struct pp_error err;
	size_t n = 0;
	bool ref = false;

	pp_error_clear(&err);
	file(&files[0], "Import-Certificates.sh", SHA1_X, SHA256_X, 10);
	file(&files[1], "certs/WSUSSigningCertificate.cer", SHA1_Y, SHA256_Y, 900);
	assert_int_equal(store_package_create(f->s, "Certs", "1.0", files, 2, &p, &err), 0);
	assert_string_equal(p.id, "PP100010");
	assert_int_equal(p.source_version, 1);
	assert_int_equal(p.file_count, 2);
	assert_int_equal(p.total_size, 910);
	/* One sequence for packages and task sequences. */
	assert_int_equal(store_ts_create(f->s, "Trust", &t, &err), 0);
	assert_string_equal(t.id, "PP100011");
	assert_int_equal(store_package_create(f->s, "certs", "2", files, 1, &q, &err), -1);
	assert_int_equal(err.code, HR_ERROR_ALREADY_EXISTS);
	assert_string_equal(err.message, "package \"Certs\" already exists (PP100010)");
	pp_error_clear(&err);
	/* A package and a task sequence may share a name. */
	assert_int_equal(store_package_create(f->s, "Trust", "1", files, 1, &q, &err), 0);
	assert_string_equal(q.id, "PP100012");
	file(&files[1], "Import-Certificates.sh", SHA1_Y, SHA256_Y, 900);
	assert_int_equal(store_package_create(f->s, "Twice", "1", files, 2, &q, &err), -1);
	assert_string_equal(err.message, "the package lists file Import-Certificates.sh twice");
	pp_error_clear(&err);
	file(&files[1], "../escape", SHA1_Y, SHA256_Y, 900);
	assert_int_equal(store_package_create(f->s, "Bad", "1", files, 2, &q, &err), -1);
	assert_int_equal(err.code, HR_E_INVALIDARG);
	pp_error_clear(&err);
	assert_int_equal(store_package_create(f->s, "None", "1", files, 0, &q, &err), -1);
	assert_string_equal(err.message, "a package holds 1 to 256 files, not 0");
	pp_error_clear(&err);
	assert_int_equal(store_package_create(f->s, "Bad version", "1 0", files, 1, &q, &err), -1);
	pp_error_clear(&err);

	/* The same files again: no new source version; other files: one more. */
	file(&files[1], "certs/WSUSSigningCertificate.cer", SHA1_Y, SHA256_Y, 900);
	assert_int_equal(store_package_update(f->s, "certs", NULL, NULL, files, 2, &q, &err), 0);
	assert_int_equal(q.source_version, 1);
	assert_int_equal(store_package_update(f->s, "PP100010", NULL, "1.1", files, 1, &q, &err),
			 0);
	assert_int_equal(q.source_version, 2);
	assert_string_equal(q.version, "1.1");
	assert_int_equal(q.file_count, 1);
	assert_int_equal(
	    store_package_update(f->s, "Certs", "Certificates", NULL, NULL, 0, &q, &err), 0);
	assert_string_equal(q.name, "Certificates");
	assert_int_equal(
	    store_package_update(f->s, "Certificates", "trust", NULL, NULL, 0, &q, &err), -1);
	assert_int_equal(err.code, HR_ERROR_ALREADY_EXISTS);
	pp_error_clear(&err);
	assert_int_equal(store_package_update(f->s, "Nope", NULL, "2", NULL, 0, &q, &err), -1);
	assert_int_equal(err.code, HR_CRYPT_E_NOT_FOUND);
	assert_string_equal(err.message, "package \"Nope\" does not exist");
	pp_error_clear(&err);

	assert_int_equal(store_package_files(f->s, "PP100010", &got, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(got[0].path, "Import-Certificates.sh");
	free(got);
	assert_int_equal(store_package_list(f->s, &list, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_string_equal(list[0].name, "Certificates");
	free(list);

	assert_int_equal(store_package_content_referenced(f->s, SHA1_X, &ref, &err), 0);
	assert_true(ref);
	assert_int_equal(store_content_referenced(f->s, SHA1_X, &ref, &err), 0);
	assert_true(ref); /* the start-up sweep keeps it */
	assert_int_equal(store_package_delete(f->s, "Trust", &err), 0);
	assert_int_equal(store_content_referenced(f->s, SHA1_Y, &ref, &err), 0);
	assert_false(ref);
	assert_int_equal(store_package_get(f->s, "PP100012", &q, &err), -1);
}

static void add(struct fx *f, const char *ts, enum ts_step_type type, const char *package,
		int *position)
{
	struct ts_step s;
	struct pp_error err;

	memset(&s, 0, sizeof(s));
	pp_error_clear(&err);
	s.type = type;
	(void)snprintf(s.name, sizeof(s.name), "%s", ts_step_type_label(type));
	if (type == TS_STEP_RUN_COMMAND_LINE) {
		(void)snprintf(s.command_line, sizeof(s.command_line), "run.sh");
		s.timeout = 60;
	}
	if (type == TS_STEP_SET_POLICY) {
		(void)snprintf(s.policy_name, sizeof(s.policy_name), "AcceptTrustedPublisherCerts");
		s.policy_value = 1;
	}
	if (store_ts_add_step(f->s, ts, &s, package, position, &err) != 0)
		fail_msg("add step: %s", err.message);
}

static void test_steps_and_deployments(void **state)
{
	struct fx *f = *state;
	struct store_package_file fl;
	struct store_package p;
	struct store_task_sequence t;
	struct store_ts_step *steps = NULL;
	struct store_ts_deployment d, *deps = NULL;
	struct ts_step s;
	struct pp_error err;
	size_t n = 0;
	int pos;

	pp_error_clear(&err);
	file(&fl, "run.sh", SHA1_X, SHA256_X, 10);
	OK(store_package_create(f->s, "Scripts", "1", &fl, 1, &p, &e_));
	OK(store_ts_create(f->s, "Trust", &t, &e_));
	assert_int_equal(store_ts_deploy(f->s, "Trust", "All Systems", 0, &d, &err), -1);
	assert_string_equal(err.message,
			    "task sequence \"Trust\" has no steps; add one before deploying it");
	pp_error_clear(&err);
	pos = 0;
	add(f, "trust", TS_STEP_INSTALL_SOFTWARE_UPDATES, NULL, &pos);
	assert_int_equal(pos, 1);
	pos = 0;
	add(f, "Trust", TS_STEP_RESTART, NULL, &pos);
	pos = 1;
	add(f, t.id, TS_STEP_RUN_COMMAND_LINE, "scripts", &pos);
	assert_int_equal(pos, 1);
	pos = 0;
	add(f, "Trust", TS_STEP_SET_POLICY, NULL, &pos);
	assert_int_equal(pos, 4);
	OK(store_ts_get(f->s, "Trust", &t, &e_));
	assert_int_equal(t.revision, 5);
	assert_int_equal(t.step_count, 4);
	OK(store_ts_steps(f->s, t.id, &steps, &n, &e_));
	assert_int_equal(n, 4);
	assert_int_equal(steps[0].step.type, TS_STEP_RUN_COMMAND_LINE);
	assert_string_equal(steps[0].step.package_id, p.id);
	assert_string_equal(steps[0].package_name, "Scripts");
	assert_int_equal(steps[0].step.timeout, 60);
	assert_int_equal(steps[1].step.type, TS_STEP_INSTALL_SOFTWARE_UPDATES);
	assert_int_equal(steps[3].step.policy_value, 1);
	free(steps);

	/* Refusals change nothing. */
	memset(&s, 0, sizeof(s));
	s.type = TS_STEP_RESTART;
	(void)snprintf(s.name, sizeof(s.name), "Restart");
	pos = 0;
	assert_int_equal(store_ts_add_step(f->s, "Trust", &s, "Scripts", &pos, &err), -1);
	assert_string_equal(err.message, "a Restart step takes no package");
	pp_error_clear(&err);
	s.type = TS_STEP_RUN_COMMAND_LINE;
	(void)snprintf(s.command_line, sizeof(s.command_line), "x");
	s.timeout = 5;
	assert_int_equal(store_ts_add_step(f->s, "Trust", &s, "Nope", &pos, &err), -1);
	assert_string_equal(err.message, "package \"Nope\" does not exist");
	pp_error_clear(&err);
	pos = 9;
	assert_int_equal(store_ts_add_step(f->s, "Trust", &s, NULL, &pos, &err), -1);
	assert_string_equal(err.message, "step position 9 is not 1 to 5 (one past the last step)");
	pp_error_clear(&err);
	assert_int_equal(store_ts_remove_step(f->s, "Trust", 5, &err), -1);
	assert_string_equal(err.message, "task sequence \"Trust\" has no step 5 (it has 4)");
	pp_error_clear(&err);
	assert_int_equal(store_package_delete(f->s, "Scripts", &err), -1);
	assert_string_equal(err.message, "package \"Scripts\" is used by step 1 of task sequence "
					 "\"Trust\"; remove that step first");
	pp_error_clear(&err);
	OK(store_ts_get(f->s, "Trust", &t, &e_));
	assert_int_equal(t.revision, 5);

	OK(store_ts_remove_step(f->s, "Trust", 1, &e_));
	OK(store_ts_steps(f->s, t.id, &steps, &n, &e_));
	assert_int_equal(n, 3);
	assert_int_equal(steps[0].position, 1);
	assert_int_equal(steps[0].step.type, TS_STEP_INSTALL_SOFTWARE_UPDATES);
	free(steps);
	OK(store_package_delete(f->s, "Scripts", &e_));

	OK(store_ts_deploy(f->s, "Trust", "Lab A", 100, &d, &e_));
	assert_string_equal(d.collection_name, "Lab A");
	assert_int_equal(d.available_at, 100);
	assert_int_equal(store_ts_deploy(f->s, "Trust", "lab a", 0, NULL, &err), -1);
	assert_int_equal(err.code, HR_ERROR_ALREADY_EXISTS);
	pp_error_clear(&err);
	assert_int_equal(store_ts_deploy(f->s, "Trust", "Nowhere", 0, NULL, &err), -1);
	assert_int_equal(err.code, HR_CRYPT_E_NOT_FOUND);
	pp_error_clear(&err);
	OK(store_ts_deployments_for_device(f->s, f->a.id, &deps, &n, &e_));
	assert_int_equal(n, 1);
	free(deps);
	OK(store_ts_deployments_for_device(f->s, f->b.id, &deps, &n, &e_));
	assert_int_equal(n, 0);
	free(deps);
	OK(store_ts_deploy(f->s, "Trust", "All Systems", 0, NULL, &e_));
	OK(store_ts_deployments_for_device(f->s, f->b.id, &deps, &n, &e_));
	assert_int_equal(n, 1);
	assert_string_equal(deps[0].collection_id, STORE_ALL_SYSTEMS);
	free(deps);

	assert_int_equal(store_ts_delete(f->s, "Trust", &err), -1);
	assert_string_equal(err.message,
			    "task sequence \"Trust\" is deployed to collection \"Lab A\"; undeploy "
			    "it first");
	pp_error_clear(&err);
	assert_int_equal(store_collection_delete(f->s, "Lab A", &err), -1);
	assert_non_null(strstr(err.message, "a task sequence is deployed to the collection"));
	pp_error_clear(&err);
	OK(store_ts_undeploy(f->s, "Trust", "Lab A", &e_));
	assert_int_equal(store_ts_undeploy(f->s, "Trust", "Lab A", &err), -1);
	assert_int_equal(err.code, HR_CRYPT_E_NOT_FOUND);
	pp_error_clear(&err);
	OK(store_collection_delete(f->s, "Lab A", &e_));
	OK(store_ts_undeploy(f->s, "Trust", "All Systems", &e_));
	OK(store_ts_delete(f->s, "Trust", &e_));
	assert_int_equal(store_ts_get(f->s, "Trust", &t, &err), -1);
}

static void run_of(struct store_ts_run *r, struct store_ts_step_result *steps, const char *ts,
		   int64_t seq, enum ts_run_state state)
{
	memset(r, 0, sizeof(*r));
	memset(steps, 0, 2 * sizeof(*steps));
	(void)snprintf(r->run_id, sizeof(r->run_id), RUN_1);
	(void)snprintf(r->ts_id, sizeof(r->ts_id), "%s", ts);
	r->deployment_id = 1;
	r->revision = 2;
	r->seq = seq;
	r->state = state;
	r->started_at = 1000;
	r->steps = steps;
	r->step_count = 2;
	for (int i = 0; i < 2; i++) {
		steps[i].position = i + 1;
		(void)snprintf(steps[i].name, sizeof(steps[i].name), "Step %d", i + 1);
		steps[i].type = TS_STEP_RESTART;
		steps[i].state = TS_STEP_PENDING;
	}
}

static void test_runs(void **state)
{
	struct fx *f = *state;
	struct store_task_sequence t;
	struct store_ts_run r, *runs = NULL;
	struct store_ts_step_result steps[2];
	enum store_ts_report_outcome o;
	struct pp_error err;
	size_t n = 0;
	int pos = 0;

	pp_error_clear(&err);
	OK(store_ts_create(f->s, "Trust", &t, &e_));
	add(f, "Trust", TS_STEP_RESTART, NULL, &pos);
	run_of(&r, steps, t.id, 1, TS_RUN_RUNNING);
	steps[0].state = TS_STEP_RUNNING;
	OK(store_ts_run_report(f->s, f->a.id, &r, &o, &e_));
	assert_int_equal(o, STORE_TS_REPORT_ACCEPTED);
	run_of(&r, steps, t.id, 4, TS_RUN_FAILED);
	steps[0].state = TS_STEP_FAILED;
	steps[0].has_hresult = true;
	steps[0].hresult = HR_CERT_E_UNTRUSTEDROOT;
	steps[0].has_exit_code = true;
	steps[0].exit_code = 3;
	(void)snprintf(steps[0].detail, sizeof(steps[0].detail), "why");
	steps[1].state = TS_STEP_SKIPPED;
	r.has_hresult = true;
	r.hresult = HR_CERT_E_UNTRUSTEDROOT;
	r.finished_at = 1010;
	OK(store_ts_run_report(f->s, f->a.id, &r, &o, &e_));
	assert_int_equal(o, STORE_TS_REPORT_ACCEPTED);
	/* An older state arriving late, or the same one again: nothing changes. */
	run_of(&r, steps, t.id, 2, TS_RUN_RUNNING);
	OK(store_ts_run_report(f->s, f->a.id, &r, &o, &e_));
	assert_int_equal(o, STORE_TS_REPORT_STALE);
	run_of(&r, steps, t.id, 4, TS_RUN_SUCCEEDED);
	OK(store_ts_run_report(f->s, f->a.id, &r, &o, &e_));
	assert_int_equal(o, STORE_TS_REPORT_STALE);
	/* Another device cannot write over it. */
	run_of(&r, steps, t.id, 9, TS_RUN_SUCCEEDED);
	assert_int_equal(store_ts_run_report(f->s, f->b.id, &r, &o, &err), -1);
	assert_string_equal(err.message, "run " RUN_1 " belongs to another device");
	pp_error_clear(&err);
	/* Malformed: positions out of order. */
	run_of(&r, steps, t.id, 9, TS_RUN_SUCCEEDED);
	steps[1].position = 7;
	assert_int_equal(store_ts_run_report(f->s, f->a.id, &r, &o, &err), -1);
	assert_int_equal(err.code, HR_E_INVALIDARG);
	pp_error_clear(&err);

	OK(store_ts_runs(f->s, t.id, &runs, &n, &e_));
	assert_int_equal(n, 1);
	assert_string_equal(runs[0].device_name, "desk-a");
	assert_int_equal(runs[0].state, TS_RUN_FAILED);
	assert_int_equal(runs[0].seq, 4);
	assert_int_equal(runs[0].hresult, HR_CERT_E_UNTRUSTEDROOT);
	assert_int_equal(runs[0].finished_at, 1010);
	assert_int_equal(runs[0].step_count, 2);
	assert_int_equal(runs[0].steps[0].state, TS_STEP_FAILED);
	assert_int_equal(runs[0].steps[0].exit_code, 3);
	assert_true(runs[0].steps[0].has_hresult);
	assert_string_equal(runs[0].steps[0].detail, "why");
	assert_int_equal(runs[0].steps[1].state, TS_STEP_SKIPPED);
	assert_false(runs[0].steps[1].has_hresult);
	store_ts_runs_free(runs, n);

	/* A task sequence deleted since: its runs went with it, a late report is ignored. */
	OK(store_ts_delete(f->s, "Trust", &e_));
	run_of(&r, steps, t.id, 10, TS_RUN_SUCCEEDED);
	OK(store_ts_run_report(f->s, f->a.id, &r, &o, &e_));
	assert_int_equal(o, STORE_TS_REPORT_IGNORED);
	OK(store_ts_runs(f->s, t.id, &runs, &n, &e_));
	assert_int_equal(n, 0);
	store_ts_runs_free(runs, n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_packages, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_steps_and_deployments, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_runs, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
