/* publish.c - publishing content for third-party updates: checks, one-pass CAB signing through
 * the signer, the content store, and the revision's record. */
#include "publish.h"

#include "authenticode.h"
#include "catalog.h"
#include "certmgr.h"
#include "hresult.h"
#include "pki.h"
#include "sdp.h"
#include "upload.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

/* 11516 of SMS_ISVUPDATES_SYNCAGENT (windows-behaviour 2.4), with the update's id. */
#define UNSIGNED_FMT                                                                               \
	"Failed to publish content for update \"%s\" because the content is unsigned. Only "       \
	"content with valid signatures can be published."

/* What is known of one content file before it is packed. */
struct file_facts {
	uint64_t size;
	uint8_t sha1[20];
	uint8_t sha256[32];
};

static void hex_lower(const uint8_t *b, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[2 * n] = '\0';
}

/* SHA-1, SHA-256 and size of a content file: those its upload computed, else from one read
 * (content_hash_fd). */
static int file_digests(const struct publish_file *file, struct file_facts *f, struct pp_error *err)
{
	const char *path = file->path, *name = file->name;
	int fd, rc;

	memset(f, 0, sizeof(*f));
	if (file->has_digests) {
		memcpy(f->sha1, file->sha1, sizeof(f->sha1));
		memcpy(f->sha256, file->sha256, sizeof(f->sha256));
		f->size = file->size;
		return 0;
	}
	fd = path != NULL ? open(path, O_RDONLY | O_CLOEXEC) : -1;
	if (fd < 0) {
		pp_error_set_errno(err, path != NULL ? errno : ENOENT,
				   "cannot open the content file %s", name);
		return -1;
	}
	rc = content_hash_fd(fd, f->sha1, f->sha256, &f->size, name, err);
	(void)close(fd);
	return rc;
}

/* A CAB file name: plain, printable, not too long, no directory. */
static int check_name(const char *name, struct pp_error *err)
{
	size_t n = name != NULL ? strlen(name) : 0;

	if (n == 0 || n > CAB_NAME_MAX || strchr(name, '/') != NULL || strchr(name, '\\') != NULL ||
	    strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
		pp_error_set(
		    err, HR_E_INVALIDARG,
		    "content file name \"%.64s\" must be a plain file name of 1 to %u bytes",
		    name != NULL ? name : "", CAB_NAME_MAX);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f) {
			pp_error_set(err, HR_E_INVALIDARG,
				     "content file name \"%.64s\" contains a control character",
				     name);
			return -1;
		}
	}
	return 0;
}

/* SHA-256 over the sorted (name, SHA-256) pairs: the same files give the same value. */
static int input_digest(const struct publish_file *files, const struct file_facts *facts,
			size_t count, char out[65], struct pp_error *err)
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	size_t order[PUBLISH_FILES_MAX];
	uint8_t md[32];
	int rc = -1;

	for (size_t i = 0; i < count; i++)
		order[i] = i;
	for (size_t i = 1; i < count; i++) { /* insertion sort: at most 64 names */
		size_t k = order[i], j = i;

		while (j > 0 && strcmp(files[order[j - 1]].name, files[k].name) > 0) {
			order[j] = order[j - 1];
			j--;
		}
		order[j] = k;
	}
	if (c == NULL || EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1)
		goto out;
	for (size_t i = 0; i < count; i++) {
		const char *name = files[order[i]].name;

		if (EVP_DigestUpdate(c, name, strlen(name) + 1) != 1 ||
		    EVP_DigestUpdate(c, facts[order[i]].sha256, 32) != 1)
			goto out;
	}
	if (EVP_DigestFinal_ex(c, md, NULL) != 1)
		goto out;
	hex_lower(md, sizeof(md), out);
	rc = 0;
out:
	if (rc != 0)
		pp_error_set(err, HR_E_FAIL, "SHA-256 is not available");
	EVP_MD_CTX_free(c);
	return rc;
}

/* ---- the checks of content from a catalog ---- */

