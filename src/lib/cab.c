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

#include <string.h>

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
		pp_error_set(err, HR_ERROR_INVALID_DATA,
			     "cabinet header: %u files but no folder", h->c_files);
		return -1;
	}
	if ((h->flags & ~(CAB_FLAG_PREV_CABINET | CAB_FLAG_NEXT_CABINET |
			  CAB_FLAG_RESERVE_PRESENT)) != 0) {
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
				     "cabinet header: reserve of %u bytes exceeds %u", h->cb_cf_header,
				     CAB_HEADER_RESERVE_MAX);
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
			pp_error_set(err, HR_ERROR_INVALID_DATA,
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
