/* cli_gpo.c - patchpoint gpo: group policy objects on the site (DESIGN 5.8,
 * docs/internals/gpo.md) over patchpointd's API (src/server/gpo_api.c): make one, put the
 * signing certificate into its Trusted Root Certification Authorities and Trusted Publishers
 * policy stores and enable "Allow signed updates from an intranet Microsoft update service
 * location", link it to collections, and export its SYSVOL folder. The server checks and
 * decides; this file reads the certificate file, sends what was asked and prints the answers. */
#include "cli.h"

#include "base64.h"
#include "cli_api.h"

#include "atomicfile.h"
#include "hresult.h"
#include "pki.h"

#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#define ATPC "AcceptTrustedPublisherCerts"

enum { OPT_JSON = 1, OPT_COLLECTION, OPT_ORDER, OPT_STORE };

#define ALLOW(opt) (1u << (opt))

/* ---- manuals ---- */

#define GPO_ARG "    GPO is a GPO's name (any case) or its id, a GUID in braces.\n"

#define EXIT_STATUS(what)                                                                          \
	"EXIT STATUS\n"                                                                            \
	"    0 " what ", 1 refused (the message says why) or failed, 2 usage error\n"

static const char create_manual[] =
    "NAME\n"
    "    patchpoint gpo create - make a group policy object\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint gpo create NAME [--json]\n"
    "\n"
    "DESCRIPTION\n"
    "    Makes an empty GPO named NAME (unique, any case) with a new id, a GUID in braces as\n"
    "    SYSVOL names GPO folders, at version 0. Fill it with 'gpo import-cert' and\n"
    "    'gpo set-policy', then link it to collections with 'gpo link'. Every change to what\n"
    "    a GPO holds adds one to the machine half of its version (GPT.INI's Version is\n"
    "    user << 16 | machine), which is how devices see that it changed.\n"
    "\n"
    "OPTIONS\n"
    "    --json   the server's answer as JSON\n" CLI_API_MANUAL_OPTIONS "\n" EXIT_STATUS("created");

static const char list_manual[] =
    "NAME\n"
    "    patchpoint gpo list - the group policy objects\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint gpo list [--json]\n"
    "\n"
    "DESCRIPTION\n"
    "    One line per GPO: its id, version, name and the collections it is linked to, each\n"
    "    with its link order there.\n"
    "\n"
    "OPTIONS\n"
    "    --json   the server's answer as JSON\n" CLI_API_MANUAL_OPTIONS "\n" EXIT_STATUS("success");

static const char show_manual[] =
    "NAME\n"
    "    patchpoint gpo show - what a group policy object holds\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint gpo show GPO [--json]\n"
    "\n"
    "DESCRIPTION\n"
    "    Prints the GPO's id, name and version, the collections it is linked to (with the\n"
    "    link order, 1 the highest precedence), the certificates of its Trusted Root\n"
    "    Certification Authorities (Root) and Trusted Publishers (TrustedPublisher) policy\n"
    "    stores, and the policy values it sets with their registry keys.\n" GPO_ARG "\n"
    "OPTIONS\n"
    "    --json   the server's answer as JSON\n" CLI_API_MANUAL_OPTIONS "\n" EXIT_STATUS("success");

static const char delete_manual[] =
    "NAME\n"
    "    patchpoint gpo delete - delete a group policy object\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint gpo delete GPO\n"
    "\n"
    "DESCRIPTION\n"
    "    Deletes the GPO with its links. At their next 'patchpoint-agent gpupdate' (or\n"
    "    background refresh) the devices it applied to remove the certificates and the\n"
    "    policy value it gave them, unless another GPO that applies to them holds them\n"
    "    too.\n" GPO_ARG "\n"
    "OPTIONS\n" CLI_API_MANUAL_OPTIONS "\n" EXIT_STATUS("deleted");

