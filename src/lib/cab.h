/* cab.h - Microsoft Cabinet (MS-CAB) reader and streaming writer.
 *
 * Layout facts are in ../shared/reference/formats.md section 2 and docs/formats/cab.md. This module
 * knows cabinets only: Authenticode (authenticode.h) plugs into the writer through a digest sink
 * and reads the signature locator from struct cab_header.
 */
#ifndef PATCHPOINT_CAB_H
#define PATCHPOINT_CAB_H

#include "error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Limits (formats.md 2.4). */
#define CAB_MAX_CABINET_SIZE   0x7FFFFFFFu
#define CAB_MAX_FILE_SIZE      0x7FFF8000u
#define CAB_MAX_FILES	       65535u
#define CAB_MAX_FOLDERS	       65535u
#define CAB_MAX_CFDATA	       65535u
#define CAB_BLOCK_MAX	       32768u
#define CAB_MSZIP_BLOCK_MAX    (32768u + 12u)
#define CAB_NAME_MAX	       255u
#define CAB_HEADER_RESERVE_MAX 60000u
#define CAB_FIXED_HEADER_SIZE  36u /* CFHEADER without optional fields */
/* Largest CFHEADER: fixed part, reserve sizes, 60000-byte reserve, four 256-byte strings. */
#define CAB_HEADER_MAX                                                                             \
	(CAB_FIXED_HEADER_SIZE + 4u + CAB_HEADER_RESERVE_MAX + 4u * (CAB_NAME_MAX + 1u))

/* CFHEADER.flags */
#define CAB_FLAG_PREV_CABINET	 0x0001u
#define CAB_FLAG_NEXT_CABINET	 0x0002u
#define CAB_FLAG_RESERVE_PRESENT 0x0004u

/* CFFILE.attribs */
#define CAB_ATTRIB_READONLY    0x01u
#define CAB_ATTRIB_HIDDEN      0x02u
#define CAB_ATTRIB_SYSTEM      0x04u
#define CAB_ATTRIB_ARCH	       0x20u
#define CAB_ATTRIB_EXEC	       0x40u
#define CAB_ATTRIB_NAME_IS_UTF 0x80u

/* The Authenticode signature reserve (formats.md 1.2): cbCFHeader = 20 holding
 * u16 0, u16 16, u32 signature offset, u32 signature length, 8 zero bytes. */
#define CAB_SIGNATURE_RESERVE_SIZE  20u
#define CAB_SIGNATURE_HEADER_GROWTH 24u /* bytes inserted at 0x24 when a cabinet had no reserve */

enum cab_compression {
	CAB_COMPRESS_NONE = 0,
	CAB_COMPRESS_MSZIP = 1,
	CAB_COMPRESS_QUANTUM = 2,
	CAB_COMPRESS_LZX = 3,
};

/* A parsed CFHEADER. Offsets are absolute file offsets. */
struct cab_header {
	uint32_t cb_cabinet; /* 0x08; in a signed cabinet, the offset of the PKCS#7 blob */
	uint32_t coff_files; /* 0x10 */
	uint8_t version_minor;
	uint8_t version_major;
	uint16_t c_folders;
	uint16_t c_files;
	uint16_t flags;
	uint16_t set_id;
	uint16_t i_cabinet;
	uint16_t cb_cf_header; /* 0 when RESERVE_PRESENT is clear */
	uint8_t cb_cf_folder;
	uint8_t cb_cf_data;
	uint32_t reserve_offset; /* offset of abReserve (0x28), 0 when cb_cf_header is 0 */
	/* Offsets and lengths (with the NUL) of the prev/next strings, 0 when absent. */
	uint32_t prev_cabinet_offset, prev_cabinet_len;
	uint32_t prev_disk_offset, prev_disk_len;
	uint32_t next_cabinet_offset, next_cabinet_len;
	uint32_t next_disk_offset, next_disk_len;
	uint32_t folders_offset; /* offset of CFFOLDER[0] = size of the CFHEADER */
	uint32_t folders_end;	 /* offset just past the CFFOLDER table */
	/* Authenticode locator, valid when signature_reserve is true: the reserve is the 20-byte
	 * signature layout (u16 0, u16 16, offset, length, filler). */
	bool signature_reserve;
	uint32_t signature_offset;
	uint32_t signature_length;
};

