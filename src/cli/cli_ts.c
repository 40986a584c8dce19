/* cli_ts.c - patchpoint package and patchpoint ts: packages (named folders of files with a
 * version) and task sequences (ordered steps deployed to collections), over patchpointd's API
 * (src/server/ts_api.c, docs/api.md). The server checks every field and answers with one line
 * when it refuses; these commands parse options, send files as resumable uploads and show the
 * answers. */
#include "cli.h"
#include "cli_api.h"

#include "hresult.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PACKAGE_FILES_MAX 256 /* the server's limit (tasksequence.h) */
#define REL_PATH_MAX	  255

enum {
	OPT_JSON = 1,
	OPT_VERSION,
	OPT_NAME,
	OPT_TYPE,
	OPT_STEP_NAME,
	OPT_PACKAGE,
	OPT_COMMAND,
	OPT_TIMEOUT,
	OPT_VALUE,
	OPT_CONTINUE,
	OPT_POSITION,
	OPT_COLLECTION,
	OPT_AVAILABLE,
	OPT_RENAME,
};

#define ALLOW(opt) (1u << (opt))

/* ---- manuals ---- */

static const char package_create_manual[] =
    "NAME\n"
    "    patchpoint package create - make a package: a named folder of files with a version\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint package create NAME --version V (DIR | FILE...) [--json]\n"
    "\n"
    "DESCRIPTION\n"
    "    Sends the files to the site as resumable uploads and makes package NAME of them,\n"
    "    as a ConfigMgr package with source files: each file is kept in the software\n"
    "    update point's content store under its SHA-1 and distributed to devices like\n"
    "    update content (a device checks each file's size, SHA-1 and SHA-256 before it\n"
    "    uses it). With DIR, every regular file under it, by its path relative to DIR\n"
    "    (symbolic links are refused); with FILEs, each by its own name. A Run Command Line\n"
    "    step of a task sequence runs its command in a fresh directory holding these files.\n"
    "    The package gets an id such as PP100010 (packages and task sequences share the id\n"
    "    sequence) and source version 1.\n"
    "\n"
    "OPTIONS\n"
    "    --version V    the package's version (1 to 64 printable characters, no spaces)\n"
    "    --json         the server's answer as JSON\n" CLI_API_MANUAL_OPTIONS "\n"
    "EXIT STATUS\n"
    "    0 created, 1 refused (a name in use, a bad name or version, too many files) or\n"
    "    failed, 2 usage error\n"
    "\n"
    "EXAMPLES\n"
    "    patchpoint publisher cert export --out certs/WSUSSigningCertificate.cer\n"
    "    patchpoint package create \"Import Certificates\" --version 1.0 certs\n";

static const char package_list_manual[] =
    "NAME\n"
    "    patchpoint package list - the packages\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint package list [--json]\n"
    "\n"
    "DESCRIPTION\n"
    "    One line per package: id, name, version, source version, number of files and\n"
    "    their size.\n"
    "\n"
    "OPTIONS\n"
    "    --json   the server's answer as JSON\n" CLI_API_MANUAL_OPTIONS "\n"
    "EXIT STATUS\n"
    "    0 success, 1 failed, 2 usage error\n";

static const char package_show_manual[] =
    "NAME\n"
    "    patchpoint package show - a package and its files\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint package show PACKAGE [--json]\n"
    "\n"
    "DESCRIPTION\n"
    "    PACKAGE is a package's id or name. Shows its version and source version and each\n"
    "    file with its size, SHA-256 and content URL.\n"
    "\n"
    "OPTIONS\n"
    "    --json   the server's answer as JSON\n" CLI_API_MANUAL_OPTIONS "\n"
    "EXIT STATUS\n"
    "    0 success, 1 no such package or failed, 2 usage error\n";

static const char package_update_manual[] =
    "NAME\n"
    "    patchpoint package update - a new version of a package, or a new name\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint package update PACKAGE [--version V] [--rename NAME] [DIR | FILE...]\n"
    "        [--json]\n"
    "\n"
    "DESCRIPTION\n"
    "    With DIR or FILEs the package's files are replaced by these (as 'package create'\n"
    "    reads them), and its source version goes up by one when they differ from the\n"
    "    current ones: devices download the files that changed the next time a step uses\n"
    "    the package, and nothing when they already have the current ones. --version and\n"
    "    --rename change only the version and the name.\n"
    "\n"
    "OPTIONS\n"
    "    --version V     the new version\n"
    "    --rename NAME   the new name\n"
    "    --json          the server's answer as JSON\n" CLI_API_MANUAL_OPTIONS "\n"
    "EXIT STATUS\n"
    "    0 updated, 1 refused or failed, 2 usage error\n";

static const char package_delete_manual[] =
    "NAME\n"
    "    patchpoint package delete - remove a package\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint package delete PACKAGE\n"
    "\n"
    "DESCRIPTION\n"
    "    Refused while a step of a task sequence uses the package (the step is named);\n"
    "    remove the step first. Files no package or update refers to any more leave the\n"
    "    content store at the server's next start.\n"
    "\n"
    "OPTIONS\n" CLI_API_MANUAL_OPTIONS "\n"
    "EXIT STATUS\n"
    "    0 deleted, 1 refused or failed, 2 usage error\n";

static const char ts_create_manual[] =
    "NAME\n"
    "    patchpoint ts create - make an empty task sequence\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint ts create NAME [--json]\n"
    "\n"
    "DESCRIPTION\n"
    "    Makes task sequence NAME without steps (revision 1); add steps with 'ts add-step'\n"
    "    and deploy it with 'ts deploy'.\n"
    "\n"
    "OPTIONS\n"
    "    --json   the server's answer as JSON\n" CLI_API_MANUAL_OPTIONS "\n"
    "EXIT STATUS\n"
    "    0 created, 1 refused (a name in use, a bad name) or failed, 2 usage error\n";

