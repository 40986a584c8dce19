/* agent_main.c - the patchpoint-agent program: global options, then one verb (register, trigger,
 * status). The work is in agent_state, agent_http and agent_policy; this file parses options,
 * prints results and turns errors into one line on stderr and an exit code (DESIGN 6). */
#include "agent_http.h"
#include "agent_policy.h"
#include "agent_state.h"

#include "certstore.h"
#include "hresult.h"
#include "machinepolicy.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/crypto.h>

#ifndef PATCHPOINT_VERSION
#define PATCHPOINT_VERSION "0.1.0"
#endif

#define EXIT_OK	   0
#define EXIT_FAIL  1
#define EXIT_USAGE 2

#define PROGRAM	       "patchpoint-agent"
#define ENROLLMENT_MAX 1024
#define MAX_TAGS       32
#define TAG_MAX	       64
#define OS_MAX	       255
#define REGISTER_PATH  "/api/v1/device/register"
#define OS_RELEASE_MAX (64u << 10)

#define MANUAL_MACHINE_OPTION                                                                      \
	"    --machine DIR   the machine directory (default $PATCHPOINT_MACHINE, else\n"           \
	"                    " CERTSTORE_DEFAULT_MACHINE ")\n"

static const char main_manual[] =
    "NAME\n"
    "    patchpoint-agent - the patchpoint client of a device\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint-agent [--machine DIR] <verb> [options]\n"
    "\n"
    "DESCRIPTION\n"
    "    What the Configuration Manager client is to a Windows device: it registers the\n"
    "    device with its site (role mp of patchpointd), retrieves and evaluates machine\n"
    "    policy, and applies what the client settings say about third-party software\n"
    "    updates: the policy value AcceptTrustedPublisherCerts and the signing certificates\n"
    "    of the site in the Trusted Root Certification Authorities and Trusted Publishers\n"
    "    stores of the machine. Its state and logs live in the machine directory.\n"
    "\n"
    "VERBS\n"
    "    register     register the device with a site (enrollment key)\n"
    "    trigger      run a client cycle now, by name or ConfigMgr schedule id\n"
    "    status       registration, last machine policy, managed certificates\n"
    "\n"
    "OPTIONS\n" MANUAL_MACHINE_OPTION "    --version       print the version\n"
    "    --help          this page; 'patchpoint-agent <verb> --help' for a verb's manual\n"
    "\n"
    "FILES\n"
    "    DIR/agent/agent.json           the registration: server, device id, credential\n"
    "                                   (mode 0600)\n"
    "    DIR/agent/machine-id           the machine id sent at registration, made once\n"
    "    DIR/agent/policy.json          the last machine policy received\n"
    "    DIR/agent/managed-certs.json   certificates the agent installed from policy\n"
    "    DIR/logs/PolicyAgent.log, DIR/logs/UpdatesDeployment.log\n"
    "                                   what the cycles did (CMTrace format)\n"
    "\n"
    "EXIT STATUS\n"
    "    0 success, 1 a failed operation (one line on stderr), 2 a usage error.\n";

static const char register_manual[] =
    "NAME\n"
    "    patchpoint-agent register - register the device with its site\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint-agent register --server URL (--enrollment-key KEY | --enrollment-key-file\n"
    "        FILE) [--name NAME] [--os TEXT] [--tag TAG]... [--report-version V]\n"
    "        [--ca-bundle FILE] [--machine DIR]\n"
    "\n"
    "DESCRIPTION\n"
    "    Sends POST /api/v1/device/register to the site's management point with the\n"
    "    enrollment key an administrator made, the machine id (made once per machine\n"
    "    directory and kept), the device's name, OS, client version and tags. The site\n"
    "    answers with the device id and a credential, which the agent keeps in\n"
    "    DIR/agent/agent.json (mode 0600) and never prints or logs. Registering again keeps\n"
    "    the device id (the site knows the machine id) and replaces the credential.\n"
    "\n"
    "OPTIONS\n"
    "    --server URL            the site, http:// or https:// (e.g. https://site:8531)\n"
    "    --enrollment-key KEY    the enrollment key; other users can see command lines,\n"
    "                            so prefer --enrollment-key-file\n"
    "    --enrollment-key-file FILE\n"
    "                            read the enrollment key from the first line of FILE\n"
    "    --name NAME             the device name (default: the host name)\n"
    "    --os TEXT               the operating system (default: PRETTY_NAME of\n"
    "                            /etc/os-release)\n"
    "    --tag TAG               a tag for collection rules, 1-64 of [A-Za-z0-9._-];\n"
    "                            up to 32, repeat the option\n"
    "    --report-version V      report client version V instead of " AGENT_CLIENT_VERSION "\n"
    "                            (to try the site's minimum client version)\n"
    "    --ca-bundle FILE        CA certificates (PEM) that verify an https:// site; kept\n"
    "                            for later cycles\n" MANUAL_MACHINE_OPTION "\n"
    "OUTPUT\n"
    "    Registered <name> as <device id>, with \" (known device, identity kept)\" when the\n"
    "    site knew the machine already.\n";

