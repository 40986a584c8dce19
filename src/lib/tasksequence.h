/* tasksequence.h - the model of task sequences and packages (DESIGN 5.8, docs/internals/
 * task-sequences.md): step types, limits and the checks the server applies when an administrator
 * writes them and the agent applies again when a server sends them, so that both refuse the same
 * things with the same words. No I/O, no JSON: the server (src/server/ts_api.c) and the agent
 * (src/agent/agent_ts.c) carry these records in their own documents.
 *
 *   package          a named folder of files with a version; each file by relative path,
 *                    SHA-1 (its name in the content store), SHA-256 and size
 *   task sequence    an ordered list of steps (1-based positions), each with a name, a type and
 *                    continue-on-error, deployed to collections
 *   run              one execution of a deployment on a device: a state and one result per step */
#ifndef PATCHPOINT_TASKSEQUENCE_H
#define PATCHPOINT_TASKSEQUENCE_H

#include "error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TS_NAME_MAX		255  /* bytes of a package, task sequence or step name */
#define TS_VERSION_MAX		64   /* bytes of a package version */
#define TS_ID_LEN		8    /* "PP100010": site code and five hex digits */
#define TS_STEPS_MAX		100  /* steps of one task sequence */
#define TS_COMMAND_MAX		4096 /* bytes of a command line */
#define TS_COMMAND_WORDS_MAX	64   /* words of a command line, the program included */
#define TS_TIMEOUT_DEFAULT	3600 /* seconds a command line may run */
#define TS_TIMEOUT_MAX		(7 * 86400)
#define TS_PACKAGE_FILES_MAX	256
#define TS_PATH_MAX		255 /* bytes of a file's relative path inside a package */
#define TS_POLICY_NAME_MAX	63
#define TS_DETAIL_MAX		511 /* bytes of a step result's detail */
#define TS_RUN_ID_LEN		36  /* a UUID made by the agent */
#define TS_POLICY_SOURCE_PREFIX "task-sequence:"

enum ts_step_type {
	TS_STEP_RUN_COMMAND_LINE = 0,
	TS_STEP_INSTALL_SOFTWARE_UPDATES,
	TS_STEP_SET_POLICY,
	TS_STEP_RESTART,
	TS_STEP_TYPE_COUNT
};

/* "run-command-line", "install-software-updates", "set-policy", "restart" (the API's and the
 * CLI's spelling); "Run Command Line", "Install Software Updates", "Set Policy", "Restart"
 * (the console's, and a step's default name). Never NULL. */
const char *ts_step_type_key(enum ts_step_type t);
const char *ts_step_type_label(enum ts_step_type t);

/* The type named by its key or its label (any case); -1 with E_INVALIDARG listing the keys. */
int ts_step_type_parse(const char *text, enum ts_step_type *out, struct pp_error *err);

/* One step. Fields a type does not use are empty / zero. */
struct ts_step {
	char name[TS_NAME_MAX + 1];
	enum ts_step_type type;
	bool continue_on_error;
	/* run-command-line */
	char package_id[TS_ID_LEN + 1]; /* "" = none: the command runs in an empty directory */
	char command_line[TS_COMMAND_MAX + 1];
	unsigned timeout; /* seconds, 1..TS_TIMEOUT_MAX */
	/* set-policy */
	char policy_name[TS_POLICY_NAME_MAX + 1];
	uint32_t policy_value;
};

/* Checks a name (what: "package name", "step name"...): 1..TS_NAME_MAX bytes of UTF-8 without
 * control characters. -1 with E_INVALIDARG naming what is wrong. */
int ts_name_check(const char *name, const char *what, struct pp_error *err) PP_WARN_UNUSED;

/* A package version: 1..TS_VERSION_MAX bytes of printable ASCII without spaces. */
int ts_version_check(const char *version, struct pp_error *err) PP_WARN_UNUSED;

/* An id "<3 of A-Z0-9><5 hex digits, upper case>". */
bool ts_id_valid(const char *id);

/* A file's path inside a package: 1..TS_PATH_MAX bytes, '/'-separated components, none empty,
 * "." or "..", no leading '/', no backslash, no control character, valid UTF-8. */
int ts_package_path_check(const char *path, struct pp_error *err) PP_WARN_UNUSED;

/* Splits a command line into words: spaces and tabs separate them, double quotes group, \" is a
 * quote; nothing else is special (no shell). Words point into buf (strlen(cmd) + 1 bytes). -1
 * with E_INVALIDARG for an empty command line, an unclosed quote or more than max words. */
int ts_command_line_split(const char *cmd, char *buf, char **words, size_t max, size_t *count,
			  struct pp_error *err) PP_WARN_UNUSED;

/* The first word of cmd (unquoted, into program) and where the rest starts (*rest points into
 * cmd, after the blanks that follow the first word). -1 as ts_command_line_split. */
int ts_command_line_program(const char *cmd, char *program, size_t size, const char **rest,
			    struct pp_error *err) PP_WARN_UNUSED;

/* Checks a whole step: its name, and what its type needs (a command line of at most
 * TS_COMMAND_WORDS_MAX words and a timeout in 1..TS_TIMEOUT_MAX; a known policy value name),
 * and that it carries nothing its type does not use. -1 with E_INVALIDARG, the message naming
 * the field. */
int ts_step_check(const struct ts_step *s, struct pp_error *err) PP_WARN_UNUSED;

/* The machine policy source a Set Policy step records: "task-sequence:<name>", the name in
 * printable ASCII ('?' for each other byte), cut to fit MACHINEPOLICY_SOURCE_MAX. */
void ts_policy_source(const char *ts_name, char *out, size_t size);

/* ---- runs ---- */

enum ts_run_state {
	TS_RUN_RUNNING = 0,
	TS_RUN_SUCCEEDED,
	TS_RUN_FAILED,
	TS_RUN_INTERRUPTED, /* the agent stopped (killed, or asked to stop) before the end */
	TS_RUN_STATE_COUNT
};

enum ts_step_state {
	TS_STEP_PENDING = 0, /* not reached yet */
	TS_STEP_RUNNING,
	TS_STEP_SUCCEEDED,
	TS_STEP_FAILED,
	TS_STEP_SKIPPED,     /* not run: an earlier step failed without continue-on-error */
	TS_STEP_INTERRUPTED, /* running when the agent stopped */
	TS_STEP_STATE_COUNT
};

/* "running", "succeeded", "failed", "interrupted"; labels "Running", "Succeeded", ... */
const char *ts_run_state_name(enum ts_run_state s);
const char *ts_run_state_label(enum ts_run_state s);
/* "pending", "running", "succeeded", "failed", "skipped", "interrupted"; labels. */
const char *ts_step_state_name(enum ts_step_state s);
const char *ts_step_state_label(enum ts_step_state s);
/* The parsers take the names (exact spelling); -1 for anything else. */
int ts_run_state_parse(const char *name);
int ts_step_state_parse(const char *name);

/* True when id is a lower-case version 4 style UUID (36 characters, hyphens at 8, 13, 18, 23). */
bool ts_run_id_valid(const char *id);

#endif
