/* agent_run.c - one cycle with its lock and flush, and the daemon's schedule (see agent_run.h).
 *
 * The daemon sleeps in poll(2) on a self-pipe that the SIGTERM/SIGINT handler writes to, so a
 * signal that arrives just before the sleep still ends it. A cycle in progress is not
 * interrupted: the handler only sets a flag, which the loops over updates check between two
 * updates (an installer already running is waited for). */
#include "agent_run.h"

#include "agent_http.h"
#include "hresult.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SCHEDULE_FILE	   "schedule.json"
#define SCHEDULE_AGAIN	   "remove it; the agent then runs every cycle at its next start"
#define DEFAULT_POLL_SECS  3600.0
#define DEFAULT_DAYS	   7.0
#define DAY_SECS	   86400.0
#define SCAN_JITTER_SECS   7200.0 /* DESIGN 5.6: up to 2 hours for scans */
#define BACKOFF_START_SECS 30.0
#define MAX_SLEEP_SECS	   3600.0
#define GPO_REFRESH_SECS   5400.0 /* DESIGN 5.8: every 90 minutes ... */
#define GPO_JITTER_SECS	   1800.0 /* ... plus a random 0 to 30 */

static const char *const cycle_titles[] = {
    "Machine Policy Retrieval & Evaluation",  "Software Updates Scan",
    "Software Updates Deployment Evaluation", "Group Policy Refresh",
    "Configuration Baseline Evaluation",      "Task Sequence Evaluation"};
static const char *const cycle_keys[] = {"machine_policy", "scan",	    "evaluation",
					 "group_policy",   "ci_evaluation", "task_sequence"};

const char *agent_cycle_title(enum agent_cycle c)
{
	return c < AGENT_CYCLE_COUNT ? cycle_titles[c] : "cycle";
}

void agent_cycle_result_free(struct agent_cycle_result *r)
{
	if (r == NULL)
		return;
	agent_updates_outcome_free(&r->updates);
	agent_ci_outcome_free(&r->ci);
	memset(r, 0, sizeof(*r));
}

/* ---- schedule.json: when each cycle last succeeded ---- */

static int schedule_path(const char *machine, char *out, size_t size, struct pp_error *err)
{
	return agent_state_path(machine, SCHEDULE_FILE, out, size, err);
}

static void schedule_read(const char *machine, long long last[AGENT_CYCLE_COUNT])
{
	char path[AGENT_PATH_MAX];
	struct pp_error e;
	json_t *doc = NULL;
	int i;

	memset(last, 0, sizeof(long long) * AGENT_CYCLE_COUNT);
	pp_error_clear(&e);
	if (schedule_path(machine, path, sizeof(path), &e) != 0 ||
	    agent_state_read_object(path, AGENT_STATE_FILE_MAX, SCHEDULE_AGAIN, &doc, &e) != 0)
		return; /* a damaged schedule only means every cycle runs soon */
	for (i = 0; i < AGENT_CYCLE_COUNT; i++)
		if (json_is_integer(json_object_get(doc, cycle_keys[i])))
			last[i] =
			    (long long)json_integer_value(json_object_get(doc, cycle_keys[i]));
	json_decref(doc);
}

static int schedule_note(const char *machine, enum agent_cycle c, long long when,
			 struct pp_error *err)
{
	long long last[AGENT_CYCLE_COUNT];
	char path[AGENT_PATH_MAX];
	json_t *doc;
	int i, rc;

	schedule_read(machine, last);
	last[c] = when;
	if (schedule_path(machine, path, sizeof(path), err) != 0)
		return -1;
	doc = json_object();
	for (i = 0; doc != NULL && i < AGENT_CYCLE_COUNT; i++)
		if (last[i] > 0)
			(void)json_object_set_new(doc, cycle_keys[i], json_integer(last[i]));
	if (doc == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
		return -1;
	}
	rc = agent_state_write_object(path, doc, 0644, err);
	json_decref(doc);
	return rc;
}

/* ---- one cycle ---- */

/* Sends the queue with the device credential; the outcome goes into res. */
static void flush_queue(const char *machine, const struct agent_updates_options *o,
			struct agent_logs *logs, struct agent_cycle_result *res)
{
	struct agent_identity id;
	struct agent_http *http = NULL;
	const char *ca;

