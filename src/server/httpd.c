/* httpd.c - the HTTP(S) server: SO_REUSEPORT listeners, one event loop per worker thread, TLS
 * through bufferevent_openssl, a route table and JSON helpers. See httpd.h and
 * docs/internals/httpd.md. */
#include "httpd.h"

#include "hresult.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#define LISTENER_PLAIN 0
#define LISTENER_TLS   1
#define LISTEN_BACKLOG 511
/* How long a stopping worker waits for requests in flight before it gives up on them. */
#define STOP_GRACE_SECONDS 30
#define STOP_POLL_USEC	   20000
#define LOG_LINE_MAX	   512

struct httpd_route_entry {
	enum evhttp_cmd_type method;
	char pattern[HTTPD_PATTERN_MAX];
	httpd_handler fn;
	void *ctx;
	unsigned flags;
};

struct httpd_worker {
	struct httpd *h;
	pthread_t thread;
	bool thread_started;
	struct event_base *base;
	struct evhttp *http[2];
	struct evhttp_bound_socket *bound[2];
	int stopfd; /* eventfd written by httpd_shutdown */
	struct event *stop_ev;
	struct event *drain_ev;
	unsigned inflight; /* handed to a handler or being written; touched only by this thread */
	bool stopping;
	time_t stop_deadline;
};

struct httpd {
	size_t max_body;
	int (*auth)(void *ctx, const char *token);
	void *auth_ctx;
	void (*log)(void *ctx, const char *line);
	void *log_ctx;
	bool log_success;
	SSL_CTX *ssl_ctx;
	int port[2];
	struct httpd_route_entry routes[HTTPD_MAX_ROUTES];
	size_t nroutes;
	struct httpd_worker *workers;
	unsigned nworkers;
	bool started;
	bool joined;
};

struct httpd_request {
	struct httpd_worker *w;
	struct evhttp_request *ev;
	const char *method;
	char path[HTTPD_PATTERN_MAX * 4];
	struct httpd_captures caps;
};

/* ---- pure parts ---- */

int httpd_parse_listen(const char *spec, struct sockaddr_storage *ss, socklen_t *len,
		       struct pp_error *err)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *port_s, *end;
	size_t hlen;
	unsigned long port;
	char *pend;
	int rc = -1;

	memset(ss, 0, sizeof(*ss));
	if (spec == NULL || *spec == '\0') {
		pp_error_set(err, HR_E_INVALIDARG, "empty listen address: use ADDR:PORT");
		goto out;
	}
	if (spec[0] == '[') {
		end = strchr(spec, ']');
		if (end == NULL || end[1] != ':') {
			pp_error_set(err, HR_E_INVALIDARG,
				     "listen address '%s': IPv6 form is [ADDR]:PORT", spec);
			goto out;
		}
		hlen = (size_t)(end - spec - 1);
		port_s = end + 2;
		if (hlen == 0 || hlen >= sizeof(host)) {
			pp_error_set(err, HR_E_INVALIDARG, "listen address '%s': bad IPv6 address",
				     spec);
			goto out;
		}
		memcpy(host, spec + 1, hlen);
		host[hlen] = '\0';
	} else {
		end = strrchr(spec, ':');
		if (end == NULL || memchr(spec, ':', (size_t)(end - spec)) != NULL) {
			pp_error_set(err, HR_E_INVALIDARG,
				     "listen address '%s': use ADDR:PORT (IPv6 as [ADDR]:PORT)",
				     spec);
			goto out;
		}
		hlen = (size_t)(end - spec);
		port_s = end + 1;
		if (hlen == 0 || hlen >= sizeof(host)) {
			pp_error_set(err, HR_E_INVALIDARG, "listen address '%s': bad IPv4 address",
				     spec);
			goto out;
		}
		memcpy(host, spec, hlen);
		host[hlen] = '\0';
	}
	if (*port_s < '0' || *port_s > '9' || strlen(port_s) > 5) {
		pp_error_set(err, HR_E_INVALIDARG, "listen address '%s': port must be 0-65535",
			     spec);
		goto out;
	}
	errno = 0;
	port = strtoul(port_s, &pend, 10);
	if (errno != 0 || *pend != '\0' || port > 65535) {
		pp_error_set(err, HR_E_INVALIDARG, "listen address '%s': port must be 0-65535",
			     spec);
		goto out;
	}
	if (spec[0] == '[') {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1) {
			pp_error_set(err, HR_E_INVALIDARG,
				     "listen address '%s': '%s' is not a numeric IPv6 address",
				     spec, host);
			goto out;
		}
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		if (inet_pton(AF_INET, host, &s4->sin_addr) != 1) {
			pp_error_set(err, HR_E_INVALIDARG,
				     "listen address '%s': '%s' is not a numeric IPv4 address",
				     spec, host);
			goto out;
		}
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		*len = sizeof(*s4);
	}
	rc = 0;
out:
	return rc;
}

/* Length of the segment at s (up to '/' or the end). */
static size_t segment_len(const char *s)
{
	const char *slash = strchr(s, '/');

	return slash != NULL ? (size_t)(slash - s) : strlen(s);
}

static bool segment_is_capture(const char *s, size_t n)
{
	return n >= 3 && s[0] == '{' && s[n - 1] == '}';
}

