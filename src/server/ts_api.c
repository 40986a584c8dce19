/* ts_api.c - the routes of ts_api.h. */
#include "ts_api.h"

#include "content.h"
#include "hresult.h"
#include "store.h"
#include "upload.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define COPY_CHUNK (256u * 1024u)

static json_t *time_or_null(int64_t t)
{
	return t > 0 ? json_integer(t) : json_null();
}

static json_t *hresult_json(bool has, uint32_t hr)
{
	char text[11];

	if (!has)
		return json_null();
	(void)snprintf(text, sizeof(text), "0x%08X", (unsigned)hr);
	return json_string(text);
}

/* "/Content/XX/<SHA1>.cab", the content URL of a package file (content_api.h). */
static void file_url(const char *sha1, char *out, size_t size)
{
	(void)snprintf(out, size, "/Content/%.2s/%.40s.cab", sha1 + 38, sha1);
}

/* ---- records ---- */

static json_t *package_json(const struct store_package *p)
{
	return json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I}", "id", p->id, "name", p->name,
			 "version", p->version, "source_version", (json_int_t)p->source_version,
			 "file_count", (json_int_t)p->file_count, "size", (json_int_t)p->total_size,
			 "created_at", (json_int_t)p->created_at, "updated_at",
			 (json_int_t)p->updated_at);
}

static json_t *files_json(const struct store_package_file *files, size_t n)
{
	json_t *arr = json_array();
	char url[CONTENT_URL_PATH_MAX];

	for (size_t i = 0; arr != NULL && i < n; i++) {
		file_url(files[i].sha1, url, sizeof(url));
		if (json_array_append_new(
			arr, json_pack("{s:s, s:s, s:s, s:I, s:s}", "path", files[i].path, "sha1",
				       files[i].sha1, "sha256", files[i].sha256, "size",
				       (json_int_t)files[i].size, "url", url)) != 0) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

/* A package with its files. */
static json_t *package_full_json(struct store *s, const struct store_package *p,
				 struct pp_error *err)
{
	struct store_package_file *files = NULL;
	size_t n = 0;
	json_t *j;

	if (store_package_files(s, p->id, &files, &n, err) != 0)
		return NULL;
	j = package_json(p);
	if (j != NULL && json_object_set_new(j, "files", files_json(files, n)) != 0) {
		json_decref(j);
		j = NULL;
	}
	free(files);
	if (j == NULL)
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
	return j;
}

static json_t *step_json(const struct store_ts_step *st)
{
	const struct ts_step *s = &st->step;
	json_t *j =
	    json_pack("{s:i, s:s, s:s, s:s, s:b}", "position", st->position, "name", s->name,
		      "type", ts_step_type_key(s->type), "type_label", ts_step_type_label(s->type),
		      "continue_on_error", s->continue_on_error);

	if (j == NULL)
		return NULL;
	if (s->type == TS_STEP_RUN_COMMAND_LINE &&
	    (json_object_set_new(
		 j, "package",
		 s->package_id[0] != '\0'
		     ? json_pack("{s:s, s:s}", "id", s->package_id, "name", st->package_name)
		     : json_null()) != 0 ||
	     json_object_set_new(j, "command_line", json_string(s->command_line)) != 0 ||
	     json_object_set_new(j, "timeout", json_integer(s->timeout)) != 0)) {
		json_decref(j);
		return NULL;
	}
	if (s->type == TS_STEP_SET_POLICY &&
	    (json_object_set_new(j, "policy_name", json_string(s->policy_name)) != 0 ||
	     json_object_set_new(j, "policy_value", json_integer(s->policy_value)) != 0)) {
		json_decref(j);
		return NULL;
	}
	return j;
}

static json_t *steps_json(const struct store_ts_step *steps, size_t n)
{
	json_t *arr = json_array();

	for (size_t i = 0; arr != NULL && i < n; i++)
		if (json_array_append_new(arr, step_json(&steps[i])) != 0) {
			json_decref(arr);
			return NULL;
		}
	return arr;
}

static json_t *deployment_json(const struct store_ts_deployment *d)
{
	return json_pack("{s:I, s:s, s:s, s:s, s:s, s:I, s:I}", "id", (json_int_t)d->id,
			 "task_sequence_id", d->ts_id, "task_sequence", d->ts_name, "collection_id",
			 d->collection_id, "collection", d->collection_name, "available_at",
			 (json_int_t)d->available_at, "created_at", (json_int_t)d->created_at);
}

static json_t *ts_json(const struct store_task_sequence *t)
{
	return json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I}", "id", t->id, "name", t->name,
			 "revision", (json_int_t)t->revision, "step_count",
			 (json_int_t)t->step_count, "deployment_count",
			 (json_int_t)t->deployment_count, "created_at", (json_int_t)t->created_at,
			 "updated_at", (json_int_t)t->updated_at);
}

/* A task sequence with its steps and deployments. */
static json_t *ts_full_json(struct store *s, const struct store_task_sequence *t,
			    struct pp_error *err)
{
	struct store_ts_step *steps = NULL;
	struct store_ts_deployment *deps = NULL;
	size_t n = 0, nd = 0;
	json_t *j = NULL, *arr;

	if (store_ts_steps(s, t->id, &steps, &n, err) != 0 ||
	    store_ts_deployments(s, t->id, &deps, &nd, err) != 0)
		goto out;
	j = ts_json(t);
	arr = json_array();
	for (size_t i = 0; arr != NULL && i < nd; i++)
		(void)json_array_append_new(arr, deployment_json(&deps[i]));
	if (j == NULL || json_object_set_new(j, "steps", steps_json(steps, n)) != 0 ||
	    json_object_set_new(j, "deployments", arr) != 0) {
		json_decref(j);
		j = NULL;
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
	}
out:
	free(steps);
	free(deps);
	return j;
}

/* ---- packages ---- */

