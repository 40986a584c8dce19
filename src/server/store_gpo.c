/* store_gpo.c - the rules of the site database for group policy objects (store.h, migration
 * 0006), over the backend's GPO primitives (store_sqlite_gpo.c). Every change is one
 * transaction: what is refused leaves the database as it was. */
#include "store_internal.h"

#include "gpo.h"
#include "hresult.h"
#include "pki.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/asn1.h>
#include <openssl/x509.h>

#define GPO(s) ((s)->ops->gpo)

static int check_gpo_name(const char *name, struct pp_error *err)
{
	if (store_check_text(name, STORE_NAME_MAX, false, "GPO name", err) != 0)
		return -1;
	if (strchr(name, '/') != NULL) {
		pp_error_set(err, HR_E_INVALIDARG, "a GPO name may not contain '/'");
		return -1;
	}
	if (gpo_id_valid(name)) {
		pp_error_set(err, HR_E_INVALIDARG,
			     "a GPO name may not be a GUID in braces: that is how GPO ids are "
			     "written");
		return -1;
	}
	return 0;
}

/* The GPO named or numbered id_or_name; CRYPT_E_NOT_FOUND names it. */
static int find_gpo(struct store *s, const char *id_or_name, struct store_gpo *out,
		    struct pp_error *err)
{
	char id[STORE_GPO_ID_LEN + 1];
	bool found = false;

	if (store_check_text(id_or_name, STORE_NAME_MAX, false, "GPO", err) != 0)
		return -1;
	if (GPO(s)->get(s->impl, gpo_id_normalize(id_or_name, id) ? id : id_or_name, out, &found,
			err) != 0)
		return -1;
	if (!found) {
		pp_error_set(err, HR_CRYPT_E_NOT_FOUND, "GPO \"%s\" does not exist", id_or_name);
		return -1;
	}
	return 0;
}

/* Records the change of g: version + 1 and updated_at, into out when not NULL. */
static int bump(struct store *s, struct store_gpo *g, struct store_gpo *out, struct pp_error *err)
{
	uint32_t v;

	if (gpo_version_bump(g->version, g->name, &v, err) != 0)
		return -1;
	g->version = v;
	g->updated_at = store_now();
	if (GPO(s)->set_version(s->impl, g->id, v, g->updated_at, err) != 0)
		return -1;
	if (out != NULL)
		*out = *g;
	return 0;
}

/* ---- create, read, delete ---- */

struct create_ctx {
	const char *name;
	struct store_gpo *out;
};

static int create_tx(struct store *s, void *ctx, struct pp_error *err)
{
	struct create_ctx *c = ctx;
	struct store_gpo g, other;
	bool found = false;

	memset(&g, 0, sizeof(g));
	if (GPO(s)->get(s->impl, c->name, &other, &found, err) != 0)
		return -1;
	if (found) {
		pp_error_set(err, HR_ERROR_ALREADY_EXISTS, "a GPO named \"%s\" exists already (%s)",
			     other.name, other.id);
		return -1;
	}
	if (gpo_id_new(g.id, err) != 0)
		return -1;
	(void)snprintf(g.name, sizeof(g.name), "%s", c->name);
	g.created_at = g.updated_at = store_now();
	if (GPO(s)->insert(s->impl, &g, err) != 0)
		return -1;
	*c->out = g;
	return 0;
}

int store_gpo_create(struct store *s, const char *name, struct store_gpo *out, struct pp_error *err)
{
	struct create_ctx c = {name, out};

	memset(out, 0, sizeof(*out));
	if (check_gpo_name(name, err) != 0)
		return -1;
	return store_transaction(s, create_tx, &c, err);
}

int store_gpo_get(struct store *s, const char *id_or_name, struct store_gpo *out,
		  struct pp_error *err)
{
	memset(out, 0, sizeof(*out));
	return find_gpo(s, id_or_name, out, err);
}

int store_gpo_list(struct store *s, struct store_gpo **out, size_t *count, struct pp_error *err)
{
	*out = NULL;
	*count = 0;
	return GPO(s)->list(s->impl, out, count, err);
}

void store_gpo_certs_free(struct store_gpo_cert *certs, size_t count)
{
	size_t i;

	for (i = 0; certs != NULL && i < count; i++)
		free(certs[i].der);
	free(certs);
}

