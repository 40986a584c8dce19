/* cli_sign.c - patchpoint sign and patchpoint verify: Authenticode on cabinets. */
#include "cli.h"

#include "authenticode.h"
#include "hresult.h"
#include "pki.h"
#include "trust.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

const char cli_sign_manual[] =
    "NAME\n"
    "    patchpoint sign - Authenticode-sign a cabinet\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint sign --pfx FILE [--password-file FILE] [--description TEXT] [--url URL]\n"
    "                    [-o OUT.cab] FILE.cab\n"
    "\n"
    "DESCRIPTION\n"
    "    Signs FILE.cab with the certificate and private key in the PFX (or PEM): SHA-256\n"
    "    digest over the cabinet, PKCS#7 SignedData with SpcIndirectDataContent, appended\n"
    "    at the end of the cabinet as signtool and osslsigncode do. A cabinet without the\n"
    "    20-byte signature reserve gets one; an existing signature is replaced. Without -o\n"
    "    the cabinet is signed in place (through a temporary file and a rename).\n"
    "    A certificate that does not meet the WSUS signing requirements is used anyway,\n"
    "    with a warning per failed requirement.\n"
    "\n"
    "OPTIONS\n"
    "    --pfx FILE            signing certificate and key (required)\n"
    "    --password-file FILE  PFX password (first line of FILE)\n"
    "    --description TEXT    program name shown in the signature details\n"
    "    --url URL             more-information link shown in the signature details\n"
    "    -o, --out FILE        write the signed cabinet here instead of in place\n";

const char cli_verify_manual[] =
    "NAME\n"
    "    patchpoint verify - would a Windows client trust this signed cabinet?\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint verify [--machine DIR] [--policy wsus|authenticode] [--sha1 DIGEST]\n"
    "                      [--sha256 DIGEST] [--json] FILE.cab\n"
    "\n"
    "DESCRIPTION\n"
    "    Runs the trust decision a device makes before installing third-party update\n"
    "    content and prints OK, or the HRESULT Windows reports, as\n"
    "        0x800B0109 CERT_E_UNTRUSTEDROOT: <Windows message>\n"
    "    followed on stderr by one line saying which certificate, store or policy value\n"
    "    caused it. Checks, first failure wins: a signature is present (0x800B0100); the\n"
    "    digest matches the content (0x80096010); the file matches the metadata digests\n"
    "    given with --sha1/--sha256 (0x80246002); no certificate of the chain is in\n"
    "    Disallowed (0x800B0111); a chain can be built (0x800B010A); it ends in a root in\n"
    "    Root (0x800B0109); with the wsus policy, AcceptTrustedPublisherCerts is 1\n"
    "    (0x800B0109) and the signer is in TrustedPublisher (0x800B0004); the signer may\n"
    "    sign code (0x800B0110); it is inside its validity period or the signature carries\n"
    "    a valid timestamp (0x800B0101).\n"
    "\n"
    "OPTIONS\n"
    "    --machine DIR    the device's machine directory (stores and policy values;\n"
    "                     default $PATCHPOINT_MACHINE or /var/lib/patchpoint/machine)\n"
    "    --policy NAME    wsus (default): the Windows Update rule, Root chain plus\n"
    "                     TrustedPublisher plus AcceptTrustedPublisherCerts = 1;\n"
    "                     authenticode: the chain to a trusted root only\n"
    "    --sha1 DIGEST    the SHA-1 the update metadata records (Base64 or hex)\n"
    "    --sha256 DIGEST  the SHA-256 the update metadata records (Base64 or hex)\n"
    "    --json           print the decision as JSON\n"
    "\n"
    "EXIT STATUS\n"
    "    0 trusted, 1 not trusted (or unreadable), 2 usage error.\n";

enum {
	OPT_PFX = 256,
	OPT_PASSWORD_FILE,
	OPT_DESCRIPTION,
	OPT_URL,
	OPT_MACHINE,
	OPT_POLICY,
	OPT_SHA1,
	OPT_SHA256,
	OPT_JSON,
};

int cli_sign(struct cli *cli, int argc, char **argv)
{
	static const struct option options[] = {
	    {"pfx", required_argument, NULL, OPT_PFX},
	    {"password-file", required_argument, NULL, OPT_PASSWORD_FILE},
	    {"description", required_argument, NULL, OPT_DESCRIPTION},
	    {"url", required_argument, NULL, OPT_URL},
	    {"out", required_argument, NULL, 'o'},
	    {NULL, 0, NULL, 0},
	};
	const char *pfx = NULL, *password_file = NULL, *out = NULL;
	struct authenticode_signer signer;
	struct pki_credential *cred = NULL;
	struct pp_error err;
	char thumb[PKI_THUMBPRINT_LEN + 1], name[256];
	const char *description = NULL, *url = NULL;
	int c, rc = CLI_EXIT_FAIL;

	if (cli_wants_help(argc, argv))
		return cli_manual(cli_sign_manual);
	pp_error_clear(&err);
	optind = 0;
	while ((c = getopt_long(argc, argv, "o:", options, NULL)) != -1) {
		switch (c) {
		case OPT_PFX:
			pfx = optarg;
			break;
		case OPT_PASSWORD_FILE:
			password_file = optarg;
			break;
		case OPT_DESCRIPTION:
			description = optarg;
			break;
		case OPT_URL:
			url = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		default:
			return cli_usage("sign", "invalid option");
		}
	}
	if (pfx == NULL)
		return cli_usage("sign", "--pfx FILE is required");
	if (argc - optind != 1)
		return cli_usage("sign", "expected one cabinet");
	cred = cli_load_credential(pfx, password_file, true, &err);
	if (cred == NULL)
		goto fail;
	authenticode_signer_init_key(&signer, cred->cert, cred->chain, cred->key);
	signer.description = description;
	signer.url = url;
	if (authenticode_sign_cab(argv[optind], out, &signer, &err) != 0)
		goto fail;
	pki_thumbprint(cred->cert, thumb);
	pki_simple_name(cred->cert, name, sizeof(name));
	printf("Signed %s with \"%s\" (%s)\n", out != NULL ? out : argv[optind], name, thumb);
	cli_log(cli, CMTRACE_INFO, "Signed %s with certificate %s", out ? out : argv[optind],
		thumb);
	rc = CLI_EXIT_OK;
	goto out;
fail:
	rc = cli_fail(cli, &err);
out:
	pki_credential_free(cred);
	return rc;
}

