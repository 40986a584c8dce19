/* certmgr.c - the WSUS signing certificate of the hierarchy: sync step, publisher operations and
 * status. See certmgr.h and docs/internals/certmgr.md. */
#include "certmgr.h"

#include "certstore.h"
#include "hresult.h"
#include "pki.h"
#include "trust.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MSG_NO_CERTIFICATE "No certificate found in the signing store of the software update point"

static time_t cm_now(const struct certmgr *cm)
{
	return cm->now != 0 ? cm->now : time(NULL);
}

/* ---- the target: top-level SUP and its signing store ---- */

int certmgr_target_open(const struct certmgr *cm, struct certmgr_target *t, struct pp_error *err)
{
	memset(t, 0, sizeof(*t));
	if (store_top_level_site(cm->store, &t->top, err) != 0)
		return -1;
	if (store_sup_sync_source(cm->store, t->top.code, &t->sup, err) != 0) {
		pp_error_clear(err);
		pp_error_set(err, HR_CRYPT_E_NOT_FOUND,
			     "the top-level site %s has no sync-source software update point; add "
			     "one with 'patchpoint sup add --url URL --sync-source'",
			     t->top.code);
		return -1;
	}
	if (t->sup.location == STORE_SUP_LOCAL) {
		if (cm->local == NULL) {
			pp_error_set(err, HR_E_FAIL,
				     "the software update point %s is local, but this server does "
				     "not run the sup role",
				     t->sup.url);
			return -1;
		}
		t->signstore = cm->local;
		return 0;
	}
	if (strncasecmp(t->sup.url, "https://", 8) != 0) {
		pp_error_set(err, HR_E_ACCESSDENIED, "%s", CERTMGR_REMOTE_NOT_HTTPS);
		return -1;
	}
	t->signstore = signstore_remote(t->sup.url, cm->remote_ca, cm->remote_token, err);
	return t->signstore != NULL ? 0 : -1;
}

void certmgr_target_release(struct certmgr_target *t)
{
	if (t->sup.location == STORE_SUP_REMOTE)
		signstore_free(t->signstore);
	t->signstore = NULL;
}

/* ---- helpers ---- */

/* notAfter as "YYYY-MM-DD". */
static void expiry_text(X509 *cert, char *out, size_t size)
{
	struct tm tm;

	if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) != 1 ||
	    strftime(out, size, "%Y-%m-%d", &tm) == 0)
		(void)snprintf(out, size, "?");
}

static int64_t asn1_unix(const ASN1_TIME *t)
{
	struct tm tm;

	if (ASN1_TIME_to_tm(t, &tm) != 1)
		return 0;
	return (int64_t)timegm(&tm);
}

/* Adds cert to Root and TrustedPublisher of this server's machine store, as registering a
 * signing certificate does (DESIGN 5.1). */
static int trust_on_server(const struct certmgr *cm, X509 *cert, struct pp_error *err)
{
	bool already;

	if (cm->machine == NULL)
		return 0;
	if (certstore_add(cm->machine, CERTSTORE_ROOT, CERTSTORE_LOCAL, cert, false, &already,
			  err) != 0 ||
	    certstore_add(cm->machine, CERTSTORE_TRUSTED_PUBLISHER, CERTSTORE_LOCAL, cert, false,
			  &already, err) != 0)
		return -1;
	return 0;
}

/* True when Certificates holds thumbprint blocked. */
static bool is_blocked(const struct certmgr *cm, const char *thumbprint)
{
	struct store_certificate row;
	struct pp_error e;
	bool blocked;

	pp_error_clear(&e);
	memset(&row, 0, sizeof(row));
	if (store_certificate_get(cm->store, thumbprint, &row, &e) != 0)
		return false;
	blocked = row.blocked;
	store_certificate_clear(&row);
	return blocked;
}

/* The signing certificate among certs: the usable, unblocked one with the longest remaining
 * validity; -1 when there is none. */
