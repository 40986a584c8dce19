#!/usr/bin/env bash
# The README's tour (scripts/demo.sh) runs and shows what it promises.
. "$(dirname "$0")/../lib.sh"
out=$(DEMO_OUT="$TMP/demo" PATCHPOINTD="${PATCHPOINTD:-}" PATCHPOINT_AGENT="${PATCHPOINT_AGENT:-}" bash "$SRCDIR/scripts/demo.sh" "$PATCHPOINT" 2>&1); rc=$?
is "demo exits 0" "$rc" "0"
like "demo: the server's sync logs the insertion" "$out" 'Third-party WSUS Signing certificate [0-9A-F]{40} inserted into Certificates'
like "demo: the certificate is shown" "$out" 'Subject: CN=WSUS Publishers Self-signed'
like "demo: the publisher status ends ready" "$out" 'Ready to publish'
like "demo: Dell's SDP is imported" "$out" 'Catalog Dell: 1 packages: 1 imported, 0 updated, 0 unchanged, 0 skipped'
like "demo: the custom update is published with its content URL" "$out" \
  'Content:   http://localhost:8530/Content/[0-9A-F]{2}/[0-9A-F]{40}\.cab'
like "demo: the agents' update is deployed to All Systems" "$out" 'to All Systems \(SMS00001\)'
like "demo: device B fails with 0x800b0109 in WUAHandler.log" "$out" \
  'Failed to download updates to the WUAgent datastore\. Error = 0x800b0109'
like "demo: its resultant settings name the client setting that said No" "$out" \
  'Enable third party software updates +No +from Workstations'
like "demo: compliance shows one installed, one failed" "$out" \
  'Summary: Installed 1, Required 0, Failed 1, Pending restart 0, Not required 0, Unknown 0'
like "demo: diagnose names the deciding client setting" "$out" \
  'Third-party software updates are disabled by client setting "Workstations"'
like "demo: after the fix both are installed" "$out" \
  'Summary: Installed 2, Required 0, Failed 0, Pending restart 0, Not required 0, Unknown 0'
like "demo: the published CAB verifies with osslsigncode" "$out" 'Number of verified signatures: 1'
like "demo: the kiosk's client settings say No" "$out" \
  'third-party software updates disabled by "Kiosks: no third-party"'
like "demo: gpupdate completes" "$out" 'Computer Policy update has completed successfully\.'
like "demo: with the GPO all three are installed" "$out" \
  'Summary: Installed 3, Required 0, Failed 0, Pending restart 0, Not required 0, Unknown 0'
like "demo: the GPO is exported as a SYSVOL folder" "$out" '/Machine/Registry\.pol'
like "demo: the baseline remediates the lab machine" "$out" \
  'Configuration baseline "Trust the WSUS signing certificate" \(revision 1\) is Remediated'
like "demo: then it is compliant" "$out" \
  'Summary: Compliant 1, Non-compliant 0, Remediated 0, Error 0, Unknown 0'
like "demo: with the baseline, four are installed" "$out" \
  'Summary: Installed 4, Required 0, Failed 0, Pending restart 0, Not required 0, Unknown 0'
like "demo: the task sequence imports the certificate, then installs" "$out" \
  'Task sequence "Trust before first install" succeeded'
like "demo: ts status shows both steps" "$out" '2\. Install Software Updates +Succeeded'
like "demo: and all five are installed" "$out" \
  'Summary: Installed 5, Required 0, Failed 0, Pending restart 0, Not required 0, Unknown 0'
unlike "demo: the server was stopped" "$(pgrep -f "$TMP/demo" || true)" '[0-9]'

is "demo: trusted device verifies OK" "$(printf '%s\n' "$out" | grep -cx 'OK')" "1"
like "demo: fresh device fails with 0x800B0109" "$out" '0x800B0109 CERT_E_UNTRUSTEDROOT'
like "demo: half-configured device fails with 0x800B0004" "$out" '0x800B0004 TRUST_E_SUBJECT_NOT_TRUSTED'
like "demo: osslsigncode agrees" "$out" 'Signature verification: ok'
done_testing
