/* cli_api.c - the client of patchpointd's REST API (see cli_api.h). */
#include "cli_api.h"

#include "growbuf.h"
#include "hashworker.h"
#include "hresult.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <ini.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#ifndef PATCHPOINT_VERSION
#define PATCHPOINT_VERSION "0.1.0"
#endif

/* A log chunk is at most 1 MiB of text, which JSON escaping can grow up to six times; a catalog
 * export (GET /api/v1/catalogs/export) is the largest answer: the HP catalog is 16 MB. */
#define API_MAX_RESPONSE (256u << 20)
#define API_CONNECT_SECS 10L
#define API_TIMEOUT_SECS 120L
#define API_CONF_MAX	 (64u << 10)
#define API_URL_MAX	 2048

struct cli_api {
	char *server;	 /* base URL without a trailing slash */
	char *token;	 /* secret: wiped in cli_api_free */
	char *ca_bundle; /* NULL: the system's */
	CURL *curl;
	char curl_error[CURL_ERROR_SIZE];
};

bool cli_api_flag(struct cli_api_flags *flags, int c, const char *arg)
{
	switch (c) {
	case CLI_API_OPT_SERVER:
		flags->server = arg;
		return true;
	case CLI_API_OPT_TOKEN:
		flags->token = arg;
		return true;
	case CLI_API_OPT_TOKEN_FILE:
		flags->token_file = arg;
		return true;
	case CLI_API_OPT_CA_BUNDLE:
		flags->ca_bundle = arg;
		return true;
	default:
		return false;
	}
}

/* ---- cli.conf ---- */

struct api_conf {
	char path[1024];
	bool exists;
	mode_t mode;
	char *server;
	char *token;
	char *ca_bundle;
	char error[300];
	bool failed; /* error holds why; ini_parse_file returns the line */
};

static void conf_clear(struct api_conf *c)
{
	free(c->server);
	if (c->token != NULL)
		OPENSSL_cleanse(c->token, strlen(c->token));
	free(c->token);
	free(c->ca_bundle);
	c->server = c->token = c->ca_bundle = NULL;
}

static int conf_on_value(void *user, const char *section, const char *name, const char *value)
{
	struct api_conf *c = user;
	char **slot;

	if (c->failed)
		return 0;
	if (strcmp(section, "cli") != 0) {
		(void)snprintf(c->error, sizeof(c->error), "unknown section [%s] (only [cli])",
			       section);
		goto bad;
	}
	if (name == NULL)
		return 1;
	if (strcmp(name, "server") == 0)
		slot = &c->server;
	else if (strcmp(name, "token") == 0)
		slot = &c->token;
	else if (strcmp(name, "ca_bundle") == 0)
		slot = &c->ca_bundle;
	else {
		(void)snprintf(c->error, sizeof(c->error),
			       "[cli] %s: unknown key (server, token, ca_bundle)", name);
		goto bad;
	}
	if (*slot != NULL) {
		(void)snprintf(c->error, sizeof(c->error), "[cli] %s: set twice", name);
		goto bad;
	}
	*slot = strdup(value);
	if (*slot == NULL) {
		(void)snprintf(c->error, sizeof(c->error), "out of memory");
		goto bad;
	}
	return 1;
bad:
	c->failed = true;
	return 0;
}

/* Reads cli.conf when there is one. Returns 0 (also without a file) or -1 with err set. */
static int conf_load(struct api_conf *c, struct pp_error *err)
{
	const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
	struct stat st;
	FILE *f = NULL;
	int fd = -1, n, line, rc = -1;

	if (xdg != NULL && xdg[0] == '/') {
		n = snprintf(c->path, sizeof(c->path), "%s/patchpoint/cli.conf", xdg);
	} else {
		if (home == NULL || home[0] == '\0') {
			const struct passwd *pw = getpwuid(getuid());

			home = pw != NULL ? pw->pw_dir : NULL;
		}
		if (home == NULL)
			return 0;
		n = snprintf(c->path, sizeof(c->path), "%s/.config/patchpoint/cli.conf", home);
	}
	if (n < 0 || (size_t)n >= sizeof(c->path))
		return 0;
	fd = open(c->path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		pp_error_set_errno(err, errno, "cannot read %s", c->path);
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > (off_t)API_CONF_MAX) {
		pp_error_set(err, HR_E_FAIL, "%s is not a regular file of at most %u bytes",
			     c->path, API_CONF_MAX);
		goto out;
	}
	c->exists = true;
	c->mode = st.st_mode & 07777;
	f = fdopen(fd, "r");
	if (f == NULL) {
		pp_error_set_errno(err, errno, "cannot read %s", c->path);
		goto out;
	}
	fd = -1;
	line = ini_parse_file(f, conf_on_value, c);
	if (line > 0 && c->failed) {
		pp_error_set(err, HR_E_FAIL, "%s:%d: %s", c->path, line, c->error);
		goto out;
	}
	if (line != 0) {
		pp_error_set(err, HR_E_FAIL, "%s:%d: not a [section] or a 'key = value' line",
			     c->path, line);
		goto out;
	}
	rc = 0;
out:
	if (f != NULL)
		(void)fclose(f);
	if (fd >= 0)
		close(fd);
	return rc;
}

/* ---- resolution ---- */

static const char *first_set(const char *a, const char *b, const char *c)
{
	if (a != NULL && a[0] != '\0')
		return a;
	if (b != NULL && b[0] != '\0')
		return b;
	if (c != NULL && c[0] != '\0')
		return c;
	return NULL;
}

