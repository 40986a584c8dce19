/* cli_certutil.c - patchpoint certutil: the certutil.exe verbs administrators already type,
 * on the directory stores of a machine (formats.md 6). */
#include "cli.h"

#include "certstore.h"
#include "hresult.h"
#include "pki.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

const char cli_certutil_manual[] =
    "NAME\n"
    "    patchpoint certutil - certutil.exe verbs on a machine's certificate stores\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint certutil [--machine DIR] [-f] [-GroupPolicy] -addstore STORE FILE\n"
    "    patchpoint certutil [--machine DIR] [-GroupPolicy] -delstore STORE CERTID\n"
    "    patchpoint certutil [--machine DIR] [-GroupPolicy] [--json] -store [STORE [CERTID]]\n"
    "    patchpoint certutil -dump FILE\n"
    "\n"
    "DESCRIPTION\n"
    "    STORE is My, Root, CA, TrustedPublisher or Disallowed (any case). FILE is a\n"
    "    certificate in DER or PEM/Base64, as certutil.exe accepts. CERTID is a SHA-1\n"
    "    thumbprint (spaces and colons allowed), a serial number, an index or a subject CN.\n"
    "    The stores are the machine's local physical stores; -GroupPolicy works on the group\n"
    "    policy stores instead. -store without a STORE lists every store. Trust decisions\n"
    "    use the union of both (the logical store), as Windows does.\n"
    "\n"
    "OPTIONS\n"
    "    --machine DIR   machine directory (default $PATCHPOINT_MACHINE or\n"
    "                    /var/lib/patchpoint/machine)\n"
    "    -f              -addstore: rewrite a certificate that is already in the store\n"
    "    -GroupPolicy    use the group policy stores\n"
    "    --json          -store: print the stores and their certificates as JSON\n"
    "\n"
    "DIFFERENCES FROM certutil.exe\n"
    "    -delstore with a CERTID that matches nothing fails with CRYPT_E_NOT_FOUND (exit 1)\n"
    "    instead of reporting success; -user and -enterprise stores do not exist here.\n"
    "\n"
    "EXIT STATUS\n"
    "    0 completed successfully, 1 the command FAILED, 2 usage error.\n"
    "\n"
    "EXAMPLES\n"
    "    patchpoint certutil -addstore Root WSUSSigningCertificate.cer\n"
    "    patchpoint certutil -addstore TrustedPublisher WSUSSigningCertificate.cer\n"
    "    patchpoint certutil -store TrustedPublisher \"patchpoint Publisher\"\n";

/* Prints certutil's failure lines and returns 1. */
static int certutil_failed(const char *verb, const struct pp_error *err)
{
	uint32_t code = err->code != 0 ? err->code : HR_E_FAIL;

	fprintf(stderr, "CertUtil: %s command FAILED: 0x%08x (%d %s)\n", verb, (unsigned)code,
		(int)(int32_t)code, hresult_symbol(code));
	fprintf(stderr, "CertUtil: %s\n", hresult_message(code));
	if (err->message[0] != '\0')
		fprintf(stderr, "patchpoint: %s\n", err->message);
	return CLI_EXIT_FAIL;
}

static void certutil_completed(const char *verb)
{
	printf("CertUtil: %s command completed successfully.\n", verb);
}

static void print_store_title(enum certstore_id id)
{
	printf("%s \"%s\"\n", certstore_name(id), certstore_display_name(id));
}

/* certutil's date form: "4/25/2026 6:15 PM" (here in UTC). */
static void certutil_time(const ASN1_TIME *t, char *out, size_t size)
{
	struct tm tm;
	int hour;

	if (ASN1_TIME_to_tm(t, &tm) != 1) {
		(void)snprintf(out, size, "(invalid time)");
		return;
	}
	hour = tm.tm_hour % 12 == 0 ? 12 : tm.tm_hour % 12;
	(void)snprintf(out, size, "%d/%d/%d %d:%02d %s", tm.tm_mon + 1, tm.tm_mday,
		       tm.tm_year + 1900, hour, tm.tm_min, tm.tm_hour < 12 ? "AM" : "PM");
}

static void print_signature_lines(X509 *cert)
{
	if (pki_is_self_signed(cert)) {
		printf("Signature matches Public Key\n");
		printf("Root Certificate: Subject matches Issuer\n");
	} else {
		printf("Non-root Certificate\n");
	}
}

