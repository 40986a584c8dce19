/* test_hresult.c - the HRESULT table (DESIGN 5.7 trust codes with Windows' texts) and the
 * struct pp_error helpers of error.c. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "error.h"
#include "hresult.h"
#include "testutil.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>

struct expected_code {
	uint32_t code;
	const char *symbol;
	const char *message;
};

/* DESIGN 5.7 trust decision codes with the text FormatMessage gives on Windows
 * (reference/windows-behaviour.md 6.1, winerror.h, wuerror.h). */
static const struct expected_code design_codes[] = {
    {0x800B0100u, "TRUST_E_NOSIGNATURE", "No signature was present in the subject."},
    {0x80096010u, "TRUST_E_BAD_DIGEST", "The digital signature of the object did not verify."},
    {0x80246002u, "WU_E_DM_INCORRECTFILEHASH",
     "A download manager operation could not be completed because the file digest was not "
     "recognized."},
    {0x800B0111u, "TRUST_E_EXPLICIT_DISTRUST",
     "The certificate was explicitly marked as untrusted by the user."},
    {0x800B010Au, "CERT_E_CHAINING",
     "A certificate chain could not be built to a trusted root authority."},
    {0x800B0109u, "CERT_E_UNTRUSTEDROOT",
     "A certificate chain processed, but terminated in a root certificate which is not trusted "
     "by the trust provider."},
    {0x800B0004u, "TRUST_E_SUBJECT_NOT_TRUSTED",
     "The subject is not trusted for the specified action."},
    {0x800B0110u, "CERT_E_WRONG_USAGE", "The certificate is not valid for the requested usage."},
    {0x800B0101u, "CERT_E_EXPIRED",
     "A required certificate is not within its validity period when verifying against the "
     "current system clock or the timestamp in the signed file."},
};

static void test_design_codes_present(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(design_codes) / sizeof(design_codes[0]); i++) {
		const struct hresult_entry *e = hresult_lookup(design_codes[i].code);

		assert_non_null(e);
		assert_int_equal(e->code, design_codes[i].code);
		assert_string_equal(e->symbol, design_codes[i].symbol);
		assert_string_equal(e->message, design_codes[i].message);
		assert_string_equal(hresult_symbol(design_codes[i].code), design_codes[i].symbol);
		assert_string_equal(hresult_message(design_codes[i].code), design_codes[i].message);
	}
}

/* The HR_* macros and the table agree. */
static void test_macros_match_table(void **state)
{
	(void)state;
	assert_string_equal(hresult_symbol(HR_TRUST_E_NOSIGNATURE), "TRUST_E_NOSIGNATURE");
	assert_string_equal(hresult_symbol(HR_TRUST_E_BAD_DIGEST), "TRUST_E_BAD_DIGEST");
	assert_string_equal(hresult_symbol(HR_WU_E_DM_INCORRECTFILEHASH),
			    "WU_E_DM_INCORRECTFILEHASH");
	assert_string_equal(hresult_symbol(HR_TRUST_E_EXPLICIT_DISTRUST),
			    "TRUST_E_EXPLICIT_DISTRUST");
	assert_string_equal(hresult_symbol(HR_CERT_E_CHAINING), "CERT_E_CHAINING");
	assert_string_equal(hresult_symbol(HR_CERT_E_UNTRUSTEDROOT), "CERT_E_UNTRUSTEDROOT");
	assert_string_equal(hresult_symbol(HR_TRUST_E_SUBJECT_NOT_TRUSTED),
			    "TRUST_E_SUBJECT_NOT_TRUSTED");
	assert_string_equal(hresult_symbol(HR_CERT_E_WRONG_USAGE), "CERT_E_WRONG_USAGE");
	assert_string_equal(hresult_symbol(HR_CERT_E_EXPIRED), "CERT_E_EXPIRED");
	assert_string_equal(hresult_symbol(HR_ERROR_FILE_NOT_FOUND), "ERROR_FILE_NOT_FOUND");
	assert_string_equal(hresult_symbol(HR_ERROR_INVALID_DATA), "ERROR_INVALID_DATA");
	assert_string_equal(hresult_symbol(HR_E_INVALIDARG), "E_INVALIDARG");
}

