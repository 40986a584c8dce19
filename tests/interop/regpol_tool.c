/* regpol_tool.c - a test program over src/lib/regpol for tests/interop/samba_regpol.sh.
 *
 *     regpol_tool read FILE        prints each entry as "key|value|type|hex" (hex lower case)
 *     regpol_tool write FILE       reads such lines on stdin and writes FILE
 *     regpol_tool blob CERT.pem    prints the hex of the certificate's Blob value
 *
 * Exit 0 on success, 1 with one line on stderr on failure, 2 on usage errors. */
#include "regpol.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>

#define LINE_MAX_LEN (8 * 1024 * 1024)

static void print_hex(const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		printf("%02x", b[i]);
}

static int cmd_read(const char *path)
{
	struct pp_error err = {0};
	struct regpol *pol = regpol_read(path, &err);

	if (pol == NULL) {
		fprintf(stderr, "regpol_tool: %s\n", err.message);
		return 1;
	}
	for (size_t i = 0; i < pol->count; i++) {
		const struct regpol_entry *e = &pol->entries[i];

		printf("%s|%s|%u|", e->key, e->value, (unsigned)e->type);
		print_hex(e->data, e->size);
		printf("\n");
	}
	regpol_free(pol);
	return 0;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Parses one "key|value|type|hex" line (modified in place) and adds it to pol. */
static int add_line(struct regpol *pol, char *line, size_t lineno)
{
	struct pp_error err = {0};
	char *key = line, *value, *type, *hex, *end;
	uint8_t *data = NULL;
	size_t n, i;
	unsigned long t;
	int rc;

	value = strchr(key, '|');
	type = value ? strchr(value + 1, '|') : NULL;
	hex = type ? strchr(type + 1, '|') : NULL;
	if (hex == NULL) {
		fprintf(stderr, "regpol_tool: line %zu: expected key|value|type|hex\n", lineno);
		return -1;
	}
	*value++ = '\0', *type++ = '\0', *hex++ = '\0';
	t = strtoul(type, &end, 10);
	n = strlen(hex);
	if (*end != '\0' || end == type || n % 2 != 0) {
		fprintf(stderr, "regpol_tool: line %zu: bad type or hex\n", lineno);
		return -1;
	}
	if (n > 0) {
		data = malloc(n / 2);
		if (data == NULL)
			return -1;
	}
	for (i = 0; i < n / 2; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);

		if (hi < 0 || lo < 0) {
			fprintf(stderr, "regpol_tool: line %zu: bad hex\n", lineno);
			free(data);
			return -1;
		}
		data[i] = (uint8_t)(hi << 4 | lo);
	}
	rc = regpol_add(pol, key, value, (uint32_t)t, data, n / 2, &err);
	if (rc != 0)
		fprintf(stderr, "regpol_tool: line %zu: %s\n", lineno, err.message);
	free(data);
	return rc;
}

static int cmd_write(const char *path)
{
	struct pp_error err = {0};
	struct regpol *pol = regpol_new(&err);
	char *line = malloc(LINE_MAX_LEN);
	size_t lineno = 0;
	int rc = 1;

	if (pol == NULL || line == NULL)
		goto out;
	while (fgets(line, LINE_MAX_LEN, stdin) != NULL) {
		size_t len = strlen(line);

		lineno++;
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = '\0';
		if (len == 0)
			continue;
		if (add_line(pol, line, lineno) != 0)
			goto out;
	}
	if (regpol_write(path, pol, &err) != 0) {
		fprintf(stderr, "regpol_tool: %s\n", err.message);
		goto out;
	}
	rc = 0;
out:
	free(line);
	regpol_free(pol);
	return rc;
}

static int cmd_blob(const char *pem)
{
	struct pp_error err = {0};
	uint8_t *blob = NULL;
	size_t n = 0;
	X509 *cert = NULL;
	FILE *f = fopen(pem, "r");

	if (f != NULL) {
		cert = PEM_read_X509(f, NULL, NULL, NULL);
		fclose(f);
	}
	if (cert == NULL) {
		fprintf(stderr, "regpol_tool: cannot read a certificate from '%s'\n", pem);
		return 1;
	}
	if (regpol_cert_blob_make(cert, &blob, &n, &err) != 0) {
		fprintf(stderr, "regpol_tool: %s\n", err.message);
		X509_free(cert);
		return 1;
	}
	print_hex(blob, n);
	printf("\n");
	free(blob);
	X509_free(cert);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "read") == 0)
		return cmd_read(argv[2]);
	if (argc == 3 && strcmp(argv[1], "write") == 0)
		return cmd_write(argv[2]);
	if (argc == 3 && strcmp(argv[1], "blob") == 0)
		return cmd_blob(argv[2]);
	fprintf(stderr, "usage: regpol_tool read FILE | write FILE < lines | blob CERT.pem\n");
	return 2;
}
