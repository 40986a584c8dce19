/* authenticode.c - Authenticode signatures on cabinets (formats.md section 1).
 *
 * The cabinet digest is the jsign form of formats.md 1.4, computed over the signed layout:
 *   MSCF [0x00,0x04) | [0x08,0x24) | abReserve[0,2) + structure 1 (when a reserve is present) |
 *   everything from the end of abReserve (prev/next strings, CFFOLDERs with their reserves,
 *   CFFILEs, CFDATAs) up to cbCabinet, which is where the PKCS#7 blob starts.
 *
 * Every cabinet is processed as a stream of its signed layout (header once, then the rest in
 * 64 KB chunks): signing an unsigned cabinet inserts the 24-byte reserve on the fly, removing a
 * signature takes it out again, and the digest only ever sees the layout bytes.
 */
#include "authenticode.h"

#include "atomicfile.h"
#include "hashworker.h"

#include "byteorder.h"
#include "hresult.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/ts.h>

#define CHUNK_SIZE (1024u * 1024u)

#define OID_SPC_INDIRECT_DATA "1.3.6.1.4.1.311.2.1.4"
#define OID_SPC_CAB_DATA      "1.3.6.1.4.1.311.2.1.25"
#define OID_SPC_STATEMENT     "1.3.6.1.4.1.311.2.1.11"
#define OID_SPC_OPUS_INFO     "1.3.6.1.4.1.311.2.1.12"
#define OID_SPC_RFC3161	      "1.3.6.1.4.1.311.3.3.1"

/* SpcAttributeTypeAndOptionalValue for a cabinet, as osslsigncode writes it:
 * SEQUENCE { OID 1.3.6.1.4.1.311.2.1.25, SpcLink file [2] { unicode [0] "<<<Obsolete>>>" } } */
static const uint8_t spc_cab_data[] = {
    0x30, 0x2c, 0x06, 0x0a, 0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x01, 0x19, 0xa2, 0x1e,
    0x80, 0x1c, 0x00, 0x3c, 0x00, 0x3c, 0x00, 0x3c, 0x00, 0x4f, 0x00, 0x62, 0x00, 0x73, 0x00, 0x6f,
    0x00, 0x6c, 0x00, 0x65, 0x00, 0x74, 0x00, 0x65, 0x00, 0x3e, 0x00, 0x3e, 0x00, 0x3e,
};

/* SPC_STATEMENT_TYPE value: SEQUENCE { OID 1.3.6.1.4.1.311.2.1.21 (individual code signing) } */
static const uint8_t spc_statement_individual[] = {
    0x30, 0x0c, 0x06, 0x0a, 0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x01, 0x15,
};

/* ---- small I/O helpers ---- */

static int read_at(int fd, uint8_t *buf, size_t len, uint64_t off, const char *what,
		   struct pp_error *err)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, buf + done, len - done, (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			pp_error_set_errno(err, errno, "cannot read %s", what);
			return -1;
		}
		if (n == 0) {
			pp_error_set(err, HR_ERROR_INVALID_DATA, "%s ends early (at byte %llu)",
				     what, (unsigned long long)off + done);
			return -1;
		}
		done += (size_t)n;
	}
	return 0;
}

static int write_at(int fd, const uint8_t *buf, size_t len, uint64_t off, const char *what,
		    struct pp_error *err)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pwrite(fd, buf + done, len - done, (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			pp_error_set_errno(err, n < 0 ? errno : EIO, "cannot write %s", what);
			return -1;
		}
		done += (size_t)n;
	}
	return 0;
}

/* Opens path for reading and reads its first bytes (up to CHUNK_SIZE, which always covers a
 * CFHEADER up to the end of its strings) into buf. */
static int open_cabinet(const char *path, int *fd_out, uint64_t *size, uint8_t *buf,
			size_t *buf_len, struct pp_error *err)
{
	struct stat st;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		pp_error_set_errno(err, errno, "cannot open %s", path);
		return -1;
	}
	if (fstat(fd, &st) != 0) {
		pp_error_set_errno(err, errno, "cannot stat %s", path);
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		pp_error_set(err, HR_TRUST_E_SUBJECT_FORM_UNKNOWN, "%s is not a regular file",
			     path);
		goto fail;
	}
	*size = (uint64_t)st.st_size;
	*buf_len = *size < CHUNK_SIZE ? (size_t)*size : CHUNK_SIZE;
	if (read_at(fd, buf, *buf_len, 0, path, err) != 0)
		goto fail;
	*fd_out = fd;
	return 0;
fail:
	close(fd);
	return -1;
}

/* ---- the digest ---- */

struct authenticode_digest {
	struct hashworker *hash; /* hashed on a second thread, overlapping the I/O */
	struct cab_digest_sink sink;
	uint64_t pos; /* layout offset of the next byte data() receives */
	uint64_t end; /* cbCabinet: hashing stops there */
	bool started;
	bool finished;
};

/* Offset where the verbatim part of the layout starts: just past abReserve. */
static uint32_t layout_tail_start(const struct cab_header *h)
{
	if (h->flags & CAB_FLAG_RESERVE_PRESENT)
		return 0x28u + h->cb_cf_header;
	return CAB_FIXED_HEADER_SIZE;
}

static int digest_update(struct authenticode_digest *d, const uint8_t *p, size_t n,
			 struct pp_error *err)
{
	return n > 0 ? hashworker_update(d->hash, p, n, err) : 0;
}

static int digest_sink_data(void *ctx, const uint8_t *bytes, size_t len, struct pp_error *err)
{
	struct authenticode_digest *d = ctx;
	size_t n = 0;

	if (!d->started) {
		pp_error_set(err, HR_E_FAIL, "cabinet digest: data before the header");
		return -1;
	}
	if (d->pos < d->end)
		n = d->end - d->pos < len ? (size_t)(d->end - d->pos) : len;
	if (digest_update(d, bytes, n, err) != 0)
		return -1;
	d->pos += len;
	return 0;
}

/* Windows of the file lent to the hash worker, which unmaps each once hashed. */
#define DIGEST_WINDOW (4u * 1024u * 1024u)

static void window_release(void *ctx, const uint8_t *p, size_t n)
{
	uint8_t *base = ctx;

	(void)munmap(base, (size_t)(p + n - base));
}

/* Feeds the digest from fd from its current position (a file offset: the cabinet is already in
 * its signed layout) up to cbCabinet without copying: the file is mapped window by window with
 * MAP_POPULATE, so this thread does the page-table work for the next window while the worker
 * hashes the previous one. Where mapping fails, the bytes are read into the worker's buffers. */
static int digest_read_rest(struct authenticode_digest *d, int fd, const char *path,
			    struct pp_error *err)
{
	const uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);

	while (d->pos < d->end) {
		uint64_t start = d->pos & ~(page - 1);
		size_t want =
		    d->end - d->pos < DIGEST_WINDOW ? (size_t)(d->end - d->pos) : DIGEST_WINDOW;
		size_t map_len = (size_t)(d->pos - start) + want;
		uint8_t *map =
		    mmap(NULL, map_len, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, (off_t)start);

		if (map != MAP_FAILED) {
			if (hashworker_lend(d->hash, map + (d->pos - start), want, window_release,
					    map, err) != 0)
				return -1;
		} else {
			size_t room;
			ssize_t got;
			uint8_t *dst = hashworker_reserve(d->hash, &room, err);

			if (dst == NULL)
				return -1;
			want = want < room ? want : room;
			got = pread(fd, dst, want, (off_t)d->pos);
			if (got <= 0) {
				if (got < 0)
					pp_error_set_errno(err, errno, "cannot read %s", path);
				else
					pp_error_set(err, HR_ERROR_HANDLE_EOF,
						     "%s ends before cbCabinet", path);
				return -1;
			}
			want = (size_t)got;
			if (hashworker_commit(d->hash, want, err) != 0)
				return -1;
		}
		d->pos += want;
	}
	return 0;
}

/* Passes update the parts of the header [0, tail start) in bytes that the digest covers:
 * the signature, cbCabinet through the flags and set fields (not reserved1 at 4, not the reserve
 * sizes at 0x24), and of the reserve its first u16 and structure 1 (not the locator). */
static int header_parts(const uint8_t *bytes, size_t len, const struct cab_header *h,
			int (*update)(void *ctx, const uint8_t *p, size_t n, struct pp_error *err),
			void *ctx, struct pp_error *err)
{
	if (len < layout_tail_start(h)) {
		pp_error_set(err, HR_E_FAIL, "cabinet digest: header of %zu bytes is incomplete",
			     len);
		return -1;
	}
	if (update(ctx, bytes, 4, err) != 0 || update(ctx, bytes + 0x08, 0x24 - 0x08, err) != 0)
		return -1;
	if (h->cb_cf_header > 0) {
		const uint8_t *res = bytes + h->reserve_offset;
		uint32_t len1 = h->cb_cf_header >= 2 ? le16_get(res) : 0;

		if (h->cb_cf_header < 4 || 4u + len1 > h->cb_cf_header) {
			pp_error_set(err, HR_ERROR_INVALID_DATA,
				     "cabinet reserve of %u bytes does not hold its structure 1 "
				     "(%u bytes)",
				     h->cb_cf_header, len1);
			return -1;
		}
		if (update(ctx, res, 2, err) != 0 || update(ctx, res + 4, len1, err) != 0)
			return -1;
	}
	return 0;
}

