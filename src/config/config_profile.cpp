// SPDX-License-Identifier: Apache-2.0
// [defaults] and [profile.NAME]: the profile settings' key table and a profile's cross-field rules.
#include "config/config_reader.hpp"
#include "config/duration.hpp"
#include "core/text.hpp"

#include <boost/url/parse.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <charconv>

namespace credrotd::config::detail {

namespace {

using core::ProfileSettings;

constexpr std::array<std::string_view, 2> k_addressing_names{"path", "virtual"};
constexpr std::array<std::string_view, 2> k_signature_names{"v2", "v4"};
constexpr std::array<std::string_view, 3> k_check_names{"list-buckets", "head-bucket", "probe"};
constexpr std::array<std::string_view, 3> k_create_names{"auto", "credentials", "os-ec2"};

// What the HTTP client (net::parse_url) accepts, so that nothing it refuses passes
// --check-config; plain http to another host is a warning.
Outcome read_s3_endpoint(Reader& reader, const toml::node& node, ProfileSettings& out)
{
  const auto text = reader.string(node);
  if (!text) {
    return Outcome::failed;
  }
  const auto fail = [&](const char* message) {
    reader.fail(node, message);
    return Outcome::failed;
  };
  auto parsed = boost::urls::parse_absolute_uri(*text);
  if (!parsed) {
    return fail("is not a URL; write e.g. \"https://s3.example.org\"");
  }
  const std::string scheme = core::ascii_lower(parsed->scheme());
  if (scheme != "http" && scheme != "https") {
    return fail("must be an http:// or https:// URL");
  }
  using boost::urls::host_type;
  const auto type = parsed->host_type();
  if (!parsed->has_authority() || parsed->host().empty() ||
      (type != host_type::name && type != host_type::ipv4 && type != host_type::ipv6)) {
    return fail("has no host; write e.g. \"https://s3.example.org\"");
  }
  const auto name_char = [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           std::string_view("-._~!$&'()*+,;=").find(c) != std::string_view::npos;
  };
  const std::string host = parsed->host_address();
  if (type == host_type::name && !std::all_of(host.begin(), host.end(), name_char)) {
    return fail("has a host name with characters no host name holds (percent-encoded bytes "
                "decode to them)");
  }
  if (parsed->has_port()) {
    const auto port = parsed->port();
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535) {
      return fail("has a port that is not a number from 1 to 65535");
    }
  }
  if (parsed->has_userinfo()) {
    return fail("must not contain a user or password (user@host)");
  }
  if (parsed->has_query() || parsed->has_fragment()) {
    return fail("must not contain a query (?...) or fragment (#...)");
  }
  const std::string raw_host(parsed->host());
  if (scheme == "http" && raw_host != "localhost" && !raw_host.starts_with("127.") &&
      raw_host != "[::1]") {
    reader.warn(node, "plain http: S3 traffic (object data, bucket listings) is not encrypted");
  }
  out.s3_endpoint = *text;
  return Outcome::ok;
}

Outcome read_window(Reader& reader, const toml::node& node, ProfileSettings& out)
{
  const auto text = reader.string(node);
  if (!text) {
    return Outcome::failed;
  }
  if (text->empty()) {
    out.window.reset(); // "" clears a default window
    return Outcome::ok;
  }
  auto window = parse_window(*text);
  if (!window) {
    reader.fail(node, window.error().message);
    return Outcome::failed;
  }
  out.window = *window;
  return Outcome::ok;
}

bool valid_region(std::string_view name)
{
  return !name.empty() && name.find_first_of("/ \t\r\n") == std::string_view::npos;
}

bool valid_bucket(std::string_view name)
{
  return name.empty() || (name.size() <= 255 && valid_region(name));
}

bool valid_probe_prefix(std::string_view prefix)
{
  return !prefix.empty() && prefix.front() != '/';
}

// Bucket names usable as a DNS label for virtual-hosted addressing (S3 naming rules).
bool dns_compatible_bucket(std::string_view name)
{
  if (name.size() < 3 || name.size() > 63 || name.front() == '.' || name.front() == '-' ||
      name.back() == '.' || name.back() == '-' || name.find("..") != std::string_view::npos) {
    return false;
  }
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-';
  });
}

using SettingKey = Key<ProfileSettings>;

