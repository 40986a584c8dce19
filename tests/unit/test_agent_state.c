/* test_agent_state.c - the agent's files in the machine directory: the machine id made once and
 * kept, agent.json (0600) round trip and refusals, policy.json, managed-certs.json, damaged
 * files as clear errors, the logs. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "agent_state.h"
#include "certstore.h"
#include "hresult.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *agent_file(const char *machine, const char *name)
{
	char *p;

	assert_true(asprintf(&p, "%s/agent/%s", machine, name) > 0);
	return p;
}

static void sample_identity(struct agent_identity *id, const char *machine_id)
{
	memset(id, 0, sizeof(*id));
	(void)snprintf(id->server, sizeof(id->server), "%s", "https://site.example:8531");
	(void)snprintf(id->ca_bundle, sizeof(id->ca_bundle), "%s", "/etc/patchpoint/ca.pem");
	(void)snprintf(id->device_id, sizeof(id->device_id), "%s",
		       "GUID:3f2504e0-4f89-11d3-9a0c-0305e82c3301");
	(void)snprintf(id->credential, sizeof(id->credential), "%s",
		       "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
	(void)snprintf(id->machine_id, sizeof(id->machine_id), "%s", machine_id);
	(void)snprintf(id->name, sizeof(id->name), "%s", "kiosk-01");
	(void)snprintf(id->client_version, sizeof(id->client_version), "%s", AGENT_CLIENT_VERSION);
	id->registered_at = 1700000000;
}

static void test_machine_id_made_once(void **state)
{
	char *m = tu_tmpdir(), *m2 = tu_tmpdir(), *file = agent_file(m, "machine-id"), *dir;
	char id1[AGENT_MACHINE_ID_LEN + 1], id2[AGENT_MACHINE_ID_LEN + 1];
	char other[AGENT_MACHINE_ID_LEN + 1], expected[AGENT_MACHINE_ID_LEN + 2];
	struct pp_error err = {0};
	size_t i;

	(void)state;
	assert_int_equal(agent_state_machine_id(m, id1, &err), 0);
	assert_int_equal(strlen(id1), AGENT_MACHINE_ID_LEN);
	for (i = 0; i < AGENT_MACHINE_ID_LEN; i++)
		assert_non_null(strchr("0123456789abcdef", id1[i]));
	(void)snprintf(expected, sizeof(expected), "%s\n", id1);
	tu_assert_file_text(file, expected);
	dir = tu_path(m, "agent");
	assert_int_equal(tu_file_mode(dir), 0700);

	/* Kept: the second call reads it back. */
	assert_int_equal(agent_state_machine_id(m, id2, &err), 0);
	assert_string_equal(id1, id2);
	tu_assert_file_text(file, expected);
	/* Only machine-id is there: no temporary file left behind. */
	assert_int_equal(tu_count_entries(dir), 1);

	/* Another machine directory is another machine. */
	assert_int_equal(agent_state_machine_id(m2, other, &err), 0);
	assert_string_not_equal(id1, other);
	assert_int_equal(err.code, 0);

	/* A looser agent directory is tightened to 0700. */
	assert_int_equal(chmod(dir, 0755), 0);
	assert_int_equal(agent_state_machine_id(m, id2, &err), 0);
	assert_int_equal(tu_file_mode(dir), 0700);
	tu_rmrf(m);
	tu_rmrf(m2);
	free(dir);
	free(file);
	free(m);
	free(m2);
}

