/* agent_policy.c - the machine policy cycle and what third-party software updates settings do to
 * the machine (see agent_policy.h, docs/internals/agent.md).
 *
 * Order of work in agent_policy_apply: parse and check the whole document, read the managed list
 * and the current policy value (any failure so far changes nothing), then the enabled or disabled
 * branch, then removals, then managed-certs.json when it changed. */
#include "agent_policy.h"

#include "agent_gpo.h"
#include "agent_http.h"
#include "base64.h"
#include "hresult.h"
#include "machinepolicy.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#define ATPC MACHINEPOLICY_ACCEPT_TRUSTED_PUBLISHER_CERTS

/* ---- logging ---- */

#define DEPLOYMENT_LOG(logs) ((logs) != NULL ? (logs)->deployment : NULL)
#define POLICY_LOG(logs)     ((logs) != NULL ? (logs)->policy : NULL)

/* ---- validation ---- */

static int bad_field(struct pp_error *err, const char *field, const char *what)
{
	pp_error_set(err, HR_ERROR_INVALID_DATA, "machine policy field %s %s", field, what);
	return -1;
}

/* Member key of obj as a string of min..max bytes without control characters, copied to out
 * (max + 1 bytes). field names it in errors. */
static int get_text(const json_t *obj, const char *key, const char *field, size_t min, size_t max,
		    char *out, struct pp_error *err)
{
	const json_t *v = json_object_get(obj, key);
	const char *s;
	size_t len, i;
	char what[96];

	if (v == NULL)
		return bad_field(err, field, "is missing");
	if (!json_is_string(v))
		return bad_field(err, field, "is not a string");
	s = json_string_value(v);
	len = json_string_length(v);
	if (len < min || len > max) {
		(void)snprintf(what, sizeof(what), "is not %zu to %zu bytes long", min, max);
		return bad_field(err, field, what);
	}
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return bad_field(err, field, "holds a control character");
	memcpy(out, s, len + 1);
	return 0;
}

static int get_bool(const json_t *obj, const char *key, const char *field, bool *out,
		    struct pp_error *err)
{
	const json_t *v = json_object_get(obj, key);

	if (v == NULL)
		return bad_field(err, field, "is missing");
	if (!json_is_boolean(v))
		return bad_field(err, field, "is not true or false");
	*out = json_is_true(v);
	return 0;
}

static const json_t *get_array(const json_t *obj, const char *key, size_t max, struct pp_error *err)
{
	const json_t *v = json_object_get(obj, key);
	char what[64];

	if (v == NULL) {
		(void)bad_field(err, key, "is missing");
		return NULL;
	}
	if (!json_is_array(v)) {
		(void)bad_field(err, key, "is not a list");
		return NULL;
	}
	if (json_array_size(v) > max) {
		(void)snprintf(what, sizeof(what), "has more than %zu entries", max);
		(void)bad_field(err, key, what);
		return NULL;
	}
	return v;
}

bool agent_client_version_valid(const char *v)
{
	int parts = 0, digits = 0;

	for (;; v++) {
		if (*v >= '0' && *v <= '9') {
			if (++digits > 9)
				return false;
		} else if (*v == '.' || *v == '\0') {
			if (digits == 0)
				return false;
			parts++;
			digits = 0;
			if (*v == '\0')
				break;
		} else {
			return false;
		}
	}
	return parts == 4;
}

/* The version goes back to the server in If-None-Match: letters, digits and ._:- only. */
static bool version_valid(const char *v)
{
	size_t i;

	for (i = 0; v[i] != '\0'; i++)
		if (!((v[i] >= '0' && v[i] <= '9') || (v[i] >= 'a' && v[i] <= 'z') ||
		      (v[i] >= 'A' && v[i] <= 'Z') || strchr("._:-", v[i]) != NULL))
			return false;
	return i > 0;
}

