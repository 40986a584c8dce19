# tests/certs.sh - certificates made with the real openssl CLI for the shell tests.
# Each function writes NAME.pem (certificate), NAME.key (key), NAME.cer (DER) in the current dir.

_cs_ext() { # extensions file for a code-signing leaf
  cat > "$1" <<'EXT'
[leaf]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = codeSigning
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EXT
}

# mk_selfsigned NAME CN: self-signed code-signing certificate.
mk_selfsigned() {
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.pem" -subj "/CN=$2" \
    -days 365 -sha256 -addext "basicConstraints=critical,CA:FALSE" \
    -addext "keyUsage=critical,digitalSignature" -addext "extendedKeyUsage=codeSigning" \
    2>/dev/null && openssl x509 -in "$1.pem" -outform DER -out "$1.cer"
}

# mk_ca NAME CN: self-signed CA.
mk_ca() {
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.pem" -subj "/CN=$2" \
    -days 3650 -sha256 -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null &&
    openssl x509 -in "$1.pem" -outform DER -out "$1.cer"
}

# mk_issued NAME CN ISSUER SECTION: certificate for CN issued by ISSUER (leaf|server|ca).
mk_issued() {
  _cs_ext ext.cnf
  openssl req -new -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "/CN=$2" \
    2>/dev/null &&
    openssl x509 -req -in "$1.csr" -CA "$3.pem" -CAkey "$3.key" -CAcreateserial -days 365 \
      -sha256 -extfile ext.cnf -extensions "$4" -out "$1.pem" 2>/dev/null &&
    openssl x509 -in "$1.pem" -outform DER -out "$1.cer"
}

# mk_expired NAME CN: self-signed code-signing certificate valid 2020-2021 only.
mk_expired() {
  mkdir -p "ca-$1"
  : > "ca-$1/index.txt"
  echo 01 > "ca-$1/serial"
  cat > "ca-$1/ca.cnf" <<CNF
[ca]
default_ca = d
[d]
dir = ca-$1
database = ca-$1/index.txt
new_certs_dir = ca-$1
serial = ca-$1/serial
default_md = sha256
policy = p
unique_subject = no
[p]
commonName = supplied
[ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = codeSigning
CNF
  openssl req -new -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "/CN=$2" \
    2>/dev/null &&
    openssl ca -batch -config "ca-$1/ca.cnf" -selfsign -keyfile "$1.key" -in "$1.csr" \
      -startdate 20200101000000Z -enddate 20210101000000Z -extensions ext -notext \
      -out "$1.pem" 2>/dev/null &&
    openssl x509 -in "$1.pem" -outform DER -out "$1.cer"
}

# mk_pfx NAME PASSWORD [CHAIN.pem]: NAME.pfx from NAME.pem + NAME.key.
mk_pfx() {
  if [ -n "${3:-}" ]; then
    openssl pkcs12 -export -in "$1.pem" -inkey "$1.key" -certfile "$3" -out "$1.pfx" \
      -passout "pass:$2" 2>/dev/null
  else
    openssl pkcs12 -export -in "$1.pem" -inkey "$1.key" -out "$1.pfx" -passout "pass:$2" 2>/dev/null
  fi
}
