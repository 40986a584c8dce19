#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan+UBSan) and runs each for FUZZ_SECONDS
# (default 60) from a seed corpus made here: real cabinets, signatures and the SDP / SCUP catalog
# fixtures of ../shared for the library's parsers; signer wire messages, signing-store entries,
# routes and listen addresses for the server's. FUZZ_BUILD chooses the build directory (default
# build-fuzz).
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)
shared=${SHARED:-$top/../shared}
seconds=${FUZZ_SECONDS:-60}
build=${FUZZ_BUILD:-build-fuzz}
if [ ! -f $build/build.ninja ]; then
  CC=clang meson setup $build -Dfuzz=true -Dtests=disabled -Db_sanitize=address,undefined -Db_lundef=false
fi
ninja -C $build

seeds=$(mktemp -d)
trap 'rm -rf "$seeds"' EXIT
mkdir -p "$seeds/cab" "$seeds/sig" "$seeds/sdp" "$seeds/wire" "$seeds/entry" "$seeds/route" \
  fuzz/corpus-cab fuzz/corpus-signature fuzz/corpus-sdp fuzz/corpus-signer-wire \
  fuzz/corpus-signstore-entry fuzz/corpus-http-route
printf 'seed file\n' > "$seeds/a.txt"
head -c 40000 /dev/urandom > "$seeds/b.bin"
(cd "$seeds" && gcab -c cab/none.cab a.txt b.bin && gcab -c -z cab/mszip.cab a.txt b.bin)
# Signed seeds, made with the patchpoint of the fuzz build itself and with osslsigncode.
pp=$build/patchpoint
printf 'pw\n' > "$seeds/pw"
"$pp" cert new --out-pfx "$seeds/k.pfx" --out-cer "$seeds/k.cer" --password-file "$seeds/pw" >/dev/null 2>&1
"$pp" cab create --sign-pfx "$seeds/k.pfx" --password-file "$seeds/pw" -o "$seeds/cab/signed.cab" \
  "$seeds/a.txt" >/dev/null
openssl pkcs12 -in "$seeds/k.pfx" -passin pass:pw -nodes -out "$seeds/k.pem" 2>/dev/null
osslsigncode sign -certs "$seeds/k.pem" -key "$seeds/k.pem" -h sha1 -n seed -i https://example.invalid \
  -in "$seeds/cab/none.cab" -out "$seeds/cab/ossl-signed.cab" >/dev/null
for f in signed ossl-signed; do
  osslsigncode extract-signature -in "$seeds/cab/$f.cab" -out "$seeds/sig/$f.der" >/dev/null
done

