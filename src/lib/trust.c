/* trust.c - the trust decision for signed content (DESIGN 5.7).
 *
 * Checks run in the DESIGN's order and the first failing one decides the HRESULT:
 *   signature present, digest + signature, metadata digests, Disallowed, chain building,
 *   root in Root, (wsus) AcceptTrustedPublisherCerts = 1, (wsus) signer in TrustedPublisher,
 *   Code Signing usage, validity (or a valid timestamp inside it).
 *
 * Chains are built with OpenSSL from the signature's certificates plus the CA and Root stores,
 * all offered as candidates, so that "no chain to any self-signed root" (CERT_E_CHAINING) and
 * "a chain to a root that Root does not hold" (CERT_E_UNTRUSTEDROOT) come apart. A certificate
 * whose signature does not verify under its issuer is reported as TRUST_E_CERT_SIGNATURE, and
 * a non-CA issuer or a broken path length as TRUST_E_BASIC_CONSTRAINTS, both at the chain
 * step. Time is checked last, by us, so that an expired but timestamped signature can pass.
 */
#include "trust.h"

#include "certstore.h"
#include "hresult.h"
#include "machinepolicy.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

struct stores {
	STACK_OF(X509) * root;
	STACK_OF(X509) * ca;
	STACK_OF(X509) * trusted_publisher;
	STACK_OF(X509) * disallowed;
};

static void stores_free(struct stores *s)
{
	sk_X509_pop_free(s->root, X509_free);
	sk_X509_pop_free(s->ca, X509_free);
	sk_X509_pop_free(s->trusted_publisher, X509_free);
	sk_X509_pop_free(s->disallowed, X509_free);
}

static uint32_t decide(struct trust_result *res, uint32_t hr, const char *fmt, ...) PP_PRINTF(3, 4);

static uint32_t decide(struct trust_result *res, uint32_t hr, const char *fmt, ...)
{
	va_list ap;

	res->hr = hr;
	va_start(ap, fmt);
	(void)vsnprintf(res->detail, sizeof(res->detail), fmt, ap);
	va_end(ap);
	return hr;
}

