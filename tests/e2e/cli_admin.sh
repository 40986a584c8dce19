#!/usr/bin/env bash
# End to end: the admin commands of patchpoint (site, sup, sync, certificates, publisher, log)
# against a real patchpointd on 127.0.0.1, with exact output lines and exit codes: where the
# server and the token come from (flags, environment, cli.conf), errors of the server as one line,
# HTTPS with --ca-bundle, the hierarchy, the SUP component's settings, a managed sync, the
# Certificates node, the signing certificate (create, import, export, show) and the logs.
. "$(dirname "$0")/../lib.sh"
. "$SRCDIR/tests/daemon_lib.sh"
. "$SRCDIR/tests/certs.sh"
cd "$TMP" || exit 1
command -v python3 >/dev/null || { echo "1..0 # SKIP python3 missing"; exit 0; }
command -v openssl >/dev/null || { echo "1..0 # SKIP openssl missing"; exit 0; }

# Nothing from the caller's environment: no proxy for 127.0.0.1, no server or token, no cli.conf.
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy no_proxy NO_PROXY
unset PATCHPOINT_SERVER PATCHPOINT_TOKEN PATCHPOINT_CA_BUNDLE PATCHPOINT_LOG
export HOME=$TMP/home XDG_CONFIG_HOME=$TMP/xdg
mkdir -p "$HOME" "$XDG_CONFIG_HOME/patchpoint"
CONF=$XDG_CONFIG_HOME/patchpoint/cli.conf

# run CMD...: runs CMD, sets RC, OUT (stdout) and ERR (stderr).
run() { "$@" >"$TMP/run.out" 2>"$TMP/run.err"; RC=$?; OUT=$(cat "$TMP/run.out"); ERR=$(cat "$TMP/run.err"); }
# json_ok NAME CMD...: CMD's stdout is one JSON document.
json_ok() {
  local name=$1 out
  shift
  out=$("$@" 2>&1)
  printf '%s' "$out" | python3 -c 'import json,sys; json.load(sys.stdin)' >/dev/null 2>&1
  _tap_result $? "$name" "$out"
}
# jq_py EXPR: evaluates a Python expression over the JSON document d read from stdin.
jq_py() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
# sha1 of a DER certificate as 40 upper-case hex digits, from openssl.
der_sha1() { openssl x509 -inform DER -in "$1" -noout -fingerprint -sha1 | sed 's/.*=//; s/://g'; }

# ---- --help on every verb: a man page, without a server or a token ----
VERBS=("site list" "site add" "site show" "sup list" "sup show" "sup add" "sup set" "sync"
  "certificates list" "certificates show" "certificates block" "certificates unblock"
  "certificates approve"
  "publisher cert create" "publisher cert import" "publisher cert export" "publisher cert show"
  "publisher status" "log")
for v in "${VERBS[@]}"; do
  # shellcheck disable=SC2086
  run pp $v --help
  is "$v --help exits 0" "$RC" 0
  sections=$(printf '%s\n' "$OUT" | grep -E '^(NAME|SYNOPSIS|DESCRIPTION|OPTIONS|EXIT STATUS)$' | tr '\n' ,)
  is "$v --help: NAME, SYNOPSIS, DESCRIPTION, OPTIONS, EXIT STATUS" "$sections" \
    "NAME,SYNOPSIS,DESCRIPTION,OPTIONS,EXIT STATUS,"
  like "$v --help names its command" "$(printf '%s\n' "$OUT" | sed -n 2p)" "^    patchpoint $v - "
  like "$v --help documents --server and --token" "$OUT" '--token-file FILE'
done
for g in site sup certificates publisher "publisher cert"; do
  # shellcheck disable=SC2086
  run pp $g --help
  is "$g --help lists its verbs (exit 0)" "$RC" 0
  # shellcheck disable=SC2086
  exits "$g without a verb is a usage error" 2 pp $g
done
like "patchpoint --help lists the admin commands" "$(pp --help)" 'publisher cert create'