static void test_machine_id_damaged(void **state)
{
	char *m = tu_tmpdir(), *file = agent_file(m, "machine-id");
	char id[AGENT_MACHINE_ID_LEN + 1];
	struct pp_error err = {0};

	(void)state;
	assert_int_equal(agent_state_machine_id(m, id, &err), 0);
	tu_write_file(file, "0123456789ABCDEF0123456789abcdef\n", 33); /* upper case */
	assert_int_equal(agent_state_machine_id(m, id, &err), -1);
	assert_int_equal(err.code, HR_ERROR_INVALID_DATA);
	assert_non_null(strstr(err.message, file));
	assert_non_null(strstr(err.message, "32 lower-case hexadecimal digits"));
	assert_string_equal(id, "");
	/* The damaged file is not replaced behind the user's back. */
	tu_assert_file_text(file, "0123456789ABCDEF0123456789abcdef\n");

	pp_error_clear(&err);
	tu_write_file(file, "", 0);
	assert_int_equal(agent_state_machine_id(m, id, &err), -1);
	assert_int_equal(err.code, HR_ERROR_INVALID_DATA);

	/* The agent directory blocked by a file. */
	tu_rmrf(m);
	assert_int_equal(mkdir(m, 0755), 0);
	free(file);
	file = tu_path(m, "agent");
	tu_write_file(file, "x", 1);
	pp_error_clear(&err);
	assert_int_equal(agent_state_machine_id(m, id, &err), -1);
	assert_non_null(strstr(err.message, "is not a directory"));
	tu_rmrf(m);
	free(file);
	free(m);
}

static void test_identity_round_trip(void **state)
{
	char *m = tu_tmpdir(), *file = agent_file(m, "agent.json");
	char mid[AGENT_MACHINE_ID_LEN + 1];
	struct agent_identity in, out;
	struct pp_error err = {0};
	bool registered = true;

	(void)state;
	/* Not registered yet: no error, registered false. */
	assert_int_equal(agent_state_load_identity(m, &out, &registered, &err), 0);
	assert_false(registered);

	assert_int_equal(agent_state_machine_id(m, mid, &err), 0);
	sample_identity(&in, mid);
	assert_int_equal(agent_state_save_identity(m, &in, &err), 0);
	assert_int_equal(tu_file_mode(file), 0600);
	assert_int_equal(agent_state_load_identity(m, &out, &registered, &err), 0);
	assert_true(registered);
	assert_string_equal(out.server, in.server);
	assert_string_equal(out.ca_bundle, in.ca_bundle);
	assert_string_equal(out.device_id, in.device_id);
	assert_string_equal(out.credential, in.credential);
	assert_string_equal(out.machine_id, mid);
	assert_string_equal(out.name, in.name);
	assert_string_equal(out.client_version, AGENT_CLIENT_VERSION);
	assert_int_equal(out.registered_at, 1700000000);

	/* Saving again replaces the file and keeps its mode; no CA bundle is fine. */
	in.ca_bundle[0] = '\0';
	(void)snprintf(in.credential, sizeof(in.credential), "%s",
		       "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210");
	assert_int_equal(agent_state_save_identity(m, &in, &err), 0);
	assert_int_equal(tu_file_mode(file), 0600);
	assert_int_equal(agent_state_load_identity(m, &out, &registered, &err), 0);
	assert_string_equal(out.ca_bundle, "");
	assert_string_equal(out.credential, in.credential);

	/* Wiping clears the credential. */
	agent_identity_wipe(&out);
	assert_string_equal(out.credential, "");

	/* An incomplete identity is refused and the file stays. */
	in.device_id[0] = '\0';
	assert_int_equal(agent_state_save_identity(m, &in, &err), -1);
	assert_int_equal(err.code, HR_E_INVALIDARG);
	pp_error_clear(&err);
	assert_int_equal(agent_state_load_identity(m, &out, &registered, &err), 0);
	assert_string_equal(out.device_id, "GUID:3f2504e0-4f89-11d3-9a0c-0305e82c3301");

	/* A file other users can read is refused with what to do. */
	assert_int_equal(chmod(file, 0644), 0);
	pp_error_clear(&err);
	assert_int_equal(agent_state_load_identity(m, &out, &registered, &err), -1);
	assert_false(registered);
	assert_int_equal(err.code, HR_E_ACCESSDENIED);
	assert_non_null(strstr(err.message, "chmod 600"));
	assert_string_equal(out.credential, "");
	tu_rmrf(m);
	free(file);
	free(m);
}

/* Writes text as agent.json (0600) and expects a load to fail naming the file and needle. */
static void expect_damaged_identity(const char *m, const char *text, const char *needle)
{
	char *file = agent_file(m, "agent.json");
	struct agent_identity out;
	struct pp_error err = {0};
	bool registered = true;

	tu_write_file(file, text, strlen(text));
	assert_int_equal(chmod(file, 0600), 0);
	assert_int_equal(agent_state_load_identity(m, &out, &registered, &err), -1);
	assert_false(registered);
	assert_int_equal(err.code, HR_ERROR_INVALID_DATA);
	assert_non_null(strstr(err.message, file));
	if (strstr(err.message, needle) == NULL)
		fail_msg("'%s' does not mention '%s'", err.message, needle);
	assert_non_null(strstr(err.message, "register"));
	assert_string_equal(out.credential, "");
	free(file);
}

