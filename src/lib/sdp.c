/* sdp.c - SDP packages and SCUP catalogs: a streaming reader on libxml2's xmlTextReader (each
 * package expanded alone, then released), the typed model of sdp.h, and a writer on
 * xmlTextWriter. See docs/formats/sdp.md. */
#include "sdp.h"

#include "hresult.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libxml/tree.h>
#include <libxml/xmlreader.h>
#include <libxml/xmlwriter.h>
#include <openssl/evp.h>
#include <zlib.h>

#define IN_CHUNK (64u * 1024u)

/* ---- small helpers ---- */

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool sdp_guid_valid(const char *s)
{
	static const unsigned dash[] = {8, 13, 18, 23};
	size_t d = 0;

	if (s == NULL || strlen(s) != SDP_GUID_LEN)
		return false;
	for (unsigned i = 0; i < SDP_GUID_LEN; i++) {
		if (d < 4 && i == dash[d]) {
			if (s[i] != '-')
				return false;
			d++;
		} else if (!is_hex(s[i])) {
			return false;
		}
	}
	return true;
}

void sdp_digest_base64(const uint8_t sha1[SDP_SHA1_LEN], char out[29])
{
	(void)EVP_EncodeBlock((unsigned char *)out, sha1, SDP_SHA1_LEN);
}

/* Decodes the 28-character base64 of a SHA-1; false for anything else (also non-canonical
 * spellings, so that export gives back the same text). */
static bool digest_from_base64(const char *b64, uint8_t sha1[SDP_SHA1_LEN])
{
	unsigned char buf[24];
	char again[29];

	if (strlen(b64) != 28 || b64[27] != '=' || b64[26] == '=')
		return false;
	if (EVP_DecodeBlock(buf, (const unsigned char *)b64, 28) != 21)
		return false;
	memcpy(sha1, buf, SDP_SHA1_LEN);
	sdp_digest_base64(sha1, again);
	return strcmp(again, b64) == 0;
}

static const char *const result_names[] = {"Succeeded", "Failed", "Cancelled"};

const char *sdp_result_name(enum sdp_result r)
{
	return (unsigned)r < 3 ? result_names[r] : "Failed";
}

int sdp_result_parse(const char *name, enum sdp_result *out)
{
	for (unsigned i = 0; i < 3; i++) {
		if (strcmp(name, result_names[i]) == 0) {
			*out = (enum sdp_result)i;
			return 0;
		}
	}
	return -1;
}

static void attrs_free(struct sdp_attr *a, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(a[i].name);
		free(a[i].value);
	}
	free(a);
}

static void strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void item_clear(struct sdp_item *it)
{
	free(it->is_installed);
	free(it->is_installable);
	free(it->is_superseded);
	free(it->rules_metadata);
	attrs_free(it->install_attrs, it->install_attr_count);
	if (it->command_line != NULL) {
		free(it->command_line->program);
		free(it->command_line->arguments);
		free(it->command_line->return_codes);
		attrs_free(it->command_line->attrs, it->command_line->attr_count);
		free(it->command_line);
	}
	free(it->other_handler);
	for (size_t i = 0; i < it->origin_file_count; i++) {
		struct sdp_origin_file *f = &it->origin_files[i];

		free(f->file_name);
		free(f->modified);
		free(f->origin_uri);
		attrs_free(f->attrs, f->attr_count);
	}
	free(it->origin_files);
	strv_free(it->languages, it->language_count);
	strv_free(it->other.xml, it->other.count);
}

void sdp_package_free(struct sdp_package *p)
{
	if (p == NULL)
		return;
	free(p->schema_version);
	attrs_free(p->root_attrs, p->root_attr_count);
	free(p->creation_date);
	free(p->vendor_name);
	free(p->product_name);
	free(p->more_info_url);
	free(p->support_url);
	attrs_free(p->prop_attrs, p->prop_attr_count);
	strv_free(p->prop_other.xml, p->prop_other.count);
	for (size_t i = 0; i < p->localized_count; i++) {
		free(p->localized[i].language);
		free(p->localized[i].title);
		free(p->localized[i].description);
		strv_free(p->localized[i].other.xml, p->localized[i].other.count);
	}
	free(p->localized);
	free(p->msrc_severity);
	free(p->update_classification);
	free(p->kb_article_id);
	free(p->security_bulletin_id);
	strv_free(p->cve_ids, p->cve_count);
	attrs_free(p->update_attrs, p->update_attr_count);
	free(p->is_installable);
	free(p->is_installed);
	free(p->prerequisites);
	strv_free(p->superseded, p->superseded_count);
	strv_free(p->other.xml, p->other.count);
	for (size_t i = 0; i < p->item_count; i++)
		item_clear(&p->items[i]);
	free(p->items);
	free(p);
}

const char *sdp_package_title(const struct sdp_package *p)
{
	for (size_t i = 0; i < p->localized_count; i++) {
		if (p->localized[i].language != NULL && strcmp(p->localized[i].language, "en") == 0)
			return p->localized[i].title;
	}
	return p->localized_count > 0 ? p->localized[0].title : "";
}

/* ---- the model from a DOM subtree ---- */

/* Parsing one package: 0 ok, 1 skip (reason set), -1 fatal (err set: out of memory). */
struct pctx {
	char reason[SDP_SKIP_REASON_MAX];
	struct pp_error *err;
	size_t kept; /* bytes of text and fragments kept so far: bounded so that the export of
		      * any package fits SDP_PACKAGE_MAX and reads back */
};

#define SKIP(c, ...) (snprintf((c)->reason, sizeof((c)->reason), __VA_ARGS__), 1)

#define SDP_KEPT_MAX (SDP_PACKAGE_MAX / 2)

/* Counts n more kept bytes; a skip once the package keeps more than SDP_KEPT_MAX. */
static int keep_bytes(struct pctx *c, size_t n)
{
	c->kept += n;
	if (c->kept > SDP_KEPT_MAX)
		return SKIP(c, "the package holds more than %u bytes of text and XML",
			    SDP_KEPT_MAX);
	return 0;
}

static int oom(struct pctx *c)
{
	pp_error_set(c->err, HR_E_OUTOFMEMORY, "out of memory reading an SDP package");
	return -1;
}

static bool in_ns(const xmlNode *n, const char *ns)
{
	return n->ns != NULL && n->ns->href != NULL && strcmp((const char *)n->ns->href, ns) == 0;
}

static bool is_el(const xmlNode *n, const char *ns, const char *name)
{
	return n->type == XML_ELEMENT_NODE && in_ns(n, ns) &&
	       strcmp((const char *)n->name, name) == 0;
}

/* Grows an array of elem-size entries by one; returns the new slot (zeroed) or NULL. */
static void *grow(void *arr_ptr, size_t *count, size_t elem, size_t max)
{
	void **arr = arr_ptr;
	void *n;

	if (*count >= max)
		return NULL;
	n = realloc(*arr, (*count + 1) * elem);
	if (n == NULL)
		return NULL;
	*arr = n;
	memset((char *)n + *count * elem, 0, elem);
	return (char *)n + (*count)++ * elem;
}

