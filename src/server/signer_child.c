/* signer_child.c - the signer child process (signer.h, docs/internals/signer.md): the key
 * directory, the key-encryption key, the key files and one handler per request.
 *
 * The child opens the key directory, reads (or creates) the key-encryption key and answers one
 * request at a time until its socket reaches EOF. Private keys exist only in the child, only for
 * the duration of one request: each SIGN, EXPORT_PFX or GENERATE decrypts or creates the key and
 * frees it (OpenSSL clears RSA private components on free). Everything that can hold a secret
 * (message bodies, passwords, the kek and the passphrase derived from it) is wiped with
 * OPENSSL_cleanse before it is freed. */
#include "signer.h"
#include "signer_internal.h"

#include "atomicfile.h"
#include "hresult.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#define SIGNER_KEK_LEN	    32
#define SIGNER_KEY_FILE_MAX (64 * 1024)
#define SIGNER_MD_NAME_MAX  32u
#define SIGNER_DAYS_MAX	    (100 * 366)

struct child {
	int fd;	   /* the socket */
	int dirfd; /* the key directory */
	const char *dir;
	uint8_t kek[SIGNER_KEK_LEN];
	char pass[2 * SIGNER_KEK_LEN + 1]; /* PKCS#8 passphrase: hex of kek */
};

static int child_path(const struct child *c, const char *thumb, const char *ext, char *out,
		      size_t size, struct pp_error *err)
{
	int n = snprintf(out, size, "%s/%s%s", c->dir, thumb, ext);

	if (n < 0 || (size_t)n >= size) {
		pp_error_set(err, HR_ERROR_INVALID_NAME, "key directory path %s is too long",
			     c->dir);
		return -1;
	}
	return 0;
}

/* Reads dir/name (regular, not a link, at most max bytes). With secret, the file must not be
 * accessible to group or others. *out is malloc'd with a NUL after the data. */
static int child_read(const struct child *c, const char *name, size_t max, bool secret,
		      uint8_t **out, size_t *len, struct pp_error *err)
{
	struct stat st;
	uint8_t *buf = NULL;
	size_t got = 0;
	ssize_t n;
	int fd, rc = -1;

	*out = NULL;
	*len = 0;
	fd = openat(c->dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			pp_error_set(err, HR_CRYPT_E_NOT_FOUND, "%s/%s does not exist", c->dir,
				     name);
		else
			pp_error_set_errno(err, errno, "cannot open %s/%s", c->dir, name);
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		pp_error_set(err, HR_ERROR_INVALID_DATA, "%s/%s is not a regular file", c->dir,
			     name);
		goto out;
	}
	if (secret && (st.st_mode & 077) != 0) {
		pp_error_set(err, HR_E_ACCESSDENIED,
			     "%s/%s is accessible to group or others (mode %04o); it must be 0600",
			     c->dir, name, (unsigned)(st.st_mode & 07777));
		goto out;
	}
	if (st.st_size < 0 || (uint64_t)st.st_size > max) {
		pp_error_set(err, HR_ERROR_FILE_TOO_LARGE, "%s/%s is larger than %zu bytes", c->dir,
			     name, max);
		goto out;
	}
	buf = OPENSSL_zalloc(max + 2);
	if (buf == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory reading %s/%s", c->dir, name);
		goto out;
	}
	for (;;) {
		n = read(fd, buf + got, max + 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			pp_error_set_errno(err, errno, "cannot read %s/%s", c->dir, name);
			goto out;
		}
		if (n == 0)
			break;
		got += (size_t)n;
		if (got > max) {
			pp_error_set(err, HR_ERROR_FILE_TOO_LARGE, "%s/%s grew over %zu bytes",
				     c->dir, name, max);
			goto out;
		}
	}
	*out = buf;
	*len = got;
	buf = NULL;
	rc = 0;
out:
	if (buf != NULL)
		OPENSSL_clear_free(buf, max + 2);
	close(fd);
	return rc;
}

static void child_read_free(uint8_t *buf, size_t max)
{
	if (buf != NULL)
		OPENSSL_clear_free(buf, max + 2);
}

/* Creates the kek: a temporary 0600 file (O_EXCL|O_NOFOLLOW) linked to "kek", which never
 * replaces one that appeared meanwhile. */
