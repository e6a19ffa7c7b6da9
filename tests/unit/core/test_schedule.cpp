// SPDX-License-Identifier: Apache-2.0
// Tests of due-time arithmetic: interval, jitter, windows, failure backoff.
#include "core/schedule.hpp"

#include <catch2/catch.hpp>

using namespace credrotd::core;
using namespace std::chrono_literals;

namespace {

// 2023-11-14 22:13:20 UTC.
const TimePoint t0{std::chrono::milliseconds(1'700'000'000'000)};
// Midnight UTC of that day.
const TimePoint midnight{std::chrono::milliseconds(1'699'920'000'000)};

} // namespace

TEST_CASE("a successful rotation is next due after the interval plus jitter", "[core][schedule]")
{
  SchedulePolicy p;
  p.interval = 24h * 30;
  p.jitter = 2h;
  CHECK(next_due_after_success(t0, p, 0.0, 0s) == t0 + 24h * 30);
  CHECK(next_due_after_success(t0, p, 0.5, 0s) == t0 + 24h * 30 + 1h);
  CHECK(next_due_after_success(t0, p, 7.0, 0s) == t0 + 24h * 30 + 2h); // clamped
}

TEST_CASE("a due time outside the window moves to the window's next start", "[core][schedule]")
{
  const DailyWindow night{2 * 60, 5 * 60};                             // 02:00-05:00
  CHECK(fit_window(midnight + 3h, night, 0s) == midnight + 3h);        // inside
  CHECK(fit_window(midnight + 1h, night, 0s) == midnight + 2h);        // later today
  CHECK(fit_window(midnight + 5h, night, 0s) == midnight + 24h + 2h);  // end is exclusive
  CHECK(fit_window(midnight + 23h, night, 0s) == midnight + 24h + 2h); // tomorrow
  // Local time two hours ahead of UTC: 02:00 local is 00:00 UTC.
  CHECK(fit_window(midnight + 1h, night, 2h) == midnight + 1h);
  CHECK(fit_window(midnight + 4h, night, 2h) == midnight + 24h);
}

TEST_CASE("a window may wrap midnight, and an empty window is the whole day", "[core][schedule]")
{
  const DailyWindow wrap{22 * 60, 2 * 60}; // 22:00-02:00
  CHECK(fit_window(midnight + 23h, wrap, 0s) == midnight + 23h);
  CHECK(fit_window(midnight + 1h, wrap, 0s) == midnight + 1h);
  CHECK(fit_window(midnight + 12h, wrap, 0s) == midnight + 22h);
  CHECK(fit_window(midnight + 12h, DailyWindow{60, 60}, 0s) == midnight + 12h);
}

TEST_CASE("failures back off exponentially up to the interval or a day", "[core][schedule]")
{
  SchedulePolicy p;
  p.interval = 24h * 30;
  p.failure_backoff_min = 5min;
  CHECK(next_due_after_failure(t0, 1, p, 0s) == t0 + 5min);
  CHECK(next_due_after_failure(t0, 2, p, 0s) == t0 + 10min);
  CHECK(next_due_after_failure(t0, 4, p, 0s) == t0 + 40min);
  CHECK(next_due_after_failure(t0, 50, p, 0s) == t0 + 24h);
  p.interval = 30min;
  CHECK(next_due_after_failure(t0, 50, p, 0s) == t0 + 30min);
}

TEST_CASE("a profile that never rotated is due within its jitter", "[core][schedule]")
{
  SchedulePolicy p;
  p.jitter = 1h;
  CHECK(first_due(t0, p, 0.0, 0s) == t0);
  CHECK(first_due(t0, p, 0.25, 0s) == t0 + 15min);
  p.window = DailyWindow{2 * 60, 5 * 60};
  CHECK(first_due(midnight + 6h, p, 0.0, 0s) == midnight + 24h + 2h);
}

TEST_CASE("a due time moved to the window is spread over it by the jitter fraction",
          "[core][schedule]")
{
  // A fleet whose due times fall outside 02:00-05:00 must not all start at 02:00.
  SchedulePolicy p;
  p.interval = 24h;
  p.jitter = 1h;
  p.window = DailyWindow{2 * 60, 5 * 60};
  const TimePoint noon = midnight + 12h;
  CHECK(next_due_after_success(noon, p, 0.0, 0s) == midnight + 24h + 24h + 2h);
  CHECK(next_due_after_success(noon, p, 0.5, 0s) == midnight + 24h + 24h + 3h + 30min);
  CHECK(first_due(noon, p, 0.99, 0s) < midnight + 24h + 5h); // still inside the window
  // A due time already inside the window keeps its place.
  CHECK(next_due_after_success(midnight + 2h + 30min - 24h, p, 0.5, 0s) == midnight + 3h);
  // A window across midnight (22:00-01:00, 3 hours).
  p.window = DailyWindow{22 * 60, 60};
  CHECK(first_due(noon, p, 0.5, 0s) == midnight + 22h + 90min);
  // jitter = 0 asks for no randomness: the window's start.
  p.jitter = 0s;
  CHECK(first_due(noon, p, 0.5, 0s) == midnight + 22h);
}
