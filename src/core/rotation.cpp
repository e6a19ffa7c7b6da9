// SPDX-License-Identifier: Apache-2.0
// The rotation protocol's transitions; see rotation.hpp and docs/DESIGN.md.
#include "core/rotation.hpp"

#include "core/state.hpp"

#include <algorithm>
#include <array>
#include <utility>

namespace credrotd::core {

namespace {

constexpr std::array k_phase_names{
    std::pair{Phase::create, std::string_view("create")},
    std::pair{Phase::write, std::string_view("write")},
    std::pair{Phase::verify, std::string_view("verify")},
    std::pair{Phase::reload, std::string_view("reload")},
    std::pair{Phase::grace, std::string_view("grace")},
    std::pair{Phase::retire, std::string_view("retire")},
    std::pair{Phase::done, std::string_view("done")},
    std::pair{Phase::rollback_write, std::string_view("rollback_write")},
    std::pair{Phase::rollback_reload, std::string_view("rollback_reload")},
    std::pair{Phase::rollback_delete, std::string_view("rollback_delete")},
    std::pair{Phase::rolled_back, std::string_view("rolled_back")},
    std::pair{Phase::failed, std::string_view("failed")},
};

constexpr std::array k_outcome_names{
    std::pair{Outcome::running, std::string_view("running")},
    std::pair{Outcome::succeeded, std::string_view("succeeded")},
    std::pair{Outcome::rolled_back, std::string_view("rolled_back")},
    std::pair{Outcome::failed, std::string_view("failed")},
};

template <class E, std::size_t N>
std::string_view name_of(const std::array<std::pair<E, std::string_view>, N>& names, E value)
{
  for (const auto& [v, name] : names) {
    if (v == value) {
      return name;
    }
  }
  return "unknown";
}

template <class E, std::size_t N>
std::optional<E> value_of(const std::array<std::pair<E, std::string_view>, N>& names,
                          std::string_view name)
{
  for (const auto& [v, n] : names) {
    if (n == name) {
      return v;
    }
  }
  return std::nullopt;
}

// Small helpers that keep each transition one line long.
struct Machine {
  Rotation s;
  TimePoint now;
  const RotationPolicy& policy;
  std::vector<Action> actions;
  std::vector<KeyChange> changes; // besides key_changes(before, after)

  void enter(Phase phase)
  {
    s.phase = phase;
    s.phase_since = now;
    s.attempts = 0;
    s.retry_at.reset();
  }

  void finish(Phase phase, Outcome outcome)
  {
    enter(phase);
    s.outcome = outcome;
    s.finished_at = now;
    actions.emplace_back(Finish{});
  }

  void fail_with(const Error& error)
  {
    s.error_code = error.code;
    s.error = error.message;
  }

  void retry_after(Duration wait, std::optional<TimePoint> not_after = std::nullopt)
  {
    ++s.attempts;
    TimePoint at = now + wait;
    if (not_after && at > *not_after) {
      at = std::max(*not_after, now);
    }
    s.retry_at = at;
    actions.emplace_back(WaitUntil{at});
  }

  // Start undoing: restore the old key in every consumer, unless there is none to restore,
  // in which case the new key must stay (files may name it) and the rotation fails.
  void roll_back(const Error& why, bool keep_new_key)
  {
    fail_with(why);
    s.keep_new_key = keep_new_key;
    if (!s.old_access) {
      s.keep_new_key = true;
      s.error += "; there is no previous key to return to, so the new key stays in place";
      finish(Phase::failed, Outcome::failed);
      return;
    }
    enter(Phase::rollback_write);
    actions.emplace_back(RestoreConsumers{});
  }

  // Keys the engine reports deleted are recorded retired with this transition.
  void retire_keys(const std::vector<std::string>& deleted,
                   const std::vector<RevocationCheck>& revocations)
  {
    for (const auto& access : deleted) {
      KeyChange change{access, KeyState::retired};
      for (const auto& check : revocations) {
        if (check.access == access) {
          change.revocation = check;
        }
      }
      changes.push_back(std::move(change));
    }
  }

