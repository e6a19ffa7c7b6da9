// SPDX-License-Identifier: Apache-2.0
// The rotation protocol as a pure state machine: step(state, event, now) -> {state, actions}.
#pragma once

#include "core/error.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace credrotd::core {

using Clock = std::chrono::system_clock;
using TimePoint = std::chrono::time_point<Clock, std::chrono::milliseconds>;
using Duration = std::chrono::milliseconds;

// The phases of one rotation (docs/DESIGN.md, "The rotation protocol"). A rotation is persisted
// in a phase *before* the phase's side effect runs, so after a crash the phase names the
// side effect that may or may not have happened; every side effect is idempotent and is
// simply run again on resume.
enum class Phase {
  create,          // make the new key in Keystone (its access id is already recorded)
  write,           // write the new key into every consumer file
  verify,          // prove the new key works (S3 + consumer checks), retrying until the deadline
  reload,          // reload units and run commands, once per rotation
  grace,           // wait until grace_until so consumers that re-read late catch up
  retire,          // delete the old managed key(s) that no consumer names any more
  done,            // final: succeeded
  rollback_write,  // restore every consumer to the old key (re-read from Keystone)
  rollback_reload, // reload after restoring
  rollback_delete, // delete the new key, which no consumer names any more
  rolled_back,     // final: the old key is back in place, the new one is gone
  failed,          // final: nothing changed that needs undoing, or nothing can be undone
};

std::string_view to_string(Phase phase) noexcept;
std::optional<Phase> phase_from_string(std::string_view name) noexcept;
bool is_final(Phase phase) noexcept;

enum class Outcome { running, succeeded, rolled_back, failed };
std::string_view to_string(Outcome outcome) noexcept;
std::optional<Outcome> outcome_from_string(std::string_view name) noexcept;

// How the new key is created. `credentials` (POST /v3/credentials with a locally generated
// access id) is idempotent; `os_ec2` lets Keystone choose the id, so the list of keys is
// recorded first and a crash is recovered by diffing.
enum class CreateMethod { credentials, os_ec2 };
std::string_view to_string(CreateMethod method) noexcept;
std::optional<CreateMethod> create_method_from_string(std::string_view name) noexcept;

// What to do when Keystone's policy refuses POST /v3/credentials (create_method = "auto" falls
// back to OS-EC2; an explicit "credentials" does not).
enum class CreateFallback { os_ec2, none };

// Whether a failed create call may nevertheless have made the key: true unless the error
// proves the request was refused (forbidden, auth_rejected, not_found, conflict handled by the
// caller) or never left this host (config, unsafe). A timeout, a 5xx, an answer we could not
// parse or that was too large may all follow a key that Keystone created.
bool create_may_exist(Errc code) noexcept;

// How a verification attempt ended, in the terms that decide between retry and rollback.
enum class VerifyResult {
  accepted, // every S3 check and consumer check passed
  rejected, // the S3 endpoint refused the key (403 SignatureDoesNotMatch, InvalidAccessKeyId, ...)
  check_failed, // a consumer's own check command failed
  unavailable,  // the endpoint could not be reached or answered 5xx/429: says nothing about the key
  tls,          // TLS failure talking to the endpoint: a configuration problem, not the key
  clock_skew,   // the endpoint says our clock is off: fix the clock, not the key
};
std::string_view to_string(VerifyResult result) noexcept;

// Timing knobs of one rotation, from the profile's configuration.
struct RotationPolicy {
  Duration verify_timeout = std::chrono::minutes(2);      // the new key may take this long to work
  Duration grace = std::chrono::minutes(15);              // old key kept after the new one works
  Duration verify_backoff_max = std::chrono::seconds(30); // longest wait between verify attempts
  Duration step_retry = std::chrono::seconds(30); // wait before retrying retire or a rollback step
  Duration rollback_budget =
      std::chrono::hours(1); // rollback steps retry transient failures this long
  Duration retire_budget = std::chrono::hours(1); // retire retries this long, then leaves the old
                                                  // key to the next rotation
  // How long to let an OS-EC2 create whose outcome is unknown (a timeout) land in Keystone
  // before the keys that appeared are looked for. A request can be processed later than
  // that: such a key is invisible to this rotation (a known limit, see docs/DESIGN.md).
  Duration create_settle = std::chrono::seconds(5);
  CreateFallback fallback = CreateFallback::os_ec2; // when policy refuses /v3/credentials
};

