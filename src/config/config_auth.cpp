// SPDX-License-Identifier: Apache-2.0
// [profile.NAME.auth]: the inline Keystone identity's key table and what each auth type needs.
#include "config/config_reader.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace credrotd::config::detail {

namespace {

using core::CloudAuth;
using core::InlineAuth;

constexpr std::array<std::string_view, 5> k_auth_type_names{
    "password", "v3password", "v3applicationcredential", "token", "v3token"};
constexpr std::array<std::string_view, 6> k_interface_names{"public",    "internal",    "admin",
                                                            "publicURL", "internalURL", "adminURL"};

// Handler storing `read`'s value into a member of the CloudAuth.
template <class V, class Read> Handler<InlineAuth> auth(V CloudAuth::*member, Read read)
{
  return [member, read](Reader& reader, const toml::node& node, InlineAuth& out) {
    auto value = read(reader, node);
    if (value) {
      out.auth.*member = static_cast<V>(std::move(*value));
    }
    return value ? Outcome::ok : Outcome::failed;
  };
}

// "password"/"v3password", "v3applicationcredential", "token"/"v3token".
std::optional<core::AuthType> auth_type(Reader& reader, const toml::node& node)
{
  const auto index = reader.choice(node, list(k_auth_type_names));
  if (!index) {
    return std::nullopt;
  }
  return *index <= 1   ? core::AuthType::password
         : *index == 2 ? core::AuthType::application_credential
                       : core::AuthType::token;
}

// "internal" and "internalURL" are the same interface.
std::optional<core::Interface> interface(Reader& reader, const toml::node& node)
{
  const auto index = reader.choice(node, list(k_interface_names));
  if (!index) {
    return std::nullopt;
  }
  return static_cast<core::Interface>(*index % 3);
}

using AuthKey = Key<InlineAuth>;

const std::array<AuthKey, 21> k_auth_keys{{
    {"auth_url", auth(&CloudAuth::auth_url, text())},
    {"auth_type", auth(&CloudAuth::auth_type, auth_type)},
    {"username", auth(&CloudAuth::username, text())},
    {"user_id", auth(&CloudAuth::user_id, text())},
    {"user_domain_name", auth(&CloudAuth::user_domain_name, text())},
    {"user_domain_id", auth(&CloudAuth::user_domain_id, text())},
    {"project_name", auth(&CloudAuth::project_name, text())},
    {"project_id", auth(&CloudAuth::project_id, text())},
    {"project_domain_name", auth(&CloudAuth::project_domain_name, text())},
    {"project_domain_id", auth(&CloudAuth::project_domain_id, text())},
    {"application_credential_id", auth(&CloudAuth::application_credential_id, text())},
    {"application_credential_name", auth(&CloudAuth::application_credential_name, text())},
    {"region_name", auth(&CloudAuth::region_name, text())},
    {"interface", auth(&CloudAuth::interface, interface)},
    {"cacert", auth(&CloudAuth::cacert, path(EmptyOk::yes))},
    {"verify", auth(&CloudAuth::verify, flag())},
    {"cert", auth(&CloudAuth::cert, path(EmptyOk::yes))},
    {"key", auth(&CloudAuth::key, path(EmptyOk::yes))},
    {"password_file", store(&InlineAuth::password_file, path(EmptyOk::yes))},
    {"application_credential_secret_file",
     store(&InlineAuth::application_credential_secret_file, path(EmptyOk::yes))},
    {"token_file", store(&InlineAuth::token_file, path(EmptyOk::yes))},
}};

// What the auth type needs, and the secret files it does not use.
std::vector<std::string> auth_problems(const InlineAuth& in, const std::string& profile_name,
                                       std::string_view type_written)
{
  const CloudAuth& a = in.auth;
  std::vector<std::string> problems;
  const auto refuse_file = [&](const std::string& set, std::string_view key) {
    if (!set.empty()) {
      problems.push_back(
          fmt::format("{} does not apply to auth_type {}; remove it", key, quote(type_written)));
    }
  };
  if (a.auth_url.empty()) {
    problems.push_back("add auth_url = \"https://keystone.example.org:5000/v3\"");
  }
  switch (a.auth_type) {
  case core::AuthType::password:
    if (in.password_file.empty()) {
      problems.push_back(fmt::format("add password_file = \"/etc/credrotd/{}.password\" (a file "
                                     "holding only the password, mode 0600)",
                                     profile_name));
    }
    if (a.username.empty() && a.user_id.empty()) {
      problems.push_back("add username (with user_domain_name) or user_id");
    }
    refuse_file(in.application_credential_secret_file, "application_credential_secret_file");
    refuse_file(in.token_file, "token_file");
    break;
  case core::AuthType::application_credential:
    if (in.application_credential_secret_file.empty()) {
      problems.push_back(fmt::format("add application_credential_secret_file = "
                                     "\"/etc/credrotd/{}.secret\" (a file holding only the secret, "
                                     "mode 0600)",
                                     profile_name));
    }
    if (a.application_credential_id.empty() && a.application_credential_name.empty()) {
      problems.push_back("add application_credential_id (or application_credential_name with "
                         "user_id or username)");
    } else if (a.application_credential_id.empty() && a.user_id.empty() && a.username.empty()) {
      problems.push_back("add user_id or username (with user_domain_name): "
                         "application_credential_name is only unique per user");
    }
    if (!a.project_id.empty() || !a.project_name.empty()) {
      problems.push_back("remove project_id/project_name: an application credential's project "
                         "is fixed when it is created");
    }
    refuse_file(in.password_file, "password_file");
    refuse_file(in.token_file, "token_file");
    break;
  case core::AuthType::token:
    if (in.token_file.empty()) {
      problems.push_back(fmt::format("add token_file = \"/etc/credrotd/{}.token\"", profile_name));
    }
    refuse_file(in.password_file, "password_file");
    refuse_file(in.application_credential_secret_file, "application_credential_secret_file");
    break;
  }
  const bool needs_user_domain = !a.username.empty() && a.user_id.empty() &&
                                 (a.auth_type == core::AuthType::password ||
                                  (a.auth_type == core::AuthType::application_credential &&
                                   a.application_credential_id.empty()));
  if (needs_user_domain && a.user_domain_name.empty() && a.user_domain_id.empty()) {
    problems.push_back("add user_domain_name (e.g. \"Default\") or user_domain_id: a username is "
                       "only unique within its domain");
  }
  if (!a.project_name.empty() && a.project_id.empty() && a.project_domain_name.empty() &&
      a.project_domain_id.empty()) {
    problems.push_back("add project_domain_name (e.g. \"Default\") or project_domain_id: a "
                       "project name is only unique within its domain");
  }
  return problems;
}

} // namespace

