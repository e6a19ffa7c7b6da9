// SPDX-License-Identifier: Apache-2.0
// One cloud resolved the way the openstack CLI (openstacksdk 0.101 loader.py, keystoneauth1 5.0
// options) resolves it, for the three auth types credrotd uses.
#include "config/clouds_resolve.hpp"

#include "core/text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <optional>

namespace credrotd::config::detail {

namespace {

using yaml::Kind;
using yaml::Mark;
using yaml::Node;

constexpr Mark k_default_mark{defaults, 0, 0};

// _util.normalize_keys: '-' → '_' in keys (recursively through mappings), numbers → strings.
Node normalize_keys(const Node& node)
{
  Node out = Node::make_mapping(node.mark);
  for (const auto& entry : node.entries) {
    Node value = entry.value.kind == Kind::mapping ? normalize_keys(entry.value) : entry.value;
    if (value.kind == Kind::integer || value.kind == Kind::floating) {
      value.kind = Kind::string;
    }
    std::string key = entry.key;
    std::replace(key.begin(), key.end(), '-', '_');
    out.set(key, std::move(value), entry.key_mark);
  }
  return out;
}

// A keystoneauth1 plugin credrotd supports. Its options (keystoneauth's get_options(), dashes
// as underscores) are the common ones followed by `extra`; `generic` plugins ("password",
// "token") also take the deprecated tenant_id/tenant_name for project_id/project_name.
struct AuthPlugin {
  std::string_view name;
  core::AuthType type;
  std::string_view extra;
  bool generic;

  std::vector<std::string_view> options() const
  {
    std::vector<std::string_view> out;
    for (const std::string_view list :
         {std::string_view("auth_url system_scope domain_id domain_name project_id project_name "
                           "project_domain_id project_domain_name trust_id"),
          extra}) {
      for (std::size_t start = 0; start < list.size();) {
        const auto end = std::min(list.find(' ', start), list.size());
        out.push_back(list.substr(start, end - start));
        start = end + 1;
      }
    }
    return out;
  }
  // The deprecated alias of an option, or "".
  std::string_view alias(std::string_view option) const
  {
    if (option == "username") {
      return "user_name";
    }
    if (generic && (option == "project_id" || option == "project_name")) {
      return option == "project_id" ? "tenant_id" : "tenant_name";
    }
    return {};
  }
};

constexpr std::array<AuthPlugin, 5> k_plugins{{
    {"password", core::AuthType::password,
     "default_domain_id default_domain_name user_id username user_domain_id user_domain_name "
     "password",
     true},
    {"v3password", core::AuthType::password,
     "user_id username user_domain_id user_domain_name password", false},
    {"v3applicationcredential", core::AuthType::application_credential,
     "user_id username user_domain_id user_domain_name application_credential_secret "
     "application_credential_id application_credential_name",
     false},
    {"token", core::AuthType::token, "default_domain_id default_domain_name token", true},
    {"v3token", core::AuthType::token, "token", false},
}};

// Python's str.format(**config) for the plain "{name}" fields the openstack loader expands
// (auth_url: "https://{region_name}.example.org:5000/v3"); nullopt for any other field syntax.
std::optional<std::string> format_fields(std::string_view text, const Node& config)
{
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if ((c == '{' || c == '}') && i + 1 < text.size() && text[i + 1] == c) {
      out += text[i++];
      continue;
    }
    if (c != '{') {
      if (c == '}') {
        return std::nullopt;
      }
      out += c;
      continue;
    }
    const auto close = text.find('}', i);
    const std::string_view field = text.substr(i + 1, close - i - 1);
    const Node* value = close == std::string_view::npos || field.empty() ||
                                field.find_first_of("!:.[") != std::string_view::npos
                            ? nullptr
                            : config.find(field);
    if (value == nullptr || (value->kind != Kind::null && !value->is_scalar())) {
      return std::nullopt;
    }
    out += value->kind == Kind::null ? std::string_view("None") : value->view();
    i = close;
  }
  return out;
}

// The resolution of one cloud: Python-like dicts walked through the openstack loader's steps.
class Resolver {
public:
  Resolver(const CloudSource& source, std::vector<std::string>* warnings)
      : m_source(source), m_from_env(source.from_env), m_warnings(warnings)
  {}

