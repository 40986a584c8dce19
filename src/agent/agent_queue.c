/* agent_queue.c - the state message queue (see agent_queue.h).
 *
 * A message is checked as the server checks it (device_api.c parse_message) both when it is
 * queued and when it is read back, so that one damaged or foreign file is set aside instead of
 * making every batch it is part of fail. */
#include "agent_queue.h"

#include "atomicfile.h"
#include "hresult.h"

#include <dirent.h>
#include <fcntl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define QUEUE_DIR	      "queue"
#define QUEUE_FILE_MAX	      (64u << 10)
#define QUEUE_STALE_TEMP_SECS 60
#define QUEUE_LIST_MAX	      100000 /* messages read in one listing */
#define QUEUE_HINT	      "it is set aside"

static const char *const topics[] = {"scan", "install", NULL};
static const char *const states[] = {"required", "not_required",   "installed",
				     "failed",	 "pending_reboot", NULL};

static bool in_list(const char *s, const char *const *list)
{
	size_t i;

	for (i = 0; s != NULL && list[i] != NULL; i++)
		if (strcmp(s, list[i]) == 0)
			return true;
	return false;
}

static bool uuid_valid(const char *s)
{
	size_t i;

	if (s == NULL || strlen(s) != AGENT_UUID_LEN)
		return false;
	for (i = 0; i < AGENT_UUID_LEN; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? s[i] != '-' : strchr("0123456789abcdefABCDEF", s[i]) == NULL)
			return false;
	}
	return true;
}

/* The message check of the server, field by field; NULL when the message is good. */
static const char *message_problem(const json_t *v)
{
	const json_t *hr = json_object_get(v, "hresult"), *detail = json_object_get(v, "detail");
	const json_t *t = json_object_get(v, "time"), *rev = json_object_get(v, "revision");
	const json_t *dep = json_object_get(v, "deployment_id");
	const char *h;

	if (!json_is_object(v))
		return "the message";
	if (!uuid_valid(json_string_value(json_object_get(v, "id"))))
		return "id";
	if (!json_is_integer(t) || json_integer_value(t) <= 0)
		return "time";
	if (!in_list(json_string_value(json_object_get(v, "topic")), topics))
		return "topic";
	if (!uuid_valid(json_string_value(json_object_get(v, "update_id"))))
		return "update_id";
	if (!json_is_integer(rev) || json_integer_value(rev) < 1)
		return "revision";
	if (!json_is_null(dep) && !json_is_integer(dep))
		return "deployment_id";
	if (!in_list(json_string_value(json_object_get(v, "state")), states))
		return "state";
	h = json_string_value(hr);
	if (!json_is_null(hr) && (h == NULL || strlen(h) != 10 || strncasecmp(h, "0x", 2) != 0 ||
				  strspn(h + 2, "0123456789abcdefABCDEF") != 8))
		return "hresult";
	if (!json_is_null(detail) &&
	    (!json_is_string(detail) || json_string_length(detail) > AGENT_QUEUE_DETAIL_MAX))
		return "detail";
	return NULL;
}

static int queue_dir(const char *machine, char *out, size_t size, struct pp_error *err)
{
	return agent_state_path(machine, QUEUE_DIR, out, size, err);
}

int agent_queue_add(const char *machine, struct agent_state_message *m, struct pp_error *err)
{
	char dir[AGENT_PATH_MAX], path[AGENT_PATH_MAX + AGENT_QUEUE_NAME_MAX], hr[11];
	const char *problem;
	struct timespec ts;
	json_t *doc = NULL;
	int rc = -1;

	if (queue_dir(machine, dir, sizeof(dir), err) != 0 ||
	    agent_state_prepare(machine, err) != 0 || agent_state_make_dir(dir, 0700, err) != 0 ||
	    agent_state_uuid(m->id, err) != 0)
		goto out;
	(void)clock_gettime(CLOCK_REALTIME, &ts);
	if (m->time <= 0)
		m->time = (long long)ts.tv_sec;
	agent_text_cut(m->detail, AGENT_QUEUE_DETAIL_MAX);
	(void)snprintf(hr, sizeof(hr), "0x%08X", (unsigned)m->hresult);
	doc =
	    json_pack("{s:s, s:I, s:s?, s:s, s:I, s:o, s:s?, s:o, s:o}", "id", m->id, "time",
		      (json_int_t)m->time, "topic", m->topic, "update_id", m->update_id, "revision",
		      (json_int_t)m->revision, "deployment_id",
		      m->deployment_id > 0 ? json_integer(m->deployment_id) : json_null(), "state",
		      m->state, "hresult", m->has_hresult ? json_string(hr) : json_null(), "detail",
		      m->detail[0] != '\0' ? json_string(m->detail) : json_null());
	problem = doc == NULL ? "the message (not UTF-8 text?)" : message_problem(doc);
	if (problem != NULL) {
		pp_error_set(err, HR_E_INVALIDARG,
			     "a state message for update %s has a bad or missing %s", m->update_id,
			     problem);
		goto out;
	}
	(void)snprintf(path, sizeof(path), "%s/%019lld-%s.json", dir,
		       (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec, m->id);
	if (agent_state_write_object(path, doc, 0600, err) != 0)
		goto out;
	rc = 0;
out:
	json_decref(doc);
	return rc;
}

/* <19 digits>-<uuid>.json */
static bool queue_name(const char *name)
{
	size_t len = strlen(name);

	return len == 19 + 1 + AGENT_UUID_LEN + 5 && strspn(name, "0123456789") == 19 &&
	       name[19] == '-' && strcmp(name + len - 5, ".json") == 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct agent_queued *)a)->name,
		      ((const struct agent_queued *)b)->name);
}

