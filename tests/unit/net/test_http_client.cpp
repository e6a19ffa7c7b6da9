// SPDX-License-Identifier: Apache-2.0
// The HTTP client against the scripted fault server on loopback: each fault gives a bounded,
// classified error or a recovered call; retries, keep-alive, TLS and proxies.
#include "fault_process.hpp"
#include "net/http_client.hpp"
#include "result_printer.hpp"
#include "run_awaitable.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <netinet/in.h>
#include <string>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

using namespace std::chrono_literals;
using credrotd::core::Errc;
using credrotd::net::ClientOptions;
using credrotd::net::Clock;
using credrotd::net::deadline_after;
using credrotd::net::HttpClient;
using credrotd::net::Idempotent;
using credrotd::net::LogLevel;
using credrotd::net::Method;
using credrotd::net::Request;
using credrotd::net::Response;
using credrotd::testfault::FaultServer;
using credrotd::testfault::FaultServerOptions;
using credrotd::testfault::run;
using credrotd::testfault::test_pki_dir;

namespace {

struct LogCapture {
  std::vector<std::pair<LogLevel, std::string>> lines;
  std::string all() const
  {
    std::string text;
    for (const auto& [level, line] : lines) {
      text += line + "\n";
    }
    return text;
  }
};

ClientOptions fast_options(LogCapture* capture = nullptr)
{
  ClientOptions options;
  options.retry.initial_backoff = 40ms;
  options.retry.max_backoff = 200ms;
  if (capture != nullptr) {
    options.log = [capture](LogLevel level, std::string_view line) {
      capture->lines.emplace_back(level, std::string(line));
    };
  }
  return options;
}

HttpClient make_client(boost::asio::io_context& io, ClientOptions options)
{
  auto client = HttpClient::create(io.get_executor(), std::move(options));
  REQUIRE(client);
  return std::move(*client);
}

credrotd::core::Result<Response> send(boost::asio::io_context& io, HttpClient& client,
                                      Request request, Clock::duration budget = 5s)
{
  return run(io, client.send(std::move(request), deadline_after(budget)));
}

Request get(std::string url, Method method = Method::get)
{
  Request request;
  request.method = method;
  request.url = std::move(url);
  return request;
}

std::string body_of(const Response& response)
{
  return std::string(response.body.data(), response.body.size());
}

// The server's record of the requests under `key`, fetched with a separate client so the
// client under test keeps its own pool untouched.
boost::json::array hits(boost::asio::io_context& io, const FaultServer& server,
                        const std::string& key, ClientOptions options = {})
{
  auto client = make_client(io, std::move(options));
  const auto response = send(io, client, get(server.url("/__stats")));
  REQUIRE(response);
  const auto doc = boost::json::parse(body_of(*response));
  const auto& all = doc.at("hits").as_object();
  const auto it = all.find(key);
  return it == all.end() ? boost::json::array{} : it->value().as_array();
}

std::vector<std::int64_t> connection_ids(const boost::json::array& records)
{
  std::vector<std::int64_t> ids;
  for (const auto& record : records) {
    ids.push_back(record.at("conn").as_int64());
  }
  return ids;
}

double elapsed_seconds(Clock::time_point since)
{
  return std::chrono::duration<double>(Clock::now() - since).count();
}

// A loopback port nobody listens on (bound, then released).
std::uint16_t closed_port()
{
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  socklen_t length = sizeof address;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0);
  ::close(fd);
  return ntohs(address.sin_port);
}

FaultServerOptions tls_server(const std::string& name)
{
  FaultServerOptions options;
  options.tls_cert = test_pki_dir() + "/" + name + ".pem";
  options.tls_key = test_pki_dir() + "/" + name + ".key";
  return options;
}

ClientOptions trusting_test_ca(LogCapture* capture = nullptr)
{
  auto options = fast_options(capture);
  options.tls.ca_file = test_pki_dir() + "/ca.pem";
  return options;
}

} // namespace