/* certificates[i] into c. */
static int parse_cert(const json_t *e, size_t i, struct agent_policy_cert *c, struct pp_error *err)
{
	char field[64], thumb[PKI_THUMBPRINT_LEN + 1], given[PKI_THUMBPRINT_LEN + 8], what[160];
	const json_t *der_v, *stores, *s;
	unsigned char *der = NULL;
	const unsigned char *p;
	enum certstore_id id;
	size_t der_len = 0, k, j;
	int rc = -1;

	(void)snprintf(field, sizeof(field), "certificates[%zu]", i);
	if (!json_is_object(e)) {
		(void)bad_field(err, field, "is not an object");
		goto out;
	}
	(void)snprintf(field, sizeof(field), "certificates[%zu].thumbprint", i);
	if (get_text(e, "thumbprint", field, 1, PKI_THUMBPRINT_LEN + 7, given, err) != 0)
		goto out;
	if (strlen(given) != PKI_THUMBPRINT_LEN ||
	    pki_thumbprint_normalize(given, c->thumbprint) != 0) {
		(void)bad_field(err, field, "is not 40 hexadecimal digits");
		goto out;
	}
	(void)snprintf(field, sizeof(field), "certificates[%zu].subject", i);
	if (get_text(e, "subject", field, 0, AGENT_SUBJECT_MAX, c->subject, err) != 0)
		goto out;
	(void)snprintf(field, sizeof(field), "certificates[%zu].der", i);
	der_v = json_object_get(e, "der");
	if (der_v == NULL) {
		(void)bad_field(err, field, "is missing");
		goto out;
	}
	if (!json_is_string(der_v)) {
		(void)bad_field(err, field, "is not a string");
		goto out;
	}
	if (json_string_length(der_v) > (AGENT_POLICY_MAX_DER / 3 + 1) * 4) {
		(void)snprintf(what, sizeof(what), "is over %d bytes", AGENT_POLICY_MAX_DER);
		(void)bad_field(err, field, what);
		goto out;
	}
	der = base64_decode(json_string_value(der_v), json_string_length(der_v), &der_len);
	if (der == NULL) {
		(void)bad_field(err, field, "is not base64");
		goto out;
	}
	p = der;
	c->cert = d2i_X509(NULL, &p, (long)der_len);
	if (c->cert == NULL || p != der + der_len) {
		(void)bad_field(err, field, "is not one DER-encoded X.509 certificate");
		goto out;
	}
	if (pki_thumbprint(c->cert, thumb) != 0) {
		(void)bad_field(err, field, "holds a certificate whose thumbprint cannot be made");
		goto out;
	}
	if (strcmp(thumb, c->thumbprint) != 0) {
		(void)snprintf(field, sizeof(field), "certificates[%zu].thumbprint", i);
		(void)snprintf(what, sizeof(what),
			       "%s does not match the certificate in certificates[%zu].der (%s)",
			       c->thumbprint, i, thumb);
		(void)bad_field(err, field, what);
		goto out;
	}
	(void)snprintf(field, sizeof(field), "certificates[%zu].stores", i);
	stores = json_object_get(e, "stores");
	if (!json_is_array(stores) || json_array_size(stores) == 0 || json_array_size(stores) > 2) {
		(void)bad_field(err, field,
				stores == NULL ? "is missing"
					       : "is not a list of one or two store names");
		goto out;
	}
	json_array_foreach(stores, k, s)
	{
		(void)snprintf(field, sizeof(field), "certificates[%zu].stores[%zu]", i, k);
		if (!json_is_string(s)) {
			(void)bad_field(err, field, "is not a string");
			goto out;
		}
		if (strcmp(json_string_value(s), "Root") == 0)
			id = CERTSTORE_ROOT;
		else if (strcmp(json_string_value(s), "TrustedPublisher") == 0)
			id = CERTSTORE_TRUSTED_PUBLISHER;
		else {
			(void)bad_field(err, field, "is not \"Root\" or \"TrustedPublisher\"");
			goto out;
		}
		for (j = 0; j < c->nstores; j++)
			if (c->stores[j] == id) {
				(void)bad_field(err, field, "names a store twice");
				goto out;
			}
		/* Only a self-signed certificate is its own root of trust. */
		if (id == CERTSTORE_ROOT && !pki_is_self_signed(c->cert)) {
			(void)bad_field(err, field,
					"puts a certificate that is not self-signed into Root");
			goto out;
		}
		c->stores[c->nstores++] = id;
	}
	rc = 0;
out:
	free(der);
	return rc;
}

