/* test_agent_ts.c - the agent's side of task sequences (src/agent/agent_ts.c): the site's answer
 * checked whole (a valid one, and one broken field at a time), a run to JSON and back, and the
 * step runner with hooks standing in for the site: steps in order with real command lines
 * (the package's files in a fresh working directory, the environment, exit codes as HRESULTs,
 * the time limit, a missing program), Set Policy with its source, Restart recorded, a failure
 * stopping the run (the rest skipped) unless continue-on-error, a stop request, every change
 * kept with a higher seq, smsts.log lines, and a run left running recorded as interrupted. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "agent_ts.h"
#include "hresult.h"
#include "machinepolicy.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SHA1_X	 "1111111111111111111111111111111111111111"
#define SHA256_X "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

/* A valid answer of GET /api/v1/device/task-sequences. */
static const char answer[] =
    "{\"deployments\":[{\"deployment_id\":7,\"available_at\":100,\"collection_id\":\"SMS00001\","
    "\"task_sequence\":{\"id\":\"PP100011\",\"name\":\"Trust\",\"revision\":3,\"steps\":["
    "{\"position\":1,\"name\":\"Import\",\"type\":\"run-command-line\",\"type_label\":\"Run "
    "Command Line\",\"continue_on_error\":false,\"package\":{\"id\":\"PP100010\",\"name\":"
    "\"Certs\"},\"command_line\":\"run.sh a\",\"timeout\":60},"
    "{\"position\":2,\"name\":\"Install Software Updates\",\"type\":\"install-software-updates\","
    "\"continue_on_error\":true},"
    "{\"position\":3,\"name\":\"Policy\",\"type\":\"set-policy\",\"continue_on_error\":false,"
    "\"policy_name\":\"AcceptTrustedPublisherCerts\",\"policy_value\":1}]}}],"
    "\"packages\":{\"PP100010\":{\"id\":\"PP100010\",\"name\":\"Certs\",\"version\":\"1.0\","
    "\"source_version\":2,\"size\":4,\"updated_at\":5,\"files\":[{\"path\":\"run.sh\",\"sha1\":"
    "\"" SHA1_X "\",\"sha256\":\"" SHA256_X "\",\"size\":4,\"url\":\"/Content/11/" SHA1_X
    ".cab\"}]}},\"server_time\":200}";

static void test_parse(void **state)
{
	struct agent_ts_doc doc;
	struct pp_error err;
	json_t *j = json_loads(answer, 0, NULL);

	(void)state;
	assert_non_null(j);
	pp_error_clear(&err);
	if (agent_ts_parse(j, &doc, &err) != 0)
		fail_msg("parse: %s", err.message);
	assert_int_equal(doc.ndeployments, 1);
	assert_int_equal(doc.deployments[0].id, 7);
	assert_int_equal(doc.deployments[0].available_at, 100);
	assert_string_equal(doc.deployments[0].ts_name, "Trust");
	assert_int_equal(doc.deployments[0].nsteps, 3);
	assert_int_equal(doc.deployments[0].steps[0].type, TS_STEP_RUN_COMMAND_LINE);
	assert_string_equal(doc.deployments[0].steps[0].package_id, "PP100010");
	assert_string_equal(doc.deployments[0].steps[0].command_line, "run.sh a");
	assert_int_equal(doc.deployments[0].steps[0].timeout, 60);
	assert_true(doc.deployments[0].steps[1].continue_on_error);
	assert_int_equal(doc.deployments[0].steps[2].policy_value, 1);
	assert_int_equal(doc.npackages, 1);
	assert_non_null(agent_ts_doc_package(&doc, "PP100010"));
	assert_null(agent_ts_doc_package(&doc, "PP100099"));
	assert_int_equal(doc.packages[0].source_version, 2);
	assert_int_equal(doc.packages[0].files[0].size, 4);
	agent_ts_doc_free(&doc);
	json_decref(j);
}

/* The answer with one text replaced: it must be refused whole. */
static void refused(const char *from, const char *to, const char *why)
{
	char text[sizeof(answer) + 256];
	const char *at = strstr(answer, from);
	struct agent_ts_doc doc;
	struct pp_error err;
	json_t *j;

	assert_non_null(at);
	(void)snprintf(text, sizeof(text), "%.*s%s%s", (int)(at - answer), answer, to,
		       at + strlen(from));
	j = json_loads(text, 0, NULL);
	if (j == NULL)
		fail_msg("not JSON: %s", text);
	pp_error_clear(&err);
	if (agent_ts_parse(j, &doc, &err) == 0)
		fail_msg("taken: %s -> %s", from, to);
	assert_int_equal(err.code, HR_ERROR_INVALID_DATA);
	if (why != NULL && strstr(err.message, why) == NULL)
		fail_msg("%s -> %s: \"%s\" does not say \"%s\"", from, to, err.message, why);
	agent_ts_doc_free(&doc);
	json_decref(j);
}

