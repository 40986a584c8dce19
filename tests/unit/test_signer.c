/* test_signer.c - the signer child process: generate and sign (checked with OpenSSL and through
 * a signed cabinet), keys at rest (0600, encrypted), the parent never holding a key (its own
 * memory scanned, with a control that must find a key the parent loads), the child dying with
 * its parent, malformed messages, PFX import (openssl-made), export and delete. */
#include "authenticode.h"
#include "byteorder.h"
#include "hresult.h"
#include "pki.h"
#include "signer.h"
#include "testcerts.h"
#include "testutil.h"

#include <stdarg.h>
#include <setjmp.h>
#include <stddef.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>

struct fx {
	char *dir;  /* scratch files */
	char *keys; /* the signer's key directory */
	struct signer *s;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct pp_error err = {0};

	assert_non_null(f);
	f->dir = tu_tmpdir();
	f->keys = tu_path(f->dir, "keys");
	assert_int_equal(signer_start(f->keys, &f->s, &err), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	signer_stop(f->s);
	tu_rmrf(f->dir);
	free(f->keys);
	free(f->dir);
	free(f);
	return 0;
}

static char *key_path(struct fx *f, const char *thumb, const char *ext)
{
	char name[64];

	snprintf(name, sizeof(name), "%s%s", thumb, ext);
	return tu_path(f->keys, name);
}

static void generate(struct fx *f, bool exportable, struct signer_cert *out)
{
	struct signer_generate_options o = {
	    .subject = "CN=Signer Test", .days = 30, .exportable = exportable};
	struct pp_error err = {0};

	assert_int_equal(signer_generate(f->s, &o, out, &err), 0);
	assert_non_null(out->cert);
}

static bool contains(const uint8_t *hay, size_t n, const void *needle, size_t m)
{
	size_t i;

	for (i = 0; m > 0 && i + m <= n; i++)
		if (memcmp(hay + i, needle, m) == 0)
			return true;
	return false;
}

/* Decrypts dir/THUMB.key the documented way: PKCS#8 whose passphrase is the hex of kek. */
static EVP_PKEY *decrypt_key(const char *dir, const char *thumb)
{
	char name[64], pass[65], *p;
	uint8_t *kek, *pem;
	size_t klen = 0, plen = 0, i;
	EVP_PKEY *key;
	BIO *bio;

	p = tu_path(dir, "kek");
	kek = tu_read_file(p, &klen);
	free(p);
	assert_non_null(kek);
	assert_int_equal(klen, 32);
	for (i = 0; i < 32; i++)
		snprintf(pass + 2 * i, 3, "%02x", kek[i]);
	snprintf(name, sizeof(name), "%s.key", thumb);
	p = tu_path(dir, name);
	pem = tu_read_file(p, &plen);
	free(p);
	assert_non_null(pem);
	bio = BIO_new_mem_buf(pem, (int)plen);
	key = PEM_read_bio_PrivateKey(bio, NULL, NULL, pass);
	BIO_free(bio);
	OPENSSL_cleanse(kek, klen);
	OPENSSL_cleanse(pass, sizeof(pass));
	free(kek);
	free(pem);
	return key;
}

/* The private exponent d, big-endian. */
static size_t private_exponent(EVP_PKEY *key, uint8_t *out, size_t size)
{
	BIGNUM *d = NULL;
	int n;

	assert_int_equal(EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_D, &d), 1);
	assert_true((size_t)BN_num_bytes(d) <= size);
	n = BN_bn2bin(d, out);
	BN_clear_free(d);
	return (size_t)n;
}

/* ---- generate, sign, verify ---- */

