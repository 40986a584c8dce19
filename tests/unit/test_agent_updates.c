/* test_agent_updates.c - the pieces of the software update cycles (src/agent/agent_updates.h):
 * the applicability of an SDP (rules true, false, not applicable on Linux, the agent's memory of
 * what it installed), the digest checks against the metadata, the ReturnCode mapping, the
 * argument splitting, and the command-line handler for real (a .sh and a script without the
 * suffix under /bin/sh, an ELF program run directly, the working directory, stdin, no inherited
 * descriptors, the time limit killing the whole process group, a missing program), and the
 * removal of staging directories a killed agent left. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "agent_rules.h"
#include "agent_updates.h"
#include "hresult.h"
#include "sdp.h"
#include "testutil.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PACKAGE "0c1d2e3f-4a5b-4c6d-8e7f-901a2b3c4d5e"
#define ITEM	"1c1d2e3f-4a5b-4c6d-8e7f-901a2b3c4d5e"
#define PLR	"xmlns:plr=\"" AGENT_RULES_PLR_NS "\""
#define BAR	"xmlns:bar=\"" AGENT_RULES_BAR_NS "\""

/* ---- applicability ---- */

/* An SDP with the given package-level rules and item-level ApplicabilityRules content. */
static struct sdp_package *package(const char *package_rules, const char *item_rules)
{
	struct pp_error err = {0};
	struct sdp_package *p;
	char xml[8192];

	(void)snprintf(
	    xml, sizeof(xml),
	    "<sdp:SoftwareDistributionPackage xmlns:sdp=\"" SDP_NS "\" xmlns:cmd=\"" SDP_CMD_NS
	    "\">"
	    "<sdp:Properties PackageID=\"" PACKAGE "\" CreationDate=\"2024-01-01T00:00:00Z\" "
	    "VendorName=\"Contoso\"><sdp:ProductName>Tools</sdp:ProductName></sdp:Properties>"
	    "<sdp:LocalizedProperties><sdp:Language>en</sdp:Language><sdp:Title>Tool</sdp:Title>"
	    "</sdp:LocalizedProperties>%s"
	    "<sdp:InstallableItem ID=\"" ITEM
	    "\"><sdp:ApplicabilityRules>%s</sdp:ApplicabilityRules>"
	    "<cmd:CommandLineInstallerData Program=\"install.sh\"/>"
	    "<sdp:OriginFile Digest=\"2jmj7l5rSw0yVb/vlWAYkK/YBwk=\" FileName=\"install.sh\" "
	    "Size=\"0\"/></sdp:InstallableItem></sdp:SoftwareDistributionPackage>",
	    package_rules, item_rules);
	p = sdp_package_parse(xml, strlen(xml), &err);
	if (p == NULL)
		fail_msg("%s", err.message);
	return p;
}

static void expect_state(const char *package_rules, const char *item_rules, long long installed,
			 const char *state, const char *reason)
{
	struct sdp_package *p = package(package_rules, item_rules);
	struct agent_applicability a;
	struct pp_error err = {0};

	assert_int_equal(agent_updates_applicability(p, 2, installed, NULL, &a, &err), 0);
	assert_string_equal(a.state, state);
	if (reason != NULL && strstr(a.reason, reason) == NULL)
		fail_msg("reason \"%s\" does not hold \"%s\"", a.reason, reason);
	if (strcmp(state, "required") == 0) {
		assert_non_null(a.item);
		assert_string_equal(a.item->id, ITEM);
	}
	sdp_package_free(p);
}

