/* test_upload.c - resumable uploads on disk (src/server/upload): create, append in order,
 * resume from the record, offsets out of order, chunks past the declared size, the SHA-256 check
 * (match and mismatch), malformed ids (nothing outside the directory touched), expiry, and a
 * torn tail after a simulated crash (garbage past the acknowledged length, then a restart), the
 * SHA-1 and SHA-256 kept from chunk to chunk (and rebuilt after a restart), a SHA-256 declared
 * with a chunk, and a complete upload whose data changed behind the module's back. Cabinet
 * uploads: the data file laid out and filled as the cabinet of the file, the file copied back out
 * of it, sealing with an in-process key (and what cannot be sealed); and the boot rule: a record
 * written under another boot of the machine is believed only up to what was synced. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "authenticode.h"
#include "cab.h"
#include "cabupload.h"
#include "hresult.h"
#include "testcerts.h"
#include "testutil.h"
#include "upload.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

struct fx {
	char *top;   /* a scratch directory */
	char *dir;   /* top/uploads, the uploads directory */
	char *fence; /* top/fence, a file outside it that nothing may touch */
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	f->top = tu_tmpdir();
	f->dir = tu_path(f->top, "uploads");
	f->fence = tu_path(f->top, "fence");
	if (mkdir(f->dir, 0700) != 0)
		return -1;
	tu_write_file(f->fence, "fence", 5);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	tu_assert_file_text(f->fence, "fence");
	tu_rmrf(f->top);
	free(f->top);
	free(f->dir);
	free(f->fence);
	free(f);
	return 0;
}

static void sha256_hex(const void *data, size_t len, char out[UPLOAD_SHA256_HEX_LEN + 1])
{
	unsigned char md[32];
	unsigned mdlen = 0;
	size_t i;

	assert_int_equal(EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL), 1);
	for (i = 0; i < sizeof(md); i++)
		(void)snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* dir/<id><suffix>, malloc'd. */
static char *file_of(const struct fx *f, const char *id, const char *suffix)
{
	char name[64];

	(void)snprintf(name, sizeof(name), "%s%s", id, suffix);
	return tu_path(f->dir, name);
}

static off_t file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? st.st_size : -1;
}

/* Appends junk to a data file behind the module's back, as a write the crash cut short. */
static void append_garbage(const char *path, size_t n)
{
	int fd = open(path, O_WRONLY | O_APPEND);
	char junk[256];

	assert_true(fd >= 0);
	assert_true(n <= sizeof(junk));
	memset(junk, 0xEE, sizeof(junk));
	assert_int_equal(write(fd, junk, n), (ssize_t)n);
	assert_int_equal(close(fd), 0);
}

static void test_create_get(void **state)
{
	struct fx *f = *state;
	struct upload_info u, g;
	struct pp_error err;
	char *meta, *part;

	pp_error_clear(&err);
	assert_int_equal(upload_create(f->dir, 1000, NULL, "catalog.cab", &u, &err), 0);
	assert_true(upload_id_valid(u.id));
	assert_int_equal(u.size, 1000);
	assert_int_equal(u.received, 0);
	assert_false(u.complete);
	assert_string_equal(u.sha256, "");
	assert_string_equal(u.name, "catalog.cab");
	assert_true(u.created_at > 0);
	meta = file_of(f, u.id, ".json");
	part = file_of(f, u.id, ".part");
	assert_int_equal(tu_file_mode(meta), 0600);
	assert_int_equal(tu_file_mode(part), 0600);
	assert_int_equal(file_size(part), 0);
	assert_int_equal(tu_count_entries(f->dir), 2); /* no temporary file left */

	assert_int_equal(upload_get(f->dir, u.id, &g, &err), 0);
	assert_string_equal(g.id, u.id);
	assert_int_equal(g.size, 1000);
	assert_int_equal(g.received, 0);
	assert_string_equal(g.name, "catalog.cab");

	/* Two uploads never share an id. */
	assert_int_equal(upload_create(f->dir, 1, NULL, NULL, &g, &err), 0);
	assert_string_not_equal(g.id, u.id);
	assert_string_equal(g.name, "");
	free(meta);
	free(part);
}

static void test_append_complete(void **state)
{
	struct fx *f = *state;
	enum { SIZE = 300000 };
	uint8_t *src = malloc(SIZE), *back;
	char sha[UPLOAD_SHA256_HEX_LEN + 1], upper[UPLOAD_SHA256_HEX_LEN + 1];
	struct upload_info u;
	struct pp_error err;
	uint64_t size = 0;
	size_t i;
	int fd = -1;

	assert_non_null(src);
	tu_fill(src, SIZE, 7);
	sha256_hex(src, SIZE, sha);
	for (i = 0; i <= UPLOAD_SHA256_HEX_LEN; i++)
		upper[i] = (sha[i] >= 'a' && sha[i] <= 'f') ? (char)(sha[i] - 'a' + 'A') : sha[i];
	pp_error_clear(&err);
	/* The expected digest may come in upper case; it is kept in lower case. */
	assert_int_equal(upload_create(f->dir, SIZE, upper, NULL, &u, &err), 0);
	assert_string_equal(u.sha256, sha);
	assert_int_equal(upload_append(f->dir, u.id, 0, src, 100000, NULL, &u, &err), 0);
	assert_int_equal(u.received, 100000);
	assert_false(u.complete);
	/* An empty chunk at the right offset changes nothing. */
	assert_int_equal(upload_append(f->dir, u.id, 100000, src, 0, NULL, &u, &err), 0);
	assert_int_equal(u.received, 100000);
	assert_int_equal(upload_open_complete(f->dir, u.id, &fd, &size, &err), -1);
	assert_int_equal(err.code, UPLOAD_E_INCOMPLETE);
	assert_non_null(strstr(err.message, "100000 of 300000"));
	assert_int_equal(fd, -1);
	pp_error_clear(&err);
	assert_int_equal(upload_append(f->dir, u.id, 100000, src + 100000, 150000, NULL, &u, &err),
			 0);
	assert_int_equal(upload_append(f->dir, u.id, 250000, src + 250000, 50000, NULL, &u, &err),
			 0);
	assert_int_equal(err.code, 0);
	assert_int_equal(u.received, SIZE);
	assert_true(u.complete);
	assert_string_equal(u.sha256, sha);

	assert_int_equal(upload_open_complete(f->dir, u.id, &fd, &size, &err), 0);
	assert_int_equal(size, SIZE);
	back = malloc(SIZE);
	assert_non_null(back);
	assert_int_equal(pread(fd, back, SIZE, 0), SIZE);
	assert_memory_equal(back, src, SIZE);
	/* The descriptor is read-only. */
	assert_int_equal(write(fd, "x", 1), -1);
	/* ... and outlives the upload. */
	assert_int_equal(upload_remove(f->dir, u.id, &err), 0);
	assert_int_equal(pread(fd, back, 10, 0), 10);
	assert_int_equal(close(fd), 0);
	assert_int_equal(tu_count_entries(f->dir), 0);

	/* Without an expected digest, a complete upload still reports the data's. */
	assert_int_equal(upload_create(f->dir, 1000, NULL, NULL, &u, &err), 0);
	assert_int_equal(upload_append(f->dir, u.id, 0, src, 1000, NULL, &u, &err), 0);
	assert_true(u.complete);
	sha256_hex(src, 1000, sha);
	assert_string_equal(u.sha256, sha);
	assert_int_equal(upload_get(f->dir, u.id, &u, &err), 0);
	assert_string_equal(u.sha256, sha);
	free(back);
	free(src);
}

