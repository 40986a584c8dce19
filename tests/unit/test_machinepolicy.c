/* test_machinepolicy.c - policy values with their source: round trip, refusals, malformed and
 * oversized files, atomic replacement. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "hresult.h"
#include "machinepolicy.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ATPC MACHINEPOLICY_ACCEPT_TRUSTED_PUBLISHER_CERTS

static char *value_file(const char *machine)
{
	char *p;

	assert_true(asprintf(&p, "%s/policy/values/%s", machine, ATPC) > 0);
	return p;
}

static void test_registry_key(void **state)
{
	(void)state;
	assert_string_equal(machinepolicy_registry_key(ATPC),
			    "Software\\Policies\\Microsoft\\Windows\\WindowsUpdate");
	assert_null(machinepolicy_registry_key("acceptTrustedPublisherCerts"));
	assert_null(machinepolicy_registry_key("Unknown"));
	assert_null(machinepolicy_registry_key(""));
	assert_null(machinepolicy_registry_key(NULL));
}

static void test_round_trip(void **state)
{
	struct pp_error err = {0};
	struct machinepolicy_value v;
	char *m = tu_tmpdir(), *file = value_file(m);

	(void)state;
	assert_int_equal(machinepolicy_set(m, ATPC, 1, "local", &err), 0);
	tu_assert_file_text(file, "1\tlocal\n");
	assert_int_equal(machinepolicy_get(m, ATPC, &v, &err), 0);
	assert_true(v.present);
	assert_int_equal(v.value, 1);
	assert_string_equal(v.source, "local");

	/* Replacing keeps one file and takes the new source. */
	assert_int_equal(
	    machinepolicy_set(m, ATPC, 0, "client-settings:Default Client Settings", &err), 0);
	tu_assert_file_text(file, "0\tclient-settings:Default Client Settings\n");
	assert_int_equal(machinepolicy_get(m, ATPC, &v, &err), 0);
	assert_true(v.present);
	assert_int_equal(v.value, 0);
	assert_string_equal(v.source, "client-settings:Default Client Settings");

	assert_int_equal(machinepolicy_set(m, ATPC, UINT32_MAX, "gpo:WSUS Signing", &err), 0);
	assert_int_equal(machinepolicy_get(m, ATPC, &v, &err), 0);
	assert_int_equal(v.value, UINT32_MAX);
	assert_string_equal(v.source, "gpo:WSUS Signing");

	assert_int_equal(machinepolicy_clear(m, ATPC, &err), 0);
	assert_int_equal(access(file, F_OK), -1);
	memset(&v, 0x55, sizeof(v));
	assert_int_equal(machinepolicy_get(m, ATPC, &v, &err), 0);
	assert_false(v.present);
	assert_int_equal(v.value, 0);
	assert_string_equal(v.source, "");
	/* Clearing again is not an error. */
	assert_int_equal(machinepolicy_clear(m, ATPC, &err), 0);
	assert_int_equal(err.code, 0);
	tu_rmrf(m);
	free(file);
	free(m);
}

static void test_absent_creates_nothing(void **state)
{
	struct pp_error err = {0};
	struct machinepolicy_value v;
	char *m = tu_tmpdir(), *missing = tu_path(m, "never-created");

	(void)state;
	memset(&v, 0x55, sizeof(v));
	(void)umask(022);
	assert_int_equal(machinepolicy_get(m, ATPC, &v, &err), 0);
	assert_false(v.present);
	assert_int_equal(machinepolicy_clear(m, ATPC, &err), 0);
	assert_int_equal(machinepolicy_get(missing, ATPC, &v, &err), 0);
	assert_false(v.present);
	assert_int_equal(machinepolicy_clear(missing, ATPC, &err), 0);
	assert_int_equal(err.code, 0);
	assert_int_equal(tu_count_entries(m), 0);
	/* set creates the whole tree, directories 0755 and the file 0644. */
	assert_int_equal(machinepolicy_set(missing, ATPC, 1, "local", &err), 0);
	assert_int_equal(tu_count_entries(missing), 3);
	{
		struct stat st;
		char *dir = tu_path(missing, "policy/values"), *file = value_file(missing);

		assert_int_equal(stat(dir, &st), 0);
		assert_int_equal(st.st_mode & 07777, 0755);
		assert_int_equal(stat(file, &st), 0);
		assert_int_equal(st.st_mode & 07777, 0644);
		free(dir);
		free(file);
	}
	tu_rmrf(m);
	free(missing);
	free(m);
}

