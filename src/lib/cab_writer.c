/* cab_writer.c - the one-pass streaming cabinet writer: one folder, NONE or MSZIP, with an
 * optional digest sink that sees the exact bytes written (for Authenticode). */
#include "cab.h"
#include "cab_internal.h"

#include "byteorder.h"
#include "hresult.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <zlib.h>

/* ---- little helpers ---- */

static int pwrite_full(int fd, const uint8_t *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pwrite(fd, buf + done, len - done, (off_t)(off + done));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		done += (size_t)n;
	}
	return 0;
}

/* ---- writer ---- */

/* Bytes the writer adds per CFDATA besides the data: the 8-byte header, and for MSZIP "CK" plus
 * the deflate framing of a block recompressed at level 0 (bounded by CAB_MSZIP_BLOCK_MAX). */
#define CFDATA_HEADER_SIZE   8u
#define MSZIP_BLOCK_OVERHEAD (CAB_MSZIP_BLOCK_MAX - CAB_BLOCK_MAX)
#define WRITE_CHUNK	     65536u
#define PROGRESS_STEP	     (1024u * 1024u)

struct writer_file {
	char *src;
	char *name; /* stored form, '\\' separators */
	uint32_t size;
	uint16_t date, time, attribs;
};

struct cab_writer {
	int fd;
	struct cab_writer_options opts;
	struct writer_file *files;
	size_t nfiles, cap;
	uint64_t total;	     /* uncompressed bytes */
	uint64_t table_size; /* CFFILE table bytes */
	bool finished;
};

/* Output through one bounded buffer. Bytes at or past sink_from also go to the digest sink's
 * data() as they are written (the one-pass NONE case). */
struct out_stream {
	int fd;
	uint64_t off; /* file offset of buf[0] */
	size_t len;
	uint64_t sink_from;
	const struct cab_digest_sink *sink;
	uint8_t buf[WRITE_CHUNK];
};

static int out_flush(struct out_stream *o, struct pp_error *err)
{
	size_t skip = 0;

	if (o->len == 0)
		return 0;
	if (pwrite_full(o->fd, o->buf, o->len, o->off) != 0) {
		pp_error_set_errno(err, errno, "cannot write the cabinet");
		return -1;
	}
	if (o->sink != NULL && o->sink->data != NULL && o->off + o->len > o->sink_from) {
		if (o->off < o->sink_from)
			skip = (size_t)(o->sink_from - o->off);
		if (o->sink->data(o->sink->ctx, o->buf + skip, o->len - skip, err) != 0)
			return -1;
	}
	o->off += o->len;
	o->len = 0;
	return 0;
}

static int out_put(struct out_stream *o, const uint8_t *p, size_t n, struct pp_error *err)
{
	while (n > 0) {
		size_t room = sizeof(o->buf) - o->len, take = n < room ? n : room;

		memcpy(o->buf + o->len, p, take);
		o->len += take;
		p += take;
		n -= take;
		if (o->len == sizeof(o->buf) && out_flush(o, err) != 0)
			return -1;
	}
	return 0;
}

struct cab_writer *cab_writer_new(int fd, const struct cab_writer_options *opts,
				  struct pp_error *err)
{
	struct cab_writer *w;

	if (fd < 0 || opts == NULL) {
		pp_error_set(err, HR_E_INVALIDARG, "cab_writer_new needs a file and options");
		return NULL;
	}
	if (opts->compression != CAB_COMPRESS_NONE && opts->compression != CAB_COMPRESS_MSZIP) {
		pp_error_set(err, HR_ERROR_NOT_SUPPORTED,
			     "cabinet compression %d (%s) cannot be written; use none or MSZIP",
			     (int)opts->compression,
			     cab_internal_compression_name((uint16_t)opts->compression));
		return NULL;
	}
	w = calloc(1, sizeof(*w));
	if (w == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory creating a cabinet writer");
		return NULL;
	}
	w->fd = fd;
	w->opts = *opts;
	return w;
}

