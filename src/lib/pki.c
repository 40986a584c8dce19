/* pki.c - keys and certificates for WSUS signing (DESIGN 5.1).
 *
 * Everything goes through the OpenSSL 3 EVP, X509 and PKCS12 APIs. Files are read with a size
 * bound and written atomically (temporary name in the same directory, O_EXCL, fsync, rename), so
 * that a failure never leaves a half-written key file behind. */
#include "pki.h"

#include "hresult.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/provider.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#define PKI_MAX_FILE_SIZE   (1024 * 1024) /* no certificate or PFX we accept is larger */
#define PKI_MAX_DAYS	    (100 * 366)
#define PKI_MAX_SUBJECT_RDN 16
#define PKI_PFX_ITER	    PKCS12_DEFAULT_ITER
#define PKI_MAX_BAG_DEPTH   4 /* nested SafeContents bags */

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
	const unsigned long flags = ((XN_FLAG_RFC2253 & ~(unsigned long)XN_FLAG_SEP_MASK) |
				     XN_FLAG_SEP_CPLUS_SPC) &
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

static void hex_encode(const unsigned char *in, size_t len, bool upper, char *out, size_t size)
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

/* ---- bounded file I/O ---- */

/* Reads a whole regular file of at most PKI_MAX_FILE_SIZE bytes into a fresh buffer (one extra
 * NUL byte after the data so that text parsers may treat it as a string). */
static int read_file_bounded(const char *path, unsigned char **out, size_t *out_len,
			     struct pp_error *err)
{
	unsigned char *buf = NULL;
	struct stat st;
	size_t len = 0, cap = 0;
	ssize_t n;
	int fd, rc = -1;

	*out = NULL;
	*out_len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		pp_error_set_errno(err, errno, "cannot open %s", path);
		return -1;
	}
	if (fstat(fd, &st) != 0) {
		pp_error_set_errno(err, errno, "cannot read %s", path);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		pp_error_set(err, HR_ERROR_INVALID_DATA, "%s is not a regular file", path);
		goto out;
	}
	if (st.st_size > PKI_MAX_FILE_SIZE) {
		pp_error_set(err, HR_ERROR_FILE_TOO_LARGE,
			     "%s is %lld bytes; certificate and PFX files larger than %d bytes are "
			     "refused",
			     path, (long long)st.st_size, PKI_MAX_FILE_SIZE);
		goto out;
	}
	/* One byte more than the limit tells a file that grew since fstat. */
	cap = (size_t)PKI_MAX_FILE_SIZE + 1;
	buf = OPENSSL_malloc(cap + 1);
	if (buf == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory reading %s", path);
		goto out;
	}
	for (;;) {
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			pp_error_set_errno(err, errno, "cannot read %s", path);
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len == cap) {
			pp_error_set(err, HR_ERROR_FILE_TOO_LARGE,
				     "%s is larger than %d bytes; certificate and PFX files that "
				     "large are refused",
				     path, PKI_MAX_FILE_SIZE);
			goto out;
		}
	}
	buf[len] = '\0';
	*out = buf;
	*out_len = len;
	buf = NULL;
	rc = 0;
out:
	if (buf != NULL)
		OPENSSL_clear_free(buf, cap + 1);
	close(fd);
	return rc;
}

/* Writes data to path atomically: a temporary file in the same directory created with
 * O_EXCL|O_NOFOLLOW and the final mode, fsync'd, then renamed over path. On failure the
 * temporary file is removed and path is untouched. */
static int write_file_atomic(const char *path, const unsigned char *data, size_t len, mode_t mode,
			     struct pp_error *err)
{
	char dir[4096], tmp[4096 + 64];
	const char *slash, *base;
	unsigned char rnd[8];
	char rnd_hex[17];
	size_t off = 0;
	ssize_t n;
	int fd = -1, dfd, attempt, rc = -1;
	bool created = false;