void store_gpo_contents_free(struct store_gpo_contents *c)
{
	if (c == NULL)
		return;
	store_gpo_certs_free(c->certs, c->ncerts);
	free(c->values);
	free(c->links);
	memset(c, 0, sizeof(*c));
}

struct read_ctx {
	const char *id_or_name;
	struct store_gpo_contents *out;
};

static int read_tx(struct store *s, void *ctx, struct pp_error *err)
{
	struct read_ctx *c = ctx;
	struct store_gpo_contents *o = c->out;

	if (find_gpo(s, c->id_or_name, &o->gpo, err) != 0 ||
	    GPO(s)->cert_list(s->impl, o->gpo.id, &o->certs, &o->ncerts, err) != 0 ||
	    GPO(s)->value_list(s->impl, o->gpo.id, &o->values, &o->nvalues, err) != 0 ||
	    GPO(s)->link_list(s->impl, o->gpo.id, &o->links, &o->nlinks, err) != 0)
		return -1;
	return 0;
}

int store_gpo_read(struct store *s, const char *id_or_name, struct store_gpo_contents *out,
		   struct pp_error *err)
{
	struct read_ctx c;

	memset(out, 0, sizeof(*out));
	c.id_or_name = id_or_name;
	c.out = out;
	/* One transaction: the version and what it numbers are read together. */
	if (store_transaction(s, read_tx, &c, err) != 0) {
		store_gpo_contents_free(out);
		return -1;
	}
	return 0;
}

static int delete_tx(struct store *s, void *ctx, struct pp_error *err)
{
	struct store_gpo g;

	if (find_gpo(s, ctx, &g, err) != 0)
		return -1;
	return GPO(s)->remove(s->impl, g.id, err);
}

int store_gpo_delete(struct store *s, const char *id_or_name, struct pp_error *err)
{
	return store_transaction(s, delete_tx, (void *)id_or_name, err);
}

/* ---- certificates ---- */

struct cert_ctx {
	const char *gpo, *store;
	const uint8_t *der;
	size_t der_len;
	const char *thumbprint;
	struct store_gpo *out;
};

/* The record of one DER certificate for store; E_INVALIDARG when der is not one. */
static int cert_record(const char *store, const uint8_t *der, size_t der_len,
		       struct store_gpo_cert *c, struct pp_error *err)
{
	const unsigned char *p = der;
	X509 *x = NULL;
	int rc = -1, day = 0, sec = 0;
	ASN1_TIME *epoch = NULL;

	memset(c, 0, sizeof(*c));
	if (der == NULL || der_len == 0 || der_len > STORE_CERT_DER_MAX) {
		pp_error_set(err, HR_E_INVALIDARG, "the certificate must be 1 to %d bytes of DER",
			     STORE_CERT_DER_MAX);
		return -1;
	}
	x = d2i_X509(NULL, &p, (long)der_len);
	if (x == NULL || p != der + der_len) {
		pp_error_set(err, HR_E_INVALIDARG,
			     "the data is not one DER-encoded X.509 certificate");
		goto out;
	}
	(void)snprintf(c->store, sizeof(c->store), "%s", store);
	if (pki_thumbprint(x, c->thumbprint) != 0) {
		pp_error_set(err, HR_E_INVALIDARG, "the certificate's thumbprint cannot be made");
		goto out;
	}
	pki_simple_name(x, c->subject, sizeof(c->subject));
	epoch = ASN1_TIME_set(NULL, 0);
	if (epoch != NULL && ASN1_TIME_diff(&day, &sec, epoch, X509_get0_notAfter(x)) == 1)
		c->not_after = (int64_t)day * 86400 + sec;
	c->der = malloc(der_len);
	if (c->der == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
		goto out;
	}
	memcpy(c->der, der, der_len);
	c->der_len = der_len;
	c->added_at = store_now();
	rc = 0;
out:
	ASN1_TIME_free(epoch);
	X509_free(x);
	return rc;
}

