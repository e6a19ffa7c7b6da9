// SPDX-License-Identifier: Apache-2.0
// Tests of the engine's orchestration: real SQLite state, in-memory Keystone/S3/consumers
// standing in for the adapters (the real ones are exercised by the integration tests).
#include "engine/engine.hpp"
#include "store/store.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <catch2/catch.hpp>
#include <climits>

#include <algorithm>
#include <functional>
#include <map>
#include <random>

using namespace credrotd;
using namespace std::chrono_literals;
namespace asio = boost::asio;
using core::Errc;

namespace {

struct TempDir {
  std::filesystem::path path;
  TempDir()
  {
    std::random_device rd;
    path = std::filesystem::temp_directory_path() / ("credrotd-engine-" + std::to_string(rd()));
    std::filesystem::create_directories(path);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

// Keystone as a map of access id -> (secret, project).
struct FakeKeystone final : engine::KeystonePort {
  struct Key {
    std::string secret;
    std::string project;
    std::string user = "u1";
  };
  std::map<std::string, Key> keys;
  std::string project = "p1";
  bool forbid_credentials = false;
  std::optional<core::Error> fail_create;
  bool create_lands = false; // fail_create is returned after the key was made (a 201 we lost)
  std::optional<core::Error> fail_os_ec2; // OS-EC2 create answers this (after making the key
                                          // when create_lands)
  std::function<void(FakeKeystone&)> during_os_ec2; // what others do while the POST is out
  std::optional<core::Error> fail_identity;
  int deletes = 0;
  int delete_calls = 0;
  int counter = 0;

  engine::Task<core::Result<engine::Identity>> identity() override
  {
    if (fail_identity) {
      co_return *fail_identity;
    }
    co_return engine::Identity{"u1", project};
  }
  engine::Task<core::Result<std::vector<engine::KeyRecord>>> list_keys() override
  {
    std::vector<engine::KeyRecord> out;
    for (const auto& [access, k] : keys) {
      if (k.user == "u1") {
        out.push_back({access, k.user, k.project});
      }
    }
    co_return out;
  }
  engine::Task<core::Result<core::Secret>> secret_of(std::string access) override
  {
    const auto it = keys.find(access);
    if (it == keys.end() || it->second.user != "u1") {
      co_return core::make_error(Errc::not_found, "no key " + access);
    }
    co_return core::Secret(it->second.secret);
  }
  engine::Task<core::Status> create_key(std::string access, core::Secret secret) override
  {
    if (fail_create) {
      if (create_lands) {
        keys[access] = {std::string(secret.reveal()), project};
      }
      co_return *fail_create;
    }
    if (forbid_credentials) {
      co_return core::make_error(Errc::forbidden, "policy");
    }
    if (keys.count(access) != 0) {
      co_return core::make_error(Errc::conflict, "exists");
    }
    keys[access] = {std::string(secret.reveal()), project};
    co_return core::Status{};
  }
  engine::Task<core::Result<engine::NewKey>> create_key_os_ec2() override
  {
    if (during_os_ec2) {
      during_os_ec2(*this);
    }
    auto key = generate_key();
    if (fail_os_ec2) {
      if (create_lands) {
        keys[key.access] = {std::string(key.secret.reveal()), project};
      }
      co_return *fail_os_ec2;
    }
    keys[key.access] = {std::string(key.secret.reveal()), project};
    co_return std::move(key);
  }
  engine::Task<core::Status> delete_key(std::string access) override
  {
    ++delete_calls;
    if (fail_identity) {
      co_return *fail_identity;
    }
    if (keys.erase(access) == 0) {
      co_return core::make_error(Errc::not_found, "gone");
    }
    ++deletes;
    co_return core::Status{};
  }
  engine::NewKey generate_key() override
  {
    ++counter;
    return {"AK" + std::to_string(counter) + "x" + std::to_string(keys.size()),
            core::Secret("SECRET-" + std::to_string(counter))};
  }
};

struct FakeS3 final : engine::S3Port {
  FakeKeystone& keystone;
  asio::any_io_executor executor;
  std::optional<core::VerifyResult> force; // answer this for new keys
  // Deleted keys still accepted this many more times, as Ceph RGW's secret cache does.
  std::map<std::string, int> cached_uses;
  int active = 0;
  int max_active = 0;
  explicit FakeS3(FakeKeystone& k, asio::any_io_executor ex) : keystone(k), executor(ex) {}

  engine::Task<engine::VerifyReport> verify(std::string access, core::Secret secret,
                                            engine::Expect expect) override
  {
    ++active;
    max_active = std::max(max_active, active);
    asio::steady_timer t(executor, 20ms); // lets other rotations overlap
    co_await t.async_wait(asio::use_awaitable);
    --active;
    if (force && expect == engine::Expect::accepted) {
      co_return engine::VerifyReport{*force, "forced"};
    }
    const auto it = keystone.keys.find(access);
    bool ok = it != keystone.keys.end() && it->second.secret == secret.reveal();
    if (auto cached = cached_uses.find(access);
        !ok && cached != cached_uses.end() && cached->second > 0) {
      --cached->second;
      ok = !secret.empty();
    }
    co_return engine::VerifyReport{ok ? core::VerifyResult::accepted : core::VerifyResult::rejected,
                                   ok ? "200" : "403 SignatureDoesNotMatch"};
  }
};

struct FakeConsumers final : engine::ConsumersPort {
  struct File {
    std::optional<std::string> access;
    std::string secret;
  };
  std::vector<File> files;
  int fail_write_at = -1;
  int fail_check_at = -1;
  bool fail_reload_printing = false;
  int reloads = 0;
  std::vector<std::vector<std::string>> redactions; // what each check and reload was given
  explicit FakeConsumers(std::size_t n) : files(n) {}

  std::size_t count() const override { return files.size(); }
  std::string describe(std::size_t i) const override { return "file" + std::to_string(i); }
  std::string path(std::size_t i) const override { return "/fake/" + std::to_string(i); }
  core::Result<std::optional<std::string>> read_access(std::size_t i) override
  {
    return files[i].access;
  }
  core::Result<engine::WriteReport> write(std::size_t i, const std::string& access,
                                          const core::Secret& secret) override
  {
    if (static_cast<int>(i) == fail_write_at) {
      return core::make_error(Errc::io, "disk full writing " + path(i));
    }
    files[i] = {access, std::string(secret.reveal())};
    return engine::WriteReport{"before", "after"};
  }
  engine::Task<core::Status> check(std::size_t i, engine::Redactions redact) override
  {
    redactions.push_back(std::vector<std::string>(redact.begin(), redact.end()));
    if (static_cast<int>(i) == fail_check_at) {
      // A careless check command that prints the key it was given.
      co_return core::make_error(
          Errc::auth_rejected,
          redacted("s3cmd ls exited 77: secret_key = " + files[i].secret, redact));
    }
    co_return core::Status{};
  }
  engine::Task<core::Status> reload(engine::Redactions redact) override
  {
    ++reloads;
    redactions.push_back(std::vector<std::string>(redact.begin(), redact.end()));
    if (fail_reload_printing) {
      // A reload command run with `set -x` that prints the file it reloads.
      std::string output = "reload command /usr/local/bin/reload exited 1: + cat file0: ";
      output += files[0].access.value_or("") + " " + files[0].secret;
      co_return core::make_error(Errc::protocol, redacted(output, redact));
    }
    co_return core::Status{};
  }
  // What the command runner does with CommandSpec::redact.
  static std::string redacted(std::string text, const engine::Redactions& redact)
  {
    for (const auto secret : redact) {
      for (auto at = text.find(secret); at != std::string::npos; at = text.find(secret, at)) {
        text.replace(at, secret.size(), "<redacted>");
      }
    }
    return text;
  }
};

struct RecordingObserver final : engine::Observer {
  std::vector<std::string> lines;
  std::vector<core::Rotation> finished;
  void rotation_finished(const core::Rotation& r) override { finished.push_back(r); }
  void log(engine::Severity, const std::string& profile, std::int64_t,
           const std::string& message) override
  {
    lines.push_back(profile + ": " + message);
  }
};

struct World {
  TempDir dir;
  asio::io_context io;
  store::Store state = store::Store::open(dir.path / "state.db").value();
  RecordingObserver observer;
  engine::Engine engine{io.get_executor(), state, observer, engine::EngineOptions{2}};
  std::shared_ptr<FakeKeystone> keystone = std::make_shared<FakeKeystone>();
  std::shared_ptr<FakeS3> s3 = std::make_shared<FakeS3>(*keystone, io.get_executor());
  std::shared_ptr<FakeConsumers> consumers = std::make_shared<FakeConsumers>(3);

  std::shared_ptr<engine::ProfileRuntime> profile(const std::string& name = "backup")
  {
    auto p = std::make_shared<engine::ProfileRuntime>();
    p->name = name;
    p->rotation.verify_timeout = 0ms;
    p->rotation.grace = 0ms;
    p->keystone = keystone;
    p->s3 = s3;
    p->consumers = consumers;
    return p;
  }

  // Files hold a hand-made key, as the openstack CLI workflow leaves them.
  void hand_made_key(const std::string& access = "HANDMADE", const std::string& project = "p1")
  {
    keystone->keys[access] = {"hand-secret", project};
    for (auto& f : consumers->files) {
      f = {access, "hand-secret"};
    }
  }

  void run(engine::Task<void> task)
  {
    asio::co_spawn(io, std::move(task), [](std::exception_ptr e) {
      if (e) {
        std::rethrow_exception(e);
      }
    });
    io.run();
    io.restart();
  }
};

// Rotates `profile` and waits for the rotation to finish; stores the outcome in `out`.
engine::Task<void> rotate_and_wait(engine::Engine* engine, std::string profile,
                                   core::Result<core::Rotation>* out)
{
  auto id = co_await engine->rotate(profile, engine::Trigger::request);
  if (!id) {
    *out = id.error();
    co_return;
  }
  *out = co_await engine->wait(*id);
}

core::Rotation rotate(World& w, const std::string& profile = "backup")
{
  core::Result<core::Rotation> out = core::make_error(Errc::internal, "not run");
  w.run(rotate_and_wait(&w.engine, profile, &out));
  REQUIRE(out.has_value());
  return *out;
}

core::Error rotate_error(World& w, const std::string& profile = "backup")
{
  core::Result<core::Rotation> out = core::make_error(Errc::internal, "not run");
  w.run(rotate_and_wait(&w.engine, profile, &out));
  REQUIRE(out.has_error());
  return out.error();
}

std::map<std::string, core::KeyState> key_states(World& w, const std::string& profile = "backup")
{
  std::map<std::string, core::KeyState> out;
  for (const auto& k : w.state.keys(profile).value()) {
    out[k.access] = k.state;
  }
  return out;
}

} // namespace

TEST_CASE("a first rotation adopts the hand-made key, replaces it everywhere and deletes it",
          "[engine]")
{
  World w;
  w.hand_made_key();
  w.engine.set_profiles({w.profile()});
  const auto r = rotate(w);
  CHECK(r.outcome == core::Outcome::succeeded);
  CHECK(r.old_access == "HANDMADE");
  REQUIRE(r.new_access);
  CHECK(w.keystone->keys.count("HANDMADE") == 0);
  REQUIRE(w.keystone->keys.count(*r.new_access) == 1);
  for (const auto& f : w.consumers->files) {
    CHECK(f.access == r.new_access);
    CHECK(f.secret == w.keystone->keys[*r.new_access].secret);
  }
  CHECK(w.consumers->reloads == 1);
  const auto states = key_states(w);
  CHECK(states.at("HANDMADE") == core::KeyState::retired);
  CHECK(states.at(*r.new_access) == core::KeyState::current);
  const auto profile = w.state.profile("backup").value();
  REQUIRE(profile);
  CHECK(profile->last_success_at);
  CHECK(profile->next_due > profile->last_success_at);
  CHECK(r.note.find("deleted and refused by S3") != std::string::npos);

  // The next rotation replaces the daemon's own key.
  const auto second = rotate(w);
  CHECK(second.outcome == core::Outcome::succeeded);
  CHECK(second.old_access == r.new_access);
  CHECK(w.keystone->keys.size() == 1);
}

TEST_CASE("a key in the files that belongs to another project is not adopted", "[engine]")
{
  World w;
  w.hand_made_key("OTHERPROJ", "p2");
  w.engine.set_profiles({w.profile()});
  const auto error = rotate_error(w);
  CHECK(error.code == Errc::config);
  CHECK(error.message.find("belongs to project p2") != std::string::npos);
  CHECK(w.keystone->keys.count("OTHERPROJ") == 1);
  // History shows the failed attempt.
  const auto history = w.state.history("backup", 5).value();
  REQUIRE(history.size() == 1);
  CHECK(history[0].outcome == core::Outcome::failed);
  CHECK(history[0].error.find("planning failed") != std::string::npos);
}

TEST_CASE("consumers that disagree on the key stop the first rotation", "[engine]")
{
  World w;
  w.hand_made_key();
  w.consumers->files[1] = {"SOMETHINGELSE", "x"};
  w.engine.set_profiles({w.profile()});
  const auto error = rotate_error(w);
  CHECK(error.code == Errc::config);
  CHECK(error.message.find("file1: SOMETHINGELSE") != std::string::npos);
  CHECK(w.keystone->keys.size() == 1);
}

TEST_CASE("a key unknown to the user is replaced but never deleted", "[engine]")
{
  World w;
  w.hand_made_key();
  w.keystone->keys["HANDMADE"].user = "someone-else";
  w.engine.set_profiles({w.profile()});
  const auto r = rotate(w);
  CHECK(r.outcome == core::Outcome::succeeded);
  CHECK_FALSE(r.old_access);
  CHECK(w.keystone->keys.count("HANDMADE") == 1);
  CHECK(w.keystone->deletes == 0);
  CHECK(w.consumers->files[0].access == r.new_access);
}

TEST_CASE("when policy refuses /v3/credentials the key is created through OS-EC2", "[engine]")
{
  World w;
  w.hand_made_key();
  w.keystone->forbid_credentials = true;
  w.engine.set_profiles({w.profile()});
  const auto r = rotate(w);
  CHECK(r.outcome == core::Outcome::succeeded);
  CHECK(r.method == core::CreateMethod::os_ec2);
  REQUIRE(r.new_access);
  CHECK(w.keystone->keys.count(*r.new_access) == 1);
  CHECK(w.consumers->files[2].access == r.new_access);
}

TEST_CASE("a new key the S3 endpoint rejects is rolled back completely", "[engine]")
{
  World w;
  w.hand_made_key();
  w.s3->force = core::VerifyResult::rejected;
  w.engine.set_profiles({w.profile()});
  const auto r = rotate(w);
  CHECK(r.outcome == core::Outcome::rolled_back);
  CHECK(r.error_code == Errc::auth_rejected);
  CHECK(w.keystone->keys.size() == 1);
  CHECK(w.keystone->keys.count("HANDMADE") == 1);
  for (const auto& f : w.consumers->files) {
    CHECK(f.access == "HANDMADE");
    CHECK(f.secret == "hand-secret");
  }
  CHECK(w.consumers->reloads == 1); // the rollback's reload
  CHECK(key_states(w).at(*r.new_access) == core::KeyState::retired);
}

TEST_CASE("an unreachable endpoint restores the old key and keeps the new one for later",
          "[engine]")
{
  World w;
  w.hand_made_key();
  w.s3->force = core::VerifyResult::unavailable;
  w.engine.set_profiles({w.profile()});
  const auto r = rotate(w);
  CHECK(r.outcome == core::Outcome::failed);
  CHECK(r.keep_new_key);
  CHECK(w.keystone->keys.count(*r.new_access) == 1);
  CHECK(w.consumers->files[0].access == "HANDMADE");
  CHECK(key_states(w).at(*r.new_access) == core::KeyState::previous);
  CHECK(w.state.profile("backup").value()->consecutive_failures == 1);

  // Once the endpoint is back, the next rotation retires both leftover keys.
  w.s3->force.reset();
  const auto next = rotate(w);
  CHECK(next.outcome == core::Outcome::succeeded);
  CHECK(w.keystone->keys.size() == 1);
  CHECK(w.keystone->keys.count(*next.new_access) == 1);
  CHECK(w.state.profile("backup").value()->consecutive_failures == 0);
}

TEST_CASE("an unreachable Keystone fails the rotation at once with nothing to undo", "[engine]")
{
  World w;
  w.hand_made_key();
  w.engine.set_profiles({w.profile()});
  const auto first = rotate(w);
  REQUIRE(first.outcome == core::Outcome::succeeded);
  const auto held = w.consumers->files[0].access;
  const auto keys_before = w.keystone->keys.size();
  const int delete_calls = w.keystone->delete_calls;

  w.keystone->fail_identity =
      core::make_error(Errc::transient, "POST http://127.0.0.1:9/v3/auth/tokens: connection "
                                        "refused");
  const auto r = rotate(w);
  CHECK(r.outcome == core::Outcome::failed);
  CHECK(r.phase == core::Phase::failed);
  CHECK(r.error_code == Errc::transient);
  CHECK(r.error.find("connection refused") != std::string::npos);
  // No create was sent, so there is no new key to delete (and no hour of retries to do so).
  CHECK(w.keystone->delete_calls == delete_calls);
  CHECK(w.keystone->keys.size() == keys_before);
  for (const auto& f : w.consumers->files) {
    CHECK(f.access == held);
  }
  CHECK(key_states(w).at(*held) == core::KeyState::current);
}

TEST_CASE("a failed write restores the consumers already written", "[engine]")
{
  World w;
  w.hand_made_key();
  w.consumers->fail_write_at = 2;
  w.engine.set_profiles({w.profile()});
  const auto r = rotate(w);
  CHECK(r.outcome == core::Outcome::rolled_back);
  CHECK(r.error.find("disk full") != std::string::npos);
  for (const auto& f : w.consumers->files) {
    CHECK(f.access == "HANDMADE");
  }
  CHECK(w.keystone->keys.size() == 1);
}

TEST_CASE("a failing consumer check rolls the rotation back", "[engine]")
{
  World w;
  w.hand_made_key();
  w.consumers->fail_check_at = 1;
  w.engine.set_profiles({w.profile()});
  const auto r = rotate(w);
  CHECK(r.outcome == core::Outcome::rolled_back);
  CHECK(r.error.find("file1: s3cmd ls exited 77") != std::string::npos);
  CHECK(w.consumers->files[1].access == "HANDMADE");
  // The secret the check printed is scrubbed before it is stored or logged.
  CHECK(r.error.find("secret_key = <redacted>") != std::string::npos);
  CHECK(r.error.find("SECRET-") == std::string::npos);
}

TEST_CASE("a profile never runs two rotations at once", "[engine]")
{
  World w;
  w.hand_made_key();
  w.engine.set_profiles({w.profile()});
  core::Result<std::int64_t> first = core::make_error(Errc::internal, "");
  core::Result<std::int64_t> second = core::make_error(Errc::internal, "");
  struct Twice {
    static engine::Task<void> run(engine::Engine* e, core::Result<std::int64_t>* a,
                                  core::Result<std::int64_t>* b)
    {
      *a = co_await e->rotate("backup", engine::Trigger::request);
      *b = co_await e->rotate("backup", engine::Trigger::request);
      if (*a) {
        (void)co_await e->wait(**a);
      }
    }
  };
  w.run(Twice::run(&w.engine, &first, &second));
  REQUIRE(first.has_value());
  REQUIRE(second.has_error());
  CHECK(second.error().code == Errc::conflict);
  CHECK(second.error().message.find("rotation " + std::to_string(*first)) != std::string::npos);
}

TEST_CASE("profiles rotate concurrently within the configured bound", "[engine]")
{
  World w; // max_concurrent = 2
  std::vector<std::shared_ptr<const engine::ProfileRuntime>> profiles;
  std::vector<std::shared_ptr<FakeConsumers>> files;
  for (int i = 0; i < 6; ++i) {
    auto p = w.profile("p" + std::to_string(i));
    auto c = std::make_shared<FakeConsumers>(1);
    p->consumers = c;
    files.push_back(c);
    profiles.push_back(p);
  }
  w.engine.set_profiles(profiles);
  struct All {
    static engine::Task<void> run(engine::Engine* e, int n)
    {
      std::vector<std::int64_t> ids;
      for (int i = 0; i < n; ++i) {
        auto id = co_await e->rotate("p" + std::to_string(i), engine::Trigger::request);
        ids.push_back(id.value());
      }
      for (const auto id : ids) {
        (void)co_await e->wait(id);
      }
    }
  };
  w.run(All::run(&w.engine, 6));
  CHECK(w.s3->max_active == 2);
  for (int i = 0; i < 6; ++i) {
    CHECK(w.state.history("p" + std::to_string(i), 1).value().at(0).outcome ==
          core::Outcome::succeeded);
    CHECK(files[static_cast<std::size_t>(i)]->files[0].access);
  }
}

TEST_CASE("a rotation interrupted after create resumes at write on the next start", "[engine]")
{
  World w;
  w.hand_made_key();
  // What a crash right after create leaves: the rotation row in phase write, the new key in
  // Keystone, the files untouched.
  REQUIRE(w.state
              .set_key({"backup", "HANDMADE", core::KeyState::current, core::KeyOrigin::adopted,
                        std::nullopt, core::TimePoint{}, std::nullopt})
              .has_value());
  core::Rotation r;
  r.profile = "backup";
  r.old_access = "HANDMADE";
  r.new_access = "CRASHKEY";
  r.started_at = core::TimePoint{std::chrono::milliseconds(1000)};
  r.phase_since = r.started_at;
  r.id = w.state.insert_rotation(r).value();
  r.phase = core::Phase::write;
  REQUIRE(w.state.save_rotation(r, {}).has_value());
  w.keystone->keys["CRASHKEY"] = {"crash-secret", "p1"};

  w.engine.set_profiles({w.profile()});
  w.engine.resume();
  core::Result<core::Rotation> out = core::make_error(Errc::internal, "");
  struct Wait {
    static engine::Task<void> run(engine::Engine* e, std::int64_t id,
                                  core::Result<core::Rotation>* o)
    {
      *o = co_await e->wait(id);
    }
  };
  w.run(Wait::run(&w.engine, r.id, &out));
  REQUIRE(out.has_value());
  CHECK(out->outcome == core::Outcome::succeeded);
  CHECK(w.consumers->files[0].access == "CRASHKEY");
  CHECK(w.consumers->files[0].secret == "crash-secret"); // re-read from Keystone
  CHECK(w.keystone->keys.size() == 1);
  CHECK(w.keystone->keys.count("CRASHKEY") == 1);
}

TEST_CASE("a resumed create finds the key its interrupted attempt made", "[engine]")
{
  World w;
  w.hand_made_key();
  core::Rotation r;
  r.profile = "backup";
  r.old_access = "HANDMADE";
  r.new_access = "MADEBEFORECRASH";
  r.started_at = core::TimePoint{std::chrono::milliseconds(1000)};
  r.phase_since = r.started_at;
  r.id = w.state.insert_rotation(r).value();
  w.keystone->keys["MADEBEFORECRASH"] = {"s1", "p1"};
  w.engine.set_profiles({w.profile()});
  w.engine.resume();
  core::Result<core::Rotation> out = core::make_error(Errc::internal, "");
  struct Wait {
    static engine::Task<void> run(engine::Engine* e, std::int64_t id,
                                  core::Result<core::Rotation>* o)
    {
      *o = co_await e->wait(id);
    }
  };
  w.run(Wait::run(&w.engine, r.id, &out));
  REQUIRE(out.has_value());
  CHECK(out->outcome == core::Outcome::succeeded);
  CHECK(w.keystone->keys.size() == 1);
  CHECK(w.consumers->files[0].secret == "s1");
}

TEST_CASE("the scheduler rotates a profile when it is due and then waits", "[engine]")
{
  World w;
  w.hand_made_key();
  auto p = w.profile();
  p->schedule.jitter = 0ms;
  p->schedule.interval = 1h;
  w.engine.set_profiles({p});
  struct Sched {
    static engine::Task<void> stop_after_first(engine::Engine* e, RecordingObserver* o,
                                               asio::any_io_executor ex)
    {
      asio::steady_timer t(ex);
      for (int i = 0; i < 200 && o->finished.empty(); ++i) {
        t.expires_after(10ms);
        co_await t.async_wait(asio::use_awaitable);
      }
      e->stop();
    }
  };
  asio::co_spawn(w.io, w.engine.run_scheduler(), [](std::exception_ptr e) {
    if (e) {
      std::rethrow_exception(e);
    }
  });
  w.run(Sched::stop_after_first(&w.engine, &w.observer, w.io.get_executor()));
  REQUIRE(w.observer.finished.size() == 1);
  CHECK(w.observer.finished[0].outcome == core::Outcome::succeeded);
  const auto state = w.state.profile("backup").value();
  REQUIRE(state);
  CHECK(*state->next_due - *state->last_success_at == 1h);
}

TEST_CASE("verify_current checks the profile's current key", "[engine]")
{
  World w;
  w.hand_made_key();
  w.engine.set_profiles({w.profile()});
  (void)rotate(w);
  core::Result<engine::VerifyReport> report = core::make_error(Errc::internal, "");
  struct V {
    static engine::Task<void> run(engine::Engine* e, core::Result<engine::VerifyReport>* out)
    {
      *out = co_await e->verify_current("backup");
    }
  };
  w.run(V::run(&w.engine, &report));
  REQUIRE(report.has_value());
  CHECK(report->result == core::VerifyResult::accepted);
}

namespace {

// {access: role} of the profile "backup"'s keys as Engine::keys() reports them.
std::map<std::string, std::string> key_roles(World& w)
{
  core::Result<std::vector<engine::KeyView>> keys = core::make_error(Errc::internal, "");
  struct K {
    static engine::Task<void> run(engine::Engine* e,
                                  core::Result<std::vector<engine::KeyView>>* out)
    {
      *out = co_await e->keys("backup");
    }
  };
  w.run(K::run(&w.engine, &keys));
  REQUIRE(keys.has_value());
  std::map<std::string, std::string> roles;
  for (const auto& k : *keys) {
    roles[k.access] = k.role;
  }
  return roles;
}

} // namespace

TEST_CASE("keys lists the user's keys with their managed roles", "[engine]")
{
  World w;
  w.hand_made_key();
  w.keystone->keys["FOREIGN"] = {"x", "p1"};
  w.engine.set_profiles({w.profile()});
  const auto r = rotate(w);
  CHECK(key_roles(w) ==
        std::map<std::string, std::string>{{*r.new_access, "current"}, {"FOREIGN", "not_managed"}});
}

namespace {

// The real store, but save_rotation() fails from the n-th call on (a full disk under SQLite).
struct FailingState final : engine::StatePort {
  store::Store& real;
  int fail_from;
  int calls = 0;
  FailingState(store::Store& s, int n) : real(s), fail_from(n) {}

