#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# One key rotation done by hand the way the openstack CLI workflow does it, as a script:
# make a new EC2 credential, put it into the client files in place of the old one, check it
# with s3cmd, delete the old credential. The baseline bench_rotation.py compares credrotd with.
#
# Usage: cli_workflow.sh CLOUD S3CFG FILE...
#   CLOUD   a cloud of $OS_CLIENT_CONFIG_FILE (clouds.yaml) with the user's password
#   S3CFG   the s3cmd file that holds the current key (read to learn the old key) and is used
#           for the check; every FILE (S3CFG included) gets the old key's access id and secret
#           replaced by the new ones.
# Prints one line per step, "step NAME MILLISECONDS", and never a secret.
set -euo pipefail
cloud=$1
s3cfg=$2
shift 2

now_us() { local t=${EPOCHREALTIME/./}; printf '%s' "$t"; }
step() { printf 'step %s %d.%03d\n' "$1" $((($3 - $2) / 1000)) $((($3 - $2) % 1000)); }

old_access=$(sed -n 's/^access_key = //p' "$s3cfg")
old_secret=$(sed -n 's/^secret_key = //p' "$s3cfg")

t0=$(now_us)
{ read -r new_access; read -r new_secret; } < <(
  /usr/bin/openstack --os-cloud "$cloud" ec2 credentials create -f value -c access -c secret)
t1=$(now_us)
[[ -n ${new_access:-} && -n ${new_secret:-} ]] || { echo "cli_workflow.sh: no new key" >&2; exit 1; }
step create "$t0" "$t1"

# The keys go to perl through its environment, never its command line (argv is world-readable).
OLD_A=$old_access NEW_A=$new_access OLD_S=$old_secret NEW_S=$new_secret \
  perl -pi -e 's/\Q$ENV{OLD_A}\E/$ENV{NEW_A}/g; s/\Q$ENV{OLD_S}\E/$ENV{NEW_S}/g' "$@"
t2=$(now_us)
step edit "$t1" "$t2"

/usr/bin/s3cmd -c "$s3cfg" ls >/dev/null
t3=$(now_us)
step check "$t2" "$t3"

/usr/bin/openstack --os-cloud "$cloud" ec2 credentials delete "$old_access"
t4=$(now_us)
step delete "$t3" "$t4"
step total "$t0" "$t4"