/* What a restart sees is what was acknowledged; it goes on from there. */
static void test_resume(void **state)
{
	struct fx *f = *state;
	uint8_t src[5000], *back;
	char sha[UPLOAD_SHA256_HEX_LEN + 1], id[UPLOAD_ID_LEN + 1];
	struct upload_info u;
	struct pp_error err;
	size_t len;
	char *part;

	tu_fill(src, sizeof(src), 3);
	sha256_hex(src, sizeof(src), sha);
	pp_error_clear(&err);
	assert_int_equal(upload_create(f->dir, sizeof(src), sha, "x.bin", &u, &err), 0);
	memcpy(id, u.id, sizeof(id));
	assert_int_equal(upload_append(f->dir, id, 0, src, 1234, NULL, &u, &err), 0);
	memset(&u, 0, sizeof(u));
	assert_int_equal(upload_get(f->dir, id, &u, &err), 0);
	assert_int_equal(u.received, 1234);
	assert_string_equal(u.name, "x.bin");
	assert_int_equal(
	    upload_append(f->dir, id, u.received, src + 1234, sizeof(src) - 1234, NULL, &u, &err),
	    0);
	assert_true(u.complete);
	part = file_of(f, id, ".part");
	back = tu_read_file(part, &len);
	assert_non_null(back);
	assert_int_equal(len, sizeof(src));
	assert_memory_equal(back, src, sizeof(src));
	free(back);
	free(part);
}

static void test_offset_mismatch(void **state)
{
	struct fx *f = *state;
	uint8_t src[100];
	char want[160];
	struct upload_info u, now;
	struct pp_error err;
	char *part;

	tu_fill(src, sizeof(src), 5);
	pp_error_clear(&err);
	assert_int_equal(upload_create(f->dir, sizeof(src), NULL, NULL, &u, &err), 0);
	assert_int_equal(upload_append(f->dir, u.id, 0, src, 40, NULL, &u, &err), 0);
	part = file_of(f, u.id, ".part");
	(void)snprintf(want, sizeof(want), "upload %s has 40 bytes; send from offset 40", u.id);
	/* Ahead (a chunk lost), behind (a chunk sent twice), and far away. */
	static const uint64_t bad[] = {60, 0, 39, 41, UINT64_MAX};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&now, 0, sizeof(now));
		pp_error_clear(&err);
		assert_int_equal(upload_append(f->dir, u.id, bad[i], src, 10, NULL, &now, &err),
				 -1);
		assert_int_equal(err.code, UPLOAD_E_OFFSET_MISMATCH);
		assert_string_equal(err.message, want);
		assert_int_equal(now.received, 40); /* the state comes with the refusal */
		assert_int_equal(file_size(part), 40);
	}
	pp_error_clear(&err);
	assert_int_equal(upload_get(f->dir, u.id, &now, &err), 0);
	assert_int_equal(now.received, 40);
	free(part);
}

static void test_overflow(void **state)
{
	struct fx *f = *state;
	uint8_t src[100];
	struct upload_info u, keep;
	struct pp_error err;
	char *part;

	tu_fill(src, sizeof(src), 9);
	pp_error_clear(&err);
	assert_int_equal(upload_create(f->dir, 50, NULL, NULL, &u, &err), 0);
	part = file_of(f, u.id, ".part");
	assert_int_equal(upload_append(f->dir, u.id, 0, src, 30, NULL, &u, &err), 0);
	keep = u;
	assert_int_equal(upload_append(f->dir, u.id, 30, src, 21, NULL, &u, &err), -1);
	assert_int_equal(err.code, UPLOAD_E_TOO_LARGE);
	assert_non_null(strstr(err.message, "declared size of 50 bytes"));
	assert_int_equal(u.received, keep.received); /* *out untouched */
	assert_int_equal(file_size(part), 30);	     /* nothing written */
	pp_error_clear(&err);
	assert_int_equal(upload_append(f->dir, u.id, 30, src, 20, NULL, &u, &err), 0);
	assert_true(u.complete);
	/* A complete upload takes nothing more. */
	assert_int_equal(upload_append(f->dir, u.id, 50, src, 1, NULL, &u, &err), -1);
	assert_int_equal(err.code, UPLOAD_E_TOO_LARGE);
	assert_int_equal(file_size(part), 50);

	/* A declared size over the limit is refused, and leaves nothing. */
	pp_error_clear(&err);
	assert_int_equal(upload_remove(f->dir, u.id, &err), 0);
	assert_int_equal(upload_create(f->dir, UPLOAD_SIZE_MAX + 1, NULL, NULL, &u, &err), -1);
	assert_int_equal(err.code, UPLOAD_E_TOO_LARGE);
	assert_int_equal(tu_count_entries(f->dir), 0);
	free(part);
}

static void test_digest(void **state)
{
	struct fx *f = *state;
	uint8_t src[4096];
	char sha[UPLOAD_SHA256_HEX_LEN + 1], other[UPLOAD_SHA256_HEX_LEN + 1], want[300];
	struct upload_info u;
	struct pp_error err;
	char id[UPLOAD_ID_LEN + 1];

	tu_fill(src, sizeof(src), 11);
	sha256_hex(src, sizeof(src), sha);
	sha256_hex("other", 5, other);
	pp_error_clear(&err);
	assert_int_equal(upload_create(f->dir, sizeof(src), other, NULL, &u, &err), 0);
	memcpy(id, u.id, sizeof(id));
	assert_int_equal(upload_append(f->dir, id, 0, src, 4000, NULL, &u, &err), 0);
	assert_int_equal(upload_append(f->dir, id, 4000, src + 4000, 96, NULL, &u, &err), -1);
	assert_int_equal(err.code, UPLOAD_E_DIGEST_MISMATCH);
	(void)snprintf(want, sizeof(want),
		       "upload %s: SHA-256 of the received 4096 bytes is %s, expected %s", id, sha,
		       other);
	assert_string_equal(err.message, want);
	/* The upload is discarded. */
	assert_int_equal(tu_count_entries(f->dir), 0);
	pp_error_clear(&err);
	assert_int_equal(upload_get(f->dir, id, &u, &err), -1);
	assert_int_equal(err.code, UPLOAD_E_NOT_FOUND);

	/* An empty upload is complete at once, its digest checked then. */
	pp_error_clear(&err);
	assert_int_equal(upload_create(f->dir, 0, EMPTY_SHA256, NULL, &u, &err), 0);
	assert_true(u.complete);
	assert_string_equal(u.sha256, EMPTY_SHA256);
	assert_int_equal(upload_create(f->dir, 0, NULL, NULL, &u, &err), 0);
	assert_string_equal(u.sha256, EMPTY_SHA256);
	assert_int_equal(upload_create(f->dir, 0, sha, NULL, &u, &err), -1);
	assert_int_equal(err.code, UPLOAD_E_DIGEST_MISMATCH);
	assert_int_equal(tu_count_entries(f->dir), 4); /* the two good ones */

	/* A malformed digest is refused before anything is made. */
	static const char *const bad[] = {
	    "",
	    "abc",
	    EMPTY_SHA256 "0",
	    "g3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	    " 3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		pp_error_clear(&err);
		assert_int_equal(upload_create(f->dir, 10, bad[i], NULL, &u, &err), -1);
		assert_int_equal(err.code, HR_E_INVALIDARG);
	}
	assert_int_equal(tu_count_entries(f->dir), 4);
}