/* A copy of a libxml2 string (freed with xmlFree), bounded; NULL with reason/err set. */
static int take_text(struct pctx *c, xmlChar *x, const char *what, char **out)
{
	size_t n;

	*out = NULL;
	if (x == NULL)
		return 0;
	n = strlen((const char *)x);
	if (n > SDP_TEXT_MAX) {
		xmlFree(x);
		return SKIP(c, "%s is longer than %u bytes", what, SDP_TEXT_MAX);
	}
	if (keep_bytes(c, n) != 0) {
		xmlFree(x);
		return 1;
	}
	*out = malloc(n + 1);
	if (*out == NULL) {
		xmlFree(x);
		return oom(c);
	}
	memcpy(*out, x, n + 1);
	xmlFree(x);
	return 0;
}

static int attr(struct pctx *c, xmlNode *n, const char *name, char **out)
{
	return take_text(c, xmlGetNoNsProp(n, (const xmlChar *)name), name, out);
}

static int text(struct pctx *c, xmlNode *n, const char *what, char **out)
{
	return take_text(c, xmlNodeGetContent(n), what, out);
}

/* The name of an attribute as written: "prefix:name" or "name". */
static int attr_name(struct pctx *c, const xmlAttr *a, char **out)
{
	const char *prefix =
	    a->ns != NULL && a->ns->prefix != NULL ? (const char *)a->ns->prefix : NULL;
	size_t n = strlen((const char *)a->name) + (prefix != NULL ? strlen(prefix) + 1 : 0) + 1;

	*out = malloc(n);
	if (*out == NULL)
		return oom(c);
	(void)snprintf(*out, n, "%s%s%s", prefix != NULL ? prefix : "", prefix != NULL ? ":" : "",
		       (const char *)a->name);
	return 0;
}

/* Keeps the attributes of n that are not in known (NULL-terminated, unprefixed names). */
static int other_attrs(struct pctx *c, xmlNode *n, const char *const *known, struct sdp_attr **out,
		       size_t *count)
{
	for (xmlAttr *a = n->properties; a != NULL; a = a->next) {
		struct sdp_attr *slot;
		bool skip = false;
		int r;

		for (size_t k = 0; a->ns == NULL && known != NULL && known[k] != NULL; k++)
			skip = skip || strcmp((const char *)a->name, known[k]) == 0;
		/* A prefixed attribute would need its namespace declared where it is written back;
		 * only xml: (always declared) is kept. */
		if (a->ns != NULL &&
		    (a->ns->prefix == NULL || strcmp((const char *)a->ns->prefix, "xml") != 0))
			skip = true;
		if (skip)
			continue;
		slot = grow(out, count, sizeof(**out), SDP_LIST_MAX);
		if (slot == NULL)
			return *count >= SDP_LIST_MAX
				   ? SKIP(c, "too many attributes on %s", n->name)
				   : oom(c);
		if ((r = attr_name(c, a, &slot->name)) != 0)
			return r;
		if ((r = take_text(c, xmlNodeListGetString(n->doc, a->children, 1), "an attribute",
				   &slot->value)) != 0)
			return r;
		if (slot->value == NULL && (slot->value = strdup("")) == NULL)
			return oom(c);
	}
	return 0;
}

/* One element serialized on its own, declaring every namespace it uses (copied into a scratch
 * document, which declares on the copy what the copy's ancestors declared). */
static int fragment_one(struct pctx *c, xmlNode *n, xmlBuffer *buf)
{
	xmlDoc *scratch = xmlNewDoc((const xmlChar *)"1.0");
	xmlNode *copy = scratch != NULL ? xmlDocCopyNode(n, scratch, 1) : NULL;
	int rc = -1;

	if (copy == NULL) {
		rc = oom(c);
		goto out;
	}
	(void)xmlDocSetRootElement(scratch, copy);
	if (xmlNodeDump(buf, scratch, copy, 0, 0) < 0) {
		rc = oom(c);
		goto out;
	}
	rc = 0;
out:
	xmlFreeDoc(scratch);
	return rc;
}

/* The element children of n (text between them dropped), each self-contained, concatenated. */
static int fragment(struct pctx *c, xmlNode *first, bool siblings, const char *what, char **out)
{
	xmlBuffer *buf = xmlBufferCreate();
	int rc = 0;

	*out = NULL;
	if (buf == NULL)
		return oom(c);
	/* libxml2 2.9 grows a buffer by what each write needs unless told to double. */
	xmlBufferSetAllocationScheme(buf, XML_BUFFER_ALLOC_DOUBLEIT);
	for (xmlNode *k = first; k != NULL && rc == 0; k = siblings ? k->next : NULL) {
		if (k->type == XML_ELEMENT_NODE)
			rc = fragment_one(c, k, buf);
	}
	if (rc == 0 && (size_t)xmlBufferLength(buf) > SDP_FRAGMENT_MAX)
		rc = SKIP(c, "%s is larger than %u bytes", what, SDP_FRAGMENT_MAX);
	if (rc == 0)
		rc = keep_bytes(c, (size_t)xmlBufferLength(buf));
	if (rc == 0 && (*out = strdup((const char *)xmlBufferContent(buf))) == NULL)
		rc = oom(c);
	xmlBufferFree(buf);
	return rc;
}

static int keep_other(struct pctx *c, xmlNode *n, struct sdp_fragments *f)
{
	char **slot = grow(&f->xml, &f->count, sizeof(char *), SDP_LIST_MAX);

	if (slot == NULL)
		return f->count >= SDP_LIST_MAX
			   ? SKIP(c, "too many elements in %s", n->parent->name)
			   : oom(c);
	return fragment(c, n, false, (const char *)n->name, slot);
}

static int push_text(struct pctx *c, xmlNode *n, const char *what, char ***v, size_t *count)
{
	char **slot = grow(v, count, sizeof(char *), SDP_LIST_MAX);

	if (slot == NULL)
		return *count >= SDP_LIST_MAX ? SKIP(c, "too many %s entries", what) : oom(c);
	return text(c, n, what, slot);
}

/* A text child once only. */
static int text_once(struct pctx *c, xmlNode *n, const char *what, char **out)
{
	if (*out != NULL)
		return SKIP(c, "%s appears twice", what);
	return text(c, n, what, out);
}

static int parse_bool(const char *s, bool *out)
{
	if (strcmp(s, "true") == 0 || strcmp(s, "1") == 0)
		*out = true;
	else if (strcmp(s, "false") == 0 || strcmp(s, "0") == 0)
		*out = false;
	else
		return -1;
	return 0;
}

static int parse_int64(const char *s, int64_t *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0)
		return -1;
	*out = v;
	return 0;
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (*end != '\0' || errno != 0)
		return -1;
	*out = v;
	return 0;
}

