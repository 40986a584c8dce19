/* test_agent_policy.c - what a machine policy document does to the machine
 * (docs/internals/device-protocol.md "What the agent does with it"): certificates into their
 * stores, AcceptTrustedPublisherCerts with its source, idempotence, the disabled branch, removal
 * of managed certificates only, the client-version gate, malformed documents that change nothing,
 * and the exact CMTrace lines. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "agent_policy.h"
#include "agent_state.h"
#include "certstore.h"
#include "hresult.h"
#include "machinepolicy.h"
#include "pki.h"
#include "testcerts.h"
#include "testutil.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#define ATPC	MACHINEPOLICY_ACCEPT_TRUSTED_PUBLISHER_CERTS
#define VERSION "0123456789abcdef"
#define SETTING "Workstations"
#define SET_LINE                                                                                   \
	"1|Set AcceptTrustedPublisherCerts = 1 (Allow signed updates from an intranet "            \
	"Microsoft update service location)\n"
#define ENABLED(s) "1|Third-party software updates are enabled by client setting \"" s "\"\n"
#define DISABLED(s)                                                                                \
	"1|Third-party software updates are disabled by client setting \"" s                       \
	"\"; certificates are left in place\n"

enum { WSUS, ISSUED, ADMIN, SPARE, NCERTS };

struct tcert {
	X509 *x;
	char thumb[PKI_THUMBPRINT_LEN + 1];
	char *b64;
	const char *subject;
};

struct fixture {
	char *dir;
	struct tcert c[NCERTS];
};

static void load(struct fixture *f, int i, const char *name, const char *subject)
{
	char file[64], *path;
	unsigned char *der = NULL;
	int len;

	(void)snprintf(file, sizeof(file), "%s.pem", name);
	path = tu_path(f->dir, file);
	f->c[i].x = tc_load_cert(path);
	assert_int_equal(pki_thumbprint(f->c[i].x, f->c[i].thumb), 0);
	len = i2d_X509(f->c[i].x, &der);
	assert_true(len > 0);
	f->c[i].b64 = calloc(1, (size_t)(len / 3 + 2) * 4 + 1);
	assert_non_null(f->c[i].b64);
	assert_true(EVP_EncodeBlock((unsigned char *)f->c[i].b64, der, len) > 0);
	f->c[i].subject = subject;
	OPENSSL_free(der);
	free(path);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	f->dir = tu_tmpdir();
	tc_self_signed(f->dir, "wsus", "WSUS Publishers Self-signed", 365,
		       "-addext extendedKeyUsage=codeSigning");
	tc_self_signed(f->dir, "ca", "Contoso Root CA", 365, TC_ADDEXT_CA);
	tc_issue(f->dir, "issued", "Contoso Update Signing", "ca", TC_EXT_CODE_SIGNING);
	tc_self_signed(f->dir, "admin", "Admin Added", 365, "");
	tc_self_signed(f->dir, "spare", "Spare Signing", 365, "");
	load(f, WSUS, "wsus", "WSUS Publishers Self-signed");
	load(f, ISSUED, "issued", "Contoso Update Signing");
	load(f, ADMIN, "admin", "Admin Added");
	load(f, SPARE, "spare", "Spare Signing");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	int i;

	for (i = 0; i < NCERTS; i++) {
		X509_free(f->c[i].x);
		free(f->c[i].b64);
	}
	tu_rmrf(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

/* ---- documents ---- */

/* {"thumbprint", "subject", "der", "stores"} with stores a comma-separated list. */
static json_t *cert_entry(const struct tcert *c, const char *stores)
{
	json_t *list = json_array();
	char buf[64], *tok, *save = NULL;

	(void)snprintf(buf, sizeof(buf), "%s", stores);
	for (tok = strtok_r(buf, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save))
		json_array_append_new(list, json_string(tok));
	return json_pack("{s:s, s:s, s:s, s:o}", "thumbprint", c->thumb, "subject", c->subject,
			 "der", c->b64, "stores", list);
}

static json_t *removal(const struct tcert *c, const char *reason)
{
	return json_pack("{s:s, s:s}", "thumbprint", c->thumb, "reason", reason);
}

/* A whole machine policy document as the contract writes it; takes certs and removals (NULL:
 * empty lists). */
