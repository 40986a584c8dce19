/* gpo.c - the model of a group policy object (see gpo.h). */
#include "gpo.h"

#include "hresult.h"
#include "machinepolicy.h"
#include "pki.h"
#include "regpol.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include <openssl/x509.h>

/* ---- ids ---- */

int gpo_id_new(char out[STORE_GPO_ID_LEN + 1], struct pp_error *err)
{
	unsigned char b[16];
	ssize_t got;

	do
		got = getrandom(b, sizeof(b), 0);
	while (got < 0 && errno == EINTR);
	if (got != (ssize_t)sizeof(b)) {
		pp_error_set_errno(err, got < 0 ? errno : EIO, "no random bytes for a GPO id");
		return -1;
	}
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
	(void)snprintf(out, STORE_GPO_ID_LEN + 1,
		       "{%02X%02X%02X%02X-%02X%02X-%02X%02X-%02X%02X-%02X%02X%02X%02X%02X%02X}",
		       b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11],
		       b[12], b[13], b[14], b[15]);
	return 0;
}

bool gpo_id_valid(const char *s)
{
	size_t i;

	if (s == NULL || strlen(s) != STORE_GPO_ID_LEN || s[0] != '{' ||
	    s[STORE_GPO_ID_LEN - 1] != '}')
		return false;
	for (i = 1; i < STORE_GPO_ID_LEN - 1; i++) {
		bool dash = i == 9 || i == 14 || i == 19 || i == 24;

		if (dash ? s[i] != '-' : strchr("0123456789abcdefABCDEF", s[i]) == NULL)
			return false;
	}
	return true;
}

bool gpo_id_normalize(const char *s, char out[STORE_GPO_ID_LEN + 1])
{
	size_t i;

	out[0] = '\0';
	if (!gpo_id_valid(s))
		return false;
	for (i = 0; i <= STORE_GPO_ID_LEN; i++)
		out[i] = (char)(s[i] >= 'a' && s[i] <= 'f' ? s[i] - 'a' + 'A' : s[i]);
	return true;
}

/* ---- versions ---- */

uint32_t gpo_version_machine(uint32_t version)
{
	return version & 0xFFFFu;
}

uint32_t gpo_version_user(uint32_t version)
{
	return version >> 16;
}

int gpo_version_bump(uint32_t version, const char *name, uint32_t *out, struct pp_error *err)
{
	if (gpo_version_machine(version) >= STORE_GPO_MACHINE_MAX) {
		pp_error_set(err, HR_E_INVALIDARG,
			     "GPO \"%s\" is at machine version %u, the largest GPT.INI can hold; "
			     "make a new GPO instead",
			     name, (unsigned)STORE_GPO_MACHINE_MAX);
		return -1;
	}
	*out = version + 1;
	return 0;
}

/* ---- what a GPO may hold ---- */

static const char *const gpo_stores[] = {"Root", "TrustedPublisher"};

int gpo_store_parse(const char *name, const char **canonical, struct pp_error *err)
{
	size_t i;

	for (i = 0; name != NULL && i < sizeof(gpo_stores) / sizeof(gpo_stores[0]); i++)
		if (strcasecmp(name, gpo_stores[i]) == 0) {
			*canonical = gpo_stores[i];
			return 0;
		}
	pp_error_set(err, HR_E_INVALIDARG,
		     "unknown store \"%.64s\": a GPO deploys certificates to Root or "
		     "TrustedPublisher",
		     name != NULL ? name : "");
	return -1;
}

int gpo_policy_parse(const char *name, const char **canonical, const char **key,
		     struct pp_error *err)
{
	if (name != NULL && strcasecmp(name, MACHINEPOLICY_ACCEPT_TRUSTED_PUBLISHER_CERTS) == 0) {
		*canonical = MACHINEPOLICY_ACCEPT_TRUSTED_PUBLISHER_CERTS;
		*key = machinepolicy_registry_key(MACHINEPOLICY_ACCEPT_TRUSTED_PUBLISHER_CERTS);
		return 0;
	}
	pp_error_set(
	    err, HR_E_INVALIDARG,
	    "unknown policy \"%.64s\": a GPO sets " MACHINEPOLICY_ACCEPT_TRUSTED_PUBLISHER_CERTS,
	    name != NULL ? name : "");
	return -1;
}

int gpo_policy_value_check(const char *name, uint32_t value, struct pp_error *err)
{
	if (value <= 1)
		return 0;
	pp_error_set(err, HR_E_INVALIDARG, "%s is 1 (Enabled) or 0 (Disabled), not %lu", name,
		     (unsigned long)value);
	return -1;
}

/* ---- files ---- */

size_t gpo_gpt_ini(uint32_t version, char out[GPO_GPT_INI_MAX])
{
	int n =
	    snprintf(out, GPO_GPT_INI_MAX, "[General]\r\nVersion=%lu\r\n", (unsigned long)version);

	return n > 0 ? (size_t)n : 0;
}

/* One entry of the Registry.pol being built, before sorting. */
struct pol_item {
	char *key;
	const char *value;
	uint32_t type;
	uint8_t *data; /* owned */
	size_t size;
};

static int pol_item_cmp(const void *a, const void *b)
{
	const struct pol_item *x = a, *y = b;
	int c = strcasecmp(x->key, y->key);

	return c != 0 ? c : strcasecmp(x->value, y->value);
}

