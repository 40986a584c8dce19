/* store_devices.c - the domain rules of devices, enrollment keys, collections with their
 * membership and client settings (store.h, migration 0004), over the backend's primitives. */
#include "store_internal.h"

#include "hresult.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

typedef char collection_id_t[STORE_COLLECTION_ID_LEN + 1];
typedef char device_id_t[STORE_DEVICE_ID_LEN + 1];

/* A name that also names a resource in the API's paths: text without '/'. */
static int check_path_name(const char *name, const char *what, struct pp_error *err)
{
	if (store_check_text(name, STORE_NAME_MAX, false, what, err) != 0)
		return -1;
	if (strchr(name, '/') != NULL) {
		pp_error_set(err, HR_E_INVALIDARG, "a %s may not contain '/'", what);
		return -1;
	}
	return 0;
}

/* ---- enrollment keys ---- */

int store_enrollment_key_add(struct store *s, const char *name, const char *key, int64_t expires_at,
			     struct store_enrollment_key *out, struct pp_error *err)
{
	uint8_t hash[32];

	memset(out, 0, sizeof(*out));
	if (store_check_text(name, STORE_NAME_MAX, true, "enrollment key name", err) != 0 ||
	    store_secret_digest("an enrollment key", key, hash, err) != 0)
		return -1;
	out->created_at = store_now();
	if (expires_at != 0 && expires_at <= out->created_at) {
		pp_error_set(err, HR_E_INVALIDARG, "an enrollment key must expire in the future");
		return -1;
	}
	(void)snprintf(out->name, sizeof(out->name), "%s", name != NULL ? name : "");
	out->expires_at = expires_at;
	return s->ops->ekey_insert(s->impl, out, hash, err);
}

int store_enrollment_key_list(struct store *s, struct store_enrollment_key **out, size_t *count,
			      struct pp_error *err)
{
	*out = NULL;
	*count = 0;
	return s->ops->ekey_list(s->impl, out, count, err);
}

int store_enrollment_key_revoke(struct store *s, int64_t id, struct pp_error *err)
{
	bool found = false;

	if (s->ops->ekey_revoke(s->impl, id, &found, err) != 0)
		return -1;
	if (!found) {
		pp_error_set(err, HR_CRYPT_E_NOT_FOUND, "enrollment key %lld does not exist",
			     (long long)id);
		return -1;
	}
	return 0;
}

/* ---- membership ---- */

/* Every collection with its rules, as membership.h takes them. */
struct coll_set {
	struct store_collection *colls;
	size_t count;
	struct store_collection_rule *rules;
	collection_id_t *owner;
	size_t rule_count;
	struct membership_collection *defs;
	struct membership_rule *flat;
};

static void coll_set_free(struct coll_set *cs)
{
	free(cs->colls);
	free(cs->rules);
	free(cs->owner);
	free(cs->defs);
	free(cs->flat);
	memset(cs, 0, sizeof(*cs));
}

/* Groups the rules by collection (extra: one more collection with its rules, not yet stored). */
static int coll_set_load(struct store *s, struct coll_set *cs, const struct store_collection *extra,
			 const struct store_collection_rule *extra_rules, size_t extra_count,
			 struct pp_error *err)
{
	size_t n, at = 0;

	memset(cs, 0, sizeof(*cs));
	if (s->ops->collection_list(s->impl, &cs->colls, &cs->count, err) != 0 ||
	    s->ops->collection_rule_list(s->impl, NULL, &cs->rules, &cs->owner, &cs->rule_count,
					 err) != 0)
		goto fail;
	n = cs->count + (extra != NULL ? 1 : 0);
	cs->defs = calloc(n != 0 ? n : 1, sizeof(*cs->defs));
	cs->flat = calloc(cs->rule_count + extra_count + 1, sizeof(*cs->flat));
	if (cs->defs == NULL || cs->flat == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		const char *id = i < cs->count ? cs->colls[i].id : extra->id;

		memcpy(cs->defs[i].id, id, sizeof(cs->defs[i].id));
		cs->defs[i].rules = cs->flat + at;
		if (i < cs->count) {
			for (size_t r = 0; r < cs->rule_count; r++)
				if (strcmp(cs->owner[r], id) == 0)
					cs->flat[at++] = cs->rules[r].rule;
		} else {
			for (size_t r = 0; r < extra_count; r++)
				cs->flat[at++] = extra_rules[r].rule;
		}
		cs->defs[i].rule_count = (size_t)(cs->flat + at - cs->defs[i].rules);
	}
	cs->count = n;
	return 0;
fail:
	coll_set_free(cs);
	return -1;
}

