// SPDX-License-Identifier: Apache-2.0
// S3 request signing: SigV4 and SigV2 in the Authorization header, as the S3 verifier sends them.
//
// Use: describe the request exactly as it will be sent (Request), sign it, add the returned
// headers and send it unchanged:
//
//   sign::Request request{.method = "GET", .host = "s3.example.net:8080",
//                         .path = sign::encode_path("/bucket/key"),
//                         .query = {{"versionId", "3"}}};
//   auto signed_request = sign::sign_v4(request, credentials, {.region = "RegionOne"}, now);
//   if (!signed_request) { ... signed_request.error() ... }
//   // send: request.method, sign::request_target(request.path, request.query),
//   //       Host: request.host, request.headers, then signed_request->headers.
//
// Everything here is a pure function of its arguments: no I/O, no clock (the caller passes
// the time, so tests can sign with a skewed clock), no state. Secrets stay in core::Secret;
// derived keys are wiped; nothing is printed or logged. A rotation signs a handful of
// requests: the code is written to be read, not tuned (docs/PERFORMANCE.md has its speed).
#pragma once

#include "core/error.hpp"
#include "core/secret.hpp"
#include "sign/encoding.hpp"
#include "sign/time_format.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace credrotd::sign {

struct Header {
  std::string name{};
  std::string value{};

  friend bool operator==(const Header&, const Header&) = default;
};

struct Credentials {
  std::string access_key_id{}; // not secret: it is sent in the Authorization header
  core::Secret secret_access_key{};
  core::Secret session_token{}; // empty: no session token
};

// Hex SHA-256 of an empty payload, and the two other values SigV4 accepts as payload hash.
inline constexpr std::string_view k_empty_payload_sha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
inline constexpr std::string_view k_unsigned_payload = "UNSIGNED-PAYLOAD";
inline constexpr std::string_view k_streaming_payload = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";

// Lower-case hex SHA-256 of `data`, for Request::payload_hash.
std::string sha256_hex(std::string_view data);

// A request as it will be sent. The signers read it; they never change it.
struct Request {
  std::string method = "GET"; // sent and signed as given (use upper case)
  std::string scheme = "https";
  // host[:port] exactly as in the Host header (SigV4 signs it as "host"). Do not also put a
  // Host header in `headers`. Only SigV2's header form, which does not sign it, accepts an
  // empty host.
  std::string host{};
  // The path as sent on the wire, starting with '/', percent-encoded as by encode_path(). Both
  // signers take it as it is (see UriRules for what SigV4 does with it).
  std::string path = "/";
  // Decoded parameters; send them with encode_query()/request_target() so that the wire form
  // is the one signed.
  std::vector<QueryParam> query{};
  // The other headers to send; all of them are signed (names in any case, values raw: the
  // signers trim and canonicalise them). Add headers that must stay unsigned, such as
  // User-Agent, to the wire request yourself. Not allowed here: Host, Authorization, and the
  // headers the signer adds itself (see each sign function).
  std::vector<Header> headers{};
  // SigV4 only: hex SHA-256 of the body (sha256_hex), k_unsigned_payload or
  // k_streaming_payload.
  std::string payload_hash = std::string(k_empty_payload_sha256);
};

// How SigV4 turns Request::path into the canonical URI.
enum class UriRules {
  // S3: the path is signed as sent, never normalised, encoded once: the canonical URI is
  // uri_encode(percent_decode(path), Slash::keep), which is what S3, Ceph RGW and Swift s3api
  // compute from the request line ("/a b/$" and "/a%20b/%24" both sign as "/a%20b/%24").
  s3,
  // Every other AWS-style service: dot segments removed and repeated slashes merged
  // (RFC 3986 5.2.4), then the path as sent is encoded once more ("double encoding": a '%'
  // in the path becomes %25).
  generic,
};

// Whether SigV4 header signing adds and signs x-amz-content-sha256 (S3 requires it; other
// services do not use it).
enum class ContentSha256 { header, omit };

struct V4Options {
  std::string region = "us-east-1";
  std::string service = "s3";
  UriRules uri_rules = UriRules::s3;
  ContentSha256 content_sha256 = ContentSha256::header;
};

// Which date SigV2 signs when the request carries an x-amz-date header.
enum class AmzDateRule {
  // The Date line of the string to sign is empty and x-amz-date is signed with the other
  // x-amz-* headers. What Swift s3api, Ceph RGW and boto compute, and the S3 guide's rule
  // ("if you include x-amz-date, use the empty string for the Date").
  blank_date_line,
  // The value of x-amz-date goes on the Date line and is not repeated among the x-amz-*
  // headers: the S3 Developer Guide's worked "Delete" example, which contradicts its own rule.
  replaces_date_line,
};

struct V2Options {
  // For virtual-hosted-style requests (bucket.s3.example.net, or a CNAME such as
  // static.example.net): the bucket the host names, which SigV2 puts in front of the path
  // ("/bucket/key"). Empty for path-style requests, whose path already starts with it, and
  // for requests to the service (ListBuckets).
  std::string virtual_host_bucket{};
  AmzDateRule amz_date_rule = AmzDateRule::blank_date_line;
};

// The result of signing with SigV4 in the Authorization header.
struct V4Signature {
  // Add these to the request, after Request::headers: x-amz-date, x-amz-content-sha256 (unless
  // ContentSha256::omit), x-amz-security-token (with a session token), Authorization (last).
  std::vector<Header> headers;
  std::string signature; // 64 lower-case hex digits
  // For diagnosing a SignatureDoesNotMatch; not secret, except that with a session token the
  // canonical request contains it: log redact(canonical_request, credentials).
  std::string canonical_request;
  std::string string_to_sign;

  std::string_view authorization() const noexcept;
};

// The result of signing with SigV2 in the Authorization header.
struct V2Signature {
  // Add these to the request: Date (only when the request had neither Date nor x-amz-date:
  // then the signer dates it from the time given), x-amz-security-token (with a session
  // token), Authorization ("AWS <access key id>:<signature>", last).
  std::vector<Header> headers;
  std::string signature;      // base64 HMAC-SHA1
  std::string string_to_sign; // contains the session token, if any: see redact()

  std::string_view authorization() const noexcept;
};

// Every sign function validates the request and returns Errc::internal when it is malformed
// (empty method or host, a path not starting with '/' or holding a raw '?' or '#', control
// characters or a line break that is not a header continuation, a header name that is not an HTTP
// token, a header the signer owns already present). The message names the offending header or
// parameter, never a secret.

// SigV4 in the Authorization header, dated `when` (x-amz-date and the credential scope). The
// request must not carry x-amz-date, x-amz-content-sha256 (unless ContentSha256::omit) or, with
// a session token, x-amz-security-token.
core::Result<V4Signature> sign_v4(const Request& request, const Credentials& credentials,
                                  const V4Options& options, Clock::time_point when);

// SigV2 (S3 REST) in the Authorization header. The string to sign takes the request's Date
// header, or x-amz-date (see AmzDateRule); when it has neither, the signer adds
// "Date: <when as an HTTP date>". Content-MD5, Content-Type and Date may appear once each.
core::Result<V2Signature> sign_v2(const Request& request, const Credentials& credentials,
                                  const V2Options& options, Clock::time_point when);

// `text` with every occurrence of the credentials' secret key and session token replaced by
// "<redacted>", raw or percent-encoded: for logging canonical requests and strings to sign.
std::string redact(std::string_view text, const Credentials& credentials);

} // namespace credrotd::sign
