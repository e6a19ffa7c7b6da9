// SPDX-License-Identifier: Apache-2.0
// Percent-encoding of paths and query strings: one encoder for both what is signed and what is
// sent.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace credrotd::sign {

// One query parameter, decoded ("prefix", "photos/2024 x"). The encoders below produce both
// the wire form and the canonical (signed) form from it, so the two cannot disagree.
struct QueryParam {
  std::string key{};
  std::string value{}; // empty: sent as a bare key ("?acl"), signed as "acl=" by SigV4

  friend bool operator==(const QueryParam&, const QueryParam&) = default;
};

// Whether uri_encode leaves '/' alone (paths) or encodes it as %2F (query keys and values).
enum class Slash { keep, encode };

// SigV4's UriEncode: every byte outside the RFC 3986 unreserved set (A-Z a-z 0-9 - . _ ~), and
// '/' unless `slash` is keep, written as %XX with upper-case hex. Bytes are encoded one by one,
// so UTF-8 becomes one escape per byte.
std::string uri_encode(std::string_view text, Slash slash);

// Decodes %XX escapes (hex digits in either case). A '%' that is not followed by two hex digits
// is kept as it is, and '+' stays '+' (RFC 3986, not HTML forms). Never fails.
std::string percent_decode(std::string_view text);

// Splits a raw query string such as "a=1&b&c=%20x" (without the '?') into decoded parameters,
// in order. A piece without '=' has an empty value; empty pieces ("a&&b") are skipped.
std::vector<QueryParam> parse_query(std::string_view raw);

// The query string to send, without '?': parameters in the given order, key and value
// uri_encode'd (slash encoded), "key=value" joined by '&'. An empty value is sent as the bare
// key ("acl"), the form S3 sub-resources take; an empty key with an empty value as "=".
std::string encode_query(std::span<const QueryParam> params);

// The request target for the HTTP request line: `path` as given, then '?' and
// encode_query(query) when there are parameters.
std::string request_target(std::string_view path, std::span<const QueryParam> query);

// The path to send for an S3 object key or any raw (decoded) path: uri_encode(raw, keep), so
// "/bucket/a b/ü" becomes "/bucket/a%20b/%C3%BC". This is the encoding both signers expect.
std::string encode_path(std::string_view raw_path);

} // namespace credrotd::sign
