/* cab.c - the Microsoft Cabinet format (formats.md section 2): CFHEADER parsing, the CFDATA
 * checksum, opening a cabinet and reading its CFFOLDER and CFFILE tables, and decoding folders
 * (none, MSZIP) for cab_reader_read_file and cab_reader_test. Extraction to a directory is in
 * cab_extract.c, the writer in cab_writer.c; what they share is in cab_internal.h.
 *
 * CFHEADER layout, little-endian (offsets from the start of the file):
 *   0x00 u8[4] signature "MSCF"      0x04 u32 reserved1 (0)      0x08 u32 cbCabinet
 *   0x0C u32 reserved2 (0)           0x10 u32 coffFiles          0x14 u32 reserved3 (0)
 *   0x18 u8  versionMinor (3)        0x19 u8  versionMajor (1)   0x1A u16 cFolders
 *   0x1C u16 cFiles                  0x1E u16 flags              0x20 u16 setID
 *   0x22 u16 iCabinet
 *   0x24 u16 cbCFHeader, 0x26 u8 cbCFFolder, 0x27 u8 cbCFData    only with RESERVE_PRESENT
 *   0x28 u8[cbCFHeader] abReserve                                 only with RESERVE_PRESENT
 *   then szCabinetPrev, szDiskPrev (PREV_CABINET), szCabinetNext, szDiskNext (NEXT_CABINET)
 */
#include "cab.h"
#include "cab_internal.h"

#include "byteorder.h"
#include "hresult.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

/* Reads a NUL-terminated string of at most CAB_NAME_MAX bytes at *pos; advances *pos past the
 * NUL and returns its length including the NUL, or 0 when it is unterminated or too long. */
static uint32_t header_string(const uint8_t *buf, size_t len, uint32_t *pos)
{
	uint32_t start = *pos, i;

	for (i = start; i < len && i - start <= CAB_NAME_MAX; i++) {
		if (buf[i] == '\0') {
			*pos = i + 1;
			return i + 1 - start;
		}
	}
	return 0;
}

int cab_header_parse(const uint8_t *buf, size_t len, uint64_t file_size, struct cab_header *h,
		     struct pp_error *err)
{
	uint32_t pos;
	uint64_t folder_entry, end;

	memset(h, 0, sizeof(*h));
	if (len < CAB_FIXED_HEADER_SIZE || file_size < CAB_FIXED_HEADER_SIZE) {
		pp_error_set(err, HR_ERROR_INVALID_DATA,
			     "cabinet header truncated: %zu bytes, a CFHEADER needs %u", len,
			     CAB_FIXED_HEADER_SIZE);
		return -1;
	}
	if (memcmp(buf, "MSCF", 4) != 0) {
		pp_error_set(err, HR_ERROR_INVALID_DATA,
			     "not a cabinet: the file does not start with \"MSCF\"");
		return -1;
	}
	if (le32_get(buf + 0x04) != 0) {
		pp_error_set(err, HR_ERROR_INVALID_DATA, "cabinet header: reserved1 is not zero");
		return -1;
	}
	h->cb_cabinet = le32_get(buf + 0x08);
	h->coff_files = le32_get(buf + 0x10);
	h->version_minor = buf[0x18];
	h->version_major = buf[0x19];
	h->c_folders = le16_get(buf + 0x1A);
	h->c_files = le16_get(buf + 0x1C);
	h->flags = le16_get(buf + 0x1E);
	h->set_id = le16_get(buf + 0x20);
	h->i_cabinet = le16_get(buf + 0x22);

	if (h->version_major != 1 || h->version_minor != 3) {
		pp_error_set(err, HR_ERROR_INVALID_DATA, "cabinet version %u.%u is not 1.3",
			     h->version_major, h->version_minor);
		return -1;
	}
	if (h->cb_cabinet > file_size || h->cb_cabinet > CAB_MAX_CABINET_SIZE) {
		pp_error_set(err, HR_ERROR_INVALID_DATA,
			     "cabinet header: cbCabinet %u is larger than the file (%llu bytes)",
			     h->cb_cabinet, (unsigned long long)file_size);
		return -1;
	}
	if (h->c_folders == 0 && h->c_files != 0) {
		pp_error_set(err, HR_ERROR_INVALID_DATA, "cabinet header: %u files but no folder",
			     h->c_files);
		return -1;
	}
	if ((h->flags &
	     ~(CAB_FLAG_PREV_CABINET | CAB_FLAG_NEXT_CABINET | CAB_FLAG_RESERVE_PRESENT)) != 0) {
		pp_error_set(err, HR_ERROR_INVALID_DATA, "cabinet header: unknown flags 0x%04x",
			     h->flags);
		return -1;
	}

