// SPDX-License-Identifier: Apache-2.0
// act_on_units() against a scripted org.freedesktop.systemd1 Manager hosted in the test
// process on a private dbus-daemon (systemd is not PID 1 on the test machines).
#include "support.hpp"
#include "systemd/units.hpp"

#include <boost/asio/steady_timer.hpp>
#include <catch2/catch.hpp>
#include <sdbus-c++/sdbus-c++.h>

#include <cstdint>
#include <list>
#include <map>
#include <set>

namespace asio = boost::asio;
using namespace credrotd;
using namespace credrotd::systemd;
using namespace credrotd::dbus;
using namespace std::chrono_literals;
using test::run_task;
using test::run_until;

namespace {

constexpr const char* k_systemd = "org.freedesktop.systemd1";
constexpr const char* k_path = "/org/freedesktop/systemd1";
constexpr const char* k_manager = "org.freedesktop.systemd1.Manager";

std::unique_ptr<sdbus::IConnection> connect(const test::PrivateBus& bus)
{
  auto conn = open_bus_at(bus.address());
  REQUIRE(conn);
  return std::move(*conn);
}

// When the scripted manager emits JobRemoved for a job.
enum class When { before_reply, after_reply, delayed, never };

struct Script {
  std::string result = "done";
  When when = When::after_reply;
  std::chrono::milliseconds delay{0};
  std::string error_name; // reply with this D-Bus error instead of a job
};

Script job(std::string result, When when, std::chrono::milliseconds delay = {})
{
  Script script;
  script.result = std::move(result);
  script.when = when;
  script.delay = delay;
  return script;
}

// A minimal systemd Manager: the four unit methods and Subscribe, JobRemoved per script.
class FakeSystemd {
public:
  FakeSystemd(asio::io_context& io, const test::PrivateBus& bus)
      : m_io(io), m_conn(connect(bus)), m_bridge(io.get_executor(), *m_conn),
        m_object(sdbus::createObject(*m_conn, k_path))
  {
    for (const char* method :
         {"ReloadUnit", "RestartUnit", "TryRestartUnit", "ReloadOrRestartUnit"}) {
      m_object->registerMethod(method).onInterface(k_manager).implementedAs(
          [this, method](const std::string& unit, const std::string& mode) {
            return start_job(method, unit, mode);
          });
    }
    m_object->registerMethod("Subscribe").onInterface(k_manager).implementedAs([this]() {
      ++subscribes;
      const std::string sender = m_object->getCurrentlyProcessedMessage()->getSender();
      if (!m_subscribed.insert(sender).second) {
        throw sdbus::Error("org.freedesktop.systemd1.AlreadySubscribed",
                           "Client is already subscribed.");
      }
    });
    m_object->registerSignal("JobRemoved")
        .onInterface(k_manager)
        .withParameters<std::uint32_t, sdbus::ObjectPath, std::string, std::string>();
    m_object->finishRegistration();
    m_conn->requestName(k_systemd); // synchronous: test set-up, before the loop runs
    m_bridge.start();
  }

  std::map<std::string, Script> scripts;
  std::vector<std::string> calls; // "RestartUnit a.service replace"
  int subscribes = 0;

private:
  sdbus::ObjectPath start_job(const std::string& method, const std::string& unit,
                              const std::string& mode)
  {
    calls.push_back(method + " " + unit + " " + mode);
    const Script script = scripts[unit];
    if (!script.error_name.empty()) {
      throw sdbus::Error(script.error_name, "scripted error for " + unit);
    }
    const std::uint32_t id = ++m_next_id;
    const sdbus::ObjectPath job(std::string(k_path) + "/job/" + std::to_string(id));
    switch (script.when) {
    case When::before_reply:
      emit(id, job, unit, script.result); // queued ahead of the reply
      break;
    case When::after_reply:
      asio::post(m_io, [this, id, job, unit, script] { emit_later(id, job, unit, script.result); });
      break;
    case When::delayed: {
      auto& timer = m_timers.emplace_back(m_io, script.delay);
      timer.async_wait([this, id, job, unit, script](boost::system::error_code ec) {
        if (!ec) {
          emit_later(id, job, unit, script.result);
        }
      });
      break;
    }
    case When::never:
      break;
    }
    return job;
  }

  void emit(std::uint32_t id, const sdbus::ObjectPath& job, const std::string& unit,
            const std::string& result)
  {
    m_object->emitSignal("JobRemoved").onInterface(k_manager).withArguments(id, job, unit, result);
  }

  void emit_later(std::uint32_t id, const sdbus::ObjectPath& job, const std::string& unit,
                  const std::string& result)
  {
    emit(id, job, unit, result);
    m_bridge.wake(); // outside a D-Bus callback
  }