	slash = strrchr(path, '/');
	if (slash == NULL) {
		(void)snprintf(dir, sizeof(dir), ".");
		base = path;
	} else if (slash == path) {
		(void)snprintf(dir, sizeof(dir), "/");
		base = slash + 1;
	} else {
		if ((size_t)(slash - path) >= sizeof(dir)) {
			pp_error_set(err, HR_ERROR_INVALID_NAME, "path too long: %s", path);
			return -1;
		}
		memcpy(dir, path, (size_t)(slash - path));
		dir[slash - path] = '\0';
		base = slash + 1;
	}
	if (base[0] == '\0') {
		pp_error_set(err, HR_ERROR_INVALID_NAME, "%s names a directory, not a file", path);
		return -1;
	}
	for (attempt = 0; attempt < 8 && fd < 0; attempt++) {
		if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
			pp_error_set_openssl(err, HR_E_FAIL,
					     "no random bytes for a temporary name");
			goto out;
		}
		hex_encode(rnd, sizeof(rnd), false, rnd_hex, sizeof(rnd_hex));
		if (snprintf(tmp, sizeof(tmp), "%s/.%.64s.%s.tmp", dir, base, rnd_hex) >=
		    (int)sizeof(tmp)) {
			pp_error_set(err, HR_ERROR_INVALID_NAME, "path too long: %s", path);
			goto out;
		}
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
		if (fd < 0 && errno != EEXIST) {
			pp_error_set_errno(err, errno, "cannot create a file in %s", dir);
			goto out;
		}
	}
	if (fd < 0) {
		pp_error_set(err, HR_ERROR_FILE_EXISTS, "cannot find a free temporary name in %s",
			     dir);
		goto out;
	}
	created = true;
	/* The umask may have narrowed the mode; the caller's mode is the contract. */
	if (fchmod(fd, mode) != 0) {
		pp_error_set_errno(err, errno, "cannot set the mode of %s", tmp);
		goto out;
	}
	while (off < len) {
		n = write(fd, data + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			pp_error_set_errno(err, errno, "cannot write %s", path);
			goto out;
		}
		off += (size_t)n;
	}
	if (fsync(fd) != 0) {
		pp_error_set_errno(err, errno, "cannot write %s", path);
		goto out;
	}
	if (close(fd) != 0) {
		fd = -1;
		pp_error_set_errno(err, errno, "cannot write %s", path);
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) != 0) {
		pp_error_set_errno(err, errno, "cannot create %s", path);
		goto out;
	}
	created = false;
	/* Make the rename itself durable; a failure here does not undo the write. */
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		(void)fsync(dfd);
		close(dfd);
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	if (created)
		(void)unlink(tmp);
	return rc;
}

/* ---- credential ---- */

static struct pki_credential *credential_new(struct pp_error *err)
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
	c = credential_new(err);
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

/* ---- load ---- */

/* True when buf is a complete DER certificate. */
static X509 *der_cert(const unsigned char *buf, size_t len)
{
	const unsigned char *p = buf;
	X509 *x;

	if (len == 0 || len > PKI_MAX_FILE_SIZE)
		return NULL;
	x = d2i_X509(NULL, &p, (long)len);
	ERR_clear_error();
	return x;
}

/* Decodes Base64 text (whitespace allowed, no PEM armour) into a fresh buffer; NULL when the
 * text is not Base64. */
static unsigned char *base64_decode(const unsigned char *text, size_t len, size_t *out_len)
{
	EVP_ENCODE_CTX *ctx = EVP_ENCODE_CTX_new();
	unsigned char *out = NULL;
	int n = 0, m = 0;

	*out_len = 0;
	if (ctx == NULL || len == 0 || len > PKI_MAX_FILE_SIZE)
		goto fail;
	out = OPENSSL_malloc(len / 4 * 3 + 4);
	if (out == NULL)
		goto fail;
	EVP_DecodeInit(ctx);
	if (EVP_DecodeUpdate(ctx, out, &n, text, (int)len) < 0 ||
	    EVP_DecodeFinal(ctx, out + n, &m) != 1 || n + m == 0)
		goto fail;
	*out_len = (size_t)(n + m);
	EVP_ENCODE_CTX_free(ctx);
	return out;
fail:
	EVP_ENCODE_CTX_free(ctx);
	OPENSSL_free(out);
	return NULL;
}

static bool looks_like_base64(const unsigned char *buf, size_t len)
{
	size_t i, sig = 0;

	for (i = 0; i < len; i++) {
		unsigned char ch = buf[i];

		if (isspace(ch))
			continue;
		if (!isalnum(ch) && ch != '+' && ch != '/' && ch != '=')
			return false;
		sig++;
	}
	return sig >= 4;
}

static bool has_pem_armour(const unsigned char *buf, size_t len)
{
	static const char marker[] = "-----BEGIN ";
	size_t i;

	for (i = 0; i + sizeof(marker) - 1 <= len; i++)
		if (memcmp(buf + i, marker, sizeof(marker) - 1) == 0)
			return true;
	return false;
}

/* Password callback for legacy encrypted PEM keys: u is the password (NULL = none). */
static int pem_password(char *buf, int size, int rwflag, void *u)
{
	const char *pw = u;
	size_t len;

	(void)rwflag;
	if (pw == NULL || size <= 0)
		return 0;
	len = strlen(pw);
	if (len > (size_t)size)
		return 0;
	memcpy(buf, pw, len);
	return (int)len;
}

