/* test_tasksequence.c - the model of task sequences and packages (src/lib/tasksequence.c): step
 * types and their spellings, names, versions, ids, package paths, command lines (words, quotes,
 * the program and the rest), whole steps of each type with what they must and must not carry,
 * the policy source, run and step states, run ids. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "hresult.h"
#include "tasksequence.h"

#include <stdio.h>
#include <string.h>

static void test_step_types(void **state)
{
	enum ts_step_type t;
	struct pp_error err;

	(void)state;
	for (int i = 0; i < TS_STEP_TYPE_COUNT; i++) {
		pp_error_clear(&err);
		assert_int_equal(ts_step_type_parse(ts_step_type_key(i), &t, &err), 0);
		assert_int_equal(t, i);
		assert_int_equal(ts_step_type_parse(ts_step_type_label(i), &t, &err), 0);
		assert_int_equal(t, i);
	}
	assert_string_equal(ts_step_type_key(TS_STEP_INSTALL_SOFTWARE_UPDATES),
			    "install-software-updates");
	assert_string_equal(ts_step_type_label(TS_STEP_RUN_COMMAND_LINE), "Run Command Line");
	assert_int_equal(ts_step_type_parse("RUN-COMMAND-LINE", &t, &err), 0);
	assert_int_equal(t, TS_STEP_RUN_COMMAND_LINE);
	pp_error_clear(&err);
	assert_int_equal(ts_step_type_parse("reboot", &t, &err), -1);
	assert_int_equal(err.code, HR_E_INVALIDARG);
	assert_string_equal(err.message, "unknown step type 'reboot'; known: run-command-line, "
					 "install-software-updates, set-policy, restart");
	assert_string_equal(ts_step_type_key((enum ts_step_type)42), "unknown");
}

static void test_names(void **state)
{
	char longest[TS_NAME_MAX + 2];
	struct pp_error err;

	(void)state;
	pp_error_clear(&err);
	assert_int_equal(ts_name_check("Import certificates", "step name", &err), 0);
	assert_int_equal(ts_name_check("Zertifikate für Geräte", "step name", &err), 0);
	memset(longest, 'a', TS_NAME_MAX);
	longest[TS_NAME_MAX] = '\0';
	assert_int_equal(ts_name_check(longest, "package name", &err), 0);
	longest[TS_NAME_MAX] = 'a';
	longest[TS_NAME_MAX + 1] = '\0';
	assert_int_equal(ts_name_check(longest, "package name", &err), -1);
	assert_string_equal(err.message, "the package name is longer than 255 bytes");
	pp_error_clear(&err);
	assert_int_equal(ts_name_check("", "task sequence name", &err), -1);
	assert_string_equal(err.message, "the task sequence name is empty");
	pp_error_clear(&err);
	assert_int_equal(ts_name_check(NULL, "task sequence name", &err), -1);
	pp_error_clear(&err);
	assert_int_equal(ts_name_check("a\tb", "step name", &err), -1);
	assert_string_equal(err.message, "the step name must be UTF-8 text without control "
					 "characters");
	pp_error_clear(&err);
	assert_int_equal(ts_name_check("bad \xC3", "step name", &err), -1);	    /* cut */
	assert_int_equal(ts_name_check("over \xC0\xAF", "step name", &err), -1);    /* overlong */
	assert_int_equal(ts_name_check("sur \xED\xA0\x80", "step name", &err), -1); /* surrogate */
	assert_int_equal(ts_name_check("del \x7F", "step name", &err), -1);
}

