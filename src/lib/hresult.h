/* hresult.h - one table of HRESULT codes: value, symbol and the message Windows shows for it.
 *
 * Every failure in patchpoint carries one of these codes. The trust codes are the ones a Windows
 * client reports for third-party update content (reference/windows-behaviour.md section 6).
 */
#ifndef PATCHPOINT_HRESULT_H
#define PATCHPOINT_HRESULT_H

#include <stddef.h>
#include <stdint.h>

#define HR_S_OK 0x00000000u

/* Generic and Win32-derived (HRESULT_FROM_WIN32) codes. */
#define HR_E_FAIL		  0x80004005u
#define HR_E_ABORT		  0x80004004u
#define HR_E_UNEXPECTED		  0x8000FFFFu
#define HR_E_OUTOFMEMORY	  0x8007000Eu
#define HR_E_INVALIDARG		  0x80070057u
#define HR_E_ACCESSDENIED	  0x80070005u
#define HR_ERROR_FILE_NOT_FOUND	  0x80070002u
#define HR_ERROR_INVALID_DATA	  0x8007000Du
#define HR_ERROR_FILE_EXISTS	  0x80070050u
#define HR_ERROR_INVALID_PASSWORD 0x80070056u
#define HR_ERROR_DISK_FULL	  0x80070070u
#define HR_ERROR_INVALID_NAME	  0x8007007Bu
#define HR_ERROR_FILE_TOO_LARGE	  0x800700DFu
#define HR_ERROR_BAD_FORMAT	  0x8007000Bu
#define HR_ERROR_HANDLE_EOF	  0x80070026u
#define HR_ERROR_CRC		  0x80070017u
#define HR_ERROR_NOT_SUPPORTED	  0x80070032u
#define HR_ERROR_ALREADY_EXISTS	  0x800700B7u

/* CryptoAPI and key errors. */
#define HR_CRYPT_E_NOT_FOUND	   0x80092004u
#define HR_CRYPT_E_NO_MATCH	   0x80092009u
#define HR_CRYPT_E_ASN1_BADTAG	   0x8009310Bu
#define HR_CRYPT_E_ASN1_EOD	   0x80093102u
#define HR_CRYPT_E_BAD_ENCODE	   0x80092002u
#define HR_CRYPT_E_NO_KEY_PROPERTY 0x8009200Bu
#define HR_NTE_BAD_KEY_STATE	   0x8009000Bu
#define HR_NTE_NOT_FOUND	   0x80090011u
#define HR_NTE_BAD_ALGID	   0x80090008u
#define HR_NTE_NOT_SUPPORTED	   0x80090029u

/* WinVerifyTrust / certificate chain results (DESIGN 5.7). */
#define HR_TRUST_E_SUBJECT_NOT_TRUSTED	0x800B0004u
#define HR_TRUST_E_SUBJECT_FORM_UNKNOWN 0x800B0003u
#define HR_TRUST_E_NOSIGNATURE		0x800B0100u
#define HR_CERT_E_EXPIRED		0x800B0101u
#define HR_CERT_E_UNTRUSTEDROOT		0x800B0109u
#define HR_CERT_E_CHAINING		0x800B010Au
#define HR_CERT_E_WRONG_USAGE		0x800B0110u
#define HR_TRUST_E_EXPLICIT_DISTRUST	0x800B0111u
#define HR_TRUST_E_BAD_DIGEST		0x80096010u
#define HR_TRUST_E_CERT_SIGNATURE	0x80096004u
#define HR_TRUST_E_TIME_STAMP		0x80096005u
#define HR_TRUST_E_BASIC_CONSTRAINTS	0x80096019u

/* Windows Update agent. */
#define HR_WU_E_DM_INCORRECTFILEHASH 0x80246002u

struct hresult_entry {
	uint32_t code;
	const char *symbol;  /* e.g. "CERT_E_UNTRUSTEDROOT" */
	const char *message; /* the text Windows shows, one sentence */
};

/* The table entry for code, or NULL when the code is not in the table. */
const struct hresult_entry *hresult_lookup(uint32_t code);

/* Symbol of code, or "HRESULT" for codes outside the table. Never NULL. */
const char *hresult_symbol(uint32_t code);

/* Message of code, or "Unknown error." for codes outside the table. Never NULL. */
const char *hresult_message(uint32_t code);

/* Writes "0x800B0109 CERT_E_UNTRUSTEDROOT: <message>" into buf (always NUL-terminated) and returns
 * buf. The hex digits are upper case, as in the DESIGN's verify output. */
char *hresult_format(uint32_t code, char *buf, size_t size);

/* The whole table, for documentation and tests; *count receives the number of entries. */
const struct hresult_entry *hresult_table(size_t *count);

#endif
