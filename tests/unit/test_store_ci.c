/* test_store_ci.c - configuration items, baselines, their deployments and the reports of devices
 * in the site database (src/server/store_ci.c, store_sqlite_ci.c, migration 0008): both kinds of
 * item made and refused (a DER that is not a certificate, an unknown thumbprint, Root for a
 * certificate that is not self-signed, an expected value not of its type, a duplicate name in
 * another case), revisions (moved by a change, not by a change to the same), baselines and the
 * refusals that keep them whole (unknown item, item twice, deleting a held item or a deployed
 * baseline, emptying a deployed one, an empty deploy, a collection in use), the deployments a
 * device gets (through a collection, through All Systems), reports (duplicates, a deleted
 * baseline ignored, the latest by time wins) and compliance (unknown before a report). Each
 * refusal leaves the database as it was. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "store.h"
#include "testcerts.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#define KEY	  "0123456789abcdef0123456789abcdef"
#define CRED1	  "c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1"
#define CRED2	  "c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2"
#define MACHINE_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define MACHINE_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define REPORT1	  "11111111-1111-4111-8111-111111111111"
#define REPORT2	  "22222222-2222-4222-8222-222222222222"
#define REPORT3	  "33333333-3333-4333-8333-333333333333"

#define assert_ok(call, err)                                                                       \
	do {                                                                                       \
		if ((call) != 0)                                                                   \
			fail_msg("%s: %s", #call, (err).message);                                  \
	} while (0)
#define assert_refused(call, err, want_code, want_message)                                         \
	do {                                                                                       \
		pp_error_clear(&(err));                                                            \
		assert_int_equal((call), -1);                                                      \
		assert_int_equal((err).code, (want_code));                                         \
		assert_string_equal((err).message, (want_message));                                \
	} while (0)

struct fx {
	char *dir, *db;
	struct store *s;
	uint8_t *root_der, *leaf_der;
	int root_len, leaf_len;
	char root_thumb[41];
	struct store_device a, b;
};

static uint8_t *der_of(const char *dir, const char *name, int *len)
{
	char *path = tu_path(dir, name);
	X509 *x = tc_load_cert(path);
	uint8_t *der = NULL;

	*len = i2d_X509(x, &der);
	assert_true(*len > 0);
	X509_free(x);
	free(path);
	return der;
}

static void device(struct store_device *d, const char *machine, const char *name)
{
	memset(d, 0, sizeof(*d));
	(void)snprintf(d->machine_id, sizeof(d->machine_id), "%s", machine);
	(void)snprintf(d->name, sizeof(d->name), "%s", name);
	(void)snprintf(d->client_version, sizeof(d->client_version), "5.00.9128.1000");
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct store_enrollment_key k;
	struct pp_error err;
	bool is_new;

	assert_non_null(f);
	pp_error_clear(&err);
	f->dir = tu_tmpdir();
	f->db = tu_path(f->dir, "site.db");
	f->s = store_open_sqlite(f->db, &err);
	if (f->s == NULL)
		fail_msg("open: %s", err.message);
	assert_ok(store_site_add(f->s, "PP1", "Primary", NULL, &err), err);
	assert_ok(store_enrollment_key_add(f->s, "lab", KEY, 0, &k, &err), err);
	device(&f->a, MACHINE_A, "desk-a");
	device(&f->b, MACHINE_B, "desk-b");
	assert_ok(store_device_register(f->s, KEY, CRED1, &f->a, &is_new, &err), err);
	assert_ok(store_device_register(f->s, KEY, CRED2, &f->b, &is_new, &err), err);
	tc_self_signed(f->dir, "root", "Signing Root", 30, TC_ADDEXT_CA);
	tc_issue(f->dir, "leaf", "Leaf Signer", "root", TC_EXT_CODE_SIGNING);
	f->root_der = der_of(f->dir, "root.pem", &f->root_len);
	f->leaf_der = der_of(f->dir, "leaf.pem", &f->leaf_len);
	tu_sha1_hex(f->root_der, (size_t)f->root_len, f->root_thumb);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	store_close(f->s);
	tu_rmrf(f->dir);
	OPENSSL_free(f->root_der);
	OPENSSL_free(f->leaf_der);
	free(f->dir);
	free(f->db);
	free(f);
	return 0;
}

static struct store_ci_spec cert_spec(const char *name, const uint8_t *der, int len, unsigned st)
{
	struct store_ci_spec spec;

	memset(&spec, 0, sizeof(spec));
	spec.name = name;
	spec.kind = CONFIGITEM_KIND_CERTIFICATE;
	spec.der = der;
	spec.der_len = (size_t)len;
	spec.stores = st;
	return spec;
}

static struct store_ci_spec script_spec(const char *name, enum configitem_type t,
					const char *expected)
{
	static const char disc[] = "echo 1\n";
	struct store_ci_spec spec;

	memset(&spec, 0, sizeof(spec));
	spec.name = name;
	spec.kind = CONFIGITEM_KIND_SCRIPT;
	spec.discovery = disc;
	spec.discovery_len = strlen(disc);
	spec.data_type = t;
	spec.expected = expected;
	return spec;
}

static size_t ci_count(struct store *s)
{
	struct store_ci *list = NULL;
	struct pp_error err;
	size_t n = 0;

	pp_error_clear(&err);
	assert_ok(store_ci_list(s, &list, &n, &err), err);
	store_ci_list_free(list, n);
	return n;
}

static void test_items(void **state)
{
	struct fx *f = *state;
	const unsigned both = CONFIGITEM_STORE_ROOT | CONFIGITEM_STORE_TRUSTED_PUBLISHER;
	struct store_ci_spec spec;
	struct store_ci ci, got;
	struct store_certificate cert;
	struct store_ci_change chg;
	struct pp_error err;
	uint8_t junk[16] = {0x30, 0x03, 0x02, 0x01, 0x01};
	char want[256];

	pp_error_clear(&err);
	spec = cert_spec("Signing certificate present", f->root_der, f->root_len, both);
	assert_ok(store_ci_create(f->s, &spec, &ci, &err), err);
	assert_true(ci.id > 0);
	assert_int_equal(ci.revision, 1);
	assert_string_equal(ci.thumbprint, f->root_thumb);
	assert_string_equal(ci.subject, "Signing Root");
	assert_int_equal(ci.stores, both);
	store_ci_clear(&ci);
	assert_ok(store_ci_get(f->s, "SIGNING certificate PRESENT", &got, &err), err);
	assert_int_equal(got.der_len, (size_t)f->root_len);
	assert_memory_equal(got.der, f->root_der, got.der_len);
	assert_null(got.discovery);
	store_ci_clear(&got);

	/* Refusals change nothing. */
	assert_refused(store_ci_create(f->s, &spec, &ci, &err), err, HR_ERROR_ALREADY_EXISTS,
		       "a configuration item named \"Signing certificate present\" already exists");
	spec.name = "signing CERTIFICATE present";
	assert_refused(store_ci_create(f->s, &spec, &ci, &err), err, HR_ERROR_ALREADY_EXISTS,
		       "a configuration item named \"Signing certificate present\" already exists");
	spec = cert_spec("junk", junk, 5, both);
	assert_refused(store_ci_create(f->s, &spec, &ci, &err), err, HR_E_INVALIDARG,
		       "the certificate is not a certificate (one DER-encoded X.509 certificate "
		       "was expected)");
	spec = cert_spec("leaf in Root", f->leaf_der, f->leaf_len, both);
	pp_error_clear(&err);
	assert_int_equal(store_ci_create(f->s, &spec, &ci, &err), -1);
	assert_int_equal(err.code, HR_E_INVALIDARG);
	assert_non_null(strstr(err.message, "(Leaf Signer) is not self-signed, so it cannot be a "
					    "root: require TrustedPublisher only"));
	spec.stores = CONFIGITEM_STORE_TRUSTED_PUBLISHER;
	assert_ok(store_ci_create(f->s, &spec, &ci, &err), err);
	store_ci_clear(&ci);
	spec = cert_spec("no stores", f->root_der, f->root_len, 0);
	assert_refused(store_ci_create(f->s, &spec, &ci, &err), err, HR_E_INVALIDARG,
		       "a certificate item needs the stores it must be in: Root, TrustedPublisher "
		       "or both");
	spec = cert_spec("by thumbprint", NULL, 0, both);
	spec.thumbprint = f->root_thumb;
	(void)snprintf(want, sizeof(want), "certificate %s is not in Certificates", f->root_thumb);
	assert_refused(store_ci_create(f->s, &spec, &ci, &err), err, HR_CRYPT_E_NOT_FOUND, want);
	assert_int_equal(ci_count(f->s), 2);

	/* By the thumbprint of a certificate the site has. */
	memset(&cert, 0, sizeof(cert));
	memcpy(cert.thumbprint, f->root_thumb, sizeof(cert.thumbprint));
	cert.der = f->root_der;
	cert.der_len = (size_t)f->root_len;
	(void)snprintf(cert.subject, sizeof(cert.subject), "Signing Root");
	assert_ok(store_certificate_add(f->s, &cert, NULL, &err), err);
	assert_ok(store_ci_create(f->s, &spec, &ci, &err), err);
	assert_string_equal(ci.thumbprint, f->root_thumb);
	store_ci_clear(&ci);

	/* Scripts: the expected value is kept canonical, and must be of the type. */
	spec = script_spec("Accept trusted publisher certs", CONFIGITEM_TYPE_INTEGER, " +01 ");
	assert_ok(store_ci_create(f->s, &spec, &ci, &err), err);
	assert_string_equal(ci.expected, "1");
	assert_int_equal(ci.timeout_seconds, CONFIGITEM_TIMEOUT_DEFAULT);
	assert_null(ci.remediation);
	store_ci_clear(&ci);
	spec = script_spec("bad integer", CONFIGITEM_TYPE_INTEGER, "abc");
	assert_refused(store_ci_create(f->s, &spec, &ci, &err), err, HR_E_INVALIDARG,
		       "the expected value \"abc\" is not an integer (a signed 64-bit decimal "
		       "number)");
	spec = script_spec("bad boolean", CONFIGITEM_TYPE_BOOLEAN, "maybe");
	assert_refused(store_ci_create(f->s, &spec, &ci, &err), err, HR_E_INVALIDARG,
		       "the expected value \"maybe\" is not a Boolean (true or false)");
	spec = script_spec("bad timeout", CONFIGITEM_TYPE_STRING, "x");
	spec.timeout_seconds = 3601;
	assert_refused(store_ci_create(f->s, &spec, &ci, &err), err, HR_E_INVALIDARG,
		       "a script's time limit is 1 to 3600 seconds, not 3601");
	spec = script_spec("empty script", CONFIGITEM_TYPE_STRING, "x");
	spec.discovery_len = 0;
	assert_refused(store_ci_create(f->s, &spec, &ci, &err), err, HR_E_INVALIDARG,
		       "the discovery script is empty");
	spec = script_spec("a/b", CONFIGITEM_TYPE_STRING, "x");
	assert_refused(store_ci_create(f->s, &spec, &ci, &err), err, HR_E_INVALIDARG,
		       "a configuration item name may not contain '/'");
	assert_int_equal(ci_count(f->s), 4);

	/* A change moves the revision once; the same again does not. */
	memset(&chg, 0, sizeof(chg));
	chg.set_expected = true;
	chg.expected = "2";
	assert_ok(store_ci_change(f->s, "accept trusted publisher certs", &chg, &ci, &err), err);
	assert_int_equal(ci.revision, 2);
	assert_string_equal(ci.expected, "2");
	store_ci_clear(&ci);
	assert_ok(store_ci_change(f->s, "accept trusted publisher certs", &chg, &ci, &err), err);
	assert_int_equal(ci.revision, 2);
	store_ci_clear(&ci);
	memset(&chg, 0, sizeof(chg));
	chg.set_type = true;
	chg.data_type = CONFIGITEM_TYPE_BOOLEAN;
	assert_refused(store_ci_change(f->s, "accept trusted publisher certs", &chg, &ci, &err),
		       err, HR_E_INVALIDARG,
		       "the expected value \"2\" is not a Boolean (true or false)");
	chg.set_expected = true;
	chg.expected = "TRUE";
	chg.set_remediation = true;
	chg.remediation = "exit 0\n";
	chg.remediation_len = 7;
	assert_ok(store_ci_change(f->s, "accept trusted publisher certs", &chg, &ci, &err), err);
	assert_int_equal(ci.revision, 3);
	assert_string_equal(ci.expected, "true");
	assert_string_equal(ci.remediation, "exit 0\n");
	store_ci_clear(&ci);
	memset(&chg, 0, sizeof(chg));
	chg.set_stores = true;
	chg.stores = CONFIGITEM_STORE_ROOT;
	assert_refused(store_ci_change(f->s, "accept trusted publisher certs", &chg, &ci, &err),
		       err, HR_E_INVALIDARG,
		       "configuration item \"Accept trusted publisher certs\" is a script: it has "
		       "no stores");
	assert_ok(store_ci_change(f->s, "signing certificate present", &chg, &ci, &err), err);
	assert_int_equal(ci.revision, 2);
	assert_int_equal(ci.stores, CONFIGITEM_STORE_ROOT);
	store_ci_clear(&ci);
	assert_refused(store_ci_get(f->s, "nothing", &ci, &err), err, HR_CRYPT_E_NOT_FOUND,
		       "configuration item \"nothing\" does not exist");
	assert_ok(store_ci_delete(f->s, "by thumbprint", &err), err);
	assert_int_equal(ci_count(f->s), 3);
}

