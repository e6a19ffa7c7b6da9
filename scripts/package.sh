#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds the Debian package and proves it, as root on a Debian 12 machine where credrotd is not
# installed: a clean Release build without tests or fault injection and `cpack -G DEB`
# (scripts/build-deb.sh --clean), checks of
# the .deb (control fields, contents), `apt-get install ./credrotd_*.deb`, then checks from the
# installed paths (programs, man pages, units, completion, group, permissions, catalog, the
# installed daemon on a private bus under the installed bus policy, dpkg -L, lintian), and
# finally `apt-get purge` (which must remove the state directory), leaving the machine as it
# was: the group credrotd, which the package keeps on purge, is removed too if this script's
# install created it. With --keep the package stays installed. Prints what it checked.
#
# Environment: CREDROTD_BUILD_DIR (default ./build; the package is built in $it/package),
# CREDROTD_JOBS (default nproc).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${CREDROTD_BUILD_DIR:-$root/build}/package
jobs=${CREDROTD_JOBS:-$(nproc)}
keep=no
case ${1:-} in
  "") ;;
  --keep) keep=yes ;;
  *)
    echo "usage: package.sh [--keep]" >&2
    exit 2
    ;;
esac
start=$SECONDS
checks=()

step() { printf '\n==> %s (%ds)\n' "$*" $((SECONDS - start)); }
fail() {
  echo "package.sh: FAILED: $*" >&2
  exit 1
}
ok() {
  checks+=("$*")
  echo "ok: $*"
}

[[ $(id -u) -eq 0 ]] || fail "must run as root (it installs and purges the package)"
if dpkg-query -W -f='${Status}' credrotd 2>/dev/null | grep -q 'installed'; then
  fail "credrotd is installed already; purge it first (apt-get purge credrotd)"
fi
group_existed=no
getent group credrotd >/dev/null && group_existed=yes

step "building the package (scripts/build-deb.sh --clean: a clean Release build, cpack -G DEB)"
deb=$(CREDROTD_BUILD_DIR=${CREDROTD_BUILD_DIR:-$root/build} CREDROTD_JOBS=$jobs \
  "$root/scripts/build-deb.sh" --clean) || fail "scripts/build-deb.sh"
[[ -f $deb ]] || fail "scripts/build-deb.sh printed no package: $deb"
version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$build/CMakeCache.txt")
[[ $(basename "$deb") == credrotd_"$version"_*.deb ]] || fail "$deb is not credrotd_${version}_*.deb"
echo "$deb ($(stat -c %s "$deb") bytes)"

# What the package must hold, and nothing else (directories follow from the files).
expected_files=(
  /etc/credrotd/credrotd.toml
  /lib/systemd/system/credrotd.service
  /usr/lib/systemd/catalog/credrotd.catalog
  /usr/lib/systemd/user/credrotd.service
  /usr/lib/sysusers.d/credrotd.conf
  /usr/bin/credrotctl
  /usr/sbin/credrotd
  /usr/share/bash-completion/completions/credrotctl
  /usr/share/credrotd/credrotd-alerts.yml
  /usr/share/credrotd/credrotd-dashboard.json
  /usr/share/dbus-1/interfaces/io.github.credrotd.Manager1.xml
  /usr/share/dbus-1/system-services/io.github.credrotd.service
  /usr/share/dbus-1/system.d/io.github.credrotd.conf
  /usr/share/doc/credrotd/changelog.gz
  /usr/share/doc/credrotd/copyright
  /usr/share/doc/credrotd/examples/credrotd.toml
  /usr/share/man/man1/credrotctl.1.gz
  /usr/share/man/man5/credrotd.toml.5.gz
  /usr/share/man/man8/credrotd.8.gz
)
expected_dirs=(/etc/credrotd/credrotd.d)
man_pages=(/usr/share/man/man8/credrotd.8.gz /usr/share/man/man5/credrotd.toml.5.gz
  /usr/share/man/man1/credrotctl.1.gz)
expected_paths() {
  {
    for f in "${expected_files[@]}" "${expected_dirs[@]}"; do
      echo "$f"
      d=$(dirname "$f")
      while [[ $d != / ]]; do
        echo "$d"
        d=$(dirname "$d")
      done
    done
  } | sort -u
}

