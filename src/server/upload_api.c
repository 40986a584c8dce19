/* upload_api.c - the routes of resumable uploads (upload_api.h, docs/api.md "Uploads"): JSON in
 * and out around upload.h, which keeps the state on disk. */
#include "upload_api.h"

#include "hresult.h"
#include "upload.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define OCTET_STREAM "application/octet-stream"

/* {"id","size","received","chunk_size","complete","cabinet","name"?,"sha256"?,"sha1"?} */
static json_t *upload_json(const struct upload_info *u)
{
	json_t *o = json_pack("{s:s, s:I, s:I, s:I, s:b, s:b}", "id", u->id, "size",
			      (json_int_t)u->size, "received", (json_int_t)u->received,
			      "chunk_size", (json_int_t)UPLOAD_CHUNK_SIZE, "complete", u->complete,
			      "cabinet", u->cabinet);

	if (o == NULL)
		return NULL;
	if ((u->name[0] != '\0' && json_object_set_new(o, "name", json_string(u->name)) != 0) ||
	    (u->sha256[0] != '\0' &&
	     json_object_set_new(o, "sha256", json_string(u->sha256)) != 0) ||
	    (u->sha1[0] != '\0' && json_object_set_new(o, "sha1", json_string(u->sha1)) != 0)) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static void reply_upload(struct httpd_request *req, int status, const struct upload_info *u)
{
	json_t *body = upload_json(u);

	if (body == NULL) {
		httpd_reply_error(req, 500, "out_of_memory", "cannot encode the upload");
		return;
	}
	httpd_reply_json(req, status, body);
	json_decref(body);
}

/* Answers a failure of upload.h with the status its code calls for. */
static void reply_failure(struct httpd_request *req, const struct pp_error *err)
{
	switch (err->code) {
	case UPLOAD_E_BAD_ID:
	case HR_E_INVALIDARG:
		httpd_reply_error(req, 400, "invalid_argument", "%s", err->message);
		return;
	case UPLOAD_E_NOT_FOUND:
		httpd_reply_error(req, 404, "not_found", "%s", err->message);
		return;
	case UPLOAD_E_OFFSET_MISMATCH:
		httpd_reply_error(req, 409, "offset_mismatch", "%s", err->message);
		return;
	case UPLOAD_E_TOO_LARGE:
		httpd_reply_error(req, 400, "size_exceeded", "%s", err->message);
		return;
	case UPLOAD_E_DIGEST_MISMATCH:
		httpd_reply_error(req, 400, "digest_mismatch", "%s", err->message);
		return;
	case UPLOAD_E_NO_SPACE:
		httpd_reply_error(req, 507, "insufficient_storage", "%s", err->message);
		return;
	default:
		httpd_reply_error(req, 500, "internal_error", "%s", err->message);
		return;
	}
}

/* ---- POST /api/v1/uploads ---- */

/* The fields of a create request, pointing into body. */
struct create_request {
	uint64_t size;
	const char *sha256;
	const char *name;
	bool cabinet;
};

static int create_request(json_t *body, struct create_request *in, struct pp_error *err)
{
	static const char *const allowed[] = {"size", "sha256", "name", "cabinet", NULL};
	const json_t *size, *sha, *name, *cabinet, *v;
	const char *key;

	memset(in, 0, sizeof(*in));
	if (!json_is_object(body)) {
		pp_error_set(err, HR_E_INVALIDARG, "the body must be a JSON object");
		return -1;
	}
	json_object_foreach(body, key, v)
	{
		size_t i;

		for (i = 0; allowed[i] != NULL && strcmp(allowed[i], key) != 0; i++)
			;
		if (allowed[i] == NULL) {
			pp_error_set(err, HR_E_INVALIDARG, "unknown field \"%s\"", key);
			return -1;
		}
	}
	size = json_object_get(body, "size");
	if (!json_is_integer(size) || json_integer_value(size) < 0) {
		pp_error_set(err, HR_E_INVALIDARG,
			     "field \"size\" (the file's size in bytes) is required: an integer "
			     "from 0 to %llu",
			     (unsigned long long)UPLOAD_SIZE_MAX);
		return -1;
	}
	in->size = (uint64_t)json_integer_value(size);
	sha = json_object_get(body, "sha256");
	if (sha != NULL && !json_is_null(sha)) {
		if (!json_is_string(sha)) {
			pp_error_set(err, HR_E_INVALIDARG,
				     "field \"sha256\" must be a string of %d hex digits",
				     UPLOAD_SHA256_HEX_LEN);
			return -1;
		}
		in->sha256 = json_string_value(sha);
	}
	name = json_object_get(body, "name");
	if (name != NULL && !json_is_null(name)) {
		/* A NUL inside the string would hide the rest from upload_name_valid. */
		if (!json_is_string(name) ||
		    strlen(json_string_value(name)) != json_string_length(name)) {
			pp_error_set(err, HR_E_INVALIDARG, "field \"name\" must be a file name");
			return -1;
		}
		in->name = json_string_value(name);
	}
	cabinet = json_object_get(body, "cabinet");
	if (cabinet != NULL && !json_is_boolean(cabinet)) {
		pp_error_set(err, HR_E_INVALIDARG, "field \"cabinet\" must be true or false");
		return -1;
	}
	in->cabinet = json_is_true(cabinet);
	if (in->cabinet && in->name == NULL) {
		pp_error_set(err, HR_E_INVALIDARG,
			     "a \"cabinet\" upload needs \"name\", the file's name in the cabinet");
		return -1;
	}
	return 0;
}

/* A cabinet upload when asked for and the SUP can sign a cabinet now, else a plain one (which
 * publishing packs itself). */
static int create_upload(const struct upload_api_options *o, const struct create_request *in,
			 struct upload_info *u, struct pp_error *err)
{
	const char *dir = o->uploads_dir;
	struct pp_error e;
	uint32_t length = 0;

	pp_error_clear(&e);
	if (in->cabinet && o->signature_length != NULL && in->size > 0 &&
	    o->signature_length(o->signature_ctx, &length, &e) == 0)
		return upload_create_cabinet(dir, in->size, in->sha256, in->name, length, u, err);
	return upload_create(dir, in->size, in->sha256, in->name, u, err);
}

static void on_create(struct httpd_request *req, void *ctx)
{
	const char *dir = ((const struct upload_api_options *)ctx)->uploads_dir;
	struct create_request in;
	struct upload_info u;
	struct pp_error err;
	json_t *body = NULL;
	int rc;

	pp_error_clear(&err);
	if (httpd_request_json(req, &body, &err) != 0)
		return;
	if (create_request(body, &in, &err) != 0) {
		json_decref(body);
		httpd_reply_error(req, 400, "invalid_argument", "%s", err.message);
		return;
	}
	/* Abandoned uploads go before a new one counts against the limits. */
	if (upload_expire(dir, UPLOAD_MAX_AGE_DEFAULT, (int64_t)time(NULL), NULL, &err) != 0) {
		json_decref(body);
		reply_failure(req, &err);
		return;
	}
	rc = create_upload(ctx, &in, &u, &err);
	json_decref(body);
	if (rc != 0) {
		reply_failure(req, &err);
		return;
	}
	reply_upload(req, 201, &u);
}

/* ---- PUT /api/v1/uploads/{id}?offset=N[&sha256=HEX] ---- */

/* A decimal offset of at most 20 digits without sign or spaces. */
static int parse_offset(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (s[0] == '\0')
		return -1;
	for (i = 0; s[i] != '\0'; i++) {
		unsigned d;

		if (s[i] < '0' || s[i] > '9')
			return -1;
		d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

static bool is_octet_stream(const char *ctype)
{
	size_t n = strlen(OCTET_STREAM);

	return ctype != NULL && strncasecmp(ctype, OCTET_STREAM, n) == 0 &&
	       (ctype[n] == '\0' || ctype[n] == ';' || ctype[n] == ' ');
}

static void on_append(struct httpd_request *req, void *ctx)
{
	const char *dir = ((const struct upload_api_options *)ctx)->uploads_dir;
	const char *id = httpd_request_capture(req, "id");
	const char *sha256 = NULL;
	char offset_text[24], sha_text[512];
	struct upload_info u;
	struct pp_error err;
	httpd_release_fn release;
	void *release_ctx;
	const struct iovec *iov;
	uint64_t offset;
	size_t iovcnt;

	pp_error_clear(&err);
	if (httpd_request_query(req, "offset", offset_text, sizeof(offset_text)) != 0 ||
	    parse_offset(offset_text, &offset) != 0) {
		httpd_reply_error(req, 400, "invalid_argument",
				  "the query must give offset=N, where the chunk starts (the "
				  "upload's \"received\")");
		return;
	}
	/* The SHA-256 of the whole file, from a client that hashes while it sends. */
	if (httpd_request_query(req, "sha256", sha_text, sizeof(sha_text)) == 0)
		sha256 = sha_text;
	if (!is_octet_stream(httpd_request_header(req, "Content-Type"))) {
		httpd_reply_error(req, 415, "unsupported_media_type",
				  "a chunk must be sent as Content-Type: " OCTET_STREAM);
		return;
	}
	/* The chunk is lent to the upload: a cabinet upload's digests go on after the reply. */
	if (httpd_request_take_body(req, &iov, &iovcnt, &release, &release_ctx) != 0) {
		httpd_reply_error(req, 503, "out_of_memory", "the server is out of memory");
		return;
	}
	if (upload_append_lent(dir, id, offset, iov, iovcnt, sha256, release, release_ctx, &u,
			       &err) != 0) {
		reply_failure(req, &err);
		return;
	}
	reply_upload(req, 200, &u);
}

/* ---- GET and DELETE /api/v1/uploads/{id} ---- */

static void on_get(struct httpd_request *req, void *ctx)
{
	const char *dir = ((const struct upload_api_options *)ctx)->uploads_dir;
	struct upload_info u;
	struct pp_error err;

	pp_error_clear(&err);
	if (upload_get(dir, httpd_request_capture(req, "id"), &u, &err) != 0) {
		reply_failure(req, &err);
		return;
	}
	reply_upload(req, 200, &u);
}

static void on_delete(struct httpd_request *req, void *ctx)
{
	const char *dir = ((const struct upload_api_options *)ctx)->uploads_dir;
	struct pp_error err;

	pp_error_clear(&err);
	if (upload_remove(dir, httpd_request_capture(req, "id"), &err) != 0) {
		reply_failure(req, &err);
		return;
	}
	httpd_reply_status(req, 204);
}

int upload_api_add_routes(struct httpd *h, const struct upload_api_options *opt,
			  struct pp_error *err)
{
	/* The handlers only read the options. */
	void *dir = (void *)opt;
	if (httpd_route(h, "POST", "/api/v1/uploads", on_create, dir, HTTPD_ADMIN) != 0 ||
	    httpd_route(h, "PUT", "/api/v1/uploads/{id}", on_append, dir,
			HTTPD_ADMIN | HTTPD_UPLOAD) != 0 ||
	    httpd_route(h, "GET", "/api/v1/uploads/{id}", on_get, dir, HTTPD_ADMIN) != 0 ||
	    httpd_route(h, "DELETE", "/api/v1/uploads/{id}", on_delete, dir, HTTPD_ADMIN) != 0) {
		pp_error_set(err, HR_E_FAIL,
			     "cannot add the upload routes (route table full or server started)");
		return -1;
	}
	return 0;
}
