/* fuzz_agent_ts.c - libFuzzer target for the agent's parsers of task sequences
 * (src/agent/agent_ts.h): the site's answer of GET /api/v1/device/task-sequences, checked whole
 * before anything runs, and a run as the agent keeps it on disk.
 *
 * The input is parsed as JSON (jansson) and handed to agent_ts_parse and to
 * agent_ts_run_from_json. Broken invariants abort():
 *   - a rejected input comes with a message;
 *   - an accepted answer has at most AGENT_TS_DEPLOYMENTS_MAX deployments of 1 to TS_STEPS_MAX
 *     steps that each pass ts_step_check, every package a step names is in the answer, and
 *     every package file's path passes ts_package_path_check;
 *   - an accepted run has 1 to TS_STEPS_MAX steps and goes back to JSON and is read again
 *     the same.
 *
 * Seed corpus (scripts/fuzz.sh): an answer as patchpointd serves it and a run as the agent
 * keeps it. */
#include "agent_ts.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct agent_ts_run run, back;
	json_error_t jerr;
	json_t *doc = json_loadb((const char *)data, size, 0, &jerr), *again;
	struct agent_ts_doc d;
	struct pp_error err;

	if (doc == NULL)
		return 0;
	pp_error_clear(&err);
	if (agent_ts_parse(doc, &d, &err) != 0) {
		if (err.message[0] == '\0')
			abort();
	} else {
		if (d.ndeployments > AGENT_TS_DEPLOYMENTS_MAX)
			abort();
		for (size_t i = 0; i < d.ndeployments; i++) {
			if (d.deployments[i].nsteps < 1 || d.deployments[i].nsteps > TS_STEPS_MAX)
				abort();
			for (size_t k = 0; k < d.deployments[i].nsteps; k++) {
				const struct ts_step *s = &d.deployments[i].steps[k];

				if (ts_step_check(s, &err) != 0 ||
				    (s->package_id[0] != '\0' &&
				     agent_ts_doc_package(&d, s->package_id) == NULL))
					abort();
			}
		}
		for (size_t i = 0; i < d.npackages; i++)
			for (size_t k = 0; k < d.packages[i].nfiles; k++)
				if (ts_package_path_check(d.packages[i].files[k].path, &err) != 0)
					abort();
	}
	agent_ts_doc_free(&d);
	pp_error_clear(&err);
	if (agent_ts_run_from_json(doc, &run, &err) == 0) {
		if (run.nsteps < 1 || run.nsteps > TS_STEPS_MAX)
			abort();
		again = agent_ts_run_json(&run, true);
		if (again == NULL || agent_ts_run_from_json(again, &back, &err) != 0 ||
		    back.seq != run.seq || back.nsteps != run.nsteps ||
		    strcmp(back.run_id, run.run_id) != 0)
			abort();
		json_decref(again);
	} else if (err.message[0] == '\0') {
		abort();
	}
	json_decref(doc);
	return 0;
}