static void test_identity_damaged(void **state)
{
	char *m = tu_tmpdir();
	char mid[AGENT_MACHINE_ID_LEN + 1];
	struct pp_error err = {0};

	(void)state;
	assert_int_equal(agent_state_machine_id(m, mid, &err), 0);
	expect_damaged_identity(m, "{\"server\": \"http://x\",", "line 1");
	expect_damaged_identity(m, "[1, 2]", "not a JSON object");
	expect_damaged_identity(m, "{}", "\"server\"");
	expect_damaged_identity(m,
				"{\"server\":\"http://s\",\"device_id\":\"GUID:x\",\"credential\":"
				"\"c\",\"machine_id\":\"0123456789abcdef0123456789abcdef\","
				"\"name\":\"n\",\"client_version\":\"5.00.9128.1000\","
				"\"registered_at\":\"yesterday\"}",
				"\"registered_at\"");
	expect_damaged_identity(m,
				"{\"server\":\"http://s\",\"device_id\":\"GUID:x\",\"credential\":"
				"7,\"machine_id\":\"0123456789abcdef0123456789abcdef\","
				"\"name\":\"n\",\"client_version\":\"5.00.9128.1000\","
				"\"registered_at\":1}",
				"\"credential\"");
	expect_damaged_identity(m,
				"{\"server\":\"http://s\",\"device_id\":\"GUID:x\",\"credential\":"
				"\"c\",\"machine_id\":\"xyz\",\"name\":\"n\",\"client_version\":"
				"\"5.00.9128.1000\",\"registered_at\":1}",
				"\"machine_id\"");
	expect_damaged_identity(m,
				"{\"server\":\"ftp://s\",\"device_id\":\"GUID:x\",\"credential\":"
				"\"c\",\"machine_id\":\"0123456789abcdef0123456789abcdef\","
				"\"name\":\"n\",\"client_version\":\"5.00.9128.1000\","
				"\"registered_at\":1}",
				"\"server\"");
	tu_rmrf(m);
	free(m);
}

static void test_policy_round_trip(void **state)
{
	char *m = tu_tmpdir(), *file = agent_file(m, "policy.json");
	struct agent_stored_policy sp;
	struct pp_error err = {0};
	bool present = true;
	json_t *policy = json_pack("{s:s, s:[]}", "version", "00112233aabbccdd", "deployments");

	(void)state;
	assert_int_equal(agent_state_load_policy(m, &sp, &present, &err), 0);
	assert_false(present);
	assert_null(sp.policy);

	assert_int_equal(agent_state_save_policy(m, policy, "\"00112233aabbccdd\"", 1700000100,
						 1700000200, &err),
			 0);
	assert_int_equal(agent_state_load_policy(m, &sp, &present, &err), 0);
	assert_true(present);
	assert_string_equal(sp.version, "00112233aabbccdd");
	assert_string_equal(sp.etag, "\"00112233aabbccdd\"");
	assert_int_equal(sp.received_at, 1700000100);
	assert_int_equal(sp.evaluated_at, 1700000200);
	assert_true(json_equal(sp.policy, policy));
	agent_stored_policy_free(&sp);
	agent_stored_policy_free(&sp); /* twice is fine */

	/* A policy without a version is refused. */
	json_object_del(policy, "version");
	assert_int_equal(agent_state_save_policy(m, policy, NULL, 1, 1, &err), -1);
	assert_int_equal(err.code, HR_E_INVALIDARG);

	/* Damaged: not JSON; a document of another version than recorded. */
	tu_write_file(file, "{\"version\":", 11);
	pp_error_clear(&err);
	assert_int_equal(agent_state_load_policy(m, &sp, &present, &err), -1);
	assert_false(present);
	assert_int_equal(err.code, HR_ERROR_INVALID_DATA);
	assert_non_null(strstr(err.message, file));
	assert_non_null(strstr(err.message, "fetches the policy again"));
	{
		static const char other[] = "{\"version\":\"a\",\"etag\":\"\",\"received_at\":1,"
					    "\"evaluated_at\":1,\"policy\":{\"version\":\"b\"}}";

		tu_write_file(file, other, strlen(other));
	}
	pp_error_clear(&err);
	assert_int_equal(agent_state_load_policy(m, &sp, &present, &err), -1);
	assert_non_null(strstr(err.message, "\"policy\""));
	assert_null(sp.policy);
	json_decref(policy);
	tu_rmrf(m);
	free(file);
	free(m);
}