static void test_generate_sign_verify(void **state)
{
	struct fx *f = *state;
	struct signer_cert c;
	struct signer_key k = {.signer = f->s};
	struct pp_error err = {0};
	uint8_t hash[32], sig[1024];
	size_t sig_len = sizeof(sig);
	EVP_PKEY_CTX *ctx;
	char tp[41];

	generate(f, true, &c);
	assert_int_equal(pki_thumbprint(c.cert, tp), 0);
	assert_string_equal(tp, c.thumbprint);
	assert_true(c.has_key);
	assert_true(c.exportable);
	assert_int_equal(EVP_PKEY_get_bits(X509_get0_pubkey(c.cert)), 2048);
	memcpy(k.thumbprint, c.thumbprint, sizeof(k.thumbprint));
	SHA256((const unsigned char *)"patchpoint", 10, hash);
	assert_int_equal(signer_sign(&k, EVP_sha256(), hash, sizeof(hash), sig, &sig_len, &err), 0);
	assert_int_equal(sig_len, 256);

	ctx = EVP_PKEY_CTX_new(X509_get0_pubkey(c.cert), NULL);
	assert_non_null(ctx);
	assert_int_equal(EVP_PKEY_verify_init(ctx), 1);
	assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING), 1);
	assert_int_equal(EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()), 1);
	assert_int_equal(EVP_PKEY_verify(ctx, sig, sig_len, hash, sizeof(hash)), 1);
	/* Forged: another hash must not verify with that signature. */
	hash[0] ^= 1;
	assert_int_not_equal(EVP_PKEY_verify(ctx, sig, sig_len, hash, sizeof(hash)), 1);
	ERR_clear_error();
	EVP_PKEY_CTX_free(ctx);

	/* A wrong hash size, an unknown thumbprint and a too small buffer are refused. */
	sig_len = sizeof(sig);
	assert_int_equal(signer_sign(&k, EVP_sha256(), hash, 20, sig, &sig_len, &err), -1);
	assert_int_equal(err.code, HR_NTE_BAD_ALGID);
	pp_error_clear(&err);
	memset(k.thumbprint, 'A', PKI_THUMBPRINT_LEN);
	assert_int_equal(signer_sign(&k, EVP_sha256(), hash, 32, sig, &sig_len, &err), -1);
	assert_int_equal(err.code, HR_CRYPT_E_NOT_FOUND);
	pp_error_clear(&err);
	memcpy(k.thumbprint, c.thumbprint, sizeof(k.thumbprint));
	sig_len = 16;
	assert_int_equal(signer_sign(&k, EVP_sha256(), hash, 32, sig, &sig_len, &err), -1);
	signer_cert_release(&c);
}

static void test_generate_options(void **state)
{
	struct fx *f = *state;
	struct signer_generate_options o = {.subject = "CN=Big", .days = 10, .bits = 3072};
	struct signer_generate_options bad = {.bits = 1024};
	struct signer_cert c;
	struct pp_error err = {0};
	char name[256];

	assert_int_equal(signer_generate(f->s, &o, &c, &err), 0);
	assert_int_equal(EVP_PKEY_get_bits(X509_get0_pubkey(c.cert)), 3072);
	assert_false(c.exportable);
	pki_simple_name(c.cert, name, sizeof(name));
	assert_string_equal(name, "Big");
	signer_cert_release(&c);
	assert_int_equal(signer_generate(f->s, &bad, &c, &err), -1);
	assert_int_equal(err.code, HR_E_INVALIDARG);
}

static void test_sign_cab(void **state)
{
	struct fx *f = *state;
	struct signer_cert c;
	struct signer_key k = {.signer = f->s};
	struct authenticode_signer sg = {0};
	struct authenticode_info info;
	struct pp_error err = {0};
	char *cab;

	generate(f, false, &c);
	memcpy(k.thumbprint, c.thumbprint, sizeof(k.thumbprint));
	cab = tu_path(f->dir, "a.cab");
	assert_int_equal(tu_run("cd '%s' && printf 'hello cabinet\\n' > a.txt && "
				"gcab -c -n a.cab a.txt",
				f->dir),
			 0);
	sg.cert = c.cert;
	sg.sign = signer_sign;
	sg.sign_ctx = &k;
	assert_int_equal(authenticode_sign_cab(cab, NULL, &sg, &err), 0);
	memset(&info, 0, sizeof(info));
	assert_int_equal(authenticode_read_cab(cab, &info, &err), 0);
	assert_true(info.digest_matches);
	assert_true(info.signature_valid);
	assert_int_equal(X509_cmp(info.signer, c.cert), 0);
	authenticode_info_release(&info);
	free(cab);
	signer_cert_release(&c);
}

/* ---- keys at rest ---- */

