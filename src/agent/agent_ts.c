/* agent_ts.c - task sequences on the device (see agent_ts.h, docs/internals/task-sequences.md):
 * the site's answer checked whole, the step runner, the run kept on disk and reported. */
#include "agent_ts.h"

#include "agent_http.h"
#include "agent_policy.h"
#include "agent_queue.h"

#include "atomicfile.h"
#include "hresult.h"
#include "machinepolicy.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TS_DIR		 "ts"
#define DEPLOYMENTS_FILE "ts/deployments.json"
#define RUNS_DIR	 "ts/runs"
#define CACHE_DIR	 "ts/cache"
#define WORK_DIR	 "ts/work"
#define RUN_AGAIN	 "remove it; its run is then forgotten"
#define DEPLOYMENTS_AGAIN                                                                          \
	"remove it; every deployed task sequence then runs again at the next cycle"
#define COPY_CHUNK (64u * 1024u)
#define ENV_MAX	   12

static long long now_s(void)
{
	return (long long)time(NULL);
}

static bool int_member(const json_t *o, const char *key, long long min, long long max,
		       long long *out)
{
	const json_t *v = json_object_get(o, key);

	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
		return false;
	*out = (long long)json_integer_value(v);
	return true;
}

/* A string member of at most max bytes into out; false when it is absent or longer. */
static bool text_member(const json_t *o, const char *key, char *out, size_t size)
{
	const json_t *v = json_object_get(o, key);

	if (!json_is_string(v) || json_string_length(v) >= size)
		return false;
	memcpy(out, json_string_value(v), json_string_length(v) + 1);
	return true;
}

static bool hex_ok(const char *s, size_t len, const char *digits)
{
	return strlen(s) == len && strspn(s, digits) == len;
}

/* ---- the site's answer ---- */

void agent_ts_doc_free(struct agent_ts_doc *d)
{
	if (d == NULL)
		return;
	for (size_t i = 0; d->deployments != NULL && i < d->ndeployments; i++)
		free(d->deployments[i].steps);
	for (size_t i = 0; d->packages != NULL && i < d->npackages; i++)
		free(d->packages[i].files);
	free(d->deployments);
	free(d->packages);
	memset(d, 0, sizeof(*d));
}

const struct agent_ts_package *agent_ts_doc_package(const struct agent_ts_doc *d, const char *id)
{
	for (size_t i = 0; i < d->npackages; i++)
		if (strcmp(d->packages[i].id, id) == 0)
			return &d->packages[i];
	return NULL;
}

