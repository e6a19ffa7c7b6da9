// SPDX-License-Identifier: Apache-2.0
// Hidden measurement (run with: unit_consumers "[bench]"): rewrites per second through the
// whole apply() path (resolve, read, render, temp + fsync + rename + directory fsync).
#include "consumers/consumer.hpp"
#include "support.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <iostream>

using namespace credrotd::consumers;
using namespace credrotd::consumers::test;

namespace {

void measure(const std::string& what, const ConsumerSpec& spec)
{
  constexpr int k_rounds = 200;
  const credrotd::core::Secret secrets[2] = {credrotd::core::Secret("fedcba9876543210"),
                                             credrotd::core::Secret("0123456789abcdef")};
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < k_rounds; ++i) {
    const auto report = apply(spec, i % 2 == 0 ? "AKEVEN" : "AKODD", secrets[i % 2]);
    REQUIRE(report);
  }
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  std::cout << what << ": " << k_rounds << " rewrites in " << took.count()
            << " s = " << static_cast<int>(k_rounds / took.count()) << " rewrites/s\n";
}

} // namespace

TEST_CASE("bench: rewrites per second", "[.][bench]")
{
  require_root();
  ScratchDir dir;
  const std::string content = "[default]\n# a typical ~/.s3cfg\naccess_key = A\nsecret_key = S\n"
                              "host_base = rgw.example.org\nhost_bucket = rgw.example.org\n"
                              "use_https = True\nsignature_v2 = False\n";
  write_file(dir / "s3cfg", content, 0600);
  ConsumerSpec spec;
  spec.type = ConsumerType::s3cmd;
  spec.path = dir / "s3cfg";
  measure("root's directory, rename", spec);
  spec.in_place = true;
  measure("root's directory, in place", spec);
  make_dir(dir / "home", 0700);
  chown_path(dir / "home", nobody_uid(), nogroup_gid());
  write_file(dir / "home/.s3cfg", content, 0600);
  chown_path(dir / "home/.s3cfg", nobody_uid(), nogroup_gid());
  spec.path = dir / "home/.s3cfg";
  spec.in_place = false;
  measure("user's directory (fsuid switch), rename", spec);
  dir.mount_tmpfs(dir / "tmpfs", 1024);
  write_file(dir / "tmpfs/s3cfg", content, 0600);
  spec.path = dir / "tmpfs/s3cfg";
  measure("tmpfs (fsync is free), rename", spec);
}
