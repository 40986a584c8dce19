/* cli_publisher.c - patchpoint publisher cert create|import|export|show and publisher status: the
 * signing certificate of the top-level software update point, over patchpointd's REST API
 * (docs/api.md, DESIGN 5.1), as a third-party updates publisher manages it. */
#include "cli.h"
#include "cli_api.h"

#include "atomicfile.h"
#include "hresult.h"
#include "pki.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

/* The API takes bodies of at most 1 MiB; base64 makes a PFX a third larger. */
#define PFX_MAX (640u << 10)

static const char cert_create_manual[] =
    "NAME\n"
    "    patchpoint publisher cert create - a self-signed signing certificate on the SUP\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint publisher cert create [--subject DN] [--years N]\n"
    "                                     [--key-length 2048|3072|4096] [--no-export]\n"
    "                                     [--force] [--json] [connection options]\n"
    "\n"
    "DESCRIPTION\n"
    "    Has the signer of the top-level software update point generate an RSA key and a\n"
    "    self-signed WSUS code-signing certificate (SHA-256, EKU Code Signing, KU Digital\n"
    "    Signature, CA:FALSE) and register it as the signing certificate. The key never\n"
    "    leaves the signer. A valid signing certificate is only replaced with --force; the\n"
    "    one replaced stays in Certificates until blocked. Prints the certificate as\n"
    "    'publisher cert show' does.\n"
    "\n"
    "OPTIONS\n"
    "    --subject DN          subject and issuer (default CN=patchpoint Publisher)\n"
    "    --years N             validity in years (default 5)\n"
    "    --key-length N        RSA key size: 2048 (default), 3072 or 4096\n"
    "    --no-export           the signer refuses to export the private key\n"
    "    --force               replace a valid signing certificate\n"
    "    --json                print the certificate as JSON\n" CLI_API_MANUAL_OPTIONS "\n"
    "EXIT STATUS\n"
    "    0 created, 1 refused (409 certificate_exists without --force) or failed, 2 usage\n"
    "    error.\n"
    "\n" CLI_API_MANUAL_FILES;

static const char cert_import_manual[] =
    "NAME\n"
    "    patchpoint publisher cert import - import a PKI-issued signing certificate (PFX)\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint publisher cert import --pfx FILE [--password-file FILE]\n"
    "                                     [--keep-existing] [--force] [--no-export]\n"
    "                                     [--json] [connection options]\n"
    "\n"
    "DESCRIPTION\n"
    "    Sends the PFX (certificate, private key and chain) to the signer of the top-level\n"
    "    software update point, which checks it against the WSUS signing requirements (RSA of\n"
    "    at least 2048 bits, Code Signing or no EKU, Digital Signature, inside its validity\n"
    "    period, a private key) and registers it as the signing certificate. When the\n"
    "    server refuses the file, prints \"Certificate Import Failed: <reason>\".\n"
    "    The PFX travels only over https:// or to a server on this host (loopback).\n"
    "\n"
    "OPTIONS\n"
    "    --pfx FILE            the PFX (.pfx/.p12, at most 640 KiB; required)\n"
    "    --password-file FILE  its password, from the first line of FILE (default: empty)\n"
    "    --keep-existing       keep the current signing certificate(s) in the signing store\n"
    "                          (the one with the longest remaining validity signs)\n"
    "    --force               replace a valid signing certificate\n"
    "    --no-export           the signer refuses to export the private key\n"
    "    --json                print the certificate as JSON\n" CLI_API_MANUAL_OPTIONS "\n"
    "EXIT STATUS\n"
    "    0 imported, 1 refused (\"Certificate Import Failed: ...\", or 409\n"
    "    certificate_exists without --force) or failed, 2 usage error.\n"
    "\n" CLI_API_MANUAL_FILES;

static const char cert_export_manual[] =
    "NAME\n"
    "    patchpoint publisher cert export - the signing certificate's public part (.cer)\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint publisher cert export --out FILE.cer [--force] [connection options]\n"
    "\n"
    "DESCRIPTION\n"
    "    Writes the public certificate of the SUP's signing certificate, DER-encoded, even\n"
    "    when its key is exportable: the file to deploy to devices (Trusted Root\n"
    "    Certification Authorities and Trusted Publishers). The file appears whole or not\n"
    "    at all; nothing is written on failure.\n"
    "\n"
    "OPTIONS\n"
    "    --out FILE            the .cer to write (required)\n"
    "    --force               replace an existing file\n" CLI_API_MANUAL_OPTIONS "\n"
    "EXIT STATUS\n"
    "    0 written, 1 no certificate, the server could not be reached, or the file could not\n"
    "    be written, 2 usage error.\n"
    "\n" CLI_API_MANUAL_FILES;