static void test_parse_refusals(void **state)
{
	(void)state;
	refused("\"deployments\":[", "\"deployments\":7,\"other\":[", NULL);
	refused("\"position\":2", "\"position\":3", "steps[1]");
	refused("\"type\":\"set-policy\"", "\"type\":\"reboot\"", "steps[2]");
	refused("\"timeout\":60", "\"timeout\":0", "steps[0]");
	refused("\"policy_name\":\"AcceptTrustedPublisherCerts\"", "\"policy_name\":\"Other\"",
		"unknown policy value");
	refused("\"name\":\"Policy\"", "\"name\":\"Pol\\u0001icy\"", "steps[2]");
	refused("\"continue_on_error\":true}", "\"continue_on_error\":1}", "steps[1]");
	refused("\"command_line\":\"run.sh a\"", "\"command_line\":\"run.sh \\\"a\"",
		"unclosed quote");
	refused("{\"id\":\"PP100010\",\"name\":\"Certs\"}", "{\"id\":\"PP100099\",\"name\":\"X\"}",
		"names package PP100099, which the answer does not hold");
	refused("\"path\":\"run.sh\"", "\"path\":\"../run.sh\"", "files[0]");
	refused("\"path\":\"run.sh\"", "\"path\":\"/etc/passwd\"", "files[0]");
	refused("\"url\":\"/Content/11/", "\"url\":\"/Content/../../", "files[0]");
	refused("\"url\":\"/Content/11/", "\"url\":\"http://elsewhere/", "files[0]");
	refused("\"sha256\":\"" SHA256_X "\"", "\"sha256\":\"" SHA1_X "\"", "files[0]");
	refused("\"size\":4,\"url\"", "\"size\":-4,\"url\"", "files[0]");
	refused("\"PP100010\":{\"id\":\"PP100010\"", "\"PP100010\":{\"id\":\"PP100012\"",
		"bad or missing id");
	refused("\"revision\":3", "\"revision\":0", "deployments[0]");
	refused("\"name\":\"Trust\"", "\"name\":\"\"", "deployments[0]");
	refused("\"deployment_id\":7", "\"deployment_id\":\"7\"", "deployments[0]");
}

static void test_run_json(void **state)
{
	struct agent_ts_deployment d;
	struct agent_ts_run run, back;
	struct ts_step steps[2];
	struct pp_error err;
	json_t *j;

	(void)state;
	memset(&d, 0, sizeof(d));
	memset(steps, 0, sizeof(steps));
	d.id = 4;
	(void)snprintf(d.ts_id, sizeof(d.ts_id), "PP100011");
	(void)snprintf(d.ts_name, sizeof(d.ts_name), "Trust");
	d.revision = 2;
	d.steps = steps;
	d.nsteps = 2;
	(void)snprintf(steps[0].name, sizeof(steps[0].name), "One");
	steps[1].type = TS_STEP_RESTART;
	(void)snprintf(steps[1].name, sizeof(steps[1].name), "Two");
	pp_error_clear(&err);
	assert_int_equal(agent_ts_run_begin(&d, &run, &err), 0);
	assert_true(ts_run_id_valid(run.run_id));
	assert_int_equal(run.state, TS_RUN_RUNNING);
	assert_int_equal(run.steps[1].state, TS_STEP_PENDING);
	run.seq = 3;
	run.reported_seq = 2;
	run.steps[0].state = TS_STEP_FAILED;
	run.steps[0].has_exit_code = true;
	run.steps[0].exit_code = 1;
	run.steps[0].has_hresult = true;
	run.steps[0].hresult = 0x80070001u;
	run.steps[0].started_at = 10;
	(void)snprintf(run.steps[0].detail, sizeof(run.steps[0].detail),
		       "the command line returned 1");
	j = agent_ts_run_json(&run, true);
	assert_non_null(j);
	assert_int_equal(agent_ts_run_from_json(j, &back, &err), 0);
	json_decref(j);
	assert_string_equal(back.run_id, run.run_id);
	assert_string_equal(back.ts_name, "Trust");
	assert_int_equal(back.seq, 3);
	assert_int_equal(back.reported_seq, 2);
	assert_int_equal(back.nsteps, 2);
	assert_int_equal(back.steps[0].hresult, 0x80070001u);
	assert_int_equal(back.steps[0].exit_code, 1);
	assert_string_equal(back.steps[0].detail, "the command line returned 1");
	assert_false(back.steps[1].has_hresult);
	assert_int_equal(back.steps[1].type, TS_STEP_RESTART);
	/* What the site gets has no local fields. */
	j = agent_ts_run_json(&run, false);
	assert_null(json_object_get(j, "reported_seq"));
	assert_true(json_is_null(json_object_get(j, "hresult")));
	json_decref(j);
}

