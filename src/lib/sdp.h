/* sdp.h - the Software Distribution Package (SDP) model of a third-party update, its XML import
 * from single SDP files and SCUP catalogs (smc:SystemsManagementCatalog), and export back to SDP.
 *
 * The namespaces and element tree are in ../shared/reference/formats.md section 3 and
 * docs/formats/sdp.md. What patchpoint reads and acts on is typed below (properties, titles,
 * classification, the command-line handler with its return codes, origin files); what it carries
 * without evaluating (applicability rules, other handlers, elements it does not know) is kept as
 * self-contained XML fragments and written back unchanged, so an import -> export -> import round
 * trip loses nothing. The reader streams: one package is in memory at a time, however large the
 * catalog. No global state; libxml2 does the XML.
 */
#ifndef PATCHPOINT_SDP_H
#define PATCHPOINT_SDP_H

#include "error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SDP_NS                                                                                     \
	"http://schemas.microsoft.com/wsus/2005/04/CorporatePublishing/"                           \
	"SoftwareDistributionPackage.xsd"
#define SDP_CMD_NS                                                                                 \
	"http://schemas.microsoft.com/wsus/2005/04/CorporatePublishing/Installers/"                \
	"CommandLineInstallation.xsd"
#define SDP_SMC_NS                                                                                 \
	"http://schemas.microsoft.com/sms/2005/04/CorporatePublishing/"                            \
	"SystemsManagementCatalog.xsd"

#define SDP_GUID_LEN	    36			      /* 8-4-4-4-12 hex digits */
#define SDP_TEXT_MAX	    (64u * 1024u)	      /* bytes of one attribute or text value */
#define SDP_FRAGMENT_MAX    (1024u * 1024u)	      /* bytes of one kept XML fragment */
#define SDP_PACKAGE_MAX	    (8u * 1024u * 1024u)      /* bytes of one package's XML */
#define SDP_INPUT_MAX	    (2048ull * 1024u * 1024u) /* decompressed bytes of one catalog */
#define SDP_ITEMS_MAX	    256			      /* installable items of a package */
#define SDP_LIST_MAX	    4096 /* entries of any other list (languages, return codes, ...) */
#define SDP_SKIP_REASON_MAX 256
#define SDP_SHA1_LEN	    20

/* An attribute patchpoint does not interpret, kept to be written back. */
struct sdp_attr {
	char *name; /* as written, with its prefix if any */
	char *value;
};

/* Element content patchpoint carries without interpreting: a well-formed XML fragment (one
 * element or a sequence) that declares every namespace it uses. */
struct sdp_fragments {
	size_t count;
	char **xml;
};

struct sdp_localized {
	char *language; /* "en" */
	char *title;
	char *description;	    /* NULL when absent */
	struct sdp_fragments other; /* UninstallNotes, MoreInfoUrl, ... */
};

enum sdp_result { SDP_RESULT_SUCCEEDED = 0, SDP_RESULT_FAILED = 1, SDP_RESULT_CANCELLED = 2 };

/* cmd:ReturnCode: an installer exit code and what it means. */
struct sdp_return_code {
	int64_t code;
	enum sdp_result result;
	bool reboot;
};

/* cmd:CommandLineInstallerData. */
struct sdp_command_line {
	char *program;	 /* relative path inside the content */
	char *arguments; /* NULL when absent */
	enum sdp_result default_result;
	bool reboot_by_default;
	size_t return_code_count;
	struct sdp_return_code *return_codes;
	size_t attr_count;
	struct sdp_attr *attrs; /* other attributes */
};

/* sdp:OriginFile: where the content comes from and what it must be. */
struct sdp_origin_file {
	char *file_name; /* a plain file name, no directory */
	uint64_t size;
	uint8_t sha1[SDP_SHA1_LEN]; /* the Digest attribute, base64 in the XML */
	char *modified;		    /* xs:dateTime as written, NULL when absent */
	char *origin_uri;	    /* NULL when absent */
	size_t attr_count;
	struct sdp_attr *attrs;
};

struct sdp_item {
	char id[SDP_GUID_LEN + 1];
	/* sdp:ApplicabilityRules children, each the inner XML of the rule (NULL when absent). */
	char *is_installed, *is_installable, *is_superseded, *rules_metadata;
	/* sdp:InstallProperties attributes, all of them, in document order. */
	size_t install_attr_count;
	struct sdp_attr *install_attrs;
	bool has_install_properties;
	/* The handler: a command line (typed), or another handler kept as a fragment. */
	struct sdp_command_line *command_line; /* NULL for other handlers */
	char *other_handler;		       /* msi:MsiInstallerData, ... or NULL */
	size_t origin_file_count;
	struct sdp_origin_file *origin_files;
	size_t language_count;
	char **languages;
	struct sdp_fragments other; /* UninstallProperties and unknown elements */
};

