/* api.c - the REST API of the site role. See api.h and docs/api.md. */
#include "api.h"

#include "hresult.h"
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#define API_LOG_CHUNK (1024 * 1024)

/* ---- per-thread state: the connection and the token last accepted ---- */

/* How long a worker trusts a token it has checked against the database. Tokens are only ever
 * added today; when revocation comes, this bounds how long a revoked token keeps working. */
#define API_TOKEN_REMEMBER_SECONDS 10

struct api_thread {
	struct store *store;
	uint8_t token_sha256[32]; /* of the token accepted last */
	time_t token_until;	  /* trusted without a query until then; 0 = nothing remembered */
};

static void thread_destroy(void *p)
{
	struct api_thread *t = p;

	store_close(t->store);
	OPENSSL_cleanse(t, sizeof(*t));
	free(t);
}

int api_init(struct api *a, struct pp_error *err)
{
	if (pthread_key_create(&a->store_key, thread_destroy) != 0) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "cannot create the connection key");
		return -1;
	}
	a->key_made = true;
	a->policy_cache = policycache_new(0);
	if (a->policy_cache == NULL) {
		api_fini(a);
		pp_error_set(err, HR_E_OUTOFMEMORY, "cannot make the policy cache");
		return -1;
	}
	return 0;
}

void api_fini(struct api *a)
{
	if (a->key_made)
		(void)pthread_key_delete(a->store_key);
	a->key_made = false;
	policycache_free(a->policy_cache);
	a->policy_cache = NULL;
}

/* The calling worker's state, made with its connection on first use. */
static struct api_thread *thread_state(struct api *a, struct pp_error *err)
{
	struct api_thread *t = pthread_getspecific(a->store_key);

	if (t != NULL)
		return t;
	t = calloc(1, sizeof(*t));
	if (t == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
		return NULL;
	}
	t->store = store_open_sqlite(a->db_path, err);
	if (t->store == NULL || pthread_setspecific(a->store_key, t) != 0) {
		if (t->store != NULL)
			pp_error_set(err, HR_E_OUTOFMEMORY, "cannot keep the database connection");
		store_close(t->store);
		free(t);
		return NULL;
	}
	return t;
}

struct store *api_store(struct api *a, struct pp_error *err)
{
	struct api_thread *t = thread_state(a, err);

	return t != NULL ? t->store : NULL;
}

int api_check_token(void *ctx, const char *token)
{
	struct api *a = ctx;
	struct pp_error err;
	struct api_thread *t;
	uint8_t sha[32];
	time_t now = time(NULL);
	bool valid = false;

	pp_error_clear(&err);
	t = thread_state(a, &err);
	if (t == NULL) {
		srvlog_write(a->log, CMTRACE_ERROR, "cannot check an admin token: %s", err.message);
		return 0;
	}
	if (store_admin_token_digest(token, sha, &err) != 0)
		return 0; /* not a token of ours at all: a plain 401 */
	if (now < t->token_until && CRYPTO_memcmp(sha, t->token_sha256, sizeof(sha)) == 0)
		return 1;
	if (store_admin_token_verify(t->store, token, &valid, &err) != 0) {
		srvlog_write(a->log, CMTRACE_ERROR, "cannot check an admin token: %s", err.message);
		return 0;
	}
	if (valid) {
		memcpy(t->token_sha256, sha, sizeof(sha));
		t->token_until = now + API_TOKEN_REMEMBER_SECONDS;
	}
	OPENSSL_cleanse(sha, sizeof(sha));
	return valid ? 1 : 0;
}

void api_http_log(void *ctx, const char *line)
{
	struct api *a = ctx;

	srvlog_write(a->log, CMTRACE_INFO, "%s", line);
}

/* ---- replies ---- */

/* Answers a failure with the status its code calls for. */
void api_reply_failure(struct api *a, struct httpd_request *req, const struct pp_error *err)
{
	switch (err->code) {
	case HR_CRYPT_E_NOT_FOUND:
		httpd_reply_error(req, 404, "not_found", "%s", err->message);
		return;
	case HR_E_INVALIDARG:
		httpd_reply_error(req, 400, "invalid_argument", "%s", err->message);
		return;
	case HR_ERROR_ALREADY_EXISTS:
		httpd_reply_error(req, 409, "already_exists", "%s", err->message);
		return;
	case STORE_E_NOT_TOP_LEVEL:
		httpd_reply_error(req, 409, "not_top_level", "%s", err->message);
		return;
	case HR_E_ACCESSDENIED:
		if (strcmp(err->message, CERTMGR_REMOTE_NOT_HTTPS) == 0)
			httpd_reply_error(req, 409, "not_https", "%s", err->message);
		else
			httpd_reply_error(req, 502, "sup_refused", "%s", err->message);
		return;
	default:
		break;
	}
	srvlog_write(a->log, CMTRACE_ERROR, "%s %s: %s (0x%08X)", httpd_request_method(req),
		     httpd_request_path(req), err->message, (unsigned)err->code);
	httpd_reply_error(req, 500, "internal_error", "%s", err->message);
}

void api_reply_new(struct httpd_request *req, int status, json_t *body)
{
	if (body == NULL) {
		httpd_reply_error(req, 500, "out_of_memory", "out of memory");
		return;
	}
	httpd_reply_json(req, status, body);
	json_decref(body);
}

