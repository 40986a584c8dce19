/* test_authenticode.c - CAB digest, signing, reading and removing, with osslsigncode as the
 * other side: our signatures must verify there and its signatures here. Certificates are made
 * with the openssl CLI, cabinets with gcab and our writer. */
#include "authenticode.h"
#include "byteorder.h"
#include "cab.h"
#include "hresult.h"
#include "testcerts.h"
#include "testutil.h"

#include <stdarg.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/pem.h>

struct fx {
	char *dir;
	X509 *root, *leaf;
	EVP_PKEY *key;
	STACK_OF(X509) * chain;
	char *root_pem, *leaf_pem, *leaf_key, *ucab, *zcab;
};

static char *fx_path(struct fx *f, const char *name)
{
	return tu_path(f->dir, name);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	uint8_t *data = malloc(300000);
	char *p;

	assert_non_null(f);
	f->dir = tu_tmpdir();
	tc_self_signed(f->dir, "root", "PP Test Root", 3650, TC_ADDEXT_CA);
	tc_issue(f->dir, "leaf", "PP Test Signer", "root", TC_EXT_CODE_SIGNING);
	f->root_pem = fx_path(f, "root.pem");
	f->leaf_pem = fx_path(f, "leaf.pem");
	f->leaf_key = fx_path(f, "leaf.key");
	f->root = tc_load_cert(f->root_pem);
	f->leaf = tc_load_cert(f->leaf_pem);
	f->key = tc_load_key(f->leaf_key);
	f->chain = sk_X509_new_null();
	assert_non_null(f->chain);
	assert_true(sk_X509_push(f->chain, f->root) > 0);
	assert_true(X509_up_ref(f->root));

	/* Payload: one incompressible file over a block, one small text file. */
	assert_non_null(data);
	tu_fill(data, 300000, 7);
	p = fx_path(f, "a.bin");
	tu_write_file(p, data, 300000);
	free(p);
	p = fx_path(f, "b.txt");
	tu_write_file(p, "hello cabinet\n", 14);
	free(p);
	free(data);
	assert_int_equal(tu_run("cd '%s' && gcab -c -n u.cab a.bin b.txt && "
				"gcab -c -z -n z.cab a.bin b.txt",
				f->dir),
			 0);
	f->ucab = fx_path(f, "u.cab");
	f->zcab = fx_path(f, "z.cab");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	X509_free(f->root);
	X509_free(f->leaf);
	EVP_PKEY_free(f->key);
	sk_X509_pop_free(f->chain, X509_free);
	tu_rmrf(f->dir);
	free(f->dir);
	free(f->root_pem);
	free(f->leaf_pem);
	free(f->leaf_key);
	free(f->ucab);
	free(f->zcab);
	free(f);
	return 0;
}

static void signer_init(struct fx *f, struct authenticode_signer *s)
{
	authenticode_signer_init_key(s, f->leaf, f->chain, f->key);
}

static bool files_equal(const char *a, const char *b)
{
	size_t la = 0, lb = 0;
	uint8_t *da = tu_read_file(a, &la), *db = tu_read_file(b, &lb);
	bool eq = da != NULL && db != NULL && la == lb && memcmp(da, db, la) == 0;

	free(da);
	free(db);
	return eq;
}

/* Runs osslsigncode verify against root.pem; true when it exits 0 and says the digests match
 * and the signature verified. */
static bool osslsigncode_verifies(struct fx *f, const char *cab)
{
	char *log = fx_path(f, "verify.log");
	uint8_t *out;
	size_t len = 0;
	char cur[100] = "", calc[100] = "";
	const char *a, *b;
	bool ok;
	int rc;

	rc = tu_run("osslsigncode verify -CAfile '%s' -in '%s' > '%s' 2>&1", f->root_pem, cab, log);
	out = tu_read_file(log, &len);
	assert_non_null(out);
	out = realloc(out, len + 1);
	out[len] = '\0';
	a = strstr((char *)out, "Current message digest    : ");
	b = strstr((char *)out, "Calculated message digest : ");
	if (a != NULL)
		sscanf(a + 28, "%99s", cur);
	if (b != NULL)
		sscanf(b + 28, "%99s", calc);
	ok = rc == 0 && cur[0] != '\0' && strcmp(cur, calc) == 0 &&
	     strstr((char *)out, "Signature verification: ok") != NULL;
	if (!ok)
		fprintf(stderr, "# osslsigncode verify %s (rc %d):\n%s\n", cab, rc, (char *)out);
	free(out);
	free(log);
	return ok;
}

static void sign_ok(struct fx *f, const char *in, const char *out)
{
	tc_sign_cab(in, out, f->leaf, f->chain, f->key);
}

