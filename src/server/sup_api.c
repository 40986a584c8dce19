/* sup_api.c - the routes of a software update point's signing store (sup_api.h): the primitives
 * of the local store served to the site server, over HTTPS only, admin only, one call at a time.
 * Which certificate replaces which is the site server's decision (signstore.c), not ours. */
#include "sup_api.h"

#include "hresult.h"
#include "pki.h"
#include "signer.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#define SUP_API_DAYS_MAX (100 * 366)

/* signstore.h: a store is used from one thread at a time, and these routes run on every worker.
 * One lock for the process, which serves one signing store: sup_api_add_routes has nothing that
 * could free a lock of its own. */
static pthread_mutex_t store_lock = PTHREAD_MUTEX_INITIALIZER;

/* True when req came over TLS; otherwise it has been answered 403 and is gone. */
static bool over_https(struct httpd_request *req)
{
	if (httpd_request_is_tls(req))
		return true;
	httpd_reply_error(req, 403, "https_required", SUP_API_HTTPS_REQUIRED);
	return false;
}

/* {"error":{"code","message","hresult"}}: the store's error with its HRESULT. */
static void reply_store_error(struct httpd_request *req, int status, const char *code,
			      const struct pp_error *err)
{
	char hr[16];
	json_t *body;

	(void)snprintf(hr, sizeof(hr), "0x%08X", err->code);
	body = json_pack("{s:{s:s, s:s, s:s}}", "error", "code", code, "message", err->message,
			 "hresult", hr);
	if (body == NULL) {
		httpd_reply_error(req, status, code, "%s", err->message);
		return;
	}
	httpd_reply_json(req, status, body);
	json_decref(body);
}

/* A failed list, generate or delete: 404, 400 or 500 after the code. */
static void reply_failure(struct httpd_request *req, const struct pp_error *err)
{
	if (err->code == HR_CRYPT_E_NOT_FOUND)
		reply_store_error(req, 404, "not_found", err);
	else if (err->code == HR_E_INVALIDARG)
		reply_store_error(req, 400, "invalid_argument", err);
	else
		reply_store_error(req, 500, "signing_store_failed", err);
}

/* Answers status with {key: entry of c}. */
static void reply_entry(struct httpd_request *req, int status, const char *key,
			const struct signer_cert *c)
{
	json_t *entry = signstore_entry_json(c);
	json_t *body = entry != NULL ? json_pack("{s:o}", key, entry) : NULL;

	if (body == NULL) {
		httpd_reply_error(req, 500, "out_of_memory", "cannot encode the certificate");
		return;
	}
	httpd_reply_json(req, status, body);
	json_decref(body);
}

/* ---- GET /api/v1/signing-store ---- */

static json_t *entries_json(const struct signer_cert *certs, size_t n)
{
	json_t *arr = json_array();
	size_t i;

	for (i = 0; arr != NULL && i < n; i++) {
		json_t *entry = signstore_entry_json(&certs[i]);

		if (entry == NULL || json_array_append_new(arr, entry) != 0) {
			json_decref(arr);
			arr = NULL;
		}
	}
	return arr != NULL ? json_pack("{s:o}", "certificates", arr) : NULL;
}

static void on_list(struct httpd_request *req, void *ctx)
{
	struct signstore *st = ctx;
	struct signer_cert *certs = NULL;
	struct pp_error err;
	size_t n = 0;
	json_t *body;
	int rc;

	if (!over_https(req))
		return;
	pp_error_clear(&err);
	pthread_mutex_lock(&store_lock);
	rc = signstore_list(st, &certs, &n, &err);
	pthread_mutex_unlock(&store_lock);
	if (rc != 0) {
		reply_failure(req, &err);
		return;
	}
	body = entries_json(certs, n);
	signer_certs_free(certs, n);
	if (body == NULL) {
		httpd_reply_error(req, 500, "out_of_memory", "cannot encode the certificates");
		return;
	}
	httpd_reply_json(req, 200, body);
	json_decref(body);
}

