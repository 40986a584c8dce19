/* cli_catalog.c - patchpoint catalog import|export|list and patchpoint updates list|show, over
 * patchpointd's API (docs/api.md). A catalog goes up as a resumable upload, then the server
 * imports it in one transaction. */
#include "cli.h"
#include "cli_api.h"

#include "atomicfile.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum {
	OPT_JSON = 1,
	OPT_NAME,
	OPT_ALLOW_UNSIGNED,
	OPT_OUT,
	OPT_VENDOR,
	OPT_PRODUCT,
	OPT_TITLE,
	OPT_CATALOG,
	OPT_PUBLISHED,
	OPT_UNPUBLISHED,
	OPT_SDP,
};

static const char catalog_import_manual[] =
    "NAME\n"
    "    patchpoint catalog import - import a third-party catalog or one SDP into the site\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint catalog import FILE [--name NAME] [--allow-unsigned-content] [--json]\n"
    "\n"
    "DESCRIPTION\n"
    "    Reads FILE, a SCUP catalog (smc:SystemsManagementCatalog, as vendors such as HP and\n"
    "    Dell publish them) or a single Software Distribution Package\n"
    "    (sdp:SoftwareDistributionPackage), plain XML or gzip-compressed (.xml.gz), sends it to\n"
    "    patchpointd as a resumable upload and imports every package into the catalog NAME.\n"
    "    The import is one transaction: a malformed file imports nothing. Prints how many\n"
    "    updates were imported, updated (the package changed: a new revision), unchanged and\n"
    "    skipped, with the reason for each skipped package. Importing the same file again\n"
    "    changes nothing. The server logs the result in SMS_ISVUPDATES_SYNCAGENT.log.\n"
    "\n"
    "OPTIONS\n"
    "    --name NAME                the catalog (default: FILE's name without directories and\n"
    "                               without .xml, .gz, .sdp)\n"
    "    --allow-unsigned-content   the publisher option \"allow unsigned content\" for this\n"
    "                               catalog's updates (off by default, as in the console)\n"
    "    --json                     print the server's answer as JSON\n" CLI_API_MANUAL_OPTIONS "\n"
    "EXIT STATUS\n"
    "    0 imported (even with skipped packages), 1 nothing imported, 2 usage error\n"
    "\n" CLI_API_MANUAL_FILES;

static const char catalog_export_manual[] =
    "NAME\n"
    "    patchpoint catalog export - write the site's updates as a SCUP catalog\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint catalog export [--out FILE] [--catalog NAME] [--vendor V] [--product P]\n"
    "                              [--title TEXT] [--published | --unpublished]\n"
    "\n"
    "DESCRIPTION\n"
    "    Writes the updates that match the filters as one smc:SystemsManagementCatalog, each\n"
    "    package as it was imported (rules, handlers and origin files unchanged), to FILE\n"
    "    (written whole or not at all) or to standard output. The result imports back with\n"
    "    'patchpoint catalog import' and opens in SCUP.\n"
    "\n"
    "OPTIONS\n"
    "    --out FILE   write to FILE instead of standard output\n"
    "    filters      as for 'patchpoint updates list'\n" CLI_API_MANUAL_OPTIONS "\n"
    "EXIT STATUS\n"
    "    0 success, 1 failure, 2 usage error\n";

static const char catalog_list_manual[] =
    "NAME\n"
    "    patchpoint catalog list - the catalogs imported into the site\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint catalog list [--json]\n"
    "\n"
    "DESCRIPTION\n"
    "    One line per catalog: its name, whether unsigned content is allowed, when it was\n"
    "    first imported.\n"
    "\n"
    "OPTIONS\n"
    "    --json   the server's answer as JSON\n" CLI_API_MANUAL_OPTIONS;

static const char updates_list_manual[] =
    "NAME\n"
    "    patchpoint updates list - the third-party updates of the site\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint updates list [--vendor V] [--product P] [--title TEXT] [--catalog NAME]\n"
    "                            [--published | --unpublished] [--json]\n"
    "\n"
    "DESCRIPTION\n"
    "    One line per update, by vendor, product and title: id, revision, state (metadata,\n"
    "    published, expired), classification, vendor, product, title.\n"
    "\n"
    "OPTIONS\n"
    "    --vendor V      only updates whose vendor is V (case-insensitive)\n"
    "    --product P     only updates whose product is P (case-insensitive)\n"
    "    --title TEXT    only updates whose title contains TEXT (case-insensitive)\n"
    "    --catalog NAME  only updates of catalog NAME\n"
    "    --published     only updates with published content\n"
    "    --unpublished   only updates without\n"
    "    --json          the server's answer as JSON\n" CLI_API_MANUAL_OPTIONS;

