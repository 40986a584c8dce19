/* gpo_api.c - the routes of gpo_api.h. */
#include "gpo_api.h"

#include "base64.h"
#include "device_api.h"
#include "gpo.h"
#include "hresult.h"
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#define ETAG_MAX 24 /* "\"4294967295\"" or 16 hex digits in quotes */

/* ---- base64 ---- */

/* len bytes as base64 (no line breaks), as a JSON string; NULL when out of memory. */
static json_t *base64_json(const uint8_t *data, size_t len)
{
	size_t out_len = 4 * ((len + 2) / 3);
	unsigned char *buf = malloc(out_len + 1);
	json_t *j = NULL;

	if (buf == NULL || len > (size_t)INT32_MAX / 2)
		goto out;
	if (EVP_EncodeBlock(buf, data, (int)len) != (int)out_len)
		goto out;
	j = json_stringn((const char *)buf, out_len);
out:
	free(buf);
	return j;
}

/* ---- records ---- */

static const char *policy_state(uint32_t v)
{
	return v == 1 ? "Enabled" : "Disabled";
}

static json_t *link_json(const struct store_gpo_link *l)
{
	return json_pack("{s:s, s:s, s:I}", "collection_id", l->collection_id, "collection",
			 l->collection_name, "link_order", (json_int_t)l->link_order);
}

static json_t *gpo_head_json(const struct store_gpo *g)
{
	return json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I}", "id", g->id, "name", g->name,
			 "version", (json_int_t)g->version, "machine_version",
			 (json_int_t)gpo_version_machine(g->version), "user_version",
			 (json_int_t)gpo_version_user(g->version), "created_at",
			 (json_int_t)g->created_at, "updated_at", (json_int_t)g->updated_at);
}

/* The whole GPO: its head, certificates, policy values and links. */
static json_t *gpo_json(const struct store_gpo_contents *c)
{
	json_t *o = gpo_head_json(&c->gpo), *certs = json_array(), *values = json_array(),
	       *links = json_array();
	const char *name, *key;
	struct pp_error e;
	size_t i;

	if (o == NULL || certs == NULL || values == NULL || links == NULL)
		goto fail;
	for (i = 0; i < c->ncerts; i++)
		if (json_array_append_new(certs, json_pack("{s:s, s:s, s:s, s:I}", "store",
							   c->certs[i].store, "thumbprint",
							   c->certs[i].thumbprint, "subject",
							   c->certs[i].subject, "not_after",
							   (json_int_t)c->certs[i].not_after)) != 0)
			goto fail;
	for (i = 0; i < c->nvalues; i++) {
		pp_error_clear(&e);
		if (gpo_policy_parse(c->values[i].name, &name, &key, &e) != 0)
			continue; /* the CHECK constraint rules this out */
		if (json_array_append_new(values, json_pack("{s:s, s:s, s:I, s:s}", "name", name,
							    "key", key, "value",
							    (json_int_t)c->values[i].value, "state",
							    policy_state(c->values[i].value))) != 0)
			goto fail;
	}
	for (i = 0; i < c->nlinks; i++)
		if (json_array_append_new(links, link_json(&c->links[i])) != 0)
			goto fail;
	if (json_object_set_new(o, "certificates", certs) != 0)
		certs = NULL;
	else if (json_object_set_new(o, "policies", values) != 0)
		values = NULL;
	else if (json_object_set_new(o, "links", links) == 0)
		return o;
	json_decref(o);
	return NULL;
fail:
	json_decref(o);
	json_decref(certs);
	json_decref(values);
	json_decref(links);
	return NULL;
}

/* Replies status with the whole GPO id_or_name as it is now. */
static void reply_gpo(struct api *a, struct httpd_request *req, struct store *s,
		      const char *id_or_name, int status)
{
	struct store_gpo_contents c;
	struct pp_error err;

	pp_error_clear(&err);
	if (store_gpo_read(s, id_or_name, &c, &err) != 0) {
		api_reply_failure(a, req, &err);
		return;
	}
	api_reply_new(req, status, gpo_json(&c));
	store_gpo_contents_free(&c);
}

