/* base64.c - strict Base64 decoding (base64.h). */
#include "base64.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

uint8_t *base64_decode(const char *in, size_t len, size_t *out_len)
{
	unsigned char *out = NULL, *again = NULL;
	size_t pad;
	int n;

	if (len == 0 || len % 4 != 0 || len > BASE64_TEXT_MAX)
		return NULL;
	pad = (size_t)(in[len - 1] == '=') + (size_t)(in[len - 2] == '=');
	out = malloc(len / 4 * 3 + 1);
	again = malloc(len + 1);
	if (out == NULL || again == NULL)
		goto bad;
	n = EVP_DecodeBlock(out, (const unsigned char *)in, (int)len);
	/* The canonical text of the bytes must be the text given. */
	if (n < 0 || (size_t)n < pad || EVP_EncodeBlock(again, out, n - (int)pad) != (int)len ||
	    memcmp(again, in, len) != 0)
		goto bad;
	free(again);
	*out_len = (size_t)n - pad;
	return out;
bad:
	free(again);
	free(out);
	return NULL;
}