/* ---- request bodies ---- */

/* Reads the JSON object body; keys outside allowed (NULL-terminated) are refused so that a
 * misspelt field is not silently ignored. On failure the reply is sent and NULL returned. */
json_t *api_body_object(struct httpd_request *req, const char *const *allowed)
{
	struct pp_error err;
	json_t *body = NULL;
	const char *key;
	json_t *v;

	pp_error_clear(&err);
	if (httpd_request_json(req, &body, &err) != 0)
		return NULL;
	if (!json_is_object(body)) {
		json_decref(body);
		httpd_reply_error(req, 400, "invalid_argument", "the body must be a JSON object");
		return NULL;
	}
	json_object_foreach(body, key, v)
	{
		size_t i;

		for (i = 0; allowed[i] != NULL && strcmp(allowed[i], key) != 0; i++)
			;
		if (allowed[i] == NULL) {
			httpd_reply_error(req, 400, "invalid_argument", "unknown field \"%s\"",
					  key);
			json_decref(body);
			return NULL;
		}
	}
	return body;
}

/* Looks up an optional field of the given kind: 1 present, 0 absent, -1 wrong type (the reply
 * is sent). */
int api_field(struct httpd_request *req, json_t *body, const char *name, enum field_kind kind,
	      json_t **out)
{
	json_t *v = json_object_get(body, name);
	static const char *const kind_name[] = {"a string", "true or false", "an integer"};
	bool ok;

	*out = v;
	if (v == NULL || json_is_null(v))
		return 0;
	ok = (kind == FIELD_STRING && json_is_string(v)) ||
	     (kind == FIELD_BOOL && json_is_boolean(v)) ||
	     (kind == FIELD_INT && json_is_integer(v));
	if (ok)
		return 1;
	httpd_reply_error(req, 400, "invalid_argument", "field \"%s\" must be %s", name,
			  kind_name[kind]);
	return -1;
}

/* ---- records ---- */

static json_t *site_json(const struct store_site *site)
{
	return json_pack(
	    "{s:s, s:s, s:o, s:b, s:I}", "code", site->code, "name", site->name, "parent_code",
	    site->parent_code[0] != '\0' ? json_string(site->parent_code) : json_null(), "is_cas",
	    site->has_children, "created_at", (json_int_t)site->created_at);
}

static json_t *sup_json(const struct store_sup *sup)
{
	return json_pack("{s:I, s:s, s:s, s:s, s:b, s:I}", "id", (json_int_t)sup->id, "site_code",
			 sup->site_code, "url", sup->url, "location",
			 sup->location == STORE_SUP_LOCAL ? "local" : "remote", "sync_source",
			 sup->sync_source, "created_at", (json_int_t)sup->created_at);
}

static json_t *settings_json(const struct store_third_party_settings *t)
{
	return json_pack("{s:b, s:s, s:s, s:I}", "enable_third_party_updates",
			 t->enable_third_party_updates, "certificate_mode",
			 store_certificate_mode_name(t->certificate_mode), "top_level_site",
			 t->top_level_site, "updated_at", (json_int_t)t->updated_at);
}

static json_t *sync_json(const struct store_sync *s)
{
	return json_pack("{s:I, s:s, s:s, s:I, s:o, s:o}", "id", (json_int_t)s->id, "state",
			 store_sync_state_name(s->state), "step", s->step, "started_at",
			 (json_int_t)s->started_at, "finished_at",
			 s->finished_at != 0 ? json_integer(s->finished_at) : json_null(), "error",
			 s->error[0] != '\0' ? json_string(s->error) : json_null());
}

static json_t *cert_json(const struct store_certificate *c)
{
	return json_pack("{s:s, s:s, s:s, s:I, s:I, s:b, s:b, s:I}", "thumbprint", c->thumbprint,
			 "type", store_certificate_type_name(c->type), "subject", c->subject,
			 "not_before", (json_int_t)c->not_before, "not_after",
			 (json_int_t)c->not_after, "blocked", c->blocked, "approved", c->approved,
			 "added_at", (json_int_t)c->added_at);
}

/* {"<key>": record} */
static json_t *wrap(const char *key, json_t *record)
{
	return record != NULL ? json_pack("{s:o}", key, record) : NULL;
}

/* ---- status ---- */

static void on_status(struct httpd_request *req, void *ctx)
{
	struct api *a = ctx;
	json_t *roles = json_array();

	if (roles != NULL && (a->roles & API_ROLE_SITE) != 0)
		(void)json_array_append_new(roles, json_string("site"));
	if (roles != NULL && (a->roles & API_ROLE_SUP) != 0)
		(void)json_array_append_new(roles, json_string("sup"));
	if (roles != NULL && (a->roles & API_ROLE_MP) != 0)
		(void)json_array_append_new(roles, json_string("mp"));
	api_reply_new(req, 200,
		      json_pack("{s:s, s:s, s:o*, s:s}", "name", "patchpointd", "version",
				a->version, "roles", roles, "site_code", a->site_code));
}

/* ---- sites ---- */

