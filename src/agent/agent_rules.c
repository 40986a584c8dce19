/* agent_rules.c - applicability rules evaluated on Linux (see agent_rules.h and
 * docs/formats/sdp.md "Applicability rules on Linux").
 *
 * A rule is parsed as a small DOM document: the fragment inside a wrapper element that declares
 * the usual prefixes (lar, bar, msiar, plr), so that a hand-written rule relying on them parses
 * too; declarations on the fragment's own elements take precedence. The tree is walked twice:
 * once to check everything (so that a malformed rule is an error whatever the values, and
 * nothing runs), then to evaluate, And and Or stopping at their first decisive operand.
 *
 * Programs (plr:CommandExitCode, dpkg-query, dpkg) run through fork and execve, never a shell:
 * stdin, stderr (and stdout, unless read) on /dev/null, other descriptors closed, in their own
 * process group (killed as a whole at the time limit), with a fixed environment. */
#include "agent_rules.h"

#include "hresult.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

/* No namespace on the wrapper, so that libxml2's messages name it plainly. */
#define WRAP_OPEN                                                                                  \
	"<rule-fragment xmlns:lar=\"" AGENT_RULES_LAR_NS "\" xmlns:bar=\"" AGENT_RULES_BAR_NS      \
	"\" xmlns:msiar=\"" AGENT_RULES_MSIAR_NS "\" xmlns:plr=\"" AGENT_RULES_PLR_NS "\">"
#define WRAP_CLOSE "</rule-fragment>"

#define VERSION_PARTS_MAX 16
#define VERSION_LINE_MAX  4096 /* bytes of a file plr:FileVersion reads */
#define DPKG_OUTPUT_MAX	  4096
#define DEB_VERSION_MAX	  256
#define DEB_NAME_MAX	  128
#define PLR_ATTRS_MAX	  5
#define SCAN_CHUNK	  (64u * 1024u)

const char *agent_rule_result_name(enum agent_rule_result r)
{
	switch (r) {
	case AGENT_RULE_TRUE:
		return "true";
	case AGENT_RULE_FALSE:
		return "false";
	case AGENT_RULE_NOT_APPLICABLE:
		return "not applicable";
	}
	return "unknown";
}

/* ---- text for logs and errors ---- */

/* Control characters become '?', and a multi-byte UTF-8 sequence cut at the end by truncation is
 * dropped, so that the text is one valid line. */
static void one_line(char *s)
{
	size_t len = strlen(s), lead, need;

	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			s[i] = '?';
	}
	if (len == 0 || ((unsigned char)s[len - 1] & 0x80) == 0)
		return;
	lead = len - 1;
	while (lead > 0 && ((unsigned char)s[lead] & 0xc0) == 0x80 && len - lead < 4)
		lead--;
	need = ((unsigned char)s[lead] & 0xe0) == 0xc0	 ? 2
	       : ((unsigned char)s[lead] & 0xf0) == 0xe0 ? 3
	       : ((unsigned char)s[lead] & 0xf8) == 0xf0 ? 4
							 : 1;
	if (len - lead < need)
		s[lead] = '\0';
}

static int rule_error(struct pp_error *err, const char *fmt, ...) PP_PRINTF(2, 3);

/* A malformed rule: HR_ERROR_INVALID_DATA, -1. */
static int rule_error(struct pp_error *err, const char *fmt, ...)
{
	char msg[PP_ERROR_MESSAGE_MAX];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap); /* cut to fit the error */
	va_end(ap);
	one_line(msg);
	pp_error_set(err, HR_ERROR_INVALID_DATA, "%s", msg);
	return -1;
}

static void decide(struct agent_rule_outcome *out, enum agent_rule_result r, const char *rule,
		   const char *fmt, ...) PP_PRINTF(4, 5);

/* Fills out: result r, decided by rule, detail formatted (cut to fit). */
static void decide(struct agent_rule_outcome *out, enum agent_rule_result r, const char *rule,
		   const char *fmt, ...)
{
	va_list ap;

	out->result = r;
	(void)snprintf(out->rule, sizeof(out->rule), "%s", rule);
	one_line(out->rule);
	va_start(ap, fmt);
	(void)vsnprintf(out->detail, sizeof(out->detail), fmt, ap);
	va_end(ap);
	one_line(out->detail);
}

/* ---- the walk ---- */

enum ns_kind { NS_OTHER, NS_LAR, NS_BAR, NS_MSIAR, NS_PLR };

struct walk {
	bool run;	   /* false: check only, touch nothing */
	unsigned programs; /* rules that run programs, counted while checking */
	struct pp_error *err;
};

static enum ns_kind ns_of(const xmlNode *n)
{
	const char *uri = n->ns != NULL ? (const char *)n->ns->href : NULL;

	if (uri == NULL)
		return NS_OTHER;
	if (strcmp(uri, AGENT_RULES_LAR_NS) == 0)
		return NS_LAR;
	if (strcmp(uri, AGENT_RULES_BAR_NS) == 0)
		return NS_BAR;
	if (strcmp(uri, AGENT_RULES_MSIAR_NS) == 0)
		return NS_MSIAR;
	if (strcmp(uri, AGENT_RULES_PLR_NS) == 0)
		return NS_PLR;
	return NS_OTHER;
}

/* The qualified name of n: the usual prefix of a known namespace, else as written. */
static void qname(const xmlNode *n, char *buf, size_t len)
{
	static const char *const prefix[] = {NULL, "lar", "bar", "msiar", "plr"};
	enum ns_kind k = ns_of(n);
	const char *p = k != NS_OTHER				 ? prefix[k]
			: n->ns != NULL && n->ns->prefix != NULL ? (const char *)n->ns->prefix
								 : NULL;

	if (p != NULL)
		(void)snprintf(buf, len, "%s:%s", p, (const char *)n->name);
	else
		(void)snprintf(buf, len, "%s", (const char *)n->name);
	one_line(buf);
}

