/* fuzz_sdp.c - libFuzzer target for the SDP / SCUP catalog reader (sdp.h).
 *
 * Each input is read from memory package by package until the end or an error (gzip input is
 * inflated on the way, so compressed seeds reach the inflate path). Every package returned is
 * exported, the export is parsed again, and the second export must be byte for byte the first:
 * export(parse(x)) is a fixed point. A re-parse that fails or a mismatch aborts, after printing
 * both documents. Nothing is kept between inputs.
 *
 * libxml2 is a dependency of libpatchpoint now (sdp.c). It comes from the system and is not
 * instrumented: libFuzzer sees coverage of our code only, and ASan checks our side of its API.
 *
 * Build and run:
 *   CC=clang meson setup build-fuzz -Dfuzz=true && ninja -C build-fuzz fuzz_sdp
 *   ./build-fuzz/fuzz_sdp -max_total_time=60 -max_len=262144 corpus/
 *
 * Seed corpus (scripts/fuzz.sh makes it): the Dell SDP of ../shared/fixtures/sdp, the first
 * packages of the HP catalog as a small catalog, and that catalog gzipped.
 */
#include "sdp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Bounds the time one input takes (the seed catalog holds 3 packages). */
#define PACKAGES_MAX 256

/* Prints up to 2000 bytes of a document from offset at (for the report of a failure). */
static void show(const char *what, const char *xml, size_t len, size_t at)
{
	size_t n = len - at < 2000 ? len - at : 2000;

	fprintf(stderr, "-- %s (%zu bytes, from offset %zu) --\n%.*s\n", what, len, at, (int)n,
		xml + at);
}

static void round_trip(const struct sdp_package *p)
{
	struct pp_error err = {0};
	struct sdp_package *again = NULL;
	char *first = NULL, *second = NULL;
	size_t first_len, second_len, at = 0;

	/* Export fails only when out of memory: nothing to check then. */
	if (sdp_package_to_xml(p, &first, &first_len, &err) != 0)
		goto out;
	again = sdp_package_parse(first, first_len, &err);
	if (again == NULL) {
		fprintf(stderr, "fuzz_sdp: the export does not parse again: %s\n", err.message);
		show("export", first, first_len, 0);
		abort();
	}
	if (sdp_package_to_xml(again, &second, &second_len, &err) != 0)
		goto out;
	while (at < first_len && at < second_len && first[at] == second[at])
		at++;
	if (at != first_len || at != second_len) {
		fprintf(stderr, "fuzz_sdp: export(parse(export)) differs from export at byte %zu\n",
			at);
		at = at > 200 ? at - 200 : 0;
		show("export", first, first_len, at);
		show("export of the re-parse", second, second_len, at);
		abort();
	}
out:
	free(first);
	free(second);
	sdp_package_free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pp_error err = {0};
	struct sdp_reader *r;
	struct sdp_package *p;
	struct sdp_skip skip;
	int rc = SDP_NEXT_PACKAGE;

	r = sdp_reader_new_memory(data, size, &err);
	if (r == NULL)
		return 0;
	for (unsigned n = 0; n < PACKAGES_MAX && rc != SDP_NEXT_END && rc >= 0; n++) {
		pp_error_clear(&err);
		rc = sdp_reader_next(r, &p, &skip, &err);
		if (rc == SDP_NEXT_PACKAGE) {
			round_trip(p);
			sdp_package_free(p);
		}
	}
	sdp_reader_free(r);
	return 0;
}
