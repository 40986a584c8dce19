/* test_trust.c - the DESIGN 5.7 decision table: one negative test per row with the exact HRESULT,
 * the positive path for both policies, the order of the checks, and RFC 3161 timestamps that
 * carry an expired signer. Machines are set up through certstore.h and machinepolicy.h. */
#include "authenticode.h"
#include "byteorder.h"
#include "certstore.h"
#include "hresult.h"
#include "machinepolicy.h"
#include "testcerts.h"
#include "testutil.h"
#include "trust.h"

#include <stdarg.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/pem.h>

enum { C_ROOT, C_INTER, C_LEAF, C_SELF, C_NOEKU, C_EXPIRED, C_OROOT, C_OLEAF, C_TSA, C_COUNT };
static const char *const cert_names[C_COUNT] = {"root",	   "inter", "leaf",  "self", "noeku",
						"expired", "oroot", "oleaf", "tsa"};

struct fx {
	char *dir;
	X509 *cert[C_COUNT];
	EVP_PKEY *key[C_COUNT];
	char *ucab;
	/* signed cabinets */
	char *chain_cab;   /* leaf, embeds inter */
	char *noint_cab;   /* leaf, embeds nothing else */
	char *self_cab;	   /* self-signed signer */
	char *noeku_cab;   /* leaf with serverAuth only */
	char *expired_cab; /* expired leaf, embeds inter */
	char *other_cab;   /* leaf under an unknown root, embeds that root */
	int machines;
};

static void sign_cab(struct fx *f, int who, X509 *extra, const char *name, char **out)
{
	STACK_OF(X509) *chain = sk_X509_new_null();

	assert_non_null(chain);
	if (extra != NULL)
		assert_true(sk_X509_push(chain, extra) > 0);
	*out = tu_path(f->dir, name);
	tc_sign_cab(f->ucab, *out, f->cert[who], chain, f->key[who]);
	sk_X509_free(chain);
}

/* Re-signs the certificate with new validity dates (seconds relative to now), by issuer. */
static X509 *with_validity(X509 *x, EVP_PKEY *issuer_key, long from, long to)
{
	X509 *c = X509_dup(x);

	assert_non_null(c);
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(c), from));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(c), to));
	assert_true(X509_sign(c, issuer_key, EVP_sha256()) > 0);
	return c;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	uint8_t data[5000];
	char *p;
	int i;

	assert_non_null(f);
	f->dir = tu_tmpdir();
	tc_self_signed(f->dir, "root", "PP Trust Root", 3650, TC_ADDEXT_CA);
	tc_issue(f->dir, "inter", "PP Trust Intermediate", "root", TC_EXT_CA);
	tc_issue(f->dir, "leaf", "PP Trust Signer", "inter", TC_EXT_CODE_SIGNING);
	tc_issue(f->dir, "noeku", "PP Server Only", "inter",
		 "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n"
		 "extendedKeyUsage=serverAuth\n");
	tc_issue(f->dir, "expired", "PP Expired Signer", "inter", TC_EXT_CODE_SIGNING);
	tc_self_signed(f->dir, "self", "WSUS Publishers Self-signed", 1095,
		       "-addext basicConstraints=critical,CA:FALSE "
		       "-addext keyUsage=critical,digitalSignature "
		       "-addext extendedKeyUsage=codeSigning");
	tc_self_signed(f->dir, "oroot", "PP Other Root", 3650, TC_ADDEXT_CA);
	tc_issue(f->dir, "oleaf", "PP Other Signer", "oroot", TC_EXT_CODE_SIGNING);
	tc_issue(f->dir, "tsa", "PP Time Stamping", "root",
		 "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n"
		 "extendedKeyUsage=critical,timeStamping\n");
	for (i = 0; i < C_COUNT; i++) {
		char name[32];

		snprintf(name, sizeof(name), "%s.pem", cert_names[i]);
		p = tu_path(f->dir, name);
		f->cert[i] = tc_load_cert(p);
		free(p);
		snprintf(name, sizeof(name), "%s.key", cert_names[i]);
		p = tu_path(f->dir, name);
		f->key[i] = tc_load_key(p);
		free(p);
	}
	{
		X509 *old = f->cert[C_EXPIRED];

		/* Valid two years ago for one year. */
		f->cert[C_EXPIRED] =
		    with_validity(old, f->key[C_INTER], -2L * 365 * 86400, -365L * 86400);
		X509_free(old);
	}
	tu_fill(data, sizeof(data), 99);
	p = tu_path(f->dir, "payload.bin");
	tu_write_file(p, data, sizeof(data));
	free(p);
	assert_int_equal(tu_run("cd '%s' && gcab -c -z -n u.cab payload.bin", f->dir), 0);
	f->ucab = tu_path(f->dir, "u.cab");
	sign_cab(f, C_LEAF, f->cert[C_INTER], "chain.cab", &f->chain_cab);
	sign_cab(f, C_LEAF, NULL, "noint.cab", &f->noint_cab);
	sign_cab(f, C_SELF, NULL, "self.cab", &f->self_cab);
	sign_cab(f, C_NOEKU, f->cert[C_INTER], "noeku.cab", &f->noeku_cab);
	sign_cab(f, C_EXPIRED, f->cert[C_INTER], "expired.cab", &f->expired_cab);
	sign_cab(f, C_OLEAF, f->cert[C_OROOT], "other.cab", &f->other_cab);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	int i;

	for (i = 0; i < C_COUNT; i++) {
		X509_free(f->cert[i]);
		EVP_PKEY_free(f->key[i]);
	}
	tu_rmrf(f->dir);
	free(f->dir);
	free(f->ucab);
	free(f->chain_cab);
	free(f->noint_cab);
	free(f->self_cab);
	free(f->noeku_cab);
	free(f->expired_cab);
	free(f->other_cab);
	free(f);
	return 0;
}

