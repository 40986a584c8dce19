/* publish_api.h - publishing, revising, expiring and deleting updates, collections and
 * deployments (docs/api.md); routes of the site role, publishing itself needs the sup role's
 * signer and content store in the same process. */
#ifndef PATCHPOINT_PUBLISH_API_H
#define PATCHPOINT_PUBLISH_API_H

#include "api.h"
#include "error.h"
#include "httpd.h"

int publish_api_add_routes(struct httpd *h, struct api *a, struct pp_error *err) PP_WARN_UNUSED;

#endif
