/* daemon_main.c - patchpointd: the site server (issue 3, DESIGN 2 and 6).
 *
 *   patchpointd init [--config F] --data-dir D [--site-code PP1] [--site-name NAME]
 *   patchpointd run  [--config F [--check-config]] --data-dir D [--listen A:P]
 *                    [--listen-tls A:P --tls-cert F --tls-key F]
 *                    [--roles site,sup,mp] [--workers N]
 *
 * Every option can come from an INI file (--config; docs/patchpointd.conf.sample lists them all);
 * a flag overrides the file. A bad file is a usage error (exit 2) before anything starts.
 *
 * The data directory holds patchpoint.db (the store), keys/ (the signer's, 0700), machine/ (the
 * server's own certificate stores, Root and TrustedPublisher) and logs/ (patchpointd.log,
 * wsyncmgr.log, WCM.log, Publisher.log; CMTrace). run starts the signer child first (with the
 * sup role), before any thread and before the database or the logs are opened, so the child
 * inherits neither; then the sync manager thread (site role) and the HTTP workers. The routes are
 * in api.c (site role) and sup_api.c (sup role); each worker keeps its own database connection.
 *
 * Signals: SIGTERM and SIGINT call httpd_shutdown (only write(2)s to eventfds) and set a flag;
 * SIGHUP sets a flag. They are blocked while the threads start, so the threads inherit a mask
 * that keeps them out, and the main thread waits for them in sigsuspend. */
#include "api.h"
#include "catalog_api.h"
#include "ci_api.h"
#include "content.h"
#include "content_api.h"
#include "device_api.h"
#include "gpo_api.h"
#include "publish_api.h"
#include "cmtrace.h"
#include "error.h"
#include "hresult.h"
#include "httpd.h"
#include "signer.h"
#include "signstore.h"
#include "srvlog.h"
#include "store.h"
#include "sup_api.h"
#include "syncmgr.h"
#include "upload.h"
#include "publish.h"
#include "upload_api.h"
#include "ts_api.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <dirent.h>
#include <ini.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#ifndef PATCHPOINT_VERSION
#define PATCHPOINT_VERSION "0.1.0"
#endif

#define DAEMON_COMPONENT      "patchpointd"
#define DAEMON_DB_NAME	      "patchpoint.db"
#define DAEMON_LOG_NAME	      "patchpointd.log"
#define DAEMON_TOKEN_BYTES    32
#define DAEMON_DEFAULT_SITE   "PP1"
#define DAEMON_DEFAULT_NAME   "Primary site"
#define DAEMON_LOCAL_SUP_URL  "http://localhost:8530/"
#define DAEMON_DEFAULT_LISTEN "127.0.0.1:8530"
#define DAEMON_SYNC_INTERVAL  (7u * 24u * 3600u) /* Configuration Manager's default: weekly */

static const char usage_main[] =
    "NAME\n"
    "    patchpointd - the patchpoint site server\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpointd init [--config FILE] --data-dir DIR [--site-code CODE] [--site-name NAME]\n"
    "    patchpointd run [--config FILE [--check-config]] --data-dir DIR [--listen ADDR:PORT]\n"
    "                    [--listen-tls ADDR:PORT --tls-cert FILE --tls-key FILE]\n"
    "                    [--roles site,sup,mp] [--workers N]\n"
    "    patchpointd --help | --version\n"
    "\n"
    "DESCRIPTION\n"
    "    init creates a data directory with a standalone primary site and its local software\n"
    "    update point and prints an admin token once. run serves the REST API from it.\n"
    "    'patchpointd COMMAND --help' describes each command. Every option can also be set in\n"
    "    an INI file given with --config (docs/patchpointd.conf.sample); flags override it.\n"
    "\n"
    "EXIT STATUS\n"
    "    0 success, 1 a failed operation (one line on stderr), 2 a usage error.\n";

static const char usage_init[] =
    "NAME\n"
    "    patchpointd init - create a data directory\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpointd init [--config FILE] --data-dir DIR [--site-code CODE] [--site-name NAME]\n"
    "\n"
    "DESCRIPTION\n"
    "    Creates DIR (mode 0700) with DIR/patchpoint.db, DIR/keys/ (the signer's, 0700) and\n"
    "    DIR/logs/; adds a standalone primary site and its local SUP (" DAEMON_LOCAL_SUP_URL ",\n"
    "    the sync source). Prints an admin token once: only its hash is kept, so save it now.\n"
    "    An existing DIR must be empty; an initialised one is never initialised again.\n"
    "\n"
    "OPTIONS\n"
    "    --config FILE      read options from an INI file: data_dir in [server], code and name\n"
    "                       in [site] (docs/patchpointd.conf.sample); flags override it\n"
    "    --data-dir DIR     the data directory to create\n"
    "    --site-code CODE   three characters A-Z 0-9 (default " DAEMON_DEFAULT_SITE ")\n"
    "    --site-name NAME   the site's display name (default \"" DAEMON_DEFAULT_NAME "\")\n"
    "\n"
    "EXIT STATUS\n"
    "    0 success, 1 a failed operation, 2 a usage error (a bad config file is one).\n";