/* A content URL we may put after the server's address. */
static bool url_ok(const char *u)
{
	return u[0] == '/' && strstr(u, "..") == NULL &&
	       strspn(u, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/._-") ==
		   strlen(u);
}

static int parse_package(const char *key, const json_t *v, struct agent_ts_package *p,
			 struct pp_error *err)
{
	const json_t *files = json_object_get(v, "files"), *f;
	struct pp_error e;
	size_t i;

	memset(p, 0, sizeof(*p));
	pp_error_clear(&e);
	if (!json_is_object(v) || !text_member(v, "id", p->id, sizeof(p->id)) ||
	    !ts_id_valid(p->id) || strcmp(p->id, key) != 0) {
		pp_error_set(err, HR_ERROR_INVALID_DATA, "packages.%.16s: bad or missing id", key);
		return -1;
	}
	if (!text_member(v, "name", p->name, sizeof(p->name)) ||
	    ts_name_check(p->name, "name", &e) != 0 ||
	    !text_member(v, "version", p->version, sizeof(p->version)) ||
	    ts_version_check(p->version, &e) != 0 ||
	    !int_member(v, "source_version", 1, LLONG_MAX, &p->source_version) ||
	    !json_is_array(files) || json_array_size(files) < 1 ||
	    json_array_size(files) > TS_PACKAGE_FILES_MAX) {
		pp_error_set(err, HR_ERROR_INVALID_DATA,
			     "package %s: bad or missing name, version, source_version or files",
			     p->id);
		return -1;
	}
	p->files = calloc(json_array_size(files), sizeof(*p->files));
	if (p->files == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
		return -1;
	}
	json_array_foreach(files, i, f)
	{
		struct agent_ts_file *o = &p->files[i];
		long long size = 0;

		if (!json_is_object(f) || !text_member(f, "path", o->path, sizeof(o->path)) ||
		    ts_package_path_check(o->path, &e) != 0 ||
		    !text_member(f, "url", o->url, sizeof(o->url)) || !url_ok(o->url) ||
		    !text_member(f, "sha1", o->sha1, sizeof(o->sha1)) ||
		    !hex_ok(o->sha1, 40, "0123456789ABCDEF") ||
		    !text_member(f, "sha256", o->sha256, sizeof(o->sha256)) ||
		    !hex_ok(o->sha256, 64, "0123456789abcdef") ||
		    !int_member(f, "size", 0, (long long)(8ull << 30), &size)) {
			pp_error_set(err, HR_ERROR_INVALID_DATA,
				     "package %s: files[%zu] is not {\"path\", \"url\", \"sha1\", "
				     "\"sha256\", \"size\"}",
				     p->id, i);
			return -1;
		}
		o->size = (uint64_t)size;
		for (size_t k = 0; k < i; k++)
			if (strcmp(p->files[k].path, o->path) == 0) {
				pp_error_set(err, HR_ERROR_INVALID_DATA,
					     "package %s lists %s twice", p->id, o->path);
				return -1;
			}
		p->nfiles++;
	}
	return 0;
}

static int parse_step(const json_t *v, size_t i, struct ts_step *s, struct pp_error *err)
{
	const json_t *pkg = json_object_get(v, "package"),
		     *coe = json_object_get(v, "continue_on_error");
	long long pos = 0, timeout = 0, value = 0;
	char type[32];
	struct pp_error e;

	memset(s, 0, sizeof(*s));
	pp_error_clear(&e);
	if (!json_is_object(v) || !int_member(v, "position", 1, TS_STEPS_MAX, &pos) ||
	    pos != (long long)i + 1 || !text_member(v, "name", s->name, sizeof(s->name)) ||
	    !text_member(v, "type", type, sizeof(type)) ||
	    ts_step_type_parse(type, &s->type, &e) != 0 || !json_is_boolean(coe)) {
		pp_error_set(err, HR_ERROR_INVALID_DATA,
			     "steps[%zu]: bad or missing position, name, type or "
			     "continue_on_error",
			     i);
		return -1;
	}
	s->continue_on_error = json_is_true(coe);
	if (s->type == TS_STEP_RUN_COMMAND_LINE) {
		if (!text_member(v, "command_line", s->command_line, sizeof(s->command_line)) ||
		    !int_member(v, "timeout", 1, TS_TIMEOUT_MAX, &timeout) ||
		    (!json_is_null(pkg) &&
		     (!json_is_object(pkg) ||
		      !text_member(pkg, "id", s->package_id, sizeof(s->package_id))))) {
			pp_error_set(err, HR_ERROR_INVALID_DATA,
				     "steps[%zu]: a Run Command Line step needs command_line, "
				     "timeout and package (null or {\"id\"})",
				     i);
			return -1;
		}
		s->timeout = (unsigned)timeout;
	} else if (s->type == TS_STEP_SET_POLICY) {
		if (!text_member(v, "policy_name", s->policy_name, sizeof(s->policy_name)) ||
		    !int_member(v, "policy_value", 0, 0xFFFFFFFFLL, &value)) {
			pp_error_set(err, HR_ERROR_INVALID_DATA,
				     "steps[%zu]: a Set Policy step needs policy_name and "
				     "policy_value",
				     i);
			return -1;
		}
		s->policy_value = (uint32_t)value;
	}
	if (ts_step_check(s, &e) != 0) {
		pp_error_set(err, HR_ERROR_INVALID_DATA, "steps[%zu]: %s", i, e.message);
		return -1;
	}
	return 0;
}

static int parse_deployment(const json_t *v, size_t i, struct agent_ts_deployment *d,
			    struct pp_error *err)
{
	const json_t *t = json_object_get(v, "task_sequence"), *steps, *s;
	struct pp_error e;
	size_t k;

	memset(d, 0, sizeof(*d));
	pp_error_clear(&e);
	steps = json_object_get(t, "steps");
	if (!json_is_object(v) || !int_member(v, "deployment_id", 1, LLONG_MAX, &d->id) ||
	    !int_member(v, "available_at", 0, LLONG_MAX, &d->available_at) || !json_is_object(t) ||
	    !text_member(t, "id", d->ts_id, sizeof(d->ts_id)) || !ts_id_valid(d->ts_id) ||
	    !text_member(t, "name", d->ts_name, sizeof(d->ts_name)) ||
	    ts_name_check(d->ts_name, "name", &e) != 0 ||
	    !int_member(t, "revision", 1, LLONG_MAX, &d->revision) || !json_is_array(steps) ||
	    json_array_size(steps) < 1 || json_array_size(steps) > TS_STEPS_MAX) {
		pp_error_set(err, HR_ERROR_INVALID_DATA,
			     "deployments[%zu] is not {\"deployment_id\", \"available_at\", "
			     "\"task_sequence\": {\"id\", \"name\", \"revision\", \"steps\": "
			     "[1 to %d]}}",
			     i, TS_STEPS_MAX);
		return -1;
	}
	d->steps = calloc(json_array_size(steps), sizeof(*d->steps));
	if (d->steps == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
		return -1;
	}
	json_array_foreach(steps, k, s)
	{
		if (parse_step(s, k, &d->steps[k], &e) != 0) {
			pp_error_set(err, e.code, "deployments[%zu]: %s", i, e.message);
			return -1;
		}
		d->nsteps++;
	}
	return 0;
}

int agent_ts_parse(const json_t *answer, struct agent_ts_doc *out, struct pp_error *err)
{
	const json_t *deps = json_object_get(answer, "deployments");
	const json_t *pkgs = json_object_get(answer, "packages"), *v;
	const char *key;
	size_t i;

	memset(out, 0, sizeof(*out));
	if (!json_is_object(answer) || !json_is_array(deps) || !json_is_object(pkgs) ||
	    json_array_size(deps) > AGENT_TS_DEPLOYMENTS_MAX ||
	    json_object_size(pkgs) > AGENT_TS_PACKAGES_MAX) {
		pp_error_set(err, HR_ERROR_INVALID_DATA,
			     "the site's task sequences are not {\"deployments\": [at most %d], "
			     "\"packages\": {at most %d}}",
			     AGENT_TS_DEPLOYMENTS_MAX, AGENT_TS_PACKAGES_MAX);
		return -1;
	}
	out->deployments = calloc(json_array_size(deps) + 1, sizeof(*out->deployments));
	out->packages = calloc(json_object_size(pkgs) + 1, sizeof(*out->packages));
	if (out->deployments == NULL || out->packages == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
		return -1;
	}
	json_object_foreach((json_t *)pkgs, key, v)
	{
		int rc = parse_package(key, v, &out->packages[out->npackages], err);

		out->npackages++; /* freed whatever happened */
		if (rc != 0)
			return -1;
	}
	json_array_foreach(deps, i, v)
	{
		int rc = parse_deployment(v, i, &out->deployments[i], err);

		out->ndeployments++;
		if (rc != 0)
			return -1;
		for (size_t k = 0; k < out->deployments[i].nsteps; k++) {
			const char *pid = out->deployments[i].steps[k].package_id;

			if (pid[0] != '\0' && agent_ts_doc_package(out, pid) == NULL) {
				pp_error_set(
				    err, HR_ERROR_INVALID_DATA,
				    "deployments[%zu]: step %zu names package %s, which the "
				    "answer does not hold",
				    i, k + 1, pid);
				return -1;
			}
		}
	}
	return 0;
}

/* ---- runs ---- */

int agent_ts_run_begin(const struct agent_ts_deployment *d, struct agent_ts_run *run,
		       struct pp_error *err)
{
	memset(run, 0, sizeof(*run));
	if (agent_state_uuid(run->run_id, err) != 0)
		return -1;
	run->deployment_id = d->id;
	memcpy(run->ts_id, d->ts_id, sizeof(run->ts_id));
	memcpy(run->ts_name, d->ts_name, sizeof(run->ts_name));
	run->revision = d->revision;
	run->state = TS_RUN_RUNNING;
	run->started_at = now_s();
	run->nsteps = d->nsteps;
	for (size_t i = 0; i < d->nsteps; i++) {
		memcpy(run->steps[i].name, d->steps[i].name, sizeof(run->steps[i].name));
		run->steps[i].type = d->steps[i].type;
		run->steps[i].state = TS_STEP_PENDING;
	}
	return 0;
}

static json_t *hresult_json(bool has, uint32_t hr)
{
	char text[11];

	if (!has)
		return json_null();
	(void)snprintf(text, sizeof(text), "0x%08X", (unsigned)hr);
	return json_string(text);
}

static json_t *time_json(long long t)
{
	return t > 0 ? json_integer(t) : json_null();
}

json_t *agent_ts_run_json(const struct agent_ts_run *run, bool local)
{
	json_t *steps = json_array(), *j;

	for (size_t i = 0; steps != NULL && i < run->nsteps; i++) {
		const struct agent_ts_result *r = &run->steps[i];

		if (json_array_append_new(
			steps,
			json_pack("{s:I, s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:s}", "position",
				  (json_int_t)i + 1, "name", r->name, "type",
				  ts_step_type_key(r->type), "state", ts_step_state_name(r->state),
				  "exit_code",
				  r->has_exit_code ? json_integer(r->exit_code) : json_null(),
				  "hresult", hresult_json(r->has_hresult, r->hresult), "started_at",
				  time_json(r->started_at), "finished_at",
				  time_json(r->finished_at), "detail", r->detail)) != 0) {
			json_decref(steps);
			return NULL;
		}
	}
	j = json_pack("{s:s, s:I, s:s, s:I, s:I, s:s, s:o, s:I, s:o, s:o}", "run_id", run->run_id,
		      "deployment_id", (json_int_t)run->deployment_id, "task_sequence_id",
		      run->ts_id, "revision", (json_int_t)run->revision, "seq",
		      (json_int_t)run->seq, "state", ts_run_state_name(run->state), "hresult",
		      hresult_json(run->has_hresult, run->hresult), "started_at",
		      (json_int_t)run->started_at, "finished_at", time_json(run->finished_at),
		      "steps", steps);
	if (j != NULL && local &&
	    (json_object_set_new(j, "task_sequence", json_string(run->ts_name)) != 0 ||
	     json_object_set_new(j, "reported_seq", json_integer(run->reported_seq)) != 0)) {
		json_decref(j);
		j = NULL;
	}
	return j;
}

static bool hresult_member(const json_t *o, const char *key, bool *has, uint32_t *hr)
{
	const json_t *v = json_object_get(o, key);
	const char *t = json_string_value(v);

	*has = false;
	if (v == NULL || json_is_null(v))
		return true;
	if (t == NULL || strlen(t) != 10 || strncmp(t, "0x", 2) != 0 ||
	    strspn(t + 2, "0123456789ABCDEFabcdef") != 8)
		return false;
	*has = true;
	*hr = (uint32_t)strtoul(t + 2, NULL, 16);
	return true;
}

static bool time_member(const json_t *o, const char *key, long long *t)
{
	const json_t *v = json_object_get(o, key);

	*t = 0;
	return v == NULL || json_is_null(v) || int_member(o, key, 0, LLONG_MAX, t);
}

int agent_ts_run_from_json(const json_t *j, struct agent_ts_run *run, struct pp_error *err)
{
	const json_t *steps = json_object_get(j, "steps"), *v;
	char state[32];
	struct pp_error e;
	int st;
	size_t i;

	memset(run, 0, sizeof(*run));
	pp_error_clear(&e);
	if (!json_is_object(j) || !text_member(j, "run_id", run->run_id, sizeof(run->run_id)) ||
	    !ts_run_id_valid(run->run_id) ||
	    !int_member(j, "deployment_id", 1, LLONG_MAX, &run->deployment_id) ||
	    !text_member(j, "task_sequence_id", run->ts_id, sizeof(run->ts_id)) ||
	    !text_member(j, "task_sequence", run->ts_name, sizeof(run->ts_name)) ||
	    !int_member(j, "revision", 1, LLONG_MAX, &run->revision) ||
	    !int_member(j, "seq", 1, LLONG_MAX, &run->seq) ||
	    !int_member(j, "reported_seq", 0, LLONG_MAX, &run->reported_seq) ||
	    !text_member(j, "state", state, sizeof(state)) ||
	    (st = ts_run_state_parse(state)) < 0 ||
	    !hresult_member(j, "hresult", &run->has_hresult, &run->hresult) ||
	    !int_member(j, "started_at", 0, LLONG_MAX, &run->started_at) ||
	    !time_member(j, "finished_at", &run->finished_at) || !json_is_array(steps) ||
	    json_array_size(steps) < 1 || json_array_size(steps) > TS_STEPS_MAX)
		goto bad;
	run->state = (enum ts_run_state)st;
	json_array_foreach(steps, i, v)
	{
		struct agent_ts_result *r = &run->steps[i];
		const json_t *code = json_object_get(v, "exit_code");
		char type[32];

		if (!text_member(v, "name", r->name, sizeof(r->name)) ||
		    !text_member(v, "type", type, sizeof(type)) ||
		    ts_step_type_parse(type, &r->type, &e) != 0 ||
		    !text_member(v, "state", state, sizeof(state)) ||
		    (st = ts_step_state_parse(state)) < 0 ||
		    !hresult_member(v, "hresult", &r->has_hresult, &r->hresult) ||
		    !time_member(v, "started_at", &r->started_at) ||
		    !time_member(v, "finished_at", &r->finished_at) ||
		    !text_member(v, "detail", r->detail, sizeof(r->detail)) ||
		    (code != NULL && !json_is_null(code) && !json_is_integer(code)))
			goto bad;
		r->state = (enum ts_step_state)st;
		if (json_is_integer(code)) {
			r->has_exit_code = true;
			r->exit_code = (long long)json_integer_value(code);
		}
		run->nsteps++;
	}
	return 0;
bad:
	pp_error_set(err, HR_ERROR_INVALID_DATA, "not a task sequence run");
	return -1;
}

/* ---- the step runner ---- */

static int keep(const struct agent_ts_exec *x, struct agent_ts_run *run, struct pp_error *err)
{
	run->seq++;
	return x->hooks.save != NULL ? x->hooks.save(x->hooks.ctx, run, err) : 0;
}

/* rm -rf, never following a link. */
static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		return rmdir(path) != 0 && errno != ENOENT ? -1 : 0;
	return unlink(path) != 0 && errno != ENOENT ? -1 : 0;
}

