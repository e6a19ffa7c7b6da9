// SPDX-License-Identifier: Apache-2.0
// The engine's port to its persisted state (implemented by src/store); no Asio here.
#pragma once

#include "core/error.hpp"
#include "core/rotation.hpp"
#include "core/state.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace credrotd::engine {

using core::Result;
using core::Status;

// The persisted state (src/store). Synchronous: SQLite on the loop thread, each mutating call
// one durable transaction. Never holds a secret.
class StatePort {
public:
  virtual ~StatePort() = default;
  // Records a new rotation and returns its id; conflict when the profile has one running.
  virtual Result<std::int64_t> insert_rotation(const core::Rotation& rotation) = 0;
  // Stores a transition and its key changes in one transaction.
  virtual Status save_rotation(const core::Rotation& rotation,
                               const std::vector<core::KeyChange>& changes) = 0;
  virtual Result<std::optional<core::Rotation>> rotation(std::int64_t id) const = 0;
  virtual Result<std::vector<core::Rotation>> unfinished_rotations() const = 0;
  virtual Result<std::vector<core::Rotation>> history(const std::string& profile,
                                                      int limit) const = 0;
  virtual Result<std::optional<core::Rotation>>
  running_rotation(const std::string& profile) const = 0;
  virtual Result<core::OutcomeCounts> outcome_counts(const std::string& profile) const = 0;
  // Every key the profile ever had, retired ones included, oldest first.
  virtual Result<std::vector<core::ManagedKey>> keys(const std::string& profile) const = 0;
  // The same without the retired keys: the ones rotations act on (current, previous,
  // pending). Stays small however long the history, unlike keys().
  virtual Result<std::vector<core::ManagedKey>> live_keys(const std::string& profile) const = 0;
  // The access ids of every key any profile manages that is not retired (pending included):
  // keys known to be this daemon's, never candidates of an OS-EC2 create.
  virtual Result<std::vector<std::string>> managed_access_ids() const = 0;
  // The candidate keys recorded by the profile's rotations (Rotation::candidates), oldest
  // first, without repeats: keys that may or may not be this daemon's, for the operator.
  virtual Result<std::vector<std::string>> candidates(const std::string& profile) const = 0;
  virtual Status set_key(const core::ManagedKey& key) = 0;
  virtual Status set_key_state(const std::string& profile, const std::string& access,
                               core::KeyState state, core::TimePoint at) = 0;
  // Records what the re-check of a deleted key showed (recheck_at is cleared).
  virtual Status set_revocation(const std::string& profile, const std::string& access,
                                core::Revocation revocation) = 0;
  // Every profile's deleted keys whose re-check is pending, soonest first.
  virtual Result<std::vector<core::ManagedKey>> pending_revocations() const = 0;
  // The unconfirmed revocations (pending, accepted, unchecked) of the profile's latest retire
  // that checked any: what the operator should look at now. A later retire supersedes them.
  virtual Result<std::size_t> unconfirmed_revocations(const std::string& profile) const = 0;
  virtual Result<std::optional<core::ProfileState>> profile(const std::string& name) const = 0;
  virtual Result<std::vector<core::ProfileState>> profiles() const = 0;
  virtual Status save_profile(const core::ProfileState& state) = 0;
  virtual Status record_write(const core::ConsumerWrite& write) = 0;
};

} // namespace credrotd::engine