# ---- usage errors come before any connection ----
exits "site add without --name: 2" 2 pp site add PP7
exits "site add with --parent and --cas: 2" 2 pp site add PP7 --name x --parent PP1 --cas
exits "site show without a code: 2" 2 pp site show
exits "sup add without --url: 2" 2 pp sup add
exits "sup add with a URL that is not http(s): 2" 2 pp sup add --url ftp://x/
exits "sup set without a setting: 2" 2 pp sup set
exits "sup set --third-party maybe: 2" 2 pp sup set --third-party maybe
exits "sup set --cert-mode auto: 2" 2 pp sup set --cert-mode auto
exits "sup show abc: 2" 2 pp sup show abc
exits "sync --timeout 0: 2" 2 pp sync --wait --timeout 0
exits "certificates show of a non-thumbprint: 2" 2 pp certificates show 1234
exits "publisher cert create --key-length 1024: 2" 2 pp publisher cert create --key-length 1024
exits "publisher cert import without --pfx: 2" 2 pp publisher cert import
exits "publisher cert export without --out: 2" 2 pp publisher cert export
exits "log without a name: 2" 2 pp log
exits "log --interval 0: 2" 2 pp log wsyncmgr --interval 0
exits "an unknown option: 2" 2 pp site list --bogus

# ---- a real patchpointd, HTTP and HTTPS ----
openssl req -x509 -newkey rsa:2048 -nodes -keyout tls.key -out tls.pem -subj "/CN=127.0.0.1" \
  -days 2 -addext "subjectAltName=IP:127.0.0.1" 2>/dev/null
D=$TMP/data
pd_init "$D" || { echo "Bail out! patchpointd init failed"; exit 1; }
TOKEN=$PD_TOKEN
# A wrong token: the real one with its first digit changed.
if [ "${TOKEN:0:1}" = 0 ]; then BAD=1${TOKEN:1}; else BAD=0${TOKEN:1}; fi
pd_start A "$D" --listen-tls 127.0.0.1:0 --tls-cert tls.pem --tls-key tls.key ||
  { echo "Bail out! patchpointd run failed: $(cat "$TMP/A.err")"; exit 1; }
URL=$PD_URL_A
TLS_URL=https://127.0.0.1:${PD_TLS_PORT_A:-1}
DOWN=http://127.0.0.1:1

# ---- server and token: flags, environment, cli.conf ----
run pp site list
is "no token anywhere: exit 2" "$RC" 2
like "no token: names --token" "$ERR" '--token TOKEN'
like "no token: names PATCHPOINT_TOKEN" "$ERR" 'PATCHPOINT_TOKEN'
like "no token: names cli.conf" "$ERR" "$CONF"
run pp site list --server "$URL" --token "$TOKEN"
is "--server and --token: exit 0" "$RC" 0
like "--server and --token: PP1 listed" "$OUT" '^Code +Type +Parent +Name'
printf '%s\n' "$TOKEN" >token.txt
chmod 600 token.txt
run pp site list --server "$URL" --token-file token.txt
is "--token-file: exit 0" "$RC" 0
chmod 640 token.txt
run pp site list --server "$URL" --token-file token.txt
is "a --token-file readable by the group: exit 1" "$RC" 1
is "a --token-file readable by the group: names the file and chmod 600" "$ERR" \
  "patchpoint: token.txt holds the admin token but is readable by other users (mode 0640); run 'chmod 600 token.txt'"
chmod 600 token.txt
exits "--token and --token-file together: 2" 2 pp site list --server "$URL" --token "$TOKEN" --token-file token.txt
run pp site list --server "$URL" --token-file none.txt
is "a --token-file that does not exist: exit 1" "$RC" 1
like "a --token-file that does not exist: names it" "$ERR" '^patchpoint: .*none\.txt'
run env PATCHPOINT_SERVER="$URL" PATCHPOINT_TOKEN="$TOKEN" "$PATCHPOINT" site list
is "PATCHPOINT_SERVER and PATCHPOINT_TOKEN: exit 0" "$RC" 0
run env PATCHPOINT_SERVER="$URL" PATCHPOINT_TOKEN="$BAD" "$PATCHPOINT" site list --token "$TOKEN"
is "--token wins over PATCHPOINT_TOKEN" "$RC" 0
printf '[cli]\nserver = %s\ntoken = %s\n' "$URL" "$TOKEN" >"$CONF"
chmod 600 "$CONF"
run pp site list
is "cli.conf (0600): exit 0" "$RC" 0
run env PATCHPOINT_SERVER="$DOWN" "$PATCHPOINT" site list
is "PATCHPOINT_SERVER wins over cli.conf (a server that is down: 1)" "$RC" 1
chmod 644 "$CONF"
run pp site list
is "cli.conf readable by others: exit 1" "$RC" 1
is "cli.conf 0644: one line naming the file and chmod 600" "$ERR" \
  "patchpoint: $CONF holds the admin token but is readable by other users (mode 0644); run 'chmod 600 $CONF'"
