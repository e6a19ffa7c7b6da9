#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Starts and stops the local OpenStack test cloud (Keystone + Swift with s3api) on loopback.
#
# Usage:
#   stack.sh start DIR [--keystone-workers N] [--rgw]
#                                               wipe DIR, start everything, write DIR/stack.env
#   stack.sh stop DIR                           stop the servers recorded in DIR/pids
#   stack.sh status DIR                         show the recorded servers and the URLs
#
# Everything lives under DIR (configs, SQLite database, keys, certificates, Swift's device,
# logs, PIDs); nothing is written to /etc. Servers listen on 127.0.0.1 only, on ports picked
# at random among the free ones (several stacks may run on one machine at once). `start`
# returns 0 once every server answers; the servers keep running (daemonised, each in its own
# session) until `stop`, which signals exactly the PIDs recorded in DIR/pids (TERM, bounded
# wait, then KILL of what is left of that server's process group). Needs the Debian packages
# of scripts/install-deps.sh and a filesystem with user.* extended attributes under DIR.
#
# What runs:
#   keystone   Keystone 22 (python3-keystone) under uwsgi: SQLite (WAL mode), fernet tokens,
#              EC2 credentials encrypted with the credential keys. One uwsgi serves three
#              sockets: plain http, https with a certificate for 127.0.0.1/localhost, and https
#              with a certificate for a wrong host name; both certificates come from a CA made
#              at start (DIR/tls/ca.pem).
#   swift-*    Swift 2.30 proxy, account, container and object servers, one replica, one
#              device (DIR/swift/node/d1). Proxy pipeline: authtoken (delay_auth_decision)
#              s3api s3token keystoneauth, so S3 requests signed with Keystone EC2 credentials
#              work, SigV2 and SigV4 (region us-east-1, Swift's default location).
#   ceph-mon ceph-osd radosgw   with --rgw only: Ceph RGW (Pacific) as a second S3 endpoint on
#              the same Keystone, a one-node cluster with a memstore OSD (tests/stack/ceph.sh says
#              how, and what RGW's Keystone user needs). The cluster comes up while Keystone
#              bootstraps: no longer start on a busy machine; ~140 MiB RSS (docs/PERFORMANCE.md).
#              Unlike Swift, RGW keeps accepting a deleted key for up to 300 s (its secret cache).
#
# Keystone contents: project credrotd (domain Default) with users rotator (member) and
# bystander (member: a second user whose keys credrotd must never touch); admin (project
# admin); service user swift (role service on project service, as s3token and authtoken need);
# catalog: identity, object-store and s3, public, region RegionOne; two application
# credentials of the rotator: unrestricted, and restricted (unrestricted=false, role reader).
# With --rgw, service user rgw too (roles admin and service on project service; RGW is not in
# the catalog: tests name its endpoint).
#
# Keystone speed and caching. Keystone caches in each worker's memory (dogpile.cache
# .memory_pickle) with credential caching off (the plain memory backend breaks on credential
# lookups: KeyError 'encrypted_blob'); bcrypt runs with the minimum 4 rounds (the default 12
# cost ~200 ms per password check). One uwsgi worker (the default) then serves a call in
# 6-17 ms (token issue ~8, EC2 create ~9, list ~6, delete ~15, an S3 request through s3tokens
# ~16); without the cache 200-450 ms. With --keystone-workers N > 1 the workers share one
# SQLite file and know nothing of each other's caches, which keystone_wsgi_multi.py mends:
# requests that may write queue on a lock (else a fifth of concurrent deletes failed with
# "database is locked"), and after a request that wrote, every worker empties its cache before
# its next request (else a removed role or a deleted application credential stayed visible
# through the other workers: tests/stack/check_keystone_coherence.py). So N > 1 runs reads in
# parallel (GETs, and the s3tokens checks behind S3 requests) with every change visible at
# once, but each write costs the other workers a cold cache. Measured on this 2-core machine:
# ~45 ms a call with 4 workers in a loop that writes every other call, 4 clients of that loop
# took 10 s with 1 worker, 20 s with 2, 27 s with 4, and 4 clients of S3 requests alone
# (s3tokens) ran as fast with 1 worker as with 4. Prefer 1 worker unless measuring otherwise.
#
# A demo by hand (the README demo and the benchmarks reuse this):
#   tests/stack/stack.sh start /tmp/demo-stack          # ~6-10 s; prints the URLs
#   set -a; . /tmp/demo-stack/stack.env; set +a         # the keys below, OS_CLIENT_CONFIG_FILE
#   /usr/bin/openstack --os-cloud rotator ec2 credentials create    # shows access and secret
#   /usr/bin/openstack --os-cloud rotator ec2 credentials list
#   printf '[default]\naccess_key = %s\nsecret_key = %s\nhost_base = %s\nhost_bucket = %s\n%s\n' \
#     ACCESS SECRET "$S3_HOST:$S3_PORT" "$S3_HOST:$S3_PORT" 'use_https = False' >/tmp/demo.s3cfg
#   /usr/bin/s3cmd -c /tmp/demo.s3cfg mb s3://demo; /usr/bin/s3cmd -c /tmp/demo.s3cfg ls
#   tests/stack/stack.sh status /tmp/demo-stack         # servers, PIDs, URLs
#   tests/stack/stack.sh stop /tmp/demo-stack
# Logs: DIR/logs/*.log. Debian's python (/usr/bin/python3) and CLIs (/usr/bin/openstack,
# /usr/bin/s3cmd, /usr/bin/aws) are the ones that see the OpenStack modules; the python3
# first on PATH may not be. tests/stack/keystone_timing.py STACK_ENV times Keystone calls.
#
# DIR/stack.env: KEY=VALUE lines, shell-sourceable, values never quoted (they hold no blank
# or shell metacharacter). Keys:
#   STACK_DIR                    DIR (absolute)
#   STACK_PIDS                   DIR/pids: one line "NAME PID STARTTIME" per server
#   STACK_LOGS                   DIR/logs: NAME.log per server (NAME as in STACK_PIDS),
#                                keystone-manage.log, setup.log
#   KEYSTONE_WORKERS             uwsgi worker processes serving Keystone
#   KEYSTONE_URL                 http://127.0.0.1:PORT/v3
#   KEYSTONE_HTTPS_URL           https://127.0.0.1:PORT/v3, certificate for 127.0.0.1 and
#   KEYSTONE_HTTPS_LOCALHOST_URL   localhost (same server, host name localhost)
#   KEYSTONE_HTTPS_WRONG_NAME_URL  https://127.0.0.1:PORT/v3, certificate only for
#                                wrong-name.invalid, signed by the same CA: host check fails
#   KEYSTONE_HTTP_PORT KEYSTONE_HTTPS_PORT KEYSTONE_HTTPS_WRONG_NAME_PORT
#   CA_FILE                      DIR/tls/ca.pem, the CA that signed both certificates
#   TLS_WRONG_NAME               the name in the wrong certificate (wrong-name.invalid)
#   S3_URL                       http://127.0.0.1:PORT (path-style S3 on the Swift proxy)
#   S3_HOST S3_PORT              127.0.0.1 and PORT of S3_URL
#   S3_REGION                    us-east-1: the SigV4 region Swift's s3api accepts
#   SWIFT_URL                    http://127.0.0.1:PORT/v1/AUTH_<project id> (Swift API)
#   SWIFT_ACCOUNT_PORT SWIFT_CONTAINER_PORT SWIFT_OBJECT_PORT
#   REGION                       RegionOne: the Keystone region of every catalog endpoint
#   OS_CLIENT_CONFIG_FILE        DIR/clouds.yaml (clouds below)
#   CLOUD_ROTATOR CLOUD_BYSTANDER CLOUD_ADMIN CLOUD_ROTATOR_APPCRED
#   CLOUD_ROTATOR_APPCRED_RESTRICTED CLOUD_ROTATOR_TLS CLOUD_ROTATOR_TLS_WRONG_NAME
#                                names of the clouds in clouds.yaml (the last two: password
#                                auth over https with cacert set, good and wrong name)
#   ROTATOR_OPENRC               DIR/rotator.env: OS_* variables of the rotator (password),
#                                KEY=VALUE, usable as `set -a; . FILE` or an EnvironmentFile
#   DOMAIN_NAME DOMAIN_ID        Default, default (users and projects)
#   PROJECT_NAME PROJECT_ID      the test project
#   ROTATOR_NAME ROTATOR_ID ROTATOR_PASSWORD         member of the project
#   BYSTANDER_NAME BYSTANDER_ID BYSTANDER_PASSWORD   member of the project too
#   APPCRED_NAME APPCRED_ID APPCRED_SECRET           the rotator's unrestricted app credential
#   APPCRED_RESTRICTED_NAME APPCRED_RESTRICTED_ID APPCRED_RESTRICTED_SECRET
#                                the rotator's restricted one (unrestricted=false, role reader)
#   ADMIN_NAME ADMIN_PASSWORD ADMIN_PROJECT_NAME     the bootstrap admin (project admin)
#   SWIFT_USER_NAME SWIFT_USER_ID SWIFT_USER_PASSWORD SERVICE_PROJECT_ID
#                                Swift's service user (role service on project service)
#   RGW                          1 with --rgw, else 0; the keys below only with --rgw
#   RGW_URL                      http://127.0.0.1:PORT (path-style S3 on radosgw)
#   RGW_HOST RGW_PORT            127.0.0.1 and PORT of RGW_URL
#   RGW_REGION                   us-east-1 (RGW checks SigV4 against the scope's own region)
#   RGW_SECRET_CACHE_SECONDS     300: how long RGW may accept a key after Keystone deleted it
#   RGW_USER_NAME RGW_USER_ID    RGW's Keystone user (roles admin and service on project
#                                service); its password is only in DIR/ceph/rgw/keystone-password
#   CEPH_CONF CEPH_MON_PORT      DIR/ceph/ceph.conf (for `ceph -c`) and the monitor's port
# Facts about this cloud that tests rely on: deleted, unknown and wrong keys all get 403
# SignatureDoesNotMatch (never InvalidAccessKeyId), a deleted key is refused on the first
# request after the delete; error answers to HEAD carry a stray "0\r\n\r\n" after the headers;
# Keystone (uwsgi) closes the connection after each response and says so (Connection: close);
# EC2 credentials cannot be managed with application-credential tokens, even unrestricted ones;
# GET /v3/credentials answers 404 if a credential of the listed user is deleted meanwhile
# (Keystone lists ids, then reads each; seen with N > 1 workers; OS-EC2's list does not).
# RGW's: a deleted key works until RGW's cached secret for it expires (up to 300 s after the
# request that cached it), then 403 InvalidAccessKeyId; an unknown key gets 403
# InvalidAccessKeyId, a wrong secret 403 SignatureDoesNotMatch; anonymous GET / answers 200.
set -euo pipefail

