/* test_store_devices.c - devices, enrollment keys, collections and client settings in the site
 * database (src/server/store_devices.c, store_sqlite_devices.c) and the resolution over them
 * (src/server/policy.c): registration (new, known keeps its identity, the old credential stops
 * working, bad/revoked/expired keys), memberships recomputed when a device changes, collection
 * refusals, client setting orders (create, move, delete renumbers), deploy refusals,
 * resultant settings with the winner named, the policy generation (which writes move it and
 * which do not) and the expiry a machine policy document is good until. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "policy.h"
#include "store.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY   "0123456789abcdef0123456789abcdef"
#define CRED1 "c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1"
#define CRED2 "c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2"

struct fx {
	char *dir, *db;
	struct store *s;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct store_enrollment_key k;
	struct pp_error err;

	assert_non_null(f);
	pp_error_clear(&err);
	f->dir = tu_tmpdir();
	f->db = tu_path(f->dir, "site.db");
	f->s = store_open_sqlite(f->db, &err);
	if (f->s == NULL)
		fail_msg("open: %s", err.message);
	assert_int_equal(store_site_add(f->s, "PP1", "Primary", NULL, &err), 0);
	assert_int_equal(store_enrollment_key_add(f->s, "lab", KEY, 0, &k, &err), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	store_close(f->s);
	tu_rmrf(f->dir);
	free(f->dir);
	free(f->db);
	free(f);
	return 0;
}

static void device(struct store_device *d, const char *machine, const char *name, const char *tags)
{
	memset(d, 0, sizeof(*d));
	(void)snprintf(d->machine_id, sizeof(d->machine_id), "%s", machine);
	(void)snprintf(d->name, sizeof(d->name), "%s", name);
	(void)snprintf(d->os, sizeof(d->os), "Debian GNU/Linux 12");
	(void)snprintf(d->client_version, sizeof(d->client_version), "5.00.9128.1000");
	(void)snprintf(d->tags, sizeof(d->tags), "%s", tags);
}

#define MACHINE_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define MACHINE_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static void test_register(void **state)
{
	struct fx *f = *state;
	struct store_device d, again, got;
	struct store_enrollment_key k, *keys = NULL;
	struct pp_error err;
	size_t n = 0;
	bool is_new = false, found = false;

	pp_error_clear(&err);
	device(&d, MACHINE_A, "kiosk-01", "kiosk");
	assert_int_equal(store_device_register(f->s, KEY, CRED1, &d, &is_new, &err), 0);
	assert_true(is_new);
	assert_int_equal(strlen(d.id), STORE_DEVICE_ID_LEN);
	assert_memory_equal(d.id, "GUID:", 5);
	assert_int_equal(store_device_authenticate(f->s, CRED1, &got, &found, &err), 0);
	assert_true(found);
	assert_string_equal(got.id, d.id);

	/* The same machine again, renamed: same id, new credential, old one gone. */
	device(&again, MACHINE_A, "kiosk-01b", "");
	assert_int_equal(store_device_register(f->s, KEY, CRED2, &again, &is_new, &err), 0);
	assert_false(is_new);
	assert_string_equal(again.id, d.id);
	assert_int_equal(store_device_authenticate(f->s, CRED1, &got, &found, &err), 0);
	assert_false(found);
	assert_int_equal(store_device_authenticate(f->s, CRED2, &got, &found, &err), 0);
	assert_true(found);
	assert_string_equal(got.name, "kiosk-01b");
	assert_int_equal(store_device_authenticate(f->s, "short", &got, &found, &err), 0);
	assert_false(found);
	assert_int_equal(store_device_get(f->s, "KIOSK-01B", &got, &err), 0);
	assert_string_equal(got.id, d.id);
	assert_int_equal(store_device_get(f->s, d.id, &got, &err), 0);
	assert_int_equal(store_enrollment_key_list(f->s, &keys, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(keys[0].uses, 2);
	free(keys);

	/* Bad keys and bad fields change nothing. */
	device(&d, MACHINE_B, "desk-01", "");
	assert_int_equal(
	    store_device_register(f->s, "ffffffffffffffffffffffff", CRED1, &d, &is_new, &err), -1);
	assert_int_equal(err.code, STORE_E_BAD_ENROLLMENT_KEY);
	assert_string_equal(err.message,
			    "the enrollment key is not valid (unknown, revoked or expired)");
	assert_int_equal(store_enrollment_key_add(f->s, "", "eeeeeeeeeeeeeeeeeeee", 0, &k, &err),
			 0);
	assert_int_equal(store_enrollment_key_revoke(f->s, k.id, &err), 0);
	pp_error_clear(&err);
	assert_int_equal(
	    store_device_register(f->s, "eeeeeeeeeeeeeeeeeeee", CRED1, &d, &is_new, &err), -1);
	assert_int_equal(err.code, STORE_E_BAD_ENROLLMENT_KEY);
	pp_error_clear(&err);
	assert_int_equal(store_enrollment_key_add(f->s, "", "dddddddddddddddddddd", 1, &k, &err),
			 -1);
	assert_string_equal(err.message, "an enrollment key must expire in the future");
	pp_error_clear(&err);
	assert_int_equal(store_enrollment_key_revoke(f->s, 999, &err), -1);
	assert_int_equal(err.code, HR_CRYPT_E_NOT_FOUND);
	device(&d, "notahexmachineid", "x", "");
	pp_error_clear(&err);
	assert_int_equal(store_device_register(f->s, KEY, CRED1, &d, &is_new, &err), -1);
	assert_string_equal(err.message, "machine_id must be 32 lower-case hex digits");
	device(&d, MACHINE_B, "x", "");
	(void)strcpy(d.client_version, "5.0");
	pp_error_clear(&err);
	assert_int_equal(store_device_register(f->s, KEY, CRED1, &d, &is_new, &err), -1);
	assert_string_equal(err.message, "client version \"5.0\" is not four dot-separated numbers "
					 "(5.00.8692.1003)");
	device(&d, MACHINE_B, "x", "ok,bad tag");
	pp_error_clear(&err);
	assert_int_equal(store_device_register(f->s, KEY, CRED1, &d, &is_new, &err), -1);
	assert_int_equal(err.code, HR_E_INVALIDARG);
	pp_error_clear(&err);
	assert_int_equal(store_device_get(f->s, "desk-01", &got, &err), -1);
	assert_int_equal(err.code, HR_CRYPT_E_NOT_FOUND);
	assert_string_equal(err.message, "device \"desk-01\" does not exist");
}

static struct store_collection_rule rule_query(const char *q)
{
	struct store_collection_rule r;
	struct pp_error err;

	memset(&r, 0, sizeof(r));
	pp_error_clear(&err);
	assert_int_equal(membership_parse_query(q, &r.rule, &err), 0);
	return r;
}

static struct store_collection_rule rule_other(enum membership_rule_kind kind, const char *c)
{
	struct store_collection_rule r;

	memset(&r, 0, sizeof(r));
	r.rule.kind = kind;
	(void)snprintf(r.rule.other, sizeof(r.rule.other), "%s", c);
	return r;
}

static size_t member_count(struct store *s, const char *id)
{
	struct store_device *devs = NULL;
	struct pp_error err;
	size_t n = 0;

	pp_error_clear(&err);
	assert_int_equal(store_collection_members(s, id, &devs, &n, &err), 0);
	free(devs);
	return n;
}

static void test_collections(void **state)
{
	struct fx *f = *state;
	struct store_collection kiosks, floor2, mixed, c;
	struct store_collection_rule r1[] = {rule_query("name=kiosk-*")};
	struct store_collection_rule r2[] = {rule_query("tag=floor-2")};
	struct store_collection_rule r3[2];
	struct store_collection_rule member;
	struct store_collection *colls = NULL;
	struct store_device a, b;
	struct pp_error err;
	size_t n = 0;
	bool is_new;

	pp_error_clear(&err);
	device(&a, MACHINE_A, "kiosk-01", "floor-2");
	device(&b, MACHINE_B, "desk-01", "");
	assert_int_equal(store_device_register(f->s, KEY, CRED1, &a, &is_new, &err), 0);
	assert_int_equal(store_device_register(f->s, KEY, CRED2, &b, &is_new, &err), 0);
	assert_int_equal(store_collection_create(f->s, "Kiosks", r1, 1, &kiosks, &err), 0);
	assert_string_equal(kiosks.id, "PP100010");
	assert_int_equal(store_collection_create(f->s, "Floor 2", r2, 1, &floor2, &err), 0);
	assert_string_equal(floor2.id, "PP100011");
	memset(&member, 0, sizeof(member));
	member.rule.kind = MEMBERSHIP_DIRECT;
	(void)strcpy(member.rule.value, "desk-01"); /* by name */
	r3[0] = member;
	r3[1] = rule_other(MEMBERSHIP_INCLUDE, "Kiosks");
	assert_int_equal(store_collection_create(f->s, "Mixed", r3, 2, &mixed, &err), 0);
	assert_int_equal(member_count(f->s, kiosks.id), 1);
	assert_int_equal(member_count(f->s, mixed.id), 2);
	assert_int_equal(member_count(f->s, STORE_ALL_SYSTEMS), 2);
	assert_int_equal(store_device_collections(f->s, a.id, &colls, &n, &err), 0);
	assert_int_equal(n, 4); /* All Systems, Kiosks, Floor 2, Mixed */
	assert_string_equal(colls[0].id, STORE_ALL_SYSTEMS);
	free(colls);

	/* The device changes: its memberships follow at registration. */
	device(&a, MACHINE_A, "lobby-01", "");
	assert_int_equal(store_device_register(f->s, KEY, CRED1, &a, &is_new, &err), 0);
	assert_int_equal(member_count(f->s, kiosks.id), 0);
	assert_int_equal(member_count(f->s, floor2.id), 0);
	assert_int_equal(member_count(f->s, mixed.id), 1);

	/* Refusals. */
	pp_error_clear(&err);
	assert_int_equal(store_collection_create(f->s, "kiosks", NULL, 0, &c, &err), -1);
	assert_int_equal(err.code, HR_ERROR_ALREADY_EXISTS);
	assert_string_equal(err.message, "collection \"Kiosks\" already exists (PP100010)");
	r3[1] = rule_other(MEMBERSHIP_EXCLUDE, "Nowhere");
	pp_error_clear(&err);
	assert_int_equal(store_collection_create(f->s, "Bad", r3, 2, &c, &err), -1);
	assert_int_equal(err.code, HR_CRYPT_E_NOT_FOUND);
	pp_error_clear(&err);
	assert_int_equal(store_collection_delete(f->s, "All Systems", &err), -1);
	assert_string_equal(err.message, "All Systems cannot be deleted");
	pp_error_clear(&err);
	assert_int_equal(store_collection_delete(f->s, "Kiosks", &err), -1);
	assert_string_equal(
	    err.message,
	    "collection \"Kiosks\" cannot be deleted: collection \"Mixed\" includes it");
	assert_int_equal(store_collection_delete(f->s, "Mixed", &err), 0);
	assert_int_equal(store_collection_delete(f->s, "PP100010", &err), 0);
	pp_error_clear(&err);
	assert_int_equal(store_collection_get(f->s, "Kiosks", &c, &err), -1);
	/* Ids are not given out again, not even the last one's. */
	assert_int_equal(store_collection_create(f->s, "Again", NULL, 0, &c, &err), 0);
	assert_string_equal(c.id, "PP100013");
	assert_int_equal(store_collection_delete(f->s, "Again", &err), 0);
	assert_int_equal(store_collection_create(f->s, "Once more", NULL, 0, &c, &err), 0);
	assert_string_equal(c.id, "PP100014");
	/* A name is a path segment of the API: no '/'. */
	pp_error_clear(&err);
	assert_int_equal(store_collection_create(f->s, "a/b", NULL, 0, &c, &err), -1);
	assert_string_equal(err.message, "a collection name may not contain '/'");
}

static void test_client_settings(void **state)
{
	struct fx *f = *state;
	struct store_client_setting *list = NULL, c;
	struct clientsettings_values v;
	struct pp_error err;
	size_t n = 0;

	pp_error_clear(&err);
	assert_int_equal(store_client_setting_list(f->s, &list, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(list[0].name, "Default Client Settings");
	assert_int_equal(list[0].order, 10000);
	assert_true(list[0].is_default);
	assert_int_equal(list[0].values.value[CS_SU_THIRD_PARTY], 0);
	assert_int_equal(list[0].values.value[CS_SU_ENABLED], 1);
	free(list);

	memset(&v, 0, sizeof(v));
	assert_int_equal(clientsettings_set(&v, "third-party", "no", &err), 0);
	assert_int_equal(store_client_setting_create(f->s, "Workstations", &v, &c, &err), 0);
	assert_int_equal(c.order, 1);
	assert_int_equal(store_client_setting_create(f->s, "Servers", NULL, &c, &err), 0);
	assert_int_equal(c.order, 2);
	assert_int_equal(store_client_setting_create(f->s, "Labs", NULL, &c, &err), 0);
	assert_int_equal(c.order, 3);
	pp_error_clear(&err);
	assert_int_equal(store_client_setting_create(f->s, "servers", NULL, &c, &err), -1);
	assert_int_equal(err.code, HR_ERROR_ALREADY_EXISTS);
	pp_error_clear(&err);
	assert_int_equal(store_client_setting_create(f->s, "Labs/2", NULL, &c, &err), -1);
	assert_string_equal(err.message, "a client setting name may not contain '/'");

	assert_int_equal(store_client_setting_move(f->s, "Workstations", false, &err), 0);
	assert_int_equal(store_client_setting_get(f->s, "Workstations", &c, &err), 0);
	assert_int_equal(c.order, 2);
	assert_int_equal(c.values.value[CS_SU_THIRD_PARTY], 0);
	assert_true(c.values.configured[CS_GROUP_SOFTWARE_UPDATES]);
	assert_false(c.values.configured[CS_GROUP_CLIENT_POLICY]);
	assert_int_equal(store_client_setting_get(f->s, "Servers", &c, &err), 0);
	assert_int_equal(c.order, 1);
	pp_error_clear(&err);
	assert_int_equal(store_client_setting_move(f->s, "Servers", true, &err), -1);
	assert_string_equal(err.message,
			    "client setting \"Servers\" already has the first order (1)");
	pp_error_clear(&err);
	assert_int_equal(store_client_setting_move(f->s, "Labs", false, &err), -1);
	assert_string_equal(err.message, "client setting \"Labs\" already has the last order (3)");
	pp_error_clear(&err);
	assert_int_equal(store_client_setting_move(f->s, "Default Client Settings", true, &err),
			 -1);
	assert_string_equal(err.message,
			    "Default Client Settings keeps order 10000; it cannot be moved");
	pp_error_clear(&err);
	assert_int_equal(store_client_setting_delete(f->s, "default client settings", &err), -1);
	assert_string_equal(err.message, "Default Client Settings cannot be deleted");
	pp_error_clear(&err);
	assert_int_equal(
	    store_client_setting_deploy(f->s, "Default Client Settings", "All Systems", &err), -1);
	assert_string_equal(
	    err.message, "Default Client Settings cannot be deployed: it applies to every device");
	assert_int_equal(store_client_setting_deploy(f->s, "Labs", "All Systems", &err), 0);
	pp_error_clear(&err);
	assert_int_equal(store_client_setting_deploy(f->s, "Labs", "SMS00001", &err), -1);
	assert_int_equal(err.code, HR_ERROR_ALREADY_EXISTS);
	assert_string_equal(err.message,
			    "client setting \"Labs\" is already deployed to \"All Systems\"");
	pp_error_clear(&err);
	assert_int_equal(store_client_setting_undeploy(f->s, "Servers", "All Systems", &err), -1);
	assert_string_equal(err.message,
			    "client setting \"Servers\" is not deployed to \"All Systems\"");
	pp_error_clear(&err);
	assert_int_equal(store_client_setting_deploy(f->s, "Labs", "Nowhere", &err), -1);
	assert_int_equal(err.code, HR_CRYPT_E_NOT_FOUND);

	/* Deleting order 1 moves the others up; its deployments go with it. */
	assert_int_equal(store_client_setting_delete(f->s, "Servers", &err), 0);
	assert_int_equal(store_client_setting_list(f->s, &list, &n, &err), 0);
	assert_int_equal(n, 3);
	assert_string_equal(list[0].name, "Workstations");
	assert_int_equal(list[0].order, 1);
	assert_string_equal(list[1].name, "Labs");
	assert_int_equal(list[1].order, 2);
	free(list);

	/* The default must configure every group. */
	memset(&v, 0, sizeof(v));
	pp_error_clear(&err);
	assert_int_equal(store_client_setting_set(f->s, "Default Client Settings", &v, &err), -1);
	clientsettings_defaults(&v);
	v.value[CS_SU_THIRD_PARTY] = 1;
	assert_int_equal(store_client_setting_set(f->s, "Default Client Settings", &v, &err), 0);
	assert_int_equal(store_client_setting_get(f->s, "Default Client Settings", &c, &err), 0);
	assert_int_equal(c.values.value[CS_SU_THIRD_PARTY], 1);

	{
		char ver[STORE_VERSION_MAX];

		assert_int_equal(store_min_client_version_get(f->s, ver, &err), 0);
		assert_string_equal(ver, "5.00.8692.1003");
		assert_int_equal(store_min_client_version_set(f->s, "5.00.9000.1000", &err), 0);
		assert_int_equal(store_min_client_version_get(f->s, ver, &err), 0);
		assert_string_equal(ver, "5.00.9000.1000");
		pp_error_clear(&err);
		assert_int_equal(store_min_client_version_set(f->s, "new", &err), -1);
	}
}

/* The seed documents' priority conflict, resolved through policy.c. */
static void test_resultant(void **state)
{
	struct fx *f = *state;
	struct store_collection ws, *colls = NULL;
	struct store_collection_rule member;
	struct clientsettings_values no, yes;
	struct store_client_setting c;
	struct clientsettings_resultant r;
	struct policy_table t;
	struct store_device a, b;
	struct pp_error err;
	uint64_t bits[4];
	size_t deployed[8], nd = 0, n = 0;
	bool is_new;

	pp_error_clear(&err);
	device(&a, MACHINE_A, "device-a", "");
	device(&b, MACHINE_B, "device-b", "");
	assert_int_equal(store_device_register(f->s, KEY, CRED1, &a, &is_new, &err), 0);
	assert_int_equal(store_device_register(f->s, KEY, CRED2, &b, &is_new, &err), 0);
	memset(&member, 0, sizeof(member));
	member.rule.kind = MEMBERSHIP_DIRECT;
	(void)strcpy(member.rule.value, b.id);
	assert_int_equal(store_collection_create(f->s, "Workstations", &member, 1, &ws, &err), 0);
	memset(&no, 0, sizeof(no));
	memset(&yes, 0, sizeof(yes));
	assert_int_equal(clientsettings_set(&no, "third-party", "no", &err), 0);
	assert_int_equal(clientsettings_set(&yes, "third-party", "yes", &err), 0);
	assert_int_equal(store_client_setting_create(f->s, "Workstations", &no, &c, &err), 0);
	assert_int_equal(store_client_setting_create(f->s, "Everyone", &yes, &c, &err), 0);
	assert_int_equal(store_client_setting_deploy(f->s, "Workstations", "Workstations", &err),
			 0);
	assert_int_equal(store_client_setting_deploy(f->s, "Everyone", "All Systems", &err), 0);

	assert_int_equal(policy_table_load(f->s, &t, &err), 0);
	assert_int_equal(store_device_collections(f->s, b.id, &colls, &n, &err), 0);
	policy_device_bits(&t, colls, n, bits);
	free(colls);
	policy_resolve(&t, bits, &r, deployed, &nd);
	assert_int_equal(r.value[CS_SU_THIRD_PARTY], 0);
	assert_string_equal(r.source[CS_SU_THIRD_PARTY], "Workstations");
	assert_string_equal(r.source[CS_CP_POLLING_MINUTES], "Default Client Settings");
	assert_int_equal(nd, 3); /* the device's Client Settings tab, by order */
	assert_string_equal(t.settings[deployed[0]].name, "Workstations");
	assert_string_equal(t.settings[deployed[1]].name, "Everyone");
	assert_string_equal(t.settings[deployed[2]].name, "Default Client Settings");
	assert_int_equal(store_device_collections(f->s, a.id, &colls, &n, &err), 0);
	policy_device_bits(&t, colls, n, bits);
	free(colls);
	policy_resolve(&t, bits, &r, NULL, NULL);
	assert_int_equal(r.value[CS_SU_THIRD_PARTY], 1);
	assert_string_equal(r.source[CS_SU_THIRD_PARTY], "Everyone");
	policy_table_free(&t);

	/* Moving Workstations below Everyone: B gets Yes. */
	assert_int_equal(store_client_setting_move(f->s, "Workstations", false, &err), 0);
	assert_int_equal(policy_table_load(f->s, &t, &err), 0);
	assert_int_equal(store_device_collections(f->s, b.id, &colls, &n, &err), 0);
	policy_device_bits(&t, colls, n, bits);
	free(colls);
	policy_resolve(&t, bits, &r, NULL, NULL);
	assert_int_equal(r.value[CS_SU_THIRD_PARTY], 1);
	assert_string_equal(r.source[CS_SU_THIRD_PARTY], "Everyone");
	policy_table_free(&t);
}

static int64_t generation(struct fx *f)
{
	struct pp_error err;
	int64_t g = 0;

	pp_error_clear(&err);
	if (store_policy_generation(f->s, &g, &err) != 0)
		fail_msg("policy generation: %s", err.message);
	return g;
}

/* Asserts that the writes since *g moved the generation (moved) or left it (!moved). */
static void expect_generation(struct fx *f, int64_t *g, bool moved, const char *what)
{
	int64_t now = generation(f);

	if ((now != *g) != moved)
		fail_msg("%s: the policy generation went from %lld to %lld", what, (long long)*g,
			 (long long)now);
	*g = now;
}

static void test_policy_generation(void **state)
{
	struct fx *f = *state;
	struct store_device a;
	struct store_collection ws;
	struct store_collection_rule member;
	struct store_client_setting c;
	struct store_enrollment_key k;
	struct store_state_message m;
	struct store_certificate cert;
	struct clientsettings_values no;
	struct pp_error err;
	uint8_t der[300];
	size_t accepted = 0, dups = 0;
	bool is_new, already;
	int64_t g = generation(f);

	pp_error_clear(&err);
	assert_true(g >= 1);
	device(&a, MACHINE_A, "device-a", "");
	assert_int_equal(store_device_register(f->s, KEY, CRED1, &a, &is_new, &err), 0);
	expect_generation(f, &g, false, "a new device in no collection");

	/* What devices do all day changes no policy. */
	memset(&m, 0, sizeof(m));
	(void)snprintf(m.id, sizeof(m.id), "6f1c5b2e-0d7a-4c55-9a43-2b8e0f6d1a01");
	m.time = 1700000000;
	m.topic = STORE_TOPIC_SCAN;
	(void)snprintf(m.update_id, sizeof(m.update_id), "%s",
		       "0b7e4a1c-2f3d-4e5a-8b9c-0d1e2f3a4b5c");
	m.revision = 1;
	m.state = STORE_STATUS_REQUIRED;
	assert_int_equal(store_state_messages_add(f->s, a.id, &m, 1, &accepted, &dups, &err), 0);
	assert_int_equal(accepted, 1);
	assert_int_equal(store_device_set_policy_time(f->s, a.id, 1700000100, &err), 0);
	assert_int_equal(
	    store_enrollment_key_add(f->s, "more", "fedcba9876543210fedcba9876543210", 0, &k, &err),
	    0);
	expect_generation(f, &g, false, "a state message, the policy time, an enrollment key");

	/* Everything a policy is made of moves it. */
	assert_int_equal(store_device_register(f->s, KEY, CRED2, &a, &is_new, &err), 0);
	expect_generation(f, &g, true, "a new credential");
	memset(&member, 0, sizeof(member));
	member.rule.kind = MEMBERSHIP_DIRECT;
	(void)strcpy(member.rule.value, a.id);
	assert_int_equal(store_collection_create(f->s, "Workstations", &member, 1, &ws, &err), 0);
	expect_generation(f, &g, true, "a collection");
	memset(&no, 0, sizeof(no));
	assert_int_equal(clientsettings_set(&no, "third-party", "no", &err), 0);
	assert_int_equal(store_client_setting_create(f->s, "Workstations", &no, &c, &err), 0);
	expect_generation(f, &g, true, "a client setting");
	assert_int_equal(store_client_setting_create(f->s, "Second", &no, &c, &err), 0);
	expect_generation(f, &g, true, "another client setting");
	assert_int_equal(store_client_setting_deploy(f->s, "Workstations", "Workstations", &err),
			 0);
	expect_generation(f, &g, true, "a client setting deployed");
	assert_int_equal(store_client_setting_move(f->s, "Workstations", false, &err), 0);
	expect_generation(f, &g, true, "a client setting moved");
	assert_int_equal(clientsettings_set(&no, "third-party", "yes", &err), 0);
	assert_int_equal(store_client_setting_set(f->s, "Workstations", &no, &err), 0);
	expect_generation(f, &g, true, "a client setting changed");
	assert_int_equal(store_min_client_version_set(f->s, "5.00.9000.1000", &err), 0);
	expect_generation(f, &g, true, "the minimum client version");
	tu_fill(der, sizeof(der), 7);
	memset(&cert, 0, sizeof(cert));
	tu_sha1_hex(der, sizeof(der), cert.thumbprint);
	cert.type = STORE_CERT_WSUS_SIGNING;
	cert.der = der;
	cert.der_len = sizeof(der);
	(void)snprintf(cert.subject, sizeof(cert.subject), "CN=WSUS Publishers Self-signed");
	cert.not_before = 1700000000;
	cert.not_after = 4000000000;
	assert_int_equal(store_certificate_add(f->s, &cert, &already, &err), 0);
	expect_generation(f, &g, true, "a signing certificate");
	assert_int_equal(store_certificate_block(f->s, cert.thumbprint, &err), 0);
	expect_generation(f, &g, true, "a certificate blocked");
}

/* A policy document is good until the first signing certificate in it expires. */
static void test_document_valid_until(void **state)
{
	struct fx *f = *state;
	struct store_certificate cert;
	struct store_device a;
	struct pp_error err;
	uint8_t der1[300], der2[310];
	int64_t until = 0;
	bool is_new, already;
	json_t *doc;

	pp_error_clear(&err);
	device(&a, MACHINE_A, "device-a", "");
	assert_int_equal(store_device_register(f->s, KEY, CRED1, &a, &is_new, &err), 0);
	doc = policy_machine_document(f->s, &a, &until, &err);
	assert_non_null(doc);
	json_decref(doc);
	assert_true(until == INT64_MAX);

	memset(&cert, 0, sizeof(cert));
	cert.type = STORE_CERT_WSUS_SIGNING;
	(void)snprintf(cert.subject, sizeof(cert.subject), "CN=WSUS Publishers Self-signed");
	cert.not_before = 1700000000;
	tu_fill(der1, sizeof(der1), 11);
	tu_sha1_hex(der1, sizeof(der1), cert.thumbprint);
	cert.der = der1;
	cert.der_len = sizeof(der1);
	cert.not_after = 4000000000;
	assert_int_equal(store_certificate_add(f->s, &cert, &already, &err), 0);
	tu_fill(der2, sizeof(der2), 12);
	tu_sha1_hex(der2, sizeof(der2), cert.thumbprint);
	cert.der = der2;
	cert.der_len = sizeof(der2);
	cert.not_after = 3000000000;
	assert_int_equal(store_certificate_add(f->s, &cert, &already, &err), 0);
	doc = policy_machine_document(f->s, &a, &until, &err);
	assert_non_null(doc);
	json_decref(doc);
	assert_true(until == 3000000001); /* the second after the first not_after */

	/* An expired one is already a removal: it sets no limit. */
	tu_fill(der2, sizeof(der2), 13);
	tu_sha1_hex(der2, sizeof(der2), cert.thumbprint);
	cert.not_after = 1700000100;
	assert_int_equal(store_certificate_add(f->s, &cert, &already, &err), 0);
	doc = policy_machine_document(f->s, &a, &until, &err);
	assert_non_null(doc);
	assert_int_equal(json_array_size(json_object_get(doc, "remove_certificates")), 1);
	json_decref(doc);
	assert_true(until == 3000000001);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_register, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_collections, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_client_settings, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_resultant, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_policy_generation, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_document_valid_until, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