/* Picks the leaf (the certificate matching the key, else the first) and moves the others into
 * c->chain. certs is emptied. */
static int assign_leaf(struct pki_credential *c, STACK_OF(X509) * certs, const char *path,
		       struct pp_error *err)
{
	int i, leaf = 0;
	X509 *x;

	if (sk_X509_num(certs) == 0) {
		pp_error_set(err, HR_CRYPT_E_NOT_FOUND, "%s holds no certificate", path);
		return -1;
	}
	if (c->key != NULL) {
		for (i = 0; i < sk_X509_num(certs); i++) {
			if (X509_check_private_key(sk_X509_value(certs, i), c->key) == 1) {
				leaf = i;
				break;
			}
		}
		ERR_clear_error();
	}
	c->cert = sk_X509_delete(certs, leaf);
	while ((x = sk_X509_shift(certs)) != NULL) {
		if (sk_X509_push(c->chain, x) <= 0) {
			X509_free(x);
			pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
			return -1;
		}
	}
	return 0;
}

static int set_key(struct pki_credential *c, EVP_PKEY *key, const char *path, struct pp_error *err)
{
	if (c->key != NULL) {
		EVP_PKEY_free(key);
		pp_error_set(err, HR_ERROR_INVALID_DATA,
			     "%s holds more than one private key; keep only the signing key", path);
		return -1;
	}
	c->key = key;
	return 0;
}

/* Decodes one PEM private-key block (already decrypted when it used legacy PEM encryption). */
static EVP_PKEY *pem_key(const char *type, const unsigned char *data, long len,
			 const char *password, const char *path, struct pp_error *err)
{
	const unsigned char *p = data;
	PKCS8_PRIV_KEY_INFO *p8 = NULL;
	X509_SIG *sig = NULL;
	EVP_PKEY *key = NULL;

	if (strcmp(type, "ENCRYPTED PRIVATE KEY") == 0) {
		sig = d2i_X509_SIG(NULL, &p, len);
		if (sig == NULL)
			goto bad;
		if (password == NULL) {
			pp_error_set(err, HR_ERROR_INVALID_PASSWORD,
				     "the private key in %s is encrypted; give its password", path);
			goto out;
		}
		p8 = PKCS8_decrypt_ex(sig, password, (int)strlen(password), NULL, NULL);
		if (p8 == NULL) {
			ERR_clear_error();
			pp_error_set(err, HR_ERROR_INVALID_PASSWORD,
				     "the password for %s is not correct", path);
			goto out;
		}
		key = EVP_PKCS82PKEY(p8);
	} else if (strcmp(type, "PRIVATE KEY") == 0) {
		p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, len);
		if (p8 != NULL)
			key = EVP_PKCS82PKEY(p8);
	} else if (strcmp(type, "RSA PRIVATE KEY") == 0) {
		key = d2i_PrivateKey(EVP_PKEY_RSA, NULL, &p, len);
	} else if (strcmp(type, "EC PRIVATE KEY") == 0) {
		key = d2i_PrivateKey(EVP_PKEY_EC, NULL, &p, len);
	} else {
		key = d2i_AutoPrivateKey(NULL, &p, len);
	}
	if (key == NULL)
		goto bad;
	goto out;
bad:
	pp_error_set_openssl(err, HR_CRYPT_E_ASN1_BADTAG, "the %s block in %s cannot be decoded",
			     type, path);
out:
	PKCS8_PRIV_KEY_INFO_free(p8);
	X509_SIG_free(sig);
	return key;
}

