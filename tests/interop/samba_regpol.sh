#!/usr/bin/env bash
# Interop with Samba's Registry.pol code (python3-samba: samba.gp_parse.gp_pol.GPPolParser over
# the NDR of librpc/idl/preg.idl): our files parse there to the same entries and pack back to the
# same bytes; Samba's files read here to the same entries and are written back byte for byte.
. "$(dirname "$0")/../lib.sh"
cd "$TMP"
TOOL=${REGPOL_TOOL:-$(dirname "$PATCHPOINT")/regpol_tool}
# Debian's python3-samba lives in the system Python, whatever python3 is first on PATH.
PY=${SAMBA_PYTHON:-/usr/bin/python3}

if ! "$PY" -c 'import samba.gp_parse.gp_pol' 2>/dev/null; then
  skip "Samba's GPPolParser" "python3-samba is not installed (scripts/install-deps.sh)"
  done_testing
  exit 0
fi
if [ ! -x "$TOOL" ]; then
  skip "regpol_tool" "not built: $TOOL"
  done_testing
  exit 0
fi

# Prints a .pol file as "key|value|type|hex" lines as Samba understands it, the data turned back
# into the bytes of the file (NDR decodes strings and numbers); then checks that Samba packs what
# it parsed into exactly the bytes it read.
cat > samba_dump.py <<'EOF'
import struct, sys
from samba.dcerpc import misc
from samba.gp_parse.gp_pol import GPPolParser
from samba.ndr import ndr_pack

def raw(e):
    t, d = e.type, e.data
    if t in (misc.REG_SZ, misc.REG_EXPAND_SZ):
        return (d + '\x00').encode('utf-16le')
    if t == misc.REG_DWORD:
        return struct.pack('<I', d)
    if t == misc.REG_DWORD_BIG_ENDIAN:
        return struct.pack('>I', d)
    if t == misc.REG_QWORD:
        return struct.pack('<Q', d)
    if t == misc.REG_NONE and d is None:
        return b''
    return bytes(d)

contents = open(sys.argv[1], 'rb').read()
p = GPPolParser()
p.parse(contents)
assert p.pol_file.header.signature == 'PReg' and p.pol_file.header.version == 1
for e in p.pol_file.entries:
    d = raw(e)
    assert len(d) == e.size, (e.keyname, e.valuename, len(d), e.size)
    sys.stdout.buffer.write(('%s|%s|%d|%s\n' % (e.keyname, e.valuename, e.type, d.hex())).encode('utf-8'))
if ndr_pack(p.pol_file) != contents:
    sys.exit('samba packs the parsed file into different bytes')
EOF

# Samba writes a .pol from XML (GPPolParser.load_xml, the gp_parse backup format).
cat > samba_write.py <<'EOF'
import sys
from xml.etree.ElementTree import fromstring
from samba.gp_parse.gp_pol import GPPolParser
p = GPPolParser()
p.load_xml(fromstring(open(sys.argv[1], encoding='utf-8').read()))
p.write_binary(sys.argv[2])
EOF

# Samba's XML round trip: pol -> XML -> pol.
cat > samba_xml.py <<'EOF'
import sys
from xml.etree.ElementTree import fromstring
from samba.gp_parse.gp_pol import GPPolParser
p = GPPolParser()
p.parse(open(sys.argv[1], 'rb').read())
p.write_xml(sys.argv[2])
q = GPPolParser()
q.load_xml(fromstring(open(sys.argv[2], encoding='utf-8').read()))
q.write_binary(sys.argv[3])
EOF

utf16z() { # UTF-8 text -> hex of its UTF-16LE with a NUL
  printf '%s' "$1" | iconv -f UTF-8 -t UTF-16LE | xxd -p | tr -d '\n'
  printf '0000'
}

# ---- (1) ours, read by Samba ----
openssl req -x509 -newkey rsa:2048 -nodes -keyout k.pem -out wsus.pem -days 30 \
  -subj "/CN=WSUS Publishers Self-signed" >/dev/null 2>&1
thumb=$(openssl x509 -in wsus.pem -noout -fingerprint -sha1 | sed 's/.*=//; s/://g')
blob=$("$TOOL" blob wsus.pem)
like "the Blob starts with property 3 (SHA-1) of the certificate" "$blob" \
  "^030000000100000014000000$(printf '%s' "$thumb" | tr 'A-F' 'a-f')20000000"