static const char trigger_manual[] =
    "NAME\n"
    "    patchpoint-agent trigger - run a client cycle now\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint-agent trigger [--machine DIR] [--ca-bundle FILE] NAME|SCHEDULE-ID\n"
    "\n"
    "DESCRIPTION\n"
    "    Runs one cycle, named as below or by its Configuration Manager schedule id:\n"
    "\n"
    "    machine-policy        {00000000-0000-0000-0000-000000000021}\n"
    "                          {00000000-0000-0000-0000-000000000022}\n"
    "        Machine Policy Retrieval & Evaluation: fetch the machine policy (with\n"
    "        If-None-Match, so an unchanged policy costs a 304), keep it, and apply it.\n"
    "        Third-party software updates enabled: AcceptTrustedPublisherCerts = 1 and the\n"
    "        site's signing certificates into their stores (self-signed: Root and\n"
    "        TrustedPublisher; CA-issued: TrustedPublisher). Disabled: the certificates\n"
    "        stay and AcceptTrustedPublisherCerts is cleared if a client setting set it.\n"
    "        Blocked or expired certificates the agent installed are removed. An unchanged\n"
    "        policy is applied again, so a certificate removed by hand comes back.\n"
    "        Logs: DIR/logs/PolicyAgent.log, DIR/logs/UpdatesDeployment.log.\n"
    "    software-updates-scan {00000000-0000-0000-0000-000000000113}\n"
    "    software-updates-deployment-evaluation\n"
    "                          {00000000-0000-0000-0000-000000000108}\n"
    "        not implemented yet.\n"
    "\n"
    "OPTIONS\n"
    "    --ca-bundle FILE   CA certificates that verify an https:// site (default: the one\n"
    "                       given at registration, else the system's)\n" MANUAL_MACHINE_OPTION;

static const char status_manual[] =
    "NAME\n"
    "    patchpoint-agent status - what the agent knows\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint-agent status [--machine DIR] [--json]\n"
    "\n"
    "DESCRIPTION\n"
    "    Whether the machine is registered, with which server, device id, name and client\n"
    "    version; the last machine policy (version, when received and evaluated); whether\n"
    "    third-party software updates are enabled and by which client setting; the policy\n"
    "    value AcceptTrustedPublisherCerts and who set it; the certificates the agent\n"
    "    installed from policy. Never the credential.\n"
    "\n"
    "OPTIONS\n"
    "    --json          print one JSON object\n" MANUAL_MACHINE_OPTION;

enum {
	OPT_MACHINE = 256,
	OPT_SERVER,
	OPT_KEY,
	OPT_KEY_FILE,
	OPT_NAME,
	OPT_OS,
	OPT_TAG,
	OPT_REPORT_VERSION,
	OPT_CA_BUNDLE,
	OPT_JSON,
};

/* ---- reporting ---- */

static int fail(const struct pp_error *err)
{
	if (err->code != 0 && err->code != HR_E_FAIL && hresult_lookup(err->code) != NULL)
		fprintf(stderr, PROGRAM ": %s (0x%08X %s)\n", err->message, (unsigned)err->code,
			hresult_symbol(err->code));
	else
		fprintf(stderr, PROGRAM ": %s\n",
			err->message[0] != '\0' ? err->message : "failed");
	return EXIT_FAIL;
}

static int usage(const char *verb, const char *fmt, ...) PP_PRINTF(2, 3);

static int usage(const char *verb, const char *fmt, ...)
{
	va_list ap;

	fputs(PROGRAM ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '" PROGRAM "%s%s --help'.\n", verb[0] != '\0' ? " " : "", verb);
	return EXIT_USAGE;
}

/* The usage error for what getopt_long returned for an option it did not take. */
static int bad_option(const char *verb, int c, char **argv)
{
	const char *opt = optind > 0 ? argv[optind - 1] : "?";

	if (c == ':')
		return usage(verb, "option '%s' needs a value", opt);
	return usage(verb, "unknown option '%s'", opt);
}

static bool wants_help(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return true;
	}
	return false;
}

