#!/usr/bin/env bash
# End to end: the HTTP(S) server module (src/server/httpd) through tests/e2e/httpd_testserver,
# on 127.0.0.1 with ephemeral ports, HTTP and HTTPS (a throwaway CA made here), driven by curl.
. "$(dirname "$0")/../lib.sh"
: "${HTTPD_TESTSERVER:?HTTPD_TESTSERVER must point at the httpd_testserver binary}"
cd "$TMP"
command -v curl >/dev/null || { echo "1..0 # SKIP curl missing (scripts/install-deps.sh)"; exit 0; }

TOKEN="tok-$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')"
export HTTPD_TEST_TOKEN=$TOKEN
MAX_BODY=4096

# A throwaway CA and a server certificate for 127.0.0.1 issued by it.
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -subj "/CN=httpd test CA" \
  -days 2 -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj "/CN=127.0.0.1" \
  2>/dev/null
cat > server.ext <<'EXT'
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1
EXT
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
  -extfile server.ext -out server.pem 2>/dev/null
ok "throwaway CA and server certificate" test -s server.pem
head -c 300000 /dev/urandom > download.bin

SERVER_PID=
start_server() { # start_server NAME: starts the test server, sets HTTP_PORT and TLS_PORT
  rm -f "$1.out"
  "$HTTPD_TESTSERVER" --listen 127.0.0.1:0 --listen-tls 127.0.0.1:0 --cert server.pem \
    --key server.key --file download.bin --max-body $MAX_BODY >"$1.out" 2>>server.err &
  SERVER_PID=$!
  local i
  for i in $(seq 100); do
    grep -q '^ready' "$1.out" 2>/dev/null && break
    sleep 0.05
  done
  HTTP_PORT=$(awk '$1 == "http" {print $2}' "$1.out")
  TLS_PORT=$(awk '$1 == "https" {print $2}' "$1.out")
}
stop_server() { kill -TERM "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID"; }

start_server first
like "server reports an HTTP port" "${HTTP_PORT:-}" '^[1-9][0-9]*$'
like "server reports an HTTPS port" "${TLS_PORT:-}" '^[1-9][0-9]*$'
H=http://127.0.0.1:$HTTP_PORT
S=https://127.0.0.1:$TLS_PORT
C=(curl -s --max-time 10)

# status and body in one string: "<body>\n<status>"
req() { "${C[@]}" -w '\n%{http_code}' "$@"; }

is "ping over HTTP" "$(req $H/api/v1/ping)" '{"pong":true}
200'
is "ping over HTTPS, verified against the CA" "$(req --cacert ca.pem $S/api/v1/ping)" \
  '{"pong":true}
200'
like "JSON content type" "$("${C[@]}" -D - -o /dev/null $H/api/v1/ping)" \
  'Content-Type: application/json'
fails "HTTPS without the CA does not verify" "${C[@]}" -f -o /dev/null $S/api/v1/ping
exits "plain HTTP to the TLS port fails cleanly" 0 bash -c \
  "! ${C[*]} -o /dev/null http://127.0.0.1:$TLS_PORT/api/v1/ping"
is "TLS port still serves afterwards" "$(req --cacert ca.pem $S/api/v1/ping)" '{"pong":true}
200'
unlike "TLS 1.1 refused" "$("${C[@]}" --cacert ca.pem --tlsv1.1 --tls-max 1.1 \
  -o /dev/null -w '%{http_code}' $S/api/v1/ping)" '^200$'

# Admin routes.
is "401 without a token" "$(req $H/api/v1/echo)" \
  '{"error":{"code":"unauthorized","message":"this call needs an Authorization: Bearer token"}}
401'
like "WWW-Authenticate: Bearer without a token" "$("${C[@]}" -D - -o /dev/null $H/api/v1/echo)" \
  'WWW-Authenticate: Bearer'
is "401 with a wrong token" "$(req -H 'Authorization: Bearer wrong' $H/api/v1/echo)" \
  '{"error":{"code":"unauthorized","message":"the bearer token is not valid"}}
401'
like "WWW-Authenticate: Bearer with a wrong token" \
  "$("${C[@]}" -D - -o /dev/null -H 'Authorization: Bearer wrong' $H/api/v1/echo)" \
  'WWW-Authenticate: Bearer'
is "401 for another scheme" "$(req -u "admin:$TOKEN" -o /dev/null $H/api/v1/echo | tail -n1)" \
  '401'
AUTH=(-H "Authorization: Bearer $TOKEN")
is "200 with the token" "$(req "${AUTH[@]}" $H/api/v1/echo)" '{"method":"GET"}
200'
is "POST echoes JSON over HTTPS" "$(req --cacert ca.pem "${AUTH[@]}" \
  -H 'Content-Type: application/json' -d '{"a":[1,2],"b":"x"}' $S/api/v1/echo)" \
  '{"echo":{"a":[1,2],"b":"x"}}
200'
is "400 on malformed JSON with line and column" "$(req "${AUTH[@]}" \
  -H 'Content-Type: application/json' --data-binary $'{\n  "a": [1,\n  }' $H/api/v1/echo)" \
  '{"error":{"code":"invalid_json","message":"malformed JSON at line 3, column 3: unexpected token near '"'"'}'"'"'"}}
400'
is "415 on a body that is not JSON" "$(req "${AUTH[@]}" -H 'Content-Type: text/plain' -d x \
  -o /dev/null $H/api/v1/echo | tail -n1)" '415'
head -c $((MAX_BODY + 1)) /dev/zero | tr '\0' ' ' > big.json
is "413 just over the body limit" "$(req "${AUTH[@]}" -H 'Content-Type: application/json' \
  --data-binary @big.json $H/api/v1/echo)" \
  '{"error":{"code":"payload_too_large","message":"request body is larger than the limit of 4096 bytes"}}
