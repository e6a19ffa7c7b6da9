// SPDX-License-Identifier: Apache-2.0
// The SQLite state of credrotd: profiles, managed keys, rotations, consumer writes. No secrets.
// schema.cpp opens and migrates it; rotations.cpp holds the rotation journal (rotations, their
// transitions and consumer writes); keys.cpp the managed keys and profiles.
#pragma once

#include "core/error.hpp"
#include "core/rotation.hpp"
#include "core/state.hpp"
#include "engine/state_port.hpp"

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace credrotd::store {

class Connection; // sqlite.hpp

using core::Result;
using core::Status;
using core::TimePoint;

// The schema version this build writes; older databases are migrated forward on open, newer
// ones are refused (a downgrade must not silently drop columns it does not know).
inline constexpr int k_schema_version = 4;

using core::ConsumerWrite;
using core::ManagedKey;
using core::OutcomeCounts;
using core::ProfileState;
using core::WriteKind;

// One SQLite database file. Not thread-safe: owned by the daemon's single loop thread.
// Every mutating call is one transaction, committed with synchronous=FULL before it returns,
// so a state the caller saw stored survives a crash or power loss.
class Store final : public engine::StatePort {
public:
  enum class Mode { read_write, read_only };

  // Opens (creating it with mode 0600 when absent) and checks the database: WAL journal,
  // foreign keys, `PRAGMA quick_check`, schema migration. Errors:
  // - io: cannot open/create (names the path and the reason);
  // - unsafe: the file is readable by group/other, or is not a regular file;
  // - parse: the integrity check failed (the file is left untouched: no repair is attempted;
  //   the message tells the operator to move it aside);
  // - config: the schema is newer than this build knows.
  static Result<Store> open(const std::filesystem::path& path, Mode mode = Mode::read_write);

  Store(Store&&) noexcept;
  Store& operator=(Store&&) noexcept;
  ~Store() override;

  const std::filesystem::path& path() const noexcept;
  int schema_version() const;

  // --- rotations ---

  // Inserts a new rotation (its id is assigned and returned) with its key changes.
  // Fails with `conflict` if the profile already has a running rotation.
  Result<std::int64_t> insert_rotation(const core::Rotation& rotation) override;

  // Replaces the stored row of `rotation.id` and applies `changes`, in one transaction. Also
  // appends to the transition log when the phase changed.
  Status save_rotation(const core::Rotation& rotation,
                       const std::vector<core::KeyChange>& changes) override;

  Result<std::optional<core::Rotation>> rotation(std::int64_t id) const override;
  Result<std::vector<core::Rotation>> unfinished_rotations() const override;
  // Newest first; `limit` rows at most.
  Result<std::vector<core::Rotation>> history(const std::string& profile, int limit) const override;
  Result<std::optional<core::Rotation>> running_rotation(const std::string& profile) const override;
  Result<OutcomeCounts> outcome_counts(const std::string& profile) const override;

  // --- managed keys ---

  Result<std::vector<ManagedKey>> keys(const std::string& profile) const override;
  Result<std::vector<ManagedKey>> live_keys(const std::string& profile) const override;
  // Inserts or updates one key's state (and retired_at when it becomes retired).
  Result<std::vector<std::string>> managed_access_ids() const override;
  Result<std::vector<std::string>> candidates(const std::string& profile) const override;
  Status set_key(const ManagedKey& key) override;
  Status set_key_state(const std::string& profile, const std::string& access, core::KeyState state,
                       TimePoint at) override;
  Status set_revocation(const std::string& profile, const std::string& access,
                        core::Revocation revocation) override;
  Result<std::vector<ManagedKey>> pending_revocations() const override;
  Result<std::size_t> unconfirmed_revocations(const std::string& profile) const override;

  // --- profiles ---

  Result<std::optional<ProfileState>> profile(const std::string& name) const override;
  Result<std::vector<ProfileState>> profiles() const override;
  Status save_profile(const ProfileState& state) override;

  // --- consumer writes ---

  Status record_write(const ConsumerWrite& write) override;

private:
  explicit Store(std::unique_ptr<Connection> db);
  Status migrate();
  Status check_integrity() const;

  std::unique_ptr<Connection> m_db; // never null but after a move
};

} // namespace credrotd::store
