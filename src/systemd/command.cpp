// SPDX-License-Identifier: Apache-2.0
// fork/exec of a command with a clean environment, pidfd-based asynchronous wait, deadline
// and process-group kill, and a redacted tail of its output for error messages.
#include "systemd/command.hpp"

#include "core/secret.hpp"
#include "sys/capabilities.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <grp.h>
#include <memory>
#include <optional>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <utility>

namespace credrotd::systemd {

namespace asio = boost::asio;
using namespace boost::asio::experimental::awaitable_operators;
using core::Errc;
using core::make_error;

namespace {

constexpr auto k_tuple = asio::as_tuple(asio::use_awaitable);

// How long to wait for a SIGKILLed group leader to exit before giving up on reaping it (a
// process stuck in uninterruptible sleep); it then stays a zombie until the daemon exits.
constexpr std::chrono::seconds k_kill_grace{5};

// ----------------------------------------------------------------------------------------
// Small RAII and formatting helpers

class Fd {
public:
  Fd() = default;
  explicit Fd(int fd) : m_fd(fd) {}
  Fd(Fd&& other) noexcept : m_fd(std::exchange(other.m_fd, -1)) {}
  Fd& operator=(Fd&& other) noexcept
  {
    reset(std::exchange(other.m_fd, -1));
    return *this;
  }
  ~Fd() { reset(); }
  int get() const noexcept { return m_fd; }
  int release() noexcept { return std::exchange(m_fd, -1); }
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

// Moves a new descriptor above 2, so that dup2() onto 0/1/2 in the child always clears
// FD_CLOEXEC (dup2 of a descriptor onto itself would not), even when the daemon was started
// with a standard descriptor closed.
bool lift(Fd& fd)
{
  if (fd.get() > 2) {
    return true;
  }
  const int moved = ::fcntl(fd.get(), F_DUPFD_CLOEXEC, 3);
  if (moved < 0) {
    return false;
  }
  fd.reset(moved);
  return true;
}

// glibc 2.36's <sys/pidfd.h> lacks extern "C" (fixed in 2.37): call the system call itself.
int open_pidfd(pid_t pid)
{
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0U));
}

std::string errno_text(int error)
{
  return std::strerror(error);
}

std::string describe_ms(std::chrono::milliseconds ms)
{
  if (ms.count() % 1000 == 0) {
    return std::to_string(ms.count() / 1000) + " s";
  }
  return std::to_string(ms.count()) + " ms";
}

std::string signal_name(int sig)
{
  if (const char* abbrev = ::sigabbrev_np(sig); abbrev != nullptr) {
    return std::string("SIG") + abbrev;
  }
  return std::to_string(sig);
}

void replace_all(std::string& text, std::string_view needle, std::string_view with)
{
  if (needle.empty()) {
    return;
  }
  for (std::size_t at = text.find(needle); at != std::string::npos;
       at = text.find(needle, at + with.size())) {
    text.replace(at, needle.size(), with);
  }
}

// ----------------------------------------------------------------------------------------
// The output tail

// Keeps the last `keep + overlap` bytes of a stream in one fixed buffer (never reallocated,
// wiped when destroyed: the output of a program may contain a secret). `overlap` is the
// length of the longest redacted string minus one: the first `overlap` bytes of a full
// buffer may hold the end of a secret whose beginning was dropped, so they are never shown.
class OutputTail {
public:
  OutputTail(std::size_t keep, std::size_t overlap)
      : m_keep(keep), m_capacity(keep + overlap), m_data(std::make_unique<char[]>(m_capacity))
  {}
  ~OutputTail() { core::wipe(m_data.get(), m_capacity); }
  OutputTail(const OutputTail&) = delete;
  OutputTail& operator=(const OutputTail&) = delete;

  void append(const char* data, std::size_t size)
  {
    if (size >= m_capacity) {
      std::memcpy(m_data.get(), data + (size - m_capacity), m_capacity);
      m_size = m_capacity;
      return;
    }
    if (m_size + size > m_capacity) {
      const std::size_t drop = m_size + size - m_capacity;
      std::memmove(m_data.get(), m_data.get() + drop, m_size - drop);
      m_size -= drop;
    }
    std::memcpy(m_data.get() + m_size, data, size);
    m_size += size;
  }

