// SPDX-License-Identifier: Apache-2.0
// credrotctl's D-Bus connection, and what each D-Bus error means for its exit status.
#include "ctl/client.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <set>

namespace credrotd::ctl {

int status_of(const std::string& error_name)
{
  static const std::set<std::string> unreachable = {
      "org.freedesktop.DBus.Error.ServiceUnknown",  "org.freedesktop.DBus.Error.NameHasNoOwner",
      "org.freedesktop.DBus.Error.NoReply",         "org.freedesktop.DBus.Error.Timeout",
      "org.freedesktop.DBus.Error.TimedOut",        "org.freedesktop.DBus.Error.Disconnected",
      "org.freedesktop.DBus.Error.NoServer",        "org.freedesktop.DBus.Error.FileNotFound",
      "org.freedesktop.DBus.Error.NoNetwork",       "org.freedesktop.DBus.Error.UnknownObject",
      "org.freedesktop.DBus.Error.UnknownInterface"};
  static const std::set<std::string> denied = {
      dbus::k_access_denied, "org.freedesktop.DBus.Error.AccessDenied",
      "org.freedesktop.DBus.Error.AuthFailed", "org.freedesktop.DBus.Error.EACCES"};
  if (denied.count(error_name) != 0) {
    return exit_denied;
  }
  if (error_name == dbus::error_name(core::Errc::not_found)) {
    return exit_not_found;
  }
  return unreachable.count(error_name) != 0 ? exit_unreachable : exit_failed;
}

Failure failure_of(const sdbus::Error& e)
{
  std::string message = e.getMessage();
  if (e.getName() == "org.freedesktop.DBus.Error.ServiceUnknown" ||
      e.getName() == "org.freedesktop.DBus.Error.NameHasNoOwner") {
    message = fmt::format("credrotd is not running (nobody owns {} on this bus): {}",
                          dbus::k_bus_name, message);
  }
  return Failure{status_of(e.getName()), fmt::format("{} [{}]", message, e.getName())};
}

Client::Client(const Options& options)
    : m_timeout(std::chrono::seconds(std::max(1, options.timeout_s)))
{
  try {
    m_connection =
        options.user ? sdbus::createSessionBusConnection() : sdbus::createSystemBusConnection();
  } catch (const sdbus::Error& e) {
    throw Failure{exit_unreachable,
                  fmt::format("cannot connect to the {} bus: {} [{}]",
                              options.user ? "session" : "system", e.getMessage(), e.getName())};
  }
  m_proxy = sdbus::createProxy(*m_connection, dbus::k_bus_name, dbus::k_object_path);
}

Dict Client::properties()
{
  Dict props;
  try {
    m_proxy->callMethod("GetAll")
        .onInterface("org.freedesktop.DBus.Properties")
        .withTimeout(m_timeout)
        .withArguments(std::string(dbus::k_interface))
        .storeResultsTo(props);
  } catch (const sdbus::Error& e) {
    throw failure_of(e);
  }
  return props;
}

} // namespace credrotd::ctl
