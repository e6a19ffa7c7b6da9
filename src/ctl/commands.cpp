// SPDX-License-Identifier: Apache-2.0
// credrotctl's commands but rotate: the D-Bus queries, check-config and discover.
#include "config/clouds.hpp"
#include "config/environment.hpp"
#include "ctl/client.hpp"
#include "ctl/ctl.hpp"
#include "ctl/render.hpp"
#include "discover/identity.hpp"
#include "discover/paths.hpp"
#include "discover/proposal.hpp"
#include "discover/report.hpp"
#include "discover/scan.hpp"

#include <boost/json/serialize.hpp>
#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <sys/wait.h>
#include <unistd.h>

namespace credrotd::ctl {

namespace json = boost::json;

namespace {

void print_json(const json::value& v)
{
  std::cout << json::serialize(v) << "\n";
}

// The credrotd installed beside this credrotctl (a build tree), else the packaged one.
std::string find_credrotd()
{
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const auto beside = self.parent_path() / "credrotd";
    if (::access(beside.c_str(), X_OK) == 0) {
      return beside.string();
    }
  }
  return "/usr/sbin/credrotd";
}

} // namespace

int status(const Options& options)
{
  Client client(options);
  std::vector<Dict> profiles;
  if (options.profiles.empty()) {
    client.call("ListProfiles", std::tuple<>{}, profiles);
  } else {
    for (const auto& name : options.profiles) {
      Dict d;
      client.call("GetProfile", std::tuple<std::string>{name}, d);
      profiles.push_back(std::move(d));
    }
  }
  const Dict properties = client.properties();
  if (options.json) {
    print_json(status_json(profiles, properties));
  } else {
    std::cout << status_text(profiles);
  }
  return exit_ok;
}

int history(const Options& options)
{
  Client client(options);
  const std::string& profile = options.profiles.front();
  std::vector<Dict> rows;
  client.call("History", std::tuple<std::string, std::uint32_t>{profile, options.limit}, rows);
  if (options.json) {
    print_json(json::object{{"profile", profile}, {"rotations", to_json(rows)}});
  } else {
    std::cout << history_text(profile, rows);
  }
  return exit_ok;
}

int keys(const Options& options)
{
  Client client(options);
  const std::string& profile = options.profiles.front();
  std::vector<Dict> keys;
  client.call("Keys", std::tuple<std::string>{profile}, keys);
  if (options.json) {
    print_json(json::object{{"profile", profile}, {"keys", to_json(keys)}});
  } else {
    std::cout << keys_text(keys);
  }
  return exit_ok;
}

int verify(const Options& options)
{
  Client client(options);
  const std::string& profile = options.profiles.front();
  std::string result;
  std::string detail;
  client.call("Verify", std::tuple<std::string>{profile}, result, detail);
  if (options.json) {
    print_json(json::object{{"profile", profile}, {"result", result}, {"detail", detail}});
  } else {
    std::cout << profile << ": " << result << (detail.empty() ? "" : ": " + detail) << "\n";
  }
  return result == "accepted" ? exit_ok : exit_failed;
}

int reload(const Options& options)
{
  Client client(options);
  client.call("Reload", std::tuple<>{});
  return exit_ok;
}

int check_config(const Options& options)
{
  const std::string program = find_credrotd();
  std::vector<std::string> args = {program, "--check-config"};
  if (!options.config_file.empty()) {
    args.push_back("--config");
    args.push_back(options.config_file);
  }
  if (options.user) {
    args.emplace_back("--user");
  }
  std::cout << std::flush;
  const pid_t pid = ::fork();
  if (pid < 0) {
    throw Failure{exit_failed, std::string("fork: ") + std::strerror(errno)};
  }
  if (pid == 0) {
    std::vector<char*> argv;
    for (auto& a : args) {
      argv.push_back(a.data());
    }
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    std::cerr << "credrotctl: cannot run " << program << ": " << std::strerror(errno) << "\n";
    ::_exit(127);
  }
  int wstatus = 0;
  while (::waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0) {
    return exit_ok;
  }
  if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 64) {
    return exit_usage;
  }
  return exit_failed;
}

// Talks to Keystone only, never to credrotd; reads files, and writes nothing but the new
// drop-in.
int discover(const Options& options)
{
  const auto env = config::current_host_environment();
  auto clouds =
      config::load_clouds(env, config::CloudsFiles{options.clouds_file, options.secure_file});
  if (!clouds) {
    throw Failure{exit_failed, clouds.error().message};
  }
  std::vector<std::string> warnings = clouds->warnings();
  auto auth = clouds->resolve(options.cloud, &warnings);
  if (!auth) {
    throw Failure{exit_failed, auth.error().message};
  }
  for (const auto& w : warnings) {
    std::cerr << "credrotctl: warning: " << w << "\n";
  }
  const std::string cloud = auth->name;
  const auto identity =
      discover::ask_keystone(std::move(*auth), std::chrono::seconds(options.timeout_s));
  if (!identity) {
    throw Failure{exit_failed,
                  fmt::format("Keystone, as cloud {}: {}", cloud, identity.error().message)};
  }
  // Consumer paths must be absolute: a relative --root is taken from the working directory.
  const std::string root = std::filesystem::absolute(options.root).lexically_normal().string();
  const auto scan = discover::scan(discover::ScanOptions{root, options.python_files});
  if (!scan) {
    throw Failure{exit_failed, scan.error().message};
  }
  discover::ProposalOptions proposal_options;
  proposal_options.s3_endpoint =
      options.s3_endpoint.empty() ? identity->s3_endpoint : options.s3_endpoint;
  if (proposal_options.s3_endpoint.empty()) {
    throw Failure{exit_usage, fmt::format("the catalog of cloud {} has no s3 endpoint: give the "
                                          "S3 endpoint with --s3-endpoint",
                                          cloud)};
  }
  const auto mode = options.user ? config::RunMode::user : config::RunMode::system;
  proposal_options.dropin_path =
      !options.output.empty()
          ? options.output
          : config::default_config_paths(env, mode).dropin_dir + "/discovered.toml";
  proposal_options.reload_units = discover::under_root(root, "/") == "/"
                                      ? discover::ReloadUnits::yes
                                      : discover::ReloadUnits::no;
  const auto proposal = discover::propose(*scan, *identity, proposal_options);
  if (options.write) {
    if (const auto written =
            discover::write_new_file(proposal_options.dropin_path, proposal.dropin);
        !written) {
      throw Failure{exit_failed, written.error().message};
    }
  }
  if (options.json) {
    auto doc = discover::to_json(proposal, *identity, proposal_options);
    doc["written"] = options.write;
    print_json(doc);
  } else {
    std::cout << proposal.dropin;
  }
  if (options.write) {
    std::cerr << fmt::format("credrotctl: wrote {} ({} profiles); check it with credrotd "
                             "--check-config\n",
                             proposal_options.dropin_path, proposal.profiles);
  }
  return exit_ok;
}

int run_reporting_failures(int (*command)(const Options&), const Options& options)
{
  try {
    return command(options);
  } catch (const Failure& f) {
    std::cerr << "credrotctl: " << f.message << "\n";
    return f.status;
  } catch (const sdbus::Error& e) {
    const auto f = failure_of(e);
    std::cerr << "credrotctl: " << f.message << "\n";
    return f.status;
  } catch (const std::exception& e) {
    std::cerr << "credrotctl: " << e.what() << "\n";
    return exit_failed;
  }
}

} // namespace credrotd::ctl
