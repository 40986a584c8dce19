/* test_agent_gpo.c - group policy on the device (src/agent/agent_gpo.c, docs/internals/gpo.md):
 * what the agent reads from a Registry.pol (certificates by policy store, the policy value,
 * warnings for what it does not apply, refusals of forged Blobs), the site's GPO list, and the
 * bookkeeping of agent_gpo_apply: certificates into the policy layer only, a GPO that no longer
 * applies takes away exactly what it gave (not what another GPO holds, not a local-layer or
 * pre-existing certificate, not a value set since by another source), precedence of the GPO
 * applied last, skipping unchanged GPOs, --force, a failure part way, a damaged state file; and
 * how a GPO's AcceptTrustedPublisherCerts lives with the client-settings machine policy cycle
 * (agent_policy.c). Exact gpupdate.log lines. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "agent_gpo.h"
#include "agent_policy.h"
#include "agent_state.h"
#include "certstore.h"
#include "hresult.h"
#include "machinepolicy.h"
#include "pki.h"
#include "regpol.h"
#include "testcerts.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#define ATPC	 MACHINEPOLICY_ACCEPT_TRUSTED_PUBLISHER_CERTS
#define WU	 "Software\\Policies\\Microsoft\\Windows\\WindowsUpdate"
#define GPO_A_ID "{6AC1786C-016F-11D2-945F-00C04FB984F9}"
#define GPO_B_ID "{31B2F340-016D-11D2-945F-00C04FB984F9}"
#define GPO_C_ID "{0F1E2D3C-4B5A-4978-8695-A4B3C2D1E0F9}"

enum { WSUS, OTHER, LOCAL, NCERTS };

struct tcert {
	X509 *x;
	char thumb[PKI_THUMBPRINT_LEN + 1];
};

struct fixture {
	char *dir;
	struct tcert c[NCERTS];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	static const char *const names[NCERTS] = {"wsus", "other", "local"};
	char *p;
	int i;

	if (f == NULL)
		return -1;
	f->dir = tu_tmpdir();
	tc_self_signed(f->dir, "wsus", "WSUS Publishers Self-signed", 365,
		       "-addext extendedKeyUsage=codeSigning");
	tc_self_signed(f->dir, "other", "Other Signing", 365, "");
	tc_self_signed(f->dir, "local", "Local Root", 365, "");
	for (i = 0; i < NCERTS; i++) {
		char file[32];

		(void)snprintf(file, sizeof(file), "%s.pem", names[i]);
		p = tu_path(f->dir, file);
		f->c[i].x = tc_load_cert(p);
		assert_int_equal(pki_thumbprint(f->c[i].x, f->c[i].thumb), 0);
		free(p);
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	int i;

	for (i = 0; i < NCERTS; i++)
		X509_free(f->c[i].x);
	tu_rmrf(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

/* ---- building GPOs ---- */

/* A Registry.pol image; spec is a list of "Store:index" (certificates) and "ATPC=n". */
static uint8_t *make_pol(const struct fixture *f, const char *const *spec, size_t *len)
{
	struct regpol *pol;
	struct pp_error err = {0};
	uint8_t *out = NULL, dw[4];
	size_t i;

	pol = regpol_new(&err);
	assert_non_null(pol);
	for (i = 0; spec != NULL && spec[i] != NULL; i++) {
		if (strncmp(spec[i], "ATPC=", 5) == 0) {
			regpol_dword_make((uint32_t)atoi(spec[i] + 5), dw);
			assert_int_equal(regpol_add(pol, WU, ATPC, REGPOL_REG_DWORD, dw, 4, &err),
					 0);
		} else {
			char store[32];
			const char *colon = strchr(spec[i], ':');

			assert_non_null(colon);
			(void)snprintf(store, sizeof(store), "%.*s", (int)(colon - spec[i]),
				       spec[i]);
			assert_int_equal(regpol_add_cert(pol, store, f->c[atoi(colon + 1)].x, &err),
					 0);
		}
	}
	assert_int_equal(regpol_serialize(pol, &out, len, &err), 0);
	regpol_free(pol);
	return out;
}

/* A fetched GPO whose Registry.pol holds spec. */
static void fetched(struct agent_gpo *g, const struct fixture *f, const char *id, const char *name,
		    uint32_t version, const char *const *spec)
{
	struct pp_error err = {0};
	uint8_t *pol;
	size_t len = 0;

	memset(g, 0, sizeof(*g));
	(void)snprintf(g->id, sizeof(g->id), "%s", id);
	(void)snprintf(g->name, sizeof(g->name), "%s", name);
	(void)snprintf(g->collection, sizeof(g->collection), "Servers");
	g->version = version;
	g->link_order = 1;
	pol = make_pol(f, spec, &len);
	if (agent_gpo_parse_pol(pol, len, name, NULL, &g->contents, &err) != 0)
		fail_msg("parse: %s", err.message);
	g->fetched = true;
	free(pol);
}