static int pick_signing(const struct certmgr *cm, const struct signer_cert *certs, size_t n)
{
	struct signer_cert *allowed;
	size_t *map, m = 0;
	int best;

	if (n == 0)
		return -1;
	allowed = calloc(n, sizeof(*allowed));
	map = calloc(n, sizeof(*map));
	if (allowed == NULL || map == NULL) {
		free(allowed);
		free(map);
		return signstore_pick(certs, n, cm_now(cm));
	}
	for (size_t i = 0; i < n; i++) {
		if (is_blocked(cm, certs[i].thumbprint))
			continue;
		allowed[m] = certs[i]; /* shallow: only read */
		map[m++] = i;
	}
	best = signstore_pick(allowed, m, cm_now(cm));
	if (best >= 0)
		best = (int)map[best];
	free(allowed);
	free(map);
	return best;
}

/* The certificate to show: the signing one, else the one that expires last. */
static int pick_any(const struct certmgr *cm, const struct signer_cert *certs, size_t n)
{
	int best = pick_signing(cm, certs, n), day, sec;

	if (best >= 0 || n == 0)
		return best;
	best = 0;
	for (size_t i = 1; i < n; i++) {
		day = sec = 0;
		if (ASN1_TIME_diff(&day, &sec, X509_get0_notAfter(certs[best].cert),
				   X509_get0_notAfter(certs[i].cert)) == 1 &&
		    (day > 0 || (day == 0 && sec > 0)))
			best = (int)i;
	}
	return best;
}

void certmgr_certificate_row(X509 *cert, uint8_t *der, size_t der_len,
			     enum store_certificate_type type, struct store_certificate *row)
{
	memset(row, 0, sizeof(*row));
	(void)pki_thumbprint(cert, row->thumbprint);
	row->type = type;
	row->der = der;
	row->der_len = der_len;
	pki_simple_name(cert, row->subject, sizeof(row->subject));
	row->not_before = asn1_unix(X509_get0_notBefore(cert));
	row->not_after = asn1_unix(X509_get0_notAfter(cert));
}

static int add_to_certificates(const struct certmgr *cm, const struct signer_cert *c,
			       bool *inserted, struct pp_error *err)
{
	struct store_certificate row;
	bool already = false;

	certmgr_certificate_row(c->cert, c->der, c->der_len, STORE_CERT_WSUS_SIGNING, &row);
	if (store_certificate_add(cm->store, &row, &already, err) != 0)
		return -1;
	*inserted = !already;
	return 0;
}

/* Blocks the expired Third-party WSUS Signing rows of Certificates (managed mode: "an expired
 * certificate is automatically blocked"). */
static void block_expired(const struct certmgr *cm)
{
	struct store_certificate *rows = NULL;
	struct pp_error e;
	size_t n = 0;

	pp_error_clear(&e);
	if (store_certificate_list(cm->store, &rows, &n, &e) != 0) {
		srvlog_write(cm->sync_log, CMTRACE_WARNING, "Cannot read Certificates: %s",
			     e.message);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (rows[i].type != STORE_CERT_WSUS_SIGNING || rows[i].blocked ||
		    rows[i].not_after > (int64_t)cm_now(cm))
			continue;
		if (store_certificate_block(cm->store, rows[i].thumbprint, &e) != 0) {
			srvlog_write(cm->sync_log, CMTRACE_WARNING, "Cannot block %s: %s",
				     rows[i].thumbprint, e.message);
			pp_error_clear(&e);
			continue;
		}
		srvlog_write(cm->sync_log, CMTRACE_INFO,
			     "Blocked expired Third-party WSUS Signing certificate %s",
			     rows[i].thumbprint);
	}
	store_certificate_list_free(rows, n);
}

/* ---- the sync step ---- */

