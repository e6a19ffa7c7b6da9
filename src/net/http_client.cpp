// SPDX-License-Identifier: Apache-2.0
// The HTTP(S) client on Beast: connection pool, deadlines, proxies through CONNECT, TLS, and
// the retry loop. What needs no Beast lives beside it: routes and CONNECT answers (proxy),
// retry decisions (retry), the TLS context and certificate checks (tls), error translation
// (failure), the request and response types (request).
#include "net/http_client.hpp"

#include "net/failure.hpp"
#include "net/pool.hpp"
#include "net/tls.hpp"
#include "net/wire.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <fmt/format.h>
#include <openssl/ssl.h>

#include <cerrno>
#include <random>
#include <set>
#include <sys/socket.h>

namespace credrotd::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using asio::ip::tcp;
using boost::system::error_code;

namespace {

constexpr auto k_token = asio::as_tuple(asio::use_awaitable);

using WireRequest = http::request<WireBody, WireFields>;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

// The outcome of one exchange on one connection, and of one attempt (an exchange, after a
// transparent reconnect if the kept-alive connection was found closed).
struct Exchange {
  std::optional<Response> response;
  core::Error error;
  bool closed_early = false; // the connection was found closed before any response byte
  bool never_sent = false;   // failed before the request could reach the server
  bool reusable = false;
  Clock::duration server{};
};

struct Connection {
  explicit Connection(const asio::any_io_executor& executor) : plain(std::in_place, executor) {}

  beast::tcp_stream& lowest() { return tls ? beast::get_lowest_layer(*tls) : *plain; }

  void close()
  {
    error_code ignored;
    lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
    lowest().close();
  }

  // True when the server has not closed the idle connection nor sent anything unasked. The
  // check is a non-blocking peek, so a close that is still in flight can slip through: the
  // transparent reconnect in send() covers that race for requests that are safe to repeat.
  bool looks_alive()
  {
    auto& socket = lowest().socket();
    if (!socket.is_open()) {
      return false;
    }
    char byte = 0;
    const auto received = ::recv(socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    if (received == 0 || received > 0) {
      return false; // closed, or unexpected bytes (a stray chunk, an alert)
    }
    return errno == EAGAIN || errno == EWOULDBLOCK;
  }

  std::optional<beast::tcp_stream> plain; // before TLS, or for http://
  std::optional<TlsStream> tls;
  WireBuffer buffer;
  Clock::time_point idle_since{};
};

using ConnectionPtr = IdlePool<Connection>::Ptr;

// One send(): where the request goes, when it must be over, when it began (for messages).
struct Call {
  Route route;
  Deadline deadline;
  Clock::time_point start;
};

Totals g_totals; // the process's request totals; the loop thread is the only writer

} // namespace

const Totals& process_totals() noexcept
{
  return g_totals;
}

class HttpClient::Impl {
public:
  Impl(asio::any_io_executor executor, ClientOptions options, ssl::context context)
      : m_executor(std::move(executor)), m_options(std::move(options)), m_ssl(std::move(context)),
        m_random(std::random_device{}()),
        m_trust_loaded(!m_options.tls.ca_file.empty() || m_options.tls.insecure == Insecure::yes),
        m_idle(m_options.max_idle_per_origin, m_options.idle_timeout)
  {}

  asio::awaitable<core::Result<Response>> send(Request request, Deadline deadline);

  void close_idle() { m_idle.close_all(); }
  std::size_t idle_connections() const { return m_idle.size(); }

private:
  void log(LogLevel level, const std::string& message) const
  {
    if (m_options.log) {
      m_options.log(level, message);
    }
  }

  core::Error fail(const error_code& ec, std::string_view phase, const Call& call) const
  {
    const auto now = Clock::now();
    return classify(ec, phase, call.route.display, now >= call.deadline, now - call.start,
                    m_options);
  }

  WireRequest build(Request& request, const Route& route) const;