static const char link_manual[] =
    "NAME\n"
    "    patchpoint gpo link - link a group policy object to a collection\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint gpo link GPO --collection C [--order N] [--json]\n"
    "\n"
    "DESCRIPTION\n"
    "    Links the GPO to collection C (a collection's name or id; our stand-in for an\n"
    "    organizational unit), so that it applies to the collection's members. The links of\n"
    "    a collection have link orders 1..n, 1 the highest precedence: a device applies them\n"
    "    from n down to 1, so that where two GPOs set the same value the one with link order\n"
    "    1 wins. Without --order the new link comes last (n + 1, the lowest precedence), as\n"
    "    GPMC adds a link; with --order N it takes place N and the links from N on move down\n"
    "    by one. Across collections a device applies All Systems first and then its other\n"
    "    collections by id, the last one winning (docs/internals/gpo.md). Linking does not\n"
    "    change the GPO's version.\n" GPO_ARG "\n"
    "OPTIONS\n"
    "    --collection C   the collection (required)\n"
    "    --order N        the link order, 1 to n + 1 (default n + 1)\n"
    "    --json           the server's answer (the GPO) as JSON\n" CLI_API_MANUAL_OPTIONS
    "\n" EXIT_STATUS("linked");

static const char unlink_manual[] =
    "NAME\n"
    "    patchpoint gpo unlink - take a group policy object's link to a collection away\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint gpo unlink GPO --collection C\n"
    "\n"
    "DESCRIPTION\n"
    "    Removes the link of the GPO to collection C; the links after it on C move up by\n"
    "    one. The GPO stays. At their next gpupdate the members of C that no other link\n"
    "    reaches remove what the GPO gave them.\n" GPO_ARG "\n"
    "OPTIONS\n"
    "    --collection C   the collection (required)\n" CLI_API_MANUAL_OPTIONS
    "\n" EXIT_STATUS("unlinked");

static const char import_manual[] =
    "NAME\n"
    "    patchpoint gpo import-cert - put a certificate into a GPO's policy store\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint gpo import-cert GPO --store Root|TrustedPublisher FILE [--json]\n"
    "\n"
    "DESCRIPTION\n"
    "    What GPMC's Computer Configuration > Policies > Windows Settings > Security Settings\n"
    "    > Public Key Policies > Trusted Root Certification Authorities (Root) or Trusted\n"
    "    Publishers (TrustedPublisher) > Import does: the certificate in FILE (DER, PEM or\n"
    "    Base64, e.g. the one 'patchpoint publisher cert export' wrote) becomes the Blob\n"
    "    value of Software\\Policies\\Microsoft\\SystemCertificates\\<Store>\\Certificates\\\n"
    "    <SHA-1> in the GPO's Machine/Registry.pol, and the GPO's version goes up by one. A\n"
    "    self-signed WSUS signing certificate goes into both stores, one issued by a CA into\n"
    "    TrustedPublisher only.\n" GPO_ARG "\n"
    "OPTIONS\n"
    "    --store Root|TrustedPublisher   the policy store (required)\n"
    "    --json                          the server's answer (the GPO) as "
    "JSON\n" CLI_API_MANUAL_OPTIONS "\n" EXIT_STATUS("imported");

static const char remove_manual[] =
    "NAME\n"
    "    patchpoint gpo remove-cert - take a certificate out of a GPO's policy store\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint gpo remove-cert GPO --store Root|TrustedPublisher THUMBPRINT\n"
    "\n"
    "DESCRIPTION\n"
    "    Removes the certificate with THUMBPRINT (40 hexadecimal digits, any case, spaces\n"
    "    or colons allowed) from that store of the GPO and adds one to its version. Devices\n"
    "    remove it from their policy store at their next gpupdate, unless another GPO that\n"
    "    applies to them holds it too.\n" GPO_ARG "\n"
    "OPTIONS\n"
    "    --store Root|TrustedPublisher   the policy store (required)\n" CLI_API_MANUAL_OPTIONS
    "\n" EXIT_STATUS("removed");

static const char set_policy_manual[] =
    "NAME\n"
    "    patchpoint gpo set-policy - set a policy value in a GPO\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint gpo set-policy GPO AcceptTrustedPublisherCerts 1|0|not-configured [--json]\n"
    "\n"
    "DESCRIPTION\n"
    "    Computer Configuration > Administrative Templates > Windows Components > Windows\n"
    "    Update > \"Allow signed updates from an intranet Microsoft update service\n"
    "    location\": 1 Enabled, 0 Disabled, not-configured takes it out of the GPO. The GPO's\n"
    "    Registry.pol then holds (or no longer holds) the REG_DWORD\n"
    "    Software\\Policies\\Microsoft\\Windows\\WindowsUpdate AcceptTrustedPublisherCerts,\n"
    "    which devices set with the source gpo:<GPO name>; group policy takes precedence over\n"
    "    client settings (docs/internals/gpo.md). The version goes up by one unless the GPO\n"
    "    held that value already; not-configured of a value the GPO does not set is\n"
    "    refused.\n" GPO_ARG "\n"
    "OPTIONS\n"
    "    --json   the server's answer (the GPO) as JSON\n" CLI_API_MANUAL_OPTIONS
    "\n" EXIT_STATUS("set");

