// SPDX-License-Identifier: Apache-2.0
// credrotd's main(): the command line, then the mode it asks for (src/app).
#include "app/app.hpp"

#include <CLI/CLI.hpp>

#include <csignal>
#include <iostream>
#include <sys/prctl.h>
#include <sys/stat.h>

using namespace credrotd;

int main(int argc, char** argv)
{
  // No core dumps: they would hold keys.
  ::prctl(PR_SET_DUMPABLE, 0);
  std::signal(SIGPIPE, SIG_IGN);
  ::umask(0077);

  app::Options options;
  CLI::App cli{"credrotd: rotates the EC2/S3 keys of an OpenStack cloud and rewrites the "
               "files of the S3 clients that use them.",
               "credrotd"};
  cli.add_option("-c,--config", options.config_file,
                 "Main configuration file (default /etc/credrotd/credrotd.toml, "
                 "with --user ~/.config/credrotd/credrotd.toml); drop-ins are read from "
                 "credrotd.d/ beside it");
  cli.add_flag("--user", options.user,
               "Run for the calling user: session bus, user configuration and state");
  cli.add_flag("--once", options.once,
               "Resume unfinished rotations, rotate what is due (or the --profile ones), exit");
  cli.add_flag("--dry-run", options.dry_run,
               "Print what a rotation would do (keys, files, reloads); change nothing");
  cli.add_flag("--check-config", options.check_config,
               "Validate the configuration and clouds.yaml, then exit");
  cli.add_option("-p,--profile", options.profiles,
                 "With --once or --dry-run: only these profiles (repeatable)");
  cli.add_flag("-V,--version", options.version, "Print the version and exit");
  cli.add_flag("--stats", options.stats,
               "With --once: print the HTTP calls made and the time servers spent answering");
  cli.footer("Exit status: 0 success; 1 a rotation rolled back or failed (--once); 64 usage; "
             "69 D-Bus unavailable; 74 state database error; 75 another credrotd holds the "
             "state directory; 78 configuration error. See credrotd(8).");
  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return cli.exit(e) == 0 ? app::exit_ok : app::exit_usage;
  }
  if (options.version) {
    std::cout << "credrotd " << CREDROTD_VERSION << "\n";
    return app::exit_ok;
  }
  if (!options.profiles.empty() && !options.once && !options.dry_run) {
    std::cerr << "credrotd: --profile needs --once or --dry-run\n";
    return app::exit_usage;
  }

  systemd::Logger logger(systemd::detect_sink());
  auto env = config::current_host_environment();
  try {
    if (options.check_config) {
      return app::check_config(options, env, logger);
    }
    if (options.dry_run) {
      return app::dry_run(options, env, logger);
    }
    return app::run(std::move(options), std::move(env), logger);
  } catch (const std::exception& e) {
    logger.error(std::string("fatal: ") + e.what());
    return app::exit_software;
  }
}
