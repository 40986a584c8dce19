/* test_content.c - the content store (src/server/content): the directories it makes, leftovers
 * of a killed writer removed at open, commit (digests, layout, modes, durable rename), dedupe and
 * the repair of a damaged copy, verification on open and its cache (a hit hashes nothing; a byte
 * flipped with pwrite is refused, and so is one whose mtime was put back with futimens, since
 * ctime still moves), the settle time, scrub counts and reports, malformed names and symbolic
 * links refused, removal, and a table grown past its first size and shrunk again. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "content.h"
#include "hresult.h"
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

struct fx {
	char *top;   /* a scratch directory */
	char *dir;   /* top/content, the store */
	char *fence; /* top/fence, a file outside it that nothing may touch */
	struct content_store *cs;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct pp_error err;

	if (f == NULL)
		return -1;
	f->top = tu_tmpdir();
	f->dir = tu_path(f->top, "content");
	f->fence = tu_path(f->top, "fence");
	tu_write_file(f->fence, "fence", 5);
	pp_error_clear(&err);
	f->cs = content_store_open(f->dir, NULL, &err);
	if (f->cs == NULL)
		return -1;
	/* tmpfs and ext4 keep exact timestamps: no need to wait for files to settle. */
	content_store_set_settle_seconds(f->cs, 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	tu_assert_file_text(f->fence, "fence");
	content_store_free(f->cs);
	tu_rmrf(f->top);
	free(f->top);
	free(f->dir);
	free(f->fence);
	free(f);
	return 0;
}

static void sha1_hex(const void *data, size_t len, char out[CONTENT_SHA1_HEX_LEN + 1])
{
	unsigned char md[20];
	unsigned mdlen = 0;
	size_t i;

	assert_int_equal(EVP_Digest(data, len, md, &mdlen, EVP_sha1(), NULL), 1);
	for (i = 0; i < sizeof(md); i++)
		(void)snprintf(out + 2 * i, 3, "%02X", md[i]);
}

static void sha256_hex(const void *data, size_t len, char out[CONTENT_SHA256_HEX_LEN + 1])
{
	unsigned char md[32];
	unsigned mdlen = 0;
	size_t i;

	assert_int_equal(EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL), 1);
	for (i = 0; i < sizeof(md); i++)
		(void)snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* dir/XX/SHA1.cab of a digest, malloc'd. */
static char *content_file(const struct fx *f, const char *sha1)
{
	char rel[64];

	(void)snprintf(rel, sizeof(rel), "%c%c/%s.cab", sha1[38], sha1[39], sha1);
	return tu_path(f->dir, rel);
}

/* Writes len bytes of data to a fresh incoming path and commits it. */
static void commit_bytes(struct fx *f, const void *data, size_t len, struct content_info *info)
{
	char path[4096];
	struct pp_error err;

	pp_error_clear(&err);
	assert_int_equal(content_store_incoming_path(f->cs, path, sizeof(path), &err), 0);
	tu_write_file(path, data, len);
	assert_int_equal(content_store_commit(f->cs, path, info, &err), 0);
	assert_false(tu_exists(path));
}

/* Places content by hand, as an administrator copying WSUSContent would. */
static void place_bytes(struct fx *f, const void *data, size_t len, char sha1[41])
{
	char xx[3], *sub, *path;

	sha1_hex(data, len, sha1);
	xx[0] = sha1[38];
	xx[1] = sha1[39];
	xx[2] = '\0';
	sub = tu_path(f->dir, xx);
	(void)mkdir(sub, 0755);
	path = content_file(f, sha1);
	tu_write_file(path, data, len);
	free(sub);
	free(path);
}

/* Waits (a few ms at most on tmpfs or ext4) until the kernel's clock has moved past the ctime of
 * path, so that a verification now is remembered and any later change moves ctime. */
