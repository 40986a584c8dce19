/* certstore.h - directory certificate stores of a machine, modelled on the Windows local
 * computer stores. Each store is a directory of DER files named <SHA1>.cer:
 *     <machine>/certstores/<Store>/            the local physical store (certutil -addstore)
 *     <machine>/policy/certstores/<Store>/     the group-policy physical store
 * The logical store, which trust decisions use, is the union of the two (DESIGN 5.8). */
#ifndef PATCHPOINT_CERTSTORE_H
#define PATCHPOINT_CERTSTORE_H

#include "error.h"

#include <stdbool.h>

#include <openssl/x509.h>

#define CERTSTORE_DEFAULT_MACHINE "/var/lib/patchpoint/machine"

enum certstore_id {
	CERTSTORE_MY = 0,
	CERTSTORE_ROOT,
	CERTSTORE_CA,
	CERTSTORE_TRUSTED_PUBLISHER,
	CERTSTORE_DISALLOWED,
	CERTSTORE_COUNT
};

enum certstore_layer {
	CERTSTORE_LOCAL = 1,
	CERTSTORE_POLICY = 2,
	CERTSTORE_LOGICAL = 3 /* LOCAL | POLICY, for reading */
};

/* Parses a store name case-insensitively ("root", "TrustedPublisher", "Disallowed", "CA", "My").
 * Returns 0, or -1 with CRYPT_E_NOT_FOUND naming the accepted names. */
int certstore_parse_name(const char *name, enum certstore_id *id, struct pp_error *err);

const char *certstore_name(enum certstore_id id);	  /* "TrustedPublisher" */
const char *certstore_display_name(enum certstore_id id); /* "Trusted Publishers" */

/* Adds cert to one physical layer (LOCAL or POLICY). When the certificate is already there,
 * *already is set and the file is left alone unless force is true (then it is rewritten).
 * Directories are created as needed; files are written atomically. */
int certstore_add(const char *machine, enum certstore_id id, enum certstore_layer layer, X509 *cert,
		  bool force, bool *already, struct pp_error *err) PP_WARN_UNUSED;

/* Removes the certificate with this thumbprint from one physical layer. *removed tells whether
 * one was there. */
int certstore_remove(const char *machine, enum certstore_id id, enum certstore_layer layer,
		     const char *thumbprint, bool *removed, struct pp_error *err) PP_WARN_UNUSED;

/* All certificates of a store in the given layer(s), sorted by thumbprint, duplicates merged.
 * A missing directory is an empty store. The caller frees with sk_X509_pop_free(.., X509_free).
 * A file that does not parse is skipped with a warning in err->message but no failure. */
STACK_OF(X509) * certstore_load(const char *machine, enum certstore_id id,
				enum certstore_layer layer, struct pp_error *err) PP_WARN_UNUSED;

/* Certificates of the store matching certid: a thumbprint (any case, spaces or colons allowed),
 * a serial number in hex, a zero-based index ("0"), or a subject CN (case-insensitive). */
STACK_OF(X509) * certstore_find(const char *machine, enum certstore_id id,
				enum certstore_layer layer, const char *certid,
				struct pp_error *err) PP_WARN_UNUSED;

/* True when a certificate with cert's thumbprint is in the store (any layer of layer). */
bool certstore_contains(const char *machine, enum certstore_id id, enum certstore_layer layer,
			X509 *cert);

#endif
