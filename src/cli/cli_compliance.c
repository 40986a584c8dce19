/* cli_compliance.c - patchpoint compliance UPDATE|DEPLOYMENT: the state of an update on the
 * devices a deployment targets, from their state messages (docs/api.md "Devices, collections
 * and client settings"). */
#include "cli.h"
#include "cli_api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char compliance_manual[] =
    "NAME\n"
    "    patchpoint compliance - the state of an update on the devices\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint compliance UPDATE|DEPLOYMENT [--json] [connection options]\n"
    "    patchpoint compliance baseline NAME [--json] [connection options]\n"
    "\n"
    "DESCRIPTION\n"
    "    UPDATE is an update ID (a GUID): every device a deployment of it targets, and every\n"
    "    device that reported a state of it. DEPLOYMENT is a deployment id (a number, see\n"
    "    'patchpoint deployments list'): the members of that deployment's collection.\n"
    "    Each device shows Required, Not required, Installed, Pending restart, Failed with\n"
    "    the HRESULT it reported (0x800B0109 when it does not trust the signing\n"
    "    certificate), or Unknown when it has sent no state message yet; a summary line\n"
    "    counts them. 'compliance baseline NAME' is the state of a configuration baseline\n"
    "    (see 'patchpoint compliance baseline --help').\n"
    "\n"
    "OPTIONS\n"
    "    --json          print the answer of the server as JSON\n" CLI_API_MANUAL_OPTIONS "\n"
    "EXIT STATUS\n"
    "    0 the report was printed, 1 the server refused or could not be reached, 2 usage.\n";

int cli_compliance(struct cli *cli, int argc, char **argv)
{
	static const char *const order[] = {"installed",      "required",     "failed",
					    "pending_reboot", "not_required", "unknown"};
	static const char *const labels[] = {"Installed",	"Required",	"Failed",
					     "Pending restart", "Not required", "Unknown"};
	const char *target = NULL;
	char path[160], *esc = NULL, when[32];
	const json_t *d, *summary;
	json_t *doc = NULL;
	bool is_deployment = true;
	size_t i;
	int rc;

	if (argc > 1 && strcmp(argv[1], "baseline") == 0)
		return cli_compliance_baseline(cli, argc - 1, argv + 1);
	if (cli_wants_help(argc, argv)) {
		fputs(compliance_manual, stdout);
		return CLI_EXIT_OK;
	}
	/* The one positional argument, wherever it stands among the options (each of which but
	 * --json takes a value, unless given as --name=value); it is taken out of argv. */
	for (int k = 1; k < argc; k++) {
		if (argv[k][0] == '-') {
			if (strcmp(argv[k], "--json") != 0 && strchr(argv[k], '=') == NULL)
				k++;
			continue;
		}
		if (target != NULL)
			return cli_usage("compliance", "unexpected argument '%s'", argv[k]);
		target = argv[k];
		memmove(&argv[k], &argv[k + 1], (size_t)(argc - k - 1) * sizeof(*argv));
		argc--;
		k--;
	}
	if (target == NULL)
		return cli_usage("compliance", "expected an UPDATE ID or a DEPLOYMENT id");
	for (i = 0; target[i] != '\0'; i++)
		is_deployment = is_deployment && target[i] >= '0' && target[i] <= '9';
	if (!is_deployment && strlen(target) != 36)
		return cli_usage("compliance",
				 "'%.64s' is neither an update ID nor a deployment id", target);
	esc = cli_api_escape(target);
	if (esc == NULL)
		return cli_usage("compliance", "out of memory");
	(void)snprintf(path, sizeof(path), "/api/v1/compliance/%s/%s",
		       is_deployment ? "deployments" : "updates", esc);
	free(esc);
	rc = cli_api_read_verb(cli, "compliance", argc, argv, path, &doc);
	if (doc == NULL)
		return rc;
	if (is_deployment)
		printf("Compliance of deployment %s (update %s)\n", target,
		       cli_json_str(doc, "update_id"));
	else
		printf("Compliance of update %s\n", target);
	printf("%-24s %-16s %-12s %-24s %s\n", "Device", "Status", "HRESULT", "Reported", "Detail");
	json_array_foreach(json_object_get(doc, "devices"), i, d)
	{
		const char *hr = cli_json_str(d, "hresult");

		cli_format_time(cli_json_int(d, "time", 0), when, sizeof(when));
		printf("%-24s %-16s %-12s %-24s %s\n", cli_json_str(d, "device"),
		       cli_json_str(d, "status"), hr[0] != '\0' ? hr : "-", when,
		       cli_json_str(d, "detail"));
	}
	summary = json_object_get(doc, "summary");
	printf("Summary:");
	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		printf("%s %s %lld", i > 0 ? "," : "", labels[i],
		       cli_json_int(summary, order[i], 0));
	printf("\n");
	json_decref(doc);
	return CLI_EXIT_OK;
}
