/* test_agent_queue.c - the state message queue (src/agent/agent_queue.h): messages written whole
 * with their own UUIDs, listed in the order they were made, a torn temporary file ignored (and
 * removed once stale), a damaged file set aside, and the flush against a stub server: removed
 * only after the server took them (accepted or duplicates), kept when it is down, answers an
 * error or takes fewer, sent in batches of at most 256, one rejected message set aside. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "agent_http.h"
#include "agent_queue.h"
#include "hresult.h"
#include "testutil.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#define UPDATE "6f1d3c2a-0b4e-4c5d-9e8f-7a6b5c4d3e2f"

/* ---- a stub of POST /api/v1/device/state ---- */

struct stub {
	int fd;
	int port;
	pthread_t thread;
	int status;		 /* of every answer */
	const char *answer;	 /* body; NULL: {"accepted":<messages>,"duplicates":0} */
	int requests;		 /* answered so far */
	size_t messages[8];	 /* per request */
	char authorization[128]; /* of the last request */
};

static void *stub_main(void *arg)
{
	struct stub *s = arg;
	char buf[1 << 20], body[256], reply[512], *end, *cl, *auth;
	size_t used, want, hdr;
	json_error_t jerr;
	json_t *doc;
	ssize_t n;
	int c;

	while ((c = accept(s->fd, NULL, NULL)) >= 0) {
		used = 0;
		end = NULL;
		while (used < sizeof(buf) - 1 &&
		       (n = read(c, buf + used, sizeof(buf) - 1 - used)) > 0) {
			used += (size_t)n;
			buf[used] = '\0';
			end = strstr(buf, "\r\n\r\n");
			if (end == NULL)
				continue;
			hdr = (size_t)(end + 4 - buf);
			cl = strcasestr(buf, "Content-Length:");
			want = cl != NULL ? strtoul(cl + 15, NULL, 10) : 0;
			if (used >= hdr + want)
				break;
		}
		buf[used] = '\0';
		auth = strcasestr(buf, "Authorization: ");
		if (auth != NULL)
			(void)sscanf(auth, "Authorization: %127[^\r]", s->authorization);
		doc = end != NULL ? json_loads(end + 4, 0, &jerr) : NULL;
		if (s->requests < 8)
			s->messages[s->requests] =
			    json_array_size(json_object_get(doc, "messages"));
		if (s->answer != NULL)
			(void)snprintf(body, sizeof(body), "%s", s->answer);
		else
			(void)snprintf(body, sizeof(body), "{\"accepted\":%zu,\"duplicates\":0}",
				       json_array_size(json_object_get(doc, "messages")));
		json_decref(doc);
		n = snprintf(reply, sizeof(reply),
			     "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: "
			     "%zu\r\nConnection: close\r\n\r\n%s",
			     s->status, strlen(body), body);
		if (write(c, reply, (size_t)n) != n)
			break;
		s->requests++;
		(void)close(c);
	}
	return NULL;
}

static void stub_start(struct stub *s, int status, const char *answer)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);

	memset(s, 0, sizeof(*s));
	s->status = status;
	s->answer = answer;
	s->fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(s->fd >= 0);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(s->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(s->fd, 8), 0);
	assert_int_equal(getsockname(s->fd, (struct sockaddr *)&a, &len), 0);
	s->port = ntohs(a.sin_port);
	assert_int_equal(pthread_create(&s->thread, NULL, stub_main, s), 0);
}

static void stub_stop(struct stub *s)
{
	(void)shutdown(s->fd, SHUT_RDWR);
	(void)pthread_join(s->thread, NULL);
	(void)close(s->fd);
}

static struct agent_http *client(int port)
{
	struct pp_error err = {0};
	struct agent_http *h;
	char url[64];

	(void)snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
	h = agent_http_new(url, NULL, &err);
	assert_non_null(h);
	assert_int_equal(agent_http_set_credential(h, "c0ffee", &err), 0);
	return h;
}

/* ---- helpers ---- */