static void test_versions_and_ids(void **state)
{
	struct pp_error err;
	char v[TS_VERSION_MAX + 2];

	(void)state;
	pp_error_clear(&err);
	assert_int_equal(ts_version_check("1.0", &err), 0);
	assert_int_equal(ts_version_check("2024.06-rc1+build.7", &err), 0);
	assert_int_equal(ts_version_check("1 0", &err), -1);
	assert_int_equal(err.code, HR_E_INVALIDARG);
	assert_int_equal(ts_version_check("", &err), -1);
	assert_int_equal(ts_version_check("v\xC3\xA9", &err), -1);
	memset(v, '1', TS_VERSION_MAX);
	v[TS_VERSION_MAX] = '\0';
	assert_int_equal(ts_version_check(v, &err), 0);
	v[TS_VERSION_MAX] = '1';
	v[TS_VERSION_MAX + 1] = '\0';
	assert_int_equal(ts_version_check(v, &err), -1);

	assert_true(ts_id_valid("PP100010"));
	assert_true(ts_id_valid("CAS0FFFF"));
	assert_false(ts_id_valid("PP10001"));
	assert_false(ts_id_valid("PP1000100"));
	assert_false(ts_id_valid("pp100010"));
	assert_false(ts_id_valid("PP10001g"));
	assert_false(ts_id_valid("PP1-0010"));
	assert_false(ts_id_valid(NULL));
}

static void test_package_paths(void **state)
{
	static const char *const good[] = {
	    "a", "Import-Certificates.sh", "sub/dir/file.cer", ".hidden", "a..b", "x/.y", "é.txt"};
	static const char *const bad[] = {"",	  "/abs",      "a/../b", "..",	 ".",	   "a/./b",
					  "a//b", "trailing/", "a\\b",	 "c\tr", "a/\x01", "\xFF"};
	struct pp_error err;
	char longest[TS_PATH_MAX + 2];

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		pp_error_clear(&err);
		if (ts_package_path_check(good[i], &err) != 0)
			fail_msg("'%s' refused: %s", good[i], err.message);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		pp_error_clear(&err);
		if (ts_package_path_check(bad[i], &err) == 0)
			fail_msg("'%s' taken", bad[i]);
		assert_int_equal(err.code, HR_ERROR_INVALID_NAME);
	}
	memset(longest, 'p', TS_PATH_MAX);
	longest[TS_PATH_MAX] = '\0';
	assert_int_equal(ts_package_path_check(longest, &err), 0);
	longest[TS_PATH_MAX] = 'p';
	longest[TS_PATH_MAX + 1] = '\0';
	assert_int_equal(ts_package_path_check(longest, &err), -1);
}

static void test_command_lines(void **state)
{
	const char *cmd = "sh -c \"echo \\\"two words\\\"; exit 3\" \t last";
	char buf[256], *words[8], program[64];
	const char *rest = NULL;
	struct pp_error err;
	size_t n = 0;

	(void)state;
	pp_error_clear(&err);
	assert_int_equal(ts_command_line_split(cmd, buf, words, 8, &n, &err), 0);
	assert_int_equal(n, 4);
	assert_string_equal(words[0], "sh");
	assert_string_equal(words[1], "-c");
	assert_string_equal(words[2], "echo \"two words\"; exit 3");
	assert_string_equal(words[3], "last");
	/* Nothing else is special: no shell. */
	assert_int_equal(ts_command_line_split("echo $HOME `id` 'a b' ;", buf, words, 8, &n, &err),
			 0);
	assert_int_equal(n, 6);
	assert_string_equal(words[3], "'a");
	assert_string_equal(words[5], ";");
	assert_int_equal(ts_command_line_split("a \"b", buf, words, 8, &n, &err), -1);
	assert_string_equal(err.message, "the command line has an unclosed quote");
	pp_error_clear(&err);
	assert_int_equal(ts_command_line_split("   ", buf, words, 8, &n, &err), -1);
	assert_string_equal(err.message, "the command line names no program");
	pp_error_clear(&err);
	assert_int_equal(ts_command_line_split("\"\" x", buf, words, 8, &n, &err), -1);
	pp_error_clear(&err);
	assert_int_equal(ts_command_line_split("1 2 3", buf, words, 2, &n, &err), -1);
	assert_string_equal(err.message, "the command line has more than 2 words");

	pp_error_clear(&err);
	assert_int_equal(ts_command_line_program("  \"My Tool.sh\" --flag \"x y\"", program,
						 sizeof(program), &rest, &err),
			 0);
	assert_string_equal(program, "My Tool.sh");
	assert_string_equal(rest, "--flag \"x y\"");
	assert_int_equal(ts_command_line_program("Import-Certificates.sh", program, sizeof(program),
						 &rest, &err),
			 0);
	assert_string_equal(program, "Import-Certificates.sh");
	assert_string_equal(rest, "");
	assert_int_equal(ts_command_line_program("\"open", program, sizeof(program), &rest, &err),
			 -1);
	pp_error_clear(&err);
	assert_int_equal(ts_command_line_program("abcdefgh", program, 4, &rest, &err), -1);
	assert_string_equal(err.message, "the command line's program is too long");
}