static void test_bad_ids(void **state)
{
	struct fx *f = *state;
	static const char *const bad[] = {
	    "",
	    "0123456789abcdef0123456789abcde",	 /* 31 */
	    "0123456789abcdef0123456789abcdef0", /* 33 */
	    "0123456789ABCDEF0123456789abcdef",	 /* upper case */
	    "0123456789abcdef0123456789abcdeg",
	    "../fence",
	    "../../../../../../../../etc/passwd",
	    "0123456789abcdef/123456789abcdef",
	    "..%2f..%2ffence",
	    " 123456789abcdef0123456789abcdef",
	};
	struct upload_info u;
	struct pp_error err;
	uint64_t size;
	int fd;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_false(upload_id_valid(bad[i]));
		pp_error_clear(&err);
		assert_int_equal(upload_get(f->dir, bad[i], &u, &err), -1);
		assert_int_equal(err.code, UPLOAD_E_BAD_ID);
		pp_error_clear(&err);
		assert_int_equal(upload_append(f->dir, bad[i], 0, "x", 1, NULL, &u, &err), -1);
		assert_int_equal(err.code, UPLOAD_E_BAD_ID);
		pp_error_clear(&err);
		assert_int_equal(upload_remove(f->dir, bad[i], &err), -1);
		assert_int_equal(err.code, UPLOAD_E_BAD_ID);
		pp_error_clear(&err);
		assert_int_equal(upload_open_complete(f->dir, bad[i], &fd, &size, &err), -1);
		assert_int_equal(err.code, UPLOAD_E_BAD_ID);
		assert_int_equal(fd, -1);
	}
	assert_false(upload_id_valid(NULL));
	/* A well-formed id that names nothing. */
	pp_error_clear(&err);
	assert_int_equal(upload_get(f->dir, "0123456789abcdef0123456789abcdef", &u, &err), -1);
	assert_int_equal(err.code, UPLOAD_E_NOT_FOUND);
	pp_error_clear(&err);
	assert_int_equal(upload_remove(f->dir, "0123456789abcdef0123456789abcdef", &err), -1);
	assert_int_equal(err.code, UPLOAD_E_NOT_FOUND);
	assert_int_equal(tu_count_entries(f->dir), 0);

	/* Names: bounded, no '/', no control characters. */
	static const char *const bad_names[] = {"",	".",	    "..", "a/b", "/etc/passwd",
						"a\nb", "tab\there"};
	for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
		assert_false(upload_name_valid(bad_names[i]));
		pp_error_clear(&err);
		assert_int_equal(upload_create(f->dir, 1, NULL, bad_names[i], &u, &err), -1);
		assert_int_equal(err.code, HR_E_INVALIDARG);
	}
	char longname[UPLOAD_NAME_MAX + 2];
	memset(longname, 'n', sizeof(longname));
	longname[UPLOAD_NAME_MAX + 1] = '\0';
	assert_false(upload_name_valid(longname));
	longname[UPLOAD_NAME_MAX] = '\0';
	assert_true(upload_name_valid(longname));
	assert_true(upload_name_valid("..hidden"));
	assert_int_equal(tu_count_entries(f->dir), 0);
}

/* A damaged record is reported as such, never trusted. */
static void test_damaged_record(void **state)
{
	struct fx *f = *state;
	struct upload_info u;
	struct pp_error err;
	char *meta;

	pp_error_clear(&err);
	assert_int_equal(upload_create(f->dir, 10, NULL, NULL, &u, &err), 0);
	meta = file_of(f, u.id, ".json");
	tu_write_file(meta, "{\"v\":1,\"id\":\"x\"", 15);
	assert_int_equal(upload_get(f->dir, u.id, &u, &err), -1);
	assert_int_equal(err.code, HR_ERROR_BAD_FORMAT);
	assert_non_null(strstr(err.message, "damaged"));
	/* An empty record (a file system that lost it). */
	tu_write_file(meta, "", 0);
	pp_error_clear(&err);
	assert_int_equal(upload_append(f->dir, u.id, 0, "x", 1, NULL, &u, &err), -1);
	assert_int_equal(err.code, HR_ERROR_BAD_FORMAT);
	pp_error_clear(&err);
	assert_int_equal(upload_remove(f->dir, u.id, &err), 0);
	assert_int_equal(tu_count_entries(f->dir), 0);
	free(meta);
}