// Everything the protocol knows about one rotation. Persisted as one row (src/store).
// Never holds a secret: secrets are re-read from Keystone when needed.
struct Rotation {
  std::int64_t id = 0;
  std::string profile;
  Phase phase = Phase::create;
  Outcome outcome = Outcome::running;
  CreateMethod method = CreateMethod::credentials;

  std::optional<std::string> old_access; // the key consumers held when the rotation started
  std::optional<std::string> new_access; // recorded before create (credentials) or after (os_ec2)
  std::vector<std::string> keys_before;  // os_ec2 only: access ids that existed before create
  // os_ec2 only: keys that appeared in the project while a create whose outcome is unknown
  // was in flight. Any of them may be ours or another host's (a fleet shares the user): they
  // are never adopted or deleted, only recorded and reported for the operator.
  std::vector<std::string> candidates;
  // The create call may have made new_access without us learning it (timeout, unparsable
  // answer): the key stays managed (previous) after the rollback deleted it, so that a create
  // that lands late is deleted by the next retire.
  bool create_uncertain = false;

  TimePoint started_at{};
  TimePoint phase_since{};           // when the current phase began
  std::optional<TimePoint> retry_at; // the phase's action waits until then
  std::optional<TimePoint> verify_deadline;
  std::optional<TimePoint> grace_until;
  std::optional<TimePoint> finished_at;
  int attempts = 0; // failed attempts in the current phase

  bool keep_new_key = false;      // rollback without deleting the new key (see step())
  std::optional<Errc> error_code; // why the rotation rolled back or failed, or the last
  std::string error;              // retried error while it is still running
  std::string note;               // informational (e.g. old key still accepted by caches)

  bool operator==(const Rotation&) const = default;
};

// --- Events: what happened when the engine carried out an action ---

struct Started {};    // a fresh rotation: go
struct Created {      // the new key exists in Keystone
  std::string access; // os_ec2: the id Keystone chose
};
struct CreateFailed {
  Error error;
  bool may_exist = false; // true when the call may have reached Keystone (timeout)
};
struct Written {}; // every consumer holds the new key
struct WriteFailed {
  Error error;
};
struct Verified {
  VerifyResult result = VerifyResult::accepted;
  std::string detail; // e.g. "SigV4 ListBuckets: 403 SignatureDoesNotMatch"
};
struct Reloaded {};
struct ReloadFailed {
  Error error;
};
struct TimerFired {}; // retry_at or grace_until has passed

// Whether S3 refuses a key deleted from Keystone (confirm_retire). Ceph RGW checks a key it
// has seen in the last 300 s against its own cache of the secret, so a deleted key can stay
// accepted for up to 5 minutes; a daemon holding the secret in memory checks it again once
// that window has passed.
enum class Revocation {
  refused,   // S3 refused the deleted key: confirmed
  pending,   // S3 still accepted it at deletion; re-checked at recheck_at
  accepted,  // S3 still accepted it when re-checked (or at deletion, with no re-check): a finding
  unchecked, // S3 could not say (unreachable), or the re-check could not run (the daemon
             // restarted and no longer holds the secret)
};
std::string_view to_string(Revocation revocation) noexcept;
std::optional<Revocation> revocation_from_string(std::string_view name) noexcept;
// Whether the operator still has to look at it (pending, accepted, unchecked).
bool unconfirmed(Revocation revocation) noexcept;

struct RevocationCheck {
  std::string access;
  Revocation state = Revocation::unchecked;
  std::optional<TimePoint> recheck_at; // pending only
};

// What the check right after the deletion shows. A key still accepted is re-checked
// `recheck_after` later when that is positive, otherwise it is a finding at once.
RevocationCheck revocation_at_delete(std::string access, VerifyResult result, TimePoint deleted_at,
                                     Duration recheck_after);
// What the re-check of a pending revocation shows.
Revocation revocation_at_recheck(VerifyResult result) noexcept;