/* ---- GPOs ---- */

static void on_gpos(struct httpd_request *req, void *ctx)
{
	struct api *a = ctx;
	struct store_gpo *list = NULL;
	struct store_gpo_link *links = NULL;
	struct pp_error err;
	struct store *s;
	size_t n = 0, nlinks = 0, i, k;
	json_t *arr, *o, *la;

	HANDLER_STORE(a, req, s, err);
	if (store_gpo_list(s, &list, &n, &err) != 0 ||
	    store_gpo_links(s, NULL, &links, &nlinks, &err) != 0) {
		api_reply_failure(a, req, &err);
		goto out;
	}
	arr = json_array();
	for (i = 0; arr != NULL && i < n; i++) {
		o = gpo_head_json(&list[i]);
		la = json_array();
		for (k = 0; la != NULL && k < nlinks; k++)
			if (strcmp(links[k].gpo_id, list[i].id) == 0)
				(void)json_array_append_new(la, link_json(&links[k]));
		if (o == NULL || la == NULL || json_object_set_new(o, "links", la) != 0 ||
		    json_array_append_new(arr, o) != 0) {
			json_decref(arr);
			arr = NULL;
		}
	}
	api_reply_new(req, 200, arr != NULL ? json_pack("{s:o}", "gpos", arr) : NULL);
out:
	free(list);
	free(links);
}

static void on_gpo_create(struct httpd_request *req, void *ctx)
{
	static const char *const allowed[] = {"name", NULL};
	struct api *a = ctx;
	struct store_gpo g;
	struct pp_error err;
	struct store *s;
	json_t *body, *name;

	HANDLER_STORE(a, req, s, err);
	body = api_body_object(req, allowed);
	if (body == NULL)
		return;
	if (api_field(req, body, "name", FIELD_STRING, &name) < 0)
		goto out;
	if (name == NULL || json_is_null(name)) {
		httpd_reply_error(req, 400, "invalid_argument", "field \"name\" is required");
		goto out;
	}
	if (store_gpo_create(s, json_string_value(name), &g, &err) != 0) {
		api_reply_failure(a, req, &err);
		goto out;
	}
	srvlog_write(a->log, CMTRACE_INFO, "created GPO \"%s\" %s", g.name, g.id);
	reply_gpo(a, req, s, g.id, 201);
out:
	json_decref(body);
}

static void on_gpo(struct httpd_request *req, void *ctx)
{
	struct api *a = ctx;
	struct pp_error err;
	struct store *s;

	HANDLER_STORE(a, req, s, err);
	reply_gpo(a, req, s, httpd_request_capture(req, "gpo"), 200);
}

static void on_gpo_delete(struct httpd_request *req, void *ctx)
{
	struct api *a = ctx;
	const char *gpo = httpd_request_capture(req, "gpo");
	struct store_gpo g;
	struct pp_error err;
	struct store *s;

	HANDLER_STORE(a, req, s, err);
	if (store_gpo_get(s, gpo, &g, &err) != 0 || store_gpo_delete(s, g.id, &err) != 0) {
		api_reply_failure(a, req, &err);
		return;
	}
	srvlog_write(a->log, CMTRACE_INFO, "deleted GPO \"%s\" %s with its links", g.name, g.id);
	httpd_reply_status(req, 204);
}

/* ---- certificates ---- */

