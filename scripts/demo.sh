#!/usr/bin/env bash
# A scripted tour of patchpoint. First the server: patchpointd on its embedded SQLite database,
# third-party updates enabled with a managed certificate, a sync that creates the WSUS signing
# certificate and logs its insertion, the certificate shown, the publisher status turning ready.
# Then the signing toolkit: build and sign an update cabinet, and show it verifying on a device
# that trusts the certificate and failing with 0x800b0109 on one that does not. In between, the
# server imports Dell's SDP and publishes a custom update as a signed CAB, downloaded and
# verified with osslsigncode; then two agents register, the one in "Workstations" (a client
# setting of order 1 saying No) fails to install with 0x800b0109 while the other installs, and
# moving that setting down fixes it; a third agent whose client settings say No gets the
# certificate and the policy value from a GPO instead (gpupdate), and the GPO is exported as a
# SYSVOL folder; a fourth is remediated by a configuration baseline (the certificate in both
# stores and the policy value), then compliant, then installs; a fifth, freshly imaged, runs a
# task sequence whose first step imports the certificate from a package and whose second
# installs the update. Everything it makes lands in demo-out/.
set -euo pipefail
pp=${1:-build/patchpoint}
pp=$(cd "$(dirname "$pp")" && pwd)/$(basename "$pp")
ppd=${PATCHPOINTD:-$(dirname "$pp")/patchpointd}
out=${DEMO_OUT:-demo-out}
rm -rf "$out"
mkdir -p "$out"
cd "$out"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ patchpoint'; printf ' %q' "$@"; printf '\n'; "$pp" "$@"; }
runc() { printf '$ %s' "$1"; shift; printf ' %q' "$@"; printf '\n'; }

step "A. Start the site server: a standalone primary site PP1 with its local software update point"
runc patchpointd init --data-dir server
"$ppd" init --data-dir server >init.out
grep -v -E '^[0-9a-f]{64}$' init.out || true
export PATCHPOINT_TOKEN=$(grep -E '^[0-9a-f]{64}$' init.out)
runc patchpointd run --data-dir server --listen 127.0.0.1:0
"$ppd" run --data-dir server --listen 127.0.0.1:0 >server.out 2>server.err &
ppd_pid=$!
trap 'kill "$ppd_pid" 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q 'listening on' server.out 2>/dev/null && break; sleep 0.05; done
cat server.out
export PATCHPOINT_SERVER=$(sed -n 's|^patchpointd: listening on \(http://.*\)$|\1|p' server.out)
echo "(admin token in PATCHPOINT_TOKEN, server in PATCHPOINT_SERVER=$PATCHPOINT_SERVER)"
run publisher status || true

step "B. Enable third-party software updates; Configuration Manager manages the certificate"
run sup set --third-party on --cert-mode managed

step "C. Synchronize software updates: the sync creates the WSUS signing certificate"
run sync --wait

step "D. wsyncmgr.log says the certificate was inserted"
run log wsyncmgr | grep -E 'inserted|Sync [0-9]+ (started|succeeded)'

step "E. Show certificate, as the publisher's console does"
run publisher cert show
run certificates list

step "F. The publisher's checklist turns green"
run publisher status

step "G. Import a vendor's Software Distribution Package (Dell's, as published)"
shared=${SHARED:-$(cd "$(dirname "$pp")/.." && pwd)/../shared}
run catalog import "$shared/fixtures/sdp/dc718411-a5f1-4b15-966a-63a77cbb156e.sdp" --name Dell
run updates list --vendor Dell
run updates show dc718411-a5f1-4b15-966a-63a77cbb156e

step "H. Publish an update of your own: uploaded, packed into a CAB signed by the WSUS certificate"
mkdir -p agent
printf '@echo off\r\ncontoso-agent-setup.exe /quiet\r\n' > agent/install.cmd
head -c 1000000 /dev/urandom > agent/contoso-agent-setup.exe
run publish --new --title "Contoso Agent 4.2" --vendor Contoso --product "Contoso Agent" \
  --version 4.2 --program install.cmd --content agent/install.cmd \
  --content agent/contoso-agent-setup.exe | tee publish.out