/* ---- POST /api/v1/signing-store/generate ---- */

/* An optional integer field within [min, max]; 0 in *out when absent or null. */
static int int_field(const json_t *body, const char *name, long long min, long long max, int *out,
		     struct pp_error *err)
{
	const json_t *v = json_object_get(body, name);

	*out = 0;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
		pp_error_set(err, HR_E_INVALIDARG, "%s must be an integer from %lld to %lld", name,
			     min, max);
		return -1;
	}
	*out = (int)json_integer_value(v);
	return 0;
}

/* An optional string field of at most max bytes; NULL in *out when absent or null. */
static int string_field(const json_t *body, const char *name, size_t max, const char **out,
			struct pp_error *err)
{
	const json_t *v = json_object_get(body, name);

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v) || json_string_length(v) > max) {
		pp_error_set(err, HR_E_INVALIDARG, "%s must be a string of at most %zu bytes", name,
			     max);
		return -1;
	}
	*out = json_string_value(v);
	return 0;
}

/* An optional boolean field; false when absent or null. */
static int bool_field(const json_t *body, const char *name, bool *out, struct pp_error *err)
{
	const json_t *v = json_object_get(body, name);

	*out = false;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_boolean(v)) {
		pp_error_set(err, HR_E_INVALIDARG, "%s must be true or false", name);
		return -1;
	}
	*out = json_is_true(v);
	return 0;
}

/* The generate options of body (pointing into it). */
static int generate_options(const json_t *body, struct signer_generate_options *o,
			    struct pp_error *err)
{
	memset(o, 0, sizeof(*o));
	if (!json_is_object(body)) {
		pp_error_set(err, HR_E_INVALIDARG, "the body must be a JSON object");
		return -1;
	}
	if (string_field(body, "subject", SIGNER_SUBJECT_MAX, &o->subject, err) != 0 ||
	    int_field(body, "days", 1, SUP_API_DAYS_MAX, &o->days, err) != 0 ||
	    int_field(body, "bits", PKI_MIN_RSA_BITS, 4096, &o->bits, err) != 0 ||
	    bool_field(body, "exportable", &o->exportable, err) != 0)
		return -1;
	if (o->bits != 0 && o->bits != 2048 && o->bits != 3072 && o->bits != 4096) {
		pp_error_set(err, HR_E_INVALIDARG, "bits must be 2048, 3072 or 4096");
		return -1;
	}
	return 0;
}

static void on_generate(struct httpd_request *req, void *ctx)
{
	struct signstore *st = ctx;
	struct signer_generate_options o;
	struct signer_cert c;
	struct pp_error err;
	json_t *body = NULL;
	int rc;

	if (!over_https(req))
		return;
	pp_error_clear(&err);
	if (httpd_request_json(req, &body, &err) != 0)
		return;
	if (generate_options(body, &o, &err) != 0) {
		httpd_reply_error(req, 400, "invalid_argument", "%s", err.message);
		json_decref(body);
		return;
	}
	pthread_mutex_lock(&store_lock);
	rc = signstore_register_generated(st, &o, true, &c, NULL, &err);
	pthread_mutex_unlock(&store_lock);
	json_decref(body);
	if (rc != 0) {
		reply_failure(req, &err);
		return;
	}
	reply_entry(req, 201, "certificate", &c);
	signer_cert_release(&c);
}

/* ---- POST /api/v1/signing-store/import ---- */

/* The fields of an import request; pfx is ours (OPENSSL_clear_free), password points into the
 * body. */
struct import_request {
	uint8_t *pfx;
	size_t pfx_len;
	const char *password;
	bool exportable;
};

