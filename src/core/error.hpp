// SPDX-License-Identifier: Apache-2.0
// The error vocabulary of credrotd and the Result type every fallible function returns.
#pragma once

#include <boost/system/result.hpp>

#include <exception>
#include <stdexcept>
#include <string>
#include <string_view>

namespace credrotd::core {

// What went wrong, in the terms that decide what happens next: retry, roll back, or stop
// and tell the operator. Adapters map their failures onto these; nothing above them sees
// an HTTP status or an errno.
enum class Errc {
  auth_rejected, // the server refused the credentials (Keystone 401, S3 SignatureDoesNotMatch,
                 // InvalidAccessKeyId, AccessDenied)
  forbidden,     // authenticated, but policy does not allow the call (Keystone 403)
  not_found,     // the thing asked for does not exist (404)
  conflict,      // the thing to create exists already (409)
  transient,     // worth retrying: connection refused/reset, 5xx, 429
  timeout,       // a deadline passed
  tls,           // certificate or handshake failure; never retried
  clock_skew,    // the server says our clock is off (RequestTimeTooSkewed)
  protocol,      // the peer answered something we cannot use (bad HTTP, garbage JSON)
  parse,         // a file we read is malformed; the message names file:line:column
  io,            // a local file-system or OS call failed; the message names the file
  config,        // the configuration is invalid; the message names file:line:column
  unsafe,        // refused for safety: symlink/hardlink redirection, wrong owner, encrypted file
  cancelled,     // the operation was cancelled (shutdown)
  internal,      // a broken invariant, reported as a value where throwing would lose state
};

// Stable snake_case name of a code ("auth_rejected"); used in logs, SQLite and D-Bus error names.
std::string_view to_string(Errc code) noexcept;

// True for failures that may go away by themselves and are worth retrying with backoff.
bool is_transient(Errc code) noexcept;

struct Error {
  Errc code = Errc::internal;
  std::string message; // never contains a secret

  // "code: message".
  std::string describe() const;
};

inline Error make_error(Errc code, std::string message)
{
  return Error{code, std::move(message)};
}

template <class T> using Result = boost::system::result<T, Error>;
using Status = boost::system::result<void, Error>;

// Thrown by Result<T>::value() on an error; also used for fatal start-up errors.
class ErrorException : public std::runtime_error {
public:
  explicit ErrorException(Error error);
  const Error& error() const noexcept { return m_error; }

private:
  Error m_error;
};

// Found by ADL so that Result<T>::value() throws ErrorException.
[[noreturn]] void throw_exception_from_error(const Error& error, const boost::source_location& loc);

// what() of the exception `e` holds, or "unknown exception"; for coroutine completions that
// report an exception that escaped.
std::string describe(const std::exception_ptr& e);

} // namespace credrotd::core

#define CREDROTD_CONCAT_IMPL(a, b) a##b
#define CREDROTD_CONCAT(a, b) CREDROTD_CONCAT_IMPL(a, b)

#define CREDROTD_TRY_ASSIGN_IMPL(tmp, lhs, expr, ret)                                              \
  auto tmp = (expr);                                                                               \
  if (!tmp) {                                                                                      \
    ret std::move(tmp).error();                                                                    \
  }                                                                                                \
  lhs = std::move(*tmp)

// `CREDROTD_TRY_ASSIGN(auto value, fallible());` declares `value` from a successful Result or
// returns its error from the enclosing function. CREDROTD_CO_TRY_ASSIGN does the same with
// co_return inside a coroutine.
#define CREDROTD_TRY_ASSIGN(lhs, expr)                                                             \
  CREDROTD_TRY_ASSIGN_IMPL(CREDROTD_CONCAT(credrotd_try_, __LINE__), lhs, expr, return )
#define CREDROTD_CO_TRY_ASSIGN(lhs, expr)                                                          \
  CREDROTD_TRY_ASSIGN_IMPL(CREDROTD_CONCAT(credrotd_try_, __LINE__), lhs, expr, co_return )

#define CREDROTD_TRY_IMPL(tmp, expr, ret)                                                          \
  do {                                                                                             \
    auto tmp = (expr);                                                                             \
    if (!tmp) {                                                                                    \
      ret std::move(tmp).error();                                                                  \
    }                                                                                              \
  } while (false)

// `CREDROTD_TRY(fallible_status());` returns the error from the enclosing function.
#define CREDROTD_TRY(expr)                                                                         \
  CREDROTD_TRY_IMPL(CREDROTD_CONCAT(credrotd_try_, __LINE__), expr, return )
#define CREDROTD_CO_TRY(expr)                                                                      \
  CREDROTD_TRY_IMPL(CREDROTD_CONCAT(credrotd_try_, __LINE__), expr, co_return )
