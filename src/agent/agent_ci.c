/* agent_ci.c - the baselines document and the evaluation of a baseline (see agent_ci.h).
 *
 * A script runs through agent_updates_run_handler, the installers' runner (its own process
 * group, /dev/null in, a fixed environment, killed whole at the time limit), by way of a
 * two-line wrapper that sets PATCHPOINT_MACHINE and sends the script's standard output and
 * error to two files of its own: the first is the discovered value, the second a reason. */
#include "agent_ci.h"

#include "agent_updates.h"
#include "atomicfile.h"
#include "base64.h"
#include "hresult.h"
#include "sdp.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#define CI_DIR	       "ci"
#define OUTPUT_READ    (64u << 10) /* bytes of a script's standard output read */
#define REASON_MAX     200	   /* bytes of the first line of standard error kept */
#define CI_OUTPUT_KEEP (1u << 20)  /* CIAgent.out is cut to nothing past this */
#define DER_MAX	       (64 * 1024) /* bytes of one certificate */

/* ---- the document ---- */

static int bad_field(struct pp_error *err, const char *field, const char *what)
{
	pp_error_set(err, HR_ERROR_INVALID_DATA, "baselines document field %s %s", field, what);
	return -1;
}

/* A string member of min..max bytes without control characters (allow_lines: LF, CR and tab
 * allowed) into out (max + 1 bytes). */
static int get_text(const json_t *obj, const char *key, const char *field, size_t min, size_t max,
		    char *out, struct pp_error *err)
{
	const json_t *v = json_object_get(obj, key);
	const char *s;
	size_t len;
	char what[96];

	if (v == NULL)
		return bad_field(err, field, "is missing");
	if (!json_is_string(v))
		return bad_field(err, field, "is not a string");
	s = json_string_value(v);
	len = json_string_length(v);
	if (len < min || len > max) {
		(void)snprintf(what, sizeof(what), "is not %zu to %zu bytes long", min, max);
		return bad_field(err, field, what);
	}
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return bad_field(err, field, "holds a control character");
	memcpy(out, s, len + 1);
	return 0;
}

static int get_int(const json_t *obj, const char *key, const char *field, int64_t min, int64_t max,
		   int64_t *out, struct pp_error *err)
{
	const json_t *v = json_object_get(obj, key);
	char what[96];

	if (v == NULL)
		return bad_field(err, field, "is missing");
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
		(void)snprintf(what, sizeof(what), "is not a whole number from %lld to %lld",
			       (long long)min, (long long)max);
		return bad_field(err, field, what);
	}
	*out = json_integer_value(v);
	return 0;
}

/* A script member: text of 1 to CONFIGITEM_SCRIPT_MAX bytes without NUL, malloc'd into *out;
 * optional: absent or null leaves *out NULL. */
static int get_script(const json_t *obj, const char *key, const char *field, bool optional,
		      char **out, struct pp_error *err)
{
	const json_t *v = json_object_get(obj, key);
	struct pp_error inner;

	*out = NULL;
	if (optional && (v == NULL || json_is_null(v)))
		return 0;
	if (v == NULL)
		return bad_field(err, field, "is missing");
	if (!json_is_string(v))
		return bad_field(err, field, "is not a string");
	pp_error_clear(&inner);
	if (configitem_check_script(json_string_value(v), json_string_length(v), "script",
				    &inner) != 0)
		return bad_field(err, field, "is not a script of 1 to 65536 bytes of text");
	*out = malloc(json_string_length(v) + 1);
	if (*out == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory reading the baselines document");
		return -1;
	}
	memcpy(*out, json_string_value(v), json_string_length(v) + 1);
	return 0;
}

static int parse_certificate(const json_t *c, const char *at, struct agent_ci_item *it,
			     struct pp_error *err)
{
	char field[128], given[PKI_THUMBPRINT_LEN + 8], thumb[PKI_THUMBPRINT_LEN + 1];
	const json_t *der_v, *stores, *s;
	unsigned char *der = NULL;
	const unsigned char *p;
	size_t len = 0, k;
	unsigned bit;
	int rc = -1;

