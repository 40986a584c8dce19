/* test_certmgr.c - the certificate step of a sync (DESIGN 5.1 decision table, 5.3) and the
 * publisher's create / import / show / status, against a real signer child and a real SQLite
 * store. Every row of the decision table has a case here. */
#include "certmgr.h"
#include "certstore.h"
#include "hresult.h"
#include "pki.h"
#include "signer.h"
#include "signstore.h"
#include "srvlog.h"
#include "store.h"
#include "testutil.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define YEAR (365 * 24 * 3600)

struct fx {
	char *dir;
	struct signer *signer;
	struct store *store;
	struct srvlog *sync_log, *pub_log;
	struct certmgr cm;
	char *machine;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct pp_error err = {0};
	struct store_sup sup = {.location = STORE_SUP_LOCAL, .sync_source = true};
	char *keys, *db;

	assert_non_null(f);
	f->dir = tu_tmpdir();
	keys = tu_path(f->dir, "keys");
	db = tu_path(f->dir, "db");
	f->machine = tu_path(f->dir, "machine");
	assert_int_equal(signer_start(keys, &f->signer, &err), 0);
	f->store = store_open_sqlite(db, &err);
	assert_non_null(f->store);
	assert_int_equal(store_site_add(f->store, "PP1", "Primary", NULL, &err), 0);
	(void)snprintf(sup.site_code, sizeof(sup.site_code), "PP1");
	(void)snprintf(sup.url, sizeof(sup.url), "http://localhost:8530/");
	assert_int_equal(store_sup_add(f->store, &sup, &err), 0);
	f->sync_log = srvlog_open(f->dir, "wsyncmgr.log", "SMS_WSUS_SYNC_MANAGER", &err);
	f->pub_log = srvlog_open(f->dir, "Publisher.log", "Publisher", &err);
	assert_non_null(f->sync_log);
	assert_non_null(f->pub_log);
	f->cm.store = f->store;
	f->cm.local = signstore_local(f->signer, &err);
	assert_non_null(f->cm.local);
	f->cm.machine = f->machine;
	f->cm.sync_log = f->sync_log;
	f->cm.publisher_log = f->pub_log;
	free(keys);
	free(db);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	signstore_free(f->cm.local);
	srvlog_close(f->sync_log);
	srvlog_close(f->pub_log);
	store_close(f->store);
	signer_stop(f->signer);
	tu_rmrf(f->dir);
	free(f->machine);
	free(f->dir);
	free(f);
	return 0;
}

static void settings(struct fx *f, bool enable, enum store_certificate_mode mode)
{
	struct store_third_party_settings t = {.enable_third_party_updates = enable,
					       .certificate_mode = mode};
	struct pp_error err = {0};

	assert_int_equal(store_third_party_settings_set(f->store, "PP1", &t, &err), 0);
}

static size_t signer_count(struct fx *f)
{
	struct signer_cert *certs = NULL;
	struct pp_error err = {0};
	size_t n = 0;

	assert_int_equal(signer_list(f->signer, &certs, &n, &err), 0);
	signer_certs_free(certs, n);
	return n;
}

static size_t certificates_count(struct fx *f)
{
	struct store_certificate *rows = NULL;
	struct pp_error err = {0};
	size_t n = 0;

	assert_int_equal(store_certificate_list(f->store, &rows, &n, &err), 0);
	store_certificate_list_free(rows, n);
	return n;
}

/* The text of a log in the fixture's directory. */
static char *log_text(struct fx *f, const char *name)
{
	char *path = tu_path(f->dir, name);
	size_t len = 0;
	uint8_t *data = tu_read_file(path, &len);
	char *text = calloc(1, len + 1);

	assert_non_null(text);
	if (data != NULL)
		memcpy(text, data, len);
	free(data);
	free(path);
	return text;
}

static void assert_log_has(struct fx *f, const char *name, const char *needle)
{
	char *text = log_text(f, name);

	if (strstr(text, needle) == NULL)
		fail_msg("%s lacks \"%s\":\n%s", name, needle, text);
	free(text);
}

static void sync_step(struct fx *f, struct certmgr_step_result *res)
{
	struct pp_error err = {0};

	if (certmgr_sync_step(&f->cm, res, &err) != 0)
		fail_msg("certificate step failed: %s", err.message);
}

/* ---- the decision table ---- */

