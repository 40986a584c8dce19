/* agent_ci_cycle.c - the Configuration Baseline Evaluation cycle, its state files and its
 * report queue (see agent_ci.h).
 *
 * The queue is the state message queue's design (agent_queue.h) for another kind of message:
 * one file per report, written whole with a random id, removed only once the site has taken
 * it; names sort in the order the reports were made. A report is checked when it is read back,
 * so that one damaged file is set aside instead of stopping the others. */
#include "agent_ci.h"

#include "atomicfile.h"
#include "hresult.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DOC_FILE       "baselines.json"
#define STATE_FILE     "ci-state.json"
#define QUEUE_DIR      "ci-queue"
#define QUEUE_NAME_MAX 64
#define QUEUE_FILE_MAX (1u << 20)
#define QUEUE_LIST_MAX 10000
#define DOC_HINT       "remove it; the next evaluation asks the site for the whole document"
#define STATE_HINT     "remove it; every baseline is then evaluated at the next cycle"
#define QUEUE_HINT     "it is set aside"
#define HOUR_SECS      3600LL

/* ---- small things ---- */

static void format_time(long long t, char *out, size_t size)
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (t <= 0 || gmtime_r(&tt, &tm) == NULL) {
		(void)snprintf(out, size, "-");
		return;
	}
	(void)strftime(out, size, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

static json_t *report_json(const struct agent_ci_report *r)
{
	json_t *results = json_array(), *doc;
	char hr[11];

	for (size_t i = 0; results != NULL && i < r->count; i++) {
		const struct agent_ci_result *x = &r->results[i];

		(void)snprintf(hr, sizeof(hr), "0x%08X", (unsigned)x->hresult);
		if (json_array_append_new(
			results,
			json_pack(
			    "{s:I, s:I, s:s, s:o, s:o, s:o}", "item_id", (json_int_t)x->item_id,
			    "item_revision", (json_int_t)x->revision, "state",
			    configitem_state_name(x->state), "hresult",
			    x->has_hresult ? json_string(hr) : json_null(), "exit_code",
			    x->has_exit_code ? json_integer(x->exit_code) : json_null(), "detail",
			    x->detail[0] != '\0' ? json_string(x->detail) : json_null())) != 0) {
			json_decref(results);
			return NULL;
		}
	}
	doc = json_pack("{s:s, s:I, s:I, s:I, s:o}", "id", r->id, "time", (json_int_t)r->time,
			"baseline_id", (json_int_t)r->baseline_id, "baseline_revision",
			(json_int_t)r->revision, "results", results);
	return doc;
}

/* The site's check of a report, field by field; NULL when it is good. */
static const char *report_problem(const json_t *v)
{
	const json_t *results = json_object_get(v, "results"), *x;
	const char *id = json_string_value(json_object_get(v, "id"));
	struct pp_error ignored;
	enum configitem_state st;
	size_t i;

	pp_error_clear(&ignored);
	if (!json_is_object(v))
		return "the report";
	if (id == NULL || strlen(id) != AGENT_UUID_LEN)
		return "id";
	if (!json_is_integer(json_object_get(v, "time")) ||
	    json_integer_value(json_object_get(v, "time")) <= 0)
		return "time";
	if (!json_is_integer(json_object_get(v, "baseline_id")) ||
	    json_integer_value(json_object_get(v, "baseline_id")) < 1)
		return "baseline_id";
	if (!json_is_integer(json_object_get(v, "baseline_revision")) ||
	    json_integer_value(json_object_get(v, "baseline_revision")) < 1)
		return "baseline_revision";
	if (!json_is_array(results) || json_array_size(results) > CONFIGITEM_BASELINE_ITEMS_MAX)
		return "results";
	json_array_foreach(results, i, x)
	{
		const json_t *d = json_object_get(x, "detail");

		if (!json_is_integer(json_object_get(x, "item_id")) ||
		    !json_is_integer(json_object_get(x, "item_revision")) ||
		    configitem_state_parse(json_string_value(json_object_get(x, "state")), &st,
					   &ignored) != 0 ||
		    (!json_is_null(d) &&
		     (!json_is_string(d) || json_string_length(d) > CONFIGITEM_DETAIL_MAX)))
			return "results";
	}
	return NULL;
}

/* ---- the queue ---- */

static int queue_dir(const char *machine, char *out, size_t size, struct pp_error *err)
{
	return agent_state_path(machine, QUEUE_DIR, out, size, err);
}

int agent_ci_queue_add(const char *machine, struct agent_ci_report *r, struct pp_error *err)
{
	char dir[AGENT_PATH_MAX], path[AGENT_PATH_MAX + QUEUE_NAME_MAX];
	struct timespec ts;
	json_t *doc = NULL;
	int rc = -1;

	if (queue_dir(machine, dir, sizeof(dir), err) != 0 ||
	    agent_state_prepare(machine, err) != 0 || agent_state_make_dir(dir, 0700, err) != 0 ||
	    agent_state_uuid(r->id, err) != 0)
		goto out;
	doc = report_json(r);
	if (doc == NULL || report_problem(doc) != NULL) {
		pp_error_set(err, HR_E_INVALIDARG,
			     "the report of baseline \"%s\" cannot be written", r->name);
		goto out;
	}
	(void)clock_gettime(CLOCK_REALTIME, &ts);
	(void)snprintf(path, sizeof(path), "%s/%019lld-%s.json", dir,
		       (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec, r->id);
	if (agent_state_write_object(path, doc, 0600, err) != 0)
		goto out;
	rc = 0;
out:
	json_decref(doc);
	return rc;
}

static bool queue_name(const char *name)
{
	size_t len = strlen(name);

	return len == 19 + 1 + AGENT_UUID_LEN + 5 && strspn(name, "0123456789") == 19 &&
	       name[19] == '-' && strcmp(name + len - 5, ".json") == 0;
}

struct queued {
	char name[QUEUE_NAME_MAX];
	json_t *report;
};

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct queued *)a)->name, ((const struct queued *)b)->name);
}

