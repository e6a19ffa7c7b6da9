// SPDX-License-Identifier: Apache-2.0
// The per-identity token cache: keys, secrets compared, drops; and clients sharing it against
// the fault server's small Keystone (one token for every client and call of one identity).
#include "fault_process.hpp"
#include "keystone/client.hpp"
#include "keystone/token_cache.hpp"
#include "result_printer.hpp"
#include "run_awaitable.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>

#include <memory>

using namespace std::chrono_literals;
using credrotd::core::AuthType;
using credrotd::core::CloudAuth;
using credrotd::core::Secret;
using credrotd::net::deadline_after;
using credrotd::net::HttpClient;
using credrotd::testfault::FaultServer;
using credrotd::testfault::run;
using namespace credrotd::keystone;

namespace {

CloudAuth identity(const std::string& url, std::string_view password = "pw-one")
{
  CloudAuth auth;
  auth.name = "cache";
  auth.source = "test_token_cache.cpp";
  auth.auth_type = AuthType::password;
  auth.auth_url = url;
  auth.username = "rotator";
  auth.user_domain_name = "Default";
  auth.project_name = "demo";
  auth.password = Secret(password);
  return auth;
}

std::shared_ptr<const HeldToken> token(std::string_view id)
{
  HeldToken held;
  held.id = Secret(id);
  held.info.user_id = "u-rotator";
  return std::make_shared<const HeldToken>(std::move(held));
}

struct Fixture {
  Fixture()
  {
    auto client = HttpClient::create(io.get_executor(), {});
    REQUIRE(client);
    http.emplace(std::move(*client));
  }
  boost::asio::io_context io;
  std::optional<HttpClient> http;
};

} // namespace

TEST_CASE("a token stored for an identity is found with the same settings and secrets",
          "[keystone]")
{
  TokenCache cache;
  const auto held = token("tok-a");
  cache.store(identity("http://ks/v3"), held);
  CHECK(cache.find(identity("http://ks/v3")) == held);
  CHECK(cache.size() == 1);
}

TEST_CASE("a changed password never gets the token the old one earned", "[keystone]")
{
  TokenCache cache;
  cache.store(identity("http://ks/v3", "pw-one"), token("tok-a"));
  CHECK(cache.find(identity("http://ks/v3", "pw-two")) == nullptr);
  CHECK(cache.find(identity("http://ks/v3", "pw-one")) != nullptr);
}

TEST_CASE("another project, user or Keystone is another identity", "[keystone]")
{
  TokenCache cache;
  cache.store(identity("http://ks/v3"), token("tok-a"));
  auto project = identity("http://ks/v3");
  project.project_name = "other";
  auto user = identity("http://ks/v3");
  user.username = "bystander";
  auto insecure = identity("http://ks/v3");
  insecure.verify = false;
  CHECK(cache.find(project) == nullptr);
  CHECK(cache.find(user) == nullptr);
  CHECK(cache.find(insecure) == nullptr);
  CHECK(cache.find(identity("http://other-ks/v3")) == nullptr);
  // Fields are length-prefixed: moving text from one field to the next is another key.
  auto a = identity("http://ks/v3");
  a.username = "ab";
  a.user_id = "c";
  auto b = identity("http://ks/v3");
  b.username = "a";
  b.user_id = "bc";
  CHECK(token_cache_key(a) != token_cache_key(b));
}

TEST_CASE("dropping a token forgets it only if it is still the one held", "[keystone]")
{
  TokenCache cache;
  const auto old_token = token("tok-old");
  const auto new_token = token("tok-new");
  cache.store(identity("http://ks/v3"), old_token);
  cache.store(identity("http://ks/v3"), new_token);
  cache.drop(identity("http://ks/v3"), old_token.get());
  CHECK(cache.find(identity("http://ks/v3")) == new_token);
  cache.drop(identity("http://ks/v3"), new_token.get());
  CHECK(cache.find(identity("http://ks/v3")) == nullptr);
}

TEST_CASE("clients of one identity sharing a token cache authenticate once", "[keystone]")
{
  FaultServer server;
  Fixture f;
  ClientOptions options;
  options.token_cache = std::make_shared<TokenCache>();
  const auto url = server.url("/ks/shared/ks/v3");
  // A reload builds a new client for the same identity: it takes the first one's token.
  Client first(*f.http, identity(url), options);
  REQUIRE(run(f.io, first.list_ec2_credentials(deadline_after(5s))));
  Client second(*f.http, identity(url), options);
  REQUIRE(run(f.io, second.list_ec2_credentials(deadline_after(5s))));
  CHECK(first.authentications() == 1);
  CHECK(second.authentications() == 0);
  // Without the cache (or with another password) a client gets a token of its own.
  Client other(*f.http, identity(url, "pw-two"), options);
  REQUIRE(run(f.io, other.authenticate(deadline_after(5s))));
  CHECK(other.authentications() == 1);
}

TEST_CASE("concurrent calls of one client wait for a single authentication", "[keystone]")
{
  FaultServer server;
  Fixture f;
  Client client(*f.http, identity(server.url("/ks/single/ks/v3")));
  int succeeded = 0;
  for (int i = 0; i < 4; ++i) {
    boost::asio::co_spawn(
        f.io, client.list_ec2_credentials(deadline_after(5s)),
        [&](std::exception_ptr e, auto result) { succeeded += (!e && result) ? 1 : 0; });
  }
  f.io.run();
  CHECK(succeeded == 4);
  CHECK(client.authentications() == 1);
}

TEST_CASE("a 401 replaces the cached token for every client of the identity", "[keystone]")
{
  FaultServer server;
  Fixture f;
  ClientOptions options;
  options.token_cache = std::make_shared<TokenCache>();
  // Keystone answers: token, 401 (the token died), token, then the list.
  const auto url = server.url("/ks/dead/ks,401,ks/v3");
  Client first(*f.http, identity(url), options);
  REQUIRE(run(f.io, first.list_ec2_credentials(deadline_after(5s))));
  CHECK(first.authentications() == 2);
  const auto* held = first.token_info();
  REQUIRE(held != nullptr);
  Client second(*f.http, identity(url), options);
  REQUIRE(run(f.io, second.authenticate(deadline_after(5s))));
  CHECK(second.authentications() == 0);
  REQUIRE(options.token_cache->find(identity(url)) != nullptr);
  CHECK(&options.token_cache->find(identity(url))->info == held);
}