static const char export_manual[] =
    "NAME\n"
    "    patchpoint gpo export - write a GPO's SYSVOL folder\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint gpo export GPO DIR\n"
    "\n"
    "DESCRIPTION\n"
    "    Writes the Group Policy Template of the GPO as a domain's SYSVOL holds it under\n"
    "    Policies: DIR/{GUID}/GPT.INI (\"[General]\" and \"Version=N\", as samba-tool gpo\n"
    "    create writes it), DIR/{GUID}/Machine/Registry.pol and an empty DIR/{GUID}/User.\n"
    "    DIR is made when missing; files already there are replaced whole. Both files come\n"
    "    from one read on the server, so the version matches the policy file. Only the SYSVOL\n"
    "    half: the GPO's object in Active Directory (its versionNumber and\n"
    "    gPCMachineExtensionNames) is yours to make (docs/internals/gpo.md).\n" GPO_ARG "\n"
    "OPTIONS\n" CLI_API_MANUAL_OPTIONS "\n" EXIT_STATUS("written");

/* ---- arguments ---- */

struct verb_args {
	struct cli_api_flags flags;
	bool json;
	const char *collection, *store;
	long order; /* 0: not given */
	char **pos;
	int npos;
};

/* jansson takes UTF-8 text only. */
static bool is_utf8(const char *s)
{
	json_t *j = json_string(s);

	json_decref(j);
	return j != NULL;
}

/* Parses argv of verb cmd: the options in allowed and the connection options, then exactly npos
 * positional arguments (what names them). Returns 0, or the exit code of a usage error. */
static int verb_parse(const char *cmd, int argc, char **argv, unsigned allowed, int npos,
		      const char *what, struct verb_args *a)
{
	static const struct option options[] = {
	    {"json", no_argument, NULL, OPT_JSON},
	    {"collection", required_argument, NULL, OPT_COLLECTION},
	    {"order", required_argument, NULL, OPT_ORDER},
	    {"store", required_argument, NULL, OPT_STORE},
	    CLI_API_LONG_OPTIONS,
	    {NULL, 0, NULL, 0},
	};
	int c, i;

	memset(a, 0, sizeof(*a));
	optind = 0;
	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		if (cli_api_flag(&a->flags, c, optarg))
			continue;
		if (c < OPT_JSON || c > OPT_STORE)
			return cli_usage(cmd, "invalid option");
		if ((allowed & ALLOW(c)) == 0)
			return cli_usage(cmd, "--%s is not an option of '%s'", options[c - 1].name,
					 cmd);
		if (optarg != NULL && (optarg[0] == '\0' || !is_utf8(optarg)))
			return cli_usage(cmd, "--%s takes a non-empty value", options[c - 1].name);
		switch (c) {
		case OPT_JSON:
			a->json = true;
			break;
		case OPT_COLLECTION:
			a->collection = optarg;
			break;
		case OPT_ORDER:
			if (optarg[0] < '0' || optarg[0] > '9' ||
			    cli_parse_int(optarg, 1, INT_MAX, &a->order) != 0)
				return cli_usage(cmd, "--order takes a link order from 1, not '%s'",
						 optarg);
			break;
		default:
			if (strcasecmp(optarg, "Root") == 0)
				a->store = "Root";
			else if (strcasecmp(optarg, "TrustedPublisher") == 0)
				a->store = "TrustedPublisher";
			else
				return cli_usage(cmd,
						 "--store takes Root or TrustedPublisher, not '%s'",
						 optarg);
		}
	}
	a->pos = argv + optind;
	a->npos = argc - optind;
	if (a->npos > npos)
		return cli_usage(cmd, "unexpected argument '%s'", a->pos[npos]);
	if (a->npos < npos)
		return cli_usage(cmd, "expected %s", what);
	for (i = 0; i < a->npos; i++)
		if (a->pos[i][0] == '\0' || !is_utf8(a->pos[i]))
			return cli_usage(cmd, "expected %s, not '%s'", what, a->pos[i]);
	if ((allowed & ALLOW(OPT_COLLECTION)) != 0 && a->collection == NULL)
		return cli_usage(cmd, "--collection C is required");
	if ((allowed & ALLOW(OPT_STORE)) != 0 && a->store == NULL)
		return cli_usage(cmd, "--store Root|TrustedPublisher is required");
	return 0;
}