static void rcl(struct ts_step *s, const char *cmd)
{
	memset(s, 0, sizeof(*s));
	(void)snprintf(s->name, sizeof(s->name), "Run Command Line");
	s->type = TS_STEP_RUN_COMMAND_LINE;
	(void)snprintf(s->command_line, sizeof(s->command_line), "%s", cmd);
	s->timeout = TS_TIMEOUT_DEFAULT;
}

static void expect_refused(const struct ts_step *s, const char *message)
{
	struct pp_error err;

	pp_error_clear(&err);
	assert_int_equal(ts_step_check(s, &err), -1);
	assert_int_equal(err.code, HR_E_INVALIDARG);
	assert_string_equal(err.message, message);
}

static void test_steps(void **state)
{
	struct ts_step s;
	struct pp_error err;
	char many[TS_COMMAND_MAX + 1];
	size_t used = 0;

	(void)state;
	pp_error_clear(&err);
	rcl(&s, "Import-Certificates.sh");
	assert_int_equal(ts_step_check(&s, &err), 0);
	(void)snprintf(s.package_id, sizeof(s.package_id), "PP100010");
	assert_int_equal(ts_step_check(&s, &err), 0);
	(void)snprintf(s.package_id, sizeof(s.package_id), "nope");
	expect_refused(&s, "'nope' is not a package id");
	rcl(&s, "");
	expect_refused(&s, "a Run Command Line step needs a command line of 1 to 4096 bytes");
	rcl(&s, "x\ny");
	expect_refused(&s, "the command line must be UTF-8 text without control characters");
	rcl(&s, "tab\tseparated"); /* a tab separates words: allowed */
	assert_int_equal(ts_step_check(&s, &err), 0);
	rcl(&s, "x");
	s.timeout = 0;
	expect_refused(&s, "the timeout must be 1 to 604800 seconds, not 0");
	s.timeout = TS_TIMEOUT_MAX + 1;
	expect_refused(&s, "the timeout must be 1 to 604800 seconds, not 604801");
	s.timeout = TS_TIMEOUT_MAX;
	assert_int_equal(ts_step_check(&s, &err), 0);
	(void)snprintf(s.policy_name, sizeof(s.policy_name), "AcceptTrustedPublisherCerts");
	expect_refused(&s, "a Run Command Line step takes no policy name or value");
	while (used + 2 < sizeof(many) && used < 2 * (TS_COMMAND_WORDS_MAX + 1))
		used += (size_t)snprintf(many + used, sizeof(many) - used, "w ");
	rcl(&s, many);
	expect_refused(&s, "the command line has more than 64 words");

	memset(&s, 0, sizeof(s));
	(void)snprintf(s.name, sizeof(s.name), "Install Software Updates");
	s.type = TS_STEP_INSTALL_SOFTWARE_UPDATES;
	s.continue_on_error = true;
	assert_int_equal(ts_step_check(&s, &err), 0);
	s.timeout = 10;
	expect_refused(&s, "a Install Software Updates step takes no package, command line or "
			   "timeout");
	s.timeout = 0;
	(void)snprintf(s.command_line, sizeof(s.command_line), "x");
	expect_refused(&s, "a Install Software Updates step takes no package, command line or "
			   "timeout");

	memset(&s, 0, sizeof(s));
	(void)snprintf(s.name, sizeof(s.name), "Trust");
	s.type = TS_STEP_SET_POLICY;
	(void)snprintf(s.policy_name, sizeof(s.policy_name), "AcceptTrustedPublisherCerts");
	s.policy_value = 1;
	assert_int_equal(ts_step_check(&s, &err), 0);
	(void)snprintf(s.policy_name, sizeof(s.policy_name), "AcceptAll");
	expect_refused(&s, "unknown policy value 'AcceptAll'; known: AcceptTrustedPublisherCerts");

	memset(&s, 0, sizeof(s));
	(void)snprintf(s.name, sizeof(s.name), "Restart");
	s.type = TS_STEP_RESTART;
	assert_int_equal(ts_step_check(&s, &err), 0);
	s.policy_value = 1;
	expect_refused(&s, "a Restart step takes no policy name or value");
	s.policy_value = 0;
	s.name[0] = '\0';
	expect_refused(&s, "the step name is empty");
	s.type = (enum ts_step_type)9;
	expect_refused(&s, "unknown step type 9");
}

