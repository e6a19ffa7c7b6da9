// SPDX-License-Identifier: Apache-2.0
// Tests of the AWS shared credentials format, read as botocore's configparser reads it.
#include "consumers/aws_credentials.hpp"
#include "support.hpp"

#include <catch2/catch.hpp>

using namespace credrotd::consumers;
using credrotd::consumers::test::str;
using credrotd::core::Errc;
using credrotd::core::Secret;

namespace {

const std::string k_a = "11111111111111111111111111111111";
const std::string k_s = "22222222222222222222222222222222";

aws_credentials::Options profile(std::string name, bool create = false,
                                 SessionToken token = SessionToken::remove)
{
  return {std::move(name), create, token};
}

std::string render(std::string_view content, const aws_credentials::Options& options)
{
  const auto out =
      aws_credentials::render({"/root/.aws/credentials", content}, options, k_a, Secret(k_s));
  INFO(test::error_of(out));
  REQUIRE(out);
  return str(*out);
}

credrotd::core::Error render_error(std::string_view content,
                                   const aws_credentials::Options& options)
{
  const auto out =
      aws_credentials::render({"/root/.aws/credentials", content}, options, k_a, Secret(k_s));
  REQUIRE_FALSE(out);
  CHECK(out.error().message.find(k_s) == std::string::npos);
  return out.error();
}

} // namespace

TEST_CASE("aws: only the named profile's keys change", "[consumers][aws]")
{
  const std::string_view in = "# managed by hand\n"
                              "[default]\n"
                              "aws_access_key_id = AKIDEFAULT\n"
                              "aws_secret_access_key = defaultsecret\n"
                              "\n"
                              "[ceph]\n"
                              "; rotated by credrotd\n"
                              "AWS_ACCESS_KEY_ID=AKOLD\n"
                              "aws_secret_access_key: SKOLD\n"
                              "region = RegionOne\n";
  const auto key = aws_credentials::read({"/f", in}, profile("ceph"));
  REQUIRE(key);
  REQUIRE(*key);
  CHECK((*key)->access_id == "AKOLD");
  CHECK((*key)->secret.reveal() == "SKOLD");
  std::string expected(in);
  expected.replace(expected.find("AKOLD"), 5, k_a);
  expected.replace(expected.find("SKOLD"), 5, k_s);
  CHECK(render(in, profile("ceph")) == expected);
}

TEST_CASE("aws: CRLF, indentation and no final newline survive", "[consumers][aws]")
{
  CHECK(render("  [ceph]\r\n  aws_access_key_id   =   AK   \r\n\taws_secret_access_key=SK",
               profile("ceph")) ==
        "  [ceph]\r\n  aws_access_key_id   =   " + k_a + "   \r\n\taws_secret_access_key=" + k_s);
}

TEST_CASE("aws: files botocore rejects are refused with the line", "[consumers][aws]")
{
  CHECK(render_error("\xEF\xBB\xBF[ceph]\naws_access_key_id = A\n", profile("ceph"))
            .message.find("byte order mark") != std::string::npos);
  CHECK(render_error("[ceph]\na=1\n[x]\n[ceph]\n", profile("ceph"))
            .message.starts_with("/root/.aws/credentials:4:1: section [ceph] appears twice"));
  CHECK(render_error("[ceph]\naws_access_key_id = A\nAWS_Access_Key_Id = B\n", profile("ceph"))
            .message.starts_with("/root/.aws/credentials:3:1: aws_access_key_id appears twice"));
  CHECK(render_error("[other]\nx = 1\nx = 2\n[ceph]\n", profile("ceph"))
            .message.starts_with("/root/.aws/credentials:3:1: x appears twice in [other]"));
  CHECK(render_error("aws_access_key_id = A\n[ceph]\n", profile("ceph"))
            .message.starts_with("/root/.aws/credentials:1:1: a line before the first [section]"));
  CHECK(render_error("[ceph]\nthis line has no delimiter\n", profile("ceph"))
            .message.starts_with("/root/.aws/credentials:2:1: a line that is neither"));
  CHECK(render_error("[ceph]\n= value\n", profile("ceph"))
            .message.starts_with("/root/.aws/credentials:2:1: a key = value line without a key"));
  CHECK(render_error("[ceph]\ns3 =\n    addressing_style\n", profile("ceph"))
            .message.find("nested settings") != std::string::npos);
  CHECK(render_error("[ceph]\n# caf\xE9\n", profile("ceph"))
            .message.starts_with("/root/.aws/credentials:2:6: invalid UTF-8"));
}

