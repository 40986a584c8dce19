/* test_store.c - the site database: hierarchy rules, hierarchy settings on the top-level site
 * only, SUPs, Certificates, one sync at a time across connections and processes, hashed admin
 * tokens, transactions, migrations (once, newer schema refused, a broken one rolled back) and a
 * writer that dies mid-transaction. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "store.h"
#include "store_migrations.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <sqlite3.h>

struct fx {
	char *dir;
	char *db;
	struct store *s;
};

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct pp_error err;

	assert_non_null(f);
	pp_error_clear(&err);
	f->dir = tu_tmpdir();
	f->db = tu_path(f->dir, "site.db");
	f->s = store_open_sqlite(f->db, &err);
	if (f->s == NULL)
		fail_msg("open: %s", err.message);
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;

	store_close(f->s);
	tu_rmrf(f->dir);
	free(f->dir);
	free(f->db);
	free(f);
	return 0;
}

/* Asserts that the last call failed with code and that its message holds needle. */
#define assert_error(rc, err, hr, needle)                                                          \
	do {                                                                                       \
		assert_int_equal((rc), -1);                                                        \
		assert_int_equal((err).code, (hr));                                                \
		if (strstr((err).message, (needle)) == NULL)                                       \
			fail_msg("message \"%s\" lacks \"%s\"", (err).message, (needle));          \
		pp_error_clear(&(err));                                                            \
	} while (0)

#define assert_ok(rc, err)                                                                         \
	do {                                                                                       \
		if ((rc) != 0)                                                                     \
			fail_msg("failed: 0x%08X %s", (unsigned)(err).code, (err).message);        \
	} while (0)

/* One integer from a query on a separate connection (foreign keys on, as the store's). */
static int64_t raw_int(const char *db, const char *sql)
{
	sqlite3 *h = NULL;
	sqlite3_stmt *st = NULL;
	int64_t v = -1;

	assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_busy_timeout(h, 5000), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(h);
	return v;
}

static int last_migration(void)
{
	return store_migrations[store_migration_count - 1].version;
}

/* ---- migrations ---- */

static void test_open_applies_migrations_once(void **state)
{
	struct fx *f = *state;
	struct pp_error err;
	int version = 0;
	int64_t applied;

	pp_error_clear(&err);
	assert_ok(store_schema_version(f->s, &version, &err), err);
	assert_int_equal(version, last_migration());
	assert_int_equal(raw_int(f->db, "SELECT count(*) FROM schema_migrations"),
			 store_migration_count);
	assert_int_equal(raw_int(f->db, "SELECT count(*) FROM pragma_journal_mode WHERE "
					"journal_mode = 'wal'"),
			 1);
	applied = raw_int(f->db, "SELECT sum(applied_at) FROM schema_migrations");
	store_close(f->s);
	sleep(1);
	f->s = store_open_sqlite(f->db, &err);
	assert_non_null(f->s);
	assert_int_equal(raw_int(f->db, "SELECT count(*) FROM schema_migrations"),
			 store_migration_count);
	assert_int_equal(raw_int(f->db, "SELECT sum(applied_at) FROM schema_migrations"), applied);
	assert_int_equal(raw_int(f->db, "SELECT count(*) FROM hierarchy_settings"), 1);
}

/* The compiled-in migrations plus one more at the end. */
static struct store_migration *with_extra(const char *sql)
{
	struct store_migration *m = calloc(store_migration_count + 1, sizeof(*m));

	assert_non_null(m);
	memcpy(m, store_migrations, store_migration_count * sizeof(*m));
	m[store_migration_count].version = last_migration() + 1;
	m[store_migration_count].name = "9999_extra";
	m[store_migration_count].sql = sql;
	return m;
}

static void test_newer_schema_refused(void **state)
{
	struct fx *f = *state;
	struct pp_error err;
	struct store_migration *m = with_extra("CREATE TABLE future (x INTEGER);");
	struct store *s;
	char want[64];

	pp_error_clear(&err);
	store_close(f->s);
	f->s = store_open_sqlite_with(f->db, m, store_migration_count + 1, &err);
	assert_non_null(f->s);
	store_close(f->s);
	f->s = NULL;
	s = store_open_sqlite(f->db, &err);
	assert_null(s);
	(void)snprintf(want, sizeof(want), "schema version %d, newer", last_migration() + 1);
	assert_error(-1, err, STORE_E_SCHEMA_NEWER, want);
	free(m);
	f->s = store_open_sqlite_with(f->db, NULL, 0, &err);
	assert_null(f->s);
	assert_int_equal(err.code, STORE_E_SCHEMA_NEWER);
}

/* A migration numbered below one already applied still runs (a branch's 0006 applied before
 * main's 0005 was merged in). */
static void test_gap_migration_applied_later(void **state)
{
	struct fx *f = *state;
	struct pp_error err;
	struct store_migration *m = calloc(store_migration_count + 2, sizeof(*m));
	int version = 0;

	assert_non_null(m);
	memcpy(m, store_migrations, store_migration_count * sizeof(*m));
	m[store_migration_count] = (struct store_migration){last_migration() + 2, "later",
							    "CREATE TABLE later (x INTEGER);"};
	pp_error_clear(&err);
	store_close(f->s);
	f->s = store_open_sqlite_with(f->db, m, store_migration_count + 1, &err);
	assert_non_null(f->s);
	store_close(f->s);
	m[store_migration_count + 1] = m[store_migration_count];
	m[store_migration_count] = (struct store_migration){last_migration() + 1, "between",
							    "CREATE TABLE mid (x INTEGER);"};
	f->s = store_open_sqlite_with(f->db, m, store_migration_count + 2, &err);
	assert_non_null(f->s);
	assert_int_equal(raw_int(f->db, "SELECT count(*) FROM sqlite_master WHERE name = 'mid'"),
			 1);
	assert_int_equal(raw_int(f->db, "SELECT count(*) FROM schema_migrations"),
			 store_migration_count + 2);
	assert_ok(store_schema_version(f->s, &version, &err), err);
	assert_int_equal(version, last_migration() + 2);
	free(m);
}

