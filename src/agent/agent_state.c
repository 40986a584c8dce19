/* agent_state.c - the agent's files in the machine directory (see agent_state.h).
 *
 * JSON files are written through atomicfile.h (temporary file, fsync, rename, fsync of the
 * directory) and read with O_NOFOLLOW and a size limit. The machine id is made with getrandom and
 * published with link(2), which fails when another agent published one first: then that one is
 * read and used, so a machine never has two ids. */
#include "agent_state.h"

#include "atomicfile.h"
#include "certstore.h"
#include "hresult.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#define MACHINE_ID_FILE "machine-id"
#define IDENTITY_FILE	"agent.json"
#define POLICY_FILE	"policy.json"
#define MANAGED_FILE	"managed-certs.json"
#define REGISTER_AGAIN	"remove it and run 'patchpoint-agent register' again"
#define POLICY_AGAIN	"remove it; the next machine policy cycle fetches the policy again"
#define MANAGED_AGAIN                                                                              \
	"repair or remove it (without it the agent forgets which certificates it installed)"

int agent_state_path(const char *machine, const char *name, char *out, size_t size,
		     struct pp_error *err)
{
	int n;

	if (machine == NULL || machine[0] == '\0') {
		pp_error_set(err, HR_E_INVALIDARG, "no machine directory given");
		return -1;
	}
	if (name != NULL)
		n = snprintf(out, size, "%s/agent/%s", machine, name);
	else
		n = snprintf(out, size, "%s/agent", machine);
	if (n < 0 || (size_t)n >= size) {
		pp_error_set(err, HR_ERROR_INVALID_NAME, "machine directory path too long: %s",
			     machine);
		return -1;
	}
	return 0;
}

int agent_state_make_dir(const char *path, mode_t mode, struct pp_error *err)
{
	struct stat st;

	if (mkdir(path, mode) != 0 && errno != EEXIST) {
		pp_error_set_errno(err, errno, "cannot create directory %s", path);
		return -1;
	}
	if (lstat(path, &st) != 0) {
		pp_error_set_errno(err, errno, "cannot inspect %s", path);
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		pp_error_set(err, HR_ERROR_FILE_EXISTS,
			     "%s exists and is not a directory (a symbolic link is refused too)",
			     path);
		return -1;
	}
	return 0;
}

int agent_state_prepare(const char *machine, struct pp_error *err)
{
	char dir[AGENT_PATH_MAX];
	struct stat st;

	if (agent_state_path(machine, NULL, dir, sizeof(dir), err) != 0 ||
	    atomicfile_mkdirs(machine, err) != 0 || agent_state_make_dir(dir, 0700, err) != 0)
		return -1;
	/* The credential lives here: nobody else may list or read the directory. */
	if (lstat(dir, &st) == 0 && (st.st_mode & 077) != 0 && chmod(dir, 0700) != 0) {
		pp_error_set_errno(err, errno, "cannot restrict %s to mode 0700", dir);
		return -1;
	}
	return 0;
}

/* Reads the regular file path (not following a link) into a NUL-terminated malloc'd buffer of at
 * most max bytes. A missing file gives 0 with *absent true and *buf NULL. *mode gets the
 * permission bits when mode is not NULL. */
static int read_bounded(const char *path, size_t max, char **buf, size_t *len, bool *absent,
			mode_t *mode, struct pp_error *err)
{
	struct stat st;
	char *data = NULL;
	size_t used = 0;
	ssize_t r;
	int fd, rc = -1;

	*buf = NULL;
	*len = 0;
	*absent = false;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	if (fd < 0) {
		if (errno == ENOENT) {
			*absent = true;
			return 0;
		}
		pp_error_set_errno(err, errno, "cannot open %s", path);
		return -1;
	}
	if (fstat(fd, &st) != 0) {
		pp_error_set_errno(err, errno, "cannot inspect %s", path);
		goto out;
	}
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > max) {
		pp_error_set(err, HR_ERROR_INVALID_DATA,
			     "%s is not a regular file of at most %zu bytes; remove it", path, max);
		goto out;
	}
	if (mode != NULL)
		*mode = st.st_mode & 07777;
	data = malloc(max + 2);
	if (data == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory reading %s", path);
		goto out;
	}
	/* One byte past the limit, so that a file grown since fstat is caught. */
	while (used < max + 1) {
		r = read(fd, data + used, max + 1 - used);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			pp_error_set_errno(err, errno, "cannot read %s", path);
			goto out;
		}
		if (r == 0)
			break;
		used += (size_t)r;
	}
	if (used > max) {
		pp_error_set(err, HR_ERROR_INVALID_DATA, "%s is larger than %zu bytes; remove it",
			     path, max);
		goto out;
	}
	data[used] = '\0';
	*buf = data;
	*len = used;
	data = NULL;
	rc = 0;
