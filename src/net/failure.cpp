// SPDX-License-Identifier: Apache-2.0
// Socket, TLS and HTTP error codes translated into the error vocabulary (failure.hpp).
#include "net/failure.hpp"

#include "net/retry.hpp"

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>
#include <fmt/core.h>

namespace credrotd::net {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using core::Errc;

bool is_connection_closed(const boost::system::error_code& ec)
{
  return ec == http::error::end_of_stream || ec == asio::error::eof ||
         ec == asio::error::connection_reset || ec == asio::error::connection_aborted ||
         ec == asio::error::broken_pipe || ec == asio::ssl::error::stream_truncated;
}

core::Error classify(const boost::system::error_code& ec, std::string_view phase,
                     const std::string& display, bool deadline_passed, Clock::duration elapsed,
                     const ClientOptions& options)
{
  const auto error = [&display](Errc code, std::string_view what) {
    return core::Error{code, fmt::format("{}: {}", display, what)};
  };
  if (ec == boost::beast::error::timeout || ec == asio::error::timed_out || deadline_passed) {
    return error(Errc::timeout,
                 fmt::format("deadline passed while {} (after {})", phase,
                             milliseconds_text(
                                 std::chrono::duration_cast<std::chrono::milliseconds>(elapsed))));
  }
  if (ec == http::error::body_limit) {
    return error(Errc::protocol,
                 fmt::format("response body larger than {} bytes", options.max_body_bytes));
  }
  if (ec == http::error::header_limit) {
    return error(Errc::protocol,
                 fmt::format("response header larger than {} bytes", options.max_header_bytes));
  }
  if (ec == http::error::end_of_stream || ec == asio::error::eof ||
      ec == asio::ssl::error::stream_truncated) {
    return error(Errc::transient, fmt::format("connection closed by the server while {}", phase));
  }
  if (ec == http::error::partial_message) {
    return error(Errc::transient, "connection closed in the middle of the response");
  }
  if (ec.category() == http::make_error_code(http::error::end_of_stream).category()) {
    return error(Errc::protocol, fmt::format("malformed HTTP response ({})", ec.message()));
  }
  if (ec == asio::error::connection_refused) {
    return error(Errc::transient, fmt::format("connection refused while {}", phase));
  }
  if (ec == asio::error::connection_reset || ec == asio::error::connection_aborted ||
      ec == asio::error::broken_pipe) {
    return error(Errc::transient, fmt::format("connection reset while {}", phase));
  }
  return error(Errc::transient, fmt::format("{} while {}", ec.message(), phase));
}

} // namespace credrotd::net