/* The machine directory: --machine, else $PATCHPOINT_MACHINE, else the default (the rule of
 * the patchpoint program's --machine). */
static const char *machine_dir(const char *option)
{
	const char *env;

	if (option != NULL)
		return option;
	env = getenv("PATCHPOINT_MACHINE");
	if (env != NULL && env[0] != '\0')
		return env;
	return CERTSTORE_DEFAULT_MACHINE;
}

static void format_time(long long t, char *out, size_t size)
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (t <= 0 || gmtime_r(&tt, &tm) == NULL ||
	    strftime(out, size, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		(void)snprintf(out, size, "-");
}

/* ---- register ---- */

/* 1..max bytes without control characters (device protocol, "name"). */
static bool text_ok(const char *s, size_t min, size_t max)
{
	size_t i, len = strlen(s);

	if (len < min || len > max)
		return false;
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

static bool tag_ok(const char *t)
{
	size_t len = strlen(t);

	return len >= 1 && len <= TAG_MAX &&
	       strspn(t, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") ==
		   len;
}

static bool version_ok(const char *v)
{
	int parts = 0, digits = 0;

	for (;; v++) {
		if (*v >= '0' && *v <= '9' && digits < 9) {
			digits++;
		} else if ((*v == '.' || *v == '\0') && digits > 0) {
			parts++;
			digits = 0;
			if (*v == '\0')
				return parts == 4;
		} else {
			return false;
		}
	}
}

/* PRETTY_NAME of os-release(5) into out ("" when there is none). Quotes and backslash escapes
 * are undone as the shell would. */
static void os_pretty_name(char *out, size_t size)
{
	static const char *const files[] = {"/etc/os-release", "/usr/lib/os-release"};
	char line[1024];
	size_t f, i, o;
	FILE *fp = NULL;
	char quote;

	out[0] = '\0';
	for (f = 0; f < sizeof(files) / sizeof(files[0]) && fp == NULL; f++)
		fp = fopen(files[f], "re");
	if (fp == NULL)
		return;
	while (fgets(line, sizeof(line), fp) != NULL) {
		if (strncmp(line, "PRETTY_NAME=", 12) != 0)
			continue;
		i = 12;
		quote = line[i] == '"' || line[i] == '\'' ? line[i++] : '\0';
		for (o = 0; line[i] != '\0' && line[i] != '\n' && o + 1 < size; i++) {
			if (quote != '\0' && line[i] == quote)
				break;
			if (quote != '\'' && line[i] == '\\' && line[i + 1] != '\0')
				i++;
			out[o++] = line[i];
		}
		out[o] = '\0';
		break;
	}
	(void)fclose(fp);
}

/* The first line of path (the enrollment key) into buf. */
static int read_key_file(const char *path, char *buf, size_t size, struct pp_error *err)
{
	FILE *fp = fopen(path, "re");
	int rc = -1;

	buf[0] = '\0';
	if (fp == NULL) {
		pp_error_set_errno(err, errno, "cannot open the enrollment key file %s", path);
		return -1;
	}
	if (fgets(buf, (int)size, fp) == NULL) {
		pp_error_set(err, HR_E_INVALIDARG, "the enrollment key file %s is empty", path);
		goto out;
	}
	buf[strcspn(buf, "\r\n")] = '\0';
	if (buf[0] == '\0') {
		pp_error_set(err, HR_E_INVALIDARG, "the first line of %s holds no enrollment key",
			     path);
		goto out;
	}
	rc = 0;
out:
	(void)fclose(fp);
	if (rc != 0)
		OPENSSL_cleanse(buf, size);
	return rc;
}

/* Checks the registration answer and copies it into id; *known is "new": false. */
static int registration_answer(const struct agent_http_response *resp, struct agent_identity *id,
			       bool *known, struct pp_error *err)
{
	const char *device_id = json_string_value(json_object_get(resp->json, "device_id"));
	const char *credential = json_string_value(json_object_get(resp->json, "credential"));
	const json_t *is_new = json_object_get(resp->json, "new");
	size_t i;

	if (device_id == NULL || !text_ok(device_id, 1, AGENT_DEVICE_ID_MAX) ||
	    strchr(device_id, ' ') != NULL) {
		pp_error_set(err, HR_ERROR_INVALID_DATA,
			     "the site's registration answer has no valid \"device_id\"");
		return -1;
	}
	if (credential == NULL || credential[0] == '\0' ||
	    strlen(credential) > AGENT_CREDENTIAL_MAX) {
		pp_error_set(err, HR_ERROR_INVALID_DATA,
			     "the site's registration answer has no valid \"credential\"");
		return -1;
	}
	for (i = 0; credential[i] != '\0'; i++)
		if (credential[i] <= ' ' || credential[i] >= 0x7f) {
			pp_error_set(err, HR_ERROR_INVALID_DATA,
				     "the site's registration answer has no valid \"credential\"");
			return -1;
		}
	if (!json_is_boolean(is_new)) {
		pp_error_set(err, HR_ERROR_INVALID_DATA,
			     "the site's registration answer has no \"new\": true or false");
		return -1;
	}
	memcpy(id->device_id, device_id, strlen(device_id) + 1);
	memcpy(id->credential, credential, strlen(credential) + 1);
	*known = json_is_false(is_new);
	return 0;
}

static int cmd_register(const char *machine_opt, int argc, char **argv)
{
	static const struct option options[] = {
	    {"machine", required_argument, NULL, OPT_MACHINE},
	    {"server", required_argument, NULL, OPT_SERVER},
	    {"enrollment-key", required_argument, NULL, OPT_KEY},
	    {"enrollment-key-file", required_argument, NULL, OPT_KEY_FILE},
	    {"name", required_argument, NULL, OPT_NAME},
	    {"os", required_argument, NULL, OPT_OS},
	    {"tag", required_argument, NULL, OPT_TAG},
	    {"report-version", required_argument, NULL, OPT_REPORT_VERSION},
	    {"ca-bundle", required_argument, NULL, OPT_CA_BUNDLE},
	    {NULL, 0, NULL, 0},
	};
	const char *machine = machine_opt, *server = NULL, *key_arg = NULL, *key_file = NULL;
	const char *name = NULL, *os = NULL, *version = AGENT_CLIENT_VERSION, *ca = NULL;
	const char *tags[MAX_TAGS];
	char key[ENROLLMENT_MAX + 2], host[AGENT_NAME_MAX + 2], os_buf[OS_MAX + 1];
	char ca_abs[AGENT_PATH_MAX];
	struct agent_http_response resp = {0};
	struct agent_identity id;
	struct agent_http *http = NULL;
	struct pp_error err;
	json_t *body = NULL, *tag_list;
	size_t ntags = 0, i;
	bool known = false;
	int c, rc = EXIT_FAIL;

	pp_error_clear(&err);
	memset(&id, 0, sizeof(id));
	key[0] = '\0';
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", options, NULL)) != -1) {
		switch (c) {
		case OPT_MACHINE:
			machine = optarg;
			break;
		case OPT_SERVER:
			server = optarg;
			break;
		case OPT_KEY:
			key_arg = optarg;
			break;
		case OPT_KEY_FILE:
			key_file = optarg;
			break;
		case OPT_NAME:
			name = optarg;
			break;
		case OPT_OS:
			os = optarg;
			break;
		case OPT_TAG:
			if (ntags == MAX_TAGS)
				return usage("register", "at most %d --tag options", MAX_TAGS);
			if (!tag_ok(optarg))
				return usage("register",
					     "tag '%s' is not 1 to %d characters of [A-Za-z0-9._-]",
					     optarg, TAG_MAX);
			tags[ntags++] = optarg;
			break;
		case OPT_REPORT_VERSION:
			version = optarg;
			break;
		case OPT_CA_BUNDLE:
			ca = optarg;
			break;
		default:
			return bad_option("register", c, argv);
		}
	}
	if (optind < argc)
		return usage("register", "unexpected argument '%s'", argv[optind]);
	if (server == NULL)
		return usage("register", "--server URL is required");
	if (strncmp(server, "http://", 7) != 0 && strncmp(server, "https://", 8) != 0)
		return usage("register", "--server '%s' must start with http:// or https://",
			     server);
	if ((key_arg == NULL) == (key_file == NULL))
		return usage("register", "give the enrollment key with --enrollment-key KEY or "
					 "--enrollment-key-file FILE (one of them)");
	if (!version_ok(version) || strlen(version) > AGENT_CLIENT_VERSION_MAX)
		return usage("register",
			     "--report-version '%s' is not four dot-separated numbers "
			     "(5.00.8692.1003)",
			     version);
	if (name == NULL) {
		if (gethostname(host, sizeof(host)) != 0) {
			pp_error_set_errno(&err, errno, "cannot read the host name; give --name");
			return fail(&err);
		}
		host[sizeof(host) - 1] = '\0';
		name = host;
	}
	if (!text_ok(name, 1, AGENT_NAME_MAX))
		return usage("register",
			     "the device name must be 1 to %d bytes without control characters",
			     AGENT_NAME_MAX);
	if (os == NULL) {
		os_pretty_name(os_buf, sizeof(os_buf));
		os = os_buf;
	}
	if (!text_ok(os, 0, OS_MAX))
		return usage("register", "--os must be at most %d bytes without control characters",
			     OS_MAX);
	if (ca != NULL && realpath(ca, ca_abs) == NULL) {
		pp_error_set_errno(&err, errno, "cannot read the CA bundle %s", ca);
		return fail(&err);
	}
	machine = machine_dir(machine);

	if (key_file != NULL) {
		if (read_key_file(key_file, key, sizeof(key), &err) != 0)
			goto out;
	} else {
		(void)snprintf(key, sizeof(key), "%s", key_arg);
	}
	if (strlen(key) > ENROLLMENT_MAX) {
		pp_error_set(&err, HR_E_INVALIDARG, "the enrollment key is longer than %d bytes",
			     ENROLLMENT_MAX);
		goto out;
	}
	/* A bad URL or CA bundle is refused before anything is written. */
	http = agent_http_new(server, ca != NULL ? ca_abs : NULL, &err);
	if (http == NULL || agent_state_machine_id(machine, id.machine_id, &err) != 0)
		goto out;
	tag_list = json_array();
	body = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o}", "enrollment_key", key, "machine_id",
			 id.machine_id, "name", name, "os", os, "client_version", version, "tags",
			 tag_list);
	for (i = 0; body != NULL && i < ntags; i++)
		if (json_array_append_new(tag_list, json_string(tags[i])) != 0) {
			json_decref(body);
			body = NULL;
		}
	if (body == NULL) {
		pp_error_set(&err, HR_E_INVALIDARG,
			     "the device name and OS must be UTF-8 text (or out of memory)");
		goto out;
	}
	if (agent_http_request(http, "POST", REGISTER_PATH, body, NULL, &resp, &err) != 0)
		goto out;
	if (registration_answer(&resp, &id, &known, &err) != 0)
		goto out;
	/* All four were bounded above; a cut here would be a bug, not a user error. */
	if (snprintf(id.server, sizeof(id.server), "%s", agent_http_server(http)) >=
		(int)sizeof(id.server) ||
	    snprintf(id.ca_bundle, sizeof(id.ca_bundle), "%s", ca != NULL ? ca_abs : "") >=
		(int)sizeof(id.ca_bundle) ||
	    snprintf(id.name, sizeof(id.name), "%s", name) >= (int)sizeof(id.name) ||
	    snprintf(id.client_version, sizeof(id.client_version), "%s", version) >=
		(int)sizeof(id.client_version)) {
		pp_error_set(&err, HR_E_FAIL, "the registration does not fit the agent's state");
		goto out;
	}
	id.registered_at = (long long)time(NULL);
	if (agent_state_save_identity(machine, &id, &err) != 0)
		goto out;
	printf("Registered %s as %s%s\n", id.name, id.device_id,
	       known ? " (known device, identity kept)" : "");
	rc = EXIT_OK;
out:
	if (rc != EXIT_OK)
		rc = fail(&err);
	OPENSSL_cleanse(key, sizeof(key));
	json_decref(body);
	agent_http_response_free(&resp);
	agent_http_free(http);
	agent_identity_wipe(&id);
	return rc;
}