TEST_CASE("a GET on loopback returns status, headers, body and timing", "[net]")
{
  FaultServer server;
  boost::asio::io_context io;
  auto client = make_client(io, fast_options());
  const auto response = send(io, client, get(server.url("/hello?x=1")));
  REQUIRE(response);
  CHECK(response->status == 200);
  CHECK(response->reason == "OK");
  CHECK(response->header("content-type") == "application/json");
  CHECK(body_of(*response).find("\"/hello\"") != std::string::npos);
  CHECK(response->timing.attempts == 1);
  CHECK_FALSE(response->timing.reused_connection);
  CHECK(response->timing.server > Clock::duration::zero());
  CHECK(response->timing.total >= response->timing.server);
}

TEST_CASE("kept-alive connections are reused for one origin", "[net]")
{
  FaultServer server;
  boost::asio::io_context io;
  auto client = make_client(io, fast_options());
  for (int i = 0; i < 5; ++i) {
    const auto response = send(io, client, get(server.url("/seq/reuse/200")));
    REQUIRE(response);
    CHECK(response->status == 200);
    CHECK(response->timing.reused_connection == (i > 0));
  }
  CHECK(client.idle_connections() == 1);
  const auto ids = connection_ids(hits(io, server, "reuse"));
  REQUIRE(ids.size() == 5);
  CHECK(std::all_of(ids.begin(), ids.end(), [&](auto id) { return id == ids.front(); }));
}

TEST_CASE("a connection the server closes silently after each response is replaced (uwsgi)",
          "[net]")
{
  FaultServer server;
  boost::asio::io_context io;
  auto client = make_client(io, fast_options());
  for (int i = 0; i < 4; ++i) {
    const auto response = send(io, client, get(server.url("/seq/uwsgi/200c")));
    REQUIRE(response);
    CHECK(response->status == 200);
    CHECK(response->timing.attempts == 1);
  }
  auto ids = connection_ids(hits(io, server, "uwsgi"));
  REQUIRE(ids.size() == 4);
  std::sort(ids.begin(), ids.end());
  CHECK(std::adjacent_find(ids.begin(), ids.end()) == ids.end());
}

TEST_CASE("a connection is not reused after a HEAD error or stray bytes (Swift)", "[net]")
{
  FaultServer server;
  boost::asio::io_context io;
  auto client = make_client(io, fast_options());
  for (const char* action : {"headstray", "headstraylate"}) {
    INFO(action);
    const std::string key = std::string("h") + action;
    auto head = send(io, client, get(server.url("/seq/" + key + "/" + action), Method::head));
    REQUIRE(head);
    CHECK(head->status == 404);
    CHECK(client.idle_connections() == 0);
    auto next = send(io, client, get(server.url("/seq/" + key + "/" + action + ",200")));
    REQUIRE(next);
    CHECK(next->status == 200);
    CHECK_FALSE(next->timing.reused_connection);
    const auto ids = connection_ids(hits(io, server, key));
    REQUIRE(ids.size() == 2);
    CHECK(ids[0] != ids[1]);
    client.close_idle();
  }
  SECTION("a successful HEAD keeps the connection")
  {
    REQUIRE(send(io, client, get(server.url("/seq/headok/200"), Method::head)));
    const auto next = send(io, client, get(server.url("/seq/headok/200")));
    REQUIRE(next);
    CHECK(next->timing.reused_connection);
  }
}

TEST_CASE("503 then 200 is retried with backoff and succeeds", "[net]")
{
  FaultServer server;
  boost::asio::io_context io;
  LogCapture log;
  auto client = make_client(io, fast_options(&log));
  const auto response = send(io, client, get(server.url("/seq/r/503,503,200")));
  REQUIRE(response);
  CHECK(response->status == 200);
  CHECK(response->timing.attempts == 3);
  const auto records = hits(io, server, "r");
  REQUIRE(records.size() == 3);
  const double first_gap = records[1].at("t").as_double() - records[0].at("t").as_double();
  const double second_gap = records[2].at("t").as_double() - records[1].at("t").as_double();
  CHECK(first_gap >= 0.020);  // jittered into [20, 40] ms
  CHECK(second_gap >= 0.040); // jittered into [40, 80] ms
  CHECK(log.all().find("retrying in") != std::string::npos);
}

TEST_CASE("a server that keeps failing gives a transient error after the last attempt", "[net]")
{
  FaultServer server;
  boost::asio::io_context io;
  auto client = make_client(io, fast_options());
  const auto start = Clock::now();
  const auto response = send(io, client, get(server.url("/seq/down/500")));
  REQUIRE_FALSE(response);
  CHECK(response.error().code == Errc::transient);
  CHECK(response.error().message.find("HTTP 500") != std::string::npos);
  CHECK(response.error().message.find("4 attempts") != std::string::npos);
  CHECK(hits(io, server, "down").size() == 4);
  CHECK(elapsed_seconds(start) < 2.0);
}

