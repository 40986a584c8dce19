/* configitem.c - the rules of configuration items (see configitem.h). */
#include "configitem.h"

#include "certstore.h"
#include "hresult.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

_Static_assert(CONFIGITEM_STORE_ROOT == (1u << CERTSTORE_ROOT), "store bits follow certstore.h");
_Static_assert(CONFIGITEM_STORE_TRUSTED_PUBLISHER == (1u << CERTSTORE_TRUSTED_PUBLISHER),
	       "store bits follow certstore.h");

static const char *const kind_names[] = {"certificate", "script"};
static const char *const kind_labels[] = {"Certificate present", "Script"};
static const char *const type_names[] = {"boolean", "string", "integer"};
static const char *const type_labels[] = {"Boolean", "String", "Integer"};
static const char *const state_names[] = {"compliant", "non_compliant", "remediated", "error",
					  "unknown"};
static const char *const state_labels[] = {"Compliant", "Non-compliant", "Remediated", "Error",
					   "Unknown"};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

const char *configitem_kind_name(enum configitem_kind k)
{
	return (size_t)k < COUNT(kind_names) ? kind_names[k] : "unknown";
}

const char *configitem_type_name(enum configitem_type t)
{
	return (size_t)t < COUNT(type_names) ? type_names[t] : "unknown";
}

const char *configitem_state_name(enum configitem_state s)
{
	return (size_t)s < COUNT(state_names) ? state_names[s] : "unknown";
}

const char *configitem_kind_label(enum configitem_kind k)
{
	return (size_t)k < COUNT(kind_labels) ? kind_labels[k] : "Unknown";
}

const char *configitem_type_label(enum configitem_type t)
{
	return (size_t)t < COUNT(type_labels) ? type_labels[t] : "Unknown";
}

const char *configitem_state_label(enum configitem_state s)
{
	return (size_t)s < COUNT(state_labels) ? state_labels[s] : "Unknown";
}

int configitem_kind_parse(const char *name, enum configitem_kind *out, struct pp_error *err)
{
	for (size_t i = 0; name != NULL && i < COUNT(kind_names); i++)
		if (strcmp(name, kind_names[i]) == 0) {
			*out = (enum configitem_kind)i;
			return 0;
		}
	pp_error_set(err, HR_E_INVALIDARG,
		     "unknown configuration item kind \"%.64s\"; known: certificate, script",
		     name != NULL ? name : "");
	return -1;
}

int configitem_type_parse(const char *name, enum configitem_type *out, struct pp_error *err)
{
	for (size_t i = 0; name != NULL && i < COUNT(type_names); i++)
		if (strcasecmp(name, type_names[i]) == 0) {
			*out = (enum configitem_type)i;
			return 0;
		}
	pp_error_set(err, HR_E_INVALIDARG,
		     "unknown data type \"%.64s\"; a script item's data type is boolean, string or "
		     "integer",
		     name != NULL ? name : "");
	return -1;
}

int configitem_state_parse(const char *name, enum configitem_state *out, struct pp_error *err)
{
	/* "unknown" is the site's word for no report; a device never reports it. */
	for (size_t i = 0; name != NULL && i < COUNT(state_names) - 1; i++)
		if (strcmp(name, state_names[i]) == 0) {
			*out = (enum configitem_state)i;
			return 0;
		}
	pp_error_set(err, HR_E_INVALIDARG,
		     "unknown state \"%.64s\"; known: compliant, non_compliant, remediated, error",
		     name != NULL ? name : "");
	return -1;
}

int configitem_operator_check(const char *op, struct pp_error *err)
{
	if (op != NULL && strcmp(op, "equals") == 0)
		return 0;
	pp_error_set(err, HR_E_INVALIDARG, "unknown operator \"%.64s\"; the one operator is equals",
		     op != NULL ? op : "");
	return -1;
}

int configitem_store_parse(const char *name, unsigned *bit, struct pp_error *err)
{
	enum certstore_id id;
	struct pp_error ignored;

	pp_error_clear(&ignored);
	if (name == NULL || certstore_parse_name(name, &id, &ignored) != 0) {
		pp_error_set(
		    err, HR_E_INVALIDARG,
		    "unknown certificate store \"%.64s\"; a configuration item checks Root "
		    "or TrustedPublisher",
		    name != NULL ? name : "");
		return -1;
	}
	if (((1u << id) & CONFIGITEM_STORES_ALLOWED) == 0) {
		pp_error_set(
		    err, HR_E_INVALIDARG,
		    "a configuration item checks Root or TrustedPublisher, not the %s store",
		    certstore_name(id));
		return -1;
	}
	*bit = 1u << id;
	return 0;
}

