// SPDX-License-Identifier: Apache-2.0
// Who a command runs as, its environment, and the child's setup before execve
// (command_spawn.hpp).
#include "systemd/command_spawn.hpp"

#include "sys/capabilities.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <grp.h>
#include <optional>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

namespace credrotd::systemd {

using core::Errc;
using core::make_error;

namespace {

// getpwnam_r/getpwuid_r with a buffer that grows on ERANGE. nullopt: no such user.
template <class Lookup> core::Result<std::optional<Identity>> lookup_passwd(Lookup lookup)
{
  std::vector<char> buffer(4096);
  while (true) {
    passwd entry{};
    passwd* found = nullptr;
    const int rc = lookup(&entry, buffer.data(), buffer.size(), &found);
    if (rc == ERANGE && buffer.size() < (std::size_t{1} << 20)) {
      buffer.resize(buffer.size() * 2);
      continue;
    }
    if (rc != 0) {
      return make_error(Errc::io,
                        std::string("cannot read the user database: ") + std::strerror(rc));
    }
    if (found == nullptr) {
      return std::optional<Identity>{};
    }
    Identity id;
    id.uid = found->pw_uid;
    id.gid = found->pw_gid;
    id.name = found->pw_name != nullptr ? found->pw_name : "";
    id.home = found->pw_dir != nullptr && found->pw_dir[0] != '\0' ? found->pw_dir : "/";
    return std::optional<Identity>{std::move(id)};
  }
}

// Everything the child needs, prepared before fork(): after fork() only async-signal-safe
// calls are allowed (no allocation, no locks, no NSS).
struct ChildPlan {
  char* const* argv; // argv[0]: the program's absolute path
  char* const* envp;
  const Identity& id;
  int stdin_fd;
  int output_fd; // stdout and stderr
  int error_fd;  // the CLOEXEC pipe that carries an ExecFailure
};

[[noreturn]] void fail_child(const ChildPlan& plan, Stage stage) noexcept
{
  const ExecFailure failure{stage, errno};
  [[maybe_unused]] const auto written = ::write(plan.error_fd, &failure, sizeof failure);
  ::_exit(127);
}

// Moves a new descriptor above 2, so that dup2() onto 0/1/2 in the child always clears
// FD_CLOEXEC (dup2 of a descriptor onto itself would not), even when the daemon was started
// with a standard descriptor closed.
bool lift(core::Fd& fd)
{
  if (fd.get() > 2) {
    return true;
  }
  const int moved = ::fcntl(fd.get(), F_DUPFD_CLOEXEC, 3);
  if (moved < 0) {
    return false;
  }
  fd.reset(moved);
  return true;
}

// A pipe whose two ends are closed at exec.
bool make_pipe(core::Fd& read_end, core::Fd& write_end)
{
  int fds[2] = {-1, -1};
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    return false;
  }
  read_end.reset(fds[0]);
  write_end.reset(fds[1]);
  return true;
}

// In the forked child: sets up and execs plan.argv[0], or writes an ExecFailure to
// plan.error_fd and exits with 127. Async-signal-safe only.
[[noreturn]] void exec_child(const ChildPlan& plan) noexcept
{
  if (::setpgid(0, 0) != 0) {
    fail_child(plan, Stage::setup);
  }
  // The daemon may block or ignore signals (SIGPIPE...); a program expects the defaults.
  sigset_t none;
  ::sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  struct sigaction defaults {};
  defaults.sa_handler = SIG_DFL;
  ::sigemptyset(&defaults.sa_mask);
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP) {
      ::sigaction(sig, &defaults, nullptr); // fails harmlessly for reserved signals
    }
  }
  if (::dup2(plan.stdin_fd, 0) < 0 || ::dup2(plan.output_fd, 1) < 0 ||
      ::dup2(plan.output_fd, 2) < 0) {
    fail_child(plan, Stage::setup);
  }
  // Every other descriptor is closed at exec; the error pipe stays usable until then.
  if (::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
    fail_child(plan, Stage::setup);
  }
  // No privilege survives into the program: no_new_privs (set-user-ID bits and file
  // capabilities stop working), an empty bounding set while CAP_SETPCAP is still effective,
  // then the user's groups and ids, then empty ambient, inheritable, permitted and effective
  // sets, checked. A daemon without CAP_SETPCAP (the --user instance) cannot empty the
  // bounding set; it then runs the program only if it holds no capability itself, so that
  // the bounding set can grant nothing under no_new_privs.
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    fail_child(plan, Stage::privileges);
  }
  sys::CapabilitySets held;
  if (const int error = sys::drop_bounding_set(); error != 0) {
    if (sys::read_capabilities(held) != 0 || held.permitted != 0 || held.ambient != 0) {
      errno = error;
      fail_child(plan, Stage::privileges);
    }
  }
  if (plan.id.switch_user) {
    if (::setgroups(plan.id.groups.size(), plan.id.groups.data()) != 0 ||
        ::setresgid(plan.id.gid, plan.id.gid, plan.id.gid) != 0 ||
        ::setresuid(plan.id.uid, plan.id.uid, plan.id.uid) != 0) {
      fail_child(plan, Stage::user);
    }
  }
  if (const int error = sys::clear_capability_sets(); error != 0) {
    errno = error;
    fail_child(plan, Stage::privileges);
  }
  if (const int error = sys::read_capabilities(held); error != 0) {
    errno = error;
    fail_child(plan, Stage::privileges);
  }
  if (held.effective != 0 || held.permitted != 0 || held.inheritable != 0 || held.ambient != 0) {
    errno = EPERM;
    fail_child(plan, Stage::privileges);
  }
  if (::chdir("/") != 0) {
    fail_child(plan, Stage::setup);
  }
  ::execve(plan.argv[0], plan.argv, plan.envp);
  fail_child(plan, Stage::exec);
}