	pos = CAB_FIXED_HEADER_SIZE;
	if (h->flags & CAB_FLAG_RESERVE_PRESENT) {
		if (len < pos + 4u) {
			pp_error_set(err, HR_ERROR_INVALID_DATA,
				     "cabinet header truncated in the reserve sizes");
			return -1;
		}
		h->cb_cf_header = le16_get(buf + 0x24);
		h->cb_cf_folder = buf[0x26];
		h->cb_cf_data = buf[0x27];
		pos += 4;
		if (h->cb_cf_header > CAB_HEADER_RESERVE_MAX) {
			pp_error_set(err, HR_ERROR_INVALID_DATA,
				     "cabinet header: reserve of %u bytes exceeds %u",
				     h->cb_cf_header, CAB_HEADER_RESERVE_MAX);
			return -1;
		}
		if (h->cb_cf_header > 0) {
			if (len < (size_t)pos + h->cb_cf_header) {
				pp_error_set(err, HR_ERROR_INVALID_DATA,
					     "cabinet header truncated inside the %u-byte reserve",
					     h->cb_cf_header);
				return -1;
			}
			h->reserve_offset = pos;
			pos += h->cb_cf_header;
		}
	}
	if (h->flags & CAB_FLAG_PREV_CABINET) {
		h->prev_cabinet_offset = pos;
		h->prev_cabinet_len = header_string(buf, len, &pos);
		h->prev_disk_offset = pos;
		h->prev_disk_len = h->prev_cabinet_len ? header_string(buf, len, &pos) : 0;
		if (h->prev_cabinet_len == 0 || h->prev_disk_len == 0) {
			pp_error_set(
			    err, HR_ERROR_INVALID_DATA,
			    "cabinet header: previous-cabinet name unterminated or too long");
			return -1;
		}
	}
	if (h->flags & CAB_FLAG_NEXT_CABINET) {
		h->next_cabinet_offset = pos;
		h->next_cabinet_len = header_string(buf, len, &pos);
		h->next_disk_offset = pos;
		h->next_disk_len = h->next_cabinet_len ? header_string(buf, len, &pos) : 0;
		if (h->next_cabinet_len == 0 || h->next_disk_len == 0) {
			pp_error_set(err, HR_ERROR_INVALID_DATA,
				     "cabinet header: next-cabinet name unterminated or too long");
			return -1;
		}
	}
	h->folders_offset = pos;
	folder_entry = 8u + h->cb_cf_folder;
	end = (uint64_t)pos + folder_entry * h->c_folders;
	if (end > file_size || end > h->cb_cabinet) {
		pp_error_set(err, HR_ERROR_INVALID_DATA,
			     "cabinet header: %u folders of %llu bytes run past the end of the "
			     "cabinet",
			     h->c_folders, (unsigned long long)folder_entry);
		return -1;
	}
	h->folders_end = (uint32_t)end;
	if (h->c_files > 0 && (h->coff_files < h->folders_end || h->coff_files >= h->cb_cabinet)) {
		pp_error_set(err, HR_ERROR_INVALID_DATA,
			     "cabinet header: coffFiles %u is outside the cabinet (%u..%u)",
			     h->coff_files, h->folders_end, h->cb_cabinet);
		return -1;
	}

	/* The Authenticode locator (formats.md 1.2): u16 0, u16 16, u32 offset, u32 length. */
	if (h->cb_cf_header == CAB_SIGNATURE_RESERVE_SIZE &&
	    le32_get(buf + h->reserve_offset) == 0x00100000u) {
		uint64_t sig_end;

		h->signature_reserve = true;
		h->signature_offset = le32_get(buf + h->reserve_offset + 4);
		h->signature_length = le32_get(buf + h->reserve_offset + 8);
		sig_end = (uint64_t)h->signature_offset + h->signature_length;
		if (h->signature_length != 0 &&
		    (h->signature_offset < h->cb_cabinet || sig_end > file_size)) {
			pp_error_set(err, HR_ERROR_INVALID_DATA,
				     "cabinet signature locator: %u bytes at offset %u lie outside "
				     "the file (%llu bytes)",
				     h->signature_length, h->signature_offset,
				     (unsigned long long)file_size);
			return -1;
		}
	}
	return 0;
}

/* ---- little helpers ---- */

const char *cab_internal_compression_name(uint16_t type)
{
	switch (type & 0x000Fu) {
	case CAB_COMPRESS_NONE:
		return "none";
	case CAB_COMPRESS_MSZIP:
		return "MSZIP";
	case CAB_COMPRESS_QUANTUM:
		return "Quantum";
	case CAB_COMPRESS_LZX:
		return "LZX";
	default:
		return "unknown";
	}
}

