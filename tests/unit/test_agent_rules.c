/* test_agent_rules.c - applicability rules on Linux (agent_rules.h, docs/formats/sdp.md
 * "Applicability rules on Linux"): each plr: rule true and false, FileVersion's comparisons,
 * lar: in three-valued logic with And/Or stopping early, Windows rules (the real HP and Dell
 * fixtures) not applicable with the rule named, and malformed rules with their exact messages,
 * nothing run when any part is malformed. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "agent_rules.h"
#include "hresult.h"
#include "sdp.h"
#include "testutil.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LAR "xmlns:lar=\"" AGENT_RULES_LAR_NS "\""
#define BAR "xmlns:bar=\"" AGENT_RULES_BAR_NS "\""
#define PLR "xmlns:plr=\"" AGENT_RULES_PLR_NS "\""

#define T  "<lar:True/>"
#define F  "<lar:False/>"
#define NA "<bar:RegKeyExists Key=\"HKEY_LOCAL_MACHINE\" Subkey=\"SOFTWARE\\HP\"/>"

#define NA_DETAIL "bar:RegKeyExists is not applicable on Linux"

#define HP_CATALOG "fixtures/catalogs/HpCatalogForSms.xml.gz"
#define DELL_SDP   "fixtures/sdp/dc718411-a5f1-4b15-966a-63a77cbb156e.sdp"

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));

static char *fmt(const char *f, ...)
{
	va_list ap;
	char *s;

	va_start(ap, f);
	if (vasprintf(&s, f, ap) < 0)
		abort();
	va_end(ap);
	return s;
}

static void expect(const char *xml, enum agent_rule_result result, const char *rule,
		   const char *detail)
{
	struct pp_error err = {0};
	struct agent_rule_outcome o;

	if (agent_rules_evaluate(xml, &o, &err) != 0)
		fail_msg("%s: %s", xml, err.message);
	if (o.result != result)
		fail_msg("%s: %s, expected %s (%s)", xml, agent_rule_result_name(o.result),
			 agent_rule_result_name(result), o.detail);
	if (rule != NULL)
		assert_string_equal(o.rule, rule);
	if (detail != NULL)
		assert_string_equal(o.detail, detail);
}

/* Owns xml. */
static void expect_free(char *xml, enum agent_rule_result result, const char *rule,
			const char *detail)
{
	expect(xml, result, rule, detail);
	free(xml);
}

static void expect_error(const char *xml, const char *message)
{
	struct pp_error err = {0};
	struct agent_rule_outcome o;

	if (agent_rules_evaluate(xml, &o, &err) == 0)
		fail_msg("%s: %s, expected the error \"%s\"", xml, agent_rule_result_name(o.result),
			 message);
	assert_int_equal(err.code, HR_ERROR_INVALID_DATA);
	assert_string_equal(err.message, message);
	assert_int_equal(o.result, AGENT_RULE_FALSE);
	assert_string_equal(o.detail, "");
	/* The check alone says the same. */
	memset(&err, 0, sizeof(err));
	assert_int_equal(agent_rules_check(xml, &err), -1);
	assert_string_equal(err.message, message);
}

static void expect_error_free(char *xml, const char *message)
{
	expect_error(xml, message);
	free(xml);
}

struct dir {
	char *path;
};

static int dir_setup(void **state)
{
	struct dir *d = calloc(1, sizeof(*d));

	assert_non_null(d);
	d->path = tu_tmpdir();
	*state = d;
	return 0;
}

static int dir_teardown(void **state)
{
	struct dir *d = *state;

	tu_rmrf(d->path);
	free(d->path);
	free(d);
	return 0;
}

static char *file_in(const struct dir *d, const char *name, const char *text)
{
	char *p = tu_path(d->path, name);

	tu_write_file(p, text, strlen(text));
	return p;
}

static char *script_in(const struct dir *d, const char *name, const char *body)
{
	char *p = file_in(d, name, body);

	assert_int_equal(chmod(p, 0755), 0);
	return p;
}

/* ---- names ---- */

static void test_result_names(void **state)
{
	(void)state;
	assert_string_equal(agent_rule_result_name(AGENT_RULE_TRUE), "true");
	assert_string_equal(agent_rule_result_name(AGENT_RULE_FALSE), "false");
	assert_string_equal(agent_rule_result_name(AGENT_RULE_NOT_APPLICABLE), "not applicable");
}

/* ---- lar: ---- */

static void test_lar_constants(void **state)
{
	(void)state;
	expect(T, AGENT_RULE_TRUE, "lar:True", "lar:True");
	expect(F, AGENT_RULE_FALSE, "lar:False", "lar:False");
	/* Declared on the fragment itself, as sdp.c keeps it, under any prefix. */
	expect("<l:True xmlns:l=\"" AGENT_RULES_LAR_NS "\"/>", AGENT_RULE_TRUE, "lar:True",
	       "lar:True");
	/* Text and comments between rules say nothing. */
	expect("<lar:And " LAR ">\n  <!-- c -->" T "text" F "</lar:And>", AGENT_RULE_FALSE,
	       "lar:False", "lar:False");
}

