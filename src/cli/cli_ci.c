/* cli_ci.c - patchpoint ci, patchpoint baseline and patchpoint compliance baseline: the
 * administrator's side of configuration items and baselines (DESIGN 5.8,
 * docs/internals/configuration-items.md) over patchpointd's API (src/server/ci_api.c). The
 * server checks and decides; these commands read the files given (a certificate, scripts), send
 * what was asked and show the answers. */
#include "cli.h"
#include "cli_api.h"
#include "configitem.h"
#include "pki.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

enum {
	OPT_JSON = 1,
	OPT_CERT,
	OPT_THUMBPRINT,
	OPT_STORE,
	OPT_DISCOVERY,
	OPT_REMEDIATION,
	OPT_NO_REMEDIATION,
	OPT_TYPE,
	OPT_EXPECTED,
	OPT_TIMEOUT,
	OPT_CI,
	OPT_COLLECTION,
	OPT_REMEDIATE,
	OPT_SCHEDULE_HOURS,
};

#define ALLOW(opt) (1u << (opt))

/* ---- manuals ---- */

#define EXIT_STATUS(what)                                                                          \
	"EXIT STATUS\n"                                                                            \
	"    0 " what ", 1 refused (the server's reason on one line) or failed, 2 usage\n"         \
	"    error.\n"

static const char ci_create_certificate_manual[] =
    "NAME\n"
    "    patchpoint ci create-certificate - a configuration item: a certificate in stores\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint ci create-certificate NAME (--cert FILE | --thumbprint T)\n"
    "        --store Root|TrustedPublisher [--store ...] [--json]\n"
    "\n"
    "DESCRIPTION\n"
    "    Makes a \"certificate present\" configuration item: compliant when the certificate\n"
    "    is in every store given (the logical store: local or group policy). Its\n"
    "    remediation, when a deployment asks for it, adds the certificate to the stores\n"
    "    that lack it (the local stores, as certutil -addstore does). FILE is a certificate\n"
    "    in DER or PEM (patchpoint publisher cert export writes one); T is the thumbprint of\n"
    "    a certificate the site has in Certificates (patchpoint certificates list). Root is\n"
    "    refused for a certificate that is not self-signed. The item starts at revision 1.\n"
    "\n"
    "OPTIONS\n"
    "    --cert FILE        the certificate (DER or PEM)\n"
    "    --thumbprint T     or a certificate of Certificates, by its SHA-1 thumbprint\n"
    "    --store STORE      Root or TrustedPublisher; give both for a self-signed\n"
    "                       signing certificate\n"
    "    --json             the server's answer as JSON\n" CLI_API_MANUAL_OPTIONS "\n" EXIT_STATUS(
	"created") "\n"
		   "EXAMPLES\n"
		   "    patchpoint publisher cert export --out WSUSSigningCertificate.cer\n"
		   "    patchpoint ci create-certificate \"WSUS signing certificate present\" \\\n"
		   "        --cert WSUSSigningCertificate.cer --store Root --store "
		   "TrustedPublisher\n";

static const char ci_create_script_manual[] =
    "NAME\n"
    "    patchpoint ci create-script - a configuration item: a script and a value\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint ci create-script NAME --discovery FILE [--remediation FILE]\n"
    "        --type boolean|string|integer --expected VALUE [--timeout S] [--json]\n"
    "\n"
    "DESCRIPTION\n"
    "    Makes a script configuration item. On the device the discovery script runs under\n"
    "    /bin/sh with the time limit; what it writes to standard output, less the\n"
    "    trailing line ends, is the discovered value, compared with VALUE by the data type:\n"
    "    Boolean true/false (also 1/0, any case), Integer a signed 64-bit number, String\n"
    "    byte for byte. The operator is equals. A script that exits with a code other than\n"
    "    0, or runs past its time limit, puts the item in Error. When the value differs and\n"
    "    the deployment remediates, the remediation script runs and the discovery script\n"
    "    again: Remediated when the value is now the expected one. Both scripts run with\n"
    "    PATCHPOINT_MACHINE set to the machine directory, so that 'patchpoint-agent\n"
    "    policy' and 'patchpoint-agent certutil' in them work on this machine. VALUE must\n"
    "    be of the type.\n"
    "\n"
    "OPTIONS\n"
    "    --discovery FILE     the discovery script (text, at most 65536 bytes)\n"
    "    --remediation FILE   the remediation script\n"
    "    --type TYPE          boolean, string or integer\n"
    "    --expected VALUE     the compliant value\n"
    "    --timeout S          seconds each script may run (1-3600, default 60)\n"
    "    --json               the server's answer as JSON\n" CLI_API_MANUAL_OPTIONS
    "\n" EXIT_STATUS("created");

static const char ci_set_manual[] =
    "NAME\n"
    "    patchpoint ci set - change a configuration item\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint ci set NAME [--store STORE]... [--discovery FILE]\n"
    "        [--remediation FILE | --no-remediation] [--type TYPE] [--expected VALUE]\n"
    "        [--timeout S] [--json]\n"
    "\n"
    "DESCRIPTION\n"
    "    Changes what is given and leaves the rest; the item's revision moves by one when\n"
    "    anything differs. A certificate item changes its stores only (--store replaces\n"
    "    them all); a script item everything else. A new --type needs an --expected value\n"
    "    of it unless the one kept is of it. Devices evaluate the new revision at their\n"
    "    next evaluation of a baseline that holds the item.\n"
    "\n"
    "OPTIONS\n"
    "    as ci create-certificate and ci create-script, and\n"
    "    --no-remediation     remove the remediation script\n" CLI_API_MANUAL_OPTIONS
    "\n" EXIT_STATUS("changed (or nothing differed)");