static void read_ok(const char *path, struct authenticode_info *info)
{
	struct pp_error err;

	pp_error_clear(&err);
	if (authenticode_read_cab(path, info, &err) != 0)
		fail_msg("read %s: 0x%08X %s", path, err.code, err.message);
}

/* ---- digest ---- */

static void test_digest_equals_osslsigncode(void **state)
{
	struct fx *f = *state;
	const char *cabs[2] = {f->ucab, f->zcab};
	struct authenticode_info info;
	struct pp_error err;
	uint8_t d1[AUTHENTICODE_DIGEST_MAX], d2[AUTHENTICODE_DIGEST_MAX];
	size_t l1 = 0, l2 = 0;
	int i;

	for (i = 0; i < 2; i++) {
		char *s = fx_path(f, "oss.cab");

		unlink(s);
		assert_int_equal(
		    tu_run("osslsigncode sign -certs '%s' -key '%s' -h sha256 -in '%s' "
			   "-out '%s' >/dev/null 2>&1",
			   f->leaf_pem, f->leaf_key, cabs[i], s),
		    0);
		pp_error_clear(&err);
		/* The virtual signed layout of the unsigned cabinet, and the real signed file. */
		assert_int_equal(authenticode_cab_digest_file(cabs[i], EVP_sha256(), d1, &l1, &err),
				 0);
		assert_int_equal(authenticode_cab_digest_file(s, EVP_sha256(), d2, &l2, &err), 0);
		assert_int_equal(l1, 32);
		assert_int_equal(l2, 32);
		assert_memory_equal(d1, d2, 32);
		/* ... and what osslsigncode put into SpcIndirectDataContent. */
		read_ok(s, &info);
		assert_int_equal(info.digest_len, 32);
		assert_memory_equal(info.signed_digest, d1, 32);
		assert_true(info.digest_matches);
		assert_true(info.signature_valid);
		authenticode_info_release(&info);
		unlink(s);
		free(s);
	}
}

static void test_digest_sha1_osslsigncode(void **state)
{
	struct fx *f = *state;
	struct authenticode_info info;
	struct pp_error err;
	uint8_t d[AUTHENTICODE_DIGEST_MAX];
	size_t l = 0;
	char *s = fx_path(f, "oss1.cab");

	unlink(s);
	assert_int_equal(
	    tu_run("osslsigncode sign -certs '%s' -key '%s' -h sha1 -in '%s' -out '%s' "
		   ">/dev/null 2>&1",
		   f->leaf_pem, f->leaf_key, f->ucab, s),
	    0);
	pp_error_clear(&err);
	assert_int_equal(authenticode_cab_digest_file(f->ucab, EVP_sha1(), d, &l, &err), 0);
	read_ok(s, &info);
	assert_ptr_equal(info.md, EVP_sha1());
	assert_int_equal(info.digest_len, 20);
	assert_memory_equal(info.signed_digest, d, 20);
	assert_true(info.digest_matches);
	assert_true(info.signature_valid);
	authenticode_info_release(&info);
	free(s);
}

/* The digest printed by osslsigncode verify for our signed cabinet equals ours. */
static void test_digest_printed_by_osslsigncode(void **state)
{
	struct fx *f = *state;
	char *s = fx_path(f, "ours.cab"), *log = fx_path(f, "v.log"), want[65], *text;
	uint8_t d[AUTHENTICODE_DIGEST_MAX];
	size_t l = 0, i;
	struct pp_error err;

	sign_ok(f, f->zcab, s);
	pp_error_clear(&err);
	assert_int_equal(authenticode_cab_digest_file(f->zcab, EVP_sha256(), d, &l, &err), 0);
	for (i = 0; i < 32; i++)
		sprintf(want + 2 * i, "%02X", d[i]);
	assert_int_equal(
	    tu_run("osslsigncode verify -CAfile '%s' -in '%s' > '%s' 2>&1", f->root_pem, s, log),
	    0);
	text = (char *)tu_read_file(log, &l);
	assert_non_null(text);
	text = realloc(text, l + 1);
	text[l] = '\0';
	assert_non_null(strstr(text, want));
	free(text);
	free(log);
	free(s);
}

