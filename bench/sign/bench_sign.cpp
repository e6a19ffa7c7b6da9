// SPDX-License-Identifier: Apache-2.0
// bench_sign: signatures per second on one core for a fixed S3 GET, per signing form.
//
// Usage: bench_sign [--seconds S] [--rounds N]
// Each form runs N rounds of S seconds of this thread's CPU time and reports signatures per
// CPU-second (one core) for the best round (other processes on a shared machine only ever slow
// a round down) and the median, with the best wall-clock rate for comparison. The last line
// gives the SigV4 Authorization header, which compare_aws4.py checks against the npm aws4
// signer's for the same request. Results go to docs/PERFORMANCE.md.
#include "sign/signer.hpp"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <functional>
#include <string>
#include <vector>

namespace sign = credrotd::sign;

namespace {

// Seconds of CPU time this thread has used: unlike wall time, it does not count the time the
// thread waits while other processes run on a shared machine.
double thread_cpu_seconds()
{
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) * 1e-9;
}

double wall_seconds()
{
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

struct Rate {
  double per_cpu_second = 0;
  double per_wall_second = 0;
};

// Calls `step` in batches until `seconds` of CPU time have passed.
Rate rate(const std::function<void()>& step, double seconds)
{
  constexpr int k_batch = 1000;
  const double cpu_start = thread_cpu_seconds();
  const double wall_start = wall_seconds();
  long long calls = 0;
  double cpu_now = cpu_start;
  do {
    for (int i = 0; i < k_batch; ++i) {
      step();
    }
    calls += k_batch;
    cpu_now = thread_cpu_seconds();
  } while (cpu_now - cpu_start < seconds);
  const double wall_now = wall_seconds();
  return {static_cast<double>(calls) / (cpu_now - cpu_start),
          static_cast<double>(calls) / (wall_now - wall_start)};
}

void measure(const char* name, const std::function<void()>& step, double seconds, int rounds)
{
  step(); // warm the caches and buffers
  std::vector<double> cpu;
  double best_wall = 0;
  for (int i = 0; i < rounds; ++i) {
    const Rate r = rate(step, seconds);
    cpu.push_back(r.per_cpu_second);
    best_wall = std::max(best_wall, r.per_wall_second);
  }
  std::sort(cpu.begin(), cpu.end());
  std::printf("%-14s %10.0f /s best %10.0f /s median %7.1f ns   (wall: %10.0f /s best)\n", name,
              cpu.back(), cpu[cpu.size() / 2], 1e9 / cpu.back(), best_wall);
  std::fflush(stdout);
}

[[noreturn]] void die(const credrotd::core::Error& error)
{
  std::fprintf(stderr, "bench_sign: %s\n", error.describe().c_str());
  std::exit(1);
}

} // namespace

int main(int argc, char** argv)
{
  double seconds = 1.0;
  int rounds = 5;
  CLI::App app{"Signatures per second on one core for a fixed S3 GET request"};
  app.add_option("--seconds", seconds, "length of one round")->check(CLI::PositiveNumber);
  app.add_option("--rounds", rounds, "rounds per form; the best is reported")
      ->check(CLI::Range(1, 1000));
  CLI11_PARSE(app, argc, argv);

  // The fixed request: GET of one object, path-style, as the S3 verifier sends it. The key is
  // the AWS documentation's example key, not a real one. bench_aws4.js signs the same.
  sign::Request request;
  request.method = "GET";
  request.host = "s3.regionone.example.net:8080";
  request.path = sign::encode_path("/examplebucket/photos/2024/puppy.jpg");
  request.payload_hash = std::string(sign::k_empty_payload_sha256);
  const sign::Credentials credentials{
      "AKIAIOSFODNN7EXAMPLE",
      credrotd::core::Secret("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
      {}};
  const sign::V4Options v4{.region = "RegionOne", .service = "s3"};
  const sign::V2Options v2{};
  const sign::Clock::time_point when = sign::Clock::time_point(std::chrono::seconds(1700000000));

  std::string authorization;
  unsigned sink = 0; // keeps the results observable

  std::printf("bench_sign: %d rounds of %.2f CPU-seconds per form, one thread; rates per "
              "CPU-second\n",
              rounds, seconds);
  measure(
      "SigV4 header",
      [&] {
        auto result = sign::sign_v4(request, credentials, v4, when);
        if (!result) {
          die(result.error());
        }
        sink += static_cast<unsigned char>(result->signature[0]);
        authorization.assign(result->authorization());
      },
      seconds, rounds);
  measure(
      "SigV2 header",
      [&] {
        auto result = sign::sign_v2(request, credentials, v2, when);
        if (!result) {
          die(result.error());
        }
        sink += static_cast<unsigned char>(result->signature[0]);
      },
      seconds, rounds);
  std::printf("(checksum %u) SigV4 Authorization: %s\n", sink & 0xff, authorization.c_str());
  return 0;
}