ssize_t cab_internal_pread_full(int fd, uint8_t *buf, size_t len, uint64_t off)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = pread(fd, buf + got, len - got, (off_t)(off + got));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

/* ---- checksum (formats.md 2.2) ---- */

uint32_t cab_checksum(const uint8_t *data, size_t len, uint32_t seed)
{
	uint32_t c = seed, tail = 0;
	uint64_t lane[4] = {0, 0, 0, 0}, wide;
	size_t i, rows = len / 32, pairs, words;

	/* XOR is order-free, and it commutes with reordering bytes: the words are XORed as they lie
	 * in memory, four lanes of two words at a time (which the compiler can vectorize), and put
	 * in little-endian order once, at the end. */
	for (i = 0; i < rows; i++)
		for (int k = 0; k < 4; k++) {
			uint64_t w;

			memcpy(&w, data + 32 * i + 8 * k, sizeof(w));
			lane[k] ^= w;
		}
	data += 32 * rows;
	pairs = (len & 31u) / 8;
	for (i = 0; i < pairs; i++) {
		uint64_t w;

		memcpy(&w, data + 8 * i, sizeof(w));
		lane[0] ^= w;
	}
	wide = le64toh(lane[0] ^ lane[1] ^ lane[2] ^ lane[3]);
	c ^= (uint32_t)wide ^ (uint32_t)(wide >> 32);
	data += 8 * pairs;
	words = (len & 7u) / 4;
	for (i = 0; i < words; i++)
		c ^= le32_get(data + 4 * i);
	data += 4 * words;
	/* The 1-3 trailing bytes are packed most significant first, unlike the words above. */
	switch (len & 3u) {
	case 3:
		tail = ((uint32_t)data[0] << 16) | ((uint32_t)data[1] << 8) | data[2];
		break;
	case 2:
		tail = ((uint32_t)data[0] << 8) | data[1];
		break;
	case 1:
		tail = data[0];
		break;
	default:
		break;
	}
	return c ^ tail;
}

uint32_t cab_internal_cfdata_checksum(const uint8_t *hdr, const uint8_t *data, size_t len)
{
	return cab_checksum(hdr + 4, 4, cab_checksum(data, len, 0));
}

/* ---- reader ---- */

/* A window of the file for walking the CFFOLDER and CFFILE tables: records are small (at most
 * 8 + 255 or 16 + 256 bytes), so one bounded buffer serves them all without trusting any size. */
#define TABLE_WINDOW 65536u

struct table_window {
	int fd;
	uint64_t limit; /* reads stop here (cbCabinet) */
	uint64_t start; /* file offset of buf[0] */
	size_t len;
	uint8_t *buf;
};

/* Makes bytes [off, off + want) available; *avail gets how many exist before the limit. */
static const uint8_t *window_get(struct table_window *w, uint64_t off, size_t want, size_t *avail,
				 struct pp_error *err)
{
	ssize_t n;
	size_t size;

	*avail = 0;
	if (off >= w->limit)
		return w->buf;
	if (want > w->limit - off)
		want = (size_t)(w->limit - off);
	if (off < w->start || off + want > w->start + w->len) {
		size = w->limit - off < TABLE_WINDOW ? (size_t)(w->limit - off) : TABLE_WINDOW;
		n = cab_internal_pread_full(w->fd, w->buf, size, off);
		if (n < 0) {
			pp_error_set_errno(err, errno, "cannot read the cabinet tables");
			return NULL;
		}
		w->start = off;
		w->len = (size_t)n;
	}
	*avail = (size_t)(w->start + w->len - off);
	if (*avail > want)
		*avail = want;
	return w->buf + (off - w->start);
}

/* CFFOLDER, 8 bytes + cbCFFolder reserve:
 *   0x00 u32 coffCabStart    0x04 u16 cCFData    0x06 u16 typeCompress    0x08 u8[] abReserve */
static int read_folders(struct cab_reader *r, struct table_window *w, struct pp_error *err)
{
	const struct cab_header *h = &r->h;
	uint64_t off = h->folders_offset;
	size_t i, avail;

	for (i = 0; i < h->c_folders; i++, off += 8u + h->cb_cf_folder) {
		struct cab_folder *f = &r->folders[i];
		const uint8_t *p = window_get(w, off, 8, &avail, err);
		unsigned type;

		if (p == NULL)
			return -1;
		if (avail < 8) {
			pp_error_set(err, HR_ERROR_INVALID_DATA,
				     "cabinet folder %zu: CFFOLDER entry truncated", i);
			return -1;
		}
		f->coff_cab_start = le32_get(p);
		f->c_cfdata = le16_get(p + 4);
		f->type_compress = le16_get(p + 6);
		type = f->type_compress & 0x000Fu;
		if (type > CAB_COMPRESS_LZX) {
			pp_error_set(err, HR_ERROR_INVALID_DATA,
				     "cabinet folder %zu: unknown compression type %u", i, type);
			return -1;
		}
		/* Every CFDATA has at least an 8-byte header, so the blocks must fit too. */
		if (f->coff_cab_start < h->folders_end ||
		    (uint64_t)f->coff_cab_start + (uint64_t)f->c_cfdata * (8u + h->cb_cf_data) >
			h->cb_cabinet) {
			pp_error_set(err, HR_ERROR_INVALID_DATA,
				     "cabinet folder %zu: coffCabStart %u with %u data blocks lies "
				     "outside the cabinet (%u..%u)",
				     i, f->coff_cab_start, f->c_cfdata, h->folders_end,
				     h->cb_cabinet);
			return -1;
		}
	}
	return 0;
}

