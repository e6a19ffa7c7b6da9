// SPDX-License-Identifier: Apache-2.0
// SigV4 and SigV2 signing of S3 requests, over reusable OpenSSL contexts and buffers.
#include "sign/signer.hpp"

#include "sign/canonical.hpp"
#include "sign/crypto.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <utility>

namespace credrotd::sign {

namespace {

using core::Errc;

constexpr std::string_view k_v4_algorithm = "AWS4-HMAC-SHA256";

core::Error invalid(std::string message)
{
  return core::make_error(Errc::internal, std::move(message));
}

bool has_control(std::string_view text) noexcept
{
  return std::any_of(text.begin(), text.end(), [](char c) {
    const auto byte = static_cast<unsigned char>(c);
    return byte < 0x20 || byte == 0x7f;
  });
}

bool has_blank_or_control(std::string_view text) noexcept
{
  return has_control(text) || text.find(' ') != std::string_view::npos;
}

void assign_lower(std::string_view in, std::string& out)
{
  out.assign(in);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
}

// SigV2's header form is the one signature that does not cover the host.
enum class HostRequired { yes, no };

core::Status validate_request(const Request& request, HostRequired host_required)
{
  if (!is_header_name(request.method)) {
    return invalid("the request method \"" + (has_control(request.method) ? "?" : request.method) +
                   "\" is not an HTTP token");
  }
  if ((host_required == HostRequired::yes && request.host.empty()) ||
      has_blank_or_control(request.host)) {
    return invalid("the request host is empty or contains blanks or control characters");
  }
  if (request.scheme.empty() || has_blank_or_control(request.scheme)) {
    return invalid("the request scheme is empty or contains blanks or control characters");
  }
  if (request.path.empty() || request.path.front() != '/') {
    return invalid("the request path must start with '/'");
  }
  if (has_control(request.path)) {
    return invalid("the request path contains a control character");
  }
  for (const Header& header : request.headers) {
    if (!is_header_name(header.name)) {
      return invalid("a request header name is empty or not an HTTP token");
    }
    if (!is_header_value(header.value)) {
      // The value is not shown: it may be a credential.
      return invalid("the value of request header " + header.name +
                     " contains a control character or a line break that is not a fold");
    }
  }
  return {};
}

core::Status validate_credentials(const Credentials& credentials)
{
  const std::string_view id = credentials.access_key_id;
  if (id.empty() || has_blank_or_control(id) || id.find_first_of("/:,") != std::string_view::npos) {
    return invalid("the access key id is empty or contains a blank, a control character, '/', "
                   "':' or ','");
  }
  if (has_control(credentials.session_token.reveal())) {
    return invalid("the session token contains a control character");
  }
  return {};
}

core::Status validate_scope(const V4Options& options)
{
  for (const std::string_view part :
       {std::string_view(options.region), std::string_view(options.service)}) {
    if (part.empty() || has_blank_or_control(part) || part.find('/') != std::string_view::npos) {
      return invalid("the SigV4 region and service must be non-empty, without blanks, control "
                     "characters or '/'");
    }
  }
  return {};
}

core::Status validate_payload_hash(std::string_view hash)
{
  if (hash.empty() || has_blank_or_control(hash)) {
    return invalid(
        "the payload hash must be a hex SHA-256, UNSIGNED-PAYLOAD or a STREAMING-* value");
  }
  return {};
}

// The date parts of one signature.
struct Stamp {
  char amz_date[16]; // 20130524T000000Z; the first 8 characters are the scope date
  std::string_view amz() const noexcept { return {amz_date, 16}; }
  std::string_view date() const noexcept { return {amz_date, 8}; }
};

core::Result<Stamp> make_stamp(Clock::time_point when)
{
  const UtcTime utc = to_utc(when);
  if (!utc.fits_four_digit_year()) {
    return invalid("the signing time is outside the years 0000-9999");
  }
  Stamp stamp{};
  format_amz_date(utc, stamp.amz_date);
  return stamp;
}

void set_header(std::vector<Header>& headers, std::size_t index, std::string_view name,
                std::string_view value)
{
  headers[index].name.assign(name);
  headers[index].value.assign(value);
}

void set_param(std::vector<QueryParam>& params, std::size_t index, std::string_view key,
               std::string_view value)
{
  params[index].key.assign(key);
  params[index].value.assign(value);
}

void append_decimal(std::int64_t value, std::string& out)
{
  char digits[24];
  const auto end = std::to_chars(digits, digits + sizeof digits, value).ptr;
  out.append(digits, end);
}

void build_target(const Request& request, const std::vector<QueryParam>& auth, std::string& target,
                  std::string& url)
{
  target.assign(request.path);
  target.push_back('?');
  if (!request.query.empty()) {
    encode_query(request.query, target);
    target.push_back('&');
  }
  encode_query(auth, target);
  url.assign(request.scheme);
  url.append("://");
  url.append(request.host);
  url.append(target);
}

// Stable insertion sort of `order` by the key `less` compares: header lists are short, and
// std::stable_sort would allocate a buffer on every call.
template <class Less> void stable_sort_indices(std::vector<std::uint32_t>& order, Less less)
{
  for (std::size_t i = 1; i < order.size(); ++i) {
    const std::uint32_t value = order[i];
    std::size_t j = i;
    while (j > 0 && less(value, order[j - 1])) {
      order[j] = order[j - 1];
      --j;
    }
    order[j] = value;
  }
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
    return invalid("the request must not carry a " + std::string(lower_name) +
                   " header: the signer adds it");
  }
  return {};
}

} // namespace