static void test_policy_source(void **state)
{
	char out[128], small[20];
	char longest[TS_NAME_MAX + 1];

	(void)state;
	ts_policy_source("Trust and install", out, sizeof(out));
	assert_string_equal(out, "task-sequence:Trust and install");
	ts_policy_source("Gerät\tneu", out, sizeof(out));
	assert_string_equal(out, "task-sequence:Ger?t?neu"); /* one '?' per character */
	ts_policy_source("abcdefghij", small, sizeof(small));
	assert_string_equal(small, "task-sequence:abcde");
	memset(longest, 'x', TS_NAME_MAX);
	longest[TS_NAME_MAX] = '\0';
	ts_policy_source(longest, out, sizeof(out));
	assert_int_equal(strlen(out), 127); /* MACHINEPOLICY_SOURCE_MAX - 1 */
}

static void test_states(void **state)
{
	(void)state;
	for (int i = 0; i < TS_RUN_STATE_COUNT; i++)
		assert_int_equal(ts_run_state_parse(ts_run_state_name(i)), i);
	for (int i = 0; i < TS_STEP_STATE_COUNT; i++)
		assert_int_equal(ts_step_state_parse(ts_step_state_name(i)), i);
	assert_string_equal(ts_run_state_label(TS_RUN_INTERRUPTED), "Interrupted");
	assert_string_equal(ts_step_state_label(TS_STEP_SKIPPED), "Skipped");
	assert_int_equal(ts_run_state_parse("Succeeded"), -1);
	assert_int_equal(ts_step_state_parse(NULL), -1);
	assert_string_equal(ts_run_state_name((enum ts_run_state)7), "unknown");

	assert_true(ts_run_id_valid("0f8fad5b-d9cb-469f-a165-70867728950e"));
	assert_false(ts_run_id_valid("0F8FAD5B-D9CB-469F-A165-70867728950E"));
	assert_false(ts_run_id_valid("0f8fad5b-d9cb-469f-a165-70867728950"));
	assert_false(ts_run_id_valid("0f8fad5bxd9cb-469f-a165-70867728950e"));
	assert_false(ts_run_id_valid("0f8fad5b-d9cb-469f-a165-70867728950g"));
	assert_false(ts_run_id_valid(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_step_types),	     cmocka_unit_test(test_names),
	    cmocka_unit_test(test_versions_and_ids), cmocka_unit_test(test_package_paths),
	    cmocka_unit_test(test_command_lines),    cmocka_unit_test(test_steps),
	    cmocka_unit_test(test_policy_source),    cmocka_unit_test(test_states),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