run pp site list --token "$TOKEN"
is "cli.conf 0644 is fine when its token is not used" "$RC" 0
printf '[cli]\nserver = %s\nsecret = x\n' "$URL" >"$CONF"
run pp site list --token "$TOKEN"
is "cli.conf with an unknown key: exit 1" "$RC" 1
is "cli.conf unknown key: file and line" "$ERR" \
  "patchpoint: $CONF:3: [cli] secret: unknown key (server, token, ca_bundle)"
rm -f "$CONF"

export PATCHPOINT_SERVER=$URL PATCHPOINT_TOKEN=$TOKEN
run pp site list --token "$BAD"
is "a wrong token: exit 1" "$RC" 1
like "a wrong token: the server's 401 message in one line" "$ERR" '^patchpoint: .+ \(HTTP 401 unauthorized\)$'
is "a wrong token: nothing on stdout" "$OUT" ""
run pp site list --server "$DOWN"
is "server down: exit 1" "$RC" 1
like "server down: names the URL" "$ERR" "^patchpoint: cannot reach $DOWN: .+"
exits "a server URL that is not http(s): 1" 1 pp site list --server ftp://127.0.0.1/
# shellcheck disable=SC2086
all_out=$(for v in "${VERBS[@]}"; do pp $v --server "$DOWN" 2>&1; pp $v --token "$BAD" 2>&1; done)
unlike "the token never appears in any output" "$all_out" "$TOKEN"

PATCHPOINT_LOG=$TMP/cli.log pp site list --token "$TOKEN" >/dev/null 2>&1
PATCHPOINT_LOG=$TMP/cli.log pp site list --token "$BAD" >/dev/null 2>&1
ok "patchpoint --log records the admin commands" grep -q 'patchpoint site finished with exit code 1' cli.log
fails "the token is not in patchpoint's own log" grep -q "$TOKEN" cli.log

# HTTPS: the server's certificate is verified, against --ca-bundle when given.
if [ -n "${PD_TLS_PORT_A:-}" ]; then
  run pp site list --server "$TLS_URL"
  is "https without the CA: exit 1" "$RC" 1
  like "https without the CA: cannot reach, use --ca-bundle" "$ERR" "^patchpoint: cannot reach $TLS_URL: .*--ca-bundle"
  run pp site list --server "$TLS_URL" --ca-bundle tls.pem
  is "https with --ca-bundle: exit 0" "$RC" 0
  run env PATCHPOINT_CA_BUNDLE=tls.pem "$PATCHPOINT" site list --server "$TLS_URL"
  is "https with PATCHPOINT_CA_BUNDLE: exit 0" "$RC" 0
  run pp site list --server "https://localhost:$PD_TLS_PORT_A" --ca-bundle tls.pem
  is "https to a name the certificate does not carry: exit 1" "$RC" 1
  exits "a CA bundle that does not exist: 1" 1 pp site list --server "$TLS_URL" --ca-bundle none.pem
else
  skip "https" "patchpointd did not listen with TLS"
fi

# ---- publisher cert show before any certificate ----
run pp publisher cert show
is "publisher cert show without a certificate: exit 1" "$RC" 1
is "publisher cert show without a certificate: the server's message" "$ERR" \
  "patchpoint: No certificate found in the signing store of the software update point (HTTP 404 no_certificate)"

# ---- sites (the hierarchy itself is exercised on a second daemon below) ----
run pp site list
is "site list: exit 0" "$RC" 0
is "site list: the standalone primary site" "$OUT" "$(printf '%-6s %-28s %-7s %s\n' Code Type Parent Name \
  PP1 "Primary site" - "Primary site")"
