/* agent_main.c - the patchpoint-agent program: global options, then one verb (register, trigger,
 * run, status, diagnose, and the toolkit's certutil and policy on the machine directory). The
 * work is in agent_state, agent_http, agent_policy, agent_updates, agent_queue and agent_run;
 * this file parses options, prints results and turns errors into one line on stderr and an exit
 * code (DESIGN 6). */
#include "agent_gpupdate.h"
#include "agent_ci.h"
#include "agent_http.h"
#include "agent_policy.h"
#include "agent_run.h"
#include "agent_state.h"
#include "agent_ts.h"
#include "agent_updates.h"

#include "certstore.h"
#include "cli.h"
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
    "    stores of the machine. It scans the deployed updates, installs the required ones\n"
    "    (download, digest and signature checks, the installer with a time limit) and\n"
    "    reports their state to the site. Its state and logs live in the machine directory.\n"
    "\n"
    "VERBS\n"
    "    register     register the device with a site (enrollment key)\n"
    "    trigger      run a client cycle now, by name or ConfigMgr schedule id\n"
    "    run          the client as a daemon: every cycle on its schedule\n"
    "    status       registration, last machine policy, managed certificates, queue\n"
    "    diagnose     why the last install of an update failed, in plain words\n"
    "    gpupdate     refresh group policy now (GPOs linked to the device's collections)\n"
    "    ts           task sequences deployed to this device: list, run\n"
    "    certutil     patchpoint certutil on this machine's stores (-addstore, -delstore,\n"
    "                 -store, -dump)\n"
    "    policy       patchpoint policy set|get|clear on this machine's policy values\n"
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
    "    DIR/agent/gpo-state.json       the GPOs applied and what group policy put there\n"
    "    DIR/agent/updates.json         per update: last scan, install, last failure\n"
    "    DIR/agent/queue/               state messages the server has not taken yet\n"
    "    DIR/agent/cache/, staging/     downloaded content, installers being run\n"
    "    DIR/agent/baselines.json, ci-state.json, ci-queue/, ci/\n"
    "                                   configuration baselines: the last document, the\n"
    "                                   last evaluations, reports not sent yet, scripts\n"
    "                                   being run\n"
    "    DIR/logs/PolicyAgent.log, UpdatesDeployment.log, ScanAgent.log, WUAHandler.log,\n"
    "    UpdatesHandler.log, StateMessage.log, CcmExec.log, gpupdate.log, CIAgent.log\n"
    "                                   what the cycles did (CMTrace format)\n"
    "    DIR/logs/UpdatesHandler.out    what the installers printed\n"
    "    DIR/logs/CIAgent.out           what configuration item scripts printed\n"
    "    DIR/agent/ts/, DIR/logs/smsts.log\n"
    "                                   task sequence runs and their log ('ts --help')\n"
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
    "    patchpoint-agent trigger [--machine DIR] [--ca-bundle FILE] [--install-timeout S]\n"
    "        NAME|SCHEDULE-ID\n"
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
    "        Software Updates Scan: for each update the machine policy deploys, fetch its\n"
    "        SDP and evaluate its applicability rules: Required, Not Required (not\n"
    "        installable, or a rule Linux cannot evaluate) or Installed. Runs the machine\n"
    "        policy cycle first when there is no policy yet. Log: ScanAgent.log.\n"
    "    software-updates-deployment-evaluation\n"
    "                          {00000000-0000-0000-0000-000000000108}\n"
    "        Software Updates Deployment Evaluation: install every required update whose\n"
    "        deployment is available: download (resuming), check size, SHA-1 and SHA-256,\n"
    "        decide trust as a Windows client would, extract, run the installer with a\n"
    "        time limit. Logs: UpdatesDeployment.log, WUAHandler.log, UpdatesHandler.log.\n"
    "    ci-evaluation         {00000000-0000-0000-0000-000000000110}\n"
    "        Configuration Baseline Evaluation: fetch the configuration baselines deployed to\n"
    "        this device and evaluate every one of them now: each item Compliant,\n"
    "        Non-compliant, Remediated (when the deployment remediates) or Error. The\n"
    "        baselines received last are evaluated when the site cannot be reached. The\n"
    "        reports are queued and sent as state messages are. Exit 0 whatever the items'\n"
    "        states. Log: CIAgent.log; what scripts wrote: CIAgent.out.\n"
    "\n"
    "    Every cycle queues state messages and sends the queue afterwards; what the\n"
    "    server cannot take now goes with the next successful contact.\n"
    "\n"
    "OPTIONS\n"
    "    --ca-bundle FILE   CA certificates that verify an https:// site (default: the one\n"
    "                       given at registration, else the system's)\n"
    "    --install-timeout S\n"
    "                       seconds an installer may run before it is stopped (default\n"
    "                       7200)\n" MANUAL_MACHINE_OPTION "\n"
    "EXIT STATUS\n"
    "    0 the cycle ran and nothing failed, 1 the cycle or an update failed (one line on\n"
    "    stderr; 'patchpoint-agent diagnose' explains a failed install), 2 usage error.\n";

