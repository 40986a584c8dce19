/* fuzz_ts_run.c - libFuzzer target for the server's parser of what devices report about task
 * sequence runs (ts_api_parse_run, src/server/ts_api.h; POST /api/v1/device/task-sequences/runs).
 *
 * The input is parsed as JSON (jansson) and each element of "runs" (or the input itself) handed
 * to ts_api_parse_run. Broken invariants abort(): a rejected run comes with a message naming
 * the field; an accepted one has a valid run id and task sequence id, 1 to TS_STEPS_MAX steps
 * at positions 1..n with names, types and states in range, and details that fit.
 *
 * Seed corpus (scripts/fuzz.sh): a report as the agent sends it. */
#include "ts_api.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const json_t *v)
{
	static struct store_ts_step_result steps[TS_STEPS_MAX];
	struct store_ts_run run;
	struct pp_error err;

	pp_error_clear(&err);
	if (ts_api_parse_run(v, &run, steps, &err) != 0) {
		if (err.message[0] == '\0')
			abort();
		return;
	}
	if (!ts_run_id_valid(run.run_id) || !ts_id_valid(run.ts_id) || run.step_count < 1 ||
	    run.step_count > TS_STEPS_MAX || (unsigned)run.state >= TS_RUN_STATE_COUNT)
		abort();
	for (size_t i = 0; i < run.step_count; i++)
		if (run.steps[i].position != (int)i + 1 ||
		    (unsigned)run.steps[i].type >= TS_STEP_TYPE_COUNT ||
		    (unsigned)run.steps[i].state >= TS_STEP_STATE_COUNT ||
		    strlen(run.steps[i].name) == 0 || strlen(run.steps[i].detail) > TS_DETAIL_MAX)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_error_t jerr;
	json_t *doc = json_loadb((const char *)data, size, 0, &jerr), *v;
	size_t i;

	if (doc == NULL)
		return 0;
	if (json_is_array(json_object_get(doc, "runs")))
		json_array_foreach(json_object_get(doc, "runs"), i, v) check(v);
	else
		check(doc);
	json_decref(doc);
	return 0;
}