static void test_expiry(void **state)
{
	struct fx *f = *state;
	struct upload_info a, b, busy;
	struct pp_error err;
	int64_t now = (int64_t)time(NULL);
	char *other = tu_path(f->dir, "README"), *orphan, *temp, *part;
	unsigned removed = 99;
	int fd;

	pp_error_clear(&err);
	assert_int_equal(upload_create(f->dir, 10, NULL, NULL, &a, &err), 0);
	assert_int_equal(upload_create(f->dir, 10, NULL, NULL, &b, &err), 0);
	assert_int_equal(upload_append(f->dir, b.id, 0, "12345", 5, NULL, &b, &err), 0);
	assert_int_equal(upload_create(f->dir, 10, NULL, NULL, &busy, &err), 0);
	tu_write_file(other, "not an upload", 13);
	/* A data file without a record and a record's temporary file, as a crash leaves them. */
	orphan = tu_path(f->dir, "00000000000000000000000000000000.part");
	temp = tu_path(f->dir, ".11111111111111111111111111111111.json.0123456789abcdef");
	tu_write_file(orphan, "x", 1);
	tu_write_file(temp, "{}", 2);

	/* Nothing is old yet. */
	assert_int_equal(upload_expire(f->dir, UPLOAD_MAX_AGE_DEFAULT, now, &removed, &err), 0);
	assert_int_equal(removed, 0);
	assert_int_equal(tu_count_entries(f->dir), 9);

	/* A day later: all but the one a chunk is being written to. */
	part = file_of(f, busy.id, ".part");
	fd = open(part, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(flock(fd, LOCK_EX), 0);
	assert_int_equal(upload_expire(f->dir, UPLOAD_MAX_AGE_DEFAULT,
				       now + UPLOAD_MAX_AGE_DEFAULT + 10, &removed, &err),
			 0);
	assert_int_equal(removed, 3); /* a, b and the orphan */
	assert_false(tu_exists(orphan));
	assert_false(tu_exists(temp));
	tu_assert_file_text(other, "not an upload");
	pp_error_clear(&err);
	assert_int_equal(upload_get(f->dir, a.id, &a, &err), -1);
	assert_int_equal(err.code, UPLOAD_E_NOT_FOUND);
	pp_error_clear(&err);
	assert_int_equal(upload_get(f->dir, busy.id, &busy, &err), 0);
	assert_int_equal(close(fd), 0);
	assert_int_equal(upload_expire(f->dir, UPLOAD_MAX_AGE_DEFAULT,
				       now + UPLOAD_MAX_AGE_DEFAULT + 10, NULL, &err),
			 0);
	assert_int_equal(tu_count_entries(f->dir), 1); /* README */
	free(other);
	free(orphan);
	free(temp);
	free(part);
}

/* A crash after the data was written but before the record said so leaves a longer data file:
 * the next start reports the acknowledged length, and the tail goes before the next chunk. */
static void test_torn_tail(void **state)
{
	struct fx *f = *state;
	uint8_t src[1000], *back;
	char sha[UPLOAD_SHA256_HEX_LEN + 1], id[UPLOAD_ID_LEN + 1];
	struct upload_info u;
	struct pp_error err;
	size_t len;
	char *part;

	tu_fill(src, sizeof(src), 13);
	sha256_hex(src, sizeof(src), sha);
	pp_error_clear(&err);
	assert_int_equal(upload_create(f->dir, sizeof(src), sha, NULL, &u, &err), 0);
	memcpy(id, u.id, sizeof(id));
	part = file_of(f, id, ".part");
	assert_int_equal(upload_append(f->dir, id, 0, src, 400, NULL, &u, &err), 0);
	append_garbage(part, 250);
	assert_int_equal(file_size(part), 650);

	/* "Restart": the state comes from disk alone. */
	memset(&u, 0, sizeof(u));
	assert_int_equal(upload_get(f->dir, id, &u, &err), 0);
	assert_int_equal(u.received, 400);
	assert_false(u.complete);
	/* The torn tail does not count as received. */
	assert_int_equal(upload_append(f->dir, id, 650, src, 10, NULL, &u, &err), -1);
	assert_int_equal(err.code, UPLOAD_E_OFFSET_MISMATCH);
	assert_non_null(strstr(err.message, "has 400 bytes; send from offset 400"));
	pp_error_clear(&err);
	assert_int_equal(upload_append(f->dir, id, 400, src + 400, 300, NULL, &u, &err), 0);
	assert_int_equal(file_size(part), 700);
	append_garbage(part, 200); /* again, to end exactly at the declared size */
	assert_int_equal(upload_get(f->dir, id, &u, &err), 0);
	assert_int_equal(u.received, 700);
	assert_int_equal(upload_append(f->dir, id, 700, src + 700, 300, NULL, &u, &err), 0);
	assert_true(u.complete);
	assert_string_equal(u.sha256, sha);
	back = tu_read_file(part, &len);
	assert_non_null(back);
	assert_int_equal(len, sizeof(src));
	assert_memory_equal(back, src, sizeof(src));
	free(back);

	/* A data file shorter than its record (lost behind our back): resend from what is there. */
	assert_int_equal(upload_create(f->dir, 100, NULL, NULL, &u, &err), 0);
	memcpy(id, u.id, sizeof(id));
	free(part);
	part = file_of(f, id, ".part");
	assert_int_equal(upload_append(f->dir, id, 0, src, 60, NULL, &u, &err), 0);
	assert_int_equal(truncate(part, 25), 0);
	assert_int_equal(upload_get(f->dir, id, &u, &err), 0);
	assert_int_equal(u.received, 25);
	assert_int_equal(upload_append(f->dir, id, 25, src + 25, 75, NULL, &u, &err), 0);
	assert_true(u.complete);
	free(part);
}

static void sha1_hex(const void *data, size_t len, char out[UPLOAD_SHA1_HEX_LEN + 1])
{
	unsigned char md[20];
	unsigned mdlen = 0;

	assert_int_equal(EVP_Digest(data, len, md, &mdlen, EVP_sha1(), NULL), 1);
	for (size_t i = 0; i < sizeof(md); i++)
		(void)snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* The digests run from chunk to chunk in memory; with the memory gone (a restart) they are
 * rebuilt from the acknowledged bytes, and either way end as the digests of the whole file.
 * Chunks are large enough to be hashed on the helper threads. */
static void test_running_digests(void **state)
{
	struct fx *f = *state;
	enum { PART = 300 * 1024, SIZE = 3 * PART + 17 };
	uint8_t *src = malloc(SIZE);
	char sha[UPLOAD_SHA256_HEX_LEN + 1], sha1[UPLOAD_SHA1_HEX_LEN + 1];
	char id[UPLOAD_ID_LEN + 1], id2[UPLOAD_ID_LEN + 1];
	struct upload_info u;
	struct pp_error err;

	assert_non_null(src);
	tu_fill(src, SIZE, 5);
	sha256_hex(src, SIZE, sha);
	sha1_hex(src, SIZE, sha1);
	pp_error_clear(&err);

	/* In memory all the way. */
	assert_int_equal(upload_create(f->dir, SIZE, NULL, NULL, &u, &err), 0);
	memcpy(id, u.id, sizeof(id));
	assert_string_equal(u.sha1, "");
	for (size_t off = 0; off < SIZE; off += PART) {
		size_t n = SIZE - off < PART ? SIZE - off : PART;

		assert_int_equal(upload_append(f->dir, id, off, src + off, n, NULL, &u, &err), 0);
		assert_int_equal(u.complete, off + n == SIZE);
		if (!u.complete)
			assert_string_equal(u.sha1, "");
	}
	assert_string_equal(u.sha256, sha);
	assert_string_equal(u.sha1, sha1);
	/* Both are in the record: a fresh read gives them back. */
	assert_int_equal(upload_get(f->dir, id, &u, &err), 0);
	assert_string_equal(u.sha256, sha);
	assert_string_equal(u.sha1, sha1);

	/* A restart between chunks: the digests are rebuilt from the disk. */
	assert_int_equal(upload_create(f->dir, SIZE, sha, NULL, &u, &err), 0);
	memcpy(id2, u.id, sizeof(id2));
	assert_int_equal(upload_append(f->dir, id2, 0, src, PART, NULL, &u, &err), 0);
	upload_digests_release();
	assert_int_equal(upload_append(f->dir, id2, PART, src + PART, PART, NULL, &u, &err), 0);
	/* ... and again, with a torn tail on disk that must not be hashed. */
	upload_digests_release();
	{
		char *part = file_of(f, id2, ".part");

		append_garbage(part, 200);
		free(part);
	}
	assert_int_equal(
	    upload_append(f->dir, id2, 2 * PART, src + 2 * PART, SIZE - 2 * PART, NULL, &u, &err),
	    0);
	assert_true(u.complete);
	assert_string_equal(u.sha256, sha);
	assert_string_equal(u.sha1, sha1);
	free(src);
}

/* A client that hashes while it sends declares the SHA-256 with a chunk, usually the last. */
static void test_declared_on_chunk(void **state)
{
	struct fx *f = *state;
	uint8_t src[5000];
	char sha[UPLOAD_SHA256_HEX_LEN + 1], other[UPLOAD_SHA256_HEX_LEN + 1], upper[65];
	char want[400], id[UPLOAD_ID_LEN + 1];
	struct upload_info u;
	struct pp_error err;

	tu_fill(src, sizeof(src), 9);
	sha256_hex(src, sizeof(src), sha);
	sha256_hex("other", 5, other);
	for (size_t i = 0; i <= sizeof(upper) - 1; i++)
		upper[i] = (char)(sha[i] >= 'a' && sha[i] <= 'f' ? sha[i] - 32 : sha[i]);
	pp_error_clear(&err);

	/* Declared with the last chunk, in upper case: it matches and completes. */
	assert_int_equal(upload_create(f->dir, sizeof(src), NULL, NULL, &u, &err), 0);
	memcpy(id, u.id, sizeof(id));
	assert_int_equal(upload_append(f->dir, id, 0, src, 3000, NULL, &u, &err), 0);
	assert_string_equal(u.sha256, "");
	assert_int_equal(upload_append(f->dir, id, 3000, src + 3000, 2000, upper, &u, &err), 0);
	assert_true(u.complete);
	assert_string_equal(u.sha256, sha);
	assert_int_equal(upload_remove(f->dir, id, &err), 0);

	/* Declared with an empty chunk: recorded, then the digest holds the upload to it. */
	assert_int_equal(upload_create(f->dir, sizeof(src), NULL, NULL, &u, &err), 0);
	memcpy(id, u.id, sizeof(id));
	assert_int_equal(upload_append(f->dir, id, 0, NULL, 0, other, &u, &err), 0);
	assert_string_equal(u.sha256, other);
	assert_int_equal(upload_get(f->dir, id, &u, &err), 0);
	assert_string_equal(u.sha256, other);
	/* Another digest on a later chunk conflicts, and nothing is written. */
	assert_int_equal(upload_append(f->dir, id, 0, src, 1000, sha, &u, &err), -1);
	assert_int_equal(err.code, HR_E_INVALIDARG);
	(void)snprintf(want, sizeof(want), "upload %s was declared with SHA-256 %s, not %s", id,
		       other, sha);
	assert_string_equal(err.message, want);
	assert_int_equal(upload_get(f->dir, id, &u, &err), 0);
	assert_int_equal(u.received, 0);
	/* The same digest again is fine; the data does not match it, so the upload goes. */
	pp_error_clear(&err);
	assert_int_equal(upload_append(f->dir, id, 0, src, sizeof(src), other, &u, &err), -1);
	assert_int_equal(err.code, UPLOAD_E_DIGEST_MISMATCH);
	assert_int_equal(tu_count_entries(f->dir), 0);

	/* A malformed digest on a chunk: refused, nothing written. */
	assert_int_equal(upload_create(f->dir, sizeof(src), NULL, NULL, &u, &err), 0);
	memcpy(id, u.id, sizeof(id));
	pp_error_clear(&err);
	assert_int_equal(upload_append(f->dir, id, 0, src, 10, "abc", &u, &err), -1);
	assert_int_equal(err.code, HR_E_INVALIDARG);
	assert_int_equal(upload_get(f->dir, id, &u, &err), 0);
	assert_int_equal(u.received, 0);
}

/* The digests of a complete upload are the data's only while its file is unchanged: a file
 * written behind the module's back is refused, by name, with what to do. */
static void test_changed_after_complete(void **state)
{
	struct fx *f = *state;
	uint8_t src[2000];
	char id[UPLOAD_ID_LEN + 1], want[300], *part;
	struct upload_info u;
	struct pp_error err;
	int fd;

	tu_fill(src, sizeof(src), 3);
	pp_error_clear(&err);
	assert_int_equal(upload_create(f->dir, sizeof(src), NULL, NULL, &u, &err), 0);
	memcpy(id, u.id, sizeof(id));
	assert_int_equal(upload_append(f->dir, id, 0, src, sizeof(src), NULL, &u, &err), 0);
	assert_true(u.complete);
	part = file_of(f, id, ".part");
	fd = open(part, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "X", 1, 100), 1);
	assert_int_equal(close(fd), 0);
	pp_error_clear(&err);
	assert_int_equal(upload_get(f->dir, id, &u, &err), -1);
	assert_int_equal(err.code, HR_ERROR_BAD_FORMAT);
	(void)snprintf(want, sizeof(want),
		       "the data of upload %s changed after it was complete; delete the upload and "
		       "send the file again",
		       id);
	assert_string_equal(err.message, want);
	{
		int rfd = -1;
		uint64_t size = 0;

		pp_error_clear(&err);
		assert_int_equal(upload_open_complete(f->dir, id, &rfd, &size, &err), -1);
		assert_int_equal(err.code, HR_ERROR_BAD_FORMAT);
	}
	/* It can still be deleted. */
	assert_int_equal(upload_remove(f->dir, id, &err), 0);
	assert_int_equal(tu_count_entries(f->dir), 0);
	free(part);
}

static void test_limits(void **state)
{
	struct fx *f = *state;
	struct upload_info u;
	struct pp_error err;
	unsigned i;

	/* At most UPLOAD_COUNT_MAX at once. */
	for (i = 0; i < UPLOAD_COUNT_MAX; i++) {
		pp_error_clear(&err);
		assert_int_equal(upload_create(f->dir, 0, NULL, NULL, &u, &err), 0);
	}
	pp_error_clear(&err);
	assert_int_equal(upload_create(f->dir, 0, NULL, NULL, &u, &err), -1);
	assert_int_equal(err.code, UPLOAD_E_NO_SPACE);
	assert_int_equal(tu_count_entries(f->dir), 2 * UPLOAD_COUNT_MAX);
	/* Missing directory. */
	pp_error_clear(&err);
	assert_int_equal(upload_create(f->fence, 0, NULL, NULL, &u, &err), -1);
	assert_int_not_equal(err.code, 0);
}

/* ---- cabinet uploads (upload_create_cabinet) ---- */

#define CAB_NAME "setup.exe"

/* The cabinet upload u's layout, as the module makes it from its record. */
static void cabinet_layout(const struct upload_info *u, struct cab_single *l)
{
	struct pp_error err;

	pp_error_clear(&err);
	assert_int_equal(cab_single_layout(u->size, u->name, (time_t)u->created_at,
					   u->signature_length, l, &err),
			 0);
}

/* The cabinet of src as cabupload builds it in one piece, at path. */
static void cabinet_reference(const struct cab_single *l, const uint8_t *src, const char *path)
{
	struct pp_error err;
	struct cabupload *c;
	uint8_t d1[20], d256[32];
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	pp_error_clear(&err);
	assert_int_equal(cabupload_write_header(l, fd, &err), 0);
	c = cabupload_new(l, &err);
	assert_non_null(c);
	assert_int_equal(cabupload_append(c, fd, src, (size_t)l->size, NULL, NULL, &err), 0);
	assert_int_equal(cabupload_complete(c, d1, d256, &err), 0);
	cabupload_free(c);
	assert_int_equal(close(fd), 0);
}

/* The data file at part is the cabinet of layout l that cabupload makes of src in one piece,
 * byte for byte (header first), waiting for its signature. */
static void assert_reference_cabinet(const struct fx *f, const struct cab_single *l,
				     const uint8_t *src, const char *part)
{
	char *ref = tu_path(f->top, "ref.cab");
	uint8_t *part_bytes, *ref_bytes;
	size_t plen = 0, rlen = 0;

	cabinet_reference(l, src, ref);
	part_bytes = tu_read_file(part, &plen);
	ref_bytes = tu_read_file(ref, &rlen);
	assert_non_null(part_bytes);
	assert_non_null(ref_bytes);
	assert_int_equal(plen, l->cb_cabinet);
	assert_int_equal(rlen, plen);
	assert_memory_equal(part_bytes, l->header, l->data_start);
	assert_memory_equal(part_bytes, ref_bytes, plen);
	free(part_bytes);
	free(ref_bytes);
	free(ref);
}

/* The whole content of a descriptor from offset 0 with read(2), as a consumer reads it. */
static uint8_t *read_fd(int fd, size_t want)
{
	uint8_t *buf = malloc(want + 1);
	size_t got = 0;
	ssize_t n;

	assert_non_null(buf);
	while ((n = read(fd, buf + got, want + 1 - got)) > 0)
		got += (size_t)n;
	assert_int_equal(n, 0);
	assert_int_equal(got, want);
	return buf;
}

/* A cabinet upload in three chunks, one ending mid-block: the data file is the cabinet of the
 * layout (header first, each chunk in place), the digests are the file's, and the file comes
 * back out of it. */
static void test_cabinet_append(void **state)
{
	struct fx *f = *state;
	enum { SIZE = 150000, SIG = 2048 };
	static const size_t chunks[] = {65536, 40000, SIZE - 65536 - 40000};
	uint8_t *src = malloc(SIZE), *back;
	char sha[UPLOAD_SHA256_HEX_LEN + 1], sha1[UPLOAD_SHA1_HEX_LEN + 1];
	char id[UPLOAD_ID_LEN + 1], *part;
	struct upload_info u;
	struct cab_single l;
	struct pp_error err;
	uint64_t off = 0, size = 0;
	int fd = -1;

	assert_non_null(src);
	tu_fill(src, SIZE, 17);
	sha256_hex(src, SIZE, sha);
	sha1_hex(src, SIZE, sha1);
	pp_error_clear(&err);
	assert_int_equal(upload_create_cabinet(f->dir, SIZE, NULL, CAB_NAME, SIG, &u, &err), 0);
	memcpy(id, u.id, sizeof(id));
	assert_true(u.cabinet);
	assert_int_equal(u.signature_length, SIG);
	assert_string_equal(u.name, CAB_NAME);
	assert_int_equal(u.received, 0);
	cabinet_layout(&u, &l);
	assert_int_equal(l.cb_cabinet, 94 + 5 * 8 + SIZE);
	part = file_of(f, id, ".part");
	assert_int_equal(file_size(part), l.data_start); /* the header is there from the start */

	for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		assert_int_equal(
		    upload_append(f->dir, id, off, src + off, chunks[i], NULL, &u, &err), 0);
		off += chunks[i];
		assert_int_equal(u.received, off);
		assert_int_equal(u.complete, off == SIZE);
		assert_int_equal(file_size(part), cab_single_file_length(&l, off));
	}
	assert_int_equal(err.code, 0);
	assert_true(u.complete);
	assert_true(u.cabinet);
	assert_string_equal(u.sha1, sha1);
	assert_string_equal(u.sha256, sha);

	/* The data file is the cabinet of the layout, byte for byte: the one cabupload makes of
	 * the file in one piece, waiting for its signature. */
	assert_int_equal(file_size(part), l.cb_cabinet);
	assert_reference_cabinet(f, &l, src, part);

	/* Read back from the record alone, it is the same. */
	memset(&u, 0, sizeof(u));
	assert_int_equal(upload_get(f->dir, id, &u, &err), 0);
	assert_true(u.complete);
	assert_true(u.cabinet);
	assert_int_equal(u.signature_length, SIG);
	assert_string_equal(u.sha1, sha1);
	assert_string_equal(u.sha256, sha);

	/* The file itself, copied out of the cabinet. */
	assert_int_equal(upload_open_complete(f->dir, id, &fd, &size, &err), 0);
	assert_int_equal(size, SIZE);
	back = read_fd(fd, SIZE);
	assert_memory_equal(back, src, SIZE);
	free(back);
	/* It is a copy: whatever happens to it, the upload stays as it was. */
	(void)!pwrite(fd, "X", 1, 0);
	assert_int_equal(close(fd), 0);
	assert_int_equal(upload_get(f->dir, id, &u, &err), 0);
	assert_true(u.complete);
	assert_int_equal(upload_open_complete(f->dir, id, &fd, &size, &err), 0);
	back = read_fd(fd, SIZE);
	assert_memory_equal(back, src, SIZE);
	free(back);
	assert_int_equal(close(fd), 0);
	assert_int_equal(upload_remove(f->dir, id, &err), 0);
	assert_int_equal(tu_count_entries(f->dir), 0);

	/* An expected SHA-256 the file does not have: discarded at the last byte. */
	assert_int_equal(upload_create_cabinet(f->dir, SIZE, EMPTY_SHA256, CAB_NAME, SIG, &u, &err),
			 0);
	assert_int_equal(upload_append(f->dir, u.id, 0, src, 50000, NULL, &u, &err), 0);
	pp_error_clear(&err);
	assert_int_equal(
	    upload_append(f->dir, u.id, 50000, src + 50000, SIZE - 50000, NULL, &u, &err), -1);
	assert_int_equal(err.code, UPLOAD_E_DIGEST_MISMATCH);
	assert_int_equal(tu_count_entries(f->dir), 0);

	free(part);
	free(src);
}

