/* device_api.c - the routes of device_api.h. */
#include "device_api.h"

#include "hresult.h"
#include "policy.h"
#include "store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#define SECRET_BYTES	       32 /* of an enrollment key or a device credential, as 64 hex digits */
#define POLICY_TIME_RESOLUTION 60 /* seconds: how fresh a device's last_policy_at is kept */

static int random_hex(char out[2 * SECRET_BYTES + 1], struct pp_error *err)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char b[SECRET_BYTES];
	ssize_t got;

	do
		got = getrandom(b, sizeof(b), 0);
	while (got < 0 && errno == EINTR);
	if (got != (ssize_t)sizeof(b)) {
		pp_error_set_errno(err, got < 0 ? errno : EIO, "no random bytes for a secret");
		return -1;
	}
	for (size_t i = 0; i < sizeof(b); i++) {
		out[2 * i] = hex[b[i] >> 4];
		out[2 * i + 1] = hex[b[i] & 15];
	}
	out[2 * SECRET_BYTES] = '\0';
	return 0;
}

static json_t *time_or_null(int64_t t)
{
	return t != 0 ? json_integer(t) : json_null();
}

/* ---- records ---- */

static json_t *device_json(const struct store_device *d)
{
	json_t *tags = json_array();
	const char *p = d->tags;

	while (tags != NULL && *p != '\0') {
		const char *comma = strchr(p, ',');
		size_t n = comma != NULL ? (size_t)(comma - p) : strlen(p);

		(void)json_array_append_new(tags, json_stringn(p, n));
		p = comma != NULL ? comma + 1 : p + n;
	}
	return json_pack("{s:s, s:s, s:s, s:s, s:o, s:I, s:o}", "id", d->id, "name", d->name, "os",
			 d->os, "client_version", d->client_version, "tags", tags, "registered_at",
			 (json_int_t)d->registered_at, "last_policy_at",
			 time_or_null(d->last_policy_at));
}

static json_t *ekey_json(const struct store_enrollment_key *k)
{
	return json_pack("{s:I, s:s, s:I, s:o, s:b, s:I}", "id", (json_int_t)k->id, "name", k->name,
			 "created_at", (json_int_t)k->created_at, "expires_at",
			 time_or_null(k->expires_at), "revoked", k->revoked, "uses",
			 (json_int_t)k->uses);
}

static json_t *rule_json(const struct store_collection_rule *r)
{
	char text[MEMBERSHIP_VALUE_MAX + 32];

	switch (r->rule.kind) {
	case MEMBERSHIP_DIRECT:
		return json_pack("{s:s, s:s}", "member", r->rule.value, "name", r->device_name);
	case MEMBERSHIP_QUERY:
		membership_format_query(&r->rule, text, sizeof(text));
		return json_pack("{s:s}", "query", text);
	case MEMBERSHIP_INCLUDE:
	case MEMBERSHIP_EXCLUDE:
		return json_pack("{s:s, s:s}", membership_kind_name(r->rule.kind), r->rule.other,
				 "name", r->other_name);
	}
	return NULL;
}

static json_t *values_json(const struct clientsettings_values *v)
{
	const struct clientsettings_key_info *keys = clientsettings_keys();
	json_t *o = json_object(), *groups = json_array();

	for (int g = 0; groups != NULL && g < CS_GROUP_COUNT; g++)
		if (v->configured[g])
			(void)json_array_append_new(groups, json_string(clientsettings_group_name(
								(enum clientsettings_group)g)));
	for (int k = 0; o != NULL && k < CS_KEY_COUNT; k++)
		if (v->configured[keys[k].group])
			(void)json_object_set_new(o, keys[k].key,
						  keys[k].type == CS_TYPE_BOOL
						      ? json_boolean(v->value[k] != 0)
						      : json_integer(v->value[k]));
	return json_pack("{s:o, s:o}", "groups", groups, "settings", o);
}