	pp_error_clear(&res->flush_err);
	pp_error_clear(&res->ci_flush_err);
	res->flush_failed = res->ci_flush_failed = true;
	if (agent_state_require_identity(machine, &id, &res->flush_err) != 0)
		goto out;
	ca = o != NULL && o->ca_bundle != NULL && o->ca_bundle[0] != '\0' ? o->ca_bundle
									  : id.ca_bundle;
	http = agent_http_new(id.server, ca, &res->flush_err);
	if (http == NULL || agent_http_set_credential(http, id.credential, &res->flush_err) != 0)
		goto out;
	res->flush_failed = agent_queue_flush(machine, http, logs != NULL ? logs->state : NULL,
					      &res->flush, &res->flush_err) != 0;
	/* The baseline reports go the same way (agent_ci.h); an empty queue sends nothing. */
	res->ci_flush_failed = agent_ci_flush(machine, http, logs != NULL ? logs->state : NULL,
					      &res->ci_flush, &res->ci_flush_err) != 0;
	/* Task sequence runs not reported yet go with the same contact (agent_ts.h). */
	{
		struct pp_error e;
		size_t n = 0;

		pp_error_clear(&e);
		if (agent_ts_report(machine, http, logs != NULL ? logs->state : NULL, &n, &e) != 0)
			agent_log(logs != NULL ? logs->state : NULL, CMTRACE_WARNING,
				  "Task sequence runs stay queued: %s", e.message);
	}
out:
	if (res->ci_flush_failed && res->ci_flush_err.code == 0)
		pp_error_set(&res->ci_flush_err, res->flush_err.code, "%s", res->flush_err.message);
	agent_http_free(http);
	agent_identity_wipe(&id);
}

int agent_run_cycle(const char *machine, enum agent_cycle cycle,
		    const struct agent_updates_options *o, struct agent_logs *logs,
		    struct agent_cycle_result *res, struct pp_error *err)
{
	struct pp_error e;
	int lock = -1, rc = -1;

	memset(res, 0, sizeof(*res));
	if (agent_state_lock(machine, &lock, err) != 0)
		return -1;
	switch (cycle) {
	case AGENT_CYCLE_MACHINE_POLICY:
		rc = agent_policy_cycle(machine, o != NULL ? o->ca_bundle : NULL, logs,
					&res->policy, err);
		break;
	case AGENT_CYCLE_SCAN:
		rc = agent_updates_scan(machine, o, logs, &res->updates, err);
		break;
	case AGENT_CYCLE_GROUP_POLICY:
		rc = agent_gpo_update(machine, o != NULL ? o->ca_bundle : NULL, false, logs,
				      &res->gpo, err);
		break;
	case AGENT_CYCLE_CI_EVALUATION: {
		struct agent_ci_options co = {o != NULL ? o->ca_bundle : NULL,
					      o != NULL && o->ci_force,
					      o != NULL ? o->ci_schedule_seconds : 0};

		rc = agent_ci_cycle(machine, &co, logs, &res->ci, err);
		break;
	}
	case AGENT_CYCLE_TASK_SEQUENCE: {
		struct agent_ts_options to = {o != NULL ? o->ca_bundle : NULL,
					      o != NULL ? o->install_timeout : 0,
					      o != NULL ? o->stopping : NULL};

		rc = agent_ts_cycle(machine, &to, logs, &res->ts, err);
		break;
	}
	default:
		rc = agent_updates_evaluate(machine, o, logs, &res->updates, err);
		break;
	}
	pp_error_clear(&e);
	if (rc == 0 && schedule_note(machine, cycle, (long long)time(NULL), &e) != 0)
		agent_log(logs != NULL ? logs->exec : NULL, CMTRACE_WARNING, "%s", e.message);
	/* Whatever the cycle did, what it queued (and what earlier ones left) goes now. */
	flush_queue(machine, o, logs, res);
	agent_state_unlock(lock);
	return rc;
}

/* ---- the daemon ---- */

static volatile sig_atomic_t stop_signal;
static int wake_pipe[2] = {-1, -1};

static void on_stop(int sig)
{
	int saved = errno;
	char b = 1;

	stop_signal = sig;
	if (wake_pipe[1] >= 0)
		(void)!write(wake_pipe[1], &b, 1);
	errno = saved;
}

static int signals_install(struct pp_error *err)
{
	struct sigaction sa;

	if (wake_pipe[0] < 0 && pipe2(wake_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
		pp_error_set_errno(err, errno, "cannot create the wake-up pipe");
		return -1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGTERM, &sa, NULL) != 0 || sigaction(SIGINT, &sa, NULL) != 0) {
		pp_error_set_errno(err, errno, "cannot handle SIGTERM");
		return -1;
	}
	(void)signal(SIGPIPE, SIG_IGN);
	return 0;
}

