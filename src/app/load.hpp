// SPDX-License-Identifier: Apache-2.0
// The configuration as every credrotd mode loads it, and the lock of the state directory.
#pragma once

#include "app/app.hpp"
#include "config/clouds.hpp"
#include "core/config.hpp"
#include "core/error.hpp"
#include "core/fd.hpp"

#include <string>

namespace credrotd::app {

struct Loaded {
  core::Config config;
  config::CloudsConfig clouds;
  std::string state_dir;
};

// Reads credrotd.toml (options.config_file, or the default for the mode) with its drop-ins
// and the clouds files it names; logs their warnings. Errors: config, parse, io (file:line).
core::Result<Loaded> load(const Options& options, const config::HostEnvironment& env,
                          const systemd::Logger& logger);

// Logs a configuration error (MESSAGE_ID config_error) and returns its exit status.
int report_config_error(const systemd::Logger& logger, const core::Error& error);

// Creates the state directory (0700) and takes its lock, so that two credrotd processes (a
// daemon and a --once, or two daemons) never run rotations on the same state. The lock lasts
// as long as the returned descriptor. Errors: io, transient (another credrotd holds it).
core::Result<core::Fd> lock_state_dir(const std::string& dir);

} // namespace credrotd::app