/* A token goes into an HTTP header: printable ASCII without spaces only. */
static bool token_valid(const char *t)
{
	size_t i;

	if (t[0] == '\0' || strlen(t) > CLI_PASSWORD_MAX)
		return false;
	for (i = 0; t[i] != '\0'; i++)
		if (t[i] <= ' ' || t[i] >= 0x7f)
			return false;
	return true;
}

static int server_set(struct cli_api *api, const char *url, const char *origin,
		      struct pp_error *err)
{
	size_t len = strlen(url);

	if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
		pp_error_set(err, HR_E_FAIL,
			     "the server URL '%s' (%s) must start with http:// or https://", url,
			     origin);
		return -1;
	}
	while (len > 0 && url[len - 1] == '/')
		len--;
	if (len >= API_URL_MAX / 2 || strcspn(url, " \t\r\n") < len) {
		pp_error_set(err, HR_E_FAIL, "the server URL (%s) is not a valid URL", origin);
		return -1;
	}
	api->server = strndup(url, len);
	if (api->server == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
		return -1;
	}
	return 0;
}

/* A token must be the admin's alone, as ssh wants of a private key. */
static void refuse_readable(const char *path, mode_t mode, struct pp_error *err)
{
	pp_error_set(err, HR_E_FAIL,
		     "%s holds the admin token but is readable by other users (mode %04o); run "
		     "'chmod 600 %s'",
		     path, (unsigned)(mode & 07777), path);
}

struct cli_api *cli_api_open(struct cli *cli, const char *cmd, const struct cli_api_flags *flags,
			     int *exit_code)
{
	struct api_conf conf;
	struct cli_api *api = NULL;
	struct pp_error err;
	char token[CLI_PASSWORD_MAX + 1];
	struct stat st;
	const char *server, *ca, *tok = NULL, *origin;
	const char *env_server = getenv("PATCHPOINT_SERVER"),
		   *env_token = getenv("PATCHPOINT_TOKEN");

	pp_error_clear(&err);
	memset(&conf, 0, sizeof(conf));
	token[0] = '\0';
	if (flags->token != NULL && flags->token_file != NULL) {
		*exit_code = cli_usage(cmd, "--token and --token-file exclude each other");
		return NULL;
	}
	if (conf_load(&conf, &err) != 0)
		goto fail;
	api = calloc(1, sizeof(*api));
	if (api == NULL) {
		pp_error_set(&err, HR_E_OUTOFMEMORY, "out of memory");
		goto fail;
	}

	server = first_set(flags->server, env_server, conf.server);
	origin = server == NULL		   ? "default"
		 : server == flags->server ? "--server"
		 : server == env_server	   ? "$PATCHPOINT_SERVER"
					   : conf.path;
	if (server_set(api, server != NULL ? server : CLI_API_DEFAULT_SERVER, origin, &err) != 0)
		goto fail;

	ca = first_set(flags->ca_bundle, getenv("PATCHPOINT_CA_BUNDLE"), conf.ca_bundle);
	if (ca != NULL) {
		if (access(ca, R_OK) != 0) {
			pp_error_set_errno(&err, errno, "cannot read the CA bundle %s", ca);
			goto fail;
		}
		api->ca_bundle = strdup(ca);
		if (api->ca_bundle == NULL) {
			pp_error_set(&err, HR_E_OUTOFMEMORY, "out of memory");
			goto fail;
		}
	}

	if (flags->token != NULL) {
		tok = flags->token;
		origin = "--token";
	} else if (flags->token_file != NULL) {
		if (stat(flags->token_file, &st) == 0 && (st.st_mode & 077) != 0) {
			refuse_readable(flags->token_file, st.st_mode, &err);
			goto fail;
		}
		if (cli_read_password(flags->token_file, token, sizeof(token), &err) != 0)
			goto fail;
		tok = token;
		origin = flags->token_file;
	} else if (env_token != NULL && env_token[0] != '\0') {
		tok = env_token;
		origin = "$PATCHPOINT_TOKEN";
	} else if (conf.token != NULL && conf.token[0] != '\0') {
		if ((conf.mode & 077) != 0) {
			refuse_readable(conf.path, conf.mode, &err);
			goto fail;
		}
		tok = conf.token;
		origin = conf.path;
	}
	if (tok == NULL) {
		*exit_code =
		    cli_usage(cmd,
			      "no admin token: give --token TOKEN or --token-file FILE, set "
			      "PATCHPOINT_TOKEN, or put 'token = ...' under [cli] in %s",
			      conf.path[0] != '\0' ? conf.path : "~/.config/patchpoint/cli.conf");
		goto out;
	}
	if (!token_valid(tok)) {
		pp_error_set(&err, HR_E_FAIL,
			     "the admin token from %s is not a token (printable characters, no "
			     "spaces)",
			     origin);
		goto fail;
	}
	api->token = strdup(tok);
	if (api->token == NULL) {
		pp_error_set(&err, HR_E_OUTOFMEMORY, "out of memory");
		goto fail;
	}

	api->curl = curl_easy_init();
	if (api->curl == NULL) {
		pp_error_set(&err, HR_E_FAIL, "cannot start the HTTP client (libcurl)");
		goto fail;
	}
	conf_clear(&conf);
	OPENSSL_cleanse(token, sizeof(token));
	return api;
fail:
	*exit_code = cli_fail(cli, &err);
out:
	conf_clear(&conf);
	OPENSSL_cleanse(token, sizeof(token));
	cli_api_free(api);
	return NULL;
}