  asio::io_context& m_io;
  std::unique_ptr<sdbus::IConnection> m_conn;
  BusBridge m_bridge;
  std::unique_ptr<sdbus::IObject> m_object;
  std::list<asio::steady_timer> m_timers;
  std::set<std::string> m_subscribed;
  std::uint32_t m_next_id = 0;
};

// The daemon's side: its own connection, bridge and SystemdUnits.
struct Client {
  explicit Client(asio::io_context& io, const test::PrivateBus& bus)
      : conn(connect(bus)), bridge(io.get_executor(), *conn)
  {
    bridge.start();
    auto created = SystemdUnits::create(bridge);
    REQUIRE(created);
    units = std::move(*created);
  }
  std::unique_ptr<sdbus::IConnection> conn;
  BusBridge bridge;
  std::unique_ptr<SystemdUnits> units;
};

struct World {
  asio::io_context io;
  test::PrivateBus bus;
  Client client{io, bus};

  core::Status act(std::vector<UnitAction> actions, std::chrono::milliseconds timeout = 5s)
  {
    return run_task(io, act_on_units(*client.units, std::move(actions), timeout));
  }
};

} // namespace

TEST_CASE("unit names are checked by systemd's rules", "[units]")
{
  for (const char* good : {"nginx.service", "rclone@backup.service", "a.socket", "x-y_z:1.timer",
                           "dev-sda1.device", "foo@bar@baz.service", "sys\\x2dfs.mount",
                           "user.slice", "session-1.scope", "a.b.c.target"}) {
    INFO(good);
    CHECK(validate_unit_name(good));
  }
  for (const char* bad : {"", "nginx", "nginx.", ".service", "nginx.bogus", "foo@.service",
                          "@foo.service", "../etc/passwd.service", "a b.service", "a/b.service",
                          "ünit.service", "a;reboot.service"}) {
    INFO(bad);
    const auto status = validate_unit_name(bad);
    REQUIRE_FALSE(status);
    CHECK(status.error().code == core::Errc::config);
  }
  CHECK_FALSE(validate_unit_name(std::string(250, 'a') + ".service"));
  CHECK(validate_unit_name(std::string(247, 'a') + ".service"));
  CHECK_THAT(validate_unit_name("foo@.service").error().message, Catch::Contains("template"));
}

TEST_CASE("unit verbs use the configuration's spelling", "[units]")
{
  for (const auto verb :
       {UnitVerb::reload, UnitVerb::restart, UnitVerb::try_restart, UnitVerb::reload_or_restart}) {
    CHECK(parse_unit_verb(to_string(verb)) == verb);
  }
  CHECK(to_string(UnitVerb::try_restart) == "try-restart");
  CHECK_FALSE(parse_unit_verb("stop"));
  CHECK_FALSE(parse_unit_verb("Restart"));
}

TEST_CASE("a unit listed several times is acted on once, with the strongest verb", "[units]")
{
  const auto merged = merge_unit_actions({
      {"b.service", UnitVerb::reload},
      {"a.service", UnitVerb::reload},
      {"b.service", UnitVerb::restart},
      {"c.service", UnitVerb::reload_or_restart},
      {"c.service", UnitVerb::try_restart},
      {"a.service", UnitVerb::reload},
      {"d.service", UnitVerb::try_restart},
      {"d.service", UnitVerb::reload_or_restart},
  });
  REQUIRE(merged.size() == 4);
  CHECK(merged[0].unit == "b.service");
  CHECK(merged[0].verb == UnitVerb::restart);
  CHECK(merged[1].unit == "a.service");
  CHECK(merged[1].verb == UnitVerb::reload);
  CHECK(merged[2].unit == "c.service");
  CHECK(merged[2].verb == UnitVerb::try_restart);
  CHECK(merged[3].unit == "d.service");
  CHECK(merged[3].verb == UnitVerb::try_restart);
}

TEST_CASE("each unit is acted on once, in order, with mode replace, and done is success", "[units]")
{
  World world;
  FakeSystemd systemd(world.io, world.bus);
  const auto status = world.act({
      {"a.service", UnitVerb::reload},
      {"b.service", UnitVerb::restart},
      {"a.service", UnitVerb::reload},
      {"c.service", UnitVerb::try_restart},
      {"d@x.service", UnitVerb::reload_or_restart},
      {"b.service", UnitVerb::restart},
  });
  INFO((status ? std::string() : status.error().describe()));
  CHECK(status);
  CHECK(systemd.calls == std::vector<std::string>{
                             "ReloadUnit a.service replace",
                             "RestartUnit b.service replace",
                             "TryRestartUnit c.service replace",
                             "ReloadOrRestartUnit d@x.service replace",
                         });
  CHECK(systemd.subscribes == 1);
}