void cab_writer_free(struct cab_writer *w)
{
	size_t i;

	if (w == NULL)
		return;
	for (i = 0; i < w->nfiles; i++) {
		free(w->files[i].src);
		free(w->files[i].name);
	}
	free(w->files);
	free(w);
}

static uint32_t writer_header_size(const struct cab_writer *w)
{
	return CAB_FIXED_HEADER_SIZE +
	       (w->opts.signature_reserve ? 4u + CAB_SIGNATURE_RESERVE_SIZE : 0u);
}

static uint64_t block_count(uint64_t total)
{
	return (total + CAB_BLOCK_MAX - 1) / CAB_BLOCK_MAX;
}

/* The largest cabinet these files can produce: the exact size for NONE, the level-0 worst case
 * for MSZIP. */
static uint64_t writer_size_bound(const struct cab_writer *w, uint64_t total, uint64_t table)
{
	uint64_t per_block = CFDATA_HEADER_SIZE;

	if (w->opts.compression == CAB_COMPRESS_MSZIP)
		per_block += MSZIP_BLOCK_OVERHEAD;
	return writer_header_size(w) + 8u + table + block_count(total) * per_block + total;
}

static void dos_date_time(time_t t, uint16_t *date, uint16_t *tm_field)
{
	struct tm tm;

	if (localtime_r(&t, &tm) == NULL || tm.tm_year < 80) {
		*date = (1u << 5) | 1u; /* 1980-01-01, the earliest DOS date */
		*tm_field = 0;
		return;
	}
	if (tm.tm_year > 207) {
		tm.tm_year = 207;
		tm.tm_mon = 11;
		tm.tm_mday = 31;
		tm.tm_hour = 23;
		tm.tm_min = 59;
		tm.tm_sec = 58;
	}
	*date = (uint16_t)(((tm.tm_year - 80) << 9) | ((tm.tm_mon + 1) << 5) | tm.tm_mday);
	*tm_field = (uint16_t)((tm.tm_hour << 11) | (tm.tm_min << 5) | (tm.tm_sec / 2));
}

/* Turns name (len bytes) into its stored form in place ('/' becomes '\\') and returns its
 * CFFILE attributes: archive, and NAME_IS_UTF when it has bytes past ASCII. */
static uint16_t stored_name(char *name, size_t len)
{
	uint16_t attribs = CAB_ATTRIB_ARCH;

	for (size_t i = 0; i < len; i++) {
		if (name[i] == '/')
			name[i] = '\\';
		if ((unsigned char)name[i] >= 0x80)
			attribs |= CAB_ATTRIB_NAME_IS_UTF;
	}
	return attribs;
}

int cab_writer_add_file(struct cab_writer *w, const char *src_path, const char *name,
			struct pp_error *err)
{
	char check[CAB_NAME_MAX + 1];
	struct writer_file *f;
	struct stat st;
	uint64_t total, table;
	size_t name_len;
	int rc = -1;

