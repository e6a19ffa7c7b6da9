// SPDX-License-Identifier: Apache-2.0
// run_command(): exit statuses, deadlines and group kill, users, environment, redaction.
#include "support.hpp"
#include "systemd/command.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/steady_timer.hpp>
#include <catch2/catch.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <fstream>
#include <functional>
#include <grp.h>
#include <linux/capability.h>
#include <set>
#include <sstream>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace asio = boost::asio;
using namespace credrotd;
using namespace credrotd::systemd;
using namespace std::chrono_literals;
using test::run_task;
using test::run_until;

namespace {

struct RawCaps {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3]{};
};

CommandSpec shell(const std::string& script, std::chrono::milliseconds timeout = 10s)
{
  CommandSpec spec;
  spec.argv = {"/bin/sh", "-c", script};
  spec.label = "check";
  spec.timeout = timeout;
  return spec;
}

core::Status run(asio::io_context& io, CommandSpec spec)
{
  return run_task(io, run_command(io.get_executor(), std::move(spec)));
}

// The part of a message after "exited with status N: ", split on " | ".
std::set<std::string> output_lines(const std::string& message)
{
  std::set<std::string> lines;
  const auto colon = message.find(": ");
  std::string rest = colon == std::string::npos ? "" : message.substr(colon + 2);
  std::size_t begin = 0;
  while (begin <= rest.size()) {
    auto end = rest.find(" | ", begin);
    if (end == std::string::npos) {
      end = rest.size();
    }
    lines.insert(rest.substr(begin, end - begin));
    begin = end + 3;
  }
  return lines;
}

} // namespace

TEST_CASE("a command that exits with status 0 succeeds", "[command]")
{
  asio::io_context io;
  CommandSpec spec;
  spec.argv = {"/bin/true"};
  CHECK(run(io, spec));
  CHECK(test::children_of_self().empty());
}

TEST_CASE("a command that exits with status 3 fails with the tail of its output", "[command]")
{
  asio::io_context io;
  const auto status = run(io, shell("echo first line; echo '  second line  ' >&2; exit 3"));
  REQUIRE_FALSE(status);
  CHECK(status.error().code == core::Errc::protocol);
  CHECK(status.error().message == "check /bin/sh exited with status 3: first line | second line");
}

TEST_CASE("a command without output says so", "[command]")
{
  asio::io_context io;
  const auto status = run(io, shell("exit 1"));
  REQUIRE_FALSE(status);
  CHECK(status.error().message == "check /bin/sh exited with status 1 (no output)");
}

TEST_CASE("a command killed by a signal says which", "[command]")
{
  asio::io_context io;
  const auto status = run(io, shell("echo dying; kill -TERM $$"));
  REQUIRE_FALSE(status);
  CHECK(status.error().code == core::Errc::protocol);
  CHECK(status.error().message == "check /bin/sh was killed by signal SIGTERM: dying");
}

TEST_CASE("a command past its timeout is killed with its whole group and reaped", "[command]")
{
  asio::io_context io;
  test::TempDir dir;
  const auto pid_file = dir / "grandchild";
  // The shell starts a grandchild in the background, records its pid, then sleeps itself.
  auto spec = shell("/bin/sleep 60 & echo $! >\"$0\"; echo started; /bin/sleep 60", 300ms);
  spec.argv.push_back(pid_file);
  const auto start = std::chrono::steady_clock::now();
  const auto status = run(io, spec);
  const auto elapsed = std::chrono::steady_clock::now() - start;

  REQUIRE_FALSE(status);
  CHECK(status.error().code == core::Errc::timeout);
  CHECK(status.error().message == "check /bin/sh killed after 300 ms timeout: started");
  CHECK(elapsed >= 300ms);
  CHECK(elapsed < 3s);

  // The child was reaped: no zombie of ours is left.
  CHECK(test::children_of_self().empty());
  // The grandchild was in the group and died with it (reparented, reaped by init).
  pid_t grandchild = 0;
  std::ifstream(pid_file) >> grandchild;
  REQUIRE(grandchild > 0);
  CHECK(test::wait_for([grandchild] { return test::is_dead(grandchild); }, 5s));
}

