/* fleet.c - bench/fleet: a fleet of simulated agents against a real patchpointd.
 *
 * N agents register (POST /api/v1/device/register, each its own machine id, so each gets its
 * own credential) before the timed part, which is reported apart. Then, for a fixed time, each
 * agent polls its machine policy (GET /api/v1/device/policy, with If-None-Match once it has
 * a version, as patchpoint-agent does) on its own random schedule, an interval compressed
 * into the run, and posts state messages (POST /api/v1/device/state, a few messages each with
 * fresh UUIDs, about the deployment its policy named). Requests share a bounded pool of
 * keep-alive connections (libevent's HTTP client), as agents poll at different times: a request
 * waits for a free connection, which shows as lag (time from when it was due to when it was
 * sent), apart from its latency (sent to answered).
 *
 * Prints requests, errors and p50/p99/max latency by kind, a time series of the run in 5 s
 * windows (sent, answered, p50/p99, most in flight), then "figures: KEY=VALUE ...". With
 * --register-only FILE it registers, fetches each device's policy once and writes
 * "DEVICE_ID CREDENTIAL ETAG BYTES" lines to FILE (bench/policy.sh's wrk clients use them).
 * Exit 0 when the run completed (errors are counted, not fatal), 1 when it could not run, 2 on
 * a usage error.
 *
 * Usage: fleet --port PORT --enrollment-key KEY [--agents N] [--seconds S] [--connections C]
 *              [--poll-seconds P] [--state-posts K] [--messages M] [--seed X]
 *              [--register-only FILE] */
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define BODY_MAX	(1 << 20) /* bytes of an answer we read */
#define REQUEST_TIMEOUT 30	  /* seconds */
#define DRAIN_GRACE	15.0	  /* seconds after the end for answers in flight */
#define FAKE_UPDATE_ID	"00000000-0000-4000-8000-00000000f1ee"
#define CLIENT_VERSION	"5.00.9128.1000"
#define UPDATE_ID_LEN	36
#define CREDENTIAL_MAX	65
#define DEVICE_ID_MAX	48
#define ETAG_MAX	32
#define WINDOW_S	5.0 /* seconds of a line of the run's time series */
#define WINDOWS_MAX	(3600 / 5 + 8)

enum kind { K_REGISTER, K_POLICY_FULL, K_POLICY_COND, K_STATE, K_COUNT };
static const char *const kind_names[K_COUNT] = {"register", "policy", "policy+INM", "state"};
static const char *const kind_keys[K_COUNT] = {"register", "policy", "policy_inm", "state"};

enum job_type { J_REGISTER, J_POLL, J_STATE };
enum phase { P_REGISTER, P_FETCH, P_RUN, P_DRAIN, P_DONE };

struct config {
	unsigned port;
	const char *key, *register_only;
	size_t agents, connections, state_posts, messages;
	double seconds, poll_seconds;
	uint64_t seed;
};

struct agent {
	char id[DEVICE_ID_MAX];
	char cred[CREDENTIAL_MAX];
	char etag[ETAG_MAX]; /* "" before the first 200 */
	char update_id[UPDATE_ID_LEN + 1];
	int64_t revision, deployment;
	size_t doc_bytes;
};

struct job {
	double due; /* seconds from the phase's start */
	uint32_t agent;
	uint8_t type;
};

struct samples {
	double *v;
	size_t n, cap;
};

struct stats {
	size_t sent, ok, errors, changed; /* changed: a 200 to If-None-Match */
	size_t status[6];		  /* 2xx... by hundreds; [0] transport errors */
	struct samples lat, lag;
};

struct fleet;

struct conn {
	struct fleet *f;
	struct evhttp_connection *evcon;
	struct job job;
	enum kind kind;
	double sent;
	bool busy;
};

