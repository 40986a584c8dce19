/* upload.h - resumable, chunked uploads of files larger than a request body (update content,
 * vendor catalogs), kept on disk only.
 *
 * An upload lives in one directory (patchpointd's <data-dir>/uploads, 0700) as two files:
 *   <id>.json  its record, replaced atomically (atomicfile) after every acknowledged chunk:
 *              declared size, expected SHA-256, file name, bytes acknowledged, times
 *   <id>.part  the data received so far
 * <id> is 32 lower-case hex digits from getrandom. Chunks are appended in order only: a chunk's
 * offset must equal the bytes acknowledged so far. A chunk is written (its writeback started)
 * before its record says so, and the data file is synced when the upload completes and every
 * UPLOAD_SYNC_STEP bytes; the record names the boot of the machine it was written under and how
 * far the data was synced, so after a crash of the process the record is the truth, after one of
 * the machine only what was synced is believed, and a longer data file (a torn, unacknowledged
 * tail) is cut back to it. Each chunk is hashed (SHA-1 and SHA-256) as it is
 * written, so when the last byte arrives both digests are ready without reading the file again;
 * an expected SHA-256 (declared at creation or with a chunk) that does not match discards the
 * upload. The record of a complete upload stamps its data file (inode, mtime, ctime), and a data
 * file changed after that is refused rather than trusted under digests it no longer has.
 *
 * Every id is checked (exactly 32 lower-case hex digits) before it names a file, and nothing
 * outside dir is opened; data files are opened O_NOFOLLOW. Calls on the same upload from several
 * threads are serialised by a lock on its data file. See docs/internals/uploads.md. */
#ifndef PATCHPOINT_UPLOAD_H
#define PATCHPOINT_UPLOAD_H

#include "error.h"
#include "hresult.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define UPLOAD_ID_LEN	       32
#define UPLOAD_SHA256_HEX_LEN  64
#define UPLOAD_SHA1_HEX_LEN    40
#define UPLOAD_NAME_MAX	       255		    /* bytes of a file name */
#define UPLOAD_SIZE_MAX	       (8ull << 30)	    /* 8 GiB, the largest declared size */
#define UPLOAD_CHUNK_SIZE      (8u << 20)	    /* the chunk size clients are told to use */
#define UPLOAD_COUNT_MAX       256		    /* uploads at once in one directory */
#define UPLOAD_MAX_AGE_DEFAULT ((int64_t)24 * 3600) /* seconds untouched before expiry */
/* Bytes an upload may run ahead of its last fdatasync: at most what a client sends again after
 * the machine went down. */
#define UPLOAD_SYNC_STEP (256ull << 20)

/* The codes callers tell apart (the API answers each with its own status). */
#define UPLOAD_E_BAD_ID		 HR_ERROR_INVALID_NAME	      /* not 32 lower-case hex digits */
#define UPLOAD_E_NOT_FOUND	 HR_ERROR_FILE_NOT_FOUND      /* no such upload (or expired) */
#define UPLOAD_E_OFFSET_MISMATCH HR_ERROR_INVALID_DATA	      /* offset != bytes received */
#define UPLOAD_E_TOO_LARGE	 HR_ERROR_FILE_TOO_LARGE      /* past the declared or max size */
#define UPLOAD_E_DIGEST_MISMATCH HR_WU_E_DM_INCORRECTFILEHASH /* the upload was discarded */
#define UPLOAD_E_INCOMPLETE	 HR_ERROR_HANDLE_EOF	      /* not every byte received yet */
#define UPLOAD_E_NO_SPACE	 HR_ERROR_DISK_FULL	      /* disk full or too many uploads */