/* Every OriginFile of p among files with its size and SHA-1, and no other file. */
static int check_origin_files(const struct publish_env *env, const struct sdp_package *p,
			      const struct publish_file *files, const struct file_facts *facts,
			      size_t count, struct publish_result *res, struct pp_error *err)
{
	size_t origins = 0;

	for (size_t i = 0; i < p->item_count; i++) {
		for (size_t j = 0; j < p->items[i].origin_file_count; j++) {
			const struct sdp_origin_file *o = &p->items[i].origin_files[j];
			char want[29], got[29];
			size_t k;

			origins++;
			for (k = 0; k < count && strcasecmp(files[k].name, o->file_name) != 0; k++)
				;
			if (k == count) {
				sdp_digest_base64(o->sha1, want);
				pp_error_set(
				    err, PUBLISH_E_MISMATCH,
				    "update %s needs its OriginFile %s (%llu bytes, SHA-1 %s); "
				    "it is not among the content files",
				    p->package_id, o->file_name, (unsigned long long)o->size, want);
				return -1;
			}
			if (facts[k].size != o->size) {
				pp_error_set(
				    err, PUBLISH_E_MISMATCH,
				    "content file %s is %llu bytes; the catalog's OriginFile "
				    "of update %s is %llu bytes",
				    files[k].name, (unsigned long long)facts[k].size, p->package_id,
				    (unsigned long long)o->size);
				return -1;
			}
			if (memcmp(facts[k].sha1, o->sha1, 20) != 0) {
				sdp_digest_base64(o->sha1, want);
				sdp_digest_base64(facts[k].sha1, got);
				pp_error_set(
				    err, PUBLISH_E_MISMATCH,
				    "content file %s has SHA-1 %s; the catalog's OriginFile of "
				    "update %s has %s",
				    files[k].name, got, p->package_id, want);
				return -1;
			}
		}
	}
	if (count > origins) {
		for (size_t k = 0; k < count; k++) {
			bool known = false;

			for (size_t i = 0; i < p->item_count && !known; i++)
				for (size_t j = 0; j < p->items[i].origin_file_count; j++)
					known =
					    known ||
					    strcasecmp(files[k].name,
						       p->items[i].origin_files[j].file_name) == 0;
			if (!known) {
				pp_error_set(err, PUBLISH_E_MISMATCH,
					     "content file %s is not an OriginFile of update %s",
					     files[k].name, p->package_id);
				return -1;
			}
		}
	}
	(void)env;
	(void)res;
	return 0;
}

/* Refuses as unsigned: 11516 as the message; res->detail (set by the caller) says why, and goes
 * to the log with the status messages ConfigMgr writes. */
static int refuse_unsigned(const struct publish_env *env, const char *id,
			   struct publish_result *res, struct pp_error *err)
{
	srvlog_write(env->isv_log, CMTRACE_ERROR, "SyncUpdate: %s - %s", id, res->detail);
	srvlog_write(env->isv_log, CMTRACE_ERROR,
		     "STATMSG: (SRVMSG_SMS_ISVUPDATES_SYNCAGENT_UPDATECONTENT_TRUST_FAIL_BADSIG).");
	srvlog_write(env->isv_log, CMTRACE_ERROR,
		     "STATMSG: (SRVMSG_SMS_ISVUPDATES_SYNCAGENT_UPDATECONTENT_FAIL).");
	srvlog_write(env->isv_log, CMTRACE_ERROR, UNSIGNED_FMT, id);
	pp_error_set(err, PUBLISH_E_UNSIGNED, UNSIGNED_FMT, id);
	return -1;
}

/* The vendor's signature on one content file: a signed CAB that verifies, by a signer that is
 * approved and not blocked in Certificates (added, unapproved, when new). *is_signed tells
 * whether the file carried a signature patchpoint can check; 0 leaves the decision about an
 * unsigned file to the caller. */
static int check_vendor_signature(const struct publish_env *env, const char *id,
				  const struct publish_file *f, const char *path, bool *is_signed,
				  struct publish_result *res, struct pp_error *err)
{
	struct authenticode_info info;
	struct store_certificate cert, row;
	unsigned char *der = NULL;
	struct pp_error e;
	unsigned char magic[4] = {0};
	bool already = false;
	int fd, rc = -1;
	ssize_t n;

