// SPDX-License-Identifier: Apache-2.0
// credrotctl: the command-line client of credrotd, over its D-Bus API (docs/dbus.md).
//
// A separate, short-lived process: unlike the daemon it may block on the bus, so it uses
// sdbus-c++'s synchronous calls (each with a timeout) and polls the connection itself while
// `rotate --wait` follows the signals.
#include "config/clouds.hpp"
#include "credrotd_manager1_proxy.h" // generated from io.github.credrotd.Manager1.xml
#include "dbus/api.hpp"
#include "discover/paths.hpp"
#include "discover/proposal.hpp"
#include "discover/report.hpp"

#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <climits>
#include <sdbus-c++/sdbus-c++.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <poll.h>
#include <set>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace {

namespace api = credrotd::dbus;
namespace json = boost::json;
using Dict = std::map<std::string, sdbus::Variant>;
using std::chrono::steady_clock;

// Exit statuses (credrotctl --help, docs/dbus.md).
enum Exit : int {
  exit_ok = 0,
  exit_failed = 1,      // a rotation failed or rolled back, verify not accepted, other errors
  exit_usage = 2,       // bad arguments
  exit_unreachable = 3, // no bus, or nobody owns io.github.credrotd, or no answer in time
  exit_denied = 4,      // the bus policy or the daemon refused the call
  exit_not_found = 5,   // no such profile (or rotation)
};

const char* const k_footer =
    "Exit status: 0 success; 1 a rotation failed or rolled back, verify did not accept the key, "
    "or another error; 2 usage; 3 credrotd not reachable (no bus, name not owned, no answer); "
    "4 access denied (bus policy, or not root/group credrotd for rotate); 5 no such profile.\n"
    "JSON output (--json): one document per command; shapes in credrotctl(1) and docs/dbus.md.";

struct Options {
  bool user = false;
  bool json = false;
  int timeout_s = 120;
  std::vector<std::string> profiles;
  bool all = false;
  bool wait = false;
  int wait_timeout_s = 0;
  unsigned limit = 20;
  std::string config_file;
  // discover
  std::string cloud;
  std::string clouds_file;
  std::string secure_file;
  std::string s3_endpoint;
  std::string root = "/";
  std::vector<std::string> python_files;
  bool write = false;
  std::string output;
};

// A failure that ends the command: the message for stderr and the exit status.
struct Failure {
  int status;
  std::string message;
};

// The exit status for a D-Bus error the bus or the daemon sent.
int status_of(const std::string& name)
{
  static const std::set<std::string> unreachable = {
      "org.freedesktop.DBus.Error.ServiceUnknown",  "org.freedesktop.DBus.Error.NameHasNoOwner",
      "org.freedesktop.DBus.Error.NoReply",         "org.freedesktop.DBus.Error.Timeout",
      "org.freedesktop.DBus.Error.TimedOut",        "org.freedesktop.DBus.Error.Disconnected",
      "org.freedesktop.DBus.Error.NoServer",        "org.freedesktop.DBus.Error.FileNotFound",
      "org.freedesktop.DBus.Error.NoNetwork",       "org.freedesktop.DBus.Error.UnknownObject",
      "org.freedesktop.DBus.Error.UnknownInterface"};
  if (name == api::k_access_denied || name == "org.freedesktop.DBus.Error.AccessDenied" ||
      name == "org.freedesktop.DBus.Error.AuthFailed" ||
      name == "org.freedesktop.DBus.Error.EACCES") {
    return exit_denied;
  }
  if (name == api::error_name(credrotd::core::Errc::not_found)) {
    return exit_not_found;
  }
  if (unreachable.count(name) != 0) {
    return exit_unreachable;
  }
  return exit_failed;
}

Failure failure_of(const sdbus::Error& e)
{
  std::string message = e.getMessage();
  if (e.getName() == "org.freedesktop.DBus.Error.ServiceUnknown" ||
      e.getName() == "org.freedesktop.DBus.Error.NameHasNoOwner") {
    message = "credrotd is not running (nobody owns " + std::string(api::k_bus_name) +
              " on this bus): " + message;
  }
  return Failure{status_of(e.getName()), message + " [" + e.getName() + "]"};
}

// --- values from the daemon's dictionaries ---