static void device_view(const struct store_device *d, struct membership_device *v)
{
	v->id = d->id;
	v->name = d->name;
	v->os = d->os;
	v->client_version = d->client_version;
	v->tags = d->tags;
}

/* Recomputes the collections of one device. */
static int members_for_device(struct store *s, const struct store_device *d, struct pp_error *err)
{
	struct coll_set cs;
	struct membership_device v;
	collection_id_t *ids = NULL;
	bool *member = NULL;
	uint8_t *work = NULL;
	size_t n = 0;
	int rc = -1;

	if (coll_set_load(s, &cs, NULL, NULL, 0, err) != 0)
		return -1;
	member = calloc(cs.count + 1, sizeof(*member));
	work = calloc(cs.count + 1, 1);
	ids = calloc(cs.count + 1, sizeof(*ids));
	if (member == NULL || work == NULL || ids == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
		goto out;
	}
	device_view(d, &v);
	membership_evaluate(cs.defs, cs.count, &v, member, work);
	for (size_t i = 0; i < cs.count; i++)
		if (member[i] && strcmp(cs.defs[i].id, STORE_ALL_SYSTEMS) != 0)
			memcpy(ids[n++], cs.defs[i].id, sizeof(ids[0]));
	rc = s->ops->members_set_for_device(s->impl, d->id, (const collection_id_t *)ids, n, err);
out:
	free(ids);
	free(work);
	free(member);
	coll_set_free(&cs);
	return rc;
}

/* Recomputes the members of the collection at index of cs. */
static int members_for_collection(struct store *s, const struct coll_set *cs, size_t index,
				  struct pp_error *err)
{
	struct store_device *devs = NULL;
	device_id_t *ids = NULL;
	uint8_t *work = NULL;
	size_t count = 0, n = 0;
	int rc = -1;

	if (s->ops->device_list(s->impl, NULL, &devs, &count, err) != 0)
		return -1;
	work = calloc(cs->count + 1, 1);
	ids = calloc(count + 1, sizeof(*ids));
	if (work == NULL || ids == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < count; i++) {
		struct membership_device v;

		device_view(&devs[i], &v);
		if (membership_evaluate_one(cs->defs, cs->count, index, &v, work))
			memcpy(ids[n++], devs[i].id, sizeof(ids[0]));
	}
	rc = s->ops->members_set_for_collection(s->impl, cs->defs[index].id,
						(const device_id_t *)ids, n, err);
out:
	free(ids);
	free(work);
	free(devs);
	return rc;
}

/* ---- devices ---- */

static bool is_lower_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return s[n] == '\0';
}

/* Tags: at most 32, each 1-64 bytes of [A-Za-z0-9._-], comma-separated. */
static int check_tags(const char *tags, struct pp_error *err)
{
	size_t count = 0, len = 0;

	for (const char *p = tags; *p != '\0'; p++) {
		if (*p == ',') {
			if (len == 0)
				break;
			count++;
			len = 0;
			continue;
		}
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		      (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' || *p == '-') ||
		    ++len > 64) {
			pp_error_set(err, HR_E_INVALIDARG,
				     "a tag is 1 to 64 characters of A-Z, a-z, 0-9, '.', '_' and "
				     "'-'");
			return -1;
		}
	}
	if (tags[0] != '\0' && len == 0) {
		pp_error_set(err, HR_E_INVALIDARG, "an empty tag");
		return -1;
	}
	if (tags[0] != '\0' && ++count > 32) {
		pp_error_set(err, HR_E_INVALIDARG, "a device has at most 32 tags");
		return -1;
	}
	return 0;
}