/* CFFILE, 16 bytes + name:
 *   0x00 u32 cbFile    0x04 u32 uoffFolderStart    0x08 u16 iFolder    0x0A u16 date
 *   0x0C u16 time      0x0E u16 attribs            0x10 char szName[] (NUL-terminated, <= 255) */
static int read_files(struct cab_reader *r, struct table_window *w, struct pp_error *err)
{
	const struct cab_header *h = &r->h;
	uint64_t off = h->coff_files;
	size_t i, avail, name_len;

	for (i = 0; i < h->c_files; i++) {
		struct cab_file *f = &r->files[i];
		const uint8_t *p = window_get(w, off, 16u + CAB_NAME_MAX + 1u, &avail, err);
		const uint8_t *nul;
		uint64_t folder_bytes;

		if (p == NULL)
			return -1;
		if (avail < 17) {
			pp_error_set(
			    err, HR_ERROR_INVALID_DATA,
			    "cabinet file entry %zu: CFFILE at offset %llu runs past the end "
			    "of the cabinet",
			    i, (unsigned long long)off);
			return -1;
		}
		nul = memchr(p + 16, '\0', avail - 16);
		if (nul == NULL) {
			pp_error_set(
			    err, HR_ERROR_INVALID_DATA,
			    "cabinet file entry %zu: name is not NUL-terminated within %u bytes", i,
			    CAB_NAME_MAX);
			return -1;
		}
		name_len = (size_t)(nul - (p + 16));
		if (name_len == 0) {
			pp_error_set(err, HR_ERROR_INVALID_DATA,
				     "cabinet file entry %zu: empty name", i);
			return -1;
		}
		memcpy(f->name, p + 16, name_len + 1);
		f->size = le32_get(p);
		f->offset = le32_get(p + 4);
		f->folder = le16_get(p + 8);
		f->date = le16_get(p + 10);
		f->time = le16_get(p + 12);
		f->attribs = le16_get(p + 14);
		off += 16u + name_len + 1u;

		if (f->folder >= 0xFFFDu) {
			pp_error_set(
			    err, HR_ERROR_INVALID_DATA,
			    "cabinet file \"%s\": iFolder 0x%04X means it continues from or "
			    "into another cabinet; cabinet sets are not supported",
			    f->name, f->folder);
			return -1;
		}
		if (f->folder >= h->c_folders) {
			pp_error_set(
			    err, HR_ERROR_INVALID_DATA,
			    "cabinet file \"%s\": iFolder %u but the cabinet has %u folders",
			    f->name, f->folder, h->c_folders);
			return -1;
		}
		if (f->size > CAB_MAX_FILE_SIZE) {
			pp_error_set(err, HR_ERROR_INVALID_DATA,
				     "cabinet file \"%s\": size %u exceeds the limit of %u bytes",
				     f->name, f->size, CAB_MAX_FILE_SIZE);
			return -1;
		}
		/* A folder holds at most cCFData blocks of 32 KB, whatever the blocks say. */
		folder_bytes = (uint64_t)r->folders[f->folder].c_cfdata * CAB_BLOCK_MAX;
		if ((uint64_t)f->offset + f->size > UINT32_MAX ||
		    (uint64_t)f->offset + f->size > folder_bytes) {
			pp_error_set(
			    err, HR_ERROR_INVALID_DATA,
			    "cabinet file \"%s\": %u bytes at folder offset %u lie past the "
			    "end of folder %u",
			    f->name, f->size, f->offset, f->folder);
			return -1;
		}
	}
	return 0;
}

struct cab_reader *cab_reader_open(const char *path, struct pp_error *err)
{
	struct cab_reader *r = NULL, *ret = NULL;
	struct table_window w = {.fd = -1};
	uint8_t *head = NULL;
	struct stat st;
	size_t head_len;
	ssize_t n;

