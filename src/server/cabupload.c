/* cabupload.c - the signed cabinet an upload becomes while its bytes arrive (see cabupload.h). */
#include "cabupload.h"

#include "authenticode.h"
#include "hresult.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include <openssl/evp.h>

#define CFDATA_HEADER 8u
#define THREAD_MIN    (256u << 10) /* pieces from this size are hashed on threads */
#define IOV_BATCH     64	   /* iovecs per pwritev call: 32 blocks, about 1 MiB */

/* The five digests: two of the file, three of the cabinet in file order. */
enum { FILE_SHA1, FILE_SHA256, CAB_AUTHENTICODE, CAB_SHA1, CAB_SHA256, DIGESTS };

/* One digest over a list of byte ranges. */
struct hash_job {
	EVP_MD_CTX *ctx;
	const struct iovec *iov;
	size_t n;
	bool ok;
	pthread_t thread;
	bool started;
};

/* What one append writes and hashes, built before anything happens. */
struct piece {
	struct iovec *write_iov; /* file order from the first new byte's place */
	size_t write_n;
	uint64_t write_off;
	struct iovec *cab_iov; /* file order from the first block not yet hashed */
	size_t cab_n;
	uint8_t (*headers)[CFDATA_HEADER];
	uint8_t first_header[CFDATA_HEADER]; /* of the block the piece completes, written apart */
	bool completes_partial;
	uint8_t *joined;   /* that block whole, for the cabinet's digests */
	uint8_t *bounce;   /* blocks that lay across the caller's pieces, made whole */
	struct iovec *raw; /* the ranges as given (a copy of the list), for the file's digests */
	size_t raw_n;
};

struct cabupload {
	struct cab_single layout;
	uint64_t received;
	EVP_MD_CTX *md[DIGESTS];
	/* The last append's digests, still running on their threads, and what they read; the next
	 * append builds and writes its piece in the other slot meanwhile. */
	bool in_flight, failed;
	struct hash_job jobs[DIGESTS];
	struct piece pieces[2];
	unsigned flight; /* the slot of the piece in flight */
	cabupload_release_fn release;
	void *release_ctx;
	/* The bytes of the block that is not whole yet (received % CAB_BLOCK_MAX of them). */
	uint8_t partial[CAB_BLOCK_MAX];
	bool complete;
	uint8_t authenticode[CABUPLOAD_DIGEST_MAX];
	size_t authenticode_len;
};

static const EVP_MD *digest_md(int i)
{
	return i == FILE_SHA1 || i == CAB_SHA1 ? EVP_sha1() : EVP_sha256();
}

static bool settle(struct cabupload *c);

void cabupload_free(struct cabupload *c)
{
	if (c == NULL)
		return;
	(void)settle(c);
	for (int i = 0; i < DIGESTS; i++)
		EVP_MD_CTX_free(c->md[i]);
	free(c);
}

uint64_t cabupload_received(const struct cabupload *c)
{
	return c->received;
}