static int check_device(const struct store_device *d, struct pp_error *err)
{
	if (strlen(d->machine_id) != STORE_MACHINE_ID_LEN ||
	    !is_lower_hex(d->machine_id, STORE_MACHINE_ID_LEN)) {
		pp_error_set(err, HR_E_INVALIDARG, "machine_id must be %d lower-case hex digits",
			     STORE_MACHINE_ID_LEN);
		return -1;
	}
	if (check_path_name(d->name, "device name", err) != 0 ||
	    store_check_text(d->os, STORE_NAME_MAX, true, "OS", err) != 0)
		return -1;
	if (!clientsettings_version_valid(d->client_version)) {
		pp_error_set(err, HR_E_INVALIDARG,
			     "client version \"%.32s\" is not four dot-separated numbers "
			     "(5.00.8692.1003)",
			     d->client_version);
		return -1;
	}
	return check_tags(d->tags, err);
}

static int new_device_id(char out[STORE_DEVICE_ID_LEN + 1], struct pp_error *err)
{
	uint8_t b[16];
	ssize_t got;

	do
		got = getrandom(b, sizeof(b), 0);
	while (got < 0 && errno == EINTR);
	if (got != (ssize_t)sizeof(b)) {
		pp_error_set_errno(err, got < 0 ? errno : EIO, "no random bytes for a device id");
		return -1;
	}
	b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
	b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
	(void)snprintf(out, STORE_DEVICE_ID_LEN + 1,
		       "GUID:%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		       b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11],
		       b[12], b[13], b[14], b[15]);
	return 0;
}

struct register_ctx {
	const uint8_t *key_hash, *cred_hash;
	struct store_device *dev;
	bool is_new;
};

static int register_tx(struct store *s, void *p, struct pp_error *err)
{
	struct register_ctx *c = p;
	struct store_enrollment_key key;
	struct store_device known;
	bool found = false;

	if (s->ops->ekey_find(s->impl, c->key_hash, &key, &found, err) != 0)
		return -1;
	if (!found || key.revoked || (key.expires_at != 0 && key.expires_at <= store_now())) {
		pp_error_set(err, STORE_E_BAD_ENROLLMENT_KEY,
			     "the enrollment key is not valid (unknown, revoked or expired)");
		return -1;
	}
	if (s->ops->device_find(s->impl, "machine_id", c->dev->machine_id,
				strlen(c->dev->machine_id), &known, &found, err) != 0)
		return -1;
	c->is_new = !found;
	if (found) {
		memcpy(c->dev->id, known.id, sizeof(known.id));
		c->dev->registered_at = known.registered_at;
		c->dev->last_policy_at = known.last_policy_at;
	} else {
		if (new_device_id(c->dev->id, err) != 0)
			return -1;
		c->dev->registered_at = store_now();
		c->dev->last_policy_at = 0;
	}
	if (s->ops->device_put(s->impl, c->dev, c->cred_hash, key.id, err) != 0 ||
	    s->ops->ekey_used(s->impl, key.id, err) != 0)
		return -1;
	return members_for_device(s, c->dev, err);
}

int store_device_register(struct store *s, const char *enrollment_key, const char *credential,
			  struct store_device *dev, bool *is_new, struct pp_error *err)
{
	uint8_t key_hash[32], cred_hash[32];
	struct register_ctx c = {key_hash, cred_hash, dev, false};

	if (check_device(dev, err) != 0 ||
	    store_secret_digest("an enrollment key", enrollment_key, key_hash, err) != 0 ||
	    store_device_credential_digest(credential, cred_hash, err) != 0)
		return -1;
	if (store_transaction(s, register_tx, &c, err) != 0)
		return -1;
	*is_new = c.is_new;
	return 0;
}

int store_device_credential_digest(const char *credential, uint8_t hash[32], struct pp_error *err)
{
	return store_secret_digest("a device credential", credential, hash, err);
}

int store_device_authenticate(struct store *s, const char *credential, struct store_device *out,
			      bool *found, struct pp_error *err)
{
	uint8_t hash[32];
	struct pp_error ignored;

	*found = false;
	pp_error_clear(&ignored);
	if (store_device_credential_digest(credential, hash, &ignored) != 0)
		return 0; /* not a credential: nobody's */
	return s->ops->device_find(s->impl, "credential", hash, sizeof(hash), out, found, err);
}

int store_device_get(struct store *s, const char *id_or_name, struct store_device *out,
		     struct pp_error *err)
{
	struct store_device *list = NULL;
	size_t count = 0;
	bool found = false;