TEST_CASE("a request that is not safe to repeat is not retried after a 5xx, but is after 429",
          "[net]")
{
  FaultServer server;
  boost::asio::io_context io;
  auto client = make_client(io, fast_options());
  auto post = get(server.url("/seq/once/500,200"), Method::post);
  post.idempotent = Idempotent::no;
  const auto failed = send(io, client, std::move(post));
  REQUIRE_FALSE(failed);
  CHECK(failed.error().code == Errc::transient);
  CHECK(failed.error().message.find("not safe to repeat") != std::string::npos);
  CHECK(hits(io, server, "once").size() == 1);

  auto limited = get(server.url("/seq/limited/429-0,201"), Method::post);
  limited.idempotent = Idempotent::no;
  const auto created = send(io, client, std::move(limited));
  REQUIRE(created);
  CHECK(created->status == 201);
  CHECK(hits(io, server, "limited").size() == 2);
}

TEST_CASE("429 with Retry-After is waited for", "[net]")
{
  FaultServer server;
  boost::asio::io_context io;
  auto client = make_client(io, fast_options());
  const auto response = send(io, client, get(server.url("/seq/ra/429-1,200")), 5s);
  REQUIRE(response);
  CHECK(response->status == 200);
  const auto records = hits(io, server, "ra");
  REQUIRE(records.size() == 2);
  const double gap = records[1].at("t").as_double() - records[0].at("t").as_double();
  CHECK(gap >= 0.95);
  CHECK(gap < 2.0);
}

TEST_CASE("a Retry-After beyond the deadline fails at once as transient", "[net]")
{
  FaultServer server;
  boost::asio::io_context io;
  auto client = make_client(io, fast_options());
  const auto start = Clock::now();
  const auto response = send(io, client, get(server.url("/seq/ra30/429-30")), 2s);
  REQUIRE_FALSE(response);
  CHECK(response.error().code == Errc::transient);
  CHECK(response.error().message.find("HTTP 429") != std::string::npos);
  CHECK(response.error().message.find("deadline") != std::string::npos);
  CHECK(elapsed_seconds(start) < 1.0);
  CHECK(hits(io, server, "ra30").size() == 1);
}

TEST_CASE("retries stop at the deadline", "[net]")
{
  FaultServer server;
  boost::asio::io_context io;
  auto options = fast_options();
  options.retry.max_attempts = 100;
  options.retry.initial_backoff = 100ms;
  options.retry.max_backoff = 100ms;
  auto client = make_client(io, std::move(options));
  const auto start = Clock::now();
  const auto response = send(io, client, get(server.url("/seq/busy/503")), 700ms);
  REQUIRE_FALSE(response);
  CHECK(response.error().code == Errc::transient);
  CHECK(elapsed_seconds(start) < 0.9);
  const auto count = hits(io, server, "busy").size();
  CHECK(count >= 4);
  CHECK(count <= 14);
}

TEST_CASE("a server that never answers gives a timeout within the deadline", "[net]")
{
  FaultServer server;
  boost::asio::io_context io;
  auto client = make_client(io, fast_options());
  const auto start = Clock::now();
  const auto response = send(io, client, get(server.url("/seq/hang/hang")), 300ms);
  const double elapsed = elapsed_seconds(start);
  REQUIRE_FALSE(response);
  CHECK(response.error().code == Errc::timeout);
  CHECK(response.error().message.find("waiting for the response headers") != std::string::npos);
  CHECK(elapsed >= 0.29);
  CHECK(elapsed < 1.0);
}

TEST_CASE("a body slower than the deadline gives a timeout", "[net]")
{
  FaultServer server;
  boost::asio::io_context io;
  auto client = make_client(io, fast_options());
  const auto start = Clock::now();
  const auto response = send(io, client, get(server.url("/seq/slow/slow")), 500ms);
  REQUIRE_FALSE(response);
  CHECK(response.error().code == Errc::timeout);
  CHECK(response.error().message.find("reading the response body") != std::string::npos);
  CHECK(elapsed_seconds(start) < 1.2);
}