static int remove_tree(const char *path, struct pp_error *err)
{
	if (nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0 && errno != ENOENT) {
		pp_error_set_errno(err, errno, "cannot remove %s", path);
		return -1;
	}
	return 0;
}

/* What one step came to. */
struct outcome {
	bool ok;
	uint32_t hr;
	bool has_exit_code;
	long long exit_code;
	char detail[TS_DETAIL_MAX + 1];
};

static void outcome_error(struct outcome *o, const struct pp_error *e)
{
	o->ok = false;
	o->hr = e->code != 0 ? e->code : HR_E_FAIL;
	agent_text_format(o->detail, sizeof(o->detail), "%s", e->message);
}

static void run_command_line(const struct agent_ts_exec *x, const struct agent_ts_doc *doc,
			     const struct ts_step *s, size_t index, const char *run_id,
			     struct outcome *o)
{
	const struct agent_ts_package *pkg = NULL;
	char dir[AGENT_PATH_MAX], program[TS_COMMAND_MAX + 1], action[TS_NAME_MAX + 32];
	const char *env[ENV_MAX + 2], *rest = "";
	struct sdp_command_line cl;
	struct agent_handler_extra extra;
	struct agent_handler_result res;
	struct pp_error e;
	size_t n = 0;
	bool made = false;

	pp_error_clear(&e);
	if (snprintf(dir, sizeof(dir), "%s/%.8s.%zu.XXXXXX", x->work_dir, run_id, index + 1) >=
	    (int)sizeof(dir)) {
		pp_error_set(&e, HR_ERROR_INVALID_NAME, "the work directory path is too long");
		goto failed;
	}
	if (mkdtemp(dir) == NULL) {
		pp_error_set_errno(&e, errno, "cannot create a directory in %s", x->work_dir);
		goto failed;
	}
	made = true;
	if (s->package_id[0] != '\0') {
		pkg = doc != NULL ? agent_ts_doc_package(doc, s->package_id) : NULL;
		if (pkg == NULL) {
			pp_error_set(&e, HR_ERROR_FILE_NOT_FOUND, "package %s is not known",
				     s->package_id);
			goto failed;
		}
		agent_log(x->log, CMTRACE_INFO,
			  "Resolving package %s \"%s\" version %s (source version %lld): %zu "
			  "file(s)",
			  pkg->id, pkg->name, pkg->version, pkg->source_version, pkg->nfiles);
		if (x->hooks.package_files == NULL ||
		    x->hooks.package_files(x->hooks.ctx, pkg, dir, &e) != 0) {
			if (e.code == 0)
				pp_error_set(&e, HR_E_FAIL, "the package's files cannot be had");
			goto failed;
		}
	}
	if (ts_command_line_program(s->command_line, program, sizeof(program), &rest, &e) != 0)
		goto failed;
	for (size_t i = 0; x->env != NULL && x->env[i] != NULL && n < ENV_MAX; i++)
		env[n++] = x->env[i];
	agent_text_format(action, sizeof(action), "_SMSTSCurrentActionName=%s", s->name);
	env[n++] = action;
	env[n] = NULL;
	memset(&cl, 0, sizeof(cl));
	cl.program = program;
	cl.arguments = (char *)rest;
	cl.default_result = SDP_RESULT_FAILED;
	extra.env = env;
	extra.search_path = true;
	agent_log(x->log, CMTRACE_INFO, "Executing command line: %s (in %s, time limit %u s)",
		  s->command_line, dir, s->timeout);
	if (agent_updates_run_handler_ex(&cl, dir, s->timeout, x->output_path, NULL, &extra, &res,
					 &e) != 0)
		goto failed;
	o->has_exit_code = res.exit_code >= 0;
	o->exit_code = res.exit_code;
	if (res.timed_out) {
		o->ok = false;
		o->hr = HR_E_FAIL;
		agent_text_format(
		    o->detail, sizeof(o->detail),
		    "the command line ran past its time limit of %u s and was stopped", s->timeout);
		agent_log(x->log, CMTRACE_ERROR, "Command line %s timed out after %u s",
			  s->command_line, s->timeout);
	} else if (res.exit_code < 0) {
		o->ok = false;
		o->hr = HR_E_FAIL;
		agent_text_format(o->detail, sizeof(o->detail), "%s", res.detail);
		agent_log(x->log, CMTRACE_ERROR, "Command line %s did not exit: %s",
			  s->command_line, res.detail);
	} else {
		o->ok = res.exit_code == 0;
		o->hr = o->ok ? HR_S_OK : res.hresult;
		if (!o->ok)
			agent_text_format(o->detail, sizeof(o->detail),
					  "the command line returned %d", res.exit_code);
		agent_log(x->log, o->ok ? CMTRACE_INFO : CMTRACE_ERROR,
			  "Command line %s returned %d", s->command_line, res.exit_code);
	}
	goto out;
failed:
	outcome_error(o, &e);
out:
	pp_error_clear(&e);
	if (made && remove_tree(dir, &e) != 0)
		agent_log(x->log, CMTRACE_WARNING, "%s", e.message);
}

