/* test_cab.c - the cabinet reader and writer: round trips, exact header bytes, the digest sink,
 * limits, corrupted and hostile cabinets, and interop with gcab and cabextract. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "byteorder.h"
#include "cab.h"
#include "hresult.h"
#include "testutil.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

/* ---- sample content ---- */

enum content { TEXT, RANDOM, ZEROS };

struct sample {
	const char *name; /* stored name, '/' separators */
	size_t size;
	enum content kind;
};

/* Covers an empty file first and last, a file of exactly one block, one spanning many blocks,
 * incompressible data, a subdirectory and a non-ASCII name. */
static const struct sample samples[] = {
    {"empty.txt", 0, TEXT},	     {"exact.bin", 32768, RANDOM},    {"big.txt", 300000, TEXT},
    {"random.bin", 100000, RANDOM},  {"sub/dir/small.txt", 10, TEXT}, {"zeros.bin", 70001, ZEROS},
    {"caf\xc3\xa9.txt", 1000, TEXT}, {"last-empty", 0, ZEROS},
};
#define NSAMPLES (sizeof(samples) / sizeof(samples[0]))

static uint8_t *sample_content(size_t i)
{
	const struct sample *s = &samples[i];
	uint8_t *buf = malloc(s->size + 1);
	size_t n = 0;

	assert_non_null(buf);
	if (s->kind == RANDOM) {
		tu_fill(buf, s->size, (uint32_t)(i + 7));
	} else if (s->kind == ZEROS) {
		memset(buf, 0, s->size);
	} else {
		while (n < s->size) {
			char line[64];
			int len = snprintf(line, sizeof(line), "line %zu of the sample text\n", n);
			size_t take = (size_t)len < s->size - n ? (size_t)len : s->size - n;

			memcpy(buf + n, line, take);
			n += take;
		}
	}
	return buf;
}

/* Source path of sample i inside dir (flat, so a stored name with '/' needs no directories). */
static char *sample_src(const char *dir, size_t i)
{
	char name[32];

	snprintf(name, sizeof(name), "src-%zu", i);
	return tu_path(dir, name);
}

static void make_samples(const char *dir)
{
	size_t i;

	for (i = 0; i < NSAMPLES; i++) {
		uint8_t *data = sample_content(i);
		char *p = sample_src(dir, i);

		tu_write_file(p, data, samples[i].size);
		free(p);
		free(data);
	}
}

/* Checks that every sample exists under dir with the right bytes. */
static void check_extracted(const char *dir)
{
	size_t i, len;

	for (i = 0; i < NSAMPLES; i++) {
		char *p = tu_path(dir, samples[i].name);
		uint8_t *want = sample_content(i), *got = tu_read_file(p, &len);

		if (got == NULL)
			fail_msg("%s was not extracted", p);
		assert_int_equal(len, samples[i].size);
		assert_memory_equal(got, want, len);
		free(got);
		free(want);
		free(p);
	}
}

/* ---- writing helpers ---- */

struct collect {
	uint8_t *buf;
	size_t len, cap;
	int headers;
	size_t header_len;
	bool data_before_header;
	struct cab_header h;
};

static void collect_append(struct collect *c, const uint8_t *p, size_t n)
{
	if (c->len + n > c->cap) {
		c->cap = (c->len + n) * 2;
		c->buf = realloc(c->buf, c->cap);
		assert_non_null(c->buf);
	}
	memcpy(c->buf + c->len, p, n);
	c->len += n;
}

static int collect_header(void *ctx, const uint8_t *bytes, size_t len, const struct cab_header *h,
			  struct pp_error *err)
{
	struct collect *c = ctx;

	c->headers++;
	c->header_len = len;
	c->h = *h;
	collect_append(c, bytes, len);
	return 0;
}

static int collect_data(void *ctx, const uint8_t *bytes, size_t len, struct pp_error *err)
{
	struct collect *c = ctx;

	if (c->headers == 0)
		c->data_before_header = true;
	collect_append(c, bytes, len);
	return 0;
}

struct progress_log {
	int calls;
	uint64_t last_done, last_total;
	bool backwards;
};

static void progress_cb(void *ctx, uint64_t done, uint64_t total)
{
	struct progress_log *p = ctx;

	if (done < p->last_done)
		p->backwards = true;
	p->calls++;
	p->last_done = done;
	p->last_total = total;
}

/* Writes the samples into cab_path; returns cbCabinet. */
static uint32_t write_samples(const char *src_dir, const char *cab_path,
			      enum cab_compression compression, bool reserve,
			      const struct cab_digest_sink *sink, struct progress_log *progress)
{
	struct cab_writer_options opts = {.compression = compression,
					  .signature_reserve = reserve,
					  .sink = sink,
					  .progress = progress ? progress_cb : NULL,
					  .progress_ctx = progress};
	struct pp_error err = {0};
	struct cab_writer *w;
	uint32_t size = 0;
	size_t i;
	int fd;

	fd = open(cab_path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	w = cab_writer_new(fd, &opts, &err);
	assert_non_null(w);
	for (i = 0; i < NSAMPLES; i++) {
		char *p = sample_src(src_dir, i);

		if (cab_writer_add_file(w, p, samples[i].name, &err) != 0)
			fail_msg("add_file %s: %s", samples[i].name, err.message);
		free(p);
	}
	if (cab_writer_finish(w, &size, &err) != 0)
		fail_msg("finish: %s", err.message);
	cab_writer_free(w);
	close(fd);
	return size;
}

struct fixture {
	char *dir;
	char *src;
	char *cab;
	char *out;
};

static int fixture_setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	f->dir = tu_tmpdir();
	f->src = tu_path(f->dir, "src");
	f->cab = tu_path(f->dir, "test.cab");
	f->out = tu_path(f->dir, "out");
	mkdir(f->src, 0755);
	make_samples(f->src);
	*state = f;
	return 0;
}

static int fixture_teardown(void **state)
{
	struct fixture *f = *state;

	tu_rmrf(f->dir);
	free(f->dir);
	free(f->src);
	free(f->cab);
	free(f->out);
	free(f);
	return 0;
}

struct buffer_sink {
	uint8_t *buf;
	size_t len;
};

static int buffer_sink_fn(void *ctx, const uint8_t *buf, size_t len, struct pp_error *err)
{
	struct buffer_sink *b = ctx;

	b->buf = realloc(b->buf, b->len + len + 1);
	assert_non_null(b->buf);
	memcpy(b->buf + b->len, buf, len);
	b->len += len;
	return 0;
}

/* ---- checksum ---- */

static void test_checksum_vectors(void **state)
{
	const uint8_t five[] = {1, 2, 3, 4, 5};
	const uint8_t seven[] = {1, 2, 3, 4, 0xAA, 0xBB, 0xCC};
	const uint8_t six[] = {0x10, 0x20, 0x30, 0x40, 0xAA, 0xBB};
	const uint8_t hdr[] = {0x05, 0x00, 0x05, 0x00}; /* cbData 5, cbUncomp 5 */

	assert_int_equal(cab_checksum(NULL, 0, 0x12345678u), 0x12345678u);
	/* Whole words little-endian; the tail packed most significant first. */
	assert_int_equal(cab_checksum(five, 5, 0), 0x04030201u ^ 0x05u);
	assert_int_equal(cab_checksum(seven, 7, 0), 0x04030201u ^ 0xAABBCCu);
	assert_int_equal(cab_checksum(six, 6, 1), 1u ^ 0x40302010u ^ 0xAABBu);
	/* The csum gcab 1.5 wrote for a CFDATA holding "hello" (data first, then cbData|cbUncomp).
	 */
	assert_int_equal(cab_checksum(hdr, 4, cab_checksum((const uint8_t *)"hello", 5, 0)),
			 0x6C696502u);
}

