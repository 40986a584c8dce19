/* test_pki.c - keys, certificates, PFX/PEM/DER import and export, WSUS requirements, "show
 * certificate" fields; with interop against the openssl command line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "hresult.h"
#include "pki.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

/* One generated credential shared by the tests that only read it (RSA key generation is the
 * slow part). */
struct fixture {
	char *dir;
	struct pki_credential *cred;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct pki_new_options o = {.subject = PKI_DEFAULT_SUBJECT_MANAGED,
				    .days = PKI_DEFAULT_DAYS_MANAGED,
				    .exportable = true};
	struct pp_error err;

	if (f == NULL)
		return -1;
	pp_error_clear(&err);
	f->dir = tu_tmpdir();
	f->cred = pki_credential_generate(&o, &err);
	if (f->cred == NULL) {
		fprintf(stderr, "generate: %s\n", err.message);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	pki_credential_free(f->cred);
	tu_rmrf(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

/* Every test gets its own scratch directory inside the fixture's. */
static char *scratch(struct fixture *f, const char *name)
{
	char *p = tu_fresh_path(f->dir, name);

	if (mkdir(p, 0755) != 0)
		abort();
	return p;
}

static bool have_openssl(void)
{
	return tu_run("openssl version >/dev/null 2>&1") == 0;
}

static void utc_string(time_t t, char *out, size_t size)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, size, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

/* ---- generate ---- */

static void test_generate_exact_extensions(void **state)
{
	struct fixture *f = *state;
	struct pki_new_options o = {.subject = "CN=Contoso Updates, O=Contoso",
				    .days = 30,
				    .bits = 2048,
				    .exportable = true,
				    .not_before = 1767225600 /* 2026-01-01 00:00:00 UTC */};
	struct pki_credential *c;
	struct pp_error err;
	X509 *x;
	BASIC_CONSTRAINTS *bc;
	ASN1_BIT_STRING *ku;
	EXTENDED_KEY_USAGE *eku;
	ASN1_OCTET_STRING *skid;
	AUTHORITY_KEYID *akid;
	const ASN1_INTEGER *serial;
	const X509_NAME *name;
	char oid[64], subject[256];
	int crit, days = -1, secs = -1;
	struct pki_show show;

	(void)f;
	pp_error_clear(&err);
	c = pki_credential_generate(&o, &err);
	assert_non_null(c);
	x = c->cert;
	assert_true(c->exportable);
	assert_non_null(c->key);
	assert_int_equal(sk_X509_num(c->chain), 0);
	assert_int_equal(X509_get_version(x), X509_VERSION_3);
	assert_int_equal(EVP_PKEY_get_bits(c->key), 2048);
	assert_true(EVP_PKEY_is_a(c->key, "RSA"));
	assert_int_equal(X509_get_signature_nid(x), NID_sha256WithRSAEncryption);
	assert_int_equal(X509_check_private_key(x, c->key), 1);

	/* Serial: 16 content bytes, positive, first byte non-zero. */
	serial = X509_get0_serialNumber(x);
	assert_int_equal(ASN1_STRING_type(serial), V_ASN1_INTEGER);
	assert_int_equal(ASN1_STRING_length(serial), 16);
	assert_int_equal(ASN1_STRING_get0_data(serial)[0] & 0x80, 0);
	assert_int_not_equal(ASN1_STRING_get0_data(serial)[0], 0);
	assert_int_equal(i2d_ASN1_INTEGER(serial, NULL), 2 + 16); /* tag, length, 16 bytes */

	/* Validity: exactly days from not_before. */
	assert_int_equal(
	    ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(x), X509_get0_notAfter(x)), 1);
	assert_int_equal(days, 30);
	assert_int_equal(secs, 0);

	/* Subject in DER order O then CN (RFC 4514 lists the most specific first); issuer equal. */
	name = X509_get_subject_name(x);
	assert_int_equal(X509_NAME_entry_count(name), 2);
	assert_int_equal(OBJ_obj2nid(X509_NAME_ENTRY_get_object(X509_NAME_get_entry(name, 0))),
			 NID_organizationName);
	assert_int_equal(OBJ_obj2nid(X509_NAME_ENTRY_get_object(X509_NAME_get_entry(name, 1))),
			 NID_commonName);
	assert_int_equal(X509_NAME_cmp(name, X509_get_issuer_name(x)), 0);
	assert_int_equal(pki_show_fields(x, &show, &err), 0);
	assert_string_equal(show.subject, "CN=Contoso Updates, O=Contoso");
	assert_string_equal(show.issuer, "CN=Contoso Updates, O=Contoso");
	assert_string_equal(show.effective, "2026-01-01 00:00:00 UTC");
	assert_string_equal(show.expiration, "2026-01-31 00:00:00 UTC");
	pki_simple_name(x, subject, sizeof(subject));
	assert_string_equal(subject, "Contoso Updates");

	/* basicConstraints: critical, CA:FALSE, no path length. */
	bc = X509_get_ext_d2i(x, NID_basic_constraints, &crit, NULL);
	assert_non_null(bc);
	assert_int_equal(crit, 1);
	assert_int_equal(bc->ca, 0);
	assert_null(bc->pathlen);
	BASIC_CONSTRAINTS_free(bc);

	/* keyUsage: critical, digitalSignature and nothing else. */
	ku = X509_get_ext_d2i(x, NID_key_usage, &crit, NULL);
	assert_non_null(ku);
	assert_int_equal(crit, 1);
	ASN1_BIT_STRING_free(ku);
	assert_int_equal(X509_get_key_usage(x), KU_DIGITAL_SIGNATURE);

	/* extendedKeyUsage: not critical, exactly codeSigning. */
	eku = X509_get_ext_d2i(x, NID_ext_key_usage, &crit, NULL);
	assert_non_null(eku);
	assert_int_equal(crit, 0);
	assert_int_equal(sk_ASN1_OBJECT_num(eku), 1);
	assert_true(OBJ_obj2txt(oid, sizeof(oid), sk_ASN1_OBJECT_value(eku, 0), 1) > 0);
	assert_string_equal(oid, "1.3.6.1.5.5.7.3.3");
	sk_ASN1_OBJECT_pop_free(eku, ASN1_OBJECT_free);

	/* subjectKeyIdentifier present; authorityKeyIdentifier carries the same key id. */
	skid = X509_get_ext_d2i(x, NID_subject_key_identifier, &crit, NULL);
	assert_non_null(skid);
	assert_int_equal(crit, 0);
	akid = X509_get_ext_d2i(x, NID_authority_key_identifier, &crit, NULL);
	assert_non_null(akid);
	assert_non_null(akid->keyid);
	assert_int_equal(ASN1_OCTET_STRING_cmp(skid, akid->keyid), 0);
	ASN1_OCTET_STRING_free(skid);
	AUTHORITY_KEYID_free(akid);
	assert_int_equal(X509_get_ext_count(x), 5);

	assert_true(pki_is_self_signed(x));
	pki_credential_free(c);
}

static void test_generate_defaults_and_slash_subject(void **state)
{
	struct pki_new_options o = {.subject = "/CN=Slash Style/O=Fabrikam", .exportable = false};
	struct pki_credential *c;
	struct pp_error err;
	struct pki_show show;
	int days = 0, secs = 0;

	(void)state;
	pp_error_clear(&err);
	c = pki_credential_generate(&o, &err);
	assert_non_null(c);
	assert_false(c->exportable);
	assert_int_equal(EVP_PKEY_get_bits(c->key), 2048);
	assert_int_equal(
	    ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(c->cert), X509_get0_notAfter(c->cert)),
	    1);
	assert_int_equal(days, PKI_DEFAULT_DAYS_PUBLISHER);
	assert_int_equal(pki_show_fields(c->cert, &show, &err), 0);
	/* OpenSSL style lists DER order; shown most specific first. */
	assert_string_equal(show.subject, "O=Fabrikam, CN=Slash Style");
	pki_credential_free(c);

	/* NULL subject is the publisher default. */
	o.subject = NULL;
	o.days = 1;
	c = pki_credential_generate(&o, &err);
	assert_non_null(c);
	assert_int_equal(pki_show_fields(c->cert, &show, &err), 0);
	assert_string_equal(show.subject, PKI_DEFAULT_SUBJECT_PUBLISHER);
	pki_credential_free(c);

	/* An escaped comma stays in the value. */
	o.subject = "CN=Contoso\\, Ltd";
	c = pki_credential_generate(&o, &err);
	assert_non_null(c);
	pki_simple_name(c->cert, show.subject, sizeof(show.subject));
	assert_string_equal(show.subject, "Contoso, Ltd");
	pki_credential_free(c);
}

static void test_generate_3072_4096(void **state)
{
	static const int sizes[] = {3072, 4096};
	struct pki_new_options o = {.days = 10, .exportable = true};
	struct pki_credential *c;
	struct pki_check chk;
	struct pp_error err;
	size_t i;

	(void)state;
	for (i = 0; i < 2; i++) {
		pp_error_clear(&err);
		o.bits = sizes[i];
		c = pki_credential_generate(&o, &err);
		assert_non_null(c);
		assert_int_equal(EVP_PKEY_get_bits(c->key), sizes[i]);
		assert_int_equal(EVP_PKEY_get_bits(X509_get0_pubkey(c->cert)), sizes[i]);
		assert_int_equal(pki_check_wsus(c->cert, c->key, time(NULL), &chk), 0);
		pki_credential_free(c);
	}
}

static void test_generate_refuses_bad_options(void **state)
{
	static const int bad_bits[] = {1024, 1000, 8192, -1, 2047};
	static const char *const bad_subjects[] = {"",	  "CN",	       "XX=foo",
						   "CN=", "CN=a,,O=b", "/CN=a/"};
	struct pki_new_options o = {.days = 10, .exportable = true};
	struct pki_credential *c;
	struct pp_error err;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad_bits) / sizeof(bad_bits[0]); i++) {
		pp_error_clear(&err);
		o.bits = bad_bits[i];
		c = pki_credential_generate(&o, &err);
		assert_null(c);
		assert_int_equal(err.code, HR_E_INVALIDARG);
		assert_non_null(strstr(err.message, "2048, 3072 or 4096"));
	}
	o.bits = 2048;
	for (i = 0; i < sizeof(bad_subjects) / sizeof(bad_subjects[0]); i++) {
		pp_error_clear(&err);
		o.subject = bad_subjects[i];
		c = pki_credential_generate(&o, &err);
		if (c != NULL)
			fail_msg("subject \"%s\" was accepted", bad_subjects[i]);
		assert_int_equal(err.code, HR_E_INVALIDARG);
		assert_non_null(strstr(err.message, "subject"));
	}
	o.subject = NULL;
	o.days = -5;
	pp_error_clear(&err);
	assert_null(pki_credential_generate(&o, &err));
	assert_int_equal(err.code, HR_E_INVALIDARG);
	assert_non_null(strstr(err.message, "days"));
}

