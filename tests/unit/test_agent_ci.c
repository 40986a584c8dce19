/* test_agent_ci.c - the agent's side of configuration baselines (src/agent/agent_ci.c,
 * agent_ci_cycle.c): the baselines document checked whole (a forged thumbprint, bad base64, a
 * store it may not name, Root for a certificate that is not self-signed, an expected value not
 * of its type, a time limit out of range, an item twice: refused, naming the field); a
 * certificate item without and with remediation (the local layer, only the stores missing; a
 * policy-layer copy counts); script items compared by type, the remediation flow (remediated
 * only when a second discovery finds the value; non-compliant when it does not; error when the
 * remediation script fails; nothing run without remediation), exit codes and the time limit as
 * errors, PATCHPOINT_MACHINE for the scripts; a baseline's state as its worst item's; the
 * report queue, a damaged report set aside. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "agent_ci.h"
#include "hresult.h"
#include "testcerts.h"
#include "testutil.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

struct fx {
	char *dir, *machine;
	X509 *root, *leaf;
	char root_b64[8192], leaf_b64[8192];
	char root_tp[41], leaf_tp[41];
};

static void b64_of(X509 *x, char *out, char tp[41])
{
	unsigned char *der = NULL;
	int n = i2d_X509(x, &der);

	assert_true(n > 0 && (n + 2) / 3 * 4 < 8192);
	(void)EVP_EncodeBlock((unsigned char *)out, der, n);
	tu_sha1_hex(der, (size_t)n, tp);
	OPENSSL_free(der);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char *p;

	assert_non_null(f);
	f->dir = tu_tmpdir();
	f->machine = tu_path(f->dir, "machine");
	tc_self_signed(f->dir, "root", "CI Root", 30, TC_ADDEXT_CA);
	tc_issue(f->dir, "leaf", "CI Leaf", "root", TC_EXT_CODE_SIGNING);
	p = tu_path(f->dir, "root.pem");
	f->root = tc_load_cert(p);
	free(p);
	p = tu_path(f->dir, "leaf.pem");
	f->leaf = tc_load_cert(p);
	free(p);
	b64_of(f->root, f->root_b64, f->root_tp);
	b64_of(f->leaf, f->leaf_b64, f->leaf_tp);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	tu_rmrf(f->dir);
	X509_free(f->root);
	X509_free(f->leaf);
	free(f->machine);
	free(f->dir);
	free(f);
	return 0;
}

static json_t *cert_item(int id, const char *name, const char *tp, const char *b64,
			 const char *const *stores, size_t n)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < n; i++)
		(void)json_array_append_new(arr, json_string(stores[i]));
	return json_pack("{s:i, s:s, s:i, s:s, s:{s:s, s:s, s:s, s:o}}", "id", id, "name", name,
			 "revision", 1, "kind", "certificate", "certificate", "thumbprint", tp,
			 "subject", "CI Root", "der", b64, "stores", arr);
}

static json_t *script_item(int id, const char *name, const char *discovery, const char *remediation,
			   const char *type, const char *expected, int timeout)
{
	return json_pack(
	    "{s:i, s:s, s:i, s:s, s:{s:s, s:o, s:s, s:s, s:s, s:i}}", "id", id, "name", name,
	    "revision", 1, "kind", "script", "script", "discovery", discovery, "remediation",
	    remediation != NULL ? json_string(remediation) : json_null(), "data_type", type,
	    "operator", "equals", "expected", expected, "timeout_seconds", timeout);
}

/* A document of one baseline holding items (taken). */
static json_t *doc_of(json_t *items, bool remediate)
{
	return json_pack("{s:s, s:[{s:i, s:s, s:i, s:[i], s:b, s:i, s:o}]}", "version",
			 "0123456789abcdef", "baselines", "id", 7, "name", "Trust", "revision", 3,
			 "deployment_ids", 4, "remediate", remediate, "schedule_hours", 168,
			 "items", items);
}

static struct agent_ci_doc *parse_ok(json_t *doc)
{
	struct pp_error err;
	struct agent_ci_doc *d;

	pp_error_clear(&err);
	d = agent_ci_parse(doc, &err);
	if (d == NULL)
		fail_msg("parse: %s", err.message);
	json_decref(doc);
	return d;
}

