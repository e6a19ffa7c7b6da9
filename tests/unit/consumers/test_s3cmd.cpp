// SPDX-License-Identifier: Apache-2.0
// Tests of the s3cmd format: reading and rewriting .s3cfg files the way s3cmd parses them.
#include "consumers/s3cmd.hpp"
#include "support.hpp"

#include <catch2/catch.hpp>

using namespace credrotd::consumers;
using credrotd::consumers::test::str;
using credrotd::core::Secret;

namespace {

constexpr std::string_view k_new_access = "11111111111111111111111111111111";
constexpr std::string_view k_new_secret = "22222222222222222222222222222222";

std::string render(std::string_view content, SessionToken token = SessionToken::remove)
{
  const auto out =
      s3cmd::render({"/home/u/.s3cfg", content}, {token}, k_new_access, Secret(k_new_secret));
  INFO(test::error_of(out));
  REQUIRE(out);
  return str(*out);
}

std::string render_error(std::string_view content)
{
  const auto out =
      s3cmd::render({"/home/u/.s3cfg", content}, {}, k_new_access, Secret(k_new_secret));
  REQUIRE_FALSE(out);
  CHECK(out.error().message.find(k_new_secret) == std::string::npos);
  return out.error().message;
}

} // namespace

TEST_CASE("s3cmd: a real-world .s3cfg changes only in its key values", "[consumers][s3cmd]")
{
  const std::string_view in = "[default]\n"
                              "# written by s3cmd --configure, edited by hand\n"
                              "access_key = AKOLD0000000000000000\n"
                              "access_token = \n"
                              "add_encoding_exts = \n"
                              "bucket_location = US\n"
                              "host_base = rgw.example.org:8080\n"
                              "host_bucket = rgw.example.org:8080\n"
                              "secret_key = SKOLD/abc+def==\n"
                              "signature_v2 = False\n"
                              "use_https = True\n";
  const auto key = s3cmd::read({"/f", in});
  REQUIRE(key);
  REQUIRE(*key);
  CHECK((*key)->access_id == "AKOLD0000000000000000");
  CHECK((*key)->secret.reveal() == "SKOLD/abc+def==");
  CHECK((*key)->line == 3);

  std::string expected(in);
  expected.replace(expected.find("AKOLD0000000000000000"), 21, k_new_access);
  expected.replace(expected.find("SKOLD/abc+def=="), 15, k_new_secret);
  CHECK(render(in) == expected);
}

TEST_CASE("s3cmd: CRLF, spacing and a missing final newline are kept", "[consumers][s3cmd]")
{
  CHECK(render("access_key=A\r\nsecret_key   =    S   \r\nhost_base = h") ==
        "access_key=" + std::string(k_new_access) +
            "\r\nsecret_key   =    " + std::string(k_new_secret) + "   \r\nhost_base = h");
}

TEST_CASE("s3cmd: quotes s3cmd strips stay, broken quoting is replaced", "[consumers][s3cmd]")
{
  const auto key = s3cmd::read({"/f", "access_key = \"AKQ\"\nsecret_key = \"SKQ\"   \n"});
  REQUIRE(key);
  CHECK((*key)->access_id == "AKQ");
  CHECK((*key)->secret.reveal() == "SKQ\""); // s3cmd's own quote-stripping bug
  CHECK(render("access_key = \"AKQ\"\nsecret_key = \"SKQ\"   \n") ==
        "access_key = \"" + std::string(k_new_access) +
            "\"\nsecret_key = " + std::string(k_new_secret) + "   \n");
}

TEST_CASE("s3cmd: keys from any section count, and a second one is an error naming both lines",
          "[consumers][s3cmd]")
{
  const auto message = render_error("[default]\naccess_key = A1\nsecret_key = S1\n"
                                    "[profile2]\naccess_key = A2\n");
  CHECK(message.starts_with("/home/u/.s3cfg:5:1: access_key is set again (first on line 2)"));
  const auto key = s3cmd::read({"/f", "[other]\naccess_key = A\n[x]\nsecret_key = S\n"});
  REQUIRE(key);
  CHECK((*key)->access_id == "A");
}

TEST_CASE("s3cmd: a byte order mark is kept unless it hides a key line", "[consumers][s3cmd]")
{
  CHECK(render("\xEF\xBB\xBF[default]\naccess_key = A\nsecret_key = S\n") ==
        "\xEF\xBB\xBF[default]\naccess_key = " + std::string(k_new_access) +
            "\nsecret_key = " + std::string(k_new_secret) + "\n");
  CHECK(render_error("\xEF\xBB\xBF"
                     "access_key = A\nsecret_key = S\n")
            .find(":1:1: access_key is on the line that starts with a byte order mark") !=
        std::string::npos);
}

TEST_CASE("s3cmd: lines s3cmd ignores are not keys", "[consumers][s3cmd]")
{
  // ';' comments, "key: value", an indented section and Access_Key are all ignored by s3cmd.
  const std::string_view in = "; access_key = NOTME\naccess_key: NOTME\n  [x]\nAccess_Key = N\n"
                              "access_key = A\nsecret_key = S\n";
  const auto key = s3cmd::read({"/f", in});
  REQUIRE(key);
  CHECK((*key)->access_id == "A");
}

TEST_CASE("s3cmd: access_token is cleared by default and kept when configured",
          "[consumers][s3cmd]")
{
  const std::string_view in = "access_key = A\nsecret_key = S\naccess_token = TOKEN\n";
  CHECK(render(in).ends_with("access_token = \n"));
  CHECK(render(in, SessionToken::keep).ends_with("access_token = TOKEN\n"));
}

TEST_CASE("s3cmd: missing keys are added next to the other one or at the end", "[consumers][s3cmd]")
{
  CHECK(render("host_base = h\n  secret_key=S\n") ==
        "host_base = h\n  access_key=" + std::string(k_new_access) +
            "\n  secret_key=" + std::string(k_new_secret) + "\n");
  CHECK(render("access_key = A\r\nhost_base = h") ==
        "access_key = " + std::string(k_new_access) +
            "\r\nsecret_key = " + std::string(k_new_secret) + "\r\nhost_base = h");
  CHECK(render("[default]\nhost_base = h") ==
        "[default]\nhost_base = h\naccess_key = " + std::string(k_new_access) +
            "\nsecret_key = " + std::string(k_new_secret));
  const auto none = s3cmd::read({"/f", "[default]\nhost_base = h\n"});
  REQUIRE(none);
  CHECK_FALSE(*none);
}

TEST_CASE("s3cmd: environment references, invalid UTF-8, half keys and lone CRs are refused",
          "[consumers][s3cmd]")
{
  CHECK(render_error("access_key = $MY_AK\nsecret_key = S\n").find("environment variable") !=
        std::string::npos);
  CHECK(render_error("# caf\xE9\naccess_key = A\nsecret_key = S\n")
            .starts_with("/home/u/.s3cfg:1:6: invalid UTF-8"));
  CHECK(render_error("access_key = A\rsecret_key = S\n").starts_with("/home/u/.s3cfg:1:15:"));
  const auto half = s3cmd::read({"/f", "access_key = A\n"});
  REQUIRE_FALSE(half);
  CHECK(half.error().message.starts_with("/f:1:1: access_key is set but secret_key"));
}
