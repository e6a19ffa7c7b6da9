// SPDX-License-Identifier: Apache-2.0
// Finding the EC2 keys a host's client files hold, in the places those clients read them from,
// with the same readers (and the same symlink and ownership policy) credrotd rotates them with.
#pragma once

#include "consumers/spec.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace credrotd::discover {

struct ScanOptions {
  std::string root = "/";                // the host's file system is mounted here
  std::vector<std::string> python_files; // boto3 scripts to read too (absolute, on this host)
};

// One place a key was found: a consumer credrotd can rewrite. Holds no secret.
struct Place {
  consumers::ConsumerSpec spec;   // the consumer; spec.path is the path on this host
  std::string access_id;          // the key it holds
  std::uint32_t line = 0;         // line of the access id
  std::string owner;              // name of the file's owner ("uid 1234" when unknown)
  std::vector<std::string> units; // envfile: the service units whose EnvironmentFile= it is
};

// A file that names a key (or may) but that credrotd could not read safely. `why` is the
// reader's message (file:line:column, never a secret).
struct Skipped {
  std::string path;
  std::string why;
};

struct Scan {
  std::vector<Place> places; // in the order found: users (passwd order), system files, units,
                             // Python files
  std::vector<Skipped> skipped;
  std::size_t files_read = 0; // files that exist and were read
};

// Looks in every home of the root's passwd database for ~/.s3cfg, every section of
// ~/.aws/credentials, the type = s3 remotes of ~/.config/rclone/rclone.conf (and the older
// ~/.rclone.conf), ~/.passwd-s3fs, and the logins of ~/.duck/credentials (with the bookmarks of
// ~/.duck/bookmarks/ that name their key); then /etc/passwd-s3fs, the EnvironmentFile= of
// every service unit that holds AWS_ACCESS_KEY_ID, and `options.python_files`. Files are read
// with consumers::read_key(), so as the owner of their directory when run as root. Missing
// files are skipped silently; files a reader refuses are listed in Scan::skipped. The
// secrets read are wiped at once: nothing of them is kept. Errors: Errc::io when the passwd
// database under the root cannot be read.
core::Result<Scan> scan(const ScanOptions& options);

// The pieces scan() enumerates, on a file's text (pure, for tests):
// the [section] names of an INI-style file, in order, each once;
std::vector<std::string> ini_sections(std::string_view text);
// the sections of an rclone config whose type is s3;
std::vector<std::string> rclone_s3_remotes(std::string_view text);
// the buckets of an s3fs password file's "bucket:ACCESS:SECRET" lines, after "" (the default);
std::vector<std::string> s3fs_buckets(std::string_view text);
// the endpoints ("https://host:443") of a duck credentials file's logins, in order, each once.
core::Result<std::vector<std::string>> duck_endpoints(std::string_view name, std::string_view text);

} // namespace credrotd::discover
