/* signstore.h - the signing store of a software update point: where the WSUS signing
 * certificate and its private key live (WSUS's "WSUS" certificate store, DESIGN 5.1).
 *
 * Two backends behind one table of primitives:
 *   local   the signer child of this process (signer.h); keys never leave it;
 *   remote  another `patchpointd --roles sup` reached over HTTPS with libcurl, its server
 *           certificate checked against a CA bundle (DESIGN 5.3); plain http:// is refused.
 * The rules on top of the primitives (registration replaces the previous certificate, the
 * certificate with the longest remaining validity signs) are in signstore.c, once for both.
 *
 * A struct signstore is used from one thread at a time. */
#ifndef PATCHPOINT_SIGNSTORE_H
#define PATCHPOINT_SIGNSTORE_H

#include "error.h"
#include "signer.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct signstore;

/* Primitives of a backend; each returns 0 or -1 with err set. Certificates come back as
 * struct signer_cert (signer.h) with cert, der, chain (never NULL), exportable and has_key
 * filled; arrays are released with signer_certs_free. */
struct signstore_ops {
	int (*list)(void *impl, struct signer_cert **certs, size_t *count, struct pp_error *err);
	int (*generate)(void *impl, const struct signer_generate_options *opts,
			struct signer_cert *out, struct pp_error *err);
	/* On failure err->message is the reason printed after "Certificate Import Failed: ". */
	int (*import_pfx)(void *impl, const uint8_t *pfx, size_t pfx_len, const char *password,
			  bool exportable, struct signer_cert *out, struct pp_error *err);
	/* CRYPT_E_NOT_FOUND when absent. */
	int (*remove)(void *impl, const char *thumbprint, struct pp_error *err);
	void (*close)(void *impl);
};

/* Wraps a backend; takes ownership of impl (closed through ops->close, also on failure).
 * where names the store in messages ("the signer of this server", "https://sup2:8531/"). */
struct signstore *signstore_new(const struct signstore_ops *ops, void *impl, const char *where,
				struct pp_error *err) PP_WARN_UNUSED;

/* The local backend over a running signer (borrowed: the caller stops it after
 * signstore_free). */
struct signstore *signstore_local(struct signer *signer, struct pp_error *err) PP_WARN_UNUSED;

/* The remote backend: base_url is the SUP's https:// URL (an http:// URL is refused with
 * E_ACCESSDENIED before any connection), ca_bundle a PEM file of the CAs that may sign its server
 * certificate (NULL = the system's), token the SUP's admin token (not logged, not copied into
 * messages). Implemented in signstore_remote.c. */
struct signstore *signstore_remote(const char *base_url, const char *ca_bundle, const char *token,
				   struct pp_error *err) PP_WARN_UNUSED;

void signstore_free(struct signstore *st);

/* The name given to signstore_new. */
const char *signstore_where(const struct signstore *st);

/* Every certificate of the store (signer_certs_free). */
int signstore_list(struct signstore *st, struct signer_cert **certs, size_t *count,
		   struct pp_error *err) PP_WARN_UNUSED;

/* Removes the certificate (and key) of thumbprint from the store: the primitive alone, no rule
 * on top. CRYPT_E_NOT_FOUND when absent. */
int signstore_remove(struct signstore *st, const char *thumbprint,
		     struct pp_error *err) PP_WARN_UNUSED;

/* True when c can sign now: has a private key and meets the WSUS signing requirements at now
 * (pki_check_wsus: RSA >= 2048, code-signing usage, inside its validity period). */
bool signstore_usable(const struct signer_cert *c, time_t now);

/* Index in certs of the usable certificate with the longest remaining validity (the latest
 * notAfter; ties go to the later notBefore, then the smaller thumbprint), -1 when none is. */
int signstore_pick(const struct signer_cert *certs, size_t count, time_t now);

/* SetSigningCertificate: generates (or imports) a certificate and, unless keep_existing, then
 * removes every other certificate from the store. *removed (may be NULL) receives how many
 * were removed. A failure to remove an old one after the new one is stored is reported in err
 * but returns 0: the new certificate is registered. */
int signstore_register_generated(struct signstore *st, const struct signer_generate_options *opts,
				 bool keep_existing, struct signer_cert *out, unsigned *removed,
				 struct pp_error *err) PP_WARN_UNUSED;
int signstore_register_pfx(struct signstore *st, const uint8_t *pfx, size_t pfx_len,
			   const char *password, bool exportable, bool keep_existing,
			   struct signer_cert *out, unsigned *removed,
			   struct pp_error *err) PP_WARN_UNUSED;

/* ---- the JSON entry of the remote wire format (docs/api.md, "Signing store") ----
 * {"thumbprint","der":"<base64>","chain":["<base64>"...],"exportable","has_key"}; shared by the
 * SUP's routes (sup_api.c) and the remote backend. No private key is ever part of it. */
#include <jansson.h>
json_t *signstore_entry_json(const struct signer_cert *c);
/* Fills out from an entry (checking that the thumbprint is the SHA-1 of der); -1 with
 * E_INVALIDARG naming the bad field. */
int signstore_entry_parse(const json_t *entry, struct signer_cert *out,
			  struct pp_error *err) PP_WARN_UNUSED;

/* Base64 of the wire format and of the REST API's PFX uploads (signstore_remote.c). */

/* Standard base64 with padding, NUL-terminated; malloc'd (free), NULL when out of memory or len
 * is too large to encode. */
char *signstore_base64_encode(const uint8_t *data, size_t len) PP_WARN_UNUSED;

/* Decodes strict base64 (alphabet A-Za-z0-9+/, padded, no white space) of at most max bytes into
 * *out (OPENSSL_malloc'd: OPENSSL_free or OPENSSL_clear_free). Empty text is refused. -1 with
 * E_INVALIDARG naming field otherwise. */
int signstore_base64_decode(const char *text, size_t max, const char *field, uint8_t **out,
			    size_t *out_len, struct pp_error *err) PP_WARN_UNUSED;

#endif
