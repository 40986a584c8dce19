/* cli.h - what the command groups of the patchpoint program share: the invocation context,
 * error and usage reporting, password files, JSON output, the progress bar and the CMTrace log.
 *
 * Exit codes (DESIGN 6): 0 success, 1 a failed check or operation (one line on stderr),
 * 2 a usage error. */
#ifndef PATCHPOINT_CLI_H
#define PATCHPOINT_CLI_H

#include "cab.h"
#include "cmtrace.h"
#include "error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define CLI_EXIT_OK    0
#define CLI_EXIT_FAIL  1
#define CLI_EXIT_USAGE 2

#define CLI_PASSWORD_MAX 1024

struct cli {
	const char *program;	 /* "patchpoint" */
	struct cmtrace_log *log; /* --log FILE; NULL when not logging */
};

/* A verb: its name, its manual page, and its entry point (argv[0] is the verb itself). */
struct cli_verb {
	const char *name;
	const char *summary;
	const char *manual;
	int (*run)(struct cli *cli, int argc, char **argv);
};

/* Command groups (one file each). */
int cli_cert(struct cli *cli, int argc, char **argv);
int cli_cab(struct cli *cli, int argc, char **argv);
int cli_sign(struct cli *cli, int argc, char **argv);
int cli_verify(struct cli *cli, int argc, char **argv);
int cli_certutil(struct cli *cli, int argc, char **argv);
int cli_policy(struct cli *cli, int argc, char **argv);
/* Admin commands over patchpointd's REST API (cli_api.h). */
int cli_site(struct cli *cli, int argc, char **argv);
int cli_sup(struct cli *cli, int argc, char **argv);
int cli_sync(struct cli *cli, int argc, char **argv);
int cli_certificates(struct cli *cli, int argc, char **argv);
int cli_publisher(struct cli *cli, int argc, char **argv);
int cli_logs(struct cli *cli, int argc, char **argv);
int cli_catalog(struct cli *cli, int argc, char **argv);
int cli_updates(struct cli *cli, int argc, char **argv);
int cli_publish(struct cli *cli, int argc, char **argv);
int cli_deploy(struct cli *cli, int argc, char **argv);
int cli_deployments(struct cli *cli, int argc, char **argv);
/* Devices, enrollment keys, collections and client settings (cli_devices.c). */
int cli_enrollment_key(struct cli *cli, int argc, char **argv);
int cli_collection(struct cli *cli, int argc, char **argv);
int cli_client_settings(struct cli *cli, int argc, char **argv);
int cli_device(struct cli *cli, int argc, char **argv);
/* Group policy objects (cli_gpo.c). */
int cli_gpo(struct cli *cli, int argc, char **argv);
/* Packages and task sequences (cli_ts.c). */
int cli_package(struct cli *cli, int argc, char **argv);
int cli_ts(struct cli *cli, int argc, char **argv);
/* patchpoint compliance UPDATE|DEPLOYMENT (cli_compliance.c). */
int cli_compliance(struct cli *cli, int argc, char **argv);
/* Configuration items, baselines and "compliance baseline NAME" (cli_ci.c). */
int cli_ci(struct cli *cli, int argc, char **argv);
int cli_baseline(struct cli *cli, int argc, char **argv);
int cli_compliance_baseline(struct cli *cli, int argc, char **argv);
/* updates revise|expire|delete (cli_publish.c), dispatched with the other updates verbs. */
int cli_updates_revise(struct cli *cli, int argc, char **argv);
int cli_updates_expire(struct cli *cli, int argc, char **argv);
int cli_updates_delete(struct cli *cli, int argc, char **argv);
extern const char cli_updates_revise_manual[];
extern const char cli_updates_expire_manual[];
extern const char cli_updates_delete_manual[];

extern const char cli_sign_manual[];
extern const char cli_verify_manual[];
extern const char cli_certutil_manual[];

/* Runs the verb named argv[0] from verbs (n entries) of group; prints the group's help for
 * "help", "--help", "-h" or no verb. */
int cli_dispatch(struct cli *cli, const char *group, const struct cli_verb *verbs, size_t n,
		 int argc, char **argv);

/* Prints "patchpoint: <message>" on stderr, logs it, and returns CLI_EXIT_FAIL. */
int cli_fail(struct cli *cli, const struct pp_error *err);
int cli_failf(struct cli *cli, const char *fmt, ...) PP_PRINTF(2, 3);

/* Prints "patchpoint: <message>" and "Try 'patchpoint <cmd> --help'." on stderr; returns 2. */
int cli_usage(const char *cmd, const char *fmt, ...) PP_PRINTF(2, 3);

/* Prints a manual page (stdout) and returns 0. */
int cli_manual(const char *manual);

/* True when argv holds --help or -h before any "--". */
bool cli_wants_help(int argc, char **argv);

/* Reads the first line of a password file (no trailing newline) into buf. A NULL path gives the
 * empty password. Refuses files over CLI_PASSWORD_MAX bytes. */
int cli_read_password(const char *path, char *buf, size_t size, struct pp_error *err);

struct pki_credential;

/* Loads a PFX/PEM/DER credential with the password from password_file (NULL = empty password).
 * With need_key (a credential to sign with), a file without a private key is refused
 * (CRYPT_E_NO_KEY_PROPERTY) and every WSUS signing requirement it misses is printed as a
 * warning on stderr. */
struct pki_credential *cli_load_credential(const char *path, const char *password_file,
					   bool need_key, struct pp_error *err);

/* Parses a decimal integer option in [min, max]; returns 0 or -1. */
int cli_parse_int(const char *text, long min, long max, long *out);

/* Parses a time option: Unix seconds, "now", or YYYY-MM-DDTHH:MM[:SS]Z (UTC); returns 0 or -1. */
int cli_parse_time(const char *text, long long *out);

/* Writes a JSON document to stdout followed by a newline and takes ownership of it. */
int cli_print_json(json_t *doc);

/* Progress bar on stderr for cab_progress_fn; shown only when stderr is a terminal and the
 * operation has run for more than a second ($PATCHPOINT_PROGRESS_AFTER seconds when set).
 * Pass a struct cli_progress as ctx. */
struct cli_progress {
	const char *label;
	double started;
	double after; /* seconds before the bar appears */
	bool shown;
};
void cli_progress_init(struct cli_progress *p, const char *label);
void cli_progress_update(void *ctx, uint64_t done, uint64_t total);
void cli_progress_end(struct cli_progress *p);

/* Appends an information or error record to the --log file (no-op without one). */
void cli_log(struct cli *cli, enum cmtrace_type type, const char *fmt, ...) PP_PRINTF(3, 4);

/* The machine directory: --machine, else $PATCHPOINT_MACHINE, else the default. */
const char *cli_machine_dir(const char *option);

/* Hex of a binary buffer (lower case) into out (2*len+1 bytes). */
void cli_hex(const uint8_t *buf, size_t len, char *out);

#endif
