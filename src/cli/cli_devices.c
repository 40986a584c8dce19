/* cli_devices.c - patchpoint enrollment-key, collection, client-settings and device: the
 * administrator's side of devices and of what applies to them (DESIGN 5.6), over patchpointd's
 * API (src/server/device_api.c). The server decides and checks; these commands send what was
 * asked and show the answers as the console would: values as Yes/No or numbers, and for each
 * resultant value the client setting it came from. */
#include "cli.h"
#include "cli_api.h"
#include "clientsettings.h"

#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>

enum {
	OPT_JSON = 1,
	OPT_NAME,
	OPT_EXPIRES,
	OPT_QUERY,
	OPT_INCLUDE,
	OPT_EXCLUDE,
	OPT_MEMBER,
	OPT_COLLECTION,
	OPT_SETTING, /* OPT_SETTING + i: the setting flag clientsettings_keys()[i] */
};

#define ALLOW(opt)     (1u << (opt))
#define ALLOW_SETTINGS ALLOW(OPT_SETTING)
#define ALLOW_RULES    (ALLOW(OPT_QUERY) | ALLOW(OPT_INCLUDE) | ALLOW(OPT_EXCLUDE) | ALLOW(OPT_MEMBER))

/* The settings by CLI flag and API key, with the console's labels (src/lib/clientsettings.c,
 * the table the server uses). The server is the authority on values: it checks each one's range
 * and names the setting when it refuses; here a value is only checked to be yes/no or a whole
 * number. */
#define SETTING_COUNT CS_KEY_COUNT

#define DEFAULT_SETTINGS CLIENTSETTINGS_DEFAULT_NAME
#define LIST_MAX	 2048 /* bytes of a joined list on one line (32 tags of 64 bytes) */

/* ---- manuals ---- */

#define SETTING_FLAGS_SYNOPSIS                                                                     \
	"[--software-updates yes|no] [--third-party yes|no]\n"                                     \
	"        [--scan-days N] [--reevaluation-days N] [--polling-minutes N]"

#define SETTING_FLAGS_MANUAL                                                                       \
	"    --software-updates yes|no   Enable software updates on clients (default Yes)\n"       \
	"    --third-party yes|no        Enable third party software updates (default No)\n"       \
	"    --scan-days N               Software update scan schedule, days (1-365, default 7)\n" \
	"    --reevaluation-days N       Schedule deployment re-evaluation, days (1-365,\n"        \
	"                                default 7)\n"                                             \
	"    --polling-minutes N         Client policy polling interval, minutes (3-1440,\n"       \
	"                                default 60)\n"

static const char ekey_create_manual[] =
    "NAME\n"
    "    patchpoint enrollment-key create - make a key with which devices register\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint enrollment-key create [--name NAME] [--expires TIME] [--json]\n"
    "\n"
    "DESCRIPTION\n"
    "    Makes an enrollment key: a device that presents it to the management point\n"
    "    (POST /api/v1/device/register) is registered and gets its own credential. The key is\n"
    "    printed once; the server keeps only its digest, so it cannot be shown again. Give it\n"
    "    to the devices' installer the way you would a password, and revoke it when it leaks.\n"
    "    TIME is Unix seconds, 'now', or YYYY-MM-DDTHH:MM[:SS]Z (UTC), and must be in the\n"
    "    future.\n"
    "\n"
    "OPTIONS\n"
    "    --name NAME      what the key is for (\"kiosks, floor 2\")\n"
    "    --expires TIME   from when the key registers no device (default: never)\n"
    "    --json           the server's answer as JSON (with the key)\n" CLI_API_MANUAL_OPTIONS "\n"
    "EXIT STATUS\n"
    "    0 created, 1 refused or failed, 2 usage error\n";

static const char ekey_list_manual[] =
    "NAME\n"
    "    patchpoint enrollment-key list - the enrollment keys\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint enrollment-key list [--json]\n"
    "\n"
    "DESCRIPTION\n"
    "    One line per key: id, name, when it was made and when it expires, how many\n"
    "    registrations it made, and whether it is active, expired or revoked. The keys\n"
    "    themselves are never shown again.\n"
    "\n"
    "OPTIONS\n"
    "    --json   the server's answer as JSON\n" CLI_API_MANUAL_OPTIONS "\n"
    "EXIT STATUS\n"
    "    0 success, 1 failed, 2 usage error\n";

static const char ekey_revoke_manual[] =
    "NAME\n"
    "    patchpoint enrollment-key revoke - stop a key from registering devices\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint enrollment-key revoke ID\n"
    "\n"
    "DESCRIPTION\n"
    "    A revoked key registers no more devices. Devices it registered keep their\n"
    "    credentials.\n"
    "\n"
    "OPTIONS\n" CLI_API_MANUAL_OPTIONS "\n"
    "EXIT STATUS\n"
    "    0 revoked, 1 refused (no such key) or failed, 2 usage error\n";

static const char coll_create_manual[] =
    "NAME\n"
    "    patchpoint collection create - make a collection of devices\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint collection create NAME [--query FIELD=VALUE]... [--include C]...\n"
    "                                 [--exclude C]... [--member DEVICE]... [--json]\n"
    "\n"
    "DESCRIPTION\n"
    "    Makes a collection with membership rules and prints its id, name and members. Its\n"
    "    members are its direct members, the devices a query matches and the members of the\n"
    "    collections it includes, less the members of those it excludes; they are updated as\n"
    "    devices register. A query's FIELD is name, os, client_version or tag; a VALUE with\n"
    "    '*' or '?' is a glob ('name=kiosk-*'), otherwise it is compared whole; both ignore\n"
    "    case. C is a collection's name or id (All Systems is SMS00001), DEVICE a device's\n"
    "    name or id.\n"
    "\n"
    "OPTIONS\n"
    "    --query FIELD=VALUE   the devices whose FIELD matches VALUE\n"
    "    --include C           the members of collection C\n"
    "    --exclude C           never the members of collection C\n"
    "    --member DEVICE       DEVICE as a direct member\n"
    "    --json                the server's answer as JSON\n" CLI_API_MANUAL_OPTIONS "\n"
    "EXIT STATUS\n"
    "    0 created, 1 refused (a name in use, an unknown device or collection, a rule that\n"
    "    is not valid) or failed, 2 usage error\n";

static const char coll_list_manual[] =
    "NAME\n"
    "    patchpoint collection list - the collections\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint collection list [--json]\n"
    "\n"
    "DESCRIPTION\n"
    "    One line per collection: its id and name.\n"
    "\n"
    "OPTIONS\n"
    "    --json   the server's answer as JSON\n" CLI_API_MANUAL_OPTIONS "\n"
    "EXIT STATUS\n"
    "    0 success, 1 failed, 2 usage error\n";

static const char coll_show_manual[] =
    "NAME\n"
    "    patchpoint collection show - a collection's rules and members\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint collection show NAME|ID [--json]\n"
    "\n"
    "DESCRIPTION\n"
    "    Prints the collection's id, name, membership rules and members.\n"
    "\n"
    "OPTIONS\n"
    "    --json   the server's answer as JSON\n" CLI_API_MANUAL_OPTIONS "\n"
    "EXIT STATUS\n"
    "    0 success, 1 no such collection or failed, 2 usage error\n";