/* A fresh machine directory. */
static char *machine_new(struct fx *f)
{
	char name[32];

	snprintf(name, sizeof(name), "machine%d", f->machines++);
	return tu_path(f->dir, name);
}

static void add(const char *machine, enum certstore_id id, X509 *cert)
{
	struct pp_error err;

	pp_error_clear(&err);
	if (certstore_add(machine, id, CERTSTORE_LOCAL, cert, false, NULL, &err) != 0)
		fail_msg("certstore_add: %s", err.message);
}

static void policy(const char *machine, uint32_t value)
{
	struct pp_error err;

	pp_error_clear(&err);
	if (machinepolicy_set(machine, MACHINEPOLICY_ACCEPT_TRUSTED_PUBLISHER_CERTS, value,
			      "client-settings:Test", &err) != 0)
		fail_msg("machinepolicy_set: %s", err.message);
}

/* The machine a WSUS client has after Machine Policy: root in Root, signer in
 * TrustedPublisher, AcceptTrustedPublisherCerts = 1. */
static char *machine_trusting(struct fx *f, X509 *signer)
{
	char *m = machine_new(f);

	add(m, CERTSTORE_ROOT, f->cert[C_ROOT]);
	add(m, CERTSTORE_TRUSTED_PUBLISHER, signer);
	policy(m, 1);
	return m;
}

static uint32_t eval(const char *cab, const char *machine, enum trust_policy pol,
		     struct trust_result *res)
{
	struct trust_request req = {.machine = machine, .policy = pol};

	return trust_evaluate_cab(cab, &req, res);
}

#define assert_hr(expr, code)                                                                      \
	do {                                                                                       \
		uint32_t hr_ = (expr);                                                             \
		if (hr_ != (code))                                                                 \
			fail_msg("expected 0x%08X, got 0x%08X: %s", (unsigned)(code), hr_,         \
				 res.detail);                                                      \
		assert_int_equal(res.hr, hr_);                                                     \
	} while (0)

/* ---- the positive paths ---- */

static void test_wsus_ok_ca_issued(void **state)
{
	struct fx *f = *state;
	struct trust_result res;
	char *m = machine_trusting(f, f->cert[C_LEAF]);

	assert_hr(eval(f->chain_cab, m, TRUST_POLICY_WSUS, &res), HR_S_OK);
	assert_non_null(strstr(res.signer_subject, "PP Trust Signer"));
	assert_int_equal(strlen(res.signer_thumbprint), 40);
	free(m);
}

static void test_wsus_ok_self_signed(void **state)
{
	struct fx *f = *state;
	struct trust_result res;
	char *m = machine_new(f);

	/* The WSUS-generated certificate: Root and TrustedPublisher (DESIGN 5.7). */
	add(m, CERTSTORE_ROOT, f->cert[C_SELF]);
	add(m, CERTSTORE_TRUSTED_PUBLISHER, f->cert[C_SELF]);
	policy(m, 1);
	assert_hr(eval(f->self_cab, m, TRUST_POLICY_WSUS, &res), HR_S_OK);
	free(m);
}

