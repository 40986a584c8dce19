/* agent_ts.h - task sequences on the device (DESIGN 5.8, docs/internals/task-sequences.md):
 * what the site deploys (GET /api/v1/device/task-sequences), running a deployment's steps in
 * order with smsts.log, the run kept on disk after every step and reported
 * (POST /api/v1/device/task-sequences/runs) until the site has its latest state.
 *
 *     <machine>/agent/ts/                0700
 *         deployments.json               per deployment id: the run that ran it ("runs once")
 *         runs/<run id>.json             a run: its state and each step's result, "seq" (one
 *                                        more at each change) and "reported_seq" (the last
 *                                        the site took)
 *         cache/<SHA-256>                package files, checked against the site's digests
 *         work/<run>.<step>.XXXXXX/      a Run Command Line step's fresh directory
 *     <machine>/logs/smsts.log           CMTrace, component TSManager
 *     <machine>/logs/smsts.out           what the command lines printed
 *
 * A killed agent leaves its run "running" on disk: the next task sequence cycle or 'ts run'
 * (under the cycle lock, so nothing else is running) records it as interrupted at the step it
 * was in (E_ABORT) and reports that; it is not run again on its own, 'ts run' runs it again. */
#ifndef PATCHPOINT_AGENT_TS_H
#define PATCHPOINT_AGENT_TS_H

#include "agent_state.h"
#include "agent_updates.h"
#include "error.h"
#include "tasksequence.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define AGENT_TS_PATH		 "/api/v1/device/task-sequences"
#define AGENT_TS_RUNS_PATH	 "/api/v1/device/task-sequences/runs"
#define AGENT_TS_LOG		 "smsts.log"
#define AGENT_TS_COMPONENT	 "TSManager"
#define AGENT_TS_OUTPUT		 "smsts.out"
#define AGENT_TS_URL_MAX	 128
#define AGENT_TS_DEPLOYMENTS_MAX 1000 /* deployments in one answer */
#define AGENT_TS_PACKAGES_MAX	 1000
#define AGENT_TS_RUNS_KEEP	 32 /* reported runs kept on disk (newest) */

/* ---- the site's answer ---- */

struct agent_ts_file {
	char path[TS_PATH_MAX + 1];
	char url[AGENT_TS_URL_MAX];
	char sha1[41];	 /* upper case */
	char sha256[65]; /* lower case */
	uint64_t size;
};

struct agent_ts_package {
	char id[TS_ID_LEN + 1];
	char name[TS_NAME_MAX + 1];
	char version[TS_VERSION_MAX + 1];
	long long source_version;
	struct agent_ts_file *files; /* owned */
	size_t nfiles;
};

struct agent_ts_deployment {
	long long id;
	long long available_at;
	char ts_id[TS_ID_LEN + 1];
	char ts_name[TS_NAME_MAX + 1];
	long long revision;
	struct ts_step *steps; /* owned, checked with ts_step_check */
	size_t nsteps;
};

struct agent_ts_doc {
	struct agent_ts_deployment *deployments; /* owned */
	size_t ndeployments;
	struct agent_ts_package *packages; /* owned */
	size_t npackages;
};

/* Checks the whole answer of GET /api/v1/device/task-sequences before anything is used: every
 * deployment, step (ts_step_check) and package file (a path, a content URL, digests, a size),
 * and every package a step names present. -1 with ERROR_INVALID_DATA naming the field. Free
 * out with agent_ts_doc_free (also after a failure). */
int agent_ts_parse(const json_t *answer, struct agent_ts_doc *out,
		   struct pp_error *err) PP_WARN_UNUSED;
void agent_ts_doc_free(struct agent_ts_doc *d);

const struct agent_ts_package *agent_ts_doc_package(const struct agent_ts_doc *d, const char *id);

/* ---- runs ---- */

struct agent_ts_result {
	char name[TS_NAME_MAX + 1];
	enum ts_step_type type;
	enum ts_step_state state;
	bool has_exit_code;
	long long exit_code;
	bool has_hresult;
	uint32_t hresult;
	long long started_at, finished_at; /* 0: not yet */
	char detail[TS_DETAIL_MAX + 1];
};

struct agent_ts_run {
	char run_id[TS_RUN_ID_LEN + 1];
	long long deployment_id;
	char ts_id[TS_ID_LEN + 1];
	char ts_name[TS_NAME_MAX + 1];
	long long revision;
	long long seq;		/* one more at each change */
	long long reported_seq; /* the latest the site took, 0: none */
	enum ts_run_state state;
	bool has_hresult;
	uint32_t hresult;
	long long started_at, finished_at;
	size_t nsteps;
	struct agent_ts_result steps[TS_STEPS_MAX];
};

/* A new run of deployment d (a fresh run id, every step pending, seq 1, started now). */
int agent_ts_run_begin(const struct agent_ts_deployment *d, struct agent_ts_run *run,
		       struct pp_error *err) PP_WARN_UNUSED;

/* The run as the site's report takes it (docs/api.md), and back (the local fields too). */
json_t *agent_ts_run_json(const struct agent_ts_run *run, bool local);
int agent_ts_run_from_json(const json_t *j, struct agent_ts_run *run,
			   struct pp_error *err) PP_WARN_UNUSED;