static void test_lar_and(void **state)
{
	(void)state;
	expect("<lar:And>" T T "</lar:And>", AGENT_RULE_TRUE, "lar:True", NULL);
	expect("<lar:And>" T F "</lar:And>", AGENT_RULE_FALSE, "lar:False", "lar:False");
	expect("<lar:And>" F F "</lar:And>", AGENT_RULE_FALSE, "lar:False", NULL);
	expect("<lar:And>" T "</lar:And>", AGENT_RULE_TRUE, "lar:True", NULL);
	/* A false operand decides whatever is not applicable... */
	expect("<lar:And>" F NA "</lar:And>", AGENT_RULE_FALSE, "lar:False", "lar:False");
	expect("<lar:And>" NA F "</lar:And>", AGENT_RULE_FALSE, "lar:False", "lar:False");
	/* ...otherwise a not applicable operand could change the outcome. */
	expect("<lar:And>" T NA "</lar:And>", AGENT_RULE_NOT_APPLICABLE, "bar:RegKeyExists",
	       NA_DETAIL);
	expect("<lar:And>" NA T "</lar:And>", AGENT_RULE_NOT_APPLICABLE, "bar:RegKeyExists",
	       NA_DETAIL);
	expect("<lar:And>" NA NA "</lar:And>", AGENT_RULE_NOT_APPLICABLE, NULL, NA_DETAIL);
}

static void test_lar_or(void **state)
{
	(void)state;
	expect("<lar:Or>" F F "</lar:Or>", AGENT_RULE_FALSE, "lar:False", NULL);
	expect("<lar:Or>" F T "</lar:Or>", AGENT_RULE_TRUE, "lar:True", "lar:True");
	expect("<lar:Or>" T T "</lar:Or>", AGENT_RULE_TRUE, NULL, NULL);
	expect("<lar:Or>" T NA "</lar:Or>", AGENT_RULE_TRUE, "lar:True", "lar:True");
	expect("<lar:Or>" NA T "</lar:Or>", AGENT_RULE_TRUE, "lar:True", "lar:True");
	expect("<lar:Or>" F NA "</lar:Or>", AGENT_RULE_NOT_APPLICABLE, "bar:RegKeyExists",
	       NA_DETAIL);
	expect("<lar:Or>" NA F "</lar:Or>", AGENT_RULE_NOT_APPLICABLE, "bar:RegKeyExists",
	       NA_DETAIL);
}

static void test_lar_not(void **state)
{
	(void)state;
	expect("<lar:Not>" T "</lar:Not>", AGENT_RULE_FALSE, "lar:True", "lar:Not: lar:True");
	expect("<lar:Not>" F "</lar:Not>", AGENT_RULE_TRUE, "lar:False", "lar:Not: lar:False");
	expect("<lar:Not>" NA "</lar:Not>", AGENT_RULE_NOT_APPLICABLE, "bar:RegKeyExists",
	       NA_DETAIL);
	expect("<lar:Not><lar:Not>" F "</lar:Not></lar:Not>", AGENT_RULE_FALSE, "lar:False",
	       "lar:Not: lar:Not: lar:False");
	/* Not(And(T, NA)) = Not(NA) = NA; Not(Or(T, NA)) = Not(T) = F. */
	expect("<lar:Not><lar:And>" T NA "</lar:And></lar:Not>", AGENT_RULE_NOT_APPLICABLE, NULL,
	       NA_DETAIL);
	expect("<lar:Not><lar:Or>" NA T "</lar:Or></lar:Not>", AGENT_RULE_FALSE, "lar:True",
	       "lar:Not: lar:True");
}

/* And stops at its first false operand, Or at its first true one: later rules do not run. */
static void test_lar_stops_early(void **state)
{
	struct dir *d = *state;
	char *mark = tu_path(d->path, "ran");
	char *touch = fmt("<plr:CommandExitCode Command=\"/usr/bin/touch\" Arguments=\"%s\" "
			  "ExitCode=\"0\"/>",
			  mark);

	expect_free(fmt("<lar:And>" F "%s</lar:And>", touch), AGENT_RULE_FALSE, "lar:False", NULL);
	assert_false(tu_exists(mark));
	expect_free(fmt("<lar:Or>" T "%s</lar:Or>", touch), AGENT_RULE_TRUE, "lar:True", NULL);
	assert_false(tu_exists(mark));
	/* Not applicable does not decide, so the rule after it runs. */
	expect_free(fmt("<lar:And>" NA "%s</lar:And>", touch), AGENT_RULE_NOT_APPLICABLE, NULL,
		    NA_DETAIL);
	assert_true(tu_exists(mark));
	assert_int_equal(unlink(mark), 0);
	expect_free(fmt("<lar:Or>" F "%s</lar:Or>", touch), AGENT_RULE_TRUE, "plr:CommandExitCode",
		    NULL);
	assert_true(tu_exists(mark));
	free(touch);
	free(mark);
}

/* ---- Windows rules ---- */

static void test_windows_rules_not_applicable(void **state)
{
	(void)state;
	expect(NA, AGENT_RULE_NOT_APPLICABLE, "bar:RegKeyExists", NA_DETAIL);
	expect("<bar:FileExists " BAR " Csidl=\"38\" Path=\"HP\\x.exe\"/>",
	       AGENT_RULE_NOT_APPLICABLE, "bar:FileExists",
	       "bar:FileExists is not applicable on Linux");
	expect("<bar:WindowsVersion Comparison=\"GreaterThanOrEqualTo\" MajorVersion=\"10\"/>",
	       AGENT_RULE_NOT_APPLICABLE, "bar:WindowsVersion",
	       "bar:WindowsVersion is not applicable on Linux");
	/* A known namespace is named by its usual prefix whatever the document calls it. */
	expect("<w:RegSz xmlns:w=\"" AGENT_RULES_BAR_NS "\" Key=\"HKEY_LOCAL_MACHINE\"/>",
	       AGENT_RULE_NOT_APPLICABLE, "bar:RegSz", "bar:RegSz is not applicable on Linux");
	/* bar:RegKeyLoop and the like hold rules; they are not looked into. */
	expect("<bar:RegKeyLoop><lar:Maybe/></bar:RegKeyLoop>", AGENT_RULE_NOT_APPLICABLE,
	       "bar:RegKeyLoop", "bar:RegKeyLoop is not applicable on Linux");
	expect(
	    "<msiar:MsiProductInstalled ProductCode=\"{7C2D5B2E-0000-0000-0000-000000000000}\"/>",
	    AGENT_RULE_NOT_APPLICABLE, "msiar:MsiProductInstalled",
	    "msiar:MsiProductInstalled is not applicable on Linux");
	expect("<x:Probe xmlns:x=\"urn:example:rules\"/>", AGENT_RULE_NOT_APPLICABLE, "x:Probe",
	       "x:Probe is not applicable on Linux (unknown namespace urn:example:rules)");
	expect("<Probe/>", AGENT_RULE_NOT_APPLICABLE, "Probe",
	       "Probe is not applicable on Linux (no namespace)");
}

