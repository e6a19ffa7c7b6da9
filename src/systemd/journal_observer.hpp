// SPDX-License-Identifier: Apache-2.0
// Turns the engine's events into journal entries with MESSAGE_IDs and CREDROTD_* fields.
#pragma once

#include "engine/engine.hpp"
#include "systemd/log.hpp"

#include <functional>
#include <vector>

namespace credrotd::systemd {

class JournalObserver final : public engine::Observer {
public:
  explicit JournalObserver(const Logger& logger) : m_logger(logger) {}

  void rotation_started(const core::Rotation& rotation) override;
  void phase_changed(const core::Rotation& rotation) override;
  void rotation_finished(const core::Rotation& rotation) override;
  void verification_failed(const core::Rotation& rotation, const std::string& detail) override;
  void key_deleted(const core::Rotation& rotation, const std::string& access) override;
  void log(engine::Severity severity, const std::string& profile, std::int64_t rotation_id,
           const std::string& message) override;

private:
  const Logger& m_logger;
};

// Forwards every event to several observers (journal, D-Bus signals, metrics).
class FanOutObserver final : public engine::Observer {
public:
  void add(engine::Observer& observer) { m_observers.push_back(&observer); }

  void rotation_started(const core::Rotation& r) override;
  void phase_changed(const core::Rotation& r) override;
  void rotation_finished(const core::Rotation& r) override;
  void verification_failed(const core::Rotation& r, const std::string& detail) override;
  void key_deleted(const core::Rotation& r, const std::string& access) override;
  void log(engine::Severity severity, const std::string& profile, std::int64_t rotation_id,
           const std::string& message) override;
  void state_changed() override;

private:
  std::vector<engine::Observer*> m_observers;
};

} // namespace credrotd::systemd