/* Package files go into the content store of this process's sup role. */
static int need_content(struct api *a, struct httpd_request *req)
{
	if (a->content != NULL && a->uploads_dir != NULL)
		return 0;
	httpd_reply_error(req, 409, "no_local_sup",
			  "package files need the sup role in this patchpointd (--roles site,sup)");
	return -1;
}

/* Copies complete upload id into the content store; *f gets its digests. */
static int upload_to_content(struct api *a, const char *id, struct store_package_file *f,
			     struct pp_error *err)
{
	struct upload_info info;
	struct content_info ci;
	char incoming[4096];
	unsigned char *buf = NULL;
	uint64_t size = 0, done = 0;
	int in = -1, out = -1, rc = -1;
	ssize_t r;

	incoming[0] = '\0';
	if (upload_get(a->uploads_dir, id, &info, err) != 0)
		return -1;
	if (!info.complete) {
		pp_error_set(err, HR_E_INVALIDARG, "upload %s has %llu of %llu bytes", id,
			     (unsigned long long)info.received, (unsigned long long)info.size);
		return -1;
	}
	if (upload_open_complete(a->uploads_dir, id, &in, &size, err) != 0 ||
	    content_store_incoming_path(a->content, incoming, sizeof(incoming), err) != 0)
		goto out;
	out = open(incoming, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	buf = malloc(COPY_CHUNK);
	if (out < 0 || buf == NULL) {
		pp_error_set_errno(err, out < 0 ? errno : ENOMEM, "cannot create %s", incoming);
		goto out;
	}
	while (done < size) {
		r = read(in, buf, COPY_CHUNK);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			pp_error_set_errno(err, r < 0 ? errno : EIO, "cannot read upload %s", id);
			goto out;
		}
		for (ssize_t w = 0, k; w < r; w += k) {
			k = write(out, buf + w, (size_t)(r - w));
			if (k < 0 && errno == EINTR) {
				k = 0;
				continue;
			}
			if (k <= 0) {
				pp_error_set_errno(err, k < 0 ? errno : EIO, "cannot write %s",
						   incoming);
				goto out;
			}
		}
		done += (uint64_t)r;
	}
	if (close(out) != 0) {
		out = -1;
		pp_error_set_errno(err, errno, "cannot write %s", incoming);
		goto out;
	}
	out = -1;
	if (content_store_commit(a->content, incoming, &ci, err) != 0)
		goto out;
	incoming[0] = '\0';
	if (strcasecmp(ci.sha256, info.sha256) != 0) {
		pp_error_set(err, HR_WU_E_DM_INCORRECTFILEHASH,
			     "upload %s changed while it was stored", id);
		goto out;
	}
	memcpy(f->sha1, ci.sha1, sizeof(f->sha1));
	memcpy(f->sha256, ci.sha256, sizeof(f->sha256));
	f->size = ci.size;
	rc = 0;
out:
	if (out >= 0)
		(void)close(out);
	if (rc != 0 && incoming[0] != '\0')
		(void)unlink(incoming);
	if (in >= 0)
		(void)close(in);
	free(buf);
	return rc;
}

/* The files of a body: [{"upload": ID, "path": P}, ...]; each upload copied into the content
 * store (the uploads are removed by drop_uploads once the database has the package). -1 after
 * replying. */
static int read_files(struct api *a, struct httpd_request *req, const json_t *arr,
		      struct store_package_file **files, char (**ids)[UPLOAD_ID_LEN + 1],
		      size_t *count)
{
	size_t n = json_array_size(arr), i;
	const json_t *v;

	*files = NULL;
	*ids = NULL;
	*count = 0;
	if (!json_is_array(arr) || n == 0 || n > TS_PACKAGE_FILES_MAX) {
		httpd_reply_error(req, 400, "invalid_argument",
				  "field \"files\" must be an array of 1 to %d {\"upload\", "
				  "\"path\"} objects",
				  TS_PACKAGE_FILES_MAX);
		return -1;
	}
	*files = calloc(n, sizeof(**files));
	*ids = calloc(n, sizeof(**ids));
	if (*files == NULL || *ids == NULL) {
		httpd_reply_error(req, 503, "out_of_memory", "out of memory");
		return -1;
	}
	json_array_foreach(arr, i, v)
	{
		const char *id = json_string_value(json_object_get(v, "upload"));
		const char *path = json_string_value(json_object_get(v, "path"));
		struct pp_error err;

		pp_error_clear(&err);
		if (!json_is_object(v) || id == NULL || path == NULL || json_object_size(v) != 2) {
			httpd_reply_error(req, 400, "invalid_argument",
					  "files[%zu] must be {\"upload\": ID, \"path\": PATH}", i);
			return -1;
		}
		if (ts_package_path_check(path, &err) != 0) {
			httpd_reply_error(req, 400, "invalid_argument", "files[%zu]: %s", i,
					  err.message);
			return -1;
		}
		for (size_t k = 0; k < i; k++)
			if (strcmp((*files)[k].path, path) == 0) {
				httpd_reply_error(req, 400, "invalid_argument",
						  "files[%zu]: the package lists %s twice", i,
						  path);
				return -1;
			}
		(void)snprintf((*files)[i].path, sizeof((*files)[i].path), "%s", path);
		if (upload_to_content(a, id, &(*files)[i], &err) != 0) {
			if (err.code == UPLOAD_E_NOT_FOUND)
				httpd_reply_error(req, 404, "not_found", "files[%zu]: %s", i,
						  err.message);
			else if (err.code == UPLOAD_E_BAD_ID || err.code == HR_E_INVALIDARG)
				httpd_reply_error(req, 400, "invalid_argument", "files[%zu]: %s", i,
						  err.message);
			else
				api_reply_failure(a, req, &err);
			return -1;
		}
		(void)snprintf((*ids)[i], sizeof((*ids)[i]), "%s", id);
		(*count)++;
	}
	return 0;
}

static void drop_uploads(struct api *a, char (*ids)[UPLOAD_ID_LEN + 1], size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct pp_error err;

		pp_error_clear(&err);
		if (upload_remove(a->uploads_dir, ids[i], &err) != 0)
			srvlog_write(a->log, CMTRACE_WARNING, "cannot remove upload %s: %s", ids[i],
				     err.message);
	}
}

