#!/usr/bin/env bash
# End to end: patchpoint cab create|list|extract, sign, policy.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../certs.sh"
cd "$TMP"
printf 'not-the-password\n' > wrong.txt
mkdir -p src/sub
printf 'hello\n' > src/a.txt
head -c 70000 /dev/urandom > src/sub/b.bin
: > src/empty.dat

for method in none mszip; do
  ok "create ($method)" pp cab create --compress $method -o $method.cab src
  out=$(pp cab list $method.cab)
  like "list shows sub\\b.bin ($method)" "$out" 'sub\\b\.bin'
  like "list says not signed ($method)" "$out" 'Signed: no'
  like "list shows the folder compression ($method)" "$out" "Folder 0: $method"
  ok "extract ($method)" pp cab extract $method.cab -d out-$method
  ok "extracted tree equals the input ($method)" diff -r src out-$method
done
like "list --json" "$(pp cab list --json mszip.cab)" '"name": "a.txt"'
ok "single files are stored by base name" pp cab create -o single.cab src/a.txt src/sub/b.bin
like "base names" "$(pp cab list single.cab)" ' b\.bin$'
exits "duplicate names refused" 1 pp cab create -o dup.cab src/a.txt src/a.txt
ok "no cabinet left after a refusal" test ! -e dup.cab
exits "existing output not replaced" 1 pp cab create -o none.cab src
ok "--force replaces" pp cab create --force -o none.cab src
exits "missing input: exit 1" 1 pp cab create -o missing.cab no-such-file
ok "no cabinet left for a missing input" test ! -e missing.cab
ok "no temporary files left" test -z "$(ls -A | grep -E '\.cab\.' || true)"
exits "bad --compress: usage error" 2 pp cab create --compress lzx -o x.cab src
exits "no -o: usage error" 2 pp cab create src

printf 'pw\n' > pw.txt
pp cert new --subject "CN=Cab Signer" --out-pfx s.pfx --out-cer s.cer --password-file pw.txt >/dev/null 2>&1
ok "create --sign-pfx" pp cab create --sign-pfx s.pfx --password-file pw.txt -o signed.cab src
like "list says signed" "$(pp cab list signed.cab)" 'Signed: yes'
ok "signed cabinet extracts" pp cab extract signed.cab -d out-signed
ok "signed cabinet content unchanged" diff -r src out-signed
cp none.cab inplace.cab
ok "sign in place" pp sign --pfx s.pfx --password-file pw.txt inplace.cab
like "signed in place" "$(pp cab list inplace.cab)" 'Signed: yes'
ok "sign -o keeps the input" pp sign --pfx s.pfx --password-file pw.txt -o copy.cab none.cab
like "input still unsigned" "$(pp cab list none.cab)" 'Signed: no'
before=$(sha256sum none.cab)
exits "sign with a wrong password fails" 1 pp sign --pfx s.pfx --password-file wrong.txt none.cab
is "failed sign leaves the cabinet as it was" "$(sha256sum none.cab)" "$before"
exits "sign with a .cer (no key) fails" 1 pp sign --pfx s.cer none.cab
is "keyless sign leaves the cabinet as it was" "$(sha256sum none.cab)" "$before"

ok "policy set" pp policy set --machine m AcceptTrustedPublisherCerts 1
is "policy get" "$(pp policy get --machine m AcceptTrustedPublisherCerts)" "AcceptTrustedPublisherCerts = 1 (set by local)"
ok "policy set with a source" pp policy set --machine m --source "client-settings:Default" AcceptTrustedPublisherCerts 0
is "policy get names the source" "$(pp policy get --machine m AcceptTrustedPublisherCerts)" "AcceptTrustedPublisherCerts = 0 (set by client-settings:Default)"
like "policy get --json" "$(pp policy get --machine m --json AcceptTrustedPublisherCerts)" '"present": true'
ok "policy clear" pp policy clear --machine m AcceptTrustedPublisherCerts
is "policy get after clear" "$(pp policy get --machine m AcceptTrustedPublisherCerts)" "AcceptTrustedPublisherCerts is not set"
exits "unknown policy name: usage error" 2 pp policy set --machine m NoSuchValue 1
exits "non-numeric value: usage error" 2 pp policy set --machine m AcceptTrustedPublisherCerts yes

# Progress bars: on a terminal only, after PATCHPOINT_PROGRESS_AFTER seconds (default 1).
head -c 3000000 /dev/urandom > big.bin
if command -v script >/dev/null; then
  out=$(PATCHPOINT_PROGRESS_AFTER=0 script -qec "$PATCHPOINT cab create --compress none -o tty.cab big.bin" /dev/null | tr '\r' '\n')
  like "progress bar on a terminal" "$out" 'Creating cabinet \[#+\] 100%'
  out=$(PATCHPOINT_PROGRESS_AFTER=0 script -qec "$PATCHPOINT cab extract tty.cab -d tty-out" /dev/null | tr '\r' '\n')
  like "progress bar while extracting" "$out" 'Extracting \[#+\] 100%'
else
  skip "progress bar on a terminal" "no script(1)"
  skip "progress bar while extracting" "no script(1)"
fi
out=$(PATCHPOINT_PROGRESS_AFTER=0 pp cab create --compress none -o notty.cab big.bin 2>&1)
unlike "no progress bar when stderr is not a terminal" "$out" 'Creating cabinet \['

log=$TMP/patchpoint.log
ok "--log writes a CMTrace log" pp --log "$log" cab list signed.cab
like "CMTrace record format" "$(head -n1 "$log")" '^<!\[LOG\[patchpoint cab started\]LOG\]!><time="[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}[+-][0-9]+" date="[0-9]{2}-[0-9]{2}-[0-9]{4}" component="patchpoint" context="" type="1" thread="[0-9]+" file="">'
pp --log "$log" cab list nothing.cab >/dev/null 2>&1
like "failures are type 3" "$(tail -n1 "$log")" 'type="3"'
like "top-level --help" "$(pp --help)" 'COMMANDS'
exits "no command: usage error" 2 pp
exits "unknown command: usage error" 2 pp frobnicate
like "--version" "$(pp --version)" '^patchpoint [0-9]+\.[0-9]+'
for g in "cab create" "cab list" "cab extract" sign verify "policy set"; do
  exits "$g --help exits 0" 0 pp $g --help
done

done_testing
