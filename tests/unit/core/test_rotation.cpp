// SPDX-License-Identifier: Apache-2.0
// Table-driven tests of the rotation protocol: every transition, failure and resume point.
#include "core/rotation.hpp"
#include "core/state.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <random>

using namespace credrotd::core;
using namespace std::chrono_literals;

namespace {

const TimePoint t0{std::chrono::milliseconds(1'700'000'000'000)};

RotationPolicy policy()
{
  RotationPolicy p;
  p.verify_timeout = 60s;
  p.grace = 10min;
  p.verify_backoff_max = 8s;
  p.step_retry = 30s;
  p.rollback_budget = 1h;
  p.retire_budget = 1h;
  return p;
}

Rotation fresh(std::optional<std::string> old_access = "OLDKEY")
{
  Rotation r;
  r.id = 1;
  r.profile = "backup";
  r.old_access = std::move(old_access);
  r.new_access = "NEWKEY";
  r.started_at = t0;
  r.phase_since = t0;
  return r;
}

Rotation in_phase(Phase phase, std::optional<std::string> old_access = "OLDKEY")
{
  Rotation r = fresh(std::move(old_access));
  r.phase = phase;
  if (phase == Phase::verify) {
    r.verify_deadline = t0 + 60s;
  }
  if (phase == Phase::grace) {
    r.grace_until = t0 + 10min;
  }
  return r;
}

template <class A> bool only_action(const Step& s)
{
  return s.actions.size() == 1 && std::holds_alternative<A>(s.actions.front());
}

Error err(Errc code)
{
  return Error{code, "boom"};
}

} // namespace

TEST_CASE("a rotation runs create, write, verify, reload, grace, retire and succeeds",
          "[core][rotation]")
{
  const auto p = policy();
  Step s = step(fresh(), Started{}, t0, p);
  REQUIRE(only_action<CreateKey>(s));

  s = step(s.state, Created{"NEWKEY"}, t0 + 1s, p);
  CHECK(s.state.phase == Phase::write);
  REQUIRE(only_action<WriteConsumers>(s));

  s = step(s.state, Written{}, t0 + 2s, p);
  CHECK(s.state.phase == Phase::verify);
  CHECK(s.state.verify_deadline == t0 + 62s);
  REQUIRE(only_action<VerifyKey>(s));

  s = step(s.state, Verified{VerifyResult::accepted, ""}, t0 + 3s, p);
  CHECK(s.state.phase == Phase::reload);
  REQUIRE(only_action<ReloadConsumers>(s));

  s = step(s.state, Reloaded{}, t0 + 4s, p);
  CHECK(s.state.phase == Phase::grace);
  CHECK(s.state.grace_until == t0 + 4s + 10min);
  REQUIRE(only_action<WaitUntil>(s));
  CHECK(std::get<WaitUntil>(s.actions[0]).at == t0 + 4s + 10min);

  // A timer that fires early (e.g. clock change) just waits again.
  s = step(s.state, TimerFired{}, t0 + 5min, p);
  CHECK(s.state.phase == Phase::grace);
  REQUIRE(only_action<WaitUntil>(s));

  s = step(s.state, TimerFired{}, t0 + 4s + 10min, p);
  CHECK(s.state.phase == Phase::retire);
  REQUIRE(only_action<RetireOldKeys>(s));

  s = step(s.state, Retired{"old key refused 0.1 s after delete"}, t0 + 11min, p);
  CHECK(s.state.phase == Phase::done);
  CHECK(s.state.outcome == Outcome::succeeded);
  CHECK(s.state.finished_at == t0 + 11min);
  CHECK(s.state.note == "old key refused 0.1 s after delete");
  REQUIRE(only_action<Finish>(s));
}

TEST_CASE("with no grace period the old key is retired right after reload", "[core][rotation]")
{
  auto p = policy();
  p.grace = 0s;
  Step s = step(in_phase(Phase::reload), Reloaded{}, t0, p);
  CHECK(s.state.phase == Phase::retire);
  REQUIRE(only_action<RetireOldKeys>(s));
}

TEST_CASE("an os_ec2 create records the access id Keystone chose", "[core][rotation]")
{
  Rotation r = fresh();
  r.method = CreateMethod::os_ec2;
  r.new_access.reset();
  r.keys_before = {"OLDKEY", "FOREIGN"};
  const Step s = step(r, Created{"CHOSEN"}, t0, policy());
  CHECK(s.state.new_access == "CHOSEN");
  CHECK(s.state.phase == Phase::write);
}

TEST_CASE("a create that surely failed ends the rotation with nothing to undo", "[core][rotation]")
{
  const Step s =
      step(in_phase(Phase::create), CreateFailed{err(Errc::forbidden), false}, t0, policy());
  CHECK(s.state.phase == Phase::failed);
  CHECK(s.state.outcome == Outcome::failed);
  CHECK(s.state.error_code == Errc::forbidden);
  REQUIRE(only_action<Finish>(s));
}

