/* store_ci.c - the domain rules of configuration items, baselines, their deployments and the
 * reports of devices (store.h, migration 0008), over the backend's primitives (struct
 * store_ci_ops). What an item may hold is src/lib/configitem.c's to say. */
#include "store_internal.h"

#include "hresult.h"
#include "pki.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#define CI(s) ((s)->ops->ci)

void store_ci_clear(struct store_ci *ci)
{
	if (ci == NULL)
		return;
	free(ci->der);
	free(ci->discovery);
	free(ci->remediation);
	memset(ci, 0, sizeof(*ci));
}

void store_ci_list_free(struct store_ci *list, size_t count)
{
	for (size_t i = 0; list != NULL && i < count; i++)
		store_ci_clear(&list[i]);
	free(list);
}

/* A copy of len bytes of text with a NUL after them; NULL when out of memory. */
static char *text_dup(const char *text, size_t len)
{
	char *p = malloc(len + 1);

	if (p != NULL) {
		memcpy(p, text, len);
		p[len] = '\0';
	}
	return p;
}

/* ---- items ---- */

/* The certificate of a certificate item from its DER: thumbprint, subject, and whether the
 * stores asked for fit it (Root only for a self-signed certificate, which is its own root). */
static int take_certificate(struct store_ci *ci, const uint8_t *der, size_t der_len,
			    struct pp_error *err)
{
	const unsigned char *p = der;
	X509 *x = NULL;
	int rc = -1;

	if (der_len == 0 || der_len > STORE_CERT_DER_MAX) {
		pp_error_set(err, HR_E_INVALIDARG, "the certificate is not 1 to %d bytes of DER",
			     STORE_CERT_DER_MAX);
		goto out;
	}
	x = d2i_X509(NULL, &p, (long)der_len);
	if (x == NULL || p != der + der_len) {
		pp_error_set(err, HR_E_INVALIDARG,
			     "the certificate is not a certificate (one DER-encoded X.509 "
			     "certificate was expected)");
		goto out;
	}
	if (pki_thumbprint(x, ci->thumbprint) != 0) {
		pp_error_set(err, HR_E_INVALIDARG, "the certificate's thumbprint cannot be made");
		goto out;
	}
	pki_simple_name(x, ci->subject, sizeof(ci->subject));
	if ((ci->stores & CONFIGITEM_STORE_ROOT) != 0 && !pki_is_self_signed(x)) {
		pp_error_set(
		    err, HR_E_INVALIDARG,
		    "certificate %s (%s) is not self-signed, so it cannot be a root: require "
		    "TrustedPublisher only",
		    ci->thumbprint, ci->subject);
		goto out;
	}
	if (der == ci->der) { /* the stores changed: the certificate stays */
		rc = 0;
		goto out;
	}
	free(ci->der);
	ci->der = malloc(der_len);
	if (ci->der == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
		goto out;
	}
	memcpy(ci->der, der, der_len);
	ci->der_len = der_len;
	rc = 0;
out:
	X509_free(x);
	return rc;
}

static int check_stores(unsigned stores, struct pp_error *err)
{
	if (stores == 0 || (stores & ~CONFIGITEM_STORES_ALLOWED) != 0) {
		pp_error_set(err, HR_E_INVALIDARG,
			     "a certificate item needs the stores it must be in: Root, "
			     "TrustedPublisher or both");
		return -1;
	}
	return 0;
}

static int set_script(char **slot, const char *text, size_t len, const char *what,
		      struct pp_error *err)
{
	char *copy;

	if (configitem_check_script(text, len, what, err) != 0)
		return -1;
	copy = text_dup(text, len);
	if (copy == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
		return -1;
	}
	free(*slot);
	*slot = copy;
	return 0;
}

static int ci_not_found(const char *name, struct pp_error *err)
{
	pp_error_set(err, HR_CRYPT_E_NOT_FOUND, "configuration item \"%s\" does not exist", name);
	return -1;
}