bool httpd_pattern_valid(const char *pattern)
{
	const char *p;
	size_t ncap = 0;

	if (pattern == NULL || pattern[0] != '/' || strlen(pattern) >= HTTPD_PATTERN_MAX)
		return false;
	p = pattern + 1;
	for (;;) {
		size_t n = segment_len(p), i;

		if (segment_is_capture(p, n)) {
			if (n - 2 >= HTTPD_CAPTURE_NAME_MAX || ++ncap > HTTPD_MAX_CAPTURES)
				return false;
			for (i = 1; i + 1 < n; i++)
				if (p[i] == '{' || p[i] == '}')
					return false;
		} else if (memchr(p, '{', n) != NULL || memchr(p, '}', n) != NULL) {
			return false;
		}
		if (p[n] == '\0')
			return true;
		p += n + 1;
	}
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decodes n bytes of s into out (size cap); false on bad escapes, '/', NUL or overflow. */
static bool decode_segment(const char *s, size_t n, char *out, size_t cap)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		int c = (unsigned char)s[i];

		if (c == '%') {
			int hi, lo;

			if (i + 2 >= n)
				return false;
			hi = hexval(s[i + 1]);
			lo = hexval(s[i + 2]);
			if (hi < 0 || lo < 0)
				return false;
			c = hi * 16 + lo;
			i += 2;
			if (c == 0 || c == '/')
				return false;
		}
		if (o + 1 >= cap)
			return false;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return o > 0;
}

bool httpd_pattern_match(const char *pattern, const char *path, struct httpd_captures *caps)
{
	const char *p = pattern, *q = path;

	caps->count = 0;
	if (p[0] != '/' || q[0] != '/')
		return false;
	p++;
	q++;
	for (;;) {
		size_t pn = segment_len(p), qn = segment_len(q);

		if (segment_is_capture(p, pn)) {
			size_t k = caps->count;

			if (k >= HTTPD_MAX_CAPTURES || pn - 2 >= HTTPD_CAPTURE_NAME_MAX)
				return false;
			if (!decode_segment(q, qn, caps->value[k], sizeof(caps->value[k])))
				return false;
			memcpy(caps->name[k], p + 1, pn - 2);
			caps->name[k][pn - 2] = '\0';
			caps->count = k + 1;
		} else if (pn != qn || memcmp(p, q, pn) != 0) {
			return false;
		}
		if (p[pn] == '\0' || q[qn] == '\0')
			return p[pn] == '\0' && q[qn] == '\0';
		p += pn + 1;
		q += qn + 1;
	}
}

char *httpd_error_json(const char *code, const char *message)
{
	json_t *doc;
	char *s;

	doc = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", message);
	if (doc == NULL)
		return NULL;
	s = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(doc);
	return s;
}

/* Digits at *p as a number, saturating at UINT64_MAX (a position past any file is still a
 * position); false when there is no digit. */
static bool range_number(const char **p, uint64_t *out)
{
	const char *s = *p;
	uint64_t v = 0;

	while (*s >= '0' && *s <= '9') {
		unsigned d = (unsigned)(*s - '0');

		v = v > (UINT64_MAX - d) / 10 ? UINT64_MAX : v * 10 + d;
		s++;
	}
	*out = v;
	if (s == *p)
		return false;
	*p = s;
	return true;
}

static const char *skip_ows(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

int httpd_parse_range(const char *header, off_t total, off_t *offset, off_t *length)
{
	const char *p;
	uint64_t first = 0, last = 0, size, n;
	bool has_first, has_last;

	if (header == NULL || total < 0)
		return -1;
	p = skip_ows(header);
	if (strncasecmp(p, "bytes=", 6) != 0)
		return -1;
	p = skip_ows(p + 6);
	has_first = range_number(&p, &first);
	if (*p != '-')
		return -1;
	p++;
	has_last = range_number(&p, &last);
	/* Anything left, a ',' of several ranges included, and we serve the whole file (RFC 9110
	 * 14.2 lets a server ignore Range). */
	if (*skip_ows(p) != '\0' || (!has_first && !has_last))
		return -1;
	size = (uint64_t)total;
	if (!has_first) {
		/* The last N bytes: none is unsatisfiable; more than the file is the file. An empty
		 * file has no 206 form for its whole self, so it is served with 200. */
		if (last == 0)
			return 1;
		if (size == 0)
			return -1;
		n = last < size ? last : size;
		*offset = (off_t)(size - n);
		*length = (off_t)n;
		return 0;
	}
	if (has_last && last < first)
		return -1;
	if (first >= size)
		return 1;
	if (!has_last || last >= size)
		last = size - 1;
	*offset = (off_t)first;
	*length = (off_t)(last - first + 1);
	return 0;
}

/* ---- replies ---- */

static void logf_line(const struct httpd *h, const char *fmt, ...) PP_PRINTF(2, 3);

static void logf_line(const struct httpd *h, const char *fmt, ...)
{
	char line[LOG_LINE_MAX];
	va_list ap;
	char *p;

	if (h->log == NULL)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* Paths come from the network: no control characters reach a log file. */
	for (p = line; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	h->log(h->log_ctx, line);
}

static const char *method_name(enum evhttp_cmd_type cmd)
{
	switch (cmd) {
	case EVHTTP_REQ_GET:
		return "GET";
	case EVHTTP_REQ_POST:
		return "POST";
	case EVHTTP_REQ_HEAD:
		return "HEAD";
	case EVHTTP_REQ_PUT:
		return "PUT";
	case EVHTTP_REQ_DELETE:
		return "DELETE";
	case EVHTTP_REQ_OPTIONS:
		return "OPTIONS";
	case EVHTTP_REQ_TRACE:
		return "TRACE";
	case EVHTTP_REQ_CONNECT:
		return "CONNECT";
	case EVHTTP_REQ_PATCH:
		return "PATCH";
	}
	return "?";
}

static int method_from_name(const char *s, enum evhttp_cmd_type *out)
{
	static const enum evhttp_cmd_type cmds[] = {EVHTTP_REQ_GET,   EVHTTP_REQ_POST,
						    EVHTTP_REQ_PUT,   EVHTTP_REQ_DELETE,
						    EVHTTP_REQ_PATCH, EVHTTP_REQ_HEAD};
	size_t i;

	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcmp(s, method_name(cmds[i])) == 0) {
			*out = cmds[i];
			return 0;
		}
	}
	return -1;
}

