/* machinepolicy.h - policy values of a machine (the registry values under
 * HKLM\Software\Policies that patchpoint cares about), each remembered with the source that set
 * it: "local" (policy set), "client-settings:<name>", "gpo:<name>". Stored one file per value
 * under <machine>/policy/values/, written atomically. */
#ifndef PATCHPOINT_MACHINEPOLICY_H
#define PATCHPOINT_MACHINEPOLICY_H

#include "error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MACHINEPOLICY_ACCEPT_TRUSTED_PUBLISHER_CERTS "AcceptTrustedPublisherCerts"
#define MACHINEPOLICY_SOURCE_MAX		     128

struct machinepolicy_value {
	bool present;
	uint32_t value;			       /* REG_DWORD */
	char source[MACHINEPOLICY_SOURCE_MAX]; /* who set it */
};

/* The registry key and value a known policy name stands for, e.g.
 * "Software\\Policies\\Microsoft\\Windows\\WindowsUpdate"; NULL for unknown names. */
const char *machinepolicy_registry_key(const char *name);

/* Sets name (a known policy name) to value, recording source. */
int machinepolicy_set(const char *machine, const char *name, uint32_t value, const char *source,
		      struct pp_error *err) PP_WARN_UNUSED;

/* Reads name; a value never set reads as present = false. */
int machinepolicy_get(const char *machine, const char *name, struct machinepolicy_value *out,
		      struct pp_error *err) PP_WARN_UNUSED;

/* Removes name; removing an absent value is not an error. */
int machinepolicy_clear(const char *machine, const char *name, struct pp_error *err) PP_WARN_UNUSED;

#endif
