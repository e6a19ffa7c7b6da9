# SPDX-License-Identifier: Apache-2.0
# Ceph RGW for stack.sh --rgw: a one-node cluster (mon, memstore OSD, radosgw) on loopback.
# shellcheck shell=bash
#
# Sourced by stack.sh (uses its STACK_DIR, launch, fail, check_owner, wait_http); not a program.
#
# What runs, all under DIR/ceph, all on 127.0.0.1 (Ceph Pacific 16.2, Debian 12's packages):
#   ceph-mon   one monitor, messenger v1 only, on a port picked like the others; cephx off
#              (auth_{cluster,service,client}_required = none: nothing but loopback reaches it)
#   ceph-osd   one OSD with osd_objectstore = memstore: its objects live in RAM (capped by
#              memstore_device_bytes), so no block device, loop device, mount or root is needed.
#              Ports from a window of 16 from CEPH_OSD_PORT (a free port picked like the
#              others), on 127.0.0.1.
#   radosgw    beast on 127.0.0.1:RGW_PORT, path-style S3 checked against our Keystone:
#              POST /v3/s3tokens, then GET /v3/users/{uid}/credentials/OS-EC2/{access} with its
#              own token to learn the secret, which it then caches per access id for 300 s
#              (s3_token_expiry_length, hard-coded in Pacific; rgw_keystone_token_cache_size
#              entries). So a deleted key keeps working on this RGW for up to 5 minutes after
#              its last Keystone check, where Swift refuses it on the next request.
# No ceph-mgr: RGW serves S3 without one (health stays HEALTH_WARN "no active mgr").
# Keystone user "rgw" (project service, roles admin and service; keystone_provision.py):
# service alone passes s3tokens (Debian's Keystone: rule:service_or_admin) but cannot read
# another user's credential, so RGW would cache nothing (every request would go to Keystone and
# a deleted key would be refused at once): real deployments give it admin, as the Ceph docs say.
# Measured on this 2-core machine: mon answers in ~2 s, OSD up ~3 s later, radosgw serves S3
# ~9 s after that; the three take ~140 MiB RSS (docs/PERFORMANCE.md, "Ceph RGW in the test
# stack").

readonly RGW_ID=credrotd
readonly RGW_KEYSTONE_USER=rgw
# Each Ceph step's client calls give up after this many seconds.
readonly CEPH_TIMEOUT=60

# A client's first command can reach the mon before the client has the monmap, with fsid 0,
# and the mon refuses it unexecuted (mon log "handle_command on fsid 0000... != ...", EPERM;
# the CLI says "wrong fsid", or "problem getting command descriptions" when it was its first
# request; seen in CI): such a refusal is retried, anything else is the caller's to judge.
# stderr is passed on.
ceph_cli() {
  local err=$STACK_DIR/ceph/run/cli.err attempt rc
  for attempt in 1 2 3 4 5; do
    rc=0
    timeout "$CEPH_TIMEOUT" /usr/bin/ceph -c "$STACK_DIR/ceph/ceph.conf" \
      --connect-timeout "$CEPH_TIMEOUT" "$@" 2>"$err" || rc=$?
    cat "$err" >&2
    if ((rc == 0)) || ! grep -Eq 'wrong fsid|problem getting command descriptions' "$err"; then
      return "$rc"
    fi
    sleep 1
  done
  return "$rc"
}

# Checks the tools before anything starts.
ceph_check_tools() {
  local tool
  for tool in /usr/bin/ceph-mon /usr/bin/ceph-osd /usr/bin/radosgw /usr/bin/ceph /usr/bin/monmaptool \
    /usr/bin/uuidgen /usr/bin/timeout; do
    [[ -x $tool ]] || die "$tool is missing (--rgw needs ceph-mon, ceph-osd, ceph-common, radosgw): run scripts/install-deps.sh"
  done
}