static void test_unknown_name_refused(void **state)
{
	static const char *names[] = {"Foo", "", "../../etc/passwd",
				      "AcceptTrustedPublisherCerts/x",
				      "accepttrustedpublishercerts"};
	struct pp_error err;
	struct machinepolicy_value v;
	char *m = tu_tmpdir();
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		pp_error_clear(&err);
		assert_int_equal(machinepolicy_set(m, names[i], 1, "local", &err), -1);
		assert_int_equal(err.code, HR_E_INVALIDARG);
		pp_error_clear(&err);
		assert_int_equal(machinepolicy_get(m, names[i], &v, &err), -1);
		assert_int_equal(err.code, HR_E_INVALIDARG);
		assert_false(v.present);
		pp_error_clear(&err);
		assert_int_equal(machinepolicy_clear(m, names[i], &err), -1);
		assert_int_equal(err.code, HR_E_INVALIDARG);
	}
	pp_error_clear(&err);
	assert_int_equal(machinepolicy_set(m, "Foo", 1, "local", &err), -1);
	assert_string_equal(err.message,
			    "unknown policy value 'Foo'; known: AcceptTrustedPublisherCerts");
	pp_error_clear(&err);
	assert_int_equal(machinepolicy_set(m, NULL, 1, "local", &err), -1);
	assert_int_equal(err.code, HR_E_INVALIDARG);
	pp_error_clear(&err);
	assert_int_equal(machinepolicy_set(NULL, ATPC, 1, "local", &err), -1);
	assert_int_equal(err.code, HR_E_INVALIDARG);
	pp_error_clear(&err);
	assert_int_equal(machinepolicy_set("", ATPC, 1, "local", &err), -1);
	assert_int_equal(err.code, HR_E_INVALIDARG);
	/* Nothing was written anywhere. */
	assert_int_equal(tu_count_entries(m), 0);
	tu_rmrf(m);
	free(m);
}

static void test_bad_source_refused(void **state)
{
	char too_long[MACHINEPOLICY_SOURCE_MAX + 1], longest[MACHINEPOLICY_SOURCE_MAX];
	static const char printable[] = "gpo: A-z 0-9 !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}";
	const char *bad[] = {NULL,	    "",	       "tab\there", "new\nline", "cr\rhere",
			     "caf\xc3\xa9", "del\x7f", too_long};
	struct pp_error err;
	struct machinepolicy_value v;
	char *m = tu_tmpdir();
	size_t i;

	(void)state;
	memset(too_long, 's', MACHINEPOLICY_SOURCE_MAX);
	too_long[MACHINEPOLICY_SOURCE_MAX] = '\0'; /* one character too many */
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		pp_error_clear(&err);
		assert_int_equal(machinepolicy_set(m, ATPC, 1, bad[i], &err), -1);
		assert_int_equal(err.code, HR_E_INVALIDARG);
		assert_non_null(strstr(err.message, "source"));
		assert_int_equal(tu_count_entries(m), 0);
	}
	/* The longest source that fits, with every printable character class. */
	memset(longest, '~', sizeof(longest) - 1);
	longest[sizeof(longest) - 1] = '\0';
	memcpy(longest, printable, strlen(printable));
	pp_error_clear(&err);
	assert_int_equal(machinepolicy_set(m, ATPC, 1, longest, &err), 0);
	assert_int_equal(machinepolicy_get(m, ATPC, &v, &err), 0);
	assert_string_equal(v.source, longest);
	tu_rmrf(m);
	free(m);
}