static const char ts_add_step_manual[] =
    "NAME\n"
    "    patchpoint ts add-step - add a step to a task sequence\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint ts add-step TS --type run-command-line --command CMD [--package P]\n"
    "        [--timeout S] [--step-name TEXT] [--continue-on-error] [--position N] [--json]\n"
    "    patchpoint ts add-step TS --type install-software-updates [--step-name TEXT] ...\n"
    "    patchpoint ts add-step TS --type set-policy --name POLICY --value V ...\n"
    "    patchpoint ts add-step TS --type restart ...\n"
    "\n"
    "DESCRIPTION\n"
    "    Adds a step at the end (or at --position N, moving the later ones down); the task\n"
    "    sequence's revision goes up. The agent runs the steps in order and stops at the\n"
    "    first that fails, unless that step has --continue-on-error.\n"
    "\n"
    "    run-command-line          Run Command Line: CMD runs in a fresh directory holding\n"
    "                              the files of package P (an empty one without\n"
    "                              --package), which is its working directory. Words are\n"
    "                              split at blanks, double quotes group; no shell (give\n"
    "                              'sh -c ...' for one). A first word that is a file of the\n"
    "                              package runs from there (a script under /bin/sh), else\n"
    "                              it is looked up in PATH. Exit code 0 succeeds, any\n"
    "                              other fails with HRESULT 0x80070000 | code. At\n"
    "                              the time limit (default 3600 s) it is stopped.\n"
    "    install-software-updates  Install Software Updates: the agent's machine policy,\n"
    "                              scan and deployment evaluation of the updates deployed\n"
    "                              to the device; fails with the HRESULT of the first\n"
    "                              required update that fails.\n"
    "    set-policy                Set Policy: the machine policy value POLICY\n"
    "                              (AcceptTrustedPublisherCerts) is set to V, its source\n"
    "                              task-sequence:<task sequence name>.\n"
    "    restart                   Restart: recorded in smsts.log and in the result; the\n"
    "                              agent does not restart the device.\n"
    "\n"
    "OPTIONS\n"
    "    --type TYPE            one of the four above (required)\n"
    "    --step-name TEXT       the step's name (default: the type's, \"Run Command Line\")\n"
    "    --continue-on-error    a failure of this step does not stop the task sequence\n"
    "    --package P            a package's id or name (run-command-line)\n"
    "    --command CMD          the command line (run-command-line)\n"
    "    --timeout S            seconds it may run, 1 to 604800 (run-command-line)\n"
    "    --name POLICY          the policy value's name (set-policy)\n"
    "    --value V              its value, 0 to 4294967295 (set-policy)\n"
    "    --position N           where the step goes, 1 to the number of steps + 1\n"
    "    --json                 the server's answer as JSON\n" CLI_API_MANUAL_OPTIONS "\n"
    "EXIT STATUS\n"
    "    0 added, 1 refused (an unknown task sequence or package, a field that is not\n"
    "    valid) or failed, 2 usage error\n"
    "\n"
    "EXAMPLES\n"
    "    patchpoint ts add-step Trust --type run-command-line --package \"Import "
    "Certificates\" \\\n"
    "        --command Import-Certificates.sh --step-name \"Import certificates\"\n"
    "    patchpoint ts add-step Trust --type install-software-updates\n"
    "    patchpoint ts add-step Trust --type set-policy --name AcceptTrustedPublisherCerts \\\n"
    "        --value 1\n";

static const char ts_remove_step_manual[] =
    "NAME\n"
    "    patchpoint ts remove-step - remove a step from a task sequence\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint ts remove-step TS N [--json]\n"
    "\n"
    "DESCRIPTION\n"
    "    Removes step N (its position, as 'ts show' numbers them); the later steps move up\n"
    "    and the revision goes up.\n"
    "\n"
    "OPTIONS\n"
    "    --json   the server's answer as JSON\n" CLI_API_MANUAL_OPTIONS "\n"
    "EXIT STATUS\n"
    "    0 removed, 1 refused (no such task sequence or step) or failed, 2 usage error\n";

static const char ts_list_manual[] =
    "NAME\n"
    "    patchpoint ts list - the task sequences\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint ts list [--json]\n"
    "\n"
    "DESCRIPTION\n"
    "    One line per task sequence: id, name, revision, steps and deployments.\n"
    "\n"
    "OPTIONS\n"
    "    --json   the server's answer as JSON\n" CLI_API_MANUAL_OPTIONS "\n"
    "EXIT STATUS\n"
    "    0 success, 1 failed, 2 usage error\n";

static const char ts_show_manual[] =
    "NAME\n"
    "    patchpoint ts show - a task sequence's steps and deployments\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint ts show TS [--json]\n"
    "\n"
    "DESCRIPTION\n"
    "    TS is a task sequence's id or name. Each step with its position, name, type,\n"
    "    continue-on-error and what its type needs; each deployment with its collection and\n"
    "    available time.\n"
    "\n"
    "OPTIONS\n"
    "    --json   the server's answer as JSON\n" CLI_API_MANUAL_OPTIONS "\n"
    "EXIT STATUS\n"
    "    0 success, 1 no such task sequence or failed, 2 usage error\n";

static const char ts_delete_manual[] =
    "NAME\n"
    "    patchpoint ts delete - remove a task sequence\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint ts delete TS\n"
    "\n"
    "DESCRIPTION\n"
    "    Refused while it is deployed (undeploy it first); its run results go with it.\n"
    "\n"
    "OPTIONS\n" CLI_API_MANUAL_OPTIONS "\n"
    "EXIT STATUS\n"
    "    0 deleted, 1 refused or failed, 2 usage error\n";

