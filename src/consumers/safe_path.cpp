// SPDX-License-Identifier: Apache-2.0
// The component-by-component path walk and the per-thread file-system identity switch.
#include "consumers/safe_path.hpp"

#include "sys/capabilities.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fcntl.h>
#include <linux/capability.h>
#include <sys/fsuid.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <utility>

namespace credrotd::consumers::detail {

core::Error os_error(std::string_view what, std::string_view path, int err)
{
  const core::Errc code = err == ENOENT  ? core::Errc::not_found
                          : err == ELOOP ? core::Errc::unsafe
                                         : core::Errc::io;
  return core::make_error(code, fmt::format("{} {}: {}", what, path, std::strerror(err)));
}

namespace {

// glibc's setgroups() changes every thread of the process; the system call changes only
// the calling one, which is what a scoped per-thread identity needs.
int thread_setgroups(std::size_t n, const gid_t* groups)
{
  return static_cast<int>(::syscall(SYS_setgroups, n, groups));
}

} // namespace

core::Result<FsIdentity> FsIdentity::assume(Identity who)
{
  FsIdentity identity;
  // Root must act as the owner (or refuse); any other user does when it can (CAP_SETUID:
  // a service user granted capabilities), and otherwise acts as itself, with its own rights.
  // Root acting in its own directory still takes the group asked for: a file it creates then
  // has that group without CAP_CHOWN.
  const uid_t self = ::geteuid();
  if ((who.uid == self && who.gid == ::getegid()) ||
      (self != 0 && !sys::has_effective_capability(CAP_SETUID))) {
    return identity;
  }
  const int n = ::getgroups(0, nullptr);
  if (n < 0) {
    return os_error("cannot read the supplementary groups of", "the process", errno);
  }
  identity.m_groups.resize(static_cast<std::size_t>(n));
  if (::getgroups(n, identity.m_groups.data()) != n) {
    return os_error("cannot read the supplementary groups of", "the process", errno);
  }
  if (thread_setgroups(0, nullptr) != 0) {
    return core::make_error(core::Errc::unsafe,
                            fmt::format("cannot drop supplementary groups to act as uid {} (is "
                                        "CAP_SETGID missing?): {}",
                                        who.uid, std::strerror(errno)));
  }
  identity.m_old_gid = static_cast<gid_t>(::setfsgid(who.gid));
  identity.m_old_uid = static_cast<uid_t>(::setfsuid(who.uid));
  identity.m_active = true; // from here on the destructor restores whatever was changed
  if (static_cast<gid_t>(::setfsgid(static_cast<gid_t>(-1))) != who.gid ||
      static_cast<uid_t>(::setfsuid(static_cast<uid_t>(-1))) != who.uid) {
    return core::make_error(core::Errc::unsafe,
                            fmt::format("cannot switch the file-system identity to uid {} gid {} "
                                        "(are CAP_SETUID and CAP_SETGID missing?)",
                                        who.uid, who.gid));
  }
  return identity;
}

FsIdentity::FsIdentity(FsIdentity&& other) noexcept
    : m_active(std::exchange(other.m_active, false)), m_old_uid(other.m_old_uid),
      m_old_gid(other.m_old_gid), m_groups(std::move(other.m_groups))
{}

FsIdentity::~FsIdentity()
{
  if (!m_active) {
    return;
  }
  ::setfsuid(m_old_uid);
  ::setfsgid(m_old_gid);
  const bool ok = static_cast<uid_t>(::setfsuid(static_cast<uid_t>(-1))) == m_old_uid &&
                  static_cast<gid_t>(::setfsgid(static_cast<gid_t>(-1))) == m_old_gid &&
                  thread_setgroups(m_groups.size(), m_groups.data()) == 0;
  if (!ok) {
    std::abort();
  }
}

namespace {

constexpr int k_max_symlinks = 40;            // as the kernel's own limit
constexpr std::size_t k_max_link_size = 4096; // PATH_MAX

struct Dir {
  core::Fd fd;
  struct stat st {};
  std::string path; // its real path: "/" for the root
};

// A symbolic link being followed: it is checked once its target is fully resolved, which
// is when the queue of components shrinks back to `threshold`.
struct PendingLink {
  uid_t owner = 0;
  std::size_t threshold = 0;
  std::string path; // where the link is, for messages
  std::string target;
};

std::string child_path(std::string_view dir, std::string_view name)
{
  return fmt::format("{}{}{}", dir, dir == "/" ? "" : "/", name);
}

Identity owner_of(const struct stat& st)
{
  return Identity{st.st_uid, st.st_gid};
}

std::deque<std::string> components(std::string_view path)
{
  std::deque<std::string> out;
  for (std::size_t pos = 0; pos <= path.size();) {
    const std::size_t end = std::min(path.find('/', pos), path.size());
    if (end > pos) {
      out.emplace_back(path.substr(pos, end - pos));
    }
    pos = end + 1;
  }
  return out;
}

core::Error unsafe(std::string_view path, std::string_view what)
{
  return core::make_error(core::Errc::unsafe, fmt::format("{}{}", path, what));
}

} // namespace

core::Result<Resolved> resolve(std::string_view path)
{
  if (path.empty() || path.front() != '/') {
    return core::make_error(core::Errc::config,
                            fmt::format("consumer path \"{}\" is not absolute", path));
  }
  if (path.find('\0') != std::string_view::npos) {
    return core::make_error(core::Errc::config, "consumer path contains a NUL byte");
  }
  if (path.back() == '/') {
    return core::make_error(core::Errc::config,
                            fmt::format("consumer path \"{}\" names a directory", path));
  }

  std::vector<Dir> dirs;
  dirs.push_back(Dir{core::Fd(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC)), {}, "/"});
  if (!dirs[0].fd || ::fstat(dirs[0].fd.get(), &dirs[0].st) != 0) {
    return os_error("cannot open", "/", errno);
  }
  std::deque<std::string> todo = components(path);
  std::vector<PendingLink> pending;
  int links = 0;
  std::optional<std::string> final_name;
  std::optional<struct stat> final_stat;

