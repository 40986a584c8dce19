/* catalog.c - catalog import and export over sdp.h and store.h. */
#include "catalog.h"

#include "hresult.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

/* ---- the store row of a package ---- */

/* Copies text into a bounded field; E_INVALIDARG naming it when it does not fit. */
static int fit(char *dst, size_t size, const char *text, const char *what, const char *id,
	       struct pp_error *err)
{
	size_t n = text != NULL ? strlen(text) : 0;

	if (n >= size) {
		pp_error_set(err, HR_E_INVALIDARG, "%s of package %s is longer than %zu bytes",
			     what, id, size - 1);
		return -1;
	}
	memcpy(dst, text != NULL ? text : "", n + 1);
	return 0;
}

static void hex(const uint8_t *b, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		(void)snprintf(out + 2 * i, 3, "%02x", b[i]);
}

int catalog_update_row(const struct sdp_package *p, const char *name, struct store_update *u,
		       char **xml, size_t *len, struct pp_error *err)
{
	uint8_t digest[32];

	*xml = NULL;
	memset(u, 0, sizeof(*u));
	memcpy(u->id, p->package_id, sizeof(u->id));
	if (fit(u->catalog, sizeof(u->catalog), name, "the catalog name", p->package_id, err) !=
		0 ||
	    fit(u->vendor, sizeof(u->vendor), p->vendor_name, "VendorName", p->package_id, err) !=
		0 ||
	    fit(u->product, sizeof(u->product), p->product_name, "ProductName", p->package_id,
		err) != 0 ||
	    fit(u->title, sizeof(u->title), sdp_package_title(p), "Title", p->package_id, err) !=
		0 ||
	    fit(u->classification, sizeof(u->classification), p->update_classification,
		"UpdateClassification", p->package_id, err) != 0 ||
	    fit(u->severity, sizeof(u->severity), p->msrc_severity, "MsrcSeverity", p->package_id,
		err) != 0 ||
	    fit(u->kb, sizeof(u->kb), p->kb_article_id, "KBArticleID", p->package_id, err) != 0 ||
	    fit(u->creation_date, sizeof(u->creation_date), p->creation_date, "CreationDate",
		p->package_id, err) != 0)
		return -1;
	if (sdp_package_to_xml(p, xml, len, err) != 0)
		return -1;
	if (*len > STORE_UPDATE_SDP_MAX) {
		pp_error_set(err, HR_E_INVALIDARG, "the SDP of package %s is larger than %u bytes",
			     p->package_id, STORE_UPDATE_SDP_MAX);
		goto fail;
	}
	if (EVP_Digest(*xml, *len, digest, NULL, EVP_sha256(), NULL) != 1) {
		pp_error_set(err, HR_E_FAIL, "SHA-256 is not available");
		goto fail;
	}
	hex(digest, sizeof(digest), u->sdp_sha256);
	return 0;
fail:
	free(*xml);
	*xml = NULL;
	return -1;
}

/* ---- the ids seen in one import (open addressing, grown at half full) ---- */

struct idset {
	char (*slot)[SDP_GUID_LEN + 1];
	size_t cap, used;
};

static uint64_t id_hash(const char *id)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */

	for (; *id != '\0'; id++)
		h = (h ^ (unsigned char)*id) * 1099511628211ull;
	return h;
}

/* Adds id: 1 added, 0 already there, -1 out of memory. */
static int idset_add(struct idset *s, const char *id)
{
	size_t i;

	if (s->used * 2 >= s->cap) {
		struct idset g = {.cap = s->cap == 0 ? 1024 : s->cap * 2};

		g.slot = calloc(g.cap, sizeof(*g.slot));
		if (g.slot == NULL)
			return -1;
		for (size_t k = 0; k < s->cap; k++)
			if (s->slot[k][0] != '\0')
				(void)idset_add(&g, s->slot[k]);
		free(s->slot);
		*s = g;
	}
	for (i = id_hash(id) & (s->cap - 1); s->slot[i][0] != '\0'; i = (i + 1) & (s->cap - 1))
		if (strcmp(s->slot[i], id) == 0)
			return 0;
	memcpy(s->slot[i], id, SDP_GUID_LEN + 1);
	s->used++;
	return 1;
}