struct upload_info {
	char id[UPLOAD_ID_LEN + 1];
	uint64_t size;	   /* declared total size */
	uint64_t received; /* bytes acknowledged, the offset of the next chunk */
	uint64_t durable;  /* of those, bytes synced to disk (all once complete) */
	bool complete;	   /* received == size, and the digest matched */
	/* The expected SHA-256 (lower-case hex) as declared, "" when none was; once complete, the
	 * SHA-256 of the data, always. */
	char sha256[UPLOAD_SHA256_HEX_LEN + 1];
	/* Once complete, the SHA-1 of the data (lower-case hex); "" before, and for a record
	 * written by a version that did not keep it. */
	char sha1[UPLOAD_SHA1_HEX_LEN + 1];
	char name[UPLOAD_NAME_MAX + 1]; /* the declared file name, "" when none */
	/* A cabinet upload (upload_create_cabinet): the data file is the signed cabinet in the
	 * making, with room for a signature of signature_length bytes. */
	bool cabinet;
	uint32_t signature_length;
	int64_t created_at; /* Unix seconds */
	int64_t updated_at; /* creation or the last acknowledged chunk */
};

/* True when id is exactly UPLOAD_ID_LEN lower-case hex digits. */
bool upload_id_valid(const char *id);

/* True when name can be an upload's file name: 1 to UPLOAD_NAME_MAX bytes, no '/', no control
 * character, not "." or "..". */
bool upload_name_valid(const char *name);

/* The path of upload id's data file in dir (for in-process consumers that read it by name, as
 * the publisher's CAB writer does); -1 for a malformed id or a path that does not fit. The data
 * file of a cabinet upload is a cabinet: read its file with upload_open_complete. */
int upload_data_path(const char *dir, const char *id, char *out, size_t size,
		     struct pp_error *err) PP_WARN_UNUSED;

/* Starts an upload of size bytes (at most UPLOAD_SIZE_MAX) in dir (which must exist) and fills
 * *out. sha256_hex (64 hex digits, either case) and name are optional (NULL). Refused with
 * UPLOAD_E_NO_SPACE when dir already holds UPLOAD_COUNT_MAX uploads or its file system has less
 * than size bytes free. An upload of 0 bytes is complete at once (its digest checked). */
int upload_create(const char *dir, uint64_t size, const char *sha256_hex, const char *name,
		  struct upload_info *out, struct pp_error *err) PP_WARN_UNUSED;

/* As upload_create, for a file that is to be published alone (cabupload.h): its data file is
 * laid out as the cabinet that will carry it, as name, dated created_at, with room for a
 * signature of signature_length bytes (a multiple of 8, from authenticode_signature_length), and
 * the chunks are put in place and hashed for it as they arrive. name is required. A size a
 * cabinet cannot hold is ERROR_FILE_TOO_LARGE. */
int upload_create_cabinet(const char *dir, uint64_t size, const char *sha256_hex, const char *name,
			  uint32_t signature_length, struct upload_info *out,
			  struct pp_error *err) PP_WARN_UNUSED;

/* Makes the signature of an Authenticode digest (digest_len bytes): a DER blob in *der
 * (malloc'd, the caller of the callback frees it). */
typedef int (*upload_sign_fn)(void *ctx, const uint8_t *digest, size_t digest_len, uint8_t **der,
			      size_t *der_len, struct pp_error *err);

/* What sealing a cabinet upload made: the signed cabinet's digests and size. */
struct upload_sealed {
	uint8_t sha1[20];
	uint8_t sha256[32];
	uint64_t size;
};

#define UPLOAD_E_CANNOT_SEAL                                                                       \
	HR_E_UNEXPECTED /* see upload_cabinet_seal; the upload is as it was                        \
			 */

/* Signs complete cabinet upload id (sign gets its Authenticode digest), writes the signature
 * into the reserved place, syncs the cabinet and moves it to dest_path, which must be on the
 * same file system; the upload is gone then. UPLOAD_E_CANNOT_SEAL, with the upload unchanged,
 * when it is not a cabinet upload, dest_path is on another file system or the signature does
 * not have the length the cabinet reserved (the caller packs the file itself instead). */
int upload_cabinet_seal(const char *dir, const char *id, upload_sign_fn sign, void *sign_ctx,
			const char *dest_path, struct upload_sealed *out,
			struct pp_error *err) PP_WARN_UNUSED;

