/* signer_wire.c - the signer's wire format (signer.h, docs/internals/signer.md): the writer and
 * reader of message bodies, each field bounded; messages as fragmented SEQPACKET records; and the
 * ERROR message, which answers any request. Both sides use it: the child (signer_child.c) and the
 * client (signer.c). Bodies and records are wiped before they are freed (they carry passwords). */
#include "signer.h"
#include "signer_internal.h"

#include "byteorder.h"
#include "hresult.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/crypto.h>

/* ---- message bodies: writer and reader ---- */

void signer_wbuf_free(struct signer_wbuf *w)
{
	if (w->p != NULL)
		OPENSSL_clear_free(w->p, w->cap);
	*w = (struct signer_wbuf){0};
}

void signer_wbuf_put(struct signer_wbuf *w, const void *data, size_t len)
{
	size_t cap;
	uint8_t *p;

	if (w->failed)
		return;
	if (len > SIGNER_MAX_BODY - w->len) {
		w->failed = true;
		return;
	}
	if (w->len + len > w->cap) {
		cap = w->cap == 0 ? 256 : w->cap;
		while (cap < w->len + len)
			cap *= 2;
		/* Grow by copy so that no secret is left behind in a realloc'd block. */
		p = OPENSSL_zalloc(cap);
		if (p == NULL) {
			w->failed = true;
			return;
		}
		if (w->p != NULL) {
			memcpy(p, w->p, w->len);
			OPENSSL_clear_free(w->p, w->cap);
		}
		w->p = p;
		w->cap = cap;
	}
	if (len > 0)
		memcpy(w->p + w->len, data, len);
	w->len += len;
}

void signer_wbuf_u32(struct signer_wbuf *w, uint32_t v)
{
	uint8_t b[4];

	le32_put(b, v);
	signer_wbuf_put(w, b, sizeof(b));
}

void signer_wbuf_bytes(struct signer_wbuf *w, const void *data, size_t len)
{
	if (len > UINT32_MAX) {
		w->failed = true;
		return;
	}
	signer_wbuf_u32(w, (uint32_t)len);
	signer_wbuf_put(w, data, len);
}

void signer_wbuf_str(struct signer_wbuf *w, const char *s)
{
	signer_wbuf_bytes(w, s != NULL ? s : "", s != NULL ? strlen(s) : 0);
}

uint32_t signer_rbuf_u32(struct signer_rbuf *r, const char *what)
{
	uint32_t v;

	if (r->failed || r->len - r->off < 4) {
		if (!r->failed)
			r->what = what;
		r->failed = true;
		return 0;
	}
	v = le32_get(r->p + r->off);
	r->off += 4;
	return v;
}

const uint8_t *signer_rbuf_bytes(struct signer_rbuf *r, size_t max, size_t *len, const char *what)
{
	const uint8_t *p;
	uint32_t n = signer_rbuf_u32(r, what);

	*len = 0;
	if (r->failed || n > max || n > r->len - r->off) {
		if (!r->failed)
			r->what = what;
		r->failed = true;
		return NULL;
	}
	p = r->p + r->off;
	r->off += n;
	*len = n;
	return p;
}

char *signer_rbuf_str(struct signer_rbuf *r, size_t max, const char *what)
{
	const uint8_t *p;
	size_t n;
	char *s;

	p = signer_rbuf_bytes(r, max, &n, what);
	if (r->failed)
		return NULL;
	if (p != NULL && n > 0 && memchr(p, '\0', n) != NULL) {
		r->what = what;
		r->failed = true;
		return NULL;
	}
	s = OPENSSL_zalloc(n + 1);
	if (s == NULL) {
		r->what = what;
		r->failed = true;
		return NULL;
	}
	if (p != NULL && n > 0)
		memcpy(s, p, n);
	return s;
}

void signer_rbuf_str_free(char *s)
{
	if (s != NULL)
		OPENSSL_clear_free(s, strlen(s) + 1);
}

