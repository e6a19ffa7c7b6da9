// SPDX-License-Identifier: Apache-2.0
// What credrotd runs once its arguments are parsed: the daemon, --once, --dry-run, --check-config.
#pragma once

#include "config/environment.hpp"
#include "systemd/log.hpp"

#include <string>
#include <vector>

namespace credrotd::app {

// Exit statuses (credrotd(8), EXIT STATUS): sysexits.h values where one fits.
enum Exit : int {
  exit_ok = 0,
  exit_rotation_failed = 1, // --once: a rotation rolled back or failed
  exit_usage = 64,
  exit_unavailable = 69, // the bus cannot be reached or the name is taken
  exit_software = 70,
  exit_io = 74,       // the state database cannot be opened
  exit_tempfail = 75, // another credrotd holds the state directory; --once interrupted
  exit_config = 78,
};

// The command line (credrotd --help).
struct Options {
  std::string config_file;
  bool user = false;
  bool once = false;
  bool dry_run = false;
  bool check_config = false;
  bool version = false;
  bool stats = false;
  std::vector<std::string> profiles;
};

// --check-config: loads the configuration and clouds.yaml and checks every profile's cloud
// and consumer file settings; prints "configuration OK: ..." or the first error (stderr).
// Returns exit_ok, exit_config or exit_io.
int check_config(const Options& options, const config::HostEnvironment& env,
                 const systemd::Logger& logger);

// --dry-run: prints what a rotation of each profile (or of options.profiles) would do, from
// the configuration, the state and the consumer files; contacts nothing, changes nothing.
// Returns exit_ok, exit_config (a profile's identity or file cannot be read), exit_usage (no
// such profile) or exit_io.
int dry_run(const Options& options, const config::HostEnvironment& env,
            const systemd::Logger& logger);

// The daemon (until SIGTERM/SIGINT, or a fatal error) or, with options.once, one pass of
// every due rotation. Returns an Exit value.
int run(Options options, config::HostEnvironment env, systemd::Logger& logger);

} // namespace credrotd::app