static const char usage_run[] =
    "NAME\n"
    "    patchpointd run - serve the REST API of a data directory\n"
    "\n"
    "SYNOPSIS\n"
    "    patchpointd run [--config FILE [--check-config]] --data-dir DIR [--listen ADDR:PORT]\n"
    "                    [--listen-tls ADDR:PORT --tls-cert FILE --tls-key FILE]\n"
    "                    [--roles site,sup,mp] [--workers N] [--sync-interval SECONDS]\n"
    "                    [--managed-cert-days N] [--managed-key-bits BITS]\n"
    "                    [--sup-ca-bundle FILE] [--sup-token-file FILE]\n"
    "                    [--access-log errors|all]\n"
    "\n"
    "DESCRIPTION\n"
    "    Starts the signer child (keys in DIR/keys), then the HTTP(S) workers. Prints\n"
    "    'patchpointd: listening on http://ADDR:PORT' (and https) once it serves; port 0 picks a\n"
    "    free port and the real one is printed. Logs to DIR/logs/patchpointd.log (CMTrace).\n"
    "    SIGTERM or SIGINT stops gracefully (exit 0); SIGHUP reopens the logs.\n"
    "\n"
    "OPTIONS\n"
    "    --config FILE           read options from an INI file, [server] data_dir, listen,\n"
    "                            listen_tls, tls_cert, tls_key, roles, workers (every one in\n"
    "                            docs/patchpointd.conf.sample); flags override it. An unknown\n"
    "                            key or a bad value is a usage error naming FILE:LINE and key\n"
    "    --check-config          check the options, print the settings run would use, exit\n"
    "    --data-dir DIR          a directory made by 'patchpointd init'\n"
    "    --listen ADDR:PORT      plain HTTP (default " DAEMON_DEFAULT_LISTEN
    " without --listen-tls)\n"
    "    --listen-tls ADDR:PORT  HTTPS, with --tls-cert (PEM chain) and --tls-key (PEM key)\n"
    "    --roles LIST            comma-separated site, sup, mp (default all three)\n"
    "    --workers N             HTTP worker threads, 1-64 (default 2)\n"
    "    --sync-interval SECONDS seconds between scheduled synchronizations; 0 = on demand\n"
    "                            only (default 604800, weekly)\n"
    "    --managed-cert-days N   validity of the certificate a sync generates when\n"
    "                            Configuration Manager manages the certificate (default 1095)\n"
    "    --managed-key-bits BITS its RSA key length: 2048 (default), 3072 or 4096\n"
    "    --sup-ca-bundle FILE    PEM CAs trusted for a remote SUP's HTTPS certificate\n"
    "    --sup-token-file FILE   the remote SUP's admin token (a 0600 file)\n"
    "    --access-log WHAT       requests written to patchpointd.log: errors (status 400 and\n"
    "                            above, the default) or all\n"
    "\n"
    "ROLES\n"
    "    site  the REST API of the hierarchy, the sync manager (wsyncmgr.log), WCM.log\n"
    "    sup   the signer child and its signing store, served to remote site servers over\n"
    "          HTTPS only (/api/v1/signing-store)\n"
    "    mp    the management point (nothing yet)\n"
    "\n"
    "LOGS\n"
    "    DIR/logs: patchpointd.log, wsyncmgr.log, WCM.log, Publisher.log (CMTrace).\n"
    "\n"
    "EXIT STATUS\n"
    "    0 success (including a stop by signal), 1 a failed operation, 2 a usage error\n"
    "    (a bad config file is one; nothing is started then).\n";

/* ---- shared state of a running daemon ---- */

/* The logs of a running daemon; NULL members are silent (srvlog_write accepts NULL). */
struct daemon_logs {
	struct srvlog *main; /* patchpointd.log */
	struct srvlog *sync; /* wsyncmgr.log */
	struct srvlog *wcm;  /* WCM.log */
	struct srvlog *publisher;
	struct srvlog *isv;   /* SMS_ISVUPDATES_SYNCAGENT.log */
	struct srvlog *sdist; /* SoftwareDistribution.log */
};

static struct daemon_logs g_logs;
static struct httpd *volatile g_httpd;
static volatile sig_atomic_t g_stop, g_reopen;

static int usage(const char *fmt, ...) PP_PRINTF(1, 2);