	*is_signed = false;
	memset(&info, 0, sizeof(info));
	memset(&cert, 0, sizeof(cert));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		pp_error_set_errno(err, errno, "cannot open the content file %s", f->name);
		return -1;
	}
	n = read(fd, magic, sizeof(magic));
	(void)close(fd);
	if (n != 4 || memcmp(magic, "MSCF", 4) != 0) {
		(void)snprintf(res->detail, sizeof(res->detail),
			       "File '%s' does not appear to be signed or there was an error "
			       "retrieving the signing certificate. Signatures are required. "
			       "(patchpoint checks vendor signatures on cabinets only)",
			       f->name);
		return 0;
	}
	pp_error_clear(&e);
	if (authenticode_read_cab_with(path, 0, &info, &e) != 0) {
		if (e.code == HR_TRUST_E_NOSIGNATURE) {
			(void)snprintf(
			    res->detail, sizeof(res->detail),
			    "File '%s' does not appear to be signed or there was an error "
			    "retrieving the signing certificate. Signatures are required.",
			    f->name);
			return 0;
		}
		*is_signed = true;
		(void)snprintf(res->detail, sizeof(res->detail),
			       "Signature check on downloaded binary %s has failed: %.300s",
			       f->name, e.message);
		return refuse_unsigned(env, id, res, err);
	}
	*is_signed = true;
	if (!info.digest_matches || !info.signature_valid || info.signer == NULL) {
		(void)snprintf(res->detail, sizeof(res->detail),
			       "Signature check on downloaded binary %s has failed: %s", f->name,
			       !info.digest_matches ? "the digest does not match the content"
						    : "the signature does not verify");
		rc = refuse_unsigned(env, id, res, err);
		goto out;
	}
	/* The signer goes into Certificates as a content certificate. */
	{
		int len = i2d_X509(info.signer, &der);

		if (len <= 0) {
			pp_error_set(err, HR_CRYPT_E_BAD_ENCODE, "cannot encode the signer of %s",
				     f->name);
			goto out;
		}
		certmgr_certificate_row(info.signer, der, (size_t)len, STORE_CERT_CONTENT, &cert);
	}
	cert.approved = false;
	if (store_certificate_add(env->store, &cert, &already, err) != 0 ||
	    store_certificate_get(env->store, cert.thumbprint, &row, err) != 0)
		goto out;
	if (!already)
		srvlog_write(env->isv_log, CMTRACE_WARNING,
			     "SyncUpdate: %s - content signing certificate '%s' (%s) added to "
			     "Certificates as %s; it must be approved before its content is "
			     "published",
			     id, row.thumbprint, row.subject,
			     store_certificate_type_name(STORE_CERT_CONTENT));
	if (row.blocked) {
		srvlog_write(env->isv_log, CMTRACE_ERROR,
			     "SyncUpdate: Certificate '%s' is BLOCKED.", row.thumbprint);
		(void)snprintf(res->detail, sizeof(res->detail),
			       "the signer of %s, certificate %s, is blocked in Certificates",
			       f->name, row.thumbprint);
		rc = refuse_unsigned(env, id, res, err);
	} else if (!row.approved) {
		(void)snprintf(res->detail, sizeof(res->detail),
			       "approve it with: patchpoint certificates approve %s",
			       row.thumbprint);
		srvlog_write(env->isv_log, CMTRACE_ERROR,
			     "SyncUpdate: %s - content signing certificate '%s' of %s is not "
			     "approved.",
			     id, row.thumbprint, f->name);
		pp_error_set(err, PUBLISH_E_NOT_APPROVED,
			     "Failed to publish content for update \"%s\": its signer %s (%s) is "
			     "not approved in Certificates",
			     id, row.thumbprint, row.subject);
	} else {
		rc = 0;
	}
	store_certificate_clear(&row);
out:
	OPENSSL_free(der);
	authenticode_info_release(&info);
	return rc;
}

/* ---- files inside cabinet uploads ----
 *
 * What reads a content file by name gets a cabinet upload's file copied out of the cabinet into
 * an unnamed temporary file (upload_open_complete), named by its descriptor. Only publishing
 * that cannot seal the upload in place needs this. */

struct copies {
	int fd[PUBLISH_FILES_MAX];
	char path[PUBLISH_FILES_MAX][32];
};

static void copies_init(struct copies *cp)
{
	for (size_t i = 0; i < PUBLISH_FILES_MAX; i++)
		cp->fd[i] = -1;
}

static void copies_close(struct copies *cp)
{
	for (size_t i = 0; i < PUBLISH_FILES_MAX; i++)
		if (cp->fd[i] >= 0)
			(void)close(cp->fd[i]);
}

/* The path files[i] is read by, copying it out of its cabinet upload the first time. */
static const char *file_path(struct copies *cp, const struct publish_file *files, size_t i,
			     struct pp_error *err)
{
	uint64_t size;

	if (files[i].path != NULL)
		return files[i].path;
	if (cp->fd[i] < 0) {
		if (files[i].upload_dir == NULL || files[i].cabinet_upload == NULL) {
			pp_error_set(err, HR_E_INVALIDARG, "content file %s has no data",
				     files[i].name);
			return NULL;
		}
		if (upload_open_complete(files[i].upload_dir, files[i].cabinet_upload, &cp->fd[i],
					 &size, err) != 0)
			return NULL;
		(void)snprintf(cp->path[i], sizeof(cp->path[i]), "/proc/self/fd/%d", cp->fd[i]);
	}
	return cp->path[i];
}