static const char run_manual[] =
    "NAME\n"
    "    patchpoint-agent run - the client as a daemon\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint-agent run [--machine DIR] [--once] [--poll-seconds N]\n"
    "        [--install-timeout S] [--ca-bundle FILE]\n"
    "\n"
    "DESCRIPTION\n"
    "    Runs the cycles of 'trigger' on the schedules of the resultant client settings:\n"
    "    machine policy every polling interval (plus up to a tenth of it at random), the\n"
    "    scan every scan interval (plus up to 2 hours at random, and at once after a\n"
    "    changed policy that deploys something), the deployment evaluation after a scan\n"
    "    that found something required, when a deployment becomes available, and every\n"
    "    re-evaluation interval (plus up to 2 hours), the configuration baselines every\n"
    "    polling interval (each deployed baseline evaluated when new, changed or due by its\n"
    "    deployment's schedule; a remediation sets off a deployment evaluation at once).\n"
    "    Task sequences deployed to the device are looked for after each machine policy and\n"
    "    every polling interval; each deployment runs once, when it becomes available ('ts\n"
    "    --help'). A failed cycle is tried again after 30 s, then 60 s, ... up to the\n"
    "    polling interval. The state message queue (and the task sequence runs not reported\n"
    "    yet) is sent after each cycle. SIGTERM or SIGINT: the current step is finished, the\n"
    "    queue sent if the server answers, exit 0. Staging directories a killed agent left\n"
    "    behind are removed at start; a cut-short download resumes. Log: CcmExec.log.\n"
    "\n"
    "OPTIONS\n"
    "    --once             one machine policy, group policy refresh, configuration baseline\n"
    "                       evaluation, scan, deployment evaluation, task sequence check and\n"
    "                       queue flush, then exit (1 when any step failed)\n"
    "    --poll-seconds N   every interval N seconds, random delays and the first back-off\n"
    "                       N/4 (for tests)\n"
    "    --install-timeout S\n"
    "                       seconds an installer may run (default 7200)\n"
    "    --ca-bundle FILE   CA certificates that verify an https:// site\n" MANUAL_MACHINE_OPTION;

static const char diagnose_manual[] =
    "NAME\n"
    "    patchpoint-agent diagnose - why the last install of an update failed\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint-agent diagnose [--machine DIR] [--json]\n"
    "\n"
    "DESCRIPTION\n"
    "    One paragraph per update whose last install failed (and that has not installed\n"
    "    since): the HRESULT and its message; for a trust failure the signer of the\n"
    "    content and whether the Root and TrustedPublisher stores hold it now, the policy\n"
    "    value AcceptTrustedPublisherCerts and who set it, and the client setting that\n"
    "    decided third-party software updates in the stored machine policy. \"No install\n"
    "    has failed.\" when there is none. Exit 0 either way.\n"
    "\n"
    "OPTIONS\n"
    "    --json          print {\"failures\":[...]} with every fact named\n" MANUAL_MACHINE_OPTION;

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
    "    installed from policy; the last evaluation of each configuration baseline; how\n"
    "    many state messages, baseline reports and task sequence runs wait to be sent.\n"
    "    Never the credential.\n"
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
	OPT_INSTALL_TIMEOUT,
	OPT_ONCE,
	OPT_POLL_SECONDS,
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
	if (!agent_client_version_valid(version) || strlen(version) > AGENT_CLIENT_VERSION_MAX)
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

