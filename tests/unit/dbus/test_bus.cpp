// SPDX-License-Identifier: Apache-2.0
// The sd-bus/Asio bridge and the asynchronous call helpers against a private dbus-daemon.
#include "dbus/bus.hpp"
#include "support.hpp"
#include "systemd/command.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/steady_timer.hpp>
#include <catch2/catch.hpp>
#include <sdbus-c++/sdbus-c++.h>

#include <cstdint>
#include <cstdlib>
#include <unistd.h>

namespace asio = boost::asio;
using namespace credrotd;
using namespace credrotd::dbus;
using namespace credrotd::systemd;
using namespace std::chrono_literals;
using test::run_task;
using test::run_until;

namespace {

constexpr const char* k_name = "io.github.credrotd.Test";
constexpr const char* k_path = "/io/github/credrotd/Test";
constexpr const char* k_iface = "io.github.credrotd.Test1";

std::unique_ptr<sdbus::IConnection> connect(const test::PrivateBus& bus)
{
  auto conn = open_bus_at(bus.address());
  REQUIRE(conn);
  return std::move(*conn);
}

struct Rethrow {
  void operator()(std::exception_ptr error) const
  {
    if (error) {
      std::rethrow_exception(error);
    }
  }
};

// Answers WhoAmI: the uid of the caller, learned through caller_uid().
asio::awaitable<void> answer_uid(BusBridge& bridge, std::string sender,
                                 sdbus::Result<std::uint32_t> result, std::int64_t* seen)
{
  auto uid = co_await caller_uid(bridge, std::move(sender), 5s);
  if (uid) {
    *seen = *uid;
    result.returnResults(static_cast<std::uint32_t>(*uid));
  } else {
    *seen = -2;
    result.returnError(sdbus::Error("org.freedesktop.DBus.Error.Failed", uid.error().describe()));
  }
  bridge.wake(); // the reply was queued outside a D-Bus callback
}

// A server connection exporting a test object and a client connection with a proxy to it,
// both driven by bridges on one io_context.
struct BusPair {
  asio::io_context io;
  test::PrivateBus bus;
  std::unique_ptr<sdbus::IConnection> server_conn = connect(bus);
  std::unique_ptr<sdbus::IConnection> client_conn = connect(bus);
  BusBridge server{io.get_executor(), *server_conn};
  BusBridge client{io.get_executor(), *client_conn};
  std::unique_ptr<sdbus::IObject> object = sdbus::createObject(*server_conn, k_path);
  std::unique_ptr<sdbus::IProxy> proxy = sdbus::createProxy(*client_conn, k_name, k_path);
  std::vector<sdbus::Result<>> held; // Never: calls that are not answered
  std::int64_t last_uid = -1;

  BusPair()
  {
    object->registerMethod("Multiply")
        .onInterface(k_iface)
        .implementedAs([](std::int32_t a, std::int32_t b) { return a * b; });
    object->registerMethod("Fail").onInterface(k_iface).implementedAs(
        [](const std::string& name, const std::string& message) {
          throw sdbus::Error(name, message);
        });
    object->registerMethod("Never").onInterface(k_iface).implementedAs(
        [this](sdbus::Result<>&& result) { held.push_back(std::move(result)); });
    object->registerMethod("WhoAmI").onInterface(k_iface).implementedAs(
        [this](sdbus::Result<std::uint32_t>&& result) {
          std::string sender = object->getCurrentlyProcessedMessage()->getSender();
          asio::co_spawn(io, answer_uid(server, std::move(sender), std::move(result), &last_uid),
                         Rethrow{});
        });
    object->registerSignal("Tick").onInterface(k_iface).withParameters<std::int32_t>();
    object->finishRegistration();
    server.start();
    client.start();
    auto named = run_task(io, request_name(server, k_name, 5s));
    REQUIRE(named);
  }

  sdbus::MethodCall method(const char* name) { return proxy->createMethodCall(k_iface, name); }
};

} // namespace

