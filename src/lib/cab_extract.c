/* cab_extract.c - extracting a cabinet into a directory: the stored-name rules
 * (cab_safe_relative_path) and staged extraction that leaves the target as it was when anything
 * fails. Decoding is cab.c's folder walk (cab_internal.h). */
#include "cab.h"
#include "cab_internal.h"

#include "hresult.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int write_full(int fd, const uint8_t *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = write(fd, buf + done, len - done);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		done += (size_t)n;
	}
	return 0;
}

/* ---- names ---- */

int cab_safe_relative_path(const char *stored, char *out, size_t out_size, struct pp_error *err)
{
	size_t len, i, comp_start = 0;

	len = stored != NULL ? strnlen(stored, CAB_NAME_MAX + 1u) : 0;
	if (len == 0 || len > CAB_NAME_MAX) {
		pp_error_set(err, HR_ERROR_INVALID_NAME,
			     "cabinet file name is empty or longer than %u bytes", CAB_NAME_MAX);
		return -1;
	}
	if (len + 1 > out_size) {
		pp_error_set(err, HR_ERROR_INVALID_NAME,
			     "cabinet file name \"%s\" does not fit in %zu bytes", stored,
			     out_size);
		return -1;
	}
	if (stored[0] == '\\' || stored[0] == '/') {
		pp_error_set(err, HR_ERROR_INVALID_NAME,
			     "cabinet file name \"%s\" is absolute; only relative names are "
			     "extracted",
			     stored);
		return -1;
	}
	/* A colon is a drive letter (C:x) or an NTFS stream (a:b); neither is a plain name. */
	if (memchr(stored, ':', len) != NULL) {
		pp_error_set(err, HR_ERROR_INVALID_NAME,
			     "cabinet file name \"%s\" contains ':' (a drive letter or stream)",
			     stored);
		return -1;
	}
	for (i = 0; i <= len; i++) {
		char c = stored[i];

		if (c != '\0' && c != '\\' && c != '/') {
			if ((unsigned char)c < 0x20) {
				pp_error_set(err, HR_ERROR_INVALID_NAME,
					     "cabinet file name contains control character 0x%02X",
					     (unsigned)(unsigned char)c);
				return -1;
			}
			out[i] = c;
			continue;
		}
		/* End of a component: refuse "", "." and "..". */
		if (i == comp_start || (i - comp_start == 1 && stored[comp_start] == '.') ||
		    (i - comp_start == 2 && stored[comp_start] == '.' &&
		     stored[comp_start + 1] == '.')) {
			pp_error_set(err, HR_ERROR_INVALID_NAME,
				     "cabinet file name \"%s\" has an empty, \".\" or \"..\" "
				     "component",
				     stored);
			return -1;
		}
		out[i] = c == '\0' ? '\0' : '/';
		comp_start = i + 1;
	}
	return 0;
}

/* ---- extraction ---- */

/* Removes name (a file or a directory tree) under dirfd without following symbolic links. */
static void remove_tree_at(int dirfd, const char *name, int depth)
{
	int fd;
	DIR *dir;
	struct dirent *e;

	if (unlinkat(dirfd, name, 0) == 0 || errno == ENOENT || depth > (int)CAB_NAME_MAX)
		return;
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return;
	dir = fdopendir(fd);
	if (dir == NULL) {
		close(fd);
		return;
	}
	while ((e = readdir(dir)) != NULL) {
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			remove_tree_at(fd, e->d_name, depth + 1);
	}
	closedir(dir);
	(void)unlinkat(dirfd, name, AT_REMOVEDIR);
}

/* Opens the directory holding rel (a safe relative path) under base, creating missing
 * components when create is set. Symbolic links are never followed, so nothing lands outside
 * base. Returns a directory fd and points *leaf at the last component, or -1. */
static int open_parent(int base, char *rel, bool create, const char **leaf, struct pp_error *err)
{
	int cur = base, next;
	char *comp = rel, *slash;

	while ((slash = strchr(comp, '/')) != NULL) {
		*slash = '\0';
		if (create && mkdirat(cur, comp, 0755) != 0 && errno != EEXIST) {
			pp_error_set_errno(err, errno, "cannot create directory \"%s\"", rel);
			goto fail;
		}
		next = openat(cur, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0) {
			if (errno == ELOOP || errno == ENOTDIR)
				pp_error_set(
				    err, HR_ERROR_INVALID_NAME,
				    "\"%s\" is a symbolic link or not a directory; refusing "
				    "to extract through it",
				    rel);
			else
				pp_error_set_errno(err, errno, "cannot open directory \"%s\"", rel);
			goto fail;
		}
		*slash = '/';
		if (cur != base)
			close(cur);
		cur = next;
		comp = slash + 1;
	}
	*leaf = comp;
	return cur;
fail:
	if (slash != NULL)
		*slash = '/';
	if (cur != base)
		close(cur);
	return -1;
}