/* An in-process key signs what upload_cabinet_seal asks for. */
struct key_sign {
	const struct authenticode_signer *signer;
	int calls;
	size_t cut; /* bytes taken off the signature's length, to make it wrong */
};

static int key_sign(void *ctx, const uint8_t *digest, size_t digest_len, uint8_t **der,
		    size_t *der_len, struct pp_error *err)
{
	struct key_sign *k = ctx;

	k->calls++;
	if (authenticode_create_signature(k->signer, digest, digest_len, der, der_len, err) != 0)
		return -1;
	*der_len -= k->cut;
	return 0;
}

/* Every byte of file 0 of the cabinet at path, malloc'd. */
struct collect {
	uint8_t *buf;
	size_t len, cap;
};

static int collect_sink(void *ctx, const uint8_t *buf, size_t len, struct pp_error *err)
{
	struct collect *c = ctx;

	(void)err;
	if (c->len + len > c->cap)
		return -1;
	memcpy(c->buf + c->len, buf, len);
	c->len += len;
	return 0;
}

/* Sealing: the Authenticode digest signed, the signature written in the room the cabinet made
 * for it, the cabinet moved out and the upload gone; a plain upload cannot be sealed, nor a
 * signature of another length, and either leaves the upload as it was. */
static void test_cabinet_seal(void **state)
{
	struct fx *f = *state;
	enum { SIZE = 120000 };
	uint8_t *src = malloc(SIZE);
	char id[UPLOAD_ID_LEN + 1], sha[UPLOAD_SHA256_HEX_LEN + 1], *dest, *dest2, *pem;
	struct authenticode_signer signer;
	struct authenticode_info info;
	struct upload_sealed sealed;
	struct key_sign ks = {0};
	struct upload_info u, plain;
	struct cab_single l;
	struct pp_error err;
	STACK_OF(X509) * chain;
	X509 *root, *leaf;
	EVP_PKEY *key;
	size_t sig_len = 0;

	assert_non_null(src);
	tu_fill(src, SIZE, 29);
	sha256_hex(src, SIZE, sha);
	tc_self_signed(f->top, "root", "PP Upload Root", 3650, TC_ADDEXT_CA);
	tc_issue(f->top, "leaf", "PP Upload Signer", "root", TC_EXT_CODE_SIGNING);
	pem = tu_path(f->top, "root.pem");
	root = tc_load_cert(pem);
	free(pem);
	pem = tu_path(f->top, "leaf.pem");
	leaf = tc_load_cert(pem);
	free(pem);
	pem = tu_path(f->top, "leaf.key");
	key = tc_load_key(pem);
	free(pem);
	chain = sk_X509_new_null();
	assert_non_null(chain);
	assert_true(sk_X509_push(chain, root) > 0);
	authenticode_signer_init_key(&signer, leaf, chain, key);
	ks.signer = &signer;
	pp_error_clear(&err);
	assert_int_equal(authenticode_signature_length(&signer, &sig_len, &err), 0);
	dest = tu_path(f->top, "sealed.cab");
	dest2 = tu_path(f->top, "never.cab");

	assert_int_equal(
	    upload_create_cabinet(f->dir, SIZE, sha, CAB_NAME, (uint32_t)sig_len, &u, &err), 0);
	memcpy(id, u.id, sizeof(id));
	cabinet_layout(&u, &l);
	/* Not complete: not yet. */
	assert_int_equal(upload_append(f->dir, id, 0, src, 70000, NULL, &u, &err), 0);
	assert_int_equal(upload_cabinet_seal(f->dir, id, key_sign, &ks, dest, &sealed, &err), -1);
	assert_int_equal(err.code, UPLOAD_E_INCOMPLETE);
	assert_int_equal(ks.calls, 0);
	pp_error_clear(&err);
	assert_int_equal(
	    upload_append(f->dir, id, 70000, src + 70000, SIZE - 70000, NULL, &u, &err), 0);
	assert_true(u.complete);

	/* A signature 8 bytes short of the room made for it: refused, the upload as it was. */
	ks.cut = 8;
	assert_int_equal(upload_cabinet_seal(f->dir, id, key_sign, &ks, dest, &sealed, &err), -1);
	assert_int_equal(err.code, UPLOAD_E_CANNOT_SEAL);
	assert_int_equal(ks.calls, 1);
	assert_false(tu_exists(dest));
	pp_error_clear(&err);
	assert_int_equal(upload_get(f->dir, id, &u, &err), 0);
	assert_true(u.complete);
	assert_string_equal(u.sha256, sha);
	{
		char *part = file_of(f, id, ".part");

		assert_int_equal(file_size(part), l.cb_cabinet);
		free(part);
	}

	/* After a restart (the digests read back from the disk), sealed for real. */
	upload_digests_release();
	ks.cut = 0;
	assert_int_equal(upload_cabinet_seal(f->dir, id, key_sign, &ks, dest, &sealed, &err), 0);
	assert_int_equal(ks.calls, 2);
	assert_int_equal(sealed.size, (uint64_t)l.cb_cabinet + sig_len);
	assert_int_equal(file_size(dest), (off_t)sealed.size);
	assert_int_equal(authenticode_read_cab(dest, &info, &err), 0);
	assert_true(info.digest_matches);
	assert_true(info.signature_valid);
	assert_int_equal(X509_cmp(info.signer, leaf), 0);
	assert_int_equal(info.file_size, sealed.size);
	assert_memory_equal(info.sha1, sealed.sha1, 20);
	assert_memory_equal(info.sha256, sealed.sha256, 32);
	authenticode_info_release(&info);
	/* The cabinet carries the file. */
	{
		struct cab_reader *r = cab_reader_open(dest, &err);
		struct collect c = {.buf = malloc(SIZE), .cap = SIZE};

		assert_non_null(r);
		assert_non_null(c.buf);
		assert_int_equal(cab_reader_file_count(r), 1);
		assert_string_equal(cab_reader_file(r, 0)->name, CAB_NAME);
		assert_int_equal(cab_reader_read_file(r, 0, collect_sink, &c, &err), 0);
		assert_int_equal(c.len, SIZE);
		assert_memory_equal(c.buf, src, SIZE);
		cab_reader_free(r);
		free(c.buf);
	}
	/* The upload is gone. */
	assert_int_equal(upload_get(f->dir, id, &u, &err), -1);
	assert_int_equal(err.code, UPLOAD_E_NOT_FOUND);
	assert_int_equal(tu_count_entries(f->dir), 0);

	/* A plain upload is not a cabinet: refused before anything is signed, still complete. */
	pp_error_clear(&err);
	assert_int_equal(upload_create(f->dir, SIZE, NULL, CAB_NAME, &plain, &err), 0);
	assert_int_equal(upload_append(f->dir, plain.id, 0, src, SIZE, NULL, &plain, &err), 0);
	assert_true(plain.complete);
	assert_int_equal(upload_cabinet_seal(f->dir, plain.id, key_sign, &ks, dest2, &sealed, &err),
			 -1);
	assert_int_equal(err.code, UPLOAD_E_CANNOT_SEAL);
	assert_int_equal(ks.calls, 2);
	assert_false(tu_exists(dest2));
	pp_error_clear(&err);
	assert_int_equal(upload_get(f->dir, plain.id, &u, &err), 0);
	assert_true(u.complete);
	assert_false(u.cabinet);
	assert_string_equal(u.sha256, sha);
	{
		char *part = file_of(f, plain.id, ".part");
		uint8_t *back;
		size_t len = 0;

		back = tu_read_file(part, &len);
		assert_non_null(back);
		assert_int_equal(len, SIZE);
		assert_memory_equal(back, src, SIZE);
		free(back);
		free(part);
	}

	X509_free(leaf);
	EVP_PKEY_free(key);
	sk_X509_pop_free(chain, X509_free);
	free(dest);
	free(dest2);
	free(src);
}

