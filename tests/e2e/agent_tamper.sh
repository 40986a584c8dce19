#!/usr/bin/env bash
# End to end: a compromised server (issue 5, scenario 3, "content tampered on the server":
# 0x80096010 TRUST_E_BAD_DIGEST on the device), patchpoint-agent against a real patchpointd on
# 127.0.0.1. A custom update whose install.sh writes a marker is published, deployed to All
# Systems and installed on device A (the genuine content is trusted). Then an attacker with
# write access to the data directory stops the server and changes bytes inside the signed part
# of the CAB (the install.sh data of its CFDATA block, its CFDATA checksum recomputed, so the
# cabinet stays well-formed), and rewrites every digest the server records for that content:
# the content-addressed path (content/XX/<SHA-1>.cab), update_content's sha1, sha256, size and
# input_sha256, the sdp:OriginFile Digest of install.sh in the SDP and updates.sdp_sha256.
# The restarted server's start-up scrub and its check on every read pass, and so does the
# agent's file-digest check against the metadata (no 0x80246002); only the Authenticode digest
# check catches it: device B refuses the install with 0x80096010 (WUAHandler.log, compliance
# Failed 0x80096010, no marker, diagnose says the bytes are the cause, the download is not kept)
# and again on a retry, and `patchpoint verify` on the served CAB says 0x80096010 where the
# genuine one is OK.
# (Content damaged on the server whose digests were not rewritten is refused by the server
# itself: tests/e2e/agent_updates.sh.)
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=tests/daemon_lib.sh
. "$(dirname "$0")/../daemon_lib.sh"
cd "$TMP" || exit 1
command -v python3 >/dev/null || { echo "1..0 # SKIP python3 missing (scripts/install-deps.sh)"; exit 0; }
[ -x "${PATCHPOINT_AGENT:-}" ] || { echo "1..0 # SKIP patchpoint-agent not built"; exit 0; }
unset PATCHPOINT_SERVER PATCHPOINT_TOKEN PATCHPOINT_CA_BUNDLE PATCHPOINT_LOG PATCHPOINT_MACHINE

D=$TMP/site
pd_init "$D" || { echo "Bail out! patchpointd init failed"; exit 1; }
pd_start A "$D" || { echo "Bail out! patchpointd run failed"; exit 1; }
H=$PD_URL_A
export PATCHPOINT_SERVER=$H PATCHPOINT_TOKEN=$PD_TOKEN
A=(-H "Authorization: Bearer $PD_TOKEN")
J=(-H 'Content-Type: application/json')
api() { curl -s --max-time 20 "${A[@]}" "$@"; }
agent() { "$PATCHPOINT_AGENT" "$@"; }
run() { "$@" >"$TMP/run.out" 2>"$TMP/run.err"; RC=$?; OUT=$(cat "$TMP/run.out"); ERR=$(cat "$TMP/run.err"); }
jq_py() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
msgs() { sed 's/^<!\[LOG\[\(.*\)\]LOG\]!>.*/\1/' "$1/logs/$2.log"; }
register() { # MACHINE NAME
  agent --machine "$1" register --server "$H" --enrollment-key "$KEY" --name "$2" >/dev/null
}
FAILED_LINE='Failed to download updates to the WUAgent datastore. Error = '
BAD_DIGEST='0x80096010 TRUST_E_BAD_DIGEST: The digital signature of the object did not verify.'

pp sup set --third-party on --cert-mode managed >/dev/null
pp sync --wait >/dev/null || { echo "Bail out! the sync failed"; exit 1; }
pp publisher cert export --out wsus.cer >/dev/null
TP=$(openssl x509 -inform DER -in wsus.cer -noout -fingerprint -sha1 | sed 's/.*=//; s/://g')
SUBJECT=$(openssl x509 -inform DER -in wsus.cer -noout -subject -nameopt RFC2253 | sed 's/^subject=//')
KEY=$(api -X POST "${J[@]}" -d '{"name":"e2e"}' "$H/api/v1/enrollment-keys" | jq_py 'd["key"]')
api -X PATCH "${J[@]}" -d '{"settings":{"third-party":true}}' \
  "$H/api/v1/client-settings/Default%20Client%20Settings" >/dev/null

