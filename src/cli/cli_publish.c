/* cli_publish.c - patchpoint publish, patchpoint deploy and patchpoint deployments list, and the
 * verbs that change an update (updates revise|expire|delete), over patchpointd's API. Content
 * goes up as resumable uploads first; the server packs, signs and stores it. */
#include "cli.h"
#include "cli_api.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum {
	OPT_JSON = 1,
	OPT_CONTENT,
	OPT_NEW,
	OPT_METADATA_ONLY,
	OPT_TITLE,
	OPT_VENDOR,
	OPT_PRODUCT,
	OPT_VERSION,
	OPT_PROGRAM,
	OPT_ARGUMENTS,
	OPT_DESCRIPTION,
	OPT_CLASSIFICATION,
	OPT_COLLECTION,
	OPT_AVAILABLE,
	OPT_DEADLINE,
	OPT_UPDATE,
};

#define PUBLISH_CONTENT_MAX 64

static const char publish_manual[] =
    "NAME\n"
    "    patchpoint publish - publish signed content for a third-party update\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint publish UPDATE --content FILE [--content FILE...] [--json]\n"
    "    patchpoint publish UPDATE --metadata-only [--json]\n"
    "    patchpoint publish --new --title TITLE --vendor VENDOR --product PRODUCT\n"
    "                       --version VERSION --program PROGRAM [--arguments ARGS]\n"
    "                       [--description TEXT] [--classification NAME]\n"
    "                       --content FILE [--content FILE...] [--json]\n"
    "\n"
    "DESCRIPTION\n"
    "    Sends each FILE to the software update point as a resumable upload (a progress bar\n"
    "    on a terminal; an interrupted upload goes on where it stopped), then has it pack the\n"
    "    files into a cabinet signed with the WSUS signing certificate, store it under its\n"
    "    SHA-1 (WSUSContent) and record its SHA-1, SHA-256 and size for the update's current\n"
    "    revision. Prints the update ID, the revision and the content URL.\n"
    "\n"
    "    An UPDATE imported from a vendor catalog must be given exactly its OriginFiles, each\n"
    "    with the catalog's size and SHA-1 digest. Content the vendor signed (a signed cabinet)\n"
    "    must verify, and its signer, added to Certificates as a Third-party Software Updates\n"
    "    Content certificate the first time, must be approved ('patchpoint certificates\n"
    "    approve') and not blocked. Other content counts as unsigned and is refused unless the\n"
    "    catalog was imported with --allow-unsigned-content:\n"
    "        Failed to publish content for update \"ID\" because the content is unsigned. Only\n"
    "        content with valid signatures can be published.\n"
    "    Without a valid signing certificate nothing is published:\n"
    "        No certificate found in the WSUS store on this server\n"
    "    Content is immutable per revision: publishing the same files again changes nothing,\n"
    "    other files are refused until 'patchpoint updates revise UPDATE'.\n"
    "\n"
    "    --new creates an update of your own (a new ID, no catalog) whose only installable item\n"
    "    runs PROGRAM (one of the files) with ARGS from the extracted cabinet; exit codes 0,\n"
    "    1641 and 3010 mean success (the last two with a restart). It is signed with the WSUS\n"
    "    signing certificate alone.\n"
    "\n"
    "OPTIONS\n"
    "    --content FILE      a content file (repeat for several; at most 64); its name in the\n"
    "                        cabinet is FILE's name\n"
    "    --metadata-only     publish the update's metadata without content\n"
    "    --new               create the update (with the options below)\n"
    "    --title, --vendor, --product, --version, --program, --arguments, --description,\n"
    "    --classification    the new update's properties (classification default Updates)\n"
    "    --json              print the server's answer as JSON\n" CLI_API_MANUAL_OPTIONS "\n"
    "EXIT STATUS\n"
    "    0 published (or already published with the same content), 1 refused or failed,\n"
    "    2 usage error\n"
    "\n" CLI_API_MANUAL_FILES;

