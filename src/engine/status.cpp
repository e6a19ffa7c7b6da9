// SPDX-License-Identifier: Apache-2.0
// What the engine reports without rotating: profile status, the user's keys with their roles,
// and a check of the current key.
#include "engine/run.hpp"

#include <algorithm>

namespace credrotd::engine {

using core::Errc;
using core::make_error;

Result<ProfileStatus> Engine::status(const std::string& name) const
{
  auto profile = find(name);
  ProfileStatus s;
  s.name = name;
  s.enabled = profile ? profile->enabled : false;
  if (profile) {
    s.schedule = profile->schedule;
    s.policy = profile->rotation;
  }
  CREDROTD_TRY_ASSIGN(const auto managed, m_state.live_keys(name));
  for (const auto& k : managed) {
    if (k.state == core::KeyState::current) {
      s.current_access = k.access;
      s.current_since = k.created_at;
    }
  }
  CREDROTD_TRY_ASSIGN(const auto stored, m_state.profile(name));
  if (stored) {
    s.next_due = stored->next_due;
    s.last_success_at = stored->last_success_at;
  }
  if (const auto it = m_running.find(name); it != m_running.end()) {
    s.running = it->second->rotation;
  }
  CREDROTD_TRY_ASSIGN(const auto recent, m_state.history(name, 2));
  for (const auto& r : recent) {
    if (core::is_final(r.phase)) {
      s.last = r;
      break;
    }
  }
  CREDROTD_TRY_ASSIGN(s.counts, m_state.outcome_counts(name));
  CREDROTD_TRY_ASSIGN(const auto candidates, m_state.candidates(name));
  s.candidate_keys = candidates.size();
  CREDROTD_TRY_ASSIGN(s.unconfirmed_revocations, m_state.unconfirmed_revocations(name));
  return s;
}

Result<std::vector<ProfileStatus>> Engine::status_all() const
{
  std::vector<ProfileStatus> out;
  for (const auto& [name, _] : m_profiles) {
    CREDROTD_TRY_ASSIGN(auto s, status(name));
    out.push_back(std::move(s));
  }
  return out;
}

Task<Result<VerifyReport>> Engine::verify_current(std::string name)
{
  auto profile = find(name);
  if (!profile) {
    co_return make_error(Errc::not_found, "no profile named " + name);
  }
  CREDROTD_CO_TRY_ASSIGN(const auto managed, m_state.live_keys(name));
  std::optional<std::string> current;
  for (const auto& k : managed) {
    if (k.state == core::KeyState::current) {
      current = k.access;
    }
  }
  if (!current) {
    co_return make_error(Errc::not_found, "profile " + name + " has no current managed key yet");
  }
  CREDROTD_CO_TRY_ASSIGN(auto secret, co_await profile->keystone->secret_of(*current));
  co_return co_await profile->s3->verify(*current, std::move(secret), Expect::accepted);
}

Task<Result<std::vector<KeyView>>> Engine::keys(std::string name)
{
  auto profile = find(name);
  if (!profile) {
    co_return make_error(Errc::not_found, "no profile named " + name);
  }
  CREDROTD_CO_TRY_ASSIGN(const auto records, co_await profile->keystone->list_keys());
  CREDROTD_CO_TRY_ASSIGN(const auto managed, m_state.keys(name));
  CREDROTD_CO_TRY_ASSIGN(const auto candidates, m_state.candidates(name));
  std::vector<KeyView> out;
  for (const auto& rec : records) {
    KeyView view{rec.access, rec.project_id, "not_managed"};
    if (std::find(candidates.begin(), candidates.end(), rec.access) != candidates.end()) {
      view.role = "candidate";
    }
    for (const auto& k : managed) {
      if (k.access == rec.access) {
        view.role = std::string(core::to_string(k.state));
      }
    }
    out.push_back(std::move(view));
  }
  co_return out;
}

} // namespace credrotd::engine