# The update: install.sh writes a marker named after the machine directory (its working
# directory is <machine>/agent/staging/<id>.XXXXXX) into the directory given as argument.
MARK=$TMP/markers
mkdir -p content "$MARK"
cat > content/install.sh <<'EOF'
#!/bin/sh
m=$(cd ../../.. && basename "$PWD")
echo installed > "$1/$m"
EOF
pp publish --new --title "Marker Tool" --vendor Contoso --product Tools --version 1.0 \
  --program install.sh --arguments "$MARK" --content content/install.sh >pub.out 2>&1 ||
  { echo "Bail out! publish failed: $(cat pub.out)"; exit 1; }
UPD=$(sed -n 's/^Update ID: *//p' pub.out)
SHA1=$(sed -n 's/^SHA-1: *//p' pub.out)
SHA256=$(sed -n 's/^SHA-256: *//p' pub.out)
CAB=$D/content/${SHA1: -2}/$SHA1.cab
pp deploy "$UPD" >/dev/null 2>&1 || { echo "Bail out! deploy failed"; exit 1; }
[ -f "$CAB" ] || { echo "Bail out! no CAB at $CAB"; exit 1; }
cp "$CAB" genuine.cab

# ---- the genuine content installs on device A ----
register ma device-a
agent --machine ma trigger machine-policy >/dev/null 2>&1
agent --machine ma trigger software-updates-scan >/dev/null 2>&1
run agent --machine ma trigger software-updates-deployment-evaluation
is "A: the genuine content installs" "$RC|$(head -n1 <<<"$OUT")" "0|Update $UPD (Marker Tool) was installed"
is "A's marker" "$(cat "$MARK/ma" 2>&1)" installed
is "the genuine CAB verifies on A" "$(pp verify --machine ma --sha1 "$SHA1" --sha256 "$SHA256" genuine.cab 2>&1)" OK

