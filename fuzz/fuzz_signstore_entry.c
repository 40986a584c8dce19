/* fuzz_signstore_entry.c - libFuzzer target for the JSON entry of the signing store's remote wire
 * format (signstore.h): what a remote SUP answers, read by signstore_remote.c, and the base64
 * fields of that format and of the REST API's PFX uploads.
 *
 * The input is loaded with json_loadb and the flags the remote backend uses; when it is an
 * object it is parsed as one entry (signstore_entry_parse), and so are the members of a
 * "certificates" array (a LIST answer, at most SIGNER_LIST_MAX) and a "certificate" object (a
 * GENERATE or IMPORT answer). The entries parsed are then handed to what consumes them in the
 * daemon (signstore_pick, which runs the WSUS checks on each certificate) and written back with
 * signstore_entry_json, which must parse again to the same thumbprint and DER. The input as a
 * string is also decoded by signstore_base64_decode, with the certificate limit and with a small
 * one; a decoded result must respect the limit and survive a round trip through the encoder.
 * A broken invariant abort()s.
 *
 * Seed corpus (scripts/fuzz.sh): an entry made from a self-signed certificate,
 *   openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=seed -keyout k.pem -outform DER -out c.der
 *   tp=$(openssl x509 -inform DER -in c.der -noout -fingerprint -sha1 | sed 's/.*=//; s/://g')
 *   printf '{"thumbprint":"%s","der":"%s","chain":[],"exportable":false,"has_key":true}' \
 *     "$tp" "$(base64 -w0 c.der)" > entry.json
 * and a {"certificates":[...]} list of two such entries, one with a chain.
 */
#include "signstore.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* 2030-01-01, so that the outcome of the validity checks does not depend on the day of the run. */
#define FUZZ_NOW ((time_t)1893456000)

/* Writes c back as JSON and parses it again: the same certificate must come out. */
static void round_trip(const struct signer_cert *c)
{
	struct signer_cert again;
	struct pp_error err;
	json_t *j;

	j = signstore_entry_json(c);
	if (j == NULL)
		abort(); /* c has a DER certificate: only out of memory could fail */
	pp_error_clear(&err);
	if (signstore_entry_parse(j, &again, &err) != 0)
		abort();
	if (strcmp(again.thumbprint, c->thumbprint) != 0 || again.der_len != c->der_len ||
	    memcmp(again.der, c->der, c->der_len) != 0 ||
	    sk_X509_num(again.chain) != sk_X509_num(c->chain) ||
	    again.exportable != c->exportable || again.has_key != c->has_key)
		abort();
	signer_cert_release(&again);
	json_decref(j);
}

/* Parses entry into out; on success checks what the parser promises and round-trips it. */
static int parse_one(const json_t *entry, struct signer_cert *out)
{
	struct pp_error err;

	pp_error_clear(&err);
	if (signstore_entry_parse(entry, out, &err) != 0) {
		if (err.code == 0 || out->cert != NULL || out->der != NULL || out->chain != NULL)
			abort(); /* a failure names its field and leaves nothing behind */
		return -1;
	}
	if (out->cert == NULL || out->der == NULL || out->der_len == 0 || out->chain == NULL ||
	    strlen(out->thumbprint) != PKI_THUMBPRINT_LEN)
		abort();
	round_trip(out);
	return 0;
}

static void fuzz_json(const uint8_t *data, size_t size)
{
	struct signer_cert certs[SIGNER_LIST_MAX + 1];
	const json_t *arr;
	json_error_t jerr;
	json_t *doc;
	size_t i, n = 0;

	doc = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(doc))
		goto out;
	if (parse_one(doc, &certs[n]) == 0)
		n++;
	if (parse_one(json_object_get(doc, "certificate"), &certs[n]) == 0)
		n++;
	arr = json_object_get(doc, "certificates");
	for (i = 0; i < json_array_size(arr) && i < SIGNER_LIST_MAX - 1; i++)
		if (parse_one(json_array_get(arr, i), &certs[n]) == 0)
			n++;
	if (n > 0 && signstore_pick(certs, n, FUZZ_NOW) >= (int)n)
		abort();
	for (i = 0; i < n; i++)
		signer_cert_release(&certs[i]);
out:
	json_decref(doc);
}

/* Decodes text with a limit of max bytes and checks the result against the encoder. */
static void decode(const char *text, size_t max)
{
	uint8_t *bytes = NULL, *again = NULL;
	size_t len = 0, again_len = 0;
	struct pp_error err;
	char *enc;

	pp_error_clear(&err);
	if (signstore_base64_decode(text, max, "fuzz", &bytes, &len, &err) != 0) {
		if (bytes != NULL || len != 0 || err.code == 0)
			abort();
		return;
	}
	/* Decoding is strict but may accept non-zero trailing bits ("QR==" is 'A'), so the round
	 * trip is on the bytes, not on the text. */
	if (len == 0 || len > max || len > strlen(text) / 4 * 3)
		abort();
	enc = signstore_base64_encode(bytes, len);
	if (enc == NULL)
		abort();
	pp_error_clear(&err);
	if (signstore_base64_decode(enc, max, "fuzz", &again, &again_len, &err) != 0 ||
	    again_len != len || memcmp(again, bytes, len) != 0)
		abort();
	free(enc);
	OPENSSL_free(again);
	OPENSSL_free(bytes);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text;

	fuzz_json(data, size);
	text = malloc(size + 1);
	if (text != NULL) {
		if (size > 0)
			memcpy(text, data, size);
		text[size] = '\0';
		decode(text, SIGNER_CERT_MAX);
		decode(text, 16);
		free(text);
	}
	ERR_clear_error();
	return 0;
}
