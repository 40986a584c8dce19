/* agent_updates.c - the scan, the deployment evaluation and diagnose (see agent_updates.h,
 * docs/internals/agent.md "Software updates").
 *
 * Both cycles share one context (struct cycle): the identity, the stored policy, an HTTP client
 * with the device credential and updates.json, which is written once at the end of the cycle
 * (and is the only thing besides the queue that remembers what happened). Per update, a failure
 * becomes a report and a state message; the cycle goes on with the next update. */
#include "agent_updates.h"

#include "agent_http.h"
#include "agent_policy.h"
#include "agent_rules.h"

#include "atomicfile.h"
#include "authenticode.h"
#include "cab.h"
#include "certstore.h"
#include "hresult.h"
#include "machinepolicy.h"
#include "pki.h"
#include "trust.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#define UPDATES_FILE "updates.json"
#define UPDATES_DIR  "updates"
#define CACHE_DIR    "cache"
#define STAGING_DIR  "staging"
#define UPDATES_AGAIN                                                                              \
	"remove it; the next scan rebuilds it (the agent then forgets which updates it installed)"
#define META_AGAIN	 "remove it; the next scan fetches it again"
#define URL_PATH_MAX	 512
#define HRESULT_TEXT_MAX 11 /* "0x800B0109" */

/* HRESULT_FROM_WIN32 of an installer's exit code (0 is no failure code: E_FAIL). */
static uint32_t hresult_from_exit(int code)
{
	return code <= 0 ? HR_E_FAIL : 0x80070000u | ((uint32_t)code & 0xFFFFu);
}

static void hresult_text(uint32_t hr, char out[HRESULT_TEXT_MAX])
{
	(void)snprintf(out, HRESULT_TEXT_MAX, "0x%08X", (unsigned)hr);
}

static bool hex_valid(const char *s, size_t len)
{
	return s != NULL && strlen(s) == len && strspn(s, "0123456789abcdefABCDEF") == len;
}

static void hex_decode(const char *hex, uint8_t *out, size_t n)
{
	size_t i;
	unsigned v;

	for (i = 0; i < n; i++) {
		(void)sscanf(hex + 2 * i, "%2x", &v);
		out[i] = (uint8_t)v;
	}
}

static void copy_text(char *out, size_t size, const char *s)
{
	agent_text_format(out, size, "%s", s != NULL ? s : "");
}

static long long member_int(const json_t *obj, const char *key)
{
	const json_t *v = json_object_get(obj, key);

	return json_is_integer(v) ? (long long)json_integer_value(v) : 0;
}

static const char *member_text(const json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));

	return s != NULL ? s : "";
}

/* ---- the cycle context ---- */

/* One deployed update, from the policy's deployments (several deployments of one update are
 * one entry: the earliest available, the earliest deadline). */
struct deployment {
	long long id;
	char update_id[AGENT_UUID_LEN + 1]; /* lower case */
	long long revision;
	char title[AGENT_TITLE_MAX + 1];
	long long available_at;
	long long deadline_at; /* 0: none */
};

/* An update's content metadata, as GET /api/v1/device/updates/{id} gave it. */
struct update_meta {
	char update_id[AGENT_UUID_LEN + 1];
	long long revision;
	char title[AGENT_TITLE_MAX + 1];
	char url[URL_PATH_MAX];
	char sha1[41];	 /* upper case */
	char sha256[65]; /* lower case */
	uint64_t size;
};

struct deployments {
	struct deployment *v; /* owned */
	size_t n;
};

struct cycle {
	const char *machine;
	const struct agent_updates_options *o;
	struct agent_logs *logs;
	struct agent_updates_outcome *out;
	struct agent_identity id;
	struct agent_stored_policy stored;
	struct agent_http *http;
	json_t *state;		  /* updates.json */
	json_t *updates;	  /* its "updates" object (borrowed) */
	struct deployments *deps; /* the caller's (kept apart from what the steps may change) */
	struct agent_update_report *reports; /* one per deployed update, moved to out at the end */
	size_t nreports;
	long long now;
	bool queue_failed;
	struct pp_error queue_err;
};

static struct cmtrace_log *scan_log(struct cycle *c)
{
	return c->logs != NULL ? c->logs->scan : NULL;
}

static struct cmtrace_log *deployment_log(struct cycle *c)
{
	return c->logs != NULL ? c->logs->deployment : NULL;
}

static struct cmtrace_log *wua_log(struct cycle *c)
{
	return c->logs != NULL ? c->logs->wua : NULL;
}

static struct cmtrace_log *handler_log(struct cycle *c)
{
	return c->logs != NULL ? c->logs->handler : NULL;
}

void agent_updates_outcome_free(struct agent_updates_outcome *o)
{
	if (o == NULL)
		return;
	free(o->reports);
	memset(o, 0, sizeof(*o));
}

static struct agent_update_report *report_new(struct cycle *c, const struct deployment *d)
{
	struct agent_update_report *r = &c->reports[c->nreports++];

	memset(r, 0, sizeof(*r));
	memcpy(r->update_id, d->update_id, sizeof(r->update_id));
	memcpy(r->title, d->title, sizeof(r->title));
	return r;
}

static void report_set(struct agent_update_report *r, const char *state, bool has_hr, uint32_t hr,
		       const char *detail)
{
	r->state = state;
	r->has_hresult = has_hr;
	r->hresult = hr;
	copy_text(r->detail, sizeof(r->detail), detail);
}

/* Queues one state message; a message that cannot be written makes the cycle fail. */
static void queue_message(struct cycle *c, const char *topic, const struct deployment *d,
			  long long revision, const char *state, bool has_hr, uint32_t hr,
			  const char *detail)
{
	struct agent_state_message m;
	struct pp_error e;

	memset(&m, 0, sizeof(m));
	m.topic = topic;
	memcpy(m.update_id, d->update_id, sizeof(m.update_id));
	m.revision = revision > 0 ? revision : d->revision;
	m.deployment_id = d->id;
	m.state = state;
	m.has_hresult = has_hr;
	m.hresult = hr;
	copy_text(m.detail, sizeof(m.detail), detail);
	pp_error_clear(&e);
	if (agent_queue_add(c->machine, &m, &e) != 0) {
		agent_log(c->logs != NULL ? c->logs->state : NULL, CMTRACE_ERROR,
			  "Cannot queue the %s state message of update %s: %s", topic, d->update_id,
			  e.message);
		pp_error_set(&c->queue_err, e.code, "%s", e.message); /* the first one stays */
		c->queue_failed = true;
		return;
	}
	if (has_hr)
		agent_log(c->logs != NULL ? c->logs->state : NULL, CMTRACE_INFO,
			  "Queued state message %s: %s of update %s (revision %lld) is %s with "
			  "0x%08X",
			  m.id, topic, d->update_id, m.revision, state, (unsigned)hr);
	else
		agent_log(c->logs != NULL ? c->logs->state : NULL, CMTRACE_INFO,
			  "Queued state message %s: %s of update %s (revision %lld) is %s", m.id,
			  topic, d->update_id, m.revision, state);
}

/* The entry of updates.json for an update, made when missing. */
static json_t *state_entry(struct cycle *c, const char *update_id)
{
	json_t *e = json_object_get(c->updates, update_id);

	if (json_is_object(e))
		return e;
	e = json_object();
	if (e == NULL || json_object_set_new(c->updates, update_id, e) != 0)
		return NULL;
	return e;
}

static int state_load(struct cycle *c, struct pp_error *err)
{
	char path[AGENT_PATH_MAX];

	if (agent_state_path(c->machine, UPDATES_FILE, path, sizeof(path), err) != 0 ||
	    agent_state_read_object(path, AGENT_STATE_LARGE_MAX, UPDATES_AGAIN, &c->state, err) !=
		0)
		return -1;
	if (c->state == NULL)
		c->state = json_pack("{s:{}}", "updates");
	c->updates = json_object_get(c->state, "updates");
	if (!json_is_object(c->updates)) {
		pp_error_set(err, HR_ERROR_INVALID_DATA,
			     "%s is damaged (\"updates\" is not an object); " UPDATES_AGAIN, path);
		return -1;
	}
	return 0;
}

static int state_save(struct cycle *c, struct pp_error *err)
{
	char path[AGENT_PATH_MAX];

	if (agent_state_path(c->machine, UPDATES_FILE, path, sizeof(path), err) != 0)
		return -1;
	return agent_state_write_object(path, c->state, 0644, err);
}

/* deployments[i] of the policy into d; false when it is not a deployment. */
static bool deployment_parse(const json_t *e, struct deployment *d)
{
	const json_t *deadline = json_object_get(e, "deadline_at");
	const char *uid = json_string_value(json_object_get(e, "update_id"));
	size_t i;

	memset(d, 0, sizeof(*d));
	if (!json_is_object(e) || !json_is_integer(json_object_get(e, "id")) ||
	    !json_is_integer(json_object_get(e, "revision")) ||
	    !json_is_integer(json_object_get(e, "available_at")) ||
	    (!json_is_null(deadline) && !json_is_integer(deadline)) || uid == NULL ||
	    !sdp_guid_valid(uid) || strlen(uid) != AGENT_UUID_LEN)
		return false;
	d->id = member_int(e, "id");
	d->revision = member_int(e, "revision");
	d->available_at = member_int(e, "available_at");
	d->deadline_at = member_int(e, "deadline_at");
	for (i = 0; i < AGENT_UUID_LEN; i++)
		d->update_id[i] =
		    (char)(uid[i] >= 'A' && uid[i] <= 'F' ? uid[i] - 'A' + 'a' : uid[i]);
	copy_text(d->title, sizeof(d->title), member_text(e, "title"));
	return d->id > 0 && d->revision > 0;
}