static void on_sites(struct httpd_request *req, void *ctx)
{
	struct api *a = ctx;
	struct pp_error err;
	struct store_site *sites = NULL;
	struct store *s;
	json_t *arr;
	size_t n = 0;

	HANDLER_STORE(a, req, s, err);
	if (store_site_list(s, &sites, &n, &err) != 0) {
		api_reply_failure(a, req, &err);
		return;
	}
	arr = json_array();
	for (size_t i = 0; arr != NULL && i < n; i++)
		(void)json_array_append_new(arr, site_json(&sites[i]));
	free(sites);
	api_reply_new(req, 200, wrap("sites", arr));
}

static void on_site_add(struct httpd_request *req, void *ctx)
{
	static const char *const allowed[] = {"code", "name", "parent_code", "cas", NULL};
	struct api *a = ctx;
	struct pp_error err;
	struct store_site site;
	struct store *s;
	json_t *body, *code, *name, *parent, *cas;
	int rc;

	HANDLER_STORE(a, req, s, err);
	body = api_body_object(req, allowed);
	if (body == NULL)
		return;
	if (api_field(req, body, "code", FIELD_STRING, &code) < 0 ||
	    api_field(req, body, "name", FIELD_STRING, &name) < 0 ||
	    api_field(req, body, "parent_code", FIELD_STRING, &parent) < 0 ||
	    api_field(req, body, "cas", FIELD_BOOL, &cas) < 0)
		goto out;
	if (code == NULL || json_is_null(code)) {
		httpd_reply_error(req, 400, "invalid_argument", "field \"code\" is required");
		goto out;
	}
	if (cas != NULL && json_is_true(cas) && parent != NULL && !json_is_null(parent)) {
		httpd_reply_error(req, 400, "invalid_argument",
				  "a CAS has no parent: give \"cas\" or \"parent_code\", not both");
		goto out;
	}
	if (cas != NULL && json_is_true(cas))
		rc = store_site_add_cas_above(s, json_string_value(code),
					      name != NULL ? json_string_value(name) : "", &err);
	else
		rc = store_site_add(s, json_string_value(code),
				    name != NULL ? json_string_value(name) : "",
				    parent != NULL ? json_string_value(parent) : NULL, &err);
	if (rc != 0 || store_site_get(s, json_string_value(code), &site, &err) != 0) {
		api_reply_failure(a, req, &err);
		goto out;
	}
	srvlog_write(a->wcm_log, CMTRACE_INFO, "Site %s (%s) added%s%s", site.code, site.name,
		     site.parent_code[0] ? " under " : " as the top-level site", site.parent_code);
	api_reply_new(req, 201, wrap("site", site_json(&site)));
out:
	json_decref(body);
}

/* The site named by the {code} capture; replies 404 itself. */
static int capture_site(struct api *a, struct httpd_request *req, struct store *s,
			struct store_site *site)
{
	const char *code = httpd_request_capture(req, "code");
	struct pp_error err;

	pp_error_clear(&err);
	if (code != NULL && store_site_get(s, code, site, &err) == 0)
		return 0;
	if (code == NULL || err.code == HR_CRYPT_E_NOT_FOUND || err.code == HR_E_INVALIDARG)
		httpd_reply_error(req, 404, "not_found", "no site with code '%s'",
				  code != NULL ? code : "");
	else
		api_reply_failure(a, req, &err);
	return -1;
}

static void on_site(struct httpd_request *req, void *ctx)
{
	struct api *a = ctx;
	struct pp_error err;
	struct store_site site;
	struct store_sup *sups = NULL;
	struct store *s;
	json_t *body, *arr;
	size_t n = 0;

	HANDLER_STORE(a, req, s, err);
	if (capture_site(a, req, s, &site) != 0)
		return;
	if (store_sup_list(s, site.code, &sups, &n, &err) != 0) {
		api_reply_failure(a, req, &err);
		return;
	}
	arr = json_array();
	for (size_t i = 0; arr != NULL && i < n; i++)
		(void)json_array_append_new(arr, sup_json(&sups[i]));
	free(sups);
	body = site_json(&site);
	if (body != NULL && (arr == NULL || json_object_set_new(body, "sups", arr) != 0)) {
		json_decref(body);
		body = NULL;
	}
	api_reply_new(req, 200, body);
}

/* ---- third-party update settings ---- */

static void on_settings_get(struct httpd_request *req, void *ctx)
{
	struct api *a = ctx;
	struct pp_error err;
	struct store_site site;
	struct store_third_party_settings t;
	struct store *s;

	HANDLER_STORE(a, req, s, err);
	if (capture_site(a, req, s, &site) != 0)
		return;
	if (store_third_party_settings_get(s, &t, &err) != 0) {
		api_reply_failure(a, req, &err);
		return;
	}
	api_reply_new(req, 200, settings_json(&t));
}

static const char *yes_no(bool b)
{
	return b ? "Yes" : "No";
}

static const char *mode_label(enum store_certificate_mode m)
{
	return m == STORE_CERT_MODE_MANAGED ? "Configuration Manager manages the certificate"
					    : "Manually manage the certificate";
}