static void test_managed_round_trip(void **state)
{
	static const char t1[] = "0123456789ABCDEF0123456789ABCDEF01234567";
	static const char t2[] = "FEDCBA9876543210FEDCBA9876543210FEDCBA98";
	char *m = tu_tmpdir(), *file = agent_file(m, "managed-certs.json");
	struct agent_managed mg = {NULL, 0}, back = {NULL, 0};
	struct pp_error err = {0};
	struct agent_managed_cert *c;

	(void)state;
	/* No file: an empty list. */
	assert_int_equal(agent_state_load_managed(m, &back, &err), 0);
	assert_int_equal(back.count, 0);

	assert_int_equal(agent_managed_add(&mg, t1, "CN=WSUS Publishers Self-signed",
					   CERTSTORE_ROOT, 1700000000, &err),
			 0);
	assert_int_equal(agent_managed_add(&mg, t1, "CN=WSUS Publishers Self-signed",
					   CERTSTORE_TRUSTED_PUBLISHER, 1700000001, &err),
			 0);
	assert_int_equal(agent_managed_add(&mg, t2, "CN=Contoso Signing",
					   CERTSTORE_TRUSTED_PUBLISHER, 1700000002, &err),
			 0);
	assert_int_equal(mg.count, 2);
	assert_int_equal(agent_managed_add(&mg, "1234", "x", CERTSTORE_ROOT, 1, &err), -1);
	pp_error_clear(&err);
	assert_int_equal(agent_state_save_managed(m, &mg, &err), 0);
	assert_int_equal(agent_state_load_managed(m, &back, &err), 0);
	assert_int_equal(back.count, 2);
	c = agent_managed_find(&back, t1);
	assert_non_null(c);
	assert_string_equal(c->subject, "CN=WSUS Publishers Self-signed");
	assert_int_equal(c->stores, (1u << CERTSTORE_ROOT) | (1u << CERTSTORE_TRUSTED_PUBLISHER));
	assert_int_equal(c->installed_at, 1700000000);
	c = agent_managed_find(&back, t2);
	assert_non_null(c);
	assert_int_equal(c->stores, 1u << CERTSTORE_TRUSTED_PUBLISHER);
	assert_null(agent_managed_find(&back, "0000000000000000000000000000000000000000"));

	agent_managed_forget(&back, t1);
	agent_managed_forget(&back, t1); /* again: no-op */
	assert_int_equal(back.count, 1);
	assert_string_equal(back.certs[0].thumbprint, t2);
	agent_managed_free(&back);

	/* Damaged files: clear errors naming the file. */
	tu_write_file(file, "{\"certificates\": 3}", 19);
	assert_int_equal(agent_state_load_managed(m, &back, &err), -1);
	assert_int_equal(err.code, HR_ERROR_INVALID_DATA);
	assert_non_null(strstr(err.message, file));
	assert_non_null(strstr(err.message, "forgets which certificates"));
	assert_null(back.certs);
	{
		static const char bad_store[] =
		    "{\"certificates\":[{\"thumbprint\":"
		    "\"0123456789ABCDEF0123456789ABCDEF01234567\","
		    "\"subject\":\"\",\"installed_at\":1,\"stores\":[\"Bogus\"]}]}";
		static const char dup[] =
		    "{\"certificates\":[{\"thumbprint\":"
		    "\"0123456789ABCDEF0123456789ABCDEF01234567\","
		    "\"installed_at\":1,\"stores\":[\"Root\"]},{\"thumbprint\":"
		    "\"0123456789ABCDEF0123456789ABCDEF01234567\",\"installed_at\":1,\"stores\":["
		    "\"Root\"]}]}";
		static const char lower[] = "{\"certificates\":[{\"thumbprint\":"
					    "\"0123456789abcdef0123456789abcdef01234567\","
					    "\"installed_at\":1,\"stores\":[\"Root\"]}]}";

		tu_write_file(file, bad_store, strlen(bad_store));
		pp_error_clear(&err);
		assert_int_equal(agent_state_load_managed(m, &back, &err), -1);
		assert_non_null(strstr(err.message, "certificates[0].stores[0]"));
		tu_write_file(file, dup, strlen(dup));
		pp_error_clear(&err);
		assert_int_equal(agent_state_load_managed(m, &back, &err), -1);
		assert_non_null(strstr(err.message, "listed twice"));
		tu_write_file(file, lower, strlen(lower));
		pp_error_clear(&err);
		assert_int_equal(agent_state_load_managed(m, &back, &err), -1);
		assert_non_null(strstr(err.message, "certificates[0]"));
	}
	agent_managed_free(&mg);
	tu_rmrf(m);
	free(file);
	free(m);
}