std::string sha256_hex(std::string_view data)
{
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (EVP_Digest(data.data(), data.size(), digest, &size, EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("OpenSSL: SHA-256");
  }
  std::string hex;
  detail::append_hex(digest, size, hex);
  return hex;
}

std::string_view V4Signature::authorization() const noexcept
{
  return headers.empty() ? std::string_view{} : std::string_view(headers.back().value);
}

std::string_view V2Signature::authorization() const noexcept
{
  return headers.empty() ? std::string_view{} : std::string_view(headers.back().value);
}

struct Signer::Impl {
  struct Entry {
    std::string name; // lower case
    std::string value;
  };

  detail::Algorithms algorithms;
  detail::Sha256 sha256;
  detail::KeyCache keys;

  // Scratch buffers, reused so that a warm Signer does not allocate.
  std::vector<Entry> entries;
  std::size_t entry_count = 0;
  std::vector<std::uint32_t> order;
  std::vector<std::pair<std::string, std::string>> query;
  std::size_t query_count = 0;
  std::vector<std::uint32_t> query_order;
  std::string scope;          // 20130524/us-east-1/s3/aws4_request
  std::string header_block;   // canonical header lines, each ending in '\n'
  std::string signed_headers; // host;x-amz-date
  std::string lower;
  std::string date_line;
  std::string expires_text;

  explicit Impl(std::size_t capacity) : sha256(algorithms), keys(algorithms, capacity) {}

  Entry& add_entry(std::string_view lower_name)
  {
    if (entry_count == entries.size()) {
      entries.emplace_back();
    }
    Entry& entry = entries[entry_count++];
    entry.name.assign(lower_name);
    entry.value.clear();
    return entry;
  }

  // Sorts the entries by name, keeping the request order of repeated names.
  void sort_entries()
  {
    order.resize(entry_count);
    for (std::uint32_t i = 0; i < entry_count; ++i) {
      order[i] = i;
    }
    stable_sort_indices(order, [this](std::uint32_t a, std::uint32_t b) {
      return entries[a].name < entries[b].name;
    });
  }

  // The request's headers, lower-cased and canonicalised (SigV4), then sorted.
  core::Status collect_v4_headers(const Request& request, const Reserved& reserved)
  {
    entry_count = 0;
    add_entry("host").value.assign(request.host);
    for (const Header& header : request.headers) {
      Entry& entry = add_entry({});
      assign_lower(header.name, entry.name);
      CREDROTD_TRY(check_reserved(entry.name, reserved));
      append_v4_header_value(header.value, entry.value);
    }
    return {};
  }

  // Fills header_block and signed_headers from the sorted entries, joining repeated names.
  void build_v4_header_block()
  {
    sort_entries();
    header_block.clear();
    signed_headers.clear();
    const std::string* previous = nullptr;
    for (const std::uint32_t index : order) {
      const Entry& entry = entries[index];
      if (previous != nullptr && *previous == entry.name) {
        header_block.back() = ','; // replaces the previous line's '\n'
      } else {
        if (previous != nullptr) {
          signed_headers.push_back(';');
        }
        signed_headers.append(entry.name);
        header_block.append(entry.name);
        header_block.push_back(':');
      }
      header_block.append(entry.value);
      header_block.push_back('\n');
      previous = &entry.name;
    }
  }

  void add_query(std::string_view key, std::string_view value)
  {
    if (query_count == query.size()) {
      query.emplace_back();
    }
    auto& [encoded_key, encoded_value] = query[query_count++];
    encoded_key.clear();
    encoded_value.clear();
    uri_encode(key, Slash::encode, encoded_key);
    uri_encode(value, Slash::encode, encoded_value);
  }

  void append_canonical_query(std::string& out)
  {
    query_order.resize(query_count);
    for (std::uint32_t i = 0; i < query_count; ++i) {
      query_order[i] = i;
    }
    std::sort(query_order.begin(), query_order.end(),
              [this](std::uint32_t a, std::uint32_t b) { return query[a] < query[b]; });
    bool first = true;
    for (const std::uint32_t index : query_order) {
      if (!first) {
        out.push_back('&');
      }
      first = false;
      out.append(query[index].first);
      out.push_back('=');
      out.append(query[index].second);
    }
  }

  void build_scope(const Stamp& stamp, const V4Options& options)
  {
    scope.assign(stamp.date());
    scope.push_back('/');
    scope.append(options.region);
    scope.push_back('/');
    scope.append(options.service);
    scope.append("/aws4_request");
  }

  // canonical request -> string to sign -> signature, with the cached signing key.
  void finish_v4(const Stamp& stamp, const Credentials& credentials, const V4Options& options,
                 const std::string& canonical_request, std::string& string_to_sign,
                 std::string& signature)
  {
    unsigned char digest[32];
    sha256.digest(canonical_request, digest);
    string_to_sign.assign(k_v4_algorithm);
    string_to_sign.push_back('\n');
    string_to_sign.append(stamp.amz());
    string_to_sign.push_back('\n');
    string_to_sign.append(scope);
    string_to_sign.push_back('\n');
    detail::append_hex(digest, sizeof digest, string_to_sign);

    detail::Hmac& key =
        keys.v4(credentials.secret_access_key, stamp.date(), options.region, options.service);
    unsigned char mac[32];
    key.mac(string_to_sign, mac);
    signature.clear();
    detail::append_hex(mac, sizeof mac, signature);
  }

  // The SigV2 string to sign. `expires` empty: header form (dated by Date, x-amz-date or
  // `when`, with `date_added` set when the signer has to send a Date); else query form.
  core::Status v2_string_to_sign(const Request& request, const Credentials& credentials,
                                 const V2Options& options, std::string_view expires,
                                 Clock::time_point when, std::string& out, bool& date_added)
  {
    date_added = false;
    const bool token = !credentials.session_token.empty();
    const Reserved reserved{.security_token = token};
    const std::string* content_md5 = nullptr;
    const std::string* content_type = nullptr;
    const std::string* date = nullptr;
    entry_count = 0;
    for (const Header& header : request.headers) {
      assign_lower(header.name, lower);
      CREDROTD_TRY(check_reserved(lower, reserved));
      const std::string** single = lower == "content-md5"    ? &content_md5
                                   : lower == "content-type" ? &content_type
                                   : lower == "date"         ? &date
                                                             : nullptr;
      if (single != nullptr) {
        if (*single != nullptr) {
          return invalid("the request carries more than one " + lower + " header");
        }
        *single = &header.value;
      } else if (lower.starts_with("x-amz-")) {
        append_v2_header_value(header.value, add_entry(lower).value);
      }
    }
    if (token) {
      add_entry("x-amz-security-token").value.assign(credentials.session_token.reveal());
    }
    sort_entries();

    // The date line, and whether x-amz-date leaves the x-amz-* lines for it.
    bool skip_amz_date = false;
    date_line.clear();
    if (!expires.empty()) {
      date_line.assign(expires);
    } else {
      bool has_amz_date = false;
      for (const std::uint32_t index : order) {
        if (entries[index].name == "x-amz-date") {
          has_amz_date = true;
          if (options.amz_date_rule == AmzDateRule::replaces_date_line) {
            if (!date_line.empty()) {
              date_line.push_back(',');
            }
            date_line.append(entries[index].value);
            skip_amz_date = true;
          }
        }
      }
      if (!has_amz_date) {
        if (date != nullptr) {
          append_v2_header_value(*date, date_line);
        } else {
          const UtcTime utc = to_utc(when);
          if (!utc.fits_four_digit_year()) {
            return invalid("the signing time is outside the years 0000-9999");
          }
          append_http_date(utc, date_line);
          date_added = true;
        }
      }
    }

    out.assign(request.method);
    out.push_back('\n');
    if (content_md5 != nullptr) {
      append_v2_header_value(*content_md5, out);
    }
    out.push_back('\n');
    if (content_type != nullptr) {
      append_v2_header_value(*content_type, out);
    }
    out.push_back('\n');
    out.append(date_line);
    out.push_back('\n');
    const std::string* previous = nullptr;
    for (const std::uint32_t index : order) {
      const Entry& entry = entries[index];
      if (skip_amz_date && entry.name == "x-amz-date") {
        continue;
      }
      if (previous != nullptr && *previous == entry.name) {
        out.back() = ',';
      } else {
        out.append(entry.name);
        out.push_back(':');
      }
      out.append(entry.value);
      out.push_back('\n');
      previous = &entry.name;
    }

    // CanonicalizedResource: [/bucket] path [?sub-resources sorted by name].
    if (!options.virtual_host_bucket.empty()) {
      out.push_back('/');
      out.append(options.virtual_host_bucket);
    }
    out.append(request.path);
    query_order.clear();
    for (std::uint32_t i = 0; i < request.query.size(); ++i) {
      if (is_v2_subresource(request.query[i].key)) {
        query_order.push_back(i);
      }
    }
    stable_sort_indices(query_order, [&request](std::uint32_t a, std::uint32_t b) {
      return request.query[a].key < request.query[b].key;
    });
    char separator = '?';
    for (const std::uint32_t index : query_order) {
      const QueryParam& param = request.query[index];
      out.push_back(separator);
      separator = '&';
      out.append(param.key);
      if (!param.value.empty()) {
        out.push_back('=');
        out.append(param.value);
      }
    }
    return {};
  }

  void v2_signature(const Credentials& credentials, const std::string& string_to_sign,
                    std::string& signature)
  {
    detail::Hmac& key = keys.v2(credentials.secret_access_key);
    unsigned char mac[20];
    key.mac(string_to_sign, mac);
    signature.clear();
    detail::append_base64(mac, sizeof mac, signature);
  }
};

Signer::Signer(std::size_t key_cache_capacity) : m_impl(std::make_unique<Impl>(key_cache_capacity))
{}

Signer::~Signer() = default;
Signer::Signer(Signer&&) noexcept = default;
Signer& Signer::operator=(Signer&&) noexcept = default;

core::Status Signer::sign_v4_into(const Request& request, const Credentials& credentials,
                                  const V4Options& options, Clock::time_point when,
                                  V4Signature& out)
{
  Impl& m = *m_impl;
  CREDROTD_TRY(validate_request(request, HostRequired::yes));
  CREDROTD_TRY(validate_credentials(credentials));
  CREDROTD_TRY(validate_scope(options));
  CREDROTD_TRY(validate_payload_hash(request.payload_hash));
  CREDROTD_TRY_ASSIGN(const Stamp stamp, make_stamp(when));
  const bool token = !credentials.session_token.empty();
  const bool content_header = options.content_sha256 == ContentSha256::header;

  CREDROTD_TRY(m.collect_v4_headers(
      request, {.content_sha256 = content_header, .amz_date = true, .security_token = token}));
  m.add_entry("x-amz-date").value.assign(stamp.amz());
  if (content_header) {
    m.add_entry("x-amz-content-sha256").value.assign(request.payload_hash);
  }
  if (token) {
    m.add_entry("x-amz-security-token").value.assign(credentials.session_token.reveal());
  }
  m.build_v4_header_block();
  m.build_scope(stamp, options);

  std::string& cr = out.canonical_request;
  cr.assign(request.method);
  cr.push_back('\n');
  append_canonical_uri(request.path, options.uri_rules, cr);
  cr.push_back('\n');
  m.query_count = 0;
  for (const QueryParam& param : request.query) {
    m.add_query(param.key, param.value);
  }
  m.append_canonical_query(cr);
  cr.push_back('\n');
  cr.append(m.header_block);
  cr.push_back('\n');
  cr.append(m.signed_headers);
  cr.push_back('\n');
  cr.append(request.payload_hash);

  m.finish_v4(stamp, credentials, options, cr, out.string_to_sign, out.signature);

  const std::size_t count = 2 + (content_header ? 1 : 0) + (token ? 1 : 0);
  out.headers.resize(count);
  std::size_t i = 0;
  set_header(out.headers, i++, "x-amz-date", stamp.amz());
  if (content_header) {
    set_header(out.headers, i++, "x-amz-content-sha256", request.payload_hash);
  }
  if (token) {
    set_header(out.headers, i++, "x-amz-security-token", credentials.session_token.reveal());
  }
  Header& authorization = out.headers[i];
  authorization.name.assign("Authorization");
  std::string& value = authorization.value;
  value.assign(k_v4_algorithm);
  value.append(" Credential=");
  value.append(credentials.access_key_id);
  value.push_back('/');
  value.append(m.scope);
  value.append(", SignedHeaders=");
  value.append(m.signed_headers);
  value.append(", Signature=");
  value.append(out.signature);
  return {};
}

core::Result<V4Signature> Signer::sign_v4(const Request& request, const Credentials& credentials,
                                          const V4Options& options, Clock::time_point when)
{
  V4Signature out;
  CREDROTD_TRY(sign_v4_into(request, credentials, options, when, out));
  return out;
}

core::Status Signer::presign_v4_into(const Request& request, const Credentials& credentials,
                                     const V4Options& options, Clock::time_point when,
                                     std::chrono::seconds expires_in, V4Presigned& out)
{
  Impl& m = *m_impl;
  CREDROTD_TRY(validate_request(request, HostRequired::yes));
  CREDROTD_TRY(validate_credentials(credentials));
  CREDROTD_TRY(validate_scope(options));
  // S3 signs no payload in a presigned URL; other services sign the payload hash.
  const std::string_view payload_hash =
      options.service == "s3" ? k_unsigned_payload : std::string_view(request.payload_hash);
  CREDROTD_TRY(validate_payload_hash(payload_hash));
  if (expires_in < std::chrono::seconds(1) || expires_in > k_max_presign_expiry) {
    return core::make_error(Errc::config,
                            "a presigned SigV4 URL must expire in 1 to 604800 seconds (7 days), "
                            "not " +
                                std::to_string(expires_in.count()));
  }
  for (const QueryParam& param : request.query) {
    if (param.key.starts_with("X-Amz-") &&
        (param.key == "X-Amz-Algorithm" || param.key == "X-Amz-Credential" ||
         param.key == "X-Amz-Date" || param.key == "X-Amz-Expires" ||
         param.key == "X-Amz-SignedHeaders" || param.key == "X-Amz-Signature" ||
         param.key == "X-Amz-Security-Token")) {
      return invalid("the request query must not carry " + param.key + ": the signer adds it");
    }
  }
  CREDROTD_TRY_ASSIGN(const Stamp stamp, make_stamp(when));
  const bool token = !credentials.session_token.empty();

  CREDROTD_TRY(m.collect_v4_headers(request, {.amz_date = true, .security_token = token}));
  m.build_v4_header_block();
  m.build_scope(stamp, options);

  m.expires_text.clear();
  append_decimal(expires_in.count(), m.expires_text);
  // The last slot is X-Amz-Signature, filled in once the rest is signed.
  out.query.resize(token ? 7 : 6);
  std::size_t i = 0;
  set_param(out.query, i++, "X-Amz-Algorithm", k_v4_algorithm);
  QueryParam& credential = out.query[i++];
  credential.key.assign("X-Amz-Credential");
  credential.value.assign(credentials.access_key_id);
  credential.value.push_back('/');
  credential.value.append(m.scope);
  set_param(out.query, i++, "X-Amz-Date", stamp.amz());
  set_param(out.query, i++, "X-Amz-Expires", m.expires_text);
  set_param(out.query, i++, "X-Amz-SignedHeaders", m.signed_headers);
  if (token) {
    set_param(out.query, i++, "X-Amz-Security-Token", credentials.session_token.reveal());
  }

  std::string& cr = out.canonical_request;
  cr.assign(request.method);
  cr.push_back('\n');
  append_canonical_uri(request.path, options.uri_rules, cr);
  cr.push_back('\n');
  m.query_count = 0;
  for (const QueryParam& param : request.query) {
    m.add_query(param.key, param.value);
  }
  for (std::size_t j = 0; j + 1 < out.query.size(); ++j) {
    m.add_query(out.query[j].key, out.query[j].value);
  }
  m.append_canonical_query(cr);
  cr.push_back('\n');
  cr.append(m.header_block);
  cr.push_back('\n');
  cr.append(m.signed_headers);
  cr.push_back('\n');
  cr.append(payload_hash);

  m.finish_v4(stamp, credentials, options, cr, out.string_to_sign, out.signature);
  set_param(out.query, out.query.size() - 1, "X-Amz-Signature", out.signature);
  build_target(request, out.query, out.target, out.url);
  return {};
}

core::Result<V4Presigned> Signer::presign_v4(const Request& request, const Credentials& credentials,
                                             const V4Options& options, Clock::time_point when,
                                             std::chrono::seconds expires_in)
{
  V4Presigned out;
  CREDROTD_TRY(presign_v4_into(request, credentials, options, when, expires_in, out));
  return out;
}

core::Result<std::string> Signer::sign_v4_chunk(const Credentials& credentials,
                                                const V4Options& options, Clock::time_point when,
                                                std::string_view previous_signature,
                                                std::string_view chunk_sha256)
{
  Impl& m = *m_impl;
  CREDROTD_TRY(validate_credentials(credentials));
  CREDROTD_TRY(validate_scope(options));
  CREDROTD_TRY_ASSIGN(const Stamp stamp, make_stamp(when));
  m.build_scope(stamp, options);
  std::string string_to_sign = "AWS4-HMAC-SHA256-PAYLOAD\n";
  string_to_sign.append(stamp.amz());
  string_to_sign.push_back('\n');
  string_to_sign.append(m.scope);
  string_to_sign.push_back('\n');
  string_to_sign.append(previous_signature);
  string_to_sign.push_back('\n');
  string_to_sign.append(k_empty_payload_sha256);
  string_to_sign.push_back('\n');
  string_to_sign.append(chunk_sha256);
  detail::Hmac& key =
      m.keys.v4(credentials.secret_access_key, stamp.date(), options.region, options.service);
  unsigned char mac[32];
  key.mac(string_to_sign, mac);
  std::string signature;
  detail::append_hex(mac, sizeof mac, signature);
  return signature;
}

core::Status Signer::sign_v2_into(const Request& request, const Credentials& credentials,
                                  const V2Options& options, Clock::time_point when,
                                  V2Signature& out)
{
  Impl& m = *m_impl;
  CREDROTD_TRY(validate_request(request, HostRequired::no));
  CREDROTD_TRY(validate_credentials(credentials));
  if (has_blank_or_control(options.virtual_host_bucket)) {
    return invalid("the virtual-host bucket contains blanks or control characters");
  }
  bool date_added = false;
  CREDROTD_TRY(
      m.v2_string_to_sign(request, credentials, options, {}, when, out.string_to_sign, date_added));
  m.v2_signature(credentials, out.string_to_sign, out.signature);

  const bool token = !credentials.session_token.empty();
  out.headers.resize(1 + (date_added ? 1 : 0) + (token ? 1 : 0));
  std::size_t i = 0;
  if (date_added) {
    set_header(out.headers, i++, "Date", m.date_line);
  }
  if (token) {
    set_header(out.headers, i++, "x-amz-security-token", credentials.session_token.reveal());
  }
  Header& authorization = out.headers[i];
  authorization.name.assign("Authorization");
  authorization.value.assign("AWS ");
  authorization.value.append(credentials.access_key_id);
  authorization.value.push_back(':');
  authorization.value.append(out.signature);
  return {};
}

core::Result<V2Signature> Signer::sign_v2(const Request& request, const Credentials& credentials,
                                          const V2Options& options, Clock::time_point when)
{
  V2Signature out;
  CREDROTD_TRY(sign_v2_into(request, credentials, options, when, out));
  return out;
}

core::Status Signer::presign_v2_into(const Request& request, const Credentials& credentials,
                                     const V2Options& options, Clock::time_point expires,
                                     V2Presigned& out)
{
  Impl& m = *m_impl;
  CREDROTD_TRY(validate_request(request, HostRequired::yes));
  CREDROTD_TRY(validate_credentials(credentials));
  if (has_blank_or_control(options.virtual_host_bucket)) {
    return invalid("the virtual-host bucket contains blanks or control characters");
  }
  const bool token = !credentials.session_token.empty();
  for (const QueryParam& param : request.query) {
    if (param.key == "AWSAccessKeyId" || param.key == "Expires" || param.key == "Signature" ||
        (token && param.key == "x-amz-security-token")) {
      return invalid("the request query must not carry " + param.key + ": the signer adds it");
    }
  }
  const auto seconds = std::chrono::floor<std::chrono::seconds>(expires.time_since_epoch());
  if (seconds.count() < 0) {
    return core::make_error(Errc::config, "a presigned SigV2 URL cannot expire before 1970");
  }
  m.expires_text.clear();
  append_decimal(seconds.count(), m.expires_text);
  bool date_added = false;
  CREDROTD_TRY(m.v2_string_to_sign(request, credentials, options, m.expires_text, expires,
                                   out.string_to_sign, date_added));
  m.v2_signature(credentials, out.string_to_sign, out.signature);

  out.query.resize(token ? 4 : 3);
  set_param(out.query, 0, "AWSAccessKeyId", credentials.access_key_id);
  set_param(out.query, 1, "Expires", m.expires_text);
  set_param(out.query, 2, "Signature", out.signature);
  if (token) {
    set_param(out.query, 3, "x-amz-security-token", credentials.session_token.reveal());
  }
  build_target(request, out.query, out.target, out.url);
  return {};
}

core::Result<V2Presigned> Signer::presign_v2(const Request& request, const Credentials& credentials,
                                             const V2Options& options, Clock::time_point expires)
{
  V2Presigned out;
  CREDROTD_TRY(presign_v2_into(request, credentials, options, expires, out));
  return out;
}

KeyCacheStats Signer::key_cache_stats() const noexcept
{
  const detail::KeyCache& keys = m_impl->keys;
  return {keys.size(), keys.capacity(), keys.hits(), keys.misses()};
}

void Signer::clear_key_cache() noexcept
{
  m_impl->keys.clear();
}

std::string redact(std::string_view text, const Credentials& credentials)
{
  std::string out(text);
  const auto replace_all = [&out](std::string_view needle) {
    if (needle.empty()) {
      return;
    }
    for (std::size_t pos = out.find(needle); pos != std::string::npos;
         pos = out.find(needle, pos + 10)) {
      out.replace(pos, needle.size(), "<redacted>");
    }
  };
  for (const core::Secret* secret : {&credentials.secret_access_key, &credentials.session_token}) {
    // Raw (headers, strings to sign) and percent-encoded (canonical queries, URLs).
    replace_all(secret->reveal());
    std::string encoded = uri_encode(secret->reveal(), Slash::encode);
    replace_all(encoded);
    core::wipe(encoded.data(), encoded.size());
  }
  return out;
}

} // namespace credrotd::sign
