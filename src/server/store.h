/* store.h - the site database of patchpointd behind a narrow interface.
 *
 * Callers see an opaque struct store and the domain calls below; a backend (SQLite today,
 * PostgreSQL later) fills a table of primitive operations (struct store_ops). The rules of the
 * domain (site codes, the hierarchy, URLs, thumbprints, token hashing) live in store.c once, so
 * every backend enforces the same ones. See docs/internals/store.md.
 *
 * Errors: E_INVALIDARG for malformed input or a broken hierarchy rule, ERROR_ALREADY_EXISTS for a
 * duplicate, CRYPT_E_NOT_FOUND for an unknown site, SUP, certificate or sync, STORE_E_NOT_TOP_LEVEL
 * for hierarchy settings sent to a child site. Records are plain values with bounded fields; only
 * the lists and a certificate's DER are allocated (freed by the functions named beside them).
 *
 * Threads and processes: a struct store is one connection; use it from one thread at a time
 * (each worker thread opens its own) and never across fork(). Any number of connections, in any
 * number of processes, may share one database file. */
#ifndef PATCHPOINT_STORE_H
#define PATCHPOINT_STORE_H

#include "clientsettings.h"
#include "error.h"
#include "hresult.h"
#include "membership.h"
#include "tasksequence.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;
struct store_migration;
struct store_gpo_ops;
struct store_ci_ops;
struct store_ts_ops;

#define STORE_SITE_CODE_LEN  3	  /* [A-Z0-9]{3}, as Configuration Manager site codes */
#define STORE_NAME_MAX	     256  /* site and token names, bytes with the NUL */
#define STORE_URL_MAX	     2048 /* SUP URLs, bytes with the NUL */
#define STORE_THUMBPRINT_LEN 40	  /* SHA-1, upper-case hex */
#define STORE_SUBJECT_MAX    1024
#define STORE_CERT_DER_MAX   (64 * 1024)
#define STORE_STEP_MAX	     64
#define STORE_SYNC_ERROR_MAX 512
#define STORE_TOKEN_MIN	     16 /* bytes of an admin token, the caller generates it */
#define STORE_TOKEN_MAX	     1024

/* Hierarchy settings sent to a site that is not the top-level one (the API answers 409). */
#define STORE_E_NOT_TOP_LEVEL HR_ERROR_NOT_SUPPORTED
/* A database written by a newer patchpointd than this one. */
#define STORE_E_SCHEMA_NEWER HR_ERROR_NOT_SUPPORTED

/* ---- records ---- */

struct store_site {
	char code[STORE_SITE_CODE_LEN + 1];
	char name[STORE_NAME_MAX];
	char parent_code[STORE_SITE_CODE_LEN + 1]; /* "" for the top-level site */
	bool has_children;			   /* derived: a site with child sites is the CAS */
	int64_t created_at;			   /* Unix seconds */
};

enum store_certificate_mode {
	STORE_CERT_MODE_MANAGED = 0, /* "Configuration Manager manages the certificate" */
	STORE_CERT_MODE_MANUAL = 1
};

/* The Third-Party Updates settings of the hierarchy: stored once, set on the top-level site. */
struct store_third_party_settings {
	bool enable_third_party_updates;
	enum store_certificate_mode certificate_mode;
	char top_level_site[STORE_SITE_CODE_LEN + 1]; /* filled by the getter, "" without sites */
	int64_t updated_at;
};

enum store_sup_location { STORE_SUP_LOCAL = 0, STORE_SUP_REMOTE = 1 };

struct store_sup {
	int64_t id; /* assigned by store_sup_add */
	char site_code[STORE_SITE_CODE_LEN + 1];
	char url[STORE_URL_MAX]; /* http://... or https://... */
	enum store_sup_location location;
	bool sync_source; /* at most one per site; the top-level one holds the signing store */
	int64_t created_at;
};

enum store_certificate_type {
	STORE_CERT_WSUS_SIGNING = 0, /* "Third-party WSUS Signing" */
	STORE_CERT_CATALOG = 1,	     /* "Third-party Software Updates Catalog" */
	STORE_CERT_CONTENT = 2	     /* "Third-party Software Updates Content" */
};

/* A row of Administration > Security > Certificates. */
struct store_certificate {
	char thumbprint[STORE_THUMBPRINT_LEN + 1]; /* SHA-1 of der, upper-case hex */
	enum store_certificate_type type;
	uint8_t *der; /* owned: store_certificate_clear frees it */
	size_t der_len;
	char subject[STORE_SUBJECT_MAX];
	int64_t not_before, not_after; /* Unix seconds */
	bool blocked;
	/* Vendor content certificates are added unapproved and need an administrator's approval
	 * before content they signed is published; every other type is always approved. */
	bool approved;
	int64_t added_at;
};

enum store_sync_state { STORE_SYNC_RUNNING = 0, STORE_SYNC_SUCCEEDED = 1, STORE_SYNC_FAILED = 2 };

struct store_sync {
	int64_t id;
	enum store_sync_state state;
	char step[STORE_STEP_MAX]; /* the step running or last run, "" before the first */
	int64_t started_at;
	int64_t finished_at; /* 0 while running */
	char error[STORE_SYNC_ERROR_MAX];
};

/* "Third-party WSUS Signing", ...; "managed" / "manual"; "running", ... Never NULL. */
const char *store_certificate_type_name(enum store_certificate_type type);
const char *store_certificate_mode_name(enum store_certificate_mode mode);
const char *store_sync_state_name(enum store_sync_state state);
/* Parse the names above (exact spelling); -1 with E_INVALIDARG listing the accepted ones. */
int store_certificate_mode_parse(const char *name, enum store_certificate_mode *mode,
				 struct pp_error *err);
int store_certificate_type_parse(const char *name, enum store_certificate_type *type,
				 struct pp_error *err);

/* ---- third-party update catalogs and updates ---- */

#define STORE_UPDATE_ID_LEN    36 /* a GUID, lower-case */
#define STORE_UPDATE_TITLE_MAX 1024
#define STORE_UPDATE_FIELD_MAX 128 /* classification, severity, KB article, creation date */
#define STORE_UPDATE_SDP_MAX   (8u * 1024u * 1024u)

enum store_update_state {
	STORE_UPDATE_METADATA = 0,  /* in the catalog, no content published */
	STORE_UPDATE_PUBLISHED = 1, /* signed content published */
	STORE_UPDATE_EXPIRED = 2
};

struct store_catalog {
	char name[STORE_NAME_MAX];
	bool allow_unsigned_content;
	int64_t added_at;
};

/* One update: the fields an administrator lists and filters by; the whole SDP separately
 * (store_update_sdp). */
struct store_update {
	char id[STORE_UPDATE_ID_LEN + 1];
	int64_t revision;	      /* 1 on import, one more for each change */
	char catalog[STORE_NAME_MAX]; /* "" for an administrator's own update */
	char vendor[STORE_NAME_MAX];
	char product[STORE_NAME_MAX];
	char title[STORE_UPDATE_TITLE_MAX];
	char classification[STORE_UPDATE_FIELD_MAX];
	char severity[STORE_UPDATE_FIELD_MAX];
	char kb[STORE_UPDATE_FIELD_MAX];
	char creation_date[STORE_UPDATE_FIELD_MAX];
	char sdp_sha256[65]; /* lower-case hex of the stored SDP */
	enum store_update_state state;
	int64_t created_at, updated_at;
};

/* Filters of store_update_list; NULL or "" fields match everything. vendor and product match
 * whole values, title any substring, all case-insensitively (ASCII). */
struct store_update_filter {
	const char *vendor, *product, *title, *catalog;
	int published; /* -1 any, 0 not published, 1 published */
};

/* ---- opening ---- */

/* Opens (creating when missing) the SQLite database at path, WAL mode with foreign keys, and
 * applies the pending migrations, each in its own transaction. A database whose schema is newer
 * than this binary is refused (STORE_E_SCHEMA_NEWER). The caller frees with store_close. */
struct store *store_open_sqlite(const char *path, struct pp_error *err) PP_WARN_UNUSED;

/* As store_open_sqlite with another migration list (tests inject broken or future ones). */
struct store *store_open_sqlite_with(const char *path, const struct store_migration *migrations,
				     unsigned count, struct pp_error *err) PP_WARN_UNUSED;

/* Closes; NULL is a no-op. A transaction left open is rolled back. */
void store_close(struct store *s);

/* The highest migration applied to the database. */
int store_schema_version(struct store *s, int *version, struct pp_error *err) PP_WARN_UNUSED;

/* Runs fn inside one transaction: committed when fn returns 0, rolled back otherwise (err then
 * holds fn's error). Nests: an inner call is a savepoint of the outer transaction. */
typedef int (*store_tx_fn)(struct store *s, void *ctx, struct pp_error *err);
int store_transaction(struct store *s, store_tx_fn fn, void *ctx,
		      struct pp_error *err) PP_WARN_UNUSED;

/* ---- sites ---- */

/* Adds a site. parent_code NULL or "" makes it the top-level site, refused when one exists
 * (ERROR_ALREADY_EXISTS naming it). Under a parent: the parent must exist (CRYPT_E_NOT_FOUND) and
 * be the top-level site, because child sites have no children of their own (E_INVALIDARG); a
 * site cannot be its own parent (E_INVALIDARG). Duplicate codes: ERROR_ALREADY_EXISTS. */
int store_site_add(struct store *s, const char *code, const char *name, const char *parent_code,
		   struct pp_error *err) PP_WARN_UNUSED;

/* Expands a standalone primary into a hierarchy: adds the CAS code above the current top-level
 * site, which becomes its child. Refused when the top-level site already has children (it is a
 * CAS: E_INVALIDARG) or there is no site (CRYPT_E_NOT_FOUND). The hierarchy settings stay. */
int store_site_add_cas_above(struct store *s, const char *code, const char *name,
			     struct pp_error *err) PP_WARN_UNUSED;

