// SPDX-License-Identifier: Apache-2.0
// Reading a secret (password, application credential secret, token) from its own file.
#pragma once

#include "core/error.hpp"
#include "core/secret.hpp"

#include <string>

namespace credrotd::config {

// Reads the secret in `path`: a regular file (symlinks are followed) that is not readable
// by group or others, holding the secret on one line; one trailing "\n" or "\r\n" is
// dropped. Every buffer that held the content is wiped.
// Errors (messages name the file, never the content):
// - Errc::io: the file cannot be opened or read;
// - Errc::unsafe: it is readable by group or others ("chmod 600 FILE"), or not a regular file;
// - Errc::config: it is empty, or holds more than one line.
core::Result<core::Secret> read_secret_file(const std::string& path);

} // namespace credrotd::config