/* ---- import ---- */

struct import_ctx {
	struct sdp_reader *r;
	const char *name;
	bool allow_unsigned;
	catalog_progress_fn progress;
	void *progress_ctx;
	struct catalog_import_result *res;
	struct idset seen;
};

static int add_skip(struct catalog_import_result *res, const struct sdp_skip *skip,
		    struct pp_error *err)
{
	res->skipped++;
	if (res->skip_count >= CATALOG_SKIPS_KEPT)
		return 0;
	if (res->skip_count % 64 == 0) {
		struct sdp_skip *n = realloc(res->skips, (res->skip_count + 64) * sizeof(*n));

		if (n == NULL) {
			pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory importing the catalog");
			return -1;
		}
		res->skips = n;
	}
	res->skips[res->skip_count++] = *skip;
	return 0;
}

/* A skip record for a package that parsed but cannot be stored. */
static int skip_package(struct import_ctx *c, const struct sdp_package *p, const char *fmt,
			const char *arg, struct pp_error *err)
{
	struct sdp_skip skip;

	memset(&skip, 0, sizeof(skip));
	skip.index = c->res->packages;
	(void)snprintf(skip.package_id, sizeof(skip.package_id), "%s", p->package_id);
	(void)snprintf(skip.title, sizeof(skip.title), "%s", sdp_package_title(p));
	(void)snprintf(skip.reason, sizeof(skip.reason), fmt, arg);
	return add_skip(c->res, &skip, err);
}

static int import_package(struct store *s, struct import_ctx *c, const struct sdp_package *p,
			  struct pp_error *err)
{
	struct store_update u, old;
	struct pp_error perr, gerr;
	char *xml = NULL;
	size_t len = 0;
	int added, rc = -1;

	added = idset_add(&c->seen, p->package_id);
	if (added < 0) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory importing the catalog");
		return -1;
	}
	if (added == 0)
		return skip_package(c, p, "PackageID %s appears more than once in this catalog",
				    p->package_id, err);
	pp_error_clear(&perr);
	if (catalog_update_row(p, c->name, &u, &xml, &len, &perr) != 0) {
		if (perr.code != HR_E_INVALIDARG) {
			pp_error_set(err, perr.code, "%s", perr.message);
			return -1;
		}
		return skip_package(c, p, "%s", perr.message, err);
	}
	pp_error_clear(&gerr);
	if (store_update_get(s, p->package_id, &old, &gerr) == 0) {
		if (old.catalog[0] == '\0') {
			rc = skip_package(c, p,
					  "PackageID %s is an update an administrator created; "
					  "not replaced",
					  p->package_id, err);
			goto out;
		}
		if (strcmp(old.catalog, c->name) != 0) {
			rc = skip_package(c, p, "the update is already in catalog \"%s\"",
					  old.catalog, err);
			goto out;
		}
		if (strcmp(old.sdp_sha256, u.sdp_sha256) == 0) {
			c->res->unchanged++;
			rc = 0;
			goto out;
		}
		u.revision = old.revision + 1;
		/* The new revision has no content yet; the old one keeps its own. */
		u.state = old.state == STORE_UPDATE_EXPIRED ? STORE_UPDATE_EXPIRED
							    : STORE_UPDATE_METADATA;
		u.created_at = old.created_at;
		c->res->updated++;
	} else if (gerr.code == HR_CRYPT_E_NOT_FOUND) {
		u.revision = 1;
		u.state = STORE_UPDATE_METADATA;
		c->res->imported++;
	} else {
		pp_error_set(err, gerr.code, "%s", gerr.message);
		goto out;
	}
	rc = store_update_put(s, &u, xml, len, err);
out:
	free(xml);
	return rc;
}