static char *fixture(const char *rel)
{
	const char *shared = getenv("SHARED");

	assert_non_null(shared);
	return tu_path(shared, rel);
}

/* The first HP package's rules, read with the sdp reader: WMI, processor and Windows version
 * rules, all not applicable, the first one named. */
static void test_hp_fixture_not_applicable(void **state)
{
	char *path = fixture(HP_CATALOG);
	int fd = open(path, O_RDONLY);
	struct pp_error err = {0};
	struct sdp_reader *r;
	struct sdp_package *p = NULL;
	struct sdp_skip skip;
	unsigned rules = 0;
	int rc;

	(void)state;
	assert_true(fd >= 0);
	r = sdp_reader_new_fd(fd, &err);
	assert_non_null(r);
	assert_int_equal(sdp_reader_next(r, &p, &skip, &err), SDP_NEXT_PACKAGE);
	assert_string_equal(p->package_id, "00004850-0000-0000-5350-000000065001");
	assert_non_null(p->is_installable);
	assert_non_null(strstr(p->is_installable, "<lar:And xmlns:lar="));
	expect(p->is_installable, AGENT_RULE_NOT_APPLICABLE, "bar:WmiQuery",
	       "bar:WmiQuery is not applicable on Linux");
	assert_null(p->is_installed);
	assert_int_equal(p->item_count, 1);
	expect(p->items[0].is_installable, AGENT_RULE_NOT_APPLICABLE, "bar:WindowsVersion",
	       "bar:WindowsVersion is not applicable on Linux");
	expect(p->items[0].is_installed, AGENT_RULE_NOT_APPLICABLE, "bar:WmiQuery", NULL);
	sdp_package_free(p);
	/* Every rule of the catalog is well-formed and, being Windows rules, not applicable. */
	while ((rc = sdp_reader_next(r, &p, &skip, &err)) == SDP_NEXT_PACKAGE) {
		const char *all[2 + 2 * SDP_ITEMS_MAX];
		size_t n = 0;

		all[n++] = p->is_installable;
		all[n++] = p->is_installed;
		for (size_t i = 0; i < p->item_count; i++) {
			all[n++] = p->items[i].is_installable;
			all[n++] = p->items[i].is_installed;
		}
		for (size_t i = 0; i < n; i++) {
			if (all[i] != NULL) {
				expect(all[i], AGENT_RULE_NOT_APPLICABLE, NULL, NULL);
				rules++;
			}
		}
		sdp_package_free(p);
	}
	assert_int_equal(rc, SDP_NEXT_END);
	assert_true(rules > 3000);
	sdp_reader_free(r);
	close(fd);
	free(path);
}

static void test_dell_fixture_not_applicable(void **state)
{
	char *path = fixture(DELL_SDP);
	size_t len;
	uint8_t *data = tu_read_file(path, &len);
	struct pp_error err = {0};
	struct sdp_package *p;

	(void)state;
	assert_non_null(data);
	p = sdp_package_parse(data, len, &err);
	assert_non_null(p);
	expect(p->is_installable, AGENT_RULE_NOT_APPLICABLE, "bar:WindowsVersion", NULL);
	expect(p->items[0].is_installed, AGENT_RULE_NOT_APPLICABLE, "msiar:MsiProductInstalled",
	       "msiar:MsiProductInstalled is not applicable on Linux");
	sdp_package_free(p);
	free(data);
	free(path);
}

/* ---- plr:FileExists ---- */

static void test_file_exists(void **state)
{
	struct dir *d = *state;
	char *file = file_in(d, "present", "x");
	char *gone = tu_path(d->path, "absent");
	char *sub = tu_path(d->path, "present/below");

	expect_free(fmt("<plr:FileExists " PLR " Path=\"%s\"/>", file), AGENT_RULE_TRUE,
		    "plr:FileExists", NULL);
	expect_free(fmt("<plr:FileExists Path=\"%s\"/>", file), AGENT_RULE_TRUE, "plr:FileExists",
		    NULL);
	expect_free(fmt("<plr:FileExists Path=\"%s\"/>", d->path), AGENT_RULE_TRUE, NULL, NULL);
	{
		char *want = fmt("plr:FileExists %s: no such file", gone);

		expect_free(fmt("<plr:FileExists Path=\"%s\"/>", gone), AGENT_RULE_FALSE,
			    "plr:FileExists", want);
		free(want);
	}
	/* A path through a regular file (ENOTDIR) does not exist either. */
	expect_free(fmt("<plr:FileExists Path=\"%s\"/>", sub), AGENT_RULE_FALSE, NULL, NULL);
	{
		char *want = fmt("plr:FileExists %s: exists", file);

		expect_free(fmt("<plr:FileExists Path=\"%s\"/>", file), AGENT_RULE_TRUE, NULL,
			    want);
		free(want);
	}
	free(file);
	free(gone);
	free(sub);
}

/* ---- plr:FileContains ---- */

