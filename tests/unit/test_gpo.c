/* test_gpo.c - group policy objects on the site: the model (src/server/gpo.c: ids, versions,
 * GPT.INI, the Registry.pol it builds, read back through src/lib/regpol with every Blob
 * checked, and the application order of a device's GPOs) and the store (store_gpo.c,
 * store_sqlite_gpo.c, migration 0006): create, names and ids, certificates and values with the
 * version bumped on each change and not on a repeat, links with their orders, and every
 * refusal leaving the GPO exactly as it was. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "gpo.h"
#include "hresult.h"
#include "pki.h"
#include "regpol.h"
#include "store.h"
#include "testcerts.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#define KEY	  "0123456789abcdef0123456789abcdef"
#define CRED	  "c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1"
#define MACHINE_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define ATPC	  "AcceptTrustedPublisherCerts"

struct fx {
	char *dir, *db;
	struct store *s;
	uint8_t *der[2];
	size_t der_len[2];
	char thumb[2][PKI_THUMBPRINT_LEN + 1];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct store_enrollment_key k;
	struct pp_error err = {0};
	const char *names[2] = {"wsus", "other"};
	int i;

	assert_non_null(f);
	f->dir = tu_tmpdir();
	f->db = tu_path(f->dir, "site.db");
	f->s = store_open_sqlite(f->db, &err);
	if (f->s == NULL)
		fail_msg("open: %s", err.message);
	assert_int_equal(store_site_add(f->s, "PP1", "Primary", NULL, &err), 0);
	assert_int_equal(store_enrollment_key_add(f->s, "lab", KEY, 0, &k, &err), 0);
	tc_self_signed(f->dir, "wsus", "WSUS Publishers Self-signed", 365, "");
	tc_self_signed(f->dir, "other", "Other", 365, "");
	for (i = 0; i < 2; i++) {
		char file[16], *p;
		X509 *x;
		unsigned char *der = NULL;

		(void)snprintf(file, sizeof(file), "%s.pem", names[i]);
		p = tu_path(f->dir, file);
		x = tc_load_cert(p);
		f->der_len[i] = (size_t)i2d_X509(x, &der);
		f->der[i] = malloc(f->der_len[i] + 1);
		memcpy(f->der[i], der, f->der_len[i]);
		assert_int_equal(pki_thumbprint(x, f->thumb[i]), 0);
		OPENSSL_free(der);
		X509_free(x);
		free(p);
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	store_close(f->s);
	tu_rmrf(f->dir);
	free(f->der[0]);
	free(f->der[1]);
	free(f->dir);
	free(f->db);
	free(f);
	return 0;
}

/* ---- the model ---- */

static void test_ids_and_versions(void **state)
{
	char a[STORE_GPO_ID_LEN + 1], b[STORE_GPO_ID_LEN + 1], n[STORE_GPO_ID_LEN + 1];
	char ini[GPO_GPT_INI_MAX];
	struct pp_error err = {0};
	uint32_t v = 0;
	const char *canon, *key;

	(void)state;
	assert_int_equal(gpo_id_new(a, &err), 0);
	assert_int_equal(gpo_id_new(b, &err), 0);
	assert_true(gpo_id_valid(a));
	assert_string_not_equal(a, b);
	assert_int_equal(strlen(a), 38);
	assert_int_equal(a[15], '4'); /* version 4 */
	assert_int_equal(strspn(a + 1, "0123456789ABCDEF-"), 36);
	assert_true(gpo_id_normalize("{6ac1786c-016f-11d2-945f-00c04fb984f9}", n));
	assert_string_equal(n, "{6AC1786C-016F-11D2-945F-00C04FB984F9}");
	assert_false(gpo_id_valid("6AC1786C-016F-11D2-945F-00C04FB984F9"));
	assert_false(gpo_id_valid("{6AC1786C-016F-11D2-945F-00C04FB984F}"));
	assert_false(gpo_id_valid("{6AC1786C-016F-11D2-945F+00C04FB984F9}"));
	assert_false(gpo_id_valid("{6AC1786C-016F-11D2-945F-00C04FB984FG}"));
	assert_false(gpo_id_normalize("nope", n));
	assert_string_equal(n, "");

	assert_int_equal(gpo_version_machine(0x00030002u), 2);
	assert_int_equal(gpo_version_user(0x00030002u), 3);
	assert_int_equal(gpo_version_bump(0x00030002u, "G", &v, &err), 0);
	assert_int_equal(v, 0x00030003u);
	assert_int_equal(gpo_version_bump(0x0003FFFFu, "G", &v, &err), -1);
	assert_string_equal(err.message, "GPO \"G\" is at machine version 65535, the largest "
					 "GPT.INI can hold; make a new GPO instead");

	assert_int_equal(gpo_gpt_ini(65539, ini), 26);
	assert_string_equal(ini, "[General]\r\nVersion=65539\r\n");
	assert_int_equal(gpo_gpt_ini(0, ini), 22);
	assert_string_equal(ini, "[General]\r\nVersion=0\r\n"); /* as samba-tool gpo create */

	assert_int_equal(gpo_store_parse("trustedpublisher", &canon, &err), 0);
	assert_string_equal(canon, "TrustedPublisher");
	pp_error_clear(&err);
	assert_int_equal(gpo_store_parse("CA", &canon, &err), -1);
	assert_string_equal(err.message, "unknown store \"CA\": a GPO deploys certificates to Root "
					 "or TrustedPublisher");
	assert_int_equal(gpo_policy_parse("accepttrustedpublishercerts", &canon, &key, &err), 0);
	assert_string_equal(canon, ATPC);
	assert_string_equal(key, "Software\\Policies\\Microsoft\\Windows\\WindowsUpdate");
	pp_error_clear(&err);
	assert_int_equal(gpo_policy_value_check(ATPC, 2, &err), -1);
	assert_string_equal(err.message, ATPC " is 1 (Enabled) or 0 (Disabled), not 2");
}

