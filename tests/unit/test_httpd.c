/* test_httpd.c - the pure parts of src/server/httpd: route patterns and their captures, the JSON
 * error body, listen-address parsing; and, on a live server on 127.0.0.1, the body limits of
 * normal and HTTPD_UPLOAD routes. The rest of the sockets, TLS and threads are tested end to end
 * in tests/e2e/httpd.sh. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "httpd.h"
#include "hresult.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <jansson.h>

static void test_pattern_literal(void **state)
{
	struct httpd_captures caps;

	(void)state;
	assert_true(httpd_pattern_match("/api/v1/ping", "/api/v1/ping", &caps));
	assert_int_equal(caps.count, 0);
	assert_false(httpd_pattern_match("/api/v1/ping", "/api/v1/pin", &caps));
	assert_false(httpd_pattern_match("/api/v1/ping", "/api/v1/pingx", &caps));
	assert_false(httpd_pattern_match("/api/v1/ping", "/api/v1/ping/", &caps));
	assert_false(httpd_pattern_match("/api/v1/ping", "/api/v1", &caps));
	assert_false(httpd_pattern_match("/api/v1/ping", "api/v1/ping", &caps));
	assert_true(httpd_pattern_match("/", "/", &caps));
	assert_false(httpd_pattern_match("/", "/x", &caps));
}

static void test_pattern_captures(void **state)
{
	struct httpd_captures caps;

	(void)state;
	assert_true(httpd_pattern_match("/api/v1/sites/{code}", "/api/v1/sites/PP1", &caps));
	assert_int_equal(caps.count, 1);
	assert_string_equal(caps.name[0], "code");
	assert_string_equal(caps.value[0], "PP1");

	assert_true(httpd_pattern_match("/api/v1/sites/{site}/sups/{id}/sync",
					"/api/v1/sites/CAS/sups/42/sync", &caps));
	assert_int_equal(caps.count, 2);
	assert_string_equal(caps.name[0], "site");
	assert_string_equal(caps.value[0], "CAS");
	assert_string_equal(caps.name[1], "id");
	assert_string_equal(caps.value[1], "42");

	/* A capture is one non-empty segment. */
	assert_false(httpd_pattern_match("/api/v1/sites/{code}", "/api/v1/sites/", &caps));
	assert_false(httpd_pattern_match("/api/v1/sites/{code}", "/api/v1/sites", &caps));
	assert_false(httpd_pattern_match("/api/v1/sites/{code}", "/api/v1/sites/a/b", &caps));
	assert_false(httpd_pattern_match("/api/v1/sites/{s}/sups", "/api/v1/sites/a/sup", &caps));
}

static void test_pattern_decoding(void **state)
{
	struct httpd_captures caps;
	char longseg[HTTPD_CAPTURE_MAX + 16];
	char path[sizeof(longseg) + 16];

	(void)state;
	assert_true(httpd_pattern_match("/f/{name}", "/f/a%20b%2Ec", &caps));
	assert_string_equal(caps.value[0], "a b.c");
	/* An encoded slash or NUL, and broken escapes, never match. */
	assert_false(httpd_pattern_match("/f/{name}", "/f/a%2Fb", &caps));
	assert_false(httpd_pattern_match("/f/{name}", "/f/a%00b", &caps));
	assert_false(httpd_pattern_match("/f/{name}", "/f/a%2", &caps));
	assert_false(httpd_pattern_match("/f/{name}", "/f/a%zz", &caps));
	assert_false(httpd_pattern_match("/f/{name}", "/f/%", &caps));
	/* A value longer than the capture buffer is refused, not cut. */
	memset(longseg, 'x', sizeof(longseg) - 1);
	longseg[sizeof(longseg) - 1] = '\0';
	assert_true(snprintf(path, sizeof(path), "/f/%s", longseg) > 0);
	assert_false(httpd_pattern_match("/f/{name}", path, &caps));
}