static void on_settings_put(struct httpd_request *req, void *ctx)
{
	static const char *const allowed[] = {"enable_third_party_updates", "certificate_mode",
					      NULL};
	struct api *a = ctx;
	struct pp_error err;
	struct store_site site;
	struct store_third_party_settings before, t;
	struct store *s;
	json_t *body, *enable, *mode;

	HANDLER_STORE(a, req, s, err);
	if (capture_site(a, req, s, &site) != 0)
		return;
	body = api_body_object(req, allowed);
	if (body == NULL)
		return;
	if (api_field(req, body, "enable_third_party_updates", FIELD_BOOL, &enable) < 0 ||
	    api_field(req, body, "certificate_mode", FIELD_STRING, &mode) < 0)
		goto out;
	if (enable == NULL && mode == NULL) {
		httpd_reply_error(req, 400, "invalid_argument",
				  "give enable_third_party_updates, certificate_mode or both");
		goto out;
	}
	if (store_third_party_settings_get(s, &before, &err) != 0) {
		api_reply_failure(a, req, &err);
		goto out;
	}
	t = before;
	if (enable != NULL)
		t.enable_third_party_updates = json_is_true(enable);
	if ((mode != NULL && store_certificate_mode_parse(json_string_value(mode),
							  &t.certificate_mode, &err) != 0) ||
	    store_third_party_settings_set(s, site.code, &t, &err) != 0 ||
	    store_third_party_settings_get(s, &t, &err) != 0) {
		if (err.code == STORE_E_NOT_TOP_LEVEL)
			srvlog_write(a->wcm_log, CMTRACE_WARNING,
				     "Refused third-party updates settings on site %s: %s",
				     site.code, err.message);
		api_reply_failure(a, req, &err);
		goto out;
	}
	srvlog_write(a->wcm_log, CMTRACE_INFO,
		     "Third-party updates settings of the hierarchy set on top-level site %s: "
		     "Enable third-party software updates = %s, %s (was %s, %s)",
		     site.code, yes_no(t.enable_third_party_updates),
		     mode_label(t.certificate_mode), yes_no(before.enable_third_party_updates),
		     mode_label(before.certificate_mode));
	api_reply_new(req, 200, settings_json(&t));
out:
	json_decref(body);
}

/* ---- software update points ---- */

static void on_sups(struct httpd_request *req, void *ctx)
{
	struct api *a = ctx;
	struct pp_error err;
	struct store_sup *sups = NULL;
	struct store_site known;
	struct store *s;
	char site[16];
	json_t *arr;
	size_t n = 0;

	HANDLER_STORE(a, req, s, err);
	if (httpd_request_query(req, "site", site, sizeof(site)) != 0)
		site[0] = '\0';
	if (site[0] != '\0' && store_site_get(s, site, &known, &err) != 0) {
		httpd_reply_error(req, 404, "not_found", "no site with code '%s'", site);
		return;
	}
	if (store_sup_list(s, site[0] ? site : NULL, &sups, &n, &err) != 0) {
		api_reply_failure(a, req, &err);
		return;
	}
	arr = json_array();
	for (size_t i = 0; arr != NULL && i < n; i++)
		(void)json_array_append_new(arr, sup_json(&sups[i]));
	free(sups);
	api_reply_new(req, 200, wrap("sups", arr));
}

/* Parses the {id} capture; replies 404 itself. */
static int capture_id(struct httpd_request *req, int64_t *id)
{
	const char *text = httpd_request_capture(req, "id");
	char *end = NULL;
	long long v;

	errno = 0;
	v = text != NULL ? strtoll(text, &end, 10) : 0;
	if (text == NULL || end == text || *end != '\0' || errno != 0 || v <= 0) {
		httpd_reply_error(req, 404, "not_found", "no such id '%s'", text ? text : "");
		return -1;
	}
	*id = (int64_t)v;
	return 0;
}

static void on_sup(struct httpd_request *req, void *ctx)
{
	struct api *a = ctx;
	struct pp_error err;
	struct store_sup sup;
	struct store *s;
	int64_t id;

	HANDLER_STORE(a, req, s, err);
	if (capture_id(req, &id) != 0)
		return;
	if (store_sup_get(s, id, &sup, &err) != 0) {
		api_reply_failure(a, req, &err);
		return;
	}
	api_reply_new(req, 200, wrap("sup", sup_json(&sup)));
}