static void reply_package(struct api *a, struct httpd_request *req, struct store *s,
			  const struct store_package *p, int status)
{
	struct pp_error err;
	json_t *j;

	pp_error_clear(&err);
	j = package_full_json(s, p, &err);
	if (j == NULL) {
		api_reply_failure(a, req, &err);
		return;
	}
	api_reply_new(req, status, j);
}

/* POST /api/v1/packages and PATCH /api/v1/packages/{package}. */
static void package_write(struct httpd_request *req, struct api *a, bool create)
{
	static const char *const allowed[] = {"name", "version", "files", NULL};
	const char *id_or_name = create ? NULL : httpd_request_capture(req, "package");
	struct store_package_file *files = NULL;
	char(*ids)[UPLOAD_ID_LEN + 1] = NULL;
	struct store_package out;
	struct pp_error err;
	struct store *s;
	json_t *body, *name, *version, *farr;
	size_t n = 0;

	HANDLER_STORE(a, req, s, err);
	body = api_body_object(req, allowed);
	if (body == NULL)
		return;
	if (api_field(req, body, "name", FIELD_STRING, &name) < 0 ||
	    api_field(req, body, "version", FIELD_STRING, &version) < 0)
		goto out;
	farr = json_object_get(body, "files");
	if (create && (!json_is_string(name) || !json_is_string(version))) {
		httpd_reply_error(req, 400, "invalid_argument",
				  "fields \"name\" and \"version\" are required");
		goto out;
	}
	if (create && (farr == NULL || json_is_null(farr))) {
		httpd_reply_error(req, 400, "invalid_argument", "field \"files\" is required");
		goto out;
	}
	/* Names and versions are checked before any file is stored. */
	if ((json_is_string(name) &&
	     ts_name_check(json_string_value(name), "package name", &err) != 0) ||
	    (json_is_string(version) && ts_version_check(json_string_value(version), &err) != 0)) {
		api_reply_failure(a, req, &err);
		goto out;
	}
	if (!create) {
		struct store_package cur;

		/* A package that does not exist is said before its files are stored. */
		if (store_package_get(s, id_or_name, &cur, &err) != 0) {
			api_reply_failure(a, req, &err);
			goto out;
		}
	}
	if (farr != NULL && !json_is_null(farr) &&
	    (need_content(a, req) != 0 || read_files(a, req, farr, &files, &ids, &n) != 0))
		goto out;
	if (create ? store_package_create(s, json_string_value(name), json_string_value(version),
					  files, n, &out, &err)
		   : store_package_update(s, id_or_name, json_string_value(name),
					  json_string_value(version), files, n, &out, &err)) {
		api_reply_failure(a, req, &err);
		goto out;
	}
	drop_uploads(a, ids, n);
	srvlog_write(a->log, CMTRACE_INFO, "package %s \"%s\" version %s (source version %lld) %s",
		     out.id, out.name, out.version, (long long)out.source_version,
		     create ? "created" : "updated");
	reply_package(a, req, s, &out, create ? 201 : 200);
out:
	free(files);
	free(ids);
	json_decref(body);
}

static void on_package_create(struct httpd_request *req, void *ctx)
{
	package_write(req, ctx, true);
}

static void on_package_update(struct httpd_request *req, void *ctx)
{
	package_write(req, ctx, false);
}

static void on_packages(struct httpd_request *req, void *ctx)
{
	struct api *a = ctx;
	struct store_package *list = NULL;
	struct pp_error err;
	struct store *s;
	size_t n = 0;
	json_t *arr;

	HANDLER_STORE(a, req, s, err);
	if (store_package_list(s, &list, &n, &err) != 0) {
		api_reply_failure(a, req, &err);
		return;
	}
	arr = json_array();
	for (size_t i = 0; arr != NULL && i < n; i++)
		(void)json_array_append_new(arr, package_json(&list[i]));
	free(list);
	api_reply_new(req, 200, arr != NULL ? json_pack("{s:o}", "packages", arr) : NULL);
}

static void on_package(struct httpd_request *req, void *ctx)
{
	struct api *a = ctx;
	struct store_package p;
	struct pp_error err;
	struct store *s;

	HANDLER_STORE(a, req, s, err);
	if (store_package_get(s, httpd_request_capture(req, "package"), &p, &err) != 0) {
		api_reply_failure(a, req, &err);
		return;
	}
	reply_package(a, req, s, &p, 200);
}

static void on_package_delete(struct httpd_request *req, void *ctx)
{
	struct api *a = ctx;
	struct pp_error err;
	struct store *s;

	HANDLER_STORE(a, req, s, err);
	if (store_package_delete(s, httpd_request_capture(req, "package"), &err) != 0) {
		/* A package a step uses: a conflict, not a malformed request. */
		if (err.code == HR_E_INVALIDARG)
			httpd_reply_error(req, 409, "in_use", "%s", err.message);
		else
			api_reply_failure(a, req, &err);
		return;
	}
	srvlog_write(a->log, CMTRACE_INFO, "package \"%s\" deleted",
		     httpd_request_capture(req, "package"));
	httpd_reply_status(req, 204);
}

/* ---- task sequences ---- */

static void reply_ts(struct api *a, struct httpd_request *req, struct store *s,
		     const char *id_or_name, int status)
{
	struct store_task_sequence t;
	struct pp_error err;
	json_t *j;

	pp_error_clear(&err);
	if (store_ts_get(s, id_or_name, &t, &err) != 0 || (j = ts_full_json(s, &t, &err)) == NULL) {
		api_reply_failure(a, req, &err);
		return;
	}
	api_reply_new(req, status, j);
}