static bool is_named(const xmlNode *n, const char *local)
{
	return strcmp((const char *)n->name, local) == 0;
}

static size_t element_children(const xmlNode *n)
{
	size_t count = 0;

	for (const xmlNode *k = n->children; k != NULL; k = k->next) {
		if (k->type == XML_ELEMENT_NODE)
			count++;
	}
	return count;
}

static int walk_rule(struct walk *w, xmlNode *n, unsigned depth, struct agent_rule_outcome *out);

/* ---- lar: ---- */

static int walk_lar(struct walk *w, xmlNode *n, unsigned depth, struct agent_rule_outcome *out)
{
	char name[AGENT_RULE_NAME_MAX];
	size_t kids = element_children(n);
	bool is_and;

	qname(n, name, sizeof(name));
	if (is_named(n, "True") || is_named(n, "False")) {
		if (kids != 0)
			return rule_error(w->err, "%s takes no rule inside, it holds %zu", name,
					  kids);
		decide(out, is_named(n, "True") ? AGENT_RULE_TRUE : AGENT_RULE_FALSE, name, "%s",
		       name);
		return 0;
	}
	if (is_named(n, "Not")) {
		xmlNode *k = n->children;

		if (kids != 1)
			return rule_error(w->err, "%s holds %zu rules; it takes exactly one", name,
					  kids);
		while (k->type != XML_ELEMENT_NODE)
			k = k->next;
		if (walk_rule(w, k, depth + 1, out) != 0)
			return -1;
		if (out->result != AGENT_RULE_NOT_APPLICABLE) {
			char rule[AGENT_RULE_NAME_MAX], inner[AGENT_RULE_DETAIL_MAX];

			memcpy(rule, out->rule, sizeof(rule));
			memcpy(inner, out->detail, sizeof(inner));
			decide(out,
			       out->result == AGENT_RULE_TRUE ? AGENT_RULE_FALSE : AGENT_RULE_TRUE,
			       rule, "%s: %s", name, inner);
		}
		return 0;
	}
	if (!is_named(n, "And") && !is_named(n, "Or"))
		return rule_error(w->err, "unknown rule %s (lar has And, Or, Not, True and False)",
				  name);
	if (kids == 0)
		return rule_error(w->err, "%s holds no rule", name);
	is_and = is_named(n, "And");
	{
		/* And: false decides; Or: true decides. Otherwise the first not applicable operand,
		 * else the first operand, explain the result. */
		enum agent_rule_result decisive = is_and ? AGENT_RULE_FALSE : AGENT_RULE_TRUE;
		struct agent_rule_outcome o, first = {0}, na = {0};
		bool decided = false, have_first = false, have_na = false;

		for (xmlNode *k = n->children; k != NULL; k = k->next) {
			if (k->type != XML_ELEMENT_NODE)
				continue;
			if (walk_rule(w, k, depth + 1, &o) != 0)
				return -1;
			if (!have_first) {
				first = o;
				have_first = true;
			}
			if (o.result == decisive && !decided) {
				*out = o;
				decided = true;
				if (w->run)
					return 0;
			} else if (o.result == AGENT_RULE_NOT_APPLICABLE && !have_na) {
				na = o;
				have_na = true;
			}
		}
		if (decided)
			return 0;
		if (have_na) {
			*out = na;
			return 0;
		}
		*out = first;
		out->result = is_and ? AGENT_RULE_TRUE : AGENT_RULE_FALSE;
	}
	return 0;
}

/* ---- plr: attributes ---- */

struct plr_attrs {
	const char *rule; /* "plr:FileVersion" */
	const char *const *names;
	size_t count;
	xmlChar *value[PLR_ATTRS_MAX];
};

static void plr_attrs_free(struct plr_attrs *a)
{
	for (size_t i = 0; i < a->count; i++) {
		xmlFree(a->value[i]);
		a->value[i] = NULL;
	}
}

/* Reads the attributes a->names of n; any other attribute without a namespace is an error. */
static int plr_attrs_read(struct plr_attrs *a, xmlNode *n, struct pp_error *err)
{
	size_t kids = element_children(n);

	if (kids != 0)
		return rule_error(err, "%s takes no rule inside, it holds %zu", a->rule, kids);
	for (xmlAttr *p = n->properties; p != NULL; p = p->next) {
		size_t i = 0;

		if (p->ns != NULL)
			continue; /* xml:lang and the like say nothing to the rule */
		while (i < a->count && strcmp(a->names[i], (const char *)p->name) != 0)
			i++;
		if (i == a->count) {
			char list[256] = "";

			for (size_t j = 0; j < a->count; j++) {
				size_t used = strlen(list);

				(void)snprintf(list + used, sizeof(list) - used, "%s%s",
					       j == 0		   ? ""
					       : j + 1 == a->count ? " and "
								   : ", ",
					       a->names[j]);
			}
			return rule_error(err, "%s has an unknown attribute %s (it takes %s)",
					  a->rule, (const char *)p->name, list);
		}
		a->value[i] = xmlNodeListGetString(n->doc, p->children, 1);
		if (a->value[i] == NULL && (a->value[i] = xmlCharStrdup("")) == NULL) {
			pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
			return -1;
		}
	}
	return 0;
}

static const char *plr_attr(const struct plr_attrs *a, const char *name)
{
	for (size_t i = 0; i < a->count; i++) {
		if (strcmp(a->names[i], name) == 0)
			return (const char *)a->value[i];
	}
	return NULL;
}

