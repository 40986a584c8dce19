/* configitem.h - configuration items and baselines (Configuration Manager compliance settings,
 * DESIGN 5.8, docs/internals/configuration-items.md): the two kinds of item patchpoint has, the
 * data types of a script item, its one operator, the states an evaluation reports, the limits,
 * and how a value a discovery script wrote compares with the expected one.
 *
 * One copy of these rules for the site, which checks what an administrator gives before
 * anything is stored, and for the agent, which compares what a script discovered. */
#ifndef PATCHPOINT_CONFIGITEM_H
#define PATCHPOINT_CONFIGITEM_H

#include "error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONFIGITEM_NAME_MAX		  255	      /* bytes of a CI or baseline name */
#define CONFIGITEM_SCRIPT_MAX		  (64 * 1024) /* bytes of a discovery or remediation script */
#define CONFIGITEM_VALUE_MAX		  1024	      /* bytes of an expected or discovered value */
#define CONFIGITEM_TIMEOUT_DEFAULT	  60	      /* seconds, ConfigMgr's script timeout */
#define CONFIGITEM_TIMEOUT_MAX		  3600
#define CONFIGITEM_SCHEDULE_HOURS_DEFAULT 168 /* 7 days, ConfigMgr's default for a baseline */
#define CONFIGITEM_SCHEDULE_HOURS_MAX	  8760
#define CONFIGITEM_BASELINE_ITEMS_MAX	  256
#define CONFIGITEM_DETAIL_MAX		  511 /* bytes of the detail of one result */

enum configitem_kind { CONFIGITEM_KIND_CERTIFICATE = 0, CONFIGITEM_KIND_SCRIPT = 1 };

/* The data type of what a script discovers (the console's "Data type"). */
enum configitem_type {
	CONFIGITEM_TYPE_BOOLEAN = 0,
	CONFIGITEM_TYPE_STRING = 1,
	CONFIGITEM_TYPE_INTEGER = 2
};

/* What the evaluation of one item on one device says. UNKNOWN is the site's: no report yet. */
enum configitem_state {
	CONFIGITEM_COMPLIANT = 0,
	CONFIGITEM_NON_COMPLIANT = 1,
	CONFIGITEM_REMEDIATED = 2,
	CONFIGITEM_ERROR = 3,
	CONFIGITEM_UNKNOWN = 4
};
#define CONFIGITEM_STATE_COUNT 5

/* The stores a certificate item can require, as bits (1u << enum certstore_id). */
#define CONFIGITEM_STORE_ROOT		   (1u << 1) /* CERTSTORE_ROOT */
#define CONFIGITEM_STORE_TRUSTED_PUBLISHER (1u << 3) /* CERTSTORE_TRUSTED_PUBLISHER */
#define CONFIGITEM_STORES_ALLOWED	   (CONFIGITEM_STORE_ROOT | CONFIGITEM_STORE_TRUSTED_PUBLISHER)

/* "certificate", "script"; "boolean", "string", "integer"; "compliant", "non_compliant",
 * "remediated", "error", "unknown". Never NULL. */
const char *configitem_kind_name(enum configitem_kind k);
const char *configitem_type_name(enum configitem_type t);
const char *configitem_state_name(enum configitem_state s);

/* As the console writes them: "Certificate present", "Script"; "Boolean", "String", "Integer";
 * "Compliant", "Non-compliant", "Remediated", "Error", "Unknown". */
const char *configitem_kind_label(enum configitem_kind k);
const char *configitem_type_label(enum configitem_type t);
const char *configitem_state_label(enum configitem_state s);

/* Parse the names above (types case-insensitively, the others exactly); -1 with E_INVALIDARG
 * naming the accepted ones. */
int configitem_kind_parse(const char *name, enum configitem_kind *out,
			  struct pp_error *err) PP_WARN_UNUSED;
int configitem_type_parse(const char *name, enum configitem_type *out,
			  struct pp_error *err) PP_WARN_UNUSED;
int configitem_state_parse(const char *name, enum configitem_state *out,
			   struct pp_error *err) PP_WARN_UNUSED;

/* The one operator, "equals"; anything else is refused (E_INVALIDARG). */
int configitem_operator_check(const char *op, struct pp_error *err) PP_WARN_UNUSED;

/* A store a certificate item may require: "Root" or "TrustedPublisher" in any case, into its bit.
 * Another store name (CA, My, Disallowed) or an unknown one: E_INVALIDARG saying which are
 * accepted. */
int configitem_store_parse(const char *name, unsigned *bit, struct pp_error *err) PP_WARN_UNUSED;

/* "Root, TrustedPublisher" for the bits of stores (only the allowed ones), into out. */
void configitem_stores_text(unsigned stores, char *out, size_t size);

/* A name of an item or a baseline (what: "configuration item name"): 1 to CONFIGITEM_NAME_MAX
 * bytes, no control character, no '/' (names are path segments of the API). */
int configitem_check_name(const char *name, const char *what, struct pp_error *err) PP_WARN_UNUSED;

/* A script (what: "discovery script"): 1 to CONFIGITEM_SCRIPT_MAX bytes, no NUL byte (len is its
 * length as given). */
int configitem_check_script(const char *text, size_t len, const char *what,
			    struct pp_error *err) PP_WARN_UNUSED;

/* A script's time limit in seconds, 1 to CONFIGITEM_TIMEOUT_MAX. */
int configitem_check_timeout(long long seconds, struct pp_error *err) PP_WARN_UNUSED;

/* A deployment's evaluation schedule in hours, 1 to CONFIGITEM_SCHEDULE_HOURS_MAX. */
int configitem_check_schedule(long long hours, struct pp_error *err) PP_WARN_UNUSED;

/* The canonical text of a value of type t (what names it in errors: "expected value"):
 *   boolean  true or false in any case, also 1 and 0, spaces around ignored -> "true"/"false";
 *   integer  a signed 64-bit decimal, an optional sign, spaces around ignored -> "-12";
 *   string   the text itself (tabs allowed, no other control character).
 * Values over CONFIGITEM_VALUE_MAX bytes are refused. out holds CONFIGITEM_VALUE_MAX + 1 bytes.
 * -1 with E_INVALIDARG: 'expected value "abc" is not an integer'. */
int configitem_value_normalize(enum configitem_type t, const char *text, const char *what,
			       char out[CONFIGITEM_VALUE_MAX + 1],
			       struct pp_error *err) PP_WARN_UNUSED;

/* What a discovery script wrote (out of its standard output of len bytes) as the value: the
 * trailing line ends (CR, LF) dropped, as a PowerShell Write-Output or an echo leaves one. -1 with
 * ERROR_INVALID_DATA for output over CONFIGITEM_VALUE_MAX bytes or holding a NUL byte. */
int configitem_output_value(const char *output, size_t len, char out[CONFIGITEM_VALUE_MAX + 1],
			    struct pp_error *err) PP_WARN_UNUSED;

/* Whether discovered (a script's value, see configitem_output_value) equals expected (canonical,
 * from configitem_value_normalize) under type t: booleans and integers by value, strings byte
 * for byte (case counts). A discovered value that is not of the type: -1 with
 * ERROR_INVALID_DATA, 'the discovered value "yes please" is not a Boolean (true or false)'. */
int configitem_compare(enum configitem_type t, const char *discovered, const char *expected,
		       bool *equal, struct pp_error *err) PP_WARN_UNUSED;

#endif
