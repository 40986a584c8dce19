/* store_updates.c - the rules of the site database for third-party update catalogs, updates,
 * their published content, collections and deployments, over the backend's primitives. */
#include "store.h"
#include "store_internal.h"

#include "sdp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

/* ---- catalogs and updates ---- */

static const char *const update_state_names[] = {"metadata", "published", "expired"};

const char *store_update_state_name(enum store_update_state state)
{
	if ((unsigned)state >= sizeof(update_state_names) / sizeof(update_state_names[0]))
		return "unknown";
	return update_state_names[state];
}

/* An update id: a GUID in lower case (the SDP's PackageID, folded by the catalog import). */
static int check_update_id(const char *id, struct pp_error *err)
{
	/* sdp_guid_valid takes either case; the stored form is lower case. */
	if (sdp_guid_valid(id) && strcspn(id, "ABCDEF") == STORE_UPDATE_ID_LEN)
		return 0;
	pp_error_set(err, HR_E_INVALIDARG, "update id \"%.64s\" is not a GUID in lower case",
		     id != NULL ? id : "");
	return -1;
}

/* Copies id folded to lower case into out (when it fits), for lookups in either case. */
static void fold_id(const char *id, char out[STORE_UPDATE_ID_LEN + 1])
{
	size_t i;

	for (i = 0; id != NULL && id[i] != '\0' && i < STORE_UPDATE_ID_LEN; i++)
		out[i] = (char)(id[i] >= 'A' && id[i] <= 'F' ? id[i] - 'A' + 'a' : id[i]);
	out[i] = '\0';
	if (id != NULL && id[i] != '\0')
		out[0] = 'X'; /* longer than a GUID: fails the check */
}

int store_catalog_put(struct store *s, const char *name, bool allow_unsigned_content, bool *changed,
		      struct pp_error *err)
{
	struct store_catalog c = {.allow_unsigned_content = allow_unsigned_content};
	bool dummy;

	if (store_check_text(name, STORE_NAME_MAX, false, "catalog name", err) != 0)
		return -1;
	(void)snprintf(c.name, sizeof(c.name), "%s", name);
	c.added_at = store_now();
	return s->ops->catalog_put(s->impl, &c, changed != NULL ? changed : &dummy, err);
}

int store_catalog_get(struct store *s, const char *name, struct store_catalog *out,
		      struct pp_error *err)
{
	bool found = false;

	if (store_check_text(name, STORE_NAME_MAX, false, "catalog name", err) != 0)
		return -1;
	if (s->ops->catalog_get(s->impl, name, out, &found, err) != 0)
		return -1;
	if (!found) {
		pp_error_set(err, HR_CRYPT_E_NOT_FOUND, "catalog \"%s\" does not exist", name);
		return -1;
	}
	return 0;
}

int store_catalog_list(struct store *s, struct store_catalog **out, size_t *count,
		       struct pp_error *err)
{
	*out = NULL;
	*count = 0;
	return s->ops->catalog_list(s->impl, out, count, err);
}

int store_update_get(struct store *s, const char *id, struct store_update *out,
		     struct pp_error *err)
{
	char key[STORE_UPDATE_ID_LEN + 1];
	bool found = false;

	fold_id(id, key);
	if (check_update_id(key, err) != 0)
		return -1;
	if (s->ops->update_get(s->impl, key, out, &found, err) != 0)
		return -1;
	if (!found) {
		pp_error_set(err, HR_CRYPT_E_NOT_FOUND, "update %s does not exist", key);
		return -1;
	}
	return 0;
}

int store_update_sdp(struct store *s, const char *id, char **xml, size_t *len, struct pp_error *err)
{
	char key[STORE_UPDATE_ID_LEN + 1];
	bool found = false;

	*xml = NULL;
	fold_id(id, key);
	if (check_update_id(key, err) != 0)
		return -1;
	if (s->ops->update_sdp(s->impl, key, xml, len, &found, err) != 0)
		return -1;
	if (!found) {
		pp_error_set(err, HR_CRYPT_E_NOT_FOUND, "update %s does not exist", key);
		return -1;
	}
	return 0;
}