TEST_CASE("a create that may have reached Keystone deletes the new key", "[core][rotation]")
{
  const auto p = policy();
  Step s = step(in_phase(Phase::create), CreateFailed{err(Errc::timeout), true}, t0, p);
  CHECK(s.state.phase == Phase::rollback_delete);
  REQUIRE(only_action<DeleteNewKey>(s));
  s = step(s.state, Deleted{}, t0 + 1s, p);
  CHECK(s.state.phase == Phase::rolled_back);
  CHECK(s.state.outcome == Outcome::rolled_back);
  CHECK(s.state.error_code == Errc::timeout);
}

TEST_CASE("a failed write restores the old key, reloads and deletes the new key",
          "[core][rotation]")
{
  const auto p = policy();
  Step s = step(in_phase(Phase::write), WriteFailed{err(Errc::io)}, t0, p);
  CHECK(s.state.phase == Phase::rollback_write);
  CHECK(s.state.error_code == Errc::io);
  REQUIRE(only_action<RestoreConsumers>(s));
  s = step(s.state, Restored{}, t0 + 1s, p);
  CHECK(s.state.phase == Phase::rollback_reload);
  REQUIRE(only_action<ReloadConsumers>(s));
  s = step(s.state, Reloaded{}, t0 + 2s, p);
  CHECK(s.state.phase == Phase::rollback_delete);
  REQUIRE(only_action<DeleteNewKey>(s));
  s = step(s.state, Deleted{}, t0 + 3s, p);
  CHECK(s.state.phase == Phase::rolled_back);
  CHECK(s.state.outcome == Outcome::rolled_back);
  REQUIRE(only_action<Finish>(s));
}

TEST_CASE("without a previous key a failure keeps the new key and fails", "[core][rotation]")
{
  const Step s =
      step(in_phase(Phase::write, std::nullopt), WriteFailed{err(Errc::io)}, t0, policy());
  CHECK(s.state.phase == Phase::failed);
  CHECK(s.state.keep_new_key);
  CHECK(s.state.error.find("no previous key") != std::string::npos);
  REQUIRE(only_action<Finish>(s));
}

TEST_CASE("a rejected new key is retried with backoff until the verify deadline",
          "[core][rotation]")
{
  const auto p = policy(); // deadline t0+60s, backoff 1,2,4,8,8... s
  Step s = step(in_phase(Phase::verify), Verified{VerifyResult::rejected, "403"}, t0, p);
  CHECK(s.state.phase == Phase::verify);
  REQUIRE(only_action<WaitUntil>(s));
  CHECK(std::get<WaitUntil>(s.actions[0]).at == t0 + 1s);
  CHECK(s.state.error_code == Errc::auth_rejected);

  s = step(s.state, TimerFired{}, t0 + 1s, p);
  REQUIRE(only_action<VerifyKey>(s));
  s = step(s.state, Verified{VerifyResult::rejected, "403"}, t0 + 1s, p);
  CHECK(std::get<WaitUntil>(s.actions[0]).at == t0 + 3s);
  s = step(s.state, Verified{VerifyResult::rejected, "403"}, t0 + 3s, p);
  CHECK(std::get<WaitUntil>(s.actions[0]).at == t0 + 7s);
  s = step(s.state, Verified{VerifyResult::rejected, "403"}, t0 + 7s, p);
  CHECK(std::get<WaitUntil>(s.actions[0]).at == t0 + 15s);
  s = step(s.state, Verified{VerifyResult::rejected, "403"}, t0 + 15s, p);
  CHECK(std::get<WaitUntil>(s.actions[0]).at == t0 + 23s); // capped at 8 s

  // The last wait never overshoots the deadline.
  s = step(s.state, Verified{VerifyResult::rejected, "403"}, t0 + 57s, p);
  CHECK(std::get<WaitUntil>(s.actions[0]).at == t0 + 60s);
}

TEST_CASE("a key still rejected at the deadline is rolled back completely", "[core][rotation]")
{
  for (const auto result : {VerifyResult::rejected, VerifyResult::check_failed}) {
    const Step s = step(in_phase(Phase::verify), Verified{result, "403 SignatureDoesNotMatch"},
                        t0 + 60s, policy());
    CHECK(s.state.phase == Phase::rollback_write);
    CHECK_FALSE(s.state.keep_new_key);
    CHECK(s.state.error_code == Errc::auth_rejected);
    CHECK(s.state.error.find("not verified within 60 s") != std::string::npos);
    REQUIRE(only_action<RestoreConsumers>(s));
  }
}

TEST_CASE("an unreachable endpoint at the deadline restores the old key but keeps the new one",
          "[core][rotation]")
{
  const auto p = policy();
  for (const auto& [result, code] : {std::pair{VerifyResult::unavailable, Errc::transient},
                                     std::pair{VerifyResult::tls, Errc::tls},
                                     std::pair{VerifyResult::clock_skew, Errc::clock_skew}}) {
    Step s = step(in_phase(Phase::verify), Verified{result, "x"}, t0 + 61s, p);
    CHECK(s.state.phase == Phase::rollback_write);
    CHECK(s.state.keep_new_key);
    CHECK(s.state.error_code == code);
    s = step(s.state, Restored{}, t0 + 62s, p);
    s = step(s.state, Reloaded{}, t0 + 63s, p);
    CHECK(s.state.phase == Phase::failed);
    CHECK(s.state.outcome == Outcome::failed);
    REQUIRE(only_action<Finish>(s));
  }
}