static const char coll_delete_manual[] =
    "NAME\n"
    "    patchpoint collection delete - delete a collection\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint collection delete NAME|ID\n"
    "\n"
    "DESCRIPTION\n"
    "    Deletes a collection that no other collection includes or excludes and to which\n"
    "    nothing is deployed. All Systems cannot be deleted.\n"
    "\n"
    "OPTIONS\n" CLI_API_MANUAL_OPTIONS "\n"
    "EXIT STATUS\n"
    "    0 deleted, 1 refused or failed, 2 usage error\n";

static const char cs_list_manual[] =
    "NAME\n"
    "    patchpoint client-settings list - the client settings, in order\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint client-settings list [--json]\n"
    "\n"
    "DESCRIPTION\n"
    "    One line per client setting, as the console's Client Settings node shows them: the\n"
    "    order, the name, the groups of settings it configures and the collections it is\n"
    "    deployed to. Custom client device settings have the orders 1 to n; Default Client\n"
    "    Settings keeps 10000 and applies to every device. For each setting a device gets the\n"
    "    value of the deployed custom setting with the lowest order that configures it,\n"
    "    otherwise the default's.\n"
    "\n"
    "OPTIONS\n"
    "    --json   the server's answer as JSON\n" CLI_API_MANUAL_OPTIONS "\n"
    "EXIT STATUS\n"
    "    0 success, 1 failed, 2 usage error\n";

static const char cs_show_manual[] =
    "NAME\n"
    "    patchpoint client-settings show - one client setting\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint client-settings show NAME [--json]\n"
    "\n"
    "DESCRIPTION\n"
    "    Prints the client setting's order, type, the collections it is deployed to and the\n"
    "    values of the groups it configures. Names ignore case.\n"
    "\n"
    "OPTIONS\n"
    "    --json   the server's answer as JSON\n" CLI_API_MANUAL_OPTIONS "\n"
    "EXIT STATUS\n"
    "    0 success, 1 no such client setting or failed, 2 usage error\n";

static const char cs_create_manual[] =
    "NAME\n"
    "    patchpoint client-settings create - create custom client device settings\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint client-settings create NAME " SETTING_FLAGS_SYNOPSIS " [--json]\n"
    "\n"
    "DESCRIPTION\n"
    "    Creates a custom client device setting with the next order (the highest number,\n"
    "    the lowest priority of the custom ones). As in the console, it configures whole\n"
    "    groups: a flag of a group configures that group, its other settings taking their\n"
    "    defaults. Deploy it to collections with 'patchpoint client-settings deploy'.\n"
    "\n"
    "OPTIONS\n" SETTING_FLAGS_MANUAL
    "    --json                      the server's answer as JSON\n" CLI_API_MANUAL_OPTIONS "\n"
    "EXIT STATUS\n"
    "    0 created, 1 refused (a name in use, a value out of range) or failed, 2 usage error\n";

static const char cs_set_manual[] =
    "NAME\n"
    "    patchpoint client-settings set - change the values of a client setting\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint client-settings set NAME " SETTING_FLAGS_SYNOPSIS " [--json]\n"
    "\n"
    "DESCRIPTION\n"
    "    Changes the given settings; the others keep their values. A flag of a group the\n"
    "    client setting does not configure yet makes it configure that group. NAME \"Default\n"
    "    Client Settings\" changes the default, which applies to every device:\n"
    "        patchpoint client-settings set \"Default Client Settings\" --third-party yes\n"
    "    Devices get the new values when they next download policy.\n"
    "\n"
    "OPTIONS\n" SETTING_FLAGS_MANUAL
    "    --json                      the server's answer as JSON\n" CLI_API_MANUAL_OPTIONS "\n"
    "EXIT STATUS\n"
    "    0 changed, 1 refused (no such client setting, a value out of range) or failed,\n"
    "    2 usage error\n";

static const char cs_move_up_manual[] =
    "NAME\n"
    "    patchpoint client-settings move-up - give a client setting a higher priority\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint client-settings move-up NAME [--json]\n"
    "\n"
    "DESCRIPTION\n"
    "    Move Item Up: swaps the order of the custom client setting with the one before it\n"
    "    (order n becomes n-1). The lower order wins where both configure a setting. Prints\n"
    "    the client settings in their new order. Default Client Settings cannot be moved.\n"
    "\n"
    "OPTIONS\n"
    "    --json   the server's answer as JSON\n" CLI_API_MANUAL_OPTIONS "\n"
    "EXIT STATUS\n"
    "    0 moved, 1 refused (already first, the default) or failed, 2 usage error\n";

static const char cs_move_down_manual[] =
    "NAME\n"
    "    patchpoint client-settings move-down - give a client setting a lower priority\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint client-settings move-down NAME [--json]\n"
    "\n"
    "DESCRIPTION\n"
    "    Move Item Down: swaps the order of the custom client setting with the one after it\n"
    "    (order n becomes n+1). Prints the client settings in their new order. Default\n"
    "    Client Settings cannot be moved.\n"
    "\n"
    "OPTIONS\n"
    "    --json   the server's answer as JSON\n" CLI_API_MANUAL_OPTIONS "\n"
    "EXIT STATUS\n"
    "    0 moved, 1 refused (already last, the default) or failed, 2 usage error\n";

static const char cs_deploy_manual[] =
    "NAME\n"
    "    patchpoint client-settings deploy - deploy a client setting to a collection\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint client-settings deploy NAME --collection C [--json]\n"
    "\n"
    "DESCRIPTION\n"
    "    The devices of collection C (a name or an id) get the client setting's values\n"
    "    where no deployed client setting with a lower order configures them. Default\n"
    "    Client Settings is not deployed: it applies to every device.\n"
    "\n"
    "OPTIONS\n"
    "    --collection C   the collection, by name or id (All Systems is SMS00001)\n"
    "    --json           the server's answer as JSON\n" CLI_API_MANUAL_OPTIONS "\n"
    "EXIT STATUS\n"
    "    0 deployed, 1 refused (already deployed, unknown names, the default) or failed,\n"
    "    2 usage error\n";

static const char cs_undeploy_manual[] =
    "NAME\n"
    "    patchpoint client-settings undeploy - remove a client setting's deployment\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint client-settings undeploy NAME --collection C\n"
    "\n"
    "DESCRIPTION\n"
    "    Removes the deployment of the client setting to collection C (a name or an id).\n"
    "\n"
    "OPTIONS\n"
    "    --collection C   the collection, by name or id\n" CLI_API_MANUAL_OPTIONS "\n"
    "EXIT STATUS\n"
    "    0 removed, 1 refused (not deployed there, unknown names) or failed, 2 usage error\n";

static const char cs_delete_manual[] =
    "NAME\n"
    "    patchpoint client-settings delete - delete a custom client setting\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint client-settings delete NAME\n"
    "\n"
    "DESCRIPTION\n"
    "    Deletes a custom client setting with its deployments; those after it move up one\n"
    "    order. Default Client Settings cannot be deleted.\n"
    "\n"
    "OPTIONS\n" CLI_API_MANUAL_OPTIONS "\n"
    "EXIT STATUS\n"
    "    0 deleted, 1 refused or failed, 2 usage error\n";

