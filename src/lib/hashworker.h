/* hashworker.h - a message digest computed on a second thread, so that hashing a large cabinet
 * overlaps the reading and writing that feed it. Bytes are copied into a few fixed slots (memory
 * stays bounded: HASHWORKER_SLOTS * HASHWORKER_SLOT_SIZE) and hashed in order. Small inputs never
 * start the thread. The result is the same as EVP_DigestUpdate over the same bytes. */
#ifndef PATCHPOINT_HASHWORKER_H
#define PATCHPOINT_HASHWORKER_H

#include "error.h"

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#define HASHWORKER_SLOTS     4
#define HASHWORKER_SLOT_SIZE (1024u * 1024u)

struct hashworker;

/* A digest of md (SHA-1, SHA-256, ...). Free with hashworker_free. */
struct hashworker *hashworker_new(const EVP_MD *md, struct pp_error *err) PP_WARN_UNUSED;

/* Feeds n bytes; may block while every slot is waiting to be hashed. */
int hashworker_update(struct hashworker *w, const uint8_t *p, size_t n,
		      struct pp_error *err) PP_WARN_UNUSED;

/* Zero-copy feeding: hashworker_reserve returns where the next bytes go and *room, how many fit
 * (at least 1); after writing n <= *room bytes there, hashworker_commit(w, n) feeds them. */
uint8_t *hashworker_reserve(struct hashworker *w, size_t *room,
			    struct pp_error *err) PP_WARN_UNUSED;
int hashworker_commit(struct hashworker *w, size_t n, struct pp_error *err) PP_WARN_UNUSED;

/* Called when the worker is done with a lent region: from the worker thread, or from the
 * lending call itself when no thread runs or when it fails. */
typedef void (*hashworker_release_fn)(void *ctx, const uint8_t *p, size_t n);

/* Feeds n bytes at p without copying them: p must stay readable until release(release_ctx, p, n)
 * is called. Bytes fed before are hashed first. A caller can map the next window of a file
 * while the worker hashes this one. */
int hashworker_lend(struct hashworker *w, const uint8_t *p, size_t n, hashworker_release_fn release,
		    void *release_ctx, struct pp_error *err) PP_WARN_UNUSED;

/* Waits for the queued bytes and writes the digest (EVP_MAX_MD_SIZE bytes at most). */
int hashworker_final(struct hashworker *w, uint8_t *out, unsigned int *len,
		     struct pp_error *err) PP_WARN_UNUSED;

/* Stops the thread (discarding queued bytes) and frees w; NULL is a no-op. */
void hashworker_free(struct hashworker *w);

#endif
