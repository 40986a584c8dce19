/* httpd.h - the HTTP(S) server of patchpointd on libevent's evhttp.
 *
 * N worker threads, each with its own event_base and evhttp, all accepting on the same port
 * through SO_REUSEPORT sockets; TLS per connection through bufferevent_openssl. Requests are
 * dispatched through a route table of simple patterns ("/api/v1/sites/{code}"); admin routes need
 * "Authorization: Bearer <token>", checked by a caller-supplied callback. Errors are answered as
 * {"error":{"code":"...","message":"..."}} with a fitting status. See docs/internals/httpd.md.
 */
#ifndef PATCHPOINT_HTTPD_H
#define PATCHPOINT_HTTPD_H

#include "error.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <jansson.h>

#define HTTPD_DEFAULT_THREADS  2
#define HTTPD_MAX_THREADS      64
#define HTTPD_DEFAULT_MAX_BODY (1024u * 1024u)
#define HTTPD_MAX_ROUTES       256 /* the site registers about 120 */
#define HTTPD_PATTERN_MAX      128
#define HTTPD_MAX_CAPTURES     8
#define HTTPD_CAPTURE_NAME_MAX 32
#define HTTPD_CAPTURE_MAX      256

/* Route flags. */
#define HTTPD_ADMIN  0x1u /* requires a bearer token accepted by httpd_options.auth */
#define HTTPD_UPLOAD 0x2u /* takes a raw body of up to HTTPD_UPLOAD_CHUNK_MAX, not max_body */

/* The body limit of HTTPD_UPLOAD routes (one chunk of a resumable upload). */
#define HTTPD_UPLOAD_CHUNK_MAX (8u * 1024u * 1024u)

struct httpd;
struct httpd_request;
struct event_base;

struct httpd_options {
	const char *listen;	/* "ADDR:PORT" for plain HTTP, NULL for none; port 0 = ephemeral */
	const char *listen_tls; /* "ADDR:PORT" for HTTPS, NULL for none */
	const char
	    *tls_cert;	     /* PEM certificate chain (server certificate first); with listen_tls */
	const char *tls_key; /* PEM private key of tls_cert */
	unsigned threads;    /* worker threads, 0 = HTTPD_DEFAULT_THREADS */
	size_t max_body;     /* request body limit in bytes, 0 = HTTPD_DEFAULT_MAX_BODY; routes
			      * with HTTPD_UPLOAD take HTTPD_UPLOAD_CHUNK_MAX instead */
	/* Returns non-zero when token (never NULL, never logged) grants admin access. Required when
	 * any route carries HTTPD_ADMIN; without it such routes always answer 401. */
	int (*auth)(void *ctx, const char *token);
	void *auth_ctx;
	/* Receives one line per failed request ("GET /api/v1/sites 401", status 400 and above), per
	 * answered request too with log_success ("GET /api/v1/ping 200"), and per failure of the
	 * server itself; NULL = silent. Called from worker threads. Never carries headers or
	 * bodies. */
	void (*log)(void *ctx, const char *line);
	void *log_ctx;
	bool log_success;
};

/* A handler answers its request exactly once, now or later from an event on the request's own
 * base (httpd_request_base), through one of the httpd_reply_* functions; after that req is gone.
 * The reply to a HEAD request carries its headers and the Content-Length its body would have
 * had, and no body. */
typedef void (*httpd_handler)(struct httpd_request *req, void *ctx);

/* Parsed route captures; also used by the pure matcher below. */
struct httpd_captures {
	size_t count;
	char name[HTTPD_MAX_CAPTURES][HTTPD_CAPTURE_NAME_MAX];
	char value[HTTPD_MAX_CAPTURES][HTTPD_CAPTURE_MAX];
};

/* Creates the server: parses the addresses, loads the TLS certificate and key, binds one
 * SO_REUSEPORT socket per worker and listener, but starts no thread (see httpd_start). Free with
 * httpd_free. */
struct httpd *httpd_new(const struct httpd_options *opt, struct pp_error *err) PP_WARN_UNUSED;

/* Adds a route before httpd_start. method is "GET", "POST", "PUT", "DELETE", "PATCH" or "HEAD";
 * pattern is an absolute path whose segments are literals or "{name}" captures. Routes are tried
 * in the order added. Returns -1 (and adds nothing) on a bad method or pattern, a full table or a
 * started server: these are programming errors. */
int httpd_route(struct httpd *h, const char *method, const char *pattern, httpd_handler fn,
		void *ctx, unsigned flags) PP_WARN_UNUSED;

/* Starts the worker threads; requests are served from then on. */
int httpd_start(struct httpd *h, struct pp_error *err) PP_WARN_UNUSED;

/* The bound port of the plain (tls false) or TLS listener, 0 when there is none. */
int httpd_port(const struct httpd *h, bool tls);

/* Asks every worker to stop: they close their listeners, finish the requests in flight and leave
 * their loops. Only write(2)s to eventfds, so it is safe in a signal handler. Does not wait. */
void httpd_shutdown(struct httpd *h);

/* httpd_shutdown, then waits for every worker thread. Idempotent. */
void httpd_stop(struct httpd *h);

/* Stops (when running) and frees everything, closing idle connections. NULL is a no-op. */
void httpd_free(struct httpd *h);

/* ---- inside a handler ---- */