/* ---- trigger ---- */

enum cycle { CYCLE_MACHINE_POLICY, CYCLE_SCAN, CYCLE_DEPLOYMENT };

static const struct {
	const char *name;
	const char *id; /* ConfigMgr schedule id, without braces */
	enum cycle cycle;
	const char *title;
} cycles[] = {
    {"machine-policy", "00000000-0000-0000-0000-000000000021", CYCLE_MACHINE_POLICY,
     "Machine Policy Retrieval & Evaluation"},
    {"machine-policy", "00000000-0000-0000-0000-000000000022", CYCLE_MACHINE_POLICY,
     "Machine Policy Retrieval & Evaluation"},
    {"software-updates-scan", "00000000-0000-0000-0000-000000000113", CYCLE_SCAN,
     "Software Updates Scan"},
    {"software-updates-deployment-evaluation", "00000000-0000-0000-0000-000000000108",
     CYCLE_DEPLOYMENT, "Software Updates Deployment Evaluation"},
};

#define CYCLE_COUNT (sizeof(cycles) / sizeof(cycles[0]))

/* The cycle named (case-insensitively) or with this schedule id (braces optional); -1 if none. */
static int find_cycle(const char *arg)
{
	size_t i, len = strlen(arg);
	const char *id = arg;

	if (len >= 2 && arg[0] == '{' && arg[len - 1] == '}') {
		id = arg + 1;
		len -= 2;
	}
	for (i = 0; i < CYCLE_COUNT; i++) {
		if (strcasecmp(arg, cycles[i].name) == 0 ||
		    (len == strlen(cycles[i].id) && strncasecmp(id, cycles[i].id, len) == 0))
			return (int)i;
	}
	return -1;
}

