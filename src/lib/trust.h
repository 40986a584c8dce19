/* trust.h - the WinVerifyTrust-like decision for signed content (DESIGN 5.7): given a signed
 * cabinet and a machine's certificate stores and policy values, the HRESULT a Windows client
 * would report. The first failing check in the DESIGN's order wins. */
#ifndef PATCHPOINT_TRUST_H
#define PATCHPOINT_TRUST_H

#include "authenticode.h"
#include "error.h"

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

enum trust_policy {
	TRUST_POLICY_WSUS = 0,	   /* Root chain + TrustedPublisher + AcceptTrustedPublisherCerts */
	TRUST_POLICY_AUTHENTICODE, /* chain to a root in Root only */
};

struct trust_request {
	const char *machine; /* machine directory (certstore.h, machinepolicy.h) */
	enum trust_policy policy;
	time_t now;			/* 0 = time(NULL) */
	const uint8_t *expected_sha1;	/* digest from the update metadata (20 bytes); optional */
	const uint8_t *expected_sha256; /* optional (32 bytes) */
};

struct trust_result {
	uint32_t hr;	  /* S_OK or the failing HRESULT */
	char detail[512]; /* what failed, on which certificate or store, in plain words */
	char signer_subject[256];
	char signer_thumbprint[41];
};

/* Evaluates the cabinet at path. Returns res->hr. I/O and format failures come back as their
 * HRESULT (TRUST_E_NOSIGNATURE, ERROR_INVALID_DATA, ERROR_FILE_NOT_FOUND...) with the detail. */
uint32_t trust_evaluate_cab(const char *path, const struct trust_request *req,
			    struct trust_result *res);

/* The decision on an already-read signature (the part after authenticode_read_cab). */
uint32_t trust_evaluate_info(const struct authenticode_info *info, const struct trust_request *req,
			     struct trust_result *res);

/* The decision on a certificate alone, as if it had signed content now without a timestamp:
 * chain (extra may supply intermediates; may be NULL), Disallowed, Root, then for
 * TRUST_POLICY_WSUS the policy value and TrustedPublisher, usage and validity. This is "Validate
 * trust chain" of the publisher's Show certificate. */
uint32_t trust_evaluate_cert(X509 *cert, STACK_OF(X509) * extra, const struct trust_request *req,
			     struct trust_result *res);

/* The trust policy names accepted by the CLI ("wsus", "authenticode"). */
int trust_parse_policy(const char *name, enum trust_policy *out, struct pp_error *err);

#endif
