// SPDX-License-Identifier: Apache-2.0
// Named crash points for the crash-safety tests: test builds can stop the process hard there.
#pragma once

#include <string_view>

namespace credrotd::engine {

// In builds with CREDROTD_FAULT_INJECTION, kills the process with SIGKILL when `name` matches
// $CREDROTD_CRASH_AT ("NAME" for the first time it is reached, "NAME#N" for the N-th), so a
// test can stop the daemon at any step boundary and check how it recovers. Every point
// reached is appended to $CREDROTD_CRASH_LOG when set, so tests can enumerate them. Compiled
// to nothing in other builds.
#ifdef CREDROTD_FAULT_INJECTION
void crash_point(std::string_view name);
#else
inline void crash_point(std::string_view /*name*/) {}
#endif

} // namespace credrotd::engine
