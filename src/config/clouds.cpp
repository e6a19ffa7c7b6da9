// SPDX-License-Identifier: Apache-2.0
// The openstack CLI's config loader (openstacksdk 0.101 loader.py + keystoneauth1 5.0 option
// lists) re-done for the three auth types credrotd supports, step for step.
#include "config/clouds.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <functional>
#include <sys/stat.h>
#include <unistd.h>

namespace credrotd::config {

namespace {

using yaml::Kind;
using yaml::Mark;
using yaml::Node;

// Origins of nodes (yaml::Mark::origin).
constexpr std::uint8_t k_origin_clouds = 0;
constexpr std::uint8_t k_origin_secure = 1;
constexpr std::uint8_t k_origin_env = 2;
constexpr std::uint8_t k_origin_default = 3;

constexpr std::array<std::string_view, 6> k_secret_keys{"password",
                                                        "application_credential_secret",
                                                        "application-credential-secret",
                                                        "token",
                                                        "auth_token",
                                                        "auth-token"};

bool is_secret_key(std::string_view key)
{
  return std::find(k_secret_keys.begin(), k_secret_keys.end(), key) != k_secret_keys.end();
}

bool holds_secret(const Node& node)
{
  for (const auto& entry : node.entries) {
    if ((is_secret_key(entry.key) && entry.value.truthy()) || holds_secret(entry.value)) {
      return true;
    }
  }
  for (const auto& item : node.items) {
    if (holds_secret(item)) {
      return true;
    }
  }
  return false;
}

std::string quoted(std::string_view text)
{
  return "'" + std::string(text) + "'";
}

// _util.merge_clouds: nested mappings merged, everything else replaced; `update` wins.
Node merge_clouds(const Node& base, const Node& update)
{
  Node out = base.clone();
  for (const auto& entry : update.entries) {
    // A key already in `base` keeps base's position for messages (clouds.yaml, not secure.yaml).
    const yaml::Entry* existing = base.find_entry(entry.key);
    const Mark key_mark = existing != nullptr ? existing->key_mark : entry.key_mark;
    if (entry.value.kind == Kind::mapping && existing != nullptr &&
        existing->value.kind == Kind::mapping) {
      out.set(entry.key, merge_clouds(existing->value, entry.value), key_mark);
    } else {
      out.set(entry.key, entry.value.clone(), key_mark);
    }
  }
  return out;
}

std::string replace_dashes(std::string_view key)
{
  std::string out(key);
  std::replace(out.begin(), out.end(), '-', '_');
  return out;
}

// _util.normalize_keys: '-' → '_' in keys (recursively through mappings), numbers → strings.
Node normalize_keys(const Node& node)
{
  Node out = Node::make_mapping(node.mark);
  for (const auto& entry : node.entries) {
    Node value;
    if (entry.value.kind == Kind::mapping) {
      value = normalize_keys(entry.value);
    } else {
      value = entry.value.clone();
      if (value.kind == Kind::integer || value.kind == Kind::floating) {
        value.kind = Kind::string;
      }
    }
    out.set(replace_dashes(entry.key), std::move(value), entry.key_mark);
  }
  return out;
}

// One keystoneauth1 plugin option: its name (dashes as underscores) and deprecated aliases.
struct PluginOption {
  std::string_view name;
  std::array<std::string_view, 1> deprecated{};
};

// keystoneauth1 5.0 loader.get_options(), in its order (the order matters: _validate_auth
// walks it).
constexpr std::array<PluginOption, 16> k_password_options{{{"auth_url"},
                                                           {"system_scope"},
                                                           {"domain_id"},
                                                           {"domain_name"},
                                                           {"project_id", {"tenant_id"}},
                                                           {"project_name", {"tenant_name"}},
                                                           {"project_domain_id"},
                                                           {"project_domain_name"},
                                                           {"trust_id"},
                                                           {"default_domain_id"},
                                                           {"default_domain_name"},
                                                           {"user_id"},
                                                           {"username", {"user_name"}},
                                                           {"user_domain_id"},
                                                           {"user_domain_name"},
                                                           {"password"}}};
constexpr std::array<PluginOption, 14> k_v3password_options{{{"auth_url"},
                                                             {"system_scope"},
                                                             {"domain_id"},
                                                             {"domain_name"},
                                                             {"project_id"},
                                                             {"project_name"},
                                                             {"project_domain_id"},
                                                             {"project_domain_name"},
                                                             {"trust_id"},
                                                             {"user_id"},
                                                             {"username", {"user_name"}},
                                                             {"user_domain_id"},
                                                             {"user_domain_name"},
                                                             {"password"}}};
constexpr std::array<PluginOption, 16> k_appcred_options{{{"auth_url"},
                                                          {"system_scope"},
                                                          {"domain_id"},
                                                          {"domain_name"},
                                                          {"project_id"},
                                                          {"project_name"},
                                                          {"project_domain_id"},
                                                          {"project_domain_name"},
                                                          {"trust_id"},
                                                          {"user_id"},
                                                          {"username", {"user_name"}},
                                                          {"user_domain_id"},
                                                          {"user_domain_name"},
                                                          {"application_credential_secret"},
                                                          {"application_credential_id"},
                                                          {"application_credential_name"}}};
constexpr std::array<PluginOption, 12> k_token_options{{{"auth_url"},
                                                        {"system_scope"},
                                                        {"domain_id"},
                                                        {"domain_name"},
                                                        {"project_id", {"tenant_id"}},
                                                        {"project_name", {"tenant_name"}},
                                                        {"project_domain_id"},
                                                        {"project_domain_name"},
                                                        {"trust_id"},
                                                        {"default_domain_id"},
                                                        {"default_domain_name"},
                                                        {"token"}}};
constexpr std::array<PluginOption, 10> k_v3token_options{{{"auth_url"},
                                                          {"system_scope"},
                                                          {"domain_id"},
                                                          {"domain_name"},
                                                          {"project_id"},
                                                          {"project_name"},
                                                          {"project_domain_id"},
                                                          {"project_domain_name"},
                                                          {"trust_id"},
                                                          {"token"}}};

struct AuthPlugin {
  std::string_view name;
  core::AuthType type;
  const PluginOption* options;
  std::size_t option_count;
};

constexpr std::array<AuthPlugin, 5> k_plugins{{
    {"password", core::AuthType::password, k_password_options.data(), k_password_options.size()},
    {"v3password", core::AuthType::password, k_v3password_options.data(),
     k_v3password_options.size()},
    {"v3applicationcredential", core::AuthType::application_credential, k_appcred_options.data(),
     k_appcred_options.size()},
    {"token", core::AuthType::token, k_token_options.data(), k_token_options.size()},
    {"v3token", core::AuthType::token, k_v3token_options.data(), k_v3token_options.size()},
}};

// Python's str.format(**config) for the simple "{name}" fields the openstack loader expands
// (e.g. auth_url: "https://{region_name}.example.org:5000/v3"). nullopt when the template
// uses anything else (Python would raise too, or do something credrotd should not guess).
std::optional<std::string> python_format(std::string_view text, const Node& config)
{
  if (text.find_first_of("{}") == std::string_view::npos) {
    return std::string(text);
  }
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '{' && i + 1 < text.size() && text[i + 1] == '{') {
      out += '{';
      ++i;
    } else if (c == '}' && i + 1 < text.size() && text[i + 1] == '}') {
      out += '}';
      ++i;
    } else if (c == '{') {
      const auto close = text.find('}', i);
      if (close == std::string_view::npos) {
        return std::nullopt;
      }
      const std::string_view field = text.substr(i + 1, close - i - 1);
      const Node* value = config.find(field);
      if (field.empty() || value == nullptr ||
          field.find_first_of("!:.[") != std::string_view::npos) {
        return std::nullopt;
      }
      if (value->kind == Kind::null) {
        out += "None";
      } else if (value->is_scalar()) {
        out.append(value->text.data(), value->text.size());
      } else {
        return std::nullopt;
      }
      i = close;
    } else if (c == '}') {
      return std::nullopt;
    } else {
      out += c;
    }
  }
  return out;
}