	if (store_check_text(id_or_name, STORE_NAME_MAX, false, "device", err) != 0)
		return -1;
	if (strncmp(id_or_name, "GUID:", 5) == 0) {
		if (s->ops->device_find(s->impl, "id", id_or_name, strlen(id_or_name), out, &found,
					err) != 0)
			return -1;
		if (found)
			return 0;
	}
	if (s->ops->device_list(s->impl, id_or_name, &list, &count, err) != 0)
		return -1;
	if (count == 1)
		*out = list[0];
	else if (count == 0)
		pp_error_set(err, HR_CRYPT_E_NOT_FOUND, "device \"%s\" does not exist", id_or_name);
	else
		pp_error_set(err, HR_E_INVALIDARG,
			     "%zu devices are named \"%s\" (%s, %s%s); give the device id", count,
			     id_or_name, list[0].id, list[1].id, count > 2 ? ", ..." : "");
	free(list);
	return count == 1 ? 0 : -1;
}

int store_device_list(struct store *s, struct store_device **out, size_t *count,
		      struct pp_error *err)
{
	*out = NULL;
	*count = 0;
	return s->ops->device_list(s->impl, NULL, out, count, err);
}

int store_device_set_policy_time(struct store *s, const char *id, int64_t when,
				 struct pp_error *err)
{
	bool found = false;

	if (s->ops->device_set_policy_time(s->impl, id, when, &found, err) != 0)
		return -1;
	if (!found) {
		pp_error_set(err, HR_CRYPT_E_NOT_FOUND, "device %s does not exist", id);
		return -1;
	}
	return 0;
}

int store_device_collections(struct store *s, const char *id, struct store_collection **out,
			     size_t *count, struct pp_error *err)
{
	*out = NULL;
	*count = 0;
	return s->ops->collections_of_device(s->impl, id, out, count, err);
}

/* ---- collections ---- */

struct create_ctx {
	const char *name;
	const struct store_collection_rule *rules;
	size_t count;
	struct store_collection *out;
};

/* The next id "<site code><5 hex digits>", from 00010 on (lower ones are ConfigMgr's own). */
static int next_collection_id(struct store *s, char out[STORE_COLLECTION_ID_LEN + 1],
			      struct pp_error *err)
{
	struct store_site top;
	bool found = false;
	char last[STORE_COLLECTION_ID_LEN + 1] = "";
	unsigned long n = 0x10;

	if (s->ops->site_top(s->impl, &top, &found, err) != 0)
		return -1;
	if (!found) {
		pp_error_set(err, HR_E_INVALIDARG, "there is no site to make a collection in");
		return -1;
	}
	if (s->ops->collection_last_id(s->impl, top.code, last, err) != 0)
		return -1;
	if (last[0] != '\0') {
		unsigned long v = strtoul(last + STORE_SITE_CODE_LEN, NULL, 16);

		if (v >= 0xFFFFF) {
			pp_error_set(err, HR_ERROR_DISK_FULL, "no collection id is left");
			return -1;
		}
		if (v + 1 > n)
			n = v + 1;
	}
	(void)snprintf(out, STORE_COLLECTION_ID_LEN + 1, "%s%05lX", top.code, n);
	return 0;
}

