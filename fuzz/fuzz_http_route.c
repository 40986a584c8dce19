/* fuzz_http_route.c - libFuzzer target for the pure parts of the HTTP server (httpd.h): the
 * route matcher, the pattern check and the listen-address parser.
 *
 * The input is split at its first NUL or newline into a pattern and a path (no separator: the
 * whole input is both). Each is matched against the other through httpd_pattern_match, whatever
 * httpd_pattern_valid says of the pattern (the matcher has its own bounds and must keep them), and
 * each is parsed as a listen address by httpd_parse_listen. Invariants of the results are checked
 * and abort() when broken:
 *   - a match fills at most HTTPD_MAX_CAPTURES captures, each with a non-empty name and a
 *     non-empty value holding neither '/' nor NUL (decode_segment refuses both);
 *   - a valid pattern is shorter than HTTPD_PATTERN_MAX and matches the path it describes
 *     (every "{name}" segment replaced by "x"), with one capture per "{name}";
 *   - a parsed listen address is AF_INET or AF_INET6 with the matching length;
 *   - each part, parsed as a Range header (httpd_parse_range) against a few file sizes, gives
 *     either no range, "not satisfiable", or a range with 0 <= offset, 0 < length and
 *     offset + length <= size.
 *
 * Seed corpus (scripts/fuzz.sh): the daemon's own route patterns with matching paths, and listen
 * addresses, for example
 *   printf '/api/v1/sites/{code}\n/api/v1/sites/s%%20one' > seed1
 *   printf '127.0.0.1:8530\n[::1]:8531' > seed2
 */
#include "httpd.h"

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Writes into out (size bytes) the path that pattern describes with every "{name}" segment (the
 * matcher's rule: at least 3 bytes, braces at both ends) replaced by "x"; returns the number of
 * captures. The pattern is valid, so shorter than HTTPD_PATTERN_MAX, and out is as large. */
static size_t instantiate(const char *pattern, char *out, size_t size)
{
	const char *p = pattern, *slash;
	size_t n, o = 0, ncap = 0;

	for (;;) {
		slash = strchr(p, '/');
		n = slash != NULL ? (size_t)(slash - p) : strlen(p);
		if (n >= 3 && p[0] == '{' && p[n - 1] == '}') {
			out[o++] = 'x';
			ncap++;
		} else {
			memcpy(out + o, p, n);
			o += n;
		}
		if (slash == NULL)
			break;
		out[o++] = '/';
		p = slash + 1;
	}
	if (o >= size)
		abort();
	out[o] = '\0';
	return ncap;
}

static void check_captures(const struct httpd_captures *caps)
{
	size_t i, n;

	if (caps->count > HTTPD_MAX_CAPTURES)
		abort();
	for (i = 0; i < caps->count; i++) {
		n = strnlen(caps->name[i], HTTPD_CAPTURE_NAME_MAX);
		if (n == 0 || n == HTTPD_CAPTURE_NAME_MAX)
			abort();
		n = strnlen(caps->value[i], HTTPD_CAPTURE_MAX);
		if (n == 0 || n == HTTPD_CAPTURE_MAX || memchr(caps->value[i], '/', n) != NULL)
			abort();
	}
}

static void match(const char *pattern, const char *path)
{
	struct httpd_captures caps;

	/* Captures are counted only once filled, so even a failed match leaves count valid ones. */
	memset(&caps, 0xA5, sizeof(caps));
	(void)httpd_pattern_match(pattern, path, &caps);
	check_captures(&caps);
}

static void parse_listen(const char *spec)
{
	struct sockaddr_storage ss;
	struct pp_error err;
	socklen_t len = 0;

	pp_error_clear(&err);
	if (httpd_parse_listen(spec, &ss, &len, &err) != 0)
		return;
	if (!((ss.ss_family == AF_INET && len == sizeof(struct sockaddr_in)) ||
	      (ss.ss_family == AF_INET6 && len == sizeof(struct sockaddr_in6))))
		abort();
}

static void parse_range(const char *header)
{
	static const off_t sizes[] = {0, 1, 100, 4096, (off_t)1 << 40};

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		off_t offset = -1, length = -1;
		int r = httpd_parse_range(header, sizes[i], &offset, &length);

		if (r < -1 || r > 1)
			abort();
		if (r == 0 && (offset < 0 || length <= 0 || offset > sizes[i] - length))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf, *pattern, *path;
	size_t i;

	/* One copy, NUL-terminated; the first NUL or newline (if any) ends the pattern. */
	buf = malloc(size + 1);
	if (buf == NULL)
		return 0;
	if (size > 0)
		memcpy(buf, data, size);
	buf[size] = '\0';
	pattern = buf;
	path = buf;
	for (i = 0; i < size; i++)
		if (buf[i] == '\0' || buf[i] == '\n') {
			buf[i] = '\0';
			path = buf + i + 1;
			break;
		}

	match(pattern, path);
	match(path, pattern);
	if (httpd_pattern_valid(pattern)) {
		struct httpd_captures caps;
		char inst[HTTPD_PATTERN_MAX];
		size_t ncap;

		/* A valid pattern is short and matches the path it describes, capturing each
		 * "{name}" once. */
		if (strlen(pattern) >= HTTPD_PATTERN_MAX)
			abort();
		ncap = instantiate(pattern, inst, sizeof(inst));
		if (!httpd_pattern_match(pattern, inst, &caps) || caps.count != ncap)
			abort();
		check_captures(&caps);
	}
	(void)httpd_pattern_valid(path);
	parse_listen(pattern);
	parse_listen(path);
	parse_range(pattern);
	parse_range(path);
	free(buf);
	return 0;
}