static const char updates_show_manual[] =
    "NAME\n"
    "    patchpoint updates show - one third-party update in full\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint updates show ID [--json | --sdp]\n"
    "\n"
    "DESCRIPTION\n"
    "    The update's properties, its installable items with the command line and return\n"
    "    codes of their installer, and the origin files (name, size, SHA-1 digest, URI) that\n"
    "    its content must match.\n"
    "\n"
    "OPTIONS\n"
    "    --json   the server's answer as JSON\n"
    "    --sdp    the update's Software Distribution Package (XML) as "
    "stored\n" CLI_API_MANUAL_OPTIONS;

/* ---- catalog import ---- */

static void print_import(const json_t *doc)
{
	const json_t *skip;
	size_t i;

	printf("Catalog %s: %lld packages: %lld imported, %lld updated, %lld unchanged, %lld "
	       "skipped\n",
	       cli_json_str(doc, "catalog"), cli_json_int(doc, "packages", 0),
	       cli_json_int(doc, "imported", 0), cli_json_int(doc, "updated", 0),
	       cli_json_int(doc, "unchanged", 0), cli_json_int(doc, "skipped", 0));
	json_array_foreach(json_object_get(doc, "skipped_packages"), i, skip)
	{
		const char *id = cli_json_str(skip, "package_id");

		printf("  skipped package %lld %s: %s\n", cli_json_int(skip, "index", 0),
		       id[0] != '\0' ? id : "(no PackageID)", cli_json_str(skip, "reason"));
	}
}

static int catalog_import(struct cli *cli, int argc, char **argv)
{
	static const struct option options[] = {
	    {"name", required_argument, NULL, OPT_NAME},
	    {"allow-unsigned-content", no_argument, NULL, OPT_ALLOW_UNSIGNED},
	    {"json", no_argument, NULL, OPT_JSON},
	    CLI_API_LONG_OPTIONS,
	    {NULL, 0, NULL, 0},
	};
	struct cli_api_flags flags = {0};
	struct cli_api *api = NULL;
	struct pp_error err;
	const char *name = NULL, *file, *base;
	char id[33];
	json_t *body = NULL, *doc = NULL;
	bool json = false, allow_unsigned = false;
	int c, rc;

	optind = 0;
	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		if (c == OPT_NAME)
			name = optarg;
		else if (c == OPT_ALLOW_UNSIGNED)
			allow_unsigned = true;
		else if (c == OPT_JSON)
			json = true;
		else if (!cli_api_flag(&flags, c, optarg))
			return cli_usage("catalog import", "invalid option");
	}
	if (argc - optind != 1)
		return cli_usage("catalog import", "expected one catalog FILE");
	file = argv[optind];
	if (access(file, R_OK) != 0) {
		pp_error_clear(&err);
		pp_error_set_errno(&err, errno, "cannot read %s", file);
		return cli_fail(cli, &err);
	}
	api = cli_api_open(cli, "catalog import", &flags, &rc);
	if (api == NULL)
		return rc;
	pp_error_clear(&err);
	base = strrchr(file, '/');
	base = base != NULL ? base + 1 : file;
	if (cli_api_upload(api, file, base, id, true, &err) != 0) {
		rc = cli_fail(cli, &err);
		goto out;
	}
	body = json_pack("{s:s, s:b}", "upload", id, "allow_unsigned_content", allow_unsigned);
	if (body == NULL ||
	    (name != NULL && json_object_set_new(body, "name", json_string(name)) != 0)) {
		rc = cli_failf(cli, "out of memory");
		goto out;
	}
	doc = cli_api_call(api, "POST", "/api/v1/catalogs/import", body, &err);
	if (doc == NULL) {
		rc = cli_fail(cli, &err);
		goto out;
	}
	cli_log(cli, CMTRACE_INFO,
		"Catalog %s imported from %s: %lld imported, %lld updated, %lld "
		"unchanged, %lld skipped",
		cli_json_str(doc, "catalog"), file, cli_json_int(doc, "imported", 0),
		cli_json_int(doc, "updated", 0), cli_json_int(doc, "unchanged", 0),
		cli_json_int(doc, "skipped", 0));
	if (json) {
		rc = cli_print_json(doc) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
		doc = NULL;
	} else {
		print_import(doc);
		rc = CLI_EXIT_OK;
	}
out:
	json_decref(body);
	json_decref(doc);
	cli_api_free(api);
	return rc;
}

/* ---- filters shared by updates list and catalog export ---- */

struct update_filter {
	const char *vendor, *product, *title, *catalog;
	int published; /* -1 any */
};

