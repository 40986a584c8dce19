/* cli_common.c - shared plumbing of the patchpoint program (see cli.h). */
#include "cli.h"

#include "certstore.h"
#include "hresult.h"
#include "pki.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

int cli_dispatch(struct cli *cli, const char *group, const struct cli_verb *verbs, size_t n,
		 int argc, char **argv)
{
	size_t i;

	if (argc < 1 || strcmp(argv[0], "help") == 0 || strcmp(argv[0], "--help") == 0 ||
	    strcmp(argv[0], "-h") == 0) {
		FILE *out = argc < 1 ? stderr : stdout;

		fprintf(out, "Usage: %s %s <verb> [options]\n\nVerbs:\n", cli->program, group);
		for (i = 0; i < n; i++)
			fprintf(out, "  %-10s %s\n", verbs[i].name, verbs[i].summary);
		fprintf(out, "\n'%s %s <verb> --help' shows the manual of a verb.\n", cli->program,
			group);
		return argc < 1 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
	}
	for (i = 0; i < n; i++) {
		if (strcmp(argv[0], verbs[i].name) == 0) {
			if (cli_wants_help(argc, argv))
				return cli_manual(verbs[i].manual);
			return verbs[i].run(cli, argc, argv);
		}
	}
	return cli_usage(group, "unknown verb '%s' for '%s'", argv[0], group);
}

int cli_fail(struct cli *cli, const struct pp_error *err)
{
	if (err->code != 0 && hresult_lookup(err->code) != NULL && err->code != HR_E_FAIL)
		fprintf(stderr, "patchpoint: %s (0x%08X %s)\n", err->message, (unsigned)err->code,
			hresult_symbol(err->code));
	else
		fprintf(stderr, "patchpoint: %s\n", err->message);
	cli_log(cli, CMTRACE_ERROR, "%s (0x%08X)", err->message, (unsigned)err->code);
	return CLI_EXIT_FAIL;
}

int cli_failf(struct cli *cli, const char *fmt, ...)
{
	struct pp_error err;
	va_list ap;

	pp_error_clear(&err);
	va_start(ap, fmt);
	(void)vsnprintf(err.message, sizeof(err.message), fmt, ap);
	va_end(ap);
	return cli_fail(cli, &err);
}

int cli_usage(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fputs("patchpoint: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'patchpoint %s --help'.\n", cmd);
	return CLI_EXIT_USAGE;
}

int cli_manual(const char *manual)
{
	fputs(manual, stdout);
	return CLI_EXIT_OK;
}

bool cli_wants_help(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return true;
	}
	return false;
}

int cli_read_password(const char *path, char *buf, size_t size, struct pp_error *err)
{
	int fd = -1, rc = -1;
	ssize_t n;
	size_t used = 0;
	struct stat st;

	buf[0] = '\0';
	if (path == NULL)
		return 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		pp_error_set_errno(err, errno, "cannot open password file %s", path);
		goto out;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > CLI_PASSWORD_MAX) {
		pp_error_set(err, HR_E_INVALIDARG,
			     "password file %s is not a regular file of at most %d bytes", path,
			     CLI_PASSWORD_MAX);
		goto out;
	}
	while (used + 1 < size && (n = read(fd, buf + used, size - 1 - used)) > 0)
		used += (size_t)n;
	buf[used] = '\0';
	/* The password is the first line; a trailing CR LF or LF is not part of it. */
	buf[strcspn(buf, "\r\n")] = '\0';
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	if (rc != 0)
		OPENSSL_cleanse(buf, size);
	return rc;
}

struct pki_credential *cli_load_credential(const char *path, const char *password_file,
					   bool need_key, struct pp_error *err)
{
	char password[CLI_PASSWORD_MAX + 1];
	struct pki_credential *cred = NULL;

	if (cli_read_password(password_file, password, sizeof(password), err) == 0)
		cred = pki_credential_load(path, password, err);
	OPENSSL_cleanse(password, sizeof(password));
	if (cred != NULL && need_key && cred->key == NULL) {
		pp_error_set(err, HR_CRYPT_E_NO_KEY_PROPERTY,
			     "%s holds no private key to sign with", path);
		pki_credential_free(cred);
		cred = NULL;
	}
	return cred;
}

int cli_parse_int(const char *text, long min, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int cli_parse_time(const char *text, long long *out)
{
	struct tm tm;
	const char *end;
	char *e;
	long long v;

	if (strcmp(text, "now") == 0) {
		*out = (long long)time(NULL);
		return 0;
	}
	errno = 0;
	v = strtoll(text, &e, 10);
	if (e != text && *e == '\0' && errno == 0 && v >= 0) {
		*out = v;
		return 0;
	}
	memset(&tm, 0, sizeof(tm));
	end = strptime(text, "%Y-%m-%dT%H:%M", &tm);
	if (end != NULL && *end == ':')
		end = strptime(end, ":%S", &tm);
	if (end == NULL || strcmp(end, "Z") != 0)
		return -1;
	*out = (long long)timegm(&tm);
	return 0;
}

int cli_print_json(json_t *doc)
{
	int rc;

	if (doc == NULL)
		return -1;
	rc = json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	fputc('\n', stdout);
	json_decref(doc);
	return rc;
}

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void cli_progress_init(struct cli_progress *p, const char *label)
{
	const char *after = getenv("PATCHPOINT_PROGRESS_AFTER");
	long seconds;

	p->label = label;
	p->started = now_seconds();
	p->after =
	    after != NULL && cli_parse_int(after, 0, 3600, &seconds) == 0 ? (double)seconds : 1.0;
	p->shown = false;
}

void cli_progress_update(void *ctx, uint64_t done, uint64_t total)
{
	struct cli_progress *p = ctx;
	int width = 30, filled;
	char bar[31];

	if (!isatty(STDERR_FILENO))
		return;
	if (!p->shown && now_seconds() - p->started < p->after)
		return;
	p->shown = true;
	filled = total > 0 ? (int)((double)done / (double)total * width) : width;
	if (filled > width)
		filled = width;
	memset(bar, '#', (size_t)filled);
	memset(bar + filled, '.', (size_t)(width - filled));
	bar[width] = '\0';
	fprintf(stderr, "\r%s [%s] %3d%% %llu/%llu MB", p->label, bar,
		total > 0 ? (int)(done * 100 / total) : 100, (unsigned long long)(done >> 20),
		(unsigned long long)(total >> 20));
	fflush(stderr);
}

void cli_progress_end(struct cli_progress *p)
{
	if (p->shown)
		fputc('\n', stderr);
	p->shown = false;
}

void cli_log(struct cli *cli, enum cmtrace_type type, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (cli == NULL || cli->log == NULL)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	(void)cmtrace_write(cli->log, type, "%s", msg);
}

const char *cli_machine_dir(const char *option)
{
	const char *env;

	if (option != NULL)
		return option;
	env = getenv("PATCHPOINT_MACHINE");
	if (env != NULL && env[0] != '\0')
		return env;
	return CERTSTORE_DEFAULT_MACHINE;
}

void cli_hex(const uint8_t *buf, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[buf[i] >> 4];
		out[2 * i + 1] = digits[buf[i] & 15];
	}
	out[2 * len] = '\0';
}