/* The deployed updates of the stored policy, one entry per update. */
static int deployments_read(struct cycle *c, struct pp_error *err)
{
	const json_t *list = json_object_get(c->stored.policy, "deployments"), *e;
	struct deployment d, *deps = calloc(json_array_size(list) + 1, sizeof(*deps));
	struct agent_update_report *reports =
	    calloc(json_array_size(list) + 1, sizeof(struct agent_update_report));
	size_t i, k;

	if (deps == NULL || reports == NULL) {
		free(deps);
		free(reports);
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory reading the deployments");
		return -1;
	}
	c->deps->v = deps;
	c->reports = reports;
	json_array_foreach(list, i, e)
	{
		if (!deployment_parse(e, &d)) {
			agent_log(deployment_log(c), CMTRACE_ERROR,
				  "Ignoring deployments[%zu] of the machine policy: it is not "
				  "{\"id\",\"update_id\",\"revision\",\"available_at\",...}",
				  i);
			continue;
		}
		for (k = 0; k < c->deps->n; k++)
			if (strcmp(c->deps->v[k].update_id, d.update_id) == 0)
				break;
		if (k == c->deps->n) {
			c->deps->v[c->deps->n++] = d;
			continue;
		}
		if (d.available_at < c->deps->v[k].available_at) {
			c->deps->v[k].available_at = d.available_at;
			c->deps->v[k].id = d.id;
		}
		if (d.deadline_at != 0 &&
		    (c->deps->v[k].deadline_at == 0 || d.deadline_at < c->deps->v[k].deadline_at))
			c->deps->v[k].deadline_at = d.deadline_at;
	}
	return 0;
}

/* Software updates switched off by client settings: nothing to scan or install. */
static bool software_updates_enabled(struct cycle *c, const char **source)
{
	const json_t *s = json_object_get(json_object_get(c->stored.policy, "settings"),
					  "software_updates.enabled");

	*source = member_text(s, "source");
	return !json_is_false(json_object_get(s, "value"));
}

static void cycle_free(struct cycle *c)
{
	agent_http_free(c->http);
	agent_stored_policy_free(&c->stored);
	agent_identity_wipe(&c->id);
	json_decref(c->state);
	free(c->deps->v);
	c->deps->v = NULL;
	free(c->reports);
}

static int cycle_begin(struct cycle *c, const char *machine, const struct agent_updates_options *o,
		       struct agent_logs *logs, struct agent_updates_outcome *out,
		       struct deployments *deps, struct pp_error *err)
{
	struct agent_policy_outcome po;
	struct pp_error damaged;
	const char *ca;
	bool present = false;

	memset(c, 0, sizeof(*c));
	memset(out, 0, sizeof(*out));
	memset(deps, 0, sizeof(*deps));
	c->deps = deps;
	c->machine = machine;
	c->o = o;
	c->logs = logs;
	c->out = out;
	c->now = (long long)time(NULL);
	if (agent_state_require_identity(machine, &c->id, err) != 0)
		return -1;
	pp_error_clear(&damaged);
	if (agent_state_load_policy(machine, &c->stored, &present, &damaged) != 0)
		present = false; /* the policy cycle replaces a damaged copy (and logs it) */
	if (!present) {
		/* The deployments come with the machine policy: fetch it first. */
		out->policy_run = true;
		if (agent_policy_cycle(machine, o != NULL ? o->ca_bundle : NULL, logs, &po, err) !=
			0 ||
		    agent_state_load_policy(machine, &c->stored, &present, err) != 0)
			return -1;
	}
	ca = o != NULL && o->ca_bundle != NULL && o->ca_bundle[0] != '\0' ? o->ca_bundle
									  : c->id.ca_bundle;
	c->http = agent_http_new(c->id.server, ca, err);
	if (c->http == NULL || agent_http_set_credential(c->http, c->id.credential, err) != 0 ||
	    state_load(c, err) != 0 || deployments_read(c, err) != 0)
		return -1;
	return 0;
}

/* The counts of the reports so far. */
static void outcome_count(struct agent_updates_outcome *o)
{
	size_t i;

	o->required = o->failed = 0;
	for (i = 0; i < o->count; i++) {
		if (o->reports[i].state == NULL)
			o->reports[i].state = "not_required"; /* cut short by a stop */
		if (strcmp(o->reports[i].state, "required") == 0)
			o->required++;
		else if (strcmp(o->reports[i].state, "failed") == 0)
			o->failed++;
	}
}

static int cycle_end(struct cycle *c, int rc, struct pp_error *err)
{
	struct pp_error e;

	pp_error_clear(&e);
	if (c->state != NULL && state_save(c, &e) != 0 && rc == 0) {
		*err = e;
		rc = -1;
	}
	if (c->queue_failed && rc == 0) {
		*err = c->queue_err;
		rc = -1;
	}
	c->out->reports = c->reports;
	c->out->count = c->nreports;
	c->reports = NULL;
	outcome_count(c->out);
	cycle_free(c);
	return rc;
}

/* ---- an update's metadata: fetched, kept, read back ---- */

static int meta_paths(const char *machine, const char *update_id, long long revision,
		      char *json_path, char *xml_path, size_t size, struct pp_error *err)
{
	char dir[AGENT_PATH_MAX];

	if (agent_state_path(machine, UPDATES_DIR, dir, sizeof(dir), err) != 0)
		return -1;
	if (snprintf(json_path, size, "%s/%s.%lld.json", dir, update_id, revision) >= (int)size ||
	    snprintf(xml_path, size, "%s/%s.%lld.xml", dir, update_id, revision) >= (int)size) {
		pp_error_set(err, HR_ERROR_INVALID_NAME, "machine directory path too long: %s",
			     machine);
		return -1;
	}
	return 0;
}

/* A content URL we may put after the server's address: a plain absolute path. */
static bool url_path_valid(const char *u)
{
	return u != NULL && u[0] == '/' && strlen(u) < URL_PATH_MAX && strstr(u, "..") == NULL &&
	       strspn(u, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/._-") ==
		   strlen(u);
}

/* The metadata of an answer (or of the stored copy) into m; false when something is missing. */
static bool meta_parse(const json_t *doc, struct update_meta *m)
{
	const json_t *content = json_object_get(doc, "content");
	const char *uid = json_string_value(json_object_get(doc, "update_id"));
	const char *sha1 = json_string_value(json_object_get(content, "sha1"));
	const char *sha256 = json_string_value(json_object_get(content, "sha256"));
	const char *url = json_string_value(json_object_get(content, "url"));
	long long size = member_int(content, "size");
	size_t i;

	memset(m, 0, sizeof(*m));
	if (uid == NULL || !sdp_guid_valid(uid) || !hex_valid(sha1, 40) || !hex_valid(sha256, 64) ||
	    !url_path_valid(url) || size <= 0 || (uint64_t)size > CAB_MAX_CABINET_SIZE ||
	    member_int(doc, "revision") < 1)
		return false;
	for (i = 0; i < AGENT_UUID_LEN; i++)
		m->update_id[i] =
		    (char)(uid[i] >= 'A' && uid[i] <= 'F' ? uid[i] - 'A' + 'a' : uid[i]);
	m->revision = member_int(doc, "revision");
	copy_text(m->title, sizeof(m->title), member_text(doc, "title"));
	memcpy(m->url, url, strlen(url) + 1);
	for (i = 0; i < 40; i++)
		m->sha1[i] =
		    (char)(sha1[i] >= 'a' && sha1[i] <= 'f' ? sha1[i] - 'a' + 'A' : sha1[i]);
	for (i = 0; i < 64; i++)
		m->sha256[i] = (char)(sha256[i] >= 'A' && sha256[i] <= 'F' ? sha256[i] - 'A' + 'a'
									   : sha256[i]);
	m->size = (uint64_t)size;
	return true;
}

/* Reads the one package of an SDP document with the streaming reader. */
static struct sdp_package *sdp_read(const char *xml, size_t len, const char *update_id,
				    struct pp_error *err)
{
	struct sdp_reader *r = sdp_reader_new_memory(xml, len, err);
	struct sdp_package *p = NULL, *extra = NULL;
	struct sdp_skip skip;
	int n;

	if (r == NULL)
		return NULL;
	n = sdp_reader_next(r, &p, &skip, err);
	if (n == SDP_NEXT_SKIPPED) {
		pp_error_set(err, HR_ERROR_INVALID_DATA, "the SDP of update %s cannot be used: %s",
			     update_id, skip.reason);
	} else if (n == SDP_NEXT_END) {
		pp_error_set(err, HR_ERROR_INVALID_DATA, "the SDP of update %s holds no package",
			     update_id);
	} else if (n == SDP_NEXT_PACKAGE && strcasecmp(p->package_id, update_id) != 0) {
		pp_error_set(err, HR_ERROR_INVALID_DATA,
			     "the SDP of update %s describes another package (%s)", update_id,
			     p->package_id);
	} else if (n == SDP_NEXT_PACKAGE &&
		   sdp_reader_next(r, &extra, &skip, err) != SDP_NEXT_END) {
		pp_error_set(err, HR_ERROR_INVALID_DATA,
			     "the SDP of update %s holds more than one package", update_id);
	} else if (n == SDP_NEXT_PACKAGE) {
		sdp_reader_free(r);
		return p;
	}
	sdp_package_free(extra);
	sdp_package_free(p);
	sdp_reader_free(r);
	return NULL;
}

/* GET the update, check the answer and keep it (the SDP as .xml, the rest as .json). */
static struct sdp_package *meta_fetch(struct cycle *c, const struct deployment *d,
				      struct update_meta *m, bool *gone, bool *answered,
				      struct pp_error *err)
{
	struct agent_http_response resp = {0};
	char path[sizeof(AGENT_UPDATES_PATH) + AGENT_UUID_LEN];
	char jpath[AGENT_PATH_MAX], xpath[AGENT_PATH_MAX], dir[AGENT_PATH_MAX];
	struct sdp_package *pkg = NULL;
	const json_t *sdp;
	json_t *keep = NULL;

	*gone = *answered = false;
	(void)snprintf(path, sizeof(path), AGENT_UPDATES_PATH "%s", d->update_id);
	if (agent_http_request(c->http, "GET", path, NULL, NULL, &resp, err) != 0) {
		*gone = resp.status == 404;
		goto out;
	}
	*answered = true;
	sdp = json_object_get(resp.json, "sdp");
	if (!meta_parse(resp.json, m) || strcmp(m->update_id, d->update_id) != 0 ||
	    !json_is_string(sdp) || json_string_length(sdp) > SDP_PACKAGE_MAX) {
		pp_error_set(
		    err, HR_ERROR_INVALID_DATA,
		    "the server's answer for update %s is not {\"update_id\", \"revision\", "
		    "\"sdp\", \"content\": {\"url\", \"sha1\", \"sha256\", \"size\"}}",
		    d->update_id);
		goto out;
	}
	pkg = sdp_read(json_string_value(sdp), json_string_length(sdp), d->update_id, err);
	if (pkg == NULL)
		goto out;
	keep = json_deep_copy(resp.json);
	if (keep == NULL || json_object_del(keep, "sdp") != 0 ||
	    json_object_set_new(keep, "fetched_at", json_integer(c->now)) != 0) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory keeping update %s",
			     d->update_id);
		goto fail;
	}
	if (agent_state_path(c->machine, UPDATES_DIR, dir, sizeof(dir), err) != 0 ||
	    agent_state_make_dir(dir, 0755, err) != 0 ||
	    meta_paths(c->machine, m->update_id, m->revision, jpath, xpath, sizeof(jpath), err) !=
		0 ||
	    atomicfile_write(xpath, json_string_value(sdp), json_string_length(sdp), 0644, true,
			     err) != 0 ||
	    agent_state_write_object(jpath, keep, 0644, err) != 0)
		goto fail;
	goto out;
