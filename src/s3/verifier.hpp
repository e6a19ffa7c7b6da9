// SPDX-License-Identifier: Apache-2.0
// The S3 verifier: proves a key works (or no longer works) with real signed S3 requests.
#pragma once

#include "core/config.hpp"
#include "core/error.hpp"
#include "core/rotation.hpp"
#include "core/secret.hpp"
#include "net/http_client.hpp"
#include "sign/signer.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

namespace credrotd::s3 {

struct VerifierOptions {
  std::string endpoint;             // "https://s3.example.org[:port]", no path, no query
  std::string region = "us-east-1"; // SigV4 credential scope (Swift s3api: us-east-1)
  core::Addressing addressing = core::Addressing::path;
  std::vector<core::SignatureVersion> signatures{core::SignatureVersion::v4};
  std::vector<core::VerifyCheck> checks{core::VerifyCheck::list_buckets};
  std::string bucket;                                // for head_bucket and probe
  std::string probe_prefix = ".credrotd-probe/";     // object key prefix of the probe
  std::chrono::milliseconds request_timeout{15'000}; // budget of one request, retries included
  // Added to the clock when signing. Zero in production; tests sign in the past to see how a
  // skewed clock is classified.
  std::chrono::milliseconds clock_offset{0};
};

// What one signed request showed.
struct Step {
  std::string what; // "SigV4 ListBuckets", "SigV2 HEAD bucket backup", ...
  core::VerifyResult result = core::VerifyResult::unavailable;
  int status = 0;     // HTTP status, 0 when no response arrived
  std::string code;   // S3 error code from the body ("SignatureDoesNotMatch"), if any
  std::string detail; // one line for messages; never a secret
};

struct Outcome {
  core::VerifyResult result = core::VerifyResult::unavailable;
  std::string detail; // the step that decided the result, or a summary when all passed
  std::vector<Step> steps;
};

// Classifies an S3 answer: 2xx accepted; 403 InvalidAccessKeyId / SignatureDoesNotMatch /
// AccessDenied (and any 403 to a HEAD, which has no body) rejected; RequestTimeTooSkewed
// clock_skew; 5xx, 429 and other errors unavailable (they say nothing about the key).
core::VerifyResult classify(int status, std::string_view code);

// The <Code> of an S3 XML error body, or "" when there is none. Bounded: looks at the first
// 64 KiB only.
std::string error_code(std::string_view body);

// Runs the configured checks with every configured signature version, in order, and stops at
// the first step that is not accepted. Uses one HttpClient (connections are reused). Not
// thread-safe; lives on the daemon's loop.
class Verifier {
public:
  Verifier(net::HttpClient& client, VerifierOptions options);

  // Checks that `access`/`secret` works: every configured step must be accepted.
  boost::asio::awaitable<Outcome> verify(std::string access, core::Secret secret);

  // Checks that a deleted key is refused: one ListBuckets per signature version. The result
  // is `rejected` when every request was refused, `accepted` when one still went through.
  boost::asio::awaitable<Outcome> confirm_refused(std::string access, core::Secret secret);

  const VerifierOptions& options() const noexcept { return m_options; }

private:
  struct Target;
  boost::asio::awaitable<Step> run(const Target& target, const sign::Credentials& credentials,
                                   core::SignatureVersion version);

  net::HttpClient& m_client;
  VerifierOptions m_options;
  std::string m_scheme;
  std::string m_host; // host[:port] of the endpoint
};

} // namespace credrotd::s3
