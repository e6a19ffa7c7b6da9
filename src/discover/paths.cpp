// SPDX-License-Identifier: Apache-2.0
// Root-relative paths, the passwd database, small non-secret files.
#include "discover/paths.hpp"

#include "core/fd.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <pwd.h>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

namespace credrotd::discover {

std::string under_root(std::string_view root, std::string_view path)
{
  while (root.size() > 1 && root.back() == '/') {
    root.remove_suffix(1);
  }
  if (root.empty() || root == "/") {
    return std::string(path);
  }
  return std::string(root) + std::string(path);
}

core::Result<std::string> read_small_file(const std::string& path)
{
  constexpr std::streamsize k_limit = 1024 * 1024;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return core::make_error(core::Errc::io,
                            "cannot read " + path + ": " + std::strerror(errno ? errno : EIO));
  }
  std::string text(static_cast<std::size_t>(k_limit) + 1, '\0');
  in.read(text.data(), k_limit + 1);
  if (in.bad()) {
    return core::make_error(core::Errc::io, "cannot read " + path);
  }
  if (in.gcount() > k_limit) {
    return core::make_error(core::Errc::unsafe, path + " is larger than 1 MiB");
  }
  text.resize(static_cast<std::size_t>(in.gcount()));
  return text;
}

std::vector<User> parse_passwd(std::string_view text)
{
  std::vector<User> out;
  std::istringstream lines{std::string(text)};
  std::string line;
  while (std::getline(lines, line)) {
    std::vector<std::string> fields;
    std::size_t pos = 0;
    for (;;) {
      const auto colon = line.find(':', pos);
      fields.push_back(line.substr(pos, colon - pos));
      if (colon == std::string::npos) {
        break;
      }
      pos = colon + 1;
    }
    if (fields.size() != 7 || fields[0].empty()) {
      continue;
    }
    User user;
    const auto& uid = fields[2];
    const auto [end, ec] = std::from_chars(uid.data(), uid.data() + uid.size(), user.uid);
    if (ec != std::errc() || end != uid.data() + uid.size() || uid.empty()) {
      continue;
    }
    user.name = fields[0];
    user.home = fields[5];
    out.push_back(std::move(user));
  }
  return out;
}

core::Result<std::vector<User>> users(const std::string& root)
{
  if (under_root(root, "/") != "/") {
    CREDROTD_TRY_ASSIGN(const std::string text, read_small_file(under_root(root, "/etc/passwd")));
    return parse_passwd(text);
  }
  std::vector<User> out;
  ::setpwent();
  while (const passwd* pw = ::getpwent()) {
    out.push_back(User{pw->pw_name, pw->pw_uid, pw->pw_dir != nullptr ? pw->pw_dir : ""});
  }
  ::endpwent();
  return out;
}

namespace {

core::Error io_error(const std::string& what, const std::string& path, int err)
{
  return core::make_error(err == EEXIST ? core::Errc::conflict : core::Errc::io,
                          what + " " + path + ": " + std::strerror(err));
}

} // namespace

core::Status write_new_file(const std::string& path, std::string_view text)
{
  const std::filesystem::path target(path);
  const std::string dir = target.parent_path().empty() ? "." : target.parent_path().string();
  const std::string name = target.filename().string();
  const core::Fd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir_fd) {
    return io_error("cannot open the directory", dir, errno);
  }
  const std::string temp = fmt::format(".{}.discover-{}", name, ::getpid());
  core::Fd fd(::openat(dir_fd.get(), temp.c_str(),
                       O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644));
  if (!fd) {
    return io_error("cannot create a temp file in", dir, errno);
  }
  std::size_t done = 0;
  int err = 0;
  while (done < text.size() && err == 0) {
    const auto n = ::write(fd.get(), text.data() + done, text.size() - done);
    if (n < 0 && errno != EINTR) {
      err = errno;
    } else if (n > 0) {
      done += static_cast<std::size_t>(n);
    }
  }
  if (err == 0 && ::fchmod(fd.get(), 0644) != 0) {
    err = errno;
  }
  if (err == 0 && ::fsync(fd.get()) != 0) {
    err = errno;
  }
  fd.reset();
  if (err == 0 &&
      ::renameat2(dir_fd.get(), temp.c_str(), dir_fd.get(), name.c_str(), RENAME_NOREPLACE) != 0) {
    err = errno;
  }
  if (err != 0) {
    ::unlinkat(dir_fd.get(), temp.c_str(), 0);
    return io_error("cannot write", path, err);
  }
  ::fsync(dir_fd.get());
  return {};
}

} // namespace credrotd::discover