static const struct {
	const char *name;
	const char *id; /* ConfigMgr schedule id, without braces */
	enum agent_cycle cycle;
} cycles[] = {
    {"machine-policy", "00000000-0000-0000-0000-000000000021", AGENT_CYCLE_MACHINE_POLICY},
    {"machine-policy", "00000000-0000-0000-0000-000000000022", AGENT_CYCLE_MACHINE_POLICY},
    {"software-updates-scan", "00000000-0000-0000-0000-000000000113", AGENT_CYCLE_SCAN},
    {"software-updates-deployment-evaluation", "00000000-0000-0000-0000-000000000108",
     AGENT_CYCLE_EVALUATION},
    {"ci-evaluation", "00000000-0000-0000-0000-000000000110", AGENT_CYCLE_CI_EVALUATION},
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

/* Opens the logs of a registered machine (so that a wrong --machine creates nothing). */
static int open_logs(const char *machine, struct agent_logs *logs, struct pp_error *err)
{
	struct agent_identity id;
	int rc = agent_state_require_identity(machine, &id, err);

	agent_identity_wipe(&id);
	return rc != 0 ? -1 : agent_logs_open(machine, logs, err);
}

static void print_report(enum agent_cycle cycle, const struct agent_update_report *r)
{
	char hr[160];

	if (r->has_hresult)
		(void)snprintf(hr, sizeof(hr), "0x%08X %s", (unsigned)r->hresult,
			       hresult_symbol(r->hresult));
	if (strcmp(r->state, "failed") == 0)
		printf("Update %s (%s) %s: %s (%s)\n", r->update_id, r->title,
		       cycle == AGENT_CYCLE_SCAN ? "could not be scanned" : "failed to install",
		       r->detail, hr);
	else if (cycle == AGENT_CYCLE_SCAN)
		printf("Update %s (%s) is %s\n", r->update_id, r->title,
		       agent_update_state_label(r->state));
	else if (strcmp(r->state, "waiting") == 0)
		printf("Update %s (%s) is Required; its deployment is available from %s\n",
		       r->update_id, r->title, r->detail);
	else if (strcmp(r->state, "pending_reboot") == 0)
		printf("Update %s (%s) was installed; a restart is pending\n", r->update_id,
		       r->title);
	else if (strcmp(r->state, "installed") == 0 && strcmp(r->detail, "nothing to install") != 0)
		printf("Update %s (%s) was installed\n", r->update_id, r->title);
	else
		printf("Update %s (%s) is %s: nothing to install\n", r->update_id, r->title,
		       agent_update_state_label(r->state));
}

static void print_cycle(enum agent_cycle cycle, const struct agent_cycle_result *r)
{
	size_t i;

	if (cycle == AGENT_CYCLE_MACHINE_POLICY && r->policy.unchanged)
		printf("Machine policy version %s is unchanged; applied again\n",
		       r->policy.version);
	else if (cycle == AGENT_CYCLE_MACHINE_POLICY)
		printf("Received machine policy version %s: %zu deployment(s), third-party "
		       "software updates %s by \"%s\"\n",
		       r->policy.version, r->policy.deployments,
		       r->policy.enabled ? "enabled" : "disabled", r->policy.source);
	if (r->updates.policy_run)
		printf("There was no machine policy yet: it was retrieved first\n");
	for (i = 0; i < r->updates.count; i++)
		print_report(cycle, &r->updates.reports[i]);
	if (cycle == AGENT_CYCLE_CI_EVALUATION)
		agent_ci_print_outcome(&r->ci);
	else if (cycle != AGENT_CYCLE_MACHINE_POLICY && r->updates.count == 0)
		printf("No update is deployed to this device\n");
	if (r->flush.sent > 0)
		printf("Sent %zu state message(s)\n", r->flush.sent);
	if (r->ci_flush.sent > 0)
		printf("Sent %zu configuration baseline report(s)\n", r->ci_flush.sent);
}

/* Parses an option in [min, max] seconds. */
static bool seconds_ok(const char *text, unsigned min, unsigned max, unsigned *out)
{
	char *end = NULL;
	unsigned long v;

	errno = 0;
	v = strtoul(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0' || text[0] == '-' || v < min || v > max)
		return false;
	*out = (unsigned)v;
	return true;
}

/* What the options of trigger, run, status and diagnose set. */
struct verb_options {
	const char *machine, *ca_bundle;
	unsigned install_timeout, poll_seconds;
	bool json, once;
};

/* Parses the options of table (a subset of the four verbs' options) into vo; optind is then
 * the first argument. -1 when they are good, else the usage exit code (message printed). */
static int verb_options(const char *verb, const struct option *table, const char *machine, int argc,
			char **argv, struct verb_options *vo)
{
	int c;

	memset(vo, 0, sizeof(*vo));
	vo->machine = machine;
	vo->install_timeout = AGENT_INSTALL_TIMEOUT_DEFAULT;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", table, NULL)) != -1) {
		switch (c) {
		case OPT_MACHINE:
			vo->machine = optarg;
			break;
		case OPT_CA_BUNDLE:
			vo->ca_bundle = optarg;
			break;
		case OPT_JSON:
			vo->json = true;
			break;
		case OPT_ONCE:
			vo->once = true;
			break;
		case OPT_INSTALL_TIMEOUT:
			if (!seconds_ok(optarg, 1, AGENT_INSTALL_TIMEOUT_MAX, &vo->install_timeout))
				return usage(verb, "--install-timeout must be 1 to %d seconds",
					     AGENT_INSTALL_TIMEOUT_MAX);
			break;
		case OPT_POLL_SECONDS:
			if (!seconds_ok(optarg, 1, 86400, &vo->poll_seconds))
				return usage(verb, "--poll-seconds must be 1 to 86400");
			break;
		default:
			return bad_option(verb, c, argv);
		}
	}
	vo->machine = machine_dir(vo->machine);
	return -1;
}

/* verb_options for a verb that takes no arguments. */
static int verb_options_only(const char *verb, const struct option *table, const char *machine,
			     int argc, char **argv, struct verb_options *vo)
{
	int rc = verb_options(verb, table, machine, argc, argv, vo);

	if (rc < 0 && optind < argc)
		return usage(verb, "unexpected argument '%s'", argv[optind]);
	return rc;
}

static int cmd_trigger(const char *machine_opt, int argc, char **argv)
{
	static const struct option options[] = {
	    {"machine", required_argument, NULL, OPT_MACHINE},
	    {"ca-bundle", required_argument, NULL, OPT_CA_BUNDLE},
	    {"install-timeout", required_argument, NULL, OPT_INSTALL_TIMEOUT},
	    {NULL, 0, NULL, 0},
	};
	/* On demand every deployed baseline is evaluated, as the console's Evaluate does. */
	struct agent_updates_options uo = {NULL, AGENT_INSTALL_TIMEOUT_DEFAULT, NULL, true, 0};
	struct agent_logs logs = {0};
	struct agent_cycle_result r;
	struct verb_options vo;
	enum agent_cycle cycle;
	struct pp_error err;
	int k, rc = EXIT_FAIL;

	pp_error_clear(&err);
	memset(&r, 0, sizeof(r));
	rc = verb_options("trigger", options, machine_opt, argc, argv, &vo);
	if (rc >= 0)
		return rc;
	rc = EXIT_FAIL;
	uo.ca_bundle = vo.ca_bundle;
	uo.install_timeout = vo.install_timeout;
	if (argc - optind != 1)
		return usage("trigger", "expected one cycle name or schedule id");
	k = find_cycle(argv[optind]);
	if (k < 0)
		return usage("trigger",
			     "unknown cycle '%s'; known: machine-policy, software-updates-scan, "
			     "software-updates-deployment-evaluation, ci-evaluation, or their "
			     "schedule ids",
			     argv[optind]);
	cycle = cycles[k].cycle;
	if (open_logs(vo.machine, &logs, &err) != 0 ||
	    agent_run_cycle(vo.machine, cycle, &uo, &logs, &r, &err) != 0)
		goto out;
	print_cycle(cycle, &r);
	if (r.updates.failed > 0) {
		pp_error_set(&err, HR_E_FAIL, "%zu update(s) %s; %s", r.updates.failed,
			     cycle == AGENT_CYCLE_SCAN ? "could not be scanned"
						       : "failed to install",
			     cycle == AGENT_CYCLE_SCAN ? "see ScanAgent.log"
						       : "'" PROGRAM " diagnose' explains why");
		goto out;
	}
	rc = EXIT_OK;
out:
	if (rc != EXIT_OK)
		rc = fail(&err);
	/* Not a failure of the cycle: the messages wait in the queue for the next contact (a
	 * failed cycle has said its one line already). */
	if (rc == EXIT_OK && r.flush_failed && r.flush.left > 0)
		fprintf(stderr, PROGRAM ": %zu state message(s) stay queued: %s\n", r.flush.left,
			r.flush_err.message);
	if (rc == EXIT_OK && r.ci_flush_failed && r.ci_flush.left > 0)
		fprintf(stderr, PROGRAM ": %zu configuration baseline report(s) stay queued: %s\n",
			r.ci_flush.left, r.ci_flush_err.message);
	agent_cycle_result_free(&r);
	agent_logs_close(&logs);
	return rc;
}

/* ---- run ---- */

static int cmd_run(const char *machine_opt, int argc, char **argv)
{
	static const struct option options[] = {
	    {"machine", required_argument, NULL, OPT_MACHINE},
	    {"ca-bundle", required_argument, NULL, OPT_CA_BUNDLE},
	    {"install-timeout", required_argument, NULL, OPT_INSTALL_TIMEOUT},
	    {"once", no_argument, NULL, OPT_ONCE},
	    {"poll-seconds", required_argument, NULL, OPT_POLL_SECONDS},
	    {NULL, 0, NULL, 0},
	};
	struct agent_run_options o;
	struct agent_logs logs = {0};
	struct verb_options vo;
	struct pp_error err;
	int rc;

	pp_error_clear(&err);
	rc = verb_options_only("run", options, machine_opt, argc, argv, &vo);
	if (rc >= 0)
		return rc;
	rc = EXIT_FAIL;
	o = (struct agent_run_options){vo.machine, vo.ca_bundle, vo.once, vo.poll_seconds,
				       vo.install_timeout};
	if (open_logs(o.machine, &logs, &err) != 0 || agent_run(&o, &logs, &err) != 0)
		goto out;
	rc = EXIT_OK;
out:
	if (rc != EXIT_OK)
		rc = fail(&err);
	agent_logs_close(&logs);
	return rc;
}

/* ---- diagnose ---- */

static int cmd_diagnose(const char *machine_opt, int argc, char **argv)
{
	static const struct option options[] = {
	    {"machine", required_argument, NULL, OPT_MACHINE},
	    {"json", no_argument, NULL, OPT_JSON},
	    {NULL, 0, NULL, 0},
	};
	const json_t *failures, *f;
	struct verb_options vo;
	json_t *report = NULL;
	struct pp_error err;
	size_t i;
	int rc;

	pp_error_clear(&err);
	rc = verb_options_only("diagnose", options, machine_opt, argc, argv, &vo);
	if (rc >= 0)
		return rc;
	rc = EXIT_FAIL;
	if (agent_updates_diagnose(vo.machine, &report, &err) != 0)
		goto out;
	failures = json_object_get(report, "failures");
	if (vo.json) {
		if (json_dumpf(report, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0) {
			pp_error_set(&err, HR_E_OUTOFMEMORY, "cannot print the report");
			goto out;
		}
		fputc('\n', stdout);
	} else if (json_array_size(failures) == 0) {
		printf("No install has failed.\n");
	}
	json_array_foreach(failures, i, f)
	{
		if (!vo.json)
			printf("%s%s\n", i > 0 ? "\n" : "",
			       json_string_value(json_object_get(f, "explanation")));
	}
	rc = EXIT_OK;
out:
	if (rc != EXIT_OK)
		rc = fail(&err);
	json_decref(report);
	return rc;
}

/* ---- certutil and policy: the toolkit's verbs on this machine ---- */

/* Writes what the toolkit wrote to stderr with this program's name, so that its one line reads
 * "patchpoint-agent: ..." like every other failure of the agent. */
static void restamp(const char *text)
{
	static const char ours[] = "patchpoint: ", hint[] = "Try 'patchpoint ";
	const char *line = text, *nl;

	while (line != NULL && *line != '\0') {
		nl = strchr(line, '\n');
		if (strncmp(line, ours, sizeof(ours) - 1) == 0) {
			fputs(PROGRAM ": ", stderr);
			line += sizeof(ours) - 1;
		} else if (strncmp(line, hint, sizeof(hint) - 1) == 0) {
			fputs("Try '" PROGRAM " ", stderr);
			line += sizeof(hint) - 1;
		}
		fwrite(line, 1, nl != NULL ? (size_t)(nl - line + 1) : strlen(line), stderr);
		line = nl != NULL ? nl + 1 : NULL;
	}
}

/* Runs a toolkit group (src/cli) with "--machine DIR" inserted before argv[at] (at the end when
 * at >= argc; nowhere when at is -1). */
static int run_toolkit(int (*group)(struct cli *, int, char **), const char *machine_opt, int argc,
		       char **argv, int at)
{
	struct cli cli = {.program = PROGRAM, .log = NULL};
	char **args = calloc((size_t)argc + 3, sizeof(*args));
	char *captured = NULL;
	size_t captured_len = 0;
	FILE *saved = stderr, *mem;
	int i, n = 0, rc;

	if (args == NULL) {
		fputs(PROGRAM ": out of memory\n", stderr);
		return EXIT_FAIL;
	}
	for (i = 0; i < argc; i++) {
		if (i == at) {
			args[n++] = (char *)"--machine";
			args[n++] = (char *)machine_dir(machine_opt);
		}
		args[n++] = argv[i];
	}
	if (at >= 0 && at >= argc) {
		args[n++] = (char *)"--machine";
		args[n++] = (char *)machine_dir(machine_opt);
	}
	args[n] = NULL;
	fflush(stderr);
	mem = open_memstream(&captured, &captured_len);
	if (mem != NULL)
		stderr = mem;
	rc = group(&cli, n, args);
	if (mem != NULL) {
		stderr = saved;
		(void)fclose(mem);
		restamp(captured);
	}
	free(captured);
	free(args);
	return rc;
}

static int cmd_certutil(const char *machine_opt, int argc, char **argv)
{
	return run_toolkit(cli_certutil, machine_opt, argc, argv, 1);
}

static int cmd_policy(const char *machine_opt, int argc, char **argv)
{
	/* After the verb (set, get, clear), which cli_policy dispatches on. */
	if (argc < 2 || argv[1][0] == '-' || strcmp(argv[1], "help") == 0)
		return run_toolkit(cli_policy, machine_opt, argc, argv, -1);
	return run_toolkit(cli_policy, machine_opt, argc, argv, 2);
}

/* ---- gpupdate (agent_gpupdate.c) ---- */

static int cmd_gpupdate(const char *machine_opt, int argc, char **argv)
{
	return agent_gpupdate_main(machine_dir(machine_opt), argc, argv);
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
	size_t queued;	  /* state messages waiting to be sent */
	json_t *ci;	  /* agent_ci_status */
	size_t ts_queued; /* task sequence runs not reported yet */
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
	json_object_set_new(doc, "queued_state_messages", json_integer((json_int_t)st->queued));
	json_object_set(doc, "configuration_baselines", st->ci);
	json_object_set_new(doc, "queued_task_sequence_runs",
			    json_integer((json_int_t)st->ts_queued));
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
	printf("State messages queued: %zu%s\n", st->queued,
	       st->queued > 0 ? " (sent at the next contact with the server)" : "");
	agent_ci_print_status(st->ci);
	printf("Task sequence runs queued: %zu%s\n", st->ts_queued,
	       st->ts_queued > 0 ? " (sent at the next contact with the server)" : "");
}

static int cmd_status(const char *machine_opt, int argc, char **argv)
{
	static const struct option options[] = {
	    {"machine", required_argument, NULL, OPT_MACHINE},
	    {"json", no_argument, NULL, OPT_JSON},
	    {NULL, 0, NULL, 0},
	};
	const char *machine;
	struct verb_options vo;
	struct status st;
	struct pp_error err;
	json_t *doc = NULL;
	int rc;

	pp_error_clear(&err);
	memset(&st, 0, sizeof(st));
	rc = verb_options_only("status", options, machine_opt, argc, argv, &vo);
	if (rc >= 0)
		return rc;
	rc = EXIT_FAIL;
	machine = vo.machine;
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
	{
		struct agent_queue_list q;

		if (agent_queue_list(machine, NULL, &q, &err) != 0)
			goto out;
		st.queued = q.count;
		agent_queue_list_free(&q);
	}
	if (agent_ci_status(machine, &st.ci, &err) != 0 ||
	    agent_ts_unreported(machine, &st.ts_queued, &err) != 0)
		goto out;
	if (vo.json) {
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
	json_decref(st.ci);
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
    {"run", run_manual, cmd_run},
    {"status", status_manual, cmd_status},
    {"diagnose", diagnose_manual, cmd_diagnose},
    {"gpupdate", agent_gpupdate_manual, cmd_gpupdate},
    /* The toolkit's own manuals answer --help for these two. */
    {"certutil", NULL, cmd_certutil},
    {"policy", NULL, cmd_policy},
    /* agent_ts_cmd.c: its manual answers --help itself. */
    {"ts", NULL, agent_ts_command},
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
		if (verbs[v].manual != NULL && wants_help(argc - i, argv + i)) {
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
