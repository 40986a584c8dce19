/* agent_gpo.c - group policy on the device: reading Registry.pol, the bookkeeping of what each
 * GPO put on the machine, and the gpupdate over the device protocol (see agent_gpo.h,
 * docs/internals/gpo.md).
 *
 * Order of work in agent_gpo_apply: read gpo-state.json (a failure changes nothing), work out
 * what the GPOs that apply want (certificates by store, the value of the GPO applied last),
 * add what is missing, remove what the agent added and no GPO holds any more, set or clear the
 * value, then write gpo-state.json (also after a failure part way, with what was done). */
#include "agent_gpo.h"

#include "agent_http.h"
#include "base64.h"
#include "hresult.h"
#include "machinepolicy.h"
#include "regpol.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define ATPC   MACHINEPOLICY_ACCEPT_TRUSTED_PUBLISHER_CERTS
#define WU_KEY "Software\\Policies\\Microsoft\\Windows\\WindowsUpdate"
#define STATE_HINT                                                                                 \
	"remove it and run 'patchpoint-agent gpupdate --force' (certificates group policy added "  \
	"before stay in the policy stores until removed with certutil -GroupPolicy -delstore)"
#define POL_B64_MAX ((REGPOL_FILE_MAX / 3 + 1) * 4)

/* ---- Registry.pol ---- */

static void cert_free(struct agent_gpo_cert *c)
{
	X509_free(c->cert);
	c->cert = NULL;
}

void agent_gpo_contents_free(struct agent_gpo_contents *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < c->ncerts; i++)
		cert_free(&c->certs[i]);
	free(c->certs);
	memset(c, 0, sizeof(*c));
}

/* A policy store a GPO may fill: the four of Public Key Policies, not My. */
static bool policy_store(const char *name, enum certstore_id *id)
{
	struct pp_error e;

	pp_error_clear(&e);
	return certstore_parse_name(name, id, &e) == 0 && *id != CERTSTORE_MY;
}

static void refuse(struct agent_gpo_contents *out, const char *gpo, struct cmtrace_log *log,
		   const char *key, const char *why)
{
	agent_log(log, CMTRACE_ERROR, "GPO \"%s\": refused %s\\%s: %s", gpo, key, REGPOL_CERT_VALUE,
		  why);
	if (out->refused++ == 0)
		agent_text_format(out->refusal, sizeof(out->refusal), "refused %s\\%s: %s", key,
				  REGPOL_CERT_VALUE, why);
}

/* One entry under REGPOL_CERT_KEY_PREFIX: 1 used, 0 not understood, -1 out of memory. */
static int cert_entry(const struct regpol_entry *e, const char *gpo, struct cmtrace_log *log,
		      struct agent_gpo_contents *out, struct pp_error *err)
{
	const char *rest = e->key + strlen(REGPOL_CERT_KEY_PREFIX), *sep;
	char store[32], thumb[PKI_THUMBPRINT_LEN + 1];
	struct agent_gpo_cert *c, *grown;
	struct pp_error why;
	enum certstore_id id;
	X509 *x = NULL;
	size_t i;

	sep = strchr(rest, '\\');
	if (sep == NULL || (size_t)(sep - rest) >= sizeof(store) ||
	    strncasecmp(sep, "\\Certificates\\", 14) != 0 || strcasecmp(e->value, "Blob") != 0)
		return 0;
	memcpy(store, rest, (size_t)(sep - rest));
	store[sep - rest] = '\0';
	if (!policy_store(store, &id))
		return 0;
	if (e->type != REGPOL_REG_BINARY) {
		refuse(out, gpo, log, e->key, "the Blob is not REG_BINARY");
		return 1;
	}
	if (strlen(sep + 14) != PKI_THUMBPRINT_LEN ||
	    pki_thumbprint_normalize(sep + 14, thumb) != 0) {
		refuse(out, gpo, log, e->key, "the key does not end in a SHA-1 thumbprint");
		return 1;
	}
	pp_error_clear(&why);
	if (regpol_cert_blob_parse(e->data, e->size, thumb, &x, &why) != 0) {
		refuse(out, gpo, log, e->key, why.message);
		return 1;
	}
	for (i = 0; i < out->ncerts; i++)
		if (out->certs[i].store == id && strcmp(out->certs[i].thumbprint, thumb) == 0) {
			X509_free(x); /* the same entry twice: once is enough */
			return 1;
		}
	if (out->ncerts >= AGENT_GPO_CERTS_MAX) {
		X509_free(x);
		pp_error_set(err, HR_ERROR_INVALID_DATA,
			     "GPO \"%s\" deploys more than %d certificates", gpo,
			     AGENT_GPO_CERTS_MAX);
		return -1;
	}
	grown = realloc(out->certs, (out->ncerts + 1) * sizeof(*out->certs));
	if (grown == NULL) {
		X509_free(x);
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory reading GPO \"%s\"", gpo);
		return -1;
	}
	out->certs = grown;
	c = &out->certs[out->ncerts++];
	memset(c, 0, sizeof(*c));
	c->store = id;
	memcpy(c->thumbprint, thumb, sizeof(c->thumbprint));
	pki_simple_name(x, c->subject, sizeof(c->subject));
	c->cert = x;
	return 1;
}

int agent_gpo_parse_pol(const uint8_t *pol, size_t len, const char *gpo, struct cmtrace_log *log,
			struct agent_gpo_contents *out, struct pp_error *err)
{
	struct regpol *p;
	struct pp_error why;
	size_t i, prefix = strlen(REGPOL_CERT_KEY_PREFIX);
	int used;