TEST_CASE("a job that finishes before its reply arrives is still seen", "[units]")
{
  World world;
  FakeSystemd systemd(world.io, world.bus);
  systemd.scripts["fast.service"] = job("done", When::before_reply);
  systemd.scripts["fast-fail.service"] = job("failed", When::before_reply);
  CHECK(world.act({{"fast.service", UnitVerb::restart}}, 2s));
  const auto failed = world.act({{"fast-fail.service", UnitVerb::restart}}, 2s);
  REQUIRE_FALSE(failed);
  CHECK(failed.error().code == core::Errc::protocol);
}

TEST_CASE("a job that finishes later is waited for", "[units]")
{
  World world;
  FakeSystemd systemd(world.io, world.bus);
  systemd.scripts["slow.service"] = job("done", When::delayed, 300ms);
  const auto start = std::chrono::steady_clock::now();
  CHECK(world.act({{"slow.service", UnitVerb::reload}}));
  CHECK(std::chrono::steady_clock::now() - start >= 300ms);
}

TEST_CASE("a failed job is an error naming the unit and the result", "[units]")
{
  World world;
  FakeSystemd systemd(world.io, world.bus);
  systemd.scripts["b.service"] = job("failed", When::after_reply);
  const auto status = world.act({{"a.service", UnitVerb::reload},
                                 {"b.service", UnitVerb::restart},
                                 {"c.service", UnitVerb::reload}});
  REQUIRE_FALSE(status);
  CHECK(status.error().code == core::Errc::protocol);
  CHECK(status.error().message == "restart of b.service failed: systemd job result 'failed' "
                                  "(see journalctl -u b.service)");
  // It stops at the first failure: the engine rolls back.
  CHECK(systemd.calls ==
        std::vector<std::string>{"ReloadUnit a.service replace", "RestartUnit b.service replace"});
}

TEST_CASE("job results other than done map to their codes", "[units]")
{
  World world;
  FakeSystemd systemd(world.io, world.bus);
  const std::vector<std::pair<std::string, core::Errc>> table = {
      {"timeout", core::Errc::timeout},      {"canceled", core::Errc::transient},
      {"dependency", core::Errc::protocol},  {"skipped", core::Errc::protocol},
      {"unsupported", core::Errc::protocol},
  };
  for (const auto& [result, code] : table) {
    INFO(result);
    const std::string unit = "r-" + result + ".service";
    systemd.scripts[unit] = job(result, When::after_reply);
    const auto status = world.act({{unit, UnitVerb::restart}});
    REQUIRE_FALSE(status);
    CHECK(status.error().code == code);
    CHECK_THAT(status.error().message, Catch::Contains(unit) && Catch::Contains(result));
  }
}

TEST_CASE("a job that never finishes times out", "[units]")
{
  World world;
  FakeSystemd systemd(world.io, world.bus);
  systemd.scripts["stuck.service"] = job("done", When::never);
  const auto start = std::chrono::steady_clock::now();
  const auto status = world.act({{"stuck.service", UnitVerb::restart}}, 400ms);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  REQUIRE_FALSE(status);
  CHECK(status.error().code == core::Errc::timeout);
  CHECK(status.error().message == "restart of stuck.service did not finish within 400 ms "
                                  "(systemd job /org/freedesktop/systemd1/job/1 is still queued "
                                  "or running)");
  CHECK(elapsed >= 390ms);
  CHECK(elapsed < 2s);
}

TEST_CASE("the timeout covers the whole list", "[units]")
{
  World world;
  FakeSystemd systemd(world.io, world.bus);
  systemd.scripts["a.service"] = job("done", When::delayed, 250ms);
  systemd.scripts["b.service"] = job("done", When::delayed, 250ms);
  const auto status =
      world.act({{"a.service", UnitVerb::reload}, {"b.service", UnitVerb::reload}}, 400ms);
  REQUIRE_FALSE(status);
  CHECK(status.error().code == core::Errc::timeout);
  CHECK_THAT(status.error().message, Catch::StartsWith("reload of b.service"));
}

TEST_CASE("systemd missing from the bus is a transient error", "[units]")
{
  World world;
  const auto status = world.act({{"a.service", UnitVerb::restart}});
  REQUIRE_FALSE(status);
  CHECK(status.error().code == core::Errc::transient);
  CHECK_THAT(status.error().message, Catch::Contains("org.freedesktop.DBus.Error.ServiceUnknown"));
}