static void wait_settled(const char *path)
{
	struct timespec now, ms = {0, 1000000};
	struct stat st;
	int i;

	assert_int_equal(stat(path, &st), 0);
	for (i = 0; i < 10000; i++) {
		assert_int_equal(clock_gettime(CLOCK_REALTIME_COARSE, &now), 0);
		if (now.tv_sec > st.st_ctim.tv_sec ||
		    (now.tv_sec == st.st_ctim.tv_sec && now.tv_nsec > st.st_ctim.tv_nsec))
			return;
		(void)nanosleep(&ms, NULL);
	}
	fail_msg("the clock did not move past the ctime of %s", path);
}

/* Opens sha1 verified; returns the error code (0 on success) and closes the descriptor. */
static uint32_t try_open(struct fx *f, const char *sha1, struct pp_error *err)
{
	uint64_t size = 0;
	int fd = -1;

	pp_error_clear(err);
	if (content_store_open_verified(f->cs, sha1, &fd, &size, err) != 0) {
		assert_int_equal(fd, -1);
		assert_true(err->code != 0);
		return err->code;
	}
	assert_true(fd >= 0);
	assert_int_equal(close(fd), 0);
	return 0;
}

static void flip_byte(const char *path, off_t at)
{
	unsigned char b;
	int fd = open(path, O_RDWR);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &b, 1, at), 1);
	b ^= 0x01;
	assert_int_equal(pwrite(fd, &b, 1, at), 1);
	assert_int_equal(close(fd), 0);
}

/* ---- open ---- */

static void test_open_makes_dirs(void **state)
{
	struct fx *f = *state;
	char *inc = tu_path(f->dir, ".incoming");
	char *other = tu_path(f->top, "other");
	char *other_inc = tu_path(other, ".incoming");
	struct content_store *cs;
	struct pp_error err;
	unsigned left = 99;
	mode_t old = umask(077);

	assert_int_equal(tu_file_mode(f->dir), 0755);
	assert_int_equal(tu_file_mode(inc), 0700);
	assert_string_equal(content_store_dir(f->cs), f->dir);
	/* The modes are exact whatever the umask. */
	pp_error_clear(&err);
	cs = content_store_open(other, &left, &err);
	(void)umask(old);
	assert_non_null(cs);
	assert_int_equal(left, 0);
	assert_int_equal(tu_file_mode(other), 0755);
	assert_int_equal(tu_file_mode(other_inc), 0700);
	content_store_free(cs);
	/* A parent that is missing is an error, not a tree made on the way. */
	free(other);
	other = tu_path(f->top, "missing/content");
	pp_error_clear(&err);
	assert_null(content_store_open(other, NULL, &err));
	assert_int_equal(err.code, HR_ERROR_FILE_NOT_FOUND);
	content_store_free(NULL);
	free(inc);
	free(other);
	free(other_inc);
}

static void test_open_removes_leftovers(void **state)
{
	struct fx *f = *state;
	char path[4096], *inc = tu_path(f->dir, ".incoming");
	char *sub = tu_path(inc, "keep.d"), *link = tu_path(inc, "link"), *tmp;
	struct pp_error err;
	unsigned left = 0;
	int i;

	pp_error_clear(&err);
	for (i = 0; i < 3; i++) {
		assert_int_equal(content_store_incoming_path(f->cs, path, sizeof(path), &err), 0);
		tu_write_file(path, "half a cab", 10);
	}
	/* Whatever a killed writer left, an atomicfile temporary included; the link goes, not
	 * what it points to. */
	tmp = tu_path(inc, ".x.cab.0123456789abcdef");
	tu_write_file(tmp, "t", 1);
	assert_int_equal(symlink(f->fence, link), 0);
	assert_int_equal(mkdir(sub, 0700), 0);
	content_store_free(f->cs);
	f->cs = content_store_open(f->dir, &left, &err);
	assert_non_null(f->cs);
	content_store_set_settle_seconds(f->cs, 0);
	assert_int_equal(left, 5);
	assert_int_equal(tu_count_entries(inc), 1);
	assert_true(tu_exists(sub));
	/* Nothing left the second time. */
	content_store_free(f->cs);
	f->cs = content_store_open(f->dir, &left, &err);
	assert_non_null(f->cs);
	content_store_set_settle_seconds(f->cs, 0);
	assert_int_equal(left, 0);
	free(inc);
	free(sub);
	free(link);
	free(tmp);
}

