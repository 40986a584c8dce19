/* ts_api.h - packages and task sequences (docs/api.md "Packages", "Task sequences"): the admin
 * routes of the site role, and the device routes of the mp role that give a device the task
 * sequences deployed to it and take its run reports (docs/internals/task-sequences.md). Package
 * files go into the sup role's content store and are served as content (/Content/XX/SHA1.cab);
 * creating or changing a package's files therefore needs the sup role in the same process. */
#ifndef PATCHPOINT_TS_API_H
#define PATCHPOINT_TS_API_H

#include "api.h"
#include "error.h"
#include "httpd.h"
#include "store.h"

#include <jansson.h>

#define TS_API_RUNS_MAX 64 /* runs in one report */

/* The admin routes with the site role, the device routes with the mp role. */
int ts_api_add_routes(struct httpd *h, struct api *a, struct pp_error *err) PP_WARN_UNUSED;

/* Reads one run of a device's report ({"run_id", ..., "steps": [...]}, docs/api.md) into run,
 * its steps into steps (TS_STEPS_MAX entries). -1 with E_INVALIDARG naming the field. Exposed
 * for the fuzz target: this is the parser of what devices send. */
int ts_api_parse_run(const json_t *v, struct store_ts_run *run, struct store_ts_step_result *steps,
		     struct pp_error *err) PP_WARN_UNUSED;

#endif
