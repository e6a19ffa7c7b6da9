// SPDX-License-Identifier: Apache-2.0
// KeystoneAdapter: Keystone's answers in the engine's terms, against the fault server's small
// Keystone (tests/fault/fault_server.py, loopback only).
#include "fault_process.hpp"
#include "result_printer.hpp"
#include "run_awaitable.hpp"
#include "wiring/keystone_port.hpp"

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>

#include <algorithm>

using namespace credrotd;
using namespace std::chrono_literals;
using testfault::FaultServer;
using testfault::run;

namespace {

// A KeystoneAdapter for the user u-rotator of project p-demo on the fault server's Keystone
// (its state is per `key`).
struct Rig {
  explicit Rig(const std::string& key)
  {
    auto created = net::HttpClient::create(io.get_executor(), {});
    REQUIRE(created);
    http.emplace(std::move(*created));
    core::CloudAuth auth;
    auth.name = "fault";
    auth.source = "test_keystone_port.cpp";
    auth.auth_type = core::AuthType::password;
    auth.auth_url = server.url("/ks/" + key + "/ks/v3");
    auth.username = "rotator";
    auth.user_domain_name = "Default";
    auth.project_name = "demo";
    auth.password = core::Secret("pw-secret-port");
    adapter.emplace(std::make_shared<keystone::Client>(*http, std::move(auth)), 10s);
  }

  FaultServer server;
  boost::asio::io_context io;
  std::optional<net::HttpClient> http;
  std::optional<wiring::KeystoneAdapter> adapter;
};

} // namespace

TEST_CASE("the identity is the token's user and project", "[wiring]")
{
  Rig rig("identity");
  const auto identity = run(rig.io, rig.adapter->identity());
  REQUIRE(identity);
  CHECK(identity->user_id == "u-rotator");
  CHECK(identity->project_id == "p-demo");
}

TEST_CASE("listed EC2 credentials become key records without secrets", "[wiring]")
{
  Rig rig("list");
  const auto keys = run(rig.io, rig.adapter->list_keys());
  REQUIRE(keys);
  REQUIRE(keys->size() == 1);
  CHECK(keys->at(0).access == "0123456789abcdef0123456789abcdef");
  CHECK(keys->at(0).user_id == "u-rotator");
  CHECK(keys->at(0).project_id == "p-demo");
}

TEST_CASE("a created key is listed and creating it again is a conflict", "[wiring]")
{
  Rig rig("create");
  auto key = rig.adapter->generate_key();
  CHECK(key.access.size() == 32);
  CHECK(std::all_of(key.access.begin(), key.access.end(),
                    [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }));
  CHECK_FALSE(key.secret.empty());
  const std::string access = key.access;
  REQUIRE(run(rig.io, rig.adapter->create_key(access, key.secret.clone())));
  const auto keys = run(rig.io, rig.adapter->list_keys());
  REQUIRE(keys);
  CHECK(std::any_of(keys->begin(), keys->end(),
                    [&](const engine::KeyRecord& k) { return k.access == access; }));
  const auto again = run(rig.io, rig.adapter->create_key(access, std::move(key.secret)));
  REQUIRE_FALSE(again);
  CHECK(again.error().code == core::Errc::conflict);
}

TEST_CASE("two generated keys differ", "[wiring]")
{
  Rig rig("generate");
  const auto a = rig.adapter->generate_key();
  const auto b = rig.adapter->generate_key();
  CHECK(a.access != b.access);
  CHECK_FALSE(a.secret == b.secret);
}

TEST_CASE("a key Keystone does not know is no record, not an error", "[wiring]")
{
  Rig rig("find");
  const auto found = run(rig.io, rig.adapter->find_key("ffffffffffffffffffffffffffffffff"));
  REQUIRE(found);
  CHECK_FALSE(found->has_value());
  const auto secret = run(rig.io, rig.adapter->secret_of("ffffffffffffffffffffffffffffffff"));
  REQUIRE_FALSE(secret);
  CHECK(secret.error().code == core::Errc::not_found);
}