static const char ci_list_manual[] =
    "NAME\n"
    "    patchpoint ci list - the configuration items\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint ci list [--json]\n"
    "\n"
    "DESCRIPTION\n"
    "    One line per item: id, name, kind, revision, the number of baselines holding it,\n"
    "    and its rule (the stores of a certificate, the type and value of a script).\n"
    "\n"
    "OPTIONS\n"
    "    --json   the server's answer as JSON\n" CLI_API_MANUAL_OPTIONS "\n" EXIT_STATUS("success");

static const char ci_show_manual[] =
    "NAME\n"
    "    patchpoint ci show - one configuration item\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint ci show NAME [--json]\n"
    "\n"
    "DESCRIPTION\n"
    "    The item's kind, revision and rule: the certificate's thumbprint, subject and\n"
    "    stores, or the script's data type, expected value, time limit and both scripts.\n"
    "\n"
    "OPTIONS\n"
    "    --json   the server's answer as JSON\n" CLI_API_MANUAL_OPTIONS "\n" EXIT_STATUS("success");

static const char ci_delete_manual[] =
    "NAME\n"
    "    patchpoint ci delete - delete a configuration item\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint ci delete NAME\n"
    "\n"
    "DESCRIPTION\n"
    "    Deletes an item that no baseline holds (remove it from them first).\n"
    "\n"
    "OPTIONS\n" CLI_API_MANUAL_OPTIONS "\n" EXIT_STATUS("deleted");

static const char bl_create_manual[] =
    "NAME\n"
    "    patchpoint baseline create - a configuration baseline\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint baseline create NAME [--ci ITEM]... [--json]\n"
    "\n"
    "DESCRIPTION\n"
    "    Makes a configuration baseline of the configuration items given, in that order,\n"
    "    at revision 1. A baseline is what is deployed to collections; its revision moves\n"
    "    each time an item is added or removed.\n"
    "\n"
    "OPTIONS\n"
    "    --ci ITEM   a configuration item by name; repeat for more\n"
    "    --json      the server's answer as JSON\n" CLI_API_MANUAL_OPTIONS
    "\n" EXIT_STATUS("created");

static const char bl_add_manual[] =
    "NAME\n"
    "    patchpoint baseline add-ci - add a configuration item to a baseline\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint baseline add-ci NAME --ci ITEM [--json]\n"
    "\n"
    "DESCRIPTION\n"
    "    Adds the item at the end of the baseline; the baseline's revision moves by one.\n"
    "\n"
    "OPTIONS\n"
    "    --ci ITEM   the configuration item, by name\n"
    "    --json      the server's answer as JSON\n" CLI_API_MANUAL_OPTIONS
    "\n" EXIT_STATUS("added");

static const char bl_remove_manual[] =
    "NAME\n"
    "    patchpoint baseline remove-ci - remove a configuration item from a baseline\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint baseline remove-ci NAME --ci ITEM [--json]\n"
    "\n"
    "DESCRIPTION\n"
    "    Removes the item; the baseline's revision moves by one. The last item of a\n"
    "    deployed baseline stays: undeploy the baseline first.\n"
    "\n"
    "OPTIONS\n"
    "    --ci ITEM   the configuration item, by name\n"
    "    --json      the server's answer as JSON\n" CLI_API_MANUAL_OPTIONS
    "\n" EXIT_STATUS("removed");

static const char bl_list_manual[] =
    "NAME\n"
    "    patchpoint baseline list - the configuration baselines\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint baseline list [--json]\n"
    "\n"
    "DESCRIPTION\n"
    "    One line per baseline: id, name, revision, how many items it holds and to how\n"
    "    many collections it is deployed.\n"
    "\n"
    "OPTIONS\n"
    "    --json   the server's answer as JSON\n" CLI_API_MANUAL_OPTIONS "\n" EXIT_STATUS("success");

static const char bl_show_manual[] =
    "NAME\n"
    "    patchpoint baseline show - a configuration baseline, its items and deployments\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint baseline show NAME [--json]\n"
    "\n"
    "OPTIONS\n"
    "    --json   the server's answer as JSON\n" CLI_API_MANUAL_OPTIONS "\n" EXIT_STATUS("success");

static const char bl_delete_manual[] =
    "NAME\n"
    "    patchpoint baseline delete - delete a configuration baseline\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint baseline delete NAME\n"
    "\n"
    "DESCRIPTION\n"
    "    Deletes a baseline that is not deployed, with what devices reported of it. Its\n"
    "    configuration items stay.\n"
    "\n"
    "OPTIONS\n" CLI_API_MANUAL_OPTIONS "\n" EXIT_STATUS("deleted");

static const char bl_deploy_manual[] =
    "NAME\n"
    "    patchpoint baseline deploy - deploy a configuration baseline to a collection\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint baseline deploy NAME --collection C [--remediate]\n"
    "        [--schedule-hours N] [--json]\n"
    "\n"
    "DESCRIPTION\n"
    "    Deploy Configuration Baselines: the members of collection C (a name or an id; All\n"
    "    Systems is SMS00001) evaluate the baseline every N hours (default 168, 7 days, as\n"
    "    Configuration Manager's default simple schedule), and at once when it is new or\n"
    "    changed; 'patchpoint-agent trigger ci-evaluation' evaluates it now. With\n"
    "    --remediate (\"Remediate noncompliant rules when supported\") a non-compliant item\n"
    "    is remediated when it can be: a certificate added to its stores, a script item's\n"
    "    remediation script run. Without it, devices only report. A baseline without items\n"
    "    cannot be deployed.\n"
    "\n"
    "OPTIONS\n"
    "    --collection C       the collection\n"
    "    --remediate          remediate noncompliant rules when supported\n"
    "    --schedule-hours N   evaluation schedule, hours (1-8760, default 168)\n"
    "    --json               the server's answer as JSON\n" CLI_API_MANUAL_OPTIONS
    "\n" EXIT_STATUS("deployed");