/* Rewrites the record of upload id behind the module's back: "boot" and "durable" set. */
static void record_edit(const struct fx *f, const char *id, const char *boot, json_int_t durable)
{
	char *meta = file_of(f, id, ".json"), *text;
	uint8_t *raw;
	size_t len = 0;
	json_t *doc;

	raw = tu_read_file(meta, &len);
	assert_non_null(raw);
	doc = json_loadb((const char *)raw, len, 0, NULL);
	assert_true(json_is_object(doc));
	assert_int_equal(json_object_set_new(doc, "boot", json_string(boot)), 0);
	assert_int_equal(json_object_set_new(doc, "durable", json_integer(durable)), 0);
	text = json_dumps(doc, JSON_COMPACT);
	assert_non_null(text);
	tu_write_file(meta, text, strlen(text));
	free(text);
	json_decref(doc);
	free(raw);
	free(meta);
}

/* The record's field name, or NULL. */
static json_t *record_field(const struct fx *f, const char *id, const char *name)
{
	char *meta = file_of(f, id, ".json");
	json_t *doc, *v;
	uint8_t *raw;
	size_t len = 0;

	raw = tu_read_file(meta, &len);
	assert_non_null(raw);
	doc = json_loadb((const char *)raw, len, 0, NULL);
	assert_true(json_is_object(doc));
	v = json_object_get(doc, name);
	if (v != NULL)
		json_incref(v);
	json_decref(doc);
	free(raw);
	free(meta);
	return v;
}