/* The site with this code, CRYPT_E_NOT_FOUND when there is none. */
int store_site_get(struct store *s, const char *code, struct store_site *out,
		   struct pp_error *err) PP_WARN_UNUSED;

/* All sites, the top-level one first, then by code. *out is malloc'd (NULL when empty); free()
 * it. */
int store_site_list(struct store *s, struct store_site **out, size_t *count,
		    struct pp_error *err) PP_WARN_UNUSED;

/* The site without a parent, CRYPT_E_NOT_FOUND before the first site is added. */
int store_top_level_site(struct store *s, struct store_site *out,
			 struct pp_error *err) PP_WARN_UNUSED;

/* ---- third-party update settings of the hierarchy ---- */

int store_third_party_settings_get(struct store *s, struct store_third_party_settings *out,
				   struct pp_error *err) PP_WARN_UNUSED;

/* Sets both settings through site_code, which must be the top-level site: another existing site
 * gets STORE_E_NOT_TOP_LEVEL with a message naming the top-level site; an unknown one
 * CRYPT_E_NOT_FOUND. in->top_level_site and in->updated_at are ignored. */
int store_third_party_settings_set(struct store *s, const char *site_code,
				   const struct store_third_party_settings *in,
				   struct pp_error *err) PP_WARN_UNUSED;

/* ---- software update points ---- */

/* Registers a SUP; sup->id and sup->created_at are filled. The URL must be http:// or https://
 * with a host (E_INVALIDARG); the site must exist (CRYPT_E_NOT_FOUND); the same URL twice on a
 * site: ERROR_ALREADY_EXISTS. A SUP added as sync source takes over from the site's current
 * one, which stays registered without the role (its id and URL in *replaced when replaced is not
 * NULL; replaced->id is 0 when there was none). */
int store_sup_add(struct store *s, struct store_sup *sup, struct pp_error *err) PP_WARN_UNUSED;
int store_sup_add_replacing(struct store *s, struct store_sup *sup, struct store_sup *replaced,
			    struct pp_error *err) PP_WARN_UNUSED;

int store_sup_get(struct store *s, int64_t id, struct store_sup *out,
		  struct pp_error *err) PP_WARN_UNUSED;

/* SUPs of site_code (all sites when NULL), by id. *out is malloc'd (NULL when empty); free() it.
 */
int store_sup_list(struct store *s, const char *site_code, struct store_sup **out, size_t *count,
		   struct pp_error *err) PP_WARN_UNUSED;

/* The sync-source SUP of a site, CRYPT_E_NOT_FOUND when the site has none. */
int store_sup_sync_source(struct store *s, const char *site_code, struct store_sup *out,
			  struct pp_error *err) PP_WARN_UNUSED;

/* ---- certificates (Administration > Security > Certificates) ---- */

/* Adds a certificate; the thumbprint must be the SHA-1 of der in upper-case hex (E_INVALIDARG).
 * Idempotent: when the thumbprint is already there the row is left as it is (blocked flag and
 * type included) and *already is set (already may be NULL). cert->added_at is ignored. */
int store_certificate_add(struct store *s, const struct store_certificate *cert, bool *already,
			  struct pp_error *err) PP_WARN_UNUSED;

/* The certificate with this thumbprint (any case accepted), CRYPT_E_NOT_FOUND when absent. out
 * owns its DER afterwards: store_certificate_clear. */
int store_certificate_get(struct store *s, const char *thumbprint, struct store_certificate *out,
			  struct pp_error *err) PP_WARN_UNUSED;

/* All certificates by added time then thumbprint; free with store_certificate_list_free. */
int store_certificate_list(struct store *s, struct store_certificate **out, size_t *count,
			   struct pp_error *err) PP_WARN_UNUSED;

/* Blocks or unblocks; CRYPT_E_NOT_FOUND for an unknown thumbprint. Repeating is not an error. */
int store_certificate_block(struct store *s, const char *thumbprint,
			    struct pp_error *err) PP_WARN_UNUSED;
int store_certificate_unblock(struct store *s, const char *thumbprint,
			      struct pp_error *err) PP_WARN_UNUSED;
/* Approves a certificate (content certificates start unapproved); repeating is not an error. */
int store_certificate_approve(struct store *s, const char *thumbprint,
			      struct pp_error *err) PP_WARN_UNUSED;

/* Frees the DER of one record (and zeroes the record); NULL is a no-op. */
void store_certificate_clear(struct store_certificate *cert);
void store_certificate_list_free(struct store_certificate *list, size_t count);

/* ---- synchronizations ---- */

/* Starts a sync in state running and returns its id. One at a time, enforced by the database
 * across processes: while one runs this fails with ERROR_ALREADY_EXISTS and *running_id set to
 * its id (running_id may be NULL). */
int store_sync_start(struct store *s, int64_t *id, int64_t *running_id,
		     struct pp_error *err) PP_WARN_UNUSED;

/* Records the step a running sync has reached. CRYPT_E_NOT_FOUND for an unknown id, E_INVALIDARG
 * when the sync is no longer running. */
int store_sync_set_step(struct store *s, int64_t id, const char *step,
			struct pp_error *err) PP_WARN_UNUSED;

/* Finishes a running sync: state STORE_SYNC_SUCCEEDED or STORE_SYNC_FAILED with error (may be
 * NULL). Same errors as store_sync_set_step. */
int store_sync_finish(struct store *s, int64_t id, enum store_sync_state state, const char *error,
		      struct pp_error *err) PP_WARN_UNUSED;

int store_sync_get(struct store *s, int64_t id, struct store_sync *out,
		   struct pp_error *err) PP_WARN_UNUSED;

/* The sync with the highest id, CRYPT_E_NOT_FOUND before the first one. */
int store_sync_latest(struct store *s, struct store_sync *out, struct pp_error *err) PP_WARN_UNUSED;

/* At start-up: marks every running sync failed with reason (a crash left them running), so a new
 * one can start. *count (may be NULL) receives how many there were. */
int store_fail_running_syncs(struct store *s, const char *reason, unsigned *count,
			     struct pp_error *err) PP_WARN_UNUSED;

/* ---- admin tokens ---- */

/* Stores the SHA-256 of token under name (a label such as "init"); the token itself is never
 * stored. The caller generates the token (STORE_TOKEN_MIN..STORE_TOKEN_MAX bytes) and shows it
 * once. Duplicate names: ERROR_ALREADY_EXISTS. */
int store_admin_token_add(struct store *s, const char *name, const char *token,
			  struct pp_error *err) PP_WARN_UNUSED;

/* The SHA-256 under which a token is stored; E_INVALIDARG for a token of the wrong length. */
int store_admin_token_digest(const char *token, uint8_t hash[32],
			     struct pp_error *err) PP_WARN_UNUSED;

/* *valid tells whether token matches a stored one; compared in constant time over every stored
 * hash. A wrong token is not an error (returns 0 with *valid false). */
int store_admin_token_verify(struct store *s, const char *token, bool *valid,
			     struct pp_error *err) PP_WARN_UNUSED;

/* ---- catalogs and updates ---- */

/* Adds catalog name, or sets its option when it exists; *changed (may be NULL) tells whether a
 * row was written. E_INVALIDARG for an empty, over-long or control-character name. */
int store_catalog_put(struct store *s, const char *name, bool allow_unsigned_content, bool *changed,
		      struct pp_error *err) PP_WARN_UNUSED;

/* The catalog of this name, CRYPT_E_NOT_FOUND when there is none. */
int store_catalog_get(struct store *s, const char *name, struct store_catalog *out,
		      struct pp_error *err) PP_WARN_UNUSED;

/* Every catalog by name; *out is malloc'd (NULL when empty), free() it. */
int store_catalog_list(struct store *s, struct store_catalog **out, size_t *count,
		       struct pp_error *err) PP_WARN_UNUSED;

/* The update with this id (either case), CRYPT_E_NOT_FOUND when there is none. */
int store_update_get(struct store *s, const char *id, struct store_update *out,
		     struct pp_error *err) PP_WARN_UNUSED;

/* The stored SDP of an update: *xml is malloc'd (NUL-terminated), the caller frees it. */
int store_update_sdp(struct store *s, const char *id, char **xml, size_t *len,
		     struct pp_error *err) PP_WARN_UNUSED;

/* Inserts an update or replaces the one with its id. The fields are checked (a GUID id in lower
 * case, revision >= 1, non-empty vendor, product and title without control characters, an
 * existing catalog or "", the SHA-256 of sdp); sdp is stored as given. created_at is kept from
 * the row being replaced; updated_at is now. */
int store_update_put(struct store *s, const struct store_update *u, const char *sdp, size_t sdp_len,
		     struct pp_error *err) PP_WARN_UNUSED;

/* The updates matching filter (NULL: all), by vendor, product, title then id. *out is malloc'd
 * (NULL when empty); free() it. */
int store_update_list(struct store *s, const struct store_update_filter *filter,
		      struct store_update **out, size_t *count,
		      struct pp_error *err) PP_WARN_UNUSED;

/* "metadata", "published", "expired". Never NULL. */
const char *store_update_state_name(enum store_update_state state);

/* The content published for one revision of an update (immutable once stored). */
struct store_update_content {
	char update_id[STORE_UPDATE_ID_LEN + 1];
	int64_t revision;
	bool has_content;      /* false: published metadata only */
	char sha1[41];	       /* upper-case hex of the signed CAB, the WSUSContent name */
	char sha256[65];       /* lower-case hex */
	uint64_t size;	       /* bytes of the CAB */
	char input_sha256[65]; /* of the files given, to tell a repeat from a change */
	char signer[STORE_THUMBPRINT_LEN + 1]; /* the WSUS signing certificate that signed it */
	char files[STORE_UPDATE_TITLE_MAX];    /* file names inside the CAB, '/'-separated */
	int64_t published_at;
};

