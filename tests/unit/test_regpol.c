/* test_regpol.c - Registry.pol reader and writer: round trips of every type, the exact bytes of a
 * file built by hand from the format description, damaged files refused with the byte offset and
 * nothing returned, the data helpers, and the serialized certificate element ("Blob"). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "hresult.h"
#include "regpol.h"
#include "testcerts.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

/* ---- a hand-made byte builder, independent of the code under test ---- */

struct bytes {
	uint8_t b[4096];
	size_t n;
};

static void put8(struct bytes *x, uint8_t v)
{
	assert_true(x->n < sizeof(x->b));
	x->b[x->n++] = v;
}

static void put32(struct bytes *x, uint32_t v)
{
	put8(x, (uint8_t)v);
	put8(x, (uint8_t)(v >> 8));
	put8(x, (uint8_t)(v >> 16));
	put8(x, (uint8_t)(v >> 24));
}

/* An ASCII string as UTF-16LE, without its NUL. */
static void put_ascii16(struct bytes *x, const char *s)
{
	for (; *s != '\0'; s++) {
		put8(x, (uint8_t)*s);
		put8(x, 0);
	}
}

/* One entry as formats.md 4.1 describes it, names in ASCII. */
static void put_entry(struct bytes *x, const char *key, const char *value, uint32_t type,
		      const uint8_t *data, uint32_t size)
{
	put_ascii16(x, "[");
	put_ascii16(x, key);
	put8(x, 0), put8(x, 0);
	put_ascii16(x, ";");
	put_ascii16(x, value);
	put8(x, 0), put8(x, 0);
	put_ascii16(x, ";");
	put32(x, type);
	put_ascii16(x, ";");
	put32(x, size);
	put_ascii16(x, ";");
	for (uint32_t i = 0; i < size; i++)
		put8(x, data[i]);
	put_ascii16(x, "]");
}

static void put_header(struct bytes *x)
{
	put8(x, 'P'), put8(x, 'R'), put8(x, 'e'), put8(x, 'g');
	put32(x, 1);
}

/* The smallest useful file: key "K", value "V", REG_DWORD 1. Offsets: 8 '[', 10 "K", 12 NUL,
 * 14 ';', 16 "V", 18 NUL, 20 ';', 22 type, 26 ';', 28 size, 32 ';', 34 data, 38 ']'; 40 bytes. */
static const uint8_t tiny[40] = {
    0x50, 0x52, 0x65, 0x67, 0x01, 0x00, 0x00, 0x00, 0x5B, 0x00, 0x4B, 0x00, 0x00, 0x00,
    0x3B, 0x00, 0x56, 0x00, 0x00, 0x00, 0x3B, 0x00, 0x04, 0x00, 0x00, 0x00, 0x3B, 0x00,
    0x04, 0x00, 0x00, 0x00, 0x3B, 0x00, 0x01, 0x00, 0x00, 0x00, 0x5D, 0x00,
};

static void assert_entry(const struct regpol_entry *e, const char *key, const char *value,
			 uint32_t type, const void *data, size_t size)
{
	assert_non_null(e);
	assert_string_equal(e->key, key);
	assert_string_equal(e->value, value);
	assert_int_equal(e->type, type);
	assert_int_equal(e->size, size);
	if (size > 0)
		assert_memory_equal(e->data, data, size);
}

/* ---- reader and writer ---- */

static void test_tiny_known_bytes(void **state)
{
	struct pp_error err = {0};
	struct regpol *pol;
	uint8_t dword[4] = {1, 0, 0, 0}, *out = NULL;
	size_t len = 0;

	(void)state;
	pol = regpol_parse(tiny, sizeof(tiny), &err);
	assert_non_null(pol);
	assert_int_equal(pol->count, 1);
	assert_entry(&pol->entries[0], "K", "V", REGPOL_REG_DWORD, dword, 4);
	regpol_free(pol);

	pol = regpol_new(&err);
	assert_non_null(pol);
	assert_int_equal(regpol_add(pol, "K", "V", REGPOL_REG_DWORD, dword, 4, &err), 0);
	assert_int_equal(regpol_serialize(pol, &out, &len, &err), 0);
	assert_int_equal(len, sizeof(tiny));
	assert_memory_equal(out, tiny, sizeof(tiny));
	free(out);
	regpol_free(pol);

	/* A file with only the header is an empty policy, and is written back as 8 bytes. */
	pol = regpol_parse(tiny, 8, &err);
	assert_non_null(pol);
	assert_int_equal(pol->count, 0);
	assert_int_equal(regpol_serialize(pol, &out, &len, &err), 0);
	assert_int_equal(len, 8);
	assert_memory_equal(out, tiny, 8);
	free(out);
	regpol_free(pol);
	regpol_free(NULL);
}