/* Handles a filter option; returns whether c was one. */
static bool filter_option(struct update_filter *f, int c, const char *arg)
{
	switch (c) {
	case OPT_VENDOR:
		f->vendor = arg;
		return true;
	case OPT_PRODUCT:
		f->product = arg;
		return true;
	case OPT_TITLE:
		f->title = arg;
		return true;
	case OPT_CATALOG:
		f->catalog = arg;
		return true;
	case OPT_PUBLISHED:
		f->published = 1;
		return true;
	case OPT_UNPUBLISHED:
		f->published = 0;
		return true;
	default:
		return false;
	}
}

#define FILTER_OPTIONS                                                                             \
	{"vendor", required_argument, NULL, OPT_VENDOR},                                           \
	    {"product", required_argument, NULL, OPT_PRODUCT},                                     \
	    {"title", required_argument, NULL, OPT_TITLE},                                         \
	    {"catalog", required_argument, NULL, OPT_CATALOG},                                     \
	    {"published", no_argument, NULL, OPT_PUBLISHED},                                       \
	{                                                                                          \
		"unpublished", no_argument, NULL, OPT_UNPUBLISHED                                  \
	}

/* base + "?vendor=...&..." with every value escaped; malloc'd, NULL when out of memory. */
static char *filter_path(const char *base, const struct update_filter *f)
{
	const char *names[] = {"vendor", "product", "title", "catalog"};
	const char *values[] = {f->vendor, f->product, f->title, f->catalog};
	size_t size = strlen(base) + 64;
	char *path, sep = '?';

	for (size_t i = 0; i < 4; i++)
		size += values[i] != NULL ? strlen(names[i]) + 2 + 3 * strlen(values[i]) : 0;
	path = malloc(size);
	if (path == NULL)
		return NULL;
	(void)snprintf(path, size, "%s", base);
	for (size_t i = 0; i < 4; i++) {
		char *v;

		if (values[i] == NULL)
			continue;
		v = cli_api_escape(values[i]);
		if (v == NULL) {
			free(path);
			return NULL;
		}
		(void)snprintf(path + strlen(path), size - strlen(path), "%c%s=%s", sep, names[i],
			       v);
		sep = '&';
		free(v);
	}
	if (f->published >= 0)
		(void)snprintf(path + strlen(path), size - strlen(path), "%cpublished=%s", sep,
			       f->published ? "true" : "false");
	return path;
}

/* ---- catalog export ---- */

static int catalog_export(struct cli *cli, int argc, char **argv)
{
	static const struct option options[] = {
	    {"out", required_argument, NULL, OPT_OUT},
	    FILTER_OPTIONS,
	    CLI_API_LONG_OPTIONS,
	    {NULL, 0, NULL, 0},
	};
	struct cli_api_flags flags = {0};
	struct update_filter f = {.published = -1};
	struct cli_api_response resp = {0};
	struct cli_api *api = NULL;
	struct pp_error err;
	const char *out = NULL;
	char *path = NULL;
	int c, rc;

	optind = 0;
	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		if (c == OPT_OUT)
			out = optarg;
		else if (!filter_option(&f, c, optarg) && !cli_api_flag(&flags, c, optarg))
			return cli_usage("catalog export", "invalid option");
	}
	if (argc != optind)
		return cli_usage("catalog export", "unexpected argument '%s'", argv[optind]);
	api = cli_api_open(cli, "catalog export", &flags, &rc);
	if (api == NULL)
		return rc;
	pp_error_clear(&err);
	path = filter_path("/api/v1/catalogs/export", &f);
	if (path == NULL) {
		rc = cli_failf(cli, "out of memory");
		goto done;
	}
	if (cli_api_request(api, "GET", path, NULL, &resp, &err) != 0) {
		rc = cli_fail(cli, &err);
		goto done;
	}
	if (out != NULL) {
		rc = atomicfile_write(out, resp.body, resp.len, 0644, true, &err) == 0
			 ? CLI_EXIT_OK
			 : cli_fail(cli, &err);
	} else {
		rc = fwrite(resp.body, 1, resp.len, stdout) == resp.len && fflush(stdout) == 0
			 ? CLI_EXIT_OK
			 : cli_failf(cli, "cannot write the catalog to standard output");
	}
done:
	free(path);
	cli_api_response_free(&resp);
	cli_api_free(api);
	return rc;
}