static const char bl_undeploy_manual[] =
    "NAME\n"
    "    patchpoint baseline undeploy - take a baseline's deployment away\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint baseline undeploy NAME --collection C\n"
    "\n"
    "DESCRIPTION\n"
    "    The members of C no longer evaluate the baseline (unless another deployment\n"
    "    targets them). What they changed stays changed.\n"
    "\n"
    "OPTIONS\n"
    "    --collection C   the collection\n" CLI_API_MANUAL_OPTIONS "\n" EXIT_STATUS("undeployed");

static const char compliance_baseline_manual[] =
    "NAME\n"
    "    patchpoint compliance baseline - the state of a baseline on the devices\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint compliance baseline NAME [--json]\n"
    "\n"
    "DESCRIPTION\n"
    "    Every device a deployment of the baseline targets, and every device that reported\n"
    "    it: its state and when it last reported, then each item of the baseline with its\n"
    "    state in that report (Compliant, Non-compliant, Remediated, Error with the HRESULT\n"
    "    or the script's exit code, or Unknown when the device has not reported it), the\n"
    "    revision evaluated and a detail. A device is Error when an item is, else\n"
    "    Non-compliant when one is, else Unknown when one is not reported, else Remediated\n"
    "    when one was remediated, else Compliant. The summary counts the devices.\n"
    "\n"
    "OPTIONS\n"
    "    --json   the server's answer as JSON\n" CLI_API_MANUAL_OPTIONS
    "\n" EXIT_STATUS("the report was printed");

/* ---- arguments ---- */

struct ci_args {
	struct cli_api_flags flags;
	bool json, no_remediation, remediate;
	const char *cert, *thumbprint, *discovery, *remediation, *type, *expected, *collection;
	long timeout, schedule_hours; /* -1: not given */
	const char *stores[8], *items[CONFIGITEM_BASELINE_ITEMS_MAX];
	int nstores, nitems;
	const char *name; /* the one positional argument */
};

/* Parses argv of verb cmd: the options in allowed, the connection options and, with what, one
 * positional argument (what names it). 0, or the exit code of a usage error. */
static int parse(const char *cmd, int argc, char **argv, unsigned allowed, const char *what,
		 struct ci_args *a)
{
	static const struct option options[] = {
	    {"json", no_argument, NULL, OPT_JSON},
	    {"cert", required_argument, NULL, OPT_CERT},
	    {"thumbprint", required_argument, NULL, OPT_THUMBPRINT},
	    {"store", required_argument, NULL, OPT_STORE},
	    {"discovery", required_argument, NULL, OPT_DISCOVERY},
	    {"remediation", required_argument, NULL, OPT_REMEDIATION},
	    {"no-remediation", no_argument, NULL, OPT_NO_REMEDIATION},
	    {"type", required_argument, NULL, OPT_TYPE},
	    {"expected", required_argument, NULL, OPT_EXPECTED},
	    {"timeout", required_argument, NULL, OPT_TIMEOUT},
	    {"ci", required_argument, NULL, OPT_CI},
	    {"collection", required_argument, NULL, OPT_COLLECTION},
	    {"remediate", no_argument, NULL, OPT_REMEDIATE},
	    {"schedule-hours", required_argument, NULL, OPT_SCHEDULE_HOURS},
	    CLI_API_LONG_OPTIONS,
	    {NULL, 0, NULL, 0},
	};
	const char *opt;
	int c;

	memset(a, 0, sizeof(*a));
	a->timeout = a->schedule_hours = -1;
	optind = 0;
	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		if (cli_api_flag(&a->flags, c, optarg))
			continue;
		opt = NULL;
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
		case OPT_CERT:
			a->cert = optarg;
			break;
		case OPT_THUMBPRINT:
			a->thumbprint = optarg;
			break;
		case OPT_STORE:
			if (a->nstores == (int)(sizeof(a->stores) / sizeof(a->stores[0])))
				return cli_usage(cmd, "too many --store options");
			a->stores[a->nstores++] = optarg;
			break;
		case OPT_DISCOVERY:
			a->discovery = optarg;
			break;
		case OPT_REMEDIATION:
			a->remediation = optarg;
			break;
		case OPT_NO_REMEDIATION:
			a->no_remediation = true;
			break;
		case OPT_TYPE:
			a->type = optarg;
			break;
		case OPT_EXPECTED:
			a->expected = optarg;
			break;
		case OPT_TIMEOUT:
			if (optarg[0] < '0' || optarg[0] > '9' ||
			    cli_parse_int(optarg, 0, 1000000000L, &a->timeout) != 0)
				return cli_usage(
				    cmd, "--timeout takes a number of seconds, not '%s'", optarg);
			break;
		case OPT_CI:
			if (a->nitems == CONFIGITEM_BASELINE_ITEMS_MAX)
				return cli_usage(cmd, "a baseline holds at most %d items",
						 CONFIGITEM_BASELINE_ITEMS_MAX);
			a->items[a->nitems++] = optarg;
			break;
		case OPT_COLLECTION:
			a->collection = optarg;
			break;
		case OPT_REMEDIATE:
			a->remediate = true;
			break;
		case OPT_SCHEDULE_HOURS:
			if (optarg[0] < '0' || optarg[0] > '9' ||
			    cli_parse_int(optarg, 0, 1000000000L, &a->schedule_hours) != 0)
				return cli_usage(
				    cmd, "--schedule-hours takes a number of hours, not '%s'",
				    optarg);
			break;
		default:
			return cli_usage(cmd, "invalid option");
		}
	}
	if (what == NULL) {
		if (optind < argc)
			return cli_usage(cmd, "unexpected argument '%s'", argv[optind]);
		return 0;
	}
	if (optind >= argc || argv[optind][0] == '\0')
		return cli_usage(cmd, "expected %s", what);
	if (argc - optind > 1)
		return cli_usage(cmd, "unexpected argument '%s'", argv[optind + 1]);
	a->name = argv[optind];
	return 0;
}

