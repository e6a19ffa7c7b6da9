// SPDX-License-Identifier: Apache-2.0
// SigV4 and SigV2 signing of S3 requests, over reusable OpenSSL contexts and buffers.
//
// The hot paths write each output through a Writer sized once for the whole string: a
// canonical request is some thirty short pieces, and std::string::append's per-call
// bookkeeping cost more than the copies themselves (bench/sign, docs/PERFORMANCE.md).
#include "sign/signer.hpp"

#include "sign/canonical.hpp"
#include "sign/crypto.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
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

// Character classes the validators look for.
enum : std::uint8_t {
  k_control = 1, // C0 controls (tab included) and DEL
  k_space = 2,
  k_separator = 4, // '/', ':' and ',', which would split a credential or a scope
  k_delimiter = 8, // '?' and '#', which would end a path
};

// Which of the `wanted` classes occur in `text`, eight bytes at a time without branches (SWAR:
// (v - 0x01..) & ~v has a byte's high bit set for every zero byte of v, and for no byte when v
// has none; likewise (x - n * 0x01..) & ~x for the bytes of x below n <= 0x80).
// Always inlined, so that each call site keeps only the tests its `wanted` asks for.
[[gnu::always_inline]] inline std::uint8_t classes(std::string_view text,
                                                   std::uint8_t wanted) noexcept
{
  constexpr std::uint64_t k_ones = 0x0101010101010101;
  constexpr std::uint64_t k_high = 0x8080808080808080;
  const auto zero_bytes = [](std::uint64_t v) { return (v - k_ones) & ~v; };
  std::uint64_t control = 0;
  std::uint64_t space = 0;
  std::uint64_t separator = 0;
  std::uint64_t delimiter = 0;
  const auto scan = [&](std::uint64_t x) {
    control |= ((x - k_ones * 0x20) & ~x) | zero_bytes(x ^ (k_ones * 0x7f));
    if ((wanted & k_space) != 0) {
      space |= zero_bytes(x ^ (k_ones * ' '));
    }
    if ((wanted & k_separator) != 0) {
      separator |= zero_bytes(x ^ (k_ones * '/')) | zero_bytes(x ^ (k_ones * ':')) |
                   zero_bytes(x ^ (k_ones * ','));
    }
    if ((wanted & k_delimiter) != 0) {
      delimiter |= zero_bytes(x ^ (k_ones * '?')) | zero_bytes(x ^ (k_ones * '#'));
    }
  };
  const char* p = text.data();
  const std::size_t size = text.size();
  std::uint64_t word = 0;
  if (size >= 8) {
    for (std::size_t i = 0; i + 8 <= size; i += 8) {
      std::memcpy(&word, p + i, 8);
      scan(word);
    }
    // The last eight bytes, overlapping bytes already seen: harmless for an any-test.
    std::memcpy(&word, p + size - 8, 8);
    scan(word);
  } else {
    word = k_ones * 'A'; // pads a short text with a byte in no class
    for (std::size_t i = 0; i < size; ++i) {
      word = (word << 8) | static_cast<unsigned char>(p[i]);
    }
    scan(word);
  }
  std::uint8_t found = 0;
  found |= (control & k_high) != 0 ? k_control : 0;
  found |= (space & k_high) != 0 ? k_space : 0;
  found |= (separator & k_high) != 0 ? k_separator : 0;
  found |= (delimiter & k_high) != 0 ? k_delimiter : 0;
  return found & wanted;
}

bool has_control(std::string_view text) noexcept
{
  return classes(text, k_control) != 0;
}

