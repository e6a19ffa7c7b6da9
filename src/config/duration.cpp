// SPDX-License-Identifier: Apache-2.0
// Parsing and printing of durations and time windows.
#include "config/duration.hpp"

#include <fmt/format.h>

#include <array>
#include <cstdio>

namespace credrotd::config {

namespace {

struct Unit {
  char letter;
  std::int64_t seconds;
};

constexpr std::array<Unit, 5> k_units{
    {{'w', 7 * 86400}, {'d', 86400}, {'h', 3600}, {'m', 60}, {'s', 1}}};

constexpr std::string_view k_duration_help =
    "write a duration like \"90s\", \"15m\", \"12h\", \"30d\", \"1w\" or \"1h30m\" (units w d h m "
    "s, largest first), or an integer number of seconds";

core::Error duration_error(std::string_view what)
{
  return core::make_error(core::Errc::config,
                          std::string(what) + "; " + std::string(k_duration_help));
}

} // namespace

core::Result<std::chrono::seconds> parse_duration(std::string_view text)
{
  if (text == "0") {
    return std::chrono::seconds(0);
  }
  if (text.empty()) {
    return duration_error("empty duration");
  }
  std::int64_t total = 0;
  std::size_t next_unit = 0; // index into k_units of the smallest unit still allowed
  std::size_t i = 0;
  while (i < text.size()) {
    if (text[i] < '0' || text[i] > '9') {
      if (text[i] == '-') {
        return duration_error("a duration cannot be negative");
      }
      return duration_error("a number is expected where \"" + std::string(1, text[i]) + "\" is");
    }
    std::int64_t number = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      number = number * 10 + (text[i] - '0');
      if (number > k_max_duration.count()) {
        return duration_error("duration too long (at most 3650d)");
      }
      ++i;
    }
    if (i == text.size()) {
      return duration_error(
          fmt::format("the number {0} has no unit (did you mean \"{0}s\"?)", number));
    }
    const char letter = text[i];
    std::size_t unit = next_unit;
    while (unit < k_units.size() && k_units[unit].letter != letter) {
      ++unit;
    }
    if (unit == k_units.size()) {
      bool known = false;
      for (const auto& u : k_units) {
        known = known || u.letter == letter;
      }
      if (known) {
        return duration_error("units must go from largest to smallest, each once");
      }
      return duration_error("unknown unit \"" + std::string(1, letter) + "\"");
    }
    next_unit = unit + 1;
    ++i;
    total += number * k_units[unit].seconds;
    if (total > k_max_duration.count()) {
      return duration_error("duration too long (at most 3650d)");
    }
  }
  return std::chrono::seconds(total);
}

std::string format_duration(std::chrono::seconds value)
{
  std::int64_t rest = value.count();
  if (rest == 0) {
    return "0s";
  }
  std::string out;
  if (rest < 0) {
    out += '-';
    rest = -rest;
  }
  for (const auto& unit : k_units) {
    if (rest >= unit.seconds) {
      out += fmt::to_string(rest / unit.seconds);
      out += unit.letter;
      rest %= unit.seconds;
    }
  }
  return out;
}

namespace {

// "HH:MM" → minutes after midnight; 24:00 only when `allow_24` (the end of a window).
std::optional<int> parse_clock(std::string_view text, bool allow_24)
{
  const auto colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon > 2 || text.size() != colon + 3) {
    return std::nullopt;
  }
  int hours = 0;
  for (const char c : text.substr(0, colon)) {
    if (c < '0' || c > '9') {
      return std::nullopt;
    }
    hours = hours * 10 + (c - '0');
  }
  int minutes = 0;
  for (const char c : text.substr(colon + 1)) {
    if (c < '0' || c > '9') {
      return std::nullopt;
    }
    minutes = minutes * 10 + (c - '0');
  }
  if (minutes > 59 || hours > 24 || (hours == 24 && (minutes != 0 || !allow_24))) {
    return std::nullopt;
  }
  return hours * 60 + minutes;
}

} // namespace

core::Result<core::TimeWindow> parse_window(std::string_view text)
{
  constexpr std::string_view help =
      "write \"HH:MM-HH:MM\" in local time, e.g. \"02:00-05:00\" or \"22:00-04:00\" (wraps "
      "past midnight), or \"\" for any time";
  const auto dash = text.find('-');
  if (dash == std::string_view::npos) {
    return core::make_error(core::Errc::config, "not a time window; " + std::string(help));
  }
  const auto start = parse_clock(text.substr(0, dash), false);
  const auto end = parse_clock(text.substr(dash + 1), true);
  if (!start || !end) {
    return core::make_error(core::Errc::config,
                            "not a time window (times run from 00:00 to 23:59, the end may be "
                            "24:00); " +
                                std::string(help));
  }
  if (*start == *end || (*start == 0 && *end == 1440)) {
    return core::make_error(core::Errc::config,
                            "the window covers the whole day; write window = \"\" for any time");
  }
  return core::TimeWindow{std::chrono::minutes(*start), std::chrono::minutes(*end)};
}

std::string format_window(const core::TimeWindow& window)
{
  const auto s = window.start.count();
  const auto e = window.end.count();
  return fmt::format("{:02}:{:02}-{:02}:{:02}", s / 60, s % 60, e / 60, e % 60);
}

} // namespace credrotd::config
