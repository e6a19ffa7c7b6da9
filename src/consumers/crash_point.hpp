// SPDX-License-Identifier: Apache-2.0
// Named points in the file writer where a fault-injection build can stop the process, so
// tests can prove that a crash anywhere leaves the old file or the new one, never a torn one.
#pragma once

#include <string_view>

namespace credrotd::consumers {

// The temp file exists (empty, mode 0600); the target is untouched.
inline constexpr std::string_view k_crash_temp_created = "consumers.temp_created";
// The temp file holds the new content, fsync'ed, with its final owner and mode; the target
// is untouched.
inline constexpr std::string_view k_crash_temp_synced = "consumers.temp_synced";
// The target was checked unchanged since it was read; the rename comes next. (A name
// swapped in now is replaced by the rename, not followed.)
inline constexpr std::string_view k_crash_checked = "consumers.checked";
// The temp file was renamed over the target; the directory is not fsync'ed yet.
inline constexpr std::string_view k_crash_renamed = "consumers.renamed";
// The directory is fsync'ed: the write is complete and durable.
inline constexpr std::string_view k_crash_dir_synced = "consumers.dir_synced";
// In-place mode: the new bytes are written over the old ones, the file is not truncated
// or fsync'ed yet (the one torn state in-place mode can leave).
inline constexpr std::string_view k_crash_in_place_written = "consumers.in_place_written";

// Called at each point above in builds with CREDROTD_FAULT_INJECTION. This definition is a
// weak no-op; a test (or the engine's fault-injection mechanism) links a strong definition
// that may end the process.
void crash_point(std::string_view name);

} // namespace credrotd::consumers

#ifdef CREDROTD_FAULT_INJECTION
#define CREDROTD_CRASH_POINT(name) ::credrotd::consumers::crash_point(name)
#else
#define CREDROTD_CRASH_POINT(name) static_cast<void>(0)
#endif