/* ---- requests ---- */

/* "/api/v1/<base>[/<seg>][<mid>[/<seg2>]]" with the segments percent-encoded; the caller frees
 * it; NULL when out of memory. */
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

/* METHOD path with body. On success: the answer as JSON (--json) or through print, and done
 * (when not NULL) printed when there is no answer to print, and logged. The one-line error
 * otherwise. with_body: the server answers a JSON object (otherwise 204). */
static int request(struct cli *cli, const char *cmd, const struct ci_args *a, const char *method,
		   char *path, const json_t *body, bool with_body, printer print, const char *done)
{
	struct cli_api_response resp;
	struct cli_api *api = NULL;
	struct pp_error err;
	json_t *doc = NULL;
	int rc;

	memset(&resp, 0, sizeof(resp));
	if (path == NULL) {
		rc = cli_failf(cli, "out of memory");
		goto out;
	}
	api = cli_api_open(cli, cmd, &a->flags, &rc);
	if (api == NULL)
		goto out;
	pp_error_clear(&err);
	if (with_body) {
		doc = cli_api_call(api, method, path, body, &err);
		rc = doc != NULL ? CLI_EXIT_OK : cli_fail(cli, &err);
	} else {
		rc = cli_api_request(api, method, path, body, &resp, &err) == 0
			 ? CLI_EXIT_OK
			 : cli_fail(cli, &err);
	}
	if (rc != CLI_EXIT_OK)
		goto out;
	if (done != NULL)
		cli_log(cli, CMTRACE_INFO, "%s", done);
	if (a->json && doc != NULL) {
		rc = cli_print_json(doc) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
		doc = NULL;
	} else if (print != NULL && doc != NULL) {
		print(doc);
	} else if (done != NULL) {
		printf("%s\n", done);
	}
out:
	json_decref(doc);
	cli_api_response_free(&resp);
	cli_api_free(api);
	free(path);
	return rc;
}

/* The text of a script file as a JSON string: at most CONFIGITEM_SCRIPT_MAX bytes of UTF-8
 * without NUL. NULL after printing why. */
static json_t *script_file(struct cli *cli, const char *path)
{
	char *buf = NULL;
	size_t len = 0;
	ssize_t got;
	json_t *v = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		(void)cli_failf(cli, "cannot read %s: %s", path, strerror(errno));
		return NULL;
	}
	buf = malloc(CONFIGITEM_SCRIPT_MAX + 1);
	if (buf == NULL) {
		(void)cli_failf(cli, "out of memory");
		goto out;
	}
	while (len <= CONFIGITEM_SCRIPT_MAX &&
	       (got = read(fd, buf + len, CONFIGITEM_SCRIPT_MAX + 1 - len)) != 0) {
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			(void)cli_failf(cli, "cannot read %s: %s", path, strerror(errno));
			goto out;
		}
		len += (size_t)got;
	}
	if (len > CONFIGITEM_SCRIPT_MAX)
		(void)cli_failf(cli, "%s is longer than %d bytes, the most a script may be", path,
				CONFIGITEM_SCRIPT_MAX);
	else if (len == 0)
		(void)cli_failf(cli, "%s is empty; a script was expected", path);
	else if (memchr(buf, '\0', len) != NULL)
		(void)cli_failf(cli, "%s holds a NUL byte; a script is text", path);
	else if ((v = json_stringn(buf, len)) == NULL)
		(void)cli_failf(cli, "%s is not UTF-8 text", path);
out:
	free(buf);
	(void)close(fd);
	return v;
}

/* The DER of the certificate in a file (DER or PEM), base64 as a JSON string; NULL after
 * printing why. */
static json_t *certificate_file(struct cli *cli, const char *path)
{
	struct pp_error err;
	unsigned char *der = NULL;
	char *b64 = NULL;
	json_t *v = NULL;
	X509 *x;
	int n;

	pp_error_clear(&err);
	x = pki_cert_load(path, &err);
	if (x == NULL) {
		(void)cli_fail(cli, &err);
		return NULL;
	}
	n = i2d_X509(x, &der);
	X509_free(x);
	if (n <= 0 || (b64 = malloc(((size_t)n + 2) / 3 * 4 + 1)) == NULL) {
		(void)cli_failf(cli, "cannot encode the certificate of %s", path);
		goto out;
	}
	(void)EVP_EncodeBlock((unsigned char *)b64, der, n);
	v = json_string(b64);
out:
	OPENSSL_free(der);
	free(b64);
	return v;
}

/* Sets key of obj to v (taking it); -1 when out of memory or v is NULL. */
static int put(json_t *obj, const char *key, json_t *v)
{
	return v == NULL || json_object_set_new(obj, key, v) != 0 ? -1 : 0;
}

static json_t *string_list(const char *const *items, int n)
{
	json_t *arr = json_array();

	for (int i = 0; arr != NULL && i < n; i++)
		if (json_array_append_new(arr, json_string(items[i])) != 0) {
			json_decref(arr);
			return NULL;
		}
	return arr;
}

/* ---- text output ---- */

static void print_script(const char *title, const char *text)
{
	const char *line = text, *nl;

	printf("%s\n", title);
	while (line != NULL && *line != '\0') {
		nl = strchr(line, '\n');
		printf("    %.*s\n", nl != NULL ? (int)(nl - line) : (int)strlen(line), line);
		line = nl != NULL ? nl + 1 : NULL;
	}
}

static void stores_line(const json_t *stores, char *out, size_t size)
{
	const json_t *v;
	size_t i, used = 0;

	out[0] = '\0';
	json_array_foreach(stores, i, v)
	{
		int n = snprintf(out + used, size - used, "%s%s", i > 0 ? ", " : "",
				 json_string_value(v) != NULL ? json_string_value(v) : "?");

		if (n < 0 || (size_t)n >= size - used)
			break;
		used += (size_t)n;
	}
}