static void test_failed_migration_keeps_previous_version(void **state)
{
	struct fx *f = *state;
	struct pp_error err;
	struct store_migration *m =
	    with_extra("CREATE TABLE half (x INTEGER);\nINSERT INTO no_such_table VALUES (1);");

	pp_error_clear(&err);
	store_close(f->s);
	f->s = store_open_sqlite_with(f->db, m, store_migration_count + 1, &err);
	assert_null(f->s);
	assert_int_equal(err.code, HR_E_FAIL);
	assert_non_null(strstr(err.message, "9999_extra"));
	assert_non_null(strstr(err.message, "no_such_table"));
	assert_int_equal(raw_int(f->db, "SELECT max(version) FROM schema_migrations"),
			 last_migration());
	assert_int_equal(raw_int(f->db, "SELECT count(*) FROM sqlite_master WHERE name = 'half'"),
			 0);
	free(m);
	pp_error_clear(&err);
	f->s = store_open_sqlite(f->db, &err);
	assert_non_null(f->s);
}

/* A migration runs on the store's own connection, so it proves foreign keys are on there. */
static void test_foreign_keys_enforced(void **state)
{
	struct fx *f = *state;
	struct pp_error err;
	struct store_migration *m =
	    with_extra("INSERT INTO sups (site_code, url, location, sync_source, created_at) "
		       "VALUES ('ZZZ', 'http://sup', 'local', 0, 0);");
	struct store_sup sup = {.site_code = "ZZZ", .url = "http://sup"};

	pp_error_clear(&err);
	assert_error(store_sup_add(f->s, &sup, &err), err, HR_CRYPT_E_NOT_FOUND,
		     "site ZZZ does not exist");
	store_close(f->s);
	f->s = store_open_sqlite_with(f->db, m, store_migration_count + 1, &err);
	assert_null(f->s);
	assert_non_null(strstr(err.message, "FOREIGN KEY constraint failed"));
	assert_int_equal(raw_int(f->db, "SELECT count(*) FROM sups"), 0);
	free(m);
	pp_error_clear(&err);
	f->s = store_open_sqlite(f->db, &err);
	assert_non_null(f->s);
}

static void test_open_errors(void **state)
{
	struct fx *f = *state;
	struct pp_error err;
	char *p = tu_path(f->dir, "missing-dir/site.db");
	char *junk = tu_path(f->dir, "junk.db");

	pp_error_clear(&err);
	assert_null(store_open_sqlite(p, &err));
	assert_int_equal(err.code, HR_ERROR_FILE_NOT_FOUND);
	assert_non_null(strstr(err.message, "missing-dir"));
	pp_error_clear(&err);
	tu_write_file(junk, "this is not a database, it is long enough to have a header...", 62);
	assert_null(store_open_sqlite(junk, &err));
	assert_int_not_equal(err.code, 0);
	assert_non_null(strstr(err.message, "not a database"));
	free(p);
	free(junk);
}

/* ---- sites ---- */

static void test_sites(void **state)
{
	struct fx *f = *state;
	struct pp_error err;
	struct store_site site, *list = NULL;
	size_t n = 0;

	pp_error_clear(&err);
	assert_error(store_top_level_site(f->s, &site, &err), err, HR_CRYPT_E_NOT_FOUND, "no site");
	assert_ok(store_site_add(f->s, "CAS", "Central", NULL, &err), err);
	assert_ok(store_site_add(f->s, "PR2", "Second", "CAS", &err), err);
	assert_ok(store_site_add(f->s, "PR1", "First", "CAS", &err), err);

	assert_ok(store_site_get(f->s, "PR1", &site, &err), err);
	assert_string_equal(site.name, "First");
	assert_string_equal(site.parent_code, "CAS");
	assert_false(site.has_children);
	assert_ok(store_top_level_site(f->s, &site, &err), err);
	assert_string_equal(site.code, "CAS");
	assert_string_equal(site.parent_code, "");
	assert_true(site.has_children);

	assert_ok(store_site_list(f->s, &list, &n, &err), err);
	assert_int_equal(n, 3);
	assert_string_equal(list[0].code, "CAS");
	assert_string_equal(list[1].code, "PR1");
	assert_string_equal(list[2].code, "PR2");
	free(list);

	assert_error(store_site_add(f->s, "TOP", "Second root", NULL, &err), err,
		     HR_ERROR_ALREADY_EXISTS, "top-level site CAS");
	assert_error(store_site_add(f->s, "TOP", "Second root", "", &err), err,
		     HR_ERROR_ALREADY_EXISTS, "top-level site CAS");
	assert_error(store_site_add(f->s, "PR1", "Again", "CAS", &err), err,
		     HR_ERROR_ALREADY_EXISTS, "site PR1 already exists");
	assert_error(store_site_add(f->s, "PR3", "Orphan", "XYZ", &err), err, HR_CRYPT_E_NOT_FOUND,
		     "parent site XYZ does not exist");
	assert_error(store_site_add(f->s, "PR3", "Self", "PR3", &err), err, HR_E_INVALIDARG,
		     "its own parent");
	assert_error(store_site_add(f->s, "SEC", "Grandchild", "PR1", &err), err, HR_E_INVALIDARG,
		     "cannot have child sites");
	assert_error(store_site_add(f->s, "pr3", "Lower", "CAS", &err), err, HR_E_INVALIDARG,
		     "3 characters");
	assert_error(store_site_add(f->s, "PR", "Short", "CAS", &err), err, HR_E_INVALIDARG,
		     "3 characters");
	assert_error(store_site_add(f->s, "PR34", "Long", "CAS", &err), err, HR_E_INVALIDARG,
		     "3 characters");
	assert_error(store_site_add(f->s, NULL, "Null", "CAS", &err), err, HR_E_INVALIDARG,
		     "3 characters");
	assert_error(store_site_add(f->s, "P-1", "Dash", "CAS", &err), err, HR_E_INVALIDARG,
		     "3 characters");
	assert_error(store_site_add(f->s, "AUX", "Reserved", "CAS", &err), err, HR_E_INVALIDARG,
		     "reserved");
	assert_error(store_site_add(f->s, "PR3", "", "CAS", &err), err, HR_E_INVALIDARG,
		     "site name is empty");
	assert_error(store_site_add(f->s, "PR3", "Bad\nname", "CAS", &err), err, HR_E_INVALIDARG,
		     "control character");
	assert_error(store_site_add(f->s, "PR3", "x", "cas", &err), err, HR_E_INVALIDARG,
		     "parent site code");
	assert_error(store_site_get(f->s, "NOP", &site, &err), err, HR_CRYPT_E_NOT_FOUND,
		     "site NOP does not exist");
	assert_int_equal(raw_int(f->db, "SELECT count(*) FROM sites"), 3);
}

