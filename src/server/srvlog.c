/* srvlog.c - named, thread-safe CMTrace logs of patchpointd. See srvlog.h. */
#include "srvlog.h"

#include "hresult.h"

#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct srvlog {
	pthread_mutex_t lock;
	struct cmtrace_log *log;
	char path[PATH_MAX];
	char component[64];
};

struct srvlog *srvlog_open(const char *dir, const char *name, const char *component,
			   struct pp_error *err)
{
	struct srvlog *l = calloc(1, sizeof(*l));
	int n;

	if (l == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
		return NULL;
	}
	n = snprintf(l->path, sizeof(l->path), "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= sizeof(l->path)) {
		pp_error_set(err, HR_E_INVALIDARG, "log path too long: %s/%s", dir, name);
		free(l);
		return NULL;
	}
	(void)snprintf(l->component, sizeof(l->component), "%s", component);
	l->log = cmtrace_open(l->path, l->component, 0, err);
	if (l->log == NULL || pthread_mutex_init(&l->lock, NULL) != 0) {
		cmtrace_close(l->log);
		free(l);
		return NULL;
	}
	return l;
}

int srvlog_reopen(struct srvlog *l, struct pp_error *err)
{
	struct cmtrace_log *fresh = cmtrace_open(l->path, l->component, 0, err);

	if (fresh == NULL)
		return -1;
	(void)pthread_mutex_lock(&l->lock);
	cmtrace_close(l->log);
	l->log = fresh;
	(void)pthread_mutex_unlock(&l->lock);
	return 0;
}

void srvlog_write(struct srvlog *l, enum cmtrace_type type, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	if (l == NULL)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	(void)pthread_mutex_lock(&l->lock);
	(void)cmtrace_write(l->log, type, "%s", msg);
	(void)pthread_mutex_unlock(&l->lock);
}

const char *srvlog_path(const struct srvlog *l)
{
	return l->path;
}

void srvlog_close(struct srvlog *l)
{
	if (l == NULL)
		return;
	cmtrace_close(l->log);
	(void)pthread_mutex_destroy(&l->lock);
	free(l);
}