static int parse_removal(const json_t *e, size_t i, struct agent_policy_removal *r,
			 struct pp_error *err)
{
	char field[64], given[PKI_THUMBPRINT_LEN + 8];

	(void)snprintf(field, sizeof(field), "remove_certificates[%zu]", i);
	if (!json_is_object(e))
		return bad_field(err, field, "is not an object");
	(void)snprintf(field, sizeof(field), "remove_certificates[%zu].thumbprint", i);
	if (get_text(e, "thumbprint", field, 1, PKI_THUMBPRINT_LEN + 7, given, err) != 0)
		return -1;
	if (strlen(given) != PKI_THUMBPRINT_LEN ||
	    pki_thumbprint_normalize(given, r->thumbprint) != 0)
		return bad_field(err, field, "is not 40 hexadecimal digits");
	(void)snprintf(field, sizeof(field), "remove_certificates[%zu].reason", i);
	if (get_text(e, "reason", field, 1, sizeof(r->reason) - 1, r->reason, err) != 0 ||
	    (strcmp(r->reason, "blocked") != 0 && strcmp(r->reason, "expired") != 0))
		return bad_field(err, field, "is not \"blocked\" or \"expired\"");
	return 0;
}

static int parse_settings(const json_t *policy, struct pp_error *err)
{
	const json_t *settings = json_object_get(policy, "settings"), *v;
	char field[AGENT_SETTING_NAME_MAX + 32], source[AGENT_SETTING_NAME_MAX + 1];
	const char *key;

	if (settings == NULL)
		return bad_field(err, "settings", "is missing");
	if (!json_is_object(settings))
		return bad_field(err, "settings", "is not an object");
	json_object_foreach((json_t *)settings, key, v)
	{
		(void)snprintf(field, sizeof(field), "settings.%.64s", key);
		if (!json_is_object(v) || json_object_get(v, "value") == NULL)
			return bad_field(err, field, "is not {\"value\": ..., \"source\": ...}");
		(void)snprintf(field, sizeof(field), "settings.%.64s.source", key);
		if (get_text(v, "source", field, 1, AGENT_SETTING_NAME_MAX, source, err) != 0)
			return -1;
	}
	return 0;
}

void agent_policy_doc_free(struct agent_policy_doc *doc)
{
	size_t i;

	if (doc == NULL)
		return;
	for (i = 0; i < doc->ncerts; i++)
		X509_free(doc->certs[i].cert);
	free(doc->certs);
	free(doc->removals);
	free(doc);
}

struct agent_policy_doc *agent_policy_parse(const json_t *policy, struct pp_error *err)
{
	struct agent_policy_doc *doc = NULL;
	const json_t *device, *tp, *certs, *removals, *deployments, *e;
	char device_field[AGENT_DEVICE_ID_MAX + 1], name[AGENT_NAME_MAX + 1];
	size_t i, j;
	int rc = -1;

	if (!json_is_object(policy)) {
		pp_error_set(err, HR_ERROR_INVALID_DATA, "the machine policy is not a JSON object");
		goto out;
	}
	doc = calloc(1, sizeof(*doc));
	if (doc == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory reading the machine policy");
		goto out;
	}
	if (get_text(policy, "version", "version", 1, AGENT_POLICY_VERSION_MAX, doc->version,
		     err) != 0)
		goto out;
	if (!version_valid(doc->version)) {
		(void)bad_field(err, "version",
				"holds characters other than letters, digits, . _ : -");
		goto out;
	}

	device = json_object_get(policy, "device");
	if (!json_is_object(device)) {
		(void)bad_field(err, "device", device == NULL ? "is missing" : "is not an object");
		goto out;
	}
	if (get_text(device, "id", "device.id", 1, AGENT_DEVICE_ID_MAX, device_field, err) != 0 ||
	    get_text(device, "name", "device.name", 1, AGENT_NAME_MAX, name, err) != 0 ||
	    get_text(device, "client_version", "device.client_version", 1, AGENT_CLIENT_VERSION_MAX,
		     doc->client_version, err) != 0)
		goto out;
	if (parse_settings(policy, err) != 0)
		goto out;

