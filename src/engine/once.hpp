// SPDX-License-Identifier: Apache-2.0
// `credrotd --once`: one pass of the engine, from unfinished rotations to a line per rotation.
#pragma once

#include "engine/engine.hpp"

#include <ostream>
#include <string>
#include <vector>

namespace credrotd::engine {

enum class OnceResult {
  done,            // every rotation succeeded, or nothing was due
  rotation_failed, // a rotation did not start, rolled back or failed
  unknown_profile, // a requested profile is not configured: nothing was started
};

struct OnceReport {
  OnceResult result = OnceResult::done;
  std::string error; // unknown_profile: "no profile named <name>"
};

// Resumes the rotations a previous run left unfinished, then rotates `profiles` (empty: every
// enabled profile due now, a profile that never rotated included) unless a resumed rotation
// already covers it, and waits for all of them. Writes one line per rotation to `out` (the
// outcome and the keys, or why it did not start), or "nothing due". `engine`, `state` and
// `out` must outlive the task; a stop() of the engine ends the waits early.
Task<OnceReport> run_once(Engine* engine, const StatePort* state, std::vector<std::string> profiles,
                          std::ostream* out);

} // namespace credrotd::engine
