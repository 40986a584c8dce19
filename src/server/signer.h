/* signer.h - the signer process (DESIGN 2): a child forked at start-up that alone opens the key
 * files and holds private keys. The parent talks to it over a SOCK_SEQPACKET socketpair with
 * typed, length-bounded messages (docs/internals/signer.md) and never sees a private key: it gets
 * certificates, thumbprints and signatures.
 *
 * Call signer_start before the process starts threads (the child is forked and keeps running
 * this program) and from the thread that stays alive (PR_SET_PDEATHSIG follows that thread).
 * One handle may be used from several threads: requests are serialised. */
#ifndef PATCHPOINT_SIGNER_H
#define PATCHPOINT_SIGNER_H

#include "error.h"
#include "pki.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

/* ---- wire format (docs/internals/signer.md) ----
 * A message is one or more SOCK_SEQPACKET records. Each record starts with this header
 * (little-endian), followed by at most SIGNER_FRAGMENT_MAX bytes of the body:
 *   offset 0  u32 magic     SIGNER_MAGIC
 *   offset 4  u16 type      enum signer_msg_type (responses: request type | SIGNER_MSG_REPLY)
 *   offset 6  u16 flags     SIGNER_FLAG_LAST on the last record of a message
 *   offset 8  u32 length    total body length of the message (same in every record)
 *   offset 12 u32 offset    where this record's bytes go in the body */
#define SIGNER_MAGIC	    0x47535050u /* "PPSG" */
#define SIGNER_HEADER_SIZE  16u
#define SIGNER_FRAGMENT_MAX (32u * 1024u)
#define SIGNER_MAX_BODY	    (1024u * 1024u + 64u * 1024u) /* a 1 MiB PFX and its fields */
#define SIGNER_FLAG_LAST    0x0001u
#define SIGNER_MSG_REPLY    0x8000u
#define SIGNER_MSG_ERROR    0xFFFFu /* body: u32 HRESULT, string message */

#define SIGNER_PFX_MAX	    (1024u * 1024u)
#define SIGNER_PASSWORD_MAX 1024u
#define SIGNER_SUBJECT_MAX  1024u
#define SIGNER_CERT_MAX	    (64u * 1024u)
#define SIGNER_SIG_MAX	    1024u
#define SIGNER_LIST_MAX	    256u /* certificates in one key directory */

enum signer_msg_type {
	SIGNER_MSG_READY = 1, /* child -> parent once at start; body empty */
	SIGNER_MSG_GENERATE = 2,
	SIGNER_MSG_IMPORT_PFX = 3,
	SIGNER_MSG_SIGN = 4,
	SIGNER_MSG_LIST = 5,
	SIGNER_MSG_DELETE = 6,
	SIGNER_MSG_EXPORT_PFX = 7,
};

/* ---- the handle ---- */

struct signer;

/* Forks the signer child for key_dir (created 0700 when missing; its key-encryption key
 * key_dir/kek is created on first start). Returns once the child has checked the directory:
 * a group- or world-readable kek or key file is refused (E_ACCESSDENIED, naming the file). */
int signer_start(const char *key_dir, struct signer **out, struct pp_error *err) PP_WARN_UNUSED;

/* Closes the socket (the child exits on EOF), reaps the child (SIGKILL after 5 s) and frees s.
 * NULL is a no-op. */
void signer_stop(struct signer *s);

/* The child's pid. */
pid_t signer_pid(const struct signer *s);

/* The parent's end of the socketpair, for tests that speak the wire format directly. */
int signer_fd(const struct signer *s);

/* A certificate the signer holds. */
struct signer_cert {
	char thumbprint[PKI_THUMBPRINT_LEN + 1];
	X509 *cert;   /* decoded from der */
	uint8_t *der; /* the certificate, DER */
	size_t der_len;
	STACK_OF(X509) * chain; /* extra certificates kept from a PFX; never NULL */
	bool exportable;
	bool has_key;
};

/* Releases what c holds (not c itself). */
void signer_cert_release(struct signer_cert *c);

/* Releases n certificates and the array. */
void signer_certs_free(struct signer_cert *certs, size_t n);

struct signer_generate_options {
	const char *subject; /* NULL = PKI_DEFAULT_SUBJECT_PUBLISHER */
	int days;	     /* 0 = PKI_DEFAULT_DAYS_PUBLISHER; at most 100 years */
	int bits;	     /* 2048, 3072 or 4096; 0 = 2048 */
	bool exportable;
};

/* Generates an RSA key and a self-signed code-signing certificate in the child and stores them.
 * out is filled (release it with signer_cert_release). */
int signer_generate(struct signer *s, const struct signer_generate_options *opts,
		    struct signer_cert *out, struct pp_error *err) PP_WARN_UNUSED;

/* Imports a PFX (at most SIGNER_PFX_MAX bytes) with its chain after checking the WSUS signing
 * requirements. On failure err->message is the reason to print after "Certificate Import
 * Failed: "; nothing is stored. exportable is honoured only when the PFX allows export. */
int signer_import_pfx(struct signer *s, const uint8_t *pfx, size_t pfx_len, const char *password,
		      bool exportable, struct signer_cert *out,
		      struct pp_error *err) PP_WARN_UNUSED;

/* What signer_sign needs to name a key: the handle and the thumbprint. */
struct signer_key {
	struct signer *signer;
	char thumbprint[PKI_THUMBPRINT_LEN + 1];
};

/* An authenticode_sign_fn: ctx is a struct signer_key. RSA PKCS#1 v1.5 signature of hash (the
 * md digest) with the key of that thumbprint; CRYPT_E_NOT_FOUND when the signer has no such key.*/
int signer_sign(void *ctx, const EVP_MD *md, const uint8_t *hash, size_t hash_len, uint8_t *sig,
		size_t *sig_len, struct pp_error *err) PP_WARN_UNUSED;

/* Every certificate in the key directory. *certs is malloc'd (signer_certs_free). */
int signer_list(struct signer *s, struct signer_cert **certs, size_t *count,
		struct pp_error *err) PP_WARN_UNUSED;

/* Removes the certificate and key of thumbprint; CRYPT_E_NOT_FOUND when absent. */
int signer_delete(struct signer *s, const char *thumbprint, struct pp_error *err) PP_WARN_UNUSED;

/* The PFX of an exportable key encrypted with password (AES-256-CBC, PBKDF2, SHA-256 MAC);
 * NTE_BAD_KEY_STATE for a non-exportable key. *pfx is the caller's (OPENSSL_clear_free). */
int signer_export_pfx(struct signer *s, const char *thumbprint, const char *password, uint8_t **pfx,
		      size_t *pfx_len, struct pp_error *err) PP_WARN_UNUSED;

#endif
