/* atomicfile.h - files that appear whole or not at all: written under a temporary name in the
 * target's directory and renamed over the target when complete.
 *
 * The temporary file is ".<name>.<16 hex digits>" next to the target, created
 * O_EXCL|O_NOFOLLOW|O_CLOEXEC with mode 0600 (a symbolic link planted at that name is never
 * followed), and gets its final mode only at commit. A durable commit fsyncs the file before the
 * rename and the directory after it; a plain commit only renames, which is enough for files that
 * can be rebuilt from their inputs (cabinets, docs/internals/authenticode.md).
 *
 * Usage: struct atomicfile af = ATOMICFILE_INIT; atomicfile_open(); write to af.fd;
 * atomicfile_commit(); and atomicfile_abort() on every exit path (it is a no-op after commit). */
#ifndef PATCHPOINT_ATOMICFILE_H
#define PATCHPOINT_ATOMICFILE_H

#include "error.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct atomicfile {
	int fd;	    /* the temporary file, open read-write; -1 when closed */
	char *tmp;  /* its path (owned); NULL when nothing is left to remove */
	char *path; /* the target (owned copy) */
};

#define ATOMICFILE_INIT ((struct atomicfile){.fd = -1, .tmp = NULL, .path = NULL})

/* Creates the temporary file for path. On failure af is left as ATOMICFILE_INIT. */
int atomicfile_open(struct atomicfile *af, const char *path, struct pp_error *err) PP_WARN_UNUSED;

/* Gives the file mode (exactly, whatever the umask), closes it and renames it over the target;
 * with durable, fsyncs the file before and the directory after the rename. Whatever the result,
 * the temporary file is gone afterwards and af holds nothing. */
int atomicfile_commit(struct atomicfile *af, mode_t mode, bool durable,
		      struct pp_error *err) PP_WARN_UNUSED;

/* Closes and removes the temporary file, if any. Safe on ATOMICFILE_INIT, after commit, twice. */
void atomicfile_abort(struct atomicfile *af);

/* Writes len bytes of buf to path in one go (open, write, commit). On failure path is untouched
 * and no temporary file is left. */
int atomicfile_write(const char *path, const void *buf, size_t len, mode_t mode, bool durable,
		     struct pp_error *err) PP_WARN_UNUSED;

/* fsyncs directory dir, so that a rename or unlink in it survives a crash. */
int atomicfile_sync_dir(const char *dir, struct pp_error *err) PP_WARN_UNUSED;

/* mkdir -p: each missing component of path made with mode 0755; ERROR_FILE_EXISTS when a
 * component exists and is not a directory. */
int atomicfile_mkdirs(const char *path, struct pp_error *err) PP_WARN_UNUSED;

#endif
