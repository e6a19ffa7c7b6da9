// SPDX-License-Identifier: Apache-2.0
// credrotctl's D-Bus connection to credrotd: synchronous calls, each with a timeout.
#pragma once

#include "ctl/ctl.hpp"
#include "dbus/api.hpp"

#include <sdbus-c++/sdbus-c++.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <tuple>

namespace credrotd::ctl {

// The dictionaries credrotd sends (a{sv}).
using Dict = std::map<std::string, sdbus::Variant>;

// The exit status for a D-Bus error name the bus or the daemon sent.
int status_of(const std::string& error_name);
// The Failure a D-Bus error ends the command with; names the missing daemon when nobody owns
// the bus name.
Failure failure_of(const sdbus::Error& e);

// A separate, short-lived process: unlike the daemon it may block on the bus, so it uses
// sdbus-c++'s synchronous calls. Throws Failure (exit_unreachable) when there is no bus.
class Client {
public:
  explicit Client(const Options& options);

  sdbus::IConnection& connection() { return *m_connection; }
  std::chrono::microseconds timeout() const { return m_timeout; }

  // Calls `method` with `args` and stores the reply's values into `results`. Throws Failure.
  template <class... Args, class... Results>
  void call(const char* method, std::tuple<Args...> args, Results&... results)
  {
    try {
      // MethodInvoker keeps a reference to the name: it must outlive the invoker.
      const std::string name(method);
      auto invoker = m_proxy->callMethod(name);
      invoker.onInterface(dbus::k_interface).withTimeout(m_timeout);
      std::apply([&](auto&... a) { invoker.withArguments(a...); }, args);
      invoker.storeResultsTo(results...);
    } catch (const sdbus::Error& e) {
      throw failure_of(e);
    }
  }

  // The Manager1 properties (Version, RunningRotations, NextDue). Throws Failure.
  Dict properties();

private:
  std::chrono::microseconds m_timeout;
  std::unique_ptr<sdbus::IConnection> m_connection;
  std::unique_ptr<sdbus::IProxy> m_proxy;
};

} // namespace credrotd::ctl