struct sdp_package {
	char *schema_version; /* "1.0", "1.2"; NULL when absent */
	size_t root_attr_count;
	struct sdp_attr *root_attrs;
	/* sdp:Properties */
	char package_id[SDP_GUID_LEN + 1]; /* lower-case */
	char *creation_date;		   /* xs:dateTime as written */
	char *vendor_name;
	char *product_name;
	char *more_info_url, *support_url; /* NULL when absent */
	size_t prop_attr_count;
	struct sdp_attr *prop_attrs; /* UpdateType, PublicationState, ... */
	struct sdp_fragments prop_other;
	size_t localized_count;
	struct sdp_localized *localized;
	/* sdp:UpdateSpecificData (has_update_data) */
	bool has_update_data;
	char *msrc_severity;	     /* NULL when absent */
	char *update_classification; /* "Updates", "Security Updates", ... NULL when absent */
	char *kb_article_id, *security_bulletin_id; /* NULL when absent */
	size_t cve_count;
	char **cve_ids;
	size_t update_attr_count;
	struct sdp_attr *update_attrs;
	/* Package-level rules, inner XML, NULL when absent. */
	char *is_installable, *is_installed;
	char *prerequisites; /* inner XML of sdp:Prerequisites, NULL when absent */
	size_t superseded_count;
	char **superseded;	    /* PackageIDs */
	struct sdp_fragments other; /* ApplicationSpecificData, HandlerSpecificData, unknown */
	size_t item_count;
	struct sdp_item *items;
};

/* Frees a package and everything it owns; NULL is a no-op. */
void sdp_package_free(struct sdp_package *p);

/* The title of the first localized property set (English first when there is one); never NULL. */
const char *sdp_package_title(const struct sdp_package *p);

/* "Succeeded", "Failed", "Cancelled"; parse accepts exactly those (-1 otherwise). */
const char *sdp_result_name(enum sdp_result r);
int sdp_result_parse(const char *name, enum sdp_result *out);

/* True when s is a GUID in 8-4-4-4-12 hex form, either case. */
bool sdp_guid_valid(const char *s);

/* Base64 of a SHA-1 (28 characters with the NUL: out must hold 29 bytes). */
void sdp_digest_base64(const uint8_t sha1[SDP_SHA1_LEN], char out[29]);

/* ---- reading ---- */

/* Supplies up to len bytes into buf: returns the count, 0 at the end, -1 on an error (with err). */
typedef ssize_t (*sdp_read_fn)(void *ctx, void *buf, size_t len, struct pp_error *err);

struct sdp_reader;

/* A streaming reader over input from read (gzip-compressed input is recognised by its magic and
 * inflated on the way). The input is a single sdp:SoftwareDistributionPackage or an
 * smc:SystemsManagementCatalog. DTDs and external entities are refused. Free with
 * sdp_reader_free. */
struct sdp_reader *sdp_reader_new(sdp_read_fn read, void *ctx, struct pp_error *err) PP_WARN_UNUSED;
/* The same over a file descriptor (not closed) or a memory buffer (borrowed until freed). */
struct sdp_reader *sdp_reader_new_fd(int fd, struct pp_error *err) PP_WARN_UNUSED;
struct sdp_reader *sdp_reader_new_memory(const void *data, size_t len,
					 struct pp_error *err) PP_WARN_UNUSED;
void sdp_reader_free(struct sdp_reader *r);

/* A package that is well-formed XML but cannot be imported, and why. */
struct sdp_skip {
	unsigned index;			   /* 1-based position in the input */
	char package_id[SDP_GUID_LEN + 1]; /* "" when it had none */
	char title[256];		   /* "" when it had none; cut to fit */
	char reason[SDP_SKIP_REASON_MAX];
};

enum sdp_next { SDP_NEXT_END = 0, SDP_NEXT_PACKAGE = 1, SDP_NEXT_SKIPPED = 2 };

/* Reads the next package: SDP_NEXT_PACKAGE with *out (the caller frees it), SDP_NEXT_SKIPPED with
 * *skip filled, SDP_NEXT_END after the last one, or -1 when the input is not a catalog or not
 * well-formed XML (err names the line); after -1 the reader is finished. */
int sdp_reader_next(struct sdp_reader *r, struct sdp_package **out, struct sdp_skip *skip,
		    struct pp_error *err) PP_WARN_UNUSED;

/* Compressed input bytes consumed so far (for progress), and whether the root was a catalog. */
uint64_t sdp_reader_consumed(const struct sdp_reader *r);
bool sdp_reader_is_catalog(const struct sdp_reader *r);

/* Parses exactly one package from memory (a standalone SDP, or a catalog of one). A skip reason
 * becomes an E_INVALIDARG error. */
struct sdp_package *sdp_package_parse(const void *xml, size_t len,
				      struct pp_error *err) PP_WARN_UNUSED;

/* ---- writing ---- */

/* The package as a standalone SDP document (UTF-8, sdp:SoftwareDistributionPackage root), in the
 * schema's element order. Deterministic: the same model gives the same bytes. *out is malloc'd
 * and NUL-terminated; the caller frees it. */
int sdp_package_to_xml(const struct sdp_package *p, char **out, size_t *len,
		       struct pp_error *err) PP_WARN_UNUSED;

/* Writes a catalog: the smc:SystemsManagementCatalog root, then every package added, then the end
 * tag on sdp_catalog_writer_finish. write must take all len bytes (0) or fail (-1, with err). */
typedef int (*sdp_write_fn)(void *ctx, const void *buf, size_t len, struct pp_error *err);
struct sdp_catalog_writer;
struct sdp_catalog_writer *sdp_catalog_writer_new(sdp_write_fn write, void *ctx,
						  struct pp_error *err) PP_WARN_UNUSED;
int sdp_catalog_writer_add(struct sdp_catalog_writer *w, const struct sdp_package *p,
			   struct pp_error *err) PP_WARN_UNUSED;
int sdp_catalog_writer_finish(struct sdp_catalog_writer *w, struct pp_error *err) PP_WARN_UNUSED;
void sdp_catalog_writer_free(struct sdp_catalog_writer *w);

#endif