static void test_file_contains(void **state)
{
	struct dir *d = *state;
	char *file = file_in(d, "config", "[main]\nenabled = yes\n");
	char *gone = tu_path(d->path, "absent");
	char *want;

	want = fmt("plr:FileContains %s: contains \"enabled = yes\"", file);
	expect_free(fmt("<plr:FileContains Path=\"%s\" Text=\"enabled = yes\"/>", file),
		    AGENT_RULE_TRUE, "plr:FileContains", want);
	free(want);
	want = fmt("plr:FileContains %s: does not contain \"enabled = no\"", file);
	expect_free(fmt("<plr:FileContains Path=\"%s\" Text=\"enabled = no\"/>", file),
		    AGENT_RULE_FALSE, "plr:FileContains", want);
	free(want);
	/* Character references reach the text; the detail stays one line. */
	want = fmt("plr:FileContains %s: contains \"]?enabled\"", file);
	expect_free(fmt("<plr:FileContains Path=\"%s\" Text=\"]&#10;enabled\"/>", file),
		    AGENT_RULE_TRUE, NULL, want);
	free(want);
	want = fmt("plr:FileContains %s: no such file", gone);
	expect_free(fmt("<plr:FileContains Path=\"%s\" Text=\"x\"/>", gone), AGENT_RULE_FALSE, NULL,
		    want);
	free(want);
	want = fmt("plr:FileContains %s: is a directory", d->path);
	expect_free(fmt("<plr:FileContains Path=\"%s\" Text=\"x\"/>", d->path), AGENT_RULE_FALSE,
		    NULL, want);
	free(want);
	free(file);
	free(gone);
}

/* The text is found across the reader's 64 KiB chunks, and only in the first 16 MiB. */
static void test_file_contains_bounds(void **state)
{
	struct dir *d = *state;
	char *path = tu_path(d->path, "big");
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	char *want;

	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "needle", 6, 65536 - 3), 6);
	assert_int_equal(pwrite(fd, "beyond", 6, AGENT_RULES_SCAN_MAX), 6);
	assert_int_equal(pwrite(fd, "last-in", 7, AGENT_RULES_SCAN_MAX - 7), 7);
	close(fd);
	expect_free(fmt("<plr:FileContains Path=\"%s\" Text=\"needle\"/>", path), AGENT_RULE_TRUE,
		    NULL, NULL);
	expect_free(fmt("<plr:FileContains Path=\"%s\" Text=\"last-in\"/>", path), AGENT_RULE_TRUE,
		    NULL, NULL);
	want = fmt("plr:FileContains %s: does not contain \"beyond\" in its first 16 MiB", path);
	expect_free(fmt("<plr:FileContains Path=\"%s\" Text=\"beyond\"/>", path), AGENT_RULE_FALSE,
		    NULL, want);
	free(want);
	free(path);
}

/* ---- plr:FileVersion ---- */

static void version_case(const char *file, const char *cmp, const char *version, bool holds)
{
	expect_free(fmt("<plr:FileVersion Path=\"%s\" Comparison=\"%s\" Version=\"%s\"/>", file,
			cmp, version),
		    holds ? AGENT_RULE_TRUE : AGENT_RULE_FALSE, "plr:FileVersion", NULL);
}

static void test_file_version(void **state)
{
	struct dir *d = *state;
	char *file = file_in(d, "VERSION", "  2.10.3 \r\nsecond line 9.9\n");
	char *bad = file_in(d, "BAD", "v2.10\n");
	char *want;

	version_case(file, "EqualTo", "2.10.3", true);
	version_case(file, "EqualTo", "2.10.3.0.0", true); /* missing parts are 0 */
	version_case(file, "EqualTo", "2.10", false);
	version_case(file, "LessThan", "2.10.4", true);
	version_case(file, "LessThan", "2.10.3", false);
	version_case(file, "LessThan", "2.9", false); /* numeric, not lexical */
	version_case(file, "LessThanOrEqualTo", "2.10.3", true);
	version_case(file, "LessThanOrEqualTo", "3", true);
	version_case(file, "LessThanOrEqualTo", "2.10.2.99", false);
	version_case(file, "GreaterThan", "2.9.99", true);
	version_case(file, "GreaterThan", "2.10.3", false);
	version_case(file, "GreaterThanOrEqualTo", "2.10.3", true);
	version_case(file, "GreaterThanOrEqualTo", "2.10.3.1", false);
	want = fmt("plr:FileVersion %s: 2.10.3 is greater than or equal to 2.1", file);
	expect_free(fmt("<plr:FileVersion Path=\"%s\" Comparison=\"GreaterThanOrEqualTo\" "
			"Version=\"2.1\"/>",
			file),
		    AGENT_RULE_TRUE, NULL, want);
	free(want);
	want = fmt("plr:FileVersion %s: 2.10.3 is not less than 2.10.3", file);
	expect_free(
	    fmt("<plr:FileVersion Path=\"%s\" Comparison=\"LessThan\" Version=\"2.10.3\"/>", file),
	    AGENT_RULE_FALSE, NULL, want);
	free(want);
	want = fmt("plr:FileVersion %s: \"v2.10\" is not a dotted version", bad);
	expect_free(
	    fmt("<plr:FileVersion Path=\"%s\" Comparison=\"EqualTo\" Version=\"2.10\"/>", bad),
	    AGENT_RULE_FALSE, NULL, want);
	free(want);
	want = fmt("plr:FileVersion %s/none: no such file", d->path);
	expect_free(fmt("<plr:FileVersion Path=\"%s/none\" Comparison=\"EqualTo\" "
			"Version=\"1\"/>",
			d->path),
		    AGENT_RULE_FALSE, NULL, want);
	free(want);
	free(file);
	free(bad);
}