/* Parses the CFHEADER at the start of buf. buf holds the first len bytes of a file of file_size
 * bytes (len may be less than file_size; CAB_HEADER_MAX + folder table bytes are always enough).
 * Checks the signature, version, reserve sizes, string lengths, that the folder table and
 * coffFiles lie inside the file and cbCabinet does not exceed file_size. A signature locator that
 * points outside the file is an error too. Errors: ERROR_INVALID_DATA with the field named. */
int cab_header_parse(const uint8_t *buf, size_t len, uint64_t file_size, struct cab_header *h,
		     struct pp_error *err) PP_WARN_UNUSED;

struct cab_folder {
	uint32_t coff_cab_start;
	uint16_t c_cfdata;
	uint16_t type_compress;
};

struct cab_file {
	char name[CAB_NAME_MAX + 1]; /* as stored: '\\' separators, UTF-8 or Latin-1 */
	uint32_t size;
	uint32_t offset; /* uoffFolderStart */
	uint16_t folder; /* iFolder */
	uint16_t date;	 /* DOS date */
	uint16_t time;	 /* DOS time */
	uint16_t attribs;
};

/* Progress callback: done and total in bytes of uncompressed data. */
typedef void (*cab_progress_fn)(void *ctx, uint64_t done, uint64_t total);

/* The CFDATA checksum of formats.md 2.2 (data first, then the 4 bytes cbData|cbUncomp). */
uint32_t cab_checksum(const uint8_t *data, size_t len, uint32_t seed);

/* ---- reader ---- */

struct cab_reader;

/* Opens path, parses and validates CFHEADER, CFFOLDER and CFFILE tables (every count, offset and
 * name checked against the file size and the limits). Returns NULL with ERROR_INVALID_DATA (or an
 * I/O code) and a message naming the bad field. Free with cab_reader_free. */
struct cab_reader *cab_reader_open(const char *path, struct pp_error *err) PP_WARN_UNUSED;
void cab_reader_free(struct cab_reader *r);

const struct cab_header *cab_reader_header(const struct cab_reader *r);
size_t cab_reader_folder_count(const struct cab_reader *r);
const struct cab_folder *cab_reader_folder(const struct cab_reader *r, size_t i);
size_t cab_reader_file_count(const struct cab_reader *r);
const struct cab_file *cab_reader_file(const struct cab_reader *r, size_t i);

/* Streams the uncompressed content of file i to sink, checking every CFDATA checksum and the
 * decompressed sizes. sink returns 0 to go on, -1 to stop (its error in err). */
int cab_reader_read_file(struct cab_reader *r, size_t i,
			 int (*sink)(void *ctx, const uint8_t *buf, size_t len,
				     struct pp_error *err),
			 void *ctx, struct pp_error *err) PP_WARN_UNUSED;

/* Decompresses every folder and checks checksums without writing anything (cabextract -t). */
int cab_reader_test(struct cab_reader *r, struct pp_error *err) PP_WARN_UNUSED;

/* Extracts every file under dir (created if missing). Names are checked first: absolute paths,
 * drive letters, '..' components and names that would leave dir are refused before anything is
 * written. Files are written into a staging directory inside dir and moved into place only after
 * the whole cabinet decoded and verified, so a bad cabinet leaves dir as it was. */
int cab_reader_extract(struct cab_reader *r, const char *dir, cab_progress_fn progress,
		       void *progress_ctx, struct pp_error *err) PP_WARN_UNUSED;

/* Converts a stored name to a relative POSIX path ('\\' -> '/'), refusing unsafe names.
 * Returns 0 or -1 with ERROR_INVALID_NAME. */
int cab_safe_relative_path(const char *stored, char *out, size_t out_size, struct pp_error *err);

/* ---- writer ---- */

/* Receives the exact bytes of the cabinet being written, in file order, so a digest can be
 * computed in the same pass. header() gets file bytes [0, folders_end) once, with the final
 * values of every field; data() then gets [folders_end, cb_cabinet) in order. */
