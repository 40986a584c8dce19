/* test_signstore_remote.c - the remote signing store end to end inside one process: a real
 * signer child, an httpd with a plain and a TLS listener (server certificate issued by a test CA
 * for the IP 127.0.0.1) serving the SUP's signing-store routes (sup_api.c), and signstore_remote
 * talking to it over HTTPS. Covers the primitives, the replace and pick rules over the remote
 * store, plain HTTP refused on both sides (the client before connecting, the server with 403),
 * wrong tokens and CA bundles, the JSON entry codec with forged entries, and no private key in
 * any answer. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "hresult.h"
#include "httpd.h"
#include "pki.h"
#include "signer.h"
#include "signstore.h"
#include "sup_api.h"
#include "testcerts.h"
#include "testutil.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pkcs12.h>

#define TOKEN	    "sup-admin-token-5d1f0c"
#define WRONG_TOKEN "not-the-sup-admin-token"

#define SERVER_EXT                                                                                 \
	"basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"          \
	"extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1\n"

#define CODE_SIGNING_EXT                                                                           \
	"-addext basicConstraints=CA:FALSE -addext keyUsage=critical,digitalSignature "            \
	"-addext extendedKeyUsage=codeSigning"

struct fx {
	char *dir;	/* scratch files, the CAs and the server certificate */
	char *keys;	/* the signer's key directory */
	char *ca;	/* the CA bundle that issued the server certificate */
	char *other_ca; /* a CA that did not */
	struct signer *signer;
	struct signstore *local;
	struct httpd *httpd;
	char base[64];	/* https://127.0.0.1:PORT/ */
	char plain[64]; /* http://127.0.0.1:PORT/ */
};

static int accept_token(void *ctx, const char *token)
{
	(void)ctx;
	return strcmp(token, TOKEN) == 0;
}

static void start_httpd(struct fx *f)
{
	struct httpd_options opt;
	struct pp_error err = {0};
	char *cert = tu_path(f->dir, "server.pem"), *key = tu_path(f->dir, "server.key");

	memset(&opt, 0, sizeof(opt));
	opt.listen = "127.0.0.1:0";
	opt.listen_tls = "127.0.0.1:0";
	opt.tls_cert = cert;
	opt.tls_key = key;
	opt.auth = accept_token;
	f->httpd = httpd_new(&opt, &err);
	if (f->httpd == NULL)
		fail_msg("httpd_new: %s", err.message);
	assert_int_equal(sup_api_add_routes(f->httpd, f->local, &err), 0);
	assert_int_equal(httpd_start(f->httpd, &err), 0);
	snprintf(f->base, sizeof(f->base), "https://127.0.0.1:%d/", httpd_port(f->httpd, true));
	snprintf(f->plain, sizeof(f->plain), "http://127.0.0.1:%d/", httpd_port(f->httpd, false));
	free(cert);
	free(key);
}

/* The signer is forked first, before the httpd (or libcurl) starts any thread. */
static int group_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct pp_error err = {0};

	assert_non_null(f);
	f->dir = tu_tmpdir();
	f->keys = tu_path(f->dir, "keys");
	assert_int_equal(signer_start(f->keys, &f->signer, &err), 0);
	tc_self_signed(f->dir, "ca", "PP Test CA", 365, TC_ADDEXT_CA);
	tc_issue(f->dir, "server", "127.0.0.1", "ca", SERVER_EXT);
	tc_self_signed(f->dir, "otherca", "Other CA", 365, TC_ADDEXT_CA);
	f->ca = tu_path(f->dir, "ca.pem");
	f->other_ca = tu_path(f->dir, "otherca.pem");
	f->local = signstore_local(f->signer, &err);
	assert_non_null(f->local);
	assert_int_equal(curl_global_init(CURL_GLOBAL_DEFAULT), CURLE_OK);
	start_httpd(f);
	*state = f;
	return 0;
}

static int group_teardown(void **state)
{
	struct fx *f = *state;

	httpd_free(f->httpd);
	signstore_free(f->local);
	signer_stop(f->signer);
	curl_global_cleanup();
	tu_rmrf(f->dir);
	free(f->ca);
	free(f->other_ca);
	free(f->keys);
	free(f->dir);
	free(f);
	return 0;
}

/* ---- helpers ---- */

static size_t count_local(struct fx *f)
{
	struct signer_cert *certs = NULL;
	struct pp_error err = {0};
	size_t n = 0;

	assert_int_equal(signstore_list(f->local, &certs, &n, &err), 0);
	signer_certs_free(certs, n);
	return n;
}

/* Removes every certificate through the local store, so that each test starts empty. */
static void empty_store(struct fx *f)
{
	struct signer_cert *certs = NULL;
	struct pp_error err = {0};
	size_t n = 0, i;

	assert_int_equal(signstore_list(f->local, &certs, &n, &err), 0);
	for (i = 0; i < n; i++)
		assert_int_equal(signstore_remove(f->local, certs[i].thumbprint, &err), 0);
	signer_certs_free(certs, n);
	assert_int_equal(count_local(f), 0);
}

