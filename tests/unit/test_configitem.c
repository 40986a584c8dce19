/* test_configitem.c - the rules of configuration items (src/lib/configitem.c): names of kinds,
 * types and states both ways, the stores an item may require, names and scripts refused, the
 * canonical text of each type and the errors that name a value not of its type, what a
 * discovery script's output becomes, and comparison by type (booleans and integers by value,
 * strings byte for byte). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "configitem.h"
#include "hresult.h"

#include <stdlib.h>
#include <string.h>

static void test_names(void **state)
{
	enum configitem_kind k;
	enum configitem_type t;
	enum configitem_state s;
	struct pp_error err;

	(void)state;
	pp_error_clear(&err);
	assert_string_equal(configitem_kind_name(CONFIGITEM_KIND_CERTIFICATE), "certificate");
	assert_string_equal(configitem_kind_label(CONFIGITEM_KIND_CERTIFICATE),
			    "Certificate present");
	assert_string_equal(configitem_type_label(CONFIGITEM_TYPE_INTEGER), "Integer");
	assert_string_equal(configitem_state_name(CONFIGITEM_NON_COMPLIANT), "non_compliant");
	assert_string_equal(configitem_state_label(CONFIGITEM_NON_COMPLIANT), "Non-compliant");
	assert_string_equal(configitem_state_label(CONFIGITEM_UNKNOWN), "Unknown");
	assert_string_equal(configitem_state_name((enum configitem_state)99), "unknown");
	assert_int_equal(configitem_kind_parse("script", &k, &err), 0);
	assert_int_equal(k, CONFIGITEM_KIND_SCRIPT);
	assert_int_equal(configitem_kind_parse("Script", &k, &err), -1);
	assert_string_equal(
	    err.message, "unknown configuration item kind \"Script\"; known: certificate, script");
	assert_int_equal(configitem_type_parse("BOOLEAN", &t, &err), 0);
	assert_int_equal(t, CONFIGITEM_TYPE_BOOLEAN);
	pp_error_clear(&err);
	assert_int_equal(configitem_type_parse("float", &t, &err), -1);
	assert_int_equal(err.code, HR_E_INVALIDARG);
	assert_string_equal(err.message, "unknown data type \"float\"; a script item's data type "
					 "is boolean, string or integer");
	assert_int_equal(configitem_state_parse("remediated", &s, &err), 0);
	assert_int_equal(s, CONFIGITEM_REMEDIATED);
	/* A device never reports unknown: that is the site's word for no report. */
	assert_int_equal(configitem_state_parse("unknown", &s, &err), -1);
	assert_int_equal(configitem_operator_check("equals", &err), 0);
	pp_error_clear(&err);
	assert_int_equal(configitem_operator_check("greater_than", &err), -1);
	assert_string_equal(err.message,
			    "unknown operator \"greater_than\"; the one operator is equals");
}

static void test_stores(void **state)
{
	struct pp_error err;
	unsigned bit = 0;
	char text[64];

	(void)state;
	pp_error_clear(&err);
	assert_int_equal(configitem_store_parse("root", &bit, &err), 0);
	assert_int_equal(bit, CONFIGITEM_STORE_ROOT);
	assert_int_equal(configitem_store_parse("TrustedPublisher", &bit, &err), 0);
	assert_int_equal(bit, CONFIGITEM_STORE_TRUSTED_PUBLISHER);
	assert_int_equal(configitem_store_parse("Disallowed", &bit, &err), -1);
	assert_string_equal(err.message, "a configuration item checks Root or TrustedPublisher, "
					 "not the Disallowed store");
	pp_error_clear(&err);
	assert_int_equal(configitem_store_parse("Trusted", &bit, &err), -1);
	assert_int_equal(err.code, HR_E_INVALIDARG);
	assert_string_equal(err.message, "unknown certificate store \"Trusted\"; a configuration "
					 "item checks Root or TrustedPublisher");
	configitem_stores_text(CONFIGITEM_STORE_ROOT | CONFIGITEM_STORE_TRUSTED_PUBLISHER, text,
			       sizeof(text));
	assert_string_equal(text, "Root, TrustedPublisher");
	configitem_stores_text(CONFIGITEM_STORE_TRUSTED_PUBLISHER, text, sizeof(text));
	assert_string_equal(text, "TrustedPublisher");
}

