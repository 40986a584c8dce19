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

#endif