/* ---- PFX ---- */

static void test_pfx_roundtrip(void **state)
{
	struct fixture *f = *state;
	char *d = scratch(f, "rt");
	char *pfx = tu_path(d, "sign.pfx");
	struct pki_credential *c;
	struct pp_error err;

	pp_error_clear(&err);
	assert_int_equal(pki_store_new_pfx(f->cred, pfx, "s3cret pass", &err), 0);
	assert_int_equal(tu_file_mode(pfx), 0600);
	assert_int_equal(tu_count_entries(d), 1); /* no temporary file left */
	c = pki_credential_load(pfx, "s3cret pass", &err);
	assert_non_null(c);
	assert_int_equal(err.code, 0);
	assert_int_equal(X509_cmp(c->cert, f->cred->cert), 0);
	assert_non_null(c->key);
	assert_int_equal(EVP_PKEY_eq(c->key, f->cred->key), 1);
	assert_true(c->exportable);
	assert_int_equal(sk_X509_num(c->chain), 0);

	/* An exportable credential exports again, and that PFX loads too. */
	free(pfx);
	pfx = tu_path(d, "again.pfx");
	assert_int_equal(pki_export_pfx(c, pfx, "other", &err), 0);
	pki_credential_free(c);
	c = pki_credential_load(pfx, "other", &err);
	assert_non_null(c);
	assert_int_equal(X509_cmp(c->cert, f->cred->cert), 0);
	pki_credential_free(c);

	/* Empty and NULL passwords mean the same. */
	free(pfx);
	pfx = tu_path(d, "empty.pfx");
	assert_int_equal(pki_store_new_pfx(f->cred, pfx, NULL, &err), 0);
	c = pki_credential_load(pfx, "", &err);
	assert_non_null(c);
	pki_credential_free(c);
	c = pki_credential_load(pfx, NULL, &err);
	assert_non_null(c);
	pki_credential_free(c);
	free(pfx);
	free(d);
}

