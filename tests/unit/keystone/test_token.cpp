// SPDX-License-Identifier: Apache-2.0
// Token responses, catalog lookups, auth request bodies and auth_url normalisation.
#include "keystone/json.hpp"
#include "keystone/token.hpp"
#include "result_printer.hpp"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

using credrotd::core::AuthType;
using credrotd::core::CloudAuth;
using credrotd::core::Errc;
using credrotd::core::Interface;
using credrotd::core::Secret;
using namespace credrotd::keystone;

namespace {

// Shaped like Keystone 22's answer to a project-scoped password authentication.
constexpr const char* k_token = R"({"token": {
  "methods": ["password"],
  "user": {"domain": {"id": "default", "name": "Default"}, "id": "8c2b1e6f", "name": "rotator",
           "password_expires_at": null},
  "audit_ids": ["x1"],
  "expires_at": "2030-05-01T13:00:00.000000Z",
  "issued_at": "2030-05-01T12:00:00.000000Z",
  "project": {"domain": {"id": "default", "name": "Default"}, "id": "a1b2", "name": "demo"},
  "is_domain": false,
  "roles": [{"id": "r1", "name": "reader"}, {"id": "r2", "name": "member"}],
  "catalog": [
    {"endpoints": [
       {"id": "e1", "interface": "public", "region_id": "RegionOne", "url": "http://127.0.0.1:5000/v3", "region": "RegionOne"},
       {"id": "e2", "interface": "internal", "region_id": "RegionOne", "url": "http://127.0.0.3:5000/v3", "region": "RegionOne"}],
     "id": "s1", "type": "identity", "name": "keystone"},
    {"endpoints": [
       {"id": "e3", "interface": "public", "region_id": "RegionOne", "url": "http://127.0.0.1:8080/v1/AUTH_a1b2", "region": "RegionOne"},
       {"id": "e4", "interface": "public", "region_id": "RegionTwo", "url": "http://127.0.0.2:8080/v1/AUTH_a1b2", "region": "RegionTwo"}],
     "id": "s2", "type": "object-store", "name": "swift"}]}})";

CloudAuth password_auth()
{
  CloudAuth auth;
  auth.name = "test";
  auth.source = "/etc/openstack/clouds.yaml";
  auth.auth_type = AuthType::password;
  auth.auth_url = "http://127.0.0.1:5000";
  auth.username = "rotator";
  auth.user_domain_name = "Default";
  auth.project_name = "demo";
  auth.password = Secret("correct horse battery staple");
  return auth;
}

boost::json::value body_json(const CloudAuth& auth)
{
  const auto body = auth_request_body(auth);
  REQUIRE(body);
  return boost::json::parse(std::string_view(body->data(), body->size()));
}

} // namespace

TEST_CASE("a token response gives user, project, roles, methods, expiry and catalog", "[keystone]")
{
  const auto info = parse_token(k_token);
  REQUIRE(info);
  CHECK(info->user_id == "8c2b1e6f");
  CHECK(info->user_name == "rotator");
  CHECK(info->user_domain_id == "default");
  CHECK(info->project_id == "a1b2");
  CHECK(info->project_name == "demo");
  CHECK(info->has_role("Member"));
  CHECK_FALSE(info->has_role("admin"));
  CHECK(info->has_method("password"));
  CHECK(info->expires_at - info->issued_at == std::chrono::hours(1));
  CHECK(info->catalog.size() == 4);
  CHECK(*info->endpoint_url("identity", Interface::public_) == "http://127.0.0.1:5000/v3");
  CHECK(*info->endpoint_url("identity", Interface::internal) == "http://127.0.0.3:5000/v3");
  CHECK(*info->endpoint_url("object-store", Interface::public_, "RegionTwo") ==
        "http://127.0.0.2:8080/v1/AUTH_a1b2");
}

