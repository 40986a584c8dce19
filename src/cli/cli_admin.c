/* cli_admin.c - patchpoint site, sup, sync and certificates: the hierarchy, its software update
 * points, synchronization and Administration > Security > Certificates, over patchpointd's REST
 * API (docs/api.md, through cli_api.h). */
#include "cli.h"
#include "cli_api.h"

#include "pki.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ADMIN_EXIT_STATUS                                                                          \
	"EXIT STATUS\n"                                                                            \
	"    0 success, 1 the server refused or could not be reached (one line on stderr with\n"   \
	"    the server's message and HTTP status), 2 usage error (also: no admin token).\n"

/* ---- manuals ---- */

static const char site_list_manual[] =
    "NAME\n"
    "    patchpoint site list - the sites of the hierarchy\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint site list [--json] [connection options]\n"
    "\n"
    "DESCRIPTION\n"
    "    Lists every site, the top-level site first (the central administration site when\n"
    "    there is one, else the standalone primary site): its code, its type, the code of\n"
    "    its parent site ('-' for the top-level site) and its name.\n"
    "\n"
    "OPTIONS\n"
    "    --json                print the server's answer {\"sites\":[...]} as "
    "JSON\n" CLI_API_MANUAL_OPTIONS "\n" ADMIN_EXIT_STATUS "\n" CLI_API_MANUAL_FILES;

static const char site_add_manual[] =
    "NAME\n"
    "    patchpoint site add - add a site to the hierarchy\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint site add CODE --name NAME [--parent CODE | --cas] [--json]\n"
    "                        [connection options]\n"
    "\n"
    "DESCRIPTION\n"
    "    Adds a primary site CODE (three letters or digits, such as PP2) under the site\n"
    "    --parent, or, with --cas, a central administration site above the current top-level\n"
    "    site, which then becomes its child. The Third-Party Updates settings exist once per\n"
    "    hierarchy, on its top-level site.\n"
    "\n"
    "OPTIONS\n"
    "    --name NAME           the site's display name (required)\n"
    "    --parent CODE         the parent site of a primary site\n"
    "    --cas                 add a central administration site at the top\n"
    "    --json                print the site the server created as JSON\n" CLI_API_MANUAL_OPTIONS
    "\n" ADMIN_EXIT_STATUS
    "    The server answers 409 already_exists for a code in use, 404 for an\n"
    "    unknown parent.\n"
    "\n" CLI_API_MANUAL_FILES;

static const char site_show_manual[] =
    "NAME\n"
    "    patchpoint site show - one site and its software update points\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint site show CODE [--json] [connection options]\n"
    "\n"
    "DESCRIPTION\n"
    "    Prints the site's code, name, type, parent and creation time, then one line per\n"
    "    software update point of the site: id, URL, local or remote, and whether it is the\n"
    "    synchronization source.\n"
    "\n"
    "OPTIONS\n"
    "    --json                print the site as JSON\n" CLI_API_MANUAL_OPTIONS
    "\n" ADMIN_EXIT_STATUS "\n" CLI_API_MANUAL_FILES;

static const char sup_list_manual[] =
    "NAME\n"
    "    patchpoint sup list - the software update points\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint sup list [--site CODE] [--json] [connection options]\n"
    "\n"
    "DESCRIPTION\n"
    "    Lists the software update points (SUPs) of every site, or of one site: id, site,\n"
    "    local or remote, whether it is the synchronization source, and URL.\n"
    "\n"
    "OPTIONS\n"
    "    --site CODE           only the SUPs of this site\n"
    "    --json                print the SUPs as JSON {\"sups\":[...]}\n" CLI_API_MANUAL_OPTIONS
    "\n" ADMIN_EXIT_STATUS "\n" CLI_API_MANUAL_FILES;

static const char sup_show_manual[] =
    "NAME\n"
    "    patchpoint sup show - one software update point\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint sup show ID [--json] [connection options]\n"
    "\n"
    "DESCRIPTION\n"
    "    Prints the id, site, URL, location (local or remote), whether it is the\n"
    "    synchronization source, and the creation time of software update point ID.\n"
    "\n"
    "OPTIONS\n"
    "    --json                print the SUP as JSON\n" CLI_API_MANUAL_OPTIONS
    "\n" ADMIN_EXIT_STATUS "\n" CLI_API_MANUAL_FILES;

static const char sup_add_manual[] =
    "NAME\n"
    "    patchpoint sup add - add a software update point to a site\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint sup add --url URL [--remote] [--site CODE] [--sync-source] [--json]\n"
    "                       [connection options]\n"
    "\n"
    "DESCRIPTION\n"
    "    Adds the software update point (SUP) at URL (http:// or https://) to a site, by\n"
    "    default the top-level site. A local SUP runs in the site server's own patchpointd; a\n"
    "    remote one is another patchpointd (--roles sup). The top-level site's SUP holds the\n"
    "    signing store; the site server reaches a remote one's only over HTTPS.\n"
    "\n"
    "OPTIONS\n"
    "    --url URL             the SUP's URL (required)\n"
    "    --remote              the SUP runs on another host (default: local)\n"
    "    --site CODE           the site (default: the top-level site)\n"
    "    --sync-source         make it the site's synchronization source, taking over from\n"
    "                          the current one (which stays, without the role); on the\n"
    "                          top-level site that moves the signing store to this SUP\n"
    "    --json                print the SUP the server created as JSON\n" CLI_API_MANUAL_OPTIONS
    "\n" ADMIN_EXIT_STATUS
    "    The server answers 409 already_exists for a URL already added to the site.\n"
    "\n" CLI_API_MANUAL_FILES;