static struct signstore *remote_with(struct fx *f, const char *url, const char *ca,
				     const char *token)
{
	struct pp_error err = {0};
	struct signstore *st = signstore_remote(url, ca, token, &err);

	if (st == NULL)
		fail_msg("signstore_remote %s: %s", url, err.message);
	(void)f;
	return st;
}

static struct signstore *remote(struct fx *f)
{
	return remote_with(f, f->base, f->ca, TOKEN);
}

static void generate(struct signstore *st, int days, bool exportable, struct signer_cert *out)
{
	struct signer_generate_options o = {
	    .subject = "CN=Remote Test", .days = days, .exportable = exportable};
	struct pp_error err = {0};

	if (signstore_register_generated(st, &o, true, out, NULL, &err) != 0)
		fail_msg("generate: 0x%08X %s", err.code, err.message);
}

/* A PFX made by the openssl command line (password s3cret), with certfile as its chain. */
static uint8_t *make_pfx(struct fx *f, const char *name, const char *newkey, const char *certfile,
			 size_t *len)
{
	char file[64], *p;
	uint8_t *data;

	assert_int_equal(tu_run("cd '%s' && openssl req -x509 -newkey %s -nodes -keyout '%s.key' "
				"-out '%s.pem' -days 30 -subj '/CN=%s' %s >/dev/null 2>&1 && "
				"openssl pkcs12 -export -in '%s.pem' -inkey '%s.key' %s%s "
				"-out '%s.pfx' -passout pass:s3cret >/dev/null 2>&1",
				f->dir, newkey, name, name, name, CODE_SIGNING_EXT, name, name,
				certfile != NULL ? "-certfile " : "",
				certfile != NULL ? certfile : "", name),
			 0);
	snprintf(file, sizeof(file), "%s.pfx", name);
	p = tu_path(f->dir, file);
	data = tu_read_file(p, len);
	free(p);
	assert_non_null(data);
	return data;
}

struct raw_answer {
	long status;
	char *body;
	size_t len;
};

static size_t raw_write(char *data, size_t size, size_t nmemb, void *arg)
{
	struct raw_answer *a = arg;
	char *p = realloc(a->body, a->len + size * nmemb + 1);

	assert_non_null(p);
	memcpy(p + a->len, data, size * nmemb);
	a->body = p;
	a->len += size * nmemb;
	a->body[a->len] = '\0';
	return size * nmemb;
}

/* One request with libcurl directly (no signstore in between); the body is always a string. */
static struct raw_answer raw_http(struct fx *f, const char *url, const char *method,
				  const char *token, const char *body)
{
	struct raw_answer a = {0};
	struct curl_slist *h = NULL;
	char auth[128];
	CURL *c = curl_easy_init();

	assert_non_null(c);
	if (token != NULL) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
		h = curl_slist_append(h, auth);
	}
	if (body != NULL) {
		h = curl_slist_append(h, "Content-Type: application/json");
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	}
	if (strcmp(method, "DELETE") == 0)
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "DELETE");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_CAINFO, f->ca);
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, raw_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &a);
	assert_int_equal(curl_easy_perform(c), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &a.status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	if (a.body == NULL) {
		a.body = strdup("");
		assert_non_null(a.body);
	}
	return a;
}

static char *url_of(const char *base, const char *route)
{
	size_t n = strlen(base) + strlen(route) + 1;
	char *u = malloc(n);

	assert_non_null(u);
	snprintf(u, n, "%s%s", base, route);
	return u;
}

static const char *error_code(const char *body, char *out, size_t size)
{
	json_t *doc = json_loads(body, 0, NULL);
	const char *code =
	    json_string_value(json_object_get(json_object_get(doc, "error"), "code"));

	snprintf(out, size, "%s", code != NULL ? code : "(none)");
	json_decref(doc);
	return out;
}

/* ---- the primitives over HTTPS ---- */

static void test_list_empty(void **state)
{
	struct fx *f = *state;
	struct signstore *st;
	struct signer_cert *certs = NULL;
	struct pp_error err = {0};
	size_t n = 1;

	empty_store(f);
	st = remote(f);
	assert_string_equal(signstore_where(st), f->base);
	assert_int_equal(signstore_list(st, &certs, &n, &err), 0);
	assert_int_equal(n, 0);
	signer_certs_free(certs, n);
	signstore_free(st);
}