void cli_api_free(struct cli_api *api)
{
	if (api == NULL)
		return;
	if (api->token != NULL)
		OPENSSL_cleanse(api->token, strlen(api->token));
	free(api->token);
	free(api->server);
	free(api->ca_bundle);
	if (api->curl != NULL)
		curl_easy_cleanup(api->curl);
	free(api);
}

const char *cli_api_server(const struct cli_api *api)
{
	return api->server;
}

bool cli_api_private_transport(const struct cli_api *api)
{
	static const char *const loopback[] = {"http://127.0.0.1", "http://localhost",
					       "http://[::1]"};
	size_t i, n;
	char next;

	if (strncmp(api->server, "https://", 8) == 0)
		return true;
	for (i = 0; i < sizeof(loopback) / sizeof(loopback[0]); i++) {
		n = strlen(loopback[i]);
		next = api->server[n];
		if (strncasecmp(api->server, loopback[i], n) == 0 &&
		    (next == '\0' || next == ':' || next == '/'))
			return true;
	}
	return false;
}

/* ---- requests ---- */

void cli_api_response_free(struct cli_api_response *resp)
{
	if (resp == NULL)
		return;
	free(resp->body);
	json_decref(resp->json);
	memset(resp, 0, sizeof(*resp));
	resp->error_code = "";
	resp->error_message = "";
}

char *cli_api_escape(const char *seg)
{
	char *e = curl_easy_escape(NULL, seg, 0), *copy;

	if (e == NULL)
		return NULL;
	copy = strdup(e);
	curl_free(e);
	return copy;
}

static void describe_error(const struct cli_api_response *resp, const char *url,
			   struct pp_error *err)
{
	const char *detail =
	    json_string_value(json_object_get(json_object_get(resp->json, "error"), "detail"));

	/* "detail" says why, where the message is a fixed text (11516 of ConfigMgr). */
	if (resp->error_message[0] != '\0')
		pp_error_set(err, HR_E_FAIL, "%s%s%s (HTTP %ld %s)", resp->error_message,
			     detail != NULL ? " " : "", detail != NULL ? detail : "", resp->status,
			     resp->error_code[0] != '\0' ? resp->error_code : "error");
	else
		pp_error_set(err, HR_E_FAIL, "%s answered HTTP %ld without an error message", url,
			     resp->status);
}

static int add_header(struct curl_slist **list, const char *header)
{
	struct curl_slist *l = curl_slist_append(*list, header);

	if (l == NULL)
		return -1;
	*list = l;
	return 0;
}

/* Sends METHOD path with len bytes of data as ctype (data NULL: no body) and reads the answer
 * into resp; see cli_api_request for the results. timeout bounds the whole exchange. */
/* libcurl's largest upload buffer (CURLOPT_UPLOAD_BUFFERSIZE). */
#define API_UPLOAD_BUFFER (2L * 1024 * 1024)

static int api_perform(struct cli_api *api, const char *method, const char *path, const char *ctype,
		       const void *data, size_t len, long timeout, struct cli_api_response *resp,
		       struct pp_error *err)
{
	struct growbuf buf = {NULL, 0, 0, API_MAX_RESPONSE, false};
	struct curl_slist *headers = NULL;
	char url[API_URL_MAX], ctype_header[128];
	const json_t *e;
	CURLcode cc;
	int n, rc = -1;

