/* fuzz_signature.c - libFuzzer target: arbitrary bytes as an Authenticode signature blob
 * (authenticode_parse_signature), as read from a cabinet's signature locator. */
#include "authenticode.h"

#include <stddef.h>
#include <stdint.h>

#include <openssl/err.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct authenticode_info info;
	struct pp_error err;

	pp_error_clear(&err);
	if (authenticode_parse_signature(data, size, &info, &err) == 0)
		authenticode_info_release(&info);
	ERR_clear_error();
	return 0;
}