  // The last `keep` bytes, with every occurrence of a redacted string replaced by
  // "<redacted>", invalid UTF-8 and control characters replaced by '?', and lines joined
  // with " | ".
  std::string render(const std::vector<std::string_view>& redact) const
  {
    const std::string_view raw(m_data.get(), m_size);
    std::vector<bool> masked(raw.size(), false);
    for (const auto needle : redact) {
      if (needle.empty()) {
        continue;
      }
      for (auto at = raw.find(needle); at != std::string_view::npos;
           at = raw.find(needle, at + 1)) {
        std::fill_n(masked.begin() + static_cast<std::ptrdiff_t>(at), needle.size(), true);
      }
    }

    const std::size_t start = raw.size() > m_keep ? raw.size() - m_keep : 0;
    std::string text;
    text.reserve(raw.size() - start + 16);
    std::size_t i = start;
    // A cut in the middle of a multi-byte character leaves continuation bytes at the start.
    while (i < raw.size() && !masked[i] && (static_cast<unsigned char>(raw[i]) & 0xC0) == 0x80) {
      ++i;
    }
    while (i < raw.size()) {
      if (masked[i]) {
        text += "<redacted>";
        while (i < raw.size() && masked[i]) {
          ++i;
        }
        continue;
      }
      const std::size_t length = utf8_length(raw, i, masked);
      if (length == 0) {
        text += '?';
        ++i;
        continue;
      }
      const unsigned char c = static_cast<unsigned char>(raw[i]);
      if (length == 1 && (c < 0x20 || c == 0x7F)) {
        text += c == '\n' ? '\n' : (c == '\t' || c == '\r') ? ' ' : '?';
      } else {
        text.append(raw.substr(i, length));
      }
      i += length;
    }
    return join_lines(text);
  }

private:
  // Length of the valid UTF-8 sequence at `i` that touches no masked byte; 0 if none.
  static std::size_t utf8_length(std::string_view s, std::size_t i, const std::vector<bool>& masked)
  {
    const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    const unsigned char b = byte(i);
    std::size_t length = 0;
    unsigned char low = 0x80;
    unsigned char high = 0xBF;
    if (b < 0x80) {
      return 1;
    } else if (b >= 0xC2 && b <= 0xDF) {
      length = 2;
    } else if (b >= 0xE0 && b <= 0xEF) {
      length = 3;
      low = b == 0xE0 ? 0xA0 : 0x80;
      high = b == 0xED ? 0x9F : 0xBF;
    } else if (b >= 0xF0 && b <= 0xF4) {
      length = 4;
      low = b == 0xF0 ? 0x90 : 0x80;
      high = b == 0xF4 ? 0x8F : 0xBF;
    } else {
      return 0;
    }
    if (i + length > s.size()) {
      return 0;
    }
    for (std::size_t k = 1; k < length; ++k) {
      const unsigned char lo = k == 1 ? low : 0x80;
      const unsigned char hi = k == 1 ? high : 0xBF;
      if (masked[i + k] || byte(i + k) < lo || byte(i + k) > hi) {
        return 0;
      }
    }
    return length;
  }

  static std::string join_lines(const std::string& text)
  {
    std::string out;
    std::size_t begin = 0;
    while (begin <= text.size()) {
      std::size_t end = text.find('\n', begin);
      if (end == std::string::npos) {
        end = text.size();
      }
      std::string_view line(text.data() + begin, end - begin);
      while (!line.empty() && line.front() == ' ') {
        line.remove_prefix(1);
      }
      while (!line.empty() && line.back() == ' ') {
        line.remove_suffix(1);
      }
      if (!line.empty()) {
        if (!out.empty()) {
          out += " | ";
        }
        out.append(line);
      }
      begin = end + 1;
    }
    return out;
  }

