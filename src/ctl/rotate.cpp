// SPDX-License-Identifier: Apache-2.0
// `credrotctl rotate`: starts rotations and, with --wait, follows their signals to the end.
#include "credrotd_manager1_proxy.h" // generated from io.github.credrotd.Manager1.xml
#include "ctl/client.hpp"
#include "ctl/ctl.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <climits>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <optional>
#include <poll.h>
#include <set>

namespace credrotd::ctl {

namespace {

namespace api = dbus;
namespace json = boost::json;
using std::chrono::steady_clock;

struct Outcome {
  std::string profile;
  std::int64_t id = 0;
  std::string result; // started, succeeded, rolled_back, failed, not_started, timeout
  std::string reason;
};

// Follows the daemon's signals (generated proxy: the signatures come from the XML). Created
// before Rotate is called, so that no signal of the new rotation can be missed; signals that
// arrive before the Rotate reply are kept by id.
class Follower final : public sdbus::ProxyInterfaces<io::github::credrotd::Manager1_proxy> {
public:
  Follower(sdbus::IConnection& connection, bool progress)
      : ProxyInterfaces(connection, api::k_bus_name, api::k_object_path), m_progress(progress)
  {
    registerProxy(); // AddMatch, synchronously: fine in this client
    // The daemon going away ends the wait (arg0 filters on the bus).
    m_owner_slot = connection.addMatch(
        "type='signal',sender='org.freedesktop.DBus',interface='org.freedesktop.DBus',"
        "member='NameOwnerChanged',arg0='" +
            std::string(api::k_bus_name) + "'",
        [this](sdbus::Message& message) {
          std::string name;
          std::string old_owner;
          std::string new_owner;
          message >> name >> old_owner >> new_owner;
          if (new_owner.empty()) {
            m_daemon_gone = true;
          }
        });
  }
  ~Follower() { unregisterProxy(); }
  Follower(const Follower&) = delete;
  Follower& operator=(const Follower&) = delete;

  void follow(std::int64_t id) { m_followed.insert(id); }
  std::optional<Outcome> finished(std::int64_t id) const
  {
    const auto it = m_finished.find(id);
    return it == m_finished.end() ? std::nullopt : std::optional<Outcome>(it->second);
  }
  bool daemon_gone() const { return m_daemon_gone; }

private:
  void onRotationStarted(const std::string& /*profile*/, const int64_t& /*rotation*/) override {}
  void onPhaseChanged(const std::string& profile, const int64_t& rotation,
                      const std::string& phase) override
  {
    if (m_progress && m_followed.count(rotation) != 0) {
      std::cout << profile << ": rotation " << rotation << ": " << phase << "\n" << std::flush;
    }
  }
  void onRotationFinished(const std::string& profile, const int64_t& rotation,
                          const std::string& result, const std::string& reason) override
  {
    m_finished[rotation] = Outcome{profile, rotation, result, reason};
  }

  bool m_progress;
  std::set<std::int64_t> m_followed;
  std::map<std::int64_t, Outcome> m_finished;
  sdbus::Slot m_owner_slot;
  bool m_daemon_gone = false;
};

// Processes the connection until every rotation in `outcomes` has finished, the daemon goes
// away or `deadline` passes. Returns false on the last two.
bool wait_for(Client& client, Follower& follower, std::vector<Outcome>& outcomes,
              std::optional<steady_clock::time_point> deadline, std::string& why)
{
  auto& connection = client.connection();
  for (;;) {
    while (connection.processPendingRequest()) {
    }
    bool all = true;
    for (auto& o : outcomes) {
      if (o.result == "started") {
        if (auto f = follower.finished(o.id)) {
          o.result = f->result;
          o.reason = f->reason;
        } else {
          all = false;
        }
      }
    }
    if (all) {
      return true;
    }
    if (follower.daemon_gone()) {
      why = "credrotd left the bus before the rotation finished; it resumes when credrotd "
            "starts again";
      return false;
    }
    int wait_ms = -1;
    const auto now = steady_clock::now();
    if (deadline) {
      if (now >= *deadline) {
        why = "still running at the --wait-timeout; the rotation goes on in credrotd";
        return false;
      }
      wait_ms = static_cast<int>(
          std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - now).count() + 1);
    }
    const auto pd = connection.getEventLoopPollData();
    if (pd.timeout_usec != UINT64_MAX) {
      // sd-bus's deadline is on CLOCK_MONOTONIC, the clock steady_clock reads on Linux.
      const auto mono_us = static_cast<std::uint64_t>(
          std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count());
      const auto sd_ms = pd.timeout_usec > mono_us ? (pd.timeout_usec - mono_us) / 1000U + 1 : 0;
      const auto capped = static_cast<int>(std::min<std::uint64_t>(sd_ms, INT_MAX));
      wait_ms = wait_ms < 0 ? capped : std::min(wait_ms, capped);
    }
    pollfd p{pd.fd, pd.events, 0};
    if (::poll(&p, 1, wait_ms) < 0 && errno != EINTR) {
      why = std::string("poll: ") + std::strerror(errno);
      return false;
    }
  }
}

} // namespace