TEST_CASE("an endless body is cut off as a protocol error", "[net]")
{
  FaultServer server;
  boost::asio::io_context io;
  auto options = fast_options();
  options.max_body_bytes = 256 * 1024;
  auto client = make_client(io, std::move(options));
  const auto start = Clock::now();
  const auto response = send(io, client, get(server.url("/seq/endless/endless")), 5s);
  REQUIRE_FALSE(response);
  CHECK(response.error().code == Errc::protocol);
  CHECK(response.error().message.find("larger than 262144 bytes") != std::string::npos);
  CHECK(elapsed_seconds(start) < 2.0);
}

TEST_CASE("an oversized header is a protocol error", "[net]")
{
  FaultServer server;
  boost::asio::io_context io;
  auto client = make_client(io, fast_options());
  const auto response = send(io, client, get(server.url("/seq/big/bigheader")));
  REQUIRE_FALSE(response);
  CHECK(response.error().code == Errc::protocol);
  CHECK(hits(io, server, "big").size() == 1);
}

TEST_CASE("a garbage body is handed to the caller as it came", "[net]")
{
  FaultServer server;
  boost::asio::io_context io;
  auto client = make_client(io, fast_options());
  const auto response = send(io, client, get(server.url("/seq/garbage/garbage")));
  REQUIRE(response);
  CHECK(response->status == 200);
  CHECK(body_of(*response).find("not json") != std::string::npos);
}

TEST_CASE("a connection reset is transient and retried", "[net]")
{
  FaultServer server;
  boost::asio::io_context io;
  auto client = make_client(io, fast_options());
  const auto recovered = send(io, client, get(server.url("/seq/rst/reset,200")));
  REQUIRE(recovered);
  CHECK(recovered->status == 200);
  CHECK(recovered->timing.attempts == 2);

  // On a fresh connection: a reset on a kept-alive one before any response byte looks like a
  // silent close and earns one transparent reconnect on top of the attempts.
  client.close_idle();
  const auto failed = send(io, client, get(server.url("/seq/rst2/reset")));
  REQUIRE_FALSE(failed);
  CHECK(failed.error().code == Errc::transient);
  CHECK(failed.error().message.find("reset") != std::string::npos);
  CHECK(hits(io, server, "rst2").size() == 4);

  const auto closed = send(io, client, get(server.url("/seq/fin/close")));
  REQUIRE_FALSE(closed);
  CHECK(closed.error().code == Errc::transient);
}

TEST_CASE("a refused connection is transient and retried even when not idempotent", "[net]")
{
  boost::asio::io_context io;
  LogCapture log;
  auto options = fast_options(&log);
  options.retry.max_attempts = 2;
  auto client = make_client(io, std::move(options));
  auto request = get("http://127.0.0.1:" + std::to_string(closed_port()) + "/", Method::post);
  request.idempotent = Idempotent::no;
  const auto response = send(io, client, std::move(request));
  REQUIRE_FALSE(response);
  CHECK(response.error().code == Errc::transient);
  CHECK(response.error().message.find("connection refused") != std::string::npos);
  CHECK(response.error().message.find("2 attempts") != std::string::npos);
}

TEST_CASE("secrets in headers, bodies and query strings never reach messages", "[net]")
{
  FaultServer server;
  boost::asio::io_context io;
  LogCapture log;
  auto client = make_client(io, fast_options(&log));
  auto request = get(server.url("/seq/secret/500?signature=query-secret-1"), Method::post);
  request.auth_token(credrotd::core::Secret("token-secret-2"));
  request.header("Authorization", "AWS4-HMAC-SHA256 header-secret-3",
                 credrotd::net::Sensitive::yes);
  request.body = "{\"password\": \"body-secret-4\"}";
  const auto response = send(io, client, std::move(request));
  REQUIRE_FALSE(response);
  const std::string text = response.error().message + "\n" + log.all();
  for (const char* secret :
       {"query-secret-1", "token-secret-2", "header-secret-3", "body-secret-4"}) {
    CHECK(text.find(secret) == std::string::npos);
  }
  CHECK(text.find("/seq/secret/500") != std::string::npos);
}