static void test_digest_sink_matches_file(void **state)
{
	struct fx *f = *state;
	struct authenticode_digest *d;
	struct pp_error err;
	char *s = fx_path(f, "sink.cab");
	uint8_t *data, a[AUTHENTICODE_DIGEST_MAX], b[AUTHENTICODE_DIGEST_MAX];
	size_t len = 0, la = 0, lb = 0, off;
	struct cab_header h;
	const struct cab_digest_sink *sink;

	sign_ok(f, f->ucab, s);
	data = tu_read_file(s, &len);
	assert_non_null(data);
	pp_error_clear(&err);
	assert_int_equal(cab_header_parse(data, len, len, &h, &err), 0);
	d = authenticode_digest_new(EVP_sha256(), &err);
	assert_non_null(d);
	sink = authenticode_digest_sink(d);
	/* As the writer does: the header to the end of the folder table, then small pieces. */
	assert_int_equal(sink->header(sink->ctx, data, h.folders_end, &h, &err), 0);
	for (off = h.folders_end; off < h.cb_cabinet; off += 1000) {
		size_t n = h.cb_cabinet - off < 1000 ? h.cb_cabinet - off : 1000;

		assert_int_equal(sink->data(sink->ctx, data + off, n, &err), 0);
	}
	assert_int_equal(authenticode_digest_final(d, a, &la, &err), 0);
	assert_int_equal(authenticode_cab_digest_file(f->ucab, NULL, b, &lb, &err), 0);
	assert_int_equal(la, lb);
	assert_memory_equal(a, b, la);
	authenticode_digest_free(d);
	free(data);
	free(s);
}

/* ---- signing ---- */

static void test_signed_by_us_verifies_in_osslsigncode(void **state)
{
	struct fx *f = *state;
	char *s = fx_path(f, "ours.cab"), *x = fx_path(f, "extract"), *t = fx_path(f, "t");
	struct authenticode_info info;

	sign_ok(f, f->ucab, s);
	assert_true(osslsigncode_verifies(f, s));
	read_ok(s, &info);
	assert_true(info.digest_matches);
	assert_true(info.signature_valid);
	assert_true(info.has_signing_time);
	assert_false(info.has_timestamp);
	assert_int_equal(X509_cmp(info.signer, f->leaf), 0);
	assert_int_equal(sk_X509_num(info.certs), 2);
	authenticode_info_release(&info);
	/* Unpackers still read it. */
	assert_int_equal(tu_run("mkdir -p '%s' && cd '%s' && gcab -x '%s' >/dev/null 2>&1 && "
				"cmp -s a.bin ../a.bin && cmp -s b.txt ../b.txt",
				x, x, s),
			 0);
	/* osslsigncode can extract and re-attach it, and the DER parses cleanly. */
	assert_int_equal(tu_run("osslsigncode extract-signature -in '%s' -out '%s.der' >/dev/null "
				"2>&1 && openssl asn1parse -inform DER -in '%s.der' >/dev/null",
				s, t, t),
			 0);
	free(s);
	free(x);
	free(t);
}

static void test_signature_structure(void **state)
{
	struct fx *f = *state;
	char *s = fx_path(f, "ours.cab"), *t = fx_path(f, "sig");
	struct authenticode_signer sg;
	struct pp_error err;
	uint8_t *der;
	size_t len = 0;
	struct authenticode_info info;
	char *text;

	signer_init(f, &sg);
	sg.description = "Patch Ü tool";
	sg.url = "https://example.invalid/info";
	sg.signing_time = 1700000000;
	pp_error_clear(&err);
	assert_int_equal(authenticode_sign_cab(f->ucab, s, &sg, &err), 0);
	assert_int_equal(
	    tu_run("osslsigncode extract-signature -in '%s' -out '%s.der' >/dev/null 2>&1 && "
		   "openssl asn1parse -inform DER -in '%s.der' > '%s.txt'",
		   s, t, t, t),
	    0);
	free(t);
	t = fx_path(f, "sig.txt");
	text = (char *)tu_read_file(t, &len);
	assert_non_null(text);
	text = realloc(text, len + 1);
	text[len] = '\0';
	/* contentType, CAB data OID, statement type, opus info, signing time. */
	assert_non_null(strstr(text, ":1.3.6.1.4.1.311.2.1.4"));
	assert_non_null(strstr(text, ":1.3.6.1.4.1.311.2.1.25"));
	assert_non_null(strstr(text, ":1.3.6.1.4.1.311.2.1.11"));
	assert_non_null(strstr(text, ":Microsoft Individual Code Signing"));
	assert_non_null(strstr(text, ":1.3.6.1.4.1.311.2.1.12"));
	assert_non_null(strstr(text, ":signingTime"));
	assert_non_null(strstr(text, ":messageDigest"));
	assert_non_null(strstr(text, "231114221320Z"));
	free(text);
	free(t);
	t = fx_path(f, "sig.der");
	der = tu_read_file(t, &len);
	assert_non_null(der);
	/* The SpcLink "<<<Obsolete>>>" form, byte for byte. */
	{
		static const uint8_t obsolete[] = {0xa2, 0x1e, 0x80, 0x1c, 0x00, 0x3c, 0x00, 0x3c};

		assert_non_null(memmem(der, len, obsolete, sizeof(obsolete)));
	}
	pp_error_clear(&err);
	assert_int_equal(authenticode_parse_signature(der, len, &info, &err), 0);
	assert_true(info.has_signing_time);
	assert_int_equal(info.signing_time, 1700000000);
	assert_ptr_equal(info.md, EVP_sha256());
	authenticode_info_release(&info);
	free(der);
	assert_true(osslsigncode_verifies(f, s));
	free(t);
	free(s);
}

