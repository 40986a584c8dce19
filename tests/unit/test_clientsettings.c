/* test_clientsettings.c - client settings and their precedence (src/server/clientsettings): the
 * defaults (third-party No), setting values by API key and CLI flag with their errors, groups
 * configured as a whole, the lowest order winning per group with the winner named, and client
 * version comparison. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "clientsettings.h"
#include "hresult.h"

#include <string.h>

static void test_defaults(void **state)
{
	struct clientsettings_values v;

	(void)state;
	clientsettings_defaults(&v);
	assert_true(v.configured[CS_GROUP_SOFTWARE_UPDATES]);
	assert_true(v.configured[CS_GROUP_CLIENT_POLICY]);
	assert_int_equal(v.value[CS_SU_ENABLED], 1);
	assert_int_equal(v.value[CS_SU_THIRD_PARTY], 0);
	assert_int_equal(v.value[CS_SU_SCAN_DAYS], 7);
	assert_int_equal(v.value[CS_SU_REEVALUATION_DAYS], 7);
	assert_int_equal(v.value[CS_CP_POLLING_MINUTES], 60);
	assert_string_equal(clientsettings_keys()[CS_SU_THIRD_PARTY].label,
			    "Enable third party software updates");
	assert_string_equal(clientsettings_group_name(CS_GROUP_SOFTWARE_UPDATES),
			    "Software Updates");
}

static void test_set(void **state)
{
	struct clientsettings_values v;
	struct pp_error err;

	(void)state;
	memset(&v, 0, sizeof(v));
	pp_error_clear(&err);
	/* One value configures its whole group, the others at their defaults. */
	assert_int_equal(clientsettings_set(&v, "third-party", "Yes", &err), 0);
	assert_true(v.configured[CS_GROUP_SOFTWARE_UPDATES]);
	assert_false(v.configured[CS_GROUP_CLIENT_POLICY]);
	assert_int_equal(v.value[CS_SU_THIRD_PARTY], 1);
	assert_int_equal(v.value[CS_SU_ENABLED], 1);
	assert_int_equal(v.value[CS_SU_SCAN_DAYS], 7);
	assert_int_equal(clientsettings_set(&v, "software_updates.scan_interval_days", "3", &err),
			 0);
	assert_int_equal(v.value[CS_SU_SCAN_DAYS], 3);
	assert_int_equal(v.value[CS_SU_THIRD_PARTY], 1); /* kept */
	assert_int_equal(clientsettings_set(&v, "third-party", "false", &err), 0);
	assert_int_equal(v.value[CS_SU_THIRD_PARTY], 0);

	assert_int_equal(clientsettings_set(&v, "scan-days", "0", &err), -1);
	assert_int_equal(err.code, HR_E_INVALIDARG);
	assert_string_equal(err.message, "Software update scan schedule (days) "
					 "(software_updates.scan_interval_days) takes a whole "
					 "number from 1 to 365, not \"0\"");
	pp_error_clear(&err);
	assert_int_equal(clientsettings_set(&v, "third-party", "maybe", &err), -1);
	assert_string_equal(err.message, "Enable third party software updates "
					 "(software_updates.third_party) takes yes or no, not "
					 "\"maybe\"");
	pp_error_clear(&err);
	assert_int_equal(clientsettings_set(&v, "polling-minutes", "60x", &err), -1);
	pp_error_clear(&err);
	assert_int_equal(clientsettings_set(&v, "polling-minutes", "-5", &err), -1);
	pp_error_clear(&err);
	assert_int_equal(clientsettings_set(&v, "colour", "red", &err), -1);
	assert_int_equal(err.code, HR_E_INVALIDARG);
	assert_non_null(strstr(err.message, "unknown client setting \"colour\""));
	assert_false(v.configured[CS_GROUP_CLIENT_POLICY]); /* failures change nothing */
	assert_int_equal(v.value[CS_SU_SCAN_DAYS], 3);
}