int store_update_put(struct store *s, const struct store_update *u, const char *sdp, size_t sdp_len,
		     struct pp_error *err)
{
	struct store_update row = *u;
	uint8_t digest[32];
	char hex[65];

	if (check_update_id(u->id, err) != 0 ||
	    store_check_text(u->vendor, sizeof(u->vendor), false, "vendor", err) != 0 ||
	    store_check_text(u->product, sizeof(u->product), false, "product", err) != 0 ||
	    store_check_text(u->title, sizeof(u->title), false, "title", err) != 0 ||
	    store_check_text(u->classification, sizeof(u->classification), true, "classification",
			     err) != 0 ||
	    store_check_text(u->severity, sizeof(u->severity), true, "severity", err) != 0 ||
	    store_check_text(u->kb, sizeof(u->kb), true, "KB article", err) != 0 ||
	    store_check_text(u->creation_date, sizeof(u->creation_date), false, "creation date",
			     err) != 0 ||
	    store_check_text(u->catalog, sizeof(u->catalog), true, "catalog name", err) != 0)
		return -1;
	if (u->revision < 1) {
		pp_error_set(err, HR_E_INVALIDARG, "update %s: revision %lld is not positive",
			     u->id, (long long)u->revision);
		return -1;
	}
	if ((unsigned)u->state > STORE_UPDATE_EXPIRED) {
		pp_error_set(err, HR_E_INVALIDARG, "update %s: unknown state", u->id);
		return -1;
	}
	if (sdp == NULL || sdp_len == 0 || sdp_len > STORE_UPDATE_SDP_MAX) {
		pp_error_set(err, HR_E_INVALIDARG, "update %s: the SDP is empty or over %u bytes",
			     u->id, STORE_UPDATE_SDP_MAX);
		return -1;
	}
	if (EVP_Digest(sdp, sdp_len, digest, NULL, EVP_sha256(), NULL) != 1) {
		pp_error_set(err, HR_E_FAIL, "SHA-256 is not available");
		return -1;
	}
	for (size_t i = 0; i < 32; i++)
		(void)snprintf(hex + 2 * i, 3, "%02x", digest[i]);
	if (strcmp(hex, u->sdp_sha256) != 0) {
		pp_error_set(err, HR_E_INVALIDARG,
			     "update %s: sdp_sha256 is not the SHA-256 of the SDP", u->id);
		return -1;
	}
	row.updated_at = store_now();
	if (row.created_at == 0)
		row.created_at = row.updated_at;
	return s->ops->update_put(s->impl, &row, sdp, sdp_len, err);
}

int store_update_list(struct store *s, const struct store_update_filter *filter,
		      struct store_update **out, size_t *count, struct pp_error *err)
{
	static const struct store_update_filter all = {.published = -1};

	*out = NULL;
	*count = 0;
	return s->ops->update_list(s->impl, filter != NULL ? filter : &all, out, count, err);
}

/* ---- published content, revisions, expiry, deletion ---- */

static int check_hex(const char *s, size_t len, bool upper, const char *what, struct pp_error *err)
{
	size_t i;

	for (i = 0; i < len && s[i] != '\0'; i++) {
		char c = s[i];

		if (!((c >= '0' && c <= '9') ||
		      (upper ? (c >= 'A' && c <= 'F') : (c >= 'a' && c <= 'f'))))
			break;
	}
	if (i != len || s[len] != '\0') {
		pp_error_set(err, HR_E_INVALIDARG, "%s is not %zu %s-case hex digits", what, len,
			     upper ? "upper" : "lower");
		return -1;
	}
	return 0;
}

int store_update_content_get(struct store *s, const char *id, int64_t revision,
			     struct store_update_content *out, struct pp_error *err)
{
	char key[STORE_UPDATE_ID_LEN + 1];
	bool found = false;

	fold_id(id, key);
	if (check_update_id(key, err) != 0)
		return -1;
	if (s->ops->content_get(s->impl, key, revision, out, &found, err) != 0)
		return -1;
	if (!found) {
		pp_error_set(err, HR_CRYPT_E_NOT_FOUND,
			     "update %s has no content published for revision %lld", key,
			     (long long)revision);
		return -1;
	}
	return 0;
}