static int load_pem(struct pki_credential *c, const unsigned char *buf, size_t len,
		    const char *password, const char *path, struct pp_error *err)
{
	STACK_OF(X509) *certs = sk_X509_new_null();
	BIO *bio = BIO_new_mem_buf(buf, (int)len);
	char *type = NULL, *header = NULL;
	unsigned char *data = NULL;
	long dlen = 0;
	int rc = -1, blocks = 0;

	if (certs == NULL || bio == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
		goto out;
	}
	while (PEM_read_bio(bio, &type, &header, &data, &dlen) == 1) {
		const unsigned char *p = data;
		bool is_key = strstr(type, "PRIVATE KEY") != NULL;

		blocks++;
		if (strcmp(type, "CERTIFICATE") == 0 || strcmp(type, "X509 CERTIFICATE") == 0 ||
		    strcmp(type, "TRUSTED CERTIFICATE") == 0) {
			X509 *x = strcmp(type, "TRUSTED CERTIFICATE") == 0
				      ? d2i_X509_AUX(NULL, &p, dlen)
				      : d2i_X509(NULL, &p, dlen);

			if (x == NULL) {
				pp_error_set_openssl(err, HR_CRYPT_E_ASN1_BADTAG,
						     "certificate %d in %s cannot be decoded",
						     sk_X509_num(certs) + 1, path);
				goto out;
			}
			if (sk_X509_push(certs, x) <= 0) {
				X509_free(x);
				pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
				goto out;
			}
		} else if (is_key) {
			EVP_CIPHER_INFO cipher;
			EVP_PKEY *key;

			if (PEM_get_EVP_CIPHER_INFO(header, &cipher) != 1) {
				pp_error_set_openssl(err, HR_CRYPT_E_ASN1_BADTAG,
						     "the %s block in %s has a bad header", type,
						     path);
				goto out;
			}
			if (cipher.cipher != NULL) {
				if (password == NULL) {
					pp_error_set(err, HR_ERROR_INVALID_PASSWORD,
						     "the private key in %s is encrypted; give its "
						     "password",
						     path);
					goto out;
				}
				if (PEM_do_header(&cipher, data, &dlen, pem_password,
						  (void *)password) != 1) {
					ERR_clear_error();
					pp_error_set(err, HR_ERROR_INVALID_PASSWORD,
						     "the password for %s is not correct", path);
					goto out;
				}
			}
			key = pem_key(type, data, dlen, password, path, err);
			if (key == NULL || set_key(c, key, path, err) != 0)
				goto out;
		}
		/* Other blocks (EC PARAMETERS, CRLs) are not part of a credential. */
		OPENSSL_free(type);
		OPENSSL_free(header);
		if (data != NULL)
			OPENSSL_clear_free(data, (size_t)dlen);
		type = header = NULL;
		data = NULL;
	}
	ERR_clear_error();
	if (blocks == 0) {
		pp_error_set(err, HR_CRYPT_E_ASN1_BADTAG, "%s holds no readable PEM block", path);
		goto out;
	}
	if (assign_leaf(c, certs, path, err) != 0)
		goto out;
	rc = 0;
out:
	OPENSSL_free(type);
	OPENSSL_free(header);
	if (data != NULL)
		OPENSSL_clear_free(data, (size_t)dlen);
	sk_X509_pop_free(certs, X509_free);
	BIO_free(bio);
	return rc;
}

/* What a walk through the PFX bags collects. */
struct pfx_contents {
	STACK_OF(X509) * certs;
	EVP_PKEY *key;
	bool non_exportable;
	bool decrypt_failed;
};

static bool bag_non_exportable(const PKCS12_SAFEBAG *bag)
{
	const STACK_OF(X509_ATTRIBUTE) *attrs = PKCS12_SAFEBAG_get0_attrs(bag);
	ASN1_OBJECT *marker = OBJ_txt2obj(PKI_OID_NON_EXPORTABLE, 1);
	bool found = false;
	int i;

	for (i = 0; marker != NULL && i < sk_X509_ATTRIBUTE_num(attrs); i++) {
		X509_ATTRIBUTE *a = sk_X509_ATTRIBUTE_value(attrs, i);

		if (OBJ_cmp(X509_ATTRIBUTE_get0_object(a), marker) == 0)
			found = true;
	}
	ASN1_OBJECT_free(marker);
	return found;
}

/* Walks a list of safe bags. decrypt_ctx is the library context used for decryption only, so
 * that a private context with the legacy provider never owns the objects we return. */
