// SPDX-License-Identifier: Apache-2.0
// Fd: the one owning file descriptor wrapper, closed on destruction.
#pragma once

#include <unistd.h>
#include <utility>

namespace credrotd::core {

// Owns a file descriptor (or none: -1) and closes it when destroyed or reset. Move-only.
// close() errors are ignored: on Linux the descriptor is released even when close() fails,
// and a caller that must know whether data reached the disk calls fsync() first.
class Fd {
public:
  Fd() = default;
  explicit Fd(int fd) noexcept : m_fd(fd) {}
  Fd(Fd&& other) noexcept : m_fd(other.release()) {}
  Fd& operator=(Fd&& other) noexcept
  {
    if (this != &other) {
      reset(other.release());
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }

  int get() const noexcept { return m_fd; }
  explicit operator bool() const noexcept { return m_fd >= 0; }
  // Gives up ownership: returns the descriptor (or -1) and holds none.
  int release() noexcept { return std::exchange(m_fd, -1); }
  // Closes the descriptor held, if any, and takes `fd`.
  void reset(int fd = -1) noexcept
  {
    if (m_fd >= 0) {
      ::close(m_fd);
    }
    m_fd = fd;
  }

private:
  int m_fd = -1;
};

} // namespace credrotd::core
