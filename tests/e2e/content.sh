#!/usr/bin/env bash
# End to end: update content served by the sup role of a real patchpointd on 127.0.0.1
# (docs/api.md "Content", src/server/content.c, content_api.c). A signed cabinet made with
# 'patchpoint cab create' is placed by hand at content/XX/<SHA1>.cab before the start; then,
# without a token: the whole file, HEAD (headers and Content-Length, no body, the connection
# still usable), byte ranges (206 with Content-Range), an unsatisfiable range (416), malformed
# and multiple ranges (200 whole), wrong directories and names (404); a byte flipped on disk is
# refused with 503 content_damaged and logged; the start-up scrub names a damaged file; the file
# put right is served again; what a killed publisher left in .incoming is removed at start.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../daemon_lib.sh"
cd "$TMP" || exit 1
command -v python3 >/dev/null || { echo "1..0 # SKIP python3 missing (scripts/install-deps.sh)"; exit 0; }
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy no_proxy NO_PROXY

# ---- the content: a signed cabinet, about 300 KB ----
mkdir payload
head -c 300000 /dev/urandom >payload/setup.exe
echo "readme" >payload/readme.txt
echo "secret" >pw.txt
pp cert new --subject "CN=Content Test" --out-pfx s.pfx --password-file pw.txt >/dev/null 2>&1 ||
  { echo "Bail out! patchpoint cert new failed"; exit 1; }
pp cab create --compress none --sign-pfx s.pfx --password-file pw.txt -o update.cab payload \
  >/dev/null 2>&1 || { echo "Bail out! patchpoint cab create failed"; exit 1; }
SIZE=$(stat -c %s update.cab)
SHA=$(sha1sum update.cab | cut -c1-40 | tr a-f A-F)
XX=${SHA:38:2}
OTHER=$( [ "$XX" == 00 ] && echo 01 || echo 00 )

D=$TMP/data
pd_init "$D" || { echo "Bail out! patchpointd init failed"; exit 1; }
mkdir -p "$D/content/$XX" "$D/content/.incoming"
cp update.cab "$D/content/$XX/$SHA.cab"
FILE=$D/content/$XX/$SHA.cab
echo "half a cab" >"$D/content/.incoming/0123456789abcdef0123456789abcdef.tmp"
LOG=$D/logs/patchpointd.log
pd_start main "$D" --roles sup --sync-interval 0 || { echo "Bail out! patchpointd run failed: $(cat "$TMP/main.err")"; exit 1; }
H=$PD_URL_main
URL=$H/Content/$XX/$SHA.cab

# get OUT [CURL-ARGS...] URL: the status; the body in OUT, the headers in OUT.h
get() {
  local out=$1
  shift
  curl -s --max-time 20 -D "$out.h" -o "$out" -w '%{http_code}' "$@"
}
# header NAME FILE: a header's value from a curl -D file
header() { tr -d '\r' <"$2" | sed -n "s/^$1: //Ip" | tail -n1; }

# ---- start-up ----
like "the scrub is logged" "$(cat "$LOG")" 'content scrub: 1 files checked, 0 damaged'
like "the leftover in .incoming is logged" "$(cat "$LOG")" 'removed 1 unfinished file\(s\) from .*/content/.incoming'
is "the leftover is gone" "$(ls -A "$D/content/.incoming")" ""
is ".incoming is 0700" "$(stat -c %a "$D/content/.incoming")" 700

# ---- the whole file, no token ----
is "GET: 200 without a token" "$(get whole "$URL")" 200
ok "GET: the same bytes" cmp whole update.cab
is "GET: Content-Length" "$(header Content-Length whole.h)" "$SIZE"
is "GET: the CAB content type" "$(header Content-Type whole.h)" application/vnd.ms-cab-compressed
is "GET: Accept-Ranges" "$(header Accept-Ranges whole.h)" bytes
is "GET with a bogus token: 200 all the same" \
  "$(get whole2 -H 'Authorization: Bearer nonsense' "$URL")" 200