static int pfx_walk_bags(const STACK_OF(PKCS12_SAFEBAG) * bags, const char *pass, int passlen,
			 OSSL_LIB_CTX *decrypt_ctx, struct pfx_contents *pc, const char *path,
			 int depth, struct pp_error *err)
{
	int i;

	if (depth > PKI_MAX_BAG_DEPTH) {
		pp_error_set(err, HR_CRYPT_E_ASN1_BADTAG, "%s nests its contents too deeply", path);
		return -1;
	}
	for (i = 0; i < sk_PKCS12_SAFEBAG_num(bags); i++) {
		const PKCS12_SAFEBAG *bag = sk_PKCS12_SAFEBAG_value(bags, i);
		PKCS8_PRIV_KEY_INFO *p8 = NULL;
		EVP_PKEY *key = NULL;
		X509 *x;

		switch (PKCS12_SAFEBAG_get_nid(bag)) {
		case NID_keyBag:
			key = EVP_PKCS82PKEY(PKCS12_SAFEBAG_get0_p8inf(bag));
			break;
		case NID_pkcs8ShroudedKeyBag:
			p8 = PKCS8_decrypt_ex(PKCS12_SAFEBAG_get0_pkcs8(bag), pass, passlen,
					      decrypt_ctx, NULL);
			if (p8 == NULL) {
				pc->decrypt_failed = true;
				return -1;
			}
			key = EVP_PKCS82PKEY(p8);
			PKCS8_PRIV_KEY_INFO_free(p8);
			break;
		case NID_certBag:
			if (PKCS12_SAFEBAG_get_bag_nid(bag) != NID_x509Certificate)
				continue;
			x = PKCS12_SAFEBAG_get1_cert(bag);
			if (x == NULL || sk_X509_push(pc->certs, x) <= 0) {
				X509_free(x);
				pp_error_set_openssl(err, HR_CRYPT_E_ASN1_BADTAG,
						     "a certificate in %s cannot be decoded", path);
				return -1;
			}
			continue;
		case NID_safeContentsBag:
			if (pfx_walk_bags(PKCS12_SAFEBAG_get0_safes(bag), pass, passlen,
					  decrypt_ctx, pc, path, depth + 1, err) != 0)
				return -1;
			continue;
		default:
			continue; /* CRL and secret bags carry nothing we use */
		}
		if (key == NULL) {
			pp_error_set_openssl(err, HR_CRYPT_E_ASN1_BADTAG,
					     "the private key in %s cannot be decoded", path);
			return -1;
		}
		if (pc->key != NULL) {
			EVP_PKEY_free(key);
			pp_error_set(
			    err, HR_ERROR_INVALID_DATA,
			    "%s holds more than one private key; keep only the signing key", path);
			return -1;
		}
		pc->key = key;
		pc->non_exportable = bag_non_exportable(bag);
	}
	return 0;
}

static int pfx_walk(PKCS12 *p12, const char *pass, int passlen, OSSL_LIB_CTX *decrypt_ctx,
		    struct pfx_contents *pc, const char *path, struct pp_error *err)
{
	STACK_OF(PKCS7) *safes = PKCS12_unpack_authsafes(p12);
	STACK_OF(PKCS12_SAFEBAG) *bags = NULL;
	int i, rc = -1;

	if (safes == NULL) {
		pp_error_set_openssl(err, HR_CRYPT_E_ASN1_BADTAG, "%s is not a readable PFX", path);
		return -1;
	}
	for (i = 0; i < sk_PKCS7_num(safes); i++) {
		PKCS7 *p7 = sk_PKCS7_value(safes, i);

		switch (OBJ_obj2nid(p7->type)) {
		case NID_pkcs7_data:
			bags = PKCS12_unpack_p7data(p7);
			break;
		case NID_pkcs7_encrypted:
			if (p7->d.encrypted == NULL || p7->d.encrypted->enc_data == NULL ||
			    p7->d.encrypted->enc_data->enc_data == NULL)
				break;
			bags = PKCS12_item_decrypt_d2i_ex(
			    p7->d.encrypted->enc_data->algorithm, ASN1_ITEM_rptr(PKCS12_SAFEBAGS),
			    pass, passlen, p7->d.encrypted->enc_data->enc_data, 1, decrypt_ctx,
			    NULL);
			if (bags == NULL) {
				pc->decrypt_failed = true;
				goto out;
			}
			break;
		default:
			continue; /* enveloped (public-key) privacy mode is not supported */
		}
		if (bags == NULL) {
			pp_error_set_openssl(err, HR_CRYPT_E_ASN1_BADTAG,
					     "%s has contents that cannot be decoded", path);
			goto out;
		}
		if (pfx_walk_bags(bags, pass, passlen, decrypt_ctx, pc, path, 0, err) != 0)
			goto out;
		sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
		bags = NULL;
	}
	rc = 0;
out:
	sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
	sk_PKCS7_pop_free(safes, PKCS7_free);
	return rc;
}

static void pfx_contents_reset(struct pfx_contents *pc)
{
	sk_X509_pop_free(pc->certs, X509_free);
	EVP_PKEY_free(pc->key);
	memset(pc, 0, sizeof(*pc));
}

/* Decrypts with the default library context, and when that fails with a correct password (the
 * MAC verified), once more with a private context that also has the legacy provider, for PFX
 * files that still use RC2 or 3DES. The process-wide context is never changed. */
static int pfx_decrypt(PKCS12 *p12, const char *pass, int passlen, bool mac_ok,
		       struct pfx_contents *pc, const char *path, struct pp_error *err)
{
	OSSL_LIB_CTX *legacy_ctx = NULL;
	OSSL_PROVIDER *prov_default = NULL, *prov_legacy = NULL;
	int rc = -1;