readonly PY=/usr/bin/python3
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly HERE
readonly MARKER=.credrotd-stack
readonly REGION=RegionOne
readonly WRONG_NAME=wrong-name.invalid
readonly DEVICE=d1
# shellcheck source=tests/stack/ceph.sh
. "$HERE/ceph.sh"
# Bounds of every wait, in tenths of a second.
readonly READY_TENTHS=900
readonly STOP_TENTHS=100

say() { printf 'stack.sh: %s\n' "$*"; }
die() {
  printf 'stack.sh: error: %s\n' "$*" >&2
  exit 1
}

usage() {
  sed -n 's/^#   stack.sh/stack.sh/p' "${BASH_SOURCE[0]}" >&2
  exit 2
}

# The start time of PID in clock ticks since boot (field 22 of /proc/PID/stat), which tells a
# recorded server from an unrelated process that got the same PID later. Empty if gone.
start_time() {
  local stat fields
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
  # After "(comm) " (comm may hold blanks) come fields 3 (state) on: field 22 is the 20th.
  read -r -a fields <<<"${stat##*) }"
  printf '%s' "${fields[19]}"
}

# Whether process group $1 still has a live member. Zombies do not count: this machine's init
# reaps orphans only every second or two, and a zombie holds nothing but its PID.
group_alive() {
  ps -e -o pgid=,stat= | awk -v g="$1" '$1 == g && $2 !~ /^Z/ { found = 1 } END { exit !found }'
}

