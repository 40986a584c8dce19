/* gpo.h - the model of a group policy object (DESIGN 5.8, docs/internals/gpo.md), without the
 * database: ids, names, versions, the stores and policy values a GPO may hold, the files of its
 * SYSVOL folder (GPT.INI and Machine/Registry.pol, the latter through src/lib/regpol) and the
 * order in which a device applies the GPOs linked to its collections. */
#ifndef PATCHPOINT_GPO_H
#define PATCHPOINT_GPO_H

#include "error.h"
#include "store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GPO_GPT_INI_MAX 64 /* "[General]\r\nVersion=4294967295\r\n" and room */

/* A fresh GPO id: a random (version 4) GUID, upper case, in braces, as SYSVOL names folders. */
int gpo_id_new(char out[STORE_GPO_ID_LEN + 1], struct pp_error *err) PP_WARN_UNUSED;

/* True when s is a GUID in braces, hex digits in either case. */
bool gpo_id_valid(const char *s);

/* The upper-case form of an id that gpo_id_valid accepts; false (out "") otherwise. */
bool gpo_id_normalize(const char *s, char out[STORE_GPO_ID_LEN + 1]);

/* The halves of a GPT.INI version (DESIGN: user << 16 | machine). */
uint32_t gpo_version_machine(uint32_t version);
uint32_t gpo_version_user(uint32_t version);

/* The version after one change to the machine half; E_INVALIDARG at STORE_GPO_MACHINE_MAX (the
 * machine half is 16 bits: a GPO changed 65535 times is replaced, not wrapped to 0, which
 * clients would take for "older"). name names the GPO in the message. */
int gpo_version_bump(uint32_t version, const char *name, uint32_t *out,
		     struct pp_error *err) PP_WARN_UNUSED;

/* A policy store a GPO deploys certificates into: "Root" or "TrustedPublisher" (any case);
 * *canonical gets the spelling of the registry key. E_INVALIDARG naming both otherwise. */
int gpo_store_parse(const char *name, const char **canonical, struct pp_error *err) PP_WARN_UNUSED;

/* A policy value a GPO may set: "AcceptTrustedPublisherCerts" (any case), values 0 and 1.
 * *canonical gets its spelling and *key its registry key under HKLM. E_INVALIDARG otherwise. */
int gpo_policy_parse(const char *name, const char **canonical, const char **key,
		     struct pp_error *err) PP_WARN_UNUSED;
int gpo_policy_value_check(const char *name, uint32_t value, struct pp_error *err) PP_WARN_UNUSED;

/* The GPT.INI of a GPO at version, as Samba's "samba-tool gpo create" writes it:
 * "[General]\r\nVersion=<n>\r\n". Returns its length. */
size_t gpo_gpt_ini(uint32_t version, char out[GPO_GPT_INI_MAX]);

/* Machine/Registry.pol of a GPO holding certs and values: one Blob entry per certificate
 * (Software\Policies\Microsoft\SystemCertificates\<Store>\Certificates\<SHA1>) and one
 * REG_DWORD per value, sorted by key then value name ignoring case, as PolicyFileEditor and
 * GPMC order them. *out is malloc'd (caller frees). A certificate whose DER does not parse or
 * whose thumbprint is not its SHA-1 is an error (the database was changed behind our back). */
int gpo_registry_pol(const struct store_gpo_cert *certs, size_t ncerts,
		     const struct store_gpo_value *values, size_t nvalues, uint8_t **out,
		     size_t *len, struct pp_error *err) PP_WARN_UNUSED;

/* The GPOs a device applies, in order: collections in the order given (the device's: All
 * Systems first, then by id, as store_device_collections returns them), and within a
 * collection its links from the highest link order number down to 1, so that link order 1 of
 * the last collection is applied last and wins a value two GPOs set. A GPO linked to several
 * of the device's collections is applied once, at its last place. links may hold links of
 * other collections (ignored). *out is malloc'd (NULL when empty), free() it. */
int gpo_application_order(const struct store_gpo_link *links, size_t nlinks,
			  const struct store_collection *collections, size_t ncollections,
			  struct store_gpo_link **out, size_t *count,
			  struct pp_error *err) PP_WARN_UNUSED;

#endif