	if (!json_is_object(c)) {
		(void)snprintf(field, sizeof(field), "%s.certificate", at);
		return bad_field(err, field, c == NULL ? "is missing" : "is not an object");
	}
	(void)snprintf(field, sizeof(field), "%s.certificate.thumbprint", at);
	if (get_text(c, "thumbprint", field, 1, PKI_THUMBPRINT_LEN + 7, given, err) != 0)
		return -1;
	if (strlen(given) != PKI_THUMBPRINT_LEN || pki_thumbprint_normalize(given, it->thumbprint))
		return bad_field(err, field, "is not 40 hexadecimal digits");
	(void)snprintf(field, sizeof(field), "%s.certificate.subject", at);
	if (get_text(c, "subject", field, 0, AGENT_SUBJECT_MAX, it->subject, err) != 0)
		return -1;
	(void)snprintf(field, sizeof(field), "%s.certificate.der", at);
	der_v = json_object_get(c, "der");
	if (!json_is_string(der_v))
		return bad_field(err, field, der_v == NULL ? "is missing" : "is not a string");
	if (json_string_length(der_v) > (DER_MAX / 3 + 1) * 4)
		return bad_field(err, field, "is over 65536 bytes");
	der = base64_decode(json_string_value(der_v), json_string_length(der_v), &len);
	if (der == NULL)
		return bad_field(err, field, "is not base64");
	p = der;
	it->cert = d2i_X509(NULL, &p, (long)len);
	if (it->cert == NULL || p != der + len) {
		(void)bad_field(err, field, "is not one DER-encoded X.509 certificate");
		goto out;
	}
	if (pki_thumbprint(it->cert, thumb) != 0 || strcmp(thumb, it->thumbprint) != 0) {
		(void)snprintf(field, sizeof(field), "%s.certificate.thumbprint", at);
		(void)bad_field(err, field, "does not match the certificate in der");
		goto out;
	}
	(void)snprintf(field, sizeof(field), "%s.certificate.stores", at);
	stores = json_object_get(c, "stores");
	if (!json_is_array(stores) || json_array_size(stores) == 0 || json_array_size(stores) > 2) {
		(void)bad_field(err, field, "is not a list of one or two store names");
		goto out;
	}
	json_array_foreach(stores, k, s)
	{
		if (json_is_string(s) && strcmp(json_string_value(s), "Root") == 0) {
			bit = CONFIGITEM_STORE_ROOT;
		} else if (json_is_string(s) &&
			   strcmp(json_string_value(s), "TrustedPublisher") == 0) {
			bit = CONFIGITEM_STORE_TRUSTED_PUBLISHER;
		} else {
			(void)bad_field(err, field,
					"names a store other than Root or TrustedPublisher");
			goto out;
		}
		if ((it->stores & bit) != 0) {
			(void)bad_field(err, field, "names a store twice");
			goto out;
		}
		it->stores |= bit;
	}
	if ((it->stores & CONFIGITEM_STORE_ROOT) != 0 && !pki_is_self_signed(it->cert)) {
		(void)bad_field(err, field, "puts a certificate that is not self-signed into Root");
		goto out;
	}
	rc = 0;
out:
	free(der);
	return rc;
}

static int parse_script(const json_t *c, const char *at, struct agent_ci_item *it,
			struct pp_error *err)
{
	char field[128], text[CONFIGITEM_VALUE_MAX + 1];
	struct pp_error inner;
	int64_t timeout;

	pp_error_clear(&inner);
	if (!json_is_object(c)) {
		(void)snprintf(field, sizeof(field), "%s.script", at);
		return bad_field(err, field, c == NULL ? "is missing" : "is not an object");
	}
	(void)snprintf(field, sizeof(field), "%s.script.discovery", at);
	if (get_script(c, "discovery", field, false, &it->discovery, err) != 0)
		return -1;
	(void)snprintf(field, sizeof(field), "%s.script.remediation", at);
	if (get_script(c, "remediation", field, true, &it->remediation, err) != 0)
		return -1;
	(void)snprintf(field, sizeof(field), "%s.script.data_type", at);
	if (get_text(c, "data_type", field, 1, 16, text, err) != 0)
		return -1;
	if (configitem_type_parse(text, &it->data_type, &inner) != 0)
		return bad_field(err, field, "is not boolean, string or integer");
	(void)snprintf(field, sizeof(field), "%s.script.operator", at);
	if (get_text(c, "operator", field, 1, 16, text, err) != 0)
		return -1;
	if (configitem_operator_check(text, &inner) != 0)
		return bad_field(err, field, "is not equals");
	(void)snprintf(field, sizeof(field), "%s.script.expected", at);
	if (!json_is_string(json_object_get(c, "expected")) ||
	    json_string_length(json_object_get(c, "expected")) > CONFIGITEM_VALUE_MAX)
		return bad_field(err, field, "is not a string of at most 1024 bytes");
	if (configitem_value_normalize(it->data_type,
				       json_string_value(json_object_get(c, "expected")),
				       "expected", it->expected, &inner) != 0)
		return bad_field(err, field, "is not a value of the data type");
	(void)snprintf(field, sizeof(field), "%s.script.timeout_seconds", at);
	if (get_int(c, "timeout_seconds", field, 1, CONFIGITEM_TIMEOUT_MAX, &timeout, err) != 0)
		return -1;
	it->timeout_seconds = (unsigned)timeout;
	return 0;
}

