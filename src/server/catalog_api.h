/* catalog_api.h - the catalog and update routes of the site role (docs/api.md). */
#ifndef PATCHPOINT_CATALOG_API_H
#define PATCHPOINT_CATALOG_API_H

#include "api.h"
#include "error.h"
#include "httpd.h"

/* POST /api/v1/catalogs/import, GET /api/v1/catalogs, /catalogs/export, /updates,
 * /updates/{id}, /updates/{id}/sdp; all admin routes. a->uploads_dir names the uploads. */
int catalog_api_add_routes(struct httpd *h, struct api *a, struct pp_error *err) PP_WARN_UNUSED;

#endif