static int cert_add_tx(struct store *s, void *ctx, struct pp_error *err)
{
	struct cert_ctx *c = ctx;
	struct store_gpo_cert rec, *list = NULL;
	struct store_gpo g;
	size_t n = 0, i;
	int rc = -1;

	memset(&rec, 0, sizeof(rec));
	if (find_gpo(s, c->gpo, &g, err) != 0 ||
	    cert_record(c->store, c->der, c->der_len, &rec, err) != 0 ||
	    GPO(s)->cert_list(s->impl, g.id, &list, &n, err) != 0)
		goto out;
	for (i = 0; i < n; i++)
		if (strcmp(list[i].store, rec.store) == 0 &&
		    strcmp(list[i].thumbprint, rec.thumbprint) == 0) {
			pp_error_set(err, HR_ERROR_ALREADY_EXISTS,
				     "certificate %s is already in the %s store of GPO \"%s\"",
				     rec.thumbprint, rec.store, g.name);
			goto out;
		}
	if (n >= STORE_GPO_CERTS_MAX) {
		pp_error_set(err, HR_E_INVALIDARG,
			     "GPO \"%s\" holds %d certificates, the most it can", g.name,
			     STORE_GPO_CERTS_MAX);
		goto out;
	}
	if (GPO(s)->cert_insert(s->impl, g.id, &rec, err) != 0 || bump(s, &g, c->out, err) != 0)
		goto out;
	rc = 0;
out:
	free(rec.der);
	store_gpo_certs_free(list, n);
	return rc;
}

int store_gpo_cert_add(struct store *s, const char *id_or_name, const char *store,
		       const uint8_t *der, size_t der_len, struct store_gpo *out,
		       struct pp_error *err)
{
	struct cert_ctx c = {id_or_name, NULL, der, der_len, NULL, out};

	if (gpo_store_parse(store, &c.store, err) != 0)
		return -1;
	return store_transaction(s, cert_add_tx, &c, err);
}

static int cert_remove_tx(struct store *s, void *ctx, struct pp_error *err)
{
	struct cert_ctx *c = ctx;
	struct store_gpo g;
	bool found = false;

	if (find_gpo(s, c->gpo, &g, err) != 0 ||
	    GPO(s)->cert_delete(s->impl, g.id, c->store, c->thumbprint, &found, err) != 0)
		return -1;
	if (!found) {
		pp_error_set(err, HR_CRYPT_E_NOT_FOUND,
			     "certificate %s is not in the %s store of GPO \"%s\"", c->thumbprint,
			     c->store, g.name);
		return -1;
	}
	return bump(s, &g, NULL, err);
}

int store_gpo_cert_remove(struct store *s, const char *id_or_name, const char *store,
			  const char *thumbprint, struct pp_error *err)
{
	char thumb[PKI_THUMBPRINT_LEN + 1];
	struct cert_ctx c = {id_or_name, NULL, NULL, 0, thumb, NULL};

	if (gpo_store_parse(store, &c.store, err) != 0)
		return -1;
	if (thumbprint == NULL || pki_thumbprint_normalize(thumbprint, thumb) != 0) {
		pp_error_set(err, HR_E_INVALIDARG,
			     "\"%.64s\" is not a certificate thumbprint (40 hexadecimal digits)",
			     thumbprint != NULL ? thumbprint : "");
		return -1;
	}
	return store_transaction(s, cert_remove_tx, &c, err);
}

/* ---- policy values ---- */

struct value_ctx {
	const char *gpo;
	struct store_gpo_value v;
	bool *changed;
	struct store_gpo *out;
};

static int value_tx(struct store *s, void *ctx, struct pp_error *err)
{
	struct value_ctx *c = ctx;
	struct store_gpo_value *list = NULL;
	struct store_gpo g;
	size_t n = 0, i;
	int rc = -1;

	*c->changed = true;
	if (find_gpo(s, c->gpo, &g, err) != 0 ||
	    GPO(s)->value_list(s->impl, g.id, &list, &n, err) != 0)
		goto out;
	for (i = 0; i < n; i++)
		if (strcmp(list[i].name, c->v.name) == 0 && list[i].value == c->v.value)
			*c->changed = false;
	if (!*c->changed) {
		if (c->out != NULL)
			*c->out = g;
		rc = 0;
		goto out;
	}
	if (GPO(s)->value_put(s->impl, g.id, &c->v, err) != 0 || bump(s, &g, c->out, err) != 0)
		goto out;
	rc = 0;
out:
	free(list);
	return rc;
}