static const char cs_minimum_manual[] =
    "NAME\n"
    "    patchpoint client-settings minimum-version - the client version that gets\n"
    "    third-party certificates\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint client-settings minimum-version [VERSION] [--json]\n"
    "\n"
    "DESCRIPTION\n"
    "    Prints, or with VERSION sets, the lowest client version to which the site's\n"
    "    third-party signing certificates are delivered (default 5.00.8692.1003, the\n"
    "    ConfigMgr 1806 client). Older clients show 'below the minimum' in 'patchpoint device\n"
    "    resultant-settings'. VERSION is four dot-separated numbers.\n"
    "\n"
    "OPTIONS\n"
    "    --json   the server's answer as JSON\n" CLI_API_MANUAL_OPTIONS "\n"
    "EXIT STATUS\n"
    "    0 success, 1 refused (not a version) or failed, 2 usage error\n";

static const char dev_list_manual[] =
    "NAME\n"
    "    patchpoint device list - the registered devices\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint device list [--json]\n"
    "\n"
    "DESCRIPTION\n"
    "    One line per device: name, id, OS, client version, tags and when it last\n"
    "    downloaded policy.\n"
    "\n"
    "OPTIONS\n"
    "    --json   the server's answer as JSON\n" CLI_API_MANUAL_OPTIONS "\n"
    "EXIT STATUS\n"
    "    0 success, 1 failed, 2 usage error\n";

static const char dev_show_manual[] =
    "NAME\n"
    "    patchpoint device show - one device and its collections\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint device show NAME|ID [--json]\n"
    "\n"
    "DESCRIPTION\n"
    "    Prints the device's name, id, OS, client version, tags, registration and last policy\n"
    "    times, and the collections it is a member of. A name that several devices share is\n"
    "    refused: give the id.\n"
    "\n"
    "OPTIONS\n"
    "    --json   the server's answer as JSON\n" CLI_API_MANUAL_OPTIONS "\n"
    "EXIT STATUS\n"
    "    0 success, 1 no such device or failed, 2 usage error\n";

static const char dev_resultant_manual[] =
    "NAME\n"
    "    patchpoint device resultant-settings - the client settings a device gets\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint device resultant-settings NAME|ID [--json]\n"
    "\n"
    "DESCRIPTION\n"
    "    Resultant Client Settings: each setting's value (Yes/No or a number) and the client\n"
    "    setting it comes from, the deployed custom setting with the lowest order that\n"
    "    configures it or Default Client Settings. Then whether third-party software updates\n"
    "    are enabled and by which client setting, the device's client version against the\n"
    "    minimum ('patchpoint client-settings minimum-version'), and whether the site's\n"
    "    signing certificates are delivered to it. When third-party updates show No, the\n"
    "    client setting named beside them is the one to change.\n"
    "\n"
    "OPTIONS\n"
    "    --json   the server's answer as JSON\n" CLI_API_MANUAL_OPTIONS "\n"
    "EXIT STATUS\n"
    "    0 success, 1 no such device or failed, 2 usage error\n";

static const char dev_settings_manual[] =
    "NAME\n"
    "    patchpoint device client-settings - the client settings deployed to a device\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint device client-settings NAME|ID [--json]\n"
    "\n"
    "DESCRIPTION\n"
    "    The device's Client Settings tab: every client setting deployed to one of its\n"
    "    collections, in order, with the collections through which it applies; Default\n"
    "    Client Settings last.\n"
    "\n"
    "OPTIONS\n"
    "    --json   the server's answer as JSON\n" CLI_API_MANUAL_OPTIONS "\n"
    "EXIT STATUS\n"
    "    0 success, 1 no such device or failed, 2 usage error\n";

/* ---- arguments ---- */

/* What a verb was given. */
struct verb_args {
	struct cli_api_flags flags;
	bool json;
	const char *name;	/* --name */
	long long expires;	/* --expires; -1 when not given */
	const char *collection; /* --collection */
	json_t *rules;		/* the rule options as [{"query": ...}, ...], in order (owned) */
	json_t *settings;	/* the setting flags as {API key: value} (owned) */
	char **pos;		/* the positional arguments */
	int npos;
};

static void verb_args_free(struct verb_args *a)
{
	json_decref(a->rules);
	json_decref(a->settings);
	a->rules = a->settings = NULL;
}

/* jansson takes UTF-8 text only. */
static bool is_utf8(const char *s)
{
	json_t *j = json_string(s);

	json_decref(j);
	return j != NULL;
}

/* Adds {"kind": value} to the rules; -1 when out of memory. */
static int add_rule(json_t **rules, const char *kind, const char *value)
{
	if (*rules == NULL && (*rules = json_array()) == NULL)
		return -1;
	return json_array_append_new(*rules, json_pack("{s:s}", kind, value));
}

/* The value of setting flag f as JSON: true/false for yes/no, an integer for a whole number
 * (its range is the server's to check); NULL when it is neither. */
static json_t *setting_value(const struct clientsettings_key_info *f, const char *text)
{
	long n;

	if ((f->type == CS_TYPE_BOOL)) {
		if (strcasecmp(text, "yes") == 0)
			return json_true();
		if (strcasecmp(text, "no") == 0)
			return json_false();
		return NULL;
	}
	if (text[0] < '0' || text[0] > '9' || cli_parse_int(text, 0, 1000000000L, &n) != 0)
		return NULL;
	return json_integer(n);
}

/* Parses argv of verb cmd: the options in allowed and the connection options, then min_pos to
 * max_pos positional arguments (what names them: "a client setting NAME"). Returns 0 with a
 * filled (free with verb_args_free), or the exit code of a usage error. */
