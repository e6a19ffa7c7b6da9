// SPDX-License-Identifier: Apache-2.0
// Signed ListBuckets / HEAD bucket / probe-object requests and the classification of answers.
#include "s3/verifier.hpp"

#include "core/text.hpp"

#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <openssl/rand.h>

#include <cctype>
#include <optional>

namespace credrotd::s3 {

namespace {

using core::VerifyResult;

std::string_view version_name(core::SignatureVersion v)
{
  return v == core::SignatureVersion::v2 ? "SigV2" : "SigV4";
}

std::string random_hex(std::size_t bytes)
{
  std::vector<unsigned char> raw(bytes);
  if (RAND_bytes(raw.data(), static_cast<int>(raw.size())) != 1) {
    return "0";
  }
  return core::hex_encode(raw);
}

net::Method to_method(std::string_view m)
{
  if (m == "HEAD") {
    return net::Method::head;
  }
  if (m == "PUT") {
    return net::Method::put;
  }
  if (m == "DELETE") {
    return net::Method::delete_;
  }
  return net::Method::get;
}

} // namespace

struct Verifier::Target {
  std::string what;
  std::string method = "GET";
  std::string host;                // host[:port] to send and sign
  std::string path = "/";          // encoded
  std::string virtual_bucket;      // SigV2 virtual-hosted resource
  std::string body;                // sent with PUT
  std::optional<std::string> want; // GET: the body it must return
};

VerifyResult classify(int status, std::string_view code)
{
  if (status >= 200 && status < 300) {
    return VerifyResult::accepted;
  }
  if (code == "RequestTimeTooSkewed") {
    return VerifyResult::clock_skew;
  }
  if (code == "InvalidAccessKeyId" || code == "SignatureDoesNotMatch" || code == "AccessDenied" ||
      code == "InvalidToken" || code == "ExpiredToken") {
    return VerifyResult::rejected;
  }
  if (status == 403 && code.empty()) {
    return VerifyResult::rejected; // a HEAD answer carries no body to say why
  }
  return VerifyResult::unavailable;
}

std::string error_code(std::string_view body)
{
  body = body.substr(0, 64 * 1024);
  const auto open = body.find("<Code>");
  if (open == std::string_view::npos) {
    return {};
  }
  const auto start = open + 6;
  const auto close = body.find("</Code>", start);
  if (close == std::string_view::npos || close - start > 128) {
    return {};
  }
  std::string code(body.substr(start, close - start));
  for (const char c : code) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-')) {
      return {};
    }
  }
  return code;
}

Verifier::Verifier(net::HttpClient& client, VerifierOptions options)
    : m_client(client), m_options(std::move(options))
{
  std::string_view e = m_options.endpoint;
  const auto scheme_end = e.find("://");
  m_scheme = scheme_end == std::string_view::npos ? "https" : std::string(e.substr(0, scheme_end));
  e.remove_prefix(scheme_end == std::string_view::npos ? 0 : scheme_end + 3);
  const auto slash = e.find('/');
  m_host = std::string(e.substr(0, slash));
}

boost::asio::awaitable<Step> Verifier::run(const Target& t, const sign::Credentials& credentials,
                                           core::SignatureVersion version)
{
  Step step;
  step.what = std::string(version_name(version)) + " " + t.what;

  sign::Request request;
  request.method = t.method;
  request.scheme = m_scheme;
  request.host = t.host;
  request.path = t.path;
  request.payload_hash = sign::sha256_hex(t.body);
  const auto when = sign::Clock::now() + m_options.clock_offset;

  std::vector<sign::Header> added;
  if (version == core::SignatureVersion::v4) {
    auto signed_request = sign::sign_v4(request, credentials, {.region = m_options.region}, when);
    if (!signed_request) {
      step.detail = step.what + ": cannot sign: " + signed_request.error().message;
      co_return step;
    }
    added = std::move(signed_request->headers);
  } else {
    auto signed_request =
        sign::sign_v2(request, credentials, {.virtual_host_bucket = t.virtual_bucket}, when);
    if (!signed_request) {
      step.detail = step.what + ": cannot sign: " + signed_request.error().message;
      co_return step;
    }
    added = std::move(signed_request->headers);
  }

  net::Request wire;
  wire.method = to_method(t.method);
  wire.url = m_scheme + "://" + t.host + sign::request_target(request.path, request.query);
  for (const auto& h : added) {
    wire.header(h.name, h.value,
                h.name == "Authorization" || h.name == "x-amz-security-token" ? net::Sensitive::yes
                                                                              : net::Sensitive::no);
  }
  wire.body.assign(t.body.begin(), t.body.end());
  wire.idempotent = net::Idempotent::yes;

  auto response =
      co_await m_client.send(std::move(wire), net::deadline_after(m_options.request_timeout));
  if (!response) {
    const auto& error = response.error();
    step.result = error.code == core::Errc::tls ? VerifyResult::tls : VerifyResult::unavailable;
    step.detail = step.what + ": " + error.describe();
    co_return step;
  }
  step.status = response->status;
  const std::string_view body(response->body.data(), response->body.size());
  step.code = error_code(body);
  step.result = classify(step.status, step.code);
  step.detail =
      fmt::format("{}: {}{}{}", step.what, step.status, step.code.empty() ? "" : " ", step.code);
  if (step.result == VerifyResult::accepted && t.want && body != *t.want) {
    step.result = VerifyResult::unavailable;
    step.detail += " (the probe object came back with different content)";
  }
  co_return step;
}