static void on_ts_create(struct httpd_request *req, void *ctx)
{
	static const char *const allowed[] = {"name", NULL};
	struct api *a = ctx;
	struct store_task_sequence t;
	struct pp_error err;
	struct store *s;
	json_t *body, *name;

	HANDLER_STORE(a, req, s, err);
	body = api_body_object(req, allowed);
	if (body == NULL)
		return;
	if (api_field(req, body, "name", FIELD_STRING, &name) < 0)
		goto out;
	if (!json_is_string(name)) {
		httpd_reply_error(req, 400, "invalid_argument", "field \"name\" is required");
		goto out;
	}
	if (store_ts_create(s, json_string_value(name), &t, &err) != 0) {
		api_reply_failure(a, req, &err);
		goto out;
	}
	srvlog_write(a->log, CMTRACE_INFO, "task sequence %s \"%s\" created", t.id, t.name);
	reply_ts(a, req, s, t.id, 201);
out:
	json_decref(body);
}

static void on_ts_list(struct httpd_request *req, void *ctx)
{
	struct api *a = ctx;
	struct store_task_sequence *list = NULL;
	struct pp_error err;
	struct store *s;
	size_t n = 0;
	json_t *arr;

	HANDLER_STORE(a, req, s, err);
	if (store_ts_list(s, &list, &n, &err) != 0) {
		api_reply_failure(a, req, &err);
		return;
	}
	arr = json_array();
	for (size_t i = 0; arr != NULL && i < n; i++)
		(void)json_array_append_new(arr, ts_json(&list[i]));
	free(list);
	api_reply_new(req, 200, arr != NULL ? json_pack("{s:o}", "task_sequences", arr) : NULL);
}

static void on_ts(struct httpd_request *req, void *ctx)
{
	struct api *a = ctx;
	struct pp_error err;
	struct store *s;

	HANDLER_STORE(a, req, s, err);
	reply_ts(a, req, s, httpd_request_capture(req, "ts"), 200);
}

static void on_ts_delete(struct httpd_request *req, void *ctx)
{
	struct api *a = ctx;
	struct pp_error err;
	struct store *s;

	HANDLER_STORE(a, req, s, err);
	if (store_ts_delete(s, httpd_request_capture(req, "ts"), &err) != 0) {
		if (err.code == HR_E_INVALIDARG)
			httpd_reply_error(req, 409, "deployed", "%s", err.message);
		else
			api_reply_failure(a, req, &err);
		return;
	}
	srvlog_write(a->log, CMTRACE_INFO, "task sequence \"%s\" deleted",
		     httpd_request_capture(req, "ts"));
	httpd_reply_status(req, 204);
}

/* A string field into out (size bytes); -1 after replying when it does not fit. */
static int copy_field(struct httpd_request *req, const json_t *v, const char *name, char *out,
		      size_t size)
{
	if (!json_is_string(v))
		return 0;
	if (json_string_length(v) >= size) {
		httpd_reply_error(req, 400, "invalid_argument",
				  "field \"%s\" is longer than %zu bytes", name, size - 1);
		return -1;
	}
	memcpy(out, json_string_value(v), json_string_length(v) + 1);
	return 0;
}

/* POST /api/v1/task-sequences/{ts}/steps */
static void on_step_add(struct httpd_request *req, void *ctx)
{
	static const char *const allowed[] = {
	    "type",    "name",	      "continue_on_error", "package",  "command_line",
	    "timeout", "policy_name", "policy_value",	   "position", NULL};
	struct api *a = ctx;
	const char *ts = httpd_request_capture(req, "ts");
	struct store_task_sequence t;
	struct ts_step step;
	struct pp_error err;
	struct store *s;
	json_t *body, *type, *name, *coe, *pkg, *cmd, *timeout, *pname, *pvalue, *pos;
	int position = 0;

	HANDLER_STORE(a, req, s, err);
	body = api_body_object(req, allowed);
	if (body == NULL)
		return;
	memset(&step, 0, sizeof(step));
	if (api_field(req, body, "type", FIELD_STRING, &type) < 0 ||
	    api_field(req, body, "name", FIELD_STRING, &name) < 0 ||
	    api_field(req, body, "continue_on_error", FIELD_BOOL, &coe) < 0 ||
	    api_field(req, body, "package", FIELD_STRING, &pkg) < 0 ||
	    api_field(req, body, "command_line", FIELD_STRING, &cmd) < 0 ||
	    api_field(req, body, "timeout", FIELD_INT, &timeout) < 0 ||
	    api_field(req, body, "policy_name", FIELD_STRING, &pname) < 0 ||
	    api_field(req, body, "policy_value", FIELD_INT, &pvalue) < 0 ||
	    api_field(req, body, "position", FIELD_INT, &pos) < 0)
		goto out;
	if (!json_is_string(type)) {
		httpd_reply_error(req, 400, "invalid_argument", "field \"type\" is required");
		goto out;
	}
	/* The task sequence first: a step for one that does not exist is a 404 whatever it is. */
	if (store_ts_get(s, ts, &t, &err) != 0 ||
	    ts_step_type_parse(json_string_value(type), &step.type, &err) != 0) {
		api_reply_failure(a, req, &err);
		goto out;
	}
	(void)snprintf(step.name, sizeof(step.name), "%s", ts_step_type_label(step.type));
	if (copy_field(req, name, "name", step.name, sizeof(step.name)) != 0 ||
	    copy_field(req, cmd, "command_line", step.command_line, sizeof(step.command_line)) !=
		0 ||
	    copy_field(req, pname, "policy_name", step.policy_name, sizeof(step.policy_name)) != 0)
		goto out;
	step.continue_on_error = json_is_true(coe);
	if (step.type == TS_STEP_RUN_COMMAND_LINE)
		step.timeout = TS_TIMEOUT_DEFAULT;
	if (json_is_integer(timeout)) {
		json_int_t v = json_integer_value(timeout);

		if (step.type != TS_STEP_RUN_COMMAND_LINE || v < 1 || v > TS_TIMEOUT_MAX) {
			httpd_reply_error(req, 400, "invalid_argument", "%s",
					  step.type != TS_STEP_RUN_COMMAND_LINE
					      ? "only a Run Command Line step takes a timeout"
					      : "the timeout must be 1 to 604800 seconds");
			goto out;
		}
		step.timeout = (unsigned)v;
	}
	if (json_is_integer(pvalue)) {
		json_int_t v = json_integer_value(pvalue);

		if (v < 0 || v > 0xFFFFFFFFLL) {
			httpd_reply_error(req, 400, "invalid_argument",
					  "the policy value must be 0 to 4294967295 (a REG_DWORD)");
			goto out;
		}
		step.policy_value = (uint32_t)v;
	} else if (step.type == TS_STEP_SET_POLICY) {
		httpd_reply_error(req, 400, "invalid_argument",
				  "a Set Policy step needs \"policy_name\" and \"policy_value\"");
		goto out;
	}
	if (json_is_integer(pos)) {
		json_int_t v = json_integer_value(pos);

		if (v < 1 || v > TS_STEPS_MAX) {
			httpd_reply_error(req, 400, "invalid_argument",
					  "the position must be 1 to %d", TS_STEPS_MAX);
			goto out;
		}
		position = (int)v;
	}
	if (store_ts_add_step(s, t.id, &step, json_string_value(pkg), &position, &err) != 0) {
		api_reply_failure(a, req, &err);
		goto out;
	}
	srvlog_write(a->log, CMTRACE_INFO, "task sequence \"%s\": step %d \"%s\" (%s) added",
		     t.name, position, step.name, ts_step_type_label(step.type));
	reply_ts(a, req, s, t.id, 201);
out:
	json_decref(body);
}

