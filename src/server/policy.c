/* policy.c - resultant client settings and machine policy documents (see policy.h). */
#include "policy.h"

#include "hresult.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

void policy_table_free(struct policy_table *t)
{
	free(t->settings);
	free(t->collections);
	free(t->deployed);
	free(t->items);
	memset(t, 0, sizeof(*t));
}

/* The index of collection id in t (sorted by id), or -1. */
static long collection_index(const struct policy_table *t, const char *id)
{
	size_t lo = 0, hi = t->collection_count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(t->collections[mid].id, id);

		if (c == 0)
			return (long)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

static int by_id(const void *a, const void *b)
{
	return strcmp(((const struct store_collection *)a)->id,
		      ((const struct store_collection *)b)->id);
}

int policy_table_load(struct store *s, struct policy_table *t, struct pp_error *err)
{
	struct store_client_setting_deployment *deps = NULL;
	size_t ndeps = 0;
	bool have_default = false;

	memset(t, 0, sizeof(*t));
	if (store_client_setting_list(s, &t->settings, &t->setting_count, err) != 0 ||
	    store_collection_list(s, &t->collections, &t->collection_count, err) != 0 ||
	    store_client_setting_deployments(s, NULL, &deps, &ndeps, err) != 0)
		goto fail;
	qsort(t->collections, t->collection_count, sizeof(*t->collections), by_id);
	t->words = (t->collection_count + 63) / 64;
	if (t->words == 0)
		t->words = 1;
	t->deployed = calloc(t->setting_count * t->words + 1, sizeof(*t->deployed));
	t->items = calloc(t->setting_count + 1, sizeof(*t->items));
	if (t->deployed == NULL || t->items == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < t->setting_count; i++) {
		t->items[i].name = t->settings[i].name;
		t->items[i].order = t->settings[i].order;
		t->items[i].values = &t->settings[i].values;
		if (t->settings[i].is_default) {
			t->default_index = i;
			have_default = true;
		}
	}
	if (!have_default) {
		pp_error_set(err, HR_ERROR_INVALID_DATA,
			     "site database: Default Client Settings is missing");
		goto fail;
	}
	for (size_t d = 0; d < ndeps; d++) {
		long c = collection_index(t, deps[d].collection_id);

		for (size_t i = 0; c >= 0 && i < t->setting_count; i++)
			if (t->settings[i].id == deps[d].setting_id)
				t->deployed[i * t->words + (size_t)c / 64] |= 1ull
									      << ((size_t)c % 64);
	}
	free(deps);
	return 0;
fail:
	free(deps);
	policy_table_free(t);
	return -1;
}

void policy_device_bits(const struct policy_table *t, const struct store_collection *colls,
			size_t count, uint64_t *bits)
{
	memset(bits, 0, t->words * sizeof(*bits));
	for (size_t i = 0; i < count; i++) {
		long c = collection_index(t, colls[i].id);

		if (c >= 0)
			bits[(size_t)c / 64] |= 1ull << ((size_t)c % 64);
	}
}

#define CHOSEN_MAX 64 /* client settings resolved without a heap allocation */

void policy_resolve(const struct policy_table *t, const uint64_t *bits,
		    struct clientsettings_resultant *out, size_t *deployed, size_t *deployed_count)
{
	typedef const struct clientsettings_item *item_ref;
	item_ref chosen[CHOSEN_MAX];
	item_ref *list = chosen, *heap = NULL;
	size_t n = 0;

	if (t->setting_count > CHOSEN_MAX) {
		heap = malloc(t->setting_count * sizeof(item_ref));
		if (heap != NULL)
			list = heap;
	}
	for (size_t i = 0; i < t->setting_count; i++) {
		const uint64_t *d = &t->deployed[i * t->words];
		bool hit = false;

		if (i == t->default_index)
			continue;
		for (size_t w = 0; w < t->words && !hit; w++)
			hit = (d[w] & bits[w]) != 0;
		if (!hit)
			continue;
		if (list == chosen && n == CHOSEN_MAX)
			break; /* out of memory above: the first 64 by order */
		list[n] = &t->items[i];
		if (deployed != NULL)
			deployed[n] = i;
		n++;
	}
	clientsettings_resolve(&t->items[t->default_index], list, n, out);
	if (deployed != NULL)
		deployed[n] = t->default_index;
	if (deployed_count != NULL)
		*deployed_count = n + 1;
	free(heap);
}

json_t *policy_settings_json(const struct clientsettings_resultant *r, bool with_labels)
{
	const struct clientsettings_key_info *keys = clientsettings_keys();
	json_t *o = json_object();

	for (int k = 0; o != NULL && k < CS_KEY_COUNT; k++) {
		json_t *v = keys[k].type == CS_TYPE_BOOL ? json_boolean(r->value[k] != 0)
							 : json_integer(r->value[k]);
		json_t *e = json_pack("{s:o, s:s}", "value", v, "source", r->source[k]);

		if (e != NULL && with_labels &&
		    (json_object_set_new(
			 e, "group", json_string(clientsettings_group_name(keys[k].group))) != 0 ||
		     json_object_set_new(e, "label", json_string(keys[k].label)) != 0)) {
			json_decref(e);
			e = NULL;
		}
		if (e == NULL || json_object_set_new(o, keys[k].key, e) != 0) {
			json_decref(o);
			o = NULL;
		}
	}
	return o;
}

/* ---- the machine policy document ---- */

/* Whether a signing certificate is self-signed, remembered by thumbprint: parsing it (its key
 * through OpenSSL's decoders) on every policy request was half of the request's CPU. The
 * answer cannot change for a thumbprint (the SHA-1 of the DER). */
#define SELF_SIGNED_CACHE 16

static pthread_mutex_t self_signed_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	char thumbprint[STORE_THUMBPRINT_LEN + 1];
	bool self_signed;
} self_signed_cache[SELF_SIGNED_CACHE];
static unsigned self_signed_next;