  int inserts = 0;
  int insert_limit = INT_MAX; // more attempts than this: the scheduler is spinning
  core::Result<std::int64_t> insert_rotation(const core::Rotation& r) override
  {
    if (++inserts > insert_limit) {
      throw std::runtime_error("the scheduler tried to start a rotation " +
                               std::to_string(inserts) + " times without waiting");
    }
    return real.insert_rotation(r);
  }
  core::Status save_rotation(const core::Rotation& r,
                             const std::vector<core::KeyChange>& changes) override
  {
    if (fail_from > 0 && ++calls >= fail_from) {
      return core::make_error(Errc::io, "database or disk is full");
    }
    return real.save_rotation(r, changes);
  }
  core::Result<std::optional<core::Rotation>> rotation(std::int64_t id) const override
  {
    return real.rotation(id);
  }
  core::Result<std::vector<core::Rotation>> unfinished_rotations() const override
  {
    return real.unfinished_rotations();
  }
  core::Result<std::vector<core::Rotation>> history(const std::string& p, int n) const override
  {
    return real.history(p, n);
  }
  core::Result<std::optional<core::Rotation>> running_rotation(const std::string& p) const override
  {
    return real.running_rotation(p);
  }
  core::Result<core::OutcomeCounts> outcome_counts(const std::string& p) const override
  {
    return real.outcome_counts(p);
  }
  core::Result<std::vector<core::ManagedKey>> keys(const std::string& p) const override
  {
    return real.keys(p);
  }
  core::Result<std::vector<core::ManagedKey>> live_keys(const std::string& p) const override
  {
    return real.live_keys(p);
  }
  core::Result<std::vector<std::string>> managed_access_ids() const override
  {
    return real.managed_access_ids();
  }
  core::Result<std::vector<std::string>> candidates(const std::string& p) const override
  {
    return real.candidates(p);
  }
  core::Status set_key(const core::ManagedKey& k) override { return real.set_key(k); }
  core::Status set_key_state(const std::string& p, const std::string& a, core::KeyState s,
                             core::TimePoint t) override
  {
    return real.set_key_state(p, a, s, t);
  }
  core::Status set_revocation(const std::string& p, const std::string& a,
                              core::Revocation r) override
  {
    return real.set_revocation(p, a, r);
  }
  core::Result<std::vector<core::ManagedKey>> pending_revocations() const override
  {
    return real.pending_revocations();
  }
  core::Result<std::size_t> unconfirmed_revocations(const std::string& p) const override
  {
    return real.unconfirmed_revocations(p);
  }
  core::Result<std::optional<core::ProfileState>> profile(const std::string& n) const override
  {
    return real.profile(n);
  }
  core::Result<std::vector<core::ProfileState>> profiles() const override
  {
    return real.profiles();
  }
  core::Status save_profile(const core::ProfileState& p) override { return real.save_profile(p); }
  core::Status record_write(const core::ConsumerWrite& w) override { return real.record_write(w); }
};

} // namespace

TEST_CASE("a state database that refuses a write stops the rotation and reports it as fatal",
          "[engine]")
{
  World w;
  w.hand_made_key();
  FailingState failing(w.state, 2); // Created is stored, Written is not (Started saves nothing)
  engine::Engine e(w.io.get_executor(), failing, w.observer, engine::EngineOptions{1});
  auto p = w.profile();
  e.set_profiles({p});
  std::optional<core::Error> fatal;
  e.on_fatal([&](const core::Error& error) { fatal = error; });
  core::Result<core::Rotation> out = core::make_error(Errc::internal, "");
  w.run(rotate_and_wait(&e, "backup", &out));
  REQUIRE(fatal);
  CHECK(fatal->code == Errc::io);
  CHECK(fatal->message.find("resumes at the next start") != std::string::npos);
  REQUIRE(out.has_value());
  CHECK(out->phase == core::Phase::write); // the last phase recorded
  CHECK(e.running_count() == 0);

  // The slot was released: with the database healthy again, a new engine resumes and
  // finishes the rotation from what was recorded.
  engine::Engine again(w.io.get_executor(), w.state, w.observer, engine::EngineOptions{1});
  again.set_profiles({p});
  again.resume();
  // A new rotation is refused while the resumed one runs; running the loop finishes it.
  w.run(rotate_and_wait(&again, "backup", &out));
  REQUIRE(out.has_error());
  CHECK(out.error().code == Errc::conflict);
  const auto last = w.state.history("backup", 1).value().at(0);
  CHECK(last.outcome == core::Outcome::succeeded);
  CHECK(w.consumers->files[0].access == last.new_access);
}

namespace {

// Waits for rotation `id` (resumed or started elsewhere) and returns its final state.
core::Rotation wait_for(World& w, engine::Engine& e, std::int64_t id)
{
  core::Result<core::Rotation> out = core::make_error(Errc::internal, "not run");
  struct Wait {
    static engine::Task<void> run(engine::Engine* e, std::int64_t id,
                                  core::Result<core::Rotation>* o)
    {
      *o = co_await e->wait(id);
    }
  };
  w.run(Wait::run(&e, id, &out));
  REQUIRE(out.has_value());
  return *out;
}

// A rotation row as a crash (or a stopped run) leaves it: `phase`, nothing else running.
core::Rotation stranded(World& w, core::Phase phase, core::CreateMethod method,
                        std::optional<std::string> new_access)
{
  core::Rotation r;
  r.profile = "backup";
  r.old_access = "HANDMADE";
  r.method = method;
  r.new_access = std::move(new_access);
  r.started_at = core::TimePoint{std::chrono::milliseconds(1000)};
  r.phase_since = r.started_at;
  if (method == core::CreateMethod::os_ec2) {
    for (const auto& [access, _] : w.keystone->keys) {
      r.keys_before.push_back(access);
    }
  }
  r.id = w.state.insert_rotation(r).value();
  r.phase = phase;
  REQUIRE(w.state.save_rotation(r, {}).has_value());
  REQUIRE(w.state
              .set_key({"backup", "HANDMADE", core::KeyState::current, core::KeyOrigin::adopted,
                        std::nullopt, core::TimePoint{}, std::nullopt})
              .has_value());
  return r;
}

void files_hold(World& w, const std::string& access)
{
  for (const auto& f : w.consumers->files) {
    CHECK(f.access == access);
  }
}

bool logged(World& w, const std::string& text)
{
  return std::any_of(w.observer.lines.begin(), w.observer.lines.end(),
                     [&](const std::string& line) { return line.find(text) != std::string::npos; });
}

// A profile that creates through OS-EC2, whose POST times out while host B (sharing the user)
// creates its key HOSTB; `ours_lands`: our POST reached Keystone all the same.
void os_ec2_times_out_while_host_b_creates(World& w, bool ours_lands)
{
  w.hand_made_key();
  auto p = w.profile();
  p->create_method = core::CreateMethodChoice::os_ec2;
  p->rotation.create_settle = 1ms;
  w.engine.set_profiles({p});
  w.keystone->fail_os_ec2 = core::make_error(Errc::timeout, "POST OS-EC2: timed out");
  w.keystone->create_lands = ours_lands;
  w.keystone->during_os_ec2 = [](FakeKeystone& k) { k.keys["HOSTB"] = {"host-b-secret", "p1"}; };
}

} // namespace

// --- issue 13.1: an OS-EC2 create of unknown outcome never takes another host's key ---

TEST_CASE("an OS-EC2 create that timed out never deletes the key another host made meanwhile",
          "[engine][issue13]")
{
  World w;
  // Our POST never reaches Keystone (it times out); host B, sharing the user, creates its key.
  os_ec2_times_out_while_host_b_creates(w, false);
  const auto r = rotate(w);
  CHECK(r.outcome == core::Outcome::failed);
  CHECK(r.candidates == std::vector<std::string>{"HOSTB"});
  CHECK(w.keystone->keys.count("HOSTB") == 1); // B's files still hold a live key
  CHECK(w.keystone->deletes == 0);
  files_hold(w, "HANDMADE");
  CHECK(key_states(w).count("HOSTB") == 0); // not adopted
  CHECK(key_roles(w).at("HOSTB") == "candidate");
  CHECK(logged(w, "HOSTB"));
  CHECK(w.engine.status("backup").value().candidate_keys == 1); // the metric
}

TEST_CASE("an OS-EC2 create that timed out after making our key reports it, with host B's",
          "[engine][issue13]")
{
  World w;
  os_ec2_times_out_while_host_b_creates(w, true);
  const auto r = rotate(w);
  CHECK(r.outcome == core::Outcome::failed);
  // Both keys are live and recorded: neither is deleted, neither adopted.
  CHECK(r.candidates.size() == 2);
  CHECK(w.keystone->keys.size() == 3);
  CHECK(w.keystone->deletes == 0);
  for (const auto& access : r.candidates) {
    CHECK(key_roles(w).at(access) == "candidate");
  }
}

TEST_CASE("a resumed OS-EC2 create adopts no key it cannot prove it made", "[engine][issue13]")
{
  World w;
  w.hand_made_key();
  const auto r = stranded(w, core::Phase::create, core::CreateMethod::os_ec2, std::nullopt);
  w.keystone->keys["HOSTB"] = {"host-b-secret", "p1"}; // made while we were down
  auto p = w.profile();
  p->create_method = core::CreateMethodChoice::os_ec2;
  w.engine.set_profiles({p});
  w.engine.resume();
  const auto done = wait_for(w, w.engine, r.id);
  CHECK(done.outcome == core::Outcome::failed);
  CHECK(done.candidates == std::vector<std::string>{"HOSTB"});
  files_hold(w, "HANDMADE");
  CHECK(w.keystone->keys.count("HOSTB") == 1);
  CHECK(key_states(w).count("HOSTB") == 0);

  // The next rotation goes on as usual and leaves host B's key alone.
  const auto next = rotate(w);
  CHECK(next.outcome == core::Outcome::succeeded);
  CHECK(w.keystone->keys.count("HOSTB") == 1);
  files_hold(w, *next.new_access);
}

TEST_CASE("a key another profile of the daemon made is never taken for a resumed create",
          "[engine][issue13]")
{
  World w;
  w.hand_made_key();
  const auto r = stranded(w, core::Phase::create, core::CreateMethod::os_ec2, std::nullopt);
  // Profile "archive" (same user and project) created its key while "backup" was down.
  w.keystone->keys["ARCHIVEKEY"] = {"archive-secret", "p1"};
  REQUIRE(w.state
              .set_key({"archive", "ARCHIVEKEY", core::KeyState::current, core::KeyOrigin::created,
                        std::nullopt, core::TimePoint{}, std::nullopt})
              .has_value());
  auto p = w.profile();
  p->create_method = core::CreateMethodChoice::os_ec2;
  w.engine.set_profiles({p});
  w.engine.resume();
  const auto done = wait_for(w, w.engine, r.id);
  CHECK(done.outcome == core::Outcome::succeeded);
  REQUIRE(done.new_access);
  CHECK(*done.new_access != "ARCHIVEKEY");
  CHECK(done.candidates.empty());
  CHECK(w.keystone->keys.count("ARCHIVEKEY") == 1);
  files_hold(w, *done.new_access);
}

// --- issue 13.2: no path makes the scheduler spin ---

TEST_CASE("a reload resumes a rotation left while its profile was not configured",
          "[engine][issue13]")
{
  World w;
  w.hand_made_key();
  const auto r = stranded(w, core::Phase::write, core::CreateMethod::credentials, "CRASHKEY");
  w.keystone->keys["CRASHKEY"] = {"crash-secret", "p1"};
  FailingState counting(w.state, 0);
  counting.insert_limit = 20;
  engine::Engine e(w.io.get_executor(), counting, w.observer, engine::EngineOptions{1});
  e.set_profiles({}); // started without the profile
  e.resume();
  auto p = w.profile();
  p->schedule.jitter = 0ms; // due at once
  p->schedule.interval = 1h;
  struct Sched {
    static engine::Task<void> reload_then_stop(engine::Engine* e, RecordingObserver* o,
                                               std::shared_ptr<const engine::ProfileRuntime> p,
                                               asio::any_io_executor ex)
    {
      asio::steady_timer t(ex, 10ms);
      co_await t.async_wait(asio::use_awaitable);
      e->set_profiles({p}); // SIGHUP brings the profile back
      for (int i = 0; i < 200 && o->finished.empty(); ++i) {
        t.expires_after(10ms);
        co_await t.async_wait(asio::use_awaitable);
      }
      e->stop();
    }
  };
  asio::co_spawn(w.io, e.run_scheduler(), [](std::exception_ptr ex) {
    if (ex) {
      std::rethrow_exception(ex);
    }
  });
  w.run(Sched::reload_then_stop(&e, &w.observer, p, w.io.get_executor()));
  REQUIRE(w.observer.finished.size() == 1);
  CHECK(w.observer.finished[0].id == r.id);
  CHECK(w.observer.finished[0].outcome == core::Outcome::succeeded);
  files_hold(w, "CRASHKEY");
}

TEST_CASE("a profile whose rotation cannot start does not make the scheduler spin",
          "[engine][issue13]")
{
  World w;
  w.hand_made_key();
  // The first rotation stops after its first step (the state refuses the write): its row
  // stays unfinished and nothing in this process runs it, as after "internal error, rotation
  // paused". The store refuses a second rotation of the profile.
  FailingState failing(w.state, 1);
  failing.insert_limit = 20;
  engine::Engine e(w.io.get_executor(), failing, w.observer, engine::EngineOptions{1});
  auto p = w.profile();
  p->schedule.jitter = 0ms; // due at once
  p->schedule.interval = 1h;
  e.set_profiles({p});
  struct Sched {
    static engine::Task<void> stop_later(engine::Engine* e, asio::any_io_executor ex)
    {
      asio::steady_timer t(ex, 200ms);
      co_await t.async_wait(asio::use_awaitable);
      e->stop();
    }
  };
  asio::co_spawn(w.io, e.run_scheduler(), [](std::exception_ptr ex) {
    if (ex) {
      std::rethrow_exception(ex);
    }
  });
  w.run(Sched::stop_later(&e, w.io.get_executor()));
  CHECK(failing.inserts == 1);
  CHECK(logged(w, "scheduled rotation not started"));
  CHECK(logged(w, "resumes at the next reload or start"));
  const auto state = w.state.profile("backup").value();
  REQUIRE(state);
  REQUIRE(state->next_due);
  CHECK(*state->next_due > core::TimePoint{std::chrono::time_point_cast<std::chrono::milliseconds>(
                               core::Clock::now())});
}

// --- issue 13.3: secrets in command output are redacted before they are stored or sent ---

TEST_CASE("the old secret printed by a reload command during rollback is redacted",
          "[engine][issue13]")
{
  World w;
  w.hand_made_key("HANDMADE");
  w.keystone->keys["HANDMADE"].secret = "old-secret-0123456789";
  for (auto& f : w.consumers->files) {
    f.secret = "old-secret-0123456789";
  }
  w.s3->force = core::VerifyResult::rejected; // roll back
  w.consumers->fail_reload_printing = true;   // the rollback's reload prints the old key
  w.engine.set_profiles({w.profile()});
  const auto r = rotate(w);
  CHECK(r.outcome == core::Outcome::rolled_back);
  CHECK(r.note.find("reload after restoring failed") != std::string::npos);
  CHECK(r.note.find("<redacted>") != std::string::npos);
  const auto stored = w.state.rotation(r.id).value().value();
  for (const auto* text : {&r.note, &r.error, &stored.note, &stored.error}) {
    CHECK(text->find("old-secret-0123456789") == std::string::npos);
  }
  for (const auto& line : w.observer.lines) {
    CHECK(line.find("old-secret-0123456789") == std::string::npos);
  }
}

TEST_CASE("the new secret printed by a reload command after a restart is redacted",
          "[engine][issue13]")
{
  World w;
  w.hand_made_key();
  const auto r = stranded(w, core::Phase::reload, core::CreateMethod::credentials, "RESUMEKEY");
  w.keystone->keys["RESUMEKEY"] = {"new-secret-0123456789", "p1"};
  for (auto& f : w.consumers->files) {
    f = {"RESUMEKEY", "new-secret-0123456789"};
  }
  w.consumers->fail_reload_printing = true;
  w.engine.set_profiles({w.profile()});
  w.engine.resume();
  const auto done = wait_for(w, w.engine, r.id);
  CHECK(done.outcome == core::Outcome::rolled_back);
  CHECK(done.error.find("<redacted>") != std::string::npos);
  const auto stored = w.state.rotation(r.id).value().value();
  for (const auto* text : {&done.note, &done.error, &stored.note, &stored.error}) {
    CHECK(text->find("new-secret-0123456789") == std::string::npos);
  }
  // Every program run was told both secrets.
  REQUIRE_FALSE(w.consumers->redactions.empty());
  for (const auto& given : w.consumers->redactions) {
    CHECK(std::find(given.begin(), given.end(), "new-secret-0123456789") != given.end());
  }
}

// --- issue 13.4: every key the daemon may have made is deleted or stays managed ---

TEST_CASE("a create whose answer cannot be parsed deletes the key it made", "[engine][issue13]")
{
  World w;
  w.hand_made_key();
  w.keystone->fail_create = core::make_error(Errc::protocol, "201 with a body that is not JSON");
  w.keystone->create_lands = true;
  w.engine.set_profiles({w.profile()});
  const auto r = rotate(w);
  CHECK(r.outcome != core::Outcome::succeeded);
  CHECK(r.error.find("not JSON") != std::string::npos);
  // Keystone holds only keys the state accounts for.
  const auto states = key_states(w);
  for (const auto& [access, _] : w.keystone->keys) {
    const auto it = states.find(access);
    CHECK((it != states.end() && it->second != core::KeyState::retired));
  }
  CHECK(w.keystone->keys.size() == 1);
  files_hold(w, "HANDMADE");
}

TEST_CASE("a create that lands after the rollback's delete is deleted by the next retire",
          "[engine][issue13]")
{
  World w;
  w.hand_made_key();
  w.keystone->fail_create = core::make_error(Errc::timeout, "POST /v3/credentials timed out");
  w.engine.set_profiles({w.profile()});
  const auto r = rotate(w);
  CHECK(r.outcome == core::Outcome::rolled_back);
  REQUIRE(r.new_access);
  // The slow POST reaches Keystone now, after the rollback found nothing to delete.
  w.keystone->keys[*r.new_access] = {"late-secret", "p1"};
  CHECK(key_states(w).at(*r.new_access) == core::KeyState::previous);

  w.keystone->fail_create.reset();
  const auto next = rotate(w);
  CHECK(next.outcome == core::Outcome::succeeded);
  CHECK(w.keystone->keys.count(*r.new_access) == 0);
  CHECK(key_states(w).at(*r.new_access) == core::KeyState::retired);
  CHECK(w.keystone->keys.size() == 1);
}

// --- issue 13.5: retire protects every file that names the key when it runs ---

TEST_CASE("a consumer added by a reload during grace keeps the old key alive", "[engine][issue13]")
{
  World w;
  w.hand_made_key();
  auto p = w.profile();
  p->rotation.grace = 100ms;
  w.engine.set_profiles({p});
  // The reload adds a fourth file that still names the old key.
  auto added = std::make_shared<FakeConsumers>(4);
  struct Reload {
    static engine::Task<void> during_grace(World* w, std::shared_ptr<engine::ProfileRuntime> p,
                                           std::shared_ptr<FakeConsumers> added,
                                           core::Result<core::Rotation>* out)
    {
      auto id = co_await w->engine.rotate("backup", engine::Trigger::request);
      asio::steady_timer t(w->io.get_executor());
      for (int i = 0; i < 100; ++i) {
        const auto r = w->state.rotation(*id).value();
        if (r && r->phase == core::Phase::grace) {
          break;
        }
        t.expires_after(5ms);
        co_await t.async_wait(asio::use_awaitable);
      }
      for (std::size_t i = 0; i < 3; ++i) {
        added->files[i] = w->consumers->files[i];
      }
      added->files[3] = {"HANDMADE", "hand-secret"};
      auto reloaded = std::make_shared<engine::ProfileRuntime>(*p);
      reloaded->consumers = added;
      w->engine.set_profiles({reloaded});
      *out = co_await w->engine.wait(*id);
    }
  };
  core::Result<core::Rotation> out = core::make_error(Errc::internal, "");
  w.run(Reload::during_grace(&w, p, added, &out));
  REQUIRE(out.has_value());
  CHECK(out->outcome == core::Outcome::succeeded);
  CHECK(w.keystone->keys.count("HANDMADE") == 1);
  CHECK(out->note.find("file3") != std::string::npos);
  CHECK(key_states(w).at("HANDMADE") == core::KeyState::previous);
}

TEST_CASE("a deleted key S3 still accepts is checked again: refused confirms the revocation, "
          "accepted is a finding",
          "[engine][revocation]")
{
  World w;
  w.hand_made_key();
  auto profile = w.profile();
  profile->recheck_after = 100ms;
  w.engine.set_profiles({profile});
  const auto revocation_of = [&](const std::string& access) {
    for (const auto& k : w.state.keys("backup").value()) {
      if (k.access == access) {
        return k.revocation;
      }
    }
    return std::optional<core::Revocation>{};
  };

  // Accepted once more (the check right after the deletion), then refused: RGW's cache expired.
  w.s3->cached_uses["HANDMADE"] = 1;
  const auto first = rotate(w); // returns once the io_context is idle: after the re-check
  CHECK(first.note.find("old key HANDMADE deleted but still accepted (RGW caches keys up to 5 "
                        "minutes); re-checked in 100 ms") != std::string::npos);
  CHECK(revocation_of("HANDMADE") == core::Revocation::refused);
  CHECK(w.engine.status("backup").value().unconfirmed_revocations == 0);
  CHECK(std::count(w.observer.lines.begin(), w.observer.lines.end(),
                   "backup: old key HANDMADE refused by S3 on the re-check: revocation "
                   "confirmed") == 1);

  // Still accepted on the re-check: a finding, which the status counts and the journal warns of.
  w.s3->cached_uses[*first.new_access] = 2;
  const auto second = rotate(w);
  CHECK(revocation_of(*first.new_access) == core::Revocation::accepted);
  CHECK(w.engine.status("backup").value().unconfirmed_revocations == 1);
  CHECK(std::any_of(w.observer.lines.begin(), w.observer.lines.end(), [&](const auto& line) {
    return line.find("old key " + *first.new_access + " still accepted by S3 on the re-check") !=
           std::string::npos;
  }));

  // A later retire that S3 confirms supersedes it.
  const auto third = rotate(w);
  CHECK(revocation_of(*second.new_access) == core::Revocation::refused);
  CHECK(w.engine.status("backup").value().unconfirmed_revocations == 0);
  CHECK(third.outcome == core::Outcome::succeeded);
}

TEST_CASE("with no re-check configured a deleted key S3 still accepts is a finding at once",
          "[engine][revocation]")
{
  World w;
  w.hand_made_key();
  auto profile = w.profile();
  profile->recheck_after = 0ms;
  w.engine.set_profiles({profile});
  w.s3->cached_uses["HANDMADE"] = 1;
  const auto r = rotate(w);
  CHECK(r.note.find("re-checked") == std::string::npos);
  CHECK(w.state.pending_revocations().value().empty());
  CHECK(w.engine.status("backup").value().unconfirmed_revocations == 1);
}

TEST_CASE("a re-check left pending by an earlier process is recorded unchecked at the next start",
          "[engine][revocation]")
{
  World w;
  // What a daemon stopped (or credrotd --once exiting) before its re-check leaves behind.
  core::Rotation r;
  r.profile = "backup";
  r.old_access = "GONE";
  r.new_access = "NOW";
  r.started_at = r.phase_since = core::TimePoint{std::chrono::milliseconds(1'700'000'000'000)};
  r.id = w.state.insert_rotation(r).value();
  r.phase = core::Phase::done;
  r.outcome = core::Outcome::succeeded;
  core::KeyChange gone{"GONE", core::KeyState::retired};
  gone.revocation = core::RevocationCheck{"GONE", core::Revocation::pending, r.started_at + 310s};
  REQUIRE(w.state.save_rotation(r, {gone, {"NOW", core::KeyState::current}}).has_value());

  w.engine.set_profiles({w.profile()});
  CHECK(w.state.pending_revocations().value().empty());
  CHECK(w.engine.status("backup").value().unconfirmed_revocations == 1);
  REQUIRE(w.observer.lines.size() == 1);
  CHECK(w.observer.lines[0].find("backup: old key GONE was still accepted by S3 when deleted and "
                                 "cannot be re-checked") == 0);
  // Only once per process: a reload does not repeat it.
  w.engine.set_profiles({w.profile()});
  CHECK(w.observer.lines.size() == 1);
}