static void on_cert_add(struct httpd_request *req, void *ctx)
{
	static const char *const allowed[] = {"store", "der", NULL};
	struct api *a = ctx;
	const char *gpo = httpd_request_capture(req, "gpo");
	struct store_gpo g;
	struct pp_error err;
	struct store *s;
	json_t *body, *store, *der;
	uint8_t *bytes = NULL;
	size_t len = 0;

	HANDLER_STORE(a, req, s, err);
	body = api_body_object(req, allowed);
	if (body == NULL)
		return;
	if (api_field(req, body, "store", FIELD_STRING, &store) < 0 ||
	    api_field(req, body, "der", FIELD_STRING, &der) < 0)
		goto out;
	if (store == NULL || json_is_null(store) || der == NULL || json_is_null(der)) {
		httpd_reply_error(req, 400, "invalid_argument",
				  "fields \"store\" and \"der\" are required");
		goto out;
	}
	bytes = base64_decode(json_string_value(der), json_string_length(der), &len);
	if (bytes == NULL) {
		httpd_reply_error(req, 400, "invalid_argument",
				  "field \"der\" must be the certificate's DER in base64");
		goto out;
	}
	if (store_gpo_cert_add(s, gpo, json_string_value(store), bytes, len, &g, &err) != 0) {
		api_reply_failure(a, req, &err);
		goto out;
	}
	srvlog_write(a->log, CMTRACE_INFO, "GPO \"%s\" %s: added a certificate to %s (version %lu)",
		     g.name, g.id, json_string_value(store), (unsigned long)g.version);
	reply_gpo(a, req, s, g.id, 201);
out:
	free(bytes);
	json_decref(body);
}

static void on_cert_remove(struct httpd_request *req, void *ctx)
{
	struct api *a = ctx;
	const char *gpo = httpd_request_capture(req, "gpo");
	const char *store = httpd_request_capture(req, "store");
	const char *thumb = httpd_request_capture(req, "thumbprint");
	struct store_gpo g;
	struct pp_error err;
	struct store *s;

	HANDLER_STORE(a, req, s, err);
	if (store_gpo_get(s, gpo, &g, &err) != 0 ||
	    store_gpo_cert_remove(s, g.id, store, thumb, &err) != 0) {
		api_reply_failure(a, req, &err);
		return;
	}
	srvlog_write(a->log, CMTRACE_INFO, "GPO \"%s\" %s: removed certificate %s from %s", g.name,
		     g.id, thumb, store);
	httpd_reply_status(req, 204);
}

/* ---- policy values ---- */

static void on_policy_set(struct httpd_request *req, void *ctx)
{
	static const char *const allowed[] = {"value", NULL};
	struct api *a = ctx;
	const char *gpo = httpd_request_capture(req, "gpo");
	const char *name = httpd_request_capture(req, "name");
	struct store_gpo g;
	struct pp_error err;
	struct store *s;
	json_t *body, *value;
	bool changed = false;

	HANDLER_STORE(a, req, s, err);
	body = api_body_object(req, allowed);
	if (body == NULL)
		return;
	if (api_field(req, body, "value", FIELD_INT, &value) < 0)
		goto out;
	if (value == NULL || json_is_null(value) || json_integer_value(value) < 0 ||
	    json_integer_value(value) > 1) {
		httpd_reply_error(req, 400, "invalid_argument",
				  "field \"value\" must be 1 (Enabled) or 0 (Disabled)");
		goto out;
	}
	if (store_gpo_value_set(s, gpo, name, (uint32_t)json_integer_value(value), &changed, &g,
				&err) != 0) {
		api_reply_failure(a, req, &err);
		goto out;
	}
	if (changed)
		srvlog_write(a->log, CMTRACE_INFO, "GPO \"%s\" %s: %s = %lld (version %lu)", g.name,
			     g.id, name, (long long)json_integer_value(value),
			     (unsigned long)g.version);
	reply_gpo(a, req, s, g.id, 200);
out:
	json_decref(body);
}

static void on_policy_clear(struct httpd_request *req, void *ctx)
{
	struct api *a = ctx;
	const char *gpo = httpd_request_capture(req, "gpo");
	const char *name = httpd_request_capture(req, "name");
	struct store_gpo g;
	struct pp_error err;
	struct store *s;

	HANDLER_STORE(a, req, s, err);
	if (store_gpo_value_clear(s, gpo, name, &g, &err) != 0) {
		api_reply_failure(a, req, &err);
		return;
	}
	srvlog_write(a->log, CMTRACE_INFO, "GPO \"%s\" %s: %s not configured (version %lu)", g.name,
		     g.id, name, (unsigned long)g.version);
	httpd_reply_status(req, 204);
}