static int worker_update(void *ctx, const uint8_t *p, size_t n, struct pp_error *err)
{
	return digest_update(ctx, p, n, err);
}

/* Hashes the header part of the layout; bytes holds at least [0, tail start). */
static int digest_sink_header(void *ctx, const uint8_t *bytes, size_t len,
			      const struct cab_header *h, struct pp_error *err)
{
	struct authenticode_digest *d = ctx;
	uint32_t tail = layout_tail_start(h);

	if (d->started) {
		pp_error_set(err, HR_E_FAIL, "cabinet digest: header given twice");
		return -1;
	}
	if (header_parts(bytes, len, h, worker_update, d, err) != 0)
		return -1;
	d->started = true;
	d->pos = tail;
	d->end = h->cb_cabinet;
	return digest_sink_data(d, bytes + tail, len - tail, err);
}

static int md_update(void *ctx, const uint8_t *p, size_t n, struct pp_error *err)
{
	if (n > 0 && EVP_DigestUpdate(ctx, p, n) != 1) {
		pp_error_set_openssl(err, HR_E_FAIL, "cabinet digest failed");
		return -1;
	}
	return 0;
}

int authenticode_cab_header_update(EVP_MD_CTX *ctx, const uint8_t *bytes, size_t len,
				   const struct cab_header *h, struct pp_error *err)
{
	uint32_t tail = layout_tail_start(h);

	if (header_parts(bytes, len, h, md_update, ctx, err) != 0)
		return -1;
	return md_update(ctx, bytes + tail, len - tail, err);
}

struct authenticode_digest *authenticode_digest_new(const EVP_MD *md, struct pp_error *err)
{
	struct authenticode_digest *d;

	d = calloc(1, sizeof(*d));
	if (d == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
		return NULL;
	}
	d->hash = hashworker_new(md ? md : EVP_sha256(), err);
	if (d->hash == NULL) {
		authenticode_digest_free(d);
		return NULL;
	}
	d->sink.ctx = d;
	d->sink.header = digest_sink_header;
	d->sink.data = digest_sink_data;
	return d;
}

void authenticode_digest_free(struct authenticode_digest *d)
{
	if (d == NULL)
		return;
	hashworker_free(d->hash);
	free(d);
}

const struct cab_digest_sink *authenticode_digest_sink(struct authenticode_digest *d)
{
	return &d->sink;
}

int authenticode_digest_final(struct authenticode_digest *d, uint8_t *out, size_t *len,
			      struct pp_error *err)
{
	unsigned int n = 0;

	if (!d->started || d->finished) {
		pp_error_set(err, HR_E_FAIL, "cabinet digest: %s",
			     d->finished ? "already finished" : "no cabinet was hashed");
		return -1;
	}
	if (d->pos < d->end) {
		pp_error_set(err, HR_ERROR_INVALID_DATA,
			     "cabinet digest: the cabinet ended at byte %llu before cbCabinet %llu",
			     (unsigned long long)d->pos, (unsigned long long)d->end);
		return -1;
	}
	if (hashworker_final(d->hash, out, &n, err) != 0)
		return -1;
	d->finished = true;
	*len = n;
	return 0;
}

/* ---- the signed layout as a stream ---- */

enum layout_change {
	LAYOUT_KEEP,	     /* already has the signature reserve (or another reserve) */
	LAYOUT_ADD_RESERVE,  /* insert the 24-byte signature reserve at 0x24 */
	LAYOUT_DROP_RESERVE, /* take the 24-byte signature reserve out again */
};

/* Streams the cabinet of fd (header h parsed from hdr) changed as told into out: out->header()
 * once with the new header up to the end of its strings, then out->data() with the folder table
 * (coffCabStart shifted) and everything up to cbCabinet. *new_h gets the new header. */
static int layout_stream(int fd, const uint8_t *hdr, const struct cab_header *h,
			 enum layout_change change, const struct cab_digest_sink *out,
			 struct cab_header *new_h, struct pp_error *err)
{
	uint8_t *buf = NULL, *nh = NULL;
	size_t nh_len = 0;
	int64_t shift = 0;
	uint64_t off;
	size_t entry = 8u + h->cb_cf_folder;
	int rc = -1;

	nh = malloc(h->folders_offset + CAB_SIGNATURE_HEADER_GROWTH);
	buf = malloc(CHUNK_SIZE);
	if (nh == NULL || buf == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
		goto out;
	}
	switch (change) {
	case LAYOUT_KEEP:
		memcpy(nh, hdr, h->folders_offset);
		nh_len = h->folders_offset;
		if (h->signature_reserve)
			le32_put(nh + h->reserve_offset + 8, 0); /* old length, rewritten later */
		break;
	case LAYOUT_ADD_RESERVE:
		shift = CAB_SIGNATURE_HEADER_GROWTH;
		memcpy(nh, hdr, CAB_FIXED_HEADER_SIZE);
		/* 0x24 cbCFHeader=20, cbCFFolder=0, cbCFData=0; 0x28 u16 0, u16 16 (locator size);
		 * 0x2C signature offset (= new cbCabinet); 0x30 length (patched later); 8 zeros */
		memset(nh + 0x24, 0, CAB_SIGNATURE_HEADER_GROWTH);
		le16_put(nh + 0x24, CAB_SIGNATURE_RESERVE_SIZE);
		le16_put(nh + 0x2A, 16);
		le32_put(nh + 0x2C, h->cb_cabinet + CAB_SIGNATURE_HEADER_GROWTH);
		memcpy(nh + 0x3C, hdr + CAB_FIXED_HEADER_SIZE,
		       h->folders_offset - CAB_FIXED_HEADER_SIZE);
		nh_len = h->folders_offset + CAB_SIGNATURE_HEADER_GROWTH;
		le16_put(nh + 0x1E, h->flags | CAB_FLAG_RESERVE_PRESENT);
		break;
	case LAYOUT_DROP_RESERVE:
		shift = -(int64_t)CAB_SIGNATURE_HEADER_GROWTH;
		memcpy(nh, hdr, CAB_FIXED_HEADER_SIZE);
		memcpy(nh + CAB_FIXED_HEADER_SIZE, hdr + 0x3C, h->folders_offset - 0x3C);
		nh_len = h->folders_offset - CAB_SIGNATURE_HEADER_GROWTH;
		le16_put(nh + 0x1E, h->flags & ~CAB_FLAG_RESERVE_PRESENT);
		break;
	}
	le32_put(nh + 0x08, (uint32_t)((int64_t)h->cb_cabinet + shift));
	le32_put(nh + 0x10, (uint32_t)((int64_t)h->coff_files + shift));
	if (cab_header_parse(nh, nh_len, (uint64_t)((int64_t)h->cb_cabinet + shift), new_h, err) !=
	    0)
		goto out;
	if (out->header(out->ctx, nh, nh_len, new_h, err) != 0)
		goto out;

	/* The folder table, whole entries per chunk, coffCabStart shifted. */
	off = h->folders_offset;
	while (off < h->folders_end) {
		size_t n = (size_t)(h->folders_end - off), i;
		size_t max = (CHUNK_SIZE / entry) * entry;

		if (n > max)
			n = max;
		if (read_at(fd, buf, n, off, "the cabinet folder table", err) != 0)
			goto out;
		for (i = 0; shift != 0 && i + 8 <= n; i += entry)
			le32_put(buf + i, (uint32_t)((int64_t)le32_get(buf + i) + shift));
		if (out->data(out->ctx, buf, n, err) != 0)
			goto out;
		off += n;
	}
	/* CFFILE and CFDATA, unchanged. */
	while (off < h->cb_cabinet) {
		size_t n =
		    h->cb_cabinet - off < CHUNK_SIZE ? (size_t)(h->cb_cabinet - off) : CHUNK_SIZE;

		if (read_at(fd, buf, n, off, "the cabinet", err) != 0)
			goto out;
		if (out->data(out->ctx, buf, n, err) != 0)
			goto out;
		off += n;
	}
	rc = 0;
out:
	free(nh);
	free(buf);
	return rc;
}

/* Parses the header of an open cabinet, mapping "not a cabinet at all" to
 * TRUST_E_SUBJECT_FORM_UNKNOWN and every other problem to ERROR_INVALID_DATA. */
static int parse_header(const char *path, const uint8_t *buf, size_t len, uint64_t size,
			struct cab_header *h, struct pp_error *err)
{
	struct pp_error e;

	if (len < 4 || memcmp(buf, "MSCF", 4) != 0) {
		pp_error_set(err, HR_TRUST_E_SUBJECT_FORM_UNKNOWN,
			     "%s is not a cabinet (it does not start with \"MSCF\")", path);
		return -1;
	}
	pp_error_clear(&e);
	if (cab_header_parse(buf, len, size, h, &e) != 0) {
		pp_error_set(err, e.code, "%s: %s", path, e.message);
		return -1;
	}
	return 0;
}

/* An input cabinet: open, its first bytes (up to CHUNK_SIZE) read and its header parsed. */
struct cab_input {
	int fd;
	uint64_t size;
	uint8_t *buf; /* CHUNK_SIZE bytes, the first buf_len of them the start of the file */
	size_t buf_len;
	struct cab_header h;
};

