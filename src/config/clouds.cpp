// SPDX-License-Identifier: Apache-2.0
// clouds.yaml + secure.yaml + OS_* merged and resolved the way the openstack CLI (openstacksdk
// 0.101 loader.py, keystoneauth1 5.0 options) does it, for the three auth types credrotd uses.
#include "config/clouds.hpp"

#include "core/fd.hpp"
#include "core/text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <functional>
#include <sys/stat.h>

namespace credrotd::config {

namespace {

using yaml::Kind;
using yaml::Mark;
using yaml::Node;

// Origins of nodes (yaml::Mark::origin).
constexpr std::uint8_t k_origin_clouds = 0;
constexpr std::uint8_t k_origin_secure = 1;
constexpr std::uint8_t k_origin_env = 2;
constexpr Mark k_default_mark{3, 0, 0};

bool holds_secret(const Node& node)
{
  static constexpr std::array<std::string_view, 6> k_secret_keys{"password",
                                                                 "application_credential_secret",
                                                                 "application-credential-secret",
                                                                 "token",
                                                                 "auth_token",
                                                                 "auth-token"};
  return std::any_of(node.entries.begin(), node.entries.end(),
                     [](const yaml::Entry& entry) {
                       return (std::find(k_secret_keys.begin(), k_secret_keys.end(), entry.key) !=
                                   k_secret_keys.end() &&
                               entry.value.truthy()) ||
                              holds_secret(entry.value);
                     }) ||
         std::any_of(node.items.begin(), node.items.end(), holds_secret);
}

// _util.merge_clouds: nested mappings merged, everything else replaced; `update` wins.
Node merge_clouds(const Node& base, const Node& update)
{
  Node out = base;
  for (const auto& entry : update.entries) {
    // A key already in `base` keeps base's position for messages (clouds.yaml, not secure.yaml).
    const yaml::Entry* existing = base.find_entry(entry.key);
    const Mark key_mark = existing != nullptr ? existing->key_mark : entry.key_mark;
    const bool both_maps = entry.value.kind == Kind::mapping && existing != nullptr &&
                           existing->value.kind == Kind::mapping;
    out.set(entry.key, both_maps ? merge_clouds(existing->value, entry.value) : entry.value,
            key_mark);
  }
  return out;
}

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
  Resolver(std::string name, std::string where, bool from_env, std::string home,
           std::vector<std::string>* warnings, std::function<std::string(const Mark&)> locate)
      : m_name(std::move(name)), m_where(std::move(where)), m_from_env(from_env),
        m_home(std::move(home)), m_warnings(warnings), m_locate(std::move(locate))
  {}

  core::Result<core::CloudAuth> run(const Node& cloud);

private:
  // "cloud 'x' (clouds.yaml:3:3)".
  std::string subject() const { return fmt::format("cloud '{}' ({})", m_name, m_where); }
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
    const std::string place = node.mark.origin == k_origin_env ? "" : m_locate(node.mark);
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