static void thumbprint(X509 *cert, char out[41])
{
	static const char hex[] = "0123456789ABCDEF";
	unsigned char md[20];
	unsigned int n = 0, i;

	out[0] = '\0';
	if (X509_digest(cert, EVP_sha1(), md, &n) != 1 || n != 20)
		return;
	for (i = 0; i < 20; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[40] = '\0';
}

static void subject(X509 *cert, char *out, size_t size)
{
	BIO *b = BIO_new(BIO_s_mem());
	int n = 0;

	out[0] = '\0';
	if (b != NULL && X509_NAME_print_ex(b, X509_get_subject_name(cert), 0,
					    XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0) {
		n = BIO_read(b, out, (int)size - 1);
		out[n > 0 ? n : 0] = '\0';
	}
	BIO_free(b);
}

/* "CN=X (thumbprint ABC...)" for details. */
static const char *describe(X509 *cert, char *buf, size_t size)
{
	char subj[256], tp[41];

	subject(cert, subj, sizeof(subj));
	thumbprint(cert, tp);
	(void)snprintf(buf, size, "%s (thumbprint %s)", subj, tp);
	return buf;
}

static bool stack_contains(STACK_OF(X509) * sk, X509 *cert)
{
	int i;

	for (i = 0; i < sk_X509_num(sk); i++) {
		if (X509_cmp(sk_X509_value(sk, i), cert) == 0)
			return true;
	}
	return false;
}

static int load_stores(const char *machine, struct stores *s, struct pp_error *err)
{
	s->root = certstore_load(machine, CERTSTORE_ROOT, CERTSTORE_LOGICAL, err);
	if (s->root == NULL)
		return -1;
	s->ca = certstore_load(machine, CERTSTORE_CA, CERTSTORE_LOGICAL, err);
	if (s->ca == NULL)
		return -1;
	s->trusted_publisher =
	    certstore_load(machine, CERTSTORE_TRUSTED_PUBLISHER, CERTSTORE_LOGICAL, err);
	if (s->trusted_publisher == NULL)
		return -1;
	s->disallowed = certstore_load(machine, CERTSTORE_DISALLOWED, CERTSTORE_LOGICAL, err);
	if (s->disallowed == NULL)
		return -1;
	return 0;
}

static int store_add_all(X509_STORE *store, STACK_OF(X509) * sk)
{
	int i;

	for (i = 0; i < sk_X509_num(sk); i++) {
		/* Duplicates are fine: X509_STORE_add_cert ignores a certificate it holds. */
		if (X509_STORE_add_cert(store, sk_X509_value(sk, i)) != 1)
			return -1;
	}
	return 0;
}

/* The outcome of building a chain for one end-entity certificate. */
struct chain {
	STACK_OF(X509) * certs; /* leaf first; on failure the part that could be built */
	int error;		/* X509_V_OK or the OpenSSL verify error */
	X509 *error_cert;	/* the certificate the error is about (a reference) */
};

/* Builds leaf's chain from extra (the signature's certificates), CA and Root, every candidate
 * offered as an anchor so that any self-signed root ends a chain; whether that root is trusted
 * is decided afterwards against Root. Time is not checked here. */
static int chain_build(X509 *leaf, STACK_OF(X509) * extra, const struct stores *s, struct chain *c,
		       struct pp_error *err)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	X509_VERIFY_PARAM *param;
	int rc = -1;

	memset(c, 0, sizeof(*c));
	if (store == NULL || ctx == NULL || store_add_all(store, s->root) != 0 ||
	    store_add_all(store, s->ca) != 0 || store_add_all(store, extra) != 0 ||
	    X509_STORE_CTX_init(ctx, store, leaf, NULL) != 1) {
		pp_error_set_openssl(err, HR_E_FAIL, "cannot set up certificate chain building");
		goto out;
	}
	param = X509_STORE_CTX_get0_param(ctx);
	X509_VERIFY_PARAM_set_flags(param,
				    X509_V_FLAG_NO_CHECK_TIME | X509_V_FLAG_CHECK_SS_SIGNATURE);
	X509_VERIFY_PARAM_clear_flags(param, X509_V_FLAG_PARTIAL_CHAIN);
	X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_ANY);
	if (X509_verify_cert(ctx) == 1) {
		c->error = X509_V_OK;
	} else {
		c->error = X509_STORE_CTX_get_error(ctx);
		if (c->error == X509_V_OK)
			c->error = X509_V_ERR_UNSPECIFIED;
		c->error_cert = X509_STORE_CTX_get_current_cert(ctx);
		if (c->error_cert != NULL && !X509_up_ref(c->error_cert))
			c->error_cert = NULL;
	}
	c->certs = X509_STORE_CTX_get1_chain(ctx);
	if (c->certs == NULL) {
		c->certs = sk_X509_new_null();
		if (c->certs == NULL || !sk_X509_push(c->certs, leaf) || !X509_up_ref(leaf)) {
			pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
			goto out;
		}
	}
	rc = 0;
out:
	ERR_clear_error();
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	return rc;
}

static void chain_free(struct chain *c)
{
	sk_X509_pop_free(c->certs, X509_free);
	X509_free(c->error_cert);
	memset(c, 0, sizeof(*c));
}

/* Maps a chain-building failure to its HRESULT and detail. */
static uint32_t chain_failure(const struct chain *c, X509 *leaf, struct trust_result *res)
{
	X509 *at =
	    c->error_cert ? c->error_cert : sk_X509_value(c->certs, sk_X509_num(c->certs) - 1);
	char who[400];

	if (at == NULL)
		at = leaf;
	describe(at, who, sizeof(who));
	switch (c->error) {
	case X509_V_ERR_CERT_SIGNATURE_FAILURE:
	case X509_V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE:
	case X509_V_ERR_UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY:
		return decide(res, HR_TRUST_E_CERT_SIGNATURE,
			      "the signature of certificate %s does not verify under its issuer's "
			      "key",
			      who);
	case X509_V_ERR_INVALID_CA:
	case X509_V_ERR_PATH_LENGTH_EXCEEDED:
	case X509_V_ERR_KEYUSAGE_NO_CERTSIGN:
		return decide(res, HR_TRUST_E_BASIC_CONSTRAINTS,
			      "certificate %s may not issue certificates (%s)", who,
			      X509_verify_cert_error_string(c->error));
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
		return decide(res, HR_CERT_E_CHAINING,
			      "the issuer of certificate %s is neither in the signature nor in the "
			      "CA or Root store; no chain to a root can be built",
			      who);
	default:
		return decide(res, HR_CERT_E_CHAINING,
			      "no certificate chain can be built for %s: %s", who,
			      X509_verify_cert_error_string(c->error));
	}
}