#define CAB_INPUT_INIT ((struct cab_input){.fd = -1, .buf = NULL})

/* Opens path as a cabinet. The caller calls cab_input_close() whatever the result. */
static int cab_input_open(struct cab_input *in, const char *path, struct pp_error *err)
{
	in->buf = malloc(CHUNK_SIZE);
	if (in->buf == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
		return -1;
	}
	if (open_cabinet(path, &in->fd, &in->size, in->buf, &in->buf_len, err) != 0 ||
	    parse_header(path, in->buf, in->buf_len, in->size, &in->h, err) != 0)
		return -1;
	return 0;
}

static void cab_input_close(struct cab_input *in)
{
	if (in->fd >= 0)
		close(in->fd);
	free(in->buf);
	in->fd = -1;
	in->buf = NULL;
}

/* What a signing or digest operation does with this cabinet's header. */
static int layout_change_for(const char *path, const struct cab_header *h, bool signing,
			     enum layout_change *change, struct pp_error *err)
{
	if (signing && (h->flags & CAB_FLAG_PREV_CABINET)) {
		pp_error_set(err, HR_ERROR_NOT_SUPPORTED,
			     "%s continues a previous cabinet (PREV_CABINET); only the first "
			     "cabinet of a set or a single cabinet can be signed",
			     path);
		return -1;
	}
	if (!(h->flags & CAB_FLAG_RESERVE_PRESENT)) {
		if ((uint64_t)h->cb_cabinet + CAB_SIGNATURE_HEADER_GROWTH > CAB_MAX_CABINET_SIZE) {
			pp_error_set(err, HR_ERROR_FILE_TOO_LARGE,
				     "%s is too large to take a signature reserve", path);
			return -1;
		}
		*change = LAYOUT_ADD_RESERVE;
		return 0;
	}
	if (signing && !h->signature_reserve) {
		pp_error_set(err, HR_ERROR_NOT_SUPPORTED,
			     "%s has a %u-byte header reserve (folder %u, data %u) that is not the "
			     "Authenticode signature reserve; rebuild the cabinet without "
			     "reserves to sign it",
			     path, h->cb_cf_header, h->cb_cf_folder, h->cb_cf_data);
		return -1;
	}
	if (h->signature_reserve && h->signature_length != 0 &&
	    h->signature_offset != h->cb_cabinet) {
		pp_error_set(err, HR_ERROR_INVALID_DATA,
			     "%s: the signature offset %u is not cbCabinet %u", path,
			     h->signature_offset, h->cb_cabinet);
		return -1;
	}
	*change = LAYOUT_KEEP;
	return 0;
}

int authenticode_cab_digest_file(const char *path, const EVP_MD *md, uint8_t *out, size_t *len,
				 struct pp_error *err)
{
	struct cab_input in = CAB_INPUT_INIT;
	struct authenticode_digest *d = NULL;
	struct cab_header nh;
	enum layout_change change;
	int rc = -1;

	if (cab_input_open(&in, path, err) != 0 ||
	    layout_change_for(path, &in.h, false, &change, err) != 0)
		goto out;
	d = authenticode_digest_new(md, err);
	if (d == NULL)
		goto out;
	if (layout_stream(in.fd, in.buf, &in.h, change, &d->sink, &nh, err) != 0 ||
	    authenticode_digest_final(d, out, len, err) != 0)
		goto out;
	rc = 0;
out:
	authenticode_digest_free(d);
	cab_input_close(&in);
	return rc;
}

/* ---- DER helpers ---- */

/* A growing DER buffer; a failed allocation sticks in failed. */
struct der {
	uint8_t *p;
	size_t len, cap;
	bool failed;
};

static void der_add(struct der *d, const void *b, size_t n)
{
	if (d->failed)
		return;
	if (d->len + n > d->cap) {
		size_t cap = d->cap ? d->cap : 256;
		uint8_t *p;

		while (cap < d->len + n)
			cap *= 2;
		p = realloc(d->p, cap);
		if (p == NULL) {
			d->failed = true;
			return;
		}
		d->p = p;
		d->cap = cap;
	}
	if (n > 0)
		memcpy(d->p + d->len, b, n);
	d->len += n;
}

/* Appends a tag (one byte: class | constructed | number < 31) and a DER length. */
static void der_header(struct der *d, uint8_t tag, size_t len)
{
	uint8_t h[6];
	size_t n = 0;

	h[n++] = tag;
	if (len < 0x80) {
		h[n++] = (uint8_t)len;
	} else if (len < 0x100) {
		h[n++] = 0x81;
		h[n++] = (uint8_t)len;
	} else if (len < 0x10000) {
		h[n++] = 0x82;
		h[n++] = (uint8_t)(len >> 8);
		h[n++] = (uint8_t)len;
	} else {
		h[n++] = 0x83;
		h[n++] = (uint8_t)(len >> 16);
		h[n++] = (uint8_t)(len >> 8);
		h[n++] = (uint8_t)len;
	}
	der_add(d, h, n);
}

static void der_tlv(struct der *d, uint8_t tag, const void *content, size_t len)
{
	der_header(d, tag, len);
	der_add(d, content, len);
}

/* SpcIndirectDataContent ::= SEQUENCE { data SpcAttributeTypeAndOptionalValue,
 *                                       messageDigest DigestInfo } */
static int build_indirect_data(const EVP_MD *md, const uint8_t *digest, size_t digest_len,
			       struct der *out, struct pp_error *err)
{
	struct der di = {0}, body = {0};
	uint8_t *alg = NULL;
	int alg_len, rc = -1;
	X509_ALGOR *a = X509_ALGOR_new();

	if (a == NULL ||
	    X509_ALGOR_set0(a, OBJ_nid2obj(EVP_MD_get_type(md)), V_ASN1_NULL, NULL) != 1 ||
	    (alg_len = i2d_X509_ALGOR(a, &alg)) <= 0) {
		pp_error_set_openssl(err, HR_E_FAIL, "cannot encode the digest algorithm");
		goto out;
	}
	der_add(&di, alg, (size_t)alg_len);
	der_tlv(&di, V_ASN1_OCTET_STRING, digest, digest_len);
	der_add(&body, spc_cab_data, sizeof(spc_cab_data));
	der_tlv(&body, V_ASN1_SEQUENCE | V_ASN1_CONSTRUCTED, di.p, di.len);
	der_tlv(out, V_ASN1_SEQUENCE | V_ASN1_CONSTRUCTED, body.p, body.len);
	if (di.failed || body.failed || out->failed) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
		goto out;
	}
	rc = 0;
out:
	X509_ALGOR_free(a);
	OPENSSL_free(alg);
	free(di.p);
	free(body.p);
	return rc;
}

/* SpcSpOpusInfo ::= SEQUENCE { programName [0] EXPLICIT SpcString OPTIONAL,
 *                              moreInfo [1] EXPLICIT SpcLink OPTIONAL }
 * programName as unicode [0] IMPLICIT BMPString, moreInfo as url [0] IMPLICIT IA5String. */
static int build_opus_info(const char *description, const char *url, struct der *out,
			   struct pp_error *err)
{
	struct der body = {0}, inner = {0};
	ASN1_STRING *bmp = NULL;
	int rc = -1;

	if (description != NULL) {
		if (ASN1_mbstring_copy(&bmp, (const unsigned char *)description,
				       (int)strlen(description), MBSTRING_UTF8,
				       B_ASN1_BMPSTRING) < 0) {
			pp_error_set_openssl(err, HR_E_INVALIDARG,
					     "the description is not valid UTF-8");
			goto out;
		}
		der_tlv(&inner, 0x80, ASN1_STRING_get0_data(bmp), (size_t)ASN1_STRING_length(bmp));
		der_tlv(&body, 0xA0, inner.p, inner.len);
		inner.len = 0;
	}
	if (url != NULL) {
		size_t i;

		for (i = 0; url[i] != '\0'; i++) {
			if ((unsigned char)url[i] > 0x7e || (unsigned char)url[i] < 0x20) {
				pp_error_set(err, HR_E_INVALIDARG,
					     "the URL must be printable ASCII");
				goto out;
			}
		}
		der_tlv(&inner, 0x80, url, strlen(url));
		der_tlv(&body, 0xA1, inner.p, inner.len);
	}
	der_tlv(out, V_ASN1_SEQUENCE | V_ASN1_CONSTRUCTED, body.p, body.len);
	if (body.failed || inner.failed || out->failed) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
		goto out;
	}
	rc = 0;
out:
	ASN1_STRING_free(bmp);
	free(body.p);
	free(inner.p);
	return rc;
}

/* Offset and length of the content octets of the DER object at der (tag and length skipped). */
static int der_value(const uint8_t *der, size_t len, size_t *off, size_t *value_len)
{
	const unsigned char *p = der;
	long vlen;
	int tag, xclass, ret;

	if (len > LONG_MAX)
		return -1;
	ret = ASN1_get_object(&p, &vlen, &tag, &xclass, (long)len);
	if (ret & 0x80 || ret != V_ASN1_CONSTRUCTED)
		return -1;
	*off = (size_t)(p - der);
	if ((size_t)vlen > len - *off)
		return -1;
	*value_len = (size_t)vlen;
	return 0;
}