out:
	if (data != NULL) {
		OPENSSL_cleanse(data, max + 2);
		free(data);
	}
	(void)close(fd);
	return rc;
}

/* Parses len bytes of buf as a JSON object; a damaged file gets a message naming it. */
static json_t *parse_object(const char *path, const char *buf, size_t len, const char *hint,
			    struct pp_error *err)
{
	json_error_t jerr;
	json_t *doc = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);

	if (doc == NULL) {
		pp_error_set(err, HR_ERROR_INVALID_DATA, "%s is damaged (line %d: %s); %s", path,
			     jerr.line, jerr.text, hint);
		return NULL;
	}
	if (!json_is_object(doc)) {
		pp_error_set(err, HR_ERROR_INVALID_DATA, "%s is damaged (not a JSON object); %s",
			     path, hint);
		json_decref(doc);
		return NULL;
	}
	return doc;
}

/* read_bounded and parse_object in one: *doc NULL when there is no file. A private file (the
 * credential) is refused when other users can read it, and its text is wiped after parsing. */
static int read_object(const char *path, size_t max, const char *hint, bool private_file,
		       json_t **doc, struct pp_error *err)
{
	char *buf = NULL;
	size_t len = 0;
	mode_t mode = 0;
	bool absent;
	int rc = -1;

	*doc = NULL;
	if (read_bounded(path, max, &buf, &len, &absent, &mode, err) != 0)
		goto out;
	if (absent) {
		rc = 0;
		goto out;
	}
	if (private_file && (mode & 077) != 0) {
		pp_error_set(err, HR_E_ACCESSDENIED,
			     "%s holds the device credential but other users can read it (mode "
			     "%04o); run 'chmod 600 %s'",
			     path, (unsigned)mode, path);
		goto out;
	}
	*doc = parse_object(path, buf, len, hint, err);
	rc = *doc != NULL ? 0 : -1;
out:
	if (buf != NULL) {
		if (private_file)
			OPENSSL_cleanse(buf, len);
		free(buf);
	}
	return rc;
}

int agent_state_read_file(const char *path, size_t max, char **buf, size_t *len,
			  struct pp_error *err)
{
	bool absent;

	return read_bounded(path, max, buf, len, &absent, NULL, err);
}

void agent_text_cut(char *s, size_t max)
{
	size_t len = strlen(s), start, need;
	unsigned char lead;

	if (len > max)
		len = max;
	/* The last sequence must be whole: find its lead byte and the length it announces. */
	start = len;
	while (start > 0 && len - start < 4 && ((unsigned char)s[start - 1] & 0xC0) == 0x80)
		start--;
	if (start > 0 && start < len + 1) {
		lead = (unsigned char)s[start - 1];
		need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
		if (lead >= 0x80 && len - (start - 1) < need)
			len = start - 1;
	}
	s[len] = '\0';
}

void agent_text_format(char *out, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out, size, fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n >= size)
		agent_text_cut(out, size - 1);
}

int agent_state_read_object(const char *path, size_t max, const char *hint, json_t **doc,
			    struct pp_error *err)
{
	return read_object(path, max, hint, false, doc, err);
}

/* <machine>/agent/<name> into path, and the JSON object it holds into *doc (NULL: no file). */
static int load_file(const char *machine, const char *name, size_t max, const char *hint,
		     bool private_file, char path[AGENT_PATH_MAX], json_t **doc,
		     struct pp_error *err)
{
	*doc = NULL;
	if (agent_state_path(machine, name, path, AGENT_PATH_MAX, err) != 0)
		return -1;
	return read_object(path, max, hint, private_file, doc, err);
}

/* Copies string member key of obj into out (size bytes with the NUL). An absent member reads as
 * "" when optional; anything else that is not a string of 0..size-1 bytes (1.. when required) is
 * an error naming the file and the member. */
