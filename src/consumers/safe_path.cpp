// SPDX-License-Identifier: Apache-2.0
// The component-by-component path walk and the per-thread file-system identity switch.
#include "consumers/safe_path.hpp"

#include "sys/capabilities.hpp"

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

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept
{
  if (this != &other) {
    if (m_fd >= 0) {
      ::close(m_fd);
    }
    m_fd = other.release();
  }
  return *this;
}

UniqueFd::~UniqueFd()
{
  if (m_fd >= 0) {
    ::close(m_fd);
  }
}

int UniqueFd::release() noexcept
{
  return std::exchange(m_fd, -1);
}

core::Error os_error(std::string_view what, std::string_view path, int err)
{
  std::string message(what);
  message += ' ';
  message += path;
  message += ": ";
  message += std::strerror(err);
  const core::Errc code = err == ENOENT  ? core::Errc::not_found
                          : err == ELOOP ? core::Errc::unsafe
                                         : core::Errc::io;
  return core::make_error(code, std::move(message));
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
                            "cannot drop supplementary groups to act as uid " +
                                std::to_string(who.uid) +
                                " (is CAP_SETGID missing?): " + std::strerror(errno));
  }
  identity.m_old_gid = static_cast<gid_t>(::setfsgid(who.gid));
  identity.m_old_uid = static_cast<uid_t>(::setfsuid(who.uid));
  identity.m_active = true; // from here on the destructor restores whatever was changed
  if (static_cast<gid_t>(::setfsgid(static_cast<gid_t>(-1))) != who.gid ||
      static_cast<uid_t>(::setfsuid(static_cast<uid_t>(-1))) != who.uid) {
    return core::make_error(core::Errc::unsafe, "cannot switch the file-system identity to uid " +
                                                    std::to_string(who.uid) + " gid " +
                                                    std::to_string(who.gid) +
                                                    " (are CAP_SETUID and CAP_SETGID missing?)");
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
  UniqueFd fd;
  struct stat st {};
  std::string name; // "" for the root
};

// A symbolic link being followed: it is checked once its target is fully resolved, which
// is when the queue of components shrinks back to `threshold`.
struct PendingLink {
  uid_t owner = 0;
  std::size_t threshold = 0;
  std::string path; // where the link is, for messages
  std::string target;
};

std::string prefix_path(const std::vector<Dir>& dirs, std::size_t i);

std::string join(const std::vector<Dir>& dirs)
{
  return prefix_path(dirs, dirs.size() - 1);
}

std::string child_path(const std::vector<Dir>& dirs, std::string_view name)
{
  std::string out = join(dirs);
  if (out != "/") {
    out += '/';
  }
  out += name;
  return out;
}

Identity owner_of(const struct stat& st)
{
  return Identity{st.st_uid, st.st_gid};
}

std::deque<std::string> components(std::string_view path)
{
  std::deque<std::string> out;
  std::size_t pos = 0;
  while (pos <= path.size()) {
    const std::size_t slash = path.find('/', pos);
    const std::size_t end = slash == std::string_view::npos ? path.size() : slash;
    if (end > pos) {
      out.emplace_back(path.substr(pos, end - pos));
    }
    if (slash == std::string_view::npos) {
      break;
    }
    pos = slash + 1;
  }
  return out;
}

std::string describe_owner(uid_t uid)
{
  return "uid " + std::to_string(uid);
}

std::string path_string(std::string_view path)
{
  return std::string(path);
}

// The real path of dirs[0..i].
std::string prefix_path(const std::vector<Dir>& dirs, std::size_t i)
{
  std::string out;
  for (std::size_t j = 1; j <= i; ++j) {
    out += '/';
    out += dirs[j].name;
  }
  return out.empty() ? "/" : out;
}

} // namespace