static void test_key_at_rest(void **state)
{
	struct fx *f = *state;
	struct signer_cert c;
	uint8_t *bytes, *der = NULL, d[1024];
	size_t len = 0, dlen;
	EVP_PKEY *key;
	char *p;
	int der_len;

	generate(f, true, &c);
	p = tu_path(f->keys, "kek");
	assert_int_equal(tu_file_mode(p), 0600);
	free(p);
	p = key_path(f, c.thumbprint, ".key");
	assert_int_equal(tu_file_mode(p), 0600);
	bytes = tu_read_file(p, &len);
	free(p);
	assert_non_null(bytes);
	assert_true(contains(bytes, len, "BEGIN ENCRYPTED PRIVATE KEY", 27));
	assert_false(contains(bytes, len, "BEGIN PRIVATE KEY", 17));
	assert_false(contains(bytes, len, "BEGIN RSA PRIVATE KEY", 21));
	p = key_path(f, c.thumbprint, ".cer");
	assert_true(tu_exists(p));
	free(p);

	/* The documented scheme decrypts it, to the key of the certificate... */
	key = decrypt_key(f->keys, c.thumbprint);
	assert_non_null(key);
	assert_int_equal(X509_check_private_key(c.cert, key), 1);
	/* ...and neither its DER nor its private exponent is in the file. */
	der_len = i2d_PrivateKey(key, &der);
	assert_true(der_len > 0);
	assert_false(contains(bytes, len, der, (size_t)der_len));
	dlen = private_exponent(key, d, sizeof(d));
	assert_false(contains(bytes, len, d + 32, 64));
	OPENSSL_clear_free(der, (size_t)der_len);
	OPENSSL_cleanse(d, sizeof(d));
	EVP_PKEY_free(key);
	free(bytes);
	(void)dlen;
	signer_cert_release(&c);
}

static void test_refuses_readable_secrets(void **state)
{
	struct fx *f = *state;
	struct signer *s2 = NULL;
	struct signer_cert c;
	struct pp_error err = {0};
	char *kek = tu_path(f->keys, "kek"), *key;

	generate(f, true, &c);
	key = key_path(f, c.thumbprint, ".key");
	signer_stop(f->s);
	f->s = NULL;

	assert_int_equal(chmod(kek, 0644), 0);
	assert_int_equal(signer_start(f->keys, &s2, &err), -1);
	assert_null(s2);
	assert_int_equal(err.code, HR_E_ACCESSDENIED);
	assert_non_null(strstr(err.message, kek));
	assert_int_equal(chmod(kek, 0600), 0);

	pp_error_clear(&err);
	assert_int_equal(chmod(key, 0640), 0);
	assert_int_equal(signer_start(f->keys, &s2, &err), -1);
	assert_int_equal(err.code, HR_E_ACCESSDENIED);
	assert_non_null(strstr(err.message, c.thumbprint));
	assert_int_equal(chmod(key, 0600), 0);

	/* A damaged kek is refused too (never silently replaced). */
	pp_error_clear(&err);
	tu_write_file(kek, "short", 5);
	assert_int_equal(chmod(kek, 0600), 0);
	assert_int_equal(signer_start(f->keys, &s2, &err), -1);
	assert_int_equal(err.code, HR_ERROR_INVALID_DATA);

	free(kek);
	free(key);
	signer_cert_release(&c);
}

/* ---- the parent holds no key ----
 * A client process (the "parent" of a signer) generates and signs, then receives the key's
 * private exponent XORed with a mask, so that the needle never sits whole in its memory, and
 * scans every readable mapping of itself through /proc/self/mem. The control variant loads the
 * key in the client, as a parent that broke the rule would, and must find it. */

#define NEEDLE_LEN  64
#define NEEDLE_MASK 0xA5

static bool match_masked(const uint8_t *p, const uint8_t *xneedle)
{
	size_t k;

	for (k = 0; k < NEEDLE_LEN; k++)
		if (p[k] != (uint8_t)(xneedle[k] ^ NEEDLE_MASK))
			return false;
	return true;
}