static void print_ci(const json_t *doc)
{
	const json_t *cert = json_object_get(doc, "certificate");
	const json_t *script = json_object_get(doc, "script");
	char stores[64];

	printf("Configuration item \"%s\" (id %lld, revision %lld)\n", cli_json_str(doc, "name"),
	       cli_json_int(doc, "id", 0), cli_json_int(doc, "revision", 0));
	printf("Kind:        %s\n", cli_json_str(doc, "kind_label"));
	if (cert != NULL) {
		stores_line(json_object_get(cert, "stores"), stores, sizeof(stores));
		printf("Certificate: %s (%s)\n", cli_json_str(cert, "thumbprint"),
		       cli_json_str(cert, "subject"));
		printf("Stores:      %s\n", stores);
	} else {
		enum configitem_type t = CONFIGITEM_TYPE_STRING;
		struct pp_error ignored;

		pp_error_clear(&ignored);
		if (configitem_type_parse(cli_json_str(script, "data_type"), &t, &ignored) != 0)
			t = CONFIGITEM_TYPE_STRING;
		printf("Data type:   %s\n", configitem_type_label(t));
		printf("Rule:        equals %s\n", cli_json_str(script, "expected"));
		printf("Time limit:  %lld s\n", cli_json_int(script, "timeout_seconds", 0));
		printf("Remediation: %s\n",
		       cli_json_bool(script, "has_remediation") ? "yes" : "no");
	}
	printf("Baselines:   %lld\n", cli_json_int(doc, "baselines", 0));
	if (script != NULL && json_is_string(json_object_get(script, "discovery")))
		print_script("Discovery script:", cli_json_str(script, "discovery"));
	if (script != NULL && json_is_string(json_object_get(script, "remediation")))
		print_script("Remediation script:", cli_json_str(script, "remediation"));
}

static void print_ci_list(const json_t *doc)
{
	const json_t *c;
	char rule[160];
	size_t i;

	printf("%-5s %-36s %-20s %-4s %-9s %s\n", "Id", "Name", "Kind", "Rev", "Baselines", "Rule");
	json_array_foreach(json_object_get(doc, "configuration_items"), i, c)
	{
		const json_t *cert = json_object_get(c, "certificate");
		const json_t *script = json_object_get(c, "script");

		if (cert != NULL) {
			char stores[64];

			stores_line(json_object_get(cert, "stores"), stores, sizeof(stores));
			(void)snprintf(rule, sizeof(rule), "%.40s in %s",
				       cli_json_str(cert, "thumbprint"), stores);
		} else {
			(void)snprintf(rule, sizeof(rule), "%s equals %.64s",
				       cli_json_str(script, "data_type"),
				       cli_json_str(script, "expected"));
		}
		printf("%-5lld %-36s %-20s %-4lld %-9lld %s\n", cli_json_int(c, "id", 0),
		       cli_json_str(c, "name"), cli_json_str(c, "kind_label"),
		       cli_json_int(c, "revision", 0), cli_json_int(c, "baselines", 0), rule);
	}
}

static void print_baseline(const json_t *doc)
{
	const json_t *items = json_object_get(doc, "items"),
		     *deps = json_object_get(doc, "deployments");
	const json_t *v;
	size_t i;

	printf("Configuration baseline \"%s\" (id %lld, revision %lld)\n",
	       cli_json_str(doc, "name"), cli_json_int(doc, "id", 0),
	       cli_json_int(doc, "revision", 0));
	printf("Configuration items:%s\n", json_array_size(items) == 0 ? " none" : "");
	json_array_foreach(items, i, v)
	{
		enum configitem_kind k = CONFIGITEM_KIND_CERTIFICATE;
		struct pp_error ignored;

		pp_error_clear(&ignored);
		if (configitem_kind_parse(cli_json_str(v, "kind"), &k, &ignored) != 0)
			k = CONFIGITEM_KIND_SCRIPT;
		printf("    %s (%s, revision %lld)\n", cli_json_str(v, "name"),
		       configitem_kind_label(k), cli_json_int(v, "revision", 0));
	}
	printf("Deployments:%s\n", json_array_size(deps) == 0 ? " none" : "");
	json_array_foreach(deps, i, v)
	{
		printf("    %s (%s): remediate %s, every %lld hours\n",
		       cli_json_str(v, "collection"), cli_json_str(v, "collection_id"),
		       cli_json_bool(v, "remediate") ? "yes" : "no",
		       cli_json_int(v, "schedule_hours", 0));
	}
}

static void print_baseline_list(const json_t *doc)
{
	const json_t *b;
	size_t i;

	printf("%-5s %-36s %-4s %-6s %s\n", "Id", "Name", "Rev", "Items", "Deployments");
	json_array_foreach(json_object_get(doc, "baselines"), i, b)
	{
		printf("%-5lld %-36s %-4lld %-6lld %lld\n", cli_json_int(b, "id", 0),
		       cli_json_str(b, "name"), cli_json_int(b, "revision", 0),
		       cli_json_int(b, "items", 0), cli_json_int(b, "deployments", 0));
	}
}

static void print_deployment(const json_t *doc)
{
	printf("Deployed configuration baseline \"%s\" to collection \"%s\" (%s): remediate "
	       "noncompliant rules %s, evaluated every %lld hours (deployment %lld)\n",
	       cli_json_str(doc, "baseline"), cli_json_str(doc, "collection"),
	       cli_json_str(doc, "collection_id"), cli_json_bool(doc, "remediate") ? "yes" : "no",
	       cli_json_int(doc, "schedule_hours", 0), cli_json_int(doc, "id", 0));
}

/* ---- ci ---- */

