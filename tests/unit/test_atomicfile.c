/* test_atomicfile.c - files that appear whole or not at all: the mode at commit, nothing left
 * behind by abort or by a failed commit, the old content until the rename, and a symbolic link
 * planted at the temporary name never followed.
 *
 * This binary is linked with -Wl,--wrap=getrandom, so that a test can choose the temporary names
 * atomicfile_open tries and plant a link at one of them. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "atomicfile.h"
#include "hresult.h"
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- deterministic temporary names ---- */

static int fixed_byte = -1; /* >= 0: getrandom fills with this byte, then adds fixed_step */
static int fixed_step = 1;
static int random_errno; /* != 0: getrandom fails with this */

ssize_t __real_getrandom(void *buf, size_t len, unsigned int flags);
ssize_t __wrap_getrandom(void *buf, size_t len, unsigned int flags);

ssize_t __wrap_getrandom(void *buf, size_t len, unsigned int flags)
{
	if (random_errno != 0) {
		errno = random_errno;
		return -1;
	}
	if (fixed_byte < 0)
		return __real_getrandom(buf, len, flags);
	memset(buf, fixed_byte, len);
	fixed_byte = (fixed_byte + fixed_step) & 0xFF;
	return (ssize_t)len;
}

static void random_names(void)
{
	fixed_byte = -1;
	fixed_step = 1;
	random_errno = 0;
}

/* ---- helpers ---- */

static void write_str(int fd, const char *s)
{
	assert_int_equal(write(fd, s, strlen(s)), (ssize_t)strlen(s));
}

/* ---- tests ---- */

static void test_commit_creates_with_mode(void **state)
{
	static const mode_t modes[] = {0600, 0644, 0640, 0444};
	char *d = tu_tmpdir(), *p = tu_path(d, "f.bin");
	struct pp_error err;
	mode_t old_mask;
	size_t i;

	(void)state;
	old_mask = umask(077); /* the mode given is the mode set, whatever the umask */
	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		(void)unlink(p);
		pp_error_clear(&err);
		assert_int_equal(atomicfile_write(p, "data", 4, modes[i], i % 2 == 0, &err), 0);
		assert_int_equal(err.code, 0);
		assert_int_equal(tu_file_mode(p), modes[i]);
		tu_assert_file_text(p, "data");
		assert_int_equal(tu_count_entries(d), 1); /* no temporary file left */
	}
	/* An empty file is a file too. */
	assert_int_equal(atomicfile_write(p, "", 0, 0600, true, &err), 0);
	tu_assert_file_text(p, "");
	umask(old_mask);
	tu_rmrf(d);
	free(p);
	free(d);
}