/* The GPO of DESIGN 5.8 (policy value and a REG_SZ), bytes built by hand. */
static void test_known_file(void **state)
{
	static const char wu[] = "Software\\Policies\\Microsoft\\Windows\\WindowsUpdate";
	struct pp_error err = {0};
	struct bytes want = {0}, sz = {0};
	struct regpol *pol;
	uint8_t one[4] = {1, 0, 0, 0}, *out = NULL, *data = NULL;
	size_t len = 0, dlen = 0;
	char *dir = tu_tmpdir(), *path = tu_path(dir, "Registry.pol"), *s;

	(void)state;
	put_ascii16(&sz, "http://sup.example:8530");
	put8(&sz, 0), put8(&sz, 0);
	put_header(&want);
	put_entry(&want, wu, "AcceptTrustedPublisherCerts", 4, one, 4);
	put_entry(&want, wu, "WUServer", 1, sz.b, (uint32_t)sz.n);
	put_entry(&want, wu, "**del.WUStatusServer", 1, (const uint8_t *)" \0\0", 4);

	pol = regpol_new(&err);
	assert_non_null(pol);
	regpol_dword_make(1, one);
	assert_int_equal(
	    regpol_add(pol, wu, "AcceptTrustedPublisherCerts", REGPOL_REG_DWORD, one, 4, &err), 0);
	assert_int_equal(regpol_sz_make("http://sup.example:8530", &data, &dlen, &err), 0);
	assert_int_equal(dlen, sz.n);
	assert_int_equal(regpol_add(pol, wu, "WUServer", REGPOL_REG_SZ, data, dlen, &err), 0);
	free(data);
	assert_int_equal(regpol_sz_make(" ", &data, &dlen, &err), 0);
	assert_int_equal(
	    regpol_add(pol, wu, "**del.WUStatusServer", REGPOL_REG_SZ, data, dlen, &err), 0);
	free(data);

	assert_int_equal(regpol_serialize(pol, &out, &len, &err), 0);
	assert_int_equal(len, want.n);
	assert_memory_equal(out, want.b, want.n);
	free(out);

	/* Through a file: mode 0644, same bytes, and read back to the same entries. */
	assert_int_equal(regpol_write(path, pol, &err), 0);
	assert_int_equal(tu_file_mode(path), 0644);
	out = tu_read_file(path, &len);
	assert_non_null(out);
	assert_int_equal(len, want.n);
	assert_memory_equal(out, want.b, want.n);
	free(out);
	regpol_free(pol);

	pol = regpol_read(path, &err);
	assert_non_null(pol);
	assert_int_equal(pol->count, 3);
	assert_entry(&pol->entries[1], wu, "WUServer", REGPOL_REG_SZ, sz.b, sz.n);
	s = regpol_sz_read(pol->entries[1].data, pol->entries[1].size, &err);
	assert_string_equal(s, "http://sup.example:8530");
	free(s);
	assert_non_null(regpol_find(pol, "software\\policies\\microsoft\\windows\\windowsupdate",
				    "acceptTrustedPublisherCerts"));
	assert_ptr_equal(regpol_find(pol, wu, "WUServer"), &pol->entries[1]);
	assert_null(regpol_find(pol, wu, "Missing"));
	regpol_free(pol);
	tu_rmrf(dir);
	free(path);
	free(dir);
}

static void test_round_trip_every_type(void **state)
{
	static const char *const multi[] = {"one", "zwei", "\xe4\xb8\x89", "\xf0\x9f\x98\x80"};
	struct pp_error err = {0};
	struct regpol *pol, *back;
	uint8_t *sz, *ms, *out = NULL, *out2 = NULL, dw[4], be[4] = {0x12, 0x34, 0x56, 0x78}, qw[8];
	uint8_t bin[300];
	size_t szn, msn, len = 0, len2 = 0, i;
	uint32_t t;

	(void)state;
	tu_fill(bin, sizeof(bin), 7);
	pol = regpol_new(&err);
	assert_non_null(pol);
	assert_int_equal(regpol_sz_make("C:\\Program Files\\caf\xc3\xa9", &sz, &szn, &err), 0);
	assert_int_equal(regpol_multi_sz_make(multi, 4, &ms, &msn, &err), 0);
	regpol_dword_make(0xDEADBEEFu, dw);
	regpol_qword_make(0x0123456789ABCDEFull, qw);
	assert_int_equal(regpol_add(pol, "Software\\T", "", REGPOL_REG_NONE, NULL, 0, &err), 0);
	assert_int_equal(regpol_add(pol, "Software\\T", "sz", REGPOL_REG_SZ, sz, szn, &err), 0);
	assert_int_equal(regpol_add(pol, "Software\\T", "ex", REGPOL_REG_EXPAND_SZ, sz, szn, &err),
			 0);
	assert_int_equal(
	    regpol_add(pol, "Software\\T", "bin", REGPOL_REG_BINARY, bin, sizeof(bin), &err), 0);
	assert_int_equal(regpol_add(pol, "Software\\T", "dw", REGPOL_REG_DWORD, dw, 4, &err), 0);
	assert_int_equal(
	    regpol_add(pol, "Software\\T", "be", REGPOL_REG_DWORD_BIG_ENDIAN, be, 4, &err), 0);
	assert_int_equal(regpol_add(pol, "Software\\T", "ln", REGPOL_REG_LINK, sz, szn, &err), 0);
	assert_int_equal(regpol_add(pol, "Software\\T", "ms", REGPOL_REG_MULTI_SZ, ms, msn, &err),
			 0);
	assert_int_equal(regpol_add(pol, "Software\\T", "qw", REGPOL_REG_QWORD, qw, 8, &err), 0);
	for (t = 8; t <= 10; t++)
		assert_int_equal(regpol_add(pol, "Software\\T", "res", t, bin, 5, &err), 0);
	/* Names beyond ASCII and the BMP, on both sides. */
	assert_int_equal(regpol_add(pol, "Software\\Caf\xc3\xa9\\\xf0\x9f\x98\x80", "\xe5\x80\xbc",
				    REGPOL_REG_BINARY, bin, 1, &err),
			 0);
	assert_int_equal(err.code, 0);

	assert_int_equal(regpol_serialize(pol, &out, &len, &err), 0);
	back = regpol_parse(out, len, &err);
	assert_non_null(back);
	assert_int_equal(back->count, pol->count);
	for (i = 0; i < pol->count; i++) {
		const struct regpol_entry *e = &pol->entries[i];

		assert_entry(&back->entries[i], e->key, e->value, e->type, e->data, e->size);
	}
	assert_int_equal(regpol_serialize(back, &out2, &len2, &err), 0);
	assert_int_equal(len2, len);
	assert_memory_equal(out2, out, len);
	regpol_free(back);
	regpol_free(pol);
	free(out);
	free(out2);
	free(sz);
	free(ms);
}