	memset(out, 0, sizeof(*out));
	pp_error_clear(&why);
	p = regpol_parse(pol, len, &why);
	if (p == NULL) {
		pp_error_set(err, HR_ERROR_INVALID_DATA,
			     "the Registry.pol of GPO \"%s\" is damaged: %s", gpo, why.message);
		return -1;
	}
	for (i = 0; i < p->count; i++) {
		const struct regpol_entry *e = &p->entries[i];

		used = 0;
		if (strncasecmp(e->key, REGPOL_CERT_KEY_PREFIX, prefix) == 0) {
			used = cert_entry(e, gpo, log, out, err);
			if (used < 0)
				goto fail;
		} else if (strcasecmp(e->key, WU_KEY) == 0 && strcasecmp(e->value, ATPC) == 0) {
			if (e->type == REGPOL_REG_DWORD && e->size == 4) {
				out->has_atpc = true;
				out->atpc = (uint32_t)e->data[0] | (uint32_t)e->data[1] << 8 |
					    (uint32_t)e->data[2] << 16 | (uint32_t)e->data[3] << 24;
				used = 1;
			} else {
				agent_log(log, CMTRACE_WARNING,
					  "GPO \"%s\": ignored " WU_KEY "\\" ATPC
					  ": it is type %u, not REG_DWORD",
					  gpo, (unsigned)e->type);
				out->ignored++;
				continue;
			}
		}
		if (used == 0) {
			agent_log(log, CMTRACE_WARNING,
				  "GPO \"%s\": ignored %s\\%s (type %u): not a policy this agent "
				  "applies",
				  gpo, e->key, e->value, (unsigned)e->type);
			out->ignored++;
		}
	}
	regpol_free(p);
	return 0;
fail:
	regpol_free(p);
	agent_gpo_contents_free(out);
	return -1;
}

/* ---- the list from the site ---- */

void agent_gpo_list_free(struct agent_gpo *gpos, size_t n)
{
	size_t i;

	for (i = 0; gpos != NULL && i < n; i++)
		agent_gpo_contents_free(&gpos[i].contents);
	free(gpos);
}

static int bad_list(struct pp_error *err, size_t i, const char *what)
{
	pp_error_set(err, HR_ERROR_INVALID_DATA, "the site's GPO list: gpos[%zu].%s", i, what);
	return -1;
}

/* A text of 1..max bytes without control characters. */
static bool text_ok(const json_t *v, size_t max)
{
	size_t i, len = json_string_length(v);
	const char *s = json_string_value(v);

	if (!json_is_string(v) || len == 0 || len > max)
		return false;
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

/* s is a GUID in braces; out gets it in upper case. */
static bool gpo_id_ok(const char *s, char out[AGENT_GPO_ID_LEN + 1])
{
	size_t i;

	if (s == NULL || strlen(s) != AGENT_GPO_ID_LEN || s[0] != '{' || s[37] != '}')
		return false;
	for (i = 1; i < 37; i++) {
		bool dash = i == 9 || i == 14 || i == 19 || i == 24;

		if (dash ? s[i] != '-' : strchr("0123456789abcdefABCDEF", s[i]) == NULL)
			return false;
	}
	for (i = 0; i <= AGENT_GPO_ID_LEN; i++)
		out[i] = (char)(s[i] >= 'a' && s[i] <= 'f' ? s[i] - 'a' + 'A' : s[i]);
	return true;
}

static int parse_entry(const json_t *e, size_t i, struct agent_gpo *g, struct pp_error *err)
{
	const json_t *v;

	if (!json_is_object(e))
		return bad_list(err, i, "is not an object");
	if (!gpo_id_ok(json_string_value(json_object_get(e, "id")), g->id))
		return bad_list(err, i, "id is not a GUID in braces");
	v = json_object_get(e, "name");
	if (!text_ok(v, AGENT_GPO_NAME_MAX))
		return bad_list(err, i, "name is not a name of 1 to 255 bytes");
	memcpy(g->name, json_string_value(v), json_string_length(v) + 1);
	v = json_object_get(e, "version");
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) > (json_int_t)UINT32_MAX)
		return bad_list(err, i, "version is not a GPT.INI version");
	g->version = (uint32_t)json_integer_value(v);
	v = json_object_get(e, "order");
	if (!json_is_integer(v) || json_integer_value(v) != (json_int_t)i + 1)
		return bad_list(err, i, "order is not its place in the list");
	g->order = (long long)json_integer_value(v);
	v = json_object_get(e, "collection");
	if (v != NULL && text_ok(v, AGENT_GPO_NAME_MAX))
		memcpy(g->collection, json_string_value(v), json_string_length(v) + 1);
	v = json_object_get(e, "link_order");
	g->link_order = json_is_integer(v) ? (long long)json_integer_value(v) : 0;
	return 0;
}

int agent_gpo_parse_list(const json_t *doc, struct agent_gpo **out, size_t *n, struct pp_error *err)
{
	const json_t *arr = json_object_get(doc, "gpos"), *e;
	struct agent_gpo *gpos = NULL;
	size_t i, k;

	*out = NULL;
	*n = 0;
	if (!json_is_array(arr) || json_array_size(arr) > AGENT_GPO_MAX) {
		pp_error_set(err, HR_ERROR_INVALID_DATA,
			     "the site's GPO list has no \"gpos\" array of at most %d entries",
			     AGENT_GPO_MAX);
		return -1;
	}
	gpos = calloc(json_array_size(arr) + 1, sizeof(*gpos));
	if (gpos == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory reading the GPO list");
		return -1;
	}
	json_array_foreach(arr, i, e)
	{
		if (parse_entry(e, i, &gpos[i], err) != 0)
			goto fail;
		for (k = 0; k < i; k++)
			if (strcmp(gpos[k].id, gpos[i].id) == 0) {
				(void)bad_list(err, i, "id is in the list twice");
				goto fail;
			}
	}
	*out = gpos;
	*n = json_array_size(arr);
	return 0;
fail:
	agent_gpo_list_free(gpos, json_array_size(arr));
	return -1;
}