static void test_applicability(void **state)
{
	char *dir = tu_tmpdir(), *file = tu_path(dir, "present"), rule[1024];

	(void)state;
	tu_write_file(file, "x", 1);
	/* No rules: installable, not known to be installed. */
	expect_state("", "", 0, "required", NULL);
	/* No IsInstalled rule, and this agent installed this revision: installed. */
	expect_state("", "", 2, "installed", "installed by this agent (revision 2)");
	/* ... another revision: required again. */
	expect_state("", "", 1, "required", NULL);
	/* A Windows rule cannot be evaluated here: not required, named. */
	expect_state("<sdp:IsInstallable><bar:RegKeyExists " BAR
		     " Key=\"HKEY_LOCAL_MACHINE\" Subkey=\"SOFTWARE\\HP\"/></sdp:IsInstallable>",
		     "", 0, "not_required", "bar:RegKeyExists is not applicable on Linux");
	expect_state("",
		     "<sdp:IsInstalled><bar:RegKeyExists " BAR
		     " Key=\"HKEY_LOCAL_MACHINE\" Subkey=\"SOFTWARE\\HP\"/></sdp:IsInstalled>",
		     0, "not_required", "bar:RegKeyExists is not applicable on Linux");
	/* Linux rules. */
	(void)snprintf(rule, sizeof(rule),
		       "<sdp:IsInstalled><plr:FileExists " PLR " Path=\"%s\"/></sdp:IsInstalled>",
		       file);
	expect_state("", rule, 0, "installed", "plr:FileExists");
	expect_state(rule, "", 0, "installed", "package IsInstalled is true");
	(void)snprintf(
	    rule, sizeof(rule),
	    "<sdp:IsInstalled><plr:FileExists " PLR " Path=\"%s/absent\"/></sdp:IsInstalled>", dir);
	expect_state("", rule, 0, "required", NULL);
	/* An IsInstalled rule that says false wins over the agent's memory. */
	expect_state("", rule, 2, "required", NULL);
	(void)snprintf(rule, sizeof(rule),
		       "<sdp:IsInstallable><plr:FileExists " PLR
		       " Path=\"%s/absent\"/></sdp:IsInstallable>",
		       dir);
	expect_state(rule, "", 0, "not_required", "package IsInstallable is false");
	expect_state("", rule, 0, "not_required", "item " ITEM " IsInstallable is false");
	tu_rmrf(dir);
	free(file);
	free(dir);
}

static void test_applicability_of_a_vendor_sdp(void **state)
{
	const char *shared = getenv("SHARED");
	char path[4096];
	struct agent_applicability a;
	struct pp_error err = {0};
	struct sdp_package *p;
	uint8_t *xml;
	size_t len;

	(void)state;
	(void)snprintf(path, sizeof(path),
		       "%s/fixtures/sdp/dc718411-a5f1-4b15-966a-63a77cbb156e.sdp",
		       shared != NULL ? shared : "../shared");
	xml = tu_read_file(path, &len);
	if (xml == NULL)
		skip();
	p = sdp_package_parse(xml, len, &err);
	assert_non_null(p);
	/* Dell's WindowsVersion and WMI rules: not for Linux. */
	assert_int_equal(agent_updates_applicability(p, 1, 0, NULL, &a, &err), 0);
	assert_string_equal(a.state, "not_required");
	assert_non_null(strstr(a.reason, "is not applicable on Linux"));
	sdp_package_free(p);
	free(xml);
}

static void test_malformed_rule(void **state)
{
	struct sdp_package *p =
	    package("", "<sdp:IsInstalled><plr:FileExists " PLR " Pth=\"/x\"/></sdp:IsInstalled>");
	struct agent_applicability a;
	struct pp_error err = {0};

	(void)state;
	assert_int_equal(agent_updates_applicability(p, 1, 0, NULL, &a, &err), -1);
	assert_int_equal(err.code, HR_ERROR_INVALID_DATA);
	sdp_package_free(p);
}

/* ---- digests ---- */

static void test_digests(void **state)
{
	char *dir = tu_tmpdir(), *file = tu_path(dir, "c.cab");
	/* "abc": the SHA-1 and SHA-256 test vectors of FIPS 180. */
	const char *sha1 = "A9993E364706816ABA3E25717850C26C9CD0D89D";
	const char *sha256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
	struct pp_error err = {0};

	(void)state;
	tu_write_file(file, "abc", 3);
	assert_int_equal(agent_updates_check_digests(file, 3, sha1, sha256, &err), 0);
	assert_int_equal(agent_updates_check_digests(
			     file, 3, "a9993e364706816aba3e25717850c26c9cd0d89d", sha256, &err),
			 0);
	assert_int_equal(agent_updates_check_digests(file, 4, sha1, sha256, &err), -1);
	assert_int_equal(err.code, HR_WU_E_DM_INCORRECTFILEHASH);
	assert_non_null(strstr(err.message, "is 3 bytes, but the update's metadata says 4"));
	pp_error_clear(&err);
	assert_int_equal(agent_updates_check_digests(
			     file, 3, "A9993E364706816ABA3E25717850C26C9CD0D89E", sha256, &err),
			 -1);
	assert_int_equal(err.code, HR_WU_E_DM_INCORRECTFILEHASH);
	assert_non_null(strstr(err.message, "has SHA-1 a9993e364706816aba3e25717850c26c9cd0d89d"));
	pp_error_clear(&err);
	assert_int_equal(agent_updates_check_digests(
			     file, 3, sha1,
			     "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ae",
			     &err),
			 -1);
	assert_int_equal(err.code, HR_WU_E_DM_INCORRECTFILEHASH);
	assert_non_null(strstr(err.message, "SHA-256"));
	pp_error_clear(&err);
	free(file);
	file = tu_path(dir, "absent.cab");
	assert_int_equal(agent_updates_check_digests(file, 3, sha1, sha256, &err), -1);
	assert_int_equal(err.code, HR_ERROR_FILE_NOT_FOUND);
	tu_rmrf(dir);
	free(file);
	free(dir);
}

