// SPDX-License-Identifier: Apache-2.0
// journald and stderr back ends of the logger.
#include "systemd/log.hpp"

#include <fmt/format.h>
#include <systemd/sd-journal.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>
#include <vector>

namespace credrotd::systemd {

namespace {
// Where sd_journal_send() writes.
constexpr const char* k_journal_socket = "/run/systemd/journal/socket";
} // namespace

std::string_view message_id(MessageKind kind) noexcept
{
  switch (kind) {
  case MessageKind::none:
    return "";
  case MessageKind::rotation_started:
    return "3c15719645044dbeb540056719e6565f";
  case MessageKind::rotation_succeeded:
    return "083833f2987d4ee3ba55e9d86b46a2db";
  case MessageKind::rotation_failed:
    return "5a28b33024a345d5814efd35154f9013";
  case MessageKind::rotation_rolled_back:
    return "e653b11feca14225b1d47620659e6d46";
  case MessageKind::key_deleted:
    return "f3b43076b87a43cbb890691a0017a887";
  case MessageKind::verification_failed:
    return "413561c494d942f3b022b214340c7ee7";
  case MessageKind::config_error:
    return "06557d0743344db69c30b0742cb43029";
  case MessageKind::daemon_ready:
    return "7ea8da8ff3f445cba960f4feee592276";
  case MessageKind::daemon_reloaded:
    return "338d790eb9204747b1f927905eb0e5d6";
  }
  return "";
}

Sink detect_sink()
{
  if (const char* forced = std::getenv("CREDROTD_LOG")) {
    const std::string_view f(forced);
    if (f == "journal") {
      return Sink::journal;
    }
    if (f == "stderr") {
      return Sink::stderr_;
    }
  }
  const char* stream = std::getenv("JOURNAL_STREAM");
  if (stream == nullptr) {
    return Sink::stderr_;
  }
  unsigned long long dev = 0;
  unsigned long long ino = 0;
  if (std::sscanf(stream, "%llu:%llu", &dev, &ino) != 2) {
    return Sink::stderr_;
  }
  struct stat st {};
  if (::fstat(STDERR_FILENO, &st) != 0) {
    return Sink::stderr_;
  }
  return st.st_dev == dev && st.st_ino == ino ? Sink::journal : Sink::stderr_;
}

Logger::Logger(Sink sink, int max_priority) : m_sink(sink), m_max_priority(max_priority) {}

void Logger::log(int priority, MessageKind kind, const LogFields& fields,
                 std::string_view message) const
{
  if (priority > m_max_priority) {
    return;
  }
  if (m_sink == Sink::journal) {
    std::vector<std::string> items;
    items.push_back("MESSAGE=" + std::string(message));
    items.push_back(fmt::format("PRIORITY={}", priority));
    items.push_back("SYSLOG_IDENTIFIER=credrotd");
    if (const auto id = message_id(kind); !id.empty()) {
      items.push_back("MESSAGE_ID=" + std::string(id));
    }
    if (!fields.profile.empty()) {
      items.push_back("CREDROTD_PROFILE=" + fields.profile);
    }
    if (fields.rotation != 0) {
      items.push_back(fmt::format("CREDROTD_ROTATION={}", fields.rotation));
    }
    if (!fields.phase.empty()) {
      items.push_back("CREDROTD_PHASE=" + fields.phase);
    }
    if (!fields.access.empty()) {
      items.push_back("CREDROTD_ACCESS_ID=" + fields.access);
    }
    std::vector<iovec> iov;
    iov.reserve(items.size());
    for (auto& item : items) {
      iov.push_back(iovec{item.data(), item.size()});
    }
    // sd_journal_sendv() reports success without sending when journald's socket does not
    // exist, so that is checked too.
    if (sd_journal_sendv(iov.data(), static_cast<int>(iov.size())) >= 0 &&
        ::access(k_journal_socket, F_OK) == 0) {
      return;
    }
    // No journald, or it is gone (shutdown): fall through to stderr rather than lose the line.
  }
  // systemd turns "<N>" into a priority; a person at a terminal gets words instead.
  static const bool tty = ::isatty(STDERR_FILENO) == 1;
  const std::string prefix = !tty                      ? fmt::format("<{}>", priority)
                             : priority <= LOG_ERR     ? std::string("error: ")
                             : priority == LOG_WARNING ? std::string("warning: ")
                                                       : std::string();
  std::string line = prefix;
  if (!fields.profile.empty()) {
    line += fields.profile;
    if (fields.rotation != 0) {
      line += fmt::format(" #{}", fields.rotation);
    }
    line += ": ";
  }
  // Each line carries the prefix, so a multi-line message keeps its priority.
  for (const char c : message) {
    line += c;
    if (c == '\n') {
      line += prefix;
    }
  }
  line += '\n';
  [[maybe_unused]] const auto n = ::write(STDERR_FILENO, line.data(), line.size());
}

} // namespace credrotd::systemd
