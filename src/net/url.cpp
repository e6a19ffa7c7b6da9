// SPDX-License-Identifier: Apache-2.0
// Parses http(s) URLs with Boost.URL and prints them without their secrets.
#include "net/url.hpp"

#include "core/text.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <charconv>

namespace credrotd::net {

namespace {

std::uint16_t default_port(Scheme scheme)
{
  return scheme == Scheme::https ? 443 : 80;
}

std::string bracketed(const std::string& host)
{
  if (host.find(':') != std::string::npos) {
    return "[" + host + "]";
  }
  return host;
}

// A decoded host name goes into the Host header, the TLS server name and URLs the client builds
// (origin(), a proxy's request target): only the characters a registered name may hold
// unencoded (RFC 3986 unreserved and sub-delims) can go there unchanged.
bool is_name_char(char c)
{
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
         std::string_view("-._~!$&'()*+,;=").find(c) != std::string_view::npos;
}

} // namespace

std::string Url::origin() const
{
  return std::string(is_https() ? "https://" : "http://") + authority();
}

std::string Url::host_header() const
{
  if (port == default_port(scheme)) {
    return bracketed(host);
  }
  return authority();
}

std::string Url::authority() const
{
  return fmt::format("{}:{}", bracketed(host), port);
}

std::string Url::redacted() const
{
  const auto query = target.find('?');
  return origin() + target.substr(0, query);
}

bool is_ip_literal(std::string_view host)
{
  boost::system::error_code ec;
  (void)boost::asio::ip::make_address(std::string(host), ec);
  return !ec;
}

core::Result<Url> parse_url(std::string_view text, std::string_view what)
{
  // Never echo the whole text: a proxy URL may carry a password.
  const auto fail = [&](std::string_view why) {
    return core::make_error(core::Errc::config,
                            std::string(what) + " is not usable: " + std::string(why));
  };
  auto parsed = boost::urls::parse_absolute_uri(text);
  if (!parsed) {
    return fail("it is not an absolute URL (expected http://host[:port]/path or https://...)");
  }
  const boost::urls::url_view& view = *parsed;
  Url url;
  const std::string scheme = core::ascii_lower(view.scheme());
  if (scheme == "http") {
    url.scheme = Scheme::http;
  } else if (scheme == "https") {
    url.scheme = Scheme::https;
  } else {
    return fail("the scheme \"" + scheme + "\" is not http or https");
  }
  switch (view.host_type()) {
  case boost::urls::host_type::name:
  case boost::urls::host_type::ipv4:
  case boost::urls::host_type::ipv6:
    url.host = core::ascii_lower(view.host_address());
    break;
  default:
    return fail("it names no host");
  }
  if (url.host.empty()) {
    return fail("it names no host");
  }
  if (view.host_type() == boost::urls::host_type::name &&
      !std::all_of(url.host.begin(), url.host.end(), is_name_char)) {
    return fail("its host name holds characters a host name cannot hold (percent-encoded "
                "bytes decode to them; an internationalised name must be written in its "
                "xn-- form)");
  }
  if (view.has_port()) {
    const auto port_text = view.port();
    unsigned value = 0;
    const auto [end, ec] =
        std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
    if (ec != std::errc() || end != port_text.data() + port_text.size() || value == 0 ||
        value > 65535) {
      return fail("the port \"" + std::string(port_text) + "\" is not a number from 1 to 65535");
    }
    url.port = static_cast<std::uint16_t>(value);
  } else {
    url.port = default_port(url.scheme);
  }
  url.target = std::string(view.encoded_target());
  if (url.target.empty() || url.target.front() != '/') {
    url.target.insert(url.target.begin(), '/');
  }
  if (view.has_userinfo()) {
    url.userinfo = view.userinfo();
  }
  return url;
}

} // namespace credrotd::net
