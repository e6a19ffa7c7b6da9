// SPDX-License-Identifier: Apache-2.0
// The HTTP(S) client on Beast: connection pool, deadlines, TLS verification, proxies, retries.
#include "net/http_client.hpp"

#include "net/wire.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
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
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <ctime>
#include <map>
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

http::verb to_verb(Method method)
{
  switch (method) {
  case Method::get:
    return http::verb::get;
  case Method::head:
    return http::verb::head;
  case Method::post:
    return http::verb::post;
  case Method::put:
    return http::verb::put;
  case Method::patch:
    return http::verb::patch;
  case Method::delete_:
    return http::verb::delete_;
  }
  return http::verb::get;
}

bool iequals(std::string_view a, std::string_view b)
{
  return beast::iequals(a, b);
}

std::string milliseconds_text(Clock::duration duration)
{
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(duration).count();
  if (ms < 10000) {
    return std::to_string(ms) + " ms";
  }
  char text[32];
  std::snprintf(text, sizeof text, "%.1f s", static_cast<double>(ms) / 1000.0);
  return text;
}

std::string base64(std::string_view data)
{
  core::WipingString out(4 * ((data.size() + 2) / 3) + 1, '\0');
  const int length = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                     reinterpret_cast<const unsigned char*>(data.data()),
                                     static_cast<int>(data.size()));
  return std::string(out.data(), static_cast<std::size_t>(length));
}

bool is_retried_status(int status)
{
  return status == 429 || status == 500 || status == 502 || status == 503 || status == 504;
}

// Errors that mean "the peer closed or dropped the connection".
bool is_connection_closed(const error_code& ec)
{
  return ec == http::error::end_of_stream || ec == asio::error::eof ||
         ec == asio::error::connection_reset || ec == asio::error::connection_aborted ||
         ec == asio::error::broken_pipe || ec == ssl::error::stream_truncated;
}

// One request's routing: where the TCP connection goes and how it is pooled.
struct Route {
  Url url;
  std::optional<Url> proxy;
  std::string pool_key;
  std::string display; // "GET https://host:port/path" (no query, no userinfo)
};

// The outcome of one exchange on one connection.
struct Exchange {
  std::optional<Response> response;
  core::Error error;
  bool got_any_byte = false;
  bool closed_early = false; // the connection was found closed before any response byte
  bool reusable = false;
  Clock::duration server{};
};

struct Attempt {
  std::optional<Response> response;
  core::Error error;
  bool never_sent = false; // failed before the request could reach the server
};

std::string x509_name(X509_NAME* name)
{
  if (name == nullptr) {
    return "?";
  }
  char text[512];
  X509_NAME_oneline(name, text, sizeof text);
  return text;
}

std::string asn1_time_text(const ASN1_TIME* time)
{
  if (time == nullptr) {
    return "?";
  }
  std::tm tm{};
  if (ASN1_TIME_to_tm(time, &tm) != 1) {
    return "?";
  }
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return text;
}

// The DNS names and IP addresses a certificate is valid for, for "host name mismatch".
std::string subject_alt_names(X509* cert)
{
  std::string names;
  auto* general_names =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (general_names == nullptr) {
    return "no subject alternative names (subject " + x509_name(X509_get_subject_name(cert)) + ")";
  }
  for (int i = 0; i < sk_GENERAL_NAME_num(general_names); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(general_names, i);
    std::string entry;
    if (name->type == GEN_DNS) {
      const auto* data = ASN1_STRING_get0_data(name->d.dNSName);
      entry = "DNS:" + std::string(reinterpret_cast<const char*>(data),
                                   static_cast<std::size_t>(ASN1_STRING_length(name->d.dNSName)));
    } else if (name->type == GEN_IPADD) {
      const auto* data = ASN1_STRING_get0_data(name->d.iPAddress);
      const int length = ASN1_STRING_length(name->d.iPAddress);
      if (length == 4) {
        asio::ip::address_v4::bytes_type bytes;
        std::copy(data, data + 4, bytes.begin());
        entry = "IP:" + asio::ip::address_v4(bytes).to_string();
      } else if (length == 16) {
        asio::ip::address_v6::bytes_type bytes;
        std::copy(data, data + 16, bytes.begin());
        entry = "IP:" + asio::ip::address_v6(bytes).to_string();
      }
    }
    if (!entry.empty()) {
      names += (names.empty() ? "" : ", ") + entry;
    }
  }
  GENERAL_NAMES_free(general_names);
  return names.empty() ? "no DNS or IP names" : names;
}