/* ---- packing and signing ---- */

/* The signing certificate of the SUP: the usable one with the longest remaining validity. */
static int pick_signing_cert(const struct publish_env *env, struct signer_cert **certs,
			     size_t *count, int *pick, struct pp_error *err)
{
	struct pp_error e;

	pp_error_clear(&e);
	*certs = NULL;
	*count = 0;
	if (signstore_list(env->signstore, certs, count, &e) != 0) {
		pp_error_set(err, e.code, "%s", e.message);
		return -1;
	}
	*pick = signstore_pick(*certs, *count, time(NULL));
	if (*pick < 0) {
		pp_error_set(err, PUBLISH_E_NO_CERTIFICATE, PUBLISH_NO_CERTIFICATE);
		return -1;
	}
	return 0;
}

/* as signs with certificate cert of the SUP through its signer process (key), describing the
 * CAB as description. */
static void signer_setup(struct signer *signer, const struct signer_cert *cert,
			 const char *description, struct signer_key *key,
			 struct authenticode_signer *as)
{
	memset(as, 0, sizeof(*as));
	key->signer = signer;
	memcpy(key->thumbprint, cert->thumbprint, sizeof(key->thumbprint));
	as->cert = cert->cert;
	as->chain = cert->chain;
	as->md = EVP_sha256();
	as->sign = signer_sign;
	as->sign_ctx = key;
	as->description = description;
}

/* A CAB's description is the id of its update (a GUID): every one has this length. */
static const char guid_stand_in[SDP_GUID_LEN + 1] = "00000000-0000-0000-0000-000000000000";

int publish_signature_length(void *signstore, uint32_t *length, struct pp_error *err)
{
	struct publish_env env = {.signstore = signstore};
	struct signer_cert *certs = NULL;
	struct authenticode_signer as;
	struct signer_key key;
	size_t ncerts = 0, padded = 0;
	int pick, rc = -1;

	if (pick_signing_cert(&env, &certs, &ncerts, &pick, err) != 0)
		goto out;
	signer_setup(NULL, &certs[pick], guid_stand_in, &key, &as);
	if (authenticode_signature_length(&as, &padded, err) != 0)
		goto out;
	*length = (uint32_t)padded;
	rc = 0;
out:
	signer_certs_free(certs, ncerts);
	return rc;
}

/* upload_sign_fn over an authenticode_signer. */
static int sign_digest(void *ctx, const uint8_t *digest, size_t digest_len, uint8_t **der,
		       size_t *der_len, struct pp_error *err)
{
	return authenticode_create_signature(ctx, digest, digest_len, der, der_len, err);
}

/* Seals the cabinet upload of the one content file in place and commits it: 1 when it cannot
 * be sealed (pack it instead), 0 when it is stored (*info), -1 on failure. */
static int seal_cabinet_upload(const struct publish_env *env, const struct publish_file *f,
			       const struct authenticode_signer *as, struct content_info *info,
			       struct pp_error *err)
{
	struct upload_sealed sealed;
	struct content_digests known;
	char incoming[4096];
	struct pp_error e;

	if (content_store_incoming_path(env->content, incoming, sizeof(incoming), err) != 0)
		return -1;
	pp_error_clear(&e);
	if (upload_cabinet_seal(f->upload_dir, f->cabinet_upload, sign_digest, (void *)as, incoming,
				&sealed, &e) != 0) {
		if (e.code == UPLOAD_E_CANNOT_SEAL) {
			srvlog_write(env->sdist_log, CMTRACE_INFO,
				     "PublishPackage(): packing %s itself: %s", f->name, e.message);
			return 1;
		}
		pp_error_set(err, e.code, "%s", e.message);
		return -1;
	}
	memcpy(known.sha1, sealed.sha1, sizeof(known.sha1));
	memcpy(known.sha256, sealed.sha256, sizeof(known.sha256));
	known.size = sealed.size;
	if (content_store_commit_hashed(env->content, incoming, &known, info, err) != 0) {
		(void)unlink(incoming);
		return -1;
	}
	return 0;
}

/* Packs files into one CAB signed with the SUP's certificate and stores it: a lone file that
 * arrived as a cabinet upload is that CAB already and is signed in place; others are packed in
 * one pass (the digest goes to the signer as the CAB is written). */
