// SPDX-License-Identifier: Apache-2.0
// Paths under the root directory discovery looks at, the users of its passwd database, reading
// the small files that hold no secret (unit files, /etc/passwd), and trimming their lines.
#pragma once

#include "core/error.hpp"
#include "core/text.hpp"

#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

namespace credrotd::discover {

// `path` (absolute) as seen from this host when the host being looked at is mounted at `root`:
// `path` itself for root "/", else root + path.
std::string under_root(std::string_view root, std::string_view path);

// `s` without leading and trailing spaces, tabs and carriage returns.
inline std::string_view trim(std::string_view s)
{
  return core::trim(s, " \t\r");
}

// A file's whole text, at most 1 MiB. Errc::io (naming the file) when it cannot be read,
// Errc::unsafe when it is larger.
core::Result<std::string> read_small_file(const std::string& path);

struct User {
  std::string name;
  uid_t uid = 0;
  std::string home; // as the passwd database says (not under the root)
};

// The entries of a passwd(5) text, in order; lines that are not 7 ':'-separated fields with a
// numeric uid are skipped.
std::vector<User> parse_passwd(std::string_view text);

// The users of the host at `root`: getpwent() (NSS: files, LDAP...) for "/", else the root's
// etc/passwd file. Errc::io when that file cannot be read.
core::Result<std::vector<User>> users(const std::string& root);

// Creates `path` holding `text` (mode 0644: a drop-in holds no secret), never replacing a file:
// a temp file in the same directory, written and fsynced, renamed with RENAME_NOREPLACE, then
// the directory fsynced. Errc::conflict when `path` exists; Errc::io naming the file otherwise.
core::Status write_new_file(const std::string& path, std::string_view text);

} // namespace credrotd::discover