static int parse_item(const json_t *e, const char *at, struct agent_ci_item *it,
		      struct pp_error *err)
{
	char field[128], kind[16];
	struct pp_error inner;

	pp_error_clear(&inner);
	if (!json_is_object(e))
		return bad_field(err, at, "is not an object");
	(void)snprintf(field, sizeof(field), "%s.id", at);
	if (get_int(e, "id", field, 1, INT64_MAX, &it->id, err) != 0)
		return -1;
	(void)snprintf(field, sizeof(field), "%s.revision", at);
	if (get_int(e, "revision", field, 1, INT64_MAX, &it->revision, err) != 0)
		return -1;
	(void)snprintf(field, sizeof(field), "%s.name", at);
	if (get_text(e, "name", field, 1, CONFIGITEM_NAME_MAX, it->name, err) != 0)
		return -1;
	(void)snprintf(field, sizeof(field), "%s.kind", at);
	if (get_text(e, "kind", field, 1, sizeof(kind) - 1, kind, err) != 0)
		return -1;
	if (configitem_kind_parse(kind, &it->kind, &inner) != 0)
		return bad_field(err, field, "is not certificate or script");
	if (it->kind == CONFIGITEM_KIND_CERTIFICATE)
		return parse_certificate(json_object_get(e, "certificate"), at, it, err);
	return parse_script(json_object_get(e, "script"), at, it, err);
}

static void item_free(struct agent_ci_item *it)
{
	X509_free(it->cert);
	free(it->discovery);
	free(it->remediation);
	memset(it, 0, sizeof(*it));
}

/* SHA-256 of the baseline's JSON (keys sorted) in hex: what decides that it changed. */
static int fingerprint(const json_t *e, char out[AGENT_CI_FINGERPRINT + 1], struct pp_error *err)
{
	unsigned char md[32];
	unsigned int n = 0;
	char *text = json_dumps(e, JSON_COMPACT | JSON_SORT_KEYS);
	int rc = -1;

	if (text != NULL && EVP_Digest(text, strlen(text), md, &n, EVP_sha256(), NULL) == 1) {
		for (unsigned i = 0; i < 32; i++)
			(void)snprintf(out + 2 * i, 3, "%02x", md[i]);
		rc = 0;
	} else {
		pp_error_set(err, HR_E_OUTOFMEMORY, "cannot make a baseline's fingerprint");
	}
	free(text);
	return rc;
}

static int parse_baseline(const json_t *e, size_t i, struct agent_ci_baseline *b,
			  struct pp_error *err)
{
	char at[48], field[128];
	const json_t *items, *ids, *v, *rem;
	size_t k;

	(void)snprintf(at, sizeof(at), "baselines[%zu]", i);
	if (!json_is_object(e))
		return bad_field(err, at, "is not an object");
	(void)snprintf(field, sizeof(field), "%s.id", at);
	if (get_int(e, "id", field, 1, INT64_MAX, &b->id, err) != 0)
		return -1;
	(void)snprintf(field, sizeof(field), "%s.revision", at);
	if (get_int(e, "revision", field, 1, INT64_MAX, &b->revision, err) != 0)
		return -1;
	(void)snprintf(field, sizeof(field), "%s.name", at);
	if (get_text(e, "name", field, 1, CONFIGITEM_NAME_MAX, b->name, err) != 0)
		return -1;
	(void)snprintf(field, sizeof(field), "%s.remediate", at);
	rem = json_object_get(e, "remediate");
	if (!json_is_boolean(rem))
		return bad_field(err, field, rem == NULL ? "is missing" : "is not true or false");
	b->remediate = json_is_true(rem);
	(void)snprintf(field, sizeof(field), "%s.schedule_hours", at);
	if (get_int(e, "schedule_hours", field, 1, CONFIGITEM_SCHEDULE_HOURS_MAX,
		    &b->schedule_hours, err) != 0)
		return -1;
	(void)snprintf(field, sizeof(field), "%s.deployment_ids", at);
	ids = json_object_get(e, "deployment_ids");
	if (!json_is_array(ids) || json_array_size(ids) == 0 || json_array_size(ids) > 10000)
		return bad_field(err, field, "is not a list of 1 to 10000 deployment ids");
	json_array_foreach(ids, k, v)
	{
		if (!json_is_integer(v) || json_integer_value(v) < 1)
			return bad_field(err, field, "holds something other than a deployment id");
		if (b->ndeployments < sizeof(b->deployment_ids) / sizeof(b->deployment_ids[0]))
			b->deployment_ids[b->ndeployments++] = json_integer_value(v);
	}
	(void)snprintf(field, sizeof(field), "%s.items", at);
	items = json_object_get(e, "items");
	if (!json_is_array(items) || json_array_size(items) == 0 ||
	    json_array_size(items) > CONFIGITEM_BASELINE_ITEMS_MAX)
		return bad_field(err, field, "is not a list of 1 to 256 configuration items");
	b->items = calloc(json_array_size(items), sizeof(*b->items));
	if (b->items == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory reading the baselines document");
		return -1;
	}
	json_array_foreach(items, k, v)
	{
		char item_at[80];

		b->count = k + 1; /* so that free releases a half-parsed item too */
		(void)snprintf(item_at, sizeof(item_at), "%s.items[%zu]", at, k);
		if (parse_item(v, item_at, &b->items[k], err) != 0)
			return -1;
		for (size_t j = 0; j < k; j++)
			if (b->items[j].id == b->items[k].id)
				return bad_field(err, field, "lists an item twice");
	}
	return fingerprint(e, b->fingerprint, err);
}

