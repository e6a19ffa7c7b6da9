// SPDX-License-Identifier: Apache-2.0
// Percent-encoding and query-string parsing shared by the signers and the requests they sign.
#include "sign/encoding.hpp"

#include <array>
#include <cstdint>
#include <cstring>

namespace credrotd::sign {

namespace {

constexpr char k_hex_upper[] = "0123456789ABCDEF";

// 1 for the RFC 3986 unreserved bytes, which UriEncode never escapes.
constexpr std::array<std::uint8_t, 256> k_unreserved = alnum_and("-._~");

int hex_value(char c) noexcept
{
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

} // namespace

void uri_encode(std::string_view text, Slash slash, std::string& out)
{
  const bool keep_slash = slash == Slash::keep;
  const char* run = text.data(); // start of the current run of bytes that need no escape
  const char* const end = text.data() + text.size();
  for (const char* p = run; p != end; ++p) {
    const auto byte = static_cast<unsigned char>(*p);
    if (k_unreserved[byte] != 0 || (keep_slash && byte == '/')) {
      continue;
    }
    out.append(run, p);
    const char escape[3] = {'%', k_hex_upper[byte >> 4], k_hex_upper[byte & 0x0f]};
    out.append(escape, 3);
    run = p + 1;
  }
  out.append(run, end);
}

char* uri_encode_to(std::string_view text, Slash slash, char* out) noexcept
{
  const bool keep_slash = slash == Slash::keep;
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (k_unreserved[byte] != 0 || (keep_slash && byte == '/')) {
      *out++ = c;
    } else {
      out[0] = '%';
      out[1] = k_hex_upper[byte >> 4];
      out[2] = k_hex_upper[byte & 0x0f];
      out += 3;
    }
  }
  return out;
}

char* recode_path_to(std::string_view path, char* out) noexcept
{
  const char* p = path.data();
  const char* const end = p + path.size();
  while (p != end) {
    // The common case: a run of bytes copied as they are, found first and moved at once.
    const char* run = p;
    while (p != end && (k_unreserved[static_cast<unsigned char>(*p)] != 0 || *p == '/')) {
      ++p;
    }
    std::memcpy(out, run, static_cast<std::size_t>(p - run));
    out += p - run;
    if (p == end) {
      break;
    }
    auto byte = static_cast<unsigned char>(*p++);
    if (byte == '%' && end - p >= 2) {
      const int high = hex_value(p[0]);
      const int low = hex_value(p[1]);
      if (high >= 0 && low >= 0) {
        byte = static_cast<unsigned char>(high * 16 + low);
        p += 2;
        if (k_unreserved[byte] != 0 || byte == '/') {
          *out++ = static_cast<char>(byte);
          continue;
        }
      }
    }
    out[0] = '%';
    out[1] = k_hex_upper[byte >> 4];
    out[2] = k_hex_upper[byte & 0x0f];
    out += 3;
  }
  return out;
}

std::string uri_encode(std::string_view text, Slash slash)
{
  std::string out;
  out.reserve(text.size());
  uri_encode(text, slash, out);
  return out;
}

std::string percent_decode(std::string_view text)
{
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      const int high = hex_value(text[i + 1]);
      const int low = hex_value(text[i + 2]);
      if (high >= 0 && low >= 0) {
        out.push_back(static_cast<char>(high * 16 + low));
        i += 2;
        continue;
      }
    }
    out.push_back(text[i]);
  }
  return out;
}

std::vector<QueryParam> parse_query(std::string_view raw)
{
  std::vector<QueryParam> params;
  while (!raw.empty()) {
    const std::size_t amp = raw.find('&');
    const std::string_view piece = raw.substr(0, amp);
    raw = amp == std::string_view::npos ? std::string_view{} : raw.substr(amp + 1);
    if (piece.empty()) {
      continue;
    }
    const std::size_t eq = piece.find('=');
    if (eq == std::string_view::npos) {
      params.push_back({percent_decode(piece), {}});
    } else {
      params.push_back({percent_decode(piece.substr(0, eq)), percent_decode(piece.substr(eq + 1))});
    }
  }
  return params;
}

void encode_query(std::span<const QueryParam> params, std::string& out)
{
  bool first = true;
  for (const QueryParam& param : params) {
    if (!first) {
      out.push_back('&');
    }
    first = false;
    uri_encode(param.key, Slash::encode, out);
    if (!param.value.empty() || param.key.empty()) {
      out.push_back('=');
      uri_encode(param.value, Slash::encode, out);
    }
  }
}

std::string encode_query(std::span<const QueryParam> params)
{
  std::string out;
  encode_query(params, out);
  return out;
}

std::string request_target(std::string_view path, std::span<const QueryParam> query)
{
  std::string target(path);
  if (!query.empty()) {
    target.push_back('?');
    encode_query(query, target);
  }
  return target;
}

std::string encode_path(std::string_view raw_path)
{
  return uri_encode(raw_path, Slash::keep);
}

} // namespace credrotd::sign