static int generate_managed(const struct certmgr *cm, struct certmgr_target *t,
			    struct signer_cert *out, struct pp_error *err)
{
	struct signer_generate_options g = {
	    .subject = PKI_DEFAULT_SUBJECT_MANAGED,
	    .days = cm->managed_days > 0 ? cm->managed_days : PKI_DEFAULT_DAYS_MANAGED,
	    .bits = cm->managed_bits > 0 ? cm->managed_bits : 2048,
	    .exportable = true,
	};
	struct pp_error warn;
	unsigned removed = 0;

	pp_error_clear(&warn);
	srvlog_write(cm->sync_log, CMTRACE_INFO,
		     "No valid WSUS signing certificate in %s; generating a self-signed one (%s, "
		     "RSA %d, %d days)",
		     signstore_where(t->signstore), g.subject, g.bits, g.days);
	if (signstore_register_generated(t->signstore, &g, false, out, &removed, &warn) != 0) {
		*err = warn;
		return -1;
	}
	if (warn.code != 0)
		srvlog_write(cm->sync_log, CMTRACE_WARNING, "%s", warn.message);
	srvlog_write(cm->sync_log, CMTRACE_INFO,
		     "Created WSUS signing certificate %s in %s (%u older certificate(s) removed "
		     "from the signing store)",
		     out->thumbprint, signstore_where(t->signstore), removed);
	return trust_on_server(cm, out->cert, err);
}

int certmgr_sync_step(const struct certmgr *cm, struct certmgr_step_result *out,
		      struct pp_error *err)
{
	struct store_third_party_settings set;
	struct certmgr_target t;
	struct signer_cert *certs = NULL, made;
	const struct signer_cert *use;
	char expiry[16];
	size_t n = 0;
	int pick, rc = -1;

	memset(out, 0, sizeof(*out));
	memset(&made, 0, sizeof(made));
	if (store_third_party_settings_get(cm->store, &set, err) != 0)
		return -1;
	if (!set.enable_third_party_updates) {
		out->outcome = CERTMGR_SKIPPED_DISABLED;
		srvlog_write(cm->sync_log, CMTRACE_INFO,
			     "Third-party software updates are not enabled on the top-level site; "
			     "skipping the signing certificate");
		return 0;
	}
	if (certmgr_target_open(cm, &t, err) != 0) {
		if (err->code == HR_E_ACCESSDENIED &&
		    strcmp(err->message, CERTMGR_REMOTE_NOT_HTTPS) == 0) {
			srvlog_write(cm->sync_log, CMTRACE_WARNING, "%s", CERTMGR_REMOTE_NOT_HTTPS);
			out->outcome = CERTMGR_NOT_HTTPS;
			pp_error_clear(err);
			return 0;
		}
		return -1;
	}
	if (set.certificate_mode == STORE_CERT_MODE_MANAGED)
		block_expired(cm);
	if (signstore_list(t.signstore, &certs, &n, err) != 0)
		goto out;
	pick = pick_signing(cm, certs, n);
	if (pick < 0 && set.certificate_mode == STORE_CERT_MODE_MANUAL) {
		srvlog_write(cm->sync_log, CMTRACE_WARNING,
			     "The certificate is managed manually and %s holds no valid WSUS "
			     "signing certificate: no action. A certificate must exist; create or "
			     "import one with 'patchpoint publisher cert create|import'",
			     signstore_where(t.signstore));
		out->outcome = CERTMGR_NO_CERT_MANUAL;
		rc = 0;
		goto out;
	}
	if (pick < 0) {
		if (generate_managed(cm, &t, &made, err) != 0)
			goto out;
		use = &made;
		out->outcome = CERTMGR_GENERATED;
	} else {
		use = &certs[pick];
		if (n > 1)
			srvlog_write(
			    cm->sync_log, CMTRACE_INFO,
			    "%zu certificates in %s; %s has the longest remaining validity "
			    "and signs",
			    n, signstore_where(t.signstore), use->thumbprint);
		expiry_text(use->cert, expiry, sizeof(expiry));
		srvlog_write(cm->sync_log, CMTRACE_INFO,
			     "Found WSUS signing certificate %s in %s, valid until %s",
			     use->thumbprint, signstore_where(t.signstore), expiry);
		out->outcome = CERTMGR_IMPORTED;
	}
	(void)snprintf(out->thumbprint, sizeof(out->thumbprint), "%s", use->thumbprint);
	/* Registration trusts it on this server; a crash between the two, or a store restored
	 * from elsewhere, is mended here. */
	if (trust_on_server(cm, use->cert, err) != 0 ||
	    add_to_certificates(cm, use, &out->inserted, err) != 0)
		goto out;
	srvlog_write(cm->sync_log, CMTRACE_INFO,
		     out->inserted ? "Third-party WSUS Signing certificate %s inserted into "
				     "Certificates"
				   : "Third-party WSUS Signing certificate %s is already in "
				     "Certificates",
		     use->thumbprint);
	rc = 0;
out:
	signer_cert_release(&made);
	signer_certs_free(certs, n);
	certmgr_target_release(&t);
	return rc;
}

