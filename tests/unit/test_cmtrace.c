/* test_cmtrace.c - CMTrace record bytes, bias sign, defusing, rollover and appending. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "cmtrace.h"
#include "hresult.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define T_WINTER  1705326330 /* 2024-01-15 13:45:30 UTC */
#define T_SUMMER  1720094400 /* 2024-07-04 12:00:00 UTC */
#define T_NEWYEAR 1704078245 /* 2024-01-01 03:04:05 UTC */
#define T_MARCH	  1709618828 /* 2024-03-05 06:07:08 UTC */

static void set_tz(const char *tz)
{
	assert_int_equal(setenv("TZ", tz, 1), 0);
	tzset();
}

static void assert_record(const char *tz, time_t t, long usec, const char *message,
			  enum cmtrace_type type, const char *expected)
{
	char buf[1024];
	int n;

	set_tz(tz);
	n = cmtrace_format(buf, sizeof(buf), message, "WCM", type, 4242, t, usec);
	assert_int_equal(n, (int)strlen(expected));
	assert_string_equal(buf, expected);
}

static void test_format_utc(void **state)
{
	(void)state;
	assert_record("UTC", T_WINTER, 123456, "Synchronizing certificates", CMTRACE_INFO,
		      "<![LOG[Synchronizing certificates]LOG]!><time=\"13:45:30.123+000\" "
		      "date=\"01-15-2024\" component=\"WCM\" context=\"\" type=\"1\" "
		      "thread=\"4242\" file=\"\">\r\n");
	/* Single-digit month, day, hour, minute, second and millisecond are zero-padded. */
	assert_record("UTC", T_MARCH, 7999, "x", CMTRACE_INFO,
		      "<![LOG[x]LOG]!><time=\"06:07:08.007+000\" date=\"03-05-2024\" "
		      "component=\"WCM\" context=\"\" type=\"1\" thread=\"4242\" file=\"\">\r\n");
}

static void test_format_new_york(void **state)
{
	(void)state;
	/* EST: UTC-5, bias +300. */
	assert_record("America/New_York", T_WINTER, 0, "m", CMTRACE_INFO,
		      "<![LOG[m]LOG]!><time=\"08:45:30.000+300\" date=\"01-15-2024\" "
		      "component=\"WCM\" context=\"\" type=\"1\" thread=\"4242\" file=\"\">\r\n");
	/* EDT: UTC-4, bias +240. */
	assert_record("America/New_York", T_SUMMER, 999999, "m", CMTRACE_INFO,
		      "<![LOG[m]LOG]!><time=\"08:00:00.999+240\" date=\"07-04-2024\" "
		      "component=\"WCM\" context=\"\" type=\"1\" thread=\"4242\" file=\"\">\r\n");
	/* The local date, not the UTC date. */
	assert_record("America/New_York", T_NEWYEAR, 0, "m", CMTRACE_INFO,
		      "<![LOG[m]LOG]!><time=\"22:04:05.000+300\" date=\"12-31-2023\" "
		      "component=\"WCM\" context=\"\" type=\"1\" thread=\"4242\" file=\"\">\r\n");
}

static void test_format_berlin(void **state)
{
	(void)state;
	/* CET: UTC+1, bias -060. */
	assert_record("Europe/Berlin", T_WINTER, 500000, "m", CMTRACE_INFO,
		      "<![LOG[m]LOG]!><time=\"14:45:30.500-060\" date=\"01-15-2024\" "
		      "component=\"WCM\" context=\"\" type=\"1\" thread=\"4242\" file=\"\">\r\n");
	/* CEST: UTC+2, bias -120. */
	assert_record("Europe/Berlin", T_SUMMER, 0, "m", CMTRACE_INFO,
		      "<![LOG[m]LOG]!><time=\"14:00:00.000-120\" date=\"07-04-2024\" "
		      "component=\"WCM\" context=\"\" type=\"1\" thread=\"4242\" file=\"\">\r\n");
}

static void test_format_types(void **state)
{
	char buf[512];

	(void)state;
	assert_record("UTC", T_WINTER, 0, "w", CMTRACE_WARNING,
		      "<![LOG[w]LOG]!><time=\"13:45:30.000+000\" date=\"01-15-2024\" "
		      "component=\"WCM\" context=\"\" type=\"2\" thread=\"4242\" file=\"\">\r\n");
	assert_record("UTC", T_WINTER, 0, "e", CMTRACE_ERROR,
		      "<![LOG[e]LOG]!><time=\"13:45:30.000+000\" date=\"01-15-2024\" "
		      "component=\"WCM\" context=\"\" type=\"3\" thread=\"4242\" file=\"\">\r\n");
	assert_int_equal(
	    cmtrace_format(buf, sizeof(buf), "m", "WCM", (enum cmtrace_type)0, 1, T_WINTER, 0), -1);
	assert_int_equal(
	    cmtrace_format(buf, sizeof(buf), "m", "WCM", (enum cmtrace_type)4, 1, T_WINTER, 0), -1);
}

