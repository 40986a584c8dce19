/* test_sdp.c - the SDP model, reader and writer, on the real HP and Dell fixtures of
 * ../shared/fixtures and on forged input. */
#include "sdp.h"

#include "hresult.h"
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

static char *fixture(const char *rel)
{
	const char *shared = getenv("SHARED");
	char *p;

	assert_non_null(shared);
	p = tu_path(shared, rel);
	return p;
}

#define HP_CATALOG "fixtures/catalogs/HpCatalogForSms.xml.gz"
#define DELL_SDP   "fixtures/sdp/dc718411-a5f1-4b15-966a-63a77cbb156e.sdp"

static struct sdp_package *parse_file(const char *rel)
{
	char *path = fixture(rel);
	size_t len;
	uint8_t *data = tu_read_file(path, &len);
	struct pp_error err = {0};
	struct sdp_package *p;

	assert_non_null(data);
	p = sdp_package_parse(data, len, &err);
	if (p == NULL)
		fail_msg("%s: %s", rel, err.message);
	free(data);
	free(path);
	return p;
}

static const char *attr_value(const struct sdp_attr *a, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(a[i].name, name) == 0)
			return a[i].value;
	}
	return NULL;
}

static void test_dell_fields(void **state)
{
	struct sdp_package *p = parse_file(DELL_SDP);
	const struct sdp_item *it;
	char b64[29];

	(void)state;
	assert_string_equal(p->package_id, "dc718411-a5f1-4b15-966a-63a77cbb156e");
	assert_string_equal(p->vendor_name, "Dell");
	assert_string_equal(p->product_name, "Drivers and Applications");
	assert_string_equal(p->creation_date, "2019-01-24T07:52:15Z");
	assert_string_equal(p->more_info_url, "http://downloads.dell.com/cmsdk/DSIA_Readme.doc");
	assert_string_equal(attr_value(p->prop_attrs, p->prop_attr_count, "PublicationState"),
			    "Published");
	assert_string_equal(attr_value(p->prop_attrs, p->prop_attr_count, "CanSourceBeRequired"),
			    "false");
	assert_int_equal(p->localized_count, 1);
	assert_string_equal(sdp_package_title(p),
			    "Dell OpenManage Inventory Agent (for Dell Business Client Systems)");
	assert_string_equal(p->update_classification, "Updates");
	assert_string_equal(p->msrc_severity, "Important");
	assert_string_equal(p->kb_article_id, "45YPT");
	assert_string_equal(p->security_bulletin_id, "45YPT");
	assert_non_null(strstr(p->is_installable, "WmiQuery"));
	assert_int_equal(p->item_count, 1);
	it = &p->items[0];
	assert_string_equal(it->id, "5968b32a-dc30-4186-8652-ecc4a7cdc684");
	assert_null(it->command_line);
	assert_non_null(it->other_handler);
	assert_non_null(strstr(it->other_handler, "<msi:MsiInstallerData"));
	assert_non_null(strstr(it->other_handler, "MsiFile=\"DSIAPC_1.6.6.5.msi\""));
	/* The kept fragment declares its own namespace. */
	assert_non_null(strstr(it->other_handler, "xmlns:msi=\""));
	assert_non_null(strstr(it->is_installed, "MsiProductInstalled"));
	assert_int_equal(it->origin_file_count, 1);
	assert_string_equal(it->origin_files[0].file_name, "DSIAPC_1.6.6.5.msi");
	assert_int_equal(it->origin_files[0].size, 26825728);
	sdp_digest_base64(it->origin_files[0].sha1, b64);
	assert_string_equal(b64, "7sJyfjiOzAzMVjZ7FqJLS0hQsG0=");
	assert_string_equal(it->origin_files[0].origin_uri,
			    "http://downloads.dell.com/FOLDER05427436M/1/DSIAPC_1.6.6.5.msi");
	assert_int_equal(it->language_count, 1);
	assert_string_equal(it->languages[0], "en");
	assert_string_equal(attr_value(it->install_attrs, it->install_attr_count, "RebootBehavior"),
			    "NeverReboots");
	sdp_package_free(p);
}

