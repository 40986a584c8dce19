/* certstore.c - directory certificate stores (local and group-policy layers) of a machine.
 *
 * A store is a directory of DER files named <SHA1>.cer. Writes go through pki_export_cer, which
 * writes a temporary file, fsyncs it and renames it into place, so a reader never sees half a
 * certificate. Reads are bounded: only names of 40 hex digits + ".cer", at most
 * CERTSTORE_MAX_FILE bytes each and CERTSTORE_MAX_ENTRIES per directory. */
#include "certstore.h"

#include "atomicfile.h"

#include "hresult.h"
#include "pki.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/objects.h>

#define CERTSTORE_MAX_FILE    (1024 * 1024)
#define CERTSTORE_MAX_ENTRIES 10000
#define CERTSTORE_PATH_MAX    4096

static const struct {
	const char *name;
	const char *display;
} store_names[CERTSTORE_COUNT] = {
    [CERTSTORE_MY] = {"My", "Personal"},
    [CERTSTORE_ROOT] = {"Root", "Trusted Root Certification Authorities"},
    [CERTSTORE_CA] = {"CA", "Intermediate Certification Authorities"},
    [CERTSTORE_TRUSTED_PUBLISHER] = {"TrustedPublisher", "Trusted Publishers"},
    [CERTSTORE_DISALLOWED] = {"Disallowed", "Untrusted Certificates"},
};

int certstore_parse_name(const char *name, enum certstore_id *id, struct pp_error *err)
{
	int i;

	for (i = 0; name != NULL && i < CERTSTORE_COUNT; i++) {
		if (strcasecmp(name, store_names[i].name) == 0) {
			*id = (enum certstore_id)i;
			return 0;
		}
	}
	pp_error_set(err, HR_CRYPT_E_NOT_FOUND,
		     "unknown certificate store \"%s\"; use My, Root, CA, TrustedPublisher or "
		     "Disallowed",
		     name != NULL ? name : "");
	return -1;
}

const char *certstore_name(enum certstore_id id)
{
	if ((int)id < 0 || id >= CERTSTORE_COUNT)
		return "?";
	return store_names[id].name;
}

const char *certstore_display_name(enum certstore_id id)
{
	if ((int)id < 0 || id >= CERTSTORE_COUNT)
		return "?";
	return store_names[id].display;
}

/* <machine>/certstores/<Name> or <machine>/policy/certstores/<Name>. layer must be one
 * physical layer. */
static int store_dir(const char *machine, enum certstore_id id, enum certstore_layer layer,
		     char *out, size_t size, struct pp_error *err)
{
	int n;

	if ((int)id < 0 || id >= CERTSTORE_COUNT) {
		pp_error_set(err, HR_E_INVALIDARG, "invalid certificate store id %d", (int)id);
		return -1;
	}
	if (layer != CERTSTORE_LOCAL && layer != CERTSTORE_POLICY) {
		pp_error_set(err, HR_E_INVALIDARG,
			     "a certificate is added to or removed from one physical store (local "
			     "or group policy), not the logical store");
		return -1;
	}
	if (machine == NULL || machine[0] == '\0')
		machine = CERTSTORE_DEFAULT_MACHINE;
	n = snprintf(out, size, "%s/%scertstores/%s", machine,
		     layer == CERTSTORE_POLICY ? "policy/" : "", store_names[id].name);
	if (n < 0 || (size_t)n >= size) {
		pp_error_set(err, HR_ERROR_INVALID_NAME, "machine directory path too long: %s",
			     machine);
		return -1;
	}
	return 0;
}

int certstore_add(const char *machine, enum certstore_id id, enum certstore_layer layer, X509 *cert,
		  bool force, bool *already, struct pp_error *err)
{
	char dir[CERTSTORE_PATH_MAX], path[CERTSTORE_PATH_MAX + 48];
	char thumb[PKI_THUMBPRINT_LEN + 1];
	struct stat st;
	bool present;
	int rc = -1;

	if (already != NULL)
		*already = false;
	if (cert == NULL) {
		pp_error_set(err, HR_E_INVALIDARG, "no certificate to add");
		goto out;
	}
	if (store_dir(machine, id, layer, dir, sizeof(dir), err) != 0)
		goto out;
	if (pki_thumbprint(cert, thumb) != 0) {
		pp_error_set(err, HR_CRYPT_E_BAD_ENCODE,
			     "cannot compute the certificate thumbprint");
		goto out;
	}
	(void)snprintf(path, sizeof(path), "%s/%s.cer", dir, thumb);
	present = lstat(path, &st) == 0;
	if (present && !S_ISREG(st.st_mode)) {
		pp_error_set(err, HR_ERROR_FILE_EXISTS, "%s exists and is not a regular file",
			     path);
		goto out;
	}
	if (already != NULL)
		*already = present;
	if (present && !force) {
		rc = 0;
		goto out;
	}
	if (atomicfile_mkdirs(dir, err) != 0 || pki_export_cer(cert, path, err) != 0)
		goto out;
	rc = 0;
out:
	return rc;
}