static void queued_free(struct queued *q, size_t n)
{
	for (size_t i = 0; q != NULL && i < n; i++)
		json_decref(q[i].report);
	free(q);
}

/* The queued reports in sending order; damaged files are renamed *.damaged and logged. */
static int queue_list(const char *machine, struct cmtrace_log *log, struct queued **out,
		      size_t *count, struct pp_error *err)
{
	char dir[AGENT_PATH_MAX], path[AGENT_PATH_MAX + QUEUE_NAME_MAX + 16];
	char aside[AGENT_PATH_MAX + QUEUE_NAME_MAX + 32];
	struct queued *items = NULL, *grown;
	struct pp_error e;
	struct dirent *de;
	size_t n = 0, cap = 0;
	json_t *doc;
	DIR *d = NULL;
	int rc = -1;

	*out = NULL;
	*count = 0;
	if (queue_dir(machine, dir, sizeof(dir), err) != 0)
		return -1;
	d = opendir(dir);
	if (d == NULL) {
		if (errno == ENOENT)
			return 0;
		pp_error_set_errno(err, errno, "cannot read the report queue %s", dir);
		return -1;
	}
	while ((de = readdir(d)) != NULL && n < QUEUE_LIST_MAX) {
		if (!queue_name(de->d_name))
			continue;
		/* queue_name() held the name to 60 bytes: nothing is cut. */
		agent_text_format(path, sizeof(path), "%s/%s", dir, de->d_name);
		pp_error_clear(&e);
		doc = NULL;
		if (agent_state_read_object(path, QUEUE_FILE_MAX, QUEUE_HINT, &doc, &e) != 0 ||
		    doc == NULL || report_problem(doc) != NULL) {
			if (doc == NULL && e.code == 0)
				continue; /* sent and removed meanwhile */
			json_decref(doc);
			(void)snprintf(aside, sizeof(aside), "%s.damaged", path);
			(void)rename(path, aside);
			agent_log(log, CMTRACE_WARNING, "Set aside the damaged baseline report %s",
				  de->d_name);
			continue;
		}
		if (n == cap) {
			cap = cap == 0 ? 16 : cap * 2;
			grown = realloc(items, cap * sizeof(*items));
			if (grown == NULL) {
				json_decref(doc);
				pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory reading %s",
					     dir);
				goto out;
			}
			items = grown;
		}
		agent_text_format(items[n].name, sizeof(items[n].name), "%s", de->d_name);
		items[n++].report = doc;
	}
	if (n > 1)
		qsort(items, n, sizeof(*items), by_name);
	*out = items;
	*count = n;
	items = NULL;
	n = 0;
	rc = 0;