static void test_sign_other_digests(void **state)
{
	struct fx *f = *state;
	const EVP_MD *mds[3] = {EVP_sha1(), EVP_sha384(), EVP_sha512()};
	char *s = fx_path(f, "md.cab");
	int i;

	for (i = 0; i < 3; i++) {
		struct authenticode_signer sg;
		struct authenticode_info info;
		struct pp_error err;

		signer_init(f, &sg);
		sg.md = mds[i];
		pp_error_clear(&err);
		assert_int_equal(authenticode_sign_cab(f->zcab, s, &sg, &err), 0);
		read_ok(s, &info);
		assert_ptr_equal(info.md, mds[i]);
		assert_int_equal(info.digest_len, (size_t)EVP_MD_get_size(mds[i]));
		assert_true(info.digest_matches);
		assert_true(info.signature_valid);
		authenticode_info_release(&info);
		assert_true(osslsigncode_verifies(f, s));
	}
	free(s);
}

static void test_osslsigncode_signed_reads_back(void **state)
{
	struct fx *f = *state;
	char *s = fx_path(f, "oss.cab");
	struct authenticode_info info;
	uint8_t sha256[32];
	uint8_t *data;
	size_t len = 0;

	unlink(s);
	assert_int_equal(tu_run("osslsigncode sign -certs '%s' -key '%s' -h sha256 -n 'Tool' "
				"-i https://x.invalid -in '%s' -out '%s' >/dev/null 2>&1",
				f->leaf_pem, f->leaf_key, f->zcab, s),
			 0);
	read_ok(s, &info);
	assert_true(info.digest_matches);
	assert_true(info.signature_valid);
	assert_int_equal(X509_cmp(info.signer, f->leaf), 0);
	data = tu_read_file(s, &len);
	assert_non_null(data);
	assert_int_equal(info.file_size, len);
	EVP_Digest(data, len, sha256, NULL, EVP_sha256(), NULL);
	assert_memory_equal(info.sha256, sha256, 32);
	EVP_Digest(data, len, sha256, NULL, EVP_sha1(), NULL);
	assert_memory_equal(info.sha1, sha256, 20);
	free(data);
	authenticode_info_release(&info);
	free(s);
}

static void test_remove_signature_restores_original(void **state)
{
	struct fx *f = *state;
	char *s = fx_path(f, "ours.cab"), *r = fx_path(f, "removed.cab"),
	     *o = fx_path(f, "oss.cab"), *r2 = fx_path(f, "removed2.cab");
	struct pp_error err;

	sign_ok(f, f->ucab, s);
	pp_error_clear(&err);
	assert_int_equal(authenticode_remove_signature(s, r, &err), 0);
	assert_true(files_equal(r, f->ucab));
	/* osslsigncode removes ours to the same bytes, and we remove its signature. */
	assert_int_equal(
	    tu_run("osslsigncode remove-signature -in '%s' -out '%s' >/dev/null 2>&1", s, r2), 0);
	assert_true(files_equal(r2, f->ucab));
	unlink(o);
	assert_int_equal(tu_run("osslsigncode sign -certs '%s' -key '%s' -in '%s' -out '%s' "
				">/dev/null 2>&1",
				f->leaf_pem, f->leaf_key, f->zcab, o),
			 0);
	assert_int_equal(authenticode_remove_signature(o, NULL, &err), 0);
	assert_true(files_equal(o, f->zcab));
	/* Nothing to remove from an unsigned cabinet. */
	assert_int_equal(authenticode_remove_signature(f->ucab, r, &err), -1);
	assert_int_equal(err.code, HR_TRUST_E_NOSIGNATURE);
	free(s);
	free(r);
	free(o);
	free(r2);
}