static int parse_properties(struct pctx *c, xmlNode *n, struct sdp_package *p)
{
	static const char *const known[] = {"PackageID", "CreationDate", "VendorName", NULL};
	char *id = NULL;
	int r;

	if ((r = attr(c, n, "PackageID", &id)) != 0)
		return r;
	if (id == NULL)
		return SKIP(c, "sdp:Properties has no PackageID");
	if (!sdp_guid_valid(id)) {
		r = SKIP(c, "PackageID \"%.64s\" is not a GUID", id);
		free(id);
		return r;
	}
	for (size_t i = 0; i <= SDP_GUID_LEN; i++)
		p->package_id[i] = (char)(id[i] >= 'A' && id[i] <= 'F' ? id[i] - 'A' + 'a' : id[i]);
	free(id);
	if ((r = attr(c, n, "CreationDate", &p->creation_date)) != 0 ||
	    (r = attr(c, n, "VendorName", &p->vendor_name)) != 0 ||
	    (r = other_attrs(c, n, known, &p->prop_attrs, &p->prop_attr_count)) != 0)
		return r;
	for (xmlNode *k = n->children; k != NULL; k = k->next) {
		if (k->type != XML_ELEMENT_NODE)
			continue;
		if (is_el(k, SDP_NS, "MoreInfoUrl"))
			r = text_once(c, k, "MoreInfoUrl", &p->more_info_url);
		else if (is_el(k, SDP_NS, "SupportUrl"))
			r = text_once(c, k, "SupportUrl", &p->support_url);
		else if (is_el(k, SDP_NS, "ProductName"))
			r = text_once(c, k, "ProductName", &p->product_name);
		else
			r = keep_other(c, k, &p->prop_other);
		if (r != 0)
			return r;
	}
	if (p->vendor_name == NULL || p->vendor_name[0] == '\0')
		return SKIP(c, "sdp:Properties has no VendorName");
	if (p->product_name == NULL || p->product_name[0] == '\0')
		return SKIP(c, "sdp:Properties has no ProductName");
	if (p->creation_date == NULL || p->creation_date[0] == '\0')
		return SKIP(c, "sdp:Properties has no CreationDate");
	return 0;
}

static int parse_localized(struct pctx *c, xmlNode *n, struct sdp_package *p)
{
	struct sdp_localized *l =
	    grow(&p->localized, &p->localized_count, sizeof(*l), SDP_LIST_MAX);
	int r = 0;

	if (l == NULL)
		return p->localized_count >= SDP_LIST_MAX
			   ? SKIP(c, "too many sdp:LocalizedProperties")
			   : oom(c);
	for (xmlNode *k = n->children; k != NULL && r == 0; k = k->next) {
		if (k->type != XML_ELEMENT_NODE)
			continue;
		if (is_el(k, SDP_NS, "Language"))
			r = text_once(c, k, "Language", &l->language);
		else if (is_el(k, SDP_NS, "Title"))
			r = text_once(c, k, "Title", &l->title);
		else if (is_el(k, SDP_NS, "Description"))
			r = text_once(c, k, "Description", &l->description);
		else
			r = keep_other(c, k, &l->other);
	}
	if (r != 0)
		return r;
	if (l->language == NULL || l->language[0] == '\0')
		return SKIP(c, "sdp:LocalizedProperties has no Language");
	if (l->title == NULL || l->title[0] == '\0')
		return SKIP(c, "sdp:LocalizedProperties (%.16s) has no Title", l->language);
	return 0;
}

static int parse_update_data(struct pctx *c, xmlNode *n, struct sdp_package *p)
{
	static const char *const known[] = {"MsrcSeverity", "UpdateClassification", NULL};
	int r;

	if (p->has_update_data)
		return SKIP(c, "sdp:UpdateSpecificData appears twice");
	p->has_update_data = true;
	if ((r = attr(c, n, "MsrcSeverity", &p->msrc_severity)) != 0 ||
	    (r = attr(c, n, "UpdateClassification", &p->update_classification)) != 0 ||
	    (r = other_attrs(c, n, known, &p->update_attrs, &p->update_attr_count)) != 0)
		return r;
	for (xmlNode *k = n->children; k != NULL; k = k->next) {
		if (k->type != XML_ELEMENT_NODE)
			continue;
		if (is_el(k, SDP_NS, "KBArticleID"))
			r = text_once(c, k, "KBArticleID", &p->kb_article_id);
		else if (is_el(k, SDP_NS, "SecurityBulletinID"))
			r = text_once(c, k, "SecurityBulletinID", &p->security_bulletin_id);
		else if (is_el(k, SDP_NS, "CveID"))
			r = push_text(c, k, "CveID", &p->cve_ids, &p->cve_count);
		else
			r = SKIP(c, "sdp:UpdateSpecificData has an unknown element %.64s", k->name);
		if (r != 0)
			return r;
	}
	return 0;
}

static int parse_return_code(struct pctx *c, xmlNode *n, struct sdp_command_line *cl)
{
	struct sdp_return_code *rc =
	    grow(&cl->return_codes, &cl->return_code_count, sizeof(*rc), SDP_LIST_MAX);
	char *code = NULL, *result = NULL, *reboot = NULL;
	int r;

	if (rc == NULL)
		return cl->return_code_count >= SDP_LIST_MAX ? SKIP(c, "too many cmd:ReturnCode")
							     : oom(c);
	if ((r = attr(c, n, "Code", &code)) != 0 || (r = attr(c, n, "Result", &result)) != 0 ||
	    (r = attr(c, n, "Reboot", &reboot)) != 0)
		goto out;
	if (code == NULL || parse_int64(code, &rc->code) != 0 || rc->code < INT32_MIN ||
	    rc->code > UINT32_MAX)
		r = SKIP(c, "cmd:ReturnCode Code \"%.32s\" is not a 32-bit integer",
			 code != NULL ? code : "");
	else if (result == NULL || sdp_result_parse(result, &rc->result) != 0)
		r = SKIP(c, "cmd:ReturnCode %s: Result must be Succeeded, Failed or Cancelled",
			 code);
	else if (reboot != NULL && parse_bool(reboot, &rc->reboot) != 0)
		r = SKIP(c, "cmd:ReturnCode %s: Reboot must be true or false", code);
out:
	free(code);
	free(result);
	free(reboot);
	return r;
}

static int parse_command_line(struct pctx *c, xmlNode *n, struct sdp_item *it)
{
	static const char *const known[] = {"Program", "Arguments", "DefaultResult",
					    "RebootByDefault", NULL};
	struct sdp_command_line *cl = calloc(1, sizeof(*cl));
	char *def = NULL, *reboot = NULL;
	int r;

	if (cl == NULL)
		return oom(c);
	it->command_line = cl;
	cl->default_result = SDP_RESULT_FAILED;
	if ((r = attr(c, n, "Program", &cl->program)) != 0 ||
	    (r = attr(c, n, "Arguments", &cl->arguments)) != 0 ||
	    (r = attr(c, n, "DefaultResult", &def)) != 0 ||
	    (r = attr(c, n, "RebootByDefault", &reboot)) != 0 ||
	    (r = other_attrs(c, n, known, &cl->attrs, &cl->attr_count)) != 0)
		goto out;
	if (cl->program == NULL || cl->program[0] == '\0') {
		r = SKIP(c, "cmd:CommandLineInstallerData has no Program");
		goto out;
	}
	if (def != NULL && sdp_result_parse(def, &cl->default_result) != 0) {
		r = SKIP(c,
			 "cmd:CommandLineInstallerData DefaultResult \"%.32s\" is not Succeeded, "
			 "Failed or Cancelled",
			 def);
		goto out;
	}
	if (reboot != NULL && parse_bool(reboot, &cl->reboot_by_default) != 0) {
		r = SKIP(c, "cmd:CommandLineInstallerData RebootByDefault must be true or false");
		goto out;
	}
	for (xmlNode *k = n->children; k != NULL && r == 0; k = k->next) {
		if (is_el(k, SDP_CMD_NS, "ReturnCode"))
			r = parse_return_code(c, k, cl);
		else if (k->type == XML_ELEMENT_NODE)
			r = SKIP(c, "cmd:CommandLineInstallerData has an unknown element %.64s",
				 k->name);
	}
out:
	free(def);
	free(reboot);
	return r;
}

