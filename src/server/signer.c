/* signer.c - the client of the signer process, in the parent (signer.h,
 * docs/internals/signer.md): starting and stopping the child, and one function per request that
 * builds its body, waits for the reply and checks everything in it. The child is in
 * signer_child.c, the wire format both sides speak in signer_wire.c. */
#include "signer.h"
#include "signer_internal.h"

#include "hresult.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/objects.h>

#define SIGNER_REPLY_TIMEOUT (300 * 1000) /* ms; RSA 4096 generation under sanitizers is slow */
#define SIGNER_READY_TIMEOUT (60 * 1000)
#define SIGNER_STOP_WAIT_MS  5000

struct signer {
	int fd;
	pid_t pid;
	bool broken; /* a reply went missing or was malformed: no further request is safe */
	pthread_mutex_t lock;
};

static void free_handle(struct signer *s)
{
	pthread_mutex_destroy(&s->lock);
	free(s);
}

int signer_start(const char *key_dir, struct signer **out, struct pp_error *err)
{
	struct signer *s = NULL;
	struct signer_msg m = {0};
	pid_t parent = getpid();
	int sv[2] = {-1, -1};
	int rc = -1;

	*out = NULL;
	if (key_dir == NULL || key_dir[0] == '\0' || strlen(key_dir) > PATH_MAX - 64) {
		pp_error_set(err, HR_E_INVALIDARG, "the key directory path is empty or too long");
		return -1;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL || pthread_mutex_init(&s->lock, NULL) != 0) {
		free(s);
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory starting the signer");
		return -1;
	}
	s->fd = -1;
	s->pid = -1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
		pp_error_set_errno(err, errno, "cannot create the signer socketpair");
		goto out;
	}
	s->pid = fork();
	if (s->pid < 0) {
		pp_error_set_errno(err, errno, "cannot fork the signer");
		goto out;
	}
	if (s->pid == 0) {
		close(sv[0]);
		signer_child_main(sv[1], key_dir, parent);
	}
	close(sv[1]);
	sv[1] = -1;
	s->fd = sv[0];
	sv[0] = -1;
	if (signer_msg_recv(s->fd, SIGNER_READY_TIMEOUT, &m, err) != 0)
		goto out;
	if (m.type == SIGNER_MSG_ERROR) {
		signer_msg_read_error(&m, err);
		goto out;
	}
	if (m.type != SIGNER_MSG_READY || m.len != 0) {
		pp_error_set(err, HR_ERROR_INVALID_DATA, "the signer did not report ready");
		goto out;
	}
	*out = s;
	s = NULL;
	rc = 0;
out:
	signer_msg_release(&m);
	if (sv[0] >= 0)
		close(sv[0]);
	if (sv[1] >= 0)
		close(sv[1]);
	signer_stop(s);
	return rc;
}

void signer_stop(struct signer *s)
{
	struct timespec ts = {.tv_sec = 0, .tv_nsec = 10 * 1000 * 1000};
	int status, waited = 0;
	pid_t r;

	if (s == NULL)
		return;
	if (s->fd >= 0)
		close(s->fd);
	if (s->pid > 0) {
		for (;;) {
			r = waitpid(s->pid, &status, WNOHANG);
			if (r == s->pid || (r < 0 && errno != EINTR))
				break;
			if (waited >= SIGNER_STOP_WAIT_MS) {
				kill(s->pid, SIGKILL);
				while (waitpid(s->pid, &status, 0) < 0 && errno == EINTR)
					;
				break;
			}
			nanosleep(&ts, NULL);
			waited += 10;
		}
	}
	free_handle(s);
}

pid_t signer_pid(const struct signer *s)
{
	return s->pid;
}

int signer_fd(const struct signer *s)
{
	return s->fd;
}

/* Sends a request and waits for its reply (reply type request|REPLY, or an error). */
static int transact(struct signer *s, uint16_t type, const struct signer_wbuf *req,
		    struct signer_msg *reply, struct pp_error *err)
{
	int rc = -1, r;