fail:
	sdp_package_free(pkg);
	pkg = NULL;
out:
	json_decref(keep);
	agent_http_response_free(&resp);
	return pkg;
}

/* The kept metadata and SDP of one revision; NULL with *absent when they are not there. */
static struct sdp_package *meta_load(const char *machine, const char *update_id, long long rev,
				     struct update_meta *m, bool *absent, struct pp_error *err)
{
	char jpath[AGENT_PATH_MAX], xpath[AGENT_PATH_MAX];
	struct sdp_package *pkg = NULL;
	json_t *doc = NULL;
	char *xml = NULL;
	size_t len = 0;

	*absent = false;
	if (meta_paths(machine, update_id, rev, jpath, xpath, sizeof(jpath), err) != 0 ||
	    agent_state_read_object(jpath, AGENT_STATE_FILE_MAX, META_AGAIN, &doc, err) != 0 ||
	    (doc != NULL && agent_state_read_file(xpath, SDP_PACKAGE_MAX, &xml, &len, err) != 0))
		goto out;
	if (doc == NULL || xml == NULL) {
		*absent = true;
		goto out;
	}
	if (!meta_parse(doc, m) || strcmp(m->update_id, update_id) != 0 || m->revision != rev) {
		pp_error_set(err, HR_ERROR_INVALID_DATA, "%s is damaged; " META_AGAIN, jpath);
		goto out;
	}
	pkg = sdp_read(xml, len, update_id, err);
out:
	json_decref(doc);
	free(xml);
	return pkg;
}

/* ---- applicability ---- */

/* Evaluates one rule (absent: *r = dflt); logs it in ScanAgent.log. */
static int rule_eval(struct cmtrace_log *log, const char *update_id, const char *where,
		     const char *rule, enum agent_rule_result dflt, enum agent_rule_result *r,
		     struct agent_applicability *a, struct pp_error *err)
{
	struct agent_rule_outcome o;

	*r = dflt;
	if (rule == NULL)
		return 0;
	if (agent_rules_evaluate(rule, &o, err) != 0)
		return -1;
	agent_log(log, CMTRACE_INFO, "Update %s %s: %s; %s", update_id, where,
		  agent_rule_result_name(o.result), o.detail);
	*r = o.result;
	/* The last rule evaluated is the one that decides. */
	agent_text_format(a->reason, sizeof(a->reason), "%s is %s: %s", where,
			  agent_rule_result_name(o.result), o.detail);
	return 0;
}

int agent_updates_applicability(const struct sdp_package *p, long long revision,
				long long installed_revision, struct cmtrace_log *log,
				struct agent_applicability *a, struct pp_error *err)
{
	enum agent_rule_result r;
	bool has_is_installed = p->is_installed != NULL;
	char where[64];
	size_t i;

	memset(a, 0, sizeof(*a));
	a->state = "not_required";
	if (rule_eval(log, p->package_id, "package IsInstallable", p->is_installable,
		      AGENT_RULE_TRUE, &r, a, err) != 0)
		return -1;
	if (r != AGENT_RULE_TRUE)
		return 0;
	if (rule_eval(log, p->package_id, "package IsInstalled", p->is_installed, AGENT_RULE_FALSE,
		      &r, a, err) != 0)
		return -1;
	if (r == AGENT_RULE_NOT_APPLICABLE)
		return 0;
	if (r == AGENT_RULE_TRUE) {
		a->state = "installed";
		return 0;
	}
	for (i = 0; i < p->item_count && a->item == NULL; i++) {
		(void)snprintf(where, sizeof(where), "item %.36s IsInstallable", p->items[i].id);
		if (rule_eval(log, p->package_id, where, p->items[i].is_installable,
			      AGENT_RULE_TRUE, &r, a, err) != 0)
			return -1;
		if (r == AGENT_RULE_TRUE)
			a->item = &p->items[i];
	}
	if (a->item == NULL) {
		if (p->item_count == 0)
			(void)snprintf(a->reason, sizeof(a->reason), "the update has no item");
		return 0;
	}
	(void)snprintf(where, sizeof(where), "item %.36s IsInstalled", a->item->id);
	if (rule_eval(log, p->package_id, where, a->item->is_installed, AGENT_RULE_FALSE, &r, a,
		      err) != 0)
		return -1;
	has_is_installed = has_is_installed || a->item->is_installed != NULL;
	if (r == AGENT_RULE_NOT_APPLICABLE)
		return 0;
	if (r == AGENT_RULE_TRUE) {
		a->state = "installed";
		return 0;
	}
	if (!has_is_installed && installed_revision > 0 && installed_revision == revision) {
		(void)snprintf(a->reason, sizeof(a->reason),
			       "installed by this agent (revision %lld); the update has no "
			       "IsInstalled rule",
			       revision);
		a->state = "installed";
		return 0;
	}
	a->state = "required";
	a->reason[0] = '\0';
	return 0;
}

/* The state names as static strings (reports outlive updates.json). */
static const char *state_literal(const char *s)
{
	static const char *const names[] = {"required", "not_required", "installed",
					    "pending_reboot", "failed"};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(s, names[i]) == 0)
			return names[i];
	return "not_required";
}

const char *agent_update_state_label(const char *state)
{
	if (strcmp(state, "waiting") == 0)
		return "Waiting";
	if (strcmp(state, "required") == 0)
		return "Required";
	if (strcmp(state, "not_required") == 0)
		return "Not Required";
	if (strcmp(state, "installed") == 0)
		return "Installed";
	if (strcmp(state, "pending_reboot") == 0)
		return "Pending Restart";
	return "Failed";
}