core::Result<Resolved> resolve(std::string_view path)
{
  if (path.empty() || path.front() != '/') {
    return core::make_error(core::Errc::config,
                            "consumer path \"" + std::string(path) + "\" is not absolute");
  }
  if (path.find('\0') != std::string_view::npos) {
    return core::make_error(core::Errc::config, "consumer path contains a NUL byte");
  }
  if (path.back() == '/') {
    return core::make_error(core::Errc::config,
                            "consumer path \"" + std::string(path) + "\" names a directory");
  }

  std::vector<Dir> dirs;
  {
    Dir root;
    root.fd = UniqueFd(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!root.fd || ::fstat(root.fd.get(), &root.st) != 0) {
      return os_error("cannot open", "/", errno);
    }
    dirs.push_back(std::move(root));
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
        return core::make_error(
            core::Errc::unsafe,
            path_string(path) + ": the symbolic link " + link.path + " -> " + link.target +
                " belongs to " + describe_owner(link.owner) + " but what it points to belongs to " +
                describe_owner(target_owner) +
                "; credrotd follows a link only when both have the same owner (or the link is "
                "root's)");
      }
      pending.pop_back();
    }
    return {};
  };

  while (!todo.empty()) {
    std::string c = std::move(todo.front());
    todo.pop_front();
    if (c == ".") {
      CREDROTD_TRY(settle());
      continue;
    }
    if (c == "..") {
      if (dirs.size() > 1) {
        dirs.pop_back();
      }
      CREDROTD_TRY(settle());
      continue;
    }
    const bool last = todo.empty();
    const Dir& top = dirs.back();
    const std::string where = child_path(dirs, c);
    struct stat st {};
    int rc = 0;
    int err = 0;
    {
      CREDROTD_TRY_ASSIGN(auto as_owner, FsIdentity::assume(owner_of(top.st)));
      rc = ::fstatat(top.fd.get(), c.c_str(), &st, AT_SYMLINK_NOFOLLOW);
      err = errno;
    }
    if (rc != 0) {
      if (err == ENOENT && last) {
        final_name = std::move(c);
        CREDROTD_TRY(settle());
        continue;
      }
      if (err == ENOENT) {
        return core::make_error(core::Errc::not_found,
                                path_string(path) + ": directory " + where + " does not exist");
      }
      return os_error("cannot look up", where, err);
    }
    if (S_ISLNK(st.st_mode)) {
      if (++links > k_max_symlinks) {
        return core::make_error(core::Errc::unsafe,
                                path_string(path) + ": too many symbolic links");
      }
      std::string target(k_max_link_size, '\0');
      ssize_t n = 0;
      {
        CREDROTD_TRY_ASSIGN(auto as_owner, FsIdentity::assume(owner_of(top.st)));
        n = ::readlinkat(top.fd.get(), c.c_str(), target.data(), target.size());
        err = errno;
      }
      if (n < 0) {
        return os_error("cannot read the symbolic link", where, err);
      }
      if (static_cast<std::size_t>(n) >= target.size()) {
        return core::make_error(core::Errc::unsafe,
                                path_string(path) + ": symbolic link " + where + " is too long");
      }
      target.resize(static_cast<std::size_t>(n));
      if (target.empty()) {
        return core::make_error(core::Errc::not_found,
                                path_string(path) + ": empty symbolic link " + where);
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
                              path_string(path) + ": " + where + " is not a directory");
    }
    Dir next;
    {
      CREDROTD_TRY_ASSIGN(auto as_owner, FsIdentity::assume(owner_of(top.st)));
      next.fd = UniqueFd(
          ::openat(top.fd.get(), c.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      err = errno;
    }
    if (!next.fd) {
      return os_error("cannot open the directory", where, err);
    }
    if (::fstat(next.fd.get(), &next.st) != 0) {
      return os_error("cannot stat", where, errno);
    }
    if (next.st.st_dev != st.st_dev || next.st.st_ino != st.st_ino) {
      return core::make_error(core::Errc::transient,
                              path_string(path) + ": " + where +
                                  " changed while credrotd was looking it up; try again");
    }
    next.name = std::move(c);
    dirs.push_back(std::move(next));
    CREDROTD_TRY(settle());
  }
  if (!final_name) {
    return core::make_error(core::Errc::config, path_string(path) + " is a directory");
  }

  // The directories of the real path: root's at the top, then at most one other owner.
  uid_t territory = 0;
  std::string territory_dir;
  for (std::size_t i = 0; i < dirs.size(); ++i) {
    const struct stat& st = dirs[i].st;
    const std::string here = prefix_path(dirs, i);
    if ((st.st_mode & S_IWOTH) != 0 && ((st.st_mode & S_ISVTX) == 0 || i + 1 == dirs.size())) {
      return core::make_error(core::Errc::unsafe,
                              path_string(path) + ": directory " + here +
                                  " is writable by every user" +
                                  ((st.st_mode & S_ISVTX) != 0 ? " (it holds the file)" : "") +
                                  ", who could replace the file; credrotd refuses to write there");
    }
    if (st.st_uid != 0 && territory == 0) {
      territory = st.st_uid;
      territory_dir = here;
    } else if (territory != 0 && st.st_uid != territory) {
      return core::make_error(core::Errc::unsafe,
                              path_string(path) + ": directory " + here + " belongs to " +
                                  describe_owner(st.st_uid) + " but lies inside " + territory_dir +
                                  ", which belongs to " + describe_owner(territory) +
                                  " and can rename it at will; credrotd refuses such a path");
    }
  }

  Resolved resolved;
  resolved.dir_stat = dirs.back().st;
  resolved.dir_path = join(dirs);
  resolved.name = *final_name;
  resolved.real_path = child_path(dirs, *final_name);
  resolved.actor = owner_of(resolved.dir_stat);
  resolved.file = final_stat;
  resolved.dir = std::move(dirs.back().fd);
  if (final_stat) {
    const struct stat& st = *final_stat;
    if (!S_ISREG(st.st_mode)) {
      return core::make_error(core::Errc::unsafe, path_string(path) + ": " + resolved.real_path +
                                                      " is not a regular file");
    }
    if (st.st_nlink > 1) {
      return core::make_error(core::Errc::unsafe,
                              path_string(path) + ": " + resolved.real_path + " has " +
                                  std::to_string(st.st_nlink) +
                                  " hard links; credrotd refuses to write a file reachable under "
                                  "other names (remove the other links)");
    }
    if (resolved.actor.uid != 0 && st.st_uid != resolved.actor.uid) {
      return core::make_error(core::Errc::unsafe,
                              path_string(path) + ": " + resolved.real_path + " belongs to " +
                                  describe_owner(st.st_uid) + " but its directory belongs to " +
                                  describe_owner(resolved.actor.uid) +
                                  ", who can replace it at will; chown the file to the "
                                  "directory's owner");
    }
  }
  return resolved;
}

} // namespace credrotd::consumers::detail
