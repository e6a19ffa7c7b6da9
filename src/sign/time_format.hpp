// SPDX-License-Identifier: Apache-2.0
// The date formats the signers put on the wire: SigV4's X-Amz-Date and SigV2's HTTP Date.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace credrotd::sign {

using Clock = std::chrono::system_clock;

// "20130524T000000Z" (ISO 8601 basic format, SigV4's X-Amz-Date), in UTC, truncated to the
// second toward the past. The first 8 characters are the credential scope's date.
std::string amz_date(Clock::time_point time);

// "Fri, 24 May 2013 00:00:00 GMT" (RFC 7231 IMF-fixdate, the Date header SigV2 signs; the same
// text Python's email.utils.formatdate(usegmt=True) produces).
std::string http_date(Clock::time_point time);

// Parses "2015-08-30T12:36:00Z" (also "...:00.123Z"; fractions are dropped) or the basic form
// "20150830T123600Z". nullopt when the text is anything else, or a time the clock cannot hold
// (before 1678 or after 2261). For tools and tests reading timestamps; the signers themselves
// take a Clock::time_point.
std::optional<Clock::time_point> parse_iso8601(std::string_view text);

} // namespace credrotd::sign