/* "/api/v1/gpos[/<seg>][<mid>[/<seg2>[/<seg3>]]]", segments percent-encoded; NULL when out of
 * memory. The caller frees it. */
static char *gpo_path(const char *seg, const char *mid, const char *seg2, const char *seg3)
{
	const char *in[3] = {seg, seg2, seg3};
	char *e[3] = {NULL, NULL, NULL}, *path = NULL;
	int i;

	for (i = 0; i < 3; i++)
		if (in[i] != NULL && (e[i] = cli_api_escape(in[i])) == NULL)
			goto out;
	if (asprintf(&path, "/api/v1/gpos%s%s%s%s%s%s%s", e[0] != NULL ? "/" : "",
		     e[0] != NULL ? e[0] : "", mid != NULL ? mid : "", e[1] != NULL ? "/" : "",
		     e[1] != NULL ? e[1] : "", e[2] != NULL ? "/" : "",
		     e[2] != NULL ? e[2] : "") < 0)
		path = NULL;
out:
	for (i = 0; i < 3; i++)
		free(e[i]);
	return path;
}

/* ---- text output ---- */

static void print_links_line(const json_t *links, char *out, size_t size)
{
	const json_t *l;
	size_t i, used = 0;

	out[0] = '\0';
	json_array_foreach(links, i, l)
	{
		int n = snprintf(out + used, size - used, "%s%s (%lld)", used > 0 ? ", " : "",
				 cli_json_str(l, "collection"), cli_json_int(l, "link_order", 0));

		if (n < 0 || (size_t)n >= size - used) {
			out[used] = '\0';
			break;
		}
		used += (size_t)n;
	}
}

static void print_gpo(const json_t *g, const struct verb_args *a, const char *line)
{
	const json_t *v;
	char when[32];
	size_t i;

	(void)a;
	(void)line;
	cli_format_time(cli_json_int(g, "updated_at", 0), when, sizeof(when));
	printf("Name:         %s\n", cli_json_str(g, "name"));
	printf("Id:           %s\n", cli_json_str(g, "id"));
	printf("Version:      %lld (machine %lld, user %lld)\n", cli_json_int(g, "version", 0),
	       cli_json_int(g, "machine_version", 0), cli_json_int(g, "user_version", 0));
	printf("Changed:      %s\n", when);
	printf("Links:%s\n",
	       json_array_size(json_object_get(g, "links")) == 0 ? "        none" : "");
	json_array_foreach(json_object_get(g, "links"), i, v)
	{
		printf("    %-4lld %-9s %s\n", cli_json_int(v, "link_order", 0),
		       cli_json_str(v, "collection_id"), cli_json_str(v, "collection"));
	}
	printf("Certificates:%s\n",
	       json_array_size(json_object_get(g, "certificates")) == 0 ? " none" : "");
	json_array_foreach(json_object_get(g, "certificates"), i, v)
	{
		printf("    %-16s %s  %s\n", cli_json_str(v, "store"),
		       cli_json_str(v, "thumbprint"), cli_json_str(v, "subject"));
	}
	printf("Policies:%s\n",
	       json_array_size(json_object_get(g, "policies")) == 0 ? "     none" : "");
	json_array_foreach(json_object_get(g, "policies"), i, v)
	{
		printf("    %s = %lld (%s)  %s\n", cli_json_str(v, "name"),
		       cli_json_int(v, "value", 0), cli_json_str(v, "state"),
		       cli_json_str(v, "key"));
	}
}