static void install_updates(const struct agent_ts_exec *x, struct outcome *o)
{
	struct pp_error e;
	uint32_t hr = HR_S_OK;

	pp_error_clear(&e);
	agent_log(x->log, CMTRACE_INFO,
		  "Installing the software updates deployed to this device (scan, then deployment "
		  "evaluation)");
	if (x->hooks.install_updates == NULL ||
	    x->hooks.install_updates(x->hooks.ctx, &hr, o->detail, sizeof(o->detail), &e) != 0) {
		if (e.code == 0)
			pp_error_set(&e, HR_E_FAIL, "the software updates cannot be installed");
		outcome_error(o, &e);
		return;
	}
	o->ok = hr == HR_S_OK;
	o->hr = hr;
	agent_log(x->log, o->ok ? CMTRACE_INFO : CMTRACE_ERROR, "%s", o->detail);
}

static void set_policy(const struct agent_ts_exec *x, const struct agent_ts_deployment *d,
		       const struct ts_step *s, struct outcome *o)
{
	char source[MACHINEPOLICY_SOURCE_MAX];
	struct pp_error e;

	pp_error_clear(&e);
	ts_policy_source(d->ts_name, source, sizeof(source));
	if (machinepolicy_set(x->machine, s->policy_name, s->policy_value, source, &e) != 0) {
		outcome_error(o, &e);
		return;
	}
	o->ok = true;
	agent_text_format(o->detail, sizeof(o->detail), "%s = %u (set by %s)", s->policy_name,
			  (unsigned)s->policy_value, source);
	agent_log(x->log, CMTRACE_INFO,
		  "Set policy value %s to %u (REG_DWORD under HKLM\\%s), source %s", s->policy_name,
		  (unsigned)s->policy_value, machinepolicy_registry_key(s->policy_name), source);
}

static void restart(const struct agent_ts_exec *x, const struct ts_step *s, struct outcome *o)
{
	o->ok = true;
	agent_text_format(o->detail, sizeof(o->detail),
			  "a restart was requested; patchpoint-agent does not restart the device");
	agent_log(x->log, CMTRACE_WARNING,
		  "The action (%s) requests a restart of the computer. patchpoint-agent records it "
		  "and does not restart the device; the task sequence continues",
		  s->name);
}

static void run_end(const struct agent_ts_exec *x, struct agent_ts_run *run, size_t failed_at)
{
	char text[PP_ERROR_MESSAGE_MAX];

	run->finished_at = now_s();
	if (run->state == TS_RUN_INTERRUPTED) {
		agent_log(x->log, CMTRACE_WARNING,
			  "The task sequence run %s was stopped before its end: recorded as "
			  "interrupted (0x%08X)",
			  run->run_id, (unsigned)run->hresult);
		agent_log(x->log, CMTRACE_ERROR,
			  "The task sequence execution engine failed execution of a task sequence");
		return;
	}
	if (failed_at > 0) {
		run->state = TS_RUN_FAILED;
		agent_log(x->log, CMTRACE_ERROR, "Task sequence \"%s\" failed at step %zu (%s): %s",
			  run->ts_name, failed_at, run->steps[failed_at - 1].name,
			  hresult_format(run->hresult, text, sizeof(text)));
		agent_log(x->log, CMTRACE_ERROR,
			  "The task sequence execution engine failed execution of a task sequence");
		return;
	}
	run->state = TS_RUN_SUCCEEDED;
	run->has_hresult = true;
	run->hresult = HR_S_OK;
	agent_log(x->log, CMTRACE_INFO, "Task sequence \"%s\" completed 0x00000000", run->ts_name);
	agent_log(x->log, CMTRACE_INFO, "Task Sequence Engine finished");
}

int agent_ts_execute(const struct agent_ts_exec *x, const struct agent_ts_deployment *d,
		     const struct agent_ts_doc *doc, struct agent_ts_run *run, struct pp_error *err)
{
	size_t failed_at = 0, i;

	agent_log(x->log, CMTRACE_INFO,
		  "Starting task sequence \"%s\" (%s) revision %lld of deployment %lld: %zu "
		  "step(s), run %s",
		  d->ts_name, d->ts_id, d->revision, d->id, d->nsteps, run->run_id);
	if (keep(x, run, err) != 0)
		return -1;
	for (i = 0; i < d->nsteps; i++) {
		const struct ts_step *s = &d->steps[i];
		struct agent_ts_result *r = &run->steps[i];
		struct outcome o;

		if (failed_at > 0) {
			r->state = TS_STEP_SKIPPED;
			agent_text_format(r->detail, sizeof(r->detail), "not run: step %zu failed",
					  failed_at);
			agent_log(x->log, CMTRACE_INFO,
				  "Skipping the action (%s): the task sequence stopped at step %zu",
				  s->name, failed_at);
			continue;
		}
		if (x->stopping != NULL && *x->stopping) {
			for (size_t k = i; k < d->nsteps; k++) {
				run->steps[k].state = TS_STEP_SKIPPED;
				agent_text_format(run->steps[k].detail,
						  sizeof(run->steps[k].detail),
						  "not run: the agent was asked to stop");
			}
			run->state = TS_RUN_INTERRUPTED;
			run->has_hresult = true;
			run->hresult = HR_E_ABORT;
			break;
		}
		r->state = TS_STEP_RUNNING;
		r->started_at = now_s();
		if (keep(x, run, err) != 0)
			return -1;
		agent_log(x->log, CMTRACE_INFO,
			  "Start executing an instruction. Instruction name: %s. Instruction "
			  "pointer: %zu",
			  s->name, i);
		memset(&o, 0, sizeof(o));
		switch (s->type) {
		case TS_STEP_RUN_COMMAND_LINE:
			run_command_line(x, doc, s, i, run->run_id, &o);
			break;
		case TS_STEP_INSTALL_SOFTWARE_UPDATES:
			install_updates(x, &o);
			break;
		case TS_STEP_SET_POLICY:
			set_policy(x, d, s, &o);
			break;
		default:
			restart(x, s, &o);
			break;
		}
		r->finished_at = now_s();
		r->state = o.ok ? TS_STEP_SUCCEEDED : TS_STEP_FAILED;
		r->has_hresult = true;
		r->hresult = o.ok ? HR_S_OK : o.hr;
		r->has_exit_code = o.has_exit_code;
		r->exit_code = o.exit_code;
		memcpy(r->detail, o.detail, sizeof(r->detail));
		if (o.ok) {
			agent_log(x->log, CMTRACE_INFO,
				  "Successfully completed the action (%s) with the exit win32 code "
				  "0",
				  s->name);
		} else {
			agent_log(x->log, CMTRACE_ERROR,
				  "Failed to run the action: %s. Error 0x%08X", s->name,
				  (unsigned)r->hresult);
			agent_log(x->log, CMTRACE_ERROR, "The action (%s) failed: %s", s->name,
				  r->detail);
			if (s->continue_on_error) {
				agent_log(x->log, CMTRACE_WARNING,
					  "The action (%s) failed, but it has continue on error "
					  "set: the task sequence goes on",
					  s->name);
			} else {
				failed_at = i + 1;
				run->has_hresult = true;
				run->hresult = r->hresult;
			}
		}
		if (keep(x, run, err) != 0)
			return -1;
	}
	run_end(x, run, failed_at);
	return keep(x, run, err);
}

