// SPDX-License-Identifier: Apache-2.0
// UTC formatting and parsing with the C++20 calendar: no locale, no time zone files.
#include "sign/time_format.hpp"

#include <fmt/format.h>

#include <array>
#include <charconv>

namespace credrotd::sign {

namespace {

using namespace std::chrono;

struct Fields {
  year_month_day date;
  hh_mm_ss<seconds> time;
  weekday day;
};

Fields fields(Clock::time_point time)
{
  const auto day = floor<days>(time);
  return {year_month_day(day), hh_mm_ss(floor<seconds>(time) - day), weekday(day)};
}

// The `count` digits at text[pos], or nullopt.
std::optional<int> digits(std::string_view text, std::size_t pos, std::size_t count)
{
  int value = 0;
  if (pos + count > text.size() ||
      std::from_chars(text.data() + pos, text.data() + pos + count, value).ptr !=
          text.data() + pos + count ||
      text[pos] == '-' || text[pos] == '+') {
    return std::nullopt;
  }
  return value;
}

} // namespace

std::string amz_date(Clock::time_point time)
{
  const auto [date, t, day] = fields(time);
  return fmt::format("{:04}{:02}{:02}T{:02}{:02}{:02}Z", static_cast<int>(date.year()),
                     static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
                     t.hours().count(), t.minutes().count(), t.seconds().count());
}

std::string http_date(Clock::time_point time)
{
  static constexpr std::array<std::string_view, 7> k_days = {"Sun", "Mon", "Tue", "Wed",
                                                             "Thu", "Fri", "Sat"};
  static constexpr std::array<std::string_view, 12> k_months = {
      "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const auto [date, t, day] = fields(time);
  return fmt::format(
      "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT", k_days[day.c_encoding()],
      static_cast<unsigned>(date.day()), k_months[static_cast<unsigned>(date.month()) - 1],
      static_cast<int>(date.year()), t.hours().count(), t.minutes().count(), t.seconds().count());
}

std::optional<Clock::time_point> parse_iso8601(std::string_view text)
{
  // Offsets of year, month, day, hour, minute, second in the basic and the extended form.
  const bool basic = text.size() == 16 && text[8] == 'T'; // 20150830T123600Z
  if (!basic && (text.size() < 20 || text[4] != '-' || text[7] != '-' || text[10] != 'T' ||
                 text[13] != ':' || text[16] != ':')) { // 2015-08-30T12:36:00[.fff]Z
    return std::nullopt;
  }
  const std::array<std::size_t, 6> at = basic ? std::array<std::size_t, 6>{0, 4, 6, 9, 11, 13}
                                              : std::array<std::size_t, 6>{0, 5, 8, 11, 14, 17};
  std::array<int, 6> v{};
  for (std::size_t i = 0; i < v.size(); ++i) {
    const auto value = digits(text, at[i], i == 0 ? 4 : 2);
    if (!value) {
      return std::nullopt;
    }
    v[i] = *value;
  }
  std::size_t end = basic ? 15 : 19;
  if (!basic && text[end] == '.') {
    ++end;
    while (end < text.size() && text[end] >= '0' && text[end] <= '9') {
      ++end;
    }
  }
  if (end + 1 != text.size() || text[end] != 'Z') {
    return std::nullopt;
  }
  const auto [y, mo, d, h, mi, s] = v;
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) {
    return std::nullopt;
  }
  // Day 31 of a shorter month rolls over into the next, and second 60 into the next minute.
  const sys_days day = sys_days(year(y) / month(static_cast<unsigned>(mo)) / 1) + days(d - 1);
  const std::int64_t epoch_seconds =
      day.time_since_epoch().count() * 86400 + h * 3600 + mi * 60 + s;
  // The clock counts nanoseconds in 64 bits (the years 1678 to 2261): converting a time
  // outside that range would overflow.
  constexpr std::int64_t k_min = duration_cast<seconds>(Clock::duration::min()).count();
  constexpr std::int64_t k_max = duration_cast<seconds>(Clock::duration::max()).count();
  if (epoch_seconds < k_min || epoch_seconds > k_max) {
    return std::nullopt;
  }
  return Clock::time_point(seconds(epoch_seconds));
}

} // namespace credrotd::sign
