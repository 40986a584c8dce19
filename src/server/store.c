/* store.c - the domain rules of the site database, over a backend's primitive operations. */
#include "store.h"
#include "store_internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

struct store *store_new(const struct store_ops *ops, void *impl, struct pp_error *err)
{
	struct store *s = calloc(1, sizeof(*s));

	if (s == NULL) {
		ops->close(impl);
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory opening the site database");
		return NULL;
	}
	s->ops = ops;
	s->impl = impl;
	return s;
}

void store_close(struct store *s)
{
	if (s == NULL)
		return;
	s->ops->close(s->impl);
	free(s);
}

int store_schema_version(struct store *s, int *version, struct pp_error *err)
{
	return s->ops->schema_version(s->impl, version, err);
}

int store_transaction(struct store *s, store_tx_fn fn, void *ctx, struct pp_error *err)
{
	if (s->ops->begin(s->impl, err) != 0)
		return -1;
	if (fn(s, ctx, err) != 0) {
		s->ops->rollback(s->impl);
		if (err != NULL && err->code == 0)
			pp_error_set(err, HR_E_FAIL, "transaction rolled back");
		return -1;
	}
	if (s->ops->commit(s->impl, err) != 0) {
		s->ops->rollback(s->impl);
		return -1;
	}
	return 0;
}

int64_t store_now(void)
{
	return (int64_t)time(NULL);
}

/* ---- names ---- */

static const char *const cert_type_names[] = {"Third-party WSUS Signing",
					      "Third-party Software Updates Catalog",
					      "Third-party Software Updates Content"};
static const char *const cert_mode_names[] = {"managed", "manual"};
static const char *const sync_state_names[] = {"running", "succeeded", "failed"};

const char *store_certificate_type_name(enum store_certificate_type type)
{
	if ((unsigned)type >= sizeof(cert_type_names) / sizeof(cert_type_names[0]))
		return "unknown";
	return cert_type_names[type];
}

const char *store_certificate_mode_name(enum store_certificate_mode mode)
{
	if ((unsigned)mode >= sizeof(cert_mode_names) / sizeof(cert_mode_names[0]))
		return "unknown";
	return cert_mode_names[mode];
}

const char *store_sync_state_name(enum store_sync_state state)
{
	if ((unsigned)state >= sizeof(sync_state_names) / sizeof(sync_state_names[0]))
		return "unknown";
	return sync_state_names[state];
}

int store_certificate_mode_parse(const char *name, enum store_certificate_mode *mode,
				 struct pp_error *err)
{
	for (unsigned i = 0; i < sizeof(cert_mode_names) / sizeof(cert_mode_names[0]); i++) {
		if (name != NULL && strcmp(name, cert_mode_names[i]) == 0) {
			*mode = (enum store_certificate_mode)i;
			return 0;
		}
	}
	pp_error_set(err, HR_E_INVALIDARG, "certificate mode \"%s\" is not managed or manual",
		     name != NULL ? name : "");
	return -1;
}

int store_certificate_type_parse(const char *name, enum store_certificate_type *type,
				 struct pp_error *err)
{
	for (unsigned i = 0; i < sizeof(cert_type_names) / sizeof(cert_type_names[0]); i++) {
		if (name != NULL && strcmp(name, cert_type_names[i]) == 0) {
			*type = (enum store_certificate_type)i;
			return 0;
		}
	}
	pp_error_set(
	    err, HR_E_INVALIDARG, "certificate type \"%s\" is not one of \"%s\", \"%s\", \"%s\"",
	    name != NULL ? name : "", cert_type_names[0], cert_type_names[1], cert_type_names[2]);
	return -1;
}

/* ---- validation ---- */

