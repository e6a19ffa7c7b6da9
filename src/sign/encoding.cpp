// SPDX-License-Identifier: Apache-2.0
// Percent-encoding and query-string parsing shared by the signers and the requests they sign.
#include "sign/encoding.hpp"

#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>

#include <charconv>

namespace credrotd::sign {

std::string uri_encode(std::string_view text, Slash slash)
{
  // Boost.URL writes upper-case hex by default, as SigV4 requires.
  constexpr auto k_path_chars = boost::urls::unreserved_chars + '/';
  return slash == Slash::keep ? boost::urls::encode(text, k_path_chars)
                              : boost::urls::encode(text, boost::urls::unreserved_chars);
}

std::string percent_decode(std::string_view text)
{
  // Not boost::urls::decode: it refuses a malformed escape, which S3 signs as a literal '%'.
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    unsigned char byte = 0;
    if (text[i] == '%' && i + 2 < text.size() &&
        std::from_chars(text.data() + i + 1, text.data() + i + 3, byte, 16).ptr ==
            text.data() + i + 3) {
      out.push_back(static_cast<char>(byte));
      i += 2;
    } else {
      out.push_back(text[i]);
    }
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

std::string encode_query(std::span<const QueryParam> params)
{
  std::string out;
  for (const QueryParam& param : params) {
    if (!out.empty()) { // every parameter writes at least one byte
      out.push_back('&');
    }
    out += uri_encode(param.key, Slash::encode);
    if (!param.value.empty() || param.key.empty()) {
      out += '=' + uri_encode(param.value, Slash::encode);
    }
  }
  return out;
}

std::string request_target(std::string_view path, std::span<const QueryParam> query)
{
  std::string target(path);
  if (!query.empty()) {
    target += '?' + encode_query(query);
  }
  return target;
}

std::string encode_path(std::string_view raw_path)
{
  return uri_encode(raw_path, Slash::keep);
}

} // namespace credrotd::sign