static int copy_member(const json_t *obj, const char *key, char *out, size_t size, bool required,
		       const char *path, const char *hint, struct pp_error *err)
{
	const json_t *v = json_object_get(obj, key);
	size_t len;

	out[0] = '\0';
	if (v == NULL && !required)
		return 0;
	len = json_string_length(v);
	if (!json_is_string(v) || len >= size || (required && len == 0) ||
	    memchr(json_string_value(v), '\0', len) != NULL) {
		pp_error_set(err, HR_ERROR_INVALID_DATA,
			     "%s is damaged (\"%s\" is not a string of %s1 to %zu bytes); %s", path,
			     key, required ? "" : "0 or ", size - 1, hint);
		return -1;
	}
	memcpy(out, json_string_value(v), len + 1);
	return 0;
}

static int member_time(const json_t *obj, const char *key, long long *out, const char *path,
		       const char *hint, struct pp_error *err)
{
	const json_t *v = json_object_get(obj, key);

	if (!json_is_integer(v) || json_integer_value(v) < 0) {
		pp_error_set(err, HR_ERROR_INVALID_DATA,
			     "%s is damaged (\"%s\" is not a time in unix seconds); %s", path, key,
			     hint);
		return -1;
	}
	*out = (long long)json_integer_value(v);
	return 0;
}

/* Writes doc to path (mode, durably) as indented JSON and a newline; with secret, the text is
 * wiped from memory afterwards. */
static int write_json(const char *path, const json_t *doc, mode_t mode, bool secret,
		      struct pp_error *err)
{
	char *text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	char *line = NULL;
	size_t len = 0;
	int rc = -1;

	if (text == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory writing %s", path);
		goto out;
	}
	len = strlen(text);
	line = malloc(len + 2);
	if (line == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory writing %s", path);
		goto out;
	}
	memcpy(line, text, len);
	line[len] = '\n';
	line[len + 1] = '\0';
	if (atomicfile_write(path, line, len + 1, mode, true, err) != 0)
		goto out;
	rc = 0;
out:
	if (secret && text != NULL)
		OPENSSL_cleanse(text, strlen(text));
	if (secret && line != NULL)
		OPENSSL_cleanse(line, len + 2);
	free(text);
	free(line);
	return rc;
}

int agent_state_write_object(const char *path, const json_t *doc, mode_t mode, struct pp_error *err)
{
	return write_json(path, doc, mode, false, err);
}

/* Writes doc to path, a file of <machine>/agent (made when missing). */
static int save_file(const char *machine, const char *path, const json_t *doc, mode_t mode,
		     bool secret, struct pp_error *err)
{
	if (agent_state_prepare(machine, err) != 0)
		return -1;
	return write_json(path, doc, mode, secret, err);
}

/* ---- machine id ---- */