static int check_site_code(const char *code, const char *what, struct pp_error *err)
{
	/* Windows reserves these device names; Configuration Manager refuses them as site codes. */
	static const char *const reserved[] = {"AUX", "CON", "NUL", "PRN", "SMS"};

	if (code == NULL || strlen(code) != STORE_SITE_CODE_LEN)
		goto bad;
	for (size_t i = 0; i < STORE_SITE_CODE_LEN; i++) {
		char c = code[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
			goto bad;
	}
	for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++) {
		if (strcmp(code, reserved[i]) == 0) {
			pp_error_set(err, HR_E_INVALIDARG, "%s \"%s\" is a reserved name", what,
				     code);
			return -1;
		}
	}
	return 0;
bad:
	pp_error_set(err, HR_E_INVALIDARG,
		     "%s \"%.16s\" is not 3 characters of A-Z and 0-9 (for example PP1)", what,
		     code != NULL ? code : "");
	return -1;
}

int store_check_text(const char *text, size_t max, bool empty_ok, const char *what,
		     struct pp_error *err)
{
	size_t len;

	if (text == NULL)
		text = "";
	len = strnlen(text, max);
	if (len == max) {
		pp_error_set(err, HR_E_INVALIDARG, "%s is longer than %zu bytes", what, max - 1);
		return -1;
	}
	if (len == 0 && !empty_ok) {
		pp_error_set(err, HR_E_INVALIDARG, "%s is empty", what);
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)text[i] < 0x20 || text[i] == 0x7F) {
			pp_error_set(err, HR_E_INVALIDARG, "%s contains a control character", what);
			return -1;
		}
	}
	return 0;
}

static int check_url(const char *url, struct pp_error *err)
{
	const char *host;

	if (store_check_text(url, STORE_URL_MAX, false, "SUP URL", err) != 0)
		return -1;
	if (strncasecmp(url, "https://", 8) == 0)
		host = url + 8;
	else if (strncasecmp(url, "http://", 7) == 0)
		host = url + 7;
	else
		goto bad;
	if (host[0] == '\0' || host[0] == '/' || host[0] == ':' || host[0] == '?' || host[0] == '#')
		goto bad;
	for (const char *p = url; *p != '\0'; p++) {
		if (*p == ' ' || *p == '\\')
			goto bad;
	}
	return 0;
bad:
	pp_error_set(err, HR_E_INVALIDARG,
		     "SUP URL \"%.200s\" is not an http:// or https:// URL with a host name", url);
	return -1;
}

/* Upper-cases a thumbprint into out after checking it is 40 hex digits. */
static int normalize_thumbprint(const char *in, char out[STORE_THUMBPRINT_LEN + 1],
				struct pp_error *err)
{
	if (in == NULL || strlen(in) != STORE_THUMBPRINT_LEN)
		goto bad;
	for (size_t i = 0; i < STORE_THUMBPRINT_LEN; i++) {
		char c = in[i];

		if (c >= 'a' && c <= 'f')
			c = (char)(c - 'a' + 'A');
		if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F')))
			goto bad;
		out[i] = c;
	}
	out[STORE_THUMBPRINT_LEN] = '\0';
	return 0;
bad:
	pp_error_set(err, HR_E_INVALIDARG, "thumbprint \"%.64s\" is not 40 hexadecimal digits",
		     in != NULL ? in : "");
	return -1;
}

/* ---- sites ---- */

struct site_add_ctx {
	const char *code, *name, *parent;
	bool cas_above;
};

static int site_must_not_exist(struct store *s, const char *code, struct pp_error *err)
{
	struct store_site existing;
	bool found = false;

	if (s->ops->site_get(s->impl, code, &existing, &found, err) != 0)
		return -1;
	if (found) {
		pp_error_set(err, HR_ERROR_ALREADY_EXISTS, "site %s already exists (\"%s\")", code,
			     existing.name);
		return -1;
	}
	return 0;
}