static json_t *policy_doc(bool enabled, const char *source, bool ok, json_t *certs,
			  json_t *removals)
{
	json_t *doc = json_pack(
	    "{s:s, s:{s:s, s:s, s:s}, s:{s:{s:b, s:s}, s:{s:b, s:s}, s:{s:i, s:s}, s:{s:i, s:s}, "
	    "s:{s:i, s:s}}, s:{s:b, s:s, s:s, s:b}, s:o, s:o, s:[{s:i, s:s, s:i, s:s, s:i, s:n}]}",
	    "version", VERSION, "device", "id", "GUID:3f2504e0-4f89-11d3-9a0c-0305e82c3301", "name",
	    "kiosk-01", "client_version", ok ? "5.00.9128.1000" : "5.00.8000.1000", "settings",
	    "software_updates.enabled", "value", 1, "source", "Default Client Settings",
	    "software_updates.third_party", "value", enabled, "source", source,
	    "software_updates.scan_interval_days", "value", 7, "source", "Default Client Settings",
	    "software_updates.reevaluation_interval_days", "value", 7, "source",
	    "Default Client Settings", "client_policy.polling_interval_minutes", "value", 60,
	    "source", "Default Client Settings", "third_party", "enabled", enabled, "source",
	    source, "minimum_client_version", "5.00.8692.1003", "client_version_ok", ok,
	    "certificates", certs != NULL ? certs : json_array(), "remove_certificates",
	    removals != NULL ? removals : json_array(), "deployments", "id", 3, "update_id",
	    "7b3c3a1e-55a0-4c1b-9d53-3d4c0f7e2a11", "revision", 1, "title", "Contoso App 2.0",
	    "available_at", 1700000000, "deadline_at");

	assert_non_null(doc);
	return doc;
}

/* ---- observing the machine ---- */

/* The CMTrace records of <machine>/logs/<name> as "type|message\n" lines ("" when none). */
static char *log_lines(const char *machine, const char *name)
{
	char *path, *out = NULL, *p, *end, *type;
	size_t len = 0, olen = 0;
	FILE *mem = open_memstream(&out, &olen);
	uint8_t *data;

	assert_non_null(mem);
	assert_true(asprintf(&path, "%s/logs/%s", machine, name) > 0);
	data = tu_read_file(path, &len);
	if (data != NULL)
		data[len] = '\0'; /* tu_read_file leaves room for it */
	for (p = (char *)data; p != NULL && (p = strstr(p, "<![LOG[")) != NULL; p = end) {
		p += 7;
		end = strstr(p, "]LOG]!>");
		assert_non_null(end);
		type = strstr(end, "type=\"");
		assert_non_null(type);
		fprintf(mem, "%c|%.*s\n", type[6], (int)(end - p), p);
	}
	fclose(mem);
	free(data);
	free(path);
	return out;
}

static void assert_log(const char *machine, const char *name, const char *expected)
{
	char *got = log_lines(machine, name);

	if (strcmp(got, expected) != 0)
		fail_msg("%s:\n--- got ---\n%s--- expected ---\n%s", name, got, expected);
	free(got);
}

static void forget_logs(const char *machine)
{
	char *p = tu_path(machine, "logs");

	tu_rmrf(p);
	free(p);
}

/* FNV-1a: a short, printable stand-in for a file's content in snapshots. */
static uint64_t fnv1a(const uint8_t *p, size_t len)
{
	uint64_t h = 14695981039346656037ull;
	size_t i;

	for (i = 0; i < len; i++)
		h = (h ^ p[i]) * 1099511628211ull;
	return h;
}

static void snap_dir(FILE *out, const char *root, const char *rel)
{
	struct dirent **names;
	struct stat st;
	char *path, *sub;
	uint8_t *data;
	size_t len;
	int n, i;

	assert_true(asprintf(&path, "%s%s%s", root, rel[0] != '\0' ? "/" : "", rel) > 0);
	n = scandir(path, &names, NULL, alphasort);
	for (i = 0; i < n; i++) {
		if (strcmp(names[i]->d_name, ".") == 0 || strcmp(names[i]->d_name, "..") == 0 ||
		    (rel[0] == '\0' && strcmp(names[i]->d_name, "logs") == 0)) {
			free(names[i]);
			continue;
		}
		assert_true(
		    asprintf(&sub, "%s%s%s", rel, rel[0] != '\0' ? "/" : "", names[i]->d_name) > 0);
		free(names[i]);
		{
			char *full = tu_path(root, sub);

			assert_int_equal(lstat(full, &st), 0);
			if (S_ISDIR(st.st_mode)) {
				fprintf(out, "%s/ %o\n", sub, (unsigned)(st.st_mode & 07777));
				snap_dir(out, root, sub);
			} else {
				/* The inode and time catch a rewrite with the same content. */
				data = tu_read_file(full, &len);
				fprintf(out, "%s %o %lu %ld.%09ld %zu %016llx\n", sub,
					(unsigned)(st.st_mode & 07777), (unsigned long)st.st_ino,
					(long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec, len,
					(unsigned long long)fnv1a(data, len));
				free(data);
			}
			free(full);
		}
		free(sub);
	}
	if (n >= 0)
		free(names);
	free(path);
}

/* Everything in the machine directory but the logs: names, modes, inodes, times, contents. */
static char *snapshot(const char *machine)
{
	char *out = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&out, &len);

	assert_non_null(mem);
	snap_dir(mem, machine, "");
	fclose(mem);
	return out;
}

static bool in_store(const char *machine, const char *store, const struct tcert *c)
{
	char *p;
	bool there;

	assert_true(asprintf(&p, "%s/certstores/%s/%s.cer", machine, store, c->thumb) > 0);
	there = tu_exists(p);
	free(p);
	return there;
}