out:
	queued_free(items, n);
	(void)closedir(d);
	return rc;
}

int agent_ci_queue_count(const char *machine, size_t *count, struct pp_error *err)
{
	struct queued *items = NULL;
	int rc = queue_list(machine, NULL, &items, count, err);

	queued_free(items, *count);
	return rc;
}

/* Sends items [first, first + n); removes them once the site took them all. */
static int send_batch(const char *machine, struct agent_http *h, struct cmtrace_log *log,
		      struct queued *items, size_t first, size_t n,
		      struct agent_ci_flush_result *res, struct pp_error *err)
{
	struct agent_http_response resp = {0};
	char dir[AGENT_PATH_MAX], path[AGENT_PATH_MAX + QUEUE_NAME_MAX + 16];
	char aside[AGENT_PATH_MAX + QUEUE_NAME_MAX + 32];
	json_t *list = json_array(), *body = NULL;
	json_int_t accepted, dups, ignored;
	size_t i, bad;
	int rc = -1;

	for (i = 0; list != NULL && i < n; i++)
		if (json_array_append(list, items[first + i].report) != 0)
			break;
	body = list != NULL && i == n ? json_pack("{s:O}", "reports", list) : NULL;
	if (body == NULL || queue_dir(machine, dir, sizeof(dir), err) != 0) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory sending baseline reports");
		goto out;
	}
	if (agent_http_request(h, "POST", AGENT_CI_REPORTS_PATH, body, NULL, &resp, err) != 0) {
		if (resp.status == 400 && sscanf(err->message, "report %zu:", &bad) == 1 &&
		    bad < n) {
			(void)snprintf(path, sizeof(path), "%s/%s", dir, items[first + bad].name);
			(void)snprintf(aside, sizeof(aside), "%s.rejected", path);
			(void)rename(path, aside);
			agent_log(log, CMTRACE_ERROR, "The site rejected baseline report %s: %s",
				  items[first + bad].name, err->message);
		}
		goto out;
	}
	accepted = json_integer_value(json_object_get(resp.json, "accepted"));
	dups = json_integer_value(json_object_get(resp.json, "duplicates"));
	ignored = json_integer_value(json_object_get(resp.json, "ignored"));
	if (accepted < 0 || dups < 0 || ignored < 0 || (size_t)(accepted + dups + ignored) != n) {
		pp_error_set(err, HR_E_FAIL,
			     "the site took %lld of %zu baseline reports; they stay queued",
			     (long long)(accepted + dups + ignored), n);
		goto out;
	}
	for (i = 0; i < n; i++) {
		(void)snprintf(path, sizeof(path), "%s/%s", dir, items[first + i].name);
		if (unlink(path) != 0 && errno != ENOENT) {
			pp_error_set_errno(err, errno, "cannot remove %s", path);
			goto out;
		}
	}
	res->sent += n;
	res->accepted += (size_t)accepted;
	rc = 0;
out:
	json_decref(list);
	json_decref(body);
	agent_http_response_free(&resp);
	return rc;
}

int agent_ci_flush(const char *machine, struct agent_http *h, struct cmtrace_log *log,
		   struct agent_ci_flush_result *res, struct pp_error *err)
{
	struct queued *items = NULL;
	char dir[AGENT_PATH_MAX];
	size_t count = 0, first, n;
	int rc = -1;

