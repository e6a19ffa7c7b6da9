// SPDX-License-Identifier: Apache-2.0
// A private system-like bus, the real credrotd on it against the local Keystone + Swift, and
// the clients (busctl, credrotctl) run as any user, for the D-Bus integration tests.
#pragma once

#include "process.hpp"

#include <boost/json.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace credrotd::dbus_test {

using consumers::test::Output;

struct Key {
  std::string access;
  std::string secret;
};

struct RigOptions {
  // A second profile, "failing", whose consumer check always fails (/bin/false), with a short
  // verify_timeout: its rotations roll back.
  bool failing_profile = false;
  bool user_mode = false; // credrotd --user on a session-type bus (DBUS_SESSION_BUS_ADDRESS)
};

// Everything lives in a temporary directory (mode 0755 so that unprivileged clients reach
// the bus socket), removed at the end. The bus configuration copies Debian's system.conf
// semantics (default deny of method calls and ownership), includes systemd/
// io.github.credrotd.conf, and adds one test policy: user `daemon` (uid 1) may send to
// io.github.credrotd, so that the daemon's own uid check can be seen refusing it; `nobody` is
// left to the policy, which refuses it. Processes are stopped by PID in the destructor; the
// keys left in the consumer files are deleted from Keystone.
class Rig {
public:
  explicit Rig(RigOptions options = {});
  ~Rig();
  Rig(const Rig&) = delete;
  Rig& operator=(const Rig&) = delete;

  const std::filesystem::path& dir() const { return m_dir; }
  const std::string& address() const { return m_address; }
  std::filesystem::path consumer(const std::string& profile) const;
  std::filesystem::path config() const { return m_dir / "credrotd.toml"; }

  // The key an s3cmd file holds now.
  Key key_in(const std::filesystem::path& s3cfg);

  // credrotctl (as root, or via setpriv as `user`), busctl --address; outputs are kept for
  // the secret check.
  Output ctl(const std::vector<std::string>& args, const std::string& user = "");
  Output busctl(const std::vector<std::string>& args, const std::string& user = "");

  // busctl monitor --json=short of what io.github.credrotd sends, into a file; returns once
  // the monitor is active.
  void start_monitor();
  // The JSON messages seen so far.
  std::vector<boost::json::object> monitored();
  // Waits (bounded) until a RotationFinished signal for `rotation` was seen.
  std::optional<boost::json::object> wait_finished(std::int64_t rotation,
                                                   std::chrono::seconds limit);

  // s3cmd ls with exactly this config file (env -i); true when S3 accepted the key.
  bool s3_accepts(const std::filesystem::path& s3cfg);

  // Stops credrotd (SIGTERM, bounded wait).
  void stop_daemon();
  bool daemon_running();
  std::string daemon_log() const;

  // Fails the test if any output captured so far, the daemon's log or the monitor's log
  // contains a secret that was in a consumer file.
  void check_no_secret();

private:
  void start_bus();
  void start_daemon();
  Key create_key();
  std::string record(const Output& o);

  RigOptions m_options;
  std::filesystem::path m_dir;
  std::string m_address;
  std::optional<consumers::test::Background> m_bus;
  std::optional<consumers::test::Background> m_daemon;
  std::optional<consumers::test::Background> m_monitor;
  std::vector<std::string> m_secrets;
  std::string m_transcript;
  std::vector<std::string> m_profiles;
};

// Parses a JSON document or fails the test with the text.
boost::json::value parse_json(const std::string& text);

} // namespace credrotd::dbus_test
