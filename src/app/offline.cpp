// SPDX-License-Identifier: Apache-2.0
// The modes that act on nothing: --check-config and --dry-run (the plan itself is the engine's).
#include "app/app.hpp"
#include "app/load.hpp"
#include "config/config_file.hpp"
#include "config/duration.hpp"
#include "consumers/spec.hpp"
#include "engine/dry_run.hpp"
#include "store/store.hpp"
#include "wiring/consumers_port.hpp"
#include "wiring/profiles.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <optional>

namespace credrotd::app {

namespace {

// "alice at https://keystone:5000/v3, project demo": who the profile would act as.
core::Result<std::string> describe_identity(const core::Profile& profile,
                                            const config::CloudsConfig& clouds)
{
  CREDROTD_TRY_ASSIGN(const auto auth, wiring::resolve_auth(profile, clouds));
  return fmt::format("{} at {}, project {}", auth.username.empty() ? auth.user_id : auth.username,
                     auth.auth_url, auth.project_id.empty() ? auth.project_name : auth.project_id);
}

engine::DryRunProfile dry_run_profile(const core::Profile& profile,
                                      const config::CloudsConfig& clouds)
{
  auto consumers = std::make_shared<wiring::ConsumersAdapter>(boost::asio::any_io_executor(),
                                                              profile.consumers, nullptr);
  engine::DryRunProfile p;
  p.name = profile.name;
  p.location = profile.location.to_string();
  p.enabled = profile.enabled;
  p.identity = describe_identity(profile, clouds);
  p.create_method = profile.create_method;
  p.s3_endpoint = profile.s3_endpoint;
  for (const auto& a : consumers->unit_actions()) {
    p.unit_actions.push_back(fmt::format("{} {}", systemd::to_string(a.verb), a.unit));
  }
  p.grace = config::format_duration(profile.grace);
  p.consumers = std::move(consumers);
  return p;
}

} // namespace

int check_config(const Options& options, const config::HostEnvironment& env,
                 const systemd::Logger& logger)
{
  auto loaded = load(options, env, logger);
  if (!loaded) {
    std::cerr << "credrotd: " << loaded.error().message << "\n";
    return report_config_error(logger, loaded.error());
  }
  std::vector<std::string> warnings;
  if (auto checked = config::check_clouds(loaded->config, loaded->clouds, &warnings); !checked) {
    std::cerr << "credrotd: " << checked.error().message << "\n";
    return exit_config;
  }
  std::size_t consumers = 0;
  for (const auto& profile : loaded->config.profiles) {
    for (const auto& c : profile.consumers) {
      ++consumers;
      if (auto ok = consumers::check_spec(consumers::to_spec(c)); !ok) {
        std::cerr << fmt::format("credrotd: {}: {}\n", c.location.to_string(), ok.error().message);
        return exit_config;
      }
    }
  }
  for (const auto& w : warnings) {
    std::cerr << "credrotd: warning: " << w << "\n";
  }
  std::string files;
  for (const auto& f : loaded->config.files) {
    files += " " + f;
  }
  std::cout << fmt::format("configuration OK: {} profile(s), {} consumer file(s), from{}\n",
                           loaded->config.profiles.size(), consumers, files);
  return exit_ok;
}

int dry_run(const Options& options, const config::HostEnvironment& env,
            const systemd::Logger& logger)
{
  auto loaded = load(options, env, logger);
  if (!loaded) {
    std::cerr << "credrotd: " << loaded.error().message << "\n";
    return report_config_error(logger, loaded.error());
  }
  std::optional<store::Store> state;
  const std::string db = loaded->state_dir + "/state.db";
  if (std::filesystem::exists(db)) {
    auto opened = store::Store::open(db, store::Store::Mode::read_only);
    if (!opened) {
      std::cerr << "credrotd: " << opened.error().message << "\n";
      return exit_io;
    }
    state.emplace(std::move(*opened));
  }
  for (const auto& name : options.profiles) {
    if (loaded->config.find_profile(name) == nullptr) {
      std::cerr << "credrotd: no profile named " << name << "\n";
      return exit_usage;
    }
  }
  std::vector<engine::DryRunProfile> profiles;
  for (const auto& profile : loaded->config.profiles) {
    if (options.profiles.empty() || std::find(options.profiles.begin(), options.profiles.end(),
                                              profile.name) != options.profiles.end()) {
      profiles.push_back(dry_run_profile(profile, loaded->clouds));
    }
  }
  const bool ok = engine::print_dry_run(profiles, state ? &*state : nullptr, std::cout);
  return ok ? exit_ok : exit_config;
}

} // namespace credrotd::app