	if (w->finished) {
		pp_error_set(err, HR_E_INVALIDARG, "cabinet writer already finished");
		goto out;
	}
	name_len = strnlen(name, CAB_NAME_MAX + 1u);
	if (name_len == 0 || name_len > CAB_NAME_MAX) {
		pp_error_set(err, HR_ERROR_INVALID_NAME,
			     "cabinet name for %s must be 1 to %u bytes long", src_path,
			     CAB_NAME_MAX);
		goto out;
	}
	if (cab_safe_relative_path(name, check, sizeof(check), err) != 0)
		goto out;
	if (w->nfiles >= CAB_MAX_FILES) {
		pp_error_set(err, HR_ERROR_FILE_TOO_LARGE,
			     "a cabinet holds at most %u files; %s does not fit", CAB_MAX_FILES,
			     src_path);
		goto out;
	}
	if (stat(src_path, &st) != 0) {
		pp_error_set_errno(err, errno, "cannot stat %s", src_path);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		pp_error_set(err, HR_E_INVALIDARG, "%s is not a regular file", src_path);
		goto out;
	}
	if ((uint64_t)st.st_size > CAB_MAX_FILE_SIZE) {
		pp_error_set(err, HR_ERROR_FILE_TOO_LARGE,
			     "%s is %llu bytes; a cabinet file holds at most %u bytes", src_path,
			     (unsigned long long)st.st_size, CAB_MAX_FILE_SIZE);
		goto out;
	}
	/* Both sums stay far below 2^64: at most 65535 files of under 2^31 bytes each. */
	total = w->total + (uint64_t)st.st_size;
	table = w->table_size + 16u + name_len + 1u;
	if (block_count(total) > CAB_MAX_CFDATA) {
		pp_error_set(err, HR_ERROR_FILE_TOO_LARGE,
			     "adding %s makes %llu data blocks; a cabinet folder holds at most %u",
			     src_path, (unsigned long long)block_count(total), CAB_MAX_CFDATA);
		goto out;
	}
	if (writer_size_bound(w, total, table) > CAB_MAX_CABINET_SIZE) {
		pp_error_set(err, HR_ERROR_FILE_TOO_LARGE,
			     "adding %s would make the cabinet larger than %u bytes; split the "
			     "content into several cabinets",
			     src_path, CAB_MAX_CABINET_SIZE);
		goto out;
	}
	if (w->nfiles == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 16;
		struct writer_file *grown = realloc(w->files, cap * sizeof(*grown));

		if (grown == NULL) {
			pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory adding %s", src_path);
			goto out;
		}
		w->files = grown;
		w->cap = cap;
	}
	f = &w->files[w->nfiles];
	memset(f, 0, sizeof(*f));
	f->src = strdup(src_path);
	f->name = strdup(name);
	if (f->src == NULL || f->name == NULL) {
		free(f->src);
		free(f->name);
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory adding %s", src_path);
		goto out;
	}
	f->attribs = stored_name(f->name, name_len);
	f->size = (uint32_t)st.st_size;
	dos_date_time(st.st_mtime, &f->date, &f->time);
	w->nfiles++;
	w->total = total;
	w->table_size = table;
	rc = 0;
out:
	return rc;
}

/* State of cab_writer_finish: the output, one block being filled, and the deflaters. */
struct write_state {
	struct out_stream out;
	uint8_t block[CAB_BLOCK_MAX];
	size_t block_len;
	uint8_t comp[CAB_MSZIP_BLOCK_MAX];
	z_stream z, z_store;
	bool z_ready, z_store_ready;
	uint32_t blocks;
	uint64_t done, reported;
};

/* Compresses block into comp as "CK" + one complete raw deflate stream. Blocks are independent
 * (no shared history), which every MSZIP reader accepts. */
static int mszip_block(struct write_state *s, size_t *out_len, struct pp_error *err)
{
	z_stream *z = &s->z;
	int zrc, attempt;

	s->comp[0] = 'C';
	s->comp[1] = 'K';
	for (attempt = 0; attempt < 2; attempt++) {
		if (attempt == 1) {
			/* Incompressible data: level 0 stores it in a few bytes of framing. */
			if (!s->z_store_ready) {
				if (deflateInit2(&s->z_store, 0, Z_DEFLATED, -15, 8,
						 Z_DEFAULT_STRATEGY) != Z_OK) {
					pp_error_set(err, HR_E_OUTOFMEMORY,
						     "cannot initialise zlib deflate");
					return -1;
				}
				s->z_store_ready = true;
			}
			z = &s->z_store;
		}
		if (deflateReset(z) != Z_OK) {
			pp_error_set(err, HR_E_FAIL, "zlib deflateReset failed");
			return -1;
		}
		z->next_in = s->block;
		z->avail_in = (uInt)s->block_len;
		z->next_out = s->comp + 2;
		z->avail_out = CAB_MSZIP_BLOCK_MAX - 2;
		zrc = deflate(z, Z_FINISH);
		if (zrc == Z_STREAM_END) {
			*out_len = 2 + (CAB_MSZIP_BLOCK_MAX - 2 - z->avail_out);
			return 0;
		}
		if (zrc != Z_OK && zrc != Z_BUF_ERROR) {
			pp_error_set(err, HR_E_FAIL, "zlib deflate failed (%d)", zrc);
			return -1;
		}
	}
	pp_error_set(err, HR_E_FAIL, "an MSZIP block does not fit in %u bytes even stored",
		     CAB_MSZIP_BLOCK_MAX);
	return -1;
}

