// SPDX-License-Identifier: Apache-2.0
// The stderr capture and the private-journal child process.
#include "log_capture.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdexcept>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace credrotd::systemd::test {

namespace {

std::string read_all(int fd)
{
  std::string out;
  char buf[4096];
  ssize_t n = 0;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) {
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

JournalEntry parse_entry(std::string_view d)
{
  JournalEntry entry;
  while (!d.empty()) {
    const auto nl = d.find('\n');
    const auto eq = d.find('=');
    if (eq != std::string_view::npos && eq < nl) {
      entry.emplace(std::string(d.substr(0, eq)), std::string(d.substr(eq + 1, nl - eq - 1)));
      d.remove_prefix(nl == std::string_view::npos ? d.size() : nl + 1);
      continue;
    }
    // FIELD\n<le64 size><value>\n
    const std::string name(d.substr(0, nl));
    d.remove_prefix(nl + 1);
    std::uint64_t size = 0;
    std::memcpy(&size, d.data(), sizeof size); // x86-64: little-endian like the protocol
    d.remove_prefix(sizeof size);
    entry.emplace(name, std::string(d.substr(0, size)));
    d.remove_prefix(size + 1);
  }
  return entry;
}

// Writes one length-prefixed record to the pipe back to the parent.
void send_record(int fd, char kind, std::string_view data)
{
  const std::uint32_t size = static_cast<std::uint32_t>(data.size());
  [[maybe_unused]] auto a = ::write(fd, &kind, 1);
  [[maybe_unused]] auto b = ::write(fd, &size, sizeof size);
  [[maybe_unused]] auto c = ::write(fd, data.data(), data.size());
}

[[noreturn]] void child(const std::function<void()>& log, JournalSocket socket_kind,
                        std::size_t expected, int out)
{
  const auto fail = [out](const std::string& what) {
    send_record(out, 'F', fmt::format("{}: {}", what, std::strerror(errno)));
    ::_exit(1);
  };
  if (::unshare(CLONE_NEWNS) != 0) {
    fail("unshare(CLONE_NEWNS)");
  }
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    fail("make / private");
  }
  if (::mount("tmpfs", "/run", "tmpfs", 0, "size=1024k,mode=0755") != 0) {
    fail("mount tmpfs on /run");
  }
  if (::mkdir("/run/systemd", 0755) != 0 || ::mkdir("/run/systemd/journal", 0755) != 0) {
    fail("mkdir /run/systemd/journal");
  }
  int journal = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strcpy(address.sun_path, "/run/systemd/journal/socket");
  if (journal < 0 || ::bind(journal, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    fail("bind /run/systemd/journal/socket");
  }
  if (socket_kind != JournalSocket::bound) {
    ::close(journal);
    journal = -1;
  }
  if (socket_kind == JournalSocket::absent && ::unlink("/run/systemd/journal/socket") != 0) {
    fail("unlink /run/systemd/journal/socket");
  }
  // stderr into a pipe of its own, read after `log` ran.
  int err[2];
  if (::pipe(err) != 0 || ::dup2(err[1], STDERR_FILENO) < 0) {
    fail("redirect stderr");
  }
  ::close(err[1]);
  log();
  ::close(STDERR_FILENO);
  send_record(out, 'E', read_all(err[0]));
  for (std::size_t i = 0; journal >= 0 && i < expected; ++i) {
    pollfd p{journal, POLLIN, 0};
    if (::poll(&p, 1, 5000) != 1) {
      break;
    }
    std::vector<char> datagram(1 << 20);
    const auto n = ::recv(journal, datagram.data(), datagram.size(), 0);
    if (n < 0) {
      fail("recv");
    }
    send_record(out, 'J', std::string_view(datagram.data(), static_cast<std::size_t>(n)));
  }
  ::_exit(0);
}

} // namespace

StderrCapture::StderrCapture()
{
  m_file = ::memfd_create("stderr-capture", MFD_CLOEXEC);
  m_saved = ::dup(STDERR_FILENO);
  if (m_file < 0 || m_saved < 0 || ::dup2(m_file, STDERR_FILENO) < 0) {
    throw std::runtime_error("cannot capture stderr");
  }
}

StderrCapture::~StderrCapture()
{
  ::dup2(m_saved, STDERR_FILENO);
  ::close(m_saved);
  ::close(m_file);
}

std::string StderrCapture::text() const
{
  std::string out;
  char buf[4096];
  off_t offset = 0;
  ssize_t n = 0;
  while ((n = ::pread(m_file, buf, sizeof buf, offset)) > 0) {
    out.append(buf, static_cast<std::size_t>(n));
    offset += n;
  }
  return out;
}

JournalRun run_with_journal(const std::function<void()>& log, JournalSocket socket_kind,
                            std::size_t expected)
{
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    return {{}, {}, "pipe failed"};
  }
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    return {{}, {}, "fork failed"};
  }
  if (pid == 0) {
    ::close(fds[0]);
    child(log, socket_kind, expected, fds[1]);
  }
  ::close(fds[1]);
  const std::string records = read_all(fds[0]);
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);

  JournalRun run;
  std::string_view rest = records;
  while (rest.size() >= 5) {
    const char kind = rest[0];
    std::uint32_t size = 0;
    std::memcpy(&size, rest.data() + 1, sizeof size);
    const auto data = rest.substr(5, size);
    rest.remove_prefix(5 + data.size());
    if (kind == 'J') {
      run.entries.push_back(parse_entry(data));
    } else if (kind == 'E') {
      run.stderr_text = std::string(data);
    } else {
      run.failure = std::string(data);
    }
  }
  if (run.failure.empty() && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
    run.failure = fmt::format("the journal child ended with status {:#x}", status);
  }
  return run;
}

} // namespace credrotd::systemd::test
