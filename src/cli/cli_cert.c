/* cli_cert.c - patchpoint cert new|show|check|export: the WSUS signing certificate. */
#include "cli.h"

#include "certstore.h"
#include "hresult.h"
#include "pki.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

static const char cert_new_manual[] =
    "NAME\n"
    "    patchpoint cert new - create a self-signed WSUS code-signing certificate\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint cert new [--subject DN] [--days N] [--bits N] [--no-export]\n"
    "                        --out-pfx FILE [--out-cer FILE] [--password-file FILE] [--force]\n"
    "                        [--json]\n"
    "\n"
    "DESCRIPTION\n"
    "    Generates an RSA key and a self-signed certificate that meets the WSUS signing\n"
    "    requirements: SHA-256, Enhanced Key Usage Code Signing, Key Usage Digital Signature,\n"
    "    Basic Constraints CA:FALSE, a 16-byte random serial number. The PFX holds the\n"
    "    private key (file mode 0600); the .cer holds the public certificate only, which is\n"
    "    what devices import into Trusted Root Certification Authorities and Trusted\n"
    "    Publishers.\n"
    "\n"
    "OPTIONS\n"
    "    --subject DN          subject and issuer, e.g. \"CN=Contoso Updates, O=Contoso\"\n"
    "                          (default \"CN=patchpoint Publisher\"; Configuration Manager's\n"
    "                          own is \"CN=WSUS Publishers Self-signed\")\n"
    "    --days N              validity in days from now (default 1826, five years)\n"
    "    --bits N              RSA key size: 2048 (default), 3072 or 4096\n"
    "    --no-export           mark the key non-exportable: 'cert export' then refuses to\n"
    "                          write it into another PFX\n"
    "    --out-pfx FILE        where to write the PFX (required)\n"
    "    --out-cer FILE        also write the public certificate (DER .cer)\n"
    "    --password-file FILE  PFX password from the first line of FILE (default: empty\n"
    "                          password, with a warning)\n"
    "    --force               replace existing output files\n"
    "    --json                print the result as JSON\n"
    "\n"
    "EXIT STATUS\n"
    "    0 created, 1 failed (nothing written), 2 usage error.\n"
    "\n"
    "EXAMPLE\n"
    "    patchpoint cert new --subject \"CN=Contoso Updates\" --out-pfx signing.pfx \\\n"
    "        --out-cer WSUSSigningCertificate.cer --password-file pw.txt\n";

static const char cert_show_manual[] =
    "NAME\n"
    "    patchpoint cert show - the fields of a certificate, as the console shows them\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint cert show FILE [--password-file FILE] [--machine DIR] [--json]\n"
    "\n"
    "DESCRIPTION\n"
    "    FILE is a PFX, PEM or DER certificate. Prints Issuer, Subject, Effective Date,\n"
    "    Expiration Date, Cert Usage, Public Key, Thumbprint, whether the certificate is in\n"
    "    the Trusted Publishers and Trusted Root Certification Authorities stores of the\n"
    "    machine, whether it is self-signed, and whether a private key came with it.\n"
    "\n"
    "OPTIONS\n"
    "    --password-file FILE  PFX password (first line of FILE)\n"
    "    --machine DIR         machine whose stores are consulted (default\n"
    "                          $PATCHPOINT_MACHINE or /var/lib/patchpoint/machine)\n"
    "    --json                print the fields as JSON\n";

static const char cert_check_manual[] =
    "NAME\n"
    "    patchpoint cert check - does a certificate meet the WSUS signing requirements?\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint cert check FILE [--password-file FILE] [--public-only] [--json]\n"
    "\n"
    "DESCRIPTION\n"
    "    Checks: RSA key of at least 2048 bits (ECDSA is refused), Enhanced Key Usage Code\n"
    "    Signing or no EKU extension, Key Usage Digital Signature when Key Usage is present,\n"
    "    inside its validity period now, and a private key that matches the certificate.\n"
    "    Prints one line per failed requirement.\n"
    "\n"
    "OPTIONS\n"
    "    --password-file FILE  PFX password (first line of FILE)\n"
    "    --public-only         check a public certificate (.cer) without the key requirement\n"
    "    --json                print the result as JSON\n"
    "\n"
    "EXIT STATUS\n"
    "    0 the certificate meets every requirement, 1 it does not (or cannot be read),\n"
    "    2 usage error.\n";

