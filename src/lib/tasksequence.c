/* tasksequence.c - the checks of tasksequence.h. */
#include "tasksequence.h"

#include "hresult.h"
#include "machinepolicy.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *const type_keys[] = {"run-command-line", "install-software-updates",
					"set-policy", "restart"};
static const char *const type_labels[] = {"Run Command Line", "Install Software Updates",
					  "Set Policy", "Restart"};
static const char *const run_names[] = {"running", "succeeded", "failed", "interrupted"};
static const char *const run_labels[] = {"Running", "Succeeded", "Failed", "Interrupted"};
static const char *const step_names[] = {"pending", "running", "succeeded",
					 "failed",  "skipped", "interrupted"};
static const char *const step_labels[] = {"Pending", "Running", "Succeeded",
					  "Failed",  "Skipped", "Interrupted"};

const char *ts_step_type_key(enum ts_step_type t)
{
	return (unsigned)t < TS_STEP_TYPE_COUNT ? type_keys[t] : "unknown";
}

const char *ts_step_type_label(enum ts_step_type t)
{
	return (unsigned)t < TS_STEP_TYPE_COUNT ? type_labels[t] : "Unknown";
}

int ts_step_type_parse(const char *text, enum ts_step_type *out, struct pp_error *err)
{
	for (int i = 0; text != NULL && i < TS_STEP_TYPE_COUNT; i++)
		if (strcasecmp(text, type_keys[i]) == 0 || strcasecmp(text, type_labels[i]) == 0) {
			*out = (enum ts_step_type)i;
			return 0;
		}
	pp_error_set(err, HR_E_INVALIDARG,
		     "unknown step type '%s'; known: run-command-line, install-software-updates, "
		     "set-policy, restart",
		     text != NULL ? text : "");
	return -1;
}

/* Length of the UTF-8 sequence at s (1..4), 0 when it is not one (overlong forms, surrogates
 * and values past U+10FFFF included). */
