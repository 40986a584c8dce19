/* agent_run.h - running the client's cycles: one at a time (trigger), or on their schedules as a
 * daemon (run), each under the machine's cycle lock and followed by sending the state message
 * queue (docs/internals/agent.md "The daemon").
 *
 * Schedules (DESIGN 5.6), from the resultant client settings of the stored policy:
 *   machine policy     every client_policy.polling_interval_minutes, plus a random delay of up
 *                      to a tenth of it; the first at start;
 *   scan               every software_updates.scan_interval_days plus a random delay of up to
 *                      2 hours; at once after a machine policy that changed and deploys
 *                      something, and at start when the last scan is older than the interval;
 *   evaluation         after each scan that found something required, when a waiting
 *                      deployment becomes available, and every reevaluation_interval_days plus
 *                      a random delay of up to 2 hours;
 *   group policy       every 90 minutes plus a random delay of up to 30 (DESIGN 5.8), as
 *                      Windows' background refresh; after the first machine policy at start
 *                      when the last one is older than that (agent_gpo.h);
 *   configuration baseline evaluation
 *                      every polling interval, each deployed baseline evaluated when it is due
 *                      (agent_ci.h); the deployment evaluation at once after one that
 *                      remediated something (trust may have come with it);
 *   task sequences     after each machine policy, when a deployment not yet available becomes
 *                      so, and every polling interval (a failed run is not retried: each
 *                      deployment runs once).
 * A cycle that fails (or reports a failed update) is tried again after a back-off: 30 s,
 * doubling up to the polling interval. --poll-seconds N (tests) makes every interval N seconds,
 * every random delay at most N/4 and the back-off start at N/4 (at least 1 s). */
#ifndef PATCHPOINT_AGENT_RUN_H
#define PATCHPOINT_AGENT_RUN_H

#include "agent_gpo.h"
#include "agent_ci.h"
#include "agent_policy.h"
#include "agent_queue.h"
#include "agent_state.h"
#include "agent_ts.h"
#include "agent_updates.h"
#include "error.h"

#include <stdbool.h>

enum agent_cycle {
	AGENT_CYCLE_MACHINE_POLICY = 0,
	AGENT_CYCLE_SCAN,
	AGENT_CYCLE_EVALUATION,
	AGENT_CYCLE_GROUP_POLICY,  /* the background refresh of group policy (agent_gpo.h) */
	AGENT_CYCLE_CI_EVALUATION, /* agent_ci.h */
	AGENT_CYCLE_TASK_SEQUENCE, /* agent_ts.h: newly available deployments run once */
	AGENT_CYCLE_COUNT
};

/* "Machine Policy Retrieval & Evaluation", "Software Updates Scan", "Software Updates
 * Deployment Evaluation", "Group Policy Refresh", "Configuration Baseline Evaluation", "Task
 * Sequence Evaluation". */
const char *agent_cycle_title(enum agent_cycle c);

/* What one cycle and the flush after it did. */
struct agent_cycle_result {
	struct agent_policy_outcome policy;   /* AGENT_CYCLE_MACHINE_POLICY */
	struct agent_updates_outcome updates; /* scan and evaluation */
	struct agent_gpo_outcome gpo;	      /* AGENT_CYCLE_GROUP_POLICY */
	struct agent_ts_outcome ts;	      /* AGENT_CYCLE_TASK_SEQUENCE */
	struct agent_queue_flush_result flush;
	bool flush_failed;
	struct pp_error flush_err;
	struct agent_ci_outcome ci; /* AGENT_CYCLE_CI_EVALUATION */
	struct agent_ci_flush_result ci_flush;
	bool ci_flush_failed;
	struct pp_error ci_flush_err;
};

void agent_cycle_result_free(struct agent_cycle_result *r);

/* Runs cycle under the cycle lock (waiting for another agent's cycle), records its time in
 * schedule.json when it succeeded, then sends the queue (a failure to send is in
 * res->flush_failed, not the result). -1 when the cycle itself failed. */
int agent_run_cycle(const char *machine, enum agent_cycle cycle,
		    const struct agent_updates_options *o, struct agent_logs *logs,
		    struct agent_cycle_result *res, struct pp_error *err) PP_WARN_UNUSED;

struct agent_run_options {
	const char *machine;
	const char *ca_bundle;	  /* NULL: the one given at registration */
	bool once;		  /* each cycle once (baselines before updates), then return */
	unsigned poll_seconds;	  /* 0: the schedules of the policy; else see the top */
	unsigned install_timeout; /* 0: AGENT_INSTALL_TIMEOUT_DEFAULT */
};

/* The daemon: runs the cycles on their schedules until SIGTERM or SIGINT, then finishes the
 * step it is in, sends the queue if it can and returns 0. With once: returns -1 when any step
 * failed (a cycle, an update, or sending the queue). Removes staging directories a killed agent
 * left before anything else. */
int agent_run(const struct agent_run_options *o, struct agent_logs *logs,
	      struct pp_error *err) PP_WARN_UNUSED;

#endif