static void test_registry_pol(void **state)
{
	struct fx *f = *state;
	struct store_gpo_cert certs[3];
	struct store_gpo_value vals[1] = {{ATPC, 1}};
	struct pp_error err = {0};
	struct regpol *pol;
	uint8_t *img = NULL;
	size_t len = 0, i;
	X509 *x = NULL;
	uint32_t dw = 0;
	char key[160];

	memset(certs, 0, sizeof(certs));
	/* Given out of order: the file is sorted by key. */
	(void)snprintf(certs[0].store, sizeof(certs[0].store), "TrustedPublisher");
	(void)snprintf(certs[1].store, sizeof(certs[1].store), "Root");
	(void)snprintf(certs[2].store, sizeof(certs[2].store), "Root");
	for (i = 0; i < 3; i++) {
		int k = i == 2 ? 1 : 0;

		memcpy(certs[i].thumbprint, f->thumb[k], sizeof(certs[i].thumbprint));
		certs[i].der = f->der[k];
		certs[i].der_len = f->der_len[k];
	}
	assert_int_equal(gpo_registry_pol(certs, 3, vals, 1, &img, &len, &err), 0);
	pol = regpol_parse(img, len, &err);
	assert_non_null(pol);
	assert_int_equal(pol->count, 4);
	for (i = 0; i < 3; i++) {
		assert_string_equal(pol->entries[i].value, "Blob");
		assert_int_equal(pol->entries[i].type, REGPOL_REG_BINARY);
	}
	/* Root < TrustedPublisher, and within Root by thumbprint. */
	{
		int lo = strcmp(f->thumb[0], f->thumb[1]) < 0 ? 0 : 1;

		(void)snprintf(key, sizeof(key), REGPOL_CERT_KEY_PREFIX "Root\\Certificates\\%s",
			       f->thumb[lo]);
		assert_string_equal(pol->entries[0].key, key);
		(void)snprintf(key, sizeof(key), REGPOL_CERT_KEY_PREFIX "Root\\Certificates\\%s",
			       f->thumb[1 - lo]);
		assert_string_equal(pol->entries[1].key, key);
	}
	(void)snprintf(key, sizeof(key),
		       REGPOL_CERT_KEY_PREFIX "TrustedPublisher\\Certificates\\%s", f->thumb[0]);
	assert_string_equal(pol->entries[2].key, key);
	assert_int_equal(regpol_cert_blob_parse(pol->entries[2].data, pol->entries[2].size,
						f->thumb[0], &x, &err),
			 0);
	X509_free(x);
	assert_string_equal(pol->entries[3].key,
			    "Software\\Policies\\Microsoft\\Windows\\WindowsUpdate");
	assert_string_equal(pol->entries[3].value, ATPC);
	assert_int_equal(regpol_dword_read(pol->entries[3].type, pol->entries[3].data,
					   pol->entries[3].size, &dw, &err),
			 0);
	assert_int_equal(dw, 1);
	regpol_free(pol);
	free(img);

	/* Empty: the 8-byte header alone. */
	assert_int_equal(gpo_registry_pol(NULL, 0, NULL, 0, &img, &len, &err), 0);
	assert_int_equal(len, 8);
	assert_memory_equal(img, "PReg\x01\x00\x00\x00", 8);
	free(img);

	/* A row whose thumbprint is not its certificate's is refused, not written. */
	memcpy(certs[0].thumbprint, f->thumb[1], sizeof(certs[0].thumbprint));
	pp_error_clear(&err);
	assert_int_equal(gpo_registry_pol(certs, 1, NULL, 0, &img, &len, &err), -1);
	assert_int_equal(err.code, HR_ERROR_INVALID_DATA);
	assert_null(img);
}