	*reply = (struct signer_msg){0};
	if (req->failed) {
		pp_error_set(err, HR_E_INVALIDARG, "signer request over the %u-byte limit",
			     SIGNER_MAX_BODY);
		return -1;
	}
	pthread_mutex_lock(&s->lock);
	if (s->broken) {
		pp_error_set(err, HR_E_FAIL, "the signer connection failed earlier; restart it");
		goto out;
	}
	if (signer_msg_send(s->fd, type, req->p, req->len, err) != 0) {
		s->broken = true;
		goto out;
	}
	r = signer_msg_recv(s->fd, SIGNER_REPLY_TIMEOUT, reply, err);
	if (r != 0) {
		s->broken = true;
		goto out;
	}
	if (reply->type == SIGNER_MSG_ERROR) {
		signer_msg_read_error(reply, err);
		signer_msg_release(reply);
		goto out;
	}
	if (reply->type != (type | SIGNER_MSG_REPLY)) {
		pp_error_set(err, HR_ERROR_INVALID_DATA,
			     "the signer answered type 0x%04x to a request of type %u",
			     (unsigned)reply->type, (unsigned)type);
		s->broken = true;
		signer_msg_release(reply);
		goto out;
	}
	rc = 0;
out:
	pthread_mutex_unlock(&s->lock);
	return rc;
}

void signer_cert_release(struct signer_cert *c)
{
	if (c == NULL)
		return;
	X509_free(c->cert);
	OPENSSL_free(c->der);
	sk_X509_pop_free(c->chain, X509_free);
	memset(c, 0, sizeof(*c));
}

void signer_certs_free(struct signer_cert *certs, size_t n)
{
	size_t i;

	if (certs == NULL)
		return;
	for (i = 0; i < n; i++)
		signer_cert_release(&certs[i]);
	free(certs);
}

static X509 *der_to_x509(const uint8_t *der, size_t len)
{
	const unsigned char *p = der;
	X509 *x;

	if (der == NULL || len == 0 || len > SIGNER_CERT_MAX)
		return NULL;
	x = d2i_X509(NULL, &p, (long)len);
	if (x != NULL && p != der + len) {
		X509_free(x);
		x = NULL;
	}
	return x;
}

/* Reads one entry of a GENERATE, IMPORT or LIST reply, checking the thumbprint against the
 * certificate it names. */
static int parse_entry(struct signer_rbuf *r, struct signer_cert *out, struct pp_error *err)
{
	char tp[PKI_THUMBPRINT_LEN + 1];
	const uint8_t *der;
	size_t len;
	char *thumb;
	uint32_t flags, count, i;
	X509 *x;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	thumb = signer_rbuf_str(r, PKI_THUMBPRINT_LEN, "thumbprint");
	flags = signer_rbuf_u32(r, "flags");
	der = signer_rbuf_bytes(r, SIGNER_CERT_MAX, &len, "certificate");
	out->chain = sk_X509_new_null();
	if (r->failed || out->chain == NULL || !signer_is_thumbprint(thumb))
		goto bad;
	out->cert = der_to_x509(der, len);
	out->der = OPENSSL_memdup(der, len);
	if (out->cert == NULL || out->der == NULL || pki_thumbprint(out->cert, tp) != 0 ||
	    strcmp(tp, thumb) != 0)
		goto bad;
	out->der_len = len;
	memcpy(out->thumbprint, thumb, sizeof(out->thumbprint));
	out->exportable = (flags & SIGNER_ENTRY_EXPORT) != 0;
	out->has_key = (flags & SIGNER_ENTRY_HAS_KEY) != 0;
	count = signer_rbuf_u32(r, "chain count");
	if (r->failed || count > SIGNER_LIST_MAX)
		goto bad;
	for (i = 0; i < count; i++) {
		der = signer_rbuf_bytes(r, SIGNER_CERT_MAX, &len, "chain certificate");
		x = der_to_x509(der, len);
		if (x == NULL)
			goto bad;
		if (sk_X509_push(out->chain, x) <= 0) {
			X509_free(x);
			goto bad;
		}
	}
	rc = 0;
	goto out;
bad:
	pp_error_set(err, HR_ERROR_INVALID_DATA, "the signer sent a malformed certificate entry");
out:
	ERR_clear_error();
	if (rc != 0)
		signer_cert_release(out);
	signer_rbuf_str_free(thumb);
	return rc;
}