id=$(sed -n 's/^Update ID: *//p' publish.out)
sha1=$(sed -n 's/^SHA-1: *//p' publish.out)
run log softwaredistribution | grep -E 'Created cab|Published update' | tail -n 2
curl -s -o published.cab "$PATCHPOINT_SERVER/Content/${sha1: -2}/$sha1.cab"
run publisher cert export --out server-signing.cer
openssl x509 -inform DER -in server-signing.cer -out server-signing.pem
printf '$ osslsigncode verify -in published.cab -CAfile server-signing.pem\n'
osslsigncode verify -in published.cab -CAfile server-signing.pem | tail -n 2
step "I. Two devices and the priority conflict of the seed documents"
agent=${PATCHPOINT_AGENT:-}
[ -n "$agent" ] || agent=$(dirname "$pp")/patchpoint-agent
runa() { printf '$ patchpoint-agent'; printf ' %q' "$@"; printf '\n'; "$agent" "$@"; }
run enrollment-key create --name demo | tee key.out
key=$(sed -n 's/^Key: *//p; s/^Enrollment key: *//p' key.out | head -n1)
[ -n "$key" ] || key=$(grep -oE '[0-9a-f]{64}' key.out | head -n1)
runa --machine device-a register --server "$PATCHPOINT_SERVER" --enrollment-key "$key" --name desk-a
runa --machine device-b register --server "$PATCHPOINT_SERVER" --enrollment-key "$key" --name desk-b
run collection create Workstations --member desk-b
run client-settings create "Third-party updates on" --third-party yes
run client-settings deploy "Third-party updates on" --collection "All Systems"
run client-settings create Workstations --third-party no
run client-settings move-up Workstations
run client-settings deploy Workstations --collection Workstations
run client-settings list
mkdir -p tool
printf '#!/bin/sh\necho "Contoso Tool 1.0 installed" > "$1"\n' > tool/install.sh
run publish --new --title "Contoso Tool 1.0" --vendor Contoso --product "Contoso Tool" \
  --version 1.0 --program install.sh --arguments "$(pwd)/installed-by-agent" \
  --content tool/install.sh | tee tool.out
tool=$(sed -n 's/^Update ID: *//p' tool.out)
run deploy "$tool" --collection "All Systems"
cycles() { # machine: the three cycles of DESIGN 5.7
  runa --machine "$1" trigger machine-policy
  runa --machine "$1" trigger software-updates-scan
  runa --machine "$1" trigger software-updates-deployment-evaluation || true
}
cycles device-a
cycles device-b
printf '$ grep Error device-b/logs/WUAHandler.log\n'
sed 's/^<!\[LOG\[\(.*\)\]LOG\]!>.*/\1/' device-b/logs/WUAHandler.log | grep 'Error = ' | tail -n 1
run device resultant-settings desk-b
runa --machine device-b diagnose
run compliance "$tool"

step "J. The fix: Workstations below the setting that says Yes, and the cycles again"
run client-settings move-down Workstations
run device resultant-settings desk-b | grep -i 'third party'
cycles device-b
run compliance "$tool"