/* The value of capture name, or NULL when the route has no such capture. */
const char *httpd_request_capture(const struct httpd_request *req, const char *name);

/* The event_base of the worker serving req, for timers and other deferred work. */
struct event_base *httpd_request_base(const struct httpd_request *req);

/* The request method ("GET", ...) and path (without the query). */
const char *httpd_request_method(const struct httpd_request *req);
const char *httpd_request_path(const struct httpd_request *req);

/* Value of a request header, NULL when absent. */
const char *httpd_request_header(const struct httpd_request *req, const char *name);

/* True when req came in over the TLS listener. */
bool httpd_request_is_tls(const struct httpd_request *req);

/* The percent-decoded value of query parameter name copied into out; -1 when the query has no
 * such parameter, does not parse, or the value does not fit in size bytes. */
int httpd_request_query(const struct httpd_request *req, const char *name, char *out, size_t size);

/* Parses the body as JSON into *out (the caller owns it: json_decref). On failure the error reply
 * has already been sent (415 unsupported_media_type, 413 payload_too_large, 400 invalid_json with
 * line and column) and req is gone: the handler must only return. */
int httpd_request_json(struct httpd_request *req, json_t **out,
		       struct pp_error *err) PP_WARN_UNUSED;

/* The raw body in *data (never NULL, even when empty) and *len, valid until the reply. Made
 * contiguous in memory on the first call. -1 when out of memory (nothing replied yet). */
int httpd_request_body(struct httpd_request *req, const void **data, size_t *len) PP_WARN_UNUSED;

typedef void (*httpd_release_fn)(void *ctx);

/* Takes the body out of the request as it lies in libevent's buffers, without copying it:
 * *iov[0 .. *iovcnt) (none when empty). They stay valid, after the reply too,
 * until (*release)(*release_ctx) is called, which the caller must do once (from any thread). The
 * request's body is empty afterwards. -1 when out of memory (nothing replied yet). */
int httpd_request_take_body(struct httpd_request *req, const struct iovec **iov, size_t *iovcnt,
			    httpd_release_fn *release, void **release_ctx) PP_WARN_UNUSED;

/* Replies status with body as compact JSON. body is borrowed (the caller keeps its reference). */
void httpd_reply_json(struct httpd_request *req, int status, json_t *body);

/* Replies status with exactly {"error":{"code":"<code>","message":"<formatted>"}}. */
void httpd_reply_error(struct httpd_request *req, int status, const char *code, const char *fmt,
		       ...) PP_PRINTF(4, 5);

/* Adds a header (ETag, ...) to the reply that follows; req stays the handler's. */
void httpd_reply_header(struct httpd_request *req, const char *name, const char *value);

/* Replies status without a body (204 No Content and the like). */
void httpd_reply_status(struct httpd_request *req, int status);

/* Replies status with len bytes of data as content_type (copied). */
void httpd_reply_bytes(struct httpd_request *req, int status, const char *content_type,
		       const void *data, size_t len);

/* Replies 200 with size bytes of fd from offset 0 through evbuffer_add_file (sendfile on plain
 * connections), with Accept-Ranges: bytes. Takes ownership of fd in every case. */
void httpd_reply_file(struct httpd_request *req, int fd, off_t size, const char *content_type);

/* Replies 206 with length bytes of fd from offset (of a file of total bytes) and Content-Range:
 * bytes A-B/TOTAL, as httpd_reply_file otherwise; a range outside the file answers 500. Takes
 * ownership of fd in every case. */
void httpd_reply_file_range(struct httpd_request *req, int fd, off_t offset, off_t length,
			    off_t total, const char *content_type);

/* Replies 416 range_not_satisfiable with the Content-Range of an unsatisfied range ("bytes *"
 * then "/TOTAL"). */
void httpd_reply_range_not_satisfiable(struct httpd_request *req, off_t total);

/* ---- pure parts, exposed for the unit tests ---- */

/* Parses "A.B.C.D:PORT" or "[IPv6]:PORT" (numeric only, port 0-65535) into *ss / *len. */
int httpd_parse_listen(const char *spec, struct sockaddr_storage *ss, socklen_t *len,
		       struct pp_error *err) PP_WARN_UNUSED;

/* True when pattern is well formed: starts with '/', literal or "{name}" segments, bounded. */
bool httpd_pattern_valid(const char *pattern);

/* Matches path against pattern; on a match fills caps (percent-decoded values) and returns true.
 * A capture matches one non-empty segment; a decoded '/' or NUL never matches. */
bool httpd_pattern_match(const char *pattern, const char *path, struct httpd_captures *caps);

/* Parses a Range header for a file of total bytes: "bytes=A-B", "bytes=A-" or "bytes=-N" (the
 * unit in any case). 0 with *offset and *length of a satisfiable range (clipped to the file); 1
 * when it is not satisfiable (416); -1 when it is to be ignored and the whole file served with
 * 200 (NULL, malformed, another unit, several ranges, or a suffix of an empty file). */
int httpd_parse_range(const char *header, off_t total, off_t *offset, off_t *length);

/* {"error":{"code":"<code>","message":"<message>"}} as compact JSON, malloc'd (caller frees);
 * NULL when out of memory. */
char *httpd_error_json(const char *code, const char *message) PP_WARN_UNUSED;

#endif
