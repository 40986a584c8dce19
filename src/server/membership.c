/* membership.c - collection membership rules (see membership.h). */
#include "membership.h"

#include "hresult.h"

#include <ctype.h>
#include <fnmatch.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *const field_names[] = {"name", "os", "client_version", "tag"};
static const char *const kind_names[] = {"member", "query", "include", "exclude"};

const char *membership_field_name(enum membership_field field)
{
	return (unsigned)field < sizeof(field_names) / sizeof(field_names[0]) ? field_names[field]
									      : "?";
}

const char *membership_kind_name(enum membership_rule_kind kind)
{
	return (unsigned)kind < sizeof(kind_names) / sizeof(kind_names[0]) ? kind_names[kind] : "?";
}

int membership_parse_query(const char *text, struct membership_rule *out, struct pp_error *err)
{
	const char *eq = text != NULL ? strchr(text, '=') : NULL;
	size_t flen, vlen;

	memset(out, 0, sizeof(*out));
	if (eq == NULL) {
		pp_error_set(err, HR_E_INVALIDARG,
			     "query \"%.64s\" must be FIELD=VALUE (FIELD: name, os, client_version "
			     "or tag)",
			     text != NULL ? text : "");
		return -1;
	}
	flen = (size_t)(eq - text);
	vlen = strlen(eq + 1);
	out->kind = MEMBERSHIP_QUERY;
	out->field = (enum membership_field) - 1;
	for (size_t i = 0; i < sizeof(field_names) / sizeof(field_names[0]); i++)
		if (strlen(field_names[i]) == flen && strncasecmp(text, field_names[i], flen) == 0)
			out->field = (enum membership_field)i;
	if ((int)out->field < 0) {
		pp_error_set(err, HR_E_INVALIDARG,
			     "unknown field \"%.*s\" in query \"%.64s\": use name, os, "
			     "client_version or tag",
			     (int)(flen > 32 ? 32 : flen), text, text);
		return -1;
	}
	if (vlen == 0 || vlen >= sizeof(out->value)) {
		pp_error_set(err, HR_E_INVALIDARG,
			     "the value of query \"%.64s\" must be 1 to %d bytes", text,
			     MEMBERSHIP_VALUE_MAX - 1);
		return -1;
	}
	for (size_t i = 0; i < vlen; i++)
		if (iscntrl((unsigned char)eq[1 + i])) {
			pp_error_set(err, HR_E_INVALIDARG,
				     "the value of query \"%.64s\" holds a control character",
				     text);
			return -1;
		}
	memcpy(out->value, eq + 1, vlen + 1);
	out->glob = strpbrk(out->value, "*?") != NULL;
	return 0;
}

void membership_format_query(const struct membership_rule *rule, char *out, size_t size)
{
	(void)snprintf(out, size, "%s=%s", membership_field_name(rule->field), rule->value);
}

static const struct membership_collection *find(const struct membership_collection *colls,
						size_t count, const char *id, size_t *index)
{
	for (size_t i = 0; i < count; i++)
		if (strcmp(colls[i].id, id) == 0) {
			if (index != NULL)
				*index = i;
			return &colls[i];
		}
	return NULL;
}

/* Depth-first over include/exclude edges: 0 unvisited, 1 on the path, 2 done. */
static int visit(const struct membership_collection *colls, size_t count, size_t at, uint8_t *mark,
		 size_t *path, size_t depth, struct pp_error *err)
{
	const struct membership_collection *c = &colls[at];

	mark[at] = 1;
	path[depth] = at;
	for (size_t r = 0; r < c->rule_count; r++) {
		const struct membership_rule *rule = &c->rules[r];
		size_t next;

		if (rule->kind != MEMBERSHIP_INCLUDE && rule->kind != MEMBERSHIP_EXCLUDE)
			continue;
		if (find(colls, count, rule->other, &next) == NULL) {
			pp_error_set(err, HR_E_INVALIDARG,
				     "collection %s %ss %s, which does not exist", c->id,
				     membership_kind_name(rule->kind), rule->other);
			return -1;
		}
		if (mark[next] == 1) {
			char chain[512];
			size_t used = 0;
			size_t from = depth;

			while (from > 0 && path[from] != next)
				from--;
			chain[0] = '\0';
			for (size_t k = from; k <= depth && used < sizeof(chain); k++) {
				int n = snprintf(chain + used, sizeof(chain) - used, "%s%s",
						 k > from ? " -> " : "", colls[path[k]].id);
				used += n > 0 ? (size_t)n : 0;
			}
			pp_error_set(err, HR_E_INVALIDARG,
				     "collections may not include or exclude themselves: %s -> %s",
				     chain, colls[next].id);
			return -1;
		}
		if (mark[next] == 0 && visit(colls, count, next, mark, path, depth + 1, err) != 0)
			return -1;
	}
	mark[at] = 2;
	return 0;
}