static void test_incoming_path(void **state)
{
	struct fx *f = *state;
	char a[4096], b[4096], small[16], *inc = tu_path(f->dir, ".incoming/");
	struct pp_error err;

	pp_error_clear(&err);
	assert_int_equal(content_store_incoming_path(f->cs, a, sizeof(a), &err), 0);
	assert_int_equal(content_store_incoming_path(f->cs, b, sizeof(b), &err), 0);
	assert_memory_equal(a, inc, strlen(inc));
	assert_int_equal(strlen(a), strlen(inc) + 36);
	assert_string_equal(a + strlen(a) - 4, ".tmp");
	assert_string_not_equal(a, b);
	assert_false(tu_exists(a));
	assert_int_equal(content_store_incoming_path(f->cs, small, sizeof(small), &err), -1);
	assert_int_equal(err.code, HR_E_INVALIDARG);
	free(inc);
}

/* ---- commit ---- */

static void test_commit(void **state)
{
	struct fx *f = *state;
	uint8_t data[70000];
	char sha1[41], sha256[65], url[64], xx[3], *file, *sub;
	struct content_info info;

	tu_fill(data, sizeof(data), 1);
	sha1_hex(data, sizeof(data), sha1);
	sha256_hex(data, sizeof(data), sha256);
	commit_bytes(f, data, sizeof(data), &info);
	assert_string_equal(info.sha1, sha1);
	assert_string_equal(info.sha256, sha256);
	assert_int_equal(info.size, sizeof(data));
	(void)snprintf(url, sizeof(url), "/Content/%c%c/%s.cab", sha1[38], sha1[39], sha1);
	assert_string_equal(info.url_path, url);
	file = content_file(f, sha1);
	xx[0] = sha1[38];
	xx[1] = sha1[39];
	xx[2] = '\0';
	sub = tu_path(f->dir, xx);
	assert_int_equal(tu_file_mode(file), 0444);
	assert_int_equal(tu_file_mode(sub), 0755);
	assert_true(content_store_exists(f->cs, sha1));
	{
		size_t len;
		uint8_t *back = tu_read_file(file, &len);

		assert_non_null(back);
		assert_int_equal(len, sizeof(data));
		assert_memory_equal(back, data, len);
		free(back);
	}
	/* Nothing is left in .incoming. */
	free(sub);
	sub = tu_path(f->dir, ".incoming");
	assert_int_equal(tu_count_entries(sub), 0);
	free(sub);
	free(file);
}