static void test_resign_and_in_place(void **state)
{
	struct fx *f = *state;
	char *s = fx_path(f, "re.cab"), *r = fx_path(f, "re-removed.cab");
	struct authenticode_info info;
	struct authenticode_signer sg;
	struct pp_error err;
	size_t first = 0, second = 0;
	uint8_t *d;

	assert_int_equal(tu_run("cp '%s' '%s'", f->zcab, s), 0);
	sign_ok(f, s, NULL); /* in place */
	d = tu_read_file(s, &first);
	free(d);
	/* Re-sign with another digest: header kept, blob replaced. */
	signer_init(f, &sg);
	sg.md = EVP_sha512();
	pp_error_clear(&err);
	assert_int_equal(authenticode_sign_cab(s, s, &sg, &err), 0);
	d = tu_read_file(s, &second);
	free(d);
	read_ok(s, &info);
	assert_ptr_equal(info.md, EVP_sha512());
	assert_true(info.digest_matches);
	assert_true(info.signature_valid);
	authenticode_info_release(&info);
	assert_true(osslsigncode_verifies(f, s));
	/* A resigned osslsigncode signature too. */
	assert_int_equal(tu_run("osslsigncode sign -certs '%s' -key '%s' -in '%s' -out '%s.o' "
				">/dev/null 2>&1 && mv '%s.o' '%s'",
				f->leaf_pem, f->leaf_key, s, s, s, s),
			 0);
	read_ok(s, &info);
	assert_true(info.digest_matches);
	assert_true(info.signature_valid);
	authenticode_info_release(&info);
	sign_ok(f, s, NULL);
	assert_true(osslsigncode_verifies(f, s));
	assert_int_equal(authenticode_remove_signature(s, r, &err), 0);
	assert_true(files_equal(r, f->zcab));
	/* Only temporary files of our own would add entries; there must be none. */
	assert_int_equal(tu_run("ls -a '%s' | grep -q '^\\.re\\.cab\\.'", f->dir), 1);
	free(s);
	free(r);
}

struct counting_signer {
	EVP_PKEY *key;
	int calls;
	size_t hash_len;
	bool fail;
};

static int counting_sign(void *ctx, const EVP_MD *md, const uint8_t *hash, size_t hash_len,
			 uint8_t *sig, size_t *sig_len, struct pp_error *err)
{
	struct counting_signer *c = ctx;
	struct authenticode_signer inner;

	c->calls++;
	c->hash_len = hash_len;
	if (c->fail) {
		pp_error_set(err, HR_NTE_BAD_KEY_STATE, "the signer process is gone");
		return -1;
	}
	authenticode_signer_init_key(&inner, NULL, NULL, c->key);
	return inner.sign(inner.sign_ctx, md, hash, hash_len, sig, sig_len, err);
}

static void test_sign_callback_and_failure_leaves_nothing(void **state)
{
	struct fx *f = *state;
	char *sub = fx_path(f, "out"), *s;
	struct counting_signer cs = {.key = f->key};
	struct authenticode_signer sg;
	struct authenticode_info info;
	struct pp_error err;

	assert_int_equal(tu_run("mkdir -p '%s'", sub), 0);
	s = tu_path(sub, "cb.cab");
	signer_init(f, &sg);
	sg.sign = counting_sign;
	sg.sign_ctx = &cs;
	pp_error_clear(&err);
	assert_int_equal(authenticode_sign_cab(f->ucab, s, &sg, &err), 0);
	assert_int_equal(cs.calls, 1);
	assert_int_equal(cs.hash_len, 32);
	read_ok(s, &info);
	assert_true(info.signature_valid);
	authenticode_info_release(&info);
	unlink(s);
	cs.fail = true;
	pp_error_clear(&err);
	assert_int_equal(authenticode_sign_cab(f->ucab, s, &sg, &err), -1);
	assert_int_equal(err.code, HR_NTE_BAD_KEY_STATE);
	assert_int_equal(tu_count_entries(sub), 0);
	/* The same for the one-pass writer path. */
	{
		char *a = fx_path(f, "a.bin");
		const char *files[1] = {a};
		const char *names[1] = {"a.bin"};

		pp_error_clear(&err);
		assert_int_equal(authenticode_create_signed_cab(s, files, names, 1,
								CAB_COMPRESS_MSZIP, &sg, NULL, NULL,
								NULL, &err),
				 -1);
		assert_int_equal(tu_count_entries(sub), 0);
		free(a);
	}
	free(s);
	free(sub);
}

static void test_create_signed_cab(void **state)
{
	struct fx *f = *state;
	char *a = fx_path(f, "a.bin"), *b = fx_path(f, "b.txt"), *s = fx_path(f, "w.cab"),
	     *x = fx_path(f, "wx");
	const char *files[2] = {a, b};
	const char *names[2] = {"a.bin", "dir/b.txt"};
	enum cab_compression comp[2] = {CAB_COMPRESS_NONE, CAB_COMPRESS_MSZIP};
	struct authenticode_signer sg;
	struct authenticode_info info;
	struct pp_error err;
	int i;

	for (i = 0; i < 2; i++) {
		signer_init(f, &sg);
		pp_error_clear(&err);
		if (authenticode_create_signed_cab(s, files, names, 2, comp[i], &sg, NULL, NULL,
						   NULL, &err) != 0)
			fail_msg("create: 0x%08X %s", err.code, err.message);
		read_ok(s, &info);
		assert_true(info.digest_matches);
		assert_true(info.signature_valid);
		authenticode_info_release(&info);
		assert_true(osslsigncode_verifies(f, s));
		assert_int_equal(tu_run("rm -rf '%s' && mkdir -p '%s' && cd '%s' && "
					"gcab -x '%s' >/dev/null 2>&1 && cmp -s a.bin '%s' && "
					"cmp -s dir/b.txt '%s'",
					x, x, x, s, a, b),
				 0);
	}
	free(a);
	free(b);
	free(s);
	free(x);
}