static void test_disabled_does_nothing(void **state)
{
	struct fx *f = *state;
	struct certmgr_step_result res;

	sync_step(f, &res);
	assert_int_equal(res.outcome, CERTMGR_SKIPPED_DISABLED);
	assert_int_equal(signer_count(f), 0);
	assert_int_equal(certificates_count(f), 0);
	assert_log_has(f, "wsyncmgr.log", "Third-party software updates are not enabled");
}

static void test_managed_empty_generates_and_inserts(void **state)
{
	struct fx *f = *state;
	struct certmgr_step_result res, again;
	struct store_certificate row;
	struct pp_error err = {0};
	char line[160];

	settings(f, true, STORE_CERT_MODE_MANAGED);
	sync_step(f, &res);
	assert_int_equal(res.outcome, CERTMGR_GENERATED);
	assert_true(res.inserted);
	assert_int_equal(strlen(res.thumbprint), 40);
	assert_int_equal(signer_count(f), 1);
	memset(&row, 0, sizeof(row));
	assert_int_equal(store_certificate_get(f->store, res.thumbprint, &row, &err), 0);
	assert_int_equal(row.type, STORE_CERT_WSUS_SIGNING);
	assert_string_equal(row.subject, "WSUS Publishers Self-signed");
	assert_false(row.blocked);
	/* three years, as DESIGN 5.1 says for the managed mode */
	assert_true(row.not_after - row.not_before >= 3 * YEAR - 2 * 24 * 3600);
	assert_true(row.not_after - row.not_before <= 3 * YEAR + 2 * 24 * 3600);
	store_certificate_clear(&row);
	(void)snprintf(line, sizeof(line),
		       "Third-party WSUS Signing certificate %s inserted into Certificates",
		       res.thumbprint);
	assert_log_has(f, "wsyncmgr.log", line);
	assert_log_has(f, "wsyncmgr.log",
		       "generating a self-signed one (CN=WSUS Publishers "
		       "Self-signed, RSA 2048, 1095 days)");
	/* registration trusts it on this server */
	{
		X509 *x = NULL;
		struct signer_cert *certs = NULL;
		size_t n = 0;

		assert_int_equal(signer_list(f->signer, &certs, &n, &err), 0);
		x = certs[0].cert;
		assert_true(certstore_contains(f->machine, CERTSTORE_ROOT, CERTSTORE_LOGICAL, x));
		assert_true(certstore_contains(f->machine, CERTSTORE_TRUSTED_PUBLISHER,
					       CERTSTORE_LOGICAL, x));
		signer_certs_free(certs, n);
	}

	/* the next sync finds the same one and does not insert it twice */
	sync_step(f, &again);
	assert_int_equal(again.outcome, CERTMGR_IMPORTED);
	assert_string_equal(again.thumbprint, res.thumbprint);
	assert_false(again.inserted);
	assert_int_equal(signer_count(f), 1);
	assert_int_equal(certificates_count(f), 1);
	assert_log_has(f, "wsyncmgr.log", "is already in Certificates");
}

static void test_manual_empty_takes_no_action(void **state)
{
	struct fx *f = *state;
	struct certmgr_step_result res;

	settings(f, true, STORE_CERT_MODE_MANUAL);
	sync_step(f, &res);
	assert_int_equal(res.outcome, CERTMGR_NO_CERT_MANUAL);
	assert_int_equal(signer_count(f), 0);
	assert_int_equal(certificates_count(f), 0);
	assert_log_has(f, "wsyncmgr.log", "no action. A certificate must exist");
	assert_log_has(f, "wsyncmgr.log", "type=\"2\"");
}

static void create(struct fx *f, int years, bool force, int expect_rc, char thumb[41])
{
	struct certmgr_create_options o = {.years = years, .exportable = true, .force = force};
	struct pp_error err = {0};
	json_t *show = NULL;
	int rc = certmgr_publisher_create(&f->cm, &o, &show, &err);

	if (rc != expect_rc)
		fail_msg("create returned %d (%s)", rc, err.message);
	if (rc == 0) {
		(void)snprintf(thumb, 41, "%s",
			       json_string_value(json_object_get(show, "thumbprint")));
		json_decref(show);
	} else {
		assert_int_equal(err.code, HR_ERROR_ALREADY_EXISTS);
		assert_non_null(strstr(err.message, "--force"));
	}
}

