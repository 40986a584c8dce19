#!/usr/bin/env bash
# End to end (DESIGN 2, 5.9): no API response, log line or file outside the key store contains
# private key material, a password or the admin token. A real patchpointd goes through every
# endpoint with key material around (managed sync, publisher create, PFX import with a known key
# and password, show, export, Certificates, the logs API, the signing-store API over HTTPS);
# every response, every file of the data directory but keys/, and the daemon's output are then
# searched for PEM key markers, the secrets, and windows of every private key's bytes (d, p, q,
# dP, dQ, qInv as binary, reversed binary, hex text and base64 of the key's DER). The keys are
# the ones the test made and the ones the signer made, decrypted here with the kek to know them.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../daemon_lib.sh"
. "$(dirname "$0")/../certs.sh"
cd "$TMP" || exit 1
command -v python3 >/dev/null || { echo "1..0 # SKIP python3 missing (scripts/install-deps.sh)"; exit 0; }
command -v openssl >/dev/null || { echo "1..0 # SKIP openssl missing (scripts/install-deps.sh)"; exit 0; }

D=$TMP/data
R=$TMP/resp # every response: NN-name.hdr, NN-name.body, NN-name.status
mkdir -p "$R"
J=(-H 'Content-Type: application/json')
_n=0
# call NAME CURL-ARGS...: one request with the admin token (or $TOKEN_FOR_CALL), saved in $R;
# sets LAST (path prefix).
call() {
  _n=$((_n + 1))
  LAST=$(printf '%s/%02d-%s' "$R" "$_n" "$1")
  shift
  curl -s --max-time 20 -D "$LAST.hdr" -o "$LAST.body" -w '%{http_code}' \
    -H "Authorization: Bearer ${TOKEN_FOR_CALL-$PD_TOKEN}" "$@" >"$LAST.status"
}
st() { cat "$LAST.status"; }
bd() { cat "$LAST.body"; }
wait_sync() { pd_wait_sync "$H" "$PD_TOKEN" "$1"; } # ID: prints the final state
thumb() { openssl x509 -in "$1" -noout -fingerprint -sha1 | sed 's/.*=//; s/://g'; }

# ---- the secrets the test knows ----
mk_selfsigned known "Secrets Test Signing"
mk_selfsigned known2 "Secrets Store Import"
PW="pfx-pw-$(openssl rand -hex 12)"
PW2="pfx-pw2-$(openssl rand -hex 12)"
BADPW="bad-pw-$(openssl rand -hex 12)"
mk_pfx known "$PW"
mk_pfx known2 "$PW2"
WRONG_TOKEN=$(openssl rand -hex 32)
TP_KNOWN=$(thumb known.pem)
TP_KNOWN2=$(thumb known2.pem)
openssl req -x509 -newkey rsa:2048 -nodes -keyout tls.key -out tls.pem -subj "/CN=127.0.0.1" \
  -days 2 -addext "subjectAltName=IP:127.0.0.1" 2>/dev/null

pd_init "$D" >init.out || exit 1
like "init printed the admin token" "$PD_TOKEN" '^[0-9a-f]{64}$'
pd_start main "$D" --sync-interval 0 --listen-tls 127.0.0.1:0 --tls-cert "$TMP/tls.pem" \
  --tls-key "$TMP/tls.key"
H=$PD_URL_main
HS=https://127.0.0.1:$PD_TLS_PORT_main
TLS=(--cacert "$TMP/tls.pem")
PID=$PD_PID_main
SIGNER=$(pgrep -P "$PID")
like "patchpointd serves HTTP and HTTPS" "$PD_TLS_PORT_main" '^[1-9][0-9]*$'

# ---- the flow ----
call status $H/api/v1/status
TOKEN_FOR_CALL=$WRONG_TOKEN call wrong-token $H/api/v1/sites
is "a wrong token: 401" "$(st)" 401
call enable -X PUT "${J[@]}" -d '{"enable_third_party_updates":true,"certificate_mode":"managed"}' \
  $H/api/v1/sites/PP1/third-party-updates
