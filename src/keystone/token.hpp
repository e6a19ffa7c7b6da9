// SPDX-License-Identifier: Apache-2.0
// Keystone v3 tokens: the auth request for a CloudAuth, and what a token response says.
#pragma once

#include "core/cloud.hpp"
#include "core/error.hpp"
#include "core/secret.hpp"

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

namespace credrotd::keystone {

struct Endpoint {
  std::string service_type; // "identity", "object-store", "s3", ...
  std::string service_name; // "keystone", "swift", ...
  std::string interface;    // "public", "internal", "admin"
  std::string region;       // region_id, or the older "region"
  std::string url;
};

// What Keystone said about an authenticated identity. Holds no secret.
struct TokenInfo {
  std::string user_id;
  std::string user_name;
  std::string user_domain_id;
  std::string project_id;
  std::string project_name;
  std::string project_domain_id;
  std::vector<std::string> roles;        // role names
  std::vector<std::string> methods;      // "password", "application_credential", "token", ...
  std::string application_credential_id; // set for application-credential tokens
  std::chrono::system_clock::time_point issued_at{};
  std::chrono::system_clock::time_point expires_at{};
  std::vector<Endpoint> catalog;

  bool has_role(std::string_view name) const; // case-insensitive
  bool has_method(std::string_view method) const;

  // The URL of the catalog endpoint for `service_type` and `interface`, in `region` (empty:
  // any region; the first listed wins). Errors: Errc::not_found, listing what the catalog
  // offers for that service so the operator can fix region_name or interface.
  core::Result<std::string> endpoint_url(std::string_view service_type, core::Interface interface,
                                         std::string_view region = {}) const;
};

std::string_view to_string(core::Interface interface) noexcept;

// The Keystone v3 base URL ("https://keystone:5000/v3") for an auth_url given with or
// without "/v3" (or with the legacy "/v2.0"). Errors: Errc::config when it is not an http(s)
// URL; the message names `source`.
core::Result<std::string> identity_base(std::string_view auth_url, std::string_view source);

// The body of POST /v3/auth/tokens for `auth`, scoped to its project (application
// credentials carry their own scope). Errors: Errc::config naming the cloud and the missing
// field (no project, a user name without a domain, an empty secret, ...) or the field that is
// not UTF-8 text.
core::Result<core::WipingString> auth_request_body(const core::CloudAuth& auth);

// Parses the body of a token response. Errors: Errc::protocol when it is not JSON or lacks
// the token, user or expiry; the message never quotes the body.
core::Result<TokenInfo> parse_token(std::string_view body);

// Parses Keystone's ISO 8601 times ("2024-05-01T12:00:00.000000Z", "...+00:00").
core::Result<std::chrono::system_clock::time_point> parse_time(std::string_view text);

} // namespace credrotd::keystone