TEST_CASE("D-Bus error names map onto the core error vocabulary", "[bus]")
{
  using core::Errc;
  const std::vector<std::pair<std::string, Errc>> table = {
      {"org.freedesktop.DBus.Error.NoReply", Errc::timeout},
      {"org.freedesktop.DBus.Error.Timeout", Errc::timeout},
      {"org.freedesktop.DBus.Error.TimedOut", Errc::timeout},
      {"org.freedesktop.DBus.Error.ServiceUnknown", Errc::transient},
      {"org.freedesktop.DBus.Error.NameHasNoOwner", Errc::transient},
      {"org.freedesktop.DBus.Error.Disconnected", Errc::transient},
      {"org.freedesktop.DBus.Error.AccessDenied", Errc::forbidden},
      {"org.freedesktop.DBus.Error.InteractiveAuthorizationRequired", Errc::forbidden},
      {"org.freedesktop.DBus.Error.UnknownMethod", Errc::not_found},
      {"org.freedesktop.DBus.Error.UnknownObject", Errc::not_found},
      {"org.freedesktop.DBus.Error.UnknownInterface", Errc::not_found},
      {"org.freedesktop.systemd1.NoSuchUnit", Errc::not_found},
      {"org.freedesktop.systemd1.AlreadySubscribed", Errc::conflict},
      {"org.freedesktop.DBus.Error.Failed", Errc::protocol},
      {"org.freedesktop.DBus.Error.InvalidArgs", Errc::protocol},
      {"com.example.Whatever", Errc::protocol},
      {"", Errc::protocol},
  };
  for (const auto& [name, code] : table) {
    INFO(name);
    CHECK(errc_from_dbus_error(name) == code);
  }
  const auto error = from_dbus_error("X.Y on z", "org.freedesktop.DBus.Error.AccessDenied", "no");
  CHECK(error.code == Errc::forbidden);
  CHECK(error.message == "X.Y on z: org.freedesktop.DBus.Error.AccessDenied: no");
}

TEST_CASE("a method call round trip runs on the Asio loop", "[bus]")
{
  BusPair pair;
  auto message = pair.method("Multiply");
  message << std::int32_t{6} << std::int32_t{7};
  auto reply = run_task(pair.io, call(pair.client, *pair.proxy, std::move(message), 5s));
  REQUIRE(reply);
  std::int32_t product = 0;
  *reply >> product;
  CHECK(product == 42);
}

TEST_CASE("many concurrent calls all complete", "[bus]")
{
  BusPair pair;
  constexpr int k_calls = 300;
  std::vector<test::Outcome<core::Result<sdbus::MethodReply>>> outcomes(k_calls);
  for (int i = 0; i < k_calls; ++i) {
    auto message = pair.method("Multiply");
    message << std::int32_t{i} << std::int32_t{2};
    test::spawn(pair.io.get_executor(), call(pair.client, *pair.proxy, std::move(message), 10s),
                outcomes[static_cast<std::size_t>(i)]);
  }
  REQUIRE(run_until(pair.io, [&] {
    return std::all_of(outcomes.begin(), outcomes.end(), [](const auto& o) { return o.done; });
  }));
  for (int i = 0; i < k_calls; ++i) {
    auto& outcome = outcomes[static_cast<std::size_t>(i)];
    REQUIRE(outcome.value);
    REQUIRE(*outcome.value);
    std::int32_t product = 0;
    **outcome.value >> product;
    CHECK(product == 2 * i);
  }
}

TEST_CASE("errors from the peer and the bus arrive mapped, with their D-Bus names", "[bus]")
{
  BusPair pair;

  SECTION("an error thrown by the method")
  {
    auto message = pair.method("Fail");
    message << std::string("org.freedesktop.DBus.Error.AccessDenied") << std::string("go away");
    auto reply = run_task(pair.io, call(pair.client, *pair.proxy, std::move(message), 5s));
    REQUIRE_FALSE(reply);
    CHECK(reply.error().code == core::Errc::forbidden);
    CHECK(reply.error().message == "io.github.credrotd.Test1.Fail on io.github.credrotd.Test: "
                                   "org.freedesktop.DBus.Error.AccessDenied: go away");
  }
  SECTION("an unknown method")
  {
    auto reply = run_task(pair.io, call(pair.client, *pair.proxy, pair.method("Nope"), 5s));
    REQUIRE_FALSE(reply);
    CHECK(reply.error().code == core::Errc::not_found);
    CHECK_THAT(reply.error().message, Catch::Contains("org.freedesktop.DBus.Error.UnknownMethod"));
  }
  SECTION("an unknown object")
  {
    auto other = sdbus::createProxy(*pair.client_conn, k_name, "/nothing/here");
    auto reply = run_task(
        pair.io, call(pair.client, *other, other->createMethodCall(k_iface, "Multiply"), 5s));
    REQUIRE_FALSE(reply);
    CHECK(reply.error().code == core::Errc::not_found);
    CHECK_THAT(reply.error().message, Catch::Contains("org.freedesktop.DBus.Error.UnknownObject"));
  }
  SECTION("a name nobody owns")
  {
    auto other = sdbus::createProxy(*pair.client_conn, "io.github.credrotd.Absent", k_path);
    auto reply = run_task(
        pair.io, call(pair.client, *other, other->createMethodCall(k_iface, "Multiply"), 5s));
    REQUIRE_FALSE(reply);
    CHECK(reply.error().code == core::Errc::transient);
    CHECK_THAT(reply.error().message, Catch::Contains("org.freedesktop.DBus.Error.ServiceUnknown"));
  }
}

