// SPDX-License-Identifier: Apache-2.0
// Retry decisions, backoff arithmetic and Retry-After parsing, kept free of I/O so they can be
// tested alone.
#include "net/retry.hpp"

#include "core/text.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <ctime>
#include <string>

namespace credrotd::net {

std::chrono::milliseconds backoff_delay(const RetryPolicy& policy, int next_attempt,
                                        double unit_random)
{
  const int doublings = std::clamp(next_attempt - 2, 0, 30);
  const double base =
      static_cast<double>(policy.initial_backoff.count()) * std::ldexp(1.0, doublings);
  const double capped = std::min(base, static_cast<double>(policy.max_backoff.count()));
  const double jitter = std::clamp(unit_random, 0.0, 1.0);
  return std::chrono::milliseconds(static_cast<std::int64_t>(capped / 2.0 + capped / 2.0 * jitter));
}

namespace {

std::optional<std::time_t> parse_http_date(std::string_view value)
{
  // RFC 9110 5.6.7: IMF-fixdate, then the obsolete RFC 850 and asctime formats.
  static constexpr std::array<const char*, 3> k_formats = {
      "%a, %d %b %Y %H:%M:%S GMT", "%A, %d-%b-%y %H:%M:%S GMT", "%a %b %e %H:%M:%S %Y"};
  const std::string text(value);
  for (const char* format : k_formats) {
    std::tm tm{};
    const char* end = strptime(text.c_str(), format, &tm);
    if (end != nullptr && *end == '\0') {
      return timegm(&tm);
    }
  }
  return std::nullopt;
}

} // namespace

std::optional<std::chrono::milliseconds>
parse_retry_after(std::string_view value, std::chrono::system_clock::time_point now)
{
  value = core::trim(value, " \t");
  if (value.empty()) {
    return std::nullopt;
  }
  if (std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    std::uint64_t seconds = 0;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
    if (ec != std::errc() || end != value.data() + value.size()) {
      return std::chrono::milliseconds::max(); // absurdly large: treated as "too long"
    }
    seconds = std::min<std::uint64_t>(seconds, 365ULL * 24 * 3600);
    return std::chrono::milliseconds(seconds * 1000);
  }
  const auto when = parse_http_date(value);
  if (!when) {
    return std::nullopt;
  }
  // Compared in seconds first: a date far from now (the formats allow the years 0-9999) does
  // not fit the clock's 64-bit nanoseconds. Capped like delta-seconds.
  constexpr std::time_t k_max_delay = 365LL * 24 * 3600;
  const std::time_t now_seconds = std::chrono::system_clock::to_time_t(now);
  if (*when < now_seconds) {
    return std::chrono::milliseconds(0);
  }
  if (*when > now_seconds + k_max_delay) {
    return std::chrono::milliseconds(k_max_delay * 1000);
  }
  const auto at = std::chrono::system_clock::from_time_t(*when);
  if (at <= now) {
    return std::chrono::milliseconds(0);
  }
  return std::chrono::duration_cast<std::chrono::milliseconds>(at - now);
}

bool is_retried_status(int status) noexcept
{
  return status == 429 || status == 500 || status == 502 || status == 503 || status == 504;
}

std::string milliseconds_text(std::chrono::milliseconds duration)
{
  const auto ms = duration.count();
  if (ms < 10000) {
    return fmt::format("{} ms", ms);
  }
  return fmt::format("{:.1f} s", static_cast<double>(ms) / 1000.0);
}

std::variant<std::chrono::milliseconds, std::string>
next_attempt(const RetryPolicy& policy, const FailedAttempt& failed, double unit_random)
{
  const std::string attempts = fmt::format(
      " ({} {} in {})", failed.attempts, failed.attempts == 1 ? "attempt" : "attempts",
      milliseconds_text(std::chrono::duration_cast<std::chrono::milliseconds>(failed.elapsed)));
  if (!failed.safe_to_repeat) {
    return attempts + "; not retried: the request is not safe to repeat";
  }
  if (failed.attempts >= std::max(1, policy.max_attempts)) {
    return attempts;
  }
  std::chrono::milliseconds delay;
  if (failed.retry_after) {
    if (*failed.retry_after > policy.max_retry_after) {
      return attempts + "; the server asked to retry after " +
             milliseconds_text(*failed.retry_after) + ", longer than credrotd waits";
    }
    delay = *failed.retry_after;
  } else {
    delay = backoff_delay(policy, failed.attempts + 1, unit_random);
  }
  if (delay >= failed.left) {
    return attempts + "; the deadline leaves no time to retry after " + milliseconds_text(delay);
  }
  return delay;
}

} // namespace credrotd::net