/* One certificate as -store prints it. */
static void print_store_entry(int index, X509 *cert)
{
	struct pki_show show;
	struct pp_error err;
	char when[64];
	size_t i;

	pp_error_clear(&err);
	if (pki_show_fields(cert, &show, &err) != 0)
		return;
	printf("================ Certificate %d ================\n", index);
	printf("Serial Number: %s\n", show.serial);
	printf("Issuer: %s\n", show.issuer);
	certutil_time(X509_get0_notBefore(cert), when, sizeof(when));
	printf(" NotBefore: %s\n", when);
	certutil_time(X509_get0_notAfter(cert), when, sizeof(when));
	printf(" NotAfter: %s\n", when);
	printf("Subject: %s\n", show.subject);
	print_signature_lines(cert);
	for (i = 0; show.thumbprint[i] != '\0'; i++)
		show.thumbprint[i] = (char)tolower((unsigned char)show.thumbprint[i]);
	printf("Cert Hash(sha1): %s\n", show.thumbprint);
	printf("No key provider information\n\n");
}

static int certutil_addstore(struct cli *cli, const char *machine, enum certstore_layer layer,
			     bool force, const char *store_name, const char *file)
{
	enum certstore_id id;
	struct pp_error err;
	X509 *cert = NULL;
	bool already = false;
	char name[256], thumb[PKI_THUMBPRINT_LEN + 1];
	int rc = CLI_EXIT_FAIL;

	pp_error_clear(&err);
	if (certstore_parse_name(store_name, &id, &err) != 0)
		return certutil_failed("-addstore", &err);
	cert = pki_cert_load(file, &err);
	if (cert == NULL)
		return certutil_failed("-addstore", &err);
	print_store_title(id);
	if (pki_is_self_signed(cert))
		printf("Signature matches Public Key\n");
	pki_simple_name(cert, name, sizeof(name));
	if (certstore_add(machine, id, layer, cert, force, &already, &err) != 0) {
		rc = certutil_failed("-addstore", &err);
		goto out;
	}
	pki_thumbprint(cert, thumb);
	if (already && !force)
		printf("Certificate \"%s\" already in store.\n", name);
	else
		printf("Certificate \"%s\" added to store.\n", name);
	cli_log(cli, CMTRACE_INFO, "Certificate %s (%s) %s %s store %s", name, thumb,
		already && !force ? "already in" : "added to",
		layer == CERTSTORE_POLICY ? "group policy" : "local", certstore_name(id));
	certutil_completed("-addstore");
	rc = CLI_EXIT_OK;
out:
	X509_free(cert);
	return rc;
}

static int certutil_delstore(struct cli *cli, const char *machine, enum certstore_layer layer,
			     const char *store_name, const char *certid)
{
	enum certstore_id id;
	STACK_OF(X509) *matches = NULL;
	struct pp_error err;
	int i, rc = CLI_EXIT_FAIL;

	pp_error_clear(&err);
	if (certstore_parse_name(store_name, &id, &err) != 0)
		return certutil_failed("-delstore", &err);
	print_store_title(id);
	matches = certstore_find(machine, id, layer, certid, &err);
	if (matches == NULL)
		return certutil_failed("-delstore", &err);
	if (sk_X509_num(matches) == 0) {
		pp_error_set(&err, HR_CRYPT_E_NOT_FOUND, "no certificate in %s matches \"%s\"",
			     certstore_name(id), certid);
		rc = certutil_failed("-delstore", &err);
		goto out;
	}
	for (i = 0; i < sk_X509_num(matches); i++) {
		X509 *cert = sk_X509_value(matches, i);
		char thumb[PKI_THUMBPRINT_LEN + 1], subject[512];
		bool removed = false;
		size_t k;

		pki_thumbprint(cert, thumb);
		X509_NAME_oneline(X509_get_subject_name(cert), subject, sizeof(subject));
		if (certstore_remove(machine, id, layer, thumb, &removed, &err) != 0) {
			rc = certutil_failed("-delstore", &err);
			goto out;
		}
		for (k = 0; thumb[k] != '\0'; k++)
			thumb[k] = (char)tolower((unsigned char)thumb[k]);
		pki_simple_name(cert, subject, sizeof(subject));
		printf("Deleting Certificate %d: CN=%s:%s\n", i, subject, thumb);
		cli_log(cli, CMTRACE_INFO, "Certificate %s deleted from store %s", thumb,
			certstore_name(id));
	}
	certutil_completed("-delstore");
	rc = CLI_EXIT_OK;
out:
	sk_X509_pop_free(matches, X509_free);
	return rc;
}

