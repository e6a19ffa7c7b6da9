// SPDX-License-Identifier: Apache-2.0
// Journal entries for rotation events.
#include "systemd/journal_observer.hpp"

#include <fmt/format.h>

#include <syslog.h>

namespace credrotd::systemd {

namespace {

LogFields fields_of(const core::Rotation& r, const std::string& access = {})
{
  return LogFields{r.profile, r.id, std::string(core::to_string(r.phase)),
                   access.empty() ? r.new_access.value_or("") : access};
}

std::string describe_keys(const core::Rotation& r)
{
  return "old key " + r.old_access.value_or("(none)") + ", new key " +
         r.new_access.value_or("(not created yet)");
}

int priority_of(engine::Severity severity)
{
  switch (severity) {
  case engine::Severity::debug:
    return LOG_DEBUG;
  case engine::Severity::info:
    return LOG_INFO;
  case engine::Severity::notice:
    return LOG_NOTICE;
  case engine::Severity::warning:
    return LOG_WARNING;
  case engine::Severity::error:
    return LOG_ERR;
  }
  return LOG_INFO;
}

} // namespace

void JournalObserver::rotation_started(const core::Rotation& r)
{
  m_logger.log(
      LOG_NOTICE, MessageKind::rotation_started, fields_of(r),
      fmt::format("rotation {} of profile {} started ({})", r.id, r.profile, describe_keys(r)));
}

void JournalObserver::phase_changed(const core::Rotation& r)
{
  std::string message = fmt::format("rotation {} entered phase {}", r.id, core::to_string(r.phase));
  if (!r.error.empty() && !core::is_final(r.phase)) {
    message += " (" + r.error + ")";
  }
  m_logger.log(LOG_INFO, MessageKind::none, fields_of(r), message);
}

void JournalObserver::rotation_finished(const core::Rotation& r)
{
  std::string message = fmt::format("rotation {} of profile {} ", r.id, r.profile);
  MessageKind kind = MessageKind::rotation_failed;
  int priority = LOG_ERR;
  switch (r.outcome) {
  case core::Outcome::succeeded:
    kind = MessageKind::rotation_succeeded;
    priority = LOG_NOTICE;
    message += "succeeded: consumers now use " + r.new_access.value_or("?");
    break;
  case core::Outcome::rolled_back:
    kind = MessageKind::rotation_rolled_back;
    priority = LOG_WARNING;
    message += "was rolled back to " + r.old_access.value_or("?") + ": " + r.error;
    break;
  case core::Outcome::failed:
  case core::Outcome::running:
    message += "failed: " + r.error;
    break;
  }
  if (!r.note.empty()) {
    message += " (" + r.note + ")";
  }
  m_logger.log(priority, kind, fields_of(r), message);
}

void JournalObserver::verification_failed(const core::Rotation& r, const std::string& detail)
{
  m_logger.log(LOG_WARNING, MessageKind::verification_failed, fields_of(r),
               "verification of new key " + r.new_access.value_or("?") + " failed: " + detail);
}

void JournalObserver::key_deleted(const core::Rotation& r, const std::string& access)
{
  m_logger.log(LOG_NOTICE, MessageKind::key_deleted, fields_of(r, access),
               "old key " + access + " of profile " + r.profile + " deleted from Keystone");
}

void JournalObserver::log(engine::Severity severity, const std::string& profile,
                          std::int64_t rotation_id, const std::string& message)
{
  m_logger.log(priority_of(severity), MessageKind::none, LogFields{profile, rotation_id, {}, {}},
               message);
}

void FanOutObserver::rotation_started(const core::Rotation& r)
{
  for (auto* o : m_observers) {
    o->rotation_started(r);
  }
}

void FanOutObserver::phase_changed(const core::Rotation& r)
{
  for (auto* o : m_observers) {
    o->phase_changed(r);
  }
}

void FanOutObserver::rotation_finished(const core::Rotation& r)
{
  for (auto* o : m_observers) {
    o->rotation_finished(r);
  }
}

void FanOutObserver::verification_failed(const core::Rotation& r, const std::string& detail)
{
  for (auto* o : m_observers) {
    o->verification_failed(r, detail);
  }
}

void FanOutObserver::key_deleted(const core::Rotation& r, const std::string& access)
{
  for (auto* o : m_observers) {
    o->key_deleted(r, access);
  }
}

void FanOutObserver::log(engine::Severity severity, const std::string& profile,
                         std::int64_t rotation_id, const std::string& message)
{
  for (auto* o : m_observers) {
    o->log(severity, profile, rotation_id, message);
  }
}

void FanOutObserver::state_changed()
{
  for (auto* o : m_observers) {
    o->state_changed();
  }
}

} // namespace credrotd::systemd