static int parse_origin_file(struct pctx *c, xmlNode *n, struct sdp_item *it)
{
	static const char *const known[] = {"FileName", "Size",	     "Digest",
					    "Modified", "OriginUri", NULL};
	struct sdp_origin_file *f =
	    grow(&it->origin_files, &it->origin_file_count, sizeof(*f), SDP_LIST_MAX);
	char *size = NULL, *digest = NULL;
	int r;

	if (f == NULL)
		return it->origin_file_count >= SDP_LIST_MAX ? SKIP(c, "too many sdp:OriginFile")
							     : oom(c);
	if ((r = attr(c, n, "FileName", &f->file_name)) != 0 ||
	    (r = attr(c, n, "Size", &size)) != 0 || (r = attr(c, n, "Digest", &digest)) != 0 ||
	    (r = attr(c, n, "Modified", &f->modified)) != 0 ||
	    (r = attr(c, n, "OriginUri", &f->origin_uri)) != 0 ||
	    (r = other_attrs(c, n, known, &f->attrs, &f->attr_count)) != 0)
		goto out;
	if (f->file_name == NULL || f->file_name[0] == '\0' || strchr(f->file_name, '/') != NULL ||
	    strchr(f->file_name, '\\') != NULL || strcmp(f->file_name, "..") == 0 ||
	    strcmp(f->file_name, ".") == 0)
		r = SKIP(c, "sdp:OriginFile FileName \"%.64s\" is not a plain file name",
			 f->file_name != NULL ? f->file_name : "");
	else if (size == NULL || parse_u64(size, &f->size) != 0)
		r = SKIP(c, "sdp:OriginFile %.64s: Size \"%.32s\" is not a byte count",
			 f->file_name, size != NULL ? size : "");
	else if (digest == NULL || !digest_from_base64(digest, f->sha1))
		r = SKIP(c, "sdp:OriginFile %.64s: Digest \"%.40s\" is not the base64 of a SHA-1",
			 f->file_name, digest != NULL ? digest : "");
out:
	free(size);
	free(digest);
	return r;
}

static int parse_rules(struct pctx *c, xmlNode *n, struct sdp_item *it)
{
	int r = 0;

	for (xmlNode *k = n->children; k != NULL && r == 0; k = k->next) {
		char **slot = NULL;

		if (k->type != XML_ELEMENT_NODE)
			continue;
		if (is_el(k, SDP_NS, "IsInstalled"))
			slot = &it->is_installed;
		else if (is_el(k, SDP_NS, "IsInstallable"))
			slot = &it->is_installable;
		else if (is_el(k, SDP_NS, "IsSuperseded"))
			slot = &it->is_superseded;
		else if (is_el(k, SDP_NS, "Metadata"))
			slot = &it->rules_metadata;
		else
			return SKIP(c, "sdp:ApplicabilityRules has an unknown element %.64s",
				    k->name);
		if (*slot != NULL)
			return SKIP(c, "sdp:ApplicabilityRules has %s twice", k->name);
		r = fragment(c, k->children, true, (const char *)k->name, slot);
	}
	return r;
}

static int parse_item(struct pctx *c, xmlNode *n, struct sdp_package *p)
{
	struct sdp_item *it = grow(&p->items, &p->item_count, sizeof(*it), SDP_ITEMS_MAX);
	char *id = NULL;
	int r;

	if (it == NULL)
		return p->item_count >= SDP_ITEMS_MAX
			   ? SKIP(c, "more than %d sdp:InstallableItem", SDP_ITEMS_MAX)
			   : oom(c);
	if ((r = attr(c, n, "ID", &id)) != 0)
		return r;
	if (id == NULL || !sdp_guid_valid(id)) {
		r = SKIP(c, "sdp:InstallableItem ID \"%.64s\" is not a GUID", id != NULL ? id : "");
		free(id);
		return r;
	}
	memcpy(it->id, id, SDP_GUID_LEN + 1);
	free(id);
	for (xmlNode *k = n->children; k != NULL && r == 0; k = k->next) {
		if (k->type != XML_ELEMENT_NODE)
			continue;
		if (is_el(k, SDP_NS, "ApplicabilityRules")) {
			r = parse_rules(c, k, it);
		} else if (is_el(k, SDP_NS, "InstallProperties")) {
			if (it->has_install_properties)
				return SKIP(c, "sdp:InstallProperties appears twice");
			it->has_install_properties = true;
			r = other_attrs(c, k, NULL, &it->install_attrs, &it->install_attr_count);
		} else if (is_el(k, SDP_NS, "OriginFile")) {
			r = parse_origin_file(c, k, it);
		} else if (is_el(k, SDP_NS, "Language")) {
			r = push_text(c, k, "Language", &it->languages, &it->language_count);
		} else if (is_el(k, SDP_CMD_NS, "CommandLineInstallerData") ||
			   (k->ns != NULL &&
			    strstr((const char *)k->name, "InstallerData") != NULL)) {
			if (it->command_line != NULL || it->other_handler != NULL)
				return SKIP(c, "sdp:InstallableItem %s has two handlers", it->id);
			r = in_ns(k, SDP_CMD_NS)
				? parse_command_line(c, k, it)
				: fragment(c, k, false, "the handler", &it->other_handler);
		} else {
			r = keep_other(c, k, &it->other);
		}
	}
	return r;
}

/* The model of one sdp:SoftwareDistributionPackage (or smc:) element. */
static int parse_package(struct pctx *c, xmlNode *root, struct sdp_package *p)
{
	static const char *const known[] = {"SchemaVersion", NULL};
	bool have_props = false;
	int r;

	if ((r = attr(c, root, "SchemaVersion", &p->schema_version)) != 0 ||
	    (r = other_attrs(c, root, known, &p->root_attrs, &p->root_attr_count)) != 0)
		return r;
	for (xmlNode *k = root->children; k != NULL && r == 0; k = k->next) {
		if (k->type != XML_ELEMENT_NODE)
			continue;
		if (is_el(k, SDP_NS, "Properties")) {
			if (have_props)
				return SKIP(c, "sdp:Properties appears twice");
			have_props = true;
			r = parse_properties(c, k, p);
		} else if (is_el(k, SDP_NS, "LocalizedProperties")) {
			r = parse_localized(c, k, p);
		} else if (is_el(k, SDP_NS, "UpdateSpecificData")) {
			r = parse_update_data(c, k, p);
		} else if (is_el(k, SDP_NS, "IsInstallable")) {
			r = p->is_installable != NULL
				? SKIP(c, "sdp:IsInstallable appears twice")
				: fragment(c, k->children, true, "IsInstallable",
					   &p->is_installable);
		} else if (is_el(k, SDP_NS, "IsInstalled")) {
			r = p->is_installed != NULL
				? SKIP(c, "sdp:IsInstalled appears twice")
				: fragment(c, k->children, true, "IsInstalled", &p->is_installed);
		} else if (is_el(k, SDP_NS, "Prerequisites")) {
			r = p->prerequisites != NULL ? SKIP(c, "sdp:Prerequisites appears twice")
						     : fragment(c, k->children, true,
								"Prerequisites", &p->prerequisites);
		} else if (is_el(k, SDP_NS, "SupersededPackages")) {
			for (xmlNode *s = k->children; s != NULL && r == 0; s = s->next) {
				if (is_el(s, SDP_NS, "PackageID"))
					r = push_text(c, s, "superseded PackageID", &p->superseded,
						      &p->superseded_count);
			}
		} else if (is_el(k, SDP_NS, "InstallableItem")) {
			r = parse_item(c, k, p);
		} else {
			r = keep_other(c, k, &p->other);
		}
	}
	if (r != 0)
		return r;
	if (!have_props)
		return SKIP(c, "the package has no sdp:Properties");
	if (p->localized_count == 0)
		return SKIP(c, "the package has no sdp:LocalizedProperties with a Title");
	if (p->item_count == 0)
		return SKIP(c, "the package has no sdp:InstallableItem");
	return 0;
}