/* Parses buf and expects failure with exactly code and message, and nothing returned. */
static void expect_damaged(const uint8_t *buf, size_t len, uint32_t code, const char *message)
{
	struct pp_error err = {0};
	struct regpol *pol = regpol_parse(buf, len, &err);

	assert_null(pol);
	assert_int_equal(err.code, code);
	assert_string_equal(err.message, message);
}

static void test_damaged(void **state)
{
	uint8_t b[sizeof(tiny)];
	struct bytes x = {0};
	size_t i;

	(void)state;
	expect_damaged(tiny, 5, HR_ERROR_BAD_FORMAT,
		       "Registry.pol data: 5 bytes, too short for the 8-byte header of a "
		       "Registry.pol file");
	memcpy(b, tiny, sizeof(b));
	b[3] = 'h';
	expect_damaged(b, sizeof(b), HR_ERROR_BAD_FORMAT,
		       "Registry.pol data: byte offset 0: expected the Registry.pol signature "
		       "'PReg' (50 52 65 67), found 50 52 65 68");
	memcpy(b, tiny, sizeof(b));
	b[4] = 2;
	expect_damaged(
	    b, sizeof(b), HR_ERROR_BAD_FORMAT,
	    "Registry.pol data: byte offset 4: expected PReg version 1, found version 2");

	/* Truncated anywhere inside the entry: refused, whatever the cut. */
	for (i = 9; i < sizeof(tiny); i++) {
		struct pp_error err = {0};

		assert_null(regpol_parse(tiny, i, &err));
		assert_int_equal(err.code, HR_ERROR_INVALID_DATA);
	}
	expect_damaged(tiny, 39, HR_ERROR_INVALID_DATA,
		       "Registry.pol data is damaged at byte offset 38: expected ']' (5D 00) "
		       "closing the entry, found the end of the file");
	expect_damaged(tiny, 30, HR_ERROR_INVALID_DATA,
		       "Registry.pol data is damaged at byte offset 28: expected the 4-byte data "
		       "size, found the end of the file");
	expect_damaged(tiny, 11, HR_ERROR_INVALID_DATA,
		       "Registry.pol data is damaged at byte offset 10: the key path starting here "
		       "has no terminating NUL (00 00) before the end of the file");

	memcpy(b, tiny, sizeof(b));
	b[38] = 'X';
	expect_damaged(b, sizeof(b), HR_ERROR_INVALID_DATA,
		       "Registry.pol data is damaged at byte offset 38: expected ']' (5D 00) "
		       "closing the entry, found 58 00");
	memcpy(b, tiny, sizeof(b));
	b[8] = '(';
	expect_damaged(
	    b, sizeof(b), HR_ERROR_INVALID_DATA,
	    "Registry.pol data is damaged at byte offset 8: expected '[' (5B 00) opening "
	    "an entry, found 28 00");
	memcpy(b, tiny, sizeof(b));
	b[14] = ',';
	expect_damaged(b, sizeof(b), HR_ERROR_INVALID_DATA,
		       "Registry.pol data is damaged at byte offset 14: expected ';' (3B 00) after "
		       "the key path, found 2C 00");
	memcpy(b, tiny, sizeof(b));
	b[28] = 100;
	expect_damaged(
	    b, sizeof(b), HR_ERROR_INVALID_DATA,
	    "Registry.pol data is damaged at byte offset 28: the data size 100 runs past "
	    "the end of the file (6 bytes left)");
	memcpy(b, tiny, sizeof(b));
	b[28] = 0xFF, b[29] = 0xFF, b[30] = 0xFF, b[31] = 0xFF;
	expect_damaged(b, sizeof(b), HR_ERROR_INVALID_DATA,
		       "Registry.pol data is damaged at byte offset 28: the data size 4294967295 "
		       "runs past the end of the file (6 bytes left)");
	memcpy(b, tiny, sizeof(b));
	b[22] = 12;
	expect_damaged(
	    b, sizeof(b), HR_ERROR_INVALID_DATA,
	    "Registry.pol data is damaged at byte offset 22: unknown registry value type "
	    "12 (expected 0 to 11)");
	/* An unpaired high surrogate as the key, then a lone low one as the value name. */
	memcpy(b, tiny, sizeof(b));
	b[10] = 0x00, b[11] = 0xD8;
	expect_damaged(b, sizeof(b), HR_ERROR_INVALID_DATA,
		       "Registry.pol data is damaged at byte offset 10: the key path is not valid "
		       "UTF-16 (unpaired surrogate D800)");
	memcpy(b, tiny, sizeof(b));
	b[16] = 0x34, b[17] = 0xDC;
	expect_damaged(
	    b, sizeof(b), HR_ERROR_INVALID_DATA,
	    "Registry.pol data is damaged at byte offset 16: the value name is not valid "
	    "UTF-16 (unpaired surrogate DC34)");

	/* Odd-sized string data (REG_SZ of 3 bytes). */
	put_header(&x);
	put_entry(&x, "K", "V", REGPOL_REG_SZ, (const uint8_t *)"a\0b", 3);
	expect_damaged(x.b, x.n, HR_ERROR_INVALID_DATA,
		       "Registry.pol data is damaged at byte offset 28: string data of type 1 must "
		       "be UTF-16 (an even size), but its size is 3");
	/* An empty key path. */
	x.n = 0;
	put_header(&x);
	put_entry(&x, "", "V", REGPOL_REG_NONE, NULL, 0);
	expect_damaged(x.b, x.n, HR_ERROR_INVALID_DATA,
		       "Registry.pol data is damaged at byte offset 10: the key path is empty");
	/* Trailing garbage after a good entry. */
	memcpy(x.b, tiny, sizeof(tiny));
	x.n = sizeof(tiny);
	put8(&x, 0);
	expect_damaged(
	    x.b, x.n, HR_ERROR_INVALID_DATA,
	    "Registry.pol data is damaged at byte offset 40: expected '[' (5B 00) opening "
	    "an entry, found the end of the file");
}