/* ---- show ---- */

static json_t *show_json(const struct certmgr *cm, const struct signer_cert *c,
			 struct pp_error *err)
{
	struct pki_show f;
	struct pki_check chk;
	struct trust_request req;
	struct trust_result res;
	char reasons[PKI_CHECK_MAX * 258] = "", hr[16];
	bool trusted_publisher = false, trusted_root = false;
	int failed;
	json_t *o;

	if (pki_show_fields(c->cert, &f, err) != 0)
		return NULL;
	failed = pki_check_wsus(c->cert, NULL, cm_now(cm), &chk);
	/* The key is in the signer: the last reason (no private key) is answered by has_key. */
	if (c->has_key && failed > 0)
		failed--;
	for (int i = 0; i < failed; i++) {
		size_t used = strlen(reasons);

		(void)snprintf(reasons + used, sizeof(reasons) - used, "%s%s", i ? "; " : "",
			       chk.reasons[i]);
	}
	memset(&req, 0, sizeof(req));
	req.machine = cm->machine;
	req.policy = TRUST_POLICY_AUTHENTICODE;
	req.now = cm_now(cm);
	(void)trust_evaluate_cert(c->cert, c->chain, &req, &res);
	(void)snprintf(hr, sizeof(hr), "0x%08X", (unsigned)res.hr);
	if (cm->machine != NULL) {
		trusted_publisher = certstore_contains(cm->machine, CERTSTORE_TRUSTED_PUBLISHER,
						       CERTSTORE_LOGICAL, c->cert);
		trusted_root =
		    certstore_contains(cm->machine, CERTSTORE_ROOT, CERTSTORE_LOGICAL, c->cert);
	}
	o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:b, s:b, s:b, s:b, s:b, "
		      "s:s, s:{s:s, s:s, s:s}}",
		      "thumbprint", f.thumbprint, "issuer", f.issuer, "subject", f.subject,
		      "effective_date", f.effective, "expiration_date", f.expiration, "cert_usage",
		      f.usage, "public_key", f.public_key, "serial", f.serial, "trusted_publisher",
		      trusted_publisher, "trusted_root", trusted_root, "self_signed", f.self_signed,
		      "has_private_key", c->has_key, "exportable", c->exportable,
		      "meets_requirements", failed == 0, "requirements",
		      failed == 0 ? "meets the WSUS signing requirements" : reasons, "trust_chain",
		      "hresult", hr, "symbol", hresult_symbol(res.hr), "detail", res.detail);
	if (o == NULL)
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
	return o;
}