static int import_tx(struct store *s, void *arg, struct pp_error *err)
{
	struct import_ctx *c = arg;

	if (store_catalog_put(s, c->name, c->allow_unsigned, NULL, err) != 0)
		return -1;
	for (;;) {
		struct sdp_package *p = NULL;
		struct sdp_skip skip;
		int rc = sdp_reader_next(c->r, &p, &skip, err);

		if (rc < 0)
			return -1;
		if (rc == SDP_NEXT_END)
			return 0;
		c->res->packages++;
		if (rc == SDP_NEXT_SKIPPED)
			rc = add_skip(c->res, &skip, err);
		else
			rc = import_package(s, c, p, err);
		sdp_package_free(p);
		if (rc != 0)
			return -1;
		if (c->progress != NULL && c->res->packages % 100 == 0)
			c->progress(c->progress_ctx, c->res->packages, sdp_reader_consumed(c->r));
	}
}

int catalog_import(struct store *s, struct sdp_reader *r, const char *name,
		   bool allow_unsigned_content, catalog_progress_fn progress, void *progress_ctx,
		   struct catalog_import_result *res, struct pp_error *err)
{
	struct import_ctx c = {r, name, allow_unsigned_content, progress, progress_ctx, res, {0}};
	int rc;

	memset(res, 0, sizeof(*res));
	(void)snprintf(res->catalog, sizeof(res->catalog), "%s", name != NULL ? name : "");
	rc = store_transaction(s, import_tx, &c, err);
	free(c.seen.slot);
	if (rc != 0) {
		catalog_import_result_clear(res);
		(void)snprintf(res->catalog, sizeof(res->catalog), "%s", name != NULL ? name : "");
	}
	return rc;
}

void catalog_import_result_clear(struct catalog_import_result *res)
{
	if (res == NULL)
		return;
	free(res->skips);
	memset(res, 0, sizeof(*res));
}

/* ---- export ---- */

int catalog_export(struct store *s, const struct store_update_filter *filter, sdp_write_fn write,
		   void *ctx, unsigned *count, struct pp_error *err)
{
	struct store_update *list = NULL;
	struct sdp_catalog_writer *w = NULL;
	size_t n = 0;
	int rc = -1;

	*count = 0;
	if (store_update_list(s, filter, &list, &n, err) != 0)
		return -1;
	w = sdp_catalog_writer_new(write, ctx, err);
	if (w == NULL)
		goto out;
	for (size_t i = 0; i < n; i++) {
		struct sdp_package *p;
		char *xml = NULL;
		size_t len = 0;
		int r;

		if (store_update_sdp(s, list[i].id, &xml, &len, err) != 0)
			goto out;
		p = sdp_package_parse(xml, len, err);
		free(xml);
		if (p == NULL)
			goto out;
		r = sdp_catalog_writer_add(w, p, err);
		sdp_package_free(p);
		if (r != 0)
			goto out;
		(*count)++;
	}
	rc = sdp_catalog_writer_finish(w, err);
out:
	sdp_catalog_writer_free(w);
	free(list);
	return rc;
}

/* ---- JSON ---- */

/* A string value or null. */
static json_t *str_or_null(const char *s)
{
	return s != NULL ? json_string(s) : json_null();
}

json_t *catalog_update_summary_json(const struct store_update *u)
{
	return json_pack(
	    "{s:s, s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:s, s:s, s:I, s:I}", "id", u->id,
	    "revision", (json_int_t)u->revision, "title", u->title, "vendor", u->vendor, "product",
	    u->product, "classification", u->classification, "severity", u->severity, "kb", u->kb,
	    "catalog", u->catalog[0] != '\0' ? json_string(u->catalog) : json_null(), "state",
	    store_update_state_name(u->state), "creation_date", u->creation_date, "created_at",
	    (json_int_t)u->created_at, "updated_at", (json_int_t)u->updated_at);
}

