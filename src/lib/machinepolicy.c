/* machinepolicy.c - policy values of a machine, one file per value.
 *
 * <machine>/policy/values/<Name> holds one line: "<decimal value>\t<source>\n". The value is a
 * REG_DWORD written without sign or leading zeros; the source is 1 to MACHINEPOLICY_SOURCE_MAX - 1
 * printable ASCII characters without tab. Files are replaced durably through atomicfile.h
 * (temporary file created O_EXCL in the same directory, fsync, rename, fsync of the directory). */
#include "machinepolicy.h"

#include "atomicfile.h"
#include "hresult.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A value file is one short line; anything larger is not ours. */
#define POLICY_FILE_MAX 4096

struct policy_name {
	const char *name;
	const char *registry_key;
};

/* One line per policy value patchpoint knows. */
static const struct policy_name policy_names[] = {
    {MACHINEPOLICY_ACCEPT_TRUSTED_PUBLISHER_CERTS,
     "Software\\Policies\\Microsoft\\Windows\\WindowsUpdate"},
};

#define POLICY_NAME_COUNT (sizeof(policy_names) / sizeof(policy_names[0]))

const char *machinepolicy_registry_key(const char *name)
{
	size_t i;

	if (name == NULL)
		return NULL;
	for (i = 0; i < POLICY_NAME_COUNT; i++) {
		if (strcmp(policy_names[i].name, name) == 0)
			return policy_names[i].registry_key;
	}
	return NULL;
}

/* Checks machine and name; refuses unknown names with the list of known ones. */
static int check_args(const char *machine, const char *name, struct pp_error *err)
{
	char known[256];
	size_t i, used = 0;
	int n;

	if (machine == NULL || machine[0] == '\0') {
		pp_error_set(err, HR_E_INVALIDARG, "no machine directory given");
		return -1;
	}
	if (name == NULL) {
		pp_error_set(err, HR_E_INVALIDARG, "no policy value name given");
		return -1;
	}
	if (machinepolicy_registry_key(name) != NULL)
		return 0;
	known[0] = '\0';
	for (i = 0; i < POLICY_NAME_COUNT && used < sizeof(known); i++) {
		n = snprintf(known + used, sizeof(known) - used, "%s%s", i > 0 ? ", " : "",
			     policy_names[i].name);
		if (n < 0)
			break;
		used += (size_t)n;
	}
	pp_error_set(err, HR_E_INVALIDARG, "unknown policy value '%s'; known: %s", name, known);
	return -1;
}

/* Printable ASCII without tab (which is below 0x20 anyway) or newline, 1..SOURCE_MAX-1 bytes. */
static int source_valid(const char *source, size_t len)
{
	size_t i;

	if (len == 0 || len >= MACHINEPOLICY_SOURCE_MAX)
		return 0;
	for (i = 0; i < len; i++) {
		if ((unsigned char)source[i] < 0x20 || (unsigned char)source[i] > 0x7e)
			return 0;
	}
	return 1;
}

/* Returns a malloc'd "<machine>/policy/values" (with name appended when name != NULL). */
static char *values_path(const char *machine, const char *name, struct pp_error *err)
{
	char *p;
	int n;

	if (name != NULL)
		n = asprintf(&p, "%s/policy/values/%s", machine, name);
	else
		n = asprintf(&p, "%s/policy/values", machine);
	if (n < 0) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory building a policy path");
		return NULL;
	}
	return p;
}

/* mkdir -p dir with mode 0755. */
static int make_dirs(const char *dir, struct pp_error *err)
{
	char *p = strdup(dir), *s;
	int rc = -1;

	if (p == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory creating '%s'", dir);
		return -1;
	}
	for (s = p + 1;; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		if (s[-1] != '/') {
			char c = *s;

			*s = '\0';
			if (mkdir(p, 0755) != 0 && errno != EEXIST) {
				pp_error_set_errno(err, errno, "cannot create directory '%s'", p);
				goto out;
			}
			*s = c;
		}
		if (*s == '\0')
			break;
	}
	rc = 0;
out:
	free(p);
	return rc;
}

int machinepolicy_set(const char *machine, const char *name, uint32_t value, const char *source,
		      struct pp_error *err)
{
	char line[32 + MACHINEPOLICY_SOURCE_MAX];
	char *dir = NULL, *path = NULL;
	int rc = -1, n;

