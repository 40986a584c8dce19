/* signstore_remote.c - the remote backend of the signing store (signstore.h): another
 * `patchpointd --roles sup` reached with libcurl over HTTPS only, its server certificate checked
 * against a CA bundle (DESIGN 5.3); plain http:// is refused before any connection. Also the JSON
 * entry of the wire format and its base64 fields, shared with the SUP's routes (sup_api.c). */
#include "signstore.h"

#include "hresult.h"
#include "pki.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#define REMOTE_URL_MAX		 2048
#define REMOTE_TOKEN_MAX	 4096
#define REMOTE_RESPONSE_MAX	 (16u * 1024u * 1024u) /* 256 entries with their chains fit */
#define REMOTE_CONNECT_TIMEOUT_S 10L
#define REMOTE_TOTAL_TIMEOUT_S	 60L
#define REMOTE_ROUTE_LIST	 "api/v1/signing-store"
#define REMOTE_ROUTE_GENERATE	 "api/v1/signing-store/generate"
#define REMOTE_ROUTE_IMPORT	 "api/v1/signing-store/import"
#define REMOTE_ROUTE_DELETE	 "api/v1/signing-store/"
#define REMOTE_MESSAGE_NO_ANSWER "(no error message)"

/* ---- base64 fields ---- */

char *signstore_base64_encode(const uint8_t *data, size_t len)
{
	size_t n;
	char *out;

	if (len > (size_t)(INT_MAX / 4) * 3)
		return NULL;
	n = (len + 2) / 3 * 4;
	out = malloc(n + 1);
	if (out == NULL)
		return NULL;
	if (EVP_EncodeBlock((unsigned char *)out, data, (int)len) != (int)n) {
		free(out);
		return NULL;
	}
	return out;
}

static int is_base64_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '+' || c == '/';
}

/* The number of '=' at the end of text (n > 0 characters, a multiple of 4), -1 when any other
 * character is outside the alphabet. */
static int base64_padding(const char *text, size_t n)
{
	int pad = 0;
	size_t i;

	if (text[n - 1] == '=')
		pad++;
	if (pad == 1 && text[n - 2] == '=')
		pad++;
	for (i = 0; i < n - (size_t)pad; i++)
		if (!is_base64_char(text[i]))
			return -1;
	return pad;
}

int signstore_base64_decode(const char *text, size_t max, const char *field, uint8_t **out,
			    size_t *out_len, struct pp_error *err)
{
	size_t n = text != NULL ? strlen(text) : 0;
	uint8_t *buf;
	int pad, got;

	*out = NULL;
	*out_len = 0;
	if (n == 0 || n % 4 != 0 || (pad = base64_padding(text, n)) < 0) {
		pp_error_set(err, HR_E_INVALIDARG, "%s is not base64", field);
		return -1;
	}
	if (n / 4 > (max + 2) / 3 || n > INT_MAX || n / 4 * 3 - (size_t)pad > max) {
		pp_error_set(err, HR_E_INVALIDARG, "%s is over %zu bytes", field, max);
		return -1;
	}
	buf = OPENSSL_malloc(n / 4 * 3 + 1);
	if (buf == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory decoding %s", field);
		return -1;
	}
	got = EVP_DecodeBlock(buf, (const unsigned char *)text, (int)n);
	if (got < 0 || (size_t)got != n / 4 * 3) {
		OPENSSL_clear_free(buf, n / 4 * 3 + 1);
		ERR_clear_error();
		pp_error_set(err, HR_E_INVALIDARG, "%s is not base64", field);
		return -1;
	}
	*out = buf;
	*out_len = (size_t)got - (size_t)pad;
	return 0;
}

/* ---- the JSON entry ---- */

/* base64 of the DER of x, malloc'd; NULL when it cannot be encoded. */
static char *cert_base64(X509 *x)
{
	unsigned char *der = NULL;
	int len = i2d_X509(x, &der);
	char *b64;

	if (len <= 0)
		return NULL;
	b64 = signstore_base64_encode(der, (size_t)len);
	OPENSSL_free(der);
	return b64;
}