/* Checks that rel can be placed under dirfd: every existing parent is a real directory and an
 * existing target is a regular file (which will be replaced). */
static int check_target(int dirfd, const char *name, char *rel, struct pp_error *err)
{
	char *p = rel;
	struct stat st;
	int rc = 0;

	for (;;) {
		char *slash = strchr(p, '/');

		if (slash != NULL)
			*slash = '\0';
		if (fstatat(dirfd, rel, &st, AT_SYMLINK_NOFOLLOW) != 0) {
			if (slash != NULL)
				*slash = '/';
			if (errno == ENOENT)
				return 0;
			pp_error_set_errno(err, errno, "cannot check \"%s\"", rel);
			return -1;
		}
		if (slash == NULL) {
			if (!S_ISREG(st.st_mode)) {
				pp_error_set(
				    err, HR_ERROR_ALREADY_EXISTS,
				    "cabinet file \"%s\": \"%s\" already exists and is not a "
				    "regular file",
				    name, rel);
				rc = -1;
			}
			return rc;
		}
		*slash = '/';
		if (!S_ISDIR(st.st_mode)) {
			pp_error_set(
			    err, HR_ERROR_INVALID_NAME,
			    "cabinet file \"%s\": a parent in the target is a symbolic link "
			    "or a file; refusing to extract through it",
			    name);
			return -1;
		}
		p = slash + 1;
	}
}

/* DOS date and time as local time_t; 0 when the fields are not a valid date. */
static time_t dos_to_time(uint16_t date, uint16_t tm_field)
{
	struct tm tm = {0};

	tm.tm_year = ((date >> 9) & 0x7F) + 80;
	tm.tm_mon = ((date >> 5) & 0x0F) - 1;
	tm.tm_mday = date & 0x1F;
	tm.tm_hour = (tm_field >> 11) & 0x1F;
	tm.tm_min = (tm_field >> 5) & 0x3F;
	tm.tm_sec = (tm_field & 0x1F) * 2;
	tm.tm_isdst = -1;
	if (tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday == 0)
		return 0;
	return mktime(&tm);
}

struct extract_ctx {
	const struct cab_reader *r;
	int stage_fd;
	int *fds; /* per file: -1 not started, >= 0 open, -2 done */
	char rel[CAB_NAME_MAX + 1];
	uint64_t done, total, reported;
	cab_progress_fn progress;
	void *progress_ctx;
};

static int extract_open(struct extract_ctx *c, size_t index, struct pp_error *err)
{
	const struct cab_file *f = &c->r->files[index];
	const char *leaf;
	int parent, fd;

	if (cab_safe_relative_path(f->name, c->rel, sizeof(c->rel), err) != 0)
		return -1;
	parent = open_parent(c->stage_fd, c->rel, true, &leaf, err);
	if (parent < 0)
		return -1;
	fd = openat(parent, leaf, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0) {
		if (errno == EEXIST)
			pp_error_set(
			    err, HR_ERROR_INVALID_DATA,
			    "cabinet file \"%s\" appears twice or clashes with a directory "
			    "of the same name",
			    f->name);
		else
			pp_error_set_errno(err, errno, "cannot create \"%s\"", c->rel);
	}
	if (parent != c->stage_fd)
		close(parent);
	if (fd < 0)
		return -1;
	c->fds[index] = fd;
	return 0;
}

static void extract_report(struct extract_ctx *c, bool final)
{
	if (c->progress == NULL)
		return;
	if (final || c->done - c->reported >= 1024u * 1024u) {
		c->progress(c->progress_ctx, c->done, c->total);
		c->reported = c->done;
	}
}

static int extract_data(void *ctx, size_t index, const uint8_t *buf, size_t len,
			struct pp_error *err)
{
	struct extract_ctx *c = ctx;

	if (c->fds[index] == -1 && extract_open(c, index, err) != 0)
		return -1;
	if (write_full(c->fds[index], buf, len) != 0) {
		pp_error_set_errno(err, errno, "cannot write \"%s\"", c->r->files[index].name);
		return -1;
	}
	c->done += len;
	extract_report(c, false);
	return 0;
}