	r = calloc(1, sizeof(*r));
	if (r == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory opening %s", path);
		goto out;
	}
	r->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (r->fd < 0) {
		pp_error_set_errno(err, errno, "cannot open cabinet %s", path);
		goto out;
	}
	if (fstat(r->fd, &st) != 0) {
		pp_error_set_errno(err, errno, "cannot stat cabinet %s", path);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		pp_error_set(err, HR_ERROR_INVALID_DATA, "%s is not a regular file", path);
		goto out;
	}
	r->file_size = (uint64_t)st.st_size;

	head_len = r->file_size < CAB_HEADER_MAX ? (size_t)r->file_size : CAB_HEADER_MAX;
	head = malloc(head_len > 0 ? head_len : 1);
	if (head == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory reading %s", path);
		goto out;
	}
	n = cab_internal_pread_full(r->fd, head, head_len, 0);
	if (n < 0) {
		pp_error_set_errno(err, errno, "cannot read cabinet %s", path);
		goto out;
	}
	if (cab_header_parse(head, (size_t)n, r->file_size, &r->h, err) != 0)
		goto out;

	/* Counts are u16 and the header parser checked the folder table against the file;
	 * a CFFILE takes at least 17 bytes, so cFiles is bounded by the file as well. */
	if (r->h.c_files > 0 &&
	    (uint64_t)r->h.c_files * 17u > (uint64_t)r->h.cb_cabinet - r->h.coff_files) {
		pp_error_set(err, HR_ERROR_INVALID_DATA,
			     "cabinet header: %u files cannot fit between coffFiles %u and the end "
			     "of the cabinet (%u)",
			     r->h.c_files, r->h.coff_files, r->h.cb_cabinet);
		goto out;
	}
	r->folders = calloc(r->h.c_folders ? r->h.c_folders : 1, sizeof(*r->folders));
	r->files = calloc(r->h.c_files ? r->h.c_files : 1, sizeof(*r->files));
	w.buf = malloc(TABLE_WINDOW);
	if (r->folders == NULL || r->files == NULL || w.buf == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory reading the tables of %s", path);
		goto out;
	}
	w.fd = r->fd;
	w.limit = r->h.cb_cabinet;
	if (read_folders(r, &w, err) != 0 || read_files(r, &w, err) != 0)
		goto out;
	ret = r;
	r = NULL;
out:
	free(w.buf);
	free(head);
	cab_reader_free(r);
	return ret;
}

void cab_reader_free(struct cab_reader *r)
{
	if (r == NULL)
		return;
	if (r->fd >= 0)
		close(r->fd);
	free(r->folders);
	free(r->files);
	free(r);
}

const struct cab_header *cab_reader_header(const struct cab_reader *r)
{
	return &r->h;
}

size_t cab_reader_folder_count(const struct cab_reader *r)
{
	return r->h.c_folders;
}

const struct cab_folder *cab_reader_folder(const struct cab_reader *r, size_t i)
{
	return i < r->h.c_folders ? &r->folders[i] : NULL;
}

size_t cab_reader_file_count(const struct cab_reader *r)
{
	return r->h.c_files;
}

const struct cab_file *cab_reader_file(const struct cab_reader *r, size_t i)
{
	return i < r->h.c_files ? &r->files[i] : NULL;
}

/* ---- folder decoding ---- */

/* Decodes the CFDATA blocks of one folder in order. The buffers are fixed: one compressed block
 * (at most 32768 + 12 bytes), one decoded block and the 32 KB MSZIP history, so memory does not
 * depend on the cabinet. */
struct folder_decoder {
	const struct cab_reader *r;
	size_t index;
	uint16_t type;
	uint32_t next_block;
	uint64_t off; /* file offset of the next CFDATA */
	z_stream z;
	bool z_ready;
	size_t hist_len;
	size_t out_len;
	uint8_t in[CAB_MSZIP_BLOCK_MAX];
	uint8_t out[CAB_BLOCK_MAX];
	uint8_t hist[CAB_BLOCK_MAX];
};

static struct folder_decoder *decoder_new(const struct cab_reader *r, size_t index,
					  struct pp_error *err)
{
	const struct cab_folder *f = &r->folders[index];
	struct folder_decoder *d;
	uint16_t type = f->type_compress & 0x000Fu;

	if (type != CAB_COMPRESS_NONE && type != CAB_COMPRESS_MSZIP) {
		pp_error_set(err, HR_ERROR_NOT_SUPPORTED,
			     "cabinet folder %zu: compression type %u (%s) is not supported; only "
			     "none and MSZIP can be decoded",
			     index, type, cab_internal_compression_name(type));
		return NULL;
	}
	d = calloc(1, sizeof(*d));
	if (d == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory decoding folder %zu", index);
		return NULL;
	}
	d->r = r;
	d->index = index;
	d->type = type;
	d->off = f->coff_cab_start;
	if (type == CAB_COMPRESS_MSZIP) {
		if (inflateInit2(&d->z, -15) != Z_OK) {
			pp_error_set(err, HR_E_OUTOFMEMORY, "cannot initialise zlib inflate");
			free(d);
			return NULL;
		}
		d->z_ready = true;
	}
	return d;
}

