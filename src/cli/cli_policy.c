/* cli_policy.c - patchpoint policy set|get|clear: machine policy values such as
 * AcceptTrustedPublisherCerts ("Allow signed updates from an intranet Microsoft update service
 * location"), which a device needs before it accepts third-party update content. */
#include "cli.h"

#include "hresult.h"
#include "machinepolicy.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static const char policy_manual[] =
    "NAME\n"
    "    patchpoint policy - machine policy values\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint policy set [--machine DIR] [--source TEXT] NAME VALUE\n"
    "    patchpoint policy get [--machine DIR] [--json] NAME\n"
    "    patchpoint policy clear [--machine DIR] NAME\n"
    "\n"
    "DESCRIPTION\n"
    "    NAME is AcceptTrustedPublisherCerts, the REG_DWORD under\n"
    "    HKLM\\Software\\Policies\\Microsoft\\Windows\\WindowsUpdate that the policy \"Allow\n"
    "    signed updates from an intranet Microsoft update service location\" sets. With 1,\n"
    "    a device accepts update content signed by a certificate in its Trusted Publishers\n"
    "    store; otherwise such content fails with 0x800B0109. Each value remembers who set\n"
    "    it (--source, default \"local\"), so that 'get' can say why it has its value.\n"
    "\n"
    "OPTIONS\n"
    "    --machine DIR   machine directory (default $PATCHPOINT_MACHINE or\n"
    "                    /var/lib/patchpoint/machine)\n"
    "    --source TEXT   who sets the value (default \"local\")\n"
    "    --json          print the value as JSON\n";

enum { OPT_MACHINE = 256, OPT_SOURCE, OPT_JSON };

static int policy_run(struct cli *cli, int argc, char **argv)
{
	static const struct option options[] = {
	    {"machine", required_argument, NULL, OPT_MACHINE},
	    {"source", required_argument, NULL, OPT_SOURCE},
	    {"json", no_argument, NULL, OPT_JSON},
	    {NULL, 0, NULL, 0},
	};
	const char *verb = argv[0], *machine = NULL, *source = "local", *name, *key;
	struct machinepolicy_value value;
	struct pp_error err;
	bool json = false;
	long v;
	int c;

	pp_error_clear(&err);
	optind = 0;
	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (c) {
		case OPT_MACHINE:
			machine = optarg;
			break;
		case OPT_SOURCE:
			source = optarg;
			break;
		case OPT_JSON:
			json = true;
			break;
		default:
			return cli_usage("policy", "invalid option");
		}
	}
	machine = cli_machine_dir(machine);
	if (optind >= argc)
		return cli_usage("policy", "expected a policy value name");
	name = argv[optind];
	key = machinepolicy_registry_key(name);
	if (key == NULL)
		return cli_usage("policy", "unknown policy value '%s'; known: %s", name,
				 MACHINEPOLICY_ACCEPT_TRUSTED_PUBLISHER_CERTS);

	if (strcmp(verb, "set") == 0) {
		if (argc - optind != 2 || cli_parse_int(argv[optind + 1], 0, 0xFFFFFFFFL, &v) != 0)
			return cli_usage("policy", "policy set needs NAME and a number (0 or 1)");
		if (machinepolicy_set(machine, name, (uint32_t)v, source, &err) != 0)
			return cli_fail(cli, &err);
		printf("%s = %ld (REG_DWORD) under HKLM\\%s, set by %s\n", name, v, key, source);
		cli_log(cli, CMTRACE_INFO, "Policy value %s set to %ld by %s", name, v, source);
		return CLI_EXIT_OK;
	}
	if (argc - optind != 1)
		return cli_usage("policy", "policy %s needs NAME only", verb);
	if (strcmp(verb, "clear") == 0) {
		if (machinepolicy_clear(machine, name, &err) != 0)
			return cli_fail(cli, &err);
		printf("%s removed from HKLM\\%s\n", name, key);
		cli_log(cli, CMTRACE_INFO, "Policy value %s removed", name);
		return CLI_EXIT_OK;
	}
	if (machinepolicy_get(machine, name, &value, &err) != 0)
		return cli_fail(cli, &err);
	if (json) {
		json_t *doc = json_pack("{s:s, s:s, s:b}", "name", name, "key", key, "present",
					value.present);

		if (value.present) {
			json_object_set_new(doc, "value", json_integer(value.value));
			json_object_set_new(doc, "source", json_string(value.source));
		}
		cli_print_json(doc);
	} else if (value.present) {
		printf("%s = %u (set by %s)\n", name, (unsigned)value.value, value.source);
	} else {
		printf("%s is not set\n", name);
	}
	return CLI_EXIT_OK;
}

int cli_policy(struct cli *cli, int argc, char **argv)
{
	static const struct cli_verb verbs[] = {
	    {"set", "set a policy value", policy_manual, policy_run},
	    {"get", "show a policy value and who set it", policy_manual, policy_run},
	    {"clear", "remove a policy value", policy_manual, policy_run},
	};

	return cli_dispatch(cli, "policy", verbs, sizeof(verbs) / sizeof(verbs[0]), argc - 1,
			    argv + 1);
}