static void test_format_defuses_delimiter(void **state)
{
	(void)state;
	assert_record("UTC", T_WINTER, 0, "a]LOG]!>b]LOG]!>", CMTRACE_INFO,
		      "<![LOG[a]LOG]!&gt;b]LOG]!&gt;]LOG]!><time=\"13:45:30.000+000\" "
		      "date=\"01-15-2024\" component=\"WCM\" context=\"\" type=\"1\" "
		      "thread=\"4242\" file=\"\">\r\n");
	/* A partial delimiter is left alone; CR and LF pass through. */
	assert_record("UTC", T_WINTER, 0, "]LOG]!\r\nline two]LOG]", CMTRACE_INFO,
		      "<![LOG[]LOG]!\r\nline two]LOG]]LOG]!><time=\"13:45:30.000+000\" "
		      "date=\"01-15-2024\" component=\"WCM\" context=\"\" type=\"1\" "
		      "thread=\"4242\" file=\"\">\r\n");
}

static void test_format_buffer_bounds(void **state)
{
	char buf[512], small[512];
	int n;
	size_t i;

	(void)state;
	set_tz("UTC");
	n = cmtrace_format(buf, sizeof(buf), "a]LOG]!>b", "WCM", CMTRACE_INFO, 7, T_WINTER, 0);
	assert_true(n > 0);
	/* Every size short of length + NUL fails and leaves an empty string. */
	for (i = 1; i <= (size_t)n; i++) {
		memset(small, 'Z', sizeof(small));
		assert_int_equal(
		    cmtrace_format(small, i, "a]LOG]!>b", "WCM", CMTRACE_INFO, 7, T_WINTER, 0), -1);
		assert_int_equal(small[0], '\0');
		assert_int_equal(small[i], 'Z');
	}
	assert_int_equal(
	    cmtrace_format(small, (size_t)n + 1, "a]LOG]!>b", "WCM", CMTRACE_INFO, 7, T_WINTER, 0),
	    n);
	assert_string_equal(small, buf);
	assert_int_equal(cmtrace_format(small, 0, "m", "WCM", CMTRACE_INFO, 7, T_WINTER, 0), -1);
}

/* Number of records in a file (count of record openers). */
static int count_records(const char *text)
{
	int n = 0;
	const char *p = text;

	while ((p = strstr(p, "<![LOG[")) != NULL) {
		n++;
		p++;
	}
	return n;
}

static char *read_text(const char *path)
{
	size_t len = 0;
	uint8_t *data = tu_read_file(path, &len);

	if (data == NULL)
		return NULL;
	data[len] = '\0';
	return (char *)data;
}

static off_t file_size(const char *path)
{
	struct stat st;

	if (stat(path, &st) != 0)
		return -1;
	return st.st_size;
}

static void test_write_real_clock(void **state)
{
	struct pp_error err = {0};
	char *dir = tu_tmpdir(), *path = tu_path(dir, "PolicyAgent.log"), *text, expect[64];
	struct cmtrace_log *log;

	(void)state;
	set_tz("UTC");
	log = cmtrace_open(path, "PolicyAgent", 0, &err);
	assert_non_null(log);
	assert_int_equal(cmtrace_write(log, CMTRACE_WARNING, "value %d of %s", 7, "x]LOG]!>y"), 0);
	assert_int_equal(cmtrace_write(log, CMTRACE_INFO, "line1\nline2"), 0);
	cmtrace_close(log);
	text = read_text(path);
	assert_non_null(text);
	assert_int_equal(count_records(text), 2);
	assert_non_null(strstr(text, "<![LOG[value 7 of x]LOG]!&gt;y]LOG]!><time=\""));
	assert_non_null(
	    strstr(text, "\" component=\"PolicyAgent\" context=\"\" type=\"2\" thread=\""));
	assert_non_null(strstr(text, "<![LOG[line1\nline2]LOG]!><time=\""));
	/* The thread attribute is the kernel thread id of the writer. */
	snprintf(expect, sizeof(expect), "thread=\"%ld\" file=\"\">\r\n",
		 (long)syscall(SYS_gettid));
	assert_non_null(strstr(text, expect));
	assert_int_equal(strncmp(text + strlen(text) - 2, "\r\n", 2), 0);
	free(text);
	tu_rmrf(dir);
	free(path);
	free(dir);
}

