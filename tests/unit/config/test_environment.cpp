// SPDX-License-Identifier: Apache-2.0
// The process environment and the default paths derived from it.
#include "config/environment.hpp"

#include <catch2/catch.hpp>
#include <climits>

#include <cstdlib>
#include <unistd.h>

using namespace credrotd;

TEST_CASE("the host environment is the process's own", "[config][environment]")
{
  const auto env = config::current_host_environment();
  const char* path = std::getenv("PATH");
  REQUIRE(path != nullptr);
  REQUIRE(env.get("PATH") != nullptr);
  CHECK(*env.get("PATH") == path);
  CHECK(env.get("CREDROTD_SURELY_UNSET_VARIABLE") == nullptr);
  char cwd[PATH_MAX];
  REQUIRE(::getcwd(cwd, sizeof cwd) != nullptr);
  CHECK(env.cwd == cwd);
  CHECK_FALSE(env.passwd_home.empty());
}

TEST_CASE("HOME falls back to the passwd entry only when unset", "[config][environment]")
{
  config::HostEnvironment env;
  env.passwd_home = "/var/lib/credrotd";
  CHECK(env.home() == "/var/lib/credrotd");
  env.vars["HOME"] = "";
  CHECK(env.home().empty()); // set but empty is not unset, as in Python's expanduser
  env.vars["HOME"] = "/home/op";
  CHECK(env.home() == "/home/op");
}

TEST_CASE("the default state directory follows StateDirectory= and XDG", "[config][environment]")
{
  config::HostEnvironment env;
  env.vars = {{"HOME", "/home/op"}};
  CHECK(config::default_state_dir(env, config::RunMode::system) == "/var/lib/credrotd");
  CHECK(config::default_state_dir(env, config::RunMode::user) == "/home/op/.local/state/credrotd");
  env.vars["XDG_STATE_HOME"] = "relative/ignored";
  CHECK(config::default_state_dir(env, config::RunMode::user) == "/home/op/.local/state/credrotd");
  env.vars["XDG_STATE_HOME"] = "/xdg/state";
  CHECK(config::default_state_dir(env, config::RunMode::user) == "/xdg/state/credrotd");
  env.vars["STATE_DIRECTORY"] = "/var/lib/credrotd:/var/lib/other";
  CHECK(config::default_state_dir(env, config::RunMode::system) == "/var/lib/credrotd");
  CHECK(config::default_state_dir(env, config::RunMode::user) == "/var/lib/credrotd");
}

TEST_CASE("the default configuration paths are /etc/credrotd or the XDG config dir",
          "[config][environment]")
{
  config::HostEnvironment env;
  env.vars = {{"HOME", "/home/op"}};
  const auto system = config::default_config_paths(env, config::RunMode::system);
  CHECK(system.main_file == "/etc/credrotd/credrotd.toml");
  CHECK(system.dropin_dir == "/etc/credrotd/credrotd.d");
  const auto user = config::default_config_paths(env, config::RunMode::user);
  CHECK(user.main_file == "/home/op/.config/credrotd/credrotd.toml");
  CHECK(user.dropin_dir == "/home/op/.config/credrotd/credrotd.d");
  env.vars["XDG_CONFIG_HOME"] = "/cfg";
  CHECK(config::default_config_paths(env, config::RunMode::user).main_file ==
        "/cfg/credrotd/credrotd.toml");
}
