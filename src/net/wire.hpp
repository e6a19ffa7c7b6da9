// SPDX-License-Identifier: Apache-2.0
// How HttpClient reads what a server sends: the Beast parsers with the client's limits, and the
// Response built from a parsed message. Shared with fuzz/fuzz_http_response.cpp, so that the
// fuzzer parses bytes exactly as the client does.
#pragma once

#include "core/secret.hpp"
#include "net/http_client.hpp"

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>

namespace credrotd::net {

// Headers, bodies and the read buffer live in wiping memory: a response can hold a token or a
// list of EC2 secrets.
using WipingAlloc = core::WipingAllocator<char>;
using WireFields = boost::beast::http::basic_fields<WipingAlloc>;
using WireBody = boost::beast::http::basic_string_body<char, std::char_traits<char>, WipingAlloc>;
using WireBuffer = boost::beast::basic_flat_buffer<WipingAlloc>;
using WireParser = boost::beast::http::response_parser<WireBody, WipingAlloc>;
// The proxy's answer to CONNECT: headers only, the tunnel starts right after them.
using ConnectParser = boost::beast::http::response_parser<boost::beast::http::empty_body>;

// max_header_bytes as Beast takes it (32 bits).
inline std::uint32_t wire_header_limit(const ClientOptions& options)
{
  return static_cast<std::uint32_t>(std::min<std::size_t>(options.max_header_bytes, UINT32_MAX));
}

// The limits of ClientOptions (beyond them the read fails with http::error::header_limit or
// body_limit); the answer to a HEAD request has no body, whatever its Content-Length says.
inline void limit_parser(WireParser& parser, const ClientOptions& options, Method method)
{
  parser.header_limit(wire_header_limit(options));
  parser.body_limit(options.max_body_bytes);
  if (method == Method::head) {
    parser.skip(true);
  }
}

inline void limit_parser(ConnectParser& parser, const ClientOptions& options)
{
  parser.skip(true); // a 2xx answer to CONNECT has no body: the tunnel starts after the header
  parser.header_limit(wire_header_limit(options));
}

// The Response of a fully parsed message (timing left empty); the body is moved out of
// `message`, its header stays for the keep-alive decision. X-Subject-Token and Set-Cookie are
// marked Sensitive.
inline Response to_response(WireParser::value_type& message)
{
  Response response;
  response.status = static_cast<int>(message.result_int());
  response.reason = std::string(message.reason());
  for (const auto& field : message) {
    const auto name = field.name_string();
    const auto value = field.value();
    const bool secret =
        boost::beast::iequals(name, "X-Subject-Token") || boost::beast::iequals(name, "Set-Cookie");
    response.headers.push_back(Header{std::string(name),
                                      core::WipingString(value.data(), value.size()),
                                      secret ? Sensitive::yes : Sensitive::no});
  }
  response.body = std::move(message.body());
  return response;
}

} // namespace credrotd::net