static int run_machine_policy(const char *machine, const char *ca)
{
	struct agent_policy_outcome outcome;
	struct agent_logs logs = {NULL, NULL};
	struct agent_identity id;
	struct pp_error err;
	bool registered = false;
	int rc = EXIT_FAIL;

	pp_error_clear(&err);
	/* Logs start with a registered machine, so that a wrong --machine creates nothing. */
	if (agent_state_load_identity(machine, &id, &registered, &err) != 0)
		goto out;
	if (!registered) {
		pp_error_set(
		    &err, HR_E_FAIL,
		    "this machine is not registered (no %s/agent/agent.json); run '" PROGRAM
		    " register --server URL --enrollment-key KEY'",
		    machine);
		goto out;
	}
	if (agent_logs_open(machine, &logs, &err) != 0 ||
	    agent_policy_cycle(machine, ca, &logs, &outcome, &err) != 0)
		goto out;
	if (outcome.unchanged)
		printf("Machine policy version %s is unchanged; applied again\n", outcome.version);
	else
		printf("Received machine policy version %s: %zu deployment(s), third-party "
		       "software updates %s by \"%s\"\n",
		       outcome.version, outcome.deployments,
		       outcome.enabled ? "enabled" : "disabled", outcome.source);
	rc = EXIT_OK;
out:
	if (rc != EXIT_OK)
		rc = fail(&err);
	agent_logs_close(&logs);
	agent_identity_wipe(&id);
	return rc;
}