/* Scans one update: fetch, keep, evaluate, remember, report (into rep), queue. */
static void scan_one(struct cycle *c, const struct deployment *d, struct agent_update_report *rep)
{
	struct agent_applicability a;
	struct update_meta m;
	struct sdp_package *pkg;
	struct pp_error e;
	json_t *entry;
	bool gone = false, answered = false;

	pp_error_clear(&e);
	pkg = meta_fetch(c, d, &m, &gone, &answered, &e);
	entry = state_entry(c, d->update_id);
	if (pkg != NULL && entry != NULL &&
	    agent_updates_applicability(pkg, m.revision,
					member_int(json_object_get(entry, "installed"), "revision"),
					scan_log(c), &a, &e) == 0) {
		copy_text(rep->title, sizeof(rep->title), m.title[0] != '\0' ? m.title : d->title);
		(void)json_object_set_new(entry, "title", json_string(rep->title));
		(void)json_object_set_new(entry, "deployment_id", json_integer(d->id));
		(void)json_object_set_new(entry, "scan",
					  json_pack("{s:s, s:I, s:I, s:s?}", "state", a.state,
						    "revision", (json_int_t)m.revision, "at",
						    (json_int_t)c->now, "item",
						    a.item != NULL ? a.item->id : NULL));
		if (a.reason[0] != '\0' && strcmp(a.state, "required") != 0)
			agent_log(scan_log(c), CMTRACE_INFO, "Update %s: %s", d->update_id,
				  a.reason);
		agent_log(scan_log(c), CMTRACE_INFO, "Update %s (%s) is %s", d->update_id,
			  rep->title, agent_update_state_label(a.state));
		report_set(rep, a.state, false, 0, a.reason);
		queue_message(c, "scan", d, m.revision, a.state, false, 0, a.reason);
		sdp_package_free(pkg);
		return;
	}
	sdp_package_free(pkg);
	if (entry == NULL)
		pp_error_set(&e, HR_E_OUTOFMEMORY, "out of memory");
	if (gone) {
		/* A policy older than the deployment's removal: nothing to say about it. */
		agent_log(scan_log(c), CMTRACE_WARNING,
			  "Update %s (%s) is no longer deployed to this device: %s", d->update_id,
			  d->title, e.message);
		report_set(rep, "not_required", false, 0, e.message);
		return;
	}
	agent_log(scan_log(c), CMTRACE_ERROR, "Cannot scan update %s (%s): %s", d->update_id,
		  d->title, e.message);
	report_set(rep, "failed", true, e.code, e.message);
	/* The server unreachable says nothing about the update: only a scan that had the
	 * update's metadata and failed on it is reported. */
	if (answered)
		queue_message(c, "scan", d, d->revision, "failed", true, e.code, e.message);
}

/* ---- content: digests, cache, download ---- */

int agent_updates_check_digests(const char *path, uint64_t size, const char *sha1_hex,
				const char *sha256_hex, struct pp_error *err)
{
	static const char hex[] = "0123456789abcdef";
	EVP_MD_CTX *c1 = EVP_MD_CTX_new(), *c256 = EVP_MD_CTX_new();
	unsigned char buf[64 * 1024], d1[EVP_MAX_MD_SIZE], d256[EVP_MAX_MD_SIZE];
	char got1[41], got256[65];
	unsigned n1 = 0, n256 = 0, i;
	uint64_t total = 0;
	struct stat st;
	ssize_t r;
	int fd = -1, rc = -1;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 || fstat(fd, &st) != 0) {
		pp_error_set_errno(err, errno, "cannot read %s", path);
		goto out;
	}
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size != size) {
		pp_error_set(err, HR_WU_E_DM_INCORRECTFILEHASH,
			     "the content %s is %lld bytes, but the update's metadata says %llu",
			     path, (long long)st.st_size, (unsigned long long)size);
		goto out;
	}
	if (c1 == NULL || c256 == NULL || EVP_DigestInit_ex(c1, EVP_sha1(), NULL) != 1 ||
	    EVP_DigestInit_ex(c256, EVP_sha256(), NULL) != 1) {
		pp_error_set_openssl(err, HR_E_FAIL, "cannot hash %s", path);
		goto out;
	}
	while ((r = read(fd, buf, sizeof(buf))) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			pp_error_set_errno(err, errno, "cannot read %s", path);
			goto out;
		}
		total += (uint64_t)r;
		if (EVP_DigestUpdate(c1, buf, (size_t)r) != 1 ||
		    EVP_DigestUpdate(c256, buf, (size_t)r) != 1) {
			pp_error_set_openssl(err, HR_E_FAIL, "cannot hash %s", path);
			goto out;
		}
	}
	if (EVP_DigestFinal_ex(c1, d1, &n1) != 1 || EVP_DigestFinal_ex(c256, d256, &n256) != 1 ||
	    n1 != 20 || n256 != 32) {
		pp_error_set_openssl(err, HR_E_FAIL, "cannot hash %s", path);
		goto out;
	}
	for (i = 0; i < 20; i++) {
		got1[2 * i] = hex[d1[i] >> 4];
		got1[2 * i + 1] = hex[d1[i] & 15];
	}
	for (i = 0; i < 32; i++) {
		got256[2 * i] = hex[d256[i] >> 4];
		got256[2 * i + 1] = hex[d256[i] & 15];
	}
	got1[40] = got256[64] = '\0';
	if (total != size) {
		pp_error_set(err, HR_WU_E_DM_INCORRECTFILEHASH, "%s changed while it was hashed",
			     path);
		goto out;
	}
	if (strcasecmp(got1, sha1_hex) != 0) {
		pp_error_set(err, HR_WU_E_DM_INCORRECTFILEHASH,
			     "the content %s has SHA-1 %s, but the update's metadata says %s", path,
			     got1, sha1_hex);
		goto out;
	}
	if (strcasecmp(got256, sha256_hex) != 0) {
		pp_error_set(err, HR_WU_E_DM_INCORRECTFILEHASH,
			     "the content %s has SHA-256 %s, but the update's metadata says %s",
			     path, got256, sha256_hex);
		goto out;
	}
	rc = 0;
out:
	if (fd >= 0)
		(void)close(fd);
	EVP_MD_CTX_free(c1);
	EVP_MD_CTX_free(c256);
	return rc;
}

/* The phases of an install, as diagnose and the state messages name them. */
#define PHASE_DOWNLOAD "download"
#define PHASE_VERIFY   "verify"
#define PHASE_TRUST    "trust"
#define PHASE_EXTRACT  "extract"
#define PHASE_INSTALL  "install"

/* Makes <machine>/agent/cache/<SHA1>.cab hold the update's content: a cached copy that still
 * matches the metadata, or a download (resumed from the .part a cut-short one left). A file
 * that does not match is removed. */
static int content_get(struct cycle *c, const struct update_meta *m, char *cab, size_t size,
		       const char **phase, struct pp_error *err)
{
	struct agent_http_download_result dl;
	char dir[AGENT_PATH_MAX], part[AGENT_PATH_MAX + 8];
	struct pp_error e;

	*phase = PHASE_DOWNLOAD;
	if (agent_state_path(c->machine, CACHE_DIR, dir, sizeof(dir), err) != 0 ||
	    agent_state_make_dir(dir, 0700, err) != 0)
		return -1;
	if (snprintf(cab, size, "%s/%s.cab", dir, m->sha1) >= (int)size) {
		pp_error_set(err, HR_ERROR_INVALID_NAME, "machine directory path too long: %s",
			     c->machine);
		return -1;
	}
	agent_text_format(part, sizeof(part), "%s.part", cab);
	if (access(cab, F_OK) == 0) {
		pp_error_clear(&e);
		if (agent_updates_check_digests(cab, m->size, m->sha1, m->sha256, &e) == 0) {
			agent_log(wua_log(c), CMTRACE_INFO,
				  "Content of update %s is in the cache (%s)", m->update_id, cab);
			return 0;
		}
		agent_log(wua_log(c), CMTRACE_WARNING, "Removing cached content: %s", e.message);
		(void)unlink(cab);
	}
	if (access(part, F_OK) == 0)
		agent_log(wua_log(c), CMTRACE_INFO, "Resuming the download of %s%s for update %s",
			  agent_http_server(c->http), m->url, m->update_id);
	else
		agent_log(wua_log(c), CMTRACE_INFO, "Downloading %s%s (%llu bytes) for update %s",
			  agent_http_server(c->http), m->url, (unsigned long long)m->size,
			  m->update_id);
	if (agent_http_download(c->http, m->url, part, m->size, &dl, err) != 0)
		return -1;
	if (dl.resumed_from > 0)
		agent_log(wua_log(c), CMTRACE_INFO, "Resumed the download at byte %llu of %llu",
			  (unsigned long long)dl.resumed_from, (unsigned long long)m->size);
	*phase = PHASE_VERIFY;
	if (agent_updates_check_digests(part, m->size, m->sha1, m->sha256, err) != 0) {
		(void)unlink(part);
		return -1;
	}
	if (rename(part, cab) != 0) {
		pp_error_set_errno(err, errno, "cannot rename %s", part);
		return -1;
	}
	return atomicfile_sync_dir(dir, err);
}

/* ---- the command-line handler ---- */

int agent_updates_split_arguments(const char *args, char *buf, char **words, size_t max,
				  size_t *count, struct pp_error *err)
{
	const char *p = args != NULL ? args : "";
	char *o = buf;
	bool quoted = false, in_word = false;

	*count = 0;
	for (;; p++) {
		if (*p == '\0' || (!quoted && (*p == ' ' || *p == '\t'))) {
			if (in_word) {
				*o++ = '\0';
				in_word = false;
			}
			if (*p == '\0')
				break;
			continue;
		}
		if (!in_word) {
			if (*count == max) {
				pp_error_set(err, HR_E_INVALIDARG,
					     "the installer's arguments have more than %zu words",
					     max);
				return -1;
			}
			words[(*count)++] = o;
			in_word = true;
		}
		if (*p == '\\' && p[1] == '"') {
			*o++ = *++p;
		} else if (*p == '"') {
			quoted = !quoted;
		} else {
			*o++ = *p;
		}
	}
	if (quoted) {
		pp_error_set(err, HR_E_INVALIDARG,
			     "the installer's arguments have an unclosed quote");
		return -1;
	}
	return 0;
}

void agent_updates_map_exit(const struct sdp_command_line *cl, int exit_code,
			    struct agent_handler_result *res)
{
	enum sdp_result result = cl->default_result;
	bool reboot = cl->reboot_by_default, listed = false;
	size_t i;

