/* upload_api.h - the REST routes of resumable uploads (docs/api.md, "Uploads") over upload.h:
 * files too large for one request body (update content, vendor catalogs) are sent in chunks
 * that can be resumed after a failure, and consumed in-process by their id.
 */
#ifndef PATCHPOINT_UPLOAD_API_H
#define PATCHPOINT_UPLOAD_API_H

#include "error.h"
#include "httpd.h"

#include <stdint.h>

/* The length (padded to 8) of the signature the SUP would put on a cabinet now; -1 when it has
 * no signing certificate. */
typedef int (*upload_api_signature_fn)(void *ctx, uint32_t *length, struct pp_error *err);

struct upload_api_options {
	const char *uploads_dir; /* must exist; borrowed, must outlive the server */
	/* For "cabinet" uploads (a SUP); NULL: every upload is a plain one. */
	upload_api_signature_fn signature_length;
	void *signature_ctx;
};

/* Registers, all HTTPD_ADMIN, on h (before httpd_start):
 *   POST   /api/v1/uploads              {"size","sha256"?,"name"?,"cabinet"?} -> 201 upload
 *   PUT    /api/v1/uploads/{id}?offset=N application/octet-stream chunk (HTTPD_UPLOAD)
 *                                        -> 200 upload; 409 offset_mismatch; 400 size_exceeded,
 *                                        digest_mismatch; 404 not_found
 *   GET    /api/v1/uploads/{id}          -> 200 upload
 *   DELETE /api/v1/uploads/{id}          -> 204
 * where upload is {"id","size","received","chunk_size","complete","cabinet","sha256"?,
 * "name"?,"sha1"?}. "cabinet": true asks for a cabinet upload (upload_create_cabinet) when the
 * SUP can sign one now; the answer's "cabinet" says whether it is one. Uploads untouched for
 * UPLOAD_MAX_AGE_DEFAULT are removed before each create. opt is borrowed and must outlive h. */
int upload_api_add_routes(struct httpd *h, const struct upload_api_options *opt,
			  struct pp_error *err) PP_WARN_UNUSED;

#endif