# Writes DIR/ceph/ceph.conf and the RGW's Keystone password file. Needs CEPH_MON_PORT,
# CEPH_OSD_PORT, RGW_PORT, KS_HTTP_PORT, RGW_KEYSTONE_PASSWORD.
ceph_write_conf() {
  local c=$STACK_DIR/ceph fsid
  mkdir -p "$c"/{mon,osd,rgw,run}
  # The kernel's random UUID: uuidgen (uuid-runtime) is not on a minimal Debian, and an empty
  # fsid makes the OSD refuse the mon ("wrong fsid").
  fsid=$(cat /proc/sys/kernel/random/uuid)
  [[ $fsid =~ ^[0-9a-f-]{36}$ ]] || fail setup "cannot make a cluster fsid: '$fsid'"
  (
    umask 077
    printf '%s' "$RGW_KEYSTONE_PASSWORD" >"$c/rgw/keystone-password"
  )
  cat >"$c/ceph.conf" <<EOF
# Written by tests/stack/stack.sh --rgw (tests/stack/ceph.sh): a one-node Ceph on loopback.
[global]
fsid = $fsid
mon host = v1:127.0.0.1:$CEPH_MON_PORT
ms bind msgr2 = false
public addr = 127.0.0.1
cluster addr = 127.0.0.1
auth cluster required = none
auth service required = none
auth client required = none
keyring = /dev/null
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon warn on pool no redundancy = false
mon data avail crit = 0
run dir = $c/run
pid file =
admin socket =
log file = $STACK_DIR/logs/ceph-\$name.log
log to stderr = false
err to stderr = true
crash dir = $c/run

[mon.a]
mon data = $c/mon

[osd.0]
osd data = $c/osd
# No mon commands of its own at start-up: ceph_start_osd has put it in the CRUSH map already,
# and the OSD can send them before it has the monmap, with fsid 0, which the mon refuses
# ("wrong fsid"; then init fails with "unable to update_crush_device_class" and radosgw never
# answers, as one CI run showed).
osd class update on start = false
osd crush update on start = false
# Its four listening ports from a window of its own, next to a port picked free (ports.py),
# rather than from Ceph's shared 6800-7300: two stacks on one machine (parallel test runs)
# would otherwise hand each other's OSD ports around, and a mon reaching the other cluster's
# OSD at an address its own OSD had just left gets "wrong fsid".
ms bind port min = $CEPH_OSD_PORT
ms bind port max = $((CEPH_OSD_PORT + 15))
osd objectstore = memstore
memstore device bytes = 268435456
# Its objects die with it: no goodbye to the mon (which stop() ends at the same time) for 5 s.
osd fast shutdown notify mon = false

[client.rgw.$RGW_ID]
rgw data = $c/rgw
rgw frontends = beast endpoint=127.0.0.1:$RGW_PORT
# Virtual-hosted requests: Host BUCKET.localhost (nss-myhostname resolves *.localhost to the
# loopback addresses); any other Host (127.0.0.1) is path-style.
rgw dns name = localhost
rgw s3 auth use keystone = true
rgw keystone url = http://127.0.0.1:$KS_HTTP_PORT
rgw keystone api version = 3
rgw keystone admin user = $RGW_KEYSTONE_USER
rgw keystone admin password path = $c/rgw/keystone-password
rgw keystone admin project = service
rgw keystone admin domain = Default
rgw keystone accepted roles = member, admin
rgw keystone implicit tenants = false
EOF
}

# The monitor: its store made from a one-entry monmap, then the daemon (foreground, own session).
ceph_start_mon() {
  local c=$STACK_DIR/ceph
  {
    /usr/bin/monmaptool --create --fsid "$(awk '$1 == "fsid" { print $3 }' "$c/ceph.conf")" \
      --add a "v1:127.0.0.1:$CEPH_MON_PORT" "$c/monmap" &&
      /usr/bin/ceph-mon -c "$c/ceph.conf" -i a --mkfs --monmap "$c/monmap" --keyring /dev/null
  } >&3 2>&1 || fail setup "ceph-mon --mkfs failed"
  launch ceph-mon /usr/bin/ceph-mon -c "$c/ceph.conf" -i a -f
}

# The OSD (registered with the mon, which must be up: the client calls wait for it) and
# radosgw right after it: radosgw waits for the OSD by itself and makes its pools meanwhile.
ceph_start_osd_rgw() {
  local c=$STACK_DIR/ceph id
  id=$(ceph_cli osd create 2>&3) || fail ceph-mon "'ceph osd create' failed (see ceph-client.admin.log)"
  [[ $id == 0 ]] || fail ceph-mon "'ceph osd create' made osd.$id, expected osd.0"
  ceph_cli osd crush add osd.0 1 root=default >&3 2>&1 || fail ceph-mon "'ceph osd crush add' failed"
  /usr/bin/ceph-osd -c "$c/ceph.conf" -i 0 --mkfs >&3 2>&1 || fail ceph-osd "ceph-osd --mkfs failed"
  launch ceph-osd /usr/bin/ceph-osd -c "$c/ceph.conf" -i 0 -f
  launch radosgw /usr/bin/radosgw -c "$c/ceph.conf" -n "client.rgw.$RGW_ID" -f
}

# Ready once radosgw answers an anonymous GET / (it listens only after its pools exist).
ceph_wait_ready() {
  wait_http radosgw "http://127.0.0.1:$RGW_PORT/"
  check_owner radosgw "$RGW_PORT"
  check_owner ceph-mon "$CEPH_MON_PORT"
}
