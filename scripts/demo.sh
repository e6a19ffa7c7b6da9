#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The main job, from a fresh Debian 12 machine: install the packages, build credrotd, start a
# local Keystone + Swift (s3api) on loopback, make an EC2 key by hand the way the openstack CLI
# workflow does and paste it into s3cmd, AWS and rclone files, then rotate it with one real
# `credrotd --once` and show what changed: old and new access ids, the files rewritten, the
# real s3cmd working with the new key and refused with the old one. Stops everything it
# started; secrets are never printed.
#
# Usage: scripts/demo.sh [--backend swift|rgw]
#   --backend rgw   the S3 endpoint is Ceph RGW (tests/stack/stack.sh --rgw) instead of Swift's
#                   s3api, on the same Keystone. RGW keeps accepting the old key for up to 5
#                   minutes after its deletion (its secret cache): the demo shows that, and the
#                   rotation's note saying so, instead of the old key being refused.
# Environment: CREDROTD_BUILD_DIR (default ./build), CREDROTD_DEMO_DIR (default a new
# directory under /tmp, removed at the end unless CREDROTD_DEMO_KEEP=1).
set -euo pipefail
backend=swift
while (($#)); do
  case $1 in
    --backend)
      (($# >= 2)) || { echo "usage: $0 [--backend swift|rgw]" >&2; exit 2; }
      backend=$2
      shift 2
      ;;
    --backend=*)
      backend=${1#*=}
      shift
      ;;
    *) echo "usage: $0 [--backend swift|rgw]" >&2; exit 2 ;;
  esac
done
[[ $backend == swift || $backend == rgw ]] || { echo "$0: --backend swift or rgw, not '$backend'" >&2; exit 2; }
root=$(cd "$(dirname "$0")/.." && pwd)
build=${CREDROTD_BUILD_DIR:-$root/build}/main
work=${CREDROTD_DEMO_DIR:-$(mktemp -d /tmp/credrotd-demo.XXXXXX)}
stack=$work/stack

say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
hide() { sed -E 's/^((secret_key|aws_secret_access_key|secret_access_key)[[:space:]]*=[[:space:]]*).*/\1<hidden>/'; }
client() { env -i PATH=/usr/bin:/bin HOME=/nonexistent LANG=C.UTF-8 AWS_EC2_METADATA_DISABLED=true "$@"; }

cleanup() {
  "$root/tests/stack/stack.sh" stop "$stack" >/dev/null 2>&1 || true
  [[ ${CREDROTD_DEMO_KEEP:-0} == 1 ]] || rm -rf "$work"
}
trap cleanup EXIT

say "installing packages"
"$root/scripts/install-deps.sh"

say "building credrotd"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" --target credrotd -j "$(nproc)"
credrotd=$build/daemon/credrotd

stack_args=()
[[ $backend == swift ]] || stack_args=(--rgw)
say "starting a local Keystone + Swift (s3api)$([[ $backend == rgw ]] && echo ' + Ceph RGW') on loopback"
"$root/tests/stack/stack.sh" start "$stack" "${stack_args[@]}"
set -a
. "$stack/stack.env"
set +a
if [[ $backend == rgw ]]; then
  # The clients and credrotd below talk to RGW: the same variables, pointed at it.
  S3_URL=$RGW_URL S3_HOST=$RGW_HOST S3_PORT=$RGW_PORT
  echo "S3 endpoint: Ceph RGW at $S3_URL"
fi

say "the openstack CLI workflow: a key made by hand, pasted into three clients' files"
mkdir -p "$work/home/.aws" "$work/home/.config/rclone" "$work/etc"
key_json=$(/usr/bin/openstack --os-cloud "$CLOUD_ROTATOR" ec2 credentials create -f json)
old_access=$(/usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["access"])' <<<"$key_json")
old_secret=$(/usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["secret"])' <<<"$key_json")
unset key_json
umask 077
cat >"$work/home/.s3cfg" <<EOF
[default]
# pasted from 'openstack ec2 credentials create'
access_key = $old_access
secret_key = $old_secret
host_base = $S3_HOST:$S3_PORT
host_bucket = $S3_HOST:$S3_PORT
use_https = False
EOF
cat >"$work/home/.aws/credentials" <<EOF
[default]
aws_access_key_id = $old_access
aws_secret_access_key = $old_secret
EOF
cat >"$work/home/.config/rclone/rclone.conf" <<EOF
[cloud]
type = s3
provider = Other
access_key_id = $old_access
secret_access_key = $old_secret
endpoint = $S3_URL
EOF
unset old_secret
cp "$work/home/.s3cfg" "$work/old.s3cfg"
echo "hand-made key: $old_access"
client /usr/bin/s3cmd -c "$work/home/.s3cfg" mb s3://demo-bucket >/dev/null
client /usr/bin/s3cmd -c "$work/home/.s3cfg" ls

cat >"$work/etc/credrotd.toml" <<EOF
[daemon]
state_dir = "$work/state"
clouds_file = "$OS_CLIENT_CONFIG_FILE"

[profile.demo]
cloud = "$CLOUD_ROTATOR"
s3_endpoint = "$S3_URL"
signature = ["v4", "v2"]
checks = ["list-buckets", "head-bucket", "probe"]
bucket = "demo-bucket"
grace = "0s"

[[profile.demo.consumer]]
type = "s3cmd"
path = "$work/home/.s3cfg"
check = ["/usr/bin/s3cmd", "-c", "$work/home/.s3cfg", "ls"]

[[profile.demo.consumer]]
type = "aws-credentials"
path = "$work/home/.aws/credentials"

[[profile.demo.consumer]]
type = "rclone"
path = "$work/home/.config/rclone/rclone.conf"
remote = "cloud"
EOF
say "credrotd's configuration ($work/etc/credrotd.toml)"
cat "$work/etc/credrotd.toml"

say "credrotd --check-config, then --dry-run (changes nothing)"
"$credrotd" --config "$work/etc/credrotd.toml" --check-config
"$credrotd" --config "$work/etc/credrotd.toml" --dry-run

say "one real rotation: credrotd --once"
start=$(date +%s%N)
CREDROTD_LOG=stderr "$credrotd" --config "$work/etc/credrotd.toml" --once --profile demo
echo "took $(( ($(date +%s%N) - start) / 1000000 )) ms (including s3cmd's own start-up as the check)"

say "what changed in the files (secrets hidden)"
for f in .s3cfg .aws/credentials .config/rclone/rclone.conf; do
  echo "--- ~/$f"
  hide <"$work/home/$f"
done
new_access=$(sed -n 's/^access_key = //p' "$work/home/.s3cfg")
echo
echo "old access id: $old_access"
echo "new access id: $new_access"

say "the real s3cmd with the rewritten file: works"
client /usr/bin/s3cmd -c "$work/home/.s3cfg" ls
if [[ $backend == rgw ]]; then
  say "the real s3cmd with the old key: still accepted, from RGW's secret cache"
  client /usr/bin/s3cmd -c "$work/old.s3cfg" ls >/dev/null
  echo "Keystone deleted it, but RGW checks a key it saw in the last 5 minutes against its own"
  echo "cache; it refuses the key once that entry expires. credrotd's note on the rotation:"
  /usr/bin/sqlite3 "file:$work/state/state.db?mode=ro" 'SELECT note FROM rotations ORDER BY id DESC LIMIT 1'
else
  say "the real s3cmd with the old key: refused"
  if client /usr/bin/s3cmd -c "$work/old.s3cfg" ls >"$work/old.out" 2>&1; then
    echo "the old key still works!" >&2
    exit 1
  fi
  grep -E 'ERROR|403' "$work/old.out" | head -n 2 | hide
fi
say "the user's keys in Keystone now"
/usr/bin/openstack --os-cloud "$CLOUD_ROTATOR" ec2 credentials list -c Access -c 'Project ID'

say "done; stopping the local cloud"
