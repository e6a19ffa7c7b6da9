// SPDX-License-Identifier: Apache-2.0
// rclone.conf: access_key_id and secret_access_key of one remote, read as rclone 1.60 reads
// them (github.com/Unknwon/goconfig with rclone's encryption check in front).
//
// An encrypted config (its first line that is not blank or a comment starts with
// RCLONE_ENCRYPT_V) is refused: credrotd never asks for the password.
#pragma once

#include "consumers/format.hpp"
#include "consumers/spec.hpp"

#include <string>

namespace credrotd::consumers::rclone {

struct Options {
  std::string remote; // the [section] name
};

// The key of the remote, nullopt when it has neither key (rclone then uses env_auth or no
// key). Errc::unsafe for an encrypted config; Errc::not_found when the remote is missing;
// Errc::parse (file:line:column) for a line rclone cannot parse (it then refuses every
// command), a key set twice in the remote, a value using %(name)s interpolation, or a half
// key.
core::Result<std::optional<FoundKey>> read(const Source& source, const Options& options);

// `source` with the remote's access_key_id and secret_access_key set (added after the
// remote's last key when missing); every other byte unchanged. Same errors as read().
core::Result<Content> render(const Source& source, const Options& options,
                             std::string_view access_id, const core::Secret& secret);

// Errc::config when `remote` cannot name an rclone remote section.
core::Status check_remote_name(std::string_view remote);

} // namespace credrotd::consumers::rclone