static void test_format_untrusted_root(void **state)
{
	char buf[256];

	(void)state;
	assert_ptr_equal(hresult_format(0x800B0109u, buf, sizeof(buf)), buf);
	assert_string_equal(buf, "0x800B0109 CERT_E_UNTRUSTEDROOT: A certificate chain processed, "
				 "but terminated in a root certificate which is not trusted by "
				 "the trust provider.");
}

static void test_format_unknown_and_truncated(void **state)
{
	char buf[256], small[12];

	(void)state;
	assert_null(hresult_lookup(0x8BADF00Du));
	assert_string_equal(hresult_symbol(0x8BADF00Du), "HRESULT");
	assert_string_equal(hresult_message(0x8BADF00Du), "Unknown error.");
	hresult_format(0x8badf00du, buf, sizeof(buf));
	assert_string_equal(buf, "0x8BADF00D HRESULT: Unknown error.");
	hresult_format(0, buf, sizeof(buf));
	assert_string_equal(buf, "0x00000000 S_OK: The operation completed successfully.");
	/* A short buffer is cut, still NUL-terminated; size 0 writes nothing. */
	memset(small, 'Z', sizeof(small));
	hresult_format(0x800B0109u, small, sizeof(small));
	assert_string_equal(small, "0x800B0109 ");
	small[0] = 'Q';
	hresult_format(0x800B0109u, small, 0);
	assert_int_equal(small[0], 'Q');
}

static void test_table_unique(void **state)
{
	size_t count = 0, i, j;
	const struct hresult_entry *t = hresult_table(&count);

	(void)state;
	assert_non_null(t);
	assert_true(count >= sizeof(design_codes) / sizeof(design_codes[0]));
	for (i = 0; i < count; i++) {
		assert_non_null(t[i].symbol);
		assert_non_null(t[i].message);
		assert_true(t[i].symbol[0] != '\0');
		assert_true(t[i].message[0] != '\0');
		assert_ptr_equal(hresult_lookup(t[i].code), &t[i]);
		for (j = i + 1; j < count; j++) {
			if (t[i].code == t[j].code || strcmp(t[i].symbol, t[j].symbol) == 0)
				fail_msg("duplicate table entry %s / %s (0x%08X)", t[i].symbol,
					 t[j].symbol, (unsigned)t[i].code);
		}
	}
	assert_ptr_equal(hresult_table(NULL), t);
}

static void test_error_first_wins(void **state)
{
	struct pp_error err;

	(void)state;
	memset(&err, 'x', sizeof(err));
	pp_error_clear(&err);
	assert_int_equal(err.code, 0);
	assert_string_equal(err.message, "");
	pp_error_set(&err, HR_CERT_E_CHAINING, "inner cause %d", 1);
	pp_error_set(&err, HR_E_FAIL, "outer context");
	pp_error_set_errno(&err, ENOENT, "later errno");
	pp_error_set_openssl(&err, HR_E_FAIL, "later openssl");
	assert_int_equal(err.code, HR_CERT_E_CHAINING);
	assert_string_equal(err.message, "inner cause 1");
	/* Code 0 is never recorded as "no error". */
	pp_error_clear(&err);
	pp_error_set(&err, 0, "no code given");
	assert_int_equal(err.code, HR_E_FAIL);
	/* NULL is accepted everywhere. */
	pp_error_clear(NULL);
	pp_error_set(NULL, HR_E_FAIL, "x");
	pp_error_set_errno(NULL, ENOENT, "x");
	pp_error_set_openssl(NULL, HR_E_FAIL, "x");
}