  std::size_t m_keep;
  std::size_t m_capacity;
  std::unique_ptr<char[]> m_data;
  std::size_t m_size = 0;
};

// ----------------------------------------------------------------------------------------
// Who the child runs as

struct Identity {
  bool switch_user = false;
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;
  std::string name;
  std::string home;
};

// getpwnam_r/getpwuid_r with a buffer that grows on ERANGE. nullopt: no such user.
template <class Lookup> core::Result<std::optional<Identity>> lookup_passwd(Lookup lookup)
{
  std::vector<char> buffer(4096);
  while (true) {
    passwd entry{};
    passwd* found = nullptr;
    const int rc = lookup(&entry, buffer.data(), buffer.size(), &found);
    if (rc == ERANGE && buffer.size() < (std::size_t{1} << 20)) {
      buffer.resize(buffer.size() * 2);
      continue;
    }
    if (rc != 0) {
      return make_error(Errc::io, "cannot read the user database: " + errno_text(rc));
    }
    if (found == nullptr) {
      return std::optional<Identity>{};
    }
    Identity id;
    id.uid = found->pw_uid;
    id.gid = found->pw_gid;
    id.name = found->pw_name != nullptr ? found->pw_name : "";
    id.home = found->pw_dir != nullptr && found->pw_dir[0] != '\0' ? found->pw_dir : "/";
    return std::optional<Identity>{std::move(id)};
  }
}

core::Result<Identity> resolve_identity(const std::string& user, const std::string& prefix)
{
  if (user.empty()) {
    const uid_t self = ::geteuid();
    CREDROTD_TRY_ASSIGN(auto found,
                        lookup_passwd([self](passwd* e, char* b, std::size_t n, passwd** r) {
                          return ::getpwuid_r(self, e, b, n, r);
                        }));
    if (found) {
      return std::move(*found);
    }
    // A uid without a passwd entry (DynamicUser=, a container): still a valid identity.
    Identity id;
    id.uid = self;
    id.gid = ::getegid();
    id.name = std::to_string(self);
    id.home = "/";
    return id;
  }

  CREDROTD_TRY_ASSIGN(auto found,
                      lookup_passwd([&user](passwd* e, char* b, std::size_t n, passwd** r) {
                        return ::getpwnam_r(user.c_str(), e, b, n, r);
                      }));
  if (!found) {
    return make_error(Errc::config, prefix + ": no user named \"" + user + "\"");
  }
  Identity id = std::move(*found);
  if (id.uid == ::geteuid() && id.gid == ::getegid()) {
    return id; // already that user: keep the daemon's groups, no privilege needed
  }
  id.switch_user = true;
  // initgroups() reads the group database, which is not safe after fork(): the list is
  // computed here and set with setgroups() in the child.
  int count = 32;
  while (true) {
    id.groups.resize(static_cast<std::size_t>(count));
    int n = count;
    if (::getgrouplist(id.name.c_str(), id.gid, id.groups.data(), &n) >= 0) {
      id.groups.resize(static_cast<std::size_t>(n));
      break;
    }
    if (n <= count || n > 65536) {
      return make_error(Errc::io, prefix + ": cannot list the groups of user " + id.name);
    }
    count = n;
  }
  return id;
}

// ----------------------------------------------------------------------------------------
// The child

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

[[noreturn]] void fail_child(const ChildPlan& plan, Stage stage) noexcept
{
  const ExecFailure failure{stage, errno};
  [[maybe_unused]] const auto written = ::write(plan.error_fd, &failure, sizeof failure);
  ::_exit(127);
}

[[noreturn]] void exec_child(const ChildPlan& plan) noexcept
{
  if (::setpgid(0, 0) != 0) {
    fail_child(plan, Stage::setup);
  }
  // The daemon may block or ignore signals (SIGPIPE...); a program expects the defaults.
  sigset_t none;
  ::sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  struct sigaction defaults {};
  defaults.sa_handler = SIG_DFL;
  ::sigemptyset(&defaults.sa_mask);
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP) {
      ::sigaction(sig, &defaults, nullptr); // fails harmlessly for reserved signals
    }
  }
  if (::dup2(plan.stdin_fd, 0) < 0 || ::dup2(plan.output_fd, 1) < 0 ||
      ::dup2(plan.output_fd, 2) < 0) {
    fail_child(plan, Stage::setup);
  }
  // Every other descriptor is closed at exec; the error pipe stays usable until then.
  if (::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
    fail_child(plan, Stage::setup);
  }
  // No privilege survives into the program: no_new_privs (set-user-ID bits and file
  // capabilities stop working), an empty bounding set while CAP_SETPCAP is still effective,
  // then the user's groups and ids, then empty ambient, inheritable, permitted and effective
  // sets, checked. A daemon without CAP_SETPCAP (the --user instance) cannot empty the
  // bounding set; it then runs the program only if it holds no capability itself, so that
  // the bounding set can grant nothing under no_new_privs.
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    fail_child(plan, Stage::privileges);
  }
  sys::CapabilitySets held;
  if (const int error = sys::drop_bounding_set(); error != 0) {
    if (sys::read_capabilities(held) != 0 || held.permitted != 0 || held.ambient != 0) {
      errno = error;
      fail_child(plan, Stage::privileges);
    }
  }
  if (plan.switch_user) {
    if (::setgroups(plan.group_count, plan.groups) != 0 ||
        ::setresgid(plan.gid, plan.gid, plan.gid) != 0 ||
        ::setresuid(plan.uid, plan.uid, plan.uid) != 0) {
      fail_child(plan, Stage::user);
    }
  }
  if (const int error = sys::clear_capability_sets(); error != 0) {
    errno = error;
    fail_child(plan, Stage::privileges);
  }
  if (const int error = sys::read_capabilities(held); error != 0) {
    errno = error;
    fail_child(plan, Stage::privileges);
  }
  if (held.effective != 0 || held.permitted != 0 || held.inheritable != 0 || held.ambient != 0) {
    errno = EPERM;
    fail_child(plan, Stage::privileges);
  }
  if (::chdir("/") != 0) {
    fail_child(plan, Stage::setup);
  }
  ::execve(plan.path, plan.argv, plan.envp);
  fail_child(plan, Stage::exec);
}

