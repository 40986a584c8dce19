/* agent_rules.h - the applicability rules of an SDP package (DESIGN 5.5), evaluated on a Linux
 * device by the Software Updates Scan (DESIGN 5.7).
 *
 * A rule is what src/lib/sdp.c keeps of an sdp:IsInstalled or sdp:IsInstallable element (package
 * or item level): its inner XML, one element that declares the namespaces it uses. The rule
 * languages (docs/formats/sdp.md "Applicability rules on Linux"):
 *
 *   lar:   And, Or, Not, True, False, in three-valued logic (below);
 *   plr:   patchpoint's Linux rules (FileExists, FileContains, FileVersion, CommandExitCode,
 *          PackageInstalled), each true or false; a failure while evaluating one (an unreadable
 *          file, a program that cannot run or times out) makes it false, with the reason;
 *   other: bar: (registry, WMI, Windows version, ...), msiar: and any other namespace cannot be
 *          evaluated on Linux and are "not applicable", naming the rule.
 *
 * Three-valued logic (strong Kleene): And is false when any operand is false, else not
 * applicable when any operand is, else true; Or is true when any operand is true, else not
 * applicable when any operand is, else false; Not swaps true and false and keeps not applicable.
 * And stops at the first false operand, Or at the first true one, so later rules do not run.
 *
 * An absent rule is not this module's business: the caller reads an absent IsInstallable as
 * "installable" and an absent IsInstalled as "not known from rules". */
#ifndef PATCHPOINT_AGENT_RULES_H
#define PATCHPOINT_AGENT_RULES_H

#include "error.h"

#include <stddef.h>

#define AGENT_RULES_LAR_NS                                                                         \
	"http://schemas.microsoft.com/wsus/2005/04/CorporatePublishing/"                           \
	"LogicalApplicabilityRules.xsd"
#define AGENT_RULES_BAR_NS                                                                         \
	"http://schemas.microsoft.com/wsus/2005/04/CorporatePublishing/"                           \
	"BaseApplicabilityRules.xsd"
#define AGENT_RULES_MSIAR_NS                                                                       \
	"http://schemas.microsoft.com/wsus/2005/04/CorporatePublishing/"                           \
	"MsiApplicabilityRules.xsd"
#define AGENT_RULES_PLR_NS "http://patchpoint.dev/schema/2026/linux-applicability-rules"

#define AGENT_RULES_FRAGMENT_MAX (1024u * 1024u) /* bytes of one rule, as sdp.h keeps it */
#define AGENT_RULES_DEPTH_MAX	 32		 /* levels of nested rules */
#define AGENT_RULES_PROGRAMS_MAX 32		 /* CommandExitCode + PackageInstalled rules */
#define AGENT_RULES_SCAN_MAX	 (16u * 1024u * 1024u) /* bytes plr:FileContains reads */
#define AGENT_RULES_TIMEOUT	 30		       /* seconds, default of TimeoutSeconds */
#define AGENT_RULES_TIMEOUT_MAX	 3600		       /* seconds, largest TimeoutSeconds */
#define AGENT_RULES_ARGS_MAX	 64		       /* words of plr:CommandExitCode Arguments */
#define AGENT_RULES_DPKG_QUERY	 "/usr/bin/dpkg-query"
#define AGENT_RULES_DPKG	 "/usr/bin/dpkg"
#define AGENT_RULE_NAME_MAX	 128
#define AGENT_RULE_DETAIL_MAX	 512

enum agent_rule_result {
	AGENT_RULE_FALSE = 0,
	AGENT_RULE_TRUE = 1,
	AGENT_RULE_NOT_APPLICABLE = 2,
};

/* What a rule evaluated to, and the first rule that decided it. */
struct agent_rule_outcome {
	enum agent_rule_result result;
	/* The deciding rule's qualified name ("plr:FileExists", "bar:RegKeyExists"); known
	 * namespaces get their usual prefix whatever the document wrote. Cut to fit. */
	char rule[AGENT_RULE_NAME_MAX];
	/* One line for a log ("bar:RegKeyExists is not applicable on Linux",
	 * "plr:FileExists /opt/x: no such file"); control characters replaced, cut to fit. */
	char detail[AGENT_RULE_DETAIL_MAX];
};

/* Checks the whole rule, then evaluates it on this machine. 0 with *out filled, or -1 with
 * HR_ERROR_INVALID_DATA when the rule is malformed (not XML, not exactly one element, an unknown
 * lar: or plr: element, a plr: rule with a missing, unknown or invalid attribute: the message
 * names the rule and the attribute); nothing runs when any part of the rule is malformed.
 * HR_E_INVALIDARG for a NULL fragment or out, HR_E_OUTOFMEMORY; *out is zeroed on -1.
 * May run programs (never a shell) and wait for them up to their time limits. */
int agent_rules_evaluate(const char *fragment, struct agent_rule_outcome *out,
			 struct pp_error *err) PP_WARN_UNUSED;

/* The checks of agent_rules_evaluate without evaluating anything: 0 when the rule is well-formed,
 * -1 with the same errors otherwise. */
int agent_rules_check(const char *fragment, struct pp_error *err) PP_WARN_UNUSED;

/* "true", "false", "not applicable". */
const char *agent_rule_result_name(enum agent_rule_result r);

#endif
