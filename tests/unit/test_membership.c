/* test_membership.c - collection membership rules (src/server/membership): query parsing and its
 * errors, equality and glob (case-insensitive), tags, direct members, include and exclude
 * (nested), All Systems, and the checks of a set (unknown collections, cycles). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "hresult.h"
#include "membership.h"

#include <string.h>

static struct membership_rule query(const char *text)
{
	struct membership_rule r;
	struct pp_error err;

	pp_error_clear(&err);
	assert_int_equal(membership_parse_query(text, &r, &err), 0);
	return r;
}

static struct membership_rule link(enum membership_rule_kind kind, const char *other)
{
	struct membership_rule r;

	memset(&r, 0, sizeof(r));
	r.kind = kind;
	(void)strcpy(r.other, other);
	return r;
}

static struct membership_rule direct(const char *device)
{
	struct membership_rule r;

	memset(&r, 0, sizeof(r));
	r.kind = MEMBERSHIP_DIRECT;
	(void)strcpy(r.value, device);
	return r;
}

static void test_parse(void **state)
{
	struct membership_rule r;
	struct pp_error err;
	char text[300];

	(void)state;
	r = query("name=kiosk-*");
	assert_int_equal(r.kind, MEMBERSHIP_QUERY);
	assert_int_equal(r.field, MEMBERSHIP_FIELD_NAME);
	assert_string_equal(r.value, "kiosk-*");
	assert_true(r.glob);
	r = query("Client_Version=5.00.9128.1000");
	assert_int_equal(r.field, MEMBERSHIP_FIELD_CLIENT_VERSION);
	assert_false(r.glob);
	membership_format_query(&r, text, sizeof(text));
	assert_string_equal(text, "client_version=5.00.9128.1000");
	r = query("tag=a=b");
	assert_int_equal(r.field, MEMBERSHIP_FIELD_TAG);
	assert_string_equal(r.value, "a=b");

	pp_error_clear(&err);
	assert_int_equal(membership_parse_query("colour=red", &r, &err), -1);
	assert_int_equal(err.code, HR_E_INVALIDARG);
	assert_string_equal(err.message,
			    "unknown field \"colour\" in query \"colour=red\": use name, "
			    "os, client_version or tag");
	pp_error_clear(&err);
	assert_int_equal(membership_parse_query("name", &r, &err), -1);
	assert_string_equal(
	    err.message, "query \"name\" must be FIELD=VALUE (FIELD: name, os, client_version or "
			 "tag)");
	pp_error_clear(&err);
	assert_int_equal(membership_parse_query("name=", &r, &err), -1);
	assert_string_equal(err.message, "the value of query \"name=\" must be 1 to 255 bytes");
	pp_error_clear(&err);
	assert_int_equal(membership_parse_query("os=a\tb", &r, &err), -1);
	assert_int_equal(err.code, HR_E_INVALIDARG);
	pp_error_clear(&err);
	assert_int_equal(membership_parse_query(NULL, &r, &err), -1);
}

static void test_evaluate(void **state)
{
	struct membership_rule kiosk[] = {query("name=KIOSK-*")};
	struct membership_rule debian[] = {query("os=debian gnu/linux 12")};
	struct membership_rule tagged[] = {query("tag=floor-2")};
	struct membership_rule mixed[] = {direct("GUID:b"), link(MEMBERSHIP_INCLUDE, "PP100010"),
					  link(MEMBERSHIP_EXCLUDE, "PP100012")};
	struct membership_rule nested[] = {link(MEMBERSHIP_INCLUDE, "PP100013")};
	struct membership_collection colls[] = {
	    {"SMS00001", NULL, 0},   {"PP100010", kiosk, 1}, {"PP100011", debian, 1},
	    {"PP100012", tagged, 1}, {"PP100013", mixed, 3}, {"PP100014", nested, 1},
	};
	struct membership_device a = {"GUID:a", "kiosk-01", "Debian GNU/Linux 12", "5.00.9128.1000",
				      ""};
	struct membership_device b = {"GUID:b", "desk-01", "Ubuntu", "5.00.9128.1000", "x,floor-2"};
	struct membership_device c = {"GUID:c", "kiosk-02", "Ubuntu", "5.00.9128.1000", "floor-2"};
	bool m[6];
	uint8_t work[6];
	struct pp_error err;

	(void)state;
	pp_error_clear(&err);
	assert_int_equal(membership_check(colls, 6, &err), 0);
	membership_evaluate(colls, 6, &a, m, work);
	assert_true(m[0]);  /* All Systems */
	assert_true(m[1]);  /* glob, any case */
	assert_true(m[2]);  /* equality, any case */
	assert_false(m[3]); /* no tags */
	assert_true(m[4]);  /* included through Kiosks */
	assert_true(m[5]);  /* included twice removed */
	membership_evaluate(colls, 6, &b, m, work);
	assert_false(m[1]);
	assert_true(m[3]);  /* one of its tags */
	assert_false(m[4]); /* a direct member, but excluded (floor-2) */
	assert_false(m[5]);
	membership_evaluate(colls, 6, &c, m, work);
	assert_true(m[1]);
	assert_false(m[4]); /* a kiosk, but excluded */
	assert_true(membership_evaluate_one(colls, 6, 1, &c, work));
	assert_false(membership_evaluate_one(colls, 6, 2, &c, work));
}

static void test_check(void **state)
{
	struct membership_rule to_b[] = {link(MEMBERSHIP_INCLUDE, "PP100011")};
	struct membership_rule to_c[] = {link(MEMBERSHIP_EXCLUDE, "PP100012")};
	struct membership_rule to_a[] = {link(MEMBERSHIP_INCLUDE, "PP100010")};
	struct membership_rule self[] = {link(MEMBERSHIP_INCLUDE, "PP100010")};
	struct membership_rule ghost[] = {link(MEMBERSHIP_EXCLUDE, "PP1000FF")};
	struct membership_collection cycle[] = {
	    {"PP100010", to_b, 1}, {"PP100011", to_c, 1}, {"PP100012", to_a, 1}};
	struct membership_collection selfish[] = {{"PP100010", self, 1}};
	struct membership_collection unknown[] = {{"PP100010", ghost, 1}};
	struct membership_collection twice[] = {{"PP100010", NULL, 0}, {"PP100010", NULL, 0}};
	struct pp_error err;

	(void)state;
	pp_error_clear(&err);
	assert_int_equal(membership_check(cycle, 3, &err), -1);
	assert_int_equal(err.code, HR_E_INVALIDARG);
	assert_string_equal(err.message, "collections may not include or exclude themselves: "
					 "PP100010 -> PP100011 -> PP100012 -> PP100010");
	pp_error_clear(&err);
	assert_int_equal(membership_check(selfish, 1, &err), -1);
	assert_string_equal(err.message, "collections may not include or exclude themselves: "
					 "PP100010 -> PP100010");
	pp_error_clear(&err);
	assert_int_equal(membership_check(unknown, 1, &err), -1);
	assert_string_equal(err.message,
			    "collection PP100010 excludes PP1000FF, which does not exist");
	pp_error_clear(&err);
	assert_int_equal(membership_check(twice, 2, &err), -1);
	assert_string_equal(err.message, "collection PP100010 is given twice");
	assert_int_equal(membership_check(cycle, 2, &err), -1); /* PP100012 missing */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse),
	    cmocka_unit_test(test_evaluate),
	    cmocka_unit_test(test_check),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