static int ci_create_certificate(struct cli *cli, int argc, char **argv)
{
	static const char cmd[] = "ci create-certificate";
	struct ci_args a;
	json_t *body = NULL;
	char done[320];
	int rc;

	rc = parse(cmd, argc, argv,
		   ALLOW(OPT_JSON) | ALLOW(OPT_CERT) | ALLOW(OPT_THUMBPRINT) | ALLOW(OPT_STORE),
		   "a configuration item NAME", &a);
	if (rc != 0)
		return rc;
	if ((a.cert == NULL) == (a.thumbprint == NULL))
		return cli_usage(cmd, "give the certificate with --cert FILE or --thumbprint T");
	if (a.nstores == 0)
		return cli_usage(cmd, "give the stores it must be in: --store Root and/or --store "
				      "TrustedPublisher");
	body = json_pack("{s:s, s:s}", "name", a.name, "kind", "certificate");
	if (body == NULL)
		return cli_failf(cli, "'%s' is not UTF-8 text", a.name);
	if (a.cert != NULL) {
		json_t *v = certificate_file(cli, a.cert);

		if (v == NULL) {
			json_decref(body);
			return CLI_EXIT_FAIL;
		}
		(void)json_object_set_new(body, "certificate", v);
	} else if (put(body, "thumbprint", json_string(a.thumbprint)) != 0) {
		json_decref(body);
		return cli_failf(cli, "out of memory");
	}
	if (put(body, "stores", string_list(a.stores, a.nstores)) != 0) {
		json_decref(body);
		return cli_failf(cli, "a --store value is not UTF-8 text");
	}
	(void)snprintf(done, sizeof(done), "Created configuration item \"%.255s\"", a.name);
	rc = request(cli, cmd, &a, "POST", api_path("configuration-items", NULL, NULL, NULL), body,
		     true, print_ci, done);
	json_decref(body);
	return rc;
}

/* The script options of create-script and set into body; -1 after printing why. */
static int script_fields(struct cli *cli, const struct ci_args *a, json_t *body)
{
	json_t *v;

	if (a->discovery != NULL) {
		if ((v = script_file(cli, a->discovery)) == NULL)
			return -1;
		(void)json_object_set_new(body, "discovery", v);
	}
	if (a->remediation != NULL) {
		if ((v = script_file(cli, a->remediation)) == NULL)
			return -1;
		(void)json_object_set_new(body, "remediation", v);
	} else if (a->no_remediation) {
		(void)json_object_set_new(body, "remediation", json_null());
	}
	if ((a->type != NULL && put(body, "data_type", json_string(a->type)) != 0) ||
	    (a->expected != NULL && put(body, "expected", json_string(a->expected)) != 0) ||
	    (a->timeout >= 0 && put(body, "timeout_seconds", json_integer(a->timeout)) != 0)) {
		(void)cli_failf(cli, "a value given is not UTF-8 text");
		return -1;
	}
	return 0;
}

static int ci_create_script(struct cli *cli, int argc, char **argv)
{
	static const char cmd[] = "ci create-script";
	struct ci_args a;
	json_t *body;
	char done[320];
	int rc;

	rc = parse(cmd, argc, argv,
		   ALLOW(OPT_JSON) | ALLOW(OPT_DISCOVERY) | ALLOW(OPT_REMEDIATION) |
		       ALLOW(OPT_TYPE) | ALLOW(OPT_EXPECTED) | ALLOW(OPT_TIMEOUT),
		   "a configuration item NAME", &a);
	if (rc != 0)
		return rc;
	if (a.discovery == NULL)
		return cli_usage(cmd, "give the discovery script with --discovery FILE");
	if (a.type == NULL)
		return cli_usage(cmd, "give the data type with --type boolean|string|integer");
	if (a.expected == NULL)
		return cli_usage(cmd, "give the compliant value with --expected VALUE");
	body = json_pack("{s:s, s:s, s:s}", "name", a.name, "kind", "script", "operator", "equals");
	if (body == NULL)
		return cli_failf(cli, "'%s' is not UTF-8 text", a.name);
	if (script_fields(cli, &a, body) != 0) {
		json_decref(body);
		return CLI_EXIT_FAIL;
	}
	(void)snprintf(done, sizeof(done), "Created configuration item \"%.255s\"", a.name);
	rc = request(cli, cmd, &a, "POST", api_path("configuration-items", NULL, NULL, NULL), body,
		     true, print_ci, done);
	json_decref(body);
	return rc;
}

static int ci_set(struct cli *cli, int argc, char **argv)
{
	static const char cmd[] = "ci set";
	struct ci_args a;
	json_t *body;
	char done[320];
	int rc;

	rc = parse(cmd, argc, argv,
		   ALLOW(OPT_JSON) | ALLOW(OPT_STORE) | ALLOW(OPT_DISCOVERY) |
		       ALLOW(OPT_REMEDIATION) | ALLOW(OPT_NO_REMEDIATION) | ALLOW(OPT_TYPE) |
		       ALLOW(OPT_EXPECTED) | ALLOW(OPT_TIMEOUT),
		   "a configuration item NAME", &a);
	if (rc != 0)
		return rc;
	if (a.remediation != NULL && a.no_remediation)
		return cli_usage(cmd, "--remediation and --no-remediation contradict each other");
	if (a.nstores == 0 && a.discovery == NULL && a.remediation == NULL && !a.no_remediation &&
	    a.type == NULL && a.expected == NULL && a.timeout < 0)
		return cli_usage(cmd, "nothing to change");
	body = json_object();
	if (body == NULL)
		return cli_failf(cli, "out of memory");
	if ((a.nstores > 0 && put(body, "stores", string_list(a.stores, a.nstores)) != 0) ||
	    script_fields(cli, &a, body) != 0) {
		json_decref(body);
		return CLI_EXIT_FAIL;
	}
	(void)snprintf(done, sizeof(done), "Changed configuration item \"%.255s\"", a.name);
	rc = request(cli, cmd, &a, "PATCH", api_path("configuration-items", a.name, NULL, NULL),
		     body, true, print_ci, done);
	json_decref(body);
	return rc;
}