// The clean environment of run_command() (command.hpp), then spec.environment.
std::vector<std::string> make_environment(const CommandSpec& spec, const Identity& id)
{
  std::vector<std::string> env = {
      "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
      "HOME=" + id.home,
      "USER=" + id.name,
      "LOGNAME=" + id.name,
      "LANG=C.UTF-8",
      "AWS_EC2_METADATA_DISABLED=true",
  };
  for (const auto& entry : spec.environment) {
    const std::string_view key(entry.data(), entry.find('=') + 1);
    const auto same = std::find_if(env.begin(), env.end(), [key](const std::string& e) {
      return std::string_view(e).starts_with(key);
    });
    if (same != env.end()) {
      *same = entry;
    } else {
      env.push_back(entry);
    }
  }
  return env;
}

// Pointers to each string, then nullptr: an argv or envp for execve.
std::vector<char*> pointers(std::vector<std::string>& strings)
{
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (auto& s : strings) {
    out.push_back(s.data());
  }
  out.push_back(nullptr);
  return out;
}

} // namespace

core::Result<Identity> resolve_identity(const std::string& user, const std::string& prefix)
{
  if (user.empty()) {
    const uid_t self = ::geteuid();
    CREDROTD_TRY_ASSIGN(auto found,
                        lookup_passwd([self](passwd* e, char* b, std::size_t n, passwd** r) {
                          return ::getpwuid_r(self, e, b, n, r);
                        }));
    if (found) {
      return std::move(*found);
    }
    // A uid without a passwd entry (DynamicUser=, a container): still a valid identity.
    Identity id;
    id.uid = self;
    id.gid = ::getegid();
    id.name = std::to_string(self);
    id.home = "/";
    return id;
  }

  CREDROTD_TRY_ASSIGN(auto found,
                      lookup_passwd([&user](passwd* e, char* b, std::size_t n, passwd** r) {
                        return ::getpwnam_r(user.c_str(), e, b, n, r);
                      }));
  if (!found) {
    return make_error(Errc::config, prefix + ": no user named \"" + user + "\"");
  }
  Identity id = std::move(*found);
  if (id.uid == ::geteuid() && id.gid == ::getegid()) {
    return id; // already that user: keep the daemon's groups, no privilege needed
  }
  id.switch_user = true;
  // initgroups() reads the group database, which is not safe after fork(): the list is
  // computed here and set with setgroups() in the child.
  int count = 32;
  while (true) {
    id.groups.resize(static_cast<std::size_t>(count));
    int n = count;
    if (::getgrouplist(id.name.c_str(), id.gid, id.groups.data(), &n) >= 0) {
      id.groups.resize(static_cast<std::size_t>(n));
      break;
    }
    if (n <= count || n > 65536) {
      return make_error(Errc::io, prefix + ": cannot list the groups of user " + id.name);
    }
    count = n;
  }
  return id;
}

core::Status validate(const CommandSpec& spec, const std::string& prefix)
{
  if (spec.argv.empty() || spec.argv.front().empty()) {
    return make_error(Errc::config, spec.label + ": no program given");
  }
  if (spec.argv.front().front() != '/') {
    return make_error(Errc::config, prefix + ": the program must be an absolute path (no shell, "
                                             "no $PATH search)");
  }
  for (const auto& arg : spec.argv) {
    if (arg.find('\0') != std::string::npos) {
      return make_error(Errc::config, prefix + ": an argument contains a NUL byte");
    }
  }
  for (const auto& entry : spec.environment) {
    const auto equals = entry.find('=');
    if (equals == 0 || equals == std::string::npos || entry.find('\0') != std::string::npos) {
      return make_error(Errc::config, prefix + ": environment entries must look like KEY=VALUE");
    }
  }
  return {};
}

core::Result<Spawned> spawn(const CommandSpec& spec, const Identity& id, const std::string& prefix)
{
  const auto os_error = [&prefix](const char* what) {
    return make_error(Errc::io, prefix + ": cannot execute: " + what + ": " + std::strerror(errno));
  };
  std::vector<std::string> env = make_environment(spec, id);
  std::vector<std::string> args = spec.argv;
  const std::vector<char*> argv = pointers(args);
  const std::vector<char*> envp = pointers(env);

  core::Fd devnull(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (devnull.get() < 0 || !lift(devnull)) {
    return os_error("/dev/null");
  }
  core::Fd out_read, out_write, err_read, err_write;
  if (!make_pipe(out_read, out_write) || !make_pipe(err_read, err_write)) {
    return os_error("pipe");
  }
  if (!lift(out_write) || !lift(err_write)) {
    return os_error("fcntl");
  }

  const ChildPlan plan{argv.data(),   envp.data(),     id,
                       devnull.get(), out_write.get(), err_write.get()};

  const pid_t pid = ::fork();
  if (pid < 0) {
    return os_error("fork");
  }
  if (pid == 0) {
    exec_child(plan);
  }
  ::setpgid(pid, pid); // also here, so that a kill on timeout cannot race the child's own call
  devnull.reset();
  out_write.reset();
  err_write.reset();

  return Spawned{pid, std::move(out_read), std::move(err_read)};
}

} // namespace credrotd::systemd