/* Two models are the same when they export to the same bytes (export covers every field). */
static void assert_same_package(const struct sdp_package *a, const struct sdp_package *b)
{
	struct pp_error err = {0};
	char *xa, *xb;
	size_t la, lb;

	assert_int_equal(sdp_package_to_xml(a, &xa, &la, &err), 0);
	assert_int_equal(sdp_package_to_xml(b, &xb, &lb, &err), 0);
	assert_int_equal(la, lb);
	assert_memory_equal(xa, xb, la);
	free(xa);
	free(xb);
}

static void test_dell_round_trip(void **state)
{
	struct sdp_package *p = parse_file(DELL_SDP), *q, *r;
	struct pp_error err = {0};
	char *x, *y;
	size_t n, m;

	(void)state;
	assert_int_equal(sdp_package_to_xml(p, &x, &n, &err), 0);
	q = sdp_package_parse(x, n, &err);
	if (q == NULL)
		fail_msg("re-import: %s\n%s", err.message, x);
	assert_same_package(p, q);
	/* And the export is a fixed point. */
	assert_int_equal(sdp_package_to_xml(q, &y, &m, &err), 0);
	assert_int_equal(n, m);
	assert_memory_equal(x, y, n);
	r = sdp_package_parse(y, m, &err);
	assert_non_null(r);
	assert_string_equal(r->items[0].origin_files[0].origin_uri,
			    "http://downloads.dell.com/FOLDER05427436M/1/DSIAPC_1.6.6.5.msi");
	free(x);
	free(y);
	sdp_package_free(p);
	sdp_package_free(q);
	sdp_package_free(r);
}

/* Reads every package of an open fd (gzip or not) into an array. */
static struct sdp_package **read_all(struct sdp_reader *r, size_t *count, unsigned *skipped)
{
	struct sdp_package **all = NULL;
	struct pp_error err = {0};
	struct sdp_skip skip;
	int rc;

	*count = 0;
	*skipped = 0;
	for (;;) {
		struct sdp_package *p = NULL;

		rc = sdp_reader_next(r, &p, &skip, &err);
		if (rc < 0)
			fail_msg("reader: %s", err.message);
		if (rc == SDP_NEXT_END)
			break;
		if (rc == SDP_NEXT_SKIPPED) {
			(*skipped)++;
			continue;
		}
		all = realloc(all, (*count + 1) * sizeof(*all));
		assert_non_null(all);
		all[(*count)++] = p;
	}
	return all;
}

static void free_all(struct sdp_package **all, size_t n)
{
	for (size_t i = 0; i < n; i++)
		sdp_package_free(all[i]);
	free(all);
}

struct membuf {
	char *data;
	size_t len, cap;
};

static int mem_write(void *ctx, const void *buf, size_t len, struct pp_error *err)
{
	struct membuf *m = ctx;

	(void)err;
	if (m->len + len > m->cap) {
		m->cap = (m->len + len) * 2;
		m->data = realloc(m->data, m->cap);
		assert_non_null(m->data);
	}
	memcpy(m->data + m->len, buf, len);
	m->len += len;
	return 0;
}