static void test_checks(void **state)
{
	char name[CONFIGITEM_NAME_MAX + 2];
	char *big = malloc(CONFIGITEM_SCRIPT_MAX + 1);
	struct pp_error err;

	(void)state;
	assert_non_null(big);
	pp_error_clear(&err);
	assert_int_equal(configitem_check_name("Trust the signing certificate", "a name", &err), 0);
	assert_int_equal(configitem_check_name("", "a name", &err), -1);
	assert_string_equal(err.message, "a name is empty");
	pp_error_clear(&err);
	assert_int_equal(configitem_check_name("tab\there", "a name", &err), -1);
	assert_string_equal(err.message, "a name contains a control character");
	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	pp_error_clear(&err);
	assert_int_equal(configitem_check_name(name, "a name", &err), -1);
	assert_string_equal(err.message, "a name is longer than 255 bytes");
	name[CONFIGITEM_NAME_MAX] = '\0';
	assert_int_equal(configitem_check_name(name, "a name", &err), 0);

	memset(big, 'x', CONFIGITEM_SCRIPT_MAX + 1);
	assert_int_equal(configitem_check_script(big, CONFIGITEM_SCRIPT_MAX, "script", &err), 0);
	pp_error_clear(&err);
	assert_int_equal(configitem_check_script(big, CONFIGITEM_SCRIPT_MAX + 1, "script", &err),
			 -1);
	assert_string_equal(err.message, "the script is longer than 65536 bytes");
	pp_error_clear(&err);
	assert_int_equal(configitem_check_script("a\0b", 3, "discovery script", &err), -1);
	assert_string_equal(err.message, "the discovery script holds a NUL byte; a script is text");
	free(big);
	assert_int_equal(configitem_check_timeout(1, &err), 0);
	assert_int_equal(configitem_check_timeout(0, &err), -1);
	assert_int_equal(configitem_check_schedule(CONFIGITEM_SCHEDULE_HOURS_MAX, &err), 0);
	pp_error_clear(&err);
	assert_int_equal(configitem_check_schedule(0, &err), -1);
	assert_string_equal(err.message,
			    "a baseline's evaluation schedule is 1 to 8760 hours, not 0");
}

