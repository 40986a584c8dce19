#!/usr/bin/env bash
# A scripted tour of the patchpoint signing toolkit: create the WSUS signing certificate, build
# and sign an update cabinet, and show it verifying on a device that trusts the certificate and
# failing with 0x800b0109 on one that does not. Everything it makes lands in demo-out/.
set -euo pipefail
pp=${1:-build/patchpoint}
pp=$(cd "$(dirname "$pp")" && pwd)/$(basename "$pp")
out=${DEMO_OUT:-demo-out}
rm -rf "$out"
mkdir -p "$out"
cd "$out"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ patchpoint'; printf ' %q' "$@"; printf '\n'; "$pp" "$@"; }

step "1. Create the WSUS signing certificate (publisher mode, RSA 2048, SHA-256, Code Signing)"
umask 077
printf 'demo-password\n' > pfx-password.txt
umask 022
run cert new --subject "CN=Contoso Third-Party Updates" --out-pfx signing.pfx \
  --out-cer WSUSSigningCertificate.cer --password-file pfx-password.txt

step "2. Check it against the WSUS signing requirements"
run cert check signing.pfx --password-file pfx-password.txt

step "3. Build the update content and sign it while the cabinet is written (one pass)"
mkdir -p content
printf '#!/bin/sh\necho "Contoso Agent 4.2 installed"\n' > content/install.sh
head -c 300000 /dev/urandom > content/contoso-agent-4.2.bin
run cab create --sign-pfx signing.pfx --password-file pfx-password.txt -o contoso-agent-4.2.cab content
run cab list contoso-agent-4.2.cab

step "4. A device that trusts the certificate (Root + TrustedPublisher + AcceptTrustedPublisherCerts=1)"
run certutil --machine device-trusted -addstore Root WSUSSigningCertificate.cer
run certutil --machine device-trusted -addstore TrustedPublisher WSUSSigningCertificate.cer
run policy set --machine device-trusted AcceptTrustedPublisherCerts 1
run verify --machine device-trusted contoso-agent-4.2.cab

step "5. A device that was never given the certificate"
set +e
run verify --machine device-new contoso-agent-4.2.cab
rc=$?
set -e
echo "(exit code $rc)"

step "6. Half-configured: certificate in Root, policy on, TrustedPublisher missing"
run certutil --machine device-half -addstore Root WSUSSigningCertificate.cer >/dev/null
run policy set --machine device-half AcceptTrustedPublisherCerts 1 >/dev/null
set +e
run verify --machine device-half contoso-agent-4.2.cab
set -e

step "7. The same cabinet verifies with osslsigncode, the reference peer"
if command -v osslsigncode >/dev/null; then
  openssl x509 -inform DER -in WSUSSigningCertificate.cer -out ca.pem
  osslsigncode verify -CAfile ca.pem -in contoso-agent-4.2.cab 2>&1 | grep -E 'Current message digest|Calculated message digest|Signature verification' || true
fi

printf '\nFiles are in %s/. Try: %s cert show %s/signing.pfx --password-file %s/pfx-password.txt\n' \
  "$(pwd)" "$pp" "$(pwd)" "$(pwd)"