int signer_rbuf_end(struct signer_rbuf *r, const char *msg, struct pp_error *err)
{
	if (!r->failed && r->off == r->len)
		return 0;
	if (r->failed)
		pp_error_set(err, HR_ERROR_INVALID_DATA,
			     "malformed %s message: field \"%s\" is "
			     "missing, too long or invalid",
			     msg, r->what != NULL ? r->what : "?");
	else
		pp_error_set(err, HR_ERROR_INVALID_DATA,
			     "malformed %s message: %zu unexpected bytes after the last field", msg,
			     r->len - r->off);
	return -1;
}

bool signer_is_thumbprint(const char *s)
{
	size_t i;

	if (s == NULL || strlen(s) != PKI_THUMBPRINT_LEN)
		return false;
	for (i = 0; i < PKI_THUMBPRINT_LEN; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A' && s[i] <= 'F')))
			return false;
	return true;
}

/* ---- framing: messages as SEQPACKET records ---- */

int signer_msg_send(int fd, uint16_t type, const uint8_t *body, size_t len, struct pp_error *err)
{
	uint8_t *rec;
	size_t off = 0, n;
	ssize_t sent;
	int rc = -1;

	if (len > SIGNER_MAX_BODY) {
		pp_error_set(err, HR_ERROR_FILE_TOO_LARGE,
			     "signer message of %zu bytes is over the %u-byte limit", len,
			     SIGNER_MAX_BODY);
		return -1;
	}
	rec = OPENSSL_malloc(SIGNER_HEADER_SIZE + SIGNER_FRAGMENT_MAX);
	if (rec == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory sending a signer message");
		return -1;
	}
	do {
		n = len - off < SIGNER_FRAGMENT_MAX ? len - off : SIGNER_FRAGMENT_MAX;
		le32_put(rec, SIGNER_MAGIC);
		le16_put(rec + 4, type);
		le16_put(rec + 6, off + n == len ? SIGNER_FLAG_LAST : 0);
		le32_put(rec + 8, (uint32_t)len);
		le32_put(rec + 12, (uint32_t)off);
		if (n > 0)
			memcpy(rec + SIGNER_HEADER_SIZE, body + off, n);
		do
			sent = send(fd, rec, SIGNER_HEADER_SIZE + n, MSG_NOSIGNAL);
		while (sent < 0 && errno == EINTR);
		if (sent < 0) {
			pp_error_set_errno(err, errno, "cannot send to the signer socket");
			goto out;
		}
		off += n;
	} while (off < len);
	rc = 0;
out:
	OPENSSL_clear_free(rec, SIGNER_HEADER_SIZE + SIGNER_FRAGMENT_MAX);
	return rc;
}

/* Waits up to timeout_ms (-1 = forever) for a record. 0 ready, -1 timeout or error. */
static int wait_readable(int fd, int timeout_ms, struct pp_error *err)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	int n;

	do
		n = poll(&pfd, 1, timeout_ms);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		pp_error_set_errno(err, errno, "cannot wait for the signer socket");
		return -1;
	}
	if (n == 0) {
		pp_error_set(err, HR_E_FAIL, "the signer did not answer within %d seconds",
			     timeout_ms / 1000);
		return -1;
	}
	return 0;
}

void signer_msg_release(struct signer_msg *m)
{
	if (m->body != NULL)
		OPENSSL_clear_free(m->body, m->len);
	*m = (struct signer_msg){0};
}