static bool machine_id_valid(const char *s, size_t len)
{
	size_t i;

	if (len != AGENT_MACHINE_ID_LEN)
		return false;
	for (i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* Reads an existing machine-id file; *absent when there is none. */
static int machine_id_read(const char *path, char out[AGENT_MACHINE_ID_LEN + 1], bool *absent,
			   struct pp_error *err)
{
	char *buf = NULL;
	size_t len;
	int rc = -1;

	if (read_bounded(path, 256, &buf, &len, absent, NULL, err) != 0)
		goto out;
	if (*absent) {
		rc = 0;
		goto out;
	}
	if (len > 0 && buf[len - 1] == '\n')
		len--;
	if (!machine_id_valid(buf, len)) {
		pp_error_set(err, HR_ERROR_INVALID_DATA,
			     "%s is damaged (expected 32 lower-case hexadecimal digits); remove it "
			     "only if the machine must become a new device at its site",
			     path);
		goto out;
	}
	memcpy(out, buf, AGENT_MACHINE_ID_LEN);
	out[AGENT_MACHINE_ID_LEN] = '\0';
	rc = 0;
out:
	free(buf);
	return rc;
}

int agent_state_random(void *buf, size_t len, struct pp_error *err)
{
	unsigned char *p = buf;
	size_t used = 0;
	ssize_t r;

	while (used < len) {
		r = getrandom(p + used, len - used, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			pp_error_set_errno(err, errno, "cannot get random bytes (getrandom)");
			return -1;
		}
		used += (size_t)r;
	}
	return 0;
}

int agent_state_uuid(char out[AGENT_UUID_LEN + 1], struct pp_error *err)
{
	unsigned char b[16];

	out[0] = '\0';
	if (agent_state_random(b, sizeof(b), err) != 0)
		return -1;
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
	(void)snprintf(out, AGENT_UUID_LEN + 1,
		       "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
		       b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
		       b[13], b[14], b[15]);
	return 0;
}

int agent_state_machine_id(const char *machine, char out[AGENT_MACHINE_ID_LEN + 1],
			   struct pp_error *err)
{
	static const char digits[] = "0123456789abcdef";
	char dir[AGENT_PATH_MAX], path[AGENT_PATH_MAX], tmp[AGENT_PATH_MAX + 32];
	char line[AGENT_MACHINE_ID_LEN + 1];
	unsigned char raw[AGENT_MACHINE_ID_LEN / 2], salt[8];
	bool absent, tmp_made = false;
	size_t i;
	int fd = -1, n, rc = -1;

	out[0] = '\0';
	if (agent_state_path(machine, NULL, dir, sizeof(dir), err) != 0 ||
	    agent_state_path(machine, MACHINE_ID_FILE, path, sizeof(path), err) != 0 ||
	    agent_state_prepare(machine, err) != 0)
		goto out;
	if (machine_id_read(path, out, &absent, err) != 0)
		goto out;
	if (!absent) {
		rc = 0;
		goto out;
	}
	if (agent_state_random(raw, sizeof(raw), err) != 0 ||
	    agent_state_random(salt, sizeof(salt), err) != 0)
		goto out;
	for (i = 0; i < sizeof(raw); i++) {
		line[2 * i] = digits[raw[i] >> 4];
		line[2 * i + 1] = digits[raw[i] & 15];
	}
	line[AGENT_MACHINE_ID_LEN] = '\n';
	n = snprintf(tmp, sizeof(tmp), "%s/.%s.%02x%02x%02x%02x%02x%02x%02x%02x", dir,
		     MACHINE_ID_FILE, salt[0], salt[1], salt[2], salt[3], salt[4], salt[5], salt[6],
		     salt[7]);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		pp_error_set(err, HR_ERROR_INVALID_NAME, "machine directory path too long: %s",
			     machine);
		goto out;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0) {
		pp_error_set_errno(err, errno, "cannot create %s", tmp);
		goto out;
	}
	tmp_made = true;
	if (write(fd, line, sizeof(line)) != (ssize_t)sizeof(line) || fsync(fd) != 0) {
		pp_error_set_errno(err, errno, "cannot write %s", tmp);
		goto out;
	}
	(void)close(fd);
	fd = -1;
	/* link(2) publishes the whole file or fails when another agent got there first. */
	if (link(tmp, path) != 0) {
		if (errno != EEXIST) {
			pp_error_set_errno(err, errno, "cannot create %s", path);
			goto out;
		}
		if (machine_id_read(path, out, &absent, err) != 0)
			goto out;
		if (absent) {
			pp_error_set(err, HR_E_FAIL, "%s vanished while it was being made", path);
			goto out;
		}
	} else {
		memcpy(out, line, AGENT_MACHINE_ID_LEN);
		out[AGENT_MACHINE_ID_LEN] = '\0';
		if (atomicfile_sync_dir(dir, err) != 0)
			goto out;
	}
	rc = 0;
out:
	if (fd >= 0)
		(void)close(fd);
	if (tmp_made)
		(void)unlink(tmp);
	if (rc != 0)
		out[0] = '\0';
	return rc;
}

/* ---- agent.json ---- */

void agent_identity_wipe(struct agent_identity *id)
{
	if (id != NULL)
		OPENSSL_cleanse(id, sizeof(*id));
}

int agent_state_save_identity(const char *machine, const struct agent_identity *id,
			      struct pp_error *err)
{
	char path[AGENT_PATH_MAX];
	json_t *doc = NULL;
	int rc = -1;

	if (agent_state_path(machine, IDENTITY_FILE, path, sizeof(path), err) != 0)
		goto out;
	if (id->server[0] == '\0' || id->device_id[0] == '\0' || id->credential[0] == '\0' ||
	    !machine_id_valid(id->machine_id, strlen(id->machine_id)) || id->name[0] == '\0' ||
	    id->client_version[0] == '\0') {
		pp_error_set(err, HR_E_INVALIDARG,
			     "an incomplete device identity cannot be saved to %s", path);
		goto out;
	}
	doc = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I}", "server", id->server, "device_id",
			id->device_id, "credential", id->credential, "machine_id", id->machine_id,
			"name", id->name, "client_version", id->client_version, "registered_at",
			(json_int_t)id->registered_at);
	if (doc == NULL ||
	    (id->ca_bundle[0] != '\0' &&
	     json_object_set_new(doc, "ca_bundle", json_string(id->ca_bundle)) != 0)) {
		pp_error_set(err, HR_E_INVALIDARG,
			     "the device identity for %s is not valid UTF-8 text", path);
		goto out;
	}
	if (save_file(machine, path, doc, 0600, true, err) != 0)
		goto out;
	rc = 0;