static void assert_value(const char *machine, bool present, const char *source)
{
	struct machinepolicy_value v;
	struct pp_error err = {0};

	assert_int_equal(machinepolicy_get(machine, ATPC, &v, &err), 0);
	assert_int_equal(v.present, present);
	if (present) {
		assert_int_equal(v.value, 1);
		assert_string_equal(v.source, source);
	}
}

static void apply_ok(const char *machine, json_t *doc)
{
	struct agent_logs logs;
	struct pp_error err = {0};

	assert_int_equal(agent_logs_open(machine, &logs, &err), 0);
	if (agent_policy_apply(machine, doc, &logs, &err) != 0)
		fail_msg("apply: 0x%08X %s", err.code, err.message);
	agent_logs_close(&logs);
	json_decref(doc);
}

static char *fresh_machine(struct fixture *f, const char *name)
{
	char *m = tu_fresh_path(f->dir, name);

	assert_int_equal(mkdir(m, 0755), 0);
	return m;
}

/* ---- tests ---- */

static void test_parse(void **state)
{
	struct fixture *f = *state;
	struct agent_policy_doc *doc;
	struct pp_error err = {0};
	json_t *policy =
	    policy_doc(true, SETTING, true,
		       json_pack("[o, o]", cert_entry(&f->c[WSUS], "Root,TrustedPublisher"),
				 cert_entry(&f->c[ISSUED], "TrustedPublisher")),
		       json_pack("[o]", removal(&f->c[SPARE], "expired")));

	doc = agent_policy_parse(policy, &err);
	if (doc == NULL) {
		fail_msg("%s", err.message);
		return; /* fail_msg does not return; the analyzer cannot know */
	}
	assert_string_equal(doc->version, VERSION);
	assert_true(doc->enabled);
	assert_true(doc->client_version_ok);
	assert_string_equal(doc->source, SETTING);
	assert_string_equal(doc->client_version, "5.00.9128.1000");
	assert_string_equal(doc->minimum_client_version, "5.00.8692.1003");
	assert_int_equal(doc->ncerts, 2);
	assert_string_equal(doc->certs[0].thumbprint, f->c[WSUS].thumb);
	assert_int_equal(doc->certs[0].nstores, 2);
	assert_int_equal(doc->certs[0].stores[0], CERTSTORE_ROOT);
	assert_int_equal(doc->certs[0].stores[1], CERTSTORE_TRUSTED_PUBLISHER);
	assert_int_equal(doc->certs[1].nstores, 1);
	assert_int_equal(doc->nremovals, 1);
	assert_string_equal(doc->removals[0].reason, "expired");
	assert_int_equal(doc->ndeployments, 1);
	agent_policy_doc_free(doc);
	agent_policy_doc_free(NULL);
	json_decref(policy);
}

static void test_enabled_self_signed_and_idempotent(void **state)
{
	struct fixture *f = *state;
	char *m = fresh_machine(f, "enabled"), *before, *after, expected[1024];
	struct agent_managed mg;
	struct pp_error err = {0};

	apply_ok(m, policy_doc(true, SETTING, true,
			       json_pack("[o]", cert_entry(&f->c[WSUS], "Root,TrustedPublisher")),
			       NULL));
	assert_true(in_store(m, "Root", &f->c[WSUS]));
	assert_true(in_store(m, "TrustedPublisher", &f->c[WSUS]));
	assert_value(m, true, "client-settings:" SETTING);
	assert_int_equal(agent_state_load_managed(m, &mg, &err), 0);
	assert_int_equal(mg.count, 1);
	assert_string_equal(mg.certs[0].thumbprint, f->c[WSUS].thumb);
	assert_string_equal(mg.certs[0].subject, "WSUS Publishers Self-signed");
	assert_int_equal(mg.certs[0].stores,
			 (1u << CERTSTORE_ROOT) | (1u << CERTSTORE_TRUSTED_PUBLISHER));
	agent_managed_free(&mg);
	(void)snprintf(expected, sizeof(expected),
		       ENABLED(SETTING) "1|Installed certificate %s (WSUS Publishers "
					"Self-signed) into the Root store\n"
					"1|Installed certificate %s (WSUS Publishers Self-signed) "
					"into the TrustedPublisher store\n" SET_LINE,
		       f->c[WSUS].thumb, f->c[WSUS].thumb);
	assert_log(m, "UpdatesDeployment.log", expected);

	/* The same policy again changes nothing on disk and says "already in". */
	forget_logs(m);
	before = snapshot(m);
	apply_ok(m, policy_doc(true, SETTING, true,
			       json_pack("[o]", cert_entry(&f->c[WSUS], "Root,TrustedPublisher")),
			       NULL));
	after = snapshot(m);
	assert_string_equal(before, after);
	(void)snprintf(
	    expected, sizeof(expected),
	    ENABLED(SETTING) "1|Certificate %s is already in the Root store\n"
			     "1|Certificate %s is already in the TrustedPublisher store\n",
	    f->c[WSUS].thumb, f->c[WSUS].thumb);
	assert_log(m, "UpdatesDeployment.log", expected);

	/* A certificate removed by hand comes back, and is still the agent's. */
	{
		char *p;

		assert_true(asprintf(&p, "%s/certstores/Root/%s.cer", m, f->c[WSUS].thumb) > 0);
		assert_int_equal(unlink(p), 0);
		free(p);
	}
	forget_logs(m);
	apply_ok(m, policy_doc(true, SETTING, true,
			       json_pack("[o]", cert_entry(&f->c[WSUS], "Root,TrustedPublisher")),
			       NULL));
	assert_true(in_store(m, "Root", &f->c[WSUS]));
	(void)snprintf(
	    expected, sizeof(expected),
	    ENABLED(SETTING) "1|Installed certificate %s (WSUS Publishers "
			     "Self-signed) into the Root store\n"
			     "1|Certificate %s is already in the TrustedPublisher store\n",
	    f->c[WSUS].thumb, f->c[WSUS].thumb);
	assert_log(m, "UpdatesDeployment.log", expected);

	/* Another client setting now enables it: the value's source follows. */
	forget_logs(m);
	apply_ok(m, policy_doc(true, "Kiosks", true, NULL, NULL));
	assert_value(m, true, "client-settings:Kiosks");
	assert_log(m, "UpdatesDeployment.log", ENABLED("Kiosks") SET_LINE);
	free(before);
	free(after);
	tu_rmrf(m);
	free(m);
}

