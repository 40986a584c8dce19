/* agent_http.c - the agent's HTTP client (see agent_http.h). One libcurl easy handle per client,
 * reset before each request so that no option of one request leaks into the next. */
#include "agent_http.h"

#include "growbuf.h"
#include "hresult.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#ifndef PATCHPOINT_VERSION
#define PATCHPOINT_VERSION "0.1.0"
#endif

struct agent_http {
	char server[AGENT_URL_MAX];
	char ca_bundle[AGENT_PATH_MAX];		   /* "" = the system's */
	char credential[AGENT_CREDENTIAL_MAX + 1]; /* secret; "" = none */
	CURL *curl;
	char curl_error[CURL_ERROR_SIZE];
};

/* Printable ASCII without spaces: what can go into a header unquoted. */
static bool header_safe(const char *s, size_t max)
{
	size_t i;

	if (s[0] == '\0' || strlen(s) > max)
		return false;
	for (i = 0; s[i] != '\0'; i++)
		if (s[i] <= ' ' || s[i] >= 0x7f)
			return false;
	return true;
}

struct agent_http *agent_http_new(const char *server, const char *ca_bundle, struct pp_error *err)
{
	struct agent_http *h = NULL;
	size_t len, scheme;

	if (server == NULL ||
	    (strncmp(server, "http://", 7) != 0 && strncmp(server, "https://", 8) != 0)) {
		pp_error_set(err, HR_E_INVALIDARG,
			     "the server URL '%s' must start with http:// or https://",
			     server != NULL ? server : "");
		goto fail;
	}
	scheme = server[4] == 's' ? 8 : 7;
	len = strlen(server);
	while (len > scheme && server[len - 1] == '/')
		len--;
	/* Half the buffer: the request path and query are appended to it. */
	if (len >= AGENT_URL_MAX / 2 || strcspn(server, " \t\r\n") < len || len == scheme) {
		pp_error_set(err, HR_E_INVALIDARG, "the server URL '%s' is not a valid URL",
			     server);
		goto fail;
	}
	if (ca_bundle != NULL && ca_bundle[0] != '\0') {
		if (strlen(ca_bundle) >= AGENT_PATH_MAX) {
			pp_error_set(err, HR_ERROR_INVALID_NAME, "the CA bundle path is too long");
			goto fail;
		}
		if (access(ca_bundle, R_OK) != 0) {
			pp_error_set_errno(err, errno, "cannot read the CA bundle %s", ca_bundle);
			goto fail;
		}
	}
	h = calloc(1, sizeof(*h));
	if (h == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
		goto fail;
	}
	memcpy(h->server, server, len);
	h->server[len] = '\0';
	if (ca_bundle != NULL)
		(void)snprintf(h->ca_bundle, sizeof(h->ca_bundle), "%s", ca_bundle);
	h->curl = curl_easy_init();
	if (h->curl == NULL) {
		pp_error_set(err, HR_E_FAIL, "cannot start the HTTP client (libcurl)");
		goto fail;
	}
	return h;
fail:
	agent_http_free(h);
	return NULL;
}

void agent_http_free(struct agent_http *h)
{
	if (h == NULL)
		return;
	if (h->curl != NULL)
		curl_easy_cleanup(h->curl);
	OPENSSL_cleanse(h, sizeof(*h));
	free(h);
}

const char *agent_http_server(const struct agent_http *h)
{
	return h->server;
}

int agent_http_set_credential(struct agent_http *h, const char *credential, struct pp_error *err)
{
	OPENSSL_cleanse(h->credential, sizeof(h->credential));
	if (credential == NULL)
		return 0;
	if (!header_safe(credential, AGENT_CREDENTIAL_MAX)) {
		pp_error_set(err, HR_E_INVALIDARG,
			     "the device credential is not a token of at most %d printable "
			     "characters; register the device again",
			     AGENT_CREDENTIAL_MAX);
		return -1;
	}
	memcpy(h->credential, credential, strlen(credential) + 1);
	return 0;
}

void agent_http_response_free(struct agent_http_response *resp)
{
	if (resp == NULL)
		return;
	json_decref(resp->json);
	memset(resp, 0, sizeof(*resp));
}