static void test_manual_valid_cert_is_imported(void **state)
{
	struct fx *f = *state;
	struct certmgr_step_result res;
	char thumb[41];

	settings(f, true, STORE_CERT_MODE_MANUAL);
	create(f, 2, false, 0, thumb);
	sync_step(f, &res);
	assert_int_equal(res.outcome, CERTMGR_IMPORTED);
	assert_string_equal(res.thumbprint, thumb);
	assert_true(res.inserted);
	assert_int_equal(certificates_count(f), 1);
}

/* Makes dir/name.pfx (password "pw") with a code-signing certificate valid for days. */
static char *make_pfx(struct fx *f, const char *name, int days, const char *keyopt)
{
	char *pfx;
	char base[512];

	(void)snprintf(base, sizeof(base), "%s/%s", f->dir, name);
	assert_int_equal(tu_run("openssl req -x509 -newkey %s -nodes -keyout %s.key -out %s.pem "
				"-days %d -subj /CN=%s -addext keyUsage=critical,digitalSignature "
				"-addext extendedKeyUsage=codeSigning 2>/dev/null && "
				"openssl pkcs12 -export -inkey %s.key -in %s.pem -out %s.pfx "
				"-passout pass:pw 2>/dev/null",
				keyopt, base, base, days, name, base, base, base),
			 0);
	(void)snprintf(base + strlen(base), sizeof(base) - strlen(base), ".pfx");
	pfx = strdup(base);
	assert_non_null(pfx);
	return pfx;
}

static int import(struct fx *f, const char *path, const char *password, bool keep, bool force,
		  struct pp_error *err)
{
	size_t len = 0;
	uint8_t *data = tu_read_file(path, &len);
	struct certmgr_import_options o = {.pfx = data,
					   .pfx_len = len,
					   .password = password,
					   .exportable = true,
					   .keep_existing = keep,
					   .force = force};
	json_t *show = NULL;
	int rc;

	assert_non_null(data);
	rc = certmgr_publisher_import(&f->cm, &o, &show, err);
	json_decref(show);
	free(data);
	return rc;
}

static void test_several_longest_validity_signs(void **state)
{
	struct fx *f = *state;
	struct certmgr_step_result res;
	struct pp_error err = {0};
	char short_thumb[41];
	char *pfx = make_pfx(f, "long", 3650, "rsa:2048");
	struct signer_cert *certs = NULL;
	size_t n = 0;

	settings(f, true, STORE_CERT_MODE_MANAGED);
	create(f, 2, false, 0, short_thumb);
	/* --keep-existing: both stay in the signing store */
	assert_int_equal(import(f, pfx, "pw", true, true, &err), 0);
	assert_int_equal(signer_count(f), 2);
	sync_step(f, &res);
	assert_int_equal(res.outcome, CERTMGR_IMPORTED);
	assert_string_not_equal(res.thumbprint, short_thumb);
	assert_int_equal(signer_list(f->signer, &certs, &n, &err), 0);
	assert_int_equal(signstore_pick(certs, n, time(NULL)) >= 0, 1);
	assert_string_equal(certs[signstore_pick(certs, n, time(NULL))].thumbprint, res.thumbprint);
	signer_certs_free(certs, n);
	assert_log_has(f, "wsyncmgr.log", "has the longest remaining validity and signs");
	free(pfx);
}

static void test_expired_managed_is_replaced_and_blocked(void **state)
{
	struct fx *f = *state;
	struct certmgr_step_result first, later;
	struct store_certificate row;
	struct pp_error err = {0};

	settings(f, true, STORE_CERT_MODE_MANAGED);
	sync_step(f, &first);
	/* four years on, the three-year certificate has expired */
	f->cm.now = time(NULL) + 4 * YEAR;
	sync_step(f, &later);
	assert_int_equal(later.outcome, CERTMGR_GENERATED);
	assert_string_not_equal(later.thumbprint, first.thumbprint);
	assert_int_equal(signer_count(f), 1); /* the expired one left the signing store */
	assert_int_equal(certificates_count(f), 2);
	memset(&row, 0, sizeof(row));
	assert_int_equal(store_certificate_get(f->store, first.thumbprint, &row, &err), 0);
	assert_true(row.blocked); /* history, blocked so clients drop it */
	store_certificate_clear(&row);
	assert_log_has(f, "wsyncmgr.log", "Blocked expired Third-party WSUS Signing certificate");
}

static void test_expired_manual_takes_no_action(void **state)
{
	struct fx *f = *state;
	struct certmgr_step_result res;
	char thumb[41];

	settings(f, true, STORE_CERT_MODE_MANUAL);
	create(f, 1, false, 0, thumb);
	f->cm.now = time(NULL) + 2 * YEAR;
	sync_step(f, &res);
	assert_int_equal(res.outcome, CERTMGR_NO_CERT_MANUAL);
	assert_int_equal(signer_count(f), 1);
	assert_int_equal(certificates_count(f), 0);
}