static int add_attr(PKCS7_SIGNER_INFO *si, const char *oid, int type, const void *data, int len,
		    struct pp_error *err)
{
	ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);
	int rc = 0;

	if (obj == NULL || X509at_add1_attr_by_OBJ(&si->auth_attr, obj, type, data, len) == NULL) {
		pp_error_set_openssl(err, HR_E_FAIL, "cannot add the signed attribute %s", oid);
		rc = -1;
	}
	ASN1_OBJECT_free(obj);
	return rc;
}

/* ---- making signatures ---- */

static int sign_with_key(void *ctx, const EVP_MD *md, const uint8_t *hash, size_t hash_len,
			 uint8_t *sig, size_t *sig_len, struct pp_error *err)
{
	EVP_PKEY *key = ctx;
	EVP_PKEY_CTX *pctx;
	int rc = -1;

	pctx = EVP_PKEY_CTX_new(key, NULL);
	if (pctx == NULL || EVP_PKEY_sign_init(pctx) != 1 ||
	    (EVP_PKEY_is_a(key, "RSA") &&
	     EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1) ||
	    EVP_PKEY_CTX_set_signature_md(pctx, md) != 1 ||
	    EVP_PKEY_sign(pctx, sig, sig_len, hash, hash_len) != 1) {
		pp_error_set_openssl(err, HR_NTE_BAD_KEY_STATE,
				     "the private key could not sign the signature attributes");
		goto out;
	}
	rc = 0;
out:
	EVP_PKEY_CTX_free(pctx);
	return rc;
}

void authenticode_signer_init_key(struct authenticode_signer *signer, X509 *cert,
				  STACK_OF(X509) * chain, EVP_PKEY *key)
{
	memset(signer, 0, sizeof(*signer));
	signer->cert = cert;
	signer->chain = chain;
	signer->md = EVP_sha256();
	signer->sign = sign_with_key;
	signer->sign_ctx = key;
}

/* Makes the content of the PKCS#7: contentType 1.3.6.1.4.1.311.2.1.4 with the whole
 * SpcIndirectDataContent DER as its [0] EXPLICIT value. */
static PKCS7 *indirect_content(const struct der *idc, struct pp_error *err)
{
	PKCS7 *inner = PKCS7_new();
	ASN1_STRING *seq = NULL;

	if (inner == NULL)
		goto fail;
	inner->type = OBJ_txt2obj(OID_SPC_INDIRECT_DATA, 1);
	inner->d.other = ASN1_TYPE_new();
	seq = ASN1_STRING_type_new(V_ASN1_SEQUENCE);
	if (inner->type == NULL || inner->d.other == NULL || seq == NULL ||
	    ASN1_STRING_set(seq, idc->p, (int)idc->len) != 1)
		goto fail;
	ASN1_TYPE_set(inner->d.other, V_ASN1_SEQUENCE, seq);
	return inner;
fail:
	pp_error_set_openssl(err, HR_E_OUTOFMEMORY, "cannot build the signed content");
	ASN1_STRING_free(seq);
	PKCS7_free(inner);
	return NULL;
}

int authenticode_create_signature(const struct authenticode_signer *signer, const uint8_t *digest,
				  size_t digest_len, uint8_t **der, size_t *der_len,
				  struct pp_error *err)
{
	const EVP_MD *md = signer->md ? signer->md : EVP_sha256();
	struct der idc = {0}, opus = {0};
	PKCS7 *p7 = NULL, *inner = NULL;
	PKCS7_SIGNER_INFO *si = NULL;
	EVP_PKEY *pub;
	ASN1_TIME *when = NULL;
	ASN1_OBJECT *ctype = NULL;
	uint8_t hash[EVP_MAX_MD_SIZE], *attrs = NULL, *sig = NULL, *out = NULL, *q;
	unsigned int hash_len = 0;
	size_t off, vlen, sig_len;
	int attrs_len, n, i, rc = -1;

	*der = NULL;
	*der_len = 0;
	if (signer->cert == NULL || signer->sign == NULL) {
		pp_error_set(err, HR_E_INVALIDARG, "no signing certificate or signing function");
		return -1;
	}
	if ((size_t)EVP_MD_get_size(md) != digest_len) {
		pp_error_set(err, HR_E_INVALIDARG, "the cabinet digest has %zu bytes, %s needs %d",
			     digest_len, EVP_MD_get0_name(md), EVP_MD_get_size(md));
		return -1;
	}
	pub = X509_get0_pubkey(signer->cert);
	if (pub == NULL) {
		pp_error_set_openssl(err, HR_NTE_BAD_KEY_STATE,
				     "the signing certificate has no usable public key");
		return -1;
	}
	if (build_indirect_data(md, digest, digest_len, &idc, err) != 0 ||
	    build_opus_info(signer->description, signer->url, &opus, err) != 0)
		goto out;
	if (der_value(idc.p, idc.len, &off, &vlen) != 0) {
		pp_error_set(err, HR_E_FAIL, "internal error: bad SpcIndirectDataContent");
		goto out;
	}

	p7 = PKCS7_new();
	si = PKCS7_SIGNER_INFO_new();
	if (p7 == NULL || si == NULL || PKCS7_set_type(p7, NID_pkcs7_signed) != 1 ||
	    PKCS7_SIGNER_INFO_set(si, signer->cert, pub, md) != 1) {
		pp_error_set_openssl(err, HR_NTE_BAD_ALGID,
				     "cannot set up the signer (key type or digest not supported)");
		goto out;
	}

	/* Signed attributes (formats.md 1.6). */
	ctype = OBJ_txt2obj(OID_SPC_INDIRECT_DATA, 1);
	if (ctype == NULL || PKCS7_add_attrib_content_type(si, ctype) != 1) {
		pp_error_set_openssl(err, HR_E_FAIL, "cannot add the contentType attribute");
		goto out;
	}
	ctype = NULL; /* owned by si now */
	when = ASN1_TIME_set(NULL, signer->signing_time ? signer->signing_time : time(NULL));
	if (when == NULL || PKCS7_add0_attrib_signing_time(si, when) != 1) {
		pp_error_set_openssl(err, HR_E_FAIL, "cannot add the signingTime attribute");
		goto out;
	}
	when = NULL;
	if (add_attr(si, OID_SPC_STATEMENT, V_ASN1_SEQUENCE, spc_statement_individual,
		     (int)sizeof(spc_statement_individual), err) != 0 ||
	    add_attr(si, OID_SPC_OPUS_INFO, V_ASN1_SEQUENCE, opus.p, (int)opus.len, err) != 0)
		goto out;
	/* messageDigest covers the value octets of SpcIndirectDataContent, not its tag+length. */
	if (EVP_Digest(idc.p + off, vlen, hash, &hash_len, md, NULL) != 1 ||
	    PKCS7_add1_attrib_digest(si, hash, (int)hash_len) != 1) {
		pp_error_set_openssl(err, HR_E_FAIL, "cannot add the messageDigest attribute");
		goto out;
	}

	/* The signature over the DER SET OF attributes, made by the callback. */
	attrs_len = ASN1_item_i2d((const ASN1_VALUE *)si->auth_attr, &attrs,
				  ASN1_ITEM_rptr(PKCS7_ATTR_SIGN));
	if (attrs_len <= 0 ||
	    EVP_Digest(attrs, (size_t)attrs_len, hash, &hash_len, md, NULL) != 1) {
		pp_error_set_openssl(err, HR_E_FAIL, "cannot encode the signed attributes");
		goto out;
	}
	sig_len = (size_t)EVP_PKEY_get_size(pub);
	if (sig_len < 512)
		sig_len = 512;
	sig = OPENSSL_malloc(sig_len);
	if (sig == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
		goto out;
	}
	if (signer->sign(signer->sign_ctx, md, hash, hash_len, sig, &sig_len, err) != 0)
		goto out;
	ASN1_STRING_set0(si->enc_digest, sig, (int)sig_len);
	sig = NULL;

	if (PKCS7_add_signer(p7, si) != 1) {
		pp_error_set_openssl(err, HR_E_FAIL, "cannot add the signer");
		goto out;
	}
	si = NULL; /* owned by p7 */
	if (PKCS7_add_certificate(p7, signer->cert) != 1)
		goto cert_fail;
	for (i = 0; signer->chain != NULL && i < sk_X509_num(signer->chain); i++) {
		X509 *c = sk_X509_value(signer->chain, i);

		if (X509_cmp(c, signer->cert) != 0 && PKCS7_add_certificate(p7, c) != 1)
			goto cert_fail;
	}
	inner = indirect_content(&idc, err);
	if (inner == NULL)
		goto out;
	if (PKCS7_set_content(p7, inner) != 1) {
		pp_error_set_openssl(err, HR_E_FAIL, "cannot set the signed content");
		goto out;
	}
	inner = NULL;