static void test_generate_listed(void **state)
{
	struct fx *f = *state;
	struct signstore *st;
	struct signer_cert c, *certs = NULL;
	struct pp_error err = {0};
	char base[64], name[128];
	size_t n = 0;

	empty_store(f);
	/* Without the trailing slash the same store answers, under the same name. */
	snprintf(base, sizeof(base), "%.*s", (int)strlen(f->base) - 1, f->base);
	st = remote_with(f, base, f->ca, TOKEN);
	assert_string_equal(signstore_where(st), f->base);
	generate(st, 30, false, &c);
	assert_true(c.has_key);
	assert_false(c.exportable);
	pki_simple_name(c.cert, name, sizeof(name));
	assert_string_equal(name, "Remote Test");
	assert_int_equal(signstore_list(st, &certs, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(certs[0].thumbprint, c.thumbprint);
	assert_true(certs[0].has_key);
	assert_false(certs[0].exportable);
	assert_int_equal(certs[0].der_len, c.der_len);
	assert_memory_equal(certs[0].der, c.der, c.der_len);
	assert_int_equal(sk_X509_num(certs[0].chain), 0);
	assert_true(signstore_usable(&certs[0], time(NULL)));
	signer_certs_free(certs, n);
	/* It is in the SUP's own signer. */
	assert_int_equal(count_local(f), 1);
	signer_cert_release(&c);
	signstore_free(st);
}

static void test_generate_refused(void **state)
{
	struct fx *f = *state;
	struct signstore *st = remote(f);
	struct signer_generate_options o = {.bits = 1024};
	struct signer_cert c;
	struct pp_error err = {0};

	empty_store(f);
	assert_int_equal(signstore_register_generated(st, &o, true, &c, NULL, &err), -1);
	assert_int_equal(err.code, HR_E_INVALIDARG);
	assert_non_null(strstr(err.message, "bits"));
	assert_non_null(strstr(err.message, f->base));
	assert_int_equal(count_local(f), 0);
	signstore_free(st);
}

static void test_import_good(void **state)
{
	struct fx *f = *state;
	struct signstore *st = remote(f);
	struct signer_cert c;
	struct pp_error err = {0};
	uint8_t *pfx;
	size_t len = 0;
	X509 *want;
	char *p;

	empty_store(f);
	tc_self_signed(f->dir, "root", "PP Root", 365, TC_ADDEXT_CA);
	pfx = make_pfx(f, "good", "rsa:2048", "root.pem", &len);
	if (signstore_register_pfx(st, pfx, len, "s3cret", true, true, &c, NULL, &err) != 0)
		fail_msg("import: 0x%08X %s", err.code, err.message);
	p = tu_path(f->dir, "good.pem");
	want = tc_load_cert(p);
	free(p);
	assert_int_equal(X509_cmp(want, c.cert), 0);
	X509_free(want);
	assert_true(c.has_key);
	assert_true(c.exportable);
	assert_int_equal(sk_X509_num(c.chain), 1);
	assert_int_equal(count_local(f), 1);
	signer_cert_release(&c);
	free(pfx);
	signstore_free(st);
}

static void test_import_refused(void **state)
{
	struct fx *f = *state;
	struct signstore *st = remote(f);
	struct signer_cert c;
	struct pp_error err = {0};
	uint8_t *pfx;
	size_t len = 0;

	empty_store(f);
	/* Wrong password: the signer's code and reason come back through the 422. */
	pfx = make_pfx(f, "pw", "rsa:2048", NULL, &len);
	assert_int_equal(signstore_register_pfx(st, pfx, len, "wrong", true, true, &c, NULL, &err),
			 -1);
	assert_int_equal(err.code, HR_ERROR_INVALID_PASSWORD);
	assert_true(strlen(err.message) > 0);
	assert_null(strstr(err.message, "https://")); /* the bare reason, for "Import Failed: " */
	free(pfx);

	/* ECDSA: refused with a reason that names it. */
	pp_error_clear(&err);
	pfx = make_pfx(f, "ec", "ec -pkeyopt ec_paramgen_curve:P-256", NULL, &len);
	assert_int_equal(signstore_register_pfx(st, pfx, len, "s3cret", true, true, &c, NULL, &err),
			 -1);
	assert_int_equal(err.code, HR_NTE_BAD_ALGID);
	assert_true(strstr(err.message, "ECDSA") != NULL || strstr(err.message, "RSA") != NULL);
	free(pfx);

	/* Not a PFX at all. */
	pp_error_clear(&err);
	assert_int_equal(signstore_register_pfx(st, (const uint8_t *)"\x30\x03\x02\x01\x01", 5, "",
						true, true, &c, NULL, &err),
			 -1);
	assert_int_equal(err.code, HR_CRYPT_E_ASN1_BADTAG);
	assert_int_equal(count_local(f), 0);
	signstore_free(st);
}

static void test_remove(void **state)
{
	struct fx *f = *state;
	struct signstore *st = remote(f);
	struct signer_cert c;
	struct pp_error err = {0};
	char lower[PKI_THUMBPRINT_LEN + 1];
	size_t i;

	empty_store(f);
	generate(st, 30, false, &c);
	assert_int_equal(count_local(f), 1);
	/* A thumbprint as a person types it (lower case) names the same certificate. */
	for (i = 0; i <= PKI_THUMBPRINT_LEN; i++)
		lower[i] = (char)tolower((unsigned char)c.thumbprint[i]);
	assert_int_equal(signstore_remove(st, lower, &err), 0);
	assert_int_equal(count_local(f), 0);
	assert_int_equal(signstore_remove(st, c.thumbprint, &err), -1);
	assert_int_equal(err.code, HR_CRYPT_E_NOT_FOUND);
	pp_error_clear(&err);
	assert_int_equal(signstore_remove(st, "not-a-thumbprint", &err), -1);
	assert_int_equal(err.code, HR_E_INVALIDARG);
	signer_cert_release(&c);
	signstore_free(st);
}

/* ---- who may talk to the store, and how ---- */

static void test_wrong_token(void **state)
{
	struct fx *f = *state;
	const char *tokens[] = {WRONG_TOKEN, NULL};
	struct signer_cert *certs = NULL;
	struct pp_error err;
	size_t n = 0, i;

	for (i = 0; i < sizeof(tokens) / sizeof(tokens[0]); i++) {
		struct signstore *st = remote_with(f, f->base, f->ca, tokens[i]);

		pp_error_clear(&err);
		assert_int_equal(signstore_list(st, &certs, &n, &err), -1);
		assert_int_equal(err.code, HR_E_ACCESSDENIED);
		assert_non_null(strstr(err.message, "401"));
		assert_null(strstr(err.message, WRONG_TOKEN));
		signstore_free(st);
	}
	/* A token that would inject a header line is refused without being repeated. */
	pp_error_clear(&err);
	assert_null(signstore_remote(f->base, f->ca, "abc\r\nX-Evil: 1", &err));
	assert_int_equal(err.code, HR_E_INVALIDARG);
	assert_null(strstr(err.message, "Evil"));
}

static void test_wrong_ca(void **state)
{
	struct fx *f = *state;
	struct signer_cert *certs = NULL;
	struct pp_error err = {0};
	struct signstore *st;
	char url[64];
	size_t n = 0;

	st = remote_with(f, f->base, f->other_ca, TOKEN);
	assert_int_equal(signstore_list(st, &certs, &n, &err), -1);
	assert_int_equal(err.code, HR_E_FAIL);
	assert_non_null(strstr(err.message, "cannot reach "));
	assert_non_null(strstr(err.message, f->base));
	assert_non_null(strstr(err.message, "certificate"));
	assert_null(strstr(err.message, TOKEN));
	signstore_free(st);

	/* The system's CAs do not know the test CA either. */
	pp_error_clear(&err);
	st = remote_with(f, f->base, NULL, TOKEN);
	assert_int_equal(signstore_list(st, &certs, &n, &err), -1);
	assert_int_equal(err.code, HR_E_FAIL);
	signstore_free(st);

	/* The right CA, but a name the certificate is not for: the host name is checked too. */
	pp_error_clear(&err);
	snprintf(url, sizeof(url), "https://localhost:%d/", httpd_port(f->httpd, true));
	st = remote_with(f, url, f->ca, TOKEN);
	assert_int_equal(signstore_list(st, &certs, &n, &err), -1);
	assert_int_equal(err.code, HR_E_FAIL);
	assert_non_null(strstr(err.message, "cannot reach https://localhost:"));
	signstore_free(st);

	/* A CA bundle that cannot be read is named at once. */
	pp_error_clear(&err);
	assert_null(signstore_remote(f->base, "/nonexistent/ca.pem", TOKEN, &err));
	assert_non_null(strstr(err.message, "/nonexistent/ca.pem"));
}

static void test_http_refused_before_connecting(void **state)
{
	struct fx *f = *state;
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t salen = sizeof(sa);
	struct pp_error err;
	char url[64];
	int s;

	(void)f;
	/* A listener of our own that no one should ever connect to. */
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	assert_true(s >= 0);
	assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(s, 4), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&sa, &salen), 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", ntohs(sa.sin_port));

	pp_error_clear(&err);
	assert_null(signstore_remote(url, f->ca, TOKEN, &err));
	assert_int_equal(err.code, HR_E_ACCESSDENIED);
	assert_non_null(strstr(err.message, url));
	assert_non_null(strstr(err.message, "HTTPS only"));
	assert_null(strstr(err.message, TOKEN));
	snprintf(url, sizeof(url), "HTTP://127.0.0.1:%d", ntohs(sa.sin_port));
	pp_error_clear(&err);
	assert_null(signstore_remote(url, f->ca, TOKEN, &err));
	assert_int_equal(err.code, HR_E_ACCESSDENIED);
	assert_int_equal(accept(s, NULL, NULL), -1);
	assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
	close(s);

	/* Other schemes and malformed URLs are refused as such. */
	pp_error_clear(&err);
	assert_null(signstore_remote("ftp://127.0.0.1/", f->ca, TOKEN, &err));
	assert_int_equal(err.code, HR_E_INVALIDARG);
	pp_error_clear(&err);
	assert_null(signstore_remote("https://", f->ca, TOKEN, &err));
	assert_int_equal(err.code, HR_E_INVALIDARG);
	pp_error_clear(&err);
	assert_null(signstore_remote("https://127.0.0.1:1/?x=1", f->ca, TOKEN, &err));
	assert_int_equal(err.code, HR_E_INVALIDARG);
}

/* Every route on the plain listener answers 403 https_required and does nothing, even with the
 * right token; the same call over TLS works (so the 403 is about the transport). */
static void test_plain_listener_forbidden(void **state)
{
	struct fx *f = *state;
	static const struct {
		const char *method, *route, *body;
	} calls[] = {
	    {"GET", "api/v1/signing-store", NULL},
	    {"POST", "api/v1/signing-store/generate", "{\"days\":30}"},
	    {"POST", "api/v1/signing-store/import", "{\"pfx\":\"MAMCAQE=\",\"password\":\"x\"}"},
	    {"DELETE", "api/v1/signing-store/0123456789ABCDEF0123456789ABCDEF01234567", NULL},
	};
	struct raw_answer a;
	char code[64], *u;
	size_t i;

	empty_store(f);
	for (i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
		u = url_of(f->plain, calls[i].route);
		a = raw_http(f, u, calls[i].method, TOKEN, calls[i].body);
		if (a.status != 403)
			fail_msg("%s %s: %ld %s", calls[i].method, u, a.status, a.body);
		assert_string_equal(error_code(a.body, code, sizeof(code)), "https_required");
		assert_non_null(strstr(a.body, SUP_API_HTTPS_REQUIRED));
		free(a.body);
		free(u);
	}
	assert_int_equal(count_local(f), 0);

	/* Without a token the plain listener says no more than 401. */
	u = url_of(f->plain, "api/v1/signing-store");
	a = raw_http(f, u, "GET", NULL, NULL);
	assert_int_equal(a.status, 401);
	free(a.body);
	free(u);

	/* Control: over TLS the same calls are served. */
	u = url_of(f->base, "api/v1/signing-store");
	a = raw_http(f, u, "GET", TOKEN, NULL);
	assert_int_equal(a.status, 200);
	free(a.body);
	free(u);
	u = url_of(f->base, "api/v1/signing-store/generate");
	a = raw_http(f, u, "POST", TOKEN, "{\"days\":30}");
	assert_int_equal(a.status, 201);
	free(a.body);
	free(u);
	assert_int_equal(count_local(f), 1);
}

/* The routes refuse bad fields with 400 naming them. */
static void test_bad_requests(void **state)
{
	struct fx *f = *state;
	static const struct {
		const char *route, *body, *field;
	} bad[] = {
	    {"api/v1/signing-store/generate", "{\"days\":\"ten\"}", "days"},
	    {"api/v1/signing-store/generate", "{\"days\":0}", "days"},
	    {"api/v1/signing-store/generate", "{\"bits\":2500}", "bits"},
	    {"api/v1/signing-store/generate", "{\"subject\":7}", "subject"},
	    {"api/v1/signing-store/generate", "{\"exportable\":\"yes\"}", "exportable"},
	    {"api/v1/signing-store/generate", "[]", "object"},
	    {"api/v1/signing-store/import", "{\"password\":\"x\"}", "pfx"},
	    {"api/v1/signing-store/import", "{\"pfx\":\"!!!!\"}", "pfx"},
	    {"api/v1/signing-store/import", "{\"pfx\":\"MAMCAQ\"}", "pfx"},
	    {"api/v1/signing-store/import", "{\"pfx\":\"MAMCAQE=\",\"password\":1}", "password"},
	};
	struct raw_answer a;
	char code[64], *u;
	size_t i;

	empty_store(f);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		u = url_of(f->base, bad[i].route);
		a = raw_http(f, u, "POST", TOKEN, bad[i].body);
		if (a.status != 400 || strstr(a.body, bad[i].field) == NULL)
			fail_msg("%s %s: %ld %s", bad[i].route, bad[i].body, a.status, a.body);
		assert_string_equal(error_code(a.body, code, sizeof(code)), "invalid_argument");
		free(a.body);
		free(u);
	}
	u = url_of(f->base, "api/v1/signing-store/xyz");
	a = raw_http(f, u, "DELETE", TOKEN, NULL);
	assert_int_equal(a.status, 400);
	free(a.body);
	free(u);
	u = url_of(f->base, "api/v1/signing-store/0123456789ABCDEF0123456789ABCDEF01234567");
	a = raw_http(f, u, "DELETE", TOKEN, NULL);
	assert_int_equal(a.status, 404);
	assert_string_equal(error_code(a.body, code, sizeof(code)), "not_found");
	free(a.body);
	free(u);
	assert_int_equal(count_local(f), 0);
}