// The keys of [profile.NAME] that [defaults] may also set.
const std::array<SettingKey, 21> k_setting_keys{{
    {"cloud", store(&ProfileSettings::cloud, text())},
    {"project", store(&ProfileSettings::project, text())},
    {"s3_endpoint", read_s3_endpoint},
    {"region", store(&ProfileSettings::region,
                     text_if(valid_region, "must be a region name like \"us-east-1\" (no "
                                           "spaces or /)"))},
    {"addressing", store(&ProfileSettings::addressing, one<core::Addressing>(k_addressing_names))},
    {"signature",
     store(&ProfileSettings::signatures, several<core::SignatureVersion>(k_signature_names))},
    {"checks", store(&ProfileSettings::checks, several<core::VerifyCheck>(k_check_names))},
    {"bucket", store(&ProfileSettings::bucket,
                     text_if(valid_bucket, "must be a bucket name (no /, no spaces), or \"\""))},
    {"probe_prefix", store(&ProfileSettings::probe_prefix,
                           text_if(valid_probe_prefix, "must be a non-empty object key prefix "
                                                       "not starting with /, e.g. "
                                                       "\".credrotd-probe/\""))},
    {"ca_file", store(&ProfileSettings::ca_file, path(EmptyOk::yes))},
    {"insecure", store(&ProfileSettings::insecure, flag())},
    {"interval", store(&ProfileSettings::interval, duration(Positive::yes))},
    {"jitter", store(&ProfileSettings::jitter, duration(Positive::no))},
    {"window", read_window},
    {"grace", store(&ProfileSettings::grace, duration(Positive::no))},
    {"verify_timeout", store(&ProfileSettings::verify_timeout, duration(Positive::yes))},
    {"keystone_timeout", store(&ProfileSettings::keystone_timeout, duration(Positive::yes))},
    {"create_method",
     store(&ProfileSettings::create_method, one<core::CreateMethodChoice>(k_create_names))},
    {"confirm_retire", store(&ProfileSettings::confirm_retire, flag())},
    {"confirm_retire_recheck",
     store(&ProfileSettings::confirm_retire_recheck, duration(Positive::no))},
    {"enabled", store(&ProfileSettings::enabled, flag())},
}};

// A key [defaults] or [profile.NAME] does not take, with the table it belongs in.
void unknown_setting(Reader& reader, const toml::key& key)
{
  const std::string name(key.str());
  std::string hint;
  if (is_consumer_key(name)) {
    hint = name + " is a consumer option; put it in a [[profile.NAME.consumer]] table";
  } else if (name == "password" || name == "token" || name == "application_credential_secret") {
    hint = "secrets are not written in credrotd.toml; use " + name +
           "_file in [profile.NAME.auth], or a clouds.yaml cloud with secure.yaml";
  } else if (is_auth_key(name)) {
    hint = name + " is an auth option; put it in [profile.NAME.auth] (or use a clouds.yaml cloud)";
  } else if (is_daemon_key(name)) {
    hint = name + " is a daemon option; put it in [daemon]";
  }
  unknown_key(reader.diagnostics(), reader.file(), key, reader.section(), names_of(k_setting_keys),
              hint);
}

// The profile's rules across keys: identity, endpoint, bucket, jitter; and its warnings.
void check_profile(Diagnostics& diagnostics, const core::Profile& profile, const Where& where)
{
  const std::string section = "[profile." + profile.name + "]";
  const auto at = [&](std::string_view key) {
    const auto it = where.find(key);
    return it != where.end() ? it->second : profile.location;
  };
  // An s3_endpoint that was written but invalid has been reported already.
  if (profile.s3_endpoint.empty() && where.count("s3_endpoint") == 0) {
    diagnostics.error(profile.location, section + ": add s3_endpoint = \"https://s3.example.org\"");
  }
  const auto has_check = [&](core::VerifyCheck check) {
    return std::find(profile.checks.begin(), profile.checks.end(), check) != profile.checks.end();
  };
  if ((has_check(core::VerifyCheck::head_bucket) || has_check(core::VerifyCheck::probe)) &&
      profile.bucket.empty()) {
    diagnostics.error(at("checks"), section + ": checks has \"head-bucket\" or \"probe\"; add "
                                              "bucket = \"NAME\" (a bucket the key can reach)");
  }
  if (!profile.bucket.empty() && profile.addressing == core::Addressing::virtual_ &&
      !dns_compatible_bucket(profile.bucket)) {
    diagnostics.error(at("bucket"),
                      fmt::format("{}: bucket {} cannot be a host name label, which addressing = "
                                  "\"virtual\" needs; use addressing = \"path\" or a lower-case "
                                  "DNS-style name",
                                  section, quote(profile.bucket)));
  }
  if (profile.jitter >= profile.interval) {
    // Point at the key the operator wrote: jitter if set, else interval.
    diagnostics.error(at(where.count("jitter") != 0 ? "jitter" : "interval"),
                      fmt::format("{}: jitter ({}) must be shorter than interval ({})", section,
                                  format_duration(profile.jitter),
                                  format_duration(profile.interval)));
  }
  if (profile.insecure) {
    diagnostics.warning(at("insecure"), section + ": insecure = true: the S3 endpoint's "
                                                  "certificate is not checked");
    if (!profile.ca_file.empty()) {
      diagnostics.warning(at("ca_file"), section + ": ca_file has no effect with insecure = true");
    }
  }
  if (profile.grace.count() == 0) {
    diagnostics.warning(at("grace"), section + ": grace = 0 deletes the old key as soon as the "
                                               "new one is verified; programs that still hold "
                                               "the old key fail");
  }
}

} // namespace