/* The first certificate of the chain in Disallowed, or NULL. */
static X509 *chain_disallowed(const struct chain *c, const struct stores *s)
{
	int i;

	for (i = 0; i < sk_X509_num(c->certs); i++) {
		if (stack_contains(s->disallowed, sk_X509_value(c->certs, i)))
			return sk_X509_value(c->certs, i);
	}
	return NULL;
}

/* The first certificate of the chain outside its validity at t, or NULL. */
static X509 *chain_outside_validity(const struct chain *c, time_t t)
{
	int i;

	for (i = 0; i < sk_X509_num(c->certs); i++) {
		X509 *x = sk_X509_value(c->certs, i);

		if (X509_cmp_time(X509_get0_notBefore(x), &t) > 0 ||
		    X509_cmp_time(X509_get0_notAfter(x), &t) < 0)
			return x;
	}
	return NULL;
}

/* Code Signing usage: an EKU, when present, must list codeSigning; a key usage, when present,
 * must allow digitalSignature. */
static const char *usage_problem(X509 *cert)
{
	uint32_t flags = X509_get_extension_flags(cert);

	if ((flags & EXFLAG_XKUSAGE) && !(X509_get_extended_key_usage(cert) & XKU_CODE_SIGN))
		return "its extended key usage does not include Code Signing (1.3.6.1.5.5.7.3.3)";
	if ((flags & EXFLAG_KUSAGE) && !(X509_get_key_usage(cert) & KU_DIGITAL_SIGNATURE))
		return "its key usage does not include Digital Signature";
	return NULL;
}

/* A timestamp is usable when it verified, its TSA chains to a root in Root, nothing on that
 * chain is disallowed, and the asserted time lies inside the signer chain's validity. */
static bool timestamp_usable(const struct authenticode_info *info, const struct chain *signer,
			     const struct stores *s, char *why, size_t why_size)
{
	X509 *tsa = NULL;
	struct chain tc;
	struct pp_error e;
	int i;
	bool ok = false;

	memset(&tc, 0, sizeof(tc));
	if (info == NULL || !info->has_timestamp) {
		(void)snprintf(why, why_size, "the signature is not timestamped");
		return false;
	}
	if (!info->timestamp_valid || info->timestamp_certs == NULL) {
		(void)snprintf(why, why_size, "its timestamp does not verify");
		return false;
	}
	/* The TSA is the timestamp certificate with timeStamping usage (not a CA). */
	for (i = 0; i < sk_X509_num(info->timestamp_certs) && tsa == NULL; i++) {
		X509 *x = sk_X509_value(info->timestamp_certs, i);

		if ((X509_get_extension_flags(x) & EXFLAG_XKUSAGE) &&
		    (X509_get_extended_key_usage(x) & XKU_TIMESTAMP))
			tsa = x;
	}
	if (tsa == NULL) {
		(void)snprintf(why, why_size, "its timestamp has no time-stamping certificate");
		return false;
	}
	pp_error_clear(&e);
	if (chain_build(tsa, info->timestamp_certs, s, &tc, &e) != 0 || tc.error != X509_V_OK) {
		(void)snprintf(why, why_size, "the timestamp authority's chain cannot be built");
		goto out;
	}
	if (!stack_contains(s->root, sk_X509_value(tc.certs, sk_X509_num(tc.certs) - 1))) {
		(void)snprintf(why, why_size, "the timestamp authority's root is not in Root");
		goto out;
	}
	if (chain_disallowed(&tc, s) != NULL) {
		(void)snprintf(why, why_size, "the timestamp authority's chain is in Disallowed");
		goto out;
	}
	if (chain_outside_validity(signer, info->timestamp_time) != NULL ||
	    chain_outside_validity(&tc, info->timestamp_time) != NULL) {
		(void)snprintf(why, why_size,
			       "the time asserted by its timestamp is outside the validity too");
		goto out;
	}
	ok = true;
out:
	chain_free(&tc);
	return ok;
}

