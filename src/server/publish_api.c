/* publish_api.c - publishing routes of a server with the site and sup roles (docs/api.md):
 * publish content (or metadata only) for an update, create and publish an administrator's own
 * update, revise, expire, delete; collections and deployments. */
#include "publish_api.h"

#include "catalog.h"
#include "hresult.h"
#include "publish.h"
#include "store.h"
#include "upload.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

/* The content files of a body: [{"upload":ID,"name":NAME?}...], each a completed upload. */
struct content_files {
	size_t count;
	struct publish_file files[PUBLISH_FILES_MAX];
	char names[PUBLISH_FILES_MAX][UPLOAD_NAME_MAX + 1];
	char cabinet_names[PUBLISH_FILES_MAX][UPLOAD_NAME_MAX + 1];
	char paths[PUBLISH_FILES_MAX][4096];
	char ids[PUBLISH_FILES_MAX][UPLOAD_ID_LEN + 1];
};

/* The digests a complete upload recorded, for publishing not to read the file again. */
static void upload_digests(const struct upload_info *info, struct publish_file *f)
{
	size_t n1 = 0, n256 = 0;

	f->has_digests =
	    info->sha1[0] != '\0' &&
	    OPENSSL_hexstr2buf_ex(f->sha1, sizeof(f->sha1), &n1, info->sha1, '\0') == 1 &&
	    OPENSSL_hexstr2buf_ex(f->sha256, sizeof(f->sha256), &n256, info->sha256, '\0') == 1 &&
	    n1 == sizeof(f->sha1) && n256 == sizeof(f->sha256);
	f->size = info->size;
}

/* Reads "content" of body into cf; -1 after replying. */
static int read_content(struct api *a, struct httpd_request *req, json_t *body,
			struct content_files *cf)
{
	json_t *arr = json_object_get(body, "content"), *v;
	size_t i;

	memset(cf, 0, sizeof(*cf));
	if (arr == NULL || json_is_null(arr))
		return 0;
	if (!json_is_array(arr) || json_array_size(arr) > PUBLISH_FILES_MAX) {
		httpd_reply_error(req, 400, "invalid_argument",
				  "field \"content\" must be an array of at most %d "
				  "{\"upload\",\"name\"} objects",
				  PUBLISH_FILES_MAX);
		return -1;
	}
	json_array_foreach(arr, i, v)
	{
		const char *id = json_string_value(json_object_get(v, "upload"));
		const char *name = json_string_value(json_object_get(v, "name"));
		struct upload_info info;
		struct pp_error err;

		pp_error_clear(&err);
		if (!json_is_object(v) || id == NULL) {
			httpd_reply_error(req, 400, "invalid_argument",
					  "content[%zu] needs \"upload\", the id of a completed "
					  "upload",
					  i);
			return -1;
		}
		if (upload_get(a->uploads_dir, id, &info, &err) != 0) {
			httpd_reply_error(req, err.code == UPLOAD_E_NOT_FOUND ? 404 : 400,
					  err.code == UPLOAD_E_NOT_FOUND ? "not_found"
									 : "invalid_argument",
					  "content[%zu]: %s", i, err.message);
			return -1;
		}
		if (!info.complete) {
			httpd_reply_error(req, 409, "upload_incomplete",
					  "content[%zu]: upload %s has %llu of %llu bytes", i, id,
					  (unsigned long long)info.received,
					  (unsigned long long)info.size);
			return -1;
		}
		if (name == NULL)
			name = info.name;
		(void)snprintf(cf->names[i], sizeof(cf->names[i]), "%s", name);
		(void)snprintf(cf->ids[i], sizeof(cf->ids[i]), "%s", info.id);
		(void)snprintf(cf->cabinet_names[i], sizeof(cf->cabinet_names[i]), "%s", info.name);
		cf->files[i].name = cf->names[i];
		if (info.cabinet) {
			/* Read out of its cabinet only if publishing cannot sign it in place. */
			cf->files[i].upload_dir = a->uploads_dir;
			cf->files[i].cabinet_upload = cf->ids[i];
			cf->files[i].cabinet_name = cf->cabinet_names[i];
		} else if (upload_data_path(a->uploads_dir, info.id, cf->paths[i],
					    sizeof(cf->paths[i]), &err) != 0) {
			api_reply_failure(a, req, &err);
			return -1;
		} else {
			cf->files[i].path = cf->paths[i];
		}
		upload_digests(&info, &cf->files[i]);
		cf->count++;
	}
	return 0;
}

