// SPDX-License-Identifier: Apache-2.0
// Tests of `credrotd --once` (engine/once.cpp): which profiles it rotates, what it prints and
// what it reports, on real SQLite state with in-memory Keystone, S3 and files.
#include "engine/once.hpp"
#include "store/store.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>

#include <filesystem>
#include <map>
#include <random>
#include <sstream>

using namespace credrotd;
using namespace std::chrono_literals;
namespace asio = boost::asio;
using core::Errc;

namespace {

struct TempDir {
  std::filesystem::path path = std::filesystem::temp_directory_path() /
                               ("credrotd-once-" + std::to_string(std::random_device{}()));
  TempDir() { std::filesystem::create_directories(path); }
  ~TempDir() { std::filesystem::remove_all(path); }
};

// Keystone as a map of access id -> secret, all in one project of one user.
struct Keystone final : engine::KeystonePort {
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
    if (keys.count(access) == 0) {
      co_return core::make_error(Errc::not_found, "no key " + access);
    }
    co_return core::Secret(keys[access]);
  }
  engine::Task<core::Status> create_key(std::string access, core::Secret secret) override
  {
    keys[access] = std::string(secret.reveal());
    co_return core::Status{};
  }
  engine::Task<core::Result<engine::NewKey>> create_key_os_ec2() override
  {
    co_return core::make_error(Errc::forbidden, "not in this test");
  }
  engine::Task<core::Status> delete_key(std::string access) override
  {
    keys.erase(access);
    co_return core::Status{};
  }
  engine::NewKey generate_key() override
  {
    ++counter;
    return {"AKNEW" + std::to_string(counter), core::Secret("SECRET-" + std::to_string(counter))};
  }
};

// S3 accepts every key Keystone holds.
struct S3 final : engine::S3Port {
  explicit S3(Keystone& keystone) : m_keystone(keystone) {}
  engine::Task<engine::VerifyReport> verify(std::string access, core::Secret /*secret*/,
                                            engine::Expect /*expect*/) override
  {
    co_return engine::VerifyReport{m_keystone.keys.count(access) != 0
                                       ? core::VerifyResult::accepted
                                       : core::VerifyResult::rejected,
                                   "ListBuckets"};
  }
  Keystone& m_keystone;
};

struct Files final : engine::ConsumersPort {
  std::vector<std::optional<std::string>> access;
  explicit Files(std::size_t n) : access(n) {}
  std::size_t count() const override { return access.size(); }
  std::string describe(std::size_t i) const override { return "file" + std::to_string(i); }
  std::string path(std::size_t i) const override { return "/fake/" + std::to_string(i); }
  core::Result<std::optional<std::string>> read_access(std::size_t i) override { return access[i]; }
  core::Result<engine::WriteReport> write(std::size_t i, const std::string& key,
                                          const core::Secret& /*secret*/) override
  {
    access[i] = key;
    return engine::WriteReport{"before", "after"};
  }
  engine::Task<core::Status> check(std::size_t, engine::Redactions) override
  {
    co_return core::Status{};
  }
  engine::Task<core::Status> reload(engine::Redactions) override { co_return core::Status{}; }
};

struct World {
  TempDir dir;
  asio::io_context io;
  store::Store state = store::Store::open(dir.path / "state.db").value();
  engine::Observer observer;
  engine::Engine engine{io.get_executor(), state, observer, engine::EngineOptions{2}};
  std::shared_ptr<Keystone> keystone = std::make_shared<Keystone>();

  std::shared_ptr<Files> add_profile(std::vector<std::shared_ptr<const engine::ProfileRuntime>>& to,
                                     const std::string& name)
  {
    auto files = std::make_shared<Files>(2);
    auto p = std::make_shared<engine::ProfileRuntime>();
    p->name = name;
    p->rotation.verify_timeout = 0ms;
    p->rotation.grace = 0ms;
    p->confirm_retire = false;
    p->keystone = keystone;
    p->s3 = std::make_shared<S3>(*keystone);
    p->consumers = files;
    to.push_back(p);
    return files;
  }

  // Runs --once for `profiles`; returns the report, the printed text in `printed`.
  engine::OnceReport once(std::vector<std::string> profiles, std::string& printed)
  {
    std::ostringstream out;
    std::optional<engine::OnceReport> report;
    asio::co_spawn(io, engine::run_once(&engine, &state, std::move(profiles), &out),
                   [&](std::exception_ptr e, engine::OnceReport r) {
                     if (e) {
                       std::rethrow_exception(e);
                     }
                     report = r;
                   });
    io.run();
    io.restart();
    printed = out.str();
    REQUIRE(report);
    return *report;
  }
};

} // namespace

TEST_CASE("once rotates every profile that never rotated and prints each outcome", "[engine]")
{
  World w;
  std::vector<std::shared_ptr<const engine::ProfileRuntime>> profiles;
  auto files = w.add_profile(profiles, "a");
  w.add_profile(profiles, "b");
  w.engine.set_profiles(profiles);
  std::string printed;
  const auto report = w.once({}, printed);
  CHECK(report.result == engine::OnceResult::done);
  // Each plan draws two keys from generate_key(): AKNEW1 and AKNEW3 are the ones created.
  CHECK(printed == "a: rotation 1 succeeded: (no key) -> AKNEW1 (no old key to delete)\n"
                   "b: rotation 2 succeeded: (no key) -> AKNEW3 (no old key to delete)\n");
  CHECK(files->access[0] == "AKNEW1");

  SECTION("and then finds nothing due")
  {
    CHECK(w.once({}, printed).result == engine::OnceResult::done);
    CHECK(printed == "nothing due\n");
  }
  SECTION("but rotates a named profile even when it is not due")
  {
    CHECK(w.once({"b"}, printed).result == engine::OnceResult::done);
    CHECK(printed == "b: rotation 3 succeeded: AKNEW3 -> AKNEW5 (old key AKNEW3 deleted)\n");
  }
}

TEST_CASE("once with a profile that is not configured starts nothing", "[engine]")
{
  World w;
  std::vector<std::shared_ptr<const engine::ProfileRuntime>> profiles;
  w.add_profile(profiles, "a");
  w.engine.set_profiles(profiles);
  std::string printed;
  const auto report = w.once({"a", "nope"}, printed);
  CHECK(report.result == engine::OnceResult::unknown_profile);
  CHECK(report.error == "no profile named nope");
  CHECK(printed.empty());
  CHECK(w.state.history("a", 10).value().empty());
}

TEST_CASE("once reports a rotation that cannot start as failed", "[engine]")
{
  World w;
  std::vector<std::shared_ptr<const engine::ProfileRuntime>> profiles;
  auto files = w.add_profile(profiles, "a");
  files->access = {"AKONE", "AKTWO"}; // consumers that disagree stop the plan
  w.engine.set_profiles(profiles);
  std::string printed;
  CHECK(w.once({}, printed).result == engine::OnceResult::rotation_failed);
  CHECK_THAT(printed, Catch::StartsWith("a: not rotated: the consumers of profile a "));
  CHECK_THAT(printed, Catch::EndsWith("\nnothing due\n"));
}

TEST_CASE("once with no profile configured has nothing due", "[engine]")
{
  World w;
  std::string printed;
  CHECK(w.once({}, printed).result == engine::OnceResult::done);
  CHECK(printed == "nothing due\n");
}
