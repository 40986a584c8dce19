/* api.h - the REST API of the site role (docs/api.md): sites, the hierarchy's third-party
 * update settings, software update points, synchronizations, Certificates, the publisher's
 * certificate and status, and the logs. Handlers run on the HTTP worker threads; each worker
 * keeps its own database connection in thread-specific data. */
#ifndef PATCHPOINT_API_H
#define PATCHPOINT_API_H

#include "certmgr.h"
#include "content.h"
#include "signer.h"
#include "error.h"
#include "httpd.h"
#include "policycache.h"
#include "srvlog.h"
#include "syncmgr.h"

#include <pthread.h>

#define API_ROLE_SITE 0x1u
#define API_ROLE_SUP  0x2u
#define API_ROLE_MP   0x4u

struct api {
	const char *version;
	const char *db_path;
	const char *log_dir;	  /* for GET /api/v1/logs/{name} */
	unsigned roles;		  /* API_ROLE_* */
	const char *site_code;	  /* the top-level site at start, for /status */
	struct certmgr certmgr;	  /* template: store is filled per request */
	struct syncmgr *syncmgr;  /* NULL without the site role */
	struct srvlog *log;	  /* patchpointd.log */
	struct srvlog *wcm_log;	  /* WCM.log */
	struct srvlog *isv_log;	  /* SMS_ISVUPDATES_SYNCAGENT.log: catalogs and their updates */
	const char *uploads_dir;  /* resumable uploads (upload.h) */
	struct srvlog *sdist_log; /* SoftwareDistribution.log: publishing */
	struct signer *signer;	  /* the sup role's signer process, NULL without it */
	struct content_store *content;	  /* the sup role's WSUSContent, NULL without it */
	struct policycache *policy_cache; /* machine policy answers (made by api_init) */
	/* private */
	bool key_made;
	pthread_key_t store_key;
};

/* Prepares the per-thread connections and the policy cache. */
int api_init(struct api *a, struct pp_error *err) PP_WARN_UNUSED;

/* GET /api/v1/status always; the site routes with the site role. */
int api_add_routes(struct httpd *h, struct api *a, struct pp_error *err) PP_WARN_UNUSED;

/* httpd_options.auth and .log callbacks; ctx is the struct api. */
int api_check_token(void *ctx, const char *token);
void api_http_log(void *ctx, const char *line);

/* ---- for the other route files of the site role (catalog_api.c) ---- */

/* The calling worker's database connection, opened on first use; NULL with err. */
struct store *api_store(struct api *a, struct pp_error *err);

/* Each handler starts the same way: its connection (s), or the reply that there is none (the
 * handler returns). */
#define HANDLER_STORE(a, req, s, err)                                                              \
	do {                                                                                       \
		pp_error_clear(&(err));                                                            \
		(s) = api_store((a), &(err));                                                      \
		if ((s) == NULL) {                                                                 \
			api_reply_failure((a), (req), &(err));                                     \
			return;                                                                    \
		}                                                                                  \
	} while (0)

/* Answers a failure with the status its code calls for (404, 400, 409, ... 500, logged). */
void api_reply_failure(struct api *a, struct httpd_request *req, const struct pp_error *err);

/* Replies status with body and drops the reference; NULL body answers 500 out_of_memory. */
void api_reply_new(struct httpd_request *req, int status, json_t *body);

/* The JSON object body with keys only from allowed (NULL-terminated); NULL once the error reply
 * is sent. */
json_t *api_body_object(struct httpd_request *req, const char *const *allowed);

enum field_kind { FIELD_STRING, FIELD_BOOL, FIELD_INT };

/* An optional field of that kind: 1 present, 0 absent or null, -1 wrong type (reply sent). */
int api_field(struct httpd_request *req, json_t *body, const char *name, enum field_kind kind,
	      json_t **out);

/* Releases what api_init made (after the workers have stopped). */
void api_fini(struct api *a);

#endif