/* The uploads have become content: remove them. */
static void drop_uploads(struct api *a, const struct content_files *cf)
{
	for (size_t i = 0; i < cf->count; i++) {
		struct pp_error err;

		pp_error_clear(&err);
		/* A cabinet upload signed in place has become the content already. */
		if (upload_remove(a->uploads_dir, cf->ids[i], &err) != 0 &&
		    err.code != UPLOAD_E_NOT_FOUND)
			srvlog_write(a->log, CMTRACE_WARNING, "cannot remove upload %s: %s",
				     cf->ids[i], err.message);
	}
}

static int publish_env(struct api *a, struct httpd_request *req, struct publish_env *env)
{
	struct pp_error err;

	pp_error_clear(&err);
	memset(env, 0, sizeof(*env));
	env->store = api_store(a, &err);
	if (env->store == NULL) {
		api_reply_failure(a, req, &err);
		return -1;
	}
	env->signstore = a->certmgr.local;
	env->signer = a->signer;
	env->content = a->content;
	env->sdist_log = a->sdist_log;
	env->isv_log = a->isv_log;
	return 0;
}

/* The content URL clients use: the top-level site's SUP URL and the content's path. */
static void content_url(struct store *s, const char *path, char *out, size_t size)
{
	struct store_site top;
	struct store_sup sup;
	struct pp_error err;
	size_t n;

	pp_error_clear(&err);
	out[0] = '\0';
	if (path[0] == '\0' || store_top_level_site(s, &top, &err) != 0 ||
	    store_sup_sync_source(s, top.code, &sup, &err) != 0) {
		(void)snprintf(out, size, "%s", path);
		return;
	}
	n = strlen(sup.url);
	while (n > 0 && sup.url[n - 1] == '/')
		n--;
	(void)snprintf(out, size, "%.*s%s", (int)n, sup.url, path);
}

static json_t *content_json(const struct store_update_content *c, const char *url)
{
	if (!c->has_content)
		return json_pack("{s:I, s:b, s:I}", "revision", (json_int_t)c->revision,
				 "metadata_only", 1, "published_at", (json_int_t)c->published_at);
	return json_pack("{s:I, s:b, s:s, s:s, s:I, s:s, s:s, s:s, s:I}", "revision",
			 (json_int_t)c->revision, "metadata_only", 0, "sha1", c->sha1, "sha256",
			 c->sha256, "size", (json_int_t)c->size, "url", url, "signer", c->signer,
			 "files", c->files, "published_at", (json_int_t)c->published_at);
}

static void reply_published(struct api *a, struct httpd_request *req, int status,
			    const struct publish_env *env, const struct publish_result *res)
{
	char url[STORE_URL_MAX + 96];

	(void)a;
	content_url(env->store, res->url_path, url, sizeof(url));
	api_reply_new(req, status,
		      json_pack("{s:o, s:o, s:b}", "update",
				catalog_update_summary_json(&res->update), "content",
				content_json(&res->content, url), "already", res->already));
}

static void reply_publish_failure(struct api *a, struct httpd_request *req,
				  const struct publish_result *res, const struct pp_error *err)
{
	const char *code = NULL;
	int status = 0;

	switch (err->code) {
	case PUBLISH_E_NO_CERTIFICATE:
		status = 409, code = "no_signing_certificate";
		break;
	case PUBLISH_E_UNSIGNED:
		status = 422, code = "content_unsigned";
		break;
	case PUBLISH_E_NOT_APPROVED:
		status = 422, code = "signer_not_approved";
		break;
	case PUBLISH_E_MISMATCH:
		status = 422, code = "content_mismatch";
		break;
	case PUBLISH_E_IMMUTABLE:
		status = 409, code = "content_immutable";
		break;
	default:
		api_reply_failure(a, req, err);
		return;
	}
	if (res->detail[0] != '\0') {
		json_t *body = json_pack("{s:{s:s, s:s, s:s}}", "error", "code", code, "message",
					 err->message, "detail", res->detail);

		api_reply_new(req, status, body);
		return;
	}
	httpd_reply_error(req, status, code, "%s", err->message);
}

