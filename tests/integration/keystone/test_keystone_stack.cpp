// SPDX-License-Identifier: Apache-2.0
// The Keystone client against the real local Keystone (tests/stack): authentication of each
// kind, EC2 credentials both ways as the openstack CLI sees them, policy refusals, ownership,
// TLS verification.
#include "fault_process.hpp"
#include "keystone/client.hpp"
#include "result_printer.hpp"
#include "run_awaitable.hpp"
#include "stack_env.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdio>
#include <set>

using namespace std::chrono_literals;
using credrotd::core::AuthType;
using credrotd::core::CloudAuth;
using credrotd::core::Errc;
using credrotd::core::Secret;
using credrotd::net::deadline_after;
using credrotd::net::HttpClient;
using credrotd::testfault::run;
using credrotd::testsupport::stack_value;
using namespace credrotd::keystone;

namespace {

CloudAuth password_identity(const std::string& user, const std::string& password,
                            const std::string& project, const std::string& url_key = "KEYSTONE_URL")
{
  CloudAuth auth;
  auth.name = user;
  auth.source = "test_keystone_stack.cpp";
  auth.auth_type = AuthType::password;
  auth.auth_url = stack_value(url_key);
  auth.username = user;
  auth.user_domain_name = stack_value("DOMAIN_NAME");
  auth.project_name = project;
  auth.project_domain_name = stack_value("DOMAIN_NAME");
  auth.password = Secret(password);
  return auth;
}

CloudAuth rotator(const std::string& url_key = "KEYSTONE_URL")
{
  return password_identity(stack_value("ROTATOR_NAME"), stack_value("ROTATOR_PASSWORD"),
                           stack_value("PROJECT_NAME"), url_key);
}

CloudAuth bystander()
{
  return password_identity(stack_value("BYSTANDER_NAME"), stack_value("BYSTANDER_PASSWORD"),
                           stack_value("PROJECT_NAME"));
}

CloudAuth admin()
{
  return password_identity(stack_value("ADMIN_NAME"), stack_value("ADMIN_PASSWORD"),
                           stack_value("ADMIN_PROJECT_NAME"));
}

CloudAuth application_credential(const std::string& prefix)
{
  CloudAuth auth;
  auth.name = prefix;
  auth.source = "test_keystone_stack.cpp";
  auth.auth_type = AuthType::application_credential;
  auth.auth_url = stack_value("KEYSTONE_URL");
  auth.application_credential_id = stack_value(prefix + "_ID");
  auth.application_credential_secret = Secret(stack_value(prefix + "_SECRET"));
  return auth;
}

struct Fixture {
  explicit Fixture(credrotd::net::ClientOptions options = {})
  {
    auto client = HttpClient::create(io.get_executor(), std::move(options));
    REQUIRE(client);
    http.emplace(std::move(*client));
  }
  boost::asio::io_context io;
  std::optional<HttpClient> http;
};

// The access ids `openstack ec2 credentials list` shows for a cloud of the stack's clouds.yaml.
std::set<std::string> cli_access_ids(const std::string& cloud)
{
  const auto result = credrotd::testfault::run_command(
      {"/usr/bin/openstack", "--os-cloud", cloud, "ec2", "credentials", "list", "-f", "json"},
      {"PATH=/usr/bin:/bin", "HOME=/tmp", "LANG=C.UTF-8",
       "OS_CLIENT_CONFIG_FILE=" + stack_value("OS_CLIENT_CONFIG_FILE")},
      60s);
  REQUIRE(result.exit_code == 0);
  std::set<std::string> ids;
  const auto doc = boost::json::parse(result.out);
  for (const auto& row : doc.as_array()) {
    ids.emplace(row.at("Access").as_string());
  }
  return ids;
}

bool lists(const std::vector<Ec2Credential>& credentials, const std::string& access)
{
  return std::any_of(credentials.begin(), credentials.end(),
                     [&](const Ec2Credential& c) { return c.access == access; });
}

} // namespace

TEST_CASE("password authentication gives the user, project, roles and catalog",
          "[integration][keystone]")
{
  Fixture f;
  Client client(*f.http, rotator());
  const auto info = run(f.io, client.authenticate(deadline_after(20s)));
  REQUIRE(info);
  CHECK(info->user_id == stack_value("ROTATOR_ID"));
  CHECK(info->project_id == stack_value("PROJECT_ID"));
  CHECK(info->has_role("member"));
  CHECK(info->has_method("password"));
  CHECK(info->expires_at > std::chrono::system_clock::now() + 30min);
  const auto swift =
      info->endpoint_url("object-store", credrotd::core::Interface::public_, stack_value("REGION"));
  REQUIRE(swift);
  CHECK(*swift == stack_value("SWIFT_URL"));
  CHECK(info->endpoint_url("s3", credrotd::core::Interface::public_));
}