static int pack_and_store(const struct publish_env *env, const char *id,
			  const struct publish_file *files, size_t count, struct copies *cp,
			  struct store_update_content *c, char *url, size_t url_size,
			  struct pp_error *err)
{
	const char *paths[PUBLISH_FILES_MAX], *names[PUBLISH_FILES_MAX];
	struct signer_cert *certs = NULL;
	struct authenticode_signer as;
	struct authenticode_file_digests written;
	struct content_digests known;
	struct signer_key key;
	struct content_info info;
	char incoming[4096];
	size_t ncerts = 0;
	int pick, rc = -1, sealed = 1;

	if (pick_signing_cert(env, &certs, &ncerts, &pick, err) != 0)
		goto out;
	signer_setup(env->signer, &certs[pick], id, &key, &as);
	if (count == 1 && files[0].cabinet_upload != NULL && files[0].cabinet_name != NULL &&
	    strcmp(files[0].name, files[0].cabinet_name) == 0) {
		sealed = seal_cabinet_upload(env, &files[0], &as, &info, err);
		if (sealed < 0)
			goto out;
	}
	if (sealed != 0) {
		for (size_t i = 0; i < count; i++) {
			paths[i] = file_path(cp, files, i, err);
			names[i] = files[i].name;
			if (paths[i] == NULL)
				goto out;
		}
		if (content_store_incoming_path(env->content, incoming, sizeof(incoming), err) != 0)
			goto out;
		if (authenticode_create_signed_cab(incoming, paths, names, count, CAB_COMPRESS_NONE,
						   &as, NULL, NULL, &written, err) != 0) {
			(void)unlink(incoming);
			goto out;
		}
		/* The digests of the writing pass when it could make them, else a read of the
		 * file. */
		memcpy(known.sha1, written.sha1, sizeof(known.sha1));
		memcpy(known.sha256, written.sha256, sizeof(known.sha256));
		known.size = written.size;
		if ((written.computed
			 ? content_store_commit_hashed(env->content, incoming, &known, &info, err)
			 : content_store_commit(env->content, incoming, &info, err)) != 0) {
			(void)unlink(incoming);
			goto out;
		}
	}
	memcpy(c->sha1, info.sha1, sizeof(c->sha1));
	memcpy(c->sha256, info.sha256, sizeof(c->sha256));
	c->size = info.size;
	c->has_content = true;
	memcpy(c->signer, certs[pick].thumbprint, sizeof(c->signer));
	(void)snprintf(url, url_size, "%s", info.url_path);
	srvlog_write(env->sdist_log, CMTRACE_INFO,
		     "PublishPackage(): Created cab %s.cab for update %s: %zu file(s), %llu bytes, "
		     "signed with %s%s",
		     info.sha1, id, count, (unsigned long long)info.size, c->signer,
		     sealed == 0 ? " (packed as it was uploaded)" : "");
	rc = 0;
out:
	signer_certs_free(certs, ncerts);
	return rc;
}

/* ---- publishing ---- */

struct plan {
	struct store_update row; /* the update as it is to be stored */
	char *sdp;		 /* its SDP (custom updates: the new one) */
	size_t sdp_len;
	bool is_new;	     /* a custom update to insert with its content */
	bool allow_unsigned; /* the catalog's option */
	bool from_catalog;   /* vendor rules apply */
	struct sdp_package *package;
	const struct file_facts *facts; /* the files' digests when known already, else NULL */
};

static int record_tx(struct store *s, void *ctx, struct pp_error *err)
{
	const struct plan *pl = ((void **)ctx)[0];
	const struct store_update_content *c = ((void **)ctx)[1];

	if (pl->is_new && store_update_put(s, &pl->row, pl->sdp, pl->sdp_len, err) != 0)
		return -1;
	return store_update_content_add(s, c, err);
}

/* A CAB stored for a revision whose record then failed: removed, unless another revision refers
 * to the same bytes (the store keeps one file per SHA-1). */
static void drop_unrecorded(const struct publish_env *env, const struct store_update_content *c)
{
	struct pp_error e;
	bool referenced = true;

	if (!c->has_content)
		return;
	pp_error_clear(&e);
	if (store_content_referenced(env->store, c->sha1, &referenced, &e) != 0 || referenced)
		return;
	if (content_store_remove(env->content, c->sha1, &e) != 0)
		srvlog_write(
		    env->sdist_log, CMTRACE_WARNING,
		    "PublishPackage(): cannot remove %s.cab, which no revision records: %s",
		    c->sha1, e.message);
}