TEST_CASE("a failed reload rolls back while the old key is still valid", "[core][rotation]")
{
  const Step s = step(in_phase(Phase::reload), ReloadFailed{err(Errc::io)}, t0, policy());
  CHECK(s.state.phase == Phase::rollback_write);
  CHECK_FALSE(s.state.keep_new_key);
}

TEST_CASE("retire retries transient failures, then leaves the old key to the next rotation",
          "[core][rotation]")
{
  const auto p = policy();
  Step s = step(in_phase(Phase::retire), RetireFailed{err(Errc::transient)}, t0 + 1min, p);
  CHECK(s.state.phase == Phase::retire);
  REQUIRE(only_action<WaitUntil>(s));
  CHECK(std::get<WaitUntil>(s.actions[0]).at == t0 + 1min + 30s);
  s = step(s.state, TimerFired{}, t0 + 1min + 30s, p);
  REQUIRE(only_action<RetireOldKeys>(s));

  s = step(s.state, RetireFailed{err(Errc::transient)}, t0 + 1h, p);
  CHECK(s.state.phase == Phase::done);
  CHECK(s.state.outcome == Outcome::succeeded);
  CHECK(s.state.note.find("next rotation retires it") != std::string::npos);
}

TEST_CASE("retire refused for safety finishes at once and keeps the old key", "[core][rotation]")
{
  const Step s = step(in_phase(Phase::retire), RetireFailed{err(Errc::unsafe)}, t0, policy());
  CHECK(s.state.phase == Phase::done);
  CHECK(s.state.note.find("unsafe") != std::string::npos);
}

TEST_CASE("a restore that cannot complete keeps both keys", "[core][rotation]")
{
  const auto p = policy();
  Step s = step(in_phase(Phase::rollback_write), RestoreFailed{err(Errc::transient)}, t0, p);
  CHECK(s.state.phase == Phase::rollback_write);
  REQUIRE(only_action<WaitUntil>(s));
  s = step(s.state, TimerFired{}, t0 + 30s, p);
  REQUIRE(only_action<RestoreConsumers>(s));
  s = step(s.state, RestoreFailed{err(Errc::not_found)}, t0 + 31s, p);
  CHECK(s.state.phase == Phase::failed);
  CHECK(s.state.keep_new_key);
  CHECK(s.state.note.find("both keys kept") != std::string::npos);
}

TEST_CASE("a new key that cannot be deleted stays managed", "[core][rotation]")
{
  const auto p = policy();
  Step s = step(in_phase(Phase::rollback_delete), DeleteFailed{err(Errc::timeout)}, t0, p);
  CHECK(s.state.phase == Phase::rollback_delete);
  s = step(s.state, DeleteFailed{err(Errc::timeout)}, t0 + 2h, p);
  CHECK(s.state.phase == Phase::failed);
  CHECK(s.state.keep_new_key);
}

TEST_CASE("a failed reload during rollback is noted and the rollback goes on", "[core][rotation]")
{
  const Step s = step(in_phase(Phase::rollback_reload), ReloadFailed{err(Errc::io)}, t0, policy());
  CHECK(s.state.phase == Phase::rollback_delete);
  CHECK(s.state.note.find("reload after restoring failed") != std::string::npos);
}

TEST_CASE("an event that does not belong to the phase changes nothing and is reported",
          "[core][rotation]")
{
  const Rotation before = in_phase(Phase::write);
  const Step s = step(before, Deleted{}, t0, policy());
  CHECK(s.actions.empty());
  CHECK(s.state.phase == Phase::write);
  CHECK(s.state.error_code == Errc::internal);
  CHECK(s.state.error == "event deleted does not belong to phase write");
}

TEST_CASE("every phase resumes with the action of that phase", "[core][rotation]")
{
  struct Row {
    Phase phase;
    std::size_t action_index;
  };
  const Row rows[] = {
      {Phase::create, 0},          {Phase::write, 1},           {Phase::verify, 2},
      {Phase::reload, 3},          {Phase::retire, 5},          {Phase::rollback_write, 6},
      {Phase::rollback_reload, 3}, {Phase::rollback_delete, 7}, {Phase::done, 8},
      {Phase::rolled_back, 8},     {Phase::failed, 8},
  };
  for (const auto& row : rows) {
    INFO(to_string(row.phase));
    CHECK(action_for(in_phase(row.phase), t0).index() == row.action_index);
  }
  // Grace resumes by waiting for its persisted deadline, then retires.
  const Rotation g = in_phase(Phase::grace);
  CHECK(std::get<WaitUntil>(action_for(g, t0 + 1min)).at == t0 + 10min);
  CHECK(std::holds_alternative<RetireOldKeys>(action_for(g, t0 + 10min)));
  // A pending retry is honoured after a restart.
  Rotation v = in_phase(Phase::verify);
  v.retry_at = t0 + 5s;
  CHECK(std::get<WaitUntil>(action_for(v, t0)).at == t0 + 5s);
  CHECK(std::holds_alternative<VerifyKey>(action_for(v, t0 + 5s)));
}