/* Appends len bytes at offset, which must equal the bytes received (else
 * UPLOAD_E_OFFSET_MISMATCH, "upload <id> has N bytes; send from offset N"), and must not go past
 * the declared size (UPLOAD_E_TOO_LARGE). The data is written and the record replaced before it
 * returns 0 with *out updated (synced to disk too when the upload is complete). sha256_hex (may be
 * NULL) declares the expected SHA-256 of the whole file now, for a client that hashes while it
 * sends (HR_E_INVALIDARG when it differs from one declared before). The chunk is hashed (SHA-1 and
 * SHA-256, on two threads while it is written) into digests kept in memory from chunk to chunk,
 * rebuilt from the acknowledged bytes when they are missing (a restart); with the last byte they
 * are final: a mismatch with the expected SHA-256 removes the upload and fails with
 * UPLOAD_E_DIGEST_MISMATCH, else both are recorded. A torn tail left by a crash is truncated away
 * first. *out is filled on an offset mismatch too (the current state), and untouched after any
 * other failure. */
int upload_append(const char *dir, const char *id, uint64_t offset, const void *data, size_t len,
		  const char *sha256_hex, struct upload_info *out,
		  struct pp_error *err) PP_WARN_UNUSED;

/* Called once an upload is done with the bytes of a chunk lent to it. */
typedef void (*upload_release_fn)(void *ctx);

/* As upload_append, for a chunk in pieces, iov[0 .. iovcnt) (as a request body lies in
 * libevent's buffers): the list and the bytes stay readable until release(release_ctx) is
 * called (exactly once, on
 * failure too, maybe from another thread, maybe after this returns): a chunk that is not the
 * last is then answered at once and written and hashed while the next one arrives; the last is
 * on disk when this returns. */
int upload_append_lent(const char *dir, const char *id, uint64_t offset, const struct iovec *iov,
		       size_t iovcnt, const char *sha256_hex, upload_release_fn release,
		       void *release_ctx, struct upload_info *out,
		       struct pp_error *err) PP_WARN_UNUSED;

/* Frees the digests kept in memory for uploads in progress (at shutdown; an append after this
 * rebuilds what it needs from the disk). */
void upload_digests_release(void);

/* The state of upload id (received = the bytes acknowledged). UPLOAD_E_NOT_FOUND when there is
 * no such upload, UPLOAD_E_BAD_ID for a malformed id, HR_ERROR_BAD_FORMAT for a complete upload
 * whose data file changed (inode, mtime or ctime) since it completed: its digests would lie. */
int upload_get(const char *dir, const char *id, struct upload_info *out,
	       struct pp_error *err) PP_WARN_UNUSED;

/* Removes upload id, complete or not (waiting for a chunk being written to it). Callers that
 * clean up after a consumer may ignore a failure: what is left expires (upload_expire). */
int upload_remove(const char *dir, const char *id, struct pp_error *err);

/* A read-only descriptor (O_CLOEXEC, the caller closes it) on the data of complete upload id,
 * and its size; UPLOAD_E_INCOMPLETE while bytes are missing. For in-process consumers (catalog
 * import, publishing); the descriptor stays valid after upload_remove. The file of a cabinet
 * upload is first copied out of its cabinet into an unnamed temporary file of dir. */
int upload_open_complete(const char *dir, const char *id, int *fd, uint64_t *size,
			 struct pp_error *err) PP_WARN_UNUSED;

/* Removes every upload of dir not touched (created or appended to) for more than
 * max_age_seconds before now, skipping one a chunk is being written to, plus data files without
 * a record and temporary files left by a crash, as old. *removed (may be NULL) gets the number of
 * uploads removed. Files that are not an upload's are left alone. */
int upload_expire(const char *dir, int64_t max_age_seconds, int64_t now, unsigned *removed,
		  struct pp_error *err) PP_WARN_UNUSED;

#endif