	tp = json_object_get(policy, "third_party");
	if (!json_is_object(tp)) {
		(void)bad_field(err, "third_party", tp == NULL ? "is missing" : "is not an object");
		goto out;
	}
	if (get_bool(tp, "enabled", "third_party.enabled", &doc->enabled, err) != 0 ||
	    get_text(tp, "source", "third_party.source", 1, AGENT_SETTING_NAME_MAX, doc->source,
		     err) != 0 ||
	    get_text(tp, "minimum_client_version", "third_party.minimum_client_version", 1,
		     AGENT_CLIENT_VERSION_MAX, doc->minimum_client_version, err) != 0 ||
	    get_bool(tp, "client_version_ok", "third_party.client_version_ok",
		     &doc->client_version_ok, err) != 0)
		goto out;
	if (!agent_client_version_valid(doc->minimum_client_version)) {
		(void)bad_field(err, "third_party.minimum_client_version",
				"is not four dot-separated numbers (5.00.8692.1003)");
		goto out;
	}

	certs = get_array(policy, "certificates", AGENT_POLICY_MAX_CERTS, err);
	removals = get_array(policy, "remove_certificates", AGENT_POLICY_MAX_REMOVALS, err);
	deployments = get_array(policy, "deployments", AGENT_POLICY_MAX_DEPLOYMENTS, err);
	if (certs == NULL || removals == NULL || deployments == NULL)
		goto out;
	if (json_array_size(certs) > 0) {
		doc->certs = calloc(json_array_size(certs), sizeof(*doc->certs));
		if (doc->certs == NULL) {
			pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory reading the policy");
			goto out;
		}
	}
	json_array_foreach(certs, i, e)
	{
		doc->ncerts = i + 1; /* so that free releases a half-parsed certificate too */
		if (parse_cert(e, i, &doc->certs[i], err) != 0)
			goto out;
		for (j = 0; j < i; j++)
			if (strcmp(doc->certs[j].thumbprint, doc->certs[i].thumbprint) == 0) {
				(void)bad_field(err, "certificates",
						"lists the same certificate twice");
				goto out;
			}
	}
	if (json_array_size(removals) > 0) {
		doc->removals = calloc(json_array_size(removals), sizeof(*doc->removals));
		if (doc->removals == NULL) {
			pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory reading the policy");
			goto out;
		}
	}
	json_array_foreach(removals, i, e)
	{
		if (parse_removal(e, i, &doc->removals[i], err) != 0)
			goto out;
		doc->nremovals = i + 1;
		/* Installing and removing the same certificate would undo itself every cycle. */
		for (j = 0; j < doc->ncerts; j++)
			if (strcmp(doc->certs[j].thumbprint, doc->removals[i].thumbprint) == 0) {
				char field[48];

				(void)snprintf(field, sizeof(field), "remove_certificates[%zu]", i);
				(void)bad_field(
				    err, field,
				    "names a certificate that \"certificates\" installs");
				goto out;
			}
	}
	json_array_foreach(deployments, i, e)
	{
		if (!json_is_object(e)) {
			char field[48];

			(void)snprintf(field, sizeof(field), "deployments[%zu]", i);
			(void)bad_field(err, field, "is not an object");
			goto out;
		}
	}
	doc->ndeployments = json_array_size(deployments);
	rc = 0;
out:
	if (rc != 0) {
		agent_policy_doc_free(doc);
		doc = NULL;
	}
	return doc;
}

/* ---- applying ---- */

/* "client-settings:<name>" as machinepolicy stores sources: printable ASCII, bounded. A byte
 * outside that (a UTF-8 name) becomes '?'; the name in the logs stays as the site wrote it. */