static json_t *setting_json(const struct store_client_setting *c,
			    const struct store_client_setting_deployment *deps, size_t ndeps)
{
	json_t *o = values_json(&c->values), *arr = json_array();

	for (size_t i = 0; arr != NULL && i < ndeps; i++)
		if (deps[i].setting_id == c->id)
			(void)json_array_append_new(
			    arr, json_pack("{s:s, s:s}", "collection_id", deps[i].collection_id,
					   "collection", deps[i].collection_name));
	if (o == NULL || arr == NULL ||
	    json_object_update_new(o, json_pack("{s:s, s:I, s:b, s:o, s:I}", "name", c->name,
						"order", (json_int_t)c->order, "default",
						c->is_default, "deployments", arr, "updated_at",
						(json_int_t)c->updated_at)) != 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* ---- enrollment keys ---- */

static void on_ekey_create(struct httpd_request *req, void *ctx)
{
	static const char *const allowed[] = {"name", "expires_at", NULL};
	struct api *a = ctx;
	struct store_enrollment_key k;
	struct pp_error err;
	struct store *s;
	json_t *body, *name, *expires, *out;
	char key[2 * SECRET_BYTES + 1];

	HANDLER_STORE(a, req, s, err);
	body = api_body_object(req, allowed);
	if (body == NULL)
		return;
	if (api_field(req, body, "name", FIELD_STRING, &name) < 0 ||
	    api_field(req, body, "expires_at", FIELD_INT, &expires) < 0)
		goto out;
	if (random_hex(key, &err) != 0 ||
	    store_enrollment_key_add(s, json_is_string(name) ? json_string_value(name) : "", key,
				     json_is_integer(expires) ? json_integer_value(expires) : 0, &k,
				     &err) != 0) {
		api_reply_failure(a, req, &err);
		goto out;
	}
	out = ekey_json(&k);
	if (out != NULL && json_object_set_new(out, "key", json_string(key)) != 0) {
		json_decref(out);
		out = NULL;
	}
	api_reply_new(req, 201, out);
out:
	json_decref(body);
}

static void on_ekeys(struct httpd_request *req, void *ctx)
{
	struct api *a = ctx;
	struct store_enrollment_key *list = NULL;
	struct pp_error err;
	struct store *s;
	size_t n = 0;
	json_t *arr;

	HANDLER_STORE(a, req, s, err);
	if (store_enrollment_key_list(s, &list, &n, &err) != 0) {
		api_reply_failure(a, req, &err);
		return;
	}
	arr = json_array();
	for (size_t i = 0; arr != NULL && i < n; i++)
		(void)json_array_append_new(arr, ekey_json(&list[i]));
	free(list);
	api_reply_new(req, 200, arr != NULL ? json_pack("{s:o}", "enrollment_keys", arr) : NULL);
}

static void on_ekey_revoke(struct httpd_request *req, void *ctx)
{
	struct api *a = ctx;
	const char *id = httpd_request_capture(req, "id");
	struct pp_error err;
	struct store *s;
	char *end = NULL;
	long long v;

	HANDLER_STORE(a, req, s, err);
	errno = 0;
	v = strtoll(id, &end, 10);
	if (errno != 0 || end == id || *end != '\0' || v <= 0) {
		httpd_reply_error(req, 400, "invalid_argument",
				  "an enrollment key id is a positive number");
		return;
	}
	if (store_enrollment_key_revoke(s, v, &err) != 0) {
		api_reply_failure(a, req, &err);
		return;
	}
	httpd_reply_status(req, 204);
}

/* ---- devices ---- */

static void on_devices(struct httpd_request *req, void *ctx)
{
	struct api *a = ctx;
	struct store_device *list = NULL;
	struct pp_error err;
	struct store *s;
	size_t n = 0;
	json_t *arr;

	HANDLER_STORE(a, req, s, err);
	if (store_device_list(s, &list, &n, &err) != 0) {
		api_reply_failure(a, req, &err);
		return;
	}
	arr = json_array();
	for (size_t i = 0; arr != NULL && i < n; i++)
		(void)json_array_append_new(arr, device_json(&list[i]));
	free(list);
	api_reply_new(req, 200, arr != NULL ? json_pack("{s:o}", "devices", arr) : NULL);
}

static json_t *collections_json(const struct store_collection *c, size_t n)
{
	json_t *arr = json_array();

	for (size_t i = 0; arr != NULL && i < n; i++)
		(void)json_array_append_new(
		    arr, json_pack("{s:s, s:s}", "id", c[i].id, "name", c[i].name));
	return arr;
}

static void on_device(struct httpd_request *req, void *ctx)
{
	struct api *a = ctx;
	struct store_device d;
	struct store_collection *colls = NULL;
	struct pp_error err;
	struct store *s;
	size_t n = 0;
	json_t *out;

	HANDLER_STORE(a, req, s, err);
	if (store_device_get(s, httpd_request_capture(req, "device"), &d, &err) != 0 ||
	    store_device_collections(s, d.id, &colls, &n, &err) != 0) {
		api_reply_failure(a, req, &err);
		return;
	}
	out = device_json(&d);
	if (out != NULL &&
	    json_object_set_new(out, "collections", collections_json(colls, n)) != 0) {
		json_decref(out);
		out = NULL;
	}
	free(colls);
	api_reply_new(req, 200, out);
}

/* The device of the capture, its collections and the policy table, for the two views below. */
struct device_view {
	struct store_device d;
	struct store_collection *colls;
	size_t ncolls;
	struct policy_table t;
	struct clientsettings_resultant r;
	size_t *deployed, ndeployed;
	char minimum[STORE_VERSION_MAX];
};

static void device_view_free(struct device_view *v)
{
	free(v->colls);
	free(v->deployed);
	policy_table_free(&v->t);
}

static int device_view_load(struct store *s, const char *device, struct device_view *v,
			    struct pp_error *err)
{
	uint64_t *bits = NULL;

	memset(v, 0, sizeof(*v));
	if (store_device_get(s, device, &v->d, err) != 0 ||
	    store_device_collections(s, v->d.id, &v->colls, &v->ncolls, err) != 0 ||
	    store_min_client_version_get(s, v->minimum, err) != 0 ||
	    policy_table_load(s, &v->t, err) != 0)
		goto fail;
	bits = calloc(v->t.words, sizeof(*bits));
	v->deployed = calloc(v->t.setting_count + 1, sizeof(*v->deployed));
	if (bits == NULL || v->deployed == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
		goto fail;
	}
	policy_device_bits(&v->t, v->colls, v->ncolls, bits);
	policy_resolve(&v->t, bits, &v->r, v->deployed, &v->ndeployed);
	free(bits);
	return 0;
fail:
	free(bits);
	device_view_free(v);
	return -1;
}

static void on_resultant(struct httpd_request *req, void *ctx)
{
	struct api *a = ctx;
	struct device_view v;
	struct pp_error err;
	struct store *s;
	bool enabled, version_ok;

	HANDLER_STORE(a, req, s, err);
	if (device_view_load(s, httpd_request_capture(req, "device"), &v, &err) != 0) {
		api_reply_failure(a, req, &err);
		return;
	}
	enabled = v.r.value[CS_SU_ENABLED] != 0 && v.r.value[CS_SU_THIRD_PARTY] != 0;
	version_ok = clientsettings_version_cmp(v.d.client_version, v.minimum) >= 0;
	api_reply_new(req, 200,
		      json_pack("{s:{s:s, s:s, s:s}, s:o, s:{s:b, s:s, s:s, s:b, s:b}}", "device",
				"id", v.d.id, "name", v.d.name, "client_version",
				v.d.client_version, "settings", policy_settings_json(&v.r, true),
				"third_party", "enabled", enabled, "source",
				v.r.source[CS_SU_THIRD_PARTY], "minimum_client_version", v.minimum,
				"client_version_ok", version_ok, "certificates_delivered",
				enabled && version_ok));
	device_view_free(&v);
}

static void on_device_settings(struct httpd_request *req, void *ctx)
{
	struct api *a = ctx;
	struct store_client_setting_deployment *deps = NULL;
	struct device_view v;
	struct pp_error err;
	struct store *s;
	size_t ndeps = 0;
	json_t *arr;

	HANDLER_STORE(a, req, s, err);
	if (device_view_load(s, httpd_request_capture(req, "device"), &v, &err) != 0) {
		api_reply_failure(a, req, &err);
		return;
	}
	if (store_client_setting_deployments(s, NULL, &deps, &ndeps, &err) != 0) {
		device_view_free(&v);
		api_reply_failure(a, req, &err);
		return;
	}
	arr = json_array();
	for (size_t i = 0; arr != NULL && i < v.ndeployed; i++) {
		const struct store_client_setting *c = &v.t.settings[v.deployed[i]];
		json_t *via = json_array();

		for (size_t k = 0; via != NULL && k < ndeps; k++)
			for (size_t m = 0; deps[k].setting_id == c->id && m < v.ncolls; m++)
				if (strcmp(v.colls[m].id, deps[k].collection_id) == 0)
					(void)json_array_append_new(
					    via, json_string(deps[k].collection_name));
		(void)json_array_append_new(arr, json_pack("{s:s, s:I, s:b, s:o}", "name", c->name,
							   "order", (json_int_t)c->order, "default",
							   c->is_default, "deployed_to", via));
	}
	free(deps);
	api_reply_new(req, 200,
		      arr != NULL ? json_pack("{s:{s:s, s:s}, s:o}", "device", "id", v.d.id, "name",
					      v.d.name, "client_settings", arr)
				  : NULL);
	device_view_free(&v);
}

/* ---- collections ---- */

static void on_collections(struct httpd_request *req, void *ctx)
{
	struct api *a = ctx;
	struct store_collection *list = NULL;
	struct pp_error err;
	struct store *s;
	size_t n = 0;

	HANDLER_STORE(a, req, s, err);
	if (store_collection_list(s, &list, &n, &err) != 0) {
		api_reply_failure(a, req, &err);
		return;
	}
	api_reply_new(req, 200, json_pack("{s:o}", "collections", collections_json(list, n)));
	free(list);
}

/* {"id","name","created_at","rules":[...],"members":[{"id","name"}]} */
static void reply_collection(struct api *a, struct httpd_request *req, struct store *s,
			     const char *id_or_name, int status)
{
	struct store_collection c;
	struct store_collection_rule *rules = NULL;
	struct store_device *devs = NULL;
	struct pp_error err;
	size_t nrules = 0, ndevs = 0;
	json_t *r = json_array(), *m = json_array();

	pp_error_clear(&err);
	if (store_collection_get(s, id_or_name, &c, &err) != 0 ||
	    store_collection_rules(s, c.id, &rules, &nrules, &err) != 0 ||
	    store_collection_members(s, c.id, &devs, &ndevs, &err) != 0) {
		json_decref(r);
		json_decref(m);
		free(rules);
		api_reply_failure(a, req, &err);
		return;
	}
	for (size_t i = 0; r != NULL && i < nrules; i++)
		(void)json_array_append_new(r, rule_json(&rules[i]));
	for (size_t i = 0; m != NULL && i < ndevs; i++)
		(void)json_array_append_new(
		    m, json_pack("{s:s, s:s}", "id", devs[i].id, "name", devs[i].name));
	api_reply_new(req, status,
		      json_pack("{s:s, s:s, s:I, s:o, s:o, s:I}", "id", c.id, "name", c.name,
				"created_at", (json_int_t)c.created_at, "rules", r, "members", m,
				"member_count", (json_int_t)ndevs));
	free(rules);
	free(devs);
}

/* One rule of a create body: {"member":D} | {"query":"F=V"} | {"include":C} | {"exclude":C}. */
static int parse_rule(json_t *v, struct store_collection_rule *out, struct pp_error *err)
{
	static const char *const kinds[] = {"member", "query", "include", "exclude"};
	const char *key = NULL, *text;
	json_t *value = NULL;

	memset(out, 0, sizeof(*out));
	if (!json_is_object(v) || json_object_size(v) != 1) {
		pp_error_set(err, HR_E_INVALIDARG,
			     "a rule is one of {\"member\":DEVICE}, {\"query\":\"FIELD=VALUE\"}, "
			     "{\"include\":COLLECTION}, {\"exclude\":COLLECTION}");
		return -1;
	}
	json_object_foreach(v, key, value) break;
	text = json_string_value(value);
	for (int k = 0; k < 4; k++) {
		if (strcmp(key, kinds[k]) != 0)
			continue;
		if (text == NULL || text[0] == '\0') {
			pp_error_set(err, HR_E_INVALIDARG, "rule \"%s\" takes a non-empty string",
				     key);
			return -1;
		}
		if (k == 1)
			return membership_parse_query(text, &out->rule, err);
		out->rule.kind = (enum membership_rule_kind)(k == 0   ? MEMBERSHIP_DIRECT
							     : k == 2 ? MEMBERSHIP_INCLUDE
								      : MEMBERSHIP_EXCLUDE);
		if (k == 0) {
			if (strlen(text) >= sizeof(out->rule.value))
				break;
			memcpy(out->rule.value, text, strlen(text) + 1);
		} else {
			/* An id or a name: resolved by the store; names can be longer than ids. */
			if (strlen(text) >= sizeof(out->rule.value))
				break;
			memcpy(out->rule.value, text, strlen(text) + 1);
		}
		return 0;
	}
	pp_error_set(err, HR_E_INVALIDARG,
		     "unknown rule \"%.32s\": use member, query, include or exclude", key);
	return -1;
}

static void on_collection_create(struct httpd_request *req, void *ctx)
{
	static const char *const allowed[] = {"name", "rules", NULL};
	struct api *a = ctx;
	struct store_collection_rule *rules = NULL;
	struct store_collection c;
	struct pp_error err;
	struct store *s;
	json_t *body, *name, *arr, *v;
	size_t i, n;

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
	arr = json_object_get(body, "rules");
	if (arr != NULL && !json_is_array(arr) && !json_is_null(arr)) {
		httpd_reply_error(req, 400, "invalid_argument", "field \"rules\" must be an array");
		goto out;
	}
	n = json_is_array(arr) ? json_array_size(arr) : 0;
	if (n > STORE_COLLECTION_RULES_MAX) {
		httpd_reply_error(req, 400, "invalid_argument", "a collection has at most %d rules",
				  STORE_COLLECTION_RULES_MAX);
		goto out;
	}
	rules = calloc(n + 1, sizeof(*rules));
	if (rules == NULL) {
		httpd_reply_error(req, 503, "out_of_memory", "out of memory");
		goto out;
	}
	json_array_foreach(arr, i, v)
	{
		if (parse_rule(v, &rules[i], &err) != 0) {
			api_reply_failure(a, req, &err);
			goto out;
		}
		/* include/exclude: the value names the collection; the store resolves it. */
		if (rules[i].rule.kind == MEMBERSHIP_INCLUDE ||
		    rules[i].rule.kind == MEMBERSHIP_EXCLUDE) {
			if (strlen(rules[i].rule.value) >= STORE_NAME_MAX) {
				httpd_reply_error(req, 400, "invalid_argument",
						  "a collection name is at most %d bytes",
						  STORE_NAME_MAX - 1);
				goto out;
			}
		}
	}
	if (store_collection_create(s, json_string_value(name), rules, n, &c, &err) != 0) {
		api_reply_failure(a, req, &err);
		goto out;
	}
	reply_collection(a, req, s, c.id, 201);
out:
	free(rules);
	json_decref(body);
}

static void on_collection(struct httpd_request *req, void *ctx)
{
	struct api *a = ctx;
	struct pp_error err;
	struct store *s;

	HANDLER_STORE(a, req, s, err);
	reply_collection(a, req, s, httpd_request_capture(req, "collection"), 200);
}

static void on_collection_delete(struct httpd_request *req, void *ctx)
{
	struct api *a = ctx;
	struct pp_error err;
	struct store *s;

	HANDLER_STORE(a, req, s, err);
	if (store_collection_delete(s, httpd_request_capture(req, "collection"), &err) != 0) {
		api_reply_failure(a, req, &err);
		return;
	}
	httpd_reply_status(req, 204);
}

/* ---- client settings ---- */

static void reply_settings(struct api *a, struct httpd_request *req, struct store *s,
			   const char *only, int status)
{
	struct store_client_setting *list = NULL;
	struct store_client_setting_deployment *deps = NULL;
	struct pp_error err;
	size_t n = 0, ndeps = 0;
	json_t *out = NULL, *arr;

	pp_error_clear(&err);
	if (store_client_setting_list(s, &list, &n, &err) != 0 ||
	    store_client_setting_deployments(s, NULL, &deps, &ndeps, &err) != 0) {
		free(list);
		api_reply_failure(a, req, &err);
		return;
	}
	if (only != NULL) {
		for (size_t i = 0; i < n && out == NULL; i++)
			if (strcasecmp(list[i].name, only) == 0)
				out = setting_json(&list[i], deps, ndeps);
		if (out == NULL)
			pp_error_set(&err, HR_CRYPT_E_NOT_FOUND,
				     "client setting \"%s\" does not exist", only);
	} else {
		arr = json_array();
		for (size_t i = 0; arr != NULL && i < n; i++)
			(void)json_array_append_new(arr, setting_json(&list[i], deps, ndeps));
		out = arr != NULL ? json_pack("{s:o}", "client_settings", arr) : NULL;
	}
	free(list);
	free(deps);
	if (out == NULL && err.code != 0) {
		api_reply_failure(a, req, &err);
		return;
	}
	api_reply_new(req, status, out);
}

static void on_settings(struct httpd_request *req, void *ctx)
{
	struct api *a = ctx;
	struct pp_error err;
	struct store *s;

	HANDLER_STORE(a, req, s, err);
	reply_settings(a, req, s, NULL, 200);
}

static void on_setting(struct httpd_request *req, void *ctx)
{
	struct api *a = ctx;
	struct pp_error err;
	struct store *s;

	HANDLER_STORE(a, req, s, err);
	reply_settings(a, req, s, httpd_request_capture(req, "name"), 200);
}

/* Applies {"key": value, ...} of a body's "settings" to v. */
static int apply_values(json_t *settings, struct clientsettings_values *v, struct pp_error *err)
{
	const char *key;
	json_t *val;

	if (settings == NULL || json_is_null(settings))
		return 0;
	if (!json_is_object(settings)) {
		pp_error_set(err, HR_E_INVALIDARG,
			     "field \"settings\" must be an object of setting: value");
		return -1;
	}
	json_object_foreach(settings, key, val)
	{
		char text[32];

		if (json_is_boolean(val))
			(void)snprintf(text, sizeof(text), "%s", json_is_true(val) ? "yes" : "no");
		else if (json_is_integer(val))
			(void)snprintf(text, sizeof(text), "%lld",
				       (long long)json_integer_value(val));
		else if (json_is_string(val))
			(void)snprintf(text, sizeof(text), "%s", json_string_value(val));
		else
			text[0] = '?', text[1] = '\0';
		if (clientsettings_set(v, key, text, err) != 0)
			return -1;
	}
	return 0;
}

static void on_setting_create(struct httpd_request *req, void *ctx)
{
	static const char *const allowed[] = {"name", "settings", NULL};
	struct api *a = ctx;
	struct store_client_setting c;
	struct clientsettings_values v;
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
	memset(&v, 0, sizeof(v));
	if (apply_values(json_object_get(body, "settings"), &v, &err) != 0 ||
	    store_client_setting_create(s, json_string_value(name), &v, &c, &err) != 0) {
		api_reply_failure(a, req, &err);
		goto out;
	}
	reply_settings(a, req, s, c.name, 201);
out:
	json_decref(body);
}

static void on_setting_update(struct httpd_request *req, void *ctx)
{
	static const char *const allowed[] = {"settings", NULL};
	struct api *a = ctx;
	const char *name = httpd_request_capture(req, "name");
	struct store_client_setting c;
	struct pp_error err;
	struct store *s;
	json_t *body;

	HANDLER_STORE(a, req, s, err);
	body = api_body_object(req, allowed);
	if (body == NULL)
		return;
	if (store_client_setting_get(s, name, &c, &err) != 0 ||
	    apply_values(json_object_get(body, "settings"), &c.values, &err) != 0 ||
	    store_client_setting_set(s, c.name, &c.values, &err) != 0) {
		api_reply_failure(a, req, &err);
		goto out;
	}
	reply_settings(a, req, s, c.name, 200);
out:
	json_decref(body);
}

static void on_setting_delete(struct httpd_request *req, void *ctx)
{
	struct api *a = ctx;
	struct pp_error err;
	struct store *s;

	HANDLER_STORE(a, req, s, err);
	if (store_client_setting_delete(s, httpd_request_capture(req, "name"), &err) != 0) {
		api_reply_failure(a, req, &err);
		return;
	}
	httpd_reply_status(req, 204);
}

static void setting_move(struct httpd_request *req, void *ctx, bool up)
{
	struct api *a = ctx;
	struct pp_error err;
	struct store *s;

	HANDLER_STORE(a, req, s, err);
	if (store_client_setting_move(s, httpd_request_capture(req, "name"), up, &err) != 0) {
		api_reply_failure(a, req, &err);
		return;
	}
	reply_settings(a, req, s, NULL, 200);
}

static void on_move_up(struct httpd_request *req, void *ctx)
{
	setting_move(req, ctx, true);
}

static void on_move_down(struct httpd_request *req, void *ctx)
{
	setting_move(req, ctx, false);
}

static void on_setting_deploy(struct httpd_request *req, void *ctx)
{
	static const char *const allowed[] = {"collection", NULL};
	struct api *a = ctx;
	const char *name = httpd_request_capture(req, "name");
	struct pp_error err;
	struct store *s;
	json_t *body, *coll;

	HANDLER_STORE(a, req, s, err);
	body = api_body_object(req, allowed);
	if (body == NULL)
		return;
	if (api_field(req, body, "collection", FIELD_STRING, &coll) < 0)
		goto out;
	if (coll == NULL || json_is_null(coll)) {
		httpd_reply_error(req, 400, "invalid_argument", "field \"collection\" is required");
		goto out;
	}
	if (store_client_setting_deploy(s, name, json_string_value(coll), &err) != 0) {
		api_reply_failure(a, req, &err);
		goto out;
	}
	reply_settings(a, req, s, name, 201);
out:
	json_decref(body);
}

static void on_setting_undeploy(struct httpd_request *req, void *ctx)
{
	struct api *a = ctx;
	struct pp_error err;
	struct store *s;

	HANDLER_STORE(a, req, s, err);
	if (store_client_setting_undeploy(s, httpd_request_capture(req, "name"),
					  httpd_request_capture(req, "collection"), &err) != 0) {
		api_reply_failure(a, req, &err);
		return;
	}
	httpd_reply_status(req, 204);
}

static void on_minimum_get(struct httpd_request *req, void *ctx)
{
	struct api *a = ctx;
	char v[STORE_VERSION_MAX];
	struct pp_error err;
	struct store *s;

	HANDLER_STORE(a, req, s, err);
	if (store_min_client_version_get(s, v, &err) != 0) {
		api_reply_failure(a, req, &err);
		return;
	}
	api_reply_new(req, 200, json_pack("{s:s}", "minimum_client_version", v));
}

static void on_minimum_put(struct httpd_request *req, void *ctx)
{
	static const char *const allowed[] = {"minimum_client_version", NULL};
	struct api *a = ctx;
	struct pp_error err;
	struct store *s;
	json_t *body, *v;

	HANDLER_STORE(a, req, s, err);
	body = api_body_object(req, allowed);
	if (body == NULL)
		return;
	if (api_field(req, body, "minimum_client_version", FIELD_STRING, &v) < 0)
		goto out;
	if (store_min_client_version_set(s, json_string_value(v), &err) != 0) {
		api_reply_failure(a, req, &err);
		goto out;
	}
	api_reply_new(req, 200, json_pack("{s:s}", "minimum_client_version", json_string_value(v)));
out:
	json_decref(body);
}

/* ---- the device protocol (role mp) ---- */

static void on_register(struct httpd_request *req, void *ctx)
{
	static const char *const allowed[] = {"enrollment_key", "machine_id", "name", "os",
					      "client_version", "tags",	      NULL};
	struct api *a = ctx;
	struct store_device d;
	struct pp_error err;
	struct store *s;
	json_t *body, *key, *mid, *name, *os, *ver, *tags, *t;
	char cred[2 * SECRET_BYTES + 1];
	size_t used = 0, i;
	bool is_new = false;

	HANDLER_STORE(a, req, s, err);
	body = api_body_object(req, allowed);
	if (body == NULL)
		return;
	if (api_field(req, body, "enrollment_key", FIELD_STRING, &key) < 0 ||
	    api_field(req, body, "machine_id", FIELD_STRING, &mid) < 0 ||
	    api_field(req, body, "name", FIELD_STRING, &name) < 0 ||
	    api_field(req, body, "os", FIELD_STRING, &os) < 0 ||
	    api_field(req, body, "client_version", FIELD_STRING, &ver) < 0)
		goto out;
	if (!json_is_string(key) || !json_is_string(mid) || !json_is_string(name) ||
	    !json_is_string(ver)) {
		httpd_reply_error(
		    req, 400, "invalid_argument",
		    "enrollment_key, machine_id, name and client_version are required");
		goto out;
	}
	memset(&d, 0, sizeof(d));
	(void)snprintf(d.machine_id, sizeof(d.machine_id), "%s", json_string_value(mid));
	(void)snprintf(d.name, sizeof(d.name), "%s", json_string_value(name));
	(void)snprintf(d.os, sizeof(d.os), "%s", json_is_string(os) ? json_string_value(os) : "");
	(void)snprintf(d.client_version, sizeof(d.client_version), "%s", json_string_value(ver));
	if (strlen(json_string_value(mid)) >= sizeof(d.machine_id) ||
	    strlen(json_string_value(name)) >= sizeof(d.name) ||
	    (json_is_string(os) && strlen(json_string_value(os)) >= sizeof(d.os)) ||
	    strlen(json_string_value(ver)) >= sizeof(d.client_version)) {
		httpd_reply_error(req, 400, "invalid_argument",
				  "machine_id, name, os or client_version is too long");
		goto out;
	}
	tags = json_object_get(body, "tags");
	if (tags != NULL && !json_is_null(tags) &&
	    (!json_is_array(tags) || json_array_size(tags) > 32)) {
		httpd_reply_error(req, 400, "invalid_argument",
				  "field \"tags\" must be an array of at most 32 strings");
		goto out;
	}
	json_array_foreach(tags, i, t)
	{
		const char *tag = json_string_value(t);
		size_t n = tag != NULL ? strlen(tag) : 0;

		if (n == 0 || n > 64 || strchr(tag, ',') != NULL || used + n + 2 > sizeof(d.tags)) {
			httpd_reply_error(req, 400, "invalid_argument",
					  "a tag is 1 to 64 characters of A-Z, a-z, 0-9, '.', '_' "
					  "and '-'");
			goto out;
		}
		used += (size_t)snprintf(d.tags + used, sizeof(d.tags) - used, "%s%s",
					 used > 0 ? "," : "", tag);
	}
	if (random_hex(cred, &err) != 0 ||
	    store_device_register(s, json_string_value(key), cred, &d, &is_new, &err) != 0) {
		if (err.code == STORE_E_BAD_ENROLLMENT_KEY)
			httpd_reply_error(req, 401, "invalid_enrollment_key", "%s", err.message);
		else
			api_reply_failure(a, req, &err);
		goto out;
	}
	srvlog_write(a->log, CMTRACE_INFO, "registered device %s (%s, client %s)%s", d.name, d.id,
		     d.client_version, is_new ? "" : ", a known device: its identity is kept");
	api_reply_new(
	    req, is_new ? 201 : 200,
	    json_pack("{s:s, s:s, s:b}", "device_id", d.id, "credential", cred, "new", is_new));
out:
	json_decref(body);
}

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

/* The machine policy answer of the requesting device: from the policy cache when the site is
 * still at the generation it was built at, else built and cached. NULL after replying. */
static struct policycache_entry *policy_answer(struct api *a, struct httpd_request *req,
					       struct store *s, int64_t now)
{
	const char *h = httpd_request_header(req, "Authorization");
	uint8_t key[32] = {0};
	struct store_device d;
	struct policycache_entry *e;
	struct pp_error err;
	int64_t gen, valid_until;
	char etag[POLICY_VERSION_LEN + 3], *text;
	json_t *doc;

	pp_error_clear(&err);
	if (store_policy_generation(s, &gen, &err) != 0) {
		api_reply_failure(a, req, &err);
		return NULL;
	}
	if (h != NULL && strncasecmp(h, "Bearer ", 7) == 0 &&
	    store_device_credential_digest(h + 7, key, &err) == 0) {
		e = policycache_get(a->policy_cache, key, gen, now);
		if (e != NULL)
			return e;
	}
	if (authenticate(a, req, s, &d) != 0)
		return NULL;
	doc = policy_machine_document(s, &d, &valid_until, &err);
	if (doc == NULL) {
		api_reply_failure(a, req, &err);
		return NULL;
	}
	(void)snprintf(etag, sizeof(etag), "\"%s\"",
		       json_string_value(json_object_get(doc, "version")));
	text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(doc);
	e = text != NULL ? policycache_put(a->policy_cache, key, gen, d.id, etag, text,
					   strlen(text), valid_until, d.last_policy_at)
			 : NULL;
	if (e == NULL)
		httpd_reply_error(req, 500, "out_of_memory", "out of memory");
	return e;
}

static void on_policy(struct httpd_request *req, void *ctx)
{
	struct api *a = ctx;
	struct policycache_entry *e;
	struct pp_error err;
	struct store *s;
	const char *inm;
	int64_t now = (int64_t)time(NULL);

	HANDLER_STORE(a, req, s, err);
	e = policy_answer(a, req, s, now);
	if (e == NULL)
		return;
	/* At most one write a minute per device: a write on every poll made the workers queue on
	 * the database's write lock (bench/fleet). */
	if (policycache_policy_time_due(a->policy_cache, e, now, POLICY_TIME_RESOLUTION) &&
	    store_device_set_policy_time(s, e->device_id, now, &err) != 0)
		srvlog_write(a->log, CMTRACE_WARNING, "device %s: %s", e->device_id, err.message);
	httpd_reply_header(req, "ETag", e->etag);
	inm = httpd_request_header(req, "If-None-Match");
	if (inm != NULL && strcmp(inm, e->etag) == 0)
		httpd_reply_status(req, 304);
	else
		httpd_reply_bytes(req, 200, "application/json", e->body, e->len);
	policycache_release(a->policy_cache, e);
}

/* One message of a state body; -1 with err naming the field. */
static int parse_message(json_t *v, size_t i, struct store_state_message *m, struct pp_error *err)
{
	const char *id = json_string_value(json_object_get(v, "id"));
	const char *topic = json_string_value(json_object_get(v, "topic"));
	const char *update = json_string_value(json_object_get(v, "update_id"));
	const char *state = json_string_value(json_object_get(v, "state"));
	const json_t *time_v = json_object_get(v, "time"), *rev = json_object_get(v, "revision");
	const json_t *dep = json_object_get(v, "deployment_id"),
		     *hr = json_object_get(v, "hresult");
	const json_t *detail = json_object_get(v, "detail");
	int t = store_state_topic_parse(topic), st = store_update_status_parse(state);
	const char *bad = NULL;

	memset(m, 0, sizeof(*m));
	if (!json_is_object(v))
		bad = "the message";
	else if (id == NULL || strlen(id) != 36)
		bad = "id (a UUID)";
	else if (!json_is_integer(time_v) || json_integer_value(time_v) <= 0)
		bad = "time (Unix seconds)";
	else if (t < 0)
		bad = "topic (scan or install)";
	else if (update == NULL || strlen(update) != STORE_UPDATE_ID_LEN)
		bad = "update_id";
	else if (!json_is_integer(rev) || json_integer_value(rev) < 1)
		bad = "revision";
	else if (dep != NULL && !json_is_null(dep) && !json_is_integer(dep))
		bad = "deployment_id";
	else if (st < 0)
		bad = "state (required, not_required, installed, failed or pending_reboot)";
	else if (hr != NULL && !json_is_null(hr) &&
		 (!json_is_string(hr) || strncasecmp(json_string_value(hr), "0x", 2) != 0 ||
		  strlen(json_string_value(hr)) != 10 ||
		  strspn(json_string_value(hr) + 2, "0123456789abcdefABCDEF") != 8))
		bad = "hresult (0x and 8 hex digits)";
	else if (detail != NULL && !json_is_null(detail) &&
		 (!json_is_string(detail) || json_string_length(detail) >= sizeof(m->detail)))
		bad = "detail";
	if (bad != NULL || id == NULL || update == NULL) {
		pp_error_set(err, HR_E_INVALIDARG, "state message %zu: bad or missing %s", i,
			     bad != NULL ? bad : "id");
		return -1;
	}
	memcpy(m->id, id, 37);
	m->time = json_integer_value(time_v);
	m->topic = (enum store_state_topic)t;
	memcpy(m->update_id, update, STORE_UPDATE_ID_LEN + 1);
	for (char *p = m->update_id; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'F')
			*p = (char)(*p - 'A' + 'a');
	m->revision = json_integer_value(rev);
	m->deployment_id = json_is_integer(dep) ? json_integer_value(dep) : 0;
	m->state = (enum store_update_status)st;
	if (json_is_string(hr)) {
		m->has_hresult = true;
		m->hresult = (uint32_t)strtoul(json_string_value(hr) + 2, NULL, 16);
	}
	if (json_is_string(detail))
		memcpy(m->detail, json_string_value(detail), json_string_length(detail) + 1);
	return 0;
}

static void on_state(struct httpd_request *req, void *ctx)
{
	static const char *const allowed[] = {"messages", NULL};
	struct api *a = ctx;
	struct store_state_message *msgs = NULL;
	struct store_device d;
	struct pp_error err;
	struct store *s;
	json_t *body, *arr, *v;
	size_t i, n, accepted = 0, dups = 0;

	HANDLER_STORE(a, req, s, err);
	if (authenticate(a, req, s, &d) != 0)
		return;
	body = api_body_object(req, allowed);
	if (body == NULL)
		return;
	arr = json_object_get(body, "messages");
	n = json_array_size(arr);
	if (!json_is_array(arr) || n > STORE_STATE_BATCH_MAX) {
		httpd_reply_error(req, 400, "invalid_argument",
				  "field \"messages\" must be an array of at most %d messages",
				  STORE_STATE_BATCH_MAX);
		goto out;
	}
	msgs = calloc(n + 1, sizeof(*msgs));
	if (msgs == NULL) {
		httpd_reply_error(req, 503, "out_of_memory", "out of memory");
		goto out;
	}
	json_array_foreach(arr, i, v)
	{
		if (parse_message(v, i, &msgs[i], &err) != 0) {
			api_reply_failure(a, req, &err);
			goto out;
		}
	}
	if (store_state_messages_add(s, d.id, msgs, n, &accepted, &dups, &err) != 0) {
		api_reply_failure(a, req, &err);
		goto out;
	}
	for (i = 0; i < n && accepted > 0; i++)
		if (msgs[i].state == STORE_STATUS_FAILED)
			srvlog_write(a->log, CMTRACE_WARNING,
				     "device %s: %s of update %s failed with 0x%08X", d.name,
				     store_state_topic_name(msgs[i].topic), msgs[i].update_id,
				     msgs[i].hresult);
	api_reply_new(req, 200,
		      json_pack("{s:I, s:I}", "accepted", (json_int_t)accepted, "duplicates",
				(json_int_t)dups));
out:
	free(msgs);
	json_decref(body);
}

/* GET /api/v1/device/updates/{id}: what a device needs to scan for and install a deployed
 * update: its SDP and its content's URL, digests and size. 404 unless a deployment of it targets
 * the device. */
static void on_device_update(struct httpd_request *req, void *ctx)
{
	struct api *a = ctx;
	const char *id = httpd_request_capture(req, "id");
	struct store_update_content c;
	struct store_collection *colls = NULL;
	struct store_deployment *deps = NULL;
	struct store_update u;
	struct store_device d;
	struct pp_error err;
	struct store *s;
	size_t ncolls = 0, ndeps = 0;
	char *xml = NULL, url[128];
	size_t xml_len = 0;
	bool targeted = false;

	HANDLER_STORE(a, req, s, err);
	if (authenticate(a, req, s, &d) != 0)
		return;
	if (store_update_get(s, id, &u, &err) != 0 ||
	    store_device_collections(s, d.id, &colls, &ncolls, &err) != 0 ||
	    store_deployment_list(s, u.id, &deps, &ndeps, &err) != 0)
		goto fail;
	for (size_t i = 0; i < ndeps && !targeted; i++)
		for (size_t k = 0; k < ncolls && !targeted; k++)
			targeted = strcmp(deps[i].collection_id, colls[k].id) == 0;
	if (!targeted || u.state != STORE_UPDATE_PUBLISHED) {
		httpd_reply_error(req, 404, "not_found", "update %s is not deployed to this device",
				  u.id);
		goto out;
	}
	if (store_update_content_get(s, u.id, u.revision, &c, &err) != 0 ||
	    store_update_sdp(s, u.id, &xml, &xml_len, &err) != 0)
		goto fail;
	(void)snprintf(url, sizeof(url), "/Content/%.2s/%.40s.cab", c.sha1 + 38, c.sha1);
	api_reply_new(req, 200,
		      json_pack("{s:s, s:I, s:s, s:s%, s:{s:s, s:s, s:s, s:I}}", "update_id", u.id,
				"revision", (json_int_t)u.revision, "title", u.title, "sdp", xml,
				xml_len, "content", "url", url, "sha1", c.sha1, "sha256", c.sha256,
				"size", (json_int_t)c.size));
	goto out;
fail:
	api_reply_failure(a, req, &err);
out:
	free(xml);
	free(colls);
	free(deps);
}

/* ---- compliance ---- */

static void reply_compliance(struct api *a, struct httpd_request *req, const char *update_id,
			     int64_t deployment_id)
{
	static const char *const labels[] = {"Required", "Not required",    "Installed",
					     "Failed",	 "Pending restart", "Unknown"};
	struct store_compliance *rows = NULL;
	size_t n = 0, counts[6] = {0};
	struct pp_error err;
	struct store *s;
	json_t *arr, *summary;

	HANDLER_STORE(a, req, s, err);
	if (store_compliance(s, update_id, deployment_id, &rows, &n, &err) != 0) {
		api_reply_failure(a, req, &err);
		return;
	}
	arr = json_array();
	for (size_t i = 0; arr != NULL && i < n; i++) {
		char hr[11];

		(void)snprintf(hr, sizeof(hr), "0x%08X", rows[i].hresult);
		counts[rows[i].state]++;
		(void)json_array_append_new(
		    arr,
		    json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:o}", "device_id",
			      rows[i].device_id, "device", rows[i].device_name, "state",
			      store_update_status_name(rows[i].state), "status",
			      labels[rows[i].state], "hresult",
			      rows[i].has_hresult ? json_string(hr) : json_null(), "revision",
			      rows[i].revision != 0 ? json_integer(rows[i].revision) : json_null(),
			      "detail",
			      rows[i].detail[0] != '\0' ? json_string(rows[i].detail) : json_null(),
			      "time", time_or_null(rows[i].time)));
	}
	summary = json_object();
	for (int k = 0; summary != NULL && k < 6; k++)
		(void)json_object_set_new(summary,
					  store_update_status_name((enum store_update_status)k),
					  json_integer((json_int_t)counts[k]));
	free(rows);
	api_reply_new(
	    req, 200,
	    arr != NULL ? json_pack("{s:s, s:o, s:o, s:o}", "update_id", update_id, "deployment_id",
				    deployment_id != 0 ? json_integer(deployment_id) : json_null(),
				    "summary", summary, "devices", arr)
			: NULL);
}