void agent_ci_doc_free(struct agent_ci_doc *doc)
{
	if (doc == NULL)
		return;
	for (size_t i = 0; i < doc->count; i++) {
		for (size_t k = 0; k < doc->baselines[i].count; k++)
			item_free(&doc->baselines[i].items[k]);
		free(doc->baselines[i].items);
	}
	free(doc->baselines);
	free(doc);
}

struct agent_ci_doc *agent_ci_parse(const json_t *doc, struct pp_error *err)
{
	struct agent_ci_doc *d = NULL;
	const json_t *arr, *e;
	size_t i;
	int rc = -1;

	if (!json_is_object(doc)) {
		pp_error_set(err, HR_ERROR_INVALID_DATA, "the baselines document is not an object");
		return NULL;
	}
	d = calloc(1, sizeof(*d));
	if (d == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory reading the baselines document");
		return NULL;
	}
	if (get_text(doc, "version", "version", 1, AGENT_POLICY_VERSION_MAX, d->version, err) != 0)
		goto out;
	if (strspn(d->version, "0123456789abcdefABCDEF") != strlen(d->version)) {
		(void)bad_field(err, "version", "is not hexadecimal");
		goto out;
	}
	arr = json_object_get(doc, "baselines");
	if (!json_is_array(arr) || json_array_size(arr) > AGENT_CI_MAX_BASELINES) {
		(void)bad_field(err, "baselines", "is not a list of at most 1024 baselines");
		goto out;
	}
	if (json_array_size(arr) > 0) {
		d->baselines = calloc(json_array_size(arr), sizeof(*d->baselines));
		if (d->baselines == NULL) {
			pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
			goto out;
		}
	}
	json_array_foreach(arr, i, e)
	{
		d->count = i + 1;
		if (parse_baseline(e, i, &d->baselines[i], err) != 0)
			goto out;
		for (size_t j = 0; j < i; j++)
			if (d->baselines[j].id == d->baselines[i].id) {
				(void)bad_field(err, "baselines", "lists a baseline twice");
				goto out;
			}
	}
	rc = 0;
out:
	if (rc != 0) {
		agent_ci_doc_free(d);
		d = NULL;
	}
	return d;
}

/* ---- running a script ---- */

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		return rmdir(path) != 0 && errno != ENOENT ? -1 : 0;
	return unlink(path) != 0 && errno != ENOENT ? -1 : 0;
}

/* What a script did. */
struct script_run {
	bool started;
	bool timed_out;
	int exit_code; /* -1: did not exit by itself */
	char *out;     /* standard output, NUL-terminated (owned) */
	size_t out_len;
	char reason[REASON_MAX + 1]; /* the first line of standard error */
};

/* Appends "'" quoted for /bin/sh: the text in single quotes, a quote inside as '\''. */
static int sh_quote(const char *s, char *out, size_t size)
{
	size_t o = 0;

	if (size < 3)
		return -1;
	out[o++] = '\'';
	for (; *s != '\0'; s++) {
		if (*s == '\'') {
			if (o + 4 >= size)
				return -1;
			memcpy(out + o, "'\\''", 4);
			o += 4;
		} else {
			if (o + 1 >= size)
				return -1;
			out[o++] = *s;
		}
	}
	if (o + 2 > size)
		return -1;
	out[o++] = '\'';
	out[o] = '\0';
	return 0;
}

/* Reads at most max bytes of path into a malloc'd NUL-terminated buffer; a missing file is
 * empty. */
static char *read_some(const char *path, size_t max, size_t *len)
{
	char *buf = malloc(max + 1);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	ssize_t got;

	*len = 0;
	if (buf == NULL) {
		if (fd >= 0)
			(void)close(fd);
		return NULL;
	}
	while (fd >= 0 && *len < max && (got = read(fd, buf + *len, max - *len)) != 0) {
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			break;
		*len += (size_t)got;
	}
	if (fd >= 0)
		(void)close(fd);
	buf[*len] = '\0';
	return buf;
}

