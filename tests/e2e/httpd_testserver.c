/* httpd_testserver.c - a tiny server over src/server/httpd for tests/e2e/httpd.sh (built only for
 * tests). Routes: GET /api/v1/ping (public), GET|POST /api/v1/echo (admin, token from
 * $HTTPD_TEST_TOKEN), GET /api/v1/sites/{code}, GET /api/v1/slow (answers after 1 s from a timer),
 * GET /api/v1/file (the file given with --file). Prints "http PORT", "https PORT" and "ready" on
 * stdout once it serves, and stops gracefully on SIGTERM or SIGINT (exit 0).
 *
 * usage: httpd_testserver [--listen A:P] [--listen-tls A:P --cert PEM --key PEM] [--file PATH]
 *                         [--max-body N] [--threads N]
 */
#include "httpd.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/crypto.h>

struct testserver {
	const char *token;
	const char *file;
};

static int check_token(void *ctx, const char *token)
{
	const struct testserver *ts = ctx;
	size_t n = strlen(token);

	return ts->token != NULL && n == strlen(ts->token) &&
	       CRYPTO_memcmp(token, ts->token, n) == 0;
}

static void log_line(void *ctx, const char *line)
{
	(void)ctx;
	fprintf(stderr, "httpd: %s\n", line);
}

static void on_ping(struct httpd_request *req, void *ctx)
{
	json_t *body = json_pack("{s:b}", "pong", 1);

	(void)ctx;
	httpd_reply_json(req, 200, body);
	json_decref(body);
}

static void on_echo_get(struct httpd_request *req, void *ctx)
{
	json_t *body = json_pack("{s:s}", "method", httpd_request_method(req));

	(void)ctx;
	httpd_reply_json(req, 200, body);
	json_decref(body);
}

static void on_echo_post(struct httpd_request *req, void *ctx)
{
	struct pp_error err;
	json_t *in = NULL, *body;

	(void)ctx;
	pp_error_clear(&err);
	if (httpd_request_json(req, &in, &err) != 0)
		return;
	body = json_pack("{s:o}", "echo", in);
	httpd_reply_json(req, 200, body);
	json_decref(body);
}

static void on_site(struct httpd_request *req, void *ctx)
{
	json_t *body = json_pack("{s:s}", "code", httpd_request_capture(req, "code"));

	(void)ctx;
	httpd_reply_json(req, 200, body);
	json_decref(body);
}

struct slow {
	struct httpd_request *req;
	struct event *ev;
};

static void slow_done(evutil_socket_t fd, short what, void *arg)
{
	struct slow *s = arg;
	json_t *body = json_pack("{s:b}", "slow", 1);

	(void)fd;
	(void)what;
	httpd_reply_json(s->req, 200, body);
	json_decref(body);
	event_free(s->ev);
	free(s);
}

static void on_slow(struct httpd_request *req, void *ctx)
{
	struct timeval one_second = {1, 0};
	struct slow *s = calloc(1, sizeof(*s));

	(void)ctx;
	if (s == NULL) {
		httpd_reply_error(req, 503, "out_of_memory", "out of memory");
		return;
	}
	s->req = req;
	s->ev = evtimer_new(httpd_request_base(req), slow_done, s);
	if (s->ev == NULL || evtimer_add(s->ev, &one_second) != 0) {
		if (s->ev != NULL)
			event_free(s->ev);
		free(s);
		httpd_reply_error(req, 503, "out_of_memory", "cannot arm a timer");
	}
}

static void on_file(struct httpd_request *req, void *ctx)
{
	const struct testserver *ts = ctx;
	struct stat st;
	int fd = ts->file != NULL ? open(ts->file, O_RDONLY | O_CLOEXEC) : -1;

	if (fd < 0 || fstat(fd, &st) != 0) {
		if (fd >= 0)
			(void)close(fd);
		httpd_reply_error(req, 404, "not_found", "no file to serve");
		return;
	}
	httpd_reply_file(req, fd, st.st_size, "application/octet-stream");
}

int main(int argc, char **argv)
{
	struct testserver ts = {getenv("HTTPD_TEST_TOKEN"), NULL};
	struct httpd_options opt;
	struct pp_error err;
	struct httpd *h = NULL;
	sigset_t set;
	int i, sig, rc = 1;

	memset(&opt, 0, sizeof(opt));
	opt.auth = check_token;
	opt.auth_ctx = &ts;
	opt.log = log_line;
	for (i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--listen") == 0)
			opt.listen = argv[i + 1];
		else if (strcmp(argv[i], "--listen-tls") == 0)
			opt.listen_tls = argv[i + 1];
		else if (strcmp(argv[i], "--cert") == 0)
			opt.tls_cert = argv[i + 1];
		else if (strcmp(argv[i], "--key") == 0)
			opt.tls_key = argv[i + 1];
		else if (strcmp(argv[i], "--file") == 0)
			ts.file = argv[i + 1];
		else if (strcmp(argv[i], "--max-body") == 0)
			opt.max_body = strtoul(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--threads") == 0)
			opt.threads = (unsigned)strtoul(argv[i + 1], NULL, 10);
		else
			break;
	}
	if (i != argc) {
		fprintf(stderr, "httpd_testserver: bad arguments\n");
		return 2;
	}
	/* Block the stop signals before any worker exists, so that only sigwait below sees them. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
		return 1;
	(void)signal(SIGPIPE, SIG_IGN);
	pp_error_clear(&err);
	h = httpd_new(&opt, &err);
	if (h == NULL)
		goto out;
	if (httpd_route(h, "GET", "/api/v1/ping", on_ping, NULL, 0) != 0 ||
	    httpd_route(h, "GET", "/api/v1/echo", on_echo_get, NULL, HTTPD_ADMIN) != 0 ||
	    httpd_route(h, "POST", "/api/v1/echo", on_echo_post, NULL, HTTPD_ADMIN) != 0 ||
	    httpd_route(h, "GET", "/api/v1/sites/{code}", on_site, NULL, 0) != 0 ||
	    httpd_route(h, "GET", "/api/v1/slow", on_slow, NULL, 0) != 0 ||
	    httpd_route(h, "GET", "/api/v1/file", on_file, &ts, 0) != 0) {
		pp_error_set(&err, 0x80004005u, "cannot add the routes");
		goto out;
	}
	if (httpd_start(h, &err) != 0)
		goto out;
	printf("http %d\nhttps %d\nready\n", httpd_port(h, false), httpd_port(h, true));
	fflush(stdout);
	do {
		if (sigwait(&set, &sig) != 0)
			goto out;
	} while (sig != SIGTERM && sig != SIGINT);
	fprintf(stderr, "httpd_testserver: stopping\n");
	httpd_stop(h);
	rc = 0;
out:
	if (rc != 0)
		fprintf(stderr, "httpd_testserver: %s\n", err.message);
	httpd_free(h);
	return rc;
}