/* A usage error: one line on stderr and a pointer to --help; exit status 2. */
static int usage(const char *fmt, ...)
{
	va_list ap;

	fputs("patchpointd: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" (see --help)\n", stderr);
	return 2;
}

static int fail(const struct pp_error *err)
{
	fprintf(stderr, "patchpointd: %s (0x%08X)\n", err->message, (unsigned)err->code);
	return 1;
}

#define daemon_log(...) srvlog_write(g_logs.main, __VA_ARGS__)

static int join_path(char *out, size_t size, const char *dir, const char *name,
		     struct pp_error *err)
{
	int n = snprintf(out, size, "%s/%s", dir, name);

	if (n < 0 || (size_t)n >= size) {
		pp_error_set(err, HR_E_INVALIDARG, "path too long: %s/%s", dir, name);
		return -1;
	}
	return 0;
}

/* ---- configuration: command-line flags over an INI file (docs/patchpointd.conf.sample) ---- */

enum conf_key {
	CONF_DATA_DIR,
	CONF_LISTEN,
	CONF_LISTEN_TLS,
	CONF_TLS_CERT,
	CONF_TLS_KEY,
	CONF_ROLES,
	CONF_WORKERS,
	CONF_SITE_CODE,
	CONF_SITE_NAME,
	CONF_SYNC_INTERVAL,
	CONF_MANAGED_DAYS,
	CONF_MANAGED_BITS,
	CONF_SUP_CA_BUNDLE,
	CONF_SUP_TOKEN_FILE,
	CONF_ACCESS_LOG,
	CONF_KEYS
};

#define CONF_FOR_INIT 0x1
#define CONF_FOR_RUN  0x2

/* Every option: its INI section and key, its flag, and which commands take the flag. */
static const struct conf_option {
	const char *section, *key, *flag;
	unsigned commands;
} conf_options[CONF_KEYS] = {
    [CONF_DATA_DIR] = {"server", "data_dir", "--data-dir", CONF_FOR_INIT | CONF_FOR_RUN},
    [CONF_LISTEN] = {"server", "listen", "--listen", CONF_FOR_RUN},
    [CONF_LISTEN_TLS] = {"server", "listen_tls", "--listen-tls", CONF_FOR_RUN},
    [CONF_TLS_CERT] = {"server", "tls_cert", "--tls-cert", CONF_FOR_RUN},
    [CONF_TLS_KEY] = {"server", "tls_key", "--tls-key", CONF_FOR_RUN},
    [CONF_ROLES] = {"server", "roles", "--roles", CONF_FOR_RUN},
    [CONF_WORKERS] = {"server", "workers", "--workers", CONF_FOR_RUN},
    [CONF_SITE_CODE] = {"site", "code", "--site-code", CONF_FOR_INIT},
    [CONF_SITE_NAME] = {"site", "name", "--site-name", CONF_FOR_INIT},
    [CONF_SYNC_INTERVAL] = {"sync", "interval", "--sync-interval", CONF_FOR_RUN},
    [CONF_MANAGED_DAYS] = {"certificate", "managed_days", "--managed-cert-days", CONF_FOR_RUN},
    [CONF_MANAGED_BITS] = {"certificate", "managed_key_bits", "--managed-key-bits", CONF_FOR_RUN},
    [CONF_SUP_CA_BUNDLE] = {"remote_sup", "ca_bundle", "--sup-ca-bundle", CONF_FOR_RUN},
    [CONF_SUP_TOKEN_FILE] = {"remote_sup", "token_file", "--sup-token-file", CONF_FOR_RUN},
    [CONF_ACCESS_LOG] = {"server", "access_log", "--access-log", CONF_FOR_RUN},
};

/* The effective settings: value[k] is the flag's, else the file's, else NULL (the default). */
struct daemon_conf {
	const char *value[CONF_KEYS];
	char *file_value[CONF_KEYS]; /* owned copies of the file's values */
	int file_line[CONF_KEYS];
	const char *path; /* the --config file, NULL without one */
	bool check;	  /* --check-config */
};

static void conf_free(struct daemon_conf *c)
{
	for (int k = 0; k < CONF_KEYS; k++)
		free(c->file_value[k]);
	memset(c, 0, sizeof(*c));
}

static int parse_roles(const char *list, unsigned *roles);

/* 0 when v is a decimal number in [min, max]; -1 with the reason in why otherwise. */
static int conf_check_number(const char *v, long min, long max, char *why, size_t size)
{
	char *end;
	unsigned long n = strtoul(v, &end, 10);

	if (*end != '\0' || *v < '0' || *v > '9' || n < (unsigned long)min ||
	    n > (unsigned long)max) {
		(void)snprintf(why, size, "'%s' is not a number from %ld to %ld", v, min, max);
		return -1;
	}
	return 0;
}

/* 0 when v is a valid value of option k; -1 with the reason in why otherwise. */
static int conf_check_value(enum conf_key k, const char *v, char *why, size_t size)
{
	struct sockaddr_storage ss;
	socklen_t len;
	struct pp_error err;
	unsigned roles;

	if (*v == '\0') {
		(void)snprintf(why, size, "empty value");
		return -1;
	}
	switch (k) {
	case CONF_DATA_DIR:
	case CONF_TLS_CERT:
	case CONF_TLS_KEY:
	case CONF_SUP_CA_BUNDLE:
	case CONF_SUP_TOKEN_FILE:
		if (strlen(v) >= PATH_MAX - 32) {
			(void)snprintf(why, size, "path too long");
			return -1;
		}
		return 0;
	case CONF_LISTEN:
	case CONF_LISTEN_TLS:
		pp_error_clear(&err);
		if (httpd_parse_listen(v, &ss, &len, &err) != 0) {
			(void)snprintf(why, size, "%s", err.message);
			return -1;
		}
		return 0;
	case CONF_ROLES:
		if (parse_roles(v, &roles) != 0) {
			(void)snprintf(why, size,
				       "'%s' is not a comma-separated list of site, sup, mp", v);
			return -1;
		}
		return 0;
	case CONF_WORKERS:
		return conf_check_number(v, 1, HTTPD_MAX_THREADS, why, size);
	case CONF_SITE_CODE:
		if (strlen(v) != STORE_SITE_CODE_LEN ||
		    strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
			      "0123456789") != STORE_SITE_CODE_LEN) {
			(void)snprintf(why, size, "'%s' is not 3 characters of A-Z and 0-9", v);
			return -1;
		}
		return 0;
	case CONF_SYNC_INTERVAL:
		return conf_check_number(v, 0, 366L * 24 * 3600, why, size);
	case CONF_MANAGED_DAYS:
		return conf_check_number(v, 1, 100L * 366, why, size);
	case CONF_MANAGED_BITS:
		if (strcmp(v, "2048") != 0 && strcmp(v, "3072") != 0 && strcmp(v, "4096") != 0) {
			(void)snprintf(why, size, "'%s' is not 2048, 3072 or 4096", v);
			return -1;
		}
		return 0;
	case CONF_ACCESS_LOG:
		if (strcmp(v, "errors") != 0 && strcmp(v, "all") != 0) {
			(void)snprintf(why, size, "'%s' is not errors or all", v);
			return -1;
		}
		return 0;
	case CONF_SITE_NAME:
	case CONF_KEYS:
		break;
	}
	return 0;
}

/* inih reads through this fgets so that the handler knows the line it is called for. */
struct conf_parse {
	FILE *f;
	int newlines, line; /* newlines read so far; the line of the last chunk read */
	struct daemon_conf *conf;
	int error_line; /* the first error the handler found, 0 for none */
	char error[1024];
};

static char *conf_read(char *str, int num, void *stream)
{
	struct conf_parse *p = stream;
	char *s = fgets(str, num, p->f);
	size_t n;

	if (s == NULL)
		return NULL;
	p->line = p->newlines + 1;
	n = strlen(s);
	if (n > 0 && s[n - 1] == '\n')
		p->newlines++;
	return s;
}

static int conf_on_value(void *user, const char *section, const char *name, const char *value)
{
	struct conf_parse *p = user;
	char why[600];
	int k;
	bool known_section = false;

	if (p->error_line != 0)
		return 0;
	for (k = 0; k < CONF_KEYS; k++) {
		if (strcmp(section, conf_options[k].section) != 0)
			continue;
		known_section = true;
		if (name != NULL && strcmp(name, conf_options[k].key) == 0)
			break;
	}
	if (!known_section) {
		(void)snprintf(p->error, sizeof(p->error), "unknown section [%s]", section);
		goto bad;
	}
	if (name == NULL)
		return 1;
	if (k == CONF_KEYS) {
		(void)snprintf(p->error, sizeof(p->error), "[%s] %s: unknown key", section, name);
		goto bad;
	}
	if (p->conf->file_value[k] != NULL) {
		(void)snprintf(p->error, sizeof(p->error), "[%s] %s: already set on line %d",
			       section, name, p->conf->file_line[k]);
		goto bad;
	}
	if (conf_check_value((enum conf_key)k, value, why, sizeof(why)) != 0) {
		(void)snprintf(p->error, sizeof(p->error), "[%s] %s: %s", section, name, why);
		goto bad;
	}
	p->conf->file_value[k] = strdup(value);
	if (p->conf->file_value[k] == NULL) {
		(void)snprintf(p->error, sizeof(p->error), "out of memory");
		goto bad;
	}
	p->conf->file_line[k] = p->line;
	return 1;
bad:
	p->error_line = p->line;
	return 0;
}