static const char ts_deploy_manual[] =
    "NAME\n"
    "    patchpoint ts deploy - deploy a task sequence to a collection\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint ts deploy TS --collection C [--available TIME] [--json]\n"
    "\n"
    "DESCRIPTION\n"
    "    Every device of collection C (a name or id; All Systems is SMS00001) runs the task\n"
    "    sequence once, on its own, at the first task sequence check of 'patchpoint-agent\n"
    "    run' after TIME (default now); 'patchpoint-agent ts run' runs it again on demand.\n"
    "    A task sequence without steps cannot be deployed. TIME is Unix seconds, 'now', or\n"
    "    YYYY-MM-DDTHH:MM[:SS]Z (UTC).\n"
    "\n"
    "OPTIONS\n"
    "    --collection C     the collection (required)\n"
    "    --available TIME   from when devices run it (default now)\n"
    "    --json             the server's answer as JSON\n" CLI_API_MANUAL_OPTIONS "\n"
    "EXIT STATUS\n"
    "    0 deployed, 1 refused (unknown task sequence or collection, no steps, deployed\n"
    "    there already) or failed, 2 usage error\n";

static const char ts_undeploy_manual[] =
    "NAME\n"
    "    patchpoint ts undeploy - take a task sequence's deployment away\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint ts undeploy TS --collection C\n"
    "\n"
    "DESCRIPTION\n"
    "    Devices of C no longer get the task sequence; results already reported stay.\n"
    "\n"
    "OPTIONS\n"
    "    --collection C   the collection (required)\n" CLI_API_MANUAL_OPTIONS "\n"
    "EXIT STATUS\n"
    "    0 undeployed, 1 refused (not deployed there) or failed, 2 usage error\n";

static const char ts_status_manual[] =
    "NAME\n"
    "    patchpoint ts status - each device's run of a task sequence, step by step\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint ts status TS [--json]\n"
    "\n"
    "DESCRIPTION\n"
    "    A summary line, then per device (every device a deployment targets, and any that\n"
    "    reported a run) the latest run: Succeeded, Failed, Running, Interrupted (the agent\n"
    "    stopped during the run) or Unknown (nothing reported yet), its HRESULT and start\n"
    "    time, and one line per step: Succeeded, Failed, Skipped (not run after an earlier\n"
    "    failure), Pending, Running or Interrupted, with its exit code or HRESULT and what\n"
    "    the agent said about it.\n"
    "\n"
    "OPTIONS\n"
    "    --json   the server's answer as JSON\n" CLI_API_MANUAL_OPTIONS "\n"
    "EXIT STATUS\n"
    "    0 success, 1 no such task sequence or failed, 2 usage error\n";

/* ---- arguments ---- */

struct args {
	struct cli_api_flags flags;
	bool json, continue_on_error;
	const char *version, *name, *type, *step_name, *package, *command, *collection, *rename;
	bool has_timeout, has_value, has_position, has_available;
	long timeout, position;
	long long value, available;
	char **pos;
	int npos;
};

/* Parses argv of cmd with the options in allowed; min..max positional arguments (max -1: any),
 * what names them. 0 or the usage exit code. */
static int parse(const char *cmd, int argc, char **argv, unsigned allowed, int min, int max,
		 const char *what, struct args *a)
{
	static const struct option options[] = {
	    {"json", no_argument, NULL, OPT_JSON},
	    {"version", required_argument, NULL, OPT_VERSION},
	    {"name", required_argument, NULL, OPT_NAME},
	    {"type", required_argument, NULL, OPT_TYPE},
	    {"step-name", required_argument, NULL, OPT_STEP_NAME},
	    {"package", required_argument, NULL, OPT_PACKAGE},
	    {"command", required_argument, NULL, OPT_COMMAND},
	    {"timeout", required_argument, NULL, OPT_TIMEOUT},
	    {"value", required_argument, NULL, OPT_VALUE},
	    {"continue-on-error", no_argument, NULL, OPT_CONTINUE},
	    {"position", required_argument, NULL, OPT_POSITION},
	    {"collection", required_argument, NULL, OPT_COLLECTION},
	    {"available", required_argument, NULL, OPT_AVAILABLE},
	    {"rename", required_argument, NULL, OPT_RENAME},
	    CLI_API_LONG_OPTIONS,
	    {NULL, 0, NULL, 0},
	};
	int c;

	memset(a, 0, sizeof(*a));
	optind = 0;
	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		const char *opt = NULL;
		long v;

		if (cli_api_flag(&a->flags, c, optarg))
			continue;
		for (size_t i = 0; options[i].name != NULL; i++)
			if (options[i].val == c)
				opt = options[i].name;
		if (opt == NULL)
			return cli_usage(cmd, "invalid option");
		if ((allowed & ALLOW(c)) == 0)
			return cli_usage(cmd, "--%s is not an option of '%s'", opt, cmd);
		switch (c) {
		case OPT_JSON:
			a->json = true;
			break;
		case OPT_VERSION:
			a->version = optarg;
			break;
		case OPT_NAME:
			a->name = optarg;
			break;
		case OPT_TYPE:
			a->type = optarg;
			break;
		case OPT_STEP_NAME:
			a->step_name = optarg;
			break;
		case OPT_PACKAGE:
			a->package = optarg;
			break;
		case OPT_COMMAND:
			a->command = optarg;
			break;
		case OPT_TIMEOUT:
			if (optarg[0] < '0' || optarg[0] > '9' ||
			    cli_parse_int(optarg, 0, 1000000000L, &v) != 0)
				return cli_usage(
				    cmd, "--timeout takes a number of seconds, not '%s'", optarg);
			a->timeout = v;
			a->has_timeout = true;
			break;
		case OPT_VALUE:
			if (optarg[0] < '0' || optarg[0] > '9' ||
			    cli_parse_int(optarg, 0, 0xFFFFFFFFL, &v) != 0)
				return cli_usage(cmd, "--value takes 0 to 4294967295, not '%s'",
						 optarg);
			a->value = v;
			a->has_value = true;
			break;
		case OPT_CONTINUE:
			a->continue_on_error = true;
			break;
		case OPT_POSITION:
			if (optarg[0] < '0' || optarg[0] > '9' ||
			    cli_parse_int(optarg, 1, 1000, &v) != 0)
				return cli_usage(cmd, "--position takes a step number, not '%s'",
						 optarg);
			a->position = v;
			a->has_position = true;
			break;
		case OPT_COLLECTION:
			a->collection = optarg;
			break;
		case OPT_AVAILABLE:
			if (cli_parse_time(optarg, &a->available) != 0)
				return cli_usage(cmd,
						 "'%s' is not a time (Unix seconds, now, or "
						 "YYYY-MM-DDTHH:MM[:SS]Z)",
						 optarg);
			a->has_available = true;
			break;
		case OPT_RENAME:
			a->rename = optarg;
			break;
		default:
			return cli_usage(cmd, "invalid option");
		}
	}
	a->pos = argv + optind;
	a->npos = argc - optind;
	if (max >= 0 && a->npos > max)
		return cli_usage(cmd, "unexpected argument '%s'", a->pos[max]);
	if (a->npos < min)
		return cli_usage(cmd, "expected %s", what);
	for (int i = 0; i < a->npos; i++)
		if (a->pos[i][0] == '\0')
			return cli_usage(cmd, "expected %s, not ''", what);
	return 0;
}

