// SPDX-License-Identifier: Apache-2.0
// Vocabulary of the persisted state: managed keys, profile schedule state, consumer writes.
#pragma once

#include "core/rotation.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace credrotd::core {

// An EC2 credential this daemon created or adopted. Only these are ever deleted.
struct ManagedKey {
  std::string profile;
  std::string access;
  KeyState state = KeyState::pending;
  KeyOrigin origin = KeyOrigin::created;
  std::optional<std::int64_t> rotation_id; // the rotation that created it
  TimePoint created_at{};
  std::optional<TimePoint> retired_at;
  std::optional<std::int64_t> retired_by{}; // the rotation that deleted it
  std::optional<Revocation> revocation{};   // confirm_retire's finding, when it ran
  std::optional<TimePoint> recheck_at{};    // pending revocations only
};

// What the scheduler remembers about a profile between rotations.
struct ProfileState {
  std::string name;
  std::optional<TimePoint> next_due;
  int consecutive_failures = 0;
  std::optional<std::int64_t> last_rotation_id;
  std::optional<TimePoint> last_success_at;
};

enum class WriteKind { write, restore };
std::string_view to_string(WriteKind kind) noexcept;

// One rewrite of a consumer file, as recorded for the operator: which key went in and the
// sha256 of the content before and after (so a later audit can tell what changed).
struct ConsumerWrite {
  std::int64_t rotation_id = 0;
  std::string path;
  WriteKind kind = WriteKind::write;
  std::string access;        // the access id written (not secret)
  std::string sha256_before; // hex of the content before; "" when the file did not exist
  std::string sha256_after;
  TimePoint at{};
};

// What a retire does with the profile's managed keys, given the access id every consumer file
// names (nullopt: no key) and the rotation's new key. Pure: the one place that decides the
// invariant "a key is deleted only when no consumer file names it".
struct RetirePlan {
  std::vector<std::string> remove; // delete these (not retired, not new, named by no file)
  std::vector<std::string> kept;   // named by a file: kept (the retire fails as unsafe)
};
RetirePlan keys_to_retire(const std::vector<ManagedKey>& managed,
                          const std::vector<std::optional<std::string>>& holders,
                          const std::optional<std::string>& new_access);

struct OutcomeCounts {
  std::int64_t succeeded = 0;
  std::int64_t rolled_back = 0;
  std::int64_t failed = 0;
};

inline std::string_view to_string(WriteKind kind) noexcept
{
  return kind == WriteKind::write ? "write" : "restore";
}

} // namespace credrotd::core