static int emit_block(struct cab_writer *w, struct write_state *s, struct pp_error *err)
{
	const uint8_t *data = s->block;
	size_t len = s->block_len;
	uint8_t hdr[CFDATA_HEADER_SIZE];

	if (w->opts.compression == CAB_COMPRESS_MSZIP) {
		if (mszip_block(s, &len, err) != 0)
			return -1;
		data = s->comp;
	}
	le16_put(hdr + 4, (uint16_t)len);
	le16_put(hdr + 6, (uint16_t)s->block_len);
	le32_put(hdr, cab_internal_cfdata_checksum(hdr, data, len));
	if (out_put(&s->out, hdr, sizeof(hdr), err) != 0 || out_put(&s->out, data, len, err) != 0)
		return -1;
	s->blocks++;
	s->block_len = 0;
	return 0;
}

/* Reads file f once into the block stream; it must still have the size seen by add_file. */
static int stream_file(struct cab_writer *w, struct write_state *s, const struct writer_file *f,
		       struct pp_error *err)
{
	struct stat st;
	uint64_t left = f->size;
	uint8_t probe;
	ssize_t n;
	int fd, rc = -1;

	fd = open(f->src, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		pp_error_set_errno(err, errno, "cannot open %s", f->src);
		return -1;
	}
	if (fstat(fd, &st) != 0) {
		pp_error_set_errno(err, errno, "cannot stat %s", f->src);
		goto out;
	}
	if ((uint64_t)st.st_size != f->size)
		goto changed;
	while (left > 0) {
		size_t want = CAB_BLOCK_MAX - s->block_len;

		if (want > left)
			want = (size_t)left;
		n = read(fd, s->block + s->block_len, want);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			pp_error_set_errno(err, errno, "cannot read %s", f->src);
			goto out;
		}
		if (n == 0)
			goto changed;
		s->block_len += (size_t)n;
		left -= (uint64_t)n;
		s->done += (uint64_t)n;
		if (s->block_len == CAB_BLOCK_MAX && emit_block(w, s, err) != 0)
			goto out;
		if (w->opts.progress != NULL && s->done - s->reported >= PROGRESS_STEP) {
			w->opts.progress(w->opts.progress_ctx, s->done, w->total);
			s->reported = s->done;
		}
	}
	do {
		n = read(fd, &probe, 1);
	} while (n < 0 && errno == EINTR);
	if (n != 0)
		goto changed;
	rc = 0;
	goto out;
changed:
	pp_error_set(err, HR_ERROR_INVALID_DATA,
		     "%s changed size since it was added to the cabinet (was %u bytes); add it "
		     "again",
		     f->src, f->size);
out:
	close(fd);
	return rc;
}

/* Builds bytes [0, hsize + 8): CFHEADER, optional signature reserve (locator zero), the one
 * CFFOLDER whose data starts after a CFFILE table of table_size bytes. */