struct fleet {
	struct config c;
	struct event_base *base;
	struct event *tick;
	struct agent *agents;
	struct conn *conns;
	size_t *idle, nidle;
	struct job *heap;
	size_t nheap, capheap;
	struct stats st[K_COUNT];
	enum phase phase;
	double phase_start, run_end;
	size_t inflight, scheduled;
	uint64_t rng;
	char errors_seen[4][160]; /* the first few error descriptions */
	size_t nerrors_seen;
	/* The run's time series: answers by the window they arrived in (the drain in the last). */
	struct samples win_lat[WINDOWS_MAX];
	size_t win_sent[WINDOWS_MAX], win_inflight_max[WINDOWS_MAX], nwin;
};

static size_t window_of(const struct fleet *f, double t)
{
	size_t w = t > f->phase_start ? (size_t)((t - f->phase_start) / WINDOW_S) : 0;

	return w < f->nwin ? w : f->nwin - 1;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t next_rand(uint64_t *s) /* xorshift64* */
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

static double rand_unit(uint64_t *s)
{
	return (double)(next_rand(s) >> 11) / 9007199254740992.0;
}

static int samples_add(struct samples *s, double v)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 4096;
		double *p = realloc(s->v, cap * sizeof(*p));

		if (p == NULL)
			return -1;
		s->v = p;
		s->cap = cap;
	}
	s->v[s->n++] = v;
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The q-quantile (0..1) of sorted samples, nearest rank; 0 when empty. */
static double quantile(const struct samples *s, double q)
{
	size_t i;

	if (s->n == 0)
		return 0;
	i = (size_t)(q * (double)s->n);
	if ((double)i < q * (double)s->n)
		i++; /* the rank rounded up */
	return s->v[i > 0 ? i - 1 : 0];
}

/* As quantile, sorting s first. */
static double sorted_quantile(struct samples *s, double q)
{
	qsort(s->v, s->n, sizeof(double), cmp_double);
	return quantile(s, q);
}