/* ---- gpo-state.json ---- */

struct rec_cert {
	enum certstore_id store;
	char thumbprint[PKI_THUMBPRINT_LEN + 1];
	char subject[AGENT_SUBJECT_MAX + 1];
	bool added; /* applied list: the agent created the file in the policy store */
};

struct rec_gpo {
	struct agent_gpo head; /* contents unused */
	bool complete;	       /* applied whole: an unchanged version may be skipped */
	struct rec_cert *certs;
	size_t ncerts;
	bool has_atpc;
	uint32_t atpc;
};

struct gpo_state {
	char list_etag[AGENT_ETAG_MAX + 1];
	struct rec_gpo *gpos;
	size_t ngpos;
	struct rec_cert *certs; /* what is in the policy stores because of group policy */
	size_t ncerts, cap;
	bool has_value;
	uint32_t value;
	char source[MACHINEPOLICY_SOURCE_MAX];
	char value_gpo[AGENT_GPO_ID_LEN + 1];
	char value_gpo_name[AGENT_GPO_NAME_MAX + 1];
};

static void state_free(struct gpo_state *s)
{
	size_t i;

	for (i = 0; s->gpos != NULL && i < s->ngpos; i++)
		free(s->gpos[i].certs);
	free(s->gpos);
	free(s->certs);
	memset(s, 0, sizeof(*s));
}

static int damaged(struct pp_error *err, const char *path, const char *what)
{
	pp_error_set(err, HR_ERROR_INVALID_DATA, "%s is damaged (%s); %s", path, what, STATE_HINT);
	return -1;
}

static int copy_text(const json_t *v, char *out, size_t size, bool empty_ok)
{
	size_t len = json_string_length(v);

	if (!json_is_string(v) || len >= size || (!empty_ok && len == 0) ||
	    memchr(json_string_value(v), '\0', len) != NULL)
		return -1;
	memcpy(out, json_string_value(v), len + 1);
	return 0;
}

/* [{"store","thumbprint"[,"subject","added"]}...] into a malloc'd array. */
static int read_certs(const json_t *arr, bool applied, struct rec_cert **out, size_t *n,
		      const char *path, struct pp_error *err)
{
	const json_t *e;
	struct rec_cert *c;
	char given[PKI_THUMBPRINT_LEN + 8];
	size_t i;

	*out = NULL;
	*n = 0;
	if (!json_is_array(arr) || json_array_size(arr) > AGENT_GPO_CERTS_MAX * 4)
		return damaged(err, path, "a certificate list is not a list");
	*out = calloc(json_array_size(arr) + 1, sizeof(**out));
	if (*out == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory reading %s", path);
		return -1;
	}
	json_array_foreach(arr, i, e)
	{
		c = &(*out)[i];
		if (!policy_store(json_string_value(json_object_get(e, "store")), &c->store) ||
		    copy_text(json_object_get(e, "thumbprint"), given, sizeof(given), false) != 0 ||
		    pki_thumbprint_normalize(given, c->thumbprint) != 0)
			return damaged(err, path, "a certificate has no store or thumbprint");
		if (applied && (copy_text(json_object_get(e, "subject"), c->subject,
					  sizeof(c->subject), true) != 0 ||
				!json_is_boolean(json_object_get(e, "added"))))
			return damaged(err, path, "a certificate has no subject or \"added\"");
		c->added = json_is_true(json_object_get(e, "added"));
		*n = i + 1;
	}
	return 0;
}

static int read_gpo(const json_t *e, struct rec_gpo *g, const char *path, struct pp_error *err)
{
	const json_t *v = json_object_get(e, "version"), *a = json_object_get(e, ATPC);

	if (!gpo_id_ok(json_string_value(json_object_get(e, "id")), g->head.id) ||
	    copy_text(json_object_get(e, "name"), g->head.name, sizeof(g->head.name), false) != 0 ||
	    !json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) > (json_int_t)UINT32_MAX ||
	    !json_is_boolean(json_object_get(e, "complete")) ||
	    (a != NULL && (!json_is_integer(a) || json_integer_value(a) < 0 ||
			   json_integer_value(a) > (json_int_t)UINT32_MAX)))
		return damaged(err, path, "a GPO has no id, name, version or \"complete\"");
	g->head.version = (uint32_t)json_integer_value(v);
	g->head.order = json_is_integer(json_object_get(e, "order"))
			    ? (long long)json_integer_value(json_object_get(e, "order"))
			    : 0;
	(void)copy_text(json_object_get(e, "collection"), g->head.collection,
			sizeof(g->head.collection), true);
	g->head.link_order = json_is_integer(json_object_get(e, "link_order"))
				 ? (long long)json_integer_value(json_object_get(e, "link_order"))
				 : 0;
	g->complete = json_is_true(json_object_get(e, "complete"));
	g->has_atpc = a != NULL;
	g->atpc = a != NULL ? (uint32_t)json_integer_value(a) : 0;
	return read_certs(json_object_get(e, "certificates"), false, &g->certs, &g->ncerts, path,
			  err);
}

