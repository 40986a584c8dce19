/* test_certstore.c - directory certificate stores: names, add/remove, loading, the logical
 * (local + policy) store, certutil-style CertId matching, and robustness against junk files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "certstore.h"
#include "hresult.h"
#include "pki.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NCERTS 3

struct fixture {
	char *dir;
	X509 *cert[NCERTS]; /* subjects CN=Alpha, CN=Bravo, CN=Charlie */
	char thumb[NCERTS][PKI_THUMBPRINT_LEN + 1];
};

static int setup(void **state)
{
	static const char *const subjects[NCERTS] = {"CN=Alpha, O=Test", "CN=Bravo", "CN=Charlie"};
	struct fixture *f = calloc(1, sizeof(*f));
	struct pki_new_options o = {.days = 30, .exportable = true};
	struct pki_credential *c;
	struct pp_error err;
	int i;

	if (f == NULL)
		return -1;
	f->dir = tu_tmpdir();
	for (i = 0; i < NCERTS; i++) {
		pp_error_clear(&err);
		o.subject = subjects[i];
		c = pki_credential_generate(&o, &err);
		if (c == NULL)
			return -1;
		f->cert[i] = c->cert;
		c->cert = NULL;
		pki_credential_free(c);
		if (pki_thumbprint(f->cert[i], f->thumb[i]) != 0)
			return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	int i;

	for (i = 0; i < NCERTS; i++)
		X509_free(f->cert[i]);
	tu_rmrf(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

/* A fresh machine directory per test. */
static char *machine(struct fixture *f, const char *name)
{
	return tu_fresh_path(f->dir, name);
}

static char *store_file(const char *m, const char *layer_dir, const char *store, const char *thumb)
{
	char *p;

	if (asprintf(&p, "%s/%scertstores/%s/%s.cer", m, layer_dir, store, thumb) < 0)
		abort();
	return p;
}

static void add_ok(const char *m, enum certstore_id id, enum certstore_layer layer, X509 *x,
		   bool force, bool expect_already)
{
	struct pp_error err;
	bool already = !expect_already;

	pp_error_clear(&err);
	if (certstore_add(m, id, layer, x, force, &already, &err) != 0)
		fail_msg("certstore_add: %s", err.message);
	assert_int_equal(already, expect_already);
}

static void test_names(void **state)
{
	static const char *const names[] = {"My", "Root", "CA", "TrustedPublisher", "Disallowed"};
	static const char *const display[] = {"Personal", "Trusted Root Certification Authorities",
					      "Intermediate Certification Authorities",
					      "Trusted Publishers", "Untrusted Certificates"};
	enum certstore_id id;
	struct pp_error err;
	int i;

	(void)state;
	for (i = 0; i < CERTSTORE_COUNT; i++) {
		assert_string_equal(certstore_name((enum certstore_id)i), names[i]);
		assert_string_equal(certstore_display_name((enum certstore_id)i), display[i]);
		pp_error_clear(&err);
		assert_int_equal(certstore_parse_name(names[i], &id, &err), 0);
		assert_int_equal(id, i);
	}
	assert_int_equal(certstore_parse_name("root", &id, &err), 0);
	assert_int_equal(id, CERTSTORE_ROOT);
	assert_int_equal(certstore_parse_name("TRUSTEDPUBLISHER", &id, &err), 0);
	assert_int_equal(id, CERTSTORE_TRUSTED_PUBLISHER);
	assert_int_equal(certstore_parse_name("ca", &id, &err), 0);
	assert_int_equal(id, CERTSTORE_CA);

	pp_error_clear(&err);
	assert_int_equal(certstore_parse_name("WSUS", &id, &err), -1);
	assert_int_equal(err.code, HR_CRYPT_E_NOT_FOUND);
	assert_non_null(strstr(err.message, "WSUS"));
	for (i = 0; i < CERTSTORE_COUNT; i++)
		assert_non_null(strstr(err.message, names[i]));
	pp_error_clear(&err);
	assert_int_equal(certstore_parse_name("", &id, &err), -1);
	assert_int_equal(err.code, HR_CRYPT_E_NOT_FOUND);
}

static void test_add_already_force(void **state)
{
	struct fixture *f = *state;
	char *m = machine(f, "add");
	char *file = store_file(m, "", "Root", f->thumb[0]);
	char *dir;
	struct stat st1, st2;
	struct pp_error err;
	X509 *x;

	assert_false(certstore_contains(m, CERTSTORE_ROOT, CERTSTORE_LOGICAL, f->cert[0]));
	add_ok(m, CERTSTORE_ROOT, CERTSTORE_LOCAL, f->cert[0], false, false);
	assert_int_equal(stat(file, &st1), 0);
	assert_int_equal(st1.st_mode & 07777, 0644);
	dir = tu_path(m, "certstores/Root");
	assert_int_equal(stat(dir, &st2), 0);
	assert_int_equal(st2.st_mode & 07777, 0755);
	assert_int_equal(tu_count_entries(dir), 1); /* no temporary file left */
	free(dir);
	/* The file is DER and holds the certificate. */
	pp_error_clear(&err);
	x = pki_cert_load(file, &err);
	assert_non_null(x);
	assert_int_equal(X509_cmp(x, f->cert[0]), 0);
	X509_free(x);
	assert_true(certstore_contains(m, CERTSTORE_ROOT, CERTSTORE_LOCAL, f->cert[0]));
	assert_true(certstore_contains(m, CERTSTORE_ROOT, CERTSTORE_LOGICAL, f->cert[0]));
	assert_false(certstore_contains(m, CERTSTORE_ROOT, CERTSTORE_POLICY, f->cert[0]));
	assert_false(
	    certstore_contains(m, CERTSTORE_TRUSTED_PUBLISHER, CERTSTORE_LOGICAL, f->cert[0]));

	/* Again without force: left alone (same inode). */
	add_ok(m, CERTSTORE_ROOT, CERTSTORE_LOCAL, f->cert[0], false, true);
	assert_int_equal(stat(file, &st2), 0);
	assert_int_equal(st1.st_ino, st2.st_ino);
	/* With force: rewritten through a new file. */
	add_ok(m, CERTSTORE_ROOT, CERTSTORE_LOCAL, f->cert[0], true, true);
	assert_int_equal(stat(file, &st2), 0);
	assert_int_not_equal(st1.st_ino, st2.st_ino);
	assert_int_equal(st2.st_mode & 07777, 0644);

	/* The logical store is for reading only. */
	pp_error_clear(&err);
	assert_int_equal(
	    certstore_add(m, CERTSTORE_ROOT, CERTSTORE_LOGICAL, f->cert[1], false, NULL, &err), -1);
	assert_int_equal(err.code, HR_E_INVALIDARG);
	free(file);
	free(m);
}

static void test_remove(void **state)
{
	struct fixture *f = *state;
	char *m = machine(f, "remove");
	char lower[PKI_THUMBPRINT_LEN + 1];
	struct pp_error err;
	bool removed = false;
	int i;

	add_ok(m, CERTSTORE_TRUSTED_PUBLISHER, CERTSTORE_LOCAL, f->cert[0], false, false);
	add_ok(m, CERTSTORE_TRUSTED_PUBLISHER, CERTSTORE_POLICY, f->cert[0], false, false);
	for (i = 0; i < PKI_THUMBPRINT_LEN + 1; i++)
		lower[i] = (char)(f->thumb[0][i] >= 'A' ? f->thumb[0][i] + 32 : f->thumb[0][i]);

	pp_error_clear(&err);
	assert_int_equal(certstore_remove(m, CERTSTORE_TRUSTED_PUBLISHER, CERTSTORE_LOCAL, lower,
					  &removed, &err),
			 0);
	assert_true(removed);
	assert_false(
	    certstore_contains(m, CERTSTORE_TRUSTED_PUBLISHER, CERTSTORE_LOCAL, f->cert[0]));
	/* Still in the policy layer, so still in the logical store. */
	assert_true(
	    certstore_contains(m, CERTSTORE_TRUSTED_PUBLISHER, CERTSTORE_LOGICAL, f->cert[0]));
	assert_int_equal(certstore_remove(m, CERTSTORE_TRUSTED_PUBLISHER, CERTSTORE_LOCAL,
					  f->thumb[0], &removed, &err),
			 0);
	assert_false(removed);
	assert_int_equal(certstore_remove(m, CERTSTORE_TRUSTED_PUBLISHER, CERTSTORE_POLICY,
					  f->thumb[0], &removed, &err),
			 0);
	assert_true(removed);
	assert_false(
	    certstore_contains(m, CERTSTORE_TRUSTED_PUBLISHER, CERTSTORE_LOGICAL, f->cert[0]));
	/* Removing from a store that was never created is not an error. */
	assert_int_equal(
	    certstore_remove(m, CERTSTORE_DISALLOWED, CERTSTORE_LOCAL, f->thumb[1], &removed, &err),
	    0);
	assert_false(removed);
	assert_int_equal(err.code, 0);

	assert_int_equal(certstore_remove(m, CERTSTORE_ROOT, CERTSTORE_LOCAL, "../../etc/passwd",
					  &removed, &err),
			 -1);
	assert_int_equal(err.code, HR_E_INVALIDARG);
	pp_error_clear(&err);
	assert_int_equal(
	    certstore_remove(m, CERTSTORE_ROOT, CERTSTORE_LOGICAL, f->thumb[0], &removed, &err),
	    -1);
	assert_int_equal(err.code, HR_E_INVALIDARG);
	free(m);
}

static void assert_sorted_unique(STACK_OF(X509) * sk)
{
	char prev[PKI_THUMBPRINT_LEN + 1] = "", cur[PKI_THUMBPRINT_LEN + 1];
	int i;

	for (i = 0; i < sk_X509_num(sk); i++) {
		assert_int_equal(pki_thumbprint(sk_X509_value(sk, i), cur), 0);
		assert_true(strcmp(prev, cur) < 0);
		memcpy(prev, cur, sizeof(cur));
	}
}

static int count_in(const char *m, enum certstore_id id, enum certstore_layer layer)
{
	struct pp_error err;
	STACK_OF(X509) * sk;
	int n;

	pp_error_clear(&err);
	sk = certstore_load(m, id, layer, &err);
	assert_non_null(sk);
	assert_int_equal(err.code, 0);
	assert_sorted_unique(sk);
	n = sk_X509_num(sk);
	sk_X509_pop_free(sk, X509_free);
	return n;
}

static void test_load_sorted_and_logical_union(void **state)
{
	struct fixture *f = *state;
	char *m = machine(f, "logical");
	int i;

	/* Empty: no directory at all. */
	assert_int_equal(count_in(m, CERTSTORE_ROOT, CERTSTORE_LOGICAL), 0);

	/* 0 local only, 1 policy only, 2 in both. */
	add_ok(m, CERTSTORE_ROOT, CERTSTORE_LOCAL, f->cert[0], false, false);
	add_ok(m, CERTSTORE_ROOT, CERTSTORE_POLICY, f->cert[1], false, false);
	add_ok(m, CERTSTORE_ROOT, CERTSTORE_LOCAL, f->cert[2], false, false);
	add_ok(m, CERTSTORE_ROOT, CERTSTORE_POLICY, f->cert[2], false, false);
	assert_int_equal(count_in(m, CERTSTORE_ROOT, CERTSTORE_LOCAL), 2);
	assert_int_equal(count_in(m, CERTSTORE_ROOT, CERTSTORE_POLICY), 2);
	assert_int_equal(count_in(m, CERTSTORE_ROOT, CERTSTORE_LOGICAL), 3);
	assert_int_equal(count_in(m, CERTSTORE_CA, CERTSTORE_LOGICAL), 0);
	for (i = 0; i < NCERTS; i++)
		assert_true(certstore_contains(m, CERTSTORE_ROOT, CERTSTORE_LOGICAL, f->cert[i]));
	assert_false(certstore_contains(m, CERTSTORE_ROOT, CERTSTORE_LOCAL, f->cert[1]));
	assert_false(certstore_contains(m, CERTSTORE_ROOT, CERTSTORE_POLICY, f->cert[0]));
	free(m);
}

static int find_count(const char *m, const char *certid, X509 *expect)
{
	struct pp_error err;
	STACK_OF(X509) * sk;
	int n;

	pp_error_clear(&err);
	sk = certstore_find(m, CERTSTORE_TRUSTED_PUBLISHER, CERTSTORE_LOGICAL, certid, &err);
	if (sk == NULL)
		fail_msg("certstore_find \"%s\": %s", certid, err.message);
	n = sk_X509_num(sk);
	if (expect != NULL) {
		assert_int_equal(n, 1);
		assert_int_equal(X509_cmp(sk_X509_value(sk, 0), expect), 0);
	}
	sk_X509_pop_free(sk, X509_free);
	return n;
}

static void test_find(void **state)
{
	struct fixture *f = *state;
	char *m = machine(f, "find");
	char id[160], serial[80], index_order[NCERTS][PKI_THUMBPRINT_LEN + 1];
	struct pki_show show;
	struct pp_error err;
	STACK_OF(X509) * sk;
	int i, j, k;

	add_ok(m, CERTSTORE_TRUSTED_PUBLISHER, CERTSTORE_LOCAL, f->cert[0], false, false);
	add_ok(m, CERTSTORE_TRUSTED_PUBLISHER, CERTSTORE_POLICY, f->cert[1], false, false);
	add_ok(m, CERTSTORE_TRUSTED_PUBLISHER, CERTSTORE_LOCAL, f->cert[2], false, false);

	/* Thumbprint: upper, lower, spaced pairs, colons. */
	find_count(m, f->thumb[1], f->cert[1]);
	for (i = 0; i <= PKI_THUMBPRINT_LEN; i++)
		id[i] = (char)(f->thumb[1][i] >= 'A' ? f->thumb[1][i] + 32 : f->thumb[1][i]);
	find_count(m, id, f->cert[1]);
	for (i = 0, j = 0; i < PKI_THUMBPRINT_LEN; i++) {
		id[j++] = f->thumb[1][i];
		if (i % 2 == 1 && i + 1 < PKI_THUMBPRINT_LEN)
			id[j++] = ' ';
	}
	id[j] = '\0';
	find_count(m, id, f->cert[1]);
	for (i = 0; id[i] != '\0'; i++)
		if (id[i] == ' ')
			id[i] = ':';
	find_count(m, id, f->cert[1]);

	/* Subject CN, any case. */
	find_count(m, "charlie", f->cert[2]);
	find_count(m, "ALPHA", f->cert[0]);
	assert_int_equal(find_count(m, "Alph", NULL), 0);

	/* Serial in hex, as certutil prints it, or upper case with colons. */
	pp_error_clear(&err);
	assert_int_equal(pki_show_fields(f->cert[2], &show, &err), 0);
	find_count(m, show.serial, f->cert[2]);
	for (i = 0, j = 0; show.serial[i] != '\0'; i++) {
		serial[j++] = (char)(show.serial[i] >= 'a' ? show.serial[i] - 32 : show.serial[i]);
		if (i % 2 == 1 && show.serial[i + 1] != '\0')
			serial[j++] = ':';
	}
	serial[j] = '\0';
	find_count(m, serial, f->cert[2]);

	/* Index: position in the sorted logical store. */
	for (i = 0; i < NCERTS; i++)
		memcpy(index_order[i], f->thumb[i], sizeof(index_order[i]));
	for (i = 0; i < NCERTS; i++)
		for (k = i + 1; k < NCERTS; k++)
			if (strcmp(index_order[k], index_order[i]) < 0) {
				memcpy(id, index_order[i], sizeof(index_order[i]));
				memcpy(index_order[i], index_order[k], sizeof(index_order[i]));
				memcpy(index_order[k], id, sizeof(index_order[i]));
			}
	for (i = 0; i < NCERTS; i++) {
		char thumb[PKI_THUMBPRINT_LEN + 1];

		snprintf(id, sizeof(id), "%d", i);
		pp_error_clear(&err);
		sk = certstore_find(m, CERTSTORE_TRUSTED_PUBLISHER, CERTSTORE_LOGICAL, id, &err);
		assert_non_null(sk);
		assert_true(sk_X509_num(sk) >= 1);
		/* "0".."2" may also be a serial; the indexed certificate is always among them. */
		for (j = 0, k = 0; j < sk_X509_num(sk); j++) {
			assert_int_equal(pki_thumbprint(sk_X509_value(sk, j), thumb), 0);
			if (strcmp(thumb, index_order[i]) == 0)
				k = 1;
		}
		assert_int_equal(k, 1);
		sk_X509_pop_free(sk, X509_free);
	}
	assert_int_equal(find_count(m, "7", NULL), 0);

	/* No match: an empty list, not a failure. */
	assert_int_equal(find_count(m, "Nobody", NULL), 0);
	assert_int_equal(find_count(m, "00112233445566778899AABBCCDDEEFF00112233", NULL), 0);
	pp_error_clear(&err);
	assert_null(certstore_find(m, CERTSTORE_TRUSTED_PUBLISHER, CERTSTORE_LOGICAL, "", &err));
	assert_int_equal(err.code, HR_E_INVALIDARG);
	free(m);
}

static void test_junk_files_skipped(void **state)
{
	struct fixture *f = *state;
	char *m = machine(f, "junk");
	char *dir, *p;
	uint8_t *big;
	struct pp_error err;
	STACK_OF(X509) * sk;

	add_ok(m, CERTSTORE_CA, CERTSTORE_LOCAL, f->cert[0], false, false);
	dir = tu_path(m, "certstores/CA");

	/* A file with a wrong name, garbage under a good name, a file too large, a directory,
	 * a certificate under another certificate's name. */
	p = tu_path(dir, "readme.txt");
	tu_write_file(p, "hello", 5);
	free(p);
	p = tu_path(dir, "00112233445566778899AABBCCDDEEFF00112233.cer");
	tu_write_file(p, "\x30\x82garbage", 9);
	free(p);
	big = calloc(1, 1024 * 1024 + 10);
	assert_non_null(big);
	p = tu_path(dir, "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF.cer");
	tu_write_file(p, big, 1024 * 1024 + 10);
	free(p);
	free(big);
	p = tu_path(dir, "EEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEE.cer");
	assert_int_equal(mkdir(p, 0755), 0);
	free(p);
	p = tu_path(dir, "DDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDD.cer");
	pp_error_clear(&err);
	assert_int_equal(pki_export_cer(f->cert[1], p, &err), 0);
	free(p);

	pp_error_clear(&err);
	sk = certstore_load(m, CERTSTORE_CA, CERTSTORE_LOGICAL, &err);
	assert_non_null(sk);
	assert_int_equal(sk_X509_num(sk), 1);
	assert_int_equal(X509_cmp(sk_X509_value(sk, 0), f->cert[0]), 0);
	/* A warning, not a failure. */
	assert_int_equal(err.code, 0);
	assert_non_null(strstr(err.message, "skipped"));
	assert_non_null(strstr(err.message, "more"));
	sk_X509_pop_free(sk, X509_free);

	/* find still works around the junk. */
	pp_error_clear(&err);
	sk = certstore_find(m, CERTSTORE_CA, CERTSTORE_LOCAL, "alpha", &err);
	assert_non_null(sk);
	assert_int_equal(sk_X509_num(sk), 1);
	sk_X509_pop_free(sk, X509_free);

	/* A store path blocked by a file: a clear error from add. */
	p = tu_path(m, "certstores/Disallowed");
	tu_write_file(p, "x", 1);
	pp_error_clear(&err);
	assert_int_equal(
	    certstore_add(m, CERTSTORE_DISALLOWED, CERTSTORE_LOCAL, f->cert[0], false, NULL, &err),
	    -1);
	assert_int_not_equal(err.code, 0);
	free(p);
	free(dir);
	free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_names),  cmocka_unit_test(test_add_already_force),
	    cmocka_unit_test(test_remove), cmocka_unit_test(test_load_sorted_and_logical_union),
	    cmocka_unit_test(test_find),   cmocka_unit_test(test_junk_files_skipped),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