static void on_sup_add(struct httpd_request *req, void *ctx)
{
	static const char *const allowed[] = {"url", "location", "site_code", "sync_source", NULL};
	struct api *a = ctx;
	struct pp_error err;
	struct store_sup sup, replaced;
	struct store_site top;
	struct store *s;
	json_t *body, *url, *location, *site, *source;

	HANDLER_STORE(a, req, s, err);
	body = api_body_object(req, allowed);
	if (body == NULL)
		return;
	memset(&sup, 0, sizeof(sup));
	if (api_field(req, body, "url", FIELD_STRING, &url) < 0 ||
	    api_field(req, body, "location", FIELD_STRING, &location) < 0 ||
	    api_field(req, body, "site_code", FIELD_STRING, &site) < 0 ||
	    api_field(req, body, "sync_source", FIELD_BOOL, &source) < 0)
		goto out;
	if (url == NULL || strlen(json_string_value(url)) >= sizeof(sup.url)) {
		httpd_reply_error(req, 400, "invalid_argument",
				  "field \"url\" is required (http:// or https://, at most %zu "
				  "bytes)",
				  sizeof(sup.url) - 1);
		goto out;
	}
	if (location != NULL && strcmp(json_string_value(location), "local") != 0 &&
	    strcmp(json_string_value(location), "remote") != 0) {
		httpd_reply_error(req, 400, "invalid_argument",
				  "field \"location\" must be \"local\" or \"remote\"");
		goto out;
	}
	if (site == NULL && store_top_level_site(s, &top, &err) != 0) {
		api_reply_failure(a, req, &err);
		goto out;
	}
	(void)snprintf(sup.site_code, sizeof(sup.site_code), "%s",
		       site != NULL ? json_string_value(site) : top.code);
	(void)snprintf(sup.url, sizeof(sup.url), "%s", json_string_value(url));
	sup.location = location != NULL && strcmp(json_string_value(location), "remote") == 0
			   ? STORE_SUP_REMOTE
			   : STORE_SUP_LOCAL;
	sup.sync_source = source != NULL && json_is_true(source);
	if (site != NULL && strlen(json_string_value(site)) != STORE_SITE_CODE_LEN) {
		httpd_reply_error(req, 404, "not_found", "no site with code '%s'",
				  json_string_value(site));
		goto out;
	}
	if (store_sup_add_replacing(s, &sup, &replaced, &err) != 0) {
		api_reply_failure(a, req, &err);
		goto out;
	}
	srvlog_write(a->wcm_log, CMTRACE_INFO, "Software update point %s (%s%s) added to site %s",
		     sup.url, sup.location == STORE_SUP_LOCAL ? "local" : "remote",
		     sup.sync_source ? ", sync source" : "", sup.site_code);
	if (replaced.id != 0)
		srvlog_write(a->wcm_log, CMTRACE_INFO,
			     "Software update point %s is no longer the sync source of site %s",
			     replaced.url, sup.site_code);
	api_reply_new(req, 201, wrap("sup", sup_json(&sup)));
out:
	json_decref(body);
}

/* ---- synchronizations ---- */

static void on_sync_start(struct httpd_request *req, void *ctx)
{
	struct api *a = ctx;
	struct pp_error err;
	struct store_sync sync;
	struct store *s;
	bool started = false;

	HANDLER_STORE(a, req, s, err);
	if (syncmgr_request(a->syncmgr, s, &sync, &started, &err) != 0) {
		api_reply_failure(a, req, &err);
		return;
	}
	api_reply_new(req, 202,
		      json_pack("{s:b, s:o}", "started", started, "sync", sync_json(&sync)));
}

static void on_sync_latest(struct httpd_request *req, void *ctx)
{
	struct api *a = ctx;
	struct pp_error err;
	struct store_sync sync;
	struct store *s;

	HANDLER_STORE(a, req, s, err);
	if (store_sync_latest(s, &sync, &err) != 0) {
		if (err.code == HR_CRYPT_E_NOT_FOUND)
			httpd_reply_error(req, 404, "not_found", "no synchronization has run yet");
		else
			api_reply_failure(a, req, &err);
		return;
	}
	api_reply_new(req, 200, wrap("sync", sync_json(&sync)));
}

static void on_sync(struct httpd_request *req, void *ctx)
{
	struct api *a = ctx;
	struct pp_error err;
	struct store_sync sync;
	struct store *s;
	int64_t id;

	HANDLER_STORE(a, req, s, err);
	if (capture_id(req, &id) != 0)
		return;
	if (store_sync_get(s, id, &sync, &err) != 0) {
		api_reply_failure(a, req, &err);
		return;
	}
	api_reply_new(req, 200, wrap("sync", sync_json(&sync)));
}

/* ---- Certificates ---- */

static void on_certificates(struct httpd_request *req, void *ctx)
{
	struct api *a = ctx;
	struct pp_error err;
	struct store_certificate *certs = NULL;
	struct store *s;
	json_t *arr;
	size_t n = 0;

	HANDLER_STORE(a, req, s, err);
	if (store_certificate_list(s, &certs, &n, &err) != 0) {
		api_reply_failure(a, req, &err);
		return;
	}
	arr = json_array();
	for (size_t i = 0; arr != NULL && i < n; i++)
		(void)json_array_append_new(arr, cert_json(&certs[i]));
	store_certificate_list_free(certs, n);
	api_reply_new(req, 200, wrap("certificates", arr));
}

/* Replies with the Certificates row of the {thumbprint} capture. */
static void reply_certificate(struct api *a, struct httpd_request *req, struct store *s)
{
	const char *thumb = httpd_request_capture(req, "thumbprint");
	struct store_certificate c;
	struct pp_error err;

	pp_error_clear(&err);
	memset(&c, 0, sizeof(c));
	if (store_certificate_get(s, thumb, &c, &err) != 0) {
		if (err.code == HR_E_INVALIDARG)
			httpd_reply_error(req, 404, "not_found", "no certificate '%s'", thumb);
		else
			api_reply_failure(a, req, &err);
		return;
	}
	api_reply_new(req, 200, wrap("certificate", cert_json(&c)));
	store_certificate_clear(&c);
}

static void on_certificate(struct httpd_request *req, void *ctx)
{
	struct api *a = ctx;
	struct pp_error err;
	struct store *s;

	HANDLER_STORE(a, req, s, err);
	reply_certificate(a, req, s);
}

enum cert_action { CERT_BLOCK, CERT_UNBLOCK, CERT_APPROVE };

