/* test_syncmgr.c - the sync manager thread: on demand, one at a time, on a schedule, and a stop
 * that leaves no sync running. The certificate step itself is test_certmgr's; here third-party
 * updates stay off, so a sync needs no signer. */
#include "hresult.h"
#include "srvlog.h"
#include "store.h"
#include "syncmgr.h"
#include "testutil.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

struct fx {
	char *dir, *db;
	struct store *store;
	struct srvlog *log;
	struct syncmgr_options opt;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct pp_error err = {0};
	struct store_sup sup = {.location = STORE_SUP_LOCAL, .sync_source = true};

	assert_non_null(f);
	f->dir = tu_tmpdir();
	f->db = tu_path(f->dir, "db");
	f->store = store_open_sqlite(f->db, &err);
	assert_non_null(f->store);
	assert_int_equal(store_site_add(f->store, "PP1", "Primary", NULL, &err), 0);
	(void)snprintf(sup.site_code, sizeof(sup.site_code), "PP1");
	(void)snprintf(sup.url, sizeof(sup.url), "http://localhost:8530/");
	assert_int_equal(store_sup_add(f->store, &sup, &err), 0);
	f->log = srvlog_open(f->dir, "wsyncmgr.log", "SMS_WSUS_SYNC_MANAGER", &err);
	assert_non_null(f->log);
	f->opt.db_path = f->db;
	f->opt.log = f->log;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	srvlog_close(f->log);
	store_close(f->store);
	tu_rmrf(f->dir);
	free(f->db);
	free(f->dir);
	free(f);
	return 0;
}

/* Waits (at most 20 s) until sync id is no longer running; returns its record. */
static struct store_sync wait_done(struct fx *f, int64_t id)
{
	struct store_sync s;
	struct pp_error err = {0};
	struct timespec pause = {0, 20 * 1000 * 1000};

	for (int i = 0; i < 1000; i++) {
		assert_int_equal(store_sync_get(f->store, id, &s, &err), 0);
		if (s.state != STORE_SYNC_RUNNING)
			return s;
		(void)nanosleep(&pause, NULL);
	}
	fail_msg("sync %lld still running", (long long)id);
	return s;
}

static char *log_text(struct fx *f)
{
	char *path = tu_path(f->dir, "wsyncmgr.log");
	size_t len = 0;
	uint8_t *data = tu_read_file(path, &len);
	char *text = calloc(1, len + 1);

	assert_non_null(text);
	if (data != NULL)
		memcpy(text, data, len);
	free(data);
	free(path);
	return text;
}

static void test_on_demand_one_at_a_time(void **state)
{
	struct fx *f = *state;
	struct pp_error err = {0};
	struct store_sync first, second, done;
	struct syncmgr *m = syncmgr_start(&f->opt, &err);
	bool started = false;
	char *text, line[64];

	assert_non_null(m);
	assert_int_equal(syncmgr_request(m, f->store, &first, &started, &err), 0);
	assert_true(started);
	/* One sync at a time, whoever asks: the answer is the running one. */
	if (syncmgr_request(m, f->store, &second, &started, &err) == 0 && !started)
		assert_int_equal(second.id, first.id);
	done = wait_done(f, first.id);
	assert_int_equal(done.state, STORE_SYNC_SUCCEEDED);
	assert_string_equal(done.step, "signing certificate");
	syncmgr_stop(m);
	text = log_text(f);
	(void)snprintf(line, sizeof(line), "Sync %lld started (on demand)", (long long)first.id);
	assert_non_null(strstr(text, line));
	(void)snprintf(line, sizeof(line), "Sync %lld succeeded in ", (long long)first.id);
	assert_non_null(strstr(text, line));
	assert_non_null(strstr(text, "step 1 of 2, software update point"));
	free(text);
}

static void test_failure_is_recorded(void **state)
{
	struct fx *f = *state;
	struct pp_error err = {0};
	struct store_sync s, done;
	struct syncmgr *m;
	bool started = false;

	/* A CAS without a sync-source SUP: the first step fails and says why. */
	assert_int_equal(store_site_add_cas_above(f->store, "CAS", "Central", &err), 0);
	m = syncmgr_start(&f->opt, &err);
	assert_non_null(m);
	assert_int_equal(syncmgr_request(m, f->store, &s, &started, &err), 0);
	done = wait_done(f, s.id);
	assert_int_equal(done.state, STORE_SYNC_FAILED);
	assert_non_null(strstr(done.error, "CAS has no sync-source software update point"));
	syncmgr_stop(m);
}

static void test_schedule(void **state)
{
	struct fx *f = *state;
	struct pp_error err = {0};
	struct store_sync latest;
	struct syncmgr *m;
	struct timespec pause = {0, 50 * 1000 * 1000};
	char *text;
	int i;

	f->opt.interval = 1;
	m = syncmgr_start(&f->opt, &err);
	assert_non_null(m);
	for (i = 0; i < 200; i++) {
		pp_error_clear(&err);
		if (store_sync_latest(f->store, &latest, &err) == 0 &&
		    latest.state != STORE_SYNC_RUNNING)
			break;
		(void)nanosleep(&pause, NULL);
	}
	syncmgr_stop(m);
	assert_true(i < 200);
	assert_int_equal(latest.state, STORE_SYNC_SUCCEEDED);
	text = log_text(f);
	assert_non_null(strstr(text, "started (scheduled)"));
	free(text);
}

static void test_stop_leaves_nothing_running(void **state)
{
	struct fx *f = *state;
	struct pp_error err = {0};
	struct store_sync s, after;
	struct syncmgr *m = syncmgr_start(&f->opt, &err);
	bool started = false;

	assert_non_null(m);
	assert_int_equal(syncmgr_request(m, f->store, &s, &started, &err), 0);
	syncmgr_stop(m); /* at once: the sync ran, or it is failed as never run */
	assert_int_equal(store_sync_get(f->store, s.id, &after, &err), 0);
	assert_int_not_equal(after.state, STORE_SYNC_RUNNING);
	if (after.state == STORE_SYNC_FAILED)
		assert_string_equal(after.error, "patchpointd stopped before the sync ran");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_on_demand_one_at_a_time, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_failure_is_recorded, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_schedule, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stop_leaves_nothing_running, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