	memset(res, 0, sizeof(*res));
	if (queue_list(machine, log, &items, &count, err) != 0)
		goto out;
	for (first = 0; first < count; first += n) {
		n = count - first < AGENT_CI_REPORT_BATCH ? count - first : AGENT_CI_REPORT_BATCH;
		if (send_batch(machine, h, log, items, first, n, res, err) != 0)
			break;
	}
	res->left = count - res->sent;
	if (res->sent > 0) {
		if (queue_dir(machine, dir, sizeof(dir), err) != 0 ||
		    atomicfile_sync_dir(dir, err) != 0)
			goto out;
		agent_log(log, CMTRACE_INFO,
			  "Sent %zu configuration baseline report(s) to %s (%zu accepted)",
			  res->sent, agent_http_server(h), res->accepted);
	}
	if (res->left > 0) {
		agent_log(log, CMTRACE_WARNING,
			  "%zu configuration baseline report(s) stay queued: %s", res->left,
			  err->message);
		goto out;
	}
	rc = 0;
out:
	queued_free(items, count);
	return rc;
}

/* ---- state files ---- */

/* baselines.json: {"document": ..., "etag": "...", "received_at": n}. */
static int load_doc(const char *machine, json_t **doc, char etag[AGENT_ETAG_MAX + 1],
		    long long *received_at, struct pp_error *err)
{
	char path[AGENT_PATH_MAX];
	json_t *f = NULL;
	const char *e;

	*doc = NULL;
	etag[0] = '\0';
	*received_at = 0;
	if (agent_state_path(machine, DOC_FILE, path, sizeof(path), err) != 0 ||
	    agent_state_read_object(path, AGENT_STATE_LARGE_MAX, DOC_HINT, &f, err) != 0)
		return -1;
	if (f == NULL)
		return 0;
	e = json_string_value(json_object_get(f, "etag"));
	if (e != NULL && strlen(e) <= AGENT_ETAG_MAX)
		(void)snprintf(etag, AGENT_ETAG_MAX + 1, "%s", e);
	*received_at = (long long)json_integer_value(json_object_get(f, "received_at"));
	*doc = json_incref(json_object_get(f, "document"));
	json_decref(f);
	return 0;
}

static int save_doc(const char *machine, const json_t *doc, const char *etag, long long now,
		    struct pp_error *err)
{
	char path[AGENT_PATH_MAX];
	json_t *f = json_pack("{s:O, s:s, s:I}", "document", doc, "etag", etag, "received_at",
			      (json_int_t)now);
	int rc;

	if (f == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
		return -1;
	}
	rc = agent_state_path(machine, DOC_FILE, path, sizeof(path), err) != 0
		 ? -1
		 : agent_state_write_object(path, f, 0600, err);
	json_decref(f);
	return rc;
}

/* ci-state.json: {"baselines": [{"id", "name", "revision", "fingerprint", "evaluated_at",
 * "job", "state", "counts": {...}}]}; *state is an array (owned). */
static int load_state(const char *machine, json_t **state, struct pp_error *err)
{
	char path[AGENT_PATH_MAX];
	json_t *f = NULL, *arr;

	*state = NULL;
	if (agent_state_path(machine, STATE_FILE, path, sizeof(path), err) != 0 ||
	    agent_state_read_object(path, AGENT_STATE_FILE_MAX, STATE_HINT, &f, err) != 0)
		return -1;
	arr = json_object_get(f, "baselines");
	*state = json_is_array(arr) ? json_incref(arr) : json_array();
	json_decref(f);
	if (*state == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
		return -1;
	}
	return 0;
}

static json_t *state_entry(const json_t *state, int64_t id)
{
	size_t i;
	json_t *e;

	json_array_foreach(state, i, e)
	{
		if (json_integer_value(json_object_get(e, "id")) == id)
			return e;
	}
	return NULL;
}