/* What the scripts wrote goes to <machine>/logs/CIAgent.out, started afresh past 1 MiB. */
static void keep_output(const char *machine, const struct agent_ci_item *it, const char *which,
			const struct script_run *r, const char *dir)
{
	char path[AGENT_PATH_MAX + 32], file[AGENT_PATH_MAX + 64];
	struct stat st;
	size_t n = 0;
	char *err_text;
	FILE *fp;

	(void)snprintf(path, sizeof(path), "%s/logs/%s", machine, AGENT_CI_OUTPUT);
	if (stat(path, &st) == 0 && (size_t)st.st_size > CI_OUTPUT_KEEP)
		(void)unlink(path);
	fp = fopen(path, "ae");
	if (fp == NULL)
		return;
	fprintf(fp, "==== %lld: %s script of '%s' (revision %lld): ", (long long)time(NULL), which,
		it->name, (long long)it->revision);
	if (r->timed_out)
		fprintf(fp, "stopped at its time limit of %u s\n", it->timeout_seconds);
	else if (r->exit_code >= 0)
		fprintf(fp, "exit code %d\n", r->exit_code);
	else
		fprintf(fp, "killed\n");
	if (r->out != NULL)
		fwrite(r->out, 1, r->out_len, fp);
	(void)snprintf(file, sizeof(file), "%s/stderr", dir);
	err_text = read_some(file, OUTPUT_READ, &n);
	if (err_text != NULL)
		fwrite(err_text, 1, n, fp);
	free(err_text);
	(void)fclose(fp);
}

/* Runs one script of item it (text) in a fresh directory under <machine>/agent/ci. -1 only
 * when it could not be started (err says why). */
static int run_script(const char *machine, const struct agent_ci_item *it, const char *which,
		      const char *text, struct script_run *r, struct pp_error *err)
{
	char base[AGENT_PATH_MAX], dir[AGENT_PATH_MAX + 32], file[AGENT_PATH_MAX + 64];
	char abs[PATH_MAX], quoted[2 * PATH_MAX + 8], *wrapper = NULL, *line;
	struct sdp_command_line cl;
	struct agent_handler_result res;
	struct pp_error e;
	bool made = false;
	size_t n = 0;
	int rc = -1;

	memset(r, 0, sizeof(*r));
	r->exit_code = -1;
	memset(&cl, 0, sizeof(cl));
	if (agent_state_path(machine, CI_DIR, base, sizeof(base), err) != 0 ||
	    agent_state_prepare(machine, err) != 0 || agent_state_make_dir(base, 0700, err) != 0)
		goto out;
	if (realpath(machine, abs) == NULL) {
		pp_error_set_errno(err, errno, "cannot resolve %s", machine);
		goto out;
	}
	(void)snprintf(dir, sizeof(dir), "%s/%lld.XXXXXX", base, (long long)it->id);
	if (mkdtemp(dir) == NULL) {
		pp_error_set_errno(err, errno, "cannot make a directory under %s", base);
		goto out;
	}
	made = true;
	(void)snprintf(file, sizeof(file), "%s/script.sh", dir);
	if (atomicfile_write(file, text, strlen(text), 0600, false, err) != 0)
		goto out;
	if (sh_quote(abs, quoted, sizeof(quoted)) != 0 ||
	    asprintf(&wrapper,
		     "PATCHPOINT_MACHINE=%s\nexport PATCHPOINT_MACHINE\n"
		     "exec /bin/sh ./script.sh >./stdout 2>./stderr\n",
		     quoted) < 0) {
		wrapper = NULL;
		pp_error_set(err, HR_ERROR_INVALID_NAME, "the machine directory path is too long");
		goto out;
	}
	(void)snprintf(file, sizeof(file), "%s/run.sh", dir);
	if (atomicfile_write(file, wrapper, strlen(wrapper), 0600, false, err) != 0)
		goto out;
	cl.program = (char *)"run.sh";
	cl.default_result = SDP_RESULT_FAILED;
	(void)snprintf(file, sizeof(file), "%s/runner.out", dir);
	if (agent_updates_run_handler(&cl, dir, it->timeout_seconds, file, NULL, &res, err) != 0)
		goto out;
	r->started = true;
	r->timed_out = res.timed_out;
	r->exit_code = res.timed_out ? -1 : res.exit_code;
	(void)snprintf(file, sizeof(file), "%s/stdout", dir);
	r->out = read_some(file, OUTPUT_READ, &r->out_len);
	(void)snprintf(file, sizeof(file), "%s/stderr", dir);
	line = read_some(file, REASON_MAX, &n);
	if (r->out == NULL || line == NULL) {
		free(line);
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
		goto out;
	}
	line[strcspn(line, "\r\n")] = '\0';
	agent_text_format(r->reason, sizeof(r->reason), "%s", line);
	free(line);
	keep_output(machine, it, which, r, dir);
	rc = 0;
out:
	pp_error_clear(&e);
	if (made && nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0 && errno != ENOENT)
		pp_error_set_errno(&e, errno, "cannot remove %s", dir);
	free(wrapper);
	return rc;
}

