#!/usr/bin/env bash
# The README's tour (scripts/demo.sh) runs and shows what it promises.
. "$(dirname "$0")/../lib.sh"
out=$(DEMO_OUT="$TMP/demo" bash "$SRCDIR/scripts/demo.sh" "$PATCHPOINT" 2>&1); rc=$?
is "demo exits 0" "$rc" "0"
is "demo: trusted device verifies OK" "$(printf '%s\n' "$out" | grep -cx 'OK')" "1"
like "demo: fresh device fails with 0x800B0109" "$out" '0x800B0109 CERT_E_UNTRUSTEDROOT'
like "demo: half-configured device fails with 0x800B0004" "$out" '0x800B0004 TRUST_E_SUBJECT_NOT_TRUSTED'
like "demo: osslsigncode agrees" "$out" 'Signature verification: ok'
done_testing