static const char sup_set_manual[] =
    "NAME\n"
    "    patchpoint sup set - the Third-Party Updates settings of the SUP component\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint sup set [--site CODE] [--third-party on|off]\n"
    "                       [--cert-mode managed|manual] [--json] [connection options]\n"
    "\n"
    "DESCRIPTION\n"
    "    Changes \"Enable third-party software updates\" and the certificate mode of the\n"
    "    hierarchy, kept on its top-level site; a setting not given keeps its value. With\n"
    "    'managed', every synchronization generates or imports the signing certificate;\n"
    "    with 'manual' an administrator provides it ('patchpoint publisher cert create' or\n"
    "    'import'). The server logs the change in WCM.log. Prints the settings as they are\n"
    "    afterwards.\n"
    "\n"
    "OPTIONS\n"
    "    --site CODE           the site (default: the top-level site); a child site is\n"
    "                          refused with the name of the top-level site\n"
    "    --third-party on|off  Enable third-party software updates\n"
    "    --cert-mode managed|manual\n"
    "                          who provides the signing certificate\n"
    "    --json                print the settings as JSON\n" CLI_API_MANUAL_OPTIONS "\n"
    "    At least one of --third-party and --cert-mode is required.\n"
    "\n" ADMIN_EXIT_STATUS "\n" CLI_API_MANUAL_FILES;

static const char sync_manual[] =
    "NAME\n"
    "    patchpoint sync - synchronize software updates\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint sync [--wait] [--timeout SECONDS] [--json] [connection options]\n"
    "\n"
    "DESCRIPTION\n"
    "    Starts a synchronization (the console's \"Synchronize Software Updates\") and prints\n"
    "    \"Synchronization N started\", or \"Synchronization N is already running\" when one\n"
    "    runs (there is one at a time). When third-party updates are enabled, the sync runs\n"
    "    the certificate step; the trail is in wsyncmgr.log ('patchpoint log wsyncmgr').\n"
    "    With --wait, polls the synchronization every half second until it ends and prints\n"
    "    \"Synchronization N succeeded\" or \"Synchronization N failed: <error>\".\n"
    "\n"
    "OPTIONS\n"
    "    --wait                wait for the synchronization to end\n"
    "    --timeout SECONDS     with --wait, give up after SECONDS (default 600)\n"
    "    --json                print the synchronization as JSON (its final state with\n"
    "                          --wait)\n" CLI_API_MANUAL_OPTIONS "\n"
    "EXIT STATUS\n"
    "    0 started (or, with --wait, succeeded), 1 failed, still running at the timeout, or\n"
    "    the server refused or could not be reached, 2 usage error.\n"
    "\n" CLI_API_MANUAL_FILES;

static const char certs_list_manual[] =
    "NAME\n"
    "    patchpoint certificates list - Administration > Security > Certificates\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint certificates list [--json] [connection options]\n"
    "\n"
    "DESCRIPTION\n"
    "    Lists the certificates the site knows: every signing certificate ever registered\n"
    "    (they stay, so that content signed with them keeps verifying, until blocked), with\n"
    "    thumbprint, type (Third-party WSUS Signing, ...), whether blocked, expiry date and\n"
    "    subject.\n"
    "\n"
    "OPTIONS\n"
    "    --json                print {\"certificates\":[...]} as JSON\n" CLI_API_MANUAL_OPTIONS
    "\n" ADMIN_EXIT_STATUS "\n" CLI_API_MANUAL_FILES;

static const char certs_show_manual[] =
    "NAME\n"
    "    patchpoint certificates show - one row of Certificates\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint certificates show THUMBPRINT [--json] [connection options]\n"
    "\n"
    "DESCRIPTION\n"
    "    Prints the thumbprint, type, subject, validity, whether the certificate is blocked\n"
    "    and when it was added. THUMBPRINT is the SHA-1 thumbprint, 40 hex digits (spaces,\n"
    "    colons and lower case are accepted).\n"
    "\n"
    "OPTIONS\n"
    "    --json                print the certificate as JSON\n" CLI_API_MANUAL_OPTIONS
    "\n" ADMIN_EXIT_STATUS "\n" CLI_API_MANUAL_FILES;

static const char certs_block_manual[] =
    "NAME\n"
    "    patchpoint certificates block - block a certificate\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint certificates block THUMBPRINT [--json] [connection options]\n"
    "\n"
    "DESCRIPTION\n"
    "    Blocks the certificate: clients remove a blocked managed certificate from their\n"
    "    stores at their next machine policy evaluation, and content signed with it stops\n"
    "    being trusted there. 'certificates unblock' undoes it.\n"
    "\n"
    "OPTIONS\n"
    "    --json                print the certificate as JSON\n" CLI_API_MANUAL_OPTIONS
    "\n" ADMIN_EXIT_STATUS "\n" CLI_API_MANUAL_FILES;

