#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs every Debian 12 package credrotd's build, tests and demo need. Idempotent.
set -euo pipefail

packages=(
  # build
  build-essential cmake ninja-build pkg-config ccache git
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libssl-dev libsqlite3-dev libsdbus-c++-dev libsdbus-c++-bin libsystemd-dev
  catch2 libtomlplusplus-dev libyaml-cpp-dev libfmt-dev libcli11-dev
  clang-format clang libclang-rt-14-dev
  # checks: unit verification, man pages, packaging
  systemd dbus-daemon dbus-bin groff-base groff dpkg-dev file man-db mandoc lintian
  # the real stack: Keystone, Swift with s3api, and the clients that read our files
  python3-keystone uwsgi uwsgi-plugin-python3
  swift swift-proxy swift-account swift-container swift-object
  python3-keystonemiddleware python3-openstackclient python3-botocore python3-boto3 python3-prometheus-client
  s3cmd awscli rclone s3fs
  # duck's files read back with java.util.Properties (java File.java needs the JDK's compiler)
  default-jdk-headless
  openssl sqlite3 attr curl procps iproute2 util-linux e2fsprogs
  # fault tests: a daemon whose clock runs fast (integration/faults/tls preloads libfaketimeMT)
  libfaketime
  # Ceph RGW beside Swift (tests/stack/stack.sh): one mon, one memstore OSD, radosgw; ceph-common
  # has the ceph CLI. No ceph-mgr: RGW serves S3 without it (and it pulls a large Python stack).
  ceph-mon ceph-osd ceph-common radosgw
  # virtual-hosted S3 on loopback: nss-myhostname resolves BUCKET.localhost (its postinst adds
  # "myhostname" to the hosts line of /etc/nsswitch.conf)
  libnss-myhostname
  # monitoring: the real node_exporter (textfile collector) and Prometheus read the metrics
  # file; promtool (in prometheus) tests the shipped alert rules; python3-yaml reads them
  prometheus prometheus-node-exporter python3-yaml
  # the clouds.yaml cross-check (label crosscheck) reads every test file with openstack.config
  python3-openstacksdk
  # bench/sign/compare_aws4.py: the npm aws4 signer under node, beside credrotd's
  nodejs node-aws4
  # the system tier: a Debian 12 root booted with systemd as PID 1 in a container
  debootstrap systemd-container
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$p")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps.sh: all ${#packages[@]} packages already installed"
  exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
  echo "install-deps.sh: must run as root to install: ${missing[*]}" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
# Package maintainer scripts must not start services on this machine: the tests start
# their own, on loopback, by PID. policy-rc.d is the Debian way to say so; ours is
# removed again afterwards unless one was already there.
policy=/usr/sbin/policy-rc.d
own_policy=no
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod 0755 "$policy"
  own_policy=yes
fi
trap '[[ $own_policy == yes ]] && rm -f "$policy"' EXIT

apt-get update
apt-get install -y --no-install-recommends "${missing[@]}"
echo "install-deps.sh: installed ${#missing[@]} packages"
if ! getent hosts credrotd-probe.localhost >/dev/null; then
  echo "install-deps.sh: *.localhost does not resolve: /etc/nsswitch.conf's hosts line needs" \
    "\"myhostname\" (libnss-myhostname); the virtual-hosted S3 tests use BUCKET.localhost" >&2
  exit 1
fi