is "enable third-party updates, managed: 200" "$(st)" 200
call sync1 -X POST $H/api/v1/syncs
S1=$(bd | jget sync.id)
is "the managed sync succeeds" "$(wait_sync "$S1")" succeeded
call sync1-get $H/api/v1/syncs/$S1
call sync-latest $H/api/v1/syncs/latest
call certificates $H/api/v1/certificates
TP1=$(bd | jget certificates.0.thumbprint)
like "the managed certificate is in Certificates" "$TP1" '^[0-9A-F]{40}$'
call certificate-1 $H/api/v1/certificates/$TP1
call show-1 $H/api/v1/publisher/certificate
call cer-1 $H/api/v1/publisher/certificate/cer
call status-1 $H/api/v1/publisher/status
is "publisher status ready after the managed sync" "$(bd | jget ready)" true

call create -X POST "${J[@]}" -d '{"subject":"CN=Secrets Publisher","years":1,"exportable":true,"force":true}' \
  $H/api/v1/publisher/certificate
is "publisher certificate create (force): 201" "$(st)" 201
TP2=$(bd | jget certificate.thumbprint)
call show-2 $H/api/v1/publisher/certificate
is "show: the created certificate" "$(bd | jget certificate.thumbprint)" "$TP2"
call cer-2 $H/api/v1/publisher/certificate/cer

PFX=$(base64 -w0 known.pfx)
call import-badpw -X POST "${J[@]}" -d "{\"pfx\":\"$PFX\",\"password\":\"$BADPW\",\"force\":true}" \
  $H/api/v1/publisher/certificate/import
is "import with a wrong password: 422" "$(st)" 422
call import -X POST "${J[@]}" -d "{\"pfx\":\"$PFX\",\"password\":\"$PW\",\"exportable\":true,\"force\":true}" \
  $H/api/v1/publisher/certificate/import
is "import of the known PFX: 201" "$(st)" 201
is "the imported certificate is the known one" "$(bd | jget certificate.thumbprint)" "$TP_KNOWN"
call show-3 $H/api/v1/publisher/certificate
is "show: the imported certificate has its private key" "$(bd | jget certificate.has_private_key)" true
call cer-3 $H/api/v1/publisher/certificate/cer
is "export .cer: the imported certificate, DER" \
  "$(openssl x509 -inform DER -in "$LAST.body" -noout -fingerprint -sha1 | sed 's/.*=//; s/://g')" \
  "$TP_KNOWN"
call status-3 $H/api/v1/publisher/status
call sync2 -X POST $H/api/v1/syncs
S2=$(bd | jget sync.id)
is "a sync after the import succeeds" "$(wait_sync "$S2")" succeeded
call sync2-get $H/api/v1/syncs/$S2
call certificates-2 $H/api/v1/certificates
call certificate-known $H/api/v1/certificates/$TP_KNOWN
is "the imported certificate is in Certificates" "$(st)" 200
call block -X POST $H/api/v1/certificates/$TP1/block
call unblock -X POST $H/api/v1/certificates/$TP1/unblock
call sites $H/api/v1/sites
call site $H/api/v1/sites/PP1
call settings $H/api/v1/sites/PP1/third-party-updates
call sups $H/api/v1/sups

# The signing-store API (HTTPS only): the entries carry certificate DER, never a key.
call store-http $H/api/v1/signing-store
is "signing store over plain HTTP: 403" "$(st)" 403
call store-list "${TLS[@]}" $HS/api/v1/signing-store
is "signing store list over HTTPS: 200" "$(st)" 200
PFX2=$(base64 -w0 known2.pfx)
call store-import-badpw "${TLS[@]}" -X POST "${J[@]}" \
  -d "{\"pfx\":\"$PFX2\",\"password\":\"$BADPW\",\"exportable\":true}" $HS/api/v1/signing-store/import
is "signing store import with a wrong password: 422" "$(st)" 422
call store-import "${TLS[@]}" -X POST "${J[@]}" \
  -d "{\"pfx\":\"$PFX2\",\"password\":\"$PW2\",\"exportable\":true}" $HS/api/v1/signing-store/import
is "signing store import: 201" "$(st)" 201
call store-generate "${TLS[@]}" -X POST "${J[@]}" \
  -d '{"subject":"CN=Secrets Store Generated","days":30,"bits":2048,"exportable":true}' \
  $HS/api/v1/signing-store/generate
is "signing store generate: 201" "$(st)" 201
call store-list-2 "${TLS[@]}" $HS/api/v1/signing-store
like "the list has entries with DER" "$(bd)" '"der":"MII'

