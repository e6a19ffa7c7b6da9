// SPDX-License-Identifier: Apache-2.0
// Builds the engine's profiles (policies + adapters) from the loaded configuration.
#pragma once

#include "config/clouds.hpp"
#include "core/config.hpp"
#include "engine/engine.hpp"
#include "keystone/token_cache.hpp"
#include "net/http_client.hpp"
#include "systemd/units.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace credrotd::wiring {

struct FactoryContext {
  boost::asio::any_io_executor executor;
  systemd::SystemdUnits* units = nullptr; // null: no bus, unit reloads fail with Errc::config
  net::LogSink log;                       // warnings of the HTTP clients (insecure TLS, ...)
};

// The rotation and schedule policies a profile's settings describe.
core::RotationPolicy rotation_policy(const core::ProfileSettings& settings);
core::SchedulePolicy schedule_policy(const core::ProfileSettings& settings);

// The identity a profile uses: profile_auth() with the profile's `project` applied (a 32-hex
// id or a name in the cloud's project domain).
core::Result<core::CloudAuth> resolve_auth(const core::Profile& profile,
                                           const config::CloudsConfig& clouds);

// Builds ProfileRuntimes. HTTP clients are shared by profiles with the same TLS settings, and
// Keystone clients (and their tokens) by profiles with the same identity, so that 1,000
// profiles of one cloud hold one token. A new build() starts from scratch (a reload); the
// runtimes of rotations still in progress keep the clients they were built with alive. Tokens
// outlive a build: the factory's token cache hands an identity's token to the clients of the
// next build (same settings and secrets), until it nears expiry.
class ProfileFactory {
public:
  explicit ProfileFactory(FactoryContext context) : m_context(std::move(context)) {}

  // Errors: config, naming the profile (its cloud does not resolve, a CA file cannot be
  // loaded).
  core::Result<std::vector<std::shared_ptr<const engine::ProfileRuntime>>>
  build(const core::Config& config, const config::CloudsConfig& clouds);

private:
  core::Result<std::shared_ptr<net::HttpClient>> client_for(const net::ClientOptions& options);

  FactoryContext m_context;
  std::map<std::string, std::shared_ptr<net::HttpClient>> m_clients;
  std::shared_ptr<keystone::TokenCache> m_tokens = std::make_shared<keystone::TokenCache>();
};

} // namespace credrotd::wiring