TEST_CASE("an invalid unit name is refused before any call", "[units]")
{
  World world;
  FakeSystemd systemd(world.io, world.bus);
  const auto status =
      world.act({{"good.service", UnitVerb::restart}, {"../../bad.service", UnitVerb::restart}});
  REQUIRE_FALSE(status);
  CHECK(status.error().code == core::Errc::config);
  CHECK_THAT(status.error().message, Catch::Contains("../../bad.service"));
  CHECK(systemd.calls.empty());
  CHECK(systemd.subscribes == 0);
}

TEST_CASE("an empty list succeeds without any call", "[units]")
{
  World world;
  FakeSystemd systemd(world.io, world.bus);
  CHECK(world.act({}));
  CHECK(systemd.subscribes == 0);
}

TEST_CASE("error replies from systemd keep their meaning", "[units]")
{
  World world;
  FakeSystemd systemd(world.io, world.bus);
  systemd.scripts["missing.service"].error_name = "org.freedesktop.systemd1.NoSuchUnit";
  systemd.scripts["denied.service"].error_name = "org.freedesktop.DBus.Error.AccessDenied";
  systemd.scripts["masked.service"].error_name = "org.freedesktop.systemd1.UnitMasked";

  const auto missing = world.act({{"missing.service", UnitVerb::restart}});
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == core::Errc::not_found);
  CHECK_THAT(missing.error().message, Catch::StartsWith("restart of missing.service failed: ") &&
                                          Catch::Contains("NoSuchUnit"));
  const auto denied = world.act({{"denied.service", UnitVerb::reload}});
  REQUIRE_FALSE(denied);
  CHECK(denied.error().code == core::Errc::forbidden);
  const auto masked = world.act({{"masked.service", UnitVerb::reload}});
  REQUIRE_FALSE(masked);
  CHECK(masked.error().code == core::Errc::protocol);
  CHECK_THAT(masked.error().message, Catch::Contains("UnitMasked"));
}

TEST_CASE("Subscribe is sent on each call and AlreadySubscribed is accepted", "[units]")
{
  World world;
  FakeSystemd systemd(world.io, world.bus);
  CHECK(world.act({{"a.service", UnitVerb::reload}}));
  CHECK(world.act({{"a.service", UnitVerb::reload}}));
  CHECK(systemd.subscribes == 2);
  CHECK(systemd.calls.size() == 2);
}

TEST_CASE("a JobRemoved from another sender does not complete a job", "[units]")
{
  World world;
  FakeSystemd systemd(world.io, world.bus);
  systemd.scripts["victim.service"] = job("failed", When::delayed, 400ms);

  // Another local process emits a "done" for the job it can guess, on the same path and
  // interface, before systemd reports the real result.
  auto spoof_conn = connect(world.bus);
  BusBridge spoof_bridge(world.io.get_executor(), *spoof_conn);
  spoof_bridge.start();
  auto spoof = sdbus::createObject(*spoof_conn, k_path);
  spoof->registerSignal("JobRemoved")
      .onInterface(k_manager)
      .withParameters<std::uint32_t, sdbus::ObjectPath, std::string, std::string>();
  spoof->finishRegistration();
  std::vector<std::unique_ptr<asio::steady_timer>> timers;
  for (const auto at : {0ms, 100ms, 200ms}) {
    auto& timer = timers.emplace_back(std::make_unique<asio::steady_timer>(world.io, at));
    timer->async_wait([&](boost::system::error_code ec) {
      REQUIRE(!ec);
      spoof->emitSignal("JobRemoved")
          .onInterface(k_manager)
          .withArguments(std::uint32_t{1}, sdbus::ObjectPath("/org/freedesktop/systemd1/job/1"),
                         std::string("victim.service"), std::string("done"));
      spoof_bridge.wake();
    });
  }

  const auto status = world.act({{"victim.service", UnitVerb::restart}});
  REQUIRE_FALSE(status);
  CHECK_THAT(status.error().message, Catch::Contains("'failed'"));
}

TEST_CASE("concurrent calls each wait for their own job", "[units]")
{
  World world;
  FakeSystemd systemd(world.io, world.bus);
  systemd.scripts["first.service"] = job("failed", When::delayed, 300ms);
  systemd.scripts["second.service"] = job("done", When::delayed, 50ms);
  test::Outcome<core::Status> first;
  test::Outcome<core::Status> second;
  test::spawn(world.io.get_executor(),
              act_on_units(*world.client.units, {{"first.service", UnitVerb::restart}}, 5s), first);
  test::spawn(world.io.get_executor(),
              act_on_units(*world.client.units, {{"second.service", UnitVerb::restart}}, 5s),
              second);
  REQUIRE(run_until(world.io, [&] { return first.done && second.done; }));
  REQUIRE(first.value);
  REQUIRE(second.value);
  CHECK_FALSE(*first.value);
  CHECK(*second.value);
}