/* 1 when one of the masked needles is found in this process's memory, 0 when not, -1 error. */
static int scan_self(const uint8_t xneedles[][NEEDLE_LEN], size_t count)
{
	const size_t chunk = 1024 * 1024;
	uint64_t lo, hi, at;
	char line[512], perms[8];
	uint8_t *buf;
	FILE *maps;
	ssize_t n;
	size_t i, j;
	int mem, found = 0;

	maps = fopen("/proc/self/maps", "re");
	mem = open("/proc/self/mem", O_RDONLY | O_CLOEXEC);
	buf = malloc(chunk);
	if (maps == NULL || mem < 0 || buf == NULL)
		return -1;
	while (!found && fgets(line, sizeof(line), maps) != NULL) {
		if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %7s", &lo, &hi, perms) != 3 ||
		    perms[0] != 'r' || hi - lo > (1ull << 30) || strstr(line, "[vvar") != NULL ||
		    strstr(line, "[vsyscall]") != NULL)
			continue;
		for (at = lo; !found && at < hi; at += chunk - NEEDLE_LEN) {
			size_t want = hi - at < chunk ? (size_t)(hi - at) : chunk;

			n = pread(mem, buf, want, (off_t)at);
			if (n <= 0)
				break;
			for (i = 0; !found && i + NEEDLE_LEN <= (size_t)n; i++)
				for (j = 0; j < count; j++)
					if (match_masked(buf + i, xneedles[j]))
						found = 1;
			if ((size_t)n < chunk)
				break;
		}
	}
	free(buf);
	close(mem);
	fclose(maps);
	return found;
}

static void client_process(const char *keys, bool load_key_too, int to_test, int from_test)
{
	struct signer *s = NULL;
	struct signer_cert c;
	struct signer_key k;
	struct pp_error err = {0};
	uint8_t hash[32] = {1, 2, 3}, sig[1024], xneedles[2][NEEDLE_LEN];
	size_t sig_len = sizeof(sig);
	EVP_PKEY *key = NULL;
	int r;

	if (signer_start(keys, &s, &err) != 0 ||
	    signer_generate(s, &(struct signer_generate_options){.exportable = true}, &c, &err) !=
		0)
		_exit(3);
	k.signer = s;
	memcpy(k.thumbprint, c.thumbprint, sizeof(k.thumbprint));
	if (signer_sign(&k, EVP_sha256(), hash, sizeof(hash), sig, &sig_len, &err) != 0)
		_exit(3);
	if (write(to_test, c.thumbprint, PKI_THUMBPRINT_LEN) != PKI_THUMBPRINT_LEN ||
	    read(from_test, xneedles, sizeof(xneedles)) != (ssize_t)sizeof(xneedles))
		_exit(3);
	if (load_key_too)
		key = decrypt_key(keys, c.thumbprint);
	r = scan_self((const uint8_t(*)[NEEDLE_LEN])xneedles, 2);
	EVP_PKEY_free(key);
	signer_stop(s);
	_exit(r < 0 ? 2 : r);
}

/* Runs a client and returns its exit status: 0 key not found, 1 found. */
static int run_client(struct fx *f, bool load_key_too)
{
	int to_test[2], from_test[2], status;
	uint8_t d[1024], xneedles[2][NEEDLE_LEN];
	char thumb[PKI_THUMBPRINT_LEN + 1] = {0};
	EVP_PKEY *key;
	size_t dlen, i;
	pid_t pid;

	assert_int_equal(pipe(to_test), 0);
	assert_int_equal(pipe(from_test), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(to_test[0]);
		close(from_test[1]);
		client_process(f->keys, load_key_too, to_test[1], from_test[0]);
	}
	close(to_test[1]);
	close(from_test[0]);
	assert_int_equal(read(to_test[0], thumb, PKI_THUMBPRINT_LEN), PKI_THUMBPRINT_LEN);
	key = decrypt_key(f->keys, thumb);
	assert_non_null(key);
	dlen = private_exponent(key, d, sizeof(d));
	assert_true(dlen >= 200);
	/* A slice of d big-endian (as in DER) and little-endian (as in a BIGNUM's limbs). */
	for (i = 0; i < NEEDLE_LEN; i++) {
		xneedles[0][i] = d[64 + i] ^ NEEDLE_MASK;
		xneedles[1][i] = d[64 + NEEDLE_LEN - 1 - i] ^ NEEDLE_MASK;
	}
	OPENSSL_cleanse(d, sizeof(d));
	EVP_PKEY_free(key);
	assert_int_equal(write(from_test[1], xneedles, sizeof(xneedles)), sizeof(xneedles));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	close(to_test[0]);
	close(from_test[1]);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static void test_parent_holds_no_key(void **state)
{
	struct fx *f = *state;

	signer_stop(f->s);
	f->s = NULL;
	assert_int_equal(run_client(f, false), 0);
}

static void test_parent_scan_finds_a_loaded_key(void **state)
{
	struct fx *f = *state;

	signer_stop(f->s);
	f->s = NULL;
	assert_int_equal(run_client(f, true), 1);
}

/* ---- lifetime ---- */

static bool reaped_within(pid_t pid, int ms)
{
	struct timespec ts = {.tv_sec = 0, .tv_nsec = 10 * 1000 * 1000};
	int status, t;

	for (t = 0; t < ms; t += 10) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return true;
		nanosleep(&ts, NULL);
	}
	return false;
}