/* ---- the runner ---- */

struct fx {
	char *dir, *machine, *work, *out, *log_path, *files;
	struct cmtrace_log *log;
	uint32_t updates_hr; /* what Install Software Updates returns */
	uint32_t package_hr; /* non-zero: the package hook fails with it */
	int saves;
	long long last_seq;
	bool seq_ok;
	struct agent_ts_run saved;
	volatile int stopping;
	struct agent_ts_exec x;
	const char *env[3];
	char env_machine[4200];
};

static int hook_files(void *ctx, const struct agent_ts_package *p, const char *dir,
		      struct pp_error *err)
{
	struct fx *f = ctx;

	(void)p;
	if (f->package_hr != 0) {
		pp_error_set(err, f->package_hr, "file run.sh does not match the site's digests");
		return -1;
	}
	return tu_run("cp -R %s/. %s", f->files, dir) == 0
		   ? 0
		   : (pp_error_set(err, HR_E_FAIL, "cp failed"), -1);
}

static int hook_updates(void *ctx, uint32_t *hr, char *detail, size_t size, struct pp_error *err)
{
	struct fx *f = ctx;

	(void)err;
	*hr = f->updates_hr;
	(void)snprintf(detail, size, "%s", *hr == 0 ? "1 update(s) installed" : "update x failed");
	return 0;
}

static int hook_save(void *ctx, const struct agent_ts_run *run, struct pp_error *err)
{
	struct fx *f = ctx;

	(void)err;
	if (run->seq <= f->last_seq)
		f->seq_ok = false;
	f->last_seq = run->seq;
	f->saves++;
	f->saved = *run;
	return 0;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct pp_error err;

	assert_non_null(f);
	pp_error_clear(&err);
	f->dir = tu_tmpdir();
	f->machine = tu_path(f->dir, "machine");
	f->work = tu_path(f->dir, "work");
	f->out = tu_path(f->dir, "smsts.out");
	f->log_path = tu_path(f->dir, "smsts.log");
	f->files = tu_path(f->dir, "files");
	assert_int_equal(tu_run("mkdir -p %s %s %s", f->machine, f->work, f->files), 0);
	f->log = cmtrace_open(f->log_path, AGENT_TS_COMPONENT, 0, &err);
	assert_non_null(f->log);
	f->seq_ok = true;
	(void)snprintf(f->env_machine, sizeof(f->env_machine), "PATCHPOINT_MACHINE=%s", f->machine);
	f->env[0] = f->env_machine;
	f->env[1] = "_SMSTSPackageName=Trust";
	f->env[2] = NULL;
	f->x.machine = f->machine;
	f->x.log = f->log;
	f->x.output_path = f->out;
	f->x.work_dir = f->work;
	f->x.env = f->env;
	f->x.stopping = &f->stopping;
	f->x.hooks.package_files = hook_files;
	f->x.hooks.install_updates = hook_updates;
	f->x.hooks.save = hook_save;
	f->x.hooks.ctx = f;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	cmtrace_close(f->log);
	tu_rmrf(f->dir);
	free(f->dir);
	free(f->machine);
	free(f->work);
	free(f->out);
	free(f->log_path);
	free(f->files);
	free(f);
	return 0;
}

static void step(struct ts_step *s, enum ts_step_type type, const char *name, const char *cmd)
{
	memset(s, 0, sizeof(*s));
	s->type = type;
	(void)snprintf(s->name, sizeof(s->name), "%s", name);
	if (type == TS_STEP_RUN_COMMAND_LINE) {
		(void)snprintf(s->command_line, sizeof(s->command_line), "%s", cmd);
		s->timeout = 30;
	}
	if (type == TS_STEP_SET_POLICY) {
		(void)snprintf(s->policy_name, sizeof(s->policy_name),
			       "AcceptTrustedPublisherCerts");
		s->policy_value = 1;
	}
}