void agent_ts_run_interrupted(struct agent_ts_run *run, struct cmtrace_log *log)
{
	size_t at = 0;

	for (size_t i = 0; i < run->nsteps; i++) {
		struct agent_ts_result *r = &run->steps[i];

		if (r->state == TS_STEP_RUNNING) {
			r->state = TS_STEP_INTERRUPTED;
			r->has_hresult = true;
			r->hresult = HR_E_ABORT;
			r->finished_at = now_s();
			agent_text_format(r->detail, sizeof(r->detail),
					  "the agent stopped while this step ran");
			at = i + 1;
		} else if (r->state == TS_STEP_PENDING) {
			r->state = TS_STEP_SKIPPED;
			agent_text_format(r->detail, sizeof(r->detail),
					  "not run: the run was interrupted");
		}
	}
	run->state = TS_RUN_INTERRUPTED;
	run->has_hresult = true;
	run->hresult = HR_E_ABORT;
	run->finished_at = now_s();
	run->seq++;
	if (at > 0)
		agent_log(log, CMTRACE_WARNING,
			  "Task sequence \"%s\" run %s was interrupted at step %zu (%s): the agent "
			  "stopped while it ran. It is recorded as interrupted; 'patchpoint-agent "
			  "ts run' runs the task sequence again",
			  run->ts_name, run->run_id, at, run->steps[at - 1].name);
	else
		agent_log(log, CMTRACE_WARNING,
			  "Task sequence \"%s\" run %s was interrupted between two steps: recorded "
			  "as interrupted; 'patchpoint-agent ts run' runs the task sequence again",
			  run->ts_name, run->run_id);
}

/* ---- files on the machine ---- */

static int ts_path(const char *machine, const char *name, char *out, size_t size,
		   struct pp_error *err)
{
	return agent_state_path(machine, name, out, size, err);
}

/* <machine>/agent/ts and its directories. */
static int ts_prepare(const char *machine, struct pp_error *err)
{
	static const char *const dirs[] = {TS_DIR, RUNS_DIR, CACHE_DIR, WORK_DIR};
	char path[AGENT_PATH_MAX];

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		if (ts_path(machine, dirs[i], path, sizeof(path), err) != 0 ||
		    agent_state_make_dir(path, 0700, err) != 0)
			return -1;
	return 0;
}

static int run_path(const char *machine, const char *run_id, char *out, size_t size,
		    struct pp_error *err)
{
	char dir[AGENT_PATH_MAX];

	if (ts_path(machine, RUNS_DIR, dir, sizeof(dir), err) != 0)
		return -1;
	if (snprintf(out, size, "%s/%s.json", dir, run_id) >= (int)size) {
		pp_error_set(err, HR_ERROR_INVALID_NAME, "machine directory path too long");
		return -1;
	}
	return 0;
}

static int run_save(const char *machine, const struct agent_ts_run *run, struct pp_error *err)
{
	char path[AGENT_PATH_MAX + 64];
	json_t *j;
	int rc;

	if (run_path(machine, run->run_id, path, sizeof(path), err) != 0)
		return -1;
	j = agent_ts_run_json(run, true);
	if (j == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
		return -1;
	}
	rc = agent_state_write_object(path, j, 0600, err);
	json_decref(j);
	return rc;
}

static int by_start(const void *a, const void *b)
{
	const struct agent_ts_run *x = a, *y = b;

	if (x->started_at != y->started_at)
		return x->started_at < y->started_at ? -1 : 1;
	return strcmp(x->run_id, y->run_id);
}

/* Every run kept (damaged files renamed *.damaged and logged), oldest start first. *runs is
 * malloc'd. */
static int runs_load(const char *machine, struct cmtrace_log *log, struct agent_ts_run **runs,
		     size_t *count, struct pp_error *err)
{
	char dir[AGENT_PATH_MAX], path[AGENT_PATH_MAX + 300];
	struct agent_ts_run *list = NULL, *grown;
	struct dirent *de;
	size_t n = 0;
	DIR *d;
	int rc = -1;

	*runs = NULL;
	*count = 0;
	if (ts_path(machine, RUNS_DIR, dir, sizeof(dir), err) != 0)
		return -1;
	d = opendir(dir);
	if (d == NULL)
		return errno == ENOENT
			   ? 0
			   : (pp_error_set_errno(err, errno, "cannot read %s", dir), -1);
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		struct pp_error e;
		json_t *j = NULL;

		if (len != TS_RUN_ID_LEN + 5 || strcmp(de->d_name + TS_RUN_ID_LEN, ".json") != 0)
			continue;
		(void)snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		grown = realloc(list, (n + 1) * sizeof(*list));
		if (grown == NULL) {
			pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
			goto out;
		}
		list = grown;
		pp_error_clear(&e);
		if (agent_state_read_object(path, AGENT_STATE_FILE_MAX, RUN_AGAIN, &j, &e) != 0 ||
		    j == NULL || agent_ts_run_from_json(j, &list[n], &e) != 0 ||
		    strncmp(list[n].run_id, de->d_name, TS_RUN_ID_LEN) != 0) {
			char damaged[AGENT_PATH_MAX + 310];

			(void)snprintf(damaged, sizeof(damaged), "%s.damaged", path);
			(void)rename(path, damaged);
			agent_log(log, CMTRACE_ERROR,
				  "%s does not hold a task sequence run (%s); "
				  "renamed it to %s",
				  path, e.message[0] != '\0' ? e.message : "not a run", damaged);
			json_decref(j);
			continue;
		}
		json_decref(j);
		n++;
	}
	if (n > 1)
		qsort(list, n, sizeof(*list), by_start);
	*runs = list;
	*count = n;
	list = NULL;
	rc = 0;
out:
	free(list);
	(void)closedir(d);
	return rc;
}

/* deployments.json: {"deployments": {"<id>": {"run_id", "task_sequence_id", "state", "at"}}} */
static int local_load(const char *machine, json_t **doc, struct pp_error *err)
{
	char path[AGENT_PATH_MAX];
	json_t *deps;

	*doc = NULL;
	if (ts_path(machine, DEPLOYMENTS_FILE, path, sizeof(path), err) != 0 ||
	    agent_state_read_object(path, AGENT_STATE_FILE_MAX, DEPLOYMENTS_AGAIN, doc, err) != 0)
		return -1;
	if (*doc == NULL)
		*doc = json_pack("{s:{}}", "deployments");
	deps = json_object_get(*doc, "deployments");
	if (*doc == NULL || !json_is_object(deps)) {
		json_decref(*doc);
		*doc = NULL;
		pp_error_set(err, HR_ERROR_INVALID_DATA, "%s is damaged; " DEPLOYMENTS_AGAIN, path);
		return -1;
	}
	return 0;
}

/* Records in deployments.json what the run of its deployment is now. */
static int local_note(const char *machine, const struct agent_ts_run *run, struct pp_error *err)
{
	char path[AGENT_PATH_MAX], key[32];
	json_t *doc = NULL;
	int rc = -1;

	if (local_load(machine, &doc, err) != 0)
		return -1;
	(void)snprintf(key, sizeof(key), "%lld", run->deployment_id);
	if (json_object_set_new(
		json_object_get(doc, "deployments"), key,
		json_pack("{s:s, s:s, s:s, s:I}", "run_id", run->run_id, "task_sequence_id",
			  run->ts_id, "state", ts_run_state_name(run->state), "at",
			  (json_int_t)(run->finished_at > 0 ? run->finished_at
							    : run->started_at))) != 0) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
		goto out;
	}
	if (ts_path(machine, DEPLOYMENTS_FILE, path, sizeof(path), err) != 0 ||
	    agent_state_write_object(path, doc, 0600, err) != 0)
		goto out;
	rc = 0;