/* Reads c->path into c->file_value. A problem is a usage error: one line naming the file, the
 * line and the key on stderr; returns 2. */
static int conf_read_file(struct daemon_conf *c)
{
	struct conf_parse p;
	int line;

	memset(&p, 0, sizeof(p));
	p.conf = c;
	p.f = fopen(c->path, "r");
	if (p.f == NULL) {
		fprintf(stderr, "patchpointd: cannot read the config file %s: %s\n", c->path,
			strerror(errno));
		return 2;
	}
	line = ini_parse_stream(conf_read, &p, conf_on_value, &p);
	(void)fclose(p.f);
	if (line == 0)
		return 0;
	if (line > 0 && line == p.error_line)
		fprintf(stderr, "patchpointd: %s:%d: %s\n", c->path, line, p.error);
	else if (line > 0)
		fprintf(stderr, "patchpointd: %s:%d: not a [section] or a 'key = value' line\n",
			c->path, line);
	else
		fprintf(stderr, "patchpointd: %s: cannot parse (out of memory)\n", c->path);
	return 2;
}

/* Parses the flags of command (CONF_FOR_INIT or CONF_FOR_RUN), then the --config file under
 * them. Returns 0, or the exit status: 0 with *done after --help, 2 after a usage error. */
static int conf_load(int argc, char **argv, unsigned command, const char *help,
		     struct daemon_conf *c, bool *done)
{
	const char *name = command == CONF_FOR_INIT ? "init" : "run";
	const char *flag[CONF_KEYS] = {NULL};
	char why[600];
	int i, k, rc;

	memset(c, 0, sizeof(*c));
	*done = false;
	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(help, stdout);
			*done = true;
			return 0;
		}
		if (command == CONF_FOR_RUN && strcmp(argv[i], "--check-config") == 0) {
			c->check = true;
			continue;
		}
		if (i + 1 >= argc)
			return usage("%s: unknown option or missing value '%s'", name, argv[i]);
		if (strcmp(argv[i], "--config") == 0) {
			c->path = argv[++i];
			continue;
		}
		for (k = 0; k < CONF_KEYS; k++)
			if ((conf_options[k].commands & command) != 0 &&
			    strcmp(argv[i], conf_options[k].flag) == 0)
				break;
		if (k == CONF_KEYS)
			return usage("%s: unknown option '%s'", name, argv[i]);
		flag[k] = argv[++i];
		if (conf_check_value((enum conf_key)k, flag[k], why, sizeof(why)) != 0)
			return usage("%s: %s: %s", name, argv[i - 1], why);
	}
	if (c->path != NULL) {
		rc = conf_read_file(c);
		if (rc != 0) {
			conf_free(c);
			return rc;
		}
	}
	for (k = 0; k < CONF_KEYS; k++)
		c->value[k] = flag[k] != NULL ? flag[k] : c->file_value[k];
	return 0;
}

/* ---- init ---- */

/* 0 when dir is missing or empty (*exists tells which); -1 otherwise with the reason. */
static int init_check_dir(const char *dir, bool *exists, struct pp_error *err)
{
	char db[PATH_MAX];
	struct stat st;
	DIR *d;
	const struct dirent *de;
	int rc = -1;

	*exists = false;
	if (stat(dir, &st) != 0) {
		if (errno == ENOENT)
			return 0;
		pp_error_set_errno(err, errno, "cannot examine %s", dir);
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		pp_error_set(err, HR_E_INVALIDARG, "%s exists and is not a directory", dir);
		return -1;
	}
	*exists = true;
	if (join_path(db, sizeof(db), dir, DAEMON_DB_NAME, err) != 0)
		return -1;
	if (access(db, F_OK) == 0) {
		pp_error_set(err, HR_ERROR_ALREADY_EXISTS,
			     "%s is already initialised; nothing was changed", dir);
		return -1;
	}
	d = opendir(dir);
	if (d == NULL) {
		pp_error_set_errno(err, errno, "cannot read %s", dir);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
			pp_error_set(err, HR_E_INVALIDARG,
				     "%s is not empty and is not a patchpoint data directory", dir);
			goto out;
		}
	}
	rc = 0;
out:
	closedir(d);
	return rc;
}

static int make_dir(const char *path, struct pp_error *err)
{
	if (mkdir(path, 0700) != 0 && errno != EEXIST) {
		pp_error_set_errno(err, errno, "cannot create %s", path);
		return -1;
	}
	if (chmod(path, 0700) != 0) {
		pp_error_set_errno(err, errno, "cannot set the mode of %s", path);
		return -1;
	}
	return 0;
}

struct init_ctx {
	const char *code, *name, *token;
	struct store_sup sup;
};

static int init_tx(struct store *s, void *ctx, struct pp_error *err)
{
	struct init_ctx *c = ctx;

	if (store_site_add(s, c->code, c->name, NULL, err) != 0)
		return -1;
	memset(&c->sup, 0, sizeof(c->sup));
	(void)snprintf(c->sup.site_code, sizeof(c->sup.site_code), "%s", c->code);
	(void)snprintf(c->sup.url, sizeof(c->sup.url), "%s", DAEMON_LOCAL_SUP_URL);
	c->sup.location = STORE_SUP_LOCAL;
	c->sup.sync_source = true;
	if (store_sup_add(s, &c->sup, err) != 0)
		return -1;
	return store_admin_token_add(s, "init", c->token, err);
}

