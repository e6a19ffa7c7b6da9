// SPDX-License-Identifier: Apache-2.0
// Prints render_metrics() of a profile with every field set (a running and a finished
// rotation), so that check_monitoring.py knows every series the daemon can write.
#include "wiring/metrics.hpp"

#include <iostream>

using namespace credrotd;
using namespace std::chrono_literals;

int main()
{
  const core::TimePoint now{std::chrono::milliseconds(1767225600000)};
  engine::ProfileStatus p;
  p.name = "sample";
  p.current_access = "AKIDSAMPLE";
  p.current_since = now - 1h;
  p.next_due = now + 24h;
  p.last_success_at = now - 1h;
  p.schedule = core::SchedulePolicy{};
  p.policy = core::RotationPolicy{};
  core::Rotation running;
  running.profile = p.name;
  running.phase = core::Phase::verify;
  running.phase_since = now;
  p.running = running;
  core::Rotation last = running;
  last.phase = core::Phase::done;
  last.outcome = core::Outcome::succeeded;
  last.finished_at = now - 1h;
  p.last = last;
  std::cout << wiring::render_metrics({p}, now);
  return 0;
}
