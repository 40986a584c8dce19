/* cli_log.c - patchpoint log NAME [--follow]: a server log (wsyncmgr.log, WCM.log,
 * patchpointd.log) read through patchpointd's REST API, like CMTrace opening it, or tail -f. */
#include "cli.h"
#include "cli_api.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char log_manual[] =
    "NAME\n"
    "    patchpoint log - print a log of the server\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpoint log NAME [--follow] [--interval SECONDS] [--json] [connection options]\n"
    "\n"
    "DESCRIPTION\n"
    "    Prints the log NAME of patchpointd as it is written, CMTrace records one per line:\n"
    "    wsyncmgr (synchronization and the certificate step), WCM (changes of the SUP\n"
    "    component's settings), Publisher (the signing certificate) or patchpointd\n"
    "    (requests and the daemon's life), with or without .log, in any case. The server\n"
    "    names the logs it has. With --follow, keeps printing what is appended, as\n"
    "    tail -f does, until interrupted (SIGINT or SIGTERM); when the log rolls over to\n"
    "    .lo_ it goes on from the start of the new one.\n"
    "\n"
    "OPTIONS\n"
    "    --follow              keep printing what is appended\n"
    "    --interval SECONDS    with --follow, how often to ask (default 1; 0.1 to 3600)\n"
    "    --json                print {\"name\",\"size\",\"next_offset\",\"text\"} as JSON; with\n"
    "                          --follow, JSON Lines: one such object per line, first\n"
    "                          the log so far, then one per read that brought "
    "text\n" CLI_API_MANUAL_OPTIONS "\n"
    "EXIT STATUS\n"
    "    0 printed (also when --follow ends on SIGINT or SIGTERM), 1 unknown log or the server\n"
    "    refused or could not be reached, 2 usage error.\n"
    "\n" CLI_API_MANUAL_FILES;

enum {
	OPT_FOLLOW = 256,
	OPT_INTERVAL,
	OPT_JSON,
};

static volatile sig_atomic_t g_stop;

static void on_stop(int sig)
{
	(void)sig;
	g_stop = 1;
}

static int parse_interval(const char *text, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(text, &end);
	if (errno != 0 || end == text || *end != '\0' || !isfinite(v) || v < 0.1 || v > 3600)
		return -1;
	*out = v;
	return 0;
}

