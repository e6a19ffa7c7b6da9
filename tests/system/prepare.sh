#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Setup of the system tier (ctest fixture `system`): the packages it installs and the Debian 12
# root it boots, all cached in DIR (the build tree's system/ directory):
#   DIR/current/package/credrotd_*.deb   this tree's package (scripts/build-deb.sh, incremental)
#   DIR/old-COMMIT/credrotd_*.deb         the previous version, built from `git archive COMMIT`
#                                         once (cached; the time it took in build-time.txt)
#   DIR/base/root                         debootstrap --variant=minbase of bookworm with
#                                         systemd, dbus, polkitd, ... and the runtime
#                                         dependencies of both packages (cached; rebuilt when
#                                         the package list or the mirror changes)
#   DIR/packages.env                      CURRENT_DEB=, OLD_DEB=, OLD_COMMIT=, BASE=
# Scenarios boot overlays on DIR/base/root and never write into it.
#
# Usage: prepare.sh DIR OLD_COMMIT
# The Debian mirror is the host's own (the URIs: of the bookworm entry of
# /etc/apt/sources.list.d/debian.sources, else the first bookworm line of /etc/apt/sources.list).
set -euo pipefail
[[ $# -eq 2 ]] || {
  echo "usage: prepare.sh DIR OLD_COMMIT" >&2
  exit 2
}
sys=$(mkdir -p "$1" && cd "$1" && pwd)
old_commit=$2
root=$(cd "$(dirname "$0")/../.." && pwd)
start=$SECONDS
# What every scenario needs besides the package's own dependencies.
readonly BASE_PACKAGES=systemd,systemd-sysv,dbus,polkitd,dbus-user-session,libpam-systemd,curl,acl,procps

step() { printf '==> %s (%ds)\n' "$*" $((SECONDS - start)); }
fail() {
  echo "prepare.sh: FAILED: $*" >&2
  exit 1
}

for tool in debootstrap systemd-nspawn nsenter git cmake cpack ninja dpkg-deb; do
  command -v "$tool" >/dev/null || fail "$tool is missing (scripts/install-deps.sh installs it)"
done
[[ $(id -u) -eq 0 ]] || fail "the system tier runs as root (debootstrap, systemd-nspawn)"

mirror() {
  local uri=""
  if [[ -f /etc/apt/sources.list.d/debian.sources ]]; then
    # deb822 stanzas: the URIs of the first stanza whose Suites: names bookworm.
    uri=$(awk 'BEGIN { RS = ""; FS = "\n" }
      {
        uris = ""; suites = ""
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^URIs:/) { uris = $i; sub(/^URIs:[ \t]*/, "", uris) }
          if ($i ~ /^Suites:/) { suites = " " $i " " }
        }
        if (suites ~ /[ \t]bookworm[ \t]/ && uris != "") { split(uris, u, /[ \t]+/); print u[1]; exit }
      }' /etc/apt/sources.list.d/debian.sources)
  fi
  if [[ -z $uri && -f /etc/apt/sources.list ]]; then
    # "deb [options] URI bookworm components", the options left out.
    uri=$(awk '{ line = $0; sub(/\[[^]]*\]/, "", line); split(line, f)
                 if (f[1] == "deb" && f[3] == "bookworm") { print f[2]; exit } }' /etc/apt/sources.list)
  fi
  [[ -n $uri ]] || fail "no bookworm mirror in /etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list"
  echo "$uri"
}

# --- the base root, bootstrapped in the background while the packages build ---
mirror_uri=$(mirror)
base=$sys/base
want="packages=$BASE_PACKAGES mirror=$mirror_uri"
debootstrap_pid=""
if [[ ! -f $base/stamp || $(head -n 1 "$base/stamp") != "$want" ]]; then
  step "debootstrap --variant=minbase bookworm from $mirror_uri (once; cached in $base), in the background"
  rm -rf "$base"
  mkdir -p "$base"
  # In a process group of its own (setsid does not fork for a background job of a
  # non-interactive shell, so $! is the group's id), which a failure below stops whole.
  # Each booted container makes its own machine id: the base's is emptied.
  setsid bash -c 'debootstrap --variant=minbase --include="$1" bookworm "$2/root.tmp" "$3" &&
    : >"$2/root.tmp/etc/machine-id" && mv "$2/root.tmp" "$2/root" && echo "$4" >"$2/stamp"' \
    debootstrap "$BASE_PACKAGES" "$base" "$mirror_uri" "$want" \
    </dev/null >"$base/debootstrap.log" 2>&1 &
  debootstrap_pid=$!
