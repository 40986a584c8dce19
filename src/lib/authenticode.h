/* authenticode.h - Authenticode signatures on cabinets (formats.md 1): compute the CAB digest
 * over the signed layout, build the PKCS#7 SignedData with SpcIndirectDataContent, add it to a
 * cabinet, read and check it back, remove it.
 *
 * Signing is split so that the private key never has to be in this process: the signature is
 * made by a callback that receives only the hash of the signed attributes (the signer process
 * of the server plugs in there later). */
#ifndef PATCHPOINT_AUTHENTICODE_H
#define PATCHPOINT_AUTHENTICODE_H

#include "cab.h"
#include "error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>

#define AUTHENTICODE_MAX_SIGNATURE (1024u * 1024u) /* refuse larger PKCS#7 blobs */
#define AUTHENTICODE_DIGEST_MAX	   EVP_MAX_MD_SIZE

/* Makes an RSA PKCS#1 v1.5 signature of hash (already the md digest of the DER signed
 * attributes). Writes at most *sig_len bytes into sig and sets *sig_len. */
typedef int (*authenticode_sign_fn)(void *ctx, const EVP_MD *md, const uint8_t *hash,
				    size_t hash_len, uint8_t *sig, size_t *sig_len,
				    struct pp_error *err);

struct authenticode_signer {
	X509 *cert;		/* signing certificate (public) */
	STACK_OF(X509) * chain; /* extra certificates to embed; may be NULL */
	const EVP_MD *md;	/* digest for the CAB and the attributes; NULL = SHA-256 */
	authenticode_sign_fn sign;
	void *sign_ctx;
	const char *description; /* SpcSpOpusInfo programName; may be NULL */
	const char *url;	 /* SpcSpOpusInfo moreInfo; may be NULL */
	time_t signing_time;	 /* signingTime attribute; 0 = now */
};

/* Fills signer to sign with an in-process key (the CLI's case). key must stay alive. */
void authenticode_signer_init_key(struct authenticode_signer *signer, X509 *cert,
				  STACK_OF(X509) * chain, EVP_PKEY *key);

/* ---- the CAB digest (formats.md 1.4, jsign form) ---- */

struct authenticode_digest;

struct authenticode_digest *authenticode_digest_new(const EVP_MD *md,
						    struct pp_error *err) PP_WARN_UNUSED;
void authenticode_digest_free(struct authenticode_digest *d);

/* The sink to pass to cab_writer_options.sink: hashes the cabinet while it is written. */
const struct cab_digest_sink *authenticode_digest_sink(struct authenticode_digest *d);

/* Finishes the digest into out (AUTHENTICODE_DIGEST_MAX bytes); *len gets its size. */
int authenticode_digest_final(struct authenticode_digest *d, uint8_t *out, size_t *len,
			      struct pp_error *err) PP_WARN_UNUSED;

/* Digest of an existing cabinet file over its signed layout. For an unsigned cabinet (no
 * reserve) the layout it would have once signed is hashed (24 bytes inserted, offsets shifted).*/
int authenticode_cab_digest_file(const char *path, const EVP_MD *md, uint8_t *out, size_t *len,
				 struct pp_error *err) PP_WARN_UNUSED;

/* Feeds ctx (initialised with the digest's md) what the Authenticode digest covers of the
 * cabinet header in bytes [0, len), h parsed from them; every later byte of the cabinet up to
 * cbCabinet is covered whole. For a cabinet written piece by piece (cab_single_layout). */
int authenticode_cab_header_update(EVP_MD_CTX *ctx, const uint8_t *bytes, size_t len,
				   const struct cab_header *h, struct pp_error *err) PP_WARN_UNUSED;

/* ---- making signatures ---- */

/* DER ContentInfo(SignedData) over a CAB digest made with signer->md. *der is malloc'd. */
int authenticode_create_signature(const struct authenticode_signer *signer, const uint8_t *digest,
				  size_t digest_len, uint8_t **der, size_t *der_len,
				  struct pp_error *err) PP_WARN_UNUSED;

/* The length, padded to 8 bytes, of the signature blob signer makes: fixed for a given
 * certificate, chain, description and URL length (an RSA signature is the modulus size), so a
 * cabinet's locator can name it before the cabinet is written. */
int authenticode_signature_length(const struct authenticode_signer *signer, size_t *padded,
				  struct pp_error *err) PP_WARN_UNUSED;

/* Signs the cabinet at in_path into out_path (in place when equal or out_path is NULL). Adds the
 * 24-byte reserve when absent, replaces an existing signature, pads the blob to 8 bytes. The
 * result goes to a temporary file renamed over out_path, so a failure leaves no half-written
 * file. Refuses PREV_CABINET sets and reserves other than the signature layout. */