static int content_add_tx(struct store *s, void *ctx, struct pp_error *err)
{
	const struct store_update_content *c = ctx;
	struct store_update_content old;
	struct store_update u;
	bool found = false;

	if (store_update_get(s, c->update_id, &u, err) != 0)
		return -1;
	if (u.revision != c->revision) {
		pp_error_set(err, HR_E_INVALIDARG, "update %s is at revision %lld, not %lld", u.id,
			     (long long)u.revision, (long long)c->revision);
		return -1;
	}
	if (u.state == STORE_UPDATE_EXPIRED) {
		pp_error_set(err, HR_E_INVALIDARG, "update %s is expired", u.id);
		return -1;
	}
	if (s->ops->content_get(s->impl, u.id, u.revision, &old, &found, err) != 0)
		return -1;
	if (found) {
		pp_error_set(err, HR_ERROR_ALREADY_EXISTS,
			     "revision %lld of update %s already has its content; content is "
			     "immutable per revision: revise the update to publish other content",
			     (long long)u.revision, u.id);
		return -1;
	}
	if (s->ops->content_insert(s->impl, c, err) != 0)
		return -1;
	return s->ops->update_set_state(s->impl, u.id, u.revision, STORE_UPDATE_PUBLISHED,
					store_now(), err);
}

int store_update_content_add(struct store *s, const struct store_update_content *c,
			     struct pp_error *err)
{
	if (check_update_id(c->update_id, err) != 0 ||
	    check_hex(c->input_sha256, 64, false, "input_sha256", err) != 0 ||
	    store_check_text(c->files, sizeof(c->files), true, "content file names", err) != 0)
		return -1;
	if (c->has_content &&
	    (check_hex(c->sha1, 40, true, "content SHA-1", err) != 0 ||
	     check_hex(c->sha256, 64, false, "content SHA-256", err) != 0 ||
	     check_hex(c->signer, STORE_THUMBPRINT_LEN, true, "signer thumbprint", err) != 0 ||
	     c->size == 0)) {
		if (c->size == 0)
			pp_error_set(err, HR_E_INVALIDARG, "content of update %s is empty",
				     c->update_id);
		return -1;
	}
	return store_transaction(s, content_add_tx, (void *)c, err);
}

int store_update_content_list(struct store *s, const char *id, struct store_update_content **out,
			      size_t *count, struct pp_error *err)
{
	char key[STORE_UPDATE_ID_LEN + 1];

	*out = NULL;
	*count = 0;
	fold_id(id, key);
	if (check_update_id(key, err) != 0)
		return -1;
	return s->ops->content_list(s->impl, key, out, count, err);
}

int store_content_referenced(struct store *s, const char *sha1, bool *referenced,
			     struct pp_error *err)
{
	if (check_hex(sha1, 40, true, "content SHA-1", err) != 0 ||
	    s->ops->content_referenced(s->impl, sha1, referenced, err) != 0)
		return -1;
	/* A file of a package (task sequences) is content too. */
	return *referenced ? 0 : store_package_content_referenced(s, sha1, referenced, err);
}

struct state_ctx {
	const char *id;
	int64_t *revision; /* revise when not NULL, else expire */
};

static int change_tx(struct store *s, void *ctx, struct pp_error *err)
{
	struct state_ctx *c = ctx;
	struct store_update u;

	if (store_update_get(s, c->id, &u, err) != 0)
		return -1;
	if (c->revision != NULL) {
		if (u.state == STORE_UPDATE_EXPIRED) {
			pp_error_set(err, HR_E_INVALIDARG,
				     "update %s is expired; an expired update cannot be revised",
				     u.id);
			return -1;
		}
		u.revision++;
		u.state = STORE_UPDATE_METADATA;
		*c->revision = u.revision;
	} else {
		if (u.state == STORE_UPDATE_EXPIRED)
			return 0;
		u.state = STORE_UPDATE_EXPIRED;
	}
	return s->ops->update_set_state(s->impl, u.id, u.revision, u.state, store_now(), err);
}

int store_update_revise(struct store *s, const char *id, int64_t *revision, struct pp_error *err)
{
	struct state_ctx c = {id, revision};

	return store_transaction(s, change_tx, &c, err);
}