/* The same GPO, not fetched this time (an unchanged version). */
static void recorded(struct agent_gpo *g, const char *id, const char *name, uint32_t version)
{
	memset(g, 0, sizeof(*g));
	(void)snprintf(g->id, sizeof(g->id), "%s", id);
	(void)snprintf(g->name, sizeof(g->name), "%s", name);
	(void)snprintf(g->collection, sizeof(g->collection), "Servers");
	g->version = version;
	g->link_order = 1;
}

static void free_gpos(struct agent_gpo *g, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		agent_gpo_contents_free(&g[i].contents);
}

/* ---- observing the machine ---- */

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
		data[len] = '\0';
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

static void assert_log(const char *machine, const char *expected)
{
	char *got = log_lines(machine, "gpupdate.log");

	if (strcmp(got, expected) != 0)
		fail_msg("gpupdate.log:\n--- got ---\n%s--- expected ---\n%s", got, expected);
	free(got);
}

static void forget_logs(const char *machine)
{
	char *p = tu_path(machine, "logs");

	tu_rmrf(p);
	free(p);
}

static bool in_store(const char *machine, bool policy, const char *store, const struct tcert *c)
{
	char *p;
	bool there;

	assert_true(asprintf(&p, "%s/%scertstores/%s/%s.cer", machine, policy ? "policy/" : "",
			     store, c->thumb) > 0);
	there = tu_exists(p);
	free(p);
	return there;
}

static void assert_value(const char *machine, bool present, uint32_t value, const char *source)
{
	struct machinepolicy_value v;
	struct pp_error err = {0};

	assert_int_equal(machinepolicy_get(machine, ATPC, &v, &err), 0);
	assert_int_equal(v.present, present);
	if (present) {
		assert_int_equal(v.value, value);
		assert_string_equal(v.source, source);
	}
}

static char *fresh_machine(struct fixture *f, const char *name)
{
	char *m = tu_fresh_path(f->dir, name);

	assert_int_equal(mkdir(m, 0755), 0);
	return m;
}

/* agent_gpo_apply with gpupdate.log, expecting success. */
static void apply_ok(const char *machine, const struct agent_gpo *g, size_t n, bool force,
		     struct agent_gpo_outcome *out)
{
	struct agent_logs logs;
	struct agent_gpo_outcome dummy;
	struct pp_error err = {0};

	assert_int_equal(agent_logs_open(machine, &logs, &err), 0);
	if (agent_gpo_apply(machine, g, n, "\"etag\"", force, logs.gpupdate,
			    out != NULL ? out : &dummy, &err) != 0)
		fail_msg("apply: 0x%08X %s", err.code, err.message);
	agent_logs_close(&logs);
}

static int apply_fails(const char *machine, const struct agent_gpo *g, size_t n,
		       struct pp_error *err)
{
	struct agent_logs logs;
	struct agent_gpo_outcome out;
	int rc;

	assert_int_equal(agent_logs_open(machine, &logs, err), 0);
	rc = agent_gpo_apply(machine, g, n, NULL, false, logs.gpupdate, &out, err);
	agent_logs_close(&logs);
	return rc;
}

static char *file_text(const char *machine, const char *rel)
{
	char *p = tu_path(machine, rel);
	size_t len = 0;
	uint8_t *d = tu_read_file(p, &len);

	free(p);
	if (d != NULL)
		d[len] = '\0';
	return (char *)d;
}

/* ---- Registry.pol ---- */