static int verb_parse(const char *cmd, int argc, char **argv, unsigned allowed, int min_pos,
		      int max_pos, const char *what, struct verb_args *a)
{
	static const struct option fixed[] = {
	    {"json", no_argument, NULL, OPT_JSON},
	    {"name", required_argument, NULL, OPT_NAME},
	    {"expires", required_argument, NULL, OPT_EXPIRES},
	    {"query", required_argument, NULL, OPT_QUERY},
	    {"include", required_argument, NULL, OPT_INCLUDE},
	    {"exclude", required_argument, NULL, OPT_EXCLUDE},
	    {"member", required_argument, NULL, OPT_MEMBER},
	    {"collection", required_argument, NULL, OPT_COLLECTION},
	    CLI_API_LONG_OPTIONS,
	};
	static const char *const rule_kinds[] = {"query", "include", "exclude", "member"};
	struct option options[sizeof(fixed) / sizeof(fixed[0]) + SETTING_COUNT + 1];
	size_t n = 0;
	int c, rc = CLI_EXIT_USAGE;

	memset(a, 0, sizeof(*a));
	a->expires = -1;
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		options[n++] = fixed[i];
	for (size_t i = 0; i < SETTING_COUNT; i++)
		options[n++] = (struct option){clientsettings_keys()[i].flag, required_argument,
					       NULL, OPT_SETTING + (int)i};
	options[n] = (struct option){NULL, 0, NULL, 0};

	optind = 0;
	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		const char *opt = NULL;

		if (cli_api_flag(&a->flags, c, optarg))
			continue;
		for (size_t i = 0; i < n; i++)
			if (options[i].val == c)
				opt = options[i].name;
		if (opt == NULL) {
			rc = cli_usage(cmd, "invalid option");
			goto fail;
		}
		if ((allowed & ALLOW(c < OPT_SETTING ? c : OPT_SETTING)) == 0) {
			rc = cli_usage(cmd, "--%s is not an option of '%s'", opt, cmd);
			goto fail;
		}
		if (optarg != NULL && !is_utf8(optarg)) {
			rc = cli_usage(cmd, "the value of --%s is not UTF-8 text", opt);
			goto fail;
		}
		switch (c) {
		case OPT_JSON:
			a->json = true;
			break;
		case OPT_NAME:
			a->name = optarg;
			break;
		case OPT_EXPIRES:
			if (cli_parse_time(optarg, &a->expires) != 0) {
				rc = cli_usage(cmd,
					       "'%s' is not a time (Unix seconds, now, or "
					       "YYYY-MM-DDTHH:MM[:SS]Z)",
					       optarg);
				goto fail;
			}
			break;
		case OPT_QUERY:
		case OPT_INCLUDE:
		case OPT_EXCLUDE:
		case OPT_MEMBER:
			if (optarg[0] == '\0') {
				rc = cli_usage(cmd, "--%s takes a non-empty value", opt);
				goto fail;
			}
			if (add_rule(&a->rules, rule_kinds[c - OPT_QUERY], optarg) != 0)
				goto oom;
			break;
		case OPT_COLLECTION:
			if (optarg[0] == '\0') {
				rc = cli_usage(cmd, "--collection takes a collection's name or id");
				goto fail;
			}
			a->collection = optarg;
			break;
		default: {
			const struct clientsettings_key_info *f =
			    &clientsettings_keys()[c - OPT_SETTING];
			json_t *v = setting_value(f, optarg);

			if (v == NULL) {
				rc = cli_usage(cmd, "--%s takes %s, not '%s'", f->flag,
					       (f->type == CS_TYPE_BOOL) ? "yes or no"
									 : "a whole number",
					       optarg);
				goto fail;
			}
			if ((a->settings == NULL && (a->settings = json_object()) == NULL) ||
			    json_object_set_new(a->settings, f->key, v) != 0)
				goto oom;
		}
		}
	}
	a->pos = argv + optind;
	a->npos = argc - optind;
	if (a->npos > max_pos) {
		rc = cli_usage(cmd, "unexpected argument '%s'", a->pos[max_pos]);
		goto fail;
	}
	if (a->npos < min_pos) {
		rc = cli_usage(cmd, "expected %s", what);
		goto fail;
	}
	for (int i = 0; i < a->npos; i++) {
		if (a->pos[i][0] == '\0' || !is_utf8(a->pos[i])) {
			rc = cli_usage(cmd, "expected %s, not '%s'", what, a->pos[i]);
			goto fail;
		}
	}
	return 0;
oom:
	fputs("patchpoint: out of memory\n", stderr);
	rc = CLI_EXIT_FAIL;
fail:
	verb_args_free(a);
	return rc;
}

/* ---- requests ---- */

/* "/api/v1/<base>[/<seg>][<mid>[/<seg2>]]" with the segments percent-encoded; the caller
 * frees it; NULL when out of memory. */
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

/* How a verb shows the server's answer as text. */
typedef void (*answer_printer)(const json_t *doc, const struct verb_args *a);

/* The shape of the verbs: METHOD path (NULL: out of memory) with body, the one-line error on
 * failure, else the answer as JSON (--json) or through print (NULL: nothing). with_body: the
 * server answers a JSON object (otherwise 204, and doc is NULL). done, when not NULL, is logged
 * on success. */
static int run_request(struct cli *cli, const char *cmd, const struct verb_args *a,
		       const char *method, const char *path, const json_t *body, bool with_body,
		       answer_printer print, const char *done)
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
		return rc;
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
		if (done != NULL)
			cli_log(cli, CMTRACE_INFO, "%s", done);
		if (a->json && doc != NULL) {
			rc = cli_print_json(doc) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
			doc = NULL;
		} else if (print != NULL) {
			print(doc, a);
		}
	}
	json_decref(doc);
	cli_api_free(api);
	return rc;
}

/* A GET of base/<the one positional argument>[suffix], or of base without one. */
static int read_verb(struct cli *cli, const char *cmd, int argc, char **argv, const char *base,
		     const char *suffix, const char *what, answer_printer print)
{
	struct verb_args a;
	char *path;
	int one = what != NULL ? 1 : 0, rc;

	rc = verb_parse(cmd, argc, argv, ALLOW(OPT_JSON), one, one, what, &a);
	if (rc != 0)
		return rc;
	path = api_path(base, one ? a.pos[0] : NULL, suffix, NULL);
	rc = run_request(cli, cmd, &a, "GET", path, NULL, true, print, NULL);
	free(path);
	verb_args_free(&a);
	return rc;
}

/* A change answered without a body (204): METHOD base/seg[mid[/seg2]]; line is printed and
 * logged once it is done. */
static int run_action(struct cli *cli, const char *cmd, const struct verb_args *a,
		      const char *method, const char *base, const char *seg, const char *mid,
		      const char *seg2, const char *line)
{
	char *path = api_path(base, seg, mid, seg2);
	int rc = run_request(cli, cmd, a, method, path, NULL, false, NULL, line);

	if (rc == CLI_EXIT_OK)
		printf("%s\n", line);
	free(path);
	return rc;
}

/* ---- text output ---- */

/* The strings of arr (or the member key of its objects) joined by sep into out; empty for
 * none. */
static const char *join(const json_t *arr, const char *key, const char *sep, char *out, size_t size)
{
	size_t i, used = 0;
	const json_t *v;

	out[0] = '\0';
	json_array_foreach(arr, i, v)
	{
		const char *s = key != NULL ? cli_json_str(v, key) : json_string_value(v);
		int n = snprintf(out + used, size - used, "%s%s", used > 0 ? sep : "",
				 s != NULL ? s : "");

		if (n < 0 || (size_t)n >= size - used) {
			out[used] = '\0'; /* the whole items that fit: a line, not a record */
			break;
		}
		used += (size_t)n;
	}
	return out;
}

/* A setting's value as the console shows it: Yes/No or the number. */
static const char *value_text(const json_t *v, char *buf, size_t size)
{
	if (json_is_boolean(v))
		return json_is_true(v) ? "Yes" : "No";
	if (json_is_integer(v)) {
		(void)snprintf(buf, size, "%lld", (long long)json_integer_value(v));
		return buf;
	}
	return "?";
}