static json_t *entry_of(const struct agent_ci_baseline *b, const struct agent_ci_report *r)
{
	json_t *counts = json_object();

	for (int k = 0; counts != NULL && k < CONFIGITEM_UNKNOWN; k++)
		(void)json_object_set_new(counts, configitem_state_name((enum configitem_state)k),
					  json_integer((json_int_t)r->counts[k]));
	return json_pack("{s:I, s:s, s:I, s:s, s:I, s:s, s:s, s:o}", "id", (json_int_t)b->id,
			 "name", b->name, "revision", (json_int_t)b->revision, "fingerprint",
			 b->fingerprint, "evaluated_at", (json_int_t)r->time, "job", r->job,
			 "state", configitem_state_name(r->state), "counts", counts);
}

static int save_state(const char *machine, json_t *state, struct pp_error *err)
{
	char path[AGENT_PATH_MAX];
	json_t *f = json_pack("{s:O}", "baselines", state);
	int rc;

	if (f == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
		return -1;
	}
	rc = agent_state_path(machine, STATE_FILE, path, sizeof(path), err) != 0
		 ? -1
		 : agent_state_write_object(path, f, 0644, err);
	json_decref(f);
	return rc;
}

/* ---- the cycle ---- */

void agent_ci_outcome_free(struct agent_ci_outcome *o)
{
	if (o == NULL)
		return;
	for (size_t i = 0; i < o->count; i++)
		agent_ci_report_free(&o->reports[i]);
	free(o->reports);
	memset(o, 0, sizeof(*o));
}

/* The baselines document: from the site (kept), the stored one on a 304, or the stored one when
 * the site does not answer (*offline). The caller frees *doc. */
static int fetch_doc(const char *machine, const struct agent_ci_options *o, struct cmtrace_log *log,
		     struct agent_ci_doc **doc, bool *offline, struct pp_error *err)
{
	struct agent_http_response resp = {0};
	struct agent_identity id;
	struct agent_http *http = NULL;
	struct pp_error stored_err, net_err;
	json_t *stored = NULL;
	char etag[AGENT_ETAG_MAX + 1], when[32];
	long long received_at = 0, now = (long long)time(NULL);
	const json_t *use;
	int rc = -1;

	*doc = NULL;
	*offline = false;
	pp_error_clear(&stored_err);
	pp_error_clear(&net_err);
	if (agent_state_require_identity(machine, &id, err) != 0)
		return -1;
	if (load_doc(machine, &stored, etag, &received_at, &stored_err) != 0) {
		agent_log(log, CMTRACE_WARNING, "Ignoring the stored baselines document: %s",
			  stored_err.message);
		stored = NULL;
		etag[0] = '\0';
	}
	http = agent_http_new(id.server,
			      o != NULL && o->ca_bundle != NULL && o->ca_bundle[0] != '\0'
				  ? o->ca_bundle
				  : id.ca_bundle,
			      err);
	if (http == NULL || agent_http_set_credential(http, id.credential, err) != 0)
		goto out;
	if (agent_http_request(http, "GET", AGENT_CI_BASELINES_PATH, NULL,
			       stored != NULL ? etag : NULL, &resp, &net_err) != 0) {
		/* No answer, or the site failing: what was received last is still deployed. */
		if (stored == NULL || (resp.status != 0 && resp.status < 500)) {
			pp_error_set(err, net_err.code, "%s", net_err.message);
			goto out;
		}
		format_time(received_at, when, sizeof(when));
		agent_log(log, CMTRACE_WARNING,
			  "Cannot refresh the configuration baselines (%s); evaluating the ones "
			  "received at %s",
			  net_err.message, when);
		*offline = true;
		use = stored;
	} else if (resp.status == 304) {
		if (stored == NULL) {
			pp_error_set(err, HR_E_FAIL, "%s answered 304 to a request without an ETag",
				     id.server);
			goto out;
		}
		use = stored;
	} else {
		use = resp.json;
	}
	*doc = agent_ci_parse(use, err);
	if (*doc == NULL)
		goto out;
	if (use == resp.json &&
	    save_doc(machine, resp.json, resp.etag[0] != '\0' ? resp.etag : "", now, err) != 0)
		goto out;
	rc = 0;
out:
	if (rc != 0)
		agent_log(log, CMTRACE_ERROR, "Cannot get the configuration baselines: %s",
			  err->message);
	json_decref(stored);
	agent_http_response_free(&resp);
	agent_http_free(http);
	agent_identity_wipe(&id);
	return rc;
}