out:
	json_decref(doc);
	return rc;
}

int agent_state_load_identity(const char *machine, struct agent_identity *id, bool *registered,
			      struct pp_error *err)
{
	char path[AGENT_PATH_MAX];
	json_t *doc = NULL;
	int rc = -1;

	memset(id, 0, sizeof(*id));
	*registered = false;
	if (load_file(machine, IDENTITY_FILE, AGENT_STATE_FILE_MAX, REGISTER_AGAIN, true, path,
		      &doc, err) != 0)
		goto out;
	if (doc == NULL) {
		rc = 0;
		goto out;
	}
	if (copy_member(doc, "server", id->server, sizeof(id->server), true, path, REGISTER_AGAIN,
			err) != 0 ||
	    copy_member(doc, "ca_bundle", id->ca_bundle, sizeof(id->ca_bundle), false, path,
			REGISTER_AGAIN, err) != 0 ||
	    copy_member(doc, "device_id", id->device_id, sizeof(id->device_id), true, path,
			REGISTER_AGAIN, err) != 0 ||
	    copy_member(doc, "credential", id->credential, sizeof(id->credential), true, path,
			REGISTER_AGAIN, err) != 0 ||
	    copy_member(doc, "machine_id", id->machine_id, sizeof(id->machine_id), true, path,
			REGISTER_AGAIN, err) != 0 ||
	    copy_member(doc, "name", id->name, sizeof(id->name), true, path, REGISTER_AGAIN, err) !=
		0 ||
	    copy_member(doc, "client_version", id->client_version, sizeof(id->client_version), true,
			path, REGISTER_AGAIN, err) != 0 ||
	    member_time(doc, "registered_at", &id->registered_at, path, REGISTER_AGAIN, err) != 0)
		goto out;
	if (!machine_id_valid(id->machine_id, strlen(id->machine_id))) {
		pp_error_set(err, HR_ERROR_INVALID_DATA,
			     "%s is damaged (\"machine_id\" is not 32 lower-case hexadecimal "
			     "digits); %s",
			     path, REGISTER_AGAIN);
		goto out;
	}
	if (strncmp(id->server, "http://", 7) != 0 && strncmp(id->server, "https://", 8) != 0) {
		pp_error_set(err, HR_ERROR_INVALID_DATA,
			     "%s is damaged (\"server\" is not an http:// or https:// URL); %s",
			     path, REGISTER_AGAIN);
		goto out;
	}
	*registered = true;
	rc = 0;
out:
	json_decref(doc);
	if (rc != 0)
		agent_identity_wipe(id);
	return rc;
}

int agent_state_require_identity(const char *machine, struct agent_identity *id,
				 struct pp_error *err)
{
	bool registered = false;

	if (agent_state_load_identity(machine, id, &registered, err) != 0)
		return -1;
	if (!registered) {
		pp_error_set(err, HR_E_FAIL,
			     "this machine is not registered (no %s/agent/" IDENTITY_FILE
			     "); run 'patchpoint-agent register --server URL --enrollment-key KEY'",
			     machine);
		return -1;
	}
	return 0;
}

/* ---- policy.json ---- */

void agent_stored_policy_free(struct agent_stored_policy *out)
{
	if (out == NULL)
		return;
	json_decref(out->policy);
	memset(out, 0, sizeof(*out));
}

int agent_state_save_policy(const char *machine, const json_t *policy, const char *etag,
			    long long received_at, long long evaluated_at, struct pp_error *err)
{
	char path[AGENT_PATH_MAX];
	const char *version = json_string_value(json_object_get(policy, "version"));
	json_t *doc = NULL;
	int rc = -1;

	if (agent_state_path(machine, POLICY_FILE, path, sizeof(path), err) != 0)
		goto out;
	if (version == NULL || version[0] == '\0' || strlen(version) > AGENT_POLICY_VERSION_MAX ||
	    (etag != NULL && strlen(etag) > AGENT_ETAG_MAX)) {
		pp_error_set(err, HR_E_INVALIDARG,
			     "a machine policy without a version cannot be saved to %s", path);
		goto out;
	}
	doc = json_pack("{s:s, s:s, s:I, s:I, s:O}", "version", version, "etag",
			etag != NULL ? etag : "", "received_at", (json_int_t)received_at,
			"evaluated_at", (json_int_t)evaluated_at, "policy", policy);
	if (doc == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory writing %s", path);
		goto out;
	}
	if (save_file(machine, path, doc, 0644, false, err) != 0)
		goto out;
	rc = 0;
out:
	json_decref(doc);
	return rc;
}