template <class T> T get(const Dict& d, const std::string& key, T fallback = T{})
{
  const auto it = d.find(key);
  if (it == d.end() || !it->second.containsValueOfType<T>()) {
    return fallback;
  }
  return it->second.get<T>();
}

std::string utc_time(std::int64_t usec)
{
  const std::time_t secs = static_cast<std::time_t>(usec / 1'000'000);
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string local_time(std::int64_t usec)
{
  if (usec == 0) {
    return "-";
  }
  const std::time_t secs = static_cast<std::time_t>(usec / 1'000'000);
  std::tm tm{};
  ::localtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

// The JSON form of one D-Bus dictionary: the same keys; "" strings and 0 times and ids become
// null; times become RFC 3339 UTC strings; counts stay numbers.
json::object to_json(const Dict& d)
{
  static const std::set<std::string> times = {"current_since", "next_due",     "running_since",
                                              "last_finished", "last_success", "started",
                                              "finished"};
  static const std::set<std::string> ids = {"running_rotation", "last_rotation", "id"};
  json::object out;
  for (const auto& [key, value] : d) {
    if (value.containsValueOfType<std::string>()) {
      const auto s = value.get<std::string>();
      out[key] = s.empty() ? json::value(nullptr) : json::value(s);
    } else if (value.containsValueOfType<bool>()) {
      out[key] = value.get<bool>();
    } else if (value.containsValueOfType<std::int64_t>()) {
      const auto n = value.get<std::int64_t>();
      if (times.count(key) != 0) {
        out[key] = n == 0 ? json::value(nullptr) : json::value(utc_time(n));
      } else if (ids.count(key) != 0) {
        out[key] = n == 0 ? json::value(nullptr) : json::value(n);
      } else {
        out[key] = n;
      }
    } else if (value.containsValueOfType<std::uint32_t>()) {
      out[key] = value.get<std::uint32_t>();
    }
  }
  return out;
}

void print_json(const json::value& v)
{
  std::cout << json::serialize(v) << "\n";
}

// --- tables ---

class Table {
public:
  explicit Table(std::vector<std::string> header) { m_rows.push_back(std::move(header)); }
  void add(std::vector<std::string> row) { m_rows.push_back(std::move(row)); }
  void print(std::ostream& out) const
  {
    std::vector<std::size_t> width;
    for (const auto& row : m_rows) {
      width.resize(std::max(width.size(), row.size()));
      for (std::size_t i = 0; i < row.size(); ++i) {
        width[i] = std::max(width[i], row[i].size());
      }
    }
    for (const auto& row : m_rows) {
      std::string line;
      for (std::size_t i = 0; i < row.size(); ++i) {
        line += row[i];
        if (i + 1 < row.size()) {
          line += std::string(width[i] - row[i].size() + 2, ' ');
        }
      }
      out << line << "\n";
    }
  }

private:
  std::vector<std::vector<std::string>> m_rows;
};

std::string or_dash(const std::string& s)
{
  return s.empty() ? "-" : s;
}

// --- the connection ---

class Client {
public:
  explicit Client(const Options& options) : m_options(options)
  {
    try {
      m_connection =
          options.user ? sdbus::createSessionBusConnection() : sdbus::createSystemBusConnection();
    } catch (const sdbus::Error& e) {
      throw Failure{exit_unreachable, std::string("cannot connect to the ") +
                                          (options.user ? "session" : "system") +
                                          " bus: " + e.getMessage() + " [" + e.getName() + "]"};
    }
    m_proxy = sdbus::createProxy(*m_connection, api::k_bus_name, api::k_object_path);
  }

  sdbus::IConnection& connection() { return *m_connection; }

  std::chrono::microseconds timeout() const
  {
    return std::chrono::seconds(std::max(1, m_options.timeout_s));
  }

  // Calls `method` with `args` and stores the reply's values into `results`.
  template <class... Args, class... Results>
  void call(const char* method, std::tuple<Args...> args, Results&... results)
  {
    try {
      // MethodInvoker keeps a reference to the name: it must outlive the invoker.
      const std::string name(method);
      auto invoker = m_proxy->callMethod(name);
      invoker.onInterface(api::k_interface).withTimeout(timeout());
      std::apply([&](auto&... a) { invoker.withArguments(a...); }, args);
      invoker.storeResultsTo(results...);
    } catch (const sdbus::Error& e) {
      throw failure_of(e);
    }
  }

  Dict properties()
  {
    Dict props;
    try {
      m_proxy->callMethod("GetAll")
          .onInterface("org.freedesktop.DBus.Properties")
          .withTimeout(timeout())
          .withArguments(std::string(api::k_interface))
          .storeResultsTo(props);
    } catch (const sdbus::Error& e) {
      throw failure_of(e);
    }
    return props;
  }

private:
  const Options& m_options;
  std::unique_ptr<sdbus::IConnection> m_connection;
  std::unique_ptr<sdbus::IProxy> m_proxy;
};

// --- status ---

std::string state_of(const Dict& p)
{
  if (get<std::int64_t>(p, "running_rotation") != 0) {
    return "rotating (" + get<std::string>(p, "running_phase") + ")";
  }
  return get<bool>(p, "enabled", true) ? "idle" : "disabled";
}

int cmd_status(Client& client, const Options& options)
{
  std::vector<Dict> profiles;
  if (options.profiles.empty()) {
    client.call("ListProfiles", std::tuple<>{}, profiles);
  } else {
    for (const auto& name : options.profiles) {
      Dict d;
      client.call("GetProfile", std::tuple<std::string>{name}, d);
      profiles.push_back(std::move(d));
    }
  }
  const Dict props = client.properties();
  const auto running = get<std::uint32_t>(props, "RunningRotations");
  const auto next_due = get<std::int64_t>(props, "NextDue");
  if (options.json) {
    json::array list;
    for (const auto& p : profiles) {
      list.push_back(to_json(p));
    }
    json::object doc;
    doc["version"] = get<std::string>(props, "Version");
    doc["running_rotations"] = running;
    doc["next_due"] = next_due == 0 ? json::value(nullptr) : json::value(utc_time(next_due));
    doc["profiles"] = std::move(list);
    print_json(doc);
    return exit_ok;
  }
  Table table({"PROFILE", "STATE", "CURRENT KEY", "SINCE", "LAST ROTATION", "NEXT DUE"});
  std::vector<std::string> problems;
  for (const auto& p : profiles) {
    std::string last = "-";
    if (const auto id = get<std::int64_t>(p, "last_rotation"); id != 0) {
      last = "#" + std::to_string(id) + " " + get<std::string>(p, "last_outcome") + " " +
             local_time(get<std::int64_t>(p, "last_finished"));
      if (get<std::string>(p, "last_outcome") != "succeeded") {
        problems.push_back(get<std::string>(p, "name") + ": rotation " + std::to_string(id) + " " +
                           get<std::string>(p, "last_outcome") + ": " +
                           get<std::string>(p, "last_error"));
      }
    }
    if (const auto n = get<std::int64_t>(p, "unconfirmed_revocations"); n > 0) {
      problems.push_back(get<std::string>(p, "name") + ": " + std::to_string(n) +
                         " old key(s) deleted but not seen refused by S3 (RGW's cache, or a "
                         "finding: see the journal)");
    }
    table.add({get<std::string>(p, "name"), state_of(p),
               or_dash(get<std::string>(p, "current_access")),
               local_time(get<std::int64_t>(p, "current_since")), last,
               get<bool>(p, "enabled", true) ? local_time(get<std::int64_t>(p, "next_due")) : "-"});
  }
  table.print(std::cout);
  for (const auto& line : problems) {
    std::cout << line << "\n";
  }
  return exit_ok;
}

// --- history, keys, verify ---

int cmd_history(Client& client, const Options& options)
{
  const std::string& profile = options.profiles.front();
  std::vector<Dict> rows;
  client.call("History", std::tuple<std::string, std::uint32_t>{profile, options.limit}, rows);
  if (options.json) {
    json::array list;
    for (const auto& r : rows) {
      list.push_back(to_json(r));
    }
    print_json(json::object{{"profile", profile}, {"rotations", std::move(list)}});
    return exit_ok;
  }
  Table table({"ID", "STARTED", "FINISHED", "OUTCOME", "OLD KEY", "NEW KEY", "DETAIL"});
  for (const auto& r : rows) {
    std::string detail = get<std::string>(r, "error");
    if (const auto code = get<std::string>(r, "error_code"); !code.empty()) {
      detail = code + ": " + detail;
    }
    if (const auto note = get<std::string>(r, "note"); !note.empty()) {
      detail += (detail.empty() ? "" : "; ") + note;
    }
    std::string outcome = get<std::string>(r, "outcome");
    if (outcome == "running") {
      outcome += " (" + get<std::string>(r, "phase") + ")";
    }
    table.add({std::to_string(get<std::int64_t>(r, "id")),
               local_time(get<std::int64_t>(r, "started")),
               local_time(get<std::int64_t>(r, "finished")), outcome,
               or_dash(get<std::string>(r, "old_access")),
               or_dash(get<std::string>(r, "new_access")), detail});
  }
  if (rows.empty()) {
    std::cout << "no rotations of " << profile << " yet\n";
    return exit_ok;
  }
  table.print(std::cout);
  return exit_ok;
}

int cmd_keys(Client& client, const Options& options)
{
  const std::string& profile = options.profiles.front();
  std::vector<Dict> keys;
  client.call("Keys", std::tuple<std::string>{profile}, keys);
  if (options.json) {
    json::array list;
    for (const auto& k : keys) {
      list.push_back(to_json(k));
    }
    print_json(json::object{{"profile", profile}, {"keys", std::move(list)}});
    return exit_ok;
  }
  Table table({"ACCESS", "ROLE", "PROJECT"});
  for (const auto& k : keys) {
    std::string role = get<std::string>(k, "role");
    if (role == "not_managed") {
      role = "not managed";
    }
    table.add({get<std::string>(k, "access"), role, get<std::string>(k, "project_id")});
  }
  table.print(std::cout);
  return exit_ok;
}

int cmd_verify(Client& client, const Options& options)
{
  const std::string& profile = options.profiles.front();
  std::string result;
  std::string detail;
  client.call("Verify", std::tuple<std::string>{profile}, result, detail);
  if (options.json) {
    print_json(json::object{{"profile", profile}, {"result", result}, {"detail", detail}});
  } else {
    std::cout << profile << ": " << result << (detail.empty() ? "" : ": " + detail) << "\n";
  }
  return result == "accepted" ? exit_ok : exit_failed;
}

// --- rotate ---

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
      timespec ts{};
      ::clock_gettime(CLOCK_MONOTONIC, &ts);
      const auto mono_us = static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000U +
                           static_cast<std::uint64_t>(ts.tv_nsec) / 1000U;
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

int cmd_rotate(Client& client, const Options& options)
{
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
      if (why.rfind(api::error_name(credrotd::core::Errc::conflict), 0) != 0) {
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
    print_json(json::object{{"rotations", std::move(list)}});
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

// --- check-config ---

std::string find_credrotd()
{
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const auto beside = self.parent_path() / "credrotd";
    if (::access(beside.c_str(), X_OK) == 0) {
      return beside.string();
    }
  }
  return "/usr/sbin/credrotd";
}

int cmd_check_config(const Options& options)
{
  const std::string program = find_credrotd();
  std::vector<std::string> args = {program, "--check-config"};
  if (!options.config_file.empty()) {
    args.push_back("--config");
    args.push_back(options.config_file);
  }
  if (options.user) {
    args.emplace_back("--user");
  }
  std::cout << std::flush;
  const pid_t pid = ::fork();
  if (pid < 0) {
    throw Failure{exit_failed, std::string("fork: ") + std::strerror(errno)};
  }
  if (pid == 0) {
    std::vector<char*> argv;
    for (auto& a : args) {
      argv.push_back(a.data());
    }
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    std::cerr << "credrotctl: cannot run " << program << ": " << std::strerror(errno) << "\n";
    ::_exit(127);
  }
  int wstatus = 0;
  while (::waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0) {
    return exit_ok;
  }
  if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 64) {
    return exit_usage;
  }
  return exit_failed;
}

// --- discover ---

// Reads the host's client files and asks Keystone, as the given cloud, which keys are its own;
// prints (and with --write creates) the proposed drop-in. Talks to Keystone only, never to
// credrotd; reads files, and writes nothing but the new drop-in.
int cmd_discover(const Options& options)
{
  namespace discover = credrotd::discover;
  const auto env = credrotd::config::current_host_environment();
  auto clouds = credrotd::config::load_clouds(
      env, credrotd::config::CloudsFiles{options.clouds_file, options.secure_file});
  if (!clouds) {
    throw Failure{exit_failed, clouds.error().message};
  }
  std::vector<std::string> warnings = clouds->warnings();
  auto auth = clouds->resolve(options.cloud, &warnings);
  if (!auth) {
    throw Failure{exit_failed, auth.error().message};
  }
  for (const auto& w : warnings) {
    std::cerr << "credrotctl: warning: " << w << "\n";
  }
  const std::string cloud = auth->name;
  const auto identity =
      discover::ask_keystone(std::move(*auth), std::chrono::seconds(options.timeout_s));
  if (!identity) {
    throw Failure{exit_failed, "Keystone, as cloud " + cloud + ": " + identity.error().message};
  }
  // Consumer paths must be absolute: a relative --root is taken from the working directory.
  const std::string root = std::filesystem::absolute(options.root).lexically_normal().string();
  const auto scan = discover::scan(discover::ScanOptions{root, options.python_files});
  if (!scan) {
    throw Failure{exit_failed, scan.error().message};
  }
  discover::ProposalOptions proposal_options;
  proposal_options.s3_endpoint =
      options.s3_endpoint.empty() ? identity->s3_endpoint : options.s3_endpoint;
  if (proposal_options.s3_endpoint.empty()) {
    throw Failure{exit_usage, "the catalog of cloud " + cloud +
                                  " has no s3 endpoint: give the S3 endpoint with --s3-endpoint"};
  }
  proposal_options.dropin_path = !options.output.empty()
                                     ? options.output
                                     : credrotd::config::default_config_paths(
                                           env, options.user ? credrotd::config::RunMode::user
                                                             : credrotd::config::RunMode::system)
                                               .dropin_dir +
                                           "/discovered.toml";
  proposal_options.reload_units = discover::under_root(root, "/") == "/"
                                      ? discover::ReloadUnits::yes
                                      : discover::ReloadUnits::no;
  const auto proposal = discover::propose(*scan, *identity, proposal_options);
  if (options.write) {
    if (const auto written =
            discover::write_new_file(proposal_options.dropin_path, proposal.dropin);
        !written) {
      throw Failure{exit_failed, written.error().message};
    }
  }
  if (options.json) {
    auto doc = discover::to_json(proposal, *identity, proposal_options);
    doc["written"] = options.write;
    print_json(doc);
  } else {
    std::cout << proposal.dropin;
  }
  if (options.write) {
    std::cerr << "credrotctl: wrote " << proposal_options.dropin_path << " (" << proposal.profiles
              << " profiles); check it with credrotd --check-config\n";
  }
  return exit_ok;
}

} // namespace

int main(int argc, char** argv)
{
  Options options;
  CLI::App app{"credrotctl: ask credrotd for the state of its profiles, rotate their keys, "
               "verify them, and show their history and keys. Talks to credrotd over D-Bus "
               "(system bus; --user: session bus); discover talks to Keystone only.",
               "credrotctl"};
  app.footer(k_footer);
  app.require_subcommand(1);
  app.fallthrough();
  app.add_flag("--user", options.user, "Talk to the user's credrotd on the session bus");
  app.add_flag("--json", options.json, "Print one JSON document instead of a table");
  app.add_option("--timeout", options.timeout_s,
                 "Seconds to wait for each answer of credrotd (default 120)")
      ->check(CLI::PositiveNumber);
  app.set_version_flag("-V,--version", "credrotctl " CREDROTD_VERSION);

  auto* status = app.add_subcommand("status", "Show every profile (or the named ones): state, "
                                              "current key, last rotation, next due time");
  status->add_option("profile", options.profiles, "Profiles to show (default: all)");

  auto* rotate = app.add_subcommand("rotate", "Rotate the named profiles' keys now (--all: "
                                              "every enabled profile)");
  rotate->add_option("profile", options.profiles, "Profiles to rotate");
  rotate->add_flag("--all", options.all, "Rotate every enabled profile");
  rotate->add_flag("--wait", options.wait,
                   "Follow the rotations until they finish; exit 1 if one failed or rolled back");
  rotate
      ->add_option("--wait-timeout", options.wait_timeout_s,
                   "With --wait: give up after this many seconds (default: no limit; the "
                   "rotation goes on in credrotd)")
      ->check(CLI::NonNegativeNumber);

  auto* verify = app.add_subcommand(
      "verify", "Check that the profile's current key works against its S3 endpoint");
  verify->add_option("profile", options.profiles, "Profile")->required()->expected(1);

  auto* history = app.add_subcommand("history", "Show the profile's rotations, newest first");
  history->add_option("profile", options.profiles, "Profile")->required()->expected(1);
  history->add_option("-n,--limit", options.limit, "At most this many rotations (default 20)")
      ->check(CLI::PositiveNumber);

  auto* keys = app.add_subcommand(
      "keys", "Show the EC2 keys of the profile's user in Keystone: current, previous, not "
              "managed (access ids only)");
  keys->add_option("profile", options.profiles, "Profile")->required()->expected(1);

  auto* reload =
      app.add_subcommand("reload", "Make credrotd re-read its configuration and wait until it has");

  auto* check = app.add_subcommand(
      "check-config", "Validate the configuration offline (runs credrotd --check-config)");
  check->add_option("-c,--config", options.config_file, "Main configuration file");

  auto* disc = app.add_subcommand(
      "discover", "Find the EC2 keys in this host's client files, ask Keystone which belong to "
                  "the cloud's identity, and print a drop-in that rotates them (reads only; "
                  "never prints a secret; needs no credrotd)");
  disc->add_option("--cloud", options.cloud,
                   "The clouds.yaml cloud whose keys to look for (default: $OS_CLOUD, or the "
                   "only cloud)");
  disc->add_option("--clouds-file", options.clouds_file,
                   "clouds.yaml to read (default: the openstack CLI's search path)");
  disc->add_option("--secure-file", options.secure_file, "secure.yaml to read");
  disc->add_option("--s3-endpoint", options.s3_endpoint,
                   "s3_endpoint of the proposed profiles (default: the catalog's s3 endpoint)");
  disc->add_option("--root", options.root,
                   "Look at the host tree mounted here instead of / (its etc/passwd, homes and "
                   "unit files); units found there are not reloaded by the proposal")
      ->check(CLI::ExistingDirectory);
  disc->add_option("--python", options.python_files,
                   "A boto3 script that passes the key inline (repeatable)")
      ->check(CLI::ExistingFile);
  disc->add_flag("--write", options.write,
                 "Also create the drop-in (never replaces an existing file)");
  disc->add_option("-o,--output", options.output,
                   "Path of the drop-in (default /etc/credrotd/credrotd.d/discovered.toml; "
                   "--user: ~/.config/credrotd/credrotd.d/discovered.toml)");

  try {
    app.parse(argc, argv);
    if (rotate->parsed() && options.all == !options.profiles.empty()) {
      throw CLI::ValidationError("rotate", "give one or more profiles, or --all");
    }
    for (const auto& file : options.python_files) {
      if (file.empty() || file.front() != '/') {
        throw CLI::ValidationError("--python", "give an absolute path: " + file);
      }
    }
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? exit_ok : exit_usage;
  }

  try {
    if (check->parsed()) {
      return cmd_check_config(options);
    }
    if (disc->parsed()) {
      return cmd_discover(options);
    }
    Client client(options);
    if (status->parsed()) {
      return cmd_status(client, options);
    }
    if (rotate->parsed()) {
      return cmd_rotate(client, options);
    }
    if (verify->parsed()) {
      return cmd_verify(client, options);
    }
    if (history->parsed()) {
      return cmd_history(client, options);
    }
    if (keys->parsed()) {
      return cmd_keys(client, options);
    }
    if (reload->parsed()) {
      client.call("Reload", std::tuple<>{});
      return exit_ok;
    }
  } catch (const Failure& f) {
    std::cerr << "credrotctl: " << f.message << "\n";
    return f.status;
  } catch (const sdbus::Error& e) {
    const auto f = failure_of(e);
    std::cerr << "credrotctl: " << f.message << "\n";
    return f.status;
  } catch (const std::exception& e) {
    std::cerr << "credrotctl: " << e.what() << "\n";
    return exit_failed;
  }
  return exit_usage;
}