TEST_CASE("a call without a reply times out through the bridge's timer", "[bus]")
{
  BusPair pair;
  const auto start = std::chrono::steady_clock::now();
  auto reply = run_task(pair.io, call(pair.client, *pair.proxy, pair.method("Never"), 300ms));
  const auto elapsed = std::chrono::steady_clock::now() - start;
  REQUIRE_FALSE(reply);
  CHECK(reply.error().code == core::Errc::timeout);
  CHECK_THAT(reply.error().message, Catch::Contains("org.freedesktop.DBus.Error.NoReply"));
  CHECK(elapsed >= 290ms);
  CHECK(elapsed < 1500ms);
  CHECK(pair.held.size() == 1);
}

TEST_CASE("cancelling a call ends the wait and drops its late reply", "[bus]")
{
  BusPair pair;
  asio::cancellation_signal cancel;
  test::Outcome<core::Result<sdbus::MethodReply>> outcome;
  asio::co_spawn(
      pair.io, call(pair.client, *pair.proxy, pair.method("Never"), 10s),
      asio::bind_cancellation_slot(cancel.slot(),
                                   test::StoreOutcome<core::Result<sdbus::MethodReply>>{&outcome}));
  REQUIRE(run_until(pair.io, [&] { return pair.held.size() == 1; }));
  cancel.emit(asio::cancellation_type::terminal);
  REQUIRE(run_until(
      pair.io, [&] { return outcome.done; }, 2s));
  REQUIRE(outcome.value);
  REQUIRE_FALSE(*outcome.value);
  CHECK(outcome.value->error().code == core::Errc::cancelled);

  // The reply arrives after the waiter is gone: nothing may touch its memory (ASan).
  pair.held.front().returnResults();
  pair.server.wake();
  auto message = pair.method("Multiply");
  message << std::int32_t{2} << std::int32_t{3};
  auto reply = run_task(pair.io, call(pair.client, *pair.proxy, std::move(message), 5s));
  REQUIRE(reply);
}

TEST_CASE("a signal emitted from an Asio timer reaches another connection", "[bus]")
{
  BusPair pair;
  std::vector<std::int32_t> ticks;
  pair.proxy->uponSignal("Tick").onInterface(k_iface).call(
      [&ticks](std::int32_t value) { ticks.push_back(value); });
  pair.proxy->finishRegistration(); // one synchronous AddMatch: test set-up only
  pair.client.wake();

  asio::steady_timer timer(pair.io, 50ms);
  timer.async_wait([&pair](boost::system::error_code ec) {
    REQUIRE(!ec);
    pair.object->emitSignal("Tick").onInterface(k_iface).withArguments(std::int32_t{7});
    pair.server.wake(); // emitted outside a D-Bus callback
  });
  REQUIRE(run_until(
      pair.io, [&] { return !ticks.empty(); }, 5s));
  CHECK(ticks == std::vector<std::int32_t>{7});
}

TEST_CASE("the uid behind a bus connection is learned asynchronously", "[bus]")
{
  BusPair pair;

  SECTION("of a connection of this process: root")
  {
    auto uid = run_task(pair.io, caller_uid(pair.client, pair.server_conn->getUniqueName(), 5s));
    REQUIRE(uid);
    CHECK(*uid == ::geteuid());
  }
  SECTION("of a method's caller")
  {
    auto reply = run_task(pair.io, call(pair.client, *pair.proxy, pair.method("WhoAmI"), 5s));
    REQUIRE(reply);
    std::uint32_t uid = 1;
    *reply >> uid;
    CHECK(uid == ::geteuid());
  }
  SECTION("of a connection that does not exist: transient, so authorization fails closed")
  {
    auto uid = run_task(pair.io, caller_uid(pair.client, ":1.9999", 5s));
    REQUIRE_FALSE(uid);
    CHECK(uid.error().code == core::Errc::transient);
    CHECK_THAT(uid.error().message, Catch::Contains("NameHasNoOwner"));
  }
}

