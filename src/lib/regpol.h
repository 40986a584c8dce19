/* regpol.h - Group Policy Registry.pol files (PReg version 1) and the serialized certificate
 * element that GPO-deployed certificates carry in their "Blob" value.
 *
 * A policy file is an ordered list of entries (key path, value name, type, data). Key paths and
 * value names are UTF-8 here and UTF-16LE in the file; data is kept as the raw bytes of the file
 * (strings in data are UTF-16LE with their NUL, as Windows writes them; the helpers below make
 * and read them). Reading is all or nothing: a damaged file is an error naming the byte offset
 * and what was expected there. Writing produces exactly the bytes Windows and Samba write, so
 * write(read(file)) == file. Layout and limits: docs/formats/regpol.md. */
#ifndef PATCHPOINT_REGPOL_H
#define PATCHPOINT_REGPOL_H

#include "error.h"

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

/* Registry value types (winnt.h). */
#define REGPOL_REG_NONE			      0u
#define REGPOL_REG_SZ			      1u
#define REGPOL_REG_EXPAND_SZ		      2u
#define REGPOL_REG_BINARY		      3u
#define REGPOL_REG_DWORD		      4u
#define REGPOL_REG_DWORD_BIG_ENDIAN	      5u
#define REGPOL_REG_LINK			      6u
#define REGPOL_REG_MULTI_SZ		      7u
#define REGPOL_REG_RESOURCE_LIST	      8u
#define REGPOL_REG_FULL_RESOURCE_DESCRIPTOR   9u
#define REGPOL_REG_RESOURCE_REQUIREMENTS_LIST 10u
#define REGPOL_REG_QWORD		      11u

/* Bounds the reader enforces (and the writer, so that what we write we can read). */
#define REGPOL_FILE_MAX	      (16u * 1024u * 1024u) /* a whole file, bytes */
#define REGPOL_KEY_PART_MAX   255u		    /* one key path component, UTF-16 units */
#define REGPOL_KEY_MAX	      32767u		    /* a whole key path, UTF-16 units */
#define REGPOL_VALUE_MAX      16383u		    /* a value name, UTF-16 units */
#define REGPOL_THUMBPRINT_LEN 40		    /* SHA-1 as upper-case hex digits */

/* Where GPO-deployed certificates live, relative to HKLM:
 * REGPOL_CERT_KEY_PREFIX "<Store>\\Certificates\\<SHA1>", value REGPOL_CERT_VALUE. */
#define REGPOL_CERT_KEY_PREFIX "Software\\Policies\\Microsoft\\SystemCertificates\\"
#define REGPOL_CERT_VALUE      "Blob"

/* Serialized certificate element property ids (wincrypt.h). */
#define REGPOL_CERT_SHA1_HASH_PROP_ID 3u
#define REGPOL_CERT_CERT_PROP_ID      32u

struct regpol_entry {
	char *key;     /* UTF-8, never empty, e.g. "Software\\Policies\\Microsoft\\Windows" */
	char *value;   /* UTF-8, may be "" (the key's default value) */
	uint32_t type; /* REGPOL_REG_* (0 to 11) */
	uint8_t *data; /* size bytes, owned; NULL when size is 0 */
	size_t size;
};

struct regpol {
	struct regpol_entry *entries; /* in file order */
	size_t count;
	size_t alloc; /* capacity of entries */
};

/* An empty policy file; free with regpol_free. NULL only when out of memory. */
struct regpol *regpol_new(struct pp_error *err) PP_WARN_UNUSED;

/* Frees pol and every entry. regpol_free(NULL) is a no-op. */
void regpol_free(struct regpol *pol);

/* Appends an entry (copies of key, value and data). Refuses an empty key, names that are not
 * UTF-8 or are over the bounds above, an unknown type, and odd-sized string data. */
int regpol_add(struct regpol *pol, const char *key, const char *value, uint32_t type,
	       const uint8_t *data, size_t size, struct pp_error *err) PP_WARN_UNUSED;

/* The first entry whose key and value match (ASCII case-insensitively, as the registry does);
 * NULL when there is none. */
const struct regpol_entry *regpol_find(const struct regpol *pol, const char *key,
				       const char *value);

/* Parses a whole Registry.pol image. Returns a new regpol (caller frees), or NULL with the byte
 * offset and the expectation in err; nothing is returned partially. */
struct regpol *regpol_parse(const uint8_t *buf, size_t len, struct pp_error *err) PP_WARN_UNUSED;

/* Reads and parses the file at path (at most REGPOL_FILE_MAX bytes). Caller frees. */
struct regpol *regpol_read(const char *path, struct pp_error *err) PP_WARN_UNUSED;

