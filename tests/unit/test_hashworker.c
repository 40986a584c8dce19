/* test_hashworker.c - the threaded digest equals a one-shot EVP digest of the same bytes, for
 * every size around the slot boundaries and for any way of cutting the input into updates. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hashworker.h"
#include "testutil.h"

static void one_shot(const EVP_MD *md, const uint8_t *p, size_t n, uint8_t *out, unsigned *len)
{
	assert_int_equal(EVP_Digest(p, n, out, len, md, NULL), 1);
}

/* Hashes buf in updates of `step` bytes (the last may be shorter) and compares. */
static void check(const EVP_MD *md, const uint8_t *buf, size_t n, size_t step)
{
	uint8_t want[EVP_MAX_MD_SIZE], got[EVP_MAX_MD_SIZE];
	unsigned want_len = 0, got_len = 0;
	struct hashworker *w;
	struct pp_error err;
	size_t off;

	pp_error_clear(&err);
	w = hashworker_new(md, &err);
	assert_non_null(w);
	for (off = 0; off < n; off += step)
		assert_int_equal(
		    hashworker_update(w, buf + off, n - off < step ? n - off : step, &err), 0);
	assert_int_equal(hashworker_final(w, got, &got_len, &err), 0);
	one_shot(md, buf, n, want, &want_len);
	assert_int_equal(got_len, want_len);
	assert_memory_equal(got, want, want_len);
	hashworker_free(w);
}

static void test_sizes_around_slots(void **state)
{
	const size_t slot = HASHWORKER_SLOT_SIZE;
	const size_t sizes[] = {0,
				1,
				slot - 1,
				slot,
				slot + 1,
				2 * slot,
				HASHWORKER_SLOTS * slot,
				HASHWORKER_SLOTS * slot + 1,
				11 * slot + 7};
	size_t max = 11 * slot + 7, i;
	uint8_t *buf = malloc(max);

	(void)state;
	assert_non_null(buf);
	tu_fill(buf, max, 42);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		check(EVP_sha256(), buf, sizes[i], sizes[i] ? sizes[i] : 1);
		check(EVP_sha1(), buf, sizes[i], 65536);
	}
	free(buf);
}

static void test_odd_update_sizes(void **state)
{
	const size_t n = 5 * HASHWORKER_SLOT_SIZE + 12345;
	const size_t steps[] = {1, 8, 7919, 32776, HASHWORKER_SLOT_SIZE + 3};
	uint8_t *buf = malloc(n);
	size_t i;

	(void)state;
	assert_non_null(buf);
	tu_fill(buf, n, 7);
	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		check(EVP_sha256(), buf, steps[i] == 1 ? 300000 : n, steps[i]);
	free(buf);
}

static void test_free_without_final(void **state)
{
	const size_t n = 9 * HASHWORKER_SLOT_SIZE;
	uint8_t *buf = malloc(n);
	struct hashworker *w;
	struct pp_error err;

	(void)state;
	assert_non_null(buf);
	memset(buf, 0xA5, n);
	pp_error_clear(&err);
	/* Abandoned with slots still queued: free must stop the thread and not leak. */
	w = hashworker_new(EVP_sha256(), &err);
	assert_non_null(w);
	assert_int_equal(hashworker_update(w, buf, n, &err), 0);
	hashworker_free(w);
	hashworker_free(NULL);
	free(buf);
}

struct lent_log {
	int released;
	size_t bytes;
};

static void count_release(void *ctx, const uint8_t *p, size_t n)
{
	struct lent_log *log = ctx;

	(void)p;
	log->released++;
	log->bytes += n;
}

/* Copied and lent bytes interleave in order; every lent region is given back exactly once. */
static void test_lend_in_order(void **state)
{
	const size_t n = 9 * HASHWORKER_SLOT_SIZE + 333;
	uint8_t *buf = malloc(n), want[EVP_MAX_MD_SIZE], got[EVP_MAX_MD_SIZE];
	unsigned want_len = 0, got_len = 0;
	struct lent_log log = {0, 0};
	struct hashworker *w;
	struct pp_error err;
	size_t off = 0, lent = 0;
	int round = 0;

	(void)state;
	assert_non_null(buf);
	tu_fill(buf, n, 99);
	pp_error_clear(&err);
	w = hashworker_new(EVP_sha256(), &err);
	assert_non_null(w);
	while (off < n) {
		/* Alternate a small copied piece and a lent region of 1.5 slots. */
		size_t piece = round % 2 == 0 ? 1000 : HASHWORKER_SLOT_SIZE * 3 / 2;

		if (piece > n - off)
			piece = n - off;
		if (round % 2 == 0) {
			assert_int_equal(hashworker_update(w, buf + off, piece, &err), 0);
		} else {
			assert_int_equal(
			    hashworker_lend(w, buf + off, piece, count_release, &log, &err), 0);
			lent += piece;
		}
		off += piece;
		round++;
	}
	assert_int_equal(hashworker_final(w, got, &got_len, &err), 0);
	one_shot(EVP_sha256(), buf, n, want, &want_len);
	assert_memory_equal(got, want, want_len);
	assert_int_equal(log.released, round / 2);
	assert_int_equal(log.bytes, lent);
	hashworker_free(w);

	/* Abandoned with lent regions queued: each is still given back. */
	memset(&log, 0, sizeof(log));
	w = hashworker_new(EVP_sha256(), &err);
	assert_non_null(w);
	for (off = 0; off + HASHWORKER_SLOT_SIZE <= n; off += HASHWORKER_SLOT_SIZE)
		assert_int_equal(
		    hashworker_lend(w, buf + off, HASHWORKER_SLOT_SIZE, count_release, &log, &err),
		    0);
	hashworker_free(w);
	assert_int_equal(log.released, (int)(n / HASHWORKER_SLOT_SIZE));
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sizes_around_slots),
	    cmocka_unit_test(test_odd_update_sizes),
	    cmocka_unit_test(test_free_without_final),
	    cmocka_unit_test(test_lend_in_order),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