	memset(resp, 0, sizeof(*resp));
	resp->error_code = "";
	resp->error_message = "";
	n = snprintf(url, sizeof(url), "%s%s", api->server, path);
	if (n < 0 || (size_t)n >= sizeof(url)) {
		pp_error_set(err, HR_E_FAIL, "the request URL is too long");
		return -1;
	}
	n = snprintf(ctype_header, sizeof(ctype_header), "Content-Type: %s",
		     ctype != NULL ? ctype : "application/json");
	if (n < 0 || (size_t)n >= sizeof(ctype_header)) {
		pp_error_set(err, HR_E_FAIL, "the content type is too long");
		return -1;
	}
	/* The body is known in full: no "Expect: 100-continue" round trip before it. */
	if (add_header(&headers, "Accept: application/json") != 0 ||
	    add_header(&headers, "Expect:") != 0 ||
	    (data != NULL && add_header(&headers, ctype_header) != 0)) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
		goto out;
	}

	curl_easy_reset(api->curl);
	api->curl_error[0] = '\0';
	(void)curl_easy_setopt(api->curl, CURLOPT_URL, url);
	(void)curl_easy_setopt(api->curl, CURLOPT_CUSTOMREQUEST, method);
	(void)curl_easy_setopt(api->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	(void)curl_easy_setopt(api->curl, CURLOPT_FOLLOWLOCATION, 0L);
	(void)curl_easy_setopt(api->curl, CURLOPT_NOSIGNAL, 1L);
	(void)curl_easy_setopt(api->curl, CURLOPT_CONNECTTIMEOUT, API_CONNECT_SECS);
	(void)curl_easy_setopt(api->curl, CURLOPT_TIMEOUT, timeout);
	(void)curl_easy_setopt(api->curl, CURLOPT_USERAGENT, "patchpoint/" PATCHPOINT_VERSION);
	(void)curl_easy_setopt(api->curl, CURLOPT_ERRORBUFFER, api->curl_error);
	(void)curl_easy_setopt(api->curl, CURLOPT_SSL_VERIFYPEER, 1L);
	(void)curl_easy_setopt(api->curl, CURLOPT_SSL_VERIFYHOST, 2L);
	if (api->ca_bundle != NULL)
		(void)curl_easy_setopt(api->curl, CURLOPT_CAINFO, api->ca_bundle);
	/* libcurl keeps the bearer token to itself and never sends it on to another host. */
	(void)curl_easy_setopt(api->curl, CURLOPT_HTTPAUTH, (long)CURLAUTH_BEARER);
	(void)curl_easy_setopt(api->curl, CURLOPT_XOAUTH2_BEARER, api->token);
	(void)curl_easy_setopt(api->curl, CURLOPT_HTTPHEADER, headers);
	(void)curl_easy_setopt(api->curl, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)API_MAX_RESPONSE);
	(void)curl_easy_setopt(api->curl, CURLOPT_WRITEFUNCTION, growbuf_curl_write);
	(void)curl_easy_setopt(api->curl, CURLOPT_WRITEDATA, &buf);
	if (data != NULL) {
		(void)curl_easy_setopt(api->curl, CURLOPT_POSTFIELDS, data);
		(void)curl_easy_setopt(api->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
		/* A chunk of megabytes goes out in as few sends as libcurl allows (64 KiB each by
		 * default: over a hundred a chunk, each waiting for the server to read). */
		(void)curl_easy_setopt(api->curl, CURLOPT_UPLOAD_BUFFERSIZE,
				       len >= API_UPLOAD_BUFFER ? API_UPLOAD_BUFFER : 65536L);
	} else if (strcmp(method, "GET") != 0) {
		(void)curl_easy_setopt(api->curl, CURLOPT_POSTFIELDS, "");
		(void)curl_easy_setopt(api->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
	}

	cc = curl_easy_perform(api->curl);
	if (cc != CURLE_OK) {
		if (buf.too_big || cc == CURLE_FILESIZE_EXCEEDED)
			pp_error_set(err, HR_E_FAIL, "the answer of %s is over %u MiB", url,
				     API_MAX_RESPONSE >> 20);
		else if (cc == CURLE_PEER_FAILED_VERIFICATION || cc == CURLE_SSL_CACERT_BADFILE)
			pp_error_set(err, HR_E_FAIL,
				     "cannot reach %s: %s (give the CA that issued the server's "
				     "certificate with --ca-bundle FILE)",
				     api->server,
				     api->curl_error[0] != '\0' ? api->curl_error
								: curl_easy_strerror(cc));
		else
			pp_error_set(err, HR_E_FAIL, "cannot reach %s: %s", api->server,
				     api->curl_error[0] != '\0' ? api->curl_error
								: curl_easy_strerror(cc));
		goto out;
	}
	(void)curl_easy_getinfo(api->curl, CURLINFO_RESPONSE_CODE, &resp->status);
	resp->body = buf.data != NULL ? (unsigned char *)buf.data : (unsigned char *)calloc(1, 1);
	resp->len = buf.len;
	buf.data = NULL;
	if (resp->body == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
		goto out;
	}
	if (resp->len > 0 && (resp->body[0] == '{' || resp->body[0] == '['))
		resp->json = json_loadb((const char *)resp->body, resp->len, 0, NULL);
	e = json_object_get(resp->json, "error");
	if (json_is_object(e)) {
		resp->error_code = cli_json_str(e, "code");
		resp->error_message = cli_json_str(e, "message");
	}
	if (resp->status < 200 || resp->status > 299) {
		describe_error(resp, url, err);
		goto out;
	}
	rc = 0;
out:
	curl_slist_free_all(headers);
	free(buf.data);
	return rc;
}

int cli_api_request(struct cli_api *api, const char *method, const char *path, const json_t *body,
		    struct cli_api_response *resp, struct pp_error *err)
{
	char *payload = NULL;
	int rc;

	if (body != NULL) {
		payload = json_dumps(body, JSON_COMPACT);
		if (payload == NULL) {
			memset(resp, 0, sizeof(*resp));
			resp->error_code = "";
			resp->error_message = "";
			pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
			return -1;
		}
	}
	rc = api_perform(api, method, path, "application/json", payload,
			 payload != NULL ? strlen(payload) : 0, API_TIMEOUT_SECS, resp, err);
	if (payload != NULL) {
		OPENSSL_cleanse(payload, strlen(payload));
		free(payload);
	}
	return rc;
}

json_t *cli_api_call(struct cli_api *api, const char *method, const char *path, const json_t *body,
		     struct pp_error *err)
{
	struct cli_api_response resp;
	json_t *doc = NULL;

	if (cli_api_request(api, method, path, body, &resp, err) == 0) {
		if (json_is_object(resp.json)) {
			doc = resp.json;
			resp.json = NULL;
		} else {
			pp_error_set(err, HR_E_FAIL, "%s%s answered HTTP %ld without a JSON object",
				     api->server, path, resp.status);
		}
	}
	cli_api_response_free(&resp);
	return doc;
}

/* ---- reading records ---- */

const char *cli_json_str(const json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));

	return s != NULL ? s : "";
}

long long cli_json_int(const json_t *obj, const char *key, long long def)
{
	const json_t *v = json_object_get(obj, key);

	return json_is_integer(v) ? (long long)json_integer_value(v) : def;
}

