/* hresult.c - the HRESULT table. Messages are Windows' own texts (FormatMessage output) where
 * reference/windows-behaviour.md section 6 or the Win32 error table gives one. */
#include "hresult.h"

#include <stdio.h>

static const struct hresult_entry hresult_entries[] = {
    {HR_S_OK, "S_OK", "The operation completed successfully."},
    {HR_E_FAIL, "E_FAIL", "Unspecified error"},
    {HR_E_ABORT, "E_ABORT", "Operation aborted"},
    {HR_E_UNEXPECTED, "E_UNEXPECTED", "Catastrophic failure"},
    {HR_E_OUTOFMEMORY, "E_OUTOFMEMORY",
     "Not enough memory resources are available to complete this operation."},
    {HR_E_INVALIDARG, "E_INVALIDARG", "The parameter is incorrect."},
    {HR_E_ACCESSDENIED, "E_ACCESSDENIED", "Access is denied."},
    {HR_ERROR_FILE_NOT_FOUND, "ERROR_FILE_NOT_FOUND", "The system cannot find the file specified."},
    {HR_ERROR_INVALID_DATA, "ERROR_INVALID_DATA", "The data is invalid."},
    {HR_ERROR_FILE_EXISTS, "ERROR_FILE_EXISTS", "The file exists."},
    {HR_ERROR_INVALID_PASSWORD, "ERROR_INVALID_PASSWORD",
     "The specified network password is not correct."},
    {HR_ERROR_DISK_FULL, "ERROR_DISK_FULL", "There is not enough space on the disk."},
    {HR_ERROR_INVALID_NAME, "ERROR_INVALID_NAME",
     "The filename, directory name, or volume label syntax is incorrect."},
    {HR_ERROR_FILE_TOO_LARGE, "ERROR_FILE_TOO_LARGE",
     "The file size exceeds the limit allowed and cannot be saved."},
    {HR_ERROR_BAD_FORMAT, "ERROR_BAD_FORMAT",
     "An attempt was made to load a program with an incorrect format."},
    {HR_ERROR_HANDLE_EOF, "ERROR_HANDLE_EOF", "Reached the end of the file."},
    {HR_ERROR_CRC, "ERROR_CRC", "Data error (cyclic redundancy check)."},
    {HR_ERROR_NOT_SUPPORTED, "ERROR_NOT_SUPPORTED", "The request is not supported."},
    {HR_ERROR_ALREADY_EXISTS, "ERROR_ALREADY_EXISTS",
     "Cannot create a file when that file already exists."},
    {HR_CRYPT_E_NOT_FOUND, "CRYPT_E_NOT_FOUND", "Cannot find object or property."},
    {HR_CRYPT_E_NO_MATCH, "CRYPT_E_NO_MATCH", "Cannot find the requested object."},
    {HR_CRYPT_E_ASN1_BADTAG, "CRYPT_E_ASN1_BADTAG", "ASN1 bad tag value met."},
    {HR_CRYPT_E_ASN1_EOD, "CRYPT_E_ASN1_EOD", "ASN1 unexpected end of data."},
    {HR_CRYPT_E_BAD_ENCODE, "CRYPT_E_BAD_ENCODE",
     "An error occurred during encode or decode operation."},
    {HR_CRYPT_E_NO_KEY_PROPERTY, "CRYPT_E_NO_KEY_PROPERTY",
     "Cannot find the certificate and private key for decryption."},
    {HR_NTE_BAD_KEY_STATE, "NTE_BAD_KEY_STATE", "Key not valid for use in specified state."},
    {HR_NTE_NOT_FOUND, "NTE_NOT_FOUND", "Object was not found."},
    {HR_NTE_BAD_ALGID, "NTE_BAD_ALGID", "Invalid algorithm specified."},
    {HR_NTE_NOT_SUPPORTED, "NTE_NOT_SUPPORTED", "The requested operation is not supported."},
    {HR_TRUST_E_SUBJECT_NOT_TRUSTED, "TRUST_E_SUBJECT_NOT_TRUSTED",
     "The subject is not trusted for the specified action."},
    {HR_TRUST_E_SUBJECT_FORM_UNKNOWN, "TRUST_E_SUBJECT_FORM_UNKNOWN",
     "The form specified for the subject is not one supported or known by the specified trust "
     "provider."},
    {HR_TRUST_E_NOSIGNATURE, "TRUST_E_NOSIGNATURE", "No signature was present in the subject."},
    {HR_CERT_E_EXPIRED, "CERT_E_EXPIRED",
     "A required certificate is not within its validity period when verifying against the current "
     "system clock or the timestamp in the signed file."},
    {HR_CERT_E_UNTRUSTEDROOT, "CERT_E_UNTRUSTEDROOT",
     "A certificate chain processed, but terminated in a root certificate which is not trusted by "
     "the trust provider."},
    {HR_CERT_E_CHAINING, "CERT_E_CHAINING",
     "A certificate chain could not be built to a trusted root authority."},
    {HR_CERT_E_WRONG_USAGE, "CERT_E_WRONG_USAGE",
     "The certificate is not valid for the requested usage."},
    {HR_TRUST_E_EXPLICIT_DISTRUST, "TRUST_E_EXPLICIT_DISTRUST",
     "The certificate was explicitly marked as untrusted by the user."},
    {HR_TRUST_E_BAD_DIGEST, "TRUST_E_BAD_DIGEST",
     "The digital signature of the object did not verify."},
    {HR_TRUST_E_CERT_SIGNATURE, "TRUST_E_CERT_SIGNATURE",
     "The signature of the certificate cannot be verified."},
    {HR_TRUST_E_TIME_STAMP, "TRUST_E_TIME_STAMP",
     "The timestamp signature and/or certificate could not be verified or is malformed."},
    {HR_TRUST_E_BASIC_CONSTRAINTS, "TRUST_E_BASIC_CONSTRAINTS",
     "A certificate's basic constraint extension has not been observed."},
    {HR_WU_E_DM_INCORRECTFILEHASH, "WU_E_DM_INCORRECTFILEHASH",
     "A download manager operation could not be completed because the file digest was not "
     "recognized."},
};

const struct hresult_entry *hresult_table(size_t *count)
{
	if (count != NULL)
		*count = sizeof(hresult_entries) / sizeof(hresult_entries[0]);
	return hresult_entries;
}

const struct hresult_entry *hresult_lookup(uint32_t code)
{
	size_t i;

	for (i = 0; i < sizeof(hresult_entries) / sizeof(hresult_entries[0]); i++) {
		if (hresult_entries[i].code == code)
			return &hresult_entries[i];
	}
	return NULL;
}

const char *hresult_symbol(uint32_t code)
{
	const struct hresult_entry *e = hresult_lookup(code);

	return e != NULL ? e->symbol : "HRESULT";
}

const char *hresult_message(uint32_t code)
{
	const struct hresult_entry *e = hresult_lookup(code);

	return e != NULL ? e->message : "Unknown error.";
}

char *hresult_format(uint32_t code, char *buf, size_t size)
{
	if (size == 0)
		return buf;
	(void)snprintf(buf, size, "0x%08X %s: %s", (unsigned)code, hresult_symbol(code),
		       hresult_message(code));
	return buf;
}