  // Checks the links whose targets are now fully resolved.
  const auto settle = [&]() -> core::Status {
    while (!pending.empty() && pending.back().threshold == todo.size()) {
      const PendingLink& link = pending.back();
      const uid_t target_owner =
          (todo.empty() && final_stat) ? final_stat->st_uid : dirs.back().st.st_uid;
      if (link.owner != 0 && link.owner != target_owner) {
        return unsafe(path, fmt::format(": the symbolic link {} -> {} belongs to uid {} but what "
                                        "it points to belongs to uid {}; credrotd follows a link "
                                        "only when both have the same owner (or the link is "
                                        "root's)",
                                        link.path, link.target, link.owner, target_owner));
      }
      pending.pop_back();
    }
    return {};
  };

  while (!todo.empty()) {
    std::string c = std::move(todo.front());
    todo.pop_front();
    if (c == "." || c == "..") {
      if (c == ".." && dirs.size() > 1) {
        dirs.pop_back();
      }
      CREDROTD_TRY(settle());
      continue;
    }
    const bool last = todo.empty();
    const Dir& top = dirs.back();
    const Identity owner = owner_of(top.st);
    const std::string where = child_path(top.path, c);
    struct stat st {};
    CREDROTD_TRY_ASSIGN(const Call looked, call_as(owner, [&] {
                          return ::fstatat(top.fd.get(), c.c_str(), &st, AT_SYMLINK_NOFOLLOW);
                        }));
    if (looked.rc != 0) {
      if (looked.err == ENOENT && last) {
        final_name = std::move(c);
        CREDROTD_TRY(settle());
        continue;
      }
      if (looked.err == ENOENT) {
        return core::make_error(core::Errc::not_found,
                                fmt::format("{}: directory {} does not exist", path, where));
      }
      return os_error("cannot look up", where, looked.err);
    }
    if (S_ISLNK(st.st_mode)) {
      if (++links > k_max_symlinks) {
        return unsafe(path, ": too many symbolic links");
      }
      std::string target(k_max_link_size, '\0');
      CREDROTD_TRY_ASSIGN(const Call got, call_as(owner, [&] {
                            return ::readlinkat(top.fd.get(), c.c_str(), target.data(),
                                                target.size());
                          }));
      if (got.rc < 0) {
        return os_error("cannot read the symbolic link", where, got.err);
      }
      if (static_cast<std::size_t>(got.rc) >= target.size()) {
        return unsafe(path, fmt::format(": symbolic link {} is too long", where));
      }
      target.resize(static_cast<std::size_t>(got.rc));
      if (target.empty()) {
        return core::make_error(core::Errc::not_found,
                                fmt::format("{}: empty symbolic link {}", path, where));
      }
      pending.push_back(PendingLink{st.st_uid, todo.size(), where, target});
      if (target.front() == '/') {
        dirs.resize(1);
      }
      auto parts = components(target);
      todo.insert(todo.begin(), parts.begin(), parts.end());
      CREDROTD_TRY(settle());
      continue;
    }
    if (last) {
      final_name = std::move(c);
      final_stat = st;
      CREDROTD_TRY(settle());
      continue;
    }
    if (!S_ISDIR(st.st_mode)) {
      return core::make_error(core::Errc::not_found,
                              fmt::format("{}: {} is not a directory", path, where));
    }
    Dir next;
    CREDROTD_TRY_ASSIGN(const Call opened, call_as(owner, [&] {
                          return ::openat(top.fd.get(), c.c_str(),
                                          O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        }));
    next.fd = core::Fd(static_cast<int>(opened.rc));
    if (!next.fd) {
      return os_error("cannot open the directory", where, opened.err);
    }
    if (::fstat(next.fd.get(), &next.st) != 0) {
      return os_error("cannot stat", where, errno);
    }
    if (next.st.st_dev != st.st_dev || next.st.st_ino != st.st_ino) {
      return core::make_error(
          core::Errc::transient,
          fmt::format("{}: {} changed while credrotd was looking it up; try again", path, where));
    }
    next.path = where;
    dirs.push_back(std::move(next));
    CREDROTD_TRY(settle());
  }
  if (!final_name) {
    return core::make_error(core::Errc::config, fmt::format("{} is a directory", path));
  }

  // The directories of the real path: root's at the top, then at most one other owner.
  uid_t territory = 0;
  std::string_view territory_dir;
  for (std::size_t i = 0; i < dirs.size(); ++i) {
    const struct stat& st = dirs[i].st;
    if ((st.st_mode & S_IWOTH) != 0 && ((st.st_mode & S_ISVTX) == 0 || i + 1 == dirs.size())) {
      return unsafe(path, fmt::format(": directory {} is writable by every user{}, who could "
                                      "replace the file; credrotd refuses to write there",
                                      dirs[i].path,
                                      (st.st_mode & S_ISVTX) != 0 ? " (it holds the file)" : ""));
    }
    if (st.st_uid != 0 && territory == 0) {
      territory = st.st_uid;
      territory_dir = dirs[i].path;
    } else if (territory != 0 && st.st_uid != territory) {
      return unsafe(path, fmt::format(": directory {} belongs to uid {} but lies inside {}, "
                                      "which belongs to uid {} and can rename it at will; "
                                      "credrotd refuses such a path",
                                      dirs[i].path, st.st_uid, territory_dir, territory));
    }
  }

  Resolved resolved;
  resolved.dir_stat = dirs.back().st;
  resolved.dir_path = dirs.back().path;
  resolved.name = *final_name;
  resolved.real_path = child_path(resolved.dir_path, *final_name);
  resolved.actor = owner_of(resolved.dir_stat);
  resolved.file = final_stat;
  resolved.dir = std::move(dirs.back().fd);
  if (final_stat) {
    const struct stat& st = *final_stat;
    const std::string here = fmt::format("{}: {}", path, resolved.real_path);
    if (!S_ISREG(st.st_mode)) {
      return unsafe(here, " is not a regular file");
    }
    if (st.st_nlink > 1) {
      return unsafe(here, fmt::format(" has {} hard links; credrotd refuses to write a file "
                                      "reachable under other names (remove the other links)",
                                      st.st_nlink));
    }
    if (resolved.actor.uid != 0 && st.st_uid != resolved.actor.uid) {
      return unsafe(here, fmt::format(" belongs to uid {} but its directory belongs to uid {}, "
                                      "who can replace it at will; chown the file to the "
                                      "directory's owner",
                                      st.st_uid, resolved.actor.uid));
    }
  }
  return resolved;
}

} // namespace credrotd::consumers::detail
