// SPDX-License-Identifier: Apache-2.0
// Resolving a consumer path without letting a user redirect root's writes: a component-by-
// component walk with O_NOFOLLOW, each lookup done as the owner of the directory it happens
// in, symbolic links followed only between files of one owner. docs/consumers.md states the
// policy for operators.
#pragma once

#include "core/error.hpp"
#include "core/fd.hpp"

#include <cerrno>
#include <optional>
#include <string>
#include <string_view>
#include <sys/stat.h>
#include <sys/types.h>
#include <vector>

namespace credrotd::consumers::detail {

// Who file-system operations run as.
struct Identity {
  uid_t uid = 0;
  gid_t gid = 0;
};

// While alive, the calling thread's file-system uid and gid are `who`'s and it has no
// supplementary groups, so the kernel checks permissions as that user (and drops the
// file-system capabilities: CAP_DAC_OVERRIDE, CAP_FOWNER, CAP_CHOWN...). A no-op when `who`
// is the process's own effective uid and gid, or when the process is neither root nor holds
// CAP_SETUID (it can only act as itself). Per thread: raw
// setfsuid/setfsgid/setgroups system calls, which glibc does not broadcast to other threads.
class FsIdentity {
public:
  // Errc::unsafe when the switch is refused (the daemon lacks CAP_SETUID / CAP_SETGID).
  static core::Result<FsIdentity> assume(Identity who);

  FsIdentity(FsIdentity&& other) noexcept;
  FsIdentity& operator=(FsIdentity&&) = delete;
  FsIdentity(const FsIdentity&) = delete;
  FsIdentity& operator=(const FsIdentity&) = delete;
  // Restores the previous identity; aborts the process if that fails, because going on with
  // another user's identity would be worse than stopping.
  ~FsIdentity();

private:
  FsIdentity() = default;

  bool m_active = false;
  uid_t m_old_uid = 0;
  gid_t m_old_gid = 0;
  std::vector<gid_t> m_groups;
};

// A system call's return value and errno.
struct Call {
  long rc = 0;
  int err = 0;
};

// Makes the system call `call` (returning -1 on failure) as `who` (see FsIdentity); its result
// and errno. Errc::unsafe when the identity cannot be assumed.
template <class F> core::Result<Call> call_as(Identity who, F call)
{
  CREDROTD_TRY_ASSIGN(const auto as_who, FsIdentity::assume(who));
  const long rc = static_cast<long>(call());
  return Call{rc, errno};
}

// A consumer path resolved under the policy.
struct Resolved {
  core::Fd dir;                    // O_PATH descriptor of the directory that holds the file
  struct stat dir_stat {};         // its stat
  std::string dir_path;            // its real path ("/" for the root)
  std::string name;                // the file's name in `dir`
  std::string real_path;           // dir_path + "/" + name
  Identity actor;                  // who acts in `dir`: its owner (uid) and group (gid)
  std::optional<struct stat> file; // lstat of the file; nullopt when it does not exist yet
};

// Resolves the absolute `path`. Symbolic links are followed (in directories and as the
// final component) only when the link is owned by root or by the owner of what it points
// to. Refuses (Errc::unsafe, naming the path): a directory chain that changes hands below
// root (every directory below the first non-root one must have that same owner); a
// world-writable directory without the sticky bit on the way, or a world-writable final
// directory; a file owned by someone other than its directory's owner (unless the directory
// is root's); a file that is not a regular file; a file with more than one hard link.
// Errc::not_found when a directory on the way is missing; Errc::config for a relative path.
core::Result<Resolved> resolve(std::string_view path);

// "<what> <path>: <strerror(err)>" as an Errc::io error (Errc::not_found for ENOENT,
// Errc::unsafe for ELOOP).
core::Error os_error(std::string_view what, std::string_view path, int err);

} // namespace credrotd::consumers::detail
