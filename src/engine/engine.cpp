// SPDX-License-Identifier: Apache-2.0
// The engine's scheduler and the coroutines that carry out each rotation's actions.
#include "engine/engine.hpp"

#include "engine/crash_point.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <ctime>
#include <exception>

namespace credrotd::engine {

namespace asio = boost::asio;
using core::Errc;
using core::make_error;

struct Engine::Run {
  Run(asio::any_io_executor executor, std::shared_ptr<const ProfileRuntime> p, core::Rotation r)
      : profile(std::move(p)), rotation(std::move(r)), timer(std::move(executor))
  {}
  std::shared_ptr<const ProfileRuntime> profile;
  core::Rotation rotation;
  std::optional<core::Secret> new_secret; // kept in memory while the rotation runs, never stored
  std::optional<core::Secret> old_secret; // read back for a restore (or for redaction)
  asio::system_timer timer;               // WaitUntil
  bool resumed = false;                   // started from the state after a restart
  // Deleted keys S3 still accepted, with their secrets, for the re-check once the retire
  // that found them is stored.
  std::vector<std::pair<core::RevocationCheck, core::Secret>> rechecks;
};

namespace {

core::TimePoint now()
{
  return std::chrono::time_point_cast<std::chrono::milliseconds>(core::Clock::now());
}

std::string phase_name(const core::Rotation& r)
{
  return std::string(core::to_string(r.phase));
}

std::string action_name(const core::Action& action)
{
  static constexpr const char* names[] = {"create", "write",        "verify",  "reload",
                                          "wait",   "retire",       "restore", "delete_new",
                                          "finish", "find_new_keys"};
  return names[action.index()];
}

// "310 s", or "200 ms" below a second.
std::string seconds_text(core::Duration d)
{
  return d < std::chrono::seconds(1) ? std::to_string(d.count()) + " ms"
                                     : std::to_string(d.count() / 1000) + " s";
}

std::string list(const std::vector<std::string>& items)
{
  std::string out;
  for (const auto& item : items) {
    out += (out.empty() ? "" : ", ") + item;
  }
  return out;
}

} // namespace

Result<std::vector<std::optional<std::string>>> read_holders(ConsumersPort& consumers)
{
  std::vector<std::optional<std::string>> holders;
  for (std::size_t i = 0; i < consumers.count(); ++i) {
    CREDROTD_TRY_ASSIGN(auto access, consumers.read_access(i));
    holders.push_back(std::move(access));
  }
  return holders;
}

namespace {

// Replaces every occurrence of `secret` in `text`. A safety net: adapters never put a secret
// in a message, but a consumer's check command is the operator's program and may print one.
void scrub(std::string& text, std::string_view secret)
{
  if (secret.size() < 8) {
    return;
  }
  for (auto at = text.find(secret); at != std::string::npos; at = text.find(secret, at)) {
    text.replace(at, secret.size(), "<redacted>");
  }
}

// Every secret the run holds, for redaction. The views live as long as the run's secrets.
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
  for (const auto secret : held_secrets(run)) {
    scrub(text, secret);
  }
}

} // namespace

// Stores `proposed` as the run's state (with the key changes of its step) and tells the
// observer. Every state write of a rotation goes through here. Without a durable record the
// engine must not act: a failure stops this run (the rotation resumes from its last recorded
// phase at the next start) and is reported to the daemon as fatal.
core::Status persist(Engine* engine, Engine::Run& run, const core::Step& proposed)
{
  core::Rotation next = proposed.state;
  scrub_all(next.error, run);
  scrub_all(next.note, run);
  const auto& changes = proposed.changes;
  if (next == run.rotation && changes.empty()) {
    return {}; // nothing new to make durable (a fresh rotation's Started event): no commit
  }
  if (auto stored = engine->m_state.save_rotation(next, changes); !stored) {
    core::Error error = stored.error();
    error.message =
        "cannot record rotation " + std::to_string(run.rotation.id) +
        " in the state database, stopping it (it resumes at the next start): " + error.message;
    engine->m_observer.log(Severity::error, run.profile->name, run.rotation.id, error.message);
    if (engine->m_on_fatal) {
      engine->m_on_fatal(error);
    }
    return error;
  }
  const bool phase_changed = next.phase != run.rotation.phase;
  const bool new_candidates = next.candidates != run.rotation.candidates;
  run.rotation = next;
  if (new_candidates && !next.candidates.empty()) {
    engine->m_observer.log(Severity::warning, run.profile->name, next.id, next.note);
  }
  if (phase_changed) {
    engine->m_observer.phase_changed(run.rotation);
  }
  return {};
}