static void add(const char *machine, const char *topic, const char *state, uint32_t hr,
		const char *detail, char id[AGENT_UUID_LEN + 1])
{
	struct agent_state_message m;
	struct pp_error err = {0};

	memset(&m, 0, sizeof(m));
	m.topic = topic;
	memcpy(m.update_id, UPDATE, sizeof(m.update_id));
	m.revision = 2;
	m.deployment_id = 7;
	m.state = state;
	m.has_hresult = hr != 0;
	m.hresult = hr;
	(void)snprintf(m.detail, sizeof(m.detail), "%s", detail != NULL ? detail : "");
	assert_int_equal(agent_queue_add(machine, &m, &err), 0);
	assert_int_equal(strlen(m.id), AGENT_UUID_LEN);
	assert_true(m.time > 0);
	if (id != NULL)
		memcpy(id, m.id, AGENT_UUID_LEN + 1);
}

static size_t queue_size(const char *machine)
{
	struct agent_queue_list l;
	struct pp_error err = {0};
	size_t n;

	assert_int_equal(agent_queue_list(machine, NULL, &l, &err), 0);
	n = l.count;
	agent_queue_list_free(&l);
	return n;
}

/* Entries of <machine>/agent/queue whose name ends in suffix. */
static int files_ending(const char *machine, const char *suffix)
{
	char *dir = tu_path(machine, "agent/queue");
	struct dirent *de;
	DIR *d = opendir(dir);
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		size_t a = strlen(de->d_name), b = strlen(suffix);

		if (a >= b && strcmp(de->d_name + a - b, suffix) == 0)
			n++;
	}
	(void)closedir(d);
	free(dir);
	return n;
}

/* ---- tests ---- */

static void test_write_list_remove(void **state)
{
	char *m = tu_tmpdir(), *dir, id1[AGENT_UUID_LEN + 1], id2[AGENT_UUID_LEN + 1];
	struct agent_queue_list l;
	struct pp_error err = {0};
	const json_t *msg;

	(void)state;
	add(m, "scan", "required", 0, NULL, id1);
	add(m, "install", "failed", 0x800B0109u, "the chain ends in root CN=X", id2);
	assert_string_not_equal(id1, id2);
	assert_int_equal(id1[14], '4'); /* a version 4 UUID */
	dir = tu_path(m, "agent/queue");
	assert_int_equal(tu_file_mode(dir) & 0777, 0700);
	assert_int_equal(agent_queue_list(m, NULL, &l, &err), 0);
	assert_int_equal(l.count, 2);
	assert_int_equal(l.damaged, 0);
	/* In the order they were made, exactly as they will be sent. */
	msg = l.items[0].message;
	assert_string_equal(json_string_value(json_object_get(msg, "id")), id1);
	assert_string_equal(json_string_value(json_object_get(msg, "topic")), "scan");
	assert_string_equal(json_string_value(json_object_get(msg, "state")), "required");
	assert_true(json_is_null(json_object_get(msg, "hresult")));
	assert_true(json_is_null(json_object_get(msg, "detail")));
	assert_int_equal(json_integer_value(json_object_get(msg, "deployment_id")), 7);
	assert_int_equal(json_integer_value(json_object_get(msg, "revision")), 2);
	msg = l.items[1].message;
	assert_string_equal(json_string_value(json_object_get(msg, "id")), id2);
	assert_string_equal(json_string_value(json_object_get(msg, "hresult")), "0x800B0109");
	assert_string_equal(json_string_value(json_object_get(msg, "detail")),
			    "the chain ends in root CN=X");
	assert_non_null(strstr(l.items[1].name, id2));
	assert_int_equal(agent_queue_remove(m, l.items[0].name, &err), 0);
	assert_int_equal(agent_queue_remove(m, l.items[0].name, &err), 0); /* gone: no error */
	assert_int_equal(agent_queue_remove(m, "../agent.json", &err), -1);
	agent_queue_list_free(&l);
	assert_int_equal(queue_size(m), 1);
	tu_rmrf(m);
	free(dir);
	free(m);
}

