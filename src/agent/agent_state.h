/* agent_state.h - what patchpoint-agent keeps in the machine directory (docs/internals/agent.md):
 *
 *     <machine>/agent/                 0700
 *         machine-id                   32 lower-case hex digits and a newline, made once
 *         agent.json                   0600: server, device id, credential, ... (registration)
 *         policy.json                  the last machine policy document received, its version
 *         managed-certs.json           certificates the agent installed from policy, per store
 *     <machine>/logs/PolicyAgent.log, UpdatesDeployment.log   (CMTrace)
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

/* The two CMTrace logs the machine policy cycle writes. Either may be NULL (not logging). */
struct agent_logs {
	struct cmtrace_log *policy;	/* PolicyAgent.log */
	struct cmtrace_log *deployment; /* UpdatesDeployment.log */
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

/* Opens <machine>/logs/PolicyAgent.log and UpdatesDeployment.log (creating the directory).
 * On failure both are closed and NULL. */
int agent_logs_open(const char *machine, struct agent_logs *logs,
		    struct pp_error *err) PP_WARN_UNUSED;

/* Closes both logs; safe on closed or zeroed logs. */
void agent_logs_close(struct agent_logs *logs);

#endif