static void test_commit_empty(void **state)
{
	struct fx *f = *state;
	struct content_info info;

	commit_bytes(f, "", 0, &info);
	assert_string_equal(info.sha1, "DA39A3EE5E6B4B0D3255BFEF95601890AFD80709");
	assert_string_equal(info.sha256,
			    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	assert_int_equal(info.size, 0);
	assert_string_equal(info.url_path,
			    "/Content/09/DA39A3EE5E6B4B0D3255BFEF95601890AFD80709.cab");
}

static void test_commit_dedupe(void **state)
{
	struct fx *f = *state;
	struct content_info a, b;
	struct stat st1, st2;
	char *file;

	commit_bytes(f, "same bytes", 10, &a);
	file = content_file(f, a.sha1);
	assert_int_equal(stat(file, &st1), 0);
	/* The same content again: the incoming file goes, the stored one stays as it was. */
	commit_bytes(f, "same bytes", 10, &b);
	assert_memory_equal(&a, &b, sizeof(a));
	assert_int_equal(stat(file, &st2), 0);
	assert_int_equal(st1.st_ino, st2.st_ino);
	free(file);
}

static void test_commit_repairs_damaged(void **state)
{
	struct fx *f = *state;
	uint8_t data[5000];
	struct content_info a, b;
	struct pp_error err;
	char *file;

	tu_fill(data, sizeof(data), 7);
	commit_bytes(f, data, sizeof(data), &a);
	file = content_file(f, a.sha1);
	assert_int_equal(chmod(file, 0644), 0);
	flip_byte(file, 100);
	assert_int_equal(try_open(f, a.sha1, &err), CONTENT_E_DAMAGED);
	/* Committing the right bytes again replaces the damaged copy. */
	commit_bytes(f, data, sizeof(data), &b);
	assert_string_equal(a.sha1, b.sha1);
	assert_int_equal(try_open(f, a.sha1, &err), 0);
	assert_int_equal(tu_file_mode(file), 0444);
	free(file);
}

static void test_commit_refuses_other_paths(void **state)
{
	struct fx *f = *state;
	char path[4096], bad[4200], *inc = tu_path(f->dir, ".incoming");
	struct content_info info;
	struct pp_error err;

	pp_error_clear(&err);
	/* A file outside .incoming, even a well-named one. */
	assert_int_equal(content_store_commit(f->cs, f->fence, &info, &err), -1);
	assert_int_equal(err.code, CONTENT_E_BAD_NAME);
	assert_int_equal(content_store_incoming_path(f->cs, path, sizeof(path), &err), 0);
	(void)snprintf(bad, sizeof(bad), "%s/../../fence", inc);
	pp_error_clear(&err);
	assert_int_equal(content_store_commit(f->cs, bad, &info, &err), -1);
	assert_int_equal(err.code, CONTENT_E_BAD_NAME);
	(void)snprintf(bad, sizeof(bad), "%s/x.tmp", inc);
	pp_error_clear(&err);
	assert_int_equal(content_store_commit(f->cs, bad, &info, &err), -1);
	assert_int_equal(err.code, CONTENT_E_BAD_NAME);
	pp_error_clear(&err);
	assert_int_equal(content_store_commit(f->cs, NULL, &info, &err), -1);
	assert_int_equal(err.code, CONTENT_E_BAD_NAME);
	/* A good name with nothing there. */
	pp_error_clear(&err);
	assert_int_equal(content_store_commit(f->cs, path, &info, &err), -1);
	assert_int_equal(err.code, HR_ERROR_FILE_NOT_FOUND);
	/* A link at a good name is not followed. */
	assert_int_equal(symlink(f->fence, path), 0);
	pp_error_clear(&err);
	assert_int_equal(content_store_commit(f->cs, path, &info, &err), -1);
	assert_int_equal(tu_count_entries(f->dir), 2); /* .incoming and the link */
	assert_int_equal(tu_file_mode(f->fence), 0644);
	free(inc);
}

/* ---- verification ---- */

static void test_open_verified_good(void **state)
{
	struct fx *f = *state;
	uint8_t data[300000], back[300000];
	struct content_info info;
	struct pp_error err;
	uint64_t size = 0, before;
	char lower[41], *file;
	int fd = -1;
	size_t i;

	tu_fill(data, sizeof(data), 3);
	commit_bytes(f, data, sizeof(data), &info);
	file = content_file(f, info.sha1);
	wait_settled(file);
	before = content_store_hash_count(f->cs);
	pp_error_clear(&err);
	assert_int_equal(content_store_open_verified(f->cs, info.sha1, &fd, &size, &err), 0);
	assert_int_equal(size, sizeof(data));
	assert_int_equal(pread(fd, back, sizeof(back), 0), (ssize_t)sizeof(back));
	assert_memory_equal(back, data, sizeof(data));
	assert_int_equal(close(fd), 0);
	assert_int_equal(content_store_hash_count(f->cs), before + 1);
	/* Unchanged: remembered, not hashed again; the name in lower case is the same content. */
	for (i = 0; i < 40; i++)
		lower[i] = (char)(info.sha1[i] >= 'A' ? info.sha1[i] - 'A' + 'a' : info.sha1[i]);
	lower[40] = '\0';
	assert_int_equal(try_open(f, info.sha1, &err), 0);
	assert_int_equal(try_open(f, lower, &err), 0);
	assert_int_equal(content_store_hash_count(f->cs), before + 1);
	free(file);
}

/* Verified and remembered, then one byte flipped with pwrite (mtime and ctime move). */
static void test_flip_pwrite_refused(void **state)
{
	struct fx *f = *state;
	uint8_t data[20000];
	struct content_info info;
	struct pp_error err;
	char *file, want[200];
	uint8_t *now;
	uint64_t hashed;
	size_t len;

	tu_fill(data, sizeof(data), 4);
	commit_bytes(f, data, sizeof(data), &info);
	file = content_file(f, info.sha1);
	assert_int_equal(chmod(file, 0644), 0);
	wait_settled(file);
	assert_int_equal(try_open(f, info.sha1, &err), 0);
	hashed = content_store_hash_count(f->cs);
	assert_int_equal(try_open(f, info.sha1, &err), 0);
	assert_int_equal(content_store_hash_count(f->cs), hashed); /* remembered */

	flip_byte(file, 12345);
	assert_int_equal(try_open(f, info.sha1, &err), CONTENT_E_DAMAGED);
	assert_int_equal(content_store_hash_count(f->cs), hashed + 1);
	/* The message names the file and both digests. */
	assert_non_null(strstr(err.message, file));
	now = tu_read_file(file, &len);
	assert_non_null(now);
	{
		char actual[41];

		sha1_hex(now, len, actual);
		(void)snprintf(want, sizeof(want), "its SHA-1 is %s, its name says %s", actual,
			       info.sha1);
	}
	assert_non_null(strstr(err.message, want));
	/* Refused from then on, without hashing it again; left where it is. */
	assert_int_equal(try_open(f, info.sha1, &err), CONTENT_E_DAMAGED);
	assert_int_equal(content_store_hash_count(f->cs), hashed + 1);
	assert_true(content_store_exists(f->cs, info.sha1));
	/* Put right, it changes once more (a later ctime) and verifies again. */
	wait_settled(file);
	flip_byte(file, 12345);
	assert_int_equal(try_open(f, info.sha1, &err), 0);
	free(now);
	free(file);
}

/* The same with the mtime put back by futimens: size, inode and mtime as before; only ctime
 * tells, and it cannot be set back. */
static void test_flip_futimens_refused(void **state)
{
	struct fx *f = *state;
	uint8_t data[20000], b;
	struct content_info info;
	struct pp_error err;
	struct timespec times[2];
	struct stat st, st2;
	uint64_t hashed;
	char *file;
	int fd;

	tu_fill(data, sizeof(data), 5);
	commit_bytes(f, data, sizeof(data), &info);
	file = content_file(f, info.sha1);
	assert_int_equal(chmod(file, 0644), 0);
	wait_settled(file);
	assert_int_equal(try_open(f, info.sha1, &err), 0);
	hashed = content_store_hash_count(f->cs);
	assert_int_equal(try_open(f, info.sha1, &err), 0);
	assert_int_equal(content_store_hash_count(f->cs), hashed);

	assert_int_equal(stat(file, &st), 0);
	fd = open(file, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &b, 1, 0), 1);
	b ^= 0x80;
	assert_int_equal(pwrite(fd, &b, 1, 0), 1);
	times[0] = st.st_atim;
	times[1] = st.st_mtim;
	assert_int_equal(futimens(fd, times), 0);
	assert_int_equal(close(fd), 0);
	assert_int_equal(stat(file, &st2), 0);
	assert_int_equal(st2.st_size, st.st_size);
	assert_int_equal(st2.st_ino, st.st_ino);
	assert_int_equal(st2.st_mtim.tv_sec, st.st_mtim.tv_sec);
	assert_int_equal(st2.st_mtim.tv_nsec, st.st_mtim.tv_nsec);

	assert_int_equal(try_open(f, info.sha1, &err), CONTENT_E_DAMAGED);
	assert_int_equal(content_store_hash_count(f->cs), hashed + 1);
	assert_int_equal(try_open(f, info.sha1, &err), CONTENT_E_DAMAGED);
	free(file);
}

