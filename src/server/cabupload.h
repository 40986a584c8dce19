/* cabupload.h - the signed cabinet an upload becomes while its bytes arrive (publishing while
 * receiving; docs/internals/uploads.md, "Cabinet uploads").
 *
 * A cabinet upload holds one file. Its data file is laid out from the start as the cabinet that
 * will carry it (cab_single_layout: one folder, no compression, the Authenticode reserve whose
 * locator already names a signature of the predicted length), and each chunk goes straight to
 * its final place, with the CFDATA header of every block it completes. The same pass feeds the
 * five digests publishing needs: SHA-1 and SHA-256 of the file (the OriginFile digest, the
 * upload's identity), the Authenticode digest of the cabinet, and SHA-1 and SHA-256 of the
 * signed cabinet as it will read. Signing then writes the signature and nothing else, and no
 * byte of the content is read again.
 *
 * A block still incomplete at the end of a chunk is on disk without its header (a hole), and is
 * hashed into the cabinet's digests only once it is whole; its bytes are kept in memory until
 * then. State lost with the process is rebuilt from the acknowledged bytes on disk. */
#ifndef PATCHPOINT_CABUPLOAD_H
#define PATCHPOINT_CABUPLOAD_H

#include "cab.h"
#include "error.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define CABUPLOAD_DIGEST_MAX 64 /* bytes of the Authenticode digest, at most */

struct cabupload;

/* The state of a new cabinet upload (nothing received), its header hashed. */
struct cabupload *cabupload_new(const struct cab_single *layout,
				struct pp_error *err) PP_WARN_UNUSED;
void cabupload_free(struct cabupload *c);

/* Writes the header of layout at offset 0 of fd: the file of a new cabinet upload. */
int cabupload_write_header(const struct cab_single *layout, int fd,
			   struct pp_error *err) PP_WARN_UNUSED;

/* Bytes of the file received so far. */
uint64_t cabupload_received(const struct cabupload *c);

/* Called once the digests are done with the bytes of an append. */
typedef void (*cabupload_release_fn)(void *ctx);

/* Puts the next len bytes of the file (they follow cabupload_received) in place in fd and starts
 * hashing them on threads of their own, which go on after it returns: the bytes must stay
 * readable until release(release_ctx) (may be NULL; called on failure too). The next append,
 * cabupload_wait, completing and freeing wait for them. Nothing is synced. On failure the state
 * is unusable (free it; the caller cuts fd back to what was acknowledged). */
int cabupload_append(struct cabupload *c, int fd, const void *data, size_t len,
		     cabupload_release_fn release, void *release_ctx,
		     struct pp_error *err) PP_WARN_UNUSED;

/* As cabupload_append, for bytes in several ranges, iov[0 .. n) (a request body as it lies in
 * libevent's buffers, not copied; the list itself is copied). A block that lies across two
 * ranges is gathered into one (at most one per boundary). */
int cabupload_append_pieces(struct cabupload *c, int fd, const struct iovec *iov, size_t n,
			    cabupload_release_fn release, void *release_ctx,
			    struct pp_error *err) PP_WARN_UNUSED;

/* Waits for the digests of the last append; -1 when they failed (the state is unusable). */
int cabupload_wait(struct cabupload *c, struct pp_error *err) PP_WARN_UNUSED;

/* The state of a cabinet upload whose first received bytes are in fd, read back from it. */
struct cabupload *cabupload_rebuild(const struct cab_single *layout, int fd, uint64_t received,
				    struct pp_error *err) PP_WARN_UNUSED;

/* With every byte in: SHA-1 and SHA-256 of the file. The Authenticode digest is final too. */
int cabupload_complete(struct cabupload *c, uint8_t sha1[20], uint8_t sha256[32],
		       struct pp_error *err) PP_WARN_UNUSED;

/* The Authenticode digest (SHA-256) of a complete upload's cabinet; -1 before completion. */
int cabupload_authenticode(const struct cabupload *c, uint8_t out[CABUPLOAD_DIGEST_MAX],
			   size_t *len);

/* Writes the DER signature blob, zero-padded to the layout's signature length (it must fit
 * exactly: HR_E_UNEXPECTED otherwise, and nothing is written), at cb_cabinet in fd, and finishes
 * SHA-1 and SHA-256 of the whole signed cabinet, *size its length. Nothing is synced. */
int cabupload_seal(struct cabupload *c, int fd, const uint8_t *der, size_t der_len,
		   uint8_t sha1[20], uint8_t sha256[32], uint64_t *size,
		   struct pp_error *err) PP_WARN_UNUSED;

/* Reads bytes [off, off + len) of the file out of the cabinet in fd (for consumers that need
 * the file itself). */
int cabupload_read(const struct cab_single *layout, int fd, uint64_t off, void *buf, size_t len,
		   struct pp_error *err) PP_WARN_UNUSED;

#endif