#define STORE_COLLECTION_ID_LEN 8 /* "SMS00001" */
#define STORE_ALL_SYSTEMS	"SMS00001"

struct store_collection {
	char id[STORE_COLLECTION_ID_LEN + 1];
	char name[STORE_NAME_MAX];
	int64_t created_at;
};

struct store_deployment {
	int64_t id;
	char update_id[STORE_UPDATE_ID_LEN + 1];
	char collection_id[STORE_COLLECTION_ID_LEN + 1];
	char collection_name[STORE_NAME_MAX]; /* filled by the list */
	char title[STORE_UPDATE_TITLE_MAX];   /* the update's, filled by the list */
	int64_t available_at;
	int64_t deadline_at; /* 0: none */
	int64_t created_at;
};

/* The content of a revision; CRYPT_E_NOT_FOUND when that revision has none published. */
int store_update_content_get(struct store *s, const char *id, int64_t revision,
			     struct store_update_content *out, struct pp_error *err) PP_WARN_UNUSED;

/* Records the content of (c->update_id, c->revision) and sets the update published, in one
 * transaction. The revision must be the update's current one (E_INVALIDARG); content already
 * recorded for it is ERROR_ALREADY_EXISTS (content is immutable per revision). */
int store_update_content_add(struct store *s, const struct store_update_content *c,
			     struct pp_error *err) PP_WARN_UNUSED;

/* Every revision's content of an update, oldest first; *out malloc'd (free()). */
int store_update_content_list(struct store *s, const char *id, struct store_update_content **out,
			      size_t *count, struct pp_error *err) PP_WARN_UNUSED;

/* Whether any revision of any update, or any package file, refers to the content with this
 * SHA-1. */
int store_content_referenced(struct store *s, const char *sha1, bool *referenced,
			     struct pp_error *err) PP_WARN_UNUSED;

/* A new revision of an update: revision + 1, state metadata (the new revision has no content;
 * the old revisions keep theirs). *revision receives the new number. Refused for an expired
 * update (E_INVALIDARG). */
int store_update_revise(struct store *s, const char *id, int64_t *revision,
			struct pp_error *err) PP_WARN_UNUSED;

/* Expires an update (idempotent): it can no longer be deployed. */
int store_update_expire(struct store *s, const char *id, struct pp_error *err) PP_WARN_UNUSED;

/* Deletes an update with its content rows and deployments. Refused (E_INVALIDARG) for a
 * published update that is not expired: expire it first, as WSUS asks. */
int store_update_delete(struct store *s, const char *id, struct pp_error *err) PP_WARN_UNUSED;

/* Collections: by id ("SMS00001") or name ("All Systems", any case). */
int store_collection_get(struct store *s, const char *id_or_name, struct store_collection *out,
			 struct pp_error *err) PP_WARN_UNUSED;
int store_collection_list(struct store *s, struct store_collection **out, size_t *count,
			  struct pp_error *err) PP_WARN_UNUSED;

/* Deploys a published, unexpired update to a collection (d->update_id, d->collection_id,
 * available_at, deadline_at 0 or >= available_at); d->id and created_at are filled. A second
 * deployment of one update to one collection is ERROR_ALREADY_EXISTS. */
int store_deployment_add(struct store *s, struct store_deployment *d,
			 struct pp_error *err) PP_WARN_UNUSED;

/* Deployments (of update_id when not NULL), newest first; *out malloc'd (free()). */
int store_deployment_list(struct store *s, const char *update_id, struct store_deployment **out,
			  size_t *count, struct pp_error *err) PP_WARN_UNUSED;

/* ---- devices, collections and client settings (migration 0004, store_devices.c) ---- */

#define STORE_DEVICE_ID_LEN	   41	/* "GUID:" and a lower-case UUID */
#define STORE_MACHINE_ID_LEN	   32	/* lower-case hex, made by the agent */
#define STORE_VERSION_MAX	   32	/* a client version with the NUL */
#define STORE_TAGS_MAX		   2112 /* up to 32 tags of 64 bytes, comma-separated */
#define STORE_SECRET_MIN	   16	/* bytes of an enrollment key or device credential */
#define STORE_COLLECTION_RULES_MAX 256

/* A registration with an enrollment key that is unknown, revoked or expired. */
#define STORE_E_BAD_ENROLLMENT_KEY HR_E_ACCESSDENIED

struct store_enrollment_key {
	int64_t id;
	char name[STORE_NAME_MAX];
	int64_t created_at;
	int64_t expires_at; /* 0: never */
	bool revoked;
	int64_t uses; /* registrations made with it */
};

struct store_device {
	char id[STORE_DEVICE_ID_LEN + 1];
	char machine_id[STORE_MACHINE_ID_LEN + 1];
	char name[STORE_NAME_MAX];
	char os[STORE_NAME_MAX];
	char client_version[STORE_VERSION_MAX];
	char tags[STORE_TAGS_MAX]; /* comma-separated, "" for none */
	int64_t registered_at;
	int64_t last_policy_at; /* 0: never */
};

/* A rule of a collection; member rules name the device (device_name filled by the list),
 * include/exclude rules the other collection (other_name). */
struct store_collection_rule {
	struct membership_rule rule;
	char device_name[STORE_NAME_MAX];
	char other_name[STORE_NAME_MAX];
};

struct store_client_setting {
	int64_t id;
	char name[STORE_NAME_MAX];
	int64_t order; /* 1..n, or 10000 for Default Client Settings */
	bool is_default;
	struct clientsettings_values values;
	int64_t created_at, updated_at;
};

struct store_client_setting_deployment {
	int64_t setting_id;
	char setting_name[STORE_NAME_MAX];
	char collection_id[STORE_COLLECTION_ID_LEN + 1];
	char collection_name[STORE_NAME_MAX];
	int64_t created_at;
};

/* Makes an enrollment key: key is the secret the caller generated (at least STORE_SECRET_MIN
 * bytes; only its SHA-256 is kept), expires_at 0 for never. out->id is assigned. */
int store_enrollment_key_add(struct store *s, const char *name, const char *key, int64_t expires_at,
			     struct store_enrollment_key *out, struct pp_error *err) PP_WARN_UNUSED;
int store_enrollment_key_list(struct store *s, struct store_enrollment_key **out, size_t *count,
			      struct pp_error *err) PP_WARN_UNUSED;
/* Revokes key id: no registration with it from then on (devices it registered stay). */
int store_enrollment_key_revoke(struct store *s, int64_t id, struct pp_error *err) PP_WARN_UNUSED;

/* Registers a device (dev: machine_id, name, os, client_version, tags) with an enrollment key,
 * giving it credential (its SHA-256 is kept; the old one of a known device stops working). A
 * machine id the site knows keeps its device id; *is_new tells. dev->id and registered_at are
 * filled. Memberships of the device are recomputed in the same transaction.
 * STORE_E_BAD_ENROLLMENT_KEY for a key that is unknown, revoked or expired. */
int store_device_register(struct store *s, const char *enrollment_key, const char *credential,
			  struct store_device *dev, bool *is_new,
			  struct pp_error *err) PP_WARN_UNUSED;

/* The device a credential belongs to; *found false (no error) when none does. */
int store_device_authenticate(struct store *s, const char *credential, struct store_device *out,
			      bool *found, struct pp_error *err) PP_WARN_UNUSED;

/* A device by id ("GUID:...") or name (any case); a name two devices share is E_INVALIDARG
 * naming both ids; CRYPT_E_NOT_FOUND when there is none. */
int store_device_get(struct store *s, const char *id_or_name, struct store_device *out,
		     struct pp_error *err) PP_WARN_UNUSED;
int store_device_list(struct store *s, struct store_device **out, size_t *count,
		      struct pp_error *err) PP_WARN_UNUSED;
int store_device_set_policy_time(struct store *s, const char *id, int64_t when,
				 struct pp_error *err) PP_WARN_UNUSED;

/* The collections device id is a member of, All Systems first, then by id. */
int store_device_collections(struct store *s, const char *id, struct store_collection **out,
			     size_t *count, struct pp_error *err) PP_WARN_UNUSED;

/* Makes a collection named name with rules (member rules may name the device by id or name in
 * value; include/exclude rules the other collection by id in other, or by id or name in value)
 * and computes its members. out->id
 * is the site code and five hex digits ("PP100010"). Refused: a name in use, an unknown
 * device or collection, a rule set that would make a cycle. */
int store_collection_create(struct store *s, const char *name,
			    const struct store_collection_rule *rules, size_t count,
			    struct store_collection *out, struct pp_error *err) PP_WARN_UNUSED;

/* Deletes a collection. Refused for All Systems and for one that a deployment, a client
 * setting deployment or another collection's include/exclude rule refers to (named). */
int store_collection_delete(struct store *s, const char *id_or_name,
			    struct pp_error *err) PP_WARN_UNUSED;
int store_collection_rules(struct store *s, const char *id, struct store_collection_rule **out,
			   size_t *count, struct pp_error *err) PP_WARN_UNUSED;
/* The devices of a collection (every device for All Systems), by name. */
int store_collection_members(struct store *s, const char *id, struct store_device **out,
			     size_t *count, struct pp_error *err) PP_WARN_UNUSED;

/* Client settings, by order (custom 1..n first, the default last). */
int store_client_setting_list(struct store *s, struct store_client_setting **out, size_t *count,
			      struct pp_error *err) PP_WARN_UNUSED;
/* By name, any case; CRYPT_E_NOT_FOUND names it. */
int store_client_setting_get(struct store *s, const char *name, struct store_client_setting *out,
			     struct pp_error *err) PP_WARN_UNUSED;
/* A custom client device setting with the next order (n + 1), configuring what values holds
 * (NULL: nothing yet). */
int store_client_setting_create(struct store *s, const char *name,
				const struct clientsettings_values *values,
				struct store_client_setting *out,
				struct pp_error *err) PP_WARN_UNUSED;