static const char cert_export_manual[] =
    "NAME\n"
    "    patchpoint cert export - export the public certificate (or a PFX)\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint cert export FILE --out FILE.cer [--password-file FILE]\n"
    "    patchpoint cert export FILE --out FILE.pfx [--password-file FILE]\n"
    "                           [--out-password-file FILE]\n"
    "\n"
    "DESCRIPTION\n"
    "    With an --out name ending in .cer (or .crt/.der), writes the public certificate only,\n"
    "    DER-encoded, even when the private key is exportable: that is the file to deploy to\n"
    "    devices. With .pfx or .p12, writes the certificate with its private key, which is\n"
    "    refused for a key created with --no-export (NTE_BAD_KEY_STATE).\n"
    "\n"
    "OPTIONS\n"
    "    --out FILE                 output file (required)\n"
    "    --password-file FILE       password of the input PFX\n"
    "    --out-password-file FILE   password of the output PFX (default: the input's)\n"
    "    --force                    replace an existing output file\n";

enum {
	OPT_SUBJECT = 256,
	OPT_DAYS,
	OPT_BITS,
	OPT_NO_EXPORT,
	OPT_OUT_PFX,
	OPT_OUT_CER,
	OPT_PASSWORD_FILE,
	OPT_FORCE,
	OPT_JSON,
	OPT_MACHINE,
	OPT_PUBLIC_ONLY,
	OPT_OUT,
	OPT_OUT_PASSWORD_FILE,
};

static bool file_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

static int cert_new(struct cli *cli, int argc, char **argv)
{
	static const struct option options[] = {
	    {"subject", required_argument, NULL, OPT_SUBJECT},
	    {"days", required_argument, NULL, OPT_DAYS},
	    {"bits", required_argument, NULL, OPT_BITS},
	    {"no-export", no_argument, NULL, OPT_NO_EXPORT},
	    {"out-pfx", required_argument, NULL, OPT_OUT_PFX},
	    {"out-cer", required_argument, NULL, OPT_OUT_CER},
	    {"password-file", required_argument, NULL, OPT_PASSWORD_FILE},
	    {"force", no_argument, NULL, OPT_FORCE},
	    {"json", no_argument, NULL, OPT_JSON},
	    {NULL, 0, NULL, 0},
	};
	struct pki_new_options opts = {.subject = PKI_DEFAULT_SUBJECT_PUBLISHER,
				       .days = PKI_DEFAULT_DAYS_PUBLISHER,
				       .bits = 2048,
				       .exportable = true};
	const char *out_pfx = NULL, *out_cer = NULL, *password_file = NULL;
	bool force = false, json = false;
	char password[CLI_PASSWORD_MAX + 1];
	struct pki_credential *cred = NULL;
	struct pki_show show;
	struct pp_error err;
	long n;
	int c, rc = CLI_EXIT_FAIL;

	pp_error_clear(&err);
	password[0] = '\0';
	optind = 0;
	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (c) {
		case OPT_SUBJECT:
			opts.subject = optarg;
			break;
		case OPT_DAYS:
			if (cli_parse_int(optarg, 1, 36500, &n) != 0)
				return cli_usage("cert new", "--days must be 1..36500, not '%s'",
						 optarg);
			opts.days = (int)n;
			break;
		case OPT_BITS:
			if (cli_parse_int(optarg, 1, 16384, &n) != 0 ||
			    (n != 2048 && n != 3072 && n != 4096))
				return cli_usage("cert new",
						 "--bits must be 2048, 3072 or 4096, not '%s'",
						 optarg);
			opts.bits = (int)n;
			break;
		case OPT_NO_EXPORT:
			opts.exportable = false;
			break;
		case OPT_OUT_PFX:
			out_pfx = optarg;
			break;
		case OPT_OUT_CER:
			out_cer = optarg;
			break;
		case OPT_PASSWORD_FILE:
			password_file = optarg;
			break;
		case OPT_FORCE:
			force = true;
			break;
		case OPT_JSON:
			json = true;
			break;
		default:
			return cli_usage("cert new", "invalid option");
		}
	}
	if (optind != argc)
		return cli_usage("cert new", "unexpected argument '%s'", argv[optind]);
	if (out_pfx == NULL)
		return cli_usage("cert new", "--out-pfx FILE is required");
	if (!force && file_exists(out_pfx))
		return cli_failf(cli, "%s already exists; use --force to replace it", out_pfx);
	if (!force && out_cer != NULL && file_exists(out_cer))
		return cli_failf(cli, "%s already exists; use --force to replace it", out_cer);
	if (cli_read_password(password_file, password, sizeof(password), &err) != 0)
		goto fail;

	cred = pki_credential_generate(&opts, &err);
	if (cred == NULL)
		goto fail;
	if (pki_store_new_pfx(cred, out_pfx, password, &err) != 0)
		goto fail;
	if (out_cer != NULL && pki_export_cer(cred->cert, out_cer, &err) != 0) {
		(void)unlink(out_pfx);
		goto fail;
	}
	if (pki_show_fields(cred->cert, &show, &err) != 0)
		goto fail;
	if (password_file == NULL)
		fprintf(stderr,
			"patchpoint: warning: %s is protected by an empty password; use "
			"--password-file to set one\n",
			out_pfx);
	cli_log(cli, CMTRACE_INFO, "Created certificate %s, thumbprint %s, in %s", show.subject,
		show.thumbprint, out_pfx);
	if (json) {
		json_t *doc =
		    json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:s, s:s?}", "subject", show.subject,
			      "thumbprint", show.thumbprint, "expiration", show.expiration,
			      "public_key", show.public_key, "pfx", out_pfx, "exportable",
			      opts.exportable, "effective", show.effective, "cer", out_cer);
		cli_print_json(doc);
	} else {
		printf("Created certificate \"%s\"\n", show.subject);
		printf("  Thumbprint:      %s\n", show.thumbprint);
		printf("  Public Key:      %s\n", show.public_key);
		printf("  Effective Date:  %s\n", show.effective);
		printf("  Expiration Date: %s\n", show.expiration);
		printf("  Private key:     %s (%s, mode 0600)\n", out_pfx,
		       opts.exportable ? "exportable" : "not exportable");
		if (out_cer != NULL)
			printf("  Certificate:     %s (public only, for devices)\n", out_cer);
	}
	rc = CLI_EXIT_OK;
	goto out;
