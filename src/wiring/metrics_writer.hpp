// SPDX-License-Identifier: Apache-2.0
// Keeps the Prometheus textfile up to date: rewritten atomically after each rotation.
#pragma once

#include "engine/engine.hpp"
#include "systemd/log.hpp"

#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <memory>
#include <string>

namespace credrotd::wiring {

// An observer that rewrites `path` (node-exporter textfile collector format, mode 0644)
// whenever the state changes. Write failures are logged, never fatal.
class MetricsWriter final : public engine::Observer {
public:
  MetricsWriter(std::string path, const engine::Engine& engine, const systemd::Logger& logger)
      : m_path(std::move(path)), m_engine(engine), m_logger(logger)
  {}

  void phase_changed(const core::Rotation& /*rotation*/) override { write(); }
  void rotation_finished(const core::Rotation& /*rotation*/) override { write(); }
  void state_changed() override { write(); }

  // Renders the engine's current state and replaces the file.
  void write();

  // Also rewrites the file every `period` (the daemon: key ages stay current, and the file's
  // mtime tells a reader that the daemon is alive). Runs until the io_context stops.
  void refresh_every(boost::asio::any_io_executor executor, std::chrono::seconds period);

private:
  std::string m_path;
  const engine::Engine& m_engine;
  const systemd::Logger& m_logger;
  std::unique_ptr<boost::asio::steady_timer> m_timer;
  std::chrono::seconds m_period{0};

  void arm();
};

} // namespace credrotd::wiring