TEST_CASE("the loop keeps running while a command runs", "[command]")
{
  asio::io_context io;
  int ticks = 0;
  asio::steady_timer timer(io);
  std::function<void(boost::system::error_code)> tick = [&](boost::system::error_code ec) {
    if (ec) {
      return;
    }
    ++ticks;
    timer.expires_after(20ms);
    timer.async_wait(tick);
  };
  timer.expires_after(20ms);
  timer.async_wait(tick);
  CommandSpec spec;
  spec.argv = {"/bin/sleep", "0.4"};
  CHECK(run(io, spec));
  timer.cancel();
  CHECK(ticks >= 8);
}

TEST_CASE("a cancelled command is killed and reaped", "[command]")
{
  // Cancellation at each stage: before anything ran, while the child starts, while it runs.
  for (const int stage : {0, 1, 2}) {
    INFO(stage);
    asio::io_context io;
    asio::cancellation_signal cancel;
    test::Outcome<core::Status> outcome;
    CommandSpec spec;
    spec.argv = {"/bin/sleep", "60"};
    asio::co_spawn(
        io, run_command(io.get_executor(), spec),
        asio::bind_cancellation_slot(cancel.slot(), test::StoreOutcome<core::Status>{&outcome}));
    if (stage >= 1) {
      REQUIRE(run_until(
          io, [] { return !test::children_of_self().empty(); }, 5s));
    }
    if (stage == 2) {
      io.run_for(100ms);
    }
    cancel.emit(asio::cancellation_type::terminal);
    REQUIRE(run_until(
        io, [&] { return outcome.done; }, 5s));
    REQUIRE(outcome.value);
    REQUIRE_FALSE(*outcome.value);
    CHECK(outcome.value->error().code == core::Errc::cancelled);
    CHECK(test::children_of_self().empty());
  }
}

TEST_CASE("a command runs as the named user", "[command]")
{
  REQUIRE(::geteuid() == 0);
  asio::io_context io;
  auto spec = shell("id -u; id -g; echo \"$HOME\"; id -G; exit 1");
  spec.user = "nobody";
  const auto status = run(io, spec);
  REQUIRE_FALSE(status);
  // nobody's primary group is nogroup (65534) and it is in no other group.
  CHECK(status.error().message ==
        "check /bin/sh exited with status 1: 65534 | 65534 | /nonexistent | 65534");
}

namespace {

// The capability lines and NoNewPrivs of the command's own /proc/self/status, as a message.
const std::string k_show_privileges =
    "grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs):' /proc/self/status; exit 1";
const std::string k_no_privileges =
    "CapInh: 0000000000000000 | CapPrm: 0000000000000000 | CapEff: 0000000000000000 | "
    "CapBnd: 0000000000000000 | CapAmb: 0000000000000000 | NoNewPrivs: 1";

// Makes this (forked) process what the old unit made the daemon: a non-root user (uid 1,
// daemon) holding CAP_SETUID, CAP_SETGID, CAP_CHOWN and CAP_SETPCAP in its effective,
// permitted, inheritable and ambient sets. Returns false if the kernel refused a step.
bool become_capable_service_user()
{
  if (::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0 || ::setgroups(0, nullptr) != 0 ||
      ::setresgid(1, 1, 1) != 0 || ::setresuid(1, 1, 1) != 0) {
    return false;
  }
  const std::uint32_t keep =
      1U << CAP_SETUID | 1U << CAP_SETGID | 1U << CAP_CHOWN | 1U << CAP_SETPCAP;
  RawCaps raw;
  raw.data[0].effective = raw.data[0].permitted = raw.data[0].inheritable = keep;
  if (::syscall(SYS_capset, &raw.header, raw.data) != 0) {
    return false;
  }
  for (const int cap : {CAP_SETUID, CAP_SETGID, CAP_CHOWN, CAP_SETPCAP}) {
    if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) != 0) {
      return false;
    }
  }
  return true;
}

// Runs `body` in a forked child, which may change its own ids and capabilities without
// touching the test process, and checks that it returned true.
void check_in_child(const std::function<bool()>& body)
{
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::_exit(body() ? 0 : 1);
  }
  int wstatus = 0;
  REQUIRE(::waitpid(pid, &wstatus, 0) == pid);
  CHECK(WIFEXITED(wstatus));
  CHECK(WEXITSTATUS(wstatus) == 0);
}

// Whether `status` failed with exactly `expected`; says what it got on stderr otherwise (for a
// child, which cannot use CHECK).
bool failed_with(const core::Status& status, const std::string& expected)
{
  if (!status && status.error().message == expected) {
    return true;
  }
  std::fprintf(stderr, "%s\n", status ? "succeeded" : status.error().message.c_str());
  return false;
}

} // namespace

