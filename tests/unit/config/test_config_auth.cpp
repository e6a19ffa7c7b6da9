// SPDX-License-Identifier: Apache-2.0
// [profile.NAME.auth]: every field, what each auth type needs, inline secrets refused.
#include "config_toml_test.hpp"

using namespace credrotd;

TEST_CASE("a default cloud yields to a profile's inline auth", "[config][toml]")
{
  const auto loaded = parse_ok(R"([defaults]
cloud = "shared"
[profile.p]
s3_endpoint = "https://s3.example.org"
[profile.p.auth]
auth_url = "https://k:5000/v3"
auth_type = "v3applicationcredential"
application_credential_id = "abc"
application_credential_secret_file = "/etc/credrotd/p.secret"
interface = "internalURL"
verify = true
[[profile.p.consumer]]
type = "s3cmd"
path = "/a"
)");
  const core::Profile& p = only_profile(loaded);
  CHECK(p.cloud.empty());
  REQUIRE(p.inline_auth.has_value());
  const core::CloudAuth& auth = p.inline_auth->auth;
  CHECK(auth.name == "p");
  CHECK(auth.source == "c.toml:5:1");
  CHECK(auth.auth_type == core::AuthType::application_credential);
  CHECK(auth.auth_url == "https://k:5000/v3");
  CHECK(auth.application_credential_id == "abc");
  CHECK(auth.interface == core::Interface::internal);
  CHECK(auth.application_credential_secret.empty()); // read later by read_inline_secrets
  CHECK(p.inline_auth->application_credential_secret_file == "/etc/credrotd/p.secret");
}