static void on_complete(struct evhttp_request *ev, void *arg)
{
	struct httpd_worker *w = arg;

	(void)ev;
	if (w->inflight > 0)
		w->inflight--;
}

/* Every reply goes through here: logs, sends, and keeps the in-flight count that a stopping worker
 * waits on. A request whose connection is already gone is freed by evhttp_send_reply at once,
 * without a completion callback. */
static void send_reply(struct httpd_worker *w, struct evhttp_request *ev, const char *path,
		       int status, struct evbuffer *body)
{
	if (status >= 400 || w->h->log_success)
		logf_line(w->h, "%s %s %d", method_name(evhttp_request_get_command(ev)), path,
			  status);
	if (evhttp_request_get_connection(ev) != NULL) {
		evhttp_request_set_on_complete_cb(ev, on_complete, w);
	} else if (w->inflight > 0) {
		w->inflight--;
	}
	/* libevent 2.1 writes whatever body it is given, HEAD or not, and counts no Content-Length
	 * for HEAD: the headers say what a GET would get, and the body stays here (the caller frees
	 * it, closing a file it holds). 1xx, 204 and 304 never carry a length. */
	if (evhttp_request_get_command(ev) == EVHTTP_REQ_HEAD) {
		struct evkeyvalq *hdr = evhttp_request_get_output_headers(ev);
		char len[24];

		if (status >= 200 && status != 204 && status != 304 &&
		    evhttp_find_header(hdr, "Content-Length") == NULL) {
			(void)snprintf(len, sizeof(len), "%zu",
				       body != NULL ? evbuffer_get_length(body) : (size_t)0);
			evhttp_add_header(hdr, "Content-Length", len);
		}
		body = NULL;
	}
	evhttp_send_reply(ev, status, NULL, body);
}

static void send_error_raw(struct httpd_worker *w, struct evhttp_request *ev, const char *path,
			   int status, const char *code, const char *message)
{
	struct evbuffer *buf = evbuffer_new();
	char *json = httpd_error_json(code, message);
	struct evkeyvalq *hdr = evhttp_request_get_output_headers(ev);

	evhttp_add_header(hdr, "Content-Type", "application/json");
	evhttp_add_header(hdr, "Cache-Control", "no-store");
	if (buf != NULL && json != NULL)
		(void)evbuffer_add(buf, json, strlen(json));
	send_reply(w, ev, path, status, buf);
	free(json);
	if (buf != NULL)
		evbuffer_free(buf);
}

static void request_free(struct httpd_request *req)
{
	free(req);
}

void httpd_reply_json(struct httpd_request *req, int status, json_t *body)
{
	struct evbuffer *buf = evbuffer_new();
	char *s = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
	struct evkeyvalq *hdr = evhttp_request_get_output_headers(req->ev);

	if (buf == NULL || s == NULL) {
		send_error_raw(req->w, req->ev, req->path, 500, "internal_error",
			       "out of memory while encoding the response");
		goto out;
	}
	evhttp_add_header(hdr, "Content-Type", "application/json");
	evhttp_add_header(hdr, "Cache-Control", "no-store");
	(void)evbuffer_add(buf, s, strlen(s));
	send_reply(req->w, req->ev, req->path, status, buf);
out:
	free(s);
	if (buf != NULL)
		evbuffer_free(buf);
	request_free(req);
}

void httpd_reply_header(struct httpd_request *req, const char *name, const char *value)
{
	evhttp_add_header(evhttp_request_get_output_headers(req->ev), name, value);
}

void httpd_reply_status(struct httpd_request *req, int status)
{
	evhttp_add_header(evhttp_request_get_output_headers(req->ev), "Cache-Control", "no-store");
	send_reply(req->w, req->ev, req->path, status, NULL);
	request_free(req);
}

void httpd_reply_bytes(struct httpd_request *req, int status, const char *content_type,
		       const void *data, size_t len)
{
	struct evbuffer *buf = evbuffer_new();
	struct evkeyvalq *hdr = evhttp_request_get_output_headers(req->ev);

	if (buf == NULL || evbuffer_add(buf, data, len) != 0) {
		send_error_raw(req->w, req->ev, req->path, 500, "internal_error",
			       "out of memory while encoding the response");
		goto out;
	}
	evhttp_add_header(hdr, "Content-Type", content_type);
	evhttp_add_header(hdr, "Cache-Control", "no-store");
	send_reply(req->w, req->ev, req->path, status, buf);
out:
	if (buf != NULL)
		evbuffer_free(buf);
	request_free(req);
}

void httpd_reply_error(struct httpd_request *req, int status, const char *code, const char *fmt,
		       ...)
{
	char message[PP_ERROR_MESSAGE_MAX];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	send_error_raw(req->w, req->ev, req->path, status, code, message);
	request_free(req);
}

/* Replies status with length bytes of fd from offset (fd owned in every case), with
 * Content-Range when range is not NULL. */
