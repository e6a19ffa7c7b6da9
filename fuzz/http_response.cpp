// SPDX-License-Identifier: Apache-2.0
// Fuzzes HTTP response handling: response bytes go through the parser configuration the client
// uses (net/wire.hpp: Beast's response parser, header and body limits, HEAD without a body,
// the proxy's CONNECT answer), read the way the client reads them (headers first, then the
// body) from a stream that hands them over in pieces, then become a Response.
// Input: <flags byte><response bytes>. Flags: bits 0-1 the request (GET, HEAD, CONNECT), bit 2
// small limits (header 256 bytes, body 1 KiB), bits 3-7 the piece size of the stream.
#include "net/retry.hpp"
#include "net/wire.hpp"
#include "support.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/beast/http/read.hpp>

#include <algorithm>

using namespace credrotd;
using namespace credrotd::net;
namespace http = boost::beast::http;
using fuzz::require;

namespace {

// A SyncReadStream over the input that returns at most `piece` bytes per read, then EOF.
class PieceStream {
public:
  PieceStream(std::string_view bytes, std::size_t piece) : m_bytes(bytes), m_piece(piece) {}

  template <class Buffers> std::size_t read_some(const Buffers& buffers)
  {
    boost::system::error_code ec;
    const std::size_t n = read_some(buffers, ec);
    if (ec) {
      throw boost::system::system_error(ec);
    }
    return n;
  }

  template <class Buffers>
  std::size_t read_some(const Buffers& buffers, boost::system::error_code& ec)
  {
    if (m_bytes.empty()) {
      ec = boost::asio::error::eof;
      return 0;
    }
    ec = {};
    const std::size_t n = boost::asio::buffer_copy(
        buffers, boost::asio::buffer(m_bytes.data(), std::min(m_piece, m_bytes.size())));
    m_bytes.remove_prefix(n);
    return n;
  }

private:
  std::string_view m_bytes;
  std::size_t m_piece;
};

void check_response(const Response& response, const ClientOptions& options, Method method)
{
  require(response.status >= 0 && response.status <= 999, "a status outside 0-999");
  require(response.body.size() <= options.max_body_bytes, "a body beyond max_body_bytes");
  if (method == Method::head) {
    require(response.body.empty(), "a HEAD response has a body");
  }
  for (const auto& header : response.headers) {
    require(header.value.find_first_of("\r\n") == core::WipingString::npos,
            "a header value holds a line break");
    require(!header.name.empty(), "a header without a name");
  }
  // What the client does with a 429/503.
  if (const auto value = response.header("Retry-After")) {
    (void)parse_retry_after(
        *value, std::chrono::system_clock::time_point(std::chrono::seconds(1700000000)));
  }
  (void)response.header("Content-Type");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
  if (size == 0) {
    return 0;
  }
  const std::uint8_t flags = data[0];
  const std::string_view bytes = fuzz::as_text(data + 1, size - 1);
  ClientOptions options;
  if ((flags & 4) != 0) {
    options.max_header_bytes = 256;
    options.max_body_bytes = 1024;
  }
  PieceStream stream(bytes, 1 + (flags >> 3) * 37);
  WireBuffer buffer;
  boost::system::error_code ec;

  if ((flags & 3) == 2) {
    ConnectParser parser;
    limit_parser(parser, options);
    http::read(stream, buffer, parser, ec);
    if (!ec) {
      require(parser.is_header_done(), "a CONNECT answer was read without its header");
    }
    return 0;
  }
  const Method method = (flags & 3) == 1 ? Method::head : Method::get;
  WireParser parser;
  limit_parser(parser, options, method);
  http::read_header(stream, buffer, parser, ec);
  if (ec) {
    return 0;
  }
  http::read(stream, buffer, parser, ec);
  if (ec) {
    return 0;
  }
  require(parser.is_done(), "a response was read without being complete");
  auto message = parser.release();
  (void)message.keep_alive();
  (void)message.need_eof();
  const Response response = to_response(message);
  check_response(response, options, method);
  return 0;
}