TEST_CASE("a missing endpoint names what the catalog offers", "[keystone]")
{
  const auto info = parse_token(k_token);
  REQUIRE(info);
  const auto missing = info->endpoint_url("object-store", Interface::admin, "RegionOne");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == Errc::not_found);
  CHECK(missing.error().message.find("public in RegionOne, public in RegionTwo") !=
        std::string::npos);
  const auto none = info->endpoint_url("s3", Interface::public_);
  REQUIRE_FALSE(none);
  CHECK(none.error().message.find("lists no s3 service") != std::string::npos);
}

TEST_CASE("token responses that are garbage or incomplete are protocol errors", "[keystone]")
{
  for (const char* body : {"", "{", "[]", "{\"token\": 1}", "{\"token\": {}}",
                           "{\"token\": {\"expires_at\": \"2030-01-01T00:00:00Z\"}}",
                           "{\"token\": {\"expires_at\": \"tomorrow\", \"user\": {\"id\": \"u\"}}}",
                           "<html>502 Bad Gateway</html>"}) {
    INFO(body);
    const auto info = parse_token(body);
    REQUIRE_FALSE(info);
    CHECK(info.error().code == Errc::protocol);
  }
}

TEST_CASE("Keystone times parse with fractions and zones", "[keystone]")
{
  const auto z = parse_time("2030-05-01T12:00:00.000000Z");
  const auto plain = parse_time("2030-05-01T12:00:00Z");
  const auto offset = parse_time("2030-05-01T14:00:00+02:00");
  REQUIRE(z);
  REQUIRE(plain);
  REQUIRE(offset);
  CHECK(*z == *plain);
  CHECK(*z == *offset);
  CHECK(std::chrono::system_clock::to_time_t(*z) == 1903867200);
  CHECK(*parse_time("2030-05-01T12:00:00.5Z") - *z == std::chrono::milliseconds(500));
  CHECK_FALSE(parse_time("2030-02-30T00:00:00Z"));
  CHECK_FALSE(parse_time("2030-05-01 12:00"));
  CHECK_FALSE(parse_time("2030-05-01T12:00:00 EST"));
}

TEST_CASE("Keystone times the clock cannot hold are protocol errors, not overflows", "[keystone]")
{
  // Found by fuzz/keystone_json (UBSan): system_clock's nanoseconds end in 2262.
  CHECK(parse_time("2261-12-31T23:59:59.999999Z"));
  for (const char* text : {"3032-05-01T12:00:00.10", "9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z",
                           "-999-01-01T00:00:00Z"}) {
    INFO(text);
    const auto parsed = parse_time(text);
    REQUIRE_FALSE(parsed);
    CHECK(parsed.error().code == Errc::protocol);
  }
}

TEST_CASE("auth_url is normalised to the v3 base", "[keystone]")
{
  CHECK(*identity_base("http://127.0.0.1:5000", "x") == "http://127.0.0.1:5000/v3");
  CHECK(*identity_base("http://127.0.0.1:5000/", "x") == "http://127.0.0.1:5000/v3");
  CHECK(*identity_base("https://ks.example/v3/", "x") == "https://ks.example/v3");
  CHECK(*identity_base("https://ks.example/identity", "x") == "https://ks.example/identity/v3");
  CHECK(*identity_base("https://ks.example/v2.0", "x") == "https://ks.example/v3");
  const auto bad = identity_base("keystone:5000", "cloud \"c\" (/etc/openstack/clouds.yaml)");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code == Errc::config);
  CHECK(bad.error().message.find("clouds.yaml") != std::string::npos);
}