static void test_pattern_valid(void **state)
{
	char big[HTTPD_PATTERN_MAX + 1];

	(void)state;
	assert_true(httpd_pattern_valid("/api/v1/ping"));
	assert_true(httpd_pattern_valid("/api/v1/sites/{code}"));
	assert_true(httpd_pattern_valid("/"));
	assert_false(httpd_pattern_valid(NULL));
	assert_false(httpd_pattern_valid(""));
	assert_false(httpd_pattern_valid("api/v1"));
	assert_false(httpd_pattern_valid("/api/{}"));
	assert_false(httpd_pattern_valid("/api/{a{b}"));
	assert_false(httpd_pattern_valid("/api/x{a}"));
	assert_false(httpd_pattern_valid("/api/{a"));
	assert_false(httpd_pattern_valid("/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/{i}"));
	assert_false(httpd_pattern_valid("/{a_name_that_is_far_too_long_for_a_capture}"));
	memset(big, 'a', sizeof(big) - 1);
	big[0] = '/';
	big[sizeof(big) - 1] = '\0';
	assert_false(httpd_pattern_valid(big));
}

static void test_error_json(void **state)
{
	char *s;

	(void)state;
	s = httpd_error_json("not_found", "no such resource");
	assert_non_null(s);
	assert_string_equal(
	    s, "{\"error\":{\"code\":\"not_found\",\"message\":\"no such resource\"}}");
	free(s);
	/* Quotes, backslashes and control characters are escaped, so the body stays JSON. */
	s = httpd_error_json("invalid_json", "near '\"'\\\n");
	assert_non_null(s);
	assert_string_equal(s, "{\"error\":{\"code\":\"invalid_json\",\"message\":"
			       "\"near '\\\"'\\\\\\n\"}}");
	free(s);
}

static void test_error_json_roundtrip(void **state)
{
	json_error_t jerr;
	json_t *doc;
	char *s;

	(void)state;
	s = httpd_error_json("payload_too_large", "request body is larger than 1048576 bytes");
	assert_non_null(s);
	doc = json_loads(s, 0, &jerr);
	assert_non_null(doc);
	assert_int_equal(json_object_size(doc), 1);
	assert_int_equal(json_object_size(json_object_get(doc, "error")), 2);
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(doc, "error"), "code")),
	    "payload_too_large");
	json_decref(doc);
	free(s);
}

static void test_listen_ipv4(void **state)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct pp_error err;
	socklen_t len = 0;

	(void)state;
	pp_error_clear(&err);
	assert_int_equal(httpd_parse_listen("127.0.0.1:8530", &ss, &len, &err), 0);
	assert_int_equal(s4->sin_family, AF_INET);
	assert_int_equal(ntohs(s4->sin_port), 8530);
	assert_int_equal(ntohl(s4->sin_addr.s_addr), 0x7f000001);
	assert_int_equal(len, sizeof(struct sockaddr_in));
	assert_int_equal(httpd_parse_listen("127.0.0.1:0", &ss, &len, &err), 0);
	assert_int_equal(ntohs(s4->sin_port), 0);
	assert_int_equal(httpd_parse_listen("127.0.0.1:65535", &ss, &len, &err), 0);
	assert_int_equal(ntohs(s4->sin_port), 65535);
}

static void test_listen_ipv6(void **state)
{
	struct sockaddr_storage ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	struct pp_error err;
	socklen_t len = 0;

	(void)state;
	pp_error_clear(&err);
	assert_int_equal(httpd_parse_listen("[::1]:8531", &ss, &len, &err), 0);
	assert_int_equal(s6->sin6_family, AF_INET6);
	assert_int_equal(ntohs(s6->sin6_port), 8531);
	assert_true(IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr));
	assert_int_equal(len, sizeof(struct sockaddr_in6));
}

struct bad_listen {
	const char *spec;
	const char *message; /* a substring of the error */
};