/* The Blob item of one certificate, checked against its recorded thumbprint. */
static int cert_item(const struct store_gpo_cert *c, struct pol_item *it, struct pp_error *err)
{
	const unsigned char *p = c->der;
	char thumb[PKI_THUMBPRINT_LEN + 1];
	X509 *x = NULL;
	int rc = -1;

	x = c->der != NULL ? d2i_X509(NULL, &p, (long)c->der_len) : NULL;
	if (x == NULL || p != c->der + c->der_len || pki_thumbprint(x, thumb) != 0 ||
	    strcmp(thumb, c->thumbprint) != 0) {
		pp_error_set(err, HR_ERROR_INVALID_DATA,
			     "site database: the %s certificate %s of the GPO is not the "
			     "certificate with that thumbprint",
			     c->store, c->thumbprint);
		goto out;
	}
	if (asprintf(&it->key, "%s%s\\Certificates\\%s", REGPOL_CERT_KEY_PREFIX, c->store,
		     c->thumbprint) < 0) {
		it->key = NULL;
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory building Registry.pol");
		goto out;
	}
	it->value = REGPOL_CERT_VALUE;
	it->type = REGPOL_REG_BINARY;
	if (regpol_cert_blob_make(x, &it->data, &it->size, err) != 0)
		goto out;
	rc = 0;
out:
	X509_free(x);
	return rc;
}

static int value_item(const struct store_gpo_value *v, struct pol_item *it, struct pp_error *err)
{
	const char *name, *key;

	if (gpo_policy_parse(v->name, &name, &key, err) != 0 ||
	    gpo_policy_value_check(name, v->value, err) != 0)
		return -1;
	it->key = strdup(key);
	it->data = malloc(4);
	if (it->key == NULL || it->data == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory building Registry.pol");
		return -1;
	}
	it->value = name;
	it->type = REGPOL_REG_DWORD;
	regpol_dword_make(v->value, it->data);
	it->size = 4;
	return 0;
}

int gpo_registry_pol(const struct store_gpo_cert *certs, size_t ncerts,
		     const struct store_gpo_value *values, size_t nvalues, uint8_t **out,
		     size_t *len, struct pp_error *err)
{
	struct pol_item *items = NULL;
	struct regpol *pol = NULL;
	size_t i, n = ncerts + nvalues;
	int rc = -1;

	*out = NULL;
	*len = 0;
	if (ncerts > STORE_GPO_CERTS_MAX || nvalues > STORE_GPO_CERTS_MAX) {
		pp_error_set(err, HR_E_INVALIDARG, "a GPO holds at most %d certificates",
			     STORE_GPO_CERTS_MAX);
		return -1;
	}
	items = calloc(n + 1, sizeof(*items));
	pol = regpol_new(err);
	if (items == NULL || pol == NULL) {
		if (items == NULL)
			pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory building Registry.pol");
		goto out;
	}
	for (i = 0; i < ncerts; i++)
		if (cert_item(&certs[i], &items[i], err) != 0)
			goto out;
	for (i = 0; i < nvalues; i++)
		if (value_item(&values[i], &items[ncerts + i], err) != 0)
			goto out;
	qsort(items, n, sizeof(*items), pol_item_cmp);
	for (i = 0; i < n; i++)
		if (regpol_add(pol, items[i].key, items[i].value, items[i].type, items[i].data,
			       items[i].size, err) != 0)
			goto out;
	rc = regpol_serialize(pol, out, len, err);
out:
	for (i = 0; items != NULL && i < n; i++) {
		free(items[i].key);
		free(items[i].data);
	}
	free(items);
	regpol_free(pol);
	return rc;
}

/* ---- application order ---- */

int gpo_application_order(const struct store_gpo_link *links, size_t nlinks,
			  const struct store_collection *collections, size_t ncollections,
			  struct store_gpo_link **out, size_t *count, struct pp_error *err)
{
	struct store_gpo_link *arr = NULL;
	size_t n = 0, c, i, k;
	int64_t order, top;

	*out = NULL;
	*count = 0;
	if (nlinks == 0)
		return 0;
	arr = calloc(nlinks, sizeof(*arr));
	if (arr == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory ordering the GPOs");
		return -1;
	}
	for (c = 0; c < ncollections; c++) {
		top = 0;
		for (i = 0; i < nlinks; i++)
			if (strcmp(links[i].collection_id, collections[c].id) == 0 &&
			    links[i].link_order > top)
				top = links[i].link_order;
		/* From the lowest precedence (the largest number) to link order 1. */
		for (order = top; order >= 1; order--) {
			for (i = 0; i < nlinks; i++) {
				if (links[i].link_order != order ||
				    strcmp(links[i].collection_id, collections[c].id) != 0)
					continue;
				/* Applied again later: its earlier place goes. */
				for (k = 0; k < n; k++)
					if (strcmp(arr[k].gpo_id, links[i].gpo_id) == 0) {
						memmove(&arr[k], &arr[k + 1],
							(n - k - 1) * sizeof(*arr));
						n--;
						break;
					}
				arr[n++] = links[i];
			}
		}
	}
	if (n == 0) {
		free(arr);
		return 0;
	}
	*out = arr;
	*count = n;
	return 0;
}