/* Lists the signing store of the target into *certs / *n; CRYPT_E_NOT_FOUND when empty. */
static int list_nonempty(struct certmgr_target *t, struct signer_cert **certs, size_t *n,
			 struct pp_error *err)
{
	if (signstore_list(t->signstore, certs, n, err) != 0)
		return -1;
	if (*n == 0) {
		pp_error_set(err, HR_CRYPT_E_NOT_FOUND, MSG_NO_CERTIFICATE);
		return -1;
	}
	return 0;
}

/* Runs fn on the certificate "show" and "export" are about (pick_any) in the target's signing
 * store; CRYPT_E_NOT_FOUND when the store is empty. */
static int with_shown_cert(const struct certmgr *cm,
			   int (*fn)(const struct certmgr *cm, const struct signer_cert *c,
				     void *ctx, struct pp_error *err),
			   void *ctx, struct pp_error *err)
{
	struct certmgr_target t;
	struct signer_cert *certs = NULL;
	size_t n = 0;
	int rc = -1;

	if (certmgr_target_open(cm, &t, err) != 0)
		return -1;
	if (list_nonempty(&t, &certs, &n, err) == 0)
		rc = fn(cm, &certs[pick_any(cm, certs, n)], ctx, err);
	signer_certs_free(certs, n);
	certmgr_target_release(&t);
	return rc;
}

static int show_fn(const struct certmgr *cm, const struct signer_cert *c, void *ctx,
		   struct pp_error *err)
{
	json_t **out = ctx;

	*out = show_json(cm, c, err);
	return *out != NULL ? 0 : -1;
}

int certmgr_publisher_show(const struct certmgr *cm, json_t **out, struct pp_error *err)
{
	*out = NULL;
	return with_shown_cert(cm, show_fn, out, err);
}

struct cer_out {
	uint8_t **der;
	size_t *len;
};

static int cer_fn(const struct certmgr *cm, const struct signer_cert *c, void *ctx,
		  struct pp_error *err)
{
	struct cer_out *o = ctx;

	(void)cm;
	*o->der = malloc(c->der_len);
	if (*o->der == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
		return -1;
	}
	memcpy(*o->der, c->der, c->der_len);
	*o->len = c->der_len;
	return 0;
}

int certmgr_publisher_cer(const struct certmgr *cm, uint8_t **der, size_t *der_len,
			  struct pp_error *err)
{
	struct cer_out o = {der, der_len};

	*der = NULL;
	*der_len = 0;
	return with_shown_cert(cm, cer_fn, &o, err);
}

/* ---- create and import ---- */

/* Refuses to replace a valid certificate without force (ERROR_ALREADY_EXISTS). */
static int check_overwrite(const struct certmgr *cm, struct certmgr_target *t, bool force,
			   struct pp_error *err)
{
	struct signer_cert *certs = NULL;
	size_t n = 0;
	int pick, rc = 0;

	if (force)
		return 0;
	if (signstore_list(t->signstore, &certs, &n, err) != 0)
		return -1;
	pick = signstore_pick(certs, n, cm_now(cm));
	if (pick >= 0) {
		char expiry[16];

		expiry_text(certs[pick].cert, expiry, sizeof(expiry));
		pp_error_set(
		    err, HR_ERROR_ALREADY_EXISTS,
		    "a valid signing certificate %s (valid until %s) is already registered; "
		    "replace it with force (patchpoint publisher cert create|import --force)",
		    certs[pick].thumbprint, expiry);
		rc = -1;
	}
	signer_certs_free(certs, n);
	return rc;
}

/* After a registration: trust on this server, log, and the "show" fields. */
static int registered(const struct certmgr *cm, struct certmgr_target *t,
		      const struct signer_cert *c, const char *how, unsigned removed,
		      const struct pp_error *warn, json_t **out, struct pp_error *err)
{
	if (warn->code != 0)
		srvlog_write(cm->publisher_log, CMTRACE_WARNING, "%s", warn->message);
	srvlog_write(cm->publisher_log, CMTRACE_INFO,
		     "%s certificate %s in %s; %u previous certificate(s) removed from the signing "
		     "store (they stay in Certificates)",
		     how, c->thumbprint, signstore_where(t->signstore), removed);
	if (trust_on_server(cm, c->cert, err) != 0)
		return -1;
	*out = show_json(cm, c, err);
	return *out != NULL ? 0 : -1;
}