for name in wsyncmgr WCM Publisher patchpointd; do
  call "log-$name" "$H/api/v1/logs/$name"
  is "logs API $name: 200" "$(st)" 200
done
is "every call answered (no 000 status)" "$(cat "$R"/*.status | grep -c '^000$')" 0

# ---- the private keys: the test's and, decrypted with the kek, the signer's ----
KEK_PASS=$(xxd -p "$D/keys/kek" | tr -d '\n')
is "the kek is 32 bytes" "$(stat -c %s "$D/keys/kek")" 32
mkdir -p plain
for f in "$D"/keys/*.key; do
  b=$(basename "$f" .key)
  openssl pkey -in "$f" -passin "pass:$KEK_PASS" -out "plain/$b.pem" 2>/dev/null
done
cp known.key plain/test-known.pem
cp known2.key plain/test-known2.pem
nkeys=$(ls "$D"/keys/*.key | wc -l)
is "every key of the signing store decrypts with the kek (the test knows them all)" \
  "$(ls plain/[0-9A-F]*.pem 2>/dev/null | wc -l)" "$nkeys"
like "the signing store holds several keys (managed, publisher, imported, generated)" "$nkeys" \
  '^[3-9]$'
is "the stored key of the imported certificate is the known key" \
  "$(openssl pkey -in "plain/$TP_KNOWN.pem" -pubout 2>/dev/null | sha256sum)" \
  "$(openssl pkey -in known.key -pubout | sha256sum)"
is "the stored key of the signing-store import is the known key" \
  "$(openssl pkey -in "plain/$TP_KNOWN2.pem" -pubout 2>/dev/null | sha256sum)" \
  "$(openssl pkey -in known2.key -pubout | sha256sum)"

# scan.py: FILES... after --keys KEYS... and --strings NAME=VALUE...: prints one line per leak
# ("what<TAB>file<TAB>form"). --mem PID scans a process's memory instead of files.
cat >scan.py <<'EOF'
import base64, re, subprocess, sys

def components(pem):
    out = subprocess.run(["openssl", "rsa", "-in", pem, "-noout", "-text"], capture_output=True,
                         text=True, check=True).stdout
    parts, cur = {}, None
    for line in out.splitlines():
        m = re.match(r"^(\w+):\s*$", line)
        if m:
            cur = m.group(1); parts[cur] = ""; continue
        if cur and line.startswith(" "):
            parts[cur] += line.strip().replace(":", "")
        else:
            cur = None
    return {k: bytes.fromhex(v).lstrip(b"\0") for k, v in parts.items()
            if k in ("privateExponent", "prime1", "prime2", "exponent1", "exponent2", "coefficient")}

def der(pem, trad):
    args = ["openssl", "pkey", "-in", pem, "-outform", "DER"]
    if trad:
        args = ["openssl", "rsa", "-in", pem, "-outform", "DER", "-traditional"]
    return subprocess.run(args, capture_output=True, check=True).stdout

def patterns(pem, memory):
    pats = []
    for name, v in components(pem).items():
        for off in range(0, len(v) - 31, 32):
            w = v[off:off + 32]
            pats.append(("%s[%d:%d]" % (name, off, off + 32), "binary", w))
            pats.append(("%s[%d:%d]" % (name, off, off + 32), "binary-reversed", w[::-1]))
            if not memory:
                pats.append(("%s[%d:%d]" % (name, off, off + 32), "hex", w.hex().encode()))
                pats.append(("%s[%d:%d]" % (name, off, off + 32), "HEX", w.hex().upper().encode()))
    if not memory:
        for trad in (False, True):
            b64 = base64.b64encode(der(pem, trad))
            # The private parts follow the modulus: windows of the second half, 4-aligned.
            for off in range(len(b64) // 2 // 4 * 4, len(b64) - 64, 96):
                pats.append(("%s-DER[b64 %d]" % ("PKCS1" if trad else "PKCS8", off), "base64",
                             b64[off:off + 48]))
    return pats

def main():
    groups = {"--keys": [], "--strings": [], "--files": [], "--mem": []}
    mode = "--files"
    for a in sys.argv[1:]:
        if a in groups:
            mode = a
        else:
            groups[mode].append(a)
    keys, strings, files = groups["--keys"], groups["--strings"], groups["--files"]
    mem = int(groups["--mem"][0]) if groups["--mem"] else None
    pats = []
    for k in keys:
        name = k.rsplit("/", 1)[-1].rsplit(".", 1)[0]
        pats += [(name + " " + p[0], p[1], p[2]) for p in patterns(k, mem is not None)]
    for s in strings:
        name, _, value = s.partition("=")
        pats.append((name, "text", value.encode()))
    if mem is None:
        for f in files:
            data = open(f, "rb").read()
            for what, form, p in pats:
                if p in data:
                    print("%s\t%s\t%s" % (what, f, form))
        return
    # --mem PID: every writable mapping (heap, stacks, anonymous memory) of the process. A
    # 32-byte pattern anywhere covers at least three 8-aligned words of the data: look those up
    # in a set first, and search for the whole pattern only where one matched.
    index = {}
    for i, (what, form, p) in enumerate(pats):
        for off in range(len(p) - 7):
            index.setdefault(int.from_bytes(p[off:off + 8], "little"), set()).add(i)
    count = 0
    with open("/proc/%d/maps" % mem) as maps, open("/proc/%d/mem" % mem, "rb", 0) as m:
        for line in maps:
            f = line.split()
            lo, hi = (int(x, 16) for x in f[0].split("-"))
            if "w" not in f[1] or hi - lo > (1 << 28):
                continue
            try:
                m.seek(lo); data = m.read(hi - lo)
            except OSError:
                continue
            count += len(data)
            words = set(memoryview(data[:len(data) // 8 * 8]).cast("Q"))
            cand = set()
            for w in words & index.keys():
                cand |= index[w]
            where = f[5] if len(f) > 5 else "anonymous"
            for i in sorted(cand):
                what, form, p = pats[i]
                if p in data:
                    print("%s\t%s %s\t%s" % (what, f[0], where, form))
    print("scanned\t%d" % count, file=sys.stderr)

main()
EOF

# What to search: every response, every file of the data directory outside keys/, the
# daemon's stdout and stderr.
scan_files() {
  find "$R" -type f
  find "$D" -path "$D/keys" -prune -o -type f -print
  ls "$TMP"/main.out "$TMP"/main.err
}
check_all() { # PHASE
  local phase=$1 files hits
  mapfile -t files < <(scan_files)
  ok "$phase: there is something to scan (db, logs, machine stores, responses)" \
    test "${#files[@]}" -gt 60
  hits=$(grep -l -a 'PRIVATE KEY' "${files[@]}")
  is "$phase: no 'PRIVATE KEY' PEM marker in any response, log or data file" "$hits" ""
  hits=$(grep -l -a 'BEGIN RSA' "${files[@]}")
  is "$phase: no 'BEGIN RSA' marker anywhere" "$hits" ""
  hits=$(grep -l -a -- '-----BEGIN' "${files[@]}")
  is "$phase: no PEM block at all anywhere" "$hits" ""
  hits=$(python3 scan.py --strings "admin-token=$PD_TOKEN" "pfx-password=$PW" \
    "store-pfx-password=$PW2" "wrong-password=$BADPW" "wrong-token=$WRONG_TOKEN" \
    "kek-passphrase=$KEK_PASS" --files "${files[@]}")
  is "$phase: no admin token, PFX password, refused password, presented wrong token or kek" \
    "$hits" ""
  hits=$(python3 scan.py --strings "pfx-b64-head=${PFX:100:64}" "pfx-b64-tail=${PFX: -200:64}" \
    "store-pfx-b64=${PFX2:300:64}" --files "${files[@]}")
  is "$phase: the uploaded PFX files are echoed or logged nowhere" "$hits" ""
  hits=$(python3 scan.py --keys plain/test-known.pem plain/test-known2.pem --files "${files[@]}")
  is "$phase: no bytes of the imported keys (d, p, q, dP, dQ, qInv; binary, hex, base64 DER)" \
    "$hits" ""
  hits=$(python3 scan.py --keys plain/[0-9A-F]*.pem --files "${files[@]}")
  is "$phase: no bytes of any key of the signing store (managed, publisher, generated)" \
    "$hits" ""
  hits=$(grep -l -a -F "$PD_TOKEN" "$D"/keys/*)
  is "$phase: the admin token is not in the key store either" "$hits" ""
}
check_all "running"

# The scanner finds what it looks for (a planted copy of a window of the known key).
openssl rsa -in known.key -outform DER -traditional -out known.der 2>/dev/null
printf 'padding ' >planted.bin
cat known.der >>planted.bin
like "the scanner finds a planted key (binary)" \
  "$(python3 scan.py --keys plain/test-known.pem --files planted.bin)" 'privateExponent.*binary'
base64 -w 76 known.der >planted.txt
like "the scanner finds a planted key (base64 DER)" \
  "$(python3 scan.py --keys plain/test-known.pem --files planted.txt)" 'PKCS1-DER.*base64'

# ---- the key store itself ----
is "keys/ is 0700" "$(stat -c %a "$D/keys")" 700
is "keys/kek is 0600" "$(stat -c %a "$D/keys/kek")" 600
is "every keys/*.key is 0600" "$(stat -c %a "$D"/keys/*.key | sort -u)" 600
is "every keys/*.key is an encrypted PKCS#8 PEM" \
  "$(head -qn1 "$D"/keys/*.key | sort -u)" "-----BEGIN ENCRYPTED PRIVATE KEY-----"
fails "a key file does not open without the kek" \
  openssl pkey -in "$D/keys/$TP_KNOWN.key" -passin pass:
hits=$(python3 scan.py --keys plain/test-known.pem plain/test-known2.pem --files "$D"/keys/*)
is "no plain bytes of the imported keys in keys/ (they are encrypted)" "$hits" ""
hits=$(python3 scan.py --keys plain/[0-9A-F]*.pem --files "$D"/keys/*)
is "no plain bytes of any stored key in keys/" "$hits" ""
hits=$(python3 scan.py --strings "pfx-password=$PW" "store-pfx-password=$PW2" \
  --files "$D"/keys/*)
is "the PFX passwords are not kept in keys/" "$hits" ""

# ---- the network-facing process holds no key ----
fds=$(ls -l /proc/$PID/fd 2>&1)
like "patchpointd's open files are visible (it has its log open)" "$fds" 'patchpointd\.log'
unlike "patchpointd (the parent) has no file under keys/ open" "$fds" "$D/keys"
like "the signer child does have keys/ open (the check sees it)" \
  "$(ls -l /proc/${SIGNER:-1}/fd 2>&1)" "$D/keys"
if [ -r /proc/$PID/mem ] && python3 -c "open('/proc/$PID/mem','rb')" 2>/dev/null; then
  hits=$(python3 scan.py --keys plain/[0-9A-F]*.pem plain/test-known.pem plain/test-known2.pem \
    --mem "$PID" 2>mem.err)
  like "the memory scan read the process" "$(cat mem.err)" 'scanned	[1-9][0-9]{6,}'
  # Not a failure (DESIGN 2 is about keys), but say so: request passwords left in its memory.
  python3 scan.py --strings "publisher-import-password=$PW" "store-import-password=$PW2" \
    --mem "$PID" 2>/dev/null |
    sed 's/^/# note: still in patchpointd memory after the request: /'
  # Positive control: the same scan finds the known key in a process that holds it.
  python3 -c 'import subprocess, sys, time
held = bytearray(subprocess.run(["openssl", "rsa", "-in", sys.argv[1], "-outform", "DER",
                                 "-traditional"], capture_output=True).stdout)
print("ready", flush=True); time.sleep(60)' known.key >holder.out &
HOLDER=$!
for i in $(seq 100); do grep -q ready holder.out && break; sleep 0.05; done
like "the memory scan finds a key held by another process (control)" \
  "$(python3 scan.py --keys plain/test-known.pem --mem "$HOLDER" 2>/dev/null)" \
  'privateExponent.*binary'
kill "$HOLDER"
wait "$HOLDER" 2>/dev/null
  is "patchpointd's memory holds no private key bytes (they live in the signer only)" "$hits" ""
else
  skip "the memory scan read the process" "/proc/$PID/mem not readable"
  skip "patchpointd's memory holds no private key bytes" "/proc/$PID/mem not readable"
fi

# ---- after a graceful stop (the WAL checkpointed into the database) ----
pd_stop main
is "graceful stop" "$PD_RC" 0
check_all "stopped"

done_testing