static void set_blocked(struct httpd_request *req, struct api *a, enum cert_action action)
{
	static const char *const done[] = {"blocked", "unblocked", "approved"};
	const char *thumb = httpd_request_capture(req, "thumbprint");
	struct pp_error err;
	struct store *s;
	int rc;

	HANDLER_STORE(a, req, s, err);
	rc = action == CERT_BLOCK     ? store_certificate_block(s, thumb, &err)
	     : action == CERT_UNBLOCK ? store_certificate_unblock(s, thumb, &err)
				      : store_certificate_approve(s, thumb, &err);
	if (rc != 0) {
		if (err.code == HR_E_INVALIDARG)
			httpd_reply_error(req, 404, "not_found", "no certificate '%s'", thumb);
		else
			api_reply_failure(a, req, &err);
		return;
	}
	srvlog_write(a->wcm_log, CMTRACE_INFO, "Certificate %s %s", thumb, done[action]);
	reply_certificate(a, req, s);
}

static void on_block(struct httpd_request *req, void *ctx)
{
	set_blocked(req, ctx, CERT_BLOCK);
}

static void on_unblock(struct httpd_request *req, void *ctx)
{
	set_blocked(req, ctx, CERT_UNBLOCK);
}

static void on_approve(struct httpd_request *req, void *ctx)
{
	set_blocked(req, ctx, CERT_APPROVE);
}

/* ---- the publisher's certificate ---- */

/* The certmgr of this request: the template with the worker's connection. */
static struct certmgr request_certmgr(const struct api *a, struct store *s)
{
	struct certmgr cm = a->certmgr;

	cm.store = s;
	return cm;
}

static void on_publisher_show(struct httpd_request *req, void *ctx)
{
	struct api *a = ctx;
	struct pp_error err;
	struct certmgr cm;
	struct store *s;
	json_t *show = NULL;

	HANDLER_STORE(a, req, s, err);
	cm = request_certmgr(a, s);
	if (certmgr_publisher_show(&cm, &show, &err) != 0) {
		if (err.code == HR_CRYPT_E_NOT_FOUND)
			httpd_reply_error(req, 404, "no_certificate", "%s", err.message);
		else
			api_reply_failure(a, req, &err);
		return;
	}
	api_reply_new(req, 200, wrap("certificate", show));
}

/* Replies to a create or import: 201 with the fields, or the failure. */
static void reply_registered(struct api *a, struct httpd_request *req, int rc, json_t *show,
			     const struct pp_error *err)
{
	if (rc == 0) {
		api_reply_new(req, 201, wrap("certificate", show));
		return;
	}
	if (err->code == HR_ERROR_ALREADY_EXISTS)
		httpd_reply_error(req, 409, "certificate_exists", "%s", err->message);
	else if (err->code == CERTMGR_E_IMPORT)
		httpd_reply_error(req, 422, "import_failed", "%s", err->message);
	else
		api_reply_failure(a, req, err);
}

static void on_publisher_create(struct httpd_request *req, void *ctx)
{
	static const char *const allowed[] = {"subject",    "years", "key_bits",
					      "exportable", "force", NULL};
	struct api *a = ctx;
	struct certmgr_create_options o = {.exportable = true};
	struct pp_error err;
	struct certmgr cm;
	struct store *s;
	json_t *body, *subject, *years, *bits, *exportable, *force, *show = NULL;
	int rc;

	HANDLER_STORE(a, req, s, err);
	body = api_body_object(req, allowed);
	if (body == NULL)
		return;
	if (api_field(req, body, "subject", FIELD_STRING, &subject) < 0 ||
	    api_field(req, body, "years", FIELD_INT, &years) < 0 ||
	    api_field(req, body, "key_bits", FIELD_INT, &bits) < 0 ||
	    api_field(req, body, "exportable", FIELD_BOOL, &exportable) < 0 ||
	    api_field(req, body, "force", FIELD_BOOL, &force) < 0)
		goto out;
	if (years != NULL && (json_integer_value(years) < 1 || json_integer_value(years) > 100)) {
		httpd_reply_error(req, 400, "invalid_argument", "field \"years\" must be 1 to 100");
		goto out;
	}
	if (bits != NULL && json_integer_value(bits) != 2048 && json_integer_value(bits) != 3072 &&
	    json_integer_value(bits) != 4096) {
		httpd_reply_error(req, 400, "invalid_argument",
				  "field \"key_bits\" must be 2048, 3072 or 4096");
		goto out;
	}
	o.subject = subject != NULL ? json_string_value(subject) : NULL;
	o.years = years != NULL ? (int)json_integer_value(years) : 0;
	o.bits = bits != NULL ? (int)json_integer_value(bits) : 0;
	o.exportable = exportable == NULL || json_is_true(exportable);
	o.force = force != NULL && json_is_true(force);
	cm = request_certmgr(a, s);
	rc = certmgr_publisher_create(&cm, &o, &show, &err);
	reply_registered(a, req, rc, show, &err);
out:
	json_decref(body);
}