/* Publishing needs the sup role's signer and content store in this process. */
static int need_sup(struct api *a, struct httpd_request *req)
{
	if (a->signer != NULL && a->content != NULL && a->certmgr.local != NULL)
		return 0;
	httpd_reply_error(req, 409, "no_local_sup",
			  "publishing needs the sup role in this patchpointd (--roles site,sup)");
	return -1;
}

/* POST /api/v1/updates/{id}/publish {"content":[...], "metadata_only":bool?} */
static void on_publish(struct httpd_request *req, void *ctx)
{
	static const char *const allowed[] = {"content", "metadata_only", NULL};
	struct api *a = ctx;
	struct publish_env env;
	struct publish_result res;
	struct pp_error err;
	struct content_files *cf = NULL;
	json_t *body, *meta;

	if (need_sup(a, req) != 0 || (body = api_body_object(req, allowed)) == NULL)
		return;
	cf = malloc(sizeof(*cf));
	if (cf == NULL) {
		httpd_reply_error(req, 503, "out_of_memory", "out of memory");
		goto out;
	}
	if (api_field(req, body, "metadata_only", FIELD_BOOL, &meta) < 0 ||
	    read_content(a, req, body, cf) != 0 || publish_env(a, req, &env) != 0)
		goto out;
	pp_error_clear(&err);
	if (publish_update(&env, httpd_request_capture(req, "id"), cf->files, cf->count,
			   meta != NULL && json_is_true(meta), &res, &err) != 0) {
		reply_publish_failure(a, req, &res, &err);
		goto out;
	}
	drop_uploads(a, cf);
	reply_published(a, req, 200, &env, &res);
out:
	free(cf);
	json_decref(body);
}

/* POST /api/v1/updates: an administrator's own update, created and published. */
static void on_publish_new(struct httpd_request *req, void *ctx)
{
	static const char *const allowed[] = {
	    "title",	 "vendor",	"product",	  "version", "program",
	    "arguments", "description", "classification", "content", NULL};
	static const char *const text[] = {"title",   "vendor",	   "product",	  "version",
					   "program", "arguments", "description", "classification"};
	struct api *a = ctx;
	struct publish_env env;
	struct publish_result res;
	struct publish_custom c;
	struct pp_error err;
	struct content_files *cf = NULL;
	const char *v[8] = {NULL};
	json_t *body, *f;

	if (need_sup(a, req) != 0 || (body = api_body_object(req, allowed)) == NULL)
		return;
	for (size_t i = 0; i < 8; i++) {
		if (api_field(req, body, text[i], FIELD_STRING, &f) < 0)
			goto out;
		v[i] = json_string_value(f);
	}
	cf = malloc(sizeof(*cf));
	if (cf == NULL) {
		httpd_reply_error(req, 503, "out_of_memory", "out of memory");
		goto out;
	}
	if (read_content(a, req, body, cf) != 0 || publish_env(a, req, &env) != 0)
		goto out;
	c = (struct publish_custom){.title = v[0],
				    .vendor = v[1],
				    .product = v[2],
				    .version = v[3],
				    .program = v[4],
				    .arguments = v[5],
				    .description = v[6],
				    .classification = v[7]};
	pp_error_clear(&err);
	if (publish_new_update(&env, &c, cf->files, cf->count, &res, &err) != 0) {
		reply_publish_failure(a, req, &res, &err);
		goto out;
	}
	drop_uploads(a, cf);
	reply_published(a, req, 201, &env, &res);
out:
	free(cf);
	json_decref(body);
}