/* Replaces the values of a client setting; the default must keep every group configured. */
int store_client_setting_set(struct store *s, const char *name,
			     const struct clientsettings_values *values,
			     struct pp_error *err) PP_WARN_UNUSED;
/* Deletes a custom client setting with its deployments; the orders after it move up by one.
 * Refused for the default. */
int store_client_setting_delete(struct store *s, const char *name,
				struct pp_error *err) PP_WARN_UNUSED;
/* Swaps the order of a custom client setting with the one above (up: lower order) or below.
 * Refused for the default, and at either end. */
int store_client_setting_move(struct store *s, const char *name, bool up,
			      struct pp_error *err) PP_WARN_UNUSED;
/* Deploys a custom client setting to a collection, or takes that deployment away. The default
 * cannot be deployed; deploying twice and undeploying what is not deployed are errors. */
int store_client_setting_deploy(struct store *s, const char *name, const char *collection,
				struct pp_error *err) PP_WARN_UNUSED;
int store_client_setting_undeploy(struct store *s, const char *name, const char *collection,
				  struct pp_error *err) PP_WARN_UNUSED;
/* Every client setting deployment (of name only, when not NULL), by order then collection. */
int store_client_setting_deployments(struct store *s, const char *name,
				     struct store_client_setting_deployment **out, size_t *count,
				     struct pp_error *err) PP_WARN_UNUSED;

/* The minimum client version for third-party certificates (default 5.00.8692.1003). */
int store_min_client_version_get(struct store *s, char out[STORE_VERSION_MAX],
				 struct pp_error *err) PP_WARN_UNUSED;
int store_min_client_version_set(struct store *s, const char *version,
				 struct pp_error *err) PP_WARN_UNUSED;

/* The policy generation: a number that moves on every write changing what a machine policy is
 * made of (settings, collections and their members, certificates, deployments, published
 * updates, the minimum version, a device's name, version or credential), by any writer
 * (migration 0005). A policy built after reading generation g is current while it reads g. */
int store_policy_generation(struct store *s, int64_t *out, struct pp_error *err) PP_WARN_UNUSED;

/* The digest under which a device credential is kept; -1 when credential cannot be one. */
int store_device_credential_digest(const char *credential, uint8_t hash[32],
				   struct pp_error *err) PP_WARN_UNUSED;

/* ---- state messages and compliance ---- */

#define STORE_STATE_DETAIL_MAX 512
#define STORE_STATE_BATCH_MAX  256 /* messages in one store_state_messages_add */

enum store_state_topic { STORE_TOPIC_SCAN = 0, STORE_TOPIC_INSTALL = 1 };
enum store_update_status {
	STORE_STATUS_REQUIRED = 0,
	STORE_STATUS_NOT_REQUIRED = 1,
	STORE_STATUS_INSTALLED = 2,
	STORE_STATUS_FAILED = 3,
	STORE_STATUS_PENDING_REBOOT = 4,
	STORE_STATUS_UNKNOWN = 5 /* no state message yet (compliance only) */
};

struct store_state_message {
	char id[37]; /* a UUID the agent made */
	int64_t time;
	enum store_state_topic topic;
	char update_id[STORE_UPDATE_ID_LEN + 1];
	int64_t revision;
	int64_t deployment_id; /* 0: none */
	enum store_update_status state;
	bool has_hresult;
	uint32_t hresult;
	char detail[STORE_STATE_DETAIL_MAX];
};

/* One device's state of one update in a compliance report. */
struct store_compliance {
	char device_id[STORE_DEVICE_ID_LEN + 1];
	char device_name[STORE_NAME_MAX];
	enum store_update_status state;
	int64_t revision; /* 0 for unknown */
	bool has_hresult;
	uint32_t hresult;
	char detail[STORE_STATE_DETAIL_MAX];
	int64_t time; /* 0 for unknown */
};

/* "scan", "install"; "required", "not_required", "installed", "failed", "pending_reboot",
 * "unknown"; the parsers take those (-1 for anything else). */
const char *store_state_topic_name(enum store_state_topic t);
const char *store_update_status_name(enum store_update_status st);
int store_state_topic_parse(const char *name);
int store_update_status_parse(const char *name);

/* Records up to STORE_STATE_BATCH_MAX messages of one device in one transaction; an id already
 * recorded counts in *duplicates and changes nothing. The latest message per update (by time)
 * sets the device's state of it. */
int store_state_messages_add(struct store *s, const char *device_id,
			     const struct store_state_message *msgs, size_t count, size_t *accepted,
			     size_t *duplicates, struct pp_error *err) PP_WARN_UNUSED;

/* The state of update_id on every device that reported one or that a deployment of it targets
 * (those without a message are unknown), by device name. deployment_id != 0: only the members of
 * that deployment's collection. */
int store_compliance(struct store *s, const char *update_id, int64_t deployment_id,
		     struct store_compliance **out, size_t *count,
		     struct pp_error *err) PP_WARN_UNUSED;

/* ---- for backends only ---- */

enum store_cert_flag { STORE_CERT_FLAG_BLOCKED = 0, STORE_CERT_FLAG_APPROVED = 1 };

/* Primitive operations of a backend. Each returns 0 or -1 with err set; "found" outputs report a
 * missing row without an error. Lists are malloc'd arrays. Domain rules are checked by store.c
 * before these are called, inside a transaction; backends map their own constraint violations
 * (unique keys, foreign keys) to the HR codes above as a second line of defence. */
struct store_ops {
	void (*close)(void *impl);
	int (*begin)(void *impl, struct pp_error *err); /* nests as a savepoint */
	int (*commit)(void *impl, struct pp_error *err);
	void (*rollback)(void *impl);
	int (*schema_version)(void *impl, int *version, struct pp_error *err);
	/* group policy objects (store_sqlite_gpo.c), declared with the GPO section below */
	const struct store_gpo_ops *gpo;

	int (*site_insert)(void *impl, const struct store_site *site, struct pp_error *err);
	/* Called before parent_code is inserted, in the same transaction: the foreign key is
	 * checked at commit. */
	int (*site_reparent)(void *impl, const char *code, const char *parent_code,
			     struct pp_error *err);
	int (*site_get)(void *impl, const char *code, struct store_site *out, bool *found,
			struct pp_error *err);
	int (*site_top)(void *impl, struct store_site *out, bool *found, struct pp_error *err);
	int (*site_list)(void *impl, struct store_site **out, size_t *count, struct pp_error *err);

	int (*settings_get)(void *impl, struct store_third_party_settings *out,
			    struct pp_error *err);
	int (*settings_put)(void *impl, const struct store_third_party_settings *in,
			    struct pp_error *err);

	int (*sup_insert)(void *impl, struct store_sup *sup, struct pp_error *err);
	int (*sup_set_sync_source)(void *impl, int64_t id, bool sync_source, struct pp_error *err);
	int (*sup_get)(void *impl, int64_t id, struct store_sup *out, bool *found,
		       struct pp_error *err);
	int (*sup_sync_source)(void *impl, const char *site_code, struct store_sup *out,
			       bool *found, struct pp_error *err);
	int (*sup_list)(void *impl, const char *site_code, struct store_sup **out, size_t *count,
			struct pp_error *err);

	int (*cert_insert)(void *impl, const struct store_certificate *cert, bool *inserted,
			   struct pp_error *err);
	int (*cert_get)(void *impl, const char *thumbprint, struct store_certificate *out,
			bool *found, struct pp_error *err);
	int (*cert_list)(void *impl, struct store_certificate **out, size_t *count,
			 struct pp_error *err);
	int (*cert_set_flag)(void *impl, const char *thumbprint, enum store_cert_flag flag,
			     bool value, bool *found, struct pp_error *err);

	/* -1 with ERROR_ALREADY_EXISTS and *running_id when a sync is running. */
	int (*sync_insert)(void *impl, int64_t now, int64_t *id, int64_t *running_id,
			   struct pp_error *err);
	int (*sync_update)(void *impl, const struct store_sync *sync, struct pp_error *err);
	int (*sync_get)(void *impl, int64_t id, struct store_sync *out, bool *found,
			struct pp_error *err);
	int (*sync_latest)(void *impl, struct store_sync *out, bool *found, struct pp_error *err);
	int (*sync_fail_running)(void *impl, const char *reason, int64_t now, unsigned *count,
				 struct pp_error *err);

	int (*token_insert)(void *impl, const char *name, const uint8_t hash[32], int64_t now,
			    struct pp_error *err);
	/* Every stored hash, 32 bytes each, concatenated; malloc'd. */
	int (*token_hashes)(void *impl, uint8_t **hashes, size_t *count, struct pp_error *err);

	int (*catalog_put)(void *impl, const struct store_catalog *c, bool *changed,
			   struct pp_error *err);
	int (*catalog_get)(void *impl, const char *name, struct store_catalog *out, bool *found,
			   struct pp_error *err);
	int (*catalog_list)(void *impl, struct store_catalog **out, size_t *count,
			    struct pp_error *err);
	int (*update_get)(void *impl, const char *id, struct store_update *out, bool *found,
			  struct pp_error *err);
	/* *xml malloc'd with a NUL after len bytes; *found false leaves it NULL. */
	int (*update_sdp)(void *impl, const char *id, char **xml, size_t *len, bool *found,
			  struct pp_error *err);
	/* Insert or replace by id, created_at kept from a replaced row. */
	int (*update_put)(void *impl, const struct store_update *u, const char *sdp, size_t sdp_len,
			  struct pp_error *err);
	int (*update_list)(void *impl, const struct store_update_filter *f,
			   struct store_update **out, size_t *count, struct pp_error *err);
	int (*update_delete)(void *impl, const char *id, struct pp_error *err);
	/* Sets revision, state and updated_at of an existing update (the SDP stays). */
	int (*update_set_state)(void *impl, const char *id, int64_t revision,
				enum store_update_state state, int64_t now, struct pp_error *err);
	int (*content_get)(void *impl, const char *id, int64_t revision,
			   struct store_update_content *out, bool *found, struct pp_error *err);
	int (*content_insert)(void *impl, const struct store_update_content *c,
			      struct pp_error *err);
	int (*content_list)(void *impl, const char *id, struct store_update_content **out,
			    size_t *count, struct pp_error *err);
	int (*content_referenced)(void *impl, const char *sha1, bool *referenced,
				  struct pp_error *err);
	int (*collection_get)(void *impl, const char *id_or_name, struct store_collection *out,
			      bool *found, struct pp_error *err);
	int (*collection_list)(void *impl, struct store_collection **out, size_t *count,
			       struct pp_error *err);
	int (*deployment_insert)(void *impl, struct store_deployment *d, struct pp_error *err);
	int (*deployment_list)(void *impl, const char *update_id, struct store_deployment **out,
			       size_t *count, struct pp_error *err);

