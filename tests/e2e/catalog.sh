#!/usr/bin/env bash
# End to end: third-party catalogs on a real patchpointd on 127.0.0.1. The real HP catalog and Dell
# SDP of ../shared/fixtures are imported through 'patchpoint catalog import' (a resumable upload,
# then one transaction), checked against an independent reading of the same files by Python's
# ElementTree, re-imported (nothing changes), exported and imported into a second server (the
# same updates, the same bytes), and malformed catalogs import nothing.
. "$(dirname "$0")/../lib.sh"
. "$SRCDIR/tests/daemon_lib.sh"
cd "$TMP" || exit 1
command -v python3 >/dev/null || { echo "1..0 # SKIP python3 missing"; exit 0; }

unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy no_proxy NO_PROXY
unset PATCHPOINT_SERVER PATCHPOINT_TOKEN PATCHPOINT_CA_BUNDLE PATCHPOINT_LOG
export HOME=$TMP/home XDG_CONFIG_HOME=$TMP/xdg
mkdir -p "$HOME"

HP=$SHARED/fixtures/catalogs/HpCatalogForSms.xml.gz
DELL=$SHARED/fixtures/sdp/dc718411-a5f1-4b15-966a-63a77cbb156e.sdp
[ -f "$HP" ] && [ -f "$DELL" ] || { echo "Bail out! fixtures missing under $SHARED"; exit 1; }

run() { "$@" >"$TMP/run.out" 2>"$TMP/run.err"; RC=$?; OUT=$(cat "$TMP/run.out"); ERR=$(cat "$TMP/run.err"); }
jq_py() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

# ---- manuals ----
for v in "catalog import" "catalog export" "catalog list" "updates list" "updates show"; do
  # shellcheck disable=SC2086
  run pp $v --help
  is "$v --help exits 0" "$RC" 0
  like "$v --help names its command" "$(printf '%s\n' "$OUT" | sed -n 2p)" "^    patchpoint $v - "
done
exits "catalog without a verb is a usage error" 2 pp catalog
exits "catalog import without a file is a usage error" 2 pp catalog import --token x
exits "updates show without an id is a usage error" 2 pp updates show --token x

D=$TMP/site
pd_init "$D" || { echo "Bail out! patchpointd init failed"; exit 1; }
pd_start A "$D" || { echo "Bail out! patchpointd run failed: $(cat "$TMP/A.err")"; exit 1; }
export PATCHPOINT_SERVER=$PD_URL_A PATCHPOINT_TOKEN=$PD_TOKEN

# ---- the oracle: the fixtures as Python's ElementTree reads them ----
cat >"$TMP/oracle.py" <<'EOF'
import gzip, json, sys, xml.etree.ElementTree as ET
SDP = '{http://schemas.microsoft.com/wsus/2005/04/CorporatePublishing/SoftwareDistributionPackage.xsd}'
CMD = '{http://schemas.microsoft.com/wsus/2005/04/CorporatePublishing/Installers/CommandLineInstallation.xsd}'
def packages(path):
    data = open(path, 'rb').read()
    if data[:2] == b'\x1f\x8b':
        data = gzip.decompress(data)
    root = ET.fromstring(data)
    return [root] if root.tag.endswith('}SoftwareDistributionPackage') else list(root)
def summary(p):
    props = p.find(SDP + 'Properties')
    locs = p.findall(SDP + 'LocalizedProperties')
    title = next((l.find(SDP + 'Title').text for l in locs if l.find(SDP + 'Language').text == 'en'),
                 locs[0].find(SDP + 'Title').text)
    items = []
    for it in p.findall(SDP + 'InstallableItem'):
        cl = it.find(CMD + 'CommandLineInstallerData')
        items.append({
            'id': it.get('ID'),
            'program': cl.get('Program') if cl is not None else None,
            'arguments': cl.get('Arguments') if cl is not None else None,
            'return_codes': [[int(r.get('Code')), r.get('Result'), r.get('Reboot') == 'true']
                             for r in (cl.findall(CMD + 'ReturnCode') if cl is not None else [])],
            'origin_files': [[f.get('FileName'), int(f.get('Size')), f.get('Digest'), f.get('OriginUri')]
                             for f in it.findall(SDP + 'OriginFile')]})
    return {'id': props.get('PackageID').lower(), 'title': title, 'vendor': props.get('VendorName'),
            'product': props.find(SDP + 'ProductName').text, 'items': items}
