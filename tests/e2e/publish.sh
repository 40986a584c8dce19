#!/usr/bin/env bash
# End to end: publishing third-party updates on a real patchpointd on 127.0.0.1 (DESIGN 5.4).
# The refusals with their exact messages (no signing certificate, unsigned / bad / blocked vendor
# content, content that is not the catalog's OriginFile, other content for a published revision),
# a published CAB downloaded from its content URL and verified by osslsigncode and by
# 'patchpoint verify' on a trusting machine, tampering refused, revisions, metadata-only
# publishing, expiry, deletion, and deployments to All Systems.
. "$(dirname "$0")/../lib.sh"
. "$SRCDIR/tests/daemon_lib.sh"
cd "$TMP" || exit 1
command -v python3 >/dev/null || { echo "1..0 # SKIP python3 missing"; exit 0; }
command -v osslsigncode >/dev/null || { echo "1..0 # SKIP osslsigncode missing"; exit 0; }
command -v openssl >/dev/null || { echo "1..0 # SKIP openssl missing"; exit 0; }

unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy no_proxy NO_PROXY
unset PATCHPOINT_SERVER PATCHPOINT_TOKEN PATCHPOINT_CA_BUNDLE PATCHPOINT_LOG
export HOME=$TMP/home XDG_CONFIG_HOME=$TMP/xdg
mkdir -p "$HOME"

run() { "$@" >"$TMP/run.out" 2>"$TMP/run.err"; RC=$?; OUT=$(cat "$TMP/run.out"); ERR=$(cat "$TMP/run.err"); }
jq_py() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
field() { printf '%s\n' "$OUT" | sed -n "s/^$1: *//p"; } # a "Name: value" line of OUT
b64sha1() { openssl dgst -sha1 -binary "$1" | base64; }
UNSIGNED='because the content is unsigned. Only content with valid signatures can be published.'

# ---- manuals ----
for v in publish deploy "deployments list" "updates revise" "updates expire" "updates delete" \
  "certificates approve"; do
  # shellcheck disable=SC2086
  run pp $v --help
  is "$v --help exits 0" "$RC" 0
  like "$v --help names its command" "$(printf '%s\n' "$OUT" | sed -n 2p)" "^    patchpoint $v - "
done
exits "publish without UPDATE or --new is a usage error" 2 pp publish --token x --content x
exits "publish --new without --version is a usage error" 2 pp publish --new --token x \
  --title T --vendor V --product P --program p --content x
exits "publish --metadata-only with --content is a usage error" 2 pp publish x --token x \
  --metadata-only --content x
exits "deploy with a deadline before the available time is a usage error" 2 pp deploy x \
  --token x --available 2000 --deadline 1000

D=$TMP/site
pd_init "$D" || { echo "Bail out! patchpointd init failed"; exit 1; }
pd_start A "$D" || { echo "Bail out! patchpointd run failed: $(cat "$TMP/A.err")"; exit 1; }
export PATCHPOINT_SERVER=$PD_URL_A PATCHPOINT_TOKEN=$PD_TOKEN
SDIST=$D/logs/SoftwareDistribution.log
ISV=$D/logs/SMS_ISVUPDATES_SYNCAGENT.log

mkdir -p content
head -c 2000000 /dev/urandom >content/setup.exe
printf '@echo off\r\nsetup.exe /S\r\n' >content/install.cmd
NEW=(--new --title "Contoso Tool" --vendor Contoso --product Tools --version 1.0 --program setup.exe
  --arguments /S --content content/setup.exe --content content/install.cmd)

# ---- no signing certificate: nothing enters the catalog ----
run pp publish "${NEW[@]}"
is "without a signing certificate: exit 1" "$RC" 1
is "without a signing certificate: the exact line" "$ERR" \
  "patchpoint: No certificate found in the WSUS store on this server (HTTP 409 no_signing_certificate)"
is "without a signing certificate: no update was created" \
  "$(pp updates list --json | jq_py 'len(d["updates"])')" 0
