/* pki.c - keys and certificates for WSUS signing (DESIGN 5.1): generating the signing
 * certificate, the WSUS signing requirements, the "show certificate" fields and thumbprints.
 * Reading and writing PFX, PEM and DER files is in pki_file.c; what the two share is in
 * pki_internal.h.
 *
 * Everything goes through the OpenSSL 3 EVP and X509 APIs. */
#include "pki.h"
#include "pki_internal.h"

#include "hresult.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#define PKI_MAX_DAYS	    (100 * 366)
#define PKI_MAX_SUBJECT_RDN 16

/* ---- small helpers ---- */

/* Appends to a bounded string; silently truncates. */
static void str_append(char *dst, size_t size, const char *src)
{
	size_t used = strnlen(dst, size);

	if (used + 1 >= size)
		return;
	(void)snprintf(dst + used, size - used, "%s", src);
}

/* "YYYY-MM-DD HH:MM:SS UTC", or "(invalid time)". */
static void format_time(const ASN1_TIME *t, char *out, size_t size)
{
	struct tm tm;

	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1 ||
	    strftime(out, size, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		(void)snprintf(out, size, "(invalid time)");
}

/* Copies an ASN.1 string as UTF-8, replacing control characters so that a name can be shown on
 * a terminal or in a log line without surprises. */
static void asn1_string_printable(const ASN1_STRING *s, char *out, size_t size)
{
	unsigned char *utf8 = NULL;
	int n, i;

	if (size == 0)
		return;
	out[0] = '\0';
	n = ASN1_STRING_to_UTF8(&utf8, s);
	if (n < 0)
		return;
	for (i = 0; i < n && (size_t)i + 1 < size; i++)
		out[i] = (utf8[i] < 0x20 || utf8[i] == 0x7f) ? '?' : (char)utf8[i];
	out[i] = '\0';
	OPENSSL_free(utf8);
}

/* RFC 2253 one-line name, most specific RDN first: "CN=Contoso Updates,O=Contoso". UTF-8 is
 * kept as is rather than escaped, so that names in any script stay readable. */
static void name_oneline(const X509_NAME *name, char *out, size_t size)
{
	/* RFC 2253 order and escaping with ", " between attributes, as Windows shows names. */
	const unsigned long flags =
	    ((XN_FLAG_RFC2253 & ~(unsigned long)XN_FLAG_SEP_MASK) | XN_FLAG_SEP_CPLUS_SPC) &
	    ~(unsigned long)ASN1_STRFLGS_ESC_MSB;
	BIO *bio = BIO_new(BIO_s_mem());
	char *data;
	long len;
	size_t i, j = 0;

	if (size == 0)
		return;
	out[0] = '\0';
	if (bio == NULL)
		return;
	if (X509_NAME_print_ex(bio, name, 0, flags) >= 0) {
		len = BIO_get_mem_data(bio, &data);
		for (i = 0; len > 0 && i < (size_t)len && j + 1 < size; i++) {
			unsigned char c = (unsigned char)data[i];

			out[j++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
		}
		out[j] = '\0';
	}
	BIO_free(bio);
}

void pki_internal_hex_encode(const unsigned char *in, size_t len, bool upper, char *out,
			     size_t size)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	size_t i;

	if (size == 0)
		return;
	for (i = 0; i < len && 2 * i + 2 < size; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0x0f];
	}
	out[2 * i] = '\0';
}

/* ---- credential ---- */

struct pki_credential *pki_internal_credential_new(struct pp_error *err)
{
	struct pki_credential *c = OPENSSL_zalloc(sizeof(*c));

	if (c == NULL || (c->chain = sk_X509_new_null()) == NULL) {
		OPENSSL_free(c);
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
		return NULL;
	}
	c->exportable = true;
	return c;
}

void pki_credential_free(struct pki_credential *c)
{
	if (c == NULL)
		return;
	X509_free(c->cert);
	EVP_PKEY_free(c->key);
	sk_X509_pop_free(c->chain, X509_free);
	OPENSSL_free(c);
}

/* ---- subject parsing ---- */