/* ---- the rules of signstore.c over the remote store ---- */

static void test_register_replaces(void **state)
{
	struct fx *f = *state;
	struct signstore *st = remote(f);
	struct signer_generate_options o = {.subject = "CN=Newest", .days = 60};
	struct signer_cert a, b, c, *certs = NULL;
	struct pp_error err = {0};
	unsigned removed = 0;
	size_t n = 0;

	empty_store(f);
	generate(st, 30, false, &a);
	generate(st, 30, false, &b);
	assert_int_equal(count_local(f), 2);
	assert_int_equal(signstore_register_generated(st, &o, false, &c, &removed, &err), 0);
	assert_int_equal(err.code, 0);
	assert_int_equal(removed, 2);
	assert_int_equal(signstore_list(st, &certs, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(certs[0].thumbprint, c.thumbprint);
	signer_certs_free(certs, n);
	signer_cert_release(&a);
	signer_cert_release(&b);
	signer_cert_release(&c);
	signstore_free(st);
}

static void test_pick_longest(void **state)
{
	struct fx *f = *state;
	struct signstore *st = remote(f);
	struct signer_cert c10, c400, c30, *certs = NULL;
	struct pp_error err = {0};
	size_t n = 0;
	int best;

	empty_store(f);
	generate(st, 10, false, &c10);
	generate(st, 400, false, &c400);
	generate(st, 30, false, &c30);
	assert_int_equal(signstore_list(st, &certs, &n, &err), 0);
	assert_int_equal(n, 3);
	best = signstore_pick(certs, n, time(NULL));
	assert_true(best >= 0);
	assert_string_equal(certs[best].thumbprint, c400.thumbprint);
	signer_certs_free(certs, n);
	signer_cert_release(&c10);
	signer_cert_release(&c400);
	signer_cert_release(&c30);
	signstore_free(st);
}

/* Several site-server threads, each with its own remote store, against the workers at once. */
struct worker_arg {
	struct fx *f;
	int failures;
};

static void *worker(void *arg)
{
	struct worker_arg *w = arg;
	struct signer_generate_options o = {.days = 20};
	struct signer_cert c, *certs = NULL;
	struct pp_error err = {0};
	struct signstore *st = signstore_remote(w->f->base, w->f->ca, TOKEN, &err);
	size_t n = 0;
	int i;

	if (st == NULL || signstore_register_generated(st, &o, true, &c, NULL, &err) != 0) {
		w->failures++;
		signstore_free(st);
		return NULL;
	}
	signer_cert_release(&c);
	for (i = 0; i < 3; i++) {
		if (signstore_list(st, &certs, &n, &err) != 0)
			w->failures++;
		signer_certs_free(certs, n);
		certs = NULL;
		n = 0;
	}
	signstore_free(st);
	return NULL;
}

static void test_concurrent_clients(void **state)
{
	struct fx *f = *state;
	struct worker_arg args[4];
	pthread_t t[4];
	size_t i;

	empty_store(f);
	for (i = 0; i < 4; i++) {
		args[i].f = f;
		args[i].failures = 0;
		assert_int_equal(pthread_create(&t[i], NULL, worker, &args[i]), 0);
	}
	for (i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(args[i].failures, 0);
	}
	assert_int_equal(count_local(f), 4);
}

/* ---- the entry codec ---- */

static void assert_parse_fails(json_t *entry, const char *field)
{
	struct signer_cert c;
	struct pp_error err = {0};

	assert_int_equal(signstore_entry_parse(entry, &c, &err), -1);
	assert_int_equal(err.code, HR_E_INVALIDARG);
	if (strstr(err.message, field) == NULL)
		fail_msg("wanted '%s' in '%s'", field, err.message);
	assert_null(c.cert);
	assert_null(c.der);
	assert_null(c.chain);
}

static void test_entry_roundtrip_and_forgeries(void **state)
{
	struct fx *f = *state;
	struct signer_cert c, back;
	struct pp_error err = {0};
	json_t *entry, *forged;
	char *b64;

	empty_store(f);
	generate(f->local, 30, true, &c);
	entry = signstore_entry_json(&c);
	assert_non_null(entry);
	assert_int_equal(signstore_entry_parse(entry, &back, &err), 0);
	assert_string_equal(back.thumbprint, c.thumbprint);
	assert_memory_equal(back.der, c.der, c.der_len);
	assert_int_equal(X509_cmp(back.cert, c.cert), 0);
	assert_true(back.exportable);
	assert_true(back.has_key);
	signer_cert_release(&back);

	/* A thumbprint that is valid hex but not the SHA-1 of der. */
	forged = json_deep_copy(entry);
	json_object_set_new(forged, "thumbprint",
			    json_string("0123456789ABCDEF0123456789ABCDEF01234567"));
	assert_parse_fails(forged, "thumbprint");
	json_object_set_new(forged, "thumbprint", json_string("short"));
	assert_parse_fails(forged, "thumbprint");
	json_decref(forged);

	/* der: not base64, base64 of no certificate, a certificate with a byte appended. */
	forged = json_deep_copy(entry);
	json_object_set_new(forged, "der", json_string("!!!!"));
	assert_parse_fails(forged, "der");
	json_object_set_new(forged, "der", json_string("aGVsbG8="));
	assert_parse_fails(forged, "der");
	json_object_set_new(forged, "der", json_string("QQ=="));
	assert_parse_fails(forged, "der");
	{
		uint8_t *longer = malloc(c.der_len + 1);

		assert_non_null(longer);
		memcpy(longer, c.der, c.der_len);
		longer[c.der_len] = 0;
		b64 = signstore_base64_encode(longer, c.der_len + 1);
		free(longer);
	}
	json_object_set_new(forged, "der", json_string(b64));
	free(b64);
	assert_parse_fails(forged, "der");
	json_object_set_new(forged, "der", json_integer(1));
	assert_parse_fails(forged, "der");
	json_decref(forged);

	/* chain and flags. */
	forged = json_deep_copy(entry);
	json_object_set_new(forged, "chain", json_pack("[s]", "***"));
	assert_parse_fails(forged, "chain");
	json_object_set_new(forged, "chain", json_string("none"));
	assert_parse_fails(forged, "chain");
	json_decref(forged);
	forged = json_deep_copy(entry);
	json_object_del(forged, "has_key");
	assert_parse_fails(forged, "has_key");
	json_object_set_new(forged, "has_key", json_true());
	json_object_set_new(forged, "exportable", json_string("true"));
	assert_parse_fails(forged, "exportable");
	json_decref(forged);
	forged = json_string("not an entry");
	assert_parse_fails(forged, "entry");
	json_decref(forged);

	json_decref(entry);
	signer_cert_release(&c);
}

static void test_base64(void **state)
{
	static const struct {
		const char *text, *plain;
	} good[] = {{"QQ==", "A"}, {"QUI=", "AB"}, {"QUJD", "ABC"}, {"QUJDRA==", "ABCD"}};
	static const char *bad[] = {"", "QQ=", "Q===", "QQ==QQ==", "QU JD", "QUJD\n", "QUJ-"};
	struct pp_error err;
	uint8_t *out = NULL;
	size_t len = 0, i;
	char *enc;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		pp_error_clear(&err);
		assert_int_equal(signstore_base64_decode(good[i].text, 16, "x", &out, &len, &err),
				 0);
		assert_int_equal(len, strlen(good[i].plain));
		assert_memory_equal(out, good[i].plain, len);
		OPENSSL_free(out);
		enc =
		    signstore_base64_encode((const uint8_t *)good[i].plain, strlen(good[i].plain));
		assert_string_equal(enc, good[i].text);
		free(enc);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		pp_error_clear(&err);
		assert_int_equal(signstore_base64_decode(bad[i], 16, "field", &out, &len, &err),
				 -1);
		assert_int_equal(err.code, HR_E_INVALIDARG);
		assert_non_null(strstr(err.message, "field"));
		assert_null(out);
	}
	/* Bounded: 4 bytes do not fit in 3. */
	pp_error_clear(&err);
	assert_int_equal(signstore_base64_decode("QUJDRA==", 3, "field", &out, &len, &err), -1);
	assert_non_null(strstr(err.message, "over 3 bytes"));
	assert_int_equal(signstore_base64_decode("QUJD", 3, "field", &out, &len, &err), 0);
	OPENSSL_free(out);
}

/* ---- no private key in any answer ---- */

static bool contains(const uint8_t *hay, size_t n, const uint8_t *needle, size_t m)
{
	size_t i;

	for (i = 0; m > 0 && i + m <= n; i++)
		if (memcmp(hay + i, needle, m) == 0)
			return true;
	return false;
}

/* Fails when body holds a PEM block, or any base64 string of it decodes to bytes holding d. */
static void assert_no_key_in(const char *body, const uint8_t *d, size_t d_len)
{
	json_t *doc = json_loads(body, 0, NULL);
	json_t *list = json_object_get(doc, "certificates"),
	       *one = json_object_get(doc, "certificate");
	json_t *entries = json_is_array(list) ? json_incref(list) : json_pack("[O]", one);
	struct pp_error err = {0};
	json_t *e, *v;
	size_t i, j, len;
	uint8_t *bytes;

	assert_non_null(doc);
	assert_null(strstr(body, "PRIVATE KEY"));
	assert_null(strstr(body, "-----BEGIN"));
	json_array_foreach(entries, i, e)
	{
		assert_true(json_object_size(e) == 5); /* the documented fields, nothing more */
		assert_int_equal(
		    signstore_base64_decode(json_string_value(json_object_get(e, "der")),
					    SIGNER_CERT_MAX, "der", &bytes, &len, &err),
		    0);
		assert_false(contains(bytes, len, d, d_len));
		OPENSSL_free(bytes);
		json_array_foreach(json_object_get(e, "chain"), j, v)
		{
			assert_int_equal(signstore_base64_decode(json_string_value(v),
								 SIGNER_CERT_MAX, "chain", &bytes,
								 &len, &err),
					 0);
			assert_false(contains(bytes, len, d, d_len));
			OPENSSL_free(bytes);
		}
	}
	json_decref(entries);
	json_decref(doc);
}

/* The private exponent of the exportable key of thumbprint, exported by the SUP's signer. */
static size_t private_exponent(struct fx *f, const char *thumbprint, uint8_t *out, size_t size)
{
	struct pp_error err = {0};
	uint8_t *pfx = NULL;
	size_t len = 0;
	const unsigned char *q;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	PKCS12 *p12;
	BIGNUM *d = NULL;
	int n;

	assert_int_equal(signer_export_pfx(f->signer, thumbprint, "pw", &pfx, &len, &err), 0);
	q = pfx;
	p12 = d2i_PKCS12(NULL, &q, (long)len);
	assert_non_null(p12);
	assert_int_equal(PKCS12_parse(p12, "pw", &key, &cert, NULL), 1);
	assert_int_equal(EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_D, &d), 1);
	assert_true((size_t)BN_num_bytes(d) <= size);
	n = BN_bn2bin(d, out);
	BN_clear_free(d);
	EVP_PKEY_free(key);
	X509_free(cert);
	PKCS12_free(p12);
	OPENSSL_clear_free(pfx, len);
	ERR_clear_error();
	return (size_t)n;
}