TEST_CASE("token authentication works with a token issued for a password",
          "[integration][keystone]")
{
  Fixture f;
  // Issue a token the plain way, as an operator would paste into clouds.yaml.
  const auto body = auth_request_body(rotator());
  REQUIRE(body);
  credrotd::net::Request request;
  request.method = credrotd::net::Method::post;
  request.url = stack_value("KEYSTONE_URL") + "/auth/tokens";
  request.header("Content-Type", "application/json");
  request.body = *body;
  const auto issued = run(f.io, f.http->send(std::move(request), deadline_after(20s)));
  REQUIRE(issued);
  REQUIRE(issued->status == 201);
  const auto token = issued->header("X-Subject-Token");
  REQUIRE(token);

  CloudAuth auth;
  auth.name = "token";
  auth.source = "test_keystone_stack.cpp";
  auth.auth_type = AuthType::token;
  auth.auth_url = stack_value("KEYSTONE_URL");
  auth.token = Secret(*token);
  auth.project_id = stack_value("PROJECT_ID");
  Client client(*f.http, std::move(auth));
  const auto info = run(f.io, client.authenticate(deadline_after(20s)));
  REQUIRE(info);
  CHECK(info->user_id == stack_value("ROTATOR_ID"));
  CHECK(info->has_method("token"));
  const auto list = run(f.io, client.list_ec2_credentials(deadline_after(20s)));
  CHECK(list);
}

TEST_CASE("a wrong password is auth_rejected without the password in the message",
          "[integration][keystone]")
{
  Fixture f;
  Client client(*f.http, password_identity(stack_value("ROTATOR_NAME"), "wrong-pw-4f1b",
                                           stack_value("PROJECT_NAME")));
  const auto info = run(f.io, client.authenticate(deadline_after(20s)));
  REQUIRE_FALSE(info);
  CHECK(info.error().code == Errc::auth_rejected);
  CHECK(info.error().message.find("wrong-pw-4f1b") == std::string::npos);
}

TEST_CASE("an application credential authenticates, and EC2 management says to use a password",
          "[integration][keystone]")
{
  for (const std::string prefix : {"APPCRED", "APPCRED_RESTRICTED"}) {
    INFO(prefix);
    Fixture f;
    Client client(*f.http, application_credential(prefix));
    const auto info = run(f.io, client.authenticate(deadline_after(20s)));
    REQUIRE(info);
    CHECK(info->user_id == stack_value("ROTATOR_ID"));
    CHECK(info->has_method("application_credential"));
    CHECK(info->application_credential_id == stack_value(prefix + "_ID"));

    auto key = generate_ec2_key();
    REQUIRE(key);
    const auto created =
        run(f.io, client.create_ec2_credential(std::move(*key), deadline_after(20s)));
    REQUIRE_FALSE(created);
    CHECK(created.error().code == Errc::forbidden);
    CHECK(created.error().message.find("use a password identity for this profile") !=
          std::string::npos);
    CHECK(created.error().message.find(stack_value(prefix + "_SECRET")) == std::string::npos);

    const auto fallback = run(f.io, client.create_ec2_credential_os_ec2(deadline_after(20s)));
    REQUIRE_FALSE(fallback);
    CHECK(fallback.error().code == Errc::forbidden);
    CHECK(fallback.error().message.find("application-credential tokens") != std::string::npos);
  }
}

