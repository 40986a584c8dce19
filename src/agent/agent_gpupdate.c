/* agent_gpupdate.c - the gpupdate verb of patchpoint-agent: options, the cycle lock, and the
 * summary Windows' gpupdate prints. The work is in agent_gpo.c. */
#include "agent_gpupdate.h"

#include "agent_gpo.h"
#include "agent_state.h"
#include "hresult.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#define PROGRAM "patchpoint-agent"

const char agent_gpupdate_manual[] =
    "NAME\n"
    "    patchpoint-agent gpupdate - refresh group policy now\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint-agent [--machine DIR] gpupdate [--force] [--ca-bundle FILE]\n"
    "\n"
    "DESCRIPTION\n"
    "    What 'gpupdate /target:computer' does on Windows. Asks the site for the group\n"
    "    policy objects linked to this device's collections, in the order the device\n"
    "    applies them (GET /api/v1/device/gpos), fetches the Machine/Registry.pol of each\n"
    "    one that is new or whose version changed, and applies it: each certificate of\n"
    "    Software\\Policies\\Microsoft\\SystemCertificates\\<Store>\\Certificates goes into the\n"
    "    group policy layer of that store (DIR/policy/certstores/<Store>; trust uses the\n"
    "    local and the group policy layers together), and AcceptTrustedPublisherCerts\n"
    "    (\"Allow signed updates from an intranet Microsoft update service location\") is set\n"
    "    with the source gpo:<GPO name>; where two GPOs set it, the one applied last (link\n"
    "    order 1 of the device's last collection) wins. What a GPO that no longer applies,\n"
    "    or no longer holds it, had put there is taken away again; what another GPO still\n"
    "    holds, certificates of the local stores, and a value another source set since,\n"
    "    stay. An entry the agent does not apply is ignored with a warning in the log; a\n"
    "    certificate Blob whose hash is not its key name is refused and reported. The\n"
    "    daemon ('run') does the same every 90 minutes plus up to 30 at random.\n"
    "\n"
    "OPTIONS\n"
    "    --force            fetch and apply every GPO again, changed or not (without it an\n"
    "                       unchanged GPO is skipped)\n"
    "    --ca-bundle FILE   CA certificates that verify an https:// site (default: the one\n"
    "                       given at registration)\n"
    "    --machine DIR      the machine directory (default $PATCHPOINT_MACHINE, else\n"
    "                       /var/lib/patchpoint/machine)\n"
    "\n"
    "OUTPUT\n"
    "    \"Updating policy...\", an empty line and \"Computer Policy update has completed\n"
    "    successfully.\", as Windows prints them. When an entry was refused: \"Computer\n"
    "    policy could not be updated successfully. The following errors were encountered:\"\n"
    "    and the first error; the rest was applied.\n"
    "\n"
    "FILES\n"
    "    DIR/agent/gpo-state.json   the GPOs applied, what each held and what group policy\n"
    "                               put on the machine\n"
    "    DIR/logs/gpupdate.log      each GPO applied or skipped and each change (CMTrace)\n"
    "\n"
    "EXIT STATUS\n"
    "    0 applied, 1 the site could not be asked (nothing changed), an entry was refused,\n"
    "    or the machine could not be changed (one line on stderr), 2 usage error.\n";

static int usage(const char *fmt, const char *arg)
{
	fputs(PROGRAM ": ", stderr);
	fprintf(stderr, fmt, arg);
	fputs("\nTry '" PROGRAM " gpupdate --help'.\n", stderr);
	return 2;
}

static int fail(const struct pp_error *err)
{
	if (err->code != 0 && err->code != HR_E_FAIL && hresult_lookup(err->code) != NULL)
		fprintf(stderr, PROGRAM ": %s (0x%08X %s)\n", err->message, (unsigned)err->code,
			hresult_symbol(err->code));
	else
		fprintf(stderr, PROGRAM ": %s\n",
			err->message[0] != '\0' ? err->message : "failed");
	return 1;
}

int agent_gpupdate_main(const char *machine, int argc, char **argv)
{
	enum { OPT_FORCE = 1, OPT_MACHINE, OPT_CA_BUNDLE };
	static const struct option options[] = {
	    {"force", no_argument, NULL, OPT_FORCE},
	    {"machine", required_argument, NULL, OPT_MACHINE},
	    {"ca-bundle", required_argument, NULL, OPT_CA_BUNDLE},
	    {NULL, 0, NULL, 0},
	};
	struct agent_gpo_outcome out;
	struct agent_logs logs = {0};
	struct agent_identity id;
	struct pp_error err;
	const char *ca = NULL;
	bool force = false;
	int c, lock = -1, rc = 1;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", options, NULL)) != -1) {
		switch (c) {
		case OPT_FORCE:
			force = true;
			break;
		case OPT_MACHINE:
			machine = optarg;
			break;
		case OPT_CA_BUNDLE:
			ca = optarg;
			break;
		case ':':
			return usage("option '%s' needs a value", argv[optind - 1]);
		default:
			return usage("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage("unexpected argument '%s'", argv[optind]);
	pp_error_clear(&err);
	/* A machine that is not registered gets no log directory. */
	if (agent_state_require_identity(machine, &id, &err) != 0) {
		agent_identity_wipe(&id);
		return fail(&err);
	}
	agent_identity_wipe(&id);
	if (agent_logs_open(machine, &logs, &err) != 0 ||
	    agent_state_lock(machine, &lock, &err) != 0)
		goto out;
	if (agent_gpo_update(machine, ca, force, &logs, &out, &err) != 0)
		goto out;
	printf("Updating policy...\n\n");
	if (out.refused > 0) {
		printf("Computer policy could not be updated successfully. The following errors "
		       "were encountered:\n\n%s\n",
		       out.refusal);
		pp_error_set(&err, HR_E_FAIL,
			     "computer policy could not be updated successfully: %zu entr%s "
			     "refused, the rest applied; see %s/logs/gpupdate.log",
			     out.refused, out.refused == 1 ? "y was" : "ies were", machine);
		goto out;
	}
	printf("Computer Policy update has completed successfully.\n");
	rc = 0;
out:
	if (rc != 0)
		rc = fail(&err);
	agent_state_unlock(lock);
	agent_logs_close(&logs);
	return rc;
}