static void on_publisher_import(struct httpd_request *req, void *ctx)
{
	static const char *const allowed[] = {"pfx",	       "password", "exportable",
					      "keep_existing", "force",	   NULL};
	struct api *a = ctx;
	struct certmgr_import_options o = {.exportable = true};
	struct pp_error err;
	struct certmgr cm;
	struct store *s;
	json_t *body, *pfx, *password, *exportable, *keep, *force, *show = NULL;
	uint8_t *der = NULL;
	size_t der_len = 0;
	int rc;

	HANDLER_STORE(a, req, s, err);
	body = api_body_object(req, allowed);
	if (body == NULL)
		return;
	if (api_field(req, body, "pfx", FIELD_STRING, &pfx) < 0 ||
	    api_field(req, body, "password", FIELD_STRING, &password) < 0 ||
	    api_field(req, body, "exportable", FIELD_BOOL, &exportable) < 0 ||
	    api_field(req, body, "keep_existing", FIELD_BOOL, &keep) < 0 ||
	    api_field(req, body, "force", FIELD_BOOL, &force) < 0)
		goto out;
	if (pfx == NULL) {
		httpd_reply_error(req, 400, "invalid_argument", "field \"pfx\" is required");
		goto out;
	}
	if (signstore_base64_decode(json_string_value(pfx), SIGNER_PFX_MAX, "pfx", &der, &der_len,
				    &err) != 0) {
		api_reply_failure(a, req, &err);
		goto out;
	}
	o.pfx = der;
	o.pfx_len = der_len;
	o.password = password != NULL ? json_string_value(password) : "";
	o.exportable = exportable == NULL || json_is_true(exportable);
	o.keep_existing = keep != NULL && json_is_true(keep);
	o.force = force != NULL && json_is_true(force);
	cm = request_certmgr(a, s);
	rc = certmgr_publisher_import(&cm, &o, &show, &err);
	reply_registered(a, req, rc, show, &err);
out:
	if (der != NULL)
		OPENSSL_clear_free(der, der_len);
	/* jansson frees without wiping: clear the password it holds first. */
	if (json_is_string(json_object_get(body, "password")))
		OPENSSL_cleanse((char *)json_string_value(json_object_get(body, "password")),
				json_string_length(json_object_get(body, "password")));
	json_decref(body);
}

static void on_publisher_cer(struct httpd_request *req, void *ctx)
{
	struct api *a = ctx;
	struct pp_error err;
	struct certmgr cm;
	struct store *s;
	uint8_t *der = NULL;
	size_t len = 0;

	HANDLER_STORE(a, req, s, err);
	cm = request_certmgr(a, s);
	if (certmgr_publisher_cer(&cm, &der, &len, &err) != 0) {
		if (err.code == HR_CRYPT_E_NOT_FOUND)
			httpd_reply_error(req, 404, "no_certificate", "%s", err.message);
		else
			api_reply_failure(a, req, &err);
		return;
	}
	httpd_reply_bytes(req, 200, "application/pkix-cert", der, len);
	free(der);
}

static void on_publisher_status(struct httpd_request *req, void *ctx)
{
	struct api *a = ctx;
	struct pp_error err;
	struct certmgr cm;
	struct store *s;
	json_t *status = NULL;

	HANDLER_STORE(a, req, s, err);
	cm = request_certmgr(a, s);
	if (certmgr_publisher_status(&cm, &status, &err) != 0) {
		api_reply_failure(a, req, &err);
		return;
	}
	api_reply_new(req, 200, status);
}

/* ---- logs ---- */

static const struct {
	const char *name;
	const char *file;
} api_logs[] = {
    {"wsyncmgr", "wsyncmgr.log"},
    {"wcm", "WCM.log"},
    {"publisher", "Publisher.log"},
    {"patchpointd", "patchpointd.log"},
    {"isvupdates", "SMS_ISVUPDATES_SYNCAGENT.log"},
    {"softwaredistribution", "SoftwareDistribution.log"},
};

static const char *log_file(const char *name)
{
	size_t n = strlen(name);

	if (n > 4 && strcasecmp(name + n - 4, ".log") == 0)
		n -= 4;
	for (size_t i = 0; i < sizeof(api_logs) / sizeof(api_logs[0]); i++)
		if (strlen(api_logs[i].name) == n && strncasecmp(api_logs[i].name, name, n) == 0)
			return api_logs[i].file;
	return NULL;
}

/* Length of the UTF-8 sequence that starts with byte b, 0 for a byte that cannot start one. */
static size_t utf8_lead(unsigned char b)
{
	if (b < 0x80)
		return 1;
	if (b >= 0xC2 && b <= 0xDF)
		return 2;
	if (b >= 0xE0 && b <= 0xEF)
		return 3;
	if (b >= 0xF0 && b <= 0xF4)
		return 4;
	return 0;
}

/* Makes buf[0..*len) valid UTF-8 for JSON: a sequence cut by the end of the chunk is left for
 * the next read (*len shrinks so next_offset points at its first byte); any other invalid byte
 * becomes '?'. Overlong and surrogate forms beyond the lead byte are left to jansson's check. */
static void utf8_clean(char *buf, size_t *len)
{
	size_t i = 0, n;

	while (i < *len) {
		unsigned char b = (unsigned char)buf[i];
		size_t k;

		n = utf8_lead(b);
		if (n == 0) {
			buf[i++] = '?';
			continue;
		}
		if (i + n > *len) {
			bool prefix = true;

			for (k = 1; i + k < *len; k++)
				prefix = prefix && ((unsigned char)buf[i + k] & 0xC0) == 0x80;
			if (prefix) {
				*len = i;
				return;
			}
		}
		for (k = 1; k < n && i + k < *len; k++)
			if (((unsigned char)buf[i + k] & 0xC0) != 0x80)
				break;
		if (k < n) {
			buf[i++] = '?';
			continue;
		}
		i += n;
	}
}