static void script_run_free(struct script_run *r)
{
	free(r->out);
	r->out = NULL;
}

/* ---- evaluating ---- */

/* Quoted for a detail: at most 64 bytes, control characters as '?', "..." after a cut (never
 * inside a UTF-8 sequence). */
static void shown(const char *v, char out[80])
{
	size_t i;

	for (i = 0; i < 64 && v[i] != '\0'; i++)
		out[i] = (unsigned char)v[i] < 0x20 || v[i] == 0x7f ? '?' : v[i];
	if (i < 64 || v[i] == '\0') {
		out[i] = '\0';
		return;
	}
	while (i > 0 && ((unsigned char)v[i] & 0xC0) == 0x80)
		i--; /* v[i] continues a character: drop that character whole */
	(void)snprintf(out + i, 80 - i, "...");
}

static void set_error(struct agent_ci_result *res, bool has_hr, uint32_t hr, int exit_code,
		      const char *fmt, ...) PP_PRINTF(5, 6);

static void set_error(struct agent_ci_result *res, bool has_hr, uint32_t hr, int exit_code,
		      const char *fmt, ...)
{
	va_list ap;
	char text[CONFIGITEM_DETAIL_MAX + 1];

	va_start(ap, fmt);
	(void)vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	res->state = CONFIGITEM_ERROR;
	res->has_hresult = has_hr;
	res->hresult = hr;
	res->has_exit_code = exit_code >= 0;
	res->exit_code = exit_code;
	agent_text_format(res->detail, sizeof(res->detail), "%s", text);
}

/* The error of a script that did not exit with 0; false when it did. */
static bool script_failed(const struct agent_ci_item *it, const char *which,
			  const struct script_run *r, struct agent_ci_result *res)
{
	if (r->timed_out) {
		set_error(res, true, AGENT_CI_E_TIMEOUT, -1,
			  "the %s script ran past its time limit of %u s and was stopped", which,
			  it->timeout_seconds);
		return true;
	}
	if (r->exit_code < 0) {
		set_error(res, true, HR_E_FAIL, -1, "the %s script was killed", which);
		return true;
	}
	if (r->exit_code != 0) {
		set_error(res, false, 0, r->exit_code, "the %s script exited with code %d%s%s",
			  which, r->exit_code, r->reason[0] != '\0' ? ": " : "", r->reason);
		return true;
	}
	return false;
}

/* Runs the discovery script: 1 when it found value (into value), 0 after setting an Error. */
static int discover(const char *machine, const struct agent_ci_item *it,
		    char value[CONFIGITEM_VALUE_MAX + 1], bool *equal, struct agent_ci_result *res)
{
	struct script_run r;
	struct pp_error e;
	int found = 0;

	pp_error_clear(&e);
	*equal = false;
	if (run_script(machine, it, "discovery", it->discovery, &r, &e) != 0) {
		set_error(res, true, e.code != 0 ? e.code : HR_E_FAIL, -1,
			  "cannot run the discovery script: %s", e.message);
		goto out;
	}
	if (script_failed(it, "discovery", &r, res))
		goto out;
	if (configitem_output_value(r.out, r.out_len, value, &e) != 0 ||
	    configitem_compare(it->data_type, value, it->expected, equal, &e) != 0) {
		set_error(res, true, e.code, -1, "%s", e.message);
		goto out;
	}
	found = 1;
out:
	script_run_free(&r);
	return found;
}

static void log_result(struct cmtrace_log *log, const struct agent_ci_result *res)
{
	switch (res->state) {
	case CONFIGITEM_COMPLIANT:
		agent_log(log, CMTRACE_INFO, "Setting '%s' (revision %lld) is compliant: %s",
			  res->name, (long long)res->revision, res->detail);
		break;
	case CONFIGITEM_REMEDIATED:
		agent_log(log, CMTRACE_INFO, "Setting '%s' (revision %lld) was remediated: %s",
			  res->name, (long long)res->revision, res->detail);
		break;
	case CONFIGITEM_NON_COMPLIANT:
		agent_log(log, CMTRACE_WARNING, "Setting '%s' (revision %lld) is non-compliant: %s",
			  res->name, (long long)res->revision, res->detail);
		break;
	default:
		if (res->has_hresult)
			agent_log(log, CMTRACE_ERROR,
				  "Setting '%s' (revision %lld) is in error: %s (0x%08X)",
				  res->name, (long long)res->revision, res->detail,
				  (unsigned)res->hresult);
		else
			agent_log(log, CMTRACE_ERROR,
				  "Setting '%s' (revision %lld) is in error: %s (exit code %d)",
				  res->name, (long long)res->revision, res->detail, res->exit_code);
		break;
	}
}