static bool due(const struct agent_ci_baseline *b, const json_t *entry,
		const struct agent_ci_options *o, long long now, long long *next)
{
	long long interval = o != NULL && o->schedule_seconds > 0 ? (long long)o->schedule_seconds
								  : b->schedule_hours * HOUR_SECS;
	long long last = (long long)json_integer_value(json_object_get(entry, "evaluated_at"));
	const char *fp = json_string_value(json_object_get(entry, "fingerprint"));

	*next = last + interval;
	if ((o != NULL && o->force) || entry == NULL || fp == NULL ||
	    strcmp(fp, b->fingerprint) != 0)
		return true;
	return now >= last + interval;
}

int agent_ci_cycle(const char *machine, const struct agent_ci_options *o, struct agent_logs *logs,
		   struct agent_ci_outcome *out, struct pp_error *err)
{
	struct cmtrace_log *log = logs != NULL ? logs->ci : NULL;
	struct agent_ci_doc *doc = NULL;
	json_t *state = NULL, *next_state = NULL, *entry;
	long long now = (long long)time(NULL), next;
	struct pp_error qerr;
	char when[32];
	size_t i;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	pp_error_clear(&qerr);
	if (fetch_doc(machine, o, log, &doc, &out->offline, err) != 0)
		goto out;
	if (load_state(machine, &state, err) != 0)
		goto out;
	memcpy(out->version, doc->version, sizeof(out->version));
	out->deployed = doc->count;
	out->reports = calloc(doc->count + 1, sizeof(*out->reports));
	next_state = json_array();
	if (out->reports == NULL || next_state == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
		goto out;
	}
	if (doc->count == 0)
		agent_log(log, CMTRACE_INFO,
			  "No configuration baseline is deployed to this device");
	else
		agent_log(log, CMTRACE_INFO,
			  "%zu configuration baseline(s) deployed to this device (document version "
			  "%s)",
			  doc->count, doc->version);
	json_array_foreach(state, i, entry)
	{
		int64_t id = json_integer_value(json_object_get(entry, "id"));
		bool still = false;

		for (size_t k = 0; k < doc->count && !still; k++)
			still = doc->baselines[k].id == id;
		if (!still)
			agent_log(log, CMTRACE_INFO,
				  "Baseline \"%s\" (id %lld) is no longer deployed to this device",
				  json_string_value(json_object_get(entry, "name")) != NULL
				      ? json_string_value(json_object_get(entry, "name"))
				      : "?",
				  (long long)id);
	}
	for (i = 0; i < doc->count; i++) {
		const struct agent_ci_baseline *b = &doc->baselines[i];
		struct agent_ci_report *r = &out->reports[out->count];

		entry = state_entry(state, b->id);
		if (!due(b, entry, o, now, &next)) {
			format_time(next, when, sizeof(when));
			agent_log(log, CMTRACE_INFO,
				  "Baseline \"%s\" (revision %lld) was evaluated already; next "
				  "evaluation at %s",
				  b->name, (long long)b->revision, when);
			(void)json_array_append(next_state, entry);
			continue;
		}
		if (agent_ci_evaluate(machine, b, log, r, err) != 0)
			goto out;
		out->count++;
		out->remediated += r->counts[CONFIGITEM_REMEDIATED];
		if (agent_ci_queue_add(machine, r, &qerr) != 0) {
			/* Not recorded as evaluated: evaluated again at the next cycle. */
			agent_log(log, CMTRACE_ERROR, "CIAgentJob(%s): cannot queue the report: %s",
				  r->job, qerr.message);
			if (entry != NULL)
				(void)json_array_append(next_state, entry);
			continue;
		}
		agent_log(log, CMTRACE_INFO,
			  "CIAgentJob(%s): queued the compliance report of baseline \"%s\" for the "
			  "site",
			  r->job, b->name);
		if (json_array_append_new(next_state, entry_of(b, r)) != 0) {
			pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
			goto out;
		}
	}
	if (save_state(machine, next_state, err) != 0)
		goto out;
	if (qerr.code != 0) {
		pp_error_set(err, qerr.code, "%s", qerr.message);
		goto out;
	}
	rc = 0;
out:
	agent_ci_doc_free(doc);
	json_decref(state);
	json_decref(next_state);
	return rc;
}

