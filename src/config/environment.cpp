// SPDX-License-Identifier: Apache-2.0
// Reading the real process environment, and the default paths derived from it.
#include "config/environment.hpp"

#include <climits>

#include <pwd.h>
#include <unistd.h>
#include <vector>

extern char** environ;

namespace credrotd::config {

HostEnvironment current_host_environment()
{
  HostEnvironment env;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    const std::string_view text(*entry);
    const auto equals = text.find('=');
    if (equals == std::string_view::npos) {
      continue;
    }
    // First definition wins, like getenv().
    env.vars.emplace(std::string(text.substr(0, equals)), std::string(text.substr(equals + 1)));
  }
  std::vector<char> buffer(PATH_MAX + 1);
  if (::getcwd(buffer.data(), buffer.size()) != nullptr) {
    env.cwd = buffer.data();
  }
  // getpwuid_r with a fixed buffer: getpwuid() is not thread-safe.
  struct passwd entry {};
  struct passwd* result = nullptr;
  std::vector<char> pw_buffer(16384);
  if (::getpwuid_r(::getuid(), &entry, pw_buffer.data(), pw_buffer.size(), &result) == 0 &&
      result != nullptr && result->pw_dir != nullptr) {
    env.passwd_home = result->pw_dir;
  }
  return env;
}

namespace {

std::string xdg_dir(const HostEnvironment& env, std::string_view variable,
                    std::string_view fallback)
{
  // The XDG base directory spec ignores unset, empty and relative values.
  if (const std::string* value = env.get(variable);
      value != nullptr && !value->empty() && value->front() == '/') {
    return *value;
  }
  return env.home() + "/" + std::string(fallback);
}

} // namespace

std::string default_state_dir(const HostEnvironment& env, RunMode mode)
{
  if (const std::string* state = env.get("STATE_DIRECTORY"); state != nullptr && !state->empty()) {
    // StateDirectory=a b sets STATE_DIRECTORY=/var/lib/a:/var/lib/b.
    return state->substr(0, state->find(':'));
  }
  if (mode == RunMode::system) {
    return "/var/lib/credrotd";
  }
  return xdg_dir(env, "XDG_STATE_HOME", ".local/state") + "/credrotd";
}

ConfigPaths default_config_paths(const HostEnvironment& env, RunMode mode)
{
  const std::string dir = mode == RunMode::system
                              ? std::string("/etc/credrotd")
                              : xdg_dir(env, "XDG_CONFIG_HOME", ".config") + "/credrotd";
  return ConfigPaths{dir + "/credrotd.toml", dir + "/credrotd.d"};
}

} // namespace credrotd::config