static void test_append_across_reopen(void **state)
{
	struct pp_error err = {0};
	char *dir = tu_tmpdir(), *path = tu_path(dir, "WUAHandler.log"), *text;
	struct cmtrace_log *log;

	(void)state;
	log = cmtrace_open(path, "WUAHandler", 0, &err);
	assert_non_null(log);
	assert_int_equal(cmtrace_write(log, CMTRACE_INFO, "first"), 0);
	cmtrace_close(log);
	log = cmtrace_open(path, "WUAHandler", 0, &err);
	assert_non_null(log);
	assert_int_equal(cmtrace_write(log, CMTRACE_ERROR, "second"), 0);
	cmtrace_close(log);
	text = read_text(path);
	assert_non_null(text);
	assert_int_equal(count_records(text), 2);
	assert_true(strstr(text, "<![LOG[first]") < strstr(text, "<![LOG[second]"));
	assert_non_null(strstr(text, "<![LOG[first]"));
	free(text);
	tu_rmrf(dir);
	free(path);
	free(dir);
}

/* First record number in a file, from "<![LOG[record NNNN". */
static int first_record(const char *text)
{
	const char *p = strstr(text, "<![LOG[record ");

	return p != NULL ? atoi(p + strlen("<![LOG[record ")) : -1;
}

static int last_record(const char *text)
{
	const char *p = text, *last = NULL;

	while ((p = strstr(p, "<![LOG[record ")) != NULL)
		last = p++;
	return last != NULL ? atoi(last + strlen("<![LOG[record ")) : -1;
}

static void test_rollover(void **state)
{
	const size_t max = 1000;
	struct pp_error err = {0};
	char *dir = tu_tmpdir(), *path = tu_path(dir, "WCM.log"), *rolled = tu_path(dir, "WCM.lo_");
	char *text, *old;
	struct cmtrace_log *log;
	int i, rollovers = 0, first_after_first_roll = -1;
	off_t before;

	(void)state;
	log = cmtrace_open(path, "WCM", max, &err);
	assert_non_null(log);
	for (i = 0; i < 200 && rollovers < 2; i++) {
		before = file_size(path);
		assert_int_equal(cmtrace_write(log, CMTRACE_INFO, "record %04d", i), 0);
		assert_true(file_size(path) <= (off_t)max);
		if (file_size(path) < before) {
			rollovers++;
			/* The new .log starts with the record just written. */
			text = read_text(path);
			assert_int_equal(count_records(text), 1);
			assert_int_equal(first_record(text), i);
			free(text);
			/* The .lo_ ends with the record before it. */
			text = read_text(rolled);
			assert_non_null(text);
			assert_int_equal(last_record(text), i - 1);
			assert_true(strlen(text) <= max);
			if (rollovers == 1) {
				assert_int_equal(first_record(text), 0);
				first_after_first_roll = i;
			} else {
				/* Replaced: it holds the newer records only. */
				assert_int_equal(first_record(text), first_after_first_roll);
				assert_null(strstr(text, "record 0000"));
			}
			free(text);
		}
	}
	assert_int_equal(rollovers, 2);
	assert_int_equal(tu_count_entries(dir), 2); /* exactly WCM.log and WCM.lo_ */
	assert_true(file_size(path) < (off_t)max);
	/* No record was lost or repeated across the two files. */
	old = read_text(rolled);
	text = read_text(path);
	assert_int_equal(last_record(old) + 1, first_record(text));
	assert_int_equal(last_record(text), i - 1);
	assert_int_equal(count_records(old) + count_records(text), i - first_after_first_roll);
	free(old);
	free(text);
	cmtrace_close(log);
	tu_rmrf(dir);
	free(rolled);
	free(path);
	free(dir);
}

static void test_rollover_other_suffix(void **state)
{
	struct pp_error err = {0};
	char *dir = tu_tmpdir(), *path = tu_path(dir, "agent.txt");
	char *rolled = tu_path(dir, "agent.txt.lo_");
	struct cmtrace_log *log;
	int i;

	(void)state;
	log = cmtrace_open(path, "agent", 400, &err);
	assert_non_null(log);
	for (i = 0; i < 10; i++)
		assert_int_equal(cmtrace_write(log, CMTRACE_INFO, "record %04d", i), 0);
	cmtrace_close(log);
	assert_true(file_size(rolled) > 0);
	assert_true(file_size(path) > 0 && file_size(path) <= 400);
	assert_int_equal(tu_count_entries(dir), 2);
	tu_rmrf(dir);
	free(rolled);
	free(path);
	free(dir);
}