like "SoftwareDistribution.log says why" "$(cat "$SDIST")" \
  'PublishPackage\(\): Operation Failed with Error: No certificate found in the WSUS store on this server'
is "without a signing certificate: no content file" "$(find "$D/content" -name '*.cab' | wc -l)" 0

pp sup set --third-party on --cert-mode managed >/dev/null
pp sync --wait >/dev/null || { echo "Bail out! the sync failed"; exit 1; }
pp publisher cert export --out wsus.cer >/dev/null
openssl x509 -inform DER -in wsus.cer -out wsus.pem
WSUS_TP=$(openssl x509 -inform DER -in wsus.cer -noout -fingerprint -sha1 | sed 's/.*=//; s/://g')

# ---- a custom update ----
run pp publish "${NEW[@]}"
is "publish --new: exit 0" "$RC" 0
ID=$(field 'Update ID')
like "publish --new prints the update ID" "$ID" '^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$'
is "publish --new prints revision 1" "$(field Revision)" 1
URL=$(field Content)
SHA1=$(field SHA-1)
like "publish --new prints the content URL (WSUSContent layout)" "$URL" \
  "^http://localhost:8530/Content/${SHA1: -2}/$SHA1\.cab$"
is "signed by the WSUS signing certificate" "$(field 'Signed by')" "$WSUS_TP"
PATHPART=${URL#http://localhost:8530}
pd_req -o pub.cab "$PD_URL_A$PATHPART" >/dev/null
is "the content downloads without a token; its SHA-1 is its name" \
  "$(sha1sum pub.cab | cut -d' ' -f1 | tr a-f A-F)" "$SHA1"
is "its SHA-256 and size are the metadata's" "$(sha256sum pub.cab | cut -d' ' -f1) $(stat -c %s pub.cab)" \
  "$(field SHA-256) $(field Size | cut -d' ' -f1)"
ok "osslsigncode verify accepts it against the WSUS signing certificate" \
  osslsigncode verify -in pub.cab -CAfile wsus.pem
like "the CAB holds the files unchanged" "$(cabextract -l pub.cab 2>&1)" 'install\.cmd'
mkdir -p x && (cd x && cabextract -q ../pub.cab) && ok "setup.exe comes out byte for byte" cmp x/setup.exe content/setup.exe
pp certutil --machine trusting -addstore Root wsus.cer >/dev/null
pp certutil --machine trusting -addstore TrustedPublisher wsus.cer >/dev/null
pp policy set --machine trusting AcceptTrustedPublisherCerts 1 >/dev/null
run pp verify --machine trusting pub.cab
is "patchpoint verify on a trusting machine: OK" "$OUT" "OK"
run pp verify --machine untrusting pub.cab
like "patchpoint verify on a machine without the certificate: 0x800B0109" "$OUT" '^0x800B0109 CERT_E_UNTRUSTEDROOT'
# One byte of the payload changed on the way.
cp pub.cab tampered.cab
python3 -c 'import sys; f=open(sys.argv[1],"r+b"); f.seek(1000000); b=f.read(1); f.seek(1000000); f.write(bytes([b[0]^1]))' tampered.cab
run pp verify --machine trusting tampered.cab
like "a byte changed: patchpoint verify answers 0x80096010" "$OUT" '^0x80096010 TRUST_E_BAD_DIGEST'
like "SoftwareDistribution.log: the cab and its signer" "$(cat "$SDIST")" \
  "PublishPackage\(\): Created cab $SHA1\.cab for update $ID: 2 file\(s\), [0-9]+ bytes, signed with $WSUS_TP"
like "SMS_ISVUPDATES_SYNCAGENT.log: the publish" "$(cat "$ISV")" \
  "SyncUpdate: $ID - published revision 1 with content $SHA1"
run pp updates show "$ID" --json
is "updates show: published, revision 1, no catalog" \
  "$(printf '%s' "$OUT" | jq_py '(d["state"], d["revision"], d["catalog"], d["content"][0]["sha1"])')" \
  "('published', 1, None, '$SHA1')"
is "updates show: the OriginFiles are the content's" \
  "$(printf '%s' "$OUT" | jq_py '[(f["file_name"], f["digest"]) for f in d["items"][0]["origin_files"]]')" \
  "[('setup.exe', '$(b64sha1 content/setup.exe)'), ('install.cmd', '$(b64sha1 content/install.cmd)')]"

# ---- content is immutable per revision ----
run pp publish "$ID" --content content/setup.exe --content content/install.cmd
is "the same content again: exit 0" "$RC" 0
like "the same content again: nothing changed" "$OUT" 'already published with this content'
is "the same content again: the same CAB" "$(field SHA-1)" "$SHA1"
head -c 1000 /dev/urandom >content/other.cmd
run pp publish "$ID" --content content/setup.exe --content content/other.cmd
is "other content for the same revision: exit 1" "$RC" 1
is "other content for the same revision: refused" "$ERR" \
  "patchpoint: revision 1 of update $ID already has other content; content is immutable per revision: revise the update (patchpoint updates revise $ID) and publish the new revision (HTTP 409 content_immutable)"
run pp updates revise "$ID"
is "updates revise: revision 2, metadata" "$OUT" "Update $ID: revision 2, metadata"
run pp publish "$ID" --content content/setup.exe --content content/other.cmd
is "the new revision takes the new content" "$(field Revision) $RC" "2 0"
SHA1B=$(field SHA-1)
is "the old revision's content is still served" "$(pd_req -o /dev/null "$PD_URL_A$PATHPART" | tail -n1)" 200
is "updates show lists both revisions' content" \
  "$(pp updates show "$ID" --json | jq_py '[(c["revision"], c["sha1"]) for c in d["content"]]')" \
  "[(1, '$SHA1'), (2, '$SHA1B')]"

# ---- tampering on the server's disk ----
CAB=$D/content/${SHA1: -2}/$SHA1.cab
chmod u+w "$CAB"
python3 -c 'import sys; f=open(sys.argv[1],"r+b"); f.seek(500000); b=f.read(1); f.seek(500000); f.write(bytes([b[0]^1]))' "$CAB"
is "a CAB changed on disk is not served (503)" "$(pd_req -o /dev/null "$PD_URL_A$PATHPART" | tail -n1)" 503
like "the refusal names the damage" "$(pd_req "$PD_URL_A$PATHPART" | head -n1)" '"code":"content_damaged"'
python3 -c 'import sys; f=open(sys.argv[1],"r+b"); f.seek(500000); b=f.read(1); f.seek(500000); f.write(bytes([b[0]^1]))' "$CAB"
is "restored, it is served again" "$(pd_req -o /dev/null "$PD_URL_A$PATHPART" | tail -n1)" 200

# ---- a vendor catalog: OriginFile, signatures, approval ----
: >empty.pw
pp cert new --subject "CN=Fabrikam Code Signing" --out-pfx vendor.pfx --out-cer vendor.cer \
  --password-file empty.pw >/dev/null
VENDOR_TP=$(openssl x509 -inform DER -in vendor.cer -noout -fingerprint -sha1 | sed 's/.*=//; s/://g')
mkdir -p vpayload && head -c 300000 /dev/urandom >vpayload/driver.sys && echo ok >vpayload/readme.txt
pp cab create --sign-pfx vendor.pfx --password-file empty.pw -o fabrikam.cab vpayload >/dev/null
cp fabrikam.cab fabrikam-bad.cab
python3 -c 'import sys; f=open(sys.argv[1],"r+b"); f.seek(2000); b=f.read(1); f.seek(2000); f.write(bytes([b[0]^1]))' fabrikam-bad.cab
head -c 50000 /dev/urandom >vendor.exe
cat >mkcatalog.py <<'EOF'
import base64, hashlib, os, sys
def pkg(pid, title, fname, path):
    data = open(path, 'rb').read()
    digest = base64.b64encode(hashlib.sha1(data).digest()).decode()
    return f'''<smc:SoftwareDistributionPackage SchemaVersion="1.2">
 <sdp:Properties PackageID="{pid}" CreationDate="2026-11-30T00:00:00Z" VendorName="Fabrikam"><sdp:ProductName>Drivers</sdp:ProductName></sdp:Properties>
 <sdp:LocalizedProperties><sdp:Language>en</sdp:Language><sdp:Title>{title}</sdp:Title></sdp:LocalizedProperties>
 <sdp:UpdateSpecificData MsrcSeverity="Important" UpdateClassification="Updates"/>
 <sdp:InstallableItem ID="{pid[:-4]}9999">
  <cmd:CommandLineInstallerData Program="{fname}" Arguments="/quiet" DefaultResult="Failed" RebootByDefault="false"><cmd:ReturnCode Code="0" Result="Succeeded" Reboot="false"/></cmd:CommandLineInstallerData>
  <sdp:OriginFile Digest="{digest}" FileName="{fname}" Size="{len(data)}" OriginUri="https://downloads.fabrikam.example/{fname}"/>
 </sdp:InstallableItem>
</smc:SoftwareDistributionPackage>'''
ns = ('xmlns:smc="http://schemas.microsoft.com/sms/2005/04/CorporatePublishing/SystemsManagementCatalog.xsd" '
      'xmlns:sdp="http://schemas.microsoft.com/wsus/2005/04/CorporatePublishing/SoftwareDistributionPackage.xsd" '
      'xmlns:cmd="http://schemas.microsoft.com/wsus/2005/04/CorporatePublishing/Installers/CommandLineInstallation.xsd"')
args = sys.argv[2:]
body = ''.join(pkg(args[i], args[i+1], args[i+2], args[i+3]) for i in range(0, len(args), 4))
open(sys.argv[1], 'w').write(f'<smc:SystemsManagementCatalog {ns}>{body}</smc:SystemsManagementCatalog>')
EOF
U_CAB=10000000-0000-0000-0000-000000000001
U_BAD=10000000-0000-0000-0000-000000000002
U_EXE=10000000-0000-0000-0000-000000000003
U_META=10000000-0000-0000-0000-000000000004
python3 mkcatalog.py fabrikam.xml \
  $U_CAB "Fabrikam driver 1" fabrikam.cab fabrikam.cab \
  $U_BAD "Fabrikam driver 2" fabrikam.cab fabrikam-bad.cab \
  $U_EXE "Fabrikam tool" vendor.exe vendor.exe \
  $U_META "Fabrikam notes" vendor.exe vendor.exe
run pp catalog import fabrikam.xml
is "the Fabrikam catalog imports" "$OUT" \
  "Catalog fabrikam: 4 packages: 4 imported, 0 updated, 0 unchanged, 0 skipped"

# OriginFile: name, size, digest.
run pp publish $U_CAB --content vendor.exe
is "not the OriginFile's name: exit 1" "$RC" 1
like "not the OriginFile's name: names the file the catalog wants" "$ERR" \
  "^patchpoint: update $U_CAB needs its OriginFile fabrikam\.cab \([0-9]+ bytes, SHA-1 $(b64sha1 fabrikam.cab | sed 's/[+/]/\\&/g')\); it is not among the content files \(HTTP 422 content_mismatch\)$"
mkdir -p wrong && head -c "$(stat -c %s fabrikam.cab)" /dev/urandom >wrong/fabrikam.cab
run pp publish $U_CAB --content wrong/fabrikam.cab
is "the OriginFile's size but other bytes: refused with both digests" "$ERR" \
  "patchpoint: content file fabrikam.cab has SHA-1 $(b64sha1 wrong/fabrikam.cab); the catalog's OriginFile of update $U_CAB has $(b64sha1 fabrikam.cab) (HTTP 422 content_mismatch)"
head -c 10 /dev/urandom >wrong/vendor.exe
run pp publish $U_EXE --content wrong/vendor.exe
is "another size: refused" "$ERR" \
  "patchpoint: content file vendor.exe is 10 bytes; the catalog's OriginFile of update $U_EXE is 50000 bytes (HTTP 422 content_mismatch)"

# Unsigned vendor content, unsigned not allowed (the console's default).
run pp publish $U_EXE --content vendor.exe
is "unsigned vendor content: exit 1" "$RC" 1
is "unsigned vendor content: 11516, and why" "$ERR" \
  "patchpoint: Failed to publish content for update \"$U_EXE\" $UNSIGNED File 'vendor.exe' does not appear to be signed or there was an error retrieving the signing certificate. Signatures are required. (patchpoint checks vendor signatures on cabinets only) (HTTP 422 content_unsigned)"
like "the refusal in SMS_ISVUPDATES_SYNCAGENT.log" "$(cat "$ISV")" \
  'STATMSG: \(SRVMSG_SMS_ISVUPDATES_SYNCAGENT_UPDATECONTENT_TRUST_FAIL_BADSIG\)\.'
is "nothing was published for it" "$(pp updates show $U_EXE --json | jq_py 'd["state"], len(d["content"])')" "metadata 0"

# A vendor-signed CAB: its signer enters Certificates, unapproved.
run pp publish $U_CAB --content fabrikam.cab
is "a signer seen for the first time: exit 1" "$RC" 1
is "a signer seen for the first time: not approved" "$ERR" \
  "patchpoint: Failed to publish content for update \"$U_CAB\": its signer $VENDOR_TP (Fabrikam Code Signing) is not approved in Certificates approve it with: patchpoint certificates approve $VENDOR_TP (HTTP 422 signer_not_approved)"
run pp certificates show "$VENDOR_TP"
like "Certificates: a Third-party Software Updates Content certificate" "$OUT" 'Type: Third-party Software Updates Content'
like "Certificates: not approved yet" "$OUT" 'Approved: No'
run pp certificates approve "$VENDOR_TP"
is "certificates approve" "$OUT" "Certificate $VENDOR_TP approved"
run pp publish $U_CAB --content fabrikam.cab
is "approved: the vendor's CAB is published" "$RC" 0
VSHA=$(field SHA-1)
pd_req -o vpub.cab "$PD_URL_A${VSHA:+/Content/${VSHA: -2}/$VSHA.cab}" >/dev/null
mkdir -p vx && (cd vx && cabextract -q ../vpub.cab)
ok "the vendor's signed CAB is inside, unchanged" cmp vx/fabrikam.cab fabrikam.cab
ok "the outer CAB verifies with osslsigncode" osslsigncode verify -in vpub.cab -CAfile wsus.pem

# A CAB whose signature does not match its bytes.
mkdir -p bad && cp fabrikam-bad.cab bad/fabrikam.cab
run pp publish $U_BAD --content bad/fabrikam.cab
is "a vendor signature that does not verify: 11516, and why" "$ERR" \
  "patchpoint: Failed to publish content for update \"$U_BAD\" $UNSIGNED Signature check on downloaded binary fabrikam.cab has failed: the digest does not match the content (HTTP 422 content_unsigned)"

# Blocked.
pp certificates block "$VENDOR_TP" >/dev/null
pp updates revise $U_CAB >/dev/null
run pp publish $U_CAB --content fabrikam.cab
is "a blocked signer: 11516, and why" "$ERR" \
  "patchpoint: Failed to publish content for update \"$U_CAB\" $UNSIGNED the signer of fabrikam.cab, certificate $VENDOR_TP, is blocked in Certificates (HTTP 422 content_unsigned)"
like "the block in SMS_ISVUPDATES_SYNCAGENT.log" "$(cat "$ISV")" "SyncUpdate: Certificate '$VENDOR_TP' is BLOCKED\."
pp certificates unblock "$VENDOR_TP" >/dev/null
run pp publish $U_CAB --content fabrikam.cab
is "unblocked: published again (revision 2)" "$RC $(field Revision)" "0 2"

# Unsigned content allowed by the catalog's option.
run pp catalog import fabrikam.xml --allow-unsigned-content
is "the option changes no update" "$OUT" \
  "Catalog fabrikam: 4 packages: 0 imported, 0 updated, 4 unchanged, 0 skipped"
run pp publish $U_EXE --content vendor.exe
is "allow unsigned content: the unsigned vendor file is published" "$RC" 0
like "and that is logged" "$(cat "$ISV")" "SyncUpdate: $U_EXE - vendor\.exe is not signed; published because catalog fabrikam allows unsigned content"

# ---- metadata only ----
run pp publish $U_META --metadata-only
is "metadata only: exit 0" "$RC" 0
like "metadata only: no content" "$OUT" 'Content:   none \(metadata only\)'
run pp deploy $U_META
is "a metadata-only update cannot be deployed" "$ERR" \
  "patchpoint: update $U_META revision 1 was published without content (metadata only); publish its content before deploying it (HTTP 400 invalid_argument)"

# ---- deployments ----
run pp deploy "$ID" --collection "all systems" --available 2026-12-01T08:00Z --deadline 2026-12-08T08:00Z
is "deploy: exit 0" "$RC" 0
like "deploy: one line" "$OUT" \
  "^Deployment [0-9]+: $ID \(Contoso Tool\) to All Systems \(SMS00001\), available 2026-12-01 08:00:00 UTC, deadline 2026-12-08 08:00:00 UTC$"
run pp deploy "$ID"
like "the same deployment twice: 409" "$ERR" 'HTTP 409 already_exists'
run pp deploy "$ID" --collection "Nowhere"
is "an unknown collection" "$ERR" "patchpoint: collection \"Nowhere\" does not exist (HTTP 404 not_found)"
run pp deploy 10000000-0000-0000-0000-0000000000ff
like "an unknown update" "$ERR" 'does not exist \(HTTP 404 not_found\)'
run pp deployments list --json
is "deployments list" "$(printf '%s' "$OUT" | jq_py '[(x["update_id"], x["collection"], x["deadline_at"]) for x in d["deployments"]]')" \
  "[('$ID', 'All Systems', $(python3 -c 'import calendar; print(calendar.timegm((2026, 12, 8, 8, 0, 0)))'))]"

# ---- expire and delete ----
run pp updates delete "$ID"
is "a published update cannot be deleted" "$ERR" \
  "patchpoint: update $ID is published; expire it before deleting it (HTTP 400 invalid_argument)"
run pp updates expire "$ID"
is "updates expire" "$OUT" "Update $ID: revision 2, expired"
run pp publish "$ID" --content content/setup.exe
like "an expired update is not published" "$ERR" 'is expired; it cannot be published'
run pp updates revise "$ID"
like "an expired update is not revised" "$ERR" 'an expired update cannot be revised'
run pp updates delete "$ID"
is "updates delete" "$OUT" "Update $ID deleted"
is "its content is gone from WSUSContent" "$(ls "$D/content/${SHA1: -2}/$SHA1.cab" "$D/content/${SHA1B: -2}/$SHA1B.cab" 2>/dev/null | wc -l)" 0
is "and so are its deployments" "$(pp deployments list --json | jq_py 'len(d["deployments"])')" 0
run pp updates show "$ID"
like "a deleted update is not found" "$ERR" 'HTTP 404 not_found'

# ---- the record fails after the CAB was stored: the CAB goes too ----
head -c 80000000 /dev/urandom >content/big.exe
cabs_before=$(find "$D/content" -name '*.cab' | wc -l)
n=$(grep -c 'Publishing update' "$SDIST")
pp publish --new --title Locked --vendor Contoso --product Tools --version 2.0 --program big.exe \
  --content content/big.exe >locked.out 2>locked.err &
pub=$!
for _ in $(seq 4000); do [ "$(grep -c 'Publishing update' "$SDIST")" -gt "$n" ] && break; sleep 0.005; done
# Hold the database's write lock longer than the server's 5 s busy timeout.
python3 -c 'import sqlite3,sys,time; c=sqlite3.connect(sys.argv[1],isolation_level=None); c.execute("BEGIN IMMEDIATE"); time.sleep(7)' "$D/patchpoint.db"
wait "$pub"
locked_rc=$?
if grep -q 'Created cab' <(tail -n 3 "$SDIST") && [ "$locked_rc" -ne 0 ]; then
  like "a record that cannot be written: the publish fails in one line" "$(cat locked.err)" \
    '^patchpoint: site database: .*database is locked'
  is "and leaves no CAB that no revision records" "$(find "$D/content" -name '*.cab' | wc -l)" "$cabs_before"
else
  skip "a record that cannot be written" "the lock came too late (exit $locked_rc)"
  skip "and leaves no CAB that no revision records" "the lock came too late"
fi

# ---- the upload's progress bar: on a terminal only ----
head -c 20000000 /dev/urandom >content/bar.exe
if command -v script >/dev/null; then
  out=$(PATCHPOINT_PROGRESS_AFTER=0 script -qec "$PATCHPOINT publish --new --title Bar --vendor Contoso \
    --product Tools --version 1.0 --program bar.exe --content content/bar.exe" /dev/null | tr '\r' '\n')
  like "publish on a terminal: a bar while the first chunk is acknowledged" "$out" \
    'Uploading \[#{12}\.{18}\]  41% 8/19 MB'
  # 20,000,000 bytes: 8 MiB, then half of what is left each time, down to 1 MiB, then the rest.
  like "the last chunks taper: half of the 11.1 MiB left" "$out" 'Uploading \[#{21}\.{9}\]  70% 13/19 MB'
  is "then half again, twice, then 1 MiB" \
    "$(printf '%s\n' "$out" | grep -oE '  (85% 16|92% 17|97% 18)/19 MB' | tr -d '\n')" \
    '  85% 16/19 MB  92% 17/19 MB  97% 18/19 MB'
  like "and one at the end" "$out" 'Uploading \[#{30}\] 100% 19/19 MB'
  like "then the update is printed" "$out" 'Update ID: *[0-9a-f-]{36}'
else
  skip "publish on a terminal: a bar while the first chunk is acknowledged" "no script(1)"
  skip "the last chunks taper: half of the 11.1 MiB left" "no script(1)"
  skip "then half again, twice, then 1 MiB" "no script(1)"
  skip "and one at the end" "no script(1)"
  skip "then the update is printed" "no script(1)"
fi
run env PATCHPOINT_PROGRESS_AFTER=0 "$PATCHPOINT" publish --new --title Bar --vendor Contoso \
  --product Tools --version 1.1 --program bar.exe --content content/bar.exe
is "publish without a terminal: exit 0" "$RC" 0
unlike "and no progress bar on stderr" "$ERR" 'Uploading'

pd_stop A
is "patchpointd stops cleanly" "$PD_RC" 0

# ---- a CAB that no revision records is swept at start-up ----
mkdir -p "$D/content/${SHA1: -2}"
cp pub.cab "$D/content/${SHA1: -2}/$SHA1.cab"
pd_start A "$D" || { echo "Bail out! restart failed: $(cat "$TMP/A.err")"; exit 1; }
is "an unrecorded CAB is removed before anything is served" \
  "$(ls "$D/content/${SHA1: -2}/$SHA1.cab" 2>/dev/null | wc -l)" 0
like "patchpointd.log names it" "$(cat "$D/logs/patchpointd.log")" \
  "content sweep: removed $SHA1\.cab, which no update revision records"
is "recorded content stays" "$(ls "$D/content/${VSHA: -2}/$VSHA.cab" | wc -l)" 1
pd_stop A
done_testing