  core::Result<core::CloudAuth> run(const Node& cloud);

private:
  // "cloud 'x' (clouds.yaml:3:3)".
  std::string subject() const
  {
    return fmt::format("cloud '{}' ({})", m_source.name, m_source.where);
  }
  core::Error failure(std::string_view what) const
  {
    return core::make_error(core::Errc::config, fmt::format("{}: {}", subject(), what));
  }
  // The name of a field as the operator wrote it: OS_AUTH_URL for the environment's cloud.
  std::string field(std::string_view key) const
  {
    std::string upper(key);
    std::transform(upper.begin(), upper.end(), upper.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    return m_from_env ? "OS_" + upper : std::string(key);
  }
  void problem(std::string text) { m_problems.push_back(std::move(text)); }
  void warn(std::string_view text)
  {
    if (m_warnings != nullptr) {
      m_warnings->push_back(fmt::format("{}: {}", subject(), text));
    }
  }
  // " (file:line:column)" of a node; nothing for the environment, where field() says it all.
  std::string at(const Node& node) const
  {
    const std::string place = node.mark.origin == environment ? "" : m_source.locate(node.mark);
    return place.empty() ? std::string() : " (" + place + ")";
  }

  core::Status apply_region();
  void magic_fixes();
  void fix_backwards_project();
  void handle_domain_id();
  void validate_auth(const AuthPlugin& plugin);
  std::string text_field(const Node& parent, std::string_view key, bool required_string = true);
  core::Secret secret_field(std::string_view key);
  void connection_settings(core::CloudAuth& out);
  void required_fields(const core::CloudAuth& out);

  const CloudSource& m_source;
  bool m_from_env;
  std::vector<std::string>* m_warnings;
  Node m_config; // the cloud's top level, without `auth`
  Node m_auth;   // config['auth'], kept apart so that no pointer into m_config dangles
  std::vector<std::string> m_problems;
};

core::Status Resolver::apply_region()
{
  // _get_known_regions() works on normalize_keys(cloud) of the file's cloud; get_one() then
  // takes the first region and merges its `values` over the config.
  const Node normalized = normalize_keys(m_config);
  Node region_name = Node::make_string("", k_default_mark);
  std::optional<Node> values;
  if (const Node* regions = normalized.find("regions")) {
    if (regions->kind != Kind::sequence) {
      return failure("regions must be a list" + at(*regions));
    }
    if (!regions->items.empty() && regions->items.front().kind == Kind::mapping) {
      const Node& first = regions->items.front();
      if (std::any_of(first.entries.begin(), first.entries.end(), [](const yaml::Entry& entry) {
            return entry.key != "name" && entry.key != "values";
          })) {
        return failure("a region entry takes only name and values" + at(first));
      }
      if (first.find("name") == nullptr) {
        return failure("a region entry needs a name" + at(first));
      }
      region_name = *first.find("name");
      // The raw (not normalized) values, as Python takes them from the list, which
      // normalize_keys does not descend into.
      if (const Node* raw = m_config.find("regions")->items.front().find("values")) {
        values = *raw;
      }
    } else if (!regions->items.empty()) {
      region_name = regions->items.front();
    }
  } else if (const Node* name = normalized.find("region_name")) {
    if (name->kind == Kind::sequence && !name->items.empty()) {
      region_name = name->items.front();
    } else if (name->kind == Kind::string) {
      const auto comma = name->view().find(',');
      if (comma != std::string_view::npos) {
        warn("comma-separated region_name is deprecated; the first region is used (write a "
             "`regions:` list instead)");
      }
      region_name = Node::make_string(name->view().substr(0, comma), name->mark);
    } else if (name->kind != Kind::null && name->kind != Kind::sequence) {
      // (Python would fail on None.split(); a null is no region.)
      return failure("region_name must be a string" + at(*name));
    }
  }
  m_config.pop("regions");
  if (values && values->kind != Kind::mapping) {
    return failure("a region's values must be a mapping" + at(*values));
  }
  for (const auto& entry : values ? values->entries : std::vector<yaml::Entry>{}) {
    if (entry.value.kind == Kind::null) {
      continue;
    }
    if (entry.key != "auth") {
      m_config.set(entry.key, entry.value, entry.key_mark);
      continue;
    }
    if (entry.value.kind != Kind::mapping) {
      return failure("auth must be a mapping" + at(entry.value));
    }
    for (const auto& sub : entry.value.entries) {
      m_auth.set(sub.key, sub.value, sub.key_mark);
    }
  }
  if (region_name.kind != Kind::null) {
    // region['name'] is assigned last (get_one's `args`), so it wins over region values.
    m_config.set("region_name", std::move(region_name));
  }
  return {};
}

void Resolver::fix_backwards_project()
{
  // Later names win; for each name the auth dict beats the top level. Values become str().
  static constexpr std::array<std::pair<std::string_view, std::array<std::string_view, 4>>, 9>
      k_mappings{{
          {"domain_id", {"domain_id", "domain-id"}},
          {"domain_name", {"domain_name", "domain-name"}},
          {"user_domain_id", {"user_domain_id", "user-domain-id"}},
          {"user_domain_name", {"user_domain_name", "user-domain-name"}},
          {"project_domain_id", {"project_domain_id", "project-domain-id"}},
          {"project_domain_name", {"project_domain_name", "project-domain-name"}},
          {"token", {"auth-token", "auth_token", "token"}},
          {"project_id", {"tenant_id", "tenant-id", "project_id", "project-id"}},
          {"project_name", {"tenant_name", "tenant-name", "project_name", "project-name"}},
      }};
  for (const auto& [target_key, sources] : k_mappings) {
    std::optional<Node> target;
    for (const auto source : sources) {
      for (Node* holder : {&m_config, &m_auth}) {
        auto value = source.empty() ? std::nullopt : holder->pop(source);
        if (value && value->kind == Kind::null) {
          target.reset(); // Python would store the string "None"; credrotd: not set
        } else if (value) {
          if (value->kind != Kind::mapping && value->kind != Kind::sequence) {
            value->kind = Kind::string;
          }
          target = std::move(value);
        }
      }
    }
    if (target && target->truthy()) {
      m_auth.set(target_key, std::move(*target));
    }
  }
}

void Resolver::handle_domain_id()
{
  const bool project_scoped =
      m_config.find("project_id") != nullptr || m_config.find("project_name") != nullptr ||
      m_auth.find("project_id") != nullptr || m_auth.find("project_name") != nullptr;
  for (const std::string_view suffix : {"id", "name"}) {
    const std::string target = fmt::format("domain_{}", suffix);
    if (!project_scoped) {
      if (m_config.find(target) != nullptr && m_auth.find(target) == nullptr) {
        m_auth.set(target, *m_config.pop(target));
      }
      continue;
    }
    for (const std::string_view scope : {"user_", "project_"}) {
      const std::string key = std::string(scope) + target;
      if (const Node* value = m_auth.find(target); value != nullptr && !m_auth.find(key)) {
        m_auth.set(key, *value);
      }
    }
    m_config.pop(target);
    m_auth.pop(target);
  }
}

void Resolver::magic_fixes()
{
  // Infer the token from auth_token.
  const Node* top_auth_token = m_config.find("auth_token");
  const Node* top_token = m_config.find("token");
  if (m_auth.find("token") != nullptr || (top_auth_token != nullptr && top_auth_token->truthy()) ||
      (top_token != nullptr && top_token->truthy())) {
    auto popped = m_config.pop("auth_token");
    if (m_config.find("token") == nullptr) {
      m_config.set("token", popped ? std::move(*popped) : Node{});
    }
  }
  if (auto endpoint_type = m_config.pop("endpoint_type")) {
    m_config.set("interface", std::move(*endpoint_type));
  }
  // _fix_backwards_auth_plugin: auth_type beats the legacy auth_plugin.
  auto type = m_config.pop("auth_plugin");
  if (auto value = m_config.pop("auth_type")) {
    type = std::move(value);
  }
  m_config.set("auth_type", type ? std::move(*type) : Node{});
  fix_backwards_project();
  handle_domain_id();
  if (Node* insecure = m_config.find("insecure");
      insecure != nullptr && insecure->kind != Kind::boolean) {
    // get_boolean(): only the string "true" (any case) is true.
    const std::string lowered = core::ascii_lower(insecure->view());
    if (insecure->kind != Kind::null && lowered != "true" && lowered != "false") {
      warn(field("insecure") + " is neither true nor false; the openstack CLI reads it as false" +
           at(*insecure));
    }
    insecure->kind = Kind::boolean;
    insecure->boolean = lowered == "true";
    insecure->text = insecure->boolean ? "True" : "False";
  }
  if (Node* auth_url = m_auth.find("auth_url");
      auth_url != nullptr && auth_url->kind == Kind::string) {
    if (auto formatted = format_fields(auth_url->view(), m_config)) {
      auth_url->text.assign(formatted->data(), formatted->size());
    } else {
      problem(field("auth_url") + " uses {...} in a way credrotd cannot expand" + at(*auth_url));
    }
  }
}

void Resolver::validate_auth(const AuthPlugin& plugin)
{
  const auto options = plugin.options();
  for (const auto option : options) {
    const std::string_view alias = plugin.alias(option);
    const auto find = [&](const Node& holder) {
      const Node* value = holder.find(option);
      return value != nullptr || alias.empty() ? value : holder.find(alias);
    };
    std::optional<Node> winning;
    if (const Node* value = find(m_auth); value != nullptr && value->truthy()) {
      winning = *value;
    } else if (const Node* top = find(m_config); top != nullptr && top->truthy()) {
      winning = *top;
    }
    for (Node* holder : {&m_config, &m_auth}) {
      holder->pop(option);
      if (!alias.empty()) {
        holder->pop(alias);
      }
    }
    if (winning) {
      m_auth.set(option, std::move(*winning));
    }
  }
  // keystoneauth's plugin constructor raises TypeError on any other auth key.
  for (const auto& entry : m_auth.entries) {
    if (std::find(options.begin(), options.end(), entry.key) == options.end()) {
      problem(fmt::format("{} does not apply to auth_type {} (the openstack CLI refuses it too); "
                          "remove it{}",
                          field(entry.key), plugin.name, at(entry.value)));
    }
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

core::Result<core::CloudAuth> Resolver::run(const Node& cloud)
{
  if (cloud.kind != Kind::mapping) {
    return failure("a cloud must be a mapping of settings");
  }
  // Vendor profiles (clouds-public.yaml and openstacksdk's built-in vendor list) supply
  // auth_url and regions; credrotd does not read them, so say so instead of failing later.
  for (const std::string_view key : {"profile", "cloud"}) {
    // The environment's `cloud` is just OS_CLOUD, which get_one() drops.
    if (const Node* profile = cloud.find(key);
        profile != nullptr && profile->truthy() && !(m_from_env && key == "cloud")) {
      return failure(fmt::format("uses the vendor profile `{}`, which credrotd does not read; "
                                 "copy the vendor's auth_url and region_name into the cloud "
                                 "instead{}",
                                 key, at(*profile)));
    }
  }
  // Defaults, then the cloud (_auth_update: the auth mapping is updated, not replaced).
  m_config = Node::make_mapping(cloud.mark);
  m_config.set("auth_type", Node::make_string("password", k_default_mark));
  m_config.set("interface", Node::make_string("public", k_default_mark));
  m_auth = Node::make_mapping(k_default_mark);
  for (const auto& entry : cloud.entries) {
    if (entry.key == "auth" && entry.value.kind != Kind::mapping) {
      return failure("auth must be a mapping" + at(entry.value));
    }
    if (entry.key == "auth") {
      for (const auto& sub : entry.value.entries) {
        m_auth.set(sub.key, sub.value, sub.key_mark);
      }
    } else if (entry.key != "cloud") {
      m_config.set(entry.key, entry.value, entry.key_mark);
    }
  }
  CREDROTD_TRY(apply_region());
  magic_fixes();
  m_config = normalize_keys(m_config);
  m_auth = normalize_keys(m_auth);

  const Node* type_node = m_config.find("auth_type");
  if (type_node != nullptr && type_node->kind != Kind::string && type_node->kind != Kind::null) {
    return failure(field("auth_type") + " must be a string" + at(*type_node));
  }
  const std::string_view type_name =
      type_node != nullptr && type_node->kind == Kind::string ? type_node->view() : "";
  const auto plugin = std::find_if(k_plugins.begin(), k_plugins.end(),
                                   [&](const AuthPlugin& p) { return p.name == type_name; });
  if (plugin == k_plugins.end()) {
    return failure(fmt::format("{} '{}' is not supported by credrotd; use password, v3password, "
                               "v3applicationcredential, token or v3token{}",
                               field("auth_type"), type_name.empty() ? "none" : type_name,
                               type_node != nullptr ? at(*type_node) : std::string()));
  }
  validate_auth(*plugin);
  const Node& auth = m_auth;

  core::CloudAuth out;
  out.name = m_source.name;
  out.source = m_source.where;
  out.auth_type = plugin->type;
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
    if (value != nullptr && plugin->type == core::AuthType::application_credential) {
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

} // namespace

core::Result<core::CloudAuth> resolve_cloud(const yaml::Node& cloud, const CloudSource& source,
                                            std::vector<std::string>* warnings)
{
  return Resolver(source, warnings).run(cloud);
}

} // namespace credrotd::config::detail