/* Decision: a CAS can be added above a standalone primary (Configuration Manager's "expand a
 * standalone primary"), only through store_site_add_cas_above; the settings stay. */
static void test_cas_above_standalone_primary(void **state)
{
	struct fx *f = *state;
	struct pp_error err;
	struct store_site site;
	struct store_third_party_settings set = {true, STORE_CERT_MODE_MANUAL, "", 0}, got;

	pp_error_clear(&err);
	assert_error(store_site_add_cas_above(f->s, "CAS", "Central", &err), err,
		     HR_CRYPT_E_NOT_FOUND, "add a primary site first");
	assert_ok(store_site_add(f->s, "PP1", "Standalone", NULL, &err), err);
	assert_ok(store_third_party_settings_set(f->s, "PP1", &set, &err), err);
	assert_error(store_site_add(f->s, "CAS", "Central", NULL, &err), err,
		     HR_ERROR_ALREADY_EXISTS, "top-level site PP1");
	assert_error(store_site_add_cas_above(f->s, "PP1", "Same", &err), err,
		     HR_ERROR_ALREADY_EXISTS, "site PP1 already exists");

	assert_ok(store_site_add_cas_above(f->s, "CAS", "Central", &err), err);
	assert_ok(store_top_level_site(f->s, &site, &err), err);
	assert_string_equal(site.code, "CAS");
	assert_true(site.has_children);
	assert_ok(store_site_get(f->s, "PP1", &site, &err), err);
	assert_string_equal(site.parent_code, "CAS");
	assert_ok(store_third_party_settings_get(f->s, &got, &err), err);
	assert_true(got.enable_third_party_updates);
	assert_int_equal(got.certificate_mode, STORE_CERT_MODE_MANUAL);
	assert_string_equal(got.top_level_site, "CAS");
	assert_error(store_third_party_settings_set(f->s, "PP1", &set, &err), err,
		     STORE_E_NOT_TOP_LEVEL, "top-level site CAS");

	assert_error(store_site_add_cas_above(f->s, "CA2", "Another", &err), err, HR_E_INVALIDARG,
		     "already has child sites");
	assert_int_equal(raw_int(f->db, "SELECT count(*) FROM sites WHERE parent_code IS NULL"), 1);
}

/* ---- hierarchy settings ---- */

static void test_third_party_settings(void **state)
{
	struct fx *f = *state;
	struct pp_error err;
	struct store_third_party_settings got, set = {true, STORE_CERT_MODE_MANAGED, "", 0};
	enum store_certificate_mode mode;

	pp_error_clear(&err);
	assert_ok(store_third_party_settings_get(f->s, &got, &err), err);
	assert_false(got.enable_third_party_updates);
	assert_int_equal(got.certificate_mode, STORE_CERT_MODE_MANAGED);
	assert_string_equal(got.top_level_site, "");
	assert_error(store_third_party_settings_set(f->s, "CAS", &set, &err), err,
		     HR_CRYPT_E_NOT_FOUND, "site CAS does not exist");

	assert_ok(store_site_add(f->s, "CAS", "Central", NULL, &err), err);
	assert_ok(store_site_add(f->s, "PR1", "Primary", "CAS", &err), err);
	assert_ok(store_third_party_settings_set(f->s, "CAS", &set, &err), err);
	assert_ok(store_third_party_settings_get(f->s, &got, &err), err);
	assert_true(got.enable_third_party_updates);
	assert_string_equal(got.top_level_site, "CAS");
	assert_true(got.updated_at > 0);

	set.enable_third_party_updates = false;
	set.certificate_mode = STORE_CERT_MODE_MANUAL;
	assert_error(store_third_party_settings_set(f->s, "PR1", &set, &err), err,
		     STORE_E_NOT_TOP_LEVEL, "on the top-level site CAS; site PR1 is a child site");
	assert_ok(store_third_party_settings_get(f->s, &got, &err), err);
	assert_true(got.enable_third_party_updates);
	assert_int_equal(got.certificate_mode, STORE_CERT_MODE_MANAGED);

	set.certificate_mode = (enum store_certificate_mode)7;
	assert_error(store_third_party_settings_set(f->s, "CAS", &set, &err), err, HR_E_INVALIDARG,
		     "certificate mode 7");
	assert_ok(store_certificate_mode_parse("manual", &mode, &err), err);
	assert_int_equal(mode, STORE_CERT_MODE_MANUAL);
	assert_error(store_certificate_mode_parse("Managed", &mode, &err), err, HR_E_INVALIDARG,
		     "managed or manual");
	assert_string_equal(store_certificate_mode_name(STORE_CERT_MODE_MANAGED), "managed");
	assert_int_equal(raw_int(f->db, "SELECT count(*) FROM hierarchy_settings"), 1);
}