// Verification callback: OpenSSL's chain check, then ssl::host_name_verification (SNI alone
// does not check the name, and the Beast 1.81 examples omit this step). Records in plain
// words why a certificate was refused, so the error can say "unknown CA" or "host name
// mismatch" instead of OpenSSL's "certificate verify failed".
class VerifyRecorder {
public:
  VerifyRecorder(std::shared_ptr<std::string> failure, std::string host)
      : m_failure(std::move(failure)), m_check(host), m_host(std::move(host))
  {}

  bool operator()(bool preverified, ssl::verify_context& context)
  {
    X509_STORE_CTX* store = context.native_handle();
    X509* cert = X509_STORE_CTX_get_current_cert(store);
    if (!preverified) {
      if (m_failure->empty()) {
        *m_failure = describe(X509_STORE_CTX_get_error(store), cert);
      }
      return false;
    }
    if (!m_check(preverified, context)) {
      if (m_failure->empty()) {
        *m_failure = "host name mismatch: the certificate is for " +
                     (cert != nullptr ? subject_alt_names(cert) : std::string("?")) + ", not for " +
                     m_host + "; use a host name the certificate lists, or reissue it";
      }
      return false;
    }
    return true;
  }

private:
  static std::string describe(int error, X509* cert)
  {
    const std::string reason = X509_verify_cert_error_string(error);
    switch (error) {
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
      return "unknown CA (" + reason + "; issuer " +
             (cert != nullptr ? x509_name(X509_get_issuer_name(cert)) : std::string("?")) +
             "): set cacert to the CA bundle that signed the server's certificate";
    case X509_V_ERR_CERT_HAS_EXPIRED:
      return "certificate expired on " +
             (cert != nullptr ? asn1_time_text(X509_get0_notAfter(cert)) : std::string("?")) +
             " (" + (cert != nullptr ? x509_name(X509_get_subject_name(cert)) : "?") +
             "): the server needs a renewed certificate (or this host's clock is wrong)";
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return "certificate not valid before " +
             (cert != nullptr ? asn1_time_text(X509_get0_notBefore(cert)) : std::string("?")) +
             ": check this host's clock";
    default:
      return reason;
    }
  }

  std::shared_ptr<std::string> m_failure;
  ssl::host_name_verification m_check;
  std::string m_host;
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
  std::uint64_t exchanges = 0;
};

using ConnectionPtr = std::unique_ptr<Connection>;

} // namespace

class HttpClient::Impl {
public:
  Impl(asio::any_io_executor executor, ClientOptions options, ssl::context context)
      : m_executor(std::move(executor)), m_options(std::move(options)), m_ssl(std::move(context)),
        m_random(std::random_device{}()),
        m_trust_loaded(!m_options.tls.ca_file.empty() || m_options.tls.insecure == Insecure::yes)
  {}

  asio::awaitable<core::Result<Response>> send(Request request, Deadline deadline);

  void close_idle()
  {
    for (auto& [key, connections] : m_idle) {
      for (auto& connection : connections) {
        connection->close();
      }
    }
    m_idle.clear();
  }

  std::size_t idle_connections() const
  {
    std::size_t count = 0;
    for (const auto& [key, connections] : m_idle) {
      count += connections.size();
    }
    return count;
  }

private:
  void log(LogLevel level, const std::string& message) const
  {
    if (m_options.log) {
      m_options.log(level, message);
    }
  }

  core::Result<Route> make_route(const Request& request) const;
  WireRequest build(Request& request, const Route& route) const;

  ConnectionPtr take_idle(const std::string& key);
  void give_back(const std::string& key, ConnectionPtr connection);

