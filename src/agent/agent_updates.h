/* agent_updates.h - the Software Updates Scan and Software Updates Deployment Evaluation cycles
 * (DESIGN 5.7, docs/internals/agent.md), and diagnose, which explains the last failed install.
 *
 *   scan:        for each update the stored machine policy deploys, fetch its SDP and content
 *                metadata (GET /api/v1/device/updates/{id}), evaluate its applicability rules
 *                (agent_rules.h) and queue a state message: required, not_required, installed;
 *   evaluation:  for each required update whose deployment is available: download the content
 *                (resuming), check its size and digests against the metadata, decide trust
 *                (trust.h, TRUST_POLICY_WSUS), extract it into a fresh staging directory, run the
 *                command-line handler with a time limit, map its exit code through the
 *                ReturnCode table and queue the result: installed, pending_reboot or failed.
 *
 * What the cycles keep, under <machine>/agent/:
 *
 *     updates.json                   per update: last scan, install by this agent, last failure
 *     updates/<id>.<rev>.xml, .json  the SDP and the content metadata as the server sent them
 *     cache/<SHA1>.cab(.part)        content, downloaded with resume
 *     staging/<id>.<6 random>/       the extracted content while its installer runs (mkdtemp)
 *
 * Every cycle writes state messages to the queue (agent_queue.h); sending them is the caller's
 * step (after each cycle). */
#ifndef PATCHPOINT_AGENT_UPDATES_H
#define PATCHPOINT_AGENT_UPDATES_H

#include "agent_queue.h"
#include "agent_state.h"
#include "error.h"
#include "sdp.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define AGENT_INSTALL_TIMEOUT_DEFAULT 7200 /* seconds an installer may run */
#define AGENT_INSTALL_TIMEOUT_MAX     (7 * 86400)
#define AGENT_UPDATES_PATH	      "/api/v1/device/updates/"
#define AGENT_TITLE_MAX		      255 /* bytes of a title kept and printed */
#define AGENT_HANDLER_ARGS_MAX	      64  /* words of the handler's Arguments */
#define AGENT_HANDLER_OUTPUT	      "UpdatesHandler.out"

struct agent_updates_options {
	const char *ca_bundle;	      /* NULL or "": the one given at registration */
	unsigned install_timeout;     /* seconds; 0 = AGENT_INSTALL_TIMEOUT_DEFAULT */
	volatile const int *stopping; /* NULL, or set when the agent is asked to stop */
	/* the Configuration Baseline Evaluation cycle (agent_ci.h) */
	bool ci_force;		      /* every baseline now, not only those due */
	unsigned ci_schedule_seconds; /* 0: the deployments' schedules */
};

/* What a cycle found or did for one update. */
struct agent_update_report {
	char update_id[AGENT_UUID_LEN + 1];
	char title[AGENT_TITLE_MAX + 1];
	/* "required", "not_required", "installed", "pending_reboot", "failed"; an evaluation
	 * also reports "waiting" (deployed but not yet available) */
	const char *state;
	bool has_hresult;
	uint32_t hresult;
	char detail[AGENT_QUEUE_DETAIL_MAX + 1];
	long long available_at; /* "waiting": when the deployment becomes available */
};

struct agent_updates_outcome {
	struct agent_update_report *reports; /* owned, one per deployed update */
	size_t count;
	size_t required; /* reports with state "required" */
	size_t failed;	 /* reports with state "failed" */
	bool policy_run; /* there was no machine policy: the policy cycle ran first */
};

void agent_updates_outcome_free(struct agent_updates_outcome *o);

/* "Required", "Not Required", "Installed", "Pending Restart", "Failed", "Waiting": a state as the
 * logs and the command line write it. */
const char *agent_update_state_label(const char *state);

/* One Software Updates Scan of a registered machine (see the top of this file). Runs the machine
 * policy cycle first when no policy is stored. A failure to fetch or read one update is reported
 * for it (state "failed", with its code) and the others go on; -1 only when the cycle cannot run
 * at all (not registered, no policy, a damaged state file). */
int agent_updates_scan(const char *machine, const struct agent_updates_options *o,
		       struct agent_logs *logs, struct agent_updates_outcome *out,
		       struct pp_error *err) PP_WARN_UNUSED;

/* One Software Updates Deployment Evaluation: installs what the last scan found required, once
 * its deployment is available (updates not scanned yet, or scanned at another revision, are
 * scanned first). Leftover staging directories of a killed agent are removed first. Failures
 * are per update, as in the scan. */
int agent_updates_evaluate(const char *machine, const struct agent_updates_options *o,
			   struct agent_logs *logs, struct agent_updates_outcome *out,
			   struct pp_error *err) PP_WARN_UNUSED;

/* Removes every directory under <machine>/agent/staging (what a killed agent left); logs each
 * to log. Call with the cycle lock held. */
int agent_updates_clean_staging(const char *machine, struct cmtrace_log *log,
				struct pp_error *err) PP_WARN_UNUSED;

/* ---- pieces, exposed for the tests ---- */

