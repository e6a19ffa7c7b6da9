#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Smoke test of the local test cloud: EC2 keys from Keystone work in the real s3cmd until deleted,
# and Keystone's https endpoints accept the generated CA and refuse a wrong name or no CA.
# With CREDROTD_S3_BACKEND=rgw the S3 part runs against Ceph RGW (ctest: stack/smoke-rgw).
#
# Runs against the stack named by $CREDROTD_STACK_ENV (ctest's `stack` fixture). Every command's
# output goes through `run`, which fails the test if a secret shows up in it: no secret is
# printed (s3cmd --dump-config would print the secret key, so it is never used).
set -euo pipefail

fail() {
  printf 'FAIL: %s\n' "$*" >&2
  exit 1
}
pass() { printf 'ok: %s\n' "$*"; }

[[ -n ${CREDROTD_STACK_ENV:-} ]] || fail "CREDROTD_STACK_ENV is not set: run through ctest (fixture stack)"
[[ -r $CREDROTD_STACK_ENV ]] || fail "cannot read $CREDROTD_STACK_ENV: did stack/start succeed?"
# shellcheck disable=SC1090
. "$CREDROTD_STACK_ENV"

# CREDROTD_S3_BACKEND=rgw: the S3 part against Ceph RGW instead of Swift's s3api.
backend=${CREDROTD_S3_BACKEND:-swift}
if [[ $backend == rgw ]]; then
  [[ -n ${RGW_URL:-} ]] || fail "stack.env has no RGW_URL: start the stack with --rgw"
  S3_HOST=$RGW_HOST
  S3_PORT=$RGW_PORT
fi

tmp=$(mktemp -d)
# Keys this test created and has not deleted yet; removed on any exit.
declare -a to_delete=()
secrets=("$ROTATOR_PASSWORD")
cleanup() {
  local access
  for access in "${to_delete[@]}"; do
    openstack_cli ec2 credentials delete "$access" >/dev/null 2>&1 || true
  done
  rm -rf "$tmp"
}
trap cleanup EXIT

# Debian's CLIs with a clean environment: no proxy, no stray OS_* or AWS_* of the caller.
openstack_cli() {
  env -i PATH=/usr/bin:/bin HOME="$tmp" OS_CLIENT_CONFIG_FILE="$OS_CLIENT_CONFIG_FILE" \
    /usr/bin/openstack --os-cloud "$CLOUD_ROTATOR" "$@"
}

# run WHAT CMD...: runs CMD, keeps its exit status in $rc and its output in $out, and fails if
# the output holds any secret known to this test.
run() {
  local what=$1
  shift
  set +e
  out=$("$@" 2>&1)
  rc=$?
  set -e
  local s
  for s in "${secrets[@]}"; do
    if [[ -n $s && $out == *"$s"* ]]; then
      fail "$what: output contains a secret"
    fi
  done
}

# Writes an s3cmd config for ACCESS/SECRET (path-style, plain http) to FILE.
write_s3cfg() {
  local file=$1 access=$2 secret=$3
  (
    umask 077
    cat >"$file" <<CFG
[default]
access_key = $access
secret_key = $secret
host_base = $S3_HOST:$S3_PORT
host_bucket = $S3_HOST:$S3_PORT
use_https = False
bucket_location = $S3_REGION
signature_v2 = False
CFG
  )
}

s3cmd_run() {
  local cfg=$1
  shift
  env -i PATH=/usr/bin:/bin HOME="$tmp" /usr/bin/s3cmd -c "$cfg" "$@"
}

