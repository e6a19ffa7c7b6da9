// SPDX-License-Identifier: Apache-2.0
// sd_notify calls and the watchdog timer.
#include "systemd/notify.hpp"

#include <systemd/sd-daemon.h>

namespace credrotd::systemd {

Notifier::Notifier(boost::asio::any_io_executor executor) : m_timer(std::move(executor)) {}

void Notifier::ready(const std::string& text)
{
  sd_notify(0, ("READY=1\nSTATUS=" + text).c_str());
}

void Notifier::status(const std::string& text)
{
  sd_notify(0, ("STATUS=" + text).c_str());
}

void Notifier::reloading()
{
  sd_notify(0, "RELOADING=1");
}

void Notifier::stopping()
{
  sd_notify(0, "STOPPING=1");
}

void Notifier::start_watchdog()
{
  std::uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) {
    return;
  }
  m_watchdog = std::chrono::microseconds(usec);
  arm();
}

void Notifier::arm()
{
  m_timer.expires_after(*m_watchdog / 2);
  m_timer.async_wait([this](boost::system::error_code ec) {
    if (ec) {
      return;
    }
    sd_notify(0, "WATCHDOG=1");
    arm();
  });
}

} // namespace credrotd::systemd
