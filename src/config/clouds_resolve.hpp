// SPDX-License-Identifier: Apache-2.0
// Private to src/config: one cloud's settings resolved as the openstack CLI resolves them.
#pragma once

#include "config/yaml_tree.hpp"
#include "core/cloud.hpp"
#include "core/error.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace credrotd::config::detail {

// Where a yaml::Node came from (yaml::Mark::origin).
enum Origin : std::uint8_t { clouds_file, secure_file, environment, defaults };

// A cloud to resolve: its name, where it is defined ("clouds.yaml:3:3" or "the OS_*
// environment variables"), and how to name the place of a node in messages.
struct CloudSource {
  std::string name;
  std::string where;
  bool from_env = false; // fields are then named OS_AUTH_URL, ...
  std::string home;      // for ~ in cacert/cert/key
  std::function<std::string(const yaml::Mark&)> locate;
};

// The openstack loader's steps on one cloud (openstacksdk 0.101 get_one(): defaults, the first
// region, the legacy-key fixes, keystoneauth1 5.0's option lists) and credrotd's own checks,
// as CloudsConfig::resolve() documents them. Warnings go to `warnings` when it is given.
core::Result<core::CloudAuth> resolve_cloud(const yaml::Node& cloud, const CloudSource& source,
                                            std::vector<std::string>* warnings);

// Python's str.format(**config) for the plain "{name}" fields the openstack loader expands
// (auth_url: "https://{region_name}.example.org:5000/v3"); nullopt for any other field syntax.
std::optional<std::string> format_fields(std::string_view text, const yaml::Node& config);

struct AuthPlugin;

// The resolution of one cloud: Python-like dicts walked through the openstack loader's steps
// (clouds_resolve.cpp), then read into a CloudAuth with credrotd's checks (clouds_auth.cpp).
class Resolver {
public:
  Resolver(const CloudSource& source, std::vector<std::string>* warnings)
      : m_source(source), m_from_env(source.from_env), m_warnings(warnings)
  {}

  core::Result<core::CloudAuth> run(const yaml::Node& cloud);

private:
  // "cloud 'x' (clouds.yaml:3:3)".
  std::string subject() const
  {
    return fmt::format("cloud '{}' ({})", m_source.name, m_source.where);
  }
  core::Error failure(std::string_view what) const
  {
    return core::make_error(core::Errc::config, fmt::format("{}: {}", subject(), what));
  }
  // The name of a field as the operator wrote it: OS_AUTH_URL for the environment's cloud.
  std::string field(std::string_view key) const
  {
    std::string upper(key);
    std::transform(upper.begin(), upper.end(), upper.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    return m_from_env ? "OS_" + upper : std::string(key);
  }
  void problem(std::string text) { m_problems.push_back(std::move(text)); }
  void warn(std::string_view text)
  {
    if (m_warnings != nullptr) {
      m_warnings->push_back(fmt::format("{}: {}", subject(), text));
    }
  }
  // " (file:line:column)" of a node; nothing for the environment, where field() says it all.
  std::string at(const yaml::Node& node) const
  {
    const std::string place = node.mark.origin == environment ? "" : m_source.locate(node.mark);
    return place.empty() ? std::string() : " (" + place + ")";
  }

  // The loader's steps on m_config/m_auth; the auth type of the plugin they name.
  core::Result<core::AuthType> openstack_steps(const yaml::Node& cloud);
  core::Status apply_region();
  void magic_fixes();
  void fix_backwards_project();
  void handle_domain_id();
  void validate_auth(const AuthPlugin& plugin);
  std::string text_field(const yaml::Node& parent, std::string_view key,
                         bool required_string = true);
  core::Secret secret_field(std::string_view key);
  void connection_settings(core::CloudAuth& out);
  void required_fields(const core::CloudAuth& out);

  const CloudSource& m_source;
  bool m_from_env;
  std::vector<std::string>* m_warnings;
  yaml::Node m_config; // the cloud's top level, without `auth`
  yaml::Node m_auth;   // config['auth'], kept apart so that no pointer into m_config dangles
  std::vector<std::string> m_problems;
};

} // namespace credrotd::config::detail