/* ---- SUPs ---- */

static void test_sups(void **state)
{
	struct fx *f = *state;
	struct pp_error err;
	struct store_sup a = {.site_code = "PP1",
			      .url = "https://sup1.example:8531",
			      .location = STORE_SUP_LOCAL,
			      .sync_source = true};
	struct store_sup b = {
	    .site_code = "PP1", .url = "http://sup2.example:8530", .location = STORE_SUP_REMOTE};
	struct store_sup bad, got, *list = NULL;
	size_t n = 0;
	static const char *const bad_urls[] = {"ftp://sup",  "http://",	    "https:///path",
					       "http://a b", "sup.example", "",
					       "http://x\ty"};

	pp_error_clear(&err);
	assert_error(store_sup_add(f->s, &a, &err), err, HR_CRYPT_E_NOT_FOUND,
		     "site PP1 does not exist");
	assert_ok(store_site_add(f->s, "PP1", "Primary", NULL, &err), err);
	assert_ok(store_site_add_cas_above(f->s, "CAS", "Central", &err), err);
	assert_ok(store_site_add(f->s, "PR2", "Other", "CAS", &err), err);

	assert_ok(store_sup_add(f->s, &a, &err), err);
	assert_true(a.id > 0);
	assert_ok(store_sup_add(f->s, &b, &err), err);
	assert_true(b.id > a.id);

	bad = b;
	assert_error(store_sup_add(f->s, &bad, &err), err, HR_ERROR_ALREADY_EXISTS,
		     "site PP1 already has SUP http://sup2.example:8530");
	(void)snprintf(bad.url, sizeof(bad.url), "HTTP://SUP2.example:8530");
	assert_error(store_sup_add(f->s, &bad, &err), err, HR_ERROR_ALREADY_EXISTS,
		     "already has SUP");
	for (size_t i = 0; i < sizeof(bad_urls) / sizeof(bad_urls[0]); i++) {
		bad = b;
		(void)snprintf(bad.url, sizeof(bad.url), "%s", bad_urls[i]);
		assert_int_equal(store_sup_add(f->s, &bad, &err), -1);
		assert_int_equal(err.code, HR_E_INVALIDARG);
		pp_error_clear(&err);
	}
	bad = b;
	bad.location = (enum store_sup_location)5;
	assert_error(store_sup_add(f->s, &bad, &err), err, HR_E_INVALIDARG, "local or remote");

	/* The same URL on another site, as its sync source. */
	bad = a;
	(void)snprintf(bad.site_code, sizeof(bad.site_code), "PR2");
	assert_ok(store_sup_add(f->s, &bad, &err), err);

	assert_ok(store_sup_get(f->s, b.id, &got, &err), err);
	assert_string_equal(got.url, "http://sup2.example:8530");
	assert_int_equal(got.location, STORE_SUP_REMOTE);
	assert_false(got.sync_source);
	assert_string_equal(got.site_code, "PP1");
	assert_error(store_sup_get(f->s, 999, &got, &err), err, HR_CRYPT_E_NOT_FOUND,
		     "SUP 999 does not exist");
	assert_ok(store_sup_sync_source(f->s, "PP1", &got, &err), err);
	assert_int_equal(got.id, a.id);
	assert_error(store_sup_sync_source(f->s, "CAS", &got, &err), err, HR_CRYPT_E_NOT_FOUND,
		     "no sync source");

	assert_ok(store_sup_list(f->s, "PP1", &list, &n, &err), err);
	assert_int_equal(n, 2);
	assert_int_equal(list[0].id, a.id);
	assert_int_equal(list[1].id, b.id);
	free(list);
	assert_ok(store_sup_list(f->s, NULL, &list, &n, &err), err);
	assert_int_equal(n, 3);
	free(list);
	assert_ok(store_sup_list(f->s, "CAS", &list, &n, &err), err);
	assert_int_equal(n, 0);
	assert_null(list);
	assert_error(store_sup_list(f->s, "x", &list, &n, &err), err, HR_E_INVALIDARG,
		     "3 characters");

	/* A new sync source takes over; the old one stays, without the role. */
	{
		struct store_sup c = b, replaced;

		c.sync_source = true;
		(void)snprintf(c.url, sizeof(c.url), "https://sup3.example");
		assert_ok(store_sup_add_replacing(f->s, &c, &replaced, &err), err);
		assert_int_equal(replaced.id, a.id);
		assert_ok(store_sup_sync_source(f->s, "PP1", &got, &err), err);
		assert_int_equal(got.id, c.id);
		assert_ok(store_sup_get(f->s, a.id, &got, &err), err);
		assert_false(got.sync_source);
		/* the first sync source of a site replaces nothing */
		c = a;
		(void)snprintf(c.site_code, sizeof(c.site_code), "CAS");
		assert_ok(store_sup_add_replacing(f->s, &c, &replaced, &err), err);
		assert_int_equal(replaced.id, 0);
	}
}

/* ---- certificates ---- */

static void make_cert(struct store_certificate *c, uint8_t *der, size_t len, uint32_t seed,
		      enum store_certificate_type type)
{
	tu_fill(der, len, seed);
	memset(c, 0, sizeof(*c));
	tu_sha1_hex(der, len, c->thumbprint);
	c->type = type;
	c->der = der;
	c->der_len = len;
	(void)snprintf(c->subject, sizeof(c->subject), "CN=WSUS Publishers Self-signed");
	c->not_before = 1700000000;
	c->not_after = 1700000000 + 3 * 365 * 86400;
}