fi
wait_debootstrap() {
  [[ -n $debootstrap_pid ]] || return 0
  local status=0
  wait "$debootstrap_pid" || status=$?
  debootstrap_pid=""
  if [[ $status -ne 0 ]]; then
    tail -n 30 "$base/debootstrap.log" >&2
    fail "debootstrap (log: $base/debootstrap.log)"
  fi
  step "debootstrap done"
}
# A failure below must not leave debootstrap running.
trap '[[ -n $debootstrap_pid ]] && kill -TERM -- "-$debootstrap_pid" 2>/dev/null; true' EXIT

# --- the packages ---
step "building this tree's package (scripts/build-deb.sh, incremental, in $sys/current)"
# CCACHE_BASEDIR makes ccache's keys relative to the source tree, so that the previous
# version, built below from a tree laid out the same way, reuses what did not change.
current_deb=$(CCACHE_BASEDIR=$root CREDROTD_BUILD_DIR=$sys/current "$root/scripts/build-deb.sh")
[[ -f $current_deb ]] || fail "scripts/build-deb.sh printed no package"

old_dir=$sys/old-$old_commit
old_deb=$(ls "$old_dir"/credrotd_*.deb 2>/dev/null | head -n 1 || true)
if [[ -z $old_deb ]]; then
  step "building the previous version's package from git archive $old_commit (once; cached)"
  rm -rf "$old_dir"
  mkdir -p "$old_dir/src"
  git -C "$root" archive "$old_commit" | tar -x -C "$old_dir/src"
  # The build directory sits where this tree's does relative to its source (ccache sharing).
  rel=$(realpath -m --relative-to="$root" "$sys/current")
  [[ $rel != ../* ]] || rel=build/system/current
  t0=$SECONDS
  built=$(CCACHE_BASEDIR=$old_dir/src CREDROTD_BUILD_DIR=$old_dir/src/$rel \
    "$root/scripts/build-deb.sh" --source "$old_dir/src")
  echo "$((SECONDS - t0)) s to build the package of $old_commit on $(nproc) cores" |
    tee "$old_dir/build-time.txt"
  cp "$built" "$old_dir/"
  rm -rf "$old_dir/src"
  old_deb=$(ls "$old_dir"/credrotd_*.deb)
else
  echo "previous version: $old_deb (cached; $(cat "$old_dir/build-time.txt" 2>/dev/null))"
fi

wait_debootstrap

# The runtime dependencies of both packages, so that scenarios install the packages without a
# download (apt-get install ./credrotd_*.deb still resolves and checks every Depends).
deps=$( (dpkg-deb -f "$current_deb" Depends && dpkg-deb -f "$old_deb" Depends) | paste -sd, -)
if [[ $(sed -n 2p "$base/stamp") != "deps=$deps" ]]; then
  step "installing the packages' dependencies into the base: $deps"
  systemd-nspawn -q -D "$base/root" --register=no --keep-unit --machine="credrotd-base-$$" \
    env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
    sh -c 'apt-get satisfy -y --no-install-recommends "$1" && apt-get clean' sh "$deps" \
    >"$base/deps.log" 2>&1 || {
    tail -n 30 "$base/deps.log" >&2
    fail "apt-get satisfy in the base (log: $base/deps.log)"
  }
  : >"$base/root/etc/machine-id"
  printf '%s\ndeps=%s\n' "$want" "$deps" >"$base/stamp"
fi

cat >"$sys/packages.env" <<EOF
CURRENT_DEB=$current_deb
OLD_DEB=$old_deb
OLD_COMMIT=$old_commit
BASE=$base/root
EOF
step "ready: $(basename "$current_deb") (this tree), $(basename "$old_deb") ($old_commit), base $(du -sh "$base/root" | cut -f1)"
