// SPDX-License-Identifier: Apache-2.0
// When to try a request again: exponential backoff with jitter and the Retry-After header.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

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

} // namespace credrotd::net