TEST_CASE("names of phases and outcomes round-trip", "[core][rotation]")
{
  for (int i = 0; i <= static_cast<int>(Phase::failed); ++i) {
    const auto phase = static_cast<Phase>(i);
    CHECK(phase_from_string(to_string(phase)) == phase);
  }
  for (const auto o :
       {Outcome::running, Outcome::succeeded, Outcome::rolled_back, Outcome::failed}) {
    CHECK(outcome_from_string(to_string(o)) == o);
  }
  CHECK(create_method_from_string("os_ec2") == CreateMethod::os_ec2);
  CHECK_FALSE(phase_from_string("nope"));
}

TEST_CASE("verify backoff doubles from one second up to its cap", "[core][rotation]")
{
  CHECK(verify_backoff(1, 30s) == 1s);
  CHECK(verify_backoff(2, 30s) == 2s);
  CHECK(verify_backoff(5, 30s) == 16s);
  CHECK(verify_backoff(6, 30s) == 30s);
  CHECK(verify_backoff(1000, 30s) == 30s);
}

// The safety invariants of docs/DESIGN.md, checked over many random walks through the protocol:
// a key is deleted only when no consumer can hold it, the old key only after the new one was
// verified, and every walk ends in a final phase.
TEST_CASE("random walks never delete a key a consumer may hold", "[core][rotation][property]")
{
  std::mt19937 rng(20261128);
  const auto p = policy();
  for (int walk = 0; walk < 5000; ++walk) {
    Rotation r = fresh(rng() % 8 == 0 ? std::nullopt : std::optional<std::string>("OLDKEY"));
    if (rng() % 4 == 0) {
      r.method = CreateMethod::os_ec2; // Keystone chooses the id
      r.new_access.reset();
      r.keys_before = {"OLDKEY"};
    }
    TimePoint now = t0;
    std::vector<std::string> appeared; // keys another host made: never ours to take
    bool consumers_may_hold_new = false;
    bool verified = false;
    Step s = step(r, Started{}, now, p);
    for (int n = 0; n < 200 && !is_final(s.state.phase); ++n) {
      REQUIRE(s.actions.size() == 1);
      const Action action = s.actions.front();
      now += std::chrono::seconds(rng() % 400);
      Event event = TimerFired{};
      const auto pick = [&](int n_choices) { return static_cast<int>(rng() % n_choices); };
      const auto any_error = [&] {
        static const Errc codes[] = {Errc::transient, Errc::timeout,   Errc::io,
                                     Errc::not_found, Errc::forbidden, Errc::unsafe};
        return Error{codes[rng() % 6], "x"};
      };
      if (std::holds_alternative<CreateKey>(action)) {
        const int c = pick(5);
        if (c == 0 && s.state.method == CreateMethod::credentials) {
          event = CreateRefused{err(Errc::forbidden), {"OLDKEY"}};
        } else if (c <= 1) {
          event = CreateFailed{any_error(), pick(2) == 0};
        } else {
          event = Created{s.state.method == CreateMethod::os_ec2 ? "OSKEY" : "NEWKEY"};
        }
      } else if (std::holds_alternative<FindNewKeys>(action)) {
        REQUIRE(s.state.method == CreateMethod::os_ec2);
        REQUIRE_FALSE(s.state.new_access);
        appeared = pick(2) ? std::vector<std::string>{} : std::vector<std::string>{"HOSTB"};
        event = pick(5) ? Event{KeysAppeared{appeared}} : Event{DeleteFailed{any_error()}};
        if (s.state.phase == Phase::create && std::holds_alternative<DeleteFailed>(event)) {
          event = CreateFailed{any_error(), true};
        }
      } else if (std::holds_alternative<WriteConsumers>(action)) {
        consumers_may_hold_new = true;
        event = pick(4) ? Event{Written{}} : Event{WriteFailed{any_error()}};
      } else if (std::holds_alternative<VerifyKey>(action)) {
        const VerifyResult results[] = {VerifyResult::accepted,     VerifyResult::rejected,
                                        VerifyResult::check_failed, VerifyResult::unavailable,
                                        VerifyResult::tls,          VerifyResult::clock_skew};
        const auto result = results[rng() % 6];
        verified = verified || result == VerifyResult::accepted;
        event = Verified{result, "x"};
      } else if (std::holds_alternative<ReloadConsumers>(action)) {
        event = pick(4) ? Event{Reloaded{}} : Event{ReloadFailed{any_error()}};
      } else if (std::holds_alternative<RetireOldKeys>(action)) {
        REQUIRE(verified);
        event = pick(3) ? Event{Retired{}} : Event{RetireFailed{any_error()}};
      } else if (std::holds_alternative<RestoreConsumers>(action)) {
        REQUIRE(s.state.old_access);
        const bool ok = pick(3) != 0;
        consumers_may_hold_new = !ok;
        event = ok ? Event{Restored{}} : Event{RestoreFailed{any_error()}};
      } else if (std::holds_alternative<DeleteNewKey>(action)) {
        REQUIRE_FALSE(consumers_may_hold_new);
        REQUIRE(s.state.new_access); // a key whose id the daemon knows is the daemon's
        REQUIRE(std::find(appeared.begin(), appeared.end(), *s.state.new_access) == appeared.end());
        event = pick(3) ? Event{Deleted{}} : Event{DeleteFailed{any_error()}};
      } else if (const auto* wait = std::get_if<WaitUntil>(&action)) {
        REQUIRE(wait->at >= now - std::chrono::seconds(400));
        now = std::max(now, wait->at);
      } else {
        FAIL("unexpected action");
      }
      s = step(s.state, event, now, p);
      REQUIRE(s.state.error_code != Errc::internal);
      for (const auto& change : s.changes) {
        // Another host's key is never adopted or retired.
        REQUIRE(std::find(appeared.begin(), appeared.end(), change.access) == appeared.end());
      }
    }
    if (!s.state.candidates.empty()) {
      CHECK(s.state.candidates == appeared);
      CHECK(s.state.outcome == Outcome::failed);
      CHECK_FALSE(s.state.new_access);
    }
    REQUIRE(is_final(s.state.phase));
    REQUIRE(only_action<Finish>(s));
    if (s.state.outcome == Outcome::succeeded) {
      CHECK(verified);
    }
    if (s.state.outcome == Outcome::rolled_back) {
      CHECK_FALSE(s.state.keep_new_key);
    }
  }
}

