// SPDX-License-Identifier: Apache-2.0
// The rotation protocol's transitions, step() and action_for(); the names and the rules they
// share with the engine are in rotation_rules.cpp. See rotation.hpp and docs/DESIGN.md.
#include "core/rotation.hpp"

#include "core/text.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <array>
#include <utility>

namespace credrotd::core {

namespace {

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

  // The phase's action once more (its retry_at has passed).
  void again(Action action)
  {
    s.retry_at.reset();
    actions.push_back(std::move(action));
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

// Keys appeared while an OS-EC2 create of unknown outcome was in flight. Another host sharing
// the user (or a person) may have made any of them at the same time: none can be proven ours,
// so none is adopted or deleted. They are recorded for the operator and the rotation ends
// with the consumers untouched.
void record_candidates(Machine& m, const std::vector<std::string>& keys)
{
  m.s.candidates = keys;
  m.s.note = "an OS-EC2 create of unknown outcome; keys that appeared meanwhile (" +
             join(keys, ", ") +
             ") may be ours or another host's: none adopted or deleted, check them with "
             "credrotctl keys";
  m.finish(Phase::failed, Outcome::failed);
}

void on_create(Machine& m, const Event& event)
{
  if (std::holds_alternative<Started>(event) || std::holds_alternative<TimerFired>(event)) {
    // A resumed OS-EC2 create may have been sent before the crash: look before creating.
    const bool look = id_unknown(m.s) && std::holds_alternative<TimerFired>(event);
    m.again(look ? Action(FindNewKeys{}) : Action(CreateKey{}));
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
    m.again(WriteConsumers{});
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
    m.again(VerifyKey{});
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
  const auto timeout = std::chrono::duration_cast<std::chrono::seconds>(m.policy.verify_timeout);
  m.roll_back({error.code,
               fmt::format("new key not verified within {} s: {}", timeout.count(), error.message)},
              !key_is_bad);
}

void on_reload(Machine& m, const Event& event)
{
  if (std::holds_alternative<TimerFired>(event)) {
    m.again(ReloadConsumers{});
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
    m.again(RetireOldKeys{});
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
    m.again(RestoreConsumers{});
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
    m.again(ReloadConsumers{});
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
    m.again(id_unknown(m.s) ? Action(FindNewKeys{}) : Action(DeleteNewKey{}));
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
