// SPDX-License-Identifier: Apache-2.0
// s3cmd's ~/.s3cfg: access_key, secret_key and access_token, read as S3/Config.py does.
//
// s3cmd ignores section names: every `key = value` line of every section lands in one
// namespace and the last occurrence wins. credrotd refuses a file that sets access_key,
// secret_key or access_token twice instead of guessing which one the operator meant.
#pragma once

#include "consumers/format.hpp"
#include "consumers/spec.hpp"

namespace credrotd::consumers::s3cmd {

struct Options {
  SessionToken session_token = SessionToken::remove; // clear a non-empty access_token
};

// The key the file gives s3cmd, nullopt when it sets neither access_key nor secret_key (s3cmd
// then falls back to the environment). Errc::parse naming file:line:column for a file s3cmd
// rejects (invalid UTF-8), a duplicated key, a key hidden by the byte order mark, a value
// taken from the environment (`$VAR`), or only one of the two keys.
core::Result<std::optional<FoundKey>> read(const Source& source);

// `source` with access_key and secret_key set to the new values (added when missing) and,
// by default, access_token emptied; every other byte unchanged. Same errors as read().
core::Result<Content> render(const Source& source, const Options& options,
                             std::string_view access_id, const core::Secret& secret);

} // namespace credrotd::consumers::s3cmd