  // The steps of one attempt, each within the call's deadline.
  asio::awaitable<Exchange> attempt(const Call& call, const WireRequest& wire,
                                    Idempotent idempotent, Timing& timing);
  asio::awaitable<core::Result<ConnectionPtr>> connect(const Call& call);
  asio::awaitable<core::Result<tcp::resolver::results_type>> resolve(const Url& where,
                                                                     const Call& call);
  asio::awaitable<core::Status> proxy_connect(Connection& connection, const Call& call);
  asio::awaitable<core::Status> handshake(Connection& connection, const Call& call);
  template <class Stream>
  asio::awaitable<Exchange> exchange(Stream& stream, Connection& connection,
                                     const WireRequest& wire, const Call& call);

  asio::any_io_executor m_executor;
  ClientOptions m_options;
  ssl::context m_ssl;
  std::mt19937_64 m_random;
  // Whether m_ssl holds the CAs to verify servers with. The system trust store is read on the
  // first TLS connection, not in create(): parsing the ~140 certificates of the system bundle
  // costs ~10 ms of CPU and ~1 MiB, which a client that only ever speaks plain http (or
  // a credrotd --once that needs a handful of calls) should not pay.
  bool m_trust_loaded;
  IdlePool<Connection> m_idle;
  std::set<std::string> m_insecure_warned;
};

WireRequest HttpClient::Impl::build(Request& request, const Route& route) const
{
  WireRequest wire;
  wire.method(http::string_to_verb(to_string(request.method)));
  wire.version(11);
  if (route.proxy && !route.url.is_https()) {
    // Absolute form, as a plain-HTTP proxy expects (RFC 9112 3.2.2).
    wire.target("http://" + route.url.host_header() + route.url.target);
    if (!route.proxy->userinfo.empty()) {
      wire.set(http::field::proxy_authorization, proxy_authorization(*route.proxy));
    }
  } else {
    wire.target(route.url.target);
  }
  wire.set(http::field::host, route.url.host_header());
  wire.set(http::field::user_agent, m_options.user_agent);
  for (const auto& header : request.headers) {
    wire.set(header.name, std::string_view(header.value.data(), header.value.size()));
  }
  const bool has_payload = request.method == Method::post || request.method == Method::put ||
                           request.method == Method::patch || !request.body.empty();
  wire.body() = std::move(request.body);
  if (has_payload) {
    wire.prepare_payload();
  }
  wire.keep_alive(true);
  return wire;
}

asio::awaitable<core::Result<tcp::resolver::results_type>>
HttpClient::Impl::resolve(const Url& where, const Call& call)
{
  const auto& [route, deadline, start] = call;
  // getaddrinfo runs on Asio's resolver thread and cannot be interrupted, so the coroutine
  // waits on a timer that the resolve handler cancels: the deadline holds even when the
  // lookup hangs (the lookup then finishes in the background and its result is dropped).
  struct State {
    explicit State(const asio::any_io_executor& executor) : resolver(executor), timer(executor) {}
    tcp::resolver resolver;
    asio::steady_timer timer;
    error_code ec;
    tcp::resolver::results_type results;
    bool done = false;
  };
  auto state = std::make_shared<State>(m_executor);
  state->timer.expires_at(deadline);
  state->resolver.async_resolve(where.host, fmt::to_string(where.port),
                                [state](error_code ec, tcp::resolver::results_type results) {
                                  state->ec = ec;
                                  state->results = std::move(results);
                                  state->done = true;
                                  state->timer.cancel();
                                });
  co_await state->timer.async_wait(k_token);
  if (!state->done) {
    state->resolver.cancel();
    co_return fail(beast::error::timeout, "resolving " + where.host, call);
  }
  if (state->ec) {
    co_return core::make_error(core::Errc::transient, route.display + ": cannot resolve " +
                                                          where.host + " (" + state->ec.message() +
                                                          ")");
  }
  co_return state->results;
}

asio::awaitable<core::Result<ConnectionPtr>> HttpClient::Impl::connect(const Call& call)
{
  const auto& [route, deadline, start] = call;
  const Url& peer = route.proxy ? *route.proxy : route.url;
  CREDROTD_CO_TRY_ASSIGN(auto endpoints, co_await resolve(peer, call));
  auto connection = std::make_unique<Connection>(m_executor);
  connection->plain->expires_at(deadline);
  const auto [ec, endpoint] = co_await connection->plain->async_connect(endpoints, k_token);
  if (ec) {
    const std::string phase =
        "connecting to " + (route.proxy ? "the proxy " + peer.authority() : peer.authority());
    co_return fail(ec, phase, call);
  }
  connection->plain->socket().set_option(tcp::no_delay(true));
  if (route.proxy && route.url.is_https()) {
    CREDROTD_CO_TRY(co_await proxy_connect(*connection, call));
  }
  if (route.url.is_https()) {
    CREDROTD_CO_TRY(co_await handshake(*connection, call));
  }
  co_return connection;
}

asio::awaitable<core::Status> HttpClient::Impl::proxy_connect(Connection& connection,
                                                              const Call& call)
{
  const auto& [route, deadline, start] = call;
  const Url& proxy = *route.proxy;
  http::request<http::empty_body, WireFields> request{http::verb::connect, route.url.authority(),
                                                      11};
  request.set(http::field::host, route.url.authority());
  if (!proxy.userinfo.empty()) {
    request.set(http::field::proxy_authorization, proxy_authorization(proxy));
  }
  auto& stream = *connection.plain;
  stream.expires_at(deadline);
  const auto [write_ec, written] = co_await http::async_write(stream, request, k_token);
  if (write_ec) {
    co_return fail(write_ec, "sending CONNECT to the proxy " + proxy.authority(), call);
  }
  ConnectParser parser;
  limit_parser(parser, m_options);
  stream.expires_at(deadline);
  const auto [read_ec, read] =
      co_await http::async_read(stream, connection.buffer, parser, k_token);
  if (read_ec) {
    co_return fail(read_ec, "waiting for the proxy " + proxy.authority() + " to CONNECT", call);
  }
  const int status = parser.get().result_int();
  if (status / 100 == 2 && connection.buffer.size() == 0) {
    co_return core::Status{};
  }
  co_return connect_refused(route, status, connection.buffer.size() != 0);
}

asio::awaitable<core::Status> HttpClient::Impl::handshake(Connection& connection, const Call& call)
{
  const auto& [route, deadline, start] = call;
  if (!m_trust_loaded) {
    CREDROTD_CO_TRY(load_system_trust(m_ssl));
    m_trust_loaded = true;
  }
  auto& tls = connection.tls.emplace(std::move(*connection.plain), m_ssl);
  connection.plain.reset();
  const std::string& host = route.url.host;
  // SNI (SSL_set_tlsext_host_name, spelled out: the macro casts to void* C-style).
  if (!is_ip_literal(host) &&
      SSL_ctrl(tls.native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
               const_cast<char*>(host.c_str())) != 1) {
    co_return core::make_error(core::Errc::tls,
                               route.display + ": cannot set the TLS server name " + host);
  }
  auto failure = std::make_shared<std::string>();
  if (m_options.tls.insecure == Insecure::yes) {
    tls.set_verify_mode(ssl::verify_none);
    if (m_insecure_warned.insert(route.url.origin()).second) {
      log(LogLevel::warning,
          "TLS certificate verification is disabled for " + route.url.origin() +
              " (insecure configured): anyone on the network path can read and change this "
              "traffic, credentials included");
    }
  } else {
    tls.set_verify_mode(ssl::verify_peer);
    tls.set_verify_callback(verify_host(failure, host));
  }
  beast::get_lowest_layer(tls).expires_at(deadline);
  const auto [ec] = co_await tls.async_handshake(ssl::stream_base::client, k_token);
  if (!ec) {
    co_return core::Status{};
  }
  if (ec == beast::error::timeout || Clock::now() >= deadline) {
    co_return fail(ec, "in the TLS handshake", call);
  }
  std::string why = "TLS handshake failed (" + ec.message() + ")";
  if (!failure->empty()) {
    why = "the server's certificate was refused: " + *failure;
  } else if (is_connection_closed(ec)) {
    why = "the server closed the connection during the TLS handshake (is it speaking TLS on this "
          "port?)";
  }
  co_return core::make_error(core::Errc::tls, route.display + ": " + why);
}

template <class Stream>
asio::awaitable<Exchange> HttpClient::Impl::exchange(Stream& stream, Connection& connection,
                                                     const WireRequest& wire, const Call& call)
{
  const auto& [route, deadline, start] = call;
  Exchange result;
  auto& lowest = connection.lowest();
  lowest.expires_at(deadline);
  const auto [write_ec, written] = co_await http::async_write(stream, wire, k_token);
  if (write_ec) {
    result.closed_early = is_connection_closed(write_ec);
    result.error = fail(write_ec, "sending the request", call);
    co_return result;
  }
  const auto written_at = Clock::now();

  WireParser parser;
  const bool head = wire.method() == http::verb::head;
  limit_parser(parser, m_options, head ? Method::head : Method::get);
  lowest.expires_at(deadline);
  const auto [header_ec, header_bytes] =
      co_await http::async_read_header(stream, connection.buffer, parser, k_token);
  if (header_ec) {
    const bool got_any_byte = parser.got_some() || connection.buffer.size() != 0;
    result.closed_early = !got_any_byte && is_connection_closed(header_ec);
    result.error = fail(header_ec, "waiting for the response headers", call);
    co_return result;
  }
  result.server = Clock::now() - written_at;

  lowest.expires_at(deadline);
  const auto [body_ec, body_bytes] =
      co_await http::async_read(stream, connection.buffer, parser, k_token);
  if (body_ec) {
    result.error = fail(body_ec, "reading the response body", call);
    co_return result;
  }

  auto message = parser.release();
  Response response = to_response(message);

  // Reuse only a connection whose framing we are sure of: the server wants it kept, nothing
  // unread follows the response (Swift answers an error to HEAD with a stray "0\r\n\r\n"
  // after the headers, which may arrive later still: never reuse after a HEAD error).
  result.reusable = message.keep_alive() && !message.need_eof() && connection.buffer.size() == 0 &&
                    !(head && response.status >= 400);
  if (!result.reusable && connection.buffer.size() != 0) {
    log(LogLevel::debug, route.display + ": unexpected bytes after the response; closing the "
                                         "connection");
  }
  result.response = std::move(response);
  co_return result;
}

asio::awaitable<Exchange> HttpClient::Impl::attempt(const Call& call, const WireRequest& wire,
                                                    Idempotent idempotent, Timing& timing)
{
  const auto& [route, deadline, start] = call;
  for (int pass = 0;; ++pass) {
    // A request that is not safe to repeat never goes over a kept-alive connection: the
    // server may have closed it (uwsgi's http-socket does after every response, silently),
    // and a request lost that way could not be resent.
    ConnectionPtr connection;
    if (idempotent == Idempotent::yes) {
      // call.route, not the binding: clang 14 (the fuzz build) refuses a lambda that names a
      // structured binding.
      connection = m_idle.take(route.pool_key, [&] {
        log(LogLevel::debug, "closing an idle connection to " + call.route.pool_key +
                                 " that the server closed or that expired");
      });
    }
    const bool reused = connection != nullptr;
    if (!connection) {
      auto connected = co_await connect(call);
      if (!connected) {
        Exchange failed;
        failed.error = std::move(connected).error();
        failed.never_sent = failed.error.code == core::Errc::transient;
        co_return failed;
      }
      connection = std::move(*connected);
    }
    // Not a conditional expression: g++ 12 miscompiles co_await inside ?: (the result
    // temporary is destroyed twice).
    Exchange result;
    if (connection->tls) {
      result = co_await exchange(*connection->tls, *connection, wire, call);
    } else {
      result = co_await exchange(*connection->plain, *connection, wire, call);
    }
    timing.server += result.server;
    if (!result.response && reused && result.closed_early && pass == 0 && Clock::now() < deadline) {
      log(LogLevel::debug, route.display + ": the kept-alive connection was closed by the "
                                           "server; reconnecting");
      connection->close();
      continue;
    }
    timing.reused_connection = reused;
    if (result.response && result.reusable) {
      connection->lowest().expires_never();
      m_idle.give_back(route.pool_key, std::move(connection));
    } else {
      connection->close();
    }
    co_return result;
  }
}

asio::awaitable<core::Result<Response>> HttpClient::Impl::send(Request request, Deadline deadline)
{
  const auto start = Clock::now();
  CREDROTD_CO_TRY_ASSIGN(Route route,
                         route_for(m_options.proxy, to_string(request.method), request.url));
  const Call call{std::move(route), deadline, start};
  const Idempotent idempotent = request.idempotent;
  const WireRequest wire = build(request, call.route);
  Timing timing;
  asio::steady_timer timer(m_executor);

  for (int attempt_number = 1;; ++attempt_number) {
    const auto server_before = timing.server;
    Exchange outcome = co_await attempt(call, wire, idempotent, timing);
    timing.attempts = attempt_number;
    timing.total = Clock::now() - start;
    ++g_totals.attempts;
    g_totals.server += timing.server - server_before;

    core::Error last;
    FailedAttempt failed;
    failed.attempts = attempt_number;
    failed.elapsed = timing.total;
    failed.left = deadline - Clock::now();
    if (outcome.response) {
      const int status = outcome.response->status;
      if (!is_retried_status(status)) {
        outcome.response->timing = timing;
        co_return std::move(*outcome.response);
      }
      last =
          core::make_error(core::Errc::transient, fmt::format("{}: HTTP {} {}", call.route.display,
                                                              status, outcome.response->reason));
      failed.safe_to_repeat = status == 429 || idempotent == Idempotent::yes;
      if (status == 429 || status == 503) {
        if (const auto value = outcome.response->header("Retry-After")) {
          failed.retry_after = parse_retry_after(*value, std::chrono::system_clock::now());
        }
      }
    } else {
      last = std::move(outcome.error);
      if (last.code != core::Errc::transient) {
        co_return last; // timeout, tls, protocol, config: another attempt would not help
      }
      failed.safe_to_repeat = idempotent == Idempotent::yes || outcome.never_sent;
    }

    std::uniform_real_distribution<double> unit(0.0, 1.0);
    const auto next = next_attempt(m_options.retry, failed, unit(m_random));
    if (const auto* why_not = std::get_if<std::string>(&next)) {
      last.message += *why_not;
      co_return last;
    }
    const auto delay = std::get<std::chrono::milliseconds>(next);
    log(LogLevel::info,
        fmt::format("{}; retrying in {} (attempt {} of {})", last.message, milliseconds_text(delay),
                    attempt_number + 1, std::max(1, m_options.retry.max_attempts)));
    timer.expires_after(delay);
    const auto [wait_ec] = co_await timer.async_wait(k_token);
    if (wait_ec) {
      co_return core::make_error(core::Errc::cancelled, call.route.display + ": cancelled");
    }
  }
}

core::Result<HttpClient> HttpClient::create(asio::any_io_executor executor, ClientOptions options)
{
  // Without a CA file the system trust store is loaded on the first TLS connection.
  CREDROTD_TRY_ASSIGN(auto context, make_tls_context(options.tls));
  return HttpClient(
      std::make_unique<Impl>(std::move(executor), std::move(options), std::move(context)));
}

HttpClient::HttpClient(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
HttpClient::HttpClient(HttpClient&&) noexcept = default;
HttpClient& HttpClient::operator=(HttpClient&&) noexcept = default;
HttpClient::~HttpClient() = default;

asio::awaitable<core::Result<Response>> HttpClient::send(Request request, Deadline deadline)
{
  const auto start = Clock::now();
  auto result = co_await m_impl->send(std::move(request), deadline);
  ++g_totals.calls;
  g_totals.total += Clock::now() - start;
  co_return result;
}

void HttpClient::close_idle()
{
  m_impl->close_idle();
}

std::size_t HttpClient::idle_connections() const
{
  return m_impl->idle_connections();
}

} // namespace credrotd::net
