// SPDX-License-Identifier: Apache-2.0
// HttpClient: the asynchronous HTTP(S) client every adapter uses (Keystone, S3).
#pragma once

#include "core/error.hpp"
#include "core/secret.hpp"
#include "net/proxy.hpp"
#include "net/retry.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace credrotd::net {

using Clock = std::chrono::steady_clock;
// The instant by which a whole call (every attempt, backoff wait and phase) must be over.
using Deadline = Clock::time_point;

inline Deadline deadline_after(Clock::duration budget)
{
  return Clock::now() + budget;
}

enum class Method { get, head, post, put, patch, delete_ };

std::string_view to_string(Method method) noexcept;

// Whether the caller allows the client to send a request again after a failure that may have
// happened after the server acted on it (a 5xx, a reset during the response). GET, HEAD,
// DELETE and a create keyed by a client-chosen id are safe; a create whose id the server
// chooses is not. Failures that prove the request never reached the server (connection
// refused) and 429 are retried either way.
enum class Idempotent { yes, no };

// Marks a header whose value is a secret (X-Auth-Token, Authorization), for anything that
// describes requests. The client itself never prints header values or bodies.
enum class Sensitive { yes, no };

// Values and bodies live in wiping buffers: a token or password in a request, or a secret key
// in a response, leaves no copy on the heap when the message is released.
struct Header {
  std::string name;
  core::WipingString value;
  Sensitive sensitive = Sensitive::no;
};

struct Request {
  Method method = Method::get;
  std::string url; // absolute http:// or https:// URL; no user:password@
  // Sent as given, after Host and User-Agent (which a header of the same name replaces); a
  // name given twice keeps the last value.
  std::vector<Header> headers;
  core::WipingString body; // sent with Content-Length when non-empty or for POST/PUT/PATCH
  Idempotent idempotent = Idempotent::yes;

  Request& header(std::string_view name, std::string_view value,
                  Sensitive sensitive = Sensitive::no);
  // Header "X-Auth-Token: <token>", marked sensitive.
  Request& auth_token(const core::Secret& token);
};

struct Timing {
  // Time the server took, summed over attempts: from the request fully written to the
  // response headers received. Benchmarks subtract it from `total`. "Fully written" is when
  // the coroutine sees the write complete; on loopback, where a server answers within tens of
  // microseconds, that under-counts by the client's own dispatch (measured: ~10-20 us).
  Clock::duration server{};
  // From the call to send() until the response body was complete, retries included.
  Clock::duration total{};
  int attempts = 0;               // requests sent, transparent reconnects not counted
  bool reused_connection = false; // the final attempt went over a kept-alive connection
};

struct Response {
  int status = 0;
  std::string reason;
  std::vector<Header> headers;
  core::WipingString body;
  Timing timing;

  // The first header of that name (case-insensitive), or nullopt.
  std::optional<std::string_view> header(std::string_view name) const;
};

enum class Insecure { yes, no };

struct TlsOptions {
  // PEM bundle of the CAs to trust instead of the system trust store; empty: system store.
  std::string ca_file;
  // Insecure::yes disables certificate and host name verification. Only when the operator
  // configured it explicitly (clouds.yaml "verify: false"); the client then reports a
  // warning through ClientOptions::log for each server it connects to.
  Insecure insecure = Insecure::no;
  std::string client_cert_file; // PEM certificate chain for mutual TLS (optional)
  std::string client_key_file;  // PEM private key for it
};

enum class LogLevel { debug, info, warning };
// Receives the client's events (insecure TLS warnings, retries, discarded connections). The
// messages never contain header values, bodies or query strings.
using LogSink = std::function<void(LogLevel, std::string_view)>;

struct ClientOptions {
  TlsOptions tls;
  ProxyOptions proxy; // explicit; ProxyOptions::from_environment() for *_proxy
  RetryPolicy retry;
  std::size_t max_body_bytes = 8 * 1024 * 1024; // larger responses fail with Errc::protocol
  std::size_t max_header_bytes = 64 * 1024;     // status line and header fields together
  std::size_t max_idle_per_origin = 4;          // kept-alive connections per scheme/host/port
  std::chrono::seconds idle_timeout{30};        // idle connections older than this are closed
  std::string user_agent = std::string("credrotd/") + CREDROTD_VERSION;
  LogSink log; // may be empty
};

// What every HttpClient of the process sent so far: for benchmarks, which subtract the time
// servers spent answering from credrotd's total time. Updated on the loop thread only.
struct Totals {
  std::uint64_t calls = 0;    // send() calls that got a response or gave up
  std::uint64_t attempts = 0; // requests sent, retries included
  Clock::duration server{};   // sum of Timing::server
  Clock::duration total{};    // sum of Timing::total
};
const Totals& process_totals() noexcept;

// An HTTP/1.1 client for one io_context and its single thread: connection reuse per
// scheme/host/port (or per proxy), deadlines covering every phase, retries with backoff for
// transient failures, TLS 1.2+ with peer and host name verification, proxies through
// CONNECT. Not thread-safe; the object must outlive every send() in progress.
class HttpClient {
public:
  // Loads the TLS configuration. Errors: Errc::config when the CA file, client certificate or
  // key cannot be loaded (the message names the file).
  static core::Result<HttpClient> create(boost::asio::any_io_executor executor,
                                         ClientOptions options);

  HttpClient(HttpClient&&) noexcept;
  HttpClient& operator=(HttpClient&&) noexcept;
  ~HttpClient();

  // Sends `request` and reads the whole response, retrying transient failures while the
  // deadline allows. Success: any response whose status is not retried (2xx, 3xx, 4xx other
  // than 429, 501, 505, ...): interpreting it is the caller's job. Errors:
  // - Errc::transient: connection refused/reset/closed, name resolution failed, or the
  //   server kept answering 429/500/502/503/504 until attempts or deadline ran out;
  // - Errc::timeout: the deadline passed (the message names the phase);
  // - Errc::tls: certificate refused (unknown CA, host name mismatch, expired) or the
  //   handshake failed; never retried;
  // - Errc::protocol: malformed HTTP, or a response beyond max_body_bytes/max_header_bytes;
  // - Errc::config: the URL or a proxy URL is unusable.
  // Messages show the method and the URL without its query; never header values or bodies.
  boost::asio::awaitable<core::Result<Response>> send(Request request, Deadline deadline);

  // Closes every idle kept-alive connection.
  void close_idle();

  // Number of idle connections kept for reuse (all origins), for tests and metrics.
  std::size_t idle_connections() const;

  class Impl;

private:
  explicit HttpClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> m_impl;
};

} // namespace credrotd::net