static void note_error(struct fleet *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void note_error(struct fleet *f, const char *fmt, ...)
{
	va_list ap;

	if (f->nerrors_seen >= sizeof(f->errors_seen) / sizeof(f->errors_seen[0]))
		return;
	va_start(ap, fmt);
	(void)vsnprintf(f->errors_seen[f->nerrors_seen++], sizeof(f->errors_seen[0]), fmt, ap);
	va_end(ap);
}

/* ---- the schedule: a binary min-heap of jobs by due time ---- */

static int heap_push(struct fleet *f, double due, uint32_t agent, enum job_type type)
{
	size_t i;

	if (f->nheap == f->capheap) {
		size_t cap = f->capheap ? 2 * f->capheap : 1024;
		struct job *p = realloc(f->heap, cap * sizeof(*p));

		if (p == NULL)
			return -1;
		f->heap = p;
		f->capheap = cap;
	}
	i = f->nheap++;
	while (i > 0 && f->heap[(i - 1) / 2].due > due) {
		f->heap[i] = f->heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	f->heap[i] = (struct job){due, agent, (uint8_t)type};
	return 0;
}

static struct job heap_pop(struct fleet *f)
{
	struct job top = f->heap[0], last = f->heap[--f->nheap];
	size_t i = 0;

	for (;;) {
		size_t l = 2 * i + 1, m = l;

		if (l >= f->nheap)
			break;
		if (l + 1 < f->nheap && f->heap[l + 1].due < f->heap[l].due)
			m = l + 1;
		if (f->heap[m].due >= last.due)
			break;
		f->heap[i] = f->heap[m];
		i = m;
	}
	if (f->nheap > 0)
		f->heap[i] = last;
	return top;
}

/* ---- requests ---- */

static void random_uuid(uint64_t *rng, char out[37])
{
	uint64_t a = next_rand(rng), b = next_rand(rng);

	(void)snprintf(out, 37, "%08x-%04x-4%03x-%04x-%012llx", (unsigned)(a >> 32),
		       (unsigned)(a >> 16) & 0xffff, (unsigned)a & 0xfff,
		       (unsigned)((b >> 48) & 0x3fff) | 0x8000,
		       (unsigned long long)(b & 0xffffffffffffull));
}

static void on_done(struct evhttp_request *req, void *arg);
static void pump(struct fleet *f);

static int body_register(struct fleet *f, uint32_t i, struct evbuffer *out)
{
	uint64_t a = next_rand(&f->rng), b = next_rand(&f->rng);

	return evbuffer_add_printf(
		   out,
		   "{\"enrollment_key\":\"%s\",\"machine_id\":\"%016llx%016llx\",\"name\":"
		   "\"fleet-%05u\",\"os\":\"Windows 11 Enterprise\",\"client_version\":\"%s\","
		   "\"tags\":[\"fleet\",\"g%u\"]}",
		   f->c.key, (unsigned long long)a, (unsigned long long)b, i, CLIENT_VERSION,
		   i % 16) < 0
		   ? -1
		   : 0;
}

/* K messages of one agent: a scan result, then install results, each with a fresh UUID. */
static int body_state(struct fleet *f, const struct agent *ag, struct evbuffer *out)
{
	static const char *const states[] = {"required", "installed", "failed", "pending_reboot"};
	long long t = (long long)time(NULL);
	char dep[32];

	if (ag->deployment > 0)
		(void)snprintf(dep, sizeof(dep), "%lld", (long long)ag->deployment);
	else
		(void)snprintf(dep, sizeof(dep), "null");
	if (evbuffer_add(out, "{\"messages\":[", 13) != 0)
		return -1;
	for (size_t m = 0; m < f->c.messages; m++) {
		char uuid[37];
		const char *st = states[m == 0 ? 0 : 1 + next_rand(&f->rng) % 3];

		random_uuid(&f->rng, uuid);
		if (evbuffer_add_printf(
			out,
			"%s{\"id\":\"%s\",\"time\":%lld,\"topic\":\"%s\",\"update_"
			"id\":\"%s\",\"revision\":%lld,\"deployment_id\":%s,"
			"\"state\":\"%s\",\"hresult\":%s,\"detail\":%s}",
			m > 0 ? "," : "", uuid, t + (long long)m, m == 0 ? "scan" : "install",
			ag->update_id[0] ? ag->update_id : FAKE_UPDATE_ID,
			(long long)(ag->revision > 0 ? ag->revision : 1), dep, st,
			strcmp(st, "failed") == 0 ? "\"0x80070643\"" : "null",
			strcmp(st, "failed") == 0 ? "\"bench: a simulated failure\"" : "null") < 0)
			return -1;
	}
	return evbuffer_add(out, "]}", 2);
}

static int send_job(struct fleet *f, struct conn *cn, struct job j)
{
	struct agent *ag = &f->agents[j.agent];
	struct evhttp_request *req = evhttp_request_new(on_done, cn);
	struct evkeyvalq *h;
	char auth[16 + CREDENTIAL_MAX], host[32];
	enum evhttp_cmd_type method = EVHTTP_REQ_GET;
	const char *path = "/api/v1/device/policy";

	if (req == NULL)
		return -1;
	h = evhttp_request_get_output_headers(req);
	(void)snprintf(host, sizeof(host), "127.0.0.1:%u", f->c.port);
	evhttp_add_header(h, "Host", host);
	cn->job = j;
	if (j.type == J_REGISTER) {
		cn->kind = K_REGISTER;
		method = EVHTTP_REQ_POST;
		path = "/api/v1/device/register";
		evhttp_add_header(h, "Content-Type", "application/json");
		if (body_register(f, j.agent, evhttp_request_get_output_buffer(req)) != 0)
			goto fail;
	} else {
		(void)snprintf(auth, sizeof(auth), "Bearer %s", ag->cred);
		evhttp_add_header(h, "Authorization", auth);
		if (j.type == J_POLL) {
			cn->kind = ag->etag[0] != '\0' ? K_POLICY_COND : K_POLICY_FULL;
			if (cn->kind == K_POLICY_COND)
				evhttp_add_header(h, "If-None-Match", ag->etag);
		} else {
			cn->kind = K_STATE;
			method = EVHTTP_REQ_POST;
			path = "/api/v1/device/state";
			evhttp_add_header(h, "Content-Type", "application/json");
			if (body_state(f, ag, evhttp_request_get_output_buffer(req)) != 0)
				goto fail;
		}
	}
	cn->sent = now_s();
	if (f->phase == P_RUN || f->phase == P_DRAIN)
		(void)samples_add(&f->st[cn->kind].lag, cn->sent - f->phase_start - j.due);
	if (evhttp_make_request(cn->evcon, req, method, path) != 0)
		return -1; /* the request is freed by libevent */
	cn->busy = true;
	f->st[cn->kind].sent++;
	f->inflight++;
	if (f->phase == P_RUN) {
		size_t w = window_of(f, cn->sent);

		f->win_sent[w]++;
		if (f->inflight > f->win_inflight_max[w])
			f->win_inflight_max[w] = f->inflight;
	}
	return 0;
fail:
	evhttp_request_free(req);
	return -1;
}

/* Sends due jobs while connections are free. */
static void pump(struct fleet *f)
{
	double t = now_s() - f->phase_start;

	if (f->phase == P_DRAIN || f->phase == P_DONE)
		return;
	while (f->nidle > 0 && f->nheap > 0 && f->heap[0].due <= t) {
		struct conn *cn = &f->conns[f->idle[--f->nidle]];
		struct job j = heap_pop(f);

		if (send_job(f, cn, j) != 0) {
			f->st[j.type == J_REGISTER ? K_REGISTER
			      : j.type == J_POLL   ? K_POLICY_FULL
						   : K_STATE]
			    .errors++;
			note_error(f, "could not make a request");
			f->idle[f->nidle++] = (size_t)(cn - f->conns);
		}
	}
}

static void handle_register(struct fleet *f, struct agent *ag, struct evbuffer *in, int code,
			    struct stats *st)
{
	json_t *o;
	const char *id, *cred;

	if (code != 201 && code != 200) {
		st->errors++;
		return;
	}
	o = json_loadb((const char *)evbuffer_pullup(in, -1), evbuffer_get_length(in), 0, NULL);
	id = json_string_value(json_object_get(o, "device_id"));
	cred = json_string_value(json_object_get(o, "credential"));
	if (id == NULL || cred == NULL || strlen(id) >= sizeof(ag->id) ||
	    strlen(cred) >= sizeof(ag->cred)) {
		st->errors++;
		note_error(f, "register: an answer without device_id or credential (HTTP %d)",
			   code);
	} else {
		memcpy(ag->id, id, strlen(id) + 1);
		memcpy(ag->cred, cred, strlen(cred) + 1);
		st->ok++;
	}
	json_decref(o);
}

static void handle_policy(struct fleet *f, struct agent *ag, struct evhttp_request *req, int code,
			  enum kind kind, struct stats *st)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	const char *etag = evhttp_find_header(evhttp_request_get_input_headers(req), "ETag");
	json_t *o, *deps, *d;

	if (code == 304 && kind == K_POLICY_COND) {
		st->ok++;
		return;
	}
	if (code != 200 || etag == NULL || strlen(etag) >= sizeof(ag->etag)) {
		st->errors++;
		return;
	}
	if (kind == K_POLICY_COND)
		st->changed++;
	memcpy(ag->etag, etag, strlen(etag) + 1);
	ag->doc_bytes = evbuffer_get_length(in);
	o = json_loadb((const char *)evbuffer_pullup(in, -1), evbuffer_get_length(in), 0, NULL);
	if (o == NULL || json_object_get(o, "version") == NULL) {
		st->errors++;
		note_error(f, "policy: the body is not a machine policy (HTTP %d)", code);
		json_decref(o);
		return;
	}
	deps = json_object_get(o, "deployments");
	d = json_array_get(deps, 0);
	if (d != NULL) {
		const char *u = json_string_value(json_object_get(d, "update_id"));

		if (u != NULL && strlen(u) == UPDATE_ID_LEN)
			memcpy(ag->update_id, u, UPDATE_ID_LEN + 1);
		ag->revision = json_integer_value(json_object_get(d, "revision"));
		ag->deployment = json_integer_value(json_object_get(d, "id"));
	}
	json_decref(o);
	st->ok++;
}

static void next_phase(struct fleet *f);

static void on_done(struct evhttp_request *req, void *arg)
{
	struct conn *cn = arg;
	struct fleet *f = cn->f;
	struct stats *st = &f->st[cn->kind];
	struct agent *ag = &f->agents[cn->job.agent];
	int code = req != NULL ? evhttp_request_get_response_code(req) : 0;
	double lat = now_s() - cn->sent;

	cn->busy = false;
	f->inflight--;
	f->idle[f->nidle++] = (size_t)(cn - f->conns);
	st->status[code >= 100 && code < 600 ? code / 100 : 0]++;
	(void)samples_add(&st->lat, lat);
	if (f->phase == P_RUN || f->phase == P_DRAIN)
		(void)samples_add(&f->win_lat[window_of(f, cn->sent + lat)], lat);
	if (code == 0) {
		st->errors++;
		note_error(f, "%s: no answer (connection failed or timed out)",
			   kind_names[cn->kind]);
	} else if (cn->kind == K_REGISTER) {
		handle_register(f, ag, evhttp_request_get_input_buffer(req), code, st);
	} else if (cn->kind == K_STATE) {
		if (code == 200)
			st->ok++;
		else
			st->errors++;
	} else {
		handle_policy(f, ag, req, code, cn->kind, st);
	}
	if (code >= 300 && code != 304) {
		struct evbuffer *in = evhttp_request_get_input_buffer(req);
		size_t n = evbuffer_get_length(in);
		char text[120];

		if (n >= sizeof(text))
			n = sizeof(text) - 1;
		(void)evbuffer_copyout(in, text, n);
		text[n] = '\0';
		note_error(f, "%s: HTTP %d %s", kind_names[cn->kind], code, text);
	}
	if (f->phase == P_DRAIN || f->phase == P_REGISTER || f->phase == P_FETCH) {
		if (f->inflight == 0 && f->nheap == 0)
			next_phase(f);
		else
			pump(f);
	} else {
		pump(f);
	}
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct fleet *f = arg;

	(void)fd;
	(void)what;
	if (f->phase == P_RUN && now_s() >= f->run_end) {
		f->phase = P_DRAIN;
		f->nheap = 0; /* what was not due by the end is not sent */
		if (f->inflight == 0)
			next_phase(f);
		return;
	}
	if (f->phase == P_DRAIN) {
		if (now_s() >= f->run_end + DRAIN_GRACE) {
			note_error(f, "%zu answers were still outstanding after the grace time",
				   f->inflight);
			f->phase = P_DONE;
			event_base_loopbreak(f->base);
		}
		return;
	}
	pump(f);
}

/* The RUN phase's schedule: each agent's polls, one interval apart with +-10 % jitter from a
 * random phase, and its state posts at random times. */
static int schedule_run(struct fleet *f)
{
	for (size_t i = 0; i < f->c.agents; i++) {
		double t = rand_unit(&f->rng) * f->c.poll_seconds;

		if (f->agents[i].cred[0] == '\0')
			continue; /* not registered: nothing to do */
		while (t < f->c.seconds) {
			if (heap_push(f, t, (uint32_t)i, J_POLL) != 0)
				return -1;
			t += f->c.poll_seconds * (0.9 + 0.2 * rand_unit(&f->rng));
		}
		for (size_t k = 0; k < f->c.state_posts; k++)
			if (heap_push(f, rand_unit(&f->rng) * f->c.seconds, (uint32_t)i, J_STATE) !=
			    0)
				return -1;
	}
	return 0;
}

static void next_phase(struct fleet *f)
{
	double t = now_s();

	if (f->phase == P_REGISTER) {
		printf("registration: %zu agents in %.2f s (%.0f a second) over %zu connections, "
		       "%zu errors\n",
		       f->c.agents, t - f->phase_start, (double)f->c.agents / (t - f->phase_start),
		       f->c.connections, f->st[K_REGISTER].errors);
		printf(
		    "figures-register: register_s=%.3f register_p50_ms=%.3f register_p99_ms=%.3f\n",
		    t - f->phase_start, 1e3 * sorted_quantile(&f->st[K_REGISTER].lat, 0.5),
		    1e3 * sorted_quantile(&f->st[K_REGISTER].lat, 0.99));
		fflush(stdout);
		if (f->c.register_only != NULL) {
			f->phase = P_FETCH;
			for (size_t i = 0; i < f->c.agents; i++)
				if (f->agents[i].cred[0] != '\0' &&
				    heap_push(f, 0, (uint32_t)i, J_POLL) != 0)
					goto fail;
		} else {
			f->phase = P_RUN;
			if (schedule_run(f) != 0)
				goto fail;
			f->scheduled = f->nheap;
			printf(
			    "run: %zu requests scheduled over %.0f s (%zu polls an agent, one each "
			    "%.1f s, %zu state posts of %zu messages)\n",
			    f->nheap, f->c.seconds,
			    (size_t)(f->c.seconds / f->c.poll_seconds + 0.999), f->c.poll_seconds,
			    f->c.state_posts, f->c.messages);
			fflush(stdout);
		}
		f->phase_start = now_s();
		f->run_end = f->phase_start + f->c.seconds;
		f->nwin = (size_t)(f->c.seconds / WINDOW_S + 0.999) + 1; /* the last: the drain */
		pump(f);
		return;
	}
	f->phase = P_DONE;
	event_base_loopbreak(f->base);
	return;
fail:
	fprintf(stderr, "fleet: out of memory\n");
	f->phase = P_DONE;
	event_base_loopbreak(f->base);
}

static void report(struct fleet *f, double run_s)
{
	size_t total = 0, errors = 0, sent = 0;

	printf("%-12s %9s %8s %7s %8s %9s %9s %9s %9s\n", "kind", "requests", "ok", "errors",
	       "req/s", "p50 ms", "p99 ms", "max ms", "lag p99");
	for (int k = K_POLICY_FULL; k < K_COUNT; k++) {
		struct stats *st = &f->st[k];

		qsort(st->lat.v, st->lat.n, sizeof(double), cmp_double);
		qsort(st->lag.v, st->lag.n, sizeof(double), cmp_double);
		total += st->lat.n;
		sent += st->sent;
		errors += st->errors + (st->sent - st->lat.n);
		printf("%-12s %9zu %8zu %7zu %8.0f %9.2f %9.2f %9.2f %9.2f\n", kind_names[k],
		       st->lat.n, st->ok, st->errors + (st->sent - st->lat.n),
		       (double)st->lat.n / run_s, 1e3 * quantile(&st->lat, 0.5),
		       1e3 * quantile(&st->lat, 0.99), 1e3 * quantile(&st->lat, 1.0),
		       1e3 * quantile(&st->lag, 0.99));
	}
	printf(
	    "time series (%.0f s windows, every kind): sent, answered, p50/p99 ms of the answers, "
	    "most in flight\n",
	    WINDOW_S);
	for (size_t w = 0; w < f->nwin; w++) {
		struct samples *ws = &f->win_lat[w];

		if (w + 1 == f->nwin && ws->n == 0)
			break;
		qsort(ws->v, ws->n, sizeof(double), cmp_double);
		printf("  %5.0f-%-5s %7zu %7zu %8.2f %8.2f %5zu\n", WINDOW_S * (double)w,
		       w + 1 == f->nwin ? "drain" : "", f->win_sent[w], ws->n,
		       1e3 * quantile(ws, 0.5), 1e3 * quantile(ws, 0.99), f->win_inflight_max[w]);
	}
	printf("answers to If-None-Match that were a 200 (the policy changed): %zu\n",
	       f->st[K_POLICY_COND].changed);
	printf("total: %zu requests in %.1f s (%.0f a second), %zu errors; %zu of the %zu "
	       "scheduled were not sent by the end (every connection busy)\n",
	       total, run_s, (double)total / run_s, errors, f->scheduled - sent, f->scheduled);
	for (size_t i = 0; i < f->nerrors_seen; i++)
		printf("error: %s\n", f->errors_seen[i]);
	printf("figures: agents=%zu register_errors=%zu requests=%zu errors=%zu rps=%.0f "
	       "scheduled=%zu unsent=%zu",
	       f->c.agents, f->st[K_REGISTER].errors, total, errors, (double)total / run_s,
	       f->scheduled, f->scheduled - sent);
	for (int k = K_POLICY_FULL; k < K_COUNT; k++)
		printf(" %s_n=%zu %s_p50_ms=%.3f %s_p99_ms=%.3f %s_lag_p99_ms=%.3f", kind_keys[k],
		       f->st[k].lat.n, kind_keys[k], 1e3 * quantile(&f->st[k].lat, 0.5),
		       kind_keys[k], 1e3 * quantile(&f->st[k].lat, 0.99), kind_keys[k],
		       1e3 * quantile(&f->st[k].lag, 0.99));
	printf("\n");
}

static int write_credentials(const struct fleet *f)
{
	FILE *out = fopen(f->c.register_only, "w");
	size_t n = 0;

	if (out == NULL) {
		fprintf(stderr, "fleet: %s: %s\n", f->c.register_only, strerror(errno));
		return -1;
	}
	for (size_t i = 0; i < f->c.agents; i++) {
		const struct agent *ag = &f->agents[i];

		if (ag->cred[0] == '\0' || ag->etag[0] == '\0')
			continue;
		fprintf(out, "%s %s %s %zu\n", ag->id, ag->cred, ag->etag, ag->doc_bytes);
		n++;
	}
	if (fclose(out) != 0) {
		fprintf(stderr, "fleet: %s: %s\n", f->c.register_only, strerror(errno));
		return -1;
	}
	printf("wrote %zu devices (id, credential, ETag, policy bytes) to %s; %zu errors "
	       "fetching policies\n",
	       n, f->c.register_only, f->st[K_POLICY_FULL].errors);
	return n == f->c.agents ? 0 : -1;
}

static int parse_number(const char *text, double min, double max, double *out)
{
	char *end = NULL;
	double v;

	errno = 0;
	v = strtod(text, &end);
	if (end == text || *end != '\0' || errno != 0 || !(v >= min && v <= max))
		return -1;
	*out = v;
	return 0;
}

static int parse_args(int argc, char **argv, struct config *c)
{
	c->port = 0;
	c->key = c->register_only = NULL;
	c->agents = 10000;
	c->connections = 512;
	c->state_posts = 2;
	c->messages = 3;
	c->seconds = 30;
	c->poll_seconds = 10;
	c->seed = 1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		double x = 0;
		int bad = v == NULL;

		if (!bad && strcmp(a, "--enrollment-key") == 0)
			c->key = v;
		else if (!bad && strcmp(a, "--register-only") == 0)
			c->register_only = v;
		else if (!bad && strcmp(a, "--port") == 0)
			bad = parse_number(v, 1, 65535, &x) != 0 || (c->port = (unsigned)x) == 0;
		else if (!bad && strcmp(a, "--agents") == 0)
			bad = parse_number(v, 1, 1000000, &x) != 0 || (c->agents = (size_t)x) == 0;
		else if (!bad && strcmp(a, "--connections") == 0)
			bad =
			    parse_number(v, 1, 10000, &x) != 0 || (c->connections = (size_t)x) == 0;
		else if (!bad && strcmp(a, "--state-posts") == 0)
			bad =
			    parse_number(v, 0, 1000, &x) != 0 || ((c->state_posts = (size_t)x), 0);
		else if (!bad && strcmp(a, "--messages") == 0)
			bad = parse_number(v, 1, 256, &x) != 0 || (c->messages = (size_t)x) == 0;
		else if (!bad && strcmp(a, "--seconds") == 0)
			bad = parse_number(v, 1, 3600, &c->seconds) != 0;
		else if (!bad && strcmp(a, "--poll-seconds") == 0)
			bad = parse_number(v, 0.1, 3600, &c->poll_seconds) != 0;
		else if (!bad && strcmp(a, "--seed") == 0)
			bad = parse_number(v, 1, 1e15, &x) != 0 || (c->seed = (uint64_t)x) == 0;
		else
			bad = 1;
		if (bad) {
			fprintf(stderr, "fleet: bad option %s%s%s\n", a, v ? " " : "", v ? v : "");
			return -1;
		}
		i++;
	}
	if (c->port == 0 || c->key == NULL) {
		fprintf(stderr,
			"usage: fleet --port PORT --enrollment-key KEY [--agents N] [--seconds S] "
			"[--connections C] [--poll-seconds P] [--state-posts K] [--messages M] "
			"[--seed X] [--register-only FILE]\n");
		return -1;
	}
	return 0;
}

