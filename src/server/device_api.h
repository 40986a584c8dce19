/* device_api.h - devices, enrollment keys, collections and client settings (admin routes of the
 * site role, docs/api.md) and the device protocol of the mp role: registration and machine
 * policy (docs/internals/device-protocol.md). */
#ifndef PATCHPOINT_DEVICE_API_H
#define PATCHPOINT_DEVICE_API_H

#include "api.h"
#include "error.h"
#include "httpd.h"

/* The admin routes with the site role, the device routes with the mp role. */
int device_api_add_routes(struct httpd *h, struct api *a, struct pp_error *err) PP_WARN_UNUSED;

struct store;
struct store_device;

/* The device whose credential (Authorization: Bearer) req carries, for the other device routes
 * (gpo_api.c); -1 after replying 401 invalid_credential (or the database's failure). */
int device_api_authenticate(struct api *a, struct httpd_request *req, struct store *s,
			    struct store_device *d) PP_WARN_UNUSED;

#endif
