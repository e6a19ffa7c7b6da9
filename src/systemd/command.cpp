// SPDX-License-Identifier: Apache-2.0
// run_command(): fork/exec (the child's setup is in command_spawn), a pidfd-based
// asynchronous wait, the deadline and process-group kill, and the redacted output tail
// (command_output) in error messages.
#include "systemd/command.hpp"

#include "core/fd.hpp"
#include "core/secret.hpp"
#include "core/text.hpp"
#include "systemd/command_output.hpp"
#include "systemd/command_spawn.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <optional>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace credrotd::systemd {

namespace asio = boost::asio;
using namespace boost::asio::experimental::awaitable_operators;
using core::Errc;
using core::make_error;

namespace {

constexpr auto k_tuple = asio::as_tuple(asio::use_awaitable);

// How long to wait for a SIGKILLed group leader to exit before giving up on reaping it (a
// process stuck in uninterruptible sleep); it then stays a zombie until the daemon exits.
constexpr std::chrono::seconds k_kill_grace{5};

// glibc 2.36's <sys/pidfd.h> lacks extern "C" (fixed in 2.37): call the system call itself.
int open_pidfd(pid_t pid)
{
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0U));
}

std::string errno_text(int error)
{
  return std::strerror(error);
}

std::string signal_name(int sig)
{
  if (const char* abbrev = ::sigabbrev_np(sig); abbrev != nullptr) {
    return std::string("SIG") + abbrev;
  }
  return std::to_string(sig);
}

// Kills and reaps the child if the coroutine leaves before it was reaped (error paths,
// cancellation, destruction of the frame at shutdown).
struct ChildGuard {
  pid_t pid = -1;
  bool reaped = false;
  bool abandoned = false;

  void kill_group() const noexcept
  {
    ::kill(-pid, SIGKILL);
    ::kill(pid, SIGKILL); // in case it had not become a group leader yet
  }

  ~ChildGuard()
  {
    if (reaped || pid <= 0) {
      return;
    }
    kill_group();
    if (abandoned) {
      return;
    }
    siginfo_t info{};
    while (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED) != 0 && errno == EINTR) {
    }
  }
};

// Collects the exit status of a child that the pidfd reported as exited.
std::optional<siginfo_t> reap(ChildGuard& child)
{
  siginfo_t info{};
  while (::waitid(P_PID, static_cast<id_t>(child.pid), &info, WEXITED | WNOHANG) != 0) {
    if (errno != EINTR) {
      return std::nullopt;
    }
  }
  if (info.si_pid == 0) {
    return std::nullopt;
  }
  child.reaped = true;
  return info;
}

// Reads what is available without blocking. Returns false at end of file or on error.
bool drain(asio::posix::stream_descriptor& output, OutputTail& tail, std::array<char, 4096>& buffer)
{
  while (true) {
    boost::system::error_code ec;
    const std::size_t n = output.read_some(asio::buffer(buffer), ec);
    if (n > 0) {
      tail.append(buffer.data(), n);
    }
    if (ec == asio::error::would_block || ec == asio::error::try_again) {
      return true;
    }
    if (ec) {
      return false;
    }
  }
}

// co_await throws operation_aborted once the coroutine's cancellation was requested (Asio's
// throw_if_cancelled, which belongs to the caller's whole coroutine chain): check before each
// suspension, so that cancellation comes back as Errc::cancelled, a value.
bool cancel_requested(const asio::cancellation_state& state)
{
  return state.cancelled() != asio::cancellation_type::none;
}

core::Error wait_failed(const std::string& prefix, const boost::system::error_code& ec)
{
  if (ec == asio::error::operation_aborted) {
    return make_error(Errc::cancelled, prefix + ": cancelled");
  }
  return make_error(Errc::internal, prefix + ": cannot wait for it: " + ec.message());
}

} // namespace