/* The chain, store, policy, usage and validity checks of a signer certificate, in the order of
 * DESIGN 5.7. info (may be NULL) supplies the timestamp that may stand in for validity. */
static uint32_t evaluate_signer(X509 *signer, STACK_OF(X509) * certs,
				const struct authenticode_info *info,
				const struct trust_request *req, struct trust_result *res)
{
	struct stores s;
	struct chain c;
	struct machinepolicy_value pv;
	struct pp_error e;
	X509 *root, *bad;
	char who[400], why[128];
	time_t now = req->now ? req->now : time(NULL);
	const char *problem;
	uint32_t hr;

	memset(&s, 0, sizeof(s));
	memset(&c, 0, sizeof(c));
	pp_error_clear(&e);
	describe(signer, who, sizeof(who));
	if (req->machine == NULL || load_stores(req->machine, &s, &e) != 0) {
		hr = decide(res, e.code ? e.code : HR_E_INVALIDARG,
			    "cannot read the certificate stores of %s: %s",
			    req->machine ? req->machine : "(no machine)",
			    e.message[0] ? e.message : "no machine directory");
		goto out;
	}
	if (chain_build(signer, certs, &s, &c, &e) != 0) {
		hr = decide(res, e.code, "%s", e.message);
		goto out;
	}
	if ((bad = chain_disallowed(&c, &s)) != NULL) {
		hr = decide(res, HR_TRUST_E_EXPLICIT_DISTRUST,
			    "%s %s is in the Disallowed store of %s",
			    bad == signer ? "signer" : "issuer", describe(bad, who, sizeof(who)),
			    req->machine);
		goto out;
	}
	if (c.error != X509_V_OK) {
		hr = chain_failure(&c, signer, res);
		goto out;
	}
	root = sk_X509_value(c.certs, sk_X509_num(c.certs) - 1);
	if (!stack_contains(s.root, root)) {
		hr = decide(res, HR_CERT_E_UNTRUSTEDROOT,
			    "the chain ends in root %s, which is not in the Root store of %s",
			    describe(root, who, sizeof(who)), req->machine);
		goto out;
	}
	if (req->policy == TRUST_POLICY_WSUS) {
		if (machinepolicy_get(req->machine, MACHINEPOLICY_ACCEPT_TRUSTED_PUBLISHER_CERTS,
				      &pv, &e) != 0) {
			hr = decide(res, e.code, "cannot read the policy values of %s: %s",
				    req->machine, e.message);
			goto out;
		}
		if (!pv.present) {
			hr = decide(res, HR_CERT_E_UNTRUSTEDROOT,
				    "policy value AcceptTrustedPublisherCerts is not set on %s, so "
				    "third-party signed content is not accepted",
				    req->machine);
			goto out;
		}
		if (pv.value != 1) {
			hr = decide(
			    res, HR_CERT_E_UNTRUSTEDROOT,
			    "policy value AcceptTrustedPublisherCerts is %u (set by %s) on %s; "
			    "it must be 1",
			    pv.value, pv.source[0] ? pv.source : "unknown", req->machine);
			goto out;
		}
		if (!stack_contains(s.trusted_publisher, signer)) {
			hr = decide(res, HR_TRUST_E_SUBJECT_NOT_TRUSTED,
				    "signer %s is not in the TrustedPublisher store of %s", who,
				    req->machine);
			goto out;
		}
	}
	problem = usage_problem(signer);
	if (problem != NULL) {
		hr = decide(res, HR_CERT_E_WRONG_USAGE, "signer %s cannot sign code: %s", who,
			    problem);
		goto out;
	}
	if ((bad = chain_outside_validity(&c, now)) != NULL &&
	    !timestamp_usable(info, &c, &s, why, sizeof(why))) {
		hr = decide(
		    res, HR_CERT_E_EXPIRED, "%s %s is not within its validity period and %s",
		    bad == signer ? "signer" : "issuer", describe(bad, who, sizeof(who)), why);
		goto out;
	}
	hr = decide(res, HR_S_OK, "signed by %s, trusted", res->signer_subject);
out:
	chain_free(&c);
	stores_free(&s);
	return hr;
}