	pc->certs = sk_X509_new_null();
	if (pc->certs == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
		goto out;
	}
	if (pfx_walk(p12, pass, passlen, NULL, pc, path, err) == 0) {
		rc = 0;
		goto out;
	}
	if (!pc->decrypt_failed)
		goto out;
	ERR_clear_error();
	pfx_contents_reset(pc);
	if (!mac_ok) {
		pp_error_set(err, HR_ERROR_INVALID_PASSWORD, "the password for %s is not correct",
			     path);
		goto out;
	}
	legacy_ctx = OSSL_LIB_CTX_new();
	if (legacy_ctx != NULL) {
		prov_default = OSSL_PROVIDER_load(legacy_ctx, "default");
		prov_legacy = OSSL_PROVIDER_load(legacy_ctx, "legacy");
	}
	pc->certs = sk_X509_new_null();
	if (legacy_ctx == NULL || prov_default == NULL || prov_legacy == NULL ||
	    pc->certs == NULL) {
		ERR_clear_error();
		pp_error_set(err, HR_NTE_BAD_ALGID,
			     "%s is encrypted with an algorithm this system does not offer (the "
			     "OpenSSL legacy provider is missing); re-export it with AES-256",
			     path);
		goto out;
	}
	if (pfx_walk(p12, pass, passlen, legacy_ctx, pc, path, err) != 0) {
		ERR_clear_error();
		pp_error_set(err, HR_NTE_BAD_ALGID,
			     "%s is encrypted with an algorithm that cannot be decrypted here; "
			     "re-export it with AES-256",
			     path);
		goto out;
	}
	rc = 0;
out:
	OSSL_PROVIDER_unload(prov_legacy);
	OSSL_PROVIDER_unload(prov_default);
	OSSL_LIB_CTX_free(legacy_ctx);
	return rc;
}

static int load_pfx(struct pki_credential *c, PKCS12 *p12, const char *password, const char *path,
		    struct pp_error *err)
{
	struct pfx_contents pc = {0};
	const char *pass = password != NULL ? password : "";
	int passlen = (int)strlen(pass);
	bool mac_ok = false;
	int rc = -1;

	if (PKCS12_mac_present(p12)) {
		/* An empty password may have been applied as "" or as no password at all. */
		if (PKCS12_verify_mac(p12, pass, passlen) == 1) {
			mac_ok = true;
		} else if (passlen == 0 && PKCS12_verify_mac(p12, NULL, 0) == 1) {
			mac_ok = true;
			pass = NULL;
		}
		ERR_clear_error();
		if (!mac_ok) {
			pp_error_set(err, HR_ERROR_INVALID_PASSWORD,
				     "the password for %s is not correct", path);
			goto out;
		}
	}
	if (pfx_decrypt(p12, pass, passlen, mac_ok, &pc, path, err) != 0)
		goto out;
	c->key = pc.key;
	pc.key = NULL;
	c->exportable = !pc.non_exportable;
	if (assign_leaf(c, pc.certs, path, err) != 0)
		goto out;
	rc = 0;
out:
	pfx_contents_reset(&pc);
	ERR_clear_error();
	return rc;
}

/* Loads binary data: PKCS#12 or DER certificate. */
static int load_der(struct pki_credential *c, const unsigned char *buf, size_t len,
		    const char *password, const char *path, struct pp_error *err)
{
	const unsigned char *p = buf;
	PKCS12 *p12;
	X509 *x;
	int rc;

	p12 = d2i_PKCS12(NULL, &p, (long)len);
	if (p12 != NULL) {
		rc = load_pfx(c, p12, password, path, err);
		PKCS12_free(p12);
		return rc;
	}
	ERR_clear_error();
	x = der_cert(buf, len);
	if (x == NULL) {
		pp_error_set(err, HR_CRYPT_E_ASN1_BADTAG,
			     "%s is not a certificate or PFX file that can be read (PFX, PEM, DER "
			     "or Base64 expected), or it is damaged",
			     path);
		return -1;
	}
	c->cert = x;
	return 0;
}

struct pki_credential *pki_credential_load(const char *path, const char *password,
					   struct pp_error *err)
{
	struct pki_credential *c = NULL;
	unsigned char *buf = NULL, *decoded = NULL;
	size_t len = 0, dlen = 0;
	int rc = -1;

