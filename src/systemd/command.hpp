// SPDX-License-Identifier: Apache-2.0
// Runs a program (a consumer's check, a reload command) with a deadline: no shell, a clean
// environment, optionally as another user, without blocking the loop.
#pragma once

#include "core/error.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace credrotd::systemd {

// How much of the end of a command's combined stdout+stderr an error message quotes.
inline constexpr std::size_t k_command_output_tail = 2048;

struct CommandSpec {
  // argv[0] is an absolute path to the program; no shell, no $PATH search. Never a secret
  // (argv is visible to every local user in /proc).
  std::vector<std::string> argv;
  // The user to run as (a name from the passwd database). Empty: the daemon's own user.
  // Another user needs CAP_SETUID/CAP_SETGID (the system unit keeps both); without them the
  // command fails with "cannot run as user ...: Operation not permitted".
  std::string user;
  // From the start of the program until it has exited; then the whole process group is
  // killed with SIGKILL.
  std::chrono::milliseconds timeout{30'000};
  // The first word of error messages: "check", "reload command".
  std::string label = "command";
  // Extra KEY=VALUE entries added to (or replacing entries of) the clean environment, e.g.
  // AWS_SHARED_CREDENTIALS_FILE for a check. Never a secret.
  std::vector<std::string> environment;
  // Strings replaced by "<redacted>" wherever they occur in captured output before it goes
  // into a message. The viewed strings must outlive the co_await of run_command().
  std::vector<std::string_view> redact;
};

// Runs spec.argv[0] with spec.argv as arguments and waits for it to exit, asynchronously.
//
// The child: stdin is /dev/null; stdout and stderr go to one pipe whose last
// k_command_output_tail bytes are kept; it leads its own process group; every other fd is
// closed; signal dispositions and mask are reset; the working directory is "/"; the
// environment is exactly PATH=/usr/sbin:/usr/bin:/sbin:/bin, HOME=<the user's home>,
// USER and LOGNAME=<the user>, LANG=C.UTF-8, AWS_EC2_METADATA_DISABLED=true (an S3 client
// never reaches for a cloud metadata service), then spec.environment. Nothing is inherited.
// With spec.user, the child takes that user's groups (as initgroups would), gid and uid
// before exec. Whoever it runs as, it runs with no capability in any set (bounding,
// permitted, effective, inheritable, ambient) and with no_new_privs; emptying the bounding
// set needs CAP_SETPCAP, and a daemon that lacks it but holds any capability refuses to run
// the command ("cannot drop every capability").
//
// Success: the program exited with status 0. Errors (messages start with
// "<label> <argv[0]>"; output is redacted, made printable and kept on one line):
//   config   argv empty, argv[0] not absolute, a malformed environment entry, unknown user
//   io       the program could not be started: "...: cannot execute: No such file or
//            directory", "...: cannot run as user nobody: Operation not permitted"
//   protocol the program ran and failed: "... exited with status 1: <output tail>" or
//            "... was killed by signal SIGSEGV: <output tail>". The engine treats this as
//            a failed check (roll back); it is not transient, so it is not retried blindly.
//   timeout  "... killed after 30 s timeout: <output tail>"; the group was SIGKILLed and
//            the child reaped.
// Processes that the program leaves behind in its group after exiting normally are not
// waited for. If the coroutine is destroyed or cancelled while the child runs, the group is
// SIGKILLed and the child reaped (a brief blocking wait: it is already dead or dying).
boost::asio::awaitable<core::Status> run_command(boost::asio::any_io_executor executor,
                                                 CommandSpec spec);

} // namespace credrotd::systemd