/* The file image of pol in *out (malloc'd, caller frees) and its length in *len. */
int regpol_serialize(const struct regpol *pol, uint8_t **out, size_t *len,
		     struct pp_error *err) PP_WARN_UNUSED;

/* Writes pol to path atomically (durably), mode 0644. */
int regpol_write(const char *path, const struct regpol *pol, struct pp_error *err) PP_WARN_UNUSED;

/* ---- data helpers ---- */

/* REG_SZ / REG_EXPAND_SZ data for a UTF-8 string: UTF-16LE with the terminating NUL. *out is
 * malloc'd (caller frees). */
int regpol_sz_make(const char *utf8, uint8_t **out, size_t *size,
		   struct pp_error *err) PP_WARN_UNUSED;

/* The UTF-8 string of REG_SZ / REG_EXPAND_SZ data (malloc'd, caller frees). The data must be
 * UTF-16LE of even size; it ends at the first NUL, and a missing final NUL is tolerated. */
char *regpol_sz_read(const uint8_t *data, size_t size, struct pp_error *err) PP_WARN_UNUSED;

/* REG_DWORD data (4 bytes, little-endian). */
void regpol_dword_make(uint32_t v, uint8_t out[4]);

/* The number in REG_DWORD (little-endian) or REG_DWORD_BIG_ENDIAN data of exactly 4 bytes. */
int regpol_dword_read(uint32_t type, const uint8_t *data, size_t size, uint32_t *v,
		      struct pp_error *err) PP_WARN_UNUSED;

/* REG_QWORD data (8 bytes, little-endian) and its number (exactly 8 bytes). */
void regpol_qword_make(uint64_t v, uint8_t out[8]);
int regpol_qword_read(const uint8_t *data, size_t size, uint64_t *v,
		      struct pp_error *err) PP_WARN_UNUSED;

/* REG_MULTI_SZ data for count UTF-8 strings: each UTF-16LE with its NUL, then one more NUL.
 * Empty strings cannot be represented (an empty string ends the list) and are refused. */
int regpol_multi_sz_make(const char *const *strings, size_t count, uint8_t **out, size_t *size,
			 struct pp_error *err) PP_WARN_UNUSED;

/* The strings of REG_MULTI_SZ data as a NULL-terminated malloc'd array of malloc'd UTF-8
 * strings (free with regpol_strings_free); *count gets their number. */
char **regpol_multi_sz_read(const uint8_t *data, size_t size, size_t *count,
			    struct pp_error *err) PP_WARN_UNUSED;
void regpol_strings_free(char **strings);

/* UTF-8 <-> UTF-16LE. regpol_utf16_encode gives units * 2 bytes without a NUL (*units gets the
 * count); regpol_utf16_decode converts units units. Invalid UTF-8 (overlong forms, surrogates,
 * beyond U+10FFFF, truncated sequences) and unpaired surrogates in UTF-16 are refused. Both
 * results are malloc'd; the caller frees. */
uint8_t *regpol_utf16_encode(const char *utf8, size_t *units, struct pp_error *err) PP_WARN_UNUSED;
char *regpol_utf16_decode(const uint8_t *utf16le, size_t units,
			  struct pp_error *err) PP_WARN_UNUSED;

/* ---- serialized certificate element ("Blob") ---- */

/* The Blob of cert: property 3 (its SHA-1, 20 bytes) then property 32 (its DER encoding), each
 * as u32 id, u32 1, u32 length, data. *out is malloc'd (caller frees). */
int regpol_cert_blob_make(X509 *cert, uint8_t **out, size_t *size,
			  struct pp_error *err) PP_WARN_UNUSED;

/* Parses a Blob: property records in any order, property 32 required and once, every reserved
 * field 1. The certificate's SHA-1, and the hash property when present, must equal
 * expected_thumbprint (40 hex digits, any case; NULL skips that check), and the hash property
 * must equal the certificate's SHA-1. *out gets the certificate (caller frees with X509_free). */
int regpol_cert_blob_parse(const uint8_t *blob, size_t size, const char *expected_thumbprint,
			   X509 **out, struct pp_error *err) PP_WARN_UNUSED;

/* Appends the entry that deploys cert into policy store store ("Root", "TrustedPublisher", ...):
 * key REGPOL_CERT_KEY_PREFIX "<store>\\Certificates\\<SHA1>", value "Blob", REG_BINARY. */
int regpol_add_cert(struct regpol *pol, const char *store, X509 *cert,
		    struct pp_error *err) PP_WARN_UNUSED;

#endif