static void test_checked_when_queued(void **state)
{
	char *m = tu_tmpdir(), long_detail[1200];
	struct agent_state_message msg;
	struct agent_queue_list l;
	struct pp_error err = {0};
	size_t i, len;

	(void)state;
	memset(&msg, 0, sizeof(msg));
	msg.topic = "scan";
	msg.state = "maybe";
	memcpy(msg.update_id, UPDATE, sizeof(msg.update_id));
	msg.revision = 1;
	assert_int_equal(agent_queue_add(m, &msg, &err), -1);
	assert_non_null(strstr(err.message, "bad or missing state"));
	msg.state = "required";
	msg.revision = 0;
	pp_error_clear(&err);
	assert_int_equal(agent_queue_add(m, &msg, &err), -1);
	assert_non_null(strstr(err.message, "revision"));
	assert_int_equal(queue_size(m), 0);

	/* A long detail is cut below 512 bytes, never inside a UTF-8 character. */
	for (i = 0; i + 2 < sizeof(long_detail); i += 2)
		memcpy(long_detail + i, "\xc3\xa9", 2); /* e acute */
	long_detail[i] = '\0';
	add(m, "scan", "not_required", 0, long_detail, NULL);
	assert_int_equal(agent_queue_list(m, NULL, &l, &err), 0);
	assert_int_equal(l.count, 1);
	len = json_string_length(json_object_get(l.items[0].message, "detail"));
	assert_true(len <= AGENT_QUEUE_DETAIL_MAX && len >= AGENT_QUEUE_DETAIL_MAX - 1);
	assert_int_equal(len % 2, 0);
	agent_queue_list_free(&l);
	tu_rmrf(m);
	free(m);
}

static void test_torn_and_damaged_files(void **state)
{
	char *m = tu_tmpdir(), *fresh, *stale, *bad, *foreign;
	struct timespec old[2] = {{0, 0}, {0, 0}};
	struct agent_queue_list l;
	struct pp_error err = {0};

	(void)state;
	add(m, "scan", "required", 0, NULL, NULL);
	/* What a kill during atomicfile_write leaves: a temporary name, half a message. */
	fresh = tu_path(m, "agent/queue/.1700000000000000000-x.json.0123456789abcdef");
	stale = tu_path(m, "agent/queue/.1700000000000000001-x.json.fedcba9876543210");
	tu_write_file(fresh, "{\"id\":\"ab", 9);
	tu_write_file(stale, "{\"id\":\"cd", 9);
	old[0].tv_sec = old[1].tv_sec = time(NULL) - 3600;
	assert_int_equal(utimensat(AT_FDCWD, stale, old, 0), 0);
	/* A file with a queue name that does not hold a valid message. */
	bad =
	    tu_path(m, "agent/queue/1700000000000000002-00000000-0000-4000-8000-000000000000.json");
	tu_write_file(bad, "{\"id\":\"00000000-0000-4000-8000-000000000000\"}", 45);
	foreign = tu_path(m, "agent/queue/notes.txt");
	tu_write_file(foreign, "x", 1);

	assert_int_equal(agent_queue_list(m, NULL, &l, &err), 0);
	assert_int_equal(l.count, 1);
	assert_int_equal(l.damaged, 1);
	agent_queue_list_free(&l);
	assert_true(tu_exists(fresh));	/* may still be being written */
	assert_false(tu_exists(stale)); /* an hour old: left by a killed agent */
	assert_false(tu_exists(bad));
	assert_int_equal(files_ending(m, ".damaged"), 1);
	assert_true(tu_exists(foreign));
	assert_int_equal(queue_size(m), 1);
	tu_rmrf(m);
	free(fresh);
	free(stale);
	free(bad);
	free(foreign);
	free(m);
}

/* One flush of m against a fresh stub answering status and answer (NULL: all accepted). */
static int flush_against(const char *m, struct stub *s, int status, const char *answer,
			 struct agent_queue_flush_result *res, struct pp_error *err)
{
	struct agent_http *h;
	int rc;

	stub_start(s, status, answer);
	h = client(s->port);
	pp_error_clear(err);
	rc = agent_queue_flush(m, h, NULL, res, err);
	stub_stop(s);
	agent_http_free(h);
	return rc;
}