static void test_hp_catalog(void **state)
{
	char *path = fixture(HP_CATALOG);
	int fd = open(path, O_RDONLY);
	struct pp_error err = {0};
	struct sdp_reader *r;
	struct sdp_package **all, **again;
	struct sdp_catalog_writer *w;
	struct membuf out = {0};
	size_t n, n2, codes = 0, files = 0, localized = 0;
	unsigned skipped, skipped2;
	const struct sdp_package *first;

	(void)state;
	assert_true(fd >= 0);
	r = sdp_reader_new_fd(fd, &err);
	assert_non_null(r);
	all = read_all(r, &n, &skipped);
	assert_true(sdp_reader_is_catalog(r));
	assert_int_equal(sdp_reader_consumed(r), lseek(fd, 0, SEEK_END));
	sdp_reader_free(r);
	close(fd);
	assert_int_equal(n, 1829);
	assert_int_equal(skipped, 0);
	for (size_t i = 0; i < n; i++) {
		localized += all[i]->localized_count;
		for (size_t j = 0; j < all[i]->item_count; j++) {
			const struct sdp_item *it = &all[i]->items[j];

			assert_non_null(it->command_line);
			codes += it->command_line->return_code_count;
			files += it->origin_file_count;
		}
	}
	/* Counted independently in the fixture: 20,297 cmd:ReturnCode, one OriginFile each,
	 * 1,846 LocalizedProperties. */
	assert_int_equal(codes, 20297);
	assert_int_equal(files, 1829);
	assert_int_equal(localized, 1846);
	first = all[0];
	assert_string_equal(first->package_id, "00004850-0000-0000-5350-000000065001");
	assert_string_equal(first->vendor_name, "HP Business Clients");
	assert_string_equal(sdp_package_title(first),
			    "AMD Video Driver and Control Panel [13.152.1.9001-131203]");
	assert_string_equal(first->items[0].command_line->program, "sp65001.exe");
	assert_string_equal(first->items[0].command_line->arguments,
			    "-s -e cmd.exe -a /c \"setup.exe\" -Install");
	assert_int_equal(first->superseded_count, 43);

	/* Export the whole catalog and read it back: every package the same. */
	w = sdp_catalog_writer_new(mem_write, &out, &err);
	assert_non_null(w);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(sdp_catalog_writer_add(w, all[i], &err), 0);
	assert_int_equal(sdp_catalog_writer_finish(w, &err), 0);
	sdp_catalog_writer_free(w);
	r = sdp_reader_new_memory(out.data, out.len, &err);
	assert_non_null(r);
	again = read_all(r, &n2, &skipped2);
	sdp_reader_free(r);
	assert_int_equal(n2, n);
	assert_int_equal(skipped2, 0);
	for (size_t i = 0; i < n; i++)
		assert_same_package(all[i], again[i]);
	free_all(all, n);
	free_all(again, n2);
	free(out.data);
	free(path);
}

/* ---- forged input ---- */

#define NS_DECL "xmlns:sdp=\"" SDP_NS "\" xmlns:cmd=\"" SDP_CMD_NS "\" xmlns:smc=\"" SDP_SMC_NS "\""

#define PROPS(id)                                                                                  \
	"<sdp:Properties PackageID=\"" id "\" CreationDate=\"2026-01-01T00:00:00Z\" "              \
	"VendorName=\"Contoso\"><sdp:ProductName>Tools</sdp:ProductName></sdp:Properties>"
#define TITLE                                                                                      \
	"<sdp:LocalizedProperties><sdp:Language>en</sdp:Language><sdp:Title>Tool 1.0</sdp:Title>"  \
	"</sdp:LocalizedProperties>"
#define ITEM(origin)                                                                               \
	"<sdp:InstallableItem ID=\"11111111-2222-3333-4444-555555555555\">"                        \
	"<cmd:CommandLineInstallerData Program=\"setup.exe\" Arguments=\"/s\" "                    \
	"DefaultResult=\"Failed\" RebootByDefault=\"false\">"                                      \
	"<cmd:ReturnCode Code=\"0\" Result=\"Succeeded\" Reboot=\"false\"/>"                       \
	"<cmd:ReturnCode Code=\"3010\" Result=\"Succeeded\" Reboot=\"true\"/>"                     \
	"<cmd:ReturnCode Code=\"-1\" Result=\"Failed\" Reboot=\"false\"/>"                         \
	"</cmd:CommandLineInstallerData>" origin "</sdp:InstallableItem>"
#define ORIGIN                                                                                     \
	"<sdp:OriginFile Digest=\"7sJyfjiOzAzMVjZ7FqJLS0hQsG0=\" FileName=\"setup.exe\" "          \
	"Size=\"10\" OriginUri=\"http://example.invalid/setup.exe\"/>"
#define PKG(id, origin)                                                                            \
	"<smc:SoftwareDistributionPackage>" PROPS(id) TITLE ITEM(                                  \
	    origin) "</smc:SoftwareDistributionPackage>"
#define CATALOG(body)                                                                              \
	"<smc:SystemsManagementCatalog " NS_DECL ">" body "</smc:SystemsManagementCatalog>"

#define GOOD_ID "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"

