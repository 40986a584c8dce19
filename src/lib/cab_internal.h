/* cab_internal.h - what the cabinet module's files share: cab.c (the format, the reader, folder
 * decoding), cab_extract.c (extraction) and cab_writer.c (the writer). Not part of the library's
 * interface; include it from those three files only. */
#ifndef PATCHPOINT_CAB_INTERNAL_H
#define PATCHPOINT_CAB_INTERNAL_H

#include "cab.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* An open cabinet: the validated header and tables (cab_reader_open). */
struct cab_reader {
	int fd;
	uint64_t file_size;
	struct cab_header h;
	struct cab_folder *folders;
	struct cab_file *files;
};

/* "none", "MSZIP", "Quantum", "LZX" or "unknown" for a typeCompress value. */
const char *cab_internal_compression_name(uint16_t type);

/* pread until len bytes arrived or the file ended; returns the byte count or -1 (errno set). */
ssize_t cab_internal_pread_full(int fd, uint8_t *buf, size_t len, uint64_t off);

/* The csum field of a CFDATA whose 8-byte header is hdr (csum, cbData, cbUncomp). */
uint32_t cab_internal_cfdata_checksum(const uint8_t *hdr, const uint8_t *data, size_t len);

/* What a folder walk hands each file. Either callback may be NULL; with both NULL the walk only
 * decodes and verifies. A callback returns 0 to go on, -1 to stop (its error in err). */
struct cab_walk_ops {
	/* Bytes of file index; files get their bytes in order. */
	int (*data)(void *ctx, size_t index, const uint8_t *buf, size_t len, struct pp_error *err);
	/* The file is complete (called for empty files too). */
	int (*done)(void *ctx, size_t index, struct pp_error *err);
	void *ctx;
};

/* Decodes and verifies every folder once, handing each file its bytes in offset order. */
int cab_internal_walk_all(const struct cab_reader *r, const struct cab_walk_ops *ops,
			  struct pp_error *err);

#endif
