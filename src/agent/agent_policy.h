/* agent_policy.h - Machine Policy Retrieval & Evaluation (DESIGN 5.7): fetch the resultant
 * machine policy from the site (docs/internals/device-protocol.md "Machine policy") and apply
 * what it says about third-party software updates to the machine:
 *
 *   enabled:  AcceptTrustedPublisherCerts = 1 with source "client-settings:<source>", and each
 *             certificate into each of its stores (local layer), remembered as managed;
 *   disabled: certificates stay; AcceptTrustedPublisherCerts is cleared only when a client
 *             setting had set it;
 *   always:   each remove_certificates entry the agent installed itself is removed from the
 *             stores it put it in.
 *
 * A document is validated whole before anything changes; applying the same document twice
 * changes nothing the second time. */
#ifndef PATCHPOINT_AGENT_POLICY_H
#define PATCHPOINT_AGENT_POLICY_H

#include "agent_state.h"
#include "certstore.h"
#include "error.h"
#include "pki.h"

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>
#include <openssl/x509.h>

#define AGENT_POLICY_MAX_CERTS	     64
#define AGENT_POLICY_MAX_REMOVALS    256
#define AGENT_POLICY_MAX_DEPLOYMENTS 100000
#define AGENT_POLICY_MAX_DER	     (64 * 1024) /* bytes of one certificate */
#define AGENT_SETTING_NAME_MAX	     255	 /* a client setting's name, bytes */
#define AGENT_POLICY_SOURCE_PREFIX   "client-settings:"
#define AGENT_POLICY_PATH	     "/api/v1/device/policy"

/* One certificate of "certificates", decoded and checked. */
struct agent_policy_cert {
	char thumbprint[PKI_THUMBPRINT_LEN + 1]; /* upper-case hex, matches cert */
	char subject[AGENT_SUBJECT_MAX + 1];	 /* as the site wrote it */
	X509 *cert;				 /* owned */
	enum certstore_id stores[2];		 /* Root and/or TrustedPublisher, in order */
	size_t nstores;
};

/* One entry of "remove_certificates". */
struct agent_policy_removal {
	char thumbprint[PKI_THUMBPRINT_LEN + 1];
	char reason[8]; /* "blocked" or "expired" */
};

/* What the agent uses of a machine policy document. */
struct agent_policy_doc {
	char version[AGENT_POLICY_VERSION_MAX + 1];
	char client_version[AGENT_CLIENT_VERSION_MAX + 1]; /* device.client_version */
	bool enabled;					   /* third_party.enabled */
	char source[AGENT_SETTING_NAME_MAX + 1];	   /* third_party.source */
	char minimum_client_version[AGENT_CLIENT_VERSION_MAX + 1];
	bool client_version_ok;
	struct agent_policy_cert *certs; /* owned, ncerts entries */
	size_t ncerts;
	struct agent_policy_removal *removals; /* owned */
	size_t nremovals;
	size_t ndeployments;
};

/* Validates a whole machine policy document. NULL with HR_ERROR_INVALID_DATA and a message
 * naming the bad field ("certificates[0].der is not base64") when any part is wrong. The caller
 * frees the result with agent_policy_doc_free. */
struct agent_policy_doc *agent_policy_parse(const json_t *policy,
					    struct pp_error *err) PP_WARN_UNUSED;

/* NULL is a no-op. */
void agent_policy_doc_free(struct agent_policy_doc *doc);

/* Applies policy to machine (see the top of this file), logging to logs->deployment
 * (UpdatesDeployment.log; logs or its members may be NULL). A malformed document changes
 * nothing. On a failure part way (a store that cannot be written), what was done stays done and
 * is remembered in managed-certs.json. */
int agent_policy_apply(const char *machine, const json_t *policy, struct agent_logs *logs,
		       struct pp_error *err) PP_WARN_UNUSED;

/* Four dot-separated decimal parts of at most 9 digits each, as "5.00.8692.1003". */
bool agent_client_version_valid(const char *v);

/* What one machine policy cycle did, for the command line. */
struct agent_policy_outcome {
	bool unchanged; /* the server answered 304 and the stored policy was applied again */
	char version[AGENT_POLICY_VERSION_MAX + 1];
	size_t deployments;
	bool enabled;
	char source[AGENT_SETTING_NAME_MAX + 1];
};

/* One Machine Policy Retrieval & Evaluation cycle of a registered machine: GET the policy with
 * the device credential (If-None-Match: the stored version); on 200 validate, store and apply
 * it; on 304 apply the stored one again (so that a certificate removed by hand comes back).
 * ca_bundle NULL means the one given at registration. Logs to PolicyAgent.log and
 * UpdatesDeployment.log through logs. */
int agent_policy_cycle(const char *machine, const char *ca_bundle, struct agent_logs *logs,
		       struct agent_policy_outcome *out, struct pp_error *err) PP_WARN_UNUSED;

#endif