static const char certs_unblock_manual[] =
    "NAME\n"
    "    patchpoint certificates unblock - unblock a certificate\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint certificates unblock THUMBPRINT [--json] [connection options]\n"
    "\n"
    "DESCRIPTION\n"
    "    Unblocks a certificate blocked with 'certificates block'; clients receive it again\n"
    "    at their next machine policy evaluation.\n"
    "\n"
    "OPTIONS\n"
    "    --json                print the certificate as JSON\n" CLI_API_MANUAL_OPTIONS
    "\n" ADMIN_EXIT_STATUS "\n" CLI_API_MANUAL_FILES;

static const char certs_approve_manual[] =
    "NAME\n"
    "    patchpoint certificates approve - approve a vendor's content signing certificate\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint certificates approve THUMBPRINT [--json] [connection options]\n"
    "\n"
    "DESCRIPTION\n"
    "    The first time a vendor's signed content is published, its signer is added to\n"
    "    Certificates as a Third-party Software Updates Content certificate, unapproved, and\n"
    "    the publish is refused. Approving it lets content it signed be published; blocking\n"
    "    it ('certificates block') refuses that content again.\n"
    "\n"
    "OPTIONS\n"
    "    --json                print the certificate as JSON\n" CLI_API_MANUAL_OPTIONS
    "\n" ADMIN_EXIT_STATUS "\n" CLI_API_MANUAL_FILES;

enum {
	OPT_JSON = 256,
	OPT_NAME,
	OPT_PARENT,
	OPT_CAS,
	OPT_SITE,
	OPT_URL,
	OPT_REMOTE,
	OPT_SYNC_SOURCE,
	OPT_THIRD_PARTY,
	OPT_CERT_MODE,
	OPT_WAIT,
	OPT_TIMEOUT,
};

static const char *yes_no(bool b)
{
	return b ? "Yes" : "No";
}

/* A record of an answer: {"<key>":{...}} or, when the server answers the record itself, the
 * document. */
static const json_t *record(const json_t *doc, const char *key)
{
	const json_t *r = json_object_get(doc, key);

	return json_is_object(r) ? r : doc;
}

/* Prints doc (an answer) as JSON and frees it. */
static int print_json_answer(json_t *doc)
{
	return cli_print_json(doc) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}

/* Runs one request expecting a JSON object back, in *out (the caller owns it); on failure prints
 * the one-line error and returns CLI_EXIT_FAIL. */
static int admin_call(struct cli *cli, struct cli_api *api, const char *method, const char *path,
		      const json_t *body, json_t **out)
{
	struct pp_error err;

	pp_error_clear(&err);
	*out = cli_api_call(api, method, path, body, &err);
	if (*out == NULL)
		return cli_fail(cli, &err);
	return CLI_EXIT_OK;
}

/* ---- site ---- */

static const char *site_type(const json_t *site)
{
	return cli_json_bool(site, "is_cas") ? "Central administration site" : "Primary site";
}

static const char *parent_of(const json_t *site)
{
	const char *p = cli_json_str(site, "parent_code");

	return p[0] != '\0' ? p : "-";
}

static int site_list(struct cli *cli, int argc, char **argv)
{
	const json_t *s;
	json_t *doc = NULL;
	size_t i;
	int rc = cli_api_read_verb(cli, "site list", argc, argv, "/api/v1/sites", &doc);

	if (doc == NULL)
		return rc;
	printf("%-6s %-28s %-7s %s\n", "Code", "Type", "Parent", "Name");
	json_array_foreach(json_object_get(doc, "sites"), i, s)
	{
		printf("%-6s %-28s %-7s %s\n", cli_json_str(s, "code"), site_type(s), parent_of(s),
		       cli_json_str(s, "name"));
	}
	json_decref(doc);
	return rc;
}

static int site_add(struct cli *cli, int argc, char **argv)
{
	static const struct option options[] = {
	    {"name", required_argument, NULL, OPT_NAME},
	    {"parent", required_argument, NULL, OPT_PARENT},
	    {"cas", no_argument, NULL, OPT_CAS},
	    {"json", no_argument, NULL, OPT_JSON},
	    CLI_API_LONG_OPTIONS,
	    {NULL, 0, NULL, 0},
	};
	struct cli_api_flags flags = {0};
	struct cli_api *api = NULL;
	const char *name = NULL, *parent = NULL;
	json_t *body = NULL, *doc = NULL;
	const json_t *site;
	bool json = false, cas = false;
	int c, rc;

	optind = 0;
	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (c) {
		case OPT_NAME:
			name = optarg;
			break;
		case OPT_PARENT:
			parent = optarg;
			break;
		case OPT_CAS:
			cas = true;
			break;
		case OPT_JSON:
			json = true;
			break;
		default:
			if (!cli_api_flag(&flags, c, optarg))
				return cli_usage("site add", "invalid option");
		}
	}
	if (argc - optind != 1)
		return cli_usage("site add", "expected one site CODE");
	if (name == NULL || name[0] == '\0')
		return cli_usage("site add", "--name NAME is required");
	if (cas && parent != NULL)
		return cli_usage("site add", "--parent and --cas exclude each other");
	api = cli_api_open(cli, "site add", &flags, &rc);
	if (api == NULL)
		return rc;
	body = json_pack("{s:s, s:s}", "code", argv[optind], "name", name);
	if (body == NULL ||
	    (parent != NULL &&
	     json_object_set_new(body, "parent_code", json_string(parent)) != 0) ||
	    (cas && json_object_set_new(body, "cas", json_true()) != 0)) {
		rc = cli_failf(cli, "out of memory");
		goto out;
	}
	rc = admin_call(cli, api, "POST", "/api/v1/sites", body, &doc);
	if (rc != CLI_EXIT_OK)
		goto out;
	cli_log(cli, CMTRACE_INFO, "Added site %s", argv[optind]);
	if (json) {
		rc = print_json_answer(doc);
		doc = NULL;
		goto out;
	}
	site = record(doc, "site");
	if (cli_json_str(site, "parent_code")[0] != '\0')
		printf("Added site %s: %s under %s\n", cli_json_str(site, "code"), site_type(site),
		       cli_json_str(site, "parent_code"));
	else
		printf("Added site %s: %s\n", cli_json_str(site, "code"), site_type(site));