int authenticode_sign_cab(const char *in_path, const char *out_path,
			  const struct authenticode_signer *signer,
			  struct pp_error *err) PP_WARN_UNUSED;

/* The SHA-1, SHA-256 and size of a whole signed cabinet, from the pass that wrote it. */
struct authenticode_file_digests {
	bool computed; /* false: the signature's length was not the predicted one; hash the file */
	uint8_t sha1[20];
	uint8_t sha256[32];
	uint64_t size;
};

/* Creates out_path as a cabinet of files[i] stored as names[i] and signs it, reading every input
 * once: the digest is computed while the cabinet is written. progress may be NULL. With file
 * (may be NULL) and no compression, the whole file's digests are computed in the same pass: the
 * signature's length is predicted before the cabinet is written (it is fixed for an RSA key),
 * and file->computed says whether the prediction held. */
int authenticode_create_signed_cab(const char *out_path, const char *const *files,
				   const char *const *names, size_t count,
				   enum cab_compression compression,
				   const struct authenticode_signer *signer,
				   cab_progress_fn progress, void *progress_ctx,
				   struct authenticode_file_digests *file,
				   struct pp_error *err) PP_WARN_UNUSED;

/* Writes in_path without its signature (byte-identical to the cabinet before signing). */
int authenticode_remove_signature(const char *in_path, const char *out_path,
				  struct pp_error *err) PP_WARN_UNUSED;

/* ---- reading signatures ---- */

struct authenticode_info {
	PKCS7 *p7;		/* the parsed SignedData */
	X509 *signer;		/* the signer certificate (a reference into certs) */
	STACK_OF(X509) * certs; /* certificates embedded in the signature */
	const EVP_MD *md;	/* digest algorithm of SpcIndirectDataContent */
	uint8_t signed_digest[AUTHENTICODE_DIGEST_MAX]; /* digest stored in the signature */
	uint8_t file_digest[AUTHENTICODE_DIGEST_MAX];	/* digest recomputed from the file */
	size_t digest_len;
	bool digest_matches;  /* file_digest == signed_digest */
	bool signature_valid; /* messageDigest attribute and RSA signature check out */
	bool has_signing_time;
	time_t signing_time;		  /* signingTime attribute (not trusted for validity) */
	bool has_timestamp;		  /* a counter-signature or RFC 3161 token is present */
	bool timestamp_valid;		  /* it verifies and covers this signature */
	time_t timestamp_time;		  /* time asserted by the timestamp */
	STACK_OF(X509) * timestamp_certs; /* certificates of the timestamp token; may be NULL */
	bool has_sha1;			  /* sha1 was computed (AUTHENTICODE_FILE_SHA1) */
	bool has_sha256;		  /* sha256 was computed (AUTHENTICODE_FILE_SHA256) */
	uint8_t sha1[20];		  /* SHA-1 of the whole file, for the metadata check */
	uint8_t sha256[32];		  /* SHA-256 of the whole file */
	uint64_t file_size;
};

/* Reads the signature of the cabinet at path and checks it cryptographically (digest and
 * signature, not trust). Returns 0 and fills info even when the checks fail (see its booleans);
 * -1 with TRUST_E_NOSIGNATURE when there is no signature, TRUST_E_SUBJECT_FORM_UNKNOWN when the
 * file is not a cabinet, ERROR_INVALID_DATA for a malformed cabinet or locator,
 * CRYPT_E_ASN1_BADTAG for a blob that is not a PKCS#7 SignedData with SpcIndirectDataContent. */
int authenticode_read_cab(const char *path, struct authenticode_info *info,
			  struct pp_error *err) PP_WARN_UNUSED;

/* Whole-file digests authenticode_read_cab_with computes in the same pass as the Authenticode
 * digest. Each costs a hash of the whole file, so callers ask only for what they compare. */
#define AUTHENTICODE_FILE_SHA1	 0x1u
#define AUTHENTICODE_FILE_SHA256 0x2u

/* As authenticode_read_cab (which asks for both file digests), computing only the whole-file
 * digests named in file_digests (0 for none). */
int authenticode_read_cab_with(const char *path, unsigned file_digests,
			       struct authenticode_info *info, struct pp_error *err) PP_WARN_UNUSED;
void authenticode_info_release(struct authenticode_info *info);

/* Parses a DER signature blob alone (fuzzing, extract-signature): the SignedData, its
 * SpcIndirectDataContent digest and algorithm, the signer. Fills info->p7, md, signed_digest,
 * digest_len, certs, signer, signing_time. */
int authenticode_parse_signature(const uint8_t *der, size_t len, struct authenticode_info *info,
				 struct pp_error *err) PP_WARN_UNUSED;

#endif
