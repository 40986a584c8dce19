/* membership.h - collection membership rules (DESIGN 5.6): which devices are members of which
 * collections. Pure: no database. The store keeps the rules and the computed memberships; this
 * module parses query rules, checks a set of collections (every include/exclude names a known
 * collection, no collection includes or excludes itself through others) and evaluates it for
 * one device.
 *
 * A collection's members are its direct members, the devices any of its query rules match and
 * the members of the collections it includes, less the members of the collections it excludes.
 * All Systems has every device. A query rule is FIELD=VALUE with FIELD one of name, os,
 * client_version, tag; VALUE with '*' or '?' is a glob (fnmatch), otherwise it is compared for
 * equality; both ignore case, as ConfigMgr's WQL does for strings. A tag rule matches when any of
 * the device's tags does. */
#ifndef PATCHPOINT_MEMBERSHIP_H
#define PATCHPOINT_MEMBERSHIP_H

#include "error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MEMBERSHIP_ID_LEN      8   /* "SMS00001", "PP100002" */
#define MEMBERSHIP_VALUE_MAX   256 /* bytes of a query value, with the NUL */
#define MEMBERSHIP_ALL_SYSTEMS "SMS00001"

enum membership_rule_kind {
	MEMBERSHIP_DIRECT = 0,	/* device: a direct member */
	MEMBERSHIP_QUERY = 1,	/* field, value */
	MEMBERSHIP_INCLUDE = 2, /* other: the members of another collection */
	MEMBERSHIP_EXCLUDE = 3	/* other: never the members of another collection */
};

enum membership_field {
	MEMBERSHIP_FIELD_NAME = 0,
	MEMBERSHIP_FIELD_OS = 1,
	MEMBERSHIP_FIELD_CLIENT_VERSION = 2,
	MEMBERSHIP_FIELD_TAG = 3
};

struct membership_rule {
	enum membership_rule_kind kind;
	enum membership_field field;	   /* QUERY */
	char value[MEMBERSHIP_VALUE_MAX];  /* QUERY: the value or glob; DIRECT: the device id */
	char other[MEMBERSHIP_ID_LEN + 1]; /* INCLUDE, EXCLUDE: the other collection's id */
	bool glob;			   /* QUERY: value holds '*' or '?' */
};

/* One device as the rules see it. */
struct membership_device {
	const char *id;
	const char *name;
	const char *os;
	const char *client_version;
	const char *tags; /* comma-separated, "" for none */
};

/* The collections of a site, each with its rules. */
struct membership_collection {
	char id[MEMBERSHIP_ID_LEN + 1];
	const struct membership_rule *rules;
	size_t rule_count;
};

/* "name", "os", "client_version", "tag"; never NULL. */
const char *membership_field_name(enum membership_field field);

/* "kind" names for the API: "member", "query", "include", "exclude". */
const char *membership_kind_name(enum membership_rule_kind kind);

/* Parses FIELD=VALUE into a QUERY rule; E_INVALIDARG naming what is wrong ("unknown field
 * \"colour\" in query \"colour=red\": use name, os, client_version or tag"). */
int membership_parse_query(const char *text, struct membership_rule *out,
			   struct pp_error *err) PP_WARN_UNUSED;

/* Writes a QUERY rule back as FIELD=VALUE. */
void membership_format_query(const struct membership_rule *rule, char *out, size_t size);

/* Checks a set of collections: ids unique, every include and exclude names one of them, no
 * cycle through includes and excludes. E_INVALIDARG naming the collections otherwise
 * ("collection PP100002 includes PP100003, which includes PP100002"). */
int membership_check(const struct membership_collection *colls, size_t count,
		     struct pp_error *err) PP_WARN_UNUSED;

/* Whether dev is a member of each of colls (checked by membership_check); member[i] for
 * colls[i]. work is scratch space of count bytes. */
void membership_evaluate(const struct membership_collection *colls, size_t count,
			 const struct membership_device *dev, bool *member, uint8_t *work);

/* Whether dev is a member of colls[index] alone; work as above. */
bool membership_evaluate_one(const struct membership_collection *colls, size_t count, size_t index,
			     const struct membership_device *dev, uint8_t *work);

#endif