	n = i2d_PKCS7(p7, NULL);
	if (n <= 0 || (out = malloc((size_t)n)) == NULL) {
		pp_error_set_openssl(err, HR_E_FAIL, "cannot encode the signature");
		goto out;
	}
	q = out;
	if (i2d_PKCS7(p7, &q) != n) {
		pp_error_set_openssl(err, HR_E_FAIL, "cannot encode the signature");
		goto out;
	}
	*der = out;
	*der_len = (size_t)n;
	out = NULL;
	rc = 0;
	goto out;
cert_fail:
	pp_error_set_openssl(err, HR_E_FAIL, "cannot add the certificates to the signature");
out:
	free(out);
	OPENSSL_free(sig);
	OPENSSL_free(attrs);
	ASN1_TIME_free(when);
	ASN1_OBJECT_free(ctype);
	PKCS7_SIGNER_INFO_free(si);
	PKCS7_free(inner);
	PKCS7_free(p7);
	free(idc.p);
	free(opus.p);
	return rc;
}

/* ---- writing signed cabinets ---- */

/* Cuts the output at size and renames it over its target. The rename makes the result appear
 * whole or not at all, also when the process is killed. Not durable: cabinets are rebuilt from
 * their inputs, and flushing hundreds of megabytes would cost more than the signing itself
 * (docs/internals/authenticode.md). */
static int finish_output(struct atomicfile *out, uint64_t size, mode_t mode, struct pp_error *err)
{
	if (ftruncate(out->fd, (off_t)size) != 0) {
		pp_error_set_errno(err, errno, "cannot finish %s", out->tmp);
		return -1;
	}
	return atomicfile_commit(out, mode, false, err);
}

/* Appends the DER blob (zero-padded to 8) at sig_off, patches the locator at 0x2C/0x30, and
 * renames the output over its target. */
static int finish_signed(struct atomicfile *out, uint32_t sig_off, const uint8_t *der,
			 size_t der_len, mode_t mode, struct pp_error *err)
{
	static const uint8_t zeros[8];
	uint8_t loc[8];
	size_t padded = (der_len + 7u) & ~(size_t)7u;

	if (padded > AUTHENTICODE_MAX_SIGNATURE ||
	    (uint64_t)sig_off + padded > CAB_MAX_CABINET_SIZE) {
		pp_error_set(err, HR_ERROR_FILE_TOO_LARGE,
			     "the signature of %zu bytes is too large", der_len);
		return -1;
	}
	le32_put(loc, sig_off);
	le32_put(loc + 4, (uint32_t)padded);
	if (write_at(out->fd, der, der_len, sig_off, out->tmp, err) != 0 ||
	    write_at(out->fd, zeros, padded - der_len, (uint64_t)sig_off + der_len, out->tmp,
		     err) != 0 ||
	    write_at(out->fd, loc, sizeof(loc), 0x2C, out->tmp, err) != 0)
		return -1;
	return finish_output(out, (uint64_t)sig_off + padded, mode, err);
}

/* Writes the layout to the output file and hashes it at the same time. */
struct tee_sink {
	int fd;
	uint64_t pos;
	const char *path;
	struct authenticode_digest *d;
	struct cab_digest_sink sink;
};

static int tee_data(void *ctx, const uint8_t *bytes, size_t len, struct pp_error *err)
{
	struct tee_sink *t = ctx;

	if (write_at(t->fd, bytes, len, t->pos, t->path, err) != 0)
		return -1;
	t->pos += len;
	return t->d == NULL ? 0 : digest_sink_data(t->d, bytes, len, err);
}

static int tee_header(void *ctx, const uint8_t *bytes, size_t len, const struct cab_header *h,
		      struct pp_error *err)
{
	struct tee_sink *t = ctx;

	if (write_at(t->fd, bytes, len, 0, t->path, err) != 0)
		return -1;
	t->pos = len;
	return t->d == NULL ? 0 : digest_sink_header(t->d, bytes, len, h, err);
}

static mode_t file_mode(int fd)
{
	struct stat st;

	if (fstat(fd, &st) == 0)
		return st.st_mode & 0777;
	return 0644;
}

/* Points a tee at the output file (d may be NULL: write only). */
static void tee_init(struct tee_sink *t, const struct atomicfile *out,
		     struct authenticode_digest *d)
{
	memset(t, 0, sizeof(*t));
	t->fd = out->fd;
	t->path = out->tmp;
	t->d = d;
	t->sink.ctx = t;
	t->sink.header = tee_header;
	t->sink.data = tee_data;
}

int authenticode_sign_cab(const char *in_path, const char *out_path,
			  const struct authenticode_signer *signer, struct pp_error *err)
{
	struct cab_input in = CAB_INPUT_INIT;
	struct atomicfile out = ATOMICFILE_INIT;
	struct authenticode_digest *d = NULL;
	struct tee_sink tee;
	struct cab_header nh;
	enum layout_change change;
	uint8_t digest[AUTHENTICODE_DIGEST_MAX], *der = NULL;
	size_t digest_len = 0, der_len = 0;
	int rc = -1;

	if (out_path == NULL)
		out_path = in_path;
	if (cab_input_open(&in, in_path, err) != 0 ||
	    layout_change_for(in_path, &in.h, true, &change, err) != 0)
		goto out;
	d = authenticode_digest_new(signer->md, err);
	if (d == NULL || atomicfile_open(&out, out_path, err) != 0)
		goto out;
	tee_init(&tee, &out, d);
	if (layout_stream(in.fd, in.buf, &in.h, change, &tee.sink, &nh, err) != 0 ||
	    authenticode_digest_final(d, digest, &digest_len, err) != 0 ||
	    authenticode_create_signature(signer, digest, digest_len, &der, &der_len, err) != 0 ||
	    finish_signed(&out, nh.cb_cabinet, der, der_len, file_mode(in.fd), err) != 0)
		goto out;
	rc = 0;
out:
	atomicfile_abort(&out);
	cab_input_close(&in);
	free(der);
	authenticode_digest_free(d);
	return rc;
}

/* ---- whole-file digests in the writing pass ---- */

/* Signs nothing: a signature of the key's full size (what an RSA PKCS#1 v1.5 signature always
 * has), so that the DER blob gets its final length without the private key. */
static int sign_placeholder(void *ctx, const EVP_MD *md, const uint8_t *hash, size_t hash_len,
			    uint8_t *sig, size_t *sig_len, struct pp_error *err)
{
	size_t n = (size_t)EVP_PKEY_get_size(X509_get0_pubkey(ctx));

	(void)md;
	(void)hash;
	(void)hash_len;
	if (n == 0 || n > *sig_len) {
		pp_error_set(err, HR_E_FAIL, "cannot size the signature");
		return -1;
	}
	memset(sig, 0xFF, n);
	*sig_len = n;
	return 0;
}

int authenticode_signature_length(const struct authenticode_signer *signer, size_t *padded,
				  struct pp_error *err)
{
	struct authenticode_signer probe = *signer;
	uint8_t digest[EVP_MAX_MD_SIZE] = {0}, *der = NULL;
	size_t der_len = 0;

	probe.sign = sign_placeholder;
	probe.sign_ctx = signer->cert;
	if (authenticode_create_signature(
		&probe, digest, (size_t)EVP_MD_get_size(signer->md ? signer->md : EVP_sha256()),
		&der, &der_len, err) != 0)
		return -1;
	free(der);
	*padded = (der_len + 7u) & ~(size_t)7u;
	return 0;
}

/* Feeds the Authenticode digest and, as the finished file will read, SHA-1 and SHA-256 of the
 * whole file (each on its own thread): the header with the signature locator it will get, then
 * every later byte. */
struct file_tee {
	const struct cab_digest_sink *inner;
	struct hashworker *sha1, *sha256;
	uint32_t blob_len; /* predicted, padded */
	struct cab_digest_sink sink;
};

static int file_tee_feed(struct file_tee *t, const uint8_t *p, size_t n, struct pp_error *err)
{
	return hashworker_update(t->sha1, p, n, err) != 0 ||
		       hashworker_update(t->sha256, p, n, err) != 0
		   ? -1
		   : 0;
}

static int file_tee_header(void *ctx, const uint8_t *bytes, size_t len, const struct cab_header *h,
			   struct pp_error *err)
{
	struct file_tee *t = ctx;
	uint8_t head[0x34];

	if (t->inner->header(t->inner->ctx, bytes, len, h, err) != 0)
		return -1;
	if (!h->signature_reserve || len < sizeof(head)) {
		pp_error_set(err, HR_E_FAIL, "cabinet digest: no signature reserve to fill");
		return -1;
	}
	memcpy(head, bytes, sizeof(head));
	le32_put(head + 0x2C, h->cb_cabinet);
	le32_put(head + 0x30, t->blob_len);
	return file_tee_feed(t, head, sizeof(head), err) != 0 ||
		       file_tee_feed(t, bytes + sizeof(head), len - sizeof(head), err) != 0
		   ? -1
		   : 0;
}

static int file_tee_data(void *ctx, const uint8_t *bytes, size_t len, struct pp_error *err)
{
	struct file_tee *t = ctx;

	if (t->inner->data(t->inner->ctx, bytes, len, err) != 0)
		return -1;
	return file_tee_feed(t, bytes, len, err);
}

/* The blob and its padding end the file: the digests are final when the blob has the predicted
 * length, else file->computed stays false. */
static int file_tee_finish(struct file_tee *t, uint32_t cb, const uint8_t *der, size_t der_len,
			   struct authenticode_file_digests *file, struct pp_error *err)
{
	static const uint8_t zeros[8];
	unsigned n1 = 0, n256 = 0;

