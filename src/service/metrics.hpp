// SPDX-License-Identifier: Apache-2.0
// The Prometheus textfile (node-exporter textfile collector format) with per-profile metrics.
#pragma once

#include "engine/engine.hpp"

#include <string>
#include <vector>

namespace credrotd::service {

// Renders, for each profile: credrotd_key_age_seconds, credrotd_last_success_timestamp_seconds,
// credrotd_next_due_timestamp_seconds, credrotd_rotation_running and
// credrotd_rotations_total{result=succeeded|rolled_back|failed}, plus credrotd_info{version}.
// Metrics without a value (no key yet, never succeeded) are left out for that profile.
std::string render_metrics(const std::vector<engine::ProfileStatus>& profiles, core::TimePoint now);

// Escapes a label value for the text exposition format (backslash, quote, newline).
std::string escape_label(std::string_view value);

} // namespace credrotd::service