static int ci_list(struct cli *cli, int argc, char **argv)
{
	struct ci_args a;
	int rc = parse("ci list", argc, argv, ALLOW(OPT_JSON), NULL, &a);

	if (rc != 0)
		return rc;
	return request(cli, "ci list", &a, "GET", api_path("configuration-items", NULL, NULL, NULL),
		       NULL, true, print_ci_list, NULL);
}

static int ci_show(struct cli *cli, int argc, char **argv)
{
	struct ci_args a;
	int rc = parse("ci show", argc, argv, ALLOW(OPT_JSON), "a configuration item NAME", &a);

	if (rc != 0)
		return rc;
	return request(cli, "ci show", &a, "GET",
		       api_path("configuration-items", a.name, NULL, NULL), NULL, true, print_ci,
		       NULL);
}

static int ci_delete(struct cli *cli, int argc, char **argv)
{
	struct ci_args a;
	char done[320];
	int rc = parse("ci delete", argc, argv, 0, "a configuration item NAME", &a);

	if (rc != 0)
		return rc;
	(void)snprintf(done, sizeof(done), "Configuration item \"%.255s\" deleted", a.name);
	return request(cli, "ci delete", &a, "DELETE",
		       api_path("configuration-items", a.name, NULL, NULL), NULL, false, NULL,
		       done);
}

int cli_ci(struct cli *cli, int argc, char **argv)
{
	static const struct cli_verb verbs[] = {
	    {"create-certificate", "an item: a certificate that must be in stores",
	     ci_create_certificate_manual, ci_create_certificate},
	    {"create-script", "an item: a discovery script and the value it must find",
	     ci_create_script_manual, ci_create_script},
	    {"set", "change an item (its revision moves)", ci_set_manual, ci_set},
	    {"list", "the configuration items", ci_list_manual, ci_list},
	    {"show", "one configuration item", ci_show_manual, ci_show},
	    {"delete", "delete an item no baseline holds", ci_delete_manual, ci_delete},
	};

	return cli_dispatch(cli, "ci", verbs, sizeof(verbs) / sizeof(verbs[0]), argc - 1, argv + 1);
}

/* ---- baseline ---- */

static int bl_create(struct cli *cli, int argc, char **argv)
{
	static const char cmd[] = "baseline create";
	struct ci_args a;
	json_t *body;
	char done[320];
	int rc;

	rc = parse(cmd, argc, argv, ALLOW(OPT_JSON) | ALLOW(OPT_CI), "a baseline NAME", &a);
	if (rc != 0)
		return rc;
	body = json_pack("{s:s, s:o}", "name", a.name, "items", string_list(a.items, a.nitems));
	if (body == NULL)
		return cli_failf(cli, "a name given is not UTF-8 text");
	(void)snprintf(done, sizeof(done), "Created configuration baseline \"%.255s\"", a.name);
	rc = request(cli, cmd, &a, "POST", api_path("baselines", NULL, NULL, NULL), body, true,
		     print_baseline, done);
	json_decref(body);
	return rc;
}

static int bl_item(struct cli *cli, int argc, char **argv, bool add)
{
	const char *cmd = add ? "baseline add-ci" : "baseline remove-ci";
	struct ci_args a;
	json_t *body = NULL;
	char done[640];
	int rc;

	rc = parse(cmd, argc, argv, ALLOW(OPT_JSON) | ALLOW(OPT_CI), "a baseline NAME", &a);
	if (rc != 0)
		return rc;
	if (a.nitems != 1)
		return cli_usage(cmd, "give one configuration item with --ci ITEM");
	(void)snprintf(done, sizeof(done), "Configuration item \"%.255s\" %s baseline \"%.255s\"",
		       a.items[0], add ? "added to" : "removed from", a.name);
	if (add) {
		body = json_pack("{s:s}", "item", a.items[0]);
		if (body == NULL)
			return cli_failf(cli, "'%s' is not UTF-8 text", a.items[0]);
		rc = request(cli, cmd, &a, "POST", api_path("baselines", a.name, "/items", NULL),
			     body, true, print_baseline, done);
	} else {
		rc = request(cli, cmd, &a, "DELETE",
			     api_path("baselines", a.name, "/items", a.items[0]), NULL, true,
			     print_baseline, done);
	}
	json_decref(body);
	return rc;
}

static int bl_add(struct cli *cli, int argc, char **argv)
{
	return bl_item(cli, argc, argv, true);
}

static int bl_remove(struct cli *cli, int argc, char **argv)
{
	return bl_item(cli, argc, argv, false);
}

static int bl_list(struct cli *cli, int argc, char **argv)
{
	struct ci_args a;
	int rc = parse("baseline list", argc, argv, ALLOW(OPT_JSON), NULL, &a);

	if (rc != 0)
		return rc;
	return request(cli, "baseline list", &a, "GET", api_path("baselines", NULL, NULL, NULL),
		       NULL, true, print_baseline_list, NULL);
}

static int bl_show(struct cli *cli, int argc, char **argv)
{
	struct ci_args a;
	int rc = parse("baseline show", argc, argv, ALLOW(OPT_JSON), "a baseline NAME", &a);

	if (rc != 0)
		return rc;
	return request(cli, "baseline show", &a, "GET", api_path("baselines", a.name, NULL, NULL),
		       NULL, true, print_baseline, NULL);
}

static int bl_delete(struct cli *cli, int argc, char **argv)
{
	struct ci_args a;
	char done[320];
	int rc = parse("baseline delete", argc, argv, 0, "a baseline NAME", &a);

	if (rc != 0)
		return rc;
	(void)snprintf(done, sizeof(done), "Configuration baseline \"%.255s\" deleted", a.name);
	return request(cli, "baseline delete", &a, "DELETE",
		       api_path("baselines", a.name, NULL, NULL), NULL, false, NULL, done);
}