	for (i = 0; i < cl->return_code_count && !listed; i++)
		if (cl->return_codes[i].code == exit_code) {
			result = cl->return_codes[i].result;
			reboot = cl->return_codes[i].reboot;
			listed = true;
		}
	if (!listed && exit_code == 0)
		result = SDP_RESULT_SUCCEEDED;
	res->exit_code = exit_code;
	res->timed_out = false;
	res->hresult = 0;
	if (result == SDP_RESULT_SUCCEEDED) {
		res->state = reboot ? "pending_reboot" : "installed";
		(void)snprintf(res->detail, sizeof(res->detail), "exited with code %d: Succeeded%s",
			       exit_code, reboot ? ", a restart is needed" : "");
		return;
	}
	res->state = "failed";
	res->hresult = hresult_from_exit(exit_code);
	(void)snprintf(res->detail, sizeof(res->detail), "exited with code %d: %s (%s)", exit_code,
		       sdp_result_name(result),
		       listed ? "its ReturnCode entry"
			      : "not in the ReturnCode table: DefaultResult");
}

static bool is_elf(const char *path)
{
	unsigned char magic[4];
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	bool elf;

	if (fd < 0)
		return false;
	elf = read(fd, magic, 4) == 4 && memcmp(magic, "\177ELF", 4) == 0;
	(void)close(fd);
	return elf;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && strcmp(s + a - b, suffix) == 0;
}

#define HANDLER_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* The child side of the handler: never returns. Reports an exec failure's errno on fd report. */
static void handler_child(const char *dir, int in, int out, int report, char **argv, char **env)
{
	sigset_t none;
	int e, s;

	(void)setpgid(0, 0);
	for (s = 1; s < NSIG; s++)
		(void)signal(s, SIG_DFL);
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	if (chdir(dir) != 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
		goto fail;
	/* Nothing of the agent's (the cycle lock, sockets) goes to the installer. */
	(void)close_range(3, ~0u, CLOSE_RANGE_CLOEXEC);
	execve(argv[0], argv, env);
fail:
	e = errno;
	(void)!write(report, &e, sizeof(e));
	_exit(127);
}

/* The environment of a handler: extra's entries, then the fixed PATH, LANG and HOME unless
 * extra names them. env has room for AGENT_HANDLER_ENV_MAX + 4 pointers. */
static int handler_env(const struct agent_handler_extra *extra, char **env, const char **path,
		       struct pp_error *err)
{
	static const char *const fixed[] = {"PATH=" HANDLER_PATH, "LANG=C", "HOME=/"};
	size_t n = 0, i, k;

	*path = HANDLER_PATH;
	for (i = 0; extra != NULL && extra->env != NULL && extra->env[i] != NULL; i++) {
		if (i == AGENT_HANDLER_ENV_MAX || strchr(extra->env[i], '=') == NULL) {
			pp_error_set(err, HR_E_INVALIDARG, "bad environment for the program: %.64s",
				     extra->env[i]);
			return -1;
		}
		if (strncmp(extra->env[i], "PATH=", 5) == 0)
			*path = extra->env[i] + 5;
		env[n++] = (char *)extra->env[i];
	}
	for (k = 0; k < sizeof(fixed) / sizeof(fixed[0]); k++) {
		size_t len = (size_t)(strchr(fixed[k], '=') - fixed[k]) + 1;

		for (i = 0; i < n && strncmp(env[i], fixed[k], len) != 0; i++)
			;
		if (i == n)
			env[n++] = (char *)fixed[k];
	}
	env[n] = NULL;
	return 0;
}

/* An executable regular file named by an absolute path, or a name found in the directories of
 * search (a PATH value), into out. */
static int find_program(const char *name, const char *search, char *out, size_t size,
			struct pp_error *err)
{
	struct stat st;
	const char *p = search, *colon;

	if (name[0] == '/') {
		if (stat(name, &st) == 0 && S_ISREG(st.st_mode) && access(name, X_OK) == 0 &&
		    strlen(name) < size) {
			memcpy(out, name, strlen(name) + 1);
			return 0;
		}
	} else {
		for (; *p != '\0'; p = *colon != '\0' ? colon + 1 : colon) {
			colon = strchr(p, ':');
			if (colon == NULL)
				colon = p + strlen(p);
			if (colon == p)
				continue;
			if (snprintf(out, size, "%.*s/%s", (int)(colon - p), p, name) < (int)size &&
			    stat(out, &st) == 0 && S_ISREG(st.st_mode) && access(out, X_OK) == 0)
				return 0;
		}
	}
	pp_error_set(err, HR_ERROR_FILE_NOT_FOUND,
		     "the program %s is not a file of the content, nor a program in %s", name,
		     name[0] == '/' ? "this system" : "PATH");
	return -1;
}

int agent_updates_run_handler(const struct sdp_command_line *cl, const char *dir, unsigned timeout,
			      const char *output_path, struct cmtrace_log *log,
			      struct agent_handler_result *res, struct pp_error *err)
{
	return agent_updates_run_handler_ex(cl, dir, timeout, output_path, log, NULL, res, err);
}

int agent_updates_run_handler_ex(const struct sdp_command_line *cl, const char *dir,
				 unsigned timeout, const char *output_path, struct cmtrace_log *log,
				 const struct agent_handler_extra *extra,
				 struct agent_handler_result *res, struct pp_error *err)
{
	char rel[CAB_NAME_MAX + 1], path[AGENT_PATH_MAX + CAB_NAME_MAX + 2], here[PATH_MAX];
	char *argv[AGENT_HANDLER_ARGS_MAX + 3], *words[AGENT_HANDLER_ARGS_MAX], *buf = NULL;
	char *env[AGENT_HANDLER_ENV_MAX + 4];
	const char *search;
	size_t nwords = 0, i, n = 0;
	struct timespec start, t, pause = {0, 20 * 1000 * 1000};
	int in = -1, out = -1, report[2] = {-1, -1}, status = 0, child_errno = 0, rc = -1;
	bool use_sh, system_program = false;
	struct stat st;
	pid_t pid = -1, r;
	ssize_t got;
	FILE *fp;

	memset(res, 0, sizeof(*res));
	res->exit_code = -1;
	if (timeout == 0)
		timeout = AGENT_INSTALL_TIMEOUT_DEFAULT;
	if (cl->program == NULL || handler_env(extra, env, &search, err) != 0)
		goto out;
	/* The program runs with dir as its working directory: every path given to it absolute. */
	if (realpath(dir, here) == NULL) {
		pp_error_set_errno(err, errno, "cannot resolve %s", dir);
		goto out;
	}
	dir = here;
	if (extra != NULL && extra->search_path && strlen(cl->program) <= CAB_NAME_MAX &&
	    (cl->program[0] == '/' ||
	     (strchr(cl->program, '/') == NULL &&
	      (snprintf(path, sizeof(path), "%s/%s", dir, cl->program) >= (int)sizeof(path) ||
	       lstat(path, &st) != 0 || !S_ISREG(st.st_mode))))) {
		/* Not a file of the content: a program of the system (never made executable). */
		if (find_program(cl->program, search, path, sizeof(path), err) != 0)
			goto out;
		memcpy(rel, cl->program, strlen(cl->program) + 1);
		system_program = true;
	} else {
		if (cab_safe_relative_path(cl->program, rel, sizeof(rel), err) != 0)
			goto out;
		if (snprintf(path, sizeof(path), "%s/%s", dir, rel) >= (int)sizeof(path)) {
			pp_error_set(err, HR_ERROR_INVALID_NAME, "the installer path is too long");
			goto out;
		}
		if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
			pp_error_set(err, HR_ERROR_FILE_NOT_FOUND,
				     "the installer %s is not a file of the update's content", rel);
			goto out;
		}
	}
	buf = malloc(strlen(cl->arguments != NULL ? cl->arguments : "") + 1);
	if (buf == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
		goto out;
	}
	if (agent_updates_split_arguments(cl->arguments, buf, words, AGENT_HANDLER_ARGS_MAX,
					  &nwords, err) != 0)
		goto out;
	/* A script (or anything that is not an ELF program) runs under /bin/sh, as a
	 * CommandLineInstallation of a .cmd runs under cmd.exe. */
	use_sh = !system_program && (ends_with(rel, ".sh") || !is_elf(path));
	if (use_sh)
		argv[n++] = (char *)"/bin/sh";
	else if (!system_program && chmod(path, 0755) != 0) { /* cabinets keep no execute bit */
		pp_error_set_errno(err, errno, "cannot make %s executable", path);
		goto out;
	}
	argv[n++] = path;
	for (i = 0; i < nwords; i++)
		argv[n++] = words[i];
	argv[n] = NULL;

	in = open("/dev/null", O_RDONLY | O_CLOEXEC);
	out = open(output_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (in < 0 || out < 0 || pipe2(report, O_CLOEXEC) != 0) {
		pp_error_set_errno(err, errno, "cannot prepare to run the installer (%s)",
				   out < 0 ? output_path : "/dev/null, pipe");
		goto out;
	}
	fp = fdopen(dup(out), "a");
	if (fp != NULL) {
		fprintf(fp, "==== %lld: %s", (long long)time(NULL), use_sh ? "/bin/sh " : "");
		for (i = use_sh ? 1 : 0; i < n; i++)
			fprintf(fp, "%s%s", argv[i], i + 1 < n ? " " : "");
		fprintf(fp, " (in %s)\n", dir);
		(void)fclose(fp);
	}
	agent_log(log, CMTRACE_INFO, "Running %s%s%s%s in %s, time limit %u s (output in %s)",
		  use_sh ? "/bin/sh " : "", rel, nwords > 0 ? " " : "",
		  cl->arguments != NULL ? cl->arguments : "", dir, timeout, output_path);
	(void)clock_gettime(CLOCK_MONOTONIC, &start);
	pid = fork();
	if (pid < 0) {
		pp_error_set_errno(err, errno, "cannot start the installer %s", rel);
		goto out;
	}
	if (pid == 0)
		handler_child(dir, in, out, report[1], argv, env);
	(void)setpgid(pid, pid); /* as the child does: no window in which a kill misses it */
	(void)close(report[1]);
	report[1] = -1;
	while ((got = read(report[0], &child_errno, sizeof(child_errno))) < 0 && errno == EINTR)
		;
	for (;;) {
		r = waitpid(pid, &status, WNOHANG);
		if (r == pid || (r < 0 && errno != EINTR))
			break;
		(void)clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - start.tv_sec >= (time_t)timeout) {
			/* The whole group: a script's children go with it. */
			(void)kill(-pid, SIGKILL);
			while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
				;
			res->timed_out = true;
			break;
		}
		(void)nanosleep(&pause, NULL);
	}
	pid = -1;
	if (got == (ssize_t)sizeof(child_errno)) {
		pp_error_set_errno(err, child_errno, "cannot run the installer %s", rel);
		goto out;
	}
	if (res->timed_out) {
		res->state = "failed";
		/* WAIT_TIMEOUT (HRESULT 0x80070102) is not in hresult.h: E_FAIL, said in words. */
		res->hresult = HR_E_FAIL;
		(void)snprintf(res->detail, sizeof(res->detail),
			       "The installer %s ran past its time limit of %u s and was stopped",
			       rel, timeout);
	} else if (WIFEXITED(status)) {
		agent_updates_map_exit(cl, WEXITSTATUS(status), res);
		{
			char tail[sizeof(res->detail)];

			memcpy(tail, res->detail, sizeof(tail));
			agent_text_format(res->detail, sizeof(res->detail), "The installer %s %s",
					  rel, tail);
		}
	} else {
		res->state = "failed";
		res->hresult = HR_E_FAIL;
		(void)snprintf(res->detail, sizeof(res->detail),
			       "The installer %s was killed by signal %d", rel,
			       WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	}
	fp = fdopen(dup(out), "a");
	if (fp != NULL) {
		fprintf(fp, "==== %s\n", res->detail);
		(void)fclose(fp);
	}
	agent_log(log, strcmp(res->state, "failed") == 0 ? CMTRACE_ERROR : CMTRACE_INFO, "%s",
		  res->detail);
	rc = 0;
out:
	if (pid > 0) {
		(void)kill(-pid, SIGKILL);
		(void)waitpid(pid, &status, 0);
	}
	if (in >= 0)
		(void)close(in);
	if (out >= 0)
		(void)close(out);
	if (report[0] >= 0)
		(void)close(report[0]);
	if (report[1] >= 0)
		(void)close(report[1]);
	free(buf);
	return rc;
}

/* ---- staging ---- */

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		return rmdir(path) != 0 && errno != ENOENT ? -1 : 0;
	return unlink(path) != 0 && errno != ENOENT ? -1 : 0;
}