static const char cert_show_manual[] =
    "NAME\n"
    "    patchpoint publisher cert show - the signing certificate of the SUP\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint publisher cert show [--json] [connection options]\n"
    "\n"
    "DESCRIPTION\n"
    "    Prints the \"Show certificate\" fields of the top-level SUP's signing certificate,\n"
    "    one per line: Issuer, Subject, Effective Date, Expiration Date, Cert Usage, Public\n"
    "    Key, Thumbprint, Trusted Publisher, Trusted Root Authority and Self Signed (Yes or No\n"
    "    on the server), then \"Validate Trust Chain: <HRESULT> <symbol>: <detail>\", the\n"
    "    answer of the trust engine clients use.\n"
    "\n"
    "OPTIONS\n"
    "    --json                print the fields as JSON\n" CLI_API_MANUAL_OPTIONS "\n"
    "EXIT STATUS\n"
    "    0 shown, 1 no signing certificate (404 no_certificate) or the server could not be\n"
    "    reached, 2 usage error.\n"
    "\n" CLI_API_MANUAL_FILES;

static const char status_manual[] =
    "NAME\n"
    "    patchpoint publisher status - is the SUP ready to publish third-party updates?\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint publisher status [--json] [connection options]\n"
    "\n"
    "DESCRIPTION\n"
    "    Prints the server's checks in order, one line each, \"[ OK ] <check>\" or\n"
    "    \"[FAIL] <check>: <detail>\", stopping at the first that fails, then \"Ready to\n"
    "    publish\" or \"Not ready: <the first failing check>\".\n"
    "\n"
    "OPTIONS\n"
    "    --json                print the server's answer as JSON\n" CLI_API_MANUAL_OPTIONS "\n"
    "EXIT STATUS\n"
    "    0 ready to publish, 1 not ready (or the server could not be reached), 2 usage\n"
    "    error.\n"
    "\n" CLI_API_MANUAL_FILES;

enum {
	OPT_JSON = 256,
	OPT_SUBJECT,
	OPT_YEARS,
	OPT_KEY_LENGTH,
	OPT_NO_EXPORT,
	OPT_FORCE,
	OPT_PFX,
	OPT_PASSWORD_FILE,
	OPT_KEEP_EXISTING,
	OPT_OUT,
};

static const char *yes_no(bool b)
{
	return b ? "Yes" : "No";
}

/* The "show" record of an answer {"certificate":show}. */
static const json_t *show_of(const json_t *doc)
{
	const json_t *c = json_object_get(doc, "certificate");

	return json_is_object(c) ? c : doc;
}

static void print_show(const json_t *show)
{
	const json_t *chain = json_object_get(show, "trust_chain");
	const char *detail = cli_json_str(chain, "detail");

	printf("Issuer: %s\n", cli_json_str(show, "issuer"));
	printf("Subject: %s\n", cli_json_str(show, "subject"));
	printf("Effective Date: %s\n", cli_json_str(show, "effective_date"));
	printf("Expiration Date: %s\n", cli_json_str(show, "expiration_date"));
	printf("Cert Usage: %s\n", cli_json_str(show, "cert_usage"));
	printf("Public Key: %s\n", cli_json_str(show, "public_key"));
	printf("Thumbprint: %s\n", cli_json_str(show, "thumbprint"));
	printf("Trusted Publisher: %s\n", yes_no(cli_json_bool(show, "trusted_publisher")));
	printf("Trusted Root Authority: %s\n", yes_no(cli_json_bool(show, "trusted_root")));
	printf("Self Signed: %s\n", yes_no(cli_json_bool(show, "self_signed")));
	printf("Validate Trust Chain: %s %s%s%s\n", cli_json_str(chain, "hresult"),
	       cli_json_str(chain, "symbol"), detail[0] != '\0' ? ": " : "", detail);
}