static void evaluate_script(const char *machine, const struct agent_ci_item *it, bool remediate,
			    struct cmtrace_log *log, struct agent_ci_result *res)
{
	char before[CONFIGITEM_VALUE_MAX + 1], after[CONFIGITEM_VALUE_MAX + 1], a[80], b[80], x[80];
	struct script_run r;
	struct pp_error e;
	bool equal;

	memset(&r, 0, sizeof(r));
	pp_error_clear(&e);
	if (!discover(machine, it, before, &equal, res))
		return;
	shown(before, b);
	shown(it->expected, x);
	if (equal) {
		res->state = CONFIGITEM_COMPLIANT;
		agent_text_format(res->detail, sizeof(res->detail),
				  "found \"%s\" (expected \"%s\")", b, x);
		return;
	}
	if (!remediate || it->remediation == NULL) {
		res->state = CONFIGITEM_NON_COMPLIANT;
		agent_text_format(res->detail, sizeof(res->detail),
				  "found \"%s\", expected \"%s\"%s", b, x,
				  remediate ? "; the item has no remediation script" : "");
		return;
	}
	agent_log(log, CMTRACE_INFO,
		  "Remediating '%s': found \"%s\", expected \"%s\"; running the "
		  "remediation script",
		  it->name, b, x);
	if (run_script(machine, it, "remediation", it->remediation, &r, &e) != 0) {
		set_error(res, true, e.code != 0 ? e.code : HR_E_FAIL, -1,
			  "cannot run the remediation script: %s", e.message);
		goto out;
	}
	if (script_failed(it, "remediation", &r, res))
		goto out;
	if (!discover(machine, it, after, &equal, res))
		goto out;
	shown(after, a);
	if (equal) {
		res->state = CONFIGITEM_REMEDIATED;
		agent_text_format(res->detail, sizeof(res->detail),
				  "found \"%s\"; after the remediation script \"%s\" (expected "
				  "\"%s\")",
				  b, a, x);
	} else {
		res->state = CONFIGITEM_NON_COMPLIANT;
		agent_text_format(
		    res->detail, sizeof(res->detail),
		    "found \"%s\"; the remediation script ran, and then the discovery "
		    "script found \"%s\", expected \"%s\"",
		    b, a, x);
	}
out:
	script_run_free(&r);
}

/* The stores of bits that do not hold cert (logical store). */
static unsigned missing_stores(const char *machine, const struct agent_ci_item *it)
{
	unsigned missing = 0;

	for (int s = 0; s < CERTSTORE_COUNT; s++)
		if ((it->stores & (1u << s)) != 0 &&
		    !certstore_contains(machine, (enum certstore_id)s, CERTSTORE_LOGICAL, it->cert))
			missing |= 1u << s;
	return missing;
}

static void evaluate_certificate(const char *machine, const struct agent_ci_item *it,
				 bool remediate, struct cmtrace_log *log,
				 struct agent_ci_result *res)
{
	char names[64], all[64];
	unsigned missing = missing_stores(machine, it);
	struct pp_error e;
	bool already;

	configitem_stores_text(it->stores, all, sizeof(all));
	if (missing == 0) {
		res->state = CONFIGITEM_COMPLIANT;
		agent_text_format(res->detail, sizeof(res->detail), "certificate %s (%s) is in %s",
				  it->thumbprint, it->subject, all);
		return;
	}
	configitem_stores_text(missing, names, sizeof(names));
	if (!remediate) {
		res->state = CONFIGITEM_NON_COMPLIANT;
		agent_text_format(res->detail, sizeof(res->detail),
				  "certificate %s (%s) is not in %s", it->thumbprint, it->subject,
				  names);
		return;
	}
	agent_log(log, CMTRACE_INFO, "Remediating '%s': adding certificate %s (%s) to %s", it->name,
		  it->thumbprint, it->subject, names);
	for (int s = 0; s < CERTSTORE_COUNT; s++) {
		if ((missing & (1u << s)) == 0)
			continue;
		pp_error_clear(&e);
		if (certstore_add(machine, (enum certstore_id)s, CERTSTORE_LOCAL, it->cert, false,
				  &already, &e) != 0) {
			set_error(res, true, e.code != 0 ? e.code : HR_E_FAIL, -1,
				  "cannot add certificate %s to %s: %s", it->thumbprint,
				  certstore_name((enum certstore_id)s), e.message);
			return;
		}
	}
	if (missing_stores(machine, it) != 0) {
		res->state = CONFIGITEM_NON_COMPLIANT;
		agent_text_format(
		    res->detail, sizeof(res->detail),
		    "certificate %s (%s) was added to %s but is still not found there",
		    it->thumbprint, it->subject, names);
		return;
	}
	res->state = CONFIGITEM_REMEDIATED;
	agent_text_format(res->detail, sizeof(res->detail), "added certificate %s (%s) to %s",
			  it->thumbprint, it->subject, names);
}