static double now_mono(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Sleeps until the monotonic time t or a stop signal. */
static void sleep_until(double t)
{
	struct pollfd p = {wake_pipe[0], POLLIN, 0};
	double left;
	char drain[16];

	while (!stop_signal && (left = t - now_mono()) > 0) {
		if (left > MAX_SLEEP_SECS)
			left = MAX_SLEEP_SECS;
		if (poll(&p, 1, (int)(left * 1000.0) + 1) > 0)
			while (read(wake_pipe[0], drain, sizeof(drain)) > 0)
				;
	}
}

/* A random delay in [0, max) seconds (getrandom; none when it fails). */
static double jitter(double max)
{
	unsigned r = 0;
	struct pp_error e;

	pp_error_clear(&e);
	if (max <= 0 || agent_state_random(&r, sizeof(r), &e) != 0)
		return 0;
	return max * ((double)r / 4294967296.0);
}

struct schedule {
	double interval[AGENT_CYCLE_COUNT]; /* seconds */
	double jitter[AGENT_CYCLE_COUNT];   /* largest random delay */
	double backoff_start, backoff_max;
	double next[AGENT_CYCLE_COUNT];	   /* monotonic time of the next run */
	double backoff[AGENT_CYCLE_COUNT]; /* 0: the last run succeeded */
};

/* A setting's number from the stored policy, if it is one in [min, max]. */
static double setting(const json_t *policy, const char *key, double min, double max, double dflt)
{
	const json_t *v =
	    json_object_get(json_object_get(json_object_get(policy, "settings"), key), "value");
	double d;

	if (!json_is_number(v))
		return dflt;
	d = json_number_value(v);
	return d >= min && d <= max ? d : dflt;
}

/* Intervals from the resultant settings of the stored policy (or --poll-seconds). */
static void schedule_intervals(const struct agent_run_options *o, struct schedule *s)
{
	struct agent_stored_policy sp = {0};
	struct pp_error e;
	bool present = false;
	double n = (double)o->poll_seconds;

	pp_error_clear(&e);
	if (o->poll_seconds > 0) {
		for (size_t c = 0; c < AGENT_CYCLE_COUNT; c++) {
			s->interval[c] = n;
			s->jitter[c] = n / 4;
		}
		s->backoff_start = n / 4 < 1 ? 1 : n / 4;
		s->backoff_max = n;
		return;
	}
	if (agent_state_load_policy(o->machine, &sp, &present, &e) != 0)
		present = false;
	s->interval[AGENT_CYCLE_MACHINE_POLICY] =
	    present ? 60.0 * setting(sp.policy, "client_policy.polling_interval_minutes", 1, 44640,
				     DEFAULT_POLL_SECS / 60)
		    : DEFAULT_POLL_SECS;
	s->interval[AGENT_CYCLE_SCAN] =
	    DAY_SECS * (present ? setting(sp.policy, "software_updates.scan_interval_days", 1, 365,
					  DEFAULT_DAYS)
				: DEFAULT_DAYS);
	s->interval[AGENT_CYCLE_EVALUATION] =
	    DAY_SECS * (present ? setting(sp.policy, "software_updates.reevaluation_interval_days",
					  1, 365, DEFAULT_DAYS)
				: DEFAULT_DAYS);
	s->jitter[AGENT_CYCLE_MACHINE_POLICY] = s->interval[AGENT_CYCLE_MACHINE_POLICY] / 10;
	/* Baselines arrive with the polling interval; each is evaluated on its own schedule. */
	s->interval[AGENT_CYCLE_CI_EVALUATION] = s->interval[AGENT_CYCLE_MACHINE_POLICY];
	s->jitter[AGENT_CYCLE_CI_EVALUATION] = s->jitter[AGENT_CYCLE_MACHINE_POLICY];
	s->jitter[AGENT_CYCLE_SCAN] = s->jitter[AGENT_CYCLE_EVALUATION] = SCAN_JITTER_SECS;
	s->interval[AGENT_CYCLE_GROUP_POLICY] = GPO_REFRESH_SECS;
	s->jitter[AGENT_CYCLE_GROUP_POLICY] = GPO_JITTER_SECS;
	/* Task sequences are checked as often as machine policy (they are deployed like it). */
	s->interval[AGENT_CYCLE_TASK_SEQUENCE] = s->interval[AGENT_CYCLE_MACHINE_POLICY];
	s->jitter[AGENT_CYCLE_TASK_SEQUENCE] = s->jitter[AGENT_CYCLE_MACHINE_POLICY];
	s->backoff_start = BACKOFF_START_SECS;
	s->backoff_max = s->interval[AGENT_CYCLE_MACHINE_POLICY];
	agent_stored_policy_free(&sp);
}

static void schedule_after(struct schedule *s, enum agent_cycle c, double t)
{
	s->next[c] = t + s->interval[c] + jitter(s->jitter[c]);
}

/* After a run of cycle c: the next runs of it and of the cycles it sets off. */
static void schedule_update(const struct agent_run_options *o, struct schedule *s,
			    enum agent_cycle c, int rc, const struct pp_error *err,
			    const struct agent_cycle_result *r, const char *before,
			    struct agent_logs *logs)
{
	double t = now_mono();
	size_t i;
	long long wall = (long long)time(NULL), soonest = 0;

	if (rc != 0 || r->updates.failed > 0) {
		s->backoff[c] = s->backoff[c] == 0 ? s->backoff_start : s->backoff[c] * 2;
		if (s->backoff[c] > s->backoff_max)
			s->backoff[c] = s->backoff_max;
		s->next[c] = t + s->backoff[c];
		/* One line per attempt: the back-off step says when the next one is. */
		if (rc != 0)
			agent_log(logs->exec, CMTRACE_ERROR,
				  "%s failed: %s; next attempt in %.0f s", agent_cycle_title(c),
				  err->message, s->backoff[c]);
		else
			agent_log(logs->exec, CMTRACE_WARNING,
				  "%s reported %zu failed update(s); next attempt in %.0f s",
				  agent_cycle_title(c), r->updates.failed, s->backoff[c]);
		return;
	}
	s->backoff[c] = 0;
	if (c == AGENT_CYCLE_MACHINE_POLICY) {
		schedule_intervals(o, s);
		schedule_after(s, c, t);
		/* New or changed deployments are scanned at once. */
		if (strcmp(before, r->policy.version) != 0 && r->policy.deployments > 0)
			s->next[AGENT_CYCLE_SCAN] = t;
		/* Task sequence deployments are looked for after every machine policy. */
		s->next[AGENT_CYCLE_TASK_SEQUENCE] = t;
		return;
	}
	if (c == AGENT_CYCLE_TASK_SEQUENCE) {
		schedule_after(s, c, t);
		if (r->ts.next_available > 0 &&
		    t + (double)(r->ts.next_available - wall) < s->next[c])
			s->next[c] = t + (double)(r->ts.next_available - wall) + 1;
		return;
	}
	schedule_after(s, c, t);
	if (c == AGENT_CYCLE_CI_EVALUATION && r->ci.remediated > 0)
		s->next[AGENT_CYCLE_EVALUATION] = t;
	if (c == AGENT_CYCLE_SCAN && r->updates.required > 0)
		s->next[AGENT_CYCLE_EVALUATION] = t;
	for (i = 0; i < r->updates.count; i++)
		if (strcmp(r->updates.reports[i].state, "waiting") == 0 &&
		    (soonest == 0 || r->updates.reports[i].available_at < soonest))
			soonest = r->updates.reports[i].available_at;
	if (soonest > 0 && t + (double)(soonest - wall) < s->next[AGENT_CYCLE_EVALUATION])
		s->next[AGENT_CYCLE_EVALUATION] = t + (double)(soonest - wall) + 1;
}

/* The version of the stored policy ("" when none), to see whether a cycle changed it. */
static void stored_version(const char *machine, char out[AGENT_POLICY_VERSION_MAX + 1])
{
	struct agent_stored_policy sp = {0};
	struct pp_error e;
	bool present = false;

	out[0] = '\0';
	pp_error_clear(&e);
	if (agent_state_load_policy(machine, &sp, &present, &e) == 0 && present)
		memcpy(out, sp.version, sizeof(sp.version));
	agent_stored_policy_free(&sp);
}

static int run_step(const struct agent_run_options *o, const struct agent_updates_options *uo,
		    struct agent_logs *logs, struct schedule *s, enum agent_cycle c)
{
	struct agent_cycle_result r;
	struct pp_error e;
	char before[AGENT_POLICY_VERSION_MAX + 1];
	int rc;

	pp_error_clear(&e);
	stored_version(o->machine, before);
	rc = agent_run_cycle(o->machine, c, uo, logs, &r, &e);
	if (s != NULL)
		schedule_update(o, s, c, rc, &e, &r, before, logs);
	else if (rc != 0)
		agent_log(logs->exec, CMTRACE_ERROR, "%s failed: %s", agent_cycle_title(c),
			  e.message);
	if (rc == 0 &&
	    (r.updates.failed > 0 || r.ts.failed > 0 || r.flush_failed || r.ci_flush_failed))
		rc = 1;
	agent_cycle_result_free(&r);
	return rc;
}

int agent_run(const struct agent_run_options *o, struct agent_logs *logs, struct pp_error *err)
{
	/* --once: group policy and the baselines before the updates, so that the trust they
	 * deliver is in place. */
	static const enum agent_cycle once_order[] = {
	    AGENT_CYCLE_MACHINE_POLICY, AGENT_CYCLE_GROUP_POLICY, AGENT_CYCLE_CI_EVALUATION,
	    AGENT_CYCLE_SCAN,		AGENT_CYCLE_EVALUATION,	  AGENT_CYCLE_TASK_SEQUENCE};
	struct agent_updates_options uo = {o->ca_bundle, o->install_timeout,
					   (volatile const int *)&stop_signal, false,
					   o->poll_seconds};
	long long last[AGENT_CYCLE_COUNT], wall = (long long)time(NULL);
	struct agent_identity id;
	struct agent_cycle_result r;
	struct schedule s;
	double t = now_mono(), due;
	int c, k, lock = -1, failed = 0;

	memset(&s, 0, sizeof(s));
	stop_signal = 0;
	if (agent_state_require_identity(o->machine, &id, err) != 0)
		return -1;
	agent_identity_wipe(&id);
	if (signals_install(err) != 0 || agent_state_lock(o->machine, &lock, err) != 0)
		return -1;
	/* Whatever a killed agent was installing is gone with it. */
	if (agent_updates_clean_staging(o->machine, logs->handler, err) != 0) {
		agent_state_unlock(lock);
		return -1;
	}
	agent_state_unlock(lock);
	if (o->once) {
		for (c = 0; c < (int)(sizeof(once_order) / sizeof(once_order[0])) && !stop_signal;
		     c++)
			if (run_step(o, &uo, logs, NULL, once_order[c]) != 0)
				failed = 1;
		if (failed) {
			pp_error_set(err, HR_E_FAIL,
				     "a step of the run failed; see the logs in %s/logs and "
				     "'patchpoint-agent diagnose'",
				     o->machine);
			return -1;
		}
		return 0;
	}
	schedule_intervals(o, &s);
	schedule_read(o->machine, last);
	s.next[AGENT_CYCLE_MACHINE_POLICY] = t;
	for (c = AGENT_CYCLE_SCAN; c < AGENT_CYCLE_COUNT; c++) {
		/* A cycle that never ran, or not within its interval, runs after the first policy;
		 * otherwise on its own schedule. --poll-seconds always starts afresh. */
		due = last[c] > 0 && o->poll_seconds == 0
			  ? t + (double)(last[c] - wall) + s.interval[c] + jitter(s.jitter[c])
			  : t;
		s.next[c] = due > t ? due : t;
	}
	agent_log(logs->exec, CMTRACE_INFO,
		  "patchpoint-agent run started (pid %ld): machine policy every %.0f s, software "
		  "updates scan every %.0f s, deployment re-evaluation every %.0f s, group policy "
		  "every %.0f s, configuration baselines checked every %.0f s, task sequences "
		  "every %.0f s",
		  (long)getpid(), s.interval[AGENT_CYCLE_MACHINE_POLICY],
		  s.interval[AGENT_CYCLE_SCAN], s.interval[AGENT_CYCLE_EVALUATION],
		  s.interval[AGENT_CYCLE_GROUP_POLICY], s.interval[AGENT_CYCLE_CI_EVALUATION],
		  s.interval[AGENT_CYCLE_TASK_SEQUENCE]);
	while (!stop_signal) {
		k = 0;
		for (c = 1; c < AGENT_CYCLE_COUNT; c++)
			if (s.next[c] < s.next[k])
				k = c;
		sleep_until(s.next[k]);
		if (stop_signal)
			break;
		(void)run_step(o, &uo, logs, &s, (enum agent_cycle)k);
	}
	agent_log(logs->exec, CMTRACE_INFO, "Stopping on signal %d; sending the queue",
		  (int)stop_signal);
	memset(&r, 0, sizeof(r));
	if (agent_state_lock(o->machine, &lock, err) == 0) {
		flush_queue(o->machine, &uo, logs, &r);
		agent_state_unlock(lock);
	}
	agent_log(logs->exec, CMTRACE_INFO, "patchpoint-agent run stopped");
	return 0;
}
