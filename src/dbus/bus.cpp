// SPDX-License-Identifier: Apache-2.0
// The sd-bus/Asio bridge, bus connections and asynchronous D-Bus calls as coroutines.
#include "dbus/bus.hpp"

#include "core/text.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <sdbus-c++/Error.h>

#include <array>
#include <cstdint>
#include <exception>
#include <poll.h>
#include <utility>

namespace credrotd::dbus {

namespace asio = boost::asio;
using core::Errc;
using core::make_error;

namespace {

// Messages processed per loop turn before other handlers get their turn, so that a flood
// of incoming messages cannot starve timers and child processes.
constexpr int k_batch = 64;

// How long call() waits beyond the sd-bus timeout before it concludes that nobody processes
// the connection (sd-bus itself always answers with NoReply at the timeout).
constexpr std::chrono::seconds k_reply_slack{1};

constexpr std::string_view k_dbus_error = "org.freedesktop.DBus.Error.";

} // namespace

// ----------------------------------------------------------------------------------------
// Connections

core::Result<std::unique_ptr<sdbus::IConnection>> open_bus(BusKind kind)
{
  try {
    if (kind == BusKind::system) {
      return sdbus::createSystemBusConnection();
    }
    return sdbus::createSessionBusConnection();
  } catch (const sdbus::Error& e) {
    const char* which = kind == BusKind::system ? "the system bus ($DBUS_SYSTEM_BUS_ADDRESS or "
                                                  "/run/dbus/system_bus_socket)"
                                                : "the session bus ($DBUS_SESSION_BUS_ADDRESS or "
                                                  "$XDG_RUNTIME_DIR/bus)";
    return make_error(Errc::transient, std::string("cannot connect to ") + which + ": " +
                                           e.getName() + ": " + e.getMessage());
  }
}

core::Result<std::unique_ptr<sdbus::IConnection>> open_bus_at(const std::string& address)
{
  try {
    return sdbus::createSessionBusConnectionWithAddress(address);
  } catch (const sdbus::Error& e) {
    return make_error(Errc::transient, "cannot connect to the bus at " + address + ": " +
                                           e.getName() + ": " + e.getMessage());
  }
}

// ----------------------------------------------------------------------------------------
// The bridge

struct BusBridge::State {
  State(asio::any_io_executor ex, sdbus::IConnection& conn)
      : connection(conn), executor(ex), descriptor(ex), timer(ex)
  {}

  sdbus::IConnection& connection;
  asio::any_io_executor executor;
  asio::posix::stream_descriptor descriptor; // sd-bus's fd, borrowed: released, never closed
  asio::steady_timer timer;                  // sd-bus's next deadline
  // Incremented on every re-arm and on stop: a completion carrying an older value belongs to
  // a wait that was superseded and is ignored.
  std::uint64_t generation = 0;
  bool running = false;
  bool wake_posted = false;
  std::optional<core::Error> failure;
  std::function<void(const core::Error&)> failure_handler;
};

namespace {

using StatePtr = std::shared_ptr<BusBridge::State>;

void pump(const StatePtr& s);

void disarm(BusBridge::State& s) noexcept
{
  s.running = false;
  ++s.generation;
  if (s.descriptor.is_open()) {
    s.descriptor.release(); // cancels the waits; sd-bus keeps its fd
  }
  s.timer.cancel();
}

void fail(const StatePtr& s, core::Error error)
{
  disarm(*s);
  s->failure = std::move(error);
  if (s->failure_handler) {
    auto handler = std::move(s->failure_handler);
    s->failure_handler = nullptr;
    handler(*s->failure);
  }
}

// Completion of a wait on the fd or the timer; also the body of a posted wake().
struct Resume {
  std::weak_ptr<BusBridge::State> state;
  std::uint64_t generation = 0;
  bool any_generation = false; // a posted wake(): valid whatever was armed since