static void test_authenticode_ok(void **state)
{
	struct fx *f = *state;
	struct trust_result res;
	char *m = machine_new(f);

	add(m, CERTSTORE_ROOT, f->cert[C_ROOT]);
	assert_hr(eval(f->chain_cab, m, TRUST_POLICY_AUTHENTICODE, &res), HR_S_OK);
	free(m);
}

/* AcceptTrustedPublisherCerts = 0 and no TrustedPublisher entry: WSUS refuses, plain
 * Authenticode does not care. */
static void test_authenticode_passes_where_wsus_fails(void **state)
{
	struct fx *f = *state;
	struct trust_result res;
	char *m = machine_new(f);

	add(m, CERTSTORE_ROOT, f->cert[C_ROOT]);
	policy(m, 0);
	assert_hr(eval(f->chain_cab, m, TRUST_POLICY_WSUS, &res), HR_CERT_E_UNTRUSTEDROOT);
	assert_hr(eval(f->chain_cab, m, TRUST_POLICY_AUTHENTICODE, &res), HR_S_OK);
	free(m);
}

/* ---- one negative test per row ---- */

static void test_unsigned(void **state)
{
	struct fx *f = *state;
	struct trust_result res;
	char *m = machine_trusting(f, f->cert[C_LEAF]);

	assert_hr(eval(f->ucab, m, TRUST_POLICY_WSUS, &res), HR_TRUST_E_NOSIGNATURE);
	free(m);
}

static void test_bad_digest(void **state)
{
	struct fx *f = *state;
	struct trust_result res;
	char *m = machine_trusting(f, f->cert[C_LEAF]), *t = tu_path(f->dir, "flipped.cab");
	uint8_t *d;
	size_t len = 0;
	uint32_t sigoff;

	d = tu_read_file(f->chain_cab, &len);
	assert_non_null(d);
	sigoff = le32_get(d + 0x2C);
	d[sigoff - 100] ^= 0x20; /* inside the last CFDATA block */
	tu_write_file(t, d, len);
	assert_hr(eval(t, m, TRUST_POLICY_WSUS, &res), HR_TRUST_E_BAD_DIGEST);
	/* Even on a machine that disallows the signer: the digest is checked first. */
	add(m, CERTSTORE_DISALLOWED, f->cert[C_LEAF]);
	assert_hr(eval(t, m, TRUST_POLICY_WSUS, &res), HR_TRUST_E_BAD_DIGEST);
	free(d);
	free(t);
	free(m);
}

static void test_metadata_digest_mismatch(void **state)
{
	struct fx *f = *state;
	struct trust_result res;
	struct authenticode_info info;
	struct pp_error err;
	char *m = machine_trusting(f, f->cert[C_LEAF]);
	struct trust_request req = {.machine = m, .policy = TRUST_POLICY_WSUS};
	uint8_t sha1[20], sha256[32];

	pp_error_clear(&err);
	assert_int_equal(authenticode_read_cab(f->chain_cab, &info, &err), 0);
	memcpy(sha1, info.sha1, 20);
	memcpy(sha256, info.sha256, 32);
	req.expected_sha1 = sha1;
	req.expected_sha256 = sha256;
	assert_hr(trust_evaluate_info(&info, &req, &res), HR_S_OK);
	sha256[31] ^= 1;
	assert_hr(trust_evaluate_info(&info, &req, &res), HR_WU_E_DM_INCORRECTFILEHASH);
	sha256[31] ^= 1;
	sha1[0] ^= 1;
	assert_hr(trust_evaluate_info(&info, &req, &res), HR_WU_E_DM_INCORRECTFILEHASH);
	assert_non_null(strstr(res.detail, "SHA-1"));
	authenticode_info_release(&info);
	free(m);
}