static const char deploy_manual[] =
    "NAME\n"
    "    patchpoint deploy - deploy a published update to a collection\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint deploy UPDATE [--collection NAME] [--available TIME] [--deadline TIME]\n"
    "                      [--json]\n"
    "\n"
    "DESCRIPTION\n"
    "    Makes a published update (with content) available to the devices of a collection\n"
    "    from TIME on, and required by the deadline when one is given. TIME is Unix seconds,\n"
    "    'now', or YYYY-MM-DDTHH:MM[:SS]Z (UTC).\n"
    "\n"
    "OPTIONS\n"
    "    --collection NAME   the collection, by name or id (default All Systems, SMS00001)\n"
    "    --available TIME    when it becomes available (default now)\n"
    "    --deadline TIME     when it must be installed (default none)\n"
    "    --json              print the deployment as JSON\n" CLI_API_MANUAL_OPTIONS "\n"
    "EXIT STATUS\n"
    "    0 deployed, 1 refused or failed, 2 usage error\n";

static const char deployments_list_manual[] =
    "NAME\n"
    "    patchpoint deployments list - the deployments of updates\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint deployments list [--update ID] [--json]\n"
    "\n"
    "DESCRIPTION\n"
    "    One line per deployment, newest first: id, update, collection, available time and\n"
    "    deadline.\n"
    "\n"
    "OPTIONS\n"
    "    --update ID   only the deployments of this update\n"
    "    --json        the server's answer as JSON\n" CLI_API_MANUAL_OPTIONS;

const char cli_updates_revise_manual[] =
    "NAME\n"
    "    patchpoint updates revise - start a new revision of an update\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint updates revise ID [--json]\n"
    "\n"
    "DESCRIPTION\n"
    "    Content is immutable per revision. A new revision has no content until it is\n"
    "    published; earlier revisions keep theirs for clients that already hold them.\n"
    "\n"
    "OPTIONS\n"
    "    --json   the update as JSON\n" CLI_API_MANUAL_OPTIONS;

const char cli_updates_expire_manual[] =
    "NAME\n"
    "    patchpoint updates expire - expire an update\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint updates expire ID [--json]\n"
    "\n"
    "DESCRIPTION\n"
    "    An expired update can no longer be published, revised or deployed. Expire an update\n"
    "    before deleting it.\n"
    "\n"
    "OPTIONS\n"
    "    --json   the update as JSON\n" CLI_API_MANUAL_OPTIONS;

const char cli_updates_delete_manual[] =
    "NAME\n"
    "    patchpoint updates delete - delete an update\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint updates delete ID\n"
    "\n"
    "DESCRIPTION\n"
    "    Deletes an update that is not published (or is expired), with its deployments and\n"
    "    the content no other update uses.\n"
    "\n"
    "OPTIONS\n" CLI_API_MANUAL_OPTIONS;

/* ---- publish ---- */

static void print_published(const json_t *doc)
{
	const json_t *u = json_object_get(doc, "update"), *c = json_object_get(doc, "content");

	printf("Update ID: %s\n", cli_json_str(u, "id"));
	printf("Revision:  %lld\n", cli_json_int(u, "revision", 0));
	printf("Title:     %s\n", cli_json_str(u, "title"));
	if (cli_json_bool(c, "metadata_only")) {
		printf("Content:   none (metadata only)\n");
	} else {
		printf("Content:   %s\n", cli_json_str(c, "url"));
		printf("SHA-1:     %s\n", cli_json_str(c, "sha1"));
		printf("SHA-256:   %s\n", cli_json_str(c, "sha256"));
		printf("Size:      %lld bytes\n", cli_json_int(c, "size", 0));
		printf("Signed by: %s\n", cli_json_str(c, "signer"));
	}
	if (cli_json_bool(doc, "already"))
		printf("(already published with this content: nothing changed)\n");
}

static const char *base_name(const char *path)
{
	const char *b = strrchr(path, '/');

	return b != NULL ? b + 1 : path;
}