/* Room for the connections and a margin: the soft limit raised towards the hard one. */
static int raise_fd_limit(size_t need)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return -1;
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
		rl.rlim_cur =
		    rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need ? need : rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < need) {
			fprintf(stderr, "fleet: %zu file descriptors needed, the limit is %llu\n",
				need, (unsigned long long)rl.rlim_cur);
			return -1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct fleet f;
	struct timeval tv = {0, 1000};
	struct event_config *cfg;
	int rc = 1;

	memset(&f, 0, sizeof(f));
	if (parse_args(argc, argv, &f.c) != 0)
		return 2;
	if (raise_fd_limit(f.c.connections + 64) != 0)
		return 1;
	f.rng = f.c.seed * 0x9e3779b97f4a7c15ull | 1;
	/* A precise timer (timerfd): epoll's millisecond timeouts come in ticks of the kernel's
	 * clock here, which would show as lag. */
	cfg = event_config_new();
	if (cfg != NULL && event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER) == 0)
		f.base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	f.agents = calloc(f.c.agents, sizeof(*f.agents));
	f.conns = calloc(f.c.connections, sizeof(*f.conns));
	f.idle = calloc(f.c.connections, sizeof(*f.idle));
	if (f.base == NULL || f.agents == NULL || f.conns == NULL || f.idle == NULL) {
		fprintf(stderr, "fleet: out of memory\n");
		goto out;
	}
	for (size_t i = 0; i < f.c.connections; i++) {
		struct conn *cn = &f.conns[i];

		cn->f = &f;
		cn->evcon =
		    evhttp_connection_base_new(f.base, NULL, "127.0.0.1", (unsigned short)f.c.port);
		if (cn->evcon == NULL) {
			fprintf(stderr, "fleet: cannot make connection %zu\n", i);
			goto out;
		}
		evhttp_connection_set_timeout(cn->evcon, REQUEST_TIMEOUT);
		evhttp_connection_set_max_body_size(cn->evcon, BODY_MAX);
		f.idle[f.nidle++] = f.c.connections - 1 - i;
	}
	f.tick = event_new(f.base, -1, EV_PERSIST, on_tick, &f);
	if (f.tick == NULL || event_add(f.tick, &tv) != 0) {
		fprintf(stderr, "fleet: cannot add the timer\n");
		goto out;
	}
	printf("fleet: %zu agents against http://127.0.0.1:%u, %zu keep-alive connections\n",
	       f.c.agents, f.c.port, f.c.connections);
	fflush(stdout);
	for (size_t i = 0; i < f.c.agents; i++)
		if (heap_push(&f, 0, (uint32_t)i, J_REGISTER) != 0) {
			fprintf(stderr, "fleet: out of memory\n");
			goto out;
		}
	f.phase = P_REGISTER;
	f.phase_start = now_s();
	pump(&f);
	event_base_dispatch(f.base);
	if (f.c.register_only != NULL) {
		rc = write_credentials(&f) == 0 && f.st[K_REGISTER].errors == 0 ? 0 : 1;
		goto out;
	}
	report(&f, f.c.seconds);
	rc = 0;
out:
	for (size_t i = 0; f.conns != NULL && i < f.c.connections; i++)
		if (f.conns[i].evcon != NULL)
			evhttp_connection_free(f.conns[i].evcon);
	if (f.tick != NULL)
		event_free(f.tick);
	if (f.base != NULL)
		event_base_free(f.base);
	for (size_t w = 0; w < WINDOWS_MAX; w++)
		free(f.win_lat[w].v);
	for (int k = 0; k < K_COUNT; k++) {
		free(f.st[k].lat.v);
		free(f.st[k].lag.v);
	}
	free(f.heap);
	free(f.idle);
	free(f.conns);
	free(f.agents);
	return rc;
}