/* Splits "CN=x, O=y" (RFC 4514, most specific first) or "/CN=x/O=y" (OpenSSL, DER order) into a
 * X509_NAME. A backslash escapes the next character. */
static X509_NAME *subject_parse(const char *subject, struct pp_error *err)
{
	X509_NAME *name = NULL;
	char *buf = NULL, *rdn[PKI_MAX_SUBJECT_RDN];
	const char *p;
	char sep, *w;
	bool slash;
	int count = 0, i;

	if (subject == NULL)
		subject = PKI_DEFAULT_SUBJECT_PUBLISHER;
	while (isspace((unsigned char)*subject))
		subject++;
	slash = subject[0] == '/';
	sep = slash ? '/' : ',';
	p = slash ? subject + 1 : subject;
	buf = OPENSSL_malloc(strlen(p) + 1);
	name = X509_NAME_new();
	if (buf == NULL || name == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
		goto fail;
	}
	/* Unescape into buf, cutting at unescaped separators. */
	w = buf;
	rdn[count++] = w;
	for (; *p != '\0'; p++) {
		if (*p == '\\' && p[1] != '\0') {
			*w++ = *++p;
		} else if (*p == sep) {
			*w++ = '\0';
			if (count == PKI_MAX_SUBJECT_RDN) {
				pp_error_set(err, HR_E_INVALIDARG,
					     "subject \"%s\" has more than %d parts", subject,
					     PKI_MAX_SUBJECT_RDN);
				goto fail;
			}
			rdn[count++] = w;
		} else {
			*w++ = *p;
		}
	}
	*w = '\0';
	/* RFC 4514 lists the most specific RDN first; DER stores it last. */
	for (i = 0; i < count; i++) {
		char *part = rdn[slash ? i : count - 1 - i];
		char *eq, *key, *value, *end;

		while (isspace((unsigned char)*part))
			part++;
		eq = strchr(part, '=');
		if (eq == NULL) {
			pp_error_set(err, HR_E_INVALIDARG,
				     "subject \"%s\": \"%s\" is not of the form NAME=value (for "
				     "example \"CN=Contoso Updates, O=Contoso\")",
				     subject, part);
			goto fail;
		}
		*eq = '\0';
		key = part;
		value = eq + 1;
		for (end = key + strlen(key); end > key && isspace((unsigned char)end[-1]); end--)
			end[-1] = '\0';
		while (isspace((unsigned char)*value))
			value++;
		for (end = value + strlen(value); end > value && isspace((unsigned char)end[-1]);
		     end--)
			end[-1] = '\0';
		if (key[0] == '\0' || OBJ_txt2nid(key) == NID_undef) {
			pp_error_set(
			    err, HR_E_INVALIDARG,
			    "subject \"%s\": unknown attribute \"%s\" (use CN, O, OU, L, ST, "
			    "C, emailAddress or a dotted OID)",
			    subject, key);
			goto fail;
		}
		if (value[0] == '\0') {
			pp_error_set(err, HR_E_INVALIDARG, "subject \"%s\": %s has an empty value",
				     subject, key);
			goto fail;
		}
		if (X509_NAME_add_entry_by_txt(name, key, MBSTRING_UTF8,
					       (const unsigned char *)value, -1, -1, 0) != 1) {
			pp_error_set_openssl(err, HR_E_INVALIDARG,
					     "subject \"%s\": %s=\"%s\" is not acceptable", subject,
					     key, value);
			goto fail;
		}
	}
	OPENSSL_free(buf);
	return name;
fail:
	OPENSSL_free(buf);
	X509_NAME_free(name);
	return NULL;
}

/* ---- generate ---- */

static int add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value, struct pp_error *err)
{
	X509_EXTENSION *ext = X509V3_EXT_nconf_nid(NULL, ctx, nid, value);
	int ok;

	if (ext == NULL) {
		pp_error_set_openssl(err, HR_E_FAIL, "cannot build the %s extension",
				     OBJ_nid2ln(nid));
		return -1;
	}
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	if (ok != 1) {
		pp_error_set_openssl(err, HR_E_FAIL, "cannot add the %s extension",
				     OBJ_nid2ln(nid));
		return -1;
	}
	return 0;
}

