// SPDX-License-Identifier: Apache-2.0
// SigV4 and SigV2 signing of S3 requests: validation, the strings to sign, OpenSSL's HMAC.
#include "sign/signer.hpp"

#include "core/text.hpp"
#include "sign/canonical.hpp"

#include <fmt/format.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <utility>

namespace credrotd::sign {

namespace {

using core::Errc;

constexpr std::string_view k_v4_algorithm = "AWS4-HMAC-SHA256";

core::Error invalid(std::string message)
{
  return core::make_error(Errc::internal, std::move(message));
}

bool is_control(char c) noexcept
{
  return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
}

// True when `text` holds a control character (tab and DEL included) or one of `also`.
bool has_any(std::string_view text, std::string_view also = {}) noexcept
{
  return std::any_of(text.begin(), text.end(), [also](char c) {
    return is_control(c) || also.find(c) != std::string_view::npos;
  });
}

// SigV2's header form is the one signature that does not cover the host.
enum class HostRequired { yes, no };

core::Status validate_request(const Request& request, HostRequired host_required)
{
  if (!is_header_name(request.method)) {
    return invalid(fmt::format("the request method \"{}\" is not an HTTP token",
                               has_any(request.method) ? "?" : request.method));
  }
  if (request.scheme.empty() || has_any(request.scheme, " ")) {
    return invalid("the request scheme is empty or contains blanks or control characters");
  }
  if ((host_required == HostRequired::yes && request.host.empty()) || has_any(request.host, " ")) {
    return invalid("the request host is empty or contains blanks or control characters");
  }
  if (request.path.empty() || request.path.front() != '/') {
    return invalid("the request path must start with '/'");
  }
  if (has_any(request.path)) {
    return invalid("the request path contains a control character");
  }
  if (request.path.find_first_of("?#") != std::string::npos) {
    // On the wire they would end the path; a path as sent has them encoded (encode_path).
    return invalid("the request path contains '?' or '#': send them encoded (encode_path)");
  }
  for (const Header& header : request.headers) {
    if (!is_header_name(header.name)) {
      return invalid("a request header name is empty or not an HTTP token");
    }
    if (!is_header_value(header.value)) {
      // The value is not shown: it may be a credential.
      return invalid(fmt::format("the value of request header {} contains a control character "
                                 "or a line break that is not a fold",
                                 header.name));
    }
  }
  return {};
}

core::Status validate_credentials(const Credentials& credentials)
{
  const std::string_view id = credentials.access_key_id;
  if (id.empty() || has_any(id, " /:,")) {
    return invalid("the access key id is empty or contains a blank, a control character, '/', "
                   "':' or ','");
  }
  if (has_any(credentials.session_token.reveal())) {
    return invalid("the session token contains a control character");
  }
  return {};
}

core::Status validate_v4_options(const Request& request, const V4Options& options)
{
  if (request.payload_hash.empty() || has_any(request.payload_hash, " ")) {
    return invalid(
        "the payload hash must be a hex SHA-256, UNSIGNED-PAYLOAD or a STREAMING-* value");
  }
  for (const std::string_view part : {options.region, options.service}) {
    if (part.empty() || has_any(part, " /:,")) {
      return invalid("the SigV4 region and service must be non-empty, without blanks, control "
                     "characters, '/', ':' or ','");
    }
  }
  return {};
}

// Names the signer refuses in Request::headers: it adds them itself, or they come elsewhere.
struct Reserved {
  bool content_sha256 = false; // x-amz-content-sha256
  bool amz_date = false;       // x-amz-date
  bool security_token = false; // x-amz-security-token
};

core::Status check_reserved(std::string_view lower_name, const Reserved& reserved)
{
  if (lower_name == "host") {
    return invalid("the Host header must not be in Request::headers: the signers take "
                   "Request::host");
  }
  if (lower_name == "authorization" || (reserved.amz_date && lower_name == "x-amz-date") ||
      (reserved.content_sha256 && lower_name == "x-amz-content-sha256") ||
      (reserved.security_token && lower_name == "x-amz-security-token")) {
    return invalid(
        fmt::format("the request must not carry a {} header: the signer adds it", lower_name));
  }
  return {};
}

using Bytes = std::span<const unsigned char>;

// A MAC, or a SigV4 key derived as one; wiped when it goes.
struct Mac {
  unsigned char bytes[EVP_MAX_MD_SIZE] = {};
  std::size_t size = 0;

