/* pki_internal.h - what pki.c (generation, requirements, show fields, thumbprints) and pki_file.c
 * (reading and writing PFX, PEM and DER) share. Not part of the library's interface; include it
 * from those two files only. */
#ifndef PATCHPOINT_PKI_INTERNAL_H
#define PATCHPOINT_PKI_INTERNAL_H

#include "pki.h"

#include <stdbool.h>
#include <stddef.h>

/* An empty credential (no certificate, no key, an empty chain) marked exportable. Returns NULL
 * with E_OUTOFMEMORY. Free with pki_credential_free. */
struct pki_credential *pki_internal_credential_new(struct pp_error *err) PP_WARN_UNUSED;

/* Hex digits of in[0..len) into out, NUL-terminated and truncated to fit size. */
void pki_internal_hex_encode(const unsigned char *in, size_t len, bool upper, char *out,
			     size_t size);

#endif