static void test_flush_removes_what_the_server_took(void **state)
{
	char *m = tu_tmpdir();
	struct agent_queue_flush_result res;
	struct pp_error err = {0};
	struct stub s;

	(void)state;
	/* An empty queue sends nothing. */
	assert_int_equal(flush_against(m, &s, 200, NULL, &res, &err), 0);
	assert_int_equal(s.requests, 0);
	add(m, "scan", "required", 0, NULL, NULL);
	add(m, "install", "installed", 0, NULL, NULL);
	add(m, "install", "failed", 0x800B0004u, "signer not in TrustedPublisher", NULL);
	assert_int_equal(flush_against(m, &s, 200, NULL, &res, &err), 0);
	assert_int_equal(s.requests, 1);
	assert_int_equal(s.messages[0], 3);
	assert_string_equal(s.authorization, "Bearer c0ffee");
	assert_int_equal(res.sent, 3);
	assert_int_equal(res.accepted, 3);
	assert_int_equal(res.left, 0);
	assert_int_equal(queue_size(m), 0);

	/* Duplicates count as taken: a lost answer, sent again. */
	add(m, "scan", "required", 0, NULL, NULL);
	add(m, "scan", "required", 0, NULL, NULL);
	assert_int_equal(flush_against(m, &s, 200, "{\"accepted\":0,\"duplicates\":2}", &res, &err),
			 0);
	assert_int_equal(res.duplicates, 2);
	assert_int_equal(queue_size(m), 0);
	tu_rmrf(m);
	free(m);
}

static void test_flush_keeps_what_was_not_taken(void **state)
{
	char *m = tu_tmpdir();
	struct agent_queue_flush_result res;
	struct pp_error err = {0};
	struct agent_http *h;
	struct stub s;

	(void)state;
	add(m, "scan", "required", 0, NULL, NULL);
	add(m, "install", "installed", 0, NULL, NULL);
	/* The server fails. */
	assert_int_equal(
	    flush_against(m, &s, 503, "{\"error\":{\"code\":\"unavailable\",\"message\":\"busy\"}}",
			  &res, &err),
	    -1);
	assert_non_null(strstr(err.message, "busy (HTTP 503 unavailable)"));
	assert_int_equal(res.left, 2);
	assert_int_equal(queue_size(m), 2);
	/* It takes fewer than it was sent. */
	assert_int_equal(flush_against(m, &s, 200, "{\"accepted\":1,\"duplicates\":0}", &res, &err),
			 -1);
	assert_int_equal(queue_size(m), 2);
	/* Nobody listens any more (the stub's port is closed). */
	h = client(s.port);
	pp_error_clear(&err);
	assert_int_equal(agent_queue_flush(m, h, NULL, &res, &err), -1);
	assert_non_null(strstr(err.message, "cannot reach"));
	assert_int_equal(queue_size(m), 2);
	agent_http_free(h);
	tu_rmrf(m);
	free(m);
}

static void test_flush_batches_and_rejects(void **state)
{
	char *m = tu_tmpdir();
	struct agent_queue_flush_result res;
	struct pp_error err = {0};
	struct stub s;
	int i;

	(void)state;
	for (i = 0; i < 300; i++)
		add(m, "scan", "required", 0, NULL, NULL);
	assert_int_equal(flush_against(m, &s, 200, NULL, &res, &err), 0);
	assert_int_equal(s.requests, 2);
	assert_int_equal(s.messages[0], AGENT_QUEUE_BATCH_MAX);
	assert_int_equal(s.messages[1], 300 - AGENT_QUEUE_BATCH_MAX);
	assert_int_equal(res.sent, 300);
	assert_int_equal(queue_size(m), 0);

	/* A message the server rejects is set aside; the others go next time. */
	add(m, "scan", "required", 0, NULL, NULL);
	add(m, "scan", "required", 0, NULL, NULL);
	assert_int_equal(flush_against(m, &s, 400,
				       "{\"error\":{\"code\":\"invalid_argument\",\"message\":"
				       "\"state message 1: bad or missing detail\"}}",
				       &res, &err),
			 -1);
	assert_int_equal(files_ending(m, ".rejected"), 1);
	assert_int_equal(queue_size(m), 1);
	tu_rmrf(m);
	free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_write_list_remove),
	    cmocka_unit_test(test_checked_when_queued),
	    cmocka_unit_test(test_torn_and_damaged_files),
	    cmocka_unit_test(test_flush_removes_what_the_server_took),
	    cmocka_unit_test(test_flush_keeps_what_was_not_taken),
	    cmocka_unit_test(test_flush_batches_and_rejects),
	};
	int rc;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return 1;
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
