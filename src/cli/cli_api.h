/* cli_api.h - the admin commands' client of patchpointd's REST API (docs/api.md) over libcurl.
 *
 * Where the server and the token come from, first found wins:
 *   server:    --server URL, $PATCHPOINT_SERVER, "server" in cli.conf, http://127.0.0.1:8530
 *   token:     --token TOKEN or --token-file FILE, $PATCHPOINT_TOKEN, "token" in cli.conf
 *   CA bundle: --ca-bundle FILE, $PATCHPOINT_CA_BUNDLE, "ca_bundle" in cli.conf
 * cli.conf is $XDG_CONFIG_HOME/patchpoint/cli.conf (default ~/.config/patchpoint/cli.conf), INI
 * with one section [cli]. A token read from a cli.conf or a --token-file that the group or others
 * can read is refused.
 * The token is sent as a bearer token and never printed or logged. */
#ifndef PATCHPOINT_CLI_API_H
#define PATCHPOINT_CLI_API_H

#include "cli.h"

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#define CLI_API_DEFAULT_SERVER "http://127.0.0.1:8530"

/* getopt_long codes of the connection options; every admin verb accepts them. */
enum {
	CLI_API_OPT_SERVER = 0x1000,
	CLI_API_OPT_TOKEN,
	CLI_API_OPT_TOKEN_FILE,
	CLI_API_OPT_CA_BUNDLE,
};

#define CLI_API_OPTION(name, code)                                                                 \
	{                                                                                          \
		name, required_argument, NULL, code                                                \
	}
#define CLI_API_LONG_OPTIONS                                                                       \
	CLI_API_OPTION("server", CLI_API_OPT_SERVER), CLI_API_OPTION("token", CLI_API_OPT_TOKEN),  \
	    CLI_API_OPTION("token-file", CLI_API_OPT_TOKEN_FILE),                                  \
	    CLI_API_OPTION("ca-bundle", CLI_API_OPT_CA_BUNDLE)

/* The OPTIONS lines of the connection options, for the manual pages. */
#define CLI_API_MANUAL_OPTIONS                                                                     \
	"    --server URL          patchpointd's API, http:// or https:// (default\n"              \
	"                          $PATCHPOINT_SERVER, then cli.conf, "                            \
	"then " CLI_API_DEFAULT_SERVER ")\n"                                                       \
	"    --token TOKEN         the admin token 'patchpointd init' printed (default\n"          \
	"                          $PATCHPOINT_TOKEN, then cli.conf); other users can see\n"       \
	"                          command lines, so prefer --token-file or the environment\n"     \
	"    --token-file FILE     read the admin token from the first line of FILE (mode 0600)\n" \
	"    --ca-bundle FILE      CA certificates (PEM) that verify an https:// server\n"         \
	"                          (default $PATCHPOINT_CA_BUNDLE, then cli.conf, then the\n"      \
	"                          system's); the server's name is always verified\n"

/* The FILES section of the manual pages. */
#define CLI_API_MANUAL_FILES                                                                       \
	"FILES\n"                                                                                  \
	"    ~/.config/patchpoint/cli.conf ($XDG_CONFIG_HOME/patchpoint/cli.conf), mode 0600:\n"   \
	"        [cli]\n"                                                                          \
	"        server = https://siteserver.example:8531\n"                                       \
	"        token = <admin token>\n"                                                          \
	"        ca_bundle = /etc/patchpoint/ca.pem\n"

/* The connection options as given on the command line (NULL = not given). */
struct cli_api_flags {
	const char *server;
	const char *token;
	const char *token_file;
	const char *ca_bundle;
};

/* Stores optarg when c is one of the CLI_API_OPT_* codes; returns whether it was. */
bool cli_api_flag(struct cli_api_flags *flags, int c, const char *arg);

struct cli_api;

/* Resolves server, token and CA bundle (see above) and prepares the HTTP client. On failure
 * prints one line on stderr, sets *exit_code (2 when no token was given anywhere, a usage error
 * of command cmd; 1 otherwise) and returns NULL; *exit_code is left alone on success. Free
 * with cli_api_free. */
struct cli_api *cli_api_open(struct cli *cli, const char *cmd, const struct cli_api_flags *flags,
			     int *exit_code) PP_WARN_UNUSED;

/* Wipes the token and frees everything; NULL is a no-op. */
void cli_api_free(struct cli_api *api);

/* The server's base URL, without a trailing slash. */
const char *cli_api_server(const struct cli_api *api);

/* True when what is sent cannot be read on the way: https://, or a loopback host. */
bool cli_api_private_transport(const struct cli_api *api);

