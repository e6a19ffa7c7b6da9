// SPDX-License-Identifier: Apache-2.0
// Loopback latency figures for the HTTP client (hidden: run `unit_net "[.bench]"` by hand).
#include "fault_process.hpp"
#include "net/http_client.hpp"
#include "result_printer.hpp"
#include "run_awaitable.hpp"

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <cstdio>
#include <vector>

using namespace std::chrono_literals;
using credrotd::net::Clock;
using credrotd::net::deadline_after;
using credrotd::net::HttpClient;
using credrotd::testfault::FaultServer;
using credrotd::testfault::FaultServerOptions;
using credrotd::testfault::run;
using credrotd::testfault::test_pki_dir;

namespace {

double ms(Clock::duration d)
{
  return std::chrono::duration<double, std::milli>(d).count();
}

void measure(const char* label, const FaultServer& server, credrotd::net::ClientOptions options,
             bool keep_alive)
{
  constexpr int k_requests = 200;
  boost::asio::io_context io;
  auto client = HttpClient::create(io.get_executor(), std::move(options));
  REQUIRE(client);
  std::vector<double> totals;
  std::vector<double> servers;
  const auto wall_start = Clock::now();
  for (int i = 0; i < k_requests; ++i) {
    if (!keep_alive) {
      client->close_idle();
    }
    credrotd::net::Request request;
    request.url = server.url("/bench");
    const auto response = run(io, client->send(std::move(request), deadline_after(5s)));
    REQUIRE(response);
    totals.push_back(ms(response->timing.total));
    servers.push_back(ms(response->timing.server));
  }
  const double wall = ms(Clock::now() - wall_start) / k_requests;
  const auto summary = [](std::vector<double> values) {
    std::sort(values.begin(), values.end());
    return std::array<double, 3>{values[values.size() / 2], values[values.size() * 9 / 10],
                                 values[values.size() * 99 / 100]};
  };
  const auto t = summary(totals);
  const auto s = summary(servers);
  std::printf("%-28s total p50 %.3f p90 %.3f p99 %.3f ms | server p50 %.3f ms | client "
              "overhead p50 %.3f ms | wall clock per call %.3f ms\n",
              label, t[0], t[1], t[2], s[0], t[0] - s[0], wall);
}

} // namespace

TEST_CASE("loopback request latency", "[.bench]")
{
  FaultServer plain;
  FaultServerOptions tls_options;
  tls_options.tls_cert = test_pki_dir() + "/server.pem";
  tls_options.tls_key = test_pki_dir() + "/server.key";
  FaultServer tls(tls_options);
  credrotd::net::ClientOptions trusting;
  trusting.tls.ca_file = test_pki_dir() + "/ca.pem";
  measure("http keep-alive", plain, {}, true);
  measure("http new connection", plain, {}, false);
  measure("https keep-alive", tls, trusting, true);
  measure("https new connection", tls, trusting, false);
}

TEST_CASE("retry timings with the default policy", "[.bench]")
{
  FaultServer server;
  boost::asio::io_context io;
  auto client = HttpClient::create(io.get_executor(), {});
  REQUIRE(client);
  for (const char* path : {"/seq/backoff/503,503,503,200", "/seq/ra/429-1,200"}) {
    credrotd::net::Request request;
    request.url = server.url(path);
    const auto start = Clock::now();
    const auto response = run(io, client->send(std::move(request), deadline_after(30s)));
    REQUIRE(response);
    std::printf("%-32s status %d after %d attempts in %.1f ms (server time %.3f ms)\n", path,
                response->status, response->timing.attempts, ms(Clock::now() - start),
                ms(response->timing.server));
  }
}
