// SPDX-License-Identifier: Apache-2.0
// Durations ("1h30m") and daily time windows ("02:00-05:00") as written in credrotd.toml.
#pragma once

#include "core/config.hpp"
#include "core/error.hpp"

#include <chrono>
#include <string>
#include <string_view>

namespace credrotd::config {

// The longest duration accepted anywhere: ten years, far beyond any sensible interval, and
// small enough that sums of durations never overflow.
inline constexpr std::chrono::seconds k_max_duration{std::chrono::hours(24 * 3650)};

// Parses one or more <number><unit> parts, units w d h m s from largest to smallest, each at
// most once, no spaces: "90s", "15m", "12h", "30d", "1w", "1h30m"; "0" alone is zero.
// Errors: Errc::config with a message saying what is allowed (no file position: the caller
// adds it).
core::Result<std::chrono::seconds> parse_duration(std::string_view text);

// The canonical spelling: "0s", "90s" → "1m30s", 2592000 → "30d".
std::string format_duration(std::chrono::seconds value);

// Parses "HH:MM-HH:MM" (local time; 00:00..23:59, the end may be 24:00; the end before the
// start wraps past midnight). Errors: Errc::config; start == end is refused (use "" for any
// time).
core::Result<core::TimeWindow> parse_window(std::string_view text);

// "02:00-05:00".
std::string format_window(const core::TimeWindow& window);

} // namespace credrotd::config