static void lower(char *s)
{
	for (; *s != '\0'; s++) {
		if (*s >= 'A' && *s <= 'F')
			*s = (char)(*s - 'A' + 'a');
	}
}

static void test_certificates(void **state)
{
	struct fx *f = *state;
	struct pp_error err;
	uint8_t der1[700], der2[900];
	struct store_certificate c1, c2, bad, got, *list = NULL;
	size_t n = 0;
	bool already = true;
	char thumb[STORE_THUMBPRINT_LEN + 1];
	enum store_certificate_type type;

	pp_error_clear(&err);
	make_cert(&c1, der1, sizeof(der1), 1, STORE_CERT_WSUS_SIGNING);
	make_cert(&c2, der2, sizeof(der2), 2, STORE_CERT_CONTENT);
	assert_ok(store_certificate_list(f->s, &list, &n, &err), err);
	assert_int_equal(n, 0);
	assert_ok(store_certificate_add(f->s, &c1, &already, &err), err);
	assert_false(already);
	assert_ok(store_certificate_add(f->s, &c2, NULL, &err), err);

	assert_ok(store_certificate_block(f->s, c1.thumbprint, &err), err);
	/* Adding it again changes nothing: still blocked, still its type. */
	c1.type = STORE_CERT_CATALOG;
	assert_ok(store_certificate_add(f->s, &c1, &already, &err), err);
	assert_true(already);
	(void)snprintf(thumb, sizeof(thumb), "%s", c1.thumbprint);
	lower(thumb);
	assert_ok(store_certificate_get(f->s, thumb, &got, &err), err);
	assert_string_equal(got.thumbprint, c1.thumbprint);
	assert_int_equal(got.type, STORE_CERT_WSUS_SIGNING);
	assert_true(got.blocked);
	assert_int_equal(got.der_len, sizeof(der1));
	assert_memory_equal(got.der, der1, sizeof(der1));
	assert_string_equal(got.subject, "CN=WSUS Publishers Self-signed");
	assert_int_equal(got.not_before, c1.not_before);
	assert_int_equal(got.not_after, c1.not_after);
	assert_true(got.added_at > 0);
	store_certificate_clear(&got);
	assert_null(got.der);

	assert_ok(store_certificate_unblock(f->s, thumb, &err), err);
	assert_ok(store_certificate_unblock(f->s, thumb, &err), err);
	assert_ok(store_certificate_list(f->s, &list, &n, &err), err);
	assert_int_equal(n, 2);
	for (size_t i = 0; i < n; i++)
		assert_false(list[i].blocked);
	assert_int_equal(raw_int(f->db, "SELECT count(*) FROM certificates WHERE type = "
					"'Third-party Software Updates Content'"),
			 1);
	store_certificate_list_free(list, n);

	bad = c2;
	bad.thumbprint[0] = bad.thumbprint[0] == '0' ? '1' : '0';
	assert_error(store_certificate_add(f->s, &bad, NULL, &err), err, HR_E_INVALIDARG,
		     "is not the SHA-1 of the certificate");
	bad = c2;
	lower(bad.thumbprint);
	assert_error(store_certificate_add(f->s, &bad, NULL, &err), err, HR_E_INVALIDARG,
		     "upper-case");
	bad = c2;
	bad.thumbprint[39] = '\0';
	assert_error(store_certificate_add(f->s, &bad, NULL, &err), err, HR_E_INVALIDARG,
		     "40 hexadecimal digits");
	bad = c2;
	bad.der_len = 0;
	assert_error(store_certificate_add(f->s, &bad, NULL, &err), err, HR_E_INVALIDARG,
		     "DER is empty");
	bad = c2;
	bad.type = (enum store_certificate_type)9;
	assert_error(store_certificate_add(f->s, &bad, NULL, &err), err, HR_E_INVALIDARG, "type 9");
	bad = c2;
	bad.not_after = bad.not_before - 1;
	assert_error(store_certificate_add(f->s, &bad, NULL, &err), err, HR_E_INVALIDARG,
		     "expires before");
	assert_error(
	    store_certificate_get(f->s, "G000000000000000000000000000000000000000", &got, &err),
	    err, HR_E_INVALIDARG, "40 hexadecimal digits");
	assert_error(
	    store_certificate_block(f->s, "0000000000000000000000000000000000000000", &err), err,
	    HR_CRYPT_E_NOT_FOUND, "is not in Certificates");
	assert_error(
	    store_certificate_get(f->s, "0000000000000000000000000000000000000000", &got, &err),
	    err, HR_CRYPT_E_NOT_FOUND, "is not in Certificates");

	assert_ok(store_certificate_type_parse("Third-party Software Updates Catalog", &type, &err),
		  err);
	assert_int_equal(type, STORE_CERT_CATALOG);
	assert_string_equal(store_certificate_type_name(STORE_CERT_WSUS_SIGNING),
			    "Third-party WSUS Signing");
	assert_error(store_certificate_type_parse("WSUS", &type, &err), err, HR_E_INVALIDARG,
		     "Third-party WSUS Signing");
}

/* ---- syncs ---- */

