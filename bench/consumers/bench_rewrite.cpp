// SPDX-License-Identifier: Apache-2.0
// bench_rewrite: consumer file rewrites per second through the whole apply() path (resolve,
// read, render, temp file + fsync + rename + directory fsync).
//
// Usage: bench_rewrite [--rounds N]   (as root: it chowns a file to nobody and mounts a tmpfs)
// Rewrites one typical ~/.s3cfg N times, alternating two keys, in four places: root's own
// directory with rename and in place, a user's directory (the fsuid switch), and a tmpfs
// (where fsync costs nothing). Prints rewrites per second of each; the scratch directory under
// /tmp is unmounted and removed at the end.
#include "consumers/consumer.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <pwd.h>
#include <string>
#include <sys/mount.h>
#include <unistd.h>

namespace consumers = credrotd::consumers;
namespace fs = std::filesystem;

namespace {

// The scratch directory, removed (its tmpfs unmounted first) at exit, on failure too.
fs::path g_scratch;

void remove_scratch()
{
  if (g_scratch.empty()) {
    return;
  }
  ::umount2((g_scratch / "tmpfs").c_str(), MNT_DETACH);
  std::error_code ec;
  fs::remove_all(g_scratch, ec);
}

[[noreturn]] void die(const std::string& what)
{
  std::fprintf(stderr, "bench_rewrite: %s\n", what.c_str());
  std::exit(1);
}

void write_file(const fs::path& path, const std::string& content)
{
  std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
  fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write);
}

void measure(const std::string& what, const consumers::ConsumerSpec& spec, int rounds)
{
  const credrotd::core::Secret secrets[2] = {credrotd::core::Secret("fedcba9876543210"),
                                             credrotd::core::Secret("0123456789abcdef")};
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < rounds; ++i) {
    if (const auto report = consumers::apply(spec, i % 2 == 0 ? "AKEVEN" : "AKODD", secrets[i % 2]);
        !report) {
      die(what + ": " + report.error().describe());
    }
  }
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  fmt::print("{:<42} {} rewrites in {:.3f} s = {:.0f} rewrites/s\n", what, rounds, took.count(),
             rounds / took.count());
  std::fflush(stdout);
}

} // namespace

int main(int argc, char** argv)
{
  int rounds = 200;
  CLI::App app{"Consumer file rewrites per second through apply()"};
  app.add_option("--rounds", rounds, "rewrites per place")->check(CLI::Range(2, 1000000));
  CLI11_PARSE(app, argc, argv);
  if (::geteuid() != 0) {
    die("run as root: it chowns a file to nobody and mounts a tmpfs");
  }
  const passwd* nobody = ::getpwnam("nobody");
  if (nobody == nullptr) {
    die("no user nobody");
  }

  std::string scratch = "/tmp/credrotd-bench-rewrite-XXXXXX";
  if (::mkdtemp(scratch.data()) == nullptr) {
    die("mkdtemp failed");
  }
  const fs::path dir = scratch;
  g_scratch = dir;
  std::atexit(remove_scratch);
  const std::string content = "[default]\n# a typical ~/.s3cfg\naccess_key = A\nsecret_key = S\n"
                              "host_base = rgw.example.org\nhost_bucket = rgw.example.org\n"
                              "use_https = True\nsignature_v2 = False\n";
  consumers::ConsumerSpec spec;
  spec.type = consumers::ConsumerType::s3cmd;
  spec.path = (dir / "s3cfg").string();
  write_file(spec.path, content);
  measure("root's directory, rename", spec, rounds);
  spec.in_place = true;
  measure("root's directory, in place", spec, rounds);

  fs::create_directory(dir / "home");
  fs::permissions(dir / "home", fs::perms::owner_all);
  write_file(dir / "home/.s3cfg", content);
  for (const char* p : {"home", "home/.s3cfg"}) {
    if (::lchown((dir / p).c_str(), nobody->pw_uid, nobody->pw_gid) != 0) {
      die(fmt::format("chown {}", (dir / p).string()));
    }
  }
  spec.path = (dir / "home/.s3cfg").string();
  spec.in_place = false;
  measure("user's directory (fsuid switch), rename", spec, rounds);

  const fs::path tmpfs = dir / "tmpfs";
  fs::create_directory(tmpfs);
  if (::mount("tmpfs", tmpfs.c_str(), "tmpfs", 0, "size=1024k,mode=0755") != 0) {
    die("mount -t tmpfs " + tmpfs.string());
  }
  write_file(tmpfs / "s3cfg", content);
  spec.path = (tmpfs / "s3cfg").string();
  measure("tmpfs (fsync is free), rename", spec, rounds);
  return 0;
}
