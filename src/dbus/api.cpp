// SPDX-License-Identifier: Apache-2.0
// The D-Bus error names of credrotd's error codes.
#include "dbus/api.hpp"

#include <array>
#include <cctype>

namespace credrotd::dbus {

namespace {

constexpr std::array k_codes = {
    core::Errc::auth_rejected, core::Errc::forbidden, core::Errc::not_found, core::Errc::conflict,
    core::Errc::transient,     core::Errc::timeout,   core::Errc::tls,       core::Errc::clock_skew,
    core::Errc::protocol,      core::Errc::parse,     core::Errc::io,        core::Errc::config,
    core::Errc::unsafe,        core::Errc::cancelled, core::Errc::internal,
};

// "auth_rejected" -> "AuthRejected".
std::string camel(std::string_view snake)
{
  std::string out;
  bool upper = true;
  for (const char c : snake) {
    if (c == '_') {
      upper = true;
      continue;
    }
    out += upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
    upper = false;
  }
  return out;
}

} // namespace

std::string error_name(core::Errc code)
{
  return std::string(k_error_prefix) + camel(core::to_string(code));
}

std::optional<core::Errc> errc_from_error_name(std::string_view name) noexcept
{
  if (!name.starts_with(k_error_prefix)) {
    return std::nullopt;
  }
  const auto rest = name.substr(k_error_prefix.size());
  try {
    for (const auto code : k_codes) {
      if (camel(core::to_string(code)) == rest) {
        return code;
      }
    }
  } catch (...) { // NOLINT(bugprone-empty-catch): out of memory: no match
  }
  return std::nullopt;
}

} // namespace credrotd::dbus