fail:
	rc = cli_fail(cli, &err);
out:
	OPENSSL_cleanse(password, sizeof(password));
	pki_credential_free(cred);
	return rc;
}

static const char *yes_no(bool b)
{
	return b ? "Yes" : "No";
}

static int cert_show(struct cli *cli, int argc, char **argv)
{
	static const struct option options[] = {
	    {"password-file", required_argument, NULL, OPT_PASSWORD_FILE},
	    {"machine", required_argument, NULL, OPT_MACHINE},
	    {"json", no_argument, NULL, OPT_JSON},
	    {NULL, 0, NULL, 0},
	};
	const char *password_file = NULL, *machine = NULL;
	struct pki_credential *cred = NULL;
	struct pki_show show;
	struct pp_error err;
	bool json = false, trusted_publisher, trusted_root;
	int c, rc;

	pp_error_clear(&err);
	optind = 0;
	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (c) {
		case OPT_PASSWORD_FILE:
			password_file = optarg;
			break;
		case OPT_MACHINE:
			machine = optarg;
			break;
		case OPT_JSON:
			json = true;
			break;
		default:
			return cli_usage("cert show", "invalid option");
		}
	}
	if (argc - optind != 1)
		return cli_usage("cert show", "expected one certificate file");
	machine = cli_machine_dir(machine);
	cred = cli_load_credential(argv[optind], password_file, false, &err);
	if (cred == NULL || pki_show_fields(cred->cert, &show, &err) != 0) {
		rc = cli_fail(cli, &err);
		goto out;
	}
	trusted_publisher =
	    certstore_contains(machine, CERTSTORE_TRUSTED_PUBLISHER, CERTSTORE_LOGICAL, cred->cert);
	trusted_root = certstore_contains(machine, CERTSTORE_ROOT, CERTSTORE_LOGICAL, cred->cert);
	if (json) {
		json_t *doc = json_pack(
		    "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:b, s:b, s:b, s:s}", "issuer",
		    show.issuer, "subject", show.subject, "effective_date", show.effective,
		    "expiration_date", show.expiration, "cert_usage", show.usage, "public_key",
		    show.public_key, "thumbprint", show.thumbprint, "serial_number", show.serial,
		    "trusted_publisher", trusted_publisher, "trusted_root", trusted_root,
		    "self_signed", show.self_signed, "private_key", cred->key != NULL,
		    "signature_algorithm", show.signature_algorithm);
		cli_print_json(doc);
	} else {
		printf("Issuer:                  %s\n", show.issuer);
		printf("Subject:                 %s\n", show.subject);
		printf("Effective Date:          %s\n", show.effective);
		printf("Expiration Date:         %s\n", show.expiration);
		printf("Cert Usage:              %s\n", show.usage);
		printf("Public Key:              %s\n", show.public_key);
		printf("Thumbprint:              %s\n", show.thumbprint);
		printf("Serial Number:           %s\n", show.serial);
		printf("Signature Algorithm:     %s\n", show.signature_algorithm);
		printf("Trusted Publisher:       %s\n", yes_no(trusted_publisher));
		printf("Trusted Root Authority:  %s\n", yes_no(trusted_root));
		printf("Self Signed:             %s\n", yes_no(show.self_signed));
		printf("Private Key:             %s\n", cred->key == NULL ? "No"
							: cred->exportable
							    ? "Yes (exportable)"
							    : "Yes (not exportable)");
	}
	rc = CLI_EXIT_OK;
