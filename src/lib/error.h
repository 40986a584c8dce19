/* error.h - the one error idiom of libpatchpoint.
 *
 * Functions that can fail return int (0 ok, -1 failure) or a pointer (NULL on failure) and fill a
 * caller-provided struct pp_error. The code is always an HRESULT from hresult.h so that a failure
 * reads the same way a Windows administrator would see it; the message says what to do about it.
 */
#ifndef PATCHPOINT_ERROR_H
#define PATCHPOINT_ERROR_H

#include <stdint.h>

#define PP_ERROR_MESSAGE_MAX 512

struct pp_error {
	uint32_t code;			    /* HRESULT, 0 when no error was recorded */
	char message[PP_ERROR_MESSAGE_MAX]; /* one line, no trailing newline */
};

#define PP_WARN_UNUSED	__attribute__((warn_unused_result))
#define PP_PRINTF(f, a) __attribute__((format(printf, f, a)))

/* Clears err (code 0, empty message). err may be NULL. */
void pp_error_clear(struct pp_error *err);

/* Records code and a formatted message. The first error recorded wins: a later call does not
 * overwrite a code already set, so the innermost, most precise cause survives. err may be NULL. */
void pp_error_set(struct pp_error *err, uint32_t code, const char *fmt, ...) PP_PRINTF(3, 4);

/* As pp_error_set, then appends ": <reason>" from the OpenSSL error queue (when it holds one) and
 * empties that queue. */
void pp_error_set_openssl(struct pp_error *err, uint32_t code, const char *fmt, ...)
    PP_PRINTF(3, 4);

/* As pp_error_set, with ": <strerror(errnum)>" appended; code derived from errnum when code is 0.
 */
void pp_error_set_errno(struct pp_error *err, int errnum, const char *fmt, ...) PP_PRINTF(3, 4);

/* The HRESULT that Windows uses for a POSIX errno value (ENOENT -> 0x80070002, ...). */
uint32_t pp_hresult_from_errno(int errnum);

#endif