static void test_disallowed(void **state)
{
	struct fx *f = *state;
	struct trust_result res;
	char *m = machine_trusting(f, f->cert[C_LEAF]), tp[41];
	int i;

	add(m, CERTSTORE_DISALLOWED, f->cert[C_LEAF]);
	assert_hr(eval(f->chain_cab, m, TRUST_POLICY_WSUS, &res), HR_TRUST_E_EXPLICIT_DISTRUST);
	assert_non_null(strstr(res.detail, "Disallowed"));
	assert_non_null(strstr(res.detail, res.signer_thumbprint));
	free(m);
	/* An issuer in Disallowed, named with its thumbprint. */
	m = machine_trusting(f, f->cert[C_LEAF]);
	add(m, CERTSTORE_DISALLOWED, f->cert[C_INTER]);
	assert_hr(eval(f->chain_cab, m, TRUST_POLICY_AUTHENTICODE, &res),
		  HR_TRUST_E_EXPLICIT_DISTRUST);
	{
		unsigned char md[20];
		unsigned int n = 0;

		assert_int_equal(X509_digest(f->cert[C_INTER], EVP_sha1(), md, &n), 1);
		for (i = 0; i < 20; i++)
			sprintf(tp + 2 * i, "%02X", md[i]);
	}
	assert_non_null(strstr(res.detail, tp));
	assert_non_null(strstr(res.detail, "PP Trust Intermediate"));
	free(m);
	/* Disallowed wins over an untrusted root (it comes first). */
	m = machine_new(f);
	add(m, CERTSTORE_DISALLOWED, f->cert[C_OLEAF]);
	assert_hr(eval(f->other_cab, m, TRUST_POLICY_AUTHENTICODE, &res),
		  HR_TRUST_E_EXPLICIT_DISTRUST);
	free(m);
}

static void test_missing_intermediate(void **state)
{
	struct fx *f = *state;
	struct trust_result res;
	char *m = machine_trusting(f, f->cert[C_LEAF]);

	assert_hr(eval(f->noint_cab, m, TRUST_POLICY_WSUS, &res), HR_CERT_E_CHAINING);
	assert_non_null(strstr(res.detail, "PP Trust Signer"));
	/* The intermediate in the CA store completes the chain. */
	add(m, CERTSTORE_CA, f->cert[C_INTER]);
	assert_hr(eval(f->noint_cab, m, TRUST_POLICY_WSUS, &res), HR_S_OK);
	free(m);
}

static void test_untrusted_root(void **state)
{
	struct fx *f = *state;
	struct trust_result res;
	char *m = machine_new(f);

	/* TrustedPublisher and the policy alone are not enough: Root is checked before them. */
	add(m, CERTSTORE_TRUSTED_PUBLISHER, f->cert[C_LEAF]);
	add(m, CERTSTORE_CA, f->cert[C_ROOT]); /* a root in the wrong store */
	policy(m, 1);
	assert_hr(eval(f->chain_cab, m, TRUST_POLICY_WSUS, &res), HR_CERT_E_UNTRUSTEDROOT);
	assert_non_null(strstr(res.detail, "PP Trust Root"));
	assert_non_null(strstr(res.detail, "Root store"));
	free(m);
	/* A chain to a root that the signature carries itself. */
	m = machine_trusting(f, f->cert[C_OLEAF]);
	assert_hr(eval(f->other_cab, m, TRUST_POLICY_AUTHENTICODE, &res), HR_CERT_E_UNTRUSTEDROOT);
	assert_non_null(strstr(res.detail, "PP Other Root"));
	free(m);
	/* The self-signed WSUS certificate only in TrustedPublisher (PMPC's 0x800b0109 case). */
	m = machine_new(f);
	add(m, CERTSTORE_TRUSTED_PUBLISHER, f->cert[C_SELF]);
	policy(m, 1);
	assert_hr(eval(f->self_cab, m, TRUST_POLICY_WSUS, &res), HR_CERT_E_UNTRUSTEDROOT);
	free(m);
}

static void test_policy_value_off(void **state)
{
	struct fx *f = *state;
	struct trust_result res;
	char *m = machine_new(f);

	add(m, CERTSTORE_ROOT, f->cert[C_ROOT]);
	add(m, CERTSTORE_TRUSTED_PUBLISHER, f->cert[C_LEAF]);
	/* never set */
	assert_hr(eval(f->chain_cab, m, TRUST_POLICY_WSUS, &res), HR_CERT_E_UNTRUSTEDROOT);
	assert_non_null(strstr(res.detail, "AcceptTrustedPublisherCerts"));
	assert_non_null(strstr(res.detail, "not set"));
	/* set to 0 by client settings */
	policy(m, 0);
	assert_hr(eval(f->chain_cab, m, TRUST_POLICY_WSUS, &res), HR_CERT_E_UNTRUSTEDROOT);
	assert_non_null(strstr(res.detail, "client-settings:Test"));
	policy(m, 1);
	assert_hr(eval(f->chain_cab, m, TRUST_POLICY_WSUS, &res), HR_S_OK);
	free(m);
}

