// SPDX-License-Identifier: Apache-2.0
// The atomic, durable, symlink-safe file writer.
#include "consumers/writer.hpp"

#include "consumers/crash_point.hpp"
#include "consumers/safe_path.hpp"
#include "core/text.hpp"

#include <fmt/format.h>
#include <openssl/evp.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <dirent.h>
#include <fcntl.h>
#include <memory>
#include <span>
#include <stdexcept>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

namespace credrotd::consumers {

using detail::Call;
using detail::call_as;
using detail::FsIdentity;
using detail::os_error;
using detail::Resolved;

namespace {

constexpr std::size_t k_max_file_size = std::size_t{1} << 20;
constexpr std::string_view k_temp_marker = ".credrotd-";
constexpr std::size_t k_temp_random = 6;
constexpr std::size_t k_max_name = 255;
constexpr const char* k_acl_xattr = "system.posix_acl_access";
constexpr std::string_view k_alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

core::Result<std::string> random_suffix()
{
  std::array<unsigned char, k_temp_random> bytes{};
  if (::getrandom(bytes.data(), bytes.size(), 0) != static_cast<ssize_t>(bytes.size())) {
    return os_error("cannot read", "random bytes (getrandom)", errno);
  }
  std::string out;
  for (const unsigned char b : bytes) {
    out += k_alphabet[b % k_alphabet.size()];
  }
  return out;
}

bool same_inode(const struct stat& a, const struct stat& b)
{
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

// Same inode, same size, not modified or changed since `a` was taken.
bool unchanged(const struct stat& a, const struct stat& b)
{
  return same_inode(a, b) && a.st_size == b.st_size && a.st_mtim.tv_sec == b.st_mtim.tv_sec &&
         a.st_mtim.tv_nsec == b.st_mtim.tv_nsec && a.st_ctim.tv_sec == b.st_ctim.tv_sec &&
         a.st_ctim.tv_nsec == b.st_ctim.tv_nsec;
}

core::Error changed_error(std::string_view path)
{
  return core::make_error(core::Errc::transient,
                          fmt::format("{} changed while credrotd was rewriting it (edited by "
                                      "someone else?); nothing written, try again",
                                      path));
}

struct OpenedFile {
  core::Fd fd;
  struct stat st {}; // after reading
  Content content;
};

// Opens the file `r` resolved, as the directory's owner, without following a link, checks
// it is still what resolve() saw, and reads it whole.
core::Result<OpenedFile> open_and_read(const Resolved& r, std::string_view path, int access_mode)
{
  OpenedFile file;
  CREDROTD_TRY_ASSIGN(const Call opened, call_as(r.actor, [&] {
                        return ::openat(r.dir.get(), r.name.c_str(),
                                        access_mode | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY |
                                            O_NONBLOCK);
                      }));
  file.fd = core::Fd(static_cast<int>(opened.rc));
  if (!file.fd) {
    if (opened.err == ELOOP || opened.err == ENOENT) {
      return changed_error(path); // replaced by a link, or removed, since resolve()
    }
    return os_error("cannot open", r.real_path, opened.err);
  }
  struct stat before {};
  if (::fstat(file.fd.get(), &before) != 0) {
    return os_error("cannot stat", r.real_path, errno);
  }
  if (!r.file || !same_inode(before, *r.file) || !S_ISREG(before.st_mode) || before.st_nlink != 1 ||
      before.st_uid != r.file->st_uid) {
    return changed_error(path);
  }
  if (static_cast<std::size_t>(before.st_size) > k_max_file_size) {
    return core::make_error(core::Errc::unsafe,
                            fmt::format("{} is larger than 1 MiB, which no client configuration "
                                        "file is; refusing to read it",
                                        path));
  }
  file.content.resize(static_cast<std::size_t>(before.st_size) + 1);
  std::size_t got = 0;
  for (;;) {
    if (got == file.content.size()) {
      if (got > k_max_file_size) {
        return changed_error(path);
      }
      file.content.resize(got * 2);
    }
    const ssize_t n = ::read(file.fd.get(), file.content.data() + got, file.content.size() - got);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      return os_error("cannot read", r.real_path, errno);
    }
    if (n == 0) {
      break;
    }
    got += static_cast<std::size_t>(n);
  }
  file.content.resize(got);
  if (::fstat(file.fd.get(), &file.st) != 0) {
    return os_error("cannot stat", r.real_path, errno);
  }
  if (!unchanged(before, file.st) || static_cast<std::size_t>(file.st.st_size) != got) {
    return changed_error(path); // written to while we read it
  }
  return file;
}

core::Status write_all(int fd, std::string_view data, const std::string& path, off_t offset)
{
  while (!data.empty()) {
    const ssize_t n = ::pwrite(fd, data.data(), data.size(), offset);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      return os_error("cannot write", path, errno);
    }
    data.remove_prefix(static_cast<std::size_t>(n));
    offset += n;
  }
  return {};
}

// A readable descriptor of the directory (for fsync and readdir), opened as its owner.
core::Result<core::Fd> open_directory(const Resolved& r)
{
  CREDROTD_TRY_ASSIGN(const Call opened, call_as(r.actor, [&] {
                        return ::openat(r.dir.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                      }));
  core::Fd fd(static_cast<int>(opened.rc));
  if (!fd) {
    return os_error("cannot open the directory", r.dir_path, opened.err);
  }
  return fd;
}

core::Result<std::size_t> remove_strays(const Resolved& r, int dir_fd)
{
  const std::string prefix = temp_file_prefix(r.name);
  const int dup = ::fcntl(dir_fd, F_DUPFD_CLOEXEC, 0);
  const std::unique_ptr<DIR, int (*)(DIR*)> dir(dup < 0 ? nullptr : ::fdopendir(dup), ::closedir);
  if (!dir) {
    const int err = errno;
    if (dup >= 0) {
      ::close(dup);
    }
    return os_error("cannot list", r.dir_path, err);
  }
  ::rewinddir(dir.get());
  std::size_t removed = 0;
  CREDROTD_TRY_ASSIGN(const auto as_owner, FsIdentity::assume(r.actor));
  while (const dirent* entry = ::readdir(dir.get())) {
    const std::string_view name = entry->d_name;
    if (!name.starts_with(prefix) || name.size() != prefix.size() + k_temp_random ||
        name.substr(prefix.size()).find_first_not_of(k_alphabet) != std::string_view::npos) {
      continue;
    }
    struct stat st {};
    if (::fstatat(::dirfd(dir.get()), entry->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      continue;
    }
    const bool ours = st.st_uid == r.actor.uid || (r.file && st.st_uid == r.file->st_uid);
    if (!S_ISREG(st.st_mode) || st.st_nlink != 1 || !ours) {
      continue;
    }
    if (::unlinkat(::dirfd(dir.get()), entry->d_name, 0) != 0) {
      return os_error("cannot remove the stray temporary file",
                      fmt::format("{}/{}", r.dir_path, name), errno);
    }
    ++removed;
  }
  return removed;
}

// Removes the temp file unless disarmed (the rename happened).
class TempGuard {
public:
  TempGuard(const Resolved& r, std::string name) : m_r(r), m_name(std::move(name)) {}
  TempGuard(const TempGuard&) = delete;
  TempGuard& operator=(const TempGuard&) = delete;
  ~TempGuard()
  {
    if (m_armed) {
      if (auto as_owner = FsIdentity::assume(m_r.actor)) {
        ::unlinkat(m_r.dir.get(), m_name.c_str(), 0);
      }
    }
  }
  void disarm() { m_armed = false; }

private:
  const Resolved& m_r;
  std::string m_name;
  bool m_armed = true;
};

core::Status write_by_rename(const Resolved& r, std::string_view path, int dir_fd,
                             const OpenedFile* old, std::string_view content, mode_t mode)
{
  const std::string prefix = temp_file_prefix(r.name);
  const uid_t uid = old != nullptr ? old->st.st_uid : r.actor.uid;
  const gid_t gid = old != nullptr ? old->st.st_gid : r.dir_stat.st_gid;
  // Created as the directory's owner with the file's group as file-system gid, the temp file
  // usually has its final owner and group already and needs no CAP_CHOWN.
  const detail::Identity creator{r.actor.uid, gid};
  std::string temp_name;
  core::Fd temp;
  {
    CREDROTD_TRY_ASSIGN(auto as_owner, FsIdentity::assume(creator));
    for (int attempt = 0; attempt < 16 && !temp; ++attempt) {
      CREDROTD_TRY_ASSIGN(const std::string suffix, random_suffix());
      temp_name = prefix + suffix;
      temp = core::Fd(::openat(r.dir.get(), temp_name.c_str(),
                               O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
      if (!temp && errno != EEXIST) {
        return os_error("cannot create a temporary file in", r.dir_path, errno);
      }
    }
  }
  if (!temp) {
    return os_error("cannot create a temporary file in", r.dir_path, EEXIST);
  }
  TempGuard guard(r, temp_name);
  CREDROTD_CRASH_POINT(k_crash_temp_created);
  const std::string temp_path =
      fmt::format("{}/{}", r.dir_path == "/" ? "" : r.dir_path, temp_name);

  // Owner, group and mode before the content, so the secret never sits in a file that is
  // more open than the target will be.
  {
    CREDROTD_TRY_ASSIGN(auto as_owner, FsIdentity::assume(creator));
    if (old != nullptr) {
      std::array<char, 4096> acl{};
      const ssize_t n = ::fgetxattr(old->fd.get(), k_acl_xattr, acl.data(), acl.size());
      if (n > 0 &&
          ::fsetxattr(temp.get(), k_acl_xattr, acl.data(), static_cast<size_t>(n), 0) != 0) {
        return os_error("cannot copy the POSIX ACL to", temp_path, errno);
      }
    }
    if (::fchmod(temp.get(), mode) != 0) {
      return os_error("cannot set the mode of", temp_path, errno);
    }
  }
  struct stat temp_st {};
  if (::fstat(temp.get(), &temp_st) != 0) {
    return os_error("cannot stat", temp_path, errno);
  }
  if ((temp_st.st_uid != uid || temp_st.st_gid != gid) && ::fchown(temp.get(), uid, gid) != 0) {
    // A descriptor of our own new file: changing its owner cannot be redirected.
    return os_error(
        fmt::format("cannot give uid {} gid {} (the owner the file must keep) to", uid, gid),
        temp_path, errno);
  }
  CREDROTD_TRY(write_all(temp.get(), content, temp_path, 0));
  if (::fsync(temp.get()) != 0) {
    return os_error("cannot write (fsync)", temp_path, errno);
  }
  temp = core::Fd();
  CREDROTD_CRASH_POINT(k_crash_temp_synced);

  {
    CREDROTD_TRY_ASSIGN(auto as_owner, FsIdentity::assume(r.actor));
    struct stat now {};
    const int rc = ::fstatat(r.dir.get(), r.name.c_str(), &now, AT_SYMLINK_NOFOLLOW);
    const bool still =
        old != nullptr ? (rc == 0 && unchanged(now, old->st)) : (rc != 0 && errno == ENOENT);
    if (!still) {
      return changed_error(path);
    }
  }
  // Whatever the name points to from here on, renameat() replaces the name itself: a link
  // planted now is replaced, never followed.
  CREDROTD_CRASH_POINT(k_crash_checked);
  CREDROTD_TRY_ASSIGN(const Call renamed, call_as(r.actor, [&] {
                        return old != nullptr
                                   ? ::renameat(r.dir.get(), temp_name.c_str(), r.dir.get(),
                                                r.name.c_str())
                                   : ::renameat2(r.dir.get(), temp_name.c_str(), r.dir.get(),
                                                 r.name.c_str(), RENAME_NOREPLACE);
                      }));
  if (renamed.rc != 0) {
    if (renamed.err == EEXIST) {
      return changed_error(path);
    }
    auto error = os_error("cannot rename " + temp_name + " over", r.real_path, renamed.err);
    if (renamed.err == EBUSY || renamed.err == EXDEV) {
      error.message += " (a single-file bind mount? set in_place = true for this consumer)";
    }
    return error;
  }
  guard.disarm();
  CREDROTD_CRASH_POINT(k_crash_renamed);
  if (::fsync(dir_fd) != 0) {
    return os_error("replaced the file but cannot fsync its directory", r.dir_path, errno);
  }
  CREDROTD_CRASH_POINT(k_crash_dir_synced);
  return {};
}

core::Status write_in_place(const Resolved& r, std::string_view path, OpenedFile& old,
                            std::string_view content, mode_t mode)
{
  const int fd = old.fd.get();
  struct stat now {};
  if (::fstat(fd, &now) != 0) {
    return os_error("cannot stat", r.real_path, errno);
  }
  if (!unchanged(now, old.st)) {
    return changed_error(path);
  }
  if ((now.st_mode & 07777) != mode) {
    CREDROTD_TRY_ASSIGN(auto as_owner, FsIdentity::assume(r.actor));
    if (::fchmod(fd, mode) != 0) {
      return os_error("cannot set the mode of", r.real_path, errno);
    }
  }
  // Reserve the space first: a full disk then fails before a byte is overwritten.
  if (static_cast<off_t>(content.size()) > now.st_size &&
      ::fallocate(fd, 0, 0, static_cast<off_t>(content.size())) != 0 && errno != EOPNOTSUPP) {
    return os_error("cannot grow", r.real_path, errno);
  }
  CREDROTD_TRY(write_all(fd, content, r.real_path, 0));
  CREDROTD_CRASH_POINT(k_crash_in_place_written);
  if (::ftruncate(fd, static_cast<off_t>(content.size())) != 0) {
    return os_error("cannot truncate", r.real_path, errno);
  }
  if (::fsync(fd) != 0) {
    return os_error("cannot write (fsync)", r.real_path, errno);
  }
  return {};
}

} // namespace

std::string_view to_string(WriteMethod method) noexcept
{
  switch (method) {
  case WriteMethod::none:
    return "none";
  case WriteMethod::rename:
    return "rename";
  case WriteMethod::in_place:
    return "in-place";
  }
  return "none";
}

std::string temp_file_prefix(std::string_view name)
{
  const std::size_t room = k_max_name - 1 - k_temp_marker.size() - k_temp_random;
  std::string prefix = ".";
  prefix += name.substr(0, room);
  prefix += k_temp_marker;
  return prefix;
}

std::string sha256_hex(std::string_view data)
{
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), md.data(), &len, EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("consumers: EVP_Digest(SHA-256) failed");
  }
  return core::hex_encode(std::span<const unsigned char>(md.data(), len));
}

core::Result<WriteReport> rewrite_file(std::string_view path, const WriteOptions& options,
                                       const Renderer& render)
{
  CREDROTD_TRY_ASSIGN(Resolved r, detail::resolve(path));
  CREDROTD_TRY_ASSIGN(const core::Fd dir_fd, open_directory(r));
  WriteReport report;
  report.path = r.real_path;
  CREDROTD_TRY_ASSIGN(report.stray_temp_files_removed, remove_strays(r, dir_fd.get()));

  std::optional<OpenedFile> old;
  if (r.file) {
    const int access = options.in_place == InPlace::yes ? O_RDWR : O_RDONLY;
    CREDROTD_TRY_ASSIGN(old, open_and_read(r, path, access));
  }
  const CurrentFile current{path,
                            old ? std::optional<std::string_view>(old->content) : std::nullopt};
  CREDROTD_TRY_ASSIGN(const Content next, render(current));
  report.created = !old;
  report.old_sha256 = old ? sha256_hex(old->content) : std::string();
  report.new_sha256 = sha256_hex(next);

  const mode_t mode = static_cast<mode_t>(
      (old ? (old->st.st_mode & 0777U) : (options.create_mode & 0777U)) & ~options.mode_clear);
  if (old && std::string_view(old->content) == std::string_view(next)) {
    if ((old->st.st_mode & 07777U) != mode) {
      // Same content, but a mode the client refuses (s3fs): fix only the mode.
      CREDROTD_TRY_ASSIGN(auto as_owner, FsIdentity::assume(r.actor));
      if (::fchmod(old->fd.get(), mode) != 0) {
        return os_error("cannot set the mode of", r.real_path, errno);
      }
    }
    return report;
  }
  report.changed = true;
  if (old && options.in_place == InPlace::yes) {
    report.method = WriteMethod::in_place;
    CREDROTD_TRY(write_in_place(r, path, *old, next, mode));
  } else {
    report.method = WriteMethod::rename;
    CREDROTD_TRY(write_by_rename(r, path, dir_fd.get(), old ? &*old : nullptr, next, mode));
  }
  return report;
}

core::Result<std::optional<FileContent>> read_file(std::string_view path)
{
  CREDROTD_TRY_ASSIGN(const Resolved r, detail::resolve(path));
  if (!r.file) {
    return std::optional<FileContent>{};
  }
  CREDROTD_TRY_ASSIGN(OpenedFile file, open_and_read(r, path, O_RDONLY));
  return std::optional<FileContent>(FileContent{std::move(file.content), r.real_path});
}

} // namespace credrotd::consumers