static json_t *chain_json(STACK_OF(X509) * chain)
{
	json_t *arr = json_array();
	int i;

	for (i = 0; arr != NULL && i < sk_X509_num(chain); i++) {
		char *b64 = cert_base64(sk_X509_value(chain, i));

		if (b64 == NULL || json_array_append_new(arr, json_string(b64)) != 0) {
			json_decref(arr);
			arr = NULL;
		}
		free(b64);
	}
	return arr;
}

json_t *signstore_entry_json(const struct signer_cert *c)
{
	json_t *entry = NULL, *chain;
	char *der = NULL;

	if (c->der == NULL || c->der_len == 0)
		return NULL;
	chain = chain_json(c->chain);
	der = signstore_base64_encode(c->der, c->der_len);
	if (chain != NULL && der != NULL)
		entry = json_pack("{s:s, s:s, s:O, s:b, s:b}", "thumbprint", c->thumbprint, "der",
				  der, "chain", chain, "exportable", (int)c->exportable, "has_key",
				  (int)c->has_key);
	json_decref(chain);
	free(der);
	return entry;
}

/* Decodes one base64 DER certificate that must use all of its bytes. *der (may be NULL) receives
 * the bytes (OPENSSL_free), else they are freed. */
static X509 *parse_cert(const json_t *value, const char *field, uint8_t **der, size_t *der_len,
			struct pp_error *err)
{
	uint8_t *bytes = NULL;
	const unsigned char *p;
	size_t len = 0;
	X509 *x;

	if (!json_is_string(value)) {
		pp_error_set(err, HR_E_INVALIDARG, "bad signing-store entry: %s must be a string",
			     field);
		return NULL;
	}
	if (signstore_base64_decode(json_string_value(value), SIGNER_CERT_MAX, field, &bytes, &len,
				    err) != 0)
		return NULL;
	p = bytes;
	x = d2i_X509(NULL, &p, (long)len);
	if (x == NULL || p != bytes + len) {
		ERR_clear_error();
		X509_free(x);
		OPENSSL_free(bytes);
		pp_error_set(err, HR_E_INVALIDARG,
			     "bad signing-store entry: %s is not a DER certificate", field);
		return NULL;
	}
	if (der != NULL) {
		*der = bytes;
		*der_len = len;
	} else {
		OPENSSL_free(bytes);
	}
	return x;
}

static int parse_chain(const json_t *arr, STACK_OF(X509) * chain, struct pp_error *err)
{
	size_t i;

	if (!json_is_array(arr) || json_array_size(arr) > SIGNER_LIST_MAX) {
		pp_error_set(err, HR_E_INVALIDARG,
			     "bad signing-store entry: chain must be an array of at most %u "
			     "certificates",
			     SIGNER_LIST_MAX);
		return -1;
	}
	for (i = 0; i < json_array_size(arr); i++) {
		X509 *x = parse_cert(json_array_get(arr, i), "chain", NULL, NULL, err);

		if (x == NULL)
			return -1;
		if (sk_X509_push(chain, x) <= 0) {
			X509_free(x);
			pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory reading a chain");
			return -1;
		}
	}
	return 0;
}

static int parse_flag(const json_t *entry, const char *field, bool *out, struct pp_error *err)
{
	const json_t *v = json_object_get(entry, field);

	if (!json_is_boolean(v)) {
		pp_error_set(err, HR_E_INVALIDARG,
			     "bad signing-store entry: %s must be true or false", field);
		return -1;
	}
	*out = json_is_true(v);
	return 0;
}

