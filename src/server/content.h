/* content.h - the content store of a software update point: signed update cabinets kept
 * content-addressed, as WSUS keeps WSUSContent.
 *
 *   <dir>/<XX>/<SHA1>.cab   SHA1 the upper-case hex SHA-1 of the whole file, XX its last two
 *                           digits (WSUS: Content/9B/D03339B39DA0F25704D817754E57C49441A30B9B.cab)
 *   <dir>/.incoming/        (0700) new cabinets being written, <32 hex>.tmp
 *
 * A file enters the store only through content_store_commit, which hashes it, makes it durable
 * and renames it into place; once there it is never changed (mode 0444). Before a file is served
 * its SHA-1 is checked against its name, but only when it changed since it last verified: the
 * store remembers (dev, inode, size, mtime, ctime) of every verification in a bounded table, and
 * ctime cannot be set back by anyone writing to the file. Names are checked (40 hex digits)
 * before they touch the file system, and nothing outside dir is opened (O_NOFOLLOW at each
 * level). Every function is safe to call from several threads. See docs/internals/content.md. */
#ifndef PATCHPOINT_CONTENT_H
#define PATCHPOINT_CONTENT_H

#include "error.h"
#include "hresult.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONTENT_SHA1_HEX_LEN   40
#define CONTENT_SHA256_HEX_LEN 64
#define CONTENT_URL_PATH_MAX   64 /* "/Content/XX/<40 hex>.cab" is 56 bytes */
/* A cabinet is at most 4 GiB (its size field has 32 bits) plus its signature; the uploads it is
 * built from are at most 8 GiB too. */
#define CONTENT_SIZE_MAX (8ull << 30)
/* Verifications remembered at most; past that a file is re-hashed at each open. */
#define CONTENT_REMEMBER_MAX 98304u
/* A file whose ctime is less than this many seconds old is verified but not remembered: a file
 * system with coarse timestamps could give a change made right after it the same ctime. */
#define CONTENT_SETTLE_SECONDS 2u

/* The codes callers tell apart. */
#define CONTENT_E_BAD_NAME  HR_E_INVALIDARG	  /* not 40 hex digits, not our incoming file */
#define CONTENT_E_NOT_FOUND HR_CRYPT_E_NOT_FOUND  /* no such content */
#define CONTENT_E_DAMAGED   HR_TRUST_E_BAD_DIGEST /* its SHA-1 is not its name */

struct content_store;

struct content_info {
	char sha1[CONTENT_SHA1_HEX_LEN + 1];	 /* upper case, the file name */
	char sha256[CONTENT_SHA256_HEX_LEN + 1]; /* lower case */
	uint64_t size;
	char url_path[CONTENT_URL_PATH_MAX]; /* "/Content/XX/<SHA1>.cab" */
};

/* Called by content_store_scrub for each file that failed verification: sha1 is its name (upper
 * case), why says what is wrong (CONTENT_E_DAMAGED names the file and both digests). */
typedef void (*content_scrub_report)(void *ctx, const char *sha1, const struct pp_error *why);

/* Reads fd from offset 0 to its end (at most CONTENT_SIZE_MAX bytes) into SHA-1 and, when sha256
 * is not NULL, SHA-256 (on a second thread), in one read; *size gets the bytes read. what names
 * the file in errors. */
int content_hash_fd(int fd, unsigned char sha1[20], unsigned char *sha256, uint64_t *size,
		    const char *what, struct pp_error *err) PP_WARN_UNUSED;

/* Copies a SHA-1 of exactly 40 hex digits (either case) into out in upper case; -1 when hex is
 * not one. */
int content_sha1_normalize(const char *hex, char out[CONTENT_SHA1_HEX_LEN + 1]) PP_WARN_UNUSED;

/* Opens the store in dir, creating dir (0755) and dir/.incoming (0700) when missing, and removes
 * whatever a killed writer left in .incoming; *leftovers (may be NULL) gets how many files that
 * was. Free with content_store_free. */