int cli_publish(struct cli *cli, int argc, char **argv)
{
	static const struct option options[] = {
	    {"content", required_argument, NULL, OPT_CONTENT},
	    {"new", no_argument, NULL, OPT_NEW},
	    {"metadata-only", no_argument, NULL, OPT_METADATA_ONLY},
	    {"title", required_argument, NULL, OPT_TITLE},
	    {"vendor", required_argument, NULL, OPT_VENDOR},
	    {"product", required_argument, NULL, OPT_PRODUCT},
	    {"version", required_argument, NULL, OPT_VERSION},
	    {"program", required_argument, NULL, OPT_PROGRAM},
	    {"arguments", required_argument, NULL, OPT_ARGUMENTS},
	    {"description", required_argument, NULL, OPT_DESCRIPTION},
	    {"classification", required_argument, NULL, OPT_CLASSIFICATION},
	    {"json", no_argument, NULL, OPT_JSON},
	    CLI_API_LONG_OPTIONS,
	    {NULL, 0, NULL, 0},
	};
	static const char *const fields[] = {"title",	    "vendor",	     "product",
					     "version",	    "program",	     "arguments",
					     "description", "classification"};
	struct cli_api_flags flags = {0};
	struct cli_api *api = NULL;
	struct pp_error err;
	const char *files[PUBLISH_CONTENT_MAX], *field[8] = {NULL};
	size_t nfiles = 0;
	json_t *body = NULL, *content = NULL, *doc = NULL;
	bool json = false, is_new = false, metadata_only = false;
	char path[160], *id = NULL;
	int c, rc;

	if (cli_wants_help(argc, argv) || (argc > 1 && strcmp(argv[1], "help") == 0))
		return cli_manual(publish_manual);
	optind = 0;
	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		if (c == OPT_CONTENT) {
			if (nfiles == PUBLISH_CONTENT_MAX)
				return cli_usage("publish", "at most %d --content files",
						 PUBLISH_CONTENT_MAX);
			files[nfiles++] = optarg;
		} else if (c == OPT_NEW) {
			is_new = true;
		} else if (c == OPT_METADATA_ONLY) {
			metadata_only = true;
		} else if (c >= OPT_TITLE && c <= OPT_CLASSIFICATION) {
			field[c - OPT_TITLE] = optarg;
		} else if (c == OPT_JSON) {
			json = true;
		} else if (!cli_api_flag(&flags, c, optarg)) {
			return cli_usage("publish", "invalid option");
		}
	}
	if (is_new) {
		if (argc != optind)
			return cli_usage("publish", "--new takes no UPDATE");
		for (size_t i = 0; i < 5; i++)
			if (field[i] == NULL || field[i][0] == '\0')
				return cli_usage("publish", "--new needs --%s", fields[i]);
		if (metadata_only)
			return cli_usage("publish", "--new publishes content; --metadata-only "
						    "does not apply");
	} else {
		if (argc - optind != 1)
			return cli_usage("publish", "expected one UPDATE (or --new)");
		for (size_t i = 0; i < 8; i++)
			if (field[i] != NULL)
				return cli_usage("publish", "--%s is for --new", fields[i]);
	}
	if (metadata_only && nfiles > 0)
		return cli_usage("publish", "--metadata-only and --content exclude each other");
	if (!metadata_only && nfiles == 0)
		return cli_usage("publish", "--content FILE is required");
	for (size_t i = 0; i < nfiles; i++) {
		if (access(files[i], R_OK) != 0) {
			pp_error_clear(&err);
			pp_error_set_errno(&err, errno, "cannot read %s", files[i]);
			return cli_fail(cli, &err);
		}
	}
	api = cli_api_open(cli, "publish", &flags, &rc);
	if (api == NULL)
		return rc;
	pp_error_clear(&err);
	body = json_object();
	content = json_array();
	if (body == NULL || content == NULL) {
		rc = cli_failf(cli, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < nfiles; i++) {
		char upload[CLI_API_UPLOAD_ID_LEN + 1];

		/* A new update's lone file is sent as the cabinet it will be published in. */
		if (cli_api_upload_as(api, files[i], base_name(files[i]), is_new && nfiles == 1,
				      upload, true, &err) != 0) {
			rc = cli_fail(cli, &err);
			goto out;
		}
		if (json_array_append_new(content, json_pack("{s:s, s:s}", "upload", upload, "name",
							     base_name(files[i]))) != 0) {
			rc = cli_failf(cli, "out of memory");
			goto out;
		}
	}
	if (json_object_set(body, "content", content) != 0) {
		rc = cli_failf(cli, "out of memory");
		goto out;
	}
	if (is_new) {
		for (size_t i = 0; i < 8; i++)
			if (field[i] != NULL &&
			    json_object_set_new(body, fields[i], json_string(field[i])) != 0) {
				rc = cli_failf(cli, "out of memory");
				goto out;
			}
		doc = cli_api_call(api, "POST", "/api/v1/updates", body, &err);
	} else {
		id = cli_api_escape(argv[optind]);
		if (id == NULL || strlen(id) > 100) {
			rc = id == NULL ? cli_failf(cli, "out of memory")
					: cli_usage("publish", "'%.64s' is not an update ID",
						    argv[optind]);
			goto out;
		}
		if (metadata_only && json_object_set_new(body, "metadata_only", json_true()) != 0) {
			rc = cli_failf(cli, "out of memory");
			goto out;
		}
		(void)snprintf(path, sizeof(path), "/api/v1/updates/%s/publish", id);
		doc = cli_api_call(api, "POST", path, body, &err);
	}
	if (doc == NULL) {
		rc = cli_fail(cli, &err);
		goto out;
	}
	cli_log(cli, CMTRACE_INFO, "Published update %s revision %lld: %s",
		cli_json_str(json_object_get(doc, "update"), "id"),
		cli_json_int(json_object_get(doc, "update"), "revision", 0),
		cli_json_bool(json_object_get(doc, "content"), "metadata_only")
		    ? "metadata only"
		    : cli_json_str(json_object_get(doc, "content"), "url"));
	if (json) {
		rc = cli_print_json(doc) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
		doc = NULL;
	} else {
		print_published(doc);
		rc = CLI_EXIT_OK;
	}
out:
	free(id);
	json_decref(content);
	json_decref(body);
	json_decref(doc);
	cli_api_free(api);
	return rc;
}

