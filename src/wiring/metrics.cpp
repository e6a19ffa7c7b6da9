// SPDX-License-Identifier: Apache-2.0
// Text exposition format rendering of the daemon's metrics.
#include "wiring/metrics.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <functional>

namespace credrotd::wiring {

namespace {

std::string seconds(double value)
{
  return fmt::format("{:.3f}", value);
}

double epoch_seconds(core::TimePoint t)
{
  return static_cast<double>(t.time_since_epoch().count()) / 1000.0;
}

double duration_seconds(core::Duration d)
{
  return static_cast<double>(std::chrono::duration_cast<std::chrono::milliseconds>(d).count()) /
         1000.0;
}

constexpr std::array k_results{core::Outcome::succeeded, core::Outcome::rolled_back,
                               core::Outcome::failed};

struct Family {
  const char* name;
  const char* type;
  const char* help;
};

} // namespace

std::string escape_label(std::string_view value)
{
  std::string out;
  for (const char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

core::TimePoint rotation_phase_deadline(const core::Rotation& rotation,
                                        const core::RotationPolicy& policy)
{
  core::TimePoint deadline = rotation.phase_since;
  switch (rotation.phase) {
  case core::Phase::verify:
    deadline = rotation.verify_deadline.value_or(rotation.phase_since + policy.verify_timeout);
    break;
  case core::Phase::grace:
    deadline = rotation.grace_until.value_or(rotation.phase_since + policy.grace);
    break;
  case core::Phase::retire:
    deadline = rotation.phase_since + policy.retire_budget + policy.step_retry;
    break;
  case core::Phase::rollback_write:
  case core::Phase::rollback_reload:
  case core::Phase::rollback_delete:
    deadline = rotation.phase_since + policy.rollback_budget + policy.step_retry;
    break;
  default:
    break;
  }
  if (rotation.retry_at) {
    deadline = std::max(deadline, *rotation.retry_at);
  }
  return deadline;
}

std::string render_metrics(const std::vector<engine::ProfileStatus>& profiles, core::TimePoint now)
{
  std::string out;
  const auto family = [&](const Family& f,
                          const std::function<void(const engine::ProfileStatus&)>& each) {
    out += std::string("# HELP ") + f.name + " " + f.help + "\n";
    out += std::string("# TYPE ") + f.name + " " + f.type + "\n";
    for (const auto& p : profiles) {
      each(p);
    }
  };
  const auto sample = [&](const char* name, const engine::ProfileStatus& p,
                          const std::string& value, const std::string& extra_labels = {}) {
    out += std::string(name) + "{profile=\"" + escape_label(p.name) + "\"" + extra_labels + "} " +
           value + "\n";
  };

  out += "# HELP credrotd_info credrotd's version.\n# TYPE credrotd_info gauge\n";
  out += std::string("credrotd_info{version=\"") + escape_label(CREDROTD_VERSION) + "\"} 1\n";

  family({"credrotd_key_age_seconds", "gauge",
          "Seconds since the profile's current key was created or adopted."},
         [&](const engine::ProfileStatus& p) {
           if (p.current_since) {
             sample("credrotd_key_age_seconds", p,
                    seconds(epoch_seconds(now) - epoch_seconds(*p.current_since)));
           }
         });
  family({"credrotd_last_success_timestamp_seconds", "gauge",
          "When the profile's last successful rotation finished (Unix time)."},
         [&](const engine::ProfileStatus& p) {
           if (p.last_success_at) {
             sample("credrotd_last_success_timestamp_seconds", p,
                    seconds(epoch_seconds(*p.last_success_at)));
           }
         });
  family({"credrotd_next_due_timestamp_seconds", "gauge",
          "When the profile's next rotation is due (Unix time)."},
         [&](const engine::ProfileStatus& p) {
           if (p.next_due) {
             sample("credrotd_next_due_timestamp_seconds", p, seconds(epoch_seconds(*p.next_due)));
           }
         });
  family(
      {"credrotd_rotation_running", "gauge", "1 while a rotation of the profile is in progress."},
      [&](const engine::ProfileStatus& p) {
        sample("credrotd_rotation_running", p, p.running ? "1" : "0");
      });
  family({"credrotd_rotations_total", "counter", "Finished rotations of the profile by result."},
         [&](const engine::ProfileStatus& p) {
           sample("credrotd_rotations_total", p, fmt::format("{}", p.counts.succeeded),
                  ",result=\"succeeded\"");
           sample("credrotd_rotations_total", p, fmt::format("{}", p.counts.rolled_back),
                  ",result=\"rolled_back\"");
           sample("credrotd_rotations_total", p, fmt::format("{}", p.counts.failed),
                  ",result=\"failed\"");
         });
  family({"credrotd_candidate_keys", "gauge",
          "Keys recorded during OS-EC2 creates of unknown outcome that may be the daemon's or "
          "another host's: never deleted or adopted, for the operator to check (credrotctl "
          "keys)."},
         [&](const engine::ProfileStatus& p) {
           sample("credrotd_candidate_keys", p, fmt::format("{}", p.candidate_keys));
         });
  family({"credrotd_unconfirmed_revocations", "gauge",
          "Old keys deleted from Keystone whose refusal by S3 is not confirmed yet (still "
          "accepted at deletion, e.g. RGW's key cache): 0 normally."},
         [&](const engine::ProfileStatus& p) {
           sample("credrotd_unconfirmed_revocations", p,
                  fmt::format("{}", p.unconfirmed_revocations));
         });
  family({"credrotd_last_rotation_result", "gauge",
          "1 for the result of the profile's last finished rotation, 0 for the others."},
         [&](const engine::ProfileStatus& p) {
           if (!p.last) {
             return;
           }
           for (const auto outcome : k_results) {
             sample("credrotd_last_rotation_result", p, p.last->outcome == outcome ? "1" : "0",
                    fmt::format(",result=\"{}\"", core::to_string(outcome)));
           }
         });
  family({"credrotd_last_rotation_timestamp_seconds", "gauge",
          "When the profile's last finished rotation (of any result) finished (Unix time)."},
         [&](const engine::ProfileStatus& p) {
           if (p.last && p.last->finished_at) {
             sample("credrotd_last_rotation_timestamp_seconds", p,
                    seconds(epoch_seconds(*p.last->finished_at)));
           }
         });
  const auto phase_label = [](const core::Rotation& r) {
    return ",phase=\"" + escape_label(core::to_string(r.phase)) + "\"";
  };
  family({"credrotd_rotation_phase", "gauge",
          "1, labelled with the phase the profile's running rotation is in."},
         [&](const engine::ProfileStatus& p) {
           if (p.running) {
             sample("credrotd_rotation_phase", p, "1", phase_label(*p.running));
           }
         });
  family({"credrotd_rotation_phase_since_timestamp_seconds", "gauge",
          "When the running rotation entered its current phase (Unix time)."},
         [&](const engine::ProfileStatus& p) {
           if (p.running) {
             sample("credrotd_rotation_phase_since_timestamp_seconds", p,
                    seconds(epoch_seconds(p.running->phase_since)), phase_label(*p.running));
           }
         });
  family({"credrotd_rotation_phase_deadline_timestamp_seconds", "gauge",
          "When the running rotation's current phase should be over at the latest by its own "
          "timers: verify deadline, end of grace, retire or rollback budget, next retry; the "
          "phase's start for a phase that is one action (Unix time)."},
         [&](const engine::ProfileStatus& p) {
           if (p.running) {
             const auto deadline =
                 rotation_phase_deadline(*p.running, p.policy.value_or(core::RotationPolicy{}));
             sample("credrotd_rotation_phase_deadline_timestamp_seconds", p,
                    seconds(epoch_seconds(deadline)), phase_label(*p.running));
           }
         });
  family({"credrotd_rotation_interval_seconds", "gauge",
          "The profile's configured rotation interval (enabled profiles)."},
         [&](const engine::ProfileStatus& p) {
           if (p.enabled && p.schedule) {
             sample("credrotd_rotation_interval_seconds", p,
                    seconds(duration_seconds(p.schedule->interval)));
           }
         });
  family({"credrotd_rotation_jitter_seconds", "gauge",
          "The profile's configured jitter: a rotation is due up to this long after the "
          "interval (enabled profiles)."},
         [&](const engine::ProfileStatus& p) {
           if (p.enabled && p.schedule) {
             sample("credrotd_rotation_jitter_seconds", p,
                    seconds(duration_seconds(p.schedule->jitter)));
           }
         });
  family({"credrotd_rotation_grace_seconds", "gauge",
          "The profile's configured grace: how long a rotation keeps the old key after the new "
          "one works."},
         [&](const engine::ProfileStatus& p) {
           if (p.policy) {
             sample("credrotd_rotation_grace_seconds", p,
                    seconds(duration_seconds(p.policy->grace)));
           }
         });
  return out;
}

} // namespace credrotd::wiring
