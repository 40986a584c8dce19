/* test_catalog.c - catalog import into the site database and export back: the HP fixture whole,
 * idempotence, revisions, skips that are the database's (duplicates, another catalog, an
 * administrator's update), and a failure half-way that leaves nothing behind. Also the update
 * calls of store.h. */
#include "catalog.h"
#include "hresult.h"
#include "sdp.h"
#include "store.h"
#include "testutil.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcntl.h>
#include <unistd.h>

#include <cmocka.h>

struct fx {
	char *dir, *db;
	struct store *store;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct pp_error err = {0};

	assert_non_null(f);
	f->dir = tu_tmpdir();
	f->db = tu_path(f->dir, "db");
	f->store = store_open_sqlite(f->db, &err);
	assert_non_null(f->store);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	store_close(f->store);
	tu_rmrf(f->dir);
	free(f->db);
	free(f->dir);
	free(f);
	return 0;
}

#define NS_DECL "xmlns:sdp=\"" SDP_NS "\" xmlns:cmd=\"" SDP_CMD_NS "\" xmlns:smc=\"" SDP_SMC_NS "\""
#define PKG(id, title)                                                                             \
	"<smc:SoftwareDistributionPackage><sdp:Properties PackageID=\"" id                         \
	"\" CreationDate=\"2026-01-01T00:00:00Z\" VendorName=\"Contoso\"><sdp:ProductName>Tools"   \
	"</sdp:ProductName></sdp:Properties><sdp:LocalizedProperties><sdp:Language>en"             \
	"</sdp:Language><sdp:Title>" title "</sdp:Title></sdp:LocalizedProperties>"                \
	"<sdp:InstallableItem ID=\"11111111-2222-3333-4444-555555555555\">"                        \
	"<cmd:CommandLineInstallerData Program=\"setup.exe\"/></sdp:InstallableItem>"              \
	"</smc:SoftwareDistributionPackage>"
#define CATALOG(body)                                                                              \
	"<smc:SystemsManagementCatalog " NS_DECL ">" body "</smc:SystemsManagementCatalog>"
#define ID1 "aaaaaaaa-0000-0000-0000-000000000001"
#define ID2 "aaaaaaaa-0000-0000-0000-000000000002"

static int import_text(struct store *s, const char *xml, const char *name,
		       struct catalog_import_result *res, struct pp_error *err)
{
	struct sdp_reader *r = sdp_reader_new_memory(xml, strlen(xml), err);
	int rc;

	assert_non_null(r);
	rc = catalog_import(s, r, name, false, NULL, NULL, res, err);
	sdp_reader_free(r);
	return rc;
}

static size_t count_updates(struct store *s, const struct store_update_filter *filter)
{
	struct store_update *list = NULL;
	struct pp_error err = {0};
	size_t n = 0;

	assert_int_equal(store_update_list(s, filter, &list, &n, &err), 0);
	free(list);
	return n;
}

static unsigned progress_calls;

static void on_progress(void *ctx, unsigned packages, uint64_t consumed)
{
	(void)ctx;
	assert_true(packages > 0 && consumed > 0);
	progress_calls++;
}

struct membuf {
	char *data;
	size_t len;
};

static int mem_write(void *ctx, const void *buf, size_t len, struct pp_error *err)
{
	struct membuf *m = ctx;

	(void)err;
	m->data = realloc(m->data, m->len + len + 1);
	assert_non_null(m->data);
	memcpy(m->data + m->len, buf, len);
	m->len += len;
	m->data[m->len] = '\0';
	return 0;
}