print(json.dumps(sorted((summary(p) for p in packages(sys.argv[1])), key=lambda s: s['id'])))
EOF
# The same fields from patchpoint's answers: updates list for the summary, the export for the rest.
cat >"$TMP/ours.py" <<'EOF'
import json, sys
lst = json.load(open(sys.argv[1]))['updates']
shows = {}
for line in open(sys.argv[2]):
    d = json.loads(line)
    shows[d['id']] = d
out = []
for u in lst:
    s = shows.get(u['id'])
    items = None
    if s is not None:
        items = [{'id': it['id'], 'program': it['handler'].get('program'),
                  'arguments': it['handler'].get('arguments'),
                  'return_codes': [[r['code'], r['result'], r['reboot']]
                                   for r in it['handler'].get('return_codes', [])],
                  'origin_files': [[f['file_name'], f['size'], f['digest'], f['origin_uri']]
                                   for f in it['origin_files']]} for it in s['items']]
    out.append({'id': u['id'], 'title': u['title'], 'vendor': u['vendor'], 'product': u['product'],
                'items': items})
print(json.dumps(sorted(out, key=lambda s: s['id'])))
EOF
# compare_sample ORACLE OURS: every summary equal; items equal where ours has them (sampled).
cat >"$TMP/compare.py" <<'EOF'
import json, sys
a = json.load(open(sys.argv[1])); b = json.load(open(sys.argv[2]))
if [x['id'] for x in a] != [x['id'] for x in b]:
    print('ids differ: %d vs %d' % (len(a), len(b))); sys.exit(1)
bad = 0
for x, y in zip(a, b):
    for k in ('title', 'vendor', 'product'):
        if x[k] != y[k]:
            print(x['id'], k, repr(x[k]), repr(y[k])); bad += 1
    if y['items'] is not None and x['items'] != y['items']:
        print(x['id'], 'items', x['items'], y['items']); bad += 1
print('%d packages, %d with items compared, %d differences' % (len(a), sum(1 for y in b if y['items'] is not None), bad))
sys.exit(1 if bad else 0)
EOF
python3 "$TMP/oracle.py" "$HP" >"$TMP/hp.oracle" || { echo "Bail out! the oracle cannot read $HP"; exit 1; }

# ---- import the HP catalog ----
run pp catalog import "$HP"
is "catalog import HP exits 0" "$RC" 0
is "catalog import HP: the counts" "$OUT" \
  "Catalog HpCatalogForSms: 1829 packages: 1829 imported, 0 updated, 0 unchanged, 0 skipped"
pp updates list --json >"$TMP/list1.json"
is "updates list --json exits 0" "$?" 0
is "1829 updates listed" "$(jq_py 'len(d["updates"])' <"$TMP/list1.json")" 1829
is "every update at revision 1, state metadata" \
  "$(jq_py 'sorted(set((u["revision"], u["state"], u["catalog"]) for u in d["updates"]))' <"$TMP/list1.json")" \
  "[(1, 'metadata', 'HpCatalogForSms')]"
# Every 40th update in full (46 of them), against the oracle.
: >"$TMP/shows"
for id in $(jq_py '" ".join(u["id"] for u in d["updates"][::40])' <"$TMP/list1.json"); do
  pp updates show "$id" --json | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)))' >>"$TMP/shows"