TEST_CASE("EC2 credentials made both ways are seen by the openstack CLI, read, listed and "
          "deleted",
          "[integration][keystone]")
{
  Fixture f;
  Client client(*f.http, rotator());
  auto key = generate_ec2_key();
  REQUIRE(key);
  const std::string mine = key->access;
  const std::string mine_secret(key->secret.reveal());
  const auto created =
      run(f.io, client.create_ec2_credential(std::move(*key), deadline_after(20s)));
  REQUIRE(created);
  CHECK(created->user_id == stack_value("ROTATOR_ID"));
  CHECK(created->project_id == stack_value("PROJECT_ID"));
  CHECK(created->credential_id == credential_id_for(mine));

  const auto fallback = run(f.io, client.create_ec2_credential_os_ec2(deadline_after(20s)));
  REQUIRE(fallback);
  const std::string theirs = fallback->access;
  CHECK(theirs.size() == 32);
  CHECK(fallback->project_id == stack_value("PROJECT_ID"));
  CHECK(fallback->secret.size() == 32);

  const auto cli = cli_access_ids(stack_value("CLOUD_ROTATOR"));
  CHECK(cli.count(mine) == 1);
  CHECK(cli.count(theirs) == 1);

  for (const Ec2Api api : {Ec2Api::os_ec2, Ec2Api::credentials}) {
    INFO(to_string(api));
    const auto list = run(f.io, client.list_ec2_credentials(deadline_after(20s), api));
    REQUIRE(list);
    CHECK(lists(*list, mine));
    CHECK(lists(*list, theirs));
    const auto got = run(f.io, client.get_ec2_credential(mine, deadline_after(20s), api));
    REQUIRE(got);
    CHECK(got->secret.reveal() == mine_secret);
    CHECK(got->user_id == stack_value("ROTATOR_ID"));
    CHECK(got->project_id == stack_value("PROJECT_ID"));
  }

  REQUIRE(run(f.io, client.delete_ec2_credential(mine, deadline_after(20s), Ec2Api::credentials)));
  REQUIRE(run(f.io, client.delete_ec2_credential(theirs, deadline_after(20s), Ec2Api::os_ec2)));
  for (const auto& access : {mine, theirs}) {
    for (const Ec2Api api : {Ec2Api::os_ec2, Ec2Api::credentials}) {
      const auto gone = run(f.io, client.get_ec2_credential(access, deadline_after(20s), api));
      REQUIRE_FALSE(gone);
      CHECK(gone.error().code == Errc::not_found);
    }
    const auto again = run(f.io, client.delete_ec2_credential(access, deadline_after(20s)));
    REQUIRE_FALSE(again);
    CHECK(again.error().code == Errc::not_found);
  }
  const auto after = cli_access_ids(stack_value("CLOUD_ROTATOR"));
  CHECK(after.count(mine) == 0);
  CHECK(after.count(theirs) == 0);
}

TEST_CASE("a repeated /v3/credentials create of the same key is a conflict",
          "[integration][keystone]")
{
  Fixture f;
  Client client(*f.http, rotator());
  auto key = generate_ec2_key();
  REQUIRE(key);
  const std::string access = key->access;
  Ec2Key again{access, key->secret.clone()};
  REQUIRE(run(f.io, client.create_ec2_credential(std::move(*key), deadline_after(20s))));
  const auto repeated =
      run(f.io, client.create_ec2_credential(std::move(again), deadline_after(20s)));
  REQUIRE_FALSE(repeated);
  CHECK(repeated.error().code == Errc::conflict);
  REQUIRE(run(f.io, client.delete_ec2_credential(access, deadline_after(20s))));
}

TEST_CASE("the bystander's keys are listed as another user's and never touched",
          "[integration][keystone]")
{
  Fixture f;
  Client other(*f.http, bystander());
  const auto made = run(f.io, other.create_ec2_credential_os_ec2(deadline_after(20s)));
  REQUIRE(made);
  const std::string access = made->access;

  Client mine(*f.http, rotator());
  const auto own = run(f.io, mine.list_ec2_credentials(deadline_after(20s)));
  REQUIRE(own);
  CHECK_FALSE(lists(*own, access));
  const auto refused = run(f.io, mine.delete_ec2_credential(access, deadline_after(20s)));
  REQUIRE_FALSE(refused);
  CHECK((refused.error().code == Errc::not_found || refused.error().code == Errc::forbidden));

  // An admin identity sees every user's keys through /v3/credentials; the client still
  // refuses to delete one that is not its own user's.
  Client root(*f.http, admin());
  const auto all = run(f.io, root.list_ec2_credentials(deadline_after(20s), Ec2Api::credentials));
  REQUIRE(all);
  const auto it = std::find_if(all->begin(), all->end(),
                               [&](const Ec2Credential& c) { return c.access == access; });
  REQUIRE(it != all->end());
  CHECK(it->user_id == stack_value("BYSTANDER_ID"));
  CHECK(it->user_id != root.token_info()->user_id);
  const auto unsafe =
      run(f.io, root.delete_ec2_credential(access, deadline_after(20s), Ec2Api::credentials));
  REQUIRE_FALSE(unsafe);
  CHECK(unsafe.error().code == Errc::unsafe);

  CHECK(cli_access_ids(stack_value("CLOUD_BYSTANDER")).count(access) == 1);
  REQUIRE(run(f.io, other.delete_ec2_credential(access, deadline_after(20s))));
}