static const struct clientsettings_key_info *setting_by_key(const char *key)
{
	for (size_t i = 0; i < SETTING_COUNT; i++)
		if (strcmp(clientsettings_keys()[i].key, key) == 0)
			return &clientsettings_keys()[i];
	return NULL;
}

/* "never", or the time. */
static const char *expiry_text(const json_t *obj, const char *key, char *buf, size_t size)
{
	long long t = cli_json_int(obj, key, 0);

	if (t <= 0)
		return "never";
	cli_format_time(t, buf, size);
	return buf;
}

/* ---- enrollment-key ---- */

static void print_ekeys(const json_t *doc, const struct verb_args *a)
{
	const json_t *k;
	char created[32], expires[32];
	long long now = (long long)time(NULL);
	size_t i;

	(void)a;
	printf("%-5s %-24s %-24s %-24s %-5s %s\n", "Id", "Name", "Created", "Expires", "Uses",
	       "State");
	json_array_foreach(json_object_get(doc, "enrollment_keys"), i, k)
	{
		long long exp = cli_json_int(k, "expires_at", 0);

		cli_format_time(cli_json_int(k, "created_at", 0), created, sizeof(created));
		printf("%-5lld %-24s %-24s %-24s %-5lld %s\n", cli_json_int(k, "id", 0),
		       cli_json_str(k, "name")[0] != '\0' ? cli_json_str(k, "name") : "-", created,
		       expiry_text(k, "expires_at", expires, sizeof(expires)),
		       cli_json_int(k, "uses", 0),
		       cli_json_bool(k, "revoked") ? "revoked"
		       : exp > 0 && exp <= now	   ? "expired"
						   : "active");
	}
}

static int ekey_create(struct cli *cli, int argc, char **argv)
{
	static const char cmd[] = "enrollment-key create";
	struct cli_api_response resp;
	struct cli_api *api = NULL;
	struct verb_args a;
	struct pp_error err;
	json_t *body = NULL;
	const json_t *doc;
	const char *key;
	char expires[32];
	int rc;

	rc = verb_parse(cmd, argc, argv, ALLOW(OPT_JSON) | ALLOW(OPT_NAME) | ALLOW(OPT_EXPIRES), 0,
			0, NULL, &a);
	if (rc != 0)
		return rc;
	memset(&resp, 0, sizeof(resp));
	api = cli_api_open(cli, cmd, &a.flags, &rc);
	if (api == NULL)
		goto out;
	body = json_object();
	if (body == NULL ||
	    (a.name != NULL && json_object_set_new(body, "name", json_string(a.name)) != 0) ||
	    (a.expires >= 0 &&
	     json_object_set_new(body, "expires_at", json_integer(a.expires)) != 0)) {
		rc = cli_failf(cli, "out of memory");
		goto out;
	}
	pp_error_clear(&err);
	/* Not cli_api_call: the answer holds the key, which is wiped before it is freed. */
	if (cli_api_request(api, "POST", "/api/v1/enrollment-keys", body, &resp, &err) != 0) {
		rc = cli_fail(cli, &err);
		goto out;
	}
	doc = resp.json;
	key = cli_json_str(doc, "key");
	if (!json_is_object(doc) || key[0] == '\0') {
		rc = cli_failf(cli, "%s answered without an enrollment key", cli_api_server(api));
		goto out;
	}
	cli_log(cli, CMTRACE_INFO, "Created enrollment key %lld (%s)", cli_json_int(doc, "id", 0),
		cli_json_str(doc, "name"));
	rc = CLI_EXIT_OK;
	if (a.json) {
		rc = cli_print_json(json_incref(resp.json)) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
		goto out;
	}
	printf("Enrollment key %lld created\n", cli_json_int(doc, "id", 0));
	printf("Name:    %s\n",
	       cli_json_str(doc, "name")[0] != '\0' ? cli_json_str(doc, "name") : "-");
	printf("Expires: %s\n", expiry_text(doc, "expires_at", expires, sizeof(expires)));
	printf("Key:     %s\n", key);
	printf("The key is shown only now: the server keeps only its digest.\n");
out:
	fflush(stdout);
	key = json_string_value(json_object_get(resp.json, "key"));
	if (key != NULL)
		OPENSSL_cleanse((char *)key, strlen(key));
	if (resp.body != NULL)
		OPENSSL_cleanse(resp.body, resp.len);
	cli_api_response_free(&resp);
	json_decref(body);
	cli_api_free(api);
	verb_args_free(&a);
	return rc;
}

static int ekey_list(struct cli *cli, int argc, char **argv)
{
	return read_verb(cli, "enrollment-key list", argc, argv, "enrollment-keys", NULL, NULL,
			 print_ekeys);
}

static int ekey_revoke(struct cli *cli, int argc, char **argv)
{
	static const char cmd[] = "enrollment-key revoke";
	struct verb_args a;
	char done[64], digits[24];
	long id;
	int rc;

	rc = verb_parse(cmd, argc, argv, 0, 1, 1, "an enrollment key ID", &a);
	if (rc != 0)
		return rc;
	if (a.pos[0][0] < '0' || a.pos[0][0] > '9' ||
	    cli_parse_int(a.pos[0], 1, LONG_MAX, &id) != 0) {
		rc = cli_usage(cmd, "'%s' is not an enrollment key id (a positive number)",
			       a.pos[0]);
		goto out;
	}
	(void)snprintf(done, sizeof(done), "Enrollment key %ld revoked", id);
	(void)snprintf(digits, sizeof(digits), "%ld", id);
	rc = run_action(cli, cmd, &a, "POST", "enrollment-keys", digits, "/revoke", NULL, done);
out:
	verb_args_free(&a);
	return rc;
}

int cli_enrollment_key(struct cli *cli, int argc, char **argv)
{
	static const struct cli_verb verbs[] = {
	    {"create", "make a key with which devices register", ekey_create_manual, ekey_create},
	    {"list", "the enrollment keys", ekey_list_manual, ekey_list},
	    {"revoke", "stop a key from registering devices", ekey_revoke_manual, ekey_revoke},
	};

	return cli_dispatch(cli, "enrollment-key", verbs, sizeof(verbs) / sizeof(verbs[0]),
			    argc - 1, argv + 1);
}

/* ---- collection ---- */

static void print_rule(const json_t *r)
{
	static const char *const by_name[] = {"member", "include", "exclude"};

	if (json_object_get(r, "query") != NULL) {
		printf("    query %s\n", cli_json_str(r, "query"));
		return;
	}
	for (size_t i = 0; i < sizeof(by_name) / sizeof(by_name[0]); i++)
		if (json_object_get(r, by_name[i]) != NULL) {
			printf("    %s %s (%s)\n", by_name[i], cli_json_str(r, "name"),
			       cli_json_str(r, by_name[i]));
			return;
		}
}