# create_key: makes an EC2 credential for the rotator; sets $access and $secret.
create_key() {
  run "ec2 credentials create" openstack_cli ec2 credentials create -f json
  ((rc == 0)) || fail "openstack ec2 credentials create exited $rc: $out"
  local fields
  fields=$(printf '%s' "$out" | /usr/bin/python3 -c \
    'import json, sys; d = json.load(sys.stdin); print(d["access"], d["secret"])') ||
    fail "ec2 credentials create printed no access/secret"
  access=${fields%% *}
  secret=${fields#* }
  secrets+=("$secret")
  to_delete+=("$access")
}

delete_key() {
  run "ec2 credentials delete" openstack_cli ec2 credentials delete "$1"
  ((rc == 0)) || fail "openstack ec2 credentials delete exited $rc: $out"
  local kept=() a
  for a in "${to_delete[@]}"; do
    [[ $a == "$1" ]] || kept+=("$a")
  done
  to_delete=("${kept[@]}")
}

# expect_refused WHAT CFG ARGS...: s3cmd must fail with 403.
expect_refused() {
  local what=$1
  shift
  run "$what" s3cmd_run "$@"
  if ((rc == 0)); then
    fail "$what: s3cmd succeeded, a 403 was expected"
  fi
  # s3cmd exits 77 (EX_ACCESSDENIED) on 403.
  [[ $rc == 77 && $out == *403* ]] || fail "$what: expected 403 (exit 77), got exit $rc: $out"
  pass "$what: refused with 403"
}

bucket=smoke-$(date +%s)-$$

# --- EC2 credential life cycle with the real s3cmd -------------------------------------------
create_key
pass "ec2 credentials create (access $access)"
run "ec2 credentials list" openstack_cli ec2 credentials list -f value -c Access
((rc == 0)) || fail "openstack ec2 credentials list exited $rc: $out"
grep -qxF "$access" <<<"$out" || fail "ec2 credentials list does not show $access"
pass "ec2 credentials list shows the new key"

cfg=$tmp/s3cfg
write_s3cfg "$cfg" "$access" "$secret"
run "s3cmd mb (SigV4)" s3cmd_run "$cfg" mb "s3://$bucket"
((rc == 0)) || fail "s3cmd mb exited $rc: $out"
pass "s3cmd mb s3://$bucket (SigV4, region $S3_REGION)"
run "s3cmd ls (SigV4)" s3cmd_run "$cfg" ls
((rc == 0)) || fail "s3cmd ls exited $rc: $out"
[[ $out == *"s3://$bucket"* ]] || fail "s3cmd ls does not list s3://$bucket: $out"
pass "s3cmd ls lists the bucket (SigV4)"
run "s3cmd ls (SigV2)" s3cmd_run "$cfg" --signature-v2 ls
((rc == 0)) || fail "s3cmd --signature-v2 ls exited $rc: $out"
[[ $out == *"s3://$bucket"* ]] || fail "s3cmd --signature-v2 ls does not list s3://$bucket: $out"
pass "s3cmd ls lists the bucket (SigV2)"

# An object round trip: the object server keeps metadata in user.* extended attributes.
printf 'credrotd stack smoke %s\n' "$bucket" >"$tmp/object"
run "s3cmd put" s3cmd_run "$cfg" put "$tmp/object" "s3://$bucket/object"
((rc == 0)) || fail "s3cmd put exited $rc: $out"
run "s3cmd get" s3cmd_run "$cfg" get "s3://$bucket/object" "$tmp/object.back"
((rc == 0)) || fail "s3cmd get exited $rc: $out"
cmp -s "$tmp/object" "$tmp/object.back" || fail "s3cmd get returned other bytes than were put"
run "s3cmd del" s3cmd_run "$cfg" del "s3://$bucket/object"
((rc == 0)) || fail "s3cmd del exited $rc: $out"
pass "s3cmd put, get, del of an object"

# A wrong secret for a valid access id, and an access id Keystone never issued.
wrong=$tmp/s3cfg-wrong
write_s3cfg "$wrong" "$access" "0123456789abcdef0123456789abcdef"
expect_refused "wrong secret (SigV4)" "$wrong" ls
expect_refused "wrong secret (SigV2)" "$wrong" --signature-v2 ls
write_s3cfg "$wrong" "0123456789abcdef0123456789abcdef" "$secret"
expect_refused "unknown access id" "$wrong" ls

run "s3cmd rb" s3cmd_run "$cfg" rb "s3://$bucket"
((rc == 0)) || fail "s3cmd rb exited $rc: $out"

delete_key "$access"
pass "ec2 credentials delete"
if [[ $backend == rgw ]]; then
  # RGW checks a key it validated in the last 300 s against its cached secret, not Keystone.
  run "deleted key, RGW's cache" s3cmd_run "$cfg" ls
  ((rc == 0)) || fail "RGW refused a key deleted a moment ago (exit $rc): is its cache off? $out"
  pass "deleted key still accepted by RGW from its secret cache (up to 300 s)"
  # A key RGW never validated is refused at once.
  create_key
  write_s3cfg "$cfg" "$access" "$secret"
  delete_key "$access"
  expect_refused "deleted key never used (SigV4)" "$cfg" ls
  expect_refused "deleted key never used (SigV2)" "$cfg" --signature-v2 ls
else
  expect_refused "deleted key (SigV4)" "$cfg" ls
  expect_refused "deleted key (SigV2)" "$cfg" --signature-v2 ls
fi

# --- Keystone over TLS ------------------------------------------------------------------------
curl_code() { env -i /usr/bin/curl -sS -o /dev/null -w '%{http_code}' --max-time 10 "$@"; }

run "https, generated CA" curl_code --cacert "$CA_FILE" "$KEYSTONE_HTTPS_URL"
[[ $rc == 0 && $out == 200 ]] || fail "https with the CA: curl exit $rc, $out"
pass "https $KEYSTONE_HTTPS_URL with the generated CA: 200"
run "https, localhost" curl_code --cacert "$CA_FILE" "$KEYSTONE_HTTPS_LOCALHOST_URL"
[[ $rc == 0 && $out == 200 ]] || fail "https localhost with the CA: curl exit $rc, $out"
pass "https $KEYSTONE_HTTPS_LOCALHOST_URL with the generated CA: 200"
# curl exit 60: peer certificate cannot be authenticated (unknown CA, or name mismatch).
run "https, wrong name" curl_code --cacert "$CA_FILE" "$KEYSTONE_HTTPS_WRONG_NAME_URL"
[[ $rc == 60 ]] || fail "https with a wrong host name: curl exit $rc (60 expected): $out"
[[ $out == *"no alternative certificate subject name matches"* || $out == *"does not match"* ]] ||
  fail "https with a wrong host name refused for another reason: $out"
pass "https $KEYSTONE_HTTPS_WRONG_NAME_URL (certificate for $TLS_WRONG_NAME): refused"
run "https, no CA" curl_code "$KEYSTONE_HTTPS_URL"
[[ $rc == 60 ]] || fail "https without the CA: curl exit $rc (60 expected): $out"
pass "https $KEYSTONE_HTTPS_URL without the CA: refused"

# The TLS cloud of clouds.yaml works with the openstack CLI.
run "token issue over https" env -i PATH=/usr/bin:/bin HOME="$tmp" \
  OS_CLIENT_CONFIG_FILE="$OS_CLIENT_CONFIG_FILE" \
  /usr/bin/openstack --os-cloud "$CLOUD_ROTATOR_TLS" token issue -f value -c user_id
[[ $rc == 0 && $out == "$ROTATOR_ID" ]] || fail "token issue over https: exit $rc: $out"
pass "openstack --os-cloud $CLOUD_ROTATOR_TLS token issue"

echo "PASS: stack smoke test"