static void test_hp_import_export(void **state)
{
	struct fx *f = *state;
	char *path = tu_path(getenv("SHARED"), "fixtures/catalogs/HpCatalogForSms.xml.gz");
	int fd = open(path, O_RDONLY);
	struct pp_error err = {0};
	struct catalog_import_result res;
	struct sdp_reader *r;
	struct store_update u;
	struct membuf out = {0}, again = {0};
	struct store *other;
	char *db2 = tu_path(f->dir, "db2");
	unsigned count = 0;

	assert_true(fd >= 0);
	r = sdp_reader_new_fd(fd, &err);
	assert_non_null(r);
	progress_calls = 0;
	assert_int_equal(catalog_import(f->store, r, "HP", false, on_progress, NULL, &res, &err),
			 0);
	sdp_reader_free(r);
	assert_int_equal(res.packages, 1829);
	assert_int_equal(res.imported, 1829);
	assert_int_equal(res.skipped, 0);
	assert_int_equal(progress_calls, 18);
	catalog_import_result_clear(&res);
	assert_int_equal(count_updates(f->store, NULL), 1829);
	assert_int_equal(
	    store_update_get(f->store, "00004850-0000-0000-5350-000000065001", &u, &err), 0);
	assert_string_equal(u.title, "AMD Video Driver and Control Panel [13.152.1.9001-131203]");
	assert_string_equal(u.vendor, "HP Business Clients");
	assert_string_equal(u.kb, "sp65001");
	assert_int_equal(u.revision, 1);

	/* Again: unchanged. */
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	r = sdp_reader_new_fd(fd, &err);
	assert_int_equal(catalog_import(f->store, r, "HP", false, NULL, NULL, &res, &err), 0);
	sdp_reader_free(r);
	close(fd);
	assert_int_equal(res.unchanged, 1829);
	assert_int_equal(res.imported + res.updated + res.skipped, 0);
	catalog_import_result_clear(&res);

	/* Export, import into another database, export again: the same bytes. */
	assert_int_equal(catalog_export(f->store, NULL, mem_write, &out, &count, &err), 0);
	assert_int_equal(count, 1829);
	other = store_open_sqlite(db2, &err);
	assert_non_null(other);
	r = sdp_reader_new_memory(out.data, out.len, &err);
	assert_int_equal(catalog_import(other, r, "HP", false, NULL, NULL, &res, &err), 0);
	sdp_reader_free(r);
	assert_int_equal(res.imported, 1829);
	catalog_import_result_clear(&res);
	assert_int_equal(catalog_export(other, NULL, mem_write, &again, &count, &err), 0);
	assert_int_equal(out.len, again.len);
	assert_memory_equal(out.data, again.data, out.len);
	store_close(other);
	free(out.data);
	free(again.data);
	free(db2);
	free(path);
}

static void test_revision_and_skips(void **state)
{
	struct fx *f = *state;
	struct pp_error err = {0};
	struct catalog_import_result res;
	struct store_update u;
	struct store_update_filter by_title = {.title = "V2", .published = -1};

	assert_int_equal(
	    import_text(f->store, CATALOG(PKG(ID1, "Tool V1") PKG(ID2, "Other")), "C", &res, &err),
	    0);
	assert_int_equal(res.imported, 2);
	catalog_import_result_clear(&res);
	/* A changed package is a new revision; a duplicate in one input is skipped. */
	assert_int_equal(
	    import_text(f->store,
			CATALOG(PKG(ID1, "Tool V2") PKG(ID2, "Other") PKG(ID1, "Tool V3")), "C",
			&res, &err),
	    0);
	assert_int_equal(res.updated, 1);
	assert_int_equal(res.unchanged, 1);
	assert_int_equal(res.skipped, 1);
	assert_int_equal(res.skips[0].index, 3);
	assert_string_equal(res.skips[0].reason,
			    "PackageID " ID1 " appears more than once in this catalog");
	catalog_import_result_clear(&res);
	assert_int_equal(store_update_get(f->store, ID1, &u, &err), 0);
	assert_int_equal(u.revision, 2);
	assert_string_equal(u.title, "Tool V2");
	assert_int_equal(count_updates(f->store, &by_title), 1);
	/* Another catalog may not take it over. */
	assert_int_equal(import_text(f->store, CATALOG(PKG(ID1, "Tool V9")), "D", &res, &err), 0);
	assert_int_equal(res.skipped, 1);
	assert_string_equal(res.skips[0].reason, "the update is already in catalog \"C\"");
	catalog_import_result_clear(&res);
	/* Nor an administrator's own update. */
	u.catalog[0] = '\0';
	(void)snprintf(u.id, sizeof(u.id), "%s", "aaaaaaaa-0000-0000-0000-000000000003");
	{
		char *xml;
		size_t len;
		struct sdp_package *p;
		const char *one = CATALOG(PKG("aaaaaaaa-0000-0000-0000-000000000003", "Mine"));

		p = sdp_package_parse(one, strlen(one), &err);
		assert_non_null(p);
		assert_int_equal(catalog_update_row(p, "", &u, &xml, &len, &err), 0);
		u.revision = 1;
		assert_int_equal(store_update_put(f->store, &u, xml, len, &err), 0);
		free(xml);
		sdp_package_free(p);
	}
	assert_int_equal(import_text(f->store,
				     CATALOG(PKG("aaaaaaaa-0000-0000-0000-000000000003", "Theirs")),
				     "C", &res, &err),
			 0);
	assert_string_equal(res.skips[0].reason,
			    "PackageID aaaaaaaa-0000-0000-0000-000000000003 is an update an "
			    "administrator created; not replaced");
	catalog_import_result_clear(&res);
}