static void test_bounds(void **state)
{
	struct pp_error err = {0};
	struct bytes x = {0};
	char part[300];
	uint8_t *big;

	(void)state;
	/* A key component of 256 UTF-16 units (the registry's limit is 255). */
	memset(part, 'a', 256);
	part[256] = '\0';
	put_header(&x);
	put_entry(&x, part, "", REGPOL_REG_NONE, NULL, 0);
	expect_damaged(
	    x.b, x.n, HR_ERROR_INVALID_DATA,
	    "Registry.pol data is damaged at byte offset 10: a component of the key path "
	    "is longer than 255 UTF-16 units");
	/* 255 is fine. */
	part[255] = '\0';
	x.n = 0;
	put_header(&x);
	put_entry(&x, part, "", REGPOL_REG_NONE, NULL, 0);
	{
		struct regpol *pol = regpol_parse(x.b, x.n, &err);

		assert_non_null(pol);
		assert_int_equal(strlen(pol->entries[0].key), 255);
		regpol_free(pol);
	}
	/* A file over 16 MiB is refused before it is looked at. */
	big = calloc(1, REGPOL_FILE_MAX + 1);
	assert_non_null(big);
	memcpy(big, tiny, sizeof(tiny));
	expect_damaged(
	    big, REGPOL_FILE_MAX + 1, HR_ERROR_FILE_TOO_LARGE,
	    "Registry.pol data is 16777217 bytes, over the 16777216 bytes a Registry.pol "
	    "may have");
	free(big);
}

static void test_read_file_errors(void **state)
{
	struct pp_error err = {0};
	char *dir = tu_tmpdir(), *path = tu_path(dir, "Registry.pol"), want[512];
	uint8_t b[sizeof(tiny)];

	(void)state;
	assert_null(regpol_read(path, &err));
	assert_int_equal(err.code, HR_ERROR_FILE_NOT_FOUND);
	memcpy(b, tiny, sizeof(b));
	b[38] = 0;
	tu_write_file(path, b, sizeof(b));
	pp_error_clear(&err);
	assert_null(regpol_read(path, &err));
	snprintf(
	    want, sizeof(want),
	    "%s is damaged at byte offset 38: expected ']' (5D 00) closing the entry, found 00 "
	    "00",
	    path);
	assert_string_equal(err.message, want);
	/* Over 16 MiB: refused from its size, before it is read. */
	assert_int_equal(truncate(path, REGPOL_FILE_MAX + 1), 0);
	pp_error_clear(&err);
	assert_null(regpol_read(path, &err));
	assert_int_equal(err.code, HR_ERROR_FILE_TOO_LARGE);
	snprintf(want, sizeof(want),
		 "%s is 16777217 bytes, over the 16777216 bytes a Registry.pol may have", path);
	assert_string_equal(err.message, want);
	/* A write that cannot happen leaves no file behind. */
	pp_error_clear(&err);
	{
		char *bad = tu_path(dir, "missing/Registry.pol");
		struct regpol *pol = regpol_new(&err);

		assert_int_equal(regpol_write(bad, pol, &err), -1);
		assert_int_not_equal(err.code, 0);
		assert_false(tu_exists(bad));
		regpol_free(pol);
		free(bad);
	}
	tu_rmrf(dir);
	free(path);
	free(dir);
}