/* ---- the streaming reader ---- */

struct sdp_reader {
	sdp_read_fn read;
	void *ctx;
	int fd; /* for sdp_reader_new_fd */
	const unsigned char *mem;
	size_t mem_len, mem_off;
	xmlTextReader *xr;
	/* input: raw bytes, inflated when gzip */
	bool gzip, zinit, zend, started;
	z_stream z;
	unsigned char in[IN_CHUNK];
	size_t in_len;
	uint64_t consumed; /* raw input bytes read */
	uint64_t produced; /* bytes handed to libxml2 */
	uint64_t expand_start;
	bool expanding;
	/* state */
	bool catalog, done, failed;
	unsigned index;
	struct pp_error io_err; /* an error of the input layer, reported by next */
	char xml_err[PP_ERROR_MESSAGE_MAX];
	bool saw_dtd;
};

static ssize_t raw_read(struct sdp_reader *r, void *buf, size_t len)
{
	ssize_t n = r->read(r->ctx, buf, len, &r->io_err);

	if (n > 0)
		r->consumed += (uint64_t)n;
	return n;
}

/* libxml2's input callback: raw bytes, or inflated ones when the input is gzip. */
static int io_read(void *arg, char *buf, int len)
{
	struct sdp_reader *r = arg;
	ssize_t got = 0;

	if (len <= 0)
		return 0;
	if (!r->started) {
		ssize_t n = raw_read(r, r->in, sizeof(r->in));

		if (n < 0)
			return -1;
		r->in_len = (size_t)n;
		r->started = true;
		r->gzip = n >= 2 && r->in[0] == 0x1f && r->in[1] == 0x8b;
		if (r->gzip) {
			if (inflateInit2(&r->z, 15 + 32) != Z_OK) {
				pp_error_set(&r->io_err, HR_E_OUTOFMEMORY,
					     "cannot start inflating");
				return -1;
			}
			r->zinit = true;
			r->z.next_in = r->in;
			r->z.avail_in = (uInt)r->in_len;
		}
	}
	if (!r->gzip) {
		if (r->in_len > 0) {
			got = (ssize_t)(r->in_len < (size_t)len ? r->in_len : (size_t)len);
			memcpy(buf, r->in, (size_t)got);
			memmove(r->in, r->in + got, r->in_len - (size_t)got);
			r->in_len -= (size_t)got;
		} else {
			got = raw_read(r, buf, (size_t)len);
			if (got < 0)
				return -1;
		}
	} else {
		r->z.next_out = (Bytef *)buf;
		r->z.avail_out = (uInt)len;
		while (r->z.avail_out == (uInt)len && !r->zend) {
			int zr;

			if (r->z.avail_in == 0) {
				ssize_t n = raw_read(r, r->in, sizeof(r->in));

				if (n < 0)
					return -1;
				if (n == 0) {
					pp_error_set(&r->io_err, HR_ERROR_INVALID_DATA,
						     "the gzip stream ends early (truncated file)");
					return -1;
				}
				r->z.next_in = r->in;
				r->z.avail_in = (uInt)n;
			}
			zr = inflate(&r->z, Z_NO_FLUSH);
			if (zr == Z_STREAM_END) {
				r->zend = true;
			} else if (zr != Z_OK) {
				pp_error_set(&r->io_err, HR_ERROR_INVALID_DATA,
					     "the gzip stream is damaged: %s",
					     r->z.msg != NULL ? r->z.msg : "inflate failed");
				return -1;
			}
		}
		got = (ssize_t)((uInt)len - r->z.avail_out);
	}
	r->produced += (uint64_t)got;
	if (r->produced > SDP_INPUT_MAX) {
		pp_error_set(&r->io_err, HR_ERROR_FILE_TOO_LARGE,
			     "the catalog is larger than %llu bytes of XML",
			     (unsigned long long)SDP_INPUT_MAX);
		return -1;
	}
	if (r->expanding && r->produced - r->expand_start > SDP_PACKAGE_MAX + IN_CHUNK) {
		pp_error_set(&r->io_err, HR_ERROR_FILE_TOO_LARGE,
			     "package %u is larger than %u bytes of XML", r->index,
			     SDP_PACKAGE_MAX);
		return -1;
	}
	return (int)got;
}

static int io_close(void *arg)
{
	(void)arg;
	return 0;
}

static void on_xml_error(void *arg, xmlError *e)
{
	struct sdp_reader *r = arg;

	if (e == NULL || r->xml_err[0] != '\0' || e->level < XML_ERR_ERROR)
		return;
	(void)snprintf(r->xml_err, sizeof(r->xml_err), "line %d: %s", e->line,
		       e->message != NULL ? e->message : "malformed XML");
	/* libxml2's messages end with a newline. */
	r->xml_err[strcspn(r->xml_err, "\n")] = '\0';
}

/* A reader whose input callbacks are set; the XML reader starts in reader_start, because
 * libxml2 reads the first bytes at once. */
static struct sdp_reader *reader_alloc(sdp_read_fn read, void *ctx, struct pp_error *err)
{
	struct sdp_reader *r = calloc(1, sizeof(*r));

	if (r == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
		return NULL;
	}
	r->read = read;
	r->ctx = ctx != NULL ? ctx : r;
	r->fd = -1;
	return r;
}

static struct sdp_reader *reader_start(struct sdp_reader *r, struct pp_error *err)
{
	if (r == NULL)
		return NULL;
	/* No network, no entity substitution, no DTD loading: a catalog is data. */
	r->xr = xmlReaderForIO(io_read, io_close, r, NULL, NULL,
			       XML_PARSE_NONET | XML_PARSE_NOCDATA | XML_PARSE_COMPACT);
	if (r->xr == NULL) {
		if (r->io_err.code != 0)
			pp_error_set(err, r->io_err.code, "%s", r->io_err.message);
		else
			pp_error_set(err, HR_E_OUTOFMEMORY, "cannot create the XML reader");
		sdp_reader_free(r);
		return NULL;
	}
	xmlTextReaderSetStructuredErrorHandler(r->xr, on_xml_error, r);
	return r;
}

struct sdp_reader *sdp_reader_new(sdp_read_fn read, void *ctx, struct pp_error *err)
{
	return reader_start(reader_alloc(read, ctx, err), err);
}

static ssize_t fd_read(void *ctx, void *buf, size_t len, struct pp_error *err)
{
	const struct sdp_reader *r = ctx;

	for (;;) {
		ssize_t n = read(r->fd, buf, len);

		if (n >= 0)
			return n;
		if (errno != EINTR) {
			pp_error_set_errno(err, errno, "cannot read the catalog");
			return -1;
		}
	}
}