/* ---- plr:CommandExitCode ---- */

static void test_command_exit_code(void **state)
{
	struct dir *d = *state;
	/* Exits 7 when given exactly "a" and "b" (runs of spaces separate words), with stdin at
	 * its end and the fixed environment; 1 otherwise. */
	char *args = script_in(d, "args.sh",
			       "#!/bin/sh\n"
			       "[ $# -eq 2 ] && [ \"$1\" = a ] && [ \"$2\" = b ] || exit 1\n"
			       "if read line; then exit 1; fi\n"
			       "[ \"$LC_ALL\" = C ] || exit 1\n"
			       "[ \"$(pwd)\" = / ] || exit 1\n"
			       "echo noise; echo noise >&2\n"
			       "exit 7\n");
	char *plain = file_in(d, "plain", "#!/bin/sh\nexit 0\n");
	char *want;

	expect("<plr:CommandExitCode Command=\"/bin/true\" ExitCode=\"0\"/>", AGENT_RULE_TRUE,
	       "plr:CommandExitCode", "plr:CommandExitCode /bin/true: exited with 0");
	expect("<plr:CommandExitCode Command=\"/bin/false\" ExitCode=\"0\"/>", AGENT_RULE_FALSE,
	       "plr:CommandExitCode", "plr:CommandExitCode /bin/false: exited with 1, not 0");
	expect("<plr:CommandExitCode Command=\"/bin/false\" ExitCode=\"1\"/>", AGENT_RULE_TRUE,
	       NULL, "plr:CommandExitCode /bin/false: exited with 1");
	want = fmt("plr:CommandExitCode %s: exited with 7", args);
	expect_free(fmt("<plr:CommandExitCode Command=\"%s\" Arguments=\" a  b \" ExitCode=\"7\" "
			"TimeoutSeconds=\"30\"/>",
			args),
		    AGENT_RULE_TRUE, NULL, want);
	free(want);
	expect_free(
	    fmt("<plr:CommandExitCode Command=\"%s\" Arguments=\"a b c\" ExitCode=\"7\"/>", args),
	    AGENT_RULE_FALSE, NULL, NULL);
	want =
	    fmt("plr:CommandExitCode %s/none: cannot run it: No such file or directory", d->path);
	expect_free(fmt("<plr:CommandExitCode Command=\"%s/none\" ExitCode=\"0\"/>", d->path),
		    AGENT_RULE_FALSE, NULL, want);
	free(want);
	want = fmt("plr:CommandExitCode %s: cannot run it: Permission denied", plain);
	expect_free(fmt("<plr:CommandExitCode Command=\"%s\" ExitCode=\"0\"/>", plain),
		    AGENT_RULE_FALSE, NULL, want);
	free(want);
	/* Not a shell: the command is a program's path, taken as it is. */
	expect("<plr:CommandExitCode Command=\"/bin/true;/bin/false\" ExitCode=\"0\"/>",
	       AGENT_RULE_FALSE, NULL,
	       "plr:CommandExitCode /bin/true;/bin/false: cannot run it: No such file or "
	       "directory");
	free(args);
	free(plain);
}

static void test_command_timeout(void **state)
{
	struct dir *d = *state;
	char *mark = tu_path(d->path, "woke");
	char *body = fmt("#!/bin/sh\nsleep 2\ntouch %s\n", mark);
	char *slow = script_in(d, "slow.sh", body);
	char *want = fmt("plr:CommandExitCode %s: did not finish within 1 s and was killed", slow);

	expect_free(fmt("<plr:CommandExitCode Command=\"%s\" ExitCode=\"0\" "
			"TimeoutSeconds=\"1\"/>",
			slow),
		    AGENT_RULE_FALSE, "plr:CommandExitCode", want);
	/* The whole process group went: the script never gets to its touch. */
	sleep(2);
	assert_false(tu_exists(mark));
	free(want);
	free(slow);
	free(body);
	free(mark);
}

/* ---- plr:PackageInstalled ---- */

static void test_package_installed(void **state)
{
	(void)state;
	if (access(AGENT_RULES_DPKG_QUERY, X_OK) != 0 || access(AGENT_RULES_DPKG, X_OK) != 0) {
		print_message("# no dpkg here (not Debian): skipped\n");
		skip();
	}
	expect("<plr:PackageInstalled Name=\"dpkg\"/>", AGENT_RULE_TRUE, "plr:PackageInstalled",
	       NULL);
	expect("<plr:PackageInstalled Name=\"patchpoint-surely-not-a-package\"/>", AGENT_RULE_FALSE,
	       "plr:PackageInstalled",
	       "plr:PackageInstalled patchpoint-surely-not-a-package: not installed (no such "
	       "package)");
	expect("<plr:PackageInstalled Name=\"dpkg\" Comparison=\"GreaterThanOrEqualTo\" "
	       "Version=\"1.0\"/>",
	       AGENT_RULE_TRUE, NULL, NULL);
	expect("<plr:PackageInstalled Name=\"dpkg\" Comparison=\"GreaterThan\" Version=\"1.0\"/>",
	       AGENT_RULE_TRUE, NULL, NULL);
	expect("<plr:PackageInstalled Name=\"dpkg\" Comparison=\"LessThan\" Version=\"1.0\"/>",
	       AGENT_RULE_FALSE, NULL, NULL);
	expect("<plr:PackageInstalled Name=\"dpkg\" Comparison=\"EqualTo\" Version=\"1.0\"/>",
	       AGENT_RULE_FALSE, NULL, NULL);
	/* Debian's rules, not dotted numbers: an epoch beats any upstream version, ~ sorts
	 * before the end. */
	expect("<plr:PackageInstalled Name=\"dpkg\" Comparison=\"LessThan\" Version=\"1:0\"/>",
	       AGENT_RULE_TRUE, NULL, NULL);
	expect("<plr:PackageInstalled Name=\"dpkg\" Comparison=\"LessThanOrEqualTo\" "
	       "Version=\"0:1.0~rc1\"/>",
	       AGENT_RULE_FALSE, NULL, NULL);
	expect("<plr:PackageInstalled Name=\"patchpoint-surely-not-a-package\" "
	       "Comparison=\"GreaterThan\" Version=\"0\"/>",
	       AGENT_RULE_FALSE, NULL, NULL);
}

