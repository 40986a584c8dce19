/* sup_api.h - the signing store of a software update point served to its site server
 * (docs/api.md, "Signing store of a software update point"; DESIGN 5.3): list, generate, import
 * and delete over HTTPS only. The remote backend of signstore.h is the client of these routes.
 */
#ifndef PATCHPOINT_SUP_API_H
#define PATCHPOINT_SUP_API_H

#include "error.h"
#include "httpd.h"
#include "signstore.h"

#include <stddef.h>
#include <stdint.h>

#define SUP_API_HTTPS_REQUIRED "the signing store is served over HTTPS only"

/* Registers, all HTTPD_ADMIN, on h (before httpd_start):
 *   GET    /api/v1/signing-store               200 {"certificates":[entry...]}
 *   POST   /api/v1/signing-store/generate      201 {"certificate":entry}
 *   POST   /api/v1/signing-store/import        201 {"certificate":entry}; 422 import_failed
 *   DELETE /api/v1/signing-store/{thumbprint}  200 {"deleted":"<THUMBPRINT>"}; 404
 * Each answers 403 https_required on a request that did not come over TLS. local is borrowed and
 * must outlive h; the routes call it one at a time. An error that comes from the store (404, 422,
 * 400 or 500 after its code) carries, besides code and message, "hresult" ("0x80070056"), so that
 * the site server keeps the signer's code of a refused PFX. */
int sup_api_add_routes(struct httpd *h, struct signstore *local,
		       struct pp_error *err) PP_WARN_UNUSED;

#endif
