#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Every MESSAGE_ID the daemon logs has an entry in the journald catalog, and the catalog is
# well formed (journalctl can list it).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
catalog=$root/systemd/credrotd.catalog
mapfile -t ids < <(grep -oE '"[0-9a-f]{32}"' "$root/src/systemd/log.cpp" | tr -d '"' | sort -u)
[[ ${#ids[@]} -gt 0 ]] || { echo "no MESSAGE_IDs found in src/systemd/log.cpp" >&2; exit 1; }
missing=0
for id in "${ids[@]}"; do
  if ! grep -qx -- "-- $id" "$catalog"; then
    echo "MESSAGE_ID $id has no catalog entry in $catalog" >&2
    missing=1
  fi
done
# journalctl parses the catalog from a directory of *.catalog files.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/usr/lib/systemd/catalog" "$tmp/var/lib/systemd/catalog"
cp "$catalog" "$tmp/usr/lib/systemd/catalog/credrotd.catalog"
journalctl --root="$tmp" --update-catalog
listed=$(journalctl --root="$tmp" --list-catalog 2>&1 || true)
for id in "${ids[@]}"; do
  grep -q "$id" <<<"$listed" || { echo "journalctl does not list $id: $listed" >&2; missing=1; }
done
[[ $missing -eq 0 ]] && echo "catalog: ${#ids[@]} MESSAGE_IDs documented"
exit $missing