static void reply_file_part(struct httpd_request *req, int status, int fd, off_t offset,
			    off_t length, const char *range, const char *content_type)
{
	struct evbuffer *buf = evbuffer_new();
	struct evkeyvalq *hdr = evhttp_request_get_output_headers(req->ev);

	if (buf == NULL) {
		(void)close(fd);
		send_error_raw(req->w, req->ev, req->path, 500, "internal_error",
			       "out of memory while sending a file");
		goto out;
	}
	if (length == 0) {
		/* Nothing to send: libevent 2.1 does not take an empty file segment. */
		(void)close(fd);
	} else if (evbuffer_add_file(buf, fd, offset, length) != 0) {
		/* evbuffer_add_file owns fd from here, also when it fails. */
		send_error_raw(req->w, req->ev, req->path, 500, "internal_error",
			       "cannot send the file");
		goto out;
	}
	evhttp_add_header(hdr, "Content-Type",
			  content_type != NULL ? content_type : "application/octet-stream");
	evhttp_add_header(hdr, "Accept-Ranges", "bytes");
	if (range != NULL)
		evhttp_add_header(hdr, "Content-Range", range);
	send_reply(req->w, req->ev, req->path, status, buf);
out:
	if (buf != NULL)
		evbuffer_free(buf);
	request_free(req);
}

void httpd_reply_file(struct httpd_request *req, int fd, off_t size, const char *content_type)
{
	reply_file_part(req, 200, fd, 0, size, NULL, content_type);
}

void httpd_reply_file_range(struct httpd_request *req, int fd, off_t offset, off_t length,
			    off_t total, const char *content_type)
{
	char range[80];

	if (offset < 0 || length <= 0 || total <= 0 || offset > total - length) {
		(void)close(fd);
		httpd_reply_error(req, 500, "internal_error",
				  "bad byte range %lld+%lld of a file of %lld bytes",
				  (long long)offset, (long long)length, (long long)total);
		return;
	}
	(void)snprintf(range, sizeof(range), "bytes %lld-%lld/%lld", (long long)offset,
		       (long long)(offset + length - 1), (long long)total);
	reply_file_part(req, 206, fd, offset, length, range, content_type);
}

void httpd_reply_range_not_satisfiable(struct httpd_request *req, off_t total)
{
	char range[40];

	(void)snprintf(range, sizeof(range), "bytes */%lld", (long long)total);
	evhttp_add_header(evhttp_request_get_output_headers(req->ev), "Content-Range", range);
	httpd_reply_error(req, 416, "range_not_satisfiable",
			  "the range is outside the file of %lld bytes", (long long)total);
}

/* ---- request helpers ---- */

const char *httpd_request_capture(const struct httpd_request *req, const char *name)
{
	size_t i;

	for (i = 0; i < req->caps.count; i++)
		if (strcmp(req->caps.name[i], name) == 0)
			return req->caps.value[i];
	return NULL;
}

struct event_base *httpd_request_base(const struct httpd_request *req)
{
	return req->w->base;
}

const char *httpd_request_method(const struct httpd_request *req)
{
	return req->method;
}

const char *httpd_request_path(const struct httpd_request *req)
{
	return req->path;
}

const char *httpd_request_header(const struct httpd_request *req, const char *name)
{
	return evhttp_find_header(evhttp_request_get_input_headers(req->ev), name);
}

bool httpd_request_is_tls(const struct httpd_request *req)
{
	struct evhttp_connection *conn = evhttp_request_get_connection(req->ev);
	struct bufferevent *bev = conn != NULL ? evhttp_connection_get_bufferevent(conn) : NULL;

	return bev != NULL && bufferevent_openssl_get_ssl(bev) != NULL;
}

int httpd_request_query(const struct httpd_request *req, const char *name, char *out, size_t size)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req->ev);
	const char *query = uri != NULL ? evhttp_uri_get_query(uri) : NULL;
	struct evkeyvalq params;
	const char *v;
	int rc = -1;

	if (query == NULL)
		return -1;
	if (evhttp_parse_query_str(query, &params) != 0)
		return -1;
	v = evhttp_find_header(&params, name);
	if (v != NULL && strlen(v) < size) {
		memcpy(out, v, strlen(v) + 1);
		rc = 0;
	}
	evhttp_clear_headers(&params);
	return rc;
}

int httpd_request_json(struct httpd_request *req, json_t **out, struct pp_error *err)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req->ev);
	const char *ctype = httpd_request_header(req, "Content-Type");
	size_t n = evbuffer_get_length(in);
	json_error_t jerr;
	const char *data;
	size_t mlen = strlen("application/json");
	int rc = -1;

	*out = NULL;
	if (ctype == NULL || strncasecmp(ctype, "application/json", mlen) != 0 ||
	    (ctype[mlen] != '\0' && ctype[mlen] != ';' && ctype[mlen] != ' ')) {
		pp_error_set(err, HR_E_INVALIDARG, "request body must be application/json");
		httpd_reply_error(req, 415, "unsupported_media_type",
				  "request body must be sent as Content-Type: application/json");
		goto out;
	}
	if (n > req->w->h->max_body) {
		pp_error_set(err, HR_ERROR_FILE_TOO_LARGE, "request body over %zu bytes",
			     req->w->h->max_body);
		httpd_reply_error(req, 413, "payload_too_large",
				  "request body is larger than the limit of %zu bytes",
				  req->w->h->max_body);
		goto out;
	}
	data = (const char *)evbuffer_pullup(in, -1);
	*out = json_loadb(data != NULL ? data : "", n, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
			  &jerr);
	/* Bodies carry PFX passwords: wipe the raw bytes once parsed. */
	if (data != NULL)
		OPENSSL_cleanse((void *)data, n);
	(void)evbuffer_drain(in, n);
	if (*out == NULL) {
		pp_error_set(err, HR_ERROR_INVALID_DATA, "malformed JSON at line %d, column %d: %s",
			     jerr.line, jerr.column, jerr.text);
		httpd_reply_error(req, 400, "invalid_json",
				  "malformed JSON at line %d, column %d: %s", jerr.line,
				  jerr.column, jerr.text);
		goto out;
	}
	rc = 0;
out:
	return rc;
}

