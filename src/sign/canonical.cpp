// SPDX-License-Identifier: Apache-2.0
// Header-value, URI and query canonicalisation for SigV4 and SigV2.
#include "sign/canonical.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <utility>
#include <vector>

namespace credrotd::sign {

namespace {

bool is_blank(char c) noexcept
{
  return c == ' ' || c == '\t';
}

// RFC 9110 tchar: the bytes of a header field name.
constexpr std::array<std::uint8_t, 256> k_token = alnum_and("!#$%&'*+-.^_`|~");

// If `raw[i]` starts a line fold, returns the index of the last byte of the fold (the newline
// and the blanks after it); otherwise returns i unchanged with `fold` false.
std::size_t skip_fold(std::string_view raw, std::size_t i, bool& fold) noexcept
{
  fold = false;
  std::size_t j = i;
  if (raw[j] == '\r' && j + 1 < raw.size() && raw[j + 1] == '\n') {
    ++j;
  }
  if (raw[j] != '\n') {
    return i;
  }
  fold = true;
  while (j + 1 < raw.size() && is_blank(raw[j + 1])) {
    ++j;
  }
  return j;
}

// botocore 1.29 auth.py HmacV1Auth.QSAOfInterest, sorted for binary search.
constexpr std::array<std::string_view, 35> k_subresources = {
    "accelerate",
    "acl",
    "analytics",
    "cors",
    "defaultObjectAcl",
    "delete",
    "inventory",
    "lifecycle",
    "location",
    "logging",
    "metrics",
    "notification",
    "object-lock",
    "partNumber",
    "policy",
    "replication",
    "requestPayment",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "response-content-language",
    "response-content-type",
    "response-expires",
    "restore",
    "select",
    "select-type",
    "storageClass",
    "tagging",
    "torrent",
    "uploadId",
    "uploads",
    "versionId",
    "versioning",
    "versions",
    "website",
};
static_assert(std::is_sorted(k_subresources.begin(), k_subresources.end()));

} // namespace

void append_v4_header_value(std::string_view raw, std::string& out)
{
  const std::size_t base = out.size();
  std::size_t content_end = base; // out's size after the last byte that is not a blank
  for (std::size_t i = 0; i < raw.size(); ++i) {
    char c = raw[i];
    if (c == '\r' || c == '\n') {
      bool fold = false;
      i = skip_fold(raw, i, fold);
      c = ' '; // a fold is a space; a stray line break (rejected by is_header_value) too
    }
    if (c == ' ') {
      if (out.size() != base && out.back() != ' ') {
        out.push_back(' ');
      }
    } else if (c == '\t') {
      if (out.size() != base) {
        out.push_back('\t');
      }
    } else {
      out.push_back(c);
      content_end = out.size();
    }
  }
  out.resize(content_end);
}

void append_v2_header_value(std::string_view raw, std::string& out)
{
  const std::size_t base = out.size();
  std::size_t content_end = base;
  for (std::size_t i = 0; i < raw.size(); ++i) {
    char c = raw[i];
    if (c == '\r' || c == '\n') {
      bool fold = false;
      i = skip_fold(raw, i, fold);
      c = ' ';
    }
    if (is_blank(c)) {
      if (out.size() != base) {
        out.push_back(c);
      }
    } else {
      out.push_back(c);
      content_end = out.size();
    }
  }
  out.resize(content_end);
}

std::string normalize_path(std::string_view path)
{
  std::vector<std::string_view> segments;
  bool trailing_slash = false;
  std::size_t pos = 0;
  while (pos <= path.size()) {
    const std::size_t slash = path.find('/', pos);
    const std::size_t end = slash == std::string_view::npos ? path.size() : slash;
    const std::string_view segment = path.substr(pos, end - pos);
    const bool last = slash == std::string_view::npos;
    if (segment == "..") {
      if (!segments.empty()) {
        segments.pop_back();
      }
      trailing_slash = true; // "/a/b/.." is "/a/" (RFC 3986), not "/a"
    } else if (segment.empty() || segment == ".") {
      trailing_slash = true;
    } else {
      segments.push_back(segment);
      trailing_slash = false;
    }
    if (last) {
      break;
    }
    pos = slash + 1;
  }
  std::string out = "/";
  for (std::size_t i = 0; i < segments.size(); ++i) {
    if (i != 0) {
      out.push_back('/');
    }
    out.append(segments[i]);
  }
  if (trailing_slash && !segments.empty()) {
    out.push_back('/');
  }
  return out;
}

void append_canonical_uri(std::string_view path, UriRules rules, std::string& out)
{
  if (rules == UriRules::generic) {
    uri_encode(normalize_path(path), Slash::keep, out);
    return;
  }
  const std::size_t start = out.size();
  out.resize(start + 3 * path.size());
  char* end = recode_path_to(path, out.data() + start);
  out.resize(static_cast<std::size_t>(end - out.data()));
}

std::string canonical_uri(std::string_view path, UriRules rules)
{
  std::string out;
  append_canonical_uri(path, rules, out);
  return out;
}

std::string canonical_query_string(std::span<const QueryParam> params)
{
  std::vector<std::pair<std::string, std::string>> encoded;
  encoded.reserve(params.size());
  for (const QueryParam& param : params) {
    encoded.emplace_back(uri_encode(param.key, Slash::encode),
                         uri_encode(param.value, Slash::encode));
  }
  std::sort(encoded.begin(), encoded.end());
  std::string out;
  for (const auto& [key, value] : encoded) {
    if (!out.empty()) {
      out.push_back('&');
    }
    out.append(key);
    out.push_back('=');
    out.append(value);
  }
  return out;
}

bool is_v2_subresource(std::string_view key) noexcept
{
  return std::binary_search(k_subresources.begin(), k_subresources.end(), key);
}

bool is_header_name(std::string_view name) noexcept
{
  if (name.empty()) {
    return false;
  }
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return k_token[static_cast<unsigned char>(c)] != 0; });
}

bool is_header_value(std::string_view value) noexcept
{
  for (std::size_t i = 0; i < value.size(); ++i) {
    const auto c = static_cast<unsigned char>(value[i]);
    if (c == '\r' || c == '\n') {
      bool fold = false;
      const std::size_t end = skip_fold(value, i, fold);
      // A fold needs at least one blank after the newline, and is not allowed to end the value.
      if (!fold || end == i + (c == '\r' ? 1 : 0) || end + 1 == value.size()) {
        return false;
      }
      i = end;
    } else if ((c < 0x20 && c != '\t') || c == 0x7f) {
      return false;
    }
  }
  return true;
}

} // namespace credrotd::sign