static void test_enabled_ca_issued(void **state)
{
	struct fixture *f = *state;
	char *m = fresh_machine(f, "issued"), expected[512];

	apply_ok(m,
		 policy_doc(true, SETTING, true,
			    json_pack("[o]", cert_entry(&f->c[ISSUED], "TrustedPublisher")), NULL));
	assert_true(in_store(m, "TrustedPublisher", &f->c[ISSUED]));
	assert_false(in_store(m, "Root", &f->c[ISSUED]));
	assert_value(m, true, "client-settings:" SETTING);
	(void)snprintf(expected, sizeof(expected),
		       ENABLED(SETTING) "1|Installed certificate %s (Contoso Update Signing) "
					"into the TrustedPublisher store\n" SET_LINE,
		       f->c[ISSUED].thumb);
	assert_log(m, "UpdatesDeployment.log", expected);
	tu_rmrf(m);
	free(m);
}

static void test_disabled(void **state)
{
	struct fixture *f = *state;
	char *m = fresh_machine(f, "disabled");
	struct pp_error err = {0};

	apply_ok(m, policy_doc(true, SETTING, true,
			       json_pack("[o]", cert_entry(&f->c[WSUS], "Root,TrustedPublisher")),
			       NULL));
	forget_logs(m);

	/* Disabled by client settings: certificates stay, the client settings' value goes. */
	apply_ok(m, policy_doc(false, "Servers", true, NULL, NULL));
	assert_true(in_store(m, "Root", &f->c[WSUS]));
	assert_true(in_store(m, "TrustedPublisher", &f->c[WSUS]));
	assert_value(m, false, NULL);
	assert_log(m, "UpdatesDeployment.log",
		   DISABLED("Servers") "1|Cleared AcceptTrustedPublisherCerts, which client "
				       "setting \"" SETTING "\" had set\n");

	/* Nothing left to clear: the second time says only that it is disabled. */
	forget_logs(m);
	apply_ok(m, policy_doc(false, "Servers", true, NULL, NULL));
	assert_log(m, "UpdatesDeployment.log", DISABLED("Servers"));

	/* A value set locally (patchpoint policy set) or by a GPO is not the client settings'. */
	assert_int_equal(machinepolicy_set(m, ATPC, 1, "local", &err), 0);
	forget_logs(m);
	apply_ok(m, policy_doc(false, "Servers", true, NULL, NULL));
	assert_value(m, true, "local");
	assert_log(m, "UpdatesDeployment.log", DISABLED("Servers"));
	assert_int_equal(machinepolicy_set(m, ATPC, 1, "gpo:WSUS Signing", &err), 0);
	apply_ok(m, policy_doc(false, "Servers", true, NULL, NULL));
	assert_value(m, true, "gpo:WSUS Signing");
	/* Enabled over a GPO's 1: the value stays the GPO's, so a later disable leaves it. */
	forget_logs(m);
	apply_ok(m, policy_doc(true, SETTING, true, NULL, NULL));
	assert_value(m, true, "gpo:WSUS Signing");
	assert_log(m, "UpdatesDeployment.log",
		   ENABLED(SETTING) "1|AcceptTrustedPublisherCerts is already 1, set by gpo:WSUS "
				    "Signing\n");
	apply_ok(m, policy_doc(false, "Servers", true, NULL, NULL));
	assert_value(m, true, "gpo:WSUS Signing");
	tu_rmrf(m);
	free(m);
}

