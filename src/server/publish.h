/* publish.h - publishing third-party updates on the software update point (DESIGN 5.4): the
 * content an administrator supplies is checked (the catalog's OriginFile digest and size, the
 * vendor's signature and its approval in Certificates), packed into a CAB that is signed while
 * it is written with the WSUS signing certificate held by the signer process, stored
 * content-addressed, and recorded with its SHA-1, SHA-256 and size for the update's current
 * revision. Nothing unsigned enters the catalog. */
#ifndef PATCHPOINT_PUBLISH_H
#define PATCHPOINT_PUBLISH_H

#include "content.h"
#include "error.h"
#include "signer.h"
#include "signstore.h"
#include "srvlog.h"
#include "store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PUBLISH_FILES_MAX 64

/* The exact messages of DESIGN 5.4 / windows-behaviour 2.4 (11516). */
#define PUBLISH_NO_CERTIFICATE "No certificate found in the WSUS store on this server"

/* Error codes the API maps to statuses. */
#define PUBLISH_E_NO_CERTIFICATE HR_NTE_NOT_FOUND		/* 409 no_signing_certificate */
#define PUBLISH_E_UNSIGNED	 HR_TRUST_E_NOSIGNATURE		/* 422 content_unsigned */
#define PUBLISH_E_NOT_APPROVED	 HR_TRUST_E_SUBJECT_NOT_TRUSTED /* 422 signer_not_approved */
#define PUBLISH_E_MISMATCH	 HR_WU_E_DM_INCORRECTFILEHASH	/* 422 content_mismatch */
#define PUBLISH_E_IMMUTABLE	 HR_ERROR_ALREADY_EXISTS	/* 409 content_immutable */

/* What publishing uses; every member borrowed. */
struct publish_env {
	struct store *store;	       /* the site database (this thread's connection) */
	struct signstore *signstore;   /* the local SUP's signing store */
	struct signer *signer;	       /* its signer process, which signs the CAB digest */
	struct content_store *content; /* WSUSContent */
	struct srvlog *sdist_log;      /* SoftwareDistribution.log */
	struct srvlog *isv_log;	       /* SMS_ISVUPDATES_SYNCAGENT.log */
};

/* One content file: its name inside the CAB and where its bytes are (a completed upload), with
 * the digests the upload computed as it arrived (has_digests) so that they are not read again. */
struct publish_file {
	const char *name;
	const char *path; /* NULL for a file in a cabinet upload */
	bool has_digests;
	uint8_t sha1[20];
	uint8_t sha256[32];
	uint64_t size;
	/* A cabinet upload (upload_create_cabinet) holding the file, in upload_dir: published
	 * alone under its name in the cabinet, the upload is signed in place and becomes the
	 * content; otherwise the file is copied out of it and packed. NULL for other files. */
	const char *upload_dir, *cabinet_upload, *cabinet_name;
};

/* The length of the signature publishing would put on a cabinet now (what a cabinet upload
 * reserves); -1 with PUBLISH_E_NO_CERTIFICATE when there is no usable signing certificate. For
 * upload_api_options.signature_length: ctx is the signstore. */
int publish_signature_length(void *signstore, uint32_t *length, struct pp_error *err);

/* An administrator's own update (patchpoint publish --new). */
struct publish_custom {
	const char *title, *vendor, *product, *version;
	const char *description;    /* NULL: "<title> <version>" */
	const char *classification; /* NULL: "Updates" */
	const char *program,
	    *arguments; /* the command line run from the CAB; arguments may be NULL */
};

struct publish_result {
	struct store_update update;	     /* after publishing */
	struct store_update_content content; /* of update.revision */
	char url_path[96];		     /* "/Content/XX/SHA1.cab", "" for metadata only */
	bool already;			   /* the same content was published before: nothing done */
	char detail[PP_ERROR_MESSAGE_MAX]; /* on a refusal: the reason behind the message */
};

/* Publishes files as the content of the current revision of update id (metadata_only: none, and
 * files must be empty). For an update from a catalog every OriginFile must be among files, with
 * its size and SHA-1, and nothing else; content signed by a vendor (a signed CAB) must verify and
 * its signer be approved and not blocked in Certificates (it is added there, unapproved, the
 * first time); other content counts as unsigned and is refused unless the catalog allows
 * unsigned content. Publishing again what the revision already has is not an error
 * (res->already); other content for the same revision is PUBLISH_E_IMMUTABLE. */
int publish_update(const struct publish_env *env, const char *id, const struct publish_file *files,
		   size_t count, bool metadata_only, struct publish_result *res,
		   struct pp_error *err) PP_WARN_UNUSED;

/* Creates an administrator's update (a new GUID, catalog "") from c with one installable item
 * whose OriginFiles are files, then publishes files as its content. The update is only created
 * when publishing succeeds. */
int publish_new_update(const struct publish_env *env, const struct publish_custom *c,
		       const struct publish_file *files, size_t count, struct publish_result *res,
		       struct pp_error *err) PP_WARN_UNUSED;

#endif