	/* devices, collections, client settings (store_sqlite_devices.c) */
	int (*ekey_insert)(void *impl, struct store_enrollment_key *k, const uint8_t hash[32],
			   struct pp_error *err);
	/* The key whose hash this is, *found false when none. */
	int (*ekey_find)(void *impl, const uint8_t hash[32], struct store_enrollment_key *out,
			 bool *found, struct pp_error *err);
	int (*ekey_list)(void *impl, struct store_enrollment_key **out, size_t *count,
			 struct pp_error *err);
	int (*ekey_revoke)(void *impl, int64_t id, bool *found, struct pp_error *err);
	int (*ekey_used)(void *impl, int64_t id, struct pp_error *err);
	/* by = "machine_id", "credential" (hash in key as 32 bytes), "id" */
	int (*device_find)(void *impl, const char *by, const void *key, size_t key_len,
			   struct store_device *out, bool *found, struct pp_error *err);
	/* Devices named name (any case), or every device when name is NULL. */
	int (*device_list)(void *impl, const char *name, struct store_device **out, size_t *count,
			   struct pp_error *err);
	/* Insert or update by machine_id, with the credential's hash and the key used. */
	int (*device_put)(void *impl, const struct store_device *d, const uint8_t cred_hash[32],
			  int64_t ekey_id, struct pp_error *err);
	int (*device_set_policy_time)(void *impl, const char *id, int64_t when, bool *found,
				      struct pp_error *err);
	int (*collection_insert)(void *impl, const struct store_collection *c,
				 struct pp_error *err);
	int (*collection_delete)(void *impl, const char *id, struct pp_error *err);
	/* The largest id with this 3-character prefix, "" when none. */
	int (*collection_last_id)(void *impl, const char *prefix,
				  char out[STORE_COLLECTION_ID_LEN + 1], struct pp_error *err);
	int (*collection_rule_insert)(void *impl, const char *collection_id,
				      const struct membership_rule *r, struct pp_error *err);
	/* Rules of one collection, or of all (id NULL); collection ids into owner[] (same
	 * order, malloc'd arrays of STORE_COLLECTION_ID_LEN + 1 bytes each). */
	int (*collection_rule_list)(void *impl, const char *id, struct store_collection_rule **out,
				    char (**owner)[STORE_COLLECTION_ID_LEN + 1], size_t *count,
				    struct pp_error *err);
	/* What refers to a collection: a description of the first reference, "" when none. */
	int (*collection_referrer)(void *impl, const char *id, char *out, size_t size,
				   struct pp_error *err);
	/* Replaces the collections of a device (ids, All Systems never among them), or the
	 * members of a collection (device ids). */
	int (*members_set_for_device)(void *impl, const char *device_id,
				      const char (*ids)[STORE_COLLECTION_ID_LEN + 1], size_t count,
				      struct pp_error *err);
	int (*members_set_for_collection)(void *impl, const char *collection_id,
					  const char (*device_ids)[STORE_DEVICE_ID_LEN + 1],
					  size_t count, struct pp_error *err);
	int (*members_of_collection)(void *impl, const char *collection_id,
				     struct store_device **out, size_t *count,
				     struct pp_error *err);
	int (*collections_of_device)(void *impl, const char *device_id,
				     struct store_collection **out, size_t *count,
				     struct pp_error *err);
	int (*cs_list)(void *impl, struct store_client_setting **out, size_t *count,
		       struct pp_error *err);
	int (*cs_insert)(void *impl, struct store_client_setting *c, struct pp_error *err);
	int (*cs_put_values)(void *impl, int64_t id, const struct clientsettings_values *v,
			     int64_t now, struct pp_error *err);
	int (*cs_delete)(void *impl, int64_t id, struct pp_error *err);
	int (*cs_set_order)(void *impl, int64_t id, int64_t order, struct pp_error *err);
	int (*cs_deploy)(void *impl, int64_t id, const char *collection_id, bool on, bool *changed,
			 int64_t now, struct pp_error *err);
	int (*cs_deployments)(void *impl, int64_t id, struct store_client_setting_deployment **out,
			      size_t *count, struct pp_error *err);
	int (*min_version_get)(void *impl, char out[STORE_VERSION_MAX], struct pp_error *err);
	int (*min_version_put)(void *impl, const char *version, struct pp_error *err);
	int (*policy_generation)(void *impl, int64_t *out, struct pp_error *err);
	/* *inserted false when the id is already recorded. */
	int (*state_insert)(void *impl, const char *device_id, const struct store_state_message *m,
			    int64_t now, bool *inserted, struct pp_error *err);
	int (*compliance_list)(void *impl, const char *update_id, int64_t deployment_id,
			       struct store_compliance **out, size_t *count, struct pp_error *err);

	/* configuration items and baselines (store_sqlite_ci.c) */
	const struct store_ci_ops *ci;
	/* packages and task sequences (store_sqlite_ts.c), in their own table */
	const struct store_ts_ops *ts;
};

/* ---- packages and task sequences (migration 0007, store_ts.c) ----
 *
 * Packages and task sequences have ids "<site code><5 hex digits>" from one sequence, as
 * ConfigMgr's PackageIDs; every call takes an id or a name (any case). Errors as above:
 * CRYPT_E_NOT_FOUND names what is missing, ERROR_ALREADY_EXISTS a name in use, E_INVALIDARG a
 * field that is not valid (tasksequence.h) or a rule broken (a package a step uses, a deployed
 * task sequence). Writes are single transactions. */

struct store_package {
	char id[TS_ID_LEN + 1];
	char name[TS_NAME_MAX + 1];
	char version[TS_VERSION_MAX + 1];
	int64_t source_version; /* 1, one more each time the files change */
	int64_t file_count;	/* filled by get and list */
	int64_t total_size;
	int64_t created_at, updated_at;
};

struct store_package_file {
	char path[TS_PATH_MAX + 1];
	char sha1[41];	 /* upper-case hex: its name in the content store */
	char sha256[65]; /* lower-case hex */
	uint64_t size;
};

struct store_task_sequence {
	char id[TS_ID_LEN + 1];
	char name[TS_NAME_MAX + 1];
	int64_t revision; /* 1, one more each time the steps change */
	int64_t step_count;
	int64_t deployment_count;
	int64_t created_at, updated_at;
};

/* A step as stored: the model's step and, for a Run Command Line step with a package, the
 * package's name (filled by store_ts_steps). */
struct store_ts_step {
	int position; /* 1-based */
	struct ts_step step;
	char package_name[TS_NAME_MAX + 1];
};

struct store_ts_deployment {
	int64_t id;
	char ts_id[TS_ID_LEN + 1];
	char ts_name[TS_NAME_MAX + 1];
	char collection_id[STORE_COLLECTION_ID_LEN + 1];
	char collection_name[STORE_NAME_MAX];
	int64_t available_at;
	int64_t created_at;
};

struct store_ts_step_result {
	int position;
	char name[TS_NAME_MAX + 1];
	enum ts_step_type type;
	enum ts_step_state state;
	bool has_exit_code;
	int64_t exit_code;
	bool has_hresult;
	uint32_t hresult;
	int64_t started_at, finished_at; /* 0: not yet */
	char detail[TS_DETAIL_MAX + 1];
};

/* A run as a device reported it. steps is owned (store_ts_runs_free). */
struct store_ts_run {
	char run_id[TS_RUN_ID_LEN + 1];
	char device_id[STORE_DEVICE_ID_LEN + 1];
	char device_name[STORE_NAME_MAX]; /* filled by store_ts_runs */
	char ts_id[TS_ID_LEN + 1];
	int64_t deployment_id;
	int64_t revision;
	int64_t seq;
	enum ts_run_state state;
	bool has_hresult;
	uint32_t hresult;
	int64_t started_at, finished_at, received_at;
	struct store_ts_step_result *steps;
	size_t step_count;
};

/* What store_ts_run_report did with a report. */
enum store_ts_report_outcome {
	STORE_TS_REPORT_ACCEPTED = 0, /* stored: new, or a later seq than the stored one */
	STORE_TS_REPORT_STALE,	      /* a seq not above the stored one: nothing changed */
	STORE_TS_REPORT_IGNORED	      /* the task sequence no longer exists */
};

/* A package with files (1..TS_PACKAGE_FILES_MAX, paths unique, each file already in the
 * content store); out gets it with its id. */
int store_package_create(struct store *s, const char *name, const char *version,
			 const struct store_package_file *files, size_t count,
			 struct store_package *out, struct pp_error *err) PP_WARN_UNUSED;

/* Changes a package: new_name and version when not NULL; files (when not NULL) replace all of
 * them, and the source version goes up by one when they differ from the current ones. out (may
 * be NULL) gets the package as it is afterwards. */
int store_package_update(struct store *s, const char *id_or_name, const char *new_name,
			 const char *version, const struct store_package_file *files, size_t count,
			 struct store_package *out, struct pp_error *err) PP_WARN_UNUSED;