/* The fields of one certificate for -store --json. */
static json_t *store_entry_json(int index, X509 *cert)
{
	struct pki_show show;
	struct pp_error err;

	pp_error_clear(&err);
	if (pki_show_fields(cert, &show, &err) != 0)
		return json_pack("{s:i, s:s}", "index", index, "error", err.message);
	return json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:b}", "index", index,
			 "thumbprint", show.thumbprint, "subject", show.subject, "issuer",
			 show.issuer, "serial_number", show.serial, "not_before", show.effective,
			 "not_after", show.expiration, "public_key", show.public_key, "self_signed",
			 show.self_signed);
}

/* Lists one store, as text or (json != NULL) appended to the json array. */
static int certutil_store_one(const char *machine, enum certstore_layer layer, enum certstore_id id,
			      const char *certid, json_t *json, struct pp_error *err)
{
	STACK_OF(X509) * certs;
	json_t *entries = NULL;
	int i;

	if (certid != NULL)
		certs = certstore_find(machine, id, layer, certid, err);
	else
		certs = certstore_load(machine, id, layer, err);
	if (certs == NULL)
		return -1;
	if (certid != NULL && sk_X509_num(certs) == 0) {
		sk_X509_pop_free(certs, X509_free);
		pp_error_set(err, HR_NTE_NOT_FOUND, "no certificate in %s matches \"%s\"",
			     certstore_name(id), certid);
		return -1;
	}
	if (json != NULL) {
		entries = json_array();
		for (i = 0; i < sk_X509_num(certs); i++)
			json_array_append_new(entries,
					      store_entry_json(i, sk_X509_value(certs, i)));
		json_array_append_new(json,
				      json_pack("{s:s, s:s, s:s, s:o}", "store", certstore_name(id),
						"display_name", certstore_display_name(id), "layer",
						layer == CERTSTORE_POLICY ? "GroupPolicy" : "local",
						"certificates", entries));
	} else {
		print_store_title(id);
		for (i = 0; i < sk_X509_num(certs); i++)
			print_store_entry(i, sk_X509_value(certs, i));
	}
	sk_X509_pop_free(certs, X509_free);
	return 0;
}

static int certutil_store(const char *machine, enum certstore_layer layer, const char *store_name,
			  const char *certid, bool json)
{
	enum certstore_id id;
	struct pp_error err;
	json_t *stores = json ? json_array() : NULL;
	int i;

	pp_error_clear(&err);
	if (store_name == NULL) {
		for (i = 0; i < CERTSTORE_COUNT; i++) {
			if (certutil_store_one(machine, layer, (enum certstore_id)i, NULL, stores,
					       &err) != 0)
				goto failed;
		}
	} else if (certstore_parse_name(store_name, &id, &err) != 0 ||
		   certutil_store_one(machine, layer, id, certid, stores, &err) != 0) {
		goto failed;
	}
	if (json)
		cli_print_json(json_pack("{s:o}", "stores", stores));
	else
		certutil_completed("-store");
	return CLI_EXIT_OK;
failed:
	json_decref(stores);
	return certutil_failed("-store", &err);
}

/* The names Windows gives the extensions patchpoint's certificates carry. */
static const char *extension_name(int nid)
{
	switch (nid) {
	case NID_ext_key_usage:
		return "Enhanced Key Usage";
	case NID_key_usage:
		return "Key Usage";
	case NID_basic_constraints:
		return "Basic Constraints";
	case NID_subject_key_identifier:
		return "Subject Key Identifier";
	case NID_authority_key_identifier:
		return "Authority Key Identifier";
	case NID_subject_alt_name:
		return "Subject Alternative Name";
	case NID_crl_distribution_points:
		return "CRL Distribution Points";
	case NID_info_access:
		return "Authority Information Access";
	case NID_certificate_policies:
		return "Certificate Policies";
	default:
		return OBJ_nid2ln(nid) != NULL ? OBJ_nid2ln(nid) : "Unknown extension";
	}
}