out:
	pki_credential_free(cred);
	return rc;
}

static int cert_check(struct cli *cli, int argc, char **argv)
{
	static const struct option options[] = {
	    {"password-file", required_argument, NULL, OPT_PASSWORD_FILE},
	    {"public-only", no_argument, NULL, OPT_PUBLIC_ONLY},
	    {"json", no_argument, NULL, OPT_JSON},
	    {NULL, 0, NULL, 0},
	};
	const char *password_file = NULL;
	struct pki_credential *cred = NULL;
	struct pki_check check;
	struct pp_error err;
	bool json = false, public_only = false;
	char name[256];
	int c, i, j, rc;

	pp_error_clear(&err);
	optind = 0;
	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (c) {
		case OPT_PASSWORD_FILE:
			password_file = optarg;
			break;
		case OPT_PUBLIC_ONLY:
			public_only = true;
			break;
		case OPT_JSON:
			json = true;
			break;
		default:
			return cli_usage("cert check", "invalid option");
		}
	}
	if (argc - optind != 1)
		return cli_usage("cert check", "expected one certificate file");
	cred = cli_load_credential(argv[optind], password_file, false, &err);
	if (cred == NULL) {
		rc = cli_fail(cli, &err);
		goto out;
	}
	(void)pki_check_wsus(cred->cert, cred->key, time(NULL), &check);
	if (public_only && cred->key == NULL) {
		/* Drop the key requirement: the caller asked about the certificate alone. */
		for (i = 0, j = 0; i < check.failed; i++) {
			if (strstr(check.reasons[i], "private key") != NULL)
				continue;
			if (i != j)
				memcpy(check.reasons[j], check.reasons[i],
				       sizeof(check.reasons[j]));
			j++;
		}
		check.failed = j;
	}
	pki_simple_name(cred->cert, name, sizeof(name));
	if (json) {
		json_t *reasons = json_array();

		for (i = 0; i < check.failed; i++)
			json_array_append_new(reasons, json_string(check.reasons[i]));
		cli_print_json(json_pack("{s:s, s:b, s:o}", "certificate", name,
					 "meets_requirements", check.failed == 0, "reasons",
					 reasons));
	} else if (check.failed == 0) {
		printf("OK: \"%s\" meets the WSUS signing requirements\n", name);
	} else {
		printf("\"%s\" does not meet the WSUS signing requirements:\n", name);
		for (i = 0; i < check.failed; i++)
			printf("  - %s\n", check.reasons[i]);
		if (cred->key == NULL)
			printf("  (this file holds no private key; --public-only checks the "
			       "certificate alone)\n");
	}
	if (check.failed != 0) {
		fprintf(stderr, "patchpoint: %s: %d WSUS signing requirement%s not met\n",
			argv[optind], check.failed, check.failed == 1 ? "" : "s");
		cli_log(cli, CMTRACE_WARNING, "%s does not meet %d WSUS signing requirements", name,
			check.failed);
	}
	rc = check.failed == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
