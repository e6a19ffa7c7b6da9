// SPDX-License-Identifier: Apache-2.0
// The Keystone client against the fault server's small Keystone: token reuse, re-auth on 401,
// and each fault (500, 429, hang, garbage, endless body) as a bounded, classified outcome.
#include "fault_process.hpp"
#include "keystone/client.hpp"
#include "result_printer.hpp"
#include "run_awaitable.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <catch2/catch.hpp>

using namespace std::chrono_literals;
using credrotd::core::AuthType;
using credrotd::core::CloudAuth;
using credrotd::core::Errc;
using credrotd::core::Secret;
using credrotd::net::Clock;
using credrotd::net::deadline_after;
using credrotd::net::HttpClient;
using credrotd::testfault::FaultServer;
using credrotd::testfault::run;
using namespace credrotd::keystone;

namespace {

constexpr std::string_view k_password = "pw-secret-7f3a9";

CloudAuth cloud(const FaultServer& server, const std::string& key, const std::string& actions)
{
  CloudAuth auth;
  auth.name = "fault";
  auth.source = "test_client.cpp";
  auth.auth_type = AuthType::password;
  auth.auth_url = server.url("/ks/" + key + "/" + actions + "/v3");
  auth.username = "rotator";
  auth.user_domain_name = "Default";
  auth.project_name = "demo";
  auth.password = Secret(k_password);
  return auth;
}

struct Fixture {
  explicit Fixture(std::size_t max_body = 8 * 1024 * 1024)
  {
    credrotd::net::ClientOptions options;
    options.retry.initial_backoff = 40ms;
    options.retry.max_backoff = 200ms;
    options.max_body_bytes = max_body;
    auto client = HttpClient::create(io.get_executor(), std::move(options));
    REQUIRE(client);
    http.emplace(std::move(*client));
  }
  boost::asio::io_context io;
  std::optional<HttpClient> http;
};

boost::json::array hits(Fixture& fixture, const FaultServer& server, const std::string& key)
{
  auto client = HttpClient::create(fixture.io.get_executor(), {});
  REQUIRE(client);
  credrotd::net::Request request;
  request.url = server.url("/__stats");
  const auto response = run(fixture.io, client->send(std::move(request), deadline_after(5s)));
  REQUIRE(response);
  const auto doc =
      boost::json::parse(std::string_view(response->body.data(), response->body.size()));
  const auto& all = doc.at("hits").as_object();
  const auto it = all.find(key);
  return it == all.end() ? boost::json::array{} : it->value().as_array();
}

double seconds_since(Clock::time_point start)
{
  return std::chrono::duration<double>(Clock::now() - start).count();
}

void check_no_secret(const std::string& text)
{
  CHECK(text.find(k_password) == std::string::npos);
  CHECK(text.find("tok-") == std::string::npos);
}

} // namespace

TEST_CASE("the client authenticates once and reuses its token", "[keystone]")
{
  FaultServer server;
  Fixture f;
  Client client(*f.http, cloud(server, "reuse", "ks"));
  const auto info = run(f.io, client.authenticate(deadline_after(5s)));
  REQUIRE(info);
  CHECK(info->user_id == "u-rotator");
  CHECK(info->project_id == "p-demo");
  CHECK(info->has_role("member"));
  CHECK(info->has_method("password"));
  CHECK(*info->endpoint_url("object-store", credrotd::core::Interface::public_) ==
        server.url("/ks/reuse/ks/swift/v1/AUTH_p-demo"));
  for (int i = 0; i < 2; ++i) {
    const auto list = run(f.io, client.list_ec2_credentials(deadline_after(5s)));
    REQUIRE(list);
    REQUIRE(list->size() == 1);
    CHECK((*list)[0].project_id == "p-demo");
  }
  CHECK(client.authentications() == 1);
  const auto records = hits(f, server, "reuse");
  REQUIRE(records.size() == 3);
  CHECK(records[1].at("path").as_string() == "/ks/reuse/ks/v3/users/u-rotator/credentials/OS-EC2");
  CHECK(records[2].at("token").as_string() == "tok-1");
}

