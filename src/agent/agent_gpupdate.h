/* agent_gpupdate.h - the gpupdate verb of patchpoint-agent (agent_gpupdate.c). */
#ifndef PATCHPOINT_AGENT_GPUPDATE_H
#define PATCHPOINT_AGENT_GPUPDATE_H

/* Its manual page. */
extern const char agent_gpupdate_manual[];

/* Runs "gpupdate [options]" (argv[0] is the verb) on machine, which --machine after the verb
 * replaces; returns the exit code (0, 1, or 2 for a usage error). */
int agent_gpupdate_main(const char *machine, int argc, char **argv);

#endif
