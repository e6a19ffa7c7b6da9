// SPDX-License-Identifier: Apache-2.0
// The process's capability sets, read and emptied through the raw system calls (libcap is
// not a dependency). Every function here is async-signal-safe: a forked child calls them
// between fork() and execve().
#pragma once

#include <cstdint>

namespace credrotd::sys {

// The five capability sets of the calling thread, one bit per capability (bit N is
// capability N, as in /proc/self/status).
struct CapabilitySets {
  std::uint64_t effective = 0;
  std::uint64_t permitted = 0;
  std::uint64_t inheritable = 0;
  std::uint64_t bounding = 0;
  std::uint64_t ambient = 0;
};

// Reads the calling thread's sets. Returns 0, or the errno of the failing call.
int read_capabilities(CapabilitySets& out) noexcept;

// Whether capability `cap` (CAP_SETUID...) is in the effective set; false when it cannot be
// read.
bool has_effective_capability(int cap) noexcept;

// Removes every capability from the bounding set, so that no program executed afterwards can
// gain one (a set-user-ID-root binary, file capabilities). Needs CAP_SETPCAP in the effective
// set. Returns 0, or EPERM when CAP_SETPCAP is missing and the set was not empty.
int drop_bounding_set() noexcept;

// Empties the ambient, inheritable, permitted and effective sets (lowering them needs no
// privilege; capset is not called when they are empty already). Returns 0, or the errno of
// the failing call.
int clear_capability_sets() noexcept;

} // namespace credrotd::sys