bool has_blank_or_control(std::string_view text) noexcept
{
  return classes(text, k_control | k_space) != 0;
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

// Appends to a string through a raw cursor: one resize to an upper bound first, a memcpy per
// piece, the final size set once at the end. Writing past the bound is a broken invariant of
// the size computation and throws rather than corrupting memory.
class Writer {
public:
  Writer(std::string& out, std::size_t max_added) : m_out(out), m_start(out.size())
  {
    out.resize(m_start + max_added);
    m_cursor = out.data() + m_start;
    m_end = out.data() + out.size();
  }
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;
  ~Writer() { m_out.resize(static_cast<std::size_t>(m_cursor - m_out.data())); }

  [[gnu::always_inline]] Writer& operator<<(std::string_view text)
  {
    reserve(text.size());
    copy(text.data(), text.size(), m_cursor);
    m_cursor += text.size();
    return *this;
  }
  [[gnu::always_inline]] Writer& operator<<(char c)
  {
    reserve(1);
    *m_cursor++ = c;
    return *this;
  }
  // Room for `size` more bytes at cursor(); advance with set_cursor().
  [[gnu::always_inline]] char* reserve(std::size_t size)
  {
    if (static_cast<std::size_t>(m_end - m_cursor) < size) [[unlikely]] {
      overflow();
    }
    return m_cursor;
  }
  void set_cursor(char* cursor) noexcept { m_cursor = cursor; }

private:
  // memcpy for the short pieces a canonical request is made of: most are under 16 bytes, where
  // a call into libc's memcpy costs more than the copy. Two overlapping moves cover 8 to 16.
  [[gnu::always_inline]] static void copy(const char* from, std::size_t size, char* to) noexcept
  {
    if (size > 16) {
      std::memcpy(to, from, size);
    } else if (size >= 8) {
      std::uint64_t head = 0;
      std::uint64_t tail = 0;
      std::memcpy(&head, from, 8);
      std::memcpy(&tail, from + size - 8, 8);
      std::memcpy(to, &head, 8);
      std::memcpy(to + size - 8, &tail, 8);
    } else {
      for (std::size_t i = 0; i < size; ++i) {
        to[i] = from[i];
      }
    }
  }

  [[noreturn]] static void overflow()
  {
    throw std::logic_error("sign::Writer: output larger than its computed bound");
  }

  std::string& m_out;
  std::size_t m_start;
  char* m_cursor;
  char* m_end;
};

// SigV2's header form is the one signature that does not cover the host.
enum class HostRequired { yes, no };

// The last host and access key id that passed validation. They rarely change from one request
// to the next, and comparing is cheaper than scanning them again.
struct Validated {
  std::string host;
  std::string access_key_id;
};

core::Status validate_request(const Request& request, HostRequired host_required,
                              Validated& validated)
{
  if (!is_header_name(request.method)) {
    return invalid("the request method \"" + (has_control(request.method) ? "?" : request.method) +
                   "\" is not an HTTP token");
  }
  if (request.scheme.empty() || has_blank_or_control(request.scheme)) {
    return invalid("the request scheme is empty or contains blanks or control characters");
  }
  if (request.host.empty() || !detail::equal_bytes(request.host, validated.host)) {
    if ((host_required == HostRequired::yes && request.host.empty()) ||
        has_blank_or_control(request.host)) {
      return invalid("the request host is empty or contains blanks or control characters");
    }
    validated.host.assign(request.host);
  }
  if (request.path.empty() || request.path.front() != '/') {
    return invalid("the request path must start with '/'");
  }
  const std::uint8_t path_classes = classes(request.path, k_control | k_delimiter);
  if ((path_classes & k_control) != 0) {
    return invalid("the request path contains a control character");
  }
  if ((path_classes & k_delimiter) != 0) {
    // On the wire they would end the path; a path as sent has them encoded (encode_path).
    return invalid("the request path contains '?' or '#': send them encoded (encode_path)");
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

core::Status validate_credentials(const Credentials& credentials, Validated& validated)
{
  const std::string_view id = credentials.access_key_id;
  if (id.empty() || !detail::equal_bytes(id, validated.access_key_id)) {
    if (id.empty() || classes(id, k_control | k_space | k_separator) != 0) {
      return invalid("the access key id is empty or contains a blank, a control character, '/', "
                     "':' or ','");
    }
    validated.access_key_id.assign(id);
  }
  if (has_control(credentials.session_token.reveal())) {
    return invalid("the session token contains a control character");
  }
  return {};
}

core::Status validate_scope_part(std::string_view part)
{
  if (part.empty() || classes(part, k_control | k_space | k_separator) != 0) {
    return invalid("the SigV4 region and service must be non-empty, without blanks, control "
                   "characters, '/', ':' or ','");
  }
  return {};
}

core::Status validate_payload_hash(std::string_view hash)
{
  if (detail::equal_bytes(hash, k_empty_payload_sha256) ||
      detail::equal_bytes(hash, k_unsigned_payload)) {
    return {}; // the usual values, known good
  }
  if (hash.empty() || has_blank_or_control(hash)) {
    return invalid(
        "the payload hash must be a hex SHA-256, UNSIGNED-PAYLOAD or a STREAMING-* value");
  }
  return {};
}

// out = text, for output strings reused call after call: once their size settles, resize() is
// free and the copy is all that is left (assign() goes through the general _M_replace).
void set_text(std::string& out, std::string_view text)
{
  if (detail::equal_bytes(out, text)) {
    return; // names, and often values, repeat from call to call
  }
  out.resize(text.size());
  std::memcpy(out.data(), text.data(), text.size());
}

void set_header(std::vector<Header>& headers, std::size_t index, std::string_view name,
                std::string_view value)
{
  set_text(headers[index].name, name);
  set_text(headers[index].value, value);
}

void set_param(std::vector<QueryParam>& params, std::size_t index, std::string_view key,
               std::string_view value)
{
  set_text(params[index].key, key);
  set_text(params[index].value, value);
}

// Stable insertion sort of `order` by `less`: header lists are short, and std::stable_sort
// would allocate a buffer on every call.
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
  // One header to sign: either owned buffers (request headers, lower-cased and canonicalised)
  // or views of text that outlives the signing call (the headers the signer adds). Views are
  // never taken of the owned buffers: the vector of entries may grow and move them.
  struct Entry {
    std::string name_buffer;
    std::string value_buffer;
    std::string_view name_view;
    std::string_view value_view;
    bool owned = false;

    std::string_view name() const noexcept { return owned ? name_buffer : name_view; }
    std::string_view value() const noexcept { return owned ? value_buffer : value_view; }
  };

  // One query parameter, encoded, with its wire form's bare-key rule remembered.
  struct Encoded {
    std::string key;
    std::string value;
    bool bare = false; // sent as "key" (empty value), signed as "key="
  };

  // The date parts of the last signing time, kept while successive calls use the same second,
  // and the credential scope built from them.
  struct Stamp {
    std::int64_t seconds = -1;
    char amz_date[16] = {}; // 20130524T000000Z; the first 8 characters are the scope date
    std::string_view amz() const noexcept { return {amz_date, 16}; }
    std::string_view date() const noexcept { return {amz_date, 8}; }
  };

  detail::Algorithms algorithms;
  detail::Sha256 sha256;
  detail::KeyCache keys;

  // Scratch buffers, reused so that a warm Signer does not allocate.
  std::vector<Entry> entries;
  std::size_t entry_count = 0;
  std::vector<std::uint32_t> order;
  std::vector<Encoded> query;
  std::size_t query_count = 0;
  std::vector<std::uint32_t> query_order;
  Stamp stamp;
  std::string scope; // 20130524/us-east-1/s3/aws4_request
  std::string scope_region;
  std::string scope_service;
  std::size_t header_lines_size = 0; // bounds, from sort_v4_headers()
  std::size_t signed_headers_size = 0;
  std::size_t signed_headers_offset = 0; // where build_canonical_request put them in its output
  std::string signed_headers;            // presigning only: X-Amz-SignedHeaders
  Validated validated;
  std::string lower;
  std::string date_line;
  std::int64_t http_date_seconds = -1; // the second http_date was formatted for
  std::string http_date;
  std::string expires_text;
  std::string generic_path;

  explicit Impl(std::size_t capacity) : sha256(algorithms), keys(algorithms, capacity) {}

  core::Status set_stamp(Clock::time_point when)
  {
    const std::int64_t seconds =
        std::chrono::floor<std::chrono::seconds>(when.time_since_epoch()).count();
    if (seconds == stamp.seconds) {
      return {};
    }
    const UtcTime utc = to_utc_seconds(seconds);
    if (!utc.fits_four_digit_year()) {
      return invalid("the signing time is outside the years 0000-9999");
    }
    char previous_date[8];
    std::memcpy(previous_date, stamp.amz_date, sizeof previous_date);
    format_amz_date(utc, stamp.amz_date);
    stamp.seconds = seconds;
    if (std::memcmp(previous_date, stamp.amz_date, sizeof previous_date) != 0) {
      scope.clear(); // it starts with the date
    }
    return {};
  }

  // Validates the region and service and builds the scope, unless both and the date are
  // those of the previous call.
  core::Status set_scope(const V4Options& options)
  {
    if (!scope.empty() && detail::equal_bytes(options.region, scope_region) &&
        detail::equal_bytes(options.service, scope_service)) {
      return {};
    }
    CREDROTD_TRY(validate_scope_part(options.region));
    CREDROTD_TRY(validate_scope_part(options.service));
    scope_region.assign(options.region);
    scope_service.assign(options.service);
    scope.assign(stamp.date());
    scope.push_back('/');
    scope.append(options.region);
    scope.push_back('/');
    scope.append(options.service);
    scope.append("/aws4_request");
    return {};
  }

  // An entry whose buffers the caller fills.
  Entry& add_owned_entry()
  {
    if (entry_count == entries.size()) {
      entries.emplace_back();
    }
    Entry& entry = entries[entry_count++];
    entry.owned = true;
    entry.name_buffer.clear();
    entry.value_buffer.clear();
    return entry;
  }

  // A header whose name and value outlive the signing call.
  void add_entry(std::string_view name, std::string_view value)
  {
    if (entry_count == entries.size()) {
      entries.emplace_back();
    }
    Entry& entry = entries[entry_count++];
    entry.owned = false;
    entry.name_view = name;
    entry.value_view = value;
  }

  // Sorts the entries by name, keeping the request order of repeated names. Names are short:
  // comparing them inline beats a call into libc's memcmp.
  void sort_entries()
  {
    order.resize(entry_count);
    for (std::uint32_t i = 0; i < entry_count; ++i) {
      order[i] = i;
    }
    stable_sort_indices(order, [this](std::uint32_t a, std::uint32_t b) {
      const std::string_view x = entries[a].name();
      const std::string_view y = entries[b].name();
      const std::size_t common = std::min(x.size(), y.size());
      for (std::size_t i = 0; i < common; ++i) {
        if (x[i] != y[i]) {
          return static_cast<unsigned char>(x[i]) < static_cast<unsigned char>(y[i]);
        }
      }
      return x.size() < y.size();
    });
  }

  // The request's own headers (SigV4): lower-cased, canonicalised, checked against `reserved`.
  core::Status collect_v4_headers(const Request& request, const Reserved& reserved)
  {
    entry_count = 0;
    add_entry("host", request.host);
    for (const Header& header : request.headers) {
      Entry& entry = add_owned_entry();
      assign_lower(header.name, entry.name_buffer);
      CREDROTD_TRY(check_reserved(entry.name_buffer, reserved));
      append_v4_header_value(header.value, entry.value_buffer);
    }
    return {};
  }

  // Sorts the entries and sizes what write_header_lines and write_signed_headers produce.
  void sort_v4_headers()
  {
    sort_entries();
    header_lines_size = 0;
    signed_headers_size = 0;
    for (std::size_t i = 0; i < entry_count; ++i) {
      header_lines_size += entries[i].name().size() + entries[i].value().size() + 2;
      signed_headers_size += entries[i].name().size() + 1;
    }
  }

  // The canonical headers: "name:v1,v2\n" per name, in order.
  void write_header_lines(Writer& w)
  {
    std::string_view previous;
    bool first = true;
    for (const std::uint32_t index : order) {
      const std::string_view name = entries[index].name();
      const std::string_view value = entries[index].value();
      if (!first && detail::equal_bytes(previous, name)) {
        w << ',' << value; // continues the previous line
        continue;
      }
      if (!first) {
        w << '\n';
      }
      w << name << ':' << value;
      previous = name;
      first = false;
    }
    w << '\n';
  }

  // The signed headers: "a;b", each name once.
  void write_signed_headers(Writer& w)
  {
    std::string_view previous;
    bool first = true;
    for (const std::uint32_t index : order) {
      const std::string_view name = entries[index].name();
      if (!first && detail::equal_bytes(previous, name)) {
        continue;
      }
      if (!first) {
        w << ';';
      }
      w << name;
      previous = name;
      first = false;
    }
  }

  void add_query(std::string_view key, std::string_view value)
  {
    if (query_count == query.size()) {
      query.emplace_back();
    }
    Encoded& encoded = query[query_count++];
    encoded.key.clear();
    encoded.value.clear();
    uri_encode(key, Slash::encode, encoded.key);
    uri_encode(value, Slash::encode, encoded.value);
    encoded.bare = value.empty() && !key.empty();
  }

  // Sorts query[0, query_count) into query_order; returns the canonical query's length.
  std::size_t sort_query()
  {
    query_order.resize(query_count);
    std::size_t size = 0;
    for (std::uint32_t i = 0; i < query_count; ++i) {
      query_order[i] = i;
      size += query[i].key.size() + query[i].value.size() + 2;
    }
    std::sort(query_order.begin(), query_order.end(), [this](std::uint32_t a, std::uint32_t b) {
      const Encoded& x = query[a];
      const Encoded& y = query[b];
      return x.key != y.key ? x.key < y.key : x.value < y.value;
    });
    return size;
  }

  void write_canonical_query(Writer& out)
  {
    bool first = true;
    for (const std::uint32_t index : query_order) {
      if (!first) {
        out << '&';
      }
      first = false;
      out << query[index].key << '=' << query[index].value;
    }
  }

  // The canonical request, with the query already in `query` and the headers sorted by
  // sort_v4_headers(). Records where the signed headers are, for the Authorization header.
  void build_canonical_request(const Request& request, const V4Options& options,
                               std::string_view payload_hash, std::string& out)
  {
    std::string_view path = request.path;
    if (options.uri_rules == UriRules::generic) {
      generic_path = normalize_path(request.path);
      path = generic_path;
    }
    const std::size_t query_size = sort_query();
    out.clear();
    Writer w(out, request.method.size() + 3 * path.size() + query_size + header_lines_size +
                      signed_headers_size + payload_hash.size() + 5);
    w << request.method << '\n';
    char* cursor = w.reserve(3 * path.size());
    cursor = options.uri_rules == UriRules::generic ? uri_encode_to(path, Slash::keep, cursor)
                                                    : recode_path_to(path, cursor);
    w.set_cursor(cursor);
    w << '\n';
    write_canonical_query(w);
    w << '\n';
    write_header_lines(w);
    w << '\n';
    signed_headers_offset = static_cast<std::size_t>(w.reserve(0) - out.data());
    write_signed_headers(w);
    w << '\n' << payload_hash;
  }

  // The signed headers inside a canonical request built by build_canonical_request.
  std::string_view signed_headers_in(const std::string& canonical_request) const noexcept
  {
    const std::string_view rest = std::string_view(canonical_request).substr(signed_headers_offset);
    return rest.substr(0, rest.find('\n'));
  }

  // canonical request -> string to sign -> signature, with the cached signing key.
  void finish_v4(const Credentials& credentials, const V4Options& options,
                 const std::string& canonical_request, std::string& string_to_sign,
                 std::string& signature)
  {
    unsigned char digest[32];
    sha256.digest(canonical_request, digest);
    string_to_sign.clear();
    {
      Writer w(string_to_sign, k_v4_algorithm.size() + 16 + scope.size() + 3);
      w << k_v4_algorithm << '\n' << stamp.amz() << '\n' << scope << '\n';
    }
    detail::append_hex(digest, sizeof digest, string_to_sign);

    detail::Hmac& key =
        keys.v4(credentials.secret_access_key, stamp.date(), options.region, options.service);
    unsigned char mac[32];
    key.mac_reusing_first_block(string_to_sign, mac);
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
        Entry& entry = add_owned_entry();
        entry.name_buffer.assign(lower);
        append_v2_header_value(header.value, entry.value_buffer);
      }
    }
    if (token) {
      add_entry("x-amz-security-token", credentials.session_token.reveal());
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
        if (entries[index].name() == "x-amz-date") {
          has_amz_date = true;
          if (options.amz_date_rule == AmzDateRule::replaces_date_line) {
            if (!date_line.empty()) {
              date_line.push_back(',');
            }
            date_line.append(entries[index].value());
            skip_amz_date = true;
          }
        }
      }
      if (!has_amz_date) {
        if (date != nullptr) {
          append_v2_header_value(*date, date_line);
        } else {
          const std::int64_t seconds =
              std::chrono::floor<std::chrono::seconds>(when.time_since_epoch()).count();
          if (seconds != http_date_seconds) {
            const UtcTime utc = to_utc_seconds(seconds);
            if (!utc.fits_four_digit_year()) {
              return invalid("the signing time is outside the years 0000-9999");
            }
            http_date.clear();
            append_http_date(utc, http_date);
            http_date_seconds = seconds;
          }
          date_line.assign(http_date);
          date_added = true;
        }
      }
    }

    // The sub-resources of the CanonicalizedResource, sorted by name.
    query_order.clear();
    std::size_t resource_size = options.virtual_host_bucket.size() + 1 + request.path.size();
    for (std::uint32_t i = 0; i < request.query.size(); ++i) {
      if (is_v2_subresource(request.query[i].key)) {
        query_order.push_back(i);
        resource_size += request.query[i].key.size() + request.query[i].value.size() + 2;
      }
    }
    stable_sort_indices(query_order, [&request](std::uint32_t a, std::uint32_t b) {
      return request.query[a].key < request.query[b].key;
    });

    std::size_t amz_size = 0;
    for (std::size_t i = 0; i < entry_count; ++i) {
      amz_size += entries[i].name().size() + entries[i].value().size() + 2;
    }
    const std::size_t content_size = (content_md5 != nullptr ? content_md5->size() : 0) +
                                     (content_type != nullptr ? content_type->size() : 0);
    out.clear();
    Writer w(out, request.method.size() + 4 + content_size + date_line.size() + amz_size +
                      resource_size);
    w << request.method << '\n';
    // Content-MD5 and Content-Type, trimmed and unfolded: never longer than the raw values.
    if (content_md5 != nullptr) {
      char* start = w.reserve(content_md5->size());
      std::string& scratch = lower;
      scratch.clear();
      append_v2_header_value(*content_md5, scratch);
      std::memcpy(start, scratch.data(), scratch.size());
      w.set_cursor(start + scratch.size());
    }
    w << '\n';
    if (content_type != nullptr) {
      char* start = w.reserve(content_type->size());
      std::string& scratch = lower;
      scratch.clear();
      append_v2_header_value(*content_type, scratch);
      std::memcpy(start, scratch.data(), scratch.size());
      w.set_cursor(start + scratch.size());
    }
    w << '\n' << date_line << '\n';
    std::string_view previous;
    bool first = true;
    for (const std::uint32_t index : order) {
      const std::string_view name = entries[index].name();
      const std::string_view value = entries[index].value();
      if (skip_amz_date && name == "x-amz-date") {
        continue;
      }
      if (!first && detail::equal_bytes(previous, name)) {
        w << ',' << value;
        continue;
      }
      if (!first) {
        w << '\n';
      }
      w << name << ':' << value;
      previous = name;
      first = false;
    }
    if (!first) {
      w << '\n';
    }
    // CanonicalizedResource: [/bucket] path [?sub-resources].
    if (!options.virtual_host_bucket.empty()) {
      w << '/' << options.virtual_host_bucket;
    }
    w << request.path;
    char separator = '?';
    for (const std::uint32_t index : query_order) {
      const QueryParam& param = request.query[index];
      w << separator << param.key;
      separator = '&';
      if (!param.value.empty()) {
        w << '=' << param.value;
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

  // target = path "?" request query (wire form) "&" auth parameters; url = scheme://host target.
  // The auth parameters are query[first_auth, query_count) plus the signature parameter.
  void build_target(const Request& request, std::size_t first_auth, std::string_view signature_key,
                    std::string_view signature, std::string& target, std::string& url)
  {
    std::size_t size = request.path.size() + 2 + signature_key.size() + 1 + 3 * signature.size();
    for (std::size_t i = 0; i < query_count; ++i) {
      size += query[i].key.size() + query[i].value.size() + 2;
    }
    target.clear();
    {
      Writer w(target, size);
      w << request.path << '?';
      for (std::size_t i = 0; i < query_count; ++i) {
        w << query[i].key;
        if (!query[i].bare || i >= first_auth) {
          w << '=' << query[i].value;
        }
        w << '&';
      }
      w << signature_key << '=';
      w.set_cursor(uri_encode_to(signature, Slash::encode, w.reserve(3 * signature.size())));
    }
    url.clear();
    Writer w(url, request.scheme.size() + 3 + request.host.size() + target.size());
    w << request.scheme << "://" << request.host << target;
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
  CREDROTD_TRY(validate_request(request, HostRequired::yes, m.validated));
  CREDROTD_TRY(validate_credentials(credentials, m.validated));
  CREDROTD_TRY(validate_payload_hash(request.payload_hash));
  CREDROTD_TRY(m.set_stamp(when));
  CREDROTD_TRY(m.set_scope(options));
  const bool token = !credentials.session_token.empty();
  const bool content_header = options.content_sha256 == ContentSha256::header;

  CREDROTD_TRY(m.collect_v4_headers(
      request, {.content_sha256 = content_header, .amz_date = true, .security_token = token}));
  m.add_entry("x-amz-date", m.stamp.amz());
  if (content_header) {
    m.add_entry("x-amz-content-sha256", request.payload_hash);
  }
  if (token) {
    m.add_entry("x-amz-security-token", credentials.session_token.reveal());
  }
  m.sort_v4_headers();
  m.query_count = 0;
  for (const QueryParam& param : request.query) {
    m.add_query(param.key, param.value);
  }
  m.build_canonical_request(request, options, request.payload_hash, out.canonical_request);
  m.finish_v4(credentials, options, out.canonical_request, out.string_to_sign, out.signature);
  const std::string_view signed_headers = m.signed_headers_in(out.canonical_request);

  const std::size_t count = 2 + (content_header ? 1 : 0) + (token ? 1 : 0);
  out.headers.resize(count);
  std::size_t i = 0;
  set_header(out.headers, i++, "x-amz-date", m.stamp.amz());
  if (content_header) {
    set_header(out.headers, i++, "x-amz-content-sha256", request.payload_hash);
  }
  if (token) {
    set_header(out.headers, i++, "x-amz-security-token", credentials.session_token.reveal());
  }
  Header& authorization = out.headers[i];
  set_text(authorization.name, "Authorization");
  authorization.value.clear();
  Writer w(authorization.value, k_v4_algorithm.size() + 12 + credentials.access_key_id.size() + 1 +
                                    m.scope.size() + 16 + signed_headers.size() + 12 +
                                    out.signature.size());
  w << k_v4_algorithm << " Credential=" << credentials.access_key_id << '/' << m.scope
    << ", SignedHeaders=" << signed_headers << ", Signature=" << out.signature;
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
  CREDROTD_TRY(validate_request(request, HostRequired::yes, m.validated));
  CREDROTD_TRY(validate_credentials(credentials, m.validated));
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
  CREDROTD_TRY(m.set_stamp(when));
  CREDROTD_TRY(m.set_scope(options));
  const bool token = !credentials.session_token.empty();

  CREDROTD_TRY(m.collect_v4_headers(request, {.amz_date = true, .security_token = token}));
  m.sort_v4_headers();
  m.signed_headers.clear();
  {
    Writer w(m.signed_headers, m.signed_headers_size);
    m.write_signed_headers(w);
  }

  m.expires_text.clear();
  char digits[24];
  m.expires_text.append(digits,
                        std::to_chars(digits, digits + sizeof digits, expires_in.count()).ptr);
  // The authentication parameters, in the order they are appended; the last slot is
  // X-Amz-Signature, filled in once the rest is signed.
  out.query.resize(token ? 7 : 6);
  std::size_t i = 0;
  set_param(out.query, i++, "X-Amz-Algorithm", k_v4_algorithm);
  QueryParam& credential = out.query[i++];
  credential.key.assign("X-Amz-Credential");
  credential.value.clear();
  {
    Writer w(credential.value, credentials.access_key_id.size() + 1 + m.scope.size());
    w << credentials.access_key_id << '/' << m.scope;
  }
  set_param(out.query, i++, "X-Amz-Date", m.stamp.amz());
  set_param(out.query, i++, "X-Amz-Expires", m.expires_text);
  set_param(out.query, i++, "X-Amz-SignedHeaders", m.signed_headers);
  if (token) {
    set_param(out.query, i++, "X-Amz-Security-Token", credentials.session_token.reveal());
  }

  m.query_count = 0;
  for (const QueryParam& param : request.query) {
    m.add_query(param.key, param.value);
  }
  const std::size_t first_auth = m.query_count;
  for (std::size_t j = 0; j + 1 < out.query.size(); ++j) {
    m.add_query(out.query[j].key, out.query[j].value);
  }
  m.build_canonical_request(request, options, payload_hash, out.canonical_request);
  m.finish_v4(credentials, options, out.canonical_request, out.string_to_sign, out.signature);
  set_param(out.query, out.query.size() - 1, "X-Amz-Signature", out.signature);
  m.build_target(request, first_auth, "X-Amz-Signature", out.signature, out.target, out.url);
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
  CREDROTD_TRY(validate_credentials(credentials, m.validated));
  CREDROTD_TRY(m.set_stamp(when));
  CREDROTD_TRY(m.set_scope(options));
  std::string string_to_sign = "AWS4-HMAC-SHA256-PAYLOAD\n";
  string_to_sign.append(m.stamp.amz());
  string_to_sign.push_back('\n');
  string_to_sign.append(m.scope);
  string_to_sign.push_back('\n');
  string_to_sign.append(previous_signature);
  string_to_sign.push_back('\n');
  string_to_sign.append(k_empty_payload_sha256);
  string_to_sign.push_back('\n');
  string_to_sign.append(chunk_sha256);
  detail::Hmac& key =
      m.keys.v4(credentials.secret_access_key, m.stamp.date(), options.region, options.service);
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
  CREDROTD_TRY(validate_request(request, HostRequired::no, m.validated));
  CREDROTD_TRY(validate_credentials(credentials, m.validated));
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
  set_text(authorization.name, "Authorization");
  authorization.value.clear();
  Writer w(authorization.value, 5 + credentials.access_key_id.size() + out.signature.size());
  w << "AWS " << credentials.access_key_id << ':' << out.signature;
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
  CREDROTD_TRY(validate_request(request, HostRequired::yes, m.validated));
  CREDROTD_TRY(validate_credentials(credentials, m.validated));
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
  char digits[24];
  m.expires_text.append(digits, std::to_chars(digits, digits + sizeof digits, seconds.count()).ptr);
  bool date_added = false;
  CREDROTD_TRY(m.v2_string_to_sign(request, credentials, options, m.expires_text, expires,
                                   out.string_to_sign, date_added));
  m.v2_signature(credentials, out.string_to_sign, out.signature);

  out.query.resize(token ? 4 : 3);
  set_param(out.query, 0, "AWSAccessKeyId", credentials.access_key_id);
  set_param(out.query, 1, "Expires", m.expires_text);
  if (token) {
    set_param(out.query, 2, "x-amz-security-token", credentials.session_token.reveal());
  }
  set_param(out.query, out.query.size() - 1, "Signature", out.signature);

  m.query_count = 0;
  for (const QueryParam& param : request.query) {
    m.add_query(param.key, param.value);
  }
  const std::size_t first_auth = m.query_count;
  for (std::size_t j = 0; j + 1 < out.query.size(); ++j) {
    m.add_query(out.query[j].key, out.query[j].value);
  }
  m.build_target(request, first_auth, "Signature", out.signature, out.target, out.url);
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
