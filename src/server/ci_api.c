/* ci_api.c - the routes of ci_api.h. The store checks and decides (store_ci.c); these handlers
 * turn bodies into its calls and its records into JSON. */
#include "ci_api.h"

#include "base64.h"
#include "device_api.h"

#include "hresult.h"
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#define VERSION_HEX 16 /* hex digits of a baselines document version */

static json_t *time_or_null(int64_t t)
{
	return t != 0 ? json_integer(t) : json_null();
}

static json_t *stores_json(unsigned stores)
{
	json_t *arr = json_array();

	if (arr != NULL && (stores & CONFIGITEM_STORE_ROOT) != 0)
		(void)json_array_append_new(arr, json_string("Root"));
	if (arr != NULL && (stores & CONFIGITEM_STORE_TRUSTED_PUBLISHER) != 0)
		(void)json_array_append_new(arr, json_string("TrustedPublisher"));
	return arr;
}

/* Base64 of len bytes (no line breaks); NULL when out of memory. The caller frees it. */
static char *base64_of(const uint8_t *data, size_t len)
{
	char *out;

	if (len > (size_t)INT32_MAX / 2)
		return NULL;
	out = malloc((len + 2) / 3 * 4 + 1);
	if (out != NULL)
		(void)EVP_EncodeBlock((unsigned char *)out, data, (int)len);
	return out;
}

/* ---- records ---- */