static void test_pfx_overwrites_atomically(void **state)
{
	struct fixture *f = *state;
	char *d = scratch(f, "ow");
	char *pfx = tu_path(d, "sign.pfx");
	char *missing = tu_path(d, "no/such/dir/x.pfx");
	struct pki_credential *c;
	struct pp_error err;

	tu_write_file(pfx, "old", 3);
	pp_error_clear(&err);
	assert_int_equal(pki_store_new_pfx(f->cred, pfx, "pw", &err), 0);
	assert_int_equal(tu_file_mode(pfx), 0600);
	c = pki_credential_load(pfx, "pw", &err);
	assert_non_null(c);
	pki_credential_free(c);
	assert_int_equal(tu_count_entries(d), 1);

	/* A directory that does not exist: a clear error and nothing created. */
	assert_int_equal(pki_store_new_pfx(f->cred, missing, "pw", &err), -1);
	assert_int_equal(err.code, HR_ERROR_FILE_NOT_FOUND);
	assert_int_equal(tu_count_entries(d), 1);
	free(missing);
	free(pfx);
	free(d);
}

static void test_pfx_wrong_password(void **state)
{
	struct fixture *f = *state;
	char *d = scratch(f, "wp");
	char *pfx = tu_path(d, "sign.pfx");
	char expect[512];
	struct pki_credential *c;
	struct pp_error err;

	pp_error_clear(&err);
	assert_int_equal(pki_store_new_pfx(f->cred, pfx, "right", &err), 0);
	c = pki_credential_load(pfx, "wrong", &err);
	assert_null(c);
	assert_int_equal(err.code, HR_ERROR_INVALID_PASSWORD);
	snprintf(expect, sizeof(expect), "the password for %s is not correct", pfx);
	assert_string_equal(err.message, expect);
	assert_null(strstr(err.message, "wrong"));
	pp_error_clear(&err);
	assert_null(pki_credential_load(pfx, NULL, &err));
	assert_int_equal(err.code, HR_ERROR_INVALID_PASSWORD);
	/* Nothing written anywhere: only the PFX itself is in the directory. */
	assert_int_equal(tu_count_entries(d), 1);
	free(pfx);
	free(d);
}

static void test_pfx_non_exportable(void **state)
{
	struct fixture *f = *state;
	char *d = scratch(f, "ne");
	char *pfx = tu_path(d, "ne.pfx");
	char *out = tu_path(d, "copy.pfx");
	char *cer = tu_path(d, "ne.cer");
	struct pki_new_options o = {.subject = "CN=Locked Key", .days = 30, .exportable = false};
	struct pki_credential *gen, *c;
	struct pp_error err;

	pp_error_clear(&err);
	gen = pki_credential_generate(&o, &err);
	assert_non_null(gen);
	/* The first and only time the key leaves the generator. */
	assert_int_equal(pki_store_new_pfx(gen, pfx, "pw", &err), 0);
	assert_int_equal(pki_export_pfx(gen, out, "pw", &err), -1);
	assert_int_equal(err.code, HR_NTE_BAD_KEY_STATE);
	assert_false(tu_exists(out));

	pp_error_clear(&err);
	c = pki_credential_load(pfx, "pw", &err);
	assert_non_null(c);
	assert_false(c->exportable);
	assert_non_null(c->key);
	assert_int_equal(EVP_PKEY_eq(c->key, gen->key), 1);
	assert_int_equal(pki_export_pfx(c, out, "pw", &err), -1);
	assert_int_equal(err.code, HR_NTE_BAD_KEY_STATE);
	assert_non_null(strstr(err.message, "Locked Key"));
	assert_false(tu_exists(out));
	assert_int_equal(tu_count_entries(d), 1);
	/* The public certificate still exports. */
	pp_error_clear(&err);
	assert_int_equal(pki_export_cer(c->cert, cer, &err), 0);

	if (have_openssl()) {
		/* The marker is a key-bag attribute that openssl shows and does not choke on. */
		assert_int_equal(tu_run("openssl pkcs12 -in '%s' -passin pass:pw -nodes -info "
					"2>/dev/null | grep -q '%s: non-exportable'",
					pfx, PKI_OID_NON_EXPORTABLE),
				 0);
	}
	pki_credential_free(c);
	pki_credential_free(gen);
	free(cer);
	free(out);
	free(pfx);
	free(d);
}