413'
head -c $((MAX_BODY * 4)) /dev/zero | tr '\0' ' ' > huge.json
is "413 far over the limit (libevent's own limit)" "$(req "${AUTH[@]}" \
  -H 'Content-Type: application/json' --data-binary @huge.json -o /dev/null \
  $H/api/v1/echo | tail -n1)" '413'
is "the limit holds before authentication too" "$(req -H 'Content-Type: application/json' \
  --data-binary @huge.json -o /dev/null $H/api/v1/echo | tail -n1)" '413'

# Routing.
is "404 on an unknown path" "$(req $H/api/v1/nothing)" \
  '{"error":{"code":"not_found","message":"no such resource"}}
404'
is "405 on a known path with another method" "$(req -X DELETE -o /dev/null $H/api/v1/echo |
  tail -n1)" '405'
like "405 names the allowed methods" "$("${C[@]}" -D - -o /dev/null -X PUT $H/api/v1/ping)" \
  $'Allow: GET\r'
like "405 with both methods" "$("${C[@]}" -D - -o /dev/null -X DELETE $H/api/v1/echo)" \
  'Allow: GET, POST'
is "captures are handed to the handler" "$(req $H/api/v1/sites/PP1)" '{"code":"PP1"}
200'
is "captures are percent-decoded" "$(req $H/api/v1/sites/P%20Q)" '{"code":"P Q"}
200'
is "a capture never spans segments" "$(req -o /dev/null $H/api/v1/sites/a/b | tail -n1)" '404'

# File download through evbuffer_add_file, over both.
ok "file download over HTTP" bash -c "${C[*]} -f -o got-http.bin $H/api/v1/file &&
  cmp got-http.bin download.bin"
ok "file download over HTTPS" bash -c "${C[*]} -f --cacert ca.pem -o got-tls.bin \
  $S/api/v1/file && cmp got-tls.bin download.bin"

# 64 concurrent keep-alive requests, twice each over one curl process per scheme.
for scheme in http https; do
  base=$H
  [ $scheme = https ] && base=$S
  : > par-$scheme.cfg
  for i in $(seq 128); do
    printf 'url = "%s/api/v1/ping"\noutput = "/dev/null"\n' "$base" >> par-$scheme.cfg
  done
  codes=$(curl -s --max-time 30 --cacert ca.pem --parallel --parallel-immediate \
    --parallel-max 64 -K par-$scheme.cfg -w '%{http_code}\n' 2>/dev/null | sort | uniq -c | tr -s ' ')
  is "128 requests over 64 parallel keep-alive connections ($scheme)" "$codes" ' 128 200'
done

# Graceful stop: a slow request (1 s, a timer in the server) in flight when SIGTERM arrives.
"${C[@]}" -o slow.out -w '%{http_code}' $H/api/v1/slow > slow.code &
curl_pid=$!
sleep 0.3
t0=$(date +%s%N)
kill -TERM "$SERVER_PID"
wait "$SERVER_PID"
rc=$?
wait $curl_pid
is "server exits 0 on SIGTERM" "$rc" 0
is "the slow request in flight completed" "$(cat slow.code) $(cat slow.out)" '200 {"slow":true}'
fails "nothing listens after the stop" "${C[@]}" -o /dev/null $H/api/v1/ping
ok "the stop waited for the request" test $(( ($(date +%s%N) - t0) / 1000000 )) -ge 500

# Idle keep-alive connections do not hold the stop up.
start_server second
H=http://127.0.0.1:$HTTP_PORT
exec 3<>/dev/tcp/127.0.0.1/"$HTTP_PORT"
printf 'GET /api/v1/ping HTTP/1.1\r\nHost: x\r\n\r\n' >&3
sleep 0.2
t0=$(date +%s%N)
stop_server
rc=$?
exec 3>&-
is "stop with an idle keep-alive connection exits 0" "$rc" 0
ok "and does so quickly" test $(( ($(date +%s%N) - t0) / 1000000 )) -lt 2000

# IPv6 loopback, when this machine has it.
if ip -6 addr show dev lo 2>/dev/null | grep -q '::1'; then
  "$HTTPD_TESTSERVER" --listen '[::1]:0' > v6.out 2>>server.err &
  v6_pid=$!
  for i in $(seq 100); do grep -q '^ready' v6.out 2>/dev/null && break; sleep 0.05; done
  v6_port=$(awk '$1 == "http" {print $2}' v6.out)
  is "ping over [::1]" "$(req -g "http://[::1]:$v6_port/api/v1/ping")" '{"pong":true}
200'
  kill -TERM $v6_pid
  wait $v6_pid
  is "[::1] server exits 0" "$?" 0
else
  skip "ping over [::1]" "no IPv6 loopback"
  skip "[::1] server exits 0" "no IPv6 loopback"
fi

# Refusals at start-up.
exits "bad listen address refused" 1 "$HTTPD_TESTSERVER" --listen localhost:80
like "with a clear message" "$("$HTTPD_TESTSERVER" --listen '::1:80' 2>&1)" 'use ADDR:PORT'
like "TLS key that does not match refused" "$("$HTTPD_TESTSERVER" --listen-tls 127.0.0.1:0 \
  --cert server.pem --key ca.key 2>&1)" 'cannot load TLS key ca.key: key values mismatch'

unlike "the token never appears in the server's stderr" "$(cat server.err)" "$TOKEN"
like "the server logged the requests" "$(cat server.err)" 'GET /api/v1/echo 401'

done_testing