void agent_queue_list_free(struct agent_queue_list *l)
{
	size_t i;

	if (l == NULL)
		return;
	for (i = 0; i < l->count; i++)
		json_decref(l->items[i].message);
	free(l->items);
	memset(l, 0, sizeof(*l));
}

/* A temporary file of atomicfile (".<name>.<16 hex>"): left by a write that never finished
 * when it is older than a minute. */
static void remove_stale_temp(int dfd, const char *name, time_t now)
{
	struct stat st;

	if (name[0] != '.' || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
	    now - st.st_mtime > QUEUE_STALE_TEMP_SECS)
		(void)unlinkat(dfd, name, 0);
}

/* Reads one queue file; NULL (and the reason in why) when it is not a valid message. */
static json_t *read_message(const char *path, char *why, size_t why_size)
{
	struct pp_error e;
	json_t *doc = NULL;
	const char *problem;

	pp_error_clear(&e);
	if (agent_state_read_object(path, QUEUE_FILE_MAX, QUEUE_HINT, &doc, &e) != 0 ||
	    doc == NULL) {
		(void)snprintf(why, why_size, "%s",
			       doc == NULL && e.message[0] == '\0' ? "it vanished" : e.message);
		return NULL;
	}
	problem = message_problem(doc);
	if (problem != NULL) {
		(void)snprintf(why, why_size, "bad or missing %s", problem);
		json_decref(doc);
		return NULL;
	}
	return doc;
}

int agent_queue_list(const char *machine, struct cmtrace_log *log, struct agent_queue_list *out,
		     struct pp_error *err)
{
	char dir[AGENT_PATH_MAX], path[AGENT_PATH_MAX + AGENT_QUEUE_NAME_MAX];
	char aside[AGENT_PATH_MAX + AGENT_QUEUE_NAME_MAX + 16], why[PP_ERROR_MESSAGE_MAX];
	struct agent_queued *grown;
	struct dirent *de;
	size_t cap = 0;
	time_t now = time(NULL);
	DIR *d = NULL;
	json_t *msg;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (queue_dir(machine, dir, sizeof(dir), err) != 0)
		goto out;
	d = opendir(dir);
	if (d == NULL) {
		if (errno == ENOENT) {
			rc = 0;
			goto out;
		}
		pp_error_set_errno(err, errno, "cannot read the state message queue %s", dir);
		goto out;
	}
	while ((de = readdir(d)) != NULL) {
		if (!queue_name(de->d_name)) {
			remove_stale_temp(dirfd(d), de->d_name, now);
			continue;
		}
		/* queue_name() held the name to 60 bytes: nothing is cut. */
		agent_text_format(path, sizeof(path), "%s/%s", dir, de->d_name);
		msg = read_message(path, why, sizeof(why));
		if (msg == NULL) {
			(void)snprintf(aside, sizeof(aside), "%s.damaged", path);
			(void)rename(path, aside);
			agent_log(log, CMTRACE_WARNING,
				  "Set aside the damaged state message %s: %s", de->d_name, why);
			out->damaged++;
			continue;
		}
		if (out->count == QUEUE_LIST_MAX) {
			json_decref(msg);
			break; /* the rest waits for the next flush */
		}
		if (out->count == cap) {
			cap = cap == 0 ? 64 : cap * 2;
			grown = realloc(out->items, cap * sizeof(*out->items));
			if (grown == NULL) {
				json_decref(msg);
				pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory reading %s",
					     dir);
				goto out;
			}
			out->items = grown;
		}
		agent_text_format(out->items[out->count].name, AGENT_QUEUE_NAME_MAX, "%s",
				  de->d_name);
		out->items[out->count++].message = msg;
	}
	if (out->count > 1)
		qsort(out->items, out->count, sizeof(*out->items), by_name);
	rc = 0;