TEST_CASE("TLS Keystone: the stack's CA is accepted, an unknown CA and a wrong name refused",
          "[integration][keystone]")
{
  SECTION("trusted CA, by IP and by name")
  {
    for (const char* url_key : {"KEYSTONE_HTTPS_URL", "KEYSTONE_HTTPS_LOCALHOST_URL"}) {
      INFO(url_key);
      auto auth = rotator(url_key);
      auth.cacert = stack_value("CA_FILE");
      Fixture f(http_options(auth));
      Client client(*f.http, std::move(auth));
      const auto info = run(f.io, client.authenticate(deadline_after(20s)));
      REQUIRE(info);
      CHECK(info->user_id == stack_value("ROTATOR_ID"));
    }
  }
  SECTION("unknown CA")
  {
    auto auth = rotator("KEYSTONE_HTTPS_URL");
    Fixture f(http_options(auth)); // system trust store only
    Client client(*f.http, std::move(auth));
    const auto info = run(f.io, client.authenticate(deadline_after(20s)));
    REQUIRE_FALSE(info);
    CHECK(info.error().code == Errc::tls);
    CHECK(info.error().message.find("unknown CA") != std::string::npos);
  }
  SECTION("wrong host name")
  {
    auto auth = rotator("KEYSTONE_HTTPS_WRONG_NAME_URL");
    auth.cacert = stack_value("CA_FILE");
    Fixture f(http_options(auth));
    Client client(*f.http, std::move(auth));
    const auto info = run(f.io, client.authenticate(deadline_after(20s)));
    REQUIRE_FALSE(info);
    CHECK(info.error().code == Errc::tls);
    CHECK(info.error().message.find("host name mismatch") != std::string::npos);
    CHECK(info.error().message.find(stack_value("TLS_WRONG_NAME")) != std::string::npos);
  }
  SECTION("insecure connects to the wrong name and warns")
  {
    auto auth = rotator("KEYSTONE_HTTPS_WRONG_NAME_URL");
    auth.verify = false;
    std::vector<std::string> warnings;
    credrotd::net::ClientOptions base;
    base.log = [&warnings](credrotd::net::LogLevel level, std::string_view line) {
      if (level == credrotd::net::LogLevel::warning) {
        warnings.emplace_back(line);
      }
    };
    Fixture f(http_options(auth, std::move(base)));
    Client client(*f.http, std::move(auth));
    REQUIRE(run(f.io, client.authenticate(deadline_after(20s))));
    CHECK(warnings.size() == 1);
  }
}

TEST_CASE("Keystone call latency through the client", "[.bench]")
{
  using Ms = std::chrono::duration<double, std::milli>;
  const auto p50 = [](std::vector<double> values) {
    std::sort(values.begin(), values.end());
    return values[values.size() / 2];
  };
  Fixture f;
  Client client(*f.http, rotator());
  const auto start = credrotd::net::Clock::now();
  REQUIRE(run(f.io, client.authenticate(deadline_after(20s))));
  const double auth_ms = Ms(credrotd::net::Clock::now() - start).count();
  std::vector<double> list_ms;
  for (int i = 0; i < 30; ++i) {
    const auto t0 = credrotd::net::Clock::now();
    REQUIRE(run(f.io, client.list_ec2_credentials(deadline_after(20s))));
    list_ms.push_back(Ms(credrotd::net::Clock::now() - t0).count());
  }
  std::vector<double> create_ms;
  std::vector<double> delete_ms;
  for (int i = 0; i < 10; ++i) {
    auto key = generate_ec2_key();
    REQUIRE(key);
    const std::string access = key->access;
    const auto t0 = credrotd::net::Clock::now();
    REQUIRE(run(f.io, client.create_ec2_credential(std::move(*key), deadline_after(20s))));
    const auto t1 = credrotd::net::Clock::now();
    REQUIRE(run(f.io, client.delete_ec2_credential(access, deadline_after(20s))));
    create_ms.push_back(Ms(t1 - t0).count());
    delete_ms.push_back(Ms(credrotd::net::Clock::now() - t1).count());
  }
  std::printf("authenticate %.1f ms; p50: list %.1f ms, create (/v3/credentials) %.1f ms, "
              "delete (get + delete) %.1f ms\n",
              auth_ms, p50(list_ms), p50(create_ms), p50(delete_ms));
}