static void on_log(struct httpd_request *req, void *ctx)
{
	struct api *a = ctx;
	const char *name = httpd_request_capture(req, "name"), *file = log_file(name);
	char path[PATH_MAX], text[32], *buf = NULL, *end = NULL;
	struct stat st;
	long long offset = 0;
	ssize_t got = 0;
	json_t *body;
	int fd;

	if (file == NULL) {
		httpd_reply_error(req, 404, "not_found",
				  "no log '%s'; the logs are wsyncmgr, WCM, Publisher, "
				  "isvupdates (SMS_ISVUPDATES_SYNCAGENT), softwaredistribution and "
				  "patchpointd",
				  name);
		return;
	}
	if (httpd_request_query(req, "offset", text, sizeof(text)) == 0) {
		errno = 0;
		offset = strtoll(text, &end, 10);
		if (end == text || *end != '\0' || errno != 0 || offset < 0) {
			httpd_reply_error(req, 400, "invalid_argument",
					  "offset must be a non-negative integer");
			return;
		}
	}
	(void)snprintf(path, sizeof(path), "%s/%s", a->log_dir, file);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno != ENOENT) {
		httpd_reply_error(req, 500, "internal_error", "cannot open %s: %s", file,
				  strerror(errno));
		return;
	}
	memset(&st, 0, sizeof(st));
	if (fd >= 0 && fstat(fd, &st) != 0)
		st.st_size = 0;
	if (offset > (long long)st.st_size)
		offset = 0; /* rolled over to .lo_: start the new file from its beginning */
	if (fd >= 0 && st.st_size > offset) {
		size_t want = (size_t)(st.st_size - offset);

		if (want > API_LOG_CHUNK)
			want = API_LOG_CHUNK;
		buf = malloc(want);
		got = buf != NULL ? pread(fd, buf, want, (off_t)offset) : -1;
		if (got < 0)
			got = 0;
		if (got > 0) {
			size_t clean = (size_t)got;

			utf8_clean(buf, &clean);
			got = (ssize_t)clean;
		}
	}
	if (fd >= 0)
		(void)close(fd);
	body = json_pack("{s:s, s:I, s:I, s:I, s:I, s:s%}", "name", file, "file_id",
			 (json_int_t)st.st_ino, "offset", (json_int_t)offset, "next_offset",
			 (json_int_t)(offset + got), "size", (json_int_t)st.st_size, "text",
			 buf != NULL ? buf : "", (size_t)got);
	free(buf);
	api_reply_new(req, 200, body);
}

/* ---- routes ---- */

struct api_route {
	const char *method;
	const char *pattern;
	httpd_handler fn;
};

static const struct api_route site_routes[] = {
    {"GET", "/api/v1/sites", on_sites},
    {"POST", "/api/v1/sites", on_site_add},
    {"GET", "/api/v1/sites/{code}", on_site},
    {"GET", "/api/v1/sites/{code}/third-party-updates", on_settings_get},
    {"PUT", "/api/v1/sites/{code}/third-party-updates", on_settings_put},
    {"GET", "/api/v1/sups", on_sups},
    {"POST", "/api/v1/sups", on_sup_add},
    {"GET", "/api/v1/sups/{id}", on_sup},
    {"POST", "/api/v1/syncs", on_sync_start},
    {"GET", "/api/v1/syncs/latest", on_sync_latest},
    {"GET", "/api/v1/syncs/{id}", on_sync},
    {"GET", "/api/v1/certificates", on_certificates},
    {"GET", "/api/v1/certificates/{thumbprint}", on_certificate},
    {"POST", "/api/v1/certificates/{thumbprint}/block", on_block},
    {"POST", "/api/v1/certificates/{thumbprint}/unblock", on_unblock},
    {"POST", "/api/v1/certificates/{thumbprint}/approve", on_approve},
    {"GET", "/api/v1/publisher/certificate", on_publisher_show},
    {"POST", "/api/v1/publisher/certificate", on_publisher_create},
    {"POST", "/api/v1/publisher/certificate/import", on_publisher_import},
    {"GET", "/api/v1/publisher/certificate/cer", on_publisher_cer},
    {"GET", "/api/v1/publisher/status", on_publisher_status},
    {"GET", "/api/v1/logs/{name}", on_log},
};

int api_add_routes(struct httpd *h, struct api *a, struct pp_error *err)
{
	if (httpd_route(h, "GET", "/api/v1/status", on_status, a, 0) != 0)
		goto fail;
	if ((a->roles & API_ROLE_SITE) == 0)
		return 0;
	for (size_t i = 0; i < sizeof(site_routes) / sizeof(site_routes[0]); i++)
		if (httpd_route(h, site_routes[i].method, site_routes[i].pattern, site_routes[i].fn,
				a, HTTPD_ADMIN) != 0)
			goto fail;
	return 0;
fail:
	pp_error_set(err, HR_E_FAIL, "cannot add the API routes");
	return -1;
}
