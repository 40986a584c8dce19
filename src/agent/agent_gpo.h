/* agent_gpo.h - group policy on the device (DESIGN 5.8, docs/internals/gpo.md): what
 * `patchpoint-agent gpupdate` and the daemon's background refresh do.
 *
 * The site lists the GPOs linked to the device's collections in the order the device applies
 * them (GET /api/v1/device/gpos) and serves each one's Machine/Registry.pol
 * (GET /api/v1/device/gpos/{id}). The agent reads the Registry.pol with src/lib/regpol and
 * applies what it understands:
 *   Software\Policies\Microsoft\SystemCertificates\<Store>\Certificates\<SHA1> "Blob"
 *       the certificate into the group-policy (POLICY) layer of Root, CA, TrustedPublisher or
 *       Disallowed; a Blob whose hash is not its key name is refused and reported;
 *   Software\Policies\Microsoft\Windows\WindowsUpdate "AcceptTrustedPublisherCerts" REG_DWORD
 *       the machine policy value, with source "gpo:<GPO name>"; of two GPOs that set it, the
 *       one applied last wins;
 * and ignores anything else with a warning. It records in <machine>/agent/gpo-state.json
 * what each GPO held and what it put on the machine itself, so that a GPO that no longer
 * applies (unlinked, deleted) or no longer holds something takes away exactly that: not what
 * another GPO that still applies holds, not a certificate that was there before (the local
 * layer is never touched), not a value another source has set since.
 *
 * Without force a GPO whose version is the recorded one is skipped (not fetched, not applied
 * again); with force every GPO is fetched and applied again. Logs go to gpupdate.log. */
#ifndef PATCHPOINT_AGENT_GPO_H
#define PATCHPOINT_AGENT_GPO_H

#include "agent_state.h"
#include "certstore.h"
#include "error.h"
#include "pki.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/x509.h>

#define AGENT_GPO_PATH		"/api/v1/device/gpos"
#define AGENT_GPO_STATE_FILE	"gpo-state.json"
#define AGENT_GPO_SOURCE_PREFIX "gpo:"
#define AGENT_GPO_ID_LEN	38   /* "{6AC1786C-016F-11D2-945F-00C04FB984F9}" */
#define AGENT_GPO_NAME_MAX	255  /* bytes of a GPO's name */
#define AGENT_GPO_MAX		256  /* GPOs that apply to one device */
#define AGENT_GPO_CERTS_MAX	1024 /* certificates one GPO deploys */
#define AGENT_GPO_MESSAGE_MAX	512

/* A certificate one GPO deploys into one policy store. */
struct agent_gpo_cert {
	enum certstore_id store;
	char thumbprint[PKI_THUMBPRINT_LEN + 1]; /* upper-case hex */
	char subject[AGENT_SUBJECT_MAX + 1];
	X509 *cert; /* owned; NULL for what was only recorded */
};

/* What the agent applies of one GPO's Registry.pol. */
struct agent_gpo_contents {
	struct agent_gpo_cert *certs; /* owned, ncerts entries, no (store, thumbprint) twice */
	size_t ncerts;
	bool has_atpc;			     /* AcceptTrustedPublisherCerts is set */
	uint32_t atpc;			     /* its value */
	size_t ignored;			     /* entries not understood: a warning each */
	size_t refused;			     /* entries refused (a forged Blob): an error each */
	char refusal[AGENT_GPO_MESSAGE_MAX]; /* the first refusal */
};

void agent_gpo_contents_free(struct agent_gpo_contents *c);

/* Reads a Registry.pol image into out (agent_gpo_contents_free). Entries the agent does not
 * understand are counted in out->ignored and logged (type 2); certificate entries that are
 * wrong are counted in out->refused, logged (type 3) and the first one kept in out->refusal.
 * Only a file that does not parse at all (or more than AGENT_GPO_CERTS_MAX certificates) is an
 * error: then out holds nothing. gpo names the GPO in the log lines. */
int agent_gpo_parse_pol(const uint8_t *pol, size_t len, const char *gpo, struct cmtrace_log *log,
			struct agent_gpo_contents *out, struct pp_error *err) PP_WARN_UNUSED;

/* One GPO that applies to the device. */
struct agent_gpo {
	char id[AGENT_GPO_ID_LEN + 1]; /* upper case */
	char name[AGENT_GPO_NAME_MAX + 1];
	uint32_t version; /* GPT.INI version: user << 16 | machine */
	long long order;  /* place in the application order, 1 first */
	char collection[AGENT_GPO_NAME_MAX + 1];
	long long link_order;
	bool fetched; /* contents hold what the server sent now; else the recorded ones apply */
	struct agent_gpo_contents contents;
};

/* Frees the contents of n GPOs and the array. */
void agent_gpo_list_free(struct agent_gpo *gpos, size_t n);

/* Validates the site's answer to GET /api/v1/device/gpos into *out (n entries, application
 * order; agent_gpo_list_free). NULL-free: an empty list is 0 entries. HR_ERROR_INVALID_DATA
 * naming the bad field otherwise. */
int agent_gpo_parse_list(const json_t *doc, struct agent_gpo **out, size_t *n,
			 struct pp_error *err) PP_WARN_UNUSED;

/* What one gpupdate did. */
struct agent_gpo_outcome {
	bool list_unchanged; /* the site answered 304 for the list */
	size_t gpos;	     /* GPOs that apply */
	size_t applied;	     /* of them fetched and applied */
	size_t skipped;	     /* of them unchanged, skipped */
	size_t gone;	     /* recorded GPOs that no longer apply */
	size_t certs_added, certs_removed;
	bool value_set, value_cleared;
	size_t ignored, refused;
	char refusal[AGENT_GPO_MESSAGE_MAX + AGENT_GPO_NAME_MAX + 16]; /* "GPO "N": <first> */
};

/* Applies gpos (in application order; those not fetched must be recorded in gpo-state.json
 * from an earlier run) to machine as the top of this file says, logging to log, and records
 * the outcome in gpo-state.json with list_etag (NULL or "": none). What was added or removed
 * before a failure stays recorded, and the next run fetches every GPO again. */
int agent_gpo_apply(const char *machine, const struct agent_gpo *gpos, size_t n,
		    const char *list_etag, bool force, struct cmtrace_log *log,
		    struct agent_gpo_outcome *out, struct pp_error *err) PP_WARN_UNUSED;

/* One gpupdate of a registered machine: GET the list (If-None-Match: the recorded one's ETag,
 * unless force), GET the Registry.pol of every GPO that is new, changed or not complete (every
 * one with force), then agent_gpo_apply. Any failure to reach the site or to read what it sent
 * changes nothing on the machine. ca_bundle NULL: the one given at registration. Logs to
 * logs->gpupdate. */
int agent_gpo_update(const char *machine, const char *ca_bundle, bool force,
		     struct agent_logs *logs, struct agent_gpo_outcome *out,
		     struct pp_error *err) PP_WARN_UNUSED;

#endif
