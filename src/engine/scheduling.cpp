// SPDX-License-Identifier: Apache-2.0
// When profiles rotate: the scheduler loop, the delay after a rotation that could not start,
// the jitter and local-time inputs of the core's schedule, and the earliest due time.
#include "engine/run.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <ctime>

namespace credrotd::engine {

namespace asio = boost::asio;

Task<void> Engine::run_scheduler()
{
  while (!m_stopping) {
    const auto t = now();
    std::optional<core::TimePoint> earliest;
    std::vector<std::string> due;
    for (const auto& [name, profile] : m_profiles) {
      if (!profile->enabled || m_running.count(name) != 0 || m_planning.count(name) != 0 ||
          m_unschedulable.count(name) != 0) {
        continue;
      }
      auto stored = m_state.profile(name);
      if (!stored) {
        m_observer.log(Severity::error, name, 0,
                       "cannot read the profile's schedule: " + stored.error().describe());
        continue;
      }
      core::ProfileState p = *stored ? **stored : core::ProfileState{};
      if (!p.next_due) {
        p.name = name;
        p.next_due = core::first_due(t, profile->schedule, jitter_fraction(), utc_offset(t));
        if (auto saved = m_state.save_profile(p); !saved) {
          m_observer.log(Severity::error, name, 0, saved.error().describe());
        }
      }
      if (*p.next_due <= t) {
        due.push_back(name);
      } else if (!earliest || *p.next_due < *earliest) {
        earliest = p.next_due;
      }
    }
    for (const auto& name : due) {
      auto started = co_await rotate(name, Trigger::schedule);
      if (!started && !m_stopping) {
        m_observer.log(Severity::warning, name, 0,
                       "scheduled rotation not started: " + started.error().describe());
        defer_after_failure(name);
      }
    }
    if (!due.empty()) {
      continue; // due times changed; look again
    }
    m_scheduler_timer.expires_at(earliest ? core::Clock::time_point(*earliest)
                                          : core::Clock::time_point::max());
    boost::system::error_code ec;
    co_await m_scheduler_timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

void Engine::defer_after_failure(const std::string& name)
{
  // Whatever stopped the rotation from starting, the profile must not be due again at once:
  // the scheduler would loop without ever yielding the io_context (no D-Bus, no signals, no
  // watchdog). A rotation that started and failed has already moved next_due (finish_run).
  const auto profile = find(name);
  auto stored = m_state.profile(name);
  if (!profile || !stored) {
    return;
  }
  core::ProfileState p = *stored ? **stored : core::ProfileState{};
  const auto t = now();
  if (p.next_due && *p.next_due > t) {
    return;
  }
  p.name = name;
  p.next_due = core::next_due_after_failure(t, std::max(1, p.consecutive_failures + 1),
                                            profile->schedule, utc_offset(t));
  if (!p.next_due || *p.next_due <= t) {
    p.next_due = t + std::chrono::minutes(1);
  }
  if (auto saved = m_state.save_profile(p); !saved) {
    // Without a stored due time the loop would come back at once: stop scheduling this
    // profile until the next reload.
    m_observer.log(Severity::error, name, 0,
                   "cannot store the next due time, not scheduling the profile until the next "
                   "reload: " +
                       saved.error().describe());
    m_unschedulable.insert(name);
  }
}

void Engine::poke_scheduler()
{
  m_scheduler_timer.cancel();
}

double Engine::jitter_fraction()
{
  return std::uniform_real_distribution<double>(0.0, 1.0)(m_rng);
}

core::Duration Engine::utc_offset(core::TimePoint at) const
{
  const std::time_t t = std::chrono::system_clock::to_time_t(at);
  std::tm local{};
  if (::localtime_r(&t, &local) == nullptr) {
    return core::Duration::zero();
  }
  return std::chrono::seconds(local.tm_gmtoff);
}

Result<std::optional<core::TimePoint>> Engine::next_due() const
{
  CREDROTD_TRY_ASSIGN(const auto stored, m_state.profiles());
  std::optional<core::TimePoint> next;
  for (const auto& p : stored) {
    const auto it = m_profiles.find(p.name);
    if (it != m_profiles.end() && it->second->enabled && p.next_due &&
        (!next || *p.next_due < *next)) {
      next = p.next_due;
    }
  }
  return next;
}

} // namespace credrotd::engine