	if (read_file_bounded(path, &buf, &len, err) != 0)
		goto out;
	c = credential_new(err);
	if (c == NULL)
		goto out;
	if (len == 0) {
		pp_error_set(err, HR_CRYPT_E_ASN1_BADTAG,
			     "%s is empty; a certificate or PFX file was expected", path);
		goto out;
	}
	if (buf[0] == 0x30) {
		rc = load_der(c, buf, len, password, path, err);
	} else if (has_pem_armour(buf, len)) {
		rc = load_pem(c, buf, len, password, path, err);
	} else if (looks_like_base64(buf, len) &&
		   (decoded = base64_decode(buf, len, &dlen)) != NULL && decoded[0] == 0x30) {
		rc = load_der(c, decoded, dlen, password, path, err);
	} else {
		pp_error_set(err, HR_CRYPT_E_ASN1_BADTAG,
			     "%s is not a certificate or PFX file that can be read (PFX, PEM, DER "
			     "or Base64 expected)",
			     path);
	}
out:
	if (decoded != NULL)
		OPENSSL_clear_free(decoded, dlen);
	if (buf != NULL)
		OPENSSL_clear_free(buf, len + 1);
	ERR_clear_error();
	if (rc != 0) {
		pki_credential_free(c);
		return NULL;
	}
	return c;
}

X509 *pki_cert_load(const char *path, struct pp_error *err)
{
	unsigned char *buf = NULL, *decoded = NULL;
	size_t len = 0, dlen = 0;
	X509 *x = NULL;
	BIO *bio = NULL;

	if (read_file_bounded(path, &buf, &len, err) != 0)
		goto out;
	if (len == 0) {
		pp_error_set(err, HR_CRYPT_E_ASN1_BADTAG,
			     "%s is empty; a certificate (DER, PEM or Base64) was expected", path);
		goto out;
	}
	if (buf[0] == 0x30) {
		x = der_cert(buf, len);
	} else if (has_pem_armour(buf, len)) {
		bio = BIO_new_mem_buf(buf, (int)len);
		if (bio != NULL)
			x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	} else if (looks_like_base64(buf, len)) {
		decoded = base64_decode(buf, len, &dlen);
		if (decoded != NULL)
			x = der_cert(decoded, dlen);
	}
	if (x == NULL)
		pp_error_set(err, HR_CRYPT_E_ASN1_BADTAG,
			     "%s is not a certificate that can be read (DER, PEM or Base64 "
			     "expected), or it is damaged",
			     path);
out:
	BIO_free(bio);
	OPENSSL_free(decoded);
	OPENSSL_free(buf);
	ERR_clear_error();
	return x;
}

/* ---- write ---- */

static int add_bag_attrs(PKCS12_SAFEBAG *bag, const unsigned char *keyid, unsigned int keyid_len,
			 const char *friendly)
{
	if (PKCS12_add_localkeyid(bag, (unsigned char *)keyid, (int)keyid_len) != 1)
		return -1;
	if (friendly[0] != '\0' && PKCS12_add_friendlyname_utf8(bag, friendly, -1) != 1)
		return -1;
	return 0;
}

/* Builds the PFX in memory: one encrypted SafeContents with the certificates, one plain
 * SafeContents with the shrouded key (and the non-exportable marker when asked), all with
 * PBES2/PBKDF2/AES-256-CBC and a SHA-256 MAC, which OpenSSL 3 opens without -legacy and Windows
 * 10 1709 and later import. */