bool cli_json_bool(const json_t *obj, const char *key)
{
	return json_is_true(json_object_get(obj, key));
}

void cli_format_time(long long t, char *out, size_t size)
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (t <= 0 || gmtime_r(&tt, &tm) == NULL ||
	    strftime(out, size, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		(void)snprintf(out, size, "-");
}

int cli_api_read_verb(struct cli *cli, const char *cmd, int argc, char **argv, const char *path,
		      json_t **doc)
{
	enum { OPT_READ_JSON = CLI_API_OPT_CA_BUNDLE + 1 };
	static const struct option options[] = {
	    {"json", no_argument, NULL, OPT_READ_JSON},
	    CLI_API_LONG_OPTIONS,
	    {NULL, 0, NULL, 0},
	};
	struct cli_api_flags flags = {0};
	struct cli_api *api;
	struct pp_error err;
	bool json = false;
	int c, rc = CLI_EXIT_OK;

	*doc = NULL;
	optind = 0;
	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		if (c == OPT_READ_JSON)
			json = true;
		else if (!cli_api_flag(&flags, c, optarg))
			return cli_usage(cmd, "invalid option");
	}
	if (optind != argc)
		return cli_usage(cmd, "unexpected argument '%s'", argv[optind]);
	api = cli_api_open(cli, cmd, &flags, &rc);
	if (api == NULL)
		return rc;
	pp_error_clear(&err);
	*doc = cli_api_call(api, "GET", path, NULL, &err);
	if (*doc == NULL) {
		rc = cli_fail(cli, &err);
	} else if (json) {
		rc = cli_print_json(*doc) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
		*doc = NULL;
	}
	cli_api_free(api);
	return rc;
}

/* ---- resumable uploads (docs/api.md "Uploads") ---- */

#define UPLOAD_HASH_BUF	     (1u << 20)
#define UPLOAD_CHUNK_DEFAULT (4u << 20)
#define UPLOAD_CHUNK_MIN     (64u << 10)
#define UPLOAD_CHUNK_MAX     (8u << 20) /* the server's limit for one chunk */
#define UPLOAD_CHUNK_SECS    600L	/* a last chunk waits while the server hashes the file */
#define UPLOAD_TAIL_MIN	     (1u << 20) /* the smallest of the tapering last chunks */
#define UPLOAD_PAUSE_MS	     250	/* before the first retry; doubled for each next one */
#define UPLOAD_PATH_MAX	     128

/* What the server says of an upload. */
struct upload_state {
	char id[CLI_API_UPLOAD_ID_LEN + 1];
	uint64_t size, received;
	size_t chunk;
	bool complete;
	char sha256[65]; /* "" when the server reports none */
};

static bool lower_hex(const char *s, size_t n)
{
	size_t i;

	if (strlen(s) != n)
		return false;
	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* Reads an upload object of the server, checking what the client relies on. */
static int upload_state_parse(const json_t *doc, struct upload_state *st, struct pp_error *err)
{
	const char *id = cli_json_str(doc, "id"), *sha = cli_json_str(doc, "sha256");
	long long size = cli_json_int(doc, "size", -1),
		  received = cli_json_int(doc, "received", -1);
	long long chunk = cli_json_int(doc, "chunk_size", UPLOAD_CHUNK_DEFAULT);

	memset(st, 0, sizeof(*st));
	if (!lower_hex(id, CLI_API_UPLOAD_ID_LEN) || size < 0 || received < 0 || received > size ||
	    (sha[0] != '\0' && !lower_hex(sha, 64))) {
		pp_error_set(err, HR_E_FAIL, "the server's answer is not an upload");
		return -1;
	}
	memcpy(st->id, id, CLI_API_UPLOAD_ID_LEN + 1);
	(void)snprintf(st->sha256, sizeof(st->sha256), "%s", sha);
	st->size = (uint64_t)size;
	st->received = (uint64_t)received;
	st->complete = cli_json_bool(doc, "complete");
	st->chunk = chunk >= UPLOAD_CHUNK_MIN && chunk <= UPLOAD_CHUNK_MAX ? (size_t)chunk
									   : UPLOAD_CHUNK_DEFAULT;
	return 0;
}

static int upload_get_state(struct cli_api *api, const char *id, struct upload_state *st,
			    struct pp_error *err)
{
	char path[UPLOAD_PATH_MAX];
	json_t *doc;
	int rc;

	(void)snprintf(path, sizeof(path), "/api/v1/uploads/%s", id);
	doc = cli_api_call(api, "GET", path, NULL, err);
	if (doc == NULL)
		return -1;
	rc = upload_state_parse(doc, st, err);
	json_decref(doc);
	return rc;
}

/* Reads exactly len bytes at offset; a file that got shorter is an error. */
static int read_at(int fd, void *buf, size_t len, uint64_t offset, const char *path,
		   struct pp_error *err)
{
	unsigned char *p = buf;

	while (len > 0) {
		ssize_t n = pread(fd, p, len, (off_t)offset);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			pp_error_set_errno(err, errno, "cannot read %s", path);
			return -1;
		}
		if (n == 0) {
			pp_error_set(err, HR_E_FAIL, "%s got shorter while it was being sent",
				     path);
			return -1;
		}
		p += n;
		len -= (size_t)n;
		offset += (uint64_t)n;
	}
	return 0;
}