namespace {

// --- the actions ---

Task<core::Event> do_create(std::shared_ptr<Engine::Run> run)
{
  auto& r = run->rotation;
  auto& ks = *run->profile->keystone;
  if (!run->resumed && r.attempts == 0) {
    // Authenticate first (the token is the one the create uses, so this costs no call). When
    // Keystone cannot even be reached, no create was sent: the rotation fails with nothing to
    // undo, instead of trying for the rollback budget (an hour) to delete a key that was
    // never made.
    if (auto who = co_await ks.identity(); !who) {
      co_return core::CreateFailed{who.error(), false};
    }
  }
  if (r.method == core::CreateMethod::credentials) {
    const std::string access = r.new_access.value_or("");
    if (run->resumed || r.attempts > 0) {
      // The key may exist already: take its secret from Keystone. Its id is one this daemon
      // drew from its CSPRNG, so it is ours.
      auto existing = co_await ks.secret_of(access);
      if (existing) {
        run->new_secret = std::move(*existing);
        co_return core::Created{access};
      }
      if (existing.error().code != Errc::not_found) {
        co_return core::CreateFailed{existing.error(), core::is_transient(existing.error().code)};
      }
    }
    auto fresh = ks.generate_key();
    auto created = co_await ks.create_key(access, fresh.secret.clone());
    if (created) {
      run->new_secret = std::move(fresh.secret);
      co_return core::Created{access};
    }
    if (created.error().code == Errc::conflict) {
      // Our earlier attempt got through after all: its secret is in Keystone.
      auto secret = co_await ks.secret_of(access);
      if (!secret) {
        co_return core::CreateFailed{secret.error(), true};
      }
      run->new_secret = std::move(*secret);
      co_return core::Created{access};
    }
    if (created.error().code == Errc::forbidden) {
      // Policy refuses /v3/credentials. Whether to fall back is the core's decision; it needs
      // the keys that exist now to tell a later create apart from them.
      auto listed = co_await ks.list_keys();
      if (!listed) {
        co_return core::CreateFailed{listed.error(), false};
      }
      core::CreateRefused refused{created.error(), {}};
      for (const auto& k : *listed) {
        refused.keys_before.push_back(k.access);
      }
      co_return refused;
    }
    co_return core::CreateFailed{created.error(), core::create_may_exist(created.error().code)};
  }
  // OS-EC2: Keystone chooses the id. The core never asks for this create while an earlier
  // one's outcome is unknown (it asks FindNewKeys first).
  auto made = co_await ks.create_key_os_ec2();
  if (!made) {
    co_return core::CreateFailed{made.error(), core::create_may_exist(made.error().code)};
  }
  run->new_secret = std::move(made->secret);
  co_return core::Created{made->access};
}

// The keys of the user in the profile's project that are not in keys_before and that no
// profile of this daemon manages: what an OS-EC2 create of unknown outcome may have made, and
// what another host sharing the user may have made at the same time.
Task<core::Event> do_find_new_keys(std::shared_ptr<Engine::Run> run, StatePort& state)
{
  const bool creating = run->rotation.phase == core::Phase::create;
  const auto failed = [&](const core::Error& error) -> core::Event {
    if (creating) {
      // A resumed create whose outcome is unknown: treat it as one that may have landed.
      return core::CreateFailed{error, true};
    }
    return core::DeleteFailed{error};
  };
  auto& ks = *run->profile->keystone;
  auto identity = co_await ks.identity();
  if (!identity) {
    co_return failed(identity.error());
  }
  auto records = co_await ks.list_keys();
  if (!records) {
    co_return failed(records.error());
  }
  auto managed = state.managed_access_ids();
  if (!managed) {
    co_return failed(managed.error());
  }
  core::KeysAppeared appeared;
  const auto& before = run->rotation.keys_before;
  for (const auto& rec : *records) {
    const bool known_before = std::find(before.begin(), before.end(), rec.access) != before.end();
    const bool is_managed =
        std::find(managed->begin(), managed->end(), rec.access) != managed->end();
    if (!known_before && !is_managed && rec.project_id == identity->project_id) {
      appeared.access.push_back(rec.access);
    }
  }
  co_return appeared;
}

// Writes `access` into every consumer that does not hold it yet, recording each write.
Task<core::Status> write_all(Engine::Run& run, StatePort& state, std::string access,
                             const core::Secret& secret, core::WriteKind kind)
{
  auto& consumers = *run.profile->consumers;
  for (std::size_t i = 0; i < consumers.count(); ++i) {
    CREDROTD_CO_TRY_ASSIGN(const auto held, consumers.read_access(i));
    if (held == access) {
      continue;
    }
    CREDROTD_CO_TRY_ASSIGN(const auto report, consumers.write(i, access, secret));
    crash_point(std::string(core::to_string(kind)) + ":written");
    CREDROTD_CO_TRY(
        state.record_write(core::ConsumerWrite{run.rotation.id, consumers.path(i), kind, access,
                                               report.sha256_before, report.sha256_after, now()}));
    crash_point(std::string(core::to_string(kind)) + ":recorded");
  }
  co_return core::Status{};
}

Task<Result<const core::Secret*>> new_secret(Engine::Run& run)
{
  if (!run.new_secret) {
    CREDROTD_CO_TRY_ASSIGN(auto secret,
                           co_await run.profile->keystone->secret_of(*run.rotation.new_access));
    run.new_secret = std::move(secret);
  }
  co_return &*run.new_secret;
}

// Before a consumer's own program runs (check, reload command), the run makes sure it holds
// every secret the consumer files may contain, so that whatever the program prints is
// redacted: after a restart neither is in memory. Best effort: a key Keystone cannot return
// cannot be redacted, and the program runs anyway (not running it would be worse).
Task<void> hold_file_secrets(Engine::Run& run)
{
  if (!run.profile->consumers->runs_programs()) {
    co_return; // nothing prints: nothing to redact, no Keystone read
  }
  auto& ks = *run.profile->keystone;
  if (!run.new_secret && run.rotation.new_access) {
    if (auto secret = co_await ks.secret_of(*run.rotation.new_access)) {
      run.new_secret = std::move(*secret);
    }
  }
  if (!run.old_secret && run.rotation.old_access) {
    if (auto secret = co_await ks.secret_of(*run.rotation.old_access)) {
      run.old_secret = std::move(*secret);
    }
  }
}

Task<core::Event> do_write(std::shared_ptr<Engine::Run> run, StatePort& state)
{
  auto secret = co_await new_secret(*run);
  if (!secret) {
    co_return core::WriteFailed{secret.error()};
  }
  auto written =
      co_await write_all(*run, state, *run->rotation.new_access, **secret, core::WriteKind::write);
  if (!written) {
    co_return core::WriteFailed{written.error()};
  }
  co_return core::Written{};
}

Task<core::Event> do_restore(std::shared_ptr<Engine::Run> run, StatePort& state)
{
  const std::string old = run->rotation.old_access.value_or("");
  // The old secret is re-read from Keystone: no copy of it is kept anywhere but in memory.
  auto secret = co_await run->profile->keystone->secret_of(old);
  if (!secret) {
    auto error = secret.error();
    if (error.code == Errc::not_found) {
      error.message = "the old key " + old + " is no longer in Keystone: " + error.message;
    }
    co_return core::RestoreFailed{error};
  }
  run->old_secret = std::move(*secret);
  auto written = co_await write_all(*run, state, old, *run->old_secret, core::WriteKind::restore);
  if (!written) {
    co_return core::RestoreFailed{written.error()};
  }
  co_return core::Restored{};
}

Task<core::Event> do_verify(std::shared_ptr<Engine::Run> run)
{
  auto secret = co_await new_secret(*run);
  if (!secret) {
    const auto result = core::is_transient(secret.error().code) ? core::VerifyResult::unavailable
                                                                : core::VerifyResult::rejected;
    co_return core::Verified{result,
                             "cannot read the new key from Keystone: " + secret.error().describe()};
  }
  auto report = co_await run->profile->s3->verify(*run->rotation.new_access, (*secret)->clone(),
                                                  Expect::accepted);
  if (report.result == core::VerifyResult::accepted) {
    co_await hold_file_secrets(*run);
    auto& consumers = *run->profile->consumers;
    for (std::size_t i = 0; i < consumers.count(); ++i) {
      auto checked = co_await consumers.check(i, held_secrets(*run));
      if (!checked) {
        report = VerifyReport{core::VerifyResult::check_failed,
                              consumers.describe(i) + ": " + checked.error().message};
        break;
      }
    }
  }
  co_return core::Verified{report.result, report.detail};
}

Task<core::Event> do_reload(std::shared_ptr<Engine::Run> run)
{
  co_await hold_file_secrets(*run);
  auto reloaded = co_await run->profile->consumers->reload(held_secrets(*run));
  if (!reloaded) {
    co_return core::ReloadFailed{reloaded.error()};
  }
  co_return core::Reloaded{};
}

// The access ids named by the run's consumer files and, when a reload changed the profile's
// configuration since the run started, by the files configured now: a key is protected while
// any file that names it is known.
Result<std::vector<std::optional<std::string>>>
all_holders(const Engine::Run& run, const std::shared_ptr<const ProfileRuntime>& current)
{
  CREDROTD_TRY_ASSIGN(auto holders, read_holders(*run.profile->consumers));
  if (current && current->consumers && current->consumers != run.profile->consumers) {
    CREDROTD_TRY_ASSIGN(const auto now_configured, read_holders(*current->consumers));
    holders.insert(holders.end(), now_configured.begin(), now_configured.end());
  }
  return holders;
}

// Which consumers (of the run's and the current configuration) name `access`, for a message.
std::vector<std::string> named_by(const Engine::Run& run,
                                  const std::shared_ptr<const ProfileRuntime>& current,
                                  const std::vector<std::optional<std::string>>& holders,
                                  const std::string& access)
{
  std::vector<std::string> out;
  std::vector<ConsumersPort*> ports{run.profile->consumers.get()};
  if (current && current->consumers && current->consumers != run.profile->consumers) {
    ports.push_back(current->consumers.get());
  }
  std::size_t at = 0;
  for (auto* port : ports) {
    for (std::size_t i = 0; i < port->count() && at < holders.size(); ++i, ++at) {
      if (holders[at] == access) {
        out.push_back(port->describe(i));
      }
    }
  }
  return out;
}

Task<core::Event> do_retire(std::shared_ptr<Engine::Run> run, StatePort& state, Observer& observer,
                            std::shared_ptr<const ProfileRuntime> current)
{
  auto& r = run->rotation;
  auto& ks = *run->profile->keystone;
  auto managed = state.live_keys(run->profile->name);
  if (!managed) {
    co_return core::RetireFailed{managed.error(), {}};
  }
  auto holders = all_holders(*run, current);
  if (!holders) {
    co_return core::RetireFailed{holders.error(), {}};
  }
  const auto plan = core::keys_to_retire(*managed, *holders, r.new_access);
  std::vector<std::string> notes;
  std::vector<std::string> deleted_keys;
  std::vector<core::RevocationCheck> revocations;
  run->rechecks.clear();
  for (const auto& access : plan.remove) {
    std::optional<core::Secret> secret;
    if (run->profile->confirm_retire) {
      auto fetched = co_await ks.secret_of(access);
      if (fetched) {
        secret = std::move(*fetched);
      } else if (fetched.error().code != Errc::not_found) {
        co_return core::RetireFailed{fetched.error(), deleted_keys, revocations};
      }
    }
    crash_point("retire:before_delete");
    // With the secret read just now, secret_of() has checked the key's owner: the delete
    // need not read it again.
    // (No co_await inside ?: : g++ 12 destroys such a result twice.)
    core::Status deleted;
    if (secret) {
      deleted = co_await ks.delete_read_key(access);
    } else {
      deleted = co_await ks.delete_key(access);
    }
    if (!deleted && deleted.error().code != Errc::not_found) {
      co_return core::RetireFailed{deleted.error(), deleted_keys, revocations};
    }
    crash_point("retire:deleted");
    // Recorded retired by the transition this attempt ends with; a crash before that deletes
    // it again on resume (not_found counts as deleted).
    deleted_keys.push_back(access);
    observer.key_deleted(r, access);
    if (secret) {
      const auto report =
          co_await run->profile->s3->verify(access, secret->clone(), Expect::rejected);
      auto check =
          core::revocation_at_delete(access, report.result, now(), run->profile->recheck_after);
      if (report.result == core::VerifyResult::accepted) {
        // Ceph RGW checks a key it saw in the last 300 s against its own cache of the secret
        // (s3_token_expiry_length, fixed), not Keystone; Swift's s3token caches nothing by
        // default. The key is gone from Keystone: the cache only delays its refusal, which
        // the re-check confirms once the window has passed.
        std::string note =
            "old key " + access + " deleted but still accepted (RGW caches keys up to 5 minutes)";
        if (check.recheck_at) {
          note += "; re-checked in " + seconds_text(run->profile->recheck_after);
          run->rechecks.emplace_back(check, std::move(*secret));
        }
        notes.push_back(std::move(note));
      } else if (report.result == core::VerifyResult::rejected) {
        notes.push_back("old key " + access + " deleted and refused by S3");
      } else {
        notes.push_back("old key " + access + " deleted; S3 could not confirm (" + report.detail +
                        ")");
      }
      revocations.push_back(std::move(check));
    } else {
      notes.push_back("old key " + access + " deleted");
    }
  }
  if (!plan.kept.empty()) {
    std::vector<std::string> kept;
    for (const auto& access : plan.kept) {
      kept.push_back(access + " (still in " + list(named_by(*run, current, *holders, access)) +
                     ")");
    }
    co_return core::RetireFailed{
        core::Error{Errc::unsafe, "kept " + list(kept) + ": a consumer still names it"},
        deleted_keys, revocations};
  }
  co_return core::Retired{notes.empty() ? std::string("no old key to delete") : list(notes),
                          deleted_keys, revocations};
}

Task<core::Event> do_delete_new(std::shared_ptr<Engine::Run> run,
                                std::shared_ptr<const ProfileRuntime> current)
{
  auto& r = run->rotation;
  auto& ks = *run->profile->keystone;
  if (!r.new_access) {
    co_return core::DeleteFailed{
        core::Error{Errc::internal, "asked to delete a new key whose id is unknown"}};
  }
  auto holders = all_holders(*run, current);
  if (!holders) {
    co_return core::DeleteFailed{holders.error()};
  }
  if (core::named_by_any(*holders, *r.new_access)) {
    co_return core::DeleteFailed{
        core::Error{Errc::unsafe, "the new key is still in " +
                                      list(named_by(*run, current, *holders, *r.new_access)) +
                                      "; not deleting it"}};
  }
  auto deleted = co_await ks.delete_key(*r.new_access);
  if (!deleted && deleted.error().code != Errc::not_found) {
    co_return core::DeleteFailed{deleted.error()};
  }
  co_return core::Deleted{};
}

} // namespace