static int reply_entry(const struct signer_msg *m, struct signer_cert *out, struct pp_error *err)
{
	struct signer_rbuf r = {.p = m->body, .len = m->len};

	if (parse_entry(&r, out, err) != 0)
		return -1;
	if (signer_rbuf_end(&r, "reply", err) != 0) {
		signer_cert_release(out);
		return -1;
	}
	return 0;
}

int signer_generate(struct signer *s, const struct signer_generate_options *opts,
		    struct signer_cert *out, struct pp_error *err)
{
	struct signer_wbuf w = {0};
	struct signer_msg m = {0};
	int rc = -1;

	memset(out, 0, sizeof(*out));
	signer_wbuf_str(&w, opts->subject);
	signer_wbuf_u32(&w, opts->days > 0 ? (uint32_t)opts->days : PKI_DEFAULT_DAYS_PUBLISHER);
	signer_wbuf_u32(&w, opts->bits > 0 ? (uint32_t)opts->bits : 2048u);
	signer_wbuf_u32(&w, opts->exportable ? SIGNER_GEN_EXPORTABLE : 0);
	if (transact(s, SIGNER_MSG_GENERATE, &w, &m, err) != 0)
		goto out;
	rc = reply_entry(&m, out, err);
out:
	signer_msg_release(&m);
	signer_wbuf_free(&w);
	return rc;
}

int signer_import_pfx(struct signer *s, const uint8_t *pfx, size_t pfx_len, const char *password,
		      bool exportable, struct signer_cert *out, struct pp_error *err)
{
	struct signer_wbuf w = {0};
	struct signer_msg m = {0};
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (pfx_len > SIGNER_PFX_MAX ||
	    (password != NULL && strlen(password) > SIGNER_PASSWORD_MAX)) {
		pp_error_set(err, HR_ERROR_FILE_TOO_LARGE,
			     "the PFX is over %u bytes or its password over %u", SIGNER_PFX_MAX,
			     SIGNER_PASSWORD_MAX);
		return -1;
	}
	signer_wbuf_bytes(&w, pfx, pfx_len);
	signer_wbuf_str(&w, password);
	signer_wbuf_u32(&w, exportable ? SIGNER_GEN_EXPORTABLE : 0);
	if (transact(s, SIGNER_MSG_IMPORT_PFX, &w, &m, err) != 0)
		goto out;
	rc = reply_entry(&m, out, err);
out:
	signer_msg_release(&m);
	signer_wbuf_free(&w);
	return rc;
}

int signer_sign(void *ctx, const EVP_MD *md, const uint8_t *hash, size_t hash_len, uint8_t *sig,
		size_t *sig_len, struct pp_error *err)
{
	const struct signer_key *k = ctx;
	const uint8_t *p;
	struct signer_wbuf w = {0};
	struct signer_msg m = {0};
	struct signer_rbuf r;
	const char *name;
	size_t n;
	int rc = -1;

	if (k == NULL || k->signer == NULL || md == NULL || hash == NULL || sig == NULL ||
	    sig_len == NULL) {
		pp_error_set(err, HR_E_INVALIDARG,
			     "signer_sign needs a key, a digest and a buffer");
		return -1;
	}
	name = OBJ_nid2sn(EVP_MD_get_type(md));
	signer_wbuf_str(&w, k->thumbprint);
	signer_wbuf_str(&w, name);
	signer_wbuf_bytes(&w, hash, hash_len);
	if (transact(k->signer, SIGNER_MSG_SIGN, &w, &m, err) != 0)
		goto out;
	r = (struct signer_rbuf){.p = m.body, .len = m.len};
	p = signer_rbuf_bytes(&r, SIGNER_SIG_MAX, &n, "signature");
	if (signer_rbuf_end(&r, "SIGN reply", err) != 0)
		goto out;
	if (n == 0 || n > *sig_len) {
		pp_error_set(err, HR_ERROR_INVALID_DATA,
			     "the signature of %zu bytes does not fit the %zu-byte buffer", n,
			     *sig_len);
		goto out;
	}
	memcpy(sig, p, n);
	*sig_len = n;
	rc = 0;
out:
	signer_msg_release(&m);
	signer_wbuf_free(&w);
	return rc;
}