static int create_tx(struct store *s, void *p, struct pp_error *err)
{
	struct create_ctx *c = p;
	struct store_collection existing;
	struct store_collection_rule *rules = NULL;
	struct coll_set cs;
	bool found = false;
	int rc = -1;

	memset(&cs, 0, sizeof(cs));
	if (s->ops->collection_get(s->impl, c->name, &existing, &found, err) != 0)
		return -1;
	if (found) {
		pp_error_set(err, HR_ERROR_ALREADY_EXISTS, "collection \"%s\" already exists (%s)",
			     existing.name, existing.id);
		return -1;
	}
	memset(c->out, 0, sizeof(*c->out));
	if (next_collection_id(s, c->out->id, err) != 0)
		return -1;
	(void)snprintf(c->out->name, sizeof(c->out->name), "%s", c->name);
	c->out->created_at = store_now();
	/* Names to ids, checked. */
	rules = calloc(c->count + 1, sizeof(*rules));
	if (rules == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < c->count; i++) {
		struct membership_rule *r = &rules[i].rule;

		rules[i] = c->rules[i];
		if (r->kind == MEMBERSHIP_DIRECT) {
			struct store_device d;

			if (store_device_get(s, r->value, &d, err) != 0)
				goto out;
			(void)snprintf(r->value, sizeof(r->value), "%s", d.id);
		} else if (r->kind == MEMBERSHIP_INCLUDE || r->kind == MEMBERSHIP_EXCLUDE) {
			struct store_collection o;

			/* By id in other, or by id or name in value (names are longer). */
			if (store_collection_get(s, r->other[0] != '\0' ? r->other : r->value, &o,
						 err) != 0)
				goto out;
			memcpy(r->other, o.id, sizeof(r->other));
			r->value[0] = '\0';
		}
	}
	if (s->ops->collection_insert(s->impl, c->out, err) != 0)
		goto out;
	for (size_t i = 0; i < c->count; i++)
		if (s->ops->collection_rule_insert(s->impl, c->out->id, &rules[i].rule, err) != 0)
			goto out;
	if (coll_set_load(s, &cs, NULL, NULL, 0, err) != 0 ||
	    membership_check(cs.defs, cs.count, err) != 0)
		goto out;
	for (size_t i = 0; i < cs.count; i++)
		if (strcmp(cs.defs[i].id, c->out->id) == 0) {
			rc = members_for_collection(s, &cs, i, err);
			break;
		}
out:
	coll_set_free(&cs);
	free(rules);
	return rc;
}

int store_collection_create(struct store *s, const char *name,
			    const struct store_collection_rule *rules, size_t count,
			    struct store_collection *out, struct pp_error *err)
{
	struct create_ctx c = {name, rules, count, out};

	if (check_path_name(name, "collection name", err) != 0)
		return -1;
	if (count > STORE_COLLECTION_RULES_MAX) {
		pp_error_set(err, HR_E_INVALIDARG, "a collection has at most %d rules",
			     STORE_COLLECTION_RULES_MAX);
		return -1;
	}
	return store_transaction(s, create_tx, &c, err);
}

static int delete_tx(struct store *s, void *p, struct pp_error *err)
{
	const char *id_or_name = p;
	struct store_collection c;
	char why[512] = "";

	if (store_collection_get(s, id_or_name, &c, err) != 0)
		return -1;
	if (strcmp(c.id, STORE_ALL_SYSTEMS) == 0) {
		pp_error_set(err, HR_E_INVALIDARG, "All Systems cannot be deleted");
		return -1;
	}
	if (s->ops->collection_referrer(s->impl, c.id, why, sizeof(why), err) != 0)
		return -1;
	if (why[0] != '\0') {
		pp_error_set(err, HR_E_INVALIDARG, "collection \"%s\" cannot be deleted: %s",
			     c.name, why);
		return -1;
	}
	return s->ops->collection_delete(s->impl, c.id, err);
}

int store_collection_delete(struct store *s, const char *id_or_name, struct pp_error *err)
{
	return store_transaction(s, delete_tx, (void *)id_or_name, err);
}

int store_collection_rules(struct store *s, const char *id, struct store_collection_rule **out,
			   size_t *count, struct pp_error *err)
{
	collection_id_t *owner = NULL;
	int rc;

	*out = NULL;
	*count = 0;
	rc = s->ops->collection_rule_list(s->impl, id, out, &owner, count, err);
	free(owner);
	return rc;
}

int store_collection_members(struct store *s, const char *id, struct store_device **out,
			     size_t *count, struct pp_error *err)
{
	*out = NULL;
	*count = 0;
	if (strcmp(id, STORE_ALL_SYSTEMS) == 0)
		return s->ops->device_list(s->impl, NULL, out, count, err);
	return s->ops->members_of_collection(s->impl, id, out, count, err);
}

/* ---- client settings ---- */

int store_client_setting_list(struct store *s, struct store_client_setting **out, size_t *count,
			      struct pp_error *err)
{
	*out = NULL;
	*count = 0;
	return s->ops->cs_list(s->impl, out, count, err);
}

/* Finds name in list (any case); NULL with CRYPT_E_NOT_FOUND. */
static struct store_client_setting *cs_find(struct store_client_setting *list, size_t count,
					    const char *name, struct pp_error *err)
{
	for (size_t i = 0; i < count; i++)
		if (strcasecmp(list[i].name, name) == 0)
			return &list[i];
	pp_error_set(err, HR_CRYPT_E_NOT_FOUND, "client setting \"%s\" does not exist", name);
	return NULL;
}

