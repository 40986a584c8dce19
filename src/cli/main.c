/* main.c - the patchpoint program: global options, then one command group per file. */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#ifndef PATCHPOINT_VERSION
#define PATCHPOINT_VERSION "0.1.0"
#endif

static const char main_manual[] =
    "NAME\n"
    "    patchpoint - the signing toolkit of a third-party software update point\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint [--log FILE] <command> [<verb>] [options]\n"
    "\n"
    "DESCRIPTION\n"
    "    Creates and checks the WSUS code-signing certificate, builds and Authenticode-signs\n"
    "    update cabinets, and decides, as a Windows client would, whether a device trusts a\n"
    "    signed cabinet (and which HRESULT it reports when it does not).\n"
    "\n"
    "COMMANDS\n"
    "    cert new|show|check|export   the signing certificate (PFX, PEM, DER)\n"
    "    cab create|list|extract      cabinets (none or MSZIP), optionally signed on creation\n"
    "    sign                         Authenticode-sign an existing cabinet\n"
    "    verify                       the trust decision for a signed cabinet on a machine\n"
    "    certutil                     -addstore, -delstore, -store, -dump on machine stores\n"
    "    policy set|get|clear         machine policy values (AcceptTrustedPublisherCerts)\n"
    "\n"
    "ADMIN COMMANDS (over patchpointd's REST API; see 'patchpoint site --help')\n"
    "    site list|add|show           sites of the hierarchy\n"
    "    sup list|show|add|set        software update points, third-party updates settings\n"
    "    sync                         synchronize software updates (--wait for the result)\n"
    "    certificates list|show|block|unblock|approve\n"
    "                                 Administration > Security > Certificates\n"
    "    publisher cert create|import|export|show, publisher status\n"
    "                                 the signing certificate of the software update point\n"
    "    catalog import|export|list   third-party catalogs (SCUP .xml/.xml.gz, single SDPs)\n"
    "    updates list|show|revise|expire|delete\n"
    "                                 the updates of the catalogs and your own\n"
    "    publish                      signed content for an update (or --new: your own)\n"
    "    deploy, deployments list     deployments of published updates to collections\n"
    "    enrollment-key create|list|revoke\n"
    "                                 the keys with which devices register\n"
    "    collection create|list|show|delete\n"
    "                                 collections of devices: All Systems and rules\n"
    "    client-settings list|show|create|set|move-up|move-down|deploy|undeploy|delete,\n"
    "    client-settings minimum-version\n"
    "                                 client settings, their order and deployments\n"
    "    device list|show|resultant-settings|client-settings\n"
    "                                 registered devices and the settings they get\n"
    "    compliance UPDATE|DEPLOYMENT the state of an update on the devices\n"
    "    gpo create|list|show|delete|link|unlink|import-cert|remove-cert|set-policy|export\n"
    "                                 group policy objects: certificates and\n"
    "                                 AcceptTrustedPublisherCerts for linked collections\n"
    "    ci create-certificate|create-script|set|list|show|delete\n"
    "                                 configuration items: a certificate in stores, a script\n"
    "    baseline create|add-ci|remove-ci|list|show|delete|deploy|undeploy\n"
    "                                 configuration baselines and their deployments\n"
    "    compliance baseline NAME     the state of a baseline on the devices\n"
    "    package create|list|show|update|delete\n"
    "                                 packages: named folders of files with a version\n"
    "    ts create|add-step|remove-step|list|show|delete|deploy|undeploy|status\n"
    "                                 task sequences: ordered steps run by the agent\n"
    "    log NAME                     a server log (wsyncmgr, WCM, isvupdates, patchpointd);\n"
    "                                 --follow\n"
    "\n"
    "OPTIONS\n"
    "    --log FILE    append a CMTrace-format record of what each command did to FILE\n"
    "                  (also $PATCHPOINT_LOG)\n"
    "    --version     print the version\n"
    "    --help        this page; 'patchpoint <command> --help' for a command's manual\n"
    "\n"
    "ENVIRONMENT\n"
    "    PATCHPOINT_MACHINE   machine directory used when --machine is not given\n"
    "                         (default /var/lib/patchpoint/machine)\n"
    "    PATCHPOINT_SERVER    patchpointd's URL for the admin commands\n"
    "                         (default http://127.0.0.1:8530)\n"
    "    PATCHPOINT_TOKEN     the admin token for the admin commands\n"
    "    PATCHPOINT_CA_BUNDLE CA certificates that verify an https:// server\n"
    "\n"
    "EXIT STATUS\n"
    "    0 success, 1 a failed check or operation (one line on stderr), 2 a usage error.\n";

