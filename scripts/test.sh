#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The whole test suite, from a fresh Debian 12 machine: install packages, build with -Werror,
# run every ctest test (unit, checks, vectors, clients, integration on a real local
# Keystone + Swift, and the system tier: the .deb under systemd as PID 1 in containers),
# build the unit tests again under AddressSanitizer + UBSan and run them, give every
# libFuzzer target a short run (scripts/fuzz.sh ci), then build the .deb, install it,
# check it from the installed paths and purge it.
#
# Environment: CREDROTD_BUILD_DIR (default ./build), CREDROTD_JOBS (default nproc).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${CREDROTD_BUILD_DIR:-$root/build}
jobs=${CREDROTD_JOBS:-$(nproc)}
start=$SECONDS

step() { printf '\n==> %s (%ds)\n' "$*" $((SECONDS - start)); }

step "installing packages"
"$root/scripts/install-deps.sh"

step "building (warnings are errors)"
cmake -S "$root" -B "$build/main" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCREDROTD_WERROR=ON -DCREDROTD_FAULT_INJECTION=ON -DCREDROTD_INTEGRATION_TESTS=ON \
  -DCREDROTD_SYSTEM_TESTS=ON
cmake --build "$build/main" -j "$jobs"

step "running the test suite"
ctest --test-dir "$build/main" --output-on-failure -j "$jobs" --timeout 600

step "building the unit tests under AddressSanitizer + UBSan"
cmake -S "$root" -B "$build/asan" -G Ninja -DCMAKE_BUILD_TYPE=Debug \
  -DCREDROTD_WERROR=ON -DCREDROTD_SANITIZE=ON -DCREDROTD_INTEGRATION_TESTS=OFF
cmake --build "$build/asan" -j "$jobs" --target unit_tests

step "running the unit tests under AddressSanitizer + UBSan"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir "$build/asan" --output-on-failure -j "$jobs" -L 'unit|vectors'

step "fuzzing: every target replays its corpus, then mutates for a few seconds (clang, ASan + UBSan)"
CREDROTD_BUILD_DIR=$build CREDROTD_JOBS=$jobs "$root/scripts/fuzz.sh" ci

step "building, installing, checking and purging the Debian package"
"$root/scripts/package.sh"

step "all tests passed"