int store_client_setting_get(struct store *s, const char *name, struct store_client_setting *out,
			     struct pp_error *err)
{
	struct store_client_setting *list = NULL, *c;
	size_t count = 0;

	if (store_check_text(name, STORE_NAME_MAX, false, "client setting name", err) != 0 ||
	    s->ops->cs_list(s->impl, &list, &count, err) != 0)
		return -1;
	c = cs_find(list, count, name, err);
	if (c != NULL)
		*out = *c;
	free(list);
	return c != NULL ? 0 : -1;
}

struct cs_ctx {
	const char *name;
	const char *collection;
	const struct clientsettings_values *values;
	struct store_client_setting *out;
	bool up;
};

static int cs_create_tx(struct store *s, void *p, struct pp_error *err)
{
	struct cs_ctx *c = p;
	struct store_client_setting *list = NULL;
	size_t count = 0;
	int64_t order = 1;
	int rc = -1;

	if (s->ops->cs_list(s->impl, &list, &count, err) != 0)
		return -1;
	for (size_t i = 0; i < count; i++) {
		if (strcasecmp(list[i].name, c->name) == 0) {
			pp_error_set(err, HR_ERROR_ALREADY_EXISTS,
				     "client setting \"%s\" already exists", list[i].name);
			goto out;
		}
		if (!list[i].is_default && list[i].order >= order)
			order = list[i].order + 1;
	}
	if (order >= CLIENTSETTINGS_DEFAULT_ORDER) {
		pp_error_set(err, HR_E_INVALIDARG, "no order below %d is left",
			     CLIENTSETTINGS_DEFAULT_ORDER);
		goto out;
	}
	memset(c->out, 0, sizeof(*c->out));
	(void)snprintf(c->out->name, sizeof(c->out->name), "%s", c->name);
	c->out->order = order;
	c->out->created_at = c->out->updated_at = store_now();
	if (c->values != NULL)
		c->out->values = *c->values;
	rc = s->ops->cs_insert(s->impl, c->out, err) != 0 ||
		     s->ops->cs_put_values(s->impl, c->out->id, &c->out->values, c->out->created_at,
					   err) != 0
		 ? -1
		 : 0;
out:
	free(list);
	return rc;
}

int store_client_setting_create(struct store *s, const char *name,
				const struct clientsettings_values *values,
				struct store_client_setting *out, struct pp_error *err)
{
	struct cs_ctx c = {.name = name, .values = values, .out = out};

	if (check_path_name(name, "client setting name", err) != 0)
		return -1;
	return store_transaction(s, cs_create_tx, &c, err);
}

static int cs_set_tx(struct store *s, void *p, struct pp_error *err)
{
	struct cs_ctx *c = p;
	struct store_client_setting cur;

	if (store_client_setting_get(s, c->name, &cur, err) != 0)
		return -1;
	if (cur.is_default)
		for (int g = 0; g < CS_GROUP_COUNT; g++)
			if (!c->values->configured[g]) {
				pp_error_set(err, HR_E_INVALIDARG,
					     "Default Client Settings configures every group");
				return -1;
			}
	return s->ops->cs_put_values(s->impl, cur.id, c->values, store_now(), err);
}

int store_client_setting_set(struct store *s, const char *name,
			     const struct clientsettings_values *values, struct pp_error *err)
{
	struct cs_ctx c = {.name = name, .values = values};

	return store_transaction(s, cs_set_tx, &c, err);
}

static int cs_delete_tx(struct store *s, void *p, struct pp_error *err)
{
	struct cs_ctx *c = p;
	struct store_client_setting *list = NULL, *victim;
	size_t count = 0;
	int rc = -1;

	if (s->ops->cs_list(s->impl, &list, &count, err) != 0)
		return -1;
	victim = cs_find(list, count, c->name, err);
	if (victim == NULL)
		goto out;
	if (victim->is_default) {
		pp_error_set(err, HR_E_INVALIDARG, "Default Client Settings cannot be deleted");
		goto out;
	}
	if (s->ops->cs_delete(s->impl, victim->id, err) != 0)
		goto out;
	/* The orders stay 1..n: those after it move up, in order (unique at every step). */
	for (size_t i = 0; i < count; i++)
		if (!list[i].is_default && list[i].order > victim->order &&
		    s->ops->cs_set_order(s->impl, list[i].id, list[i].order - 1, err) != 0)
			goto out;
	rc = 0;
out:
	free(list);
	return rc;
}

