// SPDX-License-Identifier: Apache-2.0
// The object /io/github/credrotd: implements io.github.credrotd.Manager1 on the engine, and
// turns the engine's events into D-Bus signals and PropertiesChanged.
#pragma once

#include "dbus/api.hpp"
#include "dbus/bus.hpp"
#include "engine/engine.hpp"
#include "engine/state_port.hpp"
#include "systemd/log.hpp"

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <sys/types.h>

namespace credrotd::dbus {

enum class BusMode {
  system, // root, the daemon's own uid and group credrotd may change things
  user,   // the session bus of one user (credrotd --user): only that uid
};

struct ManagerOptions {
  BusMode mode = BusMode::system;
  std::string version;
  // The group whose members may call the mutating methods on the system bus.
  std::string group = "credrotd";
  // How long to wait for the bus driver to say who a caller is.
  std::chrono::milliseconds caller_lookup_timeout = std::chrono::seconds(5);
};

// Whether `caller` may call the mutating methods (Rotate, RotateAll, Reload) of a daemon
// running as `daemon_uid`: in system mode uid 0, daemon_uid, or a user whose primary or
// supplementary groups (getpwuid_r + getgrouplist) include `group`; in user mode daemon_uid
// only. Fails closed: a uid without a passwd entry, a missing group or a failed lookup deny.
// Success: empty string. Denied: why, for the log (never sent to the caller verbatim beyond
// what the uid already says). NSS lookups may block briefly (they are local files on a
// normal host; the daemon's unit has no network name service).
std::string check_caller(uid_t caller, uid_t daemon_uid, BusMode mode, const std::string& group);

// The API object. Construction exports the object on the bridge's connection (sd-bus keeps
// the vtable locally: no bus round trip) and is meant to happen before the bus name is
// requested, so that a client that sees the name finds the object. Destruction removes it.
//
// Every handler runs on the loop thread (inside the bridge). Slow methods (Rotate, RotateAll,
// Verify, Keys, Reload) reply later from a coroutine and never block the loop; the mutating
// ones first ask the bus driver who the caller is (dbus::caller_uid) and check it with
// check_caller(). Errors go out as io.github.credrotd.Error.<Code> (api.hpp).
//
// The engine, the state and the logger must outlive the Manager; the Manager must be
// destroyed before the bridge and the connection. `reload` re-reads the configuration (as
// SIGHUP does) and returns the error to send to the caller, if any.
class Manager {
public:
  Manager(BusBridge& bridge, engine::Engine& engine, const engine::StatePort& state,
          const systemd::Logger& logger, std::function<core::Status()> reload,
          ManagerOptions options);
  ~Manager();
  Manager(const Manager&) = delete;
  Manager& operator=(const Manager&) = delete;

  // Sends RotationStarted, PhaseChanged, RotationFinished and PropertiesChanged (for Profiles,
  // RunningRotations and NextDue, when their values change). Add it to the daemon's
  // FanOutObserver. Never throws into the engine: a failure to emit is logged.
  engine::Observer& observer() noexcept;

  struct Impl;

private:
  std::shared_ptr<Impl> m_impl;
};

} // namespace credrotd::dbus
