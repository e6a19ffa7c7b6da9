// SPDX-License-Identifier: Apache-2.0
// Property test: for many generated files of each format, rewriting changes exactly the key
// values. Each generator builds a file from pieces, marking where the old key values are; the
// expected output is the same pieces with the new values, so any other changed byte fails.
#include "consumers/aws_credentials.hpp"
#include "consumers/envfile.hpp"
#include "consumers/rclone.hpp"
#include "consumers/s3cmd.hpp"
#include "consumers/s3fs.hpp"
#include "generators.hpp"
#include "support.hpp"

#include <catch2/catch.hpp>

using namespace credrotd::consumers;
using namespace credrotd::consumers::test;
using credrotd::core::Secret;

namespace {

constexpr std::uint32_t k_files_per_format = 400;

// read() gives the old key, render() gives exactly the expected file, and read() of that
// gives the new key.
template <class Render, class Read>
void check(const Generated& file, const Render& render, const Read& read)
{
  INFO("input:\n" << file.input);
  const auto key = read(file.input);
  INFO(error_of(key));
  REQUIRE(key);
  REQUIRE(*key);
  CHECK((*key)->access_id == file.old_access);
  CHECK((*key)->secret.reveal() == file.old_secret);
  const auto out = render(file.input);
  INFO(error_of(out));
  REQUIRE(out);
  CHECK(str(*out) == file.expected);
  const auto again = read(str(*out));
  REQUIRE(again);
  REQUIRE(*again);
  CHECK((*again)->access_id == k_generated_new_access);
  CHECK((*again)->secret.reveal() == k_generated_new_secret);
}

Secret new_secret()
{
  return Secret(k_generated_new_secret);
}

} // namespace

TEST_CASE("property: rewriting an s3cmd file changes only the key values", "[consumers][property]")
{
  for (std::uint32_t seed = 1; seed <= k_files_per_format; ++seed) {
    check(
        generate_s3cmd(seed),
        [](const std::string& in) {
          return s3cmd::render({"/f", in}, {SessionToken::keep}, k_generated_new_access,
                               new_secret());
        },
        [](const std::string& in) {
          return s3cmd::read({"/f", in});
        });
  }
}

TEST_CASE("property: rewriting an AWS credentials file changes only the key values",
          "[consumers][property]")
{
  const aws_credentials::Options options{"ceph", false, SessionToken::keep};
  for (std::uint32_t seed = 1; seed <= k_files_per_format; ++seed) {
    check(
        generate_aws(seed),
        [&](const std::string& in) {
          return aws_credentials::render({"/f", in}, options, k_generated_new_access, new_secret());
        },
        [&](const std::string& in) {
          return aws_credentials::read({"/f", in}, options);
        });
  }
}

TEST_CASE("property: rewriting an rclone config changes only the key values",
          "[consumers][property]")
{
  for (std::uint32_t seed = 1; seed <= k_files_per_format; ++seed) {
    check(
        generate_rclone(seed),
        [](const std::string& in) {
          return rclone::render({"/f", in}, {"ceph"}, k_generated_new_access, new_secret());
        },
        [](const std::string& in) {
          return rclone::read({"/f", in}, {"ceph"});
        });
  }
}

TEST_CASE("property: rewriting an s3fs passwd file changes only the key values",
          "[consumers][property]")
{
  for (std::uint32_t seed = 1; seed <= k_files_per_format; ++seed) {
    const Generated file = generate_s3fs(seed);
    check(
        file,
        [&](const std::string& in) {
          return s3fs::render({"/f", in}, {file.bucket}, k_generated_new_access, new_secret());
        },
        [&](const std::string& in) {
          return s3fs::read({"/f", in}, {file.bucket});
        });
  }
}

TEST_CASE("property: rewriting an environment file changes only the key values",
          "[consumers][property]")
{
  for (std::uint32_t seed = 1; seed <= k_files_per_format; ++seed) {
    check(
        generate_envfile(seed),
        [](const std::string& in) {
          return envfile::render({"/f", in}, {}, k_generated_new_access, new_secret());
        },
        [](const std::string& in) {
          return envfile::read({"/f", in}, {});
        });
  }
}
