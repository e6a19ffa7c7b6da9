// SPDX-License-Identifier: Apache-2.0
// The credrotd.toml loader: files and drop-ins, the top level and [daemon], inline secrets.
#include "config/config_file.hpp"

#include "config/config_reader.hpp"
#include "config/secret_file.hpp"
#include "core/fd.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <sys/stat.h>
#include <unistd.h>

namespace credrotd::config {

namespace {

using namespace detail;
using core::DaemonSettings;

using DaemonKey = Key<DaemonSettings>;

const std::array<DaemonKey, 5> k_daemon_keys{{
    {"state_dir", store(&DaemonSettings::state_dir, path(EmptyOk::no))},
    {"max_concurrent", store(&DaemonSettings::max_concurrent,
                             [](Reader& r, const toml::node& n) { return r.integer(n, 1, 64); })},
    {"metrics_file", store(&DaemonSettings::metrics_file, path(EmptyOk::yes))},
    {"clouds_file", store(&DaemonSettings::clouds_file, path(EmptyOk::yes))},
    {"secure_file", store(&DaemonSettings::secure_file, path(EmptyOk::yes))},
}};

void read_daemon(Diagnostics& diagnostics, const std::string& file, const toml::table& table,
                 DaemonSettings& daemon)
{
  Reader reader(diagnostics, file, "[daemon]");
  Where where;
  read_keys(reader, table, k_daemon_keys, daemon, where,
            [&](const toml::key& key, const toml::node&) {
              unknown_key(diagnostics, file, key, "[daemon]", names_of(k_daemon_keys),
                          is_setting_key(key.str())
                              ? fmt::format("{} is a profile option; put it in [defaults] or a "
                                            "[profile.NAME]",
                                            key.str())
                              : std::string());
              return false;
            });
}

// A file others can write decides which files credrotd writes and which commands it runs.
void check_mode(Diagnostics& diagnostics, const ConfigDocument& document)
{
  const core::SourceLocation whole{document.path, 0, 0};
  if (document.mode && (*document.mode & 0002) != 0) {
    diagnostics.error(whole, "writable by everyone; it names files credrotd writes and commands "
                             "it runs: chmod o-w " +
                                 document.path);
  } else if (document.mode && (*document.mode & 0020) != 0) {
    diagnostics.warning(whole, "writable by its group; whoever can edit it controls which files "
                               "credrotd writes and which commands it runs");
  }
}

struct ProfileSource {
  std::string name;
  const toml::table* table;
  const std::string* file;
};

// The [profile.NAME] tables of one file, each name defined once across all files.
void list_profiles(Diagnostics& diagnostics, const std::string& file, const toml::table& profiles,
                   std::vector<ProfileSource>& sources)
{
  for (const auto& [key, node] : ordered(profiles)) {
    const std::string name(key->str());
    if (!valid_profile_name(name)) {
      diagnostics.error(location_of(file, key->source()),
                        fmt::format("profile name {} may only use letters, digits, \"_\", \".\" "
                                    "and \"-\"",
                                    quote(name)));
      continue;
    }
    const auto* table = node->as_table();
    if (table == nullptr) {
      diagnostics.error(location_of(file, node->source()),
                        fmt::format("profile.{0} must be a table: write [profile.{0}]", name));
      continue;
    }
    const auto previous = std::find_if(sources.begin(), sources.end(),
                                       [&](const ProfileSource& s) { return s.name == name; });
    if (previous != sources.end()) {
      diagnostics.error(
          location_of(file, table->source()),
          fmt::format("profile {} is defined twice: here and at {}; profile names "
                      "must be unique across all files",
                      quote(name),
                      location_of(*previous->file, previous->table->source()).to_string()));
      continue;
    }
    sources.push_back(ProfileSource{name, table, &file});
  }
}

// Pass 1 over one file: [daemon], [defaults] and the list of its profiles.
void read_top_level(Diagnostics& diagnostics, const std::string& file, const toml::table& root,
                    core::Config& config, Defaults& defaults, std::vector<ProfileSource>& sources)
{
  for (const auto& [key_ptr, node] : ordered(root)) {
    const std::string key(key_ptr->str());
    const bool section = key == "daemon" || key == "defaults" || key == "profile";
    if (section && !node->is_table()) {
      diagnostics.error(location_of(file, node->source()),
                        fmt::format("{0} must be a table: write [{0}]{1}", key,
                                    key == "profile" ? " sections as [profile.NAME]" : ""));
    } else if (key == "daemon") {
      read_daemon(diagnostics, file, *node->as_table(), config.daemon);
    } else if (key == "defaults") {
      read_defaults(diagnostics, file, *node->as_table(), defaults);
    } else if (key == "profile") {
      list_profiles(diagnostics, file, *node->as_table(), sources);
    } else {
      std::string hint;
      if (is_setting_key(key)) {
        hint = key + " is a profile option; put it in [defaults] or a [profile.NAME]";
      } else if (is_daemon_key(key)) {
        hint = key + " is a daemon option; put it in [daemon]";
      }
      unknown_key(diagnostics, file, *key_ptr, "the top level", {"daemon", "defaults", "profile"},
                  hint);
    }
  }
}

// Two consumers must not write the same file, whichever profiles they belong to.
void check_unique_paths(Diagnostics& diagnostics, const std::vector<core::Profile>& profiles)
{
  std::map<std::string, std::pair<std::string, core::SourceLocation>> owners; // path → owner
  for (const auto& profile : profiles) {
    std::size_t index = 0;
    for (const auto& consumer : profile.consumers) {
      const std::string owner =
          fmt::format("profile {} consumer #{}", quote(profile.name), ++index);
      const auto [it, inserted] =
          owners.emplace(consumer.path, std::pair(owner, consumer.location));
      if (!inserted) {
        diagnostics.error(consumer.location,
                          fmt::format("{} writes {}, which {} ({}) writes too; two consumers must "
                                      "not write the same file",
                                      owner, consumer.path, it->second.first,
                                      it->second.second.to_string()));
      }
    }
  }
}

// toml++ quotes the character it choked on ("saw 'x'"). When the document writes an inline
// secret anywhere, every quoted fragment is dropped so no part of a secret reaches a message.
std::string sanitized_parse_error(const toml::parse_error& error, std::string_view text)
{
  std::string description(error.description());
  bool has_inline_secret = false;
  for (std::size_t start = 0; start < text.size() && !has_inline_secret;) {
    const auto end = std::min(text.find('\n', start), text.size());
    std::string_view line = text.substr(start, end - start);
    start = end + 1;
    line.remove_prefix(std::min(line.find_first_not_of(" \t\"'"), line.size()));
    for (const std::string_view key : {"password", "token", "application_credential_secret"}) {
      if (line.starts_with(key)) {
        const auto rest = line.find_first_not_of(" \t\"'", key.size());
        has_inline_secret =
            has_inline_secret || (rest != std::string_view::npos && line[rest] == '=');
      }
    }
  }
  if (!has_inline_secret) {
    return description;
  }
  std::string clean;
  bool in_quote = false;
  for (const char c : description) {
    in_quote = c == '\'' ? !in_quote : in_quote;
    if (!in_quote || c == '\'') {
      clean += c;
    }
  }
  return clean + " (this file sets an inline secret, which credrotd.toml does not allow: use "
                 "password_file, application_credential_secret_file or token_file)";
}

// A file's text and mode; a character device (a drop-in linked to /dev/null masks it, as in
// journald.conf(5)) reads as empty and its mode says nothing.
core::Result<ConfigDocument> read_document(const std::string& file)
{
  const core::Fd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  const auto fail = [&](std::string_view what) {
    return core::make_error(core::Errc::io, fmt::format("{}: {}", file, what));
  };
  struct stat st {};
  if (!fd) {
    return fail(fmt::format("cannot read: {}", std::strerror(errno)));
  }
  if (::fstat(fd.get(), &st) != 0 || !(S_ISREG(st.st_mode) || S_ISCHR(st.st_mode))) {
    return fail("not a regular file");
  }
  ConfigDocument document{file, {}, std::nullopt};
  if (S_ISREG(st.st_mode)) {
    document.mode = static_cast<std::uint32_t>(st.st_mode & 07777);
  }
  std::array<char, 8192> buffer{};
  for (ssize_t n = 0; (n = ::read(fd.get(), buffer.data(), buffer.size())) != 0;) {
    if (n < 0 && errno != EINTR) {
      return fail(fmt::format("cannot read: {}", std::strerror(errno)));
    }
    document.text.append(buffer.data(), static_cast<std::size_t>(std::max<ssize_t>(n, 0)));
  }
  return document;
}

} // namespace

bool detail::is_daemon_key(std::string_view key)
{
  return std::any_of(k_daemon_keys.begin(), k_daemon_keys.end(),
                     [&](const DaemonKey& k) { return k.name == key; });
}

core::Result<LoadedConfig> parse_config(const std::vector<ConfigDocument>& documents,
                                        const LoadOptions& options)
{
  std::vector<std::string> file_order;
  for (const auto& document : documents) {
    file_order.push_back(document.path);
  }
  Diagnostics diagnostics(std::move(file_order));
  std::vector<toml::table> tables(documents.size());
  for (std::size_t i = 0; i < documents.size(); ++i) {
    try {
      tables[i] = toml::parse(documents[i].text, documents[i].path);
    } catch (const toml::parse_error& error) {
      diagnostics.error(location_of(documents[i].path, error.source()),
                        "invalid TOML: " + sanitized_parse_error(error, documents[i].text));
    }
  }
  if (diagnostics.failed()) {
    return diagnostics.to_error(core::Errc::parse);
  }

  LoadedConfig out;
  core::Config& config = out.config;
  config.daemon.state_dir = options.default_state_dir;
  Defaults defaults;
  std::vector<ProfileSource> sources;
  for (std::size_t i = 0; i < documents.size(); ++i) {
    config.files.push_back(documents[i].path);
    check_mode(diagnostics, documents[i]);
    read_top_level(diagnostics, documents[i].path, tables[i], config, defaults, sources);
  }
  // Pass 2: each profile over the final [defaults].
  for (const auto& source : sources) {
    config.profiles.push_back(
        read_profile(diagnostics, defaults, *source.file, source.name, *source.table));
  }
  check_unique_paths(diagnostics, config.profiles);
  if (sources.empty()) {
    diagnostics.warning(
        core::SourceLocation{documents.empty() ? std::string("(no file)") : documents.front().path,
                             0, 0},
        "no [profile.NAME] is configured; credrotd has nothing to rotate");
  }
  if (diagnostics.failed()) {
    return diagnostics.to_error(core::Errc::config);
  }
  out.warnings = diagnostics.take_warnings();
  return out;
}

core::Result<LoadedConfig> parse_config_text(std::string_view text, std::string_view file_name,
                                             const LoadOptions& options)
{
  return parse_config({ConfigDocument{std::string(file_name), std::string(text), std::nullopt}},
                      options);
}

core::Status read_inline_secrets(core::Config& config)
{
  for (auto& profile : config.profiles) {
    if (!profile.inline_auth) {
      continue;
    }
    core::InlineAuth& inline_auth = *profile.inline_auth;
    const std::pair<const std::string*, core::Secret*> files[] = {
        {&inline_auth.password_file, &inline_auth.auth.password},
        {&inline_auth.application_credential_secret_file,
         &inline_auth.auth.application_credential_secret},
        {&inline_auth.token_file, &inline_auth.auth.token},
    };
    for (const auto& [path, secret] : files) {
      if (path->empty()) {
        continue;
      }
      auto read = read_secret_file(*path);
      if (!read) {
        return core::make_error(read.error().code, fmt::format("{}: [profile.{}.auth]: {}",
                                                               inline_auth.location.to_string(),
                                                               profile.name, read.error().message));
      }
      *secret = std::move(*read);
    }
  }
  return {};
}

core::Result<std::vector<std::string>> config_files(const ConfigPaths& paths)
{
  struct stat st {};
  if (::stat(paths.main_file.c_str(), &st) != 0) {
    return core::make_error(core::Errc::io, paths.main_file + ": cannot read the configuration: " +
                                                std::strerror(errno));
  }
  std::vector<std::string> out{paths.main_file};
  std::error_code ec;
  std::vector<std::string> names;
  for (std::filesystem::directory_iterator it(paths.dropin_dir, ec), end; !ec && it != end;
       it.increment(ec)) {
    const std::string name = it->path().filename();
    if (!name.starts_with('.') && name.size() > 5 && name.ends_with(".toml")) {
      names.push_back(name);
    }
  }
  if (ec && ec != std::errc::no_such_file_or_directory) {
    return core::make_error(
        core::Errc::io, paths.dropin_dir + ": cannot list the drop-in directory: " + ec.message());
  }
  std::sort(names.begin(), names.end()); // byte order, like LC_ALL=C ls
  for (const auto& name : names) {
    out.push_back(paths.dropin_dir + "/" + name);
  }
  return out;
}

core::Result<LoadedConfig> load_config(const ConfigPaths& paths, const LoadOptions& options)
{
  CREDROTD_TRY_ASSIGN(auto files, config_files(paths));
  std::vector<ConfigDocument> documents;
  for (const auto& file : files) {
    CREDROTD_TRY_ASSIGN(auto document, read_document(file));
    documents.push_back(std::move(document));
  }
  CREDROTD_TRY_ASSIGN(auto loaded, parse_config(documents, options));
  CREDROTD_TRY(read_inline_secrets(loaded.config));
  return loaded;
}

core::Result<core::CloudAuth> profile_auth(const core::Profile& profile, const CloudsConfig& clouds,
                                           std::vector<std::string>* warnings)
{
  if (profile.inline_auth) {
    // CloudAuth cannot be copied (Secret); this copies it member by member. The structured
    // binding stops the build when CloudAuth gains or loses a member: copy the new one here.
    [[maybe_unused]] const auto& [m1, m2, m3, m4, m5, m6, m7, m8, m9, m10, m11, m12, m13, m14, m15,
                                  m16, m17, m18, m19, m20, m21, m22, m23] =
        profile.inline_auth->auth;
    const core::CloudAuth& from = profile.inline_auth->auth;
    core::CloudAuth copy;
    copy.name = from.name;
    copy.source = from.source;
    copy.auth_type = from.auth_type;
    copy.auth_url = from.auth_url;
    copy.username = from.username;
    copy.user_id = from.user_id;
    copy.user_domain_name = from.user_domain_name;
    copy.user_domain_id = from.user_domain_id;
    copy.project_name = from.project_name;
    copy.project_id = from.project_id;
    copy.project_domain_name = from.project_domain_name;
    copy.project_domain_id = from.project_domain_id;
    copy.password = from.password.clone();
    copy.application_credential_id = from.application_credential_id;
    copy.application_credential_name = from.application_credential_name;
    copy.application_credential_secret = from.application_credential_secret.clone();
    copy.token = from.token.clone();
    copy.region_name = from.region_name;
    copy.interface = from.interface;
    copy.cacert = from.cacert;
    copy.verify = from.verify;
    copy.cert = from.cert;
    copy.key = from.key;
    return copy;
  }
  auto resolved = clouds.resolve(profile.cloud, warnings);
  if (!resolved) {
    return core::make_error(resolved.error().code, profile.location.to_string() + ": profile \"" +
                                                       profile.name + "\" (cloud = \"" +
                                                       profile.cloud +
                                                       "\"): " + resolved.error().message);
  }
  return resolved;
}

core::Status check_clouds(const core::Config& config, const CloudsConfig& clouds,
                          std::vector<std::string>* warnings)
{
  std::string message;
  for (const auto& profile : config.profiles) {
    auto auth = profile_auth(profile, clouds, warnings);
    if (!auth) {
      message += (message.empty() ? "" : "\n") + auth.error().message;
      continue;
    }
    if (profile.project.empty() && auth->auth_type != core::AuthType::application_credential &&
        auth->project_id.empty() && auth->project_name.empty()) {
      message += (message.empty() ? "" : "\n") + profile.location.to_string() + ": profile \"" +
                 profile.name +
                 "\": the identity has no project scope; set project = \"NAME-OR-ID\" in the "
                 "profile, or project_name/project_id in the cloud";
    }
  }
  if (!message.empty()) {
    return core::make_error(core::Errc::config, std::move(message));
  }
  return {};
}

} // namespace credrotd::config