static int plr_need(const struct plr_attrs *a, const char *name, const char **v,
		    struct pp_error *err)
{
	*v = plr_attr(a, name);
	if (*v == NULL)
		return rule_error(err, "%s has no %s attribute", a->rule, name);
	return 0;
}

static int plr_path(const struct plr_attrs *a, const char *name, const char **v,
		    struct pp_error *err)
{
	if (plr_need(a, name, v, err) != 0)
		return -1;
	if ((*v)[0] != '/')
		return rule_error(err, "%s %s \"%s\" is not an absolute path", a->rule, name, *v);
	if (strlen(*v) >= PATH_MAX)
		return rule_error(err, "%s %s is longer than %d bytes", a->rule, name,
				  PATH_MAX - 1);
	return 0;
}

/* ---- versions and comparisons ---- */

enum comparison { CMP_EQ, CMP_LT, CMP_LE, CMP_GT, CMP_GE };

static const struct {
	const char *name;  /* as WSUS's bar:FileVersion spells it */
	const char *words; /* for details */
	const char *dpkg;  /* dpkg --compare-versions operator */
} comparisons[] = {
    [CMP_EQ] = {"EqualTo", "equal to", "eq"},
    [CMP_LT] = {"LessThan", "less than", "lt"},
    [CMP_LE] = {"LessThanOrEqualTo", "less than or equal to", "le"},
    [CMP_GT] = {"GreaterThan", "greater than", "gt"},
    [CMP_GE] = {"GreaterThanOrEqualTo", "greater than or equal to", "ge"},
};

static int plr_comparison(const struct plr_attrs *a, const char *v, enum comparison *out,
			  struct pp_error *err)
{
	for (size_t i = 0; i < sizeof(comparisons) / sizeof(comparisons[0]); i++) {
		if (strcmp(v, comparisons[i].name) == 0) {
			*out = (enum comparison)i;
			return 0;
		}
	}
	return rule_error(err,
			  "%s Comparison \"%s\" is not EqualTo, LessThan, LessThanOrEqualTo, "
			  "GreaterThan or GreaterThanOrEqualTo",
			  a->rule, v);
}

static bool comparison_holds(enum comparison c, int order)
{
	switch (c) {
	case CMP_EQ:
		return order == 0;
	case CMP_LT:
		return order < 0;
	case CMP_LE:
		return order <= 0;
	case CMP_GT:
		return order > 0;
	case CMP_GE:
		return order >= 0;
	}
	return false;
}

struct dotted {
	size_t count;
	uint64_t part[VERSION_PARTS_MAX];
};