/* The version dpkg reports is the one compared, with its words in the detail. */
static void test_package_installed_detail(void **state)
{
	struct dir *d = *state;
	char *out = tu_path(d->path, "v");
	size_t len = 0;
	uint8_t *v;
	char *want;

	(void)state;
	if (access(AGENT_RULES_DPKG_QUERY, X_OK) != 0)
		skip();
	assert_int_equal(tu_run("%s -W -f '${Version}' dpkg > '%s'", AGENT_RULES_DPKG_QUERY, out),
			 0);
	v = tu_read_file(out, &len);
	assert_non_null(v);
	want = fmt("plr:PackageInstalled dpkg: installed (%.*s)", (int)len, (const char *)v);
	expect("<plr:PackageInstalled Name=\"dpkg\"/>", AGENT_RULE_TRUE, NULL, want);
	free(want);
	want = fmt("plr:PackageInstalled dpkg: installed %.*s is equal to %.*s", (int)len,
		   (const char *)v, (int)len, (const char *)v);
	expect_free(fmt("<plr:PackageInstalled Name=\"dpkg\" Comparison=\"EqualTo\" "
			"Version=\"%.*s\"/>",
			(int)len, (const char *)v),
		    AGENT_RULE_TRUE, NULL, want);
	free(want);
	want = fmt("plr:PackageInstalled dpkg: installed %.*s is not less than %.*s", (int)len,
		   (const char *)v, (int)len, (const char *)v);
	expect_free(fmt("<plr:PackageInstalled Name=\"dpkg\" Comparison=\"LessThan\" "
			"Version=\"%.*s\"/>",
			(int)len, (const char *)v),
		    AGENT_RULE_FALSE, NULL, want);
	free(want);
	free(v);
	free(out);
}

/* ---- malformed rules ---- */

static void test_malformed_xml(void **state)
{
	(void)state;
	expect_error(
	    "<lar:And>" T,
	    "the applicability rule is not well-formed XML: line 1: Opening and ending tag "
	    "mismatch: And line 1 and rule-fragment");
	expect_error("not xml <",
		     "the applicability rule is not well-formed XML: line 1: StartTag: invalid "
		     "element name");
	expect_error("<u:True/>", "the applicability rule is not well-formed XML: line 1: "
				  "Namespace prefix u on True is not defined");
	expect_error("<lar:True/>&x;",
		     "the applicability rule is not well-formed XML: line 1: Entity 'x' not "
		     "defined");
	expect_error("<?xml version=\"1.0\"?>" T,
		     "the applicability rule is not well-formed XML: line 1: XML declaration "
		     "allowed only at the start of the document");
	expect_error("<!DOCTYPE x [<!ENTITY e \"x\">]>" T,
		     "the applicability rule is not well-formed XML: line 1: StartTag: invalid "
		     "element name");
	/* Closing the wrapper from inside leaves content after the document. */
	expect_error("</rule-fragment><rule-fragment>",
		     "the applicability rule is not well-formed XML: line 1: Extra content at the "
		     "end of the document");
	expect_error(
	    "\n\n" T "<lar:False>",
	    "the applicability rule is not well-formed XML: line 3: Opening and ending tag "
	    "mismatch: False line 3 and rule-fragment");
}

/* lar:True inside n lar:Not, malloc'd. */
static char *nested_nots(int n)
{
	char *s = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&s, &len);

	assert_non_null(m);
	for (int i = 0; i < n; i++)
		fputs("<lar:Not>", m);
	fputs(T, m);
	for (int i = 0; i < n; i++)
		fputs("</lar:Not>", m);
	assert_int_equal(fclose(m), 0);
	return s;
}

static void test_malformed_structure(void **state)
{
	char *deep;

	(void)state;
	expect_error("", "the applicability rule holds no element");
	expect_error("  <!-- nothing -->  ", "the applicability rule holds no element");
	expect_error(T F, "the applicability rule holds 2 elements; it is one element (combine "
			  "rules with lar:And or lar:Or)");
	expect_error("<lar:Maybe/>",
		     "unknown rule lar:Maybe (lar has And, Or, Not, True and False)");
	expect_error("<lar:And>" T "<lar:Xor/></lar:And>",
		     "unknown rule lar:Xor (lar has And, Or, Not, True and False)");
	expect_error("<lar:And/>", "lar:And holds no rule");
	expect_error("<lar:Or> </lar:Or>", "lar:Or holds no rule");
	expect_error("<lar:Not/>", "lar:Not holds 0 rules; it takes exactly one");
	expect_error("<lar:Not>" T F "</lar:Not>", "lar:Not holds 2 rules; it takes exactly one");
	expect_error("<lar:True>" F "</lar:True>", "lar:True takes no rule inside, it holds 1");
	expect_error("<plr:FileExists Path=\"/x\">" T "</plr:FileExists>",
		     "plr:FileExists takes no rule inside, it holds 1");
	expect_error("<plr:DirectoryExists Path=\"/x\"/>",
		     "unknown rule plr:DirectoryExists (plr has FileExists, FileContains, "
		     "FileVersion, CommandExitCode and PackageInstalled)");
	/* A malformed rule is an error even where an earlier operand decides. */
	expect_error("<lar:And>" F "<plr:FileExists Path=\"relative\"/></lar:And>",
		     "plr:FileExists Path \"relative\" is not an absolute path");
	expect_error("<lar:Or>" T "<lar:Nand/></lar:Or>",
		     "unknown rule lar:Nand (lar has And, Or, Not, True and False)");
	/* Nesting is bounded: True inside 32 Nots is 33 levels. */
	deep = nested_nots(AGENT_RULES_DEPTH_MAX);
	expect_error(deep, "the applicability rule nests more than 32 levels deep");
	free(deep);
	deep = nested_nots(AGENT_RULES_DEPTH_MAX - 1);
	expect(deep, AGENT_RULE_FALSE, "lar:True", NULL);
	free(deep);
}