done
python3 "$TMP/ours.py" "$TMP/list1.json" "$TMP/shows" >"$TMP/hp.ours"
ok "titles, vendors, products of all 1829 and items of 46 match ElementTree's reading" \
  python3 "$TMP/compare.py" "$TMP/hp.oracle" "$TMP/hp.ours"
like "SMS_ISVUPDATES_SYNCAGENT.log records the import" \
  "$(cat "$D/logs/SMS_ISVUPDATES_SYNCAGENT.log")" \
  'Catalog HpCatalogForSms imported: 1829 packages, 1829 imported, 0 updated, 0 unchanged, 0 skipped\]LOG\]!><time="[0-9:.+-]+" date="[0-9-]+" component="SMS_ISVUPDATES_SYNCAGENT" context="" type="1"'

# ---- show: text ----
run pp updates show 00004850-0000-0000-5350-000000065001
is "updates show exits 0" "$RC" 0
like "updates show: title" "$OUT" '^Title: +AMD Video Driver and Control Panel \[13\.152\.1\.9001-131203\]'
like "updates show: command line" "$OUT" 'Command line:  sp65001\.exe -s -e cmd\.exe -a /c "setup\.exe" -Install'
like "updates show: origin file" "$OUT" 'Origin file:   sp65001\.exe, [0-9]+ bytes, SHA-1 '
run pp updates show 00004850-0000-0000-5350-000000065001 --sdp
like "updates show --sdp prints the SDP" "$OUT" '<sdp:SoftwareDistributionPackage '
run pp updates show 00004850-0000-0000-5350-00000006500F
is "an unknown update: exit 1" "$RC" 1
is "an unknown update: one line" "$ERR" \
  "patchpoint: update 00004850-0000-0000-5350-00000006500f does not exist (HTTP 404 not_found)"
run pp updates show not-a-guid
is "a malformed id: exit 1" "$RC" 1
like "a malformed id: says so" "$ERR" 'is not a GUID in lower case \(HTTP 400 invalid_argument\)'

# ---- filters ----
n_hp=$(pp updates list --vendor "hp business clients" --json | jq_py 'len(d["updates"])')
is "--vendor matches case-insensitively" "$n_hp" 1829
is "--vendor of another vendor: none" \
  "$(pp updates list --vendor Dell --json | jq_py 'len(d["updates"])')" 0
want=$(python3 -c 'import json; print(sum(1 for s in json.load(open("'"$TMP/hp.oracle"'")) if "bios" in s["title"].lower()))')
is "--title matches a substring, case-insensitively" \
  "$(pp updates list --title BIOS --json | jq_py 'len(d["updates"])')" "$want"
is "--published: none yet" "$(pp updates list --published --json | jq_py 'len(d["updates"])')" 0
is "--unpublished: all" "$(pp updates list --unpublished --json | jq_py 'len(d["updates"])')" 1829
run pp updates list --title '%'
is "a % in --title is a character, not a wildcard" "$(printf '%s\n' "$OUT" | wc -l)" 1
run pp catalog list
like "catalog list names the catalog" "$OUT" '^HpCatalogForSms +refused '

# ---- re-import: nothing changes ----
run pp catalog import "$HP"
is "re-import exits 0" "$RC" 0
is "re-import: all unchanged" "$OUT" \
  "Catalog HpCatalogForSms: 1829 packages: 0 imported, 0 updated, 1829 unchanged, 0 skipped"
pp updates list --json >"$TMP/list2.json"
ok "re-import: the updates list is byte-identical (revisions and times included)" \
  cmp "$TMP/list1.json" "$TMP/list2.json"

# ---- the Dell SDP ----
run pp catalog import "$DELL" --json
is "import Dell SDP exits 0" "$RC" 0
is "import Dell SDP: one imported into its own catalog" \
  "$(printf '%s' "$OUT" | jq_py '(d["catalog"], d["imported"], d["skipped"])')" \
  "('dc718411-a5f1-4b15-966a-63a77cbb156e', 1, 0)"