static void on_step_remove(struct httpd_request *req, void *ctx)
{
	struct api *a = ctx;
	const char *ts = httpd_request_capture(req, "ts"), *n = httpd_request_capture(req, "n");
	struct store_task_sequence t;
	struct pp_error err;
	struct store *s;
	char *end = NULL;
	long v;

	HANDLER_STORE(a, req, s, err);
	if (store_ts_get(s, ts, &t, &err) != 0) {
		api_reply_failure(a, req, &err);
		return;
	}
	errno = 0;
	v = strtol(n, &end, 10);
	if (errno != 0 || end == n || *end != '\0' || v < 1 || v > TS_STEPS_MAX) {
		httpd_reply_error(req, 400, "invalid_argument",
				  "a step is named by its position, 1 to %d", TS_STEPS_MAX);
		return;
	}
	if (store_ts_remove_step(s, t.id, (int)v, &err) != 0) {
		api_reply_failure(a, req, &err);
		return;
	}
	srvlog_write(a->log, CMTRACE_INFO, "task sequence \"%s\": step %ld removed", t.name, v);
	reply_ts(a, req, s, t.id, 200);
}

static void on_ts_deploy(struct httpd_request *req, void *ctx)
{
	static const char *const allowed[] = {"collection", "available_at", NULL};
	struct api *a = ctx;
	struct store_ts_deployment d;
	struct pp_error err;
	struct store *s;
	json_t *body, *coll, *avail;

	HANDLER_STORE(a, req, s, err);
	body = api_body_object(req, allowed);
	if (body == NULL)
		return;
	if (api_field(req, body, "collection", FIELD_STRING, &coll) < 0 ||
	    api_field(req, body, "available_at", FIELD_INT, &avail) < 0)
		goto out;
	if (!json_is_string(coll)) {
		httpd_reply_error(req, 400, "invalid_argument", "field \"collection\" is required");
		goto out;
	}
	if (store_ts_deploy(s, httpd_request_capture(req, "ts"), json_string_value(coll),
			    json_is_integer(avail) ? json_integer_value(avail)
						   : (int64_t)time(NULL),
			    &d, &err) != 0) {
		api_reply_failure(a, req, &err);
		goto out;
	}
	srvlog_write(a->log, CMTRACE_INFO,
		     "task sequence \"%s\" deployed to collection \"%s\" (deployment %lld)",
		     d.ts_name, d.collection_name, (long long)d.id);
	api_reply_new(req, 201, deployment_json(&d));
out:
	json_decref(body);
}

static void on_ts_undeploy(struct httpd_request *req, void *ctx)
{
	struct api *a = ctx;
	struct pp_error err;
	struct store *s;

	HANDLER_STORE(a, req, s, err);
	if (store_ts_undeploy(s, httpd_request_capture(req, "ts"),
			      httpd_request_capture(req, "collection"), &err) != 0) {
		api_reply_failure(a, req, &err);
		return;
	}
	httpd_reply_status(req, 204);
}

/* ---- status ---- */

static json_t *step_result_json(const struct store_ts_step_result *r)
{
	return json_pack("{s:i, s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:s}", "position",
			 r->position, "name", r->name, "type", ts_step_type_key(r->type), "state",
			 ts_step_state_name(r->state), "status", ts_step_state_label(r->state),
			 "exit_code", r->has_exit_code ? json_integer(r->exit_code) : json_null(),
			 "hresult", hresult_json(r->has_hresult, r->hresult), "started_at",
			 time_or_null(r->started_at), "finished_at", time_or_null(r->finished_at),
			 "detail", r->detail);
}

static json_t *run_json(const struct store_ts_run *r)
{
	json_t *steps = json_array();

	for (size_t i = 0; steps != NULL && i < r->step_count; i++)
		(void)json_array_append_new(steps, step_result_json(&r->steps[i]));
	return json_pack("{s:s, s:s, s:I, s:s, s:s, s:s, s:I, s:o, s:I, s:o, s:I, s:o}",
			 "device_id", r->device_id, "device", r->device_name, "deployment_id",
			 (json_int_t)r->deployment_id, "run_id", r->run_id, "state",
			 ts_run_state_name(r->state), "status", ts_run_state_label(r->state),
			 "revision", (json_int_t)r->revision, "hresult",
			 hresult_json(r->has_hresult, r->hresult), "started_at",
			 (json_int_t)r->started_at, "finished_at", time_or_null(r->finished_at),
			 "received_at", (json_int_t)r->received_at, "steps", steps);
}

