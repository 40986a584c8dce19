/* testutil.h - small helpers shared by the cmocka unit tests (temporary directories, files). */
#ifndef PATCHPOINT_TESTUTIL_H
#define PATCHPOINT_TESTUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Creates a fresh directory under $TMPDIR (or /tmp); returns a malloc'd path. Aborts on failure. */
char *tu_tmpdir(void);

/* Removes a directory tree (best effort). */
void tu_rmrf(const char *path);

/* path = dir + "/" + name, malloc'd. */
char *tu_path(const char *dir, const char *name);

/* dir + "/" + name with nothing at that path (whatever was there is removed), malloc'd. */
char *tu_fresh_path(const char *dir, const char *name);

/* Writes len bytes to path (created 0644, truncated). Aborts on failure. */
void tu_write_file(const char *path, const void *data, size_t len);

/* Reads a whole file; *len gets its size. malloc'd; NULL when it cannot be read. */
uint8_t *tu_read_file(const char *path, size_t *len);

/* Fails the running cmocka test unless path holds exactly the text expected. */
void tu_assert_file_text(const char *path, const char *expected);

/* The permission bits of path (following links), (mode_t)-1 when it cannot be stat'ed. */
mode_t tu_file_mode(const char *path);

/* True when something (a link included) is at path. */
bool tu_exists(const char *path);

/* Fills buf with deterministic pseudo-random bytes from seed (xorshift). */
void tu_fill(uint8_t *buf, size_t len, uint32_t seed);

/* The SHA-1 of data in upper-case hex, as certificate thumbprints are written. */
void tu_sha1_hex(const void *data, size_t len, char out[41]);

/* Number of entries in a directory tree (files and directories, recursive), -1 if missing. */
int tu_count_entries(const char *dir);

/* Runs a shell command, returns its exit status (-1 when it could not run). */
int tu_run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
