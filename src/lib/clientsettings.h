/* clientsettings.h - client settings and their precedence (DESIGN 5.6). Pure: no database.
 *
 * Default Client Settings (order 10000) holds every value. A custom client device setting
 * (order 1..n) configures whole groups, as the console's "Create Custom Client Device
 * Settings" does: a group it configures takes every value of that group from it (the values
 * not given are the group's defaults). For each group a device gets the values of the deployed
 * custom setting with the lowest order that configures the group, otherwise the default's; the
 * resultant settings name that client setting for each value. */
#ifndef PATCHPOINT_CLIENTSETTINGS_H
#define PATCHPOINT_CLIENTSETTINGS_H

#include "error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CLIENTSETTINGS_DEFAULT_NAME  "Default Client Settings"
#define CLIENTSETTINGS_DEFAULT_ORDER 10000
#define CLIENTSETTINGS_NAME_MAX	     256 /* bytes with the NUL */
/* The client version from which third-party certificates are delivered (ConfigMgr 1806). */
#define CLIENTSETTINGS_MIN_CLIENT_VERSION "5.00.8692.1003"

enum clientsettings_group {
	CS_GROUP_SOFTWARE_UPDATES = 0,
	CS_GROUP_CLIENT_POLICY = 1,
	CS_GROUP_COUNT
};

enum clientsettings_key {
	CS_SU_ENABLED = 0,	     /* Enable software updates on clients (Yes) */
	CS_SU_THIRD_PARTY = 1,	     /* Enable third party software updates (No) */
	CS_SU_SCAN_DAYS = 2,	     /* Software update scan schedule, days (7) */
	CS_SU_REEVALUATION_DAYS = 3, /* Schedule deployment re-evaluation, days (7) */
	CS_CP_POLLING_MINUTES = 4,   /* Client policy polling interval, minutes (60) */
	CS_KEY_COUNT
};

enum clientsettings_type { CS_TYPE_BOOL, CS_TYPE_INT };

struct clientsettings_key_info {
	const char *key;   /* "software_updates.third_party", as in the API and the policy */
	const char *flag;  /* "third-party", the CLI option */
	const char *label; /* "Enable third party software updates", as in the console */
	enum clientsettings_group group;
	enum clientsettings_type type;
	int64_t def, min, max;
};

/* The table of settings, CS_KEY_COUNT entries in key order. */
const struct clientsettings_key_info *clientsettings_keys(void);
/* "Software Updates", "Client Policy". */
const char *clientsettings_group_name(enum clientsettings_group group);

/* What one client setting holds: the groups it configures and their values. The default
 * configures every group. */
struct clientsettings_values {
	bool configured[CS_GROUP_COUNT];
	int64_t value[CS_KEY_COUNT]; /* meaningful for the keys of configured groups */
};

/* Every group configured with its defaults (Default Client Settings as made). */
void clientsettings_defaults(struct clientsettings_values *out);

/* Sets key (by its API key or CLI flag) from text ("yes"/"no"/"true"/"false"/"1"/"0" for
 * yes/no settings, decimal for the others): the key's group becomes configured, with the
 * group's defaults for its other values if it was not configured before. E_INVALIDARG naming
 * the setting and what it takes otherwise. */
int clientsettings_set(struct clientsettings_values *v, const char *key, const char *text,
		       struct pp_error *err) PP_WARN_UNUSED;

/* The index of key (API key or CLI flag), or -1. */
int clientsettings_key_index(const char *key);

/* A client setting as resolution sees it. */
struct clientsettings_item {
	const char *name;
	int64_t order;
	const struct clientsettings_values *values;
};

/* The resultant client settings of one device. */
struct clientsettings_resultant {
	int64_t value[CS_KEY_COUNT];
	const char *source[CS_KEY_COUNT]; /* the winning client setting's name (borrowed) */
	int64_t source_order[CS_KEY_COUNT];
};

/* Resolves the settings deployed to a device: deployed[] are the custom settings deployed to
 * any collection the device is in (any order, no duplicates), def the default. */
void clientsettings_resolve(const struct clientsettings_item *def,
			    const struct clientsettings_item *const *deployed, size_t count,
			    struct clientsettings_resultant *out);

/* Compares two ConfigMgr client versions ("5.00.8692.1003"): <0, 0, >0. A version that is not
 * four dot-separated numbers sorts below every valid one. */
int clientsettings_version_cmp(const char *a, const char *b);

/* True when text is four dot-separated decimal parts of 1 to 5 digits. */
bool clientsettings_version_valid(const char *text);

#endif
