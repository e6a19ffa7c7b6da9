// SPDX-License-Identifier: Apache-2.0
// Test support for unit_dbus and unit_systemd: a private dbus-daemon, running coroutines to
// completion on an io_context with a bound, and process inspection.
#pragma once

#include "../config/temp_dir.hpp" // TempDir: one class of that name in the tests
#include "core/error.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>

#include <chrono>
#include <ctime>
#include <exception>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <sys/types.h>
#include <vector>

namespace credrotd::test {

// A dbus-daemon with a generated session-like configuration on a socket in a temporary
// directory that every local user may connect to (the tests run clients as nobody). Started
// from the constructor (which waits, bounded, until the daemon prints its address) and
// stopped by PID in the destructor. Throws std::runtime_error when it cannot start.
class PrivateBus {
public:
  PrivateBus();
  ~PrivateBus();
  PrivateBus(const PrivateBus&) = delete;
  PrivateBus& operator=(const PrivateBus&) = delete;

  const std::string& address() const noexcept { return m_address; }
  pid_t pid() const noexcept { return m_pid; }
  // Stops the daemon now (SIGTERM, then SIGKILL after a bounded wait) and reaps it.
  void stop();

private:
  TempDir m_dir;
  std::string m_address;
  pid_t m_pid = -1;
};

// Runs the io_context until `done()` holds or `limit` passes; returns done().
template <class Done>
bool run_until(boost::asio::io_context& io, Done done,
               std::chrono::milliseconds limit = std::chrono::seconds(20))
{
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    io.run_one_for(std::chrono::milliseconds(50));
    if (io.stopped()) {
      io.restart();
    }
  }
  return done();
}

// The result of a coroutine spawned with spawn().
template <class T> struct Outcome {
  bool done = false;
  std::optional<T> value;
  std::exception_ptr error;
};

template <class T> struct StoreOutcome {
  Outcome<T>* outcome;
  void operator()(std::exception_ptr error, T value) const
  {
    outcome->done = true;
    outcome->error = error;
    if (!error) {
      outcome->value.emplace(std::move(value));
    }
  }
};

template <class T, class Executor>
void spawn(const Executor& executor, boost::asio::awaitable<T> task, Outcome<T>& outcome)
{
  boost::asio::co_spawn(executor, std::move(task), StoreOutcome<T>{&outcome});
}

// Runs one coroutine to completion (bounded) and returns its value; throws if it threw or
// did not finish.
template <class T>
T run_task(boost::asio::io_context& io, boost::asio::awaitable<T> task,
           std::chrono::milliseconds limit = std::chrono::seconds(20))
{
  Outcome<T> outcome;
  spawn(io.get_executor(), std::move(task), outcome);
  if (!run_until(
          io, [&outcome] { return outcome.done; }, limit)) {
    throw std::runtime_error("the coroutine did not finish in time");
  }
  if (outcome.error) {
    std::rethrow_exception(outcome.error);
  }
  return std::move(*outcome.value);
}

// PIDs of the processes whose parent is this process (from /proc).
std::vector<pid_t> children_of_self();

// True when the process is gone or a zombie (killed, waiting for its parent to reap it).
bool is_dead(pid_t pid);

// Polls `pred` until it holds or `limit` passes (for state outside the io_context).
template <class Pred> bool wait_for(Pred pred, std::chrono::milliseconds limit)
{
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      return false;
    }
    struct timespec pause {
      0, 10'000'000
    };
    nanosleep(&pause, nullptr);
  }
  return true;
}

} // namespace credrotd::test

// Results print as "ok" or "code: message" in Catch's failure reports.
namespace Catch {
template <class T> struct StringMaker<boost::system::result<T, credrotd::core::Error>> {
  static std::string convert(const boost::system::result<T, credrotd::core::Error>& r)
  {
    return r ? std::string("ok") : r.error().describe();
  }
};
} // namespace Catch
