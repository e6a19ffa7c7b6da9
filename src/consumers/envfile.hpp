// SPDX-License-Identifier: Apache-2.0
// Environment files (systemd EnvironmentFile=, dotenv, `set -a; . file`): two variables,
// read with systemd 252's own rules (parse_env_file_internal + load_env_file).
//
// systemd: '#'/';' lines are comments (a trailing backslash continues them), values may be
// '...' (literal) or "..." (\" \\ \` \$ escapes) or unquoted (backslash escapes, trailing
// blanks dropped), no $VAR expansion, no `export`. A key or value that is not UTF-8 makes
// systemd reject the whole file. An `export NAME=` line, which systemd ignores but a shell
// needs, is treated as an assignment of NAME so that shell users keep working.
#pragma once

#include "consumers/format.hpp"
#include "consumers/spec.hpp"

#include <string>

namespace credrotd::consumers::envfile {

struct Options {
  std::string access_key_var = "AWS_ACCESS_KEY_ID";
  std::string secret_key_var = "AWS_SECRET_ACCESS_KEY";
};

// The two variables' values, nullopt when neither is assigned. Errc::parse (file:line:column)
// for a file systemd rejects (invalid UTF-8 in a key or value), a variable assigned twice, an
// assignment hidden by the byte order mark, or only one of the two.
core::Result<std::optional<FoundKey>> read(const Source& source, const Options& options);

// `source` with both variables holding the new values (appended when missing); a quoted
// value stays quoted the same way. Every other byte unchanged. Same errors as read().
core::Result<Content> render(const Source& source, const Options& options,
                             std::string_view access_id, const core::Secret& secret);

// A new file with the two assignments.
core::Result<Content> create(const Options& options, std::string_view access_id,
                             const core::Secret& secret);

// Errc::config when `name` is not a variable name systemd keeps ([A-Za-z_][A-Za-z0-9_]*).
core::Status check_variable_name(std::string_view option, std::string_view name);

} // namespace credrotd::consumers::envfile