static int site_add_tx(struct store *s, void *ctx, struct pp_error *err)
{
	struct site_add_ctx *c = ctx;
	struct store_site site, top, parent;
	bool have_top = false, found = false;

	if (site_must_not_exist(s, c->code, err) != 0)
		return -1;
	if (s->ops->site_top(s->impl, &top, &have_top, err) != 0)
		return -1;
	memset(&site, 0, sizeof(site));
	(void)snprintf(site.code, sizeof(site.code), "%s", c->code);
	(void)snprintf(site.name, sizeof(site.name), "%s", c->name);
	site.created_at = store_now();
	if (c->cas_above) {
		if (!have_top) {
			pp_error_set(err, HR_CRYPT_E_NOT_FOUND,
				     "there is no site to add a central administration site above; "
				     "add a primary site first");
			return -1;
		}
		if (top.has_children) {
			pp_error_set(err, HR_E_INVALIDARG,
				     "the top-level site %s already has child sites; a hierarchy "
				     "has one central administration site",
				     top.code);
			return -1;
		}
		/* The old top moves first, so that there is never a second parentless site. */
		if (s->ops->site_reparent(s->impl, top.code, site.code, err) != 0)
			return -1;
		return s->ops->site_insert(s->impl, &site, err);
	}
	if (c->parent == NULL) {
		if (have_top) {
			pp_error_set(err, HR_ERROR_ALREADY_EXISTS,
				     "the hierarchy already has its top-level site %s; add site %s "
				     "with parent %s",
				     top.code, c->code, top.code);
			return -1;
		}
		return s->ops->site_insert(s->impl, &site, err);
	}
	if (s->ops->site_get(s->impl, c->parent, &parent, &found, err) != 0)
		return -1;
	if (!found) {
		pp_error_set(err, HR_CRYPT_E_NOT_FOUND, "parent site %s does not exist", c->parent);
		return -1;
	}
	if (parent.parent_code[0] != '\0') {
		pp_error_set(err, HR_E_INVALIDARG,
			     "site %s is a primary site under %s and cannot have child sites; "
			     "add site %s under the top-level site %s",
			     parent.code, parent.parent_code, c->code, parent.parent_code);
		return -1;
	}
	(void)snprintf(site.parent_code, sizeof(site.parent_code), "%s", parent.code);
	return s->ops->site_insert(s->impl, &site, err);
}

int store_site_add(struct store *s, const char *code, const char *name, const char *parent_code,
		   struct pp_error *err)
{
	struct site_add_ctx c = {code, name, NULL, false};

	if (check_site_code(code, "site code", err) != 0 ||
	    store_check_text(name, STORE_NAME_MAX, false, "site name", err) != 0)
		return -1;
	if (parent_code != NULL && parent_code[0] != '\0') {
		if (check_site_code(parent_code, "parent site code", err) != 0)
			return -1;
		if (strcmp(parent_code, code) == 0) {
			pp_error_set(err, HR_E_INVALIDARG, "site %s cannot be its own parent",
				     code);
			return -1;
		}
		c.parent = parent_code;
	}
	return store_transaction(s, site_add_tx, &c, err);
}

int store_site_add_cas_above(struct store *s, const char *code, const char *name,
			     struct pp_error *err)
{
	struct site_add_ctx c = {code, name, NULL, true};

	if (check_site_code(code, "site code", err) != 0 ||
	    store_check_text(name, STORE_NAME_MAX, false, "site name", err) != 0)
		return -1;
	return store_transaction(s, site_add_tx, &c, err);
}

int store_site_get(struct store *s, const char *code, struct store_site *out, struct pp_error *err)
{
	bool found = false;

	if (check_site_code(code, "site code", err) != 0)
		return -1;
	if (s->ops->site_get(s->impl, code, out, &found, err) != 0)
		return -1;
	if (!found) {
		pp_error_set(err, HR_CRYPT_E_NOT_FOUND, "site %s does not exist", code);
		return -1;
	}
	return 0;
}