/* Prints a certificate the server created or imported. */
static int print_registered(json_t *doc, bool json, const char *verb)
{
	const json_t *show = show_of(doc);
	int rc = CLI_EXIT_OK;

	if (json) {
		rc = cli_print_json(json_incref(doc)) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
	} else {
		printf("%s signing certificate %s\n", verb, cli_json_str(show, "thumbprint"));
		print_show(show);
	}
	return rc;
}

static int cert_create(struct cli *cli, int argc, char **argv)
{
	static const struct option options[] = {
	    {"subject", required_argument, NULL, OPT_SUBJECT},
	    {"years", required_argument, NULL, OPT_YEARS},
	    {"key-length", required_argument, NULL, OPT_KEY_LENGTH},
	    {"no-export", no_argument, NULL, OPT_NO_EXPORT},
	    {"force", no_argument, NULL, OPT_FORCE},
	    {"json", no_argument, NULL, OPT_JSON},
	    CLI_API_LONG_OPTIONS,
	    {NULL, 0, NULL, 0},
	};
	struct cli_api_flags flags = {0};
	struct cli_api *api = NULL;
	const char *subject = NULL;
	json_t *body = NULL, *doc = NULL;
	struct pp_error err;
	bool json = false, force = false, exportable = true;
	long years = 0, bits = 0;
	int c, rc;

	pp_error_clear(&err);
	optind = 0;
	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (c) {
		case OPT_SUBJECT:
			subject = optarg;
			break;
		case OPT_YEARS:
			if (cli_parse_int(optarg, 1, 100, &years) != 0)
				return cli_usage("publisher cert create",
						 "--years must be 1..100, not '%s'", optarg);
			break;
		case OPT_KEY_LENGTH:
			if (cli_parse_int(optarg, 1, 16384, &bits) != 0 ||
			    (bits != 2048 && bits != 3072 && bits != 4096))
				return cli_usage(
				    "publisher cert create",
				    "--key-length must be 2048, 3072 or 4096, not '%s'", optarg);
			break;
		case OPT_NO_EXPORT:
			exportable = false;
			break;
		case OPT_FORCE:
			force = true;
			break;
		case OPT_JSON:
			json = true;
			break;
		default:
			if (!cli_api_flag(&flags, c, optarg))
				return cli_usage("publisher cert create", "invalid option");
		}
	}
	if (optind != argc)
		return cli_usage("publisher cert create", "unexpected argument '%s'", argv[optind]);
	api = cli_api_open(cli, "publisher cert create", &flags, &rc);
	if (api == NULL)
		return rc;
	body = json_pack("{s:b, s:b}", "exportable", exportable, "force", force);
	if (body == NULL ||
	    (subject != NULL && json_object_set_new(body, "subject", json_string(subject)) != 0) ||
	    (years != 0 && json_object_set_new(body, "years", json_integer(years)) != 0) ||
	    (bits != 0 && json_object_set_new(body, "key_bits", json_integer(bits)) != 0)) {
		rc = cli_failf(cli, "out of memory");
		goto out;
	}
	doc = cli_api_call(api, "POST", "/api/v1/publisher/certificate", body, &err);
	if (doc == NULL) {
		rc = cli_fail(cli, &err);
		goto out;
	}
	cli_log(cli, CMTRACE_INFO, "Created signing certificate %s",
		cli_json_str(show_of(doc), "thumbprint"));
	rc = print_registered(doc, json, "Created");
out:
	json_decref(body);
	json_decref(doc);
	cli_api_free(api);
	return rc;
}

/* Reads a PFX of at most PFX_MAX bytes into a new buffer (*out, *len). */
static int read_pfx(const char *path, unsigned char **out, size_t *len, struct pp_error *err)
{
	unsigned char *buf = NULL;
	struct stat st;
	size_t used = 0;
	ssize_t n;
	int fd, rc = -1;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		pp_error_set_errno(err, errno, "cannot open %s", path);
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		pp_error_set(err, HR_E_INVALIDARG, "%s is not a regular file", path);
		goto out;
	}
	if (st.st_size == 0 || st.st_size > (off_t)PFX_MAX) {
		pp_error_set(err, HR_E_INVALIDARG, "%s is %s (a PFX is sent whole, at most %u KiB)",
			     path, st.st_size == 0 ? "empty" : "too large", PFX_MAX >> 10);
		goto out;
	}
	buf = malloc((size_t)st.st_size);
	if (buf == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
		goto out;
	}
	while (used < (size_t)st.st_size &&
	       (n = read(fd, buf + used, (size_t)st.st_size - used)) > 0)
		used += (size_t)n;
	if (used != (size_t)st.st_size) {
		pp_error_set_errno(err, errno != 0 ? errno : EIO, "cannot read %s", path);
		goto out;
	}
	*out = buf;
	*len = used;
	buf = NULL;
	rc = 0;