void configitem_stores_text(unsigned stores, char *out, size_t size)
{
	const bool root = (stores & CONFIGITEM_STORE_ROOT) != 0;
	const bool tp = (stores & CONFIGITEM_STORE_TRUSTED_PUBLISHER) != 0;

	(void)snprintf(out, size, "%s%s%s", root ? "Root" : "", root && tp ? ", " : "",
		       tp ? "TrustedPublisher" : "");
}

int configitem_check_name(const char *name, const char *what, struct pp_error *err)
{
	size_t len = name != NULL ? strnlen(name, CONFIGITEM_NAME_MAX + 1) : 0;

	if (len == 0) {
		pp_error_set(err, HR_E_INVALIDARG, "%s is empty", what);
		return -1;
	}
	if (len > CONFIGITEM_NAME_MAX) {
		pp_error_set(err, HR_E_INVALIDARG, "%s is longer than %d bytes", what,
			     CONFIGITEM_NAME_MAX);
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f) {
			pp_error_set(err, HR_E_INVALIDARG, "%s contains a control character", what);
			return -1;
		}
		if (name[i] == '/') {
			pp_error_set(err, HR_E_INVALIDARG, "%s may not contain '/'", what);
			return -1;
		}
	}
	return 0;
}

int configitem_check_script(const char *text, size_t len, const char *what, struct pp_error *err)
{
	if (text == NULL || len == 0) {
		pp_error_set(err, HR_E_INVALIDARG, "the %s is empty", what);
		return -1;
	}
	if (len > CONFIGITEM_SCRIPT_MAX) {
		pp_error_set(err, HR_E_INVALIDARG, "the %s is longer than %d bytes", what,
			     CONFIGITEM_SCRIPT_MAX);
		return -1;
	}
	if (memchr(text, '\0', len) != NULL) {
		pp_error_set(err, HR_E_INVALIDARG, "the %s holds a NUL byte; a script is text",
			     what);
		return -1;
	}
	return 0;
}

int configitem_check_timeout(long long seconds, struct pp_error *err)
{
	if (seconds >= 1 && seconds <= CONFIGITEM_TIMEOUT_MAX)
		return 0;
	pp_error_set(err, HR_E_INVALIDARG, "a script's time limit is 1 to %d seconds, not %lld",
		     CONFIGITEM_TIMEOUT_MAX, seconds);
	return -1;
}

int configitem_check_schedule(long long hours, struct pp_error *err)
{
	if (hours >= 1 && hours <= CONFIGITEM_SCHEDULE_HOURS_MAX)
		return 0;
	pp_error_set(err, HR_E_INVALIDARG,
		     "a baseline's evaluation schedule is 1 to %d hours, not %lld",
		     CONFIGITEM_SCHEDULE_HOURS_MAX, hours);
	return -1;
}

/* text without the blanks (space, tab, CR, LF) at either end, into out (CONFIGITEM_VALUE_MAX + 1
 * bytes); false when what is left does not fit. */
static bool trimmed(const char *text, char out[CONFIGITEM_VALUE_MAX + 1])
{
	size_t len;

	while (*text == ' ' || *text == '\t' || *text == '\r' || *text == '\n')
		text++;
	len = strlen(text);
	while (len > 0 && strchr(" \t\r\n", text[len - 1]) != NULL)
		len--;
	if (len > CONFIGITEM_VALUE_MAX)
		return false;
	memcpy(out, text, len);
	out[len] = '\0';
	return true;
}

/* A signed 64-bit decimal with an optional sign and nothing else. */
static bool parse_integer(const char *s, int64_t *v)
{
	const char *digits = s + (s[0] == '-' || s[0] == '+');
	char *end = NULL;
	long long n;

	if (digits[0] == '\0' || strspn(digits, "0123456789") != strlen(digits))
		return false;
	errno = 0;
	n = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return false;
	*v = (int64_t)n;
	return true;
}

static bool parse_boolean(const char *s, bool *v)
{
	if (strcasecmp(s, "true") == 0 || strcmp(s, "1") == 0) {
		*v = true;
		return true;
	}
	if (strcasecmp(s, "false") == 0 || strcmp(s, "0") == 0) {
		*v = false;
		return true;
	}
	return false;
}

