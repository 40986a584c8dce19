/* content_api.h - the content downloads of the sup role: update cabinets served from the
 * content store (content.h) at the URLs WSUS clients know, /Content/XX/<SHA1>.cab, without
 * authentication (the content is signed and its digests are in the update's metadata), with
 * byte ranges for resumed downloads. */
#ifndef PATCHPOINT_CONTENT_API_H
#define PATCHPOINT_CONTENT_API_H

#include "content.h"
#include "error.h"
#include "httpd.h"
#include "srvlog.h"

#define CONTENT_API_TYPE "application/vnd.ms-cab-compressed"

/* What the routes serve from and log to; borrowed by the routes, it must outlive the server. */
struct content_api {
	struct content_store *store;
	struct srvlog *log; /* patchpointd.log: damaged content and failures; NULL = silent */
};

/* Registers on h (before httpd_start), without HTTPD_ADMIN:
 *   GET, HEAD /Content/{dir}/{file}
 * {file} must be "<40 hex>.cab" and {dir} its last two hex digits (either case), else 404
 * not_found. 200 with the whole file (Accept-Ranges: bytes), 206 for one satisfiable range of a
 * GET (httpd_parse_range), 416 range_not_satisfiable; 404 not_found for content not in the
 * store; 503 content_damaged (logged) when its SHA-1 is not its name. */
int content_api_add_routes(struct httpd *h, const struct content_api *ca,
			   struct pp_error *err) PP_WARN_UNUSED;

#endif