/* The thumbprint field, which must be the SHA-1 of the certificate already parsed into out. */
static int parse_thumbprint(const json_t *entry, struct signer_cert *out, struct pp_error *err)
{
	const char *tp = json_string_value(json_object_get(entry, "thumbprint"));
	char want[PKI_THUMBPRINT_LEN + 1];

	if (tp == NULL || strlen(tp) != PKI_THUMBPRINT_LEN) {
		pp_error_set(err, HR_E_INVALIDARG,
			     "bad signing-store entry: thumbprint must be %d hex digits",
			     PKI_THUMBPRINT_LEN);
		return -1;
	}
	if (pki_thumbprint(out->cert, want) != 0 || strcmp(want, tp) != 0) {
		pp_error_set(err, HR_E_INVALIDARG,
			     "bad signing-store entry: thumbprint %s is not the SHA-1 of der (%s)",
			     tp, want);
		return -1;
	}
	memcpy(out->thumbprint, want, sizeof(out->thumbprint));
	return 0;
}

int signstore_entry_parse(const json_t *entry, struct signer_cert *out, struct pp_error *err)
{
	int rc = -1;

	memset(out, 0, sizeof(*out));
	out->chain = sk_X509_new_null();
	if (out->chain == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory reading a certificate entry");
		return -1;
	}
	if (!json_is_object(entry)) {
		pp_error_set(err, HR_E_INVALIDARG, "bad signing-store entry: not a JSON object");
		goto out;
	}
	out->cert = parse_cert(json_object_get(entry, "der"), "der", &out->der, &out->der_len, err);
	if (out->cert == NULL || parse_thumbprint(entry, out, err) != 0 ||
	    parse_chain(json_object_get(entry, "chain"), out->chain, err) != 0 ||
	    parse_flag(entry, "exportable", &out->exportable, err) != 0 ||
	    parse_flag(entry, "has_key", &out->has_key, err) != 0)
		goto out;
	rc = 0;
out:
	if (rc != 0)
		signer_cert_release(out);
	return rc;
}

/* ---- the remote backend ---- */

struct remote {
	CURL *curl;
	struct curl_slist *headers; /* holds the bearer token: wiped before it is freed */
	char base[REMOTE_URL_MAX];  /* the SUP's URL with one trailing slash; the "where" */
	char curl_error[CURL_ERROR_SIZE];
};

