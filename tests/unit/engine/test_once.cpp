// SPDX-License-Identifier: Apache-2.0
// Tests of `credrotd --once` (engine/once.cpp): which profiles it rotates, what it prints and
// what it reports, on real SQLite state with in-memory Keystone, S3 and files.
#include "../config/temp_dir.hpp"
#include "engine/once.hpp"
#include "memory_ports.hpp"
#include "store/store.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>

#include <sstream>

using namespace credrotd;
namespace asio = boost::asio;

namespace {

struct World {
  test::TempDir dir;
  asio::io_context io;
  store::Store state = store::Store::open(dir / "state.db").value();
  engine::Observer observer;
  engine::Engine engine{io.get_executor(), state, observer, engine::EngineOptions{2}};
  std::shared_ptr<test::MemoryKeystone> keystone = std::make_shared<test::MemoryKeystone>();

  std::shared_ptr<test::MemoryFiles>
  add_profile(std::vector<std::shared_ptr<const engine::ProfileRuntime>>& to,
              const std::string& name)
  {
    auto files = std::make_shared<test::MemoryFiles>(2);
    to.push_back(test::memory_profile(name, keystone, files));
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