/* ---- deploy ---- */

int cli_deploy(struct cli *cli, int argc, char **argv)
{
	static const struct option options[] = {
	    {"collection", required_argument, NULL, OPT_COLLECTION},
	    {"available", required_argument, NULL, OPT_AVAILABLE},
	    {"deadline", required_argument, NULL, OPT_DEADLINE},
	    {"json", no_argument, NULL, OPT_JSON},
	    CLI_API_LONG_OPTIONS,
	    {NULL, 0, NULL, 0},
	};
	struct cli_api_flags flags = {0};
	struct cli_api *api = NULL;
	struct pp_error err;
	const char *collection = NULL;
	long long available = -1, deadline = -1;
	json_t *body = NULL, *doc = NULL;
	const json_t *d;
	char when[32], by[32];
	bool json = false;
	int c, rc;

	if (cli_wants_help(argc, argv) || (argc > 1 && strcmp(argv[1], "help") == 0))
		return cli_manual(deploy_manual);
	optind = 0;
	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		if (c == OPT_COLLECTION) {
			collection = optarg;
		} else if (c == OPT_AVAILABLE || c == OPT_DEADLINE) {
			if (cli_parse_time(optarg, c == OPT_AVAILABLE ? &available : &deadline) !=
			    0)
				return cli_usage("deploy",
						 "'%s' is not a time (Unix seconds, now, or "
						 "YYYY-MM-DDTHH:MM[:SS]Z)",
						 optarg);
		} else if (c == OPT_JSON) {
			json = true;
		} else if (!cli_api_flag(&flags, c, optarg)) {
			return cli_usage("deploy", "invalid option");
		}
	}
	if (argc - optind != 1)
		return cli_usage("deploy", "expected one UPDATE");
	if (available >= 0 && deadline >= 0 && deadline < available)
		return cli_usage("deploy", "the deadline is before the available time");
	api = cli_api_open(cli, "deploy", &flags, &rc);
	if (api == NULL)
		return rc;
	pp_error_clear(&err);
	body = json_pack("{s:s}", "update", argv[optind]);
	if (body == NULL ||
	    (collection != NULL &&
	     json_object_set_new(body, "collection", json_string(collection)) != 0) ||
	    (available >= 0 &&
	     json_object_set_new(body, "available_at", json_integer(available)) != 0) ||
	    (deadline >= 0 &&
	     json_object_set_new(body, "deadline_at", json_integer(deadline)) != 0)) {
		rc = cli_failf(cli, "out of memory");
		goto out;
	}
	doc = cli_api_call(api, "POST", "/api/v1/deployments", body, &err);
	if (doc == NULL) {
		rc = cli_fail(cli, &err);
		goto out;
	}
	d = json_object_get(doc, "deployment");
	cli_log(cli, CMTRACE_INFO, "Deployed update %s to %s (deployment %lld)",
		cli_json_str(d, "update_id"), cli_json_str(d, "collection"),
		cli_json_int(d, "id", 0));
	if (json) {
		rc = cli_print_json(doc) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
		doc = NULL;
		goto out;
	}
	cli_format_time(cli_json_int(d, "available_at", 0), when, sizeof(when));
	cli_format_time(cli_json_int(d, "deadline_at", 0), by, sizeof(by));
	printf("Deployment %lld: %s (%s) to %s (%s), available %s, deadline %s\n",
	       cli_json_int(d, "id", 0), cli_json_str(d, "update_id"), cli_json_str(d, "title"),
	       cli_json_str(d, "collection"), cli_json_str(d, "collection_id"), when, by);
	rc = CLI_EXIT_OK;
