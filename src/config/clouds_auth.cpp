// SPDX-License-Identifier: Apache-2.0
// One resolved cloud read into a CloudAuth, with what credrotd checks on top of the openstack
// loader: the scope, the fields each auth type needs, the connection settings.
#include "config/clouds_resolve.hpp"
#include "core/text.hpp"

namespace credrotd::config::detail {

using yaml::Kind;
using yaml::Node;

core::Result<core::CloudAuth> resolve_cloud(const yaml::Node& cloud, const CloudSource& source,
                                            std::vector<std::string>* warnings)
{
  return Resolver(source, warnings).run(cloud);
}

core::Result<core::CloudAuth> Resolver::run(const Node& cloud)
{
  CREDROTD_TRY_ASSIGN(const core::AuthType type, openstack_steps(cloud));
  const Node& auth = m_auth;

  core::CloudAuth out;
  out.name = m_source.name;
  out.source = m_source.where;
  out.auth_type = type;
  out.auth_url = text_field(auth, "auth_url");
  out.username = text_field(auth, "username");
  out.user_id = text_field(auth, "user_id");
  out.user_domain_name = text_field(auth, "user_domain_name");
  out.user_domain_id = text_field(auth, "user_domain_id");
  out.project_name = text_field(auth, "project_name");
  out.project_id = text_field(auth, "project_id");
  out.project_domain_name = text_field(auth, "project_domain_name");
  out.project_domain_id = text_field(auth, "project_domain_id");
  out.application_credential_id = text_field(auth, "application_credential_id");
  out.application_credential_name = text_field(auth, "application_credential_name");
  out.password = secret_field("password");
  out.application_credential_secret = secret_field("application_credential_secret");
  out.token = secret_field("token");

  // Scopes credrotd cannot use: EC2 credentials belong to a user *and a project*.
  for (const std::string_view key : {"system_scope", "trust_id"}) {
    if (const Node* value = auth.find(key)) {
      problem(field(key) +
              " is not supported: credrotd needs a project-scoped (or application "
              "credential) identity; remove it" +
              at(*value));
    }
  }
  for (const std::string_view key : {"domain_id", "domain_name"}) {
    const Node* value = auth.find(key);
    if (value != nullptr && type == core::AuthType::application_credential) {
      problem(field(key) +
              " does not apply to an application credential (its scope is fixed); "
              "remove it" +
              at(*value));
    } else if (value != nullptr) {
      problem(fmt::format("{} without a project asks for a domain-scoped token, which cannot "
                          "manage EC2 credentials; add project_name (with project_domain_name) "
                          "or project_id, or use user_domain_{} if you meant the user's domain{}",
                          field(key), key.substr(7), at(*value)));
    }
  }
  // keystoneauth's generic plugins use default_domain_* for both the user and the project.
  const std::string default_domain_id = text_field(auth, "default_domain_id");
  const std::string default_domain_name = text_field(auth, "default_domain_name");
  for (auto [id, name] : {std::pair{&out.user_domain_id, &out.user_domain_name},
                          std::pair{&out.project_domain_id, &out.project_domain_name}}) {
    if (id->empty() && name->empty()) {
      *id = default_domain_id;
      *name = default_domain_name;
    }
  }
  connection_settings(out);
  required_fields(out);
  if (out.auth_type == core::AuthType::application_credential &&
      (!out.project_id.empty() || !out.project_name.empty())) {
    warn("project_* is ignored: an application credential's project is fixed when it is "
         "created");
    out.project_id.clear();
    out.project_name.clear();
    out.project_domain_id.clear();
    out.project_domain_name.clear();
  }
  if (!m_problems.empty()) {
    return failure(core::join(m_problems, "; "));
  }
  return out;
}

// Top-level settings: region, interface, TLS.
void Resolver::connection_settings(core::CloudAuth& out)
{
  out.region_name = text_field(m_config, "region_name");
  const std::string interface = text_field(m_config, "interface");
  if (interface == "public" || interface == "publicURL" || interface.empty()) {
    out.interface = core::Interface::public_;
  } else if (interface == "internal" || interface == "internalURL") {
    out.interface = core::Interface::internal;
  } else if (interface == "admin" || interface == "adminURL") {
    out.interface = core::Interface::admin;
  } else {
    problem(fmt::format("{} '{}' is not public, internal or admin{}", field("interface"), interface,
                        at(*m_config.find("interface"))));
  }
  if (const Node* node = m_config.find("verify");
      node != nullptr && node->kind != Kind::boolean && node->kind != Kind::null) {
    problem(field("verify") + " must be true or false (unquoted)" +
            (m_from_env ? "; use OS_INSECURE=true to turn verification off" : "") + at(*node));
  } else {
    out.verify = node == nullptr || node->kind != Kind::boolean || node->boolean;
  }
  if (const Node* node = m_config.find("insecure"); node != nullptr && node->boolean) {
    out.verify = false;
  }
  for (const auto& [key, target] : {std::pair{"cacert", &out.cacert}, std::pair{"cert", &out.cert},
                                    std::pair{"key", &out.key}}) {
    std::string value = text_field(m_config, key);
    if (value.find_first_of("{}") != std::string::npos) {
      if (auto formatted = format_fields(value, m_config)) {
        value = *formatted;
      } else {
        problem(field(key) + " uses {...} in a way credrotd cannot expand" +
                at(*m_config.find(key)));
      }
    }
    if (value == "~" || value.rfind("~/", 0) == 0) { // Python's os.path.expanduser
      value = m_source.home + value.substr(1);
    }
    if (!value.empty() && value.front() != '/') {
      warn(field(key) +
           " is a relative path; it is read relative to credrotd's working "
           "directory" +
           at(*m_config.find(key)));
    }
    *target = value;
  }
  if (!out.verify && !out.cacert.empty()) {
    warn("cacert is ignored because TLS verification is off (verify: false or insecure: true)");
  }
  if (!out.verify) {
    warn("TLS verification of Keystone is off (verify: false or insecure: true)");
  }
  if (const Node* version = m_config.find("identity_api_version");
      version != nullptr && version->kind == Kind::string && version->view() != "3" &&
      version->view() != "3.0") {
    warn("identity_api_version is not 3; credrotd always uses the Identity v3 API" + at(*version));
  }
}

// What each auth type needs, said as what to add.
void Resolver::required_fields(const core::CloudAuth& out)
{
  const std::string secret_home = m_from_env ? "" : " (in secure.yaml, mode 0600)";
  if (out.auth_url.empty()) {
    problem("add " + field("auth_url") +
            " (the Keystone URL, e.g. https://keystone.example.org:5000/v3)");
  }
  switch (out.auth_type) {
  case core::AuthType::password:
    if (out.password.empty()) {
      problem("add " + field("password") + secret_home);
    }
    if (out.user_id.empty() && out.username.empty()) {
      problem(fmt::format("add {} (with {}) or {}", field("username"), field("user_domain_name"),
                          field("user_id")));
    }
    break;
  case core::AuthType::application_credential:
    if (out.application_credential_secret.empty()) {
      problem("add " + field("application_credential_secret") + secret_home);
    }
    if (out.application_credential_id.empty() && out.application_credential_name.empty()) {
      problem(fmt::format("add {} (or {} with {} or {})", field("application_credential_id"),
                          field("application_credential_name"), field("user_id"),
                          field("username")));
    } else if (out.application_credential_id.empty() && out.user_id.empty() &&
               out.username.empty()) {
      problem(fmt::format("add {} or {} (with {}): {} is only unique per user", field("user_id"),
                          field("username"), field("user_domain_name"),
                          field("application_credential_name")));
    }
    break;
  case core::AuthType::token:
    if (out.token.empty()) {
      problem("add " + field("token") + secret_home);
    }
    warn("a token expires (usually after hours); use a password or an application credential "
         "for a long-running daemon");
    break;
  }
  const bool needs_user_domain = !out.username.empty() && out.user_id.empty() &&
                                 (out.auth_type == core::AuthType::password ||
                                  (out.auth_type == core::AuthType::application_credential &&
                                   out.application_credential_id.empty()));
  if (needs_user_domain && out.user_domain_name.empty() && out.user_domain_id.empty()) {
    problem(fmt::format("add {} (e.g. Default) or {}: a username is only unique within its domain",
                        field("user_domain_name"), field("user_domain_id")));
  }
  if (!out.project_name.empty() && out.project_id.empty() && out.project_domain_name.empty() &&
      out.project_domain_id.empty()) {
    problem(fmt::format("add {} (e.g. Default) or {}: a project name is only unique within its "
                        "domain",
                        field("project_domain_name"), field("project_domain_id")));
  }
}

std::string Resolver::text_field(const Node& parent, std::string_view key, bool required_string)
{
  const Node* value = parent.find(key);
  if (value == nullptr || value->kind == Kind::null) {
    return {};
  }
  if (value->kind == Kind::string) {
    return std::string(value->view());
  }
  if (required_string) {
    problem(field(key) + " must be a string (quote it)" + at(*value));
  }
  return {};
}

core::Secret Resolver::secret_field(std::string_view key)
{
  const Node* value = m_auth.find(key);
  if (value == nullptr || value->kind == Kind::null) {
    return {};
  }
  if (value->kind != Kind::string) {
    // Never print the value: it is a secret.
    problem(field(key) + " must be a string (quote it)" + at(*value));
    return {};
  }
  return core::Secret(value->view());
}

} // namespace credrotd::config::detail
