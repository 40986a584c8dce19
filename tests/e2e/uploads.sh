#!/usr/bin/env bash
# End to end: resumable chunked uploads (docs/api.md "Uploads", src/server/upload.c) against a
# real patchpointd on 127.0.0.1, driven by curl: a 20 MB file in 8 MiB chunks, a chunk cut off
# mid-body (the server reports the acknowledged offset and the upload resumes), a wrong offset
# (409), no token (401), a 9 MiB chunk (413), a digest mismatch, a restart after a kill with a
# torn tail on disk, expiry at start-up, and the received file byte for byte equal to the source.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../daemon_lib.sh"
cd "$TMP" || exit 1
command -v python3 >/dev/null || { echo "1..0 # SKIP python3 missing (scripts/install-deps.sh)"; exit 0; }

D=$TMP/data
pd_init "$D" || exit 1
pd_start main "$D" --sync-interval 0
H=$PD_URL_main
A=(-H "Authorization: Bearer $PD_TOKEN")
J=(-H 'Content-Type: application/json')
O=(-H 'Content-Type: application/octet-stream' -H 'Expect:')
CHUNK=8388608
api() { pd_req "${A[@]}" "$@"; } # body + status line
status() { tail -n1 <<<"$1"; }
body() { sed '$d' <<<"$1"; }
# put ID OFFSET FILE [CURL-ARGS...]: one chunk
put() {
  local id=$1 off=$2 file=$3
  shift 3
  api -X PUT "${O[@]}" --data-binary @"$file" "$@" "$H/api/v1/uploads/$id?offset=$off"
}
# chunk OFFSET LEN: that part of src.bin into chunk.bin
chunk() { python3 -c 'import sys
with open("src.bin", "rb") as f:
    f.seek(int(sys.argv[1])); sys.stdout.buffer.write(f.read(int(sys.argv[2])))' "$1" "$2" >chunk.bin; }

is "the uploads directory is made at start, 0700" "$(stat -c %a "$D/uploads")" 700

# ---- the source: 20 MB, three chunks, the last one short ----
head -c 20000000 /dev/urandom >src.bin
SIZE=$(stat -c %s src.bin)
SHA=$(sha256sum src.bin | cut -c1-64)
SHA1=$(sha1sum src.bin | cut -c1-40)

# ---- no token ----
is "create without a token: 401" "$(status "$(pd_req -X POST "${J[@]}" -d '{"size":1}' \
  $H/api/v1/uploads)")" 401
# The token with its last digit changed (to 1 when it was 0): never the token itself.
WRONG=${PD_TOKEN%?}$([ "${PD_TOKEN: -1}" = 0 ] && echo 1 || echo 0)
is "create with a wrong token: 401" "$(status "$(pd_req -H "Authorization: Bearer $WRONG" \
  -X POST "${J[@]}" -d '{"size":1}' $H/api/v1/uploads)")" 401

# ---- create ----
r=$(api -X POST "${J[@]}" -d "{\"size\":$SIZE,\"sha256\":\"$SHA\",\"name\":\"src.bin\"}" \
  $H/api/v1/uploads)
is "create: 201" "$(status "$r")" 201
b=$(body "$r")
ID=$(jfield id "$b")
like "the id is 32 lower-case hex digits" "$ID" '^[0-9a-f]{32}$'
is "size as declared" "$(jfield size "$b")" "$SIZE"
is "nothing received yet" "$(jfield received "$b")" 0
is "the server asks for 8 MiB chunks" "$(jfield chunk_size "$b")" "$CHUNK"
is "not complete" "$(jfield complete "$b")" false
is "the name comes back" "$(jfield name "$b")" src.bin
is "the expected digest comes back" "$(jfield sha256 "$b")" "$SHA"
is "the record and the data file are 0600" "$(stat -c %a "$D/uploads/$ID.json" "$D/uploads/$ID.part" |
  sort -u)" 600
chunk 0 $CHUNK
is "a chunk without a token: 401" "$(status "$(pd_req -X PUT "${O[@]}" --data-binary @chunk.bin \
  "$H/api/v1/uploads/$ID?offset=0")")" 401
is "GET without a token: 401" "$(status "$(pd_req "$H/api/v1/uploads/$ID")")" 401
is "DELETE without a token: 401" "$(status "$(pd_req -X DELETE "$H/api/v1/uploads/$ID")")" 401
is "nothing was written without a token" "$(stat -c %s "$D/uploads/$ID.part")" 0