static void header_bytes(uint8_t *p, bool reserve, uint16_t nfiles, uint64_t table_size,
			 uint32_t cb_cabinet, uint32_t blocks, uint16_t compression)
{
	uint32_t hsize = CAB_FIXED_HEADER_SIZE + (reserve ? 4u + CAB_SIGNATURE_RESERVE_SIZE : 0u);
	uint32_t coff_files = hsize + 8u;

	memset(p, 0, hsize + 8u);
	memcpy(p, "MSCF", 4);
	le32_put(p + 0x08, cb_cabinet);
	le32_put(p + 0x10, coff_files);
	p[0x18] = 3; /* version 1.3 */
	p[0x19] = 1;
	le16_put(p + 0x1A, 1);
	le16_put(p + 0x1C, nfiles);
	if (reserve) {
		le16_put(p + 0x1E, CAB_FLAG_RESERVE_PRESENT);
		/* 0x24 cbCFHeader = 20, 0x26 cbCFFolder = 0, 0x27 cbCFData = 0, then abReserve:
		 * 0x28 u16 0, 0x2A u16 16, 0x2C u32 signature offset, 0x30 u32 length, 8 zeros. The
		 * locator stays zero until the signer fills it. */
		le16_put(p + 0x24, CAB_SIGNATURE_RESERVE_SIZE);
		le16_put(p + 0x2A, 16);
	}
	/* CFFOLDER: coffCabStart, cCFData, typeCompress. */
	le32_put(p + hsize, (uint32_t)(coff_files + table_size));
	le16_put(p + hsize + 4, (uint16_t)blocks);
	le16_put(p + hsize + 6, compression);
}

static void build_header(const struct cab_writer *w, uint32_t cb_cabinet, uint32_t blocks,
			 uint8_t *p)
{
	header_bytes(p, w->opts.signature_reserve, (uint16_t)w->nfiles, w->table_size, cb_cabinet,
		     blocks, (uint16_t)w->opts.compression);
}

/* The 16 bytes of a CFFILE entry before its name. */
static void file_entry(uint8_t *entry, uint32_t size, uint32_t offset, uint16_t date,
		       uint16_t time_field, uint16_t attribs)
{
	le32_put(entry + 0x00, size);
	le32_put(entry + 0x04, offset);
	le16_put(entry + 0x08, 0);
	le16_put(entry + 0x0A, date);
	le16_put(entry + 0x0C, time_field);
	le16_put(entry + 0x0E, attribs);
}

/* Hands the digest sink the header and then [folders_end, cb_cabinet) read back from the file.
 * Used for MSZIP, whose header is only final once all blocks are compressed. */
static int sink_replay(struct cab_writer *w, struct write_state *s, const uint8_t *hdr,
		       uint32_t folders_end, uint32_t cb_cabinet, const struct cab_header *h,
		       struct pp_error *err)
{
	const struct cab_digest_sink *sink = w->opts.sink;
	uint64_t off = folders_end;
	ssize_t n;

	if (sink->header != NULL && sink->header(sink->ctx, hdr, folders_end, h, err) != 0)
		return -1;
	while (off < cb_cabinet) {
		size_t want =
		    cb_cabinet - off < WRITE_CHUNK ? (size_t)(cb_cabinet - off) : WRITE_CHUNK;

		n = cab_internal_pread_full(w->fd, s->out.buf, want, off);
		if (n < 0 || (size_t)n != want) {
			pp_error_set_errno(err, n < 0 ? errno : EIO,
					   "cannot read back the cabinet for its digest");
			return -1;
		}
		if (sink->data != NULL && sink->data(sink->ctx, s->out.buf, want, err) != 0)
			return -1;
		off += want;
	}
	return 0;
}

/* Layout: CFHEADER (+ reserve) | CFFOLDER | CFFILE table | CFDATA blocks. Everything but
 * cbCabinet is known from add_file, and for NONE cbCabinet is too, so the header goes to the
 * digest sink first and every later byte is passed on as it is written: one pass.
 * For MSZIP the compressed size is known only at the end: a placeholder header is written, then
 * the table and the blocks, then the real header; the sink then gets the header and the rest of
 * the file read back in 64 KB chunks. Input files are read once either way. */