static int certutil_dump(const char *file)
{
	struct pki_show show;
	struct pp_error err;
	X509 *cert;
	char when[64], oid[80];
	BIO *out;
	int i, n;

	pp_error_clear(&err);
	cert = pki_cert_load(file, &err);
	if (cert == NULL || pki_show_fields(cert, &show, &err) != 0) {
		X509_free(cert);
		return certutil_failed("-dump", &err);
	}
	out = BIO_new_fp(stdout, BIO_NOCLOSE);
	printf("X509 Certificate:\n");
	printf("Version: %ld\n", X509_get_version(cert) + 1);
	printf("Serial Number: %s\n", show.serial);
	{
		const X509_ALGOR *alg = NULL;
		const ASN1_OBJECT *obj = NULL;

		X509_get0_signature(NULL, &alg, cert);
		X509_ALGOR_get0(&obj, NULL, NULL, alg);
		OBJ_obj2txt(oid, sizeof(oid), obj, 1);
		printf("Signature Algorithm:\n    Algorithm ObjectId: %s %s\n", oid,
		       show.signature_algorithm);
	}
	printf("Issuer:\n    %s\n", show.issuer);
	certutil_time(X509_get0_notBefore(cert), when, sizeof(when));
	printf("\n NotBefore: %s\n", when);
	certutil_time(X509_get0_notAfter(cert), when, sizeof(when));
	printf(" NotAfter: %s\n\n", when);
	printf("Subject:\n    %s\n", show.subject);
	printf("\nPublic Key Algorithm:\n    %s\n", show.public_key);
	n = X509_get_ext_count(cert);
	printf("Certificate Extensions: %d\n", n);
	for (i = 0; i < n; i++) {
		X509_EXTENSION *ext = X509_get_ext(cert, i);
		ASN1_OBJECT *obj = X509_EXTENSION_get_object(ext);
		int critical = X509_EXTENSION_get_critical(ext);

		OBJ_obj2txt(oid, sizeof(oid), obj, 1);
		printf("    %s: Flags = %d%s, Length = %x\n", oid, critical,
		       critical ? "(Critical)" : "",
		       (unsigned)ASN1_STRING_length(X509_EXTENSION_get_data(ext)));
		printf("    %s\n", extension_name(OBJ_obj2nid(obj)));
		if (out == NULL || !X509V3_EXT_print(out, ext, 0, 8))
			printf("        (%d bytes)",
			       ASN1_STRING_length(X509_EXTENSION_get_data(ext)));
		(void)BIO_flush(out);
		printf("\n\n");
	}
	print_signature_lines(cert);
	for (i = 0; show.thumbprint[i] != '\0'; i++)
		show.thumbprint[i] = (char)tolower((unsigned char)show.thumbprint[i]);
	printf("Cert Hash(sha1): %s\n", show.thumbprint);
	BIO_free(out);
	X509_free(cert);
	certutil_completed("-dump");
	return CLI_EXIT_OK;
}

int cli_certutil(struct cli *cli, int argc, char **argv)
{
	const char *machine = NULL, *verb = NULL, *args[3] = {NULL, NULL, NULL};
	enum certstore_layer layer = CERTSTORE_LOCAL;
	bool force = false, json = false;
	int i, nargs = 0;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0 || strcmp(a, "-?") == 0)
			return cli_manual(cli_certutil_manual);
		if (strcmp(a, "--machine") == 0 && i + 1 < argc) {
			machine = argv[++i];
		} else if (strcmp(a, "--json") == 0) {
			json = true;
		} else if (strcmp(a, "-f") == 0) {
			force = true;
		} else if (strcasecmp(a, "-GroupPolicy") == 0) {
			layer = CERTSTORE_POLICY;
		} else if (strcasecmp(a, "-user") == 0 || strcasecmp(a, "-enterprise") == 0) {
			return cli_usage("certutil",
					 "%s: patchpoint has the local machine stores only", a);
		} else if (strcasecmp(a, "-addstore") == 0 || strcasecmp(a, "-delstore") == 0 ||
			   strcasecmp(a, "-store") == 0 || strcasecmp(a, "-dump") == 0) {
			if (verb != NULL)
				return cli_usage("certutil", "only one verb at a time (%s and %s)",
						 verb, a);
			verb = a;
		} else if (a[0] == '-' && a[1] != '\0') {
			return cli_usage("certutil", "unknown option '%s'", a);
		} else {
			if (nargs == 3)
				return cli_usage("certutil", "too many arguments");
			args[nargs++] = a;
		}
	}
	if (verb == NULL)
		return cli_usage("certutil", "expected -addstore, -delstore, -store or -dump");
	machine = cli_machine_dir(machine);
	if (strcasecmp(verb, "-addstore") == 0) {
		if (nargs != 2)
			return cli_usage("certutil", "-addstore needs STORE and FILE");
		return certutil_addstore(cli, machine, layer, force, args[0], args[1]);
	}
	if (strcasecmp(verb, "-delstore") == 0) {
		if (nargs != 2)
			return cli_usage("certutil", "-delstore needs STORE and CERTID");
		return certutil_delstore(cli, machine, layer, args[0], args[1]);
	}
	if (strcasecmp(verb, "-store") == 0) {
		if (nargs > 2)
			return cli_usage("certutil", "-store takes at most STORE and CERTID");
		return certutil_store(machine, layer, args[0], args[1], json);
	}
	if (nargs != 1)
		return cli_usage("certutil", "-dump needs FILE");
	return certutil_dump(args[0]);
}