TEST_CASE("aws: credential keys in [DEFAULT] are refused", "[consumers][aws]")
{
  const auto error = render_error(
      "[DEFAULT]\naws_secret_access_key = X\n[ceph]\naws_access_key_id = A\n", profile("ceph"));
  CHECK(error.message.find("inherited by every profile") != std::string::npos);
  // Other [DEFAULT] keys are fine.
  CHECK(render("[DEFAULT]\nregion = r\n[ceph]\n", profile("ceph")) ==
        "[DEFAULT]\nregion = r\n[ceph]\naws_access_key_id = " + k_a +
            "\naws_secret_access_key = " + k_s + "\n");
}

TEST_CASE("aws: a key continued on an indented line is refused", "[consumers][aws]")
{
  const auto error = render_error(
      "[ceph]\naws_access_key_id = A\n  continued\naws_secret_access_key = S\n", profile("ceph"));
  CHECK(error.message.starts_with("/root/.aws/credentials:2:1: aws_access_key_id continues on "
                                  "the indented line 3"));
}

TEST_CASE("aws: session tokens are removed by default, kept on request", "[consumers][aws]")
{
  const std::string_view in = "[ceph]\naws_access_key_id = A\naws_secret_access_key = S\n"
                              "aws_session_token = T1\n    more\naws_security_token = T2\n"
                              "[next]\nx = 1\n";
  CHECK(render(in, profile("ceph")) == "[ceph]\naws_access_key_id = " + k_a +
                                           "\naws_secret_access_key = " + k_s +
                                           "\n[next]\nx = 1\n");
  CHECK(render(in, profile("ceph", false, SessionToken::keep)) ==
        "[ceph]\naws_access_key_id = " + k_a + "\naws_secret_access_key = " + k_s +
            "\naws_session_token = T1\n    more\naws_security_token = T2\n[next]\nx = 1\n");
  // A token on the last line without a newline: the file still ends without one.
  CHECK(render("[ceph]\naws_access_key_id = A\naws_secret_access_key = S\naws_session_token = T",
               profile("ceph")) ==
        "[ceph]\naws_access_key_id = " + k_a + "\naws_secret_access_key = " + k_s);
}

TEST_CASE("aws: missing keys go after the profile's last key, with its indentation",
          "[consumers][aws]")
{
  CHECK(render("[ceph]\n  region = r\n    nested = 1\n\n# next\n[x]\n", profile("ceph")) ==
        "[ceph]\n  region = r\n    nested = 1\n  aws_access_key_id = " + k_a +
            "\n  aws_secret_access_key = " + k_s + "\n\n# next\n[x]\n");
  // An empty section followed by an indented header: the new keys take the header's indent,
  // so the header does not turn into a continuation line.
  CHECK(render("[ceph]\n   [x]\n", profile("ceph")) == "[ceph]\n   aws_access_key_id = " + k_a +
                                                           "\n   aws_secret_access_key = " + k_s +
                                                           "\n   [x]\n");
}

TEST_CASE("aws: a missing profile is created only when configured", "[consumers][aws]")
{
  const auto error = render_error("[default]\nx = 1\n", profile("ceph"));
  CHECK(error.code == Errc::not_found);
  CHECK(render("[default]\nx = 1", profile("ceph", true)) ==
        "[default]\nx = 1\n\n[ceph]\naws_access_key_id = " + k_a +
            "\naws_secret_access_key = " + k_s);
  CHECK(render("[default]\r\nx = 1\r\n\r\n", profile("ceph", true)) ==
        "[default]\r\nx = 1\r\n\r\n[ceph]\r\naws_access_key_id = " + k_a +
            "\r\naws_secret_access_key = " + k_s + "\r\n");
  const auto created = aws_credentials::create(profile("ceph", true), k_a, Secret(k_s));
  REQUIRE(created);
  CHECK(str(*created) ==
        "[ceph]\naws_access_key_id = " + k_a + "\naws_secret_access_key = " + k_s + "\n");
  const auto absent = aws_credentials::read({"/f", "[default]\n"}, profile("ceph"));
  REQUIRE(absent);
  CHECK_FALSE(*absent);
}

TEST_CASE("aws: profile names are case-sensitive and not trimmed", "[consumers][aws]")
{
  const auto key = aws_credentials::read(
      {"/f", "[Ceph]\naws_access_key_id = X\naws_secret_access_key = Y\n"}, profile("ceph"));
  REQUIRE(key);
  CHECK_FALSE(*key);
  CHECK_FALSE(aws_credentials::check_profile_name("DEFAULT"));
  CHECK_FALSE(aws_credentials::check_profile_name(" ceph"));
  CHECK(aws_credentials::check_profile_name("my profile"));
}
