#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The unit files are valid (`systemd-analyze verify` prints nothing) and the system unit's
# offline exposure score is at most 2.1: root with three capabilities, of which the scorer
# charges 0.4 for "runs as root user" whatever the bounding set (credrotd(8), PRIVILEGES).
# Usage: check-units.sh CREDROTD_BINARY CREDROTCTL_BINARY
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
binary=${1:?usage: check-units.sh CREDROTD_BINARY CREDROTCTL_BINARY}
ctl=${2:?usage: check-units.sh CREDROTD_BINARY CREDROTCTL_BINARY}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0

# verify resolves ExecStart= and ExecReload=: point them at the binaries just built.
sed "s|/usr/sbin/credrotd|$binary|g; s|/usr/bin/credrotctl|$ctl|g" "$root/systemd/credrotd.service" \
  >"$tmp/credrotd.service"
mkdir -p "$tmp/user"
sed "s|/usr/sbin/credrotd|$binary|g; s|/usr/bin/credrotctl|$ctl|g" \
  "$root/systemd/credrotd-user.service" >"$tmp/user/credrotd.service"
for unit in "$tmp/credrotd.service" "$tmp/user/credrotd.service"; do
  out=$(systemd-analyze verify --man=no "$unit" 2>&1) || status=1
  if [[ -n $out ]]; then
    printf 'systemd-analyze verify %s:\n%s\n' "${unit#"$tmp"/}" "$out" >&2
    status=1
  fi
done

score=$(systemd-analyze security --offline=true "$root/systemd/credrotd.service" 2>&1 | tail -n 1)
echo "credrotd.service: $score"
if ! systemd-analyze security --offline=true --threshold=21 "$root/systemd/credrotd.service" >/dev/null 2>&1; then
  echo "credrotd.service exposure is above 2.1: $score" >&2
  status=1
fi
exit $status