/* ---- the ReturnCode table ---- */

static void test_return_codes(void **state)
{
	struct sdp_return_code codes[] = {
	    {0, SDP_RESULT_SUCCEEDED, false}, {3010, SDP_RESULT_SUCCEEDED, true},
	    {5, SDP_RESULT_CANCELLED, false}, {7, SDP_RESULT_FAILED, false},
	    {8, SDP_RESULT_SUCCEEDED, false},
	};
	struct sdp_command_line cl;
	struct agent_handler_result r;

	(void)state;
	memset(&cl, 0, sizeof(cl));
	cl.program = (char *)"x.sh";
	cl.default_result = SDP_RESULT_FAILED;
	cl.return_codes = codes;
	cl.return_code_count = sizeof(codes) / sizeof(codes[0]);
	agent_updates_map_exit(&cl, 0, &r);
	assert_string_equal(r.state, "installed");
	agent_updates_map_exit(&cl, 3010, &r);
	assert_string_equal(r.state, "pending_reboot");
	agent_updates_map_exit(&cl, 8, &r);
	assert_string_equal(r.state, "installed");
	agent_updates_map_exit(&cl, 7, &r);
	assert_string_equal(r.state, "failed");
	assert_int_equal(r.hresult, 0x80070007u); /* HRESULT_FROM_WIN32(7) */
	assert_int_equal(r.exit_code, 7);
	assert_string_equal(r.detail, "exited with code 7: Failed (its ReturnCode entry)");
	agent_updates_map_exit(&cl, 5, &r);
	assert_string_equal(r.state, "failed");
	assert_int_equal(r.hresult, 0x80070005u);
	assert_non_null(strstr(r.detail, "Cancelled"));
	/* Not listed: DefaultResult. */
	agent_updates_map_exit(&cl, 9, &r);
	assert_string_equal(r.state, "failed");
	assert_int_equal(r.hresult, 0x80070009u);
	assert_string_equal(
	    r.detail, "exited with code 9: Failed (not in the ReturnCode table: DefaultResult)");
	cl.default_result = SDP_RESULT_SUCCEEDED;
	cl.reboot_by_default = true;
	agent_updates_map_exit(&cl, 9, &r);
	assert_string_equal(r.state, "pending_reboot");
	/* Without a table, 0 succeeds whatever DefaultResult says. */
	cl.return_code_count = 0;
	cl.default_result = SDP_RESULT_FAILED;
	cl.reboot_by_default = false;
	agent_updates_map_exit(&cl, 0, &r);
	assert_string_equal(r.state, "installed");
	agent_updates_map_exit(&cl, 1, &r);
	assert_string_equal(r.state, "failed");
	assert_int_equal(r.hresult, 0x80070001u);
	/* A 0 that the table calls a failure has no Win32 code of its own: E_FAIL. */
	codes[0].result = SDP_RESULT_FAILED;
	cl.return_code_count = 1;
	agent_updates_map_exit(&cl, 0, &r);
	assert_int_equal(r.hresult, HR_E_FAIL);
}

static void test_split_arguments(void **state)
{
	char buf[128], *words[8];
	struct pp_error err = {0};
	size_t n;

	(void)state;
	assert_int_equal(agent_updates_split_arguments("  /S  \"C:\\Program Files\\x\" a\\\"b ",
						       buf, words, 8, &n, &err),
			 0);
	assert_int_equal(n, 3);
	assert_string_equal(words[0], "/S");
	assert_string_equal(words[1], "C:\\Program Files\\x");
	assert_string_equal(words[2], "a\"b");
	assert_int_equal(agent_updates_split_arguments(NULL, buf, words, 8, &n, &err), 0);
	assert_int_equal(n, 0);
	assert_int_equal(agent_updates_split_arguments("$HOME `id` ;rm", buf, words, 8, &n, &err),
			 0);
	assert_int_equal(n, 3); /* no shell: nothing is expanded or run */
	assert_string_equal(words[0], "$HOME");
	assert_string_equal(words[1], "`id`");
	assert_string_equal(words[2], ";rm");
	assert_int_equal(agent_updates_split_arguments("\"open", buf, words, 8, &n, &err), -1);
	assert_non_null(strstr(err.message, "unclosed quote"));
	pp_error_clear(&err);
	assert_int_equal(agent_updates_split_arguments("a b c", buf, words, 2, &n, &err), -1);
	assert_non_null(strstr(err.message, "more than 2 words"));
}