static void test_oversized_and_links(void **state)
{
	char *m = tu_tmpdir(), *file = agent_file(m, "policy.json"), *target = tu_path(m, "t");
	char mid[AGENT_MACHINE_ID_LEN + 1];
	struct agent_stored_policy sp;
	struct pp_error err = {0};
	bool present;

	(void)state;
	assert_int_equal(agent_state_machine_id(m, mid, &err), 0);
	/* A symbolic link in place of a state file is not followed. */
	tu_write_file(target, "{}", 2);
	assert_int_equal(symlink(target, file), 0);
	assert_int_equal(agent_state_load_policy(m, &sp, &present, &err), -1);
	assert_false(present);
	assert_non_null(strstr(err.message, file));
	tu_rmrf(m);
	free(target);
	free(file);
	free(m);
}

static void test_logs_open(void **state)
{
	char *m = tu_tmpdir(), *p1, *p2;
	struct agent_logs logs;
	struct pp_error err = {0};
	size_t len;
	uint8_t *data;

	(void)state;
	assert_int_equal(agent_logs_open(m, &logs, &err), 0);
	assert_int_equal(cmtrace_write(logs.policy, CMTRACE_INFO, "hello"), 0);
	assert_int_equal(cmtrace_write(logs.deployment, CMTRACE_WARNING, "world"), 0);
	agent_logs_close(&logs);
	agent_logs_close(&logs); /* twice is fine */
	p1 = tu_path(m, "logs/PolicyAgent.log");
	p2 = tu_path(m, "logs/UpdatesDeployment.log");
	data = tu_read_file(p1, &len);
	assert_non_null(data);
	data[len] = '\0'; /* tu_read_file leaves room for it */
	assert_non_null(strstr((char *)data, "<![LOG[hello]LOG]!>"));
	assert_non_null(strstr((char *)data, "component=\"PolicyAgent_RequestAssignments\""));
	free(data);
	data = tu_read_file(p2, &len);
	assert_non_null(data);
	data[len] = '\0';
	assert_non_null(strstr((char *)data, "component=\"UpdatesDeploymentAgent\""));
	assert_non_null(strstr((char *)data, "type=\"2\""));
	free(data);

	/* A machine directory that cannot hold logs: a clear error, both logs NULL. */
	free(p1);
	p1 = tu_path(m, "blocked");
	tu_write_file(p1, "x", 1);
	assert_int_equal(agent_logs_open(p1, &logs, &err), -1);
	assert_null(logs.policy);
	assert_null(logs.deployment);
	assert_non_null(strstr(err.message, "blocked"));
	tu_rmrf(m);
	free(p1);
	free(p2);
	free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_machine_id_made_once), cmocka_unit_test(test_machine_id_damaged),
	    cmocka_unit_test(test_identity_round_trip),	 cmocka_unit_test(test_identity_damaged),
	    cmocka_unit_test(test_policy_round_trip),	 cmocka_unit_test(test_managed_round_trip),
	    cmocka_unit_test(test_oversized_and_links),	 cmocka_unit_test(test_logs_open),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