static int add_header(struct curl_slist **list, const char *header)
{
	struct curl_slist *l = curl_slist_append(*list, header);

	if (l == NULL)
		return -1;
	*list = l;
	return 0;
}

/* The error of a non-2xx answer: the server's {"error":{"code","message"}} when it sent one. */
static void describe_status(const char *url, long status, const json_t *doc, struct pp_error *err)
{
	const json_t *e = json_object_get(doc, "error");
	const char *code = json_string_value(json_object_get(e, "code"));
	const char *message = json_string_value(json_object_get(e, "message"));

	if (message != NULL && message[0] != '\0')
		pp_error_set(err, HR_E_FAIL, "%s (HTTP %ld %s)", message, status,
			     code != NULL && code[0] != '\0' ? code : "error");
	else
		pp_error_set(err, HR_E_FAIL, "%s answered HTTP %ld without an error message", url,
			     status);
}

/* The ETag header of the last answer into out ("" when none or unusable). */
static void read_etag(CURL *curl, char out[AGENT_ETAG_MAX + 1])
{
	struct curl_header *hdr = NULL;

	out[0] = '\0';
	if (curl_easy_header(curl, "ETag", 0, CURLH_HEADER, -1, &hdr) != CURLHE_OK || hdr == NULL ||
	    hdr->value == NULL)
		return;
	/* It goes back into If-None-Match: only what a header can carry. */
	if (!header_safe(hdr->value, AGENT_ETAG_MAX))
		return;
	memcpy(out, hdr->value, strlen(hdr->value) + 1);
}

/* The options every request shares: URL, method, protocols, no redirects, time limits, TLS
 * verification, the bearer credential (with_credential) and headers. */
static void setup(struct agent_http *h, const char *url, const char *method,
		  struct curl_slist *headers, bool with_credential)
{
	curl_easy_reset(h->curl);
	h->curl_error[0] = '\0';
	(void)curl_easy_setopt(h->curl, CURLOPT_URL, url);
	(void)curl_easy_setopt(h->curl, CURLOPT_CUSTOMREQUEST, method);
	(void)curl_easy_setopt(h->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	(void)curl_easy_setopt(h->curl, CURLOPT_FOLLOWLOCATION, 0L);
	(void)curl_easy_setopt(h->curl, CURLOPT_NOSIGNAL, 1L);
	(void)curl_easy_setopt(h->curl, CURLOPT_CONNECTTIMEOUT, AGENT_HTTP_CONNECT_SECS);
	(void)curl_easy_setopt(h->curl, CURLOPT_USERAGENT, "patchpoint-agent/" PATCHPOINT_VERSION);
	(void)curl_easy_setopt(h->curl, CURLOPT_ERRORBUFFER, h->curl_error);
	(void)curl_easy_setopt(h->curl, CURLOPT_SSL_VERIFYPEER, 1L);
	(void)curl_easy_setopt(h->curl, CURLOPT_SSL_VERIFYHOST, 2L);
	if (h->ca_bundle[0] != '\0')
		(void)curl_easy_setopt(h->curl, CURLOPT_CAINFO, h->ca_bundle);
	if (with_credential && h->credential[0] != '\0') {
		/* libcurl keeps a bearer token to this host; it never follows a redirect. */
		(void)curl_easy_setopt(h->curl, CURLOPT_HTTPAUTH, (long)CURLAUTH_BEARER);
		(void)curl_easy_setopt(h->curl, CURLOPT_XOAUTH2_BEARER, h->credential);
	}
	(void)curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, headers);
}

/* A transfer that failed before an answer came, in one line. */
static void describe_transfer(struct agent_http *h, CURLcode cc, struct pp_error *err)
{
	const char *why = h->curl_error[0] != '\0' ? h->curl_error : curl_easy_strerror(cc);

	if (cc == CURLE_PEER_FAILED_VERIFICATION || cc == CURLE_SSL_CACERT_BADFILE)
		pp_error_set(
		    err, HR_E_FAIL,
		    "cannot reach %s: %s (give the CA that issued the server's certificate "
		    "with --ca-bundle FILE)",
		    h->server, why);
	else if (cc == CURLE_OPERATION_TIMEDOUT)
		pp_error_set(err, HR_E_FAIL, "cannot reach %s: no answer in time (%s)", h->server,
			     why);
	else
		pp_error_set(err, HR_E_FAIL, "cannot reach %s: %s", h->server, why);
}