static bool is_self_signed(const struct store_certificate *c)
{
	const unsigned char *p = c->der;
	bool found = false, self_signed = false;
	X509 *x;

	(void)pthread_mutex_lock(&self_signed_lock);
	for (unsigned i = 0; i < SELF_SIGNED_CACHE && !found; i++)
		if (strcmp(self_signed_cache[i].thumbprint, c->thumbprint) == 0) {
			found = true;
			self_signed = self_signed_cache[i].self_signed;
		}
	(void)pthread_mutex_unlock(&self_signed_lock);
	if (found)
		return self_signed;
	x = d2i_X509(NULL, &p, (long)c->der_len);
	self_signed = x != NULL && (X509_get_extension_flags(x) & EXFLAG_SS) != 0;
	X509_free(x);
	if (x == NULL)
		return false;
	(void)pthread_mutex_lock(&self_signed_lock);
	memcpy(self_signed_cache[self_signed_next].thumbprint, c->thumbprint,
	       sizeof(self_signed_cache[0].thumbprint));
	self_signed_cache[self_signed_next].self_signed = self_signed;
	self_signed_next = (self_signed_next + 1) % SELF_SIGNED_CACHE;
	(void)pthread_mutex_unlock(&self_signed_lock);
	return self_signed;
}

/* {"thumbprint","subject","der","stores"} of a signing certificate. */
static json_t *certificate_json(const struct store_certificate *c)
{
	bool self_signed = is_self_signed(c);
	size_t b64_len = 4 * ((c->der_len + 2) / 3) + 1;
	char *b64 = malloc(b64_len);
	json_t *o = NULL;

	if (b64 != NULL && EVP_EncodeBlock((unsigned char *)b64, c->der, (int)c->der_len) >= 0)
		o = json_pack("{s:s, s:s, s:s, s:o}", "thumbprint", c->thumbprint, "subject",
			      c->subject, "der", b64, "stores",
			      self_signed ? json_pack("[s, s]", "Root", "TrustedPublisher")
					  : json_pack("[s]", "TrustedPublisher"));
	free(b64);
	return o;
}

/* The site's signing certificates: to install (when deliver) or to remove. *valid_until becomes
 * the second at which one of them expires, when that is before it. */
static int add_certificates(struct store *s, bool deliver, json_t *install, json_t *remove,
			    int64_t *valid_until, struct pp_error *err)
{
	struct store_certificate *certs = NULL;
	size_t n = 0;
	int64_t now = (int64_t)time(NULL);
	int rc = -1;

	if (store_certificate_list(s, &certs, &n, err) != 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const struct store_certificate *c = &certs[i];
		const char *reason = c->blocked ? "blocked" : c->not_after < now ? "expired" : NULL;
		json_t *e;

		if (c->type != STORE_CERT_WSUS_SIGNING)
			continue;
		if (reason == NULL && c->not_after < *valid_until)
			*valid_until = c->not_after + 1;
		if (reason != NULL)
			e = json_pack("{s:s, s:s}", "thumbprint", c->thumbprint, "reason", reason);
		else if (deliver)
			e = certificate_json(c);
		else
			continue;
		if (e == NULL || json_array_append_new(reason != NULL ? remove : install, e) != 0) {
			pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
			goto out;
		}
	}
	rc = 0;
out:
	for (size_t i = 0; i < n; i++)
		store_certificate_clear(&certs[i]);
	free(certs);
	return rc;
}