TEST_CASE("a command runs with no capability in any set and with no_new_privs", "[command]")
{
  REQUIRE(::geteuid() == 0);
  asio::io_context io;
  SECTION("as root, the daemon's own user")
  {
    const auto status = run(io, shell(k_show_privileges));
    REQUIRE_FALSE(status);
    CHECK(status.error().message == "check /bin/sh exited with status 1: " + k_no_privileges);
  }
  SECTION("as another user, from a service user with capabilities in its ambient set")
  {
    // In a child process: the ambient set is the process's own, and the test must not keep it.
    check_in_child([] {
      if (!become_capable_service_user()) {
        return false;
      }
      asio::io_context child_io;
      auto spec = shell("id -u; id -G; " + k_show_privileges);
      spec.user = "nobody";
      return failed_with(run(child_io, spec),
                         "check /bin/sh exited with status 1: 65534 | 65534 | " + k_no_privileges);
    });
  }
}

TEST_CASE("a daemon that holds capabilities but cannot empty the bounding set runs nothing",
          "[command]")
{
  REQUIRE(::geteuid() == 0);
  check_in_child([] {
    // Without CAP_SETPCAP (dropped from every set), still holding the others.
    ::prctl(PR_CAPBSET_DROP, CAP_SETPCAP, 0, 0, 0);
    RawCaps raw;
    ::syscall(SYS_capget, &raw.header, raw.data);
    raw.data[0].effective &= ~(1U << CAP_SETPCAP);
    raw.data[0].permitted &= ~(1U << CAP_SETPCAP);
    ::syscall(SYS_capset, &raw.header, raw.data);
    asio::io_context child_io;
    return failed_with(run(child_io, shell("echo ran; exit 0")),
                       "check /bin/sh: cannot drop every capability: Operation not permitted");
  });
}

TEST_CASE("an unprivileged daemon (the --user unit) runs its commands with no_new_privs",
          "[command]")
{
  REQUIRE(::geteuid() == 0);
  check_in_child([] {
    // An ordinary user: no capability, a full bounding set it may not empty.
    if (::setgroups(0, nullptr) != 0 || ::setresgid(65534, 65534, 65534) != 0 ||
        ::setresuid(65534, 65534, 65534) != 0) {
      return false;
    }
    asio::io_context child_io;
    return failed_with(
        run(child_io, shell("grep -E '^(CapPrm|CapEff|CapAmb|NoNewPrivs):' /proc/self/status; "
                            "exit 1")),
        "check /bin/sh exited with status 1: CapPrm: 0000000000000000 | CapEff: "
        "0000000000000000 | CapAmb: 0000000000000000 | NoNewPrivs: 1");
  });
}

TEST_CASE("the environment is clean: nothing is inherited", "[command]")
{
  asio::io_context io;
  ::setenv("CREDROTD_TEST_LEAK", "leaked", 1);
  auto spec = shell("/usr/bin/env; exit 1");
  spec.environment = {"LANG=C", "AWS_SHARED_CREDENTIALS_FILE=/etc/credrotd/aws"};
  const auto status = run(io, spec);
  ::unsetenv("CREDROTD_TEST_LEAK");
  REQUIRE_FALSE(status);
  // sh adds PWD to what it passes on; everything else is ours.
  const std::set<std::string> expected = {
      "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
      "HOME=/root",
      "USER=root",
      "LOGNAME=root",
      "LANG=C",
      "AWS_EC2_METADATA_DISABLED=true",
      "AWS_SHARED_CREDENTIALS_FILE=/etc/credrotd/aws",
      "PWD=/",
  };
  CHECK(output_lines(status.error().message) == expected);
}

TEST_CASE("stdin is /dev/null, other descriptors are closed, the child leads its group",
          "[command]")
{
  asio::io_context io;
  // An inheritable descriptor of the parent must not reach the child.
  const int leak = ::open("/dev/null", O_RDONLY);
  REQUIRE(leak > 2);
  const auto status = run(io, shell("readlink /proc/$$/fd/0; ls /proc/$$/fd; "
                                    "[ \"$(cut -d' ' -f5 /proc/$$/stat)\" = $$ ] && echo leader; "
                                    "exit 1"));
  ::close(leak);
  REQUIRE_FALSE(status);
  CHECK(status.error().message ==
        "check /bin/sh exited with status 1: /dev/null | 0 | 1 | 2 | leader");
}