static int state_load(const char *machine, struct gpo_state *s, struct pp_error *err)
{
	char path[AGENT_PATH_MAX];
	const json_t *arr, *e, *v;
	json_t *doc = NULL;
	size_t i;
	int rc = -1;

	memset(s, 0, sizeof(*s));
	if (agent_state_path(machine, AGENT_GPO_STATE_FILE, path, sizeof(path), err) != 0 ||
	    agent_state_read_object(path, AGENT_STATE_LARGE_MAX, STATE_HINT, &doc, err) != 0)
		return -1;
	if (doc == NULL)
		return 0; /* never ran: nothing recorded */
	if (json_object_get(doc, "list_etag") != NULL &&
	    copy_text(json_object_get(doc, "list_etag"), s->list_etag, sizeof(s->list_etag),
		      true) != 0) {
		(void)damaged(err, path, "\"list_etag\" is not a string");
		goto out;
	}
	arr = json_object_get(doc, "gpos");
	if (!json_is_array(arr) || json_array_size(arr) > AGENT_GPO_MAX) {
		(void)damaged(err, path, "\"gpos\" is not a list");
		goto out;
	}
	s->gpos = calloc(json_array_size(arr) + 1, sizeof(*s->gpos));
	if (s->gpos == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory reading %s", path);
		goto out;
	}
	json_array_foreach(arr, i, e)
	{
		s->ngpos = i + 1;
		if (read_gpo(e, &s->gpos[i], path, err) != 0)
			goto out;
	}
	if (read_certs(json_object_get(doc, "certificates"), true, &s->certs, &s->ncerts, path,
		       err) != 0)
		goto out;
	s->cap = s->ncerts;
	v = json_object_get(doc, "value");
	if (v != NULL) {
		const json_t *n = json_object_get(v, "value");

		if (!json_is_integer(n) || json_integer_value(n) < 0 ||
		    json_integer_value(n) > (json_int_t)UINT32_MAX ||
		    copy_text(json_object_get(v, "source"), s->source, sizeof(s->source), false) !=
			0 ||
		    !gpo_id_ok(json_string_value(json_object_get(v, "gpo")), s->value_gpo) ||
		    copy_text(json_object_get(v, "gpo_name"), s->value_gpo_name,
			      sizeof(s->value_gpo_name), false) != 0) {
			(void)damaged(err, path, "\"value\" is not what group policy set");
			goto out;
		}
		s->has_value = true;
		s->value = (uint32_t)json_integer_value(n);
	}
	rc = 0;
out:
	json_decref(doc);
	if (rc != 0)
		state_free(s);
	return rc;
}