/* revise, expire: the update afterwards. */
static void change_update(struct httpd_request *req, struct api *a, bool revise)
{
	struct store_update u;
	struct pp_error err;
	struct store *s;
	const char *id = httpd_request_capture(req, "id");
	int64_t revision = 0;

	pp_error_clear(&err);
	s = api_store(a, &err);
	if (s == NULL ||
	    (revise ? store_update_revise(s, id, &revision, &err)
		    : store_update_expire(s, id, &err)) != 0 ||
	    store_update_get(s, id, &u, &err) != 0) {
		api_reply_failure(a, req, &err);
		return;
	}
	if (revise)
		srvlog_write(
		    a->sdist_log, CMTRACE_INFO,
		    "RevisePackage(): update %s is now at revision %lld; earlier revisions "
		    "keep their content",
		    u.id, (long long)revision);
	else
		srvlog_write(a->sdist_log, CMTRACE_INFO, "ExpirePackage(): update %s expired",
			     u.id);
	api_reply_new(req, 200, json_pack("{s:o}", "update", catalog_update_summary_json(&u)));
}

static void on_revise(struct httpd_request *req, void *ctx)
{
	change_update(req, ctx, true);
}

static void on_expire(struct httpd_request *req, void *ctx)
{
	change_update(req, ctx, false);
}

/* DELETE /api/v1/updates/{id}: the rows go, and the CABs no other revision refers to. */
static void on_delete(struct httpd_request *req, void *ctx)
{
	struct api *a = ctx;
	struct store_update_content *list = NULL;
	struct store_update u;
	struct pp_error err;
	struct store *s;
	size_t n = 0;

	pp_error_clear(&err);
	s = api_store(a, &err);
	if (s == NULL || store_update_get(s, httpd_request_capture(req, "id"), &u, &err) != 0 ||
	    store_update_content_list(s, u.id, &list, &n, &err) != 0 ||
	    store_update_delete(s, u.id, &err) != 0) {
		free(list);
		api_reply_failure(a, req, &err);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		bool referenced = true;

		pp_error_clear(&err);
		if (!list[i].has_content || a->content == NULL ||
		    store_content_referenced(s, list[i].sha1, &referenced, &err) != 0 || referenced)
			continue;
		if (content_store_remove(a->content, list[i].sha1, &err) != 0)
			srvlog_write(a->log, CMTRACE_WARNING, "cannot remove content %s: %s",
				     list[i].sha1, err.message);
	}
	free(list);
	srvlog_write(a->sdist_log, CMTRACE_INFO, "DeletePackage(): update %s (%s) deleted", u.id,
		     u.title);
	httpd_reply_status(req, 204);
}

/* ---- collections and deployments ---- */

static json_t *deployment_json(const struct store_deployment *d)
{
	return json_pack("{s:I, s:s, s:s, s:s, s:s, s:I, s:o, s:I}", "id", (json_int_t)d->id,
			 "update_id", d->update_id, "title", d->title, "collection_id",
			 d->collection_id, "collection", d->collection_name, "available_at",
			 (json_int_t)d->available_at, "deadline_at",
			 d->deadline_at != 0 ? json_integer(d->deadline_at) : json_null(),
			 "created_at", (json_int_t)d->created_at);
}