int store_package_get(struct store *s, const char *id_or_name, struct store_package *out,
		      struct pp_error *err) PP_WARN_UNUSED;
/* By name; *out malloc'd (free()). */
int store_package_list(struct store *s, struct store_package **out, size_t *count,
		       struct pp_error *err) PP_WARN_UNUSED;
/* The files of package id (an id, not a name), by path; *out malloc'd (free()). */
int store_package_files(struct store *s, const char *id, struct store_package_file **out,
			size_t *count, struct pp_error *err) PP_WARN_UNUSED;
/* Refused while a step of a task sequence uses it (named). */
int store_package_delete(struct store *s, const char *id_or_name,
			 struct pp_error *err) PP_WARN_UNUSED;
/* Whether a file of a package is the content named sha1 (the start-up sweep keeps it). */
int store_package_content_referenced(struct store *s, const char *sha1, bool *referenced,
				     struct pp_error *err) PP_WARN_UNUSED;

int store_ts_create(struct store *s, const char *name, struct store_task_sequence *out,
		    struct pp_error *err) PP_WARN_UNUSED;
int store_ts_get(struct store *s, const char *id_or_name, struct store_task_sequence *out,
		 struct pp_error *err) PP_WARN_UNUSED;
int store_ts_list(struct store *s, struct store_task_sequence **out, size_t *count,
		  struct pp_error *err) PP_WARN_UNUSED;
/* The steps of task sequence id (an id), in order; *out malloc'd (free()). */
int store_ts_steps(struct store *s, const char *id, struct store_ts_step **out, size_t *count,
		   struct pp_error *err) PP_WARN_UNUSED;
/* Adds step at position (1..count+1; 0: the end), after ts_step_check; package (id or name,
 * NULL or "" for none) is resolved into step->package_id. *position gets where it went; the
 * revision goes up. */
int store_ts_add_step(struct store *s, const char *id_or_name, const struct ts_step *step,
		      const char *package, int *position, struct pp_error *err) PP_WARN_UNUSED;
/* Removes the step at position; the later ones move up; the revision goes up. */
int store_ts_remove_step(struct store *s, const char *id_or_name, int position,
			 struct pp_error *err) PP_WARN_UNUSED;
/* Refused while it is deployed (the collection named); its runs go with it. */
int store_ts_delete(struct store *s, const char *id_or_name, struct pp_error *err) PP_WARN_UNUSED;
/* Deploys a task sequence with at least one step to a collection (id or name) from
 * available_at (>= 0); a second deployment to one collection is ERROR_ALREADY_EXISTS. */
int store_ts_deploy(struct store *s, const char *id_or_name, const char *collection,
		    int64_t available_at, struct store_ts_deployment *out,
		    struct pp_error *err) PP_WARN_UNUSED;
int store_ts_undeploy(struct store *s, const char *id_or_name, const char *collection,
		      struct pp_error *err) PP_WARN_UNUSED;
/* Deployments of task sequence id (NULL: all), by id; *out malloc'd (free()). */
int store_ts_deployments(struct store *s, const char *id, struct store_ts_deployment **out,
			 size_t *count, struct pp_error *err) PP_WARN_UNUSED;
/* The deployments whose collection holds device_id (All Systems: every device), by id. */
int store_ts_deployments_for_device(struct store *s, const char *device_id,
				    struct store_ts_deployment **out, size_t *count,
				    struct pp_error *err) PP_WARN_UNUSED;
/* Records what device_id reports about a run (run->steps, 1..TS_STEPS_MAX results with
 * positions 1..n): see enum store_ts_report_outcome. A run id another device reported is
 * E_INVALIDARG. run->device_id and received_at are set here. */
int store_ts_run_report(struct store *s, const char *device_id, const struct store_ts_run *run,
			enum store_ts_report_outcome *outcome, struct pp_error *err) PP_WARN_UNUSED;
/* Every run of task sequence id with its steps, newest start first; free with
 * store_ts_runs_free. */
int store_ts_runs(struct store *s, const char *id, struct store_ts_run **out, size_t *count,
		  struct pp_error *err) PP_WARN_UNUSED;
void store_ts_runs_free(struct store_ts_run *runs, size_t count);

/* Primitive operations of a backend for the calls above (as struct store_ops). id_or_name
 * lookups match the id exactly or the name in any case. */
struct store_ts_ops {
	/* The largest id with this 3-character prefix in the shared sequence, "" when none. */
	int (*id_last)(void *impl, const char *prefix, char out[TS_ID_LEN + 1],
		       struct pp_error *err);
	int (*id_claim)(void *impl, const char *id, struct pp_error *err);
	int (*package_get)(void *impl, const char *id_or_name, struct store_package *out,
			   bool *found, struct pp_error *err);
	int (*package_list)(void *impl, struct store_package **out, size_t *count,
			    struct pp_error *err);
	int (*package_files)(void *impl, const char *id, struct store_package_file **out,
			     size_t *count, struct pp_error *err);
	/* Insert (created_at == updated_at) or update name, version, source_version, updated_at. */
	int (*package_put)(void *impl, const struct store_package *p, bool insert,
			   struct pp_error *err);
	int (*package_files_replace)(void *impl, const char *id,
				     const struct store_package_file *files, size_t count,
				     struct pp_error *err);
	int (*package_delete)(void *impl, const char *id, struct pp_error *err);
	/* The first task sequence step that uses package id ("step 2 of task sequence \"X\""),
	 * "" when none. */
	int (*package_user)(void *impl, const char *id, char *out, size_t size,
			    struct pp_error *err);
	int (*package_sha1_used)(void *impl, const char *sha1, bool *used, struct pp_error *err);
	int (*ts_get)(void *impl, const char *id_or_name, struct store_task_sequence *out,
		      bool *found, struct pp_error *err);
	int (*ts_list)(void *impl, struct store_task_sequence **out, size_t *count,
		       struct pp_error *err);
	int (*ts_steps)(void *impl, const char *id, struct store_ts_step **out, size_t *count,
			struct pp_error *err);
	/* Insert, or update revision and updated_at. */
	int (*ts_put)(void *impl, const struct store_task_sequence *t, bool insert,
		      struct pp_error *err);
	int (*ts_steps_replace)(void *impl, const char *id, const struct store_ts_step *steps,
				size_t count, struct pp_error *err);
	int (*ts_delete)(void *impl, const char *id, struct pp_error *err);
	int (*dep_insert)(void *impl, struct store_ts_deployment *d, struct pp_error *err);
	int (*dep_delete)(void *impl, const char *ts_id, const char *collection_id, bool *found,
			  struct pp_error *err);
	int (*dep_list)(void *impl, const char *ts_id, struct store_ts_deployment **out,
			size_t *count, struct pp_error *err);
	int (*dep_for_device)(void *impl, const char *device_id, struct store_ts_deployment **out,
			      size_t *count, struct pp_error *err);
	/* The stored run (steps not read), *found false when none. */
	int (*run_get)(void *impl, const char *run_id, struct store_ts_run *out, bool *found,
		       struct pp_error *err);
	/* Insert or replace the run and all its steps. */
	int (*run_put)(void *impl, const struct store_ts_run *r, struct pp_error *err);
	int (*run_list)(void *impl, const char *ts_id, struct store_ts_run **out, size_t *count,
			struct pp_error *err);
};

/* Wraps a backend; takes ownership of impl (closed through ops->close, also on failure). */
struct store *store_new(const struct store_ops *ops, void *impl, struct pp_error *err);

/* ---- group policy objects (migration 0006, store_gpo.c; docs/internals/gpo.md) ----
 *
 * A GPO is what a domain's SYSVOL folder {GUID}/ holds for the machine: certificates for the
 * Root and TrustedPublisher policy stores and policy values (its Machine/Registry.pol, built by
 * gpo.h), with the GPT.INI version bumped by every change. GPOs are linked to collections (our
 * stand-in for OUs) with a link order per collection, 1 the highest precedence. Every change
 * runs in one transaction and is refused whole: E_INVALIDARG for bad input, CRYPT_E_NOT_FOUND
 * for an unknown GPO, collection, certificate or link, ERROR_ALREADY_EXISTS for a duplicate. */

#define STORE_GPO_ID_LEN      38      /* "{6AC1786C-016F-11D2-945F-00C04FB984F9}" */
#define STORE_GPO_STORE_MAX   20      /* "TrustedPublisher" with the NUL */
#define STORE_GPO_POLICY_MAX  64      /* a policy value's name with the NUL */
#define STORE_GPO_CERTS_MAX   256     /* certificates in one GPO, all stores */
#define STORE_GPO_LINKS_MAX   256     /* links on one collection */
#define STORE_GPO_MACHINE_MAX 0xFFFFu /* the machine half of a GPT.INI version */

struct store_gpo {
	char id[STORE_GPO_ID_LEN + 1]; /* upper-case GUID in braces */
	char name[STORE_NAME_MAX];     /* unique, any case */
	uint32_t version;	       /* GPT.INI Version: user << 16 | machine (user is 0 here) */
	int64_t created_at, updated_at;
};

/* A certificate a GPO deploys into one policy store. */
struct store_gpo_cert {
	char store[STORE_GPO_STORE_MAX]; /* "Root" or "TrustedPublisher" */
	char thumbprint[STORE_THUMBPRINT_LEN + 1];
	char subject[STORE_SUBJECT_MAX];
	int64_t not_after;
	uint8_t *der; /* owned: store_gpo_certs_free */
	size_t der_len;
	int64_t added_at;
};

/* A policy value a GPO sets (REG_DWORD). */
struct store_gpo_value {
	char name[STORE_GPO_POLICY_MAX]; /* "AcceptTrustedPublisherCerts" */
	uint32_t value;
};