static void print_list(const json_t *doc, const struct verb_args *a, const char *line)
{
	const json_t *g;
	char links[2048];
	size_t i;

	(void)a;
	(void)line;
	printf("%-38s  %-7s  %-24s  %s\n", "Id", "Version", "Name", "Links");
	json_array_foreach(json_object_get(doc, "gpos"), i, g)
	{
		print_links_line(json_object_get(g, "links"), links, sizeof(links));
		printf("%-38s  %-7lld  %-24s  %s\n", cli_json_str(g, "id"),
		       cli_json_int(g, "version", 0), cli_json_str(g, "name"),
		       links[0] != '\0' ? links : "-");
	}
}

/* ---- requests ---- */

/* METHOD path with body; with --json the answer, else print(doc) or line. line (NULL: none) is
 * printed and logged on success. want_doc: the server answers a JSON object (else 204). */
typedef void (*answer_printer)(const json_t *doc, const struct verb_args *a, const char *line);

static int run_request(struct cli *cli, const char *cmd, const struct verb_args *a,
		       const char *method, char *path, const json_t *body, bool want_doc,
		       answer_printer print, const char *line)
{
	struct cli_api_response resp;
	struct cli_api *api;
	struct pp_error err;
	json_t *doc = NULL;
	int rc;

	if (path == NULL)
		return cli_failf(cli, "out of memory");
	api = cli_api_open(cli, cmd, &a->flags, &rc);
	if (api == NULL)
		goto out;
	pp_error_clear(&err);
	if (want_doc) {
		doc = cli_api_call(api, method, path, body, &err);
		rc = doc != NULL ? CLI_EXIT_OK : cli_fail(cli, &err);
	} else {
		rc = cli_api_request(api, method, path, body, &resp, &err) == 0
			 ? CLI_EXIT_OK
			 : cli_fail(cli, &err);
		cli_api_response_free(&resp);
	}
	if (rc != CLI_EXIT_OK)
		goto out;
	if (line != NULL)
		cli_log(cli, CMTRACE_INFO, "%s", line);
	if (a->json && doc != NULL) {
		rc = cli_print_json(doc) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
		doc = NULL;
	} else if (print != NULL && doc != NULL) {
		print(doc, a, line);
	} else if (line != NULL) {
		printf("%s\n", line);
	}
out:
	json_decref(doc);
	cli_api_free(api);
	free(path);
	return rc;
}

/* ---- verbs ---- */

static int gpo_create(struct cli *cli, int argc, char **argv)
{
	static const char cmd[] = "gpo create";
	struct verb_args a;
	json_t *body;
	char line[320];
	int rc = verb_parse(cmd, argc, argv, ALLOW(OPT_JSON), 1, "a GPO NAME", &a);

	if (rc != 0)
		return rc;
	body = json_pack("{s:s}", "name", a.pos[0]);
	if (body == NULL)
		return cli_failf(cli, "out of memory");
	(void)snprintf(line, sizeof(line), "Created GPO %s", a.pos[0]);
	rc = run_request(cli, cmd, &a, "POST", gpo_path(NULL, NULL, NULL, NULL), body, true,
			 print_gpo, line);
	json_decref(body);
	return rc;
}

static int gpo_list(struct cli *cli, int argc, char **argv)
{
	static const char cmd[] = "gpo list";
	struct verb_args a;
	int rc = verb_parse(cmd, argc, argv, ALLOW(OPT_JSON), 0, NULL, &a);

	if (rc != 0)
		return rc;
	return run_request(cli, cmd, &a, "GET", gpo_path(NULL, NULL, NULL, NULL), NULL, true,
			   print_list, NULL);
}

static int gpo_show(struct cli *cli, int argc, char **argv)
{
	static const char cmd[] = "gpo show";
	struct verb_args a;
	int rc = verb_parse(cmd, argc, argv, ALLOW(OPT_JSON), 1, "a GPO (name or id)", &a);

	if (rc != 0)
		return rc;
	return run_request(cli, cmd, &a, "GET", gpo_path(a.pos[0], NULL, NULL, NULL), NULL, true,
			   print_gpo, NULL);
}