static void test_listen_refused(void **state)
{
	static const struct bad_listen bad[] = {
	    {"", "empty listen address"},
	    {"127.0.0.1", "use ADDR:PORT"},
	    {"127.0.0.1:", "port must be 0-65535"},
	    {"127.0.0.1:65536", "port must be 0-65535"},
	    {"127.0.0.1:-1", "port must be 0-65535"},
	    {"127.0.0.1:80x", "port must be 0-65535"},
	    {"127.0.0.1:+80", "port must be 0-65535"},
	    {"127.0.0.1:0000080", "port must be 0-65535"},
	    {":8530", "bad IPv4 address"},
	    {"localhost:8530", "is not a numeric IPv4 address"},
	    {"127.0.0.256:8530", "is not a numeric IPv4 address"},
	    {"::1:8531", "IPv6 as [ADDR]:PORT"},
	    {"[::1]8531", "IPv6 form is [ADDR]:PORT"},
	    {"[::1]", "IPv6 form is [ADDR]:PORT"},
	    {"[]:8531", "bad IPv6 address"},
	    {"[127.0.0.1]:8531", "is not a numeric IPv6 address"},
	    {"[::1:8531", "IPv6 form is [ADDR]:PORT"},
	};
	struct sockaddr_storage ss;
	struct pp_error err;
	socklen_t len = 0;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		pp_error_clear(&err);
		assert_int_equal(httpd_parse_listen(bad[i].spec, &ss, &len, &err), -1);
		assert_int_equal(err.code, HR_E_INVALIDARG);
		if (strstr(err.message, bad[i].message) == NULL)
			fail_msg("'%s': got '%s', wanted '%s'", bad[i].spec, err.message,
				 bad[i].message);
	}
	pp_error_clear(&err);
	assert_int_equal(httpd_parse_listen(NULL, &ss, &len, &err), -1);
}

static void never_called(struct httpd_request *req, void *ctx)
{
	(void)ctx;
	httpd_reply_error(req, 500, "test", "not expected");
	fail();
}

static void test_route_refusals(void **state)
{
	struct httpd_options opt;
	struct pp_error err;
	struct httpd *h;

	(void)state;
	memset(&opt, 0, sizeof(opt));
	opt.listen = "127.0.0.1:0";
	pp_error_clear(&err);
	h = httpd_new(&opt, &err);
	assert_non_null(h);
	assert_true(httpd_port(h, false) > 0);
	assert_int_equal(httpd_port(h, true), 0);
	assert_int_equal(httpd_route(h, "GET", "/api/v1/{x}", never_called, NULL, 0), 0);
	assert_int_equal(httpd_route(h, "BREW", "/api/v1/x", never_called, NULL, 0), -1);
	assert_int_equal(httpd_route(h, "GET", "api/v1/x", never_called, NULL, 0), -1);
	assert_int_equal(httpd_route(h, "GET", "/api/v1/x", NULL, NULL, 0), -1);
	httpd_free(h);

	/* Nothing to listen on, or HTTPS without a certificate, is refused with a message. */
	memset(&opt, 0, sizeof(opt));
	pp_error_clear(&err);
	assert_null(httpd_new(&opt, &err));
	assert_non_null(strstr(err.message, "nothing to listen on"));
	opt.listen_tls = "127.0.0.1:0";
	pp_error_clear(&err);
	assert_null(httpd_new(&opt, &err));
	assert_non_null(strstr(err.message, "needs a certificate and a key"));
}

/* ---- body limits on a live server ---- */

#define MIB (1024u * 1024u)

/* Answers {"len":N,"sum":S}: the body's length and the sum of its bytes. */
static void on_body(struct httpd_request *req, void *ctx)
{
	const unsigned char *p;
	const void *data;
	uint64_t sum = 0;
	size_t len, i;
	json_t *doc;

	(void)ctx;
	if (httpd_request_body(req, &data, &len) != 0) {
		httpd_reply_error(req, 503, "out_of_memory", "no memory for the body");
		return;
	}
	p = data;
	for (i = 0; i < len; i++)
		sum += p[i];
	doc = json_pack("{s:I, s:I}", "len", (json_int_t)len, "sum", (json_int_t)sum);
	httpd_reply_json(req, 200, doc);
	json_decref(doc);
}