static int cmd_trigger(const char *machine_opt, int argc, char **argv)
{
	static const struct option options[] = {
	    {"machine", required_argument, NULL, OPT_MACHINE},
	    {"ca-bundle", required_argument, NULL, OPT_CA_BUNDLE},
	    {NULL, 0, NULL, 0},
	};
	const char *machine = machine_opt, *ca = NULL;
	struct pp_error err;
	int c, k;

	pp_error_clear(&err);
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", options, NULL)) != -1) {
		switch (c) {
		case OPT_MACHINE:
			machine = optarg;
			break;
		case OPT_CA_BUNDLE:
			ca = optarg;
			break;
		default:
			return bad_option("trigger", c, argv);
		}
	}
	if (argc - optind != 1)
		return usage("trigger", "expected one cycle name or schedule id");
	k = find_cycle(argv[optind]);
	if (k < 0)
		return usage("trigger",
			     "unknown cycle '%s'; known: machine-policy, software-updates-scan, "
			     "software-updates-deployment-evaluation, or their schedule ids",
			     argv[optind]);
	if (cycles[k].cycle != CYCLE_MACHINE_POLICY) {
		pp_error_set(&err, HR_ERROR_NOT_SUPPORTED,
			     "the %s cycle (%s, {%s}) is not implemented yet", cycles[k].title,
			     cycles[k].name, cycles[k].id);
		return fail(&err);
	}
	return run_machine_policy(machine_dir(machine), ca);
}

/* ---- status ---- */

struct status {
	struct agent_identity id;
	bool registered;
	struct agent_stored_policy stored;
	bool have_policy;
	struct agent_policy_doc *doc;
	struct machinepolicy_value atpc;
	struct agent_managed managed;
};

static json_t *store_list(unsigned stores)
{
	json_t *list = json_array();
	int s;

	for (s = 0; list != NULL && s < CERTSTORE_COUNT; s++)
		if ((stores & (1u << s)) != 0)
			(void)json_array_append_new(list, json_string(certstore_name(s)));
	return list;
}