/* Quoted for a message: at most 64 bytes of s, control characters as '?', "..." after a cut
 * (never inside a UTF-8 sequence). */
static void quote(const char *s, char out[72])
{
	size_t n = strnlen(s, 65), i;

	for (i = 0; i < n && i < 64; i++)
		out[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
	if (n <= 64) {
		out[i] = '\0';
		return;
	}
	while (i > 0 && ((unsigned char)s[i] & 0xC0) == 0x80)
		i--; /* s[i] continues a character: drop that character whole */
	(void)snprintf(out + i, 72 - i, "...");
}

int configitem_value_normalize(enum configitem_type t, const char *text, const char *what,
			       char out[CONFIGITEM_VALUE_MAX + 1], struct pp_error *err)
{
	char buf[CONFIGITEM_VALUE_MAX + 1], q[72];
	int64_t n;
	bool b;

	if (text == NULL)
		text = "";
	quote(text, q);
	switch (t) {
	case CONFIGITEM_TYPE_BOOLEAN:
		if (!trimmed(text, buf) || !parse_boolean(buf, &b)) {
			pp_error_set(err, HR_E_INVALIDARG,
				     "%s \"%s\" is not a Boolean (true or false)", what, q);
			return -1;
		}
		(void)snprintf(out, CONFIGITEM_VALUE_MAX + 1, "%s", b ? "true" : "false");
		return 0;
	case CONFIGITEM_TYPE_INTEGER:
		if (!trimmed(text, buf) || !parse_integer(buf, &n)) {
			pp_error_set(err, HR_E_INVALIDARG,
				     "%s \"%s\" is not an integer (a signed 64-bit decimal number)",
				     what, q);
			return -1;
		}
		(void)snprintf(out, CONFIGITEM_VALUE_MAX + 1, "%" PRId64, n);
		return 0;
	case CONFIGITEM_TYPE_STRING:
		if (strlen(text) > CONFIGITEM_VALUE_MAX) {
			pp_error_set(err, HR_E_INVALIDARG, "%s is longer than %d bytes", what,
				     CONFIGITEM_VALUE_MAX);
			return -1;
		}
		for (size_t i = 0; text[i] != '\0'; i++)
			if (((unsigned char)text[i] < 0x20 && text[i] != '\t') || text[i] == 0x7f) {
				pp_error_set(err, HR_E_INVALIDARG,
					     "%s \"%s\" holds a control character", what, q);
				return -1;
			}
		(void)snprintf(out, CONFIGITEM_VALUE_MAX + 1, "%s", text);
		return 0;
	}
	pp_error_set(err, HR_E_INVALIDARG, "unknown data type %d", (int)t);
	return -1;
}

int configitem_output_value(const char *output, size_t len, char out[CONFIGITEM_VALUE_MAX + 1],
			    struct pp_error *err)
{
	while (len > 0 && (output[len - 1] == '\n' || output[len - 1] == '\r'))
		len--;
	if (len > CONFIGITEM_VALUE_MAX) {
		pp_error_set(err, HR_ERROR_INVALID_DATA,
			     "the discovery script wrote %zu bytes; a value is at most %d", len,
			     CONFIGITEM_VALUE_MAX);
		return -1;
	}
	if (len > 0 && memchr(output, '\0', len) != NULL) {
		pp_error_set(err, HR_ERROR_INVALID_DATA,
			     "the discovery script wrote a NUL byte; a value is text");
		return -1;
	}
	memcpy(out, output, len);
	out[len] = '\0';
	return 0;
}

int configitem_compare(enum configitem_type t, const char *discovered, const char *expected,
		       bool *equal, struct pp_error *err)
{
	char d[CONFIGITEM_VALUE_MAX + 1], e[CONFIGITEM_VALUE_MAX + 1];
	struct pp_error inner;

	*equal = false;
	pp_error_clear(&inner);
	if (configitem_value_normalize(t, expected, "the expected value", e, err) != 0)
		return -1;
	if (t == CONFIGITEM_TYPE_STRING) {
		*equal = strcmp(discovered, e) == 0;
		return 0;
	}
	if (configitem_value_normalize(t, discovered, "the discovered value", d, &inner) != 0) {
		pp_error_set(err, HR_ERROR_INVALID_DATA, "%s", inner.message);
		return -1;
	}
	*equal = strcmp(d, e) == 0;
	return 0;
}