int cab_writer_finish(struct cab_writer *w, uint32_t *cabinet_size, struct pp_error *err)
{
	struct write_state *s = NULL;
	uint8_t hdr[CAB_FIXED_HEADER_SIZE + 4u + CAB_SIGNATURE_RESERVE_SIZE + 8u];
	uint8_t entry[16];
	struct cab_header h;
	uint32_t folders_end = writer_header_size(w) + 8u, cb_cabinet = 0;
	uint64_t expected = writer_size_bound(w, w->total, w->table_size);
	bool mszip = w->opts.compression == CAB_COMPRESS_MSZIP;
	uint64_t offset = 0;
	size_t i;
	int rc = -1;

	if (w->finished) {
		pp_error_set(err, HR_E_INVALIDARG, "cabinet writer already finished");
		goto out;
	}
	w->finished = true;
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory writing the cabinet");
		goto out;
	}
	if (mszip) {
		if (deflateInit2(&s->z, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
			pp_error_set(err, HR_E_OUTOFMEMORY, "cannot initialise zlib deflate");
			goto out;
		}
		s->z_ready = true;
	}
	s->out.fd = w->fd;
	s->out.off = 0;

	/* The block count is exact for both methods; cbCabinet only for NONE. */
	build_header(w, mszip ? 0 : (uint32_t)expected, (uint32_t)block_count(w->total), hdr);
	if (!mszip && w->opts.sink != NULL) {
		if (cab_header_parse(hdr, folders_end, expected, &h, err) != 0)
			goto out;
		if (w->opts.sink->header != NULL &&
		    w->opts.sink->header(w->opts.sink->ctx, hdr, folders_end, &h, err) != 0)
			goto out;
		s->out.sink = w->opts.sink;
		s->out.sink_from = folders_end;
	}
	if (out_put(&s->out, hdr, folders_end, err) != 0)
		goto out;

	for (i = 0; i < w->nfiles; i++) {
		const struct writer_file *f = &w->files[i];

		file_entry(entry, f->size, (uint32_t)offset, f->date, f->time, f->attribs);
		if (out_put(&s->out, entry, sizeof(entry), err) != 0 ||
		    out_put(&s->out, (const uint8_t *)f->name, strlen(f->name) + 1, err) != 0)
			goto out;
		offset += f->size;
	}
	for (i = 0; i < w->nfiles; i++) {
		if (stream_file(w, s, &w->files[i], err) != 0)
			goto out;
	}
	if (s->block_len > 0 && emit_block(w, s, err) != 0)
		goto out;
	if (out_flush(&s->out, err) != 0)
		goto out;
	if (s->out.off > CAB_MAX_CABINET_SIZE || (!mszip && s->out.off != expected)) {
		pp_error_set(err, HR_E_FAIL,
			     "cabinet came out at %llu bytes, expected %llu; not written",
			     (unsigned long long)s->out.off, (unsigned long long)expected);
		goto out;
	}
	cb_cabinet = (uint32_t)s->out.off;
	if (ftruncate(w->fd, (off_t)cb_cabinet) != 0) {
		pp_error_set_errno(err, errno, "cannot set the cabinet size");
		goto out;
	}
	if (mszip) {
		build_header(w, cb_cabinet, s->blocks, hdr);
		if (pwrite_full(w->fd, hdr, folders_end, 0) != 0) {
			pp_error_set_errno(err, errno, "cannot write the cabinet header");
			goto out;
		}
		if (w->opts.sink != NULL &&
		    (cab_header_parse(hdr, folders_end, cb_cabinet, &h, err) != 0 ||
		     sink_replay(w, s, hdr, folders_end, cb_cabinet, &h, err) != 0))
			goto out;
	}
	if (w->opts.progress != NULL)
		w->opts.progress(w->opts.progress_ctx, s->done, w->total);
	if (cabinet_size != NULL)
		*cabinet_size = cb_cabinet;
	rc = 0;
out:
	if (s != NULL) {
		if (s->z_ready)
			deflateEnd(&s->z);
		if (s->z_store_ready)
			deflateEnd(&s->z_store);
		free(s);
	}
	return rc;
}

/* ---- one file laid out before its bytes arrive ---- */