static void test_remove_only_managed(void **state)
{
	struct fixture *f = *state;
	char *m = fresh_machine(f, "remove"), expected[1024];
	struct agent_managed mg;
	struct pp_error err = {0};
	bool already;

	/* An administrator put ADMIN into both stores before the agent came. */
	assert_int_equal(
	    certstore_add(m, CERTSTORE_ROOT, CERTSTORE_LOCAL, f->c[ADMIN].x, false, &already, &err),
	    0);
	assert_int_equal(certstore_add(m, CERTSTORE_TRUSTED_PUBLISHER, CERTSTORE_LOCAL,
				       f->c[ADMIN].x, false, &already, &err),
			 0);
	apply_ok(m,
		 policy_doc(true, SETTING, true,
			    json_pack("[o, o, o]", cert_entry(&f->c[WSUS], "Root,TrustedPublisher"),
				      cert_entry(&f->c[ISSUED], "TrustedPublisher"),
				      cert_entry(&f->c[ADMIN], "Root,TrustedPublisher")),
			    NULL));
	assert_int_equal(agent_state_load_managed(m, &mg, &err), 0);
	assert_int_equal(mg.count, 2); /* WSUS and ISSUED; ADMIN was already there */
	assert_null(agent_managed_find(&mg, f->c[ADMIN].thumb));
	agent_managed_free(&mg);

	/* WSUS blocked, ADMIN expired, SPARE (never installed) blocked. */
	forget_logs(m);
	apply_ok(m, policy_doc(true, SETTING, true,
			       json_pack("[o]", cert_entry(&f->c[ISSUED], "TrustedPublisher")),
			       json_pack("[o, o, o]", removal(&f->c[WSUS], "blocked"),
					 removal(&f->c[ADMIN], "expired"),
					 removal(&f->c[SPARE], "blocked"))));
	assert_false(in_store(m, "Root", &f->c[WSUS]));
	assert_false(in_store(m, "TrustedPublisher", &f->c[WSUS]));
	assert_true(in_store(m, "Root", &f->c[ADMIN]));
	assert_true(in_store(m, "TrustedPublisher", &f->c[ADMIN]));
	assert_true(in_store(m, "TrustedPublisher", &f->c[ISSUED]));
	assert_int_equal(agent_state_load_managed(m, &mg, &err), 0);
	assert_int_equal(mg.count, 1);
	assert_string_equal(mg.certs[0].thumbprint, f->c[ISSUED].thumb);
	agent_managed_free(&mg);
	(void)snprintf(
	    expected, sizeof(expected),
	    ENABLED(SETTING) "1|Certificate %s is already in the TrustedPublisher store\n"
			     "1|Removed certificate %s from the Root store: it is blocked "
			     "on the site\n"
			     "1|Removed certificate %s from the TrustedPublisher store: it "
			     "is blocked on the site\n",
	    f->c[ISSUED].thumb, f->c[WSUS].thumb, f->c[WSUS].thumb);
	assert_log(m, "UpdatesDeployment.log", expected);

	/* Removals happen when disabled too; a second time there is nothing left to do. */
	forget_logs(m);
	apply_ok(m, policy_doc(false, "Servers", true, NULL,
			       json_pack("[o]", removal(&f->c[ISSUED], "expired"))));
	assert_false(in_store(m, "TrustedPublisher", &f->c[ISSUED]));
	(void)snprintf(expected, sizeof(expected),
		       DISABLED("Servers") "1|Cleared AcceptTrustedPublisherCerts, which client "
					   "setting \"" SETTING "\" had set\n"
					   "1|Removed certificate %s from the TrustedPublisher "
					   "store: it is expired on the site\n",
		       f->c[ISSUED].thumb);
	assert_log(m, "UpdatesDeployment.log", expected);
	forget_logs(m);
	apply_ok(m, policy_doc(false, "Servers", true, NULL,
			       json_pack("[o]", removal(&f->c[ISSUED], "expired"))));
	assert_log(m, "UpdatesDeployment.log", DISABLED("Servers"));
	tu_rmrf(m);
	free(m);
}

static void test_client_version_below_minimum(void **state)
{
	struct fixture *f = *state;
	char *m = fresh_machine(f, "oldclient"), *snap;

	apply_ok(m, policy_doc(true, SETTING, false,
			       json_pack("[o]", cert_entry(&f->c[WSUS], "Root,TrustedPublisher")),
			       NULL));
	assert_false(in_store(m, "Root", &f->c[WSUS]));
	assert_false(in_store(m, "TrustedPublisher", &f->c[WSUS]));
	assert_value(m, false, NULL);
	assert_log(m, "UpdatesDeployment.log",
		   ENABLED(SETTING) "2|Client version 5.00.8000.1000 is below the minimum "
				    "5.00.8692.1003 for third-party software updates; no "
				    "certificate is installed\n");
	/* Nothing but the logs: not even a managed list. */
	snap = snapshot(m);
	assert_string_equal(snap, "");
	free(snap);
	tu_rmrf(m);
	free(m);
}