int certmgr_publisher_create(const struct certmgr *cm, const struct certmgr_create_options *opts,
			     json_t **out, struct pp_error *err)
{
	struct certmgr_target t;
	struct signer_cert made;
	int years = opts->years > 0 ? opts->years : 5;
	struct signer_generate_options g = {
	    .subject = opts->subject,
	    .days = years * 365 + years / 4, /* whole years with their leap days */
	    .bits = opts->bits,
	    .exportable = opts->exportable,
	};
	struct pp_error warn;
	unsigned removed = 0;
	int rc = -1;

	*out = NULL;
	memset(&made, 0, sizeof(made));
	pp_error_clear(&warn);
	if (opts->years < 0 || opts->years > 100) {
		pp_error_set(err, HR_E_INVALIDARG, "years must be between 1 and 100");
		return -1;
	}
	if (certmgr_target_open(cm, &t, err) != 0)
		return -1;
	if (check_overwrite(cm, &t, opts->force, err) != 0)
		goto out;
	if (signstore_register_generated(t.signstore, &g, false, &made, &removed, &warn) != 0) {
		*err = warn;
		goto out;
	}
	rc = registered(cm, &t, &made, "Created self-signed", removed, &warn, out, err);
out:
	signer_cert_release(&made);
	certmgr_target_release(&t);
	return rc;
}

int certmgr_publisher_import(const struct certmgr *cm, const struct certmgr_import_options *opts,
			     json_t **out, struct pp_error *err)
{
	struct certmgr_target t;
	struct signer_cert got;
	struct pp_error warn;
	unsigned removed = 0;
	int rc = -1;

	*out = NULL;
	memset(&got, 0, sizeof(got));
	pp_error_clear(&warn);
	if (certmgr_target_open(cm, &t, err) != 0)
		return -1;
	if (check_overwrite(cm, &t, opts->force, err) != 0)
		goto out;
	if (signstore_register_pfx(t.signstore, opts->pfx, opts->pfx_len, opts->password,
				   opts->exportable, opts->keep_existing, &got, &removed,
				   &warn) != 0) {
		srvlog_write(cm->publisher_log, CMTRACE_ERROR, "Certificate Import Failed: %s",
			     warn.message);
		/* Out of memory or a dead signer is the server's failure, anything else the
		 * PFX's. */
		if (warn.code == HR_E_OUTOFMEMORY || warn.code == HR_E_FAIL)
			*err = warn;
		else
			pp_error_set(err, CERTMGR_E_IMPORT, "%s", warn.message);
		goto out;
	}
	rc = registered(cm, &t, &got, "Imported", removed, &warn, out, err);
out:
	signer_cert_release(&got);
	certmgr_target_release(&t);
	return rc;
}

/* ---- publisher status ---- */

/* Appends one item; returns ok so the caller can stop at the first failure. */
static bool item(json_t *items, const char *name, bool ok, const char *fmt, ...) PP_PRINTF(4, 5);

static bool item(json_t *items, const char *name, bool ok, const char *fmt, ...)
{
	char detail[PP_ERROR_MESSAGE_MAX + 256];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	(void)json_array_append_new(
	    items, json_pack("{s:s, s:b, s:s}", "name", name, "ok", ok, "detail", detail));
	return ok;
}