static ssize_t mem_read(void *ctx, void *buf, size_t len, struct pp_error *err)
{
	struct sdp_reader *r = ctx;
	size_t n = r->mem_len - r->mem_off < len ? r->mem_len - r->mem_off : len;

	(void)err;
	memcpy(buf, r->mem + r->mem_off, n);
	r->mem_off += n;
	return (ssize_t)n;
}

struct sdp_reader *sdp_reader_new_fd(int fd, struct pp_error *err)
{
	struct sdp_reader *r = reader_alloc(fd_read, NULL, err);

	if (r != NULL)
		r->fd = fd;
	return reader_start(r, err);
}

struct sdp_reader *sdp_reader_new_memory(const void *data, size_t len, struct pp_error *err)
{
	struct sdp_reader *r = reader_alloc(mem_read, NULL, err);

	if (r != NULL) {
		r->mem = data;
		r->mem_len = len;
	}
	return reader_start(r, err);
}

void sdp_reader_free(struct sdp_reader *r)
{
	if (r == NULL)
		return;
	xmlFreeTextReader(r->xr);
	if (r->zinit)
		(void)inflateEnd(&r->z);
	free(r);
}

uint64_t sdp_reader_consumed(const struct sdp_reader *r)
{
	return r->consumed;
}

bool sdp_reader_is_catalog(const struct sdp_reader *r)
{
	return r->catalog;
}

/* Ends the reader with err from the input layer, libxml2's message, or fallback. */
static int reader_fail(struct sdp_reader *r, struct pp_error *err, const char *fallback)
{
	r->failed = true;
	if (r->io_err.code != 0)
		pp_error_set(err, r->io_err.code, "%s", r->io_err.message);
	else if (r->xml_err[0] != '\0')
		pp_error_set(err, HR_ERROR_INVALID_DATA, "malformed XML at %s", r->xml_err);
	else
		pp_error_set(err, HR_ERROR_INVALID_DATA, "%s", fallback);
	return -1;
}

/* Advances to the next element at depth (or the end): 1 found, 0 end, -1 error. */
static int next_element(struct sdp_reader *r, int depth, bool skip_current)
{
	int rc = skip_current ? xmlTextReaderNext(r->xr) : xmlTextReaderRead(r->xr);

	while (rc == 1) {
		int type = xmlTextReaderNodeType(r->xr);
		int d = xmlTextReaderDepth(r->xr);

		if (type == XML_READER_TYPE_DOCUMENT_TYPE) {
			r->saw_dtd = true;
			return -1;
		}
		if (type == XML_READER_TYPE_ELEMENT && d == depth)
			return 1;
		if (type == XML_READER_TYPE_ELEMENT && d > depth)
			rc = xmlTextReaderNext(r->xr);
		else if (type == XML_READER_TYPE_END_ELEMENT && d < depth)
			return 0;
		else
			rc = xmlTextReaderRead(r->xr);
	}
	return rc == 0 ? 0 : -1;
}

static bool is_package_element(xmlTextReader *xr)
{
	const xmlChar *ns = xmlTextReaderConstNamespaceUri(xr);
	const xmlChar *name = xmlTextReaderConstLocalName(xr);

	return ns != NULL && name != NULL &&
	       strcmp((const char *)name, "SoftwareDistributionPackage") == 0 &&
	       (strcmp((const char *)ns, SDP_NS) == 0 || strcmp((const char *)ns, SDP_SMC_NS) == 0);
}

/* Expands the current package element and turns it into a model or a skip. */
static int read_package(struct sdp_reader *r, struct sdp_package **out, struct sdp_skip *skip,
			struct pp_error *err)
{
	struct pctx c = {.err = err};
	struct sdp_package *p;
	xmlNode *node;
	int rc;

	r->index++;
	r->expanding = true;
	r->expand_start = r->produced;
	node = xmlTextReaderExpand(r->xr);
	r->expanding = false;
	if (node == NULL || r->xml_err[0] != '\0' || r->io_err.code != 0)
		return reader_fail(r, err, "malformed XML in a package");
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return reader_fail(r, err, "out of memory");
	rc = parse_package(&c, node, p);
	if (rc < 0) {
		sdp_package_free(p);
		r->failed = true;
		return -1;
	}
	if (rc == 1) {
		memset(skip, 0, sizeof(*skip));
		skip->index = r->index;
		(void)snprintf(skip->package_id, sizeof(skip->package_id), "%s", p->package_id);
		if (p->localized_count > 0 && p->localized[0].title != NULL)
			(void)snprintf(skip->title, sizeof(skip->title), "%s",
				       p->localized[0].title);
		(void)snprintf(skip->reason, sizeof(skip->reason), "%s", c.reason);
		sdp_package_free(p);
		return SDP_NEXT_SKIPPED;
	}
	*out = p;
	return SDP_NEXT_PACKAGE;
}

int sdp_reader_next(struct sdp_reader *r, struct sdp_package **out, struct sdp_skip *skip,
		    struct pp_error *err)
{
	int rc;

	*out = NULL;
	if (r->failed) {
		pp_error_set(err, HR_E_FAIL, "the catalog reader has already failed");
		return -1;
	}
	if (r->done)
		return SDP_NEXT_END;
	if (r->index == 0 && !r->catalog) {
		const xmlChar *ns, *name;

		rc = next_element(r, 0, false);
		if (rc < 0 && r->saw_dtd) {
			r->failed = true;
			pp_error_set(
			    err, HR_ERROR_INVALID_DATA,
			    "the document has a DTD (<!DOCTYPE>), which catalogs never have; "
			    "refused");
			return -1;
		}
		if (rc <= 0)
			return reader_fail(r, err, "the input is empty or not XML");
		ns = xmlTextReaderConstNamespaceUri(r->xr);
		name = xmlTextReaderConstLocalName(r->xr);
		if (is_package_element(r->xr)) {
			rc = read_package(r, out, skip, err);
			r->done = true;
			/* A single SDP still has to be well-formed to its end. */
			while (rc >= 0 && xmlTextReaderRead(r->xr) == 1)
				;
			if (rc >= 0 && (r->xml_err[0] != '\0' || r->io_err.code != 0)) {
				sdp_package_free(*out);
				*out = NULL;
				return reader_fail(r, err, "malformed XML");
			}
			return rc;
		}
		if (ns == NULL || name == NULL || strcmp((const char *)ns, SDP_SMC_NS) != 0 ||
		    strcmp((const char *)name, "SystemsManagementCatalog") != 0) {
			r->failed = true;
			pp_error_set(
			    err, HR_ERROR_INVALID_DATA,
			    "the root element is %s%s%s%s, not "
			    "sdp:SoftwareDistributionPackage or smc:SystemsManagementCatalog",
			    name != NULL ? (const char *)name : "(none)", ns != NULL ? " {" : "",
			    ns != NULL ? (const char *)ns : "", ns != NULL ? "}" : "");
			return -1;
		}
		r->catalog = true;
		if (xmlTextReaderIsEmptyElement(r->xr) == 1) {
			r->done = true;
			return SDP_NEXT_END;
		}
		rc = next_element(r, 1, false);
	} else {
		rc = next_element(r, 1, true);
	}
	for (; rc == 1; rc = next_element(r, 1, true)) {
		if (is_package_element(r->xr))
			return read_package(r, out, skip, err);
	}
	if (rc < 0 || r->xml_err[0] != '\0' || r->io_err.code != 0) {
		if (r->saw_dtd) {
			r->failed = true;
			pp_error_set(err, HR_ERROR_INVALID_DATA,
				     "a DTD inside the catalog; refused");
			return -1;
		}
		return reader_fail(r, err, "malformed XML");
	}
	/* The root has ended; the rest of the document must still be well-formed. */
	while ((rc = xmlTextReaderRead(r->xr)) == 1)
		;
	if (rc < 0 || r->xml_err[0] != '\0' || r->io_err.code != 0)
		return reader_fail(r, err, "malformed XML after the catalog");
	r->done = true;
	return SDP_NEXT_END;
}