static void policy_source(const char *name, char out[MACHINEPOLICY_SOURCE_MAX])
{
	size_t o = strlen(AGENT_POLICY_SOURCE_PREFIX), i;

	memcpy(out, AGENT_POLICY_SOURCE_PREFIX, o);
	for (i = 0; name[i] != '\0' && o < MACHINEPOLICY_SOURCE_MAX - 1; i++, o++) {
		unsigned char c = (unsigned char)name[i];

		out[o] = c >= 0x20 && c <= 0x7e ? (char)c : '?';
	}
	out[o] = '\0';
}

static int apply_enabled(const char *machine, const struct agent_policy_doc *doc,
			 struct agent_managed *managed, bool *dirty, struct cmtrace_log *log,
			 struct pp_error *err)
{
	char source[MACHINEPOLICY_SOURCE_MAX];
	struct machinepolicy_value value;
	const struct agent_policy_cert *c;
	const struct agent_managed_cert *m;
	enum certstore_id store;
	bool already;
	size_t i, k;

	agent_log(log, CMTRACE_INFO,
		  "Third-party software updates are enabled by client setting \"%s\"", doc->source);
	if (!doc->client_version_ok) {
		agent_log(log, CMTRACE_WARNING,
			  "Client version %s is below the minimum %s for third-party software "
			  "updates; no certificate is installed",
			  doc->client_version, doc->minimum_client_version);
		return 0;
	}
	for (i = 0; i < doc->ncerts; i++) {
		c = &doc->certs[i];
		for (k = 0; k < c->nstores; k++) {
			store = c->stores[k];
			if (certstore_add(machine, store, CERTSTORE_LOCAL, c->cert, false, &already,
					  err) != 0)
				return -1;
			if (already) {
				/* Not ours unless we put it there: a certificate an administrator
				 * added stays theirs, and a removal leaves it alone. */
				agent_log(log, CMTRACE_INFO,
					  "Certificate %s is already in the %s store",
					  c->thumbprint, certstore_name(store));
				continue;
			}
			agent_log(log, CMTRACE_INFO,
				  "Installed certificate %s (%s) into the %s store", c->thumbprint,
				  c->subject, certstore_name(store));
			m = agent_managed_find(managed, c->thumbprint);
			if (m == NULL || (m->stores & (1u << store)) == 0) {
				if (agent_managed_add(managed, c->thumbprint, c->subject,
						      (int)store, (long long)time(NULL), err) != 0)
					return -1;
				*dirty = true;
			}
		}
	}
	policy_source(doc->source, source);
	if (machinepolicy_get(machine, ATPC, &value, err) != 0)
		return -1;
	if (value.present && value.value == 1 && strcmp(value.source, source) == 0)
		return 0;
	/* A GPO that disabled it outranks client settings too: group policy is applied after the
	 * local policy the client writes (docs/internals/gpo.md). */
	if (value.present && value.value != 1 &&
	    strncmp(value.source, AGENT_GPO_SOURCE_PREFIX, strlen(AGENT_GPO_SOURCE_PREFIX)) == 0) {
		agent_log(log, CMTRACE_INFO,
			  "AcceptTrustedPublisherCerts is %lu, set by %s: group policy takes "
			  "precedence over client settings",
			  (unsigned long)value.value, value.source);
		return 0;
	}
	/* A 1 that a GPO or an administrator set stays theirs: client settings taking it over
	 * would clear it when they are disabled. */
	if (value.present && value.value == 1 &&
	    strncmp(value.source, AGENT_POLICY_SOURCE_PREFIX, strlen(AGENT_POLICY_SOURCE_PREFIX)) !=
		0) {
		agent_log(log, CMTRACE_INFO, "AcceptTrustedPublisherCerts is already 1, set by %s",
			  value.source);
		return 0;
	}
	if (machinepolicy_set(machine, ATPC, 1, source, err) != 0)
		return -1;
	agent_log(log, CMTRACE_INFO,
		  "Set AcceptTrustedPublisherCerts = 1 (Allow signed updates from an intranet "
		  "Microsoft update service location)");
	return 0;
}

static int apply_disabled(const char *machine, const struct agent_policy_doc *doc,
			  struct cmtrace_log *log, struct pp_error *err)
{
	const size_t prefix = strlen(AGENT_POLICY_SOURCE_PREFIX);
	struct machinepolicy_value value;