out:
	json_decref(doc);
	return rc;
}

/* Runs left "running" by a killed agent are interrupted; the work directories they left are
 * removed. Call with the cycle lock held. */
static int recover(const char *machine, struct cmtrace_log *log, size_t *count,
		   struct pp_error *err)
{
	char work[AGENT_PATH_MAX], path[AGENT_PATH_MAX + 300];
	struct agent_ts_run *runs = NULL;
	struct dirent *de;
	size_t n = 0;
	DIR *d;
	int rc = -1;

	*count = 0;
	if (runs_load(machine, log, &runs, &n, err) != 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (runs[i].state != TS_RUN_RUNNING)
			continue;
		agent_ts_run_interrupted(&runs[i], log);
		if (run_save(machine, &runs[i], err) != 0 ||
		    local_note(machine, &runs[i], err) != 0)
			goto out;
		(*count)++;
	}
	if (ts_path(machine, WORK_DIR, work, sizeof(work), err) != 0)
		goto out;
	d = opendir(work);
	while (d != NULL && (de = readdir(d)) != NULL) {
		struct pp_error e;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		(void)snprintf(path, sizeof(path), "%s/%s", work, de->d_name);
		pp_error_clear(&e);
		if (remove_tree(path, &e) == 0)
			agent_log(
			    log, CMTRACE_WARNING,
			    "Removed %s, left over by a task sequence step that was cut short",
			    path);
		else
			agent_log(log, CMTRACE_WARNING, "%s", e.message);
	}
	if (d != NULL)
		(void)closedir(d);
	rc = 0;
out:
	free(runs);
	return rc;
}

/* Keeps the newest AGENT_TS_RUNS_KEEP reported runs; older reported ones are removed. */
static void prune(const char *machine, struct cmtrace_log *log)
{
	struct agent_ts_run *runs = NULL;
	struct pp_error e;
	size_t n = 0, kept = 0;
	char path[AGENT_PATH_MAX + 64];

	pp_error_clear(&e);
	if (runs_load(machine, log, &runs, &n, &e) != 0)
		return;
	for (size_t i = n; i-- > 0;) {
		if (runs[i].state == TS_RUN_RUNNING || runs[i].reported_seq < runs[i].seq ||
		    ++kept <= AGENT_TS_RUNS_KEEP)
			continue;
		if (run_path(machine, runs[i].run_id, path, sizeof(path), &e) == 0)
			(void)unlink(path);
	}
	free(runs);
}

int agent_ts_unreported(const char *machine, size_t *count, struct pp_error *err)
{
	struct agent_ts_run *runs = NULL;
	size_t n = 0;

	*count = 0;
	if (runs_load(machine, NULL, &runs, &n, err) != 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (runs[i].reported_seq < runs[i].seq)
			(*count)++;
	free(runs);
	return 0;
}

/* ---- reporting ---- */

int agent_ts_report(const char *machine, struct agent_http *http, struct cmtrace_log *log,
		    size_t *reported, struct pp_error *err)
{
	struct agent_ts_run *runs = NULL;
	size_t n = 0;
	int rc = -1;

	*reported = 0;
	if (runs_load(machine, log, &runs, &n, err) != 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		struct agent_http_response resp = {0};
		struct agent_ts_run *r = &runs[i];
		json_t *body, *one;
		int sent;

		if (r->reported_seq >= r->seq)
			continue;
		one = agent_ts_run_json(r, false);
		body = one != NULL ? json_pack("{s:[o]}", "runs", one) : NULL;
		if (body == NULL) {
			pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
			goto out;
		}
		sent = agent_http_request(http, "POST", AGENT_TS_RUNS_PATH, body, NULL, &resp, err);
		json_decref(body);
		agent_http_response_free(&resp);
		if (sent != 0 && resp.status >= 400 && resp.status < 500 && resp.status != 401 &&
		    resp.status != 404 && resp.status != 408 && resp.status != 429) {
			/* Refused for what it says: set aside, so that it never blocks the others.
			 */
			char path[AGENT_PATH_MAX + 64], aside[AGENT_PATH_MAX + 80];

			if (run_path(machine, r->run_id, path, sizeof(path), err) != 0)
				goto out;
			(void)snprintf(aside, sizeof(aside), "%s.rejected", path);
			(void)rename(path, aside);
			agent_log(log, CMTRACE_ERROR,
				  "The site refused task sequence run %s: %s; set aside as %s",
				  r->run_id, err->message, aside);
			pp_error_clear(err);
			continue;
		}
		if (sent != 0)
			goto out;
		r->reported_seq = r->seq;
		if (run_save(machine, r, err) != 0)
			goto out;
		agent_log(log, CMTRACE_INFO, "Sent task sequence run %s (%s, %s) to the site",
			  r->run_id, r->ts_name, ts_run_state_name(r->state));
		(*reported)++;
	}
	rc = 0;
out:
	free(runs);
	return rc;
}

/* ---- the daemon's hooks ---- */

struct context {
	const char *machine;
	const struct agent_ts_options *o;
	struct agent_logs *logs;
	struct agent_http *http;
	struct cmtrace_log *log; /* smsts.log */
};

static int copy_file(const char *from, const char *to, struct pp_error *err)
{
	unsigned char buf[COPY_CHUNK];
	int in = open(from, O_RDONLY | O_NOFOLLOW | O_CLOEXEC), out = -1, rc = -1;
	ssize_t r;

	if (in < 0) {
		pp_error_set_errno(err, errno, "cannot read %s", from);
		return -1;
	}
	out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (out < 0) {
		pp_error_set_errno(err, errno, "cannot create %s", to);
		goto out;
	}
	while ((r = read(in, buf, sizeof(buf))) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			pp_error_set_errno(err, errno, "cannot read %s", from);
			goto out;
		}
		for (ssize_t w = 0, k; w < r; w += k) {
			k = write(out, buf + w, (size_t)(r - w));
			if (k < 0 && errno == EINTR) {
				k = 0;
				continue;
			}
			if (k <= 0) {
				pp_error_set_errno(err, k < 0 ? errno : EIO, "cannot write %s", to);
				goto out;
			}
		}
	}
	rc = 0;
out:
	if (out >= 0 && close(out) != 0 && rc == 0) {
		pp_error_set_errno(err, errno, "cannot write %s", to);
		rc = -1;
	}
	(void)close(in);
	return rc;
}

/* cache/<SHA-256> holds file f: the cached copy when it still matches, else a download
 * (resumed from a .part) checked against the site's digests. */