/* Fills a new record from spec (checked); the certificate of a thumbprint comes from
 * Certificates. */
static int ci_from_spec(struct store *s, const struct store_ci_spec *spec, struct store_ci *ci,
			struct pp_error *err)
{
	struct store_certificate cert;
	int rc;

	memset(ci, 0, sizeof(*ci));
	if (configitem_check_name(spec->name, "a configuration item name", err) != 0)
		return -1;
	(void)snprintf(ci->name, sizeof(ci->name), "%s", spec->name);
	ci->kind = spec->kind;
	ci->revision = 1;
	if (spec->kind == CONFIGITEM_KIND_CERTIFICATE) {
		ci->stores = spec->stores;
		if (check_stores(spec->stores, err) != 0)
			return -1;
		if (spec->der != NULL)
			return take_certificate(ci, spec->der, spec->der_len, err);
		if (spec->thumbprint == NULL || spec->thumbprint[0] == '\0') {
			pp_error_set(err, HR_E_INVALIDARG,
				     "a certificate item needs a certificate or the thumbprint of "
				     "one in Certificates");
			return -1;
		}
		memset(&cert, 0, sizeof(cert));
		if (store_certificate_get(s, spec->thumbprint, &cert, err) != 0)
			return -1;
		rc = take_certificate(ci, cert.der, cert.der_len, err);
		store_certificate_clear(&cert);
		return rc;
	}
	if (spec->kind != CONFIGITEM_KIND_SCRIPT) {
		pp_error_set(err, HR_E_INVALIDARG, "unknown configuration item kind %d",
			     (int)spec->kind);
		return -1;
	}
	if (spec->data_type > CONFIGITEM_TYPE_INTEGER) {
		pp_error_set(err, HR_E_INVALIDARG, "unknown data type %d", (int)spec->data_type);
		return -1;
	}
	ci->data_type = spec->data_type;
	ci->timeout_seconds =
	    spec->timeout_seconds != 0 ? spec->timeout_seconds : CONFIGITEM_TIMEOUT_DEFAULT;
	if (set_script(&ci->discovery, spec->discovery, spec->discovery_len, "discovery script",
		       err) != 0 ||
	    (spec->remediation != NULL &&
	     set_script(&ci->remediation, spec->remediation, spec->remediation_len,
			"remediation script", err) != 0) ||
	    configitem_value_normalize(spec->data_type, spec->expected, "the expected value",
				       ci->expected, err) != 0 ||
	    configitem_check_timeout(ci->timeout_seconds, err) != 0)
		return -1;
	return 0;
}

struct ci_create_ctx {
	const struct store_ci_spec *spec;
	struct store_ci *out;
};

static int ci_create_tx(struct store *s, void *p, struct pp_error *err)
{
	struct ci_create_ctx *c = p;
	struct store_ci old;
	bool found = false;

	if (ci_from_spec(s, c->spec, c->out, err) != 0)
		return -1;
	memset(&old, 0, sizeof(old));
	if (CI(s)->ci_get(s->impl, c->out->name, &old, &found, err) != 0)
		return -1;
	if (found) {
		pp_error_set(err, HR_ERROR_ALREADY_EXISTS,
			     "a configuration item named \"%s\" already exists", old.name);
		store_ci_clear(&old);
		return -1;
	}
	c->out->created_at = c->out->updated_at = store_now();
	return CI(s)->ci_insert(s->impl, c->out, err);
}

int store_ci_create(struct store *s, const struct store_ci_spec *spec, struct store_ci *out,
		    struct pp_error *err)
{
	struct ci_create_ctx c = {spec, out};

	if (store_transaction(s, ci_create_tx, &c, err) != 0) {
		store_ci_clear(out);
		return -1;
	}
	return 0;
}

int store_ci_get(struct store *s, const char *name, struct store_ci *out, struct pp_error *err)
{
	bool found = false;

	memset(out, 0, sizeof(*out));
	if (configitem_check_name(name, "a configuration item name", err) != 0 ||
	    CI(s)->ci_get(s->impl, name, out, &found, err) != 0)
		return -1;
	if (!found)
		return ci_not_found(name, err);
	return 0;
}