static void store_text(unsigned stores, char *out, size_t size)
{
	size_t used = 0;
	int s, n;

	out[0] = '\0';
	for (s = 0; s < CERTSTORE_COUNT; s++) {
		if ((stores & (1u << s)) == 0)
			continue;
		n = snprintf(out + used, size - used, "%s%s", used > 0 ? ", " : "",
			     certstore_name(s));
		if (n < 0 || (size_t)n >= size - used)
			return;
		used += (size_t)n;
	}
}

static json_t *status_json(const struct status *st)
{
	json_t *doc = json_pack("{s:b}", "registered", st->registered), *certs, *entry, *ident;
	size_t i;

	if (doc == NULL)
		return NULL;
	if (st->registered) {
		ident = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:s?}", "server", st->id.server,
				  "device_id", st->id.device_id, "machine_id", st->id.machine_id,
				  "name", st->id.name, "client_version", st->id.client_version,
				  "registered_at", (json_int_t)st->id.registered_at, "ca_bundle",
				  st->id.ca_bundle[0] != '\0' ? st->id.ca_bundle : NULL);
		(void)json_object_update(doc, ident);
		json_decref(ident);
	}
	if (st->doc != NULL) {
		json_object_set_new(doc, "machine_policy",
				    json_pack("{s:s, s:I, s:I, s:I}", "version", st->doc->version,
					      "received_at", (json_int_t)st->stored.received_at,
					      "evaluated_at", (json_int_t)st->stored.evaluated_at,
					      "deployments", (json_int_t)st->doc->ndeployments));
		json_object_set_new(doc, "third_party",
				    json_pack("{s:b, s:s, s:s, s:b}", "enabled", st->doc->enabled,
					      "source", st->doc->source, "minimum_client_version",
					      st->doc->minimum_client_version, "client_version_ok",
					      st->doc->client_version_ok));
	} else {
		json_object_set_new(doc, "machine_policy", json_null());
		json_object_set_new(doc, "third_party", json_null());
	}
	json_object_set_new(doc, MACHINEPOLICY_ACCEPT_TRUSTED_PUBLISHER_CERTS,
			    st->atpc.present
				? json_pack("{s:I, s:s}", "value", (json_int_t)st->atpc.value,
					    "source", st->atpc.source)
				: json_null());
	certs = json_array();
	for (i = 0; certs != NULL && i < st->managed.count; i++) {
		entry =
		    json_pack("{s:s, s:s, s:o, s:I}", "thumbprint", st->managed.certs[i].thumbprint,
			      "subject", st->managed.certs[i].subject, "stores",
			      store_list(st->managed.certs[i].stores), "installed_at",
			      (json_int_t)st->managed.certs[i].installed_at);
		(void)json_array_append_new(certs, entry);
	}
	json_object_set_new(doc, "managed_certificates", certs);
	return doc;
}

static void status_text(const struct status *st)
{
	char t1[32], t2[32], stores[96];
	size_t i;

	if (!st->registered) {
		printf("Registered:        no (run '" PROGRAM " register --server URL "
		       "--enrollment-key KEY')\n");
	} else {
		format_time(st->id.registered_at, t1, sizeof(t1));
		printf("Registered:        yes, %s\n", t1);
		printf("Server:            %s\n", st->id.server);
		printf("Device ID:         %s\n", st->id.device_id);
		printf("Name:              %s\n", st->id.name);
		printf("Machine ID:        %s\n", st->id.machine_id);
		printf("Client version:    %s\n", st->id.client_version);
	}
	if (st->doc != NULL) {
		format_time(st->stored.received_at, t1, sizeof(t1));
		format_time(st->stored.evaluated_at, t2, sizeof(t2));
		printf("Machine policy:    version %s, received %s, evaluated %s, %zu "
		       "deployment(s)\n",
		       st->doc->version, t1, t2, st->doc->ndeployments);
		printf("Third-party software updates: %s by \"%s\"%s\n",
		       st->doc->enabled ? "enabled" : "disabled", st->doc->source,
		       st->doc->enabled && !st->doc->client_version_ok
			   ? " (client version below the minimum: no certificates)"
			   : "");
	} else {
		printf("Machine policy:    none received yet (run '" PROGRAM
		       " trigger machine-policy')\n");
	}
	if (st->atpc.present)
		printf("AcceptTrustedPublisherCerts: %u (set by %s)\n", (unsigned)st->atpc.value,
		       st->atpc.source);
	else
		printf("AcceptTrustedPublisherCerts: not set\n");
	printf("Managed certificates:%s\n", st->managed.count == 0 ? " none" : "");
	for (i = 0; i < st->managed.count; i++) {
		store_text(st->managed.certs[i].stores, stores, sizeof(stores));
		printf("  %s  %s  (%s)\n", st->managed.certs[i].thumbprint,
		       st->managed.certs[i].subject, stores);
	}
}