	memset(file, 0, sizeof(*file));
	if (((der_len + 7u) & ~(size_t)7u) != t->blob_len)
		return 0;
	if (file_tee_feed(t, der, der_len, err) != 0 ||
	    file_tee_feed(t, zeros, t->blob_len - der_len, err) != 0 ||
	    hashworker_final(t->sha1, file->sha1, &n1, err) != 0 ||
	    hashworker_final(t->sha256, file->sha256, &n256, err) != 0)
		return -1;
	if (n1 != sizeof(file->sha1) || n256 != sizeof(file->sha256)) {
		pp_error_set(err, HR_E_FAIL, "unexpected digest sizes");
		return -1;
	}
	file->size = (uint64_t)cb + t->blob_len;
	file->computed = true;
	return 0;
}

int authenticode_create_signed_cab(const char *out_path, const char *const *files,
				   const char *const *names, size_t count,
				   enum cab_compression compression,
				   const struct authenticode_signer *signer,
				   cab_progress_fn progress, void *progress_ctx,
				   struct authenticode_file_digests *file, struct pp_error *err)
{
	struct atomicfile out = ATOMICFILE_INIT;
	struct authenticode_digest *d = NULL;
	struct authenticode_signer fixed = *signer;
	struct file_tee tee;
	struct cab_writer *w = NULL;
	struct cab_writer_options opts;
	uint8_t digest[AUTHENTICODE_DIGEST_MAX], *der = NULL;
	size_t digest_len = 0, der_len = 0, blob_len = 0, i;
	bool in_pass = file != NULL && compression == CAB_COMPRESS_NONE;
	uint32_t cb = 0;
	mode_t mask;
	int rc = -1;

	memset(&tee, 0, sizeof(tee));
	if (file != NULL)
		memset(file, 0, sizeof(*file));
	/* One signing time for the prediction and the signature. */
	if (fixed.signing_time == 0)
		fixed.signing_time = time(NULL);
	d = authenticode_digest_new(signer->md, err);
	if (d == NULL || atomicfile_open(&out, out_path, err) != 0)
		goto out;
	memset(&opts, 0, sizeof(opts));
	opts.compression = compression;
	opts.signature_reserve = true;
	opts.sink = authenticode_digest_sink(d);
	opts.progress = progress;
	opts.progress_ctx = progress_ctx;
	if (in_pass) {
		if (authenticode_signature_length(&fixed, &blob_len, err) != 0)
			goto out;
		tee.inner = opts.sink;
		tee.blob_len = (uint32_t)blob_len;
		tee.sha1 = hashworker_new(EVP_sha1(), err);
		tee.sha256 = tee.sha1 != NULL ? hashworker_new(EVP_sha256(), err) : NULL;
		if (tee.sha256 == NULL)
			goto out;
		tee.sink.ctx = &tee;
		tee.sink.header = file_tee_header;
		tee.sink.data = file_tee_data;
		opts.sink = &tee.sink;
	}
	w = cab_writer_new(out.fd, &opts, err);
	if (w == NULL)
		goto out;
	for (i = 0; i < count; i++) {
		if (cab_writer_add_file(w, files[i], names[i], err) != 0)
			goto out;
	}
	if (cab_writer_finish(w, &cb, err) != 0 ||
	    authenticode_digest_final(d, digest, &digest_len, err) != 0 ||
	    authenticode_create_signature(&fixed, digest, digest_len, &der, &der_len, err) != 0)
		goto out;
	if (in_pass && file_tee_finish(&tee, cb, der, der_len, file, err) != 0)
		goto out;
	mask = umask(0);
	umask(mask);
	if (finish_signed(&out, cb, der, der_len, 0666 & ~mask, err) != 0)
		goto out;
	rc = 0;
out:
	if (rc != 0 && file != NULL)
		memset(file, 0, sizeof(*file));
	hashworker_free(tee.sha1);
	hashworker_free(tee.sha256);
	cab_writer_free(w);
	atomicfile_abort(&out);
	free(der);
	authenticode_digest_free(d);
	return rc;
}

int authenticode_remove_signature(const char *in_path, const char *out_path, struct pp_error *err)
{
	struct cab_input in = CAB_INPUT_INIT;
	struct atomicfile out = ATOMICFILE_INIT;
	const struct cab_header *h = &in.h;
	struct tee_sink tee;
	struct cab_header nh;
	int rc = -1;

	if (out_path == NULL)
		out_path = in_path;
	if (cab_input_open(&in, in_path, err) != 0)
		goto out;
	if (!h->signature_reserve) {
		pp_error_set(err, HR_TRUST_E_NOSIGNATURE, "%s has no signature to remove", in_path);
		goto out;
	}
	if (h->cb_cf_folder != 0 || h->cb_cf_data != 0 ||
	    h->cb_cabinet < 0x3C + 8u * h->c_folders) {
		pp_error_set(err, HR_ERROR_NOT_SUPPORTED,
			     "%s has folder or data reserves; its signature reserve cannot be "
			     "taken out",
			     in_path);
		goto out;
	}
	if (h->signature_length != 0 && h->signature_offset != h->cb_cabinet) {
		pp_error_set(err, HR_ERROR_INVALID_DATA,
			     "%s: the signature offset %u is not cbCabinet %u", in_path,
			     h->signature_offset, h->cb_cabinet);
		goto out;
	}
	if (atomicfile_open(&out, out_path, err) != 0)
		goto out;
	tee_init(&tee, &out, NULL);
	if (layout_stream(in.fd, in.buf, h, LAYOUT_DROP_RESERVE, &tee.sink, &nh, err) != 0 ||
	    finish_output(&out, tee.pos, file_mode(in.fd), err) != 0)
		goto out;
	rc = 0;
out:
	atomicfile_abort(&out);
	cab_input_close(&in);
	return rc;
}

/* ---- reading signatures ---- */

static bool obj_is(const ASN1_OBJECT *obj, const char *oid)
{
	ASN1_OBJECT *want = OBJ_txt2obj(oid, 1);
	bool same = want != NULL && obj != NULL && OBJ_cmp(obj, want) == 0;

	ASN1_OBJECT_free(want);
	return same;
}

static bool asn1_time_to_time_t(const ASN1_TIME *t, time_t *out)
{
	struct tm tm;

	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
		return false;
	*out = timegm(&tm);
	return true;
}

/* Only the digests Authenticode uses for cabinets. */
static const EVP_MD *digest_by_object(const ASN1_OBJECT *obj)
{
	switch (OBJ_obj2nid(obj)) {
	case NID_sha1:
		return EVP_sha1();
	case NID_sha256:
		return EVP_sha256();
	case NID_sha384:
		return EVP_sha384();
	case NID_sha512:
		return EVP_sha512();
	default:
		return NULL;
	}
}

/* The SpcIndirectDataContent DER held by the SignedData's content, or NULL. */
static const ASN1_STRING *indirect_data_der(PKCS7 *p7)
{
	PKCS7 *c = p7->d.sign->contents;

	if (c == NULL || !obj_is(c->type, OID_SPC_INDIRECT_DATA) || c->d.other == NULL ||
	    c->d.other->type != V_ASN1_SEQUENCE)
		return NULL;
	return c->d.other->value.sequence;
}

/* Decodes SpcIndirectDataContent: data (a SEQUENCE starting with an OID) and DigestInfo. */
static int parse_indirect_data(const ASN1_STRING *seq, struct authenticode_info *info,
			       struct pp_error *err)
{
	const uint8_t *der = ASN1_STRING_get0_data(seq), *p;
	size_t len = (size_t)ASN1_STRING_length(seq), off, vlen, doff, dlen;
	X509_SIG *di = NULL;
	const X509_ALGOR *alg = NULL;
	const ASN1_OCTET_STRING *dig = NULL;
	const ASN1_OBJECT *alg_obj = NULL;
	const unsigned char *q;
	int rc = -1;

	if (der_value(der, len, &off, &vlen) != 0 || der[0] != 0x30 || off + vlen != len)
		goto bad;
	p = der + off;
	/* data: SEQUENCE { OID type, value ANY OPTIONAL } */
	if (der_value(p, vlen, &doff, &dlen) != 0 || p[0] != 0x30 || dlen < 2 ||
	    p[doff] != V_ASN1_OBJECT)
		goto bad;
	p += doff + dlen;
	q = p;
	di = d2i_X509_SIG(NULL, &q, (long)(der + len - p));
	if (di == NULL || q != der + len)
		goto bad;
	X509_SIG_get0(di, &alg, &dig);
	X509_ALGOR_get0(&alg_obj, NULL, NULL, alg);
	info->md = digest_by_object(alg_obj);
	if (info->md == NULL) {
		char name[80];

		OBJ_obj2txt(name, sizeof(name), alg_obj, 0);
		pp_error_set(err, HR_NTE_BAD_ALGID,
			     "the signature uses the digest %s; only SHA-1, SHA-256, SHA-384 and "
			     "SHA-512 are supported",
			     name);
		goto out;
	}
	if (ASN1_STRING_length(dig) != EVP_MD_get_size(info->md))
		goto bad;
	info->digest_len = (size_t)ASN1_STRING_length(dig);
	memcpy(info->signed_digest, ASN1_STRING_get0_data(dig), info->digest_len);
	rc = 0;
	goto out;
bad:
	pp_error_set(err, HR_CRYPT_E_ASN1_BADTAG,
		     "the signature's SpcIndirectDataContent is malformed");
out:
	X509_SIG_free(di);
	return rc;
}