  void operator()(const boost::system::error_code& ec = {}) const
  {
    auto s = state.lock();
    if (!s || !s->running) {
      return;
    }
    if (any_generation) {
      s->wake_posted = false;
    } else if (ec == asio::error::operation_aborted || generation != s->generation) {
      return;
    } else if (ec) {
      fail(s, make_error(Errc::transient, "cannot wait on the D-Bus connection: " + ec.message()));
      return;
    }
    pump(s);
  }
};

void post_wake(const StatePtr& s)
{
  if (!s->running || s->wake_posted) {
    return;
  }
  s->wake_posted = true;
  asio::post(s->executor, Resume{s, 0, true});
}

void arm(const StatePtr& s)
{
  const auto pd = s->connection.getEventLoopPollData();
  const auto generation = ++s->generation;
  boost::system::error_code ignored;
  s->descriptor.cancel(ignored);
  s->timer.cancel();
  s->descriptor.async_wait(asio::posix::descriptor_base::wait_read, Resume{s, generation});
  if ((pd.events & POLLOUT) != 0) {
    // Output is queued (the socket was full): wait for room as well, while still reading, so
    // that a peer that is itself blocked writing to us cannot deadlock the two of us.
    s->descriptor.async_wait(asio::posix::descriptor_base::wait_write, Resume{s, generation});
  }
  if (pd.timeout_usec != UINT64_MAX) {
    // An absolute CLOCK_MONOTONIC time, which is steady_clock's clock on Linux. Bounded so
    // that an absurd value cannot overflow the conversion to nanoseconds.
    const auto now = std::chrono::steady_clock::now();
    const auto at = std::chrono::steady_clock::time_point(
        std::chrono::duration_cast<std::chrono::steady_clock::duration>(
            std::chrono::microseconds(static_cast<std::int64_t>(
                std::min<std::uint64_t>(pd.timeout_usec, std::uint64_t{1} << 62)))));
    s->timer.expires_at(std::min(at, now + std::chrono::hours(24)));
    s->timer.async_wait(Resume{s, generation});
  }
}

void pump(const StatePtr& s)
{
  try {
    for (int i = 0; i < k_batch; ++i) {
      if (!s->connection.processPendingRequest()) {
        if (s->running) {
          arm(s);
        }
        return;
      }
      if (!s->running) {
        return; // a callback stopped the bridge
      }
    }
    post_wake(s); // more is pending: continue after the handlers queued meanwhile
  } catch (const sdbus::Error& e) {
    fail(s, make_error(Errc::transient,
                       "the D-Bus connection broke: " + e.getName() + ": " + e.getMessage()));
  } catch (const std::exception& e) {
    fail(s, make_error(Errc::transient, std::string("the D-Bus connection broke: ") + e.what()));
  }
}

} // namespace

BusBridge::BusBridge(asio::any_io_executor executor, sdbus::IConnection& connection)
    : m_state(std::make_shared<State>(std::move(executor), connection))
{}

BusBridge::~BusBridge()
{
  stop();
}

void BusBridge::start()
{
  if (m_state->running || m_state->failure) {
    return;
  }
  try {
    m_state->descriptor.assign(m_state->connection.getEventLoopPollData().fd);
  } catch (const std::exception& e) {
    fail(m_state, make_error(Errc::transient,
                             std::string("cannot watch the D-Bus connection: ") + e.what()));
    return;
  }
  m_state->running = true;
  pump(m_state);
}

void BusBridge::stop() noexcept
{
  disarm(*m_state);
}

void BusBridge::wake() noexcept
{
  post_wake(m_state);
}

bool BusBridge::running() const noexcept
{
  return m_state->running;
}

std::optional<core::Error> BusBridge::failure() const
{
  return m_state->failure;
}

void BusBridge::on_failure(std::function<void(const core::Error&)> handler)
{
  m_state->failure_handler = std::move(handler);
}

sdbus::IConnection& BusBridge::connection() const noexcept
{
  return m_state->connection;
}

asio::any_io_executor BusBridge::executor() const
{
  return m_state->executor;
}

// ----------------------------------------------------------------------------------------
// Errors

core::Errc errc_from_dbus_error(std::string_view name) noexcept
{
  struct Entry {
    std::string_view name;
    Errc code;
  };
  static constexpr std::array<Entry, 16> k_short = {{
      {"NoReply", Errc::timeout},
      {"Timeout", Errc::timeout},
      {"TimedOut", Errc::timeout},
      {"ServiceUnknown", Errc::transient},
      {"NameHasNoOwner", Errc::transient},
      {"Disconnected", Errc::transient},
      {"NoServer", Errc::transient},
      {"LimitsExceeded", Errc::transient},
      {"NoMemory", Errc::transient},
      {"AccessDenied", Errc::forbidden},
      {"AuthFailed", Errc::forbidden},
      {"InteractiveAuthorizationRequired", Errc::forbidden},
      {"UnknownMethod", Errc::not_found},
      {"UnknownObject", Errc::not_found},
      {"UnknownInterface", Errc::not_found},
      {"UnknownProperty", Errc::not_found},
  }};
  if (name.starts_with(k_dbus_error)) {
    const auto rest = name.substr(k_dbus_error.size());
    for (const auto& entry : k_short) {
      if (entry.name == rest) {
        return entry.code;
      }
    }
    return Errc::protocol;
  }
  if (name == "org.freedesktop.systemd1.NoSuchUnit") {
    return Errc::not_found;
  }
  if (name == "org.freedesktop.systemd1.AlreadySubscribed") {
    return Errc::conflict;
  }
  return Errc::protocol;
}

core::Error from_dbus_error(std::string_view what, std::string_view name, std::string_view message)
{
  std::string text(what);
  text += ": ";
  text += name.empty() ? std::string_view("org.freedesktop.DBus.Error.Failed") : name;
  if (!message.empty()) {
    text += ": ";
    text += message;
  }
  return make_error(errc_from_dbus_error(name), std::move(text));
}

// ----------------------------------------------------------------------------------------
// Calls

namespace {

// Shared between the waiting coroutine and the reply callback. The callback holds it weakly:
// once the coroutine is gone, a late reply finds nobody and is dropped.
struct ReplyWaiter {
  explicit ReplyWaiter(const asio::any_io_executor& ex) : timer(ex) {}
  asio::steady_timer timer; // used as an event: cancelled when the reply arrives
  bool done = false;
  sdbus::MethodReply reply;
  std::string error_name;
  std::string error_message;
};

struct ReplyHandler {
  std::weak_ptr<ReplyWaiter> waiter;