static int pwrite_all(int fd, const void *p, size_t n, uint64_t off)
{
	const uint8_t *b = p;

	while (n > 0) {
		ssize_t w = pwrite(fd, b, n, (off_t)off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		b += w;
		n -= (size_t)w;
		off += (uint64_t)w;
	}
	return 0;
}

/* Writes iov[0..n) contiguously from off, in batches of about a megabyte, each handed to the
 * disk at once (SYNC_FILE_RANGE_WRITE starts its writeback without waiting): by the time the
 * caller syncs, most of the piece is on its way and little is left to wait for. */
static int pwritev_all(int fd, struct iovec *iov, size_t n, uint64_t off)
{
	while (n > 0) {
		int batch = n < IOV_BATCH ? (int)n : IOV_BATCH;
		ssize_t w = pwritev(fd, iov, batch, (off_t)off);
		size_t left;

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		(void)sync_file_range(fd, (off_t)off, (off_t)w, SYNC_FILE_RANGE_WRITE);
		off += (uint64_t)w;
		left = (size_t)w;
		while (left > 0 && left >= iov->iov_len) {
			left -= iov->iov_len;
			iov++;
			n--;
		}
		if (left > 0) {
			iov->iov_base = (uint8_t *)iov->iov_base + left;
			iov->iov_len -= left;
		}
	}
	return 0;
}

struct cabupload *cabupload_new(const struct cab_single *layout, struct pp_error *err)
{
	struct cabupload *c = calloc(1, sizeof(*c));
	struct cab_header h;
	bool ok = c != NULL;

	for (int i = 0; ok && i < DIGESTS; i++) {
		c->md[i] = EVP_MD_CTX_new();
		ok = c->md[i] != NULL && EVP_DigestInit_ex(c->md[i], digest_md(i), NULL) == 1;
	}
	if (!ok) {
		pp_error_set_openssl(err, HR_E_OUTOFMEMORY,
				     "cannot start the digests of a cabinet");
		cabupload_free(c);
		return NULL;
	}
	c->layout = *layout;
	/* The header is final: the Authenticode digest takes its covered parts, the cabinet's
	 * digests all of it. */
	if (cab_header_parse(layout->header, layout->data_start,
			     (uint64_t)layout->cb_cabinet + layout->signature_length, &h,
			     err) != 0 ||
	    authenticode_cab_header_update(c->md[CAB_AUTHENTICODE], layout->header,
					   layout->data_start, &h, err) != 0 ||
	    EVP_DigestUpdate(c->md[CAB_SHA1], layout->header, layout->data_start) != 1 ||
	    EVP_DigestUpdate(c->md[CAB_SHA256], layout->header, layout->data_start) != 1) {
		if (err->code == 0)
			pp_error_set_openssl(err, HR_E_FAIL, "cannot hash the cabinet header");
		cabupload_free(c);
		return NULL;
	}
	return c;
}

int cabupload_write_header(const struct cab_single *layout, int fd, struct pp_error *err)
{
	if (pwrite_all(fd, layout->header, layout->data_start, 0) != 0) {
		pp_error_set_errno(err, errno, "cannot write the cabinet header");
		return -1;
	}
	return 0;
}

/* ---- hashing a piece on threads ---- */

static void *hash_job_run(void *arg)
{
	struct hash_job *j = arg;

	j->ok = true;
	for (size_t i = 0; i < j->n && j->ok; i++)
		j->ok = EVP_DigestUpdate(j->ctx, j->iov[i].iov_base, j->iov[i].iov_len) == 1;
	return NULL;
}

static void hash_jobs_start(struct hash_job *jobs, size_t count, size_t bytes)
{
	for (size_t i = 0; i < count; i++)
		jobs[i].started =
		    bytes >= THREAD_MIN &&
		    pthread_create(&jobs[i].thread, NULL, hash_job_run, &jobs[i]) == 0;
}

static bool hash_jobs_wait(struct hash_job *jobs, size_t count)
{
	bool ok = true;

	for (size_t i = 0; i < count; i++) {
		if (jobs[i].started)
			(void)pthread_join(jobs[i].thread, NULL);
		else
			(void)hash_job_run(&jobs[i]);
		ok = ok && jobs[i].ok;
	}
	return ok;
}

/* ---- appending ---- */

static size_t block_len(const struct cab_single *l, uint64_t block)
{
	uint64_t start = block * CAB_BLOCK_MAX;

	return l->size - start < CAB_BLOCK_MAX ? (size_t)(l->size - start) : CAB_BLOCK_MAX;
}

static void piece_free(struct piece *p)
{
	free(p->write_iov);
	free(p->cab_iov);
	free(p->headers);
	free(p->joined);
	free(p->bounce);
	free(p->raw);
	memset(p, 0, sizeof(*p));
}

/* Waits for the digests of the last append and lets go of what they read. */
static bool settle(struct cabupload *c)
{
	if (c->in_flight) {
		c->failed = !hash_jobs_wait(c->jobs, DIGESTS) || c->failed;
		c->in_flight = false;
		piece_free(&c->pieces[c->flight]);
		if (c->release != NULL)
			c->release(c->release_ctx);
		c->release = NULL;
	}
	return !c->failed;
}

int cabupload_wait(struct cabupload *c, struct pp_error *err)
{
	if (!settle(c)) {
		pp_error_set(err, HR_E_FAIL, "hashing the cabinet upload failed");
		return -1;
	}
	return 0;
}

/* Where piece_build is in the caller's pieces. */
struct cursor {
	const struct iovec *iov;
	size_t n, at; /* the piece, the offset in it */
};

/* Past the ranges the cursor has used up (never past the last one). */
static void cursor_skip(struct cursor *cur)
{
	while (cur->n > 1 && cur->at == cur->iov->iov_len) {
		cur->iov++;
		cur->n--;
		cur->at = 0;
	}
}

/* The next len bytes as one range: in place when one piece holds them, else gathered into
 * spare (CAB_BLOCK_MAX bytes at least, len <= CAB_BLOCK_MAX), *used set then; NULL when they
 * had to be gathered and there is no spare (piece_build counts them: not reached). */
static const uint8_t *cursor_take(struct cursor *cur, size_t len, uint8_t *spare, bool *used)
{
	size_t done = 0;

	cursor_skip(cur);
	*used = false;
	if (cur->iov->iov_len - cur->at >= len) {
		const uint8_t *p = (const uint8_t *)cur->iov->iov_base + cur->at;

		cur->at += len;
		return p;
	}
	*used = true;
	if (spare == NULL)
		return NULL;
	while (done < len) {
		size_t take = cur->iov->iov_len - cur->at;

		if (take > len - done)
			take = len - done;
		if (take == 0 && cur->n <= 1)
			break; /* not reached: the pieces hold the bytes they were counted for */
		memcpy(spare + done, (const uint8_t *)cur->iov->iov_base + cur->at, take);
		done += take;
		cur->at += take;
		cursor_skip(cur);
	}
	return spare;
}

static int piece_build(struct cabupload *c, const struct iovec *iov, size_t n, size_t len,
		       struct piece *p, struct pp_error *err)
{
	const struct cab_single *l = &c->layout;
	uint64_t pos = c->received, end = c->received + len;
	uint64_t first = pos / CAB_BLOCK_MAX, last = (end - 1) / CAB_BLOCK_MAX;
	size_t blocks = (size_t)(last - first + 1), have = (size_t)(pos % CAB_BLOCK_MAX), h = 0;
	/* A range crosses from one piece to the next at most once per boundary. */
	size_t spares = n - 1 < blocks ? n - 1 : blocks, spare = 0;
	struct cursor cur = {iov, n, 0};

	memset(p, 0, sizeof(*p));
	if (len == 0 || n == 0 || blocks == 0 || end < pos) {
		pp_error_set(err, HR_E_UNEXPECTED, "an empty piece for a cabinet upload");
		return -1;
	}
	p->write_iov = calloc(2 * blocks, sizeof(*p->write_iov));
	p->cab_iov = calloc(2 * blocks, sizeof(*p->cab_iov));
	p->headers = calloc(blocks, sizeof(*p->headers));
	p->bounce = spares > 0 ? malloc(spares * CAB_BLOCK_MAX) : NULL;
	p->raw = malloc(n * sizeof(*p->raw));
	if (p->write_iov == NULL || p->cab_iov == NULL || p->headers == NULL ||
	    (spares > 0 && p->bounce == NULL) || p->raw == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory writing a cabinet upload");
		return -1;
	}
	/* The digests outlive the caller's list, not its bytes. */
	memcpy(p->raw, iov, n * sizeof(*p->raw));
	p->raw_n = n;
	p->write_off = have > 0 ? cab_single_block_offset(l, first) + CFDATA_HEADER + have
				: cab_single_block_offset(l, first);
	for (uint64_t b = first; b <= last; b++) {
		uint64_t bstart = b * CAB_BLOCK_MAX;
		size_t blen = block_len(l, b);
		size_t from = b == first ? have : 0; /* bytes of this block from earlier appends */
		size_t take =
		    (size_t)((end < bstart + blen ? end : bstart + blen) - (bstart + from));
		bool whole = from + take == blen, gathered;
		const uint8_t *src = cursor_take(
		    &cur, take, spare < spares ? p->bounce + spare * CAB_BLOCK_MAX : NULL,
		    &gathered);

		if (src == NULL) {
			pp_error_set(err, HR_E_UNEXPECTED,
				     "a cabinet upload's piece crosses more ranges than it has");
			return -1;
		}
		if (gathered)
			spare++;
		if (whole) {
			uint8_t *hdr = p->headers[h++];

			if (from > 0) {
				/* The block the last piece left open: earlier bytes, then these. */
				p->joined = malloc(blen);
				if (p->joined == NULL) {
					pp_error_set(err, HR_E_OUTOFMEMORY,
						     "out of memory writing a cabinet upload");
					return -1;
				}
				memcpy(p->joined, c->partial, from);
				memcpy(p->joined + from, src, take);
				cab_cfdata_header(hdr, p->joined, blen);
				memcpy(p->first_header, hdr, CFDATA_HEADER);
				p->completes_partial = true;
				p->cab_iov[p->cab_n++] = (struct iovec){hdr, CFDATA_HEADER};
				p->cab_iov[p->cab_n++] = (struct iovec){p->joined, blen};
			} else {
				cab_cfdata_header(hdr, src, blen);
				p->write_iov[p->write_n++] = (struct iovec){hdr, CFDATA_HEADER};
				p->cab_iov[p->cab_n++] = (struct iovec){hdr, CFDATA_HEADER};
				p->cab_iov[p->cab_n++] = (struct iovec){(void *)src, take};
			}
		} else {
			/* Not whole: its header stays a hole until it is. */
			static const uint8_t hole[CFDATA_HEADER];

			if (from == 0)
				p->write_iov[p->write_n++] =
				    (struct iovec){(void *)hole, CFDATA_HEADER};
			memcpy(c->partial + from, src, take);
		}
		p->write_iov[p->write_n++] = (struct iovec){(void *)src, take};
	}
	return 0;
}

/* Appends and starts the digests; fd < 0 hashes only (a rebuild from bytes already in place).
 * The ranges' bytes must stay readable until release(release_ctx) (may be NULL) is called. The
 * piece is written while the digests of the last one still run (they read neither the piece nor
 * what building it changes: the open block's bytes are copied out for the piece that completes it);
 * the digests are fed in order, so this piece's start once the last one's are done. */
static int append(struct cabupload *c, int fd, const struct iovec *iov, size_t n,
		  cabupload_release_fn release, void *release_ctx, struct pp_error *err)
{
	const struct cab_single *l = &c->layout;
	unsigned slot = c->in_flight ? c->flight ^ 1u : c->flight;
	struct piece *p = &c->pieces[slot];
	size_t len = 0;

	for (size_t i = 0; i < n; i++)
		len += iov[i].iov_len;

	if (c->failed) {
		pp_error_set(err, HR_E_FAIL, "hashing the cabinet upload failed");
		goto fail;
	}
	if (len == 0) {
		if (cabupload_wait(c, err) != 0)
			goto fail;
		if (release != NULL)
			release(release_ctx);
		return 0;
	}
	if (c->complete || len > l->size - c->received) {
		pp_error_set(err, HR_E_INVALIDARG, "%zu bytes do not fit in the cabinet's file",
			     len);
		goto fail;
	}
	if (piece_build(c, iov, n, len, p, err) != 0)
		goto fail_piece;
	if (fd >= 0 &&
	    ((p->completes_partial &&
	      pwrite_all(fd, p->first_header, CFDATA_HEADER,
			 cab_single_block_offset(l, c->received / CAB_BLOCK_MAX)) != 0) ||
	     pwritev_all(fd, p->write_iov, p->write_n, p->write_off) != 0)) {
		pp_error_set_errno(err, errno, "cannot write the cabinet upload");
		goto fail_piece;
	}
	if (cabupload_wait(c, err) != 0)
		goto fail_piece;
	memset(c->jobs, 0, sizeof(c->jobs));
	c->jobs[FILE_SHA1] =
	    (struct hash_job){.ctx = c->md[FILE_SHA1], .iov = p->raw, .n = p->raw_n};
	c->jobs[FILE_SHA256] =
	    (struct hash_job){.ctx = c->md[FILE_SHA256], .iov = p->raw, .n = p->raw_n};
	for (int i = CAB_AUTHENTICODE; i < DIGESTS; i++)
		c->jobs[i] = (struct hash_job){.ctx = c->md[i], .iov = p->cab_iov, .n = p->cab_n};
	/* The hash threads only read the piece. */
	hash_jobs_start(c->jobs, DIGESTS, len);
	c->in_flight = true;
	c->flight = slot;
	c->release = release;
	c->release_ctx = release_ctx;
	c->received += len;
	return 0;
fail_piece:
	piece_free(p);
fail:
	c->failed = true;
	(void)settle(c);
	if (release != NULL)
		release(release_ctx);
	return -1;
}

int cabupload_append_pieces(struct cabupload *c, int fd, const struct iovec *iov, size_t n,
			    cabupload_release_fn release, void *release_ctx, struct pp_error *err)
{
	if (fd < 0) {
		pp_error_set(err, HR_E_INVALIDARG, "no cabinet file to write to");
		if (release != NULL)
			release(release_ctx);
		return -1;
	}
	return append(c, fd, iov, n, release, release_ctx, err);
}

int cabupload_append(struct cabupload *c, int fd, const void *data, size_t len,
		     cabupload_release_fn release, void *release_ctx, struct pp_error *err)
{
	struct iovec one = {(void *)data, len};

	return cabupload_append_pieces(c, fd, &one, 1, release, release_ctx, err);
}

/* ---- reading back ---- */

static int pread_all(int fd, void *buf, size_t n, uint64_t off, struct pp_error *err)
{
	uint8_t *b = buf;

	while (n > 0) {
		ssize_t r = pread(fd, b, n, (off_t)off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			pp_error_set_errno(err, r < 0 ? errno : EIO,
					   "cannot read the cabinet upload back");
			return -1;
		}
		b += r;
		n -= (size_t)r;
		off += (uint64_t)r;
	}
	return 0;
}

int cabupload_read(const struct cab_single *l, int fd, uint64_t off, void *buf, size_t len,
		   struct pp_error *err)
{
	uint8_t *out = buf;

	if (off > l->size || len > l->size - off) {
		pp_error_set(err, HR_E_INVALIDARG, "bytes past the end of the cabinet's file");
		return -1;
	}
	while (len > 0) {
		uint64_t block = off / CAB_BLOCK_MAX;
		size_t within = (size_t)(off % CAB_BLOCK_MAX), n = block_len(l, block) - within;

		n = n < len ? n : len;
		if (pread_all(fd, out, n,
			      cab_single_block_offset(l, block) + CFDATA_HEADER + within, err) != 0)
			return -1;
		out += n;
		off += n;
		len -= n;
	}
	return 0;
}

struct cabupload *cabupload_rebuild(const struct cab_single *layout, int fd, uint64_t received,
				    struct pp_error *err)
{
	struct cabupload *c = cabupload_new(layout, err);
	uint8_t header[CAB_SINGLE_HEADER_MAX], *block = NULL;

	if (c == NULL)
		return NULL;
	/* The header on disk must be the one the layout makes. */
	if (pread_all(fd, header, layout->data_start, 0, err) != 0)
		goto fail;
	if (memcmp(header, layout->header, layout->data_start) != 0) {
		pp_error_set(err, HR_ERROR_BAD_FORMAT,
			     "the cabinet header of the upload is not the one it was made with");
		goto fail;
	}
	block = malloc(CAB_BLOCK_MAX);
	if (block == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory reading a cabinet upload");
		goto fail;
	}
	/* Block by block: what was appended in one piece is hashed the same way in many. */
	while (c->received < received) {
		size_t n = block_len(layout, c->received / CAB_BLOCK_MAX);

		n = received - c->received < n ? (size_t)(received - c->received) : n;
		if (cabupload_read(layout, fd, c->received, block, n, err) != 0 ||
		    append(c, -1, &(struct iovec){block, n}, 1, NULL, NULL, err) != 0 ||
		    cabupload_wait(c, err) != 0)
			goto fail;
	}
	free(block);
	return c;
fail:
	free(block);
	cabupload_free(c);
	return NULL;
}

/* ---- finishing ---- */

int cabupload_complete(struct cabupload *c, uint8_t sha1[20], uint8_t sha256[32],
		       struct pp_error *err)
{
	unsigned n1 = 0, n256 = 0, na = 0;

	if (cabupload_wait(c, err) != 0)
		return -1;
	if (c->complete || c->received != c->layout.size) {
		pp_error_set(err, HR_E_UNEXPECTED, "the cabinet upload is not complete");
		return -1;
	}
	if (EVP_DigestFinal_ex(c->md[FILE_SHA1], sha1, &n1) != 1 ||
	    EVP_DigestFinal_ex(c->md[FILE_SHA256], sha256, &n256) != 1 ||
	    EVP_DigestFinal_ex(c->md[CAB_AUTHENTICODE], c->authenticode, &na) != 1 || n1 != 20 ||
	    n256 != 32) {
		pp_error_set_openssl(err, HR_E_FAIL, "cannot finish the digests of a cabinet");
		return -1;
	}
	c->authenticode_len = na;
	c->complete = true;
	return 0;
}

int cabupload_authenticode(const struct cabupload *c, uint8_t out[CABUPLOAD_DIGEST_MAX],
			   size_t *len)
{
	if (!c->complete)
		return -1;
	memcpy(out, c->authenticode, c->authenticode_len);
	*len = c->authenticode_len;
	return 0;
}

int cabupload_seal(struct cabupload *c, int fd, const uint8_t *der, size_t der_len,
		   uint8_t sha1[20], uint8_t sha256[32], uint64_t *size, struct pp_error *err)
{
	const struct cab_single *l = &c->layout;
	uint8_t *blob;
	unsigned n1 = 0, n256 = 0;
	int rc = -1;

	if (!c->complete || der_len > l->signature_length ||
	    ((der_len + 7u) & ~(size_t)7u) != l->signature_length) {
		pp_error_set(err, HR_E_UNEXPECTED,
			     "a signature of %zu bytes does not fill the %u bytes the cabinet "
			     "reserved for it",
			     der_len, l->signature_length);
		return -1;
	}
	blob = calloc(1, l->signature_length);
	if (blob == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory signing a cabinet upload");
		return -1;
	}
	memcpy(blob, der, der_len);
	if (pwrite_all(fd, blob, l->signature_length, l->cb_cabinet) != 0 ||
	    ftruncate(fd, (off_t)l->cb_cabinet + l->signature_length) != 0) {
		pp_error_set_errno(err, errno, "cannot write the signature of the cabinet upload");
		goto out;
	}
	if (EVP_DigestUpdate(c->md[CAB_SHA1], blob, l->signature_length) != 1 ||
	    EVP_DigestUpdate(c->md[CAB_SHA256], blob, l->signature_length) != 1 ||
	    EVP_DigestFinal_ex(c->md[CAB_SHA1], sha1, &n1) != 1 ||
	    EVP_DigestFinal_ex(c->md[CAB_SHA256], sha256, &n256) != 1 || n1 != 20 || n256 != 32) {
		pp_error_set_openssl(err, HR_E_FAIL, "cannot finish the digests of a cabinet");
		goto out;
	}
	*size = (uint64_t)l->cb_cabinet + l->signature_length;
	rc = 0;
out:
	free(blob);
	return rc;
}