static int bl_deploy(struct cli *cli, int argc, char **argv)
{
	static const char cmd[] = "baseline deploy";
	struct ci_args a;
	json_t *body;
	char done[640];
	int rc;

	rc = parse(cmd, argc, argv,
		   ALLOW(OPT_JSON) | ALLOW(OPT_COLLECTION) | ALLOW(OPT_REMEDIATE) |
		       ALLOW(OPT_SCHEDULE_HOURS),
		   "a baseline NAME", &a);
	if (rc != 0)
		return rc;
	if (a.collection == NULL || a.collection[0] == '\0')
		return cli_usage(cmd, "give the collection with --collection C");
	body = json_pack("{s:s, s:b}", "collection", a.collection, "remediate", a.remediate);
	if (body == NULL || (a.schedule_hours >= 0 &&
			     put(body, "schedule_hours", json_integer(a.schedule_hours)) != 0)) {
		json_decref(body);
		return cli_failf(cli, "'%s' is not UTF-8 text", a.collection);
	}
	(void)snprintf(done, sizeof(done),
		       "Deployed configuration baseline \"%.255s\" to collection \"%.255s\"",
		       a.name, a.collection);
	rc = request(cli, cmd, &a, "POST", api_path("baselines", a.name, "/deployments", NULL),
		     body, true, print_deployment, done);
	json_decref(body);
	return rc;
}

static int bl_undeploy(struct cli *cli, int argc, char **argv)
{
	static const char cmd[] = "baseline undeploy";
	struct ci_args a;
	char done[640];
	int rc;

	rc = parse(cmd, argc, argv, ALLOW(OPT_COLLECTION), "a baseline NAME", &a);
	if (rc != 0)
		return rc;
	if (a.collection == NULL || a.collection[0] == '\0')
		return cli_usage(cmd, "give the collection with --collection C");
	(void)snprintf(done, sizeof(done),
		       "Configuration baseline \"%.255s\" is no longer deployed to collection "
		       "\"%.255s\"",
		       a.name, a.collection);
	return request(cli, cmd, &a, "DELETE",
		       api_path("baselines", a.name, "/deployments", a.collection), NULL, false,
		       NULL, done);
}

int cli_baseline(struct cli *cli, int argc, char **argv)
{
	static const struct cli_verb verbs[] = {
	    {"create", "a configuration baseline of items", bl_create_manual, bl_create},
	    {"add-ci", "add an item to a baseline", bl_add_manual, bl_add},
	    {"remove-ci", "remove an item from a baseline", bl_remove_manual, bl_remove},
	    {"list", "the configuration baselines", bl_list_manual, bl_list},
	    {"show", "a baseline, its items and deployments", bl_show_manual, bl_show},
	    {"delete", "delete a baseline that is not deployed", bl_delete_manual, bl_delete},
	    {"deploy", "deploy a baseline to a collection", bl_deploy_manual, bl_deploy},
	    {"undeploy", "take a baseline's deployment away", bl_undeploy_manual, bl_undeploy},
	};

	return cli_dispatch(cli, "baseline", verbs, sizeof(verbs) / sizeof(verbs[0]), argc - 1,
			    argv + 1);
}

/* ---- compliance baseline ---- */

static void print_compliance(const json_t *doc)
{
	static const char *const order[] = {"compliant", "non_compliant", "remediated", "error",
					    "unknown"};
	static const char *const labels[] = {"Compliant", "Non-compliant", "Remediated", "Error",
					     "Unknown"};
	const json_t *b = json_object_get(doc, "baseline"), *d, *it;
	const json_t *summary = json_object_get(doc, "summary");
	char when[32], code[24];
	size_t i, k;

	printf("Compliance of configuration baseline \"%s\" (revision %lld)\n",
	       cli_json_str(b, "name"), cli_json_int(b, "revision", 0));
	printf("%-24s %-14s %s\n", "Device", "Status", "Reported");
	printf("    %-36s %-14s %-12s %s\n", "Configuration item", "Status", "Code", "Detail");
	json_array_foreach(json_object_get(doc, "devices"), i, d)
	{
		cli_format_time(cli_json_int(d, "time", 0), when, sizeof(when));
		printf("%-24s %-14s %s\n", cli_json_str(d, "device"), cli_json_str(d, "status"),
		       when);
		json_array_foreach(json_object_get(d, "items"), k, it)
		{
			const json_t *hr = json_object_get(it, "hresult");

			if (json_is_string(hr))
				(void)snprintf(code, sizeof(code), "%s", json_string_value(hr));
			else if (json_is_integer(json_object_get(it, "exit_code")))
				(void)snprintf(code, sizeof(code), "exit %lld",
					       cli_json_int(it, "exit_code", 0));
			else
				(void)snprintf(code, sizeof(code), "-");
			printf("    %-36s %-14s %-12s %s\n", cli_json_str(it, "name"),
			       cli_json_str(it, "status"), code, cli_json_str(it, "detail"));
		}
	}
	printf("Summary:");
	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		printf("%s %s %lld", i > 0 ? "," : "", labels[i],
		       cli_json_int(summary, order[i], 0));
	printf("\n");
}

int cli_compliance_baseline(struct cli *cli, int argc, char **argv)
{
	static const char cmd[] = "compliance baseline";
	struct ci_args a;
	int rc;

	if (cli_wants_help(argc, argv))
		return cli_manual(compliance_baseline_manual);
	rc = parse(cmd, argc, argv, ALLOW(OPT_JSON), "a baseline NAME", &a);
	if (rc != 0)
		return rc;
	return request(cli, cmd, &a, "GET", api_path("compliance/baselines", a.name, NULL, NULL),
		       NULL, true, print_compliance, NULL);
}
