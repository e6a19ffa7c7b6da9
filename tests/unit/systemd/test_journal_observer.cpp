// SPDX-License-Identifier: Apache-2.0
// The journal observer's messages, priorities, MESSAGE_IDs and fields, and the fan-out.
#include "log_capture.hpp"
#include "systemd/journal_observer.hpp"

#include <catch2/catch.hpp>

#include <syslog.h>

using namespace credrotd;
using systemd::JournalObserver;
using systemd::Logger;
using systemd::MessageKind;
using systemd::Sink;
using systemd::test::JournalSocket;
using systemd::test::run_with_journal;
using systemd::test::StderrCapture;

namespace {

core::Rotation rotation(core::Phase phase, core::Outcome outcome = core::Outcome::running)
{
  core::Rotation r;
  r.id = 42;
  r.profile = "backup";
  r.phase = phase;
  r.outcome = outcome;
  r.old_access = "AKOLD";
  r.new_access = "AKNEW";
  return r;
}

// What the observer writes to stderr for one event (ctest: no terminal, "<N>" prefixes).
template <class Event> std::string logged(Event event)
{
  StderrCapture capture;
  const Logger logger(Sink::stderr_, LOG_DEBUG);
  JournalObserver observer(logger);
  event(observer);
  return capture.text();
}

} // namespace

TEST_CASE("a started rotation is a notice naming both keys", "[journal]")
{
  CHECK(logged([](auto& o) { o.rotation_started(rotation(core::Phase::create)); }) ==
        "<5>backup #42: rotation 42 of profile backup started (old key AKOLD, new key AKNEW)\n");
  auto first = rotation(core::Phase::create);
  first.old_access.reset();
  first.new_access.reset();
  CHECK(logged([&](auto& o) { o.rotation_started(first); }) ==
        "<5>backup #42: rotation 42 of profile backup started (old key (none), new key (not "
        "created yet))\n");
}

TEST_CASE("a phase change is informational and shows the retried error until the end", "[journal]")
{
  auto r = rotation(core::Phase::verify);
  CHECK(logged([&](auto& o) { o.phase_changed(r); }) ==
        "<6>backup #42: rotation 42 entered phase verify\n");
  r.error = "S3 said 503";
  CHECK(logged([&](auto& o) { o.phase_changed(r); }) ==
        "<6>backup #42: rotation 42 entered phase verify (S3 said 503)\n");
  r.phase = core::Phase::failed;
  CHECK(logged([&](auto& o) { o.phase_changed(r); }) ==
        "<6>backup #42: rotation 42 entered phase failed\n");
}

TEST_CASE("a finished rotation's priority and words follow its outcome", "[journal]")
{
  auto ok = rotation(core::Phase::done, core::Outcome::succeeded);
  CHECK(logged([&](auto& o) { o.rotation_finished(ok); }) ==
        "<5>backup #42: rotation 42 of profile backup succeeded: consumers now use AKNEW\n");
  ok.note = "old key still accepted by a cache";
  CHECK(logged([&](auto& o) { o.rotation_finished(ok); }) ==
        "<5>backup #42: rotation 42 of profile backup succeeded: consumers now use AKNEW "
        "(old key still accepted by a cache)\n");

  auto back = rotation(core::Phase::rolled_back, core::Outcome::rolled_back);
  back.error = "the new key was never accepted";
  CHECK(logged([&](auto& o) { o.rotation_finished(back); }) ==
        "<4>backup #42: rotation 42 of profile backup was rolled back to AKOLD: the new key was "
        "never accepted\n");

  auto failed = rotation(core::Phase::failed, core::Outcome::failed);
  failed.error = "Keystone refused the password";
  CHECK(logged([&](auto& o) { o.rotation_finished(failed); }) ==
        "<3>backup #42: rotation 42 of profile backup failed: Keystone refused the password\n");
}

TEST_CASE("a failed verification and a deleted key are reported with their keys", "[journal]")
{
  const auto r = rotation(core::Phase::verify);
  CHECK(logged([&](auto& o) { o.verification_failed(r, "SigV4 ListBuckets: 403"); }) ==
        "<4>backup #42: verification of new key AKNEW failed: SigV4 ListBuckets: 403\n");
  CHECK(logged([&](auto& o) { o.key_deleted(rotation(core::Phase::retire), "AKOLD"); }) ==
        "<5>backup #42: old key AKOLD of profile backup deleted from Keystone\n");
}

TEST_CASE("engine log severities map to syslog priorities", "[journal]")
{
  const std::pair<engine::Severity, const char*> mapping[] = {
      {engine::Severity::debug, "<7>"},  {engine::Severity::info, "<6>"},
      {engine::Severity::notice, "<5>"}, {engine::Severity::warning, "<4>"},
      {engine::Severity::error, "<3>"},
  };
  for (const auto& [severity, prefix] : mapping) {
    CHECK(logged([&](auto& o) { o.log(severity, "backup", 9, "text"); }) ==
          std::string(prefix) + "backup #9: text\n");
  }
  CHECK(logged([](auto& o) { o.log(engine::Severity::info, "", 0, "daemon-wide"); }) ==
        "<6>daemon-wide\n");
}