/* The SHA-256 of the size bytes of fd as lower-case hex. */
static int file_sha256(int fd, uint64_t size, const char *path, bool progress, char hex[65],
		       struct pp_error *err)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char *buf = malloc(UPLOAD_HASH_BUF), digest[32];
	struct cli_progress bar;
	uint64_t off = 0;
	unsigned dlen = 0;
	int rc = -1;

	cli_progress_init(&bar, "Hashing");
	if (md == NULL || buf == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "cannot start SHA-256");
		goto out;
	}
	while (off < size) {
		size_t n = size - off < UPLOAD_HASH_BUF ? (size_t)(size - off) : UPLOAD_HASH_BUF;

		if (read_at(fd, buf, n, off, path, err) != 0)
			goto out;
		if (EVP_DigestUpdate(md, buf, n) != 1) {
			pp_error_set(err, HR_E_FAIL, "SHA-256 failed");
			goto out;
		}
		off += n;
		if (progress)
			cli_progress_update(&bar, off, size);
	}
	if (EVP_DigestFinal_ex(md, digest, &dlen) != 1 || dlen != sizeof(digest)) {
		pp_error_set(err, HR_E_FAIL, "SHA-256 failed");
		goto out;
	}
	cli_hex(digest, sizeof(digest), hex);
	rc = 0;
out:
	cli_progress_end(&bar);
	EVP_MD_CTX_free(md);
	free(buf);
	return rc;
}