// --- concurrency slots ---

Task<void> acquire_slot(Engine* engine)
{
  while (engine->m_active >= engine->m_options.max_concurrent && !engine->m_stopping) {
    auto timer = std::make_shared<asio::steady_timer>(engine->m_executor,
                                                      asio::steady_timer::time_point::max());
    engine->m_slot_waiters.push_back(timer);
    boost::system::error_code ec;
    co_await timer->async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  ++engine->m_active;
}

void release_slot(Engine* engine)
{
  --engine->m_active;
  if (!engine->m_slot_waiters.empty()) {
    auto next = engine->m_slot_waiters.front();
    engine->m_slot_waiters.pop_front();
    next->cancel();
  }
}

// --- one rotation ---

void finish_run(Engine* engine, const std::shared_ptr<Engine::Run>& run)
{
  const auto& r = run->rotation;
  const auto& profile = *run->profile;
  auto state = engine->m_state.profile(profile.name);
  core::ProfileState p = state && *state ? **state : core::ProfileState{};
  p.name = profile.name;
  p.last_rotation_id = r.id;
  const auto finished = r.finished_at.value_or(now());
  if (r.outcome == core::Outcome::succeeded) {
    p.consecutive_failures = 0;
    p.last_success_at = finished;
    p.next_due = core::next_due_after_success(finished, profile.schedule, engine->jitter_fraction(),
                                              engine->utc_offset(finished));
  } else {
    ++p.consecutive_failures;
    p.next_due = core::next_due_after_failure(finished, p.consecutive_failures, profile.schedule,
                                              engine->utc_offset(finished));
  }
  if (auto saved = engine->m_state.save_profile(p); !saved) {
    engine->m_observer.log(Severity::error, profile.name, r.id,
                           "cannot store the next due time: " + saved.error().describe());
  }
  engine->m_observer.rotation_finished(r);
}

Task<void> run_rotation(Engine* engine, std::shared_ptr<Engine::Run> run, bool fresh)
{
  auto& state = engine->m_state;
  auto& observer = engine->m_observer;
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
        release_slot(engine);
      }
    }
  } slot{engine};
  co_await acquire_slot(engine);
  slot.held = true;

  std::vector<core::Action> actions;
  if (fresh) {
    observer.rotation_started(run->rotation);
    const auto s = core::step(run->rotation, core::Started{}, now(), policy);
    if (persist(engine, *run, s)) {
      actions = s.actions;
    }
  } else {
    observer.log(Severity::notice, run->profile->name, run->rotation.id,
                 "resuming rotation " + std::to_string(run->rotation.id) + " at phase " +
                     phase_name(run->rotation));
    actions.push_back(core::action_for(run->rotation, now()));
  }

  while (!actions.empty() && !engine->m_stopping) {
    const core::Action action = actions.front();
    if (std::holds_alternative<core::Finish>(action)) {
      crash_point("finish");
      finish_run(engine, run);
      break;
    }
    crash_point("before:" + action_name(action) + ":" + phase_name(run->rotation));
    core::Event event = core::TimerFired{};
    if (const auto* wait = std::get_if<core::WaitUntil>(&action)) {
      // Waiting holds no slot: a long grace period must not block other profiles.
      release_slot(engine);
      slot.held = false;
      run->timer.expires_at(wait->at);
      boost::system::error_code ec;
      co_await run->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      if (engine->m_stopping) {
        break;
      }
      co_await acquire_slot(engine);
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
      event = co_await do_retire(run, state, observer, engine->find(run->profile->name));
    } else if (std::holds_alternative<core::RestoreConsumers>(action)) {
      event = co_await do_restore(run, state);
    } else if (std::holds_alternative<core::DeleteNewKey>(action)) {
      event = co_await do_delete_new(run, engine->find(run->profile->name));
    } else if (std::holds_alternative<core::FindNewKeys>(action)) {
      event = co_await do_find_new_keys(run, state);
    }
    if (engine->m_stopping) {
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
      engine->m_paused.insert(run->rotation.id);
      break;
    }
    if (!persist(engine, *run, s)) {
      break;
    }
    // Stored as pending: only now may a re-check record its result.
    for (auto& [check, secret] : run->rechecks) {
      engine->m_rechecker.schedule(run->profile->name, check.access, std::move(secret),
                                   *check.recheck_at, run->profile->s3);
    }
    run->rechecks.clear();
    actions = s.actions;
  }
  run->new_secret.reset();
  run->old_secret.reset();
  engine->m_running.erase(run->profile->name);
  if (auto waiters = engine->m_waiters.extract(run->rotation.id)) {
    for (auto& timer : waiters.mapped()) {
      timer->cancel();
    }
  }
  engine->poke_scheduler();
  engine->m_observer.state_changed();
}