static void test_malformed_attributes(void **state)
{
	(void)state;
	expect_error("<plr:FileExists/>", "plr:FileExists has no Path attribute");
	expect_error("<plr:FileExists Path=\"\"/>",
		     "plr:FileExists Path \"\" is not an absolute path");
	expect_error("<plr:FileExists Path=\"/x\" Pth=\"/y\"/>",
		     "plr:FileExists has an unknown attribute Pth (it takes Path)");
	expect_error("<plr:FileContains Path=\"/x\"/>", "plr:FileContains has no Text attribute");
	expect_error("<plr:FileContains Path=\"/x\" Text=\"\"/>", "plr:FileContains Text is empty");
	expect_error("<plr:FileContains Text=\"x\" Path=\"x\"/>",
		     "plr:FileContains Path \"x\" is not an absolute path");
	expect_error("<plr:FileVersion Path=\"/x\" Version=\"1\"/>",
		     "plr:FileVersion has no Comparison attribute");
	expect_error("<plr:FileVersion Path=\"/x\" Comparison=\"EqualTo\"/>",
		     "plr:FileVersion has no Version attribute");
	expect_error("<plr:FileVersion Path=\"/x\" Comparison=\"Equal\" Version=\"1\"/>",
		     "plr:FileVersion Comparison \"Equal\" is not EqualTo, LessThan, "
		     "LessThanOrEqualTo, GreaterThan or GreaterThanOrEqualTo");
	expect_error("<plr:FileVersion Path=\"/x\" Comparison=\"EqualTo\" Version=\"1..2\"/>",
		     "plr:FileVersion Version \"1..2\" is not a dotted version (up to 16 numbers "
		     "separated by dots, like 1.2.3)");
	expect_error("<plr:FileVersion Path=\"/x\" Comparison=\"EqualTo\" "
		     "Version=\"18446744073709551616\"/>",
		     "plr:FileVersion Version \"18446744073709551616\" is not a dotted version (up "
		     "to 16 numbers separated by dots, like 1.2.3)");
	expect_error("<plr:FileVersion Path=\"/x\" Comparison=\"EqualTo\" Version=\"1.2 \"/>",
		     "plr:FileVersion Version \"1.2 \" is not a dotted version (up to 16 numbers "
		     "separated by dots, like 1.2.3)");
	expect_error(
	    "<plr:FileVersion Path=\"/x\" Comparison=\"EqualTo\" Version=\"1.2\" "
	    "Csidl=\"38\"/>",
	    "plr:FileVersion has an unknown attribute Csidl (it takes Path, Comparison and "
	    "Version)");
	expect_error("<plr:CommandExitCode ExitCode=\"0\"/>",
		     "plr:CommandExitCode has no Command attribute");
	expect_error("<plr:CommandExitCode Command=\"true\" ExitCode=\"0\"/>",
		     "plr:CommandExitCode Command \"true\" is not an absolute path");
	expect_error("<plr:CommandExitCode Command=\"/bin/true\"/>",
		     "plr:CommandExitCode has no ExitCode attribute");
	expect_error("<plr:CommandExitCode Command=\"/bin/true\" ExitCode=\"256\"/>",
		     "plr:CommandExitCode ExitCode \"256\" is not an exit code from 0 to 255");
	expect_error("<plr:CommandExitCode Command=\"/bin/true\" ExitCode=\"-1\"/>",
		     "plr:CommandExitCode ExitCode \"-1\" is not an exit code from 0 to 255");
	expect_error(
	    "<plr:CommandExitCode Command=\"/bin/true\" ExitCode=\"0\" "
	    "TimeoutSeconds=\"0\"/>",
	    "plr:CommandExitCode TimeoutSeconds \"0\" is not a number of seconds from 1 to "
	    "3600");
	expect_error(
	    "<plr:CommandExitCode Command=\"/bin/true\" ExitCode=\"0\" "
	    "TimeoutSeconds=\"3601\"/>",
	    "plr:CommandExitCode TimeoutSeconds \"3601\" is not a number of seconds from 1 "
	    "to 3600");
	expect_error("<plr:CommandExitCode Command=\"/bin/true\" ExitCode=\"0\" Shell=\"yes\"/>",
		     "plr:CommandExitCode has an unknown attribute Shell (it takes Command, "
		     "Arguments, ExitCode and TimeoutSeconds)");
	expect_error("<plr:PackageInstalled/>", "plr:PackageInstalled has no Name attribute");
	expect_error("<plr:PackageInstalled Name=\"-W\"/>",
		     "plr:PackageInstalled Name \"-W\" is not a Debian package name (lower-case "
		     "letters, digits, + - and ., optionally :architecture)");
	expect_error("<plr:PackageInstalled Name=\"OpenSSL\"/>",
		     "plr:PackageInstalled Name \"OpenSSL\" is not a Debian package name "
		     "(lower-case letters, digits, + - and ., optionally :architecture)");
	expect_error("<plr:PackageInstalled Name=\"openssl\" Version=\"3.0\"/>",
		     "plr:PackageInstalled has Version but no Comparison attribute");
	expect_error("<plr:PackageInstalled Name=\"openssl\" Comparison=\"EqualTo\"/>",
		     "plr:PackageInstalled has Comparison but no Version attribute");
	expect_error("<plr:PackageInstalled Name=\"openssl\" Comparison=\"eq\" Version=\"3.0\"/>",
		     "plr:PackageInstalled Comparison \"eq\" is not EqualTo, LessThan, "
		     "LessThanOrEqualTo, GreaterThan or GreaterThanOrEqualTo");
	expect_error("<plr:PackageInstalled Name=\"openssl\" Comparison=\"EqualTo\" "
		     "Version=\"three\"/>",
		     "plr:PackageInstalled Version \"three\" is not a Debian version");
	/* Namespaced attributes say nothing to the rule. */
	expect("<plr:FileExists xml:lang=\"en\" Path=\"/\"/>", AGENT_RULE_TRUE, NULL, NULL);
	/* A control character quoted in a message is replaced. */
	expect_error("<plr:FileExists Path=\"a&#10;b\"/>",
		     "plr:FileExists Path \"a?b\" is not an absolute path");
}

