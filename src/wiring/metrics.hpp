// SPDX-License-Identifier: Apache-2.0
// The Prometheus textfile (node-exporter textfile collector format) with per-profile metrics.
#pragma once

#include "engine/engine.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace credrotd::wiring {

// Renders credrotd_info{version} and, for each profile (label `profile`):
//   credrotd_key_age_seconds, credrotd_last_success_timestamp_seconds,
//   credrotd_next_due_timestamp_seconds: left out when there is no value (no key yet, never
//     succeeded, nothing scheduled);
//   credrotd_rotation_running, credrotd_candidate_keys, credrotd_unconfirmed_revocations and
//     credrotd_rotations_total{result=succeeded|rolled_back|failed}: always;
//   credrotd_last_rotation_result{result} (1 for the last finished rotation's result, 0 for the
//     two others) and credrotd_last_rotation_timestamp_seconds: once a rotation has finished;
//   credrotd_rotation_phase{phase} (1), credrotd_rotation_phase_since_timestamp_seconds{phase}
//     and credrotd_rotation_phase_deadline_timestamp_seconds{phase}: while a rotation runs
//     (see rotation_phase_deadline);
//   credrotd_rotation_interval_seconds and credrotd_rotation_jitter_seconds: configured and
//     enabled profiles only (a disabled profile has no schedule); credrotd_rotation_grace_seconds:
//     configured profiles.
// Every family's HELP and TYPE lines are written even when it has no sample.
std::string render_metrics(const std::vector<engine::ProfileStatus>& profiles, core::TimePoint now);

// When the current phase of a running rotation should be over at the latest, by the phase's
// own timers: verify its deadline, grace its end, retire and the rollback phases their retry
// budget (plus one retry wait), and any phase a scheduled retry; a phase that is one action
// (write, reload, create) has nothing to wait for, so its start. The metrics' "stuck" alert
// compares it with the time; `policy` is the profile's (the rotation may have started with an
// older configuration: the margin of the alert absorbs that).
core::TimePoint rotation_phase_deadline(const core::Rotation& rotation,
                                        const core::RotationPolicy& policy);

// Escapes a label value for the text exposition format (backslash, quote, newline).
std::string escape_label(std::string_view value);

} // namespace credrotd::wiring