# Stops the servers recorded in DIR/pids: TERM to each recorded PID that is still the process
# we started, a bounded wait for its process group (uwsgi workers, swift children) to exit,
# then KILL for whatever is left of that group. Servers run in their own session, so the
# group id equals the recorded PID and holds only that server's processes. radosgw goes first,
# alone: it needs its OSD and mon to shut down (with them gone it hangs until killed).
stop_recorded() {
  local dir=$1 pids_file=$1/pids
  [[ -f $pids_file ]] || return 0
  local -a first=() rest=()
  local line
  while read -r line; do
    [[ -n $line ]] || continue
    if [[ $line == radosgw\ * ]]; then
      first+=("$line")
    else
      rest+=("$line")
    fi
  done <"$pids_file"
  ((${#first[@]} == 0)) || stop_servers "${first[@]}"
  ((${#rest[@]} == 0)) || stop_servers "${rest[@]}"
  rm -f "$pids_file"
}

# Stops the servers of the given "NAME PID STARTTIME" lines together (see stop_recorded).
stop_servers() {
  local line name pid started now waited
  local -a groups=()
  for line in "$@"; do
    read -r name pid started <<<"$line"
    [[ -n ${pid:-} ]] || continue
    now=$(start_time "$pid")
    if [[ -n $now ]]; then
      if [[ $now != "$started" ]]; then
        say "$name: PID $pid now belongs to another process; not touching it"
        continue
      fi
      kill -TERM "$pid" 2>/dev/null || true
      groups+=("$name:$pid")
    elif group_alive "$pid"; then
      # The leader is gone but its group lives on: our orphans (a PID cannot be reused while
      # it is still a process group id).
      groups+=("$name:$pid")
    fi
  done
  local entry
  for entry in "${groups[@]}"; do
    name=${entry%%:*}
    pid=${entry#*:}
    waited=0
    while group_alive "$pid" && ((waited < STOP_TENTHS)); do
      sleep 0.1
      waited=$((waited + 1))
    done
    if group_alive "$pid"; then
      say "$name: still running after $((STOP_TENTHS / 10)) s, killing process group $pid"
      kill -KILL -- "-$pid" 2>/dev/null || true
    fi
  done
}

# Starts a server in its own session with stdio on its log file (ctest waits for the pipes of
# a test to close, so no server may inherit them) and records its PID.
launch() {
  local name=$1
  shift
  # setsid does not fork here: a background job of a non-interactive shell is not a process
  # group leader, so $! is the server's PID and its own group and session id.
  setsid "$@" </dev/null >>"$STACK_DIR/logs/$name.log" 2>&1 &
  local pid=$!
  local started=""
  local tries=0
  while [[ -z $started ]] && ((tries < 50)); do
    started=$(start_time "$pid")
    tries=$((tries + 1))
  done
  [[ -n $started ]] || fail "$name" "exited at once"
  printf '%s %s %s\n' "$name" "$pid" "$started" >>"$STACK_DIR/pids"
}

# Prints the tail of a server's log and fails (cmd_start's exit trap stops what was started).
fail() {
  local name=$1
  shift
  printf 'stack.sh: error: %s: %s\n' "$name" "$*" >&2
  local log
  # Ceph's daemons write their own logs (ceph-mon.a, ceph-osd.0, ceph-client.rgw.*): when RGW
  # fails, the cause is usually in one of them, not in its stdout.
  for log in "$STACK_DIR/logs/$name.log" "$STACK_DIR"/logs/ceph-{mon.*,osd.*,client.rgw.*}.log; do
    if [[ -s $log ]] && [[ $log == "$STACK_DIR/logs/$name.log" || $name == radosgw || $name == ceph-* ]]; then
      printf -- '--- last lines of %s ---\n' "$log" >&2
      tail -n 40 "$log" >&2
      printf -- '---\n' >&2
    fi
  done
  exit 1
}

pid_of() { awk -v n="$1" '$1 == n { print $2 }' "$STACK_DIR/pids"; }

# Polls URL (curl arguments after NAME) until it answers with HTTP status below 500 while
# server NAME is alive; fails with NAME's log once the bound passes or the server dies.
wait_http() {
  local name=$1 pid
  shift
  pid=$(pid_of "$name")
  local tries=0 code
  while ((tries < READY_TENTHS)); do
    kill -0 "$pid" 2>/dev/null || fail "$name" "exited during start"
    code=$(env -i /usr/bin/curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$@" 2>/dev/null) || true
    if [[ $code =~ ^[1-4][0-9][0-9]$ ]]; then
      return 0
    fi
    sleep 0.1
    tries=$((tries + 1))
  done
  fail "$name" "no answer from ${*: -1} after $((READY_TENTHS / 10)) s"
}

# Checks that PORT is listened on by the process group of server NAME, not by a process of
# another stack that took the same port between the pick and the bind.
check_owner() {
  local name=$1 port=$2 pid owners p
  pid=$(pid_of "$name")
  owners=$(ss -Hltnp "sport = :$port" 2>/dev/null | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u)
  for p in $owners; do
    if [[ $(ps -o pgid= -p "$p" 2>/dev/null | tr -d ' ') == "$pid" ]]; then
      return 0
    fi
  done
  fail "$name" "port $port is not served by this stack (owners: ${owners:-none})"
}

secret() { openssl rand -hex 16; }

# Refuses values that would need quoting in stack.env.
check_value() {
  [[ $2 =~ ^[A-Za-z0-9_./:@%,+=-]*$ ]] || die "internal: value of $1 needs quoting"
}

make_tls() {
  local tls=$STACK_DIR/tls
  mkdir -p "$tls"
  (
    cd "$tls"
    umask 077
    openssl req -x509 -newkey rsa:2048 -nodes -days 30 -keyout ca.key -out ca.pem \
      -subj "/CN=credrotd test CA" \
      -addext "basicConstraints=critical,CA:TRUE" \
      -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
    local name san subject
    for name in server wrong; do
      if [[ $name == server ]]; then
        san="IP:127.0.0.1,DNS:localhost"
        subject="/CN=localhost"
      else
        san="DNS:$WRONG_NAME"
        subject="/CN=$WRONG_NAME"
      fi
      openssl req -newkey rsa:2048 -nodes -keyout "$name.key" -out "$name.csr" \
        -subj "$subject" 2>/dev/null
      printf '%s\n' "basicConstraints=critical,CA:FALSE" \
        "keyUsage=critical,digitalSignature,keyEncipherment" \
        "extendedKeyUsage=serverAuth" "subjectAltName=$san" \
        "subjectKeyIdentifier=hash" "authorityKeyIdentifier=keyid,issuer" >"$name.ext"
      openssl x509 -req -in "$name.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 \
        -extfile "$name.ext" -out "$name.pem" 2>/dev/null
    done
    chmod 0644 ca.pem
  ) || die "openssl failed to make the test certificates under $tls"
}

write_keystone_conf() {
  local ks=$STACK_DIR/keystone
  cat >"$ks/keystone.conf" <<EOF
# Written by tests/stack/stack.sh: Keystone of the credrotd test cloud.
[DEFAULT]
debug = false
use_stderr = true
max_param_size = 255

[database]
connection = sqlite:///$ks/keystone.db

[token]
provider = fernet
expiration = 3600

[fernet_tokens]
key_repository = $ks/fernet-keys

[fernet_receipts]
key_repository = $ks/fernet-keys

[credential]
provider = fernet
key_repository = $ks/credential-keys
# The cached credential dict loses its encrypted_blob to the first reader.
caching = false

[identity]
password_hash_algorithm = bcrypt
password_hash_rounds = 4

[cache]
enabled = true
backend = dogpile.cache.memory_pickle

[oslo_policy]
policy_file = $ks/policy.yaml
policy_dirs = $ks/policy.d

[oslo_concurrency]
lock_path = $STACK_DIR/run
EOF
}

# keystone-manage's steps, run while Swift gets ready: db_sync, fernet_setup and
# credential_setup at once, then bootstrap (keystone_manage.py: one import of Keystone).
setup_keystone() {
  local ks=$STACK_DIR/keystone owner
  owner="--keystone-user $(id -un) --keystone-group $(id -gn)"
  # WAL: readers no longer block the writer, which several uwsgi workers need ("database is
  # locked" otherwise). The mode is stored in the database file, set here before any table.
  sqlite3 "$ks/keystone.db" 'PRAGMA journal_mode=WAL;' >/dev/null
  # exec: the background job's PID is keystone_manage.py's, for on_start_exit.
  OS_BOOTSTRAP_PASSWORD=$ADMIN_PASSWORD exec "$PY" "$HERE/keystone_manage.py" \
    --done "$STACK_DIR/run/keystone-manage" "$ks/keystone.conf" "$ks/conf.d" \
    "db_sync+fernet_setup $owner+credential_setup $owner" \
    "bootstrap --bootstrap-username admin --bootstrap-project-name admin \
     --bootstrap-role-name admin --bootstrap-service-name keystone \
     --bootstrap-region-id $REGION --bootstrap-public-url http://127.0.0.1:$KS_HTTP_PORT/v3"
}

write_swift_conf() {
  local sw=$STACK_DIR/swift user
  user=$(id -un)
  cat >"$sw/swift.conf" <<EOF
[swift-hash]
swift_hash_path_prefix = credrotd-test
swift_hash_path_suffix = credrotd-test

[storage-policy:0]
name = Policy-0
default = yes

[swift-constraints]
EOF
  local server port
  for server in account container object; do
    case $server in
      account) port=$SW_ACCOUNT_PORT ;;
      container) port=$SW_CONTAINER_PORT ;;
      object) port=$SW_OBJECT_PORT ;;
    esac
    cat >"$sw/$server-server.conf" <<EOF
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = $port
workers = 0
user = $user
swift_dir = $sw
devices = $sw/node
mount_check = false
log_name = $server-server
log_level = INFO
recon_cache_path = $STACK_DIR/run

[pipeline:main]
pipeline = healthcheck $server-server

[app:$server-server]
use = egg:swift#$server

[filter:healthcheck]
use = egg:swift#healthcheck
EOF
  done
  local keystone=http://127.0.0.1:$KS_HTTP_PORT
  cat >"$sw/proxy-server.conf" <<EOF
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = $SW_PROXY_PORT
workers = 0
user = $user
swift_dir = $sw
log_name = proxy-server
log_level = INFO

# No memcache: none runs here, and s3token's secret cache stays off, so a deleted EC2
# credential is refused on the very next request.
[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging listing_formats authtoken s3api s3token keystoneauth copy slo dlo proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true

[filter:catch_errors]
use = egg:swift#catch_errors

[filter:gatekeeper]
use = egg:swift#gatekeeper

[filter:healthcheck]
use = egg:swift#healthcheck

[filter:proxy-logging]
use = egg:swift#proxy_logging

[filter:listing_formats]
use = egg:swift#listing_formats

[filter:copy]
use = egg:swift#copy

[filter:slo]
use = egg:swift#slo

[filter:dlo]
use = egg:swift#dlo

# Before s3api: with delay_auth_decision it lets S3 requests (no token) through to s3token.
[filter:authtoken]
paste.filter_factory = keystonemiddleware.auth_token:filter_factory
www_authenticate_uri = $keystone/v3
auth_url = $keystone/v3
auth_type = password
username = $SWIFT_USER
password = $SWIFT_PASSWORD
project_name = service
user_domain_id = default
project_domain_id = default
delay_auth_decision = true
region_name = $REGION

[filter:s3api]
use = egg:swift#s3api
location = us-east-1

# Keystone refuses unauthenticated /v3/s3tokens: the service user below signs in first.
[filter:s3token]
use = egg:swift#s3token
auth_uri = $keystone/v3
auth_type = password
auth_url = $keystone/v3
username = $SWIFT_USER
password = $SWIFT_PASSWORD
project_name = service
user_domain_id = default
project_domain_id = default
secret_cache_duration = 0

[filter:keystoneauth]
use = egg:swift#keystoneauth
operator_roles = admin, member
reseller_prefix = AUTH_
EOF
  chmod 0600 "$sw/proxy-server.conf"
}

write_clouds_yaml() {
  local ks_http=$1 ks_https=$2 ks_wrong=$3 f=$STACK_DIR/clouds.yaml
  umask 077
  cat >"$f" <<EOF
# Written by tests/stack/stack.sh: the clouds of the credrotd test cloud.
clouds:
  rotator:
    auth:
      auth_url: $ks_http
      username: $ROTATOR_NAME
      password: $ROTATOR_PASSWORD
      project_name: $PROJECT_NAME
      user_domain_name: Default
      project_domain_name: Default
    region_name: $REGION
    identity_api_version: 3
    interface: public
  bystander:
    auth:
      auth_url: $ks_http
      username: $BYSTANDER_NAME
      password: $BYSTANDER_PASSWORD
      project_name: $PROJECT_NAME
      user_domain_name: Default
      project_domain_name: Default
    region_name: $REGION
    identity_api_version: 3
    interface: public
  admin:
    auth:
      auth_url: $ks_http
      username: admin
      password: $ADMIN_PASSWORD
      project_name: admin
      user_domain_name: Default
      project_domain_name: Default
    region_name: $REGION
    identity_api_version: 3
    interface: public
  rotator-appcred:
    auth_type: v3applicationcredential
    auth:
      auth_url: $ks_http
      application_credential_id: $APPCRED_ID
      application_credential_secret: $APPCRED_SECRET
    region_name: $REGION
    identity_api_version: 3
    interface: public
  rotator-appcred-restricted:
    auth_type: v3applicationcredential
    auth:
      auth_url: $ks_http
      application_credential_id: $APPCRED_RESTRICTED_ID
      application_credential_secret: $APPCRED_RESTRICTED_SECRET
    region_name: $REGION
    identity_api_version: 3
    interface: public
  rotator-tls:
    auth:
      auth_url: $ks_https
      username: $ROTATOR_NAME
      password: $ROTATOR_PASSWORD
      project_name: $PROJECT_NAME
      user_domain_name: Default
      project_domain_name: Default
    region_name: $REGION
    identity_api_version: 3
    interface: public
    cacert: $CA_FILE
  rotator-tls-wrong-name:
    auth:
      auth_url: $ks_wrong
      username: $ROTATOR_NAME
      password: $ROTATOR_PASSWORD
      project_name: $PROJECT_NAME
      user_domain_name: Default
      project_domain_name: Default
    region_name: $REGION
    identity_api_version: 3
    interface: public
    cacert: $CA_FILE
EOF
}

on_start_exit() {
  if (($1 != 0)); then
    if [[ -n ${SETUP_PID:-} ]]; then
      kill -TERM "$SETUP_PID" 2>/dev/null || true
    fi
    stop_recorded "$STACK_DIR"
    say "start failed; logs are in $STACK_DIR/logs" >&2
  fi
}

cmd_start() {
  local dir="" workers=1 rgw=0
  while (($#)); do
    case $1 in
      --rgw)
        rgw=1
        shift
        ;;
      --keystone-workers)
        (($# >= 2)) || usage
        workers=$2
        shift 2
        ;;
      --keystone-workers=*)
        workers=${1#*=}
        shift
        ;;
      -*) usage ;;
      *)
        [[ -z $dir ]] || usage
        dir=$1
        shift
        ;;
    esac
  done
  [[ -n $dir ]] || usage
  [[ $workers =~ ^[1-9][0-9]?$ ]] || die "--keystone-workers wants a number from 1 to 99, not '$workers'"
  local t0=$SECONDS

  local tool
  for tool in "$PY" /usr/bin/uwsgi /usr/bin/keystone-manage /usr/bin/openssl /usr/bin/curl \
    /usr/bin/sqlite3 /usr/bin/setsid /usr/bin/ss; do
    [[ -x $tool ]] || die "$tool is missing: run scripts/install-deps.sh"
  done
  [[ -e /usr/lib/uwsgi/plugins/python3_plugin.so ]] ||
    die "uwsgi-plugin-python3 is missing: run scripts/install-deps.sh"
  "$PY" -c 'import keystone, swift, keystonemiddleware' 2>/dev/null ||
    die "python3-keystone, swift or python3-keystonemiddleware is missing: run scripts/install-deps.sh"
  ((rgw == 0)) || ceph_check_tools

  mkdir -p "$dir"
  STACK_DIR=$(cd "$dir" && pwd -P)
  [[ $STACK_DIR != / ]] || die "refusing to use / as the stack directory"
  # Paths end up in uwsgi's comma-separated socket options and blank-separated argv.
  [[ $STACK_DIR =~ ^[A-Za-z0-9_./+@-]+$ ]] ||
    die "the stack directory '$STACK_DIR' may hold only letters, digits and _ . / + @ -"
  if [[ -n $(ls -A "$STACK_DIR") && ! -e $STACK_DIR/$MARKER ]]; then
    die "$STACK_DIR is not empty and was not made by stack.sh: refusing to wipe it"
  fi
  stop_recorded "$STACK_DIR"
  # From here on, a failed start stops whatever it started.
  trap 'on_start_exit $?' EXIT
  find "$STACK_DIR" -mindepth 1 -delete
  touch "$STACK_DIR/$MARKER"
  mkdir -p "$STACK_DIR"/{logs,run,keystone/conf.d,swift/node/$DEVICE}
  exec 3>>"$STACK_DIR/logs/setup.log"

  # Swift keeps object metadata in user.* extended attributes.
  local probe=$STACK_DIR/swift/node/$DEVICE/.xattr-probe
  touch "$probe"
  if ! "$PY" -c 'import os,sys; os.setxattr(sys.argv[1], "user.credrotd", b"1")' "$probe" 2>/dev/null; then
    die "the filesystem of $STACK_DIR does not support user.* extended attributes, which Swift needs: use a directory on ext4, xfs or tmpfs (or mount with user_xattr)"
  fi
  rm -f "$probe"

  local -a ports
  mapfile -t ports < <("$PY" "$HERE/ports.py" 10) || die "cannot pick free ports"
  ((${#ports[@]} == 10)) || die "cannot pick free ports"
  KS_HTTP_PORT=${ports[0]}
  local ks_https_port=${ports[1]} ks_wrong_port=${ports[2]}
  SW_PROXY_PORT=${ports[3]}
  SW_ACCOUNT_PORT=${ports[4]}
  SW_CONTAINER_PORT=${ports[5]}
  SW_OBJECT_PORT=${ports[6]}
  CEPH_MON_PORT=${ports[7]}
  RGW_PORT=${ports[8]}
  CEPH_OSD_PORT=${ports[9]} # the first of the OSD's 16 (tests/stack/ceph.sh)

  ADMIN_PASSWORD=$(secret)
  ROTATOR_NAME=rotator
  ROTATOR_PASSWORD=$(secret)
  BYSTANDER_NAME=bystander
  BYSTANDER_PASSWORD=$(secret)
  SWIFT_USER=swift
  SWIFT_PASSWORD=$(secret)
  RGW_KEYSTONE_PASSWORD=""
  PROJECT_NAME=credrotd
  CA_FILE=$STACK_DIR/tls/ca.pem

  # Keystone's database and keys in the background while the rest gets ready.
  write_keystone_conf
  # Keystone's built-in policy, and no file elsewhere (/etc/keystone) may override it.
  printf '# No overrides: Keystone'"'"'s built-in defaults.\n' >"$STACK_DIR/keystone/policy.yaml"
  mkdir -p "$STACK_DIR/keystone/policy.d"
  setup_keystone >>"$STACK_DIR/logs/keystone-manage.log" 2>&1 &
  local setup_pid=$!
  SETUP_PID=$setup_pid

  # The monitor first: it is up by the time the OSD is registered below.
  if ((rgw)); then
    RGW_KEYSTONE_PASSWORD=$(secret)
    ceph_write_conf
    ceph_start_mon
  fi

  make_tls
  write_swift_conf
  "$PY" "$HERE/swift_rings.py" "$STACK_DIR/swift" "$DEVICE" \
    "$SW_ACCOUNT_PORT" "$SW_CONTAINER_PORT" "$SW_OBJECT_PORT" >&3 2>&1 ||
    die "building the Swift rings failed: see $STACK_DIR/logs/setup.log"
  local server
  for server in account container object proxy; do
    launch "swift-$server" "$PY" "$HERE/swift_serve.py" "$STACK_DIR/swift" "$server-server" \
      "$STACK_DIR/swift/$server-server.conf"
  done
  ((rgw == 0)) || ceph_start_osd_rgw

  # The server can load once the schema and the keys exist; bootstrap runs meanwhile.
  local tries=0
  while [[ ! -e $STACK_DIR/run/keystone-manage.1 ]]; do
    if ! kill -0 "$setup_pid" 2>/dev/null; then
      wait "$setup_pid" || true
      fail keystone-manage "keystone-manage failed"
    fi
    ((tries < READY_TENTHS)) || fail keystone-manage "still running after $((READY_TENTHS / 10)) s"
    sleep 0.1
    tries=$((tries + 1))
  done

  local tls=$STACK_DIR/tls
  # One worker: Keystone's own entry point. Several: the same application made safe for
  # several processes on one SQLite file and in-process caches (keystone_wsgi_multi.py).
  local app=/usr/bin/keystone-wsgi-public
  if ((workers > 1)); then
    app=$HERE/keystone_wsgi_multi.py
  fi
  # --add-header "Connection: close": uwsgi's http(s) sockets close the connection after each
  # response without saying so, which breaks keep-alive clients on their second request.
  # --lazy-apps: each worker opens its own database connections and lock file after the fork.
  # --listen 1024: room for many clients waiting on few workers (uwsgi's default is 100).
  # --pyargv: Keystone parses sys.argv with oslo.config; an empty --config-dir of our own
  # replaces the default ones (/etc/keystone/keystone.conf.d, ~/.keystone/keystone.conf.d).
  # --skip-atexit-teardown: Python's finalisation in a worker segfaults in greenlet on exit.
  launch keystone /usr/bin/uwsgi --plugin python3 --master --die-on-term --need-app \
    --processes "$workers" --lazy-apps --buffer-size 65535 --listen 1024 \
    --http-socket "127.0.0.1:$KS_HTTP_PORT" \
    --https-socket "127.0.0.1:$ks_https_port,$tls/server.pem,$tls/server.key" \
    --https-socket "127.0.0.1:$ks_wrong_port,$tls/wrong.pem,$tls/wrong.key" \
    --add-header "Connection: close" \
    --skip-atexit-teardown --worker-reload-mercy 5 \
    --env "OS_KEYSTONE_CONFIG_FILES=$STACK_DIR/keystone/keystone.conf" \
    --env "CREDROTD_KEYSTONE_LOCK=$STACK_DIR/run/keystone-write.lock" \
    --pyargv "--config-dir $STACK_DIR/keystone/conf.d" \
    --wsgi-file "$app" \
    --procname-prefix-spaced "credrotd-stack"

  wait "$setup_pid" || fail keystone-manage "keystone-manage bootstrap failed"
  SETUP_PID=""

  local ks_http=http://127.0.0.1:$KS_HTTP_PORT/v3
  local ks_https=https://127.0.0.1:$ks_https_port/v3
  local ks_wrong=https://127.0.0.1:$ks_wrong_port/v3
  wait_http swift-account "http://127.0.0.1:$SW_ACCOUNT_PORT/healthcheck"
  wait_http swift-container "http://127.0.0.1:$SW_CONTAINER_PORT/healthcheck"
  wait_http swift-object "http://127.0.0.1:$SW_OBJECT_PORT/healthcheck"
  wait_http swift-proxy "http://127.0.0.1:$SW_PROXY_PORT/healthcheck"
  wait_http keystone "$ks_http"
  wait_http keystone --cacert "$CA_FILE" "$ks_https"
  # The wrong name is proven wrong by the smoke test; here only that the socket serves TLS.
  wait_http keystone --insecure "$ks_wrong"
  check_owner keystone "$KS_HTTP_PORT"
  check_owner keystone "$ks_https_port"
  check_owner keystone "$ks_wrong_port"
  check_owner swift-proxy "$SW_PROXY_PORT"
  check_owner swift-account "$SW_ACCOUNT_PORT"
  check_owner swift-container "$SW_CONTAINER_PORT"
  check_owner swift-object "$SW_OBJECT_PORT"

  local provisioned rgw_user="" rgw_note=""
  if ((rgw)); then
    rgw_user=$RGW_KEYSTONE_USER
    rgw_note=", rgw http://127.0.0.1:$RGW_PORT"
  fi
  provisioned=$(STACK_KEYSTONE_URL=$ks_http STACK_SWIFT_ENDPOINT=http://127.0.0.1:$SW_PROXY_PORT \
    STACK_REGION=$REGION STACK_PROJECT=$PROJECT_NAME STACK_ROTATOR=$ROTATOR_NAME \
    STACK_BYSTANDER=$BYSTANDER_NAME STACK_SWIFT_USER=$SWIFT_USER \
    STACK_ADMIN_PASSWORD=$ADMIN_PASSWORD STACK_ROTATOR_PASSWORD=$ROTATOR_PASSWORD \
    STACK_BYSTANDER_PASSWORD=$BYSTANDER_PASSWORD STACK_SWIFT_PASSWORD=$SWIFT_PASSWORD \
    STACK_RGW_USER=$rgw_user STACK_RGW_PASSWORD=$RGW_KEYSTONE_PASSWORD \
    "$PY" "$HERE/keystone_provision.py" 2>&1) || fail keystone "provisioning failed: $provisioned"
  local line
  while IFS= read -r line; do
    [[ $line =~ ^[A-Z_]+= ]] || fail keystone "provisioning printed '$line'"
    printf -v "${line%%=*}" '%s' "${line#*=}"
  done <<<"$provisioned"

  ((rgw == 0)) || ceph_wait_ready

  write_clouds_yaml "$ks_http" "$ks_https" "$ks_wrong"

  local openrc=$STACK_DIR/rotator.env
  cat >"$openrc" <<EOF
OS_AUTH_URL=$ks_http
OS_AUTH_TYPE=password
OS_IDENTITY_API_VERSION=3
OS_USERNAME=$ROTATOR_NAME
OS_PASSWORD=$ROTATOR_PASSWORD
OS_PROJECT_NAME=$PROJECT_NAME
OS_USER_DOMAIN_NAME=Default
OS_PROJECT_DOMAIN_NAME=Default
OS_REGION_NAME=$REGION
OS_INTERFACE=public
EOF

  local -a env_lines=(
    "STACK_DIR=$STACK_DIR"
    "STACK_PIDS=$STACK_DIR/pids"
    "STACK_LOGS=$STACK_DIR/logs"
    "KEYSTONE_WORKERS=$workers"
    "KEYSTONE_URL=$ks_http"
    "KEYSTONE_HTTPS_URL=$ks_https"
    "KEYSTONE_HTTPS_LOCALHOST_URL=https://localhost:$ks_https_port/v3"
    "KEYSTONE_HTTPS_WRONG_NAME_URL=$ks_wrong"
    "KEYSTONE_HTTP_PORT=$KS_HTTP_PORT"
    "KEYSTONE_HTTPS_PORT=$ks_https_port"
    "KEYSTONE_HTTPS_WRONG_NAME_PORT=$ks_wrong_port"
    "CA_FILE=$CA_FILE"
    "TLS_WRONG_NAME=$WRONG_NAME"
    "S3_URL=http://127.0.0.1:$SW_PROXY_PORT"
    "S3_HOST=127.0.0.1"
    "S3_PORT=$SW_PROXY_PORT"
    "S3_REGION=us-east-1"
    "SWIFT_URL=http://127.0.0.1:$SW_PROXY_PORT/v1/AUTH_$PROJECT_ID"
    "SWIFT_ACCOUNT_PORT=$SW_ACCOUNT_PORT"
    "SWIFT_CONTAINER_PORT=$SW_CONTAINER_PORT"
    "SWIFT_OBJECT_PORT=$SW_OBJECT_PORT"
    "REGION=$REGION"
    "OS_CLIENT_CONFIG_FILE=$STACK_DIR/clouds.yaml"
    "CLOUD_ROTATOR=rotator"
    "CLOUD_BYSTANDER=bystander"
    "CLOUD_ADMIN=admin"
    "CLOUD_ROTATOR_APPCRED=rotator-appcred"
    "CLOUD_ROTATOR_APPCRED_RESTRICTED=rotator-appcred-restricted"
    "CLOUD_ROTATOR_TLS=rotator-tls"
    "CLOUD_ROTATOR_TLS_WRONG_NAME=rotator-tls-wrong-name"
    "ROTATOR_OPENRC=$openrc"
    "DOMAIN_NAME=Default"
    "DOMAIN_ID=default"
    "PROJECT_NAME=$PROJECT_NAME"
    "PROJECT_ID=$PROJECT_ID"
    "ROTATOR_NAME=$ROTATOR_NAME"
    "ROTATOR_ID=$ROTATOR_ID"
    "ROTATOR_PASSWORD=$ROTATOR_PASSWORD"
    "BYSTANDER_NAME=$BYSTANDER_NAME"
    "BYSTANDER_ID=$BYSTANDER_ID"
    "BYSTANDER_PASSWORD=$BYSTANDER_PASSWORD"
    "APPCRED_NAME=$APPCRED_NAME"
    "APPCRED_ID=$APPCRED_ID"
    "APPCRED_SECRET=$APPCRED_SECRET"
    "APPCRED_RESTRICTED_NAME=$APPCRED_RESTRICTED_NAME"
    "APPCRED_RESTRICTED_ID=$APPCRED_RESTRICTED_ID"
    "APPCRED_RESTRICTED_SECRET=$APPCRED_RESTRICTED_SECRET"
    "ADMIN_NAME=admin"
    "ADMIN_PASSWORD=$ADMIN_PASSWORD"
    "ADMIN_PROJECT_NAME=admin"
    "SWIFT_USER_NAME=$SWIFT_USER"
    "SWIFT_USER_ID=$SWIFT_USER_ID"
    "SWIFT_USER_PASSWORD=$SWIFT_PASSWORD"
    "SERVICE_PROJECT_ID=$SERVICE_PROJECT_ID"
    "RGW=$rgw"
  )
  if ((rgw)); then
    env_lines+=(
      "RGW_URL=http://127.0.0.1:$RGW_PORT"
      "RGW_HOST=127.0.0.1"
      "RGW_PORT=$RGW_PORT"
      "RGW_REGION=us-east-1"
      "RGW_SECRET_CACHE_SECONDS=300"
      "RGW_USER_NAME=$RGW_KEYSTONE_USER"
      "RGW_USER_ID=$RGW_USER_ID"
      "CEPH_CONF=$STACK_DIR/ceph/ceph.conf"
      "CEPH_MON_PORT=$CEPH_MON_PORT"
    )
  fi
  local kv
  for kv in "${env_lines[@]}"; do
    check_value "${kv%%=*}" "${kv#*=}"
  done
  # Written last and renamed into place: its presence means the stack is complete.
  {
    printf '# credrotd test cloud, written by tests/stack/stack.sh (keys documented there)\n'
    printf '%s\n' "${env_lines[@]}"
  } >"$STACK_DIR/stack.env.tmp"
  chmod 0600 "$STACK_DIR/stack.env.tmp"
  mv "$STACK_DIR/stack.env.tmp" "$STACK_DIR/stack.env"
  say "ready in $((SECONDS - t0)) s: $STACK_DIR/stack.env (keystone $ks_http, s3 http://127.0.0.1:$SW_PROXY_PORT$rgw_note)"
}

cmd_stop() {
  (($# == 1)) || usage
  [[ -d $1 ]] || return 0
  STACK_DIR=$(cd "$1" && pwd -P)
  stop_recorded "$STACK_DIR"
  rm -f "$STACK_DIR/stack.env"
  say "stopped $STACK_DIR"
}

cmd_status() {
  (($# == 1)) || usage
  [[ -f $1/pids ]] || {
    say "no servers recorded in $1"
    return 3
  }
  local name pid started state rc=0
  while read -r name pid started; do
    if [[ $(start_time "$pid") == "$started" && $(ps -o stat= -p "$pid") != Z* ]]; then
      state=running
    else
      state=gone
      rc=3
    fi
    printf '%-16s %8s  %s\n' "$name" "$pid" "$state"
  done <"$1/pids"
  if [[ -f $1/stack.env ]]; then
    grep -E '^(KEYSTONE_(HTTPS_|HTTPS_WRONG_NAME_)?URL|S3_URL|SWIFT_URL|RGW_URL|OS_CLIENT_CONFIG_FILE)=' "$1/stack.env"
  fi
  return $rc
}

main() {
  (($# >= 2)) || usage
  local cmd=$1
  shift
  case $cmd in
    start) cmd_start "$@" ;;
    stop) cmd_stop "$@" ;;
    status) cmd_status "$@" ;;
    *) usage ;;
  esac
}

main "$@"