out:
	if (buf != NULL) {
		OPENSSL_cleanse(buf, (size_t)st.st_size);
		free(buf);
	}
	close(fd);
	return rc;
}

/* Wipes a string member of a JSON object in place (a password, an encoded key) before the
 * object is freed; jansson owns a writable copy of every string it holds. */
static void wipe_json_string(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	if (json_is_string(v))
		OPENSSL_cleanse((char *)json_string_value(v), json_string_length(v));
}

static int cert_import(struct cli *cli, int argc, char **argv)
{
	static const struct option options[] = {
	    {"pfx", required_argument, NULL, OPT_PFX},
	    {"password-file", required_argument, NULL, OPT_PASSWORD_FILE},
	    {"keep-existing", no_argument, NULL, OPT_KEEP_EXISTING},
	    {"force", no_argument, NULL, OPT_FORCE},
	    {"no-export", no_argument, NULL, OPT_NO_EXPORT},
	    {"json", no_argument, NULL, OPT_JSON},
	    CLI_API_LONG_OPTIONS,
	    {NULL, 0, NULL, 0},
	};
	struct cli_api_flags flags = {0};
	struct cli_api *api = NULL;
	struct cli_api_response resp = {0};
	const char *pfx_path = NULL, *password_file = NULL;
	unsigned char *pfx = NULL, *b64 = NULL;
	size_t pfx_len = 0, b64_len = 0;
	char password[CLI_PASSWORD_MAX + 1];
	json_t *body = NULL;
	struct pp_error err;
	bool json = false, force = false, keep = false, exportable = true;
	int c, rc = CLI_EXIT_FAIL;

	pp_error_clear(&err);
	password[0] = '\0';
	optind = 0;
	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (c) {
		case OPT_PFX:
			pfx_path = optarg;
			break;
		case OPT_PASSWORD_FILE:
			password_file = optarg;
			break;
		case OPT_KEEP_EXISTING:
			keep = true;
			break;
		case OPT_FORCE:
			force = true;
			break;
		case OPT_NO_EXPORT:
			exportable = false;
			break;
		case OPT_JSON:
			json = true;
			break;
		default:
			if (!cli_api_flag(&flags, c, optarg))
				return cli_usage("publisher cert import", "invalid option");
		}
	}
	if (optind != argc)
		return cli_usage("publisher cert import", "unexpected argument '%s'", argv[optind]);
	if (pfx_path == NULL)
		return cli_usage("publisher cert import", "--pfx FILE is required");
	api = cli_api_open(cli, "publisher cert import", &flags, &rc);
	if (api == NULL)
		return rc;
	if (!cli_api_private_transport(api)) {
		rc = cli_failf(cli,
			       "refusing to send a private key over plain HTTP to %s; use the "
			       "server's https:// URL",
			       cli_api_server(api));
		goto out;
	}
	if (read_pfx(pfx_path, &pfx, &pfx_len, &err) != 0 ||
	    cli_read_password(password_file, password, sizeof(password), &err) != 0)
		goto fail;
	b64_len = 4 * ((pfx_len + 2) / 3);
	b64 = malloc(b64_len + 1);
	if (b64 == NULL) {
		pp_error_set(&err, HR_E_OUTOFMEMORY, "out of memory");
		goto fail;
	}
	(void)EVP_EncodeBlock(b64, pfx, (int)pfx_len);
	body = json_pack("{s:s, s:s, s:b, s:b, s:b}", "pfx", (const char *)b64, "password",
			 password, "exportable", exportable, "keep_existing", keep, "force", force);
	if (body == NULL) {
		pp_error_set(&err, HR_E_OUTOFMEMORY, "out of memory");
		goto fail;
	}
	if (cli_api_request(api, "POST", "/api/v1/publisher/certificate/import", body, &resp,
			    &err) != 0) {
		if (resp.status == 422) {
			fprintf(stderr, "Certificate Import Failed: %s\n",
				resp.error_message[0] != '\0' ? resp.error_message
							      : "the server refused the PFX");
			cli_log(cli, CMTRACE_ERROR, "Certificate Import Failed: %s",
				resp.error_message);
			rc = CLI_EXIT_FAIL;
			goto out;
		}
		goto fail;
	}
	if (!json_is_object(resp.json)) {
		pp_error_set(&err, HR_E_FAIL, "%s answered the import without a certificate",
			     cli_api_server(api));
		goto fail;
	}
	cli_log(cli, CMTRACE_INFO, "Imported signing certificate %s from %s",
		cli_json_str(show_of(resp.json), "thumbprint"), pfx_path);
	rc = print_registered(resp.json, json, "Imported");
	goto out;
