/* fuzz_signer_wire.c - libFuzzer target for the signer's wire format (signer.h,
 * signer_internal.h, docs/internals/signer.md): the reassembly of SEQPACKET records into
 * messages (signer_wire.c), the body reader, and the parent's parsers of the child's replies
 * (signer.c).
 *
 * Input: SEQPACKET records back to back, exactly as they travel on the socket. A record runs from
 * one occurrence of the magic ("PPSG", SIGNER_MAGIC little-endian) to just before the next one or
 * the end of the input; bytes before the first magic form a record of their own (bad magic, or
 * shorter than a header). Nothing else is interpreted, so headers may say anything: wrong types,
 * lengths, offsets and flags, records over SIGNER_FRAGMENT_MAX. A record is cut at
 * RECORD_MAX bytes.
 *
 * The records are sent into one end of a socketpair, which is then shut down (by a writer thread
 * when they do not all fit in the socket at once); messages are received on the other end with
 * signer_msg_recv, waiting for each record, until EOF. Each message received is then
 *   - read field by field with the signer_rbuf_* functions in the order of the request of its type
 *     (GENERATE, IMPORT_PFX, SIGN, DELETE, EXPORT_PFX, LIST), as the child does before acting on
 *     it, and ended with signer_rbuf_end;
 *   - for an ERROR message, parsed by signer_msg_read_error;
 *   - for a reply type (request | SIGNER_MSG_REPLY), sent with signer_msg_send as the reply to
 *     the matching client call of a real signer handle (signer_list, signer_generate,
 *     signer_import_pfx, signer_sign, signer_delete, signer_export_pfx), which parses it.
 * The handle is started once, with a signer child on a temporary key directory; its socket is
 * then replaced for every reply (dup2 over signer_fd) by a fresh socketpair whose other end this
 * target holds, so the child is gone and every reply comes from the input.
 *
 * The child's request handlers (child_generate, child_import, ...) are static and run only in the
 * forked child, after the field reading mirrored here; they are out of reach of this target.
 *
 * Seed corpus (scripts/fuzz.sh): one-record messages written with printf, e.g. an empty LIST
 * reply (type 0x8005, flags LAST, length 4, offset 0, body u32 0):
 *   printf 'PPSG\x05\x80\x01\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00' > list0
 */
#include "signer.h"
#include "signer_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Longer records than this are cut: enough to pass SIGNER_FRAGMENT_MAX, within the socket's
 * send buffer. */
#define RECORD_MAX (SIGNER_HEADER_SIZE + SIGNER_FRAGMENT_MAX + 1024u)
/* Replies up to this size are sent before the client call: two records fit in the socket. */
#define REPLY_SYNC_MAX (2u * SIGNER_FRAGMENT_MAX)
/* signer_child.c's bound of the SIGN request's digest name (not exported). */
#define MIRROR_MD_NAME_MAX 32u
/* The signature buffer handed to signer_sign: an RSA-2048 signature fits, a longer one does not. */
#define SIG_BUFFER 256u

static const uint8_t magic[4] = {0x50, 0x50, 0x53, 0x47}; /* SIGNER_MAGIC, little-endian */

static struct signer *handle; /* its child has exited; the socket is replaced per reply */
static int devnull = -1;      /* what the handle's socket is parked on between replies */

/* ---- records in ---- */

struct writer {
	int fd;
	const uint8_t *data;
	size_t size;
	size_t off; /* the next record */
};

/* Where the record starting at off ends: at the next magic after off, or at the end. */
static size_t record_end(const uint8_t *data, size_t size, size_t off)
{
	size_t i;

	for (i = off + 1; i + sizeof(magic) <= size; i++)
		if (memcmp(data + i, magic, sizeof(magic)) == 0)
			return i;
	return size;
}

/* Sends the records from w->off on (flags 0: blocking) and shuts the socket down once all are
 * sent. Returns 1 when a non-blocking send found the socket full (w->off is that record), else
 * 0. */
static int send_records(struct writer *w, int flags)
{
	size_t end, n;

	while (w->off < w->size) {
		end = record_end(w->data, w->size, w->off);
		n = end - w->off < RECORD_MAX ? end - w->off : RECORD_MAX;
		if (send(w->fd, w->data + w->off, n, MSG_NOSIGNAL | flags) < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 1;
			break; /* the reader has gone */
		}
		w->off = end;
	}
	shutdown(w->fd, SHUT_WR);
	return 0;
}

static void *write_records(void *arg)
{
	(void)send_records(arg, 0);
	return NULL;
}

/* ---- requests: the fields the child reads, in its order ---- */

static void check_str(const char *s, size_t max)
{
	if (s != NULL && strlen(s) > max)
		abort();
}

static void check_reader(struct signer_rbuf *r, const char *msg)
{
	struct pp_error err;
	int rc;

	if (r->off > r->len || (r->failed && r->what == NULL))
		abort();
	pp_error_clear(&err);
	rc = signer_rbuf_end(r, msg, &err);
	if ((rc == 0) != (!r->failed && r->off == r->len) || (rc != 0 && err.code == 0))
		abort();
}