static int init_data_dir(const struct daemon_conf *c)
{
	const char *dir = c->value[CONF_DATA_DIR], *code = DAEMON_DEFAULT_SITE,
		   *name = DAEMON_DEFAULT_NAME;
	char path[PATH_MAX], token[2 * DAEMON_TOKEN_BYTES + 1];
	unsigned char raw[DAEMON_TOKEN_BYTES];
	struct init_ctx ctx;
	struct pp_error err;
	struct store *s = NULL;
	bool exists;
	int i, rc = 1;

	pp_error_clear(&err);
	memset(token, 0, sizeof(token));
	if (c->value[CONF_SITE_CODE] != NULL)
		code = c->value[CONF_SITE_CODE];
	if (c->value[CONF_SITE_NAME] != NULL)
		name = c->value[CONF_SITE_NAME];
	if (dir == NULL)
		return usage("init: --data-dir is required");
	if (init_check_dir(dir, &exists, &err) != 0)
		return fail(&err);
	if (make_dir(dir, &err) != 0)
		goto out;
	if (join_path(path, sizeof(path), dir, "keys", &err) != 0 || make_dir(path, &err) != 0)
		goto out;
	if (join_path(path, sizeof(path), dir, "logs", &err) != 0 || make_dir(path, &err) != 0)
		goto out;
	if (join_path(path, sizeof(path), dir, DAEMON_DB_NAME, &err) != 0)
		goto out;
	if (RAND_bytes(raw, sizeof(raw)) != 1) {
		pp_error_set_openssl(&err, HR_E_FAIL, "cannot generate the admin token");
		goto out;
	}
	for (i = 0; i < DAEMON_TOKEN_BYTES; i++)
		(void)snprintf(token + 2 * i, 3, "%02x", raw[i]);
	s = store_open_sqlite(path, &err);
	if (s == NULL)
		goto out;
	ctx.code = code;
	ctx.name = name;
	ctx.token = token;
	if (store_transaction(s, init_tx, &ctx, &err) != 0)
		goto out;
	printf("Data directory:  %s\n", dir);
	printf("Database:        %s/%s\n", dir, DAEMON_DB_NAME);
	printf("Signer keys:     %s/keys\n", dir);
	printf("Logs:            %s/logs\n", dir);
	printf("Site:            %s (%s), standalone primary\n", code, name);
	printf("Local SUP:       %s (sync source)\n", ctx.sup.url);
	printf("Admin token (shown once, only its hash is stored):\n%s\n", token);
	rc = 0;
out:
	store_close(s);
	OPENSSL_cleanse(raw, sizeof(raw));
	OPENSSL_cleanse(token, sizeof(token));
	if (rc != 0) {
		/* Leave nothing half made: remove what this call created in a new directory. */
		if (!exists && dir != NULL) {
			const char *parts[] = {DAEMON_DB_NAME "-wal", DAEMON_DB_NAME "-shm",
					       DAEMON_DB_NAME};
			size_t k;

			for (k = 0; k < sizeof(parts) / sizeof(parts[0]); k++)
				if (join_path(path, sizeof(path), dir, parts[k], NULL) == 0)
					(void)unlink(path);
			if (join_path(path, sizeof(path), dir, "keys", NULL) == 0)
				(void)rmdir(path);
			if (join_path(path, sizeof(path), dir, "logs", NULL) == 0)
				(void)rmdir(path);
			(void)rmdir(dir);
		}
		return fail(&err);
	}
	return 0;
}

static int cmd_init(int argc, char **argv)
{
	struct daemon_conf c;
	bool done;
	int rc = conf_load(argc, argv, CONF_FOR_INIT, usage_init, &c, &done);

	if (rc != 0 || done)
		return rc;
	rc = init_data_dir(&c);
	conf_free(&c);
	return rc;
}

/* ---- run ---- */

static void on_stop_signal(int sig)
{
	struct httpd *h = g_httpd;

	(void)sig;
	g_stop = 1;
	if (h != NULL)
		httpd_shutdown(h);
}

static void on_hup(int sig)
{
	(void)sig;
	g_reopen = 1;
}