boost::asio::awaitable<Outcome> Verifier::verify(std::string access, core::Secret secret)
{
  const sign::Credentials credentials{access, std::move(secret), {}};
  const bool path_style = m_options.addressing == core::Addressing::path;
  const std::string bucket_host = path_style ? m_host : m_options.bucket + "." + m_host;
  const std::string bucket_path = path_style ? "/" + m_options.bucket : std::string();
  const std::string v2_bucket = path_style ? std::string() : m_options.bucket;

  Outcome outcome;
  for (const auto version : m_options.signatures) {
    std::vector<Target> targets;
    for (const auto check : m_options.checks) {
      switch (check) {
      case core::VerifyCheck::list_buckets:
        targets.push_back(Target{"ListBuckets", "GET", m_host, "/", {}, {}, {}});
        break;
      case core::VerifyCheck::head_bucket:
        targets.push_back(Target{"HEAD bucket " + m_options.bucket,
                                 "HEAD",
                                 bucket_host,
                                 bucket_path.empty() ? "/" : bucket_path,
                                 v2_bucket,
                                 {},
                                 {}});
        break;
      case core::VerifyCheck::probe: {
        const std::string key = m_options.probe_prefix + access + "-" + random_hex(8);
        const std::string object_path = bucket_path + sign::encode_path("/" + key);
        const std::string body = "credrotd probe " + random_hex(8) + "\n";
        targets.push_back(
            Target{"PUT probe " + key, "PUT", bucket_host, object_path, v2_bucket, body, {}});
        targets.push_back(
            Target{"GET probe " + key, "GET", bucket_host, object_path, v2_bucket, {}, body});
        targets.push_back(
            Target{"DELETE probe " + key, "DELETE", bucket_host, object_path, v2_bucket, {}, {}});
        break;
      }
      }
    }
    for (const auto& target : targets) {
      auto step = co_await run(target, credentials, version);
      const bool ok = step.result == VerifyResult::accepted;
      outcome.steps.push_back(std::move(step));
      if (!ok) {
        outcome.result = outcome.steps.back().result;
        outcome.detail = outcome.steps.back().detail;
        co_return outcome;
      }
    }
  }
  outcome.result = VerifyResult::accepted;
  outcome.detail = fmt::format("{} signed requests accepted", outcome.steps.size());
  co_return outcome;
}

boost::asio::awaitable<Outcome> Verifier::confirm_refused(std::string access, core::Secret secret)
{
  const sign::Credentials credentials{access, std::move(secret), {}};
  Outcome outcome;
  outcome.result = VerifyResult::rejected;
  // A named target: g++ 12 destroys a temporary inside a co_await expression twice.
  const Target list_buckets{"ListBuckets", "GET", m_host, "/", {}, {}, {}};
  for (const auto version : m_options.signatures) {
    auto step = co_await run(list_buckets, credentials, version);
    if (step.result != VerifyResult::rejected && outcome.result == VerifyResult::rejected) {
      outcome.result = step.result;
      outcome.detail = step.detail;
    }
    outcome.steps.push_back(std::move(step));
  }
  if (outcome.result == VerifyResult::rejected) {
    outcome.detail = "refused: " + outcome.steps.back().detail;
  }
  co_return outcome;
}

} // namespace credrotd::s3