static void test_pfx_opens_with_openssl_cli(void **state)
{
	struct fixture *f = *state;
	char *d, *pfx;
	struct pp_error err;

	if (!have_openssl())
		skip();
	d = scratch(f, "cli");
	pfx = tu_path(d, "sign.pfx");
	pp_error_clear(&err);
	assert_int_equal(pki_store_new_pfx(f->cred, pfx, "p@ss word", &err), 0);
	/* No -legacy: modern algorithms only. */
	assert_int_equal(tu_run("openssl pkcs12 -in '%s' -passin 'pass:p@ss word' -nodes -noout "
				">/dev/null 2>&1",
				pfx),
			 0);
	assert_int_equal(tu_run("openssl pkcs12 -in '%s' -passin 'pass:p@ss word' -nodes -noout "
				"-info 2>&1 | grep -q 'MAC: sha256'",
				pfx),
			 0);
	assert_int_equal(tu_run("openssl pkcs12 -in '%s' -passin 'pass:p@ss word' -nodes -noout "
				"-info 2>&1 | grep 'Shrouded Keybag' | grep -q "
				"'PBES2, PBKDF2, AES-256-CBC'",
				pfx),
			 0);
	assert_int_equal(tu_run("openssl pkcs12 -in '%s' -passin 'pass:p@ss word' -nodes -noout "
				"-info 2>&1 | grep 'PKCS7 Encrypted data' | grep -q "
				"'PBES2, PBKDF2, AES-256-CBC'",
				pfx),
			 0);
	/* friendlyName is the simple name. */
	assert_int_equal(tu_run("openssl pkcs12 -in '%s' -passin 'pass:p@ss word' -nokeys "
				"2>/dev/null | grep -q 'friendlyName: WSUS Publishers Self-signed'",
				pfx),
			 0);
	assert_int_not_equal(tu_run("openssl pkcs12 -in '%s' -passin pass:nope -nodes -noout "
				    ">/dev/null 2>&1",
				    pfx),
			     0);
	free(pfx);
	free(d);
}

/* Makes a key and self-signed certificate with openssl req in d: k.pem, c.pem. */
static void openssl_req(const char *d, const char *key_args, const char *extra)
{
	assert_int_equal(tu_run("cd '%s' && openssl req -x509 %s -nodes -keyout k.pem -out c.pem "
				"-subj '/CN=OpenSSL Made' -days 10 %s >/dev/null 2>&1",
				d, key_args, extra),
			 0);
}

static struct pki_credential *load_ok(const char *d, const char *name, const char *password)
{
	char *p = tu_path(d, name);
	struct pki_credential *c;
	struct pp_error err;

	pp_error_clear(&err);
	c = pki_credential_load(p, password, &err);
	if (c == NULL)
		fail_msg("loading %s: %s", p, err.message);
	free(p);
	return c;
}

static void test_load_openssl_pfx(void **state)
{
	struct fixture *f = *state;
	struct pki_credential *c, *pem;
	struct pp_error err;
	char *d, *p;

	if (!have_openssl())
		skip();
	d = scratch(f, "ossl-pfx");
	openssl_req(d, "-newkey rsa:2048", "-addext extendedKeyUsage=codeSigning");
	assert_int_equal(tu_run("cd '%s' && openssl pkcs12 -export -inkey k.pem -in c.pem -out "
				"d.pfx -passout pass:pw >/dev/null 2>&1",
				d),
			 0);
	pem = load_ok(d, "c.pem", NULL);
	c = load_ok(d, "d.pfx", "pw");
	assert_int_equal(X509_cmp(c->cert, pem->cert), 0);
	assert_non_null(c->key);
	assert_int_equal(X509_check_private_key(c->cert, c->key), 1);
	assert_true(c->exportable);
	pki_credential_free(c);

	p = tu_path(d, "d.pfx");
	pp_error_clear(&err);
	assert_null(pki_credential_load(p, "bad", &err));
	assert_int_equal(err.code, HR_ERROR_INVALID_PASSWORD);
	free(p);

	/* The legacy (RC2/3DES) form, when this OpenSSL has the legacy provider. */
	if (tu_run("openssl list -providers -provider legacy >/dev/null 2>&1") == 0 &&
	    tu_run("cd '%s' && openssl pkcs12 -export -legacy -inkey k.pem -in c.pem -out l.pfx "
		   "-passout pass:pw >/dev/null 2>&1",
		   d) == 0) {
		c = load_ok(d, "l.pfx", "pw");
		assert_int_equal(X509_cmp(c->cert, pem->cert), 0);
		assert_int_equal(X509_check_private_key(c->cert, c->key), 1);
		pki_credential_free(c);
		p = tu_path(d, "l.pfx");
		pp_error_clear(&err);
		assert_null(pki_credential_load(p, "bad", &err));
		assert_int_equal(err.code, HR_ERROR_INVALID_PASSWORD);
		free(p);
	} else {
		print_message("legacy provider not available; -legacy PFX not tested\n");
	}
	pki_credential_free(pem);
	free(d);
}

