// SPDX-License-Identifier: Apache-2.0
// Due-time arithmetic for profiles.
#include "core/schedule.hpp"

#include <algorithm>

namespace credrotd::core {

namespace {

constexpr Duration k_day = std::chrono::hours(24);

Duration scaled(Duration d, double fraction)
{
  fraction = std::clamp(fraction, 0.0, 1.0);
  return Duration(static_cast<Duration::rep>(static_cast<double>(d.count()) * fraction));
}

} // namespace

TimePoint fit_window(TimePoint t, const DailyWindow& window, Duration utc_offset)
{
  if (window.start_minute == window.end_minute) {
    return t;
  }
  const Duration local = t.time_since_epoch() + utc_offset;
  const Duration into_day = ((local % k_day) + k_day) % k_day;
  const auto minute = std::chrono::duration_cast<std::chrono::minutes>(into_day).count();
  const bool wraps = window.end_minute < window.start_minute;
  const bool inside = wraps ? (minute >= window.start_minute || minute < window.end_minute)
                            : (minute >= window.start_minute && minute < window.end_minute);
  if (inside) {
    return t;
  }
  // Move to the next start of the window: today if it is still ahead, else tomorrow.
  const Duration start = std::chrono::minutes(window.start_minute);
  const Duration wait = into_day < start ? start - into_day : k_day - into_day + start;
  return t + wait;
}

namespace {

// fit_window(), and a time moved to the window's start put `fraction` of the way into it.
TimePoint spread_in_window(TimePoint due, const SchedulePolicy& policy, double fraction,
                           Duration utc_offset)
{
  if (!policy.window) {
    return due;
  }
  const TimePoint fitted = fit_window(due, *policy.window, utc_offset);
  if (fitted == due || policy.jitter <= Duration::zero()) {
    return fitted; // jitter = 0: no randomness anywhere, as configured
  }
  const auto& w = *policy.window;
  const Duration length =
      std::chrono::minutes(((w.end_minute - w.start_minute) % (24 * 60) + 24 * 60) % (24 * 60));
  return fitted + scaled(length, fraction);
}

} // namespace

TimePoint next_due_after_success(TimePoint finished, const SchedulePolicy& policy,
                                 double jitter_fraction, Duration utc_offset)
{
  const TimePoint due = finished + policy.interval + scaled(policy.jitter, jitter_fraction);
  return spread_in_window(due, policy, jitter_fraction, utc_offset);
}

TimePoint next_due_after_failure(TimePoint finished, int consecutive_failures,
                                 const SchedulePolicy& policy, Duration utc_offset)
{
  const Duration cap = std::min(policy.interval, k_day);
  Duration wait = policy.failure_backoff_min;
  for (int i = 1; i < consecutive_failures && wait < cap; ++i) {
    wait *= 2;
  }
  wait = std::min(wait, std::max(cap, policy.failure_backoff_min));
  const TimePoint due = finished + wait;
  return policy.window ? fit_window(due, *policy.window, utc_offset) : due;
}

TimePoint first_due(TimePoint now, const SchedulePolicy& policy, double jitter_fraction,
                    Duration utc_offset)
{
  const TimePoint due = now + scaled(policy.jitter, jitter_fraction);
  return spread_in_window(due, policy, jitter_fraction, utc_offset);
}

} // namespace credrotd::core
