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

enum class Stage : int { setup = 1, user = 2, exec = 3, privileges = 4 };

// Written by the child to the CLOEXEC error pipe when it cannot exec; end of file means exec
// succeeded.
struct ExecFailure {
  Stage stage;
  int error;
};

// A started child: the leader of its own process group, with the read ends of its
// stdout+stderr pipe and of the error pipe that carries an ExecFailure or reaches end of file
// at exec.
struct Spawned {
  pid_t pid = -1;
  core::Fd output;
  core::Fd errors;
};

// Forks a child that runs spec.argv as `id` with the clean environment of run_command()
// (command.hpp) and nothing else inherited. Errors (io): "<prefix>: cannot execute: <call>:
// <reason>" when a pipe or the fork fails. The caller owns the child from then on.
core::Result<Spawned> spawn(const CommandSpec& spec, const Identity& id, const std::string& prefix);

} // namespace credrotd::systemd