static void log_failure(const struct publish_env *env, const char *id, const struct pp_error *err)
{
	srvlog_write(env->sdist_log, CMTRACE_ERROR,
		     "PublishPackage(): Operation Failed with Error: %s (update %s)", err->message,
		     id);
}

/* The steps shared by both entry points, with the update planned in pl. */
static int publish_planned(const struct publish_env *env, struct plan *pl,
			   const struct publish_file *files, size_t count, bool metadata_only,
			   struct publish_result *res, struct pp_error *err)
{
	struct file_facts facts[PUBLISH_FILES_MAX];
	struct store_update_content c, existing;
	struct copies cp;
	struct pp_error e;
	const char *id = pl->row.id;
	void *tx[2];
	int rc = -1;

	copies_init(&cp);
	memset(&c, 0, sizeof(c));
	memcpy(c.update_id, id, sizeof(c.update_id));
	c.revision = pl->row.revision;
	if (pl->row.state == STORE_UPDATE_EXPIRED) {
		pp_error_set(err, HR_E_INVALIDARG, "update %s is expired; it cannot be published",
			     id);
		goto fail;
	}
	if (metadata_only ? count != 0 : (count == 0 || count > PUBLISH_FILES_MAX)) {
		pp_error_set(err, HR_E_INVALIDARG,
			     metadata_only ? "a metadata-only publish takes no content files"
					   : "publishing needs 1 to %d content files",
			     PUBLISH_FILES_MAX);
		goto fail;
	}
	for (size_t i = 0; i < count; i++) {
		if (check_name(files[i].name, err) != 0)
			goto fail;
		for (size_t j = 0; j < i; j++)
			if (strcasecmp(files[i].name, files[j].name) == 0) {
				pp_error_set(err, HR_E_INVALIDARG,
					     "content file name %s is given twice", files[i].name);
				goto fail;
			}
		if (pl->facts != NULL)
			facts[i] = pl->facts[i];
		else if (file_digests(&files[i], &facts[i], err) != 0)
			goto fail;
	}
	if (input_digest(files, facts, count, c.input_sha256, err) != 0)
		goto fail;
	/* The same revision again: the same content is no error, other content is. */
	pp_error_clear(&e);
	if (!pl->is_new &&
	    store_update_content_get(env->store, id, c.revision, &existing, &e) == 0) {
		if (strcmp(existing.input_sha256, c.input_sha256) == 0 &&
		    existing.has_content == !metadata_only) {
			res->content = existing;
			res->already = true;
			if (existing.has_content)
				(void)snprintf(res->url_path, sizeof(res->url_path),
					       "/Content/%.2s/%.40s.cab", existing.sha1 + 38,
					       existing.sha1);
			return store_update_get(env->store, id, &res->update, err);
		}
		pp_error_set(err, PUBLISH_E_IMMUTABLE,
			     "revision %lld of update %s already has other content; content is "
			     "immutable per revision: revise the update (patchpoint updates revise "
			     "%s) and publish the new revision",
			     (long long)c.revision, id, id);
		goto fail;
	} else if (!pl->is_new && e.code != HR_CRYPT_E_NOT_FOUND) {
		pp_error_set(err, e.code, "%s", e.message);
		goto fail;
	}
	/* Vendor rules for updates from catalogs. */
	if (pl->from_catalog && !metadata_only) {
		if (check_origin_files(env, pl->package, files, facts, count, res, err) != 0)
			goto fail;
		for (size_t i = 0; i < count; i++) {
			const char *path = file_path(&cp, files, i, err);
			bool is_signed;

			if (path == NULL || check_vendor_signature(env, id, &files[i], path,
								   &is_signed, res, err) != 0)
				goto fail;
			if (!is_signed && !pl->allow_unsigned) {
				(void)refuse_unsigned(env, id, res, err);
				goto fail;
			}
			if (!is_signed)
				srvlog_write(env->isv_log, CMTRACE_WARNING,
					     "SyncUpdate: %s - %s is not signed; published because "
					     "catalog %s allows unsigned content",
					     id, files[i].name, pl->row.catalog);
		}
	}
	srvlog_write(env->sdist_log, CMTRACE_INFO,
		     "PublishPackage(): Publishing update %s revision %lld (%s): %s", id,
		     (long long)c.revision, pl->row.title,
		     metadata_only ? "metadata only" : "content");
	{
		size_t used = 0;

		for (size_t i = 0; i < count; i++)
			used += (size_t)snprintf(
			    c.files + used, used < sizeof(c.files) ? sizeof(c.files) - used : 0,
			    "%s%s", i > 0 ? "/" : "", files[i].name);
		if (used >= sizeof(c.files))
			c.files[sizeof(c.files) - 1] = '\0';
	}
	if (metadata_only) {
		/* Metadata needs no CAB, but it still needs the certificate to publish at all. */
		struct signer_cert *certs = NULL;
		size_t n = 0;
		int pick;

		if (pick_signing_cert(env, &certs, &n, &pick, err) != 0)
			goto fail;
		signer_certs_free(certs, n);
	} else if (pack_and_store(env, id, files, count, &cp, &c, res->url_path,
				  sizeof(res->url_path), err) != 0) {
		goto fail;
	}
	c.published_at = (int64_t)time(NULL);
	tx[0] = pl;
	tx[1] = &c;
	if (store_transaction(env->store, record_tx, tx, err) != 0) {
		drop_unrecorded(env, &c);
		goto fail;
	}
	res->content = c;
	if (store_update_get(env->store, id, &res->update, err) != 0)
		goto fail;
	srvlog_write(env->sdist_log, CMTRACE_INFO,
		     "PublishPackage(): Published update %s revision %lld%s%s (SHA-256 %s)", id,
		     (long long)c.revision, c.has_content ? ": content " : ", metadata only",
		     res->url_path, c.has_content ? c.sha256 : "-");
	srvlog_write(env->isv_log, CMTRACE_INFO, "SyncUpdate: %s - published revision %lld%s%s", id,
		     (long long)c.revision, c.has_content ? " with content " : " (metadata only)",
		     c.has_content ? c.sha1 : "");
	rc = 0;
fail:
	copies_close(&cp);
	if (rc != 0)
		log_failure(env, id, err);
	return rc;
}

