// SPDX-License-Identifier: Apache-2.0
// The Manager object on a private dbus-daemon: a real engine and SQLite state behind it, with
// in-memory Keystone, S3 and consumer ports standing in for the adapters.
#include "../engine/memory_ports.hpp"
#include "dbus/api.hpp"
#include "dbus/manager.hpp"
#include "store/store.hpp"
#include "support.hpp"
#include "systemd/command.hpp"
#include "systemd/journal_observer.hpp"

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <sdbus-c++/sdbus-c++.h>

#include <map>
#include <syslog.h>
#include <unistd.h>

namespace asio = boost::asio;
using namespace credrotd;
using namespace std::chrono_literals;
using Dict = std::map<std::string, sdbus::Variant>;
using test::run_task;
using test::run_until;

namespace {

std::unique_ptr<sdbus::IConnection> connect(const test::PrivateBus& bus)
{
  auto conn = dbus::open_bus_at(bus.address());
  REQUIRE(conn);
  return std::move(*conn);
}

struct Finished {
  std::string profile;
  std::int64_t id = 0;
  std::string result;
  std::string reason;
};

// The daemon's side (engine, state, Manager on its own connection) and a client connection
// with a proxy, all on one io_context.
struct Rig {
  asio::io_context io;
  test::PrivateBus bus;
  test::TempDir dir;
  std::unique_ptr<sdbus::IConnection> server_conn = connect(bus);
  std::unique_ptr<sdbus::IConnection> client_conn = connect(bus);
  dbus::BusBridge server{io.get_executor(), *server_conn};
  dbus::BusBridge client{io.get_executor(), *client_conn};
  store::Store state = store::Store::open(dir / "state.db").value();
  systemd::FanOutObserver observers;
  engine::Engine engine{io.get_executor(), state, observers, engine::EngineOptions{2}};
  systemd::Logger logger{systemd::Sink::stderr_, LOG_ERR};
  std::shared_ptr<test::MemoryKeystone> keystone =
      std::make_shared<test::MemoryKeystone>("AKMANAGER");
  int reloads = 0;
  core::Status reload_status;
  std::unique_ptr<dbus::Manager> manager;
  std::unique_ptr<sdbus::IProxy> proxy =
      sdbus::createProxy(*client_conn, dbus::k_bus_name, dbus::k_object_path);
  std::vector<std::pair<std::string, std::int64_t>> started;
  std::vector<Finished> finished;

  Rig()
  {
    engine.set_profiles({profile("backup", true), profile("media", false)});
    dbus::ManagerOptions options;
    options.version = "9.9.9-test";
    options.group = "credrotd-test-absent";
    manager = std::make_unique<dbus::Manager>(
        server, engine, state, logger,
        [this] {
          ++reloads;
          return reload_status;
        },
        options);
    observers.add(manager->observer());
    proxy->uponSignal("RotationStarted")
        .onInterface(dbus::k_interface)
        .call(
            [this](const std::string& p, const std::int64_t& id) { started.emplace_back(p, id); });
    proxy->uponSignal("RotationFinished")
        .onInterface(dbus::k_interface)
        .call([this](const std::string& p, const std::int64_t& id, const std::string& result,
                     const std::string& reason) {
          finished.push_back({p, id, result, reason});
        });
    proxy->finishRegistration();
    server.start();
    client.start();
    REQUIRE(run_task(io, dbus::request_name(server, dbus::k_bus_name, 5s)));
  }

  ~Rig()
  {
    manager.reset(); // before the bridge and the connection
  }

  std::shared_ptr<const engine::ProfileRuntime> profile(const std::string& name, bool enabled)
  {
    auto p = test::memory_profile(name, keystone, std::make_shared<test::MemoryFiles>());
    p->enabled = enabled;
    return p;
  }

  sdbus::MethodCall method(const char* name)
  {
    return proxy->createMethodCall(dbus::k_interface, name);
  }

  core::Result<sdbus::MethodReply> call(sdbus::MethodCall message)
  {
    return run_task(io, dbus::call(client, *proxy, std::move(message), 10s));
  }

  sdbus::Variant property(const char* name)
  {
    auto get = proxy->createMethodCall("org.freedesktop.DBus.Properties", "Get");
    get << std::string(dbus::k_interface) << std::string(name);
    auto reply = call(std::move(get));
    REQUIRE(reply);
    sdbus::Variant value;
    *reply >> value;
    return value;
  }
};

std::string error_of(const core::Result<sdbus::MethodReply>& reply)
{
  REQUIRE_FALSE(reply);
  return reply.error().message;
}

} // namespace

TEST_CASE("ListProfiles and GetProfile describe the engine's profiles", "[manager]")
{
  Rig rig;
  auto reply = rig.call(rig.method("ListProfiles"));
  REQUIRE(reply);
  std::vector<Dict> profiles;
  *reply >> profiles;
  REQUIRE(profiles.size() == 2);
  CHECK(profiles[0].at("name").get<std::string>() == "backup");
  CHECK(profiles[0].at("enabled").get<bool>());
  CHECK(profiles[1].at("name").get<std::string>() == "media");
  CHECK_FALSE(profiles[1].at("enabled").get<bool>());
  CHECK(profiles[0].at("last_rotation").get<std::int64_t>() == 0);
  CHECK(profiles[0].at("current_access").get<std::string>().empty());

  auto get = rig.method("GetProfile");
  get << std::string("media");
  auto one = rig.call(std::move(get));
  REQUIRE(one);
  Dict media;
  *one >> media;
  CHECK(media.at("name").get<std::string>() == "media");
  CHECK(media.at("running_rotation").get<std::int64_t>() == 0);
}