static void parse_refused(json_t *doc, const char *message)
{
	struct pp_error err;

	pp_error_clear(&err);
	assert_null(agent_ci_parse(doc, &err));
	assert_int_equal(err.code, HR_ERROR_INVALID_DATA);
	assert_string_equal(err.message, message);
	json_decref(doc);
}

static void test_parse(void **state)
{
	struct fx *f = *state;
	static const char *const both[] = {"Root", "TrustedPublisher"};
	static const char *const disallowed[] = {"Disallowed"};
	static const char *const twice[] = {"Root", "Root"};
	struct agent_ci_doc *d;
	char fp[AGENT_CI_FINGERPRINT + 1];

	d = parse_ok(
	    doc_of(json_pack("[o, o]", cert_item(1, "cert", f->root_tp, f->root_b64, both, 2),
			     script_item(2, "atpc", "echo 1\n", NULL, "integer", " 01", 5)),
		   true));
	assert_int_equal(d->count, 1);
	assert_string_equal(d->baselines[0].name, "Trust");
	assert_true(d->baselines[0].remediate);
	assert_int_equal(d->baselines[0].ndeployments, 1);
	assert_int_equal(d->baselines[0].deployment_ids[0], 4);
	assert_int_equal(d->baselines[0].count, 2);
	assert_int_equal(d->baselines[0].items[0].stores,
			 CONFIGITEM_STORE_ROOT | CONFIGITEM_STORE_TRUSTED_PUBLISHER);
	assert_non_null(d->baselines[0].items[0].cert);
	assert_string_equal(d->baselines[0].items[1].expected, "1");
	assert_null(d->baselines[0].items[1].remediation);
	assert_int_equal(strlen(d->baselines[0].fingerprint), AGENT_CI_FINGERPRINT);
	memcpy(fp, d->baselines[0].fingerprint, sizeof(fp));
	agent_ci_doc_free(d);
	/* The fingerprint follows the content: another expected value, another fingerprint. */
	d = parse_ok(
	    doc_of(json_pack("[o, o]", cert_item(1, "cert", f->root_tp, f->root_b64, both, 2),
			     script_item(2, "atpc", "echo 1\n", NULL, "integer", "2", 5)),
		   true));
	assert_string_not_equal(d->baselines[0].fingerprint, fp);
	agent_ci_doc_free(d);

	parse_refused(
	    doc_of(json_pack("[o]", cert_item(1, "c", f->leaf_tp, f->root_b64, both, 2)), false),
	    "baselines document field baselines[0].items[0].certificate.thumbprint does "
	    "not match the certificate in der");
	parse_refused(
	    doc_of(json_pack("[o]", cert_item(1, "c", f->root_tp, "AAA=x", both, 2)), false),
	    "baselines document field baselines[0].items[0].certificate.der is not base64");
	parse_refused(
	    doc_of(json_pack("[o]", cert_item(1, "c", f->root_tp, f->root_b64, disallowed, 1)),
		   false),
	    "baselines document field baselines[0].items[0].certificate.stores names a store other "
	    "than Root or TrustedPublisher");
	parse_refused(
	    doc_of(json_pack("[o]", cert_item(1, "c", f->root_tp, f->root_b64, twice, 2)), false),
	    "baselines document field baselines[0].items[0].certificate.stores names a "
	    "store twice");
	parse_refused(
	    doc_of(json_pack("[o]", cert_item(1, "c", f->leaf_tp, f->leaf_b64, both, 2)), false),
	    "baselines document field baselines[0].items[0].certificate.stores puts a "
	    "certificate that is not self-signed into Root");
	parse_refused(
	    doc_of(json_pack("[o]", script_item(1, "s", "echo\n", NULL, "float", "1", 5)), false),
	    "baselines document field baselines[0].items[0].script.data_type is not boolean, "
	    "string "
	    "or integer");
	parse_refused(
	    doc_of(json_pack("[o]", script_item(1, "s", "echo\n", NULL, "integer", "x", 5)), false),
	    "baselines document field baselines[0].items[0].script.expected is not a value of the "
	    "data type");
	parse_refused(
	    doc_of(json_pack("[o]", script_item(1, "s", "echo\n", NULL, "integer", "1", 3601)),
		   false),
	    "baselines document field baselines[0].items[0].script.timeout_seconds is not a whole "
	    "number from 1 to 3600");
	parse_refused(
	    doc_of(json_pack("[o]", script_item(1, "s", "", NULL, "string", "1", 5)), false),
	    "baselines document field baselines[0].items[0].script.discovery is not a "
	    "script of 1 to 65536 bytes of text");
	parse_refused(doc_of(json_pack("[o, o]", script_item(1, "s", "e\n", NULL, "string", "1", 5),
				       script_item(1, "t", "e\n", NULL, "string", "1", 5)),
			     false),
		      "baselines document field baselines[0].items lists an item twice");
	parse_refused(doc_of(json_array(), false),
		      "baselines document field baselines[0].items is not a list of 1 to 256 "
		      "configuration items");
	parse_refused(json_pack("{s:s, s:[]}", "version", "xyz!", "baselines"),
		      "baselines document field version is not hexadecimal");
	parse_refused(json_pack("{s:s}", "version", "00"),
		      "baselines document field baselines is not a list of at most 1024 baselines");
}