struct group {
	const char *name;
	int (*run)(struct cli *cli, int argc, char **argv);
};

static const struct group groups[] = {
    {"cert", cli_cert},
    {"cab", cli_cab},
    {"sign", cli_sign},
    {"verify", cli_verify},
    {"certutil", cli_certutil},
    {"policy", cli_policy},
    {"site", cli_site},
    {"sup", cli_sup},
    {"sync", cli_sync},
    {"certificates", cli_certificates},
    {"publisher", cli_publisher},
    {"log", cli_logs},
    {"catalog", cli_catalog},
    {"updates", cli_updates},
    {"publish", cli_publish},
    {"deploy", cli_deploy},
    {"deployments", cli_deployments},
    {"enrollment-key", cli_enrollment_key},
    {"collection", cli_collection},
    {"client-settings", cli_client_settings},
    {"device", cli_device},
    {"compliance", cli_compliance},
    {"gpo", cli_gpo},
    {"ci", cli_ci},
    {"baseline", cli_baseline},
    {"package", cli_package},
    {"ts", cli_ts},
};

int main(int argc, char **argv)
{
	struct cli cli = {.program = "patchpoint", .log = NULL};
	const char *log_path = getenv("PATCHPOINT_LOG");
	int i = 1, rc = CLI_EXIT_USAGE;
	size_t g;

	while (i < argc && argv[i][0] == '-') {
		if (strcmp(argv[i], "--log") == 0 && i + 1 < argc) {
			log_path = argv[i + 1];
			i += 2;
		} else if (strcmp(argv[i], "--version") == 0) {
			printf("patchpoint %s\n", PATCHPOINT_VERSION);
			return CLI_EXIT_OK;
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			return cli_manual(main_manual);
		} else {
			return cli_usage("", "unknown option '%s'", argv[i]);
		}
	}
	if (i >= argc) {
		fputs(main_manual, stderr);
		return CLI_EXIT_USAGE;
	}
	if (strcmp(argv[i], "help") == 0)
		return cli_manual(main_manual);

	if (log_path != NULL && log_path[0] != '\0') {
		struct pp_error err;

		pp_error_clear(&err);
		cli.log = cmtrace_open(log_path, "patchpoint", 0, &err);
		if (cli.log == NULL)
			return cli_fail(&cli, &err);
	}
	/* Once, before any thread: the admin commands' HTTP client (cli_api.c). */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fputs("patchpoint: cannot initialise libcurl\n", stderr);
		rc = CLI_EXIT_FAIL;
		goto out;
	}
	for (g = 0; g < sizeof(groups) / sizeof(groups[0]); g++) {
		if (strcmp(argv[i], groups[g].name) == 0) {
			cli_log(&cli, CMTRACE_INFO, "patchpoint %s started", argv[i]);
			rc = groups[g].run(&cli, argc - i, argv + i);
			cli_log(&cli, rc == 0 ? CMTRACE_INFO : CMTRACE_ERROR,
				"patchpoint %s finished with exit code %d", argv[i], rc);
			goto out;
		}
	}
	rc = cli_usage("", "unknown command '%s'", argv[i]);
out:
	curl_global_cleanup();
	cmtrace_close(cli.log);
	return rc;
}