	agent_log(
	    log, CMTRACE_INFO,
	    "Third-party software updates are disabled by client setting \"%s\"; certificates "
	    "are left in place",
	    doc->source);
	if (machinepolicy_get(machine, ATPC, &value, err) != 0)
		return -1;
	/* A value set locally or by a GPO is not the client settings' to take away. */
	if (!value.present || strncmp(value.source, AGENT_POLICY_SOURCE_PREFIX, prefix) != 0)
		return 0;
	if (machinepolicy_clear(machine, ATPC, err) != 0)
		return -1;
	agent_log(log, CMTRACE_INFO,
		  "Cleared AcceptTrustedPublisherCerts, which client setting \"%s\" had set",
		  value.source + prefix);
	return 0;
}

static int apply_removals(const char *machine, const struct agent_policy_doc *doc,
			  struct agent_managed *managed, bool *dirty, struct cmtrace_log *log,
			  struct pp_error *err)
{
	const struct agent_policy_removal *r;
	struct agent_managed_cert *m;
	bool removed;
	size_t i;
	int s;

	for (i = 0; i < doc->nremovals; i++) {
		r = &doc->removals[i];
		m = agent_managed_find(managed, r->thumbprint);
		if (m == NULL)
			continue; /* not installed by the agent: not the agent's to remove */
		for (s = 0; s < CERTSTORE_COUNT; s++) {
			if ((m->stores & (1u << s)) == 0)
				continue;
			if (certstore_remove(machine, (enum certstore_id)s, CERTSTORE_LOCAL,
					     r->thumbprint, &removed, err) != 0)
				return -1;
			m->stores &= ~(1u << s);
			*dirty = true;
			if (removed)
				agent_log(
				    log, CMTRACE_INFO,
				    "Removed certificate %s from the %s store: it is %s on the "
				    "site",
				    r->thumbprint, certstore_name((enum certstore_id)s), r->reason);
		}
		agent_managed_forget(managed, r->thumbprint);
		*dirty = true;
	}
	return 0;
}

static int apply_doc(const char *machine, const struct agent_policy_doc *doc,
		     struct agent_logs *logs, struct pp_error *err)
{
	struct agent_managed managed = {NULL, 0};
	struct cmtrace_log *log = DEPLOYMENT_LOG(logs);
	struct pp_error save_err;
	bool dirty = false;
	int rc = -1;

	if (agent_state_load_managed(machine, &managed, err) != 0)
		goto out;
	if (doc->enabled) {
		if (apply_enabled(machine, doc, &managed, &dirty, log, err) != 0)
			goto out;
	} else if (apply_disabled(machine, doc, log, err) != 0) {
		goto out;
	}
	if (apply_removals(machine, doc, &managed, &dirty, log, err) != 0)
		goto out;
	rc = 0;
out:
	/* What was installed or removed before a failure is remembered all the same. */
	if (dirty) {
		pp_error_clear(&save_err);
		if (agent_state_save_managed(machine, &managed, &save_err) != 0) {
			pp_error_set(err, save_err.code, "%s", save_err.message);
			rc = -1;
		}
	}
	agent_managed_free(&managed);
	return rc;
}

int agent_policy_apply(const char *machine, const json_t *policy, struct agent_logs *logs,
		       struct pp_error *err)
{
	struct agent_policy_doc *doc = agent_policy_parse(policy, err);
	int rc;

	if (doc == NULL)
		return -1;
	rc = apply_doc(machine, doc, logs, err);
	agent_policy_doc_free(doc);
	return rc;
}

/* ---- the cycle ---- */

static void outcome_fill(struct agent_policy_outcome *out, const struct agent_policy_doc *doc,
			 bool unchanged)
{
	out->unchanged = unchanged;
	memcpy(out->version, doc->version, sizeof(out->version));
	out->deployments = doc->ndeployments;
	out->enabled = doc->enabled;
	memcpy(out->source, doc->source, sizeof(out->source));
}

