// SPDX-License-Identifier: Apache-2.0
// render_metrics(): the textfile's series, labels and values for idle, running and finished
// rotations, and the phase deadline the "stuck" alert compares with the time.
#include "wiring/metrics.hpp"

#include <catch2/catch.hpp>

#include <map>
#include <sstream>

using namespace credrotd;
using namespace credrotd::wiring;
using namespace std::chrono_literals;

namespace {

// 2026-01-01T00:00:00Z
const core::TimePoint k_now{std::chrono::milliseconds(1767225600000)};

// {"name{labels}": "value"} of every sample line; HELP/TYPE lines are counted separately.
struct Parsed {
  std::map<std::string, std::string> samples;
  std::map<std::string, std::string> types; // family name -> type
  std::size_t helps = 0;
};

Parsed parse(const std::string& text)
{
  Parsed out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("# HELP ", 0) == 0) {
      ++out.helps;
    } else if (line.rfind("# TYPE ", 0) == 0) {
      const auto rest = line.substr(7);
      const auto space = rest.find(' ');
      out.types[rest.substr(0, space)] = rest.substr(space + 1);
    } else if (!line.empty()) {
      const auto space = line.rfind(' ');
      out.samples[line.substr(0, space)] = line.substr(space + 1);
    }
  }
  return out;
}

engine::ProfileStatus configured(std::string name)
{
  engine::ProfileStatus p;
  p.name = std::move(name);
  p.schedule = core::SchedulePolicy{};
  p.schedule->interval = 24h * 30;
  p.schedule->jitter = 1h;
  p.policy = core::RotationPolicy{};
  p.policy->grace = 15min;
  return p;
}

core::Rotation running_in(core::Phase phase)
{
  core::Rotation r;
  r.id = 7;
  r.profile = "backup";
  r.phase = phase;
  r.started_at = k_now - 10min;
  r.phase_since = k_now - 2min;
  return r;
}

} // namespace

TEST_CASE("an idle profile that rotated renders its key age, results and configured timings",
          "[service][metrics]")
{
  auto p = configured("backup");
  p.current_since = k_now - 90s;
  p.last_success_at = k_now - 60s;
  p.next_due = k_now + 24h;
  p.counts.succeeded = 3;
  p.counts.rolled_back = 1;
  p.unconfirmed_revocations = 2;
  core::Rotation last = running_in(core::Phase::done);
  last.outcome = core::Outcome::succeeded;
  last.finished_at = k_now - 60s;
  p.last = last;

  const auto m = parse(render_metrics({p}, k_now));
  const auto& s = m.samples;
  CHECK(s.at("credrotd_key_age_seconds{profile=\"backup\"}") == "90.000");
  CHECK(s.at("credrotd_last_success_timestamp_seconds{profile=\"backup\"}") == "1767225540.000");
  CHECK(s.at("credrotd_next_due_timestamp_seconds{profile=\"backup\"}") == "1767312000.000");
  CHECK(s.at("credrotd_rotation_running{profile=\"backup\"}") == "0");
  CHECK(s.at("credrotd_rotations_total{profile=\"backup\",result=\"succeeded\"}") == "3");
  CHECK(s.at("credrotd_rotations_total{profile=\"backup\",result=\"rolled_back\"}") == "1");
  CHECK(s.at("credrotd_rotations_total{profile=\"backup\",result=\"failed\"}") == "0");
  CHECK(s.at("credrotd_unconfirmed_revocations{profile=\"backup\"}") == "2");
  CHECK(s.at("credrotd_last_rotation_result{profile=\"backup\",result=\"succeeded\"}") == "1");
  CHECK(s.at("credrotd_last_rotation_result{profile=\"backup\",result=\"rolled_back\"}") == "0");
  CHECK(s.at("credrotd_last_rotation_result{profile=\"backup\",result=\"failed\"}") == "0");
  CHECK(s.at("credrotd_last_rotation_timestamp_seconds{profile=\"backup\"}") == "1767225540.000");
  CHECK(s.at("credrotd_rotation_interval_seconds{profile=\"backup\"}") == "2592000.000");
  CHECK(s.at("credrotd_rotation_jitter_seconds{profile=\"backup\"}") == "3600.000");
  CHECK(s.at("credrotd_rotation_grace_seconds{profile=\"backup\"}") == "900.000");
  CHECK(s.count("credrotd_rotation_phase{profile=\"backup\",phase=\"done\"}") == 0);
  CHECK(s.at("credrotd_info{version=\"" CREDROTD_VERSION "\"}") == "1");
  CHECK(m.types.at("credrotd_rotations_total") == "counter");
  CHECK(m.types.at("credrotd_rotation_phase_deadline_timestamp_seconds") == "gauge");
  CHECK(m.helps == m.types.size());
}