static void test_blocked_signing_cert_is_not_used(void **state)
{
	struct fx *f = *state;
	struct certmgr_step_result first, later;
	struct pp_error err = {0};

	settings(f, true, STORE_CERT_MODE_MANAGED);
	sync_step(f, &first);
	assert_int_equal(store_certificate_block(f->store, first.thumbprint, &err), 0);
	sync_step(f, &later);
	assert_int_equal(later.outcome, CERTMGR_GENERATED);
	assert_string_not_equal(later.thumbprint, first.thumbprint);
}

static void test_remote_http_gets_nothing(void **state)
{
	struct fx *f = *state;
	struct store_sup sup = {.location = STORE_SUP_REMOTE, .sync_source = true};
	struct certmgr_step_result res;
	struct pp_error err = {0};
	char *text;

	/* a new hierarchy whose top-level site has a remote sync source at an http:// URL */
	assert_int_equal(store_site_add_cas_above(f->store, "CAS", "Central", &err), 0);
	(void)snprintf(sup.site_code, sizeof(sup.site_code), "CAS");
	(void)snprintf(sup.url, sizeof(sup.url), "http://127.0.0.1:8530/");
	assert_int_equal(store_sup_add(f->store, &sup, &err), 0);
	{
		struct store_third_party_settings t = {.enable_third_party_updates = true};

		assert_int_equal(store_third_party_settings_set(f->store, "CAS", &t, &err), 0);
	}
	sync_step(f, &res);
	assert_int_equal(res.outcome, CERTMGR_NOT_HTTPS);
	assert_int_equal(signer_count(f), 0);
	assert_int_equal(certificates_count(f), 0);
	text = log_text(f, "wsyncmgr.log");
	assert_non_null(strstr(text, "<![LOG[Remote WSUS connection is not HTTPS. This prevents "
				     "software update point from getting the signing certificate "
				     "for third-party updates]LOG]!>"));
	assert_non_null(strstr(strstr(text, "Remote WSUS"), "type=\"2\""));
	free(text);
}

/* ---- publisher ---- */

static void test_create_refuses_overwrite_without_force(void **state)
{
	struct fx *f = *state;
	struct certmgr_step_result res;
	char first[41], second[41];

	settings(f, true, STORE_CERT_MODE_MANUAL);
	create(f, 5, false, 0, first);
	create(f, 5, false, -1, second);
	assert_int_equal(signer_count(f), 1);
	sync_step(f, &res);
	create(f, 5, true, 0, second);
	assert_string_not_equal(first, second);
	/* SetSigningCertificate: the new one replaces the old in the signing store... */
	assert_int_equal(signer_count(f), 1);
	sync_step(f, &res);
	assert_string_equal(res.thumbprint, second);
	/* ...and the old one stays in Certificates, so content it signed keeps verifying */
	assert_int_equal(certificates_count(f), 2);
	assert_log_has(f, "Publisher.log", "1 previous certificate(s) removed");
}

static void test_import_failures_are_named(void **state)
{
	struct fx *f = *state;
	struct pp_error err = {0};
	char *pfx = make_pfx(f, "good", 365, "rsa:2048");
	char *ec = make_pfx(f, "ec", 365, "ec -pkeyopt ec_paramgen_curve:P-256");

	assert_int_equal(import(f, pfx, "wrong", false, false, &err), -1);
	assert_int_equal(err.code, CERTMGR_E_IMPORT);
	assert_log_has(f, "Publisher.log", "Certificate Import Failed: ");
	memset(&err, 0, sizeof(err));
	assert_int_equal(import(f, ec, "pw", false, false, &err), -1);
	assert_int_equal(err.code, CERTMGR_E_IMPORT);
	if (strstr(err.message, "ECDSA") == NULL && strstr(err.message, "RSA") == NULL)
		fail_msg("the ECDSA refusal does not say why: %s", err.message);
	assert_int_equal(signer_count(f), 0);
	memset(&err, 0, sizeof(err));
	assert_int_equal(import(f, pfx, "pw", false, false, &err), 0);
	assert_int_equal(signer_count(f), 1);
	free(pfx);
	free(ec);
}

static const char *item_name(json_t *status, size_t i)
{
	return json_string_value(
	    json_object_get(json_array_get(json_object_get(status, "items"), i), "name"));
}