int publish_update(const struct publish_env *env, const char *id, const struct publish_file *files,
		   size_t count, bool metadata_only, struct publish_result *res,
		   struct pp_error *err)
{
	struct plan pl;
	struct store_catalog cat;
	int rc = -1;

	memset(res, 0, sizeof(*res));
	memset(&pl, 0, sizeof(pl));
	if (store_update_get(env->store, id, &pl.row, err) != 0 ||
	    store_update_sdp(env->store, pl.row.id, &pl.sdp, &pl.sdp_len, err) != 0)
		goto out;
	pl.package = sdp_package_parse(pl.sdp, pl.sdp_len, err);
	if (pl.package == NULL)
		goto out;
	pl.from_catalog = pl.row.catalog[0] != '\0';
	if (pl.from_catalog) {
		if (store_catalog_get(env->store, pl.row.catalog, &cat, err) != 0)
			goto out;
		pl.allow_unsigned = cat.allow_unsigned_content;
	}
	rc = publish_planned(env, &pl, files, count, metadata_only, res, err);
out:
	sdp_package_free(pl.package);
	free(pl.sdp);
	return rc;
}

/* ---- an administrator's own update ---- */

static char *dup_or_null(const char *s, bool *oom)
{
	char *d;

	if (s == NULL)
		return NULL;
	d = strdup(s);
	if (d == NULL)
		*oom = true;
	return d;
}

/* A version 4 GUID in lower case. */
static int new_guid(char out[SDP_GUID_LEN + 1], struct pp_error *err)
{
	uint8_t b[16];

	if (RAND_bytes(b, sizeof(b)) != 1) {
		pp_error_set(err, HR_E_FAIL, "no random bytes for a new update id");
		return -1;
	}
	b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
	b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
	(void)snprintf(out, SDP_GUID_LEN + 1,
		       "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
		       b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
		       b[13], b[14], b[15]);
	return 0;
}

/* The SDP of a custom update: one command-line item whose OriginFiles are the files. */
static struct sdp_package *custom_package(const struct publish_custom *c,
					  const struct publish_file *files,
					  const struct file_facts *facts, size_t count,
					  struct pp_error *err)
{
	static const struct sdp_return_code codes[] = {
	    {0, SDP_RESULT_SUCCEEDED, false},
	    {1641, SDP_RESULT_SUCCEEDED, true},
	    {3010, SDP_RESULT_SUCCEEDED, true},
	};
	struct sdp_package *p = calloc(1, sizeof(*p));
	struct sdp_item *it;
	char date[32], description[1024];
	time_t now = time(NULL);
	struct tm tm;
	bool oom = p == NULL;