static void test_not_trusted_publisher(void **state)
{
	struct fx *f = *state;
	struct trust_result res;
	char *m = machine_new(f);

	add(m, CERTSTORE_ROOT, f->cert[C_ROOT]);
	add(m, CERTSTORE_TRUSTED_PUBLISHER, f->cert[C_INTER]); /* an issuer is not the signer */
	policy(m, 1);
	assert_hr(eval(f->chain_cab, m, TRUST_POLICY_WSUS, &res), HR_TRUST_E_SUBJECT_NOT_TRUSTED);
	assert_non_null(strstr(res.detail, "TrustedPublisher"));
	assert_non_null(strstr(res.detail, res.signer_thumbprint));
	assert_non_null(strstr(res.detail, m));
	/* The self-signed certificate only in Root (PMPC's 0x800b0004 case). */
	free(m);
	m = machine_new(f);
	add(m, CERTSTORE_ROOT, f->cert[C_SELF]);
	policy(m, 1);
	assert_hr(eval(f->self_cab, m, TRUST_POLICY_WSUS, &res), HR_TRUST_E_SUBJECT_NOT_TRUSTED);
	assert_hr(eval(f->self_cab, m, TRUST_POLICY_AUTHENTICODE, &res), HR_S_OK);
	free(m);
}

static void test_wrong_usage(void **state)
{
	struct fx *f = *state;
	struct trust_result res;
	char *m = machine_trusting(f, f->cert[C_NOEKU]);

	assert_hr(eval(f->noeku_cab, m, TRUST_POLICY_WSUS, &res), HR_CERT_E_WRONG_USAGE);
	assert_non_null(strstr(res.detail, "Code Signing"));
	assert_hr(eval(f->noeku_cab, m, TRUST_POLICY_AUTHENTICODE, &res), HR_CERT_E_WRONG_USAGE);
	free(m);
}

static void test_expired_without_timestamp(void **state)
{
	struct fx *f = *state;
	struct trust_result res;
	char *m = machine_trusting(f, f->cert[C_EXPIRED]);
	struct trust_request req = {.machine = m, .policy = TRUST_POLICY_WSUS};

	assert_hr(eval(f->expired_cab, m, TRUST_POLICY_WSUS, &res), HR_CERT_E_EXPIRED);
	assert_non_null(strstr(res.detail, "PP Expired Signer"));
	assert_non_null(strstr(res.detail, "not timestamped"));
	free(m);
	/* A valid signer evaluated two years from now. */
	m = machine_trusting(f, f->cert[C_LEAF]);
	req.machine = m;
	req.now = time(NULL) + 2L * 365 * 86400;
	assert_hr(trust_evaluate_cab(f->chain_cab, &req, &res), HR_CERT_E_EXPIRED);
	req.now = time(NULL) - 86400; /* before notBefore */
	assert_hr(trust_evaluate_cab(f->chain_cab, &req, &res), HR_CERT_E_EXPIRED);
	free(m);
}

/* A signer certificate whose issuer signature does not verify (re-signed by another key, the
 * issuer name and key identifier still pointing at the intermediate). */
static void test_bad_certificate_signature(void **state)
{
	struct fx *f = *state;
	struct trust_result res;
	struct authenticode_signer s;
	STACK_OF(X509) *chain = sk_X509_new_null();
	struct pp_error err;
	X509 *forged = X509_dup(f->cert[C_LEAF]);
	char *cab = tu_path(f->dir, "forged.cab"), *m;

	assert_non_null(forged);
	assert_true(X509_sign(forged, f->key[C_OROOT], EVP_sha256()) > 0);
	assert_true(sk_X509_push(chain, f->cert[C_INTER]) > 0);
	authenticode_signer_init_key(&s, forged, chain, f->key[C_LEAF]);
	pp_error_clear(&err);
	assert_int_equal(authenticode_sign_cab(f->ucab, cab, &s, &err), 0);
	m = machine_trusting(f, forged);
	assert_hr(eval(cab, m, TRUST_POLICY_WSUS, &res), HR_TRUST_E_CERT_SIGNATURE);
	assert_non_null(strstr(res.detail, "PP Trust Signer"));
	sk_X509_free(chain);
	X509_free(forged);
	free(cab);
	free(m);
}

/* ---- timestamps ---- */

/* Adds an RFC 3161 token from `openssl ts -reply` (TSA under our root) to the signature of cab,
 * over the signature's encryptedDigest (or over other bytes when wrong_imprint). */