// Kills and reaps the child if the coroutine leaves before it was reaped (error paths,
// cancellation, destruction of the frame at shutdown).
struct ChildGuard {
  pid_t pid = -1;
  bool reaped = false;
  bool abandoned = false;

  void kill_group() const noexcept
  {
    ::kill(-pid, SIGKILL);
    ::kill(pid, SIGKILL); // in case it had not become a group leader yet
  }

  ~ChildGuard()
  {
    if (reaped || pid <= 0) {
      return;
    }
    kill_group();
    if (abandoned) {
      return;
    }
    siginfo_t info{};
    while (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED) != 0 && errno == EINTR) {
    }
  }
};

// Collects the exit status of a child that the pidfd reported as exited.
std::optional<siginfo_t> reap(ChildGuard& child)
{
  siginfo_t info{};
  while (::waitid(P_PID, static_cast<id_t>(child.pid), &info, WEXITED | WNOHANG) != 0) {
    if (errno != EINTR) {
      return std::nullopt;
    }
  }
  if (info.si_pid == 0) {
    return std::nullopt;
  }
  child.reaped = true;
  return info;
}

// Reads what is available without blocking. Returns false at end of file or on error.
bool drain(asio::posix::stream_descriptor& output, OutputTail& tail, std::array<char, 4096>& buffer)
{
  while (true) {
    boost::system::error_code ec;
    const std::size_t n = output.read_some(asio::buffer(buffer), ec);
    if (n > 0) {
      tail.append(buffer.data(), n);
    }
    if (ec == asio::error::would_block || ec == asio::error::try_again) {
      return true;
    }
    if (ec) {
      return false;
    }
  }
}

// co_await throws operation_aborted once the coroutine's cancellation was requested (Asio's
// throw_if_cancelled, which belongs to the caller's whole coroutine chain): check before each
// suspension, so that cancellation comes back as Errc::cancelled, a value.
bool cancel_requested(const asio::cancellation_state& state)
{
  return state.cancelled() != asio::cancellation_type::none;
}

core::Error wait_failed(const std::string& prefix, const boost::system::error_code& ec)
{
  if (ec == asio::error::operation_aborted) {
    return make_error(Errc::cancelled, prefix + ": cancelled");
  }
  return make_error(Errc::internal, prefix + ": cannot wait for it: " + ec.message());
}

std::string with_output(std::string message, const OutputTail& tail,
                        const std::vector<std::string_view>& redact)
{
  const std::string text = tail.render(redact);
  if (text.empty()) {
    message += " (no output)";
  } else {
    message += ": ";
    message += text;
  }
  // argv and labels never carry a secret by contract; this pass is only a second net.
  for (const auto needle : redact) {
    replace_all(message, needle, "<redacted>");
  }
  return message;
}

core::Status validate(const CommandSpec& spec, const std::string& prefix)
{
  if (spec.argv.empty() || spec.argv.front().empty()) {
    return make_error(Errc::config, spec.label + ": no program given");
  }
  if (spec.argv.front().front() != '/') {
    return make_error(Errc::config, prefix + ": the program must be an absolute path (no shell, "
                                             "no $PATH search)");
  }
  for (const auto& arg : spec.argv) {
    if (arg.find('\0') != std::string::npos) {
      return make_error(Errc::config, prefix + ": an argument contains a NUL byte");
    }
  }
  for (const auto& entry : spec.environment) {
    const auto equals = entry.find('=');
    if (equals == 0 || equals == std::string::npos || entry.find('\0') != std::string::npos) {
      return make_error(Errc::config, prefix + ": environment entries must look like KEY=VALUE");
    }
  }
  return {};
}

