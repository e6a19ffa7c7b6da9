// SPDX-License-Identifier: Apache-2.0
// When to try a request again: which statuses, exponential backoff with jitter, the
// Retry-After header, and the decision HttpClient::send() takes after each failed attempt.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace credrotd::net {

struct RetryPolicy {
  // Attempts in all, the first included; 1 disables retries.
  int max_attempts = 4;
  // Delay before the second attempt; each later one doubles it, up to max_backoff.
  std::chrono::milliseconds initial_backoff{250};
  std::chrono::milliseconds max_backoff{4000};
  // A Retry-After longer than this is not waited for: the request fails as transient at once.
  std::chrono::milliseconds max_retry_after{60000};
};

// The delay before attempt number `next_attempt` (2 for the first retry): the exponential
// value d = initial * 2^(next_attempt - 2), capped at max_backoff, then jittered uniformly
// into [d/2, d] by `unit_random` in [0, 1) ("equal jitter": never less than half, so retries
// of many clients spread out without collapsing to zero).
std::chrono::milliseconds backoff_delay(const RetryPolicy& policy, int next_attempt,
                                        double unit_random);

// Parses a Retry-After value: delta-seconds ("120") or an HTTP-date ("Wed, 21 Oct 2015
// 07:28:00 GMT", also the obsolete RFC 850 and asctime forms), relative to `now`. A date in
// the past gives zero. Nullopt for anything else.
std::optional<std::chrono::milliseconds>
parse_retry_after(std::string_view value, std::chrono::system_clock::time_point now);

// The statuses the client retries: 429, 500, 502, 503, 504.
bool is_retried_status(int status) noexcept;

// "250 ms" below 10 s, "12.5 s" from there: how messages show a duration.
std::string milliseconds_text(std::chrono::milliseconds duration);

// What is known after attempt number `attempts` of one call failed transiently.
struct FailedAttempt {
  int attempts = 1;                                     // made so far, this one included
  std::chrono::steady_clock::duration elapsed{};        // since the call began
  std::chrono::steady_clock::duration left{};           // until the call's deadline
  bool safe_to_repeat = true;                           // idempotent, never sent, or a 429
  std::optional<std::chrono::milliseconds> retry_after; // what the server asked for
};

// The wait before the next attempt, or (a string) why there is none, to append to the error
// message: " (2 attempts in 1.2 s)" with the reason: not safe to repeat, attempts used up, a
// Retry-After beyond max_retry_after, or a deadline too close. `unit_random` in [0, 1) jitters
// the backoff.
std::variant<std::chrono::milliseconds, std::string>
next_attempt(const RetryPolicy& policy, const FailedAttempt& failed, double unit_random);

} // namespace credrotd::net