int certstore_remove(const char *machine, enum certstore_id id, enum certstore_layer layer,
		     const char *thumbprint, bool *removed, struct pp_error *err)
{
	char dir[CERTSTORE_PATH_MAX], path[CERTSTORE_PATH_MAX + 48];
	char thumb[PKI_THUMBPRINT_LEN + 1];
	int rc = -1;

	if (removed != NULL)
		*removed = false;
	if (store_dir(machine, id, layer, dir, sizeof(dir), err) != 0)
		goto out;
	if (pki_thumbprint_normalize(thumbprint, thumb) != 0) {
		pp_error_set(err, HR_E_INVALIDARG,
			     "\"%s\" is not a certificate thumbprint (40 hexadecimal digits)",
			     thumbprint != NULL ? thumbprint : "");
		goto out;
	}
	(void)snprintf(path, sizeof(path), "%s/%s.cer", dir, thumb);
	if (unlink(path) != 0) {
		if (errno != ENOENT) {
			pp_error_set_errno(err, errno, "cannot remove %s", path);
			goto out;
		}
	} else if (removed != NULL) {
		*removed = true;
	}
	rc = 0;
out:
	return rc;
}

/* ---- loading ---- */

struct store_entry {
	char thumb[PKI_THUMBPRINT_LEN + 1];
	X509 *cert;
};

struct store_list {
	struct store_entry *v;
	size_t n, cap;
	int skipped;
	char first_skip[PP_ERROR_MESSAGE_MAX];
};

static void list_free(struct store_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		X509_free(l->v[i].cert);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static void list_skip(struct store_list *l, const char *fmt, ...) PP_PRINTF(2, 3);

static void list_skip(struct store_list *l, const char *fmt, ...)
{
	va_list ap;

	if (l->skipped++ > 0)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(l->first_skip, sizeof(l->first_skip), fmt, ap);
	va_end(ap);
}

static bool entry_name_ok(const char *name)
{
	int i;

	for (i = 0; i < PKI_THUMBPRINT_LEN; i++)
		if (!isxdigit((unsigned char)name[i]))
			return false;
	return strcmp(name + PKI_THUMBPRINT_LEN, ".cer") == 0;
}

static int list_push(struct store_list *l, X509 *cert, const char *thumb, struct pp_error *err)
{
	struct store_entry *v;

	if (l->n == l->cap) {
		size_t cap = l->cap == 0 ? 16 : l->cap * 2;

		v = realloc(l->v, cap * sizeof(*v));
		if (v == NULL) {
			pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
			return -1;
		}
		l->v = v;
		l->cap = cap;
	}
	memcpy(l->v[l->n].thumb, thumb, sizeof(l->v[l->n].thumb));
	l->v[l->n].cert = cert;
	l->n++;
	return 0;
}

static int load_dir(const char *dir, struct store_list *l, struct pp_error *err)
{
	char path[CERTSTORE_PATH_MAX + 300], thumb[PKI_THUMBPRINT_LEN + 1];
	struct pp_error file_err;
	struct dirent *e;
	struct stat st;
	size_t seen = 0;
	DIR *d;
	X509 *x;
	int rc = -1;

	d = opendir(dir);
	if (d == NULL) {
		if (errno == ENOENT)
			return 0; /* a store nobody wrote to yet is empty */
		pp_error_set_errno(err, errno, "cannot read certificate store %s", dir);
		return -1;
	}
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue; /* ".", ".." and temporary files of a write in progress */
		if (!entry_name_ok(e->d_name)) {
			list_skip(l, "skipped %s/%s: not named <SHA1>.cer", dir, e->d_name);
			continue;
		}
		if (++seen > CERTSTORE_MAX_ENTRIES) {
			list_skip(l, "skipped the rest of %s: more than %d certificates", dir,
				  CERTSTORE_MAX_ENTRIES);
			break;
		}
		(void)snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
			list_skip(l, "skipped %s: not a regular file", path);
			continue;
		}
		if (st.st_size > CERTSTORE_MAX_FILE) {
			list_skip(l, "skipped %s: larger than 1 MB", path);
			continue;
		}
		pp_error_clear(&file_err);
		x = pki_cert_load(path, &file_err);
		if (x == NULL) {
			list_skip(l, "skipped %s: %s", path, file_err.message);
			continue;
		}
		if (pki_thumbprint(x, thumb) != 0 ||
		    strncasecmp(thumb, e->d_name, PKI_THUMBPRINT_LEN) != 0) {
			X509_free(x);
			list_skip(l, "skipped %s: its content does not match its name", path);
			continue;
		}
		if (list_push(l, x, thumb, err) != 0) {
			X509_free(x);
			goto out;
		}
	}
	rc = 0;