static void test_parse_pol(void **state)
{
	struct fixture *f = *state;
	struct agent_gpo_contents c;
	struct pp_error err = {0};
	struct regpol *pol = regpol_new(&err);
	uint8_t *img = NULL, *blob = NULL, q[8], dw[4];
	size_t len = 0, blen = 0;
	char *m = fresh_machine(f, "parse"), key[256];
	struct agent_logs logs;
	char *lines, *expected;

	assert_non_null(pol);
	assert_int_equal(regpol_add_cert(pol, "Root", f->c[WSUS].x, &err), 0);
	assert_int_equal(regpol_add_cert(pol, "trustedpublisher", f->c[WSUS].x, &err), 0);
	assert_int_equal(regpol_add_cert(pol, "CA", f->c[OTHER].x, &err), 0);
	assert_int_equal(regpol_add_cert(pol, "Root", f->c[WSUS].x, &err), 0); /* twice */
	assert_int_equal(regpol_add_cert(pol, "My", f->c[OTHER].x, &err),
			 0); /* not a policy store */
	/* A forged entry: the key names WSUS, the Blob holds OTHER. */
	assert_int_equal(regpol_cert_blob_make(f->c[OTHER].x, &blob, &blen, &err), 0);
	(void)snprintf(key, sizeof(key), REGPOL_CERT_KEY_PREFIX "Disallowed\\Certificates\\%s",
		       f->c[WSUS].thumb);
	assert_int_equal(regpol_add(pol, key, "Blob", REGPOL_REG_BINARY, blob, blen, &err), 0);
	regpol_dword_make(1, dw);
	assert_int_equal(regpol_add(pol, WU, ATPC, REGPOL_REG_DWORD, dw, 4, &err), 0);
	regpol_dword_make(1, dw);
	assert_int_equal(regpol_add(pol, WU "\\AU", "NoAutoUpdate", REGPOL_REG_DWORD, dw, 4, &err),
			 0);
	regpol_qword_make(1, q);
	assert_int_equal(regpol_add(pol, "SOFTWARE\\POLICIES\\MICROSOFT\\WINDOWS\\WINDOWSUPDATE",
				    "acceptTrustedPublisherCerts", REGPOL_REG_QWORD, q, 8, &err),
			 0);
	assert_int_equal(regpol_serialize(pol, &img, &len, &err), 0);

	assert_int_equal(agent_logs_open(m, &logs, &err), 0);
	assert_int_equal(agent_gpo_parse_pol(img, len, "Trust", logs.gpupdate, &c, &err), 0);
	agent_logs_close(&logs);
	assert_int_equal(c.ncerts, 3);
	assert_int_equal(c.certs[0].store, CERTSTORE_ROOT);
	assert_string_equal(c.certs[0].thumbprint, f->c[WSUS].thumb);
	assert_string_equal(c.certs[0].subject, "WSUS Publishers Self-signed");
	assert_non_null(c.certs[0].cert);
	assert_int_equal(c.certs[1].store, CERTSTORE_TRUSTED_PUBLISHER);
	assert_int_equal(c.certs[2].store, CERTSTORE_CA);
	assert_string_equal(c.certs[2].thumbprint, f->c[OTHER].thumb);
	assert_true(c.has_atpc);
	assert_int_equal(c.atpc, 1);
	assert_int_equal(c.ignored, 3);
	assert_int_equal(c.refused, 1);
	assert_true(asprintf(&expected,
			     "refused " REGPOL_CERT_KEY_PREFIX
			     "Disallowed\\Certificates\\%s\\Blob: certificate blob under key name "
			     "%s holds the certificate with SHA-1 %s",
			     f->c[WSUS].thumb, f->c[WSUS].thumb, f->c[OTHER].thumb) > 0);
	assert_string_equal(c.refusal, expected);
	free(expected);
	lines = log_lines(m, "gpupdate.log");
	assert_true(
	    asprintf(&expected,
		     "2|GPO \"Trust\": ignored " REGPOL_CERT_KEY_PREFIX
		     "My\\Certificates\\%s\\Blob (type 3): not a policy this agent applies\n"
		     "3|GPO \"Trust\": "
		     "refused " REGPOL_CERT_KEY_PREFIX
		     "Disallowed\\Certificates\\%s\\Blob: certificate blob under key name "
		     "%s holds the certificate with SHA-1 %s\n"
		     "2|GPO \"Trust\": ignored " WU "\\AU\\NoAutoUpdate (type 4): not a policy "
		     "this agent applies\n"
		     "2|GPO \"Trust\": ignored " WU "\\" ATPC ": it is type 11, not REG_DWORD\n",
		     f->c[OTHER].thumb, f->c[WSUS].thumb, f->c[WSUS].thumb, f->c[OTHER].thumb) > 0);
	assert_string_equal(lines, expected);
	free(expected);
	free(lines);
	agent_gpo_contents_free(&c);
	agent_gpo_contents_free(&c); /* cleared: a second free is harmless */

	/* A damaged file is an error and gives nothing. */
	img[len - 3] ^= 0xff;
	pp_error_clear(&err);
	assert_int_equal(agent_gpo_parse_pol(img, len - 1, "Trust", NULL, &c, &err), -1);
	assert_int_equal(err.code, HR_ERROR_INVALID_DATA);
	assert_non_null(strstr(err.message, "the Registry.pol of GPO \"Trust\" is damaged: "));
	assert_int_equal(c.ncerts, 0);
	assert_null(c.certs);

	free(blob);
	free(img);
	regpol_free(pol);
	free(m);
}

