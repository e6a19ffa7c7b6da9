// SPDX-License-Identifier: Apache-2.0
// Private to src/net: what a failed socket, TLS or HTTP operation means for the caller, in the
// error vocabulary (timeout, transient, protocol) and in words naming the request and phase.
#pragma once

#include "core/error.hpp"
#include "net/http_client.hpp"

#include <boost/system/error_code.hpp>

#include <string>
#include <string_view>

namespace credrotd::net {

// Whether `ec` means "the peer closed or dropped the connection".
bool is_connection_closed(const boost::system::error_code& ec);

// The error of request `display` ("GET https://host/path") failing with `ec` while `phase`
// ("waiting for the response headers"): timeout when `ec` is one or the deadline has passed
// (with the time `elapsed` since the call began); protocol for a malformed response or one
// beyond the limits of `options`; transient for refused, reset or closed connections and
// anything else.
core::Error classify(const boost::system::error_code& ec, std::string_view phase,
                     const std::string& display, bool deadline_passed, Clock::duration elapsed,
                     const ClientOptions& options);

} // namespace credrotd::net