/* A record written under another boot of the machine is believed only up to "durable" (what
 * was synced); under this boot, up to "received". */
static void test_boot_rule(void **state)
{
	struct fx *f = *state;
	enum { SIZE = 10000, CHUNK = 3000 };
	static const char other[] = "00000000-1111-4222-8333-444444444444";
	uint8_t src[SIZE];
	char sha[UPLOAD_SHA256_HEX_LEN + 1], id[UPLOAD_ID_LEN + 1], boot[64] = "";
	struct upload_info u;
	struct pp_error err;
	json_t *v;
	FILE *bf;

	bf = fopen("/proc/sys/kernel/random/boot_id", "r");
	assert_non_null(bf);
	assert_non_null(fgets(boot, sizeof(boot), bf));
	(void)fclose(bf);
	boot[strcspn(boot, "\n")] = '\0';
	assert_int_equal(strlen(boot), 36);
	tu_fill(src, sizeof(src), 37);
	sha256_hex(src, sizeof(src), sha);
	pp_error_clear(&err);

	assert_int_equal(upload_create(f->dir, SIZE, NULL, NULL, &u, &err), 0);
	memcpy(id, u.id, sizeof(id));
	assert_int_equal(upload_append(f->dir, id, 0, src, CHUNK, NULL, &u, &err), 0);
	assert_int_equal(u.received, CHUNK);
	assert_int_equal(u.durable, 0); /* written, not synced: far from the sync step */
	/* The record names this boot, and what was synced. */
	v = record_field(f, id, "boot");
	assert_true(json_is_string(v));
	assert_string_equal(json_string_value(v), boot);
	json_decref(v);
	v = record_field(f, id, "durable");
	assert_true(json_is_integer(v));
	assert_int_equal(json_integer_value(v), 0);
	json_decref(v);

	/* Another boot: nothing was synced, so nothing is believed. */
	record_edit(f, id, other, 0);
	memset(&u, 0, sizeof(u));
	assert_int_equal(upload_get(f->dir, id, &u, &err), 0);
	assert_int_equal(u.received, 0);
	assert_false(u.complete);
	/* This boot: the chunk is there. */
	record_edit(f, id, boot, 0);
	assert_int_equal(upload_get(f->dir, id, &u, &err), 0);
	assert_int_equal(u.received, CHUNK);
	assert_false(u.complete);
	/* Another boot with some synced: that much. */
	record_edit(f, id, other, 1000);
	assert_int_equal(upload_get(f->dir, id, &u, &err), 0);
	assert_int_equal(u.received, 1000);
	/* ... and the upload goes on from there, the bytes past it cut away and hashed no more. */
	assert_int_equal(upload_append(f->dir, id, CHUNK, src + CHUNK, 10, NULL, &u, &err), -1);
	assert_int_equal(err.code, UPLOAD_E_OFFSET_MISMATCH);
	pp_error_clear(&err);
	assert_int_equal(upload_append(f->dir, id, 1000, src + 1000, SIZE - 1000, sha, &u, &err),
			 0);
	assert_true(u.complete);
	assert_int_equal(u.durable, SIZE);
	assert_string_equal(u.sha256, sha);

	/* A complete upload was synced whole: another boot believes all of it. */
	record_edit(f, id, other, SIZE);
	assert_int_equal(upload_get(f->dir, id, &u, &err), 0);
	assert_true(u.complete);
	assert_int_equal(u.received, SIZE);

	/* A cabinet upload under another boot: back to nothing, and sent again it completes. */
	{
		enum { CSIZE = 70000 };
		uint8_t *csrc = malloc(CSIZE), *back;
		char csha[UPLOAD_SHA256_HEX_LEN + 1];
		uint64_t size = 0;
		int fd = -1;

		assert_non_null(csrc);
		tu_fill(csrc, CSIZE, 38);
		sha256_hex(csrc, CSIZE, csha);
		assert_int_equal(
		    upload_create_cabinet(f->dir, CSIZE, NULL, CAB_NAME, 1024, &u, &err), 0);
		memcpy(id, u.id, sizeof(id));
		assert_int_equal(upload_append(f->dir, id, 0, csrc, 40000, NULL, &u, &err), 0);
		assert_int_equal(u.durable, 0);
		record_edit(f, id, other, 0);
		assert_int_equal(upload_get(f->dir, id, &u, &err), 0);
		assert_int_equal(u.received, 0);
		assert_false(u.complete);
		assert_int_equal(upload_append(f->dir, id, 0, csrc, CSIZE, NULL, &u, &err), 0);
		assert_true(u.complete);
		assert_string_equal(u.sha256, csha);
		assert_int_equal(upload_open_complete(f->dir, id, &fd, &size, &err), 0);
		assert_int_equal(size, CSIZE);
		back = read_fd(fd, CSIZE);
		assert_memory_equal(back, csrc, CSIZE);
		assert_int_equal(close(fd), 0);
		free(back);
		free(csrc);
	}
}