TEST_CASE("journal entries of rotation events carry their MESSAGE_ID and the rotation's fields",
          "[journal]")
{
  const auto run = run_with_journal(
      [] {
        const Logger logger(Sink::journal);
        JournalObserver observer(logger);
        observer.rotation_started(rotation(core::Phase::create));
        observer.verification_failed(rotation(core::Phase::verify), "503");
        observer.rotation_finished(rotation(core::Phase::done, core::Outcome::succeeded));
        observer.key_deleted(rotation(core::Phase::retire), "AKOLD");
        auto back = rotation(core::Phase::rolled_back, core::Outcome::rolled_back);
        observer.rotation_finished(back);
        observer.rotation_finished(rotation(core::Phase::failed, core::Outcome::failed));
        observer.phase_changed(rotation(core::Phase::write));
      },
      JournalSocket::bound, 7);
  REQUIRE(run.failure.empty());
  REQUIRE(run.entries.size() == 7);
  const auto field = [](const systemd::test::JournalEntry& e, const char* name) {
    const auto it = e.find(name);
    return it == e.end() ? std::string("(absent)") : it->second;
  };
  const std::pair<MessageKind, const char*> expected[] = {
      {MessageKind::rotation_started, "create"},
      {MessageKind::verification_failed, "verify"},
      {MessageKind::rotation_succeeded, "done"},
      {MessageKind::key_deleted, "retire"},
      {MessageKind::rotation_rolled_back, "rolled_back"},
      {MessageKind::rotation_failed, "failed"},
  };
  for (std::size_t i = 0; i < std::size(expected); ++i) {
    INFO(i);
    const auto& e = run.entries[i];
    CHECK(field(e, "MESSAGE_ID") == systemd::message_id(expected[i].first));
    CHECK(field(e, "CREDROTD_PHASE") == expected[i].second);
    CHECK(field(e, "CREDROTD_PROFILE") == "backup");
    CHECK(field(e, "CREDROTD_ROTATION") == "42");
  }
  CHECK(field(run.entries[0], "CREDROTD_ACCESS_ID") == "AKNEW");
  CHECK(field(run.entries[3], "CREDROTD_ACCESS_ID") == "AKOLD"); // the key deleted
  CHECK(field(run.entries[6], "MESSAGE_ID") == "(absent)");      // a phase change
  CHECK(field(run.entries[6], "PRIORITY") == "6");
}

namespace {

struct Recorder final : engine::Observer {
  explicit Recorder(std::vector<std::string>& lines, std::string name)
      : m_log(lines), m_name(std::move(name))
  {}
  void rotation_started(const core::Rotation& r) override { note("started", r.id); }
  void phase_changed(const core::Rotation& r) override { note("phase", r.id); }
  void rotation_finished(const core::Rotation& r) override { note("finished", r.id); }
  void verification_failed(const core::Rotation& r, const std::string& d) override
  {
    note("verification " + d, r.id);
  }
  void key_deleted(const core::Rotation& r, const std::string& access) override
  {
    note("deleted " + access, r.id);
  }
  void log(engine::Severity, const std::string& profile, std::int64_t id,
           const std::string& message) override
  {
    note("log " + profile + " " + message, id);
  }
  void state_changed() override { note("state", 0); }

  void note(const std::string& what, std::int64_t id)
  {
    m_log.push_back(m_name + " " + what + " " + std::to_string(id));
  }
  std::vector<std::string>& m_log;
  std::string m_name;
};

} // namespace

TEST_CASE("the fan-out forwards every event to each observer in the order they were added",
          "[journal]")
{
  std::vector<std::string> seen;
  Recorder a(seen, "a");
  Recorder b(seen, "b");
  systemd::FanOutObserver fan;
  fan.add(a);
  fan.add(b);
  const auto r = rotation(core::Phase::verify);
  fan.rotation_started(r);
  fan.phase_changed(r);
  fan.verification_failed(r, "503");
  fan.key_deleted(r, "AKOLD");
  fan.rotation_finished(r);
  fan.log(engine::Severity::info, "backup", 42, "hello");
  fan.state_changed();
  CHECK(seen == std::vector<std::string>{"a started 42", "b started 42", "a phase 42", "b phase 42",
                                         "a verification 503 42", "b verification 503 42",
                                         "a deleted AKOLD 42", "b deleted AKOLD 42",
                                         "a finished 42", "b finished 42", "a log backup hello 42",
                                         "b log backup hello 42", "a state 0", "b state 0"});
}
