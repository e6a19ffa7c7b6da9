// SPDX-License-Identifier: Apache-2.0
// Backoff arithmetic and Retry-After parsing.
#include "net/retry.hpp"
#include "result_printer.hpp"

#include <catch2/catch.hpp>

using namespace std::chrono_literals;
using credrotd::net::backoff_delay;
using credrotd::net::parse_retry_after;
using credrotd::net::RetryPolicy;

TEST_CASE("backoff doubles per attempt, is capped, and jitters into the upper half", "[net]")
{
  RetryPolicy policy;
  policy.initial_backoff = 100ms;
  policy.max_backoff = 1000ms;
  CHECK(backoff_delay(policy, 2, 0.0) == 50ms);
  CHECK(backoff_delay(policy, 2, 0.999) == 99ms);
  CHECK(backoff_delay(policy, 3, 0.0) == 100ms);
  CHECK(backoff_delay(policy, 4, 0.5) == 300ms);
  CHECK(backoff_delay(policy, 10, 1.0) == 1000ms);
  CHECK(backoff_delay(policy, 100, 0.0) == 500ms);
}

TEST_CASE("Retry-After is read as seconds or as an HTTP date", "[net]")
{
  const auto now = std::chrono::system_clock::from_time_t(1445412480); // 2015-10-21 07:28:00 UTC
  CHECK(parse_retry_after("2", now) == 2000ms);
  CHECK(parse_retry_after(" 0 ", now) == 0ms);
  CHECK(parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now) == 30000ms);
  CHECK(parse_retry_after("Wednesday, 21-Oct-15 07:28:10 GMT", now) == 10000ms);
  CHECK(parse_retry_after("Wed Oct 21 07:28:05 2015", now) == 5000ms);
  CHECK(parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now) == 0ms);
  CHECK_FALSE(parse_retry_after("soon", now));
  CHECK_FALSE(parse_retry_after("", now));
  CHECK_FALSE(parse_retry_after("-5", now));
  CHECK(*parse_retry_after("99999999999999999999999", now) > 3600s);
}

TEST_CASE("a Retry-After date far from now is capped, not overflowed", "[net]")
{
  // Found by fuzz/http_response (UBSan): years past 2262 overflowed the clock's nanoseconds.
  const auto now = std::chrono::system_clock::from_time_t(1445412480); // 2015-10-21 07:28:00 UTC
  CHECK(parse_retry_after("Wed, 21 Oct 4030 07:28:00 GMT", now) == 365 * 24 * 3600s);
  CHECK(parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT", now) == 365 * 24 * 3600s);
  CHECK(parse_retry_after("Mon, 01 Jan 0001 00:00:00 GMT", now) == 0ms);
  CHECK(parse_retry_after("Wed, 21 Oct 2015 07:27:59 GMT", now) == 0ms);
}
