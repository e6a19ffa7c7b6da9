// SPDX-License-Identifier: Apache-2.0
// The private dbus-daemon and /proc helpers of unit_dbus and unit_systemd.
#include "support.hpp"

#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sstream>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace credrotd::test {

namespace {

std::runtime_error failure(const std::string& what)
{
  return std::runtime_error(what + ": " + std::strerror(errno));
}

} // namespace

PrivateBus::PrivateBus()
{
  // Clients run as nobody in some tests: the directory and the socket must be reachable.
  ::chmod(m_dir.path().c_str(), 0755);
  const auto socket = std::filesystem::path(m_dir / "bus");
  const auto config = std::filesystem::path(m_dir / "bus.conf");
  {
    std::ofstream out(config);
    out << R"(<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=)"
        << socket.string() << R"(</listen>
  <auth>EXTERNAL</auth>
  <limit name="max_replies_per_connection">1024</limit>
  <policy context="default">
    <allow user="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
)";
    if (!out) {
      throw failure("cannot write " + config.string());
    }
  }

  // The daemon prints its address on fd 3 once it listens: that is the readiness signal.
  std::array<int, 2> fds{-1, -1};
  if (::pipe2(fds.data(), O_CLOEXEC) != 0) {
    throw failure("pipe2");
  }
  const int read_end = fds[0];
  const int write_end = ::fcntl(fds[1], F_DUPFD_CLOEXEC, 10);
  ::close(fds[1]);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, write_end, 3);
  // Its complaints (it cannot raise its fd limit in a container) go to a file, not the
  // test output.
  const auto log = m_dir / "dbus-daemon.log";
  posix_spawn_file_actions_addopen(&actions, 2, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  std::string config_arg = "--config-file=" + config.string();
  std::string print_arg = "--print-address=3";
  std::string nofork = "--nofork";
  std::string nopidfile = "--nopidfile";
  std::string program = "/usr/bin/dbus-daemon";
  std::array<char*, 6> argv{program.data(),   config_arg.data(), nofork.data(),
                            nopidfile.data(), print_arg.data(),  nullptr};
  const int rc = ::posix_spawn(&m_pid, program.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(write_end);
  if (rc != 0) {
    ::close(read_end);
    errno = rc;
    throw failure("cannot start " + program);
  }

  std::string line;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (line.find('\n') == std::string::npos) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd p{read_end, POLLIN, 0};
    if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) {
      ::close(read_end);
      stop();
      throw std::runtime_error("dbus-daemon did not print its address within 10 s");
    }
    std::array<char, 256> chunk{};
    const auto n = ::read(read_end, chunk.data(), chunk.size());
    if (n <= 0) {
      ::close(read_end);
      stop();
      throw std::runtime_error("dbus-daemon exited before printing its address");
    }
    line.append(chunk.data(), static_cast<std::size_t>(n));
  }
  ::close(read_end);
  m_address = line.substr(0, line.find('\n'));
  ::chmod(socket.c_str(), 0777);
}

PrivateBus::~PrivateBus()
{
  stop();
}

void PrivateBus::stop()
{
  if (m_pid <= 0) {
    return;
  }
  ::kill(m_pid, SIGTERM);
  int status = 0;
  const bool exited =
      wait_for([this, &status] { return ::waitpid(m_pid, &status, WNOHANG) == m_pid; },
               std::chrono::seconds(5));
  if (!exited) {
    ::kill(m_pid, SIGKILL);
    ::waitpid(m_pid, &status, 0);
  }
  m_pid = -1;
}

std::vector<pid_t> children_of_self()
{
  std::vector<pid_t> out;
  const pid_t self = ::getpid();
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const auto name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) {
      continue;
    }
    std::ifstream in(entry.path() / "stat");
    std::string stat;
    std::getline(in, stat);
    // pid (comm) state ppid ...: comm may contain spaces, so parse after the last ')'.
    const auto close = stat.rfind(')');
    if (close == std::string::npos) {
      continue;
    }
    std::istringstream rest(stat.substr(close + 1));
    char state = 0;
    pid_t ppid = 0;
    rest >> state >> ppid;
    if (ppid == self) {
      out.push_back(static_cast<pid_t>(std::stol(name)));
    }
  }
  return out;
}

bool is_dead(pid_t pid)
{
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!std::getline(in, stat)) {
    return true;
  }
  const auto close = stat.rfind(')');
  return close != std::string::npos && close + 2 < stat.size() && stat[close + 2] == 'Z';
}

} // namespace credrotd::test