static int gpo_delete(struct cli *cli, int argc, char **argv)
{
	static const char cmd[] = "gpo delete";
	struct verb_args a;
	char line[320];
	int rc = verb_parse(cmd, argc, argv, 0, 1, "a GPO (name or id)", &a);

	if (rc != 0)
		return rc;
	(void)snprintf(line, sizeof(line), "GPO %s deleted", a.pos[0]);
	return run_request(cli, cmd, &a, "DELETE", gpo_path(a.pos[0], NULL, NULL, NULL), NULL,
			   false, NULL, line);
}

/* The link to collection in the GPO doc (by id or name, any case), or NULL. */
static const json_t *find_link(const json_t *doc, const char *collection)
{
	const json_t *l;
	size_t i;

	json_array_foreach(json_object_get(doc, "links"), i, l)
	{
		if (strcasecmp(cli_json_str(l, "collection"), collection) == 0 ||
		    strcasecmp(cli_json_str(l, "collection_id"), collection) == 0)
			return l;
	}
	return NULL;
}

static void print_linked(const json_t *doc, const struct verb_args *a, const char *line)
{
	const json_t *l = find_link(doc, a->collection);

	(void)line;
	printf("Linked GPO %s to collection %s (%s) at link order %lld\n",
	       cli_json_str(doc, "name"), cli_json_str(l, "collection"),
	       cli_json_str(l, "collection_id"), cli_json_int(l, "link_order", 0));
}

static int gpo_link(struct cli *cli, int argc, char **argv)
{
	static const char cmd[] = "gpo link";
	struct verb_args a;
	json_t *body;
	char line[640];
	int rc =
	    verb_parse(cmd, argc, argv, ALLOW(OPT_JSON) | ALLOW(OPT_COLLECTION) | ALLOW(OPT_ORDER),
		       1, "a GPO (name or id)", &a);

	if (rc != 0)
		return rc;
	body = a.order > 0 ? json_pack("{s:s, s:I}", "collection", a.collection, "order",
				       (json_int_t)a.order)
			   : json_pack("{s:s}", "collection", a.collection);
	if (body == NULL)
		return cli_failf(cli, "out of memory");
	(void)snprintf(line, sizeof(line), "Linked GPO %s to collection %s", a.pos[0],
		       a.collection);
	rc = run_request(cli, cmd, &a, "POST", gpo_path(a.pos[0], "/links", NULL, NULL), body, true,
			 print_linked, line);
	json_decref(body);
	return rc;
}

static int gpo_unlink(struct cli *cli, int argc, char **argv)
{
	static const char cmd[] = "gpo unlink";
	struct verb_args a;
	char line[640];
	int rc = verb_parse(cmd, argc, argv, ALLOW(OPT_COLLECTION), 1, "a GPO (name or id)", &a);

	if (rc != 0)
		return rc;
	(void)snprintf(line, sizeof(line), "GPO %s unlinked from collection %s", a.pos[0],
		       a.collection);
	return run_request(cli, cmd, &a, "DELETE", gpo_path(a.pos[0], "/links", a.collection, NULL),
			   NULL, false, NULL, line);
}

static void print_imported(const json_t *doc, const struct verb_args *a, const char *line)
{
	(void)a;
	printf("%s of GPO %s (version %lld)\n", line, cli_json_str(doc, "name"),
	       cli_json_int(doc, "version", 0));
}

static int gpo_import_cert(struct cli *cli, int argc, char **argv)
{
	static const char cmd[] = "gpo import-cert";
	struct verb_args a;
	struct pp_error err;
	unsigned char *der = NULL, *b64 = NULL;
	char thumb[PKI_THUMBPRINT_LEN + 1], subject[256], line[512];
	json_t *body = NULL;
	X509 *x = NULL;
	int len, rc;

	rc = verb_parse(cmd, argc, argv, ALLOW(OPT_JSON) | ALLOW(OPT_STORE), 2,
			"a GPO (name or id) and a certificate FILE", &a);
	if (rc != 0)
		return rc;
	pp_error_clear(&err);
	x = pki_cert_load(a.pos[1], &err);
	if (x == NULL) {
		rc = cli_fail(cli, &err);
		goto out;
	}
	len = i2d_X509(x, &der);
	if (len <= 0 || pki_thumbprint(x, thumb) != 0 ||
	    (b64 = malloc(4 * (((size_t)len + 2) / 3) + 1)) == NULL) {
		rc = cli_failf(cli, "cannot encode the certificate in %s", a.pos[1]);
		goto out;
	}
	(void)EVP_EncodeBlock(b64, der, len);
	body = json_pack("{s:s, s:s}", "store", a.store, "der", (const char *)b64);
	if (body == NULL) {
		rc = cli_failf(cli, "out of memory");
		goto out;
	}
	pki_simple_name(x, subject, sizeof(subject));
	(void)snprintf(line, sizeof(line), "Imported certificate %s (%s) into the %s store", thumb,
		       subject, a.store);
	rc = run_request(cli, cmd, &a, "POST", gpo_path(a.pos[0], "/certificates", NULL, NULL),
			 body, true, print_imported, line);
out:
	json_decref(body);
	free(b64);
	OPENSSL_free(der);
	X509_free(x);
	return rc;
}