/* POST /api/v1/deployments {"update","collection","available_at"?,"deadline_at"?} */
static void on_deploy(struct httpd_request *req, void *ctx)
{
	static const char *const allowed[] = {"update", "collection", "available_at", "deadline_at",
					      NULL};
	struct api *a = ctx;
	struct store_deployment d;
	struct pp_error err;
	struct store *s;
	json_t *body = api_body_object(req, allowed), *update, *coll, *avail, *deadline;

	if (body == NULL)
		return;
	memset(&d, 0, sizeof(d));
	pp_error_clear(&err);
	if (api_field(req, body, "update", FIELD_STRING, &update) < 0 ||
	    api_field(req, body, "collection", FIELD_STRING, &coll) < 0 ||
	    api_field(req, body, "available_at", FIELD_INT, &avail) < 0 ||
	    api_field(req, body, "deadline_at", FIELD_INT, &deadline) < 0)
		goto out;
	if (update == NULL) {
		httpd_reply_error(req, 400, "invalid_argument", "field \"update\" is required");
		goto out;
	}
	(void)snprintf(d.update_id, sizeof(d.update_id), "%.36s", json_string_value(update));
	(void)snprintf(d.collection_id, sizeof(d.collection_id), "%s", STORE_ALL_SYSTEMS);
	d.available_at = avail != NULL ? (int64_t)json_integer_value(avail) : (int64_t)time(NULL);
	d.deadline_at = deadline != NULL ? (int64_t)json_integer_value(deadline) : 0;
	s = api_store(a, &err);
	if (s == NULL) {
		api_reply_failure(a, req, &err);
		goto out;
	}
	if (coll != NULL) {
		struct store_collection c;

		if (store_collection_get(s, json_string_value(coll), &c, &err) != 0) {
			api_reply_failure(a, req, &err);
			goto out;
		}
		memcpy(d.collection_id, c.id, sizeof(d.collection_id));
	}
	if (strlen(json_string_value(update)) > STORE_UPDATE_ID_LEN) {
		httpd_reply_error(req, 400, "invalid_argument", "\"%.64s\" is not an update id",
				  json_string_value(update));
		goto out;
	}
	if (store_deployment_add(s, &d, &err) != 0) {
		api_reply_failure(a, req, &err);
		goto out;
	}
	srvlog_write(a->isv_log, CMTRACE_INFO,
		     "Deployment %lld: update %s (%s) to collection %s (%s), available %lld, "
		     "deadline %lld",
		     (long long)d.id, d.update_id, d.title, d.collection_id, d.collection_name,
		     (long long)d.available_at, (long long)d.deadline_at);
	api_reply_new(req, 201, json_pack("{s:o}", "deployment", deployment_json(&d)));
out:
	json_decref(body);
}

static void on_deployments(struct httpd_request *req, void *ctx)
{
	struct api *a = ctx;
	struct store_deployment *list = NULL;
	struct pp_error err;
	struct store *s;
	char update[64];
	size_t n = 0;
	json_t *arr;
	bool filtered = httpd_request_query(req, "update", update, sizeof(update)) == 0;

	pp_error_clear(&err);
	s = api_store(a, &err);
	if (s == NULL || store_deployment_list(s, filtered ? update : NULL, &list, &n, &err) != 0) {
		api_reply_failure(a, req, &err);
		return;
	}
	arr = json_array();
	for (size_t i = 0; arr != NULL && i < n; i++)
		if (json_array_append_new(arr, deployment_json(&list[i])) != 0) {
			json_decref(arr);
			arr = NULL;
		}
	free(list);
	api_reply_new(req, 200, arr != NULL ? json_pack("{s:o}", "deployments", arr) : NULL);
}

static const struct {
	const char *method;
	const char *pattern;
	httpd_handler fn;
} publish_routes[] = {
    {"POST", "/api/v1/updates", on_publish_new},
    {"POST", "/api/v1/updates/{id}/publish", on_publish},
    {"POST", "/api/v1/updates/{id}/revise", on_revise},
    {"POST", "/api/v1/updates/{id}/expire", on_expire},
    {"DELETE", "/api/v1/updates/{id}", on_delete},
    {"POST", "/api/v1/deployments", on_deploy},
    {"GET", "/api/v1/deployments", on_deployments},
};

int publish_api_add_routes(struct httpd *h, struct api *a, struct pp_error *err)
{
	for (size_t i = 0; i < sizeof(publish_routes) / sizeof(publish_routes[0]); i++)
		if (httpd_route(h, publish_routes[i].method, publish_routes[i].pattern,
				publish_routes[i].fn, a, HTTPD_ADMIN) != 0) {
			pp_error_set(err, HR_E_FAIL, "cannot add the publishing routes");
			return -1;
		}
	return 0;
}