static void test_load_pem_variants(void **state)
{
	struct fixture *f = *state;
	struct pki_credential *c;
	struct pp_error err;
	char *d, *p;

	if (!have_openssl())
		skip();
	d = scratch(f, "pem");
	openssl_req(d, "-newkey rsa:2048", "");
	/* cert then key, key then cert */
	assert_int_equal(
	    tu_run("cd '%s' && cat c.pem k.pem > ck.pem && cat k.pem c.pem > kc.pem", d), 0);
	c = load_ok(d, "ck.pem", NULL);
	assert_non_null(c->key);
	assert_int_equal(X509_check_private_key(c->cert, c->key), 1);
	pki_credential_free(c);
	c = load_ok(d, "kc.pem", NULL);
	assert_non_null(c->key);
	pki_credential_free(c);

	/* traditional "RSA PRIVATE KEY" */
	assert_int_equal(tu_run("cd '%s' && openssl rsa -in k.pem -traditional -out kr.pem "
				">/dev/null 2>&1 && grep -q 'BEGIN RSA PRIVATE KEY' kr.pem && "
				"cat c.pem kr.pem > ckr.pem",
				d),
			 0);
	c = load_ok(d, "ckr.pem", NULL);
	assert_int_equal(X509_check_private_key(c->cert, c->key), 1);
	pki_credential_free(c);

	/* "ENCRYPTED PRIVATE KEY" (PKCS#8, PBES2) with its password */
	assert_int_equal(tu_run("cd '%s' && openssl pkcs8 -topk8 -in k.pem -out ke.pem "
				"-passout pass:pw -v2 aes-256-cbc >/dev/null 2>&1 && "
				"cat c.pem ke.pem > cke.pem",
				d),
			 0);
	c = load_ok(d, "cke.pem", "pw");
	assert_int_equal(X509_check_private_key(c->cert, c->key), 1);
	pki_credential_free(c);
	p = tu_path(d, "cke.pem");
	pp_error_clear(&err);
	assert_null(pki_credential_load(p, "bad", &err));
	assert_int_equal(err.code, HR_ERROR_INVALID_PASSWORD);
	pp_error_clear(&err);
	assert_null(pki_credential_load(p, NULL, &err));
	assert_int_equal(err.code, HR_ERROR_INVALID_PASSWORD);
	free(p);

	/* legacy PEM encryption (Proc-Type: 4,ENCRYPTED) */
	assert_int_equal(tu_run("cd '%s' && openssl rsa -in k.pem -traditional -aes256 "
				"-passout pass:pw -out kre.pem >/dev/null 2>&1 && "
				"cat c.pem kre.pem > ckre.pem",
				d),
			 0);
	c = load_ok(d, "ckre.pem", "pw");
	assert_int_equal(X509_check_private_key(c->cert, c->key), 1);
	pki_credential_free(c);
	p = tu_path(d, "ckre.pem");
	pp_error_clear(&err);
	assert_null(pki_credential_load(p, "bad", &err));
	assert_int_equal(err.code, HR_ERROR_INVALID_PASSWORD);
	free(p);

	/* a key without a certificate */
	p = tu_path(d, "k.pem");
	pp_error_clear(&err);
	assert_null(pki_credential_load(p, NULL, &err));
	assert_int_equal(err.code, HR_CRYPT_E_NOT_FOUND);
	free(p);
	free(d);
}

static void test_load_der_and_base64(void **state)
{
	struct fixture *f = *state;
	struct pki_credential *c, *pem;
	struct pp_error err;
	char *d, *p;
	X509 *x;

	if (!have_openssl())
		skip();
	d = scratch(f, "der");
	openssl_req(d, "-newkey rsa:2048", "");
	assert_int_equal(tu_run("cd '%s' && openssl x509 -in c.pem -outform DER -out c.der && "
				"base64 c.der > c.b64 && base64 -w0 c.der > c1.b64",
				d),
			 0);
	pem = load_ok(d, "c.pem", NULL);
	assert_null(pem->key);
	c = load_ok(d, "c.der", NULL);
	assert_int_equal(X509_cmp(c->cert, pem->cert), 0);
	assert_null(c->key);
	pki_credential_free(c);
	c = load_ok(d, "c.b64", NULL);
	assert_int_equal(X509_cmp(c->cert, pem->cert), 0);
	pki_credential_free(c);

	static const char *const names[] = {"c.der", "c.pem", "c.b64", "c1.b64"};
	for (size_t i = 0; i < 4; i++) {
		p = tu_path(d, names[i]);
		pp_error_clear(&err);
		x = pki_cert_load(p, &err);
		if (x == NULL)
			fail_msg("pki_cert_load %s: %s", names[i], err.message);
		assert_int_equal(X509_cmp(x, pem->cert), 0);
		X509_free(x);
		free(p);
	}
	pki_credential_free(pem);
	free(d);
}

static void test_load_chain(void **state)
{
	struct fixture *f = *state;
	struct pki_credential *c, *back;
	struct pki_show show;
	struct pp_error err;
	char *d, *pfx;

	if (!have_openssl())
		skip();
	d = scratch(f, "chain");
	assert_int_equal(
	    tu_run("cd '%s' && openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key "
		   "-out ca.pem -subj /CN=TestCA -days 10 >/dev/null 2>&1 && "
		   "openssl req -new -newkey rsa:2048 -nodes -keyout leaf.key -out leaf.csr "
		   "-subj /CN=Leaf >/dev/null 2>&1 && "
		   "openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -set_serial 0x0a1b "
		   "-out leaf.pem -days 5 >/dev/null 2>&1 && "
		   "cat ca.pem leaf.key leaf.pem > bundle.pem",
		   d),
	    0);
	c = load_ok(d, "bundle.pem", NULL);
	assert_int_equal(sk_X509_num(c->chain), 1);
	pp_error_clear(&err);
	assert_int_equal(pki_show_fields(c->cert, &show, &err), 0);
	assert_string_equal(show.subject, "CN=Leaf");
	assert_string_equal(show.issuer, "CN=TestCA");
	assert_string_equal(show.serial, "0a1b");
	assert_false(show.self_signed);
	assert_false(pki_is_self_signed(c->cert));
	assert_true(pki_is_self_signed(sk_X509_value(c->chain, 0)));

	/* The chain survives a PFX round trip. */
	pfx = tu_path(d, "chain.pfx");
	assert_int_equal(pki_store_new_pfx(c, pfx, "pw", &err), 0);
	back = pki_credential_load(pfx, "pw", &err);
	assert_non_null(back);
	assert_int_equal(X509_cmp(back->cert, c->cert), 0);
	assert_int_equal(sk_X509_num(back->chain), 1);
	assert_int_equal(X509_cmp(sk_X509_value(back->chain, 0), sk_X509_value(c->chain, 0)), 0);
	pki_credential_free(back);
	pki_credential_free(c);
	free(pfx);
	free(d);
}

/* ---- WSUS requirements ---- */

static void expect_one_reason(const char *d, const char *file, const char *reason)
{
	struct pki_credential *c = load_ok(d, file, NULL);
	struct pki_check chk;
	int n = pki_check_wsus(c->cert, c->key, time(NULL), &chk);

	if (n != 1 || strcmp(chk.reasons[0], reason) != 0)
		fail_msg("%s: %d reasons, first \"%s\"; expected \"%s\"", file, n,
			 n > 0 ? chk.reasons[0] : "", reason);
	assert_int_equal(chk.failed, 1);
	pki_credential_free(c);
}