static int set_random_serial(X509 *x, struct pp_error *err)
{
	unsigned char bytes[16];
	BIGNUM *bn = NULL;
	ASN1_INTEGER *serial = NULL;
	int rc = -1;

	if (RAND_bytes(bytes, sizeof(bytes)) != 1) {
		pp_error_set_openssl(err, HR_E_FAIL, "no random bytes for the serial number");
		goto out;
	}
	/* Positive (top bit clear) and exactly 16 bytes long (first byte non-zero). */
	bytes[0] &= 0x7f;
	if (bytes[0] == 0)
		bytes[0] = 0x01;
	bn = BN_bin2bn(bytes, sizeof(bytes), NULL);
	if (bn == NULL || (serial = BN_to_ASN1_INTEGER(bn, NULL)) == NULL ||
	    X509_set_serialNumber(x, serial) != 1) {
		pp_error_set_openssl(err, HR_E_FAIL, "cannot set the serial number");
		goto out;
	}
	rc = 0;
out:
	BN_free(bn);
	ASN1_INTEGER_free(serial);
	return rc;
}

struct pki_credential *pki_credential_generate(const struct pki_new_options *opts,
					       struct pp_error *err)
{
	struct pki_credential *c = NULL;
	X509_NAME *name = NULL;
	X509 *x = NULL;
	EVP_PKEY *key = NULL;
	X509V3_CTX ctx;
	int bits, days;
	time_t nb;

	bits = opts != NULL && opts->bits != 0 ? opts->bits : 2048;
	days = opts != NULL && opts->days != 0 ? opts->days : PKI_DEFAULT_DAYS_PUBLISHER;
	if (bits != 2048 && bits != 3072 && bits != 4096) {
		pp_error_set(err, HR_E_INVALIDARG,
			     "RSA key size %d is not supported; choose 2048, 3072 or 4096 bits",
			     bits);
		goto fail;
	}
	if (days < 1 || days > PKI_MAX_DAYS) {
		pp_error_set(err, HR_E_INVALIDARG,
			     "validity of %d days is not supported; choose 1 to %d days", days,
			     PKI_MAX_DAYS);
		goto fail;
	}
	name = subject_parse(opts != NULL ? opts->subject : NULL, err);
	if (name == NULL)
		goto fail;
	c = pki_internal_credential_new(err);
	if (c == NULL)
		goto fail;
	c->exportable = opts != NULL ? opts->exportable : true;

	key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
	if (key == NULL) {
		pp_error_set_openssl(err, HR_E_FAIL, "cannot generate an RSA %d-bit key", bits);
		goto fail;
	}
	x = X509_new();
	if (x == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
		goto fail;
	}
	nb = opts != NULL && opts->not_before != 0 ? opts->not_before : time(NULL);
	if (X509_set_version(x, X509_VERSION_3) != 1 || set_random_serial(x, err) != 0 ||
	    X509_set_subject_name(x, name) != 1 || X509_set_issuer_name(x, name) != 1 ||
	    ASN1_TIME_adj(X509_getm_notBefore(x), nb, 0, 0) == NULL ||
	    ASN1_TIME_adj(X509_getm_notAfter(x), nb, days, 0) == NULL ||
	    X509_set_pubkey(x, key) != 1) {
		pp_error_set_openssl(err, HR_E_FAIL, "cannot build the certificate");
		goto fail;
	}
	/* The subject key identifier must exist before the authority key identifier copies it. */
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	if (add_ext(x, &ctx, NID_basic_constraints, "critical,CA:FALSE", err) != 0 ||
	    add_ext(x, &ctx, NID_key_usage, "critical,digitalSignature", err) != 0 ||
	    add_ext(x, &ctx, NID_ext_key_usage, "codeSigning", err) != 0 ||
	    add_ext(x, &ctx, NID_subject_key_identifier, "hash", err) != 0 ||
	    add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always", err) != 0)
		goto fail;
	if (X509_sign(x, key, EVP_sha256()) <= 0) {
		pp_error_set_openssl(err, HR_E_FAIL, "cannot sign the certificate");
		goto fail;
	}
	c->cert = x;
	c->key = key;
	X509_NAME_free(name);
	return c;
fail:
	X509_NAME_free(name);
	X509_free(x);
	EVP_PKEY_free(key);
	pki_credential_free(c);
	return NULL;
}

/* ---- identity ---- */

int pki_thumbprint(X509 *cert, char out[PKI_THUMBPRINT_LEN + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	out[0] = '\0';
	if (cert == NULL || X509_digest(cert, EVP_sha1(), md, &n) != 1 || n != 20) {
		ERR_clear_error();
		return -1;
	}
	pki_internal_hex_encode(md, n, true, out, PKI_THUMBPRINT_LEN + 1);
	return 0;
}

int pki_thumbprint_normalize(const char *in, char out[PKI_THUMBPRINT_LEN + 1])
{
	size_t n = 0;

	out[0] = '\0';
	if (in == NULL)
		return -1;
	for (; *in != '\0'; in++) {
		if (*in == ' ' || *in == ':' || *in == '\t')
			continue;
		if (!isxdigit((unsigned char)*in) || n == PKI_THUMBPRINT_LEN) {
			out[0] = '\0';
			return -1;
		}
		out[n++] = (char)toupper((unsigned char)*in);
	}
	out[n] = '\0';
	if (n != PKI_THUMBPRINT_LEN) {
		out[0] = '\0';
		return -1;
	}
	return 0;
}

void pki_simple_name(X509 *cert, char *out, size_t size)
{
	const X509_NAME *name;
	int idx;

	if (size == 0)
		return;
	out[0] = '\0';
	if (cert == NULL)
		return;
	name = X509_get_subject_name(cert);
	idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
	if (idx >= 0) {
		asn1_string_printable(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx)), out,
				      size);
		if (out[0] != '\0')
			return;
	}
	name_oneline(name, out, size);
}

