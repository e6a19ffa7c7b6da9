// SPDX-License-Identifier: Apache-2.0
// Process management for the fault server: posix_spawn with pipes, bounded waits, reaping by PID.
#include "fault_process.hpp"

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdexcept>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

#ifndef CREDROTD_SOURCE_DIR
#error "CREDROTD_SOURCE_DIR must name the source tree (tests/fault scripts live there)"
#endif

extern char** environ;

namespace credrotd::testfault {

namespace {

const char* k_python = "/usr/bin/python3";

std::string script(std::string_view name)
{
  return std::string(CREDROTD_SOURCE_DIR) + "/tests/fault/" + std::string(name);
}

// Waits up to `limit` for `pid` to exit; true when it did (and was reaped).
bool wait_exit(pid_t pid, std::chrono::milliseconds limit, int* status = nullptr)
{
  const auto until = std::chrono::steady_clock::now() + limit;
  int local = 0;
  for (;;) {
    const pid_t done = ::waitpid(pid, status != nullptr ? status : &local, WNOHANG);
    if (done == pid || (done < 0 && errno == ECHILD)) {
      return true;
    }
    if (std::chrono::steady_clock::now() >= until) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5)); // bounded polling step
  }
}

void reap(pid_t pid)
{
  if (wait_exit(pid, std::chrono::seconds(5))) {
    return;
  }
  ::kill(pid, SIGTERM);
  if (wait_exit(pid, std::chrono::seconds(2))) {
    return;
  }
  ::kill(pid, SIGKILL);
  wait_exit(pid, std::chrono::seconds(5));
}

struct PkiDir {
  PkiDir()
  {
    std::string templ = (std::filesystem::temp_directory_path() / "credrotd-pki-XXXXXX").string();
    if (::mkdtemp(templ.data()) == nullptr) {
      throw std::runtime_error("mkdtemp failed for the test PKI");
    }
    path = templ;
    const std::string maker = script("make_certs.sh");
    std::vector<char*> argv{const_cast<char*>("/bin/bash"), const_cast<char*>(maker.c_str()),
                            const_cast<char*>(path.c_str()), nullptr};
    pid_t pid = -1;
    if (::posix_spawn(&pid, "/bin/bash", nullptr, nullptr, argv.data(), environ) != 0) {
      throw std::runtime_error("cannot start " + maker);
    }
    int status = 0;
    if (!wait_exit(pid, std::chrono::seconds(60), &status)) {
      ::kill(pid, SIGKILL);
      wait_exit(pid, std::chrono::seconds(5));
      throw std::runtime_error(maker + " did not finish within 60 s");
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      throw std::runtime_error(maker + " failed (is the openssl CLI installed?)");
    }
  }
  ~PkiDir()
  {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
  std::string path;
};

} // namespace

FaultServer::FaultServer(FaultServerOptions options) : m_tls(!options.tls_cert.empty())
{
  const std::string server = script("fault_server.py");
  std::vector<std::string> args{k_python, server};
  if (m_tls) {
    args.insert(args.end(), {"--tls-cert", options.tls_cert, "--tls-key", options.tls_key});
  }
  if (options.proxy) {
    args.emplace_back("--proxy");
    if (!options.proxy_auth.empty()) {
      args.insert(args.end(), {"--proxy-auth", options.proxy_auth});
    }
  }
  std::vector<char*> argv;
  for (auto& arg : args) {
    argv.push_back(arg.data());
  }
  argv.push_back(nullptr);

  int in_pipe[2];
  int out_pipe[2];
  if (::pipe2(in_pipe, O_CLOEXEC) != 0 || ::pipe2(out_pipe, O_CLOEXEC) != 0) {
    throw std::runtime_error("pipe2 failed");
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in_pipe[0], 0);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  const int spawned = ::posix_spawn(&m_pid, k_python, &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(in_pipe[0]);
  ::close(out_pipe[1]);
  if (spawned != 0) {
    ::close(in_pipe[1]);
    ::close(out_pipe[0]);
    throw std::runtime_error(std::string("cannot start ") + k_python + " " + server);
  }
  m_stdin = in_pipe[1];

  // Read "PORT <n>\n", bounded.
  std::string line;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (line.find('\n') == std::string::npos) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      break;
    }
    pollfd pfd{out_pipe[0], POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(left.count())) <= 0) {
      continue;
    }
    char buffer[64];
    const auto n = ::read(out_pipe[0], buffer, sizeof buffer);
    if (n <= 0) {
      break;
    }
    line.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(out_pipe[0]);
  if (line.rfind("PORT ", 0) != 0 || line.find('\n') == std::string::npos) {
    ::close(m_stdin);
    reap(m_pid);
    throw std::runtime_error(server + " did not report its port within 20 s");
  }
  m_port = static_cast<std::uint16_t>(std::stoi(line.substr(5)));
}

FaultServer::~FaultServer()
{
  if (m_stdin >= 0) {
    ::close(m_stdin);
  }
  if (m_pid > 0) {
    reap(m_pid);
  }
}

std::string FaultServer::url(std::string_view path) const
{
  return std::string(m_tls ? "https" : "http") + "://127.0.0.1:" + std::to_string(m_port) +
         std::string(path);
}

CommandResult run_command(const std::vector<std::string>& argv,
                          const std::vector<std::string>& environment, std::chrono::seconds limit)
{
  std::vector<std::string> args = argv;
  std::vector<std::string> env = environment;
  std::vector<char*> arg_pointers;
  for (auto& arg : args) {
    arg_pointers.push_back(arg.data());
  }
  arg_pointers.push_back(nullptr);
  std::vector<char*> env_pointers;
  for (auto& entry : env) {
    env_pointers.push_back(entry.data());
  }
  env_pointers.push_back(nullptr);

  int out_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) {
    throw std::runtime_error("pipe2 failed");
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  pid_t pid = -1;
  const int spawned = ::posix_spawn(&pid, args.at(0).c_str(), &actions, nullptr,
                                    arg_pointers.data(), env_pointers.data());
  posix_spawn_file_actions_destroy(&actions);
  ::close(out_pipe[1]);
  if (spawned != 0) {
    ::close(out_pipe[0]);
    throw std::runtime_error("cannot start " + args.at(0));
  }
  CommandResult result;
  const auto until = std::chrono::steady_clock::now() + limit;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      ::kill(pid, SIGKILL);
      break;
    }
    pollfd pfd{out_pipe[0], POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(left.count())) <= 0) {
      continue;
    }
    char buffer[4096];
    const auto n = ::read(out_pipe[0], buffer, sizeof buffer);
    if (n <= 0) {
      break; // end of output: the command is finishing
    }
    result.out.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(out_pipe[0]);
  int status = 0;
  if (!wait_exit(pid, std::chrono::seconds(10), &status)) {
    ::kill(pid, SIGKILL);
    wait_exit(pid, std::chrono::seconds(5), &status);
    return result;
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

const std::string& test_pki_dir()
{
  static const PkiDir dir;
  return dir.path;
}

} // namespace credrotd::testfault
