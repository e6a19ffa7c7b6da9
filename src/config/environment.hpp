// SPDX-License-Identifier: Apache-2.0
// What the process sees (environment variables, working directory, home), passed explicitly.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>

namespace credrotd::config {

// The loaders take this instead of calling getenv()/getcwd(), so tests choose exactly what
// the "process" sees; the daemon passes current_host_environment().
struct HostEnvironment {
  std::map<std::string, std::string, std::less<>> vars; // environment variables
  std::string cwd;                                      // current working directory
  std::string passwd_home; // the user's home from the passwd database, used when HOME is unset

  // The variable's value, or nullptr when it is unset (set-but-empty is not unset).
  const std::string* get(std::string_view name) const
  {
    const auto it = vars.find(name);
    return it == vars.end() ? nullptr : &it->second;
  }
  // $HOME, or passwd_home when HOME is unset (what Python's os.path.expanduser does).
  std::string home() const
  {
    const std::string* home = get("HOME");
    return home != nullptr ? *home : passwd_home;
  }
};

// The real process environment, working directory and passwd home.
HostEnvironment current_host_environment();

// credrotd runs as a system service (system bus, /etc, /var/lib) or with --user.
enum class RunMode { system, user };

// [daemon] state_dir when the file does not set it: $STATE_DIRECTORY (its first entry, as
// set by StateDirectory=), else /var/lib/credrotd; in user mode $XDG_STATE_HOME/credrotd,
// else ~/.local/state/credrotd.
std::string default_state_dir(const HostEnvironment& env, RunMode mode);

struct ConfigPaths {
  std::string main_file;  // /etc/credrotd/credrotd.toml
  std::string dropin_dir; // /etc/credrotd/credrotd.d
};

// System mode: /etc/credrotd/credrotd.toml and /etc/credrotd/credrotd.d. User mode: the same
// names under $XDG_CONFIG_HOME/credrotd (default ~/.config/credrotd).
ConfigPaths default_config_paths(const HostEnvironment& env, RunMode mode);

} // namespace credrotd::config