static void test_add_refusals(void **state)
{
	struct pp_error err = {0};
	struct regpol *pol = regpol_new(&err);
	char part[300];

	(void)state;
	assert_int_equal(regpol_add(pol, "", "v", REGPOL_REG_NONE, NULL, 0, &err), -1);
	assert_string_equal(err.message, "cannot add a policy entry: the key path is empty");
	pp_error_clear(&err);
	assert_int_equal(regpol_add(pol, "K\xc0\x80", "v", REGPOL_REG_NONE, NULL, 0, &err), -1);
	assert_int_equal(err.code, HR_ERROR_INVALID_DATA);
	assert_string_equal(err.message,
			    "'K' is followed by invalid UTF-8 (byte 0xC0 at offset 1)");
	pp_error_clear(&err);
	assert_int_equal(regpol_add(pol, "K", "v", 12, NULL, 0, &err), -1);
	assert_string_equal(err.message, "cannot add 'K\\v': unknown registry type 12 (0 to 11)");
	pp_error_clear(&err);
	assert_int_equal(regpol_add(pol, "K", "v", REGPOL_REG_SZ, (const uint8_t *)"abc", 3, &err),
			 -1);
	assert_string_equal(err.message, "cannot add 'K\\v': string data of type 1 must be UTF-16 "
					 "(an even size), got 3 bytes");
	pp_error_clear(&err);
	memset(part, 'k', 256);
	part[256] = '\0';
	assert_int_equal(regpol_add(pol, part, "v", REGPOL_REG_NONE, NULL, 0, &err), -1);
	assert_string_equal(err.message,
			    "cannot add a policy entry: a component of the key path is "
			    "longer than 255 UTF-16 units");
	assert_int_equal(pol->count, 0);

	/* An entry changed behind the API's back is not written. */
	{
		uint8_t *out = NULL;
		size_t len = 0;

		pp_error_clear(&err);
		assert_int_equal(regpol_add(pol, "K", "v", REGPOL_REG_NONE, NULL, 0, &err), 0);
		pol->entries[0].type = 12;
		assert_int_equal(regpol_serialize(pol, &out, &len, &err), -1);
		assert_null(out);
		assert_string_equal(err.message, "cannot write entry 0 ('K\\v'): type 12 with 0 "
						 "bytes of data is not a valid registry value");
	}
	regpol_free(pol);
}

/* ---- data helpers ---- */

static void test_strings(void **state)
{
	static const uint8_t euro[] = {0xAC, 0x20, 0x3D, 0xD8, 0x00, 0xDE, 0x00, 0x00};
	static const char *const bad_utf8[] = {"\xff",	   "\xc0\x80",	       "\xed\xa0\x80",
					       "\xe2\x82", "\xf4\x90\x80\x80", "\x80"};
	struct pp_error err = {0};
	uint8_t *d = NULL, lone[] = {0x41, 0x00, 0x00, 0xDC, 0x00, 0x00};
	size_t n = 0, i, count = 0;
	char *s, **list;
	const char *two[] = {"a", "bc"};

	(void)state;
	assert_int_equal(regpol_sz_make("\xe2\x82\xac\xf0\x9f\x98\x80", &d, &n, &err), 0);
	assert_int_equal(n, sizeof(euro));
	assert_memory_equal(d, euro, sizeof(euro));
	s = regpol_sz_read(d, n, &err);
	assert_string_equal(s, "\xe2\x82\xac\xf0\x9f\x98\x80");
	free(s);
	free(d);
	assert_int_equal(regpol_sz_make("", &d, &n, &err), 0);
	assert_int_equal(n, 2);
	free(d);
	/* Without its final NUL, a string still reads. */
	s = regpol_sz_read((const uint8_t *)"h\0i\0", 4, &err);
	assert_string_equal(s, "hi");
	free(s);
	for (i = 0; i < sizeof(bad_utf8) / sizeof(bad_utf8[0]); i++) {
		pp_error_clear(&err);
		assert_int_equal(regpol_sz_make(bad_utf8[i], &d, &n, &err), -1);
		assert_int_equal(err.code, HR_ERROR_INVALID_DATA);
	}
	pp_error_clear(&err);
	assert_null(regpol_sz_read(lone, sizeof(lone), &err));
	assert_string_equal(err.message, "not valid UTF-16: unpaired surrogate 0xDC00 at unit 1");
	pp_error_clear(&err);
	assert_null(regpol_sz_read(lone, 5, &err));
	assert_string_equal(err.message, "string data must be UTF-16 (an even size), got 5 bytes");

	pp_error_clear(&err);
	assert_int_equal(regpol_multi_sz_make(two, 2, &d, &n, &err), 0);
	assert_int_equal(n, 12);
	assert_memory_equal(d, "a\0\0\0b\0c\0\0\0\0\0", 12);
	list = regpol_multi_sz_read(d, n, &count, &err);
	assert_non_null(list);
	assert_int_equal(count, 2);
	assert_string_equal(list[0], "a");
	assert_string_equal(list[1], "bc");
	assert_null(list[2]);
	regpol_strings_free(list);
	free(d);
	assert_int_equal(regpol_multi_sz_make(NULL, 0, &d, &n, &err), 0);
	assert_int_equal(n, 2);
	list = regpol_multi_sz_read(d, n, &count, &err);
	assert_int_equal(count, 0);
	assert_null(list[0]);
	regpol_strings_free(list);
	free(d);
	two[1] = "";
	assert_int_equal(regpol_multi_sz_make(two, 2, &d, &n, &err), -1);
	assert_string_equal(err.message,
			    "REG_MULTI_SZ string 1 is empty; an empty string would end the list");
}