int signer_msg_recv(int fd, int timeout_ms, struct signer_msg *m, struct pp_error *err)
{
	const size_t rec_max = SIGNER_HEADER_SIZE + SIGNER_FRAGMENT_MAX;
	uint8_t *rec;
	const char *bad = NULL;
	size_t got = 0, n;
	uint32_t total = 0, offset;
	uint16_t type = 0, flags;
	bool first = true, last = false;
	ssize_t r;
	int rc = -1;

	*m = (struct signer_msg){0};
	rec = OPENSSL_malloc(rec_max);
	if (rec == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory receiving a signer message");
		return -1;
	}
	while (!last) {
		if (timeout_ms >= 0 && wait_readable(fd, timeout_ms, err) != 0)
			goto out;
		do
			r = recv(fd, rec, rec_max, MSG_TRUNC);
		while (r < 0 && errno == EINTR);
		if (r < 0) {
			pp_error_set_errno(err, errno, "cannot read the signer socket");
			goto out;
		}
		if (r == 0) {
			pp_error_set(err, HR_ERROR_HANDLE_EOF, "the signer connection was closed");
			goto out;
		}
		if ((size_t)r < SIGNER_HEADER_SIZE || le32_get(rec) != SIGNER_MAGIC) {
			/* Nothing tells where such a message ends: it is one message by itself. */
			if (bad == NULL)
				bad = (size_t)r < SIGNER_HEADER_SIZE
					  ? "record shorter than its header"
					  : "bad magic";
			break;
		}
		flags = le16_get(rec + 6);
		last = (flags & SIGNER_FLAG_LAST) != 0;
		if (bad != NULL)
			continue; /* skipping the rest of a rejected message */
		if ((size_t)r > rec_max) {
			bad = "record longer than the fragment limit";
			continue;
		}
		n = (size_t)r - SIGNER_HEADER_SIZE;
		offset = le32_get(rec + 12);
		if (first) {
			type = le16_get(rec + 4);
			total = le32_get(rec + 8);
			first = false;
			if (total > SIGNER_MAX_BODY) {
				bad = "length over the message limit";
				continue;
			}
			if (total > 0) {
				m->body = OPENSSL_zalloc(total);
				if (m->body == NULL) {
					pp_error_set(err, HR_E_OUTOFMEMORY,
						     "out of memory receiving a signer message");
					goto out;
				}
				m->len = total;
			}
		}
		if (le16_get(rec + 4) != type || le32_get(rec + 8) != total || offset != got ||
		    n > total - got) {
			bad = "records that do not continue the message";
			continue;
		}
		if (n > 0)
			memcpy(m->body + got, rec + SIGNER_HEADER_SIZE, n);
		got += n;
		if (last && got != total)
			bad = "message shorter than its length (truncated)";
	}
	if (bad != NULL) {
		signer_msg_release(m);
		pp_error_set(err, HR_ERROR_INVALID_DATA, "malformed signer message: %s", bad);
		rc = 1;
		goto out;
	}
	m->type = type;
	rc = 0;
out:
	OPENSSL_clear_free(rec, rec_max);
	if (rc < 0)
		signer_msg_release(m);
	return rc;
}

int signer_msg_send_error(int fd, const struct pp_error *e)
{
	struct signer_wbuf w = {0};
	struct pp_error ignored;
	int rc;

	signer_wbuf_u32(&w, e->code != 0 ? e->code : HR_E_FAIL);
	signer_wbuf_str(&w, e->message);
	rc = w.failed ? -1 : signer_msg_send(fd, SIGNER_MSG_ERROR, w.p, w.len, &ignored);
	signer_wbuf_free(&w);
	return rc;
}

void signer_msg_read_error(const struct signer_msg *m, struct pp_error *err)
{
	struct signer_rbuf r = {.p = m->body, .len = m->len};
	uint32_t code = signer_rbuf_u32(&r, "code");
	char *msg = signer_rbuf_str(&r, PP_ERROR_MESSAGE_MAX, "message");

	if (r.failed || r.off != r.len || (code & 0x80000000u) == 0)
		pp_error_set(err, HR_ERROR_INVALID_DATA, "the signer sent a malformed error");
	else
		pp_error_set(err, code, "%s", msg);
	signer_rbuf_str_free(msg);
}