static void test_malformed_runs_nothing(void **state)
{
	struct dir *d = *state;
	char *mark = tu_path(d->path, "ran");
	char *touch = fmt("<plr:CommandExitCode Command=\"/usr/bin/touch\" Arguments=\"%s\" "
			  "ExitCode=\"0\"/>",
			  mark);
	char *many = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&many, &len);

	expect_error_free(fmt("<lar:And>%s<lar:Maybe/></lar:And>", touch),
			  "unknown rule lar:Maybe (lar has And, Or, Not, True and False)");
	assert_false(tu_exists(mark));
	/* The check alone runs nothing either. */
	{
		char *ok = fmt("<lar:And>%s</lar:And>", touch);
		struct pp_error err = {0};

		assert_int_equal(agent_rules_check(ok, &err), 0);
		assert_false(tu_exists(mark));
		free(ok);
	}
	/* More programs than AGENT_RULES_PROGRAMS_MAX. */
	assert_non_null(m);
	fputs("<lar:And>", m);
	for (int i = 0; i <= AGENT_RULES_PROGRAMS_MAX; i++)
		fputs(i % 2 == 0 ? touch : "<plr:PackageInstalled Name=\"dpkg\"/>", m);
	fputs("</lar:And>", m);
	fclose(m);
	expect_error(many, "the applicability rule runs 33 programs, more than 32 "
			   "(plr:CommandExitCode and plr:PackageInstalled rules)");
	assert_false(tu_exists(mark));
	free(many);
	free(touch);
	free(mark);
}

static void test_bad_calls(void **state)
{
	struct pp_error err = {0};
	struct agent_rule_outcome o;
	char *big;

	(void)state;
	assert_int_equal(agent_rules_evaluate(NULL, &o, &err), -1);
	assert_int_equal(err.code, HR_E_INVALIDARG);
	assert_string_equal(err.message,
			    "no applicability rule to evaluate (an absent IsInstallable means "
			    "installable, an absent IsInstalled means not known from rules)");
	memset(&err, 0, sizeof(err));
	assert_int_equal(agent_rules_evaluate(T, NULL, &err), -1);
	assert_int_equal(err.code, HR_E_INVALIDARG);
	/* Larger than what sdp.c keeps of a rule. */
	big = malloc(AGENT_RULES_FRAGMENT_MAX + 2);
	assert_non_null(big);
	memset(big, ' ', AGENT_RULES_FRAGMENT_MAX + 1);
	memcpy(big, T, strlen(T));
	big[AGENT_RULES_FRAGMENT_MAX + 1] = '\0';
	expect_error(big, "the applicability rule is larger than 1048576 bytes");
	big[AGENT_RULES_FRAGMENT_MAX] = '\0';
	expect(big, AGENT_RULE_TRUE, NULL, NULL);
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_result_names),
	    cmocka_unit_test(test_lar_constants),
	    cmocka_unit_test(test_lar_and),
	    cmocka_unit_test(test_lar_or),
	    cmocka_unit_test(test_lar_not),
	    cmocka_unit_test_setup_teardown(test_lar_stops_early, dir_setup, dir_teardown),
	    cmocka_unit_test(test_windows_rules_not_applicable),
	    cmocka_unit_test(test_hp_fixture_not_applicable),
	    cmocka_unit_test(test_dell_fixture_not_applicable),
	    cmocka_unit_test_setup_teardown(test_file_exists, dir_setup, dir_teardown),
	    cmocka_unit_test_setup_teardown(test_file_contains, dir_setup, dir_teardown),
	    cmocka_unit_test_setup_teardown(test_file_contains_bounds, dir_setup, dir_teardown),
	    cmocka_unit_test_setup_teardown(test_file_version, dir_setup, dir_teardown),
	    cmocka_unit_test_setup_teardown(test_command_exit_code, dir_setup, dir_teardown),
	    cmocka_unit_test_setup_teardown(test_command_timeout, dir_setup, dir_teardown),
	    cmocka_unit_test(test_package_installed),
	    cmocka_unit_test_setup_teardown(test_package_installed_detail, dir_setup, dir_teardown),
	    cmocka_unit_test(test_malformed_xml),
	    cmocka_unit_test(test_malformed_structure),
	    cmocka_unit_test(test_malformed_attributes),
	    cmocka_unit_test_setup_teardown(test_malformed_runs_nothing, dir_setup, dir_teardown),
	    cmocka_unit_test(test_bad_calls),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