static void test_resolve(void **state)
{
	struct clientsettings_values def, workstations, yes, polling;
	struct clientsettings_item d = {CLIENTSETTINGS_DEFAULT_NAME, 10000, &def};
	struct clientsettings_item w = {"Workstations", 1, &workstations};
	struct clientsettings_item y = {"Third party on", 2, &yes};
	struct clientsettings_item p = {"Fast polling", 3, &polling};
	const struct clientsettings_item *all[] = {&p, &y, &w}; /* any order */
	const struct clientsettings_item *two[] = {&y, &p};
	struct clientsettings_resultant r;
	struct pp_error err;

	(void)state;
	pp_error_clear(&err);
	clientsettings_defaults(&def);
	memset(&workstations, 0, sizeof(workstations));
	memset(&yes, 0, sizeof(yes));
	memset(&polling, 0, sizeof(polling));
	assert_int_equal(clientsettings_set(&workstations, "third-party", "no", &err), 0);
	assert_int_equal(clientsettings_set(&yes, "third-party", "yes", &err), 0);
	assert_int_equal(clientsettings_set(&polling, "polling-minutes", "15", &err), 0);

	clientsettings_resolve(&d, NULL, 0, &r);
	assert_int_equal(r.value[CS_SU_THIRD_PARTY], 0);
	assert_string_equal(r.source[CS_SU_THIRD_PARTY], "Default Client Settings");

	/* Order 1 says No and wins the whole group, though order 2 says Yes. */
	clientsettings_resolve(&d, all, 3, &r);
	assert_int_equal(r.value[CS_SU_THIRD_PARTY], 0);
	assert_string_equal(r.source[CS_SU_THIRD_PARTY], "Workstations");
	assert_string_equal(r.source[CS_SU_SCAN_DAYS], "Workstations");
	assert_int_equal(r.source_order[CS_SU_THIRD_PARTY], 1);
	/* Client Policy is configured by order 3 only. */
	assert_int_equal(r.value[CS_CP_POLLING_MINUTES], 15);
	assert_string_equal(r.source[CS_CP_POLLING_MINUTES], "Fast polling");

	/* Without Workstations deployed to the device, order 2 wins. */
	clientsettings_resolve(&d, two, 2, &r);
	assert_int_equal(r.value[CS_SU_THIRD_PARTY], 1);
	assert_string_equal(r.source[CS_SU_THIRD_PARTY], "Third party on");
	/* Workstations moved below it: it loses. */
	w.order = 4;
	clientsettings_resolve(&d, all, 3, &r);
	assert_int_equal(r.value[CS_SU_THIRD_PARTY], 1);
	assert_string_equal(r.source[CS_SU_THIRD_PARTY], "Third party on");
}

static void test_versions(void **state)
{
	(void)state;
	assert_true(clientsettings_version_valid("5.00.8692.1003"));
	assert_false(clientsettings_version_valid("5.00.8692"));
	assert_false(clientsettings_version_valid("5.00.8692.1003.1"));
	assert_false(clientsettings_version_valid("5.00.8692.x"));
	assert_false(clientsettings_version_valid("5.00.123456.1"));
	assert_false(clientsettings_version_valid(""));
	assert_int_equal(clientsettings_version_cmp("5.00.8692.1003", "5.00.8692.1003"), 0);
	assert_true(clientsettings_version_cmp("5.00.9128.1000", "5.00.8692.1003") > 0);
	assert_true(clientsettings_version_cmp("5.00.8692.1002", "5.00.8692.1003") < 0);
	assert_true(clientsettings_version_cmp("5.0.8692.1003", "5.00.8692.1003") == 0);
	assert_true(clientsettings_version_cmp("10.00.1.1", "5.00.8692.1003") > 0);
	assert_true(clientsettings_version_cmp("garbage", "5.00.8692.1003") < 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_set),
	    cmocka_unit_test(test_resolve),
	    cmocka_unit_test(test_versions),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
