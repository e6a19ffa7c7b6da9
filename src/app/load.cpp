// SPDX-License-Identifier: Apache-2.0
// Loading the configuration for every credrotd mode, and locking the state directory.
#include "app/load.hpp"

#include "config/config_file.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <sys/file.h>
#include <sys/stat.h>
#include <syslog.h>

namespace credrotd::app {

core::Result<Loaded> load(const Options& options, const config::HostEnvironment& env,
                          const systemd::Logger& logger)
{
  const auto mode = options.user ? config::RunMode::user : config::RunMode::system;
  config::ConfigPaths paths = config::default_config_paths(env, mode);
  if (!options.config_file.empty()) {
    paths.main_file = options.config_file;
    paths.dropin_dir = std::filesystem::path(options.config_file).parent_path() / "credrotd.d";
  }
  // Without state_dir in any file: /var/lib/credrotd, or with --user
  // $XDG_STATE_HOME/credrotd.
  config::LoadOptions load_options;
  load_options.default_state_dir = config::default_state_dir(env, mode);
  CREDROTD_TRY_ASSIGN(auto loaded, config::load_config(paths, load_options));
  for (const auto& w : loaded.warnings) {
    logger.warning(w);
  }
  Loaded out{std::move(loaded.config), {}, {}};
  CREDROTD_TRY_ASSIGN(out.clouds,
                      config::load_clouds(env, config::CloudsFiles{out.config.daemon.clouds_file,
                                                                   out.config.daemon.secure_file}));
  for (const auto& w : out.clouds.warnings()) {
    logger.warning(w);
  }
  out.state_dir = out.config.daemon.state_dir.empty() ? load_options.default_state_dir
                                                      : out.config.daemon.state_dir;
  return out;
}

int report_config_error(const systemd::Logger& logger, const core::Error& error)
{
  logger.log(LOG_ERR, systemd::MessageKind::config_error, {}, error.message);
  return error.code == core::Errc::io ? exit_io : exit_config;
}

core::Result<core::Fd> lock_state_dir(const std::string& dir)
{
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return core::make_error(
        core::Errc::io, fmt::format("cannot create the state directory {}: {}", dir, ec.message()));
  }
  ::chmod(dir.c_str(), 0700);
  const std::string path = dir + "/credrotd.lock";
  core::Fd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd) {
    return core::make_error(core::Errc::io,
                            fmt::format("cannot open {}: {}", path, std::strerror(errno)));
  }
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    return core::make_error(core::Errc::transient,
                            "another credrotd is running with the state directory " + dir);
  }
  return fd;
}

} // namespace credrotd::app
