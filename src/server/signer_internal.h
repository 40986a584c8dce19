/* signer_internal.h - what the signer module's files share: signer_wire.c (message bodies,
 * SEQPACKET framing, the ERROR message), signer_child.c (the child process) and signer.c (the
 * client in the parent). Not part of the daemon's interface; include it from those three files
 * only. The wire format itself is in signer.h and docs/internals/signer.md. */
#ifndef PATCHPOINT_SIGNER_INTERNAL_H
#define PATCHPOINT_SIGNER_INTERNAL_H

#include "signer.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Flags of an entry in a GENERATE, IMPORT_PFX or LIST reply. */
#define SIGNER_ENTRY_EXPORT  0x1u
#define SIGNER_ENTRY_HAS_KEY 0x2u
/* Flags of a GENERATE or IMPORT_PFX request. */
#define SIGNER_GEN_EXPORTABLE 0x1u

/* ---- message bodies: writer and reader ---- */

/* A body being built. Start from {0}; a failed writer ignores further puts. */
struct signer_wbuf {
	uint8_t *p;
	size_t len, cap;
	bool failed; /* out of memory or over SIGNER_MAX_BODY */
};

/* Wipes and frees the body and resets w to {0}. */
void signer_wbuf_free(struct signer_wbuf *w);

/* Appends len bytes; sets w->failed past SIGNER_MAX_BODY or when out of memory. */
void signer_wbuf_put(struct signer_wbuf *w, const void *data, size_t len);

/* Appends a u32, little-endian. */
void signer_wbuf_u32(struct signer_wbuf *w, uint32_t v);

/* Appends a length-prefixed field (u32 length, then the bytes). */
void signer_wbuf_bytes(struct signer_wbuf *w, const void *data, size_t len);

/* Appends a string field without its NUL; NULL is sent as "". */
void signer_wbuf_str(struct signer_wbuf *w, const char *s);

/* A body being read. The first field that fails sets failed and what; later reads return
 * nothing. */
struct signer_rbuf {
	const uint8_t *p;
	size_t len, off;
	bool failed;
	const char *what; /* first field that failed */
};

/* A u32 field named what; 0 once the reader has failed. */
uint32_t signer_rbuf_u32(struct signer_rbuf *r, const char *what);

/* A length-prefixed field of at most max bytes; points into the body. */
const uint8_t *signer_rbuf_bytes(struct signer_rbuf *r, size_t max, size_t *len, const char *what);

/* A string field of at most max bytes without NUL, copied into a fresh NUL-terminated buffer
 * (free with signer_rbuf_str_free, which wipes it). */
char *signer_rbuf_str(struct signer_rbuf *r, size_t max, const char *what);

/* Wipes and frees a string from signer_rbuf_str. NULL is a no-op. */
void signer_rbuf_str_free(char *s);

/* Fails unless every field was read and nothing follows (ERROR_INVALID_DATA naming msg and the
 * field). */
int signer_rbuf_end(struct signer_rbuf *r, const char *msg, struct pp_error *err);

/* Whether s is a thumbprint as the signer names keys: 40 upper-case hex digits. */
bool signer_is_thumbprint(const char *s);

/* ---- framing: messages as SEQPACKET records ---- */

/* One received message. */
struct signer_msg {
	uint16_t type;
	uint8_t *body; /* NULL when len is 0 */
	size_t len;
};

/* Wipes and frees the body and resets m to {0}. */
void signer_msg_release(struct signer_msg *m);

/* Sends a message of type with body[0..len) as records of at most SIGNER_FRAGMENT_MAX bytes. */
int signer_msg_send(int fd, uint16_t type, const uint8_t *body, size_t len, struct pp_error *err);

/* Receives one message, waiting up to timeout_ms for each record (-1 = forever). Returns 0 with
 * m filled; 1 when a malformed message was consumed (err says why; the connection stays usable);
 * -1 on EOF, timeout or socket error. */
int signer_msg_recv(int fd, int timeout_ms, struct signer_msg *m, struct pp_error *err);

/* Sends e as an ERROR message (HRESULT, message). */
int signer_msg_send_error(int fd, const struct pp_error *e);

/* Parses an ERROR message into err. */
void signer_msg_read_error(const struct signer_msg *m, struct pp_error *err);

/* ---- the child (signer_child.c) ---- */

/* The forked child's life: serves requests for dir on sock until EOF, then _exit. parent is the
 * pid that forked it (the child exits at once when its parent already changed). */
void signer_child_main(int sock, const char *dir, pid_t parent) __attribute__((noreturn));

#endif