/* Reads text through the reader: the skip reasons in order, then the end, or the error. */
static int run_reader(const char *xml, char *reasons, size_t size, unsigned *packages,
		      struct pp_error *err)
{
	struct sdp_reader *r = sdp_reader_new_memory(xml, strlen(xml), err);
	int rc;

	assert_non_null(r);
	reasons[0] = '\0';
	*packages = 0;
	for (;;) {
		struct sdp_package *p = NULL;
		struct sdp_skip skip;

		rc = sdp_reader_next(r, &p, &skip, err);
		if (rc == SDP_NEXT_PACKAGE)
			(*packages)++;
		sdp_package_free(p);
		if (rc == SDP_NEXT_SKIPPED) {
			size_t used = strlen(reasons);

			(void)snprintf(reasons + used, size - used, "%u %s: %s|", skip.index,
				       skip.package_id, skip.reason);
		}
		if (rc <= 0)
			break;
	}
	sdp_reader_free(r);
	return rc;
}

static void test_skips(void **state)
{
	struct {
		const char *xml;
		const char *reasons;
	} cases[] = {
	    {CATALOG(PKG(GOOD_ID, ORIGIN)), ""},
	    {CATALOG("<smc:SoftwareDistributionPackage>" TITLE ITEM(
		 ORIGIN) "</smc:SoftwareDistributionPackage>"),
	     "1 : the package has no sdp:Properties|"},
	    {CATALOG(PKG("not-a-guid", ORIGIN)), "1 : PackageID \"not-a-guid\" is not a GUID|"},
	    {CATALOG(
		 PKG(GOOD_ID, "<sdp:OriginFile Digest=\"abc\" FileName=\"a.exe\" Size=\"1\"/>")),
	     "1 " GOOD_ID ": sdp:OriginFile a.exe: Digest \"abc\" is not the base64 of a SHA-1|"},
	    {CATALOG(PKG(GOOD_ID, "<sdp:OriginFile Digest=\"7sJyfjiOzAzMVjZ7FqJLS0hQsG0=\" "
				  "FileName=\"../a.exe\" Size=\"1\"/>")),
	     "1 " GOOD_ID ": sdp:OriginFile FileName \"../a.exe\" is not a plain file name|"},
	    {CATALOG(PKG(GOOD_ID, "<sdp:OriginFile Digest=\"7sJyfjiOzAzMVjZ7FqJLS0hQsG0=\" "
				  "FileName=\"a.exe\" Size=\"-5\"/>")),
	     "1 " GOOD_ID ": sdp:OriginFile a.exe: Size \"-5\" is not a byte count|"},
	    {CATALOG("<smc:SoftwareDistributionPackage>" PROPS(GOOD_ID)
			 ITEM(ORIGIN) "</smc:SoftwareDistributionPackage>"),
	     "1 " GOOD_ID ": the package has no sdp:LocalizedProperties with a Title|"},
	    {CATALOG("<smc:SoftwareDistributionPackage>" PROPS(GOOD_ID) TITLE
		     "</smc:SoftwareDistributionPackage>"),
	     "1 " GOOD_ID ": the package has no sdp:InstallableItem|"},
	    /* A bad package among good ones: the others still come. */
	    {CATALOG(PKG(GOOD_ID, ORIGIN) PKG("x", ORIGIN) PKG(GOOD_ID, ORIGIN)),
	     "2 : PackageID \"x\" is not a GUID|"},
	};
	char reasons[2048];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pp_error err = {0};
		unsigned packages;
		int rc = run_reader(cases[i].xml, reasons, sizeof(reasons), &packages, &err);

		if (rc != SDP_NEXT_END)
			fail_msg("case %zu: %s", i, err.message);
		assert_string_equal(reasons, cases[i].reasons);
	}
}

