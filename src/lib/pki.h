/* pki.h - keys and certificates for WSUS signing: generate, import (PFX, PEM, DER), export
 * (.cer, PFX), the WSUS signing requirements (DESIGN 5.1) and the "show certificate" fields. */
#ifndef PATCHPOINT_PKI_H
#define PATCHPOINT_PKI_H

#include "error.h"

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#define PKI_DEFAULT_SUBJECT_MANAGED   "CN=WSUS Publishers Self-signed"
#define PKI_DEFAULT_SUBJECT_PUBLISHER "CN=patchpoint Publisher"
#define PKI_DEFAULT_DAYS_PUBLISHER    (5 * 365 + 1)
#define PKI_DEFAULT_DAYS_MANAGED      (3 * 365)
#define PKI_MIN_RSA_BITS	      2048
#define PKI_THUMBPRINT_LEN	      40 /* SHA-1, upper-case hex */

/* PKCS#12 key-bag attribute that marks a key as non-exportable. The OID is in the UUID arc
 * 2.25 (ITU-T X.667), which needs no registration; see docs/formats/pfx.md. */
#define PKI_OID_NON_EXPORTABLE "2.25.207502969991896300196939842855163609092"

struct pki_new_options {
	const char *subject; /* RFC 4514-ish "CN=x, O=y" or OpenSSL "/CN=x/O=y"; NULL = publisher */
	int days;	     /* 0 = PKI_DEFAULT_DAYS_PUBLISHER */
	int bits;	     /* 2048, 3072 or 4096; 0 = 2048 */
	bool exportable;     /* false: PFX export refuses */
	time_t not_before;   /* 0 = now */
};

/* A certificate with (optionally) its private key and the chain that came with it. */
struct pki_credential {
	X509 *cert;
	EVP_PKEY *key;		/* NULL when only the public certificate was loaded */
	STACK_OF(X509) * chain; /* extra certificates from the PFX/PEM; never NULL */
	bool exportable;
};

void pki_credential_free(struct pki_credential *c);

/* Generates an RSA key and a self-signed code-signing certificate per DESIGN 5.1: SHA-256,
 * EKU Code Signing, KU Digital Signature (critical), Basic Constraints CA:FALSE (critical),
 * subject key identifier, 16 random serial bytes (positive), validity days from not_before.
 * Errors: E_INVALIDARG for a bad subject, bits or days. */
struct pki_credential *pki_credential_generate(const struct pki_new_options *opts,
					       struct pp_error *err) PP_WARN_UNUSED;

/* Loads a credential from path: PKCS#12 (PFX), PEM (certificate, optional key and extra
 * certificates, in any order) or DER certificate, detected from the content. password is for the
 * PFX (NULL = empty). A wrong password is ERROR_INVALID_PASSWORD; unreadable data is
 * CRYPT_E_ASN1_BADTAG with a message that names the file. */
struct pki_credential *pki_credential_load(const char *path, const char *password,
					   struct pp_error *err) PP_WARN_UNUSED;

/* Loads one certificate (DER, PEM or bare Base64 as certutil.exe accepts). */
X509 *pki_cert_load(const char *path, struct pp_error *err) PP_WARN_UNUSED;

/* Writes a PFX holding cert, key and chain (AES-256-CBC, PBKDF2, SHA-256 MAC), file mode 0600,
 * created anew (O_EXCL in a temporary name, then renamed over path). store_new writes even a
 * non-exportable key (the first and only time the key leaves the generator); pki_export_pfx
 * refuses a non-exportable credential with NTE_BAD_KEY_STATE. */
int pki_store_new_pfx(const struct pki_credential *c, const char *path, const char *password,
		      struct pp_error *err) PP_WARN_UNUSED;
int pki_export_pfx(const struct pki_credential *c, const char *path, const char *password,
		   struct pp_error *err) PP_WARN_UNUSED;

/* Writes the public certificate only, DER (.cer). */
int pki_export_cer(X509 *cert, const char *path, struct pp_error *err) PP_WARN_UNUSED;

/* SHA-1 thumbprint as 40 upper-case hex digits into out[41]. */
int pki_thumbprint(X509 *cert, char out[PKI_THUMBPRINT_LEN + 1]);

/* Normalises a user-typed thumbprint (spaces, colons, lower case allowed) into out[41];
 * -1 when it is not 40 hex digits. */
int pki_thumbprint_normalize(const char *in, char out[PKI_THUMBPRINT_LEN + 1]);

/* The subject's CN (or the whole one-line subject when it has no CN), like certutil's "simple
 * display name". */
void pki_simple_name(X509 *cert, char *out, size_t size);

/* ---- WSUS signing requirements (DESIGN 5.1) ---- */

#define PKI_CHECK_MAX 8

struct pki_check {
	int failed;			  /* number of entries below */
	char reasons[PKI_CHECK_MAX][256]; /* one line per failed requirement */
};

/* Checks cert (and key: NULL means no private key available) against the WSUS signing
 * requirements at time now: RSA >= 2048 bits (ECDSA and others refused with their name), EKU
 * Code Signing or no EKU, KU Digital Signature when KU is present, inside validity, private key
 * present and matching. Fills out; returns the number of failed requirements (0 = meets all). */
int pki_check_wsus(X509 *cert, EVP_PKEY *key, time_t now, struct pki_check *out);

/* ---- "show certificate" fields (DESIGN 5.1) ---- */

struct pki_show {
	char issuer[512];
	char subject[512];
	char effective[32]; /* "2026-11-22 04:21:39 UTC" */
	char expiration[32];
	char usage[256];     /* "Code Signing (1.3.6.1.5.5.7.3.3)" or "All" */
	char public_key[64]; /* "RSA 2048-bit" */
	char thumbprint[PKI_THUMBPRINT_LEN + 1];
	char serial[80]; /* hex, lower case, as certutil prints */
	char signature_algorithm[64];
	bool self_signed;
};

int pki_show_fields(X509 *cert, struct pki_show *out, struct pp_error *err) PP_WARN_UNUSED;

/* True when cert's subject equals its issuer and its signature verifies with its own key. */
bool pki_is_self_signed(X509 *cert);

#endif