run pp updates show dc718411-a5f1-4b15-966a-63a77cbb156e --json
is "Dell: vendor, product, KB, handler kept as other" \
  "$(printf '%s' "$OUT" | jq_py '(d["vendor"], d["product"], d["kb"], d["items"][0]["handler"]["type"])')" \
  "('Dell', 'Drivers and Applications', '45YPT', 'other')"
is "Dell: origin file" \
  "$(printf '%s' "$OUT" | jq_py '(d["items"][0]["origin_files"][0]["digest"], d["items"][0]["origin_files"][0]["size"])')" \
  "('7sJyfjiOzAzMVjZ7FqJLS0hQsG0=', 26825728)"
run pp catalog import "$DELL" --name HpCatalogForSms
is "the same PackageID in another catalog is skipped, with the reason" "$OUT" \
  "Catalog HpCatalogForSms: 1 packages: 0 imported, 0 updated, 0 unchanged, 1 skipped
  skipped package 1 dc718411-a5f1-4b15-966a-63a77cbb156e: the update is already in catalog \"dc718411-a5f1-4b15-966a-63a77cbb156e\""

# ---- export, and import the export into a second server ----
run pp catalog export --catalog HpCatalogForSms --out "$TMP/export.xml"
is "catalog export exits 0" "$RC" 0
python3 "$TMP/oracle.py" "$TMP/export.xml" >"$TMP/export.oracle"
ok "the export, read by ElementTree: every field of every package as in the fixture" \
  cmp "$TMP/hp.oracle" "$TMP/export.oracle"
D2=$TMP/site2
pd_init "$D2" || { echo "Bail out! patchpointd init (2) failed"; exit 1; }
pd_start B "$D2" || { echo "Bail out! patchpointd run (2) failed: $(cat "$TMP/B.err")"; exit 1; }
run pp catalog import "$TMP/export.xml" --server "$PD_URL_B" --token "$PD_TOKEN" --name HpCatalogForSms
is "the export imports into a second server" "$OUT" \
  "Catalog HpCatalogForSms: 1829 packages: 1829 imported, 0 updated, 0 unchanged, 0 skipped"
run pp catalog export --server "$PD_URL_B" --token "$PD_TOKEN" --out "$TMP/export2.xml"
ok "export -> import -> export gives the same bytes" cmp "$TMP/export.xml" "$TMP/export2.xml"
pp updates list --server "$PD_URL_B" --token "$PD_TOKEN" --json |
  jq_py 'json.dumps([{k: v for k, v in u.items() if k not in ("created_at", "updated_at")} for u in d["updates"]])' >"$TMP/l2"
jq_py 'json.dumps([{k: v for k, v in u.items() if k not in ("created_at", "updated_at")} for u in d["updates"] if u["catalog"] == "HpCatalogForSms"])' \
  <"$TMP/list1.json" >"$TMP/l1"
ok "the second server lists the same updates" cmp "$TMP/l1" "$TMP/l2"

# ---- malformed catalogs import nothing ----
count_b() { pp updates list --server "$PD_URL_B" --token "$PD_TOKEN" --json | jq_py 'len(d["updates"])'; }
head -c 400000 "$HP" >"$TMP/truncated.xml.gz"
run pp catalog import "$TMP/truncated.xml.gz" --server "$PD_URL_B" --token "$PD_TOKEN" --name Cut
is "a truncated catalog: exit 1" "$RC" 1
is "a truncated catalog: one line naming the cause" "$ERR" \
  "patchpoint: catalog Cut was not imported (nothing changed): the gzip stream ends early (truncated file) (HTTP 400 invalid_catalog)"