/* Evaluates the one baseline of doc (taken) on the fixture's machine. */
static void evaluate(struct fx *f, json_t *doc, struct agent_ci_report *r)
{
	struct agent_ci_doc *d = parse_ok(doc);
	struct pp_error err;

	pp_error_clear(&err);
	if (agent_ci_evaluate(f->machine, &d->baselines[0], NULL, r, &err) != 0)
		fail_msg("evaluate: %s", err.message);
	assert_int_equal(r->count, d->baselines[0].count);
	assert_int_equal(r->baseline_id, 7);
	assert_int_equal(r->revision, 3);
	assert_int_equal(strlen(r->job), AGENT_CI_JOB_LEN);
	agent_ci_doc_free(d);
}

static void test_certificate(void **state)
{
	struct fx *f = *state;
	static const char *const both[] = {"Root", "TrustedPublisher"};
	struct agent_ci_report r;
	struct pp_error err;
	char want[256];
	bool already;

	pp_error_clear(&err);
	evaluate(
	    f,
	    doc_of(json_pack("[o]", cert_item(1, "cert", f->root_tp, f->root_b64, both, 2)), false),
	    &r);
	assert_int_equal(r.results[0].state, CONFIGITEM_NON_COMPLIANT);
	assert_int_equal(r.state, CONFIGITEM_NON_COMPLIANT);
	(void)snprintf(want, sizeof(want),
		       "certificate %s (CI Root) is not in Root, TrustedPublisher", f->root_tp);
	assert_string_equal(r.results[0].detail, want);
	agent_ci_report_free(&r);
	assert_false(certstore_contains(f->machine, CERTSTORE_ROOT, CERTSTORE_LOGICAL, f->root));

	/* In Root through group policy already: only TrustedPublisher is added, locally. */
	assert_int_equal(certstore_add(f->machine, CERTSTORE_ROOT, CERTSTORE_POLICY, f->root, false,
				       &already, &err),
			 0);
	evaluate(
	    f,
	    doc_of(json_pack("[o]", cert_item(1, "cert", f->root_tp, f->root_b64, both, 2)), true),
	    &r);
	assert_int_equal(r.results[0].state, CONFIGITEM_REMEDIATED);
	assert_int_equal(r.state, CONFIGITEM_REMEDIATED);
	(void)snprintf(want, sizeof(want), "added certificate %s (CI Root) to TrustedPublisher",
		       f->root_tp);
	assert_string_equal(r.results[0].detail, want);
	assert_false(r.results[0].has_hresult);
	agent_ci_report_free(&r);
	assert_true(
	    certstore_contains(f->machine, CERTSTORE_TRUSTED_PUBLISHER, CERTSTORE_LOCAL, f->root));
	assert_false(certstore_contains(f->machine, CERTSTORE_ROOT, CERTSTORE_LOCAL, f->root));

	evaluate(
	    f,
	    doc_of(json_pack("[o]", cert_item(1, "cert", f->root_tp, f->root_b64, both, 2)), true),
	    &r);
	assert_int_equal(r.results[0].state, CONFIGITEM_COMPLIANT);
	(void)snprintf(want, sizeof(want), "certificate %s (CI Root) is in Root, TrustedPublisher",
		       f->root_tp);
	assert_string_equal(r.results[0].detail, want);
	agent_ci_report_free(&r);
}

