/* test_base64.c - strict Base64 decoding (src/lib/base64): the padding lengths, empty and
 * non-multiple-of-4 texts refused, and every text that is not the canonical encoding of its
 * bytes refused (whitespace, padding in the middle, non-zero trailing bits, a bad character). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "base64.h"

#include <stdlib.h>
#include <string.h>

static void expect(const char *text, const char *bytes, size_t n)
{
	size_t len = 99;
	uint8_t *out = base64_decode(text, strlen(text), &len);

	assert_non_null(out);
	assert_int_equal(len, n);
	assert_memory_equal(out, bytes, n);
	free(out);
}

static void refused(const char *text)
{
	size_t len = 0;

	if (base64_decode(text, strlen(text), &len) != NULL)
		fail_msg("\"%s\" was accepted", text);
}

static void test_decode(void **state)
{
	(void)state;
	expect("TWFu", "Man", 3);
	expect("TWE=", "Ma", 2);
	expect("TQ==", "M", 1);
	expect("AAEC/w==", "\x00\x01\x02\xff", 4);
}

static void test_refused(void **state)
{
	(void)state;
	refused("");
	refused("TWF");	     /* not a multiple of 4 */
	refused("TW E");     /* whitespace */
	refused("TQ==TWFu"); /* padding in the middle */
	refused("TR==");     /* trailing bits not zero: not the canonical text of "M" */
	refused("TWE*");     /* not an alphabet character */
	refused("====");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_decode),
	    cmocka_unit_test(test_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