static void pause_ms(unsigned ms)
{
	struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* The SHA-256 of the file computed while it is sent: each chunk's new bytes are lent to a hash
 * thread before the chunk goes out, so hashing overlaps the transfer. A chunk buffer is reused
 * only once the thread gave it back. */
struct lent_buffer {
	unsigned char *p;
	bool busy; /* lent to the hash thread */
	pthread_mutex_t lock;
	pthread_cond_t back;
};

struct send_hash {
	struct hashworker *w;
	uint64_t hashed; /* bytes of the file fed so far, from offset 0 */
	bool final;
	char hex[65];
};

static void lent_release(void *ctx, const uint8_t *p, size_t n)
{
	struct lent_buffer *b = ctx;

	(void)p;
	(void)n;
	(void)pthread_mutex_lock(&b->lock);
	b->busy = false;
	(void)pthread_cond_signal(&b->back);
	(void)pthread_mutex_unlock(&b->lock);
}

static void lent_wait(struct lent_buffer *b)
{
	(void)pthread_mutex_lock(&b->lock);
	while (b->busy)
		(void)pthread_cond_wait(&b->back, &b->lock);
	(void)pthread_mutex_unlock(&b->lock);
}

/* Feeds the bytes of [off, off + len) in buf the hash has not seen yet. */
static int send_hash_feed(struct send_hash *h, struct lent_buffer *b, uint64_t off, size_t len,
			  struct pp_error *err)
{
	size_t skip;

	if (h->final || off + len <= h->hashed || off > h->hashed)
		return 0;
	skip = (size_t)(h->hashed - off);
	b->busy = true;
	if (hashworker_lend(h->w, b->p + skip, len - skip, lent_release, b, err) != 0)
		return -1;
	h->hashed = off + len;
	return 0;
}

/* Feeds [h->hashed, upto) read from fd (the part of the file a resumed upload already has). */
static int send_hash_prefix(struct send_hash *h, int fd, uint64_t upto, const char *path,
			    struct pp_error *err)
{
	while (h->hashed < upto) {
		size_t room = 0, n;
		uint8_t *dst = hashworker_reserve(h->w, &room, err);

		if (dst == NULL)
			return -1;
		n = upto - h->hashed < room ? (size_t)(upto - h->hashed) : room;
		if (read_at(fd, dst, n, h->hashed, path, err) != 0 ||
		    hashworker_commit(h->w, n, err) != 0)
			return -1;
		h->hashed += n;
	}
	return 0;
}

static int send_hash_final(struct send_hash *h, struct pp_error *err)
{
	unsigned char digest[32];
	unsigned n = 0;

	if (h->final)
		return 0;
	if (hashworker_final(h->w, digest, &n, err) != 0)
		return -1;
	if (n != sizeof(digest)) {
		pp_error_set(err, HR_E_FAIL, "SHA-256 failed");
		return -1;
	}
	cli_hex(digest, sizeof(digest), h->hex);
	h->final = true;
	return 0;
}

/* The next chunk read on a thread of its own while the current one goes out. */
struct read_ahead {
	pthread_t thread;
	bool started;
	int fd;
	const char *path;
	struct lent_buffer *b; /* into its buffer, once the hash thread gave it back */
	uint64_t off;
	size_t len;
	int rc;
	struct pp_error err;
};

static void *read_ahead_run(void *arg)
{
	struct read_ahead *ra = arg;

	lent_wait(ra->b);
	pp_error_clear(&ra->err);
	ra->rc = read_at(ra->fd, ra->b->p, ra->len, ra->off, ra->path, &ra->err);
	return NULL;
}

static void read_ahead_start(struct read_ahead *ra, int fd, const char *path, struct lent_buffer *b,
			     uint64_t off, size_t len)
{
	ra->fd = fd;
	ra->path = path;
	ra->b = b;
	ra->off = off;
	ra->len = len;
	ra->rc = -1;
	ra->started = pthread_create(&ra->thread, NULL, read_ahead_run, ra) == 0;
}

/* Waits for the read ahead; true when it read [off, off + len) into b. */
static bool read_ahead_take(struct read_ahead *ra, const struct lent_buffer *b, uint64_t off,
			    size_t len)
{
	if (!ra->started)
		return false;
	(void)pthread_join(ra->thread, NULL);
	ra->started = false;
	return ra->rc == 0 && ra->b == b && ra->off == off && ra->len == len;
}

/* The length of the chunk at off: the server's chunk size, then, over the last two of them, half
 * of what is left each time (down to UPLOAD_TAIL_MIN). The server writes and hashes a chunk
 * while the next one travels, so once the last byte is in, what it still has to do is about the
 * last two chunks: smaller ones are done sooner (100 MiB in 8 MiB chunks: 13 chunks and 42 ms
 * from the last byte to the answer; tapered, 16 and 9 ms). */
static size_t chunk_len(const struct upload_state *st, uint64_t off)
{
	uint64_t left = st->size - off, len = st->chunk;

	if (left < 2 * len) {
		len = (left + 1) / 2;
		if (len < UPLOAD_TAIL_MIN)
			len = UPLOAD_TAIL_MIN;
	}
	return (size_t)(left < len ? left : len);
}

/* Sends the chunks of fd from st->received on, each acknowledged before the next, hashing the
 * file as it goes (h) and declaring its SHA-256 with the last chunk; after a transport failure, a
 * 5xx or a 409 it asks the server where the upload stands and goes on from there, at most
 * CLI_API_UPLOAD_RETRIES times in a row. */
static int upload_send(struct cli_api *api, int fd, const char *file, struct upload_state *st,
		       struct send_hash *h, bool progress, struct pp_error *err)
{
	struct cli_api_response resp;
	struct upload_state now;
	struct cli_progress bar;
	struct pp_error e;
	struct lent_buffer buf[2];
	struct read_ahead ahead = {.started = false};
	char path[UPLOAD_PATH_MAX + 80];
	unsigned failures = 0, turn = 0;
	int rc = -1;

	memset(&resp, 0, sizeof(resp));
	memset(buf, 0, sizeof(buf));
	for (int i = 0; i < 2; i++) {
		(void)pthread_mutex_init(&buf[i].lock, NULL);
		(void)pthread_cond_init(&buf[i].back, NULL);
	}
	cli_progress_init(&bar, "Uploading");
	if (send_hash_prefix(h, fd, st->received, file, err) != 0)
		goto out;
	if (!st->complete && st->received < st->size) {
		buf[0].p = malloc(st->chunk);
		buf[1].p = malloc(st->chunk);
		if (buf[0].p == NULL || buf[1].p == NULL) {
			pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
			goto out;
		}
	}
	while (!st->complete && st->received < st->size) {
		size_t len = chunk_len(st, st->received);
		bool last = st->received + len == st->size, retry;
		struct lent_buffer *b = &buf[turn];

		if (!read_ahead_take(&ahead, b, st->received, len)) {
			lent_wait(b);
			if (read_at(fd, b->p, len, st->received, file, err) != 0)
				goto out;
		}
		if (send_hash_feed(h, b, st->received, len, err) != 0 ||
		    (last && send_hash_final(h, err) != 0))
			goto out;
		/* The next chunk is read from the file while this one goes out. */
		if (!last)
			read_ahead_start(&ahead, fd, file, &buf[turn ^ 1u], st->received + len,
					 chunk_len(st, st->received + len));
		(void)snprintf(path, sizeof(path), "/api/v1/uploads/%s?offset=%llu%s%s", st->id,
			       (unsigned long long)st->received, last ? "&sha256=" : "",
			       last ? h->hex : "");
		pp_error_clear(&e);
		cli_api_response_free(&resp);
		if (api_perform(api, "PUT", path, "application/octet-stream", b->p, len,
				UPLOAD_CHUNK_SECS, &resp, &e) == 0 &&
		    upload_state_parse(resp.json, &now, &e) == 0 && now.received > st->received) {
			st->received = now.received;
			st->complete = now.complete;
			memcpy(st->sha256, now.sha256, sizeof(now.sha256));
			failures = 0;
			turn ^= 1u;
			if (progress)
				cli_progress_update(&bar, st->received, st->size);
			continue;
		}
		if (e.code == 0)
			pp_error_set(&e, HR_E_FAIL, "the server did not acknowledge the chunk");
		retry = resp.status == 0 || resp.status >= 500 ||
			(resp.status == 409 && strcmp(resp.error_code, "offset_mismatch") == 0) ||
			(resp.status >= 200 && resp.status < 300);
		if (!retry || ++failures > CLI_API_UPLOAD_RETRIES) {
			pp_error_set(err, e.code, "%s (upload %s of %s: %llu of %llu bytes sent)",
				     e.message, st->id, file, (unsigned long long)st->received,
				     (unsigned long long)st->size);
			goto out;
		}
		pause_ms(UPLOAD_PAUSE_MS << (failures - 1));
		/* Where the upload stands; if the server cannot say, the next PUT tries again. */
		pp_error_clear(&e);
		if (upload_get_state(api, st->id, &now, &e) == 0) {
			if (now.size != st->size) {
				pp_error_set(err, HR_E_FAIL, "upload %s changed size on the server",
					     st->id);
				goto out;
			}
			st->received = now.received;
			st->complete = now.complete;
			memcpy(st->sha256, now.sha256, sizeof(now.sha256));
			if (send_hash_prefix(h, fd, st->received, file, err) != 0)
				goto out;
		}
	}
	if (!st->complete) {
		pp_error_set(err, HR_E_FAIL, "upload %s has all its bytes but is not complete",
			     st->id);
		goto out;
	}
	if (send_hash_prefix(h, fd, st->size, file, err) != 0 || send_hash_final(h, err) != 0)
		goto out;
	if (strcmp(st->sha256, h->hex) != 0) {
		pp_error_set(err, HR_E_FAIL, "upload %s: the server reports SHA-256 %s, not %s",
			     st->id, st->sha256, h->hex);
		goto out;
	}
	rc = 0;
out:
	(void)read_ahead_take(&ahead, NULL, 0, 0);
	cli_progress_end(&bar);
	cli_api_response_free(&resp);
	/* The hash thread gives back what it still holds before the buffers go. */
	hashworker_free(h->w);
	h->w = NULL;
	for (int i = 0; i < 2; i++) {
		free(buf[i].p);
		(void)pthread_mutex_destroy(&buf[i].lock);
		(void)pthread_cond_destroy(&buf[i].back);
	}
	return rc;
}

static int send_hash_init(struct send_hash *h, struct pp_error *err)
{
	memset(h, 0, sizeof(*h));
	h->w = hashworker_new(EVP_sha256(), err);
	return h->w != NULL ? 0 : -1;
}

/* Opens path for reading: a regular file. */
static int upload_open_file(const char *path, uint64_t *size, struct pp_error *err)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0) {
		pp_error_set_errno(err, errno, "cannot read %s", path);
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		pp_error_set(err, HR_E_INVALIDARG, "%s is not a regular file", path);
		(void)close(fd);
		return -1;
	}
	*size = (uint64_t)st.st_size;
	return fd;
}

