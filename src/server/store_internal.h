/* store_internal.h - what the domain files of the store (store.c, store_updates.c) share. Not
 * for callers of the store. */
#ifndef PATCHPOINT_STORE_INTERNAL_H
#define PATCHPOINT_STORE_INTERNAL_H

#include "store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store {
	const struct store_ops *ops;
	void *impl;
};

/* Unix seconds. */
int64_t store_now(void);

/* text (NULL = "") must be shorter than max bytes, not empty unless empty_ok, and free of
 * control characters; -1 with E_INVALIDARG naming what otherwise. */
int store_check_text(const char *text, size_t max, bool empty_ok, const char *what,
		     struct pp_error *err);

/* SHA-256 of a secret of STORE_TOKEN_MIN to STORE_TOKEN_MAX bytes (admin tokens, enrollment
 * keys, device credentials); what names it in the error ("an enrollment key"). */
int store_secret_digest(const char *what, const char *secret, uint8_t hash[32],
			struct pp_error *err);

#endif
