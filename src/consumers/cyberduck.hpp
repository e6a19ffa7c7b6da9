// SPDX-License-Identifier: Apache-2.0
// Cyberduck's duck CLI on Linux: the password store ~/.duck/credentials (java.util.Properties,
// one line per login "scheme://user@host:port=password"; for S3 the user is the access key
// and the password the secret) and the bookmarks ~/.duck/bookmarks/*.duck (XML plists whose
// Username is the access key; no secret in them).
//
// duck looks a password up as UnsecureHostPasswordStore.getPassword(scheme, port, host, user)
// does: Properties.getProperty(String.format("%s://%s@%s:%d", ...)), so a rotation renames the
// property, and the bookmarks that name the old access key must follow.
#pragma once

#include "consumers/format.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace credrotd::consumers::cyberduck {

// Where the key is used: the scheme, host and port of the S3 endpoint as duck names them.
struct Login {
  std::string scheme; // "https" or "http"
  std::string host;
  std::uint16_t port = 443;
};

// "https://s3.example.org" or "http://host:8080" (no path, user or query). Errc::config.
core::Result<Login> parse_url(std::string_view url);

// The property key of `user`'s password: "https://ACCESS@s3.example.org:443".
std::string property_key(const Login& login, std::string_view user);

// Every login of the credentials file for `login`'s scheme, host and port (one per user,
// the last line of a repeated key, as Java reads it), in file order. Errc::parse for a file
// Properties.load refuses.
core::Result<std::vector<FoundKey>> logins(const Source& credentials, const Login& login);

// The key duck uses: the password of `user` when given (nullopt if it has none), else the
// only login for the host (nullopt when there is none; Errc::parse naming the lines when
// there are several: duck's choice then depends on the bookmark or --username).
core::Result<std::optional<FoundKey>> read(const Source& credentials, const Login& login,
                                           std::optional<std::string_view> user);

enum class OtherLogins { keep, remove };

// `credentials` with the new login's line set ("scheme\://ACCESS@host\:port=SECRET", in
// place of the first line for the host, else appended). The other logins for the host are
// kept (so bookmarks naming the old access key still work) or removed. Every other byte is
// unchanged; an empty source gives a file of the one line.
core::Result<Content> render(const Source& credentials, const Login& login,
                             std::string_view access_id, const core::Secret& secret,
                             OtherLogins others);

// What a bookmark says about the login.
struct Bookmark {
  std::string hostname;
  std::string port; // "" when the bookmark has none (the protocol's default)
  std::string username;
  std::uint32_t username_line = 0;
};

// Reads the top-level Hostname, Port and Username of an XML plist bookmark. Errc::parse
// for a binary plist, a missing or repeated key, or a value credrotd cannot read safely.
core::Result<Bookmark> read_bookmark(const Source& bookmark);

// `bookmark` with Username set to `access_id`, every other byte unchanged. Errc::config
// when the bookmark is for another host or port than `login`.
core::Result<Content> render_bookmark(const Source& bookmark, const Login& login,
                                      std::string_view access_id);

} // namespace credrotd::consumers::cyberduck
