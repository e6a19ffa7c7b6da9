#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs a command in a freshly bootstrapped Debian 12 root holding a clean clone of this checkout,
# so that a package installed by hand on this machine cannot hide a missing install step:
#
#   scripts/fresh-root.sh [--keep] [--dir DIR] [--no-ccache] [--] COMMAND [ARG...]
#
#   e.g. scripts/fresh-root.sh ./scripts/test.sh
#
# Stages, each timed: debootstrap --variant=minbase bookworm (nothing else installed); apt
# sources; `git clone` of this checkout's HEAD (committed files only) to /work/credrotd in the
# root; COMMAND run there as root; removal of the root (kept with --keep). The exit status is
# COMMAND's (or this script's own failure's). The mirror, the suites and the components are read
# at run time from this machine's apt sources (deb822 /etc/apt/sources.list.d/*.sources, else
# one-line /etc/apt/sources.list): the entry whose Suites include bookworm gives the mirror for
# debootstrap, and the root gets the same entries (bookworm, bookworm-updates, the security
# suite). No host name is written in this file. This machine's Acquire:: settings of apt
# (validity checks of Release files, a proxy) are given to the root too: they say how to reach the
# mirror, not what is installed.
#
# Isolation: chroot in a private mount and PID namespace, not systemd-nspawn. The point is a
# root whose *files* are a fresh Debian 12; everything else should look like the machine the
# README's command targets ("a fresh Debian 12 machine, as root"), and a chroot keeps it so:
#   - the tests need what a root on a real machine has: /dev/fuse (s3fs), loop devices,
#     CAP_NET_ADMIN (network namespaces), a writable /sys and the machine's cgroup tree (the
#     system tier boots containers with systemd-nspawn -b). A non-booted `systemd-nspawn -D DIR
#     --register=no --keep-unit` takes each of these away by default (device cgroup allow-list,
#     a reduced capability set without CAP_NET_ADMIN, read-only /sys and /proc/sys, a seccomp
#     filter, a container cgroup that nothing delegates without a host systemd) and giving them
#     back needs flags and cgroup set-up whose only effect is to undo the container; a failure
#     there would be a difference of the container, not a missing package.
#   - nested systemd-nspawn -b from inside the root works as on the machine itself (checked:
#     --check-nspawn below), because the root sees the machine's /sys/fs/cgroup.
#   - `unshare --mount --propagation private --pid --fork` gives the mounts (proc, sys, dev,
#     dev/pts, tmpfs /tmp, /run and /dev/shm, the ccache directory) to a namespace of their own:
#     the host never sees them, they vanish when the namespace's last process exits, and the
#     removal of the root cannot walk into them. The PID namespace ends every process left in the
#     root (a service a test forgot) when COMMAND returns, which keeps the namespace from
#     outliving the run.
# The host's ccache directory (`ccache -k cache_dir`) is bound into the root: a cache only
# speeds compilation up and cannot stand in for a package. --no-ccache leaves it out.
#
# --check-nspawn (instead of COMMAND): installs debootstrap + systemd-container in the root,
# bootstraps a minbase tree with systemd there, boots it with the system tier's
# `systemd-nspawn -D DIR -b --console=passive --register=no --keep-unit`, asks
# `nsenter -t LEADER -a systemctl is-system-running --wait` and powers it off.
#
# Environment: CREDROTD_FRESH_ROOT_PARENT (default /var/tmp) holds the root unless --dir is given.
set -euo pipefail

checkout=$(cd "$(dirname "$0")/.." && pwd)
keep=no
dir=
use_ccache=yes
check_nspawn=no
while [[ $# -gt 0 ]]; do
  case $1 in
    --keep) keep=yes ;;
    --dir) dir=$2; shift ;;
    --no-ccache) use_ccache=no ;;
    --check-nspawn) check_nspawn=yes ;;
    --) shift; break ;;
    -*) echo "fresh-root.sh: unknown option $1" >&2; exit 2 ;;
    *) break ;;
  esac
  shift
