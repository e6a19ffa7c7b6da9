// SPDX-License-Identifier: Apache-2.0
// Private to src/config: one cloud's settings resolved as the openstack CLI resolves them.
#pragma once

#include "config/yaml_tree.hpp"
#include "core/cloud.hpp"
#include "core/error.hpp"

#include <cstdint>
#include <functional>
#include <string>
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

} // namespace credrotd::config::detail