/* Reads the answer on fd until the server closes it, into resp (NUL-terminated), and closes fd;
 * returns its length. */
static size_t recv_all(int fd, char *resp, size_t cap)
{
	size_t got = 0;

	while (got + 1 < cap) {
		ssize_t k = recv(fd, resp + got, cap - 1 - got, 0);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		got += (size_t)k;
	}
	resp[got] = '\0';
	(void)close(fd);
	return got;
}

/* Sends "PUT path" with len bytes of body on a fresh connection to 127.0.0.1:port and reads the
 * whole answer into resp (NUL-terminated); returns the status, -1 when no answer came. */
static int put_body(int port, const char *path, const unsigned char *body, size_t len, char *resp,
		    size_t cap)
{
	struct sockaddr_in sa;
	struct timeval tv = {30, 0};
	char head[256];
	size_t off = 0;
	int fd, n, status = -1;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)), 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	n = snprintf(head, sizeof(head),
		     "PUT %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
		     "application/octet-stream\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
		     path, len);
	assert_true(n > 0 && (size_t)n < sizeof(head));
	assert_int_equal(send(fd, head, (size_t)n, MSG_NOSIGNAL), n);
	while (off < len) {
		ssize_t k = send(fd, body + off, len - off, MSG_NOSIGNAL);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break; /* the server may stop reading; its answer is what counts */
		off += (size_t)k;
	}
	(void)recv_all(fd, resp, cap);
	if (sscanf(resp, "HTTP/1.1 %d", &status) != 1)
		status = -1;
	return status;
}

static void test_upload_body_limits(void **state)
{
	struct httpd_options opt;
	struct pp_error err;
	struct httpd *h;
	unsigned char *body;
	char resp[4096], want[64];
	uint64_t sum = 0;
	size_t i, len = 9 * MIB;
	int port;

	(void)state;
	body = malloc(len);
	assert_non_null(body);
	for (i = 0; i < len; i++)
		body[i] = (unsigned char)(i * 7 + (i >> 13));
	for (i = 0; i < 5 * MIB; i++)
		sum += body[i];
	memset(&opt, 0, sizeof(opt));
	opt.listen = "127.0.0.1:0";
	opt.threads = 1;
	pp_error_clear(&err);
	h = httpd_new(&opt, &err);
	assert_non_null(h);
	assert_int_equal(httpd_route(h, "PUT", "/upload", on_body, NULL, HTTPD_UPLOAD), 0);
	assert_int_equal(httpd_route(h, "PUT", "/normal", on_body, NULL, 0), 0);
	assert_int_equal(httpd_start(h, &err), 0);
	port = httpd_port(h, false);

	/* 5 MiB: accepted whole on the upload route, the handler sees every byte ... */
	assert_int_equal(put_body(port, "/upload", body, 5 * MIB, resp, sizeof(resp)), 200);
	(void)snprintf(want, sizeof(want), "{\"len\":%u,\"sum\":%llu}", 5 * MIB,
		       (unsigned long long)sum);
	assert_non_null(strstr(resp, want));
	/* ... and refused with the JSON 413 on a normal route (max_body, 1 MiB). */
	assert_int_equal(put_body(port, "/normal", body, 5 * MIB, resp, sizeof(resp)), 413);
	assert_non_null(strstr(resp,
			       "{\"error\":{\"code\":\"payload_too_large\",\"message\":"
			       "\"request body is larger than the limit of 1048576 bytes\"}}"));
	/* Just over HTTPD_UPLOAD_CHUNK_MAX: the JSON 413 on the upload route too. */
	assert_int_equal(put_body(port, "/upload", body, 9 * MIB, resp, sizeof(resp)), 413);
	assert_non_null(strstr(resp, "request body is larger than the limit of 8388608 bytes"));
	/* Exactly the limits pass. */
	assert_int_equal(
	    put_body(port, "/upload", body, HTTPD_UPLOAD_CHUNK_MAX, resp, sizeof(resp)), 200);
	assert_int_equal(
	    put_body(port, "/normal", body, HTTPD_DEFAULT_MAX_BODY, resp, sizeof(resp)), 200);
	/* An empty body is an empty body. */
	assert_int_equal(put_body(port, "/upload", body, 0, resp, sizeof(resp)), 200);
	assert_non_null(strstr(resp, "{\"len\":0,\"sum\":0}"));
	httpd_free(h);
	free(body);
}