static void test_syncs(void **state)
{
	struct fx *f = *state;
	struct pp_error err;
	struct store_sync sync;
	int64_t id1 = 0, id2 = 0, id3 = 0, running = 0;
	unsigned count = 9;
	char want[64];

	pp_error_clear(&err);
	assert_error(store_sync_latest(f->s, &sync, &err), err, HR_CRYPT_E_NOT_FOUND,
		     "no synchronization");
	assert_ok(store_sync_start(f->s, &id1, &running, &err), err);
	assert_true(id1 > 0);
	assert_ok(store_sync_set_step(f->s, id1, "certificate", &err), err);
	assert_error(store_sync_start(f->s, &id2, &running, &err), err, HR_ERROR_ALREADY_EXISTS,
		     "step \"certificate\"");
	assert_int_equal(running, id1);
	assert_ok(store_sync_get(f->s, id1, &sync, &err), err);
	assert_int_equal(sync.state, STORE_SYNC_RUNNING);
	assert_string_equal(sync.step, "certificate");
	assert_int_equal(sync.finished_at, 0);

	assert_ok(store_sync_finish(f->s, id1, STORE_SYNC_FAILED, "signer did not answer", &err),
		  err);
	assert_ok(store_sync_get(f->s, id1, &sync, &err), err);
	assert_int_equal(sync.state, STORE_SYNC_FAILED);
	assert_string_equal(sync.error, "signer did not answer");
	assert_true(sync.finished_at >= sync.started_at);
	(void)snprintf(want, sizeof(want), "sync %lld is not running (it failed)", (long long)id1);
	assert_error(store_sync_set_step(f->s, id1, "catalog", &err), err, HR_E_INVALIDARG, want);
	assert_error(store_sync_finish(f->s, id1, STORE_SYNC_SUCCEEDED, NULL, &err), err,
		     HR_E_INVALIDARG, want);
	assert_error(store_sync_set_step(f->s, 424242, "x", &err), err, HR_CRYPT_E_NOT_FOUND,
		     "sync 424242 does not exist");
	assert_error(store_sync_get(f->s, 424242, &sync, &err), err, HR_CRYPT_E_NOT_FOUND,
		     "sync 424242 does not exist");

	assert_ok(store_sync_start(f->s, &id2, NULL, &err), err);
	assert_true(id2 > id1);
	{
		char longer[STORE_SYNC_ERROR_MAX * 2];

		memset(longer, 'x', sizeof(longer) - 1);
		longer[sizeof(longer) - 1] = '\0';
		longer[3] = '\n';
		assert_ok(store_sync_finish(f->s, id2, STORE_SYNC_FAILED, longer, &err), err);
		assert_ok(store_sync_get(f->s, id2, &sync, &err), err);
		assert_int_equal(strlen(sync.error), STORE_SYNC_ERROR_MAX - 1);
		assert_int_equal(sync.error[3], '\n');
	}
	assert_ok(store_sync_start(f->s, &id2, NULL, &err), err);
	assert_error(store_sync_finish(f->s, id2, STORE_SYNC_RUNNING, NULL, &err), err,
		     HR_E_INVALIDARG, "succeeded or failed");
	assert_error(store_sync_set_step(f->s, id2, "", &err), err, HR_E_INVALIDARG,
		     "sync step is empty");
	assert_ok(store_sync_finish(f->s, id2, STORE_SYNC_SUCCEEDED, NULL, &err), err);
	assert_ok(store_sync_latest(f->s, &sync, &err), err);
	assert_int_equal(sync.id, id2);
	assert_int_equal(sync.state, STORE_SYNC_SUCCEEDED);
	assert_string_equal(sync.error, "");

	assert_ok(store_fail_running_syncs(f->s, NULL, &count, &err), err);
	assert_int_equal(count, 0);
	assert_ok(store_sync_start(f->s, &id3, NULL, &err), err);
	assert_ok(store_fail_running_syncs(f->s, "patchpointd restarted", &count, &err), err);
	assert_int_equal(count, 1);
	assert_ok(store_sync_get(f->s, id3, &sync, &err), err);
	assert_int_equal(sync.state, STORE_SYNC_FAILED);
	assert_string_equal(sync.error, "patchpointd restarted");
	assert_string_equal(store_sync_state_name(STORE_SYNC_SUCCEEDED), "succeeded");
}

/* Two connections to the same file see one running sync; so do racing processes. */
static void test_one_sync_across_connections(void **state)
{
	struct fx *f = *state;
	struct pp_error err;
	struct store *other;
	int64_t id = 0, id2 = 0, running = 0;
	int winners = 0;
	pid_t pids[6];

	pp_error_clear(&err);
	other = store_open_sqlite(f->db, &err);
	assert_non_null(other);
	assert_ok(store_sync_start(f->s, &id, NULL, &err), err);
	assert_error(store_sync_start(other, &id2, &running, &err), err, HR_ERROR_ALREADY_EXISTS,
		     "is running");
	assert_int_equal(running, id);
	assert_ok(store_sync_finish(other, id, STORE_SYNC_SUCCEEDED, NULL, &err), err);
	assert_ok(store_sync_start(other, &id2, NULL, &err), err);
	assert_ok(store_sync_finish(f->s, id2, STORE_SYNC_SUCCEEDED, NULL, &err), err);
	store_close(other);
	store_close(f->s);
	f->s = NULL;

	for (size_t i = 0; i < sizeof(pids) / sizeof(pids[0]); i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0) {
			struct pp_error e;
			struct store *s;
			int64_t mine = 0;

			pp_error_clear(&e);
			s = store_open_sqlite(f->db, &e);
			if (s == NULL)
				_exit(3);
			if (store_sync_start(s, &mine, NULL, &e) == 0)
				_exit(0);
			_exit(e.code == HR_ERROR_ALREADY_EXISTS ? 1 : 2);
		}
	}
	for (size_t i = 0; i < sizeof(pids) / sizeof(pids[0]); i++) {
		int status = 0;

		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
		assert_true(WIFEXITED(status));
		assert_true(WEXITSTATUS(status) <= 1);
		winners += WEXITSTATUS(status) == 0;
	}
	assert_int_equal(winners, 1);
	f->s = store_open_sqlite(f->db, &err);
	assert_non_null(f->s);
	assert_int_equal(raw_int(f->db, "SELECT count(*) FROM syncs WHERE state = 'running'"), 1);
}

/* ---- admin tokens ---- */