# SDP seeds (sdp.h): the Dell SDP as it is, the first 3 packages of the HP catalog as a small
# catalog, and that catalog gzipped (the reader inflates gzip input).
cp "$shared"/fixtures/sdp/*.sdp "$seeds/sdp/"
gzip -dc "$shared/fixtures/catalogs/HpCatalogForSms.xml.gz" | python3 -c '
import sys
xml, end = sys.stdin.buffer.read(), b"</smc:SoftwareDistributionPackage>"
cut = 0
for _ in range(3):
    cut = xml.index(end, cut) + len(end)
sys.stdout.buffer.write(xml[:cut] + b"\n</smc:SystemsManagementCatalog>\n")' > "$seeds/sdp/hp3.xml"
gzip -9 -c "$seeds/sdp/hp3.xml" > "$seeds/sdp/hp3.xml.gz"

# Signing-store entries (signstore.h): a code-signing certificate valid at the target's fixed
# "now" (2030) and a second one as its chain, with their SHA-1 thumbprints.
thumb() { openssl x509 -inform DER -in "$1" -noout -fingerprint -sha1 | sed 's/.*=//; s/://g'; }
for n in 1 2; do
  openssl req -x509 -newkey rsa:2048 -nodes -subj "/CN=seed $n" -days 7300 \
    -addext extendedKeyUsage=codeSigning -keyout "$seeds/k$n.pem" -outform DER \
    -out "$seeds/c$n.der" 2>/dev/null
done
tp1=$(thumb "$seeds/c1.der") tp2=$(thumb "$seeds/c2.der")
b1=$(base64 -w0 "$seeds/c1.der") b2=$(base64 -w0 "$seeds/c2.der")
e1=$(printf '{"thumbprint":"%s","der":"%s","chain":[],"exportable":false,"has_key":true}' "$tp1" "$b1")
e2=$(printf '{"thumbprint":"%s","der":"%s","chain":["%s"],"exportable":true,"has_key":false}' \
  "$tp2" "$b2" "$b1")
printf '%s' "$e1" > "$seeds/entry/entry.json"
printf '{"certificate":%s}' "$e2" > "$seeds/entry/answer.json"
printf '{"certificates":[%s,%s]}' "$e1" "$e2" > "$seeds/entry/list.json"
printf 'QUJDRA==' > "$seeds/entry/b64"

# Signer wire messages (signer.h): one-record messages, header fields little-endian.
le16() { printf '%04x' "$1" | sed 's/\(..\)\(..\)/\2\1/' | xxd -r -p; }
le32() { printf '%08x' "$1" | sed 's/\(..\)\(..\)\(..\)\(..\)/\4\3\2\1/' | xxd -r -p; }
field() { le32 "$(wc -c < "$1")"; cat "$1"; } # a length-prefixed field from a file
msg() { # type body-file: magic, type, flags LAST, length, offset 0, body
  printf 'PPSG'; le16 "$1"; le16 1; le32 "$(wc -c < "$2")"; le32 0; cat "$2"
}
w=$seeds/w
: > "$w.empty"
printf '%s' "$tp1" > "$w.tp"
printf 'CN=seed' > "$w.subject"
{ field "$w.tp"; le32 3; field "$seeds/c1.der"; le32 1; field "$seeds/c2.der"; } > "$w.entry"
{ le32 1; cat "$w.entry"; } > "$w.list"
{ field "$w.subject"; le32 365; le32 2048; le32 1; } > "$w.generate"
printf 'SHA256' > "$w.md"
head -c 32 /dev/zero > "$w.hash"
{ field "$w.tp"; field "$w.md"; field "$w.hash"; } > "$w.sign"
printf 'signer says no' > "$w.text"
{ le32 $((0x80090016)); field "$w.text"; } > "$w.error"
msg 5 "$w.empty" > "$seeds/wire/list-request"
msg 2 "$w.generate" > "$seeds/wire/generate-request"
msg 4 "$w.sign" > "$seeds/wire/sign-request"
msg $((0x8002)) "$w.entry" > "$seeds/wire/generate-reply"
msg $((0x8005)) "$w.list" > "$seeds/wire/list-reply"
msg $((0x8003)) "$w.entry" > "$seeds/wire/import-reply"
msg $((0x8006)) "$w.empty" > "$seeds/wire/delete-reply"
msg $((0xffff)) "$w.error" > "$seeds/wire/error"
# A SIGN reply (a 16-byte signature) in two records, then a LIST request.
{ le32 16; head -c 16 /dev/zero; } > "$w.sig"
{ printf 'PPSG'; le16 $((0x8004)); le16 0; le32 20; le32 0; head -c 8 "$w.sig"
  printf 'PPSG'; le16 $((0x8004)); le16 1; le32 20; le32 8; tail -c 12 "$w.sig"
  cat "$seeds/wire/list-request"; } > "$seeds/wire/sign-reply-two-records"
# An EXPORT_PFX reply over one fragment (two records: 32768 bytes, then the rest); a record over
# the fragment limit; a length over the message limit. Each followed by a LIST request.
head -c 40000 /dev/zero > "$w.pfx"
{ le32 40000; cat "$w.pfx"; } > "$w.export"
{ printf 'PPSG'; le16 $((0x8007)); le16 0; le32 40004; le32 0; head -c 32768 "$w.export"
  printf 'PPSG'; le16 $((0x8007)); le16 1; le32 40004; le32 32768; tail -c +32769 "$w.export"
  cat "$seeds/wire/list-request"; } > "$seeds/wire/export-reply-two-records"
{ msg $((0x8007)) "$w.export"; cat "$seeds/wire/list-request"; } > "$seeds/wire/record-too-long"
{ printf 'PPSG'; le16 5; le16 1; le32 $((0xffffffff)); le32 0
  cat "$seeds/wire/list-request"; } > "$seeds/wire/length-too-large"

# Routes: the daemon's patterns with paths that match them (pattern, newline, path), listen
# addresses and Range headers.
i=0
for r in '/api/v1/status\n/api/v1/status' '/api/v1/sites/{code}\n/api/v1/sites/s%%20one' \
  '/api/v1/sites/{code}/third-party-updates\n/api/v1/sites/HQ/third-party-updates' \
  '/api/v1/certificates/{thumbprint}/block\n/api/v1/certificates/%s/block' \
  '/api/v1/signing-store/{thumbprint}\n/api/v1/signing-store/' '/api/v1/syncs/latest\n/api/v1/syncs/7' \
  '127.0.0.1:8530\n[::1]:8531' '0.0.0.0:0\n[fe80::1%%lo]:65535' \
  '/Content/{dir}/{file}\n/Content/9B/D03339B39DA0F25704D817754E57C49441A30B9B.cab' \
  'bytes=0-99\nbytes=-500' 'bytes=100-\nbytes=5-2,7-9'; do
  i=$((i + 1))
  printf "$r" "$tp1" > "$seeds/route/$i"
done

# Collection queries with a device (fuzz_membership.c), and a machine policy document as
# patchpointd serves it (fuzz_agent_policy.c).
mkdir -p "$seeds/membership" "$seeds/policy" "$seeds/rules" fuzz/corpus-membership \
  fuzz/corpus-agent-policy fuzz/corpus-agent-rules
printf 'name=kiosk-*\nkiosk-01\nDebian GNU/Linux 12\n5.00.9128.1000\nlab,floor-2' > "$seeds/membership/glob"
printf 'tag=lab\nx\n\n\nlab' > "$seeds/membership/tag"
printf 'client_version=5.00.8692.1003\nold\nos\n5.00.8692.1003\n' > "$seeds/membership/version"
printf '{"version":"0123456789abcdef","device":{"id":"GUID:x","name":"a","client_version":"5.00.9128.1000"},"settings":{"software_updates.enabled":{"value":true,"source":"Default Client Settings"},"software_updates.third_party":{"value":true,"source":"Default Client Settings"},"software_updates.scan_interval_days":{"value":7,"source":"Default Client Settings"},"software_updates.reevaluation_interval_days":{"value":7,"source":"Default Client Settings"},"client_policy.polling_interval_minutes":{"value":60,"source":"Default Client Settings"}},"third_party":{"enabled":true,"source":"Default Client Settings","minimum_client_version":"5.00.8692.1003","client_version_ok":true},"certificates":[{"thumbprint":"%s","subject":"seed 1","der":"%s","stores":["Root","TrustedPublisher"]}],"remove_certificates":[{"thumbprint":"%s","reason":"blocked"}],"deployments":[]}' \
  "$tp1" "$b1" "$tp2" > "$seeds/policy/policy.json"

# A baselines document as patchpointd serves it (fuzz_agent_ci.c): a certificate item and a
# script item in one baseline.
mkdir -p "$seeds/ci" fuzz/corpus-agent-ci
printf '{"version":"0123456789abcdef","baselines":[{"id":1,"name":"Trust","revision":2,"deployment_ids":[1],"remediate":true,"schedule_hours":168,"items":[{"id":1,"name":"cert","revision":1,"kind":"certificate","certificate":{"thumbprint":"%s","subject":"seed 1","der":"%s","stores":["Root","TrustedPublisher"]}},{"id":2,"name":"atpc","revision":1,"kind":"script","script":{"discovery":"echo 1\\n","remediation":null,"data_type":"integer","operator":"equals","expected":"1","timeout_seconds":60}}]}]}' \
  "$tp1" "$b1" > "$seeds/ci/baselines.json"

# Applicability rules (fuzz_agent_rules.c checks them; nothing runs): Linux rules under lar.
printf '<lar:And xmlns:lar="http://schemas.microsoft.com/wsus/2005/04/CorporatePublishing/LogicalApplicabilityRules.xsd" xmlns:plr="http://patchpoint.dev/schema/2026/linux-applicability-rules"><plr:FileExists Path="/etc/os-release"/><lar:Not><plr:PackageInstalled Name="openssl" Comparison="LessThan" Version="3.0.0"/></lar:Not></lar:And>' > "$seeds/rules/and"
printf '<bar:RegKeyExists xmlns:bar="http://schemas.microsoft.com/wsus/2005/04/CorporatePublishing/BaseApplicabilityRules.xsd" Key="HKEY_LOCAL_MACHINE" Subkey="SOFTWARE\\HP"/>' > "$seeds/rules/windows"

# Registry.pol (fuzz_regpol.c): a DWORD policy value and a string, as PReg v1 writes them.
mkdir -p "$seeds/regpol" fuzz/corpus-regpol
python3 -c '
import struct, sys
def u(t): return t.encode("utf-16-le")
def entry(key, value, typ, data):
    return (u("[") + u(key + "\0") + u(";") + u(value + "\0") + u(";") + struct.pack("<I", typ) +
            u(";") + struct.pack("<I", len(data)) + u(";") + data + u("]"))
wu = "Software\\Policies\\Microsoft\\Windows\\WindowsUpdate"
sys.stdout.buffer.write(b"PReg" + struct.pack("<I", 1) +
    entry(wu, "AcceptTrustedPublisherCerts", 4, struct.pack("<I", 1)) +
    entry(wu, "WUServer", 1, u("http://site:8530\0")))' > "$seeds/regpol/wu.pol"

# Group policy (fuzz_agent_gpo.c): a Registry.pol as patchpointd builds it (Root and
# TrustedPublisher Blobs of seed 1, AcceptTrustedPublisherCerts) and the device's GPO list.
mkdir -p "$seeds/gpo" fuzz/corpus-agent-gpo
python3 -c '
import hashlib, struct, sys
def u(t): return t.encode("utf-16-le")
def entry(key, value, typ, data):
    return (u("[") + u(key + "\0") + u(";") + u(value + "\0") + u(";") + struct.pack("<I", typ) +
            u(";") + struct.pack("<I", len(data)) + u(";") + data + u("]"))
der = open(sys.argv[1], "rb").read()
sha1 = hashlib.sha1(der).digest()
blob = struct.pack("<III", 3, 1, 20) + sha1 + struct.pack("<III", 32, 1, len(der)) + der
sc = "Software\\Policies\\Microsoft\\SystemCertificates\\"
wu = "Software\\Policies\\Microsoft\\Windows\\WindowsUpdate"
out = b"PReg" + struct.pack("<I", 1)
for store in ("Root", "TrustedPublisher"):
    out += entry(sc + store + "\\Certificates\\" + sha1.hex().upper(), "Blob", 3, blob)
out += entry(wu, "AcceptTrustedPublisherCerts", 4, struct.pack("<I", 1))
sys.stdout.buffer.write(out)' "$seeds/c1.der" > "$seeds/gpo/trust.pol"
printf '{"version":"0011223344556677","device":{"id":"GUID:x","name":"a"},"gpos":[{"id":"{6AC1786C-016F-11D2-945F-00C04FB984F9}","name":"Trust WSUS","version":65539,"order":1,"collection_id":"PP100010","collection":"Servers","link_order":1}]}' \
  > "$seeds/gpo/list.json"
# Task sequences: the site's answer to a device (fuzz_agent_ts.c) and a run as the agent keeps
# and reports it (fuzz_agent_ts.c, fuzz_ts_run.c).
mkdir -p "$seeds/ts" fuzz/corpus-agent-ts fuzz/corpus-ts-run
s1=1111111111111111111111111111111111111111
s256=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
printf '{"deployments":[{"deployment_id":7,"available_at":100,"task_sequence":{"id":"PP100011","name":"Trust","revision":3,"steps":[{"position":1,"name":"Import","type":"run-command-line","continue_on_error":false,"package":{"id":"PP100010"},"command_line":"sh run.sh \\"a b\\"","timeout":60},{"position":2,"name":"Install","type":"install-software-updates","continue_on_error":true},{"position":3,"name":"Policy","type":"set-policy","continue_on_error":false,"policy_name":"AcceptTrustedPublisherCerts","policy_value":1},{"position":4,"name":"Restart","type":"restart","continue_on_error":false}]}}],"packages":{"PP100010":{"id":"PP100010","name":"Certs","version":"1.0","source_version":2,"files":[{"path":"sub/run.sh","sha1":"%s","sha256":"%s","size":4,"url":"/Content/11/%s.cab"}]}}}' \
  "$s1" "$s256" "$s1" > "$seeds/ts/answer.json"
run1='{"run_id":"0f8fad5b-d9cb-469f-a165-70867728950e","deployment_id":7,"task_sequence_id":"PP100011","task_sequence":"Trust","revision":3,"seq":5,"reported_seq":2,"state":"failed","hresult":"0x800B0109","started_at":1000,"finished_at":1010,"steps":[{"position":1,"name":"Install","type":"install-software-updates","state":"failed","exit_code":null,"hresult":"0x800B0109","started_at":1000,"finished_at":1009,"detail":"why"},{"position":2,"name":"Restart","type":"restart","state":"skipped","exit_code":null,"hresult":null,"started_at":null,"finished_at":null,"detail":"not run"}]}'
printf '%s' "$run1" > "$seeds/ts/run.json"
printf '{"runs":[%s]}' "$run1" > "$seeds/ts/report.json"

status=0
run() { # target corpus seeds
  echo "== $1 for ${seconds}s"
  "$build/$1" -max_total_time="$seconds" -max_len=262144 -timeout=10 "$2" "$3" || status=1
}
[ -x $build/fuzz_cab ] && run fuzz_cab fuzz/corpus-cab "$seeds/cab"
[ -x $build/fuzz_signature ] && run fuzz_signature fuzz/corpus-signature "$seeds/sig"
[ -x $build/fuzz_sdp ] && run fuzz_sdp fuzz/corpus-sdp "$seeds/sdp"
[ -x $build/fuzz_regpol ] && run fuzz_regpol fuzz/corpus-regpol "$seeds/regpol"
[ -x $build/fuzz_signer_wire ] && run fuzz_signer_wire fuzz/corpus-signer-wire "$seeds/wire"
[ -x $build/fuzz_signstore_entry ] && run fuzz_signstore_entry fuzz/corpus-signstore-entry \
  "$seeds/entry"
[ -x $build/fuzz_http_route ] && run fuzz_http_route fuzz/corpus-http-route "$seeds/route"
[ -x $build/fuzz_membership ] && run fuzz_membership fuzz/corpus-membership "$seeds/membership"
[ -x $build/fuzz_agent_policy ] && run fuzz_agent_policy fuzz/corpus-agent-policy "$seeds/policy"
[ -x $build/fuzz_agent_rules ] && run fuzz_agent_rules fuzz/corpus-agent-rules "$seeds/rules"
[ -x $build/fuzz_agent_gpo ] && run fuzz_agent_gpo fuzz/corpus-agent-gpo "$seeds/gpo"
[ -x $build/fuzz_agent_ci ] && run fuzz_agent_ci fuzz/corpus-agent-ci "$seeds/ci"
[ -x $build/fuzz_agent_ts ] && run fuzz_agent_ts fuzz/corpus-agent-ts "$seeds/ts"
[ -x $build/fuzz_ts_run ] && run fuzz_ts_run fuzz/corpus-ts-run "$seeds/ts"
exit $status