/* Read system calls of this process so far (/proc/self/io "syscr"): the server's socket reads are
 * readv; the test client only uses send and recv, which are not counted. */
static unsigned long long read_calls(void)
{
	FILE *f = fopen("/proc/self/io", "r");
	unsigned long long n = 0;
	char line[128];

	assert_non_null(f);
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "syscr: %llu", &n) == 1)
			break;
	(void)fclose(f);
	return n;
}

/* Sends all of req on a fresh connection and reads until the server closes it. */
static size_t exchange(int port, const void *req, size_t len, char *resp, size_t cap)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	struct timeval tv = {30, 0};
	size_t off = 0;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true(fd >= 0);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	while (off < len) {
		ssize_t k = send(fd, (const char *)req + off, len - off, MSG_NOSIGNAL);

		assert_true(k > 0 || errno == EINTR);
		off += k > 0 ? (size_t)k : 0;
	}
	return recv_all(fd, resp, cap);
}

/* libevent 2.1 reads 4 KiB a time; a plain connection reads what else its socket holds in the
 * same pass (read_more in httpd.c). An 8 MiB chunk in 4 KiB reads would be 2,048 of them. */
static void test_plain_reads_large(void **state)
{
	struct httpd_options opt = {.listen = "127.0.0.1:0", .threads = 1};
	size_t len = HTTPD_UPLOAD_CHUNK_MAX;
	unsigned char *body = malloc(len);
	unsigned long long before, reads;
	struct pp_error err;
	struct httpd *h;
	char resp[4096], want[64];
	uint64_t sum = 0;

	(void)state;
	assert_non_null(body);
	for (size_t i = 0; i < len; i++) {
		body[i] = (unsigned char)(i * 13 + (i >> 11));
		sum += body[i];
	}
	pp_error_clear(&err);
	h = httpd_new(&opt, &err);
	assert_non_null(h);
	assert_int_equal(httpd_route(h, "PUT", "/upload", on_body, NULL, HTTPD_UPLOAD), 0);
	assert_int_equal(httpd_start(h, &err), 0);
	before = read_calls();
	assert_int_equal(put_body(httpd_port(h, false), "/upload", body, len, resp, sizeof(resp)),
			 200);
	reads = read_calls() - before;
	(void)snprintf(want, sizeof(want), "{\"len\":%zu,\"sum\":%llu}", len,
		       (unsigned long long)sum);
	assert_non_null(strstr(resp, want));
	if (reads >= 1024)
		fail_msg("%llu reads for a body of %zu bytes (4 KiB reads: %zu)", reads, len,
			 len / 4096);
	httpd_free(h);
	free(body);
}