out:
	closedir(d);
	return rc;
}

static int entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct store_entry *)a)->thumb,
		      ((const struct store_entry *)b)->thumb);
}

/* Loads, sorts and de-duplicates the entries of the requested layers. */
static int list_load(const char *machine, enum certstore_id id, enum certstore_layer layer,
		     struct store_list *l, struct pp_error *err)
{
	char dir[CERTSTORE_PATH_MAX];
	size_t i, w;

	memset(l, 0, sizeof(*l));
	if (((int)layer & CERTSTORE_LOGICAL) == 0 || ((int)layer & ~CERTSTORE_LOGICAL) != 0) {
		pp_error_set(err, HR_E_INVALIDARG, "invalid certificate store layer %d",
			     (int)layer);
		return -1;
	}
	if ((layer & CERTSTORE_LOCAL) &&
	    (store_dir(machine, id, CERTSTORE_LOCAL, dir, sizeof(dir), err) != 0 ||
	     load_dir(dir, l, err) != 0))
		goto fail;
	if ((layer & CERTSTORE_POLICY) &&
	    (store_dir(machine, id, CERTSTORE_POLICY, dir, sizeof(dir), err) != 0 ||
	     load_dir(dir, l, err) != 0))
		goto fail;
	if (l->n > 1)
		qsort(l->v, l->n, sizeof(l->v[0]), entry_cmp);
	for (i = 0, w = 0; i < l->n; i++) {
		if (w > 0 && strcmp(l->v[w - 1].thumb, l->v[i].thumb) == 0) {
			X509_free(l->v[i].cert);
			continue;
		}
		l->v[w++] = l->v[i];
	}
	l->n = w;
	/* Unreadable files are a warning: the message without an error code. */
	if (l->skipped > 0 && err != NULL && err->code == 0) {
		char more[48] = "";

		if (l->skipped > 1)
			(void)snprintf(more, sizeof(more), " (and %d more)", l->skipped - 1);
		/* first_skip is cut short when needed so that the count always shows. */
		(void)snprintf(err->message, sizeof(err->message), "%.*s%s",
			       (int)(sizeof(err->message) - 1 - strlen(more)), l->first_skip, more);
	}
	return 0;
fail:
	list_free(l);
	return -1;
}

STACK_OF(X509) * certstore_load(const char *machine, enum certstore_id id,
				enum certstore_layer layer, struct pp_error *err)
{
	struct store_list l;
	STACK_OF(X509) *out = NULL;
	size_t i;

	if (list_load(machine, id, layer, &l, err) != 0)
		return NULL;
	out = sk_X509_new_reserve(NULL, (int)l.n);
	if (out == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
		goto out;
	}
	for (i = 0; i < l.n; i++) {
		(void)sk_X509_push(out, l.v[i].cert); /* cannot fail: reserved */
		l.v[i].cert = NULL;
	}
out:
	list_free(&l);
	return out;
}

/* ---- find ---- */

/* Lower-case hex of the serial without leading zeros ("0" for zero). */
static void serial_hex(X509 *cert, char *out, size_t size)
{
	const ASN1_INTEGER *s = X509_get0_serialNumber(cert);
	const unsigned char *p = ASN1_STRING_get0_data(s);
	int len = ASN1_STRING_length(s), i;
	size_t j = 0;

	for (i = 0; i < len && j + 2 < size; i++) {
		(void)snprintf(out + j, size - j, "%02x", p[i]);
		j += 2;
	}
	out[j] = '\0';
	for (j = 0; out[j] == '0' && out[j + 1] != '\0'; j++)
		;
	memmove(out, out + j, strlen(out + j) + 1);
}