/* ---- links ---- */

static void on_link(struct httpd_request *req, void *ctx)
{
	static const char *const allowed[] = {"collection", "order", NULL};
	struct api *a = ctx;
	const char *gpo = httpd_request_capture(req, "gpo");
	struct store_gpo_link l;
	struct pp_error err;
	struct store *s;
	json_t *body, *coll, *order;

	HANDLER_STORE(a, req, s, err);
	body = api_body_object(req, allowed);
	if (body == NULL)
		return;
	if (api_field(req, body, "collection", FIELD_STRING, &coll) < 0 ||
	    api_field(req, body, "order", FIELD_INT, &order) < 0)
		goto out;
	if (coll == NULL || json_is_null(coll)) {
		httpd_reply_error(req, 400, "invalid_argument", "field \"collection\" is required");
		goto out;
	}
	if (order != NULL && !json_is_null(order) && json_integer_value(order) < 1) {
		httpd_reply_error(req, 400, "invalid_argument",
				  "field \"order\" must be a link order from 1");
		goto out;
	}
	if (store_gpo_link(s, gpo, json_string_value(coll),
			   json_is_integer(order) ? json_integer_value(order) : 0, &l, &err) != 0) {
		api_reply_failure(a, req, &err);
		goto out;
	}
	srvlog_write(a->log, CMTRACE_INFO,
		     "linked GPO \"%s\" %s to collection %s (link order %lld)", l.gpo_name,
		     l.gpo_id, l.collection_id, (long long)l.link_order);
	reply_gpo(a, req, s, l.gpo_id, 201);
out:
	json_decref(body);
}

static void on_unlink(struct httpd_request *req, void *ctx)
{
	struct api *a = ctx;
	const char *gpo = httpd_request_capture(req, "gpo");
	const char *coll = httpd_request_capture(req, "collection");
	struct pp_error err;
	struct store *s;

	HANDLER_STORE(a, req, s, err);
	if (store_gpo_unlink(s, gpo, coll, &err) != 0) {
		api_reply_failure(a, req, &err);
		return;
	}
	srvlog_write(a->log, CMTRACE_INFO, "unlinked GPO \"%s\" from collection \"%s\"", gpo, coll);
	httpd_reply_status(req, 204);
}

/* ---- the SYSVOL folder ---- */

/* The GPO's Machine/Registry.pol; *pol malloc'd. */
static int build_pol(const struct store_gpo_contents *c, uint8_t **pol, size_t *len,
		     struct pp_error *err)
{
	return gpo_registry_pol(c->certs, c->ncerts, c->values, c->nvalues, pol, len, err);
}

static void on_folder(struct httpd_request *req, void *ctx)
{
	struct api *a = ctx;
	struct store_gpo_contents c;
	struct pp_error err;
	struct store *s;
	uint8_t *pol = NULL;
	size_t len = 0, ini_len;
	char ini[GPO_GPT_INI_MAX];

	HANDLER_STORE(a, req, s, err);
	if (store_gpo_read(s, httpd_request_capture(req, "gpo"), &c, &err) != 0) {
		api_reply_failure(a, req, &err);
		return;
	}
	if (build_pol(&c, &pol, &len, &err) != 0) {
		api_reply_failure(a, req, &err);
		goto out;
	}
	ini_len = gpo_gpt_ini(c.gpo.version, ini);
	api_reply_new(req, 200,
		      json_pack("{s:s, s:s, s:I, s:{s:o, s:o}}", "id", c.gpo.id, "name", c.gpo.name,
				"version", (json_int_t)c.gpo.version, "files", "GPT.INI",
				base64_json((const uint8_t *)ini, ini_len), "Machine/Registry.pol",
				base64_json(pol, len)));
out:
	free(pol);
	store_gpo_contents_free(&c);
}