  std::string m_name;
  std::string m_where;
  bool m_from_env;
  std::string m_home;
  std::vector<std::string>* m_warnings;
  std::function<std::string(const Mark&)> m_locate;
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
  out.name = m_name;
  out.source = m_where;
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
      value = m_home + value.substr(1);
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

// Reads a whole file into one string that grows by copying and wiping its old buffer, so no
// stray copy of secure.yaml is left behind (the caller wipes the text once parsed). nullopt and
// the errno on failure.
std::optional<YamlDocument> read_document(const std::string& path, int& error)
{
  const core::Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  struct stat st {};
  if (!fd || ::fstat(fd.get(), &st) != 0 || S_ISDIR(st.st_mode)) {
    error = fd && S_ISDIR(st.st_mode) ? EISDIR : errno;
    return std::nullopt;
  }
  YamlDocument document{path, {}, static_cast<std::uint32_t>(st.st_mode & 07777)};
  std::string& text = document.text;
  text.reserve(static_cast<std::size_t>(std::max<off_t>(st.st_size, 0)) + 1);
  while (true) {
    if (text.size() == text.capacity()) {
      std::string bigger;
      bigger.reserve(2 * text.capacity());
      bigger.append(text);
      core::wipe(text.data(), text.capacity());
      text.swap(bigger);
    }
    const std::size_t used = text.size();
    text.resize(text.capacity());
    const ssize_t n = ::read(fd.get(), text.data() + used, text.size() - used);
    text.resize(used + static_cast<std::size_t>(std::max<ssize_t>(n, 0)));
    if (n == 0) {
      return document;
    }
    if (n < 0 && errno != EINTR) {
      error = errno;
      core::wipe(text.data(), text.capacity());
      return std::nullopt;
    }
  }
}

} // namespace

std::string CloudsConfig::where(const Mark& mark) const
{
  const std::string file = mark.origin == k_origin_clouds   ? m_clouds_file
                           : mark.origin == k_origin_secure ? m_secure_file
                           : mark.origin == k_origin_env    ? "the environment"
                                                            : "";
  if (file.empty() || mark.line == 0 || mark.origin == k_origin_env) {
    return file;
  }
  return fmt::format("{}:{}:{}", file, mark.line, mark.column);
}

core::Result<core::CloudAuth> CloudsConfig::resolve(std::string_view name,
                                                    std::vector<std::string>* warnings) const
{
  const std::string chosen(name.empty() ? std::string_view(m_default_cloud) : name);
  if (chosen.empty()) {
    return core::make_error(core::Errc::config, "no cloud name given and no default cloud (set "
                                                "OS_CLOUD, or name the cloud); " +
                                                    describe_sources());
  }
  const auto locate = [this](const Mark& mark) { return where(mark); };
  if (m_env_cloud && chosen == m_env_cloud_name) {
    return Resolver(chosen, "the OS_* environment variables", true, m_home, warnings, locate)
        .run(*m_env_cloud);
  }
  if (const yaml::Entry* entry = m_clouds.find_entry(chosen)) {
    return Resolver(chosen, where(entry->key_mark), false, m_home, warnings, locate)
        .run(entry->value);
  }
  const auto names = cloud_names();
  return core::make_error(core::Errc::config,
                          fmt::format("cloud '{}' was not found (clouds defined: {}); {}", chosen,
                                      names.empty() ? "none" : core::join(names, ", "),
                                      describe_sources()));
}

std::vector<std::string> CloudsConfig::cloud_names() const
{
  std::vector<std::string> names;
  for (const auto& entry : m_clouds.entries) {
    names.push_back(entry.key);
  }
  if (m_env_cloud) {
    names.push_back(m_env_cloud_name);
  }
  return names;
}

std::string CloudsConfig::default_cloud() const
{
  return m_default_cloud;
}

std::string CloudsConfig::describe_sources() const
{
  std::string out = fmt::format("clouds file: {}, secure file: {}",
                                m_clouds_file.empty() ? "none found" : m_clouds_file,
                                m_secure_file.empty() ? "none found" : m_secure_file);
  if (m_clouds_file.empty()) {
    out += "; searched:";
    for (const auto& candidate : m_clouds_candidates) {
      out += " " + candidate;
    }
  }
  return out;
}

// Parses one file and checks its shape and permissions; its cleared text is wiped.
core::Result<Node> CloudsConfig::take(YamlDocument& document, std::uint8_t origin)
{
  auto parsed = yaml::parse(document.text, document.path, origin);
  core::wipe(document.text.data(), document.text.capacity());
  document.text.clear();
  if (!parsed || parsed->kind == Kind::null) {
    return parsed;
  }
  if (parsed->kind != Kind::mapping) {
    return core::make_error(core::Errc::config,
                            document.path +
                                ": the top level must be a mapping with a `clouds:` key");
  }
  if (const Node* clouds = parsed->find("clouds");
      clouds != nullptr && clouds->kind != Kind::mapping && clouds->kind != Kind::null) {
    return core::make_error(core::Errc::config,
                            where(clouds->mark) +
                                ": `clouds` must be a mapping of cloud names to settings");
  }
  const std::uint32_t mode = document.mode.value_or(0);
  if ((mode & 0022) != 0) {
    m_warnings.push_back(fmt::format("{0} is writable by group or others (mode {1:04o}): whoever "
                                     "can edit it can point auth_url elsewhere and collect the "
                                     "credentials; chmod go-w {0}",
                                     document.path, mode));
  }
  if ((mode & 0044) != 0 && holds_secret(*parsed)) {
    m_warnings.push_back(fmt::format("{0} holds secrets and is readable by group or others (mode "
                                     "{1:04o}); chmod 600 {0}",
                                     document.path, mode));
  }
  return parsed;
}

core::Result<CloudsConfig> parse_clouds(CloudsInput input)
{
  CloudsConfig out;
  out.m_clouds_candidates = std::move(input.clouds_candidates);
  out.m_secure_candidates = std::move(input.secure_candidates);
  out.m_warnings = std::move(input.warnings);
  out.m_home = input.env.home();
  out.m_clouds_file = input.clouds ? input.clouds->path : "";
  out.m_secure_file = input.secure ? input.secure->path : "";

  Node merged = Node::make_mapping(Mark{k_origin_clouds, 1, 1});
  for (auto [document, origin] :
       {std::pair{&input.clouds, k_origin_clouds}, std::pair{&input.secure, k_origin_secure}}) {
    if (*document) {
      CREDROTD_TRY_ASSIGN(auto root, out.take(**document, origin));
      if (root.kind == Kind::mapping) {
        merged = merge_clouds(merged, root);
      }
    }
  }
  auto clouds = merged.pop("clouds");
  out.m_clouds = clouds && clouds->kind == Kind::mapping
                     ? std::move(*clouds)
                     : Node::make_mapping(Mark{k_origin_clouds, 1, 1});

  // The environment's cloud.
  const HostEnvironment& env = input.env;
  if (const std::string* name = env.get("OS_CLOUD_NAME")) {
    out.m_env_cloud_name = *name;
  }
  if (const yaml::Entry* clash = out.m_clouds.find_entry(out.m_env_cloud_name)) {
    return core::make_error(core::Errc::config,
                            fmt::format("{}: defines a cloud named '{}', the name reserved for "
                                        "the OS_* environment variables' cloud (OS_CLOUD_NAME); "
                                        "rename the cloud or set OS_CLOUD_NAME",
                                        out.where(clash->key_mark), out.m_env_cloud_name));
  }
  if (const std::string* cloud = env.get("OS_CLOUD")) {
    out.m_default_cloud = *cloud;
  }
  static constexpr std::array<std::string_view, 5> k_selectors{
      "OS_CLOUD", "OS_REGION_NAME", "OS_CLIENT_CONFIG_FILE", "OS_CLIENT_SECURE_FILE",
      "OS_CLOUD_NAME"};
  const Mark env_mark{k_origin_env, 0, 0};
  Node env_cloud = Node::make_mapping(env_mark);
  env_cloud.set("auth_type", Node::make_string("password", k_default_mark));
  env_cloud.set("interface", Node::make_string("public", k_default_mark));
  bool beyond_selectors = false;
  for (const auto& [key, value] : env.vars) {
    if (key.rfind("OS_", 0) != 0 || key.rfind("OS_TEST", 0) == 0 || key.rfind("OS_STD", 0) == 0 ||
        key.rfind("OS_LOG", 0) == 0) {
      continue;
    }
    env_cloud.set(core::ascii_lower(key.substr(3)), Node::make_string(value, env_mark), env_mark);
    beyond_selectors = beyond_selectors ||
                       std::find(k_selectors.begin(), k_selectors.end(), key) == k_selectors.end();
  }
  if (beyond_selectors) {
    out.m_env_cloud = std::move(env_cloud);
    if (out.m_default_cloud.empty()) {
      out.m_default_cloud = out.m_env_cloud_name;
    }
  }
  if (out.m_default_cloud.empty() && out.m_clouds.entries.size() == 1 && !out.m_env_cloud) {
    out.m_default_cloud = out.m_clouds.entries.front().key;
  }
  return out;
}

std::vector<std::string> clouds_search_dirs(const HostEnvironment& env)
{
  const std::string home = env.home();
  // appdirs.user_config_dir: $XDG_CONFIG_HOME (even when empty) or ~/.config.
  const std::string* xdg_config_home = env.get("XDG_CONFIG_HOME");
  const std::string user_dir =
      (xdg_config_home != nullptr ? *xdg_config_home : home + "/.config") + "/openstack";
  const std::string* snap_home = env.get("SNAP_REAL_HOME");
  const std::string unix_dir =
      (snap_home != nullptr && !snap_home->empty() ? *snap_home : home) + "/.config/openstack";
  // appdirs.site_config_dir(multipath=True): every $XDG_CONFIG_DIRS entry + /openstack, joined
  // with ':' into one (usually non-existent) path when there are several — as Python does.
  const std::string* xdg_config_dirs = env.get("XDG_CONFIG_DIRS");
  const std::string dirs = xdg_config_dirs != nullptr ? *xdg_config_dirs : "/etc/xdg";
  std::vector<std::string> site_dirs;
  for (std::size_t start = 0; start <= dirs.size();) {
    const auto colon = std::min(dirs.find(':', start), dirs.size());
    std::string_view part = std::string_view(dirs).substr(start, colon - start);
    while (part.size() > 1 && part.back() == '/') {
      part.remove_suffix(1);
    }
    site_dirs.push_back(part.empty() ? "openstack" : fmt::format("{}/openstack", part));
    start = colon + 1;
  }
  return {env.cwd, user_dir, unix_dir, core::join(site_dirs, ":"), "/etc/openstack"};
}

std::vector<std::string> clouds_candidates(const HostEnvironment& env, std::string_view stem,
                                           const std::string& override_file)
{
  if (!override_file.empty()) {
    return {override_file};
  }
  std::vector<std::string> out;
  const std::string* file =
      env.get(stem == "secure" ? "OS_CLIENT_SECURE_FILE" : "OS_CLIENT_CONFIG_FILE");
  if (file != nullptr && !file->empty()) {
    out.push_back(*file);
  }
  for (const auto& dir : clouds_search_dirs(env)) {
    for (const std::string_view suffix : {".yaml", ".yml", ".json"}) {
      out.push_back(fmt::format("{}/{}{}", dir, stem, suffix));
    }
  }
  return out;
}

core::Result<CloudsConfig> load_clouds(const HostEnvironment& env, const CloudsFiles& files)
{
  CloudsInput input;
  input.env = env;
  const auto find = [&](std::string_view stem, const std::string& override_file,
                        std::vector<std::string>& candidates,
                        std::optional<YamlDocument>& found) -> core::Status {
    candidates = clouds_candidates(env, stem, override_file);
    for (const auto& candidate : candidates) {
      struct stat st {};
      if (override_file.empty() && ::stat(candidate.c_str(), &st) != 0) {
        continue; // follows symlinks, like os.path.exists
      }
      int error = 0;
      if (auto read = read_document(candidate, error)) {
        found = std::move(read);
        return {};
      }
      if (!override_file.empty()) {
        return core::make_error(core::Errc::io,
                                fmt::format("{}: cannot read: {} (set in [daemon] {}_file)",
                                            candidate, std::strerror(error), stem));
      }
      input.warnings.push_back(
          fmt::format("{}: skipped, cannot read it: {}", candidate, std::strerror(error)));
    }
    return {};
  };
  CREDROTD_TRY(find("clouds", files.clouds_file, input.clouds_candidates, input.clouds));
  CREDROTD_TRY(find("secure", files.secure_file, input.secure_candidates, input.secure));
  return parse_clouds(std::move(input));
}

} // namespace credrotd::config
