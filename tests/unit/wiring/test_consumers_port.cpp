// SPDX-License-Identifier: Apache-2.0
// ConsumersAdapter: a profile's files, check commands and unit actions in the engine's terms.
#include "../config/temp_dir.hpp"
#include "result_printer.hpp"
#include "run_awaitable.hpp"
#include "wiring/consumers_port.hpp"

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>

#include <fstream>

using namespace credrotd;
using credrotd::test::TempDir;

namespace {

core::Consumer s3cmd(const std::string& path)
{
  core::Consumer c;
  c.type = core::ConsumerType::s3cmd;
  c.path = path;
  return c;
}

core::Consumer reloading(std::vector<std::string> units, core::ReloadAction action)
{
  core::Consumer c = s3cmd("/tmp/unused/s3cfg");
  c.reload = std::move(units);
  c.reload_action = action;
  return c;
}

} // namespace

TEST_CASE("a consumer file is written and read back through the port", "[wiring]")
{
  TempDir dir;
  const std::string path =
      dir.write("s3cfg", "[default]\naccess_key = AKOLD\nsecret_key = old-secret-0123\n");
  boost::asio::io_context io;
  wiring::ConsumersAdapter port(io.get_executor(), {s3cmd(path)}, nullptr);
  CHECK(port.count() == 1);
  CHECK(port.describe(0) == "s3cmd " + path);
  CHECK(port.path(0) == path);
  REQUIRE(port.read_access(0));
  CHECK(*port.read_access(0) == std::optional<std::string>("AKOLD"));

  const auto report = port.write(0, "AKNEW", core::Secret("new-secret-0123"));
  REQUIRE(report);
  CHECK(report->sha256_before.size() == 64);
  CHECK(report->sha256_after.size() == 64);
  CHECK(report->sha256_before != report->sha256_after);
  CHECK(*port.read_access(0) == std::optional<std::string>("AKNEW"));
}

TEST_CASE("a consumer file that does not exist holds no key", "[wiring]")
{
  TempDir dir;
  boost::asio::io_context io;
  wiring::ConsumersAdapter port(io.get_executor(), {s3cmd(dir / "absent")}, nullptr);
  const auto access = port.read_access(0);
  REQUIRE(access);
  CHECK_FALSE(access->has_value());
}

TEST_CASE("each unit is acted on once with the strongest action asked for it", "[wiring]")
{
  boost::asio::io_context io;
  wiring::ConsumersAdapter port(
      io.get_executor(),
      {reloading({"a.service", "b.service"}, core::ReloadAction::reload),
       reloading({"a.service"}, core::ReloadAction::restart),
       reloading({"b.service", "c.service"}, core::ReloadAction::try_restart)},
      nullptr);
  const auto actions = port.unit_actions();
  REQUIRE(actions.size() == 3);
  CHECK(actions[0].unit == "a.service");
  CHECK(actions[0].verb == systemd::UnitVerb::restart);
  CHECK(actions[1].unit == "b.service");
  CHECK(actions[1].verb == systemd::UnitVerb::try_restart);
  CHECK(actions[2].unit == "c.service");
  CHECK(actions[2].verb == systemd::UnitVerb::try_restart);
}

TEST_CASE("every reload action maps to its systemctl verb", "[wiring]")
{
  const std::pair<core::ReloadAction, systemd::UnitVerb> mapping[] = {
      {core::ReloadAction::reload, systemd::UnitVerb::reload},
      {core::ReloadAction::restart, systemd::UnitVerb::restart},
      {core::ReloadAction::try_restart, systemd::UnitVerb::try_restart},
      {core::ReloadAction::reload_or_restart, systemd::UnitVerb::reload_or_restart},
  };
  boost::asio::io_context io;
  for (const auto& [action, verb] : mapping) {
    wiring::ConsumersAdapter port(io.get_executor(), {reloading({"x.service"}, action)}, nullptr);
    REQUIRE(port.unit_actions().size() == 1);
    CHECK(port.unit_actions()[0].verb == verb);
  }
}

TEST_CASE("reloading a unit without a connection to systemd fails as a configuration error",
          "[wiring]")
{
  boost::asio::io_context io;
  wiring::ConsumersAdapter port(
      io.get_executor(), {reloading({"backup.service"}, core::ReloadAction::reload)}, nullptr);
  const auto status = testfault::run(io, port.reload({}));
  REQUIRE_FALSE(status);
  CHECK(status.error().code == core::Errc::config);
  CHECK(status.error().message ==
        "cannot reload backup.service: no connection to systemd's D-Bus API");
}

TEST_CASE("a consumer without units, check or commands has nothing to run", "[wiring]")
{
  boost::asio::io_context io;
  wiring::ConsumersAdapter port(io.get_executor(), {s3cmd("/tmp/unused/s3cfg")}, nullptr);
  CHECK_FALSE(port.runs_programs());
  CHECK(testfault::run(io, port.check(0, {})));
  CHECK(testfault::run(io, port.reload({})));
}

TEST_CASE("only check and run commands count as the consumer's own programs", "[wiring]")
{
  boost::asio::io_context io;
  auto with_check = s3cmd("/tmp/unused/s3cfg");
  with_check.check = {"/bin/true"};
  auto with_run = s3cmd("/tmp/unused/s3cfg");
  with_run.run = {{"/bin/true"}};
  CHECK_FALSE(wiring::ConsumersAdapter(io.get_executor(),
                                       {reloading({"x.service"}, core::ReloadAction::reload)},
                                       nullptr)
                  .runs_programs());
  CHECK(wiring::ConsumersAdapter(io.get_executor(), {with_check}, nullptr).runs_programs());
  CHECK(wiring::ConsumersAdapter(io.get_executor(), {with_run}, nullptr).runs_programs());
}

TEST_CASE("a failing check names itself and its output has the secret redacted", "[wiring]")
{
  boost::asio::io_context io;
  auto c = s3cmd("/tmp/unused/s3cfg");
  c.check = {"/bin/sh", "-c", "echo denied for s3cret-value; exit 2"};
  wiring::ConsumersAdapter port(io.get_executor(), {c}, nullptr);
  const std::string secret = "s3cret-value";
  const auto status = testfault::run(io, port.check(0, {secret}));
  REQUIRE_FALSE(status);
  CHECK(status.error().message == "check /bin/sh exited with status 2: denied for <redacted>");
}

TEST_CASE("run commands go after the change, each one, and a failure stops the reload", "[wiring]")
{
  TempDir dir;
  boost::asio::io_context io;
  auto c = s3cmd("/tmp/unused/s3cfg");
  c.run = {{"/bin/sh", "-c", "echo one >> " + (dir / "ran")},
           {"/bin/sh", "-c", "exit 4"},
           {"/bin/sh", "-c", "echo three >> " + (dir / "ran")}};
  wiring::ConsumersAdapter port(io.get_executor(), {c}, nullptr);
  const auto status = testfault::run(io, port.reload({}));
  REQUIRE_FALSE(status);
  CHECK(status.error().message == "reload command /bin/sh exited with status 4 (no output)");
  std::ifstream ran(dir / "ran");
  const std::string content((std::istreambuf_iterator<char>(ran)),
                            std::istreambuf_iterator<char>());
  CHECK(content == "one\n");
}
