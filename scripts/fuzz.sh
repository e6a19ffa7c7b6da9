#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds the libFuzzer targets of fuzz/ with clang (ASan + UBSan, in their own build directory)
# and runs them. docs/FUZZING.md explains the targets, the corpus and the recorded long runs.
#
#   scripts/fuzz.sh [ci]      what CI runs: builds the targets unoptimised (-O0: half the build
#                             time; the short run does not need speed) in BUILD/fuzz-ci, then
#                             ctest -L fuzz: each target replays its checked-in corpus, then
#                             mutates for $CREDROTD_FUZZ_SECONDS seconds (default 4).
#   scripts/fuzz.sh build     builds the targets optimised (-O1) in BUILD/fuzz, for long runs.
#   scripts/fuzz.sh run [--runs N | --seconds S] [--seed N] [--merge] [TARGET...]
#                             runs targets built by `build`, all when none is named, one at a
#                             time (a single job: the machine is shared), for N executions
#                             (default 20000) or S seconds. New inputs go to a scratch
#                             directory; --merge then adds those that reach new edges to
#                             fuzz/corpus/TARGET (libFuzzer -merge=1). Prints, per target:
#                             executions, exec/s, coverage (cov: edges, ft: features), corpus.
#   scripts/fuzz.sh list      the target names.
#
# Options: --build-dir DIR (instead of BUILD/fuzz or BUILD/fuzz-ci; BUILD is
# ${CREDROTD_BUILD_DIR:-./build}), --jobs N (build and ctest parallelism, default nproc).
# A failing run stops: the input is in DIR/fuzz-artifacts/, the report in DIR/fuzz-logs/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build_root=${CREDROTD_BUILD_DIR:-$root/build}
dir=
jobs=${CREDROTD_JOBS:-$(nproc)}
runs=20000
seconds=
seed=
merge=no
command=
targets=()

while [[ $# -gt 0 ]]; do
  case $1 in
  ci | build | run | list) command=$1 ;;
  --build-dir) dir=$2; shift ;;
  --jobs) jobs=$2; shift ;;
  --runs) runs=$2; shift ;;
  --seconds) seconds=$2; shift ;;
  --seed) seed=$2; shift ;;
  --merge) merge=yes ;;
  -h | --help) sed -n '3,23p' "$0"; exit 0 ;;
  -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
  *) targets+=("$1") ;;
  esac
  shift
done
command=${command:-ci}
if [[ -z $dir ]]; then
  [[ $command == ci ]] && dir=$build_root/fuzz-ci || dir=$build_root/fuzz
fi

all_targets() {
  sed -n 's/^credrotd_add_fuzz_target(\([a-z0-9_]*\) .*/\1/p' "$root/fuzz/CMakeLists.txt"
}

# configure FLAGS [CMAKE OPTIONS...]: the fuzz build. No NDEBUG: assertions (Boost's too) stay
# on. Line tables only (as OSS-Fuzz builds): stack traces with lines, a fraction of -g's cost.
configure_and_build() {
  local flags=$1
  shift
  local start=$SECONDS
  cmake -S "$root" -B "$dir" -G Ninja -DCMAKE_CXX_COMPILER=clang++ \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="$flags -gline-tables-only" \
    -DCREDROTD_WERROR=ON -DCREDROTD_FUZZ=ON -DCREDROTD_INTEGRATION_TESTS=OFF "$@" >/dev/null
  cmake --build "$dir" -j "$jobs" --target fuzz_all
  echo "fuzz.sh: built the fuzz targets in $((SECONDS - start)) s"
}

# The figures libFuzzer prints at the end of a run, on one line.
summary() {
  local name=$1 log=$2 corpus=$3
  local execs rate cov ft corp files bytes
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  corp=$(grep -o 'corp: [0-9]*/[0-9]*[bKM]*' "$log" | tail -1 | cut -d' ' -f2)
  files=$(find "$corpus" -type f | wc -l)
  bytes=$(du -sb "$corpus" | cut -f1)
  echo "fuzz $name: ${execs:-?} executions, ${rate:-?} exec/s, cov ${cov:-?}, ft ${ft:-?}," \
    "run corpus ${corp:-?}, checked-in corpus $files files ($bytes bytes)"
}

run_one() {
  local name=$1
  local bin=$dir/fuzz/fuzz_$name
  local corpus=$root/fuzz/corpus/$name
  local work=$dir/fuzz-work/$name
  local log=$dir/fuzz-logs/$name.log
  if [[ ! -x $bin ]]; then
    echo "fuzz.sh: $bin is not built (scripts/fuzz.sh build)" >&2
    return 1
  fi
  mkdir -p "$corpus" "$dir/fuzz-artifacts" "$dir/fuzz-logs"
  rm -rf "$work"
  mkdir -p "$work"
  local args=(-timeout=10 -rss_limit_mb=2048 -print_final_stats=1
    "-artifact_prefix=$dir/fuzz-artifacts/$name-")
  if [[ -n $seconds ]]; then
    args+=("-max_total_time=$seconds")
  else
    args+=("-runs=$runs")
  fi
  [[ -n $seed ]] && args+=("-seed=$seed")
  [[ -f $root/fuzz/dict/$name.dict ]] && args+=("-dict=$root/fuzz/dict/$name.dict")
  local start=$SECONDS status=0
  # New inputs go to $work (the first directory); the checked-in corpus is only read.
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:strict_string_checks=1} \
    UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
    "$bin" "${args[@]}" "$work" "$corpus" >"$log" 2>&1 || status=$?
  if [[ $status -ne 0 ]]; then
    echo "fuzz $name: FAILED (exit $status) after $((SECONDS - start)) s; report: $log" >&2
    grep -v -e '^#[0-9]' -e '^INFO:' "$log" | tail -n 60 >&2
    return "$status"
  fi
  if [[ $merge == yes ]]; then
    # Edges only (-use_counters=0): a file joins the checked-in corpus when it reaches code no
    # file there reaches, not merely when it runs a loop more often.
    "$bin" -merge=1 -use_counters=0 "-artifact_prefix=$dir/fuzz-artifacts/$name-" "$corpus" \
      "$work" >>"$log" 2>&1
  fi
  echo "$(summary "$name" "$log" "$corpus"), $((SECONDS - start)) s"
}

case $command in
list) all_targets ;;
build) configure_and_build -O1 ;;
ci)
  start=$SECONDS
  configure_and_build -O0 -DCREDROTD_FUZZ_SECONDS="${CREDROTD_FUZZ_SECONDS:-4}"
  run_start=$SECONDS
  ctest --test-dir "$dir" -L fuzz --output-on-failure -j "$jobs"
  echo "fuzz.sh: short runs took $((SECONDS - run_start)) s, $((SECONDS - start)) s in all"
  ;;
run)
  [[ ${#targets[@]} -eq 0 ]] && mapfile -t targets < <(all_targets)
  for name in "${targets[@]}"; do
    run_one "$name"
  done
  ;;
esac