static void test_no_private_key_in_answers(void **state)
{
	struct fx *f = *state;
	struct raw_answer gen, list, imp;
	uint8_t d[1024], *pfx;
	size_t d_len, pfx_len = 0;
	json_t *doc, *req;
	char *u, *b64, *body;
	const char *tp;

	empty_store(f);
	u = url_of(f->base, "api/v1/signing-store/generate");
	gen = raw_http(f, u, "POST", TOKEN, "{\"exportable\":true,\"days\":30}");
	free(u);
	assert_int_equal(gen.status, 201);
	doc = json_loads(gen.body, 0, NULL);
	tp = json_string_value(json_object_get(json_object_get(doc, "certificate"), "thumbprint"));
	assert_non_null(tp);
	d_len = private_exponent(f, tp, d, sizeof(d));
	assert_true(d_len >= 128);
	json_decref(doc);

	pfx = make_pfx(f, "nokey", "rsa:2048", NULL, &pfx_len);
	b64 = signstore_base64_encode(pfx, pfx_len);
	req = json_pack("{s:s, s:s, s:b}", "pfx", b64, "password", "s3cret", "exportable", 1);
	body = json_dumps(req, JSON_COMPACT);
	u = url_of(f->base, "api/v1/signing-store/import");
	imp = raw_http(f, u, "POST", TOKEN, body);
	free(u);
	assert_int_equal(imp.status, 201);

	u = url_of(f->base, "api/v1/signing-store");
	list = raw_http(f, u, "GET", TOKEN, NULL);
	free(u);
	assert_int_equal(list.status, 200);

	assert_no_key_in(gen.body, d, d_len);
	assert_no_key_in(imp.body, d, d_len);
	assert_no_key_in(list.body, d, d_len);
	assert_null(strstr(list.body, "s3cret"));
	assert_null(strstr(imp.body, "s3cret"));
	OPENSSL_cleanse(d, sizeof(d));
	free(gen.body);
	free(imp.body);
	free(list.body);
	free(body);
	json_decref(req);
	free(b64);
	free(pfx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_list_empty),
	    cmocka_unit_test(test_generate_listed),
	    cmocka_unit_test(test_generate_refused),
	    cmocka_unit_test(test_import_good),
	    cmocka_unit_test(test_import_refused),
	    cmocka_unit_test(test_remove),
	    cmocka_unit_test(test_wrong_token),
	    cmocka_unit_test(test_wrong_ca),
	    cmocka_unit_test(test_http_refused_before_connecting),
	    cmocka_unit_test(test_plain_listener_forbidden),
	    cmocka_unit_test(test_bad_requests),
	    cmocka_unit_test(test_register_replaces),
	    cmocka_unit_test(test_pick_longest),
	    cmocka_unit_test(test_concurrent_clients),
	    cmocka_unit_test(test_entry_roundtrip_and_forgeries),
	    cmocka_unit_test(test_base64),
	    cmocka_unit_test(test_no_private_key_in_answers),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