/* The checksum of formats.md 2.2 word by word, as the format states it: what cab_checksum's
 * lanes must equal for every length and alignment. */
static uint32_t checksum_by_words(const uint8_t *d, size_t len, uint32_t seed)
{
	uint32_t c = seed, tail = 0;
	size_t i;

	for (i = 0; i + 4 <= len; i += 4)
		c ^= (uint32_t)d[i] | (uint32_t)d[i + 1] << 8 | (uint32_t)d[i + 2] << 16 |
		     (uint32_t)d[i + 3] << 24;
	for (; i < len; i++)
		tail = tail << 8 | d[i];
	return c ^ tail;
}

static void test_checksum_lengths(void **state)
{
	uint8_t buf[300];

	(void)state;
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 151 + 7);
	for (size_t start = 0; start < 8; start++)
		for (size_t len = 0; start + len <= sizeof(buf); len++)
			if (cab_checksum(buf + start, len, 0x9E3779B9u) !=
			    checksum_by_words(buf + start, len, 0x9E3779B9u))
				fail_msg("checksum of %zu bytes at offset %zu", len, start);
}

/* ---- round trips ---- */

static void roundtrip(void **state, enum cab_compression compression)
{
	struct fixture *f = *state;
	struct pp_error err = {0};
	struct cab_reader *r;
	struct progress_log prog = {0};
	const struct cab_header *h;
	uint32_t size;
	size_t i, len;
	struct stat st;

	size = write_samples(f->src, f->cab, compression, false, NULL, NULL);
	assert_int_equal(stat(f->cab, &st), 0);
	assert_int_equal((uint64_t)st.st_size, size);

	r = cab_reader_open(f->cab, &err);
	if (r == NULL)
		fail_msg("open: %s", err.message);
	h = cab_reader_header(r);
	assert_int_equal(h->cb_cabinet, size);
	assert_int_equal(cab_reader_folder_count(r), 1);
	assert_int_equal(cab_reader_folder(r, 0)->type_compress, compression);
	assert_int_equal(cab_reader_file_count(r), NSAMPLES);
	for (i = 0; i < NSAMPLES; i++) {
		const struct cab_file *cf = cab_reader_file(r, i);
		char stored[300];
		struct buffer_sink b = {0};
		uint8_t *want = sample_content(i);
		size_t k;

		snprintf(stored, sizeof(stored), "%s", samples[i].name);
		for (k = 0; stored[k]; k++)
			if (stored[k] == '/')
				stored[k] = '\\';
		assert_string_equal(cf->name, stored);
		assert_int_equal(cf->size, samples[i].size);
		assert_int_equal(cf->folder, 0);
		assert_true(cf->attribs & CAB_ATTRIB_ARCH);
		assert_int_equal(!!(cf->attribs & CAB_ATTRIB_NAME_IS_UTF),
				 strchr(samples[i].name, '\xc3') != NULL);
		assert_true(cf->date >= (1u << 9)); /* after 1980 */
		if (cab_reader_read_file(r, i, buffer_sink_fn, &b, &err) != 0)
			fail_msg("read_file %zu: %s", i, err.message);
		assert_int_equal(b.len, samples[i].size);
		if (b.len > 0)
			assert_memory_equal(b.buf, want, b.len);
		free(b.buf);
		free(want);
	}
	assert_null(cab_reader_file(r, NSAMPLES));
	assert_int_equal(cab_reader_test(r, &err), 0);
	if (cab_reader_extract(r, f->out, progress_cb, &prog, &err) != 0)
		fail_msg("extract: %s", err.message);
	check_extracted(f->out);
	/* Nothing but the samples (and their directories "sub" and "sub/dir") is left behind. */
	assert_int_equal(tu_count_entries(f->out), (int)NSAMPLES + 2);
	assert_true(prog.calls >= 1);
	assert_false(prog.backwards);
	len = 0;
	for (i = 0; i < NSAMPLES; i++)
		len += samples[i].size;
	assert_int_equal(prog.last_done, len);
	assert_int_equal(prog.last_total, len);

	/* Extracting again over the same files replaces them. */
	assert_int_equal(cab_reader_extract(r, f->out, NULL, NULL, &err), 0);
	check_extracted(f->out);
	cab_reader_free(r);
}

static void test_roundtrip_none(void **state)
{
	roundtrip(state, CAB_COMPRESS_NONE);
}

static void test_roundtrip_mszip(void **state)
{
	roundtrip(state, CAB_COMPRESS_MSZIP);
}

static void test_mszip_compresses(void **state)
{
	struct fixture *f = *state;
	char *none = tu_path(f->dir, "none.cab");
	uint32_t a = write_samples(f->src, none, CAB_COMPRESS_NONE, false, NULL, NULL);
	uint32_t b = write_samples(f->src, f->cab, CAB_COMPRESS_MSZIP, false, NULL, NULL);

	/* Text and zeros shrink; the random data must not blow the blocks past their limit. */
	assert_true(b < a / 2);
	free(none);
}