static int gpo_remove_cert(struct cli *cli, int argc, char **argv)
{
	static const char cmd[] = "gpo remove-cert";
	struct verb_args a;
	char thumb[PKI_THUMBPRINT_LEN + 1], line[512];
	int rc = verb_parse(cmd, argc, argv, ALLOW(OPT_STORE), 2,
			    "a GPO (name or id) and a certificate THUMBPRINT", &a);

	if (rc != 0)
		return rc;
	if (pki_thumbprint_normalize(a.pos[1], thumb) != 0)
		return cli_usage(cmd, "'%s' is not a thumbprint (40 hexadecimal digits)", a.pos[1]);
	(void)snprintf(line, sizeof(line), "Removed certificate %s from the %s store of GPO %s",
		       thumb, a.store, a.pos[0]);
	return run_request(cli, cmd, &a, "DELETE",
			   gpo_path(a.pos[0], "/certificates", a.store, thumb), NULL, false, NULL,
			   line);
}

static void print_policy(const json_t *doc, const struct verb_args *a, const char *line)
{
	const json_t *p;
	size_t i;

	(void)a;
	(void)line;
	json_array_foreach(json_object_get(doc, "policies"), i, p)
	{
		printf("%s = %lld (%s) in GPO %s (version %lld)\n", cli_json_str(p, "name"),
		       cli_json_int(p, "value", 0), cli_json_str(p, "state"),
		       cli_json_str(doc, "name"), cli_json_int(doc, "version", 0));
	}
}

static int gpo_set_policy(struct cli *cli, int argc, char **argv)
{
	static const char cmd[] = "gpo set-policy";
	struct verb_args a;
	json_t *body;
	char line[512];
	int value, rc;

	rc = verb_parse(cmd, argc, argv, ALLOW(OPT_JSON), 3,
			"a GPO (name or id), " ATPC " and 1, 0 or not-configured", &a);
	if (rc != 0)
		return rc;
	if (strcasecmp(a.pos[1], ATPC) != 0)
		return cli_usage(cmd, "unknown policy '%s': a GPO sets " ATPC, a.pos[1]);
	if (strcasecmp(a.pos[2], "not-configured") == 0) {
		(void)snprintf(line, sizeof(line), ATPC " is not configured in GPO %s", a.pos[0]);
		return run_request(cli, cmd, &a, "DELETE",
				   gpo_path(a.pos[0], "/policies", ATPC, NULL), NULL, false, NULL,
				   line);
	}
	if (strcmp(a.pos[2], "1") != 0 && strcmp(a.pos[2], "0") != 0)
		return cli_usage(cmd,
				 ATPC " is 1 (Enabled), 0 (Disabled) or not-configured, not '%s'",
				 a.pos[2]);
	value = a.pos[2][0] - '0';
	body = json_pack("{s:i}", "value", value);
	if (body == NULL)
		return cli_failf(cli, "out of memory");
	(void)snprintf(line, sizeof(line), "Set " ATPC " = %d in GPO %s", value, a.pos[0]);
	rc = run_request(cli, cmd, &a, "PUT", gpo_path(a.pos[0], "/policies", ATPC, NULL), body,
			 true, print_policy, line);
	json_decref(body);
	return rc;
}

/* ---- export ---- */

