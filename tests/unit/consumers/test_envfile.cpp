// SPDX-License-Identifier: Apache-2.0
// Tests of environment files, read with systemd 252's EnvironmentFile= rules.
#include "consumers/envfile.hpp"
#include "support.hpp"

#include <catch2/catch.hpp>

using namespace credrotd::consumers;
using credrotd::consumers::test::str;
using credrotd::core::Secret;

namespace {

const std::string k_a = "11111111111111111111111111111111";
const std::string k_s = "22222222222222222222222222222222";

std::string render(std::string_view content, envfile::Options options = {})
{
  const auto out = envfile::render({"/etc/restic/s3.env", content}, options, k_a, Secret(k_s));
  INFO(test::error_of(out));
  REQUIRE(out);
  return str(*out);
}

std::string render_error(std::string_view content)
{
  const auto out = envfile::render({"/etc/restic/s3.env", content}, {}, k_a, Secret(k_s));
  REQUIRE_FALSE(out);
  CHECK(out.error().message.find(k_s) == std::string::npos);
  return out.error().message;
}

} // namespace

TEST_CASE("envfile: a restic environment file changes only in its two values",
          "[consumers][envfile]")
{
  const std::string_view in = "# restic backup job\n"
                              "RESTIC_REPOSITORY=s3:https://rgw.example.org/backups\n"
                              "AWS_ACCESS_KEY_ID=AKOLD\n"
                              "AWS_SECRET_ACCESS_KEY=SKOLD\n"
                              "RESTIC_PASSWORD_FILE=/etc/restic/password\n";
  const auto key = envfile::read({"/f", in}, {});
  REQUIRE(key);
  REQUIRE(*key);
  CHECK((*key)->access_id == "AKOLD");
  CHECK((*key)->secret.reveal() == "SKOLD");
  CHECK((*key)->line == 3);
  std::string expected(in);
  expected.replace(expected.find("AKOLD"), 5, k_a);
  expected.replace(expected.find("SKOLD"), 5, k_s);
  CHECK(render(in) == expected);
}

TEST_CASE("envfile: quoting styles, spacing and export prefixes are kept", "[consumers][envfile]")
{
  CHECK(render("  AWS_ACCESS_KEY_ID  =  'AK'  \nexport AWS_SECRET_ACCESS_KEY=\"S\\$K\"\n") ==
        "  AWS_ACCESS_KEY_ID  =  '" + k_a + "'  \nexport AWS_SECRET_ACCESS_KEY=\"" + k_s + "\"\n");
  CHECK(render("AWS_ACCESS_KEY_ID=un\\ quoted   \r\nAWS_SECRET_ACCESS_KEY=\r\nX=1") ==
        "AWS_ACCESS_KEY_ID=" + k_a + "   \r\nAWS_SECRET_ACCESS_KEY=" + k_s + "\r\nX=1");
  const auto key =
      envfile::read({"/f", "AWS_ACCESS_KEY_ID=\"a\\\"b\"\nAWS_SECRET_ACCESS_KEY='x'\"y\"z\n"}, {});
  REQUIRE(key);
  CHECK((*key)->access_id == "a\"b");
  CHECK((*key)->secret.reveal() == "xyz");
}

TEST_CASE("envfile: configured variable names, missing ones are appended", "[consumers][envfile]")
{
  envfile::Options options{"MC_ACCESS", "MC_SECRET"};
  CHECK(render("# mc\nMC_ACCESS=A\nOTHER=1", options) ==
        "# mc\nMC_ACCESS=" + k_a + "\nOTHER=1\nMC_SECRET=" + k_s);
  CHECK(render("", options) == "MC_ACCESS=" + k_a + "\nMC_SECRET=" + k_s + "\n");
  const auto none = envfile::read({"/f", "OTHER=1\n"}, {});
  REQUIRE(none);
  CHECK_FALSE(*none);
}

TEST_CASE("envfile: a comment ending in a backslash swallows the next line, as in systemd 252",
          "[consumers][envfile]")
{
  const std::string_view in = "# note \\\nAWS_ACCESS_KEY_ID=HIDDEN\nAWS_SECRET_ACCESS_KEY=S\n";
  const auto key = envfile::read({"/f", in}, {});
  REQUIRE_FALSE(key); // only the secret is visible to systemd: a half key
  CHECK(key.error().message.find("AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID") !=
        std::string::npos);
}

TEST_CASE("envfile: an open quote or a backslash at the end cannot take appended lines",
          "[consumers][envfile]")
{
  CHECK(render_error("AWS_ACCESS_KEY_ID=A\nX=\"open").find("nothing written") != std::string::npos);
  CHECK(render_error("AWS_ACCESS_KEY_ID=A\n# c \\").find("nothing written") != std::string::npos);
}

TEST_CASE("envfile: duplicates, BOM-hidden keys and invalid UTF-8 are refused",
          "[consumers][envfile]")
{
  CHECK(render_error("AWS_ACCESS_KEY_ID=A\nexport AWS_ACCESS_KEY_ID=B\n")
            .starts_with("/etc/restic/s3.env:2:1: AWS_ACCESS_KEY_ID is assigned again (first "
                         "on line 1)"));
  CHECK(render_error("\xEF\xBB\xBF"
                     "AWS_ACCESS_KEY_ID=A\nAWS_SECRET_ACCESS_KEY=S\n")
            .find("byte order mark") != std::string::npos);
  CHECK(render("\xEF\xBB\xBF# comment\nAWS_ACCESS_KEY_ID=A\nAWS_SECRET_ACCESS_KEY=S\n")
            .starts_with("\xEF\xBB\xBF# comment\n"));
  CHECK(render_error("A=caf\xE9\n")
            .starts_with("/etc/restic/s3.env:1:1: an assignment that is "
                         "not valid UTF-8"));
  // Invalid UTF-8 in a comment is no problem for systemd.
  CHECK(render("# caf\xE9\nAWS_ACCESS_KEY_ID=A\nAWS_SECRET_ACCESS_KEY=S\n").starts_with("# caf"));
}

TEST_CASE("envfile: variable names systemd drops are refused in the configuration",
          "[consumers][envfile]")
{
  CHECK_FALSE(envfile::check_variable_name("access_key_var", "1BAD"));
  CHECK_FALSE(envfile::check_variable_name("access_key_var", "BAD-NAME"));
  CHECK_FALSE(envfile::check_variable_name("access_key_var", ""));
  CHECK(envfile::check_variable_name("access_key_var", "_Ok9"));
}