  // Runs inside sd-bus's dispatch: must not throw through the C library.
  void operator()(sdbus::MethodReply& reply, const sdbus::Error* error) const noexcept
  {
    auto w = waiter.lock();
    if (!w || w->done) {
      return;
    }
    w->done = true;
    try {
      if (error != nullptr) {
        w->error_name = error->getName();
        w->error_message = error->getMessage();
      } else {
        w->reply = reply;
      }
    } catch (...) {
      w->error_name = "org.freedesktop.DBus.Error.NoMemory";
    }
    w->timer.cancel();
  }
};

// Cancels delivery of the reply when the coroutine frame goes away before it arrived.
struct CancelPending {
  sdbus::PendingAsyncCall& pending;
  ~CancelPending()
  {
    try {
      pending.cancel();
    } catch (...) { // NOLINT(bugprone-empty-catch): nothing left to cancel
    }
  }
};

std::string describe_call(const sdbus::MethodCall& message)
{
  std::string out = message.getInterfaceName() + "." + message.getMemberName();
  if (auto destination = message.getDestination(); !destination.empty()) {
    out += " on " + destination;
  }
  return out;
}

// co_await throws operation_aborted once the coroutine's cancellation was requested (Asio's
// throw_if_cancelled, which belongs to the caller's whole coroutine chain): check before each
// suspension, so that cancellation comes back as Errc::cancelled, a value.
bool cancel_requested(const asio::cancellation_state& state)
{
  return state.cancelled() != asio::cancellation_type::none;
}

constexpr const char* k_bus_driver = "org.freedesktop.DBus";
constexpr const char* k_bus_driver_path = "/org/freedesktop/DBus";

} // namespace

Task<core::Result<sdbus::MethodReply>> call(BusBridge& bridge, sdbus::IProxy& proxy,
                                            sdbus::MethodCall message,
                                            std::chrono::milliseconds timeout)
{
  const std::string what = describe_call(message);
  if (cancel_requested(co_await asio::this_coro::cancellation_state)) {
    co_return make_error(Errc::cancelled, what + ": cancelled");
  }
  if (!bridge.running()) {
    const auto failure = bridge.failure();
    co_return make_error(Errc::transient, what + ": the D-Bus connection is not running" +
                                              (failure ? ": " + failure->message : ""));
  }
  timeout = std::max(timeout, std::chrono::milliseconds(1));

  auto waiter = std::make_shared<ReplyWaiter>(bridge.executor());
  sdbus::PendingAsyncCall pending;
  try {
    pending = proxy.callMethod(message, ReplyHandler{waiter},
                               std::chrono::duration_cast<std::chrono::microseconds>(timeout));
  } catch (const sdbus::Error& e) {
    co_return from_dbus_error(what, e.getName(), e.getMessage());
  }
  const CancelPending cancel_on_exit{pending};
  bridge.wake(); // a new deadline, and maybe queued output

  waiter->timer.expires_after(timeout + k_reply_slack);
  while (!waiter->done) {
    auto [ec] = co_await waiter->timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (waiter->done) {
      break;
    }
    if (!ec) {
      co_return make_error(Errc::timeout, what + ": no reply within " +
                                              core::duration_text(timeout) +
                                              " and the connection is not being processed");
    }
    co_return make_error(Errc::cancelled, what + ": cancelled");
  }
  if (!waiter->error_name.empty()) {
    co_return from_dbus_error(what, waiter->error_name, waiter->error_message);
  }
  co_return std::move(waiter->reply);
}

Task<core::Result<uid_t>> caller_uid(BusBridge& bridge, std::string sender,
                                     std::chrono::milliseconds timeout)
{
  auto proxy = sdbus::createProxy(bridge.connection(), k_bus_driver, k_bus_driver_path);
  if (cancel_requested(co_await asio::this_coro::cancellation_state)) {
    co_return make_error(Errc::cancelled, "GetConnectionUnixUser: cancelled");
  }
  auto message = proxy->createMethodCall(k_bus_driver, "GetConnectionUnixUser");
  message << sender;
  auto reply = co_await call(bridge, *proxy, std::move(message), timeout);
  if (!reply) {
    co_return reply.error();
  }
  std::uint32_t uid = 0;
  try {
    *reply >> uid;
  } catch (const sdbus::Error& e) {
    co_return make_error(Errc::protocol,
                         "GetConnectionUnixUser returned no uid: " + e.getMessage());
  }
  if (!*reply) {
    co_return make_error(Errc::protocol, "GetConnectionUnixUser returned no uid");
  }
  co_return static_cast<uid_t>(uid);
}

Task<core::Status> request_name(BusBridge& bridge, std::string name,
                                std::chrono::milliseconds timeout)
{
  // org.freedesktop.DBus.RequestName flags and replies (D-Bus specification).
  constexpr std::uint32_t k_do_not_queue = 4;
  constexpr std::uint32_t k_primary_owner = 1;
  constexpr std::uint32_t k_already_owner = 4;

  auto proxy = sdbus::createProxy(bridge.connection(), k_bus_driver, k_bus_driver_path);
  if (cancel_requested(co_await asio::this_coro::cancellation_state)) {
    co_return make_error(Errc::cancelled, "RequestName: cancelled");
  }
  auto message = proxy->createMethodCall(k_bus_driver, "RequestName");
  message << name << k_do_not_queue;
  auto reply = co_await call(bridge, *proxy, std::move(message), timeout);
  if (!reply) {
    co_return reply.error();
  }
  std::uint32_t result = 0;
  try {
    *reply >> result;
  } catch (const sdbus::Error& e) {
    co_return make_error(Errc::protocol, "RequestName returned no result: " + e.getMessage());
  }
  if (result == k_primary_owner || result == k_already_owner) {
    co_return core::Status{};
  }
  co_return make_error(Errc::conflict,
                       fmt::format("the bus name {} is owned by another process (RequestName "
                                   "returned {})",
                                   name, result));
}

} // namespace credrotd::dbus