  Mac() = default;
  Mac(const Mac&) = default;
  Mac& operator=(const Mac&) = default;
  ~Mac() { core::wipe(bytes, sizeof bytes); }
  Bytes view() const noexcept { return {bytes, size}; }
};

struct MacCtxFree {
  void operator()(EVP_MAC_CTX* ctx) const noexcept { EVP_MAC_CTX_free(ctx); }
};
using MacCtx = std::unique_ptr<EVP_MAC_CTX, MacCtxFree>;

[[noreturn]] void openssl_failed(std::string_view what)
{
  throw std::runtime_error(fmt::format("OpenSSL: {}", what));
}

// An HMAC context with its digest set and no key. OpenSSL 3.0 fetches an algorithm by name on
// every one-shot call (EVP_Q_mac, HMAC()), which cost more than the MACs themselves; copying a
// prepared context does not (docs/PERFORMANCE.md).
MacCtx hmac_template(const char* digest)
{
  EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  MacCtx ctx(mac == nullptr ? nullptr : EVP_MAC_CTX_new(mac));
  EVP_MAC_free(mac); // the context keeps its own reference
  const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>(digest), 0),
      OSSL_PARAM_construct_end()};
  if (!ctx || EVP_MAC_CTX_set_params(ctx.get(), params) != 1) {
    openssl_failed(fmt::format("HMAC-{}", digest));
  }
  return ctx;
}

enum class Digest { sha256, sha1 };

// HMAC for the MACs of one signature: the context is copied from a prepared one, keyed anew
// for each MAC, and freed (OpenSSL wipes its key state) when the signature is done.
class Hmac {
public:
  explicit Hmac(Digest digest)
  {
    thread_local const MacCtx k_sha256 = hmac_template("SHA256");
    thread_local const MacCtx k_sha1 = hmac_template("SHA1");
    m_ctx.reset(EVP_MAC_CTX_dup(digest == Digest::sha256 ? k_sha256.get() : k_sha1.get()));
    if (!m_ctx) {
      openssl_failed("HMAC");
    }
  }

  Mac operator()(Bytes key, std::string_view data)
  {
    Mac mac;
    if (EVP_MAC_init(m_ctx.get(), key.data(), key.size(), nullptr) != 1 ||
        EVP_MAC_update(m_ctx.get(), reinterpret_cast<const unsigned char*>(data.data()),
                       data.size()) != 1 ||
        EVP_MAC_final(m_ctx.get(), mac.bytes, &mac.size, sizeof mac.bytes) != 1) {
      openssl_failed("HMAC");
    }
    return mac;
  }

private:
  MacCtx m_ctx;
};

Bytes as_bytes(std::string_view text)
{
  return {reinterpret_cast<const unsigned char*>(text.data()), text.size()};
}

// A list of (lower-case name, canonical value) sorted by name, repeats in request order; and
// the canonical header lines, each name once with its values joined by ','.
using HeaderList = std::vector<std::pair<std::string, std::string>>;

std::string header_lines(HeaderList& headers)
{
  std::stable_sort(headers.begin(), headers.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string out;
  for (std::size_t i = 0; i < headers.size(); ++i) {
    if (i > 0 && headers[i].first == headers[i - 1].first) {
      out.back() = ','; // continues the previous line
    } else {
      out += headers[i].first + ':';
    }
    out += headers[i].second + '\n';
  }
  return out;
}

} // namespace