int agent_state_load_policy(const char *machine, struct agent_stored_policy *out, bool *present,
			    struct pp_error *err)
{
	char path[AGENT_PATH_MAX];
	json_t *doc = NULL, *policy;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	*present = false;
	if (load_file(machine, POLICY_FILE, AGENT_STATE_LARGE_MAX, POLICY_AGAIN, false, path, &doc,
		      err) != 0)
		goto out;
	if (doc == NULL) {
		rc = 0;
		goto out;
	}
	if (copy_member(doc, "version", out->version, sizeof(out->version), true, path,
			POLICY_AGAIN, err) != 0 ||
	    copy_member(doc, "etag", out->etag, sizeof(out->etag), false, path, POLICY_AGAIN,
			err) != 0 ||
	    member_time(doc, "received_at", &out->received_at, path, POLICY_AGAIN, err) != 0 ||
	    member_time(doc, "evaluated_at", &out->evaluated_at, path, POLICY_AGAIN, err) != 0)
		goto out;
	policy = json_object_get(doc, "policy");
	if (!json_is_object(policy) ||
	    !json_equal(json_object_get(policy, "version"), json_object_get(doc, "version"))) {
		pp_error_set(err, HR_ERROR_INVALID_DATA,
			     "%s is damaged (\"policy\" is not the machine policy of version "
			     "%s); %s",
			     path, out->version, POLICY_AGAIN);
		goto out;
	}
	out->policy = json_incref(policy);
	*present = true;
	rc = 0;
out:
	json_decref(doc);
	if (rc != 0)
		agent_stored_policy_free(out);
	return rc;
}

/* ---- managed-certs.json ---- */

void agent_managed_free(struct agent_managed *m)
{
	if (m == NULL)
		return;
	free(m->certs);
	m->certs = NULL;
	m->count = 0;
}

struct agent_managed_cert *agent_managed_find(const struct agent_managed *m, const char *thumbprint)
{
	size_t i;

	for (i = 0; i < m->count; i++)
		if (strcmp(m->certs[i].thumbprint, thumbprint) == 0)
			return &m->certs[i];
	return NULL;
}

int agent_managed_add(struct agent_managed *m, const char *thumbprint, const char *subject,
		      int store, long long now, struct pp_error *err)
{
	struct agent_managed_cert *c = agent_managed_find(m, thumbprint), *grown;

	if (store < 0 || store >= CERTSTORE_COUNT || strlen(thumbprint) != PKI_THUMBPRINT_LEN) {
		pp_error_set(err, HR_E_INVALIDARG, "invalid managed certificate %s", thumbprint);
		return -1;
	}
	if (c == NULL) {
		if (m->count >= AGENT_MANAGED_MAX) {
			pp_error_set(err, HR_E_FAIL,
				     "the agent already manages %d certificates; remove some of "
				     "them from managed-certs.json",
				     AGENT_MANAGED_MAX);
			return -1;
		}
		grown = realloc(m->certs, (m->count + 1) * sizeof(*m->certs));
		if (grown == NULL) {
			pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
			return -1;
		}
		m->certs = grown;
		c = &m->certs[m->count++];
		memset(c, 0, sizeof(*c));
		memcpy(c->thumbprint, thumbprint, PKI_THUMBPRINT_LEN + 1);
		(void)snprintf(c->subject, sizeof(c->subject), "%s",
			       subject != NULL ? subject : "");
		c->installed_at = now;
	}
	c->stores |= 1u << store;
	return 0;
}

void agent_managed_forget(struct agent_managed *m, const char *thumbprint)
{
	struct agent_managed_cert *c = agent_managed_find(m, thumbprint);
	size_t i;

	if (c == NULL)
		return;
	i = (size_t)(c - m->certs);
	memmove(&m->certs[i], &m->certs[i + 1], (m->count - i - 1) * sizeof(*m->certs));
	m->count--;
}

/* One entry of managed-certs.json into c. */
static int managed_entry(const json_t *e, size_t i, struct agent_managed_cert *c, const char *path,
			 struct pp_error *err)
{
	char thumb[PKI_THUMBPRINT_LEN + 1];
	const json_t *stores = json_object_get(e, "stores"), *s;
	enum certstore_id id;
	struct pp_error ignored;
	size_t k;