static char *timestamp_cab(struct fx *f, const char *cab, const char *name, bool wrong_imprint,
			   bool legacy)
{
	char *out = tu_path(f->dir, name), *p;
	uint8_t *d, *blob = NULL, *tok;
	size_t len = 0, tok_len = 0;
	uint32_t sigoff, padded;
	const unsigned char *q;
	PKCS7 *p7;
	PKCS7_SIGNER_INFO *si;
	ASN1_OBJECT *obj;
	int n;

	d = tu_read_file(cab, &len);
	assert_non_null(d);
	sigoff = le32_get(d + 0x2C);
	q = d + sigoff;
	p7 = d2i_PKCS7(NULL, &q, (long)(len - sigoff));
	assert_non_null(p7);
	si = sk_PKCS7_SIGNER_INFO_value(PKCS7_get_signer_info(p7), 0);
	p = tu_path(f->dir, "encdigest.bin");
	if (wrong_imprint)
		tu_write_file(p, "something else", 14);
	else
		tu_write_file(p, ASN1_STRING_get0_data(si->enc_digest),
			      (size_t)ASN1_STRING_length(si->enc_digest));
	free(p);
	p = tu_path(f->dir, "tsa.cnf");
	{
		static const char cnf[] = "[tsa]\ndefault_tsa = t\n[t]\nserial = tsaserial\n"
					  "crypto_device = builtin\nsigner_digest = sha256\n"
					  "default_policy = 1.2.3.4.1\ndigests = sha256\n"
					  "accuracy = secs:1\ness_cert_id_alg = sha256\n"
					  "signer_cert = tsa.pem\nsigner_key = tsa.key\n";

		tu_write_file(p, cnf, sizeof(cnf) - 1);
	}
	free(p);
	if (legacy) {
		/* A legacy Authenticode timestamp: a SignerInfo by the TSA over the encrypted
		 * digest (contentType data, signingTime, messageDigest), as the first SignerInfo of
		 * a PKCS#7 from `openssl smime -sign`; the TSA certificate joins the outer ones. */
		PKCS7 *ts7;
		PKCS7_SIGNER_INFO *cs;
		const unsigned char *tq;

		assert_int_equal(
		    tu_run("cd '%s' && openssl smime -sign -binary -nodetach "
			   "-in encdigest.bin -signer tsa.pem -inkey tsa.key -outform DER "
			   "-out ts.p7 >/dev/null 2>&1",
			   f->dir),
		    0);
		p = tu_path(f->dir, "ts.p7");
		tok = tu_read_file(p, &tok_len);
		assert_non_null(tok);
		free(p);
		tq = tok;
		ts7 = d2i_PKCS7(NULL, &tq, (long)tok_len);
		assert_non_null(ts7);
		cs = sk_PKCS7_SIGNER_INFO_value(PKCS7_get_signer_info(ts7), 0);
		assert_non_null(cs);
		free(tok);
		tok = NULL;
		n = i2d_PKCS7_SIGNER_INFO(cs, &tok);
		assert_true(n > 0);
		tok_len = (size_t)n;
		assert_non_null(X509at_add1_attr_by_NID(&si->unauth_attr,
							NID_pkcs9_countersignature, V_ASN1_SEQUENCE,
							tok, (int)tok_len));
		assert_int_equal(PKCS7_add_certificate(p7, f->cert[C_TSA]), 1);
		PKCS7_free(ts7);
		OPENSSL_free(tok);
		tok = NULL;
	} else {
		assert_int_equal(
		    tu_run("cd '%s' && (test -f tsaserial || echo 01 > tsaserial) && "
			   "openssl ts -query -data encdigest.bin -sha256 -cert -out "
			   "ts.tsq >/dev/null 2>&1 && "
			   "openssl ts -reply -config tsa.cnf -queryfile ts.tsq -token_out "
			   "-out ts.tok >/dev/null 2>&1",
			   f->dir),
		    0);
		p = tu_path(f->dir, "ts.tok");
		tok = tu_read_file(p, &tok_len);
		assert_non_null(tok);
		free(p);
		obj = OBJ_txt2obj("1.3.6.1.4.1.311.3.3.1", 1);
		assert_non_null(obj);
		assert_non_null(X509at_add1_attr_by_OBJ(&si->unauth_attr, obj, V_ASN1_SEQUENCE, tok,
							(int)tok_len));
		ASN1_OBJECT_free(obj);
	}
	n = i2d_PKCS7(p7, &blob);
	assert_true(n > 0);
	padded = ((uint32_t)n + 7u) & ~7u;
	d = realloc(d, sigoff + padded);
	assert_non_null(d);
	memset(d + sigoff, 0, padded);
	memcpy(d + sigoff, blob, (size_t)n);
	le32_put(d + 0x30, padded);
	tu_write_file(out, d, sigoff + padded);
	OPENSSL_free(blob);
	PKCS7_free(p7);
	free(tok);
	free(d);
	return out;
}