/* Runs steps (n of them) as deployment 7 of "Trust"; the package PP100010 is f->files. */
static void execute(struct fx *f, struct ts_step *steps, size_t n, struct agent_ts_run *run)
{
	static struct agent_ts_package pkg = {
	    .id = "PP100010", .name = "Certs", .version = "1", .source_version = 1};
	struct agent_ts_doc doc = {NULL, 0, &pkg, 1};
	struct agent_ts_deployment d;
	struct pp_error err;

	memset(&d, 0, sizeof(d));
	d.id = 7;
	(void)snprintf(d.ts_id, sizeof(d.ts_id), "PP100011");
	(void)snprintf(d.ts_name, sizeof(d.ts_name), "Trust");
	d.revision = 1;
	d.steps = steps;
	d.nsteps = n;
	pp_error_clear(&err);
	assert_int_equal(agent_ts_run_begin(&d, run, &err), 0);
	if (agent_ts_execute(&f->x, &d, &doc, run, &err) != 0)
		fail_msg("execute: %s", err.message);
}

static char *log_text(struct fx *f)
{
	size_t len = 0;
	char *t = (char *)tu_read_file(f->log_path, &len);

	assert_non_null(t);
	t = realloc(t, len + 1);
	t[len] = '\0';
	return t;
}

static void test_success(void **state)
{
	struct fx *f = *state;
	struct ts_step steps[4];
	struct agent_ts_run *run = calloc(1, sizeof(*run));
	struct machinepolicy_value v;
	struct pp_error err;
	char *env_file = tu_path(f->dir, "env.txt"), *run_sh = tu_path(f->files, "run.sh");
	char script[512], *log;

	pp_error_clear(&err);
	(void)snprintf(script, sizeof(script),
		       "echo \"$PATCHPOINT_MACHINE|$_SMSTSCurrentActionName|$1|$(pwd)\" > %s\n"
		       "test -f sub/data.txt\n",
		       env_file);
	tu_write_file(run_sh, script, strlen(script));
	free(run_sh);
	assert_int_equal(tu_run("mkdir -p %s/sub && echo x > %s/sub/data.txt", f->files, f->files),
			 0);
	step(&steps[0], TS_STEP_RUN_COMMAND_LINE, "Import certificates", "run.sh \"an arg\"");
	(void)snprintf(steps[0].package_id, sizeof(steps[0].package_id), "PP100010");
	step(&steps[1], TS_STEP_INSTALL_SOFTWARE_UPDATES, "Install Software Updates", NULL);
	step(&steps[2], TS_STEP_SET_POLICY, "Trust updates", NULL);
	step(&steps[3], TS_STEP_RESTART, "Restart", NULL);
	execute(f, steps, 4, run);
	assert_int_equal(run->state, TS_RUN_SUCCEEDED);
	assert_int_equal(run->hresult, HR_S_OK);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(run->steps[i].state, TS_STEP_SUCCEEDED);
		assert_true(run->steps[i].started_at > 0);
		assert_true(run->steps[i].finished_at >= run->steps[i].started_at);
	}
	assert_true(run->steps[0].has_exit_code);
	assert_int_equal(run->steps[0].exit_code, 0);
	assert_false(run->steps[1].has_exit_code);
	assert_string_equal(run->steps[1].detail, "1 update(s) installed");
	assert_string_equal(
	    run->steps[3].detail,
	    "a restart was requested; patchpoint-agent does not restart the device");
	assert_true(run->finished_at >= run->started_at);
	/* Saved before and after each step, at the start and at the end, seq going up. */
	assert_int_equal(f->saves, 1 + 2 * 4 + 1);
	assert_true(f->seq_ok);
	assert_int_equal(f->saved.seq, run->seq);
	assert_int_equal(f->saved.state, TS_RUN_SUCCEEDED);
	/* The command line saw its package's files, its arguments and the environment. */
	{
		size_t len = 0;
		char *got = (char *)tu_read_file(env_file, &len), want[8400];

		assert_non_null(got);
		(void)snprintf(want, sizeof(want), "%s|Import certificates|an arg|%s/", f->machine,
			       f->work);
		if (strncmp(got, want, strlen(want)) != 0)
			fail_msg("got %.*s, want %s...", (int)len, got, want);
		free(got);
	}
	assert_int_equal(tu_count_entries(f->work), 0); /* its directory is gone */
	assert_int_equal(
	    machinepolicy_get(f->machine, MACHINEPOLICY_ACCEPT_TRUSTED_PUBLISHER_CERTS, &v, &err),
	    0);
	assert_true(v.present);
	assert_int_equal(v.value, 1);
	assert_string_equal(v.source, "task-sequence:Trust");
	log = log_text(f);
	assert_non_null(strstr(log, "Start executing an instruction. Instruction name: Import "
				    "certificates. Instruction pointer: 0]LOG]!>"));
	assert_non_null(strstr(log, "Command line run.sh \"an arg\" returned 0]LOG]!>"));
	assert_non_null(strstr(log, "Successfully completed the action (Import certificates) with "
				    "the exit win32 code 0]LOG]!>"));
	assert_non_null(strstr(log, "Instruction pointer: 3]LOG]!>"));
	assert_non_null(strstr(log, "[Task Sequence Engine finished]LOG]!><time="));
	assert_non_null(strstr(log, "component=\"TSManager\""));
	free(log);
	free(env_file);
	free(run);
}