/* A file that changed less than the settle time ago is verified at every open. */
static void test_settle_time(void **state)
{
	struct fx *f = *state;
	struct content_info info;
	struct pp_error err;
	uint64_t hashed;
	char *file;

	content_store_set_settle_seconds(f->cs, 3600);
	commit_bytes(f, "fresh", 5, &info);
	file = content_file(f, info.sha1);
	wait_settled(file);
	hashed = content_store_hash_count(f->cs);
	assert_int_equal(try_open(f, info.sha1, &err), 0);
	assert_int_equal(try_open(f, info.sha1, &err), 0);
	assert_int_equal(content_store_hash_count(f->cs), hashed + 2);
	/* Once settled it is remembered. */
	content_store_set_settle_seconds(f->cs, 0);
	assert_int_equal(try_open(f, info.sha1, &err), 0);
	assert_int_equal(try_open(f, info.sha1, &err), 0);
	assert_int_equal(content_store_hash_count(f->cs), hashed + 3);
	free(file);
}

static void test_bad_names(void **state)
{
	struct fx *f = *state;
	static const char *const bad[] = {
	    "",
	    "DA39A3EE5E6B4B0D3255BFEF95601890AFD8070",	 /* 39 */
	    "DA39A3EE5E6B4B0D3255BFEF95601890AFD807090", /* 41 */
	    "DA39A3EE5E6B4B0D3255BFEF95601890AFD8070G",
	    "DA39A3EE5E6B4B0D3255BFEF95601890AFD8070 ",
	    "../../../../../../../../../../../../fence",
	    "DA39A3EE5E6B4B0D3255BFEF/5601890AFD80709",
	    "DA39A3EE5E6B4B0D3255BFEF95601890AFD80709.cab",
	    "0x39A3EE5E6B4B0D3255BFEF95601890AFD80709",
	};
	struct content_info info;
	struct pp_error err;
	uint64_t size = 1;
	size_t i;
	int fd = 7;

	commit_bytes(f, "", 0, &info);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		pp_error_clear(&err);
		assert_int_equal(content_store_open_verified(f->cs, bad[i], &fd, &size, &err), -1);
		assert_int_equal(err.code, CONTENT_E_BAD_NAME);
		assert_int_equal(fd, -1);
		assert_false(content_store_exists(f->cs, bad[i]));
		pp_error_clear(&err);
		assert_int_equal(content_store_remove(f->cs, bad[i], &err), -1);
		assert_int_equal(err.code, CONTENT_E_BAD_NAME);
	}
	pp_error_clear(&err);
	assert_int_equal(content_store_open_verified(f->cs, NULL, &fd, &size, &err), -1);
	assert_int_equal(err.code, CONTENT_E_BAD_NAME);
	/* Well formed but not there. */
	assert_int_equal(try_open(f, "0000000000000000000000000000000000000000", &err),
			 CONTENT_E_NOT_FOUND);
	assert_false(content_store_exists(f->cs, "0000000000000000000000000000000000000000"));
	/* The empty file is there, and its name in lower case is the same name. */
	assert_int_equal(try_open(f, "da39a3ee5e6b4b0d3255bfef95601890afd80709", &err), 0);
	assert_true(content_store_exists(f->cs, "da39a3ee5e6b4b0d3255bfef95601890afd80709"));
	assert_int_equal(
	    content_sha1_normalize("da39a3ee5e6b4b0d3255bfef95601890afd80709", info.sha1), 0);
	assert_string_equal(info.sha1, "DA39A3EE5E6B4B0D3255BFEF95601890AFD80709");
	assert_int_equal(content_sha1_normalize(bad[1], info.sha1), -1);
	assert_int_equal(content_sha1_normalize(NULL, info.sha1), -1);
}

