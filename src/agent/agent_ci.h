/* agent_ci.h - the agent's evaluation of configuration baselines (DESIGN 5.8,
 * docs/internals/configuration-items.md): the baselines document of the site
 * (docs/internals/device-protocol.md "Configuration baselines"), checked whole; the evaluation
 * of each item, with remediation when the deployment asks for it; the reports, queued on disk
 * and sent when the site answers; and the cycle that does it on the deployments' schedules or
 * on demand. Everything it does is logged to CIAgent.log (struct agent_logs member ci).
 *
 * Per item, one state:
 *   certificate  Compliant when the certificate is in every store the item names (the logical
 *                store, local or policy layer); else, remediating, added to the local layer of
 *                each store that lacks it and checked again: Remediated, or Error with the code
 *                of what failed; not remediating: Non-compliant.
 *   script       the discovery script runs (/bin/sh, the item's time limit, PATCHPOINT_MACHINE
 *                set to the machine directory); a code other than 0, the time limit or a value
 *                not of the item's type: Error; the value equal to the expected one: Compliant;
 *                else, remediating with a remediation script, that script runs and the
 *                discovery script again: Remediated when the value is now the expected one,
 *                Non-compliant when not, Error when a script failed; else Non-compliant.
 * A baseline's state is its worst item's: Error, Non-compliant, Remediated, Compliant.
 *
 * What the agent keeps, under <machine>/agent/:
 *     baselines.json                 the last baselines document received, its ETag and time
 *     ci-state.json                  per baseline: when and at which content it was last
 *                                    evaluated, and the outcome (for status and the schedule)
 *     ci-queue/<19 digits>-<uuid>.json  reports the site has not taken yet
 *     ci/<item id>.<6 random>/       a script item's scripts while they run (removed after)
 * and <machine>/logs/CIAgent.out: what the scripts wrote. */
#ifndef PATCHPOINT_AGENT_CI_H
#define PATCHPOINT_AGENT_CI_H

#include "agent_http.h"
#include "agent_state.h"
#include "certstore.h"
#include "configitem.h"
#include "error.h"
#include "pki.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/x509.h>

#define AGENT_CI_BASELINES_PATH "/api/v1/device/baselines"
#define AGENT_CI_REPORTS_PATH	"/api/v1/device/baseline-reports"
#define AGENT_CI_MAX_BASELINES	1024
#define AGENT_CI_REPORT_BATCH	64 /* reports in one POST (the protocol's limit) */
#define AGENT_CI_JOB_LEN	38 /* "{" a UUID in upper case "}" */
#define AGENT_CI_FINGERPRINT	64 /* hex digits of a SHA-256 */
#define AGENT_CI_OUTPUT		"CIAgent.out"
/* HRESULT_FROM_WIN32(WAIT_TIMEOUT): "The wait operation timed out." (not in hresult.h's table). */
#define AGENT_CI_E_TIMEOUT 0x80070102u

/* One item of a baseline, decoded and checked. */
struct agent_ci_item {
	int64_t id, revision;
	char name[CONFIGITEM_NAME_MAX + 1];
	enum configitem_kind kind;
	/* certificate */
	char thumbprint[PKI_THUMBPRINT_LEN + 1];
	char subject[AGENT_SUBJECT_MAX + 1];
	X509 *cert;	 /* owned */
	unsigned stores; /* CONFIGITEM_STORE_* bits */
	/* script */
	char *discovery;   /* owned */
	char *remediation; /* owned; NULL: none */
	enum configitem_type data_type;
	char expected[CONFIGITEM_VALUE_MAX + 1]; /* canonical */
	unsigned timeout_seconds;
};

struct agent_ci_baseline {
	int64_t id, revision;
	char name[CONFIGITEM_NAME_MAX + 1];
	bool remediate;
	int64_t schedule_hours;
	int64_t deployment_ids[8]; /* the first ones, for the logs */
	size_t ndeployments;
	char fingerprint[AGENT_CI_FINGERPRINT + 1]; /* of the baseline as received: content */
	struct agent_ci_item *items;		    /* owned */
	size_t count;
};

struct agent_ci_doc {
	char version[AGENT_POLICY_VERSION_MAX + 1];
	struct agent_ci_baseline *baselines; /* owned */
	size_t count;
};

/* Checks a whole baselines document; NULL with ERROR_INVALID_DATA and a message naming the bad
 * field ("baselines[0].items[1].certificate.der is not base64"). Free with agent_ci_doc_free. */
struct agent_ci_doc *agent_ci_parse(const json_t *doc, struct pp_error *err) PP_WARN_UNUSED;