static int child_create_kek(struct child *c, struct pp_error *err)
{
	char tmp[64];
	uint8_t rnd[8];
	ssize_t n;
	int fd = -1, rc = -1;

	if (RAND_priv_bytes(c->kek, sizeof(c->kek)) != 1 || RAND_bytes(rnd, sizeof(rnd)) != 1) {
		pp_error_set_openssl(err, HR_E_FAIL, "cannot draw random bytes for the kek");
		return -1;
	}
	snprintf(tmp, sizeof(tmp), ".kek.%02x%02x%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2],
		 rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
	fd = openat(c->dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		pp_error_set_errno(err, errno, "cannot create %s/%s", c->dir, tmp);
		return -1;
	}
	do
		n = write(fd, c->kek, sizeof(c->kek));
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(c->kek) || fsync(fd) != 0) {
		pp_error_set_errno(err, n < 0 ? errno : EIO, "cannot write %s/%s", c->dir, tmp);
		goto out;
	}
	if (linkat(c->dirfd, tmp, c->dirfd, "kek", 0) != 0) {
		pp_error_set_errno(err, errno, "cannot create %s/kek", c->dir);
		goto out;
	}
	if (fsync(c->dirfd) != 0) {
		pp_error_set_errno(err, errno, "cannot sync %s", c->dir);
		goto out;
	}
	rc = 0;
out:
	close(fd);
	unlinkat(c->dirfd, tmp, 0);
	return rc;
}

static int child_load_kek(struct child *c, struct pp_error *err)
{
	uint8_t *buf = NULL;
	size_t len = 0, i;
	int rc = -1;

	if (faccessat(c->dirfd, "kek", F_OK, AT_SYMLINK_NOFOLLOW) != 0 && errno == ENOENT) {
		if (child_create_kek(c, err) != 0)
			return -1;
	} else {
		if (child_read(c, "kek", SIGNER_KEK_LEN, true, &buf, &len, err) != 0)
			goto out;
		if (len != SIGNER_KEK_LEN) {
			pp_error_set(err, HR_ERROR_INVALID_DATA,
				     "%s/kek is %zu bytes; a key-encryption key of %d bytes was "
				     "expected (restore it from backup)",
				     c->dir, len, SIGNER_KEK_LEN);
			goto out;
		}
		memcpy(c->kek, buf, SIGNER_KEK_LEN);
	}
	for (i = 0; i < SIGNER_KEK_LEN; i++)
		snprintf(c->pass + 2 * i, 3, "%02x", c->kek[i]);
	rc = 0;
out:
	child_read_free(buf, SIGNER_KEK_LEN);
	return rc;
}