/* The items after "enabled": they need the signing store. */
static bool status_store(const struct certmgr *cm, json_t *items, struct pp_error *err)
{
	struct certmgr_target t;
	struct signer_cert *certs = NULL;
	struct store_certificate row;
	struct pki_check chk;
	const struct signer_cert *c;
	size_t n = 0;
	bool ok = false, root, tp;
	int pick, failed;

	if (certmgr_target_open(cm, &t, err) != 0) {
		if (err->code == HR_E_ACCESSDENIED || t.sup.location == STORE_SUP_REMOTE)
			return item(items, "Software update point reachable over HTTPS", false,
				    "%s", err->message);
		return item(items, "Signing certificate present", false, "%s", err->message);
	}
	if (signstore_list(t.signstore, &certs, &n, err) != 0) {
		ok = item(items,
			  t.sup.location == STORE_SUP_REMOTE
			      ? "Software update point reachable over HTTPS"
			      : "Signing certificate present",
			  false, "%s", err->message);
		goto out;
	}
	if (t.sup.location == STORE_SUP_REMOTE)
		(void)item(items, "Software update point reachable over HTTPS", true, "%s",
			   t.sup.url);
	if (n == 0) {
		ok = item(items, "Signing certificate present", false, "%s in %s",
			  MSG_NO_CERTIFICATE, signstore_where(t.signstore));
		goto out;
	}
	pick = pick_any(cm, certs, n);
	c = &certs[pick];
	if (!item(items, "Signing certificate present", c->has_key, "%s in %s%s", c->thumbprint,
		  signstore_where(t.signstore), c->has_key ? "" : " has no private key"))
		goto out;
	failed = pki_check_wsus(c->cert, NULL, cm_now(cm), &chk) - 1;
	if (!item(items, "Signing certificate meets requirements", failed == 0, "%s",
		  failed == 0 ? "RSA, code signing, within its validity period" : chk.reasons[0]))
		goto out;
	root = cm->machine != NULL &&
	       certstore_contains(cm->machine, CERTSTORE_ROOT, CERTSTORE_LOGICAL, c->cert);
	tp = cm->machine != NULL && certstore_contains(cm->machine, CERTSTORE_TRUSTED_PUBLISHER,
						       CERTSTORE_LOGICAL, c->cert);
	if (!item(items, "Signing certificate trusted on this server", root && tp,
		  "Trusted Root Authority: %s, Trusted Publisher: %s", root ? "Yes" : "No",
		  tp ? "Yes" : "No"))
		goto out;
	memset(&row, 0, sizeof(row));
	if (store_certificate_get(cm->store, c->thumbprint, &row, err) != 0) {
		pp_error_clear(err);
		ok = item(items, "Signing certificate in Certificates", false,
			  "%s is not in Certificates yet; run 'patchpoint sync'", c->thumbprint);
		goto out;
	}
	ok = item(items, "Signing certificate in Certificates", !row.blocked, "%s%s", c->thumbprint,
		  row.blocked ? " is blocked; unblock it or register another" : "");
	store_certificate_clear(&row);
out:
	signer_certs_free(certs, n);
	certmgr_target_release(&t);
	return ok;
}

int certmgr_publisher_status(const struct certmgr *cm, json_t **out, struct pp_error *err)
{
	struct store_third_party_settings set;
	struct pp_error step;
	json_t *items = json_array();
	bool ready = false;

	*out = NULL;
	if (items == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
		return -1;
	}
	if (store_third_party_settings_get(cm->store, &set, err) != 0) {
		json_decref(items);
		return -1;
	}
	pp_error_clear(&step);
	if (item(items, "Third-party software updates enabled", set.enable_third_party_updates,
		 set.enable_third_party_updates
		     ? "on the top-level site %s, certificate mode %s"
		     : "not enabled on the top-level site %s (certificate mode %s); run "
		       "'patchpoint sup set --third-party on'",
		 set.top_level_site, store_certificate_mode_name(set.certificate_mode)))
		ready = status_store(cm, items, &step);
	*out = json_pack("{s:b, s:o}", "ready", ready, "items", items);
	if (*out == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
		return -1;
	}
	return 0;
}
