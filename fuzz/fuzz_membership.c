/* fuzz_membership.c - libFuzzer target for collection rules (membership.h): the query parser and
 * the evaluation of a set of collections for one device.
 *
 * The input is split at newlines: the first line is parsed as a query (FIELD=VALUE); the next
 * lines are the device's name, OS, client version and tags. A query that parses is formatted
 * back and must parse again to the same rule (round trip); then a set of three collections (All
 * Systems, one with the query, one including it and excluding All Systems) is checked and
 * evaluated for the device. Broken invariants abort():
 *   - a parsed query's field is known, its value 1..255 bytes without control characters, and
 *     glob is set exactly when the value holds '*' or '?';
 *   - every device is in All Systems, and never in the collection that excludes All Systems;
 *   - membership_evaluate_one agrees with membership_evaluate.
 *
 * Seed corpus (scripts/fuzz.sh): lines like "name=kiosk-*\nkiosk-01\nDebian\n5.00.9128.1000\nlab".
 */
#include "membership.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Line i of text (split at '\n') into out, "" when there is none. */
static void line(const char *text, int i, char *out, size_t size)
{
	const char *p = text, *nl;
	size_t n;

	for (; i > 0 && p != NULL; i--) {
		p = strchr(p, '\n');
		p = p != NULL ? p + 1 : NULL;
	}
	out[0] = '\0';
	if (p == NULL)
		return;
	nl = strchr(p, '\n');
	n = nl != NULL ? (size_t)(nl - p) : strlen(p);
	if (n >= size)
		n = size - 1;
	memcpy(out, p, n);
	out[n] = '\0';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	char q[1024], name[300], os[300], version[64], tags[512], again[1024];
	struct membership_rule rule, back, inc[2];
	struct membership_collection colls[3];
	struct membership_device dev;
	struct pp_error err;
	bool member[3];
	uint8_t work[3];

	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	line(text, 0, q, sizeof(q));
	line(text, 1, name, sizeof(name));
	line(text, 2, os, sizeof(os));
	line(text, 3, version, sizeof(version));
	line(text, 4, tags, sizeof(tags));
	free(text);
	pp_error_clear(&err);
	if (membership_parse_query(q, &rule, &err) != 0)
		return 0;
	if (rule.kind != MEMBERSHIP_QUERY || (unsigned)rule.field > MEMBERSHIP_FIELD_TAG ||
	    rule.value[0] == '\0' || rule.glob != (strpbrk(rule.value, "*?") != NULL))
		abort();
	membership_format_query(&rule, again, sizeof(again));
	if (membership_parse_query(again, &back, &err) != 0 || back.field != rule.field ||
	    strcmp(back.value, rule.value) != 0)
		abort();
	memset(inc, 0, sizeof(inc));
	inc[0].kind = MEMBERSHIP_INCLUDE;
	memcpy(inc[0].other, "PP100010", 9);
	inc[1].kind = MEMBERSHIP_EXCLUDE;
	memcpy(inc[1].other, MEMBERSHIP_ALL_SYSTEMS, 9);
	memset(colls, 0, sizeof(colls));
	memcpy(colls[0].id, MEMBERSHIP_ALL_SYSTEMS, 9);
	memcpy(colls[1].id, "PP100010", 9);
	colls[1].rules = &rule;
	colls[1].rule_count = 1;
	memcpy(colls[2].id, "PP100011", 9);
	colls[2].rules = inc;
	colls[2].rule_count = 2;
	if (membership_check(colls, 3, &err) != 0)
		abort();
	dev = (struct membership_device){"GUID:x", name, os, version, tags};
	membership_evaluate(colls, 3, &dev, member, work);
	if (!member[0] || member[2])
		abort();
	for (size_t i = 0; i < 3; i++)
		if (membership_evaluate_one(colls, 3, i, &dev, work) != member[i])
			abort();
	return 0;
}