bool pki_is_self_signed(X509 *cert)
{
	EVP_PKEY *pub;
	bool ok;

	if (cert == NULL ||
	    X509_NAME_cmp(X509_get_subject_name(cert), X509_get_issuer_name(cert)) != 0)
		return false;
	pub = X509_get0_pubkey(cert);
	ok = pub != NULL && X509_verify(cert, pub) == 1;
	ERR_clear_error();
	return ok;
}

/* ---- WSUS requirements ---- */

/* "P-256" for NIST curves, else OpenSSL's curve name. */
static void ec_curve_name(EVP_PKEY *pub, char *out, size_t size)
{
	char group[80];
	const char *nist;
	size_t glen = 0;

	if (EVP_PKEY_get_utf8_string_param(pub, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
					   &glen) != 1) {
		(void)snprintf(out, size, "unknown curve");
		ERR_clear_error();
		return;
	}
	nist = EC_curve_nid2nist(OBJ_txt2nid(group));
	(void)snprintf(out, size, "%s", nist != NULL ? nist : group);
}

static void key_description(EVP_PKEY *pub, char *out, size_t size)
{
	char curve[80];
	const char *type;

	if (EVP_PKEY_is_a(pub, "EC")) {
		ec_curve_name(pub, curve, sizeof(curve));
		(void)snprintf(out, size, "ECDSA (%s)", curve);
		return;
	}
	type = EVP_PKEY_get0_type_name(pub);
	(void)snprintf(out, size, "%s", type != NULL ? type : "of an unknown type");
}

#define CHECK_FAIL(out, ...)                                                                       \
	do {                                                                                       \
		if ((out)->failed < PKI_CHECK_MAX) {                                               \
			(void)snprintf((out)->reasons[(out)->failed], sizeof((out)->reasons[0]),   \
				       __VA_ARGS__);                                               \
			(out)->failed++;                                                           \
		}                                                                                  \
	} while (0)