static void test_child_dies_with_parent(void **state)
{
	struct fx *f = *state;
	struct pp_error err = {0};
	struct signer *s;
	pid_t parent, child = -1;
	int p[2], status;

	/* As subreaper this process inherits the orphaned signer and can reap it. */
	assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	assert_int_equal(pipe(p), 0);
	parent = fork();
	assert_true(parent >= 0);
	if (parent == 0) {
		s = NULL;
		if (signer_start(f->keys, &s, &err) != 0)
			_exit(3);
		child = signer_pid(s);
		if (write(p[1], &child, sizeof(child)) != (ssize_t)sizeof(child))
			_exit(3);
		_exit(0); /* no signer_stop: the signer must notice on its own */
	}
	close(p[1]);
	assert_int_equal(read(p[0], &child, sizeof(child)), sizeof(child));
	close(p[0]);
	assert_int_equal(waitpid(parent, &status, 0), parent);
	assert_true(child > 0);
	assert_true(reaped_within(child, 5000));
	assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 0), 0);

	/* And signer_stop (EOF on the socket) ends it too. */
	child = signer_pid(f->s);
	signer_stop(f->s);
	f->s = NULL;
	assert_int_equal(kill(child, 0), -1);
}

/* ---- malformed messages ---- */

static void raw_send(int fd, uint32_t magic, uint16_t type, uint16_t flags, uint32_t length,
		     uint32_t offset, const void *body, size_t n)
{
	uint8_t rec[256];

	assert_true(n <= sizeof(rec) - 16);
	le32_put(rec, magic);
	le16_put(rec + 4, type);
	le16_put(rec + 6, flags);
	le32_put(rec + 8, length);
	le32_put(rec + 12, offset);
	if (n > 0)
		memcpy(rec + 16, body, n);
	assert_int_equal(send(fd, rec, 16 + n, 0), (ssize_t)(16 + n));
}

/* Reads one reply record and returns its HRESULT (0 for a non-error reply). */
static uint32_t raw_reply(int fd)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	uint8_t rec[512];
	ssize_t n;

	assert_int_equal(poll(&pfd, 1, 10000), 1);
	n = recv(fd, rec, sizeof(rec), 0);
	assert_true(n >= 16);
	assert_int_equal(le32_get(rec), SIGNER_MAGIC);
	assert_true(le16_get(rec + 6) & SIGNER_FLAG_LAST);
	if (le16_get(rec + 4) != SIGNER_MSG_ERROR)
		return 0;
	assert_true(n >= 20);
	return le32_get(rec + 16);
}

static void assert_still_serving(struct fx *f)
{
	struct signer_cert *certs = NULL;
	size_t n = 0;
	struct pp_error err = {0};

	assert_int_equal(signer_list(f->s, &certs, &n, &err), 0);
	signer_certs_free(certs, n);
}

