/* agent_ts_cmd.c - the 'ts' verb of patchpoint-agent (list, run): options, manual, output and
 * exit codes over agent_ts.h, as agent_main.c does for the other verbs. */
#include "agent_ts.h"

#include "certstore.h"
#include "hresult.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PROGRAM	   "patchpoint-agent"
#define EXIT_OK	   0
#define EXIT_FAIL  1
#define EXIT_USAGE 2

static const char ts_manual[] =
    "NAME\n"
    "    patchpoint-agent ts - the task sequences deployed to this device\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint-agent ts list [--machine DIR] [--ca-bundle FILE] [--json]\n"
    "    patchpoint-agent ts run [--machine DIR] [--ca-bundle FILE] [--install-timeout S]\n"
    "        NAME|ID\n"
    "\n"
    "DESCRIPTION\n"
    "    list   The task sequence deployments of the site that target this device\n"
    "           (GET /api/v1/device/task-sequences): deployment id, task sequence, id,\n"
    "           revision, steps, available time, and what this device ran of each.\n"
    "    run    Runs the deployment of task sequence NAME (its name, any case, or its\n"
    "           id, PP100011) or deployment ID now, whether it ran before or not (not\n"
    "           before it is available), then reports the run and the state messages it\n"
    "           queued. 'patchpoint-agent run' runs each newly available deployment once on\n"
    "           its own.\n"
    "\n"
    "    The steps run in order; the first that fails stops the task sequence unless it\n"
    "    has continue-on-error. Run Command Line: its command in a fresh directory\n"
    "    holding the package's files (each checked against the site's SHA-1, SHA-256 and\n"
    "    size; 0x80246002 when they differ), with PATCHPOINT_MACHINE set to this machine\n"
    "    directory and the agent's own directory first in PATH (so a script can call\n"
    "    'patchpoint certutil' and 'patchpoint policy'); exit code 0 succeeds. Install\n"
    "    Software Updates: machine policy, scan and deployment evaluation; fails with the\n"
    "    HRESULT of the first required update that fails. Set Policy: a policy value,\n"
    "    source task-sequence:<name>. Restart: recorded, not performed. Every step is\n"
    "    logged to DIR/logs/smsts.log; what commands print goes to DIR/logs/smsts.out.\n"
    "    The run is kept in DIR/agent/ts/runs/ after each step and sent to the site (when\n"
    "    the site cannot be reached, with the next contact of any cycle). A run an agent\n"
    "    was killed in is recorded as Interrupted at the next task sequence check; 'ts\n"
    "    run' runs it again.\n"
    "\n"
    "OPTIONS\n"
    "    --ca-bundle FILE      CA certificates that verify an https:// site\n"
    "    --install-timeout S   seconds an update's installer may run (default 7200)\n"
    "    --json                list: print the deployments as JSON\n"
    "    --machine DIR         the machine directory (default $PATCHPOINT_MACHINE, else\n"
    "                          " CERTSTORE_DEFAULT_MACHINE ")\n"
    "\n"
    "EXIT STATUS\n"
    "    0 success (run: the task sequence succeeded; a step that failed with\n"
    "    continue-on-error does not fail it), 1 failure (run: the task sequence failed or\n"
    "    was interrupted; one line on stderr), 2 usage error.\n";

enum { OPT_MACHINE = 256, OPT_CA_BUNDLE, OPT_INSTALL_TIMEOUT, OPT_JSON };

static int fail(const struct pp_error *err)
{
	if (err->code != 0 && err->code != HR_E_FAIL && hresult_lookup(err->code) != NULL)
		fprintf(stderr, PROGRAM ": %s (0x%08X %s)\n", err->message, (unsigned)err->code,
			hresult_symbol(err->code));
	else
		fprintf(stderr, PROGRAM ": %s\n",
			err->message[0] != '\0' ? err->message : "failed");
	return EXIT_FAIL;
}

static int usage(const char *fmt, ...) PP_PRINTF(1, 2);