int store_ci_list(struct store *s, struct store_ci **out, size_t *count, struct pp_error *err)
{
	*out = NULL;
	*count = 0;
	return CI(s)->ci_list(s->impl, out, count, err);
}

static bool same_text(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

struct ci_change_ctx {
	const char *name;
	const struct store_ci_change *chg;
	struct store_ci *out;
};

static int ci_change_tx(struct store *s, void *p, struct pp_error *err)
{
	struct ci_change_ctx *c = p;
	const struct store_ci_change *chg = c->chg;
	char old_expected[CONFIGITEM_VALUE_MAX + 1], *old_discovery = NULL, *old_remediation = NULL;
	enum configitem_type old_type;
	int64_t old_timeout;
	unsigned old_stores;
	struct store_ci ci;
	bool changed;
	int rc = -1;

	if (store_ci_get(s, c->name, &ci, err) != 0)
		return -1;
	if (ci.kind == CONFIGITEM_KIND_CERTIFICATE &&
	    (chg->set_discovery || chg->set_remediation || chg->set_type || chg->set_expected ||
	     chg->set_timeout)) {
		pp_error_set(err, HR_E_INVALIDARG,
			     "configuration item \"%s\" checks a certificate: only its stores can "
			     "change",
			     ci.name);
		goto out;
	}
	if (ci.kind == CONFIGITEM_KIND_SCRIPT && chg->set_stores) {
		pp_error_set(err, HR_E_INVALIDARG,
			     "configuration item \"%s\" is a script: it has no stores", ci.name);
		goto out;
	}
	old_stores = ci.stores;
	old_type = ci.data_type;
	old_timeout = ci.timeout_seconds;
	memcpy(old_expected, ci.expected, sizeof(old_expected));
	if ((ci.discovery != NULL &&
	     (old_discovery = text_dup(ci.discovery, strlen(ci.discovery))) == NULL) ||
	    (ci.remediation != NULL &&
	     (old_remediation = text_dup(ci.remediation, strlen(ci.remediation))) == NULL)) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
		goto out;
	}
	if (chg->set_stores) {
		ci.stores = chg->stores;
		if (check_stores(ci.stores, err) != 0 ||
		    take_certificate(&ci, ci.der, ci.der_len, err) != 0)
			goto out;
	}
	if (chg->set_discovery && set_script(&ci.discovery, chg->discovery, chg->discovery_len,
					     "discovery script", err) != 0)
		goto out;
	if (chg->set_remediation) {
		if (chg->remediation == NULL) {
			free(ci.remediation);
			ci.remediation = NULL;
		} else if (set_script(&ci.remediation, chg->remediation, chg->remediation_len,
				      "remediation script", err) != 0) {
			goto out;
		}
	}
	if (chg->set_type) {
		if (chg->data_type > CONFIGITEM_TYPE_INTEGER) {
			pp_error_set(err, HR_E_INVALIDARG, "unknown data type %d",
				     (int)chg->data_type);
			goto out;
		}
		ci.data_type = chg->data_type;
	}
	if (chg->set_timeout) {
		ci.timeout_seconds = chg->timeout_seconds;
		if (configitem_check_timeout(ci.timeout_seconds, err) != 0)
			goto out;
	}
	/* A new type needs the expected value to be of it: the one given, or the one kept. */
	if ((chg->set_expected || chg->set_type) &&
	    configitem_value_normalize(ci.data_type,
				       chg->set_expected ? chg->expected : old_expected,
				       "the expected value", ci.expected, err) != 0)
		goto out;
	changed = ci.stores != old_stores || !same_text(ci.discovery, old_discovery) ||
		  !same_text(ci.remediation, old_remediation) || ci.data_type != old_type ||
		  strcmp(ci.expected, old_expected) != 0 || ci.timeout_seconds != old_timeout;
	if (changed) {
		ci.revision++;
		ci.updated_at = store_now();
		if (CI(s)->ci_update(s->impl, &ci, err) != 0)
			goto out;
	}
	rc = 0;
out:
	free(old_discovery);
	free(old_remediation);
	if (rc == 0 && c->out != NULL)
		*c->out = ci;
	else
		store_ci_clear(&ci);
	return rc;
}