# ---- the attacker: stops the server, alters the signed bytes, rewrites every record ----
PORT=$PD_PORT_A
pd_stop A
is "the server stops" "$PD_RC" 0
# tamper DATA_DIR UPDATE OLD NEW: replaces OLD by NEW (as long) in the CFDATA block that holds
# it, recomputes that block's checksum, then rewrites what the server records; prints the new
# SHA-1 and SHA-256.
tamper() {
  python3 - "$@" <<'EOF'
import base64, hashlib, os, sqlite3, struct, sys
data_dir, update_id, old, new = sys.argv[1], sys.argv[2], sys.argv[3].encode(), sys.argv[4].encode()
assert len(old) == len(new), "as long, so that no offset changes"
db = sqlite3.connect(os.path.join(data_dir, "patchpoint.db"))
rev, sdp = db.execute("SELECT revision, sdp FROM updates WHERE id = ?", (update_id,)).fetchone()
sha1, size, input_sha256 = db.execute(
    "SELECT sha1, size, input_sha256 FROM update_content WHERE update_id = ? AND revision = ?",
    (update_id, rev)).fetchone()
path = os.path.join(data_dir, "content", sha1[-2:], sha1 + ".cab")
with open(path, "rb") as f:
    cab = bytearray(f.read())
assert hashlib.sha1(cab).hexdigest().upper() == sha1 and len(cab) == size

def u16(o): return struct.unpack_from("<H", cab, o)[0]
def u32(o): return struct.unpack_from("<I", cab, o)[0]

def checksum(b, seed=0):  # the CFDATA checksum (MS-CAB; src/lib/cab.c cab_checksum)
    c, n = seed, len(b) // 4
    for i in range(n):
        c ^= struct.unpack_from("<I", b, 4 * i)[0]
    tail = 0
    for x in b[4 * n:]:
        tail = tail << 8 | x
    return c ^ tail

# CFHEADER (with its reserve: a signed cabinet), the one CFFOLDER, its CFDATA blocks, CFFILEs.
cb_data, pos = 0, 0x24
if u16(0x1E) & 4:
    cb_data, pos = cab[0x27], 0x28 + u16(0x24)
assert u16(0x1A) == 1 and u16(pos + 6) == 0, "one folder, stored"
blocks, off = [], u32(pos)
for _ in range(u16(pos + 4)):
    start = off + 8 + cb_data
    blocks.append((off, start, u16(off + 4)))
    off = start + u16(off + 4)
files, off = [], u32(0x10)
for _ in range(u16(0x1C)):
    end = cab.index(b"\0", off + 16)
    files.append((cab[off + 16:end].decode(), u32(off + 4), u32(off)))
    off = end + 1

def file_digests():  # name: (SHA-1, SHA-256) of each file inside
    data = b"".join(bytes(cab[s:s + n]) for _, s, n in blocks)
    return {name: (hashlib.sha1(data[u:u + n]).digest(), hashlib.sha256(data[u:u + n]).digest())
            for name, u, n in files}

def input_digest(d):  # src/server/publish.c input_digest
    h = hashlib.sha256()
    for name in sorted(d):
        h.update(name.encode() + b"\0" + d[name][1])
    return h.hexdigest()

before = file_digests()
assert input_digest(before) == input_sha256, "input_sha256 is the digest of the files inside"
for off, start, n in blocks:
    i = cab.find(old, start, start + n)
    if i >= 0:
        cab[i:i + len(old)] = new
        struct.pack_into("<I", cab, off,
                         checksum(cab[off + 4:off + 8], checksum(cab[start:start + n])))
        break
else:
    sys.exit("no CFDATA block holds %r" % old)
after = file_digests()

sdp = bytes(sdp)
for name in before:
    a, b = (b'Digest="' + base64.b64encode(x[name][0]) + b'"' for x in (before, after))
    if a != b:
        assert sdp.count(a) == 1, "one sdp:OriginFile of " + name
        sdp = sdp.replace(a, b)

new_sha1, new_sha256 = hashlib.sha1(cab).hexdigest().upper(), hashlib.sha256(cab).hexdigest()
new_dir = os.path.join(data_dir, "content", new_sha1[-2:])
os.makedirs(new_dir, mode=0o755, exist_ok=True)
new_path = os.path.join(new_dir, new_sha1 + ".cab")
with open(new_path, "wb") as f:
    f.write(cab)
os.chmod(new_path, 0o444)
with db:
    db.execute("UPDATE update_content SET sha1 = ?, sha256 = ?, size = ?, input_sha256 = ? "
               "WHERE update_id = ? AND revision = ?",
               (new_sha1, new_sha256, len(cab), input_digest(after), update_id, rev))
    db.execute("UPDATE updates SET sdp = ?, sdp_sha256 = ? WHERE id = ?",
               (sdp, hashlib.sha256(sdp).hexdigest(), update_id))
db.close()
os.unlink(path)
print(new_sha1, new_sha256)
EOF
}
read -r T_SHA1 T_SHA256 < <(tamper "$D" "$UPD" 'echo installed' 'echo backdoor!')
[ -n "${T_SHA1:-}" ] || { echo "Bail out! the tampering failed"; exit 1; }
T_CAB=$D/content/${T_SHA1: -2}/$T_SHA1.cab
ok "the tampered CAB is at its new content-addressed path" test -f "$T_CAB"
fails "the genuine one is gone" test -e "$CAB"
is "its SHA-1 is its name" "$(sha1sum "$T_CAB" | cut -d' ' -f1)" "${T_SHA1,,}"
is "as long as the genuine one" "$(stat -c %s "$T_CAB")" "$(stat -c %s genuine.cab)"
# cbCabinet (CFHEADER offset 8) ends the cabinet proper; the PKCS#7 signature follows it.
SIGNED_END=$(od -An -tu4 -j8 -N4 genuine.cab | tr -d ' ')
like "only bytes before the signature changed (changed, beyond byte $SIGNED_END)" \
  "$(cmp -l genuine.cab "$T_CAB" | awk -v end="$SIGNED_END" '{n++; if ($1 > end) out++} END {print n + 0, out + 0}')" \
  '^[1-9][0-9]* 0$'