static void info_reset(struct authenticode_info *info)
{
	memset(info, 0, sizeof(*info));
}

void authenticode_info_release(struct authenticode_info *info)
{
	if (info == NULL)
		return;
	PKCS7_free(info->p7);
	sk_X509_pop_free(info->certs, X509_free);
	sk_X509_pop_free(info->timestamp_certs, X509_free);
	info_reset(info);
}

int authenticode_parse_signature(const uint8_t *der, size_t len, struct authenticode_info *info,
				 struct pp_error *err)
{
	const unsigned char *p = der;
	PKCS7_SIGNER_INFO *si;
	STACK_OF(PKCS7_SIGNER_INFO) * sis;
	const ASN1_STRING *idc;
	ASN1_TYPE *t;

	info_reset(info);
	if (len == 0 || len > AUTHENTICODE_MAX_SIGNATURE) {
		pp_error_set(err, HR_CRYPT_E_ASN1_BADTAG,
			     "signature blob of %zu bytes (at most %u are accepted)", len,
			     AUTHENTICODE_MAX_SIGNATURE);
		return -1;
	}
	info->p7 = d2i_PKCS7(NULL, &p, (long)len);
	if (info->p7 == NULL) {
		pp_error_set_openssl(err, HR_CRYPT_E_ASN1_BADTAG,
				     "the signature is not a DER PKCS#7 object");
		goto fail;
	}
	if (!PKCS7_type_is_signed(info->p7) || info->p7->d.sign == NULL) {
		pp_error_set(err, HR_CRYPT_E_ASN1_BADTAG,
			     "the signature is not a PKCS#7 SignedData");
		goto fail;
	}
	idc = indirect_data_der(info->p7);
	if (idc == NULL) {
		pp_error_set(err, HR_CRYPT_E_ASN1_BADTAG,
			     "the signed content is not SpcIndirectDataContent (%s)",
			     OID_SPC_INDIRECT_DATA);
		goto fail;
	}
	if (parse_indirect_data(idc, info, err) != 0)
		goto fail;
	sis = PKCS7_get_signer_info(info->p7);
	if (sis == NULL || sk_PKCS7_SIGNER_INFO_num(sis) != 1) {
		pp_error_set(err, HR_CRYPT_E_ASN1_BADTAG,
			     "the signature has %d signers; Authenticode needs exactly one",
			     sis ? sk_PKCS7_SIGNER_INFO_num(sis) : 0);
		goto fail;
	}
	si = sk_PKCS7_SIGNER_INFO_value(sis, 0);
	if (info->p7->d.sign->cert != NULL) {
		info->certs = X509_chain_up_ref(info->p7->d.sign->cert);
		if (info->certs == NULL) {
			pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
			goto fail;
		}
	}
	if (si->issuer_and_serial != NULL && info->certs != NULL)
		info->signer = X509_find_by_issuer_and_serial(
		    info->certs, si->issuer_and_serial->issuer, si->issuer_and_serial->serial);
	if (info->signer == NULL) {
		pp_error_set(err, HR_CRYPT_E_ASN1_BADTAG,
			     "the signer's certificate is not included in the signature");
		goto fail;
	}
	t = PKCS7_get_signed_attribute(si, NID_pkcs9_signingTime);
	if (t != NULL && (t->type == V_ASN1_UTCTIME || t->type == V_ASN1_GENERALIZEDTIME))
		info->has_signing_time = asn1_time_to_time_t(t->value.utctime, &info->signing_time);
	return 0;
fail:
	authenticode_info_release(info);
	return -1;
}

/* Checks a SignerInfo: its contentType attribute is ctype (when given), its messageDigest is
 * H(content) and its signature over the DER attributes verifies with cert's key. */
static bool signer_info_verifies(PKCS7_SIGNER_INFO *si, X509 *cert, const char *ctype,
				 const uint8_t *content, size_t content_len)
{
	const EVP_MD *md;
	ASN1_OCTET_STRING *md_attr;
	ASN1_TYPE *t;
	EVP_MD_CTX *ctx = NULL;
	EVP_PKEY *pub = X509_get0_pubkey(cert);
	uint8_t hash[EVP_MAX_MD_SIZE], *attrs = NULL;
	unsigned int hash_len = 0;
	int attrs_len;
	bool ok = false;

	md = digest_by_object(si->digest_alg ? si->digest_alg->algorithm : NULL);
	if (md == NULL || pub == NULL || si->auth_attr == NULL || si->enc_digest == NULL)
		goto out;
	if (ctype != NULL) {
		t = PKCS7_get_signed_attribute(si, NID_pkcs9_contentType);
		if (t == NULL || t->type != V_ASN1_OBJECT || !obj_is(t->value.object, ctype))
			goto out;
	}
	md_attr = PKCS7_digest_from_attributes(si->auth_attr);
	if (md_attr == NULL || EVP_Digest(content, content_len, hash, &hash_len, md, NULL) != 1 ||
	    (unsigned int)ASN1_STRING_length(md_attr) != hash_len ||
	    memcmp(ASN1_STRING_get0_data(md_attr), hash, hash_len) != 0)
		goto out;
	/* The signature covers the attributes re-encoded as a SET in the order received. */
	attrs_len = ASN1_item_i2d((const ASN1_VALUE *)si->auth_attr, &attrs,
				  ASN1_ITEM_rptr(PKCS7_ATTR_VERIFY));
	ctx = EVP_MD_CTX_new();
	if (attrs_len <= 0 || ctx == NULL || EVP_DigestVerifyInit(ctx, NULL, md, NULL, pub) != 1 ||
	    EVP_DigestVerify(ctx, ASN1_STRING_get0_data(si->enc_digest),
			     (size_t)ASN1_STRING_length(si->enc_digest), attrs,
			     (size_t)attrs_len) != 1)
		goto out;
	ok = true;
out:
	EVP_MD_CTX_free(ctx);
	OPENSSL_free(attrs);
	ERR_clear_error();
	return ok;
}

static X509 *find_cert(STACK_OF(X509) * certs, PKCS7_ISSUER_AND_SERIAL *ias)
{
	if (certs == NULL || ias == NULL)
		return NULL;
	return X509_find_by_issuer_and_serial(certs, ias->issuer, ias->serial);
}

/* A legacy Authenticode timestamp: a counter-signature SignerInfo over our encryptedDigest,
 * signed by a TSA certificate carried among the outer certificates. */
static void check_countersignature(struct authenticode_info *info, PKCS7_SIGNER_INFO *si,
				   ASN1_TYPE *attr)
{
	const unsigned char *p;
	PKCS7_SIGNER_INFO *cs = NULL;
	ASN1_TYPE *t;
	X509 *tsa;

	info->has_timestamp = true;
	if (attr->type != V_ASN1_SEQUENCE)
		return;
	p = ASN1_STRING_get0_data(attr->value.sequence);
	cs = d2i_PKCS7_SIGNER_INFO(NULL, &p, ASN1_STRING_length(attr->value.sequence));
	if (cs == NULL)
		goto out;
	tsa = find_cert(info->certs, cs->issuer_and_serial);
	t = PKCS7_get_signed_attribute(cs, NID_pkcs9_signingTime);
	if (tsa == NULL || t == NULL ||
	    (t->type != V_ASN1_UTCTIME && t->type != V_ASN1_GENERALIZEDTIME) ||
	    !asn1_time_to_time_t(t->value.utctime, &info->timestamp_time))
		goto out;
	if (!signer_info_verifies(cs, tsa, NULL, ASN1_STRING_get0_data(si->enc_digest),
				  (size_t)ASN1_STRING_length(si->enc_digest)))
		goto out;
	info->timestamp_certs = X509_chain_up_ref(info->certs);
	info->timestamp_valid = info->timestamp_certs != NULL;
out:
	PKCS7_SIGNER_INFO_free(cs);
	ERR_clear_error();
}

/* An RFC 3161 timestamp: a TimeStampToken whose messageImprint is H(our encryptedDigest). The
 * token's own signature is checked here; its certificate chain is trust.c's business. */