# ---- the first chunk, then wrong offsets ----
r=$(put "$ID" 0 chunk.bin)
is "chunk 1: 200" "$(status "$r")" 200
is "chunk 1 acknowledged" "$(jfield received "$(body "$r")")" $CHUNK
r=$(put "$ID" 0 chunk.bin)
is "the same chunk again: 409" "$(status "$r")" 409
is "409 is offset_mismatch" "$(jfield code "$(body "$r")")" offset_mismatch
is "the message gives the offset to send from" "$(jfield message "$(body "$r")")" \
  "upload $ID has $CHUNK bytes; send from offset $CHUNK"
is "a chunk from too far ahead: 409" "$(status "$(put "$ID" $((3 * CHUNK)) chunk.bin)")" 409
is "after the refusals the upload still has one chunk" \
  "$(jfield received "$(body "$(api "$H/api/v1/uploads/$ID")")")" $CHUNK

# ---- chunks the server must refuse ----
head -c 9437184 /dev/zero >nine.bin
r=$(put "$ID" $CHUNK nine.bin)
is "a 9 MiB chunk: 413" "$(status "$r")" 413
is "413 is the JSON payload_too_large" "$(jfield code "$(body "$r")")" payload_too_large
like "413 names the chunk limit" "$(jfield message "$(body "$r")")" '8388608 bytes'
chunk $CHUNK $CHUNK
r=$(api -X PUT -H 'Content-Type: application/json' -H 'Expect:' --data-binary @chunk.bin \
  "$H/api/v1/uploads/$ID?offset=$CHUNK")
is "a chunk that is not application/octet-stream: 415" "$(status "$r")" 415
is "a chunk without offset: 400" "$(status "$(api -X PUT "${O[@]}" --data-binary @chunk.bin \
  "$H/api/v1/uploads/$ID")")" 400
is "a chunk with offset=-1: 400" "$(status "$(put "$ID" -1 chunk.bin)")" 400
is "a chunk with offset=1x: 400" "$(status "$(put "$ID" 1x chunk.bin)")" 400

# ---- a chunk cut off mid-body: the connection drops after 1 MiB of 8 ----
python3 - "$PD_PORT_main" "$ID" "$PD_TOKEN" $CHUNK <<'EOF'
import socket, sys
port, uid, token, off = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
s = socket.create_connection(("127.0.0.1", port))
s.sendall(("PUT /api/v1/uploads/%s?offset=%s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
           "Authorization: Bearer %s\r\nContent-Type: application/octet-stream\r\n"
           "Content-Length: 8388608\r\n\r\n" % (uid, off, token)).encode())
s.sendall(b"\x55" * (1 << 20))
s.close()
EOF
r=$(api "$H/api/v1/uploads/$ID")
is "after the cut chunk GET: 200" "$(status "$r")" 200
is "the server reports the acknowledged offset" "$(jfield received "$(body "$r")")" $CHUNK
is "the data file holds only what was acknowledged" "$(stat -c %s "$D/uploads/$ID.part")" $CHUNK
r=$(put "$ID" $CHUNK chunk.bin)
is "the chunk sent again from the reported offset: 200" "$(status "$r")" 200
is "two chunks acknowledged" "$(jfield received "$(body "$r")")" $((2 * CHUNK))

# ---- a crash: kill -9, a torn tail on disk, restart ----
# A chunk that is not the last is answered once received and written behind the answer; a PUT
# of no bytes waits for that write (it takes the upload's lock) and answers what is recorded.
r=$(api -X PUT "${O[@]}" --data-binary @/dev/null "$H/api/v1/uploads/$ID?offset=$((2 * CHUNK))")
is "an empty PUT after the chunk: 200" "$(status "$r")" 200
is "it answers once the chunk before is written and recorded" \
  "$(jfield received "$(body "$r")")" $((2 * CHUNK))
pd_kill main
head -c 123457 /dev/urandom >>"$D/uploads/$ID.part"
pd_start main "$D" --sync-interval 0
H=$PD_URL_main
r=$(api "$H/api/v1/uploads/$ID")
is "after the restart the upload is there" "$(status "$r")" 200
is "received is what was acknowledged, not the torn tail" "$(jfield received "$(body "$r")")" \
  $((2 * CHUNK))