static void on_compliance_update(struct httpd_request *req, void *ctx)
{
	reply_compliance(ctx, req, httpd_request_capture(req, "id"), 0);
}

static void on_compliance_deployment(struct httpd_request *req, void *ctx)
{
	struct api *a = ctx;
	const char *id = httpd_request_capture(req, "id");
	struct store_deployment *deps = NULL;
	struct pp_error err;
	struct store *s;
	size_t n = 0;
	char *end = NULL;
	long long v = strtoll(id, &end, 10);
	char update[STORE_UPDATE_ID_LEN + 1] = "";

	HANDLER_STORE(a, req, s, err);
	if (end == id || *end != '\0' || v <= 0) {
		httpd_reply_error(req, 400, "invalid_argument",
				  "a deployment id is a positive number");
		return;
	}
	if (store_deployment_list(s, NULL, &deps, &n, &err) != 0) {
		api_reply_failure(a, req, &err);
		return;
	}
	for (size_t i = 0; i < n; i++)
		if (deps[i].id == v)
			memcpy(update, deps[i].update_id, sizeof(update));
	free(deps);
	if (update[0] == '\0') {
		httpd_reply_error(req, 404, "not_found", "deployment %lld does not exist", v);
		return;
	}
	reply_compliance(a, req, update, v);
}

