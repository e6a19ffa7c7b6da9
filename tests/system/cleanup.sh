#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Cleanup of the system tier (ctest fixture `system`): every scenario powers off and deletes its
# own container. A scenario killed before it could (a ctest timeout) leaves DIR/run/NAME with
# its pids file ("ROLE PID STARTTIME" of systemd-nspawn and of the container's PID 1): those
# exact processes are killed (only if their start time still matches), its overlay root is
# unmounted, its directory deleted, and this cleanup fails so that the leak is seen. The
# caches (packages, base root) stay.
set -euo pipefail
dir=$1
start_time() {
  local stat fields
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
  read -r -a fields <<<"${stat##*) }"
  printf '%s' "${fields[19]}"
}
left=()
for run in "$dir"/run/*/; do
  [[ -d $run ]] || continue
  run=${run%/}
  [[ -n ${CREDROTD_SYSTEM_KEEP:-} ]] && continue
  left+=("$run")
  if [[ -f $run/pids ]]; then
    while read -r role pid started; do
      if [[ -n $started && $(start_time "$pid") == "$started" ]]; then
        echo "killing the $role $pid of $(basename "$run")"
        kill -KILL "$pid" 2>/dev/null || true
      fi
    done <"$run/pids"
    sleep 1
  fi
  awk -v d="$run/" 'index($5 "/", d) == 1 { print $5 }' /proc/self/mountinfo | sort -r |
    while read -r m; do umount "$m" || true; done
  rm -rf "$run"
  # What systemd-nspawn keeps for a container while it runs (removed when it exits normally).
  propagate=/run/systemd/nspawn/propagate/$(basename "$run")
  if [[ -d $propagate ]] && ! awk -v d="$propagate" 'index($5, d) == 1 { found = 1 } END { exit !found }' /proc/self/mountinfo; then
    rm -rf "$propagate"
  fi
done
if ((${#left[@]})); then
  echo "cleanup.sh: FAILED: containers left behind (deleted now): ${left[*]}" >&2
  exit 1
fi
echo "no container left under $dir/run"