out:
	json_decref(body);
	json_decref(doc);
	cli_api_free(api);
	return rc;
}

static int deployments_list(struct cli *cli, int argc, char **argv)
{
	static const struct option options[] = {
	    {"update", required_argument, NULL, OPT_UPDATE},
	    {"json", no_argument, NULL, OPT_JSON},
	    CLI_API_LONG_OPTIONS,
	    {NULL, 0, NULL, 0},
	};
	struct cli_api_flags flags = {0};
	struct cli_api *api = NULL;
	struct pp_error err;
	const char *update = NULL;
	json_t *doc = NULL;
	const json_t *d;
	char path[160], when[32], by[32], *esc = NULL;
	bool json = false;
	size_t i;
	int c, rc;

	optind = 0;
	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		if (c == OPT_UPDATE)
			update = optarg;
		else if (c == OPT_JSON)
			json = true;
		else if (!cli_api_flag(&flags, c, optarg))
			return cli_usage("deployments list", "invalid option");
	}
	if (argc != optind)
		return cli_usage("deployments list", "unexpected argument '%s'", argv[optind]);
	if (update != NULL && strlen(update) > 64)
		return cli_usage("deployments list", "'%.64s...' is not an update ID", update);
	api = cli_api_open(cli, "deployments list", &flags, &rc);
	if (api == NULL)
		return rc;
	pp_error_clear(&err);
	esc = update != NULL ? cli_api_escape(update) : NULL;
	(void)snprintf(path, sizeof(path), "/api/v1/deployments%s%s", esc != NULL ? "?update=" : "",
		       esc != NULL ? esc : "");
	doc = cli_api_call(api, "GET", path, NULL, &err);
	if (doc == NULL) {
		rc = cli_fail(cli, &err);
		goto out;
	}
	if (json) {
		rc = cli_print_json(doc) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
		doc = NULL;
		goto out;
	}
	printf("%-5s %-36s %-20s %-24s %-24s %s\n", "Id", "Update ID", "Collection", "Available",
	       "Deadline", "Title");
	json_array_foreach(json_object_get(doc, "deployments"), i, d)
	{
		cli_format_time(cli_json_int(d, "available_at", 0), when, sizeof(when));
		cli_format_time(cli_json_int(d, "deadline_at", 0), by, sizeof(by));
		printf("%-5lld %-36s %-20s %-24s %-24s %s\n", cli_json_int(d, "id", 0),
		       cli_json_str(d, "update_id"), cli_json_str(d, "collection"), when, by,
		       cli_json_str(d, "title"));
	}
	rc = CLI_EXIT_OK;
