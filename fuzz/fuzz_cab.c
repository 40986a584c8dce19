/* fuzz_cab.c - libFuzzer target for the cabinet reader.
 *
 * Each input is written to a memfd and opened through /proc/self/fd/N, then listed, tested
 * (every block decoded and checksummed), read file by file and extracted into a fresh temporary
 * directory, which is removed afterwards. Nothing is kept between inputs.
 *
 * Build and run:
 *   CC=clang meson setup build-fuzz -Dfuzz=true && ninja -C build-fuzz fuzz_cab
 *   ./build-fuzz/fuzz_cab -max_total_time=60 -max_len=200000 corpus/
 *
 * Seed corpus: a few small cabinets from the peers and from us, for example
 *   mkdir -p corpus && cd corpus && printf 'hello' > a && seq 1 20000 > b &&
 *   gcab -c none.cab a b && gcab -c -z zip.cab a b && rm a b
 * plus cabinets written by `patchpoint` (NONE, MSZIP, with the signature reserve). Checksums
 * make most mutations fail early; zeroing the csum fields of a seed (csum 0 = not present)
 * lets the fuzzer reach the MSZIP decoder and the extraction paths.
 */
#include "cab.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int sink_discard(void *ctx, const uint8_t *buf, size_t len, struct pp_error *err)
{
	size_t *total = ctx;

	(void)buf;
	(void)err;
	*total += len;
	return 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	(void)remove(path);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64], dir[] = "/tmp/fuzz-cab.XXXXXX";
	struct pp_error err = {0};
	struct cab_reader *r = NULL;
	size_t i, n, total;
	int fd;

	fd = memfd_create("fuzz-cab", MFD_CLOEXEC);
	if (fd < 0)
		return 0;
	if (size > 0 && write(fd, data, size) != (ssize_t)size)
		goto out;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	r = cab_reader_open(path, &err);
	if (r == NULL)
		goto out;
	n = cab_reader_file_count(r);
	for (i = 0; i < cab_reader_folder_count(r); i++)
		(void)cab_reader_folder(r, i);
	for (i = 0; i < n && i < 64; i++) {
		total = 0;
		pp_error_clear(&err);
		if (cab_reader_read_file(r, i, sink_discard, &total, &err) == 0 &&
		    total != cab_reader_file(r, i)->size)
			abort(); /* a successful read must deliver exactly cbFile bytes */
	}
	pp_error_clear(&err);
	(void)cab_reader_test(r, &err);
	if (mkdtemp(dir) != NULL) {
		pp_error_clear(&err);
		(void)cab_reader_extract(r, dir, NULL, NULL, &err);
		(void)nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	}
out:
	cab_reader_free(r);
	close(fd);
	return 0;
}