TEST_CASE("a profile that never rotated renders zeros and leaves out what has no value",
          "[service][metrics]")
{
  const auto m = parse(render_metrics({configured("fresh")}, k_now));
  const auto& s = m.samples;
  CHECK(s.at("credrotd_rotation_running{profile=\"fresh\"}") == "0");
  CHECK(s.at("credrotd_unconfirmed_revocations{profile=\"fresh\"}") == "0");
  CHECK(s.at("credrotd_candidate_keys{profile=\"fresh\"}") == "0");
  CHECK(s.count("credrotd_key_age_seconds{profile=\"fresh\"}") == 0);
  CHECK(s.count("credrotd_last_success_timestamp_seconds{profile=\"fresh\"}") == 0);
  CHECK(s.count("credrotd_last_rotation_timestamp_seconds{profile=\"fresh\"}") == 0);
  CHECK(s.count("credrotd_last_rotation_result{profile=\"fresh\",result=\"succeeded\"}") == 0);
  // Every family is still declared, so a reader sees the whole vocabulary.
  CHECK(m.types.size() == 16);
}

TEST_CASE("a failed or rolled back last rotation is the only result set to 1", "[service][metrics]")
{
  for (const auto outcome : {core::Outcome::failed, core::Outcome::rolled_back}) {
    auto p = configured("p");
    core::Rotation last = running_in(core::Phase::failed);
    last.outcome = outcome;
    last.finished_at = k_now;
    p.last = last;
    const auto s = parse(render_metrics({p}, k_now)).samples;
    const std::string name(core::to_string(outcome));
    CHECK(s.at("credrotd_last_rotation_result{profile=\"p\",result=\"" + name + "\"}") == "1");
    CHECK(s.at("credrotd_last_rotation_result{profile=\"p\",result=\"succeeded\"}") == "0");
  }
}

TEST_CASE("a running rotation renders its phase, when it began and its deadline",
          "[service][metrics]")
{
  auto p = configured("backup");
  auto r = running_in(core::Phase::grace);
  r.grace_until = k_now + 13min;
  p.running = r;
  const auto s = parse(render_metrics({p}, k_now)).samples;
  CHECK(s.at("credrotd_rotation_running{profile=\"backup\"}") == "1");
  CHECK(s.at("credrotd_rotation_phase{profile=\"backup\",phase=\"grace\"}") == "1");
  CHECK(s.at("credrotd_rotation_phase_since_timestamp_seconds{profile=\"backup\",phase="
             "\"grace\"}") == "1767225480.000");
  CHECK(s.at("credrotd_rotation_phase_deadline_timestamp_seconds{profile=\"backup\",phase="
             "\"grace\"}") == "1767226380.000");
}

TEST_CASE("a phase's deadline follows its own timers", "[service][metrics]")
{
  core::RotationPolicy policy;
  policy.verify_timeout = 2min;
  policy.grace = 15min;
  policy.retire_budget = 1h;
  policy.rollback_budget = 1h;
  policy.step_retry = 30s;

  auto r = running_in(core::Phase::verify);
  r.verify_deadline = r.phase_since + 2min;
  CHECK(rotation_phase_deadline(r, policy) == r.phase_since + 2min);
  r.verify_deadline.reset(); // not recorded: the policy's timeout
  CHECK(rotation_phase_deadline(r, policy) == r.phase_since + 2min);

  r = running_in(core::Phase::grace);
  CHECK(rotation_phase_deadline(r, policy) == r.phase_since + 15min);

  r = running_in(core::Phase::retire);
  CHECK(rotation_phase_deadline(r, policy) == r.phase_since + 1h + 30s);

  for (const auto phase :
       {core::Phase::rollback_write, core::Phase::rollback_reload, core::Phase::rollback_delete}) {
    r = running_in(phase);
    CHECK(rotation_phase_deadline(r, policy) == r.phase_since + 1h + 30s);
  }

  // One action: nothing to wait for, unless a retry is scheduled.
  r = running_in(core::Phase::write);
  CHECK(rotation_phase_deadline(r, policy) == r.phase_since);
  r.retry_at = r.phase_since + 5s;
  CHECK(rotation_phase_deadline(r, policy) == r.phase_since + 5s);
}

TEST_CASE("a disabled profile exports no schedule", "[service][metrics]")
{
  auto p = configured("off");
  p.enabled = false;
  const auto s = parse(render_metrics({p}, k_now)).samples;
  CHECK(s.count("credrotd_rotation_interval_seconds{profile=\"off\"}") == 0);
  CHECK(s.count("credrotd_rotation_jitter_seconds{profile=\"off\"}") == 0);
  CHECK(s.at("credrotd_rotation_grace_seconds{profile=\"off\"}") == "900.000");
}

TEST_CASE("label values are escaped", "[service][metrics]")
{
  CHECK(escape_label("a\\b\"c\nd") == "a\\\\b\\\"c\\nd");
  const auto s = parse(render_metrics({configured("we\"ird")}, k_now)).samples;
  CHECK(s.count("credrotd_rotation_running{profile=\"we\\\"ird\"}") == 1);
}