// The resolution of one cloud: a mutable Python-like dict walked through the loader's steps.
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
  std::string subject() const { return "cloud " + quoted(m_name) + " (" + m_where + ")"; }
  // The name of a field as the operator wrote it: OS_AUTH_URL for the environment's cloud.
  std::string field(std::string_view key) const
  {
    if (!m_from_env) {
      return std::string(key);
    }
    std::string out = "OS_";
    for (const char c : key) {
      out += static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
    }
    return out;
  }
  void problem(std::string text) { m_problems.push_back(std::move(text)); }
  void warn(std::string text)
  {
    if (m_warnings != nullptr) {
      m_warnings->push_back(subject() + ": " + std::move(text));
    }
  }
  // " (file:line:column)" of a node; nothing for the environment, where field() says it all.
  std::string at(const Node& node) const
  {
    if (node.mark.origin == k_origin_env) {
      return {};
    }
    const std::string place = m_locate(node.mark);
    return place.empty() ? std::string() : " (" + place + ")";
  }

  core::Status apply_region();
  void magic_fixes();
  void fix_backwards_project();
  void handle_domain_id();
  core::Status validate_auth(const AuthPlugin& plugin);
  std::string text_field(const Node& parent, std::string_view key, bool required_string = true);
  core::Secret secret_field(std::string_view key);

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
  Node region_name = Node::make_string("", Mark{k_origin_default, 0, 0});
  std::optional<Node> values;
  if (const Node* regions = normalized.find("regions")) {
    if (regions->kind != Kind::sequence) {
      return core::make_error(core::Errc::config,
                              subject() + ": regions must be a list" + at(*regions));
    }
    if (!regions->items.empty()) {
      const Node& first = regions->items.front();
      if (first.kind == Kind::mapping) {
        const Node* name = first.find("name");
        for (const auto& entry : first.entries) {
          if (entry.key != "name" && entry.key != "values") {
            return core::make_error(core::Errc::config,
                                    subject() + ": a region entry takes only name and values" +
                                        at(first));
          }
        }
        if (name == nullptr) {
          return core::make_error(core::Errc::config,
                                  subject() + ": a region entry needs a name" + at(first));
        }
        region_name = name->clone();
        // The raw (not normalized) values, as Python takes them from the list, which
        // normalize_keys does not descend into.
        if (const Node* raw = m_config.find("regions")->items.front().find("values")) {
          values = raw->clone();
        }
      } else {
        region_name = first.clone();
      }
    }
  } else if (const Node* name = normalized.find("region_name")) {
    if (name->kind == Kind::sequence) {
      if (!name->items.empty()) {
        region_name = name->items.front().clone();
      }
    } else if (name->kind == Kind::string) {
      const std::string_view text = name->view();
      const auto comma = text.find(',');
      if (comma != std::string_view::npos) {
        warn("comma-separated region_name is deprecated; the first region is used (write a "
             "`regions:` list instead)");
      }
      region_name = Node::make_string(text.substr(0, comma), name->mark);
    } else if (name->kind == Kind::null) {
      // Python would fail on None.split(); treat as no region.
    } else {
      return core::make_error(core::Errc::config,
                              subject() + ": region_name must be a string" + at(*name));
    }
  }
  m_config.pop("regions");
  if (values) {
    if (values->kind != Kind::mapping) {
      return core::make_error(core::Errc::config,
                              subject() + ": a region's values must be a mapping" + at(*values));
    }
    for (const auto& entry : values->entries) {
      if (entry.value.kind == Kind::null) {
        continue;
      }
      if (entry.key == "auth") {
        if (entry.value.kind != Kind::mapping) {
          return core::make_error(core::Errc::config,
                                  subject() + ": auth must be a mapping" + at(entry.value));
        }
        for (const auto& sub : entry.value.entries) {
          m_auth.set(sub.key, sub.value.clone(), sub.key_mark);
        }
      } else {
        m_config.set(entry.key, entry.value.clone(), entry.key_mark);
      }
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
  struct Mapping {
    std::string_view target;
    std::array<std::string_view, 4> sources;
  };
  static constexpr std::array<Mapping, 9> k_mappings{{
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
  for (const auto& mapping : k_mappings) {
    std::optional<Node> target;
    for (const auto source : mapping.sources) {
      if (source.empty()) {
        continue;
      }
      for (Node* holder : {&m_config, &m_auth}) {
        if (auto value = holder->pop(source)) {
          if (value->kind == Kind::null) {
            // Python would store the string "None"; credrotd treats null as "not set".
            target.reset();
          } else {
            if (value->kind != Kind::mapping && value->kind != Kind::sequence) {
              value->kind = Kind::string;
            }
            target = std::move(value);
          }
        }
      }
    }
    if (target && target->truthy()) {
      m_auth.set(mapping.target, std::move(*target));
    }
  }
}

void Resolver::handle_domain_id()
{
  Node* auth = &m_auth;
  const bool project_scoped =
      m_config.find("project_id") != nullptr || m_config.find("project_name") != nullptr ||
      auth->find("project_id") != nullptr || auth->find("project_name") != nullptr;
  static constexpr std::array<std::array<std::string_view, 3>, 2> k_mappings{{
      {"domain_id", "user_domain_id", "project_domain_id"},
      {"domain_name", "user_domain_name", "project_domain_name"},
  }};
  for (const auto& mapping : k_mappings) {
    const std::string_view target = mapping[0];
    if (!project_scoped) {
      if (m_config.find(target) != nullptr && auth->find(target) == nullptr) {
        auth->set(target, *m_config.pop(target));
      }
      continue;
    }
    for (std::size_t i = 1; i < mapping.size(); ++i) {
      if (const Node* value = auth->find(target);
          value != nullptr && auth->find(mapping[i]) == nullptr) {
        auth->set(mapping[i], value->clone());
      }
    }
    m_config.pop(target);
    auth->pop(target);
  }
}

void Resolver::magic_fixes()
{
  Node* auth = &m_auth;
  // Infer the token from auth_token.
  const Node* top_auth_token = m_config.find("auth_token");
  const Node* top_token = m_config.find("token");
  if (auth->find("token") != nullptr || (top_auth_token != nullptr && top_auth_token->truthy()) ||
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
  {
    std::optional<Node> type;
    for (const std::string_view key : {"auth_plugin", "auth_type"}) {
      if (auto value = m_config.pop(key)) {
        type = std::move(value);
      }
    }
    m_config.set("auth_type", type ? std::move(*type) : Node{});
  }
  fix_backwards_project();
  handle_domain_id();
  if (Node* insecure = m_config.find("insecure");
      insecure != nullptr && insecure->kind != Kind::boolean) {
    // get_boolean(): only the string "true" (any case) is true.
    std::string lowered(insecure->view());
    std::transform(lowered.begin(), lowered.end(), lowered.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (insecure->kind != Kind::null && lowered != "true" && lowered != "false") {
      warn(field("insecure") + " is neither true nor false; the openstack CLI reads it as false" +
           at(*insecure));
    }
    const bool value = lowered == "true";
    const Mark mark = insecure->mark;
    *insecure = Node{};
    insecure->kind = Kind::boolean;
    insecure->boolean = value;
    insecure->text = value ? "True" : "False";
    insecure->mark = mark;
  }
  if (Node* auth_url = auth->find("auth_url");
      auth_url != nullptr && auth_url->kind == Kind::string) {
    if (auto formatted = python_format(auth_url->view(), m_config)) {
      auth_url->text.assign(formatted->data(), formatted->size());
    } else {
      problem(field("auth_url") + " uses {...} in a way credrotd cannot expand" + at(*auth_url));
    }
  }
}

core::Status Resolver::validate_auth(const AuthPlugin& plugin)
{
  Node* auth = &m_auth;
  for (std::size_t i = 0; i < plugin.option_count; ++i) {
    const PluginOption& option = plugin.options[i];
    const auto find_winning = [&](const Node& holder) -> const Node* {
      if (const Node* value = holder.find(option.name)) {
        return value;
      }
      for (const auto name : option.deprecated) {
        if (!name.empty()) {
          if (const Node* value = holder.find(name)) {
            return value;
          }
        }
      }
      return nullptr;
    };
    std::optional<Node> winning;
    if (const Node* value = find_winning(*auth); value != nullptr && value->truthy()) {
      winning = value->clone();
    } else if (const Node* top = find_winning(m_config); top != nullptr && top->truthy()) {
      winning = top->clone();
    }
    m_config.pop(option.name);
    auth->pop(option.name);
    for (const auto name : option.deprecated) {
      if (!name.empty()) {
        m_config.pop(name);
        auth->pop(name);
      }
    }
    if (winning) {
      auth->set(option.name, std::move(*winning));
    }
  }
  // keystoneauth's plugin constructor raises TypeError on any other auth key.
  for (const auto& entry : auth->entries) {
    bool known = false;
    for (std::size_t i = 0; i < plugin.option_count; ++i) {
      known = known || plugin.options[i].name == entry.key;
    }
    if (known) {
      continue;
    }
    problem(field(entry.key) + " does not apply to auth_type " + std::string(plugin.name) +
            " (the openstack CLI refuses it too); remove it" + at(entry.value));
  }
  return {};
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
    return core::make_error(core::Errc::config,
                            subject() + ": a cloud must be a mapping of settings");
  }
  // Vendor profiles (clouds-public.yaml and openstacksdk's built-in vendor list) supply
  // auth_url and regions; credrotd does not read them, so say so instead of failing later.
  for (const std::string_view key : {"profile", "cloud"}) {
    // The environment's `cloud` is just OS_CLOUD, which get_one() drops.
    if (const Node* profile = cloud.find(key);
        profile != nullptr && profile->truthy() && !(m_from_env && key == "cloud")) {
      return core::make_error(core::Errc::config,
                              subject() + ": uses the vendor profile `" + std::string(key) +
                                  "`, which credrotd does not read; copy the vendor's auth_url "
                                  "and region_name into the cloud instead" +
                                  at(*profile));
    }
  }
  // Defaults, then the cloud (_auth_update: the auth mapping is updated, not replaced).
  const Mark default_mark{k_origin_default, 0, 0};
  m_config = Node::make_mapping(cloud.mark);
  m_config.set("auth_type", Node::make_string("password", default_mark));
  m_config.set("interface", Node::make_string("public", default_mark));
  m_auth = Node::make_mapping(default_mark);
  for (const auto& entry : cloud.entries) {
    if (entry.key == "auth") {
      if (entry.value.kind != Kind::mapping) {
        return core::make_error(core::Errc::config,
                                subject() + ": auth must be a mapping" + at(entry.value));
      }
      for (const auto& sub : entry.value.entries) {
        m_auth.set(sub.key, sub.value.clone(), sub.key_mark);
      }
    } else if (entry.key != "cloud") {
      m_config.set(entry.key, entry.value.clone(), entry.key_mark);
    }
  }
  CREDROTD_TRY(apply_region());
  magic_fixes();
  m_config = normalize_keys(m_config);
  m_auth = normalize_keys(m_auth);

  // The auth plugin.
  const Node* type_node = m_config.find("auth_type");
  std::string type_name;
  if (type_node != nullptr && type_node->kind == Kind::string) {
    type_name = std::string(type_node->view());
  } else if (type_node != nullptr && type_node->kind != Kind::null) {
    return core::make_error(core::Errc::config, subject() + ": " + field("auth_type") +
                                                    " must be a string" + at(*type_node));
  }
  const AuthPlugin* plugin = nullptr;
  for (const auto& candidate : k_plugins) {
    if (candidate.name == type_name) {
      plugin = &candidate;
    }
  }
  if (plugin == nullptr) {
    return core::make_error(core::Errc::config,
                            subject() + ": " + field("auth_type") + " " +
                                quoted(type_name.empty() ? "none" : type_name) +
                                " is not supported by credrotd; use password, v3password, "
                                "v3applicationcredential, token or v3token" +
                                (type_node != nullptr ? at(*type_node) : std::string()));
  }
  CREDROTD_TRY(validate_auth(*plugin));
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
    if (const Node* value = auth.find(key)) {
      if (plugin->type == core::AuthType::application_credential) {
        problem(field(key) +
                " does not apply to an application credential (its scope is "
                "fixed); remove it" +
                at(*value));
      } else {
        problem(field(key) +
                " without a project asks for a domain-scoped token, which cannot manage EC2 "
                "credentials; add project_name (with project_domain_name) or project_id, or use "
                "user_domain_" +
                std::string(key.substr(7)) + " if you meant the user's domain" + at(*value));
      }
    }
  }
  // keystoneauth's generic plugins use default_domain_* for both the user and the project.
  const std::string default_domain_id = text_field(auth, "default_domain_id");
  const std::string default_domain_name = text_field(auth, "default_domain_name");
  if (!default_domain_id.empty() || !default_domain_name.empty()) {
    if (out.user_domain_id.empty() && out.user_domain_name.empty()) {
      out.user_domain_id = default_domain_id;
      out.user_domain_name = default_domain_name;
    }
    if (out.project_domain_id.empty() && out.project_domain_name.empty()) {
      out.project_domain_id = default_domain_id;
      out.project_domain_name = default_domain_name;
    }
  }

  // Connection settings (top level).
  out.region_name = text_field(m_config, "region_name");
  const std::string interface = text_field(m_config, "interface");
  if (interface == "public" || interface == "publicURL" || interface.empty()) {
    out.interface = core::Interface::public_;
  } else if (interface == "internal" || interface == "internalURL") {
    out.interface = core::Interface::internal;
  } else if (interface == "admin" || interface == "adminURL") {
    out.interface = core::Interface::admin;
  } else {
    problem(field("interface") + " " + quoted(interface) + " is not public, internal or admin" +
            at(*m_config.find("interface")));
  }
  bool verify = true;
  if (const Node* node = m_config.find("verify")) {
    if (node->kind == Kind::boolean) {
      verify = node->boolean;
    } else if (node->kind != Kind::null) {
      problem(field("verify") + " must be true or false (unquoted)" +
              (m_from_env ? std::string("; use OS_INSECURE=true to turn verification off")
                          : std::string()) +
              at(*node));
    }
  }
  if (const Node* node = m_config.find("insecure"); node != nullptr && node->boolean) {
    verify = false;
  }
  out.verify = verify;
  const auto expand_user = [&](std::string path) {
    if (path == "~" || path.rfind("~/", 0) == 0) {
      path = m_home + path.substr(1);
    }
    return path;
  };
  for (const std::string_view key : {"cacert", "cert", "key"}) {
    std::string value = text_field(m_config, key);
    if (value.find_first_of("{}") != std::string::npos) {
      if (auto formatted = python_format(value, m_config)) {
        value = *formatted;
      } else {
        problem(field(key) + " uses {...} in a way credrotd cannot expand" +
                at(*m_config.find(key)));
      }
    }
    value = expand_user(value);
    if (!value.empty() && value.front() != '/') {
      warn(field(key) +
           " is a relative path; it is read relative to credrotd's working "
           "directory" +
           at(*m_config.find(key)));
    }
    if (key == "cacert") {
      out.cacert = value;
    } else if (key == "cert") {
      out.cert = value;
    } else {
      out.key = value;
    }
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

  // What each auth type needs, said as what to add.
  const std::string secret_home =
      m_from_env ? std::string() : std::string(" (in secure.yaml, mode 0600)");
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
      problem("add " + field("username") + " (with " + field("user_domain_name") + ") or " +
              field("user_id"));
    }
    break;
  case core::AuthType::application_credential:
    if (out.application_credential_secret.empty()) {
      problem("add " + field("application_credential_secret") + secret_home);
    }
    if (out.application_credential_id.empty()) {
      if (out.application_credential_name.empty()) {
        problem("add " + field("application_credential_id") + " (or " +
                field("application_credential_name") + " with " + field("user_id") + " or " +
                field("username") + ")");
      } else if (out.user_id.empty() && out.username.empty()) {
        problem("add " + field("user_id") + " or " + field("username") + " (with " +
                field("user_domain_name") + "): " + field("application_credential_name") +
                " is only unique per user");
      }
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
    problem("add " + field("user_domain_name") + " (e.g. Default) or " + field("user_domain_id") +
            ": a username is only unique within its domain");
  }
  if (!out.project_name.empty() && out.project_id.empty() && out.project_domain_name.empty() &&
      out.project_domain_id.empty()) {
    problem("add " + field("project_domain_name") + " (e.g. Default) or " +
            field("project_domain_id") + ": a project name is only unique within its domain");
  }

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
    std::string message = subject() + ": ";
    for (std::size_t i = 0; i < m_problems.size(); ++i) {
      message += (i == 0 ? "" : "; ") + m_problems[i];
    }
    return core::make_error(core::Errc::config, std::move(message));
  }
  return out;
}

bool file_exists(const std::string& path)
{
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0; // follows symlinks, like os.path.exists
}

// Reads a whole file. nullopt + errno-like reason on failure.
struct ReadResult {
  std::optional<YamlDocument> document;
  int error = 0;
};

ReadResult read_document(const std::string& path)
{
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return {std::nullopt, errno};
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int error = errno;
    ::close(fd);
    return {std::nullopt, error};
  }
  if (S_ISDIR(st.st_mode)) {
    ::close(fd);
    return {std::nullopt, EISDIR};
  }
  YamlDocument document;
  document.path = path;
  document.mode = static_cast<std::uint32_t>(st.st_mode & 07777);
  std::array<char, 8192> buffer{};
  while (true) {
    const ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      const int error = errno;
      ::close(fd);
      core::wipe(buffer.data(), buffer.size());
      return {std::nullopt, error};
    }
    if (n == 0) {
      break;
    }
    // Grow in place; the wiping of the text happens after parsing (parse_clouds).
    document.text.append(buffer.data(), static_cast<std::size_t>(n));
  }
  core::wipe(buffer.data(), buffer.size());
  ::close(fd);
  return {std::move(document), 0};
}