/* A chunk lent to the upload is answered before it is written; it is written, in order, by a
 * thread of its own holding the upload's lock, which the next chunk waits for. A write that
 * fails there (here: past RLIMIT_FSIZE) leaves the upload at the bytes before it and is
 * reported to the next chunk of that upload, once. */
static int released;

static void count_release(void *ctx)
{
	free(ctx);
	released++;
}

/* A chunk lent as a request body lies in libevent's buffers: a copy of src in pieces of the
 * given lengths (0 ends the list; what is left goes in a last piece), the pieces and their
 * list in one allocation that count_release frees. */
struct lent_chunk {
	struct iovec iov[8];
	uint8_t bytes[];
};

static int lend(const struct fx *f, const char *id, uint64_t off, const uint8_t *src, size_t len,
		const size_t *cuts, struct upload_info *out, struct pp_error *err)
{
	struct lent_chunk *c = malloc(sizeof(*c) + len);
	size_t n = 0, at = 0;

	assert_non_null(c);
	memcpy(c->bytes, src, len);
	for (; cuts != NULL && cuts[n] != 0 && n < 7; n++) {
		size_t take = cuts[n] < len - at ? cuts[n] : len - at;

		c->iov[n] = (struct iovec){c->bytes + at, take};
		at += take;
	}
	c->iov[n++] = (struct iovec){c->bytes + at, len - at};
	return upload_append_lent(f->dir, id, off, c->iov, n, NULL, count_release, c, out, err);
}

static void test_lent_background(void **state)
{
	struct fx *f = *state;
	enum { CHUNK = 300000, SIZE = 3 * CHUNK };
	uint8_t *src = malloc(SIZE);
	char sha[UPLOAD_SHA256_HEX_LEN + 1];
	struct upload_info u, g;
	struct pp_error err;
	struct rlimit old, small;
	void (*old_sigxfsz)(int);
	size_t got = 0;
	char *part;

	assert_non_null(src);
	tu_fill(src, SIZE, 41);
	sha256_hex(src, SIZE, sha);
	pp_error_clear(&err);
	released = 0;
	assert_int_equal(upload_create(f->dir, SIZE, sha, "big.bin", &u, &err), 0);
	/* Chunk 1 is answered at once with the bytes it will make; chunk 2 waits for it. */
	assert_int_equal(lend(f, u.id, 0, src, CHUNK, NULL, &u, &err), 0);
	assert_int_equal(u.received, CHUNK);
	assert_false(u.complete);
	assert_int_equal(lend(f, u.id, CHUNK, src + CHUNK, CHUNK, NULL, &u, &err), 0);
	/* The last chunk is written before the answer, and with it everything before. */
	assert_int_equal(lend(f, u.id, 2 * CHUNK, src + 2 * CHUNK, CHUNK, NULL, &u, &err), 0);
	assert_true(u.complete);
	assert_string_equal(u.sha256, sha);
	assert_int_equal(released, 3);
	part = file_of(f, u.id, ".part");
	free(tu_read_file(part, &got));
	assert_int_equal(got, SIZE);
	free(part);

	/* A write that fails in the background: the next chunk hears of it. */
	assert_int_equal(upload_create(f->dir, SIZE, NULL, "big.bin", &u, &err), 0);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	small = old;
	small.rlim_cur = CHUNK / 2;
	old_sigxfsz = signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
	assert_int_equal(lend(f, u.id, 0, src, CHUNK, NULL, &g, &err), 0);
	assert_int_equal(g.received, CHUNK);
	assert_int_equal(lend(f, u.id, CHUNK, src + CHUNK, CHUNK, NULL, &g, &err), -1);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	(void)signal(SIGXFSZ, old_sigxfsz);
	assert_int_equal(err.code, HR_E_FAIL);
	assert_non_null(strstr(err.message, "the chunk before could not be written ("));
	assert_non_null(strstr(err.message, "); send from offset 0"));
	assert_int_equal(g.received, 0);
	assert_int_equal(released, 5);
	/* Told once: sending from 0 again works. */
	pp_error_clear(&err);
	assert_int_equal(lend(f, u.id, 0, src, CHUNK, NULL, &g, &err), 0);
	assert_int_equal(upload_append(f->dir, u.id, CHUNK, src + CHUNK, 2 * CHUNK, NULL, &g, &err),
			 0);
	assert_true(g.complete);
	assert_string_equal(g.sha256, sha);
	assert_int_equal(released, 6);
	free(src);
}

/* Chunks lent in uneven pieces (across CFDATA blocks, an empty one at the end) make the same
 * cabinet, byte for byte, and the same plain file as chunks in one piece; each chunk's release
 * comes once. */
static void test_lent_pieces(void **state)
{
	struct fx *f = *state;
	enum { CHUNK = 100000, SIZE = 3 * CHUNK + 1234, SIG = 2048 };
	static const size_t cuts[][8] = {
	    {1, 32767, 40000, 0}, {32768, 1, 1, 9999, 0}, {4096, 4096, 4096, 50000, 50000, 0}, {0}};
	uint8_t *src = malloc(SIZE), *part_bytes;
	char sha[UPLOAD_SHA256_HEX_LEN + 1], sha1[UPLOAD_SHA1_HEX_LEN + 1], *part;
	struct upload_info u, plain;
	struct cab_single l;
	struct pp_error err;
	size_t plen = 0;

	assert_non_null(src);
	tu_fill(src, SIZE, 29);
	sha256_hex(src, SIZE, sha);
	sha1_hex(src, SIZE, sha1);
	pp_error_clear(&err);
	released = 0;
	assert_int_equal(upload_create_cabinet(f->dir, SIZE, sha, CAB_NAME, SIG, &u, &err), 0);
	assert_int_equal(upload_create(f->dir, SIZE, sha, "plain.bin", &plain, &err), 0);
	for (size_t i = 0; i * CHUNK < SIZE; i++) {
		size_t len = SIZE - i * CHUNK < CHUNK ? SIZE - i * CHUNK : CHUNK;

		assert_int_equal(lend(f, u.id, i * CHUNK, src + i * CHUNK, len, cuts[i], &u, &err),
				 0);
		assert_int_equal(
		    lend(f, plain.id, i * CHUNK, src + i * CHUNK, len, cuts[i], &plain, &err), 0);
	}
	assert_int_equal(err.code, 0);
	assert_true(u.complete);
	assert_true(plain.complete);
	assert_int_equal(released, 8);
	assert_string_equal(u.sha1, sha1);
	assert_string_equal(u.sha256, sha);
	assert_string_equal(plain.sha1, sha1);
	assert_string_equal(plain.sha256, sha);

	cabinet_layout(&u, &l);
	part = file_of(f, u.id, ".part");
	assert_reference_cabinet(f, &l, src, part);
	free(part);
	part = file_of(f, plain.id, ".part");
	part_bytes = tu_read_file(part, &plen);
	assert_int_equal(plen, SIZE);
	assert_memory_equal(part_bytes, src, SIZE);
	free(part_bytes);
	free(part);
	free(src);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_create_get, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_append_complete, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_resume, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_offset_mismatch, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_overflow, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_digest, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_ids, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_damaged_record, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_expiry, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_torn_tail, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_running_digests, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_declared_on_chunk, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_changed_after_complete, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cabinet_append, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cabinet_seal, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_boot_rule, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_lent_background, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_lent_pieces, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