/* Deflates in into out as one raw stream, with dict as history when given; returns the size. */
static size_t deflate_with_history(const uint8_t *in, size_t len, const uint8_t *dict,
				   size_t dict_len, uint8_t *out, size_t out_size)
{
	z_stream z = {0};
	size_t n;

	assert_int_equal(deflateInit2(&z, 9, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
	if (dict != NULL)
		assert_int_equal(deflateSetDictionary(&z, dict, (uInt)dict_len), Z_OK);
	z.next_in = (uint8_t *)in;
	z.avail_in = (uInt)len;
	z.next_out = out;
	z.avail_out = (uInt)out_size;
	assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
	n = out_size - z.avail_out;
	deflateEnd(&z);
	return n;
}

/* makecab keeps the 32 KB window across the blocks of a folder (formats.md 2.3): blocks 1 and 2
 * here copy earlier data and compress to back-references into the previous block, so they only
 * decode with it as the dictionary. Built by hand because gcab writes independent blocks. */
static void test_mszip_history_across_blocks(void **state)
{
	struct fixture *f = *state;
	struct pp_error err = {0};
	static uint8_t content[2 * 32768 + 100], comp[3][40000], file[60000];
	static const size_t block_len[3] = {32768, 32768, 100};
	struct buffer_sink sink = {0};
	size_t clen[3], pos, k, start, len;
	struct cab_reader *r;
	uint8_t scratch[32768], *got;
	char *path = tu_path(f->dir, "history.cab"), *cx = tu_path(f->dir, "cx"), *out;
	z_stream z = {0};

	tu_fill(content, 32768, 11);
	/* zlib matches at most 32768 - 262 bytes back, so the copy is shifted by 1000. */
	memcpy(content + 32768, content + 1000, 31768);
	memset(content + 65536 - 1000, 0, 1000);
	memcpy(content + 65536, content + 32768 + 500, 100);
	for (k = 0, start = 0; k < 3; start += block_len[k], k++)
		clen[k] = deflate_with_history(content + start, block_len[k],
					       k > 0 ? content + start - 32768 : NULL, 32768,
					       comp[k], sizeof(comp[k]));
	if (clen[1] >= 2000 || clen[2] >= 100)
		fail_msg("history not used: %zu, %zu", clen[1], clen[2]);
	/* Without the history block 1 does not decode: the test needs the dictionary path. */
	assert_int_equal(inflateInit2(&z, -15), Z_OK);
	z.next_in = comp[1];
	z.avail_in = (uInt)clen[1];
	z.next_out = scratch;
	z.avail_out = sizeof(scratch);
	assert_int_equal(inflate(&z, Z_FINISH), Z_DATA_ERROR);
	inflateEnd(&z);

	/* CFHEADER, one CFFOLDER, one CFFILE "h.bin", three CFDATA. */
	memset(file, 0, sizeof(file));
	memcpy(file, "MSCF", 4);
	le32_put(file + 0x10, 0x2C);
	file[0x18] = 3;
	file[0x19] = 1;
	le16_put(file + 0x1A, 1);
	le16_put(file + 0x1C, 1);
	le16_put(file + 0x28, 3);
	le16_put(file + 0x2A, CAB_COMPRESS_MSZIP);
	le32_put(file + 0x2C, sizeof(content));
	le16_put(file + 0x3A, CAB_ATTRIB_ARCH);
	memcpy(file + 0x3C, "h.bin", 6);
	pos = 0x3C + 6;
	le32_put(file + 0x24, (uint32_t)pos);
	for (k = 0; k < 3; k++) {
		uint8_t *b = file + pos;

		le16_put(b + 4, (uint16_t)(clen[k] + 2));
		le16_put(b + 6, (uint16_t)block_len[k]);
		memcpy(b + 8, "CK", 2);
		memcpy(b + 10, comp[k], clen[k]);
		le32_put(b, cab_checksum(b + 4, 4, cab_checksum(b + 8, clen[k] + 2, 0)));
		pos += 10 + clen[k];
	}
	le32_put(file + 0x08, (uint32_t)pos);
	tu_write_file(path, file, pos);

	r = cab_reader_open(path, &err);
	if (r == NULL)
		fail_msg("open: %s", err.message);
	if (cab_reader_read_file(r, 0, buffer_sink_fn, &sink, &err) != 0)
		fail_msg("read: %s", err.message);
	assert_int_equal(sink.len, sizeof(content));
	assert_memory_equal(sink.buf, content, sizeof(content));
	assert_int_equal(cab_reader_extract(r, f->out, NULL, NULL, &err), 0);
	out = tu_path(f->out, "h.bin");
	got = tu_read_file(out, &len);
	assert_non_null(got);
	assert_int_equal(len, sizeof(content));
	assert_memory_equal(got, content, len);
	/* cabextract agrees that the hand-built cabinet is right. */
	assert_int_equal(
	    tu_run("cabextract -q -d '%s' '%s' && cmp -s '%s/h.bin' '%s'", cx, path, cx, out), 0);
	cab_reader_free(r);
	free(got);
	free(out);
	free(sink.buf);
	free(path);
	free(cx);
}

/* ---- exact header bytes ---- */

static void test_header_bytes_plain(void **state)
{
	struct fixture *f = *state;
	uint32_t size = write_samples(f->src, f->cab, CAB_COMPRESS_MSZIP, false, NULL, NULL);
	size_t len, table = 0, i;
	uint8_t *b = tu_read_file(f->cab, &len);

	assert_non_null(b);
	assert_int_equal(len, size);
	for (i = 0; i < NSAMPLES; i++)
		table += 16 + strlen(samples[i].name) + 1;
	assert_memory_equal(b, "MSCF", 4);
	assert_int_equal(le32_get(b + 0x04), 0);
	assert_int_equal(le32_get(b + 0x08), size);
	assert_int_equal(le32_get(b + 0x0C), 0);
	assert_int_equal(le32_get(b + 0x10), 0x2C); /* 36-byte header + one CFFOLDER */
	assert_int_equal(le32_get(b + 0x14), 0);
	assert_int_equal(b[0x18], 3);
	assert_int_equal(b[0x19], 1);
	assert_int_equal(le16_get(b + 0x1A), 1);
	assert_int_equal(le16_get(b + 0x1C), NSAMPLES);
	assert_int_equal(le16_get(b + 0x1E), 0);
	assert_int_equal(le16_get(b + 0x20), 0);
	assert_int_equal(le16_get(b + 0x22), 0);
	/* CFFOLDER at 0x24 */
	assert_int_equal(le32_get(b + 0x24), 0x2C + table);
	assert_int_equal(le16_get(b + 0x28),
			 (300000 + 100000 + 32768 + 10 + 70001 + 1000) / 32768 + 1);
	assert_int_equal(le16_get(b + 0x2A), CAB_COMPRESS_MSZIP);
	/* First CFFILE: empty.txt, size 0 offset 0 folder 0, ARCH */
	assert_int_equal(le32_get(b + 0x2C), 0);
	assert_int_equal(le32_get(b + 0x30), 0);
	assert_int_equal(le16_get(b + 0x34), 0);
	assert_int_equal(le16_get(b + 0x3A), CAB_ATTRIB_ARCH);
	assert_string_equal((const char *)b + 0x3C, "empty.txt");
	/* First CFDATA: "CK", a correct checksum. */
	{
		const uint8_t *d = b + le32_get(b + 0x24);
		uint16_t cb = le16_get(d + 4);

		assert_int_equal(le16_get(d + 6), 32768);
		assert_memory_equal(d + 8, "CK", 2);
		assert_int_equal(le32_get(d), cab_checksum(d + 4, 4, cab_checksum(d + 8, cb, 0)));
	}
	free(b);
}

static void test_header_bytes_reserve(void **state)
{
	struct fixture *f = *state;
	static const uint8_t want[24] = {0x14, 0, 0, 0, 0, 0, 0x10, 0};
	struct pp_error err = {0};
	struct cab_header h;
	uint32_t size = write_samples(f->src, f->cab, CAB_COMPRESS_NONE, true, NULL, NULL);
	size_t len;
	uint8_t *b = tu_read_file(f->cab, &len);

	assert_non_null(b);
	assert_int_equal(le32_get(b + 0x08), size);
	assert_int_equal(le32_get(b + 0x10), 0x44); /* 60-byte header + one CFFOLDER */
	assert_int_equal(le16_get(b + 0x1E), CAB_FLAG_RESERVE_PRESENT);
	assert_memory_equal(b + 0x24, want, sizeof(want));	 /* 0x24..0x3B */
	assert_int_equal(le16_get(b + 0x42), CAB_COMPRESS_NONE); /* CFFOLDER at 0x3C */
	assert_int_equal(cab_header_parse(b, len, len, &h, &err), 0);
	assert_true(h.signature_reserve);
	assert_int_equal(h.reserve_offset, 0x28);
	assert_int_equal(h.cb_cf_header, 20);
	assert_int_equal(h.folders_offset, 0x3C);
	assert_int_equal(h.folders_end, 0x44);
	assert_int_equal(h.signature_offset, 0);
	assert_int_equal(h.signature_length, 0);
	free(b);
}

/* ---- digest sink ---- */

static void digest_sink(void **state, enum cab_compression compression, bool reserve)
{
	struct fixture *f = *state;
	struct collect c = {0};
	struct cab_digest_sink sink = {.ctx = &c, .header = collect_header, .data = collect_data};
	uint32_t size = write_samples(f->src, f->cab, compression, reserve, &sink, NULL);
	size_t len;
	uint8_t *b = tu_read_file(f->cab, &len);

	assert_non_null(b);
	assert_int_equal(c.headers, 1);
	assert_false(c.data_before_header);
	assert_int_equal(c.header_len, reserve ? 0x44 : 0x2C);
	assert_int_equal(c.h.folders_end, c.header_len);
	assert_int_equal(c.h.cb_cabinet, size);
	assert_int_equal(c.h.signature_reserve, reserve);
	assert_int_equal(c.len, size);
	assert_int_equal(len, size);
	assert_memory_equal(c.buf, b, len);
	free(c.buf);
	free(b);
}

static void test_digest_sink_none(void **state)
{
	digest_sink(state, CAB_COMPRESS_NONE, true);
	digest_sink(state, CAB_COMPRESS_NONE, false);
}

static void test_digest_sink_mszip(void **state)
{
	digest_sink(state, CAB_COMPRESS_MSZIP, true);
	digest_sink(state, CAB_COMPRESS_MSZIP, false);
}

static int failing_data(void *ctx, const uint8_t *bytes, size_t len, struct pp_error *err)
{
	pp_error_set(err, HR_TRUST_E_BAD_DIGEST, "sink refused");
	return -1;
}

static void test_digest_sink_error_propagates(void **state)
{
	struct fixture *f = *state;
	struct cab_digest_sink sink = {.data = failing_data};
	struct cab_writer_options opts = {.compression = CAB_COMPRESS_NONE, .sink = &sink};
	struct pp_error err = {0};
	struct cab_writer *w;
	char *p = sample_src(f->src, 2);
	int fd = open(f->cab, O_RDWR | O_CREAT | O_TRUNC, 0644);

	w = cab_writer_new(fd, &opts, &err);
	assert_non_null(w);
	assert_int_equal(cab_writer_add_file(w, p, "big.txt", &err), 0);
	assert_int_equal(cab_writer_finish(w, NULL, &err), -1);
	assert_int_equal(err.code, HR_TRUST_E_BAD_DIGEST);
	cab_writer_free(w);
	close(fd);
	free(p);
}

/* ---- progress ---- */

static void test_progress(void **state)
{
	struct fixture *f = *state;
	struct progress_log prog = {0};
	uint8_t *big = calloc(1, 3u * 1024u * 1024u + 5);
	char *p = tu_path(f->dir, "three-mb");
	struct cab_writer_options opts = {
	    .compression = CAB_COMPRESS_MSZIP, .progress = progress_cb, .progress_ctx = &prog};
	struct pp_error err = {0};
	struct cab_writer *w;
	int fd = open(f->cab, O_RDWR | O_CREAT | O_TRUNC, 0644);

	assert_non_null(big);
	tu_write_file(p, big, 3u * 1024u * 1024u + 5);
	w = cab_writer_new(fd, &opts, &err);
	assert_non_null(w);
	assert_int_equal(cab_writer_add_file(w, p, "three-mb", &err), 0);
	assert_int_equal(cab_writer_finish(w, NULL, &err), 0);
	/* About once per MB, not once per block, and a final call at 100%. */
	assert_true(prog.calls >= 3 && prog.calls <= 5);
	assert_false(prog.backwards);
	assert_int_equal(prog.last_done, 3u * 1024u * 1024u + 5);
	assert_int_equal(prog.last_total, 3u * 1024u * 1024u + 5);
	cab_writer_free(w);
	close(fd);
	free(p);
	free(big);
}

/* ---- writer limits ---- */

static struct cab_writer *new_writer(const char *path, int *fd, enum cab_compression c)
{
	struct cab_writer_options opts = {.compression = c};
	struct pp_error err = {0};
	struct cab_writer *w;

	*fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	assert_true(*fd >= 0);
	w = cab_writer_new(*fd, &opts, &err);
	assert_non_null(w);
	return w;
}

static void test_writer_names(void **state)
{
	struct fixture *f = *state;
	struct pp_error err = {0};
	char name[300];
	char *p = sample_src(f->src, 4);
	int fd;
	struct cab_writer *w = new_writer(f->cab, &fd, CAB_COMPRESS_NONE);
	static const char *bad[] = {"", "/abs", "..\\x", "a/../b", "C:\\x", "a//b", "dir/"};
	size_t i;

	memset(name, 'n', sizeof(name));
	name[256] = '\0';
	assert_int_equal(cab_writer_add_file(w, p, name, &err), -1);
	assert_int_equal(err.code, HR_ERROR_INVALID_NAME);
	name[255] = '\0';
	pp_error_clear(&err);
	assert_int_equal(cab_writer_add_file(w, p, name, &err), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		pp_error_clear(&err);
		assert_int_equal(cab_writer_add_file(w, p, bad[i], &err), -1);
		assert_int_equal(err.code, HR_ERROR_INVALID_NAME);
	}
	pp_error_clear(&err);
	assert_int_equal(cab_writer_add_file(w, "/nonexistent/file", "x", &err), -1);
	assert_int_equal(err.code, HR_ERROR_FILE_NOT_FOUND);
	cab_writer_free(w);
	close(fd);
	free(p);
}

static void test_writer_too_many_files(void **state)
{
	struct fixture *f = *state;
	struct pp_error err = {0};
	char *p = tu_path(f->dir, "tiny");
	char name[16];
	int fd;
	struct cab_writer *w = new_writer(f->cab, &fd, CAB_COMPRESS_NONE);
	uint32_t i;

	tu_write_file(p, "x", 1);
	for (i = 0; i < CAB_MAX_FILES; i++) {
		snprintf(name, sizeof(name), "f%u", i);
		if (cab_writer_add_file(w, p, name, &err) != 0)
			fail_msg("file %u: %s", i, err.message);
	}
	assert_int_equal(cab_writer_add_file(w, p, "one-too-many", &err), -1);
	assert_int_equal(err.code, HR_ERROR_FILE_TOO_LARGE);
	cab_writer_free(w);
	close(fd);
	free(p);
}

/* Sparse files make the 2 GB limits cheap to reach. */
static char *sparse_file(const char *dir, const char *name, uint64_t size)
{
	char *p = tu_path(dir, name);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	close(fd);
	return p;
}

static void test_writer_size_limits(void **state)
{
	struct fixture *f = *state;
	struct pp_error err = {0};
	char *huge = sparse_file(f->dir, "huge", (uint64_t)CAB_MAX_FILE_SIZE + 1);
	char *max = sparse_file(f->dir, "max", CAB_MAX_FILE_SIZE);
	char *half = sparse_file(f->dir, "half", 0x40000000u);
	int fd;
	struct cab_writer *w = new_writer(f->cab, &fd, CAB_COMPRESS_NONE);

	assert_int_equal(cab_writer_add_file(w, huge, "huge", &err), -1);
	assert_int_equal(err.code, HR_ERROR_FILE_TOO_LARGE);
	/* Largest file, but with block headers the cabinet would pass 0x7FFFFFFF. */
	pp_error_clear(&err);
	assert_int_equal(cab_writer_add_file(w, max, "max", &err), -1);
	assert_int_equal(err.code, HR_ERROR_FILE_TOO_LARGE);
	pp_error_clear(&err);
	assert_int_equal(cab_writer_add_file(w, half, "a", &err), 0);
	assert_int_equal(cab_writer_add_file(w, half, "b", &err), -1);
	assert_int_equal(err.code, HR_ERROR_FILE_TOO_LARGE);
	cab_writer_free(w);
	close(fd);

	/* MSZIP adds up to 12 bytes per block: 0x7FF00000 fits uncompressed, not compressed. */
	w = new_writer(f->cab, &fd, CAB_COMPRESS_MSZIP);
	free(max);
	max = sparse_file(f->dir, "near", 0x7FF00000u);
	pp_error_clear(&err);
	assert_int_equal(cab_writer_add_file(w, max, "near", &err), -1);
	assert_int_equal(err.code, HR_ERROR_FILE_TOO_LARGE);
	cab_writer_free(w);
	close(fd);
	w = new_writer(f->cab, &fd, CAB_COMPRESS_NONE);
	assert_int_equal(cab_writer_add_file(w, max, "near", &err), 0);
	cab_writer_free(w);
	close(fd);
	free(huge);
	free(max);
	free(half);
}

static void test_writer_file_changed(void **state)
{
	struct fixture *f = *state;
	struct pp_error err = {0};
	char *p = tu_path(f->dir, "changing");
	int fd;
	struct cab_writer *w = new_writer(f->cab, &fd, CAB_COMPRESS_MSZIP);

	tu_write_file(p, "short", 5);
	assert_int_equal(cab_writer_add_file(w, p, "changing", &err), 0);
	tu_write_file(p, "longer now", 10);
	assert_int_equal(cab_writer_finish(w, NULL, &err), -1);
	assert_int_equal(err.code, HR_ERROR_INVALID_DATA);
	assert_non_null(strstr(err.message, "changed size"));
	cab_writer_free(w);
	close(fd);
	free(p);
}

static void test_writer_bad_options(void **state)
{
	struct cab_writer_options opts = {.compression = CAB_COMPRESS_LZX};
	struct pp_error err = {0};

	assert_null(cab_writer_new(1, &opts, &err));
	assert_int_equal(err.code, HR_ERROR_NOT_SUPPORTED);
}

/* ---- safe names ---- */

static void test_safe_relative_path(void **state)
{
	static const char *bad[] = {"/etc/passwd", "\\x", "..\\x", "a\\..\\..\\b", "C:\\x", "c:x",
				    "a\\\\b",	   "a\\", ".",	   "..",	   "a/./b", "",
				    "x\x01y"};
	struct pp_error err = {0};
	char out[CAB_NAME_MAX + 1], small[4];
	size_t i;

	assert_int_equal(cab_safe_relative_path("dir\\sub\\file.txt", out, sizeof(out), &err), 0);
	assert_string_equal(out, "dir/sub/file.txt");
	assert_int_equal(cab_safe_relative_path("a/b", out, sizeof(out), &err), 0);
	assert_string_equal(out, "a/b");
	assert_int_equal(cab_safe_relative_path("..a\\b..", out, sizeof(out), &err), 0);
	assert_string_equal(out, "..a/b..");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		pp_error_clear(&err);
		if (cab_safe_relative_path(bad[i], out, sizeof(out), &err) != -1)
			fail_msg("\"%s\" was accepted", bad[i]);
		assert_int_equal(err.code, HR_ERROR_INVALID_NAME);
	}
	pp_error_clear(&err);
	assert_int_equal(cab_safe_relative_path("abcd", small, sizeof(small), &err), -1);
	assert_int_equal(err.code, HR_ERROR_INVALID_NAME);
}

/* ---- malformed cabinets ---- */

/* A small NONE or MSZIP cabinet of a few files, returned in memory. */
static uint8_t *small_cab(struct fixture *f, enum cab_compression c, const char *name, size_t *len)
{
	uint8_t data[70000];
	char *p = tu_path(f->dir, "payload");
	int fd;
	struct pp_error err = {0};
	struct cab_writer *w = new_writer(f->cab, &fd, c);
	uint8_t *b;

	tu_fill(data, sizeof(data), 99);
	memset(data, 'a', 30000); /* partly compressible */
	tu_write_file(p, data, sizeof(data));
	assert_int_equal(cab_writer_add_file(w, p, name, &err), 0);
	assert_int_equal(cab_writer_add_file(w, p, "second", &err), 0);
	assert_int_equal(cab_writer_finish(w, NULL, &err), 0);
	cab_writer_free(w);
	close(fd);
	b = tu_read_file(f->cab, len);
	assert_non_null(b);
	free(p);
	return b;
}

/* Writes bytes to a new cabinet file and opens it; returns NULL with err when open fails. */
static struct cab_reader *open_bytes(struct fixture *f, const uint8_t *b, size_t len,
				     struct pp_error *err)
{
	char *p = tu_path(f->dir, "bad.cab");
	struct cab_reader *r;

	tu_write_file(p, b, len);
	pp_error_clear(err);
	r = cab_reader_open(p, err);
	free(p);
	return r;
}

static void expect_open_fails(struct fixture *f, const uint8_t *b, size_t len, uint32_t code)
{
	struct pp_error err = {0};
	struct cab_reader *r = open_bytes(f, b, len, &err);

	if (r != NULL)
		fail_msg("a bad cabinet of %zu bytes opened", len);
	assert_int_equal(err.code, code);
	assert_true(err.message[0] != '\0');
}

/* Opens (must succeed), then extracting must fail with code and leave the target untouched;
 * with test_fails, cab_reader_test must fail with the same code. */
static void expect_extract_fails_test(struct fixture *f, const uint8_t *b, size_t len,
				      uint32_t code, const char *msg_part, bool test_fails)
{
	struct pp_error err = {0};
	struct cab_reader *r = open_bytes(f, b, len, &err);
	char *keep;
	int before;

	if (r == NULL)
		fail_msg("open failed: %s", err.message);
	mkdir(f->out, 0755);
	keep = tu_path(f->out, "already-here");
	tu_write_file(keep, "keep", 4);
	before = tu_count_entries(f->out);
	assert_int_equal(cab_reader_extract(r, f->out, NULL, NULL, &err), -1);
	assert_int_equal(err.code, code);
	if (msg_part != NULL && strstr(err.message, msg_part) == NULL)
		fail_msg("message \"%s\" lacks \"%s\"", err.message, msg_part);
	assert_int_equal(tu_count_entries(f->out), before);
	/* A directory that did not exist is not left behind either. */
	{
		char *fresh = tu_path(f->dir, "fresh");

		pp_error_clear(&err);
		assert_int_equal(cab_reader_extract(r, fresh, NULL, NULL, &err), -1);
		assert_int_equal(err.code, code);
		assert_int_equal(tu_count_entries(fresh), -1);
		free(fresh);
	}
	pp_error_clear(&err);
	if (test_fails) {
		assert_int_equal(cab_reader_test(r, &err), -1);
		assert_int_equal(err.code, code);
	} else {
		assert_int_equal(cab_reader_test(r, &err), 0);
	}
	cab_reader_free(r);
	free(keep);
}

static void expect_extract_fails(struct fixture *f, const uint8_t *b, size_t len, uint32_t code,
				 const char *msg_part)
{
	expect_extract_fails_test(f, b, len, code, msg_part, code != HR_ERROR_INVALID_NAME);
}

static void test_truncated(void **state)
{
	struct fixture *f = *state;
	size_t len, cut;
	enum cab_compression c;

	for (c = CAB_COMPRESS_NONE; c <= CAB_COMPRESS_MSZIP; c++) {
		uint8_t *b = small_cab(f, c, "first", &len);

		/* Every length up to the tables, then every 97 bytes through the data. */
		for (cut = 0; cut < len; cut += cut < 200 ? 1 : 97)
			expect_open_fails(f, b, cut, HR_ERROR_INVALID_DATA);
		expect_open_fails(f, b, len - 1, HR_ERROR_INVALID_DATA);
		free(b);
	}
}

static void test_truncated_with_honest_size(void **state)
{
	struct fixture *f = *state;
	size_t len, cut;
	uint8_t *b = small_cab(f, CAB_COMPRESS_MSZIP, "first", &len);

	/* cbCabinet patched to match the cut: the tables may open, the data must not decode. */
	for (cut = 0x60; cut < len; cut += 501) {
		struct pp_error err = {0};
		struct cab_reader *r;

		le32_put(b + 0x08, (uint32_t)cut);
		r = open_bytes(f, b, cut, &err);
		if (r != NULL) {
			assert_int_equal(cab_reader_test(r, &err), -1);
			assert_int_equal(err.code, HR_ERROR_INVALID_DATA);
			cab_reader_free(r);
		} else {
			assert_int_equal(err.code, HR_ERROR_INVALID_DATA);
		}
	}
	free(b);
}

static void test_bad_header_fields(void **state)
{
	struct fixture *f = *state;
	size_t len;
	uint8_t *b = small_cab(f, CAB_COMPRESS_NONE, "first", &len);
	uint8_t *m = malloc(len);

	assert_non_null(m);
#define MUTATE(stmt)                                                                               \
	do {                                                                                       \
		memcpy(m, b, len);                                                                 \
		stmt;                                                                              \
		expect_open_fails(f, m, len, HR_ERROR_INVALID_DATA);                               \
	} while (0)
	MUTATE(m[0] = 'X');				      /* signature */
	MUTATE(le32_put(m + 0x04, 1));			      /* reserved1 */
	MUTATE(le32_put(m + 0x08, (uint32_t)len + 1));	      /* cbCabinet past the end */
	MUTATE(le32_put(m + 0x10, (uint32_t)len + 100));      /* coffFiles past the end */
	MUTATE(le32_put(m + 0x10, 0x10));		      /* coffFiles inside the header */
	MUTATE(m[0x19] = 2);				      /* version */
	MUTATE(le16_put(m + 0x1A, 0xFFFF));		      /* cFolders past the end */
	MUTATE(le16_put(m + 0x1C, 0xFFFF));		      /* cFiles past the end */
	MUTATE(le16_put(m + 0x1E, 0x0040));		      /* unknown flag */
	MUTATE(le16_put(m + 0x1E, CAB_FLAG_RESERVE_PRESENT)); /* reserve sizes from the folder */
	MUTATE(le32_put(m + 0x24, (uint32_t)len));	      /* coffCabStart at the end */
	MUTATE(le32_put(m + 0x24, 0xFFFFFFF0u));	      /* coffCabStart wraps */
	MUTATE(le32_put(m + 0x24, 0x10));		      /* coffCabStart inside the header */
	MUTATE(le16_put(m + 0x28, 0xFFFF));		      /* cCFData past the end */
	MUTATE(le16_put(m + 0x2A, 7));			      /* unknown compression */
	MUTATE(le32_put(m + 0x2C, 0x80000000u));	      /* file size over the limit */
	MUTATE(le32_put(m + 0x30, 0xFFFFFFF0u));	      /* offset + size wraps */
	MUTATE(le32_put(m + 0x30, 200000));		      /* file past the folder's blocks */
	MUTATE(le16_put(m + 0x34, 1));			      /* iFolder >= cFolders */
	MUTATE(le16_put(m + 0x34, 0xFFFD)); /* continued from a previous cabinet */
	MUTATE(le16_put(m + 0x34, 0xFFFF));
	MUTATE(m[0x3C] = '\0'); /* empty name */
#undef MUTATE
	{
		struct pp_error err = {0};

		memcpy(m, b, len);
		le16_put(m + 0x34, 0xFFFE);
		assert_null(open_bytes(f, m, len, &err));
		assert_non_null(strstr(err.message, "another cabinet"));
	}
	free(m);
	free(b);
}

static void test_unterminated_name(void **state)
{
	struct fixture *f = *state;
	char name[CAB_NAME_MAX + 1];
	size_t len;
	uint8_t *b;

	memset(name, 'q', CAB_NAME_MAX);
	name[CAB_NAME_MAX] = '\0';
	b = small_cab(f, CAB_COMPRESS_NONE, name, &len);
	assert_int_equal(b[0x3C + CAB_NAME_MAX], '\0');
	b[0x3C + CAB_NAME_MAX] = 'q';
	expect_open_fails(f, b, len, HR_ERROR_INVALID_DATA);
	free(b);
}

/* Offset of CFDATA block n of the single folder. */
static size_t block_offset(const uint8_t *b, unsigned n)
{
	size_t off = le32_get(b + 0x24);

	while (n-- > 0)
		off += 8u + le16_get(b + off + 4);
	return off;
}

static void test_flipped_byte_crc(void **state)
{
	struct fixture *f = *state;
	enum cab_compression c;

	for (c = CAB_COMPRESS_NONE; c <= CAB_COMPRESS_MSZIP; c++) {
		size_t len, off;
		uint8_t *b = small_cab(f, c, "first", &len);

		off = block_offset(b, 2);
		b[off + 8 + 20] ^= 0x01;
		expect_extract_fails(f, b, len, HR_ERROR_CRC, "folder 0 block 2");
		/* A flipped cbUncomp is covered by the checksum too. */
		b[off + 8 + 20] ^= 0x01;
		b[block_offset(b, 0) + 6] ^= 0x01;
		expect_extract_fails(f, b, len, HR_ERROR_CRC, "block 0");
		free(b);
	}
}

static void test_checksum_zero_means_absent(void **state)
{
	struct fixture *f = *state;
	struct pp_error err = {0};
	size_t len, i;
	uint8_t *b = small_cab(f, CAB_COMPRESS_MSZIP, "first", &len);
	struct cab_reader *r;

	for (i = 0; i < le16_get(b + 0x28); i++)
		le32_put(b + block_offset(b, (unsigned)i), 0);
	r = open_bytes(f, b, len, &err);
	assert_non_null(r);
	assert_int_equal(cab_reader_test(r, &err), 0);
	cab_reader_free(r);
	free(b);
}

/* Recomputes the checksum of block n so a change gets past the CRC to the decoder. */
static void fix_checksum(uint8_t *b, unsigned n)
{
	size_t off = block_offset(b, n);

	le32_put(b + off,
		 cab_checksum(b + off + 4, 4, cab_checksum(b + off + 8, le16_get(b + off + 4), 0)));
}

static void test_bad_mszip(void **state)
{
	struct fixture *f = *state;
	size_t len, off;
	uint8_t *b = small_cab(f, CAB_COMPRESS_MSZIP, "first", &len);

	off = block_offset(b, 1);
	b[off + 8] = 'X'; /* "CK" -> "XK", with the checksum intact: CRC first */
	expect_extract_fails(f, b, len, HR_ERROR_CRC, "block 1");
	fix_checksum(b, 1);
	expect_extract_fails(f, b, len, HR_ERROR_INVALID_DATA, "CK");
	b[off + 8] = 'C';
	fix_checksum(b, 1);

	/* cbUncomp that disagrees with the inflated size */
	le16_put(b + off + 6, 1000);
	fix_checksum(b, 1);
	expect_extract_fails(f, b, len, HR_ERROR_INVALID_DATA, "cbUncomp");
	le16_put(b + off + 6, 32768);
	fix_checksum(b, 1);

	/* garbage deflate data */
	memset(b + off + 10, 0xFF, 16);
	fix_checksum(b, 1);
	expect_extract_fails(f, b, len, HR_ERROR_INVALID_DATA, "block 1");
	free(b);

	/* cbData of the last block running past the end of the cabinet */
	b = small_cab(f, CAB_COMPRESS_MSZIP, "first", &len);
	off = block_offset(b, le16_get(b + 0x28) - 1u);
	le16_put(b + off + 4, CAB_MSZIP_BLOCK_MAX);
	expect_extract_fails(f, b, len, HR_ERROR_INVALID_DATA, "past the end");
	le16_put(b + off + 4, CAB_MSZIP_BLOCK_MAX + 1);
	expect_extract_fails(f, b, len, HR_ERROR_INVALID_DATA, "cbData");
	free(b);
}

static void test_bad_none_blocks(void **state)
{
	struct fixture *f = *state;
	size_t len, off;
	uint8_t *b = small_cab(f, CAB_COMPRESS_NONE, "first", &len);

	off = block_offset(b, 0);
	le16_put(b + off + 4, 100); /* cbData != cbUncomp: the checksum notices first */
	expect_extract_fails(f, b, len, HR_ERROR_CRC, "block 0");
	fix_checksum(b, 0);
	expect_extract_fails(f, b, len, HR_ERROR_INVALID_DATA, "cbData");
	free(b);

	/* Fewer blocks than the files need: the file table promises more than the folder holds. */
	b = small_cab(f, CAB_COMPRESS_NONE, "first", &len);
	le16_put(b + 0x28, (uint16_t)(le16_get(b + 0x28) - 1));
	expect_open_fails(f, b, len, HR_ERROR_INVALID_DATA);
	free(b);

	/* A file that fits cCFData * 32768 but not the bytes the (short) last block holds: opens,
	 * then fails to read, test and extract. */
	b = small_cab(f, CAB_COMPRESS_NONE, "first", &len);
	assert_string_equal((const char *)b + 0x42 + 16, "second");
	le32_put(b + 0x42, 90000); /* 70000 + 90000 <= 5 * 32768, > 140000 */
	expect_extract_fails(f, b, len, HR_ERROR_INVALID_DATA, "ends after");
	free(b);
}

static void test_lzx_not_supported(void **state)
{
	struct fixture *f = *state;
	struct pp_error err = {0};
	struct buffer_sink sink = {0};
	size_t len;
	uint8_t *b = small_cab(f, CAB_COMPRESS_MSZIP, "first", &len);
	struct cab_reader *r;

	le16_put(b + 0x2A, 0x1503); /* LZX, 2 MB window */
	r = open_bytes(f, b, len, &err);
	assert_non_null(r);
	assert_int_equal(cab_reader_file_count(r), 2); /* listing works */
	assert_string_equal(cab_reader_file(r, 0)->name, "first");
	assert_int_equal(cab_reader_read_file(r, 0, buffer_sink_fn, &sink, &err), -1);
	assert_int_equal(err.code, HR_ERROR_NOT_SUPPORTED);
	assert_non_null(strstr(err.message, "compression type 3 (LZX) is not supported"));
	cab_reader_free(r);
	expect_extract_fails(f, b, len, HR_ERROR_NOT_SUPPORTED, "LZX");
	le16_put(b + 0x2A, 0x0002);
	expect_extract_fails(f, b, len, HR_ERROR_NOT_SUPPORTED, "Quantum");
	free(b);
}

static void unsafe_name(struct fixture *f, const char *evil)
{
	size_t len, n = strlen(evil);
	char placeholder[64];
	uint8_t *b;

	memset(placeholder, 'p', n);
	placeholder[n] = '\0';
	b = small_cab(f, CAB_COMPRESS_NONE, placeholder, &len);
	assert_memory_equal(b + 0x3C, placeholder, n);
	memcpy(b + 0x3C, evil, n); /* the file table is not covered by any checksum */
	expect_extract_fails(f, b, len, HR_ERROR_INVALID_NAME, NULL);
	free(b);
}

static void test_unsafe_names_refused(void **state)
{
	struct fixture *f = *state;

	unsafe_name(f, "/etc/passwd");
	unsafe_name(f, "..\\x");
	unsafe_name(f, "a\\..\\..\\b");
	unsafe_name(f, "C:\\x");
	unsafe_name(f, "a\\\\b");
	unsafe_name(f, "\\\\server\\share\\x");
	unsafe_name(f, "trailing\\");
}

static void test_symlink_in_target_refused(void **state)
{
	struct fixture *f = *state;
	struct pp_error err = {0};
	char *elsewhere = tu_path(f->dir, "elsewhere");
	char *link = tu_path(f->out, "subdir");
	size_t len;
	uint8_t *b = small_cab(f, CAB_COMPRESS_NONE, "subdir\\file", &len);
	struct cab_reader *r;

	mkdir(elsewhere, 0755);
	mkdir(f->out, 0755);
	assert_int_equal(symlink(elsewhere, link), 0);
	r = open_bytes(f, b, len, &err);
	assert_non_null(r);
	assert_int_equal(cab_reader_extract(r, f->out, NULL, NULL, &err), -1);
	assert_int_equal(err.code, HR_ERROR_INVALID_NAME);
	assert_int_equal(tu_count_entries(elsewhere), 0);
	assert_int_equal(tu_count_entries(f->out), 1);
	cab_reader_free(r);
	free(b);
	free(link);
	free(elsewhere);
}

static void test_duplicate_names_refused(void **state)
{
	struct fixture *f = *state;
	size_t len;
	uint8_t *b = small_cab(f, CAB_COMPRESS_NONE, "second", &len);

	/* Two entries named "second": the staging copy notices, the target stays as it was. */
	expect_extract_fails_test(f, b, len, HR_ERROR_INVALID_DATA, "twice", false);
	free(b);
}

static void test_reader_open_errors(void **state)
{
	struct fixture *f = *state;
	struct pp_error err = {0};

	assert_null(cab_reader_open("/nonexistent/x.cab", &err));
	assert_int_equal(err.code, HR_ERROR_FILE_NOT_FOUND);
	pp_error_clear(&err);
	assert_null(cab_reader_open(f->dir, &err));
	assert_int_equal(err.code, HR_ERROR_INVALID_DATA);
}

/* ---- interop with gcab and cabextract ---- */

static void interop_ours(void **state, enum cab_compression c)
{
	struct fixture *f = *state;
	char *gx = tu_path(f->dir, "gcab-x"), *cx = tu_path(f->dir, "cabextract-x");
	char *list = tu_path(f->dir, "list.txt");
	size_t len, i;
	char *text;

	write_samples(f->src, f->cab, c, false, NULL, NULL);
	assert_int_equal(tu_run("gcab -t '%s' > '%s'", f->cab, list), 0);
	text = (char *)tu_read_file(list, &len);
	assert_non_null(text);
	text[len] = '\0';
	for (i = 0; i < NSAMPLES; i++) {
		char stored[64];
		size_t k;

		/* gcab lists names as stored, with '\\' separators. */
		snprintf(stored, sizeof(stored), "%s\n", samples[i].name);
		for (k = 0; stored[k]; k++)
			if (stored[k] == '/')
				stored[k] = '\\';
		if (strstr(text, stored) == NULL)
			fail_msg("gcab -t does not list %s:\n%s", stored, text);
	}
	free(text);
	assert_int_equal(tu_run("mkdir -p '%s' && gcab -x -C '%s' '%s'", gx, gx, f->cab), 0);
	check_extracted(gx);
	assert_int_equal(tu_run("cabextract -q -t '%s' >/dev/null", f->cab), 0);
	assert_int_equal(tu_run("cabextract -q -d '%s' '%s'", cx, f->cab), 0);
	check_extracted(cx);

	/* With the signature reserve as well. */
	write_samples(f->src, f->cab, c, true, NULL, NULL);
	assert_int_equal(tu_run("cabextract -q -t '%s' >/dev/null", f->cab), 0);
	assert_int_equal(tu_run("gcab -t '%s' >/dev/null", f->cab), 0);
	free(gx);
	free(cx);
	free(list);
}

static void test_interop_ours_none(void **state)
{
	interop_ours(state, CAB_COMPRESS_NONE);
}

static void test_interop_ours_mszip(void **state)
{
	interop_ours(state, CAB_COMPRESS_MSZIP);
}

static void interop_gcab(void **state, bool zip)
{
	struct fixture *f = *state;
	struct pp_error err = {0};
	char *tree = tu_path(f->dir, "tree");
	struct cab_reader *r;
	size_t i;

	/* gcab stores the paths it is given, so build the sample tree under their real names. */
	assert_int_equal(tu_run("mkdir -p '%s/sub/dir'", tree), 0);
	for (i = 0; i < NSAMPLES; i++) {
		char *p = tu_path(tree, samples[i].name);
		uint8_t *data = sample_content(i);

		tu_write_file(p, data, samples[i].size);
		free(data);
		free(p);
	}
	assert_int_equal(tu_run("cd '%s' && gcab -c %s '%s' empty.txt exact.bin big.txt random.bin "
				"sub/dir/small.txt zeros.bin caf\xc3\xa9.txt last-empty",
				tree, zip ? "-z" : "", f->cab),
			 0);
	r = cab_reader_open(f->cab, &err);
	if (r == NULL)
		fail_msg("open gcab cabinet: %s", err.message);
	assert_int_equal(cab_reader_file_count(r), NSAMPLES);
	assert_int_equal(cab_reader_folder(r, 0)->type_compress,
			 zip ? CAB_COMPRESS_MSZIP : CAB_COMPRESS_NONE);
	assert_string_equal(cab_reader_file(r, 4)->name, "sub\\dir\\small.txt");
	if (cab_reader_test(r, &err) != 0)
		fail_msg("test gcab cabinet: %s", err.message);
	if (cab_reader_extract(r, f->out, NULL, NULL, &err) != 0)
		fail_msg("extract gcab cabinet: %s", err.message);
	check_extracted(f->out);
	cab_reader_free(r);
	free(tree);
}

static void test_interop_gcab_none(void **state)
{
	interop_gcab(state, false);
}

static void test_interop_gcab_mszip(void **state)
{
	interop_gcab(state, true);
}

static void test_interop_gcab_checksums(void **state)
{
	struct fixture *f = *state;
	char *tree = tu_path(f->dir, "tree");
	size_t len, off, n, blocks;
	uint8_t *b, *data = malloc(100000);

	/* gcab fills csum in every block; ours must compute the same values. */
	assert_int_equal(tu_run("mkdir -p '%s'", tree), 0);
	{
		char *p = tu_path(tree, "data.bin");

		tu_fill(data, 100000, 5);
		tu_write_file(p, data, 100000);
		free(p);
	}
	assert_int_equal(tu_run("cd '%s' && gcab -c -z '%s' data.bin", tree, f->cab), 0);
	b = tu_read_file(f->cab, &len);
	assert_non_null(b);
	blocks = le16_get(b + 0x28);
	assert_int_equal(blocks, 4);
	for (n = 0, off = le32_get(b + 0x24); n < blocks; n++) {
		uint16_t cb = le16_get(b + off + 4);

		assert_true(le32_get(b + off) != 0);
		assert_int_equal(le32_get(b + off),
				 cab_checksum(b + off + 4, 4, cab_checksum(b + off + 8, cb, 0)));
		off += 8u + cb;
	}
	assert_int_equal(off, len);
	free(b);
	free(data);
	free(tree);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_checksum_vectors),
	    cmocka_unit_test(test_checksum_lengths),
	    cmocka_unit_test(test_safe_relative_path),
	    cmocka_unit_test(test_writer_bad_options),
#define T(name) cmocka_unit_test_setup_teardown(name, fixture_setup, fixture_teardown)
	    T(test_roundtrip_none),
	    T(test_roundtrip_mszip),
	    T(test_mszip_history_across_blocks),
	    T(test_mszip_compresses),
	    T(test_header_bytes_plain),
	    T(test_header_bytes_reserve),
	    T(test_digest_sink_none),
	    T(test_digest_sink_mszip),
	    T(test_digest_sink_error_propagates),
	    T(test_progress),
	    T(test_writer_names),
	    T(test_writer_too_many_files),
	    T(test_writer_size_limits),
	    T(test_writer_file_changed),
	    T(test_truncated),
	    T(test_truncated_with_honest_size),
	    T(test_bad_header_fields),
	    T(test_unterminated_name),
	    T(test_flipped_byte_crc),
	    T(test_checksum_zero_means_absent),
	    T(test_bad_mszip),
	    T(test_bad_none_blocks),
	    T(test_lzx_not_supported),
	    T(test_unsafe_names_refused),
	    T(test_symlink_in_target_refused),
	    T(test_duplicate_names_refused),
	    T(test_reader_open_errors),
	    T(test_interop_ours_none),
	    T(test_interop_ours_mszip),
	    T(test_interop_gcab_none),
	    T(test_interop_gcab_mszip),
	    T(test_interop_gcab_checksums),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