out:
	pki_credential_free(cred);
	return rc;
}

static bool has_suffix(const char *s, const char *suffix)
{
	size_t ls = strlen(s), lx = strlen(suffix);

	return ls >= lx && strcasecmp(s + ls - lx, suffix) == 0;
}

static int cert_export(struct cli *cli, int argc, char **argv)
{
	static const struct option options[] = {
	    {"out", required_argument, NULL, OPT_OUT},
	    {"password-file", required_argument, NULL, OPT_PASSWORD_FILE},
	    {"out-password-file", required_argument, NULL, OPT_OUT_PASSWORD_FILE},
	    {"force", no_argument, NULL, OPT_FORCE},
	    {NULL, 0, NULL, 0},
	};
	const char *out = NULL, *password_file = NULL, *out_password_file = NULL;
	struct pki_credential *cred = NULL;
	struct pp_error err;
	char password[CLI_PASSWORD_MAX + 1], thumbprint[PKI_THUMBPRINT_LEN + 1];
	bool force = false, pfx;
	int c, rc = CLI_EXIT_FAIL;

	pp_error_clear(&err);
	password[0] = '\0';
	optind = 0;
	while ((c = getopt_long(argc, argv, "o:", options, NULL)) != -1) {
		switch (c) {
		case 'o':
		case OPT_OUT:
			out = optarg;
			break;
		case OPT_PASSWORD_FILE:
			password_file = optarg;
			break;
		case OPT_OUT_PASSWORD_FILE:
			out_password_file = optarg;
			break;
		case OPT_FORCE:
			force = true;
			break;
		default:
			return cli_usage("cert export", "invalid option");
		}
	}
	if (argc - optind != 1)
		return cli_usage("cert export", "expected one input file");
	if (out == NULL)
		return cli_usage("cert export", "--out FILE is required");
	pfx = has_suffix(out, ".pfx") || has_suffix(out, ".p12");
	if (!force && file_exists(out))
		return cli_failf(cli, "%s already exists; use --force to replace it", out);
	cred = cli_load_credential(argv[optind], password_file, false, &err);
	if (cred == NULL)
		goto fail;
	if (pfx) {
		if (cli_read_password(out_password_file != NULL ? out_password_file : password_file,
				      password, sizeof(password), &err) != 0)
			goto fail;
		if (pki_export_pfx(cred, out, password, &err) != 0)
			goto fail;
	} else if (pki_export_cer(cred->cert, out, &err) != 0) {
		goto fail;
	}
	pki_thumbprint(cred->cert, thumbprint);
	printf("Exported %s (%s) to %s\n", thumbprint,
	       pfx ? "certificate and private key" : "public certificate only, DER", out);
	cli_log(cli, CMTRACE_INFO, "Exported certificate %s to %s", thumbprint, out);
	rc = CLI_EXIT_OK;
	goto out;
fail:
	rc = cli_fail(cli, &err);
out:
	OPENSSL_cleanse(password, sizeof(password));
	pki_credential_free(cred);
	return rc;
}

int cli_cert(struct cli *cli, int argc, char **argv)
{
	static const struct cli_verb verbs[] = {
	    {"new", "create a self-signed WSUS code-signing certificate", cert_new_manual,
	     cert_new},
	    {"show", "the fields of a certificate", cert_show_manual, cert_show},
	    {"check", "check the WSUS signing requirements", cert_check_manual, cert_check},
	    {"export", "export the public certificate (.cer) or a PFX", cert_export_manual,
	     cert_export},
	};

	return cli_dispatch(cli, "cert", verbs, sizeof(verbs) / sizeof(verbs[0]), argc - 1,
			    argv + 1);
}