struct sdp_package *sdp_package_parse(const void *xml, size_t len, struct pp_error *err)
{
	struct sdp_reader *r = sdp_reader_new_memory(xml, len, err);
	struct sdp_package *p = NULL, *extra = NULL;
	struct sdp_skip skip;
	int rc;

	if (r == NULL)
		return NULL;
	rc = sdp_reader_next(r, &p, &skip, err);
	if (rc == SDP_NEXT_SKIPPED)
		pp_error_set(err, HR_E_INVALIDARG, "%s", skip.reason);
	else if (rc == SDP_NEXT_END)
		pp_error_set(err, HR_E_INVALIDARG, "the document holds no package");
	else if (rc == SDP_NEXT_PACKAGE && sdp_reader_next(r, &extra, &skip, err) != SDP_NEXT_END) {
		pp_error_set(err, HR_E_INVALIDARG, "the document holds more than one package");
		sdp_package_free(p);
		sdp_package_free(extra);
		p = NULL;
	}
	if (rc != SDP_NEXT_PACKAGE) {
		sdp_package_free(p);
		p = NULL;
	}
	sdp_reader_free(r);
	return p;
}

/* ---- writing ---- */

/* Any libxml2 writer call failing is out of memory or a failed write callback. */
#define W(x)                                                                                       \
	do {                                                                                       \
		if ((x) < 0)                                                                       \
			return -1;                                                                 \
	} while (0)

#define X(s) ((const xmlChar *)(s))

static int w_attr(xmlTextWriter *w, const char *name, const char *value)
{
	if (value == NULL)
		return 0;
	return xmlTextWriterWriteAttribute(w, X(name), X(value));
}

static int w_attrs(xmlTextWriter *w, const struct sdp_attr *a, size_t n)
{
	for (size_t i = 0; i < n; i++)
		W(w_attr(w, a[i].name, a[i].value));
	return 0;
}

static int w_text_el(xmlTextWriter *w, const char *name, const char *value)
{
	if (value == NULL)
		return 0;
	return xmlTextWriterWriteElement(w, X(name), X(value));
}

static int w_raw(xmlTextWriter *w, const char *xml)
{
	if (xml == NULL || xml[0] == '\0')
		return 0;
	return xmlTextWriterWriteRaw(w, X(xml));
}

static int w_fragments(xmlTextWriter *w, const struct sdp_fragments *f)
{
	for (size_t i = 0; i < f->count; i++)
		W(w_raw(w, f->xml[i]));
	return 0;
}

/* <name>inner</name> when inner is not NULL. */
static int w_wrapped(xmlTextWriter *w, const char *name, const char *inner)
{
	if (inner == NULL)
		return 0;
	W(xmlTextWriterStartElement(w, X(name)));
	W(w_raw(w, inner));
	return xmlTextWriterFullEndElement(w);
}

static int w_bool(xmlTextWriter *w, const char *name, bool v)
{
	return w_attr(w, name, v ? "true" : "false");
}

static int w_command_line(xmlTextWriter *w, const struct sdp_command_line *cl)
{
	W(xmlTextWriterStartElement(w, X("cmd:CommandLineInstallerData")));
	W(w_attr(w, "Program", cl->program));
	W(w_attr(w, "Arguments", cl->arguments));
	W(w_attr(w, "DefaultResult", sdp_result_name(cl->default_result)));
	W(w_bool(w, "RebootByDefault", cl->reboot_by_default));
	W(w_attrs(w, cl->attrs, cl->attr_count));
	for (size_t i = 0; i < cl->return_code_count; i++) {
		char code[24];

		(void)snprintf(code, sizeof(code), "%lld", (long long)cl->return_codes[i].code);
		W(xmlTextWriterStartElement(w, X("cmd:ReturnCode")));
		W(w_attr(w, "Code", code));
		W(w_attr(w, "Result", sdp_result_name(cl->return_codes[i].result)));
		W(w_bool(w, "Reboot", cl->return_codes[i].reboot));
		W(xmlTextWriterEndElement(w));
	}
	return xmlTextWriterEndElement(w);
}

static int w_origin_file(xmlTextWriter *w, const struct sdp_origin_file *f)
{
	char size[24], digest[29];

	(void)snprintf(size, sizeof(size), "%llu", (unsigned long long)f->size);
	sdp_digest_base64(f->sha1, digest);
	W(xmlTextWriterStartElement(w, X("sdp:OriginFile")));
	W(w_attr(w, "Digest", digest));
	W(w_attr(w, "FileName", f->file_name));
	W(w_attr(w, "Size", size));
	W(w_attr(w, "Modified", f->modified));
	W(w_attr(w, "OriginUri", f->origin_uri));
	W(w_attrs(w, f->attrs, f->attr_count));
	return xmlTextWriterEndElement(w);
}

static int w_item(xmlTextWriter *w, const struct sdp_item *it)
{
	W(xmlTextWriterStartElement(w, X("sdp:InstallableItem")));
	W(w_attr(w, "ID", it->id));
	if (it->is_installed != NULL || it->is_installable != NULL || it->is_superseded != NULL ||
	    it->rules_metadata != NULL) {
		W(xmlTextWriterStartElement(w, X("sdp:ApplicabilityRules")));
		W(w_wrapped(w, "sdp:IsInstalled", it->is_installed));
		W(w_wrapped(w, "sdp:IsInstallable", it->is_installable));
		W(w_wrapped(w, "sdp:IsSuperseded", it->is_superseded));
		W(w_wrapped(w, "sdp:Metadata", it->rules_metadata));
		W(xmlTextWriterEndElement(w));
	}
	if (it->has_install_properties) {
		W(xmlTextWriterStartElement(w, X("sdp:InstallProperties")));
		W(w_attrs(w, it->install_attrs, it->install_attr_count));
		W(xmlTextWriterEndElement(w));
	}
	W(w_fragments(w, &it->other));
	if (it->command_line != NULL)
		W(w_command_line(w, it->command_line));
	W(w_raw(w, it->other_handler));
	for (size_t i = 0; i < it->origin_file_count; i++)
		W(w_origin_file(w, &it->origin_files[i]));
	for (size_t i = 0; i < it->language_count; i++)
		W(w_text_el(w, "sdp:Language", it->languages[i]));
	return xmlTextWriterEndElement(w);
}