static void test_return_codes_and_handler(void **state)
{
	const char *xml = "<sdp:SoftwareDistributionPackage " NS_DECL ">" PROPS(GOOD_ID)
	    TITLE ITEM(ORIGIN) "</sdp:SoftwareDistributionPackage>";
	struct pp_error err = {0};
	struct sdp_package *p = sdp_package_parse(xml, strlen(xml), &err);
	const struct sdp_command_line *cl;

	(void)state;
	assert_non_null(p);
	cl = p->items[0].command_line;
	assert_string_equal(cl->program, "setup.exe");
	assert_string_equal(cl->arguments, "/s");
	assert_int_equal(cl->default_result, SDP_RESULT_FAILED);
	assert_int_equal(cl->return_code_count, 3);
	assert_int_equal(cl->return_codes[1].code, 3010);
	assert_true(cl->return_codes[1].reboot);
	assert_int_equal(cl->return_codes[2].code, -1);
	assert_int_equal(cl->return_codes[2].result, SDP_RESULT_FAILED);
	sdp_package_free(p);
}

static void test_malformed(void **state)
{
	struct {
		const char *xml;
		uint32_t code;
		const char *message; /* a prefix */
	} cases[] = {
	    {"", HR_ERROR_INVALID_DATA, "malformed XML at line 1: "},
	    {"<x/>", HR_ERROR_INVALID_DATA, "the root element is x, not "},
	    {CATALOG(PKG(GOOD_ID, ORIGIN) "<smc:SoftwareDistributionPackage><sdp:Properties>"),
	     HR_ERROR_INVALID_DATA, "malformed XML at line 1: "},
	    /* A truncated catalog imports nothing: the error comes after the good package. */
	    {"<smc:SystemsManagementCatalog " NS_DECL ">" PKG(GOOD_ID, ORIGIN),
	     HR_ERROR_INVALID_DATA, "malformed XML at line 1: "},
	    {"<!DOCTYPE lol [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b "
	     "\"&a;&a;&a;&a;&a;&a;\">]>" CATALOG(PKG(GOOD_ID, ORIGIN)),
	     HR_ERROR_INVALID_DATA, "the document has a DTD"},
	    {CATALOG(PKG(GOOD_ID, ORIGIN)) "<trailing/>", HR_ERROR_INVALID_DATA,
	     "malformed XML at line 1: "},
	};
	char reasons[512];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pp_error err = {0};
		unsigned packages;
		int rc = run_reader(cases[i].xml, reasons, sizeof(reasons), &packages, &err);

		assert_int_equal(rc, -1);
		assert_int_equal(err.code, cases[i].code);
		if (strncmp(err.message, cases[i].message, strlen(cases[i].message)) != 0)
			fail_msg("case %zu: \"%s\" does not start with \"%s\"", i, err.message,
				 cases[i].message);
	}
}

static void test_truncated_gzip(void **state)
{
	char *path = fixture(HP_CATALOG);
	size_t len;
	uint8_t *gz = tu_read_file(path, &len);
	struct pp_error err = {0};
	struct sdp_reader *r;
	struct sdp_package *p = NULL;
	struct sdp_skip skip;
	int rc;
	unsigned n = 0;

	(void)state;
	assert_non_null(gz);
	r = sdp_reader_new_memory(gz, len / 2, &err);
	assert_non_null(r);
	while ((rc = sdp_reader_next(r, &p, &skip, &err)) > 0) {
		sdp_package_free(p);
		p = NULL;
		n++;
	}
	assert_int_equal(rc, -1);
	assert_true(n > 0 && n < 1829);
	assert_int_equal(err.code, HR_ERROR_INVALID_DATA);
	assert_string_equal(err.message, "the gzip stream ends early (truncated file)");
	sdp_reader_free(r);
	/* A damaged stream: a gzip header, then a deflate block of the reserved type 3. */
	{
		static const uint8_t bad[] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xff, 0xff, 0xff};

		pp_error_clear(&err);
		r = sdp_reader_new_memory(bad, sizeof(bad), &err);
		if (r != NULL) {
			rc = sdp_reader_next(r, &p, &skip, &err);
			assert_int_equal(rc, -1);
		}
		assert_int_equal(err.code, HR_ERROR_INVALID_DATA);
		assert_string_equal(err.message, "the gzip stream is damaged: invalid block type");
	}
	sdp_reader_free(r);
	free(gz);
	free(path);
}