static int import_request(const json_t *body, struct import_request *in, struct pp_error *err)
{
	const char *pfx = NULL;

	memset(in, 0, sizeof(*in));
	if (!json_is_object(body)) {
		pp_error_set(err, HR_E_INVALIDARG, "the body must be a JSON object");
		return -1;
	}
	if (string_field(body, "pfx", SIZE_MAX, &pfx, err) != 0 ||
	    string_field(body, "password", SIGNER_PASSWORD_MAX, &in->password, err) != 0 ||
	    bool_field(body, "exportable", &in->exportable, err) != 0)
		return -1;
	if (pfx == NULL) {
		pp_error_set(err, HR_E_INVALIDARG, "pfx (the PFX file, base64) is required");
		return -1;
	}
	return signstore_base64_decode(pfx, SIGNER_PFX_MAX, "pfx", &in->pfx, &in->pfx_len, err);
}

/* Zeroes the secrets of the request: the PFX we decoded and jansson's copy of the password. */
static void import_request_wipe(struct import_request *in, json_t *body)
{
	json_t *pw = json_object_get(body, "password");

	OPENSSL_clear_free(in->pfx, in->pfx_len);
	if (json_is_string(pw))
		OPENSSL_cleanse((char *)json_string_value(pw), json_string_length(pw));
	memset(in, 0, sizeof(*in));
}

static void on_import(struct httpd_request *req, void *ctx)
{
	struct signstore *st = ctx;
	struct import_request in;
	struct signer_cert c;
	struct pp_error err;
	json_t *body = NULL;
	int rc;

	if (!over_https(req))
		return;
	pp_error_clear(&err);
	if (httpd_request_json(req, &body, &err) != 0)
		return;
	if (import_request(body, &in, &err) != 0) {
		httpd_reply_error(req, 400, "invalid_argument", "%s", err.message);
		import_request_wipe(&in, body);
		json_decref(body);
		return;
	}
	pthread_mutex_lock(&store_lock);
	rc = signstore_register_pfx(st, in.pfx, in.pfx_len, in.password, in.exportable, true, &c,
				    NULL, &err);
	pthread_mutex_unlock(&store_lock);
	import_request_wipe(&in, body);
	json_decref(body);
	if (rc != 0) {
		reply_store_error(req, 422, "import_failed", &err);
		return;
	}
	reply_entry(req, 201, "certificate", &c);
	signer_cert_release(&c);
}

/* ---- DELETE /api/v1/signing-store/{thumbprint} ---- */

static void on_delete(struct httpd_request *req, void *ctx)
{
	struct signstore *st = ctx;
	char tp[PKI_THUMBPRINT_LEN + 1];
	struct pp_error err;
	json_t *body;
	int rc;

	if (!over_https(req))
		return;
	pp_error_clear(&err);
	if (pki_thumbprint_normalize(httpd_request_capture(req, "thumbprint"), tp) != 0) {
		httpd_reply_error(req, 400, "invalid_argument", "thumbprint must be %d hex digits",
				  PKI_THUMBPRINT_LEN);
		return;
	}
	pthread_mutex_lock(&store_lock);
	rc = signstore_remove(st, tp, &err);
	pthread_mutex_unlock(&store_lock);
	if (rc != 0) {
		reply_failure(req, &err);
		return;
	}
	body = json_pack("{s:s}", "deleted", tp);
	if (body == NULL) {
		httpd_reply_error(req, 500, "out_of_memory", "cannot encode the answer");
		return;
	}
	httpd_reply_json(req, 200, body);
	json_decref(body);
}

int sup_api_add_routes(struct httpd *h, struct signstore *local, struct pp_error *err)
{
	if (httpd_route(h, "GET", "/api/v1/signing-store", on_list, local, HTTPD_ADMIN) != 0 ||
	    httpd_route(h, "POST", "/api/v1/signing-store/generate", on_generate, local,
			HTTPD_ADMIN) != 0 ||
	    httpd_route(h, "POST", "/api/v1/signing-store/import", on_import, local, HTTPD_ADMIN) !=
		0 ||
	    httpd_route(h, "DELETE", "/api/v1/signing-store/{thumbprint}", on_delete, local,
			HTTPD_ADMIN) != 0) {
		pp_error_set(err, HR_E_FAIL,
			     "cannot add the signing-store routes (route table full or server "
			     "started)");
		return -1;
	}
	return 0;
}