json_ok "site list --json" pp site list --json
is "site list --json: the top-level site first" "$(pp site list --json | jq_py 'd["sites"][0]["code"]')" PP1
run pp site show PP1
is "site show PP1: exit 0" "$RC" 0
is "site show PP1: fields" "$(printf '%s\n' "$OUT" | grep -v '^Created: ')" "Code: PP1
Name: Primary site
Type: Primary site
Parent: -
Software update points: 1
$(printf '%-4s %-6s %-8s %-11s %s\n' ID Site Location "Sync source" URL 1 PP1 local Yes http://localhost:8530/)"
like "site show PP1: created time" "$OUT" 'Created: [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8} UTC'
json_ok "site show --json" pp site show PP1 --json
run pp site show ZZ9
is "site show of an unknown site: exit 1" "$RC" 1
like "site show of an unknown site: 404 in one line" "$ERR" '^patchpoint: .+ \(HTTP 404 not_found\)$'

# ---- software update points ----
run pp sup add --url https://sup2.example:8531/ --remote --site PP1
is "sup add: exit 0" "$RC" 0
like "sup add: one line" "$OUT" '^Added software update point [0-9]+: https://sup2\.example:8531/ \(remote, site PP1\)$'
SUP2=$(printf '%s' "$OUT" | sed -n 's/^Added software update point \([0-9]*\):.*/\1/p')
run pp sup add --url https://sup2.example:8531/ --remote
is "sup add of the same URL: exit 1" "$RC" 1
like "sup add of the same URL: 409 already_exists" "$ERR" '^patchpoint: .+ \(HTTP 409 already_exists\)$'
run pp sup add --url http://sup3.example:8530/ --site ZZ9 --sync-source
is "a sync source on an unknown site: exit 1" "$RC" 1
run pp sup add --url http://sup4.example:8530/ --site ZZ9
is "sup add to an unknown site: exit 1" "$RC" 1
like "sup add to an unknown site: 404" "$ERR" '\(HTTP 404 not_found\)$'
run pp sup list
is "sup list: exit 0" "$RC" 0
is "sup list: both SUPs" "$OUT" "$(printf '%-4s %-6s %-8s %-11s %s\n' ID Site Location "Sync source" URL \
  1 PP1 local Yes http://localhost:8530/ "${SUP2:-2}" PP1 remote No https://sup2.example:8531/)"
is "sup list --site PP1: the same SUPs" "$(pp sup list --site PP1)" "$OUT"
json_ok "sup list --json" pp sup list --json
json_ok "sup list --site --json" pp sup list --site PP1 --json
is "sup list --json: both" "$(pp sup list --json | jq_py 'len(d["sups"])')" 2
run pp sup list --site ZZ9
is "sup list --site of an unknown site: exit 1" "$RC" 1
like "sup list --site of an unknown site: 404" "$ERR" '\(HTTP 404 not_found\)$'
run pp sup show "${SUP2:-2}"
is "sup show: exit 0" "$RC" 0
is "sup show: fields" "$(printf '%s\n' "$OUT" | grep -v '^Created: ')" "ID: ${SUP2:-2}
Site: PP1
URL: https://sup2.example:8531/
Location: remote
Sync source: No"
like "sup show: created time" "$OUT" 'Created: [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8} UTC'
json_ok "sup show --json" pp sup show 1 --json
run pp sup show 999
is "sup show of an unknown SUP: exit 1" "$RC" 1
like "sup show of an unknown SUP: 404" "$ERR" '\(HTTP 404 not_found\)$'
like "site show PP1 lists both SUPs" "$(pp site show PP1)" "Software update points: 2"

# ---- Third-Party Updates settings ----
run pp sup set --third-party on --cert-mode managed
is "sup set (top-level by default): exit 0" "$RC" 0
is "sup set: the settings afterwards" "$OUT" "Top-level site: PP1
Enable third-party software updates: Yes
Certificate mode: managed"
json_ok "sup set --json" pp sup set --cert-mode managed --json
run pp sup set --site PP1 --third-party on
is "sup set --site of the top-level site: exit 0" "$RC" 0
run pp sup set --site ZZ9 --third-party on
is "sup set on an unknown site: exit 1" "$RC" 1
run pp log WCM
is "log WCM: exit 0" "$RC" 0
like "the settings change is in WCM.log" "$OUT" '<!\[LOG\[.+\]LOG\]!><time='

# ---- synchronization ----
run pp sync --wait --timeout 120
is "sync --wait: exit 0" "$RC" 0
like "sync --wait: started" "$(printf '%s\n' "$OUT" | head -n1)" '^Synchronization [0-9]+ (started|is already running)$'
like "sync --wait: succeeded" "$(printf '%s\n' "$OUT" | tail -n1)" '^Synchronization [0-9]+ succeeded$'
json_ok "sync --json" pp sync --json
run pp sync --wait --timeout 120
is "sync --wait again: exit 0" "$RC" 0
run pp log wsyncmgr
is "log wsyncmgr: exit 0" "$RC" 0
like "log wsyncmgr: CMTrace lines" "$(printf '%s\n' "$OUT" | head -n1)" '^<!\[LOG\[.*\]LOG\]!><time="'
like "log wsyncmgr: the certificate was inserted" "$OUT" 'inserted'
is "log wsyncmgr.log and WSYNCMGR name the same log" "$(pp log WSYNCMGR.LOG)" "$OUT"
json_ok "log --json" pp log wsyncmgr --json
is "log --json: the same text" "$(pp log wsyncmgr --json | jq_py 'd["text"]')" "$(pp log wsyncmgr)"
run pp log nosuch
is "log of an unknown name: exit 1" "$RC" 1
like "log of an unknown name: 404" "$ERR" '\(HTTP 404 [a-z_]+\)$'

# --follow prints what is appended, until SIGINT / SIGTERM (exit 0).
"$PATCHPOINT" log patchpointd --follow --json --interval 0.2 >follow.json 2>follow.json.err &
fpid=$!
sleep 0.6
pp site show ZZJ >/dev/null 2>&1
sleep 1
kill -INT $fpid
wait $fpid
is "log --follow --json: exit 0 on SIGINT" "$?" 0
is "log --follow --json: JSON Lines, at least two" \
  "$(python3 -c 'import json,sys; print(sum(1 for l in open(sys.argv[1]) if json.loads(l)["text"]) >= 2)' follow.json 2>&1)" True
for sig in INT TERM; do
  "$PATCHPOINT" log patchpointd --follow --interval 0.2 >follow.$sig.out 2>follow.$sig.err &
  fpid=$!
  sleep 0.6
  pp site show ZZ$sig >/dev/null 2>&1
  sleep 1
  kill -$sig $fpid
  wait $fpid
  is "log --follow: SIG$sig ends it with exit 0" "$?" 0
  like "log --follow: a request made while following is printed" "$(cat follow.$sig.out)" "/api/v1/sites/ZZ$sig"
done

# ---- Certificates (Administration > Security > Certificates) ----
run pp certificates list
is "certificates list: exit 0" "$RC" 0
like "certificates list: a Third-party WSUS Signing row" "$OUT" \
  '^[0-9A-F]{40}  Third-party WSUS Signing +No +[0-9]{4}-[0-9]{2}-[0-9]{2}  (CN=)?WSUS Publishers Self-signed$'
json_ok "certificates list --json" pp certificates list --json
TP=$(pp certificates list --json | jq_py 'd["certificates"][0]["thumbprint"]')
like "the managed certificate's thumbprint" "$TP" '^[0-9A-F]{40}$'
run pp certificates show "$TP"
is "certificates show: exit 0" "$RC" 0
is "certificates show: fields" "$(printf '%s\n' "$OUT" | grep -vE '^(Subject|Valid From|Valid To|Added): ')" \
  "Thumbprint: $TP
Type: Third-party WSUS Signing
Blocked: No
Approved: Yes"
like "certificates show: subject" "$OUT" '(^|[^A-Za-z])Subject: (CN=)?WSUS Publishers Self-signed'
like "certificates show: validity" "$OUT" 'Valid To: [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8} UTC'
json_ok "certificates show --json" pp certificates show "$TP" --json
run pp certificates block "$(printf '%s' "$TP" | tr A-F a-f)"
is "certificates block (lower-case thumbprint): exit 0" "$RC" 0
is "certificates block: one line" "$OUT" "Certificate $TP blocked"
like "certificates show: blocked" "$(pp certificates show "$TP")" 'Blocked: Yes'
run pp certificates unblock "$TP"
is "certificates unblock: exit 0" "$RC" 0
is "certificates unblock: one line" "$OUT" "Certificate $TP unblocked"
like "certificates show: unblocked" "$(pp certificates show "$TP")" 'Blocked: No'
run pp certificates block 0000000000000000000000000000000000000000
is "certificates block of an unknown thumbprint: exit 1" "$RC" 1
like "certificates block of an unknown thumbprint: 404" "$ERR" '\(HTTP 404 not_found\)$'

# ---- the signing certificate ----
SHOW_KEYS="Issuer,Subject,Effective Date,Expiration Date,Cert Usage,Public Key,Thumbprint,Trusted Publisher,Trusted Root Authority,Self Signed,Validate Trust Chain,"
run pp publisher cert show
is "publisher cert show: exit 0" "$RC" 0
is "publisher cert show: the DESIGN 5.1 fields in order" "$(printf '%s\n' "$OUT" | cut -d: -f1 | tr '\n' ,)" "$SHOW_KEYS"
field() { printf '%s\n' "$2" | sed -n "s/^$1: //p"; } # field NAME TEXT: the value of "NAME: value"
is "publisher cert show: the managed subject" "$(field Subject "$OUT")" "CN=WSUS Publishers Self-signed"
like "publisher cert show: thumbprint of the Certificates row" "$OUT" "Thumbprint: $TP"
like "publisher cert show: RSA 2048" "$OUT" 'Public Key: RSA 2048-bit'
like "publisher cert show: self-signed" "$OUT" 'Self Signed: Yes'
like "publisher cert show: Trusted Publisher Yes/No" "$(field "Trusted Publisher" "$OUT")" '^(Yes|No)$'
like "publisher cert show: Trusted Root Authority Yes/No" "$(field "Trusted Root Authority" "$OUT")" '^(Yes|No)$'
like "publisher cert show: trust chain as HRESULT and symbol" "$OUT" \
  'Validate Trust Chain: 0x[0-9A-F]{8} [A-Z][A-Z_0-9]*(: .+)?$'
json_ok "publisher cert show --json" pp publisher cert show --json

run pp sup set --cert-mode manual
is "sup set --cert-mode manual: exit 0" "$RC" 0
run pp publisher cert create
is "publisher cert create over a valid one: exit 1" "$RC" 1
like "publisher cert create over a valid one: 409 certificate_exists" "$ERR" '\(HTTP 409 certificate_exists\)$'
run pp publisher cert create --subject "CN=Contoso Publisher" --years 2 --key-length 3072 --force
is "publisher cert create --force: exit 0" "$RC" 0
like "publisher cert create: first line" "$(printf '%s\n' "$OUT" | head -n1)" '^Created signing certificate [0-9A-F]{40}$'
TP2=$(printf '%s\n' "$OUT" | sed -n 's/^Created signing certificate //p')
is "publisher cert create: subject" "$(field Subject "$OUT")" "CN=Contoso Publisher"
like "publisher cert create: RSA 3072" "$OUT" 'Public Key: RSA 3072-bit'
is "publisher cert show: the new certificate" "$(pp publisher cert show | sed -n 's/^Thumbprint: //p')" "${TP2:-none}"
is "publisher cert show --json: the new subject" "$(pp publisher cert show --json | jq_py 'd["certificate"]["subject"]')" \
  "CN=Contoso Publisher"
like "the replaced certificate stays in Certificates" "$(pp certificates list)" "^$TP "

run pp publisher cert export --out signing.cer
is "publisher cert export: exit 0" "$RC" 0
is "publisher cert export: one line" "$OUT" "Exported $TP2 (public certificate only, DER) to signing.cer"
is "the .cer is DER that openssl reads" "$(openssl x509 -inform DER -in signing.cer -noout -subject 2>&1)" \
  "subject=CN = Contoso Publisher"
is "the .cer's SHA-1 is the thumbprint" "$(der_sha1 signing.cer 2>/dev/null)" "${TP2:-none}"
unlike "the .cer holds no private key" "$(openssl pkey -inform DER -in signing.cer 2>&1)" 'BEGIN PRIVATE KEY'
before=$(sha256sum signing.cer 2>&1)
run pp publisher cert export --out signing.cer
is "publisher cert export over a file: exit 1" "$RC" 1
is "publisher cert export over a file: unchanged" "$(sha256sum signing.cer 2>&1)" "$before"
run pp publisher cert export --out none.cer --server "$DOWN"
is "publisher cert export, server down: exit 1" "$RC" 1
ok "publisher cert export, server down: nothing written" test ! -e none.cer
is "publisher cert export, server down: no temporary file left" "$(find . -maxdepth 1 -name '.none.cer*' | wc -l)" 0

# Import: a good PFX, a wrong password, a certificate that is not for code signing.
mk_selfsigned good "Contoso PKI Signing"
mk_pfx good "s3cret pass"
printf 's3cret pass\n' >pw.txt
printf 'wrong\n' >bad.txt
GOOD_TP=$(der_sha1 good.cer)
run pp publisher cert import --pfx good.pfx --password-file pw.txt
is "publisher cert import over a valid one: exit 1" "$RC" 1
like "publisher cert import over a valid one: 409 certificate_exists" "$ERR" '\(HTTP 409 certificate_exists\)$'
run pp publisher cert import --pfx good.pfx --password-file bad.txt --force
is "import with a wrong password: exit 1" "$RC" 1
like "import with a wrong password: Certificate Import Failed" "$ERR" '^Certificate Import Failed: .+$'
is "import with a wrong password: exactly one line" "$(printf '%s\n' "$ERR" | wc -l)" 1
is "import with a wrong password: nothing on stdout" "$OUT" ""
is "import with a wrong password: the certificate is unchanged" \
  "$(pp publisher cert show | sed -n 's/^Thumbprint: //p')" "${TP2:-none}"
mk_ca ca "Test CA"
mk_issued tlsleaf "www.example" ca server
mk_pfx tlsleaf "s3cret pass"
run pp publisher cert import --pfx tlsleaf.pfx --password-file pw.txt --force
is "import of a server-auth certificate: exit 1" "$RC" 1
like "import of a server-auth certificate: Certificate Import Failed" "$ERR" '^Certificate Import Failed: .+$'
run pp publisher cert import --pfx good.pfx --password-file pw.txt --force --server http://192.0.2.1:8530
is "import over plain HTTP to another host: refused (exit 1)" "$RC" 1
like "import over plain HTTP to another host: says why" "$ERR" 'refusing to send a private key over plain HTTP'
head -c 700000 /dev/zero >big.pfx
run pp publisher cert import --pfx big.pfx --force
is "import of a PFX over 640 KiB: refused before sending (exit 1)" "$RC" 1
like "import of a PFX over 640 KiB: says so" "$ERR" '^patchpoint: big\.pfx is too large'
printf 'not a pfx' >junk.pfx
run pp publisher cert import --pfx junk.pfx --force
is "import of a file that is not a PFX: exit 1" "$RC" 1
like "import of a file that is not a PFX: Certificate Import Failed" "$ERR" '^Certificate Import Failed: .+$'
run pp publisher cert import --pfx good.pfx --password-file pw.txt --force
is "import of a good PFX: exit 0" "$RC" 0
is "import of a good PFX: first line" "$(printf '%s\n' "$OUT" | head -n1)" "Imported signing certificate $GOOD_TP"
is "import of a good PFX: its subject" "$(field Subject "$OUT")" "CN=Contoso PKI Signing"
is "publisher cert show: the imported certificate" "$(pp publisher cert show | sed -n 's/^Thumbprint: //p')" "$GOOD_TP"
json_ok "publisher cert import --json" pp publisher cert import --pfx good.pfx --password-file pw.txt --force --json
if [ -n "${PD_TLS_PORT_A:-}" ]; then
  run pp publisher cert import --pfx good.pfx --password-file pw.txt --force --server "$TLS_URL" --ca-bundle tls.pem
  is "import over https: exit 0" "$RC" 0
fi

# ---- publisher status ----
run pp sync --wait --timeout 120
is "sync after the import: exit 0" "$RC" 0
run pp publisher status
is "publisher status: exit 0" "$RC" 0
is "publisher status: last line" "$(printf '%s\n' "$OUT" | tail -n1)" "Ready to publish"
is "publisher status: every check OK" "$(printf '%s\n' "$OUT" | sed '$d' | grep -cv '^\[ OK \] ')" 0
like "publisher status: checks listed" "$OUT" '^\[ OK \] '
json_ok "publisher status --json" pp publisher status --json
run pp sup set --third-party off
is "sup set --third-party off: exit 0" "$RC" 0
run pp publisher status
is "publisher status, third-party off: exit 1" "$RC" 1
last=$(printf '%s\n' "$OUT" | tail -n1)
fail_line=$(printf '%s\n' "$OUT" | tail -n2 | head -n1)
like "publisher status: the line before the last is the first failure" "$fail_line" '^\[FAIL\] '
is "publisher status: Not ready names the first failing check" "$last" \
  "Not ready: $(printf '%s' "$fail_line" | sed 's/^\[FAIL\] //; s/: .*//')"
is "publisher status: only OK lines before the failure" "$(printf '%s\n' "$OUT" | head -n -2 | grep -cv '^\[ OK \] ')" 0
json_ok "publisher status --json (not ready)" pp publisher status --json
pp sup set --third-party on >/dev/null

# ---- answers that are not the API's: a plain web server in its place ----
mkdir -p www/api/v1/publisher/certificate
printf 'hello' >www/api/v1/sups
printf 'not DER' >www/api/v1/publisher/certificate/cer
(cd www && exec python3 -u -m http.server --bind 127.0.0.1 0 >../www.out 2>../www.err) &
WWW_PID=$!
for _ in $(seq 100); do grep -q 'port' www.out 2>/dev/null && break; sleep 0.05; done
WWW=http://127.0.0.1:$(sed -n 's/.* port \([0-9]*\) .*/\1/p' www.out)
run pp site list --server "$WWW"
is "an HTML 404 instead of the API: exit 1" "$RC" 1
is "an HTML 404 instead of the API: one line" "$ERR" \
  "patchpoint: $WWW/api/v1/sites answered HTTP 404 without an error message"
run pp sup list --server "$WWW"
is "a 200 that is not JSON: exit 1" "$RC" 1
is "a 200 that is not JSON: one line" "$ERR" "patchpoint: $WWW/api/v1/sups answered HTTP 200 without a JSON object"
run pp publisher cert export --out junk.cer --server "$WWW"
is "a .cer that is not DER: exit 1" "$RC" 1
like "a .cer that is not DER: says so" "$ERR" "^patchpoint: $WWW did not answer a DER certificate"
ok "a .cer that is not DER: nothing written" test ! -e junk.cer
kill "$WWW_PID" 2>/dev/null
wait "$WWW_PID" 2>/dev/null

# ---- the hierarchy: a CAS above PP1, a second primary site under it (a second daemon) ----
D2=$TMP/data2
pd_init "$D2" || { echo "Bail out! patchpointd init (2) failed"; exit 1; }
T2=$PD_TOKEN
pd_start B "$D2" || { echo "Bail out! patchpointd run (2) failed: $(cat "$TMP/B.err")"; exit 1; }
export PATCHPOINT_SERVER=$PD_URL_B PATCHPOINT_TOKEN=$T2
run pp site add CAS --name "Central site" --cas
is "site add --cas: exit 0" "$RC" 0
is "site add --cas: one line" "$OUT" "Added site CAS: Central administration site"
run pp site add PP2 --name "Second site" --parent CAS
is "site add PP2 --parent CAS: exit 0" "$RC" 0
is "site add PP2: one line" "$OUT" "Added site PP2: Primary site under CAS"
run pp site add PP2 --name "Again" --parent CAS
is "site add PP2 twice: exit 1" "$RC" 1
like "site add PP2 twice: 409 already_exists" "$ERR" '^patchpoint: .+ \(HTTP 409 already_exists\)$'
run pp site add PP3 --name "Orphan" --parent ZZ9
is "site add under an unknown parent: exit 1" "$RC" 1
like "site add under an unknown parent: 404" "$ERR" '\(HTTP 404 [a-z_]+\)$'
run pp site add "P P" --name "Bad code" --parent CAS
is "site add with a bad code: exit 1" "$RC" 1
like "site add with a bad code: 400" "$ERR" '\(HTTP 400 [a-z_]+\)$'
run pp site list
is "site list: exit 0" "$RC" 0
is "site list: the CAS first, then its primary sites" "$(printf '%s\n' "$OUT" | sed 1d | sort)" \
  "$(printf '%-6s %-28s %-7s %s\n' CAS "Central administration site" - "Central site" \
  PP1 "Primary site" CAS "Primary site" PP2 "Primary site" CAS "Second site" | sort)"
is "site list: the first row is the CAS" "$(printf '%s\n' "$OUT" | sed -n 2p | cut -c1-4)" "CAS "
run pp site show PP2
is "site show PP2: exit 0" "$RC" 0
is "site show PP2: fields" "$(printf '%s\n' "$OUT" | grep -v '^Created: ')" "Code: PP2
Name: Second site
Type: Primary site
Parent: CAS
Software update points: 0"
like "site show CAS: its type" "$(pp site show CAS)" 'Type: Central administration site'
run pp sup set --site PP1 --third-party on
is "sup set on a child site: exit 1" "$RC" 1
like "sup set on a child site: 409 naming the top-level site" "$ERR" \
  '^patchpoint: .*CAS.* \(HTTP 409 not_top_level\)$'
run pp sup set --third-party on
is "sup set defaults to the top-level site: exit 0" "$RC" 0
is "sup set defaults to the top-level site: CAS" "$(printf '%s\n' "$OUT" | head -n1)" "Top-level site: CAS"
# The CAS has no sync-source SUP: the synchronization fails, and says why.
run pp sync --wait --timeout 120
is "sync --wait of a failing synchronization: exit 1" "$RC" 1
like "sync --wait of a failing synchronization: started" "$(printf '%s\n' "$OUT" | head -n1)" '^Synchronization [0-9]+ started$'
like "sync --wait of a failing synchronization: failed and the error" "$(printf '%s\n' "$OUT" | tail -n1)" \
  '^Synchronization [0-9]+ failed: .+$'
run pp sync --wait --json
is "sync --wait --json of a failing synchronization: exit 1" "$RC" 1
is "sync --wait --json: the final state" "$(printf '%s' "$OUT" | jq_py 'd["sync"]["state"]')" failed
run pp sup add --url http://pp2sup.example:8530/ --site PP2
is "sup add to PP2: exit 0" "$RC" 0
like "sup add to PP2: one line" "$OUT" '^Added software update point [0-9]+: http://pp2sup\.example:8530/ \(local, site PP2\)$'
is "sup list --site PP2: only its SUP" "$(pp sup list --site PP2 | tail -n +2 | awk '{print $2, $5}')" \
  "PP2 http://pp2sup.example:8530/"
pd_stop B
is "the second patchpointd stops cleanly" "${PD_RC:-1}" 0

pd_stop A
is "patchpointd stops cleanly" "${PD_RC:-1}" 0
fails "the token is in no log" grep -rq "$TOKEN" "$D/logs"
done_testing