is "a chunk at the end of the torn tail: 409" \
  "$(status "$(put "$ID" $((2 * CHUNK + 123457)) chunk.bin)")" 409

# ---- the rest, each chunk from the offset the server reports ----
off=$(jfield received "$(body "$r")")
n=0
while [ "$off" -lt "$SIZE" ] && [ $n -lt 10 ]; do
  len=$((SIZE - off < CHUNK ? SIZE - off : CHUNK))
  chunk "$off" "$len"
  r=$(put "$ID" "$off" chunk.bin)
  [ "$(status "$r")" == 200 ] || break
  off=$(jfield received "$(body "$r")")
  n=$((n + 1))
done
is "every chunk acknowledged" "$off" "$SIZE"
b=$(body "$r")
is "the last chunk completes the upload" "$(jfield complete "$b")" true
is "the digest of the complete upload is the source's" "$(jfield sha256 "$b")" "$SHA"
is "and its SHA-1 too" "$(jfield sha1 "$b")" "$SHA1"
ok "the received file equals the source" cmp "$D/uploads/$ID.part" src.bin
is "GET of the complete upload" "$(jfield complete "$(body "$(api "$H/api/v1/uploads/$ID")")")" true
r=$(put "$ID" "$SIZE" chunk.bin)
is "a chunk after the last: 400" "$(status "$r")" 400
is "past the declared size is size_exceeded" "$(jfield code "$(body "$r")")" size_exceeded
ok "the complete file is unchanged by it" cmp "$D/uploads/$ID.part" src.bin

# ---- digest mismatch ----
head -c 1000 src.bin >small.bin
OTHER=$(printf other | sha256sum | cut -c1-64)
SMALL=$(sha256sum small.bin | cut -c1-64)
r=$(api -X POST "${J[@]}" -d "{\"size\":1000,\"sha256\":\"$OTHER\"}" $H/api/v1/uploads)
ID2=$(jfield id "$(body "$r")")
r=$(put "$ID2" 0 small.bin)
is "a complete upload with another digest: 400" "$(status "$r")" 400
is "400 is digest_mismatch" "$(jfield code "$(body "$r")")" digest_mismatch
is "the message gives both digests" "$(jfield message "$(body "$r")")" \
  "upload $ID2: SHA-256 of the received 1000 bytes is $SMALL, expected $OTHER"
is "the mismatched upload is gone" "$(status "$(api "$H/api/v1/uploads/$ID2")")" 404
ok "and nothing of it is left on disk" test ! -e "$D/uploads/$ID2.part" -a ! -e "$D/uploads/$ID2.json"

# ---- the digest declared with the last chunk (a client that hashes while it sends) ----
SMALL1=$(sha1sum small.bin | cut -c1-40)
head -c 600 small.bin >first.bin
tail -c 400 small.bin >rest.bin
r=$(api -X POST "${J[@]}" -d '{"size":1000}' $H/api/v1/uploads)
ID4=$(jfield id "$(body "$r")")
is "no digest before one is declared" "$(jfield sha256 "$(body "$(put "$ID4" 0 first.bin)")")" ""
r=$(api -X PUT "${O[@]}" --data-binary @rest.bin "$H/api/v1/uploads/$ID4?offset=600&sha256=$OTHER")
is "the last chunk with another digest: 400" "$(status "$r")" 400
is "and it is digest_mismatch" "$(jfield code "$(body "$r")")" digest_mismatch
is "the mismatched upload is gone too" "$(status "$(api "$H/api/v1/uploads/$ID4")")" 404
r=$(api -X POST "${J[@]}" -d '{"size":1000}' $H/api/v1/uploads)
ID4=$(jfield id "$(body "$r")")
r=$(put "$ID4" 0 first.bin)
r=$(api -X PUT "${O[@]}" --data-binary @rest.bin "$H/api/v1/uploads/$ID4?offset=600&sha256=$SMALL")
is "the last chunk with its digest: 200" "$(status "$r")" 200
is "it completes" "$(jfield complete "$(body "$r")")" true
is "with that SHA-256" "$(jfield sha256 "$(body "$r")")" "$SMALL"
is "and the SHA-1 of the data" "$(jfield sha1 "$(body "$r")")" "$SMALL1"
r=$(api -X POST "${J[@]}" -d "{\"size\":1000,\"sha256\":\"$SMALL\"}" $H/api/v1/uploads)
ID5=$(jfield id "$(body "$r")")
r=$(api -X PUT "${O[@]}" --data-binary @first.bin "$H/api/v1/uploads/$ID5?offset=0&sha256=$OTHER")
is "a chunk declaring a digest other than the created one: 400" "$(status "$r")" 400
is "the message names both" "$(jfield message "$(body "$r")")" \
  "upload $ID5 was declared with SHA-256 $SMALL, not $OTHER"