int pki_check_wsus(X509 *cert, EVP_PKEY *key, time_t now, struct pki_check *out)
{
	EVP_PKEY *pub;
	uint32_t flags;
	char desc[128], when[32];

	memset(out, 0, sizeof(*out));
	if (cert == NULL) {
		CHECK_FAIL(out, "no certificate was given");
		return out->failed;
	}
	pub = X509_get0_pubkey(cert);
	if (pub == NULL) {
		CHECK_FAIL(out, "the certificate's public key cannot be read");
	} else if (EVP_PKEY_is_a(pub, "RSA")) {
		if (EVP_PKEY_get_bits(pub) < PKI_MIN_RSA_BITS)
			CHECK_FAIL(out, "RSA key of %d bits is below the %d-bit minimum",
				   EVP_PKEY_get_bits(pub), PKI_MIN_RSA_BITS);
	} else {
		key_description(pub, desc, sizeof(desc));
		CHECK_FAIL(out, "the key is %s; WSUS signing requires RSA of at least %d bits",
			   desc, PKI_MIN_RSA_BITS);
	}
	flags = X509_get_extension_flags(cert);
	if (flags & EXFLAG_INVALID)
		CHECK_FAIL(out, "the certificate has malformed or duplicate extensions");
	if ((flags & EXFLAG_XKUSAGE) && !(X509_get_extended_key_usage(cert) & XKU_CODE_SIGN))
		CHECK_FAIL(out, "Enhanced Key Usage does not include Code Signing "
				"(1.3.6.1.5.5.7.3.3)");
	if ((flags & EXFLAG_KUSAGE) && !(X509_get_key_usage(cert) & KU_DIGITAL_SIGNATURE))
		CHECK_FAIL(out, "Key Usage does not include Digital Signature");
	if (X509_cmp_time(X509_get0_notAfter(cert), &now) < 0) {
		format_time(X509_get0_notAfter(cert), when, sizeof(when));
		CHECK_FAIL(out, "the certificate expired on %s", when);
	}
	if (X509_cmp_time(X509_get0_notBefore(cert), &now) > 0) {
		format_time(X509_get0_notBefore(cert), when, sizeof(when));
		CHECK_FAIL(out, "the certificate is not valid before %s", when);
	}
	if (key == NULL)
		CHECK_FAIL(out, "no private key is available for this certificate");
	else if (X509_check_private_key(cert, key) != 1)
		CHECK_FAIL(out, "the private key does not match the certificate");
	ERR_clear_error();
	return out->failed;
}

/* ---- show ---- */

/* The names Windows shows for the usual EKU purposes. */
static const struct {
	const char *oid;
	const char *name;
} eku_names[] = {
    {"1.3.6.1.5.5.7.3.1", "Server Authentication"},
    {"1.3.6.1.5.5.7.3.2", "Client Authentication"},
    {"1.3.6.1.5.5.7.3.3", "Code Signing"},
    {"1.3.6.1.5.5.7.3.4", "Secure Email"},
    {"1.3.6.1.5.5.7.3.8", "Time Stamping"},
    {"1.3.6.1.5.5.7.3.9", "OCSP Signing"},
    {"2.5.29.37.0", "Any Purpose"},
    {"1.3.6.1.4.1.311.10.3.13", "Lifetime Signing"},
    {"1.3.6.1.4.1.311.10.3.4", "Encrypting File System"},
    {"1.3.6.1.4.1.311.20.2.2", "Smart Card Logon"},
    {"1.3.6.1.4.1.311.2.1.22", "Commercial Code Signing"},
};

static void show_usage(X509 *cert, char *out, size_t size)
{
	EXTENDED_KEY_USAGE *eku;
	char oid[80], item[160];
	const char *label;
	size_t k;
	int crit = -1, i;

	out[0] = '\0';
	eku = X509_get_ext_d2i(cert, NID_ext_key_usage, &crit, NULL);
	if (eku == NULL) {
		(void)snprintf(out, size, crit == -1 ? "All" : "(unreadable Enhanced Key Usage)");
		ERR_clear_error();
		return;
	}
	for (i = 0; i < sk_ASN1_OBJECT_num(eku); i++) {
		if (OBJ_obj2txt(oid, sizeof(oid), sk_ASN1_OBJECT_value(eku, i), 1) <= 0)
			continue;
		label = "Unknown Key Usage";
		for (k = 0; k < sizeof(eku_names) / sizeof(eku_names[0]); k++)
			if (strcmp(eku_names[k].oid, oid) == 0)
				label = eku_names[k].name;
		(void)snprintf(item, sizeof(item), "%s%s (%s)", i > 0 ? ", " : "", label, oid);
		str_append(out, size, item);
	}
	sk_ASN1_OBJECT_pop_free(eku, ASN1_OBJECT_free);
	if (out[0] == '\0')
		(void)snprintf(out, size, "None");
}

