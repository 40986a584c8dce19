/* syncmgr.c - one thread running synchronizations, on a schedule and on demand. See syncmgr.h
 * and docs/internals/certmgr.md for the wsyncmgr.log lines. */
#include "syncmgr.h"

#include "hresult.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SYNC_STEPS 2

struct syncmgr {
	struct syncmgr_options opt;
	struct store *store; /* the thread's connection */
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	int64_t pending; /* id of a sync started on demand and not yet run, 0 = none */
	bool stop;
	time_t due; /* next scheduled sync, 0 = none */
};

static double now_seconds(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int step(struct syncmgr *m, int64_t id, int number, const char *name, struct pp_error *err)
{
	srvlog_write(m->opt.log, CMTRACE_INFO, "Sync %lld: step %d of %d, %s", (long long)id,
		     number, SYNC_STEPS, name);
	return store_sync_set_step(m->store, id, name, err);
}

/* Step 1: the software update point the hierarchy synchronizes with. */
static int step_sup(struct syncmgr *m, int64_t id, struct pp_error *err)
{
	struct store_site top;
	struct store_sup sup;

	if (step(m, id, 1, "software update point", err) != 0 ||
	    store_top_level_site(m->store, &top, err) != 0)
		return -1;
	if (store_sup_sync_source(m->store, top.code, &sup, err) != 0) {
		pp_error_clear(err);
		pp_error_set(err, HR_CRYPT_E_NOT_FOUND,
			     "the top-level site %s has no sync-source software update point",
			     top.code);
		return -1;
	}
	srvlog_write(m->opt.log, CMTRACE_INFO,
		     "Sync %lld: software update point %s (%s) of the top-level site %s",
		     (long long)id, sup.url, sup.location == STORE_SUP_LOCAL ? "local" : "remote",
		     top.code);
	return 0;
}

/* Step 2: the signing certificate (DESIGN 5.1). */
static int step_certificate(struct syncmgr *m, int64_t id, struct pp_error *err)
{
	struct certmgr cm = m->opt.certmgr;
	struct certmgr_step_result res;

	cm.store = m->store;
	if (step(m, id, 2, "signing certificate", err) != 0)
		return -1;
	return certmgr_sync_step(&cm, &res, err);
}

static void run(struct syncmgr *m, int64_t id, const char *trigger)
{
	struct pp_error err, fin;
	double started = now_seconds();
	int rc;

	pp_error_clear(&err);
	pp_error_clear(&fin);
	srvlog_write(m->opt.log, CMTRACE_INFO, "Sync %lld started (%s)", (long long)id, trigger);
	rc = step_sup(m, id, &err);
	if (rc == 0)
		rc = step_certificate(m, id, &err);
	if (rc == 0) {
		srvlog_write(m->opt.log, CMTRACE_INFO, "Sync %lld succeeded in %.1f s",
			     (long long)id, now_seconds() - started);
		if (store_sync_finish(m->store, id, STORE_SYNC_SUCCEEDED, NULL, &fin) != 0)
			srvlog_write(m->opt.log, CMTRACE_ERROR, "Sync %lld: cannot record it: %s",
				     (long long)id, fin.message);
		return;
	}
	srvlog_write(m->opt.log, CMTRACE_ERROR, "Sync %lld failed: %s (0x%08X)", (long long)id,
		     err.message, (unsigned)err.code);
	if (store_sync_finish(m->store, id, STORE_SYNC_FAILED, err.message, &fin) != 0)
		srvlog_write(m->opt.log, CMTRACE_ERROR, "Sync %lld: cannot record it: %s",
			     (long long)id, fin.message);
}

static void run_scheduled(struct syncmgr *m)
{
	struct pp_error err;
	int64_t id = 0, running = 0;

	pp_error_clear(&err);
	if (store_sync_start(m->store, &id, &running, &err) != 0) {
		srvlog_write(m->opt.log, CMTRACE_WARNING, "Scheduled sync skipped: %s",
			     err.message);
		return;
	}
	run(m, id, "scheduled");
}

static void *thread_main(void *arg)
{
	struct syncmgr *m = arg;
	struct timespec until;

	(void)pthread_mutex_lock(&m->lock);
	while (!m->stop) {
		if (m->pending != 0) {
			int64_t id = m->pending;

			m->pending = 0;
			(void)pthread_mutex_unlock(&m->lock);
			run(m, id, "on demand");
			(void)pthread_mutex_lock(&m->lock);
			continue;
		}
		if (m->due == 0) {
			(void)pthread_cond_wait(&m->wake, &m->lock);
			continue;
		}
		until.tv_sec = m->due;
		until.tv_nsec = 0;
		if (pthread_cond_timedwait(&m->wake, &m->lock, &until) == ETIMEDOUT && !m->stop &&
		    m->pending == 0) {
			m->due = time(NULL) + (time_t)m->opt.interval;
			(void)pthread_mutex_unlock(&m->lock);
			run_scheduled(m);
			(void)pthread_mutex_lock(&m->lock);
		}
	}
	(void)pthread_mutex_unlock(&m->lock);
	return NULL;
}

static void first_due(struct syncmgr *m)
{
	struct store_sync latest;
	struct pp_error err;
	time_t from = time(NULL);

	pp_error_clear(&err);
	if (m->opt.interval == 0)
		return;
	if (store_sync_latest(m->store, &latest, &err) == 0)
		from = (time_t)latest.started_at;
	m->due = from + (time_t)m->opt.interval;
	if (m->due < time(NULL))
		m->due = time(NULL);
}

struct syncmgr *syncmgr_start(const struct syncmgr_options *opts, struct pp_error *err)
{
	struct syncmgr *m = calloc(1, sizeof(*m));
	pthread_condattr_t attr;

	if (m == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
		return NULL;
	}
	m->opt = *opts;
	m->store = store_open_sqlite(opts->db_path, err);
	if (m->store == NULL) {
		free(m);
		return NULL;
	}
	first_due(m);
	/* The schedule is wall-clock time (CLOCK_REALTIME, the condition's default). */
	(void)pthread_condattr_init(&attr);
	if (pthread_mutex_init(&m->lock, NULL) != 0 || pthread_cond_init(&m->wake, &attr) != 0 ||
	    pthread_create(&m->thread, NULL, thread_main, m) != 0) {
		(void)pthread_condattr_destroy(&attr);
		pp_error_set(err, HR_E_OUTOFMEMORY, "cannot start the sync manager thread");
		store_close(m->store);
		free(m);
		return NULL;
	}
	(void)pthread_condattr_destroy(&attr);
	if (m->due != 0)
		srvlog_write(m->opt.log, CMTRACE_INFO,
			     "Sync manager started; next scheduled sync in %lld s",
			     (long long)(m->due - time(NULL)));
	else
		srvlog_write(m->opt.log, CMTRACE_INFO,
			     "Sync manager started; syncs run on demand only");
	return m;
}

int syncmgr_request(struct syncmgr *m, struct store *s, struct store_sync *out, bool *started,
		    struct pp_error *err)
{
	int64_t id = 0, running = 0;

	*started = false;
	if (store_sync_start(s, &id, &running, err) != 0) {
		if (err->code != HR_ERROR_ALREADY_EXISTS || running == 0)
			return -1;
		pp_error_clear(err);
		return store_sync_get(s, running, out, err);
	}
	if (store_sync_get(s, id, out, err) != 0)
		return -1;
	*started = true;
	(void)pthread_mutex_lock(&m->lock);
	m->pending = id;
	(void)pthread_cond_signal(&m->wake);
	(void)pthread_mutex_unlock(&m->lock);
	return 0;
}

void syncmgr_stop(struct syncmgr *m)
{
	if (m == NULL)
		return;
	(void)pthread_mutex_lock(&m->lock);
	m->stop = true;
	(void)pthread_cond_signal(&m->wake);
	(void)pthread_mutex_unlock(&m->lock);
	(void)pthread_join(m->thread, NULL);
	if (m->pending != 0) {
		struct pp_error err;

		pp_error_clear(&err);
		srvlog_write(m->opt.log, CMTRACE_WARNING,
			     "Sync %lld failed: patchpointd stopped before it ran",
			     (long long)m->pending);
		if (store_sync_finish(m->store, m->pending, STORE_SYNC_FAILED,
				      "patchpointd stopped before the sync ran", &err) != 0)
			srvlog_write(m->opt.log, CMTRACE_ERROR, "Sync %lld: cannot record it: %s",
				     (long long)m->pending, err.message);
	}
	(void)pthread_mutex_destroy(&m->lock);
	(void)pthread_cond_destroy(&m->wake);
	store_close(m->store);
	free(m);
}
