/* gpo_api.h - group policy objects over the REST API (docs/api.md "Group policy"): the admin
 * routes of the site role (GPOs, their certificates, policy values, links and SYSVOL folder)
 * and the device routes of the mp role (the GPOs that apply to the calling device, each with
 * its Machine/Registry.pol). */
#ifndef PATCHPOINT_GPO_API_H
#define PATCHPOINT_GPO_API_H

#include "api.h"
#include "error.h"
#include "httpd.h"

/* The admin routes with the site role, the device routes with the mp role. */
int gpo_api_add_routes(struct httpd *h, struct api *a, struct pp_error *err) PP_WARN_UNUSED;

#endif
