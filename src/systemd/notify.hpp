// SPDX-License-Identifier: Apache-2.0
// sd_notify: readiness, status, reload and stop notices, and the watchdog ping.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <optional>
#include <string>

namespace credrotd::systemd {

// Talks to the service manager through $NOTIFY_SOCKET; every call is a no-op when the
// daemon was not started by systemd (no socket), so the same code runs under tests.
class Notifier {
public:
  explicit Notifier(boost::asio::any_io_executor executor);

  void ready(const std::string& status);
  void status(const std::string& status);
  void reloading();
  void stopping();

  // Starts pinging WATCHDOG=1 at half of WatchdogSec when the unit has a watchdog: one timer,
  // the only periodic wake-up of an idle daemon.
  void start_watchdog();
  std::optional<std::chrono::microseconds> watchdog_interval() const noexcept { return m_watchdog; }

private:
  void arm();

  boost::asio::steady_timer m_timer;
  std::optional<std::chrono::microseconds> m_watchdog;
};

} // namespace credrotd::systemd
