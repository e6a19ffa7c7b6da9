// SPDX-License-Identifier: Apache-2.0
// Consumer files, check commands and reload actions of one profile.
#include "wiring/consumers_port.hpp"

#include "consumers/consumer.hpp"
#include "systemd/command.hpp"

#include <algorithm>

namespace credrotd::wiring {

namespace {

systemd::UnitVerb to_verb(core::ReloadAction action)
{
  switch (action) {
  case core::ReloadAction::reload:
    return systemd::UnitVerb::reload;
  case core::ReloadAction::restart:
    return systemd::UnitVerb::restart;
  case core::ReloadAction::try_restart:
    return systemd::UnitVerb::try_restart;
  case core::ReloadAction::reload_or_restart:
    return systemd::UnitVerb::reload_or_restart;
  }
  return systemd::UnitVerb::reload_or_restart;
}

} // namespace

ConsumersAdapter::ConsumersAdapter(boost::asio::any_io_executor executor,
                                   std::vector<core::Consumer> consumers,
                                   systemd::SystemdUnits* units,
                                   std::chrono::milliseconds unit_timeout)
    : m_executor(std::move(executor)), m_consumers(std::move(consumers)), m_units(units),
      m_unit_timeout(unit_timeout)
{
  for (const auto& c : m_consumers) {
    m_specs.push_back(consumers::to_spec(c));
  }
}

std::string ConsumersAdapter::describe(std::size_t index) const
{
  const auto& c = m_consumers.at(index);
  return std::string(core::to_string(c.type)) + " " + c.path;
}

core::Result<std::optional<std::string>> ConsumersAdapter::read_access(std::size_t index)
{
  CREDROTD_TRY_ASSIGN(auto key, consumers::read_key(m_specs.at(index)));
  if (!key) {
    return std::optional<std::string>();
  }
  return std::optional<std::string>(std::move(key->access_id));
}

core::Result<engine::WriteReport>
ConsumersAdapter::write(std::size_t index, const std::string& access, const core::Secret& secret)
{
  CREDROTD_TRY_ASSIGN(const auto report, consumers::apply(m_specs.at(index), access, secret));
  return engine::WriteReport{report.old_sha256, report.new_sha256};
}

engine::Task<core::Status> ConsumersAdapter::check(std::size_t index, engine::Redactions redact)
{
  const auto& c = m_consumers.at(index);
  if (c.check.empty()) {
    co_return core::Status{};
  }
  systemd::CommandSpec spec;
  spec.argv = c.check;
  spec.user = c.user;
  spec.timeout = c.check_timeout;
  spec.label = "check";
  spec.redact = std::move(redact);
  co_return co_await systemd::run_command(m_executor, std::move(spec));
}

std::vector<systemd::UnitAction> ConsumersAdapter::unit_actions() const
{
  std::vector<systemd::UnitAction> actions;
  for (const auto& c : m_consumers) {
    for (const auto& unit : c.reload) {
      actions.push_back({unit, to_verb(c.reload_action)});
    }
  }
  return systemd::merge_unit_actions(std::move(actions));
}

engine::Task<core::Status> ConsumersAdapter::reload(engine::Redactions redact)
{
  auto actions = unit_actions();
  if (!actions.empty()) {
    if (m_units == nullptr) {
      co_return core::make_error(core::Errc::config, "cannot reload " + actions.front().unit +
                                                         ": no connection to systemd's D-Bus API");
    }
    CREDROTD_CO_TRY(co_await systemd::act_on_units(*m_units, std::move(actions), m_unit_timeout));
  }
  for (const auto& c : m_consumers) {
    for (const auto& argv : c.run) {
      systemd::CommandSpec spec;
      spec.argv = argv;
      spec.user = c.user;
      spec.timeout = c.run_timeout;
      spec.label = "reload command";
      spec.redact = redact;
      CREDROTD_CO_TRY(co_await systemd::run_command(m_executor, std::move(spec)));
    }
  }
  co_return core::Status{};
}

bool ConsumersAdapter::runs_programs() const
{
  // Unit reloads print nothing of the consumer's; check and run commands are its programs.
  return std::any_of(m_consumers.begin(), m_consumers.end(),
                     [](const core::Consumer& c) { return !c.check.empty() || !c.run.empty(); });
}

} // namespace credrotd::wiring