int agent_policy_cycle(const char *machine, const char *ca_bundle, struct agent_logs *logs,
		       struct agent_policy_outcome *out, struct pp_error *err)
{
	enum { SETUP, REQUEST, APPLY } phase = SETUP;
	struct agent_identity id;
	struct agent_stored_policy stored = {0};
	struct agent_http_response resp = {0};
	struct agent_policy_doc *doc = NULL;
	struct agent_http *http = NULL;
	struct pp_error stored_err;
	const json_t *policy;
	char inm[AGENT_ETAG_MAX + 1], etag[AGENT_ETAG_MAX + 1];
	bool have_stored = false;
	long long now = (long long)time(NULL), received_at = now;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (agent_state_require_identity(machine, &id, err) != 0)
		goto out;
	phase = REQUEST;
	agent_log(POLICY_LOG(logs), CMTRACE_INFO, "Requesting machine policy from %s", id.server);
	pp_error_clear(&stored_err);
	if (agent_state_load_policy(machine, &stored, &have_stored, &stored_err) != 0) {
		/* A damaged copy is replaced by asking for the whole policy again. */
		agent_log(POLICY_LOG(logs), CMTRACE_WARNING,
			  "Ignoring the stored machine policy: %s", stored_err.message);
		have_stored = false;
	}
	inm[0] = '\0';
	if (have_stored && stored.etag[0] != '\0')
		(void)snprintf(inm, sizeof(inm), "%s", stored.etag);
	else if (have_stored)
		(void)snprintf(inm, sizeof(inm), "\"%s\"", stored.version);
	http = agent_http_new(
	    id.server, ca_bundle != NULL && ca_bundle[0] != '\0' ? ca_bundle : id.ca_bundle, err);
	if (http == NULL || agent_http_set_credential(http, id.credential, err) != 0 ||
	    agent_http_request(http, "GET", AGENT_POLICY_PATH, NULL, inm, &resp, err) != 0)
		goto out;
	if (resp.status == 304 && !have_stored) {
		pp_error_set(err, HR_E_FAIL,
			     "%s answered 304 Not Modified to a request without a stored policy",
			     id.server);
		goto out;
	}
	if (resp.status == 304) {
		policy = stored.policy;
		received_at = stored.received_at;
		(void)snprintf(etag, sizeof(etag), "%s", stored.etag);
	} else {
		policy = resp.json;
		(void)snprintf(etag, sizeof(etag), "%s", resp.etag);
	}
	doc = agent_policy_parse(policy, err);
	if (doc == NULL)
		goto out;
	if (etag[0] == '\0')
		(void)snprintf(etag, sizeof(etag), "\"%s\"", doc->version);
	if (agent_state_save_policy(machine, policy, etag, received_at, now, err) != 0)
		goto out;
	if (resp.status == 304)
		agent_log(POLICY_LOG(logs), CMTRACE_INFO,
			  "Machine policy is unchanged (version %s)", doc->version);
	else
		agent_log(
		    POLICY_LOG(logs), CMTRACE_INFO,
		    "Received machine policy version %s: %zu deployment(s), third-party software "
		    "updates %s by \"%s\"",
		    doc->version, doc->ndeployments, doc->enabled ? "enabled" : "disabled",
		    doc->source);
	outcome_fill(out, doc, resp.status == 304);
	phase = APPLY;
	if (apply_doc(machine, doc, logs, err) != 0)
		goto out;
	rc = 0;
out:
	if (rc != 0 && phase == REQUEST)
		agent_log(POLICY_LOG(logs), CMTRACE_ERROR, "Machine policy request failed: %s",
			  err != NULL ? err->message : "");
	else if (rc != 0 && phase == APPLY)
		agent_log(DEPLOYMENT_LOG(logs), CMTRACE_ERROR,
			  "Failed to apply machine policy version %s: %s", doc->version,
			  err != NULL ? err->message : "");
	agent_policy_doc_free(doc);
	agent_http_response_free(&resp);
	agent_http_free(http);
	agent_stored_policy_free(&stored);
	agent_identity_wipe(&id);
	return rc;
}