TEST_CASE("a password auth body is project-scoped and names user and domains", "[keystone]")
{
  const auto doc = body_json(password_auth());
  const auto& identity = doc.at("auth").at("identity");
  CHECK(identity.at("methods").as_array().size() == 1);
  CHECK(identity.at("methods").at(0).as_string() == "password");
  const auto& user = identity.at("password").at("user");
  CHECK(user.at("name").as_string() == "rotator");
  CHECK(user.at("domain").at("name").as_string() == "Default");
  CHECK(user.at("password").as_string() == "correct horse battery staple");
  const auto& project = doc.at("auth").at("scope").at("project");
  CHECK(project.at("name").as_string() == "demo");
  CHECK(project.at("domain").at("name").as_string() == "Default"); // the user's domain

  auto by_id = password_auth();
  by_id.user_id = "u-1";
  by_id.project_id = "p-1";
  const auto ids = body_json(by_id);
  CHECK(ids.at("auth").at("identity").at("password").at("user").as_object().size() == 2);
  CHECK(ids.at("auth").at("scope").at("project").at("id").as_string() == "p-1");
}

TEST_CASE("application credential and token auth bodies", "[keystone]")
{
  CloudAuth app;
  app.name = "app";
  app.auth_type = AuthType::application_credential;
  app.auth_url = "http://127.0.0.1:5000/v3";
  app.application_credential_id = "ac-1";
  app.application_credential_secret = Secret("app-secret");
  const auto app_doc = body_json(app);
  CHECK(app_doc.at("auth").at("identity").at("application_credential").at("id").as_string() ==
        "ac-1");
  CHECK(app_doc.at("auth").at("identity").at("application_credential").at("secret").as_string() ==
        "app-secret");
  CHECK_FALSE(app_doc.at("auth").as_object().contains("scope"));

  CloudAuth token;
  token.name = "tok";
  token.auth_type = AuthType::token;
  token.token = Secret("gAAAAAB-token");
  token.project_id = "p-9";
  const auto token_doc = body_json(token);
  CHECK(token_doc.at("auth").at("identity").at("token").at("id").as_string() == "gAAAAAB-token");
  CHECK(token_doc.at("auth").at("scope").at("project").at("id").as_string() == "p-9");
}

TEST_CASE("incomplete identities are config errors that name the cloud and never a secret",
          "[keystone]")
{
  auto no_domain = password_auth();
  no_domain.user_domain_name.clear();
  const auto a = auth_request_body(no_domain);
  REQUIRE_FALSE(a);
  CHECK(a.error().code == Errc::config);
  CHECK(a.error().message.find("user_domain_name") != std::string::npos);
  CHECK(a.error().message.find("clouds.yaml") != std::string::npos);
  CHECK(a.error().message.find("correct horse") == std::string::npos);

  auto no_project = password_auth();
  no_project.project_name.clear();
  const auto b = auth_request_body(no_project);
  REQUIRE_FALSE(b);
  CHECK(b.error().message.find("project_id or project_name") != std::string::npos);

  auto no_password = password_auth();
  no_password.password = Secret();
  REQUIRE_FALSE(auth_request_body(no_password));
}

TEST_CASE("an identity that is not UTF-8 is a config error, not a body Keystone cannot parse",
          "[keystone]")
{
  // Found by fuzz/clouds_yaml: OS_PASSWORD with bytes that are not UTF-8 went unchanged into
  // the JSON body.
  auto bad_password = password_auth();
  bad_password.password = Secret("pass\xFD\xFF-word");
  const auto body = auth_request_body(bad_password);
  REQUIRE_FALSE(body);
  CHECK(body.error().code == Errc::config);
  CHECK(body.error().message.find("password is not UTF-8") != std::string::npos);
  CHECK(body.error().message.find("pass\xFD") == std::string::npos);

  for (const char* name : {"caf\xC3", "\xC0\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80"}) {
    auto bad_name = password_auth();
    bad_name.username = name;
    const auto refused = auth_request_body(bad_name);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().message.find("username is not UTF-8") != std::string::npos);
  }
  auto accented = password_auth();
  accented.username = "caf\xC3\xA9 \xF0\x9F\x94\x91";
  CHECK(body_json(accented).at("auth").at("identity").at("password").at("user").at("name") ==
        "caf\xC3\xA9 \xF0\x9F\x94\x91");
}