static void test_numbers(void **state)
{
	struct pp_error err = {0};
	uint8_t b[8], be[4] = {0x12, 0x34, 0x56, 0x78};
	uint32_t v = 0;
	uint64_t q = 0;

	(void)state;
	regpol_dword_make(0x01020304u, b);
	assert_memory_equal(b, "\x04\x03\x02\x01", 4);
	assert_int_equal(regpol_dword_read(REGPOL_REG_DWORD, b, 4, &v, &err), 0);
	assert_int_equal(v, 0x01020304u);
	assert_int_equal(regpol_dword_read(REGPOL_REG_DWORD_BIG_ENDIAN, be, 4, &v, &err), 0);
	assert_int_equal(v, 0x12345678u);
	assert_int_equal(regpol_dword_read(REGPOL_REG_DWORD, b, 3, &v, &err), -1);
	assert_string_equal(err.message, "a REG_DWORD holds exactly 4 bytes, found 3");
	pp_error_clear(&err);
	assert_int_equal(regpol_dword_read(REGPOL_REG_SZ, b, 4, &v, &err), -1);
	assert_string_equal(err.message, "expected a REG_DWORD (type 4 or 5), found type 1");
	regpol_qword_make(0x0102030405060708ull, b);
	assert_memory_equal(b, "\x08\x07\x06\x05\x04\x03\x02\x01", 8);
	assert_int_equal(regpol_qword_read(b, 8, &q, &err), 0);
	assert_true(q == 0x0102030405060708ull);
	pp_error_clear(&err);
	assert_int_equal(regpol_qword_read(b, 4, &q, &err), -1);
	assert_string_equal(err.message, "a REG_QWORD holds exactly 8 bytes, found 4");
}

/* ---- certificate blob ---- */

struct fixture {
	char *dir;
	X509 *cert, *other;
	uint8_t sha1[20];
	char thumb[41], other_thumb[41];
};