/* GET /api/v1/task-sequences/{ts}/status: per device, its latest run (newest start) with each
 * step's result; devices a deployment targets that reported nothing are "unknown". */
static void on_ts_status(struct httpd_request *req, void *ctx)
{
	static const char *const keys[] = {"running", "succeeded", "failed", "interrupted"};
	struct api *a = ctx;
	struct store_task_sequence t;
	struct store_ts_run *runs = NULL;
	struct store_ts_deployment *deps = NULL;
	struct pp_error err;
	struct store *s;
	size_t nruns = 0, ndeps = 0, counts[TS_RUN_STATE_COUNT] = {0}, unknown = 0;
	json_t *devices = NULL, *seen = NULL, *summary;

	HANDLER_STORE(a, req, s, err);
	if (store_ts_get(s, httpd_request_capture(req, "ts"), &t, &err) != 0 ||
	    store_ts_runs(s, t.id, &runs, &nruns, &err) != 0 ||
	    store_ts_deployments(s, t.id, &deps, &ndeps, &err) != 0)
		goto fail;
	devices = json_array();
	seen = json_object();
	if (devices == NULL || seen == NULL)
		goto oom;
	for (size_t i = 0; i < nruns; i++) {
		if (json_object_get(seen, runs[i].device_id) != NULL)
			continue; /* an older run of a device already listed */
		if (json_object_set_new(seen, runs[i].device_id, json_true()) != 0 ||
		    json_array_append_new(devices, run_json(&runs[i])) != 0)
			goto oom;
		counts[runs[i].state]++;
	}
	for (size_t i = 0; i < ndeps; i++) {
		struct store_device *members = NULL;
		size_t nm = 0;

		if (store_collection_members(s, deps[i].collection_id, &members, &nm, &err) != 0)
			goto fail;
		for (size_t k = 0; k < nm; k++) {
			if (json_object_get(seen, members[k].id) != NULL)
				continue;
			if (json_object_set_new(seen, members[k].id, json_true()) != 0 ||
			    json_array_append_new(
				devices,
				json_pack("{s:s, s:s, s:I, s:n, s:s, s:s, s:n, s:n, s:n, s:n, s:n, "
					  "s:[]}",
					  "device_id", members[k].id, "device", members[k].name,
					  "deployment_id", (json_int_t)deps[i].id, "run_id",
					  "state", "unknown", "status", "Unknown", "revision",
					  "hresult", "started_at", "finished_at", "received_at",
					  "steps")) != 0) {
				free(members);
				goto oom;
			}
			unknown++;
		}
		free(members);
	}
	summary = json_object();
	for (int k = 0; summary != NULL && k < TS_RUN_STATE_COUNT; k++)
		(void)json_object_set_new(summary, keys[k], json_integer((json_int_t)counts[k]));
	if (summary != NULL)
		(void)json_object_set_new(summary, "unknown", json_integer((json_int_t)unknown));
	api_reply_new(req, 200,
		      summary != NULL
			  ? json_pack("{s:{s:s, s:s, s:I}, s:o, s:O}", "task_sequence", "id", t.id,
				      "name", t.name, "revision", (json_int_t)t.revision, "summary",
				      summary, "devices", devices)
			  : NULL);
	goto out;
oom:
	pp_error_set(&err, HR_E_OUTOFMEMORY, "out of memory");
fail:
	api_reply_failure(a, req, &err);
out:
	json_decref(devices);
	json_decref(seen);
	store_ts_runs_free(runs, nruns);
	free(deps);
}

/* ---- the device routes ---- */

/* The device whose credential the request carries; -1 after replying 401. */
static int authenticate(struct api *a, struct httpd_request *req, struct store *s,
			struct store_device *d)
{
	const char *h = httpd_request_header(req, "Authorization");
	struct pp_error err;
	bool found = false;

	pp_error_clear(&err);
	if (h != NULL && strncasecmp(h, "Bearer ", 7) == 0 &&
	    store_device_authenticate(s, h + 7, d, &found, &err) != 0) {
		api_reply_failure(a, req, &err);
		return -1;
	}
	if (!found) {
		httpd_reply_error(req, 401, "invalid_credential",
				  "the device credential is not valid; register the device again");
		return -1;
	}
	return 0;
}

/* Adds package id (with its files) to packages, once. */
static int add_package(struct store *s, json_t *packages, const char *id, struct pp_error *err)
{
	struct store_package p;
	json_t *j;

	if (json_object_get(packages, id) != NULL)
		return 0;
	if (store_package_get(s, id, &p, err) != 0 || (j = package_full_json(s, &p, err)) == NULL)
		return -1;
	(void)json_object_del(j, "created_at");
	(void)json_object_del(j, "file_count");
	if (json_object_set_new(packages, p.id, j) != 0) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
		return -1;
	}
	return 0;
}

/* GET /api/v1/device/task-sequences: every deployment targeting the device, with its task
 * sequence's steps, and the packages those steps use with their files. */