int store_site_list(struct store *s, struct store_site **out, size_t *count, struct pp_error *err)
{
	*out = NULL;
	*count = 0;
	return s->ops->site_list(s->impl, out, count, err);
}

int store_top_level_site(struct store *s, struct store_site *out, struct pp_error *err)
{
	bool found = false;

	if (s->ops->site_top(s->impl, out, &found, err) != 0)
		return -1;
	if (!found) {
		pp_error_set(err, HR_CRYPT_E_NOT_FOUND, "there is no site yet");
		return -1;
	}
	return 0;
}

/* ---- hierarchy settings ---- */

static int settings_get_tx(struct store *s, void *ctx, struct pp_error *err)
{
	struct store_third_party_settings *out = ctx;
	struct store_site top;
	bool found = false;

	if (s->ops->settings_get(s->impl, out, err) != 0)
		return -1;
	if (s->ops->site_top(s->impl, &top, &found, err) != 0)
		return -1;
	(void)snprintf(out->top_level_site, sizeof(out->top_level_site), "%s",
		       found ? top.code : "");
	return 0;
}

int store_third_party_settings_get(struct store *s, struct store_third_party_settings *out,
				   struct pp_error *err)
{
	memset(out, 0, sizeof(*out));
	return store_transaction(s, settings_get_tx, out, err);
}

struct settings_set_ctx {
	const char *site;
	const struct store_third_party_settings *in;
};

static int settings_set_tx(struct store *s, void *ctx, struct pp_error *err)
{
	struct settings_set_ctx *c = ctx;
	struct store_site site, top;
	struct store_third_party_settings v;
	bool found = false;

	if (s->ops->site_get(s->impl, c->site, &site, &found, err) != 0)
		return -1;
	if (!found) {
		pp_error_set(err, HR_CRYPT_E_NOT_FOUND, "site %s does not exist", c->site);
		return -1;
	}
	if (s->ops->site_top(s->impl, &top, &found, err) != 0)
		return -1;
	if (!found || strcmp(top.code, site.code) != 0) {
		pp_error_set(err, STORE_E_NOT_TOP_LEVEL,
			     "third-party update settings exist once per hierarchy, on the "
			     "top-level site %s; site %s is a child site",
			     found ? top.code : "?", site.code);
		return -1;
	}
	memset(&v, 0, sizeof(v));
	v.enable_third_party_updates = c->in->enable_third_party_updates;
	v.certificate_mode = c->in->certificate_mode;
	(void)snprintf(v.top_level_site, sizeof(v.top_level_site), "%s", top.code);
	v.updated_at = store_now();
	return s->ops->settings_put(s->impl, &v, err);
}

int store_third_party_settings_set(struct store *s, const char *site_code,
				   const struct store_third_party_settings *in,
				   struct pp_error *err)
{
	struct settings_set_ctx c = {site_code, in};

	if (check_site_code(site_code, "site code", err) != 0)
		return -1;
	if (in->certificate_mode != STORE_CERT_MODE_MANAGED &&
	    in->certificate_mode != STORE_CERT_MODE_MANUAL) {
		pp_error_set(err, HR_E_INVALIDARG, "certificate mode %d is not managed or manual",
			     (int)in->certificate_mode);
		return -1;
	}
	return store_transaction(s, settings_set_tx, &c, err);
}

/* ---- SUPs ---- */

/* The same URL twice on one site is the same SUP (the database refuses it too). */
static int sup_url_taken(struct store *s, const struct store_sup *sup, struct pp_error *err)
{
	struct store_sup *list = NULL;
	size_t n = 0;
	int rc = 0;

	if (s->ops->sup_list(s->impl, sup->site_code, &list, &n, err) != 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (strcasecmp(list[i].url, sup->url) == 0) {
			pp_error_set(err, HR_ERROR_ALREADY_EXISTS,
				     "site %s already has SUP %s (id %lld)", sup->site_code,
				     list[i].url, (long long)list[i].id);
			rc = -1;
			break;
		}
	}
	free(list);
	return rc;
}