int agent_http_request(struct agent_http *h, const char *method, const char *path,
		       const json_t *body, const char *if_none_match,
		       struct agent_http_response *resp, struct pp_error *err)
{
	struct growbuf buf = {NULL, 0, 0, AGENT_HTTP_MAX_RESPONSE, false};
	struct curl_slist *headers = NULL;
	char url[AGENT_URL_MAX + 512], inm[AGENT_ETAG_MAX + 32];
	char *payload = NULL;
	json_error_t jerr;
	json_t *doc = NULL;
	CURLcode cc;
	long status = 0;
	int n, rc = -1;

	memset(resp, 0, sizeof(*resp));
	n = snprintf(url, sizeof(url), "%s%s", h->server, path);
	if (path[0] != '/' || n < 0 || (size_t)n >= sizeof(url)) {
		pp_error_set(err, HR_E_INVALIDARG, "the request path %s is not valid", path);
		goto out;
	}
	if (body != NULL)
		payload = json_dumps(body, JSON_COMPACT);
	if (add_header(&headers, "Accept: application/json") != 0 ||
	    add_header(&headers, "Expect:") != 0 || (body != NULL && payload == NULL) ||
	    (body != NULL && add_header(&headers, "Content-Type: application/json") != 0)) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory preparing the request to %s",
			     url);
		goto out;
	}
	if (if_none_match != NULL && if_none_match[0] != '\0') {
		if (!header_safe(if_none_match, AGENT_ETAG_MAX)) {
			pp_error_set(err, HR_E_INVALIDARG,
				     "the stored policy version cannot be sent back (not a plain "
				     "ETag)");
			goto out;
		}
		(void)snprintf(inm, sizeof(inm), "If-None-Match: %s", if_none_match);
		if (add_header(&headers, inm) != 0) {
			pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
			goto out;
		}
	}

	setup(h, url, method, headers, true);
	(void)curl_easy_setopt(h->curl, CURLOPT_TIMEOUT, AGENT_HTTP_TIMEOUT_SECS);
	(void)curl_easy_setopt(h->curl, CURLOPT_MAXFILESIZE_LARGE,
			       (curl_off_t)AGENT_HTTP_MAX_RESPONSE);
	(void)curl_easy_setopt(h->curl, CURLOPT_WRITEFUNCTION, growbuf_curl_write);
	(void)curl_easy_setopt(h->curl, CURLOPT_WRITEDATA, &buf);
	if (payload != NULL) {
		(void)curl_easy_setopt(h->curl, CURLOPT_POSTFIELDS, payload);
		(void)curl_easy_setopt(h->curl, CURLOPT_POSTFIELDSIZE_LARGE,
				       (curl_off_t)strlen(payload));
	} else if (strcmp(method, "GET") != 0) {
		(void)curl_easy_setopt(h->curl, CURLOPT_POSTFIELDS, "");
		(void)curl_easy_setopt(h->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
	}

	cc = curl_easy_perform(h->curl);
	if (cc != CURLE_OK) {
		if (buf.too_big || cc == CURLE_FILESIZE_EXCEEDED)
			pp_error_set(err, HR_E_FAIL, "the answer of %s is over %u MiB", url,
				     AGENT_HTTP_MAX_RESPONSE >> 20);
		else
			describe_transfer(h, cc, err);
		goto out;
	}
	(void)curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &status);
	resp->status = status;
	if (buf.len > 0)
		doc = json_loadb(buf.data, buf.len, JSON_REJECT_DUPLICATES, &jerr);
	if (status == 304) {
		rc = 0;
		goto out;
	}
	if (status < 200 || status > 299) {
		describe_status(url, status, doc, err);
		goto out;
	}
	if (!json_is_object(doc)) {
		pp_error_set(err, HR_ERROR_INVALID_DATA,
			     "%s answered HTTP %ld with a body that is not a JSON object%s%s", url,
			     status, doc == NULL && buf.len > 0 ? ": " : "",
			     doc == NULL && buf.len > 0 ? jerr.text : "");
		goto out;
	}
	read_etag(h->curl, resp->etag);
	resp->json = doc;
	doc = NULL;
	rc = 0;