TEST_CASE("managed keys change role with the rotation's phases", "[core][rotation][keys]")
{
  const auto changes = [](const Rotation& a, const Rotation& b) {
    std::vector<std::pair<std::string, KeyState>> out;
    for (const auto& c : key_changes(a, b)) {
      out.emplace_back(c.access, c.state);
    }
    return out;
  };
  using V = std::vector<std::pair<std::string, KeyState>>;

  Rotation none = fresh();
  none.new_access.reset();
  CHECK(changes(none, fresh()) == V{{"NEWKEY", KeyState::pending}});

  const auto p = policy();
  const Rotation verify = in_phase(Phase::verify);
  const Step accepted = step(verify, Verified{VerifyResult::accepted, ""}, t0, p);
  CHECK(changes(verify, accepted.state) ==
        V{{"NEWKEY", KeyState::current}, {"OLDKEY", KeyState::previous}});

  const Rotation deleting = in_phase(Phase::rollback_delete);
  CHECK(changes(deleting, step(deleting, Deleted{}, t0, p).state) ==
        V{{"NEWKEY", KeyState::retired}});

  const Rotation restoring = in_phase(Phase::rollback_write);
  CHECK(changes(restoring, step(restoring, RestoreFailed{err(Errc::io)}, t0, p).state) ==
        V{{"NEWKEY", KeyState::previous}});

  const Rotation creating = in_phase(Phase::create);
  CHECK(changes(creating, step(creating, CreateFailed{err(Errc::forbidden), false}, t0, p).state) ==
        V{{"NEWKEY", KeyState::retired}});

  // Nothing changes while waiting or writing.
  const Rotation writing = in_phase(Phase::write);
  CHECK(changes(writing, step(writing, Written{}, t0, p).state).empty());
  CHECK(key_state_from_string(to_string(KeyState::previous)) == KeyState::previous);
}