static json_t *certs_json(const struct rec_cert *c, size_t n, bool applied)
{
	json_t *arr = json_array(), *e;
	size_t i;

	for (i = 0; arr != NULL && i < n; i++) {
		e = applied ? json_pack("{s:s, s:s, s:s, s:b}", "store", certstore_name(c[i].store),
					"thumbprint", c[i].thumbprint, "subject", c[i].subject,
					"added", c[i].added)
			    : json_pack("{s:s, s:s}", "store", certstore_name(c[i].store),
					"thumbprint", c[i].thumbprint);
		if (json_array_append_new(arr, e) != 0) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

static int state_save(const char *machine, const struct gpo_state *s, struct pp_error *err)
{
	char path[AGENT_PATH_MAX];
	json_t *doc, *arr, *e;
	size_t i;
	int rc = -1;

	if (agent_state_path(machine, AGENT_GPO_STATE_FILE, path, sizeof(path), err) != 0)
		return -1;
	arr = json_array();
	doc = json_pack("{s:s, s:I, s:o, s:o}", "list_etag", s->list_etag, "updated_at",
			(json_int_t)time(NULL), "gpos", arr, "certificates",
			certs_json(s->certs, s->ncerts, true));
	for (i = 0; doc != NULL && i < s->ngpos; i++) {
		const struct rec_gpo *g = &s->gpos[i];

		e = json_pack("{s:s, s:s, s:I, s:I, s:s, s:I, s:b, s:o}", "id", g->head.id, "name",
			      g->head.name, "version", (json_int_t)g->head.version, "order",
			      (json_int_t)g->head.order, "collection", g->head.collection,
			      "link_order", (json_int_t)g->head.link_order, "complete", g->complete,
			      "certificates", certs_json(g->certs, g->ncerts, false));
		if (e == NULL ||
		    (g->has_atpc && json_object_set_new(e, ATPC, json_integer(g->atpc)) != 0) ||
		    json_array_append_new(arr, e) != 0) {
			json_decref(doc);
			doc = NULL;
		}
	}
	if (doc != NULL && s->has_value &&
	    json_object_set_new(doc, "value",
				json_pack("{s:s, s:I, s:s, s:s, s:s}", "name", ATPC, "value",
					  (json_int_t)s->value, "source", s->source, "gpo",
					  s->value_gpo, "gpo_name", s->value_gpo_name)) != 0) {
		json_decref(doc);
		doc = NULL;
	}
	if (doc == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY,
			     "cannot write %s: out of memory or a name that is not UTF-8", path);
		return -1;
	}
	if (agent_state_prepare(machine, err) == 0 &&
	    agent_state_write_object(path, doc, 0644, err) == 0)
		rc = 0;
	json_decref(doc);
	return rc;
}

static const struct rec_gpo *state_gpo(const struct gpo_state *s, const char *id)
{
	size_t i;

	for (i = 0; i < s->ngpos; i++)
		if (strcmp(s->gpos[i].head.id, id) == 0)
			return &s->gpos[i];
	return NULL;
}

static struct rec_cert *state_cert(struct gpo_state *s, enum certstore_id store, const char *thumb)
{
	size_t i;

	for (i = 0; i < s->ncerts; i++)
		if (s->certs[i].store == store && strcmp(s->certs[i].thumbprint, thumb) == 0)
			return &s->certs[i];
	return NULL;
}

static int state_cert_add(struct gpo_state *s, const struct rec_cert *c, struct pp_error *err)
{
	struct rec_cert *grown;

	if (s->ncerts == s->cap) {
		grown = realloc(s->certs, (s->cap * 2 + 8) * sizeof(*s->certs));
		if (grown == NULL) {
			pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
			return -1;
		}
		s->certs = grown;
		s->cap = s->cap * 2 + 8;
	}
	s->certs[s->ncerts++] = *c;
	return 0;
}

static void state_cert_drop(struct gpo_state *s, struct rec_cert *c)
{
	size_t i = (size_t)(c - s->certs);

	memmove(&s->certs[i], &s->certs[i + 1], (s->ncerts - i - 1) * sizeof(*s->certs));
	s->ncerts--;
}

/* ---- applying ---- */

/* "gpo:<name>" as machinepolicy stores sources: printable ASCII, bounded; a byte outside that
 * (a UTF-8 name) becomes '?'. The log lines keep the name as the site wrote it. */
static void gpo_source(const char *name, char out[MACHINEPOLICY_SOURCE_MAX])
{
	size_t o = strlen(AGENT_GPO_SOURCE_PREFIX), i;

	memcpy(out, AGENT_GPO_SOURCE_PREFIX, o);
	for (i = 0; name[i] != '\0' && o < MACHINEPOLICY_SOURCE_MAX - 1; i++, o++) {
		unsigned char c = (unsigned char)name[i];

		out[o] = c >= 0x20 && c <= 0x7e ? (char)c : '?';
	}
	out[o] = '\0';
}

/* What one certificate of the GPOs that apply needs. */
struct wanted_cert {
	enum certstore_id store;
	char thumbprint[PKI_THUMBPRINT_LEN + 1];
	char subject[AGENT_SUBJECT_MAX + 1];
	X509 *cert;	     /* borrowed from a fetched GPO; NULL when all holders are recorded */
	size_t holder;	     /* the first GPO (index) that holds it, for the log */
	bool holder_changed; /* a GPO holding it was fetched now */
};

struct apply {
	const char *machine;
	const struct agent_gpo *gpos;
	size_t n;
	bool force;
	struct cmtrace_log *log;
	struct agent_gpo_outcome *out;
	struct gpo_state st;
	struct wanted_cert *want;
	size_t nwant;
};

/* The certificates of GPO i (fetched or recorded) into ap->want. */
static int want_certs(struct apply *ap, size_t i, struct pp_error *err)
{
	const struct agent_gpo *g = &ap->gpos[i];
	const struct rec_gpo *r = g->fetched ? NULL : state_gpo(&ap->st, g->id);
	size_t k, j, n = g->fetched ? g->contents.ncerts : r->ncerts;
	struct wanted_cert *w, *grown;

	for (k = 0; k < n; k++) {
		enum certstore_id store =
		    g->fetched ? g->contents.certs[k].store : r->certs[k].store;
		const char *thumb =
		    g->fetched ? g->contents.certs[k].thumbprint : r->certs[k].thumbprint;

		w = NULL;
		for (j = 0; j < ap->nwant; j++)
			if (ap->want[j].store == store &&
			    strcmp(ap->want[j].thumbprint, thumb) == 0)
				w = &ap->want[j];
		if (w == NULL) {
			grown = realloc(ap->want, (ap->nwant + 1) * sizeof(*ap->want));
			if (grown == NULL) {
				pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
				return -1;
			}
			ap->want = grown;
			w = &ap->want[ap->nwant++];
			memset(w, 0, sizeof(*w));
			w->store = store;
			memcpy(w->thumbprint, thumb, sizeof(w->thumbprint));
			w->holder = i;
		}
		if (g->fetched) {
			w->holder_changed = true;
			if (w->cert == NULL) {
				w->cert = g->contents.certs[k].cert;
				memcpy(w->subject, g->contents.certs[k].subject,
				       sizeof(w->subject));
			}
		}
	}
	return 0;
}

static int apply_cert(struct apply *ap, struct wanted_cert *w, struct pp_error *err)
{
	struct rec_cert *a = state_cert(&ap->st, w->store, w->thumbprint), rec;
	const char *gpo = ap->gpos[w->holder].name, *store = certstore_name(w->store);
	bool already = false;

	if (a != NULL && w->subject[0] == '\0')
		memcpy(w->subject, a->subject, sizeof(w->subject));
	if (!ap->force && a != NULL && !w->holder_changed)
		return 0; /* held by GPOs that did not change: skipped with them */
	if (w->cert == NULL) {
		pp_error_set(
		    err, HR_ERROR_INVALID_DATA,
		    "GPO \"%s\" holds certificate %s according to %s, which does not say "
		    "it is in the policy %s store; run 'patchpoint-agent gpupdate --force'",
		    gpo, w->thumbprint, AGENT_GPO_STATE_FILE, store);
		return -1;
	}
	if (certstore_add(ap->machine, w->store, CERTSTORE_POLICY, w->cert, false, &already, err) !=
	    0)
		return -1;
	if (!already) {
		agent_log(ap->log, CMTRACE_INFO,
			  "Added certificate %s (%s) to the policy %s store (GPO \"%s\")",
			  w->thumbprint, w->subject, store, gpo);
		ap->out->certs_added++;
	} else if (a == NULL) {
		agent_log(ap->log, CMTRACE_INFO,
			  "Certificate %s is already in the policy %s store; group policy did not "
			  "put it there, so it stays when no GPO holds it",
			  w->thumbprint, store);
	} else if (ap->force) {
		agent_log(ap->log, CMTRACE_INFO,
			  "Certificate %s is already in the policy %s store (GPO \"%s\")",
			  w->thumbprint, store, gpo);
	}
	if (a != NULL) {
		a->added = a->added || !already;
		memcpy(a->subject, w->subject, sizeof(a->subject));
		return 0;
	}
	memset(&rec, 0, sizeof(rec));
	rec.store = w->store;
	memcpy(rec.thumbprint, w->thumbprint, sizeof(rec.thumbprint));
	memcpy(rec.subject, w->subject, sizeof(rec.subject));
	rec.added = !already;
	return state_cert_add(&ap->st, &rec, err);
}

/* Takes away what group policy put in the policy stores and no GPO that applies holds. */
static int remove_unwanted(struct apply *ap, struct pp_error *err)
{
	struct rec_cert *a;
	bool wanted, removed;
	size_t i = 0, k;

	while (i < ap->st.ncerts) {
		a = &ap->st.certs[i];
		wanted = false;
		for (k = 0; k < ap->nwant && !wanted; k++)
			wanted = ap->want[k].store == a->store &&
				 strcmp(ap->want[k].thumbprint, a->thumbprint) == 0;
		if (wanted) {
			i++;
			continue;
		}
		if (a->added) {
			if (certstore_remove(ap->machine, a->store, CERTSTORE_POLICY, a->thumbprint,
					     &removed, err) != 0)
				return -1;
			agent_log(
			    ap->log, CMTRACE_INFO,
			    "Removed certificate %s (%s) from the policy %s store: no GPO that "
			    "applies holds it any more",
			    a->thumbprint, a->subject, certstore_name(a->store));
			ap->out->certs_removed++;
		} else {
			agent_log(
			    ap->log, CMTRACE_INFO,
			    "Certificate %s stays in the policy %s store: no GPO holds it any "
			    "more, but group policy did not put it there",
			    a->thumbprint, certstore_name(a->store));
		}
		state_cert_drop(&ap->st, a);
	}
	return 0;
}

static int apply_value(struct apply *ap, struct pp_error *err)
{
	struct machinepolicy_value cur;
	const struct agent_gpo *winner = NULL;
	const struct rec_gpo *r;
	char source[MACHINEPOLICY_SOURCE_MAX], was[MACHINEPOLICY_SOURCE_MAX + 64];
	uint32_t value = 0;
	size_t i;

	/* The GPO applied last wins (agent_gpo.h). */
	for (i = 0; i < ap->n; i++) {
		r = ap->gpos[i].fetched ? NULL : state_gpo(&ap->st, ap->gpos[i].id);
		if (ap->gpos[i].fetched ? ap->gpos[i].contents.has_atpc : r->has_atpc) {
			winner = &ap->gpos[i];
			value = ap->gpos[i].fetched ? ap->gpos[i].contents.atpc : r->atpc;
		}
	}
	if (machinepolicy_get(ap->machine, ATPC, &cur, err) != 0)
		return -1;
	if (winner == NULL) {
		if (!ap->st.has_value)
			return 0;
		if (cur.present && strcmp(cur.source, ap->st.source) == 0) {
			if (machinepolicy_clear(ap->machine, ATPC, err) != 0)
				return -1;
			agent_log(ap->log, CMTRACE_INFO,
				  "Cleared " ATPC ", which GPO \"%s\" had set: no GPO that applies "
				  "sets it any more",
				  ap->st.value_gpo_name);
			ap->out->value_cleared = true;
		} else {
			agent_log(ap->log, CMTRACE_INFO,
				  ATPC
				  " was set by GPO \"%s\", but %s has set it since: left as it "
				  "is",
				  ap->st.value_gpo_name,
				  cur.present ? cur.source : "someone who cleared it");
		}
		ap->st.has_value = false;
		return 0;
	}
	gpo_source(winner->name, source);
	if (!ap->force && ap->st.has_value && !winner->fetched &&
	    strcmp(ap->st.value_gpo, winner->id) == 0 && ap->st.value == value)
		return 0; /* the GPO that set it did not change: skipped with it */
	if (cur.present && cur.value == value && strcmp(cur.source, source) == 0) {
		if (ap->force)
			agent_log(ap->log, CMTRACE_INFO, ATPC " is already %lu (GPO \"%s\")",
				  (unsigned long)value, winner->name);
	} else {
		if (machinepolicy_set(ap->machine, ATPC, value, source, err) != 0)
			return -1;
		was[0] = '\0';
		if (cur.present && strcmp(cur.source, source) != 0)
			(void)snprintf(was, sizeof(was), "; it was %lu, set by %s",
				       (unsigned long)cur.value, cur.source);
		agent_log(ap->log, CMTRACE_INFO, "Set " ATPC " = %lu (GPO \"%s\")%s",
			  (unsigned long)value, winner->name, was);
		ap->out->value_set = true;
	}
	ap->st.has_value = true;
	ap->st.value = value;
	memcpy(ap->st.source, source, sizeof(ap->st.source));
	memcpy(ap->st.value_gpo, winner->id, sizeof(ap->st.value_gpo));
	(void)snprintf(ap->st.value_gpo_name, sizeof(ap->st.value_gpo_name), "%s", winner->name);
	return 0;
}

/* The GPO records of this run (or, after a failure, the old ones marked incomplete). */
static int record_gpos(struct apply *ap, bool ok, struct pp_error *err)
{
	struct rec_gpo *recs;
	const struct agent_gpo *g;
	const struct rec_gpo *old;
	size_t i, k;

	if (!ok) {
		for (i = 0; i < ap->st.ngpos; i++)
			ap->st.gpos[i].complete = false;
		ap->st.list_etag[0] = '\0';
		return 0;
	}
	recs = calloc(ap->n + 1, sizeof(*recs));
	if (recs == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
		return -1;
	}
	for (i = 0; i < ap->n; i++) {
		g = &ap->gpos[i];
		old = g->fetched ? NULL : state_gpo(&ap->st, g->id);
		recs[i].head = *g;
		memset(&recs[i].head.contents, 0, sizeof(recs[i].head.contents));
		recs[i].head.fetched = false;
		recs[i].complete = g->fetched ? g->contents.refused == 0 : old->complete;
		recs[i].has_atpc = g->fetched ? g->contents.has_atpc : old->has_atpc;
		recs[i].atpc = g->fetched ? g->contents.atpc : old->atpc;
		recs[i].ncerts = g->fetched ? g->contents.ncerts : old->ncerts;
		recs[i].certs = calloc(recs[i].ncerts + 1, sizeof(*recs[i].certs));
		if (recs[i].certs == NULL) {
			for (k = 0; k <= i; k++)
				free(recs[k].certs);
			free(recs);
			pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
			return -1;
		}
		for (k = 0; k < recs[i].ncerts; k++) {
			if (g->fetched) {
				recs[i].certs[k].store = g->contents.certs[k].store;
				memcpy(recs[i].certs[k].thumbprint, g->contents.certs[k].thumbprint,
				       sizeof(recs[i].certs[k].thumbprint));
			} else {
				recs[i].certs[k] = old->certs[k];
			}
		}
		if (!recs[i].complete)
			ap->st.list_etag[0] = '\0'; /* fetch it again next time */
	}
	for (i = 0; i < ap->st.ngpos; i++)
		free(ap->st.gpos[i].certs);
	free(ap->st.gpos);
	ap->st.gpos = recs;
	ap->st.ngpos = ap->n;
	return 0;
}

static void log_gpos(struct apply *ap)
{
	const struct agent_gpo *g;
	bool applies;
	size_t i, k;

	for (i = 0; i < ap->st.ngpos; i++) {
		applies = false;
		for (k = 0; k < ap->n && !applies; k++)
			applies = strcmp(ap->gpos[k].id, ap->st.gpos[i].head.id) == 0;
		if (applies)
			continue;
		agent_log(ap->log, CMTRACE_INFO,
			  "GPO \"%s\" %s no longer applies to this device: what only it gave is "
			  "taken away",
			  ap->st.gpos[i].head.name, ap->st.gpos[i].head.id);
		ap->out->gone++;
	}
	for (i = 0; i < ap->n; i++) {
		g = &ap->gpos[i];
		if (g->fetched) {
			agent_log(ap->log, CMTRACE_INFO,
				  "Applying GPO \"%s\" %s version %lu (%zu of %zu; link order %lld "
				  "on %s): %zu certificate(s)%s",
				  g->name, g->id, (unsigned long)g->version, i + 1, ap->n,
				  g->link_order, g->collection[0] != '\0' ? g->collection : "-",
				  g->contents.ncerts, g->contents.has_atpc ? ", " ATPC : "");
			ap->out->applied++;
			ap->out->ignored += g->contents.ignored;
			ap->out->refused += g->contents.refused;
			if (g->contents.refused > 0 && ap->out->refusal[0] == '\0')
				agent_text_format(ap->out->refusal, sizeof(ap->out->refusal),
						  "GPO \"%s\": %s", g->name, g->contents.refusal);
		} else {
			agent_log(ap->log, CMTRACE_INFO,
				  "GPO \"%s\" %s is unchanged (version %lu): skipped", g->name,
				  g->id, (unsigned long)g->version);
			ap->out->skipped++;
		}
	}
}

int agent_gpo_apply(const char *machine, const struct agent_gpo *gpos, size_t n,
		    const char *list_etag, bool force, struct cmtrace_log *log,
		    struct agent_gpo_outcome *out, struct pp_error *err)
{
	struct apply ap;
	const struct rec_gpo *r;
	struct pp_error save_err;
	bool loaded = false; /* the machine may have changed: record it */
	size_t i;
	int rc = -1;

	memset(&ap, 0, sizeof(ap));
	memset(out, 0, sizeof(*out));
	ap.machine = machine;
	ap.gpos = gpos;
	ap.n = n;
	ap.force = force;
	ap.log = log;
	ap.out = out;
	if (state_load(machine, &ap.st, err) != 0)
		return -1;
	out->gpos = n;
	/* Everything not fetched must be known from an earlier run; checked before any change. */
	for (i = 0; i < n; i++) {
		r = gpos[i].fetched ? NULL : state_gpo(&ap.st, gpos[i].id);
		if (!gpos[i].fetched && (r == NULL || !r->complete)) {
			pp_error_set(
			    err, HR_E_INVALIDARG,
			    "GPO \"%s\" %s was not fetched and is not recorded whole in %s",
			    gpos[i].name, gpos[i].id, AGENT_GPO_STATE_FILE);
			goto out;
		}
		if (want_certs(&ap, i, err) != 0)
			goto out;
	}
	/* From here on the machine changes: whatever happens is recorded. */
	loaded = true;
	log_gpos(&ap);
	for (i = 0; i < ap.nwant; i++)
		if (apply_cert(&ap, &ap.want[i], err) != 0)
			goto out;
	if (remove_unwanted(&ap, err) != 0 || apply_value(&ap, err) != 0)
		goto out;
	(void)snprintf(ap.st.list_etag, sizeof(ap.st.list_etag), "%s",
		       list_etag != NULL ? list_etag : "");
	rc = 0;
out:
	if (loaded) {
		pp_error_clear(&save_err);
		if (record_gpos(&ap, rc == 0, &save_err) != 0 ||
		    state_save(machine, &ap.st, &save_err) != 0) {
			if (rc == 0)
				pp_error_set(err, save_err.code, "%s", save_err.message);
			rc = -1;
		}
	}
	free(ap.want);
	state_free(&ap.st);
	return rc;
}

/* ---- the gpupdate ---- */

#define GP_LOG(logs) ((logs) != NULL ? (logs)->gpupdate : NULL)

/* GET one GPO's Registry.pol into g->contents. */
static int fetch_gpo(struct agent_http *http, struct agent_gpo *g, struct cmtrace_log *log,
		     struct pp_error *err)
{
	struct agent_http_response resp = {0};
	const json_t *pol, *v;
	char path[sizeof(AGENT_GPO_PATH) + AGENT_GPO_ID_LEN + 8], id[AGENT_GPO_ID_LEN + 1];
	uint8_t *bytes = NULL;
	size_t len = 0;
	int rc = -1;

	/* The braces go percent-encoded. */
	(void)snprintf(path, sizeof(path), AGENT_GPO_PATH "/%%7B%.36s%%7D", g->id + 1);
	if (agent_http_request(http, "GET", path, NULL, NULL, &resp, err) != 0)
		goto out;
	v = json_object_get(resp.json, "version");
	pol = json_object_get(resp.json, "registry_pol");
	if (resp.status != 200 ||
	    !gpo_id_ok(json_string_value(json_object_get(resp.json, "id")), id) ||
	    strcmp(id, g->id) != 0 || !json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) > (json_int_t)UINT32_MAX || !json_is_string(pol) ||
	    json_string_length(pol) > POL_B64_MAX ||
	    (bytes = base64_decode(json_string_value(pol), json_string_length(pol), &len)) ==
		NULL) {
		pp_error_set(err, HR_ERROR_INVALID_DATA,
			     "the site's answer for GPO \"%s\" %s has no id, version and "
			     "registry_pol (base64)",
			     g->name, g->id);
		goto out;
	}
	/* It may have changed since the list: what came is what is applied and recorded. */
	g->version = (uint32_t)json_integer_value(v);
	if (agent_gpo_parse_pol(bytes, len, g->name, log, &g->contents, err) != 0)
		goto out;
	g->fetched = true;
	rc = 0;
out:
	free(bytes);
	agent_http_response_free(&resp);
	return rc;
}