out:
	if (payload != NULL) {
		/* It may hold the enrollment key. */
		OPENSSL_cleanse(payload, strlen(payload));
		free(payload);
	}
	if (buf.data != NULL) {
		/* The registration answer holds the new credential. */
		OPENSSL_cleanse(buf.data, buf.cap);
		free(buf.data);
	}
	curl_slist_free_all(headers);
	json_decref(doc);
	return rc;
}

/* ---- downloads ---- */

#define DOWNLOAD_ERROR_BODY_MAX (64u << 10) /* the JSON error of a refused download */

struct download {
	CURL *curl;
	int fd;
	long status;	 /* of the answer being received, 0 before its first byte */
	uint64_t room;	 /* bytes the file may still take */
	uint64_t offset; /* where the answer's bytes go: 0 for a 200, the resume point for a 206 */
	bool too_big, write_failed;
	int write_errno;
	struct growbuf error_body; /* the body of a non-2xx answer */
};

/* Writes a 200 or 206 answer into the part file (a 200 replaces what was there) and keeps the
 * body of any other answer, bounded, for its error message. */
static size_t on_download(char *ptr, size_t size, size_t nmemb, void *user)
{
	struct download *d = user;
	size_t n = size * nmemb, done = 0;
	ssize_t w;

	if (d->status == 0) {
		(void)curl_easy_getinfo(d->curl, CURLINFO_RESPONSE_CODE, &d->status);
		if (d->status == 200 && d->offset != 0) {
			/* The server sent the whole file: start again from its first byte. */
			if (ftruncate(d->fd, 0) != 0) {
				d->write_failed = true;
				d->write_errno = errno;
				return 0;
			}
			d->room += d->offset;
			d->offset = 0;
		}
	}
	if (d->status != 200 && d->status != 206) {
		if (d->error_body.len + n > d->error_body.max)
			return n; /* the rest of an error page is not needed */
		return growbuf_curl_write(ptr, size, nmemb, &d->error_body);
	}
	if (n > d->room) {
		d->too_big = true;
		return 0;
	}
	while (done < n) {
		w = write(d->fd, ptr + done, n - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			d->write_failed = true;
			d->write_errno = errno;
			return 0;
		}
		done += (size_t)w;
	}
	d->room -= n;
	return n;
}

/* True when the Content-Range of the last answer starts at offset. */
static bool content_range_starts_at(CURL *curl, uint64_t offset)
{
	struct curl_header *hdr = NULL;
	unsigned long long first = 0;

	if (curl_easy_header(curl, "Content-Range", 0, CURLH_HEADER, -1, &hdr) != CURLHE_OK ||
	    hdr == NULL || hdr->value == NULL || sscanf(hdr->value, "bytes %llu-", &first) != 1)
		return false;
	return first == offset;
}

int agent_http_download(struct agent_http *h, const char *path, const char *part_path, uint64_t max,
			struct agent_http_download_result *res, struct pp_error *err)
{
	struct download d;
	struct curl_slist *headers = NULL;
	struct pp_error server_err;
	char url[AGENT_URL_MAX + 512], range[64];
	struct stat st;
	json_error_t jerr;
	json_t *doc = NULL;
	CURLcode cc;
	int n, attempt, rc = -1;

