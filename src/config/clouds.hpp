// SPDX-License-Identifier: Apache-2.0
// clouds.yaml, secure.yaml and OS_* variables, read the way the openstack CLI reads them.
#pragma once

#include "config/environment.hpp"
#include "config/yaml_tree.hpp"
#include "core/cloud.hpp"
#include "core/error.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace credrotd::config {

// Explicit files ([daemon] clouds_file / secure_file). An empty member means "search like
// the openstack CLI": $OS_CLIENT_CONFIG_FILE (resp. $OS_CLIENT_SECURE_FILE) first, then
// clouds.{yaml,yml,json} (resp. secure.*) in each of clouds_search_dirs().
struct CloudsFiles {
  std::string clouds_file;
  std::string secure_file;
};

// One YAML file's content, as handed to the pure parser.
struct YamlDocument {
  std::string path;
  std::string text;                  // wiped by parse_clouds() once parsed
  std::optional<std::uint32_t> mode; // st_mode & 07777 when known (permission warnings)
};

// What load_clouds() found on disk: the input of the pure parse_clouds().
struct CloudsInput {
  std::optional<YamlDocument> clouds;         // the first existing clouds file, if any
  std::optional<YamlDocument> secure;         // the first existing secure file, if any
  std::vector<std::string> clouds_candidates; // every path tried, in order (for messages)
  std::vector<std::string> secure_candidates;
  HostEnvironment env;               // OS_* variables make the `envvars` cloud
  std::vector<std::string> warnings; // e.g. a candidate skipped because it is unreadable
};

// The merged clouds.yaml + secure.yaml + environment. Cheap to query; resolving a cloud
// re-applies the openstack loader's fixes each time (they are pure).
class CloudsConfig {
public:
  // Resolves one cloud as openstack.config.OpenStackConfig().get_one(name) would: defaults
  // (auth_type password, interface public), the cloud's first region, the legacy-key fixes
  // (tenant_* → project_*, auth_token → token, endpoint_type → interface, domain_* →
  // user/project domains, auth_plugin → auth_type, top-level auth options moved into auth),
  // ints as strings, insecure → verify. An empty `name` means the default cloud ($OS_CLOUD,
  // else the `envvars` cloud when OS_* variables are set, else the only cloud).
  // Errors (Errc::config; messages name file:line and never contain a secret):
  // - the cloud does not exist (the message lists the files searched and the clouds found);
  // - an unsupported auth type, a domain- or system-scoped cloud, a vendor `profile`;
  // - a required field is missing for the auth type (the message says what to add);
  // - a field has the wrong type (verify: "no"), or an unknown interface.
  // Warnings for this cloud (ignored fields, deprecated forms) are appended to `warnings`
  // when it is given.
  core::Result<core::CloudAuth> resolve(std::string_view name,
                                        std::vector<std::string>* warnings = nullptr) const;

  // The cloud names in file order, plus the environment's cloud when OS_* variables are set.
  std::vector<std::string> cloud_names() const;
  // The cloud resolve("") picks, or "" when there is none.
  std::string default_cloud() const;
  // Where the clouds came from: "clouds file /etc/openstack/clouds.yaml, secure file (none);
  // searched: ./clouds.yaml, ...". For "cloud not found" and --check-config.
  std::string describe_sources() const;

  const std::string& clouds_file() const { return m_clouds_file; } // "" when none
  const std::string& secure_file() const { return m_secure_file; } // "" when none
  // Load-time warnings: unreadable candidates skipped, files holding secrets readable by
  // group/other, files writable by group/other, duplicate keys.
  const std::vector<std::string>& warnings() const { return m_warnings; }

private:
  friend core::Result<CloudsConfig> parse_clouds(CloudsInput input);

  // Parses one file, checks its shape and its mode (warnings), and wipes its text.
  core::Result<yaml::Node> take(YamlDocument& document, std::uint8_t origin);
  // "file:line:column" of a node, "the environment", or "" when unknown.
  std::string where(const yaml::Mark& mark) const;

  yaml::Node m_clouds;                   // name → cloud mapping, secure.yaml merged in
  std::optional<yaml::Node> m_env_cloud; // built from OS_* variables
  std::string m_env_cloud_name = "envvars";
  std::string m_default_cloud;
  std::string m_clouds_file;
  std::string m_secure_file;
  std::vector<std::string> m_clouds_candidates;
  std::vector<std::string> m_secure_candidates;
  std::vector<std::string> m_warnings;
  std::string m_home; // for ~ in cacert/cert/key
};

// The pure step: parses and merges the documents (secure.yaml deep-merged over clouds.yaml,
// as openstack's _util.merge_clouds), builds the `envvars` cloud from OS_* variables (except
// OS_TEST*, OS_STD*, OS_LOG*, and only when a variable other than the selectors OS_CLOUD,
// OS_REGION_NAME, OS_CLIENT_CONFIG_FILE, OS_CLIENT_SECURE_FILE, OS_CLOUD_NAME is set).
// Errors: Errc::parse for YAML errors ("file:line:column: ..."); Errc::config when a file's
// top level is not a mapping or a file defines the cloud named like the environment's cloud.
core::Result<CloudsConfig> parse_clouds(CloudsInput input);

// The openstack CLI's CONFIG_SEARCH_PATH for `env`: cwd, $XDG_CONFIG_HOME/openstack (or
// ~/.config/openstack), ~/.config/openstack (or $SNAP_REAL_HOME/.config/openstack),
// $XDG_CONFIG_DIRS/openstack (default /etc/xdg/openstack), /etc/openstack.
std::vector<std::string> clouds_search_dirs(const HostEnvironment& env);

// The candidate files, in the order the openstack CLI tries them: `override_file` alone when
// given, else $OS_CLIENT_CONFIG_FILE (resp. $OS_CLIENT_SECURE_FILE) then
// <dir>/<stem>.{yaml,yml,json} for each search dir. `stem` is "clouds" or "secure".
std::vector<std::string> clouds_candidates(const HostEnvironment& env, std::string_view stem,
                                           const std::string& override_file);

// Finds and reads the files (the first existing candidate of each kind; an unreadable one is
// skipped with a warning, as the openstack CLI skips it silently), then parse_clouds().
// An explicit file in `files` must exist and be readable (Errc::io otherwise).
core::Result<CloudsConfig> load_clouds(const HostEnvironment& env, const CloudsFiles& files = {});

} // namespace credrotd::config
