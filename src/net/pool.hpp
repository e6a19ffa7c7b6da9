// SPDX-License-Identifier: Apache-2.0
// Private to src/net: the kept-alive connections of one HttpClient, per pool key
// (scheme/host/port, or the proxy). Generic over the connection, which offers close(),
// looks_alive() and idle_since, so that this file needs no Beast.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace credrotd::net {

template <class Connection> class IdlePool {
public:
  using Ptr = std::unique_ptr<Connection>;

  IdlePool(std::size_t max_per_key, std::chrono::steady_clock::duration idle_timeout)
      : m_max_per_key(max_per_key), m_idle_timeout(idle_timeout)
  {}

  // The newest idle connection of `key` that is still alive and not older than the idle
  // timeout, or null. The others it finds are closed, and `discarded()` is called for each.
  template <class Discarded> Ptr take(const std::string& key, Discarded&& discarded)
  {
    const auto it = m_idle.find(key);
    const auto now = std::chrono::steady_clock::now();
    while (it != m_idle.end() && !it->second.empty()) {
      Ptr connection = std::move(it->second.back());
      it->second.pop_back();
      if (now - connection->idle_since <= m_idle_timeout && connection->looks_alive()) {
        return connection;
      }
      discarded();
      connection->close();
    }
    return nullptr;
  }

  // Keeps `connection` for reuse (the oldest of its key is closed when there are too many).
  void give_back(const std::string& key, Ptr connection)
  {
    if (m_max_per_key == 0) {
      connection->close();
      return;
    }
    connection->idle_since = std::chrono::steady_clock::now();
    auto& connections = m_idle[key];
    if (connections.size() >= m_max_per_key) {
      connections.front()->close();
      connections.erase(connections.begin());
    }
    connections.push_back(std::move(connection));
  }

  void close_all()
  {
    for (auto& [key, connections] : m_idle) {
      for (auto& connection : connections) {
        connection->close();
      }
    }
    m_idle.clear();
  }

  std::size_t size() const
  {
    std::size_t count = 0;
    for (const auto& [key, connections] : m_idle) {
      count += connections.size();
    }
    return count;
  }

private:
  std::size_t m_max_per_key;
  std::chrono::steady_clock::duration m_idle_timeout;
  std::map<std::string, std::vector<Ptr>> m_idle;
};

} // namespace credrotd::net