	memset(c, 0, sizeof(*c));
	if (!json_is_object(e) ||
	    copy_member(e, "thumbprint", c->thumbprint, sizeof(c->thumbprint), true, path,
			MANAGED_AGAIN, err) != 0 ||
	    copy_member(e, "subject", c->subject, sizeof(c->subject), false, path, MANAGED_AGAIN,
			err) != 0 ||
	    member_time(e, "installed_at", &c->installed_at, path, MANAGED_AGAIN, err) != 0 ||
	    pki_thumbprint_normalize(c->thumbprint, thumb) != 0 ||
	    strcmp(thumb, c->thumbprint) != 0 || !json_is_array(stores) ||
	    json_array_size(stores) == 0) {
		pp_error_set(err, HR_ERROR_INVALID_DATA,
			     "%s is damaged (certificates[%zu] is not {\"thumbprint\": 40 "
			     "upper-case hex digits, \"stores\": [...], ...}); %s",
			     path, i, MANAGED_AGAIN);
		return -1;
	}
	json_array_foreach(stores, k, s)
	{
		pp_error_clear(&ignored);
		if (certstore_parse_name(json_string_value(s), &id, &ignored) != 0) {
			pp_error_set(err, HR_ERROR_INVALID_DATA,
				     "%s is damaged (certificates[%zu].stores[%zu] is not a store "
				     "name); %s",
				     path, i, k, MANAGED_AGAIN);
			return -1;
		}
		c->stores |= 1u << id;
	}
	return 0;
}

int agent_state_load_managed(const char *machine, struct agent_managed *out, struct pp_error *err)
{
	char path[AGENT_PATH_MAX];
	json_t *doc = NULL, *list, *e;
	size_t i;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (load_file(machine, MANAGED_FILE, AGENT_STATE_FILE_MAX, MANAGED_AGAIN, false, path, &doc,
		      err) != 0)
		goto out;
	if (doc == NULL) {
		rc = 0;
		goto out;
	}
	list = json_object_get(doc, "certificates");
	if (!json_is_array(list) || json_array_size(list) > AGENT_MANAGED_MAX) {
		pp_error_set(err, HR_ERROR_INVALID_DATA,
			     "%s is damaged (\"certificates\" is not a list of at most %d "
			     "entries); %s",
			     path, AGENT_MANAGED_MAX, MANAGED_AGAIN);
		goto out;
	}
	if (json_array_size(list) > 0) {
		out->certs = calloc(json_array_size(list), sizeof(*out->certs));
		if (out->certs == NULL) {
			pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory reading %s", path);
			goto out;
		}
	}
	json_array_foreach(list, i, e)
	{
		if (managed_entry(e, i, &out->certs[i], path, err) != 0)
			goto out;
		if (agent_managed_find(out, out->certs[i].thumbprint) != NULL) {
			pp_error_set(err, HR_ERROR_INVALID_DATA,
				     "%s is damaged (certificate %s is listed twice); %s", path,
				     out->certs[i].thumbprint, MANAGED_AGAIN);
			goto out;
		}
		out->count = i + 1;
	}
	rc = 0;
out:
	json_decref(doc);
	if (rc != 0)
		agent_managed_free(out);
	return rc;
}

int agent_state_save_managed(const char *machine, const struct agent_managed *m,
			     struct pp_error *err)
{
	char path[AGENT_PATH_MAX];
	json_t *doc = NULL, *list = json_array(), *entry, *stores;
	bool built = true;
	size_t i;
	int s, rc = -1;

	if (agent_state_path(machine, MANAGED_FILE, path, sizeof(path), err) != 0) {
		json_decref(list);
		goto out;
	}
	doc = json_pack("{s:o}", "certificates", list);
	built = doc != NULL;
	for (i = 0; built && i < m->count; i++) {
		stores = json_array();
		entry = json_pack("{s:s, s:s, s:o, s:I}", "thumbprint", m->certs[i].thumbprint,
				  "subject", m->certs[i].subject, "stores", stores, "installed_at",
				  (json_int_t)m->certs[i].installed_at);
		built = entry != NULL && json_array_append_new(list, entry) == 0;
		for (s = 0; built && s < CERTSTORE_COUNT; s++)
			if ((m->certs[i].stores & (1u << s)) != 0)
				built = json_array_append_new(stores,
							      json_string(certstore_name(s))) == 0;
	}
	if (!built) {
		pp_error_set(err, HR_E_OUTOFMEMORY,
			     "cannot write %s: out of memory or a subject that is not UTF-8", path);
		goto out;
	}
	if (save_file(machine, path, doc, 0644, false, err) != 0)
		goto out;
	rc = 0;
out:
	json_decref(doc);
	return rc;
}