// --- Engine ---

Engine::Engine(asio::any_io_executor executor, StatePort& state, Observer& observer,
               EngineOptions options)
    : m_executor(std::move(executor)), m_state(state), m_observer(observer), m_options(options),
      m_scheduler_timer(m_executor), m_rng(std::random_device{}()),
      m_rechecker(m_executor, state, observer)
{
  m_options.max_concurrent = std::max(1, m_options.max_concurrent);
}

Engine::~Engine() = default;

void Engine::set_profiles(std::vector<std::shared_ptr<const ProfileRuntime>> profiles)
{
  m_profiles.clear();
  for (auto& p : profiles) {
    const std::string name = p->name;
    m_profiles.emplace(name, std::move(p));
  }
  // A rotation left unfinished (its profile was not configured at start, or it was paused
  // after an internal error) resumes now that its profile is configured.
  m_paused.clear();
  m_unschedulable.clear();
  if (!m_orphans_abandoned) {
    m_orphans_abandoned = true;
    m_rechecker.abandon_orphans();
  }
  resume();
  poke_scheduler();
  m_observer.state_changed();
}

std::vector<std::string> Engine::profile_names() const
{
  std::vector<std::string> names;
  for (const auto& [name, _] : m_profiles) {
    names.push_back(name);
  }
  return names;
}