out:
	json_decref(body);
	json_decref(doc);
	cli_api_free(api);
	return rc;
}

static void print_sup_line(const json_t *sup)
{
	printf("%-4lld %-6s %-8s %-11s %s\n", cli_json_int(sup, "id", 0),
	       cli_json_str(sup, "site_code"), cli_json_str(sup, "location"),
	       yes_no(cli_json_bool(sup, "sync_source")), cli_json_str(sup, "url"));
}

static void print_sup_header(void)
{
	printf("%-4s %-6s %-8s %-11s %s\n", "ID", "Site", "Location", "Sync source", "URL");
}

static int site_show(struct cli *cli, int argc, char **argv)
{
	static const struct option options[] = {
	    {"json", no_argument, NULL, OPT_JSON},
	    CLI_API_LONG_OPTIONS,
	    {NULL, 0, NULL, 0},
	};
	struct cli_api_flags flags = {0};
	struct cli_api *api = NULL;
	json_t *doc = NULL;
	const json_t *site, *sups, *s;
	char path[256], created[32], *code = NULL;
	bool json = false;
	size_t i;
	int c, rc;

	optind = 0;
	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		if (c == OPT_JSON)
			json = true;
		else if (!cli_api_flag(&flags, c, optarg))
			return cli_usage("site show", "invalid option");
	}
	if (argc - optind != 1)
		return cli_usage("site show", "expected one site CODE");
	api = cli_api_open(cli, "site show", &flags, &rc);
	if (api == NULL)
		return rc;
	code = cli_api_escape(argv[optind]);
	if (code == NULL ||
	    snprintf(path, sizeof(path), "/api/v1/sites/%s", code) >= (int)sizeof(path)) {
		rc = cli_failf(cli, "site code '%s' is too long", argv[optind]);
		goto out;
	}
	rc = admin_call(cli, api, "GET", path, NULL, &doc);
	if (rc != CLI_EXIT_OK)
		goto out;
	if (json) {
		rc = print_json_answer(doc);
		doc = NULL;
		goto out;
	}
	site = record(doc, "site");
	sups = json_object_get(site, "sups");
	if (sups == NULL)
		sups = json_object_get(doc, "sups");
	cli_format_time(cli_json_int(site, "created_at", 0), created, sizeof(created));
	printf("Code: %s\n", cli_json_str(site, "code"));
	printf("Name: %s\n", cli_json_str(site, "name"));
	printf("Type: %s\n", site_type(site));
	printf("Parent: %s\n", parent_of(site));
	printf("Created: %s\n", created);
	printf("Software update points: %zu\n", json_array_size(sups));
	if (json_array_size(sups) > 0) {
		print_sup_header();
		json_array_foreach(sups, i, s)
		{
			print_sup_line(s);
		}
	}
out:
	free(code);
	json_decref(doc);
	cli_api_free(api);
	return rc;
}

int cli_site(struct cli *cli, int argc, char **argv)
{
	static const struct cli_verb verbs[] = {
	    {"list", "the sites of the hierarchy", site_list_manual, site_list},
	    {"add", "add a primary site or a central administration site", site_add_manual,
	     site_add},
	    {"show", "one site and its software update points", site_show_manual, site_show},
	};

	return cli_dispatch(cli, "site", verbs, sizeof(verbs) / sizeof(verbs[0]), argc - 1,
			    argv + 1);
}

/* ---- sup ---- */