static void print_collection(const json_t *doc, const struct verb_args *a)
{
	const json_t *rules = json_object_get(doc, "rules"), *v;
	size_t i;

	(void)a;
	printf("Id:      %s\n", cli_json_str(doc, "id"));
	printf("Name:    %s\n", cli_json_str(doc, "name"));
	if (strcmp(cli_json_str(doc, "id"), "SMS00001") == 0)
		printf("Rules:   every device\n");
	else if (json_array_size(rules) == 0)
		printf("Rules:   none\n");
	else
		printf("Rules:\n");
	json_array_foreach(rules, i, v)
	{
		print_rule(v);
	}
	printf("Members: %lld\n", cli_json_int(doc, "member_count", 0));
	json_array_foreach(json_object_get(doc, "members"), i, v)
	{
		printf("    %-42s %s\n", cli_json_str(v, "id"), cli_json_str(v, "name"));
	}
}

static void print_collections(const json_t *doc, const struct verb_args *a)
{
	const json_t *c;
	size_t i;

	(void)a;
	printf("%-9s %s\n", "Id", "Name");
	json_array_foreach(json_object_get(doc, "collections"), i, c)
	{
		printf("%-9s %s\n", cli_json_str(c, "id"), cli_json_str(c, "name"));
	}
}

static int coll_create(struct cli *cli, int argc, char **argv)
{
	static const char cmd[] = "collection create";
	struct verb_args a;
	json_t *body;
	char done[320];
	int rc;

	rc = verb_parse(cmd, argc, argv, ALLOW(OPT_JSON) | ALLOW_RULES, 1, 1, "a collection NAME",
			&a);
	if (rc != 0)
		return rc;
	body = json_pack("{s:s, s:o}", "name", a.pos[0], "rules",
			 a.rules != NULL ? json_incref(a.rules) : json_array());
	if (body == NULL) {
		rc = cli_failf(cli, "out of memory");
		goto out;
	}
	(void)snprintf(done, sizeof(done), "Created collection %s", a.pos[0]);
	rc = run_request(cli, cmd, &a, "POST", "/api/v1/collections", body, true, print_collection,
			 done);
out:
	json_decref(body);
	verb_args_free(&a);
	return rc;
}

static int coll_list(struct cli *cli, int argc, char **argv)
{
	return read_verb(cli, "collection list", argc, argv, "collections", NULL, NULL,
			 print_collections);
}

static int coll_show(struct cli *cli, int argc, char **argv)
{
	return read_verb(cli, "collection show", argc, argv, "collections", NULL,
			 "a collection NAME or ID", print_collection);
}

static int coll_delete(struct cli *cli, int argc, char **argv)
{
	static const char cmd[] = "collection delete";
	struct verb_args a;
	char done[320];
	int rc;

	rc = verb_parse(cmd, argc, argv, 0, 1, 1, "a collection NAME or ID", &a);
	if (rc != 0)
		return rc;
	(void)snprintf(done, sizeof(done), "Collection %s deleted", a.pos[0]);
	rc = run_action(cli, cmd, &a, "DELETE", "collections", a.pos[0], NULL, NULL, done);
	verb_args_free(&a);
	return rc;
}

int cli_collection(struct cli *cli, int argc, char **argv)
{
	static const struct cli_verb verbs[] = {
	    {"create", "make a collection with membership rules", coll_create_manual, coll_create},
	    {"list", "the collections", coll_list_manual, coll_list},
	    {"show", "a collection's rules and members", coll_show_manual, coll_show},
	    {"delete", "delete a collection", coll_delete_manual, coll_delete},
	};

	return cli_dispatch(cli, "collection", verbs, sizeof(verbs) / sizeof(verbs[0]), argc - 1,
			    argv + 1);
}

/* ---- client-settings ---- */

static void print_setting_list(const json_t *list)
{
	const json_t *c;
	char groups[LIST_MAX], deps[LIST_MAX];
	size_t i;

	printf("%-6s %-32s %-32s %s\n", "Order", "Name", "Groups configured", "Deployments");
	json_array_foreach(list, i, c)
	{
		const json_t *d = json_object_get(c, "deployments");

		join(json_object_get(c, "groups"), NULL, ", ", groups, sizeof(groups));
		join(d, "collection", ", ", deps, sizeof(deps));
		printf("%-6lld %-32s %-32s %s\n", cli_json_int(c, "order", 0),
		       cli_json_str(c, "name"), groups[0] != '\0' ? groups : "-",
		       cli_json_bool(c, "default") ? "(every device)"
		       : deps[0] != '\0'	   ? deps
						   : "-");
	}
}

static void print_settings(const json_t *doc, const struct verb_args *a)
{
	(void)a;
	print_setting_list(json_object_get(doc, "client_settings"));
}

static void print_setting(const json_t *doc, const struct verb_args *a)
{
	const json_t *d, *v;
	const char *key, *group = NULL;
	char groups[LIST_MAX], num[32];
	size_t i;

	(void)a;
	join(json_object_get(doc, "groups"), NULL, ", ", groups, sizeof(groups));
	printf("Name:        %s\n", cli_json_str(doc, "name"));
	printf("Order:       %lld\n", cli_json_int(doc, "order", 0));
	printf("Type:        %s\n", cli_json_bool(doc, "default")
					? "Default Client Settings (applies to every device)"
					: "Custom client device settings");
	printf("Groups:      %s\n", groups[0] != '\0' ? groups : "none");
	if (!cli_json_bool(doc, "default")) {
		if (json_array_size(json_object_get(doc, "deployments")) == 0)
			printf("Deployments: none\n");
		else
			printf("Deployments:\n");
		json_array_foreach(json_object_get(doc, "deployments"), i, d)
		{
			printf("    %-9s %s\n", cli_json_str(d, "collection_id"),
			       cli_json_str(d, "collection"));
		}
	}
	json_object_foreach(json_object_get(doc, "settings"), key, v)
	{
		const struct clientsettings_key_info *f = setting_by_key(key);
		const char *g = f != NULL ? clientsettings_group_name(f->group) : "Other";

		if (group == NULL || strcmp(group, g) != 0)
			printf("%s\n", g);
		group = g;
		printf("    %-42s %s\n", f != NULL ? f->label : key,
		       value_text(v, num, sizeof(num)));
	}
}

static int cs_list(struct cli *cli, int argc, char **argv)
{
	return read_verb(cli, "client-settings list", argc, argv, "client-settings", NULL, NULL,
			 print_settings);
}

static int cs_show(struct cli *cli, int argc, char **argv)
{
	return read_verb(cli, "client-settings show", argc, argv, "client-settings", NULL,
			 "a client setting NAME", print_setting);
}

/* create NAME and set NAME: the setting flags as the body's "settings". */
static int cs_write(struct cli *cli, int argc, char **argv, bool create)
{
	const char *cmd = create ? "client-settings create" : "client-settings set";
	struct verb_args a;
	json_t *body = NULL;
	char done[320], *path = NULL;
	int rc;

	rc = verb_parse(cmd, argc, argv, ALLOW(OPT_JSON) | ALLOW_SETTINGS, 1, 1,
			"a client setting NAME", &a);
	if (rc != 0)
		return rc;
	if (!create && a.settings == NULL) {
		rc = cli_usage(cmd, "give at least one setting (--software-updates, --third-party, "
				    "--scan-days, --reevaluation-days, --polling-minutes)");
		goto out;
	}
	body = json_object();
	if (body == NULL ||
	    (create && json_object_set_new(body, "name", json_string(a.pos[0])) != 0) ||
	    (a.settings != NULL && json_object_set(body, "settings", a.settings) != 0)) {
		rc = cli_failf(cli, "out of memory");
		goto out;
	}
	(void)snprintf(done, sizeof(done), "%s client setting %s", create ? "Created" : "Changed",
		       a.pos[0]);
	path = create ? strdup("/api/v1/client-settings")
		      : api_path("client-settings", a.pos[0], NULL, NULL);
	rc = run_request(cli, cmd, &a, create ? "POST" : "PATCH", path, body, true, print_setting,
			 done);
out:
	free(path);
	json_decref(body);
	verb_args_free(&a);
	return rc;
}