/* Two items and a collection holding desk-a. */
static void two_items(struct fx *f, struct store_collection *coll)
{
	struct store_ci_spec spec;
	struct store_collection_rule rule;
	struct store_ci ci;
	struct pp_error err;

	pp_error_clear(&err);
	spec = cert_spec("cert", f->root_der, f->root_len, CONFIGITEM_STORE_ROOT);
	assert_ok(store_ci_create(f->s, &spec, &ci, &err), err);
	store_ci_clear(&ci);
	spec = script_spec("atpc", CONFIGITEM_TYPE_INTEGER, "1");
	assert_ok(store_ci_create(f->s, &spec, &ci, &err), err);
	store_ci_clear(&ci);
	memset(&rule, 0, sizeof(rule));
	rule.rule.kind = MEMBERSHIP_DIRECT;
	(void)snprintf(rule.rule.value, sizeof(rule.rule.value), "%s", f->a.id);
	assert_ok(store_collection_create(f->s, "Kiosks", &rule, 1, coll, &err), err);
}

static void test_baselines(void **state)
{
	struct fx *f = *state;
	const char *items[] = {"cert", "ATPC"}, *bad[] = {"cert", "nothing"},
		   *twice[] = {"cert", "cert"};
	struct store_baseline_deployment *deps = NULL, d;
	struct store_baseline_item *its = NULL;
	struct store_collection coll;
	struct store_baseline b, got;
	struct pp_error err;
	size_t n = 0;

	pp_error_clear(&err);
	two_items(f, &coll);
	assert_ok(store_baseline_create(f->s, "Trust", items, 2, &b, &err), err);
	assert_int_equal(b.revision, 1);
	assert_ok(store_baseline_items(f->s, b.id, &its, &n, &err), err);
	assert_int_equal(n, 2);
	assert_string_equal(its[0].name, "cert");
	assert_string_equal(its[1].name, "atpc");
	assert_int_equal(its[1].kind, CONFIGITEM_KIND_SCRIPT);
	free(its);
	assert_refused(store_baseline_create(f->s, "TRUST", items, 2, &got, &err), err,
		       HR_ERROR_ALREADY_EXISTS,
		       "a configuration baseline named \"Trust\" already exists");
	assert_refused(store_baseline_create(f->s, "Other", bad, 2, &got, &err), err,
		       HR_CRYPT_E_NOT_FOUND, "configuration item \"nothing\" does not exist");
	assert_refused(store_baseline_get(f->s, "Other", &got, &err), err, HR_CRYPT_E_NOT_FOUND,
		       "configuration baseline \"Other\" does not exist");
	assert_refused(store_baseline_create(f->s, "Twice", twice, 2, &got, &err), err,
		       HR_ERROR_ALREADY_EXISTS,
		       "configuration item \"cert\" is in baseline \"Twice\" already");
	assert_ok(store_baseline_create(f->s, "Empty", NULL, 0, &got, &err), err);
	assert_refused(
	    store_baseline_deploy(f->s, "Empty", "Kiosks", true, 0, &d, &err), err, HR_E_INVALIDARG,
	    "configuration baseline \"Empty\" has no configuration items; add one before "
	    "deploying it");
	assert_refused(store_baseline_deploy(f->s, "Trust", "Nowhere", true, 0, &d, &err), err,
		       HR_CRYPT_E_NOT_FOUND, "collection \"Nowhere\" does not exist");
	assert_refused(store_baseline_deploy(f->s, "Trust", "Kiosks", true, 8761, &d, &err), err,
		       HR_E_INVALIDARG,
		       "a baseline's evaluation schedule is 1 to 8760 hours, not 8761");
	assert_ok(store_baseline_deploy(f->s, "trust", "kiosks", true, 0, &d, &err), err);
	assert_int_equal(d.schedule_hours, CONFIGITEM_SCHEDULE_HOURS_DEFAULT);
	assert_true(d.remediate);
	assert_refused(store_baseline_deploy(f->s, "Trust", coll.id, false, 2, &d, &err), err,
		       HR_ERROR_ALREADY_EXISTS,
		       "configuration baseline \"Trust\" is deployed to collection \"Kiosks\" "
		       "already");

	/* What a deployment holds in place. */
	assert_refused(
	    store_ci_delete(f->s, "cert", &err), err, HR_E_INVALIDARG,
	    "configuration item \"cert\" cannot be deleted: baseline \"Trust\" holds it; "
	    "remove it from the baseline first");
	assert_refused(store_baseline_delete(f->s, "Trust", &err), err, HR_E_INVALIDARG,
		       "configuration baseline \"Trust\" cannot be deleted: it is deployed to "
		       "collection \"Kiosks\"; undeploy it first");
	assert_refused(store_collection_delete(f->s, "Kiosks", &err), err, HR_E_INVALIDARG,
		       "collection \"Kiosks\" cannot be deleted: configuration baseline \"Trust\" "
		       "is deployed to it");
	assert_ok(store_baseline_remove_item(f->s, "Trust", "atpc", &err), err);
	assert_refused(store_baseline_remove_item(f->s, "Trust", "cert", &err), err,
		       HR_E_INVALIDARG,
		       "configuration item \"cert\" is the last of baseline \"Trust\", which is "
		       "deployed; undeploy the baseline first");
	assert_refused(store_baseline_remove_item(f->s, "Trust", "atpc", &err), err,
		       HR_CRYPT_E_NOT_FOUND,
		       "configuration item \"atpc\" is not in baseline \"Trust\"");
	assert_ok(store_baseline_add_item(f->s, "Trust", "atpc", &err), err);
	assert_refused(store_baseline_add_item(f->s, "Trust", "atpc", &err), err,
		       HR_ERROR_ALREADY_EXISTS,
		       "configuration item \"atpc\" is in baseline \"Trust\" already");
	assert_ok(store_baseline_get(f->s, "Trust", &got, &err), err);
	assert_int_equal(got.revision, 3);
	assert_int_equal(got.item_count, 2);
	assert_int_equal(got.deployment_count, 1);

	/* Which devices get it: desk-a through Kiosks; desk-b once it goes to All Systems. */
	assert_ok(store_device_baseline_deployments(f->s, f->a.id, &deps, &n, &err), err);
	assert_int_equal(n, 1);
	assert_string_equal(deps[0].baseline_name, "Trust");
	assert_string_equal(deps[0].collection_name, "Kiosks");
	free(deps);
	assert_ok(store_device_baseline_deployments(f->s, f->b.id, &deps, &n, &err), err);
	assert_int_equal(n, 0);
	free(deps);
	assert_ok(store_baseline_deploy(f->s, "Trust", "All Systems", false, 24, &d, &err), err);
	assert_ok(store_device_baseline_deployments(f->s, f->b.id, &deps, &n, &err), err);
	assert_int_equal(n, 1);
	assert_string_equal(deps[0].collection_id, STORE_ALL_SYSTEMS);
	assert_false(deps[0].remediate);
	assert_int_equal(deps[0].schedule_hours, 24);
	free(deps);
	assert_ok(store_baseline_undeploy(f->s, "Trust", "All Systems", &err), err);
	assert_refused(store_baseline_undeploy(f->s, "Trust", "All Systems", &err), err,
		       HR_CRYPT_E_NOT_FOUND,
		       "configuration baseline \"Trust\" is not deployed to collection \"All "
		       "Systems\"");
	assert_ok(store_baseline_undeploy(f->s, "Trust", "Kiosks", &err), err);
	assert_ok(store_baseline_delete(f->s, "Trust", &err), err);
	assert_ok(store_ci_delete(f->s, "cert", &err), err);
	assert_ok(store_collection_delete(f->s, "Kiosks", &err), err);
}

