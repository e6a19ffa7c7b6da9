// SPDX-License-Identifier: Apache-2.0
// In-memory engine ports for unit tests (unit_engine's once and dry-run tests, unit_dbus's
// Manager tests): Keystone as a map of access id -> secret, S3 that accepts exactly those keys,
// and consumer files that hold an access id each. test_engine.cpp has its own fakes with fault
// injection.
#pragma once

#include "engine/engine.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace credrotd::test {

// Keystone as a map of access id -> secret, all of user u1 in project p1. New keys are
// `prefix`1, `prefix`2, ... with secrets SECRET-1, SECRET-2, ...
struct MemoryKeystone final : engine::KeystonePort {
  explicit MemoryKeystone(std::string key_prefix = "AKNEW") : prefix(std::move(key_prefix)) {}
  std::string prefix;
  std::map<std::string, std::string> keys;
  int counter = 0;

  engine::Task<core::Result<engine::Identity>> identity() override
  {
    co_return engine::Identity{"u1", "p1"};
  }
  engine::Task<core::Result<std::vector<engine::KeyRecord>>> list_keys() override
  {
    std::vector<engine::KeyRecord> out;
    for (const auto& [access, secret] : keys) {
      out.push_back({access, "u1", "p1"});
    }
    co_return out;
  }
  engine::Task<core::Result<core::Secret>> secret_of(std::string access) override
  {
    const auto it = keys.find(access);
    if (it == keys.end()) {
      co_return core::make_error(core::Errc::not_found, "no key " + access);
    }
    co_return core::Secret(it->second);
  }
  engine::Task<core::Status> create_key(std::string access, core::Secret secret) override
  {
    keys[access] = std::string(secret.reveal());
    co_return core::Status{};
  }
  engine::Task<core::Result<engine::NewKey>> create_key_os_ec2() override
  {
    auto key = generate_key();
    keys[key.access] = std::string(key.secret.reveal());
    co_return std::move(key);
  }
  engine::Task<core::Status> delete_key(std::string access) override
  {
    if (keys.erase(access) == 0) {
      co_return core::make_error(core::Errc::not_found, "gone");
    }
    co_return core::Status{};
  }
  engine::NewKey generate_key() override
  {
    ++counter;
    return {prefix + std::to_string(counter), core::Secret("SECRET-" + std::to_string(counter))};
  }
};

// S3 accepts exactly the keys (access id and secret) Keystone holds.
struct MemoryS3 final : engine::S3Port {
  explicit MemoryS3(MemoryKeystone& k) : keystone(k) {}
  engine::Task<engine::VerifyReport> verify(std::string access, core::Secret secret,
                                            engine::Expect) override
  {
    const auto it = keystone.keys.find(access);
    const bool ok = it != keystone.keys.end() && secret.reveal() == it->second;
    co_return engine::VerifyReport{ok ? core::VerifyResult::accepted : core::VerifyResult::rejected,
                                   ok ? "200" : "403 InvalidAccessKeyId"};
  }
  MemoryKeystone& keystone;
};

// s3cmd files `path_prefix`0, `path_prefix`1, ... holding the access ids in `access`
// (nullopt: no key yet); those in `unreadable` fail to be read with their error. No check or
// run command. With `writable` false a write fails the test.
struct MemoryFiles final : engine::ConsumersPort {
  explicit MemoryFiles(std::size_t n = 1, std::string prefix = "/memory/s3cfg")
      : access(n), path_prefix(std::move(prefix))
  {}
  std::vector<std::optional<std::string>> access;
  std::map<std::size_t, core::Error> unreadable;
  std::string path_prefix;
  bool writable = true;

  std::size_t count() const override { return access.size(); }
  std::string describe(std::size_t i) const override { return "s3cmd " + path(i); }
  std::string path(std::size_t i) const override { return path_prefix + std::to_string(i); }
  core::Result<std::optional<std::string>> read_access(std::size_t i) override
  {
    if (const auto it = unreadable.find(i); it != unreadable.end()) {
      return it->second;
    }
    return access[i];
  }
  core::Result<engine::WriteReport> write(std::size_t i, const std::string& key,
                                          const core::Secret&) override
  {
    if (!writable) {
      FAIL("this test writes no file");
    }
    access[i] = key;
    return engine::WriteReport{"before", "after"};
  }
  engine::Task<core::Status> check(std::size_t, engine::Redactions) override
  {
    co_return core::Status{};
  }
  engine::Task<core::Status> reload(engine::Redactions) override { co_return core::Status{}; }
  bool runs_programs() const override { return false; }
};

// A profile on these ports that rotates without waiting: no verification timeout, no grace,
// the old key retired without a confirmation.
inline std::shared_ptr<engine::ProfileRuntime>
memory_profile(const std::string& name, const std::shared_ptr<MemoryKeystone>& keystone,
               std::shared_ptr<engine::ConsumersPort> consumers)
{
  using namespace std::chrono_literals;
  auto p = std::make_shared<engine::ProfileRuntime>();
  p->name = name;
  p->rotation.verify_timeout = 0ms;
  p->rotation.grace = 0ms;
  p->confirm_retire = false;
  p->keystone = keystone;
  p->s3 = std::make_shared<MemoryS3>(*keystone);
  p->consumers = std::move(consumers);
  return p;
}

} // namespace credrotd::test