/* What read_more takes beyond a request (the next one, sent at once) is the next request's. */
static void test_plain_pipelined(void **state)
{
	struct httpd_options opt = {.listen = "127.0.0.1:0", .threads = 1};
	const size_t first = MIB + 3;
	const char *second = "PUT /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
			     "application/octet-stream\r\nContent-Length: 3\r\nConnection: "
			     "close\r\n\r\nabc";
	char head[256], resp[8192];
	struct pp_error err;
	struct httpd *h;
	unsigned char *req;
	size_t n, total;
	const char *at;

	(void)state;
	n = (size_t)snprintf(head, sizeof(head),
			     "PUT /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
			     "application/octet-stream\r\nContent-Length: %zu\r\n\r\n",
			     first);
	total = n + first + strlen(second);
	req = malloc(total);
	assert_non_null(req);
	memcpy(req, head, n);
	memset(req + n, 1, first);
	memcpy(req + n + first, second, strlen(second));
	pp_error_clear(&err);
	h = httpd_new(&opt, &err);
	assert_non_null(h);
	assert_int_equal(httpd_route(h, "PUT", "/upload", on_body, NULL, HTTPD_UPLOAD), 0);
	assert_int_equal(httpd_start(h, &err), 0);
	(void)exchange(httpd_port(h, false), req, total, resp, sizeof(resp));
	at = strstr(resp, "{\"len\":1048579,\"sum\":1048579}");
	assert_non_null(at);
	assert_non_null(strstr(at, "{\"len\":3,\"sum\":294}"));
	httpd_free(h);
	free(req);
}

/* ---- Range (httpd_parse_range) ---- */

struct range_case {
	const char *header;
	long long total;
	int rc;
	long long offset, length; /* when rc is 0 */
};

static void check_ranges(const struct range_case *c, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		off_t offset = -7, length = -7;
		int rc = httpd_parse_range(c[i].header, (off_t)c[i].total, &offset, &length);

		if (rc != c[i].rc)
			fail_msg("Range \"%s\" of %lld bytes: %d, expected %d",
				 c[i].header != NULL ? c[i].header : "(null)", c[i].total, rc,
				 c[i].rc);
		if (rc == 0 && (offset != c[i].offset || length != c[i].length))
			fail_msg("Range \"%s\" of %lld bytes: %lld+%lld, expected %lld+%lld",
				 c[i].header, c[i].total, (long long)offset, (long long)length,
				 c[i].offset, c[i].length);
		if (rc != 0 && (offset != -7 || length != -7))
			fail_msg("Range \"%s\": outputs written without a range", c[i].header);
	}
}

static void test_range_satisfiable(void **state)
{
	static const struct range_case c[] = {
	    {"bytes=0-99", 1000, 0, 0, 100},
	    {"bytes=0-0", 1000, 0, 0, 1},
	    {"bytes=999-999", 1000, 0, 999, 1},
	    {"bytes=100-", 1000, 0, 100, 900},
	    {"bytes=0-", 1000, 0, 0, 1000},
	    {"bytes=999-", 1000, 0, 999, 1},
	    {"bytes=-100", 1000, 0, 900, 100},
	    {"bytes=-1", 1000, 0, 999, 1},
	    {"bytes=-1000", 1000, 0, 0, 1000},
	    /* Past the end: clipped to the file. */
	    {"bytes=-5000", 1000, 0, 0, 1000},
	    {"bytes=500-5000", 1000, 0, 500, 500},
	    {"bytes=0-99999999999999999999999999", 1000, 0, 0, 1000},
	    {"bytes=-99999999999999999999999999", 1000, 0, 0, 1000},
	    /* The unit in any case, optional white space around the range. */
	    {"Bytes=0-9", 1000, 0, 0, 10},
	    {"BYTES=0-9", 1000, 0, 0, 10},
	    {"bytes= 0-9", 1000, 0, 0, 10},
	    {"bytes=0-9 ", 1000, 0, 0, 10},
	    {"  bytes=0-9\t", 1000, 0, 0, 10},
	    /* Leading zeros are digits. */
	    {"bytes=007-008", 1000, 0, 7, 2},
	    /* A large file. */
	    {"bytes=4294967296-", 8589934592LL, 0, 4294967296LL, 4294967296LL},
	    {"bytes=-1", 8589934592LL, 0, 8589934591LL, 1},
	    {"bytes=0-0", 1, 0, 0, 1},
	};

	(void)state;
	check_ranges(c, sizeof(c) / sizeof(c[0]));
}

