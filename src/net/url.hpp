// SPDX-License-Identifier: Apache-2.0
// The parts of an http(s) URL the client needs, and a form of it that is safe to print.
#pragma once

#include "core/error.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace credrotd::net {

enum class Scheme { http, https };

struct Url {
  Scheme scheme = Scheme::http;
  std::string host;       // without brackets for IPv6 literals, lower case
  std::uint16_t port = 0; // explicit or the scheme's default
  std::string target;     // origin-form: path and query, at least "/"
  std::string userinfo;   // "user:password" of a proxy URL, percent-decoded; empty otherwise

  bool is_https() const noexcept { return scheme == Scheme::https; }
  // "https://host:port": the connection pool key and the form used in messages.
  std::string origin() const;
  // "host" or "[v6]" followed by ":port" unless it is the scheme's default: the Host header.
  std::string host_header() const;
  // "host:port" ("[v6]:port"): the CONNECT target.
  std::string authority() const;
  // origin() + the path, without the query string (which may carry signatures) and without
  // userinfo: what error messages show.
  std::string redacted() const;
};

// Parses an absolute http:// or https:// URL. Errors (Errc::config): not absolute, another
// scheme, no host, a port out of range. `what` names the URL's role in messages ("proxy URL").
core::Result<Url> parse_url(std::string_view text, std::string_view what = "URL");

// True when `host` is an IPv4 or IPv6 literal (no SNI is sent for those).
bool is_ip_literal(std::string_view host);

} // namespace credrotd::net