namespace {

// One row of the transition table: from `phase` (of `state`), `event` leads to `to` with the
// single action `action` (nullopt: the event does not belong to the phase, which changes
// nothing but the error and asks for no action).
struct Row {
  const char* name;
  Rotation state;
  Event event;
  Phase to;
  std::optional<Action> action;
};

const Error transient_error{Errc::transient, "503"};

std::vector<Event> one_of_each_event()
{
  return {Started{},
          Created{"NEWKEY"},
          CreateFailed{transient_error, true},
          Written{},
          WriteFailed{err(Errc::io)},
          Verified{VerifyResult::accepted, ""},
          Reloaded{},
          ReloadFailed{err(Errc::io)},
          TimerFired{},
          Retired{"n", {}},
          RetireFailed{transient_error, {}},
          Restored{},
          RestoreFailed{transient_error},
          Deleted{},
          DeleteFailed{transient_error},
          CreateRefused{err(Errc::forbidden), {"K1"}},
          KeysAppeared{{}}};
}

Rotation os_ec2_unknown(Phase phase)
{
  Rotation r = in_phase(phase);
  r.method = CreateMethod::os_ec2;
  r.new_access.reset();
  r.keys_before = {"OLDKEY"};
  return r;
}

template <class F> Rotation with(Rotation r, F&& change)
{
  change(r);
  return r;
}

// The phase × event table of the protocol (the base state: credentials create, old and new
// key known, 1 s into the phase).
std::vector<Row> transition_table()
{
  const auto at = [](Phase p) { return in_phase(p); };
  using P = Phase;
  return {
      {"create starts", at(P::create), Started{}, P::create, CreateKey{}},
      {"create retried", at(P::create), TimerFired{}, P::create, CreateKey{}},
      {"created", at(P::create), Created{"NEWKEY"}, P::write, WriteConsumers{}},
      {"create may have landed", at(P::create), CreateFailed{transient_error, true},
       P::rollback_delete, DeleteNewKey{}},
      {"create refused by policy falls back to OS-EC2", at(P::create),
       CreateRefused{err(Errc::forbidden), {"K1"}}, P::create, CreateKey{}},
      {"write retried", at(P::write), TimerFired{}, P::write, WriteConsumers{}},
      {"written", at(P::write), Written{}, P::verify, VerifyKey{}},
      {"write failed", at(P::write), WriteFailed{err(Errc::io)}, P::rollback_write,
       RestoreConsumers{}},
      {"verify retried", at(P::verify), TimerFired{}, P::verify, VerifyKey{}},
      {"verified", at(P::verify), Verified{VerifyResult::accepted, ""}, P::reload,
       ReloadConsumers{}},
      {"reload retried", at(P::reload), TimerFired{}, P::reload, ReloadConsumers{}},
      {"reloaded", at(P::reload), Reloaded{}, P::grace, WaitUntil{t0 + 1s + 10min}},
      {"reload failed", at(P::reload), ReloadFailed{err(Errc::io)}, P::rollback_write,
       RestoreConsumers{}},
      {"grace not over", at(P::grace), TimerFired{}, P::grace, WaitUntil{t0 + 10min}},
      {"retire retried", at(P::retire), TimerFired{}, P::retire, RetireOldKeys{}},
      {"retired", at(P::retire), Retired{"n", {}}, P::done, Finish{}},
      {"retire failed, retried", at(P::retire), RetireFailed{transient_error, {}}, P::retire,
       WaitUntil{t0 + 1s + 30s}},
      {"restore retried", at(P::rollback_write), TimerFired{}, P::rollback_write,
       RestoreConsumers{}},
      {"restored", at(P::rollback_write), Restored{}, P::rollback_reload, ReloadConsumers{}},
      {"restore failed, retried", at(P::rollback_write), RestoreFailed{transient_error},
       P::rollback_write, WaitUntil{t0 + 1s + 30s}},
      {"rollback reload retried", at(P::rollback_reload), TimerFired{}, P::rollback_reload,
       ReloadConsumers{}},
      {"rollback reloaded", at(P::rollback_reload), Reloaded{}, P::rollback_delete, DeleteNewKey{}},
      {"rollback reload failed", at(P::rollback_reload), ReloadFailed{err(Errc::io)},
       P::rollback_delete, DeleteNewKey{}},
      {"delete retried", at(P::rollback_delete), TimerFired{}, P::rollback_delete, DeleteNewKey{}},
      {"deleted", at(P::rollback_delete), Deleted{}, P::rolled_back, Finish{}},
      {"delete failed, retried", at(P::rollback_delete), DeleteFailed{transient_error},
       P::rollback_delete, WaitUntil{t0 + 1s + 30s}},
  };
}

// Rows whose outcome depends on more than the phase: the variants of each decision.
std::vector<Row> variant_rows()
{
  const auto at = [](Phase p) { return in_phase(p); };
  using P = Phase;
  return {
      {"a create that surely failed", at(P::create), CreateFailed{err(Errc::forbidden), false},
       P::failed, Finish{}},
      {"an OS-EC2 create resumes by looking", os_ec2_unknown(P::create), TimerFired{}, P::create,
       FindNewKeys{}},
      {"nothing appeared: create", os_ec2_unknown(P::create), KeysAppeared{{}}, P::create,
       CreateKey{}},
      {"keys appeared: candidates, no adoption", os_ec2_unknown(P::create), KeysAppeared{{"X"}},
       P::failed, Finish{}},
      {"OS-EC2 create of unknown outcome settles first", os_ec2_unknown(P::create),
       CreateFailed{transient_error, true}, P::rollback_delete, WaitUntil{t0 + 1s + 5s}},
      {"OS-EC2 created", os_ec2_unknown(P::create), Created{"OSKEY"}, P::write, WriteConsumers{}},
      {"an OS-EC2 create refused again", os_ec2_unknown(P::create),
       CreateRefused{err(Errc::forbidden), {}}, P::failed, Finish{}},
      {"look for what the create made", os_ec2_unknown(P::rollback_delete), TimerFired{},
       P::rollback_delete, FindNewKeys{}},
      {"it made nothing", os_ec2_unknown(P::rollback_delete), KeysAppeared{{}}, P::rolled_back,
       Finish{}},
      {"it may have made these", os_ec2_unknown(P::rollback_delete), KeysAppeared{{"X", "Y"}},
       P::failed, Finish{}},
      {"rejected before the deadline", at(P::verify), Verified{VerifyResult::rejected, ""},
       P::verify, WaitUntil{t0 + 1s + 1s}},
      {"rejected at the deadline", at(P::verify), Verified{VerifyResult::rejected, ""},
       P::rollback_write, RestoreConsumers{}},
      {"no grace period", at(P::reload), Reloaded{}, P::retire, RetireOldKeys{}},
      {"grace over", at(P::grace), TimerFired{}, P::retire, RetireOldKeys{}},
      {"retire refused for safety", at(P::retire), RetireFailed{err(Errc::unsafe), {}}, P::done,
       Finish{}},
      {"restore impossible", at(P::rollback_write), RestoreFailed{err(Errc::io)}, P::failed,
       Finish{}},
      {"new key kept", with(at(P::rollback_reload), [](Rotation& r) { r.keep_new_key = true; }),
       Reloaded{}, P::failed, Finish{}},
      {"delete impossible", at(P::rollback_delete), DeleteFailed{err(Errc::io)}, P::failed,
       Finish{}},
      {"no old key to return to", in_phase(P::write, std::nullopt), WriteFailed{err(Errc::io)},
       P::failed, Finish{}},
  };
}

} // namespace