static void decoder_free(struct folder_decoder *d)
{
	if (d == NULL)
		return;
	if (d->z_ready)
		inflateEnd(&d->z);
	free(d);
}

/* Keeps the last 32 KB of decoded output: MSZIP blocks may refer back into earlier blocks. */
static void decoder_remember(struct folder_decoder *d)
{
	size_t keep;

	if (d->out_len >= CAB_BLOCK_MAX) {
		memcpy(d->hist, d->out + d->out_len - CAB_BLOCK_MAX, CAB_BLOCK_MAX);
		d->hist_len = CAB_BLOCK_MAX;
		return;
	}
	keep = d->hist_len + d->out_len > CAB_BLOCK_MAX ? CAB_BLOCK_MAX - d->out_len : d->hist_len;
	memmove(d->hist, d->hist + d->hist_len - keep, keep);
	memcpy(d->hist + keep, d->out, d->out_len);
	d->hist_len = keep + d->out_len;
}

static int decoder_inflate(struct folder_decoder *d, size_t cb_data, size_t cb_uncomp,
			   struct pp_error *err)
{
	uint32_t block = d->next_block;
	int zrc;

	if (cb_data < 2 || d->in[0] != 'C' || d->in[1] != 'K') {
		pp_error_set(err, HR_ERROR_INVALID_DATA,
			     "cabinet folder %zu block %u: MSZIP block does not start with \"CK\"",
			     d->index, block);
		return -1;
	}
	if (inflateReset(&d->z) != Z_OK ||
	    (d->hist_len > 0 && inflateSetDictionary(&d->z, d->hist, (uInt)d->hist_len) != Z_OK)) {
		pp_error_set(err, HR_E_FAIL, "cabinet folder %zu block %u: zlib reset failed",
			     d->index, block);
		return -1;
	}
	d->z.next_in = d->in + 2;
	d->z.avail_in = (uInt)(cb_data - 2);
	d->z.next_out = d->out;
	d->z.avail_out = CAB_BLOCK_MAX;
	zrc = inflate(&d->z, Z_FINISH);
	if (zrc != Z_STREAM_END) {
		pp_error_set(err, HR_ERROR_INVALID_DATA,
			     "cabinet folder %zu block %u: MSZIP data is corrupt (%s)", d->index,
			     block,
			     zrc == Z_BUF_ERROR
				 ? (d->z.avail_out == 0 ? "more than 32768 bytes" : "truncated")
			     : d->z.msg != NULL ? d->z.msg
						: "zlib error");
		return -1;
	}
	d->out_len = CAB_BLOCK_MAX - d->z.avail_out;
	if (d->out_len != cb_uncomp) {
		pp_error_set(
		    err, HR_ERROR_INVALID_DATA,
		    "cabinet folder %zu block %u: decompressed to %zu bytes, cbUncomp says "
		    "%zu",
		    d->index, block, d->out_len, cb_uncomp);
		return -1;
	}
	return 0;
}

/* CFDATA, 8 bytes + cbCFData reserve + data:
 *   0x00 u32 csum (0 = none)    0x04 u16 cbData    0x06 u16 cbUncomp    0x08 u8[] abReserve
 * Decodes the next block into d->out / d->out_len. */