/* "1.2.3": decimal parts separated by single dots, at most VERSION_PARTS_MAX, each 64-bit. */
static int dotted_parse(const char *s, struct dotted *v)
{
	v->count = 0;
	for (;;) {
		uint64_t x = 0;

		if (*s < '0' || *s > '9' || v->count == VERSION_PARTS_MAX)
			return -1;
		for (; *s >= '0' && *s <= '9'; s++) {
			if (x > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
				return -1;
			x = x * 10 + (uint64_t)(*s - '0');
		}
		v->part[v->count++] = x;
		if (*s == '\0')
			return 0;
		if (*s++ != '.')
			return -1;
	}
}

/* Part by part, a missing part being 0: <0, 0, >0. */
static int dotted_compare(const struct dotted *a, const struct dotted *b)
{
	size_t n = a->count > b->count ? a->count : b->count;

	for (size_t i = 0; i < n; i++) {
		uint64_t x = i < a->count ? a->part[i] : 0, y = i < b->count ? b->part[i] : 0;

		if (x != y)
			return x < y ? -1 : 1;
	}
	return 0;
}

/* ---- running programs ---- */

static char env_path[] = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
static char env_lang[] = "LC_ALL=C";
static char *const program_env[] = {env_path, env_lang, NULL};

static int64_t monotonic_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* fd moved to a number above stdin/stdout/stderr (close-on-exec), so that the child's dup2 onto
 * 0, 1 and 2 cannot clobber it; -1 on failure (fd closed). */
static int above_stdio(int fd)
{
	int moved;

	if (fd < 0 || fd > STDERR_FILENO)
		return fd;
	moved = fcntl(fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
	(void)close(fd);
	return moved;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		(void)close(*fd);
	*fd = -1;
}

/* In the child, between fork and execve: async-signal-safe calls only. On failure, errno goes
 * to the parent through report (close-on-exec, so a successful execve sends nothing). */
static void child_exec(char *const argv[], int devnull, int out, int report)
{
	struct sigaction dfl;
	sigset_t none;
	int e;

	(void)setpgid(0, 0);
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	(void)sigemptyset(&dfl.sa_mask);
	for (int s = 1; s < NSIG; s++) {
		if (s != SIGKILL && s != SIGSTOP)
			(void)sigaction(s, &dfl, NULL); /* ignored signals survive execve */
	}
	(void)sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	if (dup2(devnull, STDIN_FILENO) < 0 || dup2(out >= 0 ? out : devnull, STDOUT_FILENO) < 0 ||
	    dup2(devnull, STDERR_FILENO) < 0)
		goto fail;
	if (report > STDERR_FILENO + 1)
		(void)close_range(STDERR_FILENO + 1, (unsigned)report - 1, 0);
	(void)close_range((unsigned)report + 1, ~0u, 0);
	if (chdir("/") != 0)
		goto fail;
	(void)execve(argv[0], argv, program_env);
fail:
	e = errno;
	if (write(report, &e, sizeof(e)) < 0)
		e = 0;
	_exit(127);
}

/* Appends what is readable on *fd (non-blocking) to out, dropping what exceeds cap - 1; closes
 * *fd at its end. */
static void drain(int *fd, char *out, size_t cap, size_t *len)
{
	char chunk[512];

	while (*fd >= 0) {
		ssize_t n = read(*fd, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			close_fd(fd);
			return;
		}
		for (ssize_t i = 0; i < n && *len + 1 < cap; i++)
			out[(*len)++] = chunk[i];
		out[*len] = '\0';
	}
}

/* Runs argv[0] (an absolute path) with argv, for at most timeout seconds. 0 when it exited, with
 * its exit code in *code (and up to cap - 1 bytes of its stdout in out when out is not NULL);
 * -1 when it could not run, did not exit in time (then killed with its process group) or died
 * of a signal, with the reason in why. */
static int run_program(char *const argv[], unsigned timeout, char *out, size_t cap, int *code,
		       char *why, size_t why_len)
{
	int devnull = -1, pipe_out[2] = {-1, -1}, report[2] = {-1, -1}, status = 0, rc = -1, e = 0;
	int64_t deadline, delay = 1;
	size_t out_len = 0;
	pid_t pid;
	ssize_t got;

	if (out != NULL)
		out[0] = '\0';
	devnull = above_stdio(open("/dev/null", O_RDWR | O_CLOEXEC));
	if (devnull < 0 || pipe2(report, O_CLOEXEC) != 0 ||
	    (out != NULL && pipe2(pipe_out, O_CLOEXEC) != 0)) {
		(void)snprintf(why, why_len, "cannot prepare to run it: %s", strerror(errno));
		goto out;
	}
	report[1] = above_stdio(report[1]);
	pipe_out[1] = above_stdio(pipe_out[1]);
	if (report[1] < 0 || (out != NULL && pipe_out[1] < 0) ||
	    (out != NULL && fcntl(pipe_out[0], F_SETFL, O_NONBLOCK) != 0)) {
		(void)snprintf(why, why_len, "cannot prepare to run it: %s", strerror(errno));
		goto out;
	}
	pid = fork();
	if (pid < 0) {
		(void)snprintf(why, why_len, "cannot run it: fork: %s", strerror(errno));
		goto out;
	}
	if (pid == 0)
		child_exec(argv, devnull, pipe_out[1], report[1]);
	(void)setpgid(pid, pid); /* also in the child: whichever runs first */
	close_fd(&report[1]);
	close_fd(&pipe_out[1]);
	do
		got = read(report[0], &e, sizeof(e));
	while (got < 0 && errno == EINTR);
	if (got == (ssize_t)sizeof(e)) {
		(void)snprintf(why, why_len, "cannot run it: %s", strerror(e));
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		goto out;
	}
	deadline = monotonic_ms() + (int64_t)timeout * 1000;
	for (;;) {
		pid_t done = waitpid(pid, &status, WNOHANG);
		int64_t left;

		if (done == pid)
			break;
		if (done < 0 && errno != EINTR) {
			(void)snprintf(why, why_len, "cannot wait for it: %s", strerror(errno));
			(void)kill(-pid, SIGKILL);
			(void)kill(pid, SIGKILL);
			goto out;
		}
		left = deadline - monotonic_ms();
		if (left <= 0) {
			(void)kill(-pid, SIGKILL);
			(void)kill(pid, SIGKILL);
			while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
				;
			(void)snprintf(why, why_len, "did not finish within %u s and was killed",
				       timeout);
			goto out;
		}
		if (delay > left)
			delay = left;
		if (pipe_out[0] >= 0) {
			struct pollfd p = {.fd = pipe_out[0], .events = POLLIN};

			if (poll(&p, 1, (int)delay) > 0)
				drain(&pipe_out[0], out, cap, &out_len);
		} else {
			struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)delay * 1000000};

			(void)nanosleep(&ts, NULL);
		}
		if (delay < 50)
			delay *= 2;
	}
	drain(&pipe_out[0], out, cap, &out_len);
	if (WIFSIGNALED(status)) {
		(void)snprintf(why, why_len, "was killed by signal %d", WTERMSIG(status));
		goto out;
	}
	*code = WEXITSTATUS(status);
	rc = 0;
out:
	close_fd(&devnull);
	close_fd(&report[0]);
	close_fd(&report[1]);
	close_fd(&pipe_out[0]);
	close_fd(&pipe_out[1]);
	return rc;
}

/* ---- plr: rules ---- */

static int plr_file_exists(struct walk *w, xmlNode *n, struct agent_rule_outcome *out)
{
	static const char *const names[] = {"Path"};
	struct plr_attrs a = {.rule = "plr:FileExists", .names = names, .count = 1};
	const char *path;
	struct stat st;
	int rc = -1;

	if (plr_attrs_read(&a, n, w->err) != 0 || plr_path(&a, "Path", &path, w->err) != 0)
		goto out;
	rc = 0;
	if (!w->run)
		goto out;
	if (stat(path, &st) == 0)
		decide(out, AGENT_RULE_TRUE, a.rule, "%s %s: exists", a.rule, path);
	else if (errno == ENOENT || errno == ENOTDIR)
		decide(out, AGENT_RULE_FALSE, a.rule, "%s %s: no such file", a.rule, path);
	else
		decide(out, AGENT_RULE_FALSE, a.rule, "%s %s: cannot be checked: %s", a.rule, path,
		       strerror(errno));
out:
	plr_attrs_free(&a);
	return rc;
}

/* A regular file opened for reading (-1 with errno; EISDIR/EINVAL for other kinds of files).
 * O_NONBLOCK so that a FIFO does not hang the scan. */
static int open_regular(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	struct stat st;

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) != 0) {
		int e = errno;

		(void)close(fd);
		errno = e;
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		(void)close(fd);
		errno = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
		return -1;
	}
	return fd;
}

