/* pki_file.c - reading and writing credential files: PKCS#12 (PFX) with the non-exportable
 * marker, PEM and DER or Base64 certificates (DESIGN 5.1).
 *
 * Files are read with a size bound and written durably through atomicfile.h (temporary name in
 * the same directory, O_EXCL, fsync, rename), so that a failure never leaves a half-written key
 * file behind. */
#include "pki.h"
#include "pki_internal.h"

#include "atomicfile.h"
#include "hresult.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/provider.h>

#define PKI_MAX_FILE_SIZE (1024 * 1024) /* no certificate or PFX we accept is larger */
#define PKI_PFX_ITER	  PKCS12_DEFAULT_ITER
#define PKI_MAX_BAG_DEPTH 4 /* nested SafeContents bags */

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
	*out_len = (size_t)n + (size_t)m;
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
	c = pki_internal_credential_new(err);
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
	rc = atomicfile_write(path, der, (size_t)der_len, 0600, true, err);
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
	rc = atomicfile_write(path, der, (size_t)len, 0644, true, err);
	OPENSSL_free(der);
	return rc;
}