struct sup_add_ctx {
	struct store_sup *sup;
	struct store_sup *replaced;
};

static int sup_add_tx(struct store *s, void *ctx, struct pp_error *err)
{
	struct sup_add_ctx *c = ctx;
	struct store_sup *sup = c->sup, *replaced = c->replaced, other;
	struct store_site site;
	bool found = false;

	if (s->ops->site_get(s->impl, sup->site_code, &site, &found, err) != 0)
		return -1;
	if (!found) {
		pp_error_set(err, HR_CRYPT_E_NOT_FOUND, "site %s does not exist", sup->site_code);
		return -1;
	}
	if (sup_url_taken(s, sup, err) != 0)
		return -1;
	if (sup->sync_source) {
		/* The new SUP takes over as the site's sync source, as replacing the top-level
		 * SUP's WSUS server does; the old one stays registered. */
		if (s->ops->sup_sync_source(s->impl, sup->site_code, &other, &found, err) != 0)
			return -1;
		if (found && s->ops->sup_set_sync_source(s->impl, other.id, false, err) != 0)
			return -1;
		if (replaced != NULL && found)
			*replaced = other;
	}
	sup->created_at = store_now();
	return s->ops->sup_insert(s->impl, sup, err);
}

int store_sup_add(struct store *s, struct store_sup *sup, struct pp_error *err)
{
	return store_sup_add_replacing(s, sup, NULL, err);
}

int store_sup_add_replacing(struct store *s, struct store_sup *sup, struct store_sup *replaced,
			    struct pp_error *err)
{
	struct sup_add_ctx c = {sup, replaced};

	if (replaced != NULL)
		memset(replaced, 0, sizeof(*replaced));
	if (check_site_code(sup->site_code, "site code", err) != 0 || check_url(sup->url, err) != 0)
		return -1;
	if (sup->location != STORE_SUP_LOCAL && sup->location != STORE_SUP_REMOTE) {
		pp_error_set(err, HR_E_INVALIDARG, "SUP location %d is not local or remote",
			     (int)sup->location);
		return -1;
	}
	return store_transaction(s, sup_add_tx, &c, err);
}

int store_sup_get(struct store *s, int64_t id, struct store_sup *out, struct pp_error *err)
{
	bool found = false;

	if (s->ops->sup_get(s->impl, id, out, &found, err) != 0)
		return -1;
	if (!found) {
		pp_error_set(err, HR_CRYPT_E_NOT_FOUND, "SUP %lld does not exist", (long long)id);
		return -1;
	}
	return 0;
}

int store_sup_list(struct store *s, const char *site_code, struct store_sup **out, size_t *count,
		   struct pp_error *err)
{
	*out = NULL;
	*count = 0;
	if (site_code != NULL && check_site_code(site_code, "site code", err) != 0)
		return -1;
	return s->ops->sup_list(s->impl, site_code, out, count, err);
}

int store_sup_sync_source(struct store *s, const char *site_code, struct store_sup *out,
			  struct pp_error *err)
{
	bool found = false;

	if (check_site_code(site_code, "site code", err) != 0)
		return -1;
	if (s->ops->sup_sync_source(s->impl, site_code, out, &found, err) != 0)
		return -1;
	if (!found) {
		pp_error_set(err, HR_CRYPT_E_NOT_FOUND, "site %s has no sync source SUP",
			     site_code);
		return -1;
	}
	return 0;
}

/* ---- certificates ---- */

int store_certificate_add(struct store *s, const struct store_certificate *cert, bool *already,
			  struct pp_error *err)
{
	static const char hex[] = "0123456789ABCDEF";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char computed[STORE_THUMBPRINT_LEN + 1], thumb[STORE_THUMBPRINT_LEN + 1];
	struct store_certificate row;
	bool inserted = false;

