/* cab.c - Microsoft Cabinet reader and streaming writer (formats.md section 2).
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

#include "hresult.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <zlib.h>

static uint16_t get_u16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
	       ((uint32_t)p[3] << 24);
}

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
	if (get_u32(buf + 0x04) != 0) {
		pp_error_set(err, HR_ERROR_INVALID_DATA, "cabinet header: reserved1 is not zero");
		return -1;
	}
	h->cb_cabinet = get_u32(buf + 0x08);
	h->coff_files = get_u32(buf + 0x10);
	h->version_minor = buf[0x18];
	h->version_major = buf[0x19];
	h->c_folders = get_u16(buf + 0x1A);
	h->c_files = get_u16(buf + 0x1C);
	h->flags = get_u16(buf + 0x1E);
	h->set_id = get_u16(buf + 0x20);
	h->i_cabinet = get_u16(buf + 0x22);

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
		h->cb_cf_header = get_u16(buf + 0x24);
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
	    get_u32(buf + h->reserve_offset) == 0x00100000u) {
		uint64_t sig_end;

		h->signature_reserve = true;
		h->signature_offset = get_u32(buf + h->reserve_offset + 4);
		h->signature_length = get_u32(buf + h->reserve_offset + 8);
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

static void put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static const char *compression_name(uint16_t type)
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

/* pread until len bytes arrived or the file ended; returns the byte count or -1 (errno set). */
static ssize_t pread_full(int fd, uint8_t *buf, size_t len, uint64_t off)
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

static int write_full(int fd, const uint8_t *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = write(fd, buf + done, len - done);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		done += (size_t)n;
	}
	return 0;
}

/* ---- checksum (formats.md 2.2) ---- */

