/* error.c - struct pp_error helpers. */
#include "error.h"

#include "hresult.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>

void pp_error_clear(struct pp_error *err)
{
	if (err == NULL)
		return;
	err->code = 0;
	err->message[0] = '\0';
}

static void error_vset(struct pp_error *err, uint32_t code, const char *fmt, va_list ap)
{
	int n;

	n = vsnprintf(err->message, sizeof(err->message), fmt, ap);
	if (n < 0)
		err->message[0] = '\0';
	err->code = code != 0 ? code : HR_E_FAIL;
}

static void error_append(struct pp_error *err, const char *suffix)
{
	size_t used = strlen(err->message);

	if (suffix == NULL || suffix[0] == '\0')
		return;
	(void)snprintf(err->message + used, sizeof(err->message) - used, ": %s", suffix);
}

void pp_error_set(struct pp_error *err, uint32_t code, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || err->code != 0)
		return;
	va_start(ap, fmt);
	error_vset(err, code, fmt, ap);
	va_end(ap);
}

void pp_error_set_openssl(struct pp_error *err, uint32_t code, const char *fmt, ...)
{
	va_list ap;
	unsigned long e;
	char reason[256];

	if (err == NULL || err->code != 0) {
		ERR_clear_error();
		return;
	}
	va_start(ap, fmt);
	error_vset(err, code, fmt, ap);
	va_end(ap);
	/* The last error queued is the most specific one OpenSSL has. */
	e = ERR_peek_last_error();
	if (e != 0) {
		const char *r = ERR_reason_error_string(e);

		if (r != NULL) {
			(void)snprintf(reason, sizeof(reason), "%s", r);
			error_append(err, reason);
		}
	}
	ERR_clear_error();
}

void pp_error_set_errno(struct pp_error *err, int errnum, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || err->code != 0)
		return;
	va_start(ap, fmt);
	error_vset(err, pp_hresult_from_errno(errnum), fmt, ap);
	va_end(ap);
	error_append(err, strerror(errnum));
}

uint32_t pp_hresult_from_errno(int errnum)
{
	switch (errnum) {
	case ENOENT:
	case ENOTDIR:
		return HR_ERROR_FILE_NOT_FOUND;
	case EACCES:
	case EPERM:
		return HR_E_ACCESSDENIED;
	case EEXIST:
		return HR_ERROR_FILE_EXISTS;
	case ENOMEM:
		return HR_E_OUTOFMEMORY;
	case ENOSPC:
		return HR_ERROR_DISK_FULL;
	case EFBIG:
		return HR_ERROR_FILE_TOO_LARGE;
	case EINVAL:
		return HR_E_INVALIDARG;
	case ENAMETOOLONG:
		return HR_ERROR_INVALID_NAME;
	default:
		return HR_E_FAIL;
	}
}