/* Refuses key files that group or others could read: a sign they were copied carelessly. */
static int child_check_files(struct child *c, struct pp_error *err)
{
	struct dirent *de;
	struct stat st;
	size_t nlen;
	DIR *d;
	int fd, rc = -1;

	fd = dup(c->dirfd);
	d = fd >= 0 ? fdopendir(fd) : NULL;
	if (d == NULL) {
		pp_error_set_errno(err, errno, "cannot list %s", c->dir);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	rewinddir(d);
	while ((de = readdir(d)) != NULL) {
		nlen = strlen(de->d_name);
		if (!(nlen > 4 && strcmp(de->d_name + nlen - 4, ".key") == 0))
			continue;
		if (fstatat(c->dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
			continue;
		if (!S_ISREG(st.st_mode)) {
			pp_error_set(err, HR_ERROR_INVALID_DATA, "%s/%s is not a regular file",
				     c->dir, de->d_name);
			goto out;
		}
		if ((st.st_mode & 077) != 0) {
			pp_error_set(err, HR_E_ACCESSDENIED,
				     "%s/%s is accessible to group or others (mode %04o); it must "
				     "be 0600",
				     c->dir, de->d_name, (unsigned)(st.st_mode & 07777));
			goto out;
		}
	}
	rc = 0;
out:
	closedir(d);
	return rc;
}

static int child_open(struct child *c, struct pp_error *err)
{
	struct stat st;

	if (mkdir(c->dir, 0700) != 0 && errno != EEXIST) {
		pp_error_set_errno(err, errno, "cannot create the key directory %s", c->dir);
		return -1;
	}
	c->dirfd = open(c->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (c->dirfd < 0) {
		pp_error_set_errno(err, errno, "cannot open the key directory %s", c->dir);
		return -1;
	}
	if (fstat(c->dirfd, &st) != 0 || (st.st_mode & 022) != 0) {
		pp_error_set(err, HR_E_ACCESSDENIED,
			     "the key directory %s is writable by group or others; it must be 0700",
			     c->dir);
		return -1;
	}
	if (child_load_kek(c, err) != 0)
		return -1;
	return child_check_files(c, err);
}

static int pem_pass_cb(char *buf, int size, int rwflag, void *u)
{
	const struct child *c = u;
	int n = (int)strlen(c->pass);

	if (n > size)
		return -1;
	memcpy(buf, c->pass, (size_t)n);
	return n;
}

/* Decrypts the private key of thumb. The caller frees it with EVP_PKEY_free. */
static EVP_PKEY *child_load_key(struct child *c, const char *thumb, struct pp_error *err)
{
	char name[PKI_THUMBPRINT_LEN + 8];
	uint8_t *buf = NULL;
	size_t len = 0;
	EVP_PKEY *key = NULL;
	BIO *bio = NULL;

	snprintf(name, sizeof(name), "%s.key", thumb);
	if (child_read(c, name, SIGNER_KEY_FILE_MAX, true, &buf, &len, err) != 0)
		goto out;
	bio = BIO_new_mem_buf(buf, (int)len);
	if (bio != NULL)
		key = PEM_read_bio_PrivateKey(bio, NULL, pem_pass_cb, c);
	if (key == NULL)
		pp_error_set_openssl(err, HR_NTE_BAD_KEY_STATE,
				     "cannot decrypt %s/%s with the key-encryption key", c->dir,
				     name);
out:
	BIO_free(bio);
	child_read_free(buf, SIGNER_KEY_FILE_MAX);
	ERR_clear_error();
	return key;
}

static int child_write_key(struct child *c, const char *thumb, EVP_PKEY *key, struct pp_error *err)
{
	char path[PATH_MAX];
	char *data = NULL;
	long len;
	BIO *bio;
	int rc = -1;

	if (child_path(c, thumb, ".key", path, sizeof(path), err) != 0)
		return -1;
	bio = BIO_new(BIO_s_mem());
	if (bio == NULL || PEM_write_bio_PKCS8PrivateKey(bio, key, EVP_aes_256_cbc(), c->pass,
							 (int)strlen(c->pass), NULL, NULL) != 1) {
		pp_error_set_openssl(err, HR_E_FAIL, "cannot encrypt the private key of %s", thumb);
		goto out;
	}
	len = BIO_get_mem_data(bio, &data);
	if (len <= 0) {
		pp_error_set(err, HR_E_FAIL, "cannot encrypt the private key of %s", thumb);
		goto out;
	}
	rc = atomicfile_write(path, data, (size_t)len, 0600, true, err);
out:
	BIO_free(bio);
	return rc;
}

static int child_write_small(struct child *c, const char *thumb, const char *ext, const void *data,
			     size_t len, mode_t mode, struct pp_error *err)
{
	char path[PATH_MAX];

	if (child_path(c, thumb, ext, path, sizeof(path), err) != 0)
		return -1;
	return atomicfile_write(path, data, len, mode, true, err);
}

/* Stores a credential: key (encrypted), metadata, chain, and the certificate last, since the
 * .cer is what makes an entry appear in LIST. */
static int child_store(struct child *c, const struct pki_credential *cred, bool exportable,
		       char thumb[PKI_THUMBPRINT_LEN + 1], struct pp_error *err)
{
	char path[PATH_MAX];
	const char *meta = exportable ? "exportable=1\n" : "exportable=0\n";
	struct signer_wbuf chain = {0};
	unsigned char *der = NULL;
	int i, n, rc = -1;

	if (pki_thumbprint(cred->cert, thumb) != 0) {
		pp_error_set(err, HR_CRYPT_E_BAD_ENCODE, "cannot compute the thumbprint");
		return -1;
	}
	if (child_write_key(c, thumb, cred->key, err) != 0 ||
	    child_write_small(c, thumb, ".meta", meta, strlen(meta), 0600, err) != 0)
		goto out;
	for (i = 0; i < sk_X509_num(cred->chain); i++) {
		n = i2d_X509(sk_X509_value(cred->chain, i), &der);
		if (n <= 0) {
			pp_error_set_openssl(err, HR_CRYPT_E_BAD_ENCODE, "cannot encode the chain");
			goto out;
		}
		signer_wbuf_put(&chain, der, (size_t)n);
		OPENSSL_free(der);
		der = NULL;
	}
	if (chain.failed) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "the chain is too large to store");
		goto out;
	}
	if (chain.len > 0) {
		if (child_write_small(c, thumb, ".chain", chain.p, chain.len, 0644, err) != 0)
			goto out;
	} else {
		if (child_path(c, thumb, ".chain", path, sizeof(path), err) != 0)
			goto out;
		if (unlink(path) != 0 && errno != ENOENT) {
			pp_error_set_errno(err, errno, "cannot remove %s", path);
			goto out;
		}
	}
	if (child_path(c, thumb, ".cer", path, sizeof(path), err) != 0 ||
	    pki_export_cer(cred->cert, path, err) != 0)
		goto out;
	rc = 0;
out:
	OPENSSL_free(der);
	signer_wbuf_free(&chain);
	return rc;
}

/* Appends the LIST/GENERATE/IMPORT entry of thumb, read back from the files. */
static int child_put_entry(struct child *c, const char *thumb, struct signer_wbuf *w,
			   struct pp_error *err)
{
	char name[PKI_THUMBPRINT_LEN + 8];
	uint8_t *cer = NULL, *chain = NULL, *meta = NULL;
	size_t cer_len = 0, chain_len = 0, meta_len = 0, off;
	const unsigned char *p;
	uint32_t flags = 0, count = 0;
	struct pp_error ignored;
	X509 *x;
	int rc = -1;

	snprintf(name, sizeof(name), "%s.cer", thumb);
	if (child_read(c, name, SIGNER_CERT_MAX, false, &cer, &cer_len, err) != 0)
		goto out;
	snprintf(name, sizeof(name), "%s.meta", thumb);
	if (child_read(c, name, 64, false, &meta, &meta_len, &ignored) == 0 &&
	    strcmp((const char *)meta, "exportable=1\n") == 0)
		flags |= SIGNER_ENTRY_EXPORT;
	snprintf(name, sizeof(name), "%s.key", thumb);
	if (faccessat(c->dirfd, name, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
		flags |= SIGNER_ENTRY_HAS_KEY;
	snprintf(name, sizeof(name), "%s.chain", thumb);
	if (child_read(c, name, SIGNER_CERT_MAX, false, &chain, &chain_len, &ignored) != 0)
		chain_len = 0;
	signer_wbuf_str(w, thumb);
	signer_wbuf_u32(w, flags);
	signer_wbuf_bytes(w, cer, cer_len);
	/* Count the chain certificates first, then send each one's DER. */
	for (off = 0; off < chain_len; count++) {
		p = chain + off;
		x = d2i_X509(NULL, &p, (long)(chain_len - off));
		if (x == NULL)
			break;
		X509_free(x);
		off = (size_t)(p - chain);
	}
	signer_wbuf_u32(w, count);
	for (off = 0; off < chain_len && count > 0; count--) {
		p = chain + off;
		x = d2i_X509(NULL, &p, (long)(chain_len - off));
		if (x == NULL)
			break;
		X509_free(x);
		signer_wbuf_bytes(w, chain + off, (size_t)(p - (chain + off)));
		off = (size_t)(p - chain);
	}
	ERR_clear_error();
	rc = 0;
out:
	child_read_free(cer, SIGNER_CERT_MAX);
	child_read_free(chain, SIGNER_CERT_MAX);
	child_read_free(meta, 64);
	return rc;
}

static int child_generate(struct child *c, struct signer_rbuf *r, struct signer_wbuf *w,
			  struct pp_error *err)
{
	struct pki_new_options opts = {0};
	struct pki_credential *cred = NULL;
	char thumb[PKI_THUMBPRINT_LEN + 1];
	char *subject;
	uint32_t days, bits, flags;
	int rc = -1;

	subject = signer_rbuf_str(r, SIGNER_SUBJECT_MAX, "subject");
	days = signer_rbuf_u32(r, "days");
	bits = signer_rbuf_u32(r, "bits");
	flags = signer_rbuf_u32(r, "flags");
	if (signer_rbuf_end(r, "GENERATE", err) != 0)
		goto out;
	if (days < 1 || days > SIGNER_DAYS_MAX || (bits != 2048 && bits != 3072 && bits != 4096) ||
	    (flags & ~SIGNER_GEN_EXPORTABLE) != 0) {
		pp_error_set(err, HR_E_INVALIDARG,
			     "GENERATE needs 1 to %d days, 2048, 3072 or 4096 bits and known flags "
			     "(got %u days, %u bits, flags 0x%x)",
			     SIGNER_DAYS_MAX, days, bits, flags);
		goto out;
	}
	opts.subject = subject[0] != '\0' ? subject : NULL;
	opts.days = (int)days;
	opts.bits = (int)bits;
	opts.exportable = (flags & SIGNER_GEN_EXPORTABLE) != 0;
	cred = pki_credential_generate(&opts, err);
	if (cred == NULL || child_store(c, cred, opts.exportable, thumb, err) != 0)
		goto out;
	rc = child_put_entry(c, thumb, w, err);
out:
	pki_credential_free(cred);
	signer_rbuf_str_free(subject);
	return rc;
}

/* Replaces every occurrence of the memfd path in msg by "the PFX". */
static void replace_path(char *msg, size_t size, const char *path)
{
	char out[PP_ERROR_MESSAGE_MAX];
	size_t o = 0, plen = strlen(path);
	const char *s = msg, *hit;

	out[0] = '\0';
	while ((hit = strstr(s, path)) != NULL) {
		o += (size_t)snprintf(out + o, sizeof(out) - o, "%.*s%s", (int)(hit - s), s,
				      "the PFX");
		if (o >= sizeof(out))
			return;
		s = hit + plen;
	}
	snprintf(out + o, sizeof(out) - o, "%s", s);
	snprintf(msg, size, "%s", out);
}

static uint32_t check_code(const struct pki_credential *cred, time_t now)
{
	EVP_PKEY *pub = X509_get0_pubkey(cred->cert);

	if (pub == NULL || !EVP_PKEY_is_a(pub, "RSA"))
		return HR_NTE_BAD_ALGID;
	if (cred->key == NULL)
		return HR_CRYPT_E_NO_KEY_PROPERTY;
	if (X509_cmp_time(X509_get0_notAfter(cred->cert), &now) < 0)
		return HR_CERT_E_EXPIRED;
	return HR_CERT_E_WRONG_USAGE;
}

static int child_import(struct child *c, struct signer_rbuf *r, struct signer_wbuf *w,
			struct pp_error *err)
{
	struct pki_credential *cred = NULL;
	struct pki_check check;
	struct pp_error e = {0};
	char path[64], thumb[PKI_THUMBPRINT_LEN + 1], msg[PP_ERROR_MESSAGE_MAX];
	const uint8_t *pfx;
	size_t pfx_len, off = 0, o;
	ssize_t n;
	char *password;
	uint32_t flags;
	time_t now = time(NULL);
	int i, fd = -1, rc = -1;

	pfx = signer_rbuf_bytes(r, SIGNER_PFX_MAX, &pfx_len, "pfx");
	password = signer_rbuf_str(r, SIGNER_PASSWORD_MAX, "password");
	flags = signer_rbuf_u32(r, "flags");
	if (signer_rbuf_end(r, "IMPORT_PFX", err) != 0)
		goto out;
	if ((flags & ~SIGNER_GEN_EXPORTABLE) != 0 || pfx_len == 0) {
		pp_error_set(err, HR_E_INVALIDARG, "IMPORT_PFX needs PFX bytes and known flags");
		goto out;
	}
	/* pki_credential_load reads a path: give it an anonymous memory file. */
	fd = memfd_create("signer-import", MFD_CLOEXEC);
	if (fd < 0) {
		pp_error_set_errno(err, errno, "cannot create a memory file for the PFX");
		goto out;
	}
	while (off < pfx_len) {
		n = write(fd, pfx + off, pfx_len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			pp_error_set_errno(err, n < 0 ? errno : EIO, "cannot buffer the PFX");
			goto out;
		}
		off += (size_t)n;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	cred = pki_credential_load(path, password, &e);
	if (cred == NULL) {
		replace_path(e.message, sizeof(e.message), path);
		pp_error_set(err, e.code, "%s", e.message);
		goto out;
	}
	if (cred->cert == NULL) {
		pp_error_set(err, HR_CRYPT_E_ASN1_BADTAG, "the data is not a PFX");
		goto out;
	}
	if (pki_check_wsus(cred->cert, cred->key, now, &check) > 0) {
		o = 0;
		msg[0] = '\0';
		for (i = 0; i < check.failed && i < PKI_CHECK_MAX && o < sizeof(msg); i++)
			o += (size_t)snprintf(msg + o, sizeof(msg) - o, "%s%s", i > 0 ? "; " : "",
					      check.reasons[i]);
		pp_error_set(err, check_code(cred, now), "%s", msg);
		goto out;
	}
	if (child_store(c, cred, cred->exportable && (flags & SIGNER_GEN_EXPORTABLE) != 0, thumb,
			err) != 0)
		goto out;
	rc = child_put_entry(c, thumb, w, err);
out:
	if (fd >= 0)
		close(fd);
	pki_credential_free(cred);
	signer_rbuf_str_free(password);
	return rc;
}

static const EVP_MD *md_by_name(const char *name)
{
	static const struct {
		const char *name;
		int nid;
	} mds[] = {{"SHA1", NID_sha1},
		   {"SHA256", NID_sha256},
		   {"SHA384", NID_sha384},
		   {"SHA512", NID_sha512}};
	size_t i;

	for (i = 0; i < sizeof(mds) / sizeof(mds[0]); i++)
		if (strcmp(name, mds[i].name) == 0)
			return EVP_get_digestbynid(mds[i].nid);
	return NULL;
}

static int child_sign(struct child *c, struct signer_rbuf *r, struct signer_wbuf *w,
		      struct pp_error *err)
{
	uint8_t sig[SIGNER_SIG_MAX];
	char *thumb, *mdname;
	const uint8_t *hash;
	const EVP_MD *md = NULL;
	EVP_PKEY *key = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	size_t hash_len, sig_len = sizeof(sig);
	int rc = -1;

	thumb = signer_rbuf_str(r, PKI_THUMBPRINT_LEN, "thumbprint");
	mdname = signer_rbuf_str(r, SIGNER_MD_NAME_MAX, "md");
	hash = signer_rbuf_bytes(r, EVP_MAX_MD_SIZE, &hash_len, "hash");
	if (signer_rbuf_end(r, "SIGN", err) != 0)
		goto out;
	if (!signer_is_thumbprint(thumb)) {
		pp_error_set(err, HR_E_INVALIDARG,
			     "SIGN needs a thumbprint of 40 upper-case hex "
			     "digits");
		goto out;
	}
	md = md_by_name(mdname);
	if (md == NULL || (size_t)EVP_MD_get_size(md) != hash_len) {
		pp_error_set(err, HR_NTE_BAD_ALGID,
			     "SIGN needs SHA1, SHA256, SHA384 or SHA512 and a hash of its size "
			     "(got \"%s\", %zu bytes)",
			     mdname, hash_len);
		goto out;
	}
	key = child_load_key(c, thumb, err);
	if (key == NULL)
		goto out;
	if (!EVP_PKEY_is_a(key, "RSA")) {
		pp_error_set(err, HR_NTE_BAD_ALGID, "the key of %s is not RSA", thumb);
		goto out;
	}
	ctx = EVP_PKEY_CTX_new(key, NULL);
	if (ctx == NULL || EVP_PKEY_sign_init(ctx) != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) != 1 ||
	    EVP_PKEY_CTX_set_signature_md(ctx, md) != 1 ||
	    EVP_PKEY_sign(ctx, sig, &sig_len, hash, hash_len) != 1) {
		pp_error_set_openssl(err, HR_E_FAIL, "cannot sign with the key of %s", thumb);
		goto out;
	}
	signer_wbuf_bytes(w, sig, sig_len);
	rc = 0;
out:
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(key);
	signer_rbuf_str_free(thumb);
	signer_rbuf_str_free(mdname);
	return rc;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp((const char *)a, (const char *)b);
}

static int child_list(struct child *c, struct signer_rbuf *r, struct signer_wbuf *w,
		      struct pp_error *err)
{
	char(*names)[PKI_THUMBPRINT_LEN + 1] = NULL;
	struct dirent *de;
	size_t n = 0, i;
	DIR *d = NULL;
	int fd, rc = -1;

	if (signer_rbuf_end(r, "LIST", err) != 0)
		return -1;
	names = calloc(SIGNER_LIST_MAX, sizeof(*names));
	fd = dup(c->dirfd);
	d = fd >= 0 ? fdopendir(fd) : NULL;
	if (names == NULL || d == NULL) {
		pp_error_set_errno(err, errno, "cannot list %s", c->dir);
		if (d == NULL && fd >= 0)
			close(fd);
		goto out;
	}
	rewinddir(d);
	while ((de = readdir(d)) != NULL) {
		if (strlen(de->d_name) != PKI_THUMBPRINT_LEN + 4 ||
		    strcmp(de->d_name + PKI_THUMBPRINT_LEN, ".cer") != 0)
			continue;
		if (n == SIGNER_LIST_MAX) {
			pp_error_set(err, HR_ERROR_FILE_TOO_LARGE,
				     "%s holds more than %u certificates", c->dir, SIGNER_LIST_MAX);
			goto out;
		}
		memcpy(names[n], de->d_name, PKI_THUMBPRINT_LEN);
		names[n][PKI_THUMBPRINT_LEN] = '\0';
		if (signer_is_thumbprint(names[n]))
			n++;
	}
	qsort(names, n, sizeof(*names), cmp_names);
	signer_wbuf_u32(w, (uint32_t)n);
	for (i = 0; i < n; i++)
		if (child_put_entry(c, names[i], w, err) != 0)
			goto out;
	rc = 0;
out:
	if (d != NULL)
		closedir(d);
	free(names);
	return rc;
}

static int child_delete(struct child *c, struct signer_rbuf *r, struct signer_wbuf *w,
			struct pp_error *err)
{
	static const char *const exts[] = {".cer", ".chain", ".meta", ".key"};
	char name[PKI_THUMBPRINT_LEN + 8];
	bool found = false;
	char *thumb;
	size_t i;
	int rc = -1;

	thumb = signer_rbuf_str(r, PKI_THUMBPRINT_LEN, "thumbprint");
	if (signer_rbuf_end(r, "DELETE", err) != 0)
		goto out;
	if (!signer_is_thumbprint(thumb)) {
		pp_error_set(err, HR_E_INVALIDARG,
			     "DELETE needs a thumbprint of 40 upper-case hex "
			     "digits");
		goto out;
	}
	for (i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
		snprintf(name, sizeof(name), "%s%s", thumb, exts[i]);
		if (unlinkat(c->dirfd, name, 0) == 0) {
			found = true;
		} else if (errno != ENOENT) {
			pp_error_set_errno(err, errno, "cannot remove %s/%s", c->dir, name);
			goto out;
		}
	}
	if (!found) {
		pp_error_set(err, HR_CRYPT_E_NOT_FOUND, "no certificate %s in the signer", thumb);
		goto out;
	}
	if (fsync(c->dirfd) != 0) {
		pp_error_set_errno(err, errno, "cannot sync %s", c->dir);
		goto out;
	}
	rc = 0;
out:
	signer_rbuf_str_free(thumb);
	return rc;
}

static int child_export(struct child *c, struct signer_rbuf *r, struct signer_wbuf *w,
			struct pp_error *err)
{
	char name[PKI_THUMBPRINT_LEN + 8], friendly[256];
	uint8_t *meta = NULL, *cer = NULL, *der = NULL;
	size_t meta_len = 0, cer_len = 0;
	const unsigned char *p;
	char *thumb, *password;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	PKCS12 *p12 = NULL;
	int der_len = 0, rc = -1;

	thumb = signer_rbuf_str(r, PKI_THUMBPRINT_LEN, "thumbprint");
	password = signer_rbuf_str(r, SIGNER_PASSWORD_MAX, "password");
	if (signer_rbuf_end(r, "EXPORT_PFX", err) != 0)
		goto out;
	if (!signer_is_thumbprint(thumb)) {
		pp_error_set(err, HR_E_INVALIDARG,
			     "EXPORT_PFX needs a thumbprint of 40 upper-case "
			     "hex digits");
		goto out;
	}
	snprintf(name, sizeof(name), "%s.cer", thumb);
	if (child_read(c, name, SIGNER_CERT_MAX, false, &cer, &cer_len, err) != 0)
		goto out;
	p = cer;
	cert = d2i_X509(NULL, &p, (long)cer_len);
	if (cert == NULL) {
		pp_error_set(err, HR_CRYPT_E_ASN1_BADTAG, "%s/%s is damaged", c->dir, name);
		goto out;
	}
	snprintf(name, sizeof(name), "%s.meta", thumb);
	if (child_read(c, name, 64, false, &meta, &meta_len, err) != 0 ||
	    strcmp((const char *)meta, "exportable=1\n") != 0) {
		pki_simple_name(cert, friendly, sizeof(friendly));
		pp_error_set(err, HR_NTE_BAD_KEY_STATE,
			     "the private key of \"%s\" was created non-exportable; export the "
			     "public certificate (.cer) instead",
			     friendly);
		goto out;
	}
	key = child_load_key(c, thumb, err);
	if (key == NULL)
		goto out;
	pki_simple_name(cert, friendly, sizeof(friendly));
	p12 = PKCS12_create(password, friendly, key, cert, NULL, NID_aes_256_cbc, NID_aes_256_cbc,
			    PKCS12_DEFAULT_ITER, -1, 0);
	if (p12 == NULL ||
	    PKCS12_set_mac(p12, password, -1, NULL, 0, PKCS12_DEFAULT_ITER, EVP_sha256()) != 1 ||
	    (der_len = i2d_PKCS12(p12, &der)) <= 0) {
		pp_error_set_openssl(err, HR_E_FAIL, "cannot build the PFX of %s", thumb);
		goto out;
	}
	signer_wbuf_bytes(w, der, (size_t)der_len);
	rc = 0;
out:
	if (der != NULL)
		OPENSSL_clear_free(der, (size_t)der_len);
	PKCS12_free(p12);
	EVP_PKEY_free(key);
	X509_free(cert);
	child_read_free(cer, SIGNER_CERT_MAX);
	child_read_free(meta, 64);
	signer_rbuf_str_free(thumb);
	signer_rbuf_str_free(password);
	return rc;
}

static void child_serve(struct child *c)
{
	struct pp_error err;
	struct signer_wbuf w;
	struct signer_rbuf r;
	struct signer_msg m;
	int rc;

	for (;;) {
		pp_error_clear(&err);
		rc = signer_msg_recv(c->fd, -1, &m, &err);
		if (rc < 0)
			return; /* EOF: the parent is gone or stopped us */
		if (rc > 0) {
			if (signer_msg_send_error(c->fd, &err) != 0)
				return;
			continue;
		}
		w = (struct signer_wbuf){0};
		r = (struct signer_rbuf){.p = m.body, .len = m.len};
		switch (m.type) {
		case SIGNER_MSG_GENERATE:
			rc = child_generate(c, &r, &w, &err);
			break;
		case SIGNER_MSG_IMPORT_PFX:
			rc = child_import(c, &r, &w, &err);
			break;
		case SIGNER_MSG_SIGN:
			rc = child_sign(c, &r, &w, &err);
			break;
		case SIGNER_MSG_LIST:
			rc = child_list(c, &r, &w, &err);
			break;
		case SIGNER_MSG_DELETE:
			rc = child_delete(c, &r, &w, &err);
			break;
		case SIGNER_MSG_EXPORT_PFX:
			rc = child_export(c, &r, &w, &err);
			break;
		default:
			pp_error_set(&err, HR_ERROR_NOT_SUPPORTED, "unknown signer request type %u",
				     (unsigned)m.type);
			rc = -1;
			break;
		}
		if (rc == 0 && w.failed) {
			pp_error_set(&err, HR_ERROR_FILE_TOO_LARGE,
				     "the signer's answer is over the %u-byte limit",
				     SIGNER_MAX_BODY);
			rc = -1;
		}
		ERR_clear_error();
		if (rc == 0)
			rc = signer_msg_send(c->fd, (uint16_t)(m.type | SIGNER_MSG_REPLY), w.p,
					     w.len, &err);
		else
			rc = signer_msg_send_error(c->fd, &err);
		signer_wbuf_free(&w);
		signer_msg_release(&m);
		if (rc != 0)
			return;
	}
}

/* Closes every descriptor but the socket (moved to 3) and stdio (stdin and stdout on /dev/null;
 * stderr stays for sanitizer reports). Returns the socket's descriptor. */
static int child_close_fds(int sock)
{
	int fd;

	if (sock != 3) {
		if (dup2(sock, 3) < 0)
			return -1;
		sock = 3;
	}
	if (close_range(4, ~0U, 0) != 0)
		for (fd = 4; fd < 1024; fd++)
			close(fd);
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		if (fd > 2)
			close(fd);
	}
	return sock;
}

void signer_child_main(int sock, const char *dir, pid_t parent)
{
	struct child c = {.fd = -1, .dirfd = -1, .dir = dir};
	struct pp_error err = {0};

	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
		_exit(1);
	signal(SIGPIPE, SIG_IGN);
	c.fd = child_close_fds(sock);
	if (c.fd < 0)
		_exit(1);
	/* Nothing in the child needs new privileges, and a key holder must not be dumped or
	 * ptrace'd by other processes of the same user. */
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	umask(077);
	if (child_open(&c, &err) != 0) {
		(void)signer_msg_send_error(c.fd, &err);
	} else if (signer_msg_send(c.fd, SIGNER_MSG_READY, NULL, 0, &err) == 0) {
		child_serve(&c);
	}
	OPENSSL_cleanse(c.kek, sizeof(c.kek));
	OPENSSL_cleanse(c.pass, sizeof(c.pass));
	_exit(0);
}
