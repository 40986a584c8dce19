/* testcerts.h - certificates, keys and signed cabinets for the unit tests: made with the openssl
 * command line (so that they come from another implementation than ours), loaded from PEM, and
 * signed with authenticode_sign_cab. Every helper fails the running cmocka test on error. */
#ifndef PATCHPOINT_TESTCERTS_H
#define PATCHPOINT_TESTCERTS_H

#include <openssl/evp.h>
#include <openssl/x509.h>

/* -addext options of a CA certificate. */
#define TC_ADDEXT_CA                                                                               \
	"-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign"

/* Extension file lines of an intermediate CA and of a code signing certificate. */
#define TC_EXT_CA "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n"
#define TC_EXT_CODE_SIGNING                                                                        \
	"basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n"                          \
	"extendedKeyUsage=codeSigning\n"

/* Writes dir/name.key (RSA 2048, unencrypted) and dir/name.pem, self-signed for "CN=cn", valid
 * for days, with the openssl req options in addext (e.g. TC_ADDEXT_CA). */
void tc_self_signed(const char *dir, const char *name, const char *cn, int days,
		    const char *addext);

/* Writes dir/name.key and dir/name.pem for "CN=cn", issued for 365 days by dir/issuer.pem with
 * dir/issuer.key, with the extensions ext (lines of an openssl extension file). */
void tc_issue(const char *dir, const char *name, const char *cn, const char *issuer,
	      const char *ext);

/* The first certificate / private key of a PEM file; the caller frees it. */
X509 *tc_load_cert(const char *path);
EVP_PKEY *tc_load_key(const char *path);

/* Signs the cabinet in (into out; in place when out is NULL) with cert and key, chain being the
 * extra certificates to embed (may be NULL). */
void tc_sign_cab(const char *in, const char *out, X509 *cert, STACK_OF(X509) * chain,
		 EVP_PKEY *key);

#endif