static void test_malformed_messages(void **state)
{
	struct fx *f = *state;
	int fd = signer_fd(f->s);
	uint8_t body[64] = {0};

	/* A record shorter than a header. */
	assert_int_equal(send(fd, "abc", 3, 0), 3);
	assert_int_equal(raw_reply(fd), HR_ERROR_INVALID_DATA);
	assert_still_serving(f);
	/* A bad magic. */
	raw_send(fd, 0x12345678u, SIGNER_MSG_LIST, SIGNER_FLAG_LAST, 0, 0, NULL, 0);
	assert_int_equal(raw_reply(fd), HR_ERROR_INVALID_DATA);
	assert_still_serving(f);
	/* A length over the limit. */
	raw_send(fd, SIGNER_MAGIC, SIGNER_MSG_IMPORT_PFX, SIGNER_FLAG_LAST, 0x7fffffffu, 0, body,
		 16);
	assert_int_equal(raw_reply(fd), HR_ERROR_INVALID_DATA);
	assert_still_serving(f);
	/* Truncated: the length promises more than the records carry. */
	raw_send(fd, SIGNER_MAGIC, SIGNER_MSG_SIGN, SIGNER_FLAG_LAST, 100, 0, body, 10);
	assert_int_equal(raw_reply(fd), HR_ERROR_INVALID_DATA);
	assert_still_serving(f);
	/* Two records, the second at the wrong offset. */
	raw_send(fd, SIGNER_MAGIC, SIGNER_MSG_SIGN, 0, 40, 0, body, 20);
	raw_send(fd, SIGNER_MAGIC, SIGNER_MSG_SIGN, SIGNER_FLAG_LAST, 40, 10, body, 20);
	assert_int_equal(raw_reply(fd), HR_ERROR_INVALID_DATA);
	assert_still_serving(f);
	/* An unknown type. */
	raw_send(fd, SIGNER_MAGIC, 99, SIGNER_FLAG_LAST, 0, 0, NULL, 0);
	assert_int_equal(raw_reply(fd), HR_ERROR_NOT_SUPPORTED);
	assert_still_serving(f);
	/* A well-framed SIGN whose fields are garbage (a string length past the end). */
	le32_put(body, 5000);
	raw_send(fd, SIGNER_MAGIC, SIGNER_MSG_SIGN, SIGNER_FLAG_LAST, 8, 0, body, 8);
	assert_int_equal(raw_reply(fd), HR_ERROR_INVALID_DATA);
	/* A LIST with trailing bytes. */
	raw_send(fd, SIGNER_MAGIC, SIGNER_MSG_LIST, SIGNER_FLAG_LAST, 4, 0, body, 4);
	assert_int_equal(raw_reply(fd), HR_ERROR_INVALID_DATA);
	/* A GENERATE with 1024 bits. */
	memset(body, 0, sizeof(body));
	le32_put(body + 4, 30);
	le32_put(body + 8, 1024);
	raw_send(fd, SIGNER_MAGIC, SIGNER_MSG_GENERATE, SIGNER_FLAG_LAST, 16, 0, body, 16);
	assert_int_equal(raw_reply(fd), HR_E_INVALIDARG);
	/* A well-formed LIST still gets a list. */
	raw_send(fd, SIGNER_MAGIC, SIGNER_MSG_LIST, SIGNER_FLAG_LAST, 0, 0, NULL, 0);
	assert_int_equal(raw_reply(fd), 0);
	assert_still_serving(f);
}

/* ---- import, export, delete ---- */

static uint8_t *make_pfx(struct fx *f, const char *name, const char *newkey, const char *addext,
			 const char *certfile, size_t *len)
{
	char file[64], *p;
	uint8_t *data;

	assert_int_equal(tu_run("cd '%s' && openssl req -x509 -newkey %s -nodes -keyout '%s.key' "
				"-out '%s.pem' -days 30 -subj '/CN=%s' %s >/dev/null 2>&1 && "
				"openssl pkcs12 -export -in '%s.pem' -inkey '%s.key' %s%s "
				"-out '%s.pfx' -passout pass:s3cret >/dev/null 2>&1",
				f->dir, newkey, name, name, name, addext, name, name,
				certfile != NULL ? "-certfile " : "",
				certfile != NULL ? certfile : "", name),
			 0);
	snprintf(file, sizeof(file), "%s.pfx", name);
	p = tu_path(f->dir, file);
	data = tu_read_file(p, len);
	free(p);
	assert_non_null(data);
	return data;
}

#define CODE_SIGNING_EXT                                                                           \
	"-addext basicConstraints=CA:FALSE -addext keyUsage=critical,digitalSignature "            \
	"-addext extendedKeyUsage=codeSigning"