static int parse_roles(const char *list, unsigned *roles)
{
	char buf[64], *save = NULL, *tok;
	int n = snprintf(buf, sizeof(buf), "%s", list);

	if (n < 0 || (size_t)n >= sizeof(buf))
		return -1;
	*roles = 0;
	for (tok = strtok_r(buf, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		if (strcmp(tok, "site") == 0)
			*roles |= API_ROLE_SITE;
		else if (strcmp(tok, "sup") == 0)
			*roles |= API_ROLE_SUP;
		else if (strcmp(tok, "mp") == 0)
			*roles |= API_ROLE_MP;
		else
			return -1;
	}
	return *roles != 0 ? 0 : -1;
}

static const struct {
	const char *file, *component;
	size_t offset;
} daemon_log_files[] = {
    {DAEMON_LOG_NAME, DAEMON_COMPONENT, offsetof(struct daemon_logs, main)},
    {"wsyncmgr.log", "SMS_WSUS_SYNC_MANAGER", offsetof(struct daemon_logs, sync)},
    {"WCM.log", "SMS_WSUS_CONFIGURATION_MANAGER", offsetof(struct daemon_logs, wcm)},
    {"Publisher.log", "Publisher", offsetof(struct daemon_logs, publisher)},
    {"SMS_ISVUPDATES_SYNCAGENT.log", "SMS_ISVUPDATES_SYNCAGENT", offsetof(struct daemon_logs, isv)},
    {"SoftwareDistribution.log", "SoftwareDistribution", offsetof(struct daemon_logs, sdist)},
};

#define LOG_SLOT(i) ((struct srvlog **)((char *)&g_logs + daemon_log_files[i].offset))

static int logs_open(const char *dir, struct pp_error *err)
{
	for (size_t i = 0; i < sizeof(daemon_log_files) / sizeof(daemon_log_files[0]); i++) {
		*LOG_SLOT(i) =
		    srvlog_open(dir, daemon_log_files[i].file, daemon_log_files[i].component, err);
		if (*LOG_SLOT(i) == NULL)
			return -1;
	}
	return 0;
}

static void logs_reopen(void)
{
	struct pp_error err;

	for (size_t i = 0; i < sizeof(daemon_log_files) / sizeof(daemon_log_files[0]); i++) {
		pp_error_clear(&err);
		if (srvlog_reopen(*LOG_SLOT(i), &err) != 0)
			fprintf(stderr, "patchpointd: %s\n", err.message);
	}
	daemon_log(CMTRACE_INFO, "logs reopened");
}

static void logs_close(void)
{
	for (size_t i = 0; i < sizeof(daemon_log_files) / sizeof(daemon_log_files[0]); i++) {
		srvlog_close(*LOG_SLOT(i));
		*LOG_SLOT(i) = NULL;
	}
}

/* The length of the address part of "ADDR:PORT" (httpd_new has validated it). */
static int listen_host_len(const char *spec)
{
	const char *colon = strrchr(spec, ':');

	return colon != NULL ? (int)(colon - spec) : (int)strlen(spec);
}

static int install_handlers(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_stop_signal;
	if (sigaction(SIGTERM, &sa, NULL) != 0 || sigaction(SIGINT, &sa, NULL) != 0)
		return -1;
	sa.sa_handler = on_hup;
	if (sigaction(SIGHUP, &sa, NULL) != 0)
		return -1;
	sa.sa_handler = SIG_IGN;
	return sigaction(SIGPIPE, &sa, NULL);
}

static int run_serve(const struct daemon_conf *c);

/* Prints the effective settings in the config file's own form, for --check-config. */
static void conf_print(const struct daemon_conf *c)
{
	const char *section = "";

	for (int k = 0; k < CONF_KEYS; k++) {
		if (strcmp(section, conf_options[k].section) != 0) {
			section = conf_options[k].section;
			printf("[%s]\n", section);
		}
		if (c->value[k] != NULL)
			printf("%s = %s\n", conf_options[k].key, c->value[k]);
		else
			printf("%s =\n", conf_options[k].key);
	}
}

static int cmd_run(int argc, char **argv)
{
	static char workers_text[16];
	struct daemon_conf c;
	bool done;
	int rc = conf_load(argc, argv, CONF_FOR_RUN, usage_run, &c, &done);

	if (rc != 0 || done)
		return rc;
	if (c.value[CONF_DATA_DIR] == NULL) {
		rc = usage("run: --data-dir (or data_dir in [server] of --config) is required");
		goto out;
	}
	if (c.value[CONF_LISTEN_TLS] != NULL &&
	    (c.value[CONF_TLS_CERT] == NULL || c.value[CONF_TLS_KEY] == NULL)) {
		rc = usage("run: --listen-tls needs --tls-cert and --tls-key");
		goto out;
	}
	if (c.value[CONF_LISTEN_TLS] == NULL &&
	    (c.value[CONF_TLS_CERT] != NULL || c.value[CONF_TLS_KEY] != NULL)) {
		rc = usage("run: --tls-cert and --tls-key go with --listen-tls");
		goto out;
	}
	/* The defaults, filled in so that --check-config shows what run would use. */
	if (c.value[CONF_LISTEN] == NULL && c.value[CONF_LISTEN_TLS] == NULL)
		c.value[CONF_LISTEN] = DAEMON_DEFAULT_LISTEN;
	if (c.value[CONF_ROLES] == NULL)
		c.value[CONF_ROLES] = "site,sup,mp";
	if (c.value[CONF_WORKERS] == NULL) {
		(void)snprintf(workers_text, sizeof(workers_text), "%d", HTTPD_DEFAULT_THREADS);
		c.value[CONF_WORKERS] = workers_text;
	}
	if (c.value[CONF_SITE_CODE] == NULL)
		c.value[CONF_SITE_CODE] = DAEMON_DEFAULT_SITE;
	if (c.value[CONF_SITE_NAME] == NULL)
		c.value[CONF_SITE_NAME] = DAEMON_DEFAULT_NAME;
	if (c.check) {
		conf_print(&c);
		goto out;
	}
	rc = run_serve(&c);
out:
	conf_free(&c);
	return rc;
}

/* Reads the remote SUP's admin token from path (first line); the file must not be readable by
 * group or others, as for any secret. */
static int read_token_file(const char *path, char *out, size_t size, struct pp_error *err)
{
	struct stat st;
	FILE *f = fopen(path, "re");
	size_t n;

	if (f == NULL) {
		pp_error_set_errno(err, errno, "cannot read the remote SUP token file %s", path);
		return -1;
	}
	if (fstat(fileno(f), &st) != 0 || (st.st_mode & 077) != 0) {
		(void)fclose(f);
		pp_error_set(err, HR_E_ACCESSDENIED,
			     "the remote SUP token file %s is readable by others; chmod 600 it",
			     path);
		return -1;
	}
	if (fgets(out, (int)size, f) == NULL)
		out[0] = '\0';
	(void)fclose(f);
	n = strcspn(out, "\r\n");
	out[n] = '\0';
	if (n == 0) {
		pp_error_set(err, HR_E_INVALIDARG, "the remote SUP token file %s is empty", path);
		return -1;
	}
	return 0;
}

/* Fills the parts of the API that come from the configuration and the data directory. */
static int run_prepare(const struct daemon_conf *c, struct api *api, struct signer *signer,
		       char *token, size_t token_size, struct pp_error *err)
{
	struct certmgr *cm = &api->certmgr;

	cm->machine = api->certmgr.machine;
	cm->sync_log = g_logs.sync;
	cm->publisher_log = g_logs.publisher;
	cm->remote_ca = c->value[CONF_SUP_CA_BUNDLE];
	if (c->value[CONF_MANAGED_DAYS] != NULL)
		cm->managed_days = atoi(c->value[CONF_MANAGED_DAYS]);
	if (c->value[CONF_MANAGED_BITS] != NULL)
		cm->managed_bits = atoi(c->value[CONF_MANAGED_BITS]);
	if (c->value[CONF_SUP_TOKEN_FILE] != NULL) {
		if (read_token_file(c->value[CONF_SUP_TOKEN_FILE], token, token_size, err) != 0)
			return -1;
		cm->remote_token = token;
	}
	if (signer != NULL) {
		cm->local = signstore_local(signer, err);
		if (cm->local == NULL)
			return -1;
	}
	api->version = PATCHPOINT_VERSION;
	api->log = g_logs.main;
	api->wcm_log = g_logs.wcm;
	api->isv_log = g_logs.isv;
	api->sdist_log = g_logs.sdist;
	api->signer = signer;
	return api_init(api, err);
}

/* content_store_scrub's report: one warning per damaged file. */
static void on_damaged_content(void *ctx, const char *sha1, const struct pp_error *why)
{
	(void)ctx;
	(void)sha1;
	daemon_log(CMTRACE_WARNING, "content scrub: %s", why->message);
}

/* The sup role's content store (content.h): opened on dir (made when missing), what a killed
 * publisher left in .incoming removed, and every file verified before anything is served. */
static struct content_store *run_content(const char *dir, struct pp_error *err)
{
	struct content_store *cs;
	unsigned leftovers = 0, checked = 0, bad = 0;

	cs = content_store_open(dir, &leftovers, err);
	if (cs == NULL)
		return NULL;
	if (leftovers > 0)
		daemon_log(CMTRACE_WARNING, "removed %u unfinished file(s) from %s/.incoming",
			   leftovers, dir);
	if (content_store_scrub(cs, on_damaged_content, NULL, &checked, &bad, err) != 0) {
		content_store_free(cs);
		return NULL;
	}
	daemon_log(bad > 0 ? CMTRACE_WARNING : CMTRACE_INFO,
		   "content scrub: %u files checked, %u damaged", checked, bad);
	return cs;
}

/* At start, with the site and sup roles: a CAB that no revision records (a publish killed
 * between storing it and recording it) is removed before anything is served. */
static int run_sweep(const char *db_path, struct content_store *cs, struct pp_error *err)
{
	char(*names)[CONTENT_SHA1_HEX_LEN + 1] = NULL;
	struct store *s = store_open_sqlite(db_path, err);
	size_t n = 0;
	unsigned removed = 0;
	int rc = -1;

	if (s == NULL || content_store_list(cs, &names, &n, err) != 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		bool referenced = true;

		if (store_content_referenced(s, names[i], &referenced, err) != 0)
			goto out;
		if (referenced)
			continue;
		if (content_store_remove(cs, names[i], err) != 0)
			goto out;
		daemon_log(CMTRACE_WARNING,
			   "content sweep: removed %s.cab, which no update revision records",
			   names[i]);
		removed++;
	}
	if (removed > 0)
		daemon_log(CMTRACE_INFO, "content sweep: %u unrecorded file(s) removed", removed);
	rc = 0;
out:
	free(names);
	store_close(s);
	return rc;
}

/* At start: syncs a killed process left running are marked failed, so a new one can run. */
static int run_recover(struct api *api, char *site_code, size_t size, struct pp_error *err)
{
	struct store *s = store_open_sqlite(api->db_path, err);
	struct store_site top;
	unsigned failed = 0;
	int rc = -1;

	if (s == NULL)
		return -1;
	if (store_fail_running_syncs(s, "patchpointd stopped while the sync was running", &failed,
				     err) != 0 ||
	    store_top_level_site(s, &top, err) != 0)
		goto out;
	if (failed > 0) {
		daemon_log(CMTRACE_WARNING, "marked %u sync(s) left running as failed", failed);
		srvlog_write(g_logs.sync, CMTRACE_WARNING,
			     "%u sync(s) were left running by a stopped patchpointd; marked failed",
			     failed);
	}
	(void)snprintf(site_code, size, "%s", top.code);
	rc = 0;
out:
	store_close(s);
	return rc;
}

static int run_serve(const struct daemon_conf *c)
{
	const char *dir = c->value[CONF_DATA_DIR];
	static char db_path[PATH_MAX], log_dir[PATH_MAX], machine[PATH_MAX], keys[PATH_MAX];
	static char uploads[PATH_MAX], content[PATH_MAX];
	static char site_code[STORE_SITE_CODE_LEN + 1], token[STORE_TOKEN_MAX + 2];
	struct httpd_options opt;
	struct syncmgr_options so;
	struct pp_error err;
	struct signer *signer = NULL;
	struct syncmgr *sync = NULL;
	struct api api;
	struct content_api content_routes;
	struct upload_api_options upload_routes;
	struct httpd *h = NULL;
	struct stat st;
	sigset_t block, old;
	bool masked = false;
	unsigned expired = 0;
	int rc = 1;

	pp_error_clear(&err);
	memset(&opt, 0, sizeof(opt));
	memset(&api, 0, sizeof(api));
	opt.listen = c->value[CONF_LISTEN];
	opt.listen_tls = c->value[CONF_LISTEN_TLS];
	opt.tls_cert = c->value[CONF_TLS_CERT];
	opt.tls_key = c->value[CONF_TLS_KEY];
	opt.threads = (unsigned)strtoul(c->value[CONF_WORKERS], NULL, 10);
	if (parse_roles(c->value[CONF_ROLES], &api.roles) != 0)
		return usage("run: --roles takes a comma-separated list of site, sup, mp");

	if (join_path(db_path, sizeof(db_path), dir, DAEMON_DB_NAME, &err) != 0 ||
	    join_path(log_dir, sizeof(log_dir), dir, "logs", &err) != 0 ||
	    join_path(machine, sizeof(machine), dir, "machine", &err) != 0 ||
	    join_path(keys, sizeof(keys), dir, "keys", &err) != 0 ||
	    join_path(uploads, sizeof(uploads), dir, "uploads", &err) != 0 ||
	    join_path(content, sizeof(content), dir, "content", &err) != 0)
		return fail(&err);
	if (stat(db_path, &st) != 0 || !S_ISREG(st.st_mode)) {
		pp_error_set(&err, HR_CRYPT_E_NOT_FOUND,
			     "%s is not a patchpoint data directory (run 'patchpointd init')", dir);
		return fail(&err);
	}
	api.db_path = db_path;
	api.log_dir = log_dir;
	api.site_code = site_code;
	api.certmgr.machine = machine;

	/* The signer first: no thread, no database connection and no log yet to inherit. It
	 * holds the signing store of the sup role. */
	if ((api.roles & API_ROLE_SUP) != 0 && signer_start(keys, &signer, &err) != 0)
		goto out;
	if (logs_open(log_dir, &err) != 0)
		goto out;
	daemon_log(CMTRACE_INFO, "patchpointd %s starting on %s, roles %s (signer pid %ld)",
		   PATCHPOINT_VERSION, dir, c->value[CONF_ROLES],
		   signer != NULL ? (long)signer_pid(signer) : 0L);
	if (run_recover(&api, site_code, sizeof(site_code), &err) != 0 ||
	    run_prepare(c, &api, signer, token, sizeof(token), &err) != 0)
		goto out;
	api.uploads_dir = uploads;
	/* Resumable uploads (upload.h): their directory, less what was abandoned while we were
	 * away. */
	if (make_dir(uploads, &err) != 0 ||
	    upload_expire(uploads, UPLOAD_MAX_AGE_DEFAULT, time(NULL), &expired, &err) != 0)
		goto out;
	if (expired > 0)
		daemon_log(CMTRACE_INFO, "removed %u upload(s) untouched for %lld hours", expired,
			   (long long)(UPLOAD_MAX_AGE_DEFAULT / 3600));
	if ((api.roles & API_ROLE_SUP) != 0 && (api.content = run_content(content, &err)) == NULL)
		goto out;
	if ((api.roles & API_ROLE_SITE) != 0 && api.content != NULL &&
	    run_sweep(api.db_path, api.content, &err) != 0)
		goto out;
	/* A SUP lays out uploads meant for publishing alone as the cabinet they will be. */
	memset(&upload_routes, 0, sizeof(upload_routes));
	upload_routes.uploads_dir = uploads;
	if ((api.roles & API_ROLE_SUP) != 0) {
		upload_routes.signature_length = publish_signature_length;
		upload_routes.signature_ctx = api.certmgr.local;
	}
	content_routes.store = api.content;
	content_routes.log = g_logs.main;

	opt.auth = api_check_token;
	opt.auth_ctx = &api;
	opt.log = api_http_log;
	opt.log_ctx = &api;
	opt.log_success =
	    c->value[CONF_ACCESS_LOG] != NULL && strcmp(c->value[CONF_ACCESS_LOG], "all") == 0;
	h = httpd_new(&opt, &err);
	if (h == NULL || api_add_routes(h, &api, &err) != 0 ||
	    ((api.roles & API_ROLE_SUP) != 0 &&
	     sup_api_add_routes(h, api.certmgr.local, &err) != 0) ||
	    ((api.roles & (API_ROLE_SITE | API_ROLE_SUP)) != 0 &&
	     upload_api_add_routes(h, &upload_routes, &err) != 0) ||
	    ((api.roles & API_ROLE_SUP) != 0 &&
	     content_api_add_routes(h, &content_routes, &err) != 0) ||
	    ((api.roles & API_ROLE_SITE) != 0 && (catalog_api_add_routes(h, &api, &err) != 0 ||
						  publish_api_add_routes(h, &api, &err) != 0)) ||
	    device_api_add_routes(h, &api, &err) != 0 || gpo_api_add_routes(h, &api, &err) != 0 ||
	    ci_api_add_routes(h, &api, &err) != 0 || ts_api_add_routes(h, &api, &err) != 0)
		goto out;

	/* Workers and the sync manager inherit this mask, so the stop signals reach the main
	 * thread only. */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	if (pthread_sigmask(SIG_BLOCK, &block, &old) != 0 || install_handlers() != 0) {
		pp_error_set_errno(&err, errno, "cannot install the signal handlers");
		goto out;
	}
	masked = true;
	if ((api.roles & API_ROLE_SITE) != 0) {
		memset(&so, 0, sizeof(so));
		so.db_path = db_path;
		so.interval = c->value[CONF_SYNC_INTERVAL] != NULL
				  ? (unsigned)strtoul(c->value[CONF_SYNC_INTERVAL], NULL, 10)
				  : DAEMON_SYNC_INTERVAL;
		so.certmgr = api.certmgr;
		so.log = g_logs.sync;
		sync = syncmgr_start(&so, &err);
		if (sync == NULL)
			goto out;
		api.syncmgr = sync;
	}
	g_httpd = h;
	if (httpd_start(h, &err) != 0)
		goto out;
	if (opt.listen != NULL)
		printf("patchpointd: listening on http://%.*s:%d\n", listen_host_len(opt.listen),
		       opt.listen, httpd_port(h, false));
	if (opt.listen_tls != NULL)
		printf("patchpointd: listening on https://%.*s:%d\n",
		       listen_host_len(opt.listen_tls), opt.listen_tls, httpd_port(h, true));
	(void)fflush(stdout);
	daemon_log(CMTRACE_INFO, "listening: http port %d, https port %d, site %s",
		   httpd_port(h, false), httpd_port(h, true), site_code);

	sigdelset(&old, SIGTERM);
	sigdelset(&old, SIGINT);
	sigdelset(&old, SIGHUP);
	while (!g_stop) {
		(void)sigsuspend(&old);
		if (g_reopen) {
			g_reopen = 0;
			logs_reopen();
		}
	}
	daemon_log(CMTRACE_INFO, "stopping");
	rc = 0;
out:
	g_httpd = NULL;
	if (h != NULL)
		httpd_stop(h);
	httpd_free(h);
	upload_digests_release(); /* no handler runs any more */
	syncmgr_stop(sync);
	api_fini(&api);
	content_store_free(api.content);
	signstore_free(api.certmgr.local);
	signer_stop(signer);
	OPENSSL_cleanse(token, sizeof(token));
	if (rc == 0)
		daemon_log(CMTRACE_INFO, "stopped");
	else if (err.code != 0)
		daemon_log(CMTRACE_ERROR, "%s (0x%08X)", err.message, (unsigned)err.code);
	if (masked)
		(void)pthread_sigmask(SIG_SETMASK, &old, NULL);
	logs_close();
	if (rc != 0 && err.code != 0)
		return fail(&err);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage("a command is required: init or run");
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		fputs(usage_main, stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("patchpointd %s\n", PATCHPOINT_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "init") == 0)
		return cmd_init(argc - 2, argv + 2);
	if (strcmp(argv[1], "run") == 0)
		return cmd_run(argc - 2, argv + 2);
	return usage("unknown command '%s'", argv[1]);
}