std::vector<std::string> make_environment(const CommandSpec& spec, const Identity& id)
{
  std::vector<std::string> env = {
      "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
      "HOME=" + id.home,
      "USER=" + id.name,
      "LOGNAME=" + id.name,
      "LANG=C.UTF-8",
      "AWS_EC2_METADATA_DISABLED=true",
  };
  for (const auto& entry : spec.environment) {
    const std::string_view key(entry.data(), entry.find('=') + 1);
    const auto same = std::find_if(env.begin(), env.end(), [key](const std::string& e) {
      return std::string_view(e).starts_with(key);
    });
    if (same != env.end()) {
      *same = entry;
    } else {
      env.push_back(entry);
    }
  }
  return env;
}

std::vector<char*> pointers(std::vector<std::string>& strings)
{
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (auto& s : strings) {
    out.push_back(s.data());
  }
  out.push_back(nullptr);
  return out;
}

} // namespace

asio::awaitable<core::Status> run_command(asio::any_io_executor executor, CommandSpec spec)
{
  const std::string prefix =
      spec.label + " " + (spec.argv.empty() ? std::string("(none)") : spec.argv.front());
  CREDROTD_CO_TRY(validate(spec, prefix));
  CREDROTD_CO_TRY_ASSIGN(const Identity id, resolve_identity(spec.user, prefix));
  const auto timeout = std::max(spec.timeout, std::chrono::milliseconds(1));

  std::vector<std::string> env = make_environment(spec, id);
  std::vector<std::string> args = spec.argv;
  const std::vector<char*> argv = pointers(args);
  const std::vector<char*> envp = pointers(env);

  const auto os_error = [&prefix](const char* what) {
    return make_error(Errc::io, prefix + ": cannot execute: " + what + ": " + errno_text(errno));
  };
  Fd devnull(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (devnull.get() < 0 || !lift(devnull)) {
    co_return os_error("/dev/null");
  }
  std::array<int, 2> out_pipe{-1, -1};
  if (::pipe2(out_pipe.data(), O_CLOEXEC) != 0) {
    co_return os_error("pipe");
  }
  Fd out_read(out_pipe[0]);
  Fd out_write(out_pipe[1]);
  std::array<int, 2> err_pipe{-1, -1};
  if (::pipe2(err_pipe.data(), O_CLOEXEC) != 0) {
    co_return os_error("pipe");
  }
  Fd err_read(err_pipe[0]);
  Fd err_write(err_pipe[1]);
  if (!lift(out_write) || !lift(err_write)) {
    co_return os_error("fcntl");
  }

  ChildPlan plan;
  plan.path = argv.front();
  plan.argv = argv.data();
  plan.envp = envp.data();
  plan.stdin_fd = devnull.get();
  plan.output_fd = out_write.get();
  plan.error_fd = err_write.get();
  plan.switch_user = id.switch_user;
  plan.uid = id.uid;
  plan.gid = id.gid;
  plan.groups = id.groups.data();
  plan.group_count = id.groups.size();

  const pid_t pid = ::fork();
  if (pid < 0) {
    co_return os_error("fork");
  }
  if (pid == 0) {
    exec_child(plan);
  }
  ChildGuard child{pid};
  ::setpgid(pid, pid); // also here, so that a kill on timeout cannot race the child's own call
  devnull.reset();
  out_write.reset();
  err_write.reset();

  Fd pidfd(open_pidfd(pid));
  if (pidfd.get() < 0) {
    co_return os_error("pidfd_open");
  }
  asio::posix::stream_descriptor exited(executor, pidfd.release());
  asio::posix::stream_descriptor errors(executor, err_read.release());
  asio::posix::stream_descriptor output(executor, out_read.release());
  output.non_blocking(true);
  asio::steady_timer deadline(executor);
  deadline.expires_after(timeout);

  std::size_t longest = 0;
  for (const auto needle : spec.redact) {
    longest = std::max(longest, needle.size());
  }
  OutputTail tail(k_command_output_tail, longest > 0 ? longest - 1 : 0);
  std::array<char, 4096> buffer{};
  struct WipeBuffer {
    std::array<char, 4096>& buffer;
    ~WipeBuffer() { core::wipe(buffer.data(), buffer.size()); }
  } wipe_buffer{buffer};

  // 1. Did exec succeed? The error pipe reaches end of file at exec (CLOEXEC), or carries
  //    an ExecFailure.
  ExecFailure failure{};
  bool timed_out = false;
  {
    if (cancel_requested(co_await asio::this_coro::cancellation_state)) {
      co_return make_error(Errc::cancelled, prefix + ": cancelled");
    }
    auto outcome =
        co_await (asio::async_read(errors, asio::buffer(&failure, sizeof failure), k_tuple) ||
                  deadline.async_wait(k_tuple));
    if (outcome.index() == 0) {
      auto [ec, n] = std::get<0>(outcome);
      if (ec == asio::error::operation_aborted) {
        co_return make_error(Errc::cancelled, prefix + ": cancelled");
      }
      if (n == sizeof failure) {
        if (cancel_requested(co_await asio::this_coro::cancellation_state)) {
          co_return make_error(Errc::cancelled, prefix + ": cancelled");
        }
        auto [wait_ec] =
            co_await exited.async_wait(asio::posix::descriptor_base::wait_read, k_tuple);
        if (!wait_ec) {
          reap(child);
        }
        const std::string reason = errno_text(failure.error);
        if (failure.stage == Stage::user) {
          co_return make_error(Errc::io,
                               prefix + ": cannot run as user " + id.name + ": " + reason);
        }
        if (failure.stage == Stage::privileges) {
          co_return make_error(Errc::io, prefix + ": cannot drop every capability: " + reason);
        }
        co_return make_error(Errc::io, prefix + ": cannot execute: " + reason);
      }
    } else {
      auto [ec] = std::get<1>(outcome);
      if (ec) {
        co_return make_error(Errc::cancelled, prefix + ": cancelled");
      }
      timed_out = true;
    }
  }
  errors.close();

  // 2. Collect output until the program exits or the deadline passes.
  bool output_open = true;
  std::optional<siginfo_t> status;
  while (!timed_out && !status) {
    if (cancel_requested(co_await asio::this_coro::cancellation_state)) {
      co_return make_error(Errc::cancelled, prefix + ": cancelled");
    }
    if (output_open) {
      auto event = co_await (output.async_wait(asio::posix::descriptor_base::wait_read, k_tuple) ||
                             exited.async_wait(asio::posix::descriptor_base::wait_read, k_tuple) ||
                             deadline.async_wait(k_tuple));
      const auto [ec] = std::visit([](auto& t) { return t; }, event);
      if (ec) {
        co_return wait_failed(prefix, ec);
      }
      if (event.index() == 0) {
        output_open = drain(output, tail, buffer);
        continue;
      }
      if (event.index() == 2) {
        timed_out = true;
        break;
      }
    } else {
      auto event = co_await (exited.async_wait(asio::posix::descriptor_base::wait_read, k_tuple) ||
                             deadline.async_wait(k_tuple));
      const auto [ec] = std::visit([](auto& t) { return t; }, event);
      if (ec) {
        co_return wait_failed(prefix, ec);
      }
      if (event.index() == 1) {
        timed_out = true;
        break;
      }
    }
    // The program exited: what it wrote before is already in the pipe.
    if (output_open) {
      drain(output, tail, buffer);
    }
    status = reap(child);
    if (!status) {
      co_return make_error(Errc::internal,
                           prefix + ": cannot collect its exit status: " + errno_text(errno));
    }
  }

  if (timed_out) {
    child.kill_group();
    if (cancel_requested(co_await asio::this_coro::cancellation_state)) {
      co_return make_error(Errc::cancelled, prefix + ": cancelled"); // the guard reaps it
    }
    deadline.expires_after(k_kill_grace);
    auto event = co_await (exited.async_wait(asio::posix::descriptor_base::wait_read, k_tuple) ||
                           deadline.async_wait(k_tuple));
    if (output_open) {
      drain(output, tail, buffer);
    }
    if (event.index() == 0 && !std::get<0>(std::get<0>(event))) {
      reap(child);
    } else {
      child.abandoned = true; // stuck in the kernel: do not block the loop on it
    }
    co_return make_error(Errc::timeout,
                         with_output(prefix + " killed after " + describe_ms(timeout) + " timeout",
                                     tail, spec.redact));
  }

  if (status->si_code == CLD_EXITED) {
    if (status->si_status == 0) {
      co_return core::Status{};
    }
    co_return make_error(Errc::protocol, with_output(prefix + " exited with status " +
                                                         std::to_string(status->si_status),
                                                     tail, spec.redact));
  }
  co_return make_error(Errc::protocol, with_output(prefix + " was killed by signal " +
                                                       signal_name(status->si_status),
                                                   tail, spec.redact));
}

} // namespace credrotd::systemd