static int decoder_next(struct folder_decoder *d, struct pp_error *err)
{
	const struct cab_header *h = &d->r->h;
	uint32_t block = d->next_block;
	uint8_t hdr[8];
	size_t cb_data, cb_uncomp, max_data;
	uint64_t data_off;
	uint32_t csum;
	ssize_t n;

	data_off = d->off + 8u + h->cb_cf_data;
	if (data_off > h->cb_cabinet) {
		pp_error_set(err, HR_ERROR_INVALID_DATA,
			     "cabinet folder %zu block %u: CFDATA header runs past the end of the "
			     "cabinet",
			     d->index, block);
		return -1;
	}
	n = cab_internal_pread_full(d->r->fd, hdr, sizeof(hdr), d->off);
	if (n < 0) {
		pp_error_set_errno(err, errno, "cannot read cabinet folder %zu block %u", d->index,
				   block);
		return -1;
	}
	if ((size_t)n < sizeof(hdr)) {
		pp_error_set(err, HR_ERROR_INVALID_DATA,
			     "cabinet folder %zu block %u: file truncated", d->index, block);
		return -1;
	}
	csum = le32_get(hdr);
	cb_data = le16_get(hdr + 4);
	cb_uncomp = le16_get(hdr + 6);
	max_data = d->type == CAB_COMPRESS_MSZIP ? CAB_MSZIP_BLOCK_MAX : CAB_BLOCK_MAX;
	if (cb_data > max_data) {
		pp_error_set(
		    err, HR_ERROR_INVALID_DATA,
		    "cabinet folder %zu block %u: cbData %zu exceeds %zu for %s compression",
		    d->index, block, cb_data, max_data, cab_internal_compression_name(d->type));
		return -1;
	}
	if (data_off + cb_data > h->cb_cabinet) {
		pp_error_set(err, HR_ERROR_INVALID_DATA,
			     "cabinet folder %zu block %u: %zu data bytes run past the end of the "
			     "cabinet",
			     d->index, block, cb_data);
		return -1;
	}
	n = cab_internal_pread_full(d->r->fd, d->in, cb_data, data_off);
	if (n < 0) {
		pp_error_set_errno(err, errno, "cannot read cabinet folder %zu block %u", d->index,
				   block);
		return -1;
	}
	if ((size_t)n < cb_data) {
		pp_error_set(err, HR_ERROR_INVALID_DATA,
			     "cabinet folder %zu block %u: file truncated", d->index, block);
		return -1;
	}
	/* The checksum covers cbData and cbUncomp too, so it goes first: a damaged block reads as
	 * damage rather than as whichever size rule the damage happens to break. */
	if (csum != 0 && cab_internal_cfdata_checksum(hdr, d->in, cb_data) != csum) {
		pp_error_set(err, HR_ERROR_CRC,
			     "cabinet folder %zu block %u: checksum mismatch (stored 0x%08X, "
			     "computed 0x%08X); the cabinet is corrupt",
			     d->index, block, csum,
			     cab_internal_cfdata_checksum(hdr, d->in, cb_data));
		return -1;
	}
	if (cb_uncomp > CAB_BLOCK_MAX || (d->type == CAB_COMPRESS_NONE && cb_data != cb_uncomp)) {
		pp_error_set(err, HR_ERROR_INVALID_DATA,
			     "cabinet folder %zu block %u: cbData %zu / cbUncomp %zu are invalid "
			     "for %s compression",
			     d->index, block, cb_data, cb_uncomp,
			     cab_internal_compression_name(d->type));
		return -1;
	}
	/* cbUncomp 0 marks a block split across cabinets; empty blocks have no other use and
	 * would let a tiny file spin through 65535 no-op blocks. */
	if (cb_uncomp == 0) {
		pp_error_set(err, HR_ERROR_NOT_SUPPORTED,
			     "cabinet folder %zu block %u: cbUncomp 0 marks a block continued in "
			     "the next cabinet; cabinet sets are not supported",
			     d->index, block);
		return -1;
	}
	if (d->type == CAB_COMPRESS_MSZIP) {
		if (decoder_inflate(d, cb_data, cb_uncomp, err) != 0)
			return -1;
		decoder_remember(d);
	} else {
		memcpy(d->out, d->in, cb_data);
		d->out_len = cb_data;
	}
	d->off = data_off + cb_data;
	d->next_block++;
	return 0;
}

/* ---- walking a folder and handing each file its bytes ---- */

/* files[] holds indices of files of this folder sorted by offset. With whole_folder every
 * block is decoded (and verified) even when no file needs it; otherwise decoding stops after the
 * last byte of the last file. Files may overlap; each keeps its own position. */
static int walk_folder(const struct cab_reader *r, size_t folder, const uint32_t *files,
		       size_t nfiles, bool whole_folder, const struct cab_walk_ops *ops,
		       struct pp_error *err)
{
	struct folder_decoder *d = NULL;
	uint32_t *active = NULL;
	size_t next = 0, nactive = 0, i, j;
	uint64_t pos = 0, end;
	int rc = -1;

