// SPDX-License-Identifier: Apache-2.0
// Proxy selection: *_proxy variables and no_proxy matching (hosts, domains, IPs, CIDRs).
#include "net/proxy.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/network_v4.hpp>
#include <boost/asio/ip/network_v6.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>

namespace credrotd::net {

namespace {

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

std::string_view trim(std::string_view text)
{
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front())) != 0) {
    text.remove_prefix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())) != 0) {
    text.remove_suffix(1);
  }
  return text;
}

bool iequals(std::string_view a, std::string_view b)
{
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
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

} // namespace credrotd::net