static int extract_done(void *ctx, size_t index, struct pp_error *err)
{
	struct extract_ctx *c = ctx;
	const struct cab_file *f = &c->r->files[index];
	struct timespec times[2];
	int rc = 0;

	if (c->fds[index] == -1 && extract_open(c, index, err) != 0)
		return -1;
	times[0].tv_sec = times[1].tv_sec = dos_to_time(f->date, f->time);
	times[0].tv_nsec = times[1].tv_nsec = 0;
	if (times[0].tv_sec != 0)
		(void)futimens(c->fds[index], times);
	if (close(c->fds[index]) != 0) {
		pp_error_set_errno(err, errno, "cannot write \"%s\"", f->name);
		rc = -1;
	}
	c->fds[index] = -2;
	return rc;
}

/* Moves every staged file to its place under dirfd. */
static int extract_move(struct extract_ctx *c, int dirfd, struct pp_error *err)
{
	char rel[CAB_NAME_MAX + 1];
	const char *leaf;
	size_t i;
	int parent;

	for (i = 0; i < c->r->h.c_files; i++) {
		if (cab_safe_relative_path(c->r->files[i].name, rel, sizeof(rel), err) != 0)
			return -1;
		parent = open_parent(dirfd, rel, true, &leaf, err);
		if (parent < 0)
			return -1;
		/* rel is unchanged by open_parent, so the staging copy has the same path. */
		if (renameat(c->stage_fd, rel, parent, leaf) != 0) {
			pp_error_set_errno(err, errno, "cannot move \"%s\" into place", rel);
			if (parent != dirfd)
				close(parent);
			return -1;
		}
		if (parent != dirfd)
			close(parent);
	}
	return 0;
}

int cab_reader_extract(struct cab_reader *r, const char *dir, cab_progress_fn progress,
		       void *progress_ctx, struct pp_error *err)
{
	struct extract_ctx c = {
	    .r = r, .stage_fd = -1, .progress = progress, .progress_ctx = progress_ctx};
	struct cab_walk_ops ops = {.data = extract_data, .done = extract_done, .ctx = &c};
	char rel[CAB_NAME_MAX + 1], stage_name[] = ".patchpoint-extract-XXXXXX";
	char *stage_path = NULL;
	bool created = false, staged = false;
	int dirfd = -1, rc = -1;
	struct stat st;
	size_t i;

	/* Names first: nothing is created when one of them is unsafe. */
	for (i = 0; i < r->h.c_files; i++) {
		if (cab_safe_relative_path(r->files[i].name, rel, sizeof(rel), err) != 0)
			goto out;
		c.total += r->files[i].size;
	}
	c.fds = malloc((r->h.c_files ? r->h.c_files : 1u) * sizeof(*c.fds));
	if (c.fds == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory extracting to %s", dir);
		goto out;
	}
	for (i = 0; i < r->h.c_files; i++)
		c.fds[i] = -1;

	if (stat(dir, &st) != 0) {
		if (errno != ENOENT || mkdir(dir, 0755) != 0) {
			pp_error_set_errno(err, errno, "cannot create directory %s", dir);
			goto out;
		}
		created = true;
	} else if (!S_ISDIR(st.st_mode)) {
		pp_error_set(err, HR_ERROR_ALREADY_EXISTS, "%s exists and is not a directory", dir);
		goto out;
	}
	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		pp_error_set_errno(err, errno, "cannot open directory %s", dir);
		goto out;
	}
	for (i = 0; i < r->h.c_files; i++) {
		if (cab_safe_relative_path(r->files[i].name, rel, sizeof(rel), err) != 0 ||
		    check_target(dirfd, r->files[i].name, rel, err) != 0)
			goto out;
	}

	if (asprintf(&stage_path, "%s/%s", dir, stage_name) < 0) {
		stage_path = NULL;
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory extracting to %s", dir);
		goto out;
	}
	if (mkdtemp(stage_path) == NULL) {
		pp_error_set_errno(err, errno, "cannot create a staging directory in %s", dir);
		goto out;
	}
	staged = true;
	c.stage_fd = open(stage_path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (c.stage_fd < 0) {
		pp_error_set_errno(err, errno, "cannot open staging directory %s", stage_path);
		goto out;
	}
	if (cab_internal_walk_all(r, &ops, err) != 0)
		goto out;
	/* Every file belongs to a folder and every folder was walked to its end. */
	if (extract_move(&c, dirfd, err) != 0)
		goto out;
	extract_report(&c, true);
	rc = 0;
out:
	if (c.fds != NULL) {
		for (i = 0; i < r->h.c_files; i++) {
			if (c.fds[i] >= 0)
				close(c.fds[i]);
		}
	}
	if (c.stage_fd >= 0)
		close(c.stage_fd);
	if (staged)
		remove_tree_at(AT_FDCWD, stage_path, 0);
	if (dirfd >= 0)
		close(dirfd);
	if (rc != 0 && created)
		(void)rmdir(dir);
	free(stage_path);
	free(c.fds);
	return rc;
}