static void test_check_generated_passes(void **state)
{
	struct fixture *f = *state;
	struct pki_check chk;

	assert_int_equal(pki_check_wsus(f->cred->cert, f->cred->key, time(NULL), &chk), 0);
	assert_int_equal(chk.failed, 0);
}

static void test_check_openssl_certs(void **state)
{
	struct fixture *f = *state;
	struct pki_credential *c;
	struct pki_show show;
	struct pp_error err;
	struct pki_check chk;
	char *d;

	if (!have_openssl())
		skip();
	d = scratch(f, "check");

	/* No EKU and no KU at all: acceptable, shown as "All". */
	openssl_req(d, "-newkey rsa:2048", "");
	assert_int_equal(tu_run("cd '%s' && cat c.pem k.pem > plain.pem", d), 0);
	c = load_ok(d, "plain.pem", NULL);
	assert_int_equal(pki_check_wsus(c->cert, c->key, time(NULL), &chk), 0);
	pp_error_clear(&err);
	assert_int_equal(pki_show_fields(c->cert, &show, &err), 0);
	assert_string_equal(show.usage, "All");
	pki_credential_free(c);

	openssl_req(d, "-newkey ec -pkeyopt ec_paramgen_curve:P-256",
		    "-addext extendedKeyUsage=codeSigning -addext keyUsage=digitalSignature");
	assert_int_equal(tu_run("cd '%s' && cat c.pem k.pem > ec.pem", d), 0);
	expect_one_reason(d, "ec.pem",
			  "the key is ECDSA (P-256); WSUS signing requires RSA of at least 2048 "
			  "bits");
	c = load_ok(d, "ec.pem", NULL);
	assert_int_equal(pki_show_fields(c->cert, &show, &err), 0);
	assert_string_equal(show.public_key, "EC 256-bit");
	assert_string_equal(show.signature_algorithm, "sha256ECDSA");
	pki_credential_free(c);
	/* Traditional "EC PRIVATE KEY", and ecparam output with its "EC PARAMETERS" block. */
	assert_int_equal(
	    tu_run("cd '%s' && openssl ec -in k.pem -out kec.pem >/dev/null 2>&1 && "
		   "grep -q 'BEGIN EC PRIVATE KEY' kec.pem && cat c.pem kec.pem > "
		   "ec2.pem && openssl ecparam -name secp384r1 -genkey -out ecp.pem && "
		   "grep -q 'BEGIN EC PARAMETERS' ecp.pem && openssl req -x509 -key "
		   "ecp.pem -out ecpc.pem -subj /CN=ECP -days 5 >/dev/null 2>&1 && "
		   "cat ecp.pem ecpc.pem > ec3.pem",
		   d),
	    0);
	expect_one_reason(d, "ec2.pem",
			  "the key is ECDSA (P-256); WSUS signing requires RSA of at least 2048 "
			  "bits");
	expect_one_reason(d, "ec3.pem",
			  "the key is ECDSA (P-384); WSUS signing requires RSA of at least 2048 "
			  "bits");

	openssl_req(d, "-newkey rsa:1024", "-addext extendedKeyUsage=codeSigning");
	assert_int_equal(tu_run("cd '%s' && cat c.pem k.pem > small.pem", d), 0);
	expect_one_reason(d, "small.pem", "RSA key of 1024 bits is below the 2048-bit minimum");

	openssl_req(d, "-newkey rsa:2048", "-addext extendedKeyUsage=serverAuth");
	assert_int_equal(tu_run("cd '%s' && cat c.pem k.pem > tls.pem", d), 0);
	expect_one_reason(d, "tls.pem",
			  "Enhanced Key Usage does not include Code Signing (1.3.6.1.5.5.7.3.3)");
	c = load_ok(d, "tls.pem", NULL);
	assert_int_equal(pki_show_fields(c->cert, &show, &err), 0);
	assert_string_equal(show.usage, "Server Authentication (1.3.6.1.5.5.7.3.1)");
	pki_credential_free(c);

	openssl_req(d, "-newkey rsa:2048",
		    "-addext extendedKeyUsage=serverAuth,codeSigning,1.2.3.4");
	assert_int_equal(tu_run("cd '%s' && cat c.pem k.pem > multi.pem", d), 0);
	c = load_ok(d, "multi.pem", NULL);
	assert_int_equal(pki_check_wsus(c->cert, c->key, time(NULL), &chk), 0);
	assert_int_equal(pki_show_fields(c->cert, &show, &err), 0);
	assert_string_equal(show.usage, "Server Authentication (1.3.6.1.5.5.7.3.1), Code Signing "
					"(1.3.6.1.5.5.7.3.3), Unknown Key Usage (1.2.3.4)");
	pki_credential_free(c);

	openssl_req(d, "-newkey rsa:2048", "-addext 'keyUsage=critical,keyCertSign'");
	assert_int_equal(tu_run("cd '%s' && cat c.pem k.pem > ku.pem", d), 0);
	expect_one_reason(d, "ku.pem", "Key Usage does not include Digital Signature");

	/* A certificate with another certificate's key. */
	assert_int_equal(tu_run("cd '%s' && cp k.pem other.key && openssl req -x509 -newkey "
				"rsa:2048 -nodes -keyout k2.pem -out c2.pem -subj /CN=Two -days 5 "
				">/dev/null 2>&1 && cat c2.pem other.key > mismatch.pem",
				d),
			 0);
	expect_one_reason(d, "mismatch.pem", "the private key does not match the certificate");

	/* Only the certificate: no private key. */
	expect_one_reason(d, "c2.pem", "no private key is available for this certificate");
	free(d);
}