	if (p == NULL)
		goto fail;
	if (new_guid(p->package_id, err) != 0)
		goto fail_quiet;
	(void)gmtime_r(&now, &tm);
	(void)strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", &tm);
	(void)snprintf(description, sizeof(description), "%s %s", c->title, c->version);
	p->schema_version = dup_or_null("1.2", &oom);
	p->creation_date = dup_or_null(date, &oom);
	p->vendor_name = dup_or_null(c->vendor, &oom);
	p->product_name = dup_or_null(c->product, &oom);
	p->localized = calloc(1, sizeof(*p->localized));
	p->items = calloc(1, sizeof(*p->items));
	if (p->localized == NULL || p->items == NULL)
		goto fail;
	p->localized_count = 1;
	p->localized[0].language = dup_or_null("en", &oom);
	p->localized[0].title = dup_or_null(c->title, &oom);
	p->localized[0].description =
	    dup_or_null(c->description != NULL ? c->description : description, &oom);
	p->has_update_data = true;
	p->update_classification =
	    dup_or_null(c->classification != NULL ? c->classification : "Updates", &oom);
	p->item_count = 1;
	it = &p->items[0];
	if (new_guid(it->id, err) != 0)
		goto fail_quiet;
	it->command_line = calloc(1, sizeof(*it->command_line));
	it->origin_files = calloc(count, sizeof(*it->origin_files));
	if (it->command_line == NULL || it->origin_files == NULL)
		goto fail;
	it->command_line->program = dup_or_null(c->program, &oom);
	it->command_line->arguments = dup_or_null(c->arguments, &oom);
	it->command_line->default_result = SDP_RESULT_FAILED;
	it->command_line->return_codes = malloc(sizeof(codes));
	if (it->command_line->return_codes == NULL)
		goto fail;
	memcpy(it->command_line->return_codes, codes, sizeof(codes));
	it->command_line->return_code_count = sizeof(codes) / sizeof(codes[0]);
	it->origin_file_count = count;
	for (size_t i = 0; i < count; i++) {
		it->origin_files[i].file_name = dup_or_null(files[i].name, &oom);
		it->origin_files[i].size = facts[i].size;
		memcpy(it->origin_files[i].sha1, facts[i].sha1, 20);
	}
	if (oom)
		goto fail;
	return p;
fail:
	pp_error_set(err, HR_E_OUTOFMEMORY, "out of memory making the update");
fail_quiet:
	sdp_package_free(p);
	return NULL;
}

int publish_new_update(const struct publish_env *env, const struct publish_custom *c,
		       const struct publish_file *files, size_t count, struct publish_result *res,
		       struct pp_error *err)
{
	struct file_facts facts[PUBLISH_FILES_MAX];
	struct plan pl;
	bool program_found = false;
	int rc = -1;

	memset(res, 0, sizeof(*res));
	memset(&pl, 0, sizeof(pl));
	if (c->title == NULL || c->vendor == NULL || c->product == NULL || c->version == NULL ||
	    c->program == NULL || c->title[0] == '\0' || c->vendor[0] == '\0' ||
	    c->product[0] == '\0' || c->version[0] == '\0' || c->program[0] == '\0') {
		pp_error_set(err, HR_E_INVALIDARG,
			     "a new update needs a title, vendor, product, version and program");
		return -1;
	}
	if (count == 0 || count > PUBLISH_FILES_MAX) {
		pp_error_set(err, HR_E_INVALIDARG, "publishing needs 1 to %d content files",
			     PUBLISH_FILES_MAX);
		return -1;
	}
	for (size_t i = 0; i < count; i++) {
		if (check_name(files[i].name, err) != 0 ||
		    file_digests(&files[i], &facts[i], err) != 0)
			return -1;
		program_found = program_found || strcasecmp(files[i].name, c->program) == 0;
	}
	/* The program runs from the extracted CAB (a relative path inside the content). */
	if (!program_found) {
		pp_error_set(
		    err, HR_E_INVALIDARG,
		    "the program %s is not one of the content files; the command line runs "
		    "from the content",
		    c->program);
		return -1;
	}
	pl.package = custom_package(c, files, facts, count, err);
	if (pl.package == NULL)
		return -1;
	if (catalog_update_row(pl.package, "", &pl.row, &pl.sdp, &pl.sdp_len, err) != 0)
		goto out;
	pl.row.revision = 1;
	pl.row.state = STORE_UPDATE_METADATA;
	pl.is_new = true;
	pl.facts = facts;
	rc = publish_planned(env, &pl, files, count, false, res, err);
out:
	sdp_package_free(pl.package);
	free(pl.sdp);
	return rc;
}