/* Links are not followed, at the file or at its directory, even to the right bytes. */
static void test_links_refused(void **state)
{
	struct fx *f = *state;
	char sha1[41], rel[64], *target = tu_path(f->top, "real.cab"), *sub, *file, *xx2;
	struct pp_error err;

	tu_write_file(target, "linked", 6);
	sha1_hex("linked", 6, sha1);
	(void)snprintf(rel, sizeof(rel), "%c%c", sha1[38], sha1[39]);
	sub = tu_path(f->dir, rel);
	assert_int_equal(mkdir(sub, 0755), 0);
	file = content_file(f, sha1);
	assert_int_equal(symlink(target, file), 0);
	assert_int_equal(try_open(f, sha1, &err), CONTENT_E_NOT_FOUND);
	assert_false(content_store_exists(f->cs, sha1));
	/* The directory a link: XX -> top/xx2 holding the file. */
	assert_int_equal(unlink(file), 0);
	assert_int_equal(rmdir(sub), 0);
	xx2 = tu_path(f->top, "xx2");
	assert_int_equal(mkdir(xx2, 0755), 0);
	(void)snprintf(rel, sizeof(rel), "xx2/%s.cab", sha1);
	free(target);
	target = tu_path(f->top, rel);
	tu_write_file(target, "linked", 6);
	assert_int_equal(symlink(xx2, sub), 0);
	assert_int_equal(try_open(f, sha1, &err), CONTENT_E_NOT_FOUND);
	assert_false(content_store_exists(f->cs, sha1));
	free(target);
	free(sub);
	free(file);
	free(xx2);
}

