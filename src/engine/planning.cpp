// SPDX-License-Identifier: Apache-2.0
// Starting a rotation: the checks before it, its plan (the old key, adopted from the consumer
// files on a first run; the create method; the new access id) and its first record.
#include "engine/run.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace credrotd::engine {

using core::Errc;
using core::make_error;

namespace {

// Decides the old key (adopting the one in the files on a first run), the create method and
// the new access id of a rotation about to start.
Task<Result<core::Rotation>> plan(std::shared_ptr<const ProfileRuntime> profile, StatePort& state,
                                  Observer& observer)
{
  core::Rotation r;
  r.profile = profile->name;
  r.started_at = now();
  r.phase_since = r.started_at;
  r.phase = core::Phase::create;

  auto& consumers = *profile->consumers;
  auto& ks = *profile->keystone;
  CREDROTD_CO_TRY_ASSIGN(const auto holders, read_holders(consumers));
  CREDROTD_CO_TRY_ASSIGN(const auto managed, state.live_keys(profile->name));
  std::optional<core::ManagedKey> current;
  for (const auto& k : managed) {
    if (k.state == core::KeyState::current) {
      current = k; // the latest current wins, should there be several
    }
  }
  if (current) {
    r.old_access = current->access;
  } else {
    std::vector<std::string> distinct;
    for (const auto& h : holders) {
      if (h && std::find(distinct.begin(), distinct.end(), *h) == distinct.end()) {
        distinct.push_back(*h);
      }
    }
    if (distinct.size() > 1) {
      std::string detail;
      for (std::size_t i = 0; i < holders.size(); ++i) {
        detail += "\n  " + consumers.describe(i) + ": " + holders[i].value_or("(no key)");
      }
      co_return make_error(Errc::config, "the consumers of profile " + profile->name +
                                             " hold different keys; make them agree before the "
                                             "first rotation:" +
                                             detail);
    }
    if (distinct.size() == 1) {
      // First run: adopt the hand-made key if it is the configured user's, in the project.
      const std::string& candidate = distinct.front();
      CREDROTD_CO_TRY_ASSIGN(const auto identity, co_await ks.identity());
      CREDROTD_CO_TRY_ASSIGN(const auto rec, co_await ks.find_key(candidate));
      if (!rec) {
        observer.log(Severity::warning, profile->name, 0,
                     "the key " + candidate + " in the consumer files is not one of user " +
                         identity.user_id + "'s keys in Keystone; it is replaced but not deleted");
      } else if (rec->project_id != identity.project_id) {
        co_return make_error(Errc::config, "the key " + candidate + " in the consumer files of " +
                                               profile->name + " belongs to project " +
                                               rec->project_id + ", not to the profile's project " +
                                               identity.project_id + "; not adopting it");
      } else {
        CREDROTD_CO_TRY(state.set_key(
            core::ManagedKey{profile->name, candidate, core::KeyState::current,
                             core::KeyOrigin::adopted, std::nullopt, now(), std::nullopt}));
        observer.log(Severity::notice, profile->name, 0,
                     "adopted the key " + candidate + " found in the consumer files as managed");
        r.old_access = candidate;
      }
    }
  }

  if (profile->create_method == core::CreateMethodChoice::os_ec2) {
    r.method = core::CreateMethod::os_ec2;
    CREDROTD_CO_TRY_ASSIGN(const auto records, co_await ks.list_keys());
    for (const auto& k : records) {
      r.keys_before.push_back(k.access);
    }
  } else {
    r.method = core::CreateMethod::credentials;
    r.new_access = ks.generate_key().access;
  }
  co_return r;
}

} // namespace

Task<Result<std::int64_t>> Engine::rotate(std::string name, Trigger trigger)
{
  auto profile = find(name);
  if (!profile) {
    co_return make_error(Errc::not_found, "no profile named " + name);
  }
  if (const auto it = m_running.find(name); it != m_running.end()) {
    co_return make_error(Errc::conflict, fmt::format("profile {} is already rotating (rotation {})",
                                                     name, it->second->rotation.id));
  }
  if (m_planning.count(name) != 0) {
    co_return make_error(Errc::conflict, "profile " + name + " is already starting a rotation");
  }
  CREDROTD_CO_TRY_ASSIGN(const auto unfinished, m_state.running_rotation(name));
  if (unfinished) {
    // Not running in this process: paused after an internal error, or left by a profile that
    // was not configured. A reload (or the next start) resumes it.
    const std::string why =
        m_paused.count(unfinished->id) != 0 ? " paused after an internal error" : " not running";
    co_return make_error(Errc::conflict,
                         fmt::format("profile {} has an unfinished rotation {} in phase {}{}; it "
                                     "resumes at the next reload or start",
                                     name, unfinished->id, phase_name(*unfinished), why));
  }
  m_planning.insert(name);
  auto planned = co_await plan(profile, m_state, m_observer);
  m_planning.erase(name);
  if (m_stopping) {
    co_return make_error(Errc::cancelled, "shutting down");
  }
  if (!planned) {
    // Recorded as a failed rotation, so that history and metrics show it.
    core::Rotation failed;
    failed.profile = name;
    failed.started_at = now();
    failed.phase_since = failed.started_at;
    failed.phase = core::Phase::failed;
    failed.outcome = core::Outcome::failed;
    failed.finished_at = failed.started_at;
    failed.error_code = planned.error().code;
    failed.error = "planning failed: " + planned.error().message;
    if (auto id = m_state.insert_rotation(failed)) {
      failed.id = *id;
      auto run = std::make_shared<Run>(m_executor, profile, failed);
      m_observer.rotation_started(failed);
      finish_run(run);
    }
    poke_scheduler();
    co_return planned.error();
  }
  auto id = m_state.insert_rotation(*planned);
  if (!id) {
    co_return id.error();
  }
  planned->id = *id;
  (void)trigger;
  auto run = std::make_shared<Run>(m_executor, profile, std::move(*planned));
  start(std::move(run), true);
  m_observer.state_changed();
  co_return *id;
}

} // namespace credrotd::engine
