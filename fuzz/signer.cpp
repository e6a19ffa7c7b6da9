// SPDX-License-Identifier: Apache-2.0
// Fuzzes sign_v4 and sign_v2 with request descriptions built from the input. Each result is
// checked against a plain recomputation (canonical request from the documented steps, OpenSSL
// one-shot HMAC), so the signers must agree with the definition.
//
// Input: fields separated by \x1f: flags, method, host, path, raw query, payload hash, region,
// headers (separated by \x1e, "name:value"). Flags: byte 0 bit 0 session token, bit 1 generic
// URI rules, bit 2 no x-amz-content-sha256, bit 3 x-amz-date replaces SigV2's date line, bit 4
// virtual-host bucket, bit 5 service "execute-api", bits 6-7 which of three secrets; byte 1
// unused (it was the presign expiry: the corpus keeps its layout); bytes 2-9 the signing time
// (seconds, within the clock's range).
#include "sign/signer.hpp"

#include "core/text.hpp"
#include "sign/canonical.hpp"
#include "sign/encoding.hpp"
#include "support.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <array>
#include <cstring>

using namespace credrotd;
using namespace credrotd::sign;
using fuzz::require;

namespace {

// Fake credentials (never valid anywhere).
constexpr std::string_view k_access = "FUZZACCESSKEY0000001";
constexpr std::array<std::string_view, 3> k_secrets = {"fuzz/Secret+Key=0123456789abcdefFUZZ",
                                                       "0a1b2c3d4e5f60718293a4b5c6d7e8f9", "x"};
constexpr std::string_view k_token = "FUZZ//token+value=with/slashes";

std::string hmac(const EVP_MD* md, std::string_view key, std::string_view data)
{
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  HMAC(md, key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &size);
  return std::string(reinterpret_cast<const char*>(out), size);
}

std::string v4_signature(std::string_view secret, std::string_view date, const V4Options& options,
                         std::string_view string_to_sign)
{
  const EVP_MD* md = EVP_sha256();
  std::string key = hmac(md, "AWS4" + std::string(secret), date);
  key = hmac(md, key, options.region);
  key = hmac(md, key, options.service);
  key = hmac(md, key, "aws4_request");
  return core::hex_encode(hmac(md, key, string_to_sign));
}

// The canonical request of the SigV4 definition, built step by step.
std::string v4_canonical(const Request& request, const V4Options& options,
                         const std::vector<QueryParam>& query,
                         const std::vector<std::pair<std::string, std::string>>& added,
                         std::string_view payload)
{
  std::vector<std::pair<std::string, std::string>> headers{{"host", request.host}};
  for (const auto& h : request.headers) {
    headers.emplace_back(core::ascii_lower(h.name), v4_header_value(h.value));
  }
  headers.insert(headers.end(), added.begin(), added.end());
  std::stable_sort(headers.begin(), headers.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string lines;
  std::string names;
  for (std::size_t i = 0; i < headers.size(); ++i) {
    if (i > 0 && headers[i].first == headers[i - 1].first) {
      lines.pop_back();
      lines += "," + headers[i].second + "\n";
      continue;
    }
    lines += headers[i].first + ":" + headers[i].second + "\n";
    names += (names.empty() ? "" : ";") + headers[i].first;
  }
  const std::string path = options.uri_rules == UriRules::generic
                               ? uri_encode(normalize_path(request.path), Slash::keep)
                               : canonical_uri(request.path, UriRules::s3);
  return request.method + "\n" + path + "\n" + canonical_query_string(query) + "\n" + lines + "\n" +
         names + "\n" + std::string(payload);
}

std::string v4_string_to_sign(std::string_view amz_date, const V4Options& options,
                              std::string_view canonical)
{
  return "AWS4-HMAC-SHA256\n" + std::string(amz_date) + "\n" + std::string(amz_date.substr(0, 8)) +
         "/" + options.region + "/" + options.service + "/aws4_request\n" + sha256_hex(canonical);
}

// The SigV2 string to sign of the S3 REST authentication rules, built step by step.
// `expires` empty: the header form.
std::string v2_string_to_sign(const Request& request, const V2Options& options, bool token,
                              std::string_view expires, Clock::time_point when)
{
  std::string md5;
  std::string type;
  std::string date;
  bool has_date = false;
  std::vector<std::pair<std::string, std::string>> amz;
  for (const auto& h : request.headers) {
    const std::string name = core::ascii_lower(h.name);
    const std::string value = v2_header_value(h.value);
    if (name == "content-md5") {
      md5 = value;
    } else if (name == "content-type") {
      type = value;
    } else if (name == "date") {
      date = value;
      has_date = true;
    } else if (name.starts_with("x-amz-")) {
      amz.emplace_back(name, value);
    }
  }
  if (token) {
    amz.emplace_back("x-amz-security-token", std::string(k_token));
  }
  std::stable_sort(amz.begin(), amz.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string date_line;
  bool skip_amz_date = false;
  const bool has_amz_date =
      std::any_of(amz.begin(), amz.end(), [](const auto& h) { return h.first == "x-amz-date"; });
  if (!expires.empty()) {
    date_line = expires;
  } else if (has_amz_date) {
    if (options.amz_date_rule == AmzDateRule::replaces_date_line) {
      for (const auto& h : amz) {
        if (h.first == "x-amz-date") {
          date_line += (date_line.empty() ? "" : ",") + h.second;
        }
      }
      skip_amz_date = true;
    }
  } else {
    date_line = has_date ? date : http_date(when);
  }
  std::string lines;
  for (std::size_t i = 0; i < amz.size(); ++i) {
    if (skip_amz_date && amz[i].first == "x-amz-date") {
      continue;
    }
    if (!lines.empty() && lines.ends_with("\n") && i > 0 && amz[i].first == amz[i - 1].first) {
      lines.pop_back();
      lines += "," + amz[i].second + "\n";
      continue;
    }
    lines += amz[i].first + ":" + amz[i].second + "\n";
  }
  std::string resource;
  if (!options.virtual_host_bucket.empty()) {
    resource = "/" + options.virtual_host_bucket;
  }
  resource += request.path;
  std::vector<QueryParam> sub;
  for (const auto& q : request.query) {
    if (is_v2_subresource(q.key)) {
      sub.push_back(q);
    }
  }
  std::stable_sort(sub.begin(), sub.end(),
                   [](const QueryParam& a, const QueryParam& b) { return a.key < b.key; });
  char separator = '?';
  for (const auto& q : sub) {
    resource += separator + q.key + (q.value.empty() ? "" : "=" + q.value);
    separator = '&';
  }
  return request.method + "\n" + md5 + "\n" + type + "\n" + date_line + "\n" + lines + resource;
}

// Unless the request itself spells them out, no error message may show the secret or token.
void check_no_secret(const core::Error& error, const Credentials& credentials,
                     std::string_view input)
{
  for (const std::string_view secret :
       {credentials.secret_access_key.reveal(), credentials.session_token.reveal()}) {
    require(secret.size() < 8 || input.find(secret) != std::string_view::npos ||
                error.message.find(secret) == std::string::npos,
            "an error message quotes the secret or the token");
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
  const std::string_view input = fuzz::as_text(data, size);
  const auto fields = fuzz::split(input, 8);
  const auto field = [&](std::size_t i) {
    return i < fields.size() ? fields[i] : std::string_view();
  };
  const std::string_view flags = field(0);
  const auto flag_byte = [&](std::size_t i) {
    return i < flags.size() ? static_cast<std::uint8_t>(flags[i]) : std::uint8_t{0};
  };
  const std::uint8_t f = flag_byte(0);
  std::int64_t seconds = 1369353600; // 2013-05-24
  if (flags.size() >= 10) {
    std::memcpy(&seconds, flags.data() + 2, sizeof seconds);
    seconds %= 9'000'000'000; // the nanosecond clock covers +-292 years around 1970
  }
  const Clock::time_point when{std::chrono::seconds(seconds)};

  Credentials credentials;
  credentials.access_key_id = std::string(k_access);
  credentials.secret_access_key = core::Secret(k_secrets[(f >> 6) % k_secrets.size()]);
  if ((f & 1) != 0) {
    credentials.session_token = core::Secret(k_token);
  }
  Request request;
  request.method = std::string(field(1));
  request.host = std::string(field(2));
  request.path = std::string(field(3));
  request.query = parse_query(field(4));
  if (!field(5).empty()) {
    request.payload_hash = std::string(field(5));
  }
  for (std::string_view rest = field(7); !rest.empty();) {
    const auto end = std::min(rest.find('\x1e'), rest.size());
    const std::string_view h = rest.substr(0, end);
    const auto colon = h.find(':');
    request.headers.push_back(
        Header{std::string(h.substr(0, colon)),
               colon == std::string_view::npos ? std::string() : std::string(h.substr(colon + 1))});
    rest.remove_prefix(std::min(end + 1, rest.size()));
  }
  V4Options v4;
  if (!field(6).empty()) {
    v4.region = std::string(field(6));
  }
  v4.uri_rules = (f & 2) != 0 ? UriRules::generic : UriRules::s3;
  v4.content_sha256 = (f & 4) != 0 ? ContentSha256::omit : ContentSha256::header;
  if ((f & 32) != 0) {
    v4.service = "execute-api";
  }
  V2Options v2;
  v2.amz_date_rule = (f & 8) != 0 ? AmzDateRule::replaces_date_line : AmzDateRule::blank_date_line;
  if ((f & 16) != 0) {
    v2.virtual_host_bucket = "fuzz-bucket";
  }
  const std::string_view secret = credentials.secret_access_key.reveal();
  const bool token = (f & 1) != 0;

  // SigV4, Authorization header.
  const auto signed4 = sign_v4(request, credentials, v4, when);
  if (signed4) {
    const std::string amz = amz_date(when);
    std::vector<std::pair<std::string, std::string>> added{{"x-amz-date", amz}};
    if (v4.content_sha256 == ContentSha256::header) {
      added.emplace_back("x-amz-content-sha256", request.payload_hash);
    }
    if (token) {
      added.emplace_back("x-amz-security-token", std::string(k_token));
    }
    const std::string canonical =
        v4_canonical(request, v4, request.query, added, request.payload_hash);
    require(signed4->canonical_request == canonical,
            "the SigV4 canonical request differs from the definition");
    const std::string to_sign = v4_string_to_sign(amz, v4, canonical);
    require(signed4->string_to_sign == to_sign,
            "the SigV4 string to sign differs from the definition");
    require(signed4->signature == v4_signature(secret, amz.substr(0, 8), v4, to_sign),
            "the SigV4 signature differs from a plain HMAC chain");
    require(signed4->authorization().starts_with(
                "AWS4-HMAC-SHA256 Credential=" + std::string(k_access) + "/" + amz.substr(0, 8)) &&
                signed4->authorization().ends_with(", Signature=" + signed4->signature),
            "the SigV4 Authorization header is malformed");
    require(!token ||
                redact(signed4->canonical_request, credentials).find(k_token) == std::string::npos,
            "redact() kept the session token");
  } else {
    check_no_secret(signed4.error(), credentials, input);
  }

  // SigV2, Authorization header.
  const auto signed2 = sign_v2(request, credentials, v2, when);
  if (signed2) {
    require(signed2->signature ==
                core::base64_encode(hmac(EVP_sha1(), secret, signed2->string_to_sign)),
            "the SigV2 signature differs from a plain HMAC-SHA1");
    require(signed2->authorization() == "AWS " + std::string(k_access) + ":" + signed2->signature,
            "the SigV2 Authorization header is malformed");
    require(signed2->string_to_sign == v2_string_to_sign(request, v2, token, {}, when),
            "the SigV2 string to sign differs from the definition");
  } else {
    check_no_secret(signed2.error(), credentials, input);
  }
  return 0;
}
