// SPDX-License-Identifier: Apache-2.0
// Names and helpers of the error vocabulary.
#include "core/error.hpp"

namespace credrotd::core {

std::string_view to_string(Errc code) noexcept
{
  switch (code) {
  case Errc::auth_rejected:
    return "auth_rejected";
  case Errc::forbidden:
    return "forbidden";
  case Errc::not_found:
    return "not_found";
  case Errc::conflict:
    return "conflict";
  case Errc::transient:
    return "transient";
  case Errc::timeout:
    return "timeout";
  case Errc::tls:
    return "tls";
  case Errc::clock_skew:
    return "clock_skew";
  case Errc::protocol:
    return "protocol";
  case Errc::parse:
    return "parse";
  case Errc::io:
    return "io";
  case Errc::config:
    return "config";
  case Errc::unsafe:
    return "unsafe";
  case Errc::cancelled:
    return "cancelled";
  case Errc::internal:
    return "internal";
  }
  return "internal";
}

bool is_transient(Errc code) noexcept
{
  return code == Errc::transient || code == Errc::timeout;
}

std::string Error::describe() const
{
  std::string out(to_string(code));
  out += ": ";
  out += message;
  return out;
}

ErrorException::ErrorException(Error error)
    : std::runtime_error(error.describe()), m_error(std::move(error))
{}

void throw_exception_from_error(const Error& error, const boost::source_location&)
{
  throw ErrorException(error);
}

std::string describe(const std::exception_ptr& e)
{
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    return ex.what();
  } catch (...) { // NOLINT(bugprone-empty-catch): described as unknown
  }
  return "unknown exception";
}

} // namespace credrotd::core