static int sup_list(struct cli *cli, int argc, char **argv)
{
	static const struct option options[] = {
	    {"site", required_argument, NULL, OPT_SITE},
	    {"json", no_argument, NULL, OPT_JSON},
	    CLI_API_LONG_OPTIONS,
	    {NULL, 0, NULL, 0},
	};
	struct cli_api_flags flags = {0};
	struct cli_api *api = NULL;
	const char *site = NULL;
	json_t *doc = NULL, *sups;
	const json_t *s;
	char path[256], *code = NULL;
	bool json = false;
	size_t i;
	int c, rc;

	optind = 0;
	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		if (c == OPT_JSON)
			json = true;
		else if (c == OPT_SITE)
			site = optarg;
		else if (!cli_api_flag(&flags, c, optarg))
			return cli_usage("sup list", "invalid option");
	}
	if (optind != argc)
		return cli_usage("sup list", "unexpected argument '%s'", argv[optind]);
	api = cli_api_open(cli, "sup list", &flags, &rc);
	if (api == NULL)
		return rc;
	if (site != NULL) {
		/* The site's own answer carries its SUPs, and a 404 for an unknown site. */
		code = cli_api_escape(site);
		if (code == NULL ||
		    snprintf(path, sizeof(path), "/api/v1/sites/%s", code) >= (int)sizeof(path)) {
			rc = cli_failf(cli, "site code '%s' is too long", site);
			goto out;
		}
	} else {
		(void)snprintf(path, sizeof(path), "/api/v1/sups");
	}
	rc = admin_call(cli, api, "GET", path, NULL, &doc);
	if (rc != CLI_EXIT_OK)
		goto out;
	sups = json_object_get(record(doc, "site"), "sups");
	if (sups == NULL)
		sups = json_object_get(doc, "sups");
	if (json) {
		rc = print_json_answer(sups != NULL ? json_pack("{s:O}", "sups", sups)
						    : json_pack("{s:[]}", "sups"));
		goto out;
	}
	print_sup_header();
	json_array_foreach(sups, i, s)
	{
		print_sup_line(s);
	}
out:
	free(code);
	json_decref(doc);
	cli_api_free(api);
	return rc;
}

static int sup_show(struct cli *cli, int argc, char **argv)
{
	static const struct option options[] = {
	    {"json", no_argument, NULL, OPT_JSON},
	    CLI_API_LONG_OPTIONS,
	    {NULL, 0, NULL, 0},
	};
	struct cli_api_flags flags = {0};
	struct cli_api *api = NULL;
	json_t *doc = NULL;
	const json_t *sup;
	char path[64], created[32];
	bool json = false;
	long id;
	int c, rc;

	optind = 0;
	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		if (c == OPT_JSON)
			json = true;
		else if (!cli_api_flag(&flags, c, optarg))
			return cli_usage("sup show", "invalid option");
	}
	if (argc - optind != 1)
		return cli_usage("sup show", "expected one software update point ID");
	if (cli_parse_int(argv[optind], 1, 2147483647L, &id) != 0)
		return cli_usage("sup show", "ID must be a positive number, not '%s'",
				 argv[optind]);
	api = cli_api_open(cli, "sup show", &flags, &rc);
	if (api == NULL)
		return rc;
	(void)snprintf(path, sizeof(path), "/api/v1/sups/%ld", id);
	rc = admin_call(cli, api, "GET", path, NULL, &doc);
	if (rc != CLI_EXIT_OK)
		goto out;
	if (json) {
		rc = print_json_answer(doc);
		doc = NULL;
		goto out;
	}
	sup = record(doc, "sup");
	cli_format_time(cli_json_int(sup, "created_at", 0), created, sizeof(created));
	printf("ID: %lld\n", cli_json_int(sup, "id", 0));
	printf("Site: %s\n", cli_json_str(sup, "site_code"));
	printf("URL: %s\n", cli_json_str(sup, "url"));
	printf("Location: %s\n", cli_json_str(sup, "location"));
	printf("Sync source: %s\n", yes_no(cli_json_bool(sup, "sync_source")));
	printf("Created: %s\n", created);
out:
	json_decref(doc);
	cli_api_free(api);
	return rc;
}

static int sup_add(struct cli *cli, int argc, char **argv)
{
	static const struct option options[] = {
	    {"url", required_argument, NULL, OPT_URL},
	    {"remote", no_argument, NULL, OPT_REMOTE},
	    {"site", required_argument, NULL, OPT_SITE},
	    {"sync-source", no_argument, NULL, OPT_SYNC_SOURCE},
	    {"json", no_argument, NULL, OPT_JSON},
	    CLI_API_LONG_OPTIONS,
	    {NULL, 0, NULL, 0},
	};
	struct cli_api_flags flags = {0};
	struct cli_api *api = NULL;
	const char *url = NULL, *site = NULL;
	json_t *body = NULL, *doc = NULL;
	const json_t *sup;
	bool json = false, remote = false, sync_source = false;
	int c, rc;

	optind = 0;
	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (c) {
		case OPT_URL:
			url = optarg;
			break;
		case OPT_REMOTE:
			remote = true;
			break;
		case OPT_SITE:
			site = optarg;
			break;
		case OPT_SYNC_SOURCE:
			sync_source = true;
			break;
		case OPT_JSON:
			json = true;
			break;
		default:
			if (!cli_api_flag(&flags, c, optarg))
				return cli_usage("sup add", "invalid option");
		}
	}
	if (optind != argc)
		return cli_usage("sup add", "unexpected argument '%s'", argv[optind]);
	if (url == NULL)
		return cli_usage("sup add", "--url URL is required");
	if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
		return cli_usage("sup add", "--url must start with http:// or https://, not '%s'",
				 url);
	api = cli_api_open(cli, "sup add", &flags, &rc);
	if (api == NULL)
		return rc;
	body = json_pack("{s:s, s:s, s:b}", "url", url, "location", remote ? "remote" : "local",
			 "sync_source", sync_source);
	if (body == NULL ||
	    (site != NULL && json_object_set_new(body, "site_code", json_string(site)) != 0)) {
		rc = cli_failf(cli, "out of memory");
		goto out;
	}
	rc = admin_call(cli, api, "POST", "/api/v1/sups", body, &doc);
	if (rc != CLI_EXIT_OK)
		goto out;
	sup = record(doc, "sup");
	cli_log(cli, CMTRACE_INFO, "Added software update point %lld %s",
		cli_json_int(sup, "id", 0), cli_json_str(sup, "url"));
	if (json) {
		rc = print_json_answer(doc);
		doc = NULL;
		goto out;
	}
	printf("Added software update point %lld: %s (%s, site %s%s)\n", cli_json_int(sup, "id", 0),
	       cli_json_str(sup, "url"), cli_json_str(sup, "location"),
	       cli_json_str(sup, "site_code"),
	       cli_json_bool(sup, "sync_source") ? ", sync source" : "");
