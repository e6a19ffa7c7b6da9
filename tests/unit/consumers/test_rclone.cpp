// SPDX-License-Identifier: Apache-2.0
// Tests of the rclone.conf format, read as rclone 1.60's goconfig reads it.
#include "consumers/rclone.hpp"
#include "support.hpp"

#include <catch2/catch.hpp>

using namespace credrotd::consumers;
using credrotd::consumers::test::str;
using credrotd::core::Errc;
using credrotd::core::Secret;

namespace {

const std::string k_a = "11111111111111111111111111111111";
const std::string k_s = "22222222222222222222222222222222";

std::string render(std::string_view content, std::string remote = "ceph")
{
  const auto out =
      rclone::render({"/etc/rclone.conf", content}, {std::move(remote)}, k_a, Secret(k_s));
  INFO(test::error_of(out));
  REQUIRE(out);
  return str(*out);
}

credrotd::core::Error render_error(std::string_view content, std::string remote = "ceph")
{
  const auto out =
      rclone::render({"/etc/rclone.conf", content}, {std::move(remote)}, k_a, Secret(k_s));
  REQUIRE_FALSE(out);
  CHECK(out.error().message.find(k_s) == std::string::npos);
  return out.error();
}

} // namespace

TEST_CASE("rclone: only the named remote's keys change", "[consumers][rclone]")
{
  const std::string_view in = "[gdrive]\n"
                              "type = drive\n"
                              "token = {\"access_token\":\"x\"}\n"
                              "\n"
                              "[ceph]\n"
                              "# our object store\n"
                              "type = s3\n"
                              "provider = Ceph\n"
                              "env_auth = false\n"
                              "access_key_id = AKOLD\n"
                              "secret_access_key = SKOLD\n"
                              "endpoint = https://rgw.example.org:8080\n"
                              "\n"
                              "[backup]\n"
                              "type = s3\n"
                              "access_key_id = OTHER\n"
                              "secret_access_key = OTHERSECRET\n";
  const auto key = rclone::read({"/f", in}, {"ceph"});
  REQUIRE(key);
  REQUIRE(*key);
  CHECK((*key)->access_id == "AKOLD");
  CHECK((*key)->secret.reveal() == "SKOLD");
  std::string expected(in);
  expected.replace(expected.find("AKOLD"), 5, k_a);
  expected.replace(expected.find("SKOLD"), 5, k_s);
  CHECK(render(in) == expected);
}

TEST_CASE("rclone: backtick and triple-quote wrappers are kept, literal quotes replaced",
          "[consumers][rclone]")
{
  CHECK(render("[ceph]\naccess_key_id = `AK` trailing\nsecret_access_key = \"\"\"SK\"\"\"\n") ==
        "[ceph]\naccess_key_id = `" + k_a + "` trailing\nsecret_access_key = \"\"\"" + k_s +
            "\"\"\"\n");
  const auto key =
      rclone::read({"/f", "[ceph]\naccess_key_id = \"AK\"\nsecret_access_key: 'S'\n"}, {"ceph"});
  REQUIRE(key);
  CHECK((*key)->access_id == "\"AK\"");
  CHECK((*key)->secret.reveal() == "'S'");
  CHECK(render("[ceph]\naccess_key_id = \"AK\"\nsecret_access_key:'S'\n") ==
        "[ceph]\naccess_key_id = " + k_a + "\nsecret_access_key:" + k_s + "\n");
}

TEST_CASE("rclone: BOM, CRLF, [ name ] headers and no final newline", "[consumers][rclone]")
{
  CHECK(render("\xEF\xBB\xBF[ ceph ]\r\n  access_key_id=A\r\n  secret_access_key=S") ==
        "\xEF\xBB\xBF[ ceph ]\r\n  access_key_id=" + k_a + "\r\n  secret_access_key=" + k_s);
}

TEST_CASE("rclone: encrypted configs are refused", "[consumers][rclone]")
{
  const std::string_view v0 = "# Encrypted rclone configuration File\n\nRCLONE_ENCRYPT_V0:\n"
                              "b5Ir8i3Yk0sGNBmbS0ZB6ZLZcA==\n";
  const auto error = render_error(v0);
  CHECK(error.code == Errc::unsafe);
  CHECK(error.message.find("encrypted rclone config (RCLONE_ENCRYPT_V0:)") != std::string::npos);
  CHECK(render_error("; c\n  \n RCLONE_ENCRYPT_V1:\nxyz\n").code == Errc::unsafe);
  const auto read = rclone::read({"/f", v0}, {"ceph"});
  REQUIRE_FALSE(read);
  CHECK(read.error().code == Errc::unsafe);
}

TEST_CASE("rclone: lines rclone cannot parse are refused with their position",
          "[consumers][rclone]")
{
  CHECK(render_error("[ceph]\nthis line has no equals\n")
            .message.starts_with("/etc/rclone.conf:2:1: rclone cannot parse this line"));
  CHECK(render_error("[ceph]\nk = `unterminated\n")
            .message.starts_with("/etc/rclone.conf:2:1: rclone cannot parse"));
  CHECK(render_error("[]\nk = v\n").message.find("empty section name") != std::string::npos);
}

TEST_CASE("rclone: a key set twice, interpolation and a missing remote are refused",
          "[consumers][rclone]")
{
  CHECK(render_error("[ceph]\naccess_key_id = A\n[x]\n[ceph]\naccess_key_id = B\n")
            .message.starts_with("/etc/rclone.conf:5:1: access_key_id is set again in [ceph] "
                                 "(first on line 2)"));
  CHECK(render_error("[ceph]\naccess_key_id = %(ak)s\nak = A\n").message.find("interpolation") !=
        std::string::npos);
  CHECK(render_error("[other]\ntype = s3\n").code == Errc::not_found);
}

TEST_CASE("rclone: missing keys go after the remote's last line, sections may repeat",
          "[consumers][rclone]")
{
  CHECK(render("[ceph]\ntype = s3\n\n[x]\ny = 1\n[ceph]\n  endpoint: e\n\n") ==
        "[ceph]\ntype = s3\n\n[x]\ny = 1\n[ceph]\n  endpoint: e\n  access_key_id: " + k_a +
            "\n  secret_access_key: " + k_s + "\n\n");
  CHECK(render("[ceph]\naccess_key_id = A\ntype = s3") ==
        "[ceph]\naccess_key_id = " + k_a + "\ntype = s3\nsecret_access_key = " + k_s);
  const auto none = rclone::read({"/f", "[ceph]\ntype = s3\nenv_auth = true\n"}, {"ceph"});
  REQUIRE(none);
  CHECK_FALSE(*none);
}

TEST_CASE("rclone: a dotted remote reads missing keys from its parent", "[consumers][rclone]")
{
  const std::string_view in = "[a]\naccess_key_id = PA\nsecret_access_key = PS\n[a.b]\ntype = s3\n";
  const auto key = rclone::read({"/f", in}, {"a.b"});
  REQUIRE(key);
  REQUIRE(*key);
  CHECK((*key)->access_id == "PA");
  CHECK(render(in, "a.b") ==
        std::string(in) + "access_key_id = " + k_a + "\nsecret_access_key = " + k_s + "\n");
}

TEST_CASE("rclone: remote names that cannot be sections are refused", "[consumers][rclone]")
{
  CHECK_FALSE(rclone::check_remote_name(""));
  CHECK_FALSE(rclone::check_remote_name("DEFAULT"));
  CHECK_FALSE(rclone::check_remote_name(" ceph"));
  CHECK_FALSE(rclone::check_remote_name("a]b"));
  CHECK(rclone::check_remote_name("ceph-prod.eu"));
}