	active = malloc((nfiles ? nfiles : 1) * sizeof(*active));
	if (active == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory walking folder %zu", folder);
		goto out;
	}
	d = decoder_new(r, folder, err);
	if (d == NULL)
		goto out;
	while (d->next_block < r->folders[folder].c_cfdata) {
		if (!whole_folder && next == nfiles && nactive == 0)
			break;
		if (decoder_next(d, err) != 0)
			goto out;
		end = pos + d->out_len;
		if (ops->data == NULL && ops->done == NULL) {
			/* Only verifying: overlapping files cannot make this quadratic. */
			pos = end;
			continue;
		}
		while (next < nfiles && r->files[files[next]].offset < end)
			active[nactive++] = files[next++];
		for (i = 0, j = 0; i < nactive; i++) {
			const struct cab_file *f = &r->files[active[i]];
			uint64_t lo = f->offset > pos ? f->offset : pos;
			uint64_t hi = (uint64_t)f->offset + f->size;

			if (hi > end)
				hi = end;
			if (hi > lo && ops->data != NULL &&
			    ops->data(ops->ctx, active[i], d->out + (lo - pos), (size_t)(hi - lo),
				      err) != 0)
				goto out;
			if ((uint64_t)f->offset + f->size <= end) {
				if (ops->done != NULL && ops->done(ops->ctx, active[i], err) != 0)
					goto out;
			} else {
				active[j++] = active[i];
			}
		}
		nactive = j;
		pos = end;
	}
	if (ops->data == NULL && ops->done == NULL) {
		for (next = 0; next < nfiles; next++) {
			if ((uint64_t)r->files[files[next]].offset + r->files[files[next]].size >
			    pos)
				break;
		}
	}
	/* Empty files at the very end of the folder are complete; anything else is missing. */
	while (next < nfiles && r->files[files[next]].size == 0 &&
	       r->files[files[next]].offset <= pos) {
		if (ops->done != NULL && ops->done(ops->ctx, files[next], err) != 0)
			goto out;
		next++;
	}
	if (nactive > 0 || next < nfiles) {
		const struct cab_file *f = &r->files[nactive > 0 ? active[0] : files[next]];

		pp_error_set(err, HR_ERROR_INVALID_DATA,
			     "cabinet file \"%s\": folder %zu ends after %llu bytes, before the "
			     "file's %u bytes at offset %u",
			     f->name, folder, (unsigned long long)pos, f->size, f->offset);
		goto out;
	}
	rc = 0;
out:
	decoder_free(d);
	free(active);
	return rc;
}

struct file_order {
	uint32_t offset;
	uint32_t index;
	uint16_t folder;
};

static int file_order_cmp(const void *a, const void *b)
{
	const struct file_order *x = a, *y = b;

	if (x->folder != y->folder)
		return x->folder < y->folder ? -1 : 1;
	if (x->offset != y->offset)
		return x->offset < y->offset ? -1 : 1;
	return x->index < y->index ? -1 : (x->index > y->index);
}

/* Walks every folder once, each with its files in offset order. */
int cab_internal_walk_all(const struct cab_reader *r, const struct cab_walk_ops *ops,
			  struct pp_error *err)
{
	struct file_order *order = NULL;
	uint32_t *indices = NULL;
	size_t nfiles = r->h.c_files, i, first = 0, folder;
	int rc = -1;

	order = malloc((nfiles ? nfiles : 1) * sizeof(*order));
	indices = malloc((nfiles ? nfiles : 1) * sizeof(*indices));
	if (order == NULL || indices == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory sorting %zu files", nfiles);
		goto out;
	}
	for (i = 0; i < nfiles; i++) {
		order[i].offset = r->files[i].offset;
		order[i].index = (uint32_t)i;
		order[i].folder = r->files[i].folder;
	}
	qsort(order, nfiles, sizeof(*order), file_order_cmp);
	for (i = 0; i < nfiles; i++)
		indices[i] = order[i].index;
	for (folder = 0; folder < r->h.c_folders; folder++) {
		size_t last = first;

		while (last < nfiles && order[last].folder == folder)
			last++;
		if (walk_folder(r, folder, indices + first, last - first, true, ops, err) != 0)
			goto out;
		first = last;
	}
	rc = 0;
out:
	free(order);
	free(indices);
	return rc;
}

struct read_file_ctx {
	int (*sink)(void *ctx, const uint8_t *buf, size_t len, struct pp_error *err);
	void *ctx;
};

static int read_file_data(void *ctx, size_t index, const uint8_t *buf, size_t len,
			  struct pp_error *err)
{
	struct read_file_ctx *c = ctx;

	return c->sink(c->ctx, buf, len, err);
}

int cab_reader_read_file(struct cab_reader *r, size_t i,
			 int (*sink)(void *ctx, const uint8_t *buf, size_t len,
				     struct pp_error *err),
			 void *ctx, struct pp_error *err)
{
	struct read_file_ctx c = {.sink = sink, .ctx = ctx};
	struct cab_walk_ops ops = {.data = read_file_data, .ctx = &c};
	uint32_t index = (uint32_t)i;

	if (i >= r->h.c_files) {
		pp_error_set(err, HR_E_INVALIDARG, "cabinet has %u files, no file %zu",
			     r->h.c_files, i);
		return -1;
	}
	return walk_folder(r, r->files[i].folder, &index, 1, false, &ops, err);
}

int cab_reader_test(struct cab_reader *r, struct pp_error *err)
{
	struct cab_walk_ops ops = {0};

	return cab_internal_walk_all(r, &ops, err);
}