out:
	json_decref(body);
	json_decref(doc);
	cli_api_free(api);
	return rc;
}

/* The code of the top-level site: the first of GET /api/v1/sites. */
static int top_level_site(struct cli *cli, struct cli_api *api, char *out, size_t size)
{
	json_t *doc = NULL;
	const char *code;
	int rc;

	rc = admin_call(cli, api, "GET", "/api/v1/sites", NULL, &doc);
	if (rc != CLI_EXIT_OK)
		return rc;
	code = cli_json_str(json_array_get(json_object_get(doc, "sites"), 0), "code");
	if (code[0] == '\0')
		rc = cli_failf(cli, "%s has no site yet", cli_api_server(api));
	else
		(void)snprintf(out, size, "%s", code);
	json_decref(doc);
	return rc;
}

static int sup_set(struct cli *cli, int argc, char **argv)
{
	static const struct option options[] = {
	    {"site", required_argument, NULL, OPT_SITE},
	    {"third-party", required_argument, NULL, OPT_THIRD_PARTY},
	    {"cert-mode", required_argument, NULL, OPT_CERT_MODE},
	    {"json", no_argument, NULL, OPT_JSON},
	    CLI_API_LONG_OPTIONS,
	    {NULL, 0, NULL, 0},
	};
	struct cli_api_flags flags = {0};
	struct cli_api *api = NULL;
	const char *site = NULL, *mode = NULL;
	json_t *body = NULL, *doc = NULL;
	char code[64], path[256], *escaped = NULL;
	bool json = false;
	int c, rc, third_party = -1;

	optind = 0;
	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (c) {
		case OPT_SITE:
			site = optarg;
			break;
		case OPT_THIRD_PARTY:
			if (strcmp(optarg, "on") == 0)
				third_party = 1;
			else if (strcmp(optarg, "off") == 0)
				third_party = 0;
			else
				return cli_usage(
				    "sup set", "--third-party must be on or off, not '%s'", optarg);
			break;
		case OPT_CERT_MODE:
			if (strcmp(optarg, "managed") != 0 && strcmp(optarg, "manual") != 0)
				return cli_usage("sup set",
						 "--cert-mode must be managed or manual, not '%s'",
						 optarg);
			mode = optarg;
			break;
		case OPT_JSON:
			json = true;
			break;
		default:
			if (!cli_api_flag(&flags, c, optarg))
				return cli_usage("sup set", "invalid option");
		}
	}
	if (optind != argc)
		return cli_usage("sup set", "unexpected argument '%s'", argv[optind]);
	if (third_party < 0 && mode == NULL)
		return cli_usage("sup set", "give --third-party on|off, --cert-mode managed|manual "
					    "or both");
	api = cli_api_open(cli, "sup set", &flags, &rc);
	if (api == NULL)
		return rc;
	if (site != NULL)
		(void)snprintf(code, sizeof(code), "%s", site);
	else if ((rc = top_level_site(cli, api, code, sizeof(code))) != CLI_EXIT_OK)
		goto out;
	escaped = cli_api_escape(code);
	if (escaped == NULL || snprintf(path, sizeof(path), "/api/v1/sites/%s/third-party-updates",
					escaped) >= (int)sizeof(path)) {
		rc = cli_failf(cli, "site code '%s' is too long", code);
		goto out;
	}
	body = json_object();
	if (body == NULL ||
	    (third_party >= 0 && json_object_set_new(body, "enable_third_party_updates",
						     json_boolean(third_party == 1)) != 0) ||
	    (mode != NULL &&
	     json_object_set_new(body, "certificate_mode", json_string(mode)) != 0)) {
		rc = cli_failf(cli, "out of memory");
		goto out;
	}
	rc = admin_call(cli, api, "PUT", path, body, &doc);
	if (rc != CLI_EXIT_OK)
		goto out;
	cli_log(cli, CMTRACE_INFO, "Changed the Third-Party Updates settings of site %s", code);
	if (json) {
		rc = print_json_answer(doc);
		doc = NULL;
		goto out;
	}
	printf("Top-level site: %s\n", cli_json_str(doc, "top_level_site")[0] != '\0'
					   ? cli_json_str(doc, "top_level_site")
					   : code);
	printf("Enable third-party software updates: %s\n",
	       yes_no(cli_json_bool(doc, "enable_third_party_updates")));
	printf("Certificate mode: %s\n", cli_json_str(doc, "certificate_mode"));
out:
	free(escaped);
	json_decref(body);
	json_decref(doc);
	cli_api_free(api);
	return rc;
}

