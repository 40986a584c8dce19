/* test_growbuf.c - the growing answer buffer (src/lib/growbuf): appends keep a NUL after the
 * data, growth past the first 4 KiB, the limit refused whole (too_big, nothing appended), and
 * the libcurl write callback taking all or nothing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "growbuf.h"

#include <stdlib.h>
#include <string.h>

static void test_append(void **state)
{
	struct growbuf b = {NULL, 0, 0, 10000, false};
	char big[6000];

	(void)state;
	assert_true(growbuf_append(&b, "abc", 3));
	assert_int_equal(b.len, 3);
	assert_string_equal(b.data, "abc");
	assert_true(growbuf_append(&b, "", 0));
	assert_int_equal(b.len, 3);
	memset(big, 'x', sizeof(big));
	assert_true(growbuf_append(&b, big, sizeof(big)));
	assert_int_equal(b.len, 6003);
	assert_true(b.cap >= 6004);
	assert_int_equal(b.data[6003], '\0');
	assert_memory_equal(b.data, "abcxxx", 6);
	/* Past the limit: refused whole. */
	assert_false(growbuf_append(&b, big, sizeof(big)));
	assert_true(b.too_big);
	assert_int_equal(b.len, 6003);
	free(b.data);
}

static void test_curl_write(void **state)
{
	struct growbuf b = {NULL, 0, 0, 8, false};

	(void)state;
	assert_int_equal(growbuf_curl_write((char *)"1234", 2, 2, &b), 4);
	assert_int_equal(growbuf_curl_write((char *)"56789", 1, 5, &b), 0);
	assert_true(b.too_big);
	assert_string_equal(b.data, "1234");
	assert_int_equal(growbuf_curl_write((char *)"5678", 4, 1, &b), 4);
	assert_int_equal(b.len, 8);
	free(b.data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_append),
	    cmocka_unit_test(test_curl_write),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