/* rm -rf path, never following a link. */
static int remove_tree(const char *path, struct pp_error *err)
{
	if (nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0 && errno != ENOENT) {
		pp_error_set_errno(err, errno, "cannot remove %s", path);
		return -1;
	}
	return 0;
}

int agent_updates_clean_staging(const char *machine, struct cmtrace_log *log, struct pp_error *err)
{
	char dir[AGENT_PATH_MAX], path[AGENT_PATH_MAX + 300];
	struct dirent *de;
	DIR *d;
	int rc = 0;

	if (agent_state_path(machine, STAGING_DIR, dir, sizeof(dir), err) != 0)
		return -1;
	d = opendir(dir);
	if (d == NULL)
		return errno == ENOENT
			   ? 0
			   : (pp_error_set_errno(err, errno, "cannot read %s", dir), -1);
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		(void)snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (remove_tree(path, err) != 0) {
			rc = -1;
			continue;
		}
		agent_log(log, CMTRACE_WARNING,
			  "Removed %s, left over by an installation that was cut short", path);
	}
	(void)closedir(d);
	return rc;
}

/* ---- installing one update ---- */

/* What is known about a failed install, for updates.json and diagnose. */
struct failure {
	const char *phase;
	uint32_t hr;
	const char *detail;
	const struct trust_result *trust; /* PHASE_TRUST */
	const char *cab;		  /* the content, when it was downloaded */
	int exit_code;			  /* PHASE_INSTALL, -1 when none */
};

static void install_failed(struct cycle *c, const struct deployment *d, json_t *entry,
			   const struct update_meta *m, const struct failure *f,
			   struct agent_update_report *rep)
{
	struct authenticode_info info;
	struct pp_error e;
	char hr[HRESULT_TEXT_MAX];
	bool self_signed = false;
	json_t *rec;

	hresult_text(f->hr, hr);
	if (strcmp(f->phase, PHASE_DOWNLOAD) == 0 || strcmp(f->phase, PHASE_VERIFY) == 0 ||
	    strcmp(f->phase, PHASE_TRUST) == 0) {
		/* The line of a Windows client's WUAHandler.log, code in lower-case hex. */
		agent_log(wua_log(c), CMTRACE_ERROR,
			  "Failed to download updates to the WUAgent datastore. Error = 0x%08x",
			  (unsigned)f->hr);
		agent_log(wua_log(c), CMTRACE_ERROR, "Update %s: %s", d->update_id, f->detail);
	}
	agent_log(deployment_log(c), CMTRACE_ERROR,
		  "Installation of update %s (%s) failed: %s (%s %s)", d->update_id, m->title,
		  f->detail, hr, hresult_symbol(f->hr));
	memset(&info, 0, sizeof(info));
	pp_error_clear(&e);
	if (f->trust != NULL && f->cab != NULL &&
	    authenticode_read_cab_with(f->cab, 0, &info, &e) == 0 && info.signer != NULL)
		self_signed = pki_is_self_signed(info.signer);
	authenticode_info_release(&info);
	rec = json_pack("{s:I, s:I, s:s, s:s, s:s, s:s?, s:s?, s:b, s:s?, s:I}", "revision",
			(json_int_t)m->revision, "at", (json_int_t)c->now, "phase", f->phase,
			"hresult", hr, "detail", f->detail, "signer_subject",
			f->trust != NULL ? f->trust->signer_subject : NULL, "signer_thumbprint",
			f->trust != NULL ? f->trust->signer_thumbprint : NULL, "signer_self_signed",
			self_signed, "cab", f->cab, "exit_code", (json_int_t)f->exit_code);
	if (rec != NULL)
		(void)json_object_set_new(entry, "failure", rec);
	report_set(rep, "failed", true, f->hr, f->detail);
	queue_message(c, "install", d, m->revision, "failed", true, f->hr, f->detail);
}

static void install_succeeded(struct cycle *c, const struct deployment *d, json_t *entry,
			      const struct update_meta *m, const struct agent_handler_result *res,
			      const char *cab, struct agent_update_report *rep)
{
	json_t *scan = json_object_get(entry, "scan");

	(void)json_object_set_new(entry, "installed",
				  json_pack("{s:I, s:I, s:s}", "revision", (json_int_t)m->revision,
					    "at", (json_int_t)c->now, "state", res->state));
	(void)json_object_del(entry, "failure");
	if (json_is_object(scan))
		(void)json_object_set_new(scan, "state", json_string("installed"));
	/* Installed content is not needed again. */
	(void)unlink(cab);
	agent_log(deployment_log(c), CMTRACE_INFO, "Update %s (%s) is installed%s", d->update_id,
		  m->title,
		  strcmp(res->state, "pending_reboot") == 0 ? "; a restart is pending" : "");
	report_set(rep, res->state, false, 0, res->detail);
	queue_message(c, "install", d, m->revision, res->state, false, 0, res->detail);
}

/* Starts the installer output file afresh when it has grown past the log size. */
static void output_path(struct cycle *c, char *out, size_t size)
{
	char old[AGENT_PATH_MAX + 64];
	struct stat st;

	(void)snprintf(out, size, "%s/logs/" AGENT_HANDLER_OUTPUT, c->machine);
	if (stat(out, &st) == 0 && (uint64_t)st.st_size > CMTRACE_DEFAULT_MAX_SIZE) {
		(void)snprintf(old, sizeof(old), "%s/logs/UpdatesHandler.ou_", c->machine);
		(void)rename(out, old);
	}
}

/* Extracts the content into a fresh staging directory and runs the item's handler there. */
static int run_from_staging(struct cycle *c, const struct update_meta *m, const char *cab,
			    const struct sdp_command_line *cl, struct agent_handler_result *res,
			    const char **phase, struct pp_error *err)
{
	char dir[AGENT_PATH_MAX], staging[AGENT_PATH_MAX + 64], out[AGENT_PATH_MAX + 64];
	struct cab_reader *r = NULL;
	struct pp_error e;
	bool made = false;
	int rc = -1;

	*phase = PHASE_EXTRACT;
	if (agent_state_path(c->machine, STAGING_DIR, dir, sizeof(dir), err) != 0 ||
	    agent_state_make_dir(dir, 0700, err) != 0)
		goto out;
	(void)snprintf(staging, sizeof(staging), "%s/%s.XXXXXX", dir, m->update_id);
	if (mkdtemp(staging) == NULL) {
		pp_error_set_errno(err, errno, "cannot create a staging directory in %s", dir);
		goto out;
	}
	made = true;
	r = cab_reader_open(cab, err);
	if (r == NULL || cab_reader_extract(r, staging, NULL, NULL, err) != 0)
		goto out;
	*phase = PHASE_INSTALL;
	output_path(c, out, sizeof(out));
	if (agent_updates_run_handler(cl, staging, c->o != NULL ? c->o->install_timeout : 0, out,
				      handler_log(c), res, err) != 0)
		goto out;
	rc = 0;
out:
	cab_reader_free(r);
	pp_error_clear(&e);
	if (made && remove_tree(staging, &e) != 0)
		agent_log(handler_log(c), CMTRACE_WARNING, "%s", e.message);
	return rc;
}

