// SPDX-License-Identifier: Apache-2.0
// The rotation's vocabulary and the rules step() and the engine share: the names of the
// enums, the verify backoff, which managed keys change role, which may be deleted, and
// whether a failed create may have made a key. See rotation.hpp and docs/DESIGN.md.
#include "core/rotation.hpp"
#include "core/state.hpp"

#include <algorithm>
#include <array>
#include <utility>

namespace credrotd::core {

namespace {

template <class E> using Names = std::initializer_list<std::pair<E, std::string_view>>;

template <class E> std::string_view name_of(Names<E> names, E value) noexcept
{
  for (const auto& [v, name] : names) {
    if (v == value) {
      return name;
    }
  }
  return "unknown";
}

template <class E> std::optional<E> value_of(Names<E> names, std::string_view name) noexcept
{
  for (const auto& [v, n] : names) {
    if (n == name) {
      return v;
    }
  }
  return std::nullopt;
}

const Names<Phase> k_phases{
    {Phase::create, "create"},
    {Phase::write, "write"},
    {Phase::verify, "verify"},
    {Phase::reload, "reload"},
    {Phase::grace, "grace"},
    {Phase::retire, "retire"},
    {Phase::done, "done"},
    {Phase::rollback_write, "rollback_write"},
    {Phase::rollback_reload, "rollback_reload"},
    {Phase::rollback_delete, "rollback_delete"},
    {Phase::rolled_back, "rolled_back"},
    {Phase::failed, "failed"},
};
const Names<Outcome> k_outcomes{{Outcome::running, "running"},
                                {Outcome::succeeded, "succeeded"},
                                {Outcome::rolled_back, "rolled_back"},
                                {Outcome::failed, "failed"}};
const Names<CreateMethod> k_methods{{CreateMethod::credentials, "credentials"},
                                    {CreateMethod::os_ec2, "os_ec2"}};
const Names<VerifyResult> k_verify_results{{VerifyResult::accepted, "accepted"},
                                           {VerifyResult::rejected, "rejected"},
                                           {VerifyResult::check_failed, "check_failed"},
                                           {VerifyResult::unavailable, "unavailable"},
                                           {VerifyResult::tls, "tls"},
                                           {VerifyResult::clock_skew, "clock_skew"}};
const Names<KeyState> k_key_states{{KeyState::pending, "pending"},
                                   {KeyState::current, "current"},
                                   {KeyState::previous, "previous"},
                                   {KeyState::retired, "retired"}};
const Names<KeyOrigin> k_key_origins{{KeyOrigin::created, "created"},
                                     {KeyOrigin::adopted, "adopted"}};

} // namespace

std::string_view to_string(Phase phase) noexcept
{
  return name_of(k_phases, phase);
}
std::optional<Phase> phase_from_string(std::string_view name) noexcept
{
  return value_of(k_phases, name);
}
std::string_view to_string(Outcome outcome) noexcept
{
  return name_of(k_outcomes, outcome);
}
std::optional<Outcome> outcome_from_string(std::string_view name) noexcept
{
  return value_of(k_outcomes, name);
}
std::string_view to_string(CreateMethod method) noexcept
{
  return name_of(k_methods, method);
}
std::optional<CreateMethod> create_method_from_string(std::string_view name) noexcept
{
  return value_of(k_methods, name);
}
std::string_view to_string(VerifyResult result) noexcept
{
  return name_of(k_verify_results, result);
}
std::string_view to_string(KeyState state) noexcept
{
  return name_of(k_key_states, state);
}
std::optional<KeyState> key_state_from_string(std::string_view name) noexcept
{
  return value_of(k_key_states, name);
}
std::string_view to_string(KeyOrigin origin) noexcept
{
  return name_of(k_key_origins, origin);
}
std::optional<KeyOrigin> key_origin_from_string(std::string_view name) noexcept
{
  return value_of(k_key_origins, name);
}

bool is_final(Phase phase) noexcept
{
  return phase == Phase::done || phase == Phase::rolled_back || phase == Phase::failed;
}

Duration verify_backoff(int attempt, Duration cap) noexcept
{
  Duration wait = std::chrono::seconds(1);
  for (int i = 1; i < attempt && wait < cap; ++i) {
    wait *= 2;
  }
  return std::min(wait, cap);
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
  // On failed: kept when some consumer may name it or it could not be deleted; otherwise it
  // never existed.
  const bool kept = after.keep_new_key || after.create_uncertain;
  if (entered && (after.phase == Phase::rolled_back || after.phase == Phase::failed)) {
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
  return std::find(holders.begin(), holders.end(), access) != holders.end();
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

} // namespace credrotd::core