is "nothing of that chunk was kept" "$(jfield received "$(body "$(api "$H/api/v1/uploads/$ID5")")")" 0
r=$(api -X PUT "${O[@]}" --data-binary @first.bin "$H/api/v1/uploads/$ID5?offset=0&sha256=abc")
is "a chunk with a malformed sha256: 400" "$(status "$r")" 400

# ---- bad requests ----
r=$(api -X POST "${J[@]}" -d '{"size":10}' $H/api/v1/uploads)
ID3=$(jfield id "$(body "$r")")
head -c 11 src.bin >eleven.bin
is "11 bytes into a 10-byte upload: 400" "$(status "$(put "$ID3" 0 eleven.bin)")" 400
is "create without size: 400" "$(status "$(api -X POST "${J[@]}" -d '{}' $H/api/v1/uploads)")" 400
is "create with an unknown field: 400" "$(status "$(api -X POST "${J[@]}" \
  -d '{"size":1,"sha":"x"}' $H/api/v1/uploads)")" 400
r=$(api -X POST "${J[@]}" -d '{"size":9663676416}' $H/api/v1/uploads)
is "create of 9 GiB: 400" "$(status "$r")" 400
is "9 GiB is size_exceeded" "$(jfield code "$(body "$r")")" size_exceeded
is "create with a bad sha256: 400" "$(status "$(api -X POST "${J[@]}" \
  -d '{"size":1,"sha256":"abc"}' $H/api/v1/uploads)")" 400
is "create with a name holding '/': 400" "$(status "$(api -X POST "${J[@]}" \
  -d '{"size":1,"name":"../x"}' $H/api/v1/uploads)")" 400
r=$(api "$H/api/v1/uploads/0123456789ABCDEF0123456789abcdef")
is "a malformed id: 400" "$(status "$r")" 400
like "the message says what an id is" "$(jfield message "$(body "$r")")" '32 lower-case hex'
is "an encoded path in the id: 404" "$(status "$(api "$H/api/v1/uploads/..%2F..%2Fpatchpoint.db")")" 404
is "an unknown id: 404" "$(status "$(api "$H/api/v1/uploads/0123456789abcdef0123456789abcdef")")" 404
is "a chunk to an unknown id: 404" "$(status "$(put 0123456789abcdef0123456789abcdef 0 small.bin)")" 404

# ---- delete ----
is "DELETE: 204" "$(status "$(api -X DELETE "$H/api/v1/uploads/$ID3")")" 204
is "GET after DELETE: 404" "$(status "$(api "$H/api/v1/uploads/$ID3")")" 404
is "DELETE again: 404" "$(status "$(api -X DELETE "$H/api/v1/uploads/$ID3")")" 404

# ---- expiry at start-up: an upload untouched for two days goes, a fresh one stays ----
r=$(api -X POST "${J[@]}" -d '{"size":10}' $H/api/v1/uploads)
OLD=$(jfield id "$(body "$r")")
pd_stop main
touch -d '2 days ago' "$D/uploads/$OLD.json" "$D/uploads/$OLD.part"
pd_start main "$D" --sync-interval 0
H=$PD_URL_main
is "the abandoned upload expired at start-up" "$(status "$(api "$H/api/v1/uploads/$OLD")")" 404
is "the complete one is still there" "$(status "$(api "$H/api/v1/uploads/$ID")")" 200
like "the expiry is logged" "$(cat "$D/logs/patchpointd.log")" 'removed 1 upload\(s\) untouched'
ok "the complete upload survived the restarts byte for byte" cmp "$D/uploads/$ID.part" src.bin

pd_stop main
is "patchpointd stops cleanly" "$PD_RC" 0
done_testing