/* Sleeps for seconds, returning early when a stop signal arrives. */
static void pause_for(double seconds)
{
	time_t whole = (time_t)seconds; /* seconds is positive: the cast truncates */
	struct timespec ts = {whole, (long)((seconds - (double)whole) * 1e9)};

	while (!g_stop && nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Reads one chunk of the log from *offset; sets *offset to the next one. *file_id is the
 * server's identity of the file (0 before the first read): when it changes the log was replaced
 * (rolled over), so the chunk is read again from the start of the new file. */
static json_t *log_read(struct cli *cli, struct cli_api *api, const char *name, long long *offset,
			long long *file_id, int *rc)
{
	struct pp_error err;
	char path[256];
	json_t *doc = NULL;
	long long id;

	for (int attempt = 0; attempt < 2; attempt++) {
		pp_error_clear(&err);
		json_decref(doc);
		(void)snprintf(path, sizeof(path), "/api/v1/logs/%s?offset=%lld", name, *offset);
		doc = cli_api_call(api, "GET", path, NULL, &err);
		if (doc == NULL) {
			*rc = cli_fail(cli, &err);
			return NULL;
		}
		id = cli_json_int(doc, "file_id", 0);
		if (*file_id == 0 || id == *file_id || *offset == 0) {
			*file_id = id;
			break;
		}
		*file_id = id;
		*offset = 0;
	}
	*offset = cli_json_int(doc, "next_offset", *offset);
	*rc = CLI_EXIT_OK;
	return doc;
}

/* The whole log as one JSON document is bounded; --follow is for logs larger than that. */
#define LOG_JSON_MAX (64u << 20)

struct text_buffer {
	char *data;
	size_t len;
};

static int text_append(struct text_buffer *b, const json_t *text)
{
	size_t n = json_string_length(text);
	char *p;

	if (n == 0)
		return 0;
	if (n > LOG_JSON_MAX - b->len)
		return -1;
	p = realloc(b->data, b->len + n + 1);
	if (p == NULL)
		return -1;
	memcpy(p + b->len, json_string_value(text), n);
	b->len += n;
	p[b->len] = '\0';
	b->data = p;
	return 0;
}

static void print_text(const json_t *doc)
{
	const json_t *text = json_object_get(doc, "text");

	if (json_string_length(text) > 0) {
		(void)fwrite(json_string_value(text), 1, json_string_length(text), stdout);
		(void)fflush(stdout);
	}
}

int cli_logs(struct cli *cli, int argc, char **argv)
{
	static const struct option options[] = {
	    {"follow", no_argument, NULL, OPT_FOLLOW},
	    {"interval", required_argument, NULL, OPT_INTERVAL},
	    {"json", no_argument, NULL, OPT_JSON},
	    CLI_API_LONG_OPTIONS,
	    {NULL, 0, NULL, 0},
	};
	struct cli_api_flags flags = {0};
	struct cli_api *api = NULL;
	struct sigaction sa;
	json_t *doc = NULL, *all = NULL;
	struct text_buffer acc = {NULL, 0};
	char *name = NULL;
	bool follow = false, json = false;
	double interval = 1.0;
	long long offset = 0, before, file_id = 0;
	int c, rc = CLI_EXIT_OK;

	if (cli_wants_help(argc, argv) || (argc > 1 && strcmp(argv[1], "help") == 0))
		return cli_manual(log_manual);
	optind = 0;
	while ((c = getopt_long(argc, argv, "f", options, NULL)) != -1) {
		switch (c) {
		case 'f':
		case OPT_FOLLOW:
			follow = true;
			break;
		case OPT_INTERVAL:
			if (parse_interval(optarg, &interval) != 0)
				return cli_usage("log",
						 "--interval must be 0.1..3600 seconds, not '%s'",
						 optarg);
			break;
		case OPT_JSON:
			json = true;
			break;
		default:
			if (!cli_api_flag(&flags, c, optarg))
				return cli_usage("log", "invalid option");
		}
	}
	if (argc - optind != 1)
		return cli_usage("log",
				 "expected one log NAME (wsyncmgr, WCM, Publisher, patchpointd)");
	api = cli_api_open(cli, "log", &flags, &rc);
	if (api == NULL)
		return rc;
	name = cli_api_escape(argv[optind]);
	if (name == NULL || strlen(name) > 128) {
		rc = cli_failf(cli, "'%s' is not a log name", argv[optind]);
		goto out;
	}

	/* Everything there is now: chunks of at most 1 MiB until the end. */
	for (;;) {
		const json_t *text;

		before = offset;
		doc = log_read(cli, api, name, &offset, &file_id, &rc);
		if (doc == NULL)
			goto out;
		text = json_object_get(doc, "text");
		if (!json)
			print_text(doc);
		else if (text_append(&acc, text) != 0) {
			rc = cli_failf(cli, "the log is over %u MiB; read it with --follow",
				       LOG_JSON_MAX >> 20);
			goto out;
		}
		/* Done at the end of the log, or when a read brought nothing new. */
		if (offset <= before || offset >= cli_json_int(doc, "size", offset) ||
		    json_string_length(text) == 0)
			break;
		json_decref(doc);
		doc = NULL;
	}
	if (json) {
		all = json_pack("{s:s, s:I, s:I, s:I, s:s%}", "name", cli_json_str(doc, "name"),
				"offset", (json_int_t)0, "next_offset", (json_int_t)offset, "size",
				(json_int_t)cli_json_int(doc, "size", offset), "text",
				acc.data != NULL ? acc.data : "", acc.len);
		if (all == NULL) {
			rc = cli_failf(cli, "the log's text is not UTF-8");
			goto out;
		}
		if (follow) {
			/* JSON Lines: every document of --follow on one line. */
			(void)json_dumpf(all, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
			(void)fputc('\n', stdout);
		} else {
			(void)cli_print_json(all);
			all = NULL;
		}
		(void)fflush(stdout);
	}
	json_decref(doc);
	doc = NULL;
	if (!follow)
		goto out;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	(void)sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGINT, &sa, NULL);
	(void)sigaction(SIGTERM, &sa, NULL);
	while (!g_stop) {
		pause_for(interval);
		if (g_stop)
			break;
		doc = log_read(cli, api, name, &offset, &file_id, &rc);
		if (doc == NULL) {
			if (g_stop)
				rc = CLI_EXIT_OK;
			goto out;
		}
		if (json && json_string_length(json_object_get(doc, "text")) > 0) {
			(void)json_dumpf(doc, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
			(void)fputc('\n', stdout);
			(void)fflush(stdout);
		} else if (!json) {
			print_text(doc);
		}
		json_decref(doc);
		doc = NULL;
	}
	rc = CLI_EXIT_OK;
out:
	free(acc.data);
	free(name);
	json_decref(doc);
	json_decref(all);
	cli_api_free(api);
	return rc;
}
