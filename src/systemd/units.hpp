// SPDX-License-Identifier: Apache-2.0
// Reloads or restarts systemd units through org.freedesktop.systemd1 and waits for each
// job's result, asynchronously on the daemon's loop.
#pragma once

#include "core/error.hpp"
#include "dbus/bus.hpp"

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace credrotd::systemd {

using dbus::BusBridge;
using dbus::Task;

// What to do to a unit; each maps to one org.freedesktop.systemd1.Manager method, always
// with mode "replace".
enum class UnitVerb {
  reload,            // ReloadUnit: fails on a unit that cannot reload or is not running
  restart,           // RestartUnit: starts it when it is not running
  try_restart,       // TryRestartUnit: restarts only when running
  reload_or_restart, // ReloadOrRestartUnit
};

// "reload", "restart", "try-restart", "reload-or-restart" (the config file's spelling).
std::string_view to_string(UnitVerb verb) noexcept;
std::optional<UnitVerb> parse_unit_verb(std::string_view text) noexcept;

struct UnitAction {
  std::string unit; // "nginx.service", "rclone@backup.service"
  UnitVerb verb = UnitVerb::reload;
};

// Checks a unit name by systemd's rules: at most 255 characters of [A-Za-z0-9:_.\-@]
// (and '\'), a non-empty name, a known type suffix (.service, .socket, .target, .mount,
// .automount, .swap, .path, .timer, .slice, .scope, .device), and, with '@', a non-empty
// template prefix and instance: a template ("foo@.service") cannot be acted on.
// Errors: config, naming the unit and the rule it breaks.
core::Status validate_unit_name(std::string_view name);

// Each unit once, at the position where it first appears. When a unit is listed with
// different verbs, the strongest wins: restart > try-restart > reload-or-restart > reload.
// Any restart wins over a reload because it makes a running program re-read its files
// whatever it supports; try-restart wins over reload-or-restart (they differ only for a
// stopped unit) so that a unit the operator keeps stopped is not started.
std::vector<UnitAction> merge_unit_actions(std::vector<UnitAction> actions);

// The systemd manager as seen from one bus connection, with the JobRemoved subscription
// that act_on_units() needs.
//
// Construction registers the match for JobRemoved signals: sdbus-c++ 1.2.0 offers no
// asynchronous AddMatch, so this is one synchronous round trip to the bus driver (not to
// systemd). Create it at start-up, next to the connection, before the loop serves requests.
// The bridge must outlive it; it must outlive every act_on_units() call in flight.
class SystemdUnits {
public:
  struct Impl;

  // Errors: transient when the match cannot be added (the bus connection is broken).
  static core::Result<std::unique_ptr<SystemdUnits>> create(BusBridge& bridge);
  ~SystemdUnits();
  SystemdUnits(const SystemdUnits&) = delete;
  SystemdUnits& operator=(const SystemdUnits&) = delete;

  const std::shared_ptr<Impl>& impl() const noexcept { return m_impl; }

private:
  explicit SystemdUnits(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> m_impl;
};

// Acts on each unit once (merge_unit_actions), in order, one after the other: Subscribe()
// (so that systemd emits job signals; "already subscribed" is fine), then for each unit the
// Manager method, then waits for the JobRemoved signal of the job it returned. Only signals
// from the sender that returned the job count (another local process cannot fake a
// completion), and a job that completes before its reply arrives is still seen. Stops at the
// first failure: the engine rolls back and acts on the units again anyway.
//
// Success: every job's result was "done" (an empty list succeeds without a call). Errors:
//   config     an invalid unit name; checked for all units before any call
//   timeout    `timeout` (for the whole list) passed; the job may still be queued in systemd;
//              also a job result "timeout"
//   transient  systemd is not on the bus (ServiceUnknown) or the connection broke; a job
//              result "canceled" (another job replaced ours)
//   not_found  NoSuchUnit; forbidden: AccessDenied (polkit or bus policy)
//   protocol   any other job result (failed, dependency, skipped, ...) or D-Bus error
// Messages name the unit and the verb: "restart of nginx.service failed: systemd job result
// 'failed' (see journalctl -u nginx.service)".
Task<core::Status> act_on_units(SystemdUnits& systemd, std::vector<UnitAction> actions,
                                std::chrono::milliseconds timeout);

} // namespace credrotd::systemd