  asio::awaitable<Attempt> attempt(const Route& route, const WireRequest& wire,
                                   Idempotent idempotent, Deadline deadline,
                                   Clock::time_point start, Timing& timing);
  asio::awaitable<core::Result<ConnectionPtr>> connect(const Route& route, Deadline deadline,
                                                       Clock::time_point start);
  asio::awaitable<core::Result<tcp::resolver::results_type>>
  resolve(const Url& where, Deadline deadline, Clock::time_point start, const Route& route);
  asio::awaitable<core::Status> proxy_connect(Connection& connection, const Route& route,
                                              Deadline deadline, Clock::time_point start);
  asio::awaitable<core::Status> handshake(Connection& connection, const Route& route,
                                          Deadline deadline, Clock::time_point start);
  template <class Stream>
  asio::awaitable<Exchange> exchange(Stream& stream, Connection& connection,
                                     const WireRequest& wire, const Route& route, Deadline deadline,
                                     Clock::time_point start);

  core::Error classify(const error_code& ec, std::string_view phase, const Route& route,
                       Deadline deadline, Clock::time_point start) const;

  core::Status load_trust();

  asio::any_io_executor m_executor;
  ClientOptions m_options;
  ssl::context m_ssl;
  std::mt19937_64 m_random;
  // Whether m_ssl holds the CAs to verify servers with. The system trust store is read on the
  // first TLS connection, not in create(): parsing the ~140 certificates of the system bundle
  // costs ~10 ms of CPU and ~1 MiB, which a client that only ever speaks plain http (or
  // a credrotd --once that needs a handful of calls) should not pay.
  bool m_trust_loaded;
  std::map<std::string, std::vector<ConnectionPtr>> m_idle;
  std::set<std::string> m_insecure_warned;
};

core::Error HttpClient::Impl::classify(const error_code& ec, std::string_view phase,
                                       const Route& route, Deadline deadline,
                                       Clock::time_point start) const
{
  const auto now = Clock::now();
  if (ec == beast::error::timeout || ec == asio::error::timed_out || now >= deadline) {
    return core::make_error(core::Errc::timeout, route.display + ": deadline passed while " +
                                                     std::string(phase) + " (after " +
                                                     milliseconds_text(now - start) + ")");
  }
  if (ec == http::error::body_limit) {
    return core::make_error(core::Errc::protocol, route.display + ": response body larger than " +
                                                      std::to_string(m_options.max_body_bytes) +
                                                      " bytes");
  }
  if (ec == http::error::header_limit) {
    return core::make_error(core::Errc::protocol, route.display + ": response header larger than " +
                                                      std::to_string(m_options.max_header_bytes) +
                                                      " bytes");
  }
  if (ec == http::error::end_of_stream || ec == asio::error::eof ||
      ec == ssl::error::stream_truncated) {
    return core::make_error(core::Errc::transient, route.display +
                                                       ": connection closed by the server while " +
                                                       std::string(phase));
  }
  if (ec == http::error::partial_message) {
    return core::make_error(core::Errc::transient,
                            route.display + ": connection closed in the middle of the response");
  }
  if (ec.category() == http::make_error_code(http::error::end_of_stream).category()) {
    return core::make_error(core::Errc::protocol,
                            route.display + ": malformed HTTP response (" + ec.message() + ")");
  }
  if (ec == asio::error::connection_refused) {
    return core::make_error(core::Errc::transient,
                            route.display + ": connection refused while " + std::string(phase));
  }
  if (ec == asio::error::connection_reset || ec == asio::error::connection_aborted ||
      ec == asio::error::broken_pipe) {
    return core::make_error(core::Errc::transient,
                            route.display + ": connection reset while " + std::string(phase));
  }
  return core::make_error(core::Errc::transient,
                          route.display + ": " + ec.message() + " while " + std::string(phase));
}

core::Result<Route> HttpClient::Impl::make_route(const Request& request) const
{
  Route route;
  CREDROTD_TRY_ASSIGN(route.url, parse_url(request.url, "the request URL"));
  if (!route.url.userinfo.empty()) {
    return core::make_error(core::Errc::config,
                            "the request URL for " + route.url.redacted() +
                                " carries user:password; credrotd sends credentials only in "
                                "headers or bodies");
  }
  route.display = std::string(to_string(request.method)) + " " + route.url.redacted();
  CREDROTD_TRY_ASSIGN(route.proxy, proxy_for(m_options.proxy, route.url));
  if (!route.proxy) {
    route.pool_key = route.url.origin();
  } else if (route.url.is_https()) {
    route.pool_key = route.url.origin() + " via " + route.proxy->authority();
  } else {
    route.pool_key = "proxy " + route.proxy->origin();
  }
  return route;
}