out:
	free(esc);
	json_decref(doc);
	cli_api_free(api);
	return rc;
}

int cli_deployments(struct cli *cli, int argc, char **argv)
{
	static const struct cli_verb verbs[] = {
	    {"list", "the deployments of updates", deployments_list_manual, deployments_list},
	};

	return cli_dispatch(cli, "deployments", verbs, sizeof(verbs) / sizeof(verbs[0]), argc - 1,
			    argv + 1);
}

/* ---- updates revise | expire | delete ---- */

/* One update by ID and one action: POST .../revise or .../expire, or DELETE. */
static int update_action(struct cli *cli, int argc, char **argv, const char *cmd,
			 const char *action)
{
	static const struct option options[] = {
	    {"json", no_argument, NULL, OPT_JSON},
	    CLI_API_LONG_OPTIONS,
	    {NULL, 0, NULL, 0},
	};
	struct cli_api_flags flags = {0};
	struct cli_api_response resp = {0};
	struct cli_api *api = NULL;
	struct pp_error err;
	json_t *doc = NULL;
	const json_t *u;
	char path[200], *id = NULL;
	bool json = false;
	int c, rc;

	optind = 0;
	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		if (c == OPT_JSON && action != NULL)
			json = true;
		else if (!cli_api_flag(&flags, c, optarg))
			return cli_usage(cmd, "invalid option");
	}
	if (argc - optind != 1)
		return cli_usage(cmd, "expected one update ID");
	if (strlen(argv[optind]) > 64)
		return cli_usage(cmd, "'%.64s...' is not an update ID", argv[optind]);
	api = cli_api_open(cli, cmd, &flags, &rc);
	if (api == NULL)
		return rc;
	pp_error_clear(&err);
	id = cli_api_escape(argv[optind]);
	if (id == NULL) {
		rc = cli_failf(cli, "out of memory");
		goto out;
	}
	(void)snprintf(path, sizeof(path), "/api/v1/updates/%s%s%s", id, action != NULL ? "/" : "",
		       action != NULL ? action : "");
	if (action == NULL) {
		rc = cli_api_request(api, "DELETE", path, NULL, &resp, &err) == 0
			 ? CLI_EXIT_OK
			 : cli_fail(cli, &err);
		if (rc == CLI_EXIT_OK) {
			printf("Update %s deleted\n", argv[optind]);
			cli_log(cli, CMTRACE_INFO, "Update %s deleted", argv[optind]);
		}
		goto out;
	}
	doc = cli_api_call(api, "POST", path, NULL, &err);
	if (doc == NULL) {
		rc = cli_fail(cli, &err);
		goto out;
	}
	u = json_object_get(doc, "update");
	cli_log(cli, CMTRACE_INFO, "Update %s: %s, revision %lld", cli_json_str(u, "id"),
		cli_json_str(u, "state"), cli_json_int(u, "revision", 0));
	if (json) {
		rc = cli_print_json(doc) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
		doc = NULL;
		goto out;
	}
	printf("Update %s: revision %lld, %s\n", cli_json_str(u, "id"),
	       cli_json_int(u, "revision", 0), cli_json_str(u, "state"));
	rc = CLI_EXIT_OK;
out:
	free(id);
	json_decref(doc);
	cli_api_response_free(&resp);
	cli_api_free(api);
	return rc;
}

int cli_updates_revise(struct cli *cli, int argc, char **argv)
{
	return update_action(cli, argc, argv, "updates revise", "revise");
}

int cli_updates_expire(struct cli *cli, int argc, char **argv)
{
	return update_action(cli, argc, argv, "updates expire", "expire");
}

int cli_updates_delete(struct cli *cli, int argc, char **argv)
{
	return update_action(cli, argc, argv, "updates delete", NULL);
}
