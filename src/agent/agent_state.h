/* agent_state.h - what patchpoint-agent keeps in the machine directory (docs/internals/agent.md):
 *
 *     <machine>/agent/                 0700
 *         machine-id                   32 lower-case hex digits and a newline, made once
 *         agent.json                   0600: server, device id, credential, ... (registration)
 *         policy.json                  the last machine policy document received, its version
 *         managed-certs.json           certificates the agent installed from policy, per store
 *         gpo-state.json               the GPOs applied and what each put on the machine
 *         updates.json                 per deployed update: scan result, install, last failure
 *         updates/<id>.<rev>.xml, .json  the SDP and content metadata of each update scanned
 *         queue/                       state messages not yet accepted by the server
 *         cache/, staging/             downloaded content, installers being run
 *         schedule.json                when each cycle last ran (the daemon's clock)
 *         cycle.lock                   held while a cycle runs (flock)
 *     <machine>/logs/                  CMTrace logs (struct agent_logs below)
 *
 * Every file is written whole or not at all (atomicfile.h) and read with a size limit. A file that
 * does not parse is an error that names the file and says what to do; nothing guesses. */
#ifndef PATCHPOINT_AGENT_STATE_H
#define PATCHPOINT_AGENT_STATE_H

#include "cmtrace.h"
#include "error.h"
#include "pki.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <jansson.h>

/* The client version the agent reports (a ConfigMgr 2403 client number, above the default
 * minimum 5.00.8692.1003 for third-party certificates). Defined here only. */
#define AGENT_CLIENT_VERSION "5.00.9128.1000"

#define AGENT_MACHINE_ID_LEN	   32	/* 16 random bytes as lower-case hex */
#define AGENT_CREDENTIAL_MAX	   256	/* the site issues 64 hex digits; room to spare */
#define AGENT_URL_MAX		   2048 /* server base URL */
#define AGENT_PATH_MAX		   4096
#define AGENT_DEVICE_ID_MAX	   64  /* "GUID:" and a uuid: 41 */
#define AGENT_NAME_MAX		   255 /* device name, bytes (device protocol) */
#define AGENT_CLIENT_VERSION_MAX   31
#define AGENT_POLICY_VERSION_MAX   64
#define AGENT_ETAG_MAX		   128
#define AGENT_SUBJECT_MAX	   511
#define AGENT_MANAGED_MAX	   1024 /* managed certificates remembered */
#define AGENT_COMPONENT_POLICY	   "PolicyAgent_RequestAssignments"
#define AGENT_COMPONENT_DEPLOYMENT "UpdatesDeploymentAgent"
#define AGENT_COMPONENT_SCAN	   "ScanAgent"
#define AGENT_COMPONENT_WUA	   "WUAHandler"
#define AGENT_COMPONENT_HANDLER	   "UpdatesHandler"
#define AGENT_COMPONENT_STATE	   "StateMessage"
#define AGENT_COMPONENT_EXEC	   "CcmExec"
#define AGENT_COMPONENT_GPUPDATE   "gpupdate"
#define AGENT_COMPONENT_CI	   "CIAgent"
#define AGENT_STATE_FILE_MAX	   (1u << 20)  /* agent.json, managed-certs.json, ... */
#define AGENT_STATE_LARGE_MAX	   (32u << 20) /* policy.json, updates.json: grow with deployments */
#define AGENT_UUID_LEN		   36

/* The device's identity at its site, as registration returned it. credential is secret: wipe
 * with agent_identity_wipe. */
struct agent_identity {
	char server[AGENT_URL_MAX];	/* base URL, no trailing slash */
	char ca_bundle[AGENT_PATH_MAX]; /* CA bundle given at registration; "" = system's */
	char device_id[AGENT_DEVICE_ID_MAX + 1]; /* "GUID:<uuid>" */
	char credential[AGENT_CREDENTIAL_MAX + 1];
	char machine_id[AGENT_MACHINE_ID_LEN + 1];
	char name[AGENT_NAME_MAX + 1];
	char client_version[AGENT_CLIENT_VERSION_MAX + 1];
	long long registered_at; /* unix seconds */
};