/* What the step runner calls out for; the daemon's are in agent_ts.c, the tests bring their
 * own. Each returns 0, or -1 with err (whose code becomes the step's HRESULT). */
struct agent_ts_hooks {
	/* Puts the files of p into dir (fresh and empty), each checked against the site's
	 * digests (a mismatch is WU_E_DM_INCORRECTFILEHASH). */
	int (*package_files)(void *ctx, const struct agent_ts_package *p, const char *dir,
			     struct pp_error *err);
	/* Install Software Updates: *hr S_OK, or the HRESULT of the first required update that
	 * failed; detail one line about what happened. */
	int (*install_updates)(void *ctx, uint32_t *hr, char *detail, size_t size,
			       struct pp_error *err);
	/* Keeps the run (after every change); NULL: nothing kept. */
	int (*save)(void *ctx, const struct agent_ts_run *run, struct pp_error *err);
	void *ctx;
};

struct agent_ts_exec {
	const char *machine;
	struct cmtrace_log *log;      /* smsts.log (may be NULL) */
	const char *output_path;      /* what command lines print (appended) */
	const char *work_dir;	      /* where a step's fresh directory is made (exists) */
	const char *const *env;	      /* extra environment of command lines (NULL-terminated) */
	volatile const int *stopping; /* NULL, or set when the agent is asked to stop */
	struct agent_ts_hooks hooks;
};

/* Runs the steps of d in order into run (from agent_ts_run_begin), as DESIGN 5.8 and
 * docs/internals/task-sequences.md say: each logged to smsts.log and saved before and after it
 * runs; a failure stops the run unless the step has continue-on-error (the steps after it are
 * skipped); a stop request between two steps ends the run interrupted. 0 when the run reached
 * its end (run->state says how it went); -1 only when the run could not be kept (hooks.save). */
int agent_ts_execute(const struct agent_ts_exec *x, const struct agent_ts_deployment *d,
		     const struct agent_ts_doc *doc, struct agent_ts_run *run,
		     struct pp_error *err) PP_WARN_UNUSED;

/* Marks a run found "running" (its agent was killed) interrupted: the running step interrupted
 * with E_ABORT, the pending ones skipped, the run E_ABORT, seq one more; logged to log. */
void agent_ts_run_interrupted(struct agent_ts_run *run, struct cmtrace_log *log);

/* ---- on the machine ---- */

/* What one task sequence cycle, or 'ts run', did. */
struct agent_ts_outcome {
	size_t ran;		  /* runs made */
	size_t failed;		  /* of those, failed or interrupted */
	size_t interrupted;	  /* runs of a killed agent found and recorded */
	size_t waiting;		  /* deployments not yet available */
	long long next_available; /* the soonest of those (0: none) */
	size_t reported;	  /* runs the site took */
	bool report_failed;	  /* the site could not be reached for the report */
	struct pp_error report_err;
};

struct agent_ts_options {
	const char *ca_bundle; /* NULL or "": the one given at registration */
	unsigned install_timeout;
	volatile const int *stopping;
};

/* The task sequence cycle (call with the cycle lock held): runs of a killed agent recorded as
 * interrupted, then every deployment that is available and has not run on this machine run
 * once, in deployment order. Reporting is the caller's (agent_ts_report, after the cycle, as
 * for state messages). -1 when the site's list cannot be had or read. */
int agent_ts_cycle(const char *machine, const struct agent_ts_options *o, struct agent_logs *logs,
		   struct agent_ts_outcome *out, struct pp_error *err) PP_WARN_UNUSED;

/* 'ts run NAME|ID' (takes the cycle lock itself): the deployment of the task sequence with
 * this name (any case) or id, or deployment id, run now whether it ran before or not (one that
 * is not yet available is refused), then the runs and state messages reported. *run gets the
 * run (the caller's: it is large). */
int agent_ts_run_now(const char *machine, const char *which, const struct agent_ts_options *o,
		     struct agent_logs *logs, struct agent_ts_run *run,
		     struct agent_ts_outcome *out, struct pp_error *err) PP_WARN_UNUSED;

/* The site's deployments for 'ts list' (the caller owns *answer) and what this machine ran of
 * each (*local, {"<deployment id>": {"run_id","state","at"}}; the caller owns it). */
int agent_ts_list(const char *machine, const char *ca_bundle, struct agent_ts_doc *doc,
		  json_t **local, struct pp_error *err) PP_WARN_UNUSED;

/* Sends every run whose latest state the site does not have (one request each); a run the
 * site refuses (4xx) is renamed *.rejected so that it never blocks the others. -1 (with the
 * runs kept) when the site cannot be reached. http holds the device credential. */
struct agent_http;
int agent_ts_report(const char *machine, struct agent_http *http, struct cmtrace_log *log,
		    size_t *reported, struct pp_error *err) PP_WARN_UNUSED;

/* Runs not yet reported (for status). */
int agent_ts_unreported(const char *machine, size_t *count, struct pp_error *err) PP_WARN_UNUSED;

/* The 'ts' verb of patchpoint-agent (list, run): argv[0] is "ts". Returns the exit code. */
int agent_ts_command(const char *machine, int argc, char **argv);

#endif