std::string sha256_hex(std::string_view data)
{
  struct MdFree {
    void operator()(EVP_MD* md) const noexcept { EVP_MD_free(md); }
  };
  // Fetched once (see hmac_template); a fetched EVP_MD may be shared between threads.
  static const std::unique_ptr<EVP_MD, MdFree> k_sha256(EVP_MD_fetch(nullptr, "SHA256", nullptr));
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (!k_sha256 ||
      EVP_Digest(data.data(), data.size(), digest, &size, k_sha256.get(), nullptr) != 1) {
    openssl_failed("SHA-256");
  }
  return core::hex_encode({digest, size});
}

std::string_view V4Signature::authorization() const noexcept
{
  return headers.empty() ? std::string_view{} : std::string_view(headers.back().value);
}

std::string_view V2Signature::authorization() const noexcept
{
  return headers.empty() ? std::string_view{} : std::string_view(headers.back().value);
}

core::Result<V4Signature> sign_v4(const Request& request, const Credentials& credentials,
                                  const V4Options& options, Clock::time_point when)
{
  CREDROTD_TRY(validate_request(request, HostRequired::yes));
  CREDROTD_TRY(validate_credentials(credentials));
  CREDROTD_TRY(validate_v4_options(request, options));
  const bool token = !credentials.session_token.empty();
  const bool content_header = options.content_sha256 == ContentSha256::header;
  const std::string amz = amz_date(when);
  const std::string scope =
      fmt::format("{}/{}/{}/aws4_request", amz.substr(0, 8), options.region, options.service);

  // The headers the signer adds, in the order they are sent (Authorization last).
  V4Signature out;
  out.headers.push_back({"x-amz-date", amz});
  if (content_header) {
    out.headers.push_back({"x-amz-content-sha256", request.payload_hash});
  }
  if (token) {
    out.headers.push_back(
        {"x-amz-security-token", std::string(credentials.session_token.reveal())});
  }
  HeaderList headers{{"host", request.host}};
  const Reserved reserved{
      .content_sha256 = content_header, .amz_date = true, .security_token = token};
  for (const Header& header : request.headers) {
    std::string name = core::ascii_lower(header.name);
    CREDROTD_TRY(check_reserved(name, reserved));
    headers.emplace_back(std::move(name), v4_header_value(header.value));
  }
  for (const Header& header : out.headers) {
    headers.emplace_back(header.name, header.value);
  }
  const std::string lines = header_lines(headers);
  std::string signed_headers;
  for (std::size_t i = 0; i < headers.size(); ++i) {
    if (i == 0 || headers[i].first != headers[i - 1].first) {
      signed_headers += (i == 0 ? "" : ";") + headers[i].first;
    }
  }

  out.canonical_request = fmt::format(
      "{}\n{}\n{}\n{}\n{}\n{}", request.method, canonical_uri(request.path, options.uri_rules),
      canonical_query_string(request.query), lines, signed_headers, request.payload_hash);
  out.string_to_sign =
      fmt::format("{}\n{}\n{}\n{}", k_v4_algorithm, amz, scope, sha256_hex(out.canonical_request));

  // kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request").
  core::WipingString first_key;
  first_key.reserve(64); // on the heap, which the allocator wipes, whatever the secret's size
  first_key.append("AWS4").append(credentials.secret_access_key.reveal());
  Hmac hmac(Digest::sha256);
  Mac key = hmac(as_bytes(first_key), amz.substr(0, 8));
  for (const std::string_view part :
       std::initializer_list<std::string_view>{options.region, options.service, "aws4_request"}) {
    key = hmac(key.view(), part);
  }
  out.signature = core::hex_encode(hmac(key.view(), out.string_to_sign).view());
  out.headers.push_back(
      {"Authorization",
       fmt::format("{} Credential={}/{}, SignedHeaders={}, Signature={}", k_v4_algorithm,
                   credentials.access_key_id, scope, signed_headers, out.signature)});
  return out;
}