/* ---- scrub, remove ---- */

static void report_bad(void *ctx, const char *sha1, const struct pp_error *why)
{
	char *seen = ctx;

	assert_int_equal(why->code, CONTENT_E_DAMAGED);
	assert_non_null(strstr(why->message, sha1));
	(void)snprintf(seen + strlen(seen), 100, "%s;", sha1);
}

static void test_scrub(void **state)
{
	struct fx *f = *state;
	char s1[41], s2[41], s3[41], seen[400] = "", want[100], *file, *junk, *lower;
	struct pp_error err;
	unsigned checked = 99, bad = 99;
	uint64_t hashed;

	/* Nothing yet. */
	pp_error_clear(&err);
	assert_int_equal(content_store_scrub(f->cs, report_bad, seen, &checked, &bad, &err), 0);
	assert_int_equal(checked, 0);
	assert_int_equal(bad, 0);

	place_bytes(f, "one", 3, s1);
	place_bytes(f, "two", 3, s2);
	place_bytes(f, "three", 5, s3);
	file = content_file(f, s2);
	flip_byte(file, 1);
	/* Not content: another name at the top, a lower-case directory, a file under the wrong
	 * XX, a name without .cab. */
	junk = tu_path(f->dir, "README");
	tu_write_file(junk, "x", 1);
	free(junk);
	lower = tu_path(f->dir, "ab");
	assert_int_equal(mkdir(lower, 0755), 0);
	junk = tu_path(lower, "00000000000000000000000000000000000000AB.cab");
	tu_write_file(junk, "x", 1);
	free(junk);
	(void)snprintf(want, sizeof(want), "%c%c/%.39s%c.cab", s1[38], s1[39], s1,
		       s1[39] == '0' ? '1' : '0');
	junk = tu_path(f->dir, want);
	tu_write_file(junk, "x", 1);
	free(junk);
	(void)snprintf(want, sizeof(want), "%c%c/%s", s1[38], s1[39], s1);
	junk = tu_path(f->dir, want);
	tu_write_file(junk, "x", 1);
	free(junk);

	wait_settled(file);
	hashed = content_store_hash_count(f->cs);
	assert_int_equal(content_store_scrub(f->cs, report_bad, seen, &checked, &bad, &err), 0);
	assert_int_equal(checked, 3);
	assert_int_equal(bad, 1);
	(void)snprintf(want, sizeof(want), "%s;", s2);
	assert_string_equal(seen, want);
	assert_int_equal(content_store_hash_count(f->cs), hashed + 3);
	/* The good ones are remembered, the bad one refused without another hash. */
	assert_int_equal(try_open(f, s1, &err), 0);
	assert_int_equal(try_open(f, s3, &err), 0);
	assert_int_equal(try_open(f, s2, &err), CONTENT_E_DAMAGED);
	assert_int_equal(content_store_hash_count(f->cs), hashed + 3);
	/* NULL counts and report are fine. */
	assert_int_equal(content_store_scrub(f->cs, NULL, NULL, NULL, NULL, &err), 0);
	free(file);
	free(lower);
}