bool is_auth_key(std::string_view key)
{
  return std::any_of(k_auth_keys.begin(), k_auth_keys.end(),
                     [&](const AuthKey& k) { return k.name == key; });
}

std::optional<InlineAuth> read_auth(Diagnostics& diagnostics, const std::string& file,
                                    const std::string& profile_name, const toml::node& node)
{
  const std::string section = "[profile." + profile_name + ".auth]";
  const auto* table = node.as_table();
  if (table == nullptr) {
    diagnostics.error(
        location_of(file, node.source()),
        fmt::format("auth in [profile.{}] must be a table: write {}", profile_name, section));
    return std::nullopt;
  }
  Reader reader(diagnostics, file, section);
  InlineAuth out;
  out.location = location_of(file, table->source());
  out.auth.name = profile_name;
  out.auth.source = out.location.to_string();
  Where where;
  const bool ok = read_keys(
      reader, *table, k_auth_keys, out, where, [&](const toml::key& key, const toml::node& value) {
        const std::string name(key.str());
        if (name == "password" || name == "application_credential_secret" || name == "token") {
          reader.key = key.str(); // never echo the value: it is a secret
          reader.fail(value, fmt::format("secrets are not written in credrotd.toml; put it in a "
                                         "file readable only by root and set {0}_file = "
                                         "\"/etc/credrotd/{1}.{0}\" (mode 0600), or use a "
                                         "clouds.yaml cloud with secure.yaml",
                                         name, profile_name));
        } else {
          unknown_key(diagnostics, file, key, section, names_of(k_auth_keys),
                      is_setting_key(name) ? fmt::format("{} is a profile option; put it in "
                                                         "[profile.{}]",
                                                         name, profile_name)
                                           : std::string());
        }
        return false;
      });
  if (!ok) {
    return std::nullopt;
  }
  const auto* type_written = table->get_as<std::string>("auth_type");
  const auto problems =
      auth_problems(out, profile_name, type_written ? type_written->get() : "password");
  if (out.auth.auth_type == core::AuthType::token) {
    diagnostics.warning(out.location, section + ": a token expires (usually after hours); use a "
                                                "password or an application credential for a "
                                                "long-running daemon");
  }
  if (!out.auth.verify) {
    diagnostics.warning(out.location, section + ": TLS verification of Keystone is off");
  }
  for (const auto& problem : problems) {
    diagnostics.error(out.location, section + ": " + problem);
  }
  if (!problems.empty()) {
    return std::nullopt;
  }
  return out;
}

} // namespace credrotd::config::detail