int store_client_setting_delete(struct store *s, const char *name, struct pp_error *err)
{
	struct cs_ctx c = {.name = name};

	return store_transaction(s, cs_delete_tx, &c, err);
}

static int cs_move_tx(struct store *s, void *p, struct pp_error *err)
{
	struct cs_ctx *c = p;
	struct store_client_setting *list = NULL, *me, *other = NULL;
	size_t count = 0;
	int64_t mine;
	int rc = -1;

	if (s->ops->cs_list(s->impl, &list, &count, err) != 0)
		return -1;
	me = cs_find(list, count, c->name, err);
	if (me == NULL)
		goto out;
	if (me->is_default) {
		pp_error_set(err, HR_E_INVALIDARG,
			     "Default Client Settings keeps order %d; it cannot be moved",
			     CLIENTSETTINGS_DEFAULT_ORDER);
		goto out;
	}
	for (size_t i = 0; i < count; i++)
		if (!list[i].is_default && list[i].order == me->order + (c->up ? -1 : 1))
			other = &list[i];
	if (other == NULL) {
		pp_error_set(err, HR_E_INVALIDARG,
			     "client setting \"%s\" already has the %s order (%lld)", me->name,
			     c->up ? "first" : "last", (long long)me->order);
		goto out;
	}
	/* Through a free order, since each order is unique at every step. */
	mine = me->order;
	if (s->ops->cs_set_order(s->impl, me->id, CLIENTSETTINGS_DEFAULT_ORDER - 1, err) != 0 ||
	    s->ops->cs_set_order(s->impl, other->id, mine, err) != 0 ||
	    s->ops->cs_set_order(s->impl, me->id, other->order, err) != 0)
		goto out;
	rc = 0;
out:
	free(list);
	return rc;
}

int store_client_setting_move(struct store *s, const char *name, bool up, struct pp_error *err)
{
	struct cs_ctx c = {.name = name, .up = up};

	return store_transaction(s, cs_move_tx, &c, err);
}

static int cs_deploy_tx(struct store *s, void *p, struct pp_error *err, bool on)
{
	struct cs_ctx *c = p;
	struct store_client_setting cs;
	struct store_collection coll;
	bool changed = false;

	if (store_client_setting_get(s, c->name, &cs, err) != 0 ||
	    store_collection_get(s, c->collection, &coll, err) != 0)
		return -1;
	if (cs.is_default) {
		pp_error_set(err, HR_E_INVALIDARG,
			     "Default Client Settings cannot be deployed: it applies to every "
			     "device");
		return -1;
	}
	if (s->ops->cs_deploy(s->impl, cs.id, coll.id, on, &changed, store_now(), err) != 0)
		return -1;
	if (!changed) {
		pp_error_set(err, on ? HR_ERROR_ALREADY_EXISTS : HR_CRYPT_E_NOT_FOUND,
			     on ? "client setting \"%s\" is already deployed to \"%s\""
				: "client setting \"%s\" is not deployed to \"%s\"",
			     cs.name, coll.name);
		return -1;
	}
	return 0;
}

static int cs_deploy_on(struct store *s, void *p, struct pp_error *err)
{
	return cs_deploy_tx(s, p, err, true);
}

static int cs_deploy_off(struct store *s, void *p, struct pp_error *err)
{
	return cs_deploy_tx(s, p, err, false);
}

int store_client_setting_deploy(struct store *s, const char *name, const char *collection,
				struct pp_error *err)
{
	struct cs_ctx c = {.name = name, .collection = collection};

	return store_transaction(s, cs_deploy_on, &c, err);
}

int store_client_setting_undeploy(struct store *s, const char *name, const char *collection,
				  struct pp_error *err)
{
	struct cs_ctx c = {.name = name, .collection = collection};

	return store_transaction(s, cs_deploy_off, &c, err);
}