static void check_rfc3161(struct authenticode_info *info, PKCS7_SIGNER_INFO *si, ASN1_TYPE *attr)
{
	const unsigned char *p;
	PKCS7 *token = NULL;
	TS_TST_INFO *tst = NULL;
	TS_MSG_IMPRINT *imprint;
	const EVP_MD *md;
	ASN1_OCTET_STRING *want;
	uint8_t hash[EVP_MAX_MD_SIZE];
	unsigned int hash_len = 0;

	info->has_timestamp = true;
	if (attr->type != V_ASN1_SEQUENCE)
		return;
	p = ASN1_STRING_get0_data(attr->value.sequence);
	token = d2i_PKCS7(NULL, &p, ASN1_STRING_length(attr->value.sequence));
	if (token == NULL || !PKCS7_type_is_signed(token))
		goto out;
	/* The outer certificates help find a TSA certificate the token does not carry. */
	if (PKCS7_verify(token, info->certs, NULL, NULL, NULL, PKCS7_NOVERIFY | PKCS7_NOCHAIN) != 1)
		goto out;
	tst = PKCS7_to_TS_TST_INFO(token);
	if (tst == NULL)
		goto out;
	imprint = TS_TST_INFO_get_msg_imprint(tst);
	md = digest_by_object(TS_MSG_IMPRINT_get_algo(imprint)->algorithm);
	want = TS_MSG_IMPRINT_get_msg(imprint);
	if (md == NULL ||
	    EVP_Digest(ASN1_STRING_get0_data(si->enc_digest),
		       (size_t)ASN1_STRING_length(si->enc_digest), hash, &hash_len, md,
		       NULL) != 1 ||
	    (unsigned int)ASN1_STRING_length(want) != hash_len ||
	    memcmp(ASN1_STRING_get0_data(want), hash, hash_len) != 0)
		goto out;
	if (!asn1_time_to_time_t(TS_TST_INFO_get_time(tst), &info->timestamp_time))
		goto out;
	info->timestamp_certs = X509_chain_up_ref(
	    sk_X509_num(token->d.sign->cert) > 0 ? token->d.sign->cert : info->certs);
	info->timestamp_valid = info->timestamp_certs != NULL;
out:
	TS_TST_INFO_free(tst);
	PKCS7_free(token);
	ERR_clear_error();
}

static void check_timestamps(struct authenticode_info *info, PKCS7_SIGNER_INFO *si)
{
	ASN1_OBJECT *rfc3161 = OBJ_txt2obj(OID_SPC_RFC3161, 1);
	int i;

	for (i = 0; i < sk_X509_ATTRIBUTE_num(si->unauth_attr) && !info->timestamp_valid; i++) {
		X509_ATTRIBUTE *a = sk_X509_ATTRIBUTE_value(si->unauth_attr, i);
		ASN1_OBJECT *obj = X509_ATTRIBUTE_get0_object(a);
		ASN1_TYPE *v = X509_ATTRIBUTE_get0_type(a, 0);

		if (v == NULL)
			continue;
		if (OBJ_obj2nid(obj) == NID_pkcs9_countersignature)
			check_countersignature(info, si, v);
		else if (rfc3161 != NULL && OBJ_cmp(obj, rfc3161) == 0)
			check_rfc3161(info, si, v);
	}
	ASN1_OBJECT_free(rfc3161);
}

/* Checks messageDigest and the signer's signature, then any timestamp. */
static void verify_signature(struct authenticode_info *info)
{
	PKCS7_SIGNER_INFO *si = sk_PKCS7_SIGNER_INFO_value(PKCS7_get_signer_info(info->p7), 0);
	const ASN1_STRING *idc = indirect_data_der(info->p7);
	size_t off, vlen;

	if (si == NULL || idc == NULL ||
	    der_value(ASN1_STRING_get0_data(idc), (size_t)ASN1_STRING_length(idc), &off, &vlen) !=
		0)
		return;
	info->signature_valid = signer_info_verifies(si, info->signer, OID_SPC_INDIRECT_DATA,
						     ASN1_STRING_get0_data(idc) + off, vlen);
	check_timestamps(info, si);
}

/* The signature blob: one DER object, then only zero padding. */
static int read_blob(int fd, const char *path, const struct cab_header *h, uint64_t size,
		     struct authenticode_info *info, struct pp_error *err)
{
	uint8_t *blob = NULL;
	const unsigned char *p;
	long obj_len;
	int tag, xclass, ret, rc = -1;
	size_t used, i;

	if (h->signature_offset != h->cb_cabinet) {
		pp_error_set(err, HR_ERROR_INVALID_DATA,
			     "%s: the signature offset %u is not cbCabinet %u", path,
			     h->signature_offset, h->cb_cabinet);
		return -1;
	}
	if (h->signature_length > AUTHENTICODE_MAX_SIGNATURE) {
		pp_error_set(err, HR_ERROR_INVALID_DATA,
			     "%s: the signature locator gives %u bytes; at most %u are accepted",
			     path, h->signature_length, AUTHENTICODE_MAX_SIGNATURE);
		return -1;
	}
	if ((uint64_t)h->signature_offset + h->signature_length != size) {
		pp_error_set(
		    err, HR_ERROR_INVALID_DATA, "%s: %llu bytes follow the signature", path,
		    (unsigned long long)(size - h->signature_offset - h->signature_length));
		return -1;
	}
	blob = malloc(h->signature_length);
	if (blob == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
		return -1;
	}
	if (read_at(fd, blob, h->signature_length, h->signature_offset, path, err) != 0)
		goto out;
	p = blob;
	ret = ASN1_get_object(&p, &obj_len, &tag, &xclass, (long)h->signature_length);
	ERR_clear_error();
	if (ret & 0x80) {
		pp_error_set(err, HR_CRYPT_E_ASN1_BADTAG,
			     "%s: the signature blob is not a DER object", path);
		goto out;
	}
	used = (size_t)(p - blob) + (size_t)obj_len;
	for (i = used; i < h->signature_length; i++) {
		if (blob[i] != 0) {
			pp_error_set(err, HR_CRYPT_E_ASN1_BADTAG,
				     "%s: non-zero bytes follow the signature's DER object", path);
			goto out;
		}
	}
	if (authenticode_parse_signature(blob, used, info, err) != 0)
		goto out;
	rc = 0;
out:
	free(blob);
	return rc;
}

int authenticode_read_cab(const char *path, struct authenticode_info *info, struct pp_error *err)
{
	return authenticode_read_cab_with(path, AUTHENTICODE_FILE_SHA1 | AUTHENTICODE_FILE_SHA256,
					  info, err);
}

int authenticode_read_cab_with(const char *path, unsigned file_digests,
			       struct authenticode_info *info, struct pp_error *err)
{
	struct cab_input in = CAB_INPUT_INIT;
	struct authenticode_digest *d = NULL;
	EVP_MD_CTX *sha1 = NULL, *sha256 = NULL;
	const struct cab_header *h = &in.h;
	uint8_t *buf;
	size_t buf_len = 0;
	uint64_t size, off;
	int fd, rc = -1;

	info_reset(info);
	if (cab_input_open(&in, path, err) != 0)
		goto out;
	fd = in.fd;
	buf = in.buf;
	size = in.size;
	if (!h->signature_reserve || h->signature_length == 0) {
		pp_error_set(err, HR_TRUST_E_NOSIGNATURE, "%s is not signed", path);
		goto out;
	}
	if (read_blob(fd, path, h, size, info, err) != 0)
		goto out;

	/* One pass: the Authenticode digest up to cbCabinet, and the whole-file SHA-1/SHA-256
	 * the caller asked for. */
	d = authenticode_digest_new(info->md, err);
	if (d == NULL)
		goto out;
	if ((file_digests & AUTHENTICODE_FILE_SHA1) &&
	    ((sha1 = EVP_MD_CTX_new()) == NULL || EVP_DigestInit_ex(sha1, EVP_sha1(), NULL) != 1)) {
		pp_error_set_openssl(err, HR_E_FAIL, "cannot start the file SHA-1");
		goto out;
	}
	if ((file_digests & AUTHENTICODE_FILE_SHA256) &&
	    ((sha256 = EVP_MD_CTX_new()) == NULL ||
	     EVP_DigestInit_ex(sha256, EVP_sha256(), NULL) != 1)) {
		pp_error_set_openssl(err, HR_E_FAIL, "cannot start the file SHA-256");
		goto out;
	}
	for (off = 0; off < size; off += buf_len) {
		if (off > 0 && sha1 == NULL && sha256 == NULL) {
			/* Only the Authenticode digest is wanted: no copy, and the signature
			 * at the end need not be read again. */
			if (digest_read_rest(d, fd, path, err) != 0)
				goto out;
			break;
		}
		buf_len = size - off < CHUNK_SIZE ? (size_t)(size - off) : CHUNK_SIZE;
		if (off > 0 && read_at(fd, buf, buf_len, off, path, err) != 0)
			goto out;
		if ((sha1 != NULL && EVP_DigestUpdate(sha1, buf, buf_len) != 1) ||
		    (sha256 != NULL && EVP_DigestUpdate(sha256, buf, buf_len) != 1)) {
			pp_error_set_openssl(err, HR_E_FAIL, "cannot hash %s", path);
			goto out;
		}
		if ((off == 0 ? digest_sink_header(d, buf, buf_len, h, err)
			      : digest_sink_data(d, buf, buf_len, err)) != 0)
			goto out;
	}
	if (authenticode_digest_final(d, info->file_digest, &info->digest_len, err) != 0 ||
	    (sha1 != NULL && EVP_DigestFinal_ex(sha1, info->sha1, NULL) != 1) ||
	    (sha256 != NULL && EVP_DigestFinal_ex(sha256, info->sha256, NULL) != 1))
		goto out;
	info->has_sha1 = sha1 != NULL;
	info->has_sha256 = sha256 != NULL;
	info->file_size = size;
	info->digest_matches =
	    memcmp(info->file_digest, info->signed_digest, info->digest_len) == 0;
	verify_signature(info);
	rc = 0;
out:
	if (rc != 0)
		authenticode_info_release(info);
	EVP_MD_CTX_free(sha1);
	EVP_MD_CTX_free(sha256);
	authenticode_digest_free(d);
	cab_input_close(&in);
	return rc;
}
