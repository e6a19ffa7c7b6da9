// SPDX-License-Identifier: Apache-2.0
// The date formats the signers put on the wire: SigV4's X-Amz-Date and SigV2's HTTP Date.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace credrotd::sign {

using Clock = std::chrono::system_clock;

// A time broken down into UTC calendar fields, truncated to the whole second (toward the past).
struct UtcTime {
  std::int64_t epoch_seconds = 0;
  int year = 1970; // the formats below need 0 <= year <= 9999: see fits_four_digit_year()
  int month = 1;   // 1..12
  int day = 1;     // 1..31
  int hour = 0;
  int minute = 0;
  int second = 0;
  int weekday = 4; // 0 = Sunday; 1970-01-01 was a Thursday

  bool fits_four_digit_year() const noexcept { return year >= 0 && year <= 9999; }
};

UtcTime to_utc(Clock::time_point time) noexcept;
UtcTime to_utc_seconds(std::int64_t epoch_seconds) noexcept;

// Writes "20130524T000000Z" (16 characters, ISO 8601 basic format, SigV4's X-Amz-Date).
// The first 8 characters are the credential scope's date. Requires fits_four_digit_year().
void format_amz_date(const UtcTime& time, char (&out)[16]) noexcept;

// Appends "Fri, 24 May 2013 00:00:00 GMT" (RFC 7231 IMF-fixdate, the Date header SigV2 signs;
// the same text Python's email.utils.formatdate(usegmt=True) produces).
// Requires fits_four_digit_year().
void append_http_date(const UtcTime& time, std::string& out);

std::string amz_date(Clock::time_point time);
std::string http_date(Clock::time_point time);

// Parses "2015-08-30T12:36:00Z" (also "...:00.123Z"; fractions are dropped) or the basic form
// "20150830T123600Z". nullopt when the text is anything else, or a time the clock cannot hold
// (before 1678 or after 2261). For tools and tests reading timestamps; the signers themselves
// take a Clock::time_point.
std::optional<Clock::time_point> parse_iso8601(std::string_view text);

} // namespace credrotd::sign