/* "sha256RSA", "sha384ECDSA", as Windows names signature algorithms. */
static void show_signature_algorithm(X509 *cert, char *out, size_t size)
{
	const X509_ALGOR *alg = NULL;
	const ASN1_OBJECT *obj = NULL;
	int nid, md_nid = NID_undef, pk_nid = NID_undef;
	char md[32];
	const char *pk = NULL;
	size_t i;

	X509_get0_signature(NULL, &alg, cert);
	if (alg != NULL)
		X509_ALGOR_get0(&obj, NULL, NULL, alg);
	nid = obj != NULL ? OBJ_obj2nid(obj) : NID_undef;
	if (nid == NID_rsassaPss) {
		(void)snprintf(out, size, "RSASSA-PSS");
		return;
	}
	if (nid != NID_undef && OBJ_find_sigid_algs(nid, &md_nid, &pk_nid) == 1 &&
	    md_nid != NID_undef) {
		if (pk_nid == NID_rsaEncryption)
			pk = "RSA";
		else if (pk_nid == NID_X9_62_id_ecPublicKey)
			pk = "ECDSA";
		else if (pk_nid == NID_dsa)
			pk = "DSA";
		if (pk != NULL) {
			(void)snprintf(md, sizeof(md), "%s", OBJ_nid2sn(md_nid));
			for (i = 0; md[i] != '\0'; i++) {
				if (md[i] == '-')
					memmove(md + i, md + i + 1, strlen(md + i));
				md[i] = (char)tolower((unsigned char)md[i]);
			}
			(void)snprintf(out, size, "%s%s", md, pk);
			return;
		}
	}
	if (nid != NID_undef)
		(void)snprintf(out, size, "%s", OBJ_nid2ln(nid));
	else if (obj != NULL)
		(void)OBJ_obj2txt(out, (int)size, obj, 1);
	else
		(void)snprintf(out, size, "unknown");
}

int pki_show_fields(X509 *cert, struct pki_show *out, struct pp_error *err)
{
	const ASN1_INTEGER *serial;
	EVP_PKEY *pub;
	const char *type;

	memset(out, 0, sizeof(*out));
	if (cert == NULL) {
		pp_error_set(err, HR_E_INVALIDARG, "no certificate to show");
		return -1;
	}
	name_oneline(X509_get_issuer_name(cert), out->issuer, sizeof(out->issuer));
	name_oneline(X509_get_subject_name(cert), out->subject, sizeof(out->subject));
	format_time(X509_get0_notBefore(cert), out->effective, sizeof(out->effective));
	format_time(X509_get0_notAfter(cert), out->expiration, sizeof(out->expiration));
	show_usage(cert, out->usage, sizeof(out->usage));
	pub = X509_get0_pubkey(cert);
	if (pub == NULL) {
		(void)snprintf(out->public_key, sizeof(out->public_key), "unreadable");
	} else {
		type = EVP_PKEY_is_a(pub, "RSA")  ? "RSA"
		       : EVP_PKEY_is_a(pub, "EC") ? "EC"
						  : EVP_PKEY_get0_type_name(pub);
		(void)snprintf(out->public_key, sizeof(out->public_key), "%s %d-bit",
			       type != NULL ? type : "unknown", EVP_PKEY_get_bits(pub));
	}
	if (pki_thumbprint(cert, out->thumbprint) != 0) {
		pp_error_set(err, HR_CRYPT_E_BAD_ENCODE,
			     "cannot compute the certificate thumbprint");
		return -1;
	}
	serial = X509_get0_serialNumber(cert);
	pki_internal_hex_encode(ASN1_STRING_get0_data(serial), (size_t)ASN1_STRING_length(serial),
				false, out->serial, sizeof(out->serial));
	show_signature_algorithm(cert, out->signature_algorithm, sizeof(out->signature_algorithm));
	out->self_signed = pki_is_self_signed(cert);
	ERR_clear_error();
	return 0;
}