TEST_CASE("inline auth reads every field and says what is missing", "[config][toml]")
{
  const std::string head = "[profile.p]\ns3_endpoint = \"https://s3.example.org\"\n"
                           "[[profile.p.consumer]]\ntype = \"s3cmd\"\npath = \"/a\"\n"
                           "[profile.p.auth]\n";
  SECTION("all password fields")
  {
    const auto loaded = parse_ok(head + R"(auth_url = "https://k/v3"
auth_type = "v3password"
username = "u"
user_id = "uid"
user_domain_name = "Default"
user_domain_id = "default"
project_name = "pn"
project_id = "pid"
project_domain_name = "Default"
project_domain_id = "default"
region_name = "RegionOne"
interface = "admin"
cacert = "/ca.pem"
cert = "/c.pem"
key = "/k.pem"
verify = false
password_file = "/etc/credrotd/p.password"
)");
    const core::CloudAuth& a = only_profile(loaded).inline_auth->auth;
    CHECK(a.auth_type == core::AuthType::password);
    CHECK(a.username == "u");
    CHECK(a.user_id == "uid");
    CHECK(a.user_domain_name == "Default");
    CHECK(a.user_domain_id == "default");
    CHECK(a.project_name == "pn");
    CHECK(a.project_id == "pid");
    CHECK(a.project_domain_name == "Default");
    CHECK(a.project_domain_id == "default");
    CHECK(a.region_name == "RegionOne");
    CHECK(a.interface == core::Interface::admin);
    CHECK(a.cacert == "/ca.pem");
    CHECK(a.cert == "/c.pem");
    CHECK(a.key == "/k.pem");
    CHECK_FALSE(a.verify);
    REQUIRE(loaded.warnings.size() == 1);
    CHECK(loaded.warnings[0] ==
          "c.toml:6:1: [profile.p.auth]: TLS verification of Keystone is off");
  }
  SECTION("nothing given")
  {
    CHECK(
        lines_of(errors(head)) ==
        std::vector<std::string>{
            "c.toml:6:1: [profile.p.auth]: add auth_url = \"https://keystone.example.org:5000/v3\"",
            "c.toml:6:1: [profile.p.auth]: add password_file = \"/etc/credrotd/p.password\" (a "
            "file holding only the password, mode 0600)",
            "c.toml:6:1: [profile.p.auth]: add username (with user_domain_name) or user_id"});
  }
  SECTION("a username and a project name need their domains")
  {
    CHECK(lines_of(errors(head + "auth_url = \"https://k/v3\"\nusername = \"u\"\n"
                                 "project_name = \"p\"\npassword_file = \"/s\"\n")) ==
          std::vector<std::string>{
              "c.toml:6:1: [profile.p.auth]: add user_domain_name (e.g. \"Default\") or "
              "user_domain_id: a username is only unique within its domain",
              "c.toml:6:1: [profile.p.auth]: add project_domain_name (e.g. \"Default\") or "
              "project_domain_id: a project name is only unique within its domain"});
  }
  SECTION("application credentials")
  {
    CHECK_THAT(errors(head + "auth_url = \"https://k/v3\"\nauth_type = "
                             "\"v3applicationcredential\"\npassword_file = \"/s\"\n"
                             "project_id = \"x\"\n"),
               Catch::Contains("add application_credential_secret_file") &&
                   Catch::Contains("add application_credential_id (or "
                                   "application_credential_name with user_id or username)") &&
                   Catch::Contains("remove project_id/project_name") &&
                   Catch::Contains("password_file does not apply to auth_type "
                                   "\"v3applicationcredential\"; remove it"));
    CHECK_THAT(errors(head + "auth_url = \"https://k/v3\"\nauth_type = "
                             "\"v3applicationcredential\"\napplication_credential_name = \"n\"\n"
                             "application_credential_secret_file = \"/s\"\n"),
               Catch::Contains("add user_id or username (with user_domain_name)"));
  }
  SECTION("tokens: token_file, and a warning that tokens expire")
  {
    CHECK_THAT(errors(head + "auth_url = \"https://k/v3\"\nauth_type = \"token\"\n"),
               Catch::Contains("add token_file = \"/etc/credrotd/p.token\""));
    const auto loaded = parse_ok(head + "auth_url = \"https://k/v3\"\nauth_type = \"v3token\"\n"
                                        "token_file = \"/etc/credrotd/t\"\nproject_id = \"p\"\n");
    CHECK(only_profile(loaded).inline_auth->auth.auth_type == core::AuthType::token);
    REQUIRE(loaded.warnings.size() == 1);
    CHECK_THAT(loaded.warnings[0], Catch::Contains("a token expires"));
  }
  SECTION("inline secrets are refused without repeating them")
  {
    const std::string message =
        errors(head + "auth_url = \"https://k/v3\"\nuser_id = \"u\"\npassword = \"" +
               std::string(k_secret) + "\"\ntoken = \"" + std::string(k_secret) + "\"\n");
    CHECK(lines_of(message) ==
          std::vector<std::string>{
              "c.toml:9:12: password in [profile.p.auth]: secrets are not written in "
              "credrotd.toml; put it in a file readable only by root and set password_file = "
              "\"/etc/credrotd/p.password\" (mode 0600), or use a clouds.yaml cloud with "
              "secure.yaml",
              "c.toml:10:9: token in [profile.p.auth]: secrets are not written in credrotd.toml; "
              "put it in a file readable only by root and set token_file = "
              "\"/etc/credrotd/p.token\" (mode 0600), or use a clouds.yaml cloud with "
              "secure.yaml"});
  }
  SECTION("bad values")
  {
    const std::string message = errors(head + "auth_url = \"https://k/v3\"\nauth_type = \"oidc\"\n"
                                              "interface = \"private\"\ncacert = \"ca.pem\"\n"
                                              "verify = \"no\"\nuser = \"x\"\nproject = \"p\"\n");
    CHECK(lines_of(message) ==
          std::vector<std::string>{
              "c.toml:8:13: auth_type in [profile.p.auth]: \"oidc\" is not allowed; use "
              "\"password\", \"v3password\", \"v3applicationcredential\", \"token\" or \"v3token\"",
              "c.toml:9:13: interface in [profile.p.auth]: \"private\" is not allowed; use "
              "\"public\", \"internal\", \"admin\", \"publicURL\", \"internalURL\" or \"adminURL\"",
              "c.toml:10:10: cacert in [profile.p.auth]: must be an absolute path (starting with "
              "/), or \"\", not \"ca.pem\"",
              "c.toml:11:10: verify in [profile.p.auth]: must be true or false, not a string",
              "c.toml:12:1: unknown key \"user\" in [profile.p.auth] (allowed: auth_url, "
              "auth_type, username, user_id, user_domain_name, "
              "user_domain_id, project_name, project_id, project_domain_name, project_domain_id, "
              "application_credential_id, application_credential_name, region_name, interface, "
              "cacert, verify, cert, key, password_file, application_credential_secret_file, "
              "token_file)",
              "c.toml:13:1: unknown key \"project\" in [profile.p.auth]; project is a profile "
              "option; put it in [profile.p]"});
  }
}