std::shared_ptr<const ProfileRuntime> Engine::find(const std::string& name) const
{
  const auto it = m_profiles.find(name);
  return it == m_profiles.end() ? nullptr : it->second;
}

void Engine::start(std::shared_ptr<Run> run, bool fresh)
{
  m_running[run->profile->name] = run;
  asio::co_spawn(m_executor, run_rotation(this, run, fresh),
                 [this, profile = run->profile->name, id = run->rotation.id](std::exception_ptr e) {
                   if (!e) {
                     return;
                   }
                   const std::string what = core::describe(e);
                   m_observer.log(Severity::error, profile, id,
                                  "rotation stopped, it resumes on the next start: " + what);
                   m_running.erase(profile);
                   poke_scheduler();
                   if (m_on_fatal) {
                     m_on_fatal(core::Error{core::Errc::internal, what});
                   }
                 });
}

void Engine::resume()
{
  auto unfinished = m_state.unfinished_rotations();
  if (!unfinished) {
    m_observer.log(Severity::error, "", 0,
                   "cannot read unfinished rotations: " + unfinished.error().describe());
    return;
  }
  for (auto& r : *unfinished) {
    if (m_running.count(r.profile) != 0 || m_planning.count(r.profile) != 0) {
      continue; // already running (resumed by an earlier call)
    }
    auto profile = find(r.profile);
    if (!profile) {
      m_observer.log(Severity::warning, r.profile, r.id,
                     "rotation " + std::to_string(r.id) + " of profile " + r.profile +
                         " is unfinished but the profile is no longer configured; it resumes "
                         "when the profile is configured again");
      continue;
    }
    auto run = std::make_shared<Run>(m_executor, profile, std::move(r));
    run->resumed = true;
    start(std::move(run), false);
  }
}

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
    co_return make_error(Errc::conflict, "profile " + name + " is already rotating (rotation " +
                                             std::to_string(it->second->rotation.id) + ")");
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
    co_return make_error(Errc::conflict, "profile " + name + " has an unfinished rotation " +
                                             std::to_string(unfinished->id) + " in phase " +
                                             phase_name(*unfinished) + why +
                                             "; it resumes at the next reload or start");
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
      finish_run(this, run);
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