/* ---- status and output ---- */

int agent_ci_status(const char *machine, json_t **out, struct pp_error *err)
{
	json_t *state = NULL;
	size_t queued = 0;

	*out = NULL;
	if (load_state(machine, &state, err) != 0 ||
	    agent_ci_queue_count(machine, &queued, err) != 0) {
		json_decref(state);
		return -1;
	}
	*out = json_pack("{s:o, s:I}", "baselines", state, "queued_reports", (json_int_t)queued);
	if (*out == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
		return -1;
	}
	return 0;
}

static const char *state_label(const char *name)
{
	enum configitem_state st;
	struct pp_error ignored;

	pp_error_clear(&ignored);
	return configitem_state_parse(name, &st, &ignored) == 0 ? configitem_state_label(st)
								: "Unknown";
}

void agent_ci_print_status(const json_t *status)
{
	const json_t *arr = json_object_get(status, "baselines"), *e, *c;
	long long queued = (long long)json_integer_value(json_object_get(status, "queued_reports"));
	char when[32];
	size_t i;

	printf("Configuration baselines:%s\n", json_array_size(arr) == 0 ? " none evaluated" : "");
	json_array_foreach(arr, i, e)
	{
		c = json_object_get(e, "counts");
		format_time((long long)json_integer_value(json_object_get(e, "evaluated_at")), when,
			    sizeof(when));
		printf("  \"%s\" revision %lld: %s, evaluated %s (%lld compliant, %lld "
		       "non-compliant, %lld remediated, %lld in error)\n",
		       json_string_value(json_object_get(e, "name")),
		       (long long)json_integer_value(json_object_get(e, "revision")),
		       state_label(json_string_value(json_object_get(e, "state"))), when,
		       (long long)json_integer_value(json_object_get(c, "compliant")),
		       (long long)json_integer_value(json_object_get(c, "non_compliant")),
		       (long long)json_integer_value(json_object_get(c, "remediated")),
		       (long long)json_integer_value(json_object_get(c, "error")));
	}
	printf("Baseline reports queued: %lld%s\n", queued,
	       queued > 0 ? " (sent at the next contact with the server)" : "");
}

void agent_ci_print_outcome(const struct agent_ci_outcome *o)
{
	if (o->offline)
		printf("The site could not be reached: the baselines received last were "
		       "evaluated\n");
	if (o->deployed == 0)
		printf("No configuration baseline is deployed to this device\n");
	for (size_t i = 0; i < o->count; i++) {
		const struct agent_ci_report *r = &o->reports[i];

		printf("Configuration baseline \"%s\" (revision %lld) is %s\n", r->name,
		       (long long)r->revision, configitem_state_label(r->state));
		for (size_t k = 0; k < r->count; k++) {
			const struct agent_ci_result *x = &r->results[k];
			char code[32] = "";

			if (x->has_hresult)
				(void)snprintf(code, sizeof(code), " (0x%08X)",
					       (unsigned)x->hresult);
			else if (x->has_exit_code)
				(void)snprintf(code, sizeof(code), " (exit code %d)", x->exit_code);
			printf("    %s: %s: %s%s\n", x->name, configitem_state_label(x->state),
			       x->detail, code);
		}
	}
}