static void test_remove(void **state)
{
	struct fx *f = *state;
	struct content_info info;
	struct pp_error err;
	char *file;

	commit_bytes(f, "to remove", 9, &info);
	file = content_file(f, info.sha1);
	assert_int_equal(try_open(f, info.sha1, &err), 0);
	pp_error_clear(&err);
	assert_int_equal(content_store_remove(f->cs, info.sha1, &err), 0);
	assert_false(tu_exists(file));
	assert_false(content_store_exists(f->cs, info.sha1));
	assert_int_equal(try_open(f, info.sha1, &err), CONTENT_E_NOT_FOUND);
	pp_error_clear(&err);
	assert_int_equal(content_store_remove(f->cs, info.sha1, &err), -1);
	assert_int_equal(err.code, CONTENT_E_NOT_FOUND);
	/* Never anything outside the store, an unknown XX included. */
	pp_error_clear(&err);
	assert_int_equal(
	    content_store_remove(f->cs, "1111111111111111111111111111111111111111", &err), -1);
	assert_int_equal(err.code, CONTENT_E_NOT_FOUND);
	free(file);
}

/* Enough files to grow the table twice, then half of them removed: every remaining one is still
 * found remembered (the deletions keep the probe runs whole). */
static void test_many(void **state)
{
	enum { N = 600 };
	struct fx *f = *state;
	static char names[N][41];
	struct pp_error err;
	unsigned checked = 0, bad = 0;
	char data[32], *last = NULL;
	uint64_t hashed;
	int i;

	for (i = 0; i < N; i++) {
		(void)snprintf(data, sizeof(data), "content number %d", i);
		place_bytes(f, data, strlen(data), names[i]);
	}
	last = content_file(f, names[N - 1]);
	wait_settled(last);
	pp_error_clear(&err);
	assert_int_equal(content_store_scrub(f->cs, NULL, NULL, &checked, &bad, &err), 0);
	assert_int_equal(checked, N);
	assert_int_equal(bad, 0);
	hashed = content_store_hash_count(f->cs);
	for (i = 0; i < N; i++)
		assert_int_equal(try_open(f, names[i], &err), 0);
	assert_int_equal(content_store_hash_count(f->cs), hashed);
	for (i = 0; i < N; i += 2) {
		pp_error_clear(&err);
		assert_int_equal(content_store_remove(f->cs, names[i], &err), 0);
	}
	for (i = 1; i < N; i += 2)
		assert_int_equal(try_open(f, names[i], &err), 0);
	assert_int_equal(content_store_hash_count(f->cs), hashed);
	for (i = 0; i < N; i += 2)
		assert_int_equal(try_open(f, names[i], &err), CONTENT_E_NOT_FOUND);
	free(last);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_open_makes_dirs, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_open_removes_leftovers, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_incoming_path, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_commit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_commit_empty, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_commit_dedupe, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_commit_repairs_damaged, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_commit_refuses_other_paths, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_open_verified_good, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_flip_pwrite_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_flip_futimens_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_settle_time, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_names, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_links_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_scrub, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_remove, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_many, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