static void expect_invalid_data(const char *m, const void *content, size_t len)
{
	struct pp_error err = {0};
	struct machinepolicy_value v;
	char *file = value_file(m);

	tu_write_file(file, content, len);
	memset(&v, 0x55, sizeof(v));
	assert_int_equal(machinepolicy_get(m, ATPC, &v, &err), -1);
	assert_int_equal(err.code, HR_ERROR_INVALID_DATA);
	assert_non_null(strstr(err.message, file));
	assert_false(v.present);
	free(file);
}

static void expect_valid(const char *m, const char *content, uint32_t value, const char *source)
{
	struct pp_error err = {0};
	struct machinepolicy_value v;
	char *file = value_file(m);

	tu_write_file(file, content, strlen(content));
	assert_int_equal(machinepolicy_get(m, ATPC, &v, &err), 0);
	assert_true(v.present);
	assert_int_equal(v.value, value);
	assert_string_equal(v.source, source);
	free(file);
}

static void test_malformed_files(void **state)
{
	static const char *bad[] = {
	    "",
	    "1",
	    "1\tlocal",
	    "\tlocal\n",
	    "x\tlocal\n",
	    "-1\tlocal\n",
	    "+1\tlocal\n",
	    " 1\tlocal\n",
	    "01\tlocal\n",
	    "0x1\tlocal\n",
	    "4294967296\tlocal\n",
	    "99999999999999999999\tlocal\n",
	    "1 local\n",
	    "1\t\n",
	    "1\tlo\tcal\n",
	    "1\tlocal\n\n",
	    "1\tlocal\n2\tother\n",
	    "1\tlocal\r\n",
	    "1\tcaf\xc3\xa9\n",
	};
	struct pp_error err = {0};
	char long_source[MACHINEPOLICY_SOURCE_MAX + 8], expect_source[MACHINEPOLICY_SOURCE_MAX];
	char *m = tu_tmpdir();
	size_t i;

	(void)state;
	assert_int_equal(machinepolicy_set(m, ATPC, 1, "local", &err), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_invalid_data(m, bad[i], strlen(bad[i]));
	expect_invalid_data(m, "1\tlo\0cal\n", 9);
	/* A source of MACHINEPOLICY_SOURCE_MAX characters does not fit the struct. */
	memset(long_source, 0, sizeof(long_source));
	long_source[0] = '1';
	long_source[1] = '\t';
	memset(long_source + 2, 's', MACHINEPOLICY_SOURCE_MAX);
	long_source[2 + MACHINEPOLICY_SOURCE_MAX] = '\n';
	expect_invalid_data(m, long_source, strlen(long_source));
	/* Boundaries that are valid. */
	expect_valid(m, "0\tx\n", 0, "x");
	expect_valid(m, "4294967295\tgpo:Default Domain Policy\n", UINT32_MAX,
		     "gpo:Default Domain Policy");
	/* The longest source that fits: MACHINEPOLICY_SOURCE_MAX - 1 characters. */
	long_source[2 + MACHINEPOLICY_SOURCE_MAX - 1] = '\n';
	long_source[2 + MACHINEPOLICY_SOURCE_MAX] = '\0';
	memset(expect_source, 's', MACHINEPOLICY_SOURCE_MAX - 1);
	expect_source[MACHINEPOLICY_SOURCE_MAX - 1] = '\0';
	expect_valid(m, long_source, 1, expect_source);
	tu_rmrf(m);
	free(m);
}

static void test_oversized_and_odd_files(void **state)
{
	struct pp_error err = {0};
	struct machinepolicy_value v;
	char *m = tu_tmpdir(), *file = value_file(m), *target = tu_path(m, "elsewhere");
	uint8_t *big = malloc(1 << 20);

	(void)state;
	assert_non_null(big);
	assert_int_equal(machinepolicy_set(m, ATPC, 1, "local", &err), 0);
	/* 4 KiB + 1 of an otherwise valid-looking start. */
	memset(big, 'a', 1 << 20);
	memcpy(big, "1\tlocal\n", 8);
	expect_invalid_data(m, big, 4097);
	expect_invalid_data(m, big, 1 << 20);
	pp_error_clear(&err);
	assert_int_equal(machinepolicy_get(m, ATPC, &v, &err), -1);
	assert_non_null(strstr(err.message, "4096 bytes"));
	expect_invalid_data(m, big, 4096); /* within the limit, but malformed */
	pp_error_clear(&err);
	assert_int_equal(machinepolicy_get(m, ATPC, &v, &err), -1);
	assert_non_null(strstr(err.message, "malformed"));
	/* A directory in place of the file. */
	assert_int_equal(unlink(file), 0);
	assert_int_equal(mkdir(file, 0755), 0);
	pp_error_clear(&err);
	assert_int_equal(machinepolicy_get(m, ATPC, &v, &err), -1);
	assert_int_equal(err.code, HR_ERROR_INVALID_DATA);
	assert_non_null(strstr(err.message, file));
	assert_int_equal(rmdir(file), 0);
	/* A symbolic link is not followed. */
	tu_write_file(target, "1\tlocal\n", 8);
	assert_int_equal(symlink(target, file), 0);
	pp_error_clear(&err);
	assert_int_equal(machinepolicy_get(m, ATPC, &v, &err), -1);
	assert_int_not_equal(err.code, 0);
	assert_non_null(strstr(err.message, file));
	assert_false(v.present);
	free(big);
	tu_rmrf(m);
	free(target);
	free(file);
	free(m);
}

static void test_atomic_write_leaves_no_temp(void **state)
{
	struct pp_error err = {0};
	struct machinepolicy_value v;
	char *m = tu_tmpdir(), *values = tu_path(m, "policy/values"), *blocker = tu_path(m, "blk");
	uint32_t i;

	(void)state;
	for (i = 0; i < 50; i++)
		assert_int_equal(machinepolicy_set(m, ATPC, i % 2, i % 2 ? "local" : "gpo:A", &err),
				 0);
	/* policy, policy/values and the one value file: no temporary left behind. */
	assert_int_equal(tu_count_entries(m), 3);
	assert_int_equal(tu_count_entries(values), 1);
	assert_int_equal(machinepolicy_get(m, ATPC, &v, &err), 0);
	assert_int_equal(v.value, 1);
	assert_string_equal(v.source, "local");

	/* A failed rename (a non-empty directory where the file goes) removes the temporary. */
	{
		char *file = value_file(m), *inside = tu_path(file, "keep");

		assert_int_equal(machinepolicy_clear(m, ATPC, &err), 0);
		assert_int_equal(mkdir(file, 0755), 0);
		tu_write_file(inside, "x", 1);
		pp_error_clear(&err);
		assert_int_equal(machinepolicy_set(m, ATPC, 1, "local", &err), -1);
		assert_int_not_equal(err.code, 0);
		assert_non_null(strstr(err.message, file));
		assert_int_equal(tu_count_entries(values), 2); /* the directory and its file */
		tu_rmrf(file);
		free(inside);
		free(file);
	}

	/* A machine path that cannot hold directories fails cleanly and names the path. */
	tu_write_file(blocker, "x", 1);
	pp_error_clear(&err);
	assert_int_equal(machinepolicy_set(blocker, ATPC, 1, "local", &err), -1);
	assert_int_not_equal(err.code, 0);
	assert_non_null(strstr(err.message, blocker));
	assert_int_equal(tu_count_entries(m), 3);
	tu_rmrf(m);
	free(blocker);
	free(values);
	free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_registry_key),
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_absent_creates_nothing),
	    cmocka_unit_test(test_unknown_name_refused),
	    cmocka_unit_test(test_bad_source_refused),
	    cmocka_unit_test(test_malformed_files),
	    cmocka_unit_test(test_oversized_and_odd_files),
	    cmocka_unit_test(test_atomic_write_leaves_no_temp),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