	if (check_args(machine, name, err) != 0)
		goto out;
	if (source == NULL || !source_valid(source, strnlen(source, MACHINEPOLICY_SOURCE_MAX))) {
		pp_error_set(err, HR_E_INVALIDARG,
			     "policy source for %s must be 1 to %d printable ASCII characters "
			     "without tabs or newlines",
			     name, MACHINEPOLICY_SOURCE_MAX - 1);
		goto out;
	}
	n = snprintf(line, sizeof(line), "%lu\t%s\n", (unsigned long)value, source);
	if (n < 0 || (size_t)n >= sizeof(line)) {
		pp_error_set(err, HR_E_FAIL, "policy line for %s does not fit", name);
		goto out;
	}
	dir = values_path(machine, NULL, err);
	path = values_path(machine, name, err);
	if (dir == NULL || path == NULL)
		goto out;
	if (make_dirs(dir, err) != 0 ||
	    atomicfile_write(path, line, (size_t)n, 0644, true, err) != 0)
		goto out;
	rc = 0;
out:
	free(path);
	free(dir);
	return rc;
}

/* Parses "<decimal>\t<source>\n" (buf holds len bytes, NUL-terminated). */
static int parse_line(const char *buf, size_t len, struct machinepolicy_value *out)
{
	uint64_t v = 0;
	size_t i = 0, start;

	if (len == 0 || buf[len - 1] != '\n')
		return -1;
	if (buf[0] == '0' && buf[1] != '\t')
		return -1; /* no leading zeros */
	for (; i < len && buf[i] >= '0' && buf[i] <= '9'; i++) {
		v = v * 10 + (uint64_t)(buf[i] - '0');
		if (v > UINT32_MAX)
			return -1;
	}
	if (i == 0 || i >= len || buf[i] != '\t')
		return -1;
	start = ++i;
	if (!source_valid(buf + start, len - 1 - start))
		return -1;
	out->value = (uint32_t)v;
	memcpy(out->source, buf + start, len - 1 - start);
	out->source[len - 1 - start] = '\0';
	out->present = true;
	return 0;
}

int machinepolicy_get(const char *machine, const char *name, struct machinepolicy_value *out,
		      struct pp_error *err)
{
	char buf[POLICY_FILE_MAX + 1];
	char *path = NULL;
	struct stat st;
	size_t len = 0;
	ssize_t r;
	int fd = -1, rc = -1;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (check_args(machine, name, err) != 0)
		goto out;
	if (out == NULL) {
		pp_error_set(err, HR_E_INVALIDARG, "no output given for policy value %s", name);
		goto out;
	}
	path = values_path(machine, name, err);
	if (path == NULL)
		goto out;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno == ENOENT) {
			rc = 0; /* never set */
			goto out;
		}
		pp_error_set_errno(err, errno, "cannot open policy value file '%s'", path);
		goto out;
	}
	if (fstat(fd, &st) != 0) {
		pp_error_set_errno(err, errno, "cannot inspect policy value file '%s'", path);
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > POLICY_FILE_MAX) {
		pp_error_set(err, HR_ERROR_INVALID_DATA,
			     "policy value file '%s' is not a regular file of at most %d bytes; "
			     "remove it and set the value again",
			     path, POLICY_FILE_MAX);
		goto out;
	}
	/* Read one byte past the limit so that a file grown since fstat is still caught. */
	while (len < sizeof(buf)) {
		r = read(fd, buf + len, sizeof(buf) - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			pp_error_set_errno(err, errno, "cannot read policy value file '%s'", path);
			goto out;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	if (len > POLICY_FILE_MAX) {
		pp_error_set(
		    err, HR_ERROR_INVALID_DATA,
		    "policy value file '%s' is larger than %d bytes; remove it and set the "
		    "value again",
		    path, POLICY_FILE_MAX);
		goto out;
	}
	buf[len] = '\0';
	if (memchr(buf, '\0', len) != NULL || parse_line(buf, len, out) != 0) {
		memset(out, 0, sizeof(*out));
		pp_error_set(err, HR_ERROR_INVALID_DATA,
			     "policy value file '%s' is malformed (expected one line "
			     "\"<decimal value>\\t<source>\"); remove it and set the value again",
			     path);
		goto out;
	}
	rc = 0;
out:
	if (fd >= 0)
		(void)close(fd);
	free(path);
	return rc;
}

int machinepolicy_clear(const char *machine, const char *name, struct pp_error *err)
{
	char *dir = NULL, *path = NULL;
	int rc = -1;

	if (check_args(machine, name, err) != 0)
		goto out;
	dir = values_path(machine, NULL, err);
	path = values_path(machine, name, err);
	if (dir == NULL || path == NULL)
		goto out;
	if (unlink(path) != 0) {
		if (errno == ENOENT || errno == ENOTDIR) {
			rc = 0; /* already absent */
			goto out;
		}
		pp_error_set_errno(err, errno, "cannot remove policy value file '%s'", path);
		goto out;
	}
	if (atomicfile_sync_dir(dir, err) != 0)
		goto out;
	rc = 0;
out:
	free(path);
	free(dir);
	return rc;
}