static int cs_create(struct cli *cli, int argc, char **argv)
{
	return cs_write(cli, argc, argv, true);
}

static int cs_set(struct cli *cli, int argc, char **argv)
{
	return cs_write(cli, argc, argv, false);
}

static void print_moved(const json_t *doc, const struct verb_args *a)
{
	const json_t *list = json_object_get(doc, "client_settings"), *c;
	size_t i;

	json_array_foreach(list, i, c)
	{
		if (strcasecmp(cli_json_str(c, "name"), a->pos[0]) == 0)
			printf("%s now has order %lld\n", cli_json_str(c, "name"),
			       cli_json_int(c, "order", 0));
	}
	print_setting_list(list);
}

static int cs_move(struct cli *cli, int argc, char **argv, bool up)
{
	const char *cmd = up ? "client-settings move-up" : "client-settings move-down";
	struct verb_args a;
	char done[320], *path;
	int rc;

	rc = verb_parse(cmd, argc, argv, ALLOW(OPT_JSON), 1, 1, "a client setting NAME", &a);
	if (rc != 0)
		return rc;
	(void)snprintf(done, sizeof(done), "Moved client setting %s %s", a.pos[0],
		       up ? "up" : "down");
	path = api_path("client-settings", a.pos[0], up ? "/move-up" : "/move-down", NULL);
	rc = run_request(cli, cmd, &a, "POST", path, NULL, true, print_moved, done);
	free(path);
	verb_args_free(&a);
	return rc;
}

static int cs_move_up(struct cli *cli, int argc, char **argv)
{
	return cs_move(cli, argc, argv, true);
}

static int cs_move_down(struct cli *cli, int argc, char **argv)
{
	return cs_move(cli, argc, argv, false);
}

static void print_deployed(const json_t *doc, const struct verb_args *a)
{
	const json_t *d;
	size_t i;

	json_array_foreach(json_object_get(doc, "deployments"), i, d)
	{
		if (strcasecmp(cli_json_str(d, "collection"), a->collection) == 0 ||
		    strcasecmp(cli_json_str(d, "collection_id"), a->collection) == 0) {
			printf("Deployed %s to %s (%s)\n", cli_json_str(doc, "name"),
			       cli_json_str(d, "collection"), cli_json_str(d, "collection_id"));
			return;
		}
	}
	printf("Deployed %s to %s\n", cli_json_str(doc, "name"), a->collection);
}

/* deploy and undeploy NAME --collection C. */
static int cs_deployment(struct cli *cli, int argc, char **argv, bool deploy)
{
	const char *cmd = deploy ? "client-settings deploy" : "client-settings undeploy";
	struct verb_args a;
	json_t *body = NULL;
	char done[640], *path;
	int rc;

	rc = verb_parse(cmd, argc, argv, ALLOW(OPT_COLLECTION) | (deploy ? ALLOW(OPT_JSON) : 0), 1,
			1, "a client setting NAME", &a);
	if (rc != 0)
		return rc;
	if (a.collection == NULL) {
		rc = cli_usage(cmd, "--collection C is required");
		goto out;
	}
	if (!deploy) {
		(void)snprintf(done, sizeof(done), "Removed the deployment of %s to %s", a.pos[0],
			       a.collection);
		rc = run_action(cli, cmd, &a, "DELETE", "client-settings", a.pos[0], "/deployments",
				a.collection, done);
		goto out;
	}
	(void)snprintf(done, sizeof(done), "Deployed client setting %s to %s", a.pos[0],
		       a.collection);
	body = json_pack("{s:s}", "collection", a.collection);
	path = body != NULL ? api_path("client-settings", a.pos[0], "/deployments", NULL) : NULL;
	rc = run_request(cli, cmd, &a, "POST", path, body, true, print_deployed, done);
	free(path);
out:
	json_decref(body);
	verb_args_free(&a);
	return rc;
}

static int cs_deploy(struct cli *cli, int argc, char **argv)
{
	return cs_deployment(cli, argc, argv, true);
}

static int cs_undeploy(struct cli *cli, int argc, char **argv)
{
	return cs_deployment(cli, argc, argv, false);
}

static int cs_delete(struct cli *cli, int argc, char **argv)
{
	static const char cmd[] = "client-settings delete";
	struct verb_args a;
	char done[320];
	int rc;

	rc = verb_parse(cmd, argc, argv, 0, 1, 1, "a client setting NAME", &a);
	if (rc != 0)
		return rc;
	(void)snprintf(done, sizeof(done), "Client setting %s deleted", a.pos[0]);
	rc = run_action(cli, cmd, &a, "DELETE", "client-settings", a.pos[0], NULL, NULL, done);
	verb_args_free(&a);
	return rc;
}

static void print_minimum(const json_t *doc, const struct verb_args *a)
{
	(void)a;
	printf("Minimum client version for third-party software updates: %s\n",
	       cli_json_str(doc, "minimum_client_version"));
}

static int cs_minimum(struct cli *cli, int argc, char **argv)
{
	static const char cmd[] = "client-settings minimum-version";
	struct verb_args a;
	json_t *body = NULL;
	char done[128];
	int rc;

	rc = verb_parse(cmd, argc, argv, ALLOW(OPT_JSON), 0, 1, "a VERSION", &a);
	if (rc != 0)
		return rc;
	if (a.npos == 0) {
		rc = run_request(cli, cmd, &a, "GET", "/api/v1/third-party-client-version", NULL,
				 true, print_minimum, NULL);
		goto out;
	}
	body = json_pack("{s:s}", "minimum_client_version", a.pos[0]);
	if (body == NULL) {
		rc = cli_failf(cli, "out of memory");
		goto out;
	}
	(void)snprintf(done, sizeof(done), "Set the minimum client version to %.64s", a.pos[0]);
	rc = run_request(cli, cmd, &a, "PUT", "/api/v1/third-party-client-version", body, true,
			 print_minimum, done);
out:
	json_decref(body);
	verb_args_free(&a);
	return rc;
}