wu='Software\Policies\Microsoft\Windows\WindowsUpdate'
sc='Software\Policies\Microsoft\SystemCertificates'
{
  echo "$wu|AcceptTrustedPublisherCerts|4|01000000"
  echo "$wu|WUServer|1|$(utf16z 'http://sup.example:8530')"
  echo "$wu|Path|2|$(utf16z '%SystemRoot%\caché')"
  echo "$wu|**del.WUStatusServer|1|$(utf16z ' ')"
  echo "$wu|Big|5|12345678"
  echo "$wu|Q|11|efcdab8967452301"
  echo "$wu|Multi|7|$(printf 'one\0deux\0' | iconv -f UTF-8 -t UTF-16LE | xxd -p | tr -d '\n')0000"
  echo "$wu|Bin|3|00ff10"
  echo "$sc\\Root\\Certificates\\$thumb|Blob|3|$blob"
  echo "$sc\\TrustedPublisher\\Certificates\\$thumb|Blob|3|$blob"
  echo "Software\\Policies\\Ünïcode\\鍵|値|1|$(utf16z 'データ')"
  echo "$sc\\Root\\CRLs||0|"
} > ours.txt
ok "regpol_tool writes a Registry.pol" "$TOOL" write ours.pol < ours.txt
"$TOOL" read ours.pol > ours-back.txt 2>&1
is "our reader gives back every entry" "$(cat ours-back.txt)" "$(cat ours.txt)"
out=$("$PY" samba_dump.py ours.pol 2>&1)
rc=$?
is "GPPolParser parses our file and packs it to the same bytes" "$rc" 0
is "Samba sees our keys, values, types and data" "$out" "$(cat ours.txt)"
ok "Samba's XML round trip of our file" "$PY" samba_xml.py ours.pol ours.xml ours-samba.pol
ok "is byte-identical to our file" cmp ours.pol ours-samba.pol

# ---- (2) Samba's, read by us ----
cat > theirs.xml <<'EOF'
<?xml version="1.0" encoding="utf-8"?>
<PolFile num_entries="8" signature="PReg" version="1">
  <Entry type="4" type_name="REG_DWORD">
    <Key>Software\Policies\Microsoft\Windows\WindowsUpdate</Key>
    <ValueName>AcceptTrustedPublisherCerts</ValueName>
    <Value>1</Value>
  </Entry>
  <Entry type="1" type_name="REG_SZ">
    <Key>Software\Policies\Microsoft\Windows\WindowsUpdate</Key>
    <ValueName>WUServer</ValueName>
    <Value>http://sup.example:8530</Value>
  </Entry>
  <Entry type="2" type_name="REG_EXPAND_SZ">
    <Key>Software\Policies\Ünïcode</Key>
    <ValueName>Pfad</ValueName>
    <Value>%ProgramFiles%\café</Value>
  </Entry>
  <Entry type="5" type_name="REG_DWORD_BIG_ENDIAN">
    <Key>Software\Policies\X</Key>
    <ValueName>Big</ValueName>
    <Value>305419896</Value>
  </Entry>
  <Entry type="11" type_name="REG_QWORD">
    <Key>Software\Policies\X</Key>
    <ValueName>Q</ValueName>
    <Value>81985529216486895</Value>
  </Entry>
  <Entry type="7" type_name="REG_MULTI_SZ">
    <Key>Software\Policies\X</Key>
    <ValueName>Multi</ValueName>
    <Value>one</Value>
    <Value>two</Value>
  </Entry>
  <Entry type="3" type_name="REG_BINARY">
    <Key>Software\Policies\X</Key>
    <ValueName>Bin</ValueName>
    <Value>AAEC/w==</Value>
  </Entry>
  <Entry type="0" type_name="REG_NONE">
    <Key>Software\Policies\X\Empty</Key>
    <ValueName></ValueName>
  </Entry>
</PolFile>
EOF
ok "Samba writes a Registry.pol from XML" "$PY" samba_write.py theirs.xml theirs.pol
"$PY" samba_dump.py theirs.pol > theirs-samba.txt 2>&1
"$TOOL" read theirs.pol > theirs-ours.txt 2>&1
is "Samba wrote 8 entries" "$(wc -l < theirs-samba.txt)" 8
is "we read Samba's file to the entries Samba sees" "$(cat theirs-ours.txt)" "$(cat theirs-samba.txt)"
like "with the WUServer string as UTF-16LE and its NUL" "$(cat theirs-ours.txt)" \
  "WUServer\|1\|$(utf16z 'http://sup.example:8530')"
ok "regpol_tool rewrites Samba's file" "$TOOL" write theirs-back.pol < theirs-ours.txt
ok "byte-identical to what Samba wrote" cmp theirs.pol theirs-back.pol

# ---- (3) a file Samba would refuse, we refuse too ----
head -c $(($(stat -c %s ours.pol) - 1)) ours.pol > cut.pol
fails "we refuse a truncated file" "$TOOL" read cut.pol
fails "and so does Samba" "$PY" samba_dump.py cut.pol

done_testing