static int catalog_list(struct cli *cli, int argc, char **argv)
{
	const json_t *cat;
	json_t *doc = NULL;
	char added[32];
	size_t i;
	int rc = cli_api_read_verb(cli, "catalog list", argc, argv, "/api/v1/catalogs", &doc);

	if (doc == NULL)
		return rc;
	printf("%-40s %-16s %s\n", "Catalog", "Unsigned content", "Added");
	json_array_foreach(json_object_get(doc, "catalogs"), i, cat)
	{
		cli_format_time(cli_json_int(cat, "added_at", 0), added, sizeof(added));
		printf("%-40s %-16s %s\n", cli_json_str(cat, "name"),
		       cli_json_bool(cat, "allow_unsigned_content") ? "allowed" : "refused", added);
	}
	json_decref(doc);
	return rc;
}

/* ---- updates list / show ---- */

static int updates_list(struct cli *cli, int argc, char **argv)
{
	static const struct option options[] = {
	    {"json", no_argument, NULL, OPT_JSON},
	    FILTER_OPTIONS,
	    CLI_API_LONG_OPTIONS,
	    {NULL, 0, NULL, 0},
	};
	struct cli_api_flags flags = {0};
	struct update_filter f = {.published = -1};
	struct cli_api *api = NULL;
	struct pp_error err;
	const json_t *u;
	json_t *doc = NULL;
	char *path = NULL;
	bool json = false;
	size_t i;
	int c, rc;

	optind = 0;
	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		if (c == OPT_JSON)
			json = true;
		else if (!filter_option(&f, c, optarg) && !cli_api_flag(&flags, c, optarg))
			return cli_usage("updates list", "invalid option");
	}
	if (argc != optind)
		return cli_usage("updates list", "unexpected argument '%s'", argv[optind]);
	api = cli_api_open(cli, "updates list", &flags, &rc);
	if (api == NULL)
		return rc;
	pp_error_clear(&err);
	path = filter_path("/api/v1/updates", &f);
	doc = path != NULL ? cli_api_call(api, "GET", path, NULL, &err) : NULL;
	if (doc == NULL) {
		rc = path != NULL ? cli_fail(cli, &err) : cli_failf(cli, "out of memory");
		goto out;
	}
	if (json) {
		rc = cli_print_json(doc) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
		doc = NULL;
		goto out;
	}
	printf("%-36s %4s %-9s %-15s %-20s %-20s %s\n", "Update ID", "Rev", "State",
	       "Classification", "Vendor", "Product", "Title");
	json_array_foreach(json_object_get(doc, "updates"), i, u)
	{
		printf("%-36s %4lld %-9s %-15s %-20s %-20s %s\n", cli_json_str(u, "id"),
		       cli_json_int(u, "revision", 0), cli_json_str(u, "state"),
		       cli_json_str(u, "classification"), cli_json_str(u, "vendor"),
		       cli_json_str(u, "product"), cli_json_str(u, "title"));
	}
	rc = CLI_EXIT_OK;
out:
	free(path);
	json_decref(doc);
	cli_api_free(api);
	return rc;
}

static void print_update(const json_t *u)
{
	const json_t *item, *f, *r;
	size_t i, j;

	printf("Update ID:       %s (revision %lld, %s)\n", cli_json_str(u, "id"),
	       cli_json_int(u, "revision", 0), cli_json_str(u, "state"));
	printf("Title:           %s\n", cli_json_str(u, "title"));
	printf("Vendor:          %s\n", cli_json_str(u, "vendor"));
	printf("Product:         %s\n", cli_json_str(u, "product"));
	printf("Classification:  %s\n", cli_json_str(u, "classification"));
	printf("Severity:        %s\n", cli_json_str(u, "severity"));
	printf("KB article:      %s\n", cli_json_str(u, "kb"));
	printf("Catalog:         %s\n", cli_json_str(u, "catalog")[0] != '\0'
					    ? cli_json_str(u, "catalog")
					    : "(created by an administrator)");
	printf("Created:         %s\n", cli_json_str(u, "creation_date"));
	if (cli_json_str(u, "description")[0] != '\0')
		printf("Description:     %s\n", cli_json_str(u, "description"));
	printf("Supersedes:      %zu update(s)\n",
	       json_array_size(json_object_get(u, "superseded")));
	json_array_foreach(json_object_get(u, "items"), i, item)
	{
		const json_t *h = json_object_get(item, "handler");

		printf("Installable item %s\n", cli_json_str(item, "id"));
		if (strcmp(cli_json_str(h, "type"), "CommandLineInstallation") == 0) {
			printf("  Command line:  %s %s\n", cli_json_str(h, "program"),
			       cli_json_str(h, "arguments"));
			printf("  Default:       %s%s\n", cli_json_str(h, "default_result"),
			       cli_json_bool(h, "reboot_by_default") ? ", reboot" : "");
			json_array_foreach(json_object_get(h, "return_codes"), j, r)
			{
				printf("  Return code %lld: %s%s\n", cli_json_int(r, "code", 0),
				       cli_json_str(r, "result"),
				       cli_json_bool(r, "reboot") ? ", reboot required" : "");
			}
		} else {
			printf("  Installer:     %s (kept, not run by patchpoint)\n",
			       cli_json_str(h, "type"));
		}
		json_array_foreach(json_object_get(item, "origin_files"), j, f)
		{
			printf("  Origin file:   %s, %lld bytes, SHA-1 %s\n",
			       cli_json_str(f, "file_name"), cli_json_int(f, "size", 0),
			       cli_json_str(f, "digest"));
			if (cli_json_str(f, "origin_uri")[0] != '\0')
				printf("                 %s\n", cli_json_str(f, "origin_uri"));
		}
	}
}

