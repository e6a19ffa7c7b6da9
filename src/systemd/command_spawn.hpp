// SPDX-License-Identifier: Apache-2.0
// Private to the command runner: who a command runs as, its clean environment, and the
// forked child's work up to execve (descriptors, signals, groups and ids, no capability).
#pragma once

#include "core/error.hpp"
#include "core/fd.hpp"
#include "systemd/command.hpp"

#include <string>
#include <sys/types.h>
#include <vector>

namespace credrotd::systemd {

struct Identity {
  bool switch_user = false;
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;
  std::string name;
  std::string home;
};

// The identity of `user` (empty: the daemon's own, even without a passwd entry), with the
// groups to take when it is another user. Errors: config (no such user), io (the user or
// group database cannot be read). Messages start with `prefix`.
core::Result<Identity> resolve_identity(const std::string& user, const std::string& prefix);

// Errors (config) for a spec that cannot run: no program, not an absolute path, a NUL byte,
// an environment entry that is not KEY=VALUE.
core::Status validate(const CommandSpec& spec, const std::string& prefix);

// The clean environment of run_command() (command.hpp), then spec.environment.
std::vector<std::string> make_environment(const CommandSpec& spec, const Identity& id);

// Pointers to each string, then nullptr: an argv or envp for execve.
std::vector<char*> pointers(std::vector<std::string>& strings);

// Moves a new descriptor above 2, so that dup2() onto 0/1/2 in the child always clears
// FD_CLOEXEC (dup2 of a descriptor onto itself would not), even when the daemon was started
// with a standard descriptor closed.
bool lift(core::Fd& fd);

enum class Stage : int { setup = 1, user = 2, exec = 3, privileges = 4 };

// Written by the child to the CLOEXEC error pipe when it cannot exec; end of file means exec
// succeeded.
struct ExecFailure {
  Stage stage;
  int error;
};

// Everything the child needs, prepared before fork(): after fork() only async-signal-safe
// calls are allowed (no allocation, no locks, no NSS).
struct ChildPlan {
  const char* path = nullptr;
  char* const* argv = nullptr;
  char* const* envp = nullptr;
  int stdin_fd = -1;
  int output_fd = -1;
  int error_fd = -1;
  bool switch_user = false;
  uid_t uid = 0;
  gid_t gid = 0;
  const gid_t* groups = nullptr;
  std::size_t group_count = 0;
};

// In the forked child: sets up and execs plan.path, or writes an ExecFailure to
// plan.error_fd and exits with 127. Async-signal-safe only.
[[noreturn]] void exec_child(const ChildPlan& plan) noexcept;

} // namespace credrotd::systemd
