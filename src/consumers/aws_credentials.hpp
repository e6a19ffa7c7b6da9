// SPDX-License-Identifier: Apache-2.0
// The AWS shared credentials file (~/.aws/credentials), read as botocore reads it: Python's
// configparser.RawConfigParser in strict mode, then botocore's nested-value parsing.
//
// botocore rejects the whole file (ConfigParseError) on a duplicate section or key, keys
// before the first section, a line it cannot parse, a byte order mark or invalid UTF-8.
// credrotd refuses such a file with the line and column instead of writing a file that no
// profile of it can be read from.
#pragma once

#include "consumers/format.hpp"
#include "consumers/spec.hpp"

#include <string>

namespace credrotd::consumers::aws_credentials {

struct Options {
  std::string profile = "default";                   // the [section] name, case-sensitive
  bool create_profile = false;                       // add the section when it is missing
  SessionToken session_token = SessionToken::remove; // drop aws_session_token/security_token
};

// The key of `options.profile`, nullopt when the section is missing or has neither key.
// Errc::parse (file:line:column) for a file botocore rejects, a [DEFAULT] section holding
// credential keys (every profile would inherit them), a key continued on an indented line,
// or a half key.
core::Result<std::optional<FoundKey>> read(const Source& source, const Options& options);

// `source` with the profile's aws_access_key_id and aws_secret_access_key set (added when
// missing), its token lines removed unless kept, and the section appended when missing and
// create_profile is set (Errc::not_found otherwise). Every other byte unchanged.
core::Result<Content> render(const Source& source, const Options& options,
                             std::string_view access_id, const core::Secret& secret);

// A new file holding only the profile (create_profile, when the file does not exist).
core::Result<Content> create(const Options& options, std::string_view access_id,
                             const core::Secret& secret);

// Errc::config when `profile` cannot be a botocore profile section name.
core::Status check_profile_name(std::string_view profile);

} // namespace credrotd::consumers::aws_credentials