/* The list as recorded (for a 304): every GPO not fetched. */
static int recorded_list(const char *machine, struct agent_gpo **out, size_t *n,
			 struct pp_error *err)
{
	struct gpo_state st;
	size_t i;

	*out = NULL;
	*n = 0;
	if (state_load(machine, &st, err) != 0)
		return -1;
	*out = calloc(st.ngpos + 1, sizeof(**out));
	if (*out == NULL) {
		state_free(&st);
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
		return -1;
	}
	for (i = 0; i < st.ngpos; i++) {
		(*out)[i] = st.gpos[i].head;
		memset(&(*out)[i].contents, 0, sizeof((*out)[i].contents));
		(*out)[i].fetched = false;
	}
	*n = st.ngpos;
	state_free(&st);
	return 0;
}

int agent_gpo_update(const char *machine, const char *ca_bundle, bool force,
		     struct agent_logs *logs, struct agent_gpo_outcome *out, struct pp_error *err)
{
	struct agent_http_response resp = {0};
	struct agent_identity id;
	struct agent_http *http = NULL;
	struct agent_gpo *gpos = NULL;
	struct gpo_state st;
	const struct rec_gpo *r;
	char etag[AGENT_ETAG_MAX + 1];
	size_t n = 0, i;
	bool fetching = true;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	memset(&st, 0, sizeof(st));
	if (agent_state_require_identity(machine, &id, err) != 0)
		return -1;
	agent_log(GP_LOG(logs), CMTRACE_INFO,
		  "Requesting the group policy objects of this device "
		  "from %s%s",
		  id.server, force ? " (forced: every GPO is applied again)" : "");
	if (state_load(machine, &st, err) != 0)
		goto out;
	http = agent_http_new(
	    id.server, ca_bundle != NULL && ca_bundle[0] != '\0' ? ca_bundle : id.ca_bundle, err);
	if (http == NULL || agent_http_set_credential(http, id.credential, err) != 0 ||
	    agent_http_request(http, "GET", AGENT_GPO_PATH, NULL, force ? NULL : st.list_etag,
			       &resp, err) != 0)
		goto out;
	if (resp.status == 304) {
		out->list_unchanged = true;
		(void)snprintf(etag, sizeof(etag), "%s", st.list_etag);
		agent_log(GP_LOG(logs), CMTRACE_INFO,
			  "The list of GPOs that apply to this device is unchanged");
		if (recorded_list(machine, &gpos, &n, err) != 0)
			goto out;
	} else {
		(void)snprintf(etag, sizeof(etag), "%s", resp.etag);
		if (agent_gpo_parse_list(resp.json, &gpos, &n, err) != 0)
			goto out;
		agent_log(GP_LOG(logs), CMTRACE_INFO, "%zu GPO(s) apply to this device", n);
		for (i = 0; i < n; i++) {
			r = state_gpo(&st, gpos[i].id);
			if (!force && r != NULL && r->complete &&
			    r->head.version == gpos[i].version)
				continue;
			if (fetch_gpo(http, &gpos[i], GP_LOG(logs), err) != 0)
				goto out;
		}
	}
	fetching = false;
	if (agent_gpo_apply(machine, gpos, n, etag, force, GP_LOG(logs), out, err) != 0)
		goto out;
	agent_log(GP_LOG(logs), out->refused > 0 ? CMTRACE_ERROR : CMTRACE_INFO,
		  "Computer policy update %s: %zu GPO(s), %zu applied, %zu skipped, %zu no longer "
		  "apply; %zu certificate(s) added, %zu removed%s%s; %zu entr%s ignored, %zu "
		  "refused",
		  out->refused > 0 ? "finished with errors" : "has completed successfully",
		  out->gpos, out->applied, out->skipped, out->gone, out->certs_added,
		  out->certs_removed, out->value_set ? "; " ATPC " set" : "",
		  out->value_cleared ? "; " ATPC " cleared" : "", out->ignored,
		  out->ignored == 1 ? "y" : "ies", out->refused);
	rc = 0;
out:
	if (rc != 0 && fetching)
		agent_log(GP_LOG(logs), CMTRACE_ERROR,
			  "Group policy request failed, nothing was changed: %s",
			  err != NULL ? err->message : "");
	else if (rc != 0)
		agent_log(GP_LOG(logs), CMTRACE_ERROR, "Group policy processing failed: %s",
			  err != NULL ? err->message : "");
	agent_gpo_list_free(gpos, n);
	state_free(&st);
	agent_http_response_free(&resp);
	agent_http_free(http);
	agent_identity_wipe(&id);
	return rc;
}