static const char *open_reason(int e)
{
	if (e == ENOENT || e == ENOTDIR)
		return "no such file";
	if (e == EISDIR)
		return "is a directory";
	if (e == EINVAL)
		return "is not a regular file";
	return strerror(e);
}

static ssize_t read_some(int fd, void *buf, size_t len)
{
	ssize_t n;

	do
		n = read(fd, buf, len);
	while (n < 0 && errno == EINTR);
	return n;
}

static int plr_file_contains(struct walk *w, xmlNode *n, struct agent_rule_outcome *out)
{
	static const char *const names[] = {"Path", "Text"};
	struct plr_attrs a = {.rule = "plr:FileContains", .names = names, .count = 2};
	const char *path, *text;
	size_t tlen, have = 0, scanned = 0;
	char *buf = NULL;
	bool found = false;
	int fd = -1, rc = -1;

	if (plr_attrs_read(&a, n, w->err) != 0 || plr_path(&a, "Path", &path, w->err) != 0 ||
	    plr_need(&a, "Text", &text, w->err) != 0)
		goto out;
	if (text[0] == '\0') {
		rule_error(w->err, "%s Text is empty", a.rule);
		goto out;
	}
	rc = 0;
	if (!w->run)
		goto out;
	tlen = strlen(text);
	if ((fd = open_regular(path)) < 0) {
		decide(out, AGENT_RULE_FALSE, a.rule, "%s %s: %s", a.rule, path,
		       open_reason(errno));
		goto out;
	}
	/* A sliding window: each chunk is searched with the tlen - 1 bytes before it. */
	if ((buf = malloc(SCAN_CHUNK + tlen)) == NULL) {
		pp_error_set(w->err, HR_E_OUTOFMEMORY, "out of memory");
		rc = -1;
		goto out;
	}
	while (!found && scanned < AGENT_RULES_SCAN_MAX) {
		size_t want = AGENT_RULES_SCAN_MAX - scanned < SCAN_CHUNK
				  ? AGENT_RULES_SCAN_MAX - scanned
				  : SCAN_CHUNK;
		ssize_t got = read_some(fd, buf + have, want);

		if (got < 0) {
			decide(out, AGENT_RULE_FALSE, a.rule, "%s %s: cannot be read: %s", a.rule,
			       path, strerror(errno));
			goto out;
		}
		if (got == 0)
			break;
		scanned += (size_t)got;
		have += (size_t)got;
		found = memmem(buf, have, text, tlen) != NULL;
		if (have >= tlen) {
			memmove(buf, buf + have - (tlen - 1), tlen - 1);
			have = tlen - 1;
		}
	}
	if (found)
		decide(out, AGENT_RULE_TRUE, a.rule, "%s %s: contains \"%s\"", a.rule, path, text);
	else
		decide(out, AGENT_RULE_FALSE, a.rule, "%s %s: does not contain \"%s\"%s", a.rule,
		       path, text, scanned >= AGENT_RULES_SCAN_MAX ? " in its first 16 MiB" : "");
out:
	free(buf);
	if (fd >= 0)
		(void)close(fd);
	plr_attrs_free(&a);
	return rc;
}

static int plr_file_version(struct walk *w, xmlNode *n, struct agent_rule_outcome *out)
{
	static const char *const names[] = {"Path", "Comparison", "Version"};
	struct plr_attrs a = {.rule = "plr:FileVersion", .names = names, .count = 3};
	const char *path, *cmp_name, *version;
	char line[VERSION_LINE_MAX + 1], *start, *end;
	struct dotted want, have;
	enum comparison cmp = CMP_EQ;
	ssize_t got;
	int fd = -1, rc = -1, order;

	if (plr_attrs_read(&a, n, w->err) != 0 || plr_path(&a, "Path", &path, w->err) != 0 ||
	    plr_need(&a, "Comparison", &cmp_name, w->err) != 0 ||
	    plr_comparison(&a, cmp_name, &cmp, w->err) != 0 ||
	    plr_need(&a, "Version", &version, w->err) != 0)
		goto out;
	if (dotted_parse(version, &want) != 0) {
		rule_error(w->err,
			   "%s Version \"%s\" is not a dotted version (up to %d numbers separated "
			   "by dots, like 1.2.3)",
			   a.rule, version, VERSION_PARTS_MAX);
		goto out;
	}
	rc = 0;
	if (!w->run)
		goto out;
	if ((fd = open_regular(path)) < 0) {
		decide(out, AGENT_RULE_FALSE, a.rule, "%s %s: %s", a.rule, path,
		       open_reason(errno));
		goto out;
	}
	if ((got = read_some(fd, line, VERSION_LINE_MAX)) < 0) {
		decide(out, AGENT_RULE_FALSE, a.rule, "%s %s: cannot be read: %s", a.rule, path,
		       strerror(errno));
		goto out;
	}
	line[got] = '\0';
	line[strcspn(line, "\n")] = '\0';
	for (start = line; *start == ' ' || *start == '\t'; start++)
		;
	end = start + strlen(start);
	while (end > start && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		*--end = '\0';
	if (dotted_parse(start, &have) != 0) {
		decide(out, AGENT_RULE_FALSE, a.rule, "%s %s: \"%.64s\" is not a dotted version",
		       a.rule, path, start);
		goto out;
	}
	order = dotted_compare(&have, &want);
	if (comparison_holds(cmp, order))
		decide(out, AGENT_RULE_TRUE, a.rule, "%s %s: %s is %s %s", a.rule, path, start,
		       comparisons[cmp].words, version);
	else
		decide(out, AGENT_RULE_FALSE, a.rule, "%s %s: %s is not %s %s", a.rule, path, start,
		       comparisons[cmp].words, version);
out:
	if (fd >= 0)
		(void)close(fd);
	plr_attrs_free(&a);
	return rc;
}

/* 0..max in plain decimal. */
static int parse_uint(const char *s, unsigned max, unsigned *out)
{
	unsigned v = 0;

	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9' || v > (max - (unsigned)(*s - '0')) / 10)
			return -1;
		v = v * 10 + (unsigned)(*s - '0');
	}
	*out = v;
	return 0;
}