static struct store_gpo_link mklink(const char *gpo, const char *coll, int64_t order)
{
	struct store_gpo_link l;

	memset(&l, 0, sizeof(l));
	(void)snprintf(l.gpo_id, sizeof(l.gpo_id), "%s", gpo);
	(void)snprintf(l.gpo_name, sizeof(l.gpo_name), "%s", gpo);
	(void)snprintf(l.collection_id, sizeof(l.collection_id), "%s", coll);
	l.link_order = order;
	return l;
}

static void test_application_order(void **state)
{
	struct store_gpo_link links[6], *out = NULL;
	struct store_collection colls[2];
	struct pp_error err = {0};
	size_t n = 0;

	(void)state;
	memset(colls, 0, sizeof(colls));
	(void)snprintf(colls[0].id, sizeof(colls[0].id), "SMS00001");
	(void)snprintf(colls[1].id, sizeof(colls[1].id), "PP100010");
	links[0] = mklink("A", "SMS00001", 1);
	links[1] = mklink("B", "SMS00001", 2);
	links[2] = mklink("C", "PP100010", 1);
	links[3] = mklink("A", "PP100010", 2);
	links[4] = mklink("D", "PP100099", 1); /* another collection: not this device's */
	links[5] = mklink("E", "PP100010", 3);
	assert_int_equal(gpo_application_order(links, 6, colls, 2, &out, &n, &err), 0);
	/* All Systems from link order 2 to 1 (B, A), then PP100010 from 3 to 1 (E, A, C); A
	 * is applied once, at its last place. */
	assert_int_equal(n, 4);
	assert_string_equal(out[0].gpo_id, "B");
	assert_string_equal(out[1].gpo_id, "E");
	assert_string_equal(out[2].gpo_id, "A");
	assert_string_equal(out[2].collection_id, "PP100010");
	assert_string_equal(out[3].gpo_id, "C");
	free(out);
	assert_int_equal(gpo_application_order(links, 6, colls, 0, &out, &n, &err), 0);
	assert_int_equal(n, 0);
	assert_null(out);
}

/* ---- the store ---- */

/* The GPO as text, to show that a refusal changed nothing. */
static char *describe(struct store *s, const char *gpo)
{
	struct store_gpo_contents c;
	struct pp_error err = {0};
	char *out = NULL;
	size_t len = 0, i;
	FILE *m = open_memstream(&out, &len);

	assert_non_null(m);
	assert_int_equal(store_gpo_read(s, gpo, &c, &err), 0);
	fprintf(m, "%s %s v%u\n", c.gpo.id, c.gpo.name, (unsigned)c.gpo.version);
	for (i = 0; i < c.ncerts; i++)
		fprintf(m, "cert %s %s %s\n", c.certs[i].store, c.certs[i].thumbprint,
			c.certs[i].subject);
	for (i = 0; i < c.nvalues; i++)
		fprintf(m, "value %s=%u\n", c.values[i].name, (unsigned)c.values[i].value);
	for (i = 0; i < c.nlinks; i++)
		fprintf(m, "link %s %s %lld\n", c.links[i].collection_id,
			c.links[i].collection_name, (long long)c.links[i].link_order);
	fclose(m);
	store_gpo_contents_free(&c);
	return out;
}

#define REFUSED(call, code_, want_)                                                                \
	do {                                                                                       \
		char *before_ = describe(f->s, "Trust");                                           \
		char *after_;                                                                      \
		pp_error_clear(&err);                                                              \
		assert_int_equal((call), -1);                                                      \
		assert_int_equal(err.code, (code_));                                               \
		assert_string_equal(err.message, (want_));                                         \
		after_ = describe(f->s, "Trust");                                                  \
		assert_string_equal(after_, before_);                                              \
		free(before_);                                                                     \
		free(after_);                                                                      \
	} while (0)