static void test_check_validity_and_keys(void **state)
{
	struct fixture *f = *state;
	struct pki_new_options o = {.days = 366, .exportable = true};
	struct pki_credential *c;
	struct pki_check chk;
	struct pp_error err;
	char when[64], expect[256];
	time_t now = time(NULL);

	/* Expired: 2020-01-01 + 366 days = 2021-01-01 (2020 is a leap year). */
	o.not_before = 1577836800;
	pp_error_clear(&err);
	c = pki_credential_generate(&o, &err);
	assert_non_null(c);
	assert_int_equal(pki_check_wsus(c->cert, c->key, now, &chk), 1);
	assert_string_equal(chk.reasons[0], "the certificate expired on 2021-01-01 00:00:00 UTC");
	/* ... but valid at a time inside its period. */
	assert_int_equal(pki_check_wsus(c->cert, c->key, o.not_before + 86400, &chk), 0);
	pki_credential_free(c);

	/* Not yet valid. */
	o.not_before = now + 10 * 86400;
	c = pki_credential_generate(&o, &err);
	assert_non_null(c);
	utc_string(o.not_before, when, sizeof(when));
	snprintf(expect, sizeof(expect), "the certificate is not valid before %s", when);
	assert_int_equal(pki_check_wsus(c->cert, c->key, now, &chk), 1);
	assert_string_equal(chk.reasons[0], expect);

	/* Wrong key and no key. */
	assert_int_equal(pki_check_wsus(f->cred->cert, c->key, now, &chk), 1);
	assert_string_equal(chk.reasons[0], "the private key does not match the certificate");
	assert_int_equal(pki_check_wsus(f->cred->cert, NULL, now, &chk), 1);
	assert_string_equal(chk.reasons[0], "no private key is available for this certificate");
	/* Several failures: one line each. */
	assert_int_equal(pki_check_wsus(c->cert, NULL, now, &chk), 2);
	assert_string_equal(chk.reasons[0], expect);
	assert_string_equal(chk.reasons[1], "no private key is available for this certificate");
	pki_credential_free(c);
}

/* ---- malformed input ---- */

static void expect_load_error(const char *path, uint32_t code)
{
	struct pp_error err;
	X509 *x;

	pp_error_clear(&err);
	assert_null(pki_credential_load(path, "pw", &err));
	if (err.code != code)
		fail_msg("%s: code 0x%08X (%s), expected 0x%08X", path, err.code, err.message,
			 code);
	assert_non_null(strstr(err.message, path));
	pp_error_clear(&err);
	x = pki_cert_load(path, &err);
	assert_null(x);
	assert_int_not_equal(err.code, 0);
	assert_non_null(strstr(err.message, path));
}

static void test_malformed_inputs(void **state)
{
	struct fixture *f = *state;
	char *d = scratch(f, "bad");
	char *good = tu_path(d, "good.pfx");
	char *p;
	uint8_t *buf, *big;
	size_t len = 0, cut;
	struct pp_error err;
	struct pki_credential *c;

	pp_error_clear(&err);
	assert_int_equal(pki_store_new_pfx(f->cred, good, "pw", &err), 0);
	buf = tu_read_file(good, &len);
	assert_non_null(buf);

	/* Truncated PFX at several lengths. */
	for (cut = 1; cut < len; cut += len / 7 + 1) {
		p = tu_path(d, "trunc.pfx");
		tu_write_file(p, buf, cut);
		expect_load_error(p, HR_CRYPT_E_ASN1_BADTAG);
		free(p);
	}

	/* One flipped byte anywhere: an error, never a crash or a wrong success. */
	for (cut = 0; cut < len; cut += 97) {
		p = tu_path(d, "flip.pfx");
		buf[cut] ^= 0x5a;
		tu_write_file(p, buf, len);
		pp_error_clear(&err);
		c = pki_credential_load(p, "pw", &err);
		if (c != NULL) {
			/* Only a byte no check covers (unsigned attribute text) could pass. */
			assert_int_equal(X509_check_private_key(c->cert, c->key), 1);
			pki_credential_free(c);
		} else {
			assert_int_not_equal(err.code, 0);
		}
		buf[cut] ^= 0x5a;
		free(p);
	}

	/* Random bytes, DER-looking and not. */
	big = malloc(1024 * 1024 + 1);
	assert_non_null(big);
	tu_fill(big, 4096, 7);
	big[0] = 0x30;
	p = tu_path(d, "random.der");
	tu_write_file(p, big, 4096);
	expect_load_error(p, HR_CRYPT_E_ASN1_BADTAG);
	free(p);
	big[0] = 0x01;
	p = tu_path(d, "random.bin");
	tu_write_file(p, big, 4096);
	expect_load_error(p, HR_CRYPT_E_ASN1_BADTAG);
	free(p);

	/* PEM armour around garbage, and Base64 of garbage. */
	p = tu_path(d, "junk.pem");
	tu_write_file(p, "-----BEGIN CERTIFICATE-----\nQUJDRA==\n-----END CERTIFICATE-----\n", 62);
	expect_load_error(p, HR_CRYPT_E_ASN1_BADTAG);
	free(p);
	p = tu_path(d, "junk.b64");
	tu_write_file(p, "QUJDREVGR0g=\n", 13);
	expect_load_error(p, HR_CRYPT_E_ASN1_BADTAG);
	free(p);

	/* Empty. */
	p = tu_path(d, "empty.pfx");
	tu_write_file(p, "", 0);
	expect_load_error(p, HR_CRYPT_E_ASN1_BADTAG);
	free(p);

	/* Over 1 MB: refused before parsing. */
	memset(big, 'A', 1024 * 1024 + 1);
	p = tu_path(d, "huge.pfx");
	tu_write_file(p, big, 1024 * 1024 + 1);
	expect_load_error(p, HR_ERROR_FILE_TOO_LARGE);
	free(p);

	/* Missing file and a directory. */
	p = tu_path(d, "missing.pfx");
	expect_load_error(p, HR_ERROR_FILE_NOT_FOUND);
	free(p);
	pp_error_clear(&err);
	assert_null(pki_credential_load(d, NULL, &err));
	assert_int_not_equal(err.code, 0);

	free(big);
	free(buf);
	free(good);
	free(d);
}

