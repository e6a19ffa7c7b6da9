#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Makes the test PKI for TLS tests in DIR with the openssl CLI: a CA, a server certificate for
# localhost/127.0.0.1/::1, one for a wrong host name, and an expired one, all signed by the CA.
#   DIR/ca.pem                       the test CA (trust it with cacert)
#   DIR/server.pem, server.key       SAN DNS:localhost, IP:127.0.0.1, IP:::1
#   DIR/wronghost.pem, wronghost.key SAN DNS:wrong.example
#   DIR/expired.pem, expired.key     SAN as server.pem, valid 2020-01-01 .. 2020-01-02
set -euo pipefail
dir=${1:?usage: make_certs.sh DIR}
mkdir -p "$dir"
cd "$dir"
export OPENSSL_CONF=/dev/null # the system openssl.cnf plays no part

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -subj "/CN=credrotd test CA" -keyout ca.key -out ca.pem \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
  2>/dev/null

issue() { # name san
  local name=$1 san=$2
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -subj "/CN=$name" -keyout "$name.key" -out "$name.csr" 2>/dev/null
  printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' "$san" \
    >"$name.ext"
  openssl x509 -req -in "$name.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
    -extfile "$name.ext" -out "$name.pem" 2>/dev/null
}
issue server "DNS:localhost,IP:127.0.0.1,IP:::1"
issue wronghost "DNS:wrong.example"

# An expired certificate needs explicit dates, which only `openssl ca` sets in OpenSSL 3.0.
mkdir -p ca-db
: >ca-db/index.txt
echo 1000 >ca-db/serial
cat >ca-db/ca.cnf <<CNF
[ca]
default_ca = test
[test]
database = ca-db/index.txt
serial = ca-db/serial
new_certs_dir = ca-db
certificate = ca.pem
private_key = ca.key
default_md = sha256
policy = anything
copy_extensions = none
[anything]
commonName = supplied
[ext]
subjectAltName = DNS:localhost,IP:127.0.0.1,IP:::1
basicConstraints = CA:FALSE
extendedKeyUsage = serverAuth
CNF
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
  -subj "/CN=expired" -keyout expired.key -out expired.csr 2>/dev/null
openssl ca -batch -config ca-db/ca.cnf -extensions ext -notext \
  -startdate 20200101000000Z -enddate 20200102000000Z -in expired.csr -out expired.pem 2>/dev/null
rm -f ./*.csr ./*.ext
