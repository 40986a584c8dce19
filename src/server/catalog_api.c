/* catalog_api.c - the catalog and update routes of the site role (docs/api.md): import a catalog
 * from a completed upload, list and export catalogs, list and show updates. */
#include "catalog_api.h"

#include "catalog.h"
#include "content.h"
#include "hresult.h"
#include "sdp.h"
#include "store.h"
#include "upload.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The catalog a file of this name imports into by default: the name without directories and
 * without .xml, .gz, .cab or .sdp endings ("HpCatalogForSms.xml.gz" -> "HpCatalogForSms"). */
static void default_catalog_name(const char *file, char *out, size_t size)
{
	static const char *const ends[] = {".gz", ".xml", ".cab", ".sdp"};
	const char *base = strrchr(file, '/');
	size_t n;
	bool cut = true;

	base = base != NULL ? base + 1 : file;
	(void)snprintf(out, size, "%s", base);
	while (cut) {
		cut = false;
		n = strlen(out);
		for (size_t i = 0; i < sizeof(ends) / sizeof(ends[0]); i++) {
			size_t e = strlen(ends[i]);

			if (n > e && strcasecmp(out + n - e, ends[i]) == 0) {
				out[n - e] = '\0';
				cut = true;
				break;
			}
		}
	}
}

static json_t *skips_json(const struct catalog_import_result *res)
{
	json_t *a = json_array();

	for (size_t i = 0; a != NULL && i < res->skip_count; i++) {
		const struct sdp_skip *k = &res->skips[i];

		if (json_array_append_new(
			a, json_pack(
			       "{s:I, s:o, s:o, s:s}", "index", (json_int_t)k->index, "package_id",
			       k->package_id[0] != '\0' ? json_string(k->package_id) : json_null(),
			       "title", k->title[0] != '\0' ? json_string(k->title) : json_null(),
			       "reason", k->reason)) != 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

static void log_import(struct api *a, const struct catalog_import_result *res)
{
	for (size_t i = 0; i < res->skip_count; i++)
		srvlog_write(a->isv_log, CMTRACE_WARNING,
			     "Catalog %s: skipped package %u %s (%s): %s", res->catalog,
			     res->skips[i].index,
			     res->skips[i].package_id[0] != '\0' ? res->skips[i].package_id : "-",
			     res->skips[i].title, res->skips[i].reason);
	srvlog_write(a->isv_log, CMTRACE_INFO,
		     "Catalog %s imported: %u packages, %u imported, %u updated, %u unchanged, "
		     "%u skipped",
		     res->catalog, res->packages, res->imported, res->updated, res->unchanged,
		     res->skipped);
}

/* Upload errors are the client's: an unknown, malformed or unfinished upload. */
static void reply_upload_failure(struct api *a, struct httpd_request *req,
				 const struct pp_error *err)
{
	if (err->code == UPLOAD_E_NOT_FOUND)
		httpd_reply_error(req, 404, "not_found", "%s", err->message);
	else if (err->code == UPLOAD_E_BAD_ID)
		httpd_reply_error(req, 400, "invalid_argument", "%s", err->message);
	else if (err->code == UPLOAD_E_INCOMPLETE)
		httpd_reply_error(req, 409, "upload_incomplete", "%s", err->message);
	else
		api_reply_failure(a, req, err);
}

/* POST /api/v1/catalogs/import {"upload": ID, "name": NAME?, "allow_unsigned_content": BOOL?} */
static void on_import(struct httpd_request *req, void *ctx)
{
	static const char *const allowed[] = {"upload", "name", "allow_unsigned_content", NULL};
	struct api *a = ctx;
	struct pp_error err;
	struct catalog_import_result res;
	struct upload_info info;
	struct sdp_reader *r = NULL;
	struct store *s;
	json_t *body = api_body_object(req, allowed), *upload, *name, *unsigned_ok, *out;
	char catalog[STORE_NAME_MAX];
	uint64_t size = 0;
	int fd = -1;

	memset(&res, 0, sizeof(res));
	if (body == NULL)
		return;
	pp_error_clear(&err);
	if (api_field(req, body, "upload", FIELD_STRING, &upload) < 0 ||
	    api_field(req, body, "name", FIELD_STRING, &name) < 0 ||
	    api_field(req, body, "allow_unsigned_content", FIELD_BOOL, &unsigned_ok) < 0)
		goto out;
	if (upload == NULL) {
		httpd_reply_error(req, 400, "invalid_argument",
				  "field \"upload\" (the id of a completed upload) is required");
		goto out;
	}
	if (a->uploads_dir == NULL) {
		httpd_reply_error(req, 409, "no_uploads", "this server keeps no uploads");
		goto out;
	}
	if (upload_get(a->uploads_dir, json_string_value(upload), &info, &err) != 0 ||
	    upload_open_complete(a->uploads_dir, json_string_value(upload), &fd, &size, &err) !=
		0) {
		reply_upload_failure(a, req, &err);
		goto out;
	}
	if (name != NULL)
		(void)snprintf(catalog, sizeof(catalog), "%s", json_string_value(name));
	else
		default_catalog_name(info.name[0] != '\0' ? info.name : info.id, catalog,
				     sizeof(catalog));
	s = api_store(a, &err);
	r = s != NULL ? sdp_reader_new_fd(fd, &err) : NULL;
	if (r == NULL) {
		api_reply_failure(a, req, &err);
		goto out;
	}
	if (catalog_import(s, r, catalog, unsigned_ok != NULL && json_is_true(unsigned_ok), NULL,
			   NULL, &res, &err) != 0) {
		srvlog_write(a->isv_log, CMTRACE_ERROR,
			     "Catalog %s was not imported (nothing changed): %s", catalog,
			     err.message);
		if (err.code == HR_ERROR_INVALID_DATA || err.code == HR_ERROR_FILE_TOO_LARGE)
			httpd_reply_error(req, 400, "invalid_catalog",
					  "catalog %s was not imported (nothing changed): %s",
					  catalog, err.message);
		else
			api_reply_failure(a, req, &err);
		goto out;
	}
	log_import(a, &res);
	(void)close(fd);
	fd = -1;
	/* The upload has served its purpose. */
	pp_error_clear(&err);
	if (upload_remove(a->uploads_dir, info.id, &err) != 0)
		srvlog_write(a->log, CMTRACE_WARNING, "cannot remove upload %s: %s", info.id,
			     err.message);
	out = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:o}", "catalog", res.catalog, "packages",
			(json_int_t)res.packages, "imported", (json_int_t)res.imported, "updated",
			(json_int_t)res.updated, "unchanged", (json_int_t)res.unchanged, "skipped",
			(json_int_t)res.skipped, "skipped_packages", skips_json(&res));
	api_reply_new(req, 200, out);
out:
	if (fd >= 0)
		(void)close(fd);
	sdp_reader_free(r);
	catalog_import_result_clear(&res);
	json_decref(body);
}

static void on_catalogs(struct httpd_request *req, void *ctx)
{
	struct api *a = ctx;
	struct pp_error err;
	struct store_catalog *list = NULL;
	struct store *s;
	size_t n = 0;
	json_t *arr = json_array();

	pp_error_clear(&err);
	s = api_store(a, &err);
	if (s == NULL || store_catalog_list(s, &list, &n, &err) != 0) {
		json_decref(arr);
		api_reply_failure(a, req, &err);
		return;
	}
	for (size_t i = 0; arr != NULL && i < n; i++)
		if (json_array_append_new(arr, json_pack("{s:s, s:b, s:I}", "name", list[i].name,
							 "allow_unsigned_content",
							 list[i].allow_unsigned_content, "added_at",
							 (json_int_t)list[i].added_at)) != 0) {
			json_decref(arr);
			arr = NULL;
		}
	free(list);
	api_reply_new(req, 200, arr != NULL ? json_pack("{s:o}", "catalogs", arr) : NULL);
}

struct filter_text {
	char vendor[STORE_NAME_MAX], product[STORE_NAME_MAX], title[STORE_UPDATE_TITLE_MAX];
	char catalog[STORE_NAME_MAX], published[8];
};

/* The filters of the query string; -1 after replying 400 for a bad "published". */
static int query_filter(struct httpd_request *req, struct filter_text *t,
			struct store_update_filter *f)
{
	memset(t, 0, sizeof(*t));
	memset(f, 0, sizeof(*f));
	f->published = -1;
	if (httpd_request_query(req, "vendor", t->vendor, sizeof(t->vendor)) == 0)
		f->vendor = t->vendor;
	if (httpd_request_query(req, "product", t->product, sizeof(t->product)) == 0)
		f->product = t->product;
	if (httpd_request_query(req, "title", t->title, sizeof(t->title)) == 0)
		f->title = t->title;
	if (httpd_request_query(req, "catalog", t->catalog, sizeof(t->catalog)) == 0)
		f->catalog = t->catalog;
	if (httpd_request_query(req, "published", t->published, sizeof(t->published)) == 0) {
		if (strcmp(t->published, "true") == 0) {
			f->published = 1;
		} else if (strcmp(t->published, "false") == 0) {
			f->published = 0;
		} else {
			httpd_reply_error(req, 400, "invalid_argument",
					  "published must be true or false");
			return -1;
		}
	}
	return 0;
}

static void on_updates(struct httpd_request *req, void *ctx)
{
	struct api *a = ctx;
	struct pp_error err;
	struct filter_text t;
	struct store_update_filter f;
	struct store_update *list = NULL;
	struct store *s;
	size_t n = 0;
	json_t *arr;

	pp_error_clear(&err);
	if (query_filter(req, &t, &f) != 0)
		return;
	s = api_store(a, &err);
	if (s == NULL || store_update_list(s, &f, &list, &n, &err) != 0) {
		api_reply_failure(a, req, &err);
		return;
	}
	arr = json_array();
	for (size_t i = 0; arr != NULL && i < n; i++)
		if (json_array_append_new(arr, catalog_update_summary_json(&list[i])) != 0) {
			json_decref(arr);
			arr = NULL;
		}
	free(list);
	api_reply_new(req, 200, arr != NULL ? json_pack("{s:o}", "updates", arr) : NULL);
}

/* The update of the {id} capture and its SDP; -1 after replying. */
static int load_update(struct api *a, struct httpd_request *req, struct store_update *u, char **xml,
		       size_t *len)
{
	struct pp_error err;
	struct store *s;

	pp_error_clear(&err);
	s = api_store(a, &err);
	if (s == NULL || store_update_get(s, httpd_request_capture(req, "id"), u, &err) != 0 ||
	    store_update_sdp(s, u->id, xml, len, &err) != 0) {
		api_reply_failure(a, req, &err);
		return -1;
	}
	return 0;
}

/* Adds "content": the published content of every revision, oldest first. */
static json_t *with_content(struct api *a, const struct store_update *u, json_t *j)
{
	struct store_update_content *list = NULL;
	struct pp_error err;
	struct store *s;
	size_t n = 0;
	json_t *arr;

	pp_error_clear(&err);
	s = api_store(a, &err);
	if (j == NULL || s == NULL || store_update_content_list(s, u->id, &list, &n, &err) != 0) {
		json_decref(j);
		return NULL;
	}
	arr = json_array();
	for (size_t i = 0; arr != NULL && i < n; i++) {
		const struct store_update_content *c = &list[i];
		json_t *row = json_pack("{s:I, s:b, s:I}", "revision", (json_int_t)c->revision,
					"metadata_only", !c->has_content, "published_at",
					(json_int_t)c->published_at);

		if (row != NULL && c->has_content) {
			char path[CONTENT_URL_PATH_MAX];

			(void)snprintf(path, sizeof(path), "/Content/%.2s/%.40s.cab", c->sha1 + 38,
				       c->sha1);
			(void)json_object_set_new(row, "sha1", json_string(c->sha1));
			(void)json_object_set_new(row, "sha256", json_string(c->sha256));
			(void)json_object_set_new(row, "size", json_integer((json_int_t)c->size));
			(void)json_object_set_new(row, "path", json_string(path));
			(void)json_object_set_new(row, "signer", json_string(c->signer));
			(void)json_object_set_new(row, "files", json_string(c->files));
		}
		if (json_array_append_new(arr, row) != 0) {
			json_decref(arr);
			arr = NULL;
		}
	}
	free(list);
	if (arr == NULL || json_object_set_new(j, "content", arr) != 0) {
		json_decref(j);
		return NULL;
	}
	return j;
}

static void on_update(struct httpd_request *req, void *ctx)
{
	struct api *a = ctx;
	struct store_update u;
	struct sdp_package *p;
	struct pp_error err;
	char *xml = NULL;
	size_t len = 0;

	if (load_update(a, req, &u, &xml, &len) != 0)
		return;
	pp_error_clear(&err);
	p = sdp_package_parse(xml, len, &err);
	free(xml);
	if (p == NULL) {
		api_reply_failure(a, req, &err);
		return;
	}
	api_reply_new(req, 200, with_content(a, &u, catalog_update_json(&u, p)));
	sdp_package_free(p);
}

static void on_update_sdp(struct httpd_request *req, void *ctx)
{
	struct store_update u;
	char *xml = NULL;
	size_t len = 0;

	if (load_update(ctx, req, &u, &xml, &len) != 0)
		return;
	httpd_reply_bytes(req, 200, "application/xml", xml, len);
	free(xml);
}

struct membuf {
	char *data;
	size_t len, cap;
};

static int membuf_write(void *ctx, const void *buf, size_t len, struct pp_error *err)
{
	struct membuf *m = ctx;

	if (len > m->cap - m->len) {
		size_t cap = m->cap == 0 ? 64 * 1024 : m->cap;
		char *n;

		while (cap - m->len < len)
			cap *= 2;
		n = realloc(m->data, cap);
		if (n == NULL) {
			pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory exporting the catalog");
			return -1;
		}
		m->data = n;
		m->cap = cap;
	}
	memcpy(m->data + m->len, buf, len);
	m->len += len;
	return 0;
}

/* GET /api/v1/catalogs/export: the matching updates as one SCUP catalog. */
static void on_export(struct httpd_request *req, void *ctx)
{
	struct api *a = ctx;
	struct pp_error err;
	struct filter_text t;
	struct store_update_filter f;
	struct membuf m = {0};
	struct store *s;
	unsigned count = 0;

	pp_error_clear(&err);
	if (query_filter(req, &t, &f) != 0)
		return;
	s = api_store(a, &err);
	if (s == NULL || catalog_export(s, &f, membuf_write, &m, &count, &err) != 0) {
		free(m.data);
		api_reply_failure(a, req, &err);
		return;
	}
	srvlog_write(a->isv_log, CMTRACE_INFO, "Exported %u update(s) as a catalog", count);
	httpd_reply_bytes(req, 200, "application/xml", m.data, m.len);
	free(m.data);
}

static const struct {
	const char *method;
	const char *pattern;
	httpd_handler fn;
} catalog_routes[] = {
    {"POST", "/api/v1/catalogs/import", on_import},
    {"GET", "/api/v1/catalogs/export", on_export},
    {"GET", "/api/v1/catalogs", on_catalogs},
    {"GET", "/api/v1/updates", on_updates},
    {"GET", "/api/v1/updates/{id}/sdp", on_update_sdp},
    {"GET", "/api/v1/updates/{id}", on_update},
};

int catalog_api_add_routes(struct httpd *h, struct api *a, struct pp_error *err)
{
	for (size_t i = 0; i < sizeof(catalog_routes) / sizeof(catalog_routes[0]); i++)
		if (httpd_route(h, catalog_routes[i].method, catalog_routes[i].pattern,
				catalog_routes[i].fn, a, HTTPD_ADMIN) != 0) {
			pp_error_set(err, HR_E_FAIL, "cannot add the catalog routes");
			return -1;
		}
	return 0;
}