TEST_CASE("an unknown profile is NotFound for GetProfile, History and Rotate", "[manager]")
{
  Rig rig;
  for (const char* name : {"GetProfile", "History", "Rotate"}) {
    INFO(name);
    auto message = rig.method(name);
    message << std::string("nope");
    if (std::string(name) == "History") {
      message << std::uint32_t{0};
    }
    const auto reply = rig.call(std::move(message));
    // The bridge maps only the bus's own error names; credrotd's travel in the message.
    CHECK_THAT(error_of(reply), Catch::Contains("io.github.credrotd.Error.NotFound: "));
  }
}

TEST_CASE("the properties give the version and the profile names", "[manager]")
{
  Rig rig;
  CHECK(rig.property("Version").get<std::string>() == "9.9.9-test");
  CHECK(rig.property("Profiles").get<std::vector<std::string>>() ==
        std::vector<std::string>{"backup", "media"});
  CHECK(rig.property("RunningRotations").get<std::uint32_t>() == 0);
}

TEST_CASE("a rotation asked for by root runs and is announced with signals and in history",
          "[manager]")
{
  REQUIRE(::geteuid() == 0); // root may always rotate
  Rig rig;
  auto rotate = rig.method("Rotate");
  rotate << std::string("backup");
  auto reply = rig.call(std::move(rotate));
  REQUIRE(reply);
  std::int64_t id = 0;
  *reply >> id;
  CHECK(id > 0);

  REQUIRE(run_until(rig.io, [&] { return !rig.finished.empty(); }));
  REQUIRE(rig.started.size() == 1);
  CHECK(rig.started[0] == std::make_pair(std::string("backup"), id));
  CHECK(rig.finished[0].profile == "backup");
  CHECK(rig.finished[0].id == id);
  CHECK(rig.finished[0].result == "succeeded");

  auto history = rig.method("History");
  history << std::string("backup") << std::uint32_t{0};
  auto rows_reply = rig.call(std::move(history));
  REQUIRE(rows_reply);
  std::vector<Dict> rows;
  *rows_reply >> rows;
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].at("id").get<std::int64_t>() == id);
  CHECK(rows[0].at("outcome").get<std::string>() == "succeeded");
  CHECK(rows[0].at("new_access").get<std::string>().rfind("AKMANAGER", 0) == 0);
  CHECK(rows[0].at("error").get<std::string>().empty());
}

TEST_CASE("RotateAll starts every enabled profile and skips the disabled ones", "[manager]")
{
  REQUIRE(::geteuid() == 0);
  Rig rig;
  auto reply = rig.call(rig.method("RotateAll"));
  REQUIRE(reply);
  std::map<std::string, std::int64_t> started;
  std::map<std::string, std::string> not_started;
  *reply >> started >> not_started;
  CHECK(started.size() == 1);
  CHECK(started.count("backup") == 1);
  CHECK(not_started.empty());
  REQUIRE(run_until(rig.io, [&] { return !rig.finished.empty(); }));
}

TEST_CASE("Reload re-reads the configuration and returns its error by name", "[manager]")
{
  REQUIRE(::geteuid() == 0);
  Rig rig;
  CHECK(rig.call(rig.method("Reload")));
  CHECK(rig.reloads == 1);
  rig.reload_status = core::make_error(core::Errc::config, "credrotd.toml:3:1: bad key");
  const auto reply = rig.call(rig.method("Reload"));
  CHECK(rig.reloads == 2);
  CHECK(error_of(reply) == "io.github.credrotd.Manager1.Reload on io.github.credrotd: "
                           "io.github.credrotd.Error.Config: credrotd.toml:3:1: bad key");
}

TEST_CASE("a caller who is neither root nor in the group may not rotate", "[manager]")
{
  REQUIRE(::geteuid() == 0); // the client switches to nobody through run_command()
  Rig rig;
  systemd::CommandSpec spec;
  spec.argv = {"/usr/bin/busctl",
               "--address=" + rig.bus.address(),
               "call",
               dbus::k_bus_name,
               dbus::k_object_path,
               dbus::k_interface,
               "Rotate",
               "s",
               "backup"};
  spec.user = "nobody";
  spec.label = "busctl";
  spec.timeout = 10s;
  const auto status = run_task(rig.io, systemd::run_command(rig.io.get_executor(), spec));
  REQUIRE_FALSE(status);
  CHECK_THAT(status.error().message,
             Catch::Contains("Rotate needs root or membership of group credrotd-test-absent "
                             "(caller uid 65534)"));
  CHECK(rig.started.empty());
  CHECK(rig.reloads == 0);
}