int httpd_request_body(struct httpd_request *req, const void **data, size_t *len)
{
	static const unsigned char empty[1];
	struct evbuffer *in = evhttp_request_get_input_buffer(req->ev);
	size_t n = evbuffer_get_length(in);
	const unsigned char *p;

	*data = empty;
	*len = 0;
	if (n == 0)
		return 0;
	/* One copy when the body arrived in several chains (it does, beyond a few KiB). */
	p = evbuffer_pullup(in, -1);
	if (p == NULL)
		return -1;
	*data = p;
	*len = n;
	return 0;
}

/* evbuffer_iovec as the struct iovec of readv and pwritev (the same fields, another type). */
static void iov_from_evbuffer(struct iovec *out, const struct evbuffer_iovec *in, int n)
{
	for (int i = 0; i < n; i++)
		out[i] = (struct iovec){in[i].iov_base, in[i].iov_len};
}

/* A body taken out of its request: its chains, and where they lie. */
struct taken_body {
	struct evbuffer *chains;
	struct iovec iov[];
};

static void body_release(void *ctx)
{
	struct taken_body *t = ctx;

	evbuffer_free(t->chains);
	free(t);
}

int httpd_request_take_body(struct httpd_request *req, const struct iovec **iov, size_t *iovcnt,
			    httpd_release_fn *release, void **release_ctx)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req->ev), *own = evbuffer_new();
	struct evbuffer_iovec *vec = NULL;
	struct taken_body *t = NULL;
	int n;

	*release = NULL;
	*release_ctx = NULL;
	/* The chains move to a buffer of the caller's: no byte is copied. */
	if (own == NULL || evbuffer_add_buffer(own, in) != 0)
		goto fail;
	n = evbuffer_peek(own, -1, NULL, NULL, 0);
	vec = n > 0 ? calloc((size_t)n, sizeof(*vec)) : NULL;
	t = malloc(sizeof(*t) + (size_t)(n > 0 ? n : 0) * sizeof(t->iov[0]));
	if (n < 0 || (n > 0 && vec == NULL) || t == NULL ||
	    (n > 0 && evbuffer_peek(own, -1, NULL, vec, n) != n))
		goto fail;
	iov_from_evbuffer(t->iov, vec, n);
	free(vec);
	t->chains = own;
	*iov = t->iov;
	*iovcnt = (size_t)n;
	*release = body_release;
	*release_ctx = t;
	return 0;
fail:
	free(vec);
	free(t);
	if (own != NULL)
		evbuffer_free(own);
	return -1;
}

/* ---- dispatch ---- */

/* The token of "Authorization: Bearer <token>", NULL when the header is absent or another scheme.
 */
static const char *bearer_token(struct evhttp_request *ev)
{
	const char *v = evhttp_find_header(evhttp_request_get_input_headers(ev), "Authorization");

	if (v == NULL || strncasecmp(v, "Bearer ", 7) != 0)
		return NULL;
	v += 7;
	while (*v == ' ')
		v++;
	return *v != '\0' ? v : NULL;
}

static void reply_unauthorized(struct httpd_worker *w, struct evhttp_request *ev, const char *path,
			       bool had_token)
{
	evhttp_add_header(evhttp_request_get_output_headers(ev), "WWW-Authenticate",
			  had_token ? "Bearer realm=\"patchpoint\", error=\"invalid_token\""
				    : "Bearer realm=\"patchpoint\"");
	send_error_raw(w, ev, path, 401, "unauthorized",
		       had_token ? "the bearer token is not valid"
				 : "this call needs an Authorization: Bearer token");
}

static void on_request(struct evhttp_request *ev, void *arg)
{
	struct httpd_worker *w = arg;
	struct httpd *h = w->h;
	enum evhttp_cmd_type cmd = evhttp_request_get_command(ev);
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(ev);
	const char *upath = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
	struct httpd_request *req = NULL;
	struct httpd_captures caps;
	const struct httpd_route_entry *match = NULL;
	char allow[128] = "";
	char path[sizeof(req->path)];
	size_t i, limit;

	w->inflight++;
	if (upath == NULL || upath[0] == '\0')
		upath = "/";
	if (strlen(upath) >= sizeof(path)) {
		send_error_raw(w, ev, "(long path)", 414, "uri_too_long", "the path is too long");
		return;
	}
	memcpy(path, upath, strlen(upath) + 1);
	if (w->stopping) {
		evhttp_add_header(evhttp_request_get_output_headers(ev), "Connection", "close");
		send_error_raw(w, ev, path, 503, "shutting_down", "the server is stopping");
		return;
	}
	for (i = 0; i < h->nroutes; i++) {
		const struct httpd_route_entry *r = &h->routes[i];

		if (!httpd_pattern_match(r->pattern, path, &caps))
			continue;
		if (r->method == cmd) {
			match = r;
			break;
		}
		if (strstr(allow, method_name(r->method)) == NULL) {
			size_t used = strlen(allow);

			(void)snprintf(allow + used, sizeof(allow) - used, "%s%s",
				       used > 0 ? ", " : "", method_name(r->method));
		}
	}
	if (match == NULL) {
		if (allow[0] != '\0') {
			evhttp_add_header(evhttp_request_get_output_headers(ev), "Allow", allow);
			send_error_raw(w, ev, path, 405, "method_not_allowed",
				       "method not allowed here; allowed: see the Allow header");
		} else {
			send_error_raw(w, ev, path, 404, "not_found", "no such resource");
		}
		return;
	}
	if (match->flags & HTTPD_ADMIN) {
		const char *token = bearer_token(ev);

		if (token == NULL || h->auth == NULL || !h->auth(h->auth_ctx, token)) {
			reply_unauthorized(w, ev, path, token != NULL);
			return;
		}
	}
	limit = (match->flags & HTTPD_UPLOAD) != 0 ? HTTPD_UPLOAD_CHUNK_MAX : h->max_body;
	if (evbuffer_get_length(evhttp_request_get_input_buffer(ev)) > limit) {
		char msg[96];

		(void)snprintf(msg, sizeof(msg),
			       "request body is larger than the limit of %zu bytes", limit);
		send_error_raw(w, ev, path, 413, "payload_too_large", msg);
		return;
	}
	req = calloc(1, sizeof(*req));
	if (req == NULL) {
		send_error_raw(w, ev, path, 503, "out_of_memory", "the server is out of memory");
		return;
	}
	req->w = w;
	req->ev = ev;
	req->method = method_name(cmd);
	memcpy(req->path, path, sizeof(req->path));
	req->caps = caps;
	match->fn(req, match->ctx);
}

