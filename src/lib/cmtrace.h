/* cmtrace.h - CMTrace log writer (DESIGN 5.9, formats.md 5).
 *
 *   <![LOG[message]LOG]!><time="HH:MM:SS.mmm+BIAS" date="MM-DD-YYYY" component="NAME" context=""
 *   type="1|2|3" thread="TID" file="">\r\n
 *
 * Local time with the Windows bias (UTC = local + bias, in minutes), written as a sign ('+' for
 * zero and positive) and at least three digits: "+000" UTC, "+300" US Eastern standard time,
 * "-060" CET, "-330" India. Date zero-padded. When the file would pass its size limit, "x.log" is
 * renamed to "x.lo_" (a path not ending in ".log" gets ".lo_" appended), replacing an older one,
 * and a new file is started. */
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

/* Appends one record with one write(2). The message is formatted printf-style (cut at 16 KiB); a
 * literal "]LOG]!>" inside it is written as "]LOG]!&gt;" so readers keep their framing, CR and LF
 * are kept. Rolls over first when the record would pass max_size. 0 ok, -1 with errno set. */
int cmtrace_write(struct cmtrace_log *log, enum cmtrace_type type, const char *fmt, ...)
    PP_PRINTF(3, 4);

/* Formats one record for time t (with microseconds usec) in the local time zone into buf, defusing
 * the message as cmtrace_write does; returns its length or -1 when buf is too small or type is not
 * 1..3. Exposed for tests and for writers that need a fixed clock. */
int cmtrace_format(char *buf, size_t size, const char *message, const char *component,
		   enum cmtrace_type type, unsigned long thread, time_t t, long usec);

#endif
