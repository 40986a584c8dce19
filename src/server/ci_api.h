/* ci_api.h - configuration items and baselines over the REST API (docs/api.md "Configuration
 * items and baselines"): the admin routes of the site role (items, baselines, deployments,
 * compliance) and the device routes of the mp role, from which an agent gets the baselines
 * deployed to it and to which it sends what it found (docs/internals/device-protocol.md
 * "Configuration baselines"). */
#ifndef PATCHPOINT_CI_API_H
#define PATCHPOINT_CI_API_H

#include "api.h"
#include "error.h"
#include "httpd.h"

#include <jansson.h>

#define CI_API_BASELINES_PATH "/api/v1/device/baselines"
#define CI_API_REPORTS_PATH   "/api/v1/device/baseline-reports"

/* The admin routes with the site role, the device routes with the mp role. */
int ci_api_add_routes(struct httpd *h, struct api *a, struct pp_error *err) PP_WARN_UNUSED;

struct store;
struct store_device;

/* The baselines document of one device ({"version", "baselines": [...]}, see the device
 * protocol): every baseline deployed to it, its deployments merged (remediate if any says so,
 * the shortest schedule), with each item whole. The caller owns it. */
json_t *ci_api_device_document(struct store *s, const struct store_device *d,
			       struct pp_error *err) PP_WARN_UNUSED;

#endif
