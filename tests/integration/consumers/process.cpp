// SPDX-License-Identifier: Apache-2.0
// Running the real clients from tests.
#include "process.hpp"

#include <array>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdexcept>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace credrotd::consumers::test {

namespace {

std::vector<char*> c_strings(const std::vector<std::string>& v)
{
  std::vector<char*> out;
  for (const auto& s : v) {
    out.push_back(const_cast<char*>(s.c_str()));
  }
  out.push_back(nullptr);
  return out;
}

[[noreturn]] void exec_child(const std::vector<std::string>& argv,
                             const std::vector<std::string>& env)
{
  const int null = ::open("/dev/null", O_RDONLY);
  ::dup2(null, STDIN_FILENO);
  auto args = c_strings(argv);
  auto envp = c_strings(env);
  ::execve(args[0], args.data(), envp.data());
  ::_exit(127);
}

} // namespace

std::vector<std::string> clean_env(std::vector<std::string> extra)
{
  std::vector<std::string> env = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/nonexistent",
                                  "LANG=C.UTF-8", "AWS_EC2_METADATA_DISABLED=true"};
  env.insert(env.end(), extra.begin(), extra.end());
  return env;
}

Output run(const std::vector<std::string>& argv, const std::vector<std::string>& env,
           std::chrono::seconds timeout)
{
  int out_pipe[2];
  int err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0) {
    throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  }
  const pid_t pid = ::fork();
  if (pid < 0) {
    throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  }
  if (pid == 0) {
    ::dup2(out_pipe[1], STDOUT_FILENO);
    ::dup2(err_pipe[1], STDERR_FILENO);
    exec_child(argv, env);
  }
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  Output result;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::array<pollfd, 2> fds = {pollfd{out_pipe[0], POLLIN, 0}, pollfd{err_pipe[0], POLLIN, 0}};
  bool killed = false;
  while (fds[0].fd >= 0 || fds[1].fd >= 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      ::kill(pid, SIGKILL);
      killed = true;
      break;
    }
    if (::poll(fds.data(), fds.size(), static_cast<int>(left.count())) < 0 && errno != EINTR) {
      break;
    }
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) {
        continue;
      }
      std::array<char, 4096> buf{};
      const ssize_t n = ::read(fds[i].fd, buf.data(), buf.size());
      if (n <= 0) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        continue;
      }
      (i == 0 ? result.out : result.err).append(buf.data(), static_cast<std::size_t>(n));
    }
  }
  for (const auto& fd : fds) {
    if (fd.fd >= 0) {
      ::close(fd.fd);
    }
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!killed && WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  }
  return result;
}

Background::Background(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                       const std::string& log_path)
{
  m_pid = ::fork();
  if (m_pid < 0) {
    throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  }
  if (m_pid == 0) {
    const int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    ::dup2(log, STDOUT_FILENO);
    ::dup2(log, STDERR_FILENO);
    exec_child(argv, env);
  }
}

Background::~Background()
{
  stop();
}

void Background::stop()
{
  if (m_pid <= 0) {
    return;
  }
  ::kill(m_pid, SIGTERM);
  int status = 0;
  const bool gone = wait_until([&] { return ::waitpid(m_pid, &status, WNOHANG) == m_pid; },
                               std::chrono::seconds(10));
  if (!gone) {
    ::kill(m_pid, SIGKILL);
    ::waitpid(m_pid, &status, 0);
  }
  m_pid = -1;
}

bool wait_until(const std::function<bool()>& ready, std::chrono::milliseconds limit)
{
  const auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    if (ready()) {
      return true;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

} // namespace credrotd::consumers::test