TEST_CASE("a POST body reaches the server with its length", "[net]")
{
  FaultServer server;
  boost::asio::io_context io;
  auto client = make_client(io, fast_options());
  auto request = get(server.url("/seq/post/201"), Method::post);
  request.header("Content-Type", "application/json");
  request.body = "{\"a\": 1}";
  const auto response = send(io, client, std::move(request));
  REQUIRE(response);
  CHECK(response->status == 201);
  const auto empty = send(io, client, get(server.url("/seq/post/201"), Method::post));
  REQUIRE(empty);
  CHECK(empty->status == 201);
  CHECK(empty->timing.reused_connection);

  // A request that is not safe to repeat never risks a kept-alive connection.
  auto once = get(server.url("/seq/post/201"), Method::post);
  once.idempotent = Idempotent::no;
  const auto fresh = send(io, client, std::move(once));
  REQUIRE(fresh);
  CHECK_FALSE(fresh->timing.reused_connection);
  const auto ids = connection_ids(hits(io, server, "post"));
  REQUIRE(ids.size() == 3);
  CHECK(ids[0] == ids[1]);
  CHECK(ids[2] != ids[1]);
}

TEST_CASE("TLS with the test CA is accepted and connections are reused", "[net][tls]")
{
  FaultServer server(tls_server("server"));
  boost::asio::io_context io;
  auto client = make_client(io, trusting_test_ca());
  for (const std::string host : {"127.0.0.1", "localhost", "127.0.0.1"}) {
    INFO(host);
    const auto response = send(
        io, client, get("https://" + host + ":" + std::to_string(server.port()) + "/seq/tls/200"));
    REQUIRE(response);
    CHECK(response->status == 200);
  }
  const auto ids = connection_ids(hits(io, server, "tls", trusting_test_ca()));
  REQUIRE(ids.size() == 3);
  CHECK(ids[0] != ids[1]); // another origin (localhost)
  CHECK(ids[0] == ids[2]);
}

TEST_CASE("TLS from an unknown CA is refused, not retried, and says so", "[net][tls]")
{
  FaultServer server(tls_server("server"));
  boost::asio::io_context io;
  auto client = make_client(io, fast_options()); // system trust store only
  const auto response = send(io, client, get(server.url("/seq/unknown/200")));
  REQUIRE_FALSE(response);
  CHECK(response.error().code == Errc::tls);
  CHECK(response.error().message.find("unknown CA") != std::string::npos);
  CHECK(response.error().message.find("credrotd test CA") != std::string::npos);
  CHECK(hits(io, server, "unknown", trusting_test_ca()).empty());
}

TEST_CASE("TLS with a certificate for another host name is refused", "[net][tls]")
{
  FaultServer server(tls_server("wronghost"));
  boost::asio::io_context io;
  auto client = make_client(io, trusting_test_ca());
  for (const std::string host : {"127.0.0.1", "localhost"}) {
    INFO(host);
    const auto response =
        send(io, client,
             get("https://" + host + ":" + std::to_string(server.port()) + "/seq/wrong/200"));
    REQUIRE_FALSE(response);
    CHECK(response.error().code == Errc::tls);
    CHECK(response.error().message.find("host name mismatch") != std::string::npos);
    CHECK(response.error().message.find("DNS:wrong.example") != std::string::npos);
  }
}

TEST_CASE("TLS with an expired certificate is refused", "[net][tls]")
{
  FaultServer server(tls_server("expired"));
  boost::asio::io_context io;
  auto client = make_client(io, trusting_test_ca());
  const auto response = send(io, client, get(server.url("/seq/expired/200")));
  REQUIRE_FALSE(response);
  CHECK(response.error().code == Errc::tls);
  CHECK(response.error().message.find("expired on 2020-01-02") != std::string::npos);
}

TEST_CASE("insecure TLS connects to an untrusted server and reports a warning", "[net][tls]")
{
  FaultServer server(tls_server("wronghost"));
  boost::asio::io_context io;
  LogCapture log;
  auto options = fast_options(&log);
  options.tls.insecure = credrotd::net::Insecure::yes;
  auto client = make_client(io, std::move(options));
  for (int i = 0; i < 2; ++i) {
    const auto response = send(io, client, get(server.url("/seq/insecure/200")));
    REQUIRE(response);
    CHECK(response->status == 200);
  }
  REQUIRE(log.lines.size() == 1);
  CHECK(log.lines[0].first == LogLevel::warning);
  CHECK(log.lines[0].second.find("verification is disabled") != std::string::npos);
}