static int plr_command_exit_code(struct walk *w, xmlNode *n, struct agent_rule_outcome *out)
{
	static const char *const names[] = {"Command", "Arguments", "ExitCode", "TimeoutSeconds"};
	struct plr_attrs a = {.rule = "plr:CommandExitCode", .names = names, .count = 4};
	const char *command, *args, *code_text, *timeout_text;
	char *argv[AGENT_RULES_ARGS_MAX + 2], *words = NULL, why[256];
	unsigned expected, timeout = AGENT_RULES_TIMEOUT;
	size_t argc = 0;
	int rc = -1, code;

	if (plr_attrs_read(&a, n, w->err) != 0 || plr_path(&a, "Command", &command, w->err) != 0 ||
	    plr_need(&a, "ExitCode", &code_text, w->err) != 0)
		goto out;
	if (parse_uint(code_text, 255, &expected) != 0) {
		rule_error(w->err, "%s ExitCode \"%s\" is not an exit code from 0 to 255", a.rule,
			   code_text);
		goto out;
	}
	timeout_text = plr_attr(&a, "TimeoutSeconds");
	if (timeout_text != NULL &&
	    (parse_uint(timeout_text, AGENT_RULES_TIMEOUT_MAX, &timeout) != 0 || timeout == 0)) {
		rule_error(w->err,
			   "%s TimeoutSeconds \"%s\" is not a number of seconds from 1 to %d",
			   a.rule, timeout_text, AGENT_RULES_TIMEOUT_MAX);
		goto out;
	}
	args = plr_attr(&a, "Arguments");
	if ((words = strdup(args != NULL ? args : "")) == NULL) {
		pp_error_set(w->err, HR_E_OUTOFMEMORY, "out of memory");
		goto out;
	}
	argv[argc++] = (char *)command;
	for (char *save = NULL, *t = strtok_r(words, " ", &save); t != NULL;
	     t = strtok_r(NULL, " ", &save)) {
		if (argc == AGENT_RULES_ARGS_MAX + 1) {
			rule_error(w->err, "%s Arguments has more than %d words", a.rule,
				   AGENT_RULES_ARGS_MAX);
			goto out;
		}
		argv[argc++] = t;
	}
	argv[argc] = NULL;
	rc = 0;
	if (!w->run) {
		w->programs++;
		goto out;
	}
	if (run_program(argv, timeout, NULL, 0, &code, why, sizeof(why)) != 0)
		decide(out, AGENT_RULE_FALSE, a.rule, "%s %s: %s", a.rule, command, why);
	else if ((unsigned)code == expected)
		decide(out, AGENT_RULE_TRUE, a.rule, "%s %s: exited with %d", a.rule, command,
		       code);
	else
		decide(out, AGENT_RULE_FALSE, a.rule, "%s %s: exited with %d, not %u", a.rule,
		       command, code, expected);
out:
	free(words);
	plr_attrs_free(&a);
	return rc;
}

/* A Debian package name (policy 5.6.1, lower case letters, digits, + - .; two or more, starting
 * with a letter or digit), optionally with ":architecture" as dpkg-query takes it. */
static bool deb_name_valid(const char *s)
{
	size_t i = 0;

	if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9')))
		return false;
	for (; s[i] != '\0' && s[i] != ':'; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '-' ||
		      c == '.'))
			return false;
	}
	if (i < 2 || i > DEB_NAME_MAX)
		return false;
	if (s[i] == '\0')
		return true;
	if (s[++i] == '\0')
		return false;
	for (; s[i] != '\0'; i++) {
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return false;
	}
	return true;
}

/* A Debian version as dpkg accepts it: [epoch:]upstream[-revision], starting with a digit. */
static bool deb_version_valid(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len > DEB_VERSION_MAX || s[0] < '0' || s[0] > '9')
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      strchr(".+~:-", c) != NULL))
			return false;
	}
	return true;
}

/* The first installed line of dpkg-query's "Status<TAB>Version" lines: its version in *version
 * (pointing into out), or NULL with the status of the first line in *status. */
static void dpkg_installed(char *out, const char **version, const char **status)
{
	*version = NULL;
	*status = NULL;
	for (char *save = NULL, *l = strtok_r(out, "\n", &save); l != NULL;
	     l = strtok_r(NULL, "\n", &save)) {
		char *tab = strchr(l, '\t'), *want, *flag, *state;

		if (tab == NULL)
			continue;
		*tab = '\0';
		if (*status == NULL)
			*status = l;
		/* "want flag status": install, hold and deinstall all leave an installed package
		 * installed until something changes it. */
		want = l;
		flag = strchr(want, ' ');
		state = flag != NULL ? strchr(flag + 1, ' ') : NULL;
		if (state != NULL && strncmp(flag, " ok ", 4) == 0 &&
		    strcmp(state + 1, "installed") == 0) {
			*version = tab + 1;
			return;
		}
	}
}

