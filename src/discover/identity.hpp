// SPDX-License-Identifier: Apache-2.0
// What Keystone tells one identity about itself and its EC2 keys, for discovery (no secret).
#pragma once

#include "core/cloud.hpp"
#include "core/error.hpp"

#include <chrono>
#include <string>
#include <vector>

namespace credrotd::discover {

struct KeystoneKey {
  std::string access;
  std::string project_id;
};

struct IdentityView {
  std::string cloud; // the clouds.yaml cloud discovery asked as
  std::string user_id;
  std::string user_name;
  std::string project_id; // the token's project
  std::string project_name;
  std::vector<KeystoneKey> keys; // the user's own EC2 keys, every project
  std::string s3_endpoint;       // the catalog's "s3" endpoint for the cloud's interface and
                                 // region; "" when the catalog has none
};

// Authenticates `auth` and lists the EC2 credentials Keystone shows it as their owner
// (GET /v3/users/{user}/credentials/OS-EC2: only the user's own, even for an admin). The
// secrets Keystone returns are wiped at once. Runs its own event loop; every call together
// must finish within `budget`. Errors: keystone::Client's (auth_rejected, forbidden,
// transient, timeout, tls, protocol, config).
core::Result<IdentityView> ask_keystone(core::CloudAuth auth, std::chrono::seconds budget);

} // namespace credrotd::discover