/* Answers 304 when If-None-Match is etag; otherwise sets the ETag header and returns 0. */
static int not_modified(struct httpd_request *req, const char *etag)
{
	const char *inm = httpd_request_header(req, "If-None-Match");

	httpd_reply_header(req, "ETag", etag);
	if (inm != NULL && strcmp(inm, etag) == 0) {
		httpd_reply_status(req, 304);
		return 1;
	}
	return 0;
}

static void on_registry_pol(struct httpd_request *req, void *ctx)
{
	struct api *a = ctx;
	struct store_gpo_contents c;
	struct pp_error err;
	struct store *s;
	uint8_t *pol = NULL;
	size_t len = 0;
	char etag[ETAG_MAX];

	HANDLER_STORE(a, req, s, err);
	if (store_gpo_read(s, httpd_request_capture(req, "gpo"), &c, &err) != 0) {
		api_reply_failure(a, req, &err);
		return;
	}
	(void)snprintf(etag, sizeof(etag), "\"%lu\"", (unsigned long)c.gpo.version);
	if (not_modified(req, etag))
		goto out;
	if (build_pol(&c, &pol, &len, &err) != 0) {
		api_reply_failure(a, req, &err);
		goto out;
	}
	httpd_reply_bytes(req, 200, "application/octet-stream", pol, len);
out:
	free(pol);
	store_gpo_contents_free(&c);
}

/* ---- the device routes ---- */

