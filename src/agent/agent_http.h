/* agent_http.h - the agent's HTTP client for the device protocol
 * (docs/internals/device-protocol.md) over libcurl: JSON in and out, a bearer credential,
 * If-None-Match / ETag with 304, bounded answers and time limits. http:// or https:// (the
 * server's certificate and name always verified; a CA bundle can be given).
 *
 * The credential and request bodies (the enrollment key) are never logged or printed, and are
 * wiped from memory once sent. Callers run curl_global_init once before the first client. */
#ifndef PATCHPOINT_AGENT_HTTP_H
#define PATCHPOINT_AGENT_HTTP_H

#include "agent_state.h"
#include "error.h"

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#define AGENT_HTTP_CONNECT_SECS 10L
#define AGENT_HTTP_TIMEOUT_SECS 60L
#define AGENT_HTTP_MAX_RESPONSE (32u << 20)

struct agent_http;

/* A client for the server at base URL server (http:// or https://; trailing slashes dropped).
 * ca_bundle (NULL or "": the system's CAs) must be a readable file. NULL with err set on a bad
 * URL or bundle. Free with agent_http_free. */
struct agent_http *agent_http_new(const char *server, const char *ca_bundle,
				  struct pp_error *err) PP_WARN_UNUSED;

/* Wipes the credential and frees everything; NULL is a no-op. */
void agent_http_free(struct agent_http *h);

/* The base URL, without a trailing slash. */
const char *agent_http_server(const struct agent_http *h);

/* Sends "Authorization: Bearer <credential>" from now on (a copy is kept, wiped on free);
 * NULL stops sending it. Refuses a credential that cannot go into a header. */
int agent_http_set_credential(struct agent_http *h, const char *credential,
			      struct pp_error *err) PP_WARN_UNUSED;

/* An answer. */
struct agent_http_response {
	long status;		       /* 2xx or 304 on success */
	json_t *json;		       /* the body as a JSON object (owned); NULL for a 304 */
	char etag[AGENT_ETAG_MAX + 1]; /* the ETag header as sent, "" when none */
};

/* Frees what resp holds and clears it; safe on a cleared response. */
void agent_http_response_free(struct agent_http_response *resp);

/* METHOD path (path starts with '/') with body as JSON (NULL: none) and, when if_none_match is
 * not NULL or "", "If-None-Match: <if_none_match>". Returns 0 for a 2xx answer whose body is a
 * JSON object, or a 304. Otherwise -1 with one line in err: "cannot reach <server>: <reason>",
 * "<server's message> (HTTP 401 invalid_credential)", or what is wrong with the answer; then
 * resp->status is the status of the answer (0 when none came) and resp->json NULL. The
 * serialized body, and the answer's text, are wiped from memory after use. */
int agent_http_request(struct agent_http *h, const char *method, const char *path,
		       const json_t *body, const char *if_none_match,
		       struct agent_http_response *resp, struct pp_error *err) PP_WARN_UNUSED;

/* What agent_http_download did. */
struct agent_http_download_result {
	uint64_t resumed_from; /* bytes the part file held before (0: the whole file was asked) */
	uint64_t size;	       /* bytes in the part file afterwards */
	long status;	       /* of the last answer; 0 when none came or none was needed */
};

/* Downloads path of the server into part_path without the credential (content is signed and
 * public). When the file already holds n bytes (a download cut short) it asks for the rest with
 * "Range: bytes=n-" and appends a 206; a 200 replaces what was there; a 416, or a 206 that does
 * not continue at n, starts afresh. The file may grow to max bytes (more is an error); a file
 * already of max bytes is not downloaded again. A transfer below one byte a second for
 * AGENT_HTTP_TIMEOUT_SECS is given up. 0 with the file fsync'ed; otherwise -1 with "cannot
 * download <url>: <server's message> (HTTP 503 content_damaged)" or "cannot reach ...", the
 * bytes received so far kept for the next attempt. */
int agent_http_download(struct agent_http *h, const char *path, const char *part_path, uint64_t max,
			struct agent_http_download_result *res,
			struct pp_error *err) PP_WARN_UNUSED;

#endif
