/* content_api.c - GET and HEAD /Content/XX/<SHA1>.cab (content_api.h) over the content store. */
#include "content_api.h"

#include "hresult.h"

#include <string.h>
#include <unistd.h>

/* The digest of a URL's {dir}/{file}: "<40 hex>.cab" under its last two hex digits (either case,
 * as IIS serves WSUS content); -1 for anything else. */
static int content_url_sha1(const char *dir, const char *file, char sha1[CONTENT_SHA1_HEX_LEN + 1])
{
	char hex[CONTENT_SHA1_HEX_LEN + 1];
	size_t i;

	if (dir == NULL || file == NULL ||
	    strnlen(file, CONTENT_SHA1_HEX_LEN + 5) != CONTENT_SHA1_HEX_LEN + 4 ||
	    strcmp(file + CONTENT_SHA1_HEX_LEN, ".cab") != 0 || strnlen(dir, 3) != 2)
		return -1;
	memcpy(hex, file, CONTENT_SHA1_HEX_LEN);
	hex[CONTENT_SHA1_HEX_LEN] = '\0';
	if (content_sha1_normalize(hex, sha1) != 0)
		return -1;
	/* sha1 is upper-case hex: equal to it, dir is hex too. */
	for (i = 0; i < 2; i++) {
		char c = dir[i];

		if (c >= 'a' && c <= 'f')
			c = (char)(c - 'a' + 'A');
		if (c != sha1[CONTENT_SHA1_HEX_LEN - 2 + i])
			return -1;
	}
	return 0;
}

static void on_content(struct httpd_request *req, void *ctx)
{
	const struct content_api *ca = ctx;
	char sha1[CONTENT_SHA1_HEX_LEN + 1];
	struct pp_error err;
	uint64_t size = 0;
	off_t offset = 0, length = 0;
	int fd = -1, r;

	pp_error_clear(&err);
	if (content_url_sha1(httpd_request_capture(req, "dir"), httpd_request_capture(req, "file"),
			     sha1) != 0) {
		httpd_reply_error(req, 404, "not_found", "no such content");
		return;
	}
	if (content_store_open_verified(ca->store, sha1, &fd, &size, &err) != 0) {
		switch (err.code) {
		case CONTENT_E_NOT_FOUND:
		case CONTENT_E_BAD_NAME:
			httpd_reply_error(req, 404, "not_found", "no such content");
			return;
		case CONTENT_E_DAMAGED:
			srvlog_write(ca->log, CMTRACE_ERROR, "refused to serve %s: %s",
				     httpd_request_path(req), err.message);
			httpd_reply_error(req, 503, "content_damaged", "%s", err.message);
			return;
		default:
			srvlog_write(ca->log, CMTRACE_ERROR, "cannot serve %s: %s (0x%08X)",
				     httpd_request_path(req), err.message, (unsigned)err.code);
			httpd_reply_error(req, 500, "internal_error", "%s", err.message);
			return;
		}
	}
	/* Range is defined for GET only (RFC 9110 14.2): a HEAD describes the whole file. */
	r = strcmp(httpd_request_method(req), "GET") == 0
		? httpd_parse_range(httpd_request_header(req, "Range"), (off_t)size, &offset,
				    &length)
		: -1;
	if (r == 0) {
		httpd_reply_file_range(req, fd, offset, length, (off_t)size, CONTENT_API_TYPE);
	} else if (r == 1) {
		(void)close(fd);
		httpd_reply_range_not_satisfiable(req, (off_t)size);
	} else {
		httpd_reply_file(req, fd, (off_t)size, CONTENT_API_TYPE);
	}
}

int content_api_add_routes(struct httpd *h, const struct content_api *ca, struct pp_error *err)
{
	/* The handler only reads it. */
	void *ctx = (void *)ca;

	if (httpd_route(h, "GET", "/Content/{dir}/{file}", on_content, ctx, 0) != 0 ||
	    httpd_route(h, "HEAD", "/Content/{dir}/{file}", on_content, ctx, 0) != 0) {
		pp_error_set(err, HR_E_FAIL,
			     "cannot add the content routes (route table full or server started)");
		return -1;
	}
	return 0;
}