int cli_client_settings(struct cli *cli, int argc, char **argv)
{
	static const struct cli_verb verbs[] = {
	    {"list", "the client settings, in order", cs_list_manual, cs_list},
	    {"show", "one client setting", cs_show_manual, cs_show},
	    {"create", "create custom client device settings", cs_create_manual, cs_create},
	    {"set", "change the values of a client setting", cs_set_manual, cs_set},
	    {"move-up", "give a client setting a higher priority", cs_move_up_manual, cs_move_up},
	    {"move-down", "give a client setting a lower priority", cs_move_down_manual,
	     cs_move_down},
	    {"deploy", "deploy a client setting to a collection", cs_deploy_manual, cs_deploy},
	    {"undeploy", "remove a client setting's deployment", cs_undeploy_manual, cs_undeploy},
	    {"delete", "delete a custom client setting", cs_delete_manual, cs_delete},
	    {"minimum-version", "the client version that gets third-party certificates",
	     cs_minimum_manual, cs_minimum},
	};

	return cli_dispatch(cli, "client-settings", verbs, sizeof(verbs) / sizeof(verbs[0]),
			    argc - 1, argv + 1);
}

/* ---- device ---- */

static void print_devices(const json_t *doc, const struct verb_args *a)
{
	const json_t *d;
	char tags[LIST_MAX], last[32];
	size_t i;

	(void)a;
	printf("%-20s %-42s %-24s %-15s %-20s %s\n", "Name", "Id", "OS", "Client version", "Tags",
	       "Last policy");
	json_array_foreach(json_object_get(doc, "devices"), i, d)
	{
		join(json_object_get(d, "tags"), NULL, ",", tags, sizeof(tags));
		cli_format_time(cli_json_int(d, "last_policy_at", 0), last, sizeof(last));
		printf("%-20s %-42s %-24s %-15s %-20s %s\n", cli_json_str(d, "name"),
		       cli_json_str(d, "id"),
		       cli_json_str(d, "os")[0] != '\0' ? cli_json_str(d, "os") : "-",
		       cli_json_str(d, "client_version"), tags[0] != '\0' ? tags : "-", last);
	}
}

static void print_device(const json_t *doc, const struct verb_args *a)
{
	const json_t *c;
	char tags[LIST_MAX], when[32];
	size_t i;

	(void)a;
	join(json_object_get(doc, "tags"), NULL, ",", tags, sizeof(tags));
	printf("Name:           %s\n", cli_json_str(doc, "name"));
	printf("Id:             %s\n", cli_json_str(doc, "id"));
	printf("OS:             %s\n",
	       cli_json_str(doc, "os")[0] != '\0' ? cli_json_str(doc, "os") : "-");
	printf("Client version: %s\n", cli_json_str(doc, "client_version"));
	printf("Tags:           %s\n", tags[0] != '\0' ? tags : "-");
	cli_format_time(cli_json_int(doc, "registered_at", 0), when, sizeof(when));
	printf("Registered:     %s\n", when);
	cli_format_time(cli_json_int(doc, "last_policy_at", 0), when, sizeof(when));
	printf("Last policy:    %s\n", when);
	printf("Collections:\n");
	json_array_foreach(json_object_get(doc, "collections"), i, c)
	{
		printf("    %-9s %s\n", cli_json_str(c, "id"), cli_json_str(c, "name"));
	}
}

static void print_resultant(const json_t *doc, const struct verb_args *a)
{
	const json_t *dev = json_object_get(doc, "device"), *tp, *v;
	json_t *settings;
	const char *key, *group = NULL;
	char num[32];
	bool enabled, version_ok;

	(void)a;
	settings = json_object_get(doc, "settings");
	tp = json_object_get(doc, "third_party");
	enabled = cli_json_bool(tp, "enabled");
	version_ok = cli_json_bool(tp, "client_version_ok");
	printf("Resultant client settings of %s (%s)\n", cli_json_str(dev, "name"),
	       cli_json_str(dev, "id"));
	json_object_foreach(settings, key, v)
	{
		const char *g = cli_json_str(v, "group");

		if (group == NULL || strcmp(group, g) != 0)
			printf("%s\n", g);
		group = g;
		printf("    %-42s %-4s from %s\n", cli_json_str(v, "label"),
		       value_text(json_object_get(v, "value"), num, sizeof(num)),
		       cli_json_str(v, "source"));
	}
	/* "enabled" is software updates and third-party updates both on: name the one that is
	 * off, and the client setting it comes from. */
	if (enabled)
		printf("Third-party software updates: Yes, from %s\n", cli_json_str(tp, "source"));
	else if (json_is_true(json_object_get(
		     json_object_get(settings, "software_updates.third_party"), "value")))
		printf(
		    "Third-party software updates: No (software updates are disabled), from %s\n",
		    cli_json_str(json_object_get(settings, "software_updates.enabled"), "source"));
	else
		printf("Third-party software updates: No, from %s\n", cli_json_str(tp, "source"));
	printf("Client version: %s, %s the minimum %s\n", cli_json_str(dev, "client_version"),
	       version_ok ? "at least" : "below", cli_json_str(tp, "minimum_client_version"));
	printf("Signing certificates delivered: %s\n",
	       cli_json_bool(tp, "certificates_delivered") ? "Yes"
	       : !enabled ? "No (third-party software updates are disabled)"
			  : "No (the client version is below the minimum)");
}

static void print_device_settings(const json_t *doc, const struct verb_args *a)
{
	const json_t *dev = json_object_get(doc, "device"), *c;
	char via[LIST_MAX];
	size_t i;

	(void)a;
	printf("Client settings deployed to %s (%s), in order\n", cli_json_str(dev, "name"),
	       cli_json_str(dev, "id"));
	printf("%-6s %-32s %s\n", "Order", "Name", "Deployed through");
	json_array_foreach(json_object_get(doc, "client_settings"), i, c)
	{
		join(json_object_get(c, "deployed_to"), NULL, ", ", via, sizeof(via));
		printf("%-6lld %-32s %s\n", cli_json_int(c, "order", 0), cli_json_str(c, "name"),
		       cli_json_bool(c, "default") ? "(every device)" : via);
	}
}

static int dev_list(struct cli *cli, int argc, char **argv)
{
	return read_verb(cli, "device list", argc, argv, "devices", NULL, NULL, print_devices);
}

static int dev_show(struct cli *cli, int argc, char **argv)
{
	return read_verb(cli, "device show", argc, argv, "devices", NULL, "a device NAME or ID",
			 print_device);
}

static int dev_resultant(struct cli *cli, int argc, char **argv)
{
	return read_verb(cli, "device resultant-settings", argc, argv, "devices",
			 "/resultant-settings", "a device NAME or ID", print_resultant);
}

static int dev_settings(struct cli *cli, int argc, char **argv)
{
	return read_verb(cli, "device client-settings", argc, argv, "devices", "/client-settings",
			 "a device NAME or ID", print_device_settings);
}

int cli_device(struct cli *cli, int argc, char **argv)
{
	static const struct cli_verb verbs[] = {
	    {"list", "the registered devices", dev_list_manual, dev_list},
	    {"show", "one device and its collections", dev_show_manual, dev_show},
	    {"resultant-settings", "the client settings a device gets, and from which",
	     dev_resultant_manual, dev_resultant},
	    {"client-settings", "the client settings deployed to a device, in order",
	     dev_settings_manual, dev_settings},
	};

	return cli_dispatch(cli, "device", verbs, sizeof(verbs) / sizeof(verbs[0]), argc - 1,
			    argv + 1);
}