static void test_normalize(void **state)
{
	char out[CONFIGITEM_VALUE_MAX + 1], big[CONFIGITEM_VALUE_MAX + 2];
	struct pp_error err;

	(void)state;
	pp_error_clear(&err);
	assert_int_equal(
	    configitem_value_normalize(CONFIGITEM_TYPE_BOOLEAN, " True\n", "v", out, &err), 0);
	assert_string_equal(out, "true");
	assert_int_equal(configitem_value_normalize(CONFIGITEM_TYPE_BOOLEAN, "0", "v", out, &err),
			 0);
	assert_string_equal(out, "false");
	assert_int_equal(
	    configitem_value_normalize(CONFIGITEM_TYPE_INTEGER, "-0042", "v", out, &err), 0);
	assert_string_equal(out, "-42");
	assert_int_equal(configitem_value_normalize(CONFIGITEM_TYPE_INTEGER, "9223372036854775807",
						    "v", out, &err),
			 0);
	assert_string_equal(out, "9223372036854775807");
	assert_int_equal(configitem_value_normalize(CONFIGITEM_TYPE_INTEGER, "9223372036854775808",
						    "the expected value", out, &err),
			 -1);
	assert_string_equal(err.message, "the expected value \"9223372036854775808\" is not an "
					 "integer (a signed 64-bit decimal number)");
	pp_error_clear(&err);
	assert_int_equal(configitem_value_normalize(CONFIGITEM_TYPE_INTEGER, "1.5", "v", out, &err),
			 -1);
	pp_error_clear(&err);
	assert_int_equal(configitem_value_normalize(CONFIGITEM_TYPE_INTEGER, "-", "v", out, &err),
			 -1);
	pp_error_clear(&err);
	assert_int_equal(configitem_value_normalize(CONFIGITEM_TYPE_INTEGER, "", "v", out, &err),
			 -1);
	pp_error_clear(&err);
	assert_int_equal(configitem_value_normalize(CONFIGITEM_TYPE_BOOLEAN, "yes",
						    "the expected value", out, &err),
			 -1);
	assert_int_equal(err.code, HR_E_INVALIDARG);
	assert_string_equal(err.message, "the expected value \"yes\" is not a Boolean (true or "
					 "false)");
	/* A string is kept as given, blanks included. */
	assert_int_equal(
	    configitem_value_normalize(CONFIGITEM_TYPE_STRING, " As Is\t", "v", out, &err), 0);
	assert_string_equal(out, " As Is\t");
	pp_error_clear(&err);
	assert_int_equal(
	    configitem_value_normalize(CONFIGITEM_TYPE_STRING, "two\nlines", "v", out, &err), -1);
	assert_string_equal(err.message, "v \"two?lines\" holds a control character");
	/* A long value is cut in the message, never inside a UTF-8 character. */
	{
		char utf8[128] = "a", want[160] = "v \"a";

		for (int k = 0; k < 40; k++)
			strcat(utf8, "\xc3\xa9");
		for (int k = 0; k < 31; k++)
			strcat(want, "\xc3\xa9");
		strcat(want, "...\" is not an integer (a signed 64-bit decimal number)");
		pp_error_clear(&err);
		assert_int_equal(
		    configitem_value_normalize(CONFIGITEM_TYPE_INTEGER, utf8, "v", out, &err), -1);
		assert_string_equal(err.message, want);
	}
	memset(big, 's', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	pp_error_clear(&err);
	assert_int_equal(configitem_value_normalize(CONFIGITEM_TYPE_STRING, big, "v", out, &err),
			 -1);
	assert_string_equal(err.message, "v is longer than 1024 bytes");
}

static void test_output_and_compare(void **state)
{
	char v[CONFIGITEM_VALUE_MAX + 1], big[CONFIGITEM_VALUE_MAX + 3];
	struct pp_error err;
	bool eq = true;

	(void)state;
	pp_error_clear(&err);
	assert_int_equal(configitem_output_value("1\r\n", 3, v, &err), 0);
	assert_string_equal(v, "1");
	assert_int_equal(configitem_output_value("", 0, v, &err), 0);
	assert_string_equal(v, "");
	assert_int_equal(configitem_output_value("a\nb\n\n", 5, v, &err), 0);
	assert_string_equal(v, "a\nb");
	memset(big, 'x', sizeof(big));
	big[CONFIGITEM_VALUE_MAX + 1] = '\n';
	assert_int_equal(configitem_output_value(big, CONFIGITEM_VALUE_MAX + 2, v, &err), -1);
	assert_int_equal(err.code, HR_ERROR_INVALID_DATA);
	assert_string_equal(err.message,
			    "the discovery script wrote 1025 bytes; a value is at most 1024");
	pp_error_clear(&err);
	assert_int_equal(configitem_output_value("a\0b", 3, v, &err), -1);
	assert_string_equal(err.message, "the discovery script wrote a NUL byte; a value is text");
	pp_error_clear(&err);

	/* By type: a value of the type, compared by value. */
	assert_int_equal(configitem_compare(CONFIGITEM_TYPE_INTEGER, "01", "1", &eq, &err), 0);
	assert_true(eq);
	assert_int_equal(configitem_compare(CONFIGITEM_TYPE_INTEGER, "0", "1", &eq, &err), 0);
	assert_false(eq);
	assert_int_equal(configitem_compare(CONFIGITEM_TYPE_BOOLEAN, "False", "false", &eq, &err),
			 0);
	assert_true(eq);
	assert_int_equal(configitem_compare(CONFIGITEM_TYPE_BOOLEAN, "1", "true", &eq, &err), 0);
	assert_true(eq);
	assert_int_equal(
	    configitem_compare(CONFIGITEM_TYPE_STRING, "Installed", "installed", &eq, &err), 0);
	assert_false(eq);
	assert_int_equal(
	    configitem_compare(CONFIGITEM_TYPE_STRING, "Installed", "Installed", &eq, &err), 0);
	assert_true(eq);
	/* A string item compares what was written, not a number it looks like. */
	assert_int_equal(configitem_compare(CONFIGITEM_TYPE_STRING, "01", "1", &eq, &err), 0);
	assert_false(eq);
	assert_int_equal(
	    configitem_compare(CONFIGITEM_TYPE_BOOLEAN, "yes please", "true", &eq, &err), -1);
	assert_int_equal(err.code, HR_ERROR_INVALID_DATA);
	assert_string_equal(err.message,
			    "the discovered value \"yes please\" is not a Boolean (true or false)");
	pp_error_clear(&err);
	assert_int_equal(configitem_compare(CONFIGITEM_TYPE_INTEGER, "", "1", &eq, &err), -1);
	assert_string_equal(err.message, "the discovered value \"\" is not an integer (a signed "
					 "64-bit decimal number)");
	assert_false(eq);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_stores),
	    cmocka_unit_test(test_checks),
	    cmocka_unit_test(test_normalize),
	    cmocka_unit_test(test_output_and_compare),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