/* GET /api/v1/device/gpos: the GPOs that apply to the device, in the order it applies them. */
static void on_device_gpos(struct httpd_request *req, void *ctx)
{
	struct api *a = ctx;
	struct store_gpo_link *list = NULL;
	struct store_device d;
	struct pp_error err;
	struct store *s;
	size_t n = 0, i;
	json_t *arr, *doc = NULL;
	char *text = NULL, etag[ETAG_MAX];
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;

	HANDLER_STORE(a, req, s, err);
	if (device_api_authenticate(a, req, s, &d) != 0)
		return;
	if (store_device_gpos(s, d.id, &list, &n, &err) != 0) {
		api_reply_failure(a, req, &err);
		return;
	}
	arr = json_array();
	for (i = 0; arr != NULL && i < n; i++)
		if (json_array_append_new(
			arr, json_pack("{s:s, s:s, s:I, s:I, s:s, s:s, s:I}", "id", list[i].gpo_id,
				       "name", list[i].gpo_name, "version",
				       (json_int_t)list[i].gpo_version, "order", (json_int_t)i + 1,
				       "collection_id", list[i].collection_id, "collection",
				       list[i].collection_name, "link_order",
				       (json_int_t)list[i].link_order)) != 0) {
			json_decref(arr);
			arr = NULL;
		}
	free(list);
	/* The list's own version: a digest of what it says, cheap to make on every poll. */
	text = arr != NULL ? json_dumps(arr, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	if (text == NULL || EVP_Digest(text, strlen(text), md, &mdlen, EVP_sha256(), NULL) != 1) {
		json_decref(arr);
		free(text);
		httpd_reply_error(req, 503, "out_of_memory", "out of memory");
		return;
	}
	free(text);
	(void)snprintf(etag, sizeof(etag), "\"%02x%02x%02x%02x%02x%02x%02x%02x\"", md[0], md[1],
		       md[2], md[3], md[4], md[5], md[6], md[7]);
	if (not_modified(req, etag)) {
		json_decref(arr);
		return;
	}
	doc = json_pack("{s:s#, s:{s:s, s:s}, s:o}", "version", etag + 1, (int)strlen(etag) - 2,
			"device", "id", d.id, "name", d.name, "gpos", arr);
	api_reply_new(req, 200, doc);
}

/* GET /api/v1/device/gpos/{id}: one GPO that applies to the device, with its Registry.pol. */
static void on_device_gpo(struct httpd_request *req, void *ctx)
{
	struct api *a = ctx;
	const char *id = httpd_request_capture(req, "id");
	struct store_gpo_link *list = NULL;
	struct store_gpo_contents c;
	struct store_device d;
	struct pp_error err;
	struct store *s;
	size_t n = 0, i;
	bool linked = false;
	uint8_t *pol = NULL;
	size_t len = 0;
	char norm[STORE_GPO_ID_LEN + 1], etag[ETAG_MAX];

	memset(&c, 0, sizeof(c));
	HANDLER_STORE(a, req, s, err);
	if (device_api_authenticate(a, req, s, &d) != 0)
		return;
	if (!gpo_id_normalize(id, norm)) {
		httpd_reply_error(req, 400, "invalid_argument",
				  "a GPO id is a GUID in braces, not \"%.64s\"", id);
		return;
	}
	if (store_device_gpos(s, d.id, &list, &n, &err) != 0)
		goto fail;
	for (i = 0; i < n; i++)
		linked = linked || strcmp(list[i].gpo_id, norm) == 0;
	if (!linked) {
		httpd_reply_error(req, 404, "not_found", "GPO %s does not apply to this device",
				  norm);
		goto out;
	}
	if (store_gpo_read(s, norm, &c, &err) != 0)
		goto fail;
	(void)snprintf(etag, sizeof(etag), "\"%lu\"", (unsigned long)c.gpo.version);
	if (not_modified(req, etag))
		goto out;
	if (build_pol(&c, &pol, &len, &err) != 0)
		goto fail;
	api_reply_new(req, 200,
		      json_pack("{s:s, s:s, s:I, s:o}", "id", c.gpo.id, "name", c.gpo.name,
				"version", (json_int_t)c.gpo.version, "registry_pol",
				base64_json(pol, len)));
	goto out;
fail:
	api_reply_failure(a, req, &err);
out:
	free(pol);
	free(list);
	store_gpo_contents_free(&c);
}

/* ---- routes ---- */

static const struct {
	const char *method;
	const char *pattern;
	httpd_handler fn;
} admin_routes[] = {
    {"GET", "/api/v1/gpos", on_gpos},
    {"POST", "/api/v1/gpos", on_gpo_create},
    {"GET", "/api/v1/gpos/{gpo}", on_gpo},
    {"DELETE", "/api/v1/gpos/{gpo}", on_gpo_delete},
    {"POST", "/api/v1/gpos/{gpo}/certificates", on_cert_add},
    {"DELETE", "/api/v1/gpos/{gpo}/certificates/{store}/{thumbprint}", on_cert_remove},
    {"PUT", "/api/v1/gpos/{gpo}/policies/{name}", on_policy_set},
    {"DELETE", "/api/v1/gpos/{gpo}/policies/{name}", on_policy_clear},
    {"POST", "/api/v1/gpos/{gpo}/links", on_link},
    {"DELETE", "/api/v1/gpos/{gpo}/links/{collection}", on_unlink},
    {"GET", "/api/v1/gpos/{gpo}/folder", on_folder},
    {"GET", "/api/v1/gpos/{gpo}/Machine/Registry.pol", on_registry_pol},
};

int gpo_api_add_routes(struct httpd *h, struct api *a, struct pp_error *err)
{
	size_t i;

	if ((a->roles & API_ROLE_SITE) != 0)
		for (i = 0; i < sizeof(admin_routes) / sizeof(admin_routes[0]); i++)
			if (httpd_route(h, admin_routes[i].method, admin_routes[i].pattern,
					admin_routes[i].fn, a, HTTPD_ADMIN) != 0)
				goto fail;
	if ((a->roles & API_ROLE_MP) != 0 &&
	    (httpd_route(h, "GET", "/api/v1/device/gpos", on_device_gpos, a, 0) != 0 ||
	     httpd_route(h, "GET", "/api/v1/device/gpos/{id}", on_device_gpo, a, 0) != 0))
		goto fail;
	return 0;
fail:
	pp_error_set(err, HR_E_FAIL, "cannot add the GPO routes");
	return -1;
}