/* One package element: the root of a standalone SDP, or a catalog entry (element smc:...). */
static int w_package(xmlTextWriter *w, const struct sdp_package *p, bool in_catalog)
{
	W(xmlTextWriterStartElement(w, X(in_catalog ? "smc:SoftwareDistributionPackage"
						    : "sdp:SoftwareDistributionPackage")));
	if (!in_catalog) {
		W(w_attr(w, "xmlns:sdp", SDP_NS));
		W(w_attr(w, "xmlns:cmd", SDP_CMD_NS));
	}
	W(w_attr(w, "SchemaVersion", p->schema_version));
	W(w_attrs(w, p->root_attrs, p->root_attr_count));

	W(xmlTextWriterStartElement(w, X("sdp:Properties")));
	W(w_attr(w, "PackageID", p->package_id));
	W(w_attr(w, "CreationDate", p->creation_date));
	W(w_attr(w, "VendorName", p->vendor_name));
	W(w_attrs(w, p->prop_attrs, p->prop_attr_count));
	W(w_text_el(w, "sdp:MoreInfoUrl", p->more_info_url));
	W(w_text_el(w, "sdp:SupportUrl", p->support_url));
	W(w_text_el(w, "sdp:ProductName", p->product_name));
	W(w_fragments(w, &p->prop_other));
	W(xmlTextWriterEndElement(w));

	for (size_t i = 0; i < p->localized_count; i++) {
		const struct sdp_localized *l = &p->localized[i];

		W(xmlTextWriterStartElement(w, X("sdp:LocalizedProperties")));
		W(w_text_el(w, "sdp:Language", l->language));
		W(w_text_el(w, "sdp:Title", l->title));
		W(w_text_el(w, "sdp:Description", l->description));
		W(w_fragments(w, &l->other));
		W(xmlTextWriterEndElement(w));
	}
	if (p->has_update_data) {
		W(xmlTextWriterStartElement(w, X("sdp:UpdateSpecificData")));
		W(w_attr(w, "MsrcSeverity", p->msrc_severity));
		W(w_attr(w, "UpdateClassification", p->update_classification));
		W(w_attrs(w, p->update_attrs, p->update_attr_count));
		W(w_text_el(w, "sdp:KBArticleID", p->kb_article_id));
		W(w_text_el(w, "sdp:SecurityBulletinID", p->security_bulletin_id));
		for (size_t i = 0; i < p->cve_count; i++)
			W(w_text_el(w, "sdp:CveID", p->cve_ids[i]));
		W(xmlTextWriterEndElement(w));
	}
	W(w_fragments(w, &p->other));
	W(w_wrapped(w, "sdp:IsInstallable", p->is_installable));
	W(w_wrapped(w, "sdp:IsInstalled", p->is_installed));
	W(w_wrapped(w, "sdp:Prerequisites", p->prerequisites));
	if (p->superseded_count > 0) {
		W(xmlTextWriterStartElement(w, X("sdp:SupersededPackages")));
		for (size_t i = 0; i < p->superseded_count; i++)
			W(w_text_el(w, "sdp:PackageID", p->superseded[i]));
		W(xmlTextWriterEndElement(w));
	}
	for (size_t i = 0; i < p->item_count; i++)
		W(w_item(w, &p->items[i]));
	return xmlTextWriterEndElement(w);
}

int sdp_package_to_xml(const struct sdp_package *p, char **out, size_t *len, struct pp_error *err)
{
	xmlBuffer *buf = xmlBufferCreate();
	xmlTextWriter *w;
	int rc = -1;

	*out = NULL;
	if (buf != NULL)
		xmlBufferSetAllocationScheme(buf, XML_BUFFER_ALLOC_DOUBLEIT);
	w = buf != NULL ? xmlNewTextWriterMemory(buf, 0) : NULL;
	if (w == NULL)
		goto out;
	if (xmlTextWriterSetIndent(w, 1) < 0 ||
	    xmlTextWriterStartDocument(w, NULL, "UTF-8", NULL) < 0 || w_package(w, p, false) < 0 ||
	    xmlTextWriterEndDocument(w) < 0)
		goto out;
	xmlFreeTextWriter(w);
	w = NULL;
	*len = (size_t)xmlBufferLength(buf);
	*out = malloc(*len + 1);
	if (*out == NULL)
		goto out;
	memcpy(*out, xmlBufferContent(buf), *len + 1);
	rc = 0;
out:
	if (rc != 0)
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory writing package %s",
			     p->package_id);
	xmlFreeTextWriter(w);
	xmlBufferFree(buf);
	return rc;
}

struct sdp_catalog_writer {
	xmlTextWriter *w;
	sdp_write_fn write;
	void *ctx;
	struct pp_error werr; /* the write callback's error */
	bool failed;
};

static int out_write(void *arg, const char *buf, int len)
{
	struct sdp_catalog_writer *cw = arg;

	if (cw->write(cw->ctx, buf, (size_t)len, &cw->werr) != 0) {
		cw->failed = true;
		return -1;
	}
	return len;
}

static int out_close(void *arg)
{
	(void)arg;
	return 0;
}

static int writer_fail(struct sdp_catalog_writer *cw, struct pp_error *err, const char *what)
{
	if (cw->werr.code != 0)
		pp_error_set(err, cw->werr.code, "%s", cw->werr.message);
	else
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory %s", what);
	cw->failed = true;
	return -1;
}

struct sdp_catalog_writer *sdp_catalog_writer_new(sdp_write_fn write, void *ctx,
						  struct pp_error *err)
{
	struct sdp_catalog_writer *cw = calloc(1, sizeof(*cw));
	xmlOutputBuffer *ob;

	if (cw == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
		return NULL;
	}
	cw->write = write;
	cw->ctx = ctx;
	ob = xmlOutputBufferCreateIO(out_write, out_close, cw, NULL);
	cw->w = ob != NULL ? xmlNewTextWriter(ob) : NULL;
	if (cw->w == NULL) {
		if (ob != NULL)
			(void)xmlOutputBufferClose(ob);
		free(cw);
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
		return NULL;
	}
	if (xmlTextWriterSetIndent(cw->w, 1) < 0 ||
	    xmlTextWriterStartDocument(cw->w, NULL, "UTF-8", NULL) < 0 ||
	    xmlTextWriterStartElement(cw->w, X("smc:SystemsManagementCatalog")) < 0 ||
	    w_attr(cw->w, "xmlns:smc", SDP_SMC_NS) < 0 || w_attr(cw->w, "xmlns:sdp", SDP_NS) < 0 ||
	    w_attr(cw->w, "xmlns:cmd", SDP_CMD_NS) < 0) {
		(void)writer_fail(cw, err, "starting the catalog");
		sdp_catalog_writer_free(cw);
		return NULL;
	}
	return cw;
}

int sdp_catalog_writer_add(struct sdp_catalog_writer *w, const struct sdp_package *p,
			   struct pp_error *err)
{
	if (w->failed) {
		pp_error_set(err, HR_E_FAIL, "the catalog writer has already failed");
		return -1;
	}
	if (w_package(w->w, p, true) < 0)
		return writer_fail(w, err, "writing a package");
	return 0;
}

int sdp_catalog_writer_finish(struct sdp_catalog_writer *w, struct pp_error *err)
{
	if (w->failed) {
		pp_error_set(err, HR_E_FAIL, "the catalog writer has already failed");
		return -1;
	}
	if (xmlTextWriterEndDocument(w->w) < 0 || xmlTextWriterFlush(w->w) < 0 || w->failed)
		return writer_fail(w, err, "ending the catalog");
	return 0;
}

void sdp_catalog_writer_free(struct sdp_catalog_writer *w)
{
	if (w == NULL)
		return;
	xmlFreeTextWriter(w->w); /* closes the output buffer */
	free(w);
}