static void test_status_turns_green(void **state)
{
	struct fx *f = *state;
	struct certmgr_step_result res;
	struct pp_error err = {0};
	json_t *st = NULL, *items;
	char thumb[41];

	assert_int_equal(certmgr_publisher_status(&f->cm, &st, &err), 0);
	assert_false(json_is_true(json_object_get(st, "ready")));
	assert_int_equal(json_array_size(json_object_get(st, "items")), 1);
	assert_string_equal(item_name(st, 0), "Third-party software updates enabled");
	json_decref(st);

	settings(f, true, STORE_CERT_MODE_MANUAL);
	assert_int_equal(certmgr_publisher_status(&f->cm, &st, &err), 0);
	items = json_object_get(st, "items");
	assert_string_equal(item_name(st, json_array_size(items) - 1),
			    "Signing certificate present");
	json_decref(st);

	create(f, 5, false, 0, thumb);
	assert_int_equal(certmgr_publisher_status(&f->cm, &st, &err), 0);
	items = json_object_get(st, "items");
	assert_string_equal(item_name(st, json_array_size(items) - 1),
			    "Signing certificate in Certificates");
	assert_false(json_is_true(json_object_get(st, "ready")));
	json_decref(st);

	sync_step(f, &res);
	assert_int_equal(certmgr_publisher_status(&f->cm, &st, &err), 0);
	assert_true(json_is_true(json_object_get(st, "ready")));
	assert_int_equal(json_array_size(json_object_get(st, "items")), 5);
	json_decref(st);

	/* not trusted on this server any more: the fourth item fails */
	{
		bool removed = false;

		assert_int_equal(certstore_remove(f->machine, CERTSTORE_TRUSTED_PUBLISHER,
						  CERTSTORE_LOCAL, thumb, &removed, &err),
				 0);
		assert_true(removed);
	}
	assert_int_equal(certmgr_publisher_status(&f->cm, &st, &err), 0);
	assert_false(json_is_true(json_object_get(st, "ready")));
	assert_string_equal(item_name(st, 3), "Signing certificate trusted on this server");
	json_decref(st);
}

static void test_show_fields(void **state)
{
	struct fx *f = *state;
	struct pp_error err = {0};
	json_t *show = NULL;
	char thumb[41];
	uint8_t *der = NULL;
	size_t der_len = 0;

	assert_int_equal(certmgr_publisher_show(&f->cm, &show, &err), -1);
	assert_int_equal(err.code, HR_CRYPT_E_NOT_FOUND);
	assert_string_equal(
	    err.message, "No certificate found in the signing store of the software update point");
	create(f, 5, false, 0, thumb);
	memset(&err, 0, sizeof(err));
	assert_int_equal(certmgr_publisher_show(&f->cm, &show, &err), 0);
	assert_string_equal(json_string_value(json_object_get(show, "thumbprint")), thumb);
	assert_string_equal(json_string_value(json_object_get(show, "subject")),
			    "CN=patchpoint Publisher");
	assert_string_equal(json_string_value(json_object_get(show, "public_key")), "RSA 2048-bit");
	assert_true(json_is_true(json_object_get(show, "trusted_publisher")));
	assert_true(json_is_true(json_object_get(show, "trusted_root")));
	assert_true(json_is_true(json_object_get(show, "self_signed")));
	assert_true(json_is_true(json_object_get(show, "meets_requirements")));
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(show, "trust_chain"), "symbol")),
	    "S_OK");
	json_decref(show);
	/* the export is the public certificate, DER */
	assert_int_equal(certmgr_publisher_cer(&f->cm, &der, &der_len, &err), 0);
	{
		const unsigned char *p = der;
		X509 *x = d2i_X509(NULL, &p, (long)der_len);
		char t[41];

		assert_non_null(x);
		assert_int_equal(pki_thumbprint(x, t), 0);
		assert_string_equal(t, thumb);
		X509_free(x);
	}
	free(der);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_disabled_does_nothing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_managed_empty_generates_and_inserts, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_manual_empty_takes_no_action, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_manual_valid_cert_is_imported, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_several_longest_validity_signs, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_expired_managed_is_replaced_and_blocked, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_expired_manual_takes_no_action, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_blocked_signing_cert_is_not_used, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_remote_http_gets_nothing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_create_refuses_overwrite_without_force, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_import_failures_are_named, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_status_turns_green, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_show_fields, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
