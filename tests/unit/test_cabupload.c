/* test_cabupload.c - the signed cabinet an upload becomes while its bytes arrive
 * (src/server/cabupload, on the single-file layout of src/lib/cab_writer): the layout's exact
 * sizes, header fields and signature locator, the file length / bytes received round trip and
 * what the layout refuses; the same cabinet (and the same five digests) whatever pieces the
 * bytes come in, and the same as the streaming writer makes but for the locator; signing the
 * Authenticode digest and sealing it into the file, checked by our reader, by osslsigncode and
 * by cabextract when they are installed, and equal to authenticode_sign_cab's cabinet; state
 * rebuilt from the bytes on disk after a partial upload; reading the file back across block
 * boundaries; the release callback (once per append, on failure too, data freed by it never
 * read again); and a signature of the wrong length refused with nothing written. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "authenticode.h"
#include "byteorder.h"
#include "cab.h"
#include "cabupload.h"
#include "hresult.h"
#include "testcerts.h"
#include "testutil.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#define NAME  "setup.exe"
#define MTIME ((time_t)1700000000) /* 2023-11-14, the date every layout here carries */
#define SIG   1024u		   /* a signature length for the tests that do not sign */

struct fx {
	char *dir;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	f->dir = tu_tmpdir();
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	tu_rmrf(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

static void layout_ok(uint64_t size, const char *name, uint32_t sig, struct cab_single *l)
{
	struct pp_error err;

	pp_error_clear(&err);
	if (cab_single_layout(size, name, MTIME, sig, l, &err) != 0)
		fail_msg("layout of %llu bytes as %s: 0x%08X %s", (unsigned long long)size, name,
			 err.code, err.message);
}

static void digest(const EVP_MD *md, const void *data, size_t len, uint8_t *out)
{
	unsigned n = 0;

	assert_int_equal(EVP_Digest(data, len, out, &n, md, NULL), 1);
	assert_int_equal(n, EVP_MD_get_size(md));
}

static off_t file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? st.st_size : -1;
}

/* Counts the calls of a release callback; frees to_free (may be NULL) on the first, so that a
 * digest still reading the bytes after release is a use after free under the sanitizers. */
struct releases {
	int calls;
	void *to_free;
};

static void count_release(void *ctx)
{
	struct releases *r = ctx;

	r->calls++;
	free(r->to_free);
	r->to_free = NULL;
}

/* A cabinet built by the test in dir/file. */
struct built {
	char *path;
	int fd;
	struct cabupload *c;
	uint8_t sha1[20], sha256[32];
	uint8_t auth[CABUPLOAD_DIGEST_MAX];
	size_t auth_len;
};

/* Creates dir/file with the layout's header and the state of a new upload for it. */
static void start(const struct fx *f, const char *file, const struct cab_single *l, struct built *b)
{
	struct pp_error err;

	memset(b, 0, sizeof(*b));
	pp_error_clear(&err);
	b->path = tu_path(f->dir, file);
	b->fd = open(b->path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(b->fd >= 0);
	assert_int_equal(cabupload_write_header(l, b->fd, &err), 0);
	assert_int_equal(file_size(b->path), l->data_start);
	b->c = cabupload_new(l, &err);
	assert_non_null(b->c);
	assert_int_equal(cabupload_received(b->c), 0);
}

/* Appends src[from, ends[i]) for each i without waiting in between (each append waits for the
 * digests of the one before: its release has been called when the next returns), then waits. */
static void append_pieces(struct built *b, const uint8_t *src, uint64_t from, const size_t *ends,
			  size_t n)
{
	struct releases *rel = calloc(n, sizeof(*rel));
	struct pp_error err;
	size_t i;

	assert_non_null(rel);
	pp_error_clear(&err);
	for (i = 0; i < n; i++) {
		size_t start_at = i == 0 ? (size_t)from : ends[i - 1];

		if (cabupload_append(b->c, b->fd, src + start_at, ends[i] - start_at, count_release,
				     &rel[i], &err) != 0)
			fail_msg("append [%zu, %zu): 0x%08X %s", start_at, ends[i], err.code,
				 err.message);
		assert_int_equal(cabupload_received(b->c), ends[i]);
		if (i > 0)
			assert_int_equal(rel[i - 1].calls, 1);
	}
	assert_int_equal(cabupload_wait(b->c, &err), 0);
	for (i = 0; i < n; i++)
		assert_int_equal(rel[i].calls, 1);
	free(rel);
}

/* Completes b: the file's digests and the Authenticode digest. */
static void finish(struct built *b)
{
	struct pp_error err;

	pp_error_clear(&err);
	assert_int_equal(cabupload_complete(b->c, b->sha1, b->sha256, &err), 0);
	assert_int_equal(cabupload_authenticode(b->c, b->auth, &b->auth_len), 0);
	assert_int_equal(b->auth_len, 32); /* SHA-256 */
}

static void built_free(struct built *b)
{
	cabupload_free(b->c);
	if (b->fd >= 0)
		assert_int_equal(close(b->fd), 0);
	free(b->path);
	memset(b, 0, sizeof(*b));
	b->fd = -1;
}

/* Builds dir/file from src in the pieces that end at ends[0..n) (the last is l->size). */
static void build(const struct fx *f, const char *file, const struct cab_single *l,
		  const uint8_t *src, const size_t *ends, size_t n, struct built *b)
{
	start(f, file, l, b);
	append_pieces(b, src, 0, ends, n);
	finish(b);
	assert_int_equal(file_size(b->path), l->cb_cabinet);
}

/* Piece ends every step bytes up to size; *n gets their count. malloc'd. */
static size_t *ends_every(size_t size, size_t step, size_t *n)
{
	size_t *ends = calloc(size / step + 1, sizeof(*ends)), k = 0;

	assert_non_null(ends);
	for (size_t e = step; e < size; e += step)
		ends[k++] = e;
	ends[k++] = size;
	*n = k;
	return ends;
}

/* Seals b with der_len bytes of filler as the signature and checks what seal reports against
 * the file it wrote: its size and both digests. */
static void seal_filler(struct built *b, const struct cab_single *l, size_t der_len)
{
	uint8_t *der = malloc(der_len), *data, sha1[20], sha256[32], d1[20], d256[32];
	struct pp_error err;
	uint64_t size = 0;
	size_t len = 0;

	assert_non_null(der);
	tu_fill(der, der_len, 99);
	pp_error_clear(&err);
	assert_int_equal(cabupload_seal(b->c, b->fd, der, der_len, sha1, sha256, &size, &err), 0);
	assert_int_equal(size, (uint64_t)l->cb_cabinet + l->signature_length);
	data = tu_read_file(b->path, &len);
	assert_non_null(data);
	assert_int_equal(len, size);
	/* The blob at cb_cabinet, zero-padded to the reserved length. */
	assert_memory_equal(data + l->cb_cabinet, der, der_len);
	for (size_t i = l->cb_cabinet + der_len; i < len; i++)
		assert_int_equal(data[i], 0);
	digest(EVP_sha1(), data, len, d1);
	digest(EVP_sha256(), data, len, d256);
	assert_memory_equal(sha1, d1, 20);
	assert_memory_equal(sha256, d256, 32);
	free(data);
	free(der);
}

/* ---- 1. the layout ---- */

static void test_layout(void **state)
{
	static const struct {
		uint64_t size;
		uint32_t blocks, cb_cabinet;
	} cases[] = {
	    {1, 1, 94 + 8 + 1},
	    {32767, 1, 94 + 8 + 32767},
	    {32768, 1, 94 + 8 + 32768},
	    {32769, 2, 94 + 2 * 8 + 32769},
	    {100000, 4, 94 + 4 * 8 + 100000},
	};
	struct cab_single l;
	struct cab_header h;
	struct pp_error err;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		layout_ok(cases[i].size, NAME, 2048, &l);
		assert_int_equal(l.size, cases[i].size);
		/* 36 + 4 + 20 reserve + 8 CFFOLDER + 16 CFFILE + "setup.exe\0" */
		assert_int_equal(l.data_start, 94);
		assert_int_equal(l.blocks, cases[i].blocks);
		assert_int_equal(l.cb_cabinet, cases[i].cb_cabinet);
		assert_int_equal(l.signature_length, 2048);
		/* The header bytes, field by field. */
		assert_memory_equal(l.header, "MSCF", 4);
		assert_int_equal(le32_get(l.header + 0x08), cases[i].cb_cabinet);
		assert_int_equal(le32_get(l.header + 0x10), 68); /* coffFiles */
		assert_int_equal(l.header[0x18], 3);
		assert_int_equal(l.header[0x19], 1);
		assert_int_equal(le16_get(l.header + 0x1A), 1); /* cFolders */
		assert_int_equal(le16_get(l.header + 0x1C), 1); /* cFiles */
		assert_int_equal(le16_get(l.header + 0x1E), CAB_FLAG_RESERVE_PRESENT);
		assert_int_equal(le16_get(l.header + 0x24), 20); /* cbCFHeader */
		assert_int_equal(l.header[0x26], 0);
		assert_int_equal(l.header[0x27], 0);
		assert_int_equal(le16_get(l.header + 0x28), 0);
		assert_int_equal(le16_get(l.header + 0x2A), 16);
		/* The locator names the signature to come. */
		assert_int_equal(le32_get(l.header + 0x2C), cases[i].cb_cabinet);
		assert_int_equal(le32_get(l.header + 0x30), 2048);
		/* CFFOLDER at 0x3C: coffCabStart, cCFData, typeCompress. */
		assert_int_equal(le32_get(l.header + 0x3C), 94);
		assert_int_equal(le16_get(l.header + 0x40), cases[i].blocks);
		assert_int_equal(le16_get(l.header + 0x42), CAB_COMPRESS_NONE);
		/* CFFILE at 0x44: size, offset, iFolder, then the name. */
		assert_int_equal(le32_get(l.header + 0x44), cases[i].size);
		assert_int_equal(le32_get(l.header + 0x48), 0);
		assert_int_equal(le16_get(l.header + 0x4C), 0);
		assert_int_equal(le16_get(l.header + 0x52), CAB_ATTRIB_ARCH);
		assert_memory_equal(l.header + 0x54, NAME, sizeof(NAME));
		/* Our parser agrees (the file is cb_cabinet + the signature long once sealed). */
		pp_error_clear(&err);
		assert_int_equal(cab_header_parse(l.header, l.data_start,
						  (uint64_t)l.cb_cabinet + l.signature_length, &h,
						  &err),
				 0);
		assert_true(h.signature_reserve);
		assert_int_equal(h.signature_offset, cases[i].cb_cabinet);
		assert_int_equal(h.signature_length, 2048);
		assert_int_equal(h.folders_offset, 0x3C);
		/* Blocks start every 32768 + 8 bytes. */
		assert_int_equal(cab_single_block_offset(&l, 0), 94);
		assert_int_equal(cab_single_block_offset(&l, 1), 94 + 32776);
		assert_int_equal(cab_single_block_offset(&l, 3), 94 + 3 * 32776);
	}

	/* File length and bytes received, both ways, for 100000 bytes. */
	{
		static const struct {
			uint64_t received, length;
		} rt[] = {
		    {0, 94},
		    {1, 94 + 8 + 1},
		    {32767, 94 + 8 + 32767},
		    {32768, 94 + 32776}, /* block 0 whole, block 1's header not there yet */
		    {32769, 94 + 32776 + 8 + 1},
		    {65536, 94 + 2 * 32776},
		    {99999, 94 + 3 * 32776 + 8 + 1695},
		    {100000, 100126},
		};

		layout_ok(100000, NAME, 2048, &l);
		for (size_t i = 0; i < sizeof(rt) / sizeof(rt[0]); i++) {
			assert_int_equal(cab_single_file_length(&l, rt[i].received), rt[i].length);
			assert_int_equal(cab_single_received(&l, rt[i].length), rt[i].received);
		}
		/* A length inside a CFDATA header or short of the data counts no byte of it. */
		assert_int_equal(cab_single_received(&l, 0), 0);
		assert_int_equal(cab_single_received(&l, 50), 0);
		assert_int_equal(cab_single_received(&l, 94 + 8), 0);
		assert_int_equal(cab_single_received(&l, 94 + 32776 + 5), 32768);
		/* A longer file (the signature in it) holds everything. */
		assert_int_equal(cab_single_received(&l, 100126 + 2048), 100000);
	}

	/* Names: empty, 256 bytes, escaping. The longest name, 255 bytes, is fine. */
	{
		char longname[CAB_NAME_MAX + 2];

		pp_error_clear(&err);
		assert_int_equal(cab_single_layout(10, "", MTIME, SIG, &l, &err), -1);
		assert_int_equal(err.code, HR_ERROR_INVALID_NAME);
		memset(longname, 'a', sizeof(longname) - 1);
		longname[CAB_NAME_MAX + 1] = '\0';
		pp_error_clear(&err);
		assert_int_equal(cab_single_layout(10, longname, MTIME, SIG, &l, &err), -1);
		assert_int_equal(err.code, HR_ERROR_INVALID_NAME);
		pp_error_clear(&err);
		assert_int_equal(cab_single_layout(10, "../x", MTIME, SIG, &l, &err), -1);
		assert_int_equal(err.code, HR_ERROR_INVALID_NAME);
		pp_error_clear(&err);
		assert_int_equal(cab_single_layout(10, NULL, MTIME, SIG, &l, &err), -1);
		assert_int_equal(err.code, HR_ERROR_INVALID_NAME);
		longname[CAB_NAME_MAX] = '\0';
		layout_ok(10, longname, SIG, &l);
		assert_int_equal(l.data_start, 36 + 4 + 20 + 8 + 16 + CAB_NAME_MAX + 1);
		assert_int_equal(l.cb_cabinet, l.data_start + 8 + 10);
	}

	/* Sizes: one byte over the largest file is too large. */
	pp_error_clear(&err);
	assert_int_equal(
	    cab_single_layout((uint64_t)CAB_MAX_FILE_SIZE + 1, NAME, MTIME, SIG, &l, &err), -1);
	assert_int_equal(err.code, HR_ERROR_FILE_TOO_LARGE);
	pp_error_clear(&err);
	assert_int_equal(cab_single_layout(UINT64_MAX, NAME, MTIME, SIG, &l, &err), -1);
	assert_int_equal(err.code, HR_ERROR_FILE_TOO_LARGE);
}

/* ---- 2. the same bytes whatever the pieces ---- */

enum { SIZE = 200000 }; /* 6 whole blocks and 3392 bytes */

static void test_same_bytes_any_pieces(void **state)
{
	struct fx *f = *state;
	static const size_t on_blocks[] = {32768, 98304, 131072, 196608, SIZE};
	uint8_t *src = malloc(SIZE), *a, *b, *c, *w, d1[20], d256[32];
	size_t la = 0, lb = 0, lc = 0, lw = 0, n = 0, *thousand;
	struct built one, small, blocks;
	struct cab_single l;

	assert_non_null(src);
	tu_fill(src, SIZE, 11);
	layout_ok(SIZE, NAME, SIG, &l);
	assert_int_equal(l.blocks, 7);

	build(f, "one.cab", &l, src, (const size_t[]){SIZE}, 1, &one);
	thousand = ends_every(SIZE, 1000, &n);
	assert_int_equal(n, 200);
	build(f, "small.cab", &l, src, thousand, n, &small);
	build(f, "blocks.cab", &l, src, on_blocks, sizeof(on_blocks) / sizeof(on_blocks[0]),
	      &blocks);

	a = tu_read_file(one.path, &la);
	b = tu_read_file(small.path, &lb);
	c = tu_read_file(blocks.path, &lc);
	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(c);
	assert_int_equal(la, l.cb_cabinet);
	assert_int_equal(lb, la);
	assert_int_equal(lc, la);
	assert_memory_equal(a, b, la);
	assert_memory_equal(a, c, la);
	/* The header is the layout's, each block its CFDATA header and the file's bytes. */
	assert_memory_equal(a, l.header, l.data_start);
	for (uint32_t k = 0; k < l.blocks; k++) {
		size_t from = (size_t)k * CAB_BLOCK_MAX,
		       len = SIZE - from < CAB_BLOCK_MAX ? SIZE - from : CAB_BLOCK_MAX;
		uint64_t off = cab_single_block_offset(&l, k);
		uint8_t hdr[8];

		cab_cfdata_header(hdr, src + from, len);
		assert_memory_equal(a + off, hdr, 8);
		assert_int_equal(le16_get(a + off + 4), len);
		assert_int_equal(le16_get(a + off + 6), len);
		assert_memory_equal(a + off + 8, src + from, len);
	}

	/* The file's digests, and one Authenticode digest. */
	digest(EVP_sha1(), src, SIZE, d1);
	digest(EVP_sha256(), src, SIZE, d256);
	assert_memory_equal(one.sha1, d1, 20);
	assert_memory_equal(one.sha256, d256, 32);
	assert_memory_equal(small.sha1, d1, 20);
	assert_memory_equal(small.sha256, d256, 32);
	assert_memory_equal(blocks.sha1, d1, 20);
	assert_memory_equal(blocks.sha256, d256, 32);
	assert_int_equal(small.auth_len, one.auth_len);
	assert_int_equal(blocks.auth_len, one.auth_len);
	assert_memory_equal(small.auth, one.auth, one.auth_len);
	assert_memory_equal(blocks.auth, one.auth, one.auth_len);

	/* The streaming writer makes the same cabinet of the same file (same name and date), but
	 * for the locator it leaves zero. */
	{
		char *in = tu_path(f->dir, NAME), *out = tu_path(f->dir, "writer.cab");
		struct cab_writer_options o = {.compression = CAB_COMPRESS_NONE,
					       .signature_reserve = true};
		struct timeval tv[2] = {{MTIME, 0}, {MTIME, 0}};
		struct cab_writer *cw;
		struct pp_error err;
		uint32_t cb = 0;
		int fd;

		tu_write_file(in, src, SIZE);
		assert_int_equal(utimes(in, tv), 0);
		fd = open(out, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		assert_true(fd >= 0);
		pp_error_clear(&err);
		cw = cab_writer_new(fd, &o, &err);
		assert_non_null(cw);
		assert_int_equal(cab_writer_add_file(cw, in, NAME, &err), 0);
		assert_int_equal(cab_writer_finish(cw, &cb, &err), 0);
		cab_writer_free(cw);
		assert_int_equal(close(fd), 0);
		assert_int_equal(cb, l.cb_cabinet);
		w = tu_read_file(out, &lw);
		assert_non_null(w);
		assert_int_equal(lw, la);
		assert_int_equal(le32_get(w + 0x2C), 0);
		assert_int_equal(le32_get(w + 0x30), 0);
		memset(a + 0x2C, 0, 8);
		assert_memory_equal(a, w, la);
		free(w);
		free(in);
		free(out);
	}

	/* Sealed, each gives the same signed cabinet, its digests right. */
	seal_filler(&one, &l, SIG - 5);
	seal_filler(&small, &l, SIG - 5);
	seal_filler(&blocks, &l, SIG - 5);
	free(a);
	free(b);
	free(c);
	a = tu_read_file(one.path, &la);
	b = tu_read_file(small.path, &lb);
	c = tu_read_file(blocks.path, &lc);
	assert_int_equal(la, (size_t)l.cb_cabinet + SIG);
	assert_int_equal(lb, la);
	assert_int_equal(lc, la);
	assert_memory_equal(a, b, la);
	assert_memory_equal(a, c, la);

	built_free(&one);
	built_free(&small);
	built_free(&blocks);
	free(thousand);
	free(a);
	free(b);
	free(c);
	free(src);
}

/* ---- 3. interop: signed, read back here and elsewhere ---- */

static bool have(const char *tool)
{
	return tu_run("command -v '%s' >/dev/null 2>&1", tool) == 0;
}

/* The whole output of a command (with stderr), NUL-terminated, malloc'd; *rc its status. */
static char *run_output(const struct fx *f, int *rc, const char *cmd)
{
	char *log = tu_path(f->dir, "cmd.log");
	size_t len = 0;
	char *text;

	*rc = tu_run("%s > '%s' 2>&1", cmd, log);
	text = (char *)tu_read_file(log, &len);
	assert_non_null(text);
	text = realloc(text, len + 1);
	assert_non_null(text);
	text[len] = '\0';
	(void)unlink(log);
	free(log);
	return text;
}

static void test_sign_interop(void **state)
{
	struct fx *f = *state;
	static const size_t ends[] = {1000, 40000, 100000, 131072, SIZE};
	char *root_pem = tu_path(f->dir, "root.pem"), *cmd, *text, hex[65];
	uint8_t *src = malloc(SIZE), *der = NULL, sha1[20], sha256[32], *data;
	struct authenticode_signer signer;
	struct authenticode_info info;
	struct cab_single l;
	struct built b;
	struct pp_error err;
	STACK_OF(X509) * chain;
	X509 *root, *leaf;
	EVP_PKEY *key;
	size_t padded = 0, der_len = 0, len = 0;
	uint64_t size = 0;
	int rc;

	assert_non_null(src);
	assert_non_null(root_pem);
	tu_fill(src, SIZE, 23);
	tc_self_signed(f->dir, "root", "PP Cabupload Root", 3650, TC_ADDEXT_CA);
	tc_issue(f->dir, "leaf", "PP Cabupload Signer", "root", TC_EXT_CODE_SIGNING);
	{
		char *p = tu_path(f->dir, "leaf.pem"), *k = tu_path(f->dir, "leaf.key");

		root = tc_load_cert(root_pem);
		leaf = tc_load_cert(p);
		key = tc_load_key(k);
		free(p);
		free(k);
	}
	chain = sk_X509_new_null();
	assert_non_null(chain);
	assert_true(sk_X509_push(chain, root) > 0); /* the chain holds it now */
	authenticode_signer_init_key(&signer, leaf, chain, key);
	signer.signing_time = time(NULL); /* fixed, so that a second signature is the same */

	/* The length is known before any byte, and the layout names it. */
	pp_error_clear(&err);
	assert_int_equal(authenticode_signature_length(&signer, &padded, &err), 0);
	assert_int_equal(padded % 8, 0);
	assert_true(padded > 256); /* at least the RSA-2048 signature */
	layout_ok(SIZE, NAME, (uint32_t)padded, &l);
	assert_int_equal(le32_get(l.header + 0x30), padded);
	build(f, "signed.cab", &l, src, ends, sizeof(ends) / sizeof(ends[0]), &b);

	assert_int_equal(
	    authenticode_create_signature(&signer, b.auth, b.auth_len, &der, &der_len, &err), 0);
	assert_int_equal((der_len + 7) & ~(size_t)7, padded);
	assert_int_equal(cabupload_seal(b.c, b.fd, der, der_len, sha1, sha256, &size, &err), 0);
	assert_int_equal(size, (uint64_t)l.cb_cabinet + padded);

	/* (a) our reader: digest and signature check out, the whole-file digests are seal's. */
	assert_int_equal(file_size(b.path), (off_t)size);
	assert_int_equal(authenticode_read_cab(b.path, &info, &err), 0);
	assert_true(info.digest_matches);
	assert_true(info.signature_valid);
	assert_int_equal(info.digest_len, 32);
	assert_memory_equal(info.file_digest, b.auth, 32);
	assert_memory_equal(info.signed_digest, b.auth, 32);
	assert_int_equal(X509_cmp(info.signer, leaf), 0);
	assert_true(info.has_sha1);
	assert_true(info.has_sha256);
	assert_memory_equal(info.sha1, sha1, 20);
	assert_memory_equal(info.sha256, sha256, 32);
	assert_int_equal(info.file_size, size);
	authenticode_info_release(&info);
	/* ... and its cabinet reader gives the file back. */
	{
		struct cab_reader *r = cab_reader_open(b.path, &err);

		assert_non_null(r);
		assert_int_equal(cab_reader_file_count(r), 1);
		assert_string_equal(cab_reader_file(r, 0)->name, NAME);
		assert_int_equal(cab_reader_file(r, 0)->size, SIZE);
		assert_int_equal(cab_reader_test(r, &err), 0);
		cab_reader_free(r);
	}

	/* The same signer on the streaming writer's cabinet of the same file makes this file. */
	{
		char *in = tu_path(f->dir, NAME), *out = tu_path(f->dir, "writer.cab");
		struct cab_writer_options o = {.compression = CAB_COMPRESS_NONE,
					       .signature_reserve = true};
		struct timeval tv[2] = {{MTIME, 0}, {MTIME, 0}};
		struct cab_writer *cw;
		uint8_t *w;
		size_t lw = 0;
		int fd;

		tu_write_file(in, src, SIZE);
		assert_int_equal(utimes(in, tv), 0);
		fd = open(out, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		assert_true(fd >= 0);
		cw = cab_writer_new(fd, &o, &err);
		assert_non_null(cw);
		assert_int_equal(cab_writer_add_file(cw, in, NAME, &err), 0);
		assert_int_equal(cab_writer_finish(cw, NULL, &err), 0);
		cab_writer_free(cw);
		assert_int_equal(close(fd), 0);
		assert_int_equal(authenticode_sign_cab(out, NULL, &signer, &err), 0);
		data = tu_read_file(b.path, &len);
		w = tu_read_file(out, &lw);
		assert_non_null(data);
		assert_non_null(w);
		assert_int_equal(lw, len);
		assert_memory_equal(w, data, len);
		free(w);
		free(data);
		free(in);
		free(out);
	}

	/* (b) osslsigncode: verifies against the root, and computes our digest. */
	if (have("osslsigncode")) {
		for (size_t i = 0; i < 32; i++)
			(void)snprintf(hex + 2 * i, 3, "%02X", b.auth[i]);
		assert_int_not_equal(
		    asprintf(&cmd, "osslsigncode verify -in '%s' -CAfile '%s'", b.path, root_pem),
		    -1);
		text = run_output(f, &rc, cmd);
		if (rc != 0 || strstr(text, "Signature verification: ok") == NULL ||
		    strstr(text, hex) == NULL)
			fail_msg("osslsigncode verify (rc %d):\n%s", rc, text);
		free(text);
		free(cmd);
	} else {
		fprintf(stderr, "# osslsigncode not on PATH: its verification is skipped\n");
	}

	/* (c) cabextract: tests it and extracts the original bytes. */
	if (have("cabextract")) {
		char *x = tu_path(f->dir, "x"), *got_path = tu_path(x, NAME);
		uint8_t *got;
		size_t got_len = 0;

		assert_int_not_equal(asprintf(&cmd, "cabextract -t '%s'", b.path), -1);
		text = run_output(f, &rc, cmd);
		if (rc != 0)
			fail_msg("cabextract -t (rc %d):\n%s", rc, text);
		free(text);
		free(cmd);
		assert_int_not_equal(asprintf(&cmd, "cabextract -d '%s' '%s'", x, b.path), -1);
		text = run_output(f, &rc, cmd);
		if (rc != 0)
			fail_msg("cabextract -d (rc %d):\n%s", rc, text);
		free(text);
		free(cmd);
		got = tu_read_file(got_path, &got_len);
		assert_non_null(got);
		assert_int_equal(got_len, SIZE);
		assert_memory_equal(got, src, SIZE);
		free(got);
		free(got_path);
		free(x);
	} else {
		fprintf(stderr, "# cabextract not on PATH: its extraction is skipped\n");
	}

	built_free(&b);
	free(der);
	X509_free(leaf);
	EVP_PKEY_free(key);
	sk_X509_pop_free(chain, X509_free);
	free(root_pem);
	free(src);
}

/* ---- 4. rebuilt from the disk ---- */

static void test_rebuild(void **state)
{
	struct fx *f = *state;
	static const size_t first[] = {10000, 32768, 41000, 50000}; /* 50000: mid block 1 */
	static const size_t rest[] = {70000, 150000, SIZE};
	uint8_t *src = malloc(SIZE), *a, *b;
	size_t la = 0, lb = 0;
	struct built one, re;
	struct cab_single l;
	struct pp_error err;

	assert_non_null(src);
	tu_fill(src, SIZE, 31);
	layout_ok(SIZE, NAME, SIG, &l);
	build(f, "one.cab", &l, src, (const size_t[]){SIZE}, 1, &one);

	start(f, "re.cab", &l, &re);
	append_pieces(&re, src, 0, first, sizeof(first) / sizeof(first[0]));
	assert_int_equal(file_size(re.path), cab_single_file_length(&l, 50000));
	assert_int_equal(cab_single_received(&l, (uint64_t)file_size(re.path)), 50000);
	/* The process goes; the bytes stay. */
	cabupload_free(re.c);
	pp_error_clear(&err);
	re.c = cabupload_rebuild(&l, re.fd, 50000, &err);
	if (re.c == NULL)
		fail_msg("rebuild: 0x%08X %s", err.code, err.message);
	assert_int_equal(cabupload_received(re.c), 50000);
	append_pieces(&re, src, 50000, rest, sizeof(rest) / sizeof(rest[0]));
	finish(&re);

	assert_memory_equal(re.sha1, one.sha1, 20);
	assert_memory_equal(re.sha256, one.sha256, 32);
	assert_int_equal(re.auth_len, one.auth_len);
	assert_memory_equal(re.auth, one.auth, one.auth_len);
	a = tu_read_file(one.path, &la);
	b = tu_read_file(re.path, &lb);
	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(la, l.cb_cabinet);
	assert_int_equal(lb, la);
	assert_memory_equal(a, b, la);
	free(a);
	free(b);
	/* The cabinet's own digests came through the rebuild too. */
	seal_filler(&one, &l, SIG);
	seal_filler(&re, &l, SIG);
	built_free(&re);

	/* On a block boundary, and from nothing at all. */
	{
		static const size_t upto[] = {65536};
		static const size_t after[] = {SIZE};

		start(f, "edge.cab", &l, &re);
		append_pieces(&re, src, 0, upto, 1);
		cabupload_free(re.c);
		re.c = cabupload_rebuild(&l, re.fd, 65536, &err);
		assert_non_null(re.c);
		append_pieces(&re, src, 65536, after, 1);
		finish(&re);
		assert_memory_equal(re.auth, one.auth, one.auth_len);
		assert_memory_equal(re.sha256, one.sha256, 32);
		built_free(&re);

		start(f, "zero.cab", &l, &re);
		cabupload_free(re.c);
		re.c = cabupload_rebuild(&l, re.fd, 0, &err);
		assert_non_null(re.c);
		append_pieces(&re, src, 0, after, 1);
		finish(&re);
		assert_memory_equal(re.auth, one.auth, one.auth_len);
		assert_memory_equal(re.sha1, one.sha1, 20);
		built_free(&re);
	}

	/* A header on disk that is not the layout's is refused. */
	{
		struct cab_single other;

		layout_ok(SIZE, "other.exe", SIG, &other);
		pp_error_clear(&err);
		assert_null(cabupload_rebuild(&other, one.fd, 1000, &err));
		assert_int_equal(err.code, HR_ERROR_BAD_FORMAT);
	}
	built_free(&one);
	free(src);
}

/* ---- 5. reading the file back ---- */

static void test_read(void **state)
{
	struct fx *f = *state;
	static const struct {
		uint64_t off;
		size_t len;
	} ranges[] = {
	    {0, 1},
	    {0, 32768},		     /* exactly block 0 */
	    {32760, 16},	     /* across 0 | 1 */
	    {32767, 2},		     /* one byte each side */
	    {65530, 32768 + 20},     /* across 1 | 2 | 3 */
	    {10, 150000},	     /* across five boundaries */
	    {196600, SIZE - 196600}, /* into the short last block, to the end */
	    {SIZE - 1, 1},
	    {0, SIZE},
	    {SIZE, 0},
	};
	uint8_t *src = malloc(SIZE), *buf = malloc(SIZE);
	struct cab_single l;
	struct pp_error err;
	struct built b;
	size_t n = 0, *ends;

	assert_non_null(src);
	assert_non_null(buf);
	tu_fill(src, SIZE, 41);
	layout_ok(SIZE, NAME, SIG, &l);
	ends = ends_every(SIZE, 7777, &n);
	build(f, "read.cab", &l, src, ends, n, &b);
	for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++) {
		memset(buf, 0xA5, SIZE);
		pp_error_clear(&err);
		assert_int_equal(cabupload_read(&l, b.fd, ranges[i].off, buf, ranges[i].len, &err),
				 0);
		assert_memory_equal(buf, src + ranges[i].off, ranges[i].len);
	}
	/* Past the end. */
	pp_error_clear(&err);
	assert_int_equal(cabupload_read(&l, b.fd, SIZE - 10, buf, 11, &err), -1);
	assert_int_equal(err.code, HR_E_INVALIDARG);
	pp_error_clear(&err);
	assert_int_equal(cabupload_read(&l, b.fd, SIZE + 1, buf, 0, &err), -1);
	assert_int_equal(err.code, HR_E_INVALIDARG);
	built_free(&b);
	free(ends);
	free(buf);
	free(src);
}

/* ---- 6. the release callback ---- */

static void test_release(void **state)
{
	struct fx *f = *state;
	enum { BIG = 300000 }; /* from 256 KiB a piece is hashed on threads */
	uint8_t *src = malloc(BIG), d1[20], d256[32], sha1[20], sha256[32];
	struct releases r1 = {0}, r2 = {0}, r3 = {0};
	struct cab_single l;
	struct pp_error err;
	struct built b;
	uint8_t *copy;
	int ro;

	assert_non_null(src);
	tu_fill(src, BIG, 53);
	layout_ok(BIG, NAME, SIG, &l);
	start(f, "rel.cab", &l, &b);
	pp_error_clear(&err);

	/* A small piece, then a large one hashed on threads from a copy that release frees: the
	 * digests must be done with it by then. */
	copy = malloc(1000);
	assert_non_null(copy);
	memcpy(copy, src, 1000);
	r1.to_free = copy;
	assert_int_equal(cabupload_append(b.c, b.fd, copy, 1000, count_release, &r1, &err), 0);
	assert_true(r1.calls <= 1);
	copy = malloc(BIG - 1000 - 500);
	assert_non_null(copy);
	memcpy(copy, src + 1000, BIG - 1000 - 500);
	r2.to_free = copy;
	assert_int_equal(
	    cabupload_append(b.c, b.fd, copy, BIG - 1000 - 500, count_release, &r2, &err), 0);
	assert_int_equal(r1.calls, 1); /* the next append waited for it */
	assert_true(r2.calls <= 1);
	assert_int_equal(cabupload_wait(b.c, &err), 0);
	assert_int_equal(r2.calls, 1);
	assert_null(r2.to_free);
	/* Waiting again calls nothing again. */
	assert_int_equal(cabupload_wait(b.c, &err), 0);
	assert_int_equal(r1.calls, 1);
	assert_int_equal(r2.calls, 1);

	/* An empty append: released at once. */
	assert_int_equal(cabupload_append(b.c, b.fd, src, 0, count_release, &r3, &err), 0);
	assert_int_equal(r3.calls, 1);
	assert_int_equal(cabupload_received(b.c), BIG - 500);

	/* The rest, without a wait: completing waits for it and releases it. Digests right. */
	memset(&r3, 0, sizeof(r3));
	assert_int_equal(
	    cabupload_append(b.c, b.fd, src + BIG - 500, 500, count_release, &r3, &err), 0);
	assert_int_equal(cabupload_complete(b.c, sha1, sha256, &err), 0);
	assert_int_equal(r3.calls, 1);
	digest(EVP_sha1(), src, BIG, d1);
	digest(EVP_sha256(), src, BIG, d256);
	assert_memory_equal(sha1, d1, 20);
	assert_memory_equal(sha256, d256, 32);
	/* Complete: nothing more fits, and release is still called once. */
	memset(&r3, 0, sizeof(r3));
	assert_int_equal(cabupload_append(b.c, b.fd, src, 1, count_release, &r3, &err), -1);
	assert_int_not_equal(err.code, 0);
	assert_int_equal(r3.calls, 1);
	built_free(&b);

	/* More bytes than fit: an error, released once. */
	start(f, "over.cab", &l, &b);
	memset(&r1, 0, sizeof(r1));
	memset(&r2, 0, sizeof(r2));
	pp_error_clear(&err);
	assert_int_equal(cabupload_append(b.c, b.fd, src, 100, count_release, &r1, &err), 0);
	pp_error_clear(&err);
	copy = malloc(BIG);
	assert_non_null(copy);
	r2.to_free = copy;
	assert_int_equal(cabupload_append(b.c, b.fd, copy, BIG, count_release, &r2, &err), -1);
	assert_int_equal(err.code, HR_E_INVALIDARG);
	assert_int_equal(r1.calls, 1);
	assert_int_equal(r2.calls, 1);
	assert_int_equal(cabupload_received(b.c), 100);
	assert_int_equal(file_size(b.path), cab_single_file_length(&l, 100));
	built_free(&b);
	assert_int_equal(r1.calls, 1);
	assert_int_equal(r2.calls, 1);

	/* Freed with an append in flight: released then, once. */
	start(f, "free.cab", &l, &b);
	memset(&r1, 0, sizeof(r1));
	copy = malloc(BIG);
	assert_non_null(copy);
	memcpy(copy, src, BIG);
	r1.to_free = copy;
	assert_int_equal(cabupload_append(b.c, b.fd, copy, BIG, count_release, &r1, &err), 0);
	built_free(&b);
	assert_int_equal(r1.calls, 1);

	/* No file (fd < 0) and a file that cannot be written: errors, released once. */
	start(f, "bad.cab", &l, &b);
	memset(&r1, 0, sizeof(r1));
	pp_error_clear(&err);
	assert_int_equal(cabupload_append(b.c, -1, src, 100, count_release, &r1, &err), -1);
	assert_int_equal(err.code, HR_E_INVALIDARG);
	assert_int_equal(r1.calls, 1);
	cabupload_free(b.c);
	b.c = cabupload_new(&l, &err);
	assert_non_null(b.c);
	ro = open(b.path, O_RDONLY | O_CLOEXEC);
	assert_true(ro >= 0);
	memset(&r1, 0, sizeof(r1));
	copy = malloc(BIG);
	assert_non_null(copy);
	memcpy(copy, src, BIG);
	r1.to_free = copy;
	pp_error_clear(&err);
	assert_int_equal(cabupload_append(b.c, ro, copy, BIG, count_release, &r1, &err), -1);
	assert_int_not_equal(err.code, 0);
	assert_int_equal(r1.calls, 1);
	assert_int_equal(close(ro), 0);
	built_free(&b);
	assert_int_equal(r1.calls, 1);
	free(src);
}

/* ---- 7. a signature of the wrong length ---- */

static void test_seal_wrong_length(void **state)
{
	struct fx *f = *state;
	static const size_t bad[] = {0, 1, SIG - 8, SIG - 9, SIG + 1, SIG + 8};
	uint8_t *src = malloc(SIZE), der[SIG + 8], sha1[20], sha256[32], *before, *after;
	struct cab_single l;
	struct pp_error err;
	struct built b;
	uint64_t size = 0;
	size_t lb = 0, la = 0;

	assert_non_null(src);
	tu_fill(src, SIZE, 61);
	tu_fill(der, sizeof(der), 62);
	layout_ok(SIZE, NAME, SIG, &l);
	start(f, "wrong.cab", &l, &b);
	append_pieces(&b, src, 0, (const size_t[]){SIZE}, 1);
	/* Not complete yet: refused too. */
	pp_error_clear(&err);
	assert_int_equal(cabupload_seal(b.c, b.fd, der, SIG, sha1, sha256, &size, &err), -1);
	assert_int_equal(err.code, HR_E_UNEXPECTED);
	{
		uint8_t auth[CABUPLOAD_DIGEST_MAX];

		assert_int_equal(cabupload_authenticode(b.c, auth, &lb), -1);
	}
	finish(&b);
	before = tu_read_file(b.path, &lb);
	assert_non_null(before);
	assert_int_equal(lb, l.cb_cabinet);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size = 12345;
		pp_error_clear(&err);
		assert_int_equal(cabupload_seal(b.c, b.fd, der, bad[i], sha1, sha256, &size, &err),
				 -1);
		assert_int_equal(err.code, HR_E_UNEXPECTED);
		assert_int_equal(size, 12345);
		assert_int_equal(file_size(b.path), l.cb_cabinet);
	}
	after = tu_read_file(b.path, &la);
	assert_non_null(after);
	assert_int_equal(la, lb);
	assert_memory_equal(after, before, lb);
	/* The refusals spent nothing: the right length still seals, digests right. */
	seal_filler(&b, &l, SIG - 7);
	built_free(&b);
	free(before);
	free(after);
	free(src);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_layout),
	    cmocka_unit_test_setup_teardown(test_same_bytes_any_pieces, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sign_interop, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rebuild, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_read, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_release, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_seal_wrong_length, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