ok "it is a well-formed cabinet: its CFDATA checksum was recomputed" pp cab extract "$T_CAB" -d inside
if command -v cabextract >/dev/null; then
  ok "cabextract tests it clean" cabextract -t -q "$T_CAB"
else
  skip "cabextract tests it clean" "cabextract missing"
fi

pd_start A "$D" --listen "127.0.0.1:$PORT" || { echo "Bail out! restart failed"; exit 1; }
like "the restarted server's start-up scrub finds nothing damaged" "$(msgs "$D" patchpointd)" \
  '^content scrub: 1 files checked, 0 damaged$'
ok "it still has its content record (the start-up sweep kept the file)" test -f "$T_CAB"
is "the server serves the tampered content" \
  "$(curl -s --max-time 20 -o served.cab -w '%{http_code}' "$H/Content/${T_SHA1: -2}/$T_SHA1.cab")|$(sha1sum <served.cab | cut -d' ' -f1)" \
  "200|${T_SHA1,,}"
is "it records the rewritten digests" \
  "$(pp updates show "$UPD" --json | jq_py '[(c["sha1"], c["sha256"], c["size"]) for c in d["content"]]')" \
  "[('$T_SHA1', '$T_SHA256', $(stat -c %s "$T_CAB"))]"
# shellcheck disable=SC2016 # the installer's own text
is "what it installs is the attacker's" "$(tail -n1 inside/install.sh)" 'echo backdoor! > "$1/$m"'
like "and its SDP's OriginFile digest is that file's" "$(pp updates show "$UPD" --sdp)" \
  "<sdp:OriginFile Digest=\"$(openssl dgst -sha1 -binary inside/install.sh | base64)\" FileName=\"install.sh\""

# ---- device B gets the tampered content and refuses it ----
register mb device-b
agent --machine mb trigger machine-policy >/dev/null 2>&1
run agent --machine mb trigger software-updates-scan
is "B: the update is Required" "$RC|$(head -n1 <<<"$OUT")" "0|Update $UPD (Marker Tool) is Required"
is "B got the rewritten metadata" \
  "$(jq_py '(d["content"]["sha1"], d["content"]["sha256"])' <"mb/agent/updates/$UPD.1.json")" \
  "('$T_SHA1', '$T_SHA256')"
run agent --machine mb trigger software-updates-deployment-evaluation
is "B: the evaluation fails" "$RC" 1
is "in one line on stderr" "$ERR" \
  "patchpoint-agent: 1 update(s) failed to install; 'patchpoint-agent diagnose' explains why"
is "the Authenticode check refuses it with 0x80096010" "$OUT" \
  "Update $UPD (Marker Tool) failed to install: the content digest does not match the digest in the signature of $SUBJECT (thumbprint $TP); the file was changed after it was signed (0x80096010 TRUST_E_BAD_DIGEST)
Sent 1 state message(s)"
is "WUAHandler.log has the Windows line, exactly" \
  "$(msgs mb WUAHandler | grep -c -x -F "${FAILED_LINE}0x80096010")" 1
is "no other failure line (the file-digest check against the metadata passed)" \
  "$(msgs mb WUAHandler | grep -c -F "$FAILED_LINE")" 1