TEST_CASE("a 401 on a call re-authenticates once and repeats the call", "[keystone]")
{
  FaultServer server;
  Fixture f;
  Client client(*f.http, cloud(server, "reauth", "ks,401,ks"));
  const auto list = run(f.io, client.list_ec2_credentials(deadline_after(5s)));
  REQUIRE(list);
  CHECK(client.authentications() == 2);
  const auto records = hits(f, server, "reauth");
  REQUIRE(records.size() == 4);
  CHECK(records[2].at("path").as_string() == "/ks/reauth/ks,401,ks/v3/auth/tokens");
  CHECK(records[3].at("token").as_string() == "tok-2");
}

TEST_CASE("a 401 after re-authentication is auth_rejected", "[keystone]")
{
  FaultServer server;
  Fixture f;
  Client client(*f.http, cloud(server, "reject", "ks,401,ks,401"));
  const auto list = run(f.io, client.list_ec2_credentials(deadline_after(5s)));
  REQUIRE_FALSE(list);
  CHECK(list.error().code == Errc::auth_rejected);
  check_no_secret(list.error().message);
  CHECK(hits(f, server, "reject").size() == 4);
}

TEST_CASE("a refused password is auth_rejected naming the cloud", "[keystone]")
{
  FaultServer server;
  Fixture f;
  Client client(*f.http, cloud(server, "badpw", "401"));
  const auto info = run(f.io, client.authenticate(deadline_after(5s)));
  REQUIRE_FALSE(info);
  CHECK(info.error().code == Errc::auth_rejected);
  CHECK(info.error().message.find("password of user rotator") != std::string::npos);
  CHECK(info.error().message.find("cloud \"fault\"") != std::string::npos);
  check_no_secret(info.error().message);
}

TEST_CASE("a Keystone error that echoes the request never shows the password", "[keystone]")
{
  FaultServer server;
  Fixture f;
  Client client(*f.http, cloud(server, "echo", "echo"));
  const auto info = run(f.io, client.authenticate(deadline_after(5s)));
  REQUIRE_FALSE(info);
  CHECK(info.error().code == Errc::config);
  CHECK(info.error().message.find("<redacted>") != std::string::npos);
  check_no_secret(info.error().message);
}

TEST_CASE("Keystone answering 500 is a transient error after bounded retries", "[keystone]")
{
  FaultServer server;
  Fixture f;
  Client client(*f.http, cloud(server, "e500", "ks,500"));
  const auto start = Clock::now();
  const auto list = run(f.io, client.list_ec2_credentials(deadline_after(5s)));
  REQUIRE_FALSE(list);
  CHECK(list.error().code == Errc::transient);
  CHECK(list.error().message.find("cannot list EC2 credentials through OS-EC2") !=
        std::string::npos);
  CHECK(list.error().message.find("HTTP 500") != std::string::npos);
  CHECK(seconds_since(start) < 2.0);
  CHECK(hits(f, server, "e500").size() == 5); // auth + 4 attempts
}

TEST_CASE("Keystone answering 429 with Retry-After is waited for and recovers", "[keystone]")
{
  FaultServer server;
  Fixture f;
  Client client(*f.http, cloud(server, "e429", "ks,429-1,ks"));
  const auto list = run(f.io, client.list_ec2_credentials(deadline_after(5s)));
  REQUIRE(list);
  const auto records = hits(f, server, "e429");
  REQUIRE(records.size() == 3);
  CHECK(records[2].at("t").as_double() - records[1].at("t").as_double() >= 0.95);
}