int store_client_setting_deployments(struct store *s, const char *name,
				     struct store_client_setting_deployment **out, size_t *count,
				     struct pp_error *err)
{
	struct store_client_setting cs;

	*out = NULL;
	*count = 0;
	if (name != NULL && store_client_setting_get(s, name, &cs, err) != 0)
		return -1;
	return s->ops->cs_deployments(s->impl, name != NULL ? cs.id : 0, out, count, err);
}

int store_min_client_version_get(struct store *s, char out[STORE_VERSION_MAX], struct pp_error *err)
{
	return s->ops->min_version_get(s->impl, out, err);
}

int store_policy_generation(struct store *s, int64_t *out, struct pp_error *err)
{
	return s->ops->policy_generation(s->impl, out, err);
}

int store_min_client_version_set(struct store *s, const char *version, struct pp_error *err)
{
	if (!clientsettings_version_valid(version)) {
		pp_error_set(err, HR_E_INVALIDARG,
			     "client version \"%.32s\" is not four dot-separated numbers "
			     "(5.00.8692.1003)",
			     version != NULL ? version : "");
		return -1;
	}
	return s->ops->min_version_put(s->impl, version, err);
}

/* ---- state messages and compliance ---- */

static const char *const topic_names[] = {"scan", "install"};
static const char *const status_names[] = {"required", "not_required",	 "installed",
					   "failed",   "pending_reboot", "unknown"};

const char *store_state_topic_name(enum store_state_topic t)
{
	return (unsigned)t < 2 ? topic_names[t] : "?";
}

const char *store_update_status_name(enum store_update_status st)
{
	return (unsigned)st < 6 ? status_names[st] : "?";
}

int store_state_topic_parse(const char *name)
{
	for (int i = 0; name != NULL && i < 2; i++)
		if (strcmp(name, topic_names[i]) == 0)
			return i;
	return -1;
}

int store_update_status_parse(const char *name)
{
	for (int i = 0; name != NULL && i < 5; i++) /* "unknown" is never reported */
		if (strcmp(name, status_names[i]) == 0)
			return i;
	return -1;
}

struct state_ctx {
	const char *device_id;
	const struct store_state_message *msgs;
	size_t count, accepted, duplicates;
};

static int state_tx(struct store *s, void *p, struct pp_error *err)
{
	struct state_ctx *c = p;
	int64_t now = store_now();

	c->accepted = c->duplicates = 0;
	for (size_t i = 0; i < c->count; i++) {
		bool inserted = false;

		if (s->ops->state_insert(s->impl, c->device_id, &c->msgs[i], now, &inserted, err) !=
		    0)
			return -1;
		if (inserted)
			c->accepted++;
		else
			c->duplicates++;
	}
	return 0;
}

int store_state_messages_add(struct store *s, const char *device_id,
			     const struct store_state_message *msgs, size_t count, size_t *accepted,
			     size_t *duplicates, struct pp_error *err)
{
	struct state_ctx c = {device_id, msgs, count, 0, 0};

	if (count > STORE_STATE_BATCH_MAX) {
		pp_error_set(err, HR_E_INVALIDARG, "at most %d state messages at once",
			     STORE_STATE_BATCH_MAX);
		return -1;
	}
	for (size_t i = 0; i < count; i++) {
		if ((unsigned)msgs[i].topic > STORE_TOPIC_INSTALL ||
		    (unsigned)msgs[i].state >= STORE_STATUS_UNKNOWN || strlen(msgs[i].id) != 36 ||
		    store_check_text(msgs[i].detail, STORE_STATE_DETAIL_MAX, true,
				     "state message detail", err) != 0) {
			if (err->code == 0)
				pp_error_set(err, HR_E_INVALIDARG, "state message %zu is malformed",
					     i);
			return -1;
		}
	}
	if (store_transaction(s, state_tx, &c, err) != 0)
		return -1;
	*accepted = c.accepted;
	*duplicates = c.duplicates;
	return 0;
}

int store_compliance(struct store *s, const char *update_id, int64_t deployment_id,
		     struct store_compliance **out, size_t *count, struct pp_error *err)
{
	struct store_update u;

	*out = NULL;
	*count = 0;
	if (store_update_get(s, update_id, &u, err) != 0)
		return -1;
	return s->ops->compliance_list(s->impl, u.id, deployment_id, out, count, err);
}
