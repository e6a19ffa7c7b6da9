// SPDX-License-Identifier: Apache-2.0
// systemd credentials: the environment-file plaintext and systemd-creds run through pipes.
#include "consumers/systemd_credential.hpp"

#include "consumers/envfile.hpp"
#include "core/fd.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

namespace credrotd::consumers::systemd_credential {

namespace {

constexpr const char* k_systemd_creds = "/usr/bin/systemd-creds";

const envfile::Options k_vars{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"};

core::Error io_error(std::string_view what, int err)
{
  return core::make_error(core::Errc::io, fmt::format("{}: {}", what, std::strerror(err)));
}

// Runs systemd-creds with `args`, `input` on stdin; its stdout. Its stderr goes to an anonymous
// file, read for the message when it fails. A small input (a credential) fits the pipe buffer,
// so it is written whole before the output is read.
core::Result<Content> run_systemd_creds(const std::vector<std::string>& args,
                                        std::string_view input)
{
  int in[2];
  int out[2];
  if (::pipe2(in, O_CLOEXEC) != 0) {
    return io_error("pipe", errno);
  }
  core::Fd in_read(in[0]);
  core::Fd in_write(in[1]);
  if (::pipe2(out, O_CLOEXEC) != 0) {
    return io_error("pipe", errno);
  }
  core::Fd out_read(out[0]);
  core::Fd out_write(out[1]);
  const core::Fd errors_file(::memfd_create("systemd-creds-stderr", MFD_CLOEXEC));
  if (!errors_file) {
    return io_error("memfd_create", errno);
  }
  std::vector<std::string> env = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"};
  // The host key's location may be moved (systemd's own variable; the tests use it).
  if (const char* secret = std::getenv("SYSTEMD_CREDENTIAL_SECRET")) {
    env.push_back(std::string("SYSTEMD_CREDENTIAL_SECRET=") + secret);
  }
  std::vector<char*> argv{const_cast<char*>(k_systemd_creds)};
  for (const auto& a : args) {
    argv.push_back(const_cast<char*>(a.c_str()));
  }
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (auto& e : env) {
    envp.push_back(e.data());
  }
  envp.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  ::posix_spawn_file_actions_init(&actions);
  ::posix_spawn_file_actions_adddup2(&actions, in_read.get(), 0);
  ::posix_spawn_file_actions_adddup2(&actions, out_write.get(), 1);
  ::posix_spawn_file_actions_adddup2(&actions, errors_file.get(), 2);
  pid_t pid = 0;
  const int spawned =
      ::posix_spawn(&pid, k_systemd_creds, &actions, nullptr, argv.data(), envp.data());
  ::posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) {
    return io_error(fmt::format("systemd-creds {} failed", args.front()), spawned);
  }
  in_read.reset();
  out_write.reset();
  std::size_t written = 0;
  while (written < input.size()) {
    const ssize_t n = ::write(in_write.get(), input.data() + written, input.size() - written);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      break;
    }
    written += static_cast<std::size_t>(n);
  }
  in_write.reset();
  Content output;
  bool timed_out = false;
  for (pollfd fd{out_read.get(), POLLIN, 0};;) {
    const int r = ::poll(&fd, 1, 30000);
    if (r < 0 && errno == EINTR) {
      continue;
    }
    if (r <= 0) {
      timed_out = true;
      ::kill(pid, SIGKILL);
      break;
    }
    char buf[4096];
    const ssize_t n = ::read(fd.fd, buf, sizeof buf);
    if (n > 0) {
      output.append(buf, static_cast<std::size_t>(n));
      ::explicit_bzero(buf, sizeof buf);
    } else if (n == 0 || errno != EINTR) {
      break;
    }
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out || written != input.size() || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::string errors(65536, '\0');
    const ssize_t n = ::pread(errors_file.get(), errors.data(), errors.size(), 0);
    errors.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
    while (!errors.empty() && errors.back() == '\n') {
      errors.pop_back();
    }
    return core::make_error(core::Errc::io, fmt::format("systemd-creds {} failed{}{}", args.front(),
                                                        timed_out ? " (no answer in 30 s)" : "",
                                                        errors.empty() ? "" : ": " + errors));
  }
  return output;
}

} // namespace

bool is_encrypted(std::string_view path)
{
  const std::size_t slash = path.rfind('/');
  if (slash == std::string_view::npos || slash == 0) {
    return false;
  }
  return path.substr(0, slash).ends_with(".encrypted");
}

core::Result<std::string> name_of(std::string_view path)
{
  const std::string_view name = path.substr(path.rfind('/') + 1);
  // systemd's credential_name_valid(): a file name of printable ASCII without ':' (the separator
  // of LoadCredential=NAME:PATH), at most 255 bytes. A space, which systemd allows, is refused
  // too: a unit file would need it quoted.
  const bool valid = !name.empty() && name.size() <= 255 && name != "." && name != ".." &&
                     std::all_of(name.begin(), name.end(), [](char c) {
                       const auto byte = static_cast<unsigned char>(c);
                       return byte > 0x20 && byte < 0x7F && c != ':';
                     });
  if (!valid) {
    return core::make_error(core::Errc::config,
                            fmt::format("the file name {} cannot be a credential name "
                                        "(LoadCredential=NAME): systemd takes printable ASCII "
                                        "without ':' (and credrotd no space)",
                                        name));
  }
  return std::string(name);
}

core::Result<std::optional<FoundKey>> read(std::string_view path, std::string_view content)
{
  if (!is_encrypted(path)) {
    return envfile::read({path, content}, k_vars);
  }
  CREDROTD_TRY_ASSIGN(const std::string name, name_of(path));
  CREDROTD_TRY_ASSIGN(const Content plain,
                      run_systemd_creds({"decrypt", "--name=" + name, "-", "-"}, content));
  return envfile::read({path, plain}, k_vars);
}

core::Result<Content> render(std::string_view path, std::string_view access_id,
                             const core::Secret& secret)
{
  CREDROTD_TRY_ASSIGN(const std::string name, name_of(path));
  CREDROTD_TRY_ASSIGN(Content plain, envfile::create(k_vars, access_id, secret));
  if (!is_encrypted(path)) {
    return plain;
  }
  return run_systemd_creds({"encrypt", "--name=" + name, "-", "-"}, plain);
}

} // namespace credrotd::consumers::systemd_credential