/* "/api/v1/<base>[/<seg>][<mid>[/<seg2>]]", segments percent-encoded; NULL when out of memory. */
static char *api_path(const char *base, const char *seg, const char *mid, const char *seg2)
{
	char *e1 = NULL, *e2 = NULL, *path = NULL;

	if ((seg != NULL && (e1 = cli_api_escape(seg)) == NULL) ||
	    (seg2 != NULL && (e2 = cli_api_escape(seg2)) == NULL))
		goto out;
	if (asprintf(&path, "/api/v1/%s%s%s%s%s%s", base, e1 != NULL ? "/" : "",
		     e1 != NULL ? e1 : "", mid != NULL ? mid : "", e2 != NULL ? "/" : "",
		     e2 != NULL ? e2 : "") < 0)
		path = NULL;
out:
	free(e1);
	free(e2);
	return path;
}

typedef void (*printer)(const json_t *doc);

/* METHOD path with body; the answer as JSON (--json) or through print; with_body false: the
 * server answers 204 and line is printed. done (may be NULL) is logged. */
static int request(struct cli *cli, const char *cmd, const struct args *a, struct cli_api *api,
		   const char *method, char *path, const json_t *body, bool with_body,
		   printer print, const char *line)
{
	struct cli_api_response resp;
	struct cli_api *own = NULL;
	struct pp_error err;
	json_t *doc = NULL;
	int rc;

	if (path == NULL)
		return cli_failf(cli, "out of memory");
	if (api == NULL && (api = own = cli_api_open(cli, cmd, &a->flags, &rc)) == NULL) {
		free(path);
		return rc;
	}
	pp_error_clear(&err);
	if (with_body) {
		doc = cli_api_call(api, method, path, body, &err);
		rc = doc != NULL ? CLI_EXIT_OK : cli_fail(cli, &err);
	} else {
		rc = cli_api_request(api, method, path, body, &resp, &err) == 0
			 ? CLI_EXIT_OK
			 : cli_fail(cli, &err);
		cli_api_response_free(&resp);
	}
	if (rc == CLI_EXIT_OK) {
		if (line != NULL)
			cli_log(cli, CMTRACE_INFO, "%s", line);
		if (a->json && doc != NULL) {
			rc = cli_print_json(doc) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
			doc = NULL;
		} else if (print != NULL && doc != NULL) {
			print(doc);
		} else if (line != NULL) {
			printf("%s\n", line);
		}
	}
	json_decref(doc);
	cli_api_free(own);
	free(path);
	return rc;
}

/* ---- text output ---- */

static void print_package(const json_t *p)
{
	const json_t *f;
	size_t i;

	printf("Package %s \"%s\" version %s (source version %lld): %lld file(s), %lld bytes\n",
	       cli_json_str(p, "id"), cli_json_str(p, "name"), cli_json_str(p, "version"),
	       cli_json_int(p, "source_version", 0),
	       (long long)json_array_size(json_object_get(p, "files")), cli_json_int(p, "size", 0));
	json_array_foreach(json_object_get(p, "files"), i, f)
	{
		printf("  %-40s %10lld bytes  SHA-256 %s\n", cli_json_str(f, "path"),
		       cli_json_int(f, "size", 0), cli_json_str(f, "sha256"));
	}
}

static void print_packages(const json_t *doc)
{
	const json_t *p;
	size_t i;

	printf("%-9s %-32s %-12s %-7s %-6s %s\n", "Id", "Name", "Version", "Source", "Files",
	       "Size");
	json_array_foreach(json_object_get(doc, "packages"), i, p)
	{
		printf("%-9s %-32s %-12s %-7lld %-6lld %lld\n", cli_json_str(p, "id"),
		       cli_json_str(p, "name"), cli_json_str(p, "version"),
		       cli_json_int(p, "source_version", 0), cli_json_int(p, "file_count", 0),
		       cli_json_int(p, "size", 0));
	}
}

/* One step as 'ts show' writes it. */
static void print_step(const json_t *s)
{
	const json_t *pkg = json_object_get(s, "package");

	const char *name = cli_json_str(s, "name"), *label = cli_json_str(s, "type_label");
	bool same = strcmp(name, label) == 0;

	printf("  %lld. %s%s%s%s%s\n", cli_json_int(s, "position", 0), name, same ? "" : " (",
	       same ? "" : label, same ? "" : ")",
	       cli_json_bool(s, "continue_on_error") ? ", continue on error" : "");
	if (strcmp(cli_json_str(s, "type"), "run-command-line") == 0) {
		if (json_is_object(pkg))
			printf("       package %s \"%s\"\n", cli_json_str(pkg, "id"),
			       cli_json_str(pkg, "name"));
		printf("       command line: %s (time limit %lld s)\n",
		       cli_json_str(s, "command_line"), cli_json_int(s, "timeout", 0));
	} else if (strcmp(cli_json_str(s, "type"), "set-policy") == 0) {
		printf("       %s = %lld\n", cli_json_str(s, "policy_name"),
		       cli_json_int(s, "policy_value", 0));
	}
}

