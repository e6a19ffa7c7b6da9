// SPDX-License-Identifier: Apache-2.0
// The entry points the engine calls for one consumer: which key its file holds today, and
// rewrite it with a new key.
#pragma once

#include "consumers/spec.hpp"
#include "consumers/writer.hpp"

#include <optional>
#include <string_view>

namespace credrotd::consumers {

// The key `spec.path` holds today, as its client reads it; nullopt when the file does not
// exist or names no key (so a first run can adopt a key written by hand, or start fresh).
// Errors: check_spec()'s; resolve()'s (Errc::unsafe for a path a user could redirect);
// Errc::parse naming file:line:column for a file the client would reject or that credrotd
// will not guess about; Errc::unsafe for an encrypted rclone config; Errc::not_found for a
// missing rclone remote or template.
core::Result<std::optional<KeyInFile>> read_key(const ConsumerSpec& spec);

// Reads `spec.path`, renders it with the new key (only the key values change), and writes
// it through rewrite_file() (which first removes the temp files a crash left). Rolling back is
// apply() with the old key, re-read from Keystone: no copy of a secret is ever kept on disk. A file
// that does not exist is created (mode `spec.mode`, the directory's owner and group) for s3fs,
// envfile and template, and for aws-credentials with create_profile; s3cmd and rclone need the file
// (Errc::not_found). Same errors as read_key(), plus rewrite_file()'s.
core::Result<WriteReport> apply(const ConsumerSpec& spec, std::string_view access_id,
                                const core::Secret& secret);

} // namespace credrotd::consumers
