// SPDX-License-Identifier: Apache-2.0
// The configuration model: what credrotd.toml (+ credrotd.d/*.toml) says, after validation.
#pragma once

#include "core/cloud.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace credrotd::core {

// Where a setting was written, for later messages ("/etc/credrotd/credrotd.toml:12:1").
struct SourceLocation {
  std::string file;
  std::uint32_t line = 0;   // 1-based; 0 = unknown (e.g. a built-in default)
  std::uint32_t column = 0; // 1-based; 0 = unknown

  // "file:line:column", "file:line" or "file", depending on what is known.
  std::string to_string() const
  {
    std::string out = file;
    if (line != 0) {
      out += ':' + std::to_string(line);
      if (column != 0) {
        out += ':' + std::to_string(column);
      }
    }
    return out;
  }
};

// S3 request addressing: https://host/bucket/key or https://bucket.host/key.
enum class Addressing { path, virtual_ };

enum class SignatureVersion { v2, v4 };

// The S3 requests that prove a new key works (docs/DESIGN.md, phase "verify").
enum class VerifyCheck {
  list_buckets, // GET / (ListBuckets)
  head_bucket,  // HEAD /bucket
  probe,        // PUT, GET, DELETE of an object under probe_prefix in bucket
};

// How the new credential is made in Keystone.
enum class CreateMethodChoice {
  auto_,       // /v3/credentials with a locally generated key; OS-EC2 if policy forbids it
  credentials, // only /v3/credentials
  os_ec2,      // only POST /v3/users/{id}/credentials/OS-EC2
};

enum class ConsumerType {
  s3cmd,
  aws_credentials,
  rclone,
  s3fs,
  envfile,
  template_,
  cyberduck,
  python,
  systemd_credential
};

// What to do with an aws_session_token / security_token line next to the rotated key.
enum class SessionTokenPolicy { remove, keep };

// The systemctl verb applied to each `reload` unit.
enum class ReloadAction { reload, restart, try_restart, reload_or_restart };

// A daily time-of-day window in local time. `end` < `start` means the window wraps past
// midnight ("22:00-04:00"). Never empty and never the whole day (the loader refuses
// start == end; "no window" is std::nullopt).
struct TimeWindow {
  std::chrono::minutes start{0}; // 0..1439 minutes after local midnight
  std::chrono::minutes end{0};   // 0..1440; 1440 = "24:00"

  bool wraps() const { return end < start; }

  // True when `time_of_day` (minutes after local midnight, 0..1439) lies in [start, end).
  bool contains(std::chrono::minutes time_of_day) const
  {
    if (wraps()) {
      return time_of_day >= start || time_of_day < end;
    }
    return time_of_day >= start && time_of_day < end;
  }
};

// One file that holds the key, and what to do after it changes. Options that do not apply
// to `type` keep their defaults (the loader refuses them when written).
struct Consumer {
  ConsumerType type = ConsumerType::s3cmd;
  std::string path;        // absolute, normalised (no "." or ".." components)
  SourceLocation location; // the [[profile.NAME.consumer]] header

  std::string aws_profile = "default"; // aws_credentials: key `profile`
  bool create_profile = false;         // aws_credentials: create the section (and the file)
  SessionTokenPolicy session_token = SessionTokenPolicy::remove; // aws_credentials, s3cmd
  std::string rclone_remote;                                     // rclone: key `remote`
  std::string s3fs_bucket; // s3fs: key `bucket`; "" = the ACCESS:SECRET line
  std::string access_key_var = "AWS_ACCESS_KEY_ID";     // envfile
  std::string secret_key_var = "AWS_SECRET_ACCESS_KEY"; // envfile
  std::string template_file;                            // template_: key `template`
  std::string url;                    // cyberduck: the S3 endpoint, "https://host[:port]"
  std::vector<std::string> bookmarks; // cyberduck: .duck bookmark files naming the key

  std::uint32_t mode = 0600; // permission bits of a file credrotd creates
  bool in_place = false;     // rewrite in place instead of temp file + rename
  std::string user;          // run `check` and `run` as this user; "" = the daemon's user

  std::vector<std::string> check; // argv, no shell; empty = no check command
  std::chrono::seconds check_timeout{30};
  std::vector<std::string> reload; // systemd unit names, e.g. "backup.service"
  ReloadAction reload_action = ReloadAction::reload_or_restart;
  std::vector<std::vector<std::string>> run; // argv lists run after the change
  std::chrono::seconds run_timeout{30};
};

// The profile keys that [defaults] may also set. The initialisers are the built-in defaults.
struct ProfileSettings {
  std::string cloud;                // clouds.yaml cloud; "" when the profile has inline auth
  std::string project;              // project name or id the keys belong to; "" = the cloud's scope
  std::string s3_endpoint;          // http(s) URL, required
  std::string region = "us-east-1"; // SigV4 region
  Addressing addressing = Addressing::path;
  std::vector<SignatureVersion> signatures{SignatureVersion::v4}; // non-empty, no duplicates
  std::vector<VerifyCheck> checks{VerifyCheck::list_buckets};     // non-empty, no duplicates
  std::string bucket; // set when checks has head_bucket or probe
  std::string probe_prefix = ".credrotd-probe/";
  std::string ca_file; // CA bundle for S3; "" = the system trust store
  bool insecure = false;