/* certid as a serial: hex digits with optional spaces or colons, lower case, leading zeros
 * removed. false when certid is not hex. */
static bool certid_serial(const char *certid, char *out, size_t size)
{
	size_t j = 0, k;

	for (; *certid != '\0'; certid++) {
		if (*certid == ' ' || *certid == ':')
			continue;
		if (!isxdigit((unsigned char)*certid) || j + 1 >= size)
			return false;
		out[j++] = (char)tolower((unsigned char)*certid);
	}
	out[j] = '\0';
	if (j == 0)
		return false;
	for (k = 0; out[k] == '0' && out[k + 1] != '\0'; k++)
		;
	memmove(out, out + k, strlen(out + k) + 1);
	return true;
}

static bool certid_index(const char *certid, size_t *index)
{
	char *end;
	unsigned long v;

	if (certid[0] == '\0' || strspn(certid, "0123456789") != strlen(certid) ||
	    strlen(certid) > 9)
		return false;
	errno = 0;
	v = strtoul(certid, &end, 10);
	if (errno != 0 || *end != '\0')
		return false;
	*index = (size_t)v;
	return true;
}

static bool cn_matches(X509 *cert, const char *certid)
{
	const X509_NAME *name = X509_get_subject_name(cert);
	unsigned char *utf8;
	bool match = false;
	int idx = -1, n;

	while (!match && (idx = X509_NAME_get_index_by_NID(name, NID_commonName, idx)) >= 0) {
		n = ASN1_STRING_to_UTF8(&utf8,
					X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx)));
		if (n < 0)
			continue;
		match = strlen((char *)utf8) == (size_t)n && strcasecmp((char *)utf8, certid) == 0;
		OPENSSL_free(utf8);
	}
	return match;
}

STACK_OF(X509) * certstore_find(const char *machine, enum certstore_id id,
				enum certstore_layer layer, const char *certid,
				struct pp_error *err)
{
	struct store_list l;
	STACK_OF(X509) *out = NULL;
	char thumb[PKI_THUMBPRINT_LEN + 1], want_serial[128], serial[128];
	bool by_thumb, by_serial, by_index;
	size_t i, index = 0;

	if (certid == NULL || certid[0] == '\0') {
		pp_error_set(err, HR_E_INVALIDARG,
			     "no CertId given: use a thumbprint, serial number, index or subject "
			     "name");
		return NULL;
	}
	if (list_load(machine, id, layer, &l, err) != 0)
		return NULL;
	out = sk_X509_new_null();
	if (out == NULL) {
		pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
		goto out;
	}
	by_thumb = pki_thumbprint_normalize(certid, thumb) == 0;
	by_serial = certid_serial(certid, want_serial, sizeof(want_serial));
	by_index = certid_index(certid, &index);
	/* Like certutil, a CertId may match in several ways; each certificate is listed once. */
	for (i = 0; i < l.n; i++) {
		X509 *x = l.v[i].cert;
		bool match = false;

		if (by_thumb && strcmp(l.v[i].thumb, thumb) == 0)
			match = true;
		if (!match && by_index && index == i)
			match = true;
		if (!match && by_serial) {
			serial_hex(x, serial, sizeof(serial));
			match = strcmp(serial, want_serial) == 0;
		}
		if (!match)
			match = cn_matches(x, certid);
		if (!match)
			continue;
		if (sk_X509_push(out, x) <= 0) {
			pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory");
			sk_X509_pop_free(out, X509_free);
			out = NULL;
			goto out;
		}
		l.v[i].cert = NULL; /* ownership moved to out */
	}
out:
	list_free(&l);
	return out;
}

bool certstore_contains(const char *machine, enum certstore_id id, enum certstore_layer layer,
			X509 *cert)
{
	char dir[CERTSTORE_PATH_MAX], path[CERTSTORE_PATH_MAX + 48];
	char thumb[PKI_THUMBPRINT_LEN + 1];
	struct stat st;
	int l;

	if (cert == NULL || pki_thumbprint(cert, thumb) != 0)
		return false;
	for (l = CERTSTORE_LOCAL; l <= CERTSTORE_POLICY; l <<= 1) {
		if (!((int)layer & l) ||
		    store_dir(machine, id, (enum certstore_layer)l, dir, sizeof(dir), NULL) != 0)
			continue;
		(void)snprintf(path, sizeof(path), "%s/%s.cer", dir, thumb);
		if (lstat(path, &st) == 0 && S_ISREG(st.st_mode))
			return true;
	}
	return false;
}
