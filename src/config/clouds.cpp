// SPDX-License-Identifier: Apache-2.0
// clouds.yaml + secure.yaml + OS_* found, read and merged the way the openstack CLI
// (openstacksdk 0.101) does it; each cloud is resolved by clouds_resolve.cpp.
#include "config/clouds.hpp"

#include "config/clouds_resolve.hpp"
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

constexpr std::uint8_t k_origin_clouds = detail::clouds_file;
constexpr std::uint8_t k_origin_secure = detail::secure_file;
constexpr std::uint8_t k_origin_env = detail::environment;
constexpr Mark k_default_mark{detail::defaults, 0, 0};

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
    return detail::resolve_cloud(
        *m_env_cloud, {chosen, "the OS_* environment variables", true, m_home, locate}, warnings);
  }
  if (const yaml::Entry* entry = m_clouds.find_entry(chosen)) {
    return detail::resolve_cloud(entry->value,
                                 {chosen, where(entry->key_mark), false, m_home, locate}, warnings);
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