/* A signer that makes a signature one byte shorter than the key's size: the blob then is not
 * the length predicted, and the writing pass must say so instead of giving wrong digests. */
static int short_sign(void *ctx, const EVP_MD *md, const uint8_t *hash, size_t hash_len,
		      uint8_t *sig, size_t *sig_len, struct pp_error *err)
{
	struct counting_signer *c = ctx;

	if (counting_sign(ctx, md, hash, hash_len, sig, sig_len, err) != 0)
		return -1;
	*sig_len -= c->fail ? 0 : 8; /* 8: a length the padding to 8 bytes cannot hide */
	return 0;
}

static void file_digests_of(const char *path, uint8_t sha1[20], uint8_t sha256[32], size_t *len)
{
	uint8_t *bytes = tu_read_file(path, len);

	assert_non_null(bytes);
	assert_int_equal(EVP_Digest(bytes, *len, sha1, NULL, EVP_sha1(), NULL), 1);
	assert_int_equal(EVP_Digest(bytes, *len, sha256, NULL, EVP_sha256(), NULL), 1);
	free(bytes);
}

/* The whole-file SHA-1, SHA-256 and size from the writing pass equal those of the file as it
 * lies on disk afterwards; with compression, or a signature of another length than predicted,
 * they are not claimed. */
static void test_create_signed_cab_file_digests(void **state)
{
	struct fx *f = *state;
	char *big = fx_path(f, "big.bin"), *b = fx_path(f, "b.txt"), *s = fx_path(f, "d.cab");
	const char *files[2] = {big, b};
	const char *names[2] = {"big.bin", "b.txt"};
	struct counting_signer cs = {.key = f->key};
	struct authenticode_file_digests fd;
	struct authenticode_signer sg;
	struct authenticode_info info;
	struct pp_error err;
	uint8_t sha1[20], sha256[32];
	size_t len = 0, big_len = 5u * 1024u * 1024u + 12345u; /* several hash slots */
	uint8_t *data = malloc(big_len);

	assert_non_null(data);
	tu_fill(data, big_len, 7);
	tu_write_file(big, data, big_len);
	free(data);
	signer_init(f, &sg);
	pp_error_clear(&err);
	if (authenticode_create_signed_cab(s, files, names, 2, CAB_COMPRESS_NONE, &sg, NULL, NULL,
					   &fd, &err) != 0)
		fail_msg("create: 0x%08X %s", err.code, err.message);
	assert_true(fd.computed);
	file_digests_of(s, sha1, sha256, &len);
	assert_int_equal(fd.size, len);
	assert_memory_equal(fd.sha1, sha1, sizeof(sha1));
	assert_memory_equal(fd.sha256, sha256, sizeof(sha256));
	read_ok(s, &info);
	assert_true(info.digest_matches);
	assert_true(info.signature_valid);
	authenticode_info_release(&info);
	assert_true(osslsigncode_verifies(f, s));

	/* MSZIP: the header is final only at the end; no digests claimed. */
	if (authenticode_create_signed_cab(s, files, names, 2, CAB_COMPRESS_MSZIP, &sg, NULL, NULL,
					   &fd, &err) != 0)
		fail_msg("create: 0x%08X %s", err.code, err.message);
	assert_false(fd.computed);

	/* A signature 8 bytes shorter than predicted: the file is still right, no digests. */
	sg.sign = short_sign;
	sg.sign_ctx = &cs;
	if (authenticode_create_signed_cab(s, files, names, 2, CAB_COMPRESS_NONE, &sg, NULL, NULL,
					   &fd, &err) != 0)
		fail_msg("create: 0x%08X %s", err.code, err.message);
	assert_int_equal(cs.calls, 1);
	assert_false(fd.computed);
	assert_int_equal(fd.size, 0);
	free(big);
	free(b);
	free(s);
}

/* ---- refusing and malformed input ---- */

/* A minimal cabinet with no folders: 36-byte header plus whatever extra holds. */
static void write_tiny_cab(const char *path, uint16_t flags, const uint8_t *extra, size_t n)
{
	uint8_t b[128] = {0};
	size_t len = 36 + n;

	memcpy(b, "MSCF", 4);
	b[0x08] = (uint8_t)len;
	b[0x10] = (uint8_t)len;
	b[0x18] = 3;
	b[0x19] = 1;
	b[0x1E] = (uint8_t)flags;
	if (n > 0)
		memcpy(b + 36, extra, n);
	tu_write_file(path, b, len);
}