/* A string field of at most max bytes; checked, and whether it names a key. */
static void read_str(struct signer_rbuf *r, size_t max, const char *what)
{
	char *s = signer_rbuf_str(r, max, what);

	check_str(s, max);
	if ((s == NULL) != r->failed)
		abort();
	(void)signer_is_thumbprint(s);
	signer_rbuf_str_free(s);
}

static void read_bytes(struct signer_rbuf *r, size_t max, const char *what)
{
	const uint8_t *p;
	size_t len;

	p = signer_rbuf_bytes(r, max, &len, what);
	if (len > max || (p == NULL && len != 0) || (r->failed && (p != NULL || len != 0)))
		abort();
	if (len > 0 && (p < r->p || p + len > r->p + r->off))
		abort(); /* the field lies inside the part of the body already read */
}

static void decode_request(const struct signer_msg *m)
{
	struct signer_rbuf r = {.p = m->body, .len = m->len};

	switch (m->type) {
	case SIGNER_MSG_GENERATE:
		read_str(&r, SIGNER_SUBJECT_MAX, "subject");
		(void)signer_rbuf_u32(&r, "days");
		(void)signer_rbuf_u32(&r, "bits");
		(void)signer_rbuf_u32(&r, "flags");
		check_reader(&r, "GENERATE");
		break;
	case SIGNER_MSG_IMPORT_PFX:
		read_bytes(&r, SIGNER_PFX_MAX, "pfx");
		read_str(&r, SIGNER_PASSWORD_MAX, "password");
		(void)signer_rbuf_u32(&r, "flags");
		check_reader(&r, "IMPORT_PFX");
		break;
	case SIGNER_MSG_SIGN:
		read_str(&r, PKI_THUMBPRINT_LEN, "thumbprint");
		read_str(&r, MIRROR_MD_NAME_MAX, "md");
		read_bytes(&r, EVP_MAX_MD_SIZE, "hash");
		check_reader(&r, "SIGN");
		break;
	case SIGNER_MSG_LIST:
		check_reader(&r, "LIST");
		break;
	case SIGNER_MSG_DELETE:
		read_str(&r, PKI_THUMBPRINT_LEN, "thumbprint");
		check_reader(&r, "DELETE");
		break;
	case SIGNER_MSG_EXPORT_PFX:
		read_str(&r, PKI_THUMBPRINT_LEN, "thumbprint");
		read_str(&r, SIGNER_PASSWORD_MAX, "password");
		check_reader(&r, "EXPORT_PFX");
		break;
	default:
		break;
	}
}

/* ---- replies: parsed by the client of a real handle ---- */

struct replier {
	int fd;
	uint16_t type;
	const struct signer_msg *m;
};

static void *send_reply(void *arg)
{
	const struct replier *rp = arg;
	struct pp_error err;

	pp_error_clear(&err);
	(void)signer_msg_send(rp->fd, rp->type, rp->m->body, rp->m->len, &err);
	return NULL;
}

/* Calls the client function that sends request type and parses m as its reply. Returns its
 * result. */
static int call_client(uint16_t type, struct pp_error *err)
{
	static const char thumb[] = "0123456789ABCDEF0123456789ABCDEF01234567";
	struct signer_generate_options gen = {.subject = "CN=fuzz", .days = 1, .bits = 2048};
	struct signer_key key = {.signer = handle};
	struct signer_cert cert, *certs = NULL;
	uint8_t hash[32] = {0}, sig[SIG_BUFFER], *pfx = NULL;
	size_t i, count = 0, sig_len = sizeof(sig), pfx_len = 0;
	int rc = -1;

	memcpy(key.thumbprint, thumb, sizeof(thumb));
	switch (type) {
	case SIGNER_MSG_GENERATE:
	case SIGNER_MSG_IMPORT_PFX:
		rc = type == SIGNER_MSG_GENERATE
			 ? signer_generate(handle, &gen, &cert, err)
			 : signer_import_pfx(handle, hash, sizeof(hash), "pw", true, &cert, err);
		if (rc == 0) {
			if (cert.cert == NULL || cert.der == NULL || cert.chain == NULL ||
			    !signer_is_thumbprint(cert.thumbprint))
				abort();
			signer_cert_release(&cert);
		}
		break;
	case SIGNER_MSG_SIGN:
		rc = signer_sign(&key, EVP_sha256(), hash, sizeof(hash), sig, &sig_len, err);
		if (rc == 0 && (sig_len == 0 || sig_len > sizeof(sig)))
			abort();
		break;
	case SIGNER_MSG_LIST:
		rc = signer_list(handle, &certs, &count, err);
		if (rc == 0) {
			if (certs == NULL || count > SIGNER_LIST_MAX)
				abort();
			for (i = 0; i < count; i++)
				if (certs[i].cert == NULL || certs[i].chain == NULL ||
				    !signer_is_thumbprint(certs[i].thumbprint))
					abort();
			signer_certs_free(certs, count);
		}
		break;
	case SIGNER_MSG_DELETE:
		rc = signer_delete(handle, thumb, err);
		break;
	case SIGNER_MSG_EXPORT_PFX:
		rc = signer_export_pfx(handle, thumb, "pw", &pfx, &pfx_len, err);
		if (rc == 0 && pfx == NULL)
			abort();
		OPENSSL_clear_free(pfx, pfx_len);
		break;
	default:
		abort();
	}
	return rc;
}