int store_ci_change(struct store *s, const char *name, const struct store_ci_change *chg,
		    struct store_ci *out, struct pp_error *err)
{
	struct ci_change_ctx c = {name, chg, out};

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (store_transaction(s, ci_change_tx, &c, err) != 0) {
		if (out != NULL)
			store_ci_clear(out);
		return -1;
	}
	return 0;
}

static int ci_delete_tx(struct store *s, void *p, struct pp_error *err)
{
	const char *name = p;
	struct store_ci ci;
	char why[STORE_NAME_MAX];
	int rc = -1;

	if (store_ci_get(s, name, &ci, err) != 0)
		return -1;
	if (CI(s)->ci_referrer(s->impl, ci.id, why, sizeof(why), err) != 0)
		goto out;
	if (why[0] != '\0') {
		pp_error_set(err, HR_E_INVALIDARG,
			     "configuration item \"%s\" cannot be deleted: baseline \"%s\" holds "
			     "it; remove it from the baseline first",
			     ci.name, why);
		goto out;
	}
	rc = CI(s)->ci_delete(s->impl, ci.id, err);
out:
	store_ci_clear(&ci);
	return rc;
}

int store_ci_delete(struct store *s, const char *name, struct pp_error *err)
{
	return store_transaction(s, ci_delete_tx, (void *)name, err);
}

/* ---- baselines ---- */

int store_baseline_get(struct store *s, const char *name, struct store_baseline *out,
		       struct pp_error *err)
{
	bool found = false;

	memset(out, 0, sizeof(*out));
	if (configitem_check_name(name, "a configuration baseline name", err) != 0 ||
	    CI(s)->baseline_get(s->impl, name, 0, out, &found, err) != 0)
		return -1;
	if (!found) {
		pp_error_set(err, HR_CRYPT_E_NOT_FOUND,
			     "configuration baseline \"%s\" does not exist", name);
		return -1;
	}
	return 0;
}

int store_baseline_list(struct store *s, struct store_baseline **out, size_t *count,
			struct pp_error *err)
{
	*out = NULL;
	*count = 0;
	return CI(s)->baseline_list(s->impl, out, count, err);
}

int store_baseline_items(struct store *s, int64_t id, struct store_baseline_item **out,
			 size_t *count, struct pp_error *err)
{
	*out = NULL;
	*count = 0;
	return CI(s)->items(s->impl, id, out, count, err);
}

/* The id of the item named, checking that the baseline does not hold it yet. */
static int add_item(struct store *s, const struct store_baseline *b, const char *item,
		    struct pp_error *err)
{
	struct store_baseline_item *items = NULL;
	struct store_ci ci;
	size_t n = 0;
	int rc = -1;

	if (store_ci_get(s, item, &ci, err) != 0)
		return -1;
	if (store_baseline_items(s, b->id, &items, &n, err) != 0)
		goto out;
	for (size_t i = 0; i < n; i++)
		if (items[i].item_id == ci.id) {
			pp_error_set(err, HR_ERROR_ALREADY_EXISTS,
				     "configuration item \"%s\" is in baseline \"%s\" already",
				     ci.name, b->name);
			goto out;
		}
	if (n >= CONFIGITEM_BASELINE_ITEMS_MAX) {
		pp_error_set(err, HR_E_INVALIDARG,
			     "baseline \"%s\" holds %d configuration items, the most it can",
			     b->name, CONFIGITEM_BASELINE_ITEMS_MAX);
		goto out;
	}
	rc = CI(s)->item_insert(s->impl, b->id, ci.id, err);
out:
	free(items);
	store_ci_clear(&ci);
	return rc;
}