int store_gpo_value_set(struct store *s, const char *id_or_name, const char *name, uint32_t value,
			bool *changed, struct store_gpo *out, struct pp_error *err)
{
	struct value_ctx c;
	const char *canonical, *key;
	bool dummy = false;

	memset(&c, 0, sizeof(c));
	c.gpo = id_or_name;
	c.changed = changed != NULL ? changed : &dummy;
	c.out = out;
	if (gpo_policy_parse(name, &canonical, &key, err) != 0 ||
	    gpo_policy_value_check(canonical, value, err) != 0)
		return -1;
	(void)snprintf(c.v.name, sizeof(c.v.name), "%s", canonical);
	c.v.value = value;
	return store_transaction(s, value_tx, &c, err);
}

static int value_clear_tx(struct store *s, void *ctx, struct pp_error *err)
{
	struct value_ctx *c = ctx;
	struct store_gpo g;
	bool found = false;

	if (find_gpo(s, c->gpo, &g, err) != 0 ||
	    GPO(s)->value_delete(s->impl, g.id, c->v.name, &found, err) != 0)
		return -1;
	if (!found) {
		pp_error_set(err, HR_CRYPT_E_NOT_FOUND, "GPO \"%s\" does not set %s", g.name,
			     c->v.name);
		return -1;
	}
	return bump(s, &g, c->out, err);
}

int store_gpo_value_clear(struct store *s, const char *id_or_name, const char *name,
			  struct store_gpo *out, struct pp_error *err)
{
	struct value_ctx c;
	const char *canonical, *key;

	memset(&c, 0, sizeof(c));
	c.gpo = id_or_name;
	c.out = out;
	if (gpo_policy_parse(name, &canonical, &key, err) != 0)
		return -1;
	(void)snprintf(c.v.name, sizeof(c.v.name), "%s", canonical);
	return store_transaction(s, value_clear_tx, &c, err);
}

/* ---- links ---- */

struct link_ctx {
	const char *gpo, *collection;
	int64_t order;
	struct store_gpo_link *out;
};

/* The links on one collection, by link order. */
static int collection_links(struct store *s, const char *collection_id, struct store_gpo_link **out,
			    size_t *count, struct pp_error *err)
{
	struct store_gpo_link *all = NULL;
	size_t n = 0, i, k = 0;

	*out = NULL;
	*count = 0;
	if (GPO(s)->link_list(s->impl, NULL, &all, &n, err) != 0)
		return -1;
	for (i = 0; i < n; i++)
		if (strcmp(all[i].collection_id, collection_id) == 0)
			all[k++] = all[i];
	if (k == 0) {
		free(all);
		return 0;
	}
	*out = all;
	*count = k;
	return 0;
}

/* Writes link orders 1..n to links in their order, skipping those already right. */
static int renumber(struct store *s, const struct store_gpo_link *links, size_t n,
		    struct pp_error *err)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (links[i].link_order != (int64_t)i + 1 &&
		    GPO(s)->link_set_order(s->impl, links[i].gpo_id, links[i].collection_id,
					   (int64_t)i + 1, err) != 0)
			return -1;
	return 0;
}

static int link_tx(struct store *s, void *ctx, struct pp_error *err)
{
	struct link_ctx *c = ctx;
	struct store_gpo_link *links = NULL, *grown = NULL, l;
	struct store_collection coll;
	struct store_gpo g;
	size_t n = 0, i, at;
	int rc = -1;

	memset(&l, 0, sizeof(l));
	if (find_gpo(s, c->gpo, &g, err) != 0 ||
	    store_collection_get(s, c->collection, &coll, err) != 0 ||
	    collection_links(s, coll.id, &links, &n, err) != 0)
		goto out;
	for (i = 0; i < n; i++)
		if (strcmp(links[i].gpo_id, g.id) == 0) {
			pp_error_set(
			    err, HR_ERROR_ALREADY_EXISTS,
			    "GPO \"%s\" is already linked to collection \"%s\" (link order "
			    "%lld)",
			    g.name, coll.name, (long long)links[i].link_order);
			goto out;
		}
	if (n >= STORE_GPO_LINKS_MAX) {
		pp_error_set(err, HR_E_INVALIDARG,
			     "collection \"%s\" has %d GPO links, the most it can", coll.name,
			     STORE_GPO_LINKS_MAX);
		goto out;
	}
	if (c->order < 0 || c->order > (int64_t)n + 1) {
		pp_error_set(err, HR_E_INVALIDARG,
			     "link order %lld is not 1 to %zu (collection \"%s\" has %zu GPO "
			     "link(s))",
			     (long long)c->order, n + 1, coll.name, n);
		goto out;
	}
	at = c->order == 0 ? n : (size_t)c->order - 1;
	memcpy(l.gpo_id, g.id, sizeof(l.gpo_id));
	memcpy(l.gpo_name, g.name, sizeof(l.gpo_name));
	l.gpo_version = g.version;
	memcpy(l.collection_id, coll.id, sizeof(l.collection_id));
	memcpy(l.collection_name, coll.name, sizeof(l.collection_name));
	l.link_order = (int64_t)at + 1;
	l.created_at = store_now();
	/* The links at the new one's place and after move down by one, the last first. */
	grown = realloc(links, (n + 1) * sizeof(*links));
	if (grown == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
		goto out;
	}
	links = grown;
	memmove(&links[at + 1], &links[at], (n - at) * sizeof(*links));
	links[at] = l;
	links[at].link_order = 0; /* not stored yet: renumber leaves it */
	for (i = n + 1; i-- > at + 1;)
		if (GPO(s)->link_set_order(s->impl, links[i].gpo_id, links[i].collection_id,
					   (int64_t)i + 1, err) != 0)
			goto out;
	if (GPO(s)->link_insert(s->impl, &l, err) != 0)
		goto out;
	if (c->out != NULL)
		*c->out = l;
	rc = 0;
out:
	free(links);
	return rc;
}