ok "GET with a bogus token: the same bytes" cmp whole2 update.cab
LOWER=$(tr A-F a-f <<<"$SHA")
is "GET in lower case (as IIS): 200" "$(get lower "$H/Content/${XX,,}/$LOWER.cab")" 200
ok "GET in lower case: the same bytes" cmp lower update.cab

# ---- HEAD, over a raw socket: no body, and the next request on the connection still parses ----
# Prints: the HEAD status, its Content-Length, the bytes between its headers and the next status
# line, then the pipelined GET's status and whether its body equals update.cab.
head_probe() {
  python3 - "$PD_PORT_main" "/Content/$XX/$SHA.cab" update.cab "$@" <<'PY'
import socket, sys
port, path, ref = int(sys.argv[1]), sys.argv[2], open(sys.argv[3], "rb").read()
extra = "".join(h + "\r\n" for h in sys.argv[4:])
s = socket.create_connection(("127.0.0.1", port), timeout=20)
s.sendall(("HEAD %s HTTP/1.1\r\nHost: x\r\n%s\r\nGET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
           % (path, extra, path)).encode())
data = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    data += b
head, rest = data.split(b"\r\n\r\n", 1)
lines = head.decode().split("\r\n")
length = [l.split(":", 1)[1].strip() for l in lines if l.lower().startswith("content-length:")]
between = rest.find(b"HTTP/1.1 ")
ghead, gbody = rest[between:].split(b"\r\n\r\n", 1)
print(lines[0].split()[1], length[0] if length else "none", between,
      ghead.decode().split()[1], gbody == ref)
PY
}
read -r hs hl hb gs gb <<<"$(head_probe)"
is "HEAD: 200" "$hs" 200
is "HEAD: the Content-Length of the file" "$hl" "$SIZE"
is "HEAD: no body" "$hb" 0
is "HEAD: the next request on the connection is answered" "$gs" 200
is "HEAD: ... with the whole file" "$gb" True
read -r hs hl hb gs gb <<<"$(head_probe 'Range: bytes=0-99')"
is "HEAD with Range: 200 (Range is for GET)" "$hs" 200
is "HEAD with Range: the whole length" "$hl" "$SIZE"
is "HEAD with Range: no body" "$hb" 0
is "curl -I: 200" "$(curl -s -I --max-time 20 -o /dev/null -w '%{http_code}' "$URL")" 200

# ---- ranges ----
is "bytes=0-99: 206" "$(get r1 -H 'Range: bytes=0-99' "$URL")" 206
ok "bytes=0-99: the first 100 bytes" cmp r1 <(head -c 100 update.cab)
is "bytes=0-99: Content-Range" "$(header Content-Range r1.h)" "bytes 0-99/$SIZE"
is "bytes=0-99: Content-Length" "$(header Content-Length r1.h)" 100
is "bytes=-100: 206" "$(get r2 -H 'Range: bytes=-100' "$URL")" 206
ok "bytes=-100: the last 100 bytes" cmp r2 <(tail -c 100 update.cab)
is "bytes=-100: Content-Range" "$(header Content-Range r2.h)" "bytes $((SIZE - 100))-$((SIZE - 1))/$SIZE"
is "bytes=100-: 206" "$(get r3 -H 'Range: bytes=100-' "$URL")" 206
ok "bytes=100-: from byte 100 on" cmp r3 <(dd if=update.cab bs=100 skip=1 2>/dev/null)
is "bytes=100-: Content-Range" "$(header Content-Range r3.h)" "bytes 100-$((SIZE - 1))/$SIZE"
is "bytes=1000-1999: 206" "$(get r4 -H 'Range: bytes=1000-1999' "$URL")" 206
ok "bytes=1000-1999: those bytes" cmp r4 <(dd if=update.cab bs=1000 skip=1 count=1 2>/dev/null)
is "a range past the end is clipped" "$(get r5 -H "Range: bytes=$((SIZE - 10))-$((SIZE + 1000))" "$URL")" 206
ok "... to the last 10 bytes" cmp r5 <(tail -c 10 update.cab)
is "curl -C - resumes a download" \
  "$(head -c 1234 update.cab >resumed; curl -s --max-time 20 -C - -o resumed -w '%{http_code}' "$URL")" 206