TEST_CASE("redacted strings never appear in a message", "[command]")
{
  asio::io_context io;
  test::TempDir dir;
  const std::string secret = "ABCDEFGHIJKLMNOP";
  const auto file = dir / "out";
  const auto run_cat = [&](const std::string& content) {
    std::ofstream(file, std::ios::binary) << content;
    auto spec = shell("cat \"$0\"; exit 1");
    spec.argv.push_back(file);
    spec.redact = {secret, "unused"};
    return run(io, spec);
  };

  SECTION("whole occurrences are replaced")
  {
    const auto status = run_cat("key=" + secret + " and again " + secret + "\n");
    REQUIRE_FALSE(status);
    CHECK(status.error().message ==
          "check /bin/sh exited with status 1: key=<redacted> and again <redacted>");
  }
  SECTION("an occurrence cut by the output limit leaves no fragment")
  {
    for (const std::size_t before : {0, 5, 8, 15, 16, 30, 100}) {
      INFO(before);
      const std::string content =
          std::string(before, 'y') + secret + std::string(k_command_output_tail - 8, 'x');
      const auto status = run_cat(content);
      REQUIRE_FALSE(status);
      const auto& message = status.error().message;
      CHECK(message.size() < k_command_output_tail + 100);
      for (std::size_t i = 0; i + 4 <= secret.size(); ++i) {
        INFO(secret.substr(i, 4));
        CHECK(message.find(secret.substr(i, 4)) == std::string::npos);
      }
    }
  }
}

TEST_CASE("output is made printable and bounded", "[command]")
{
  asio::io_context io;
  SECTION("a megabyte of output neither blocks the child nor grows the message")
  {
    const auto status = run(io, shell("head -c 1000000 /dev/zero | tr '\\0' a; exit 1"));
    REQUIRE_FALSE(status);
    CHECK(status.error().message.size() <= k_command_output_tail + 60);
    CHECK(status.error().message.ends_with("aaaa"));
  }
  SECTION("control characters and invalid UTF-8 become '?', valid UTF-8 stays")
  {
    const auto status = run(io, shell("printf 'caf\\303\\251 \\001\\377 tab\\there'; exit 1"));
    REQUIRE_FALSE(status);
    CHECK(status.error().message == "check /bin/sh exited with status 1: café ?? tab here");
  }
}

TEST_CASE("commands that cannot run are refused with a clear error", "[command]")
{
  asio::io_context io;
  SECTION("a relative program is refused without running anything")
  {
    CommandSpec spec;
    spec.argv = {"sh", "-c", "true"};
    const auto status = run(io, spec);
    REQUIRE_FALSE(status);
    CHECK(status.error().code == core::Errc::config);
    CHECK_THAT(status.error().message, Catch::Contains("absolute path"));
  }
  SECTION("no program at all")
  {
    const auto status = run(io, CommandSpec{});
    REQUIRE_FALSE(status);
    CHECK(status.error().code == core::Errc::config);
  }
  SECTION("a missing program")
  {
    CommandSpec spec;
    spec.argv = {"/nonexistent/credrotd-check"};
    spec.label = "check";
    const auto status = run(io, spec);
    REQUIRE_FALSE(status);
    CHECK(status.error().code == core::Errc::io);
    CHECK(status.error().message ==
          "check /nonexistent/credrotd-check: cannot execute: No such file or directory");
    CHECK(test::children_of_self().empty());
  }
  SECTION("a file that is not executable")
  {
    CommandSpec spec;
    spec.argv = {"/etc/passwd"};
    const auto status = run(io, spec);
    REQUIRE_FALSE(status);
    CHECK(status.error().code == core::Errc::io);
    CHECK(status.error().message == "command /etc/passwd: cannot execute: Permission denied");
  }
  SECTION("an unknown user")
  {
    auto spec = shell("true");
    spec.user = "credrotd-no-such-user";
    const auto status = run(io, spec);
    REQUIRE_FALSE(status);
    CHECK(status.error().code == core::Errc::config);
    CHECK_THAT(status.error().message, Catch::Contains("no user named \"credrotd-no-such-user\""));
  }
  SECTION("a malformed environment entry")
  {
    auto spec = shell("true");
    spec.environment = {"NOEQUALS"};
    const auto status = run(io, spec);
    REQUIRE_FALSE(status);
    CHECK(status.error().code == core::Errc::config);
  }
}