static void test_sign_refuses(void **state)
{
	struct fx *f = *state;
	char *sub = fx_path(f, "refuse"), *in, *out;
	struct authenticode_signer sg;
	struct pp_error err;
	static const uint8_t prev[] = {'a', 0, 'b', 0};
	static const uint8_t reserve[] = {6, 0, 0, 0, 1, 2, 3, 4, 5, 6};

	assert_int_equal(tu_run("mkdir -p '%s'", sub), 0);
	in = fx_path(f, "prev.cab");
	out = tu_path(sub, "o.cab");
	signer_init(f, &sg);
	write_tiny_cab(in, CAB_FLAG_PREV_CABINET, prev, sizeof(prev));
	pp_error_clear(&err);
	assert_int_equal(authenticode_sign_cab(in, out, &sg, &err), -1);
	assert_int_equal(err.code, HR_ERROR_NOT_SUPPORTED);
	assert_non_null(strstr(err.message, "PREV_CABINET"));
	write_tiny_cab(in, CAB_FLAG_RESERVE_PRESENT, reserve, sizeof(reserve));
	pp_error_clear(&err);
	assert_int_equal(authenticode_sign_cab(in, out, &sg, &err), -1);
	assert_int_equal(err.code, HR_ERROR_NOT_SUPPORTED);
	assert_non_null(strstr(err.message, "reserve"));
	tu_write_file(in, "not a cabinet at all, just text", 31);
	pp_error_clear(&err);
	assert_int_equal(authenticode_sign_cab(in, out, &sg, &err), -1);
	assert_int_equal(err.code, HR_TRUST_E_SUBJECT_FORM_UNKNOWN);
	assert_int_equal(tu_count_entries(sub), 0);
	/* An empty but valid cabinet signs and verifies. */
	write_tiny_cab(in, 0, NULL, 0);
	pp_error_clear(&err);
	assert_int_equal(authenticode_sign_cab(in, out, &sg, &err), 0);
	{
		struct authenticode_info info;

		read_ok(out, &info);
		assert_true(info.digest_matches);
		assert_true(info.signature_valid);
		authenticode_info_release(&info);
	}
	free(in);
	free(out);
	free(sub);
}

static void expect_read_error(const char *path, uint32_t code)
{
	struct authenticode_info info;
	struct pp_error err;

	pp_error_clear(&err);
	if (authenticode_read_cab(path, &info, &err) != -1)
		fail_msg("%s read without error", path);
	if (err.code != code)
		fail_msg("%s: expected 0x%08X, got 0x%08X %s", path, code, err.code, err.message);
	assert_null(info.p7);
	assert_null(info.certs);
}