static void decode_reply(const struct signer_msg *m)
{
	uint16_t request = (uint16_t)(m->type & ~SIGNER_MSG_REPLY);
	struct replier rp = {.type = m->type, .m = m};
	struct signer_msg req = {0};
	struct pp_error err, ignored;
	pthread_t t;
	int sv[2], hfd = signer_fd(handle), rc;

	if (request < SIGNER_MSG_GENERATE || request > SIGNER_MSG_EXPORT_PFX)
		return;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
		abort();
	if (dup2(sv[1], hfd) < 0)
		abort();
	close(sv[1]);
	rp.fd = sv[0];
	/* A small reply fits in the socket and is sent before the call; a larger one is sent by a
	 * thread while the client reads. */
	if (m->len <= REPLY_SYNC_MAX)
		(void)send_reply(&rp);
	else if (pthread_create(&t, NULL, send_reply, &rp) != 0)
		abort();
	pp_error_clear(&err);
	rc = call_client(request, &err);
	/* Park the handle's socket: a reply the client did not read no longer blocks the sender. */
	if (dup2(devnull, hfd) < 0)
		abort();
	if (m->len > REPLY_SYNC_MAX)
		pthread_join(t, NULL);
	if (rc != 0 && (err.code == 0 || strstr(err.message, "failed earlier") != NULL ||
			strstr(err.message, "did not answer") != NULL))
		abort(); /* the harness lost the handle: a reply must always be read */
	/* The client must have sent one well-formed request of its type. */
	pp_error_clear(&ignored);
	if (signer_msg_recv(sv[0], 0, &req, &ignored) != 0 || req.type != request)
		abort();
	signer_msg_release(&req);
	close(sv[0]);
}

static void decode_message(const struct signer_msg *m)
{
	struct pp_error err;

	if (m->len > SIGNER_MAX_BODY || (m->len > 0) != (m->body != NULL))
		abort();
	decode_request(m);
	if (m->type == SIGNER_MSG_ERROR) {
		pp_error_clear(&err);
		signer_msg_read_error(m, &err);
		if (err.code == 0)
			abort();
	} else if (m->type & SIGNER_MSG_REPLY) {
		decode_reply(m);
	}
}

/* ---- set-up ---- */

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	(void)remove(path);
	return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char dir[] = "/tmp/fuzz-signer.XXXXXX";
	struct pp_error err;
	int status;

	(void)argc;
	(void)argv;
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull < 0 || mkdtemp(dir) == NULL) {
		perror("fuzz_signer_wire: set-up");
		abort();
	}
	pp_error_clear(&err);
	if (signer_start(dir, &handle, &err) != 0) {
		fprintf(stderr, "fuzz_signer_wire: cannot start the signer: %s\n", err.message);
		abort();
	}
	/* The child exits on EOF once its socket is replaced; its key directory goes with it. */
	if (dup2(devnull, signer_fd(handle)) < 0)
		abort();
	while (waitpid(signer_pid(handle), &status, 0) < 0 && errno == EINTR)
		;
	(void)nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct writer w = {.data = data, .size = size};
	struct signer_msg m;
	struct pp_error err;
	bool threaded = false;
	pthread_t t;
	int sv[2], rc;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
		abort();
	w.fd = sv[0];
	/* Most inputs fit in the socket: send them all first, and leave only what does not fit to a
	 * writer thread. Either way the receiver waits for each record, so where messages end
	 * depends on the records alone. */
	if (send_records(&w, MSG_DONTWAIT) != 0) {
		if (pthread_create(&t, NULL, write_records, &w) != 0)
			abort();
		threaded = true;
	}
	for (;;) {
		pp_error_clear(&err);
		rc = signer_msg_recv(sv[1], -1, &m, &err);
		if (rc < 0)
			break; /* EOF: every record was read */
		if (rc > 0) {
			/* A malformed message was consumed: nothing is left of it. */
			if (m.body != NULL || m.len != 0 || err.code == 0)
				abort();
			continue;
		}
		decode_message(&m);
		signer_msg_release(&m);
	}
	if (m.body != NULL || m.len != 0)
		abort();
	close(sv[1]); /* a writer still sending gets EPIPE */
	if (threaded)
		pthread_join(t, NULL);
	close(sv[0]);
	ERR_clear_error();
	return 0;
}
