// SPDX-License-Identifier: Apache-2.0
// read_secret_file: open, check the mode on the open descriptor, read, wipe.
#include "config/secret_file.hpp"

#include "core/fd.hpp"

#include <fmt/format.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace credrotd::config {

namespace {

// A secret file is small; anything larger is a mistake (a wrong path), not a secret.
constexpr std::size_t k_max_secret_file = 64 * 1024;

} // namespace

core::Result<core::Secret> read_secret_file(const std::string& path)
{
  // O_NONBLOCK: a FIFO planted at the path must not hang the daemon; it is refused below.
  core::Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (fd.get() < 0) {
    return core::make_error(core::Errc::io,
                            path + ": cannot open the secret file: " + std::strerror(errno));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    return core::make_error(core::Errc::io, path + ": cannot stat: " + std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) {
    return core::make_error(core::Errc::unsafe, path + ": the secret file is not a regular file");
  }
  if ((st.st_mode & 0044) != 0) {
    return core::make_error(
        core::Errc::unsafe,
        fmt::format(
            "{0}: the secret file is readable by group or others (mode {1:04o}); chmod 600 {0}",
            path, st.st_mode & 07777));
  }
  core::WipingString content;
  // The allocator wipes heap buffers; a short secret lives inside the string object.
  struct WipeOnExit {
    core::WipingString& text;
    ~WipeOnExit() { core::wipe(text.data(), text.capacity()); }
  } wipe_content{content};
  std::array<char, 4096> buffer{};
  while (true) {
    const ssize_t n = ::read(fd.get(), buffer.data(), buffer.size());
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      const int error = errno;
      core::wipe(buffer.data(), buffer.size());
      return core::make_error(core::Errc::io, path + ": cannot read: " + std::strerror(error));
    }
    if (n == 0) {
      break;
    }
    content.append(buffer.data(), static_cast<std::size_t>(n));
    if (content.size() > k_max_secret_file) {
      core::wipe(buffer.data(), buffer.size());
      return core::make_error(core::Errc::config,
                              path + ": too large for a secret file (over 64 KiB)");
    }
  }
  core::wipe(buffer.data(), buffer.size());
  if (!content.empty() && content.back() == '\n') {
    content.pop_back();
    if (!content.empty() && content.back() == '\r') {
      content.pop_back();
    }
  }
  if (content.empty()) {
    return core::make_error(core::Errc::config, path + ": the secret file is empty");
  }
  if (content.find_first_of("\r\n") != core::WipingString::npos) {
    return core::make_error(core::Errc::config,
                            path + ": the secret file must hold the secret on a single line");
  }
  return core::Secret(std::string_view(content.data(), content.size()));
}

} // namespace credrotd::config