	memset(res, 0, sizeof(*res));
	memset(&d, 0, sizeof(d));
	d.error_body.max = DOWNLOAD_ERROR_BODY_MAX;
	d.fd = -1;
	n = snprintf(url, sizeof(url), "%s%s", h->server, path);
	if (path[0] != '/' || n < 0 || (size_t)n >= sizeof(url)) {
		pp_error_set(err, HR_E_INVALIDARG, "the download path %s is not valid", path);
		goto out;
	}
	d.fd = open(part_path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY,
		    0644);
	if (d.fd < 0 || fstat(d.fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		pp_error_set_errno(err, d.fd < 0 ? errno : EINVAL, "cannot open %s", part_path);
		goto out;
	}
	/* Two attempts: the second asks for the whole file after a resume the server refused. */
	for (attempt = 0; attempt < 2; attempt++) {
		if (fstat(d.fd, &st) != 0) {
			pp_error_set_errno(err, errno, "cannot inspect %s", part_path);
			goto out;
		}
		if ((uint64_t)st.st_size > max) {
			if (ftruncate(d.fd, 0) != 0) {
				pp_error_set_errno(err, errno, "cannot truncate %s", part_path);
				goto out;
			}
			st.st_size = 0;
		}
		d.offset = (uint64_t)st.st_size;
		res->resumed_from = d.offset;
		if (d.offset == max) {
			res->size = max;
			rc = 0; /* complete already (a download cut short before its rename) */
			goto out;
		}
		d.curl = h->curl;
		d.status = 0;
		d.room = max - d.offset;
		d.too_big = d.write_failed = false;
		d.error_body.len = 0;
		curl_slist_free_all(headers);
		headers = NULL;
		(void)snprintf(range, sizeof(range), "Range: bytes=%llu-",
			       (unsigned long long)d.offset);
		if (add_header(&headers, "Accept: */*") != 0 ||
		    (d.offset > 0 && add_header(&headers, range) != 0)) {
			pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory preparing %s", url);
			goto out;
		}
		/* No credential: content is public and signed; a stalled transfer is given up after
		 * AGENT_HTTP_TIMEOUT_SECS below one byte a second, however large the file. */
		setup(h, url, "GET", headers, false);
		(void)curl_easy_setopt(h->curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
		(void)curl_easy_setopt(h->curl, CURLOPT_LOW_SPEED_TIME, AGENT_HTTP_TIMEOUT_SECS);
		(void)curl_easy_setopt(h->curl, CURLOPT_WRITEFUNCTION, on_download);
		(void)curl_easy_setopt(h->curl, CURLOPT_WRITEDATA, &d);
		cc = curl_easy_perform(h->curl);
		if (d.status == 0)
			(void)curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &d.status);
		res->status = d.status;
		if (d.write_failed) {
			pp_error_set_errno(err, d.write_errno, "cannot write %s", part_path);
			goto out;
		}
		if (d.too_big) {
			pp_error_set(err, HR_WU_E_DM_INCORRECTFILEHASH,
				     "%s sends more than the %llu bytes the update's metadata "
				     "gives",
				     url, (unsigned long long)max);
			goto out;
		}
		if (cc != CURLE_OK && d.status != 416) {
			describe_transfer(h, cc, err);
			goto out;
		}
		if (d.status == 416 ||
		    (d.status == 206 && !content_range_starts_at(h->curl, d.offset))) {
			/* Our part is not a prefix the server can continue: start afresh. */
			if (ftruncate(d.fd, 0) != 0) {
				pp_error_set_errno(err, errno, "cannot truncate %s", part_path);
				goto out;
			}
			continue;
		}
		if (d.status != 200 && d.status != 206) {
			pp_error_clear(&server_err);
			json_decref(doc);
			doc = d.error_body.len > 0
				  ? json_loadb(d.error_body.data, d.error_body.len, 0, &jerr)
				  : NULL;
			describe_status(url, d.status, doc, &server_err);
			pp_error_set(err, HR_E_FAIL, "cannot download %s: %s", url,
				     server_err.message);
			goto out;
		}
		if (fsync(d.fd) != 0 || fstat(d.fd, &st) != 0) {
			pp_error_set_errno(err, errno, "cannot write %s", part_path);
			goto out;
		}
		res->size = (uint64_t)st.st_size;
		rc = 0;
		goto out;
	}
	pp_error_set(err, HR_E_FAIL, "%s refuses to resume the download and to send it whole", url);
out:
	if (d.fd >= 0)
		(void)close(d.fd);
	free(d.error_body.data);
	curl_slist_free_all(headers);
	json_decref(doc);
	return rc;
}