ok "... to the whole file" cmp resumed update.cab

is "unsatisfiable: 416" "$(get u1 -H "Range: bytes=$SIZE-" "$URL")" 416
is "unsatisfiable: Content-Range */SIZE" "$(header Content-Range u1.h)" "bytes */$SIZE"
is "unsatisfiable: the JSON error" "$(jfield code "$(cat u1)")" range_not_satisfiable
is "bytes=-0: 416" "$(get u2 -H 'Range: bytes=-0' "$URL")" 416

for r in 'bytes=abc' 'bytes=5-1' 'items=0-9' 'bytes=0-9,20-29' 'bytes=-'; do
  is "Range: $r: 200" "$(get m -H "Range: $r" "$URL")" 200
  ok "Range: $r: the whole file" cmp m update.cab
done

# ---- wrong places, bad names ----
status() { curl -s --max-time 20 -o /dev/null -w '%{http_code}' "$@"; }
is "the wrong directory: 404" "$(status "$H/Content/$OTHER/$SHA.cab")" 404
is "a three-letter directory: 404" "$(status "$H/Content/0$XX/$SHA.cab")" 404
is "not a SHA-1: 404" "$(status "$H/Content/$XX/nothex${SHA:6}.cab")" 404
is "39 digits: 404" "$(status "$H/Content/$XX/${SHA:1}.cab")" 404
is "another extension: 404" "$(status "$H/Content/$XX/$SHA.exe")" 404
is "no extension: 404" "$(status "$H/Content/$XX/$SHA")" 404
is "an escaped slash: 404" "$(status "$H/Content/$XX/..%2F$SHA.cab")" 404
is "well formed, not stored: 404" \
  "$(status "$H/Content/$XX/00000000000000000000000000000000000000$XX.cab")" 404
is "the 404 is JSON not_found" "$(jfield code "$(curl -s --max-time 20 "$H/Content/$OTHER/$SHA.cab")")" not_found
is "POST: 405" "$(status -X POST "$URL")" 405
is ".incoming is not served" "$(status "$H/Content/.incoming/0123456789abcdef0123456789abcdef.tmp")" 404

# ---- a byte flipped on disk ----
flip() { python3 -c 'import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(int(sys.argv[2])); b = f.read(1); f.seek(int(sys.argv[2])); f.write(bytes([b[0] ^ 1]))' "$FILE" "$1"; }
flip 5000
is "damaged: 503" "$(get bad "$URL")" 503
is "damaged: content_damaged" "$(jfield code "$(cat bad)")" content_damaged
like "damaged: the message names the file and both digests" "$(jfield message "$(cat bad)")" \
  "content .*/$XX/$SHA.cab is damaged: its SHA-1 is [0-9A-F]{40}, its name says $SHA"
is "damaged: a range is refused too" "$(get bad2 -H 'Range: bytes=0-99' "$URL")" 503
is "damaged: HEAD is refused too" "$(curl -s -I --max-time 20 -o /dev/null -w '%{http_code}' "$URL")" 503
like "damaged: logged in patchpointd.log" "$(cat "$LOG")" "refused to serve /Content/$XX/$SHA.cab: content .* is damaged"
ok "damaged: the file is left where it is" test -f "$FILE"

# ---- restart with the damaged file: the scrub names it ----
pd_stop main
is "stopped cleanly" "$PD_RC" 0
pd_start main "$D" --roles sup --sync-interval 0 || { echo "Bail out! restart failed: $(cat "$TMP/main.err")"; exit 1; }
URL=$PD_URL_main/Content/$XX/$SHA.cab
like "the scrub counts it" "$(cat "$LOG")" 'content scrub: 1 files checked, 1 damaged'
like "the scrub names it" "$(cat "$LOG")" "content scrub: content .*/$XX/$SHA.cab is damaged"
is "after the restart: still 503" "$(get bad3 "$URL")" 503

# ---- put right, it is served again ----
flip 5000
is "put right: 200" "$(get fixed "$URL")" 200
ok "put right: the same bytes" cmp fixed update.cab

pd_stop main
is "stopped cleanly at the end" "$PD_RC" 0
done_testing
