// SPDX-License-Identifier: Apache-2.0
// Proxy selection (*_proxy variables, no_proxy matching of hosts, domains, IPs, CIDRs) and routes.
#include "net/proxy.hpp"

#include "core/text.hpp"
#include "net/retry.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/network_v4.hpp>
#include <boost/asio/ip/network_v6.hpp>
#include <fmt/core.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>

namespace credrotd::net {

namespace {

using core::iequals;
using core::trim;

std::string env(const char* lower_name, const char* upper_name)
{
  for (const char* name : {lower_name, upper_name}) {
    const char* value = std::getenv(name);
    if (value != nullptr && *value != '\0') {
      return value;
    }
  }
  return {};
}

bool ends_with_domain(std::string_view host, std::string_view domain)
{
  if (iequals(host, domain)) {
    return true;
  }
  if (host.size() <= domain.size()) {
    return false;
  }
  return host[host.size() - domain.size() - 1] == '.' &&
         iequals(host.substr(host.size() - domain.size()), domain);
}

// Splits "entry:port" (or "[v6]:port") into the entry and the port, 0 when none.
std::pair<std::string_view, std::uint16_t> split_port(std::string_view entry)
{
  if (!entry.empty() && entry.front() == '[') {
    const auto close = entry.find(']');
    if (close == std::string_view::npos) {
      return {entry, 0};
    }
    std::string_view rest = entry.substr(close + 1);
    std::string_view host = entry.substr(1, close - 1);
    unsigned port = 0;
    if (rest.size() > 1 && rest.front() == ':') {
      std::from_chars(rest.data() + 1, rest.data() + rest.size(), port);
    }
    return {host, static_cast<std::uint16_t>(port)};
  }
  const auto colon = entry.rfind(':');
  // More than one colon without brackets: an IPv6 address or network, not host:port.
  if (colon == std::string_view::npos || entry.find(':') != colon) {
    return {entry, 0};
  }
  unsigned port = 0;
  const auto [end, ec] =
      std::from_chars(entry.data() + colon + 1, entry.data() + entry.size(), port);
  if (ec != std::errc() || end != entry.data() + entry.size() || port > 65535) {
    return {entry, 0};
  }
  return {entry.substr(0, colon), static_cast<std::uint16_t>(port)};
}

bool cidr_matches(std::string_view cidr, const boost::asio::ip::address& address)
{
  boost::system::error_code ec;
  if (address.is_v4()) {
    const auto network = boost::asio::ip::make_network_v4(std::string(cidr), ec);
    if (ec) {
      return false;
    }
    return boost::asio::ip::network_v4(address.to_v4(), network.prefix_length()).canonical() ==
           network.canonical();
  }
  const auto network = boost::asio::ip::make_network_v6(std::string(cidr), ec);
  if (ec) {
    return false;
  }
  return boost::asio::ip::network_v6(address.to_v6(), network.prefix_length()).canonical() ==
         network.canonical();
}

} // namespace

ProxyOptions ProxyOptions::from_environment()
{
  ProxyOptions options;
  options.http_proxy = env("http_proxy", "HTTP_PROXY");
  options.https_proxy = env("https_proxy", "HTTPS_PROXY");
  options.no_proxy = env("no_proxy", "NO_PROXY");
  return options;
}

bool no_proxy_matches(std::string_view no_proxy, std::string_view host, std::uint16_t port)
{
  boost::system::error_code ec;
  const auto address = boost::asio::ip::make_address(std::string(host), ec);
  const bool host_is_ip = !ec;
  while (!no_proxy.empty()) {
    const auto comma = no_proxy.find(',');
    std::string_view entry = trim(no_proxy.substr(0, comma));
    no_proxy = comma == std::string_view::npos ? std::string_view{} : no_proxy.substr(comma + 1);
    if (entry.empty()) {
      continue;
    }
    if (entry == "*") {
      return true;
    }
    auto [name, entry_port] = split_port(entry);
    if (entry_port != 0 && entry_port != port) {
      continue;
    }
    if (host_is_ip) {
      if (name.find('/') != std::string_view::npos) {
        if (cidr_matches(name, address)) {
          return true;
        }
        continue;
      }
      boost::system::error_code entry_ec;
      const auto entry_address = boost::asio::ip::make_address(std::string(name), entry_ec);
      if (!entry_ec && entry_address == address) {
        return true;
      }
      continue;
    }
    if (!name.empty() && name.front() == '.') {
      name.remove_prefix(1);
    }
    if (!name.empty() && name.front() == '*') { // "*.example.com"
      name.remove_prefix(1);
      if (!name.empty() && name.front() == '.') {
        name.remove_prefix(1);
      }
    }
    if (!name.empty() && ends_with_domain(host, name)) {
      return true;
    }
  }
  return false;
}

core::Result<std::optional<Url>> proxy_for(const ProxyOptions& options, const Url& target)
{
  const std::string& configured = target.is_https() ? options.https_proxy : options.http_proxy;
  if (configured.empty() || no_proxy_matches(options.no_proxy, target.host, target.port)) {
    return std::optional<Url>{};
  }
  // "proxy:3128" without a scheme is common in the wild; curl reads it as http://.
  std::string text = configured;
  if (text.find("://") == std::string::npos) {
    text = "http://" + text;
  }
  const char* name = target.is_https() ? "https_proxy" : "http_proxy";
  CREDROTD_TRY_ASSIGN(Url proxy, parse_url(text, std::string("the proxy URL in ") + name));
  if (proxy.is_https()) {
    return core::make_error(core::Errc::config,
                            std::string("the proxy URL in ") + name +
                                " uses https://; only http:// proxies are supported (the "
                                "connection to the server is still TLS end to end through "
                                "CONNECT)");
  }
  return std::optional<Url>{std::move(proxy)};
}

core::Result<Route> route_for(const ProxyOptions& options, std::string_view method,
                              std::string_view url)
{
  Route route;
  CREDROTD_TRY_ASSIGN(route.url, parse_url(url, "the request URL"));
  if (!route.url.userinfo.empty()) {
    return core::make_error(core::Errc::config,
                            "the request URL for " + route.url.redacted() +
                                " carries user:password; credrotd sends credentials only in "
                                "headers or bodies");
  }
  route.display = fmt::format("{} {}", method, route.url.redacted());
  CREDROTD_TRY_ASSIGN(route.proxy, proxy_for(options, route.url));
  if (!route.proxy) {
    route.pool_key = route.url.origin();
  } else if (route.url.is_https()) {
    route.pool_key = route.url.origin() + " via " + route.proxy->authority();
  } else {
    route.pool_key = "proxy " + route.proxy->origin();
  }
  return route;
}

std::string proxy_authorization(const Url& proxy)
{
  if (proxy.userinfo.empty()) {
    return {};
  }
  return "Basic " + core::base64_encode(proxy.userinfo);
}

core::Error connect_refused(const Route& route, int status, bool extra_bytes)
{
  const std::string what =
      fmt::format("{}: the proxy {} answered CONNECT with HTTP {}", route.display,
                  route.proxy ? route.proxy->authority() : std::string(), status);
  if (status / 100 == 2 && extra_bytes) {
    return core::Error{core::Errc::protocol,
                       what + " followed by unexpected bytes before the TLS handshake"};
  }
  if (status == 407) {
    return core::Error{core::Errc::auth_rejected,
                       what + ": it wants credentials; put user:password@ in the https_proxy URL"};
  }
  if (status == 403) {
    return core::Error{core::Errc::forbidden, what + ": it does not allow tunnels to " +
                                                  route.url.authority() +
                                                  " (or set no_proxy for it)"};
  }
  return core::Error{is_retried_status(status) ? core::Errc::transient : core::Errc::protocol,
                     what};
}

} // namespace credrotd::net