static void test_source_outside_ascii(void **state)
{
	struct fixture *f = *state;
	char *m = fresh_machine(f, "utf8");

	/* machinepolicy keeps printable ASCII sources; the logs keep the name as written. */
	apply_ok(m, policy_doc(true, "Wörkstations", true, NULL, NULL));
	assert_value(m, true, "client-settings:W??rkstations");
	assert_log(m, "UpdatesDeployment.log", ENABLED("Wörkstations") SET_LINE);
	apply_ok(m, policy_doc(true, "Wörkstations", true, NULL, NULL));
	assert_log(m, "UpdatesDeployment.log",
		   ENABLED("Wörkstations") SET_LINE ENABLED("Wörkstations"));
	tu_rmrf(m);
	free(m);
}

/* ---- malformed documents ---- */

typedef void (*mutate_fn)(json_t *doc, struct fixture *f);

static json_t *cert0(json_t *doc)
{
	return json_array_get(json_object_get(doc, "certificates"), 0);
}

static void m_no_version(json_t *d, struct fixture *f)
{
	(void)f;
	json_object_del(d, "version");
}
static void m_version_number(json_t *d, struct fixture *f)
{
	(void)f;
	json_object_set_new(d, "version", json_integer(7));
}
static void m_version_quote(json_t *d, struct fixture *f)
{
	(void)f;
	json_object_set_new(d, "version", json_string("ab\"cd"));
}
static void m_no_device(json_t *d, struct fixture *f)
{
	(void)f;
	json_object_del(d, "device");
}
static void m_settings_list(json_t *d, struct fixture *f)
{
	(void)f;
	json_object_set_new(d, "settings", json_array());
}
static void m_setting_no_source(json_t *d, struct fixture *f)
{
	(void)f;
	json_object_del(json_object_get(json_object_get(d, "settings"), "software_updates.enabled"),
			"source");
}
static void m_no_third_party(json_t *d, struct fixture *f)
{
	(void)f;
	json_object_del(d, "third_party");
}
static void m_enabled_string(json_t *d, struct fixture *f)
{
	(void)f;
	json_object_set_new(json_object_get(d, "third_party"), "enabled", json_string("yes"));
}
static void m_no_source(json_t *d, struct fixture *f)
{
	(void)f;
	json_object_del(json_object_get(d, "third_party"), "source");
}
static void m_source_control(json_t *d, struct fixture *f)
{
	(void)f;
	json_object_set_new(json_object_get(d, "third_party"), "source", json_string("a\nb"));
}
static void m_min_version(json_t *d, struct fixture *f)
{
	(void)f;
	json_object_set_new(json_object_get(d, "third_party"), "minimum_client_version",
			    json_string("5.0"));
}
static void m_no_ok(json_t *d, struct fixture *f)
{
	(void)f;
	json_object_del(json_object_get(d, "third_party"), "client_version_ok");
}
static void m_certs_object(json_t *d, struct fixture *f)
{
	(void)f;
	json_object_set_new(d, "certificates", json_object());
}
static void m_no_removals(json_t *d, struct fixture *f)
{
	(void)f;
	json_object_del(d, "remove_certificates");
}
static void m_no_deployments(json_t *d, struct fixture *f)
{
	(void)f;
	json_object_del(d, "deployments");
}
static void m_deployment_number(json_t *d, struct fixture *f)
{
	(void)f;
	json_array_append_new(json_object_get(d, "deployments"), json_integer(4));
}
/* The second certificate is bad: the first (new) one must not be installed either. */
static void m_bad_base64(json_t *d, struct fixture *f)
{
	(void)f;
	json_object_set_new(cert0(d), "der", json_string("MIIB!!!!"));
}
static void m_base64_not_der(json_t *d, struct fixture *f)
{
	(void)f;
	json_object_set_new(cert0(d), "der", json_string("aGVsbG8gd29ybGQ="));
}
static void m_base64_unpadded(json_t *d, struct fixture *f)
{
	char *b = strdup(json_string_value(json_object_get(cert0(d), "der")));
	size_t n = strlen(b);

	(void)f;
	while (n > 0 && b[n - 1] == '=')
		b[--n] = '\0';
	if (n % 4 == 0) /* no padding to drop: cut a character instead */
		b[n - 1] = '\0';
	json_object_set_new(cert0(d), "der", json_string(b));
	free(b);
}
static void m_der_trailing(json_t *d, struct fixture *f)
{
	/* The WSUS certificate's DER followed by three more bytes. */
	unsigned char *der = NULL, *buf;
	char *b64;
	int len = i2d_X509(f->c[WSUS].x, &der);

	buf = malloc((size_t)len + 3);
	memcpy(buf, der, (size_t)len);
	memcpy(buf + len, "\x01\x02\x03", 3);
	b64 = calloc(1, (size_t)(len + 3) / 3 * 4 + 8);
	EVP_EncodeBlock((unsigned char *)b64, buf, len + 3);
	json_object_set_new(cert0(d), "der", json_string(b64));
	OPENSSL_free(der);
	free(buf);
	free(b64);
}
static void m_no_der(json_t *d, struct fixture *f)
{
	(void)f;
	json_object_del(cert0(d), "der");
}
static void m_thumb_short(json_t *d, struct fixture *f)
{
	char t[PKI_THUMBPRINT_LEN + 1];

	memcpy(t, f->c[WSUS].thumb, sizeof(t));
	t[PKI_THUMBPRINT_LEN - 1] = '\0';
	json_object_set_new(cert0(d), "thumbprint", json_string(t));
}
static void m_thumb_not_hex(json_t *d, struct fixture *f)
{
	char t[PKI_THUMBPRINT_LEN + 1];

	memcpy(t, f->c[WSUS].thumb, sizeof(t));
	t[0] = 'G';
	json_object_set_new(cert0(d), "thumbprint", json_string(t));
}
static void m_thumb_other(json_t *d, struct fixture *f)
{
	json_object_set_new(cert0(d), "thumbprint", json_string(f->c[SPARE].thumb));
}
static void m_store_my(json_t *d, struct fixture *f)
{
	(void)f;
	json_object_set_new(cert0(d), "stores", json_pack("[s]", "My"));
}
static void m_store_twice(json_t *d, struct fixture *f)
{
	(void)f;
	json_object_set_new(cert0(d), "stores", json_pack("[s, s]", "Root", "Root"));
}
static void m_stores_empty(json_t *d, struct fixture *f)
{
	(void)f;
	json_object_set_new(cert0(d), "stores", json_array());
}
static void m_issued_into_root(json_t *d, struct fixture *f)
{
	json_array_set_new(json_object_get(d, "certificates"), 0,
			   cert_entry(&f->c[ISSUED], "Root,TrustedPublisher"));
}
static void m_cert_twice(json_t *d, struct fixture *f)
{
	json_array_append_new(json_object_get(d, "certificates"),
			      cert_entry(&f->c[WSUS], "TrustedPublisher"));
}
static void m_removal_reason(json_t *d, struct fixture *f)
{
	json_array_append_new(json_object_get(d, "remove_certificates"),
			      removal(&f->c[ADMIN], "revoked"));
}
static void m_removal_thumb(json_t *d, struct fixture *f)
{
	(void)f;
	json_array_append_new(json_object_get(d, "remove_certificates"),
			      json_pack("{s:s, s:s}", "thumbprint", "abc", "reason", "blocked"));
}
static void m_removal_installs(json_t *d, struct fixture *f)
{
	json_array_append_new(json_object_get(d, "remove_certificates"),
			      removal(&f->c[WSUS], "blocked"));
}