/* ---- connections ---- */

/* How much a plain connection reads from its socket in one go. libevent 2.1 reads at most 4 KiB
 * a time (EVBUFFER_MAX_READ; evbuffer_set_max_read came with 2.2), each read with its own poll,
 * FIONREAD and pass through evhttp's read callback: an 8 MiB upload chunk took some 2,000 of
 * them. So whenever libevent has added to a connection's input, read_more reads what else the
 * socket holds straight into the same buffer, up to this much. */
#define LIBEVENT_READ 4096 /* EVBUFFER_MAX_READ: a read that took less emptied the socket */
#define READ_MAX      (1024 * 1024)
#define READ_MORE_MAX (8 * READ_MAX) /* in one callback, for fairness between connections */

/* An input buffer callback (evbuffer_add_cb): runs inside libevent's own read, while the buffer
 * takes data, so what it adds is there for evhttp's read callback that follows. Never reads
 * ahead of libevent otherwise: a buffer that takes no data (frozen, full, no socket yet) is left
 * to libevent, and an end of file or an error is left for libevent's next read to find. A read
 * of libevent's that took less than its 4 KiB emptied the socket: small requests cost no extra
 * system call. */
static void read_more(struct evbuffer *in, const struct evbuffer_cb_info *info, void *arg)
{
	static _Thread_local bool reading;
	struct bufferevent *bev = arg;
	evutil_socket_t fd;
	size_t total = 0;

	if (info->n_added < LIBEVENT_READ || reading ||
	    (bufferevent_get_enabled(bev) & EV_READ) == 0 || (fd = bufferevent_getfd(bev)) < 0)
		return;
	reading = true;
	while (total < READ_MORE_MAX) {
		struct evbuffer_iovec vec[2];
		struct iovec iov[2];
		int n = evbuffer_reserve_space(in, READ_MAX, vec, 2);
		ssize_t got;
		bool full;
		int used;

		if (n <= 0)
			break;
		iov_from_evbuffer(iov, vec, n);
		got = readv(fd, iov, n);
		if (got <= 0) {
			(void)evbuffer_commit_space(in, vec, 0);
			break;
		}
		total += (size_t)got;
		full = (size_t)got == iov[0].iov_len + (n > 1 ? iov[1].iov_len : 0);
		used = 0;
		while (got > 0) {
			if ((size_t)got < vec[used].iov_len)
				vec[used].iov_len = (size_t)got;
			got -= (ssize_t)vec[used++].iov_len;
		}
		if (evbuffer_commit_space(in, vec, used) != 0 || !full)
			break; /* the socket is empty for now */
	}
	reading = false;
}

static struct bufferevent *plain_bevcb(struct event_base *base, void *arg)
{
	struct bufferevent *bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);

	(void)arg;
	if (bev != NULL && evbuffer_add_cb(bufferevent_get_input(bev), read_more, bev) == NULL) {
		bufferevent_free(bev);
		return NULL;
	}
	return bev;
}

static struct bufferevent *tls_bevcb(struct event_base *base, void *arg)
{
	SSL_CTX *ctx = arg;
	SSL *ssl = SSL_new(ctx);
	struct bufferevent *bev;

	if (ssl == NULL)
		return NULL;
	bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
					     BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		SSL_free(ssl);
		return NULL;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	(void)bufferevent_set_max_single_read(bev, READ_MAX);
	return bev;
}

static SSL_CTX *tls_context(const char *cert, const char *key, struct pp_error *err)
{
	SSL_CTX *ctx = NULL;

	if (cert == NULL || key == NULL) {
		pp_error_set(err, HR_E_INVALIDARG,
			     "an HTTPS listener needs a certificate and a key (PEM files)");
		goto fail;
	}
	ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL) {
		pp_error_set_openssl(err, HR_E_OUTOFMEMORY, "cannot create a TLS context");
		goto fail;
	}
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
		pp_error_set_openssl(err, HR_E_FAIL, "cannot require TLS 1.2");
		goto fail;
	}
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		pp_error_set_openssl(err, HR_ERROR_BAD_FORMAT, "cannot load TLS certificate %s",
				     cert);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		pp_error_set_openssl(err, HR_ERROR_BAD_FORMAT, "cannot load TLS key %s", key);
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		pp_error_set_openssl(err, HR_CRYPT_E_NO_MATCH,
				     "TLS key %s does not match certificate %s", key, cert);
		goto fail;
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

/* ---- sockets ---- */

static int bind_socket(const struct sockaddr_storage *ss, socklen_t len, const char *spec,
		       struct pp_error *err)
{
	int fd, one = 1;

	fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		pp_error_set_errno(err, errno, "socket for %s", spec);
		return -1;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0 ||
	    (ss->ss_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) != 0)) {
		pp_error_set_errno(err, errno, "socket options for %s", spec);
		goto fail;
	}
	if (bind(fd, (const struct sockaddr *)ss, len) != 0) {
		pp_error_set_errno(err, errno, "cannot listen on %s", spec);
		goto fail;
	}
	if (listen(fd, LISTEN_BACKLOG) != 0) {
		pp_error_set_errno(err, errno, "listen on %s", spec);
		goto fail;
	}
	return fd;