/* An item as the admin API shows it; with full, its scripts too. */
static json_t *ci_json(const struct store_ci *ci, bool full)
{
	json_t *o = json_pack(
	    "{s:I, s:s, s:s, s:s, s:I, s:I, s:I, s:I}", "id", (json_int_t)ci->id, "name", ci->name,
	    "kind", configitem_kind_name(ci->kind), "kind_label", configitem_kind_label(ci->kind),
	    "revision", (json_int_t)ci->revision, "baselines", (json_int_t)ci->baseline_count,
	    "created_at", (json_int_t)ci->created_at, "updated_at", (json_int_t)ci->updated_at);
	json_t *part;

	if (o == NULL)
		return NULL;
	if (ci->kind == CONFIGITEM_KIND_CERTIFICATE)
		part = json_pack("{s:s, s:s, s:o}", "thumbprint", ci->thumbprint, "subject",
				 ci->subject, "stores", stores_json(ci->stores));
	else
		part = json_pack(
		    "{s:s, s:s, s:s, s:I, s:b}", "data_type", configitem_type_name(ci->data_type),
		    "operator", "equals", "expected", ci->expected, "timeout_seconds",
		    (json_int_t)ci->timeout_seconds, "has_remediation", ci->remediation != NULL);
	if (part != NULL && full && ci->kind == CONFIGITEM_KIND_SCRIPT &&
	    (json_object_set_new(part, "discovery", json_string(ci->discovery)) != 0 ||
	     json_object_set_new(part, "remediation",
				 ci->remediation != NULL ? json_string(ci->remediation)
							 : json_null()) != 0)) {
		json_decref(part);
		part = NULL;
	}
	if (part == NULL ||
	    json_object_set_new(
		o, ci->kind == CONFIGITEM_KIND_CERTIFICATE ? "certificate" : "script", part) != 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *deployment_json(const struct store_baseline_deployment *d)
{
	return json_pack("{s:I, s:s, s:s, s:s, s:b, s:I, s:I}", "id", (json_int_t)d->id, "baseline",
			 d->baseline_name, "collection_id", d->collection_id, "collection",
			 d->collection_name, "remediate", d->remediate, "schedule_hours",
			 (json_int_t)d->schedule_hours, "created_at", (json_int_t)d->created_at);
}

static json_t *baseline_summary_json(const struct store_baseline *b)
{
	return json_pack("{s:I, s:s, s:I, s:I, s:I, s:I, s:I}", "id", (json_int_t)b->id, "name",
			 b->name, "revision", (json_int_t)b->revision, "items",
			 (json_int_t)b->item_count, "deployments", (json_int_t)b->deployment_count,
			 "created_at", (json_int_t)b->created_at, "updated_at",
			 (json_int_t)b->updated_at);
}

/* A baseline with its items and deployments; NULL with err. */
static json_t *baseline_json(struct store *s, const struct store_baseline *b, struct pp_error *err)
{
	struct store_baseline_deployment *deps = NULL;
	struct store_baseline_item *items = NULL;
	size_t ni = 0, nd = 0;
	json_t *o = NULL, *arr_i, *arr_d;

	if (store_baseline_items(s, b->id, &items, &ni, err) != 0 ||
	    store_baseline_deployments(s, b->id, &deps, &nd, err) != 0)
		goto out;
	arr_i = json_array();
	for (size_t i = 0; arr_i != NULL && i < ni; i++)
		(void)json_array_append_new(
		    arr_i,
		    json_pack("{s:I, s:s, s:s, s:I}", "id", (json_int_t)items[i].item_id, "name",
			      items[i].name, "kind", configitem_kind_name(items[i].kind),
			      "revision", (json_int_t)items[i].revision));
	arr_d = json_array();
	for (size_t i = 0; arr_d != NULL && i < nd; i++)
		(void)json_array_append_new(arr_d, deployment_json(&deps[i]));
	o = json_pack("{s:I, s:s, s:I, s:I, s:I, s:o, s:o}", "id", (json_int_t)b->id, "name",
		      b->name, "revision", (json_int_t)b->revision, "created_at",
		      (json_int_t)b->created_at, "updated_at", (json_int_t)b->updated_at, "items",
		      arr_i, "deployments", arr_d);
	if (o == NULL)
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
out:
	free(items);
	free(deps);
	return o;
}

/* ---- body fields ---- */

/* A required string field; NULL after replying 400. */
static const char *required_string(struct httpd_request *req, json_t *body, const char *name)
{
	json_t *v;
	int r = api_field(req, body, name, FIELD_STRING, &v);

	if (r < 0)
		return NULL;
	if (r == 0) {
		httpd_reply_error(req, 400, "invalid_argument", "field \"%s\" is required", name);
		return NULL;
	}
	return json_string_value(v);
}

/* "stores": ["Root", "TrustedPublisher"] into bits; -1 after replying 400. */
static int stores_field(struct api *a, struct httpd_request *req, json_t *body, unsigned *stores)
{
	json_t *arr = json_object_get(body, "stores"), *v;
	struct pp_error err;
	unsigned bit;
	size_t i;

	*stores = 0;
	pp_error_clear(&err);
	if (!json_is_array(arr) || json_array_size(arr) == 0 || json_array_size(arr) > 8) {
		httpd_reply_error(req, 400, "invalid_argument",
				  "field \"stores\" must list Root, TrustedPublisher or both");
		return -1;
	}
	json_array_foreach(arr, i, v)
	{
		if (!json_is_string(v)) {
			httpd_reply_error(req, 400, "invalid_argument",
					  "field \"stores\" must be a list of store names");
			return -1;
		}
		if (configitem_store_parse(json_string_value(v), &bit, &err) != 0) {
			api_reply_failure(a, req, &err);
			return -1;
		}
		*stores |= bit;
	}
	return 0;
}

/* "expected" as text: a string, or a JSON integer or boolean written out. -1 after replying. */
static int expected_field(struct httpd_request *req, json_t *body, char *out, size_t size,
			  bool *present)
{
	json_t *v = json_object_get(body, "expected");

	*present = v != NULL && !json_is_null(v);
	if (!*present)
		return 0;
	if (json_is_string(v) && json_string_length(v) < size)
		(void)snprintf(out, size, "%s", json_string_value(v));
	else if (json_is_integer(v))
		(void)snprintf(out, size, "%lld", (long long)json_integer_value(v));
	else if (json_is_boolean(v))
		(void)snprintf(out, size, "%s", json_is_true(v) ? "true" : "false");
	else {
		httpd_reply_error(
		    req, 400, "invalid_argument",
		    json_is_string(v)
			? "field \"expected\" is longer than 1024 bytes"
			: "field \"expected\" must be a string, an integer or a boolean");
		return -1;
	}
	return 0;
}

/* ---- configuration items ---- */

static void reply_ci(struct httpd_request *req, int status, const struct store_ci *ci)
{
	api_reply_new(req, status, ci_json(ci, true));
}

static void on_ci_create(struct httpd_request *req, void *ctx)
{
	static const char *const allowed[] = {
	    "name",	   "kind",	"certificate", "thumbprint", "stores",		"discovery",
	    "remediation", "data_type", "operator",    "expected",   "timeout_seconds", NULL};
	struct api *a = ctx;
	struct store_ci_spec spec;
	struct store_ci ci;
	struct pp_error err;
	struct store *s;
	json_t *body, *v, *timeout;
	const char *kind, *text;
	char expected[CONFIGITEM_VALUE_MAX + 2] = "";
	uint8_t *der = NULL;
	bool present;

	HANDLER_STORE(a, req, s, err);
	memset(&ci, 0, sizeof(ci));
	memset(&spec, 0, sizeof(spec));
	body = api_body_object(req, allowed);
	if (body == NULL)
		return;
	spec.name = required_string(req, body, "name");
	if (spec.name == NULL || (kind = required_string(req, body, "kind")) == NULL)
		goto out;
	if (configitem_kind_parse(kind, &spec.kind, &err) != 0)
		goto fail;
	if (spec.kind == CONFIGITEM_KIND_CERTIFICATE) {
		if (api_field(req, body, "certificate", FIELD_STRING, &v) < 0)
			goto out;
		if (v != NULL && !json_is_null(v)) {
			der = base64_decode(json_string_value(v), json_string_length(v),
					    &spec.der_len);
			if (der == NULL) {
				httpd_reply_error(req, 400, "invalid_argument",
						  "field \"certificate\" is not base64 (the DER of "
						  "a certificate)");
				goto out;
			}
			spec.der = der;
		} else {
			if (api_field(req, body, "thumbprint", FIELD_STRING, &v) < 0)
				goto out;
			spec.thumbprint = json_string_value(v);
		}
		if (stores_field(a, req, body, &spec.stores) != 0)
			goto out;
	} else {
		if ((spec.discovery = required_string(req, body, "discovery")) == NULL)
			goto out;
		spec.discovery_len = json_string_length(json_object_get(body, "discovery"));
		if (api_field(req, body, "remediation", FIELD_STRING, &v) < 0)
			goto out;
		if (v != NULL && !json_is_null(v)) {
			spec.remediation = json_string_value(v);
			spec.remediation_len = json_string_length(v);
		}
		if ((text = required_string(req, body, "data_type")) == NULL)
			goto out;
		if (configitem_type_parse(text, &spec.data_type, &err) != 0)
			goto fail;
		if (api_field(req, body, "operator", FIELD_STRING, &v) < 0)
			goto out;
		if (v != NULL && !json_is_null(v) &&
		    configitem_operator_check(json_string_value(v), &err) != 0)
			goto fail;
		if (expected_field(req, body, expected, sizeof(expected), &present) != 0)
			goto out;
		if (!present) {
			httpd_reply_error(req, 400, "invalid_argument",
					  "field \"expected\" is required");
			goto out;
		}
		spec.expected = expected;
		if (api_field(req, body, "timeout_seconds", FIELD_INT, &timeout) < 0)
			goto out;
		if (timeout != NULL && !json_is_null(timeout)) {
			spec.timeout_seconds = json_integer_value(timeout);
			if (configitem_check_timeout(spec.timeout_seconds, &err) != 0)
				goto fail;
		}
	}
	if (store_ci_create(s, &spec, &ci, &err) != 0)
		goto fail;
	srvlog_write(a->log, CMTRACE_INFO, "created configuration item \"%s\" (%s, id %lld)",
		     ci.name, configitem_kind_name(ci.kind), (long long)ci.id);
	reply_ci(req, 201, &ci);
	goto out;
fail:
	api_reply_failure(a, req, &err);
out:
	store_ci_clear(&ci);
	free(der);
	json_decref(body);
}

static void on_ci_list(struct httpd_request *req, void *ctx)
{
	struct api *a = ctx;
	struct store_ci *list = NULL;
	struct pp_error err;
	struct store *s;
	size_t n = 0;
	json_t *arr;

	HANDLER_STORE(a, req, s, err);
	if (store_ci_list(s, &list, &n, &err) != 0) {
		api_reply_failure(a, req, &err);
		return;
	}
	arr = json_array();
	for (size_t i = 0; arr != NULL && i < n; i++)
		(void)json_array_append_new(arr, ci_json(&list[i], false));
	store_ci_list_free(list, n);
	api_reply_new(req, 200,
		      arr != NULL ? json_pack("{s:o}", "configuration_items", arr) : NULL);
}

static void on_ci_get(struct httpd_request *req, void *ctx)
{
	struct api *a = ctx;
	struct store_ci ci;
	struct pp_error err;
	struct store *s;

	HANDLER_STORE(a, req, s, err);
	if (store_ci_get(s, httpd_request_capture(req, "name"), &ci, &err) != 0) {
		api_reply_failure(a, req, &err);
		return;
	}
	reply_ci(req, 200, &ci);
	store_ci_clear(&ci);
}

static void on_ci_change(struct httpd_request *req, void *ctx)
{
	static const char *const allowed[] = {"stores",		 "discovery", "remediation",
					      "data_type",	 "operator",  "expected",
					      "timeout_seconds", NULL};
	struct api *a = ctx;
	struct store_ci_change chg;
	struct store_ci ci;
	struct pp_error err;
	struct store *s;
	json_t *body, *v;
	char expected[CONFIGITEM_VALUE_MAX + 2] = "";

	HANDLER_STORE(a, req, s, err);
	memset(&chg, 0, sizeof(chg));
	memset(&ci, 0, sizeof(ci));
	body = api_body_object(req, allowed);
	if (body == NULL)
		return;
	if (json_object_get(body, "stores") != NULL) {
		chg.set_stores = true;
		if (stores_field(a, req, body, &chg.stores) != 0)
			goto out;
	}
	if (api_field(req, body, "discovery", FIELD_STRING, &v) < 0)
		goto out;
	if (v != NULL && !json_is_null(v)) {
		chg.set_discovery = true;
		chg.discovery = json_string_value(v);
		chg.discovery_len = json_string_length(v);
	}
	if (api_field(req, body, "remediation", FIELD_STRING, &v) < 0)
		goto out;
	if (v != NULL) { /* null removes it */
		chg.set_remediation = true;
		chg.remediation = json_string_value(v);
		chg.remediation_len = json_is_string(v) ? json_string_length(v) : 0;
	}
	if (api_field(req, body, "data_type", FIELD_STRING, &v) < 0)
		goto out;
	if (v != NULL && !json_is_null(v)) {
		chg.set_type = true;
		if (configitem_type_parse(json_string_value(v), &chg.data_type, &err) != 0)
			goto fail;
	}
	if (api_field(req, body, "operator", FIELD_STRING, &v) < 0)
		goto out;
	if (v != NULL && !json_is_null(v) &&
	    configitem_operator_check(json_string_value(v), &err) != 0)
		goto fail;
	if (expected_field(req, body, expected, sizeof(expected), &chg.set_expected) != 0)
		goto out;
	chg.expected = expected;
	if (api_field(req, body, "timeout_seconds", FIELD_INT, &v) < 0)
		goto out;
	if (v != NULL && !json_is_null(v)) {
		chg.set_timeout = true;
		chg.timeout_seconds = json_integer_value(v);
	}
	if (store_ci_change(s, httpd_request_capture(req, "name"), &chg, &ci, &err) != 0)
		goto fail;
	srvlog_write(a->log, CMTRACE_INFO, "configuration item \"%s\" is at revision %lld", ci.name,
		     (long long)ci.revision);
	reply_ci(req, 200, &ci);
	goto out;
fail:
	api_reply_failure(a, req, &err);
out:
	store_ci_clear(&ci);
	json_decref(body);
}

static void on_ci_delete(struct httpd_request *req, void *ctx)
{
	struct api *a = ctx;
	struct pp_error err;
	struct store *s;

	HANDLER_STORE(a, req, s, err);
	if (store_ci_delete(s, httpd_request_capture(req, "name"), &err) != 0) {
		api_reply_failure(a, req, &err);
		return;
	}
	srvlog_write(a->log, CMTRACE_INFO, "deleted configuration item \"%s\"",
		     httpd_request_capture(req, "name"));
	httpd_reply_status(req, 204);
}

/* ---- baselines ---- */

static void reply_baseline(struct api *a, struct httpd_request *req, struct store *s,
			   const char *name, int status)
{
	struct store_baseline b;
	struct pp_error err;
	json_t *o;

	pp_error_clear(&err);
	if (store_baseline_get(s, name, &b, &err) != 0 ||
	    (o = baseline_json(s, &b, &err)) == NULL) {
		api_reply_failure(a, req, &err);
		return;
	}
	api_reply_new(req, status, o);
}

static void on_baseline_create(struct httpd_request *req, void *ctx)
{
	static const char *const allowed[] = {"name", "items", NULL};
	struct api *a = ctx;
	struct store_baseline b;
	struct pp_error err;
	struct store *s;
	const char **items = NULL;
	const char *name;
	json_t *body, *arr, *v;
	size_t i, n;

	HANDLER_STORE(a, req, s, err);
	body = api_body_object(req, allowed);
	if (body == NULL)
		return;
	if ((name = required_string(req, body, "name")) == NULL)
		goto out;
	arr = json_object_get(body, "items");
	if (arr != NULL && !json_is_array(arr) && !json_is_null(arr)) {
		httpd_reply_error(req, 400, "invalid_argument",
				  "field \"items\" must be a list of configuration item names");
		goto out;
	}
	n = json_array_size(arr);
	if (n > CONFIGITEM_BASELINE_ITEMS_MAX) {
		httpd_reply_error(req, 400, "invalid_argument",
				  "a baseline holds at most %d configuration items",
				  CONFIGITEM_BASELINE_ITEMS_MAX);
		goto out;
	}
	items = calloc(n + 1, sizeof(*items));
	if (items == NULL) {
		httpd_reply_error(req, 503, "out_of_memory", "out of memory");
		goto out;
	}
	json_array_foreach(arr, i, v)
	{
		if (!json_is_string(v)) {
			httpd_reply_error(req, 400, "invalid_argument",
					  "field \"items\" must be a list of configuration item "
					  "names");
			goto out;
		}
		items[i] = json_string_value(v);
	}
	if (store_baseline_create(s, name, items, n, &b, &err) != 0) {
		api_reply_failure(a, req, &err);
		goto out;
	}
	srvlog_write(a->log, CMTRACE_INFO, "created configuration baseline \"%s\" with %zu item(s)",
		     b.name, n);
	reply_baseline(a, req, s, b.name, 201);
out:
	free(items);
	json_decref(body);
}

static void on_baseline_list(struct httpd_request *req, void *ctx)
{
	struct api *a = ctx;
	struct store_baseline *list = NULL;
	struct pp_error err;
	struct store *s;
	size_t n = 0;
	json_t *arr;

	HANDLER_STORE(a, req, s, err);
	if (store_baseline_list(s, &list, &n, &err) != 0) {
		api_reply_failure(a, req, &err);
		return;
	}
	arr = json_array();
	for (size_t i = 0; arr != NULL && i < n; i++)
		(void)json_array_append_new(arr, baseline_summary_json(&list[i]));
	free(list);
	api_reply_new(req, 200, arr != NULL ? json_pack("{s:o}", "baselines", arr) : NULL);
}

static void on_baseline_get(struct httpd_request *req, void *ctx)
{
	struct api *a = ctx;
	struct pp_error err;
	struct store *s;

	HANDLER_STORE(a, req, s, err);
	reply_baseline(a, req, s, httpd_request_capture(req, "name"), 200);
}

static void on_baseline_delete(struct httpd_request *req, void *ctx)
{
	struct api *a = ctx;
	struct pp_error err;
	struct store *s;

	HANDLER_STORE(a, req, s, err);
	if (store_baseline_delete(s, httpd_request_capture(req, "name"), &err) != 0) {
		api_reply_failure(a, req, &err);
		return;
	}
	srvlog_write(a->log, CMTRACE_INFO, "deleted configuration baseline \"%s\"",
		     httpd_request_capture(req, "name"));
	httpd_reply_status(req, 204);
}

static void on_baseline_add_item(struct httpd_request *req, void *ctx)
{
	static const char *const allowed[] = {"item", NULL};
	struct api *a = ctx;
	const char *name = httpd_request_capture(req, "name"), *item;
	struct pp_error err;
	struct store *s;
	json_t *body;

	HANDLER_STORE(a, req, s, err);
	body = api_body_object(req, allowed);
	if (body == NULL)
		return;
	if ((item = required_string(req, body, "item")) == NULL)
		goto out;
	if (store_baseline_add_item(s, name, item, &err) != 0) {
		api_reply_failure(a, req, &err);
		goto out;
	}
	reply_baseline(a, req, s, name, 200);
out:
	json_decref(body);
}

static void on_baseline_remove_item(struct httpd_request *req, void *ctx)
{
	struct api *a = ctx;
	const char *name = httpd_request_capture(req, "name");
	struct pp_error err;
	struct store *s;

	HANDLER_STORE(a, req, s, err);
	if (store_baseline_remove_item(s, name, httpd_request_capture(req, "item"), &err) != 0) {
		api_reply_failure(a, req, &err);
		return;
	}
	reply_baseline(a, req, s, name, 200);
}

static void on_baseline_deploy(struct httpd_request *req, void *ctx)
{
	static const char *const allowed[] = {"collection", "remediate", "schedule_hours", NULL};
	struct api *a = ctx;
	struct store_baseline_deployment d;
	struct pp_error err;
	struct store *s;
	const char *collection;
	json_t *body, *remediate, *hours;

	HANDLER_STORE(a, req, s, err);
	body = api_body_object(req, allowed);
	if (body == NULL)
		return;
	if ((collection = required_string(req, body, "collection")) == NULL ||
	    api_field(req, body, "remediate", FIELD_BOOL, &remediate) < 0 ||
	    api_field(req, body, "schedule_hours", FIELD_INT, &hours) < 0)
		goto out;
	if (json_is_integer(hours) &&
	    configitem_check_schedule(json_integer_value(hours), &err) != 0) {
		api_reply_failure(a, req, &err);
		goto out;
	}
	if (store_baseline_deploy(
		s, httpd_request_capture(req, "name"), collection, json_is_true(remediate),
		json_is_integer(hours) ? json_integer_value(hours) : 0, &d, &err) != 0) {
		api_reply_failure(a, req, &err);
		goto out;
	}
	srvlog_write(a->log, CMTRACE_INFO,
		     "deployed configuration baseline \"%s\" to collection \"%s\" (remediate %s, "
		     "every %lld hours)",
		     d.baseline_name, d.collection_name, d.remediate ? "yes" : "no",
		     (long long)d.schedule_hours);
	api_reply_new(req, 201, deployment_json(&d));
out:
	json_decref(body);
}

static void on_baseline_undeploy(struct httpd_request *req, void *ctx)
{
	struct api *a = ctx;
	struct pp_error err;
	struct store *s;

	HANDLER_STORE(a, req, s, err);
	if (store_baseline_undeploy(s, httpd_request_capture(req, "name"),
				    httpd_request_capture(req, "collection"), &err) != 0) {
		api_reply_failure(a, req, &err);
		return;
	}
	httpd_reply_status(req, 204);
}

/* ---- compliance ---- */

/* A device's state of a baseline from its items': Error before Non-compliant before Unknown
 * (an item not reported yet) before Remediated before Compliant. */
static enum configitem_state device_state(const struct store_ci_compliance *rows, size_t n)
{
	static const enum configitem_state worst_first[] = {
	    CONFIGITEM_ERROR, CONFIGITEM_NON_COMPLIANT, CONFIGITEM_UNKNOWN, CONFIGITEM_REMEDIATED};

	for (size_t k = 0; k < sizeof(worst_first) / sizeof(worst_first[0]); k++)
		for (size_t i = 0; i < n; i++)
			if (rows[i].state == worst_first[k])
				return worst_first[k];
	return CONFIGITEM_COMPLIANT;
}

static json_t *compliance_item_json(const struct store_ci_compliance *r)
{
	char hr[11];

	(void)snprintf(hr, sizeof(hr), "0x%08X", r->hresult);
	return json_pack("{s:I, s:s, s:s, s:s, s:o, s:o, s:o, s:o}", "item_id",
			 (json_int_t)r->item_id, "name", r->item_name, "state",
			 configitem_state_name(r->state), "status",
			 configitem_state_label(r->state), "revision",
			 r->item_revision != 0 ? json_integer(r->item_revision) : json_null(),
			 "hresult", r->has_hresult ? json_string(hr) : json_null(), "exit_code",
			 r->has_exit_code ? json_integer(r->exit_code) : json_null(), "detail",
			 r->detail[0] != '\0' ? json_string(r->detail) : json_null());
}

static void on_compliance(struct httpd_request *req, void *ctx)
{
	struct api *a = ctx;
	struct store_ci_compliance *rows = NULL;
	struct store_baseline_item *items = NULL;
	struct store_baseline b;
	struct pp_error err;
	struct store *s;
	size_t n = 0, ni = 0, counts[CONFIGITEM_STATE_COUNT] = {0};
	json_t *devices, *summary, *arr_i, *doc = NULL;

	HANDLER_STORE(a, req, s, err);
	if (store_baseline_get(s, httpd_request_capture(req, "name"), &b, &err) != 0 ||
	    store_baseline_items(s, b.id, &items, &ni, &err) != 0 ||
	    store_baseline_compliance(s, b.id, &rows, &n, &err) != 0) {
		api_reply_failure(a, req, &err);
		goto out;
	}
	devices = json_array();
	for (size_t i = 0; devices != NULL && i < n;) {
		size_t k = i;
		enum configitem_state st;
		json_t *its = json_array();

		while (k < n && strcmp(rows[k].device_id, rows[i].device_id) == 0)
			k++;
		st = device_state(&rows[i], k - i);
		counts[st]++;
		for (size_t j = i; its != NULL && j < k; j++)
			(void)json_array_append_new(its, compliance_item_json(&rows[j]));
		(void)json_array_append_new(
		    devices,
		    json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:o}", "device_id", rows[i].device_id,
			      "device", rows[i].device_name, "state", configitem_state_name(st),
			      "status", configitem_state_label(st), "time",
			      time_or_null(rows[i].report_time), "baseline_revision",
			      rows[i].baseline_revision != 0
				  ? json_integer(rows[i].baseline_revision)
				  : json_null(),
			      "items", its));
		i = k;
	}
	summary = json_object();
	for (int k = 0; summary != NULL && k < CONFIGITEM_STATE_COUNT; k++)
		(void)json_object_set_new(summary, configitem_state_name((enum configitem_state)k),
					  json_integer((json_int_t)counts[k]));
	arr_i = json_array();
	for (size_t i = 0; arr_i != NULL && i < ni; i++)
		(void)json_array_append_new(
		    arr_i, json_pack("{s:I, s:s, s:I}", "id", (json_int_t)items[i].item_id, "name",
				     items[i].name, "revision", (json_int_t)items[i].revision));
	doc = json_pack("{s:{s:I, s:s, s:I}, s:o, s:o, s:o}", "baseline", "id", (json_int_t)b.id,
			"name", b.name, "revision", (json_int_t)b.revision, "items", arr_i,
			"summary", summary, "devices", devices);
	api_reply_new(req, 200, doc);
out:
	free(rows);
	free(items);
}