void wipe_string(std::string& text)
{
  core::wipe(text.data(), text.capacity());
  text.clear();
}

std::string mode_string(std::uint32_t mode)
{
  std::array<char, 16> buffer{};
  std::snprintf(buffer.data(), buffer.size(), "%04o", mode & 07777U);
  return buffer.data();
}

} // namespace

std::string CloudsConfig::origin_name(std::uint8_t origin) const
{
  switch (origin) {
  case k_origin_clouds:
    return m_clouds_file;
  case k_origin_secure:
    return m_secure_file;
  case k_origin_env:
    return "the environment";
  default:
    return {};
  }
}

std::string CloudsConfig::where(const Mark& mark) const
{
  std::string out = origin_name(mark.origin);
  if (!out.empty() && mark.line != 0 && mark.origin != k_origin_env) {
    out += ':' + std::to_string(mark.line) + ':' + std::to_string(mark.column);
  }
  return out;
}

core::Result<core::CloudAuth> CloudsConfig::resolve(std::string_view name,
                                                    std::vector<std::string>* warnings) const
{
  std::string chosen(name);
  if (chosen.empty()) {
    chosen = m_default_cloud;
    if (chosen.empty()) {
      return core::make_error(core::Errc::config,
                              "no cloud name given and no default cloud (set OS_CLOUD, or name "
                              "the cloud); " +
                                  describe_sources());
    }
  }
  const Node* cloud = nullptr;
  std::string place;
  bool from_env = false;
  if (m_env_cloud && chosen == m_env_cloud_name) {
    cloud = &*m_env_cloud;
    place = "the OS_* environment variables";
    from_env = true;
  } else if (const yaml::Entry* entry = m_clouds.find_entry(chosen)) {
    cloud = &entry->value;
    place = where(entry->key_mark);
  }
  if (cloud == nullptr) {
    std::string known;
    for (const auto& cloud_name : cloud_names()) {
      known += (known.empty() ? "" : ", ") + cloud_name;
    }
    return core::make_error(core::Errc::config, "cloud " + quoted(chosen) +
                                                    " was not found (clouds defined: " +
                                                    (known.empty() ? std::string("none") : known) +
                                                    "); " + describe_sources());
  }
  Resolver resolver(chosen, place, from_env, m_home, warnings,
                    [this](const Mark& mark) { return where(mark); });
  return resolver.run(*cloud);
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
  std::string out = "clouds file: " + (m_clouds_file.empty() ? "none found" : m_clouds_file);
  out += ", secure file: " + (m_secure_file.empty() ? "none found" : m_secure_file);
  if (m_clouds_file.empty()) {
    out += "; searched:";
    for (const auto& candidate : m_clouds_candidates) {
      out += " " + candidate;
    }
  }
  return out;
}