	if (already != NULL)
		*already = false;
	if (normalize_thumbprint(cert->thumbprint, thumb, err) != 0)
		return -1;
	if (strcmp(thumb, cert->thumbprint) != 0) {
		pp_error_set(err, HR_E_INVALIDARG, "thumbprint %s is not in upper-case hex",
			     cert->thumbprint);
		return -1;
	}
	if ((unsigned)cert->type > STORE_CERT_CONTENT) {
		pp_error_set(err, HR_E_INVALIDARG, "certificate type %d is unknown",
			     (int)cert->type);
		return -1;
	}
	if (cert->der == NULL || cert->der_len == 0 || cert->der_len > STORE_CERT_DER_MAX) {
		pp_error_set(err, HR_E_INVALIDARG, "certificate DER is empty or over %d bytes",
			     STORE_CERT_DER_MAX);
		return -1;
	}
	if (store_check_text(cert->subject, STORE_SUBJECT_MAX, false, "certificate subject", err) !=
	    0)
		return -1;
	if (cert->not_after < cert->not_before) {
		pp_error_set(err, HR_E_INVALIDARG, "certificate %s expires before it starts",
			     thumb);
		return -1;
	}
	if (EVP_Digest(cert->der, cert->der_len, md, &mdlen, EVP_sha1(), NULL) != 1 ||
	    mdlen != 20) {
		pp_error_set_openssl(err, HR_E_FAIL, "cannot compute SHA-1 of certificate %s",
				     thumb);
		return -1;
	}
	for (unsigned i = 0; i < 20; i++) {
		computed[2 * i] = hex[md[i] >> 4];
		computed[2 * i + 1] = hex[md[i] & 15];
	}
	computed[STORE_THUMBPRINT_LEN] = '\0';
	if (strcmp(computed, thumb) != 0) {
		pp_error_set(err, HR_E_INVALIDARG,
			     "thumbprint %s is not the SHA-1 of the certificate (%s)", thumb,
			     computed);
		return -1;
	}
	row = *cert;
	row.added_at = store_now();
	if (s->ops->cert_insert(s->impl, &row, &inserted, err) != 0)
		return -1;
	if (already != NULL)
		*already = !inserted;
	return 0;
}

int store_certificate_get(struct store *s, const char *thumbprint, struct store_certificate *out,
			  struct pp_error *err)
{
	char thumb[STORE_THUMBPRINT_LEN + 1];
	bool found = false;

	memset(out, 0, sizeof(*out));
	if (normalize_thumbprint(thumbprint, thumb, err) != 0)
		return -1;
	if (s->ops->cert_get(s->impl, thumb, out, &found, err) != 0)
		return -1;
	if (!found) {
		pp_error_set(err, HR_CRYPT_E_NOT_FOUND, "certificate %s is not in Certificates",
			     thumb);
		return -1;
	}
	return 0;
}

int store_certificate_list(struct store *s, struct store_certificate **out, size_t *count,
			   struct pp_error *err)
{
	*out = NULL;
	*count = 0;
	return s->ops->cert_list(s->impl, out, count, err);
}

static int certificate_set_flag(struct store *s, const char *thumbprint, enum store_cert_flag flag,
				bool value, struct pp_error *err)
{
	char thumb[STORE_THUMBPRINT_LEN + 1];
	bool found = false;

	if (normalize_thumbprint(thumbprint, thumb, err) != 0)
		return -1;
	if (s->ops->cert_set_flag(s->impl, thumb, flag, value, &found, err) != 0)
		return -1;
	if (!found) {
		pp_error_set(err, HR_CRYPT_E_NOT_FOUND, "certificate %s is not in Certificates",
			     thumb);
		return -1;
	}
	return 0;
}

int store_certificate_block(struct store *s, const char *thumbprint, struct pp_error *err)
{
	return certificate_set_flag(s, thumbprint, STORE_CERT_FLAG_BLOCKED, true, err);
}

