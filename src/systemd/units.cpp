// SPDX-License-Identifier: Apache-2.0
// systemd unit actions over D-Bus: name checks, merging, job calls and JobRemoved waits.
#include "systemd/units.hpp"

#include "core/text.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <sdbus-c++/Error.h>
#include <sdbus-c++/Types.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <deque>
#include <map>
#include <utility>

namespace credrotd::systemd {

namespace asio = boost::asio;
using core::Errc;
using core::make_error;
using Clock = std::chrono::steady_clock;

namespace {

constexpr const char* k_systemd = "org.freedesktop.systemd1";
constexpr const char* k_systemd_path = "/org/freedesktop/systemd1";
constexpr const char* k_manager = "org.freedesktop.systemd1.Manager";

// JobRemoved signals kept while a call is in flight, for jobs whose reply has not arrived
// yet. Bounded: a busy system can finish many other jobs meanwhile.
constexpr std::size_t k_max_early = 256;

constexpr std::array<std::string_view, 11> k_unit_types = {
    "service", "socket", "target", "device", "mount", "automount",
    "swap",    "timer",  "path",   "slice",  "scope",
};

int rank(UnitVerb verb)
{
  switch (verb) {
  case UnitVerb::reload:
    return 0;
  case UnitVerb::reload_or_restart:
    return 1;
  case UnitVerb::try_restart:
    return 2;
  case UnitVerb::restart:
    return 3;
  }
  return 0;
}

const char* method_of(UnitVerb verb)
{
  switch (verb) {
  case UnitVerb::reload:
    return "ReloadUnit";
  case UnitVerb::restart:
    return "RestartUnit";
  case UnitVerb::try_restart:
    return "TryRestartUnit";
  case UnitVerb::reload_or_restart:
    return "ReloadOrRestartUnit";
  }
  return "ReloadUnit";
}

bool is_unit_char(char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == ':' ||
         c == '-' || c == '_' || c == '.' || c == '\\' || c == '@';
}

std::string printable(std::string_view text)
{
  std::string out;
  for (const char c : text.substr(0, 300)) {
    const auto u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u >= 0x7F) ? '?' : c;
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

// One job being waited for; the signal handler fills `result` and cancels the timer.
struct JobWaiter {
  explicit JobWaiter(const asio::any_io_executor& ex) : timer(ex) {}
  asio::steady_timer timer;
  std::string sender;
  std::optional<std::string> result;
};

struct EarlyJob {
  std::string job;
  std::string sender;
  std::string result;
};

} // namespace

struct SystemdUnits::Impl {
  explicit Impl(BusBridge& b) : bridge(b) {}

  BusBridge& bridge;
  std::unique_ptr<sdbus::IProxy> proxy;
  std::map<std::string, std::shared_ptr<JobWaiter>, std::less<>> waiting;
  std::deque<EarlyJob> early;
  int in_flight = 0; // unit method calls whose job is not known yet or not finished

  // Runs inside sd-bus's dispatch: must not throw through the C library.
  void on_job_removed(sdbus::Signal& signal) noexcept
  {
    try {
      std::uint32_t id = 0;
      sdbus::ObjectPath job;
      std::string unit;
      std::string result;
      signal >> id >> job >> unit >> result;
      std::string sender = signal.getSender();
      if (auto it = waiting.find(job); it != waiting.end()) {
        auto& waiter = *it->second;
        // Only the peer that created the job may report its end.
        if (waiter.sender == sender && !waiter.result) {
          waiter.result = std::move(result);
          waiter.timer.cancel();
        }
        return;
      }
      if (in_flight > 0) {
        early.push_back(EarlyJob{std::move(job), std::move(sender), std::move(result)});
        if (early.size() > k_max_early) {
          early.pop_front();
        }
      }
    } catch (...) { // NOLINT(bugprone-empty-catch): a malformed signal is not ours
    }
  }