step "K. Group policy: a kiosk whose client settings say No gets the certificate from a GPO"
runa --machine device-c register --server "$PATCHPOINT_SERVER" --enrollment-key "$key" --name kiosk-c
run collection create Kiosks --member kiosk-c
run client-settings create "Kiosks: no third-party" --third-party no
run client-settings move-up "Kiosks: no third-party"
run client-settings move-up "Kiosks: no third-party"
run client-settings deploy "Kiosks: no third-party" --collection Kiosks
cycles device-c
run publisher cert export --out wsus-signing.cer
run gpo create "Trust the WSUS signing certificate"
run gpo import-cert "Trust the WSUS signing certificate" --store Root wsus-signing.cer
run gpo import-cert "Trust the WSUS signing certificate" --store TrustedPublisher wsus-signing.cer
run gpo set-policy "Trust the WSUS signing certificate" AcceptTrustedPublisherCerts 1
run gpo link "Trust the WSUS signing certificate" --collection Kiosks
runa --machine device-c gpupdate
runa --machine device-c certutil -GroupPolicy -store TrustedPublisher | head -n 4
cycles device-c
run compliance "$tool"
run gpo export "Trust the WSUS signing certificate" sysvol
find sysvol -type f | sort

step "L. A configuration baseline: a lab machine found without the certificate is remediated"
runa --machine device-d register --server "$PATCHPOINT_SERVER" --enrollment-key "$key" --name lab-d
run collection create Lab --member lab-d
run client-settings deploy "Kiosks: no third-party" --collection Lab
cat > atpc-discovery.sh <<EOF
case "\$("$agent" policy get AcceptTrustedPublisherCerts)" in
"AcceptTrustedPublisherCerts = 1 "*) echo 1 ;;
*) echo 0 ;;
esac
EOF
printf '"%s" policy set --source "ci:Trust the WSUS signing certificate" AcceptTrustedPublisherCerts 1\n' \
  "$agent" > atpc-remediation.sh
run ci create-certificate "Signing certificate present" --cert wsus-signing.cer --store Root \
  --store TrustedPublisher
run ci create-script "AcceptTrustedPublisherCerts is 1" --discovery atpc-discovery.sh \
  --remediation atpc-remediation.sh --type integer --expected 1
run baseline create "Trust the WSUS signing certificate" --ci "Signing certificate present" \
  --ci "AcceptTrustedPublisherCerts is 1"
run baseline deploy "Trust the WSUS signing certificate" --collection Lab --remediate
runa --machine device-d trigger machine-policy
runa --machine device-d trigger ci-evaluation
runa --machine device-d trigger ci-evaluation
run compliance baseline "Trust the WSUS signing certificate"
runa --machine device-d trigger software-updates-scan
runa --machine device-d trigger software-updates-deployment-evaluation
run compliance "$tool"

step "M. A task sequence: a freshly imaged machine trusts the certificate before its first install"
runa --machine device-e register --server "$PATCHPOINT_SERVER" --enrollment-key "$key" --name image-e
run collection create "New machines" --member image-e
run client-settings deploy "Kiosks: no third-party" --collection "New machines"
mkdir -p certs
cp wsus-signing.cer certs/WSUSSigningCertificate.cer
cat > certs/Import-Certificates.sh <<EOF
#!/bin/sh
# Every .cer next to this script into Trusted Root and Trusted Publishers, then the policy value.
set -e
cd "\$(dirname "\$0")"
for c in *.cer; do
  "$pp" certutil -addstore Root "\$c"
  "$pp" certutil -addstore TrustedPublisher "\$c"
done
"$pp" policy set --source "task-sequence:\$_SMSTSPackageName" AcceptTrustedPublisherCerts 1
EOF
run package create "Import Certificates" --version 1.0 certs
run ts create "Trust before first install"
run ts add-step "Trust before first install" --type run-command-line --package "Import Certificates" \
  --command "sh Import-Certificates.sh"
run ts add-step "Trust before first install" --type install-software-updates
run ts deploy "Trust before first install" --collection "New machines"
runa --machine device-e trigger machine-policy
runa --machine device-e ts run "Trust before first install"
run ts status "Trust before first install"
run compliance "$tool"

kill "$ppd_pid"
wait "$ppd_pid" 2>/dev/null || true
trap - EXIT

step "1. The toolkit: create a signing certificate offline (publisher mode, RSA 2048, SHA-256, Code Signing)"
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