static void on_device_ts(struct httpd_request *req, void *ctx)
{
	struct api *a = ctx;
	struct store_ts_deployment *deps = NULL;
	struct store_device d;
	struct pp_error err;
	struct store *s;
	size_t n = 0;
	json_t *list = NULL, *packages = NULL;

	HANDLER_STORE(a, req, s, err);
	if (authenticate(a, req, s, &d) != 0)
		return;
	if (store_ts_deployments_for_device(s, d.id, &deps, &n, &err) != 0)
		goto fail;
	list = json_array();
	packages = json_object();
	if (list == NULL || packages == NULL)
		goto oom;
	for (size_t i = 0; i < n; i++) {
		struct store_task_sequence t;
		struct store_ts_step *steps = NULL;
		size_t ns = 0;
		json_t *entry;

		if (store_ts_get(s, deps[i].ts_id, &t, &err) != 0 ||
		    store_ts_steps(s, t.id, &steps, &ns, &err) != 0)
			goto fail;
		for (size_t k = 0; k < ns; k++)
			if (steps[k].step.package_id[0] != '\0' &&
			    add_package(s, packages, steps[k].step.package_id, &err) != 0) {
				free(steps);
				goto fail;
			}
		entry = json_pack(
		    "{s:I, s:I, s:s, s:{s:s, s:s, s:I, s:o}}", "deployment_id",
		    (json_int_t)deps[i].id, "available_at", (json_int_t)deps[i].available_at,
		    "collection_id", deps[i].collection_id, "task_sequence", "id", t.id, "name",
		    t.name, "revision", (json_int_t)t.revision, "steps", steps_json(steps, ns));
		free(steps);
		if (json_array_append_new(list, entry) != 0)
			goto oom;
	}
	api_reply_new(req, 200,
		      json_pack("{s:O, s:O, s:I}", "deployments", list, "packages", packages,
				"server_time", (json_int_t)time(NULL)));
	goto out;
oom:
	pp_error_set(&err, HR_E_OUTOFMEMORY, "out of memory");
fail:
	api_reply_failure(a, req, &err);
out:
	json_decref(list);
	json_decref(packages);
	free(deps);
}

/* An optional "0x" and 8 hex digits into *hr; null or absent: *has false. */
static bool parse_hresult(const json_t *v, bool *has, uint32_t *hr)
{
	const char *t = json_string_value(v);

	*has = false;
	if (v == NULL || json_is_null(v))
		return true;
	if (t == NULL || strlen(t) != 10 || strncasecmp(t, "0x", 2) != 0 ||
	    strspn(t + 2, "0123456789abcdefABCDEF") != 8)
		return false;
	*has = true;
	*hr = (uint32_t)strtoul(t + 2, NULL, 16);
	return true;
}

/* An optional time: absent or null is 0, else a non-negative integer. */
static bool parse_time(const json_t *v, int64_t *t)
{
	*t = 0;
	if (v == NULL || json_is_null(v))
		return true;
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return false;
	*t = json_integer_value(v);
	return true;
}

static bool int_member(const json_t *o, const char *key, int64_t min, int64_t max, int64_t *out)
{
	const json_t *v = json_object_get(o, key);

	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
		return false;
	*out = json_integer_value(v);
	return true;
}

static int parse_step_result(const json_t *v, size_t i, struct store_ts_step_result *r,
			     struct pp_error *err)
{
	const char *name = json_string_value(json_object_get(v, "name"));
	const char *type = json_string_value(json_object_get(v, "type"));
	const char *state = json_string_value(json_object_get(v, "state"));
	const json_t *detail = json_object_get(v, "detail"),
		     *code = json_object_get(v, "exit_code");
	struct pp_error e;
	int64_t pos = 0;
	int st;
	const char *bad = NULL;

	memset(r, 0, sizeof(*r));
	pp_error_clear(&e);
	if (!json_is_object(v))
		bad = "(not an object)";
	else if (!int_member(v, "position", 1, TS_STEPS_MAX, &pos) || pos != (int64_t)i + 1)
		bad = "position";
	else if (name == NULL || strlen(name) > TS_NAME_MAX || ts_name_check(name, "name", &e) != 0)
		bad = "name";
	else if (ts_step_type_parse(type, &r->type, &e) != 0)
		bad = "type";
	else if ((st = ts_step_state_parse(state)) < 0)
		bad = "state";
	else if (code != NULL && !json_is_null(code) &&
		 (!json_is_integer(code) || json_integer_value(code) < -2147483648LL ||
		  json_integer_value(code) > 4294967295LL))
		bad = "exit_code";
	else if (!parse_hresult(json_object_get(v, "hresult"), &r->has_hresult, &r->hresult))
		bad = "hresult (0x and 8 hex digits)";
	else if (!parse_time(json_object_get(v, "started_at"), &r->started_at) ||
		 !parse_time(json_object_get(v, "finished_at"), &r->finished_at))
		bad = "started_at or finished_at";
	else if (detail != NULL && !json_is_null(detail) &&
		 (!json_is_string(detail) || json_string_length(detail) > TS_DETAIL_MAX))
		bad = "detail";
	if (bad != NULL) {
		pp_error_set(err, HR_E_INVALIDARG, "steps[%zu]: bad or missing %s", i, bad);
		return -1;
	}
	r->position = (int)pos;
	memcpy(r->name, name, strlen(name) + 1);
	r->state = (enum ts_step_state)st;
	if (json_is_integer(code)) {
		r->has_exit_code = true;
		r->exit_code = json_integer_value(code);
	}
	if (json_is_string(detail))
		memcpy(r->detail, json_string_value(detail), json_string_length(detail) + 1);
	return 0;
}

int ts_api_parse_run(const json_t *v, struct store_ts_run *run, struct store_ts_step_result *steps,
		     struct pp_error *err)
{
	const char *run_id = json_string_value(json_object_get(v, "run_id"));
	const char *ts_id = json_string_value(json_object_get(v, "task_sequence_id"));
	const char *state = json_string_value(json_object_get(v, "state"));
	const json_t *arr = json_object_get(v, "steps"), *e;
	const char *bad = NULL;
	size_t i;
	int st = -1;