/* A script item result of one evaluation. */
static void script_result(struct fx *f, const char *discovery, const char *remediation,
			  const char *type, const char *expected, int timeout, bool remediate,
			  struct agent_ci_result *out)
{
	struct agent_ci_report r;

	evaluate(f,
		 doc_of(json_pack("[o]", script_item(1, "item", discovery, remediation, type,
						     expected, timeout)),
			remediate),
		 &r);
	*out = r.results[0];
	agent_ci_report_free(&r);
}

static void test_script_types(void **state)
{
	struct fx *f = *state;
	struct agent_ci_result x;

	script_result(f, "echo 007\n", NULL, "integer", "7", 10, false, &x);
	assert_int_equal(x.state, CONFIGITEM_COMPLIANT);
	assert_string_equal(x.detail, "found \"007\" (expected \"7\")");
	script_result(f, "printf 'True\\r\\n'\n", NULL, "boolean", "true", 10, false, &x);
	assert_int_equal(x.state, CONFIGITEM_COMPLIANT);
	script_result(f, "echo Installed\n", NULL, "string", "installed", 10, false, &x);
	assert_int_equal(x.state, CONFIGITEM_NON_COMPLIANT);
	assert_string_equal(x.detail, "found \"Installed\", expected \"installed\"");
	script_result(f, "echo Installed\n", NULL, "string", "Installed", 10, false, &x);
	assert_int_equal(x.state, CONFIGITEM_COMPLIANT);
	/* The scripts know the machine they work on: its absolute path. */
	{
		char abs[PATH_MAX], expected[PATH_MAX + 8];

		tu_run("mkdir -p '%s'", f->machine);
		assert_non_null(realpath(f->machine, abs));
		(void)snprintf(expected, sizeof(expected), "%s", abs);
		script_result(f, "echo \"$PATCHPOINT_MACHINE\"\n", NULL, "string", expected, 10,
			      false, &x);
		assert_int_equal(x.state, CONFIGITEM_COMPLIANT);
	}
	/* What is not of the type, a failing script, the time limit: Error with the code. */
	script_result(f, "echo yes please\n", NULL, "boolean", "true", 10, false, &x);
	assert_int_equal(x.state, CONFIGITEM_ERROR);
	assert_true(x.has_hresult);
	assert_int_equal(x.hresult, HR_ERROR_INVALID_DATA);
	assert_string_equal(x.detail,
			    "the discovered value \"yes please\" is not a Boolean (true or false)");
	script_result(f, "echo gone >&2\nexit 3\n", NULL, "string", "x", 10, false, &x);
	assert_int_equal(x.state, CONFIGITEM_ERROR);
	assert_false(x.has_hresult);
	assert_true(x.has_exit_code);
	assert_int_equal(x.exit_code, 3);
	assert_string_equal(x.detail, "the discovery script exited with code 3: gone");
	script_result(f, "sleep 20\n", NULL, "string", "x", 1, false, &x);
	assert_int_equal(x.state, CONFIGITEM_ERROR);
	assert_int_equal(x.hresult, AGENT_CI_E_TIMEOUT);
	assert_false(x.has_exit_code);
	assert_string_equal(x.detail,
			    "the discovery script ran past its time limit of 1 s and was stopped");
	script_result(f, "kill -9 $$\n", NULL, "string", "x", 10, false, &x);
	assert_int_equal(x.state, CONFIGITEM_ERROR);
	assert_int_equal(x.hresult, HR_E_FAIL);
	assert_string_equal(x.detail, "the discovery script was killed");
}