static void test_malformed_imports_nothing(void **state)
{
	struct fx *f = *state;
	struct pp_error err = {0};
	struct catalog_import_result res;
	struct store_catalog c;
	/* Two good packages, then the input ends inside the third. */
	const char *cut = "<smc:SystemsManagementCatalog " NS_DECL ">" PKG(ID1, "A")
	    PKG(ID2, "B") "<smc:SoftwareDistributionPackage>";

	assert_int_equal(import_text(f->store, cut, "Cut", &res, &err), -1);
	assert_int_equal(err.code, HR_ERROR_INVALID_DATA);
	assert_int_equal(count_updates(f->store, NULL), 0);
	pp_error_clear(&err);
	assert_int_equal(store_catalog_get(f->store, "Cut", &c, &err), -1);
	assert_int_equal(err.code, HR_CRYPT_E_NOT_FOUND);
	catalog_import_result_clear(&res);
}

static void test_store_update_rules(void **state)
{
	struct fx *f = *state;
	struct pp_error err = {0};
	struct store_update u = {0}, got;
	const char *xml = "<x/>";

	(void)snprintf(u.id, sizeof(u.id), "%s", ID1);
	(void)snprintf(u.vendor, sizeof(u.vendor), "V");
	(void)snprintf(u.product, sizeof(u.product), "P");
	(void)snprintf(u.title, sizeof(u.title), "T");
	(void)snprintf(u.creation_date, sizeof(u.creation_date), "2026-01-01");
	u.revision = 1;
	(void)snprintf(u.sdp_sha256, sizeof(u.sdp_sha256), "%064d", 0);
	assert_int_equal(store_update_put(f->store, &u, xml, strlen(xml), &err), -1);
	assert_string_equal(err.message,
			    "update " ID1 ": sdp_sha256 is not the SHA-256 of the SDP");
	{
		struct sdp_package *p;
		const char *one = CATALOG(PKG(ID1, "T"));
		char *x;
		size_t len;

		p = sdp_package_parse(one, strlen(one), &err);
		assert_non_null(p);
		assert_int_equal(catalog_update_row(p, "", &u, &x, &len, &err), 0);
		u.revision = 1;
		pp_error_clear(&err);
		assert_int_equal(store_update_put(f->store, &u, x, len, &err), 0);
		/* Upper case finds it; a non-GUID is refused before the database. */
		assert_int_equal(
		    store_update_get(f->store, "AAAAAAAA-0000-0000-0000-000000000001", &got, &err),
		    0);
		assert_string_equal(got.title, "T");
		assert_int_equal(store_update_get(f->store, "../etc", &got, &err), -1);
		assert_int_equal(err.code, HR_E_INVALIDARG);
		/* A control character in a title. */
		u.title[0] = '\n';
		pp_error_clear(&err);
		assert_int_equal(store_update_put(f->store, &u, x, len, &err), -1);
		assert_string_equal(err.message, "title contains a control character");
		/* An unknown catalog: the foreign key. */
		u.title[0] = 'T';
		(void)snprintf(u.catalog, sizeof(u.catalog), "Nope");
		pp_error_clear(&err);
		assert_int_equal(store_update_put(f->store, &u, x, len, &err), -1);
		assert_int_equal(err.code, HR_CRYPT_E_NOT_FOUND);
		free(x);
		sdp_package_free(p);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_hp_import_export, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_revision_and_skips, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_malformed_imports_nothing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_store_update_rules, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
