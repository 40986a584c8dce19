/* fuzz_regpol.c - libFuzzer target for the Registry.pol reader (regpol.h) and the serialized
 * certificate element.
 *
 * The input is parsed with regpol_parse. A file that parses is serialized again and must come
 * back as the same bytes (the reader keeps everything a file says) and parse to the same number
 * of entries; then the data of every entry is tried as a certificate Blob with
 * regpol_cert_blob_parse (no thumbprint expected). The whole input is also tried as a Blob.
 * Broken invariants abort(). Seed corpus (scripts/fuzz.sh): a small Registry.pol with a DWORD,
 * a string and a certificate Blob, written by tests/interop/regpol_tool. */
#include "regpol.h"

#include <openssl/x509.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void try_blob(const uint8_t *p, size_t n)
{
	struct pp_error err;
	X509 *x = NULL;

	pp_error_clear(&err);
	if (regpol_cert_blob_parse(p, n, NULL, &x, &err) == 0) {
		if (x == NULL)
			abort();
		X509_free(x);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pp_error err;
	struct regpol *pol, *again;
	uint8_t *out = NULL;
	size_t len = 0;

	pp_error_clear(&err);
	try_blob(data, size);
	pol = regpol_parse(data, size, &err);
	if (pol == NULL) {
		if (err.message[0] == '\0')
			abort();
		return 0;
	}
	if (regpol_serialize(pol, &out, &len, &err) != 0 || len != size ||
	    memcmp(out, data, size) != 0)
		abort();
	again = regpol_parse(out, len, &err);
	if (again == NULL || again->count != pol->count)
		abort();
	for (size_t i = 0; i < pol->count; i++)
		try_blob(pol->entries[i].data, pol->entries[i].size);
	regpol_free(again);
	regpol_free(pol);
	free(out);
	return 0;
}
