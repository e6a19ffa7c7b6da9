// SPDX-License-Identifier: Apache-2.0
// The scripted S3 stand-in: one thread polling the listener and its connections.
#include "stand_in.hpp"

#include "core/text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdexcept>
#include <sys/socket.h>
#include <unistd.h>

namespace credrotd::s3::test {

namespace {

void send_all(int fd, std::string_view data)
{
  while (!data.empty()) {
    const auto n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) {
      return;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

} // namespace

std::string s3_error(std::string_view code)
{
  return fmt::format("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code>"
                     "<Message>scripted</Message><RequestId>tx1</RequestId></Error>",
                     code);
}

StandIn::StandIn(std::vector<Scripted> script) : m_script(std::move(script))
{
  m_listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (m_listener < 0 ||
      ::bind(m_listener, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(m_listener, 16) != 0 ||
      ::getsockname(m_listener, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    throw std::runtime_error("the S3 stand-in cannot listen on 127.0.0.1");
  }
  m_port = ntohs(address.sin_port);
  m_thread = std::thread([this] { serve(); });
}

StandIn::~StandIn()
{
  m_stop = true;
  m_thread.join();
  ::close(m_listener);
}

std::string StandIn::endpoint() const
{
  return fmt::format("http://127.0.0.1:{}", m_port);
}

std::vector<Recorded> StandIn::requests() const
{
  const std::lock_guard lock(m_mutex);
  return m_requests;
}

void StandIn::serve()
{
  struct Connection {
    int fd;
    std::string buffer;
  };
  std::vector<Connection> connections;
  while (!m_stop) {
    std::vector<pollfd> fds{{m_listener, POLLIN, 0}};
    for (const auto& c : connections) {
      fds.push_back({c.fd, POLLIN, 0});
    }
    if (::poll(fds.data(), fds.size(), 50) <= 0) {
      continue;
    }
    if ((fds[0].revents & POLLIN) != 0) {
      if (const int fd = ::accept4(m_listener, nullptr, nullptr, SOCK_CLOEXEC); fd >= 0) {
        connections.push_back({fd, {}});
      }
    }
    for (std::size_t i = 1; i < fds.size(); ++i) {
      if (fds[i].revents == 0) {
        continue;
      }
      auto& c = connections[i - 1];
      char chunk[16384];
      const auto n = ::recv(c.fd, chunk, sizeof chunk, 0);
      if (n <= 0) {
        ::close(c.fd);
        c.fd = -1;
        continue;
      }
      c.buffer.append(chunk, static_cast<std::size_t>(n));
      send_all(c.fd, consume(c.buffer));
    }
    std::erase_if(connections, [](const Connection& c) { return c.fd < 0; });
  }
  for (const auto& c : connections) {
    ::close(c.fd);
  }
}

std::string StandIn::consume(std::string& buffer)
{
  std::string out;
  for (;;) {
    const auto end = buffer.find("\r\n\r\n");
    if (end == std::string::npos) {
      return out;
    }
    Recorded r;
    std::string_view head(buffer.data(), end);
    auto line_end = head.find("\r\n");
    const std::string_view request_line = head.substr(0, line_end);
    const auto sp1 = request_line.find(' ');
    const auto sp2 = request_line.rfind(' ');
    r.method = std::string(request_line.substr(0, sp1));
    r.target = std::string(request_line.substr(sp1 + 1, sp2 - sp1 - 1));
    while (line_end != std::string_view::npos) {
      head.remove_prefix(line_end + 2);
      line_end = head.find("\r\n");
      const auto line = head.substr(0, line_end);
      const auto colon = line.find(':');
      if (colon == std::string_view::npos) {
        continue;
      }
      r.headers[core::ascii_lower(line.substr(0, colon))] =
          std::string(core::trim(line.substr(colon + 1)));
    }
    std::size_t length = 0;
    if (const auto it = r.headers.find("content-length"); it != r.headers.end()) {
      length = std::stoul(it->second);
    }
    if (buffer.size() < end + 4 + length) {
      return out; // the body is still coming
    }
    r.body = buffer.substr(end + 4, length);
    buffer.erase(0, end + 4 + length);

    const Scripted& answer = m_script[std::min(m_next, m_script.size() - 1)];
    ++m_next;
    if (r.method == "PUT") {
      m_last_put = r.body;
    }
    const std::string body = answer.echo_last_put && r.method == "GET" ? m_last_put : answer.body;
    out += fmt::format("HTTP/1.1 {} Scripted\r\nContent-Length: {}\r\n"
                       "Content-Type: application/xml\r\n\r\n",
                       answer.status, body.size());
    if (r.method != "HEAD") {
      out += body;
    }
    const std::lock_guard lock(m_mutex);
    m_requests.push_back(std::move(r));
  }
}

} // namespace credrotd::s3::test