static int plr_package_installed(struct walk *w, xmlNode *n, struct agent_rule_outcome *out)
{
	static const char *const names[] = {"Name", "Comparison", "Version"};
	struct plr_attrs a = {.rule = "plr:PackageInstalled", .names = names, .count = 3};
	const char *name, *cmp_name, *version, *installed, *status;
	char fmt[] = "--showformat=${Status}\t${Version}\n", flag_w[] = "-W",
	     flag_cmp[] = "--compare-versions", output[DPKG_OUTPUT_MAX], why[256],
	     have[DEB_VERSION_MAX + 1];
	char *query[5], *compare[6];
	enum comparison cmp = CMP_EQ;
	int rc = -1, code;

	if (plr_attrs_read(&a, n, w->err) != 0 || plr_need(&a, "Name", &name, w->err) != 0)
		goto out;
	if (!deb_name_valid(name)) {
		rule_error(
		    w->err,
		    "%s Name \"%s\" is not a Debian package name (lower-case letters, digits, "
		    "+ - and ., optionally :architecture)",
		    a.rule, name);
		goto out;
	}
	cmp_name = plr_attr(&a, "Comparison");
	version = plr_attr(&a, "Version");
	if ((cmp_name == NULL) != (version == NULL)) {
		rule_error(w->err, "%s has %s but no %s attribute", a.rule,
			   cmp_name != NULL ? "Comparison" : "Version",
			   cmp_name != NULL ? "Version" : "Comparison");
		goto out;
	}
	if (cmp_name != NULL && plr_comparison(&a, cmp_name, &cmp, w->err) != 0)
		goto out;
	if (version != NULL && !deb_version_valid(version)) {
		rule_error(w->err, "%s Version \"%s\" is not a Debian version", a.rule, version);
		goto out;
	}
	rc = 0;
	if (!w->run) {
		w->programs++;
		goto out;
	}
	query[0] = (char *)AGENT_RULES_DPKG_QUERY;
	query[1] = flag_w;
	query[2] = fmt;
	query[3] = (char *)name;
	query[4] = NULL;
	if (run_program(query, AGENT_RULES_TIMEOUT, output, sizeof(output), &code, why,
			sizeof(why)) != 0) {
		decide(out, AGENT_RULE_FALSE, a.rule, "%s %s: %s %s", a.rule, name,
		       AGENT_RULES_DPKG_QUERY, why);
		goto out;
	}
	if (code == 1) {
		decide(out, AGENT_RULE_FALSE, a.rule, "%s %s: not installed (no such package)",
		       a.rule, name);
		goto out;
	}
	if (code != 0) {
		decide(out, AGENT_RULE_FALSE, a.rule, "%s %s: %s exited with %d", a.rule, name,
		       AGENT_RULES_DPKG_QUERY, code);
		goto out;
	}
	dpkg_installed(output, &installed, &status);
	if (installed == NULL) {
		decide(out, AGENT_RULE_FALSE, a.rule, "%s %s: not installed (status \"%s\")",
		       a.rule, name, status != NULL ? status : "unknown");
		goto out;
	}
	if (version == NULL) {
		decide(out, AGENT_RULE_TRUE, a.rule, "%s %s: installed (%s)", a.rule, name,
		       installed);
		goto out;
	}
	if (!deb_version_valid(installed)) {
		decide(out, AGENT_RULE_FALSE, a.rule,
		       "%s %s: installed version \"%.64s\" is not a Debian version", a.rule, name,
		       installed);
		goto out;
	}
	memcpy(have, installed, strlen(installed) + 1);
	compare[0] = (char *)AGENT_RULES_DPKG;
	compare[1] = flag_cmp;
	compare[2] = have;
	compare[3] = (char *)comparisons[cmp].dpkg;
	compare[4] = (char *)version;
	compare[5] = NULL;
	if (run_program(compare, AGENT_RULES_TIMEOUT, NULL, 0, &code, why, sizeof(why)) != 0) {
		decide(out, AGENT_RULE_FALSE, a.rule, "%s %s: %s %s", a.rule, name,
		       AGENT_RULES_DPKG, why);
		goto out;
	}
	if (code == 0)
		decide(out, AGENT_RULE_TRUE, a.rule, "%s %s: installed %s is %s %s", a.rule, name,
		       have, comparisons[cmp].words, version);
	else if (code == 1)
		decide(out, AGENT_RULE_FALSE, a.rule, "%s %s: installed %s is not %s %s", a.rule,
		       name, have, comparisons[cmp].words, version);
	else
		decide(out, AGENT_RULE_FALSE, a.rule, "%s %s: %s --compare-versions exited with %d",
		       a.rule, name, AGENT_RULES_DPKG, code);
out:
	plr_attrs_free(&a);
	return rc;
}

static int walk_plr(struct walk *w, xmlNode *n, struct agent_rule_outcome *out)
{
	char name[AGENT_RULE_NAME_MAX];

	if (is_named(n, "FileExists"))
		return plr_file_exists(w, n, out);
	if (is_named(n, "FileContains"))
		return plr_file_contains(w, n, out);
	if (is_named(n, "FileVersion"))
		return plr_file_version(w, n, out);
	if (is_named(n, "CommandExitCode"))
		return plr_command_exit_code(w, n, out);
	if (is_named(n, "PackageInstalled"))
		return plr_package_installed(w, n, out);
	qname(n, name, sizeof(name));
	return rule_error(w->err,
			  "unknown rule %s (plr has FileExists, FileContains, FileVersion, "
			  "CommandExitCode and PackageInstalled)",
			  name);
}