static int pfx_encode(const struct pki_credential *c, const char *pass, unsigned char **out,
		      int *out_len, struct pp_error *err)
{
	STACK_OF(PKCS12_SAFEBAG) *cert_bags = NULL, *key_bags = NULL;
	STACK_OF(PKCS7) *safes = NULL;
	PKCS12_SAFEBAG *bag;
	PKCS12 *p12 = NULL;
	unsigned char keyid[EVP_MAX_MD_SIZE];
	unsigned int keyid_len = 0;
	char friendly[256];
	int i, rc = -1;

	*out = NULL;
	*out_len = 0;
	pki_simple_name(c->cert, friendly, sizeof(friendly));
	if (X509_digest(c->cert, EVP_sha1(), keyid, &keyid_len) != 1)
		goto fail;
	bag = PKCS12_add_cert(&cert_bags, c->cert);
	if (bag == NULL || add_bag_attrs(bag, keyid, keyid_len, friendly) != 0)
		goto fail;
	for (i = 0; i < sk_X509_num(c->chain); i++)
		if (PKCS12_add_cert(&cert_bags, sk_X509_value(c->chain, i)) == NULL)
			goto fail;
	bag = PKCS12_add_key_ex(&key_bags, c->key, 0, PKI_PFX_ITER, NID_aes_256_cbc, pass, NULL,
				NULL);
	if (bag == NULL || add_bag_attrs(bag, keyid, keyid_len, friendly) != 0)
		goto fail;
	if (!c->exportable) {
		/* Readers only look for the attribute's presence; the text value is for people
		 * reading `openssl pkcs12 -info`. */
		static const char marker[] = "non-exportable";

		if (PKCS12_add1_attr_by_txt(bag, PKI_OID_NON_EXPORTABLE, V_ASN1_UTF8STRING,
					    (const unsigned char *)marker,
					    (int)sizeof(marker) - 1) != 1)
			goto fail;
	}
	if (PKCS12_add_safe_ex(&safes, cert_bags, NID_aes_256_cbc, PKI_PFX_ITER, pass, NULL,
			       NULL) != 1 ||
	    PKCS12_add_safe_ex(&safes, key_bags, -1, 0, NULL, NULL, NULL) != 1)
		goto fail;
	p12 = PKCS12_add_safes_ex(safes, 0, NULL, NULL);
	if (p12 == NULL || PKCS12_set_mac(p12, pass, -1, NULL, 0, PKI_PFX_ITER, EVP_sha256()) != 1)
		goto fail;
	*out_len = i2d_PKCS12(p12, out);
	if (*out_len <= 0) {
		*out = NULL;
		goto fail;
	}
	rc = 0;
	goto out;
fail:
	pp_error_set_openssl(err, HR_E_FAIL, "cannot build the PFX for \"%s\"", friendly);
out:
	sk_PKCS12_SAFEBAG_pop_free(cert_bags, PKCS12_SAFEBAG_free);
	sk_PKCS12_SAFEBAG_pop_free(key_bags, PKCS12_SAFEBAG_free);
	sk_PKCS7_pop_free(safes, PKCS7_free);
	PKCS12_free(p12);
	return rc;
}

static int pfx_write(const struct pki_credential *c, const char *path, const char *password,
		     struct pp_error *err)
{
	unsigned char *der = NULL;
	int der_len = 0, rc = -1;

	if (c == NULL || c->cert == NULL) {
		pp_error_set(err, HR_E_INVALIDARG, "no certificate to write to %s", path);
		goto out;
	}
	if (c->key == NULL) {
		pp_error_set(err, HR_CRYPT_E_NO_KEY_PROPERTY,
			     "no private key is available for this certificate; a PFX needs one "
			     "(export the certificate as .cer instead)");
		goto out;
	}
	if (X509_check_private_key(c->cert, c->key) != 1) {
		ERR_clear_error();
		pp_error_set(err, HR_NTE_BAD_KEY_STATE,
			     "the private key does not match the certificate; %s not written",
			     path);
		goto out;
	}
	if (pfx_encode(c, password != NULL ? password : "", &der, &der_len, err) != 0)
		goto out;
	rc = write_file_atomic(path, der, (size_t)der_len, 0600, err);
out:
	if (der != NULL)
		OPENSSL_clear_free(der, (size_t)der_len);
	return rc;
}

int pki_store_new_pfx(const struct pki_credential *c, const char *path, const char *password,
		      struct pp_error *err)
{
	return pfx_write(c, path, password, err);
}

int pki_export_pfx(const struct pki_credential *c, const char *path, const char *password,
		   struct pp_error *err)
{
	char name[256];

	if (c != NULL && c->cert != NULL && !c->exportable) {
		pki_simple_name(c->cert, name, sizeof(name));
		pp_error_set(err, HR_NTE_BAD_KEY_STATE,
			     "the private key of \"%s\" was created non-exportable; export the "
			     "public certificate (.cer) instead",
			     name);
		return -1;
	}
	return pfx_write(c, path, password, err);
}

int pki_export_cer(X509 *cert, const char *path, struct pp_error *err)
{
	unsigned char *der = NULL;
	int len, rc;

	if (cert == NULL) {
		pp_error_set(err, HR_E_INVALIDARG, "no certificate to write to %s", path);
		return -1;
	}
	len = i2d_X509(cert, &der);
	if (len <= 0) {
		pp_error_set_openssl(err, HR_CRYPT_E_BAD_ENCODE, "cannot encode the certificate");
		return -1;
	}
	rc = write_file_atomic(path, der, (size_t)len, 0644, err);
	OPENSSL_free(der);
	return rc;
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
	hex_encode(md, n, true, out, PKI_THUMBPRINT_LEN + 1);
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
	hex_encode(ASN1_STRING_get0_data(serial), (size_t)ASN1_STRING_length(serial), false,
		   out->serial, sizeof(out->serial));
	show_signature_algorithm(cert, out->signature_algorithm, sizeof(out->signature_algorithm));
	out->self_signed = pki_is_self_signed(cert);
	ERR_clear_error();
	return 0;
}