TEST_CASE("plain HTTP on a TLS URL is a TLS error", "[net][tls]")
{
  FaultServer server;
  boost::asio::io_context io;
  auto client = make_client(io, trusting_test_ca());
  const auto response = send(
      io, client, get("https://127.0.0.1:" + std::to_string(server.port()) + "/seq/plain/200"));
  REQUIRE_FALSE(response);
  CHECK(response.error().code == Errc::tls);
  CHECK(response.error().message.find("TLS handshake failed") != std::string::npos);
}

TEST_CASE("a missing CA file is a config error naming the file", "[net][tls]")
{
  boost::asio::io_context io;
  ClientOptions options;
  options.tls.ca_file = "/nonexistent/ca.pem";
  const auto client = HttpClient::create(io.get_executor(), std::move(options));
  REQUIRE_FALSE(client);
  CHECK(client.error().code == Errc::config);
  CHECK(client.error().message.find("/nonexistent/ca.pem") != std::string::npos);
}

TEST_CASE("https goes through a proxy with CONNECT, http with the absolute form", "[net][proxy]")
{
  FaultServer tls(tls_server("server"));
  FaultServer plain;
  FaultServerOptions proxy_options;
  proxy_options.proxy = true;
  FaultServer proxy(proxy_options);
  boost::asio::io_context io;
  auto options = trusting_test_ca();
  options.proxy.https_proxy = proxy.url("");
  options.proxy.http_proxy = proxy.url("");
  auto client = make_client(io, std::move(options));

  const auto secure = send(io, client, get(tls.url("/seq/tunnel/200")));
  REQUIRE(secure);
  CHECK(secure->status == 200);
  const auto again = send(io, client, get(tls.url("/seq/tunnel/200")));
  REQUIRE(again);
  CHECK(again->timing.reused_connection);
  const auto forwarded = send(io, client, get(plain.url("/seq/forward/200")));
  REQUIRE(forwarded);
  CHECK(forwarded->status == 200);

  auto stats_client = make_client(io, {});
  const auto stats = send(io, stats_client, get(proxy.url("/__stats")));
  REQUIRE(stats);
  const auto doc = boost::json::parse(body_of(*stats));
  const auto& connects = doc.at("connects").as_array();
  REQUIRE(connects.size() == 1);
  CHECK(connects[0].as_string() == "127.0.0.1:" + std::to_string(tls.port()));
  const auto& forwards = doc.at("forwards").as_array();
  REQUIRE(forwards.size() == 1);
  CHECK(forwards[0].as_string() == plain.url("/seq/forward/200"));
}

TEST_CASE("no_proxy sends a request around the proxy", "[net][proxy]")
{
  FaultServer plain;
  boost::asio::io_context io;
  auto options = fast_options();
  options.proxy.http_proxy = "http://127.0.0.1:" + std::to_string(closed_port());
  options.proxy.no_proxy = "localhost,127.0.0.0/8";
  auto client = make_client(io, std::move(options));
  const auto response = send(io, client, get(plain.url("/seq/direct/200")));
  REQUIRE(response);
  CHECK(response->status == 200);
}

TEST_CASE("a proxy that wants credentials is an auth error until they are given", "[net][proxy]")
{
  FaultServer tls(tls_server("server"));
  FaultServerOptions proxy_options;
  proxy_options.proxy = true;
  proxy_options.proxy_auth = "alice:pro%xy";
  FaultServer proxy(proxy_options);
  boost::asio::io_context io;

  auto without = trusting_test_ca();
  without.proxy.https_proxy = proxy.url("");
  auto client = make_client(io, std::move(without));
  const auto refused = send(io, client, get(tls.url("/seq/auth/200")));
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code == Errc::auth_rejected);
  CHECK(refused.error().message.find("407") != std::string::npos);

  auto with = trusting_test_ca();
  with.proxy.https_proxy = "http://alice:pro%25xy@127.0.0.1:" + std::to_string(proxy.port());
  auto authed = make_client(io, std::move(with));
  const auto response = send(io, authed, get(tls.url("/seq/auth/200")));
  REQUIRE(response);
  CHECK(response->status == 200);
}
