/* testcerts.c - certificates, keys and signed cabinets for the unit tests. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "authenticode.h"
#include "testcerts.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>

void tc_self_signed(const char *dir, const char *name, const char *cn, int days, const char *addext)
{
	assert_int_equal(tu_run("cd '%s' && openssl req -x509 -newkey rsa:2048 -nodes "
				"-keyout '%s.key' -out '%s.pem' -days %d -subj '/CN=%s' %s "
				">/dev/null 2>&1",
				dir, name, name, days, cn, addext),
			 0);
}

void tc_issue(const char *dir, const char *name, const char *cn, const char *issuer,
	      const char *ext)
{
	char file[64], *p;

	assert_true(snprintf(file, sizeof(file), "%s.ext", name) < (int)sizeof(file));
	p = tu_path(dir, file);
	tu_write_file(p, ext, strlen(ext));
	free(p);
	assert_int_equal(tu_run("cd '%s' && openssl req -newkey rsa:2048 -nodes -keyout '%s.key' "
				"-out '%s.csr' -subj '/CN=%s' >/dev/null 2>&1 && "
				"openssl x509 -req -in '%s.csr' -CA '%s.pem' -CAkey '%s.key' "
				"-CAcreateserial -days 365 -out '%s.pem' -extfile '%s.ext' "
				">/dev/null 2>&1",
				dir, name, name, cn, name, issuer, issuer, name, name),
			 0);
}

X509 *tc_load_cert(const char *path)
{
	FILE *fp = fopen(path, "r");
	X509 *x;

	assert_non_null(fp);
	x = PEM_read_X509(fp, NULL, NULL, NULL);
	fclose(fp);
	assert_non_null(x);
	return x;
}

EVP_PKEY *tc_load_key(const char *path)
{
	FILE *fp = fopen(path, "r");
	EVP_PKEY *k;

	assert_non_null(fp);
	k = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
	fclose(fp);
	assert_non_null(k);
	return k;
}

void tc_sign_cab(const char *in, const char *out, X509 *cert, STACK_OF(X509) * chain, EVP_PKEY *key)
{
	struct authenticode_signer s;
	struct pp_error err;

	authenticode_signer_init_key(&s, cert, chain, key);
	pp_error_clear(&err);
	if (authenticode_sign_cab(in, out, &s, &err) != 0)
		fail_msg("sign %s: 0x%08X %s", in, err.code, err.message);
}