bool is_setting_key(std::string_view key)
{
  return std::any_of(k_setting_keys.begin(), k_setting_keys.end(),
                     [&](const SettingKey& k) { return k.name == key; });
}

bool valid_profile_name(std::string_view name)
{
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-';
  });
}

void read_defaults(Diagnostics& diagnostics, const std::string& file, const toml::table& table,
                   Defaults& defaults)
{
  Reader reader(diagnostics, file, "[defaults]");
  read_keys(reader, table, k_setting_keys, defaults.settings, defaults.where,
            [&](const toml::key& key, const toml::node&) {
              if (key.str() == "auth" || key.str() == "consumer") {
                diagnostics.error(location_of(file, key.source()),
                                  fmt::format("[defaults] cannot hold {}; put it in each "
                                              "[profile.NAME]",
                                              key.str()));
              } else {
                unknown_setting(reader, key);
              }
              return false;
            });
}

core::Profile read_profile(Diagnostics& diagnostics, const Defaults& defaults,
                           const std::string& file, const std::string& name,
                           const toml::table& table)
{
  const std::string section = "[profile." + name + "]";
  core::Profile profile;
  static_cast<ProfileSettings&>(profile) = defaults.settings;
  profile.name = name;
  profile.location = location_of(file, table.source());
  Where where = defaults.where;
  Reader reader(diagnostics, file, section);
  const toml::node* auth = nullptr;
  const toml::node* consumers = nullptr;
  read_keys(reader, table, k_setting_keys, static_cast<ProfileSettings&>(profile), where,
            [&](const toml::key& key, const toml::node& node) {
              if (key.str() == "auth" || key.str() == "consumer") {
                (key.str() == "auth" ? auth : consumers) = &node;
                return true;
              }
              unknown_setting(reader, key);
              return false;
            });

  // Identity: exactly one of cloud / [profile.NAME.auth]; a default cloud yields to inline auth.
  const toml::node* own_cloud = table.get("cloud");
  if (auth != nullptr) {
    if (own_cloud != nullptr && !profile.cloud.empty() && auth->is_table()) {
      diagnostics.error(where.at("cloud"),
                        section + ": set either cloud or [profile." + name + ".auth], not both");
    }
    profile.cloud.clear();
    profile.inline_auth = read_auth(diagnostics, file, name, *auth);
  } else if (profile.cloud.empty() && (own_cloud == nullptr || own_cloud->is_string())) {
    diagnostics.error(profile.location, fmt::format("{}: add cloud = \"NAME\" (a cloud in "
                                                    "clouds.yaml) or a [profile.{}.auth] table",
                                                    section, name));
  }
  check_profile(diagnostics, profile, where);

  if (consumers == nullptr) {
    diagnostics.error(profile.location, fmt::format("{}: add at least one [[profile.{}.consumer]] "
                                                    "(the file that holds the key)",
                                                    section, name));
  } else if (const auto* array = consumers->as_array()) {
    if (array->empty()) {
      diagnostics.error(location_of(file, consumers->source()),
                        fmt::format("{}: add at least one [[profile.{}.consumer]]", section, name));
    }
    std::size_t index = 0;
    for (const auto& item : *array) {
      if (auto consumer = read_consumer(diagnostics, file, name, ++index, item)) {
        profile.consumers.push_back(std::move(*consumer));
      }
    }
  } else {
    diagnostics.error(location_of(file, consumers->source()),
                      fmt::format("consumer in {} must be an array of tables: write "
                                  "[[profile.{}.consumer]]",
                                  section, name));
  }
  return profile;
}

} // namespace credrotd::config::detail
