// SPDX-License-Identifier: Apache-2.0
// The actions of a rotation: create the new key (or find what an uncertain create made), write
// and restore the consumer files, verify, reload, retire the old keys, delete the new key.
#include "core/text.hpp"
#include "engine/crash_point.hpp"
#include "engine/run.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace credrotd::engine {

using core::Errc;

namespace {

// "310 s", or "200 ms" below a second.
std::string seconds_text(core::Duration d)
{
  return d < std::chrono::seconds(1) ? fmt::format("{} ms", d.count())
                                     : fmt::format("{} s", d.count() / 1000);
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

namespace {

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

} // namespace

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

namespace {

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

} // namespace

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
      kept.push_back(access + " (still in " +
                     core::join(named_by(*run, current, *holders, access), ", ") + ")");
    }
    co_return core::RetireFailed{
        core::Error{Errc::unsafe, "kept " + core::join(kept, ", ") + ": a consumer still names it"},
        deleted_keys, revocations};
  }
  co_return core::Retired{notes.empty() ? std::string("no old key to delete")
                                        : core::join(notes, ", "),
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
    co_return core::DeleteFailed{core::Error{
        Errc::unsafe, "the new key is still in " +
                          core::join(named_by(*run, current, *holders, *r.new_access), ", ") +
                          "; not deleting it"}};
  }
  auto deleted = co_await ks.delete_key(*r.new_access);
  if (!deleted && deleted.error().code != Errc::not_found) {
    co_return core::DeleteFailed{deleted.error()};
  }
  co_return core::Deleted{};
}

} // namespace credrotd::engine
