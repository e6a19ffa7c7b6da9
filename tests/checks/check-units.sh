#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The unit files are valid (`systemd-analyze verify` prints nothing) and the system unit's
# offline exposure score is at most 2.0. Usage: check-units.sh CREDROTD_BINARY
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
binary=${1:?usage: check-units.sh CREDROTD_BINARY}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0

# verify resolves ExecStart=: point it at the binary just built.
sed "s|/usr/sbin/credrotd|$binary|g" "$root/systemd/credrotd.service" >"$tmp/credrotd.service"
mkdir -p "$tmp/user"
sed "s|/usr/sbin/credrotd|$binary|g" "$root/systemd/credrotd-user.service" >"$tmp/user/credrotd.service"
for unit in "$tmp/credrotd.service" "$tmp/user/credrotd.service"; do
  out=$(systemd-analyze verify --man=no "$unit" 2>&1) || status=1
  if [[ -n $out ]]; then
    printf 'systemd-analyze verify %s:\n%s\n' "${unit#"$tmp"/}" "$out" >&2
    status=1
  fi
done

score=$(systemd-analyze security --offline=true "$root/systemd/credrotd.service" 2>&1 | tail -n 1)
echo "credrotd.service: $score"
if ! systemd-analyze security --offline=true --threshold=20 "$root/systemd/credrotd.service" >/dev/null 2>&1; then
  echo "credrotd.service exposure is above 2.0: $score" >&2
  status=1
fi
exit $status