/* The machine policy document last received (200) and when. */
struct agent_stored_policy {
	json_t *policy; /* the document as received (owned) */
	char version[AGENT_POLICY_VERSION_MAX + 1];
	char etag[AGENT_ETAG_MAX + 1]; /* the ETag header of that answer, quotes included */
	long long received_at;	       /* the 200 */
	long long evaluated_at;	       /* last time it was applied (after a 200 or a 304) */
};

/* One certificate the agent installed from policy, and the stores it put it in. */
struct agent_managed_cert {
	char thumbprint[PKI_THUMBPRINT_LEN + 1]; /* upper-case hex */
	char subject[AGENT_SUBJECT_MAX + 1];
	unsigned stores; /* bit (1u << enum certstore_id) per store */
	long long installed_at;
};

struct agent_managed {
	struct agent_managed_cert *certs; /* owned */
	size_t count;
};

/* The agent's CMTrace logs. Any may be NULL (not logging). */
struct agent_logs {
	struct cmtrace_log *policy;	/* PolicyAgent.log: machine policy requests */
	struct cmtrace_log *deployment; /* UpdatesDeployment.log: certificates, deployments */
	struct cmtrace_log *scan;	/* ScanAgent.log: applicability of deployed updates */
	struct cmtrace_log *wua;	/* WUAHandler.log: download and trust of content */
	struct cmtrace_log *handler;	/* UpdatesHandler.log: installers run */
	struct cmtrace_log *state;	/* StateMessage.log: state messages queued and sent */
	struct cmtrace_log *exec;	/* CcmExec.log: the daemon's schedule */
	struct cmtrace_log *gpupdate;	/* gpupdate.log: group policy (agent_gpo.h) */
	struct cmtrace_log *ci;		/* CIAgent.log: configuration baselines (agent_ci.h) */
};

/* Creates <machine> (0755) and <machine>/agent (0700) when missing, and tightens the latter's
 * mode to 0700 when it is looser. Refuses a symbolic link or a non-directory there. */
int agent_state_prepare(const char *machine, struct pp_error *err) PP_WARN_UNUSED;

/* The machine id: read from <machine>/agent/machine-id, or made (getrandom) and kept there when
 * there is none yet. Two agents racing to make it end up with the same one. */
int agent_state_machine_id(const char *machine, char out[AGENT_MACHINE_ID_LEN + 1],
			   struct pp_error *err) PP_WARN_UNUSED;

/* Writes agent.json (0600, durably). Every string field must be set; the credential text is
 * wiped from memory after writing. */
int agent_state_save_identity(const char *machine, const struct agent_identity *id,
			      struct pp_error *err) PP_WARN_UNUSED;

/* Reads agent.json into id. No file: 0 with *registered false. A damaged file, or one that
 * other users can read, is an error. */
int agent_state_load_identity(const char *machine, struct agent_identity *id, bool *registered,
			      struct pp_error *err) PP_WARN_UNUSED;

/* Wipes the whole identity (the credential with it). */
void agent_identity_wipe(struct agent_identity *id);

/* Writes policy.json: the document, its version ("version" of the document), etag (NULL or ""
 * for none) and the two times. */
int agent_state_save_policy(const char *machine, const json_t *policy, const char *etag,
			    long long received_at, long long evaluated_at,
			    struct pp_error *err) PP_WARN_UNUSED;

/* Reads policy.json into out (free with agent_stored_policy_free). No file: 0 with *present
 * false. A damaged file is an error. */
int agent_state_load_policy(const char *machine, struct agent_stored_policy *out, bool *present,
			    struct pp_error *err) PP_WARN_UNUSED;

/* Frees what out holds and clears it; safe on a cleared struct. */
void agent_stored_policy_free(struct agent_stored_policy *out);

/* Reads managed-certs.json into out (free with agent_managed_free); no file is an empty list. */
int agent_state_load_managed(const char *machine, struct agent_managed *out,
			     struct pp_error *err) PP_WARN_UNUSED;

/* Writes managed-certs.json (durably). */
int agent_state_save_managed(const char *machine, const struct agent_managed *m,
			     struct pp_error *err) PP_WARN_UNUSED;