/* An update's applicability on this machine. */
struct agent_applicability {
	const char *state;			 /* "required", "not_required" or "installed" */
	const struct sdp_item *item;		 /* the first installable item, the one installed */
	char reason[AGENT_QUEUE_DETAIL_MAX + 1]; /* the deciding rule, for not_required and
						    installed */
};

/* The rules of DESIGN 5.5 on this machine (agent_rules.h), each logged to log: package
 * IsInstallable false or not applicable -> not_required; package IsInstalled true -> installed;
 * no item installable -> not_required; the first installable item's IsInstalled true ->
 * installed; a rule not applicable on Linux -> not_required; no IsInstalled rule at all and
 * installed_revision (what this agent installed, 0: nothing) equal to revision -> installed;
 * otherwise required. An absent IsInstallable is true. -1 for a malformed rule. */
int agent_updates_applicability(const struct sdp_package *p, long long revision,
				long long installed_revision, struct cmtrace_log *log,
				struct agent_applicability *a, struct pp_error *err) PP_WARN_UNUSED;

/* Checks that path is a regular file of size bytes with these digests (hex, any case): 0, or -1
 * with WU_E_DM_INCORRECTFILEHASH naming what differs (or the I/O error). */
int agent_updates_check_digests(const char *path, uint64_t size, const char *sha1_hex,
				const char *sha256_hex, struct pp_error *err) PP_WARN_UNUSED;

/* The result of running a handler. */
struct agent_handler_result {
	const char *state; /* "installed", "pending_reboot" or "failed" */
	uint32_t hresult;  /* for "failed" */
	int exit_code;	   /* -1 when the program did not exit by itself */
	bool timed_out;	   /* killed at the time limit */
	char detail[AGENT_QUEUE_DETAIL_MAX + 1];
};

/* What exit code means under cl's ReturnCode table: a listed code has its Result and Reboot;
 * an unlisted 0 succeeds (with RebootByDefault); any other unlisted code gets DefaultResult.
 * Failed and Cancelled become "failed" with HRESULT_FROM_WIN32(code), 0x80070000 | code (E_FAIL
 * for 0). */
void agent_updates_map_exit(const struct sdp_command_line *cl, int exit_code,
			    struct agent_handler_result *res);

/* Runs cl's Program (relative to dir) with its Arguments in dir: no shell, except that a program
 * whose name ends in ".sh" or that is not an ELF file runs as /bin/sh PROGRAM ARGS...; stdin
 * /dev/null, stdout and stderr appended to output_path; its own process group, killed (all of
 * it) after timeout seconds. 0 with res filled (the installer's own failure is a result, not an
 * error); -1 when it cannot be started (ERROR_FILE_NOT_FOUND for a missing program). */
int agent_updates_run_handler(const struct sdp_command_line *cl, const char *dir, unsigned timeout,
			      const char *output_path, struct cmtrace_log *log,
			      struct agent_handler_result *res,
			      struct pp_error *err) PP_WARN_UNUSED;

#define AGENT_HANDLER_ENV_MAX 16 /* entries of agent_handler_extra.env */

/* What agent_updates_run_handler_ex adds to agent_updates_run_handler (the Run Command Line step
 * of a task sequence, agent_ts.h). */
struct agent_handler_extra {
	/* NULL, or up to AGENT_HANDLER_ENV_MAX "NAME=value" strings (NULL-terminated) put into the
	 * environment before the fixed PATH, LANG and HOME, which one of the same name replaces. */
	const char *const *env;
	/* A Program that is not a file of dir may be an absolute path, or a name without '/'
	 * found in the environment's PATH: run as it is (no /bin/sh, no chmod). */
	bool search_path;
};

/* agent_updates_run_handler with extra (NULL: the same as agent_updates_run_handler). */
int agent_updates_run_handler_ex(const struct sdp_command_line *cl, const char *dir,
				 unsigned timeout, const char *output_path, struct cmtrace_log *log,
				 const struct agent_handler_extra *extra,
				 struct agent_handler_result *res,
				 struct pp_error *err) PP_WARN_UNUSED;

/* Splits Arguments into words: spaces and tabs separate them, double quotes group, \" is a
 * quote; nothing else is special (no shell expansion). Words point into buf (strlen(args) + 1
 * bytes). -1 with E_INVALIDARG for more than max words or an unclosed quote. */
int agent_updates_split_arguments(const char *args, char *buf, char **words, size_t max,
				  size_t *count, struct pp_error *err) PP_WARN_UNUSED;

/* ---- diagnose ---- */

/* Why the last install of each update failed (those that failed and have not installed since),
 * with what the machine looks like now: {"failures":[{"update_id","title","revision",
 * "deployment_id","time","hresult","symbol","message","phase","detail","signer":{...}|null,
 * "accept_trusted_publisher_certs":{...}|null,"third_party":{...}|null,"explanation"}]}. The
 * explanation is one paragraph in plain words. The caller owns *report. */
int agent_updates_diagnose(const char *machine, json_t **report,
			   struct pp_error *err) PP_WARN_UNUSED;

#endif