static void test_failure_stops(void **state)
{
	struct fx *f = *state;
	struct ts_step steps[3];
	struct agent_ts_run *run = calloc(1, sizeof(*run));
	char *log, *value = tu_path(f->machine, "policy/values/AcceptTrustedPublisherCerts");

	step(&steps[0], TS_STEP_RUN_COMMAND_LINE, "Fails", "sh -c \"exit 3\"");
	step(&steps[1], TS_STEP_RESTART, "Restart", NULL);
	step(&steps[2], TS_STEP_SET_POLICY, "Policy", NULL);
	execute(f, steps, 3, run);
	assert_int_equal(run->state, TS_RUN_FAILED);
	assert_int_equal(run->hresult, 0x80070003u);
	assert_int_equal(run->steps[0].state, TS_STEP_FAILED);
	assert_int_equal(run->steps[0].exit_code, 3);
	assert_int_equal(run->steps[0].hresult, 0x80070003u);
	assert_string_equal(run->steps[0].detail, "the command line returned 3");
	assert_int_equal(run->steps[1].state, TS_STEP_SKIPPED);
	assert_int_equal(run->steps[2].state, TS_STEP_SKIPPED);
	assert_string_equal(run->steps[2].detail, "not run: step 1 failed");
	assert_int_equal(run->steps[1].started_at, 0);
	assert_false(tu_exists(value));
	free(value);
	log = log_text(f);
	assert_non_null(strstr(log, "Failed to run the action: Fails. Error 0x80070003]LOG]!>"));
	assert_non_null(strstr(log, "Skipping the action (Restart): the task sequence stopped at "
				    "step 1]LOG]!>"));
	assert_non_null(strstr(log, "The task sequence execution engine failed execution of a "
				    "task sequence]LOG]!>"));
	assert_null(strstr(log, "Task Sequence Engine finished"));
	free(log);
	free(run);
}

static void test_continue_on_error(void **state)
{
	struct fx *f = *state;
	struct ts_step steps[2];
	struct agent_ts_run *run = calloc(1, sizeof(*run));

	f->updates_hr = HR_CERT_E_UNTRUSTEDROOT;
	step(&steps[0], TS_STEP_INSTALL_SOFTWARE_UPDATES, "Install Software Updates", NULL);
	steps[0].continue_on_error = true;
	step(&steps[1], TS_STEP_RESTART, "Restart", NULL);
	execute(f, steps, 2, run);
	assert_int_equal(run->state, TS_RUN_SUCCEEDED);
	assert_int_equal(run->steps[0].state, TS_STEP_FAILED);
	assert_int_equal(run->steps[0].hresult, HR_CERT_E_UNTRUSTEDROOT);
	assert_int_equal(run->steps[1].state, TS_STEP_SUCCEEDED);
	/* Without it, the same failure stops the run with its code. */
	steps[0].continue_on_error = false;
	execute(f, steps, 2, run);
	assert_int_equal(run->state, TS_RUN_FAILED);
	assert_int_equal(run->hresult, HR_CERT_E_UNTRUSTEDROOT);
	assert_int_equal(run->steps[1].state, TS_STEP_SKIPPED);
	free(run);
}