static void test_timestamp_carries_expired_signer(void **state)
{
	struct fx *f = *state;
	struct trust_result res;
	struct authenticode_info info;
	struct pp_error err;
	char *m = machine_trusting(f, f->cert[C_LEAF]);
	char *ts = timestamp_cab(f, f->chain_cab, "ts.cab", false, false);
	struct trust_request req = {.machine = m, .policy = TRUST_POLICY_WSUS};
	time_t before = time(NULL);

	pp_error_clear(&err);
	assert_int_equal(authenticode_read_cab(ts, &info, &err), 0);
	assert_true(info.digest_matches);
	assert_true(info.signature_valid);
	assert_true(info.has_timestamp);
	assert_true(info.timestamp_valid);
	assert_true(info.timestamp_time >= before - 120 && info.timestamp_time <= before + 120);
	assert_non_null(info.timestamp_certs);
	authenticode_info_release(&info);
	/* Today: fine. Two years later the signer has expired, but the timestamp says it was valid
	 * when it signed. */
	assert_hr(trust_evaluate_cab(ts, &req, &res), HR_S_OK);
	req.now = time(NULL) + 2L * 365 * 86400;
	assert_hr(trust_evaluate_cab(ts, &req, &res), HR_S_OK);
	assert_hr(trust_evaluate_cab(f->chain_cab, &req, &res), HR_CERT_E_EXPIRED);
	free(m);
	/* Without the TSA's root in Root the timestamp does not count. */
	m = machine_new(f);
	add(m, CERTSTORE_ROOT, f->cert[C_ROOT]);
	add(m, CERTSTORE_DISALLOWED, f->cert[C_TSA]);
	req.machine = m;
	req.policy = TRUST_POLICY_AUTHENTICODE;
	assert_hr(trust_evaluate_cab(ts, &req, &res), HR_CERT_E_EXPIRED);
	free(m);
	free(ts);
	/* A token over other bytes is present but not valid. */
	ts = timestamp_cab(f, f->chain_cab, "ts-wrong.cab", true, false);
	assert_int_equal(authenticode_read_cab(ts, &info, &err), 0);
	assert_true(info.signature_valid);
	assert_true(info.has_timestamp);
	assert_false(info.timestamp_valid);
	authenticode_info_release(&info);
	free(ts);
}

static void test_legacy_countersignature(void **state)
{
	struct fx *f = *state;
	struct trust_result res;
	struct authenticode_info info;
	struct pp_error err;
	char *m = machine_trusting(f, f->cert[C_LEAF]);
	char *ts = timestamp_cab(f, f->chain_cab, "cs.cab", false, true);
	struct trust_request req = {.machine = m, .policy = TRUST_POLICY_WSUS};

	pp_error_clear(&err);
	assert_int_equal(authenticode_read_cab(ts, &info, &err), 0);
	assert_true(info.signature_valid);
	assert_true(info.has_timestamp);
	assert_true(info.timestamp_valid);
	authenticode_info_release(&info);
	req.now = time(NULL) + 2L * 365 * 86400;
	assert_hr(trust_evaluate_cab(ts, &req, &res), HR_S_OK);
	free(ts);
	/* Over other bytes: present, not valid, so the expired signer fails. */
	ts = timestamp_cab(f, f->chain_cab, "cs-wrong.cab", true, true);
	assert_int_equal(authenticode_read_cab(ts, &info, &err), 0);
	assert_true(info.has_timestamp);
	assert_false(info.timestamp_valid);
	authenticode_info_release(&info);
	assert_hr(trust_evaluate_cab(ts, &req, &res), HR_CERT_E_EXPIRED);
	assert_non_null(strstr(res.detail, "timestamp does not verify"));
	free(ts);
	free(m);
}

/* ---- the rest ---- */