static void test_reports(void **state)
{
	struct fx *f = *state;
	const char *items[] = {"cert", "atpc"};
	struct store_ci_result res[2];
	struct store_baseline_report r[2];
	struct store_ci_compliance *rows = NULL;
	struct store_baseline_item *its = NULL;
	struct store_baseline_deployment d;
	struct store_collection coll;
	struct store_baseline b;
	struct pp_error err;
	size_t n = 0, acc, dup, ign;

	pp_error_clear(&err);
	two_items(f, &coll);
	assert_ok(store_baseline_create(f->s, "Trust", items, 2, &b, &err), err);
	assert_ok(store_baseline_deploy(f->s, "Trust", "Kiosks", true, 0, &d, &err), err);
	assert_ok(store_baseline_items(f->s, b.id, &its, &n, &err), err);

	/* Before any report: desk-a is targeted, its items Unknown; desk-b is not there. */
	assert_ok(store_baseline_compliance(f->s, b.id, &rows, &n, &err), err);
	assert_int_equal(n, 2);
	assert_string_equal(rows[0].device_name, "desk-a");
	assert_string_equal(rows[0].item_name, "cert");
	assert_int_equal(rows[0].state, CONFIGITEM_UNKNOWN);
	assert_int_equal(rows[0].report_time, 0);
	assert_string_equal(rows[1].item_name, "atpc");
	free(rows);

	memset(res, 0, sizeof(res));
	res[0].item_id = its[0].item_id;
	res[0].item_revision = 1;
	res[0].state = CONFIGITEM_REMEDIATED;
	res[1].item_id = its[1].item_id;
	res[1].item_revision = 1;
	res[1].state = CONFIGITEM_ERROR;
	res[1].has_exit_code = true;
	res[1].exit_code = 3;
	(void)snprintf(res[1].detail, sizeof(res[1].detail), "the discovery script exited with 3");
	memset(r, 0, sizeof(r));
	(void)snprintf(r[0].id, sizeof(r[0].id), REPORT1);
	r[0].time = 1000;
	r[0].baseline_id = b.id;
	r[0].baseline_revision = 1;
	r[0].results = res;
	r[0].count = 2;
	r[1] = r[0];
	(void)snprintf(r[1].id, sizeof(r[1].id), REPORT2);
	r[1].baseline_id = b.id + 100; /* deleted (or never made): ignored */
	assert_ok(store_baseline_reports_add(f->s, f->a.id, r, 2, &acc, &dup, &ign, &err), err);
	assert_int_equal(acc, 1);
	assert_int_equal(dup, 0);
	assert_int_equal(ign, 1);
	assert_ok(store_baseline_reports_add(f->s, f->a.id, r, 1, &acc, &dup, &ign, &err), err);
	assert_int_equal(acc, 0);
	assert_int_equal(dup, 1);

	/* desk-b reports without being targeted: it shows too. An older report of desk-a does
	 * not replace the newer one. */
	res[0].state = CONFIGITEM_NON_COMPLIANT;
	res[1].state = CONFIGITEM_COMPLIANT;
	res[1].has_exit_code = false;
	res[1].detail[0] = '\0';
	(void)snprintf(r[0].id, sizeof(r[0].id), REPORT3);
	r[0].time = 500;
	assert_ok(store_baseline_reports_add(f->s, f->a.id, r, 1, &acc, &dup, &ign, &err), err);
	assert_int_equal(acc, 1);
	(void)snprintf(r[0].id, sizeof(r[0].id), "44444444-4444-4444-8444-444444444444");
	assert_ok(store_baseline_reports_add(f->s, f->b.id, r, 1, &acc, &dup, &ign, &err), err);
	assert_ok(store_baseline_compliance(f->s, b.id, &rows, &n, &err), err);
	assert_int_equal(n, 4);
	assert_string_equal(rows[0].device_name, "desk-a");
	assert_int_equal(rows[0].state, CONFIGITEM_REMEDIATED);
	assert_int_equal(rows[0].report_time, 1000);
	assert_int_equal(rows[1].state, CONFIGITEM_ERROR);
	assert_true(rows[1].has_exit_code);
	assert_int_equal(rows[1].exit_code, 3);
	assert_false(rows[1].has_hresult);
	assert_string_equal(rows[1].detail, "the discovery script exited with 3");
	assert_string_equal(rows[2].device_name, "desk-b");
	assert_int_equal(rows[2].state, CONFIGITEM_NON_COMPLIANT);
	assert_int_equal(rows[3].state, CONFIGITEM_COMPLIANT);
	free(rows);

	/* Refused whole: a bad result, too many reports. */
	res[1].item_id = res[0].item_id;
	(void)snprintf(r[0].id, sizeof(r[0].id), "55555555-5555-4555-8555-555555555555");
	assert_refused(store_baseline_reports_add(f->s, f->a.id, r, 1, &acc, &dup, &ign, &err), err,
		       HR_E_INVALIDARG, "report 0: item 1 has two results");
	free(its);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_items, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_baselines, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reports, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