static void test_store_gpo(void **state)
{
	struct fx *f = *state;
	struct store_gpo g, got, *list = NULL;
	struct pp_error err = {0};
	bool changed = true;
	size_t n = 0;
	char lower[STORE_GPO_ID_LEN + 1], msg[256], *d;
	uint8_t junk[8] = {0x30, 0x03, 0x02, 0x01, 0x01, 0, 0, 0};

	assert_int_equal(store_gpo_create(f->s, "Trust", &g, &err), 0);
	assert_true(gpo_id_valid(g.id));
	assert_int_equal(g.version, 0);
	for (size_t i = 0; i <= STORE_GPO_ID_LEN; i++)
		lower[i] = (char)(g.id[i] >= 'A' && g.id[i] <= 'F' ? g.id[i] + 32 : g.id[i]);
	assert_int_equal(store_gpo_get(f->s, lower, &got, &err), 0);
	assert_string_equal(got.id, g.id);
	assert_int_equal(store_gpo_get(f->s, "TRUST", &got, &err), 0);
	assert_string_equal(got.id, g.id);
	pp_error_clear(&err);
	assert_int_equal(store_gpo_get(f->s, "Nope", &got, &err), -1);
	assert_int_equal(err.code, HR_CRYPT_E_NOT_FOUND);
	assert_string_equal(err.message, "GPO \"Nope\" does not exist");

	/* Names. */
	pp_error_clear(&err);
	assert_int_equal(store_gpo_create(f->s, "trust", &got, &err), -1);
	assert_int_equal(err.code, HR_ERROR_ALREADY_EXISTS);
	(void)snprintf(msg, sizeof(msg), "a GPO named \"Trust\" exists already (%s)", g.id);
	assert_string_equal(err.message, msg);
	pp_error_clear(&err);
	assert_int_equal(
	    store_gpo_create(f->s, "{6AC1786C-016F-11D2-945F-00C04FB984F9}", &got, &err), -1);
	assert_int_equal(err.code, HR_E_INVALIDARG);
	pp_error_clear(&err);
	assert_int_equal(store_gpo_create(f->s, "a/b", &got, &err), -1);
	assert_string_equal(err.message, "a GPO name may not contain '/'");
	pp_error_clear(&err);
	assert_int_equal(store_gpo_create(f->s, "", &got, &err), -1);
	assert_int_equal(err.code, HR_E_INVALIDARG);

	/* Certificates: each change bumps the machine version. */
	assert_int_equal(
	    store_gpo_cert_add(f->s, "Trust", "root", f->der[0], f->der_len[0], &got, &err), 0);
	assert_int_equal(got.version, 1);
	assert_int_equal(store_gpo_cert_add(f->s, g.id, "TrustedPublisher", f->der[0],
					    f->der_len[0], &got, &err),
			 0);
	assert_int_equal(got.version, 2);
	(void)snprintf(msg, sizeof(msg),
		       "certificate %s is already in the Root store of GPO \"Trust\"", f->thumb[0]);
	REFUSED(store_gpo_cert_add(f->s, "Trust", "Root", f->der[0], f->der_len[0], NULL, &err),
		HR_ERROR_ALREADY_EXISTS, msg);
	REFUSED(store_gpo_cert_add(f->s, "Trust", "CA", f->der[1], f->der_len[1], NULL, &err),
		HR_E_INVALIDARG,
		"unknown store \"CA\": a GPO deploys certificates to Root or TrustedPublisher");
	REFUSED(store_gpo_cert_add(f->s, "Trust", "Root", junk, sizeof(junk), NULL, &err),
		HR_E_INVALIDARG, "the data is not one DER-encoded X.509 certificate");
	{
		uint8_t *longer = malloc(f->der_len[1] + 1);

		memcpy(longer, f->der[1], f->der_len[1]);
		longer[f->der_len[1]] = 0;
		REFUSED(store_gpo_cert_add(f->s, "Trust", "Root", longer, f->der_len[1] + 1, NULL,
					   &err),
			HR_E_INVALIDARG, "the data is not one DER-encoded X.509 certificate");
		free(longer);
	}
	REFUSED(store_gpo_cert_add(f->s, "Nope", "Root", f->der[1], f->der_len[1], NULL, &err),
		HR_CRYPT_E_NOT_FOUND, "GPO \"Nope\" does not exist");
	(void)snprintf(msg, sizeof(msg),
		       "certificate %s is not in the TrustedPublisher store of "
		       "GPO \"Trust\"",
		       f->thumb[1]);
	REFUSED(store_gpo_cert_remove(f->s, "Trust", "TrustedPublisher", f->thumb[1], &err),
		HR_CRYPT_E_NOT_FOUND, msg);
	REFUSED(store_gpo_cert_remove(f->s, "Trust", "Root", "12:34", &err), HR_E_INVALIDARG,
		"\"12:34\" is not a certificate thumbprint (40 hexadecimal digits)");

	/* Values: a repeat does not bump. */
	assert_int_equal(store_gpo_value_set(f->s, "Trust", "acceptTrustedPublisherCerts", 1,
					     &changed, &got, &err),
			 0);
	assert_true(changed);
	assert_int_equal(got.version, 3);
	assert_int_equal(store_gpo_value_set(f->s, "Trust", ATPC, 1, &changed, &got, &err), 0);
	assert_false(changed);
	assert_int_equal(got.version, 3);
	REFUSED(store_gpo_value_set(f->s, "Trust", ATPC, 2, NULL, NULL, &err), HR_E_INVALIDARG,
		ATPC " is 1 (Enabled) or 0 (Disabled), not 2");
	REFUSED(store_gpo_value_set(f->s, "Trust", "NoAutoUpdate", 1, NULL, NULL, &err),
		HR_E_INVALIDARG,
		"unknown policy \"NoAutoUpdate\": a GPO sets AcceptTrustedPublisherCerts");
	d = describe(f->s, "Trust");
	(void)snprintf(
	    msg, sizeof(msg),
	    "%s Trust v3\ncert Root %s WSUS Publishers Self-signed\ncert TrustedPublisher "
	    "%s WSUS Publishers Self-signed\nvalue " ATPC "=1\n",
	    g.id, f->thumb[0], f->thumb[0]);
	assert_string_equal(d, msg);
	free(d);
	assert_int_equal(
	    store_gpo_cert_remove(f->s, "Trust", "trustedpublisher", f->thumb[0], &err), 0);
	assert_int_equal(store_gpo_get(f->s, "Trust", &got, &err), 0);
	assert_int_equal(got.version, 4);
	/* "Not Configured": the value goes, the version goes up; twice is refused. */
	assert_int_equal(store_gpo_value_clear(f->s, "Trust", ATPC, &got, &err), 0);
	assert_int_equal(got.version, 5);
	REFUSED(store_gpo_value_clear(f->s, "Trust", ATPC, NULL, &err), HR_CRYPT_E_NOT_FOUND,
		"GPO \"Trust\" does not set " ATPC);
	REFUSED(store_gpo_value_clear(f->s, "Trust", "WUServer", NULL, &err), HR_E_INVALIDARG,
		"unknown policy \"WUServer\": a GPO sets " ATPC);
	d = describe(f->s, "Trust");
	(void)snprintf(msg, sizeof(msg), "%s Trust v5\ncert Root %s WSUS Publishers Self-signed\n",
		       g.id, f->thumb[0]);
	assert_string_equal(d, msg);
	free(d);

	assert_int_equal(store_gpo_create(f->s, "Another", &got, &err), 0);
	assert_int_equal(store_gpo_list(f->s, &list, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_string_equal(list[0].name, "Another"); /* by name */
	assert_string_equal(list[1].name, "Trust");
	free(list);
	assert_int_equal(store_gpo_delete(f->s, "another", &err), 0);
	pp_error_clear(&err);
	assert_int_equal(store_gpo_delete(f->s, "Another", &err), -1);
	assert_int_equal(err.code, HR_CRYPT_E_NOT_FOUND);
}

static void test_links_and_devices(void **state)
{
	struct fx *f = *state;
	struct store_collection_rule rule;
	struct store_collection servers;
	struct store_gpo a, b, c;
	struct store_gpo_link l, *list = NULL;
	struct store_device dev;
	struct pp_error err = {0};
	bool is_new = false;
	size_t n = 0;
	char *d;

	memset(&dev, 0, sizeof(dev));
	(void)snprintf(dev.machine_id, sizeof(dev.machine_id), MACHINE_A);
	(void)snprintf(dev.name, sizeof(dev.name), "srv-01");
	(void)snprintf(dev.client_version, sizeof(dev.client_version), "5.00.9128.1000");
	assert_int_equal(store_device_register(f->s, KEY, CRED, &dev, &is_new, &err), 0);
	memset(&rule, 0, sizeof(rule));
	rule.rule.kind = MEMBERSHIP_DIRECT;
	(void)snprintf(rule.rule.value, sizeof(rule.rule.value), "%s", dev.id);
	assert_int_equal(store_collection_create(f->s, "Servers", &rule, 1, &servers, &err), 0);
	assert_int_equal(store_gpo_create(f->s, "Trust", &a, &err), 0);
	assert_int_equal(store_gpo_create(f->s, "B", &b, &err), 0);
	assert_int_equal(store_gpo_create(f->s, "C", &c, &err), 0);

	assert_int_equal(store_gpo_link(f->s, "Trust", "servers", 0, &l, &err), 0);
	assert_int_equal(l.link_order, 1);
	assert_string_equal(l.collection_id, servers.id);
	assert_int_equal(store_gpo_link(f->s, "B", servers.id, 0, &l, &err), 0);
	assert_int_equal(l.link_order, 2);
	/* C at link order 1: the others move down. */
	assert_int_equal(store_gpo_link(f->s, "C", "Servers", 1, &l, &err), 0);
	assert_int_equal(l.link_order, 1);
	assert_int_equal(store_gpo_link(f->s, "B", "All Systems", 0, &l, &err), 0);
	assert_int_equal(store_gpo_links(f->s, NULL, &list, &n, &err), 0);
	assert_int_equal(n, 4);
	/* By collection id: PP1... before SMS00001. */
	assert_string_equal(list[0].gpo_name, "C");
	assert_int_equal(list[0].link_order, 1);
	assert_string_equal(list[1].gpo_name, "Trust");
	assert_int_equal(list[1].link_order, 2);
	assert_string_equal(list[2].gpo_name, "B");
	assert_int_equal(list[2].link_order, 3);
	assert_string_equal(list[3].collection_id, "SMS00001");
	free(list);
	/* Linking does not bump the version. */
	assert_int_equal(store_gpo_get(f->s, "Trust", &a, &err), 0);
	assert_int_equal(a.version, 0);

	REFUSED(store_gpo_link(f->s, "Trust", "Servers", 0, NULL, &err), HR_ERROR_ALREADY_EXISTS,
		"GPO \"Trust\" is already linked to collection \"Servers\" (link order 2)");
	REFUSED(store_gpo_link(f->s, "Trust", "Nope", 0, NULL, &err), HR_CRYPT_E_NOT_FOUND,
		"collection \"Nope\" does not exist");
	REFUSED(store_gpo_link(f->s, "Trust", "All Systems", 3, NULL, &err), HR_E_INVALIDARG,
		"link order 3 is not 1 to 2 (collection \"All Systems\" has 1 GPO link(s))");
	REFUSED(store_gpo_unlink(f->s, "Trust", "All Systems", &err), HR_CRYPT_E_NOT_FOUND,
		"GPO \"Trust\" is not linked to collection \"All Systems\"");

	/* The device: All Systems first (B), then Servers from 3 to 1 (B again, Trust, C). */
	assert_int_equal(store_device_gpos(f->s, dev.id, &list, &n, &err), 0);
	assert_int_equal(n, 3);
	assert_string_equal(list[0].gpo_name, "B");
	assert_string_equal(list[0].collection_id, servers.id);
	assert_string_equal(list[1].gpo_name, "Trust");
	assert_string_equal(list[2].gpo_name, "C");
	assert_string_equal(list[2].collection_name, "Servers");
	free(list);

	/* Unlinking renumbers. */
	assert_int_equal(store_gpo_unlink(f->s, "C", "Servers", &err), 0);
	d = describe(f->s, "Trust");
	assert_non_null(strstr(d, " Servers 1\n"));
	free(d);
	/* Deleting a GPO takes its links; deleting a collection takes the links on it. */
	assert_int_equal(store_gpo_delete(f->s, "Trust", &err), 0);
	assert_int_equal(store_gpo_links(f->s, NULL, &list, &n, &err), 0);
	assert_int_equal(n, 2);
	free(list);
	assert_int_equal(store_collection_delete(f->s, "Servers", &err), 0);
	assert_int_equal(store_gpo_links(f->s, NULL, &list, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(list[0].collection_id, "SMS00001");
	free(list);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ids_and_versions),
	    cmocka_unit_test_setup_teardown(test_registry_pol, setup, teardown),
	    cmocka_unit_test(test_application_order),
	    cmocka_unit_test_setup_teardown(test_store_gpo, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_links_and_devices, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