static void test_read_malformed(void **state)
{
	struct fx *f = *state;
	char *s = fx_path(f, "m.cab"), *m = fx_path(f, "mal.cab");
	uint8_t *d, *c;
	size_t len = 0;
	uint32_t sigoff, siglen;
	struct authenticode_info info;
	size_t i;

	expect_read_error(f->ucab, HR_TRUST_E_NOSIGNATURE);
	tu_write_file(m, "PK\3\4 this is a zip", 19);
	expect_read_error(m, HR_TRUST_E_SUBJECT_FORM_UNKNOWN);
	tu_write_file(m, "", 0);
	expect_read_error(m, HR_TRUST_E_SUBJECT_FORM_UNKNOWN);
	tu_write_file(m, "MSCF\0\0\0\0", 8);
	expect_read_error(m, HR_ERROR_INVALID_DATA);
	expect_read_error(f->dir, HR_TRUST_E_SUBJECT_FORM_UNKNOWN);

	sign_ok(f, f->ucab, s);
	d = tu_read_file(s, &len);
	assert_non_null(d);
	c = malloc(len);
	assert_non_null(c);
	sigoff = le32_get(d + 0x2C);
	siglen = le32_get(d + 0x30);
	assert_int_equal(sigoff + siglen, len);

	/* Signature length past the end of the file. */
	memcpy(c, d, len);
	le32_put(c + 0x30, siglen + 8);
	tu_write_file(m, c, len);
	expect_read_error(m, HR_ERROR_INVALID_DATA);
	/* Length over the cap (and past the end). */
	le32_put(c + 0x30, 0x7FFFFFF0u);
	tu_write_file(m, c, len);
	expect_read_error(m, HR_ERROR_INVALID_DATA);
	/* Locator offset inside the cabinet data. */
	memcpy(c, d, len);
	le32_put(c + 0x2C, sigoff - 100);
	tu_write_file(m, c, len);
	expect_read_error(m, HR_ERROR_INVALID_DATA);
	/* Trailing data after the signature. */
	memcpy(c, d, len);
	le32_put(c + 0x30, siglen - 8);
	tu_write_file(m, c, len);
	expect_read_error(m, HR_ERROR_INVALID_DATA);
	/* Not DER at all where the blob is. */
	memcpy(c, d, len);
	memset(c + sigoff, 0xA5, siglen);
	tu_write_file(m, c, len);
	expect_read_error(m, HR_CRYPT_E_ASN1_BADTAG);
	/* A truncated / re-tagged PKCS#7. */
	memcpy(c, d, len);
	c[sigoff + 4] ^= 0x01; /* the ContentInfo OID */
	tu_write_file(m, c, len);
	expect_read_error(m, HR_CRYPT_E_ASN1_BADTAG);
	/* Every single byte of the blob flipped in turn: never a crash, never "valid". */
	for (i = 0; i < siglen; i += 7) {
		struct pp_error err;

		memcpy(c, d, len);
		c[sigoff + i] ^= 0x5A;
		tu_write_file(m, c, len);
		pp_error_clear(&err);
		if (authenticode_read_cab(m, &info, &err) == 0) {
			/* Some bytes (certificate fields not covered, padding) may be harmless. */
			authenticode_info_release(&info);
		} else {
			assert_true(err.code == HR_CRYPT_E_ASN1_BADTAG ||
				    err.code == HR_NTE_BAD_ALGID ||
				    err.code == HR_ERROR_INVALID_DATA);
		}
	}
	/* The RSA signature value itself (the last bytes of the DER before padding). */
	memcpy(c, d, len);
	{
		size_t end = sigoff + siglen;

		while (c[end - 1] == 0)
			end--;
		c[end - 10] ^= 0xFF;
	}
	tu_write_file(m, c, len);
	read_ok(m, &info);
	assert_true(info.digest_matches);
	assert_false(info.signature_valid);
	authenticode_info_release(&info);
	/* One flipped byte inside CFDATA: digest no longer matches, signature still fine. */
	memcpy(c, d, len);
	c[sigoff - 5000] ^= 0x01;
	tu_write_file(m, c, len);
	read_ok(m, &info);
	assert_false(info.digest_matches);
	assert_true(info.signature_valid);
	authenticode_info_release(&info);
	free(c);
	free(d);
	free(s);
	free(m);
}

static void test_parse_signature(void **state)
{
	struct fx *f = *state;
	struct authenticode_signer sg;
	struct authenticode_info info;
	struct pp_error err;
	uint8_t digest[32], *der = NULL, junk[64];
	size_t len = 0;

	memset(digest, 0x42, sizeof(digest));
	signer_init(f, &sg);
	pp_error_clear(&err);
	assert_int_equal(authenticode_create_signature(&sg, digest, 32, &der, &len, &err), 0);
	assert_int_equal(authenticode_parse_signature(der, len, &info, &err), 0);
	assert_memory_equal(info.signed_digest, digest, 32);
	assert_int_equal(X509_cmp(info.signer, f->leaf), 0);
	authenticode_info_release(&info);
	/* Wrong digest size for the algorithm. */
	free(der);
	der = NULL;
	assert_int_equal(authenticode_create_signature(&sg, digest, 20, &der, &len, &err), -1);
	assert_int_equal(err.code, HR_E_INVALIDARG);
	memset(junk, 0x30, sizeof(junk));
	pp_error_clear(&err);
	assert_int_equal(authenticode_parse_signature(junk, sizeof(junk), &info, &err), -1);
	assert_int_equal(err.code, HR_CRYPT_E_ASN1_BADTAG);
	pp_error_clear(&err);
	assert_int_equal(authenticode_parse_signature(junk, 0, &info, &err), -1);
	assert_int_equal(err.code, HR_CRYPT_E_ASN1_BADTAG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_digest_equals_osslsigncode),
	    cmocka_unit_test(test_digest_sha1_osslsigncode),
	    cmocka_unit_test(test_digest_printed_by_osslsigncode),
	    cmocka_unit_test(test_digest_sink_matches_file),
	    cmocka_unit_test(test_signed_by_us_verifies_in_osslsigncode),
	    cmocka_unit_test(test_signature_structure),
	    cmocka_unit_test(test_sign_other_digests),
	    cmocka_unit_test(test_osslsigncode_signed_reads_back),
	    cmocka_unit_test(test_remove_signature_restores_original),
	    cmocka_unit_test(test_resign_and_in_place),
	    cmocka_unit_test(test_sign_callback_and_failure_leaves_nothing),
	    cmocka_unit_test(test_create_signed_cab),
	    cmocka_unit_test(test_create_signed_cab_file_digests),
	    cmocka_unit_test(test_sign_refuses),
	    cmocka_unit_test(test_read_malformed),
	    cmocka_unit_test(test_parse_signature),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