asio::awaitable<core::Status> run_command(asio::any_io_executor executor, CommandSpec spec)
{
  const std::string prefix =
      spec.label + " " + (spec.argv.empty() ? std::string("(none)") : spec.argv.front());
  CREDROTD_CO_TRY(validate(spec, prefix));
  CREDROTD_CO_TRY_ASSIGN(const Identity id, resolve_identity(spec.user, prefix));
  const auto timeout = std::max(spec.timeout, std::chrono::milliseconds(1));

  CREDROTD_CO_TRY_ASSIGN(Spawned spawned, spawn(spec, id, prefix));
  ChildGuard child{spawned.pid};
  core::Fd pidfd(open_pidfd(spawned.pid));
  if (pidfd.get() < 0) {
    co_return make_error(Errc::io, prefix + ": cannot execute: pidfd_open: " + errno_text(errno));
  }
  asio::posix::stream_descriptor exited(executor, pidfd.release());
  asio::posix::stream_descriptor errors(executor, spawned.errors.release());
  asio::posix::stream_descriptor output(executor, spawned.output.release());
  output.non_blocking(true);
  asio::steady_timer deadline(executor);
  deadline.expires_after(timeout);

  std::size_t longest = 0;
  for (const auto needle : spec.redact) {
    longest = std::max(longest, needle.size());
  }
  OutputTail tail(k_command_output_tail, longest > 0 ? longest - 1 : 0);
  std::array<char, 4096> buffer{};
  struct WipeBuffer {
    std::array<char, 4096>& buffer;
    ~WipeBuffer() { core::wipe(buffer.data(), buffer.size()); }
  } wipe_buffer{buffer};

  // 1. Did exec succeed? The error pipe reaches end of file at exec (CLOEXEC), or carries
  //    an ExecFailure.
  ExecFailure failure{};
  bool timed_out = false;
  {
    if (cancel_requested(co_await asio::this_coro::cancellation_state)) {
      co_return make_error(Errc::cancelled, prefix + ": cancelled");
    }
    auto outcome =
        co_await (asio::async_read(errors, asio::buffer(&failure, sizeof failure), k_tuple) ||
                  deadline.async_wait(k_tuple));
    if (outcome.index() == 0) {
      auto [ec, n] = std::get<0>(outcome);
      if (ec == asio::error::operation_aborted) {
        co_return make_error(Errc::cancelled, prefix + ": cancelled");
      }
      if (n == sizeof failure) {
        if (cancel_requested(co_await asio::this_coro::cancellation_state)) {
          co_return make_error(Errc::cancelled, prefix + ": cancelled");
        }
        auto [wait_ec] =
            co_await exited.async_wait(asio::posix::descriptor_base::wait_read, k_tuple);
        if (!wait_ec) {
          reap(child);
        }
        const std::string reason = errno_text(failure.error);
        if (failure.stage == Stage::user) {
          co_return make_error(Errc::io,
                               prefix + ": cannot run as user " + id.name + ": " + reason);
        }
        if (failure.stage == Stage::privileges) {
          co_return make_error(Errc::io, prefix + ": cannot drop every capability: " + reason);
        }
        co_return make_error(Errc::io, prefix + ": cannot execute: " + reason);
      }
    } else {
      auto [ec] = std::get<1>(outcome);
      if (ec) {
        co_return make_error(Errc::cancelled, prefix + ": cancelled");
      }
      timed_out = true;
    }
  }
  errors.close();

  // 2. Collect output until the program exits or the deadline passes.
  bool output_open = true;
  std::optional<siginfo_t> status;
  while (!timed_out && !status) {
    if (cancel_requested(co_await asio::this_coro::cancellation_state)) {
      co_return make_error(Errc::cancelled, prefix + ": cancelled");
    }
    if (output_open) {
      auto event = co_await (output.async_wait(asio::posix::descriptor_base::wait_read, k_tuple) ||
                             exited.async_wait(asio::posix::descriptor_base::wait_read, k_tuple) ||
                             deadline.async_wait(k_tuple));
      const auto [ec] = std::visit([](auto& t) { return t; }, event);
      if (ec) {
        co_return wait_failed(prefix, ec);
      }
      if (event.index() == 0) {
        output_open = drain(output, tail, buffer);
        continue;
      }
      if (event.index() == 2) {
        timed_out = true;
        break;
      }
    } else {
      auto event = co_await (exited.async_wait(asio::posix::descriptor_base::wait_read, k_tuple) ||
                             deadline.async_wait(k_tuple));
      const auto [ec] = std::visit([](auto& t) { return t; }, event);
      if (ec) {
        co_return wait_failed(prefix, ec);
      }
      if (event.index() == 1) {
        timed_out = true;
        break;
      }
    }
    // The program exited: what it wrote before is already in the pipe.
    if (output_open) {
      drain(output, tail, buffer);
    }
    status = reap(child);
    if (!status) {
      co_return make_error(Errc::internal,
                           prefix + ": cannot collect its exit status: " + errno_text(errno));
    }
  }

  if (timed_out) {
    child.kill_group();
    if (cancel_requested(co_await asio::this_coro::cancellation_state)) {
      co_return make_error(Errc::cancelled, prefix + ": cancelled"); // the guard reaps it
    }
    deadline.expires_after(k_kill_grace);
    auto event = co_await (exited.async_wait(asio::posix::descriptor_base::wait_read, k_tuple) ||
                           deadline.async_wait(k_tuple));
    if (output_open) {
      drain(output, tail, buffer);
    }
    if (event.index() == 0 && !std::get<0>(std::get<0>(event))) {
      reap(child);
    } else {
      child.abandoned = true; // stuck in the kernel: do not block the loop on it
    }
    co_return make_error(Errc::timeout, with_output(prefix + " killed after " +
                                                        core::duration_text(timeout) + " timeout",
                                                    tail, spec.redact));
  }

  if (status->si_code == CLD_EXITED) {
    if (status->si_status == 0) {
      co_return core::Status{};
    }
    co_return make_error(Errc::protocol, with_output(fmt::format("{} exited with status {}", prefix,
                                                                 status->si_status),
                                                     tail, spec.redact));
  }
  co_return make_error(Errc::protocol, with_output(prefix + " was killed by signal " +
                                                       signal_name(status->si_status),
                                                   tail, spec.redact));
}

} // namespace credrotd::systemd