out:
	if (d != NULL)
		(void)closedir(d);
	if (rc != 0)
		agent_queue_list_free(out);
	return rc;
}

int agent_queue_remove(const char *machine, const char *name, struct pp_error *err)
{
	char dir[AGENT_PATH_MAX], path[AGENT_PATH_MAX + AGENT_QUEUE_NAME_MAX];

	if (queue_dir(machine, dir, sizeof(dir), err) != 0)
		return -1;
	if (!queue_name(name)) {
		pp_error_set(err, HR_E_INVALIDARG, "%s is not a state message of the queue", name);
		return -1;
	}
	(void)snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (unlink(path) != 0 && errno != ENOENT) {
		pp_error_set_errno(err, errno, "cannot remove %s", path);
		return -1;
	}
	return 0;
}

/* Sends items [first, first + n) in one request; removes them when the server took them all.
 * A 400 naming one message sets that one aside, so that the others can go next time. */
static int send_batch(const char *machine, struct agent_http *h, struct cmtrace_log *log,
		      struct agent_queue_list *l, size_t first, size_t n,
		      struct agent_queue_flush_result *res, struct pp_error *err)
{
	struct agent_http_response resp = {0};
	char dir[AGENT_PATH_MAX], path[AGENT_PATH_MAX + AGENT_QUEUE_NAME_MAX];
	char aside[AGENT_PATH_MAX + AGENT_QUEUE_NAME_MAX + 16];
	json_t *body = NULL, *list = json_array();
	json_int_t accepted, dups;
	size_t i, bad;
	int rc = -1;

	for (i = 0; list != NULL && i < n; i++)
		if (json_array_append(list, l->items[first + i].message) != 0)
			break;
	body = list != NULL && i == n ? json_pack("{s:O}", "messages", list) : NULL;
	if (body == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory sending state messages");
		goto out;
	}
	if (agent_http_request(h, "POST", AGENT_STATE_PATH, body, NULL, &resp, err) != 0) {
		if (resp.status == 400 && sscanf(err->message, "state message %zu:", &bad) == 1 &&
		    bad < n && queue_dir(machine, dir, sizeof(dir), err) == 0) {
			(void)snprintf(path, sizeof(path), "%s/%s", dir,
				       l->items[first + bad].name);
			(void)snprintf(aside, sizeof(aside), "%s.rejected", path);
			(void)rename(path, aside);
			agent_log(log, CMTRACE_ERROR, "The server rejected state message %s: %s",
				  l->items[first + bad].name, err->message);
		}
		goto out;
	}
	accepted = json_integer_value(json_object_get(resp.json, "accepted"));
	dups = json_integer_value(json_object_get(resp.json, "duplicates"));
	if (accepted < 0 || dups < 0 || (size_t)(accepted + dups) != n) {
		/* Keep them: sent again, the server counts what it has as duplicates. */
		pp_error_set(err, HR_E_FAIL,
			     "the server took %lld of %zu state messages; they stay queued",
			     (long long)(accepted + dups), n);
		goto out;
	}
	for (i = 0; i < n; i++)
		if (agent_queue_remove(machine, l->items[first + i].name, err) != 0)
			goto out;
	res->sent += n;
	res->accepted += (size_t)accepted;
	res->duplicates += (size_t)dups;
	rc = 0;
out:
	json_decref(list);
	json_decref(body);
	agent_http_response_free(&resp);
	return rc;
}

int agent_queue_flush(const char *machine, struct agent_http *h, struct cmtrace_log *log,
		      struct agent_queue_flush_result *res, struct pp_error *err)
{
	struct agent_queue_list l = {0};
	char dir[AGENT_PATH_MAX];
	size_t first, n;
	int rc = -1;

	memset(res, 0, sizeof(*res));
	if (agent_queue_list(machine, log, &l, err) != 0)
		goto out;
	for (first = 0; first < l.count; first += n) {
		n = l.count - first < AGENT_QUEUE_BATCH_MAX ? l.count - first
							    : AGENT_QUEUE_BATCH_MAX;
		if (send_batch(machine, h, log, &l, first, n, res, err) != 0)
			break;
	}
	res->left = l.count - res->sent;
	if (res->sent > 0) {
		if (queue_dir(machine, dir, sizeof(dir), err) != 0 ||
		    atomicfile_sync_dir(dir, err) != 0)
			goto out;
		agent_log(log, CMTRACE_INFO,
			  "Sent %zu state message(s) to %s (%zu accepted, %zu already known)",
			  res->sent, agent_http_server(h), res->accepted, res->duplicates);
	}
	if (res->left > 0) {
		agent_log(log, CMTRACE_WARNING, "%zu state message(s) stay queued: %s", res->left,
			  err->message);
		goto out;
	}
	rc = 0;
out:
	agent_queue_list_free(&l);
	return rc;
}