struct baseline_create_ctx {
	const char *name;
	const char *const *items;
	size_t count;
	struct store_baseline *out;
};

static int baseline_create_tx(struct store *s, void *p, struct pp_error *err)
{
	struct baseline_create_ctx *c = p;
	struct store_baseline old;
	bool found = false;

	memset(c->out, 0, sizeof(*c->out));
	if (configitem_check_name(c->name, "a configuration baseline name", err) != 0)
		return -1;
	if (CI(s)->baseline_get(s->impl, c->name, 0, &old, &found, err) != 0)
		return -1;
	if (found) {
		pp_error_set(err, HR_ERROR_ALREADY_EXISTS,
			     "a configuration baseline named \"%s\" already exists", old.name);
		return -1;
	}
	if (c->count > CONFIGITEM_BASELINE_ITEMS_MAX) {
		pp_error_set(err, HR_E_INVALIDARG,
			     "a baseline holds at most %d configuration items",
			     CONFIGITEM_BASELINE_ITEMS_MAX);
		return -1;
	}
	(void)snprintf(c->out->name, sizeof(c->out->name), "%s", c->name);
	c->out->revision = 1;
	c->out->created_at = c->out->updated_at = store_now();
	if (CI(s)->baseline_insert(s->impl, c->out, err) != 0)
		return -1;
	for (size_t i = 0; i < c->count; i++)
		if (add_item(s, c->out, c->items[i], err) != 0)
			return -1;
	c->out->item_count = (int64_t)c->count;
	return 0;
}

int store_baseline_create(struct store *s, const char *name, const char *const *items, size_t count,
			  struct store_baseline *out, struct pp_error *err)
{
	struct baseline_create_ctx c = {name, items, count, out};

	return store_transaction(s, baseline_create_tx, &c, err);
}

struct baseline_item_ctx {
	const char *name, *item;
	bool add;
};

static int baseline_item_tx(struct store *s, void *p, struct pp_error *err)
{
	struct baseline_item_ctx *c = p;
	struct store_baseline b;
	struct store_ci ci;
	bool found = false;
	int rc = -1;

	memset(&ci, 0, sizeof(ci));
	if (store_baseline_get(s, c->name, &b, err) != 0)
		return -1;
	if (c->add) {
		if (add_item(s, &b, c->item, err) != 0)
			return -1;
	} else {
		if (store_ci_get(s, c->item, &ci, err) != 0)
			return -1;
		if (CI(s)->item_delete(s->impl, b.id, ci.id, &found, err) != 0)
			goto out;
		if (!found) {
			pp_error_set(err, HR_CRYPT_E_NOT_FOUND,
				     "configuration item \"%s\" is not in baseline \"%s\"", ci.name,
				     b.name);
			goto out;
		}
		if (b.item_count == 1 && b.deployment_count > 0) {
			pp_error_set(err, HR_E_INVALIDARG,
				     "configuration item \"%s\" is the last of baseline \"%s\", "
				     "which is deployed; undeploy the baseline first",
				     ci.name, b.name);
			goto out;
		}
	}
	rc = CI(s)->baseline_touch(s->impl, b.id, b.revision + 1, store_now(), err);
out:
	store_ci_clear(&ci);
	return rc;
}

int store_baseline_add_item(struct store *s, const char *name, const char *item,
			    struct pp_error *err)
{
	struct baseline_item_ctx c = {name, item, true};

	return store_transaction(s, baseline_item_tx, &c, err);
}

int store_baseline_remove_item(struct store *s, const char *name, const char *item,
			       struct pp_error *err)
{
	struct baseline_item_ctx c = {name, item, false};

	return store_transaction(s, baseline_item_tx, &c, err);
}