  std::optional<std::string> take_early(const std::string& job, const std::string& sender)
  {
    for (auto it = early.begin(); it != early.end(); ++it) {
      if (it->job == job && it->sender == sender) {
        std::string result = std::move(it->result);
        early.erase(it);
        return result;
      }
    }
    return std::nullopt;
  }
};

namespace {

using ImplPtr = std::shared_ptr<SystemdUnits::Impl>;

struct InFlight {
  explicit InFlight(SystemdUnits::Impl& i) : impl(i) { ++impl.in_flight; }
  ~InFlight()
  {
    if (--impl.in_flight == 0) {
      impl.early.clear();
    }
  }
  InFlight(const InFlight&) = delete;
  InFlight& operator=(const InFlight&) = delete;
  SystemdUnits::Impl& impl;
};

struct EraseWaiter {
  SystemdUnits::Impl& impl;
  std::string job;
  ~EraseWaiter() { impl.waiting.erase(job); }
};

std::chrono::milliseconds remaining(Clock::time_point deadline)
{
  return std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
}

core::Status job_status(const std::string& what, const std::string& unit, const std::string& result)
{
  if (result == "done") {
    return {};
  }
  const Errc code = result == "timeout"    ? Errc::timeout
                    : result == "canceled" ? Errc::transient
                                           : Errc::protocol;
  return make_error(code, what + " failed: systemd job result '" + printable(result) +
                              "' (see journalctl -u " + unit + ")");
}

Task<core::Status> act_on_unit(ImplPtr impl, UnitAction action, Clock::time_point deadline,
                               std::chrono::milliseconds timeout)
{
  const std::string what = std::string(to_string(action.verb)) + " of " + action.unit;
  const auto left = remaining(deadline);
  if (left.count() <= 0) {
    co_return make_error(Errc::timeout, what + " was not started: the " +
                                            core::duration_text(timeout) + " timeout passed");
  }

  if (cancel_requested(co_await asio::this_coro::cancellation_state)) {
    co_return make_error(Errc::cancelled, what + ": cancelled");
  }
  const InFlight in_flight(*impl);
  auto message = impl->proxy->createMethodCall(k_manager, method_of(action.verb));
  message << action.unit << std::string("replace");
  auto reply = co_await call(impl->bridge, *impl->proxy, std::move(message), left);
  if (!reply) {
    co_return make_error(reply.error().code, what + " failed: " + reply.error().message);
  }
  sdbus::ObjectPath job;
  try {
    *reply >> job;
  } catch (const sdbus::Error& e) {
    co_return make_error(Errc::protocol, what + ": systemd returned no job: " + e.getMessage());
  }
  const std::string sender = reply->getSender();

  // The job may have finished before its reply was dispatched.
  if (auto early = impl->take_early(job, sender)) {
    co_return job_status(what, action.unit, *early);
  }

  auto waiter = std::make_shared<JobWaiter>(impl->bridge.executor());
  waiter->sender = sender;
  impl->waiting[job] = waiter;
  const EraseWaiter erase{*impl, job};
  waiter->timer.expires_at(deadline);
  while (!waiter->result) {
    if (cancel_requested(co_await asio::this_coro::cancellation_state)) {
      co_return make_error(Errc::cancelled, what + ": cancelled");
    }
    auto [ec] = co_await waiter->timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (waiter->result) {
      break;
    }
    if (!ec) {
      co_return make_error(Errc::timeout, what + " did not finish within " +
                                              core::duration_text(timeout) + " (systemd job " +
                                              job + " is still queued or running)");
    }
    co_return make_error(Errc::cancelled, what + ": cancelled");
  }
  co_return job_status(what, action.unit, *waiter->result);
}

} // namespace

std::string_view to_string(UnitVerb verb) noexcept
{
  switch (verb) {
  case UnitVerb::reload:
    return "reload";
  case UnitVerb::restart:
    return "restart";
  case UnitVerb::try_restart:
    return "try-restart";
  case UnitVerb::reload_or_restart:
    return "reload-or-restart";
  }
  return "reload";
}

std::optional<UnitVerb> parse_unit_verb(std::string_view text) noexcept
{
  for (const auto verb :
       {UnitVerb::reload, UnitVerb::restart, UnitVerb::try_restart, UnitVerb::reload_or_restart}) {
    if (to_string(verb) == text) {
      return verb;
    }
  }
  return std::nullopt;
}

core::Status validate_unit_name(std::string_view name)
{
  const auto bad = [name](const std::string& why) {
    return make_error(Errc::config, "invalid unit name \"" + printable(name) + "\": " + why);
  };
  if (name.empty()) {
    return make_error(Errc::config, "empty unit name");
  }
  if (name.size() > 255) {
    return bad("longer than 255 characters");
  }
  for (const char c : name) {
    if (!is_unit_char(c)) {
      return bad("only letters, digits and the characters :-_.\\@ are allowed");
    }
  }
  const auto dot = name.rfind('.');
  if (dot == std::string_view::npos) {
    return bad("no type suffix such as .service");
  }
  const auto suffix = name.substr(dot + 1);
  if (std::find(k_unit_types.begin(), k_unit_types.end(), suffix) == k_unit_types.end()) {
    return bad("unknown unit type \"." + std::string(suffix) + "\"");
  }
  const auto stem = name.substr(0, dot);
  if (stem.empty()) {
    return bad("nothing before the type suffix");
  }
  if (const auto at = stem.find('@'); at != std::string_view::npos) {
    if (at == 0) {
      return bad("nothing before '@'");
    }
    if (at + 1 == stem.size()) {
      return bad("a template cannot be acted on; name an instance such as foo@bar.service");
    }
  }
  return {};
}

std::vector<UnitAction> merge_unit_actions(std::vector<UnitAction> actions)
{
  std::vector<UnitAction> merged;
  merged.reserve(actions.size());
  for (auto& action : actions) {
    auto same = std::find_if(merged.begin(), merged.end(),
                             [&action](const UnitAction& m) { return m.unit == action.unit; });
    if (same == merged.end()) {
      merged.push_back(std::move(action));
    } else if (rank(action.verb) > rank(same->verb)) {
      same->verb = action.verb;
    }
  }
  return merged;
}

SystemdUnits::SystemdUnits(std::shared_ptr<Impl> impl) : m_impl(std::move(impl)) {}

SystemdUnits::~SystemdUnits() = default;

core::Result<std::unique_ptr<SystemdUnits>> SystemdUnits::create(BusBridge& bridge)
{
  auto impl = std::make_shared<Impl>(bridge);
  try {
    impl->proxy = sdbus::createProxy(bridge.connection(), k_systemd, k_systemd_path);
    Impl* raw = impl.get(); // the proxy, and with it the handler, lives inside *raw
    impl->proxy->registerSignalHandler(
        k_manager, "JobRemoved", [raw](sdbus::Signal& signal) { raw->on_job_removed(signal); });
    impl->proxy->finishRegistration();
  } catch (const sdbus::Error& e) {
    return make_error(Errc::transient, "cannot watch systemd's JobRemoved signals: " + e.getName() +
                                           ": " + e.getMessage());
  }
  // The synchronous AddMatch may have queued incoming messages inside sd-bus.
  bridge.wake();
  return std::unique_ptr<SystemdUnits>(new SystemdUnits(std::move(impl)));
}

Task<core::Status> act_on_units(SystemdUnits& systemd, std::vector<UnitAction> actions,
                                std::chrono::milliseconds timeout)
{
  const ImplPtr impl = systemd.impl(); // kept alive by this frame
  actions = merge_unit_actions(std::move(actions));
  for (const auto& action : actions) {
    CREDROTD_CO_TRY(validate_unit_name(action.unit));
  }
  if (actions.empty()) {
    co_return core::Status{};
  }
  const auto deadline = Clock::now() + timeout;

  if (cancel_requested(co_await asio::this_coro::cancellation_state)) {
    co_return make_error(Errc::cancelled, "acting on units: cancelled");
  }
  auto subscribe = impl->proxy->createMethodCall(k_manager, "Subscribe");
  auto subscribed =
      co_await call(impl->bridge, *impl->proxy, std::move(subscribe), remaining(deadline));
  // systemd answers AlreadySubscribed (conflict) to a client that subscribed before.
  if (!subscribed && subscribed.error().code != Errc::conflict) {
    co_return make_error(subscribed.error().code, "cannot subscribe to systemd's job signals: " +
                                                      subscribed.error().message);
  }

  for (auto& action : actions) {
    if (cancel_requested(co_await asio::this_coro::cancellation_state)) {
      co_return make_error(Errc::cancelled, "acting on units: cancelled");
    }
    auto status = co_await act_on_unit(impl, std::move(action), deadline, timeout);
    if (!status) {
      co_return status;
    }
  }
  co_return core::Status{};
}

} // namespace credrotd::systemd
