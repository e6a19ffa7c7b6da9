// SPDX-License-Identifier: Apache-2.0
// bench_http_client: loopback latency of the HTTP client against the scripted fault server
// (tests/fault/fault_server.py), and the time the default retry policy takes.
//
// Usage: bench_http_client [--requests N]
// For plain HTTP and HTTPS (the test PKI), with a kept-alive connection and with a new
// connection per request: p50/p90/p99 of the total time, the server's time, the client's
// overhead (total minus server at p50) and the wall clock per call. Then two retried
// sequences (503,503,503,200 and 429 with Retry-After: 1): attempts and time taken.
#include "fault_process.hpp"
#include "net/http_client.hpp"
#include "run_awaitable.hpp"

#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
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

enum class KeepAlive { yes, no };

double ms(Clock::duration d)
{
  return std::chrono::duration<double, std::milli>(d).count();
}

[[noreturn]] void die(const std::string& what)
{
  std::fprintf(stderr, "bench_http_client: %s\n", what.c_str());
  std::exit(1);
}

// p50, p90 and p99 of `values`.
std::array<double, 3> percentiles(std::vector<double> values)
{
  std::sort(values.begin(), values.end());
  return {values[values.size() / 2], values[values.size() * 9 / 10],
          values[values.size() * 99 / 100]};
}

void measure(const char* label, const FaultServer& server, credrotd::net::ClientOptions options,
             KeepAlive keep_alive, int requests)
{
  boost::asio::io_context io;
  auto client = HttpClient::create(io.get_executor(), std::move(options));
  if (!client) {
    die(client.error().describe());
  }
  std::vector<double> totals;
  std::vector<double> servers;
  const auto wall_start = Clock::now();
  for (int i = 0; i < requests; ++i) {
    if (keep_alive == KeepAlive::no) {
      client->close_idle();
    }
    credrotd::net::Request request;
    request.url = server.url("/bench");
    const auto response = run(io, client->send(std::move(request), deadline_after(5s)));
    if (!response) {
      die(fmt::format("{}: {}", label, response.error().describe()));
    }
    totals.push_back(ms(response->timing.total));
    servers.push_back(ms(response->timing.server));
  }
  const double wall = ms(Clock::now() - wall_start) / requests;
  const auto t = percentiles(totals);
  const auto s = percentiles(servers);
  fmt::print("{:<28} total p50 {:.3f} p90 {:.3f} p99 {:.3f} ms | server p50 {:.3f} ms | client "
             "overhead p50 {:.3f} ms | wall clock per call {:.3f} ms\n",
             label, t[0], t[1], t[2], s[0], t[0] - s[0], wall);
  std::fflush(stdout);
}

void retry_timings()
{
  FaultServer server;
  boost::asio::io_context io;
  auto client = HttpClient::create(io.get_executor(), {});
  if (!client) {
    die(client.error().describe());
  }
  for (const char* path : {"/seq/backoff/503,503,503,200", "/seq/ra/429-1,200"}) {
    credrotd::net::Request request;
    request.url = server.url(path);
    const auto start = Clock::now();
    const auto response = run(io, client->send(std::move(request), deadline_after(30s)));
    if (!response) {
      die(fmt::format("{}: {}", path, response.error().describe()));
    }
    fmt::print("{:<32} status {} after {} attempts in {:.1f} ms (server time {:.3f} ms)\n", path,
               response->status, response->timing.attempts, ms(Clock::now() - start),
               ms(response->timing.server));
  }
}

} // namespace

int main(int argc, char** argv)
{
  int requests = 200;
  CLI::App app{"Loopback latency of the HTTP client and the default retry timings"};
  app.add_option("--requests", requests, "requests per case")->check(CLI::Range(10, 1000000));
  CLI11_PARSE(app, argc, argv);

  FaultServer plain;
  FaultServerOptions tls_options;
  tls_options.tls_cert = test_pki_dir() + "/server.pem";
  tls_options.tls_key = test_pki_dir() + "/server.key";
  FaultServer tls(tls_options);
  credrotd::net::ClientOptions trusting;
  trusting.tls.ca_file = test_pki_dir() + "/ca.pem";
  measure("http keep-alive", plain, {}, KeepAlive::yes, requests);
  measure("http new connection", plain, {}, KeepAlive::no, requests);
  measure("https keep-alive", tls, trusting, KeepAlive::yes, requests);
  measure("https new connection", tls, trusting, KeepAlive::no, requests);
  retry_timings();
  return 0;
}