static void test_admin_tokens(void **state)
{
	struct fx *f = *state;
	struct pp_error err;
	const char *token = "pp_0123456789abcdef0123456789abcdef";
	unsigned char md[32];
	unsigned int mdlen = 0;
	bool valid = true;
	uint8_t *file;
	size_t len = 0;

	pp_error_clear(&err);
	assert_ok(store_admin_token_verify(f->s, token, &valid, &err), err);
	assert_false(valid);
	assert_ok(store_admin_token_add(f->s, "init", token, &err), err);
	assert_ok(store_admin_token_verify(f->s, token, &valid, &err), err);
	assert_true(valid);
	assert_ok(
	    store_admin_token_verify(f->s, "pp_0123456789abcdef0123456789abcdeF", &valid, &err),
	    err);
	assert_false(valid);
	assert_ok(
	    store_admin_token_verify(f->s, "pp_0123456789abcdef0123456789abcde", &valid, &err),
	    err);
	assert_false(valid);
	assert_ok(store_admin_token_verify(f->s, "", &valid, &err), err);
	assert_false(valid);
	assert_ok(store_admin_token_verify(f->s, NULL, &valid, &err), err);
	assert_false(valid);

	assert_error(store_admin_token_add(f->s, "init", "another-token-of-enough-length", &err),
		     err, HR_ERROR_ALREADY_EXISTS, "UNIQUE");
	assert_error(store_admin_token_add(f->s, "short", "tooshort", &err), err, HR_E_INVALIDARG,
		     "16 to 1024 bytes");
	assert_error(store_admin_token_add(f->s, "", token, &err), err, HR_E_INVALIDARG,
		     "token name is empty");
	assert_ok(store_admin_token_add(f->s, "second", "another-token-of-enough-length", &err),
		  err);
	assert_ok(store_admin_token_verify(f->s, "another-token-of-enough-length", &valid, &err),
		  err);
	assert_true(valid);
	assert_ok(store_admin_token_verify(f->s, token, &valid, &err), err);
	assert_true(valid);

	/* The stored value is SHA-256(token), never the token. */
	assert_int_equal(EVP_Digest(token, strlen(token), md, &mdlen, EVP_sha256(), NULL), 1);
	{
		sqlite3 *h = NULL;
		sqlite3_stmt *st = NULL;

		assert_int_equal(sqlite3_open_v2(f->db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
		assert_int_equal(sqlite3_prepare_v2(h,
						    "SELECT sha256 FROM admin_tokens WHERE name = "
						    "'init'",
						    -1, &st, NULL),
				 SQLITE_OK);
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		assert_int_equal(sqlite3_column_bytes(st, 0), 32);
		assert_memory_equal(sqlite3_column_blob(st, 0), md, 32);
		assert_memory_not_equal(sqlite3_column_blob(st, 0), token, 32);
		sqlite3_finalize(st);
		sqlite3_close(h);
	}
	store_close(f->s);
	f->s = NULL;
	file = tu_read_file(f->db, &len);
	assert_non_null(file);
	assert_null(memmem(file, len, token, strlen(token)));
	free(file);
	f->s = store_open_sqlite(f->db, &err);
	assert_non_null(f->s);
}

/* ---- transactions and crashes ---- */

static int add_two_then(struct store *s, void *ctx, struct pp_error *err)
{
	const int *fail = ctx;

	if (store_site_add(s, "TX1", "First", NULL, err) != 0 ||
	    store_site_add(s, "TX2", "Second", "TX1", err) != 0)
		return -1;
	if (*fail) {
		pp_error_set(err, HR_E_FAIL, "caller gave up");
		return -1;
	}
	return 0;
}

static int nested(struct store *s, void *ctx, struct pp_error *err)
{
	int fail = 1;
	struct pp_error inner;

	(void)ctx;
	pp_error_clear(&inner);
	if (store_site_add(s, "OUT", "Outer", NULL, err) != 0)
		return -1;
	/* The inner transaction fails; the outer one carries on without its changes. */
	if (store_transaction(s, add_two_then, &fail, &inner) == 0)
		return -1;
	return store_site_add(s, "IN1", "Inner", "OUT", err);
}

static void test_transactions(void **state)
{
	struct fx *f = *state;
	struct pp_error err;
	int fail = 1;

	pp_error_clear(&err);
	assert_error(store_transaction(f->s, add_two_then, &fail, &err), err, HR_E_FAIL,
		     "caller gave up");
	assert_int_equal(raw_int(f->db, "SELECT count(*) FROM sites"), 0);
	assert_ok(store_transaction(f->s, nested, NULL, &err), err);
	assert_int_equal(raw_int(f->db, "SELECT count(*) FROM sites"), 2);
	assert_int_equal(raw_int(f->db, "SELECT count(*) FROM sites WHERE code LIKE 'TX%'"), 0);
	fail = 0;
	assert_error(store_transaction(f->s, add_two_then, &fail, &err), err,
		     HR_ERROR_ALREADY_EXISTS, "top-level site OUT");
	assert_int_equal(raw_int(f->db, "SELECT count(*) FROM sites"), 2);
}

static int write_then_die(struct store *s, void *ctx, struct pp_error *err)
{
	static uint8_t der[16000];
	struct store_certificate c;
	int64_t id = 0;

	(void)ctx;
	if (store_site_add(s, "DIE", "Doomed", "PP1", err) != 0 ||
	    store_sync_start(s, &id, NULL, err) != 0)
		_exit(2);
	/* Enough pages that SQLite spills part of the transaction to the WAL before commit. */
	for (uint32_t i = 0; i < 400; i++) {
		make_cert(&c, der, sizeof(der), 1000 + i, STORE_CERT_CATALOG);
		if (store_certificate_add(s, &c, NULL, err) != 0)
			_exit(2);
	}
	_exit(0);
}

static void test_crash_mid_transaction(void **state)
{
	struct fx *f = *state;
	struct pp_error err;
	int status = 0;
	int64_t id = 0;
	pid_t pid;
	char *wal;
	struct stat st;

	pp_error_clear(&err);
	assert_ok(store_site_add(f->s, "PP1", "Primary", NULL, &err), err);
	store_close(f->s);
	f->s = NULL;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct pp_error e;
		struct store *s;

		pp_error_clear(&e);
		s = store_open_sqlite(f->db, &e);
		if (s == NULL)
			_exit(3);
		_exit(store_transaction(s, write_then_die, NULL, &e) == 0 ? 4 : 5);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	/* The dead writer had spilled uncommitted frames into the WAL: recovery must drop them. */
	wal = tu_path(f->dir, "site.db-wal");
	assert_int_equal(stat(wal, &st), 0);
	assert_true(st.st_size > 1024 * 1024);
	free(wal);

	f->s = store_open_sqlite(f->db, &err);
	assert_non_null(f->s);
	assert_int_equal(raw_int(f->db, "SELECT count(*) FROM pragma_integrity_check WHERE "
					"integrity_check = 'ok'"),
			 1);
	assert_int_equal(raw_int(f->db, "SELECT count(*) FROM sites"), 1);
	assert_int_equal(raw_int(f->db, "SELECT count(*) FROM certificates"), 0);
	assert_int_equal(raw_int(f->db, "SELECT count(*) FROM syncs"), 0);
	assert_ok(store_site_add(f->s, "PR2", "After", "PP1", &err), err);
	assert_ok(store_sync_start(f->s, &id, NULL, &err), err);
}

static int add_many_certificates(struct store *s, void *ctx, struct pp_error *err)
{
	static uint8_t der[16000];
	struct store_certificate c;

	(void)ctx;
	for (uint32_t i = 0; i < 200; i++) {
		make_cert(&c, der, sizeof(der), 5000 + i, STORE_CERT_CONTENT);
		if (store_certificate_add(s, &c, NULL, err) != 0)
			return -1;
	}
	return 0;
}

/* Fault injection: the file size limit makes SQLite's writes fail mid-transaction (as a full
 * disk would); the call fails with an error, nothing of it stays, the connection stays usable. */
static void test_write_failure_rolls_back(void **state)
{
	struct fx *f = *state;
	struct pp_error err;
	int status = 0;
	pid_t pid;

	pp_error_clear(&err);
	assert_ok(store_site_add(f->s, "PP1", "Primary", NULL, &err), err);
	store_close(f->s);
	f->s = NULL;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct pp_error e;
		struct store *s;
		struct store_site *list = NULL;
		size_t n = 0;
		struct rlimit rl = {256 * 1024, 256 * 1024};

		pp_error_clear(&e);
		s = store_open_sqlite(f->db, &e);
		if (s == NULL)
			_exit(3);
		(void)signal(SIGXFSZ, SIG_IGN);
		if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
			_exit(4);
		if (store_transaction(s, add_many_certificates, NULL, &e) == 0)
			_exit(5);
		if (e.code == 0 || strstr(e.message, "site database") == NULL)
			_exit(6);
		pp_error_clear(&e);
		if (store_site_list(s, &list, &n, &e) != 0 || n != 1)
			_exit(7);
		free(list);
		store_close(s);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	f->s = store_open_sqlite(f->db, &err);
	assert_non_null(f->s);
	assert_int_equal(raw_int(f->db, "SELECT count(*) FROM pragma_integrity_check WHERE "
					"integrity_check = 'ok'"),
			 1);
	assert_int_equal(raw_int(f->db, "SELECT count(*) FROM certificates"), 0);
	assert_ok(store_site_add(f->s, "PR2", "After", "PP1", &err), err);
}

/* A sync left running by a crash blocks the next one until start-up fails it. */
static void test_crash_leaves_sync_running(void **state)
{
	struct fx *f = *state;
	struct pp_error err;
	int status = 0;
	unsigned count = 0;
	int64_t id = 0, running = 0;
	struct store_sync sync;
	pid_t pid;

	pp_error_clear(&err);
	store_close(f->s);
	f->s = NULL;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct pp_error e;
		struct store *s;
		int64_t mine = 0;

		pp_error_clear(&e);
		s = store_open_sqlite(f->db, &e);
		if (s == NULL || store_sync_start(s, &mine, NULL, &e) != 0 ||
		    store_sync_set_step(s, mine, "certificate", &e) != 0)
			_exit(3);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);

	f->s = store_open_sqlite(f->db, &err);
	assert_non_null(f->s);
	assert_int_equal(store_sync_start(f->s, &id, &running, &err), -1);
	assert_true(running > 0);
	pp_error_clear(&err);
	assert_ok(
	    store_fail_running_syncs(f->s, "patchpointd stopped during the sync", &count, &err),
	    err);
	assert_int_equal(count, 1);
	assert_ok(store_sync_get(f->s, running, &sync, &err), err);
	assert_int_equal(sync.state, STORE_SYNC_FAILED);
	assert_string_equal(sync.step, "certificate");
	assert_ok(store_sync_start(f->s, &id, NULL, &err), err);
	assert_true(id > running);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_open_applies_migrations_once, fx_setup,
					    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_newer_schema_refused, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_gap_migration_applied_later, fx_setup,
					    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_failed_migration_keeps_previous_version, fx_setup,
					    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_foreign_keys_enforced, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_open_errors, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_sites, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_cas_above_standalone_primary, fx_setup,
					    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_third_party_settings, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_sups, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_certificates, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_syncs, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_one_sync_across_connections, fx_setup,
					    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_admin_tokens, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_transactions, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_crash_mid_transaction, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_write_failure_rolls_back, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_crash_leaves_sync_running, fx_setup, fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