	memset(run, 0, sizeof(*run));
	if (!json_is_object(v))
		bad = "run (not an object)";
	else if (!ts_run_id_valid(run_id))
		bad = "run_id (a lower-case UUID)";
	else if (!ts_id_valid(ts_id))
		bad = "task_sequence_id";
	else if (!int_member(v, "deployment_id", 1, INT64_MAX, &run->deployment_id))
		bad = "deployment_id";
	else if (!int_member(v, "revision", 1, INT64_MAX, &run->revision))
		bad = "revision";
	else if (!int_member(v, "seq", 1, INT64_MAX, &run->seq))
		bad = "seq";
	else if ((st = ts_run_state_parse(state)) < 0)
		bad = "state (running, succeeded, failed or interrupted)";
	else if (!parse_hresult(json_object_get(v, "hresult"), &run->has_hresult, &run->hresult))
		bad = "hresult (0x and 8 hex digits)";
	else if (!int_member(v, "started_at", 0, INT64_MAX, &run->started_at) ||
		 !parse_time(json_object_get(v, "finished_at"), &run->finished_at))
		bad = "started_at or finished_at";
	else if (!json_is_array(arr) || json_array_size(arr) < 1 ||
		 json_array_size(arr) > TS_STEPS_MAX)
		bad = "steps (an array of 1 to 100 results)";
	if (bad != NULL) {
		pp_error_set(err, HR_E_INVALIDARG, "bad or missing %s", bad);
		return -1;
	}
	memcpy(run->run_id, run_id, TS_RUN_ID_LEN + 1);
	memcpy(run->ts_id, ts_id, TS_ID_LEN + 1);
	run->state = (enum ts_run_state)st;
	json_array_foreach(arr, i, e)
	{
		if (parse_step_result(e, i, &steps[i], err) != 0)
			return -1;
	}
	run->steps = steps;
	run->step_count = json_array_size(arr);
	return 0;
}

/* POST /api/v1/device/task-sequences/runs {"runs": [...]}: each run as the device has it now. */
static void on_device_runs(struct httpd_request *req, void *ctx)
{
	static const char *const allowed[] = {"runs", NULL};
	struct api *a = ctx;
	struct store_ts_step_result *steps = NULL;
	struct store_device d;
	struct pp_error err;
	struct store *s;
	size_t i, n, counts[3] = {0};
	json_t *body, *arr, *v;

	HANDLER_STORE(a, req, s, err);
	if (authenticate(a, req, s, &d) != 0)
		return;
	body = api_body_object(req, allowed);
	if (body == NULL)
		return;
	arr = json_object_get(body, "runs");
	n = json_array_size(arr);
	if (!json_is_array(arr) || n > TS_API_RUNS_MAX) {
		httpd_reply_error(req, 400, "invalid_argument",
				  "field \"runs\" must be an array of at most %d runs",
				  TS_API_RUNS_MAX);
		goto out;
	}
	steps = calloc(TS_STEPS_MAX, sizeof(*steps));
	if (steps == NULL) {
		httpd_reply_error(req, 503, "out_of_memory", "out of memory");
		goto out;
	}
	/* Each run is its own transaction: one the server cannot take does not hold up the
	 * others, and the reply says which (by index) so that the agent can set it aside. */
	json_array_foreach(arr, i, v)
	{
		struct store_ts_run run;
		enum store_ts_report_outcome o = STORE_TS_REPORT_IGNORED;

		if (ts_api_parse_run(v, &run, steps, &err) != 0 ||
		    store_ts_run_report(s, d.id, &run, &o, &err) != 0) {
			if (err.code == HR_E_INVALIDARG)
				httpd_reply_error(req, 400, "invalid_argument", "runs[%zu]: %s", i,
						  err.message);
			else
				api_reply_failure(a, req, &err);
			goto out;
		}
		counts[o]++;
		if (o == STORE_TS_REPORT_ACCEPTED && run.state != TS_RUN_RUNNING)
			srvlog_write(a->log,
				     run.state == TS_RUN_SUCCEEDED ? CMTRACE_INFO : CMTRACE_WARNING,
				     "device %s: task sequence %s run %s %s%s%08X", d.name,
				     run.ts_id, run.run_id, ts_run_state_name(run.state),
				     run.has_hresult ? " with 0x" : "", run.hresult);
	}
	api_reply_new(req, 200,
		      json_pack("{s:I, s:I, s:I}", "accepted", (json_int_t)counts[0], "stale",
				(json_int_t)counts[1], "ignored", (json_int_t)counts[2]));
out:
	free(steps);
	json_decref(body);
}

/* ---- routes ---- */

static const struct {
	const char *method;
	const char *pattern;
	httpd_handler fn;
} admin_routes[] = {
    {"GET", "/api/v1/packages", on_packages},
    {"POST", "/api/v1/packages", on_package_create},
    {"GET", "/api/v1/packages/{package}", on_package},
    {"PATCH", "/api/v1/packages/{package}", on_package_update},
    {"DELETE", "/api/v1/packages/{package}", on_package_delete},
    {"GET", "/api/v1/task-sequences", on_ts_list},
    {"POST", "/api/v1/task-sequences", on_ts_create},
    {"GET", "/api/v1/task-sequences/{ts}", on_ts},
    {"DELETE", "/api/v1/task-sequences/{ts}", on_ts_delete},
    {"POST", "/api/v1/task-sequences/{ts}/steps", on_step_add},
    {"DELETE", "/api/v1/task-sequences/{ts}/steps/{n}", on_step_remove},
    {"POST", "/api/v1/task-sequences/{ts}/deployments", on_ts_deploy},
    {"DELETE", "/api/v1/task-sequences/{ts}/deployments/{collection}", on_ts_undeploy},
    {"GET", "/api/v1/task-sequences/{ts}/status", on_ts_status},
};

int ts_api_add_routes(struct httpd *h, struct api *a, struct pp_error *err)
{
	if ((a->roles & API_ROLE_SITE) != 0)
		for (size_t i = 0; i < sizeof(admin_routes) / sizeof(admin_routes[0]); i++)
			if (httpd_route(h, admin_routes[i].method, admin_routes[i].pattern,
					admin_routes[i].fn, a, HTTPD_ADMIN) != 0)
				goto fail;
	if ((a->roles & API_ROLE_MP) != 0 &&
	    (httpd_route(h, "GET", "/api/v1/device/task-sequences", on_device_ts, a, 0) != 0 ||
	     httpd_route(h, "POST", "/api/v1/device/task-sequences/runs", on_device_runs, a, 0) !=
		 0))
		goto fail;
	return 0;
fail:
	pp_error_set(err, HR_E_FAIL, "cannot add the task sequence routes");
	return -1;
}