fail:
	(void)close(fd);
	return -1;
}

static int bound_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	memset(&ss, 0, sizeof(ss));
	if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
		return -1;
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static void set_port(struct sockaddr_storage *ss, int port)
{
	if (ss->ss_family == AF_INET6)
		((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
	else
		((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
}

/* ---- workers ---- */

static void drain_check(evutil_socket_t fd, short what, void *arg)
{
	struct httpd_worker *w = arg;

	(void)fd;
	(void)what;
	if (w->inflight == 0 || time(NULL) >= w->stop_deadline) {
		if (w->inflight > 0)
			logf_line(w->h, "stopping with %u requests unfinished", w->inflight);
		(void)event_base_loopexit(w->base, NULL);
	}
}

static void on_stop(evutil_socket_t fd, short what, void *arg)
{
	struct httpd_worker *w = arg;
	struct timeval tv = {0, STOP_POLL_USEC};
	uint64_t v;
	int i;

	(void)what;
	(void)!read(fd, &v, sizeof(v));
	if (w->stopping)
		return;
	w->stopping = true;
	w->stop_deadline = time(NULL) + STOP_GRACE_SECONDS;
	for (i = 0; i < 2; i++) {
		if (w->bound[i] != NULL) {
			evhttp_del_accept_socket(w->http[i], w->bound[i]);
			w->bound[i] = NULL;
		}
	}
	(void)event_add(w->drain_ev, &tv);
}

static void *worker_main(void *arg)
{
	struct httpd_worker *w = arg;

	(void)event_base_dispatch(w->base);
	return NULL;
}

/* The hard limit, a backstop for bodies far beyond the route's limit: libevent refuses those
 * itself (413, plain) without buffering them; bodies between the two get the JSON 413. It is
 * twice the largest limit of any route: libevent 2.1 applies one limit to a whole evhttp and has
 * no hook between a request's headers and its body, so with an upload route every route
 * buffers up to 2 * HTTPD_UPLOAD_CHUNK_MAX before the JSON 413 (docs/internals/httpd.md). */
static size_t hard_body_limit(const struct httpd *h, bool uploads)
{
	size_t largest = h->max_body;

	if (uploads && largest < HTTPD_UPLOAD_CHUNK_MAX)
		largest = HTTPD_UPLOAD_CHUNK_MAX;
	return largest <= SIZE_MAX / 2 ? largest * 2 : largest;
}

static struct evhttp *worker_http(struct httpd_worker *w, bool tls)
{
	struct evhttp *http = evhttp_new(w->base);

	if (http == NULL)
		return NULL;
	evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
					     EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_PATCH |
					     EVHTTP_REQ_OPTIONS);
	evhttp_set_max_body_size(http, (ev_ssize_t)hard_body_limit(w->h, false));
	evhttp_set_max_headers_size(http, 16 * 1024);
	evhttp_set_timeout(http, 60);
	evhttp_set_gencb(http, on_request, w);
	if (tls)
		evhttp_set_bevcb(http, tls_bevcb, w->h->ssl_ctx);
	else
		evhttp_set_bevcb(http, plain_bevcb, NULL);
	return http;
}

static int worker_init(struct httpd *h, struct httpd_worker *w, const int fds[2],
		       struct pp_error *err)
{
	int i;

	w->h = h;
	w->stopfd = -1;
	w->base = event_base_new();
	if (w->base == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "cannot create an event base");
		goto fail;
	}
	w->stopfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->stopfd < 0) {
		pp_error_set_errno(err, errno, "eventfd");
		goto fail;
	}
	w->stop_ev = event_new(w->base, w->stopfd, EV_READ | EV_PERSIST, on_stop, w);
	w->drain_ev = event_new(w->base, -1, EV_PERSIST, drain_check, w);
	if (w->stop_ev == NULL || w->drain_ev == NULL || event_add(w->stop_ev, NULL) != 0) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "cannot create the stop events");
		goto fail;
	}
	for (i = 0; i < 2; i++) {
		if (fds[i] < 0)
			continue;
		w->http[i] = worker_http(w, i == LISTENER_TLS);
		if (w->http[i] == NULL) {
			pp_error_set(err, HR_E_OUTOFMEMORY, "cannot create an HTTP server");
			goto fail;
		}
		w->bound[i] = evhttp_accept_socket_with_handle(w->http[i], fds[i]);
		if (w->bound[i] == NULL) {
			pp_error_set(err, HR_E_FAIL, "cannot accept on the listening socket");
			goto fail;
		}
	}
	return 0;
fail:
	return -1;
}

static void worker_free(struct httpd_worker *w)
{
	int i;

	for (i = 0; i < 2; i++)
		if (w->http[i] != NULL)
			evhttp_free(w->http[i]);
	if (w->stop_ev != NULL)
		event_free(w->stop_ev);
	if (w->drain_ev != NULL)
		event_free(w->drain_ev);
	if (w->stopfd >= 0)
		(void)close(w->stopfd);
	if (w->base != NULL)
		event_base_free(w->base);
}

struct httpd *httpd_new(const struct httpd_options *opt, struct pp_error *err)
{
	struct httpd *h = NULL;
	struct sockaddr_storage ss[2];
	socklen_t sslen[2] = {0, 0};
	const char *spec[2] = {opt->listen, opt->listen_tls};
	int fds[2] = {-1, -1};
	unsigned t;
	int i;