static int baseline_delete_tx(struct store *s, void *p, struct pp_error *err)
{
	struct store_baseline_deployment *deps = NULL;
	struct store_baseline b;
	size_t n = 0;
	int rc = -1;

	if (store_baseline_get(s, p, &b, err) != 0 ||
	    store_baseline_deployments(s, b.id, &deps, &n, err) != 0)
		return -1;
	if (n > 0) {
		pp_error_set(err, HR_E_INVALIDARG,
			     "configuration baseline \"%s\" cannot be deleted: it is deployed to "
			     "collection \"%s\"; undeploy it first",
			     b.name, deps[0].collection_name);
		goto out;
	}
	rc = CI(s)->baseline_delete(s->impl, b.id, err);
out:
	free(deps);
	return rc;
}

int store_baseline_delete(struct store *s, const char *name, struct pp_error *err)
{
	return store_transaction(s, baseline_delete_tx, (void *)name, err);
}

struct deploy_ctx {
	const char *name, *collection;
	bool remediate, on;
	int64_t hours;
	struct store_baseline_deployment *out;
};

static int deploy_tx(struct store *s, void *p, struct pp_error *err)
{
	struct deploy_ctx *c = p;
	struct store_baseline_deployment d;
	struct store_collection coll;
	struct store_baseline b;
	bool found = false;

	memset(&d, 0, sizeof(d));
	if (store_baseline_get(s, c->name, &b, err) != 0 ||
	    store_collection_get(s, c->collection, &coll, err) != 0)
		return -1;
	if (!c->on) {
		if (CI(s)->deployment_delete(s->impl, b.id, coll.id, &found, err) != 0)
			return -1;
		if (!found) {
			pp_error_set(err, HR_CRYPT_E_NOT_FOUND,
				     "configuration baseline \"%s\" is not deployed to collection "
				     "\"%s\"",
				     b.name, coll.name);
			return -1;
		}
		return 0;
	}
	if (b.item_count == 0) {
		pp_error_set(err, HR_E_INVALIDARG,
			     "configuration baseline \"%s\" has no configuration items; add one "
			     "before deploying it",
			     b.name);
		return -1;
	}
	d.baseline_id = b.id;
	(void)snprintf(d.baseline_name, sizeof(d.baseline_name), "%s", b.name);
	memcpy(d.collection_id, coll.id, sizeof(d.collection_id));
	(void)snprintf(d.collection_name, sizeof(d.collection_name), "%s", coll.name);
	d.remediate = c->remediate;
	d.schedule_hours = c->hours != 0 ? c->hours : CONFIGITEM_SCHEDULE_HOURS_DEFAULT;
	if (configitem_check_schedule(d.schedule_hours, err) != 0)
		return -1;
	if (b.deployment_count > 0) {
		struct store_baseline_deployment *deps = NULL;
		size_t n = 0;
		bool twice = false;

		if (store_baseline_deployments(s, b.id, &deps, &n, err) != 0)
			return -1;
		for (size_t i = 0; i < n; i++)
			twice = twice || strcmp(deps[i].collection_id, coll.id) == 0;
		free(deps);
		if (twice) {
			pp_error_set(err, HR_ERROR_ALREADY_EXISTS,
				     "configuration baseline \"%s\" is deployed to collection "
				     "\"%s\" already",
				     b.name, coll.name);
			return -1;
		}
	}
	d.created_at = store_now();
	if (CI(s)->deployment_insert(s->impl, &d, err) != 0)
		return -1;
	if (c->out != NULL)
		*c->out = d;
	return 0;
}

int store_baseline_deploy(struct store *s, const char *name, const char *collection, bool remediate,
			  int64_t schedule_hours, struct store_baseline_deployment *out,
			  struct pp_error *err)
{
	struct deploy_ctx c = {name, collection, remediate, true, schedule_hours, out};

	return store_transaction(s, deploy_tx, &c, err);
}

int store_baseline_undeploy(struct store *s, const char *name, const char *collection,
			    struct pp_error *err)
{
	struct deploy_ctx c = {name, collection, false, false, 0, NULL};

