// SPDX-License-Identifier: Apache-2.0
// Header-value, URI and query canonicalisation for SigV4 and SigV2.
#include "sign/canonical.hpp"

#include "core/text.hpp"

#include <algorithm>
#include <array>
#include <utility>
#include <vector>

namespace credrotd::sign {

namespace {

bool is_blank(char c) noexcept
{
  return c == ' ' || c == '\t';
}

// The end of the line fold or stray line break at raw[i] (a CR or LF): past a CRLF or LF and
// the blanks after it, or past a lone CR.
std::size_t fold_end(std::string_view raw, std::size_t i) noexcept
{
  std::size_t j = i;
  if (raw[j] == '\r' && j + 1 < raw.size() && raw[j + 1] == '\n') {
    ++j;
  }
  if (raw[j] != '\n') {
    return i + 1;
  }
  ++j;
  while (j < raw.size() && is_blank(raw[j])) {
    ++j;
  }
  return j;
}

// `raw` with each line fold (and each stray CR or LF, which is_header_value refuses) replaced
// by one space, then trimmed of blanks at both ends.
std::string unfold_and_trim(std::string_view raw)
{
  std::string out;
  for (std::size_t i = 0; i < raw.size();) {
    if (raw[i] == '\r' || raw[i] == '\n') {
      out.push_back(' ');
      i = fold_end(raw, i);
    } else {
      out.push_back(raw[i++]);
    }
  }
  return std::string(core::trim(out, " \t"));
}

// botocore 1.29 auth.py HmacV1Auth.QSAOfInterest, sorted for binary search.
// clang-format off
constexpr std::array<std::string_view, 35> k_subresources = {
    "accelerate", "acl", "analytics", "cors", "defaultObjectAcl", "delete", "inventory",
    "lifecycle", "location", "logging", "metrics", "notification", "object-lock", "partNumber",
    "policy", "replication", "requestPayment", "response-cache-control",
    "response-content-disposition", "response-content-encoding", "response-content-language",
    "response-content-type", "response-expires", "restore", "select", "select-type",
    "storageClass", "tagging", "torrent", "uploadId", "uploads", "versionId", "versioning",
    "versions", "website"};
// clang-format on
static_assert(std::is_sorted(k_subresources.begin(), k_subresources.end()));

} // namespace

std::string v4_header_value(std::string_view raw)
{
  std::string out = unfold_and_trim(raw);
  out.erase(
      std::unique(out.begin(), out.end(), [](char a, char b) { return a == ' ' && b == ' '; }),
      out.end());
  return out;
}

std::string v2_header_value(std::string_view raw)
{
  return unfold_and_trim(raw);
}

std::string normalize_path(std::string_view path)
{
  std::vector<std::string_view> segments;
  bool trailing_slash = false;
  for (std::size_t pos = 0; pos <= path.size();) {
    const std::size_t end = std::min(path.find('/', pos), path.size());
    const std::string_view segment = path.substr(pos, end - pos);
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
    pos = end + 1;
  }
  std::string out;
  for (const std::string_view segment : segments) {
    out.append("/").append(segment);
  }
  if (out.empty() || trailing_slash) {
    out.push_back('/');
  }
  return out;
}

std::string canonical_uri(std::string_view path, UriRules rules)
{
  if (rules == UriRules::generic) {
    return uri_encode(normalize_path(path), Slash::keep);
  }
  return uri_encode(percent_decode(path), Slash::keep);
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
    out.append(out.empty() ? "" : "&").append(key).append("=").append(value);
  }
  return out;
}

bool is_v2_subresource(std::string_view key) noexcept
{
  return std::binary_search(k_subresources.begin(), k_subresources.end(), key);
}

bool is_header_name(std::string_view name) noexcept
{
  constexpr std::string_view k_punctuation = "!#$%&'*+-.^_`|~";
  return !name.empty() && std::all_of(name.begin(), name.end(), [&](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           k_punctuation.find(c) != std::string_view::npos;
  });
}

bool is_header_value(std::string_view value) noexcept
{
  for (std::size_t i = 0; i < value.size(); ++i) {
    const auto c = static_cast<unsigned char>(value[i]);
    if (c == '\r' || c == '\n') {
      // A fold: CRLF or LF, at least one blank, and more of the value after it.
      const std::size_t newline = c == '\r' ? i + 1 : i;
      const std::size_t end = fold_end(value, i);
      if (newline >= value.size() || value[newline] != '\n' || end == newline + 1 ||
          end == value.size()) {
        return false;
      }
      i = end - 1;
    } else if ((c < 0x20 && c != '\t') || c == 0x7f) {
      return false;
    }
  }
  return true;
}

} // namespace credrotd::sign