/* Decodes a metadata digest given as hex or Base64 into out (exactly len bytes). */
static int parse_digest(const char *text, uint8_t *out, size_t len)
{
	size_t n = strlen(text), i;
	uint8_t buf[64];
	int decoded;

	if (n == 2 * len) {
		for (i = 0; i < len; i++) {
			unsigned v;

			if (sscanf(text + 2 * i, "%2x", &v) != 1)
				return -1;
			out[i] = (uint8_t)v;
		}
		return 0;
	}
	if (n == 0 || n > 4 * ((sizeof(buf) + 2) / 3) || n % 4 != 0)
		return -1;
	decoded = EVP_DecodeBlock(buf, (const unsigned char *)text, (int)n);
	/* EVP_DecodeBlock counts the padding bytes in its result. */
	if (decoded < 0)
		return -1;
	if (text[n - 1] == '=')
		decoded--;
	if (n > 1 && text[n - 2] == '=')
		decoded--;
	if ((size_t)decoded != len)
		return -1;
	memcpy(out, buf, len);
	return 0;
}

int cli_verify(struct cli *cli, int argc, char **argv)
{
	static const struct option options[] = {
	    {"machine", required_argument, NULL, OPT_MACHINE},
	    {"policy", required_argument, NULL, OPT_POLICY},
	    {"sha1", required_argument, NULL, OPT_SHA1},
	    {"sha256", required_argument, NULL, OPT_SHA256},
	    {"json", no_argument, NULL, OPT_JSON},
	    {NULL, 0, NULL, 0},
	};
	struct trust_request req = {.policy = TRUST_POLICY_WSUS};
	struct trust_result res;
	struct pp_error err;
	uint8_t sha1[20], sha256[32];
	const char *machine = NULL;
	char line[512];
	bool json = false;
	int c;

	if (cli_wants_help(argc, argv))
		return cli_manual(cli_verify_manual);
	pp_error_clear(&err);
	optind = 0;
	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (c) {
		case OPT_MACHINE:
			machine = optarg;
			break;
		case OPT_POLICY:
			if (trust_parse_policy(optarg, &req.policy, &err) != 0)
				return cli_usage("verify", "%s", err.message);
			break;
		case OPT_SHA1:
			if (parse_digest(optarg, sha1, sizeof(sha1)) != 0)
				return cli_usage(
				    "verify", "--sha1 must be 20 bytes in Base64 or hex, not '%s'",
				    optarg);
			req.expected_sha1 = sha1;
			break;
		case OPT_SHA256:
			if (parse_digest(optarg, sha256, sizeof(sha256)) != 0)
				return cli_usage("verify",
						 "--sha256 must be 32 bytes in Base64 or hex, not "
						 "'%s'",
						 optarg);
			req.expected_sha256 = sha256;
			break;
		case OPT_JSON:
			json = true;
			break;
		default:
			return cli_usage("verify", "invalid option");
		}
	}
	if (argc - optind != 1)
		return cli_usage("verify", "expected one cabinet");
	req.machine = cli_machine_dir(machine);
	(void)trust_evaluate_cab(argv[optind], &req, &res);
	if (json) {
		char hr[16];

		(void)snprintf(hr, sizeof(hr), "0x%08X", (unsigned)res.hr);
		cli_print_json(json_pack(
		    "{s:s, s:b, s:s, s:s, s:s, s:s, s:s, s:s}", "file", argv[optind], "trusted",
		    res.hr == HR_S_OK, "hresult", hr, "symbol", hresult_symbol(res.hr), "message",
		    hresult_message(res.hr), "detail", res.detail, "signer", res.signer_subject,
		    "signer_thumbprint", res.signer_thumbprint));
	} else if (res.hr == HR_S_OK) {
		printf("OK\n");
	} else {
		printf("%s\n", hresult_format(res.hr, line, sizeof(line)));
	}
	if (res.hr != HR_S_OK) {
		fflush(stdout); /* the HRESULT line first, then why */
		if (res.detail[0] != '\0')
			fprintf(stderr, "patchpoint: %s: %s\n", argv[optind], res.detail);
		cli_log(cli, CMTRACE_ERROR, "Verification of %s failed with 0x%08x: %s",
			argv[optind], (unsigned)res.hr, res.detail);
		return CLI_EXIT_FAIL;
	}
	cli_log(cli, CMTRACE_INFO, "Verification of %s succeeded (signer %s)", argv[optind],
		res.signer_thumbprint);
	return CLI_EXIT_OK;
}