/* ---- logs ---- */

static const struct {
	const char *file, *component;
	size_t offset;
} log_files[] = {
    {"PolicyAgent.log", AGENT_COMPONENT_POLICY, offsetof(struct agent_logs, policy)},
    {"UpdatesDeployment.log", AGENT_COMPONENT_DEPLOYMENT, offsetof(struct agent_logs, deployment)},
    {"ScanAgent.log", AGENT_COMPONENT_SCAN, offsetof(struct agent_logs, scan)},
    {"WUAHandler.log", AGENT_COMPONENT_WUA, offsetof(struct agent_logs, wua)},
    {"UpdatesHandler.log", AGENT_COMPONENT_HANDLER, offsetof(struct agent_logs, handler)},
    {"StateMessage.log", AGENT_COMPONENT_STATE, offsetof(struct agent_logs, state)},
    {"CcmExec.log", AGENT_COMPONENT_EXEC, offsetof(struct agent_logs, exec)},
    {"gpupdate.log", AGENT_COMPONENT_GPUPDATE, offsetof(struct agent_logs, gpupdate)},
    {"CIAgent.log", AGENT_COMPONENT_CI, offsetof(struct agent_logs, ci)},
};

#define LOG_FILE_COUNT (sizeof(log_files) / sizeof(log_files[0]))

static struct cmtrace_log **log_slot(struct agent_logs *logs, size_t i)
{
	return (struct cmtrace_log **)(void *)((char *)logs + log_files[i].offset);
}

int agent_logs_open(const char *machine, struct agent_logs *logs, struct pp_error *err)
{
	char dir[AGENT_PATH_MAX], path[AGENT_PATH_MAX + 32];
	size_t i;
	int n, rc = -1;

	memset(logs, 0, sizeof(*logs));
	n = snprintf(dir, sizeof(dir), "%s/logs", machine != NULL ? machine : "");
	if (machine == NULL || machine[0] == '\0' || n < 0 || (size_t)n >= sizeof(dir)) {
		pp_error_set(err, HR_ERROR_INVALID_NAME, "no usable machine directory given");
		goto out;
	}
	if (atomicfile_mkdirs(dir, err) != 0)
		goto out;
	for (i = 0; i < LOG_FILE_COUNT; i++) {
		(void)snprintf(path, sizeof(path), "%s/%s", dir, log_files[i].file);
		*log_slot(logs, i) = cmtrace_open(path, log_files[i].component, 0, err);
		if (*log_slot(logs, i) == NULL)
			goto out;
	}
	rc = 0;
out:
	if (rc != 0)
		agent_logs_close(logs);
	return rc;
}

void agent_logs_close(struct agent_logs *logs)
{
	size_t i;

	if (logs == NULL)
		return;
	for (i = 0; i < LOG_FILE_COUNT; i++) {
		cmtrace_close(*log_slot(logs, i));
		*log_slot(logs, i) = NULL;
	}
}

void agent_log(struct cmtrace_log *log, enum cmtrace_type type, const char *fmt, ...)
{
	char msg[4096];
	va_list ap;

	if (log == NULL)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* A log that cannot be written does not stop the cycle. */
	(void)cmtrace_write(log, type, "%s", msg);
}

/* ---- the cycle lock ---- */

int agent_state_lock(const char *machine, int *fd, struct pp_error *err)
{
	char path[AGENT_PATH_MAX];
	int r;

	*fd = -1;
	if (agent_state_path(machine, "cycle.lock", path, sizeof(path), err) != 0 ||
	    agent_state_prepare(machine, err) != 0)
		return -1;
	*fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
	if (*fd < 0) {
		pp_error_set_errno(err, errno, "cannot open %s", path);
		return -1;
	}
	while ((r = flock(*fd, LOCK_EX)) != 0 && errno == EINTR)
		;
	if (r != 0) {
		pp_error_set_errno(err, errno, "cannot lock %s", path);
		(void)close(*fd);
		*fd = -1;
		return -1;
	}
	return 0;
}

void agent_state_unlock(int fd)
{
	if (fd >= 0)
		(void)close(fd); /* closing the last descriptor releases the flock */
}