/* Writes file name of the folder answer doc as dir/name. */
static int write_file(const json_t *doc, const char *dir, const char *name, struct pp_error *err)
{
	const json_t *v = json_object_get(json_object_get(doc, "files"), name);
	uint8_t *bytes = NULL;
	size_t len = 0;
	char *path = NULL;
	int rc = -1;

	if (!json_is_string(v) ||
	    (bytes = base64_decode(json_string_value(v), json_string_length(v), &len)) == NULL) {
		pp_error_set(err, HR_ERROR_INVALID_DATA, "the server's answer has no %s", name);
		goto out;
	}
	if (asprintf(&path, "%s/%s", dir, name) < 0) {
		path = NULL;
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
		goto out;
	}
	rc = atomicfile_write(path, bytes, len, 0644, true, err);
out:
	free(path);
	free(bytes);
	return rc;
}

static int gpo_export(struct cli *cli, int argc, char **argv)
{
	static const char cmd[] = "gpo export";
	struct cli_api *api = NULL;
	struct verb_args a;
	struct pp_error err;
	json_t *doc = NULL;
	const char *id;
	char *folder = NULL, *machine = NULL, *user = NULL, *path;
	int rc = verb_parse(cmd, argc, argv, 0, 2, "a GPO (name or id) and a directory DIR", &a);

	if (rc != 0)
		return rc;
	path = gpo_path(a.pos[0], "/folder", NULL, NULL);
	if (path == NULL)
		return cli_failf(cli, "out of memory");
	api = cli_api_open(cli, cmd, &a.flags, &rc);
	if (api == NULL)
		goto out;
	pp_error_clear(&err);
	doc = cli_api_call(api, "GET", path, NULL, &err);
	if (doc == NULL) {
		rc = cli_fail(cli, &err);
		goto out;
	}
	id = cli_json_str(doc, "id");
	/* The id names a directory: only a GUID in braces will do. */
	if (strlen(id) != 38 || id[0] != '{' || id[37] != '}' ||
	    strspn(id + 1, "0123456789ABCDEFabcdef-") != 36) {
		rc = cli_failf(cli, "the server's answer has no GPO id");
		goto out;
	}
	if (asprintf(&folder, "%s/%s", a.pos[1], id) < 0 ||
	    asprintf(&machine, "%s/Machine", folder) < 0 ||
	    asprintf(&user, "%s/User", folder) < 0) {
		rc = cli_failf(cli, "out of memory");
		goto out;
	}
	if (atomicfile_mkdirs(machine, &err) != 0 || atomicfile_mkdirs(user, &err) != 0 ||
	    write_file(doc, folder, "Machine/Registry.pol", &err) != 0 ||
	    write_file(doc, folder, "GPT.INI", &err) != 0) {
		rc = cli_fail(cli, &err);
		goto out;
	}
	cli_log(cli, CMTRACE_INFO, "Exported GPO %s %s version %lld to %s",
		cli_json_str(doc, "name"), id, cli_json_int(doc, "version", 0), folder);
	printf("Exported GPO %s %s version %lld to %s\n", cli_json_str(doc, "name"), id,
	       cli_json_int(doc, "version", 0), folder);
	rc = CLI_EXIT_OK;
out:
	free(folder);
	free(machine);
	free(user);
	free(path);
	json_decref(doc);
	cli_api_free(api);
	return rc;
}

int cli_gpo(struct cli *cli, int argc, char **argv)
{
	static const struct cli_verb verbs[] = {
	    {"create", "make a group policy object", create_manual, gpo_create},
	    {"list", "the group policy objects", list_manual, gpo_list},
	    {"show", "what a GPO holds", show_manual, gpo_show},
	    {"delete", "delete a GPO", delete_manual, gpo_delete},
	    {"link", "link a GPO to a collection", link_manual, gpo_link},
	    {"unlink", "take a GPO's link to a collection away", unlink_manual, gpo_unlink},
	    {"import-cert", "put a certificate into a GPO's policy store", import_manual,
	     gpo_import_cert},
	    {"remove-cert", "take a certificate out of a GPO's policy store", remove_manual,
	     gpo_remove_cert},
	    {"set-policy", "set or unset AcceptTrustedPublisherCerts in a GPO", set_policy_manual,
	     gpo_set_policy},
	    {"export", "write a GPO's SYSVOL folder", export_manual, gpo_export},
	};

	return cli_dispatch(cli, "gpo", verbs, sizeof(verbs) / sizeof(verbs[0]), argc - 1,
			    argv + 1);
}