  void unexpected(std::string_view event_name)
  {
    s.error_code = Errc::internal;
    s.error = "event " + std::string(event_name) + " does not belong to phase " +
              std::string(to_string(s.phase));
  }
};

std::string_view event_name(const Event& event)
{
  static constexpr std::array<std::string_view, std::variant_size_v<Event>> names{
      "started",        "created",      "create_failed",  "written", "write_failed",
      "verified",       "reloaded",     "reload_failed",  "timer",   "retired",
      "retire_failed",  "restored",     "restore_failed", "deleted", "delete_failed",
      "create_refused", "keys_appeared"};
  return names.at(event.index());
}

Errc errc_for(VerifyResult result)
{
  switch (result) {
  case VerifyResult::accepted:
    return Errc::internal;
  case VerifyResult::rejected:
  case VerifyResult::check_failed:
    return Errc::auth_rejected;
  case VerifyResult::unavailable:
    return Errc::transient;
  case VerifyResult::tls:
    return Errc::tls;
  case VerifyResult::clock_skew:
    return Errc::clock_skew;
  }
  return Errc::internal;
}

// An OS-EC2 create whose outcome is unknown has no access id to act on: what it may have made
// is found by listing the keys that appeared since keys_before.
bool id_unknown(const Rotation& r)
{
  return r.method == CreateMethod::os_ec2 && !r.new_access;
}

std::string joined(const std::vector<std::string>& items)
{
  std::string out;
  for (const auto& item : items) {
    out += (out.empty() ? "" : ", ") + item;
  }
  return out;
}

// Keys appeared while an OS-EC2 create of unknown outcome was in flight. Another host sharing
// the user (or a person) may have made any of them at the same time: none can be proven ours,
// so none is adopted or deleted. They are recorded for the operator and the rotation ends
// with the consumers untouched.
void record_candidates(Machine& m, const std::vector<std::string>& keys)
{
  m.s.candidates = keys;
  m.s.note = "an OS-EC2 create of unknown outcome; keys that appeared meanwhile (" + joined(keys) +
             ") may be ours or another host's: none adopted or deleted, check them with "
             "credrotctl keys";
  m.finish(Phase::failed, Outcome::failed);
}

void on_create(Machine& m, const Event& event)
{
  if (std::holds_alternative<Started>(event) || std::holds_alternative<TimerFired>(event)) {
    m.s.retry_at.reset();
    // A resumed OS-EC2 create may have been sent before the crash: look before creating.
    if (id_unknown(m.s) && std::holds_alternative<TimerFired>(event)) {
      m.actions.emplace_back(FindNewKeys{});
    } else {
      m.actions.emplace_back(CreateKey{});
    }
  } else if (const auto* created = std::get_if<Created>(&event)) {
    if (m.s.method == CreateMethod::os_ec2 || !m.s.new_access) {
      m.s.new_access = created->access;
    }
    m.enter(Phase::write);
    m.actions.emplace_back(WriteConsumers{});
  } else if (const auto* refused = std::get_if<CreateRefused>(&event)) {
    if (m.s.method != CreateMethod::credentials || m.policy.fallback != CreateFallback::os_ec2) {
      m.fail_with(refused->error);
      m.finish(Phase::failed, Outcome::failed);
      return;
    }
    // Policy refuses /v3/credentials: fall back to OS-EC2, recording the keys that exist so
    // that a create of unknown outcome can be told apart from what existed before.
    m.s.method = CreateMethod::os_ec2;
    m.s.new_access.reset();
    m.s.keys_before = refused->keys_before;
    m.s.note = "POST /v3/credentials refused (" + refused->error.message +
               "); created through OS-EC2 instead";
    m.actions.emplace_back(CreateKey{});
  } else if (const auto* appeared = std::get_if<KeysAppeared>(&event)) {
    if (!id_unknown(m.s)) {
      m.unexpected(event_name(event));
    } else if (appeared->access.empty()) {
      m.actions.emplace_back(CreateKey{}); // the interrupted create made nothing: create now
    } else {
      record_candidates(m, appeared->access);
    }
  } else if (const auto* failed = std::get_if<CreateFailed>(&event)) {
    m.fail_with(failed->error);
    if (failed->may_exist) {
      // The call may have reached Keystone: make sure the key is gone. No consumer has it yet.
      m.s.create_uncertain = true;
      m.enter(Phase::rollback_delete);
      if (id_unknown(m.s)) {
        // Let a request still in flight land before looking for what it made.
        m.retry_after(m.policy.create_settle);
        m.s.attempts = 0;
      } else {
        m.actions.emplace_back(DeleteNewKey{});
      }
    } else {
      m.finish(Phase::failed, Outcome::failed);
    }
  } else {
    m.unexpected(event_name(event));
  }
}

void on_write(Machine& m, const Event& event)
{
  if (std::holds_alternative<TimerFired>(event)) {
    m.s.retry_at.reset();
    m.actions.emplace_back(WriteConsumers{});
  } else if (std::holds_alternative<Written>(event)) {
    m.enter(Phase::verify);
    m.s.verify_deadline = m.now + m.policy.verify_timeout;
    m.actions.emplace_back(VerifyKey{});
  } else if (const auto* failed = std::get_if<WriteFailed>(&event)) {
    m.roll_back(failed->error, false);
  } else {
    m.unexpected(event_name(event));
  }
}

void on_verify(Machine& m, const Event& event)
{
  if (std::holds_alternative<TimerFired>(event)) {
    m.s.retry_at.reset();
    m.actions.emplace_back(VerifyKey{});
    return;
  }
  const auto* verified = std::get_if<Verified>(&event);
  if (verified == nullptr) {
    m.unexpected(event_name(event));
    return;
  }
  if (verified->result == VerifyResult::accepted) {
    m.s.error_code.reset();
    m.s.error.clear();
    m.enter(Phase::reload);
    m.actions.emplace_back(ReloadConsumers{});
    return;
  }
  const Error error{errc_for(verified->result),
                    std::string(to_string(verified->result)) + ": " + verified->detail};
  const TimePoint deadline = m.s.verify_deadline.value_or(m.now);
  if (m.now < deadline) {
    m.fail_with(error); // shown while it keeps trying
    m.retry_after(verify_backoff(m.s.attempts + 1, m.policy.verify_backoff_max), deadline);
    return;
  }
  // Out of time. A refused key is evidence the new key is bad: undo everything. An endpoint
  // that cannot be reached says nothing about the key: put the known-good old key back but
  // leave the new key in Keystone (it is managed and retired by the next rotation).
  const bool key_is_bad =
      verified->result == VerifyResult::rejected || verified->result == VerifyResult::check_failed;
  Error final_error = error;
  final_error.message =
      "new key not verified within " +
      std::to_string(
          std::chrono::duration_cast<std::chrono::seconds>(m.policy.verify_timeout).count()) +
      " s: " + error.message;
  m.roll_back(final_error, !key_is_bad);
}

void on_reload(Machine& m, const Event& event)
{
  if (std::holds_alternative<TimerFired>(event)) {
    m.s.retry_at.reset();
    m.actions.emplace_back(ReloadConsumers{});
  } else if (std::holds_alternative<Reloaded>(event)) {
    m.enter(Phase::grace);
    m.s.grace_until = m.now + m.policy.grace;
    if (m.policy.grace <= Duration::zero()) {
      m.enter(Phase::retire);
      m.actions.emplace_back(RetireOldKeys{});
    } else {
      m.actions.emplace_back(WaitUntil{*m.s.grace_until});
    }
  } else if (const auto* failed = std::get_if<ReloadFailed>(&event)) {
    // A program that could not be told about the new key may still use the old one: keep
    // the old key, which is still valid, and undo.
    m.roll_back(failed->error, false);
  } else {
    m.unexpected(event_name(event));
  }
}

void on_grace(Machine& m, const Event& event)
{
  if (!std::holds_alternative<TimerFired>(event)) {
    m.unexpected(event_name(event));
    return;
  }
  const TimePoint until = m.s.grace_until.value_or(m.now);
  if (m.now < until) {
    m.actions.emplace_back(WaitUntil{until});
    return;
  }
  m.enter(Phase::retire);
  m.actions.emplace_back(RetireOldKeys{});
}

void on_retire(Machine& m, const Event& event)
{
  if (std::holds_alternative<TimerFired>(event)) {
    m.s.retry_at.reset();
    m.actions.emplace_back(RetireOldKeys{});
  } else if (const auto* retired = std::get_if<Retired>(&event)) {
    m.s.note = retired->note;
    m.finish(Phase::done, Outcome::succeeded);
    m.retire_keys(retired->deleted, retired->revocations);
  } else if (const auto* failed = std::get_if<RetireFailed>(&event)) {
    m.fail_with(failed->error);
    m.retire_keys(failed->deleted, failed->revocations);
    if (m.now < m.s.phase_since + m.policy.retire_budget && failed->error.code != Errc::unsafe) {
      m.retry_after(m.policy.step_retry);
      return;
    }
    // The new key works and every consumer has it: the rotation succeeded. The old key stays
    // managed and is retired by the next rotation.
    m.s.note =
        "old key not deleted yet (" + failed->error.describe() + "); the next rotation retires it";
    m.finish(Phase::done, Outcome::succeeded);
  } else {
    m.unexpected(event_name(event));
  }
}

void on_rollback_write(Machine& m, const Event& event)
{
  if (std::holds_alternative<TimerFired>(event)) {
    m.s.retry_at.reset();
    m.actions.emplace_back(RestoreConsumers{});
  } else if (std::holds_alternative<Restored>(event)) {
    m.enter(Phase::rollback_reload);
    m.actions.emplace_back(ReloadConsumers{});
  } else if (const auto* failed = std::get_if<RestoreFailed>(&event)) {
    if (is_transient(failed->error.code) && m.now < m.s.phase_since + m.policy.rollback_budget) {
      m.s.note = "restore failed, retrying: " + failed->error.describe();
      m.retry_after(m.policy.step_retry);
      return;
    }
    // Some consumers may still hold the new key: both keys stay, both stay managed.
    m.s.keep_new_key = true;
    m.s.note = "could not restore the old key (" + failed->error.describe() +
               "); both keys kept, the next rotation replaces them";
    m.finish(Phase::failed, Outcome::failed);
  } else {
    m.unexpected(event_name(event));
  }
}

void on_rollback_reload(Machine& m, const Event& event)
{
  if (std::holds_alternative<TimerFired>(event)) {
    m.s.retry_at.reset();
    m.actions.emplace_back(ReloadConsumers{});
    return;
  }
  if (const auto* failed = std::get_if<ReloadFailed>(&event)) {
    m.s.note = "reload after restoring failed: " + failed->error.describe();
  } else if (!std::holds_alternative<Reloaded>(event)) {
    m.unexpected(event_name(event));
    return;
  }
  if (m.s.keep_new_key) {
    m.finish(Phase::failed, Outcome::failed);
  } else {
    m.enter(Phase::rollback_delete);
    m.actions.emplace_back(DeleteNewKey{});
  }
}

void on_rollback_delete(Machine& m, const Event& event)
{
  if (std::holds_alternative<TimerFired>(event)) {
    m.s.retry_at.reset();
    if (id_unknown(m.s)) {
      m.actions.emplace_back(FindNewKeys{});
    } else {
      m.actions.emplace_back(DeleteNewKey{});
    }
  } else if (const auto* appeared = std::get_if<KeysAppeared>(&event)) {
    if (!id_unknown(m.s)) {
      m.unexpected(event_name(event));
    } else if (appeared->access.empty()) {
      m.s.note = "the OS-EC2 create of unknown outcome made no key that could be seen";
      m.finish(Phase::rolled_back, Outcome::rolled_back);
    } else {
      record_candidates(m, appeared->access);
    }
  } else if (std::holds_alternative<Deleted>(event)) {
    if (m.s.create_uncertain) {
      m.s.note = "the new key " + m.s.new_access.value_or("") +
                 " was deleted or never made; it stays recorded so that the next retire deletes "
                 "it should a slow create land later";
    }
    m.finish(Phase::rolled_back, Outcome::rolled_back);
  } else if (const auto* failed = std::get_if<DeleteFailed>(&event)) {
    if (is_transient(failed->error.code) && m.now < m.s.phase_since + m.policy.rollback_budget) {
      m.s.note = "deleting the new key failed, retrying: " + failed->error.describe();
      m.retry_after(m.policy.step_retry);
      return;
    }
    m.s.keep_new_key = true;
    m.s.note = "new key not deleted (" + failed->error.describe() +
               "); it stays managed and the next rotation retires it";
    m.finish(Phase::failed, Outcome::failed);
  } else {
    m.unexpected(event_name(event));
  }
}

} // namespace

std::string_view to_string(Phase phase) noexcept
{
  return name_of(k_phase_names, phase);
}

std::optional<Phase> phase_from_string(std::string_view name) noexcept
{
  return value_of(k_phase_names, name);
}

bool is_final(Phase phase) noexcept
{
  return phase == Phase::done || phase == Phase::rolled_back || phase == Phase::failed;
}

std::string_view to_string(Outcome outcome) noexcept
{
  return name_of(k_outcome_names, outcome);
}

std::optional<Outcome> outcome_from_string(std::string_view name) noexcept
{
  return value_of(k_outcome_names, name);
}

std::string_view to_string(CreateMethod method) noexcept
{
  return method == CreateMethod::credentials ? "credentials" : "os_ec2";
}

std::optional<CreateMethod> create_method_from_string(std::string_view name) noexcept
{
  if (name == "credentials") {
    return CreateMethod::credentials;
  }
  if (name == "os_ec2") {
    return CreateMethod::os_ec2;
  }
  return std::nullopt;
}

std::string_view to_string(VerifyResult result) noexcept
{
  switch (result) {
  case VerifyResult::accepted:
    return "accepted";
  case VerifyResult::rejected:
    return "rejected";
  case VerifyResult::check_failed:
    return "check_failed";
  case VerifyResult::unavailable:
    return "unavailable";
  case VerifyResult::tls:
    return "tls";
  case VerifyResult::clock_skew:
    return "clock_skew";
  }
  return "unknown";
}

Duration verify_backoff(int attempt, Duration cap) noexcept
{
  Duration wait = std::chrono::seconds(1);
  for (int i = 1; i < attempt && wait < cap; ++i) {
    wait *= 2;
  }
  return std::min(wait, cap);
}

Action action_for(const Rotation& r, TimePoint now)
{
  if (r.retry_at && *r.retry_at > now) {
    return WaitUntil{*r.retry_at};
  }
  switch (r.phase) {
  case Phase::create:
    if (id_unknown(r)) {
      return FindNewKeys{}; // the create may have been sent before the crash
    }
    return CreateKey{};
  case Phase::write:
    return WriteConsumers{};
  case Phase::verify:
    return VerifyKey{};
  case Phase::reload:
  case Phase::rollback_reload:
    return ReloadConsumers{};
  case Phase::grace:
    if (r.grace_until && *r.grace_until > now) {
      return WaitUntil{*r.grace_until};
    }
    return RetireOldKeys{};
  case Phase::retire:
    return RetireOldKeys{};
  case Phase::rollback_write:
    return RestoreConsumers{};
  case Phase::rollback_delete:
    if (id_unknown(r)) {
      return FindNewKeys{};
    }
    return DeleteNewKey{};
  case Phase::done:
  case Phase::rolled_back:
  case Phase::failed:
    return Finish{};
  }
  return Finish{};
}

std::string_view to_string(KeyState state) noexcept
{
  switch (state) {
  case KeyState::pending:
    return "pending";
  case KeyState::current:
    return "current";
  case KeyState::previous:
    return "previous";
  case KeyState::retired:
    return "retired";
  }
  return "unknown";
}

std::optional<KeyState> key_state_from_string(std::string_view name) noexcept
{
  for (const auto s :
       {KeyState::pending, KeyState::current, KeyState::previous, KeyState::retired}) {
    if (to_string(s) == name) {
      return s;
    }
  }
  return std::nullopt;
}

std::string_view to_string(KeyOrigin origin) noexcept
{
  return origin == KeyOrigin::created ? "created" : "adopted";
}

std::optional<KeyOrigin> key_origin_from_string(std::string_view name) noexcept
{
  if (name == "created") {
    return KeyOrigin::created;
  }
  if (name == "adopted") {
    return KeyOrigin::adopted;
  }
  return std::nullopt;
}

std::vector<KeyChange> key_changes(const Rotation& before, const Rotation& after)
{
  std::vector<KeyChange> changes;
  if (before.new_access && !after.new_access && after.method == CreateMethod::os_ec2) {
    // The planned id was refused by policy (forbidden): it was never made.
    changes.push_back({*before.new_access, KeyState::retired});
  }
  if (!after.new_access) {
    return changes;
  }
  const std::string& fresh = *after.new_access;
  const bool newly_known = before.new_access != after.new_access;
  const bool entered = before.phase != after.phase;
  if (newly_known && !is_final(after.phase)) {
    changes.push_back({fresh, KeyState::pending});
  }
  if (entered && before.phase == Phase::verify && after.phase == Phase::reload) {
    changes.push_back({fresh, KeyState::current});
    if (after.old_access && *after.old_access != fresh) {
      changes.push_back({*after.old_access, KeyState::previous});
    }
  }
  // A create of unknown outcome may land after the rollback's delete: the key stays managed
  // (previous) and the next retire deletes it, or finds it gone, and records it retired.
  const bool kept = after.keep_new_key || after.create_uncertain;
  if (entered && after.phase == Phase::rolled_back) {
    changes.push_back({fresh, kept ? KeyState::previous : KeyState::retired});
  }
  if (entered && after.phase == Phase::failed) {
    // Kept: some consumer may name it, or we could not delete it. Otherwise it never existed.
    changes.push_back({fresh, kept ? KeyState::previous : KeyState::retired});
  }
  return changes;
}

bool create_may_exist(Errc code) noexcept
{
  switch (code) {
  case Errc::forbidden:     // policy refused the call
  case Errc::auth_rejected: // the token was refused
  case Errc::not_found:     // no such endpoint or user
  case Errc::config:        // nothing was sent
  case Errc::unsafe:
  case Errc::clock_skew:
    return false;
  case Errc::conflict: // the key exists: the caller takes it
  case Errc::transient:
  case Errc::timeout:
  case Errc::tls:
  case Errc::protocol: // e.g. a 201 whose body could not be parsed or was too large
  case Errc::parse:
  case Errc::io:
  case Errc::cancelled:
  case Errc::internal:
    return true;
  }
  return true;
}

bool named_by_any(const std::vector<std::optional<std::string>>& holders, const std::string& access)
{
  return std::any_of(holders.begin(), holders.end(),
                     [&](const std::optional<std::string>& h) { return h == access; });
}

RetirePlan keys_to_retire(const std::vector<ManagedKey>& managed,
                          const std::vector<std::optional<std::string>>& holders,
                          const std::optional<std::string>& new_access)
{
  RetirePlan plan;
  for (const auto& key : managed) {
    if (key.state == KeyState::retired || key.access == new_access) {
      continue;
    }
    // Invariant: a key is deleted only when no consumer file names it.
    (named_by_any(holders, key.access) ? plan.kept : plan.remove).push_back(key.access);
  }
  return plan;
}

Step step(Rotation state, const Event& event, TimePoint now, const RotationPolicy& policy)
{
  const Rotation before = state;
  Machine m{std::move(state), now, policy, {}, {}};
  switch (m.s.phase) {
  case Phase::create:
    on_create(m, event);
    break;
  case Phase::write:
    on_write(m, event);
    break;
  case Phase::verify:
    on_verify(m, event);
    break;
  case Phase::reload:
    on_reload(m, event);
    break;
  case Phase::grace:
    on_grace(m, event);
    break;
  case Phase::retire:
    on_retire(m, event);
    break;
  case Phase::rollback_write:
    on_rollback_write(m, event);
    break;
  case Phase::rollback_reload:
    on_rollback_reload(m, event);
    break;
  case Phase::rollback_delete:
    on_rollback_delete(m, event);
    break;
  case Phase::done:
  case Phase::rolled_back:
  case Phase::failed:
    m.unexpected(event_name(event));
    break;
  }
  std::vector<KeyChange> changes = key_changes(before, m.s);
  changes.insert(changes.end(), m.changes.begin(), m.changes.end());
  return Step{std::move(m.s), std::move(m.actions), std::move(changes)};
}

} // namespace credrotd::core