static json_t *strv_json(char *const *v, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a != NULL && i < n; i++)
		if (json_array_append_new(a, json_string(v[i])) != 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

static json_t *origin_json(const struct sdp_origin_file *f)
{
	char b64[29], sha1[2 * SDP_SHA1_LEN + 1];

	sdp_digest_base64(f->sha1, b64);
	hex(f->sha1, SDP_SHA1_LEN, sha1);
	return json_pack("{s:s, s:I, s:s, s:s, s:o, s:o}", "file_name", f->file_name, "size",
			 (json_int_t)f->size, "digest", b64, "sha1", sha1, "origin_uri",
			 str_or_null(f->origin_uri), "modified", str_or_null(f->modified));
}

static json_t *handler_json(const struct sdp_item *it)
{
	const struct sdp_command_line *cl = it->command_line;
	json_t *codes;

	if (cl == NULL)
		return json_pack("{s:s}", "type", it->other_handler != NULL ? "other" : "none");
	codes = json_array();
	for (size_t i = 0; codes != NULL && i < cl->return_code_count; i++) {
		const struct sdp_return_code *r = &cl->return_codes[i];

		if (json_array_append_new(
			codes, json_pack("{s:I, s:s, s:b}", "code", (json_int_t)r->code, "result",
					 sdp_result_name(r->result), "reboot", r->reboot)) != 0) {
			json_decref(codes);
			return NULL;
		}
	}
	return json_pack("{s:s, s:s, s:o, s:s, s:b, s:o}", "type", "CommandLineInstallation",
			 "program", cl->program, "arguments", str_or_null(cl->arguments),
			 "default_result", sdp_result_name(cl->default_result), "reboot_by_default",
			 cl->reboot_by_default, "return_codes", codes);
}

static json_t *item_json(const struct sdp_item *it)
{
	json_t *files = json_array(), *rules = json_array();

	for (size_t i = 0; files != NULL && i < it->origin_file_count; i++)
		if (json_array_append_new(files, origin_json(&it->origin_files[i])) != 0) {
			json_decref(files);
			files = NULL;
		}
	if (rules != NULL && it->is_installed != NULL)
		(void)json_array_append_new(rules, json_string("IsInstalled"));
	if (rules != NULL && it->is_installable != NULL)
		(void)json_array_append_new(rules, json_string("IsInstallable"));
	if (rules != NULL && it->is_superseded != NULL)
		(void)json_array_append_new(rules, json_string("IsSuperseded"));
	return json_pack("{s:s, s:o, s:o, s:o}", "id", it->id, "handler", handler_json(it),
			 "origin_files", files, "rules", rules);
}

json_t *catalog_update_json(const struct store_update *u, const struct sdp_package *p)
{
	json_t *j = catalog_update_summary_json(u), *items = json_array(), *langs = json_array();
	const char *description = NULL;

	if (j == NULL || items == NULL || langs == NULL)
		goto fail;
	for (size_t i = 0; i < p->localized_count; i++) {
		if (description == NULL && p->localized[i].description != NULL)
			description = p->localized[i].description;
		if (json_array_append_new(langs, json_string(p->localized[i].language)) != 0)
			goto fail;
	}
	for (size_t i = 0; i < p->item_count; i++)
		if (json_array_append_new(items, item_json(&p->items[i])) != 0)
			goto fail;
	/* json_object_set_new takes the value's reference even when it fails. */
	if (json_object_set_new(j, "languages", langs) != 0 ||
	    json_object_set_new(j, "items", items) != 0 ||
	    json_object_set_new(j, "description", str_or_null(description)) != 0 ||
	    json_object_set_new(j, "security_bulletin", str_or_null(p->security_bulletin_id)) !=
		0 ||
	    json_object_set_new(j, "cve", strv_json(p->cve_ids, p->cve_count)) != 0 ||
	    json_object_set_new(j, "more_info_url", str_or_null(p->more_info_url)) != 0 ||
	    json_object_set_new(j, "support_url", str_or_null(p->support_url)) != 0 ||
	    json_object_set_new(j, "superseded", strv_json(p->superseded, p->superseded_count)) !=
		0 ||
	    json_object_set_new(j, "is_installable", json_boolean(p->is_installable != NULL)) !=
		0 ||
	    json_object_set_new(j, "is_installed", json_boolean(p->is_installed != NULL)) != 0)
		goto fail_set;
	return j;
fail:
	json_decref(items);
	json_decref(langs);
fail_set:
	json_decref(j);
	return NULL;
}