	return store_transaction(s, deploy_tx, &c, err);
}

int store_baseline_deployments(struct store *s, int64_t id, struct store_baseline_deployment **out,
			       size_t *count, struct pp_error *err)
{
	*out = NULL;
	*count = 0;
	return CI(s)->deployments(s->impl, id, NULL, out, count, err);
}

int store_device_baseline_deployments(struct store *s, const char *device_id,
				      struct store_baseline_deployment **out, size_t *count,
				      struct pp_error *err)
{
	*out = NULL;
	*count = 0;
	if (device_id == NULL || device_id[0] == '\0') {
		pp_error_set(err, HR_E_INVALIDARG, "no device given");
		return -1;
	}
	return CI(s)->deployments(s->impl, 0, device_id, out, count, err);
}

/* ---- reports ---- */

static int check_report(const struct store_baseline_report *r, size_t index, struct pp_error *err)
{
	if (strlen(r->id) != 36 || r->time <= 0 || r->baseline_id <= 0 ||
	    r->baseline_revision < 1 || r->count > CONFIGITEM_BASELINE_ITEMS_MAX ||
	    (r->count > 0 && r->results == NULL)) {
		pp_error_set(err, HR_E_INVALIDARG, "report %zu: bad id, time, baseline or results",
			     index);
		return -1;
	}
	for (size_t i = 0; i < r->count; i++) {
		const struct store_ci_result *x = &r->results[i];

		if (x->item_id <= 0 || x->item_revision < 1 || x->state >= CONFIGITEM_UNKNOWN ||
		    strnlen(x->detail, sizeof(x->detail)) == sizeof(x->detail)) {
			pp_error_set(err, HR_E_INVALIDARG, "report %zu: result %zu is not valid",
				     index, i);
			return -1;
		}
		for (size_t k = 0; k < i; k++)
			if (r->results[k].item_id == x->item_id) {
				pp_error_set(err, HR_E_INVALIDARG,
					     "report %zu: item %lld has two results", index,
					     (long long)x->item_id);
				return -1;
			}
	}
	return 0;
}

struct reports_ctx {
	const char *device_id;
	const struct store_baseline_report *reports;
	size_t count, accepted, duplicates, ignored;
};

static int reports_tx(struct store *s, void *p, struct pp_error *err)
{
	struct reports_ctx *c = p;
	int64_t now = store_now();
	bool inserted, known;

	c->accepted = c->duplicates = c->ignored = 0;
	for (size_t i = 0; i < c->count; i++) {
		if (CI(s)->report_insert(s->impl, c->device_id, &c->reports[i], now, &inserted,
					 &known, err) != 0)
			return -1;
		if (!known)
			c->ignored++;
		else if (!inserted)
			c->duplicates++;
		else
			c->accepted++;
	}
	return 0;
}

int store_baseline_reports_add(struct store *s, const char *device_id,
			       const struct store_baseline_report *reports, size_t count,
			       size_t *accepted, size_t *duplicates, size_t *ignored,
			       struct pp_error *err)
{
	struct reports_ctx c = {device_id, reports, count, 0, 0, 0};

	*accepted = *duplicates = *ignored = 0;
	if (count > STORE_CI_REPORT_BATCH_MAX) {
		pp_error_set(err, HR_E_INVALIDARG, "at most %d reports at once",
			     STORE_CI_REPORT_BATCH_MAX);
		return -1;
	}
	for (size_t i = 0; i < count; i++)
		if (check_report(&reports[i], i, err) != 0)
			return -1;
	if (store_transaction(s, reports_tx, &c, err) != 0)
		return -1;
	*accepted = c.accepted;
	*duplicates = c.duplicates;
	*ignored = c.ignored;
	return 0;
}

int store_baseline_compliance(struct store *s, int64_t id, struct store_ci_compliance **out,
			      size_t *count, struct pp_error *err)
{
	*out = NULL;
	*count = 0;
	return CI(s)->compliance(s->impl, id, out, count, err);
}
