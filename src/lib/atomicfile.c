/* atomicfile.c - temporary file next to the target, renamed over it when complete (see
 * atomicfile.h for the contract). */
#include "atomicfile.h"

#include "hresult.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define TEMP_ATTEMPTS 8	 /* names tried before giving up (each collision is 2^-64 by chance) */
#define TEMP_BASE_MAX 64 /* bytes of the target's name kept in the temporary name (NAME_MAX) */

int atomicfile_open(struct atomicfile *af, const char *path, struct pp_error *err)
{
	const char *slash, *base;
	static const char hex[] = "0123456789abcdef";
	unsigned char rnd[8];
	size_t prefix, size, i;
	ssize_t got;
	int attempt, n;

	af->fd = -1;
	af->tmp = NULL;
	af->path = NULL;
	if (strnlen(path, PATH_MAX) >= PATH_MAX) {
		pp_error_set(err, HR_ERROR_INVALID_NAME, "path too long: %s", path);
		return -1;
	}
	slash = strrchr(path, '/');
	base = slash == NULL ? path : slash + 1;
	if (base[0] == '\0') {
		pp_error_set(err, HR_ERROR_INVALID_NAME, "%s names a directory, not a file", path);
		return -1;
	}
	/* "<dir>/" + "." + base + "." + 16 hex digits + NUL */
	prefix = (size_t)(base - path);
	size = prefix + 1 + TEMP_BASE_MAX + 1 + 2 * sizeof(rnd) + 1;
	af->tmp = malloc(size);
	af->path = strdup(path);
	if (af->tmp == NULL || af->path == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
		goto fail;
	}
	for (attempt = 0; attempt < TEMP_ATTEMPTS && af->fd < 0; attempt++) {
		got = getrandom(rnd, sizeof(rnd), 0);
		if (got != (ssize_t)sizeof(rnd)) {
			pp_error_set_errno(err, got < 0 ? errno : EIO,
					   "no random bytes for a temporary name");
			goto fail;
		}
		n = snprintf(af->tmp, size, "%.*s.%.*s.", (int)prefix, path, TEMP_BASE_MAX, base);
		if (n < 0 || (size_t)n + 2 * sizeof(rnd) >= size) {
			pp_error_set(err, HR_ERROR_INVALID_NAME, "path too long: %s", path);
			goto fail;
		}
		for (i = 0; i < sizeof(rnd); i++) {
			af->tmp[(size_t)n + 2 * i] = hex[rnd[i] >> 4];
			af->tmp[(size_t)n + 2 * i + 1] = hex[rnd[i] & 15];
		}
		af->tmp[(size_t)n + 2 * sizeof(rnd)] = '\0';
		/* O_EXCL alone already refuses a symbolic link at the name; O_NOFOLLOW says so. */
		af->fd = open(af->tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (af->fd < 0 && errno != EEXIST) {
			pp_error_set_errno(err, errno, "cannot create a temporary file next to %s",
					   path);
			goto fail;
		}
	}
	if (af->fd < 0) {
		pp_error_set(err, HR_ERROR_FILE_EXISTS,
			     "cannot find a free temporary name next to %s", path);
		goto fail;
	}
	return 0;
fail:
	free(af->tmp);
	free(af->path);
	af->tmp = NULL;
	af->path = NULL;
	return -1;
}

/* The directory part of path: "." without a slash, "/" for a name in the root. */
static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	return strndup(path, (size_t)(slash - path));
}

int atomicfile_commit(struct atomicfile *af, mode_t mode, bool durable, struct pp_error *err)
{
	char *dir = NULL;
	int rc = -1, fd = af->fd;

	if (fd < 0 || af->tmp == NULL || af->path == NULL) {
		pp_error_set(err, HR_E_INVALIDARG, "no temporary file to commit");
		goto out;
	}
	/* The umask may have narrowed the mode; the caller's mode is the contract. */
	if (fchmod(fd, mode) != 0) {
		pp_error_set_errno(err, errno, "cannot set the mode of %s", af->tmp);
		goto out;
	}
	if (durable && fsync(fd) != 0) {
		pp_error_set_errno(err, errno, "cannot write %s", af->path);
		goto out;
	}
	af->fd = -1;
	if (close(fd) != 0) {
		pp_error_set_errno(err, errno, "cannot write %s", af->path);
		goto out;
	}
	if (rename(af->tmp, af->path) != 0) {
		pp_error_set_errno(err, errno, "cannot rename %s to %s", af->tmp, af->path);
		goto out;
	}
	free(af->tmp);
	af->tmp = NULL;
	if (durable) {
		/* Best effort: the file is already in place, so failing now would report a write
		 * that happened; some filesystems refuse fsync on a directory (EINVAL). */
		dir = dir_of(af->path);
		if (dir != NULL) {
			int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

			if (dfd >= 0) {
				(void)fsync(dfd);
				(void)close(dfd);
			}
		}
	}
	rc = 0;
out:
	free(dir);
	atomicfile_abort(af);
	return rc;
}

void atomicfile_abort(struct atomicfile *af)
{
	if (af->fd >= 0)
		(void)close(af->fd);
	if (af->tmp != NULL)
		(void)unlink(af->tmp);
	free(af->tmp);
	free(af->path);
	af->fd = -1;
	af->tmp = NULL;
	af->path = NULL;
}

int atomicfile_write(const char *path, const void *buf, size_t len, mode_t mode, bool durable,
		     struct pp_error *err)
{
	struct atomicfile af = ATOMICFILE_INIT;
	const unsigned char *p = buf;
	size_t done = 0;
	ssize_t n;
	int rc = -1;

	if (atomicfile_open(&af, path, err) != 0)
		return -1;
	while (done < len) {
		n = write(af.fd, p + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			pp_error_set_errno(err, errno, "cannot write %s", path);
			goto out;
		}
		done += (size_t)n;
	}
	if (atomicfile_commit(&af, mode, durable, err) != 0)
		goto out;
	rc = 0;
out:
	atomicfile_abort(&af);
	return rc;
}

int atomicfile_sync_dir(const char *dir, struct pp_error *err)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = -1;

	if (fd < 0) {
		pp_error_set_errno(err, errno, "cannot open directory '%s' to sync it", dir);
		return -1;
	}
	if (fsync(fd) != 0) {
		pp_error_set_errno(err, errno, "cannot sync directory '%s'", dir);
		goto out;
	}
	rc = 0;
out:
	(void)close(fd);
	return rc;
}

int atomicfile_mkdirs(const char *path, struct pp_error *err)
{
	char buf[PATH_MAX];
	size_t i, len = strlen(path);
	struct stat st;

	if (len >= sizeof(buf)) {
		pp_error_set(err, HR_ERROR_INVALID_NAME, "path too long: %s", path);
		return -1;
	}
	memcpy(buf, path, len + 1);
	for (i = 1; i <= len; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		if (buf[i - 1] == '/')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
			pp_error_set_errno(err, errno, "cannot create directory %s", buf);
			return -1;
		}
		if (stat(buf, &st) != 0 || !S_ISDIR(st.st_mode)) {
			pp_error_set(err, HR_ERROR_FILE_EXISTS, "%s exists and is not a directory",
				     buf);
			return -1;
		}
		if (i < len)
			buf[i] = '/';
	}
	return 0;
}