static const struct {
	const char *name;
	mutate_fn mutate;
	const char *needle; /* must appear in the error message */
} malformed[] = {
    {"no version", m_no_version, "field version is missing"},
    {"version a number", m_version_number, "field version is not a string"},
    {"version with a quote", m_version_quote, "field version holds"},
    {"no device", m_no_device, "field device is missing"},
    {"settings a list", m_settings_list, "field settings is not an object"},
    {"setting without source", m_setting_no_source,
     "settings.software_updates.enabled.source is missing"},
    {"no third_party", m_no_third_party, "field third_party is missing"},
    {"enabled a string", m_enabled_string, "third_party.enabled is not true or false"},
    {"no source", m_no_source, "third_party.source is missing"},
    {"source with a newline", m_source_control, "third_party.source holds a control"},
    {"minimum version", m_min_version, "third_party.minimum_client_version"},
    {"no client_version_ok", m_no_ok, "third_party.client_version_ok is missing"},
    {"certificates an object", m_certs_object, "field certificates is not a list"},
    {"no remove_certificates", m_no_removals, "field remove_certificates is missing"},
    {"no deployments", m_no_deployments, "field deployments is missing"},
    {"deployment a number", m_deployment_number, "deployments[1] is not an object"},
    {"bad base64", m_bad_base64, "certificates[0].der is not base64"},
    {"base64 not DER", m_base64_not_der, "certificates[0].der is not one DER"},
    {"base64 unpadded", m_base64_unpadded, "certificates[0].der is not base64"},
    {"DER with trailing bytes", m_der_trailing, "certificates[0].der is not one DER"},
    {"no der", m_no_der, "certificates[0].der is missing"},
    {"thumbprint short", m_thumb_short, "certificates[0].thumbprint is not 40 hexadecimal"},
    {"thumbprint not hex", m_thumb_not_hex, "certificates[0].thumbprint is not 40 hexadecimal"},
    {"thumbprint of another certificate", m_thumb_other,
     "certificates[0].thumbprint %s does not match the certificate in certificates[0].der"},
    {"store My", m_store_my, "certificates[0].stores[0] is not \"Root\" or"},
    {"store twice", m_store_twice, "certificates[0].stores[1] names a store twice"},
    {"no stores", m_stores_empty, "certificates[0].stores is not a list"},
    {"CA-issued into Root", m_issued_into_root,
     "certificates[0].stores[0] puts a certificate that is not self-signed into Root"},
    {"certificate twice", m_cert_twice, "lists the same certificate twice"},
    {"removal reason", m_removal_reason, "remove_certificates[1].reason is not"},
    {"removal thumbprint", m_removal_thumb, "remove_certificates[1].thumbprint is not 40"},
    {"removal of an installed one", m_removal_installs,
     "remove_certificates[1] names a certificate that \"certificates\" installs"},
};