int cli_sup(struct cli *cli, int argc, char **argv)
{
	static const struct cli_verb verbs[] = {
	    {"list", "the software update points", sup_list_manual, sup_list},
	    {"show", "one software update point", sup_show_manual, sup_show},
	    {"add", "add a software update point to a site", sup_add_manual, sup_add},
	    {"set", "Third-Party Updates settings (enable, certificate mode)", sup_set_manual,
	     sup_set},
	};

	return cli_dispatch(cli, "sup", verbs, sizeof(verbs) / sizeof(verbs[0]), argc - 1,
			    argv + 1);
}

/* ---- sync ---- */

static double monotonic_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Polls GET /api/v1/syncs/{id} every half second until the sync is no longer running or
 * timeout seconds have passed. Returns the last answer, or NULL after printing why. */
static json_t *sync_wait(struct cli *cli, struct cli_api *api, long long id, long timeout, int *rc)
{
	const struct timespec half = {0, 500000000L};
	double deadline = monotonic_seconds() + (double)timeout;
	char path[64];
	json_t *doc = NULL;

	(void)snprintf(path, sizeof(path), "/api/v1/syncs/%lld", id);
	for (;;) {
		*rc = admin_call(cli, api, "GET", path, NULL, &doc);
		if (*rc != CLI_EXIT_OK)
			return NULL;
		if (strcmp(cli_json_str(record(doc, "sync"), "state"), "running") != 0)
			return doc;
		if (monotonic_seconds() >= deadline) {
			json_decref(doc);
			*rc = cli_failf(cli,
					"Synchronization %lld is still running after %ld seconds",
					id, timeout);
			return NULL;
		}
		json_decref(doc);
		doc = NULL;
		(void)nanosleep(&half, NULL);
	}
}

int cli_sync(struct cli *cli, int argc, char **argv)
{
	static const struct option options[] = {
	    {"wait", no_argument, NULL, OPT_WAIT},
	    {"timeout", required_argument, NULL, OPT_TIMEOUT},
	    {"json", no_argument, NULL, OPT_JSON},
	    CLI_API_LONG_OPTIONS,
	    {NULL, 0, NULL, 0},
	};
	struct cli_api_flags flags = {0};
	struct cli_api *api = NULL;
	json_t *doc = NULL, *final = NULL;
	const json_t *sync;
	const char *state, *error;
	bool json = false, wait = false;
	long timeout = 600;
	long long id;
	int c, rc;

	if (cli_wants_help(argc, argv) || (argc > 1 && strcmp(argv[1], "help") == 0))
		return cli_manual(sync_manual);
	optind = 0;
	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (c) {
		case OPT_WAIT:
			wait = true;
			break;
		case OPT_TIMEOUT:
			if (cli_parse_int(optarg, 1, 86400, &timeout) != 0)
				return cli_usage(
				    "sync", "--timeout must be 1..86400 seconds, not '%s'", optarg);
			break;
		case OPT_JSON:
			json = true;
			break;
		default:
			if (!cli_api_flag(&flags, c, optarg))
				return cli_usage("sync", "invalid option");
		}
	}
	if (optind != argc)
		return cli_usage("sync", "unexpected argument '%s'", argv[optind]);
	api = cli_api_open(cli, "sync", &flags, &rc);
	if (api == NULL)
		return rc;
	rc = admin_call(cli, api, "POST", "/api/v1/syncs", NULL, &doc);
	if (rc != CLI_EXIT_OK)
		goto out;
	sync = record(doc, "sync");
	id = cli_json_int(sync, "id", -1);
	if (id < 0) {
		rc =
		    cli_failf(cli, "%s answered without a synchronization id", cli_api_server(api));
		goto out;
	}
	cli_log(cli, CMTRACE_INFO, "Synchronization %lld %s", id,
		cli_json_bool(doc, "started") ? "started" : "is already running");
	if (!json)
		printf(cli_json_bool(doc, "started") ? "Synchronization %lld started\n"
						     : "Synchronization %lld is already running\n",
		       id);
	if (!wait) {
		if (json) {
			rc = print_json_answer(doc);
			doc = NULL;
		}
		goto out;
	}
	fflush(stdout);
	final = sync_wait(cli, api, id, timeout, &rc);
	if (final == NULL)
		goto out;
	sync = record(final, "sync");
	state = cli_json_str(sync, "state");
	error = cli_json_str(sync, "error");
	rc = strcmp(state, "succeeded") == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
	if (json) {
		(void)cli_print_json(json_incref(final));
	} else if (rc == CLI_EXIT_OK) {
		printf("Synchronization %lld %s\n", id, state);
	} else {
		printf("Synchronization %lld %s%s%s\n", id, state, error[0] != '\0' ? ": " : "",
		       error);
	}
	cli_log(cli, rc == CLI_EXIT_OK ? CMTRACE_INFO : CMTRACE_ERROR,
		"Synchronization %lld %s%s%s", id, state, error[0] != '\0' ? ": " : "", error);
out:
	json_decref(doc);
	json_decref(final);
	cli_api_free(api);
	return rc;
}

/* ---- certificates ---- */