void agent_managed_free(struct agent_managed *m);

/* The entry of thumbprint (upper-case hex), or NULL. */
struct agent_managed_cert *agent_managed_find(const struct agent_managed *m,
					      const char *thumbprint);

/* Remembers that the agent put thumbprint into store (enum certstore_id), adding an entry when
 * there is none. Refuses more than AGENT_MANAGED_MAX entries. */
int agent_managed_add(struct agent_managed *m, const char *thumbprint, const char *subject,
		      int store, long long now, struct pp_error *err) PP_WARN_UNUSED;

/* Forgets the entry of thumbprint (no-op when there is none). */
void agent_managed_forget(struct agent_managed *m, const char *thumbprint);

/* Opens every log of struct agent_logs under <machine>/logs (creating the directory). On
 * failure all are closed and NULL. */
int agent_logs_open(const char *machine, struct agent_logs *logs,
		    struct pp_error *err) PP_WARN_UNUSED;

/* Closes the logs; safe on closed or zeroed logs. */
void agent_logs_close(struct agent_logs *logs);

/* Appends one record to log (NULL: nothing). A log that cannot be written does not stop the
 * caller, so nothing is returned. */
void agent_log(struct cmtrace_log *log, enum cmtrace_type type, const char *fmt, ...)
    PP_PRINTF(3, 4);

/* ---- shared by the agent's modules ---- */

/* <machine>/agent/<name> (name NULL: the directory itself) into out. */
int agent_state_path(const char *machine, const char *name, char *out, size_t size,
		     struct pp_error *err) PP_WARN_UNUSED;

/* Creates directory path with mode unless it exists; refuses a non-directory (or a link). */
int agent_state_make_dir(const char *path, mode_t mode, struct pp_error *err) PP_WARN_UNUSED;

/* Reads the JSON object in the regular file path (not following a link, at most max bytes).
 * No file: 0 with *doc NULL. A file that is not a JSON object is an error naming it, followed
 * by hint (what to do). The caller owns *doc. */
int agent_state_read_object(const char *path, size_t max, const char *hint, json_t **doc,
			    struct pp_error *err) PP_WARN_UNUSED;

/* Reads the regular file path (not following a link) into a NUL-terminated malloc'd *buf of
 * at most max bytes; no file: 0 with *buf NULL. The caller frees *buf. */
int agent_state_read_file(const char *path, size_t max, char **buf, size_t *len,
			  struct pp_error *err) PP_WARN_UNUSED;

/* Cuts the string s to at most max bytes without splitting a UTF-8 sequence. */
void agent_text_cut(char *s, size_t max);

/* snprintf into out that never ends in a cut UTF-8 sequence when the text does not fit. */
void agent_text_format(char *out, size_t size, const char *fmt, ...) PP_PRINTF(3, 4);

/* Writes doc to path whole and durably (atomicfile.h) as indented JSON, with mode. */
int agent_state_write_object(const char *path, const json_t *doc, mode_t mode,
			     struct pp_error *err) PP_WARN_UNUSED;

/* len bytes from getrandom(2). */
int agent_state_random(void *buf, size_t len, struct pp_error *err) PP_WARN_UNUSED;

/* A new random (version 4) UUID in lower case. */
int agent_state_uuid(char out[AGENT_UUID_LEN + 1], struct pp_error *err) PP_WARN_UNUSED;

/* Reads agent.json into id; a machine that is not registered is an error that says how to
 * register. Wipe id with agent_identity_wipe. */
int agent_state_require_identity(const char *machine, struct agent_identity *id,
				 struct pp_error *err) PP_WARN_UNUSED;

/* Takes <machine>/agent/cycle.lock (flock, exclusive), waiting for another agent's cycle to
 * end; *fd is the lock (close-on-exec, so an installer never inherits it). */
int agent_state_lock(const char *machine, int *fd, struct pp_error *err) PP_WARN_UNUSED;

/* Releases a lock from agent_state_lock; -1 is a no-op. */
void agent_state_unlock(int fd);

#endif