WireRequest HttpClient::Impl::build(Request& request, const Route& route) const
{
  WireRequest wire;
  wire.method(to_verb(request.method));
  wire.version(11);
  if (route.proxy && !route.url.is_https()) {
    // Absolute form, as a plain-HTTP proxy expects (RFC 9112 3.2.2).
    wire.target("http://" + route.url.host_header() + route.url.target);
    if (!route.proxy->userinfo.empty()) {
      wire.set(http::field::proxy_authorization, "Basic " + base64(route.proxy->userinfo));
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

ConnectionPtr HttpClient::Impl::take_idle(const std::string& key)
{
  const auto it = m_idle.find(key);
  if (it == m_idle.end()) {
    return nullptr;
  }
  auto& connections = it->second;
  const auto now = Clock::now();
  while (!connections.empty()) {
    ConnectionPtr connection = std::move(connections.back());
    connections.pop_back();
    if (now - connection->idle_since <= m_options.idle_timeout && connection->looks_alive()) {
      return connection;
    }
    log(LogLevel::debug,
        "closing an idle connection to " + key + " that the server closed or that expired");
    connection->close();
  }
  return nullptr;
}

void HttpClient::Impl::give_back(const std::string& key, ConnectionPtr connection)
{
  if (m_options.max_idle_per_origin == 0) {
    connection->close();
    return;
  }
  connection->lowest().expires_never();
  connection->idle_since = Clock::now();
  auto& connections = m_idle[key];
  if (connections.size() >= m_options.max_idle_per_origin) {
    connections.front()->close();
    connections.erase(connections.begin());
  }
  connections.push_back(std::move(connection));
}

asio::awaitable<core::Result<tcp::resolver::results_type>>
HttpClient::Impl::resolve(const Url& where, Deadline deadline, Clock::time_point start,
                          const Route& route)
{
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
  state->resolver.async_resolve(where.host, std::to_string(where.port),
                                [state](error_code ec, tcp::resolver::results_type results) {
                                  state->ec = ec;
                                  state->results = std::move(results);
                                  state->done = true;
                                  state->timer.cancel();
                                });
  co_await state->timer.async_wait(k_token);
  if (!state->done) {
    state->resolver.cancel();
    co_return classify(beast::error::timeout, "resolving " + where.host, route, deadline, start);
  }
  if (state->ec) {
    co_return core::make_error(core::Errc::transient, route.display + ": cannot resolve " +
                                                          where.host + " (" + state->ec.message() +
                                                          ")");
  }
  co_return state->results;
}

asio::awaitable<core::Result<ConnectionPtr>>
HttpClient::Impl::connect(const Route& route, Deadline deadline, Clock::time_point start)
{
  const Url& peer = route.proxy ? *route.proxy : route.url;
  CREDROTD_CO_TRY_ASSIGN(auto endpoints, co_await resolve(peer, deadline, start, route));
  auto connection = std::make_unique<Connection>(m_executor);
  connection->plain->expires_at(deadline);
  const auto [ec, endpoint] = co_await connection->plain->async_connect(endpoints, k_token);
  if (ec) {
    const std::string phase =
        "connecting to " + (route.proxy ? "the proxy " + peer.authority() : peer.authority());
    co_return classify(ec, phase, route, deadline, start);
  }
  connection->plain->socket().set_option(tcp::no_delay(true));
  if (route.proxy && route.url.is_https()) {
    CREDROTD_CO_TRY(co_await proxy_connect(*connection, route, deadline, start));
  }
  if (route.url.is_https()) {
    CREDROTD_CO_TRY(co_await handshake(*connection, route, deadline, start));
  }
  co_return connection;
}

asio::awaitable<core::Status> HttpClient::Impl::proxy_connect(Connection& connection,
                                                              const Route& route, Deadline deadline,
                                                              Clock::time_point start)
{
  const Url& proxy = *route.proxy;
  http::request<http::empty_body, WireFields> request{http::verb::connect, route.url.authority(),
                                                      11};
  request.set(http::field::host, route.url.authority());
  if (!proxy.userinfo.empty()) {
    request.set(http::field::proxy_authorization, "Basic " + base64(proxy.userinfo));
  }
  auto& stream = *connection.plain;
  stream.expires_at(deadline);
  const auto [write_ec, written] = co_await http::async_write(stream, request, k_token);
  if (write_ec) {
    co_return classify(write_ec, "sending CONNECT to the proxy " + proxy.authority(), route,
                       deadline, start);
  }
  ConnectParser parser;
  limit_parser(parser, m_options);
  stream.expires_at(deadline);
  const auto [read_ec, read] =
      co_await http::async_read(stream, connection.buffer, parser, k_token);
  if (read_ec) {
    co_return classify(read_ec, "waiting for the proxy " + proxy.authority() + " to CONNECT", route,
                       deadline, start);
  }
  const int status = parser.get().result_int();
  if (status / 100 == 2 && connection.buffer.size() == 0) {
    co_return core::Status{};
  }
  const std::string what = route.display + ": the proxy " + proxy.authority() +
                           " answered CONNECT with HTTP " + std::to_string(status);
  if (status / 100 == 2) {
    co_return core::make_error(core::Errc::protocol,
                               what + " followed by unexpected bytes before the TLS handshake");
  }
  if (status == 407) {
    co_return core::make_error(core::Errc::auth_rejected,
                               what + ": it wants credentials; put user:password@ in the "
                                      "https_proxy URL");
  }
  if (status == 403) {
    co_return core::make_error(core::Errc::forbidden, what + ": it does not allow tunnels to " +
                                                          route.url.authority() +
                                                          " (or set no_proxy for it)");
  }
  if (is_retried_status(status)) {
    co_return core::make_error(core::Errc::transient, what);
  }
  co_return core::make_error(core::Errc::protocol, what);
}

core::Status HttpClient::Impl::load_trust()
{
  if (m_trust_loaded) {
    return {};
  }
  error_code ec;
  m_ssl.set_default_verify_paths(ec);
  if (ec) {
    return core::make_error(core::Errc::config,
                            "cannot load the system trust store (" + ec.message() + ")");
  }
  m_trust_loaded = true;
  return {};
}

asio::awaitable<core::Status> HttpClient::Impl::handshake(Connection& connection,
                                                          const Route& route, Deadline deadline,
                                                          Clock::time_point start)
{
  CREDROTD_CO_TRY(load_trust());
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
    tls.set_verify_callback(VerifyRecorder(failure, host));
  }
  beast::get_lowest_layer(tls).expires_at(deadline);
  const auto [ec] = co_await tls.async_handshake(ssl::stream_base::client, k_token);
  if (!ec) {
    co_return core::Status{};
  }
  if (ec == beast::error::timeout || Clock::now() >= deadline) {
    co_return classify(ec, "in the TLS handshake", route, deadline, start);
  }
  if (!failure->empty()) {
    co_return core::make_error(core::Errc::tls, route.display +
                                                    ": the server's certificate was "
                                                    "refused: " +
                                                    *failure);
  }
  if (is_connection_closed(ec)) {
    co_return core::make_error(core::Errc::tls, route.display +
                                                    ": the server closed the connection during "
                                                    "the TLS handshake (is it speaking TLS on "
                                                    "this port?)");
  }
  co_return core::make_error(core::Errc::tls,
                             route.display + ": TLS handshake failed (" + ec.message() + ")");
}

template <class Stream>
asio::awaitable<Exchange> HttpClient::Impl::exchange(Stream& stream, Connection& connection,
                                                     const WireRequest& wire, const Route& route,
                                                     Deadline deadline, Clock::time_point start)
{
  Exchange result;
  auto& lowest = connection.lowest();
  lowest.expires_at(deadline);
  const auto [write_ec, written] = co_await http::async_write(stream, wire, k_token);
  if (write_ec) {
    result.closed_early = is_connection_closed(write_ec);
    result.error = classify(write_ec, "sending the request", route, deadline, start);
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
    result.got_any_byte = parser.got_some() || connection.buffer.size() != 0;
    result.closed_early = !result.got_any_byte && is_connection_closed(header_ec);
    result.error = classify(header_ec, "waiting for the response headers", route, deadline, start);
    co_return result;
  }
  result.got_any_byte = true;
  result.server = Clock::now() - written_at;

  lowest.expires_at(deadline);
  const auto [body_ec, body_bytes] =
      co_await http::async_read(stream, connection.buffer, parser, k_token);
  if (body_ec) {
    result.error = classify(body_ec, "reading the response body", route, deadline, start);
    co_return result;
  }
  ++connection.exchanges;

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

asio::awaitable<Attempt> HttpClient::Impl::attempt(const Route& route, const WireRequest& wire,
                                                   Idempotent idempotent, Deadline deadline,
                                                   Clock::time_point start, Timing& timing)
{
  for (int pass = 0;; ++pass) {
    // A request that is not safe to repeat never goes over a kept-alive connection: the
    // server may have closed it (uwsgi's http-socket does after every response, silently),
    // and a request lost that way could not be resent.
    ConnectionPtr connection;
    if (idempotent == Idempotent::yes) {
      connection = take_idle(route.pool_key);
    }
    const bool reused = connection != nullptr;
    if (!connection) {
      auto connected = co_await connect(route, deadline, start);
      if (!connected) {
        Attempt failed;
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
      result = co_await exchange(*connection->tls, *connection, wire, route, deadline, start);
    } else {
      result = co_await exchange(*connection->plain, *connection, wire, route, deadline, start);
    }
    timing.server += result.server;
    if (!result.response && reused && result.closed_early && pass == 0 && Clock::now() < deadline) {
      log(LogLevel::debug, route.display + ": the kept-alive connection was closed by the "
                                           "server; reconnecting");
      connection->close();
      continue;
    }
    timing.reused_connection = reused;
    Attempt outcome;
    if (!result.response) {
      connection->close();
      outcome.error = std::move(result.error);
      co_return outcome;
    }
    if (result.reusable) {
      give_back(route.pool_key, std::move(connection));
    } else {
      connection->close();
    }
    outcome.response = std::move(result.response);
    co_return outcome;
  }
}

namespace {
Totals g_totals; // the process's request totals; the loop thread is the only writer
} // namespace

const Totals& process_totals() noexcept
{
  return g_totals;
}

asio::awaitable<core::Result<Response>> HttpClient::Impl::send(Request request, Deadline deadline)
{
  const auto start = Clock::now();
  CREDROTD_CO_TRY_ASSIGN(const Route route, make_route(request));
  const Idempotent idempotent = request.idempotent;
  const WireRequest wire = build(request, route);
  const RetryPolicy& policy = m_options.retry;
  const int max_attempts = std::max(1, policy.max_attempts);
  Timing timing;
  asio::steady_timer timer(m_executor);

  for (int attempt_number = 1;; ++attempt_number) {
    const auto server_before = timing.server;
    Attempt outcome = co_await attempt(route, wire, idempotent, deadline, start, timing);
    timing.attempts = attempt_number;
    timing.total = Clock::now() - start;
    ++g_totals.attempts;
    g_totals.server += timing.server - server_before;

    core::Error last;
    bool retryable = false;
    std::optional<std::chrono::milliseconds> retry_after;
    if (outcome.response) {
      const int status = outcome.response->status;
      if (!is_retried_status(status)) {
        outcome.response->timing = timing;
        co_return std::move(*outcome.response);
      }
      last = core::make_error(core::Errc::transient, route.display + ": HTTP " +
                                                         std::to_string(status) + " " +
                                                         outcome.response->reason);
      retryable = status == 429 || idempotent == Idempotent::yes;
      if (status == 429 || status == 503) {
        if (const auto value = outcome.response->header("Retry-After")) {
          retry_after = parse_retry_after(*value, std::chrono::system_clock::now());
        }
      }
    } else {
      last = std::move(outcome.error);
      if (last.code != core::Errc::transient) {
        co_return last; // timeout, tls, protocol, config: another attempt would not help
      }
      retryable = idempotent == Idempotent::yes || outcome.never_sent;
    }

    const auto attempts_text = [&] {
      return " (" + std::to_string(attempt_number) +
             (attempt_number == 1 ? " attempt in " : " attempts in ") +
             milliseconds_text(timing.total) + ")";
    };
    if (!retryable) {
      last.message += attempts_text() + "; not retried: the request is not safe to repeat";
      co_return last;
    }
    if (attempt_number >= max_attempts) {
      last.message += attempts_text();
      co_return last;
    }
    std::chrono::milliseconds delay;
    if (retry_after) {
      if (*retry_after > policy.max_retry_after) {
        last.message += attempts_text() + "; the server asked to retry after " +
                        milliseconds_text(*retry_after) + ", longer than credrotd waits";
        co_return last;
      }
      delay = *retry_after;
    } else {
      std::uniform_real_distribution<double> unit(0.0, 1.0);
      delay = backoff_delay(policy, attempt_number + 1, unit(m_random));
    }
    if (Clock::now() + delay >= deadline) {
      last.message += attempts_text() + "; the deadline leaves no time to retry after " +
                      milliseconds_text(delay);
      co_return last;
    }
    log(LogLevel::info, last.message + "; retrying in " + milliseconds_text(delay) + " (attempt " +
                            std::to_string(attempt_number + 1) + " of " +
                            std::to_string(max_attempts) + ")");
    timer.expires_after(delay);
    const auto [wait_ec] = co_await timer.async_wait(k_token);
    if (wait_ec) {
      co_return core::make_error(core::Errc::cancelled, route.display + ": cancelled");
    }
  }
}

std::string_view to_string(Method method) noexcept
{
  switch (method) {
  case Method::get:
    return "GET";
  case Method::head:
    return "HEAD";
  case Method::post:
    return "POST";
  case Method::put:
    return "PUT";
  case Method::patch:
    return "PATCH";
  case Method::delete_:
    return "DELETE";
  }
  return "GET";
}

Request& Request::header(std::string_view name, std::string_view value, Sensitive sensitive)
{
  headers.push_back(
      Header{std::string(name), core::WipingString(value.data(), value.size()), sensitive});
  return *this;
}

Request& Request::auth_token(const core::Secret& token)
{
  return header("X-Auth-Token", token.reveal(), Sensitive::yes);
}

std::optional<std::string_view> Response::header(std::string_view name) const
{
  for (const auto& field : headers) {
    if (iequals(field.name, name)) {
      return std::string_view(field.value.data(), field.value.size());
    }
  }
  return std::nullopt;
}

core::Result<HttpClient> HttpClient::create(asio::any_io_executor executor, ClientOptions options)
{
  ssl::context context(ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(context.native_handle(), TLS1_2_VERSION);
  context.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                      ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  error_code ec;
  const auto& tls = options.tls;
  if (!tls.ca_file.empty()) {
    context.load_verify_file(tls.ca_file, ec);
    if (ec) {
      return core::make_error(core::Errc::config, "cannot load the CA file " + tls.ca_file + " (" +
                                                      ec.message() +
                                                      "): it must be a readable PEM bundle");
    }
  }
  // Without a CA file the system trust store is loaded on the first TLS connection
  // (Impl::load_trust).
  if (!tls.client_cert_file.empty()) {
    context.use_certificate_chain_file(tls.client_cert_file, ec);
    if (ec) {
      return core::make_error(core::Errc::config, "cannot load the client certificate " +
                                                      tls.client_cert_file + " (" + ec.message() +
                                                      ")");
    }
    const std::string& key =
        tls.client_key_file.empty() ? tls.client_cert_file : tls.client_key_file;
    context.use_private_key_file(key, ssl::context::pem, ec);
    if (ec) {
      return core::make_error(core::Errc::config,
                              "cannot load the client key " + key + " (" + ec.message() + ")");
    }
  }
  context.set_verify_mode(tls.insecure == Insecure::yes ? ssl::verify_none : ssl::verify_peer);
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