/* "Validate trust chain" of a certificate alone: the same engine and order as for content. */
static void test_certificate_alone(void **state)
{
	struct fx *f = *state;
	struct trust_result res;
	struct trust_request req = {.policy = TRUST_POLICY_WSUS};
	STACK_OF(X509) *extra = sk_X509_new_null();
	char *m = machine_trusting(f, f->cert[C_LEAF]);

	assert_non_null(extra);
	assert_true(sk_X509_push(extra, f->cert[C_INTER]) > 0);
	req.machine = m;
	assert_hr(trust_evaluate_cert(f->cert[C_LEAF], extra, &req, &res), HR_S_OK);
	assert_non_null(strstr(res.signer_subject, "PP Trust Signer"));
	/* without the intermediate the chain cannot be built */
	assert_hr(trust_evaluate_cert(f->cert[C_LEAF], NULL, &req, &res), HR_CERT_E_CHAINING);
	/* not in TrustedPublisher of this machine */
	assert_hr(trust_evaluate_cert(f->cert[C_NOEKU], extra, &req, &res),
		  HR_TRUST_E_SUBJECT_NOT_TRUSTED);
	/* an expired certificate has no timestamp to stand in for its validity */
	add(m, CERTSTORE_TRUSTED_PUBLISHER, f->cert[C_EXPIRED]);
	assert_hr(trust_evaluate_cert(f->cert[C_EXPIRED], extra, &req, &res), HR_CERT_E_EXPIRED);
	assert_non_null(strstr(res.detail, "not timestamped"));
	/* a root nobody trusts */
	req.policy = TRUST_POLICY_AUTHENTICODE;
	assert_hr(trust_evaluate_cert(f->cert[C_SELF], NULL, &req, &res), HR_CERT_E_UNTRUSTEDROOT);
	assert_hr(trust_evaluate_cert(NULL, NULL, &req, &res), HR_E_INVALIDARG);
	sk_X509_free(extra);
	free(m);
}

static void test_bad_input(void **state)
{
	struct fx *f = *state;
	struct trust_result res;
	char *m = machine_trusting(f, f->cert[C_LEAF]), *p = tu_path(f->dir, "nofile.cab");

	assert_hr(eval(p, m, TRUST_POLICY_WSUS, &res), HR_ERROR_FILE_NOT_FOUND);
	tu_write_file(p, "hello", 5);
	assert_hr(eval(p, m, TRUST_POLICY_WSUS, &res), HR_TRUST_E_SUBJECT_FORM_UNKNOWN);
	assert_hr(trust_evaluate_info(NULL, &(struct trust_request){.machine = m}, &res),
		  HR_TRUST_E_NOSIGNATURE);
	free(p);
	free(m);
}

static void test_parse_policy(void **state)
{
	enum trust_policy p = TRUST_POLICY_AUTHENTICODE;
	struct pp_error err;

	(void)state;
	pp_error_clear(&err);
	assert_int_equal(trust_parse_policy("wsus", &p, &err), 0);
	assert_int_equal(p, TRUST_POLICY_WSUS);
	assert_int_equal(trust_parse_policy("Authenticode", &p, &err), 0);
	assert_int_equal(p, TRUST_POLICY_AUTHENTICODE);
	assert_int_equal(trust_parse_policy("windows", &p, &err), -1);
	assert_int_equal(err.code, HR_E_INVALIDARG);
	assert_non_null(strstr(err.message, "wsus"));
	pp_error_clear(&err);
	assert_int_equal(trust_parse_policy(NULL, &p, &err), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_wsus_ok_ca_issued),
	    cmocka_unit_test(test_wsus_ok_self_signed),
	    cmocka_unit_test(test_authenticode_ok),
	    cmocka_unit_test(test_authenticode_passes_where_wsus_fails),
	    cmocka_unit_test(test_unsigned),
	    cmocka_unit_test(test_bad_digest),
	    cmocka_unit_test(test_metadata_digest_mismatch),
	    cmocka_unit_test(test_disallowed),
	    cmocka_unit_test(test_missing_intermediate),
	    cmocka_unit_test(test_untrusted_root),
	    cmocka_unit_test(test_policy_value_off),
	    cmocka_unit_test(test_not_trusted_publisher),
	    cmocka_unit_test(test_wrong_usage),
	    cmocka_unit_test(test_expired_without_timestamp),
	    cmocka_unit_test(test_bad_certificate_signature),
	    cmocka_unit_test(test_timestamp_carries_expired_signer),
	    cmocka_unit_test(test_legacy_countersignature),
	    cmocka_unit_test(test_bad_input),
	    cmocka_unit_test(test_parse_policy),
	    cmocka_unit_test(test_certificate_alone),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
