/* syncmgr.h - the sync manager of the site role (DESIGN 5.2, Windows' SMS_WSUS_SYNC_MANAGER):
 * one thread that runs synchronizations on a schedule and on demand, one at a time, each with an
 * id, a state, a step and a trail in wsyncmgr.log. The certificate step is certmgr_sync_step.
 *
 * One at a time is enforced by the database (store_sync_start), so it holds across processes:
 * a request while a sync runs answers with the running sync. A sync left running by a killed
 * process is marked failed at the next start (store_fail_running_syncs) and can be run again. */
#ifndef PATCHPOINT_SYNCMGR_H
#define PATCHPOINT_SYNCMGR_H

#include "certmgr.h"
#include "error.h"
#include "srvlog.h"
#include "store.h"

#include <stdbool.h>

struct syncmgr;

struct syncmgr_options {
	const char *db_path;	/* the thread opens its own connection */
	unsigned interval;	/* seconds between scheduled syncs, 0 = on demand only */
	struct certmgr certmgr; /* everything but store, which the thread fills */
	struct srvlog *log;	/* wsyncmgr.log */
};

/* Starts the thread. Call it with the signals the caller handles blocked (the thread inherits
 * the mask). The first scheduled sync is due interval seconds after the latest sync started (or
 * after now, when there has been none). */
struct syncmgr *syncmgr_start(const struct syncmgr_options *opts,
			      struct pp_error *err) PP_WARN_UNUSED;

/* Starts a sync on demand through the caller's connection s. *started tells whether a new one
 * was started; out is that one, or the running one when it was not. */
int syncmgr_request(struct syncmgr *m, struct store *s, struct store_sync *out, bool *started,
		    struct pp_error *err) PP_WARN_UNUSED;

/* Asks the thread to stop, lets the sync in progress finish, and joins it. NULL is a no-op. */
void syncmgr_stop(struct syncmgr *m);

#endif