static void print_ts(const json_t *t)
{
	const json_t *v;
	char when[32];
	size_t i;

	printf("Task sequence %s \"%s\", revision %lld\n", cli_json_str(t, "id"),
	       cli_json_str(t, "name"), cli_json_int(t, "revision", 0));
	printf("Steps:%s\n", json_array_size(json_object_get(t, "steps")) == 0 ? " none" : "");
	json_array_foreach(json_object_get(t, "steps"), i, v)
	{
		print_step(v);
	}
	printf("Deployments:%s\n",
	       json_array_size(json_object_get(t, "deployments")) == 0 ? " none" : "");
	json_array_foreach(json_object_get(t, "deployments"), i, v)
	{
		cli_format_time(cli_json_int(v, "available_at", 0), when, sizeof(when));
		printf("  %lld  %s (%s), available from %s\n", cli_json_int(v, "id", 0),
		       cli_json_str(v, "collection"), cli_json_str(v, "collection_id"), when);
	}
}

static void print_ts_list(const json_t *doc)
{
	const json_t *t;
	size_t i;

	printf("%-9s %-32s %-9s %-6s %s\n", "Id", "Name", "Revision", "Steps", "Deployments");
	json_array_foreach(json_object_get(doc, "task_sequences"), i, t)
	{
		printf("%-9s %-32s %-9lld %-6lld %lld\n", cli_json_str(t, "id"),
		       cli_json_str(t, "name"), cli_json_int(t, "revision", 0),
		       cli_json_int(t, "step_count", 0), cli_json_int(t, "deployment_count", 0));
	}
}

static void print_deployment(const json_t *d)
{
	char when[32];

	cli_format_time(cli_json_int(d, "available_at", 0), when, sizeof(when));
	printf("Deployed task sequence \"%s\" to collection \"%s\" (deployment %lld), available "
	       "from %s\n",
	       cli_json_str(d, "task_sequence"), cli_json_str(d, "collection"),
	       cli_json_int(d, "id", 0), when);
}

/* "exit code 0", "0x800B0109", or both; "-" when neither. */
static const char *result_text(const json_t *o, char *out, size_t size)
{
	const json_t *code = json_object_get(o, "exit_code");
	const char *hr = cli_json_str(o, "hresult");

	if (json_is_integer(code) && hr[0] != '\0' && strcmp(hr, "0x00000000") != 0)
		(void)snprintf(out, size, "exit code %lld, %s", (long long)json_integer_value(code),
			       hr);
	else if (json_is_integer(code))
		(void)snprintf(out, size, "exit code %lld", (long long)json_integer_value(code));
	else
		(void)snprintf(out, size, "%s", hr[0] != '\0' ? hr : "-");
	return out;
}

static void print_status(const json_t *doc)
{
	const json_t *t = json_object_get(doc, "task_sequence"),
		     *sum = json_object_get(doc, "summary"), *d, *s;
	char when[32], res[64];
	size_t i, k;

	printf("Task sequence %s \"%s\", revision %lld: %lld succeeded, %lld failed, %lld "
	       "running, %lld interrupted, %lld unknown\n",
	       cli_json_str(t, "id"), cli_json_str(t, "name"), cli_json_int(t, "revision", 0),
	       cli_json_int(sum, "succeeded", 0), cli_json_int(sum, "failed", 0),
	       cli_json_int(sum, "running", 0), cli_json_int(sum, "interrupted", 0),
	       cli_json_int(sum, "unknown", 0));
	json_array_foreach(json_object_get(doc, "devices"), i, d)
	{
		if (strcmp(cli_json_str(d, "state"), "unknown") == 0) {
			printf("%s: Unknown (nothing reported yet)\n", cli_json_str(d, "device"));
			continue;
		}
		cli_format_time(cli_json_int(d, "started_at", 0), when, sizeof(when));
		printf("%s: %s%s%s, revision %lld, started %s, run %s\n", cli_json_str(d, "device"),
		       cli_json_str(d, "status"), cli_json_str(d, "hresult")[0] != '\0' ? " " : "",
		       cli_json_str(d, "hresult"), cli_json_int(d, "revision", 0), when,
		       cli_json_str(d, "run_id"));
		json_array_foreach(json_object_get(d, "steps"), k, s)
		{
			const char *detail = cli_json_str(s, "detail");

			printf("  %lld. %-32s %-11s %-24s%s%s\n", cli_json_int(s, "position", 0),
			       cli_json_str(s, "name"), cli_json_str(s, "status"),
			       result_text(s, res, sizeof(res)), detail[0] != '\0' ? " " : "",
			       detail);
		}
	}
}

/* ---- files of a package ---- */

struct file_list {
	char *local[PACKAGE_FILES_MAX]; /* the file on disk */
	char *rel[PACKAGE_FILES_MAX];	/* its path in the package */
	size_t n;
};

static void file_list_free(struct file_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->local[i]);
		free(l->rel[i]);
	}
	l->n = 0;
}