TEST_CASE("every phase and event lead to the transition of the table", "[core][rotation][table]")
{
  const auto p = policy();
  const auto check_row = [&](const Row& row, TimePoint now, const RotationPolicy& pol) {
    INFO(row.name << ": " << to_string(row.state.phase));
    const Step s = step(row.state, row.event, now, pol);
    CHECK(s.state.phase == row.to);
    if (row.action) {
      REQUIRE(s.actions.size() == 1);
      CHECK(s.actions.front().index() == row.action->index());
      if (const auto* wait = std::get_if<WaitUntil>(&*row.action)) {
        CHECK(std::get<WaitUntil>(s.actions.front()).at == wait->at);
      }
      CHECK(s.state.error_code != Errc::internal);
    } else {
      CHECK(s.actions.empty());
      CHECK(s.state.error_code == Errc::internal);
    }
  };

  // The base table, and every pair it does not name is an event out of place.
  const auto table = transition_table();
  const std::array all_phases{
      Phase::create,          Phase::write,           Phase::verify,      Phase::reload,
      Phase::grace,           Phase::retire,          Phase::done,        Phase::rollback_write,
      Phase::rollback_reload, Phase::rollback_delete, Phase::rolled_back, Phase::failed};
  int covered = 0;
  for (const auto phase : all_phases) {
    for (const auto& event : one_of_each_event()) {
      const auto row = std::find_if(table.begin(), table.end(), [&](const Row& r) {
        return r.state.phase == phase && r.event.index() == event.index();
      });
      if (row != table.end()) {
        check_row(*row, t0 + 1s, p);
        ++covered;
      } else {
        check_row(Row{"out of place", in_phase(phase), event, phase, std::nullopt}, t0 + 1s, p);
      }
    }
  }
  CHECK(covered == static_cast<int>(table.size())); // no row names an impossible pair

  // The variants, each with the time and policy its decision depends on.
  auto no_grace = p;
  no_grace.grace = 0s;
  auto no_fallback = p;
  no_fallback.fallback = CreateFallback::none;
  for (const auto& row : variant_rows()) {
    const std::string name = row.name;
    TimePoint now = t0 + 1s;
    if (name == "rejected at the deadline") {
      now = t0 + 60s;
    } else if (name == "grace over") {
      now = t0 + 10min;
    }
    check_row(row, now, name == "no grace period" ? no_grace : p);
  }
  const Step refused =
      step(in_phase(Phase::create), CreateRefused{err(Errc::forbidden), {}}, t0, no_fallback);
  CHECK(refused.state.phase == Phase::failed);
}

TEST_CASE("a refused /v3/credentials switches to OS-EC2 and retires the planned id",
          "[core][rotation]")
{
  const Step s = step(in_phase(Phase::create), CreateRefused{err(Errc::forbidden), {"K1", "K2"}},
                      t0, policy());
  CHECK(s.state.method == CreateMethod::os_ec2);
  CHECK_FALSE(s.state.new_access);
  CHECK(s.state.keys_before == std::vector<std::string>{"K1", "K2"});
  REQUIRE(s.changes.size() == 1);
  CHECK(s.changes[0].access == "NEWKEY");
  CHECK(s.changes[0].state == KeyState::retired);
}

TEST_CASE("keys that appeared during an OS-EC2 create of unknown outcome are only recorded",
          "[core][rotation]")
{
  const Step s =
      step(os_ec2_unknown(Phase::rollback_delete), KeysAppeared{{"X", "Y"}}, t0, policy());
  CHECK(s.state.outcome == Outcome::failed);
  CHECK(s.state.candidates == std::vector<std::string>{"X", "Y"});
  CHECK_FALSE(s.state.new_access);
  CHECK(s.changes.empty()); // neither adopted nor retired
  CHECK(s.state.note.find("X, Y") != std::string::npos);
}