static int updates_show(struct cli *cli, int argc, char **argv)
{
	static const struct option options[] = {
	    {"json", no_argument, NULL, OPT_JSON},
	    {"sdp", no_argument, NULL, OPT_SDP},
	    CLI_API_LONG_OPTIONS,
	    {NULL, 0, NULL, 0},
	};
	struct cli_api_flags flags = {0};
	struct cli_api_response resp = {0};
	struct cli_api *api = NULL;
	struct pp_error err;
	json_t *doc = NULL;
	char *id = NULL, path[160];
	bool json = false, sdp = false;
	int c, rc;

	optind = 0;
	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		if (c == OPT_JSON)
			json = true;
		else if (c == OPT_SDP)
			sdp = true;
		else if (!cli_api_flag(&flags, c, optarg))
			return cli_usage("updates show", "invalid option");
	}
	if (argc - optind != 1)
		return cli_usage("updates show", "expected one update ID");
	if (json && sdp)
		return cli_usage("updates show", "--json and --sdp exclude each other");
	if (strlen(argv[optind]) > 64)
		return cli_usage("updates show", "'%.64s...' is not an update ID", argv[optind]);
	api = cli_api_open(cli, "updates show", &flags, &rc);
	if (api == NULL)
		return rc;
	pp_error_clear(&err);
	id = cli_api_escape(argv[optind]);
	if (id == NULL) {
		rc = cli_failf(cli, "out of memory");
		goto out;
	}
	(void)snprintf(path, sizeof(path), "/api/v1/updates/%s%s", id, sdp ? "/sdp" : "");
	if (sdp) {
		rc = cli_api_request(api, "GET", path, NULL, &resp, &err) != 0 ? cli_fail(cli, &err)
		     : fwrite(resp.body, 1, resp.len, stdout) == resp.len
			 ? CLI_EXIT_OK
			 : cli_failf(cli, "cannot write to standard output");
		goto out;
	}
	doc = cli_api_call(api, "GET", path, NULL, &err);
	if (doc == NULL) {
		rc = cli_fail(cli, &err);
		goto out;
	}
	if (json) {
		rc = cli_print_json(doc) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
		doc = NULL;
	} else {
		print_update(doc);
		rc = CLI_EXIT_OK;
	}
out:
	free(id);
	json_decref(doc);
	cli_api_response_free(&resp);
	cli_api_free(api);
	return rc;
}

int cli_catalog(struct cli *cli, int argc, char **argv)
{
	static const struct cli_verb verbs[] = {
	    {"import", "import a SCUP catalog or an SDP (.xml, .xml.gz)", catalog_import_manual,
	     catalog_import},
	    {"export", "write updates as a SCUP catalog", catalog_export_manual, catalog_export},
	    {"list", "the catalogs of the site", catalog_list_manual, catalog_list},
	};

	return cli_dispatch(cli, "catalog", verbs, sizeof(verbs) / sizeof(verbs[0]), argc - 1,
			    argv + 1);
}

int cli_updates(struct cli *cli, int argc, char **argv)
{
	static const struct cli_verb verbs[] = {
	    {"list", "the third-party updates, filtered", updates_list_manual, updates_list},
	    {"show", "one update in full", updates_show_manual, updates_show},
	    {"revise", "a new revision (content is immutable per revision)",
	     cli_updates_revise_manual, cli_updates_revise},
	    {"expire", "expire an update", cli_updates_expire_manual, cli_updates_expire},
	    {"delete", "delete an unpublished or expired update", cli_updates_delete_manual,
	     cli_updates_delete},
	};

	return cli_dispatch(cli, "updates", verbs, sizeof(verbs) / sizeof(verbs[0]), argc - 1,
			    argv + 1);
}