static bool in_collections(const struct store_collection *colls, size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(colls[i].id, id) == 0)
			return true;
	return false;
}

static int add_deployments(struct store *s, const struct store_collection *colls, size_t ncolls,
			   json_t *out, struct pp_error *err)
{
	struct store_deployment *deps = NULL;
	size_t n = 0;
	int rc = -1;

	if (store_deployment_list(s, NULL, &deps, &n, err) != 0)
		return -1;
	/* Oldest first, so that the document's order does not change as deployments are added. */
	for (size_t k = n; k-- > 0;) {
		const struct store_deployment *d = &deps[k];
		struct store_update u;
		json_t *e;

		if (!in_collections(colls, ncolls, d->collection_id))
			continue;
		if (store_update_get(s, d->update_id, &u, err) != 0)
			goto out;
		if (u.state != STORE_UPDATE_PUBLISHED)
			continue;
		e = json_pack("{s:I, s:s, s:I, s:s, s:I, s:o}", "id", (json_int_t)d->id,
			      "update_id", d->update_id, "revision", (json_int_t)u.revision,
			      "title", u.title, "available_at", (json_int_t)d->available_at,
			      "deadline_at",
			      d->deadline_at != 0 ? json_integer(d->deadline_at) : json_null());
		if (e == NULL || json_array_append_new(out, e) != 0) {
			pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
			goto out;
		}
	}
	rc = 0;
out:
	free(deps);
	return rc;
}

/* The first POLICY_VERSION_LEN hex digits of the SHA-256 of the document's canonical text. */
static int document_version(const json_t *doc, char out[POLICY_VERSION_LEN + 1],
			    struct pp_error *err)
{
	static const char hex[] = "0123456789abcdef";
	char *text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned len = 0;
	int ok = text != NULL && EVP_Digest(text, strlen(text), md, &len, EVP_sha256(), NULL) == 1;

	free(text);
	if (!ok) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "cannot digest the machine policy");
		return -1;
	}
	for (size_t i = 0; i < POLICY_VERSION_LEN / 2; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[POLICY_VERSION_LEN] = '\0';
	return 0;
}

json_t *policy_machine_document(struct store *s, const struct store_device *d, int64_t *valid_until,
				struct pp_error *err)
{
	struct policy_table t;
	struct clientsettings_resultant r;
	struct store_collection *colls = NULL;
	char minimum[STORE_VERSION_MAX], version[POLICY_VERSION_LEN + 1];
	uint64_t *bits = NULL;
	size_t ncolls = 0;
	json_t *doc = NULL, *install = json_array(), *remove = json_array(), *deps = json_array();
	bool enabled, version_ok;

	memset(&t, 0, sizeof(t));
	*valid_until = INT64_MAX;
	if (install == NULL || remove == NULL || deps == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
		goto fail;
	}
	if (policy_table_load(s, &t, err) != 0 ||
	    store_device_collections(s, d->id, &colls, &ncolls, err) != 0 ||
	    store_min_client_version_get(s, minimum, err) != 0)
		goto fail;
	bits = calloc(t.words, sizeof(*bits));
	if (bits == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
		goto fail;
	}
	policy_device_bits(&t, colls, ncolls, bits);
	policy_resolve(&t, bits, &r, NULL, NULL);
	enabled = r.value[CS_SU_ENABLED] != 0 && r.value[CS_SU_THIRD_PARTY] != 0;
	version_ok = clientsettings_version_cmp(d->client_version, minimum) >= 0;
	if (add_certificates(s, enabled && version_ok, install, remove, valid_until, err) != 0 ||
	    add_deployments(s, colls, ncolls, deps, err) != 0)
		goto fail;
	doc = json_pack("{s:{s:s, s:s, s:s}, s:o, s:{s:b, s:s, s:s, s:b}, s:o, s:o, s:o}", "device",
			"id", d->id, "name", d->name, "client_version", d->client_version,
			"settings", policy_settings_json(&r, false), "third_party", "enabled",
			enabled, "source", r.source[CS_SU_THIRD_PARTY], "minimum_client_version",
			minimum, "client_version_ok", version_ok, "certificates", install,
			"remove_certificates", remove, "deployments", deps);
	install = remove = deps = NULL;
	if (doc == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
		goto fail;
	}
	if (document_version(doc, version, err) != 0 ||
	    json_object_set_new(doc, "version", json_string(version)) != 0)
		goto fail;
	free(bits);
	free(colls);
	policy_table_free(&t);
	return doc;
fail:
	json_decref(doc);
	json_decref(install);
	json_decref(remove);
	json_decref(deps);
	free(bits);
	free(colls);
	policy_table_free(&t);
	return NULL;
}