static void test_package_too_large(void **state)
{
	size_t pad = SDP_PACKAGE_MAX + 1024 * 1024;
	const char *head = "<smc:SystemsManagementCatalog " NS_DECL
			   "><smc:SoftwareDistributionPackage>" PROPS(GOOD_ID) "<sdp:Pad>";
	const char *tail =
	    "</sdp:Pad></smc:SoftwareDistributionPackage></smc:SystemsManagementCatalog>";
	char *xml = malloc(strlen(head) + pad + strlen(tail) + 1);
	char reasons[256];
	struct pp_error err = {0};
	unsigned packages;

	(void)state;
	assert_non_null(xml);
	strcpy(xml, head);
	memset(xml + strlen(head), 'x', pad);
	strcpy(xml + strlen(head) + pad, tail);
	assert_int_equal(run_reader(xml, reasons, sizeof(reasons), &packages, &err), -1);
	assert_int_equal(err.code, HR_ERROR_FILE_TOO_LARGE);
	assert_string_equal(err.message, "package 1 is larger than 8388608 bytes of XML");
	free(xml);
}

/* A namespace declared once on the root is declared again in every kept fragment: 1,030
 * fragments of an 8,200-byte URI would export to more than a package may be. Skipped. */
static void test_fragment_amplification(void **state)
{
	size_t uri_len = 8200, count = 1030;
	char *uri = malloc(uri_len + 1), *xml;
	size_t cap = uri_len + count * 16 + 4096, used;
	char reasons[512];
	struct pp_error err = {0};
	unsigned packages;

	(void)state;
	assert_non_null(uri);
	memset(uri, 'u', uri_len);
	uri[uri_len] = '\0';
	xml = malloc(cap);
	assert_non_null(xml);
	used =
	    (size_t)snprintf(xml, cap,
			     "<smc:SystemsManagementCatalog " NS_DECL
			     "><smc:SoftwareDistributionPackage xmlns:x=\"urn:%s\">" PROPS(GOOD_ID)
				 TITLE ITEM(ORIGIN),
			     uri);
	for (size_t i = 0; i < count; i++)
		used += (size_t)snprintf(xml + used, cap - used, "<x:a/>");
	(void)snprintf(xml + used, cap - used,
		       "</smc:SoftwareDistributionPackage></smc:SystemsManagementCatalog>");
	assert_int_equal(run_reader(xml, reasons, sizeof(reasons), &packages, &err), SDP_NEXT_END);
	assert_int_equal(packages, 0);
	assert_string_equal(
	    reasons, "1 " GOOD_ID ": the package holds more than 4194304 bytes of text and XML|");
	free(xml);
	free(uri);
}

static void test_parse_one(void **state)
{
	const char *two = CATALOG(PKG(GOOD_ID, ORIGIN) PKG(GOOD_ID, ORIGIN));
	const char *none = CATALOG("");
	struct pp_error err = {0};

	(void)state;
	assert_null(sdp_package_parse(two, strlen(two), &err));
	assert_string_equal(err.message, "the document holds more than one package");
	pp_error_clear(&err);
	assert_null(sdp_package_parse(none, strlen(none), &err));
	assert_string_equal(err.message, "the document holds no package");
}

static void test_guid(void **state)
{
	(void)state;
	assert_true(sdp_guid_valid("dc718411-a5f1-4b15-966a-63a77cbb156e"));
	assert_true(sdp_guid_valid("DC718411-A5F1-4B15-966A-63A77CBB156E"));
	assert_false(sdp_guid_valid("dc718411-a5f1-4b15-966a-63a77cbb156"));
	assert_false(sdp_guid_valid("dc718411-a5f1-4b15-966a-63a77cbb156g"));
	assert_false(sdp_guid_valid("dc718411a-5f1-4b15-966a-63a77cbb156e"));
	assert_false(sdp_guid_valid(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_dell_fields),
	    cmocka_unit_test(test_dell_round_trip),
	    cmocka_unit_test(test_hp_catalog),
	    cmocka_unit_test(test_skips),
	    cmocka_unit_test(test_return_codes_and_handler),
	    cmocka_unit_test(test_malformed),
	    cmocka_unit_test(test_truncated_gzip),
	    cmocka_unit_test(test_package_too_large),
	    cmocka_unit_test(test_fragment_amplification),
	    cmocka_unit_test(test_parse_one),
	    cmocka_unit_test(test_guid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
