// SPDX-License-Identifier: Apache-2.0
// Proxy selection: which requests go through which proxy, and no_proxy matching.
#include "net/proxy.hpp"
#include "result_printer.hpp"

#include <catch2/catch.hpp>

#include <cstdlib>

using credrotd::net::no_proxy_matches;
using credrotd::net::parse_url;
using credrotd::net::proxy_for;
using credrotd::net::ProxyOptions;

TEST_CASE("no_proxy matches hosts, domains, IPs, CIDRs, ports and *", "[net]")
{
  CHECK(no_proxy_matches("*", "anything", 443));
  CHECK(no_proxy_matches("example.com", "example.com", 443));
  CHECK(no_proxy_matches("example.com", "keystone.Example.COM", 443));
  CHECK(no_proxy_matches(".example.com", "keystone.example.com", 443));
  CHECK(no_proxy_matches("*.example.com", "keystone.example.com", 443));
  CHECK_FALSE(no_proxy_matches("example.com", "badexample.com", 443));
  CHECK_FALSE(no_proxy_matches("other.org, example.net", "example.com", 443));
  CHECK(no_proxy_matches(" other.org , example.com ", "example.com", 443));
  CHECK(no_proxy_matches("127.0.0.1", "127.0.0.1", 80));
  CHECK(no_proxy_matches("127.0.0.0/8", "127.1.2.3", 80));
  CHECK_FALSE(no_proxy_matches("127.0.0.0/16", "127.1.2.3", 80));
  CHECK(no_proxy_matches("::/127", "::1", 80));
  CHECK(no_proxy_matches("::1", "::1", 80));
  CHECK(no_proxy_matches("[::1]:5000", "::1", 5000));
  CHECK_FALSE(no_proxy_matches("[::1]:5000", "::1", 5001));
  CHECK(no_proxy_matches("keystone:5000", "keystone", 5000));
  CHECK_FALSE(no_proxy_matches("keystone:5000", "keystone", 443));
  CHECK_FALSE(no_proxy_matches("", "keystone", 443));
  CHECK_FALSE(no_proxy_matches("example.com", "127.0.0.1", 443));
}

TEST_CASE("https requests use https_proxy, http requests http_proxy, no_proxy bypasses", "[net]")
{
  ProxyOptions options;
  options.https_proxy = "proxy.local:3128";
  options.http_proxy = "http://plain.local:8080";
  options.no_proxy = "internal.example";

  const auto https = proxy_for(options, *parse_url("https://keystone.example/v3"));
  REQUIRE(https);
  REQUIRE(*https);
  CHECK((*https)->authority() == "proxy.local:3128");

  const auto http = proxy_for(options, *parse_url("http://s3.example/"));
  REQUIRE(http);
  REQUIRE(*http);
  CHECK((*http)->authority() == "plain.local:8080");

  const auto bypass = proxy_for(options, *parse_url("https://internal.example/"));
  REQUIRE(bypass);
  CHECK_FALSE(*bypass);
}

TEST_CASE("a broken proxy setting names the variable, not its value", "[net]")
{
  ProxyOptions options;
  options.https_proxy = "http://user:s3cret@:99999";
  const auto result = proxy_for(options, *parse_url("https://keystone.example/"));
  REQUIRE_FALSE(result);
  CHECK(result.error().code == credrotd::core::Errc::config);
  CHECK(result.error().message.find("https_proxy") != std::string::npos);
  CHECK(result.error().message.find("s3cret") == std::string::npos);
}

TEST_CASE("proxy settings come from the environment, lower case first", "[net]")
{
  ::setenv("https_proxy", "http://lower:1", 1);
  ::setenv("HTTPS_PROXY", "http://upper:2", 1);
  ::unsetenv("http_proxy");
  ::setenv("HTTP_PROXY", "http://upper:3", 1);
  ::setenv("NO_PROXY", "localhost", 1);
  ::unsetenv("no_proxy");
  const auto options = ProxyOptions::from_environment();
  CHECK(options.https_proxy == "http://lower:1");
  CHECK(options.http_proxy == "http://upper:3");
  CHECK(options.no_proxy == "localhost");
  for (const char* name : {"https_proxy", "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY"}) {
    ::unsetenv(name);
  }
}