/* ---- identity and show ---- */

static void test_thumbprint(void **state)
{
	struct fixture *f = *state;
	char t[PKI_THUMBPRINT_LEN + 1], n[PKI_THUMBPRINT_LEN + 1], spaced[128], fp[256];
	char *d, *cer, *out;
	uint8_t *text;
	size_t len = 0, i, j;
	struct pp_error err;

	assert_int_equal(pki_thumbprint(f->cred->cert, t), 0);
	assert_int_equal(strlen(t), 40);
	assert_int_equal(strspn(t, "0123456789ABCDEF"), 40);

	/* Normalisation: lower case, spaces, colons. */
	for (i = 0, j = 0; i < 40; i++) {
		spaced[j++] = (char)(t[i] >= 'A' ? t[i] + 32 : t[i]);
		if (i % 2 == 1 && i < 39)
			spaced[j++] = (i % 4 == 1) ? ' ' : ':';
	}
	spaced[j] = '\0';
	assert_int_equal(pki_thumbprint_normalize(spaced, n), 0);
	assert_string_equal(n, t);
	assert_int_equal(pki_thumbprint_normalize(t, n), 0);
	assert_string_equal(n, t);
	assert_int_equal(pki_thumbprint_normalize("ABC", n), -1);
	assert_int_equal(pki_thumbprint_normalize("", n), -1);
	snprintf(spaced, sizeof(spaced), "%s00", t);
	assert_int_equal(pki_thumbprint_normalize(spaced, n), -1);
	snprintf(spaced, sizeof(spaced), "%.39sG", t);
	assert_int_equal(pki_thumbprint_normalize(spaced, n), -1);

	/* Same as openssl's SHA-1 fingerprint. */
	if (!have_openssl())
		return;
	d = scratch(f, "thumb");
	cer = tu_path(d, "c.cer");
	out = tu_path(d, "fp.txt");
	pp_error_clear(&err);
	assert_int_equal(pki_export_cer(f->cred->cert, cer, &err), 0);
	assert_int_equal(tu_file_mode(cer), 0644);
	assert_int_equal(tu_run("openssl x509 -inform DER -in '%s' -noout -fingerprint -sha1 > "
				"'%s'",
				cer, out),
			 0);
	text = tu_read_file(out, &len);
	assert_non_null(text);
	for (i = 0, j = 0; i < len && j + 1 < sizeof(fp); i++) {
		char ch = (char)text[i];

		if (i > 0 && text[i - 1] == '=')
			j = 0;
		if ((ch >= '0' && ch <= '9') || (ch >= 'A' && ch <= 'F'))
			fp[j++] = ch;
	}
	fp[j] = '\0';
	assert_string_equal(fp + strlen(fp) - 40, t);
	free(text);
	free(out);
	free(cer);
	free(d);
}

static void test_show_fields(void **state)
{
	struct fixture *f = *state;
	struct pki_show show;
	struct pp_error err;
	char t[PKI_THUMBPRINT_LEN + 1];
	struct pki_new_options o = {.subject = "O=No Common Name", .days = 5, .exportable = true};
	struct pki_credential *c;

	pp_error_clear(&err);
	assert_int_equal(pki_show_fields(f->cred->cert, &show, &err), 0);
	assert_string_equal(show.subject, "CN=WSUS Publishers Self-signed");
	assert_string_equal(show.issuer, "CN=WSUS Publishers Self-signed");
	assert_string_equal(show.usage, "Code Signing (1.3.6.1.5.5.7.3.3)");
	assert_string_equal(show.public_key, "RSA 2048-bit");
	assert_string_equal(show.signature_algorithm, "sha256RSA");
	assert_true(show.self_signed);
	assert_int_equal(pki_thumbprint(f->cred->cert, t), 0);
	assert_string_equal(show.thumbprint, t);
	assert_int_equal(strlen(show.serial), 32);
	assert_int_equal(strspn(show.serial, "0123456789abcdef"), 32);
	assert_int_equal(strlen(show.effective), 23);
	assert_string_equal(show.effective + 19, " UTC");
	assert_int_equal(show.effective[4], '-');
	assert_int_equal(show.effective[10], ' ');
	assert_int_equal(show.effective[13], ':');

	/* Simple name falls back to the whole subject without a CN. */
	c = pki_credential_generate(&o, &err);
	assert_non_null(c);
	pki_simple_name(c->cert, show.subject, sizeof(show.subject));
	assert_string_equal(show.subject, "O=No Common Name");
	pki_credential_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_generate_exact_extensions),
	    cmocka_unit_test(test_generate_defaults_and_slash_subject),
	    cmocka_unit_test(test_generate_3072_4096),
	    cmocka_unit_test(test_generate_refuses_bad_options),
	    cmocka_unit_test(test_pfx_roundtrip),
	    cmocka_unit_test(test_pfx_overwrites_atomically),
	    cmocka_unit_test(test_pfx_wrong_password),
	    cmocka_unit_test(test_pfx_non_exportable),
	    cmocka_unit_test(test_pfx_opens_with_openssl_cli),
	    cmocka_unit_test(test_load_openssl_pfx),
	    cmocka_unit_test(test_load_pem_variants),
	    cmocka_unit_test(test_load_der_and_base64),
	    cmocka_unit_test(test_load_chain),
	    cmocka_unit_test(test_check_generated_passes),
	    cmocka_unit_test(test_check_openssl_certs),
	    cmocka_unit_test(test_check_validity_and_keys),
	    cmocka_unit_test(test_malformed_inputs),
	    cmocka_unit_test(test_thumbprint),
	    cmocka_unit_test(test_show_fields),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
