// SPDX-License-Identifier: Apache-2.0
// Structured logging to journald (sd_journal_send), or to stderr with <N> prefixes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace credrotd::systemd {

// One MESSAGE_ID per kind of event (systemd/credrotd.catalog explains each).
enum class MessageKind {
  none,
  rotation_started,
  rotation_succeeded,
  rotation_failed,
  rotation_rolled_back,
  key_deleted,
  verification_failed,
  config_error,
  daemon_ready,
  daemon_reloaded,
};

// The 128-bit MESSAGE_ID of a kind, as 32 hex digits ("" for none).
std::string_view message_id(MessageKind kind) noexcept;

// Journal fields beyond MESSAGE and PRIORITY (CREDROTD_PROFILE, CREDROTD_ROTATION,
// CREDROTD_PHASE, CREDROTD_ACCESS_ID). Empty values are left out. Never a secret: an access
// id is an identifier, the secret never comes near a logger.
struct LogFields {
  std::string profile;
  std::int64_t rotation = 0;
  std::string phase;
  std::string access;
};

enum class Sink {
  journal, // sd_journal_send: structured fields
  stderr_, // "<N>text" lines, which systemd turns into priorities when stderr is a journal stream
};

// Where logs should go: the journal when stderr is connected to it ($JOURNAL_STREAM names
// stderr's device:inode), stderr otherwise. $CREDROTD_LOG=journal|stderr overrides.
Sink detect_sink();

class Logger {
public:
  // Messages with a priority above max_priority (LOG_DEBUG=7 ... LOG_ERR=3) are dropped.
  explicit Logger(Sink sink, int max_priority = 6);

  void log(int priority, MessageKind kind, const LogFields& fields, std::string_view message) const;
  void info(std::string_view message) const { log(6, MessageKind::none, {}, message); }
  void warning(std::string_view message) const { log(4, MessageKind::none, {}, message); }
  void error(std::string_view message) const { log(3, MessageKind::none, {}, message); }

  Sink sink() const noexcept { return m_sink; }

private:
  Sink m_sink;
  int m_max_priority;
};

} // namespace credrotd::systemd