static void test_parse_list(void **state)
{
	struct agent_gpo *g = NULL;
	struct pp_error err = {0};
	size_t n = 9;
	json_t *doc;

	(void)state;
	doc =
	    json_pack("{s:s, s:[{s:s, s:s, s:i, s:i, s:s, s:i}, {s:s, s:s, s:i, s:i}]}", "version",
		      "0011223344556677", "gpos", "id", "{6ac1786c-016f-11d2-945f-00c04fb984f9}",
		      "name", "Trust WSUS", "version", 65539, "order", 1, "collection", "Servers",
		      "link_order", 2, "id", GPO_B_ID, "name", "Other", "version", 0, "order", 2);
	assert_int_equal(agent_gpo_parse_list(doc, &g, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_string_equal(g[0].id, GPO_A_ID); /* upper case */
	assert_string_equal(g[0].name, "Trust WSUS");
	assert_int_equal(g[0].version, 65539);
	assert_string_equal(g[0].collection, "Servers");
	assert_int_equal(g[0].link_order, 2);
	assert_false(g[0].fetched);
	assert_string_equal(g[1].id, GPO_B_ID);
	agent_gpo_list_free(g, n);
	json_decref(doc);

	doc = json_pack("{s:[{s:s, s:s, s:i, s:i}]}", "gpos", "id", "6AC1786C-016F-11D2-945F",
			"name", "X", "version", 1, "order", 1);
	pp_error_clear(&err);
	assert_int_equal(agent_gpo_parse_list(doc, &g, &n, &err), -1);
	assert_string_equal(err.message, "the site's GPO list: gpos[0].id is not a GUID in braces");
	json_decref(doc);
	doc = json_pack("{s:[{s:s, s:s, s:i, s:i}]}", "gpos", "id", GPO_A_ID, "name", "X",
			"version", 1, "order", 2);
	pp_error_clear(&err);
	assert_int_equal(agent_gpo_parse_list(doc, &g, &n, &err), -1);
	assert_string_equal(err.message,
			    "the site's GPO list: gpos[0].order is not its place in the list");
	json_decref(doc);
	doc = json_pack("{s:[{s:s, s:s, s:i, s:i}, {s:s, s:s, s:i, s:i}]}", "gpos", "id", GPO_A_ID,
			"name", "X", "version", 1, "order", 1, "id", GPO_A_ID, "name", "Y",
			"version", 1, "order", 2);
	pp_error_clear(&err);
	assert_int_equal(agent_gpo_parse_list(doc, &g, &n, &err), -1);
	assert_string_equal(err.message, "the site's GPO list: gpos[1].id is in the list twice");
	json_decref(doc);
	doc = json_pack("{s:[{s:s, s:s, s:I, s:i}]}", "gpos", "id", GPO_A_ID, "name", "X",
			"version", (json_int_t)1 << 32, "order", 1);
	pp_error_clear(&err);
	assert_int_equal(agent_gpo_parse_list(doc, &g, &n, &err), -1);
	assert_string_equal(err.message,
			    "the site's GPO list: gpos[0].version is not a GPT.INI version");
	json_decref(doc);
	doc = json_pack("{s:s}", "gpos", "none");
	pp_error_clear(&err);
	assert_int_equal(agent_gpo_parse_list(doc, &g, &n, &err), -1);
	assert_null(g);
	assert_int_equal(n, 0);
	json_decref(doc);
}

/* ---- applying ---- */

static void test_apply_skip_force_unlink(void **state)
{
	struct fixture *f = *state;
	static const char *const spec[] = {"Root:0", "TrustedPublisher:0", "ATPC=1", NULL};
	struct agent_gpo_outcome out;
	struct agent_gpo g;
	char *m = fresh_machine(f, "basic"), *expected, *st;
	struct pp_error err = {0};
	const char *w = f->c[WSUS].thumb;

	fetched(&g, f, GPO_A_ID, "Trust WSUS", 3, spec);
	apply_ok(m, &g, 1, false, &out);
	assert_true(in_store(m, true, "Root", &f->c[WSUS]));
	assert_true(in_store(m, true, "TrustedPublisher", &f->c[WSUS]));
	assert_false(in_store(m, false, "Root", &f->c[WSUS]));
	assert_value(m, true, 1, "gpo:Trust WSUS");
	assert_int_equal(out.applied, 1);
	assert_int_equal(out.certs_added, 2);
	assert_true(out.value_set);
	assert_true(
	    asprintf(&expected,
		     "1|Applying GPO \"Trust WSUS\" " GPO_A_ID " version 3 (1 of 1; link "
		     "order 1 on Servers): 2 certificate(s), " ATPC "\n"
		     "1|Added certificate %s (WSUS Publishers Self-signed) to the policy Root "
		     "store (GPO \"Trust WSUS\")\n"
		     "1|Added certificate %s (WSUS Publishers Self-signed) to the policy "
		     "TrustedPublisher store (GPO \"Trust WSUS\")\n"
		     "1|Set " ATPC " = 1 (GPO \"Trust WSUS\")\n",
		     w, w) > 0);
	assert_log(m, expected);
	free(expected);
	st = file_text(m, "agent/gpo-state.json");
	assert_non_null(strstr(st, "\"list_etag\": \"\\\"etag\\\"\""));
	assert_non_null(strstr(st, "\"complete\": true"));
	free(st);
	agent_gpo_contents_free(&g.contents);

	/* Unchanged: skipped, nothing done, even if the machine changed meanwhile. */
	forget_logs(m);
	assert_int_equal(machinepolicy_set(m, ATPC, 1, "local", &err), 0);
	recorded(&g, GPO_A_ID, "Trust WSUS", 3);
	apply_ok(m, &g, 1, false, &out);
	assert_int_equal(out.skipped, 1);
	assert_int_equal(out.applied + out.certs_added + out.certs_removed, 0);
	assert_false(out.value_set);
	assert_value(m, true, 1, "local");
	assert_log(m, "1|GPO \"Trust WSUS\" " GPO_A_ID " is unchanged (version 3): skipped\n");

	/* --force: fetched and applied again; the value becomes the GPO's again. */
	forget_logs(m);
	fetched(&g, f, GPO_A_ID, "Trust WSUS", 3, spec);
	apply_ok(m, &g, 1, true, &out);
	assert_true(out.value_set);
	assert_value(m, true, 1, "gpo:Trust WSUS");
	assert_true(
	    asprintf(&expected,
		     "1|Applying GPO \"Trust WSUS\" " GPO_A_ID " version 3 (1 of 1; link "
		     "order 1 on Servers): 2 certificate(s), " ATPC "\n"
		     "1|Certificate %s is already in the policy Root store (GPO \"Trust "
		     "WSUS\")\n"
		     "1|Certificate %s is already in the policy TrustedPublisher store (GPO "
		     "\"Trust WSUS\")\n"
		     "1|Set " ATPC " = 1 (GPO \"Trust WSUS\"); it was 1, set by local\n",
		     w, w) > 0);
	assert_log(m, expected);
	free(expected);
	agent_gpo_contents_free(&g.contents);

	/* A new version without TrustedPublisher: only that goes. */
	forget_logs(m);
	{
		static const char *const v4[] = {"Root:0", "ATPC=1", NULL};

		fetched(&g, f, GPO_A_ID, "Trust WSUS", 4, v4);
	}
	apply_ok(m, &g, 1, false, &out);
	assert_true(in_store(m, true, "Root", &f->c[WSUS]));
	assert_false(in_store(m, true, "TrustedPublisher", &f->c[WSUS]));
	assert_int_equal(out.certs_removed, 1);
	assert_false(out.value_set);
	assert_true(
	    asprintf(&expected,
		     "1|Applying GPO \"Trust WSUS\" " GPO_A_ID " version 4 (1 of 1; link "
		     "order 1 on Servers): 1 certificate(s), " ATPC "\n"
		     "1|Removed certificate %s (WSUS Publishers Self-signed) from the policy "
		     "TrustedPublisher store: no GPO that applies holds it any more\n",
		     w) > 0);
	assert_log(m, expected);
	free(expected);
	agent_gpo_contents_free(&g.contents);

	/* Unlinked: no GPO applies; what it gave goes. */
	forget_logs(m);
	apply_ok(m, NULL, 0, false, &out);
	assert_false(in_store(m, true, "Root", &f->c[WSUS]));
	assert_value(m, false, 0, NULL);
	assert_int_equal(out.gone, 1);
	assert_true(out.value_cleared);
	assert_true(
	    asprintf(&expected,
		     "1|GPO \"Trust WSUS\" " GPO_A_ID " no longer applies to this device: "
		     "what only it gave is taken away\n"
		     "1|Removed certificate %s (WSUS Publishers Self-signed) from the policy "
		     "Root store: no GPO that applies holds it any more\n"
		     "1|Cleared " ATPC ", which GPO \"Trust WSUS\" had set: no GPO that "
		     "applies sets it any more\n",
		     w) > 0);
	assert_log(m, expected);
	free(expected);
	free(m);
}

/* Two GPOs: a certificate both hold stays when one goes; the value of the one applied last. */
static void test_two_gpos_precedence(void **state)
{
	struct fixture *f = *state;
	static const char *const a_spec[] = {"Root:0", "TrustedPublisher:1", "ATPC=1", NULL};
	static const char *const b_spec[] = {"Root:0", "ATPC=0", NULL};
	struct agent_gpo g[2];
	struct agent_gpo_outcome out;
	char *m = fresh_machine(f, "two");

	fetched(&g[0], f, GPO_A_ID, "A", 1, a_spec);
	fetched(&g[1], f, GPO_B_ID, "B", 1, b_spec);
	apply_ok(m, g, 2, false, &out);
	assert_int_equal(out.certs_added, 2);
	assert_value(m, true, 0, "gpo:B"); /* B applied last wins */
	free_gpos(g, 2);

	/* The other order: A wins. Neither changed, but the winner did. */
	recorded(&g[0], GPO_B_ID, "B", 1);
	recorded(&g[1], GPO_A_ID, "A", 1);
	apply_ok(m, g, 2, false, &out);
	assert_value(m, true, 1, "gpo:A");
	assert_true(out.value_set);
	assert_int_equal(out.certs_added + out.certs_removed, 0);

	/* A goes: its TrustedPublisher certificate goes, the Root one B holds too stays, and
	 * B's value takes over. */
	recorded(&g[0], GPO_B_ID, "B", 1);
	apply_ok(m, g, 1, false, &out);
	assert_true(in_store(m, true, "Root", &f->c[WSUS]));
	assert_false(in_store(m, true, "TrustedPublisher", &f->c[OTHER]));
	assert_int_equal(out.certs_removed, 1);
	assert_int_equal(out.gone, 1);
	assert_value(m, true, 0, "gpo:B");
	free(m);
}

/* Certificates that were there before group policy, in either layer, stay; so does a value
 * another source set since. */
static void test_leaves_what_is_not_its_own(void **state)
{
	struct fixture *f = *state;
	static const char *const spec[] = {"Root:0", "Root:2", "ATPC=1", NULL};
	struct agent_gpo g;
	struct agent_gpo_outcome out;
	struct pp_error err = {0};
	char *m = fresh_machine(f, "own"), *expected;
	bool already;

	/* LOCAL holds WSUS (certutil -addstore); POLICY holds Local Root already (certutil
	 * -GroupPolicy -addstore). */
	assert_int_equal(
	    certstore_add(m, CERTSTORE_ROOT, CERTSTORE_LOCAL, f->c[WSUS].x, false, &already, &err),
	    0);
	assert_int_equal(certstore_add(m, CERTSTORE_ROOT, CERTSTORE_POLICY, f->c[LOCAL].x, false,
				       &already, &err),
			 0);
	fetched(&g, f, GPO_A_ID, "A", 1, spec);
	apply_ok(m, &g, 1, false, &out);
	assert_int_equal(out.certs_added, 1);
	assert_true(in_store(m, true, "Root", &f->c[WSUS]));
	agent_gpo_contents_free(&g.contents);
	/* Someone else sets the value after the GPO did. */
	assert_int_equal(machinepolicy_set(m, ATPC, 1, "client-settings:Servers", &err), 0);

	forget_logs(m);
	apply_ok(m, NULL, 0, false, &out);
	assert_true(in_store(m, false, "Root", &f->c[WSUS])); /* local layer untouched */
	assert_false(in_store(m, true, "Root", &f->c[WSUS]));
	assert_true(in_store(m, true, "Root", &f->c[LOCAL])); /* not put there by us */
	assert_value(m, true, 1, "client-settings:Servers");
	assert_false(out.value_cleared);
	assert_true(
	    asprintf(&expected,
		     "1|GPO \"A\" " GPO_A_ID " no longer applies to this device: what only "
		     "it gave is taken away\n"
		     "1|Removed certificate %s (WSUS Publishers Self-signed) from the policy "
		     "Root store: no GPO that applies holds it any more\n"
		     "1|Certificate %s stays in the policy Root store: no GPO holds it any "
		     "more, but group policy did not put it there\n"
		     "1|" ATPC " was set by GPO \"A\", but client-settings:Servers has set it "
		     "since: left as it is\n",
		     f->c[WSUS].thumb, f->c[LOCAL].thumb) > 0);
	assert_log(m, expected);
	free(expected);
	free(m);
}

/* A GPO's value against the client settings' machine policy cycle (agent_policy.c). */
static json_t *policy_doc(bool enabled)
{
	json_t *doc = json_pack(
	    "{s:s, s:{s:s, s:s, s:s}, s:{}, s:{s:b, s:s, s:s, s:b}, s:[], s:[], s:[]}", "version",
	    "0123456789abcdef", "device", "id", "GUID:3f2504e0-4f89-11d3-9a0c-0305e82c3301", "name",
	    "kiosk-01", "client_version", "5.00.9128.1000", "settings", "third_party", "enabled",
	    enabled, "source", "Default Client Settings", "minimum_client_version",
	    "5.00.8692.1003", "client_version_ok", true, "certificates", "remove_certificates",
	    "deployments");

	assert_non_null(doc);
	return doc;
}

static void policy_cycle(const char *machine, bool enabled)
{
	struct agent_logs logs;
	struct pp_error err = {0};
	json_t *doc = policy_doc(enabled);

	assert_int_equal(agent_logs_open(machine, &logs, &err), 0);
	if (agent_policy_apply(machine, doc, &logs, &err) != 0)
		fail_msg("policy: %s", err.message);
	agent_logs_close(&logs);
	json_decref(doc);
}

static void test_client_settings_interplay(void **state)
{
	struct fixture *f = *state;
	static const char *const on[] = {"ATPC=1", NULL}, *const off[] = {"ATPC=0", NULL};
	struct agent_gpo g;
	struct agent_gpo_outcome out;
	char *m = fresh_machine(f, "interplay"), *lines;

	/* Client settings enabled set it first; the GPO takes it over (group policy comes after
	 * the local policy the client writes). */
	policy_cycle(m, true);
	assert_value(m, true, 1, "client-settings:Default Client Settings");
	fetched(&g, f, GPO_A_ID, "Trust", 1, on);
	apply_ok(m, &g, 1, false, &out);
	assert_value(m, true, 1, "gpo:Trust");
	agent_gpo_contents_free(&g.contents);
	/* Client settings disabled do not clear what a GPO set. */
	policy_cycle(m, false);
	assert_value(m, true, 1, "gpo:Trust");
	/* A GPO that disables it outranks client settings that enable it. */
	fetched(&g, f, GPO_A_ID, "Trust", 2, off);
	apply_ok(m, &g, 1, false, &out);
	assert_value(m, true, 0, "gpo:Trust");
	agent_gpo_contents_free(&g.contents);
	forget_logs(m);
	policy_cycle(m, true);
	assert_value(m, true, 0, "gpo:Trust");
	lines = log_lines(m, "UpdatesDeployment.log");
	assert_non_null(strstr(lines, "1|AcceptTrustedPublisherCerts is 0, set by gpo:Trust: group "
				      "policy takes precedence over client settings\n"));
	free(lines);
	/* The GPO goes: the value goes, and the next machine policy cycle sets it again. */
	apply_ok(m, NULL, 0, false, &out);
	assert_value(m, false, 0, NULL);
	policy_cycle(m, true);
	assert_value(m, true, 1, "client-settings:Default Client Settings");
	free(m);
}

/* Refusals are reported and make the GPO be fetched again; an unrecorded GPO that was not
 * fetched, and a damaged state file, are refused before anything changes. */
static void test_refusals_and_refusing(void **state)
{
	struct fixture *f = *state;
	static const char *const spec[] = {"Root:0", NULL};
	struct agent_gpo g;
	struct agent_gpo_outcome out;
	struct pp_error err = {0};
	char *m = fresh_machine(f, "refuse"), *st, *path, *before;
	uint8_t *blob = NULL, *img = NULL;
	size_t blen = 0, len = 0;
	struct regpol *pol = regpol_new(&err);
	char key[200];

	/* Not fetched and never recorded. */
	recorded(&g, GPO_A_ID, "A", 1);
	pp_error_clear(&err);
	assert_int_equal(apply_fails(m, &g, 1, &err), -1);
	assert_string_equal(err.message,
			    "GPO \"A\" " GPO_A_ID " was not fetched and is not recorded whole in "
			    "gpo-state.json");
	assert_false(in_store(m, true, "Root", &f->c[WSUS]));

	/* A Registry.pol with a good certificate and a forged one. */
	assert_int_equal(regpol_add_cert(pol, "Root", f->c[WSUS].x, &err), 0);
	assert_int_equal(regpol_cert_blob_make(f->c[OTHER].x, &blob, &blen, &err), 0);
	(void)snprintf(key, sizeof(key),
		       REGPOL_CERT_KEY_PREFIX "TrustedPublisher\\Certificates\\%s",
		       f->c[WSUS].thumb);
	assert_int_equal(regpol_add(pol, key, "Blob", REGPOL_REG_BINARY, blob, blen, &err), 0);
	assert_int_equal(regpol_serialize(pol, &img, &len, &err), 0);
	memset(&g, 0, sizeof(g));
	(void)snprintf(g.id, sizeof(g.id), GPO_A_ID);
	(void)snprintf(g.name, sizeof(g.name), "A");
	g.version = 1;
	assert_int_equal(agent_gpo_parse_pol(img, len, "A", NULL, &g.contents, &err), 0);
	g.fetched = true;
	apply_ok(m, &g, 1, false, &out);
	assert_int_equal(out.refused, 1);
	assert_true(in_store(m, true, "Root", &f->c[WSUS]));
	assert_false(in_store(m, true, "TrustedPublisher", &f->c[WSUS]));
	assert_false(in_store(m, true, "TrustedPublisher", &f->c[OTHER]));
	assert_non_null(strstr(out.refusal, "GPO \"A\": refused "));
	st = file_text(m, "agent/gpo-state.json");
	assert_non_null(strstr(st, "\"complete\": false"));
	assert_non_null(strstr(st, "\"list_etag\": \"\""));
	free(st);
	agent_gpo_contents_free(&g.contents);
	/* So the next run cannot skip it. */
	recorded(&g, GPO_A_ID, "A", 1);
	pp_error_clear(&err);
	assert_int_equal(apply_fails(m, &g, 1, &err), -1);

	/* A damaged state file: refused, nothing changed. */
	path = tu_path(m, "agent/gpo-state.json");
	tu_write_file(path, "{\"gpos\": 3}", 11);
	fetched(&g, f, GPO_B_ID, "B", 1, spec);
	before = file_text(m, "agent/gpo-state.json");
	pp_error_clear(&err);
	assert_int_equal(apply_fails(m, &g, 1, &err), -1);
	assert_int_equal(err.code, HR_ERROR_INVALID_DATA);
	assert_non_null(strstr(err.message, "gpo-state.json is damaged (\"gpos\" is not a list); "
					    "remove it and run 'patchpoint-agent gpupdate "
					    "--force'"));
	st = file_text(m, "agent/gpo-state.json");
	assert_string_equal(st, before);
	free(st);
	free(before);
	agent_gpo_contents_free(&g.contents);
	free(path);
	free(blob);
	free(img);
	regpol_free(pol);
	free(m);
}

/* A store that cannot be written part way: what was done is recorded, the rest done next. */
static void test_failure_part_way(void **state)
{
	struct fixture *f = *state;
	static const char *const spec[] = {"Root:0", "TrustedPublisher:0", NULL};
	struct agent_gpo g;
	struct agent_gpo_outcome out;
	struct pp_error err = {0};
	char *m = fresh_machine(f, "partway"), *blocker, *st;

	assert_int_equal(tu_run("mkdir -p '%s/policy/certstores'", m), 0);
	blocker = tu_path(m, "policy/certstores/TrustedPublisher");
	tu_write_file(blocker, "x", 1); /* a file where the store's directory goes */
	fetched(&g, f, GPO_A_ID, "A", 1, spec);
	pp_error_clear(&err);
	assert_int_equal(apply_fails(m, &g, 1, &err), -1);
	assert_true(in_store(m, true, "Root", &f->c[WSUS]));
	st = file_text(m, "agent/gpo-state.json");
	assert_non_null(strstr(st, "\"added\": true"));
	assert_null(strstr(st, "\"complete\": true"));
	free(st);
	assert_int_equal(unlink(blocker), 0);
	apply_ok(m, &g, 1, false, &out);
	assert_int_equal(out.certs_added, 1); /* Root was there: only TrustedPublisher now */
	assert_true(in_store(m, true, "TrustedPublisher", &f->c[WSUS]));
	agent_gpo_contents_free(&g.contents);
	/* And Root is still known as ours: it goes with the GPO. */
	apply_ok(m, NULL, 0, false, &out);
	assert_int_equal(out.certs_removed, 2);
	assert_false(in_store(m, true, "Root", &f->c[WSUS]));
	free(blocker);
	free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_pol),
	    cmocka_unit_test(test_parse_list),
	    cmocka_unit_test(test_apply_skip_force_unlink),
	    cmocka_unit_test(test_two_gpos_precedence),
	    cmocka_unit_test(test_leaves_what_is_not_its_own),
	    cmocka_unit_test(test_client_settings_interplay),
	    cmocka_unit_test(test_refusals_and_refusing),
	    cmocka_unit_test(test_failure_part_way),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