static int certs_list(struct cli *cli, int argc, char **argv)
{
	const json_t *cert;
	json_t *doc = NULL;
	char expires[32];
	size_t i;
	int rc =
	    cli_api_read_verb(cli, "certificates list", argc, argv, "/api/v1/certificates", &doc);

	if (doc == NULL)
		return rc;
	printf("%-40s  %-36s %-7s  %-10s  %s\n", "Thumbprint", "Type", "Blocked", "Expires",
	       "Subject");
	json_array_foreach(json_object_get(doc, "certificates"), i, cert)
	{
		cli_format_time(cli_json_int(cert, "not_after", 0), expires, sizeof(expires));
		expires[strcspn(expires, " ")] = '\0';
		printf("%-40s  %-36s %-7s  %-10s  %s\n", cli_json_str(cert, "thumbprint"),
		       cli_json_str(cert, "type"), yes_no(cli_json_bool(cert, "blocked")), expires,
		       cli_json_str(cert, "subject"));
	}
	json_decref(doc);
	return rc;
}

/* "blocked", "unblocked", "approved". */
static const char *past(const char *action)
{
	return strcmp(action, "block") == 0	? "blocked"
	       : strcmp(action, "unblock") == 0 ? "unblocked"
						: "approved";
}

/* show, block and unblock: one certificate, by thumbprint. action is NULL, "block" or
 * "unblock". */
static int certs_one(struct cli *cli, int argc, char **argv, const char *cmd, const char *action)
{
	static const struct option options[] = {
	    {"json", no_argument, NULL, OPT_JSON},
	    CLI_API_LONG_OPTIONS,
	    {NULL, 0, NULL, 0},
	};
	struct cli_api_flags flags = {0};
	struct cli_api *api = NULL;
	json_t *doc = NULL;
	const json_t *cert;
	char thumbprint[PKI_THUMBPRINT_LEN + 1], path[128], from[32], to[32], added[32];
	bool json = false;
	int c, rc;

	optind = 0;
	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		if (c == OPT_JSON)
			json = true;
		else if (!cli_api_flag(&flags, c, optarg))
			return cli_usage(cmd, "invalid option");
	}
	if (argc - optind != 1)
		return cli_usage(cmd, "expected one THUMBPRINT");
	if (pki_thumbprint_normalize(argv[optind], thumbprint) != 0)
		return cli_usage(cmd, "'%s' is not a thumbprint (40 hex digits)", argv[optind]);
	api = cli_api_open(cli, cmd, &flags, &rc);
	if (api == NULL)
		return rc;
	(void)snprintf(path, sizeof(path), "/api/v1/certificates/%s%s%s", thumbprint,
		       action != NULL ? "/" : "", action != NULL ? action : "");
	rc = admin_call(cli, api, action != NULL ? "POST" : "GET", path, NULL, &doc);
	if (rc != CLI_EXIT_OK)
		goto out;
	cert = record(doc, "certificate");
	if (action != NULL)
		cli_log(cli, CMTRACE_INFO, "Certificate %s %s", thumbprint, past(action));
	if (json) {
		rc = print_json_answer(doc);
		doc = NULL;
		goto out;
	}
	if (action != NULL) {
		printf("Certificate %s %s\n", cli_json_str(cert, "thumbprint"), past(action));
		goto out;
	}
	cli_format_time(cli_json_int(cert, "not_before", 0), from, sizeof(from));
	cli_format_time(cli_json_int(cert, "not_after", 0), to, sizeof(to));
	cli_format_time(cli_json_int(cert, "added_at", 0), added, sizeof(added));
	printf("Thumbprint: %s\n", cli_json_str(cert, "thumbprint"));
	printf("Type: %s\n", cli_json_str(cert, "type"));
	printf("Subject: %s\n", cli_json_str(cert, "subject"));
	printf("Valid From: %s\n", from);
	printf("Valid To: %s\n", to);
	printf("Blocked: %s\n", yes_no(cli_json_bool(cert, "blocked")));
	printf("Approved: %s\n", yes_no(cli_json_bool(cert, "approved")));
	printf("Added: %s\n", added);
out:
	json_decref(doc);
	cli_api_free(api);
	return rc;
}

static int certs_show(struct cli *cli, int argc, char **argv)
{
	return certs_one(cli, argc, argv, "certificates show", NULL);
}

static int certs_block(struct cli *cli, int argc, char **argv)
{
	return certs_one(cli, argc, argv, "certificates block", "block");
}

static int certs_unblock(struct cli *cli, int argc, char **argv)
{
	return certs_one(cli, argc, argv, "certificates unblock", "unblock");
}

static int certs_approve(struct cli *cli, int argc, char **argv)
{
	return certs_one(cli, argc, argv, "certificates approve", "approve");
}

int cli_certificates(struct cli *cli, int argc, char **argv)
{
	static const struct cli_verb verbs[] = {
	    {"list", "Administration > Security > Certificates", certs_list_manual, certs_list},
	    {"show", "one certificate", certs_show_manual, certs_show},
	    {"block", "block a certificate (clients remove it)", certs_block_manual, certs_block},
	    {"unblock", "unblock a certificate", certs_unblock_manual, certs_unblock},
	    {"approve", "approve a vendor's content certificate", certs_approve_manual,
	     certs_approve},
	};

	return cli_dispatch(cli, "certificates", verbs, sizeof(verbs) / sizeof(verbs[0]), argc - 1,
			    argv + 1);
}