int rotate(const Options& options)
{
  Client client(options);
  std::optional<Follower> follower;
  if (options.wait) {
    try {
      follower.emplace(client.connection(), !options.json);
    } catch (const sdbus::Error& e) {
      throw failure_of(e);
    }
  }
  std::vector<Outcome> outcomes;
  int status = exit_ok;
  if (options.all) {
    std::map<std::string, std::int64_t> started;
    std::map<std::string, std::string> not_started;
    client.call("RotateAll", std::tuple<>{}, started, not_started);
    for (const auto& [profile, id] : started) {
      outcomes.push_back(Outcome{profile, id, "started", ""});
    }
    for (const auto& [profile, why] : not_started) {
      outcomes.push_back(Outcome{profile, 0, "not_started", why});
      // Already rotating is not a failure of this request.
      if (why.rfind(api::error_name(core::Errc::conflict), 0) != 0) {
        status = exit_failed;
      }
    }
  } else {
    for (const auto& profile : options.profiles) {
      std::int64_t id = 0;
      try {
        client.call("Rotate", std::tuple<std::string>{profile}, id);
        outcomes.push_back(Outcome{profile, id, "started", ""});
      } catch (const Failure& f) {
        // Denied, unreachable and unknown profiles end the command; a refused plan is one
        // profile's failure.
        if (f.status != exit_failed) {
          throw;
        }
        outcomes.push_back(Outcome{profile, 0, "not_started", f.message});
        status = exit_failed;
      }
    }
  }
  for (auto& o : outcomes) {
    if (o.result == "started" && !options.json) {
      std::cout << o.profile << ": rotation " << o.id << " started\n";
    }
    if (follower) {
      follower->follow(o.id);
    }
  }
  std::cout << std::flush;
  if (follower) {
    std::optional<steady_clock::time_point> deadline;
    if (options.wait_timeout_s > 0) {
      deadline = steady_clock::now() + std::chrono::seconds(options.wait_timeout_s);
    }
    std::string why;
    if (!wait_for(client, *follower, outcomes, deadline, why)) {
      for (auto& o : outcomes) {
        if (o.result == "started") {
          o.result = follower->daemon_gone() ? "unknown" : "timeout";
          o.reason = why;
        }
      }
      status = follower->daemon_gone() ? exit_unreachable : exit_failed;
    }
    for (const auto& o : outcomes) {
      if (o.result != "succeeded" && o.result != "not_started") {
        status = status == exit_ok ? exit_failed : status;
      }
    }
  }
  if (options.json) {
    json::array list;
    for (const auto& o : outcomes) {
      json::object item;
      item["profile"] = o.profile;
      item["rotation"] = o.id == 0 ? json::value(nullptr) : json::value(o.id);
      item["result"] = o.result;
      item["reason"] = o.reason.empty() ? json::value(nullptr) : json::value(o.reason);
      list.push_back(std::move(item));
    }
    std::cout << json::serialize(json::object{{"rotations", std::move(list)}}) << "\n";
  } else {
    for (const auto& o : outcomes) {
      if (o.result == "started") {
        continue; // already said
      }
      std::cout << o.profile << ": ";
      if (o.id != 0) {
        std::cout << "rotation " << o.id << " ";
      }
      std::cout << (o.result == "not_started" ? "not started" : o.result)
                << (o.reason.empty() ? "" : ": " + o.reason) << "\n";
    }
  }
  return status;
}

} // namespace credrotd::ctl