/* NULL is a no-op. */
void agent_ci_doc_free(struct agent_ci_doc *doc);

/* One item's outcome. */
struct agent_ci_result {
	int64_t item_id, revision;
	char name[CONFIGITEM_NAME_MAX + 1];
	enum configitem_state state;
	bool has_hresult;
	uint32_t hresult;
	bool has_exit_code;
	int exit_code;
	char detail[CONFIGITEM_DETAIL_MAX + 1];
};

/* One baseline's outcome. */
struct agent_ci_report {
	char id[AGENT_UUID_LEN + 1]; /* the report's, made when it is queued */
	char job[AGENT_CI_JOB_LEN + 1];
	long long time;
	int64_t baseline_id, revision;
	char name[CONFIGITEM_NAME_MAX + 1];
	enum configitem_state state;
	size_t counts[CONFIGITEM_STATE_COUNT];
	struct agent_ci_result *results; /* owned */
	size_t count;
};

void agent_ci_report_free(struct agent_ci_report *r);

/* Evaluates one baseline on machine (see the top of this file) with remediation when
 * b->remediate, logging to log (CIAgent.log; may be NULL). A failure of an item is its result;
 * -1 only when the evaluation cannot be made at all (out of memory, no random job id). */
int agent_ci_evaluate(const char *machine, const struct agent_ci_baseline *b,
		      struct cmtrace_log *log, struct agent_ci_report *out,
		      struct pp_error *err) PP_WARN_UNUSED;

/* ---- the cycle (agent_ci_cycle.c) ---- */

struct agent_ci_options {
	const char *ca_bundle;	   /* NULL or "": the one given at registration */
	bool force;		   /* evaluate every baseline now (trigger), not only those due */
	unsigned schedule_seconds; /* 0: each deployment's schedule_hours; else this (tests) */
};

/* What one cycle did. */
struct agent_ci_outcome {
	struct agent_ci_report *reports; /* owned, one per baseline evaluated */
	size_t count;
	size_t deployed;   /* baselines deployed to the device */
	size_t remediated; /* items remediated */
	bool offline;	   /* the site did not answer: the stored document was evaluated */
	char version[AGENT_POLICY_VERSION_MAX + 1];
};

void agent_ci_outcome_free(struct agent_ci_outcome *o);

/* One Configuration Baseline Evaluation of a registered machine: GET the baselines document
 * (If-None-Match: the stored ETag), keep it, and evaluate each baseline that is due (never
 * evaluated, changed since, or evaluated longer ago than its schedule; every one with force),
 * queueing one report per baseline. When the site cannot be reached the stored document is
 * evaluated (out->offline). -1 when the cycle cannot run (not registered, no document and no
 * site, a damaged state file). Sending the reports is agent_ci_flush's. */
int agent_ci_cycle(const char *machine, const struct agent_ci_options *o, struct agent_logs *logs,
		   struct agent_ci_outcome *out, struct pp_error *err) PP_WARN_UNUSED;

/* Writes a report into the queue (durably), giving it an id. */
int agent_ci_queue_add(const char *machine, struct agent_ci_report *r,
		       struct pp_error *err) PP_WARN_UNUSED;

/* Reports waiting in the queue (damaged files are not counted). */
int agent_ci_queue_count(const char *machine, size_t *count, struct pp_error *err) PP_WARN_UNUSED;

struct agent_ci_flush_result {
	size_t sent;	 /* reports the site took (accepted, duplicates, ignored) and removed */
	size_t accepted; /* of those, new to the site */
	size_t left;	 /* reports still queued */
};

/* Sends the queued reports in batches of AGENT_CI_REPORT_BATCH through h, removing each batch
 * once the site took it; logs to log (StateMessage.log; may be NULL). An empty queue sends
 * nothing. A report the site refuses (400 naming it) is set aside as <name>.rejected. -1 when
 * some stay queued (the site down). */
int agent_ci_flush(const char *machine, struct agent_http *h, struct cmtrace_log *log,
		   struct agent_ci_flush_result *res, struct pp_error *err) PP_WARN_UNUSED;

/* For status: {"baselines":[{"id","name","revision","state","evaluated_at","job",
 * "compliant",...}], "queued_reports":n}. The caller owns *out. */
int agent_ci_status(const char *machine, json_t **out, struct pp_error *err) PP_WARN_UNUSED;

/* The text of status for that object, and of trigger for an outcome (stdout). */
void agent_ci_print_status(const json_t *status);
void agent_ci_print_outcome(const struct agent_ci_outcome *o);

#endif
