// SPDX-License-Identifier: Apache-2.0
// Which proxy, if any, a request goes through (explicit options or the *_proxy variables), the
// route a request takes, and what a proxy's answer to CONNECT means.
#pragma once

#include "core/error.hpp"
#include "net/url.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace credrotd::net {

// Proxy settings in the form of the conventional environment variables. Empty fields mean
// "no proxy for that scheme". Explicit rather than read by the client from the environment,
// so that tests and the daemon decide where settings come from.
struct ProxyOptions {
  std::string http_proxy;  // "http://[user:password@]proxy:3128" for http:// requests
  std::string https_proxy; // proxy for https:// requests, reached with CONNECT
  std::string no_proxy;    // comma-separated hosts, domain suffixes, IPs, CIDRs, "*"

  // Reads https_proxy/HTTPS_PROXY, http_proxy/HTTP_PROXY and no_proxy/NO_PROXY (the lower-case
  // spelling wins when both are set, as curl and Python's requests do).
  static ProxyOptions from_environment();
};

// True when `host` (a name or an IP literal, no brackets) matches an entry of `no_proxy`:
// "*"; an exact host; a domain ("example.com" and ".example.com" both match the domain and
// every name under it); an IP address; a CIDR block ("127.0.0.0/8", "::/127"); any of those
// with ":port", which then only matches that port. Comparison ignores case.
bool no_proxy_matches(std::string_view no_proxy, std::string_view host, std::uint16_t port);

// The proxy a request to `target` goes through, or nullopt for a direct connection.
// Errors (Errc::config): the configured proxy URL does not parse; the message names the
// variable, never its value (it may hold a password).
core::Result<std::optional<Url>> proxy_for(const ProxyOptions& options, const Url& target);

// One request's routing: where the TCP connection goes and how it is pooled.
struct Route {
  Url url;
  std::optional<Url> proxy;
  std::string pool_key; // connections are reused between requests of the same key
  std::string display;  // "GET https://host:port/path" (no query, no userinfo)
};

// The route of a request for `url` sent with `method` ("GET"...). Errors (Errc::config): the
// URL does not parse or carries user:password; the proxy URL is unusable.
core::Result<Route> route_for(const ProxyOptions& options, std::string_view method,
                              std::string_view url);

// "Basic <base64 of user:password>" for the Proxy-Authorization header of a proxy URL with
// userinfo; empty without.
std::string proxy_authorization(const Url& proxy);

// The error for a proxy's answer `status` to CONNECT (a 2xx followed by bytes before the TLS
// handshake is `extra_bytes`): auth_rejected for 407, forbidden for 403, transient for 429 and
// 5xx the client retries, protocol otherwise.
core::Error connect_refused(const Route& route, int status, bool extra_bytes);

} // namespace credrotd::net