step "checking the .deb"
control=$(dpkg-deb -f "$deb")
echo "$control" | grep -E '^(Package|Version|Architecture|Maintainer|Depends|Recommends|Suggests|Section|Priority):'
depends=$(dpkg-deb -f "$deb" Depends)
for need in 'libc6' 'libsystemd0' 'libssl3' 'libsqlite3-0' 'libsdbus-c++1' 'libstdc++6' \
  'default-dbus-system-bus | dbus-system-bus' 'systemd (>= 252)'; do
  [[ ", $depends," == *", $need"* ]] || fail "Depends lacks $need: $depends"
done
ok "Depends (dpkg-shlibdeps + runtime): $depends"
[[ $(dpkg-deb -f "$deb" Version) == "$version" ]] || fail "Version is not $version"
changelog_version=$(dpkg-parsechangelog -l "$root/cmake/debian/changelog" -S Version)
[[ $changelog_version == "$version" ]] ||
  fail "cmake/debian/changelog's latest entry is $changelog_version, the project is $version"
ok "Version $version (project, package, changelog)"
dpkg-deb -I "$deb" conffiles | grep -qx /etc/credrotd/credrotd.toml || fail "no conffiles entry"
ok "conffiles: $(dpkg-deb -I "$deb" conffiles | tr '\n' ' ')"
for script in postinst prerm postrm; do
  dpkg-deb -I "$deb" "$script" >/dev/null || fail "no $script"
  dpkg-deb -I "$deb" "$script" | sh -n || fail "$script is not valid sh"