int store_certificate_unblock(struct store *s, const char *thumbprint, struct pp_error *err)
{
	return certificate_set_flag(s, thumbprint, STORE_CERT_FLAG_BLOCKED, false, err);
}

int store_certificate_approve(struct store *s, const char *thumbprint, struct pp_error *err)
{
	return certificate_set_flag(s, thumbprint, STORE_CERT_FLAG_APPROVED, true, err);
}

void store_certificate_clear(struct store_certificate *cert)
{
	if (cert == NULL)
		return;
	free(cert->der);
	memset(cert, 0, sizeof(*cert));
}

void store_certificate_list_free(struct store_certificate *list, size_t count)
{
	if (list == NULL)
		return;
	for (size_t i = 0; i < count; i++)
		free(list[i].der);
	free(list);
}

/* ---- syncs ---- */

int store_sync_start(struct store *s, int64_t *id, int64_t *running_id, struct pp_error *err)
{
	int64_t running = 0;
	int rc;

	*id = 0;
	rc = s->ops->sync_insert(s->impl, store_now(), id, &running, err);
	if (running_id != NULL)
		*running_id = running;
	return rc;
}

struct sync_update_ctx {
	int64_t id;
	const char *step; /* NULL: keep */
	bool finish;	  /* state/error below apply */
	enum store_sync_state state;
	const char *error;
};

static int sync_update_tx(struct store *s, void *ctx, struct pp_error *err)
{
	struct sync_update_ctx *c = ctx;
	struct store_sync sync;
	bool found = false;

	if (s->ops->sync_get(s->impl, c->id, &sync, &found, err) != 0)
		return -1;
	if (!found) {
		pp_error_set(err, HR_CRYPT_E_NOT_FOUND, "sync %lld does not exist",
			     (long long)c->id);
		return -1;
	}
	if (sync.state != STORE_SYNC_RUNNING) {
		pp_error_set(err, HR_E_INVALIDARG, "sync %lld is not running (it %s)",
			     (long long)c->id, store_sync_state_name(sync.state));
		return -1;
	}
	if (c->step != NULL)
		(void)snprintf(sync.step, sizeof(sync.step), "%s", c->step);
	if (c->finish) {
		sync.state = c->state;
		sync.finished_at = store_now();
		(void)snprintf(sync.error, sizeof(sync.error), "%s",
			       c->error != NULL ? c->error : "");
	}
	return s->ops->sync_update(s->impl, &sync, err);
}

int store_sync_set_step(struct store *s, int64_t id, const char *step, struct pp_error *err)
{
	struct sync_update_ctx c = {id, step, false, STORE_SYNC_RUNNING, NULL};

	if (store_check_text(step, STORE_STEP_MAX, false, "sync step", err) != 0)
		return -1;
	return store_transaction(s, sync_update_tx, &c, err);
}

int store_sync_finish(struct store *s, int64_t id, enum store_sync_state state, const char *error,
		      struct pp_error *err)
{
	struct sync_update_ctx c = {id, NULL, true, state, error};

	if (state != STORE_SYNC_SUCCEEDED && state != STORE_SYNC_FAILED) {
		pp_error_set(err, HR_E_INVALIDARG, "a sync finishes as succeeded or failed, not %s",
			     store_sync_state_name(state));
		return -1;
	}
	/* The error text is recorded as given, cut at STORE_SYNC_ERROR_MAX: a failure must never
	 * go unrecorded because of how its message reads. */
	return store_transaction(s, sync_update_tx, &c, err);
}

int store_sync_get(struct store *s, int64_t id, struct store_sync *out, struct pp_error *err)
{
	bool found = false;

	if (s->ops->sync_get(s->impl, id, out, &found, err) != 0)
		return -1;
	if (!found) {
		pp_error_set(err, HR_CRYPT_E_NOT_FOUND, "sync %lld does not exist", (long long)id);
		return -1;
	}
	return 0;
}

