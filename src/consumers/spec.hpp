// SPDX-License-Identifier: Apache-2.0
// ConsumerSpec: one configured consumer file, as the config loader hands it to src/consumers.
#pragma once

#include "core/config.hpp"
#include "core/error.hpp"
#include "core/secret.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace credrotd::consumers {

// The file formats credrotd rewrites (core::ConsumerType, shared with the configuration);
// the spelling in credrotd.toml is core::to_string().
using ConsumerType = core::ConsumerType;

// What to do with a session token next to the rotated key (aws_session_token and
// aws_security_token in an AWS profile, access_token in an s3cmd file). Keystone EC2
// credentials have none, and a stale token would be sent with the new key.
using SessionToken = core::SessionTokenPolicy;

// One consumer, with the options of credrotd.toml. Options that do not apply to `type`
// are ignored.
struct ConsumerSpec {
  ConsumerType type = ConsumerType::s3cmd;
  std::string path; // absolute

  std::string profile = "default"; // aws-credentials: the [section] of the key
  bool create_profile = false;     // aws-credentials: add the section, and the file, if missing
  SessionToken session_token = SessionToken::remove; // aws-credentials, s3cmd
  std::string remote;                                // rclone: the [section]; required
  std::string bucket; // s3fs: rewrite "bucket:ACCESS:SECRET"; "" = the "ACCESS:SECRET" line
  std::string access_key_var = "AWS_ACCESS_KEY_ID";     // envfile
  std::string secret_key_var = "AWS_SECRET_ACCESS_KEY"; // envfile
  std::string template_path;          // template: the file with {{access_key}} / {{secret_key}}
  std::string url;                    // cyberduck: "https://host[:port]" of the logins
  std::vector<std::string> bookmarks; // cyberduck: bookmarks whose Username follows the key

  std::uint32_t mode = 0600; // permission bits of a file credrotd creates; an existing file
                             // keeps its own (s3fs files lose group/other bits)
  bool in_place = false;     // overwrite the file's own inode instead of temp file + rename;
                             // for single-file bind mounts, where rename fails with EBUSY
};

// The inverse of core::to_string(ConsumerType); nullopt for an unknown name.
std::optional<ConsumerType> parse_consumer_type(std::string_view name) noexcept;

// The spec of a configured consumer (credrotd.toml's [[profile.NAME.consumer]]).
ConsumerSpec to_spec(const core::Consumer& consumer);

// Checks the options of `spec` without touching the file system: absolute path, required
// options present, names the format can hold. Errc::config naming the option on failure.
core::Status check_spec(const ConsumerSpec& spec);

// The key a consumer file holds.
struct KeyInFile {
  std::string access_id;
  core::Secret secret;
  std::string path;       // the file read: `spec.path`, or the target of a followed symlink
  std::uint32_t line = 0; // line of the access id
};

} // namespace credrotd::consumers
