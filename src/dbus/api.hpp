// SPDX-License-Identifier: Apache-2.0
// Names of credrotd's D-Bus API and the one mapping between core errors and D-Bus error names,
// shared by the daemon's adaptor and credrotctl (io.github.credrotd.Manager1.xml describes it).
#pragma once

#include "core/error.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace credrotd::dbus {

inline constexpr const char* k_bus_name = "io.github.credrotd";
inline constexpr const char* k_object_path = "/io/github/credrotd";
inline constexpr const char* k_interface = "io.github.credrotd.Manager1";
inline constexpr std::string_view k_error_prefix = "io.github.credrotd.Error.";
// The caller is not allowed to make this call (the daemon's own check, after the bus policy).
inline constexpr const char* k_access_denied = "io.github.credrotd.Error.AccessDenied";

// History's limit when the caller passes 0, and the most it returns.
inline constexpr std::uint32_t k_history_default = 20;
inline constexpr std::uint32_t k_history_max = 10000;

// "io.github.credrotd.Error.NotFound" for Errc::not_found, and so on for every code: the
// UpperCamelCase form of core::to_string(code). Stable: scripts match these names.
std::string error_name(core::Errc code);

// The inverse of error_name(); nullopt for AccessDenied and any other name.
std::optional<core::Errc> errc_from_error_name(std::string_view name) noexcept;

// Times on the bus: int64 microseconds since the Unix epoch, 0 for "unknown".
template <class Clock, class Duration>
std::int64_t to_usec(const std::optional<std::chrono::time_point<Clock, Duration>>& t)
{
  if (!t) {
    return 0;
  }
  return std::chrono::duration_cast<std::chrono::microseconds>(t->time_since_epoch()).count();
}

} // namespace credrotd::dbus