fail:
	rc = cli_fail(cli, &err);
out:
	if (body != NULL) {
		wipe_json_string(body, "pfx");
		wipe_json_string(body, "password");
	}
	json_decref(body);
	if (b64 != NULL) {
		OPENSSL_cleanse(b64, b64_len);
		free(b64);
	}
	if (pfx != NULL) {
		OPENSSL_cleanse(pfx, pfx_len);
		free(pfx);
	}
	OPENSSL_cleanse(password, sizeof(password));
	cli_api_response_free(&resp);
	cli_api_free(api);
	return rc;
}

static int cert_export(struct cli *cli, int argc, char **argv)
{
	static const struct option options[] = {
	    {"out", required_argument, NULL, OPT_OUT},
	    {"force", no_argument, NULL, OPT_FORCE},
	    CLI_API_LONG_OPTIONS,
	    {NULL, 0, NULL, 0},
	};
	struct cli_api_flags flags = {0};
	struct cli_api *api = NULL;
	struct cli_api_response resp = {0};
	const char *out = NULL;
	const unsigned char *p;
	char thumbprint[PKI_THUMBPRINT_LEN + 1];
	X509 *cert = NULL;
	struct pp_error err;
	struct stat st;
	bool force = false;
	int c, rc = CLI_EXIT_FAIL;

	pp_error_clear(&err);
	optind = 0;
	while ((c = getopt_long(argc, argv, "o:", options, NULL)) != -1) {
		switch (c) {
		case 'o':
		case OPT_OUT:
			out = optarg;
			break;
		case OPT_FORCE:
			force = true;
			break;
		default:
			if (!cli_api_flag(&flags, c, optarg))
				return cli_usage("publisher cert export", "invalid option");
		}
	}
	if (optind != argc)
		return cli_usage("publisher cert export", "unexpected argument '%s'", argv[optind]);
	if (out == NULL)
		return cli_usage("publisher cert export", "--out FILE.cer is required");
	if (!force && lstat(out, &st) == 0)
		return cli_failf(cli, "%s already exists; use --force to replace it", out);
	api = cli_api_open(cli, "publisher cert export", &flags, &rc);
	if (api == NULL)
		return rc;
	if (cli_api_request(api, "GET", "/api/v1/publisher/certificate/cer", NULL, &resp, &err) !=
	    0)
		goto fail;
	/* Only a whole, well-formed certificate is written. */
	p = resp.body;
	if (resp.len > 0 && resp.len < 65536)
		cert = d2i_X509(NULL, &p, (long)resp.len);
	if (cert == NULL || p != resp.body + resp.len) {
		pp_error_set(&err, HR_CRYPT_E_ASN1_BADTAG,
			     "%s did not answer a DER certificate (%zu bytes)", cli_api_server(api),
			     resp.len);
		goto fail;
	}
	if (pki_thumbprint(cert, thumbprint) != 0) {
		pp_error_set(&err, HR_E_FAIL, "cannot compute the thumbprint");
		goto fail;
	}
	if (atomicfile_write(out, resp.body, resp.len, 0644, true, &err) != 0)
		goto fail;
	printf("Exported %s (public certificate only, DER) to %s\n", thumbprint, out);
	cli_log(cli, CMTRACE_INFO, "Exported signing certificate %s to %s", thumbprint, out);
	rc = CLI_EXIT_OK;
	goto out;
fail:
	rc = cli_fail(cli, &err);
out:
	X509_free(cert);
	cli_api_response_free(&resp);
	cli_api_free(api);
	return rc;
}