TEST_CASE("a Keystone that hangs gives a timeout within the deadline", "[keystone]")
{
  FaultServer server;
  Fixture f;
  Client client(*f.http, cloud(server, "hang", "ks,hang"));
  const auto start = Clock::now();
  const auto list = run(f.io, client.list_ec2_credentials(deadline_after(800ms)));
  REQUIRE_FALSE(list);
  CHECK(list.error().code == Errc::timeout);
  CHECK(seconds_since(start) < 1.5);
}

TEST_CASE("garbage JSON from Keystone is a protocol error", "[keystone]")
{
  FaultServer server;
  Fixture f;
  SECTION("in a token response")
  {
    Client client(*f.http, cloud(server, "gtok", "garbage"));
    const auto info = run(f.io, client.authenticate(deadline_after(5s)));
    REQUIRE_FALSE(info);
    CHECK(info.error().code == Errc::protocol);
  }
  SECTION("in a credential list")
  {
    Client client(*f.http, cloud(server, "glist", "ks,garbage"));
    const auto list = run(f.io, client.list_ec2_credentials(deadline_after(5s)));
    REQUIRE_FALSE(list);
    CHECK(list.error().code == Errc::protocol);
  }
}

TEST_CASE("an endless body from Keystone is cut off as a protocol error", "[keystone]")
{
  FaultServer server;
  Fixture f(1024 * 1024);
  Client client(*f.http, cloud(server, "endless", "ks,endless"));
  const auto start = Clock::now();
  const auto list = run(f.io, client.list_ec2_credentials(deadline_after(5s)));
  REQUIRE_FALSE(list);
  CHECK(list.error().code == Errc::protocol);
  CHECK(seconds_since(start) < 3.0);
}

TEST_CASE("a repeated /v3/credentials create of one access id is a conflict", "[keystone]")
{
  FaultServer server;
  Fixture f;
  Client client(*f.http, cloud(server, "create", "ks"));
  auto key = generate_ec2_key();
  REQUIRE(key);
  const std::string access = key->access;
  const std::string secret(key->secret.reveal());
  Ec2Key again{access, key->secret.clone()};
  const auto created = run(f.io, client.create_ec2_credential(std::move(*key), deadline_after(5s)));
  REQUIRE(created);
  CHECK(created->access == access);
  CHECK(created->secret.reveal() == secret);
  CHECK(created->credential_id == credential_id_for(access));
  CHECK(created->project_id == "p-demo");

  const auto repeated =
      run(f.io, client.create_ec2_credential(std::move(again), deadline_after(5s)));
  REQUIRE_FALSE(repeated);
  CHECK(repeated.error().code == Errc::conflict);
  CHECK(repeated.error().message.find(access) != std::string::npos);
  CHECK(repeated.error().message.find(secret) == std::string::npos);

  const auto list = run(f.io, client.list_ec2_credentials(deadline_after(5s)));
  REQUIRE(list);
  REQUIRE(list->size() == 1);
  CHECK((*list)[0].access == access);
}

TEST_CASE("a token about to expire is replaced before use", "[keystone]")
{
  FaultServer server;
  Fixture f;
  Client client(*f.http, cloud(server, "expiring", "ksold")); // tokens expire in 60 s
  REQUIRE(run(f.io, client.authenticate(deadline_after(5s))));
  REQUIRE(run(f.io, client.list_ec2_credentials(deadline_after(5s))));
  CHECK(client.authentications() == 2);
}

TEST_CASE("the refresh margin is capped at a quarter of the token's lifetime", "[keystone]")
{
  FaultServer server;
  Fixture f;
  ClientOptions options;
  options.token_refresh_margin = std::chrono::hours(2); // longer than the 1 h token
  Client client(*f.http, cloud(server, "margin", "ks"), options);
  REQUIRE(run(f.io, client.authenticate(deadline_after(5s))));
  REQUIRE(run(f.io, client.authenticate(deadline_after(5s))));
  CHECK(client.authentications() == 1);
  client.forget_token();
  REQUIRE(run(f.io, client.authenticate(deadline_after(5s))));
  CHECK(client.authentications() == 2);
}
