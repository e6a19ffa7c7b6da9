// SPDX-License-Identifier: Apache-2.0
// sd_notify messages and the watchdog timer, received on a socket the test binds as
// $NOTIFY_SOCKET.
#include "../config/temp_dir.hpp"
#include "systemd/notify.hpp"

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

using namespace std::chrono_literals;
using credrotd::systemd::Notifier;
using credrotd::test::TempDir;

namespace {

// A datagram socket bound in a temp dir and named by $NOTIFY_SOCKET while it lives (and the
// WATCHDOG_* variables cleared, then restored as they were: unset).
class NotifySocket {
public:
  NotifySocket()
  {
    const std::string path = m_dir / "notify";
    m_fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    REQUIRE(path.size() < sizeof address.sun_path);
    std::strcpy(address.sun_path, path.c_str());
    REQUIRE(m_fd >= 0);
    REQUIRE(::bind(m_fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    ::setenv("NOTIFY_SOCKET", path.c_str(), 1);
  }
  NotifySocket(const NotifySocket&) = delete;
  NotifySocket& operator=(const NotifySocket&) = delete;
  ~NotifySocket()
  {
    ::unsetenv("NOTIFY_SOCKET");
    ::unsetenv("WATCHDOG_USEC");
    ::unsetenv("WATCHDOG_PID");
    ::close(m_fd);
  }

  // The next message, or nullopt when none comes within `limit`.
  std::optional<std::string> receive(std::chrono::milliseconds limit = 2s) const
  {
    pollfd p{m_fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(limit.count())) != 1) {
      return std::nullopt;
    }
    char buf[4096];
    const auto n = ::recv(m_fd, buf, sizeof buf, 0);
    REQUIRE(n >= 0);
    return std::string(buf, static_cast<std::size_t>(n));
  }

private:
  TempDir m_dir;
  int m_fd = -1;
};

} // namespace

TEST_CASE("readiness, status, reloading and stopping reach the service manager", "[notify]")
{
  NotifySocket manager;
  boost::asio::io_context io;
  Notifier notifier(io.get_executor());
  notifier.ready("2 profiles, next rotation in 3d");
  CHECK(manager.receive() == "READY=1\nSTATUS=2 profiles, next rotation in 3d");
  notifier.status("rotating backup");
  CHECK(manager.receive() == "STATUS=rotating backup");
  notifier.reloading();
  CHECK(manager.receive() == "RELOADING=1");
  notifier.stopping();
  CHECK(manager.receive() == "STOPPING=1");
  CHECK_FALSE(manager.receive(50ms));
}

TEST_CASE("without a service manager every notice is a no-op", "[notify]")
{
  ::unsetenv("NOTIFY_SOCKET");
  ::unsetenv("WATCHDOG_USEC");
  boost::asio::io_context io;
  Notifier notifier(io.get_executor());
  notifier.ready("ready");
  notifier.status("status");
  notifier.start_watchdog();
  CHECK_FALSE(notifier.watchdog_interval());
  CHECK(io.poll() == 0); // no timer armed
}

TEST_CASE("with a watchdog the notifier pings at half of WatchdogSec", "[notify]")
{
  NotifySocket manager;
  ::setenv("WATCHDOG_USEC", "200000", 1);
  ::setenv("WATCHDOG_PID", std::to_string(::getpid()).c_str(), 1);
  boost::asio::io_context io;
  Notifier notifier(io.get_executor());
  notifier.start_watchdog();
  REQUIRE(notifier.watchdog_interval() == std::chrono::microseconds(200000));

  // Two pings, each half an interval (100 ms) after the last; bounded on a loaded machine.
  const auto start = std::chrono::steady_clock::now();
  int pings = 0;
  while (pings < 2 && std::chrono::steady_clock::now() - start < 10s) {
    io.run_one_for(1s);
    while (const auto message = manager.receive(0ms)) {
      CHECK(*message == "WATCHDOG=1");
      ++pings;
    }
  }
  CHECK(pings == 2);
  CHECK(std::chrono::steady_clock::now() - start >= 200ms);
}

TEST_CASE("a watchdog meant for another process is not ours to ping", "[notify]")
{
  NotifySocket manager;
  ::setenv("WATCHDOG_USEC", "200000", 1);
  ::setenv("WATCHDOG_PID", "1", 1);
  boost::asio::io_context io;
  Notifier notifier(io.get_executor());
  notifier.start_watchdog();
  CHECK_FALSE(notifier.watchdog_interval());
  io.run_for(150ms);
  CHECK_FALSE(manager.receive(0ms));
}
