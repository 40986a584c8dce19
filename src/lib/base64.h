/* base64.h - strict Base64 decoding of the DER and file bytes that travel inside JSON (machine
 * policy certificates, GPO Registry.pol files, configuration item certificates). OpenSSL's
 * EVP_DecodeBlock does the decoding; this adds what it leaves out: the padding removed from
 * the length, and a refusal of anything that is not the one canonical encoding of its bytes
 * (whitespace, missing padding, non-zero trailing bits), so that two texts never decode to the
 * same bytes. */
#ifndef PATCHPOINT_BASE64_H
#define PATCHPOINT_BASE64_H

#include <stddef.h>
#include <stdint.h>

#define BASE64_TEXT_MAX ((size_t)INT32_MAX / 2) /* longest text accepted */

/* The bytes of the len characters at in, malloc'd (*out_len of them); NULL when in is empty,
 * not canonical Base64, longer than BASE64_TEXT_MAX, or memory is short. */
uint8_t *base64_decode(const char *in, size_t len, size_t *out_len);

#endif