/* ---- the handler ---- */

struct handler_env {
	char *dir, *out;
};

static int handler_setup(void **state)
{
	struct handler_env *e = calloc(1, sizeof(*e));

	if (e == NULL)
		return -1;
	e->dir = tu_tmpdir();
	e->out = tu_path(e->dir, "output.log");
	*state = e;
	return 0;
}

static int handler_teardown(void **state)
{
	struct handler_env *e = *state;

	tu_rmrf(e->dir);
	free(e->out);
	free(e->dir);
	free(e);
	return 0;
}

static void script(const struct handler_env *e, const char *name, const char *text)
{
	char *p = tu_path(e->dir, name);

	tu_write_file(p, text, strlen(text)); /* 0644: no execute bit, as a cabinet gives it */
	free(p);
}

static int run(const struct handler_env *e, const char *program, const char *args, unsigned timeout,
	       struct agent_handler_result *r, struct pp_error *err)
{
	struct sdp_command_line cl;
	struct sdp_return_code ok = {0, SDP_RESULT_SUCCEEDED, false};

	memset(&cl, 0, sizeof(cl));
	cl.program = (char *)program;
	cl.arguments = (char *)args;
	cl.default_result = SDP_RESULT_FAILED;
	cl.return_codes = &ok;
	cl.return_code_count = 1;
	return agent_updates_run_handler(&cl, e->dir, timeout, e->out, NULL, r, err);
}

static char *output(const struct handler_env *e)
{
	size_t len;
	uint8_t *data = tu_read_file(e->out, &len);

	assert_non_null(data);
	data[len] = '\0';
	return (char *)data;
}

static void test_handler_scripts(void **state)
{
	struct handler_env *e = *state;
	struct agent_handler_result r;
	struct pp_error err = {0};
	char *text, cwd[4200];
	int fd;

	script(e, "install.sh",
	       "echo \"args:$1|$2|$#\"; echo \"cwd:$(pwd)\"; read x; echo \"stdin:$x.\"\n"
	       "echo oops >&2; exit 3\n");
	/* A descriptor of ours that is not close-on-exec must not reach the installer. */
	fd = open(e->out, O_RDONLY | O_CREAT, 0644);
	assert_true(fd >= 0);
	assert_int_equal(run(e, "install.sh", "\"two words\" second", 10, &r, &err), 0);
	assert_string_equal(r.state, "failed");
	assert_int_equal(r.exit_code, 3);
	assert_int_equal(r.hresult, 0x80070003u);
	assert_false(r.timed_out);
	assert_string_equal(r.detail, "The installer install.sh exited with code 3: Failed (not in "
				      "the ReturnCode table: DefaultResult)");
	text = output(e);
	assert_non_null(strstr(text, "args:two words|second|2\n"));
	assert_non_null(realpath(e->dir, cwd));
	assert_non_null(strstr(text, "cwd:"));
	assert_non_null(strstr(text, cwd));
	assert_non_null(strstr(text, "stdin:.\n")); /* /dev/null */
	assert_non_null(strstr(text, "oops\n"));    /* stderr too */
	assert_non_null(strstr(text, "==== The installer install.sh exited with code 3"));
	free(text);
	script(e, "leak.sh", "");
	{
		char body[128];

		(void)snprintf(body, sizeof(body), "[ -e /proc/self/fd/%d ] && exit 9; exit 0\n",
			       fd);
		script(e, "leak.sh", body);
	}
	assert_int_equal(run(e, "leak.sh", NULL, 10, &r, &err), 0);
	assert_string_equal(r.state, "installed");
	(void)close(fd);

	/* Not ELF, no .sh: /bin/sh too. */
	script(e, "setup", "exit 0\n");
	assert_int_equal(run(e, "setup", NULL, 10, &r, &err), 0);
	assert_string_equal(r.state, "installed");
	assert_string_equal(r.detail, "The installer setup exited with code 0: Succeeded");
}

static void test_handler_elf(void **state)
{
	struct handler_env *e = *state;
	struct agent_handler_result r;
	struct pp_error err = {0};
	char *dst = tu_path(e->dir, "prog");
	uint8_t *elf;
	size_t len;
	const char *truth = access("/usr/bin/true", R_OK) == 0 ? "/usr/bin/true" : "/bin/true";

	elf = tu_read_file(truth, &len);
	if (elf == NULL)
		skip();
	tu_write_file(dst, elf, len); /* 0644 */
	assert_int_equal(run(e, "prog", "--ignored", 10, &r, &err), 0);
	assert_string_equal(r.state, "installed");
	assert_int_equal(tu_file_mode(dst) & 0111, 0111); /* made executable to be run */
	free(elf);
	free(dst);
}

