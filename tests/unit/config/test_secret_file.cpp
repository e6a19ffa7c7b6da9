// SPDX-License-Identifier: Apache-2.0
// Secret files: one line, owner-only, never quoted in a message.
#include "config/secret_file.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <sys/stat.h>

using namespace credrotd;

namespace {

constexpr std::string_view k_secret = "s3cr3t-Value";

std::string failure(const std::string& path, core::Errc code)
{
  auto result = config::read_secret_file(path);
  REQUIRE_FALSE(result.has_value());
  CHECK(result.error().code == code);
  CHECK(result.error().message.find(k_secret) == std::string::npos);
  return result.error().message;
}

} // namespace

TEST_CASE("a secret file holds one line and one trailing line end is dropped", "[config][secret]")
{
  test::TempDir dir;
  for (const auto* ending : {"", "\n", "\r\n"}) {
    INFO(ending);
    const auto path = dir.write("s", std::string(k_secret) + ending, 0600);
    auto secret = config::read_secret_file(path);
    REQUIRE(secret.has_value());
    CHECK(secret->reveal() == k_secret);
  }
  // Leading and inner spaces belong to the secret.
  const auto spaced = dir.write("spaced", " a b \n", 0600);
  CHECK(config::read_secret_file(spaced).value().reveal() == " a b ");
  // A symlink is followed (like LoadCredential=), the target's mode is what counts.
  std::filesystem::create_symlink(dir / "spaced", dir / "link");
  CHECK(config::read_secret_file(dir / "link").value().reveal() == " a b ");
}

TEST_CASE("secret files readable by group or others are refused", "[config][secret]")
{
  test::TempDir dir;
  for (const unsigned mode : {0640U, 0604U, 0644U, 0444U}) {
    INFO(mode);
    const auto path = dir.write("s", std::string(k_secret), mode);
    CHECK_THAT(failure(path, core::Errc::unsafe),
               Catch::Contains("the secret file is readable by group or others") &&
                   Catch::EndsWith("chmod 600 " + path));
  }
  const auto owner_only = dir.write("ok", std::string(k_secret), 0400);
  CHECK(config::read_secret_file(owner_only).has_value());
  const auto group_write = dir.write("gw", std::string(k_secret), 0620);
  CHECK(config::read_secret_file(group_write).has_value());
}

TEST_CASE("empty, multi-line, huge, missing and non-regular secret files are refused",
          "[config][secret]")
{
  test::TempDir dir;
  CHECK(failure(dir.write("empty", "", 0600), core::Errc::config) ==
        dir / "empty" + ": the secret file is empty");
  CHECK(failure(dir.write("newline", "\n", 0600), core::Errc::config) ==
        dir / "newline" + ": the secret file is empty");
  CHECK(failure(dir.write("two", std::string(k_secret) + "\nsecond\n", 0600), core::Errc::config) ==
        dir / "two" + ": the secret file must hold the secret on a single line");
  CHECK(failure(dir.write("huge", std::string(70000, 'x'), 0600), core::Errc::config) ==
        dir / "huge" + ": too large for a secret file (over 64 KiB)");
  CHECK(failure(dir / "missing", core::Errc::io) ==
        dir / "missing" + ": cannot open the secret file: No such file or directory");
  dir.mkdir("directory");
  ::chmod((dir / "directory").c_str(), 0700);
  CHECK(failure(dir / "directory", core::Errc::unsafe) ==
        dir / "directory" + ": the secret file is not a regular file");
  REQUIRE(::mkfifo((dir / "fifo").c_str(), 0600) == 0);
  CHECK(failure(dir / "fifo", core::Errc::unsafe) ==
        dir / "fifo" + ": the secret file is not a regular file");
}