/* ---- routes ---- */

static const struct {
	const char *method;
	const char *pattern;
	httpd_handler fn;
} admin_routes[] = {
    {"POST", "/api/v1/enrollment-keys", on_ekey_create},
    {"GET", "/api/v1/enrollment-keys", on_ekeys},
    {"POST", "/api/v1/enrollment-keys/{id}/revoke", on_ekey_revoke},
    {"GET", "/api/v1/devices", on_devices},
    {"GET", "/api/v1/devices/{device}", on_device},
    {"GET", "/api/v1/devices/{device}/resultant-settings", on_resultant},
    {"GET", "/api/v1/devices/{device}/client-settings", on_device_settings},
    {"GET", "/api/v1/collections", on_collections},
    {"POST", "/api/v1/collections", on_collection_create},
    {"GET", "/api/v1/collections/{collection}", on_collection},
    {"DELETE", "/api/v1/collections/{collection}", on_collection_delete},
    {"GET", "/api/v1/client-settings", on_settings},
    {"POST", "/api/v1/client-settings", on_setting_create},
    {"GET", "/api/v1/client-settings/{name}", on_setting},
    {"PATCH", "/api/v1/client-settings/{name}", on_setting_update},
    {"DELETE", "/api/v1/client-settings/{name}", on_setting_delete},
    {"POST", "/api/v1/client-settings/{name}/move-up", on_move_up},
    {"POST", "/api/v1/client-settings/{name}/move-down", on_move_down},
    {"POST", "/api/v1/client-settings/{name}/deployments", on_setting_deploy},
    {"DELETE", "/api/v1/client-settings/{name}/deployments/{collection}", on_setting_undeploy},
    {"GET", "/api/v1/third-party-client-version", on_minimum_get},
    {"PUT", "/api/v1/third-party-client-version", on_minimum_put},
    {"GET", "/api/v1/compliance/updates/{id}", on_compliance_update},
    {"GET", "/api/v1/compliance/deployments/{id}", on_compliance_deployment},
};

int device_api_add_routes(struct httpd *h, struct api *a, struct pp_error *err)
{
	if ((a->roles & API_ROLE_SITE) != 0)
		for (size_t i = 0; i < sizeof(admin_routes) / sizeof(admin_routes[0]); i++)
			if (httpd_route(h, admin_routes[i].method, admin_routes[i].pattern,
					admin_routes[i].fn, a, HTTPD_ADMIN) != 0)
				goto fail;
	if ((a->roles & API_ROLE_MP) != 0 &&
	    (httpd_route(h, "POST", "/api/v1/device/register", on_register, a, 0) != 0 ||
	     httpd_route(h, "GET", "/api/v1/device/policy", on_policy, a, 0) != 0 ||
	     httpd_route(h, "POST", "/api/v1/device/state", on_state, a, 0) != 0 ||
	     httpd_route(h, "GET", "/api/v1/device/updates/{id}", on_device_update, a, 0) != 0))
		goto fail;
	return 0;
fail:
	pp_error_set(err, HR_E_FAIL, "cannot add the device routes");
	return -1;
}

int device_api_authenticate(struct api *a, struct httpd_request *req, struct store *s,
			    struct store_device *d)
{
	return authenticate(a, req, s, d);
}
