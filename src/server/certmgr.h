/* certmgr.h - the WSUS signing certificate of the hierarchy (DESIGN 5.1, 5.3): the certificate
 * step of every synchronization, the publisher's create / import / show / export, and the
 * "publisher status" checklist. It works on the signing store of the top-level site's
 * sync-source SUP, which is local (this server's signer) or remote (HTTPS only).
 *
 * Log lines (wsyncmgr.log for the sync step, Publisher.log for the publisher operations) are
 * implementation-defined, stable, and listed in docs/internals/certmgr.md. */
#ifndef PATCHPOINT_CERTMGR_H
#define PATCHPOINT_CERTMGR_H

#include "error.h"
#include "signstore.h"
#include "srvlog.h"
#include "store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

/* The exact warning of DESIGN 5.3 (no trailing period). */
#define CERTMGR_REMOTE_NOT_HTTPS                                                                   \
	"Remote WSUS connection is not HTTPS. This prevents software update point from getting "   \
	"the signing certificate for third-party updates"

struct certmgr {
	struct store *store;	      /* the calling thread's connection */
	struct signstore *local;      /* this server's signer; NULL when the sup role is off */
	const char *machine;	      /* this server's machine directory (Root, TrustedPublisher) */
	const char *remote_ca;	      /* CA bundle for remote SUPs' server certificates; NULL ok */
	const char *remote_token;     /* admin token of the remote SUP; NULL ok */
	struct srvlog *sync_log;      /* wsyncmgr.log; NULL = silent */
	struct srvlog *publisher_log; /* Publisher.log; NULL = silent */
	int managed_days;	      /* validity of generated managed certificates; 0 = 3 years */
	int managed_bits;	      /* 0 = 2048 */
	time_t now;		      /* 0 = time(NULL) at each call */
};

/* The top-level site's sync-source SUP and its signing store. */
struct certmgr_target {
	struct store_site top;
	struct store_sup sup;
	struct signstore *signstore; /* NULL when it cannot be reached (reason in the error) */
};

/* A row of Certificates for cert of this type (der borrowed: the row points at it). */
void certmgr_certificate_row(X509 *cert, uint8_t *der, size_t der_len,
			     enum store_certificate_type type, struct store_certificate *row);

/* Finds the top-level SUP and opens its signing store. A remote SUP at an http:// URL gets
 * HR_E_ACCESSDENIED with CERTMGR_REMOTE_NOT_HTTPS as the message; a local SUP without the sup
 * role running here gets HR_E_FAIL. Release with certmgr_target_release. */
int certmgr_target_open(const struct certmgr *cm, struct certmgr_target *t,
			struct pp_error *err) PP_WARN_UNUSED;
void certmgr_target_release(struct certmgr_target *t);

/* What the certificate step did, for the sync's record and the tests. */
enum certmgr_outcome {
	CERTMGR_SKIPPED_DISABLED = 0, /* third-party updates are off */
	CERTMGR_NOT_HTTPS,	      /* remote SUP over http: nothing retrieved */
	CERTMGR_NO_CERT_MANUAL,	      /* manual mode and no valid certificate: no action */
	CERTMGR_GENERATED,	      /* managed mode created one */
	CERTMGR_IMPORTED,	      /* a valid one was found (and is in Certificates) */
};

struct certmgr_step_result {
	enum certmgr_outcome outcome;
	char thumbprint[STORE_THUMBPRINT_LEN + 1]; /* the signing certificate, "" when none */
	bool inserted;				   /* newly added to Certificates */
};

/* The certificate step of a sync (the DESIGN 5.1 decision table), logged in wsyncmgr.log.
 * Returns -1 only when the step failed (store unreachable, generation failed...); warnings such
 * as CERTMGR_NOT_HTTPS and CERTMGR_NO_CERT_MANUAL return 0. */
int certmgr_sync_step(const struct certmgr *cm, struct certmgr_step_result *out,
		      struct pp_error *err) PP_WARN_UNUSED;

struct certmgr_create_options {
	const char *subject; /* NULL = PKI_DEFAULT_SUBJECT_PUBLISHER */
	int years;	     /* 0 = 5 */
	int bits;	     /* 0 = 2048 */
	bool exportable;
	bool force; /* replace a valid certificate */
};

/* Publisher-created self-signed certificate: refused with ERROR_ALREADY_EXISTS (naming the
 * current one) when a valid certificate is registered and force is false. Registration replaces
 * the previous certificate in the signing store (it stays in Certificates) and adds the new one
 * to Root and TrustedPublisher of this server. *out gets the "show" fields. */
int certmgr_publisher_create(const struct certmgr *cm, const struct certmgr_create_options *opts,
			     json_t **out, struct pp_error *err) PP_WARN_UNUSED;

struct certmgr_import_options {
	const uint8_t *pfx;
	size_t pfx_len;
	const char *password;
	bool exportable;
	bool keep_existing; /* keep the other certificates in the signing store */
	bool force;
};

/* Imports a PFX into the signing store. A PFX that fails the requirements (or the password)
 * gets CERTMGR_E_IMPORT with the reason as the message, logged in Publisher.log as
 * "Certificate Import Failed: <reason>". */
#define CERTMGR_E_IMPORT HR_CRYPT_E_NO_MATCH
int certmgr_publisher_import(const struct certmgr *cm, const struct certmgr_import_options *opts,
			     json_t **out, struct pp_error *err) PP_WARN_UNUSED;

/* The "show certificate" fields (docs/api.md "show") of the signing certificate: the one that
 * signs (longest remaining validity), else the newest unusable one. CRYPT_E_NOT_FOUND with
 * "No certificate found in the signing store of the software update point" when empty. */
int certmgr_publisher_show(const struct certmgr *cm, json_t **out,
			   struct pp_error *err) PP_WARN_UNUSED;

/* The DER of that certificate (public only); *der is malloc'd. */
int certmgr_publisher_cer(const struct certmgr *cm, uint8_t **der, size_t *der_len,
			  struct pp_error *err) PP_WARN_UNUSED;

/* The checklist of `patchpoint publisher status`: {"ready":bool,"items":[{"name","ok",
 * "detail"}...]} up to and including the first failing item. */
int certmgr_publisher_status(const struct certmgr *cm, json_t **out,
			     struct pp_error *err) PP_WARN_UNUSED;

#endif