static const struct sdp_item *find_item(const struct sdp_package *p, const char *id)
{
	size_t i;

	for (i = 0; id != NULL && i < p->item_count; i++)
		if (strcasecmp(p->items[i].id, id) == 0)
			return &p->items[i];
	return NULL;
}

static void install_one(struct cycle *c, const struct deployment *d, json_t *entry,
			const struct update_meta *m, const struct sdp_package *pkg,
			struct agent_update_report *rep)
{
	const struct sdp_item *item = find_item(
	    pkg, json_string_value(json_object_get(json_object_get(entry, "scan"), "item")));
	struct failure f = {PHASE_INSTALL, 0, NULL, NULL, NULL, -1};
	struct agent_handler_result res;
	struct trust_request req;
	struct trust_result tr;
	uint8_t sha1[20], sha256[32];
	char cab[AGENT_PATH_MAX + 64];
	struct pp_error e;

	pp_error_clear(&e);
	agent_log(deployment_log(c), CMTRACE_INFO, "Installing update %s (%s) of deployment %lld",
		  d->update_id, m->title, d->id);
	if (item == NULL || item->command_line == NULL) {
		pp_error_set(&e, HR_ERROR_NOT_SUPPORTED,
			     "the installable item of update %s has no command-line handler, the "
			     "only one this agent runs",
			     d->update_id);
		goto failed;
	}
	if (content_get(c, m, cab, sizeof(cab), &f.phase, &e) != 0)
		goto failed;
	f.cab = cab;
	hex_decode(m->sha1, sha1, sizeof(sha1));
	hex_decode(m->sha256, sha256, sizeof(sha256));
	memset(&req, 0, sizeof(req));
	req.machine = c->machine;
	req.policy = TRUST_POLICY_WSUS;
	req.expected_sha1 = sha1;
	req.expected_sha256 = sha256;
	if (trust_evaluate_cab(cab, &req, &tr) != HR_S_OK) {
		/* Bytes changed after signing never become good: not kept for a retry. */
		if (tr.hr == HR_TRUST_E_BAD_DIGEST && unlink(cab) == 0)
			agent_log(wua_log(c), CMTRACE_WARNING,
				  "Removed the cached content of update %s: it was changed after "
				  "it was signed",
				  d->update_id);
		f.phase = PHASE_TRUST;
		f.hr = tr.hr;
		f.detail = tr.detail;
		f.trust = &tr;
		install_failed(c, d, entry, m, &f, rep);
		return;
	}
	agent_log(wua_log(c), CMTRACE_INFO, "Content of update %s is trusted: %s", d->update_id,
		  tr.detail);
	if (run_from_staging(c, m, cab, item->command_line, &res, &f.phase, &e) != 0)
		goto failed;
	if (strcmp(res.state, "failed") == 0) {
		f.hr = res.hresult;
		f.detail = res.detail;
		f.exit_code = res.exit_code;
		install_failed(c, d, entry, m, &f, rep);
		return;
	}
	install_succeeded(c, d, entry, m, &res, cab, rep);
	return;
failed:
	f.hr = e.code != 0 ? e.code : HR_E_FAIL;
	f.detail = e.message;
	install_failed(c, d, entry, m, &f, rep);
}