zcat "$HP" | python3 -c 'import sys; d=sys.stdin.buffer.read(); i=d.index(b"<sdp:Title>", len(d)//2); sys.stdout.buffer.write(d[:i] + b"<sdp:Title " + d[i+11:])' >"$TMP/broken.xml"
run pp catalog import "$TMP/broken.xml" --server "$PD_URL_B" --token "$PD_TOKEN" --name Broken
is "a catalog broken in the middle: exit 1" "$RC" 1
like "a catalog broken in the middle: the line of the error" "$ERR" \
  '^patchpoint: catalog Broken was not imported \(nothing changed\): malformed XML at line [0-9]+: '
is "after both, the second server still has exactly its 1829 updates" "$(count_b)" 1829
like "the refusal is in SMS_ISVUPDATES_SYNCAGENT.log" "$(cat "$D2/logs/SMS_ISVUPDATES_SYNCAGENT.log")" \
  'Catalog Broken was not imported \(nothing changed\): malformed XML at line'
run pp catalog list --server "$PD_URL_B" --token "$PD_TOKEN" --json
is "a refused import creates no catalog" "$(printf '%s' "$OUT" | jq_py '[c["name"] for c in d["catalogs"]]')" \
  "['HpCatalogForSms']"
printf '<html><body>not a catalog</body></html>\n' >"$TMP/page.xml"
run pp catalog import "$TMP/page.xml" --server "$PD_URL_B" --token "$PD_TOKEN"
is "not a catalog: one line" "$ERR" \
  "patchpoint: catalog page was not imported (nothing changed): the root element is html, not sdp:SoftwareDistributionPackage or smc:SystemsManagementCatalog (HTTP 400 invalid_catalog)"
run pp catalog import "$TMP/missing.xml"
is "a missing file: exit 1" "$RC" 1
is "a missing file: one line" "$ERR" "patchpoint: cannot read $TMP/missing.xml: No such file or directory (0x80070002 ERROR_FILE_NOT_FOUND)"

# ---- a catalog with one bad package among good ones ----
python3 - "$TMP/export.xml" "$TMP/mixed.xml" <<'EOF'
import sys
d = open(sys.argv[1], encoding='utf-8').read()
first = d.index('<smc:SoftwareDistributionPackage')
second = d.index('<smc:SoftwareDistributionPackage', first + 1)
third = d.index('<smc:SoftwareDistributionPackage', second + 1)
end = d.index('</smc:SystemsManagementCatalog>')
pkg2 = d[second:third]
i = pkg2.index('Digest="') + len('Digest="')
pkg2 = pkg2[:i] + 'bad' + pkg2[i + 28:]
open(sys.argv[2], 'w', encoding='utf-8').write(d[:second] + pkg2 + d[third:third + (d.index('<smc:SoftwareDistributionPackage', third + 1) - third)] + d[end:])
EOF
D3=$TMP/site3
pd_init "$D3" && pd_start C "$D3" || { echo "Bail out! patchpointd (3) failed"; exit 1; }
run pp catalog import "$TMP/mixed.xml" --server "$PD_URL_C" --token "$PD_TOKEN" --name Mixed
is "one bad package among three: exit 0" "$RC" 0
like "one bad package among three: counts" "$OUT" \
  '^Catalog Mixed: 3 packages: 2 imported, 0 updated, 0 unchanged, 1 skipped'
like "one bad package among three: the reason" "$OUT" \
  'skipped package 2 [0-9a-f-]{36}: sdp:OriginFile [^ ]+: Digest "bad[^"]*" is not the base64 of a SHA-1'
like "the skip is in SMS_ISVUPDATES_SYNCAGENT.log" "$(cat "$D3/logs/SMS_ISVUPDATES_SYNCAGENT.log")" \
  'Catalog Mixed: skipped package 2 [0-9a-f-]{36} \([^)]*\): sdp:OriginFile'

# ---- no token ----
run pp updates list --token wrong-token-wrong-token
is "a wrong token: exit 1" "$RC" 1
like "a wrong token: 401" "$ERR" 'HTTP 401 unauthorized'

pd_stop A
is "patchpointd A stops cleanly" "$PD_RC" 0
pd_stop B
pd_stop C
done_testing