static void test_remediation(void **state)
{
	struct fx *f = *state;
	static const char disc[] = "cat \"$PATCHPOINT_MACHINE/value\" 2>/dev/null || echo 0\n";
	static const char fix[] = "echo 1 > \"$PATCHPOINT_MACHINE/value\"\n";
	static const char nofix[] = "echo 2 > \"$PATCHPOINT_MACHINE/value\"\n";
	struct agent_ci_result x;
	char *value = tu_path(f->machine, "value");

	tu_run("mkdir -p '%s'", f->machine);
	/* Without remediation the remediation script does not run. */
	script_result(f, disc, fix, "integer", "1", 10, false, &x);
	assert_int_equal(x.state, CONFIGITEM_NON_COMPLIANT);
	assert_string_equal(x.detail, "found \"0\", expected \"1\"");
	assert_false(tu_exists(value));
	/* Remediating without a remediation script says so. */
	script_result(f, disc, NULL, "integer", "1", 10, true, &x);
	assert_int_equal(x.state, CONFIGITEM_NON_COMPLIANT);
	assert_string_equal(x.detail,
			    "found \"0\", expected \"1\"; the item has no remediation script");
	/* A remediation that does not make it compliant. */
	script_result(f, disc, nofix, "integer", "1", 10, true, &x);
	assert_int_equal(x.state, CONFIGITEM_NON_COMPLIANT);
	assert_string_equal(x.detail, "found \"0\"; the remediation script ran, and then the "
				      "discovery script found \"2\", expected \"1\"");
	/* A remediation that fails. */
	script_result(f, disc, "exit 1\n", "integer", "1", 10, true, &x);
	assert_int_equal(x.state, CONFIGITEM_ERROR);
	assert_int_equal(x.exit_code, 1);
	assert_string_equal(x.detail, "the remediation script exited with code 1");
	/* One that works: remediated, and compliant the next time. */
	script_result(f, disc, fix, "integer", "1", 10, true, &x);
	assert_int_equal(x.state, CONFIGITEM_REMEDIATED);
	assert_string_equal(x.detail, "found \"2\"; after the remediation script \"1\" (expected "
				      "\"1\")");
	script_result(f, disc, fix, "integer", "1", 10, true, &x);
	assert_int_equal(x.state, CONFIGITEM_COMPLIANT);
	free(value);
}

static void test_worst_and_queue(void **state)
{
	struct fx *f = *state;
	static const char *const root[] = {"Root"};
	struct agent_ci_report r;
	struct pp_error err;
	size_t n = 99;
	char *dir, *bad;

	evaluate(
	    f,
	    doc_of(json_pack("[o, o, o]", script_item(1, "ok", "echo a\n", NULL, "string", "a", 5),
			     cert_item(2, "cert", f->root_tp, f->root_b64, root, 1),
			     script_item(3, "err", "exit 4\n", NULL, "string", "a", 5)),
		   true),
	    &r);
	assert_int_equal(r.counts[CONFIGITEM_COMPLIANT], 1);
	assert_int_equal(r.counts[CONFIGITEM_REMEDIATED], 1);
	assert_int_equal(r.counts[CONFIGITEM_ERROR], 1);
	assert_int_equal(r.state, CONFIGITEM_ERROR);

	pp_error_clear(&err);
	assert_int_equal(agent_ci_queue_count(f->machine, &n, &err), 0);
	assert_int_equal(n, 0);
	assert_int_equal(agent_ci_queue_add(f->machine, &r, &err), 0);
	assert_int_equal(strlen(r.id), AGENT_UUID_LEN);
	assert_int_equal(agent_ci_queue_add(f->machine, &r, &err), 0);
	assert_int_equal(agent_ci_queue_count(f->machine, &n, &err), 0);
	assert_int_equal(n, 2);
	/* A damaged report is set aside, the others stay. */
	dir = tu_path(f->machine, "agent/ci-queue");
	bad = tu_path(dir, "0000000000000000001-00000000-0000-4000-8000-000000000000.json");
	tu_write_file(bad, "{\"id\":", 6);
	assert_int_equal(agent_ci_queue_count(f->machine, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_false(tu_exists(bad));
	assert_int_equal(tu_run("ls '%s' | grep -q '\\.damaged$'", dir), 0);
	free(bad);
	free(dir);
	agent_ci_report_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_parse, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_certificate, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_script_types, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_remediation, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_worst_and_queue, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