static void test_error_errno(void **state)
{
	struct pp_error err = {0};
	char expect[PP_ERROR_MESSAGE_MAX];

	(void)state;
	assert_int_equal(pp_hresult_from_errno(ENOENT), 0x80070002u);
	assert_int_equal(pp_hresult_from_errno(EACCES), HR_E_ACCESSDENIED);
	assert_int_equal(pp_hresult_from_errno(EEXIST), HR_ERROR_FILE_EXISTS);
	assert_int_equal(pp_hresult_from_errno(ENOMEM), HR_E_OUTOFMEMORY);
	assert_int_equal(pp_hresult_from_errno(ENOSPC), HR_ERROR_DISK_FULL);
	assert_int_equal(pp_hresult_from_errno(EINVAL), HR_E_INVALIDARG);
	assert_int_equal(pp_hresult_from_errno(EPIPE), HR_E_FAIL);
	pp_error_set_errno(&err, ENOENT, "cannot open '%s'", "/x/y");
	assert_int_equal(err.code, 0x80070002u);
	snprintf(expect, sizeof(expect), "cannot open '/x/y': %s", strerror(ENOENT));
	assert_string_equal(err.message, expect);
}

static void test_error_openssl_queue(void **state)
{
	struct pp_error err = {0};

	(void)state;
	ERR_clear_error();
	ERR_raise(ERR_LIB_PEM, PEM_R_NO_START_LINE);
	pp_error_set_openssl(&err, HR_CRYPT_E_BAD_ENCODE, "cannot read '%s'", "k.pem");
	assert_int_equal(err.code, HR_CRYPT_E_BAD_ENCODE);
	assert_int_equal(strncmp(err.message, "cannot read 'k.pem': ", 21), 0);
	assert_true(strlen(err.message) > 21);
	assert_int_equal(ERR_peek_error(), 0);
	/* Ignored (first error wins) but the queue is still emptied. */
	ERR_raise(ERR_LIB_PEM, PEM_R_NO_START_LINE);
	pp_error_set_openssl(&err, HR_E_FAIL, "later");
	assert_int_equal(ERR_peek_error(), 0);
	assert_int_equal(err.code, HR_CRYPT_E_BAD_ENCODE);
}

static void test_error_truncation(void **state)
{
	struct pp_error err;
	char longmsg[3 * PP_ERROR_MESSAGE_MAX];

	(void)state;
	memset(longmsg, 'm', sizeof(longmsg) - 1);
	longmsg[sizeof(longmsg) - 1] = '\0';
	pp_error_clear(&err);
	pp_error_set(&err, HR_E_FAIL, "%s", longmsg);
	assert_int_equal(strlen(err.message), PP_ERROR_MESSAGE_MAX - 1);
	/* The errno suffix does not overflow a full message either. */
	pp_error_clear(&err);
	pp_error_set_errno(&err, EACCES, "%s", longmsg);
	assert_int_equal(err.code, HR_E_ACCESSDENIED);
	assert_int_equal(strlen(err.message), PP_ERROR_MESSAGE_MAX - 1);
	/* Nearly full: the suffix is cut, still terminated. */
	pp_error_clear(&err);
	longmsg[PP_ERROR_MESSAGE_MAX - 5] = '\0';
	pp_error_set_errno(&err, EACCES, "%s", longmsg);
	assert_int_equal(strlen(err.message), PP_ERROR_MESSAGE_MAX - 1);
	assert_int_equal(strncmp(err.message + PP_ERROR_MESSAGE_MAX - 5, ": ", 2), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_design_codes_present),
	    cmocka_unit_test(test_macros_match_table),
	    cmocka_unit_test(test_format_untrusted_root),
	    cmocka_unit_test(test_format_unknown_and_truncated),
	    cmocka_unit_test(test_table_unique),
	    cmocka_unit_test(test_error_first_wins),
	    cmocka_unit_test(test_error_errno),
	    cmocka_unit_test(test_error_openssl_queue),
	    cmocka_unit_test(test_error_truncation),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
