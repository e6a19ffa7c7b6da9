// SPDX-License-Identifier: Apache-2.0
// credrotctl's main(): the command line; the commands live in src/ctl (docs/dbus.md).
#include "ctl/ctl.hpp"

#include <CLI/CLI.hpp>

#include <utility>

using namespace credrotd;

int main(int argc, char** argv)
{
  ctl::Options options;
  CLI::App app{"credrotctl: ask credrotd for the state of its profiles, rotate their keys, "
               "verify them, and show their history and keys. Talks to credrotd over D-Bus "
               "(system bus; --user: session bus); discover talks to Keystone only.",
               "credrotctl"};
  app.footer(
      "Exit status: 0 success; 1 a rotation failed or rolled back, verify did not accept the "
      "key, or another error; 2 usage; 3 credrotd not reachable (no bus, name not owned, no "
      "answer); 4 access denied (bus policy, or not root/group credrotd for rotate); 5 no such "
      "profile.\nJSON output (--json): one document per command; shapes in credrotctl(1) and "
      "docs/dbus.md.");
  app.require_subcommand(1);
  app.fallthrough();
  app.add_flag("--user", options.user, "Talk to the user's credrotd on the session bus");
  app.add_flag("--json", options.json, "Print one JSON document instead of a table");
  app.add_option("--timeout", options.timeout_s,
                 "Seconds to wait for each answer of credrotd (default 120)")
      ->check(CLI::PositiveNumber);
  app.set_version_flag("-V,--version", "credrotctl " CREDROTD_VERSION);

  // Each subcommand with the function that runs it.
  std::vector<std::pair<CLI::App*, int (*)(const ctl::Options&)>> commands;
  const auto command = [&](const char* name, const char* description, auto run) {
    auto* sub = app.add_subcommand(name, description);
    commands.emplace_back(sub, run);
    return sub;
  };

  auto* status = command("status",
                         "Show every profile (or the named ones): state, current key, last "
                         "rotation, next due time",
                         ctl::status);
  status->add_option("profile", options.profiles, "Profiles to show (default: all)");

  auto* rotate = command(
      "rotate", "Rotate the named profiles' keys now (--all: every enabled profile)", ctl::rotate);
  rotate->add_option("profile", options.profiles, "Profiles to rotate");
  rotate->add_flag("--all", options.all, "Rotate every enabled profile");
  rotate->add_flag("--wait", options.wait,
                   "Follow the rotations until they finish; exit 1 if one failed or rolled back");
  rotate
      ->add_option("--wait-timeout", options.wait_timeout_s,
                   "With --wait: give up after this many seconds (default: no limit; the "
                   "rotation goes on in credrotd)")
      ->check(CLI::NonNegativeNumber);

  auto* verify = command(
      "verify", "Check that the profile's current key works against its S3 endpoint", ctl::verify);
  verify->add_option("profile", options.profiles, "Profile")->required()->expected(1);

  auto* history = command("history", "Show the profile's rotations, newest first", ctl::history);
  history->add_option("profile", options.profiles, "Profile")->required()->expected(1);
  history->add_option("-n,--limit", options.limit, "At most this many rotations (default 20)")
      ->check(CLI::PositiveNumber);

  auto* keys = command("keys",
                       "Show the EC2 keys of the profile's user in Keystone: current, previous, "
                       "not managed (access ids only)",
                       ctl::keys);
  keys->add_option("profile", options.profiles, "Profile")->required()->expected(1);

  command("reload", "Make credrotd re-read its configuration and wait until it has", ctl::reload);

  auto* check =
      command("check-config", "Validate the configuration offline (runs credrotd --check-config)",
              ctl::check_config);
  check->add_option("-c,--config", options.config_file, "Main configuration file");

  auto* disc = command("discover",
                       "Find the EC2 keys in this host's client files, ask Keystone which belong "
                       "to the cloud's identity, and print a drop-in that rotates them (reads "
                       "only; never prints a secret; needs no credrotd)",
                       ctl::discover);
  disc->add_option("--cloud", options.cloud,
                   "The clouds.yaml cloud whose keys to look for (default: $OS_CLOUD, or the "
                   "only cloud)");
  disc->add_option("--clouds-file", options.clouds_file,
                   "clouds.yaml to read (default: the openstack CLI's search path)");
  disc->add_option("--secure-file", options.secure_file, "secure.yaml to read");
  disc->add_option("--s3-endpoint", options.s3_endpoint,
                   "s3_endpoint of the proposed profiles (default: the catalog's s3 endpoint)");
  disc->add_option("--root", options.root,
                   "Look at the host tree mounted here instead of / (its etc/passwd, homes and "
                   "unit files); units found there are not reloaded by the proposal")
      ->check(CLI::ExistingDirectory);
  disc->add_option("--python", options.python_files,
                   "A boto3 script that passes the key inline (repeatable)")
      ->check(CLI::ExistingFile);
  disc->add_flag("--write", options.write,
                 "Also create the drop-in (never replaces an existing file)");
  disc->add_option("-o,--output", options.output,
                   "Path of the drop-in (default /etc/credrotd/credrotd.d/discovered.toml; "
                   "--user: ~/.config/credrotd/credrotd.d/discovered.toml)");

  try {
    app.parse(argc, argv);
    if (rotate->parsed() && options.all == !options.profiles.empty()) {
      throw CLI::ValidationError("rotate", "give one or more profiles, or --all");
    }
    for (const auto& file : options.python_files) {
      if (file.empty() || file.front() != '/') {
        throw CLI::ValidationError("--python", "give an absolute path: " + file);
      }
    }
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? ctl::exit_ok : ctl::exit_usage;
  }
  for (const auto& [sub, run] : commands) {
    if (sub->parsed()) {
      return ctl::run_reporting_failures(run, options);
    }
  }
  return ctl::exit_usage;
}
