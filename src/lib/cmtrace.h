/* cmtrace.h - CMTrace log writer (DESIGN 5.9, formats.md 5).
 *
 *   <![LOG[message]LOG]!><time="HH:MM:SS.mmm+BIAS" date="MM-DD-YYYY" component="NAME" context=""
 *   type="1|2|3" thread="TID" file="">\r\n
 *
 * Local time with the Windows bias (UTC = local + bias, in minutes). When the file reaches its
 * size limit it is renamed to .lo_ (replacing an older one) and a new .log is started. */
#ifndef PATCHPOINT_CMTRACE_H
#define PATCHPOINT_CMTRACE_H

#include "error.h"

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define CMTRACE_DEFAULT_MAX_SIZE (2u * 1024u * 1024u)

enum cmtrace_type {
	CMTRACE_INFO = 1,
	CMTRACE_WARNING = 2,
	CMTRACE_ERROR = 3,
};

struct cmtrace_log;

/* Opens (appends to) path for component. max_size 0 = CMTRACE_DEFAULT_MAX_SIZE. */
struct cmtrace_log *cmtrace_open(const char *path, const char *component, size_t max_size,
				 struct pp_error *err) PP_WARN_UNUSED;
void cmtrace_close(struct cmtrace_log *log);

/* Appends one record. The message is formatted printf-style; a literal "]LOG]!>" inside it is
 * defused so readers keep their framing. Rolls over first when the record would pass max_size. */
int cmtrace_write(struct cmtrace_log *log, enum cmtrace_type type, const char *fmt, ...)
	PP_PRINTF(3, 4);

/* Formats one record for time t (with microseconds usec) into buf; returns its length or -1 when
 * buf is too small. Exposed for tests and for writers that need a fixed clock. */
int cmtrace_format(char *buf, size_t size, const char *message, const char *component,
		   enum cmtrace_type type, unsigned long thread, time_t t, long usec);

#endif
