/* upload_api.h - the REST routes of resumable uploads (docs/api.md, "Uploads") over upload.h:
 * files too large for one request body (update content, vendor catalogs) are sent in chunks
 * that can be resumed after a failure, and consumed in-process by their id.
 */
#ifndef PATCHPOINT_UPLOAD_API_H
#define PATCHPOINT_UPLOAD_API_H

#include "error.h"
#include "httpd.h"

/* Registers, all HTTPD_ADMIN, on h (before httpd_start):
 *   POST   /api/v1/uploads              {"size","sha256"?,"name"?} -> 201 upload
 *   PUT    /api/v1/uploads/{id}?offset=N application/octet-stream chunk (HTTPD_UPLOAD)
 *                                        -> 200 upload; 409 offset_mismatch; 400 size_exceeded,
 *                                        digest_mismatch; 404 not_found
 *   GET    /api/v1/uploads/{id}          -> 200 upload
 *   DELETE /api/v1/uploads/{id}          -> 204
 * where upload is {"id","size","received","chunk_size","complete","sha256"?,"name"?}. Uploads
 * untouched for UPLOAD_MAX_AGE_DEFAULT are removed before each create. uploads_dir (which must
 * exist) is borrowed and must outlive h. */
int upload_api_add_routes(struct httpd *h, const char *uploads_dir,
			  struct pp_error *err) PP_WARN_UNUSED;

#endif