static int file_add(struct file_list *l, const char *local, const char *rel, struct pp_error *err)
{
	if (l->n == PACKAGE_FILES_MAX) {
		pp_error_set(err, HR_E_INVALIDARG, "a package holds at most %d files",
			     PACKAGE_FILES_MAX);
		return -1;
	}
	if (strlen(rel) > REL_PATH_MAX) {
		pp_error_set(err, HR_E_INVALIDARG,
			     "%s: the path in the package is longer than %d "
			     "bytes",
			     local, REL_PATH_MAX);
		return -1;
	}
	l->local[l->n] = strdup(local);
	l->rel[l->n] = strdup(rel);
	if (l->local[l->n] == NULL || l->rel[l->n] == NULL) {
		free(l->local[l->n]);
		free(l->rel[l->n]);
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
		return -1;
	}
	l->n++;
	return 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every regular file under dir (rel: its path so far, "" at the top), sorted by name. */
static int walk(struct file_list *l, const char *dir, const char *rel, int depth,
		struct pp_error *err)
{
	char *names[PACKAGE_FILES_MAX + 1];
	size_t n = 0;
	struct dirent *de;
	DIR *d;
	int rc = -1;

	if (depth > 32) {
		pp_error_set(err, HR_E_INVALIDARG, "%s is nested too deeply", dir);
		return -1;
	}
	d = opendir(dir);
	if (d == NULL) {
		pp_error_set_errno(err, errno, "cannot read %s", dir);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (n == PACKAGE_FILES_MAX) {
			pp_error_set(err, HR_E_INVALIDARG, "a package holds at most %d files",
				     PACKAGE_FILES_MAX);
			goto out;
		}
		names[n] = strdup(de->d_name);
		if (names[n++] == NULL) {
			pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
			goto out;
		}
	}
	qsort(names, n, sizeof(names[0]), by_name);
	for (size_t i = 0; i < n; i++) {
		char *local = NULL, *sub = NULL;
		struct stat st;
		int r = -1;

		if (asprintf(&local, "%s/%s", dir, names[i]) < 0 ||
		    asprintf(&sub, "%s%s%s", rel, rel[0] != '\0' ? "/" : "", names[i]) < 0) {
			pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
		} else if (lstat(local, &st) != 0) {
			pp_error_set_errno(err, errno, "cannot read %s", local);
		} else if (S_ISDIR(st.st_mode)) {
			r = walk(l, local, sub, depth + 1, err);
		} else if (S_ISREG(st.st_mode)) {
			r = file_add(l, local, sub, err);
		} else {
			pp_error_set(err, HR_E_INVALIDARG,
				     "%s is not a regular file (a package holds files, not "
				     "symbolic links or devices)",
				     local);
		}
		free(local);
		free(sub);
		if (r != 0)
			goto out;
	}
	rc = 0;
out:
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	(void)closedir(d);
	return rc;
}

/* A directory (one argument) or files (each by its base name). */
static int collect(struct file_list *l, char **args, int n, struct pp_error *err)
{
	struct stat st;

	memset(l, 0, sizeof(*l));
	if (n == 1 && stat(args[0], &st) == 0 && S_ISDIR(st.st_mode)) {
		if (walk(l, args[0], "", 0, err) != 0)
			return -1;
		if (l->n == 0) {
			pp_error_set(err, HR_E_INVALIDARG, "%s holds no file", args[0]);
			return -1;
		}
		return 0;
	}
	for (int i = 0; i < n; i++) {
		const char *base = strrchr(args[i], '/');

		if (stat(args[i], &st) != 0) {
			pp_error_set_errno(err, errno, "cannot read %s", args[i]);
			return -1;
		}
		if (!S_ISREG(st.st_mode)) {
			pp_error_set(err, HR_E_INVALIDARG,
				     "%s is not a regular file (give one directory, or files)",
				     args[i]);
			return -1;
		}
		if (file_add(l, args[i], base != NULL ? base + 1 : args[i], err) != 0)
			return -1;
	}
	return 0;
}

/* Uploads the files and returns [{"upload","path"}...] (NULL with err). */
static json_t *upload_files(struct cli_api *api, const struct file_list *l, struct pp_error *err)
{
	json_t *arr = json_array();

	for (size_t i = 0; arr != NULL && i < l->n; i++) {
		char id[CLI_API_UPLOAD_ID_LEN + 1];
		const char *base = strrchr(l->rel[i], '/');

		if (cli_api_upload(api, l->local[i], base != NULL ? base + 1 : l->rel[i], id, true,
				   err) != 0) {
			json_decref(arr);
			return NULL;
		}
		if (json_array_append_new(
			arr, json_pack("{s:s, s:s}", "upload", id, "path", l->rel[i])) != 0) {
			json_decref(arr);
			arr = NULL;
		}
	}
	if (arr == NULL)
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
	return arr;
}

/* ---- package ---- */

static int package_write(struct cli *cli, int argc, char **argv, bool create)
{
	const char *cmd = create ? "package create" : "package update";
	struct file_list files = {0};
	struct cli_api *api = NULL;
	struct pp_error err;
	struct args a;
	json_t *body = NULL, *arr;
	char line[600];
	int rc;

	rc = parse(cmd, argc, argv,
		   ALLOW(OPT_JSON) | ALLOW(OPT_VERSION) | (create ? 0 : ALLOW(OPT_RENAME)),
		   create ? 2 : 1, -1,
		   create ? "a package NAME and a DIR or FILEs" : "a PACKAGE (id or name)", &a);
	if (rc != 0)
		return rc;
	if (create && a.version == NULL)
		return cli_usage(cmd, "--version V is required");
	if (!create && a.version == NULL && a.rename == NULL && a.npos == 1)
		return cli_usage(cmd, "nothing to change: give --version, --rename, or files");
	pp_error_clear(&err);
	if (a.npos > 1 && collect(&files, a.pos + 1, a.npos - 1, &err) != 0) {
		file_list_free(&files);
		return cli_fail(cli, &err);
	}
	body = json_object();
	if (body == NULL ||
	    (create && json_object_set_new(body, "name", json_string(a.pos[0])) != 0) ||
	    (a.version != NULL && json_object_set_new(body, "version", json_string(a.version))) ||
	    (a.rename != NULL && json_object_set_new(body, "name", json_string(a.rename)) != 0)) {
		rc = cli_failf(cli, "out of memory (or a name that is not UTF-8)");
		goto out;
	}
	api = cli_api_open(cli, cmd, &a.flags, &rc);
	if (api == NULL)
		goto out;
	if (files.n > 0) {
		arr = upload_files(api, &files, &err);
		if (arr == NULL || json_object_set_new(body, "files", arr) != 0) {
			rc = cli_fail(cli, &err);
			goto out;
		}
	}
	(void)snprintf(line, sizeof(line), "Package %s %s", a.pos[0],
		       create ? "created" : "updated");
	rc = request(cli, cmd, &a, api, create ? "POST" : "PATCH",
		     create ? api_path("packages", NULL, NULL, NULL)
			    : api_path("packages", a.pos[0], NULL, NULL),
		     body, true, print_package, line);
out:
	json_decref(body);
	cli_api_free(api);
	file_list_free(&files);
	return rc;
}

static int package_create(struct cli *cli, int argc, char **argv)
{
	return package_write(cli, argc, argv, true);
}

static int package_update(struct cli *cli, int argc, char **argv)
{
	return package_write(cli, argc, argv, false);
}

static int package_list(struct cli *cli, int argc, char **argv)
{
	struct args a;
	int rc = parse("package list", argc, argv, ALLOW(OPT_JSON), 0, 0, "", &a);

	if (rc != 0)
		return rc;
	return request(cli, "package list", &a, NULL, "GET", api_path("packages", NULL, NULL, NULL),
		       NULL, true, print_packages, NULL);
}

static int package_show(struct cli *cli, int argc, char **argv)
{
	struct args a;
	int rc =
	    parse("package show", argc, argv, ALLOW(OPT_JSON), 1, 1, "a PACKAGE (id or name)", &a);

	if (rc != 0)
		return rc;
	return request(cli, "package show", &a, NULL, "GET",
		       api_path("packages", a.pos[0], NULL, NULL), NULL, true, print_package, NULL);
}

static int package_delete(struct cli *cli, int argc, char **argv)
{
	struct args a;
	char line[320];
	int rc = parse("package delete", argc, argv, 0, 1, 1, "a PACKAGE (id or name)", &a);

	if (rc != 0)
		return rc;
	(void)snprintf(line, sizeof(line), "Package %s deleted", a.pos[0]);
	return request(cli, "package delete", &a, NULL, "DELETE",
		       api_path("packages", a.pos[0], NULL, NULL), NULL, false, NULL, line);
}

int cli_package(struct cli *cli, int argc, char **argv)
{
	static const struct cli_verb verbs[] = {
	    {"create", "make a package of a folder or files", package_create_manual,
	     package_create},
	    {"list", "the packages", package_list_manual, package_list},
	    {"show", "a package and its files", package_show_manual, package_show},
	    {"update", "new files, version or name", package_update_manual, package_update},
	    {"delete", "remove a package", package_delete_manual, package_delete},
	};

	return cli_dispatch(cli, "package", verbs, sizeof(verbs) / sizeof(verbs[0]), argc - 1,
			    argv + 1);
}

/* ---- ts ---- */

static int ts_create(struct cli *cli, int argc, char **argv)
{
	struct args a;
	json_t *body;
	char line[320];
	int rc = parse("ts create", argc, argv, ALLOW(OPT_JSON), 1, 1, "a task sequence NAME", &a);

	if (rc != 0)
		return rc;
	body = json_pack("{s:s}", "name", a.pos[0]);
	if (body == NULL)
		return cli_failf(cli, "the name must be UTF-8 text");
	(void)snprintf(line, sizeof(line), "Task sequence %s created", a.pos[0]);
	rc = request(cli, "ts create", &a, NULL, "POST",
		     api_path("task-sequences", NULL, NULL, NULL), body, true, print_ts, line);
	json_decref(body);
	return rc;
}

static int ts_add_step(struct cli *cli, int argc, char **argv)
{
	static const char cmd[] = "ts add-step";
	struct args a;
	json_t *body;
	char line[600];
	bool rcl, pol;
	int rc =
	    parse(cmd, argc, argv,
		  ALLOW(OPT_JSON) | ALLOW(OPT_TYPE) | ALLOW(OPT_STEP_NAME) | ALLOW(OPT_PACKAGE) |
		      ALLOW(OPT_COMMAND) | ALLOW(OPT_TIMEOUT) | ALLOW(OPT_NAME) | ALLOW(OPT_VALUE) |
		      ALLOW(OPT_CONTINUE) | ALLOW(OPT_POSITION),
		  1, 1, "a task sequence TS (id or name)", &a);

	if (rc != 0)
		return rc;
	if (a.type == NULL)
		return cli_usage(cmd, "--type is required: run-command-line, "
				      "install-software-updates, set-policy or restart");
	/* What belongs to which type is the server's to say (one line, exit 1), except the
	 * pairs that only make sense together. */
	rcl = strcmp(a.type, "run-command-line") == 0;
	pol = strcmp(a.type, "set-policy") == 0;
	if (rcl && a.command == NULL)
		return cli_usage(cmd, "--type run-command-line needs --command CMD");
	if (pol && (a.name == NULL || !a.has_value))
		return cli_usage(cmd, "--type set-policy needs --name POLICY and --value V");
	body = json_pack("{s:s, s:b}", "type", a.type, "continue_on_error", a.continue_on_error);
	if (body == NULL ||
	    (a.step_name != NULL && json_object_set_new(body, "name", json_string(a.step_name))) ||
	    (a.package != NULL && json_object_set_new(body, "package", json_string(a.package))) ||
	    (a.command != NULL &&
	     json_object_set_new(body, "command_line", json_string(a.command))) ||
	    (a.has_timeout && json_object_set_new(body, "timeout", json_integer(a.timeout))) ||
	    (a.name != NULL && json_object_set_new(body, "policy_name", json_string(a.name))) ||
	    (a.has_value && json_object_set_new(body, "policy_value", json_integer(a.value))) ||
	    (a.has_position && json_object_set_new(body, "position", json_integer(a.position)))) {
		json_decref(body);
		return cli_failf(cli, "out of memory (or text that is not UTF-8)");
	}
	(void)snprintf(line, sizeof(line), "Added a %s step to task sequence %s", a.type, a.pos[0]);
	rc = request(cli, cmd, &a, NULL, "POST",
		     api_path("task-sequences", a.pos[0], "/steps", NULL), body, true, print_ts,
		     line);
	json_decref(body);
	return rc;
}

static int ts_remove_step(struct cli *cli, int argc, char **argv)
{
	static const char cmd[] = "ts remove-step";
	struct args a;
	char line[320];
	long n;
	int rc =
	    parse(cmd, argc, argv, ALLOW(OPT_JSON), 2, 2, "a task sequence TS and a step N", &a);

	if (rc != 0)
		return rc;
	if (a.pos[1][0] < '0' || a.pos[1][0] > '9' || cli_parse_int(a.pos[1], 1, 1000, &n) != 0)
		return cli_usage(cmd, "N is a step's position (1, 2, ...), not '%s'", a.pos[1]);
	(void)snprintf(line, sizeof(line), "Removed step %ld of task sequence %s", n, a.pos[0]);
	return request(cli, cmd, &a, NULL, "DELETE",
		       api_path("task-sequences", a.pos[0], "/steps", a.pos[1]), NULL, true,
		       print_ts, line);
}

static int ts_list(struct cli *cli, int argc, char **argv)
{
	struct args a;
	int rc = parse("ts list", argc, argv, ALLOW(OPT_JSON), 0, 0, "", &a);

	if (rc != 0)
		return rc;
	return request(cli, "ts list", &a, NULL, "GET",
		       api_path("task-sequences", NULL, NULL, NULL), NULL, true, print_ts_list,
		       NULL);
}

static int ts_show(struct cli *cli, int argc, char **argv)
{
	struct args a;
	int rc = parse("ts show", argc, argv, ALLOW(OPT_JSON), 1, 1, "a task sequence TS", &a);

	if (rc != 0)
		return rc;
	return request(cli, "ts show", &a, NULL, "GET",
		       api_path("task-sequences", a.pos[0], NULL, NULL), NULL, true, print_ts,
		       NULL);
}

static int ts_delete(struct cli *cli, int argc, char **argv)
{
	struct args a;
	char line[320];
	int rc = parse("ts delete", argc, argv, 0, 1, 1, "a task sequence TS", &a);

	if (rc != 0)
		return rc;
	(void)snprintf(line, sizeof(line), "Task sequence %s deleted", a.pos[0]);
	return request(cli, "ts delete", &a, NULL, "DELETE",
		       api_path("task-sequences", a.pos[0], NULL, NULL), NULL, false, NULL, line);
}

static int ts_deploy(struct cli *cli, int argc, char **argv)
{
	struct args a;
	json_t *body;
	char line[600];
	int rc = parse("ts deploy", argc, argv,
		       ALLOW(OPT_JSON) | ALLOW(OPT_COLLECTION) | ALLOW(OPT_AVAILABLE), 1, 1,
		       "a task sequence TS", &a);

	if (rc != 0)
		return rc;
	if (a.collection == NULL || a.collection[0] == '\0')
		return cli_usage("ts deploy", "--collection C is required");
	body = json_pack("{s:s}", "collection", a.collection);
	if (body == NULL || (a.has_available && json_object_set_new(body, "available_at",
								    json_integer(a.available)))) {
		json_decref(body);
		return cli_failf(cli, "out of memory (or a name that is not UTF-8)");
	}
	(void)snprintf(line, sizeof(line), "Deployed task sequence %s to %s", a.pos[0],
		       a.collection);
	rc = request(cli, "ts deploy", &a, NULL, "POST",
		     api_path("task-sequences", a.pos[0], "/deployments", NULL), body, true,
		     print_deployment, line);
	json_decref(body);
	return rc;
}

static int ts_undeploy(struct cli *cli, int argc, char **argv)
{
	struct args a;
	char line[600];
	int rc =
	    parse("ts undeploy", argc, argv, ALLOW(OPT_COLLECTION), 1, 1, "a task sequence TS", &a);

	if (rc != 0)
		return rc;
	if (a.collection == NULL || a.collection[0] == '\0')
		return cli_usage("ts undeploy", "--collection C is required");
	(void)snprintf(line, sizeof(line), "Task sequence %s is no longer deployed to %s", a.pos[0],
		       a.collection);
	return request(cli, "ts undeploy", &a, NULL, "DELETE",
		       api_path("task-sequences", a.pos[0], "/deployments", a.collection), NULL,
		       false, NULL, line);
}

static int ts_status(struct cli *cli, int argc, char **argv)
{
	struct args a;
	int rc = parse("ts status", argc, argv, ALLOW(OPT_JSON), 1, 1, "a task sequence TS", &a);

	if (rc != 0)
		return rc;
	return request(cli, "ts status", &a, NULL, "GET",
		       api_path("task-sequences", a.pos[0], "/status", NULL), NULL, true,
		       print_status, NULL);
}

int cli_ts(struct cli *cli, int argc, char **argv)
{
	static const struct cli_verb verbs[] = {
	    {"create", "make an empty task sequence", ts_create_manual, ts_create},
	    {"add-step", "add a step", ts_add_step_manual, ts_add_step},
	    {"remove-step", "remove step N", ts_remove_step_manual, ts_remove_step},
	    {"list", "the task sequences", ts_list_manual, ts_list},
	    {"show", "a task sequence's steps and deployments", ts_show_manual, ts_show},
	    {"delete", "remove a task sequence", ts_delete_manual, ts_delete},
	    {"deploy", "deploy to a collection", ts_deploy_manual, ts_deploy},
	    {"undeploy", "take a deployment away", ts_undeploy_manual, ts_undeploy},
	    {"status", "each device's run, step by step", ts_status_manual, ts_status},
	};

	return cli_dispatch(cli, "ts", verbs, sizeof(verbs) / sizeof(verbs[0]), argc - 1, argv + 1);
}
