// SPDX-License-Identifier: Apache-2.0
// The engine's ConsumersPort over src/consumers (files) and src/service (checks, reloads).
#pragma once

#include "consumers/spec.hpp"
#include "core/config.hpp"
#include "engine/ports.hpp"
#include "systemd/units.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <vector>

namespace credrotd::wiring {

// The consumers of one profile. Files are read and written synchronously on the loop
// thread (each write is a few fsyncs); check and reload commands run asynchronously.
// `units` may be null (no D-Bus connection): reloading a unit then fails with Errc::config.
class ConsumersAdapter final : public engine::ConsumersPort {
public:
  ConsumersAdapter(boost::asio::any_io_executor executor, std::vector<core::Consumer> consumers,
                   systemd::SystemdUnits* units,
                   std::chrono::milliseconds unit_timeout = std::chrono::minutes(2));

  std::size_t count() const override { return m_consumers.size(); }
  std::string describe(std::size_t index) const override;
  std::string path(std::size_t index) const override { return m_consumers.at(index).path; }
  core::Result<std::optional<std::string>> read_access(std::size_t index) override;
  core::Result<engine::WriteReport> write(std::size_t index, const std::string& access,
                                          const core::Secret& secret) override;
  engine::Task<core::Status> check(std::size_t index, engine::Redactions redact) override;
  engine::Task<core::Status> reload(engine::Redactions redact) override;
  bool runs_programs() const override;

  // Each unit of every consumer once, with the strongest action asked for it.
  std::vector<systemd::UnitAction> unit_actions() const;

private:
  boost::asio::any_io_executor m_executor;
  std::vector<core::Consumer> m_consumers;
  std::vector<consumers::ConsumerSpec> m_specs;
  systemd::SystemdUnits* m_units;
  std::chrono::milliseconds m_unit_timeout;
};

} // namespace credrotd::wiring