static size_t count_certs(struct fx *f)
{
	struct signer_cert *certs = NULL;
	size_t n = 0;
	struct pp_error err = {0};

	assert_int_equal(signer_list(f->s, &certs, &n, &err), 0);
	signer_certs_free(certs, n);
	return n;
}

static void test_import_pfx(void **state)
{
	struct fx *f = *state;
	struct signer_cert c;
	struct signer_cert *certs = NULL;
	struct signer_key k = {.signer = f->s};
	struct pp_error err = {0};
	uint8_t *pfx, hash[32] = {0}, sig[512];
	size_t len = 0, n = 0, sig_len = sizeof(sig);
	X509 *want;
	char *p;
	int entries;

	tc_self_signed(f->dir, "root", "PP Root", 365,
		       "-addext basicConstraints=critical,CA:TRUE "
		       "-addext keyUsage=critical,keyCertSign");
	pfx = make_pfx(f, "good", "rsa:2048", CODE_SIGNING_EXT, "root.pem", &len);
	assert_int_equal(signer_import_pfx(f->s, pfx, len, "s3cret", true, &c, &err), 0);
	p = tu_path(f->dir, "good.pem");
	want = tc_load_cert(p);
	free(p);
	assert_int_equal(X509_cmp(want, c.cert), 0);
	X509_free(want);
	assert_true(c.has_key);
	assert_true(c.exportable);
	assert_int_equal(sk_X509_num(c.chain), 1);
	memcpy(k.thumbprint, c.thumbprint, sizeof(k.thumbprint));
	assert_int_equal(signer_sign(&k, EVP_sha256(), hash, 32, sig, &sig_len, &err), 0);
	/* LIST shows it, with its chain. */
	assert_int_equal(signer_list(f->s, &certs, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(certs[0].thumbprint, c.thumbprint);
	assert_int_equal(sk_X509_num(certs[0].chain), 1);
	assert_true(certs[0].has_key);
	signer_certs_free(certs, n);
	signer_cert_release(&c);
	entries = tu_count_entries(f->keys);

	/* Wrong password: the exact code, nothing stored. */
	assert_int_equal(signer_import_pfx(f->s, pfx, len, "wrong", true, &c, &err), -1);
	assert_int_equal(err.code, HR_ERROR_INVALID_PASSWORD);
	assert_null(strstr(err.message, "/proc/"));
	assert_int_equal(tu_count_entries(f->keys), entries);
	free(pfx);

	/* ECDSA: refused with a reason that says so. */
	pp_error_clear(&err);
	pfx =
	    make_pfx(f, "ec", "ec -pkeyopt ec_paramgen_curve:P-256", CODE_SIGNING_EXT, NULL, &len);
	assert_int_equal(signer_import_pfx(f->s, pfx, len, "s3cret", true, &c, &err), -1);
	assert_int_equal(err.code, HR_NTE_BAD_ALGID);
	assert_non_null(strstr(err.message, "ECDSA"));
	assert_int_equal(tu_count_entries(f->keys), entries);
	free(pfx);

	/* Garbage. */
	pp_error_clear(&err);
	assert_int_equal(
	    signer_import_pfx(f->s, (const uint8_t *)"\x30\x03\x02\x01\x01", 5, "", true, &c, &err),
	    -1);
	assert_int_equal(err.code, HR_CRYPT_E_ASN1_BADTAG);
	assert_int_equal(count_certs(f), 1);
}

static void test_import_expired(void **state)
{
	struct fx *f = *state;
	struct pki_new_options o = {.subject = "CN=Old",
				    .days = 1,
				    .not_before = time(NULL) - 10 * 86400,
				    .exportable = true};
	struct pki_credential *cred;
	struct signer_cert c;
	struct pp_error err = {0};
	uint8_t *pfx;
	size_t len = 0;
	char *p = tu_path(f->dir, "old.pfx");

	cred = pki_credential_generate(&o, &err);
	assert_non_null(cred);
	assert_int_equal(pki_store_new_pfx(cred, p, "pw", &err), 0);
	pki_credential_free(cred);
	pfx = tu_read_file(p, &len);
	assert_non_null(pfx);
	assert_int_equal(signer_import_pfx(f->s, pfx, len, "pw", true, &c, &err), -1);
	assert_int_equal(err.code, HR_CERT_E_EXPIRED);
	assert_non_null(strstr(err.message, "expired"));
	assert_int_equal(count_certs(f), 0);
	free(pfx);
	free(p);
}

/* A body of many records (300 KB in 32 KB fragments) arrives whole; one over the limit is refused
 * before it is sent. */
static void test_large_messages(void **state)
{
	struct fx *f = *state;
	struct signer_cert c;
	struct pp_error err = {0};
	size_t len = 300 * 1024;
	uint8_t *big = malloc(SIGNER_PFX_MAX + 1);

	assert_non_null(big);
	tu_fill(big, SIGNER_PFX_MAX + 1, 3);
	big[0] = 0x30;
	assert_int_equal(signer_import_pfx(f->s, big, len, "pw", true, &c, &err), -1);
	assert_int_equal(err.code, HR_CRYPT_E_ASN1_BADTAG);
	pp_error_clear(&err);
	assert_int_equal(signer_import_pfx(f->s, big, SIGNER_PFX_MAX + 1, "pw", true, &c, &err),
			 -1);
	assert_int_equal(err.code, HR_ERROR_FILE_TOO_LARGE);
	assert_int_equal(count_certs(f), 0);
	free(big);
}

static void test_export_pfx(void **state)
{
	struct fx *f = *state;
	struct signer_cert c;
	struct pp_error err = {0};
	uint8_t *pfx = NULL;
	const unsigned char *q;
	size_t len = 0;
	PKCS12 *p12;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;

	generate(f, false, &c);
	assert_int_equal(signer_export_pfx(f->s, c.thumbprint, "pw", &pfx, &len, &err), -1);
	assert_int_equal(err.code, HR_NTE_BAD_KEY_STATE);
	assert_null(pfx);
	signer_cert_release(&c);

	pp_error_clear(&err);
	generate(f, true, &c);
	assert_int_equal(signer_export_pfx(f->s, c.thumbprint, "pw", &pfx, &len, &err), 0);
	q = pfx;
	p12 = d2i_PKCS12(NULL, &q, (long)len);
	assert_non_null(p12);
	assert_int_equal(PKCS12_verify_mac(p12, "wrong", -1), 0);
	assert_int_equal(PKCS12_parse(p12, "pw", &key, &cert, NULL), 1);
	assert_int_equal(X509_cmp(cert, c.cert), 0);
	assert_int_equal(X509_check_private_key(c.cert, key), 1);
	ERR_clear_error();
	EVP_PKEY_free(key);
	X509_free(cert);
	PKCS12_free(p12);
	OPENSSL_clear_free(pfx, len);
	signer_cert_release(&c);
}

static void test_delete(void **state)
{
	struct fx *f = *state;
	struct signer_cert c;
	struct signer_key k = {.signer = f->s};
	struct pp_error err = {0};
	uint8_t hash[32] = {0}, sig[512];
	size_t sig_len = sizeof(sig);
	char *p;

	generate(f, true, &c);
	memcpy(k.thumbprint, c.thumbprint, sizeof(k.thumbprint));
	assert_int_equal(count_certs(f), 1);
	assert_int_equal(signer_delete(f->s, c.thumbprint, &err), 0);
	assert_int_equal(count_certs(f), 0);
	p = key_path(f, c.thumbprint, ".key");
	assert_false(tu_exists(p));
	free(p);
	assert_int_equal(signer_delete(f->s, c.thumbprint, &err), -1);
	assert_int_equal(err.code, HR_CRYPT_E_NOT_FOUND);
	pp_error_clear(&err);
	assert_int_equal(signer_sign(&k, EVP_sha256(), hash, 32, sig, &sig_len, &err), -1);
	assert_int_equal(err.code, HR_CRYPT_E_NOT_FOUND);
	pp_error_clear(&err);
	assert_int_equal(signer_delete(f->s, "not-a-thumbprint", &err), -1);
	assert_int_equal(err.code, HR_E_INVALIDARG);
	signer_cert_release(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_generate_sign_verify, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_generate_options, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sign_cab, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_key_at_rest, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refuses_readable_secrets, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_parent_holds_no_key, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_parent_scan_finds_a_loaded_key, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_child_dies_with_parent, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_malformed_messages, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_import_pfx, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_import_expired, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_large_messages, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_export_pfx, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_delete, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