int cab_single_layout(uint64_t size, const char *name, time_t mtime, uint32_t signature_length,
		      struct cab_single *out, struct pp_error *err)
{
	char check[CAB_NAME_MAX + 1], stored[CAB_NAME_MAX + 1];
	size_t name_len = name != NULL ? strnlen(name, CAB_NAME_MAX + 1u) : 0;
	uint32_t hsize = CAB_FIXED_HEADER_SIZE + 4u + CAB_SIGNATURE_RESERVE_SIZE;
	uint64_t blocks, data_start, end;
	uint16_t date, time_field, attribs;

	memset(out, 0, sizeof(*out));
	if (name_len == 0 || name_len > CAB_NAME_MAX) {
		pp_error_set(err, HR_ERROR_INVALID_NAME, "a cabinet file name is 1 to %u bytes",
			     CAB_NAME_MAX);
		return -1;
	}
	if (cab_safe_relative_path(name, check, sizeof(check), err) != 0)
		return -1;
	blocks = block_count(size);
	data_start = hsize + 8u + 16u + name_len + 1u;
	end = data_start + blocks * CFDATA_HEADER_SIZE + size;
	if (size > CAB_MAX_FILE_SIZE || blocks > CAB_MAX_CFDATA ||
	    end + signature_length > CAB_MAX_CABINET_SIZE) {
		pp_error_set(err, HR_ERROR_FILE_TOO_LARGE,
			     "a file of %llu bytes does not fit in one cabinet (at most %u bytes)",
			     (unsigned long long)size, CAB_MAX_FILE_SIZE);
		return -1;
	}
	memcpy(stored, name, name_len + 1);
	attribs = stored_name(stored, name_len);
	dos_date_time(mtime, &date, &time_field);
	header_bytes(out->header, true, 1, 16u + name_len + 1u, (uint32_t)end, (uint32_t)blocks,
		     CAB_COMPRESS_NONE);
	le32_put(out->header + 0x2C, (uint32_t)end);
	le32_put(out->header + 0x30, signature_length);
	file_entry(out->header + hsize + 8u, (uint32_t)size, 0, date, time_field, attribs);
	memcpy(out->header + hsize + 8u + 16u, stored, name_len + 1);
	out->size = size;
	out->data_start = (uint32_t)data_start;
	out->blocks = (uint32_t)blocks;
	out->cb_cabinet = (uint32_t)end;
	out->signature_length = signature_length;
	return 0;
}

uint64_t cab_single_block_offset(const struct cab_single *l, uint64_t block)
{
	return l->data_start + block * (CFDATA_HEADER_SIZE + CAB_BLOCK_MAX);
}

uint64_t cab_single_file_length(const struct cab_single *l, uint64_t received)
{
	uint64_t block = received / CAB_BLOCK_MAX, within = received % CAB_BLOCK_MAX;

	if (received >= l->size)
		return l->cb_cabinet;
	return cab_single_block_offset(l, block) + (within > 0 ? CFDATA_HEADER_SIZE + within : 0);
}

uint64_t cab_single_received(const struct cab_single *l, uint64_t file_length)
{
	uint64_t past, block, within, n;

	if (file_length <= l->data_start)
		return 0;
	if (file_length >= l->cb_cabinet)
		return l->size;
	past = file_length - l->data_start;
	block = past / (CFDATA_HEADER_SIZE + CAB_BLOCK_MAX);
	within = past % (CFDATA_HEADER_SIZE + CAB_BLOCK_MAX);
	n = block * CAB_BLOCK_MAX + (within > CFDATA_HEADER_SIZE ? within - CFDATA_HEADER_SIZE : 0);
	return n < l->size ? n : l->size;
}

void cab_cfdata_header(uint8_t hdr[8], const uint8_t *data, size_t len)
{
	le16_put(hdr + 4, (uint16_t)len);
	le16_put(hdr + 6, (uint16_t)len);
	le32_put(hdr, cab_internal_cfdata_checksum(hdr, data, len));
}
