// SPDX-License-Identifier: Apache-2.0
// Fuzzes the HTTP client's URL, proxy and retry inputs: parse_url() (endpoints from
// credrotd.toml, clouds.yaml and Keystone's catalog, proxy URLs from the environment),
// no_proxy matching, proxy selection, and Retry-After values.
// Input: <url>[\x1f<no_proxy>[\x1f<host>]]; the whole input is also a Retry-After value.
#include "net/proxy.hpp"
#include "net/retry.hpp"
#include "net/url.hpp"
#include "support.hpp"

#include <algorithm>
#include <cctype>

using namespace credrotd;
using namespace credrotd::net;
using fuzz::require;

namespace {

void check_url(const Url& url)
{
  require(!url.host.empty(), "parse_url() gave an empty host");
  require(url.port != 0, "parse_url() gave port 0");
  require(!url.target.empty() && url.target.front() == '/', "the target does not start with '/'");
  require(std::none_of(url.host.begin(), url.host.end(),
                       [](char c) {
                         const auto byte = static_cast<unsigned char>(c);
                         return byte <= 0x20 || byte == 0x7f || c == '/' || c == '?' || c == '#' ||
                                c == '@' || (c >= 'A' && c <= 'Z');
                       }),
          "parse_url() gave a host that cannot go into a Host header or a URL");
  require(url.target.find_first_of(" \r\n") == std::string::npos,
          "parse_url() gave a target that cannot go into a request line");
  require(url.redacted() == url.origin() + url.target.substr(0, url.target.find('?')),
          "redacted() is not the origin and the path");
  (void)url.host_header();
  // What the client sends must parse back into the same URL.
  const auto again = parse_url(url.origin() + url.target);
  require(again.has_value(), "origin() + target does not parse back");
  require(again->scheme == url.scheme && again->host == url.host && again->port == url.port &&
              again->target == url.target,
          "origin() + target parses into another URL");
}

// The password of a "scheme://user:password@host" text, or "".
std::string_view password_of(std::string_view text)
{
  const auto scheme_end = text.find("://");
  const auto at = text.find('@');
  if (scheme_end == std::string_view::npos || at == std::string_view::npos || at < scheme_end) {
    return {};
  }
  const std::string_view userinfo = text.substr(scheme_end + 3, at - scheme_end - 3);
  const auto colon = userinfo.find(':');
  return colon == std::string_view::npos ? std::string_view() : userinfo.substr(colon + 1);
}

// A password no fixed message text can spell out: letters and digits, both present, at least
// eight, and written once in the text.
bool checkable_password(std::string_view text)
{
  const std::string_view password = password_of(text);
  return password.size() >= 8 &&
         std::all_of(password.begin(), password.end(),
                     [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }) &&
         std::any_of(password.begin(), password.end(),
                     [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }) &&
         std::any_of(password.begin(), password.end(),
                     [](char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; }) &&
         text.find(password) == text.rfind(password);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
  const std::string_view input = fuzz::as_text(data, size);
  const auto parts = fuzz::split(input, 3);
  const std::string_view text = parts[0];

  const auto url = parse_url(text, "URL");
  if (url) {
    check_url(*url);
  } else {
    require(url.error().code == core::Errc::config, "parse_url() failed with an unexpected code");
  }
  (void)is_ip_literal(text);

  if (parts.size() > 1) {
    const std::string_view no_proxy = parts[1];
    const std::string_view host = parts.size() > 2 ? parts[2] : std::string_view("s3.example.org");
    const auto port = static_cast<std::uint16_t>(size * 37);
    (void)no_proxy_matches(no_proxy, host, port);
    require(no_proxy_matches("*", host, port), "no_proxy \"*\" does not match everything");

    // The fuzzed URL as the proxy of a request to a fixed target. A proxy URL may carry a
    // password: no error message may repeat the URL.
    const auto target = parse_url("https://s3.fuzz.example:8443/bucket?x=1");
    require(target.has_value(), "the fixed target does not parse");
    const ProxyOptions options{std::string(text), std::string(text), std::string(no_proxy)};
    const auto proxy = proxy_for(options, *target);
    if (proxy) {
      if (*proxy) {
        check_url(**proxy);
        require(!no_proxy_matches(no_proxy, target->host, target->port),
                "a proxy was chosen for a host that no_proxy names");
      }
    } else {
      require(proxy.error().code == core::Errc::config, "proxy_for() failed with another code");
      require(!checkable_password(text) ||
                  proxy.error().message.find(password_of(text)) == std::string::npos,
              "a proxy error quotes the proxy's password");
    }
  }

  const auto now = std::chrono::system_clock::time_point(std::chrono::seconds(1700000000));
  if (const auto delay = parse_retry_after(input, now)) {
    require(delay->count() >= 0, "a negative Retry-After delay");
  }
  RetryPolicy policy;
  policy.initial_backoff = std::chrono::milliseconds(size);
  policy.max_backoff = std::chrono::milliseconds(size * size);
  const int attempt = static_cast<int>(size % 40);
  const double unit = static_cast<double>(size % 7) / 7.0;
  const auto backoff = backoff_delay(policy, attempt, unit);
  require(backoff.count() >= 0 && backoff <= policy.max_backoff,
          "backoff_delay() is outside [0, max_backoff]");
  return 0;
}