struct content_store *content_store_open(const char *dir, unsigned *leftovers,
					 struct pp_error *err) PP_WARN_UNUSED;

/* The settle time (CONTENT_SETTLE_SECONDS by default); 0 only where timestamps are exact, which
 * the unit tests use so as not to wait. Call before the store is shared. */
void content_store_set_settle_seconds(struct content_store *cs, unsigned seconds);

/* A fresh path (random name) inside dir/.incoming where a writer may create a new cabinet (with
 * O_CREAT|O_EXCL) for content_store_commit. Creates nothing. */
int content_store_incoming_path(struct content_store *cs, char *out, size_t size,
				struct pp_error *err) PP_WARN_UNUSED;

/* Moves a complete file written at a path from content_store_incoming_path into the store:
 * hashes it in one read (SHA-1 and SHA-256), fsyncs it, renames it to XX/SHA1.cab (mode 0444,
 * XX made 0755) and fsyncs the directories; fills *out. When that content is already stored
 * (and verifies) the incoming file is removed instead; a damaged copy is replaced. On failure
 * the incoming file stays in .incoming (the caller removes it or the next open does). */
int content_store_commit(struct content_store *cs, const char *incoming_path,
			 struct content_info *out, struct pp_error *err) PP_WARN_UNUSED;

/* What the writer of an incoming file computed while it wrote it. */
struct content_digests {
	unsigned char sha1[20];
	unsigned char sha256[32];
	uint64_t size;
};

/* As content_store_commit, for a file whose digests its writer computed in the pass that wrote
 * it (authenticode_create_signed_cab): it is not read again, only its size is checked. A wrong
 * digest would name the file wrongly; content_store_open_verified would then refuse it. */
int content_store_commit_hashed(struct content_store *cs, const char *incoming_path,
				const struct content_digests *known, struct content_info *out,
				struct pp_error *err) PP_WARN_UNUSED;

/* A read-only descriptor (O_CLOEXEC, the caller closes it) on content sha1_hex (40 hex digits,
 * either case) and its size, after its SHA-1 was found equal to its name, now or at an earlier
 * verification of the same unchanged file. CONTENT_E_DAMAGED when it is not, and from then on
 * until the file changes and verifies; CONTENT_E_NOT_FOUND when there is no such file,
 * CONTENT_E_BAD_NAME for a malformed digest. */
int content_store_open_verified(struct content_store *cs, const char *sha1_hex, int *fd,
				uint64_t *size, struct pp_error *err) PP_WARN_UNUSED;

/* Verifies every XX/<SHA1>.cab of the store (other names are not content and are skipped); a
 * good one is remembered, a bad one is refused by content_store_open_verified and passed to
 * report (may be NULL). *checked and *bad (may be NULL) get the counts. -1 only when the store
 * itself cannot be read. */
int content_store_scrub(struct content_store *cs, content_scrub_report report, void *ctx,
			unsigned *checked, unsigned *bad, struct pp_error *err) PP_WARN_UNUSED;

/* True when content sha1_hex is in the store (a regular file; not verified). */
bool content_store_exists(struct content_store *cs, const char *sha1_hex);

/* The names (upper-case SHA-1) of every stored file, unverified; *names is malloc'd (free()). */
int content_store_list(struct content_store *cs, char (**names)[CONTENT_SHA1_HEX_LEN + 1],
		       size_t *count, struct pp_error *err) PP_WARN_UNUSED;

/* Removes content sha1_hex (for content no update refers to any more); CONTENT_E_NOT_FOUND when
 * it is not there. */
int content_store_remove(struct content_store *cs, const char *sha1_hex,
			 struct pp_error *err) PP_WARN_UNUSED;

/* How many files were hashed to verify them so far (for tests and diagnostics). */
uint64_t content_store_hash_count(struct content_store *cs);

/* The store's directory, as given to content_store_open. */
const char *content_store_dir(const struct content_store *cs);

/* Frees the store; NULL is a no-op. */
void content_store_free(struct content_store *cs);

#endif