/* An answer of the server. */
struct cli_api_response {
	long status;		   /* HTTP status; 0 when no answer came */
	unsigned char *body;	   /* the raw body, NUL-terminated (owned) */
	size_t len;		   /* its length without the NUL */
	json_t *json;		   /* the body parsed, when it is JSON (owned) */
	const char *error_code;	   /* "error"."code" of an error answer, else "" */
	const char *error_message; /* "error"."message" of an error answer, else "" */
};

/* Frees what resp holds and clears it. */
void cli_api_response_free(struct cli_api_response *resp);

/* Sends METHOD path (path is escaped already, see cli_api_escape; it may carry a query) with
 * body as JSON (NULL: no body). Returns 0 for a 2xx answer. Otherwise returns -1 with err set to
 * one line: "cannot reach URL: <curl error>" when no answer came, "<message> (HTTP 409
 * not_top_level)" for an error answer; resp holds whatever answer came. The request body is
 * wiped from memory after sending (it may hold a password or a key). */
int cli_api_request(struct cli_api *api, const char *method, const char *path, const json_t *body,
		    struct cli_api_response *resp, struct pp_error *err) PP_WARN_UNUSED;

/* cli_api_request expecting a JSON object back: returns it (the caller owns it) or NULL with
 * err set, also for a 2xx answer that is not a JSON object. */
json_t *cli_api_call(struct cli_api *api, const char *method, const char *path, const json_t *body,
		     struct pp_error *err) PP_WARN_UNUSED;

/* The read verbs whose only options are --json and the connection options ("site list",
 * "certificates list", "publisher cert show", "publisher status"): parses argv for cmd, GETs path
 * and, with --json, prints the answer. Returns the exit code; *doc is the answer when the caller
 * is to print it as text (it owns it), NULL otherwise. */
int cli_api_read_verb(struct cli *cli, const char *cmd, int argc, char **argv, const char *path,
		      json_t **doc) PP_WARN_UNUSED;

/* ---- resumable uploads (docs/api.md "Uploads") ---- */

#define CLI_API_UPLOAD_ID_LEN  32
#define CLI_API_UPLOAD_RETRIES 5 /* failed chunks in a row before giving up */

/* Uploads the file at path to the server as one resumable upload named name (NULL: none):
 * POST /api/v1/uploads, then PUT chunks of the size the server asks for, each acknowledged
 * before the next. The file is read once: its SHA-256 is computed on a thread while the chunks
 * go out and declared with the last one (?sha256=), so that the server checks the whole file
 * before it calls the upload complete, and the digest the server reports is compared. After a
 * transport failure, a 5xx or a 409 it asks the server (GET) how much it has and goes on from
 * there, at most CLI_API_UPLOAD_RETRIES times in a row with a doubling pause from 250 ms.
 * id_out gets the upload's id as soon as the server made it ("" before), also when a later step
 * fails, so that cli_api_upload_resume can finish it. With progress, a bar on stderr when it is
 * a terminal. On success the upload is complete and its digest is the file's. */
int cli_api_upload(struct cli_api *api, const char *path, const char *name,
		   char id_out[CLI_API_UPLOAD_ID_LEN + 1], bool progress,
		   struct pp_error *err) PP_WARN_UNUSED;

/* As cli_api_upload; with cabinet (and a name), asks for a cabinet upload: a SUP lays the
 * file out as the cabinet it will publish alone, so that publishing only signs it. */
int cli_api_upload_as(struct cli_api *api, const char *path, const char *name, bool cabinet,
		      char id_out[CLI_API_UPLOAD_ID_LEN + 1], bool progress,
		      struct pp_error *err) PP_WARN_UNUSED;

/* Goes on with upload id of the file at path from what the server has (nothing is sent again
 * once acknowledged); refused when the upload's size or SHA-256 is not the file's. */
int cli_api_upload_resume(struct cli_api *api, const char *path, const char *id, bool progress,
			  struct pp_error *err) PP_WARN_UNUSED;

/* seg percent-encoded for a path segment, owned by the caller (free()); NULL when out of
 * memory. */
char *cli_api_escape(const char *seg) PP_WARN_UNUSED;

/* Reading the API's records: a string member or "" when absent, null or not a string; an integer
 * member or def; a boolean member, false when absent. */
const char *cli_json_str(const json_t *obj, const char *key);
long long cli_json_int(const json_t *obj, const char *key, long long def);
bool cli_json_bool(const json_t *obj, const char *key);

/* Unix seconds as "YYYY-MM-DD HH:MM:SS UTC" into out (at least 24 bytes); "-" for 0 or less. */
void cli_format_time(long long t, char *out, size_t size);

#endif