static int usage(const char *fmt, ...)
{
	va_list ap;

	fputs(PROGRAM ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry '" PROGRAM " ts --help'.\n", stderr);
	return EXIT_USAGE;
}

static void format_time(long long t, char *out, size_t size)
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (t <= 0 || gmtime_r(&tt, &tm) == NULL ||
	    strftime(out, size, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		(void)snprintf(out, size, "-");
}

/* "exit code 1, 0x80070001", "0x800B0109", "" */
static void result_text(const struct agent_ts_result *r, char *out, size_t size)
{
	if (r->has_exit_code && r->has_hresult && r->hresult != 0)
		(void)snprintf(out, size, " (exit code %lld, 0x%08X)", r->exit_code,
			       (unsigned)r->hresult);
	else if (r->has_exit_code)
		(void)snprintf(out, size, " (exit code %lld)", r->exit_code);
	else if (r->has_hresult && r->hresult != 0)
		(void)snprintf(out, size, " (0x%08X %s)", (unsigned)r->hresult,
			       hresult_symbol(r->hresult));
	else
		out[0] = '\0';
}

static void print_run(const struct agent_ts_run *run)
{
	char res[96];

	printf("Task sequence \"%s\" (%s) revision %lld, deployment %lld, run %s:\n", run->ts_name,
	       run->ts_id, run->revision, run->deployment_id, run->run_id);
	for (size_t i = 0; i < run->nsteps; i++) {
		const struct agent_ts_result *r = &run->steps[i];

		result_text(r, res, sizeof(res));
		printf("  %zu. %s: %s%s%s%s\n", i + 1, r->name, ts_step_state_label(r->state), res,
		       r->detail[0] != '\0' ? ": " : "", r->detail);
	}
	if (run->state == TS_RUN_SUCCEEDED)
		printf("Task sequence \"%s\" succeeded\n", run->ts_name);
	else
		printf("Task sequence \"%s\" %s with 0x%08X %s\n", run->ts_name,
		       run->state == TS_RUN_INTERRUPTED ? "was interrupted" : "failed",
		       (unsigned)run->hresult, hresult_symbol(run->hresult));
}

static int cmd_list(const char *machine, const char *ca, bool json)
{
	struct agent_ts_doc doc;
	struct pp_error err;
	json_t *local = NULL, *out = NULL, *arr;
	char when[32], at[32];
	int rc = EXIT_FAIL;

	pp_error_clear(&err);
	if (agent_ts_list(machine, ca, &doc, &local, &err) != 0)
		goto out;
	arr = json_array();
	for (size_t i = 0; arr != NULL && i < doc.ndeployments; i++) {
		const struct agent_ts_deployment *d = &doc.deployments[i];
		const json_t *mine;
		char key[32];

		(void)snprintf(key, sizeof(key), "%lld", d->id);
		mine = json_object_get(json_object_get(local, "deployments"), key);
		(void)json_array_append_new(
		    arr, json_pack("{s:I, s:I, s:{s:s, s:s, s:I, s:I}, s:O?}", "deployment_id",
				   (json_int_t)d->id, "available_at", (json_int_t)d->available_at,
				   "task_sequence", "id", d->ts_id, "name", d->ts_name, "revision",
				   (json_int_t)d->revision, "steps", (json_int_t)d->nsteps, "local",
				   mine));
	}
	if (json) {
		out = arr != NULL ? json_pack("{s:o}", "deployments", arr) : NULL;
		if (out == NULL ||
		    json_dumpf(out, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0) {
			pp_error_set(&err, HR_E_OUTOFMEMORY, "cannot print the list");
			goto out;
		}
		fputc('\n', stdout);
	} else {
		json_decref(arr);
		if (doc.ndeployments == 0)
			printf("No task sequence is deployed to this device\n");
		for (size_t i = 0; i < doc.ndeployments; i++) {
			const struct agent_ts_deployment *d = &doc.deployments[i];
			const json_t *mine;
			char key[32];

			(void)snprintf(key, sizeof(key), "%lld", d->id);
			mine = json_object_get(json_object_get(local, "deployments"), key);
			format_time(d->available_at, when, sizeof(when));
			printf("Deployment %lld: task sequence \"%s\" (%s) revision %lld, %zu "
			       "step(s), "
			       "available from %s",
			       d->id, d->ts_name, d->ts_id, d->revision, d->nsteps, when);
			if (json_is_object(mine)) {
				long long t = json_integer_value(json_object_get(mine, "at"));
				int st = ts_run_state_parse(
				    json_string_value(json_object_get(mine, "state")));

				format_time(t, at, sizeof(at));
				printf("; this device: %s %s\n",
				       st >= 0 ? ts_run_state_label((enum ts_run_state)st) : "?",
				       at);
			} else {
				printf("; this device: not run yet\n");
			}
		}
	}
	rc = EXIT_OK;
out:
	if (rc != EXIT_OK)
		rc = fail(&err);
	json_decref(out);
	json_decref(local);
	agent_ts_doc_free(&doc);
	return rc;
}

static int cmd_run(const char *machine, const char *which, const struct agent_ts_options *o)
{
	struct agent_ts_outcome out;
	struct agent_logs logs = {0};
	struct agent_identity id;
	struct agent_ts_run *run = calloc(1, sizeof(*run));
	struct pp_error err;
	char text[PP_ERROR_MESSAGE_MAX];
	int rc = EXIT_FAIL;

	pp_error_clear(&err);
	memset(&out, 0, sizeof(out));
	if (run == NULL) {
		pp_error_set(&err, HR_E_OUTOFMEMORY, "out of memory");
		goto out;
	}
	/* The logs of a registered machine only (a wrong --machine creates nothing). */
	if (agent_state_require_identity(machine, &id, &err) != 0)
		goto out;
	agent_identity_wipe(&id);
	if (agent_logs_open(machine, &logs, &err) != 0 ||
	    agent_ts_run_now(machine, which, o, &logs, run, &out, &err) != 0)
		goto out;
	if (out.interrupted > 0)
		printf("%zu run(s) of a stopped agent were recorded as interrupted\n",
		       out.interrupted);
	print_run(run);
	if (out.reported > 0)
		printf("Sent %zu task sequence run(s)\n", out.reported);
	if (out.report_failed)
		fprintf(stderr, PROGRAM ": the run stays queued: %s\n", out.report_err.message);
	if (run->state != TS_RUN_SUCCEEDED) {
		size_t at = 0;

		/* The step that stopped it: failed or interrupted, with nothing run after it. */
		for (size_t i = 0; i < run->nsteps && at == 0; i++)
			if ((run->steps[i].state == TS_STEP_FAILED ||
			     run->steps[i].state == TS_STEP_INTERRUPTED) &&
			    (i + 1 == run->nsteps || run->steps[i + 1].state == TS_STEP_SKIPPED))
				at = i + 1;
		fprintf(stderr,
			PROGRAM
			": task sequence \"%s\" %s at step %zu (%s): %s; see %s/logs/" AGENT_TS_LOG
			"\n",
			run->ts_name,
			run->state == TS_RUN_INTERRUPTED ? "was interrupted" : "failed", at,
			at > 0 ? run->steps[at - 1].name : "-",
			hresult_format(run->hresult, text, sizeof(text)), machine);
		rc = EXIT_FAIL;
		goto done;
	}
	rc = EXIT_OK;
out:
	if (rc != EXIT_OK)
		rc = fail(&err);
done:
	agent_logs_close(&logs);
	free(run);
	return rc;
}

int agent_ts_command(const char *machine, int argc, char **argv)
{
	static const struct option options[] = {
	    {"machine", required_argument, NULL, OPT_MACHINE},
	    {"ca-bundle", required_argument, NULL, OPT_CA_BUNDLE},
	    {"install-timeout", required_argument, NULL, OPT_INSTALL_TIMEOUT},
	    {"json", no_argument, NULL, OPT_JSON},
	    {NULL, 0, NULL, 0},
	};
	struct agent_ts_options o = {NULL, AGENT_INSTALL_TIMEOUT_DEFAULT, NULL};
	const char *verb, *env;
	bool json = false, timeout_given = false;
	char *end;
	int c;

	if (argc < 2) {
		fputs(ts_manual, stderr);
		return EXIT_USAGE;
	}
	verb = argv[1];
	if (strcmp(verb, "help") == 0 || strcmp(verb, "--help") == 0 || strcmp(verb, "-h") == 0) {
		fputs(ts_manual, stdout);
		return EXIT_OK;
	}
	if (strcmp(verb, "list") != 0 && strcmp(verb, "run") != 0)
		return usage("unknown verb '%s' for 'ts' (list, run)", verb);
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc - 1, argv + 1, ":", options, NULL)) != -1) {
		switch (c) {
		case OPT_MACHINE:
			machine = optarg;
			break;
		case OPT_CA_BUNDLE:
			o.ca_bundle = optarg;
			break;
		case OPT_INSTALL_TIMEOUT:
			errno = 0;
			o.install_timeout = (unsigned)strtoul(optarg, &end, 10);
			if (errno != 0 || end == optarg || *end != '\0' || optarg[0] == '-' ||
			    o.install_timeout < 1 || o.install_timeout > AGENT_INSTALL_TIMEOUT_MAX)
				return usage("--install-timeout must be 1 to %d seconds",
					     AGENT_INSTALL_TIMEOUT_MAX);
			timeout_given = true;
			break;
		case OPT_JSON:
			json = true;
			break;
		case ':':
			return usage("option '%s' needs a value", argv[optind]);
		default:
			return usage("unknown option '%s'", argv[optind]);
		}
	}
	if (machine == NULL) {
		env = getenv("PATCHPOINT_MACHINE");
		machine = env != NULL && env[0] != '\0' ? env : CERTSTORE_DEFAULT_MACHINE;
	}
	if (strcmp(verb, "list") == 0) {
		if (optind + 1 < argc)
			return usage("'ts list' takes no argument ('%s')", argv[optind + 1]);
		if (timeout_given)
			return usage("--install-timeout is an option of 'ts run'");
		return cmd_list(machine, o.ca_bundle, json);
	}
	if (json)
		return usage("--json is an option of 'ts list'");
	if (argc - (optind + 1) != 1 || argv[optind + 1][0] == '\0')
		return usage("'ts run' needs one task sequence NAME or ID");
	return cmd_run(machine, argv[optind + 1], &o);
}
