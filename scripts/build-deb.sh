#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds the Debian package: a Release build without tests or fault injection, with Debian's
# build flags, then `cpack -G DEB`. Prints the path of the .deb as its only line on stdout
# (what it does goes to stderr). scripts/package.sh calls it (with --clean) before checking and
# installing the package; the system test tier (tests/system) calls it to get the package it
# boots, and to build the previous version from a `git archive` of an older commit.
#
# Usage: build-deb.sh [--clean] [--source DIR]
#   --clean        wipe the build directory first (default: an incremental build in it)
#   --source DIR   the source tree to build (default: this script's tree)
# Environment: CREDROTD_BUILD_DIR (default SOURCE/build; the package is built in $it/package),
# CREDROTD_JOBS (default nproc).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
source_dir=$root
clean=no
while (($#)); do
  case $1 in
    --clean) clean=yes ;;
    --source)
      [[ $# -ge 2 ]] || {
        echo "build-deb.sh: --source needs a directory" >&2
        exit 2
      }
      source_dir=$(cd "$2" && pwd)
      shift
      ;;
    *)
      echo "usage: build-deb.sh [--clean] [--source DIR]" >&2
      exit 2
      ;;
  esac
  shift
done
build=${CREDROTD_BUILD_DIR:-$source_dir/build}/package
jobs=${CREDROTD_JOBS:-$(nproc)}
start=$SECONDS

step() { printf '\n==> %s (%ds)\n' "$*" $((SECONDS - start)) >&2; }
fail() {
  echo "build-deb.sh: FAILED: $*" >&2
  exit 1
}

[[ -f $source_dir/CMakeLists.txt ]] || fail "$source_dir is not a credrotd source tree"
if [[ $clean == yes ]]; then
  rm -rf "$build"
fi

step "configuring a Release build of $source_dir (no tests, no fault injection, Debian's build flags)"
# Debian's flags with every hardening feature (-O2, -fstack-protector-strong, _FORTIFY_SOURCE=2,
# -z relro, -z now), as dpkg-buildpackage would pass them. They replace Release's -O3 (at -O3,
# g++ 12 reports a false -Wrestrict in std::string concatenation, which -Werror turns into a
# failure). -g is dropped: the package's binaries are stripped.
export DEB_BUILD_MAINT_OPTIONS=hardening=+all
CXXFLAGS="$(cd "$source_dir" && dpkg-buildflags --get CXXFLAGS) $(dpkg-buildflags --get CPPFLAGS)"
CXXFLAGS=${CXXFLAGS/-g /}
LDFLAGS=$(dpkg-buildflags --get LDFLAGS)
export CXXFLAGS LDFLAGS
cmake -S "$source_dir" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CXX_FLAGS_RELEASE=-DNDEBUG -DCMAKE_INSTALL_PREFIX=/usr \
  -DCREDROTD_WERROR=ON -DCREDROTD_FAULT_INJECTION=OFF -DCREDROTD_TESTS=OFF \
  -DCREDROTD_INTEGRATION_TESTS=OFF >/dev/null
step "building"
cmake --build "$build" -j "$jobs" >&2

step "cpack -G DEB"
version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$build/CMakeCache.txt")
rm -f "$build"/credrotd_*.deb
(cd "$build" && cpack -G DEB >/dev/null)
deb=$(ls "$build"/credrotd_"$version"_*.deb)
[[ -f $deb ]] || fail "no package credrotd_${version}_*.deb in $build"
echo "$deb ($(stat -c %s "$deb") bytes, $((SECONDS - start)) s)" >&2
echo "$deb"
