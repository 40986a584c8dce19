/* cmtrace.c - CMTrace log writer (DESIGN 5.9, formats.md 5).
 *
 * One record is one write(2) on a descriptor opened O_APPEND, so records from several processes
 * appending to the same log never interleave inside a record. Rollover renames x.log to x.lo_
 * under an flock(2) on the file being retired; a writer whose descriptor no longer names the
 * current path (another process rolled over) just reopens the path. */
#include "cmtrace.h"

#include "hresult.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Longest message kept from one cmtrace_write call; longer messages are cut at this size. */
#define CMTRACE_MESSAGE_MAX 16384
/* Longest component name accepted by cmtrace_open. */
#define CMTRACE_COMPONENT_MAX 128
/* Bytes of a record besides message and component: the frame, the attributes and their values
 * (time, bias, date, type, thread) with room to spare. */
#define CMTRACE_FRAME_MAX 256

static const char cmtrace_delim[] = "]LOG]!>";
static const char cmtrace_defused[] = "]LOG]!&gt;";

struct cmtrace_log {
	int fd;
	char *path;
	char *rolled_path; /* path with ".log" -> ".lo_", or path + ".lo_" */
	char *component;
	size_t max_size;
};

/* Bounded output for cmtrace_format: fails once anything would not fit with its NUL. */
struct cmtrace_out {
	char *buf;
	size_t size;
	size_t len;
	bool overflow;
};

static void out_bytes(struct cmtrace_out *o, const char *s, size_t n)
{
	if (o->overflow || n >= o->size - o->len) {
		o->overflow = true;
		return;
	}
	memcpy(o->buf + o->len, s, n);
	o->len += n;
	o->buf[o->len] = '\0';
}

static void out_str(struct cmtrace_out *o, const char *s)
{
	out_bytes(o, s, strlen(s));
}

/* Copies message, replacing every "]LOG]!>" with "]LOG]!&gt;" so that readers, which find the
 * end of the message by that delimiter, keep their framing. CR and LF pass through. */
static void out_message(struct cmtrace_out *o, const char *message)
{
	const char *p = message, *hit;

	while ((hit = strstr(p, cmtrace_delim)) != NULL) {
		out_bytes(o, p, (size_t)(hit - p));
		out_str(o, cmtrace_defused);
		p = hit + sizeof(cmtrace_delim) - 1;
	}
	out_str(o, p);
}

/* Size of buffer that always holds the record for message and component, NUL included. */
static size_t record_capacity(const char *message, const char *component)
{
	size_t n = strlen(message), hits = 0;
	const char *p = message;

	while ((p = strstr(p, cmtrace_delim)) != NULL) {
		hits++;
		p += sizeof(cmtrace_delim) - 1;
	}
	/* message <= CMTRACE_MESSAGE_MAX and component <= CMTRACE_COMPONENT_MAX: no overflow. */
	return n + hits * (sizeof(cmtrace_defused) - sizeof(cmtrace_delim)) + strlen(component) +
	       CMTRACE_FRAME_MAX;
}

int cmtrace_format(char *buf, size_t size, const char *message, const char *component,
		   enum cmtrace_type type, unsigned long thread, time_t t, long usec)
{
	struct cmtrace_out o = {buf, size, 0, false};
	struct tm tm;
	char attrs[CMTRACE_FRAME_MAX];
	long bias, ms;
	int n;

	if (buf == NULL || size == 0 || message == NULL || component == NULL)
		return -1;
	buf[0] = '\0';
	if (type < CMTRACE_INFO || type > CMTRACE_ERROR)
		return -1;
	if (localtime_r(&t, &tm) == NULL)
		return -1;
	ms = usec / 1000;
	if (ms < 0)
		ms = 0;
	if (ms > 999)
		ms = 999;
	/* Windows bias: UTC = local + bias, so the opposite of the UTC offset. */
	bias = -(tm.tm_gmtoff / 60);

	out_str(&o, "<![LOG[");
	out_message(&o, message);
	out_str(&o, "]LOG]!><time=\"");
	n = snprintf(attrs, sizeof(attrs), "%02d:%02d:%02d.%03ld%c%03ld\" date=\"%02d-%02d-%04d\"",
		     tm.tm_hour, tm.tm_min, tm.tm_sec, ms, bias < 0 ? '-' : '+',
		     bias < 0 ? -bias : bias, tm.tm_mon + 1, tm.tm_mday, tm.tm_year + 1900);
	if (n < 0 || (size_t)n >= sizeof(attrs))
		return -1;
	out_bytes(&o, attrs, (size_t)n);
	out_str(&o, " component=\"");
	out_str(&o, component);
	n = snprintf(attrs, sizeof(attrs),
		     "\" context=\"\" type=\"%d\" thread=\"%lu\" file=\"\">\r\n", (int)type,
		     thread);
	if (n < 0 || (size_t)n >= sizeof(attrs))
		return -1;
	out_bytes(&o, attrs, (size_t)n);
	if (o.overflow) {
		buf[0] = '\0';
		return -1;
	}
	return (int)o.len;
}

/* A component becomes an attribute value: printable ASCII without '"', '<' or '>'. */
static bool component_valid(const char *component)
{
	size_t i, n = strlen(component);

	if (n == 0 || n > CMTRACE_COMPONENT_MAX)
		return false;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)component[i];

		if (c < 0x20 || c > 0x7e || c == '"' || c == '<' || c == '>')
			return false;
	}
	return true;
}

