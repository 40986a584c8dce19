/* clientsettings.c - client settings and their precedence (see clientsettings.h). */
#include "clientsettings.h"

#include "hresult.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct clientsettings_key_info keys[CS_KEY_COUNT] = {
    [CS_SU_ENABLED] = {"software_updates.enabled", "software-updates",
		       "Enable software updates on clients", CS_GROUP_SOFTWARE_UPDATES,
		       CS_TYPE_BOOL, 1, 0, 1},
    [CS_SU_THIRD_PARTY] = {"software_updates.third_party", "third-party",
			   "Enable third party software updates", CS_GROUP_SOFTWARE_UPDATES,
			   CS_TYPE_BOOL, 0, 0, 1},
    [CS_SU_SCAN_DAYS] = {"software_updates.scan_interval_days", "scan-days",
			 "Software update scan schedule (days)", CS_GROUP_SOFTWARE_UPDATES,
			 CS_TYPE_INT, 7, 1, 365},
    [CS_SU_REEVALUATION_DAYS] = {"software_updates.reevaluation_interval_days", "reevaluation-days",
				 "Schedule deployment re-evaluation (days)",
				 CS_GROUP_SOFTWARE_UPDATES, CS_TYPE_INT, 7, 1, 365},
    [CS_CP_POLLING_MINUTES] = {"client_policy.polling_interval_minutes", "polling-minutes",
			       "Client policy polling interval (minutes)", CS_GROUP_CLIENT_POLICY,
			       CS_TYPE_INT, 60, 3, 1440},
};

static const char *const group_names[CS_GROUP_COUNT] = {"Software Updates", "Client Policy"};

const struct clientsettings_key_info *clientsettings_keys(void)
{
	return keys;
}

const char *clientsettings_group_name(enum clientsettings_group group)
{
	return (unsigned)group < CS_GROUP_COUNT ? group_names[group] : "?";
}

static void group_defaults(struct clientsettings_values *v, enum clientsettings_group g)
{
	for (int k = 0; k < CS_KEY_COUNT; k++)
		if (keys[k].group == g)
			v->value[k] = keys[k].def;
	v->configured[g] = true;
}

void clientsettings_defaults(struct clientsettings_values *out)
{
	memset(out, 0, sizeof(*out));
	for (int g = 0; g < CS_GROUP_COUNT; g++)
		group_defaults(out, (enum clientsettings_group)g);
}

int clientsettings_key_index(const char *key)
{
	for (int k = 0; key != NULL && k < CS_KEY_COUNT; k++)
		if (strcmp(keys[k].key, key) == 0 || strcmp(keys[k].flag, key) == 0)
			return k;
	return -1;
}

static int parse_bool(const char *t, int64_t *out)
{
	if (strcasecmp(t, "yes") == 0 || strcasecmp(t, "true") == 0 || strcmp(t, "1") == 0)
		*out = 1;
	else if (strcasecmp(t, "no") == 0 || strcasecmp(t, "false") == 0 || strcmp(t, "0") == 0)
		*out = 0;
	else
		return -1;
	return 0;
}

static int parse_int(const char *t, int64_t min, int64_t max, int64_t *out)
{
	char *end = NULL;
	long long v;

	if (t[0] == '\0' || !isdigit((unsigned char)t[0]))
		return -1;
	errno = 0;
	v = strtoll(t, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int clientsettings_set(struct clientsettings_values *v, const char *key, const char *text,
		       struct pp_error *err)
{
	int k = clientsettings_key_index(key);
	const struct clientsettings_key_info *info;
	int64_t value = 0;
	int rc;

	if (k < 0) {
		pp_error_set(err, HR_E_INVALIDARG,
			     "unknown client setting \"%.64s\"; the settings are "
			     "software_updates.enabled, software_updates.third_party, "
			     "software_updates.scan_interval_days, "
			     "software_updates.reevaluation_interval_days, "
			     "client_policy.polling_interval_minutes",
			     key != NULL ? key : "");
		return -1;
	}
	info = &keys[k];
	if (text == NULL)
		text = "";
	rc = info->type == CS_TYPE_BOOL ? parse_bool(text, &value)
					: parse_int(text, info->min, info->max, &value);
	if (rc != 0) {
		if (info->type == CS_TYPE_BOOL)
			pp_error_set(err, HR_E_INVALIDARG, "%s (%s) takes yes or no, not \"%.32s\"",
				     info->label, info->key, text);
		else
			pp_error_set(
			    err, HR_E_INVALIDARG,
			    "%s (%s) takes a whole number from %lld to %lld, not \"%.32s\"",
			    info->label, info->key, (long long)info->min, (long long)info->max,
			    text);
		return -1;
	}
	if (!v->configured[info->group])
		group_defaults(v, info->group);
	v->value[k] = value;
	return 0;
}

void clientsettings_resolve(const struct clientsettings_item *def,
			    const struct clientsettings_item *const *deployed, size_t count,
			    struct clientsettings_resultant *out)
{
	const struct clientsettings_item *winner[CS_GROUP_COUNT];

	for (int g = 0; g < CS_GROUP_COUNT; g++) {
		winner[g] = def;
		for (size_t i = 0; i < count; i++) {
			const struct clientsettings_item *c = deployed[i];

			if (c->values->configured[g] &&
			    (winner[g] == def || c->order < winner[g]->order))
				winner[g] = c;
		}
	}
	for (int k = 0; k < CS_KEY_COUNT; k++) {
		const struct clientsettings_item *w = winner[keys[k].group];

		out->value[k] = w->values->value[k];
		out->source[k] = w->name;
		out->source_order[k] = w->order;
	}
}

/* The four parts of a version; -1 when it is not one. */
static int version_parts(const char *s, long parts[4])
{
	for (int i = 0; i < 4; i++) {
		int digits = 0;

		parts[i] = 0;
		while (s != NULL && isdigit((unsigned char)*s) && digits < 6) {
			parts[i] = parts[i] * 10 + (*s - '0');
			s++;
			digits++;
		}
		if (digits == 0 || digits > 5)
			return -1;
		if (i < 3 && *s++ != '.')
			return -1;
	}
	return *s == '\0' ? 0 : -1;
}

bool clientsettings_version_valid(const char *text)
{
	long parts[4];

	return text != NULL && version_parts(text, parts) == 0;
}

int clientsettings_version_cmp(const char *a, const char *b)
{
	long pa[4], pb[4];
	bool va = a != NULL && version_parts(a, pa) == 0;
	bool vb = b != NULL && version_parts(b, pb) == 0;

	if (!va || !vb)
		return (va ? 1 : 0) - (vb ? 1 : 0);
	for (int i = 0; i < 4; i++)
		if (pa[i] != pb[i])
			return pa[i] < pb[i] ? -1 : 1;
	return 0;
}
