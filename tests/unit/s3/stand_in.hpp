// SPDX-License-Identifier: Apache-2.0
// A scripted HTTP/1.1 server on 127.0.0.1 standing in for an S3 endpoint: it records every
// request and answers each with the next scripted response.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace credrotd::s3::test {

struct Recorded {
  std::string method;
  std::string target; // as sent: "/bucket" or, through a proxy, "http://host:port/bucket"
  std::map<std::string, std::string> headers; // names in lower case
  std::string body;
};

struct Scripted {
  int status = 200;
  std::string body; // not sent to a HEAD (Content-Length still says its size)
  // Answer a GET with the body of the last PUT instead of `body` (an object store's probe).
  bool echo_last_put = false;
};

// Serves on its own thread until destroyed (the destructor stops and joins it). Answers the
// script in order; the last entry repeats. Keeps connections alive as S3 does. Not a general
// HTTP server: no chunked request bodies, no pipelining.
class StandIn {
public:
  explicit StandIn(std::vector<Scripted> script = {Scripted{}});
  StandIn(const StandIn&) = delete;
  StandIn& operator=(const StandIn&) = delete;
  ~StandIn();

  std::uint16_t port() const noexcept { return m_port; }
  // "http://127.0.0.1:<port>"
  std::string endpoint() const;
  // Every request so far, in order of arrival.
  std::vector<Recorded> requests() const;

private:
  void serve();
  // Appends `data` to a connection's buffer; returns the answers for the complete requests in
  // it.
  std::string consume(std::string& buffer);

  int m_listener = -1;
  std::uint16_t m_port = 0;
  std::vector<Scripted> m_script;
  std::size_t m_next = 0;
  std::string m_last_put;
  mutable std::mutex m_mutex;
  std::vector<Recorded> m_requests;
  std::atomic<bool> m_stop{false};
  std::thread m_thread;
};

// The XML error body S3 sends with an error status.
std::string s3_error(std::string_view code);

} // namespace credrotd::s3::test
