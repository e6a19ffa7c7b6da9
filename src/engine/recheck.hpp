// SPDX-License-Identifier: Apache-2.0
// Re-checks of deleted keys that S3 still accepted at deletion (Ceph RGW's secret cache).
#pragma once

#include "core/rotation.hpp"
#include "core/secret.hpp"
#include "engine/ports.hpp"
#include "engine/state_port.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/system_timer.hpp>

#include <memory>
#include <set>
#include <string>
#include <utility>

namespace credrotd::engine {

class Observer;

// A retire that found its deleted key still accepted stores the revocation as pending with a
// re-check time, and hands the key's secret here: it is held in memory only (never stored),
// so only this process can re-check. At that time the key is signed with again; the
// result (refused: confirmed; accepted: a finding) replaces pending in the state.
// A pending re-check this process does not hold (left by an earlier process, or by
// `credrotd --once`) cannot run: abandon_orphans() records it unchecked and says why.
class RevocationRechecker {
public:
  RevocationRechecker(boost::asio::any_io_executor executor, StatePort& state, Observer& observer)
      : m_executor(std::move(executor)), m_state(state), m_observer(observer)
  {}

  void schedule(std::string profile, std::string access, core::Secret secret, core::TimePoint at,
                std::shared_ptr<S3Port> s3);
  // Records every pending revocation in the state that this process holds no secret for as
  // unchecked. Call once, at start, before any rotation runs.
  void abandon_orphans();
  // Wakes every waiting re-check so it returns; their revocations stay pending in the state.
  void stop();
  std::size_t waiting() const noexcept { return m_timers.size(); }

private:
  struct Job;
  Task<void> run(std::shared_ptr<Job> job);

  boost::asio::any_io_executor m_executor;
  StatePort& m_state;
  Observer& m_observer;
  std::set<std::shared_ptr<boost::asio::system_timer>> m_timers;
  std::set<std::pair<std::string, std::string>> m_held; // (profile, access)
  bool m_stopping = false;
};

} // namespace credrotd::engine