done
ok "maintainer scripts postinst, prerm, postrm (valid sh)"
contents=$(dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\./|/|; s|/$||' | grep -v '^$' | sort -u)
if [[ $contents != "$(expected_paths)" ]]; then
  diff <(expected_paths) <(echo "$contents") >&2 || true
  fail "the package contents differ from the expected layout (< expected, > packaged)"
fi
ok "package contents: exactly the ${#expected_files[@]} expected files"
extract=$(mktemp -d)
trap 'rm -rf "$extract"' EXIT
dpkg-deb -x "$deb" "$extract"
for binary in "$extract"/usr/sbin/* "$extract"/usr/bin/*; do
  [[ -f $binary ]] || continue
  if grep -q -a -e CREDROTD_CRASH_AT -e CREDROTD_CRASH_LOG "$binary"; then
    fail "$binary contains fault injection (CREDROTD_CRASH_AT)"
  fi
  if grep -q -a -e __asan_init -e __ubsan_handle "$binary"; then
    fail "$binary is built with sanitizers"
  fi
  kind=$(file -b "$binary")
  if [[ $kind != *stripped* || $kind == *"not stripped"* ]]; then
    fail "$binary is not stripped: $kind"
  fi
done
ok "binaries: stripped, no fault injection, no sanitizer"

step "apt-get install ./$(basename "$deb")"
export DEBIAN_FRONTEND=noninteractive
apt-get install -y --no-install-recommends "$deb" >"$build/apt-install.log" 2>&1 ||
  { cat "$build/apt-install.log" >&2; fail "apt-get install"; }
tail -n 3 "$build/apt-install.log"
cleanup() {
  if [[ $keep == no ]]; then
    apt-get purge -y credrotd >"$build/apt-purge.log" 2>&1 || true
    if [[ $group_existed == no ]]; then
      groupdel credrotd 2>/dev/null || true
    fi
  fi
  rm -rf "$extract"
}
trap cleanup EXIT
ok "apt-get install ./$(basename "$deb")"

step "checking the installed package"
installed=$(/usr/sbin/credrotd --version)
[[ $installed == "credrotd $version" ]] || fail "/usr/sbin/credrotd --version printed: $installed"
ok "/usr/sbin/credrotd --version: $installed"
/usr/sbin/credrotd --help | grep -q -- '--check-config' || fail "/usr/sbin/credrotd --help"
ok "/usr/sbin/credrotd --help"
out=$(/usr/bin/credrotctl --help) || fail "/usr/bin/credrotctl --help exited $?"
grep -q 'check-config' <<<"$out" || fail "/usr/bin/credrotctl --help: $out"
ok "/usr/bin/credrotctl --help"
installed=$(/usr/bin/credrotctl --version)
[[ $installed == "credrotctl $version" ]] || fail "/usr/bin/credrotctl --version printed: $installed"
ok "/usr/bin/credrotctl --version: $installed"
# Without a bus, credrotctl says so with its exit status 3; it does not hang or crash.
status=0
DBUS_SYSTEM_BUS_ADDRESS=unix:path=/nonexistent/bus /usr/bin/credrotctl --timeout 5 status \
  >/dev/null 2>&1 || status=$?
[[ $status -eq 3 ]] || fail "/usr/bin/credrotctl status without a bus exited $status, not 3"
ok "/usr/bin/credrotctl status without a bus: exit status 3"

for page in "${man_pages[@]}"; do
  out=$(zcat "$page" | groff -man -ww -z 2>&1)
  [[ -z $out ]] || fail "groff -man -ww -z $page: $out"
  text=$(MANWIDTH=80 man --warnings -l "$page" 2>"$build/man.err")
  [[ ! -s $build/man.err ]] || fail "man --warnings -l $page: $(cat "$build/man.err")"
  [[ $(wc -l <<<"$text") -gt 20 ]] || fail "man -l $page rendered almost nothing"
done
for name in 8:credrotd 5:credrotd.toml 1:credrotctl; do
  where=$(MANPATH=/usr/share/man man -w "${name%%:*}" "${name#*:}")
  [[ $where == /usr/share/man/* ]] || fail "man -w ${name#*:} found $where"
done
ok "man pages: groff -man -ww -z and man --warnings -l silent on ${man_pages[*]}; man -w finds them"

# Documentation=man:... is resolved too: every page the units name must be installed.
for unit in /lib/systemd/system/credrotd.service /usr/lib/systemd/user/credrotd.service; do
  out=$(systemd-analyze verify "$unit" 2>&1) || fail "systemd-analyze verify $unit: $out"
  [[ -z $out ]] || fail "systemd-analyze verify $unit: $out"
done
ok "systemd-analyze verify on the installed system and user units (Documentation= pages included)"

completion=/usr/share/bash-completion/completions/credrotctl
out=$(bash -c ". $completion && complete -p credrotctl" 2>&1) || fail "sourcing $completion: $out"
[[ $out == "complete -F _credrotctl credrotctl" ]] || fail "$completion registers: $out"
ok "bash completion: $completion registers $out"

getent group credrotd >/dev/null || fail "no group credrotd"
[[ $(stat -c '%U:%G %a' /etc/credrotd) == "root:credrotd 750" ]] ||
  fail "/etc/credrotd is $(stat -c '%U:%G %a' /etc/credrotd), not root:credrotd 750"
ok "group credrotd (systemd-sysusers); /etc/credrotd root:credrotd 0750"
# The unit runs `credrotd --check-config` as root with three capabilities: the installed
# configuration must be valid without CAP_DAC_OVERRIDE.
out=$(cd /var/tmp && env -i PATH=/usr/sbin:/usr/bin HOME=/root \
  setpriv --inh-caps=-all --bounding-set=-all,+setuid,+setgid,+setpcap \
  /usr/sbin/credrotd --check-config 2>&1) || fail "credrotd --check-config: $out"
grep -q 'configuration OK: 0 profile(s)' <<<"$out" || fail "credrotd --check-config: $out"
ok "credrotd --check-config as root with the unit's bounding set on the installed configuration: $(grep "configuration OK" <<<"$out")"
catalog=$(journalctl --list-catalog 2>&1) || fail "journalctl --list-catalog: $catalog"
grep -q 7ea8da8ff3f445cba960f4feee592276 <<<"$catalog" ||
  fail "journalctl --list-catalog does not list credrotd's entries"
ok "journal catalog updated (journalctl --list-catalog)"

# The installed daemon, as root with the unit's bounding set, on a private bus that applies the
# installed bus policy the way the system bus does: it owns its name, root may call it, nobody
# may not.
step "the installed credrotd on a private system-like bus"
bus=$(mktemp -d)
chmod 0755 "$bus"
cat >"$bus/bus.conf" <<EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=$bus/socket</listen>
  <include>$root/tests/integration/dbus/system-bus-default-policy.conf</include>
  <include>/usr/share/dbus-1/system.d/io.github.credrotd.conf</include>
</busconfig>
EOF
bus_pid=""
daemon_pid=""
stop_bus() {
  if [[ -n $daemon_pid ]]; then
    kill "$daemon_pid" 2>/dev/null || true
    wait "$daemon_pid" 2>/dev/null || true
  fi
  if [[ -n $bus_pid ]]; then
    kill "$bus_pid" 2>/dev/null || true
    wait "$bus_pid" 2>/dev/null || true
  fi
  daemon_pid=""
  bus_pid=""
  rm -rf "$bus"
}
trap 'stop_bus; cleanup' EXIT
dbus-daemon --config-file="$bus/bus.conf" --nofork --nopidfile &
bus_pid=$!
export DBUS_SYSTEM_BUS_ADDRESS=unix:path=$bus/socket
for _ in $(seq 100); do
  [[ -S $bus/socket ]] && break
  sleep 0.1
done
[[ -S $bus/socket ]] || fail "the private bus did not start"
# What the unit's StateDirectory= would create.
install -d -o root -g root -m 0700 /var/lib/credrotd
(cd /var/lib/credrotd && exec env -i PATH=/usr/sbin:/usr/bin HOME=/root \
  CREDROTD_LOG=stderr DBUS_SYSTEM_BUS_ADDRESS="$DBUS_SYSTEM_BUS_ADDRESS" \
  setpriv --inh-caps=-all --bounding-set=-all,+setuid,+setgid,+setpcap /usr/sbin/credrotd) \
  2>"$build/credrotd.log" &
daemon_pid=$!
answer=""
for _ in $(seq 100); do
  answer=$(/usr/bin/credrotctl --timeout 2 --json status 2>/dev/null) && break
  kill -0 "$daemon_pid" 2>/dev/null || break
  sleep 0.1
done
[[ $answer == *'"version":"'"$version"'"'* ]] ||
  fail "credrotctl --json status: '$answer'; credrotd said: $(cat "$build/credrotd.log")"
ok "the installed credrotd (root, three capabilities) owns io.github.credrotd under the installed policy; root's credrotctl --json status: $answer"
status=0
setpriv --reuid=nobody --regid=nogroup --clear-groups /usr/bin/credrotctl --timeout 5 status \
  >/dev/null 2>&1 || status=$?
[[ $status -eq 4 ]] || fail "credrotctl status as nobody exited $status, not 4 (access denied)"
ok "credrotctl status as user nobody: exit status 4 (the installed bus policy refuses)"
kill "$daemon_pid"
status=0
wait "$daemon_pid" || status=$?
daemon_pid=""
[[ $status -eq 0 ]] || fail "credrotd exited $status on SIGTERM: $(cat "$build/credrotd.log")"
[[ -f /var/lib/credrotd/state.db ]] || fail "credrotd made no /var/lib/credrotd/state.db"
ok "credrotd stopped on SIGTERM with status 0, its state in /var/lib/credrotd/state.db"
stop_bus
unset DBUS_SYSTEM_BUS_ADDRESS

listed=$(dpkg -L credrotd | sort -u)
if [[ $listed != "$(expected_paths)" ]]; then
  diff <(expected_paths) <(echo "$listed") >&2 || true
  fail "dpkg -L credrotd differs from the expected layout"
fi
ok "dpkg -L credrotd: only the expected paths"
dpkg -L credrotd | while read -r path; do [[ -d $path ]] || echo "$path"; done

step "lintian"
# As an unprivileged user (lintian warns when run as root), on a copy it can read.
lint=$(mktemp -d)
cp "$deb" "$lint/"
chmod 0755 "$lint"
chmod 0644 "$lint/$(basename "$deb")"
lintian_status=0
lintian_out=$(cd "$lint" && setpriv --reuid=nobody --regid=nogroup --clear-groups env -i \
  PATH=/usr/bin:/bin HOME="$lint" lintian --fail-on error,warning --display-info \
  "$lint/$(basename "$deb")" 2>&1) || lintian_status=$?
rm -rf "$lint"
[[ -z $lintian_out ]] || echo "$lintian_out"
[[ $lintian_status -eq 0 ]] || fail "lintian reports errors or warnings (status $lintian_status)"
ok "lintian: no error or warning; $(grep -c '^I:' <<<"$lintian_out" || true) informational tags"

if [[ $keep == no ]]; then
  step "apt-get purge credrotd (removes the state directory)"
  [[ -f /var/lib/credrotd/state.db ]] || fail "no state to purge"
  apt-get purge -y credrotd >"$build/apt-purge.log" 2>&1 ||
    { cat "$build/apt-purge.log" >&2; fail "apt-get purge"; }
  [[ ! -e /var/lib/credrotd ]] || fail "purge left /var/lib/credrotd"
  [[ ! -e /etc/credrotd ]] || fail "purge left /etc/credrotd: $(ls -A /etc/credrotd)"
  [[ ! -e /usr/sbin/credrotd ]] || fail "purge left /usr/sbin/credrotd"
  ok "apt-get purge: files, /etc/credrotd and the state directory /var/lib/credrotd removed"
fi

step "package checks passed"
printf '  %s\n' "${checks[@]}"
echo "package: $deb$([[ $keep == yes ]] && echo ' (installed)')"