static void hex(const uint8_t *b, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02X", b[i]);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	uint8_t md[20];
	unsigned int n = 0;

	if (f == NULL)
		return -1;
	f->dir = tu_tmpdir();
	tc_self_signed(f->dir, "wsus", "WSUS Publishers Self-signed", 30, TC_ADDEXT_CA);
	tc_self_signed(f->dir, "other", "Other", 30, TC_ADDEXT_CA);
	{
		char *p = tu_path(f->dir, "wsus.pem"), *q = tu_path(f->dir, "other.pem");

		f->cert = tc_load_cert(p);
		f->other = tc_load_cert(q);
		free(p);
		free(q);
	}
	if (X509_digest(f->cert, EVP_sha1(), f->sha1, &n) != 1 || n != 20)
		return -1;
	hex(f->sha1, 20, f->thumb);
	if (X509_digest(f->other, EVP_sha1(), md, &n) != 1)
		return -1;
	hex(md, 20, f->other_thumb);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	X509_free(f->cert);
	X509_free(f->other);
	tu_rmrf(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

/* The DER of cert, malloc'd. */
static uint8_t *der_of(X509 *cert, size_t *len)
{
	unsigned char *der = NULL;
	int n = i2d_X509(cert, &der);
	uint8_t *copy;

	assert_true(n > 0);
	copy = malloc((size_t)n);
	assert_non_null(copy);
	memcpy(copy, der, (size_t)n);
	OPENSSL_free(der);
	*len = (size_t)n;
	return copy;
}

static void put_prop(struct bytes *x, uint32_t id, uint32_t reserved, const uint8_t *d, size_t n)
{
	put32(x, id);
	put32(x, reserved);
	put32(x, (uint32_t)n);
	for (size_t i = 0; i < n; i++)
		put8(x, d[i]);
}

static void expect_blob_error(const struct bytes *x, const char *thumb, uint32_t code,
			      const char *message)
{
	struct pp_error err = {0};
	X509 *out = NULL;

	assert_int_equal(regpol_cert_blob_parse(x->b, x->n, thumb, &out, &err), -1);
	assert_null(out);
	assert_int_equal(err.code, code);
	if (message != NULL)
		assert_string_equal(err.message, message);
}

static void test_blob_make_parse(void **state)
{
	struct fixture *f = *state;
	struct pp_error err = {0};
	struct bytes want = {0};
	uint8_t *blob = NULL, *der;
	size_t n = 0, derlen;
	X509 *out = NULL;
	char lower[41];

	der = der_of(f->cert, &derlen);
	assert_true(derlen < 3000);
	put_prop(&want, 3, 1, f->sha1, 20);
	put_prop(&want, 32, 1, der, derlen);
	assert_int_equal(regpol_cert_blob_make(f->cert, &blob, &n, &err), 0);
	assert_int_equal(n, want.n);
	assert_memory_equal(blob, want.b, want.n);

	assert_int_equal(regpol_cert_blob_parse(blob, n, f->thumb, &out, &err), 0);
	assert_non_null(out);
	assert_int_equal(X509_cmp(out, f->cert), 0);
	X509_free(out);
	/* Any case of the thumbprint; no thumbprint at all. */
	for (size_t i = 0; i < 41; i++)
		lower[i] = (char)(f->thumb[i] >= 'A' && f->thumb[i] <= 'F' ? f->thumb[i] + 32
									   : f->thumb[i]);
	assert_int_equal(regpol_cert_blob_parse(blob, n, lower, &out, &err), 0);
	X509_free(out);
	assert_int_equal(regpol_cert_blob_parse(blob, n, NULL, &out, &err), 0);
	X509_free(out);
	out = NULL;

	/* Filed under the wrong thumbprint. */
	{
		char want_msg[256];

		snprintf(want_msg, sizeof(want_msg),
			 "certificate blob under key name %s holds the certificate with SHA-1 %s",
			 f->other_thumb, f->thumb);
		expect_blob_error(&want, f->other_thumb, HR_CRYPT_E_NO_MATCH, want_msg);
	}
	expect_blob_error(&want, "1234", HR_E_INVALIDARG,
			  "'1234' is not a certificate thumbprint (40 hex digits)");
	free(blob);
	free(der);
}

static void test_blob_refusals(void **state)
{
	struct fixture *f = *state;
	struct bytes x = {0};
	uint8_t *der, bad_hash[20];
	size_t derlen;
	char msg[256], bad_hex[41];

	der = der_of(f->cert, &derlen);

	/* Only the hash: no certificate. */
	put_prop(&x, 3, 1, f->sha1, 20);
	expect_blob_error(&x, f->thumb, HR_CRYPT_E_NOT_FOUND,
			  "certificate blob holds no certificate (property 32, CERT_CERT_PROP_ID)");
	x.n = 0;
	expect_blob_error(&x, NULL, HR_CRYPT_E_NOT_FOUND, NULL);

	/* A hash property that is not the certificate's SHA-1 (though the key name matches). */
	memcpy(bad_hash, f->sha1, 20);
	bad_hash[0] ^= 0xFF;
	hex(bad_hash, 20, bad_hex);
	x.n = 0;
	put_prop(&x, 3, 1, bad_hash, 20);
	put_prop(&x, 32, 1, der, derlen);
	snprintf(msg, sizeof(msg),
		 "certificate blob: the hash property (3) %s does not match the certificate's "
		 "SHA-1 %s",
		 bad_hex, f->thumb);
	expect_blob_error(&x, f->thumb, HR_CRYPT_E_NO_MATCH, msg);
	expect_blob_error(&x, bad_hex, HR_CRYPT_E_NO_MATCH, msg);

	/* Reserved field not 1. */
	x.n = 0;
	put_prop(&x, 32, 2, der, derlen);
	expect_blob_error(&x, NULL, HR_ERROR_INVALID_DATA,
			  "certificate blob is damaged at byte offset 4: property 32 has reserved "
			  "field 2, expected 1");
	/* Length past the end. */
	x.n = 0;
	put_prop(&x, 3, 1, f->sha1, 20);
	put_prop(&x, 32, 1, der, derlen);
	x.n -= 1;
	snprintf(msg, sizeof(msg),
		 "certificate blob is damaged at byte offset 40: property 32 length %zu runs past "
		 "the end of the blob (%zu bytes left)",
		 derlen, derlen - 1);
	expect_blob_error(&x, NULL, HR_ERROR_INVALID_DATA, msg);
	/* A short header at the end. */
	x.n = 0;
	put_prop(&x, 32, 1, der, derlen);
	put32(&x, 4);
	snprintf(msg, sizeof(msg),
		 "certificate blob is damaged at byte offset %zu: a property header needs 12 "
		 "bytes, 4 are left",
		 derlen + 12);
	expect_blob_error(&x, NULL, HR_ERROR_INVALID_DATA, msg);
	/* Twice the certificate; a hash of the wrong size; not DER. */
	x.n = 0;
	put_prop(&x, 32, 1, der, derlen);
	put_prop(&x, 32, 1, der, derlen);
	snprintf(msg, sizeof(msg),
		 "certificate blob is damaged at byte offset %zu: property 32 appears twice",
		 derlen + 12);
	expect_blob_error(&x, NULL, HR_ERROR_INVALID_DATA, msg);
	x.n = 0;
	put_prop(&x, 3, 1, f->sha1, 16);
	put_prop(&x, 32, 1, der, derlen);
	expect_blob_error(
	    &x, NULL, HR_ERROR_INVALID_DATA,
	    "certificate blob is damaged at byte offset 8: the SHA-1 hash property (3) "
	    "is 16 bytes, expected 20");
	x.n = 0;
	put_prop(&x, 32, 1, der, derlen - 1);
	expect_blob_error(&x, NULL, HR_CRYPT_E_ASN1_BADTAG, NULL);
	free(der);
}

/* What Windows writes (MD5, key id, SHA-1, signature hash, ..., certificate) and other orders. */
static void test_blob_extra_properties(void **state)
{
	struct fixture *f = *state;
	struct pp_error err = {0};
	struct bytes x = {0};
	uint8_t *der, md5[16], ski[20], sig[32], bits[4] = {0, 8, 0, 0};
	size_t derlen;
	X509 *out = NULL;

	der = der_of(f->cert, &derlen);
	tu_fill(md5, sizeof(md5), 1);
	tu_fill(ski, sizeof(ski), 2);
	tu_fill(sig, sizeof(sig), 3);
	put_prop(&x, 4, 1, md5, 16);
	put_prop(&x, 20, 1, ski, 20);
	put_prop(&x, 3, 1, f->sha1, 20);
	put_prop(&x, 15, 1, sig, 32);
	put_prop(&x, 92, 1, bits, 4);
	put_prop(&x, 11, 1, (const uint8_t *)"W\0\0\0", 4);
	put_prop(&x, 32, 1, der, derlen);
	assert_int_equal(regpol_cert_blob_parse(x.b, x.n, f->thumb, &out, &err), 0);
	assert_int_equal(X509_cmp(out, f->cert), 0);
	X509_free(out);

	/* Certificate first, hash after, an empty unknown property at the end. */
	x.n = 0;
	put_prop(&x, 32, 1, der, derlen);
	put_prop(&x, 3, 1, f->sha1, 20);
	put_prop(&x, 200, 1, NULL, 0);
	assert_int_equal(regpol_cert_blob_parse(x.b, x.n, f->thumb, &out, &err), 0);
	X509_free(out);

	/* The DER-only form: accepted, and still checked against the key name. */
	x.n = 0;
	put_prop(&x, 32, 1, der, derlen);
	assert_int_equal(regpol_cert_blob_parse(x.b, x.n, f->thumb, &out, &err), 0);
	X509_free(out);
	expect_blob_error(&x, f->other_thumb, HR_CRYPT_E_NO_MATCH, NULL);
	free(der);
}

static void test_add_cert(void **state)
{
	struct fixture *f = *state;
	struct pp_error err = {0};
	struct regpol *pol = regpol_new(&err), *back;
	const struct regpol_entry *e;
	uint8_t *buf = NULL;
	size_t len = 0;
	char key[200];
	X509 *out = NULL;

	assert_int_equal(regpol_add_cert(pol, "Root", f->cert, &err), 0);
	assert_int_equal(regpol_add_cert(pol, "TrustedPublisher", f->cert, &err), 0);
	assert_int_equal(regpol_serialize(pol, &buf, &len, &err), 0);
	back = regpol_parse(buf, len, &err);
	assert_non_null(back);
	snprintf(key, sizeof(key),
		 "Software\\Policies\\Microsoft\\SystemCertificates\\TrustedPublisher\\"
		 "Certificates\\%s",
		 f->thumb);
	e = regpol_find(back, key, "Blob");
	assert_non_null(e);
	assert_int_equal(e->type, REGPOL_REG_BINARY);
	assert_int_equal(
	    regpol_cert_blob_parse(e->data, e->size, strrchr(e->key, '\\') + 1, &out, &err), 0);
	assert_int_equal(X509_cmp(out, f->cert), 0);
	X509_free(out);
	assert_int_equal(regpol_add_cert(pol, "Bad\\Store", f->cert, &err), -1);
	regpol_free(back);
	regpol_free(pol);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tiny_known_bytes),
	    cmocka_unit_test(test_known_file),
	    cmocka_unit_test(test_round_trip_every_type),
	    cmocka_unit_test(test_damaged),
	    cmocka_unit_test(test_bounds),
	    cmocka_unit_test(test_read_file_errors),
	    cmocka_unit_test(test_add_refusals),
	    cmocka_unit_test(test_strings),
	    cmocka_unit_test(test_numbers),
	    cmocka_unit_test(test_blob_make_parse),
	    cmocka_unit_test(test_blob_refusals),
	    cmocka_unit_test(test_blob_extra_properties),
	    cmocka_unit_test(test_add_cert),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