TEST_CASE("a create of unknown outcome leaves its key managed after the rollback",
          "[core][rotation]")
{
  const auto p = policy();
  Step s = step(in_phase(Phase::create), CreateFailed{err(Errc::protocol), true}, t0, p);
  CHECK(s.state.create_uncertain);
  s = step(s.state, Deleted{}, t0 + 1s, p);
  CHECK(s.state.phase == Phase::rolled_back);
  REQUIRE(s.changes.size() == 1);
  CHECK(s.changes[0].state == KeyState::previous);
  CHECK(create_may_exist(Errc::protocol));
  CHECK(create_may_exist(Errc::timeout));
  CHECK_FALSE(create_may_exist(Errc::forbidden));
}

TEST_CASE("retire deletes the managed keys no consumer file names, and only those",
          "[core][rotation][keys]")
{
  const auto key = [](std::string access, KeyState state) {
    ManagedKey k;
    k.profile = "backup";
    k.access = std::move(access);
    k.state = state;
    return k;
  };
  const std::vector<ManagedKey> managed{
      key("OLD", KeyState::previous), key("HELD", KeyState::previous),
      key("GONE", KeyState::retired), key("NEW", KeyState::current),
      key("ABANDONED", KeyState::previous)};
  const std::vector<std::optional<std::string>> holders{"NEW", std::nullopt, "HELD"};
  const auto plan = keys_to_retire(managed, holders, std::string("NEW"));
  CHECK(plan.remove == std::vector<std::string>{"OLD", "ABANDONED"});
  CHECK(plan.kept == std::vector<std::string>{"HELD"});
  CHECK(named_by_any(holders, "HELD"));
  CHECK_FALSE(named_by_any(holders, "OLD"));
}

TEST_CASE("a retire records the keys it deleted with its transition", "[core][rotation][keys]")
{
  const Step s = step(in_phase(Phase::retire), Retired{"n", {"OLDKEY", "OLDER"}}, t0, policy());
  CHECK(s.state.phase == Phase::done);
  std::vector<std::pair<std::string, KeyState>> changes;
  for (const auto& c : s.changes) {
    changes.emplace_back(c.access, c.state);
  }
  CHECK(changes == std::vector<std::pair<std::string, KeyState>>{{"OLDKEY", KeyState::retired},
                                                                 {"OLDER", KeyState::retired}});
}

TEST_CASE("a deleted key S3 refuses is confirmed, one it still accepts is re-checked later",
          "[core][revocation]")
{
  const auto refused = revocation_at_delete("OLD", VerifyResult::rejected, t0, 310s);
  CHECK(refused.state == Revocation::refused);
  CHECK_FALSE(refused.recheck_at);

  const auto cached = revocation_at_delete("OLD", VerifyResult::accepted, t0, 310s);
  CHECK(cached.state == Revocation::pending);
  CHECK(cached.recheck_at == t0 + 310s);

  // No re-check configured: a key still accepted is a finding at once.
  const auto finding = revocation_at_delete("OLD", VerifyResult::accepted, t0, 0s);
  CHECK(finding.state == Revocation::accepted);
  CHECK_FALSE(finding.recheck_at);

  // S3 could not say: nothing learnt about the key.
  for (const auto r : {VerifyResult::unavailable, VerifyResult::tls, VerifyResult::clock_skew,
                       VerifyResult::check_failed}) {
    CHECK(revocation_at_delete("OLD", r, t0, 310s).state == Revocation::unchecked);
  }

  CHECK(revocation_at_recheck(VerifyResult::rejected) == Revocation::refused);
  CHECK(revocation_at_recheck(VerifyResult::accepted) == Revocation::accepted);
  CHECK(revocation_at_recheck(VerifyResult::unavailable) == Revocation::unchecked);
  CHECK_FALSE(unconfirmed(Revocation::refused));
  for (const auto r : {Revocation::pending, Revocation::accepted, Revocation::unchecked}) {
    CHECK(unconfirmed(r));
    CHECK(revocation_from_string(to_string(r)) == r);
  }
  CHECK_FALSE(revocation_from_string("maybe"));
}

TEST_CASE("a retire stores what S3 said of each key it deleted with the key's change",
          "[core][rotation][revocation]")
{
  const auto pending = revocation_at_delete("OLDKEY", VerifyResult::accepted, t0, 310s);
  const Step s =
      step(in_phase(Phase::retire), Retired{"n", {"OLDKEY", "OLDER"}, {pending}}, t0, policy());
  REQUIRE(s.changes.size() == 2);
  REQUIRE(s.changes[0].revocation);
  CHECK(s.changes[0].revocation->state == Revocation::pending);
  CHECK(s.changes[0].revocation->recheck_at == t0 + 310s);
  CHECK_FALSE(s.changes[1].revocation); // confirm_retire did not check it

  const Step failed =
      step(in_phase(Phase::retire),
           RetireFailed{Error{Errc::transient, "503"}, {"OLDKEY"}, {pending}}, t0, policy());
  REQUIRE(failed.changes.size() == 1);
  CHECK(failed.changes[0].revocation->state == Revocation::pending);
}