core::Result<CloudsConfig> parse_clouds(CloudsInput input)
{
  CloudsConfig out;
  out.m_clouds_candidates = std::move(input.clouds_candidates);
  out.m_secure_candidates = std::move(input.secure_candidates);
  out.m_warnings = std::move(input.warnings);
  out.m_home = input.env.home();

  Node merged = Node::make_mapping(Mark{k_origin_clouds, 1, 1});
  const auto take = [&](std::optional<YamlDocument>& document, std::uint8_t origin,
                        std::string& file_member) -> core::Status {
    if (!document) {
      return {};
    }
    file_member = document->path;
    auto parsed = yaml::parse(document->text, document->path, origin);
    wipe_string(document->text);
    if (!parsed) {
      return parsed.error();
    }
    Node root = std::move(*parsed);
    if (root.kind == Kind::null) {
      return {};
    }
    if (root.kind != Kind::mapping) {
      return core::make_error(core::Errc::config,
                              document->path +
                                  ": the top level must be a mapping with a `clouds:` key");
    }
    if (const Node* clouds = root.find("clouds");
        clouds != nullptr && clouds->kind != Kind::mapping && clouds->kind != Kind::null) {
      return core::make_error(core::Errc::config, out.where(clouds->mark) +
                                                      ": `clouds` must be a mapping of cloud "
                                                      "names to settings");
    }
    if (document->mode) {
      const std::uint32_t mode = *document->mode;
      if ((mode & 0022) != 0) {
        out.m_warnings.push_back(document->path + " is writable by group or others (mode " +
                                 mode_string(mode) +
                                 "): whoever can edit it can point auth_url elsewhere and "
                                 "collect the credentials; chmod go-w " +
                                 document->path);
      }
      if ((mode & 0044) != 0 && holds_secret(root)) {
        out.m_warnings.push_back(document->path +
                                 " holds secrets and is readable by group or "
                                 "others (mode " +
                                 mode_string(mode) + "); chmod 600 " + document->path);
      }
    }
    merged = merge_clouds(merged, root);
    return {};
  };
  CREDROTD_TRY(take(input.clouds, k_origin_clouds, out.m_clouds_file));
  CREDROTD_TRY(take(input.secure, k_origin_secure, out.m_secure_file));
  if (auto clouds = merged.pop("clouds"); clouds && clouds->kind == Kind::mapping) {
    out.m_clouds = std::move(*clouds);
  } else {
    out.m_clouds = Node::make_mapping(Mark{k_origin_clouds, 1, 1});
  }

  // The environment's cloud.
  const HostEnvironment& env = input.env;
  if (const std::string* name = env.get("OS_CLOUD_NAME")) {
    out.m_env_cloud_name = *name;
  }
  if (const yaml::Entry* clash = out.m_clouds.find_entry(out.m_env_cloud_name)) {
    return core::make_error(core::Errc::config,
                            out.where(clash->key_mark) + ": defines a cloud named " +
                                quoted(out.m_env_cloud_name) +
                                ", the name reserved for the OS_* environment variables' cloud "
                                "(OS_CLOUD_NAME); rename the cloud or set OS_CLOUD_NAME");
  }
  if (const std::string* cloud = env.get("OS_CLOUD")) {
    out.m_default_cloud = *cloud;
  }
  static constexpr std::array<std::string_view, 5> k_selectors{
      "OS_CLOUD", "OS_REGION_NAME", "OS_CLIENT_CONFIG_FILE", "OS_CLIENT_SECURE_FILE",
      "OS_CLOUD_NAME"};
  Node env_cloud = Node::make_mapping(Mark{k_origin_env, 0, 0});
  env_cloud.set("auth_type", Node::make_string("password", Mark{k_origin_default, 0, 0}));
  env_cloud.set("interface", Node::make_string("public", Mark{k_origin_default, 0, 0}));
  bool beyond_selectors = false;
  for (const auto& [key, value] : env.vars) {
    if (key.rfind("OS_", 0) != 0 || key.rfind("OS_TEST", 0) == 0 || key.rfind("OS_STD", 0) == 0 ||
        key.rfind("OS_LOG", 0) == 0) {
      continue;
    }
    std::string lowered = key.substr(3);
    std::transform(lowered.begin(), lowered.end(), lowered.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    env_cloud.set(lowered, Node::make_string(value, Mark{k_origin_env, 0, 0}),
                  Mark{k_origin_env, 0, 0});
    if (std::find(k_selectors.begin(), k_selectors.end(), key) == k_selectors.end()) {
      beyond_selectors = true;
    }
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
  std::string site_dir;
  std::size_t start = 0;
  while (true) {
    const auto colon = dirs.find(':', start);
    std::string part =
        dirs.substr(start, colon == std::string::npos ? std::string::npos : colon - start);
    while (part.size() > 1 && part.back() == '/') {
      part.pop_back();
    }
    if (!site_dir.empty() || start != 0) {
      site_dir += ':';
    }
    site_dir += part.empty() ? std::string("openstack") : part + "/openstack";
    if (colon == std::string::npos) {
      break;
    }
    start = colon + 1;
  }
  return {env.cwd, user_dir, unix_dir, site_dir, "/etc/openstack"};
}

std::vector<std::string> clouds_candidates(const HostEnvironment& env, std::string_view stem,
                                           const std::string& override_file)
{
  if (!override_file.empty()) {
    return {override_file};
  }
  std::vector<std::string> out;
  const std::string_view variable =
      stem == "secure" ? "OS_CLIENT_SECURE_FILE" : "OS_CLIENT_CONFIG_FILE";
  if (const std::string* file = env.get(variable); file != nullptr && !file->empty()) {
    out.push_back(*file);
  }
  for (const auto& dir : clouds_search_dirs(env)) {
    for (const std::string_view suffix : {".yaml", ".yml", ".json"}) {
      out.push_back(dir + "/" + std::string(stem) + std::string(suffix));
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
      if (override_file.empty() && !file_exists(candidate)) {
        continue;
      }
      ReadResult read = read_document(candidate);
      if (read.document) {
        found = std::move(read.document);
        return {};
      }
      if (!override_file.empty()) {
        return core::make_error(core::Errc::io,
                                candidate + ": cannot read: " + std::strerror(read.error) +
                                    " (set in [daemon] " + std::string(stem) + "_file)");
      }
      input.warnings.push_back(candidate +
                               ": skipped, cannot read it: " + std::strerror(read.error));
    }
    return {};
  };
  CREDROTD_TRY(find("clouds", files.clouds_file, input.clouds_candidates, input.clouds));
  CREDROTD_TRY(find("secure", files.secure_file, input.secure_candidates, input.secure));
  return parse_clouds(std::move(input));
}

} // namespace credrotd::config