struct cab_digest_sink {
	void *ctx;
	int (*header)(void *ctx, const uint8_t *bytes, size_t len, const struct cab_header *h,
		      struct pp_error *err);
	int (*data)(void *ctx, const uint8_t *bytes, size_t len, struct pp_error *err);
};

struct cab_writer_options {
	enum cab_compression compression; /* NONE or MSZIP */
	bool signature_reserve;		  /* write the 20-byte Authenticode reserve, zero locator */
	const struct cab_digest_sink *sink; /* optional */
	cab_progress_fn progress;	    /* optional */
	void *progress_ctx;
};

struct cab_writer;

/* A writer that will write a single-folder cabinet to fd (opened O_RDWR, positioned anywhere;
 * the cabinet is written from offset 0). fd stays owned by the caller. */
struct cab_writer *cab_writer_new(int fd, const struct cab_writer_options *opts,
				  struct pp_error *err) PP_WARN_UNUSED;

/* Queues src_path to be stored as name (a relative name; '/' becomes '\\'). The file is stat'ed
 * now and read only once, in cab_writer_finish. Refuses names over 255 bytes, files over
 * CAB_MAX_FILE_SIZE, more than CAB_MAX_FILES files and a total over the cabinet limit
 * (ERROR_FILE_TOO_LARGE for sizes). */
int cab_writer_add_file(struct cab_writer *w, const char *src_path, const char *name,
			struct pp_error *err) PP_WARN_UNUSED;

/* Writes the whole cabinet: header, folder, file table, data blocks. Input files are read once;
 * a file that changed size since cab_writer_add_file is an error. On success *cabinet_size gets
 * cbCabinet (may be NULL). */
int cab_writer_finish(struct cab_writer *w, uint32_t *cabinet_size,
		      struct pp_error *err) PP_WARN_UNUSED;

void cab_writer_free(struct cab_writer *w);

/* ---- one file laid out before its bytes arrive ----
 *
 * The layout of a cabinet of one file stored without compression and with the Authenticode
 * reserve whose locator already names the signature to come (signature_length bytes at
 * cb_cabinet): everything a writer needs to put each byte of the file in its final place as the
 * bytes arrive, in any pieces. The header is final; each CFDATA header (its checksum) can be
 * written once its block is whole (cab_cfdata_header). Block b of the file holds bytes
 * [b * CAB_BLOCK_MAX, ...) and starts at cab_single_block_offset(b) with its 8-byte header. */
#define CAB_SINGLE_HEADER_MAX                                                                      \
	(CAB_FIXED_HEADER_SIZE + 4u + CAB_SIGNATURE_RESERVE_SIZE + 8u + 16u + CAB_NAME_MAX + 1u)

struct cab_single {
	uint64_t size;		   /* of the file */
	uint32_t data_start;	   /* offset of the first CFDATA, = bytes of header */
	uint32_t blocks;	   /* CFDATA count */
	uint32_t cb_cabinet;	   /* end of the data, where the signature goes */
	uint32_t signature_length; /* as the locator says */
	uint8_t header[CAB_SINGLE_HEADER_MAX];
};

/* Lays out a cabinet holding size bytes as name (as cab_writer_add_file takes it) with the DOS
 * date and time of mtime. ERROR_FILE_TOO_LARGE past the cabinet limits, ERROR_INVALID_NAME for
 * a bad name. */
int cab_single_layout(uint64_t size, const char *name, time_t mtime, uint32_t signature_length,
		      struct cab_single *out, struct pp_error *err) PP_WARN_UNUSED;

/* Offset of the CFDATA header of block b. */
uint64_t cab_single_block_offset(const struct cab_single *l, uint64_t block);

/* The length of the cabinet file once the first received bytes of the file are in it (the
 * header of a block still incomplete is a hole then); cb_cabinet when all are. */
uint64_t cab_single_file_length(const struct cab_single *l, uint64_t received);

/* The inverse: how many bytes of the file a cabinet file of file_length bytes holds. */
uint64_t cab_single_received(const struct cab_single *l, uint64_t file_length);

/* The 8-byte CFDATA header (checksum, cbData, cbUncomp) of an uncompressed block. */
void cab_cfdata_header(uint8_t hdr[8], const uint8_t *data, size_t len);

#endif