static void test_command_failures(void **state)
{
	struct fx *f = *state;
	struct ts_step steps[1];
	struct agent_ts_run *run = calloc(1, sizeof(*run));

	step(&steps[0], TS_STEP_RUN_COMMAND_LINE, "Slow", "sleep 20");
	steps[0].timeout = 1;
	execute(f, steps, 1, run);
	assert_int_equal(run->steps[0].state, TS_STEP_FAILED);
	assert_int_equal(run->steps[0].hresult, HR_E_FAIL);
	assert_string_equal(run->steps[0].detail,
			    "the command line ran past its time limit of 1 s and was stopped");

	step(&steps[0], TS_STEP_RUN_COMMAND_LINE, "Missing", "no-such-program-here --x");
	execute(f, steps, 1, run);
	assert_int_equal(run->steps[0].hresult, HR_ERROR_FILE_NOT_FOUND);
	assert_false(run->steps[0].has_exit_code);

	/* A package file that does not match: the command does not run. */
	f->package_hr = HR_WU_E_DM_INCORRECTFILEHASH;
	step(&steps[0], TS_STEP_RUN_COMMAND_LINE, "Damaged", "sh -c \"touch ran\"");
	(void)snprintf(steps[0].package_id, sizeof(steps[0].package_id), "PP100010");
	execute(f, steps, 1, run);
	assert_int_equal(run->state, TS_RUN_FAILED);
	assert_int_equal(run->steps[0].hresult, HR_WU_E_DM_INCORRECTFILEHASH);
	assert_string_equal(run->steps[0].detail, "file run.sh does not match the site's digests");
	assert_int_equal(tu_count_entries(f->work), 0);

	/* A package the answer does not hold. */
	f->package_hr = 0;
	(void)snprintf(steps[0].package_id, sizeof(steps[0].package_id), "PP100099");
	execute(f, steps, 1, run);
	assert_int_equal(run->steps[0].hresult, HR_ERROR_FILE_NOT_FOUND);
	assert_string_equal(run->steps[0].detail, "package PP100099 is not known");
	free(run);
}

static void test_stop_request(void **state)
{
	struct fx *f = *state;
	struct ts_step steps[2];
	struct agent_ts_run *run = calloc(1, sizeof(*run));

	f->stopping = 1;
	step(&steps[0], TS_STEP_RESTART, "Restart", NULL);
	step(&steps[1], TS_STEP_SET_POLICY, "Policy", NULL);
	execute(f, steps, 2, run);
	assert_int_equal(run->state, TS_RUN_INTERRUPTED);
	assert_int_equal(run->hresult, HR_E_ABORT);
	assert_int_equal(run->steps[0].state, TS_STEP_SKIPPED);
	assert_int_equal(run->steps[1].state, TS_STEP_SKIPPED);
	assert_int_equal(f->saved.state, TS_RUN_INTERRUPTED);
	free(run);
}

static void test_interrupted(void **state)
{
	struct fx *f = *state;
	struct agent_ts_run *run = calloc(1, sizeof(*run));
	char *log;

	(void)snprintf(run->run_id, sizeof(run->run_id), "0f8fad5b-d9cb-469f-a165-70867728950e");
	(void)snprintf(run->ts_name, sizeof(run->ts_name), "Trust");
	run->state = TS_RUN_RUNNING;
	run->seq = 4;
	run->nsteps = 3;
	run->steps[0].state = TS_STEP_SUCCEEDED;
	run->steps[1].state = TS_STEP_RUNNING;
	(void)snprintf(run->steps[1].name, sizeof(run->steps[1].name), "Install");
	run->steps[2].state = TS_STEP_PENDING;
	agent_ts_run_interrupted(run, f->log);
	assert_int_equal(run->state, TS_RUN_INTERRUPTED);
	assert_int_equal(run->hresult, HR_E_ABORT);
	assert_int_equal(run->seq, 5);
	assert_true(run->finished_at > 0);
	assert_int_equal(run->steps[0].state, TS_STEP_SUCCEEDED);
	assert_int_equal(run->steps[1].state, TS_STEP_INTERRUPTED);
	assert_int_equal(run->steps[1].hresult, HR_E_ABORT);
	assert_int_equal(run->steps[2].state, TS_STEP_SKIPPED);
	log = log_text(f);
	assert_non_null(strstr(log,
			       "Task sequence \"Trust\" run 0f8fad5b-d9cb-469f-a165-70867728950e "
			       "was interrupted at step 2 (Install): the agent stopped while "
			       "it ran."));
	free(log);
	free(run);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse),
	    cmocka_unit_test(test_parse_refusals),
	    cmocka_unit_test(test_run_json),
	    cmocka_unit_test_setup_teardown(test_success, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_failure_stops, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_continue_on_error, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_command_failures, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stop_request, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_interrupted, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