/* A record larger than max_size still goes into an empty file instead of rolling forever. */
static void test_oversized_record(void **state)
{
	struct pp_error err = {0};
	char *dir = tu_tmpdir(), *path = tu_path(dir, "big.log"), big[600];
	struct cmtrace_log *log;

	(void)state;
	memset(big, 'b', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	log = cmtrace_open(path, "big", 100, &err);
	assert_non_null(log);
	assert_int_equal(cmtrace_write(log, CMTRACE_INFO, "%s", big), 0);
	assert_int_equal(tu_count_entries(dir), 1);
	assert_int_equal(cmtrace_write(log, CMTRACE_INFO, "%s", big), 0);
	assert_int_equal(tu_count_entries(dir), 2);
	cmtrace_close(log);
	tu_rmrf(dir);
	free(path);
	free(dir);
}

/* Processes appending to one log never interleave inside a record. */
static void test_concurrent_writers(void **state)
{
	enum { WRITERS = 4, RECORDS = 200 };
	struct pp_error err = {0};
	char *dir = tu_tmpdir(), *path = tu_path(dir, "smsts.log"), *text, *p, *end;
	int i, status, records = 0;
	pid_t pids[WRITERS];

	(void)state;
	for (i = 0; i < WRITERS; i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0) {
			struct cmtrace_log *log = cmtrace_open(path, "TSManager", 0, &err);
			int j, bad = log == NULL;

			for (j = 0; j < RECORDS && !bad; j++)
				bad = cmtrace_write(
					  log, CMTRACE_INFO,
					  "writer %d record %d "
					  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
					  i, j) != 0;
			cmtrace_close(log);
			_exit(bad);
		}
	}
	for (i = 0; i < WRITERS; i++) {
		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	text = read_text(path);
	assert_non_null(text);
	/* Every record is opener, message, attributes, CRLF, with nothing in between. */
	for (p = text; *p != '\0'; p = end + 2) {
		assert_int_equal(strncmp(p, "<![LOG[writer ", 14), 0);
		end = strstr(p, "\r\n");
		assert_non_null(end);
		assert_null(memmem(p + 1, (size_t)(end - p - 1), "<![LOG[", 7));
		assert_non_null(memmem(p, (size_t)(end - p), "component=\"TSManager\"", 21));
		records++;
	}
	assert_int_equal(records, WRITERS * RECORDS);
	free(text);
	tu_rmrf(dir);
	free(path);
	free(dir);
}

static void test_open_missing_directory(void **state)
{
	struct pp_error err = {0};
	char *dir = tu_tmpdir(), *missing = tu_path(dir, "nodir"),
	     *path = tu_path(missing, "x.log");

	(void)state;
	assert_null(cmtrace_open(path, "x", 0, &err));
	assert_int_equal(err.code, HR_ERROR_FILE_NOT_FOUND);
	assert_non_null(strstr(err.message, path));
	assert_non_null(strstr(err.message, missing));
	assert_non_null(strstr(err.message, "does not exist"));
	assert_int_equal(tu_count_entries(dir), 0);
	tu_rmrf(dir);
	free(path);
	free(missing);
	free(dir);
}

static void test_open_refuses_bad_arguments(void **state)
{
	struct pp_error err = {0};
	char *dir = tu_tmpdir(), *path = tu_path(dir, "x.log");

	(void)state;
	assert_null(cmtrace_open(path, "bad\"name", 0, &err));
	assert_int_equal(err.code, HR_E_INVALIDARG);
	pp_error_clear(&err);
	assert_null(cmtrace_open(path, "", 0, &err));
	assert_int_equal(err.code, HR_E_INVALIDARG);
	pp_error_clear(&err);
	assert_null(cmtrace_open(NULL, "x", 0, &err));
	assert_int_equal(err.code, HR_E_INVALIDARG);
	/* A directory is not a log file. */
	pp_error_clear(&err);
	assert_null(cmtrace_open(dir, "x", 0, &err));
	assert_int_not_equal(err.code, 0);
	assert_non_null(strstr(err.message, dir));
	assert_int_equal(tu_count_entries(dir), 0);
	assert_int_equal(cmtrace_write(NULL, CMTRACE_INFO, "x"), -1);
	cmtrace_close(NULL);
	tu_rmrf(dir);
	free(path);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_format_utc),
	    cmocka_unit_test(test_format_new_york),
	    cmocka_unit_test(test_format_berlin),
	    cmocka_unit_test(test_format_types),
	    cmocka_unit_test(test_format_defuses_delimiter),
	    cmocka_unit_test(test_format_buffer_bounds),
	    cmocka_unit_test(test_write_real_clock),
	    cmocka_unit_test(test_append_across_reopen),
	    cmocka_unit_test(test_rollover),
	    cmocka_unit_test(test_rollover_other_suffix),
	    cmocka_unit_test(test_oversized_record),
	    cmocka_unit_test(test_concurrent_writers),
	    cmocka_unit_test(test_open_missing_directory),
	    cmocka_unit_test(test_open_refuses_bad_arguments),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
