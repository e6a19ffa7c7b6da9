// SPDX-License-Identifier: Apache-2.0
// `credrotd --dry-run`: what a rotation of each profile would do, from its files and the state.
#pragma once

#include "core/config.hpp"
#include "engine/ports.hpp"
#include "engine/state_port.hpp"

#include <memory>
#include <ostream>
#include <string>
#include <vector>

namespace credrotd::engine {

// One profile as the dry run shows it: what its configuration says, described by the caller,
// and its consumer files behind the port.
struct DryRunProfile {
  std::string name;
  std::string location; // where the configuration defines it (file:line)
  bool enabled = true;
  // "alice at https://keystone:5000/v3, project demo", or why the identity does not resolve.
  Result<std::string> identity = std::string();
  core::CreateMethodChoice create_method = core::CreateMethodChoice::auto_;
  std::string s3_endpoint;
  std::vector<std::string> unit_actions; // "reload web.service", each unit once
  std::string grace;                     // as the configuration would write it: "1h"
  std::shared_ptr<ConsumersPort> consumers;
};

// Prints, for each profile, its identity, the key each consumer file holds, which key the
// next rotation replaces (the managed one, or the one it would adopt from the files), its
// steps and its next due time. `state` is null before the first run. Reads the files through
// the port; contacts nothing, changes nothing. Returns false when an identity or a file could
// not be read (printed as ERROR in its place).
bool print_dry_run(const std::vector<DryRunProfile>& profiles, const StatePort* state,
                   std::ostream& out);

} // namespace credrotd::engine