unlike "no 0x80246002" "$(msgs mb WUAHandler)" '0x80246002'
like "it was downloaded from the server" "$(msgs mb WUAHandler)" \
  "^Downloading $H/Content/${T_SHA1: -2}/$T_SHA1\.cab \([0-9]+ bytes\) for update $UPD$"
fails "no marker on B" test -e "$MARK/mb"
unlike "no installer ran" "$(cat mb/logs/UpdatesHandler.log 2>/dev/null)" 'Running '
is "no staging directory left" "$(ls mb/agent/staging 2>/dev/null)" ""
is "the queue is empty" "$(ls mb/agent/queue)" ""
is "compliance: Failed 0x80096010" \
  "$(pp compliance "$UPD" | awk '$1 == "device-b" {print $2, $3}')" "Failed 0x80096010"
is "compliance --json: the HRESULT and the detail" \
  "$(pp compliance "$UPD" --json | jq_py "[(x['status'], x['hresult'], x['detail']) for x in d['devices'] if x['device'] == 'device-b'][0]")" \
  "('Failed', '0x80096010', 'the content digest does not match the digest in the signature of $SUBJECT (thumbprint $TP); the file was changed after it was signed')"
is "A stays Installed" "$(pp compliance "$UPD" | awk '$1 == "device-a" {print $2}')" Installed
run agent --machine mb diagnose
like "diagnose names the code" "$OUT" \
  "^Update $UPD \(Marker Tool\), revision 1: the last install failed with $BAD_DIGEST "
like "and says the bytes, not the stores, are the cause" "$OUT" \
  " The content was changed after it was signed \(the content digest does not match .*\), so no certificate store or policy value on this machine can make it install: the copy the site served is not what was published\."
unlike "it does not send the administrator to the certificate stores" "$OUT" 'next machine policy cycle puts'
B_CAB=mb/agent/cache/$T_SHA1.cab
fails "the tampered download is not kept in the cache" test -e "$B_CAB"
is "WUAHandler.log says so" \
  "$(msgs mb WUAHandler | grep -c -x -F "Removed the cached content of update $UPD: it was changed after it was signed")" 1

# ---- the toolkit agrees ----
curl -s --max-time 20 -o served.cab "$H/Content/${T_SHA1: -2}/$T_SHA1.cab"
is "the server serves the tampered CAB" "$(cmp served.cab "$T_CAB" 2>&1 && echo same)" same
run pp verify --machine mb --sha1 "$T_SHA1" --sha256 "$T_SHA256" served.cab
is "patchpoint verify on it: 0x80096010, exit 1" "$RC|$OUT" "1|$BAD_DIGEST"
is "with the reason on stderr" "$ERR" \
  "patchpoint: served.cab: the content digest does not match the digest in the signature of $SUBJECT (thumbprint $TP); the file was changed after it was signed"
run pp verify --machine mb --sha1 "$SHA1" --sha256 "$SHA256" genuine.cab
is "the genuine CAB verifies on B" "$RC|$OUT" "0|OK"

# ---- a retry downloads it again and fails the same way ----
run agent --machine mb trigger software-updates-deployment-evaluation
like "retried: 0x80096010 again" "$RC|$OUT" "^1\|Update $UPD \(Marker Tool\) failed to install: .*\(0x80096010 TRUST_E_BAD_DIGEST\)"
is "downloaded again, not taken from the cache" \
  "$(msgs mb WUAHandler | grep -c -E "^Downloading $H/Content/${T_SHA1: -2}/$T_SHA1\.cab ")" 2
is "WUAHandler.log: a second line" "$(msgs mb WUAHandler | grep -c -x -F "${FAILED_LINE}0x80096010")" 2
fails "still no marker on B" test -e "$MARK/mb"
is "compliance: still Failed 0x80096010" \
  "$(pp compliance "$UPD" | awk '$1 == "device-b" {print $2, $3}')" "Failed 0x80096010"
pd_stop A
done_testing