	if (opt->listen == NULL && opt->listen_tls == NULL) {
		pp_error_set(err, HR_E_INVALIDARG,
			     "nothing to listen on: give an HTTP or HTTPS address");
		goto fail;
	}
	if (opt->threads > HTTPD_MAX_THREADS) {
		pp_error_set(err, HR_E_INVALIDARG, "%u worker threads: at most %d", opt->threads,
			     HTTPD_MAX_THREADS);
		goto fail;
	}
	for (i = 0; i < 2; i++)
		if (spec[i] != NULL && httpd_parse_listen(spec[i], &ss[i], &sslen[i], err) != 0)
			goto fail;
	h = calloc(1, sizeof(*h));
	if (h == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
		goto fail;
	}
	h->max_body = opt->max_body != 0 ? opt->max_body : HTTPD_DEFAULT_MAX_BODY;
	h->auth = opt->auth;
	h->auth_ctx = opt->auth_ctx;
	h->log = opt->log;
	h->log_ctx = opt->log_ctx;
	h->log_success = opt->log_success;
	h->nworkers = opt->threads != 0 ? opt->threads : HTTPD_DEFAULT_THREADS;
	if (opt->listen_tls != NULL) {
		h->ssl_ctx = tls_context(opt->tls_cert, opt->tls_key, err);
		if (h->ssl_ctx == NULL)
			goto fail;
	}
	h->workers = calloc(h->nworkers, sizeof(*h->workers));
	if (h->workers == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
		goto fail;
	}
	for (t = 0; t < h->nworkers; t++)
		h->workers[t].stopfd = -1;
	for (t = 0; t < h->nworkers; t++) {
		/* The first socket of each listener picks the port (maybe ephemeral), the rest join
		 * it through SO_REUSEPORT. */
		for (i = 0; i < 2; i++) {
			fds[i] = -1;
			if (spec[i] == NULL)
				continue;
			if (t > 0)
				set_port(&ss[i], h->port[i]);
			fds[i] = bind_socket(&ss[i], sslen[i], spec[i], err);
			if (fds[i] < 0)
				goto fail;
			if (t == 0)
				h->port[i] = bound_port(fds[i]);
		}
		if (worker_init(h, &h->workers[t], fds, err) != 0)
			goto fail;
		/* evhttp owns the sockets from here. */
		fds[0] = fds[1] = -1;
	}
	return h;
fail:
	for (i = 0; i < 2; i++)
		if (fds[i] >= 0)
			(void)close(fds[i]);
	httpd_free(h);
	return NULL;
}

int httpd_route(struct httpd *h, const char *method, const char *pattern, httpd_handler fn,
		void *ctx, unsigned flags)
{
	struct httpd_route_entry *r;
	enum evhttp_cmd_type cmd;

	if (h == NULL || h->started || h->nroutes >= HTTPD_MAX_ROUTES || fn == NULL ||
	    method == NULL || method_from_name(method, &cmd) != 0 || !httpd_pattern_valid(pattern))
		return -1;
	r = &h->routes[h->nroutes];
	r->method = cmd;
	memcpy(r->pattern, pattern, strlen(pattern) + 1);
	r->fn = fn;
	r->ctx = ctx;
	r->flags = flags;
	h->nroutes++;
	return 0;
}

int httpd_start(struct httpd *h, struct pp_error *err)
{
	sigset_t all, old;
	bool uploads = false;
	unsigned t;
	int e, i;

	if (h->started) {
		pp_error_set(err, HR_E_INVALIDARG, "the HTTP server is already started");
		return -1;
	}
	h->started = true;
	for (t = 0; t < h->nroutes; t++)
		uploads = uploads || (h->routes[t].flags & HTTPD_UPLOAD) != 0;
	for (t = 0; uploads && t < h->nworkers; t++)
		for (i = 0; i < 2; i++)
			if (h->workers[t].http[i] != NULL)
				evhttp_set_max_body_size(h->workers[t].http[i],
							 (ev_ssize_t)hard_body_limit(h, true));
	/* Workers run with every signal blocked: process signals (SIGTERM, SIGHUP) go to the
	 * caller's threads, and a write to a closed peer yields EPIPE instead of SIGPIPE. */
	sigfillset(&all);
	(void)pthread_sigmask(SIG_SETMASK, &all, &old);
	for (t = 0; t < h->nworkers; t++) {
		e = pthread_create(&h->workers[t].thread, NULL, worker_main, &h->workers[t]);
		if (e != 0) {
			pp_error_set_errno(err, e, "cannot start HTTP worker thread");
			break;
		}
		h->workers[t].thread_started = true;
	}
	(void)pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (t < h->nworkers) {
		httpd_stop(h);
		return -1;
	}
	return 0;
}

int httpd_port(const struct httpd *h, bool tls)
{
	return h->port[tls ? LISTENER_TLS : LISTENER_PLAIN];
}

void httpd_shutdown(struct httpd *h)
{
	uint64_t one = 1;
	unsigned t;

	if (h == NULL || h->workers == NULL)
		return;
	for (t = 0; t < h->nworkers; t++)
		if (h->workers[t].stopfd >= 0)
			(void)!write(h->workers[t].stopfd, &one, sizeof(one));
}

void httpd_stop(struct httpd *h)
{
	unsigned t;

	if (h == NULL || h->joined)
		return;
	httpd_shutdown(h);
	for (t = 0; t < h->nworkers; t++) {
		if (h->workers[t].thread_started) {
			(void)pthread_join(h->workers[t].thread, NULL);
			h->workers[t].thread_started = false;
		}
	}
	h->joined = true;
}

void httpd_free(struct httpd *h)
{
	unsigned t;

	if (h == NULL)
		return;
	if (h->started)
		httpd_stop(h);
	if (h->workers != NULL) {
		for (t = 0; t < h->nworkers; t++)
			worker_free(&h->workers[t]);
		free(h->workers);
	}
	SSL_CTX_free(h->ssl_ctx);
	free(h);
}
