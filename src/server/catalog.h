/* catalog.h - third-party update catalogs on the site: importing an SDP or a SCUP catalog into
 * the site database in one transaction, exporting updates back to a catalog, and the JSON of an
 * update for the API. The XML itself is sdp.h's; the rows are store.h's. */
#ifndef PATCHPOINT_CATALOG_H
#define PATCHPOINT_CATALOG_H

#include "error.h"
#include "sdp.h"
#include "store.h"

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#define CATALOG_SKIPS_KEPT 1000 /* skip records a result lists; more are only counted */

struct catalog_import_result {
	char catalog[STORE_NAME_MAX];
	unsigned packages;  /* read from the input, skipped ones included */
	unsigned imported;  /* new updates */
	unsigned updated;   /* known updates whose SDP changed: a new revision */
	unsigned unchanged; /* known updates with the same SDP */
	unsigned skipped;
	size_t skip_count; /* <= CATALOG_SKIPS_KEPT */
	struct sdp_skip *skips;
};

/* Progress of a long import: packages read so far and input bytes consumed. */
typedef void (*catalog_progress_fn)(void *ctx, unsigned packages, uint64_t consumed);

/* Imports every package r yields into catalog name (created when new; allow_unsigned_content
 * is set on it) inside one transaction: a malformed input, a database failure or anything
 * else that stops the import leaves the database as it was. Packages that cannot be imported
 * are skipped with a reason (sdp.h's, or: the PackageID belongs to another catalog or to an
 * administrator's update, appears twice in the input, a field is too long for the database).
 * res is filled on success; free its skips with catalog_import_result_clear. */
int catalog_import(struct store *s, struct sdp_reader *r, const char *name,
		   bool allow_unsigned_content, catalog_progress_fn progress, void *progress_ctx,
		   struct catalog_import_result *res, struct pp_error *err) PP_WARN_UNUSED;

void catalog_import_result_clear(struct catalog_import_result *res);

/* The store row of a package for catalog name ("" for an administrator's own update): summary
 * fields, its canonical SDP (*xml malloc'd, the caller frees it) and the SHA-256 of that.
 * Revision and state are left to the caller. E_INVALIDARG naming the field that does not fit. */
int catalog_update_row(const struct sdp_package *p, const char *name, struct store_update *u,
		       char **xml, size_t *len, struct pp_error *err) PP_WARN_UNUSED;

/* Writes the updates matching filter as one smc:SystemsManagementCatalog; *count receives how
 * many. */
int catalog_export(struct store *s, const struct store_update_filter *filter, sdp_write_fn write,
		   void *ctx, unsigned *count, struct pp_error *err) PP_WARN_UNUSED;

/* {"id","revision","title","vendor","product","classification","severity","kb","catalog",
 * "state","creation_date","created_at","updated_at"}: one row of a list. NULL when out of
 * memory. */
json_t *catalog_update_summary_json(const struct store_update *u);

/* The summary plus what the SDP says: description, languages, KB/bulletin/CVE ids, superseded
 * packages, rules present, and per installable item its handler (program, arguments, return
 * codes) and origin files (name, size, SHA-1 digest in base64 and hex, URI). */
json_t *catalog_update_json(const struct store_update *u, const struct sdp_package *p);

#endif