static void test_temporary_is_private_until_commit(void **state)
{
	char *d = tu_tmpdir(), *p = tu_path(d, "key.pfx");
	struct atomicfile af = ATOMICFILE_INIT;
	struct pp_error err;
	const char *slash;

	(void)state;
	random_names();
	pp_error_clear(&err);
	assert_int_equal(atomicfile_open(&af, p, &err), 0);
	assert_true(af.fd >= 0);
	assert_non_null(af.tmp);
	/* ".<name>.<16 hex digits>" in the target's directory, mode 0600 */
	slash = strrchr(af.tmp, '/');
	assert_non_null(slash);
	assert_int_equal(strncmp(af.tmp, d, strlen(d)), 0);
	assert_int_equal((size_t)(slash - af.tmp), strlen(d));
	assert_int_equal(strncmp(slash + 1, ".key.pfx.", 9), 0);
	assert_int_equal(strlen(slash + 1), 9 + 16);
	assert_int_equal(tu_file_mode(af.tmp), 0600);
	assert_false(tu_exists(p));
	assert_int_equal(fcntl(af.fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	write_str(af.fd, "secret");
	assert_int_equal(atomicfile_commit(&af, 0600, true, &err), 0);
	assert_int_equal(af.fd, -1);
	assert_null(af.tmp);
	tu_assert_file_text(p, "secret");
	assert_int_equal(tu_count_entries(d), 1);
	atomicfile_abort(&af); /* after commit: nothing to do, the target stays */
	tu_assert_file_text(p, "secret");
	tu_rmrf(d);
	free(p);
	free(d);
}

static void test_abort_leaves_nothing(void **state)
{
	char *d = tu_tmpdir(), *p = tu_path(d, "out.cab"), *other = tu_path(d, "other");
	struct atomicfile af = ATOMICFILE_INIT;
	struct pp_error err;
	int before;

	(void)state;
	random_names();
	atomicfile_abort(&af); /* on ATOMICFILE_INIT */
	tu_write_file(other, "x", 1);
	before = tu_count_entries(d);
	pp_error_clear(&err);
	assert_int_equal(atomicfile_open(&af, p, &err), 0);
	write_str(af.fd, "half a cabinet");
	assert_int_equal(tu_count_entries(d), before + 1);
	atomicfile_abort(&af);
	assert_int_equal(tu_count_entries(d), before);
	assert_false(tu_exists(p));
	atomicfile_abort(&af); /* twice */
	assert_int_equal(tu_count_entries(d), before);
	/* A commit after abort has nothing to commit. */
	pp_error_clear(&err);
	assert_int_equal(atomicfile_commit(&af, 0644, false, &err), -1);
	assert_int_equal(err.code, HR_E_INVALIDARG);
	assert_int_equal(tu_count_entries(d), before);
	tu_rmrf(d);
	free(other);
	free(p);
	free(d);
}

static void test_failing_commit_leaves_no_temp(void **state)
{
	char *d = tu_tmpdir(), *p = tu_path(d, "target"), *inside = tu_path(p, "keep");
	struct atomicfile af = ATOMICFILE_INIT;
	struct pp_error err;
	int before;
	bool durable;

	(void)state;
	random_names();
	/* A non-empty directory where the file goes: the rename fails. */
	assert_int_equal(mkdir(p, 0755), 0);
	tu_write_file(inside, "x", 1);
	before = tu_count_entries(d);
	for (durable = false;; durable = true) {
		pp_error_clear(&err);
		assert_int_equal(atomicfile_open(&af, p, &err), 0);
		write_str(af.fd, "new");
		assert_int_equal(atomicfile_commit(&af, 0644, durable, &err), -1);
		assert_int_not_equal(err.code, 0);
		assert_non_null(strstr(err.message, p));
		assert_int_equal(af.fd, -1);
		assert_null(af.tmp);
		assert_int_equal(tu_count_entries(d), before);
		atomicfile_abort(&af);
		pp_error_clear(&err);
		assert_int_equal(atomicfile_write(p, "new", 3, 0644, durable, &err), -1);
		assert_non_null(strstr(err.message, p));
		assert_int_equal(tu_count_entries(d), before);
		if (durable)
			break;
	}
	tu_assert_file_text(inside, "x");
	tu_rmrf(d);
	free(inside);
	free(p);
	free(d);
}

static void test_replace_is_atomic(void **state)
{
	char *d = tu_tmpdir(), *p = tu_path(d, "value");
	struct atomicfile af = ATOMICFILE_INIT;
	struct pp_error err;
	struct stat before, after;
	int reader;

	(void)state;
	random_names();
	tu_write_file(p, "old content", 11);
	assert_int_equal(chmod(p, 0600), 0);
	assert_int_equal(stat(p, &before), 0);
	reader = open(p, O_RDONLY | O_CLOEXEC);
	assert_true(reader >= 0);
	pp_error_clear(&err);
	assert_int_equal(atomicfile_open(&af, p, &err), 0);
	write_str(af.fd, "new content, longer than the old");
	/* Until the commit, readers see the old file, whole. */
	tu_assert_file_text(p, "old content");
	assert_int_equal(tu_file_mode(p), 0600);
	assert_int_equal(atomicfile_commit(&af, 0644, false, &err), 0);
	tu_assert_file_text(p, "new content, longer than the old");
	assert_int_equal(tu_file_mode(p), 0644);
	assert_int_equal(stat(p, &after), 0);
	assert_true(after.st_ino != before.st_ino); /* replaced, not rewritten in place */
	{
		char buf[32] = "";

		/* A reader that opened the old file still reads all of it. */
		assert_int_equal(read(reader, buf, sizeof(buf) - 1), 11);
		assert_string_equal(buf, "old content");
	}
	close(reader);
	assert_int_equal(tu_count_entries(d), 1);
	tu_rmrf(d);
	free(p);
	free(d);
}

static void test_symlink_at_temp_not_followed(void **state)
{
	char *d = tu_tmpdir(), *p = tu_path(d, "key.pfx"), *victim = tu_path(d, "victim"),
	     *planted = tu_path(d, "planted");
	struct atomicfile af = ATOMICFILE_INIT;
	struct pp_error err;
	char *first;
	struct stat st;

	(void)state;
	tu_write_file(victim, "do not touch", 12);
	/* Learn the first name tried for byte 0x11, then plant a dangling link there. */
	fixed_byte = 0x11;
	pp_error_clear(&err);
	assert_int_equal(atomicfile_open(&af, p, &err), 0);
	first = strdup(af.tmp);
	assert_non_null(first);
	atomicfile_abort(&af);
	assert_false(tu_exists(first));
	assert_int_equal(symlink(planted, first), 0);
	/* The same names again: the link is refused, the next name is used. */
	fixed_byte = 0x11;
	assert_int_equal(atomicfile_open(&af, p, &err), 0);
	assert_string_not_equal(af.tmp, first);
	write_str(af.fd, "key");
	assert_int_equal(atomicfile_commit(&af, 0600, true, &err), 0);
	tu_assert_file_text(p, "key");
	assert_false(tu_exists(planted)); /* nothing was created through the link */
	assert_int_equal(lstat(first, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	/* Every name taken by a link to an existing file: refused, the file untouched. */
	assert_int_equal(unlink(first), 0);
	assert_int_equal(symlink(victim, first), 0);
	fixed_byte = 0x11;
	fixed_step = 0;
	pp_error_clear(&err);
	assert_int_equal(atomicfile_open(&af, p, &err), -1);
	assert_int_equal(err.code, HR_ERROR_FILE_EXISTS);
	assert_int_equal(af.fd, -1);
	assert_null(af.tmp);
	tu_assert_file_text(victim, "do not touch");
	tu_assert_file_text(p, "key");
	random_names();
	tu_rmrf(d);
	free(first);
	free(planted);
	free(victim);
	free(p);
	free(d);
}

static void test_bad_paths(void **state)
{
	char *d = tu_tmpdir(), *missing = tu_path(d, "no/such/dir/f"), *slash = tu_path(d, "sub/");
	struct atomicfile af = ATOMICFILE_INIT;
	struct pp_error err;

	(void)state;
	random_names();
	pp_error_clear(&err);
	assert_int_equal(atomicfile_open(&af, missing, &err), -1);
	assert_int_equal(err.code, pp_hresult_from_errno(ENOENT));
	assert_non_null(strstr(err.message, missing));
	assert_int_equal(af.fd, -1);
	assert_null(af.tmp);
	pp_error_clear(&err);
	assert_int_equal(atomicfile_open(&af, slash, &err), -1);
	assert_int_equal(err.code, HR_ERROR_INVALID_NAME);
	assert_non_null(strstr(err.message, "names a directory"));
	/* No random bytes, no temporary name. */
	random_errno = EIO;
	pp_error_clear(&err);
	assert_int_equal(atomicfile_write(missing, "x", 1, 0600, true, &err), -1);
	assert_non_null(strstr(err.message, "random"));
	random_names();
	/* The directory sync names the directory it could not open. */
	pp_error_clear(&err);
	assert_int_equal(atomicfile_sync_dir(missing, &err), -1);
	assert_non_null(strstr(err.message, missing));
	assert_int_equal(atomicfile_sync_dir(d, &err), 0);
	assert_int_equal(tu_count_entries(d), 0);
	tu_rmrf(d);
	free(slash);
	free(missing);
	free(d);
}

static void test_relative_path(void **state)
{
	char *d = tu_tmpdir(), cwd[4096];

	struct pp_error err;

	(void)state;
	random_names();
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(d), 0);
	pp_error_clear(&err);
	assert_int_equal(atomicfile_write("plain.txt", "hi", 2, 0644, true, &err), 0);
	tu_assert_file_text("plain.txt", "hi");
	assert_int_equal(chdir(cwd), 0);
	assert_int_equal(tu_count_entries(d), 1);
	tu_rmrf(d);
	free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_commit_creates_with_mode),
	    cmocka_unit_test(test_temporary_is_private_until_commit),
	    cmocka_unit_test(test_abort_leaves_nothing),
	    cmocka_unit_test(test_failing_commit_leaves_no_temp),
	    cmocka_unit_test(test_replace_is_atomic),
	    cmocka_unit_test(test_symlink_at_temp_not_followed),
	    cmocka_unit_test(test_bad_paths),
	    cmocka_unit_test(test_relative_path),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
