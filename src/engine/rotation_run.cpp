// SPDX-License-Identifier: Apache-2.0
// One rotation from start to finish: the loop that steps the core and carries out its actions,
// the durable record of each step, the concurrency slots, the bookkeeping at the end, and the
// redaction of secrets from what is stored and reported.
#include "core/text.hpp"
#include "engine/crash_point.hpp"
#include "engine/run.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>

namespace credrotd::engine {

namespace asio = boost::asio;

namespace {

std::string action_name(const core::Action& action)
{
  static constexpr const char* names[] = {"create", "write",        "verify",  "reload",
                                          "wait",   "retire",       "restore", "delete_new",
                                          "finish", "find_new_keys"};
  return names[action.index()];
}

} // namespace

std::vector<std::string_view> held_secrets(const Engine::Run& run)
{
  std::vector<std::string_view> out;
  for (const auto* secret : {&run.new_secret, &run.old_secret}) {
    if (*secret) {
      out.push_back(secret->value().reveal());
    }
  }
  return out;
}

void scrub_all(std::string& text, const Engine::Run& run)
{
  // Secrets shorter than 8 bytes are left alone: they would match ordinary text.
  core::redact(text, held_secrets(run), 8);
}

// Stores `proposed` as the run's state (with the key changes of its step) and tells the
// observer. Every state write of a rotation goes through here. Without a durable record the
// engine must not act: a failure stops this run (the rotation resumes from its last recorded
// phase at the next start) and is reported to the daemon as fatal.
core::Status Engine::persist(Run& run, const core::Step& proposed)
{
  core::Rotation next = proposed.state;
  scrub_all(next.error, run);
  scrub_all(next.note, run);
  const auto& changes = proposed.changes;
  if (next == run.rotation && changes.empty()) {
    return {}; // nothing new to make durable (a fresh rotation's Started event): no commit
  }
  if (auto stored = m_state.save_rotation(next, changes); !stored) {
    core::Error error = stored.error();
    error.message =
        fmt::format("cannot record rotation {} in the state database, stopping it (it resumes at "
                    "the next start): {}",
                    run.rotation.id, error.message);
    m_observer.log(Severity::error, run.profile->name, run.rotation.id, error.message);
    if (m_on_fatal) {
      m_on_fatal(error);
    }
    return error;
  }
  const bool phase_changed = next.phase != run.rotation.phase;
  const bool new_candidates = next.candidates != run.rotation.candidates;
  run.rotation = next;
  if (new_candidates && !next.candidates.empty()) {
    m_observer.log(Severity::warning, run.profile->name, next.id, next.note);
  }
  if (phase_changed) {
    m_observer.phase_changed(run.rotation);
  }
  return {};
}

// --- concurrency slots ---

Task<void> Engine::acquire_slot()
{
  while (m_active >= m_options.max_concurrent && !m_stopping) {
    auto timer =
        std::make_shared<asio::steady_timer>(m_executor, asio::steady_timer::time_point::max());
    m_slot_waiters.push_back(timer);
    boost::system::error_code ec;
    co_await timer->async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  ++m_active;
}

void Engine::release_slot()
{
  --m_active;
  if (!m_slot_waiters.empty()) {
    auto next = m_slot_waiters.front();
    m_slot_waiters.pop_front();
    next->cancel();
  }
}

// --- one rotation ---

void Engine::finish_run(const std::shared_ptr<Run>& run)
{
  const auto& r = run->rotation;
  const auto& profile = *run->profile;
  auto state = m_state.profile(profile.name);
  core::ProfileState p = state && *state ? **state : core::ProfileState{};
  p.name = profile.name;
  p.last_rotation_id = r.id;
  const auto finished = r.finished_at.value_or(now());
  if (r.outcome == core::Outcome::succeeded) {
    p.consecutive_failures = 0;
    p.last_success_at = finished;
    p.next_due = core::next_due_after_success(finished, profile.schedule, jitter_fraction(),
                                              utc_offset(finished));
  } else {
    ++p.consecutive_failures;
    p.next_due = core::next_due_after_failure(finished, p.consecutive_failures, profile.schedule,
                                              utc_offset(finished));
  }
  if (auto saved = m_state.save_profile(p); !saved) {
    m_observer.log(Severity::error, profile.name, r.id,
                   "cannot store the next due time: " + saved.error().describe());
  }
  m_observer.rotation_finished(r);
}

Task<void> Engine::run_rotation(std::shared_ptr<Run> run, bool fresh)
{
  auto& state = m_state;
  auto& observer = m_observer;
  core::RotationPolicy policy = run->profile->rotation;
  policy.fallback = run->profile->create_method == core::CreateMethodChoice::auto_
                        ? core::CreateFallback::os_ec2
                        : core::CreateFallback::none;
  // Releases the concurrency slot however the run ends, an exception included.
  struct Slot {
    Engine* engine;
    bool held = false;
    ~Slot()
    {
      if (held) {
        engine->release_slot();
      }
    }
  } slot{this};
  co_await acquire_slot();
  slot.held = true;

  std::vector<core::Action> actions;
  if (fresh) {
    observer.rotation_started(run->rotation);
    const auto s = core::step(run->rotation, core::Started{}, now(), policy);
    if (persist(*run, s)) {
      actions = s.actions;
    }
  } else {
    observer.log(Severity::notice, run->profile->name, run->rotation.id,
                 fmt::format("resuming rotation {} at phase {}", run->rotation.id,
                             phase_name(run->rotation)));
    actions.push_back(core::action_for(run->rotation, now()));
  }

  while (!actions.empty() && !m_stopping) {
    const core::Action action = actions.front();
    if (std::holds_alternative<core::Finish>(action)) {
      crash_point("finish");
      finish_run(run);
      break;
    }
    crash_point("before:" + action_name(action) + ":" + phase_name(run->rotation));
    core::Event event = core::TimerFired{};
    if (const auto* wait = std::get_if<core::WaitUntil>(&action)) {
      // Waiting holds no slot: a long grace period must not block other profiles.
      release_slot();
      slot.held = false;
      run->timer.expires_at(wait->at);
      boost::system::error_code ec;
      co_await run->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      if (m_stopping) {
        break;
      }
      co_await acquire_slot();
      slot.held = true;
    } else if (std::holds_alternative<core::CreateKey>(action)) {
      event = co_await do_create(run);
    } else if (std::holds_alternative<core::WriteConsumers>(action)) {
      event = co_await do_write(run, state);
    } else if (std::holds_alternative<core::VerifyKey>(action)) {
      event = co_await do_verify(run);
      if (auto* v = std::get_if<core::Verified>(&event);
          v != nullptr && v->result != core::VerifyResult::accepted) {
        scrub_all(v->detail, *run);
        observer.verification_failed(run->rotation, v->detail);
      }
    } else if (std::holds_alternative<core::ReloadConsumers>(action)) {
      event = co_await do_reload(run);
    } else if (std::holds_alternative<core::RetireOldKeys>(action)) {
      event = co_await do_retire(run, state, observer, find(run->profile->name));
    } else if (std::holds_alternative<core::RestoreConsumers>(action)) {
      event = co_await do_restore(run, state);
    } else if (std::holds_alternative<core::DeleteNewKey>(action)) {
      event = co_await do_delete_new(run, find(run->profile->name));
    } else if (std::holds_alternative<core::FindNewKeys>(action)) {
      event = co_await do_find_new_keys(run, state);
    }
    if (m_stopping) {
      break;
    }
    crash_point("after:" + action_name(action) + ":" + phase_name(run->rotation));
    const auto s = core::step(run->rotation, event, now(), policy);
    if (s.actions.empty()) {
      // A broken invariant in this engine: keep the stored state, say so, stop this run. The
      // rotation resumes from its stored phase on the next start.
      observer.log(Severity::error, run->profile->name, run->rotation.id,
                   "internal error, rotation paused until the next start or reload: " +
                       s.state.error);
      m_paused.insert(run->rotation.id);
      break;
    }
    if (!persist(*run, s)) {
      break;
    }
    // Stored as pending: only now may a re-check record its result.
    for (auto& [check, secret] : run->rechecks) {
      m_rechecker.schedule(run->profile->name, check.access, std::move(secret), *check.recheck_at,
                           run->profile->s3);
    }
    run->rechecks.clear();
    actions = s.actions;
  }
  run->new_secret.reset();
  run->old_secret.reset();
  m_running.erase(run->profile->name);
  if (auto waiters = m_waiters.extract(run->rotation.id)) {
    for (auto& timer : waiters.mapped()) {
      timer->cancel();
    }
  }
  poke_scheduler();
  m_observer.state_changed();
}

} // namespace credrotd::engine