static int cache_file(struct context *c, const struct agent_ts_package *p,
		      const struct agent_ts_file *f, char *path, size_t size, struct pp_error *err)
{
	char dir[AGENT_PATH_MAX], part[AGENT_PATH_MAX + 96];
	struct agent_http_download_result dl;
	struct pp_error e;

	if (ts_path(c->machine, CACHE_DIR, dir, sizeof(dir), err) != 0)
		return -1;
	(void)snprintf(path, size, "%s/%s", dir, f->sha256);
	(void)snprintf(part, sizeof(part), "%s/%s.part", dir, f->sha256);
	pp_error_clear(&e);
	if (access(path, F_OK) == 0) {
		if (agent_updates_check_digests(path, f->size, f->sha1, f->sha256, &e) == 0) {
			agent_log(c->log, CMTRACE_INFO, "File %s of package %s is in the cache",
				  f->path, p->id);
			return 0;
		}
		agent_log(c->log, CMTRACE_WARNING, "Removing a cached package file: %s", e.message);
		(void)unlink(path);
	}
	if (f->size == 0) {
		/* Nothing to download: an empty file, checked like any other. */
		if (atomicfile_write(part, "", 0, 0600, true, err) != 0)
			return -1;
	} else {
		agent_log(c->log, CMTRACE_INFO,
			  "Downloading file %s of package %s from %s%s (%llu bytes)", f->path,
			  p->id, agent_http_server(c->http), f->url, (unsigned long long)f->size);
		if (agent_http_download(c->http, f->url, part, f->size, &dl, err) != 0)
			return -1;
	}
	if (agent_updates_check_digests(part, f->size, f->sha1, f->sha256, err) != 0) {
		(void)unlink(part);
		agent_log(c->log, CMTRACE_ERROR,
			  "File %s of package %s does not match the site's digests: %s", f->path,
			  p->id, err->message);
		return -1;
	}
	if (rename(part, path) != 0) {
		pp_error_set_errno(err, errno, "cannot rename %s", part);
		return -1;
	}
	return atomicfile_sync_dir(dir, err);
}

static int hook_package_files(void *ctx, const struct agent_ts_package *p, const char *dir,
			      struct pp_error *err)
{
	struct context *c = ctx;
	char cached[AGENT_PATH_MAX + 80], to[AGENT_PATH_MAX + TS_PATH_MAX + 2], *slash;

	for (size_t i = 0; i < p->nfiles; i++) {
		const struct agent_ts_file *f = &p->files[i];

		if (cache_file(c, p, f, cached, sizeof(cached), err) != 0)
			return -1;
		if (snprintf(to, sizeof(to), "%s/%s", dir, f->path) >= (int)sizeof(to)) {
			pp_error_set(err, HR_ERROR_INVALID_NAME, "path too long: %s", f->path);
			return -1;
		}
		slash = strrchr(to, '/');
		if (slash != NULL && slash > to + strlen(dir)) {
			*slash = '\0';
			if (atomicfile_mkdirs(to, err) != 0)
				return -1;
			*slash = '/';
		}
		if (copy_file(cached, to, err) != 0)
			return -1;
	}
	return 0;
}

static int hook_install_updates(void *ctx, uint32_t *hr, char *detail, size_t size,
				struct pp_error *err)
{
	struct context *c = ctx;
	struct agent_updates_options uo = {c->o->ca_bundle, c->o->install_timeout, c->o->stopping,
					   false, 0};
	struct agent_policy_outcome po;
	struct agent_updates_outcome scan, eval;
	struct pp_error e;
	size_t installed = 0, current = 0;
	int rc = -1;

	memset(&scan, 0, sizeof(scan));
	memset(&eval, 0, sizeof(eval));
	*hr = HR_S_OK;
	pp_error_clear(&e);
	/* The deployments come with the machine policy: the newest one, or the stored one when
	 * the site cannot give it now. */
	if (agent_policy_cycle(c->machine, c->o->ca_bundle, c->logs, &po, &e) != 0)
		agent_log(c->log, CMTRACE_WARNING,
			  "Machine policy could not be retrieved (%s); the stored one is used",
			  e.message);
	if (agent_updates_scan(c->machine, &uo, c->logs, &scan, err) != 0 ||
	    agent_updates_evaluate(c->machine, &uo, c->logs, &eval, err) != 0)
		goto out;
	for (size_t pass = 0; pass < 2; pass++) {
		const struct agent_updates_outcome *o = pass == 0 ? &scan : &eval;

		for (size_t i = 0; i < o->count; i++) {
			const struct agent_update_report *r = &o->reports[i];

			if (pass == 1)
				agent_log(c->log,
					  strcmp(r->state, "failed") == 0 ? CMTRACE_ERROR
									  : CMTRACE_INFO,
					  "Update %s (%s): %s%s%s", r->update_id, r->title,
					  agent_update_state_label(r->state),
					  r->detail[0] != '\0' ? ": " : "", r->detail);
			if (strcmp(r->state, "failed") == 0 && *hr == HR_S_OK) {
				*hr = r->has_hresult ? r->hresult : HR_E_FAIL;
				agent_text_format(detail, size, "update %s (%s) failed to %s: %s",
						  r->update_id, r->title,
						  pass == 0 ? "scan" : "install", r->detail);
			}
			if (pass == 1 && (strcmp(r->state, "installed") == 0 ||
					  strcmp(r->state, "pending_reboot") == 0)) {
				if (strcmp(r->detail, "nothing to install") == 0)
					current++;
				else
					installed++;
			}
		}
	}
	if (*hr == HR_S_OK)
		agent_text_format(detail, size,
				  "%zu update(s) installed, %zu already installed, %zu deployed",
				  installed, current, eval.count);
	rc = 0;
out:
	agent_updates_outcome_free(&scan);
	agent_updates_outcome_free(&eval);
	return rc;
}

static int hook_save(void *ctx, const struct agent_ts_run *run, struct pp_error *err)
{
	struct context *c = ctx;

	return run_save(c->machine, run, err);
}

/* The directory of this program, for PATH: the toolkit installed beside the agent
 * (patchpoint, patchpoint-agent) is what a package's script calls. */
static void own_dir(char *out, size_t size)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	out[0] = '\0';
	if (n <= 0)
		return;
	self[n] = '\0';
	slash = strrchr(self, '/');
	if (slash == NULL || slash == self)
		return;
	*slash = '\0';
	(void)snprintf(out, size, "%s", self);
}

/* Runs deployment d now: the run recorded in deployments.json before its first step. */
static int run_deployment(struct context *c, const struct agent_ts_deployment *d,
			  const struct agent_ts_doc *doc, struct agent_ts_run *run,
			  struct pp_error *err)
{
	char machine[PATH_MAX], bin[PATH_MAX], work[AGENT_PATH_MAX], output[AGENT_PATH_MAX + 32];
	char env_machine[PATH_MAX + 32], env_path[PATH_MAX + 128], env_name[TS_NAME_MAX + 32];
	char env_advert[64], env_logs[PATH_MAX + 32];
	const char *env[8];
	struct agent_ts_exec x;
	size_t n = 0;

	if (realpath(c->machine, machine) == NULL) {
		pp_error_set_errno(err, errno, "cannot resolve %s", c->machine);
		return -1;
	}
	if (ts_path(machine, WORK_DIR, work, sizeof(work), err) != 0 ||
	    agent_ts_run_begin(d, run, err) != 0 || local_note(c->machine, run, err) != 0)
		return -1;
	own_dir(bin, sizeof(bin));
	(void)snprintf(output, sizeof(output), "%s/logs/" AGENT_TS_OUTPUT, machine);
	(void)snprintf(env_machine, sizeof(env_machine), "PATCHPOINT_MACHINE=%s", machine);
	(void)snprintf(env_path, sizeof(env_path), "PATH=%s%s%s", bin, bin[0] != '\0' ? ":" : "",
		       "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
	agent_text_format(env_name, sizeof(env_name), "_SMSTSPackageName=%s", d->ts_name);
	(void)snprintf(env_advert, sizeof(env_advert), "_SMSTSAdvertID=%lld", d->id);
	(void)snprintf(env_logs, sizeof(env_logs), "_SMSTSLogPath=%s/logs", machine);
	env[n++] = env_machine;
	env[n++] = env_path;
	env[n++] = env_name;
	env[n++] = env_advert;
	env[n++] = env_logs;
	env[n] = NULL;
	memset(&x, 0, sizeof(x));
	x.machine = machine;
	x.log = c->log;
	x.output_path = output;
	x.work_dir = work;
	x.env = env;
	x.stopping = c->o->stopping;
	x.hooks.package_files = hook_package_files;
	x.hooks.install_updates = hook_install_updates;
	x.hooks.save = hook_save;
	x.hooks.ctx = c;
	if (agent_ts_execute(&x, d, doc, run, err) != 0)
		return -1;
	return local_note(c->machine, run, err);
}

/* The site's answer, checked; a site without task sequences (404) is an empty answer. */
static int fetch(struct context *c, struct agent_ts_doc *doc, struct pp_error *err)
{
	struct agent_http_response resp = {0};
	int rc;

	memset(doc, 0, sizeof(*doc));
	if (agent_http_request(c->http, "GET", AGENT_TS_PATH, NULL, NULL, &resp, err) != 0) {
		if (resp.status == 404) {
			pp_error_clear(err);
			return 0;
		}
		return -1;
	}
	rc = agent_ts_parse(resp.json, doc, err);
	agent_http_response_free(&resp);
	return rc;
}

static int context_open(struct context *c, const char *machine, const struct agent_ts_options *o,
			struct agent_logs *logs, struct pp_error *err)
{
	char path[AGENT_PATH_MAX + 32];
	struct agent_identity id;
	const char *ca;
	int rc = -1;