static char *rolled_name(const char *path)
{
	size_t n = strlen(path);
	char *r;

	if (n >= 4 && strcmp(path + n - 4, ".log") == 0) {
		r = strdup(path);
		if (r != NULL)
			r[n - 1] = '_';
		return r;
	}
	if (asprintf(&r, "%s.lo_", path) < 0)
		return NULL;
	return r;
}

static int open_log_fd(const char *path)
{
	int fd;

	do {
		fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	} while (fd < 0 && errno == EINTR);
	return fd;
}

/* Fills err for a failed open of path, naming the directory when that is what is missing. */
static void open_error(struct pp_error *err, const char *path, int errnum)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	struct stat st;
	size_t n;

	if (errnum == ENOENT && slash != NULL && slash != path) {
		n = (size_t)(slash - path);
		if (n < sizeof(dir)) {
			memcpy(dir, path, n);
			dir[n] = '\0';
			if (stat(dir, &st) != 0) {
				pp_error_set_errno(err, errnum,
						   "cannot open log file '%s': directory '%s' does "
						   "not exist; create it first",
						   path, dir);
				return;
			}
		}
	}
	pp_error_set_errno(err, errnum, "cannot open log file '%s' for appending", path);
}

struct cmtrace_log *cmtrace_open(const char *path, const char *component, size_t max_size,
				 struct pp_error *err)
{
	struct cmtrace_log *log = NULL, *ret = NULL;

	if (path == NULL || path[0] == '\0') {
		pp_error_set(err, HR_E_INVALIDARG, "no log file path given");
		goto out;
	}
	if (component == NULL || !component_valid(component)) {
		pp_error_set(
		    err, HR_E_INVALIDARG,
		    "log component name for '%s' must be 1 to %d printable ASCII characters "
		    "without '\"', '<' or '>'",
		    path, CMTRACE_COMPONENT_MAX);
		goto out;
	}
	log = calloc(1, sizeof(*log));
	if (log == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory opening log file '%s'", path);
		goto out;
	}
	log->fd = -1;
	log->max_size = max_size != 0 ? max_size : CMTRACE_DEFAULT_MAX_SIZE;
	log->path = strdup(path);
	log->rolled_path = rolled_name(path);
	log->component = strdup(component);
	if (log->path == NULL || log->rolled_path == NULL || log->component == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory opening log file '%s'", path);
		goto out;
	}
	log->fd = open_log_fd(path);
	if (log->fd < 0) {
		open_error(err, path, errno);
		goto out;
	}
	ret = log;
	log = NULL;
out:
	cmtrace_close(log);
	return ret;
}

void cmtrace_close(struct cmtrace_log *log)
{
	if (log == NULL)
		return;
	if (log->fd >= 0)
		(void)close(log->fd);
	free(log->path);
	free(log->rolled_path);
	free(log->component);
	free(log);
}

/* Replaces the descriptor with a fresh one for log->path. */
static int reopen(struct cmtrace_log *log)
{
	int fd = open_log_fd(log->path);

	if (fd < 0)
		return -1;
	(void)close(log->fd);
	log->fd = fd;
	return 0;
}

/* Makes room for a record of n bytes: when the current file is not empty and n more bytes would
 * take it past max_size, the file becomes the .lo_ and a new .log is started. */
static int make_room(struct cmtrace_log *log, size_t n)
{
	struct stat fst, pst;
	int rc = -1, attempts;
	bool locked = false;

	/* Two rounds at most: a stale descriptor is reopened once, then checked again. */
	for (attempts = 0; attempts < 2; attempts++) {
		if (fstat(log->fd, &fst) != 0)
			goto out;
		if (fst.st_size == 0 || (uint64_t)fst.st_size + n <= log->max_size) {
			rc = 0;
			goto out;
		}
		if (flock(log->fd, LOCK_EX) != 0)
			goto out;
		locked = true;
		if (stat(log->path, &pst) == 0 && pst.st_dev == fst.st_dev &&
		    pst.st_ino == fst.st_ino) {
			/* Still the current file: retire it. */
			if (rename(log->path, log->rolled_path) != 0)
				goto out;
			(void)flock(log->fd, LOCK_UN);
			locked = false;
			rc = reopen(log);
			goto out;
		}
		/* Another writer rolled the file over (or removed it): follow the path. */
		(void)flock(log->fd, LOCK_UN);
		locked = false;
		if (reopen(log) != 0)
			goto out;
	}
	rc = 0;
out:
	if (locked)
		(void)flock(log->fd, LOCK_UN);
	return rc;
}

int cmtrace_write(struct cmtrace_log *log, enum cmtrace_type type, const char *fmt, ...)
{
	char message[CMTRACE_MESSAGE_MAX];
	char *record = NULL;
	struct timespec ts;
	size_t cap, done = 0;
	va_list ap;
	int rc = -1, len;
	ssize_t w;

	if (log == NULL || fmt == NULL) {
		errno = EINVAL;
		goto out;
	}
	va_start(ap, fmt);
	len = vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	if (len < 0)
		goto out;
	if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
		goto out;
	cap = record_capacity(message, log->component);
	record = malloc(cap);
	if (record == NULL)
		goto out;
	len = cmtrace_format(record, cap, message, log->component, type,
			     (unsigned long)syscall(SYS_gettid), ts.tv_sec, ts.tv_nsec / 1000);
	if (len < 0) {
		errno = EINVAL;
		goto out;
	}
	if (make_room(log, (size_t)len) != 0)
		goto out;
	/* One write(2) per record; the loop only continues after a short write (disk full). */
	while (done < (size_t)len) {
		w = write(log->fd, record + done, (size_t)len - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			goto out;
		done += (size_t)w;
	}
	rc = 0;
out:
	free(record);
	return rc;
}