static int walk_rule(struct walk *w, xmlNode *n, unsigned depth, struct agent_rule_outcome *out)
{
	char name[AGENT_RULE_NAME_MAX];
	enum ns_kind k = ns_of(n);

	if (depth > AGENT_RULES_DEPTH_MAX)
		return rule_error(w->err, "the applicability rule nests more than %d levels deep",
				  AGENT_RULES_DEPTH_MAX);
	/* Checking fills out too, with a result that means nothing. */
	decide(out, AGENT_RULE_TRUE, "", "%s", "");
	if (k == NS_LAR)
		return walk_lar(w, n, depth, out);
	if (k == NS_PLR)
		return walk_plr(w, n, out);
	qname(n, name, sizeof(name));
	if (k == NS_BAR || k == NS_MSIAR)
		decide(out, AGENT_RULE_NOT_APPLICABLE, name, "%s is not applicable on Linux", name);
	else if (n->ns != NULL)
		decide(out, AGENT_RULE_NOT_APPLICABLE, name,
		       "%s is not applicable on Linux (unknown namespace %s)", name,
		       (const char *)n->ns->href);
	else
		decide(out, AGENT_RULE_NOT_APPLICABLE, name,
		       "%s is not applicable on Linux (no namespace)", name);
	return 0;
}

/* ---- parsing ---- */

/* The first error libxml2 reports, "line N: message". */
static void on_xml_error(void *arg, xmlError *e)
{
	xmlParserCtxt *ctxt = arg;
	char *msg = ctxt->_private;

	if (e == NULL || msg[0] != '\0' || e->level < XML_ERR_ERROR)
		return;
	(void)snprintf(msg, PP_ERROR_MESSAGE_MAX, "line %d: %s", e->line,
		       e->message != NULL ? e->message : "malformed XML");
	msg[strcspn(msg, "\n")] = '\0';
}

static xmlDoc *parse_fragment(const char *fragment, struct pp_error *err)
{
	size_t len = strlen(fragment), total;
	char *wrapped = NULL, xml_err[PP_ERROR_MESSAGE_MAX] = "";
	xmlParserCtxt *ctxt = NULL;
	xmlDoc *doc = NULL;

	if (len > AGENT_RULES_FRAGMENT_MAX) {
		rule_error(err, "the applicability rule is larger than %u bytes",
			   AGENT_RULES_FRAGMENT_MAX);
		return NULL;
	}
	total = sizeof(WRAP_OPEN) - 1 + len + sizeof(WRAP_CLOSE) - 1;
	if ((wrapped = malloc(total + 1)) == NULL || (ctxt = xmlNewParserCtxt()) == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
		goto out;
	}
	memcpy(wrapped, WRAP_OPEN, sizeof(WRAP_OPEN) - 1);
	memcpy(wrapped + sizeof(WRAP_OPEN) - 1, fragment, len);
	memcpy(wrapped + sizeof(WRAP_OPEN) - 1 + len, WRAP_CLOSE, sizeof(WRAP_CLOSE));
	ctxt->_private = xml_err;
	ctxt->sax->serror = on_xml_error;
	/* A rule is data: no network, no entity substitution, no DTD (none can sit inside the
	 * wrapper element anyway). */
	doc = xmlCtxtReadMemory(ctxt, wrapped, (int)total, NULL, "UTF-8",
				XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (doc == NULL || !ctxt->wellFormed || xml_err[0] != '\0') {
		rule_error(err, "the applicability rule is not well-formed XML: %s",
			   xml_err[0] != '\0' ? xml_err : "libxml2 gave no reason");
		xmlFreeDoc(doc);
		doc = NULL;
	}
out:
	xmlFreeParserCtxt(ctxt);
	free(wrapped);
	return doc;
}

/* The walk over the one element of a fragment: checked whole, then (run) evaluated. */
static int rules_walk(const char *fragment, bool run, struct agent_rule_outcome *out,
		      struct pp_error *err)
{
	struct walk w = {.run = false, .err = err};
	struct agent_rule_outcome scratch;
	xmlNode *root, *rule = NULL;
	size_t count;
	xmlDoc *doc;
	int rc = -1;

	if (fragment == NULL) {
		pp_error_set(err, HR_E_INVALIDARG,
			     "no applicability rule to evaluate (an absent IsInstallable means "
			     "installable, an absent IsInstalled means not known from rules)");
		return -1;
	}
	if ((doc = parse_fragment(fragment, err)) == NULL)
		return -1;
	root = xmlDocGetRootElement(doc);
	count = element_children(root);
	if (count != 1) {
		if (count == 0)
			rule_error(err, "the applicability rule holds no element");
		else
			rule_error(err,
				   "the applicability rule holds %zu elements; it is one element "
				   "(combine rules with lar:And or lar:Or)",
				   count);
		goto out;
	}
	for (rule = root->children; rule->type != XML_ELEMENT_NODE; rule = rule->next)
		;
	if (walk_rule(&w, rule, 1, &scratch) != 0)
		goto out;
	if (w.programs > AGENT_RULES_PROGRAMS_MAX) {
		rule_error(err,
			   "the applicability rule runs %u programs, more than %d "
			   "(plr:CommandExitCode and plr:PackageInstalled rules)",
			   w.programs, AGENT_RULES_PROGRAMS_MAX);
		goto out;
	}
	if (run) {
		w.run = true;
		if (walk_rule(&w, rule, 1, out) != 0)
			goto out;
	}
	rc = 0;
out:
	xmlFreeDoc(doc);
	return rc;
}

int agent_rules_evaluate(const char *fragment, struct agent_rule_outcome *out, struct pp_error *err)
{
	if (out == NULL) {
		pp_error_set(err, HR_E_INVALIDARG, "agent_rules_evaluate needs an outcome");
		return -1;
	}
	memset(out, 0, sizeof(*out));
	if (rules_walk(fragment, true, out, err) != 0) {
		memset(out, 0, sizeof(*out));
		return -1;
	}
	return 0;
}

int agent_rules_check(const char *fragment, struct pp_error *err)
{
	return rules_walk(fragment, false, NULL, err);
}