int store_update_expire(struct store *s, const char *id, struct pp_error *err)
{
	struct state_ctx c = {id, NULL};

	return store_transaction(s, change_tx, &c, err);
}

static int delete_tx(struct store *s, void *ctx, struct pp_error *err)
{
	struct store_update u;

	if (store_update_get(s, ctx, &u, err) != 0)
		return -1;
	if (u.state == STORE_UPDATE_PUBLISHED) {
		pp_error_set(err, HR_E_INVALIDARG,
			     "update %s is published; expire it before deleting it", u.id);
		return -1;
	}
	return s->ops->update_delete(s->impl, u.id, err);
}

int store_update_delete(struct store *s, const char *id, struct pp_error *err)
{
	return store_transaction(s, delete_tx, (void *)id, err);
}

/* ---- collections and deployments ---- */

int store_collection_get(struct store *s, const char *id_or_name, struct store_collection *out,
			 struct pp_error *err)
{
	bool found = false;

	if (store_check_text(id_or_name, STORE_NAME_MAX, false, "collection", err) != 0 ||
	    s->ops->collection_get(s->impl, id_or_name, out, &found, err) != 0)
		return -1;
	if (!found) {
		pp_error_set(err, HR_CRYPT_E_NOT_FOUND, "collection \"%s\" does not exist",
			     id_or_name);
		return -1;
	}
	return 0;
}

int store_collection_list(struct store *s, struct store_collection **out, size_t *count,
			  struct pp_error *err)
{
	*out = NULL;
	*count = 0;
	return s->ops->collection_list(s->impl, out, count, err);
}

static int deployment_add_tx(struct store *s, void *ctx, struct pp_error *err)
{
	struct store_deployment *d = ctx;
	struct store_update u;
	struct store_update_content c;
	struct store_collection coll;
	bool found = false;

	if (store_update_get(s, d->update_id, &u, err) != 0 ||
	    store_collection_get(s, d->collection_id, &coll, err) != 0)
		return -1;
	if (u.state != STORE_UPDATE_PUBLISHED) {
		pp_error_set(err, HR_E_INVALIDARG,
			     "update %s is %s; only a published update can be "
			     "deployed",
			     u.id, store_update_state_name(u.state));
		return -1;
	}
	if (s->ops->content_get(s->impl, u.id, u.revision, &c, &found, err) != 0)
		return -1;
	if (!found || !c.has_content) {
		pp_error_set(err, HR_E_INVALIDARG,
			     "update %s revision %lld was published without content (metadata "
			     "only); publish its content before deploying it",
			     u.id, (long long)u.revision);
		return -1;
	}
	memcpy(d->update_id, u.id, sizeof(d->update_id));
	memcpy(d->collection_id, coll.id, sizeof(d->collection_id));
	memcpy(d->collection_name, coll.name, sizeof(d->collection_name));
	memcpy(d->title, u.title, sizeof(d->title));
	d->created_at = store_now();
	return s->ops->deployment_insert(s->impl, d, err);
}

int store_deployment_add(struct store *s, struct store_deployment *d, struct pp_error *err)
{
	char key[STORE_UPDATE_ID_LEN + 1];

	fold_id(d->update_id, key);
	if (check_update_id(key, err) != 0)
		return -1;
	memcpy(d->update_id, key, sizeof(key));
	if (d->available_at < 0 || d->deadline_at < 0 ||
	    (d->deadline_at != 0 && d->deadline_at < d->available_at)) {
		pp_error_set(err, HR_E_INVALIDARG,
			     "the deadline must not be before the available time");
		return -1;
	}
	return store_transaction(s, deployment_add_tx, d, err);
}

int store_deployment_list(struct store *s, const char *update_id, struct store_deployment **out,
			  size_t *count, struct pp_error *err)
{
	char key[STORE_UPDATE_ID_LEN + 1];

	*out = NULL;
	*count = 0;
	if (update_id != NULL) {
		fold_id(update_id, key);
		if (check_update_id(key, err) != 0)
			return -1;
	}
	return s->ops->deployment_list(s->impl, update_id != NULL ? key : NULL, out, count, err);
}
