// SPDX-License-Identifier: Apache-2.0
// One cloud's settings walked through the openstack CLI's loader steps (openstacksdk 0.101
// loader.py, keystoneauth1 5.0 options), for the three auth types credrotd uses.
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

} // namespace

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

namespace {

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

} // namespace

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

core::Result<core::AuthType> Resolver::openstack_steps(const Node& cloud)
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
  return plugin->type;
}

} // namespace credrotd::config::detail
