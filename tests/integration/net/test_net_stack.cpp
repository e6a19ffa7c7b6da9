// SPDX-License-Identifier: Apache-2.0
// The HTTP client against the real servers of the local stack: uwsgi's Keystone (closes after
// every response) and Swift (stray bytes after an error answer to HEAD).
#include "net/http_client.hpp"
#include "result_printer.hpp"
#include "run_awaitable.hpp"
#include "stack_env.hpp"

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>

#include <ctime>

using namespace std::chrono_literals;
using credrotd::net::deadline_after;
using credrotd::net::HttpClient;
using credrotd::net::Method;
using credrotd::net::Request;
using credrotd::testfault::run;
using credrotd::testsupport::stack_value;

namespace {

Request request(Method method, std::string url)
{
  Request r;
  r.method = method;
  r.url = std::move(url);
  return r;
}

std::string http_date()
{
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char text[64];
  std::strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return text;
}

} // namespace

TEST_CASE("Keystone under uwsgi answers every request although it closes each connection",
          "[integration][net]")
{
  boost::asio::io_context io;
  auto client = HttpClient::create(io.get_executor(), {});
  REQUIRE(client);
  for (int i = 0; i < 5; ++i) {
    const auto response = run(
        io, client->send(request(Method::get, stack_value("KEYSTONE_URL")), deadline_after(10s)));
    REQUIRE(response);
    CHECK(response->status == 200);
    CHECK(response->timing.attempts == 1);
  }
}

TEST_CASE("Swift's stray bytes after an error answer to HEAD never corrupt the next response",
          "[integration][net]")
{
  boost::asio::io_context io;
  auto client = HttpClient::create(io.get_executor(), {});
  REQUIRE(client);
  const std::string s3 = stack_value("S3_URL");
  for (int i = 0; i < 3; ++i) {
    // A SigV2-signed HEAD with an unknown key: s3api answers 403 with "Transfer-Encoding:
    // chunked" and sends the terminating "0\r\n\r\n" although a HEAD answer has no body.
    auto signed_head = request(Method::head, s3 + "/no-such-bucket-" + std::to_string(i));
    signed_head.header("Date", http_date());
    signed_head.header("Authorization", "AWS 0123456789abcdef0123456789abcdef:c2lnbmF0dXJl",
                       credrotd::net::Sensitive::yes);
    const auto head = run(io, client->send(std::move(signed_head), deadline_after(10s)));
    REQUIRE(head);
    CHECK(head->status == 403);
    CHECK(client->idle_connections() == 0);
    // An unsigned GET: Swift's error page, parsed cleanly on a fresh connection.
    const auto list = run(io, client->send(request(Method::get, s3 + "/"), deadline_after(10s)));
    REQUIRE(list);
    CHECK(list->status >= 400);
    CHECK_FALSE(list->timing.reused_connection);
    CHECK(std::string_view(list->body.data(), list->body.size()).find("Not Found") !=
          std::string_view::npos);
  }
}
