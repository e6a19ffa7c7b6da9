// SPDX-License-Identifier: Apache-2.0
// credrotd.toml + credrotd.d/*.toml → core::Config, and the --check-config cloud resolution.
#pragma once

#include "config/clouds.hpp"
#include "config/environment.hpp"
#include "core/config.hpp"
#include "core/error.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace credrotd::config {

// One configuration file's text, as handed to the pure parser.
struct ConfigDocument {
  std::string path;
  std::string text;
  std::optional<std::uint32_t> mode; // st_mode & 07777 when known
};

struct LoadOptions {
  // [daemon] state_dir when no file sets it (see default_state_dir()).
  std::string default_state_dir = "/var/lib/credrotd";
};

struct LoadedConfig {
  core::Config config;
  // Each "FILE:LINE:COLUMN: text": settings that work but deserve a look (insecure = true,
  // a check_timeout without check, a consumer file mode readable by others...).
  std::vector<std::string> warnings;
};

// The pure step. `documents` are applied in order: the main file, then the drop-ins in
// lexical order. [daemon] and [defaults] may appear in any file; a later file wins per key.
// [defaults] applies to every profile, whichever file defines it. Each [profile.NAME] must be
// defined in one file only. Inline-auth secrets are not read here (read_inline_secrets).
// Errors: Errc::parse for TOML syntax, Errc::config for everything else; either way the
// message lists every problem found (up to 50), one per line, each as
// "FILE:LINE:COLUMN: what is wrong; what is allowed". Messages never contain a secret.
core::Result<LoadedConfig> parse_config(const std::vector<ConfigDocument>& documents,
                                        const LoadOptions& options = {});

// parse_config() on a single document.
core::Result<LoadedConfig> parse_config_text(std::string_view text, std::string_view file_name,
                                             const LoadOptions& options = {});

// Reads password_file / application_credential_secret_file / token_file of every inline
// auth into its CloudAuth (read_secret_file()). Errors: the first file that fails, naming
// the profile and the file.
core::Status read_inline_secrets(core::Config& config);

// The files load_config() reads, in order: the main file, then <dropin_dir>/*.toml sorted
// by name (byte order; names starting with "." are skipped). A missing drop-in directory
// is fine. Errors: Errc::io when the main file does not exist or a directory cannot be read.
core::Result<std::vector<std::string>> config_files(const ConfigPaths& paths);

// Reads the files (config_files()), parse_config(), then read_inline_secrets().
// Errors: Errc::io (a file cannot be read) and those of parse_config()/read_inline_secrets().
core::Result<LoadedConfig> load_config(const ConfigPaths& paths, const LoadOptions& options = {});

// The identity a profile uses: its inline auth (a copy, secrets included), or its clouds.yaml
// cloud resolved through `clouds`. Errors: Errc::config naming the profile (file:line) and
// the files searched when the cloud does not exist or cannot be resolved.
core::Result<core::CloudAuth> profile_auth(const core::Profile& profile, const CloudsConfig& clouds,
                                           std::vector<std::string>* warnings = nullptr);

// The resolution step of `credrotd --check-config`: profile_auth() for every profile, plus
// the rule that a profile needs a project (from `project`, the cloud's scope, or an
// application credential). Errors: Errc::config listing every failing profile.
core::Status check_clouds(const core::Config& config, const CloudsConfig& clouds,
                          std::vector<std::string>* warnings = nullptr);

} // namespace credrotd::config