/* An answer of the SUP: status and body, at most REMOTE_RESPONSE_MAX bytes. */
struct answer {
	long status;
	char *body; /* NUL-terminated */
	size_t len, cap;
	bool too_large;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result = CURLE_FAILED_INIT;

static void curl_init_once(void)
{
	curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* Replaces control characters so that a message from the network stays one line. */
static void one_line(char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = ' ';
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct answer *a = arg;
	size_t n = size * nmemb;
	char *p;

	if (n > REMOTE_RESPONSE_MAX - a->len) {
		a->too_large = true;
		return 0;
	}
	if (a->len + n + 1 > a->cap) {
		size_t cap = a->cap > 0 ? a->cap : 16384;

		while (cap < a->len + n + 1)
			cap *= 2;
		p = realloc(a->body, cap);
		if (p == NULL)
			return 0;
		a->body = p;
		a->cap = cap;
	}
	memcpy(a->body + a->len, data, n);
	a->len += n;
	a->body[a->len] = '\0';
	return n;
}

static void answer_free(struct answer *a)
{
	free(a->body);
	memset(a, 0, sizeof(*a));
}

/* Sets the method and body of the next request on the reused handle. */
static void set_method(struct remote *r, const char *method, const char *body)
{
	if (body != NULL) {
		(void)curl_easy_setopt(r->curl, CURLOPT_POSTFIELDSIZE_LARGE,
				       (curl_off_t)strlen(body));
		(void)curl_easy_setopt(r->curl, CURLOPT_POSTFIELDS, body);
	} else {
		(void)curl_easy_setopt(r->curl, CURLOPT_HTTPGET, 1L);
	}
	(void)curl_easy_setopt(r->curl, CURLOPT_CUSTOMREQUEST,
			       strcmp(method, "DELETE") == 0 ? "DELETE" : NULL);
}

/* Sends method base+route with body (NULL = none) and collects the answer; -1 with E_FAIL naming
 * the URL when no HTTP answer came back (connection, TLS, timeout, oversized answer). */
static int remote_call(struct remote *r, const char *method, const char *route, const char *body,
		       struct answer *a, struct pp_error *err)
{
	char url[REMOTE_URL_MAX + 128];
	CURLcode rc;

	memset(a, 0, sizeof(*a));
	if (snprintf(url, sizeof(url), "%s%s", r->base, route) >= (int)sizeof(url)) {
		pp_error_set(err, HR_E_INVALIDARG, "the URL of %s%s is too long", r->base, route);
		return -1;
	}
	r->curl_error[0] = '\0';
	(void)curl_easy_setopt(r->curl, CURLOPT_URL, url);
	(void)curl_easy_setopt(r->curl, CURLOPT_WRITEDATA, a);
	set_method(r, method, body);
	rc = curl_easy_perform(r->curl);
	if (rc != CURLE_OK) {
		one_line(r->curl_error);
		if (a->too_large)
			pp_error_set(err, HR_E_FAIL, "%s sent an answer over %u bytes", r->base,
				     REMOTE_RESPONSE_MAX);
		else
			pp_error_set(err, HR_E_FAIL, "cannot reach %s: %s", r->base,
				     r->curl_error[0] != '\0' ? r->curl_error
							      : curl_easy_strerror(rc));
		answer_free(a);
		return -1;
	}
	(void)curl_easy_getinfo(r->curl, CURLINFO_RESPONSE_CODE, &a->status);
	return 0;
}

/* The HRESULT of "0x80070056", 0 when text is not one. */
static uint32_t parse_hresult(const char *text)
{
	unsigned long v;
	char *end;

	if (text == NULL || strncmp(text, "0x", 2) != 0)
		return 0;
	errno = 0;
	v = strtoul(text + 2, &end, 16);
	if (errno != 0 || *end != '\0' || end == text + 2 || v > 0xFFFFFFFFul ||
	    !(v & 0x80000000ul))
		return 0;
	return (uint32_t)v;
}

static uint32_t status_hresult(long status, uint32_t not_found)
{
	switch (status) {
	case 400:
		return HR_E_INVALIDARG;
	case 401:
	case 403:
		return HR_E_ACCESSDENIED;
	case 404:
		return not_found;
	default:
		return HR_E_FAIL;
	}
}

/* Records the error of an answer that is not the expected success: the SUP's own message, and for
 * 422 (a refused PFX) the bare reason with the signer's code. not_found is the code for 404. */
static void answer_error(const struct remote *r, const struct answer *a, uint32_t not_found,
			 struct pp_error *err)
{
	json_t *doc = a->body != NULL ? json_loadb(a->body, a->len, 0, NULL) : NULL;
	const json_t *e = json_object_get(doc, "error");
	const char *msg = json_string_value(json_object_get(e, "message"));
	char text[PP_ERROR_MESSAGE_MAX];
	uint32_t code;

	(void)snprintf(text, sizeof(text), "%s", msg != NULL ? msg : REMOTE_MESSAGE_NO_ANSWER);
	one_line(text);
	if (a->status == 422) {
		code = parse_hresult(json_string_value(json_object_get(e, "hresult")));
		pp_error_set(err, code != 0 ? code : HR_E_FAIL, "%s", text);
	} else {
		pp_error_set(err, status_hresult(a->status, not_found), "%s answered %ld: %s",
			     r->base, a->status, text);
	}
	json_decref(doc);
}

/* Calls the route and parses the JSON object of the expected status into *doc (json_decref). */
static int remote_json(struct remote *r, const char *method, const char *route, const char *body,
		       long expect, uint32_t not_found, json_t **doc, struct pp_error *err)
{
	struct answer a;
	json_error_t jerr;
	int rc = -1;

	*doc = NULL;
	if (remote_call(r, method, route, body, &a, err) != 0)
		return -1;
	if (a.status != expect) {
		answer_error(r, &a, not_found, err);
		goto out;
	}
	*doc = json_loadb(a.body != NULL ? a.body : "", a.len, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(*doc)) {
		json_decref(*doc);
		*doc = NULL;
		pp_error_set(err, HR_ERROR_INVALID_DATA, "%s sent malformed JSON: %s", r->base,
			     jerr.text);
		goto out;
	}
	rc = 0;
out:
	answer_free(&a);
	return rc;
}

/* One entry of an answer into out, an error naming the SUP when it is malformed. */
static int answer_entry(const struct remote *r, const json_t *entry, struct signer_cert *out,
			struct pp_error *err)
{
	struct pp_error e;

	pp_error_clear(&e);
	if (signstore_entry_parse(entry, out, &e) == 0)
		return 0;
	pp_error_set(err, e.code, "%s sent a bad certificate entry: %s", r->base, e.message);
	return -1;
}

static int remote_list(void *impl, struct signer_cert **certs, size_t *count, struct pp_error *err)
{
	struct remote *r = impl;
	const json_t *arr;
	json_t *doc;
	size_t i, n;
	int rc = -1;

	if (remote_json(r, "GET", REMOTE_ROUTE_LIST, NULL, 200, HR_E_FAIL, &doc, err) != 0)
		return -1;
	arr = json_object_get(doc, "certificates");
	n = json_array_size(arr);
	if (!json_is_array(arr) || n > SIGNER_LIST_MAX) {
		pp_error_set(err, HR_ERROR_INVALID_DATA,
			     "%s sent no list of at most %u certificates", r->base,
			     SIGNER_LIST_MAX);
		goto out;
	}
	*certs = calloc(n > 0 ? n : 1, sizeof(**certs));
	if (*certs == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (answer_entry(r, json_array_get(arr, i), &(*certs)[i], err) != 0) {
			signer_certs_free(*certs, i);
			*certs = NULL;
			goto out;
		}
	}
	*count = n;
	rc = 0;
out:
	json_decref(doc);
	return rc;
}

/* POSTs body to route and reads {"certificate":entry} of a 201 into out. */
static int remote_post_entry(struct remote *r, const char *route, const char *body,
			     struct signer_cert *out, struct pp_error *err)
{
	json_t *doc;
	int rc;

	memset(out, 0, sizeof(*out));
	if (remote_json(r, "POST", route, body, 201, HR_E_FAIL, &doc, err) != 0)
		return -1;
	rc = answer_entry(r, json_object_get(doc, "certificate"), out, err);
	json_decref(doc);
	return rc;
}

static json_t *generate_body(const struct signer_generate_options *opts)
{
	json_t *body = json_pack("{s:b}", "exportable", (int)opts->exportable);

	if (body == NULL)
		return NULL;
	if ((opts->subject != NULL &&
	     json_object_set_new(body, "subject", json_string(opts->subject)) != 0) ||
	    (opts->days != 0 && json_object_set_new(body, "days", json_integer(opts->days)) != 0) ||
	    (opts->bits != 0 && json_object_set_new(body, "bits", json_integer(opts->bits)) != 0)) {
		json_decref(body);
		return NULL;
	}
	return body;
}

static int remote_generate(void *impl, const struct signer_generate_options *opts,
			   struct signer_cert *out, struct pp_error *err)
{
	struct remote *r = impl;
	json_t *body = generate_body(opts);
	char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (text == NULL)
		pp_error_set(err, HR_E_INVALIDARG,
			     "cannot encode the generate request (is the "
			     "subject UTF-8?)");
	else
		rc = remote_post_entry(r, REMOTE_ROUTE_GENERATE, text, out, err);
	free(text);
	json_decref(body);
	return rc;
}

/* Zeroes the characters of a JSON string in place: jansson keeps its own copy of a secret. */
static void wipe_json_string(json_t *s)
{
	if (json_is_string(s))
		OPENSSL_cleanse((char *)json_string_value(s), json_string_length(s));
}

static json_t *import_body(const uint8_t *pfx, size_t pfx_len, const char *password,
			   bool exportable)
{
	char *b64 = signstore_base64_encode(pfx, pfx_len);
	json_t *body = NULL;

	if (b64 == NULL)
		return NULL;
	body = json_pack("{s:s, s:b}", "pfx", b64, "exportable", (int)exportable);
	if (body != NULL && password != NULL &&
	    json_object_set_new(body, "password", json_string(password)) != 0) {
		json_decref(body);
		body = NULL;
	}
	OPENSSL_cleanse(b64, strlen(b64));
	free(b64);
	return body;
}

static int remote_import(void *impl, const uint8_t *pfx, size_t pfx_len, const char *password,
			 bool exportable, struct signer_cert *out, struct pp_error *err)
{
	struct remote *r = impl;
	json_t *body;
	char *text = NULL;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (pfx_len > SIGNER_PFX_MAX) {
		pp_error_set(err, HR_ERROR_FILE_TOO_LARGE, "the PFX is over %u bytes",
			     SIGNER_PFX_MAX);
		return -1;
	}
	body = import_body(pfx, pfx_len, password, exportable);
	text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
	if (text == NULL)
		pp_error_set(err, HR_E_INVALIDARG,
			     "cannot encode the import request (is the password UTF-8?)");
	else
		rc = remote_post_entry(r, REMOTE_ROUTE_IMPORT, text, out, err);
	if (text != NULL)
		OPENSSL_cleanse(text, strlen(text));
	free(text);
	wipe_json_string(json_object_get(body, "password"));
	wipe_json_string(json_object_get(body, "pfx"));
	json_decref(body);
	return rc;
}

static int remote_remove(void *impl, const char *thumbprint, struct pp_error *err)
{
	struct remote *r = impl;
	char tp[PKI_THUMBPRINT_LEN + 1], route[sizeof(REMOTE_ROUTE_DELETE) + sizeof(tp)];
	const char *deleted;
	json_t *doc;
	int rc = -1;

	if (pki_thumbprint_normalize(thumbprint, tp) != 0) {
		pp_error_set(err, HR_E_INVALIDARG, "a thumbprint is %d hex digits",
			     PKI_THUMBPRINT_LEN);
		return -1;
	}
	(void)snprintf(route, sizeof(route), "%s%s", REMOTE_ROUTE_DELETE, tp);
	if (remote_json(r, "DELETE", route, NULL, 200, HR_CRYPT_E_NOT_FOUND, &doc, err) != 0)
		return -1;
	deleted = json_string_value(json_object_get(doc, "deleted"));
	if (deleted == NULL || strcmp(deleted, tp) != 0)
		pp_error_set(err, HR_ERROR_INVALID_DATA, "%s did not confirm deleting %s", r->base,
			     tp);
	else
		rc = 0;
	json_decref(doc);
	return rc;
}

static void remote_close(void *impl)
{
	struct remote *r = impl;
	struct curl_slist *l;

	if (r == NULL)
		return;
	if (r->curl != NULL)
		curl_easy_cleanup(r->curl);
	for (l = r->headers; l != NULL; l = l->next)
		OPENSSL_cleanse(l->data, strlen(l->data));
	curl_slist_free_all(r->headers);
	free(r);
}

static const struct signstore_ops remote_ops = {
    .list = remote_list,
    .generate = remote_generate,
    .import_pfx = remote_import,
    .remove = remote_remove,
    .close = remote_close,
};

/* ---- construction ---- */

/* Copies an https:// base URL into out with one trailing slash; http:// is E_ACCESSDENIED. */
static int check_base_url(const char *url, char *out, size_t size, struct pp_error *err)
{
	size_t n = url != NULL ? strlen(url) : 0;
	const char *p;

	if (n == 0) {
		pp_error_set(err, HR_E_INVALIDARG, "no URL for the software update point");
		return -1;
	}
	if (strncasecmp(url, "http://", 7) == 0) {
		pp_error_set(err, HR_E_ACCESSDENIED,
			     "refusing %s: the signing store of a software update point is reached "
			     "over HTTPS only",
			     url);
		return -1;
	}
	for (p = url; *p != '\0'; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f || *p == '?' || *p == '#' || *p == '@')
			break;
	if (strncasecmp(url, "https://", 8) != 0 || *p != '\0' || url[8] == '\0' || url[8] == '/' ||
	    n + 2 > size) {
		pp_error_set(err, HR_E_INVALIDARG,
			     "%.256s is not a URL of the form https://HOST:PORT/ (no credentials, "
			     "query or fragment)",
			     url);
		return -1;
	}
	(void)snprintf(out, size, "%s%s", url, url[n - 1] == '/' ? "" : "/");
	return 0;
}

/* The Authorization header list; the token is not repeated in any message. */
static int auth_headers(struct remote *r, const char *token, struct pp_error *err)
{
	char line[REMOTE_TOKEN_MAX + 32];
	struct curl_slist *l;
	const char *p;

	r->headers = curl_slist_append(NULL, "Accept: application/json");
	l = r->headers != NULL ? curl_slist_append(r->headers, "Content-Type: application/json")
			       : NULL;
	l = l != NULL ? curl_slist_append(l, "Expect:") : NULL;
	if (l != NULL && token != NULL) {
		for (p = token; *p != '\0'; p++)
			if ((unsigned char)*p < ' ' || *p == 0x7f)
				break;
		if (*p != '\0' || p == token || strlen(token) > REMOTE_TOKEN_MAX) {
			pp_error_set(err, HR_E_INVALIDARG,
				     "the admin token of %s must be 1 to %d printable characters",
				     r->base, REMOTE_TOKEN_MAX);
			return -1;
		}
		(void)snprintf(line, sizeof(line), "Authorization: Bearer %s", token);
		l = curl_slist_append(l, line);
		OPENSSL_cleanse(line, sizeof(line));
	}
	if (l == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
		return -1;
	}
	return 0;
}

/* The options every request of the handle shares: HTTPS only, verified, bounded in time. */
static int set_curl_options(struct remote *r, const char *ca_bundle, struct pp_error *err)
{
	CURL *c = r->curl;
	int bad = 0;

	bad |= curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https") != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "https") != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2) != CURLE_OK;
	if (ca_bundle != NULL)
		bad |= curl_easy_setopt(c, CURLOPT_CAINFO, ca_bundle) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, REMOTE_CONNECT_TIMEOUT_S) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_TIMEOUT, REMOTE_TOTAL_TIMEOUT_S) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_ERRORBUFFER, r->curl_error) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_HTTPHEADER, r->headers) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_USERAGENT, "patchpointd") != CURLE_OK;
	if (bad) {
		pp_error_set(err, HR_E_FAIL,
			     "libcurl refuses the options of %s (is it built with HTTPS?)",
			     r->base);
		return -1;
	}
	return 0;
}

struct signstore *signstore_remote(const char *base_url, const char *ca_bundle, const char *token,
				   struct pp_error *err)
{
	struct remote *r = calloc(1, sizeof(*r));

	if (r == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
		return NULL;
	}
	if (check_base_url(base_url, r->base, sizeof(r->base), err) != 0)
		goto fail;
	if (ca_bundle != NULL && access(ca_bundle, R_OK) != 0) {
		pp_error_set_errno(err, errno, "cannot read the CA bundle %s for %s", ca_bundle,
				   r->base);
		goto fail;
	}
	(void)pthread_once(&curl_once, curl_init_once);
	r->curl = curl_init_result == CURLE_OK ? curl_easy_init() : NULL;
	if (r->curl == NULL) {
		pp_error_set(err, HR_E_FAIL, "libcurl cannot start a session for %s", r->base);
		goto fail;
	}
	if (auth_headers(r, token, err) != 0 || set_curl_options(r, ca_bundle, err) != 0)
		goto fail;
	return signstore_new(&remote_ops, r, r->base, err);
fail:
	remote_close(r);
	return NULL;
}