static size_t utf8_sequence(const unsigned char *s)
{
	size_t n, i;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xC2 && s[0] <= 0xDF)
		n = 2, cp = s[0] & 0x1Fu;
	else if (s[0] >= 0xE0 && s[0] <= 0xEF)
		n = 3, cp = s[0] & 0x0Fu;
	else if (s[0] >= 0xF0 && s[0] <= 0xF4)
		n = 4, cp = s[0] & 0x07u;
	else
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3Fu);
	}
	if ((n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
	    (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
		return 0;
	return n;
}

/* UTF-8 without control characters (tab allowed when tab_ok). */
static bool text_ok(const char *s, bool tab_ok)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n;

	while (*p != '\0') {
		if ((*p < 0x20 && !(tab_ok && *p == '\t')) || *p == 0x7F)
			return false;
		n = utf8_sequence(p);
		if (n == 0)
			return false;
		p += n;
	}
	return true;
}

int ts_name_check(const char *name, const char *what, struct pp_error *err)
{
	size_t len = name != NULL ? strlen(name) : 0;

	if (len == 0) {
		pp_error_set(err, HR_E_INVALIDARG, "the %s is empty", what);
		return -1;
	}
	if (len > TS_NAME_MAX) {
		pp_error_set(err, HR_E_INVALIDARG, "the %s is longer than %d bytes", what,
			     TS_NAME_MAX);
		return -1;
	}
	if (!text_ok(name, false)) {
		pp_error_set(err, HR_E_INVALIDARG,
			     "the %s must be UTF-8 text without control characters", what);
		return -1;
	}
	return 0;
}

int ts_version_check(const char *version, struct pp_error *err)
{
	size_t len = version != NULL ? strlen(version) : 0;

	for (size_t i = 0; i < len; i++)
		if (version[i] <= ' ' || version[i] >= 0x7F)
			len = 0;
	if (len == 0 || len > TS_VERSION_MAX) {
		pp_error_set(
		    err, HR_E_INVALIDARG,
		    "the package version '%.64s' must be 1 to %d printable ASCII characters "
		    "without spaces",
		    version != NULL ? version : "", TS_VERSION_MAX);
		return -1;
	}
	return 0;
}

bool ts_id_valid(const char *id)
{
	if (id == NULL || strlen(id) != TS_ID_LEN)
		return false;
	return strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") >= 3 &&
	       strspn(id + 3, "0123456789ABCDEF") == 5;
}

int ts_package_path_check(const char *path, struct pp_error *err)
{
	size_t len = path != NULL ? strlen(path) : 0;
	const char *c, *end;

	if (len == 0 || len > TS_PATH_MAX || path[0] == '/' || strchr(path, '\\') != NULL ||
	    !text_ok(path, false))
		goto bad;
	for (c = path; *c != '\0'; c = *end == '/' ? end + 1 : end) {
		end = strchr(c, '/');
		if (end == NULL)
			end = c + strlen(c);
		if (end == c || (end - c == 1 && c[0] == '.') ||
		    (end - c == 2 && c[0] == '.' && c[1] == '.') || (*end == '/' && end[1] == '\0'))
			goto bad;
	}
	return 0;
bad:
	pp_error_set(err, HR_ERROR_INVALID_NAME,
		     "'%.255s' is not a file path inside a package (1 to %d bytes, relative, "
		     "'/'-separated, without '.', '..' or empty parts)",
		     path != NULL ? path : "", TS_PATH_MAX);
	return -1;
}

int ts_command_line_split(const char *cmd, char *buf, char **words, size_t max, size_t *count,
			  struct pp_error *err)
{
	const char *p = cmd != NULL ? cmd : "";
	char *o = buf;
	bool quoted = false, in_word = false;

	*count = 0;
	for (;; p++) {
		if (*p == '\0' || (!quoted && (*p == ' ' || *p == '\t'))) {
			if (in_word) {
				*o++ = '\0';
				in_word = false;
			}
			if (*p == '\0')
				break;
			continue;
		}
		if (!in_word) {
			if (*count == max) {
				pp_error_set(err, HR_E_INVALIDARG,
					     "the command line has more than %zu words", max);
				return -1;
			}
			words[(*count)++] = o;
			in_word = true;
		}
		if (*p == '\\' && p[1] == '"')
			*o++ = *++p;
		else if (*p == '"')
			quoted = !quoted;
		else
			*o++ = *p;
	}
	if (quoted) {
		pp_error_set(err, HR_E_INVALIDARG, "the command line has an unclosed quote");
		return -1;
	}
	if (*count == 0 || words[0][0] == '\0') {
		pp_error_set(err, HR_E_INVALIDARG, "the command line names no program");
		return -1;
	}
	return 0;
}

int ts_command_line_program(const char *cmd, char *program, size_t size, const char **rest,
			    struct pp_error *err)
{
	const char *p = cmd != NULL ? cmd : "";
	bool quoted = false;
	size_t o = 0;

	while (*p == ' ' || *p == '\t')
		p++;
	for (; *p != '\0' && (quoted || (*p != ' ' && *p != '\t')); p++) {
		char ch = *p;

		if (*p == '\\' && p[1] == '"')
			ch = *++p;
		else if (*p == '"') {
			quoted = !quoted;
			continue;
		}
		if (o + 1 >= size) {
			pp_error_set(err, HR_E_INVALIDARG,
				     "the command line's program is too long");
			return -1;
		}
		program[o++] = ch;
	}
	program[o] = '\0';
	if (quoted) {
		pp_error_set(err, HR_E_INVALIDARG, "the command line has an unclosed quote");
		return -1;
	}
	if (o == 0) {
		pp_error_set(err, HR_E_INVALIDARG, "the command line names no program");
		return -1;
	}
	while (*p == ' ' || *p == '\t')
		p++;
	*rest = p;
	return 0;
}

int ts_step_check(const struct ts_step *s, struct pp_error *err)
{
	char buf[TS_COMMAND_MAX + 1], *words[TS_COMMAND_WORDS_MAX];
	const char *label;
	size_t n = 0, len;

	if ((unsigned)s->type >= TS_STEP_TYPE_COUNT) {
		pp_error_set(err, HR_E_INVALIDARG, "unknown step type %d", (int)s->type);
		return -1;
	}
	label = type_labels[s->type];
	if (ts_name_check(s->name, "step name", err) != 0)
		return -1;
	if (s->type == TS_STEP_RUN_COMMAND_LINE) {
		len = strnlen(s->command_line, sizeof(s->command_line));
		if (len == 0 || len > TS_COMMAND_MAX) {
			pp_error_set(
			    err, HR_E_INVALIDARG,
			    "a Run Command Line step needs a command line of 1 to %d bytes",
			    TS_COMMAND_MAX);
			return -1;
		}
		if (!text_ok(s->command_line, true)) {
			pp_error_set(err, HR_E_INVALIDARG,
				     "the command line must be UTF-8 text without control "
				     "characters");
			return -1;
		}
		if (ts_command_line_split(s->command_line, buf, words, TS_COMMAND_WORDS_MAX, &n,
					  err) != 0)
			return -1;
		if (s->timeout < 1 || s->timeout > TS_TIMEOUT_MAX) {
			pp_error_set(err, HR_E_INVALIDARG,
				     "the timeout must be 1 to %d seconds, not %u", TS_TIMEOUT_MAX,
				     s->timeout);
			return -1;
		}
		if (s->package_id[0] != '\0' && !ts_id_valid(s->package_id)) {
			pp_error_set(err, HR_E_INVALIDARG, "'%.16s' is not a package id",
				     s->package_id);
			return -1;
		}
	} else if (s->command_line[0] != '\0' || s->package_id[0] != '\0' || s->timeout != 0) {
		pp_error_set(err, HR_E_INVALIDARG,
			     "a %s step takes no package, command line or timeout", label);
		return -1;
	}
	if (s->type == TS_STEP_SET_POLICY) {
		if (machinepolicy_registry_key(s->policy_name) == NULL) {
			pp_error_set(err, HR_E_INVALIDARG,
				     "unknown policy value '%.63s'; known: %s", s->policy_name,
				     MACHINEPOLICY_ACCEPT_TRUSTED_PUBLISHER_CERTS);
			return -1;
		}
	} else if (s->policy_name[0] != '\0' || s->policy_value != 0) {
		pp_error_set(err, HR_E_INVALIDARG, "a %s step takes no policy name or value",
			     label);
		return -1;
	}
	return 0;
}

void ts_policy_source(const char *ts_name, char *out, size_t size)
{
	size_t o, max = size < MACHINEPOLICY_SOURCE_MAX ? size : MACHINEPOLICY_SOURCE_MAX;
	const unsigned char *p = (const unsigned char *)(ts_name != NULL ? ts_name : "");

	if (size == 0)
		return;
	o = (size_t)snprintf(out, max, "%s", TS_POLICY_SOURCE_PREFIX);
	if (o >= max)
		o = max - 1;
	for (; *p != '\0' && o + 1 < max; p++) {
		if (*p >= 0x80) {
			/* One '?' per character, not per byte. */
			size_t n = utf8_sequence(p);

			if (n > 1)
				p += n - 1;
			out[o++] = '?';
		} else {
			out[o++] = *p >= 0x20 && *p < 0x7F ? (char)*p : '?';
		}
	}
	out[o] = '\0';
}

const char *ts_run_state_name(enum ts_run_state s)
{
	return (unsigned)s < TS_RUN_STATE_COUNT ? run_names[s] : "unknown";
}

const char *ts_run_state_label(enum ts_run_state s)
{
	return (unsigned)s < TS_RUN_STATE_COUNT ? run_labels[s] : "Unknown";
}

const char *ts_step_state_name(enum ts_step_state s)
{
	return (unsigned)s < TS_STEP_STATE_COUNT ? step_names[s] : "unknown";
}

const char *ts_step_state_label(enum ts_step_state s)
{
	return (unsigned)s < TS_STEP_STATE_COUNT ? step_labels[s] : "Unknown";
}

int ts_run_state_parse(const char *name)
{
	for (int i = 0; name != NULL && i < TS_RUN_STATE_COUNT; i++)
		if (strcmp(name, run_names[i]) == 0)
			return i;
	return -1;
}

int ts_step_state_parse(const char *name)
{
	for (int i = 0; name != NULL && i < TS_STEP_STATE_COUNT; i++)
		if (strcmp(name, step_names[i]) == 0)
			return i;
	return -1;
}

bool ts_run_id_valid(const char *id)
{
	if (id == NULL || strlen(id) != TS_RUN_ID_LEN)
		return false;
	for (int i = 0; i < TS_RUN_ID_LEN; i++) {
		bool hyphen = i == 8 || i == 13 || i == 18 || i == 23;

		if (hyphen ? id[i] != '-' : strchr("0123456789abcdef", id[i]) == NULL || id[i] == 0)
			return false;
	}
	return true;
}