static int cert_show(struct cli *cli, int argc, char **argv)
{
	json_t *doc = NULL;
	int rc = cli_api_read_verb(cli, "publisher cert show", argc, argv,
				   "/api/v1/publisher/certificate", &doc);

	if (doc != NULL)
		print_show(show_of(doc));
	json_decref(doc);
	return rc;
}

static int publisher_cert(struct cli *cli, int argc, char **argv)
{
	static const struct cli_verb verbs[] = {
	    {"create", "a self-signed signing certificate on the SUP", cert_create_manual,
	     cert_create},
	    {"import", "import a PKI-issued signing certificate (PFX)", cert_import_manual,
	     cert_import},
	    {"export", "write the public certificate (.cer, DER)", cert_export_manual, cert_export},
	    {"show", "the signing certificate's fields", cert_show_manual, cert_show},
	};

	return cli_dispatch(cli, "publisher cert", verbs, sizeof(verbs) / sizeof(verbs[0]),
			    argc - 1, argv + 1);
}

static int publisher_status(struct cli *cli, int argc, char **argv)
{
	static const struct option options[] = {
	    {"json", no_argument, NULL, OPT_JSON},
	    CLI_API_LONG_OPTIONS,
	    {NULL, 0, NULL, 0},
	};
	struct cli_api_flags flags = {0};
	struct cli_api *api = NULL;
	struct pp_error err;
	json_t *doc = NULL;
	const json_t *items, *item;
	const char *failing = NULL, *detail;
	bool json = false;
	size_t i;
	int c, rc;

	pp_error_clear(&err);
	optind = 0;
	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		if (c == OPT_JSON)
			json = true;
		else if (!cli_api_flag(&flags, c, optarg))
			return cli_usage("publisher status", "invalid option");
	}
	if (optind != argc)
		return cli_usage("publisher status", "unexpected argument '%s'", argv[optind]);
	api = cli_api_open(cli, "publisher status", &flags, &rc);
	if (api == NULL)
		return rc;
	doc = cli_api_call(api, "GET", "/api/v1/publisher/status", NULL, &err);
	if (doc == NULL) {
		rc = cli_fail(cli, &err);
		goto out;
	}
	items = json_object_get(doc, "items");
	json_array_foreach(items, i, item)
	{
		if (!cli_json_bool(item, "ok")) {
			failing = cli_json_str(item, "name");
			break;
		}
	}
	rc = failing == NULL && cli_json_bool(doc, "ready") ? CLI_EXIT_OK : CLI_EXIT_FAIL;
	if (json) {
		(void)cli_print_json(json_incref(doc));
		goto out;
	}
	json_array_foreach(items, i, item)
	{
		bool ok = cli_json_bool(item, "ok");

		detail = cli_json_str(item, "detail");
		printf("[%s] %s%s%s\n", ok ? " OK " : "FAIL", cli_json_str(item, "name"),
		       detail[0] != '\0' ? ": " : "", detail);
		if (!ok)
			break;
	}
	if (rc == CLI_EXIT_OK)
		printf("Ready to publish\n");
	else
		printf("Not ready: %s\n",
		       failing != NULL ? failing : "the server reports the SUP is not ready");
out:
	json_decref(doc);
	cli_api_free(api);
	return rc;
}

int cli_publisher(struct cli *cli, int argc, char **argv)
{
	static const struct cli_verb verbs[] = {
	    {"cert", "create|import|export|show the SUP's signing certificate", cert_show_manual,
	     publisher_cert},
	    {"status", "is the SUP ready to publish third-party updates?", status_manual,
	     publisher_status},
	};

	/* "publisher cert ..." dispatches again, so the help of its verbs is theirs. */
	if (argc > 1 && strcmp(argv[1], "cert") == 0)
		return publisher_cert(cli, argc - 1, argv + 1);
	return cli_dispatch(cli, "publisher", verbs, sizeof(verbs) / sizeof(verbs[0]), argc - 1,
			    argv + 1);
}