static void test_range_unsatisfiable(void **state)
{
	static const struct range_case c[] = {
	    {"bytes=1000-", 1000, 1, 0, 0},
	    {"bytes=1000-1000", 1000, 1, 0, 0},
	    {"bytes=5000-6000", 1000, 1, 0, 0},
	    {"bytes=99999999999999999999999999-", 1000, 1, 0, 0},
	    {"bytes=-0", 1000, 1, 0, 0},
	    {"bytes=-000", 1000, 1, 0, 0},
	    {"bytes=0-", 0, 1, 0, 0},
	    {"bytes=0-0", 0, 1, 0, 0},
	    {"bytes=-0", 0, 1, 0, 0},
	};

	(void)state;
	check_ranges(c, sizeof(c) / sizeof(c[0]));
}

/* Ignored: the whole file is served with 200 (RFC 9110 14.2). */
static void test_range_ignored(void **state)
{
	static const struct range_case c[] = {
	    {NULL, 1000, -1, 0, 0},
	    {"", 1000, -1, 0, 0},
	    {"bytes", 1000, -1, 0, 0},
	    {"bytes=", 1000, -1, 0, 0},
	    {"bytes=-", 1000, -1, 0, 0},
	    {"bytes=5", 1000, -1, 0, 0},
	    {"bytes=a-b", 1000, -1, 0, 0},
	    {"bytes=5-a", 1000, -1, 0, 0},
	    {"bytes=--5", 1000, -1, 0, 0},
	    {"bytes=+5-", 1000, -1, 0, 0},
	    {"bytes=5--", 1000, -1, 0, 0},
	    {"bytes=0x10-", 1000, -1, 0, 0},
	    {"bytes=1.5-2", 1000, -1, 0, 0},
	    {"bytes=0 -9", 1000, -1, 0, 0},
	    {"bytes=0- 9", 1000, -1, 0, 0},
	    {"bytes =0-9", 1000, -1, 0, 0},
	    {"bytes:0-9", 1000, -1, 0, 0},
	    {"byte=0-9", 1000, -1, 0, 0},
	    {"bytesx=0-9", 1000, -1, 0, 0},
	    {"items=0-9", 1000, -1, 0, 0},
	    {"0-9", 1000, -1, 0, 0},
	    /* Last before first is an invalid range, not an unsatisfiable one. */
	    {"bytes=9-0", 1000, -1, 0, 0},
	    {"bytes=5000-10", 1000, -1, 0, 0},
	    /* Several ranges: served whole. */
	    {"bytes=0-9,20-29", 1000, -1, 0, 0},
	    {"bytes=0-9, 20-29", 1000, -1, 0, 0},
	    {"bytes=0-9,", 1000, -1, 0, 0},
	    {"bytes=,0-9", 1000, -1, 0, 0},
	    {"bytes=-5,-5", 1000, -1, 0, 0},
	    /* A suffix of an empty file is the whole (empty) file: no 206 can say that. */
	    {"bytes=-5", 0, -1, 0, 0},
	    /* A negative size is a caller's error. */
	    {"bytes=0-9", -1, -1, 0, 0},
	};

	(void)state;
	check_ranges(c, sizeof(c) / sizeof(c[0]));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pattern_literal),	cmocka_unit_test(test_pattern_captures),
	    cmocka_unit_test(test_pattern_decoding),	cmocka_unit_test(test_pattern_valid),
	    cmocka_unit_test(test_error_json),		cmocka_unit_test(test_error_json_roundtrip),
	    cmocka_unit_test(test_listen_ipv4),		cmocka_unit_test(test_listen_ipv6),
	    cmocka_unit_test(test_listen_refused),	cmocka_unit_test(test_route_refusals),
	    cmocka_unit_test(test_upload_body_limits),	cmocka_unit_test(test_plain_reads_large),
	    cmocka_unit_test(test_plain_pipelined),	cmocka_unit_test(test_range_satisfiable),
	    cmocka_unit_test(test_range_unsatisfiable), cmocka_unit_test(test_range_ignored),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
