/* srvlog.h - the named CMTrace logs of patchpointd (DESIGN 5.9): patchpointd.log, wsyncmgr.log,
 * WCM.log, Publisher.log in the data directory's logs/. One struct srvlog per file, shared by
 * every thread: writes are serialised so that rollover stays whole, and srvlog_reopen (after
 * SIGHUP, from the main thread) swaps the file under the same lock. A message never carries a
 * key, a password or a token: callers pass domain facts only. */
#ifndef PATCHPOINT_SRVLOG_H
#define PATCHPOINT_SRVLOG_H

#include "cmtrace.h"
#include "error.h"

#include <stddef.h>

struct srvlog;

/* Opens (appends to) dir/name for component (the CMTrace component="..." field). */
struct srvlog *srvlog_open(const char *dir, const char *name, const char *component,
			   struct pp_error *err) PP_WARN_UNUSED;

/* Reopens the file by its path (it may have been moved away by logrotate). On failure the old
 * file stays in use. */
int srvlog_reopen(struct srvlog *l, struct pp_error *err) PP_WARN_UNUSED;

/* One record; NULL l is a no-op, so optional logs need no checks at the call sites. */
void srvlog_write(struct srvlog *l, enum cmtrace_type type, const char *fmt, ...) PP_PRINTF(3, 4);

/* The file's path. */
const char *srvlog_path(const struct srvlog *l);

void srvlog_close(struct srvlog *l);

#endif