struct Retired {
  std::string note;                   // e.g. "old key still accepted 0.2 s after delete"
  std::vector<std::string> deleted{}; // the managed keys deleted (or found gone) by this attempt
  std::vector<RevocationCheck> revocations{}; // confirm_retire's checks of the deleted keys
};
struct RetireFailed {
  Error error;
  std::vector<std::string> deleted{}; // deleted before the failure
  std::vector<RevocationCheck> revocations{};
};
struct Restored {}; // every consumer holds the old key again
struct RestoreFailed {
  Error error;
};
struct Deleted {}; // the new key is gone from Keystone
struct DeleteFailed {
  Error error;
};
struct CreateRefused {                  // policy refused POST /v3/credentials (403)
  Error error;                          // what Keystone said
  std::vector<std::string> keys_before; // the user's keys, listed after the refusal
};
struct KeysAppeared {              // FindNewKeys: keys in the project that are not in
  std::vector<std::string> access; // keys_before and that no profile of this daemon manages
};

using Event = std::variant<Started, Created, CreateFailed, Written, WriteFailed, Verified, Reloaded,
                           ReloadFailed, TimerFired, Retired, RetireFailed, Restored, RestoreFailed,
                           Deleted, DeleteFailed, CreateRefused, KeysAppeared>;

// --- Actions: what the engine must do next (after persisting the new state) ---

struct CreateKey {};       // create rotation.new_access (credentials) or a fresh key (os_ec2)
struct WriteConsumers {};  // write rotation.new_access into every consumer
struct VerifyKey {};       // verify rotation.new_access (S3 checks + consumer checks)
struct ReloadConsumers {}; // reload units / run commands of the consumers
struct WaitUntil {         // sleep until `at`, then feed TimerFired
  TimePoint at;
};
struct RetireOldKeys {};    // delete managed keys of the profile other than new_access
struct RestoreConsumers {}; // write rotation.old_access back into every consumer
struct DeleteNewKey {};     // delete rotation.new_access (after checking no consumer names it)
struct Finish {};           // the rotation reached a final phase: report, schedule the next one
struct FindNewKeys {};      // os_ec2 create with unknown outcome: list the keys that appeared

using Action = std::variant<CreateKey, WriteConsumers, VerifyKey, ReloadConsumers, WaitUntil,
                            RetireOldKeys, RestoreConsumers, DeleteNewKey, Finish, FindNewKeys>;

// --- Managed keys: the daemon's own EC2 credentials and their roles ---

enum class KeyState {
  pending,  // being created by a running rotation; may or may not exist in Keystone yet
  current,  // the key every consumer should hold
  previous, // superseded (or abandoned by a failed rotation): deleted by the next retire
  retired,  // deleted from Keystone; kept for history
};
std::string_view to_string(KeyState state) noexcept;
std::optional<KeyState> key_state_from_string(std::string_view name) noexcept;

enum class KeyOrigin { created, adopted };
std::string_view to_string(KeyOrigin origin) noexcept;
std::optional<KeyOrigin> key_origin_from_string(std::string_view name) noexcept;

// A role change of one managed key, to be stored in the same transaction as the rotation.
struct KeyChange {
  std::string access;
  KeyState state;
  // For a key retired by a retire with confirm_retire: what S3 said of it.
  std::optional<RevocationCheck> revocation{};
};

struct Step {
  Rotation state;
  std::vector<Action> actions;
  // The managed-key changes to store with `state`: key_changes(before, state) plus the keys
  // the event reports deleted.
  std::vector<KeyChange> changes;
};

// The action that carries out the rotation's current phase: what a fresh start or a resume
// after a crash runs first. A final phase yields Finish.
Action action_for(const Rotation& rotation, TimePoint now);

// The protocol. Pure: the same inputs give the same outputs. An event that does not belong
// to the current phase is a broken invariant in the engine: the state is returned unchanged
// with error set and no action, so the engine can report it instead of guessing.
Step step(Rotation state, const Event& event, TimePoint now, const RotationPolicy& policy);

// The wait before retry number `attempt` (1-based) of a failed verification: 1 s, 2 s, 4 s...
// capped at `cap`.
Duration verify_backoff(int attempt, Duration cap) noexcept;

// The managed-key changes implied by a transition from `before` to `after`:
// - the new key is pending from the moment its access id is known until it is verified;
// - when the new key is verified it becomes current and the old key previous;
// - a rolled-back new key is retired (deleted); one kept by a failed rotation is previous
//   (the next retire deletes it once no consumer names it).
// Retire marks each key it deletes itself, one by one, as it goes.
std::vector<KeyChange> key_changes(const Rotation& before, const Rotation& after);

// Whether any consumer file names `access`.
bool named_by_any(const std::vector<std::optional<std::string>>& holders,
                  const std::string& access);

} // namespace credrotd::core