uint32_t cab_checksum(const uint8_t *data, size_t len, uint32_t seed)
{
	uint32_t c = seed, tail = 0;
	size_t i, words = len / 4;

	for (i = 0; i < words; i++)
		c ^= get_u32(data + 4 * i);
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

/* The csum field of a CFDATA whose 8-byte header is hdr (csum, cbData, cbUncomp). */
static uint32_t cfdata_checksum(const uint8_t *hdr, const uint8_t *data, size_t len)
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
		n = pread_full(w->fd, w->buf, size, off);
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

struct cab_reader {
	int fd;
	uint64_t file_size;
	struct cab_header h;
	struct cab_folder *folders;
	struct cab_file *files;
};

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
		f->coff_cab_start = get_u32(p);
		f->c_cfdata = get_u16(p + 4);
		f->type_compress = get_u16(p + 6);
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
		f->size = get_u32(p);
		f->offset = get_u32(p + 4);
		f->folder = get_u16(p + 8);
		f->date = get_u16(p + 10);
		f->time = get_u16(p + 12);
		f->attribs = get_u16(p + 14);
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
	n = pread_full(r->fd, head, head_len, 0);
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
			     index, type, compression_name(type));
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
	n = pread_full(d->r->fd, hdr, sizeof(hdr), d->off);
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
	csum = get_u32(hdr);
	cb_data = get_u16(hdr + 4);
	cb_uncomp = get_u16(hdr + 6);
	max_data = d->type == CAB_COMPRESS_MSZIP ? CAB_MSZIP_BLOCK_MAX : CAB_BLOCK_MAX;
	if (cb_data > max_data) {
		pp_error_set(
		    err, HR_ERROR_INVALID_DATA,
		    "cabinet folder %zu block %u: cbData %zu exceeds %zu for %s compression",
		    d->index, block, cb_data, max_data, compression_name(d->type));
		return -1;
	}
	if (data_off + cb_data > h->cb_cabinet) {
		pp_error_set(err, HR_ERROR_INVALID_DATA,
			     "cabinet folder %zu block %u: %zu data bytes run past the end of the "
			     "cabinet",
			     d->index, block, cb_data);
		return -1;
	}
	n = pread_full(d->r->fd, d->in, cb_data, data_off);
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
	if (csum != 0 && cfdata_checksum(hdr, d->in, cb_data) != csum) {
		pp_error_set(err, HR_ERROR_CRC,
			     "cabinet folder %zu block %u: checksum mismatch (stored 0x%08X, "
			     "computed 0x%08X); the cabinet is corrupt",
			     d->index, block, csum, cfdata_checksum(hdr, d->in, cb_data));
		return -1;
	}
	if (cb_uncomp > CAB_BLOCK_MAX || (d->type == CAB_COMPRESS_NONE && cb_data != cb_uncomp)) {
		pp_error_set(err, HR_ERROR_INVALID_DATA,
			     "cabinet folder %zu block %u: cbData %zu / cbUncomp %zu are invalid "
			     "for %s compression",
			     d->index, block, cb_data, cb_uncomp, compression_name(d->type));
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

struct walk_ops {
	/* Bytes of file index; files get their bytes in order. */
	int (*data)(void *ctx, size_t index, const uint8_t *buf, size_t len, struct pp_error *err);
	/* The file is complete (called for empty files too). */
	int (*done)(void *ctx, size_t index, struct pp_error *err);
	void *ctx;
};

/* files[] holds indices of files of this folder sorted by offset. With whole_folder every
 * block is decoded (and verified) even when no file needs it; otherwise decoding stops after the
 * last byte of the last file. Files may overlap; each keeps its own position. */
static int walk_folder(const struct cab_reader *r, size_t folder, const uint32_t *files,
		       size_t nfiles, bool whole_folder, const struct walk_ops *ops,
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
static int walk_all(const struct cab_reader *r, const struct walk_ops *ops, struct pp_error *err)
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
	struct walk_ops ops = {.data = read_file_data, .ctx = &c};
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
	struct walk_ops ops = {0};

	return walk_all(r, &ops, err);
}

/* ---- names ---- */

int cab_safe_relative_path(const char *stored, char *out, size_t out_size, struct pp_error *err)
{
	size_t len, i, comp_start = 0;

	len = stored != NULL ? strnlen(stored, CAB_NAME_MAX + 1u) : 0;
	if (len == 0 || len > CAB_NAME_MAX) {
		pp_error_set(err, HR_ERROR_INVALID_NAME,
			     "cabinet file name is empty or longer than %u bytes", CAB_NAME_MAX);
		return -1;
	}
	if (len + 1 > out_size) {
		pp_error_set(err, HR_ERROR_INVALID_NAME,
			     "cabinet file name \"%s\" does not fit in %zu bytes", stored,
			     out_size);
		return -1;
	}
	if (stored[0] == '\\' || stored[0] == '/') {
		pp_error_set(err, HR_ERROR_INVALID_NAME,
			     "cabinet file name \"%s\" is absolute; only relative names are "
			     "extracted",
			     stored);
		return -1;
	}
	/* A colon is a drive letter (C:x) or an NTFS stream (a:b); neither is a plain name. */
	if (memchr(stored, ':', len) != NULL) {
		pp_error_set(err, HR_ERROR_INVALID_NAME,
			     "cabinet file name \"%s\" contains ':' (a drive letter or stream)",
			     stored);
		return -1;
	}
	for (i = 0; i <= len; i++) {
		char c = stored[i];

		if (c != '\0' && c != '\\' && c != '/') {
			if ((unsigned char)c < 0x20) {
				pp_error_set(err, HR_ERROR_INVALID_NAME,
					     "cabinet file name contains control character 0x%02X",
					     (unsigned)(unsigned char)c);
				return -1;
			}
			out[i] = c;
			continue;
		}
		/* End of a component: refuse "", "." and "..". */
		if (i == comp_start || (i - comp_start == 1 && stored[comp_start] == '.') ||
		    (i - comp_start == 2 && stored[comp_start] == '.' &&
		     stored[comp_start + 1] == '.')) {
			pp_error_set(err, HR_ERROR_INVALID_NAME,
				     "cabinet file name \"%s\" has an empty, \".\" or \"..\" "
				     "component",
				     stored);
			return -1;
		}
		out[i] = c == '\0' ? '\0' : '/';
		comp_start = i + 1;
	}
	return 0;
}

/* ---- extraction ---- */

/* Removes name (a file or a directory tree) under dirfd without following symbolic links. */
static void remove_tree_at(int dirfd, const char *name, int depth)
{
	int fd;
	DIR *dir;
	struct dirent *e;

	if (unlinkat(dirfd, name, 0) == 0 || errno == ENOENT || depth > (int)CAB_NAME_MAX)
		return;
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return;
	dir = fdopendir(fd);
	if (dir == NULL) {
		close(fd);
		return;
	}
	while ((e = readdir(dir)) != NULL) {
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			remove_tree_at(fd, e->d_name, depth + 1);
	}
	closedir(dir);
	(void)unlinkat(dirfd, name, AT_REMOVEDIR);
}

/* Opens the directory holding rel (a safe relative path) under base, creating missing
 * components when create is set. Symbolic links are never followed, so nothing lands outside
 * base. Returns a directory fd and points *leaf at the last component, or -1. */
static int open_parent(int base, char *rel, bool create, const char **leaf, struct pp_error *err)
{
	int cur = base, next;
	char *comp = rel, *slash;

	while ((slash = strchr(comp, '/')) != NULL) {
		*slash = '\0';
		if (create && mkdirat(cur, comp, 0755) != 0 && errno != EEXIST) {
			pp_error_set_errno(err, errno, "cannot create directory \"%s\"", rel);
			goto fail;
		}
		next = openat(cur, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0) {
			if (errno == ELOOP || errno == ENOTDIR)
				pp_error_set(
				    err, HR_ERROR_INVALID_NAME,
				    "\"%s\" is a symbolic link or not a directory; refusing "
				    "to extract through it",
				    rel);
			else
				pp_error_set_errno(err, errno, "cannot open directory \"%s\"", rel);
			goto fail;
		}
		*slash = '/';
		if (cur != base)
			close(cur);
		cur = next;
		comp = slash + 1;
	}
	*leaf = comp;
	return cur;
fail:
	if (slash != NULL)
		*slash = '/';
	if (cur != base)
		close(cur);
	return -1;
}

/* Checks that rel can be placed under dirfd: every existing parent is a real directory and an
 * existing target is a regular file (which will be replaced). */
static int check_target(int dirfd, const char *name, char *rel, struct pp_error *err)
{
	char *p = rel;
	struct stat st;
	int rc = 0;

	for (;;) {
		char *slash = strchr(p, '/');

		if (slash != NULL)
			*slash = '\0';
		if (fstatat(dirfd, rel, &st, AT_SYMLINK_NOFOLLOW) != 0) {
			if (slash != NULL)
				*slash = '/';
			if (errno == ENOENT)
				return 0;
			pp_error_set_errno(err, errno, "cannot check \"%s\"", rel);
			return -1;
		}
		if (slash == NULL) {
			if (!S_ISREG(st.st_mode)) {
				pp_error_set(
				    err, HR_ERROR_ALREADY_EXISTS,
				    "cabinet file \"%s\": \"%s\" already exists and is not a "
				    "regular file",
				    name, rel);
				rc = -1;
			}
			return rc;
		}
		*slash = '/';
		if (!S_ISDIR(st.st_mode)) {
			pp_error_set(
			    err, HR_ERROR_INVALID_NAME,
			    "cabinet file \"%s\": a parent in the target is a symbolic link "
			    "or a file; refusing to extract through it",
			    name);
			return -1;
		}
		p = slash + 1;
	}
}

/* DOS date and time as local time_t; 0 when the fields are not a valid date. */
static time_t dos_to_time(uint16_t date, uint16_t tm_field)
{
	struct tm tm = {0};

	tm.tm_year = ((date >> 9) & 0x7F) + 80;
	tm.tm_mon = ((date >> 5) & 0x0F) - 1;
	tm.tm_mday = date & 0x1F;
	tm.tm_hour = (tm_field >> 11) & 0x1F;
	tm.tm_min = (tm_field >> 5) & 0x3F;
	tm.tm_sec = (tm_field & 0x1F) * 2;
	tm.tm_isdst = -1;
	if (tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday == 0)
		return 0;
	return mktime(&tm);
}

struct extract_ctx {
	const struct cab_reader *r;
	int stage_fd;
	int *fds; /* per file: -1 not started, >= 0 open, -2 done */
	char rel[CAB_NAME_MAX + 1];
	uint64_t done, total, reported;
	cab_progress_fn progress;
	void *progress_ctx;
};

static int extract_open(struct extract_ctx *c, size_t index, struct pp_error *err)
{
	const struct cab_file *f = &c->r->files[index];
	const char *leaf;
	int parent, fd;

	if (cab_safe_relative_path(f->name, c->rel, sizeof(c->rel), err) != 0)
		return -1;
	parent = open_parent(c->stage_fd, c->rel, true, &leaf, err);
	if (parent < 0)
		return -1;
	fd = openat(parent, leaf, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0) {
		if (errno == EEXIST)
			pp_error_set(
			    err, HR_ERROR_INVALID_DATA,
			    "cabinet file \"%s\" appears twice or clashes with a directory "
			    "of the same name",
			    f->name);
		else
			pp_error_set_errno(err, errno, "cannot create \"%s\"", c->rel);
	}
	if (parent != c->stage_fd)
		close(parent);
	if (fd < 0)
		return -1;
	c->fds[index] = fd;
	return 0;
}

static void extract_report(struct extract_ctx *c, bool final)
{
	if (c->progress == NULL)
		return;
	if (final || c->done - c->reported >= 1024u * 1024u) {
		c->progress(c->progress_ctx, c->done, c->total);
		c->reported = c->done;
	}
}

static int extract_data(void *ctx, size_t index, const uint8_t *buf, size_t len,
			struct pp_error *err)
{
	struct extract_ctx *c = ctx;

	if (c->fds[index] == -1 && extract_open(c, index, err) != 0)
		return -1;
	if (write_full(c->fds[index], buf, len) != 0) {
		pp_error_set_errno(err, errno, "cannot write \"%s\"", c->r->files[index].name);
		return -1;
	}
	c->done += len;
	extract_report(c, false);
	return 0;
}

static int extract_done(void *ctx, size_t index, struct pp_error *err)
{
	struct extract_ctx *c = ctx;
	const struct cab_file *f = &c->r->files[index];
	struct timespec times[2];
	int rc = 0;

	if (c->fds[index] == -1 && extract_open(c, index, err) != 0)
		return -1;
	times[0].tv_sec = times[1].tv_sec = dos_to_time(f->date, f->time);
	times[0].tv_nsec = times[1].tv_nsec = 0;
	if (times[0].tv_sec != 0)
		(void)futimens(c->fds[index], times);
	if (close(c->fds[index]) != 0) {
		pp_error_set_errno(err, errno, "cannot write \"%s\"", f->name);
		rc = -1;
	}
	c->fds[index] = -2;
	return rc;
}

/* Moves every staged file to its place under dirfd. */
static int extract_move(struct extract_ctx *c, int dirfd, struct pp_error *err)
{
	char rel[CAB_NAME_MAX + 1];
	const char *leaf;
	size_t i;
	int parent;

	for (i = 0; i < c->r->h.c_files; i++) {
		if (cab_safe_relative_path(c->r->files[i].name, rel, sizeof(rel), err) != 0)
			return -1;
		parent = open_parent(dirfd, rel, true, &leaf, err);
		if (parent < 0)
			return -1;
		/* rel is unchanged by open_parent, so the staging copy has the same path. */
		if (renameat(c->stage_fd, rel, parent, leaf) != 0) {
			pp_error_set_errno(err, errno, "cannot move \"%s\" into place", rel);
			if (parent != dirfd)
				close(parent);
			return -1;
		}
		if (parent != dirfd)
			close(parent);
	}
	return 0;
}

int cab_reader_extract(struct cab_reader *r, const char *dir, cab_progress_fn progress,
		       void *progress_ctx, struct pp_error *err)
{
	struct extract_ctx c = {
	    .r = r, .stage_fd = -1, .progress = progress, .progress_ctx = progress_ctx};
	struct walk_ops ops = {.data = extract_data, .done = extract_done, .ctx = &c};
	char rel[CAB_NAME_MAX + 1], stage_name[] = ".patchpoint-extract-XXXXXX";
	char *stage_path = NULL;
	bool created = false, staged = false;
	int dirfd = -1, rc = -1;
	struct stat st;
	size_t i;

	/* Names first: nothing is created when one of them is unsafe. */
	for (i = 0; i < r->h.c_files; i++) {
		if (cab_safe_relative_path(r->files[i].name, rel, sizeof(rel), err) != 0)
			goto out;
		c.total += r->files[i].size;
	}
	c.fds = malloc((r->h.c_files ? r->h.c_files : 1u) * sizeof(*c.fds));
	if (c.fds == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory extracting to %s", dir);
		goto out;
	}
	for (i = 0; i < r->h.c_files; i++)
		c.fds[i] = -1;

	if (stat(dir, &st) != 0) {
		if (errno != ENOENT || mkdir(dir, 0755) != 0) {
			pp_error_set_errno(err, errno, "cannot create directory %s", dir);
			goto out;
		}
		created = true;
	} else if (!S_ISDIR(st.st_mode)) {
		pp_error_set(err, HR_ERROR_ALREADY_EXISTS, "%s exists and is not a directory", dir);
		goto out;
	}
	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		pp_error_set_errno(err, errno, "cannot open directory %s", dir);
		goto out;
	}
	for (i = 0; i < r->h.c_files; i++) {
		if (cab_safe_relative_path(r->files[i].name, rel, sizeof(rel), err) != 0 ||
		    check_target(dirfd, r->files[i].name, rel, err) != 0)
			goto out;
	}

	if (asprintf(&stage_path, "%s/%s", dir, stage_name) < 0) {
		stage_path = NULL;
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory extracting to %s", dir);
		goto out;
	}
	if (mkdtemp(stage_path) == NULL) {
		pp_error_set_errno(err, errno, "cannot create a staging directory in %s", dir);
		goto out;
	}
	staged = true;
	c.stage_fd = open(stage_path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (c.stage_fd < 0) {
		pp_error_set_errno(err, errno, "cannot open staging directory %s", stage_path);
		goto out;
	}
	if (walk_all(r, &ops, err) != 0)
		goto out;
	/* Every file belongs to a folder and every folder was walked to its end. */
	if (extract_move(&c, dirfd, err) != 0)
		goto out;
	extract_report(&c, true);
	rc = 0;
out:
	if (c.fds != NULL) {
		for (i = 0; i < r->h.c_files; i++) {
			if (c.fds[i] >= 0)
				close(c.fds[i]);
		}
	}
	if (c.stage_fd >= 0)
		close(c.stage_fd);
	if (staged)
		remove_tree_at(AT_FDCWD, stage_path, 0);
	if (dirfd >= 0)
		close(dirfd);
	if (rc != 0 && created)
		(void)rmdir(dir);
	free(stage_path);
	free(c.fds);
	return rc;
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
			     (int)opts->compression, compression_name((uint16_t)opts->compression));
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

int cab_writer_add_file(struct cab_writer *w, const char *src_path, const char *name,
			struct pp_error *err)
{
	char check[CAB_NAME_MAX + 1];
	struct writer_file *f;
	struct stat st;
	uint64_t total, table;
	size_t name_len, i;
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
	f->attribs = CAB_ATTRIB_ARCH;
	for (i = 0; i < name_len; i++) {
		if (f->name[i] == '/')
			f->name[i] = '\\';
		if ((unsigned char)f->name[i] >= 0x80)
			f->attribs |= CAB_ATTRIB_NAME_IS_UTF;
	}
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
	put_u16(hdr + 4, (uint16_t)len);
	put_u16(hdr + 6, (uint16_t)s->block_len);
	put_u32(hdr, cfdata_checksum(hdr, data, len));
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

/* Builds bytes [0, folders_end): CFHEADER, optional signature reserve, the one CFFOLDER. */
static void build_header(const struct cab_writer *w, uint32_t cb_cabinet, uint32_t blocks,
			 uint8_t *p)
{
	uint32_t hsize = writer_header_size(w), coff_files = hsize + 8u;

	memset(p, 0, hsize + 8u);
	memcpy(p, "MSCF", 4);
	put_u32(p + 0x08, cb_cabinet);
	put_u32(p + 0x10, coff_files);
	p[0x18] = 3; /* version 1.3 */
	p[0x19] = 1;
	put_u16(p + 0x1A, 1);
	put_u16(p + 0x1C, (uint16_t)w->nfiles);
	if (w->opts.signature_reserve) {
		put_u16(p + 0x1E, CAB_FLAG_RESERVE_PRESENT);
		/* 0x24 cbCFHeader = 20, 0x26 cbCFFolder = 0, 0x27 cbCFData = 0, then abReserve:
		 * 0x28 u16 0, 0x2A u16 16, 0x2C u32 signature offset, 0x30 u32 length, 8 zeros. The
		 * locator stays zero until the signer fills it. */
		put_u16(p + 0x24, CAB_SIGNATURE_RESERVE_SIZE);
		put_u16(p + 0x2A, 16);
	}
	/* CFFOLDER: coffCabStart, cCFData, typeCompress. */
	put_u32(p + hsize, (uint32_t)(coff_files + w->table_size));
	put_u16(p + hsize + 4, (uint16_t)blocks);
	put_u16(p + hsize + 6, (uint16_t)w->opts.compression);
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

		n = pread_full(w->fd, s->out.buf, want, off);
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

		put_u32(entry + 0x00, f->size);
		put_u32(entry + 0x04, (uint32_t)offset);
		put_u16(entry + 0x08, 0);
		put_u16(entry + 0x0A, f->date);
		put_u16(entry + 0x0C, f->time);
		put_u16(entry + 0x0E, f->attribs);
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