static void format_utc(long long t, char *out, size_t size)
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (gmtime_r(&tt, &tm) == NULL || strftime(out, size, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		(void)snprintf(out, size, "%lld", t);
}

/* The evaluation of one deployed update: scan it when the last scan is missing or older than
 * the deployment's revision, then install it when it is required and available. */
static void evaluate_one(struct cycle *c, const struct deployment *d,
			 struct agent_update_report *rep)
{
	json_t *entry = state_entry(c, d->update_id);
	const json_t *scan = json_object_get(entry, "scan");
	struct sdp_package *pkg = NULL;
	struct update_meta m;
	struct pp_error e;
	char when[64];
	bool absent = true;
	int tries;

	pp_error_clear(&e);
	for (tries = 0; tries < 2; tries++) {
		if (!json_is_object(scan) || member_int(scan, "revision") < d->revision ||
		    tries > 0) {
			scan_one(c, d, rep);
			if (strcmp(rep->state, "failed") == 0)
				return;
			entry = state_entry(c, d->update_id);
			scan = json_object_get(entry, "scan");
		}
		if (!json_is_object(scan))
			return; /* no longer deployed */
		if (strcmp(member_text(scan, "state"), "required") != 0) {
			report_set(rep, state_literal(member_text(scan, "state")), false, 0,
				   "nothing to install");
			return;
		}
		if (d->available_at > c->now) {
			format_utc(d->available_at, when, sizeof(when));
			agent_log(deployment_log(c), CMTRACE_INFO,
				  "Update %s (%s) is required; its deployment %lld is available "
				  "from %s",
				  d->update_id, d->title, d->id, when);
			report_set(rep, "waiting", false, 0, when);
			rep->available_at = d->available_at;
			return;
		}
		pkg = meta_load(c->machine, d->update_id, member_int(scan, "revision"), &m, &absent,
				&e);
		if (pkg != NULL || !absent)
			break;
	}
	if (pkg == NULL) {
		if (e.code == 0)
			pp_error_set(&e, HR_ERROR_FILE_NOT_FOUND,
				     "the metadata of update %s is missing", d->update_id);
		agent_log(deployment_log(c), CMTRACE_ERROR, "Cannot install update %s (%s): %s",
			  d->update_id, d->title, e.message);
		report_set(rep, "failed", true, e.code, e.message);
		return;
	}
	copy_text(rep->title, sizeof(rep->title), m.title);
	install_one(c, d, entry, &m, pkg, rep);
	sdp_package_free(pkg);
}

/* One cycle: the same frame for the scan and the evaluation, step doing one update. */
static int cycle_run(const char *machine, const struct agent_updates_options *o,
		     struct agent_logs *logs, struct agent_updates_outcome *out, bool evaluation,
		     struct pp_error *err)
{
	const char *what = evaluation ? "deployment evaluation" : "scan", *source;
	void (*step)(struct cycle *, const struct deployment *, struct agent_update_report *) =
	    evaluation ? evaluate_one : scan_one;
	struct cmtrace_log *log;
	struct deployments deps;
	struct cycle c;
	size_t i;
	int rc = -1;

	if (cycle_begin(&c, machine, o, logs, out, &deps, err) != 0 ||
	    (evaluation && agent_updates_clean_staging(machine, handler_log(&c), err) != 0))
		goto out;
	log = evaluation ? deployment_log(&c) : scan_log(&c);
	if (!software_updates_enabled(&c, &source)) {
		agent_log(log, CMTRACE_INFO,
			  "Software updates are disabled by client setting \"%s\"; nothing is %s",
			  source, evaluation ? "installed" : "scanned");
		rc = 0;
		goto out;
	}
	agent_log(log, CMTRACE_INFO, "Software updates %s started: %zu deployed update(s)", what,
		  deps.n);
	for (i = 0; i < deps.n; i++) {
		if (o != NULL && o->stopping != NULL && *o->stopping)
			break;
		step(&c, &deps.v[i], report_new(&c, &deps.v[i]));
	}
	out->reports = c.reports;
	out->count = c.nreports;
	outcome_count(out);
	out->reports = NULL;
	agent_log(log, CMTRACE_INFO,
		  "Software updates %s finished: %zu update(s), %zu required, %zu failed", what,
		  c.nreports, out->required, out->failed);
	rc = 0;
out:
	return cycle_end(&c, rc, err);
}

int agent_updates_scan(const char *machine, const struct agent_updates_options *o,
		       struct agent_logs *logs, struct agent_updates_outcome *out,
		       struct pp_error *err)
{
	return cycle_run(machine, o, logs, out, false, err);
}

int agent_updates_evaluate(const char *machine, const struct agent_updates_options *o,
			   struct agent_logs *logs, struct agent_updates_outcome *out,
			   struct pp_error *err)
{
	return cycle_run(machine, o, logs, out, true, err);
}

/* ---- diagnose ---- */

/* Whether a certificate with this thumbprint is in a store now (either layer). */
static bool store_has(const char *machine, enum certstore_id id, const char *thumbprint)
{
	STACK_OF(X509) * found;
	struct pp_error e;
	char t[PKI_THUMBPRINT_LEN + 1];
	bool has = false;
	int i;

	pp_error_clear(&e);
	found = certstore_find(machine, id, CERTSTORE_LOGICAL, thumbprint, &e);
	for (i = 0; i < sk_X509_num(found) && !has; i++)
		has = pki_thumbprint(sk_X509_value(found, i), t) == 0 && strcmp(t, thumbprint) == 0;
	sk_X509_pop_free(found, X509_free);
	return has;
}

/* A growing paragraph, cut (never overflowing) at its size. */
struct text {
	char buf[4096];
	size_t len;
};

static void say(struct text *t, const char *fmt, ...) PP_PRINTF(2, 3);

static void say(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->len >= sizeof(t->buf) - 1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(t->buf + t->len, sizeof(t->buf) - t->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		t->len +=
		    (size_t)n < sizeof(t->buf) - t->len ? (size_t)n : sizeof(t->buf) - 1 - t->len;
}

/* The signer of the failed content and where it is now: "is in the Root store (...) but not
 * in the TrustedPublisher store (...)". */
static json_t *explain_signer(const char *machine, const json_t *f, struct text *t)
{
	const char *thumb = member_text(f, "signer_thumbprint");
	const char *subject = member_text(f, "signer_subject");
	bool self = json_is_true(json_object_get(f, "signer_self_signed"));
	bool root, tp;

	if (strlen(thumb) != PKI_THUMBPRINT_LEN)
		return json_null();
	root = store_has(machine, CERTSTORE_ROOT, thumb);
	tp = store_has(machine, CERTSTORE_TRUSTED_PUBLISHER, thumb);
	say(t, " The content is signed by %s (thumbprint %s), ", subject, thumb);
	if (self)
		say(t,
		    "a self-signed certificate that %s the Root store (%s) %s %s the %s store "
		    "(%s).",
		    root ? "is in" : "is not in", certstore_display_name(CERTSTORE_ROOT),
		    root == tp ? "and" : "but", tp ? "is in" : "not in",
		    certstore_name(CERTSTORE_TRUSTED_PUBLISHER),
		    certstore_display_name(CERTSTORE_TRUSTED_PUBLISHER));
	else
		say(t,
		    "a certificate issued by a CA, which %s the %s store (%s); its root must be in "
		    "the Root store (%s).",
		    tp ? "is in" : "is not in", certstore_name(CERTSTORE_TRUSTED_PUBLISHER),
		    certstore_display_name(CERTSTORE_TRUSTED_PUBLISHER),
		    certstore_display_name(CERTSTORE_ROOT));
	return json_pack("{s:s, s:s, s:b, s:b, s:b}", "subject", subject, "thumbprint", thumb,
			 "self_signed", self, "in_root", root, "in_trusted_publisher", tp);
}

static json_t *explain_policy_value(const char *machine, struct text *t)
{
	struct machinepolicy_value v;
	struct pp_error e;

	pp_error_clear(&e);
	if (machinepolicy_get(machine, MACHINEPOLICY_ACCEPT_TRUSTED_PUBLISHER_CERTS, &v, &e) != 0) {
		say(t, " The policy value AcceptTrustedPublisherCerts cannot be read: %s.",
		    e.message);
		return json_null();
	}
	if (!v.present) {
		say(t, " The policy value AcceptTrustedPublisherCerts is not set.");
		return json_null();
	}
	say(t, " The policy value AcceptTrustedPublisherCerts is %u, set by %s%s.",
	    (unsigned)v.value, v.source, v.value == 1 ? "" : " (it must be 1)");
	return json_pack("{s:I, s:s}", "value", (json_int_t)v.value, "source", v.source);
}

/* Which client setting decided third-party software updates, from the stored policy. */
static json_t *explain_third_party(const char *machine, struct text *t)
{
	struct agent_stored_policy sp = {0};
	struct agent_policy_doc *doc = NULL;
	struct pp_error e;
	bool present = false;
	json_t *j = json_null();

	pp_error_clear(&e);
	if (agent_state_load_policy(machine, &sp, &present, &e) != 0 || !present ||
	    (doc = agent_policy_parse(sp.policy, &e)) == NULL) {
		say(t, " No machine policy is stored, so no client setting has decided third-party "
		       "software updates yet.");
		goto out;
	}
	if (!doc->enabled)
		say(t,
		    " Third-party software updates are disabled by client setting \"%s\" (machine "
		    "policy %s), so the machine policy cycle neither installs the signing "
		    "certificate nor sets AcceptTrustedPublisherCerts.",
		    doc->source, doc->version);
	else if (!doc->client_version_ok)
		say(t,
		    " Third-party software updates are enabled by client setting \"%s\" (machine "
		    "policy %s), but this client's version %s is below the minimum %s, so the "
		    "site sends it no signing certificate.",
		    doc->source, doc->version, doc->client_version, doc->minimum_client_version);
	else
		say(t,
		    " Third-party software updates are enabled by client setting \"%s\" (machine "
		    "policy %s); the next machine policy cycle puts the signing certificate into "
		    "its stores and sets AcceptTrustedPublisherCerts.",
		    doc->source, doc->version);
	j = json_pack("{s:b, s:s, s:s, s:b, s:s, s:s}", "enabled", doc->enabled, "source",
		      doc->source, "policy_version", doc->version, "client_version_ok",
		      doc->client_version_ok, "client_version", doc->client_version,
		      "minimum_client_version", doc->minimum_client_version);
out:
	agent_policy_doc_free(doc);
	agent_stored_policy_free(&sp);
	return j;
}

static const char *phase_text(const char *phase)
{
	if (strcmp(phase, PHASE_DOWNLOAD) == 0)
		return "The content could not be downloaded";
	if (strcmp(phase, PHASE_VERIFY) == 0)
		return "The downloaded content does not match the update's metadata";
	if (strcmp(phase, PHASE_EXTRACT) == 0)
		return "The content could not be extracted";
	return "The installation failed";
}

/* One failure of updates.json as a report entry with its paragraph. */
static json_t *explain(const char *machine, const char *update_id, const json_t *entry,
		       const json_t *f)
{
	const char *phase = member_text(f, "phase"), *hr_text = member_text(f, "hresult");
	uint32_t hr = (uint32_t)strtoul(hr_text, NULL, 16);
	struct text t = {{0}, 0};
	json_t *signer = json_null(), *atpc = json_null(), *tp = json_null(), *j;
	char code[HRESULT_TEXT_MAX];

	hresult_text(hr, code);
	say(&t, "Update %s (%s), revision %lld: the last install failed with %s %s: %s", update_id,
	    member_text(entry, "title"), member_int(f, "revision"), code, hresult_symbol(hr),
	    hresult_message(hr));
	if (strcmp(phase, PHASE_TRUST) == 0 && hr == HR_TRUST_E_BAD_DIGEST) {
		/* The certificates are not the cause: the bytes are. */
		say(&t,
		    " The content was changed after it was signed (%s), so no certificate store "
		    "or policy value on this machine can make it install: the copy the site "
		    "served is not what was published. Check the site's content directory and "
		    "publish the update again from its source; this agent removed its cached "
		    "copy and downloads the content again next time.",
		    member_text(f, "detail"));
	} else if (strcmp(phase, PHASE_TRUST) == 0) {
		json_decref(signer);
		signer = explain_signer(machine, f, &t);
		if (json_is_null(signer))
			say(&t, " The trust check said: %s.", member_text(f, "detail"));
		json_decref(atpc);
		atpc = explain_policy_value(machine, &t);
		json_decref(tp);
		tp = explain_third_party(machine, &t);
	} else {
		say(&t, " %s: %s.", phase_text(phase), member_text(f, "detail"));
	}
	j = json_pack("{s:s, s:s, s:I, s:I, s:I, s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:s}",
		      "update_id", update_id, "title", member_text(entry, "title"), "revision",
		      (json_int_t)member_int(f, "revision"), "deployment_id",
		      (json_int_t)member_int(entry, "deployment_id"), "time",
		      (json_int_t)member_int(f, "at"), "hresult", code, "symbol",
		      hresult_symbol(hr), "message", hresult_message(hr), "phase", phase, "detail",
		      member_text(f, "detail"), "signer", signer, "accept_trusted_publisher_certs",
		      atpc, "third_party", tp, "explanation", t.buf);
	return j;
}

static int by_time(const void *a, const void *b)
{
	long long x = member_int(*(json_t *const *)a, "time");
	long long y = member_int(*(json_t *const *)b, "time");

	return x < y ? -1 : x > y;
}

int agent_updates_diagnose(const char *machine, json_t **report, struct pp_error *err)
{
	char path[AGENT_PATH_MAX];
	json_t *doc = NULL, *updates, *entry, *list = NULL, **found = NULL, *f;
	const char *uid;
	size_t n = 0, i;
	int rc = -1;

	*report = NULL;
	if (agent_state_path(machine, UPDATES_FILE, path, sizeof(path), err) != 0 ||
	    agent_state_read_object(path, AGENT_STATE_LARGE_MAX, UPDATES_AGAIN, &doc, err) != 0)
		goto out;
	updates = json_object_get(doc, "updates");
	list = json_array();
	found = calloc(json_object_size(updates) + 1, sizeof(json_t *));
	if (list == NULL || found == NULL)
		goto oom;
	json_object_foreach(updates, uid, entry)
	{
		f = json_object_get(entry, "failure");
		if (!json_is_object(f))
			continue;
		found[n] = explain(machine, uid, entry, f);
		if (found[n++] == NULL)
			goto oom;
	}
	/* The oldest failure first. */
	qsort(found, n, sizeof(json_t *), by_time);
	for (i = 0; i < n; i++) {
		if (json_array_append_new(list, found[i]) != 0)
			goto oom;
		found[i] = NULL;
	}
	*report = json_pack("{s:O}", "failures", list);
	if (*report == NULL)
		goto oom;
	rc = 0;
	goto out;
oom:
	pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory explaining the failures");
out:
	for (i = 0; found != NULL && i < n; i++)
		json_decref(found[i]);
	free(found);
	json_decref(list);
	json_decref(doc);
	return rc;
}