void agent_ci_report_free(struct agent_ci_report *r)
{
	if (r == NULL)
		return;
	free(r->results);
	memset(r, 0, sizeof(*r));
}

/* "{" an upper-case UUID "}", as ConfigMgr writes job ids. */
static int make_job(char out[AGENT_CI_JOB_LEN + 1], struct pp_error *err)
{
	char uuid[AGENT_UUID_LEN + 1];

	if (agent_state_uuid(uuid, err) != 0)
		return -1;
	for (char *p = uuid; *p != '\0'; p++)
		if (*p >= 'a' && *p <= 'f')
			*p = (char)(*p - 'a' + 'A');
	(void)snprintf(out, AGENT_CI_JOB_LEN + 1, "{%s}", uuid);
	return 0;
}

int agent_ci_evaluate(const char *machine, const struct agent_ci_baseline *b,
		      struct cmtrace_log *log, struct agent_ci_report *out, struct pp_error *err)
{
	static const enum configitem_state worst_first[] = {
	    CONFIGITEM_ERROR, CONFIGITEM_NON_COMPLIANT, CONFIGITEM_REMEDIATED,
	    CONFIGITEM_COMPLIANT};
	char deps[96];
	size_t used = 0;

	memset(out, 0, sizeof(*out));
	if (make_job(out->job, err) != 0)
		return -1;
	out->results = calloc(b->count + 1, sizeof(*out->results));
	if (out->results == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory evaluating a baseline");
		return -1;
	}
	out->time = (long long)time(NULL);
	out->baseline_id = b->id;
	out->revision = b->revision;
	memcpy(out->name, b->name, sizeof(out->name));
	deps[0] = '\0';
	for (size_t i = 0; i < b->ndeployments; i++) {
		int n = snprintf(deps + used, sizeof(deps) - used, "%s%lld", i > 0 ? ", " : "",
				 (long long)b->deployment_ids[i]);

		if (n < 0 || (size_t)n >= sizeof(deps) - used)
			break;
		used += (size_t)n;
	}
	agent_log(
	    log, CMTRACE_INFO,
	    "CIAgentJob(%s): CAgentJob::Execute - Evaluating baseline \"%s\" (id %lld, revision "
	    "%lld) of deployment %s; remediation is %s",
	    out->job, b->name, (long long)b->id, (long long)b->revision, deps,
	    b->remediate ? "on" : "off");
	for (size_t i = 0; i < b->count; i++) {
		const struct agent_ci_item *it = &b->items[i];
		struct agent_ci_result *res = &out->results[i];

		res->item_id = it->id;
		res->revision = it->revision;
		res->exit_code = -1;
		memcpy(res->name, it->name, sizeof(res->name));
		if (it->kind == CONFIGITEM_KIND_CERTIFICATE)
			evaluate_certificate(machine, it, b->remediate, log, res);
		else
			evaluate_script(machine, it, b->remediate, log, res);
		log_result(log, res);
		out->counts[res->state]++;
		out->count = i + 1;
	}
	out->state = CONFIGITEM_COMPLIANT;
	for (size_t k = 0; k < sizeof(worst_first) / sizeof(worst_first[0]); k++)
		if (out->counts[worst_first[k]] > 0) {
			out->state = worst_first[k];
			break;
		}
	agent_log(log,
		  out->state == CONFIGITEM_ERROR	   ? CMTRACE_ERROR
		  : out->state == CONFIGITEM_NON_COMPLIANT ? CMTRACE_WARNING
							   : CMTRACE_INFO,
		  "CIAgentJob(%s): CAgentJob::Execute - Baseline \"%s\" (revision %lld) is %s: %zu "
		  "compliant, %zu non-compliant, %zu remediated, %zu in error",
		  out->job, b->name, (long long)b->revision, configitem_state_label(out->state),
		  out->counts[CONFIGITEM_COMPLIANT], out->counts[CONFIGITEM_NON_COMPLIANT],
		  out->counts[CONFIGITEM_REMEDIATED], out->counts[CONFIGITEM_ERROR]);
	return 0;
}