TEST_CASE("a caller running as nobody is seen as uid 65534", "[bus]")
{
  REQUIRE(::geteuid() == 0); // the test switches to nobody through run_command()
  BusPair pair;
  CommandSpec spec;
  spec.argv = {
      "/usr/bin/busctl", "--address=" + pair.bus.address(), "call", k_name, k_path, k_iface,
      "WhoAmI"};
  spec.user = "nobody";
  spec.label = "busctl";
  spec.timeout = 10s;
  // The client process and the server answering it run on the same loop.
  auto status = run_task(pair.io, run_command(pair.io.get_executor(), std::move(spec)));
  INFO((status ? std::string("ok") : status.error().describe()));
  REQUIRE(status);
  CHECK(pair.last_uid == 65534);
}

TEST_CASE("a bus name is acquired once and another owner is a conflict", "[bus]")
{
  BusPair pair;
  // Already the owner (BusPair acquired it): still success.
  CHECK(run_task(pair.io, request_name(pair.server, k_name, 5s)));
  auto taken = run_task(pair.io, request_name(pair.client, k_name, 5s));
  REQUIRE_FALSE(taken);
  CHECK(taken.error().code == core::Errc::conflict);
  CHECK_THAT(taken.error().message, Catch::Contains(k_name));
}

TEST_CASE("connections honour the bus address variables", "[bus]")
{
  test::PrivateBus bus;
  struct Restore {
    std::string name;
    std::optional<std::string> value;
    ~Restore()
    {
      if (value) {
        ::setenv(name.c_str(), value->c_str(), 1);
      } else {
        ::unsetenv(name.c_str());
      }
    }
  };
  const auto saved = [](const char* name) {
    const char* v = std::getenv(name);
    return Restore{name, v != nullptr ? std::optional<std::string>(v) : std::nullopt};
  };
  const Restore session = saved("DBUS_SESSION_BUS_ADDRESS");
  const Restore system = saved("DBUS_SYSTEM_BUS_ADDRESS");

  ::setenv("DBUS_SESSION_BUS_ADDRESS", bus.address().c_str(), 1);
  ::setenv("DBUS_SYSTEM_BUS_ADDRESS", bus.address().c_str(), 1);
  for (const auto kind : {BusKind::session, BusKind::system}) {
    auto conn = open_bus(kind);
    REQUIRE(conn);
    CHECK((*conn)->getUniqueName().starts_with(":"));
  }

  ::setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/credrotd/bus", 1);
  auto missing = open_bus(BusKind::system);
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == core::Errc::transient);
  CHECK_THAT(missing.error().message, Catch::Contains("system bus"));
  // open_bus_at() with a bad address is not exercised here: sdbus-c++ 1.2.0 leaks the sd_bus
  // object on that path, which LeakSanitizer reports.
}

TEST_CASE("a bus that goes away fails the bridge and its pending calls", "[bus]")
{
  BusPair pair;
  std::optional<core::Error> reported;
  pair.client.on_failure([&reported](const core::Error& error) { reported = error; });
  test::Outcome<core::Result<sdbus::MethodReply>> outcome;
  test::spawn(pair.io.get_executor(), call(pair.client, *pair.proxy, pair.method("Never"), 30s),
              outcome);
  REQUIRE(run_until(pair.io, [&] { return pair.held.size() == 1; }));

  const auto start = std::chrono::steady_clock::now();
  pair.bus.stop();
  REQUIRE(run_until(
      pair.io, [&] { return outcome.done && reported.has_value(); }, 10s));
  CHECK(std::chrono::steady_clock::now() - start < 5s);
  REQUIRE(outcome.value);
  REQUIRE_FALSE(*outcome.value);
  CHECK(core::is_transient(outcome.value->error().code));
  CHECK_FALSE(pair.client.running());
  REQUIRE(pair.client.failure());
  CHECK(reported->code == core::Errc::transient);

  // Later calls fail at once.
  auto later = run_task(pair.io, call(pair.client, *pair.proxy, pair.method("Never"), 30s), 1s);
  REQUIRE_FALSE(later);
  CHECK(later.error().code == core::Errc::transient);
  CHECK_THAT(later.error().message, Catch::Contains("not running"));
}

TEST_CASE("a bridge destroyed with waits in flight leaves nothing dangling", "[bus]")
{
  asio::io_context io;
  test::PrivateBus bus;
  auto conn = connect(bus);
  {
    BusBridge bridge(io.get_executor(), *conn);
    bridge.start();
    bridge.wake();
    io.poll();
  }
  // The cancelled waits and the posted wake complete now, against a destroyed bridge.
  io.poll();
  CHECK(conn->getUniqueName().starts_with(":"));
}
