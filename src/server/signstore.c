/* signstore.c - the rules of a signing store over its backend's primitives, and the local
 * backend (the signer child). See signstore.h. */
#include "signstore.h"

#include "hresult.h"
#include "pki.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>

struct signstore {
	const struct signstore_ops *ops;
	void *impl;
	char where[512];
};

struct signstore *signstore_new(const struct signstore_ops *ops, void *impl, const char *where,
				struct pp_error *err)
{
	struct signstore *st = calloc(1, sizeof(*st));

	if (st == NULL) {
		ops->close(impl);
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
		return NULL;
	}
	st->ops = ops;
	st->impl = impl;
	(void)snprintf(st->where, sizeof(st->where), "%s", where != NULL ? where : "");
	return st;
}

void signstore_free(struct signstore *st)
{
	if (st == NULL)
		return;
	st->ops->close(st->impl);
	free(st);
}

const char *signstore_where(const struct signstore *st)
{
	return st->where;
}

int signstore_list(struct signstore *st, struct signer_cert **certs, size_t *count,
		   struct pp_error *err)
{
	*certs = NULL;
	*count = 0;
	return st->ops->list(st->impl, certs, count, err);
}

int signstore_remove(struct signstore *st, const char *thumbprint, struct pp_error *err)
{
	return st->ops->remove(st->impl, thumbprint, err);
}

bool signstore_usable(const struct signer_cert *c, time_t now)
{
	struct pki_check chk;

	if (c->cert == NULL || !c->has_key)
		return false;
	/* The key lives in the signer, so check without it: the requirement about the key is the
	 * last one pki_check_wsus adds, and has_key already answers it. */
	return pki_check_wsus(c->cert, NULL, now, &chk) == 1;
}

/* -1, 0 or 1 as a's notAfter is before, equal to or after b's. */
static int cmp_time(const ASN1_TIME *a, const ASN1_TIME *b)
{
	int day = 0, sec = 0;

	if (ASN1_TIME_diff(&day, &sec, b, a) != 1)
		return 0;
	if (day > 0 || (day == 0 && sec > 0))
		return 1;
	if (day < 0 || sec < 0)
		return -1;
	return 0;
}

int signstore_pick(const struct signer_cert *certs, size_t count, time_t now)
{
	int best = -1;

	for (size_t i = 0; i < count; i++) {
		const struct signer_cert *c = &certs[i], *b;
		int order;

		if (!signstore_usable(c, now))
			continue;
		if (best < 0) {
			best = (int)i;
			continue;
		}
		b = &certs[best];
		order = cmp_time(X509_get0_notAfter(c->cert), X509_get0_notAfter(b->cert));
		if (order == 0)
			order =
			    cmp_time(X509_get0_notBefore(c->cert), X509_get0_notBefore(b->cert));
		if (order == 0)
			order = strcmp(c->thumbprint, b->thumbprint) < 0 ? 1 : -1;
		if (order > 0)
			best = (int)i;
	}
	return best;
}

/* Removes every certificate but keep; the first failure is reported in err. */
static void remove_others(struct signstore *st, const char *keep, unsigned *removed,
			  struct pp_error *err)
{
	struct signer_cert *certs = NULL;
	size_t n = 0;
	struct pp_error e;

	pp_error_clear(&e);
	if (signstore_list(st, &certs, &n, &e) != 0) {
		pp_error_set(err, e.code,
			     "the new certificate is registered, but the old ones "
			     "could not be listed for removal: %s",
			     e.message);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (strcmp(certs[i].thumbprint, keep) == 0)
			continue;
		pp_error_clear(&e);
		if (st->ops->remove(st->impl, certs[i].thumbprint, &e) != 0) {
			pp_error_set(err, e.code,
				     "the new certificate is registered, but %s could not be "
				     "removed: %s",
				     certs[i].thumbprint, e.message);
			continue;
		}
		if (removed != NULL)
			(*removed)++;
	}
	signer_certs_free(certs, n);
}

int signstore_register_generated(struct signstore *st, const struct signer_generate_options *opts,
				 bool keep_existing, struct signer_cert *out, unsigned *removed,
				 struct pp_error *err)
{
	if (removed != NULL)
		*removed = 0;
	if (st->ops->generate(st->impl, opts, out, err) != 0)
		return -1;
	if (!keep_existing)
		remove_others(st, out->thumbprint, removed, err);
	return 0;
}

int signstore_register_pfx(struct signstore *st, const uint8_t *pfx, size_t pfx_len,
			   const char *password, bool exportable, bool keep_existing,
			   struct signer_cert *out, unsigned *removed, struct pp_error *err)
{
	if (removed != NULL)
		*removed = 0;
	if (st->ops->import_pfx(st->impl, pfx, pfx_len, password, exportable, out, err) != 0)
		return -1;
	if (!keep_existing)
		remove_others(st, out->thumbprint, removed, err);
	return 0;
}

/* ---- the local backend: the signer child ---- */

static int local_list(void *impl, struct signer_cert **certs, size_t *count, struct pp_error *err)
{
	return signer_list(impl, certs, count, err);
}

static int local_generate(void *impl, const struct signer_generate_options *opts,
			  struct signer_cert *out, struct pp_error *err)
{
	return signer_generate(impl, opts, out, err);
}

static int local_import(void *impl, const uint8_t *pfx, size_t pfx_len, const char *password,
			bool exportable, struct signer_cert *out, struct pp_error *err)
{
	return signer_import_pfx(impl, pfx, pfx_len, password, exportable, out, err);
}

static int local_remove(void *impl, const char *thumbprint, struct pp_error *err)
{
	return signer_delete(impl, thumbprint, err);
}

static void local_close(void *impl)
{
	(void)impl; /* the signer belongs to the caller */
}

static const struct signstore_ops local_ops = {
    .list = local_list,
    .generate = local_generate,
    .import_pfx = local_import,
    .remove = local_remove,
    .close = local_close,
};

struct signstore *signstore_local(struct signer *signer, struct pp_error *err)
{
	return signstore_new(&local_ops, signer, "the signer of this server", err);
}