/* ---- the device routes ---- */

/* One item as a device gets it: what it needs to evaluate and remediate. */
static json_t *device_item_json(const struct store_ci *ci)
{
	json_t *o =
	    json_pack("{s:I, s:s, s:I, s:s}", "id", (json_int_t)ci->id, "name", ci->name,
		      "revision", (json_int_t)ci->revision, "kind", configitem_kind_name(ci->kind));
	json_t *part;
	char *b64 = NULL;

	if (o == NULL)
		return NULL;
	if (ci->kind == CONFIGITEM_KIND_CERTIFICATE) {
		b64 = base64_of(ci->der, ci->der_len);
		part = b64 == NULL ? NULL
				   : json_pack("{s:s, s:s, s:s, s:o}", "thumbprint", ci->thumbprint,
					       "subject", ci->subject, "der", b64, "stores",
					       stores_json(ci->stores));
	} else {
		part = json_pack(
		    "{s:s, s:o, s:s, s:s, s:s, s:I}", "discovery", ci->discovery, "remediation",
		    ci->remediation != NULL ? json_string(ci->remediation) : json_null(),
		    "data_type", configitem_type_name(ci->data_type), "operator", "equals",
		    "expected", ci->expected, "timeout_seconds", (json_int_t)ci->timeout_seconds);
	}
	free(b64);
	if (part == NULL || json_object_set_new(o, configitem_kind_name(ci->kind), part) != 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* One baseline for the device: deps[first, end) are its deployments to the device. */
static json_t *device_baseline_json(struct store *s, const struct store_baseline_deployment *deps,
				    size_t first, size_t end, struct pp_error *err)
{
	struct store_baseline_item *items = NULL;
	struct store_baseline b;
	struct store_ci ci;
	json_t *o = NULL, *ids = json_array(), *arr = json_array(), *it;
	bool remediate = false;
	int64_t hours = 0;
	size_t n = 0;

	if (ids == NULL || arr == NULL)
		goto oom;
	for (size_t i = first; i < end; i++) {
		remediate = remediate || deps[i].remediate;
		if (hours == 0 || deps[i].schedule_hours < hours)
			hours = deps[i].schedule_hours;
		if (json_array_append_new(ids, json_integer(deps[i].id)) != 0)
			goto oom;
	}
	if (store_baseline_get(s, deps[first].baseline_name, &b, err) != 0)
		goto out;
	if (store_baseline_items(s, b.id, &items, &n, err) != 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		if (store_ci_get(s, items[i].name, &ci, err) != 0)
			goto out;
		it = device_item_json(&ci);
		store_ci_clear(&ci);
		if (it == NULL || json_array_append_new(arr, it) != 0)
			goto oom;
	}
	o = json_pack("{s:I, s:s, s:I, s:O, s:b, s:I, s:O}", "id", (json_int_t)b.id, "name", b.name,
		      "revision", (json_int_t)b.revision, "deployment_ids", ids, "remediate",
		      remediate, "schedule_hours", (json_int_t)hours, "items", arr);
	if (o == NULL)
		goto oom;
	goto out;
oom:
	pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
out:
	free(items);
	json_decref(ids);
	json_decref(arr);
	return o;
}

json_t *ci_api_device_document(struct store *s, const struct store_device *d, struct pp_error *err)
{
	struct store_baseline_deployment *deps = NULL;
	unsigned char digest[32];
	char version[VERSION_HEX + 1], *text = NULL;
	json_t *arr = json_array(), *doc = NULL, *b;
	unsigned int dlen = 0;
	size_t n = 0, i, k;

	if (arr == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
		return NULL;
	}
	if (store_device_baseline_deployments(s, d->id, &deps, &n, err) != 0)
		goto out;
	/* Ordered by baseline name: the deployments of one baseline are next to each other. */
	for (i = 0; i < n; i = k) {
		for (k = i; k < n && deps[k].baseline_id == deps[i].baseline_id; k++)
			;
		b = device_baseline_json(s, deps, i, k, err);
		if (b == NULL || json_array_append_new(arr, b) != 0) {
			if (err->code == 0)
				pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
			goto out;
		}
	}
	/* The version is a digest of what the device gets: it changes when anything does. */
	text = json_dumps(arr, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (text == NULL ||
	    EVP_Digest(text, strlen(text), digest, &dlen, EVP_sha256(), NULL) != 1) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "cannot make the baselines document version");
		goto out;
	}
	for (i = 0; i < VERSION_HEX / 2; i++)
		(void)snprintf(version + 2 * i, 3, "%02x", digest[i]);
	doc = json_pack("{s:s, s:O}", "version", version, "baselines", arr);
	if (doc == NULL)
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
out:
	free(text);
	free(deps);
	json_decref(arr);
	return doc;
}

static void on_device_baselines(struct httpd_request *req, void *ctx)
{
	struct api *a = ctx;
	struct store_device d;
	struct pp_error err;
	struct store *s;
	const char *inm;
	char etag[VERSION_HEX + 3];
	json_t *doc;

	HANDLER_STORE(a, req, s, err);
	if (device_api_authenticate(a, req, s, &d) != 0)
		return;
	doc = ci_api_device_document(s, &d, &err);
	if (doc == NULL) {
		api_reply_failure(a, req, &err);
		return;
	}
	(void)snprintf(etag, sizeof(etag), "\"%s\"",
		       json_string_value(json_object_get(doc, "version")));
	httpd_reply_header(req, "ETag", etag);
	inm = httpd_request_header(req, "If-None-Match");
	if (inm != NULL && strcmp(inm, etag) == 0)
		httpd_reply_status(req, 304);
	else
		httpd_reply_json(req, 200, doc);
	json_decref(doc);
}

/* A positive integer field of a report; false when it is not one. */
static bool positive(const json_t *obj, const char *key, int64_t *out)
{
	const json_t *v = json_object_get(obj, key);

	if (!json_is_integer(v) || json_integer_value(v) < 1)
		return false;
	*out = json_integer_value(v);
	return true;
}

/* One result of a report; the name of what is wrong, or NULL. */
static const char *parse_result(const json_t *v, struct store_ci_result *x)
{
	const json_t *hr = json_object_get(v, "hresult"), *code = json_object_get(v, "exit_code");
	const json_t *detail = json_object_get(v, "detail");
	const char *h;
	struct pp_error ignored;

	memset(x, 0, sizeof(*x));
	pp_error_clear(&ignored);
	if (!json_is_object(v))
		return "the result";
	if (!positive(v, "item_id", &x->item_id))
		return "item_id";
	if (!positive(v, "item_revision", &x->item_revision))
		return "item_revision";
	if (configitem_state_parse(json_string_value(json_object_get(v, "state")), &x->state,
				   &ignored) != 0)
		return "state (compliant, non_compliant, remediated or error)";
	h = json_string_value(hr);
	if (hr != NULL && !json_is_null(hr)) {
		if (h == NULL || strlen(h) != 10 || strncasecmp(h, "0x", 2) != 0 ||
		    strspn(h + 2, "0123456789abcdefABCDEF") != 8)
			return "hresult (0x and 8 hex digits)";
		x->has_hresult = true;
		x->hresult = (uint32_t)strtoul(h + 2, NULL, 16);
	}
	if (code != NULL && !json_is_null(code)) {
		if (!json_is_integer(code) || json_integer_value(code) < -1 ||
		    json_integer_value(code) > 255)
			return "exit_code (-1 to 255)";
		x->has_exit_code = true;
		x->exit_code = json_integer_value(code);
	}
	if (detail != NULL && !json_is_null(detail)) {
		if (!json_is_string(detail) || json_string_length(detail) > CONFIGITEM_DETAIL_MAX)
			return "detail (at most 511 bytes)";
		memcpy(x->detail, json_string_value(detail), json_string_length(detail) + 1);
	}
	return NULL;
}

/* Report i of a body into r (its results into res, CONFIGITEM_BASELINE_ITEMS_MAX of them);
 * -1 with err naming the field. */
static int parse_report(const json_t *v, size_t i, struct store_baseline_report *r,
			struct store_ci_result *res, struct pp_error *err)
{
	const char *id = json_string_value(json_object_get(v, "id")), *bad = NULL;
	const json_t *results = json_object_get(v, "results"), *e;
	size_t k;

	memset(r, 0, sizeof(*r));
	if (!json_is_object(v))
		bad = "the report";
	else if (id == NULL || strlen(id) != 36)
		bad = "id (a UUID)";
	else if (!positive(v, "time", &r->time))
		bad = "time (Unix seconds)";
	else if (!positive(v, "baseline_id", &r->baseline_id))
		bad = "baseline_id";
	else if (!positive(v, "baseline_revision", &r->baseline_revision))
		bad = "baseline_revision";
	else if (!json_is_array(results) ||
		 json_array_size(results) > CONFIGITEM_BASELINE_ITEMS_MAX)
		bad = "results (a list of at most 256)";
	if (bad != NULL || id == NULL) {
		pp_error_set(err, HR_E_INVALIDARG, "report %zu: bad or missing %s", i,
			     bad != NULL ? bad : "id");
		return -1;
	}
	memcpy(r->id, id, 37);
	json_array_foreach(results, k, e)
	{
		bad = parse_result(e, &res[k]);
		if (bad != NULL) {
			pp_error_set(err, HR_E_INVALIDARG,
				     "report %zu: result %zu: bad or missing %s", i, k, bad);
			return -1;
		}
	}
	r->results = res;
	r->count = json_array_size(results);
	return 0;
}

static void on_device_reports(struct httpd_request *req, void *ctx)
{
	static const char *const allowed[] = {"reports", NULL};
	struct api *a = ctx;
	struct store_baseline_report *reports = NULL;
	struct store_ci_result *results = NULL;
	struct store_device d;
	struct pp_error err;
	struct store *s;
	json_t *body, *arr, *v;
	size_t i, n, accepted = 0, dups = 0, ignored = 0, total = 0, used = 0;

	HANDLER_STORE(a, req, s, err);
	if (device_api_authenticate(a, req, s, &d) != 0)
		return;
	body = api_body_object(req, allowed);
	if (body == NULL)
		return;
	arr = json_object_get(body, "reports");
	n = json_array_size(arr);
	if (!json_is_array(arr) || n > STORE_CI_REPORT_BATCH_MAX) {
		httpd_reply_error(req, 400, "invalid_argument",
				  "field \"reports\" must be an array of at most %d reports",
				  STORE_CI_REPORT_BATCH_MAX);
		goto out;
	}
	/* Room for every result: each list is checked to hold at most 256 by parse_report. */
	json_array_foreach(arr, i, v)
	{
		size_t k = json_array_size(json_object_get(v, "results"));

		total += k < CONFIGITEM_BASELINE_ITEMS_MAX ? k : CONFIGITEM_BASELINE_ITEMS_MAX;
	}
	reports = calloc(n + 1, sizeof(*reports));
	results = calloc(total + 1, sizeof(*results));
	if (reports == NULL || results == NULL) {
		httpd_reply_error(req, 503, "out_of_memory", "out of memory");
		goto out;
	}
	json_array_foreach(arr, i, v)
	{
		if (parse_report(v, i, &reports[i], results + used, &err) != 0) {
			api_reply_failure(a, req, &err);
			goto out;
		}
		used += reports[i].count;
	}
	if (store_baseline_reports_add(s, d.id, reports, n, &accepted, &dups, &ignored, &err) !=
	    0) {
		api_reply_failure(a, req, &err);
		goto out;
	}
	for (i = 0; i < n && accepted > 0; i++)
		for (size_t k = 0; k < reports[i].count; k++)
			if (reports[i].results[k].state == CONFIGITEM_ERROR)
				srvlog_write(
				    a->log, CMTRACE_WARNING,
				    "device %s: configuration item %lld of baseline %lld is "
				    "in error: %s",
				    d.name, (long long)reports[i].results[k].item_id,
				    (long long)reports[i].baseline_id,
				    reports[i].results[k].detail);
	api_reply_new(req, 200,
		      json_pack("{s:I, s:I, s:I}", "accepted", (json_int_t)accepted, "duplicates",
				(json_int_t)dups, "ignored", (json_int_t)ignored));
out:
	free(results);
	free(reports);
	json_decref(body);
}

/* ---- routes ---- */

static const struct {
	const char *method;
	const char *pattern;
	httpd_handler fn;
} admin_routes[] = {
    {"GET", "/api/v1/configuration-items", on_ci_list},
    {"POST", "/api/v1/configuration-items", on_ci_create},
    {"GET", "/api/v1/configuration-items/{name}", on_ci_get},
    {"PATCH", "/api/v1/configuration-items/{name}", on_ci_change},
    {"DELETE", "/api/v1/configuration-items/{name}", on_ci_delete},
    {"GET", "/api/v1/baselines", on_baseline_list},
    {"POST", "/api/v1/baselines", on_baseline_create},
    {"GET", "/api/v1/baselines/{name}", on_baseline_get},
    {"DELETE", "/api/v1/baselines/{name}", on_baseline_delete},
    {"POST", "/api/v1/baselines/{name}/items", on_baseline_add_item},
    {"DELETE", "/api/v1/baselines/{name}/items/{item}", on_baseline_remove_item},
    {"POST", "/api/v1/baselines/{name}/deployments", on_baseline_deploy},
    {"DELETE", "/api/v1/baselines/{name}/deployments/{collection}", on_baseline_undeploy},
    {"GET", "/api/v1/compliance/baselines/{name}", on_compliance},
};

int ci_api_add_routes(struct httpd *h, struct api *a, struct pp_error *err)
{
	if ((a->roles & API_ROLE_SITE) != 0)
		for (size_t i = 0; i < sizeof(admin_routes) / sizeof(admin_routes[0]); i++)
			if (httpd_route(h, admin_routes[i].method, admin_routes[i].pattern,
					admin_routes[i].fn, a, HTTPD_ADMIN) != 0)
				goto fail;
	if ((a->roles & API_ROLE_MP) != 0 &&
	    (httpd_route(h, "GET", CI_API_BASELINES_PATH, on_device_baselines, a, 0) != 0 ||
	     httpd_route(h, "POST", CI_API_REPORTS_PATH, on_device_reports, a, 0) != 0))
		goto fail;
	return 0;
fail:
	pp_error_set(err, HR_E_FAIL, "cannot add the configuration item routes");
	return -1;
}
