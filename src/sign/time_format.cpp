// SPDX-License-Identifier: Apache-2.0
// UTC calendar arithmetic and formatting without locale, time zone files or allocation.
#include "sign/time_format.hpp"

namespace credrotd::sign {

namespace {

// Howard Hinnant's days_from_civil / civil_from_days (public domain), exact for the whole
// proleptic Gregorian calendar.
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) noexcept
{
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

void put2(char* out, int value) noexcept
{
  out[0] = static_cast<char>('0' + value / 10);
  out[1] = static_cast<char>('0' + value % 10);
}

void put4(char* out, int value) noexcept
{
  put2(out, value / 100);
  put2(out + 2, value % 100);
}

bool digits(std::string_view text, std::size_t pos, std::size_t count, int& value) noexcept
{
  if (pos + count > text.size()) {
    return false;
  }
  value = 0;
  for (std::size_t i = pos; i < pos + count; ++i) {
    if (text[i] < '0' || text[i] > '9') {
      return false;
    }
    value = value * 10 + (text[i] - '0');
  }
  return true;
}

} // namespace

UtcTime to_utc_seconds(std::int64_t epoch_seconds) noexcept
{
  UtcTime t;
  t.epoch_seconds = epoch_seconds;
  std::int64_t days = epoch_seconds / 86400;
  std::int64_t rest = epoch_seconds % 86400;
  if (rest < 0) {
    rest += 86400;
    --days;
  }
  t.hour = static_cast<int>(rest / 3600);
  t.minute = static_cast<int>(rest / 60 % 60);
  t.second = static_cast<int>(rest % 60);
  t.weekday = static_cast<int>((days % 7 + 7 + 4) % 7);

  const std::int64_t z = days + 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  const std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400 + (m <= 2 ? 1 : 0);
  // Clock::time_point spans about +-292 years around 1970, so the year always fits in an int.
  t.year = static_cast<int>(y);
  t.month = static_cast<int>(m);
  t.day = static_cast<int>(d);
  return t;
}

UtcTime to_utc(Clock::time_point time) noexcept
{
  const auto seconds = std::chrono::floor<std::chrono::seconds>(time.time_since_epoch());
  return to_utc_seconds(seconds.count());
}

void format_amz_date(const UtcTime& time, char (&out)[16]) noexcept
{
  put4(out, time.year);
  put2(out + 4, time.month);
  put2(out + 6, time.day);
  out[8] = 'T';
  put2(out + 9, time.hour);
  put2(out + 11, time.minute);
  put2(out + 13, time.second);
  out[15] = 'Z';
}

void append_http_date(const UtcTime& time, std::string& out)
{
  static constexpr char k_days[] = "SunMonTueWedThuFriSat";
  static constexpr char k_months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
  char text[29];
  const auto weekday = static_cast<std::size_t>(time.weekday);
  const auto month = static_cast<std::size_t>(time.month - 1);
  text[0] = k_days[weekday * 3];
  text[1] = k_days[weekday * 3 + 1];
  text[2] = k_days[weekday * 3 + 2];
  text[3] = ',';
  text[4] = ' ';
  put2(text + 5, time.day);
  text[7] = ' ';
  text[8] = k_months[month * 3];
  text[9] = k_months[month * 3 + 1];
  text[10] = k_months[month * 3 + 2];
  text[11] = ' ';
  put4(text + 12, time.year);
  text[16] = ' ';
  put2(text + 17, time.hour);
  text[19] = ':';
  put2(text + 20, time.minute);
  text[22] = ':';
  put2(text + 23, time.second);
  text[25] = ' ';
  text[26] = 'G';
  text[27] = 'M';
  text[28] = 'T';
  out.append(text, sizeof text);
}

std::string amz_date(Clock::time_point time)
{
  char text[16];
  format_amz_date(to_utc(time), text);
  return {text, sizeof text};
}

std::string http_date(Clock::time_point time)
{
  std::string out;
  append_http_date(to_utc(time), out);
  return out;
}

std::optional<Clock::time_point> parse_iso8601(std::string_view text)
{
  int year = 0;
  int month = 0;
  int day = 0;
  int hour = 0;
  int minute = 0;
  int second = 0;
  std::size_t end = 0;
  if (text.size() == 16 && text[8] == 'T') { // 20150830T123600Z
    if (!digits(text, 0, 4, year) || !digits(text, 4, 2, month) || !digits(text, 6, 2, day) ||
        !digits(text, 9, 2, hour) || !digits(text, 11, 2, minute) || !digits(text, 13, 2, second)) {
      return std::nullopt;
    }
    end = 15;
  } else { // 2015-08-30T12:36:00[.fff]Z
    if (text.size() < 20 || text[4] != '-' || text[7] != '-' || text[10] != 'T' ||
        text[13] != ':' || text[16] != ':') {
      return std::nullopt;
    }
    if (!digits(text, 0, 4, year) || !digits(text, 5, 2, month) || !digits(text, 8, 2, day) ||
        !digits(text, 11, 2, hour) || !digits(text, 14, 2, minute) ||
        !digits(text, 17, 2, second)) {
      return std::nullopt;
    }
    end = 19;
    if (text[end] == '.') {
      ++end;
      while (end < text.size() && text[end] >= '0' && text[end] <= '9') {
        ++end;
      }
    }
  }
  if (end + 1 != text.size() || text[end] != 'Z') {
    return std::nullopt;
  }
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
    return std::nullopt;
  }
  const std::int64_t days =
      days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  const std::int64_t seconds = days * 86400 + hour * 3600 + minute * 60 + second;
  // The clock counts nanoseconds in 64 bits (the years 1678 to 2261): converting a time
  // outside that range would overflow.
  constexpr std::int64_t k_min_seconds =
      std::chrono::duration_cast<std::chrono::seconds>(Clock::duration::min()).count();
  constexpr std::int64_t k_max_seconds =
      std::chrono::duration_cast<std::chrono::seconds>(Clock::duration::max()).count();
  if (seconds < k_min_seconds || seconds > k_max_seconds) {
    return std::nullopt;
  }
  return Clock::time_point(std::chrono::seconds(seconds));
}

} // namespace credrotd::sign