int membership_check(const struct membership_collection *colls, size_t count, struct pp_error *err)
{
	uint8_t mark[1024];
	size_t path[1024];

	if (count > sizeof(mark)) {
		pp_error_set(err, HR_E_INVALIDARG, "at most %zu collections", sizeof(mark));
		return -1;
	}
	for (size_t i = 0; i < count; i++)
		for (size_t j = 0; j < i; j++)
			if (strcmp(colls[i].id, colls[j].id) == 0) {
				pp_error_set(err, HR_E_INVALIDARG, "collection %s is given twice",
					     colls[i].id);
				return -1;
			}
	memset(mark, 0, count);
	for (size_t i = 0; i < count; i++)
		if (mark[i] == 0 && visit(colls, count, i, mark, path, 0, err) != 0)
			return -1;
	return 0;
}

static bool text_matches(const struct membership_rule *rule, const char *text)
{
	if (text == NULL)
		text = "";
	return rule->glob ? fnmatch(rule->value, text, FNM_CASEFOLD) == 0
			  : strcasecmp(rule->value, text) == 0;
}

static bool tag_matches(const struct membership_rule *rule, const char *tags)
{
	char tag[MEMBERSHIP_VALUE_MAX];

	while (tags != NULL && *tags != '\0') {
		const char *comma = strchr(tags, ',');
		size_t n = comma != NULL ? (size_t)(comma - tags) : strlen(tags);

		if (n < sizeof(tag)) {
			memcpy(tag, tags, n);
			tag[n] = '\0';
			if (text_matches(rule, tag))
				return true;
		}
		tags = comma != NULL ? comma + 1 : NULL;
	}
	return false;
}

static bool query_matches(const struct membership_rule *rule, const struct membership_device *dev)
{
	switch (rule->field) {
	case MEMBERSHIP_FIELD_NAME:
		return text_matches(rule, dev->name);
	case MEMBERSHIP_FIELD_OS:
		return text_matches(rule, dev->os);
	case MEMBERSHIP_FIELD_CLIENT_VERSION:
		return text_matches(rule, dev->client_version);
	case MEMBERSHIP_FIELD_TAG:
		return tag_matches(rule, dev->tags);
	}
	return false;
}

/* work[i]: 0 not evaluated, 1 member, 2 not a member. Checked sets have no cycles. */
static bool member_of(const struct membership_collection *colls, size_t count, size_t at,
		      const struct membership_device *dev, uint8_t *work)
{
	const struct membership_collection *c = &colls[at];
	bool in = false;

	if (work[at] != 0)
		return work[at] == 1;
	if (strcmp(c->id, MEMBERSHIP_ALL_SYSTEMS) == 0)
		in = true;
	for (size_t r = 0; r < c->rule_count && !in; r++) {
		const struct membership_rule *rule = &c->rules[r];
		size_t other;

		if (rule->kind == MEMBERSHIP_DIRECT)
			in = strcmp(rule->value, dev->id) == 0;
		else if (rule->kind == MEMBERSHIP_QUERY)
			in = query_matches(rule, dev);
		else if (rule->kind == MEMBERSHIP_INCLUDE &&
			 find(colls, count, rule->other, &other) != NULL)
			in = member_of(colls, count, other, dev, work);
	}
	for (size_t r = 0; r < c->rule_count && in; r++) {
		const struct membership_rule *rule = &c->rules[r];
		size_t other;

		if (rule->kind == MEMBERSHIP_EXCLUDE &&
		    find(colls, count, rule->other, &other) != NULL &&
		    member_of(colls, count, other, dev, work))
			in = false;
	}
	work[at] = in ? 1 : 2;
	return in;
}

void membership_evaluate(const struct membership_collection *colls, size_t count,
			 const struct membership_device *dev, bool *member, uint8_t *work)
{
	memset(work, 0, count);
	for (size_t i = 0; i < count; i++)
		member[i] = member_of(colls, count, i, dev, work);
}

bool membership_evaluate_one(const struct membership_collection *colls, size_t count, size_t index,
			     const struct membership_device *dev, uint8_t *work)
{
	memset(work, 0, count);
	return member_of(colls, count, index, dev, work);
}