struct store_gpo_link {
	char gpo_id[STORE_GPO_ID_LEN + 1];
	char gpo_name[STORE_NAME_MAX];
	uint32_t gpo_version;
	char collection_id[STORE_COLLECTION_ID_LEN + 1];
	char collection_name[STORE_NAME_MAX];
	int64_t link_order; /* 1..n within the collection, 1 the highest precedence */
	int64_t created_at;
};

/* One GPO whole, read in one transaction (a consistent snapshot); free with
 * store_gpo_contents_free. */
struct store_gpo_contents {
	struct store_gpo gpo;
	struct store_gpo_cert *certs; /* by store then thumbprint */
	size_t ncerts;
	struct store_gpo_value *values; /* by name */
	size_t nvalues;
	struct store_gpo_link *links; /* by collection id */
	size_t nlinks;
};

/* A new, empty GPO named name (version 0, a fresh GUID). Refused: an empty, over-long or
 * control-character name, one with '/', one written as a GUID in braces, one in use (any case). */
int store_gpo_create(struct store *s, const char *name, struct store_gpo *out,
		     struct pp_error *err) PP_WARN_UNUSED;

/* A GPO by id (either case, braces required) or name (any case). */
int store_gpo_get(struct store *s, const char *id_or_name, struct store_gpo *out,
		  struct pp_error *err) PP_WARN_UNUSED;

/* Every GPO by name; *out malloc'd (NULL when none), free() it. */
int store_gpo_list(struct store *s, struct store_gpo **out, size_t *count,
		   struct pp_error *err) PP_WARN_UNUSED;

/* The GPO with its certificates, values and links. */
int store_gpo_read(struct store *s, const char *id_or_name, struct store_gpo_contents *out,
		   struct pp_error *err) PP_WARN_UNUSED;
void store_gpo_contents_free(struct store_gpo_contents *c);

/* Deletes a GPO with its contents and links. */
int store_gpo_delete(struct store *s, const char *id_or_name, struct pp_error *err) PP_WARN_UNUSED;

/* Adds the certificate der (one DER X.509 certificate, nothing after it) to store ("Root" or
 * "TrustedPublisher", any case) of the GPO and bumps its version; out (may be NULL) gets the
 * GPO after the change. Refused: another store name, bytes that are not one certificate, a
 * certificate already in that store of the GPO, more than STORE_GPO_CERTS_MAX. */
int store_gpo_cert_add(struct store *s, const char *id_or_name, const char *store,
		       const uint8_t *der, size_t der_len, struct store_gpo *out,
		       struct pp_error *err) PP_WARN_UNUSED;

/* Removes the certificate with thumbprint (any case, spaces or colons allowed) from store of
 * the GPO and bumps its version. CRYPT_E_NOT_FOUND when it is not there. */
int store_gpo_cert_remove(struct store *s, const char *id_or_name, const char *store,
			  const char *thumbprint, struct pp_error *err) PP_WARN_UNUSED;

/* Sets policy value name (gpo.h knows "AcceptTrustedPublisherCerts", any case) to value (0 or
 * 1); the version is bumped only when the GPO did not already set that value (*changed, may
 * be NULL, tells). */
int store_gpo_value_set(struct store *s, const char *id_or_name, const char *name, uint32_t value,
			bool *changed, struct store_gpo *out, struct pp_error *err) PP_WARN_UNUSED;

/* Takes policy value name out of the GPO ("Not Configured") and bumps its version.
 * CRYPT_E_NOT_FOUND when the GPO does not set it. */
int store_gpo_value_clear(struct store *s, const char *id_or_name, const char *name,
			  struct store_gpo *out, struct pp_error *err) PP_WARN_UNUSED;

/* Links the GPO to a collection (by id or name) at link order order (1..n+1; 0 = n+1, the
 * lowest precedence, as GPMC adds a link); the links at that order and after move down by one.
 * Linking does not change the GPO's version (the link belongs to the collection, as gPLink
 * belongs to an OU). Refused: linked there already, an order beyond n + 1. */
int store_gpo_link(struct store *s, const char *id_or_name, const char *collection, int64_t order,
		   struct store_gpo_link *out, struct pp_error *err) PP_WARN_UNUSED;

/* Takes the link away; the links after it move up. CRYPT_E_NOT_FOUND when not linked there. */
int store_gpo_unlink(struct store *s, const char *id_or_name, const char *collection,
		     struct pp_error *err) PP_WARN_UNUSED;

/* Every link (of gpo_id only, when not NULL), by collection id then link order; *out
 * malloc'd, free() it. */
int store_gpo_links(struct store *s, const char *gpo_id, struct store_gpo_link **out, size_t *count,
		    struct pp_error *err) PP_WARN_UNUSED;

/* The GPOs that apply to a device, in the order they are applied (gpo.h
 * gpo_application_order): *out malloc'd, free() it. */
int store_device_gpos(struct store *s, const char *device_id, struct store_gpo_link **out,
		      size_t *count, struct pp_error *err) PP_WARN_UNUSED;

void store_gpo_certs_free(struct store_gpo_cert *certs, size_t count);

/* The backend's GPO primitives (for backends only; store_ops.gpo points at them). Same
 * conventions as struct store_ops. */
struct store_gpo_ops {
	int (*insert)(void *impl, const struct store_gpo *g, struct pp_error *err);
	int (*get)(void *impl, const char *id_or_name, struct store_gpo *out, bool *found,
		   struct pp_error *err);
	int (*list)(void *impl, struct store_gpo **out, size_t *count, struct pp_error *err);
	int (*remove)(void *impl, const char *id, struct pp_error *err);
	int (*set_version)(void *impl, const char *id, uint32_t version, int64_t now,
			   struct pp_error *err);
	int (*cert_insert)(void *impl, const char *id, const struct store_gpo_cert *c,
			   struct pp_error *err);
	int (*cert_delete)(void *impl, const char *id, const char *store, const char *thumbprint,
			   bool *found, struct pp_error *err);
	int (*cert_list)(void *impl, const char *id, struct store_gpo_cert **out, size_t *count,
			 struct pp_error *err);
	int (*value_put)(void *impl, const char *id, const struct store_gpo_value *v,
			 struct pp_error *err);
	int (*value_list)(void *impl, const char *id, struct store_gpo_value **out, size_t *count,
			  struct pp_error *err);
	int (*value_delete)(void *impl, const char *id, const char *name, bool *found,
			    struct pp_error *err);
	int (*link_insert)(void *impl, const struct store_gpo_link *l, struct pp_error *err);
	int (*link_delete)(void *impl, const char *id, const char *collection_id, bool *found,
			   struct pp_error *err);
	int (*link_set_order)(void *impl, const char *id, const char *collection_id, int64_t order,
			      struct pp_error *err);
	/* Links of one GPO (id) or all (NULL), by collection id then link order, names joined. */
	int (*link_list)(void *impl, const char *id, struct store_gpo_link **out, size_t *count,
			 struct pp_error *err);
};

/* ---- configuration items and baselines (migration 0008, store_ci.c, store_sqlite_ci.c) ----
 *
 * Configuration items (a certificate that must be in stores, or a script with an expected
 * value), baselines of them, their deployments to collections and what devices report
 * (docs/internals/configuration-items.md). Names are unique whatever their case. Refused with
 * E_INVALIDARG: bad names, values, stores, limits, an item in a baseline being deleted, a
 * deployed baseline being deleted or emptied, an empty baseline deployed. Unknown items,
 * baselines, collections and certificates: CRYPT_E_NOT_FOUND. Duplicates: ERROR_ALREADY_EXISTS. */

#include "configitem.h"

#define STORE_CI_REPORT_BATCH_MAX 64 /* reports in one store_baseline_reports_add */

/* One configuration item. The allocated fields belong to the record: store_ci_clear. */
struct store_ci {
	int64_t id;
	char name[STORE_NAME_MAX];
	enum configitem_kind kind;
	int64_t revision; /* 1 when made, one more for each change */
	/* kind certificate */
	char thumbprint[STORE_THUMBPRINT_LEN + 1];
	char subject[STORE_SUBJECT_MAX];
	uint8_t *der; /* owned */
	size_t der_len;
	unsigned stores; /* CONFIGITEM_STORE_* bits */
	/* kind script */
	char *discovery;   /* owned */
	char *remediation; /* owned; NULL: none */
	enum configitem_type data_type;
	char expected[CONFIGITEM_VALUE_MAX + 1]; /* canonical (configitem_value_normalize) */
	int64_t timeout_seconds;
	int64_t baseline_count; /* derived: baselines that hold it */
	int64_t created_at, updated_at;
};

/* What store_ci_create takes. Kind certificate: der (DER or NULL) or, without it, thumbprint of
 * a certificate in Certificates; stores (CONFIGITEM_STORE_* bits, at least one). Kind script:
 * discovery, remediation (NULL: none), data_type, expected (any spelling of the type, stored
 * canonical), timeout_seconds (0: CONFIGITEM_TIMEOUT_DEFAULT). */
struct store_ci_spec {
	const char *name;
	enum configitem_kind kind;
	const uint8_t *der;
	size_t der_len;
	const char *thumbprint;
	unsigned stores;
	const char *discovery;
	size_t discovery_len;
	const char *remediation;
	size_t remediation_len;
	enum configitem_type data_type;
	const char *expected;
	int64_t timeout_seconds;
};

/* What store_ci_change changes: only the fields marked set; the kind stays. */
struct store_ci_change {
	bool set_stores, set_discovery, set_remediation, set_type, set_expected, set_timeout;
	unsigned stores;
	const char *discovery;
	size_t discovery_len;
	const char *remediation; /* NULL with set_remediation: remove the remediation script */
	size_t remediation_len;
	enum configitem_type data_type;
	const char *expected;
	int64_t timeout_seconds;
};

struct store_baseline {
	int64_t id;
	char name[STORE_NAME_MAX];
	int64_t revision; /* 1 when made, one more each time its list of items changes */
	int64_t item_count, deployment_count; /* derived */
	int64_t created_at, updated_at;
};