static void test_handler_time_limit(void **state)
{
	struct handler_env *e = *state;
	struct agent_handler_result r;
	struct pp_error err = {0};
	struct timespec a, b;
	char *pidfile = tu_path(e->dir, "child.pid"), *text;
	size_t len;
	uint8_t *pid;

	/* The script leaves a child behind: the whole process group goes at the limit. */
	script(e, "slow.sh", "sleep 30 & echo $! > child.pid; wait\n");
	(void)clock_gettime(CLOCK_MONOTONIC, &a);
	assert_int_equal(run(e, "slow.sh", NULL, 1, &r, &err), 0);
	(void)clock_gettime(CLOCK_MONOTONIC, &b);
	assert_true(b.tv_sec - a.tv_sec < 10);
	assert_true(r.timed_out);
	assert_string_equal(r.state, "failed");
	assert_int_equal(r.hresult, HR_E_FAIL);
	assert_int_equal(r.exit_code, -1);
	assert_string_equal(r.detail,
			    "The installer slow.sh ran past its time limit of 1 s and was stopped");
	pid = tu_read_file(pidfile, &len);
	assert_non_null(pid);
	pid[len] = '\0';
	/* Killed (a zombie of init at most for a moment). */
	for (int i = 0; i < 100 && kill((pid_t)atoi((char *)pid), 0) == 0; i++)
		usleep(20000);
	assert_int_not_equal(kill((pid_t)atoi((char *)pid), 0), 0);
	text = output(e);
	assert_non_null(strstr(text, "ran past its time limit"));
	free(text);
	free(pid);
	free(pidfile);
}

static void test_handler_refusals(void **state)
{
	struct handler_env *e = *state;
	struct agent_handler_result r;
	struct pp_error err = {0};

	assert_int_equal(run(e, "absent.sh", NULL, 10, &r, &err), -1);
	assert_int_equal(err.code, HR_ERROR_FILE_NOT_FOUND);
	assert_non_null(strstr(err.message, "absent.sh"));
	pp_error_clear(&err);
	assert_int_equal(run(e, "../escape.sh", NULL, 10, &r, &err), -1);
	assert_int_equal(err.code, HR_ERROR_INVALID_NAME);
	pp_error_clear(&err);
	assert_int_equal(run(e, "/bin/true", NULL, 10, &r, &err), -1);
	pp_error_clear(&err);
	script(e, "q.sh", "exit 0\n");
	assert_int_equal(run(e, "q.sh", "\"unclosed", 10, &r, &err), -1);
	assert_int_equal(err.code, HR_E_INVALIDARG);
}

/* ---- staging ---- */

static void test_clean_staging(void **state)
{
	char *m = tu_tmpdir(), *deep = tu_path(m, "agent/staging/u.abc123/sub"), *file;
	struct pp_error err = {0};

	(void)state;
	assert_int_equal(tu_run("mkdir -p '%s'", deep), 0);
	file = tu_path(deep, "f");
	tu_write_file(file, "x", 1);
	assert_int_equal(agent_updates_clean_staging(m, NULL, &err), 0);
	assert_int_equal(tu_count_entries(m), 2); /* agent/ and agent/staging/ */
	/* Nothing there, or no staging directory at all: fine. */
	assert_int_equal(agent_updates_clean_staging(m, NULL, &err), 0);
	tu_rmrf(m);
	assert_int_equal(agent_updates_clean_staging(m, NULL, &err), 0);
	free(file);
	free(deep);
	free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_applicability),
	    cmocka_unit_test(test_applicability_of_a_vendor_sdp),
	    cmocka_unit_test(test_malformed_rule),
	    cmocka_unit_test(test_digests),
	    cmocka_unit_test(test_return_codes),
	    cmocka_unit_test(test_split_arguments),
	    cmocka_unit_test_setup_teardown(test_handler_scripts, handler_setup, handler_teardown),
	    cmocka_unit_test_setup_teardown(test_handler_elf, handler_setup, handler_teardown),
	    cmocka_unit_test_setup_teardown(test_handler_time_limit, handler_setup,
					    handler_teardown),
	    cmocka_unit_test_setup_teardown(test_handler_refusals, handler_setup, handler_teardown),
	    cmocka_unit_test(test_clean_staging),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