  std::chrono::seconds interval{std::chrono::hours(24 * 30)};
  std::chrono::seconds jitter{std::chrono::hours(1)}; // < interval
  std::optional<TimeWindow> window;                   // nullopt = any time
  std::chrono::seconds grace{std::chrono::minutes(15)};
  std::chrono::seconds verify_timeout{std::chrono::minutes(2)};
  std::chrono::seconds keystone_timeout{std::chrono::seconds(60)};
  CreateMethodChoice create_method = CreateMethodChoice::auto_;
  bool confirm_retire = true;
  // A deleted key S3 still accepts (Ceph RGW's 300 s secret cache) is checked again this long
  // after its deletion; 0 = not re-checked.
  std::chrono::seconds confirm_retire_recheck{310};
  bool enabled = true;
};

// [profile.NAME.auth]: the clouds.yaml auth fields written inline. Secrets are only given
// by file; `auth` holds them once the files have been read (config::read_inline_secrets,
// called by config::load_config), and is empty before.
struct InlineAuth {
  CloudAuth auth; // auth.name = the profile name, auth.source = "file:line"
  std::string password_file;
  std::string application_credential_secret_file;
  std::string token_file;
  SourceLocation location; // the [profile.NAME.auth] header
};

// One identity + project + S3 endpoint + the consumers that share one key.
// Move-only: inline auth holds secrets.
struct Profile : ProfileSettings {
  std::string name;                      // [A-Za-z0-9_.-]+, unique across all files
  SourceLocation location;               // the [profile.NAME] header (or its first sub-table)
  std::optional<InlineAuth> inline_auth; // set exactly when `cloud` is empty
  std::vector<Consumer> consumers;       // at least one
};

// [daemon]
struct DaemonSettings {
  std::string state_dir;            // absolute; default computed by the loader's caller
  std::uint32_t max_concurrent = 4; // 1..64
  std::string metrics_file;         // "" = no Prometheus textfile
  std::string clouds_file;          // "" = the openstack CLI search path
  std::string secure_file;          // "" = the openstack CLI search path
};

struct Config {
  DaemonSettings daemon;
  std::vector<Profile> profiles;  // in the order they were defined (file order, then source order)
  std::vector<std::string> files; // the files read, in the order they were applied

  const Profile* find_profile(std::string_view name) const
  {
    for (const auto& profile : profiles) {
      if (profile.name == name) {
        return &profile;
      }
    }
    return nullptr;
  }
};

// The spelling used in credrotd.toml, for messages and `--check-config` output.
constexpr std::string_view to_string(ConsumerType type) noexcept
{
  switch (type) {
  case ConsumerType::s3cmd:
    return "s3cmd";
  case ConsumerType::aws_credentials:
    return "aws-credentials";
  case ConsumerType::rclone:
    return "rclone";
  case ConsumerType::s3fs:
    return "s3fs";
  case ConsumerType::envfile:
    return "envfile";
  case ConsumerType::template_:
    return "template";
  case ConsumerType::cyberduck:
    return "cyberduck";
  case ConsumerType::python:
    return "python";
  case ConsumerType::systemd_credential:
    return "systemd-credential";
  }
  return "?";
}

constexpr std::string_view to_string(ReloadAction action) noexcept
{
  switch (action) {
  case ReloadAction::reload:
    return "reload";
  case ReloadAction::restart:
    return "restart";
  case ReloadAction::try_restart:
    return "try-restart";
  case ReloadAction::reload_or_restart:
    return "reload-or-restart";
  }
  return "?";
}

constexpr std::string_view to_string(VerifyCheck check) noexcept
{
  switch (check) {
  case VerifyCheck::list_buckets:
    return "list-buckets";
  case VerifyCheck::head_bucket:
    return "head-bucket";
  case VerifyCheck::probe:
    return "probe";
  }
  return "?";
}

constexpr std::string_view to_string(SignatureVersion version) noexcept
{
  return version == SignatureVersion::v2 ? "v2" : "v4";
}

constexpr std::string_view to_string(Addressing addressing) noexcept
{
  return addressing == Addressing::path ? "path" : "virtual";
}

constexpr std::string_view to_string(CreateMethodChoice method) noexcept
{
  switch (method) {
  case CreateMethodChoice::auto_:
    return "auto";
  case CreateMethodChoice::credentials:
    return "credentials";
  case CreateMethodChoice::os_ec2:
    return "os-ec2";
  }
  return "?";
}

constexpr std::string_view to_string(SessionTokenPolicy policy) noexcept
{
  return policy == SessionTokenPolicy::remove ? "remove" : "keep";
}

} // namespace credrotd::core