/* An item of a baseline, in the baseline's order. */
struct store_baseline_item {
	int64_t item_id;
	char name[STORE_NAME_MAX];
	enum configitem_kind kind;
	int64_t revision;
};

struct store_baseline_deployment {
	int64_t id;
	int64_t baseline_id;
	char baseline_name[STORE_NAME_MAX]; /* filled by the lists */
	char collection_id[STORE_COLLECTION_ID_LEN + 1];
	char collection_name[STORE_NAME_MAX]; /* filled by the lists */
	bool remediate;
	int64_t schedule_hours;
	int64_t created_at;
};

/* One item's result in a report. */
struct store_ci_result {
	int64_t item_id;
	int64_t item_revision;
	enum configitem_state state; /* never CONFIGITEM_UNKNOWN */
	bool has_hresult;
	uint32_t hresult;
	bool has_exit_code;
	int64_t exit_code;
	char detail[CONFIGITEM_DETAIL_MAX + 1];
};

/* One evaluation of one baseline on one device. */
struct store_baseline_report {
	char id[37]; /* a UUID the agent made */
	int64_t time;
	int64_t baseline_id;
	int64_t baseline_revision;
	const struct store_ci_result *results;
	size_t count; /* at most CONFIGITEM_BASELINE_ITEMS_MAX */
};

/* One device and one item of a baseline in a compliance report: the item's result in the
 * device's latest report of the baseline, CONFIGITEM_UNKNOWN when there is none. */
struct store_ci_compliance {
	char device_id[STORE_DEVICE_ID_LEN + 1];
	char device_name[STORE_NAME_MAX];
	int64_t report_time;	   /* 0: the device has not reported the baseline */
	int64_t baseline_revision; /* of that report, 0 for none */
	int64_t item_id;
	char item_name[STORE_NAME_MAX];
	enum configitem_state state;
	int64_t item_revision; /* evaluated, 0 for unknown */
	bool has_hresult;
	uint32_t hresult;
	bool has_exit_code;
	int64_t exit_code;
	char detail[CONFIGITEM_DETAIL_MAX + 1];
};

/* Frees what a record owns and zeroes it; NULL is a no-op. */
void store_ci_clear(struct store_ci *ci);
void store_ci_list_free(struct store_ci *list, size_t count);

/* Makes a configuration item with revision 1 (see struct store_ci_spec); out receives it. A DER
 * that is not one X.509 certificate, an unknown thumbprint, no store or one other than Root and
 * TrustedPublisher, Root for a certificate that is not self-signed, a bad script, type, expected
 * value or time limit: refused. */
int store_ci_create(struct store *s, const struct store_ci_spec *spec, struct store_ci *out,
		    struct pp_error *err) PP_WARN_UNUSED;

/* By name (any case); CRYPT_E_NOT_FOUND 'configuration item "X" does not exist'. */
int store_ci_get(struct store *s, const char *name, struct store_ci *out,
		 struct pp_error *err) PP_WARN_UNUSED;

/* Every item by name; free with store_ci_list_free. */
int store_ci_list(struct store *s, struct store_ci **out, size_t *count,
		  struct pp_error *err) PP_WARN_UNUSED;

/* Changes an item (the fields marked set, each checked as store_ci_create checks it); the
 * revision moves by one when anything differs. *out is the item afterwards (may be NULL). */
int store_ci_change(struct store *s, const char *name, const struct store_ci_change *chg,
		    struct store_ci *out, struct pp_error *err) PP_WARN_UNUSED;

/* Deletes an item that no baseline holds. */
int store_ci_delete(struct store *s, const char *name, struct pp_error *err) PP_WARN_UNUSED;

/* Makes a baseline of the items named (in that order, none twice; may be none). */
int store_baseline_create(struct store *s, const char *name, const char *const *items, size_t count,
			  struct store_baseline *out, struct pp_error *err) PP_WARN_UNUSED;

/* By name (any case); CRYPT_E_NOT_FOUND 'configuration baseline "X" does not exist'. */
int store_baseline_get(struct store *s, const char *name, struct store_baseline *out,
		       struct pp_error *err) PP_WARN_UNUSED;
int store_baseline_list(struct store *s, struct store_baseline **out, size_t *count,
			struct pp_error *err) PP_WARN_UNUSED;
/* The items of baseline id, in order; *out malloc'd (free()). */
int store_baseline_items(struct store *s, int64_t id, struct store_baseline_item **out,
			 size_t *count, struct pp_error *err) PP_WARN_UNUSED;

/* Adds an item at the end / removes one; the baseline's revision moves by one. An item already
 * there (ERROR_ALREADY_EXISTS) or not there (CRYPT_E_NOT_FOUND) is refused, and so is removing
 * the last item of a deployed baseline. */
int store_baseline_add_item(struct store *s, const char *name, const char *item,
			    struct pp_error *err) PP_WARN_UNUSED;
int store_baseline_remove_item(struct store *s, const char *name, const char *item,
			       struct pp_error *err) PP_WARN_UNUSED;

/* Deletes a baseline that is not deployed, with the reports of it. */
int store_baseline_delete(struct store *s, const char *name, struct pp_error *err) PP_WARN_UNUSED;

/* Deploys a baseline with items to a collection (by id or name), with remediation or not and
 * an evaluation schedule of schedule_hours (0: CONFIGITEM_SCHEDULE_HOURS_DEFAULT); *out (may be
 * NULL) receives the deployment. Twice to one collection: ERROR_ALREADY_EXISTS. */
int store_baseline_deploy(struct store *s, const char *name, const char *collection, bool remediate,
			  int64_t schedule_hours, struct store_baseline_deployment *out,
			  struct pp_error *err) PP_WARN_UNUSED;
int store_baseline_undeploy(struct store *s, const char *name, const char *collection,
			    struct pp_error *err) PP_WARN_UNUSED;

/* Deployments of baseline id (0: of every baseline), by baseline name then collection id. */
int store_baseline_deployments(struct store *s, int64_t id, struct store_baseline_deployment **out,
			       size_t *count, struct pp_error *err) PP_WARN_UNUSED;

/* The deployments that target device_id (a member of their collection; All Systems is every
 * device), by baseline name then collection id. */
int store_device_baseline_deployments(struct store *s, const char *device_id,
				      struct store_baseline_deployment **out, size_t *count,
				      struct pp_error *err) PP_WARN_UNUSED;

/* Records up to STORE_CI_REPORT_BATCH_MAX reports of one device in one transaction. A report
 * whose id is recorded already counts in *duplicates; one of a baseline that no longer exists
 * in *ignored (its results are of nothing left to show); results of items the baseline no longer
 * holds are dropped. The latest report of a baseline (by time) is the device's state of it. */
int store_baseline_reports_add(struct store *s, const char *device_id,
			       const struct store_baseline_report *reports, size_t count,
			       size_t *accepted, size_t *duplicates, size_t *ignored,
			       struct pp_error *err) PP_WARN_UNUSED;

/* Every targeted or reporting device crossed with every item of baseline id, by device name
 * then the baseline's order; *out malloc'd (free()). */
int store_baseline_compliance(struct store *s, int64_t id, struct store_ci_compliance **out,
			      size_t *count, struct pp_error *err) PP_WARN_UNUSED;

/* The backend's primitives for the functions above (see struct store_ops). */
struct store_ci_ops {
	int (*ci_insert)(void *impl, struct store_ci *ci, struct pp_error *err);
	/* By name (any case); the scripts and DER allocated into out. */
	int (*ci_get)(void *impl, const char *name, struct store_ci *out, bool *found,
		      struct pp_error *err);
	int (*ci_list)(void *impl, struct store_ci **out, size_t *count, struct pp_error *err);
	/* Writes every field of ci (by id). */
	int (*ci_update)(void *impl, const struct store_ci *ci, struct pp_error *err);
	int (*ci_delete)(void *impl, int64_t id, struct pp_error *err);
	/* The name of a baseline holding item id, "" when none. */
	int (*ci_referrer)(void *impl, int64_t id, char *out, size_t size, struct pp_error *err);
	int (*baseline_insert)(void *impl, struct store_baseline *b, struct pp_error *err);
	int (*baseline_get)(void *impl, const char *name, int64_t id, struct store_baseline *out,
			    bool *found, struct pp_error *err);
	int (*baseline_list)(void *impl, struct store_baseline **out, size_t *count,
			     struct pp_error *err);
	int (*baseline_touch)(void *impl, int64_t id, int64_t revision, int64_t now,
			      struct pp_error *err);
	int (*baseline_delete)(void *impl, int64_t id, struct pp_error *err);
	int (*item_insert)(void *impl, int64_t baseline_id, int64_t item_id, struct pp_error *err);
	int (*item_delete)(void *impl, int64_t baseline_id, int64_t item_id, bool *found,
			   struct pp_error *err);
	int (*items)(void *impl, int64_t baseline_id, struct store_baseline_item **out,
		     size_t *count, struct pp_error *err);
	int (*deployment_insert)(void *impl, struct store_baseline_deployment *d,
				 struct pp_error *err);
	int (*deployment_delete)(void *impl, int64_t baseline_id, const char *collection_id,
				 bool *found, struct pp_error *err);
	/* Of baseline_id (0: all) or, device_id not NULL, those targeting that device. */
	int (*deployments)(void *impl, int64_t baseline_id, const char *device_id,
			   struct store_baseline_deployment **out, size_t *count,
			   struct pp_error *err);
	/* *inserted false when the id is recorded already; *known false (nothing written) for a
	 * baseline that does not exist. */
	int (*report_insert)(void *impl, const char *device_id,
			     const struct store_baseline_report *r, int64_t now, bool *inserted,
			     bool *known, struct pp_error *err);
	int (*compliance)(void *impl, int64_t baseline_id, struct store_ci_compliance **out,
			  size_t *count, struct pp_error *err);
};

#endif