Task<Result<core::Rotation>> Engine::wait(std::int64_t id)
{
  for (;;) {
    auto r = m_state.rotation(id);
    if (!r) {
      co_return r.error();
    }
    if (!*r) {
      co_return make_error(Errc::not_found, "no rotation " + std::to_string(id));
    }
    const bool running = std::any_of(m_running.begin(), m_running.end(),
                                     [&](const auto& kv) { return kv.second->rotation.id == id; });
    if (core::is_final((*r)->phase) || !running || m_stopping) {
      co_return std::move(**r);
    }
    auto timer =
        std::make_shared<asio::steady_timer>(m_executor, asio::steady_timer::time_point::max());
    m_waiters[id].push_back(timer);
    boost::system::error_code ec;
    co_await timer->async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
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

Task<void> Engine::run_scheduler()
{
  while (!m_stopping) {
    const auto t = now();
    std::optional<core::TimePoint> earliest;
    std::vector<std::string> due;
    for (const auto& [name, profile] : m_profiles) {
      if (!profile->enabled || m_running.count(name) != 0 || m_planning.count(name) != 0 ||
          m_unschedulable.count(name) != 0) {
        continue;
      }
      auto stored = m_state.profile(name);
      if (!stored) {
        m_observer.log(Severity::error, name, 0,
                       "cannot read the profile's schedule: " + stored.error().describe());
        continue;
      }
      core::ProfileState p = *stored ? **stored : core::ProfileState{};
      if (!p.next_due) {
        p.name = name;
        p.next_due = core::first_due(t, profile->schedule, jitter_fraction(), utc_offset(t));
        if (auto saved = m_state.save_profile(p); !saved) {
          m_observer.log(Severity::error, name, 0, saved.error().describe());
        }
      }
      if (*p.next_due <= t) {
        due.push_back(name);
      } else if (!earliest || *p.next_due < *earliest) {
        earliest = p.next_due;
      }
    }
    for (const auto& name : due) {
      auto started = co_await rotate(name, Trigger::schedule);
      if (!started && !m_stopping) {
        m_observer.log(Severity::warning, name, 0,
                       "scheduled rotation not started: " + started.error().describe());
        defer_after_failure(name);
      }
    }
    if (!due.empty()) {
      continue; // due times changed; look again
    }
    m_scheduler_timer.expires_at(earliest ? core::Clock::time_point(*earliest)
                                          : core::Clock::time_point::max());
    boost::system::error_code ec;
    co_await m_scheduler_timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

void Engine::defer_after_failure(const std::string& name)
{
  // Whatever stopped the rotation from starting, the profile must not be due again at once:
  // the scheduler would loop without ever yielding the io_context (no D-Bus, no signals, no
  // watchdog). A rotation that started and failed has already moved next_due (finish_run).
  const auto profile = find(name);
  auto stored = m_state.profile(name);
  if (!profile || !stored) {
    return;
  }
  core::ProfileState p = *stored ? **stored : core::ProfileState{};
  const auto t = now();
  if (p.next_due && *p.next_due > t) {
    return;
  }
  p.name = name;
  p.next_due = core::next_due_after_failure(t, std::max(1, p.consecutive_failures + 1),
                                            profile->schedule, utc_offset(t));
  if (!p.next_due || *p.next_due <= t) {
    p.next_due = t + std::chrono::minutes(1);
  }
  if (auto saved = m_state.save_profile(p); !saved) {
    // Without a stored due time the loop would come back at once: stop scheduling this
    // profile until the next reload.
    m_observer.log(Severity::error, name, 0,
                   "cannot store the next due time, not scheduling the profile until the next "
                   "reload: " +
                       saved.error().describe());
    m_unschedulable.insert(name);
  }
}

std::vector<std::int64_t> Engine::running_ids() const
{
  std::vector<std::int64_t> ids;
  for (const auto& [_, run] : m_running) {
    ids.push_back(run->rotation.id);
  }
  return ids;
}

void Engine::poke_scheduler()
{
  m_scheduler_timer.cancel();
}

void Engine::stop()
{
  m_stopping = true;
  m_rechecker.stop();
  m_scheduler_timer.cancel();
  for (auto& [_, run] : m_running) {
    run->timer.cancel();
  }
  for (auto& timer : m_slot_waiters) {
    timer->cancel();
  }
  for (auto& [_, timers] : m_waiters) {
    for (auto& timer : timers) {
      timer->cancel();
    }
  }
}

double Engine::jitter_fraction()
{
  return std::uniform_real_distribution<double>(0.0, 1.0)(m_rng);
}

core::Duration Engine::utc_offset(core::TimePoint at) const
{
  const std::time_t t = std::chrono::system_clock::to_time_t(at);
  std::tm local{};
  if (::localtime_r(&t, &local) == nullptr) {
    return core::Duration::zero();
  }
  return std::chrono::seconds(local.tm_gmtoff);
}

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

Result<std::optional<core::TimePoint>> Engine::next_due() const
{
  CREDROTD_TRY_ASSIGN(const auto stored, m_state.profiles());
  std::optional<core::TimePoint> next;
  for (const auto& p : stored) {
    const auto it = m_profiles.find(p.name);
    if (it != m_profiles.end() && it->second->enabled && p.next_due &&
        (!next || *p.next_due < *next)) {
      next = p.next_due;
    }
  }
  return next;
}

} // namespace credrotd::engine