int cli_api_upload(struct cli_api *api, const char *path, const char *name,
		   char id_out[CLI_API_UPLOAD_ID_LEN + 1], bool progress, struct pp_error *err)
{
	return cli_api_upload_as(api, path, name, false, id_out, progress, err);
}

int cli_api_upload_as(struct cli_api *api, const char *path, const char *name, bool cabinet,
		      char id_out[CLI_API_UPLOAD_ID_LEN + 1], bool progress, struct pp_error *err)
{
	struct upload_state st;
	struct send_hash h;
	json_t *body = NULL, *doc = NULL;
	uint64_t size = 0;
	int fd, rc = -1;

	id_out[0] = '\0';
	fd = upload_open_file(path, &size, err);
	if (fd < 0)
		return -1;
	if (size > (uint64_t)INT64_MAX) {
		pp_error_set(err, HR_E_INVALIDARG, "%s is too large", path);
		goto out;
	}
	if (send_hash_init(&h, err) != 0)
		goto out;
	/* The SHA-256 is declared with the last chunk: the file is read once, hashed as it goes. */
	body = json_pack("{s:I}", "size", (json_int_t)size);
	if (body == NULL ||
	    (name != NULL && json_object_set_new(body, "name", json_string(name)) != 0) ||
	    (cabinet && name != NULL && json_object_set_new(body, "cabinet", json_true()) != 0)) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
		hashworker_free(h.w);
		goto out;
	}
	doc = cli_api_call(api, "POST", "/api/v1/uploads", body, err);
	if (doc == NULL || upload_state_parse(doc, &st, err) != 0) {
		hashworker_free(h.w);
		goto out;
	}
	memcpy(id_out, st.id, CLI_API_UPLOAD_ID_LEN + 1);
	if (upload_send(api, fd, path, &st, &h, progress, err) != 0)
		goto out;
	rc = 0;
out:
	json_decref(body);
	json_decref(doc);
	(void)close(fd);
	return rc;
}

int cli_api_upload_resume(struct cli_api *api, const char *path, const char *id, bool progress,
			  struct pp_error *err)
{
	struct upload_state st;
	struct send_hash h;
	char sha[65];
	uint64_t size = 0;
	int fd, rc = -1;

	if (!lower_hex(id, CLI_API_UPLOAD_ID_LEN)) {
		pp_error_set(err, HR_E_INVALIDARG, "upload id '%s' is not %d lower-case hex digits",
			     id, CLI_API_UPLOAD_ID_LEN);
		return -1;
	}
	fd = upload_open_file(path, &size, err);
	if (fd < 0)
		return -1;
	if (upload_get_state(api, id, &st, err) != 0)
		goto out;
	if (st.size != size) {
		pp_error_set(err, HR_E_INVALIDARG,
			     "upload %s is of %llu bytes, but %s has %llu: not the same file", id,
			     (unsigned long long)st.size, path, (unsigned long long)size);
		goto out;
	}
	/* A digest the server knows already (declared, or complete) is checked before anything is
	 * sent; otherwise the last chunk declares it. */
	if (st.sha256[0] != '\0') {
		if (file_sha256(fd, size, path, progress, sha, err) != 0)
			goto out;
		if (strcmp(sha, st.sha256) != 0) {
			pp_error_set(err, HR_E_INVALIDARG,
				     "upload %s is of another file (SHA-256 %s, %s has %s)", id,
				     st.sha256, path, sha);
			goto out;
		}
	}
	if (send_hash_init(&h, err) != 0)
		goto out;
	if (upload_send(api, fd, path, &st, &h, progress, err) != 0)
		goto out;
	rc = 0;
out:
	(void)close(fd);
	return rc;
}