static int cmd_status(const char *machine_opt, int argc, char **argv)
{
	static const struct option options[] = {
	    {"machine", required_argument, NULL, OPT_MACHINE},
	    {"json", no_argument, NULL, OPT_JSON},
	    {NULL, 0, NULL, 0},
	};
	const char *machine = machine_opt;
	struct status st;
	struct pp_error err;
	bool json = false;
	json_t *doc = NULL;
	int c, rc = EXIT_FAIL;

	pp_error_clear(&err);
	memset(&st, 0, sizeof(st));
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", options, NULL)) != -1) {
		switch (c) {
		case OPT_MACHINE:
			machine = optarg;
			break;
		case OPT_JSON:
			json = true;
			break;
		default:
			return bad_option("status", c, argv);
		}
	}
	if (optind < argc)
		return usage("status", "unexpected argument '%s'", argv[optind]);
	machine = machine_dir(machine);
	if (agent_state_load_identity(machine, &st.id, &st.registered, &err) != 0 ||
	    agent_state_load_policy(machine, &st.stored, &st.have_policy, &err) != 0 ||
	    agent_state_load_managed(machine, &st.managed, &err) != 0 ||
	    machinepolicy_get(machine, MACHINEPOLICY_ACCEPT_TRUSTED_PUBLISHER_CERTS, &st.atpc,
			      &err) != 0)
		goto out;
	if (st.have_policy) {
		st.doc = agent_policy_parse(st.stored.policy, &err);
		if (st.doc == NULL)
			goto out;
	}
	if (json) {
		doc = status_json(&st);
		if (doc == NULL ||
		    json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0) {
			pp_error_set(&err, HR_E_OUTOFMEMORY, "cannot print the status");
			goto out;
		}
		fputc('\n', stdout);
	} else {
		status_text(&st);
	}
	rc = EXIT_OK;
out:
	if (rc != EXIT_OK)
		rc = fail(&err);
	json_decref(doc);
	agent_policy_doc_free(st.doc);
	agent_stored_policy_free(&st.stored);
	agent_managed_free(&st.managed);
	agent_identity_wipe(&st.id);
	return rc;
}

/* ---- main ---- */

static const struct {
	const char *name;
	const char *manual;
	int (*run)(const char *machine, int argc, char **argv);
} verbs[] = {
    {"register", register_manual, cmd_register},
    {"trigger", trigger_manual, cmd_trigger},
    {"status", status_manual, cmd_status},
};

int main(int argc, char **argv)
{
	const char *machine = NULL;
	int i = 1, rc = EXIT_USAGE;
	size_t v;

	while (i < argc && argv[i][0] == '-') {
		if (strcmp(argv[i], "--machine") == 0 && i + 1 < argc) {
			machine = argv[i + 1];
			i += 2;
		} else if (strncmp(argv[i], "--machine=", 10) == 0) {
			machine = argv[i] + 10;
			i++;
		} else if (strcmp(argv[i], "--version") == 0) {
			printf(PROGRAM " %s (client version %s)\n", PATCHPOINT_VERSION,
			       AGENT_CLIENT_VERSION);
			return EXIT_OK;
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(main_manual, stdout);
			return EXIT_OK;
		} else if (strcmp(argv[i], "--machine") == 0) {
			return usage("", "option '--machine' needs a value");
		} else {
			return usage("", "unknown option '%s'", argv[i]);
		}
	}
	if (i >= argc) {
		fputs(main_manual, stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[i], "help") == 0) {
		fputs(main_manual, stdout);
		return EXIT_OK;
	}
	for (v = 0; v < sizeof(verbs) / sizeof(verbs[0]); v++) {
		if (strcmp(argv[i], verbs[v].name) != 0)
			continue;
		if (wants_help(argc - i, argv + i)) {
			fputs(verbs[v].manual, stdout);
			return EXIT_OK;
		}
		/* Once, before any thread: the HTTP client of the device protocol. */
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
			fputs(PROGRAM ": cannot initialise libcurl\n", stderr);
			return EXIT_FAIL;
		}
		rc = verbs[v].run(machine, argc - i, argv + i);
		curl_global_cleanup();
		return rc;
	}
	return usage("", "unknown verb '%s'", argv[i]);
}