core::Result<V2Signature> sign_v2(const Request& request, const Credentials& credentials,
                                  const V2Options& options, Clock::time_point when)
{
  CREDROTD_TRY(validate_request(request, HostRequired::no));
  CREDROTD_TRY(validate_credentials(credentials));
  if (has_any(options.virtual_host_bucket, " ")) {
    return invalid("the virtual-host bucket contains blanks or control characters");
  }
  const bool token = !credentials.session_token.empty();

  // Content-MD5, Content-Type and Date have lines of their own; x-amz-* are signed together.
  std::optional<std::string> content_md5;
  std::optional<std::string> content_type;
  std::optional<std::string> date;
  HeaderList amz;
  for (const Header& header : request.headers) {
    const std::string name = core::ascii_lower(header.name);
    CREDROTD_TRY(check_reserved(name, {.security_token = token}));
    std::optional<std::string>* single = name == "content-md5"    ? &content_md5
                                         : name == "content-type" ? &content_type
                                         : name == "date"         ? &date
                                                                  : nullptr;
    if (single != nullptr) {
      if (single->has_value()) {
        return invalid(fmt::format("the request carries more than one {} header", name));
      }
      *single = v2_header_value(header.value);
    } else if (name.starts_with("x-amz-")) {
      amz.emplace_back(name, v2_header_value(header.value));
    }
  }
  if (token) {
    amz.emplace_back("x-amz-security-token", credentials.session_token.reveal());
  }

  // The date line: Date, or x-amz-date by the rule chosen, or the signer's own Date.
  V2Signature out;
  std::string date_line;
  if (std::any_of(amz.begin(), amz.end(), [](const auto& h) { return h.first == "x-amz-date"; })) {
    if (options.amz_date_rule == AmzDateRule::replaces_date_line) {
      for (const auto& [name, value] : amz) {
        if (name == "x-amz-date") {
          date_line += (date_line.empty() ? "" : ",") + value;
        }
      }
      std::erase_if(amz, [](const auto& h) { return h.first == "x-amz-date"; });
    }
  } else if (date) {
    date_line = *date;
  } else {
    date_line = http_date(when);
    out.headers.push_back({"Date", date_line});
  }

  // CanonicalizedResource: [/bucket] path [?sub-resources sorted by name].
  std::string resource =
      (options.virtual_host_bucket.empty() ? "" : "/" + options.virtual_host_bucket) + request.path;
  std::vector<const QueryParam*> subresources;
  for (const QueryParam& param : request.query) {
    if (is_v2_subresource(param.key)) {
      subresources.push_back(&param);
    }
  }
  std::stable_sort(subresources.begin(), subresources.end(),
                   [](const QueryParam* a, const QueryParam* b) { return a->key < b->key; });
  for (const QueryParam* param : subresources) {
    resource += (param == subresources.front() ? "?" : "&") + param->key;
    if (!param->value.empty()) {
      resource += "=" + param->value;
    }
  }

  out.string_to_sign =
      fmt::format("{}\n{}\n{}\n{}\n{}{}", request.method, content_md5.value_or(""),
                  content_type.value_or(""), date_line, header_lines(amz), resource);
  const Mac mac =
      Hmac(Digest::sha1)(as_bytes(credentials.secret_access_key.reveal()), out.string_to_sign);
  out.signature = core::base64_encode({reinterpret_cast<const char*>(mac.bytes), mac.size});

  if (token) {
    out.headers.push_back(
        {"x-amz-security-token", std::string(credentials.session_token.reveal())});
  }
  out.headers.push_back(
      {"Authorization", fmt::format("AWS {}:{}", credentials.access_key_id, out.signature)});
  return out;
}

std::string redact(std::string_view text, const Credentials& credentials)
{
  std::string out(text);
  for (const core::Secret* secret : {&credentials.secret_access_key, &credentials.session_token}) {
    // Raw (headers, strings to sign) and percent-encoded (canonical queries, URLs).
    core::redact(out, secret->reveal());
    std::string encoded = uri_encode(secret->reveal(), Slash::encode);
    core::redact(out, encoded);
    core::wipe(encoded.data(), encoded.size());
  }
  return out;
}

} // namespace credrotd::sign
