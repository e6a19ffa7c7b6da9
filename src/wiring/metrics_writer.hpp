// SPDX-License-Identifier: Apache-2.0
// Keeps the Prometheus textfile up to date: rewritten atomically after each rotation.
#pragma once

#include "engine/engine.hpp"
#include "service/log.hpp"

#include <string>

namespace credrotd::wiring {

// An observer that rewrites `path` (node-exporter textfile collector format, mode 0644)
// whenever the state changes. Write failures are logged, never fatal.
class MetricsWriter final : public engine::Observer {
public:
  MetricsWriter(std::string path, const engine::Engine& engine, const service::Logger& logger)
      : m_path(std::move(path)), m_engine(engine), m_logger(logger)
  {}

  void rotation_finished(const core::Rotation& /*rotation*/) override { write(); }
  void state_changed() override { write(); }

  // Renders the engine's current state and replaces the file.
  void write();

private:
  std::string m_path;
  const engine::Engine& m_engine;
  const service::Logger& m_logger;
};

} // namespace credrotd::wiring