done
if [[ $check_nspawn == no && $# -eq 0 ]]; then
  echo "usage: fresh-root.sh [--keep] [--dir DIR] [--no-ccache] (--check-nspawn | [--] COMMAND...)" >&2
  exit 2
fi
[[ $(id -u) -eq 0 ]] || { echo "fresh-root.sh: must run as root" >&2; exit 1; }
for tool in debootstrap unshare chroot git; do
  command -v "$tool" >/dev/null || { echo "fresh-root.sh: $tool is missing" >&2; exit 1; }
done

t0=$SECONDS
t_stage=$SECONDS
cur_stage=
stage_log=()
stage() { # stage NAME: closes the previous stage's timing
  local now=$SECONDS
  [[ -z $cur_stage ]] || stage_log+=("$(printf '%-44s %5ds' "$cur_stage" $((now - t_stage)))")
  cur_stage=$1
  t_stage=$now
  [[ $1 == end ]] || printf '\n=== fresh-root: %s (%ds)\n' "$1" $((now - t0))
}

# --- the machine's apt sources --------------------------------------------------------------
# Prints "URIS|SUITES|COMPONENTS|SIGNED-BY" for each deb entry.
read_sources() {
  local f
  shopt -s nullglob
  for f in /etc/apt/sources.list.d/*.sources; do
    awk '
      function flush() { if (types ~ /(^| )deb( |$)/ && uris != "" && enabled != "no") print uris "|" suites "|" comps "|" signed; types=uris=suites=comps=signed=""; enabled="" }
      /^[ \t]*#/ { next }
      /^[ \t]*$/ { flush(); next }
      { key=$1; sub(/:$/, "", key); $1=""; sub(/^ +/, ""); v=$0 }
      tolower(key)=="types" { types=v } tolower(key)=="uris" { uris=v } tolower(key)=="suites" { suites=v }
      tolower(key)=="components" { comps=v } tolower(key)=="signed-by" { signed=v } tolower(key)=="enabled" { enabled=tolower(v) }
      END { flush() }' "$f"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -f $f ]] || continue
    # deb [options] URI SUITE COMPONENT...
    awk '$1=="deb" { i=2; if ($2 ~ /^\[/) { while (i<=NF && $i !~ /\]$/) i++; i++ }
                     uri=$i; suite=$(i+1); comps=""; for (j=i+2;j<=NF;j++) comps=comps (comps==""?"":" ") $j
                     print uri "|" suite "|" comps "|" }' "$f"
  done
  shopt -u nullglob
}
mapfile -t entries < <(read_sources | awk -F'|' '$2 ~ /(^| )bookworm(-updates|-security|\/updates)?( |$)/')
mirror=
for e in "${entries[@]}"; do
  IFS='|' read -r uris suites _ _ <<<"$e"
  if [[ " $suites " == *" bookworm "* ]]; then mirror=${uris%% *}; break; fi
done
if [[ -z $mirror ]]; then
  echo "fresh-root.sh: no apt source of this machine has the suite bookworm" >&2
  exit 1
fi

# --- the root ---------------------------------------------------------------------------------
parent=${CREDROTD_FRESH_ROOT_PARENT:-/var/tmp}
if [[ -z $dir ]]; then
  dir=$(mktemp -d "$parent/credrotd-fresh-root.XXXXXX")
else
  mkdir -p "$dir"
fi
dir=$(cd "$dir" && pwd)
root=$dir/root

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  # unshare, ours by PID, if still running (interrupted): --kill-child makes its end SIGKILL
  # the namespace's PID 1, and with it every process in the root.
  if [[ -n ${unshare_pid:-} ]]; then
    kill -TERM "$unshare_pid" 2>/dev/null || true
    wait "$unshare_pid" 2>/dev/null || true
  fi
  if findmnt -rn -o TARGET | grep -qF "$root"; then
    echo "fresh-root.sh: mounts under $root on the host (not expected); unmounting" >&2
    findmnt -rn -o TARGET | grep -F "$root" | sort -r | while read -r m; do umount -l "$m" || true; done
  fi
  stage end
  if [[ $keep == yes ]]; then
    echo "fresh-root.sh: root kept in $root"
  else
    local t=$SECONDS
    rm -rf --one-file-system "$dir"
    stage_log+=("$(printf '%-44s %5ds' "removing the root" $((SECONDS - t)))")
  fi
  printf '\n=== fresh-root: stage durations\n'
  printf '  %s\n' "${stage_log[@]}"
  printf '  %-44s %5ds\n' total $((SECONDS - t0))
  echo "fresh-root.sh: exit status $rc"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

stage "debootstrap --variant=minbase bookworm ($root)"
debootstrap --variant=minbase bookworm "$root" "$mirror" >"$dir/debootstrap.log" 2>&1 || {
  tail -n 30 "$dir/debootstrap.log" >&2
  exit 1
}

stage "apt sources of the root"
{
  echo "# written by scripts/fresh-root.sh from this machine's apt sources"
  for e in "${entries[@]}"; do
    IFS='|' read -r uris suites comps signed <<<"$e"
    printf '\nTypes: deb\nURIs: %s\nSuites: %s\nComponents: %s\n' "$uris" "$suites" "${comps:-main}"
    printf 'Signed-By: %s\n' "${signed:-/usr/share/keyrings/debian-archive-keyring.gpg}"
  done
} >"$root/etc/apt/sources.list.d/debian.sources"
: >"$root/etc/apt/sources.list"
apt-config dump | grep -E '^Acquire::(Check-Valid-Until|Check-Date|https?::Proxy|Retries) ' \
  >"$root/etc/apt/apt.conf.d/50fresh-root-acquire" || true
cat "$root/etc/apt/sources.list.d/debian.sources"
[[ -s $root/etc/apt/apt.conf.d/50fresh-root-acquire ]] && cat "$root/etc/apt/apt.conf.d/50fresh-root-acquire"
cp /etc/resolv.conf "$root/etc/resolv.conf"
grep -q localhost "$root/etc/hosts" 2>/dev/null ||
  printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"

stage "git clone of HEAD ($(git -C "$checkout" rev-parse --short HEAD))"
mkdir -p "$root/work"
git clone --quiet --no-hardlinks "$checkout" "$root/work/credrotd"

ccache_dir=
if [[ $use_ccache == yes ]] && command -v ccache >/dev/null; then
  ccache_dir=$(ccache -k cache_dir)
  mkdir -p "$ccache_dir" "$root/var/cache/ccache"
fi

# What runs in the root, after the mounts: COMMAND, or the nested-nspawn check.
inner=$dir/inner.sh
cat >"$inner" <<'EOF'
#!/bin/bash
set -euo pipefail
cd /work/credrotd
if [[ $1 == --check-nspawn ]]; then
  export DEBIAN_FRONTEND=noninteractive
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; chmod 0755 /usr/sbin/policy-rc.d
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends debootstrap systemd-container >/dev/null
  rm -f /usr/sbin/policy-rc.d
  mirror=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources)
  tree=/var/tmp/nspawn-check
  t=$SECONDS
  debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus bookworm "$tree" "$mirror" >/var/tmp/nspawn-check.log 2>&1 ||
    { tail -n 30 /var/tmp/nspawn-check.log; exit 1; }
  echo "nested debootstrap: $((SECONDS - t))s"
  t=$SECONDS
  systemd-nspawn -D "$tree" -b --console=passive --register=no --keep-unit >/var/tmp/nspawn-boot.log 2>&1 &
  nspawn=$!
  # The leader: nspawn's child whose PID in its own namespace is 1.
  leader=
  for _ in $(seq 150); do
    for p in $(cat /proc/"$nspawn"/task/*/children 2>/dev/null); do
      grep -qE '^NSpid:.*[[:space:]]1$' "/proc/$p/status" 2>/dev/null && { leader=$p; break; }
    done
    [[ -n $leader ]] && break
    kill -0 "$nspawn" 2>/dev/null || break
    sleep 0.2
  done
  [[ -n $leader ]] || { echo "no container leader"; cat /var/tmp/nspawn-boot.log; exit 1; }
  state=$(timeout 120 nsenter -t "$leader" -a systemctl is-system-running --wait 2>&1) || true
  echo "nested boot: leader $leader, is-system-running: $state ($((SECONDS - t))s)"
  [[ $state == running || $state == degraded ]] || { cat /var/tmp/nspawn-boot.log; }
  if [[ $state == degraded ]]; then nsenter -t "$leader" -a systemctl --failed --no-legend || true; fi
  nsenter -t "$leader" -a systemctl poweroff || kill -TERM "$nspawn"
  rc=0; wait "$nspawn" || rc=$?
  echo "nested nspawn exited $rc after poweroff ($((SECONDS - t))s)"
  rm -rf --one-file-system "$tree"
  [[ $state == running || $state == degraded ]]
  exit
fi
exec "$@"
EOF
chmod 0755 "$inner"
cp "$inner" "$root/usr/local/sbin/fresh-root-inner"

# Runs as PID 1 of the new PID namespace, in the new mount namespace, before the chroot.
setup=$dir/setup.sh
cat >"$setup" <<'EOF'
#!/bin/bash
set -euo pipefail
root=$1 ccache_dir=$2; shift 2
# The root must be a mount point of its own: systemd-nspawn (the system tier) starts by making
# "/" a slave mount (MS_REC|MS_SLAVE), which a plain directory refuses with EINVAL.
mount --bind "$root" "$root"
mount -t proc -o nosuid,nodev,noexec proc "$root/proc"
mount --rbind /sys "$root/sys"
mount --rbind /dev "$root/dev"
mount -t tmpfs -o nosuid,nodev,mode=1777 tmpfs "$root/dev/shm"
mount -t tmpfs -o nosuid,nodev,mode=1777 tmpfs "$root/tmp"
mount -t tmpfs -o nosuid,nodev,mode=0755 tmpfs "$root/run"
mkdir -p "$root/run/lock" && chmod 1777 "$root/run/lock"
if [[ -n $ccache_dir ]]; then
  mount --bind "$ccache_dir" "$root/var/cache/ccache"
fi
[[ -e /dev/fuse ]] || echo "fresh-root.sh: warning: no /dev/fuse on this machine" >&2
# pivot_root, not chroot: the root becomes the root mount of this namespace, as "/" is on a
# machine. Under a chroot, systemd-nspawn's move of the container tree onto "/" lands on the
# chroot directory while `nsenter -t LEADER -a` (setns) starts from the namespace's root mount:
# it would act on this machine's files, not the container's ("System has not been booted with
# systemd as init system").
cd "$root"
pivot_root . .
umount -l .
cd /
# PID 1 of the namespace stays this shell, so that it reaps what the tests leave behind and
# its exit ends the rest. The environment is a root login's, not this machine's.
set +e
env -i HOME=/root USER=root LOGNAME=root SHELL=/bin/bash TERM="${TERM:-dumb}" LANG=C.UTF-8 \
  PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  ${CI:+CI=$CI} ${ccache_dir:+CCACHE_DIR=/var/cache/ccache} \
  /usr/local/sbin/fresh-root-inner "$@" &
child=$!
trap 'kill -TERM "$child" 2>/dev/null' TERM INT
wait "$child"; rc=$?
while kill -0 "$child" 2>/dev/null; do wait "$child"; rc=$?; done
exit "$rc"
EOF
chmod 0755 "$setup"

if [[ $check_nspawn == yes ]]; then
  stage "nested systemd-nspawn -b check in the root"
  set -- --check-nspawn
else
  stage "running in the root: $*"
fi
set +e
unshare --mount --propagation private --pid --fork --kill-child -- "$setup" "$root" "$ccache_dir" "$@" &
unshare_pid=$!
wait "$unshare_pid"
rc=$?
unshare_pid=
set -e
exit "$rc"