int store_sync_latest(struct store *s, struct store_sync *out, struct pp_error *err)
{
	bool found = false;

	if (s->ops->sync_latest(s->impl, out, &found, err) != 0)
		return -1;
	if (!found) {
		pp_error_set(err, HR_CRYPT_E_NOT_FOUND, "no synchronization has run yet");
		return -1;
	}
	return 0;
}

int store_fail_running_syncs(struct store *s, const char *reason, unsigned *count,
			     struct pp_error *err)
{
	unsigned n = 0;
	char text[STORE_SYNC_ERROR_MAX];

	(void)snprintf(text, sizeof(text), "%s",
		       reason != NULL ? reason : "patchpointd stopped during the sync");
	if (s->ops->sync_fail_running(s->impl, text, store_now(), &n, err) != 0)
		return -1;
	if (count != NULL)
		*count = n;
	return 0;
}

/* ---- admin tokens ---- */

/* SHA-256 fetched once: an implicit fetch on every EVP_Digest takes OpenSSL's provider locks,
 * and every admin request hashes its token. */
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;
static EVP_MD *sha256_md;

static void sha256_fetch(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

int store_secret_digest(const char *what, const char *secret, uint8_t hash[32],
			struct pp_error *err)
{
	unsigned int len = 0;
	size_t n;

	n = secret != NULL ? strnlen(secret, STORE_TOKEN_MAX + 1) : 0;
	if (n < STORE_TOKEN_MIN || n > STORE_TOKEN_MAX) {
		pp_error_set(err, HR_E_INVALIDARG, "%s has %d to %d bytes", what, STORE_TOKEN_MIN,
			     STORE_TOKEN_MAX);
		return -1;
	}
	(void)pthread_once(&sha256_once, sha256_fetch);
	if (sha256_md == NULL || EVP_Digest(secret, n, hash, &len, sha256_md, NULL) != 1 ||
	    len != 32) {
		pp_error_set_openssl(err, HR_E_FAIL, "cannot hash %s", what);
		return -1;
	}
	return 0;
}

int store_admin_token_digest(const char *token, uint8_t hash[32], struct pp_error *err)
{
	return store_secret_digest("an admin token", token, hash, err);
}

int store_admin_token_add(struct store *s, const char *name, const char *token,
			  struct pp_error *err)
{
	uint8_t hash[32];
	int rc = -1;

	if (store_check_text(name, STORE_NAME_MAX, false, "token name", err) != 0)
		return -1;
	if (store_admin_token_digest(token, hash, err) != 0)
		goto out;
	rc = s->ops->token_insert(s->impl, name, hash, store_now(), err);
out:
	OPENSSL_cleanse(hash, sizeof(hash));
	return rc;
}

int store_admin_token_verify(struct store *s, const char *token, bool *valid, struct pp_error *err)
{
	uint8_t hash[32];
	uint8_t *hashes = NULL;
	size_t count = 0;
	int match = 0, rc = -1;
	size_t n;

	*valid = false;
	/* A token of the wrong length cannot match; answer as for any wrong token. */
	n = token != NULL ? strnlen(token, STORE_TOKEN_MAX + 1) : 0;
	if (n < STORE_TOKEN_MIN || n > STORE_TOKEN_MAX)
		return 0;
	if (store_admin_token_digest(token, hash, err) != 0)
		goto out;
	if (s->ops->token_hashes(s->impl, &hashes, &count, err) != 0)
		goto out;
	/* Every stored hash is compared, whatever matched before, in constant time each. */
	for (size_t i = 0; i < count; i++)
		match |= CRYPTO_memcmp(hash, hashes + 32 * i, 32) == 0;
	*valid = match != 0;
	rc = 0;
out:
	OPENSSL_cleanse(hash, sizeof(hash));
	free(hashes);
	return rc;
}
