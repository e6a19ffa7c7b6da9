// SPDX-License-Identifier: Apache-2.0
// When a profile is due: interval, jitter, an optional daily window, backoff after failures.
#pragma once

#include "core/rotation.hpp"

#include <optional>

namespace credrotd::core {

// A daily time window in local time, [start, end) in minutes after midnight. end < start
// means the window wraps midnight ("22:00-02:00"); start == end is the whole day.
struct DailyWindow {
  int start_minute = 0;
  int end_minute = 0;
};

struct SchedulePolicy {
  Duration interval = std::chrono::hours(24 * 30);
  Duration jitter = std::chrono::hours(1);
  std::optional<DailyWindow> window;
  Duration failure_backoff_min = std::chrono::minutes(5); // first retry after a failure
};

// The earliest time >= t inside the window. `utc_offset` is the local time's offset from UTC
// at t (the caller reads it from the system's time zone; a DST change inside the wait can
// shift the result by the DST difference, which is accepted).
TimePoint fit_window(TimePoint t, const DailyWindow& window, Duration utc_offset);

// When to rotate after a successful rotation that finished at `finished`:
// finished + interval + jitter_fraction * jitter, moved into the window. A time moved to the
// window's start is then put jitter_fraction of the way into the window (unless jitter is
// 0), so that a fleet whose due times fall outside it spreads over the whole window instead of
// starting at its first minute together. `jitter_fraction` is a random number in [0, 1) drawn by
// the caller.
TimePoint next_due_after_success(TimePoint finished, const SchedulePolicy& policy,
                                 double jitter_fraction, Duration utc_offset);

// When to try again after `consecutive_failures` (>= 1) failed rotations in a row:
// backoff_min * 2^(n-1), capped at the interval (and at one day), moved into the window.
TimePoint next_due_after_failure(TimePoint finished, int consecutive_failures,
                                 const SchedulePolicy& policy, Duration utc_offset);

// When a profile that has never rotated is first due: now + jitter_fraction * jitter, in the
// window (spread over it as above). Its key's age is unknown (Keystone records no creation time),
// so it is rotated soon.
TimePoint first_due(TimePoint now, const SchedulePolicy& policy, double jitter_fraction,
                    Duration utc_offset);

} // namespace credrotd::core
