// SPDX-License-Identifier: Apache-2.0
// Fuzzes the SigV4/SigV2 canonicalisation steps and encoders on arbitrary text: percent
// encoding and decoding, query parsing and encoding, path normalisation, header values, header
// names, and the date formats. Input: any bytes (also read as a time for the date formats).
#include "sign/canonical.hpp"
#include "sign/encoding.hpp"
#include "sign/time_format.hpp"
#include "support.hpp"

#include <algorithm>
#include <cstring>

using namespace credrotd;
using namespace credrotd::sign;
using fuzz::require;

namespace {

bool unreserved(char c)
{
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

// Only unreserved bytes (and '/' when kept) and %XX escapes with upper-case hex digits.
bool well_encoded(std::string_view text, Slash slash)
{
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '%') {
      const auto hex = [](char h) { return (h >= '0' && h <= '9') || (h >= 'A' && h <= 'F'); };
      if (i + 2 >= text.size() || !hex(text[i + 1]) || !hex(text[i + 2])) {
        return false;
      }
      i += 2;
    } else if (!unreserved(c) && !(c == '/' && slash == Slash::keep)) {
      return false;
    }
  }
  return true;
}

void check_encoding(std::string_view text)
{
  for (const Slash slash : {Slash::keep, Slash::encode}) {
    const std::string encoded = uri_encode(text, slash);
    require(well_encoded(encoded, slash), "uri_encode() left a reserved byte");
    require(percent_decode(encoded) == text, "percent_decode() does not undo uri_encode()");
  }
  const std::string recoded = canonical_uri(text, UriRules::s3);
  require(well_encoded(recoded, Slash::keep), "canonical_uri(s3) is not encoded");
  require(recoded == uri_encode(percent_decode(recoded), Slash::keep),
          "canonical_uri(s3) is not stable under a second recoding");
  require(encode_path(text) == uri_encode(text, Slash::keep), "encode_path() is not uri_encode()");
}

void check_query(std::string_view text)
{
  const std::vector<QueryParam> params = parse_query(text);
  const std::string wire = encode_query(params);
  require(parse_query(wire) == params, "parse_query() does not undo encode_query()");
  const std::string canonical = canonical_query_string(params);
  // Sorted by encoded key, then encoded value; every pair written "k=v".
  std::vector<std::pair<std::string, std::string>> pairs;
  for (const auto& p : params) {
    pairs.emplace_back(uri_encode(p.key, Slash::encode), uri_encode(p.value, Slash::encode));
  }
  std::sort(pairs.begin(), pairs.end());
  std::string expected;
  for (const auto& [key, value] : pairs) {
    expected += (expected.empty() ? "" : "&") + key + "=" + value;
  }
  require(canonical == expected, "canonical_query_string() is not the sorted k=v list");
  const std::string target = request_target("/p", params);
  require(target == (params.empty() ? std::string("/p") : "/p?" + wire),
          "request_target() is not path?query");
  for (const auto& p : params) {
    (void)is_v2_subresource(p.key);
  }
}

void check_path(std::string_view text)
{
  const std::string normal = normalize_path(text);
  require(!normal.empty() && normal.front() == '/', "normalize_path() does not start with '/'");
  require(normal.find("//") == std::string::npos, "normalize_path() kept an empty segment");
  require(normal.find("/./") == std::string::npos && normal.find("/../") == std::string::npos &&
              !normal.ends_with("/.") && !normal.ends_with("/.."),
          "normalize_path() kept a dot segment");
  require(normalize_path(normal) == normal, "normalize_path() is not idempotent");
  const std::string generic = canonical_uri(text, UriRules::generic);
  require(well_encoded(generic, Slash::keep), "canonical_uri(generic) is not encoded");
}

void check_header_value(std::string_view text)
{
  const bool valid = is_header_value(text);
  const std::string value4 = v4_header_value(text);
  const std::string value2 = v2_header_value(text);
  if (!valid) {
    return;
  }
  require(value4.find_first_of("\r\n") == std::string_view::npos, "a v4 value kept a line break");
  require(value4.find("  ") == std::string_view::npos, "a v4 value kept a run of spaces");
  require(value4.empty() || (value4.front() != ' ' && value4.front() != '\t' &&
                             value4.back() != ' ' && value4.back() != '\t'),
          "a v4 value kept a blank at an end");
  require(value2.find_first_of("\r\n") == std::string_view::npos, "a v2 value kept a line break");
  require(value2.empty() || (value2.front() != ' ' && value2.front() != '\t' &&
                             value2.back() != ' ' && value2.back() != '\t'),
          "a v2 value kept a blank at an end");
  require(value2.size() <= text.size() && value4.size() <= text.size(),
          "a canonical value is longer than the raw one");
}

void check_times(std::string_view text, const std::uint8_t* data, std::size_t size)
{
  if (const auto parsed = parse_iso8601(text)) {
    const std::string basic = amz_date(*parsed);
    const auto again = parse_iso8601(basic);
    require(again && *again == *parsed, "amz_date() does not parse back");
  }
  // Any second the nanosecond clock can hold (the years 1678-2261).
  std::int64_t seconds = 0;
  std::memcpy(&seconds, data, std::min(size, sizeof seconds));
  seconds %= 9'000'000'000;
  const Clock::time_point when{std::chrono::seconds(seconds)};
  const std::string basic = amz_date(when);
  require(basic.size() == 16 && basic[8] == 'T' && basic[15] == 'Z', "amz_date() is malformed");
  const auto back = parse_iso8601(basic);
  require(back &&
              std::chrono::floor<std::chrono::seconds>(back->time_since_epoch()).count() == seconds,
          "amz_date() does not parse back");
  require(http_date(when).size() == 29, "http_date() is not 29 characters");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
  const std::string_view text = fuzz::as_text(data, size);
  check_encoding(text);
  check_query(text);
  check_path(text);
  check_header_value(text);
  (void)is_header_name(text);
  check_times(text, data, size);
  return 0;
}