int signer_list(struct signer *s, struct signer_cert **certs, size_t *count, struct pp_error *err)
{
	struct signer_cert *arr = NULL;
	struct signer_wbuf w = {0};
	struct signer_msg m = {0};
	struct signer_rbuf r;
	uint32_t n, i = 0;
	int rc = -1;

	*certs = NULL;
	*count = 0;
	if (transact(s, SIGNER_MSG_LIST, &w, &m, err) != 0)
		goto out;
	r = (struct signer_rbuf){.p = m.body, .len = m.len};
	n = signer_rbuf_u32(&r, "count");
	if (r.failed || n > SIGNER_LIST_MAX) {
		pp_error_set(err, HR_ERROR_INVALID_DATA, "the signer sent a malformed list");
		goto out;
	}
	arr = calloc(n > 0 ? n : 1, sizeof(*arr));
	if (arr == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory listing certificates");
		goto out;
	}
	for (i = 0; i < n; i++)
		if (parse_entry(&r, &arr[i], err) != 0)
			goto out;
	if (signer_rbuf_end(&r, "LIST reply", err) != 0)
		goto out;
	*certs = arr;
	*count = n;
	arr = NULL;
	rc = 0;
out:
	signer_certs_free(arr, i);
	signer_msg_release(&m);
	return rc;
}

int signer_delete(struct signer *s, const char *thumbprint, struct pp_error *err)
{
	struct signer_wbuf w = {0};
	struct signer_msg m = {0};
	int rc = -1;

	signer_wbuf_str(&w, thumbprint);
	if (transact(s, SIGNER_MSG_DELETE, &w, &m, err) != 0)
		goto out;
	if (m.len != 0) {
		pp_error_set(err, HR_ERROR_INVALID_DATA, "the signer sent a malformed reply");
		goto out;
	}
	rc = 0;
out:
	signer_msg_release(&m);
	signer_wbuf_free(&w);
	return rc;
}

int signer_export_pfx(struct signer *s, const char *thumbprint, const char *password, uint8_t **pfx,
		      size_t *pfx_len, struct pp_error *err)
{
	struct signer_wbuf w = {0};
	struct signer_msg m = {0};
	const uint8_t *p;
	struct signer_rbuf r;
	size_t n;
	int rc = -1;

	*pfx = NULL;
	*pfx_len = 0;
	signer_wbuf_str(&w, thumbprint);
	signer_wbuf_str(&w, password);
	if (transact(s, SIGNER_MSG_EXPORT_PFX, &w, &m, err) != 0)
		goto out;
	r = (struct signer_rbuf){.p = m.body, .len = m.len};
	p = signer_rbuf_bytes(&r, SIGNER_PFX_MAX, &n, "pfx");
	if (signer_rbuf_end(&r, "EXPORT_PFX reply", err) != 0)
		goto out;
	*pfx = OPENSSL_memdup(p, n);
	if (*pfx == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory receiving the PFX");
		goto out;
	}
	*pfx_len = n;
	rc = 0;
out:
	signer_msg_release(&m);
	signer_wbuf_free(&w);
	return rc;
}