	memset(c, 0, sizeof(*c));
	c->machine = machine;
	c->o = o;
	c->logs = logs;
	if (agent_state_require_identity(machine, &id, err) != 0)
		return -1;
	if (ts_prepare(machine, err) != 0)
		goto out;
	(void)snprintf(path, sizeof(path), "%s/logs", machine);
	if (atomicfile_mkdirs(path, err) != 0)
		goto out;
	(void)snprintf(path, sizeof(path), "%s/logs/" AGENT_TS_LOG, machine);
	c->log = cmtrace_open(path, AGENT_TS_COMPONENT, 0, err);
	if (c->log == NULL)
		goto out;
	ca = o != NULL && o->ca_bundle != NULL && o->ca_bundle[0] != '\0' ? o->ca_bundle
									  : id.ca_bundle;
	c->http = agent_http_new(id.server, ca, err);
	if (c->http == NULL || agent_http_set_credential(c->http, id.credential, err) != 0)
		goto out;
	rc = 0;
out:
	agent_identity_wipe(&id);
	return rc;
}

static void context_close(struct context *c)
{
	agent_http_free(c->http);
	cmtrace_close(c->log);
	memset(c, 0, sizeof(*c));
}

int agent_ts_cycle(const char *machine, const struct agent_ts_options *o, struct agent_logs *logs,
		   struct agent_ts_outcome *out, struct pp_error *err)
{
	struct agent_ts_run *run = NULL;
	struct agent_ts_doc doc;
	struct context c;
	json_t *local = NULL;
	long long now = now_s();
	int rc = -1;

	memset(out, 0, sizeof(*out));
	memset(&doc, 0, sizeof(doc));
	if (context_open(&c, machine, o, logs, err) != 0 ||
	    recover(machine, c.log, &out->interrupted, err) != 0 || fetch(&c, &doc, err) != 0 ||
	    local_load(machine, &local, err) != 0)
		goto out;
	run = malloc(sizeof(*run));
	if (run == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < doc.ndeployments; i++) {
		const struct agent_ts_deployment *d = &doc.deployments[i];
		char key[32];

		if (o != NULL && o->stopping != NULL && *o->stopping)
			break;
		(void)snprintf(key, sizeof(key), "%lld", d->id);
		if (json_object_get(json_object_get(local, "deployments"), key) != NULL)
			continue; /* ran once already: 'ts run' runs it again */
		if (d->available_at > now) {
			out->waiting++;
			if (out->next_available == 0 || d->available_at < out->next_available)
				out->next_available = d->available_at;
			continue;
		}
		if (run_deployment(&c, d, &doc, run, err) != 0)
			goto out;
		out->ran++;
		if (run->state != TS_RUN_SUCCEEDED)
			out->failed++;
	}
	prune(machine, c.log);
	rc = 0;
out:
	free(run);
	json_decref(local);
	agent_ts_doc_free(&doc);
	context_close(&c);
	return rc;
}

/* The deployment 'ts run' means: by deployment id, task sequence id or name (any case). */
static const struct agent_ts_deployment *find(const struct agent_ts_doc *doc, const char *which)
{
	char *end = NULL;
	long long id = strtoll(which, &end, 10);

	for (size_t i = 0; i < doc->ndeployments; i++) {
		const struct agent_ts_deployment *d = &doc->deployments[i];

		if ((end != which && *end == '\0' && d->id == id) ||
		    strcasecmp(d->ts_id, which) == 0 || strcasecmp(d->ts_name, which) == 0)
			return d;
	}
	return NULL;
}

int agent_ts_run_now(const char *machine, const char *which, const struct agent_ts_options *o,
		     struct agent_logs *logs, struct agent_ts_run *run,
		     struct agent_ts_outcome *out, struct pp_error *err)
{
	const struct agent_ts_deployment *d;
	struct agent_queue_flush_result fr;
	struct agent_ts_doc doc;
	struct context c;
	struct pp_error e;
	int lock = -1, rc = -1;

	memset(out, 0, sizeof(*out));
	memset(run, 0, sizeof(*run));
	memset(&doc, 0, sizeof(doc));
	memset(&c, 0, sizeof(c));
	if (agent_state_lock(machine, &lock, err) != 0)
		return -1;
	if (context_open(&c, machine, o, logs, err) != 0 ||
	    recover(machine, c.log, &out->interrupted, err) != 0 || fetch(&c, &doc, err) != 0)
		goto out;
	d = find(&doc, which);
	if (d == NULL) {
		pp_error_set(
		    err, HR_CRYPT_E_NOT_FOUND,
		    "no task sequence \"%s\" is deployed to this device ('patchpoint-agent "
		    "ts list' shows those that are)",
		    which);
		goto out;
	}
	if (d->available_at > now_s()) {
		char when[64];
		struct tm tm;
		time_t t = (time_t)d->available_at;

		if (gmtime_r(&t, &tm) == NULL ||
		    strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
			(void)snprintf(when, sizeof(when), "%lld", d->available_at);
		pp_error_set(err, HR_E_INVALIDARG,
			     "deployment %lld of task sequence \"%s\" is available from %s", d->id,
			     d->ts_name, when);
		goto out;
	}
	if (run_deployment(&c, d, &doc, run, err) != 0)
		goto out;
	out->ran = 1;
	out->failed = run->state != TS_RUN_SUCCEEDED;
	prune(machine, c.log);
	/* What the run queued (Install Software Updates) and the run itself go now. */
	pp_error_clear(&e);
	if (agent_queue_flush(machine, c.http, logs != NULL ? logs->state : NULL, &fr, &e) != 0 ||
	    agent_ts_report(machine, c.http, logs != NULL ? logs->state : NULL, &out->reported,
			    &e) != 0) {
		out->report_failed = true;
		out->report_err = e;
	}
	rc = 0;
out:
	agent_ts_doc_free(&doc);
	context_close(&c);
	agent_state_unlock(lock);
	return rc;
}

int agent_ts_list(const char *machine, const char *ca_bundle, struct agent_ts_doc *doc,
		  json_t **local, struct pp_error *err)
{
	struct agent_ts_options o = {ca_bundle, 0, NULL};
	struct context c;
	int rc = -1;

	*local = NULL;
	memset(doc, 0, sizeof(*doc));
	if (context_open(&c, machine, &o, NULL, err) != 0 || fetch(&c, doc, err) != 0 ||
	    local_load(machine, local, err) != 0)
		goto out;
	rc = 0;
out:
	context_close(&c);
	return rc;
}
