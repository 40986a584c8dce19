/* test_policycache.c - the machine policy answers kept in memory (src/server/policycache.c):
 * found by key at their generation only, a newer generation drops them all, an older one is
 * never cached, expiry, replacement of the same key, the byte budget (least recently served
 * first), references that outlive a drop, and the once-a-minute policy time. Run under ASan,
 * a reference counted wrong is a use after free or a leak. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "policycache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEV "GUID:3f2504e0-4f89-11d3-9a0c-0305e82c3301"

static void key_of(uint8_t key[32], unsigned n)
{
	memset(key, 0, 32);
	memcpy(key, &n, sizeof(n));
	key[31] = 0xa5;
}

static char *text(const char *s)
{
	char *t = strdup(s);

	assert_non_null(t);
	return t;
}

static struct policycache_entry *put(struct policycache *c, unsigned n, int64_t gen,
				     const char *body)
{
	uint8_t key[32];

	key_of(key, n);
	return policycache_put(c, key, gen, DEV, "\"0123456789abcdef\"", text(body), strlen(body),
			       INT64_MAX, 0);
}

static struct policycache_entry *get(struct policycache *c, unsigned n, int64_t gen, int64_t now)
{
	uint8_t key[32];

	key_of(key, n);
	return policycache_get(c, key, gen, now);
}

static void test_generation(void **state)
{
	struct policycache *c = policycache_new(0);
	struct policycache_entry *e;
	struct policycache_stats st;

	(void)state;
	assert_non_null(c);
	assert_null(get(c, 1, 5, 100));
	e = put(c, 1, 5, "{\"a\":1}");
	assert_non_null(e);
	assert_string_equal(e->device_id, DEV);
	assert_string_equal(e->etag, "\"0123456789abcdef\"");
	assert_int_equal(e->len, 7);
	policycache_release(c, e);

	e = get(c, 1, 5, 100);
	assert_non_null(e);
	assert_string_equal(e->body, "{\"a\":1}");
	policycache_release(c, e);
	assert_null(get(c, 2, 5, 100)); /* another device */

	/* A reader that saw an older generation finds nothing and caches nothing. */
	assert_null(get(c, 1, 4, 100));
	e = put(c, 3, 4, "{\"old\":1}");
	assert_non_null(e); /* the caller's answer all the same */
	assert_string_equal(e->body, "{\"old\":1}");
	policycache_release(c, e);
	assert_null(get(c, 3, 5, 100));
	policycache_stats(c, &st);
	assert_int_equal(st.entries, 1);

	/* A newer generation drops everything. */
	assert_null(get(c, 1, 6, 100));
	policycache_stats(c, &st);
	assert_int_equal(st.entries, 0);
	assert_int_equal(st.bytes, 0);
	assert_int_equal(st.drops, 1);
	assert_int_equal(st.generation, 6);
	assert_int_equal(st.hits, 1);
	policycache_free(c);
}

static void test_expiry_and_replace(void **state)
{
	struct policycache *c = policycache_new(0);
	struct policycache_entry *e, *held;
	struct policycache_stats st;
	uint8_t key[32];

	(void)state;
	key_of(key, 9);
	e = policycache_put(c, key, 1, DEV, "\"e\"", text("{}"), 2, 1000, 0);
	policycache_release(c, e);
	e = get(c, 9, 1, 999);
	assert_non_null(e);
	policycache_release(c, e);
	assert_null(get(c, 9, 1, 1000)); /* at valid_until it is gone */
	policycache_stats(c, &st);
	assert_int_equal(st.entries, 0);

	/* The same key again replaces the answer; the one still held stays readable. */
	held = put(c, 9, 1, "{\"first\":1}");
	e = put(c, 9, 1, "{\"second\":1}");
	policycache_release(c, e);
	assert_string_equal(held->body, "{\"first\":1}");
	policycache_release(c, held);
	e = get(c, 9, 1, 5);
	assert_non_null(e);
	assert_string_equal(e->body, "{\"second\":1}");
	/* Dropped by a new generation while held: still valid until released. */
	assert_null(get(c, 9, 2, 5));
	assert_string_equal(e->body, "{\"second\":1}");
	policycache_release(c, e);
	policycache_stats(c, &st);
	assert_int_equal(st.entries, 0);
	policycache_free(c);
}

static void test_budget(void **state)
{
	struct policycache_entry *e;
	struct policycache_stats st;
	struct policycache *c;
	char body[1000], *big;
	size_t one;

	(void)state;
	memset(body, 'x', sizeof(body) - 1);
	body[sizeof(body) - 1] = '\0';
	one = sizeof(struct policycache_entry) + sizeof(body);
	c = policycache_new(3 * one); /* room for three answers */
	for (unsigned n = 1; n <= 3; n++)
		policycache_release(c, put(c, n, 1, body));
	policycache_release(c, get(c, 1, 1, 0)); /* 1 served last: 2 is now the oldest */
	policycache_release(c, put(c, 4, 1, body));
	policycache_stats(c, &st);
	assert_int_equal(st.entries, 3);
	assert_int_equal(st.evictions, 1);
	assert_true(st.bytes <= st.max_bytes);
	assert_null(get(c, 2, 1, 0));
	for (unsigned n = 1; n <= 4; n += 2) {
		e = get(c, n, 1, 0);
		assert_non_null(e);
		policycache_release(c, e);
	}
	/* An answer larger than the whole budget is served but not kept. */
	big = calloc(1, 4 * one + 1);
	assert_non_null(big);
	memset(big, 'y', 4 * one);
	e = policycache_put(c, (const uint8_t[32]){7}, 1, DEV, "\"e\"", big, 4 * one, INT64_MAX, 0);
	assert_non_null(e);
	policycache_release(c, e);
	policycache_stats(c, &st);
	assert_int_equal(st.entries, 3);
	policycache_free(c);
}

static void test_policy_time(void **state)
{
	struct policycache *c = policycache_new(0);
	struct policycache_entry *e;
	uint8_t key[32];

	(void)state;
	key_of(key, 1);
	e = policycache_put(c, key, 1, DEV, "\"e\"", text("{}"), 2, INT64_MAX, 1000);
	assert_false(policycache_policy_time_due(c, e, 1059, 60));
	assert_true(policycache_policy_time_due(c, e, 1060, 60));
	assert_false(policycache_policy_time_due(c, e, 1100, 60)); /* written at 1060 */
	assert_true(policycache_policy_time_due(c, e, 1120, 60));
	policycache_release(c, e);
	policycache_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_generation),
	    cmocka_unit_test(test_expiry_and_replace),
	    cmocka_unit_test(test_budget),
	    cmocka_unit_test(test_policy_time),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