int store_gpo_link(struct store *s, const char *id_or_name, const char *collection, int64_t order,
		   struct store_gpo_link *out, struct pp_error *err)
{
	struct link_ctx c = {id_or_name, collection, order, out};

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	return store_transaction(s, link_tx, &c, err);
}

static int unlink_tx(struct store *s, void *ctx, struct pp_error *err)
{
	struct link_ctx *c = ctx;
	struct store_gpo_link *links = NULL;
	struct store_collection coll;
	struct store_gpo g;
	size_t n = 0, i, k = 0;
	bool found = false;
	int rc = -1;

	if (find_gpo(s, c->gpo, &g, err) != 0 ||
	    store_collection_get(s, c->collection, &coll, err) != 0 ||
	    GPO(s)->link_delete(s->impl, g.id, coll.id, &found, err) != 0)
		goto out;
	if (!found) {
		pp_error_set(err, HR_CRYPT_E_NOT_FOUND,
			     "GPO \"%s\" is not linked to collection \"%s\"", g.name, coll.name);
		goto out;
	}
	if (collection_links(s, coll.id, &links, &n, err) != 0)
		goto out;
	for (i = 0; i < n; i++)
		if (strcmp(links[i].gpo_id, g.id) != 0)
			links[k++] = links[i];
	if (renumber(s, links, k, err) != 0)
		goto out;
	rc = 0;
out:
	free(links);
	return rc;
}

int store_gpo_unlink(struct store *s, const char *id_or_name, const char *collection,
		     struct pp_error *err)
{
	struct link_ctx c = {id_or_name, collection, 0, NULL};

	return store_transaction(s, unlink_tx, &c, err);
}

int store_gpo_links(struct store *s, const char *gpo_id, struct store_gpo_link **out, size_t *count,
		    struct pp_error *err)
{
	*out = NULL;
	*count = 0;
	return GPO(s)->link_list(s->impl, gpo_id, out, count, err);
}

struct device_ctx {
	const char *device_id;
	struct store_gpo_link **out;
	size_t *count;
};

static int device_gpos_tx(struct store *s, void *ctx, struct pp_error *err)
{
	struct device_ctx *c = ctx;
	struct store_collection *colls = NULL;
	struct store_gpo_link *links = NULL;
	size_t ncolls = 0, nlinks = 0;
	int rc = -1;

	if (store_device_collections(s, c->device_id, &colls, &ncolls, err) != 0 ||
	    GPO(s)->link_list(s->impl, NULL, &links, &nlinks, err) != 0 ||
	    gpo_application_order(links, nlinks, colls, ncolls, c->out, c->count, err) != 0)
		goto out;
	rc = 0;
out:
	free(colls);
	free(links);
	return rc;
}

int store_device_gpos(struct store *s, const char *device_id, struct store_gpo_link **out,
		      size_t *count, struct pp_error *err)
{
	struct device_ctx c = {device_id, out, count};

	*out = NULL;
	*count = 0;
	return store_transaction(s, device_gpos_tx, &c, err);
}