uint32_t trust_evaluate_cert(X509 *cert, STACK_OF(X509) * extra, const struct trust_request *req,
			     struct trust_result *res)
{
	STACK_OF(X509) * all;
	uint32_t hr;

	memset(res, 0, sizeof(*res));
	if (cert == NULL)
		return decide(res, HR_E_INVALIDARG, "no certificate to evaluate");
	subject(cert, res->signer_subject, sizeof(res->signer_subject));
	thumbprint(cert, res->signer_thumbprint);
	/* As in a signature, the certificate itself is among the candidates, so that a
	 * self-signed one ends its own chain and is then judged against Root. */
	all = extra != NULL ? sk_X509_dup(extra) : sk_X509_new_null();
	if (all == NULL || !sk_X509_push(all, cert)) {
		sk_X509_free(all);
		return decide(res, HR_E_OUTOFMEMORY, "out of memory");
	}
	hr = evaluate_signer(cert, all, NULL, req, res);
	sk_X509_free(all);
	return hr;
}

uint32_t trust_evaluate_info(const struct authenticode_info *info, const struct trust_request *req,
			     struct trust_result *res)
{
	X509 *signer = info ? info->signer : NULL;
	char who[400];
	uint32_t hr;

	memset(res, 0, sizeof(*res));
	if (info == NULL || info->p7 == NULL || signer == NULL)
		return decide(res, HR_TRUST_E_NOSIGNATURE, "the content is not signed");
	subject(signer, res->signer_subject, sizeof(res->signer_subject));
	thumbprint(signer, res->signer_thumbprint);
	describe(signer, who, sizeof(who));

	if (!info->digest_matches) {
		hr = decide(res, HR_TRUST_E_BAD_DIGEST,
			    "the content digest does not match the digest in the signature of %s; "
			    "the file was changed after it was signed",
			    who);
		goto out;
	}
	if (!info->signature_valid) {
		hr = decide(res, HR_TRUST_E_BAD_DIGEST,
			    "the signature by %s does not verify with its certificate's key", who);
		goto out;
	}
	if (req->expected_sha1 != NULL &&
	    (!info->has_sha1 || memcmp(req->expected_sha1, info->sha1, 20) != 0)) {
		hr = decide(res, HR_WU_E_DM_INCORRECTFILEHASH,
			    "the file's SHA-1 digest differs from the one in the update metadata");
		goto out;
	}
	if (req->expected_sha256 != NULL &&
	    (!info->has_sha256 || memcmp(req->expected_sha256, info->sha256, 32) != 0)) {
		hr =
		    decide(res, HR_WU_E_DM_INCORRECTFILEHASH,
			   "the file's SHA-256 digest differs from the one in the update metadata");
		goto out;
	}

	hr = evaluate_signer(signer, info->certs, info, req, res);
out:
	return hr;
}

uint32_t trust_evaluate_cab(const char *path, const struct trust_request *req,
			    struct trust_result *res)
{
	struct authenticode_info info;
	struct pp_error e;
	uint32_t hr;

	pp_error_clear(&e);
	/* Hash the whole file only for the metadata digests the request compares. */
	if (authenticode_read_cab_with(path,
				       (req->expected_sha1 ? AUTHENTICODE_FILE_SHA1 : 0u) |
					   (req->expected_sha256 ? AUTHENTICODE_FILE_SHA256 : 0u),
				       &info, &e) != 0) {
		memset(res, 0, sizeof(*res));
		return decide(res, e.code ? e.code : HR_E_FAIL, "%s", e.message);
	}
	hr = trust_evaluate_info(&info, req, res);
	authenticode_info_release(&info);
	return hr;
}

int trust_parse_policy(const char *name, enum trust_policy *out, struct pp_error *err)
{
	if (name != NULL && strcasecmp(name, "wsus") == 0) {
		*out = TRUST_POLICY_WSUS;
		return 0;
	}
	if (name != NULL && strcasecmp(name, "authenticode") == 0) {
		*out = TRUST_POLICY_AUTHENTICODE;
		return 0;
	}
	pp_error_set(err, HR_E_INVALIDARG, "unknown trust policy \"%s\": use wsus or authenticode",
		     name ? name : "");
	return -1;
}