static void test_malformed_changes_nothing(void **state)
{
	struct fixture *f = *state;
	char *m = fresh_machine(f, "malformed"), *before, *after, *logs_before, *logs_after;
	char needle[256];
	struct agent_logs logs;
	struct pp_error err;
	json_t *doc;
	size_t i;

	/* A machine with state: ISSUED managed in TrustedPublisher, the value set, ADMIN managed
	 * so that a removal would have something to do. */
	apply_ok(m, policy_doc(true, SETTING, true,
			       json_pack("[o, o]", cert_entry(&f->c[ISSUED], "TrustedPublisher"),
					 cert_entry(&f->c[ADMIN], "TrustedPublisher")),
			       NULL));
	before = snapshot(m);
	logs_before = log_lines(m, "UpdatesDeployment.log");
	for (i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
		/* Disabled with a removal: a good document would clear the value and remove
		 * ADMIN; WSUS is new and would be installed were it enabled. */
		doc = policy_doc(i % 2 == 0, "Servers", true,
				 json_pack("[o]", cert_entry(&f->c[WSUS], "Root,TrustedPublisher")),
				 json_pack("[o]", removal(&f->c[ADMIN], "blocked")));
		malformed[i].mutate(doc, f);
		pp_error_clear(&err);
		assert_int_equal(agent_logs_open(m, &logs, &err), 0);
		if (agent_policy_apply(m, doc, &logs, &err) == 0)
			fail_msg("%s: a malformed document was applied", malformed[i].name);
		agent_logs_close(&logs);
		assert_int_equal(err.code, HR_ERROR_INVALID_DATA);
		(void)snprintf(needle, sizeof(needle), malformed[i].needle, f->c[SPARE].thumb);
		if (strstr(err.message, needle) == NULL)
			fail_msg("%s: '%s' does not say '%s'", malformed[i].name, err.message,
				 needle);
		after = snapshot(m);
		if (strcmp(before, after) != 0)
			fail_msg("%s changed the machine:\n%s\n---\n%s", malformed[i].name, before,
				 after);
		free(after);
		logs_after = log_lines(m, "UpdatesDeployment.log");
		assert_string_equal(logs_before, logs_after);
		free(logs_after);
		json_decref(doc);
	}
	/* Not even an object. */
	doc = json_array();
	pp_error_clear(&err);
	assert_int_equal(agent_policy_apply(m, doc, NULL, &err), -1);
	assert_int_equal(err.code, HR_ERROR_INVALID_DATA);
	json_decref(doc);
	after = snapshot(m);
	assert_string_equal(before, after);
	free(after);
	free(before);
	free(logs_before);
	tu_rmrf(m);
	free(m);
}

static void test_damaged_managed_list_changes_nothing(void **state)
{
	struct fixture *f = *state;
	char *m = fresh_machine(f, "damagedlist"), *p, *before, *after;
	struct pp_error err = {0};
	json_t *doc;

	p = tu_path(m, "agent");
	assert_int_equal(mkdir(p, 0700), 0);
	free(p);
	p = tu_path(m, "agent/managed-certs.json");
	tu_write_file(p, "{\"certificates\":[", 17);
	before = snapshot(m);
	doc = policy_doc(true, SETTING, true,
			 json_pack("[o]", cert_entry(&f->c[WSUS], "Root,TrustedPublisher")), NULL);
	assert_int_equal(agent_policy_apply(m, doc, NULL, &err), -1);
	assert_non_null(strstr(err.message, p));
	after = snapshot(m);
	assert_string_equal(before, after);
	json_decref(doc);
	free(before);
	free(after);
	free(p);
	tu_rmrf(m);
	free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse),
	    cmocka_unit_test(test_enabled_self_signed_and_idempotent),
	    cmocka_unit_test(test_enabled_ca_issued),
	    cmocka_unit_test(test_disabled),
	    cmocka_unit_test(test_remove_only_managed),
	    cmocka_unit_test(test_client_version_below_minimum),
	    cmocka_unit_test(test_source_outside_ascii),
	    cmocka_unit_test(test_malformed_changes_nothing),
	    cmocka_unit_test(test_damaged_managed_list_changes_nothing),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
