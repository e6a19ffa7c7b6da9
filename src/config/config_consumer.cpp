// SPDX-License-Identifier: Apache-2.0
// [[profile.NAME.consumer]]: the consumer key table (which types take each key) and its rules.
#include "config/config_reader.hpp"
#include "core/text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <set>

namespace credrotd::config::detail {

namespace {

using core::Consumer;
using core::ConsumerType;

constexpr std::array<std::string_view, 9> k_consumer_type_names{
    "s3cmd",  "aws-credentials",   "rclone", "s3fs", "envfile", "template", "cyberduck",
    "python", "systemd-credential"};
constexpr std::array<std::string_view, 2> k_session_token_names{"remove", "keep"};
constexpr std::array<std::string_view, 4> k_reload_action_names{"reload", "restart", "try-restart",
                                                                "reload-or-restart"};

bool is_alnum(char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// Collapses "//"; refuses "." and ".." components and a trailing "/": the writer resolves the
// path component by component as the file's owner and must name exactly one file.
Outcome read_path(Reader& reader, const toml::node& node, Consumer& out)
{
  const auto path = reader.path(node, EmptyOk::no);
  if (!path) {
    return Outcome::failed;
  }
  std::string normalized;
  for (std::size_t i = 0; i < path->size();) {
    i = std::min(path->find_first_not_of('/', i), path->size());
    const auto end = std::min(path->find('/', i), path->size());
    const std::string_view component = std::string_view(*path).substr(i, end - i);
    if (component == "." || component == "..") {
      reader.fail(node, "must not contain \".\" or \"..\" components");
      return Outcome::failed;
    }
    if (!component.empty()) {
      normalized += fmt::format("/{}", component);
    }
    i = end;
  }
  if (normalized.empty() || path->back() == '/') {
    reader.fail(node, "must name a file, not a directory (no trailing /)");
    return Outcome::failed;
  }
  out.path = normalized;
  return Outcome::ok;
}

// A systemd unit name as systemd's unit_name_is_valid() sees it, or what is wrong with it.
std::optional<std::string> unit_name_problem(std::string_view name)
{
  static constexpr std::array<std::string_view, 11> k_suffixes{
      ".service", ".socket", ".target", ".mount", ".automount", ".swap",
      ".path",    ".timer",  ".slice",  ".scope", ".device"};
  if (name.empty() || name.size() > 255) {
    return "is not a unit name";
  }
  const auto dot = name.rfind('.');
  if (dot == std::string_view::npos || dot == 0 ||
      std::find(k_suffixes.begin(), k_suffixes.end(), name.substr(dot)) == k_suffixes.end()) {
    return fmt::format("needs a unit type suffix, e.g. \"{}.service\"", name.substr(0, dot));
  }
  if (!std::all_of(name.begin(), name.end(), [](char c) {
        return is_alnum(c) || std::string_view(":-_.\\@").find(c) != std::string_view::npos;
      })) {
    return "contains a character systemd does not allow in unit names";
  }
  const auto at = name.find('@');
  if (at != std::string_view::npos &&
      (at == 0 || name.find('@', at + 1) != std::string_view::npos)) {
    return "is not a valid unit name";
  }
  if (at != std::string_view::npos && at + 1 == dot) {
    return fmt::format("is a template; name an instance, e.g. \"{}@NAME{}\"", name.substr(0, at),
                       name.substr(dot));
  }
  return std::nullopt;
}

Outcome read_reload(Reader& reader, const toml::node& node, Consumer& out)
{
  auto units = reader.strings(node, "[\"backup.service\"]");
  if (!units) {
    return Outcome::failed;
  }
  Outcome status = Outcome::ok;
  std::set<std::string> unique;
  for (const auto& unit : *units) {
    if (const auto problem = unit_name_problem(unit)) {
      reader.fail(node, quote(unit) + " " + *problem);
      status = Outcome::failed;
    } else if (!unique.insert(unit).second) {
      reader.fail(node, quote(unit) + " is listed twice");
      status = Outcome::failed;
    }
  }
  out.reload = std::move(*units);
  return status;
}

bool valid_user_name(std::string_view name)
{
  if (name.empty() || name.size() > 32 || name.front() == '-') {
    return false;
  }
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    if (!is_alnum(c) && c != '_' && c != '.' && c != '-' && !(c == '$' && i + 1 == name.size())) {
      return false;
    }
  }
  return true;
}

bool valid_env_name(std::string_view name)
{
  return !name.empty() && !(name.front() >= '0' && name.front() <= '9') &&
         std::all_of(name.begin(), name.end(), [](char c) { return is_alnum(c) || c == '_'; });
}

// An INI section name (aws-credentials profile, rclone remote): no brackets, no line breaks,
// no surrounding spaces; `more` lists further characters refused.
auto section_name(std::string_view more)
{
  return [more](std::string_view name) {
    return !name.empty() && name.find_first_of("[]\r\n") == std::string_view::npos &&
           name.find_first_of(more) == std::string_view::npos && name.front() != ' ' &&
           name.back() != ' ';
  };
}

// An argv list: no shell, no PATH lookup.
std::optional<std::vector<std::string>> read_argv(Reader& reader, const toml::node& node,
                                                  std::string_view example)
{
  auto argv = reader.strings(node, example);
  if (argv && argv->empty()) {
    reader.fail(node, "must not be empty; remove the key for no command");
    return std::nullopt;
  }
  if (argv && (argv->front().empty() || argv->front().front() != '/')) {
    reader.fail(node, "the program (first element) must be an absolute path; there is no "
                      "shell and no PATH lookup");
    return std::nullopt;
  }
  return argv;
}

Outcome read_run(Reader& reader, const toml::node& node, Consumer& out)
{
  const auto* array = node.as_array();
  if (array == nullptr || (!array->empty() && array->front().is_string())) {
    reader.fail(node, "is a list of commands, each an argv list: run = [[\"/usr/local/bin/"
                      "notify\", \"rotated\"]]");
    return Outcome::failed;
  }
  Outcome status = Outcome::ok;
  for (const auto& command : *array) {
    if (auto argv = read_argv(reader, command, "[\"/usr/local/bin/notify\", \"rotated\"]")) {
      out.run.push_back(std::move(*argv));
    } else {
      status = Outcome::failed;
    }
  }
  return status;
}

// Octal: "0600" or 0o600; a decimal 600 is refused (it is not what the operator meant).
Outcome read_mode(Reader& reader, const toml::node& node, Consumer& out)
{
  std::int64_t value = -1;
  if (const auto* number = node.as_integer()) {
    if (number->flags() != toml::value_flags::format_as_octal) {
      reader.fail(node, fmt::format("write the mode in octal: \"0600\" or 0o600 ({} is a decimal "
                                    "number)",
                                    number->get()));
      return Outcome::failed;
    }
    value = number->get();
  } else if (const auto* text = node.as_string()) {
    const std::string& digits = text->get();
    if (digits.empty() || digits.size() > 4 ||
        digits.find_first_not_of("01234567") != std::string::npos) {
      reader.fail(node, "must be an octal mode like \"0600\"");
      return Outcome::failed;
    }
    value = std::stoll(digits, nullptr, 8);
  } else {
    reader.fail(node, "must be an octal mode like \"0600\", not " + type_name(node));
    return Outcome::failed;
  }
  if (value < 0 || value > 0777) {
    reader.fail(node, "must be a permission mode from \"0000\" to \"0777\"");
    return Outcome::failed;
  }
  if ((value & 0400) == 0) {
    reader.warn(node, "the owner cannot read the file with this mode");
  }
  if ((value & 0004) != 0) {
    reader.warn(node, "the file will hold a secret key and be readable by everyone");
  }
  out.mode = static_cast<std::uint32_t>(value);
  return Outcome::ok;
}

// "https://host[:port]" as duck's login keys name the endpoint (the same rules as
// consumers::cyberduck::parse_url()).
bool valid_cyberduck_url(std::string_view url)
{
  std::string_view rest;
  if (url.starts_with("https://")) {
    rest = url.substr(8);
  } else if (url.starts_with("http://")) {
    rest = url.substr(7);
  } else {
    return false;
  }
  if (rest.ends_with("/")) {
    rest.remove_suffix(1);
  }
  const std::size_t colon = rest.find(':');
  const std::string_view host = rest.substr(0, colon);
  if (host.empty() || !std::all_of(host.begin(), host.end(), [](char c) {
        return is_alnum(c) || c == '.' || c == '-' || c == '_';
      })) {
    return false;
  }
  if (colon == std::string_view::npos) {
    return true;
  }
  const std::string_view port = rest.substr(colon + 1);
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  return !port.empty() && ec == std::errc() && end == port.data() + port.size() && value != 0 &&
         value <= 65535;
}

Outcome read_bookmarks(Reader& reader, const toml::node& node, Consumer& out)
{
  auto bookmarks = reader.strings(node, "[\"/home/alice/.duck/bookmarks/ceph.duck\"]");
  if (!bookmarks) {
    return Outcome::failed;
  }
  Outcome status = Outcome::ok;
  for (const auto& bookmark : *bookmarks) {
    if (bookmark.empty() || bookmark.front() != '/') {
      reader.fail(node, quote(bookmark) + " is not an absolute path");
      status = Outcome::failed;
    }
  }
  out.bookmarks = std::move(*bookmarks);
  return status;
}

// `read` for the consumer types listed only; other types get an error naming them.
Handler<Consumer> only(std::vector<ConsumerType> types, Handler<Consumer> read)
{
  return [types, read](Reader& reader, const toml::node& node, Consumer& out) {
    if (std::find(types.begin(), types.end(), out.type) != types.end()) {
      return read(reader, node, out);
    }
    std::vector<std::string> names;
    for (const auto type : types) {
      names.push_back(quote(core::to_string(type)));
    }
    reader.fail(node, fmt::format("does not apply to type {}; only {} consumers take it",
                                  quote(core::to_string(out.type)), core::join(names, " and ")));
    return Outcome::failed;
  };
}

Outcome type_read_first(Reader&, const toml::node&, Consumer&)
{
  return Outcome::ok; // read before the others: it decides which keys apply
}

using ConsumerKey = Key<Consumer>;

const std::array<ConsumerKey, 21> k_consumer_keys{{
    {"type", type_read_first},
    {"path", read_path},
    {"profile", only({ConsumerType::aws_credentials},
                     store(&Consumer::aws_profile,
                           text_if(section_name(""), "must be an AWS profile name like "
                                                     "\"default\" (no brackets, no surrounding "
                                                     "spaces)")))},
    {"create_profile",
     only({ConsumerType::aws_credentials}, store(&Consumer::create_profile, flag()))},
    {"session_token",
     only({ConsumerType::aws_credentials, ConsumerType::s3cmd},
          store(&Consumer::session_token, one<core::SessionTokenPolicy>(k_session_token_names)))},
    {"remote", only({ConsumerType::rclone},
                    store(&Consumer::rclone_remote,
                          text_if(
                              [](std::string_view name) {
                                return section_name(":")(name) && name.front() != '-';
                              },
                              "must be an rclone remote name like \"ceph\" (no brackets, "
                              "colons, or surrounding spaces)")))},
    {"bucket", only({ConsumerType::s3fs},
                    store(&Consumer::s3fs_bucket,
                          text_if(
                              [](std::string_view name) {
                                return name.find_first_of(": \t\r\n") == std::string_view::npos;
                              },
                              "must be a bucket name (no colons or spaces), or \"\" for the "
                              "ACCESS:SECRET line")))},
    {"access_key_var", only({ConsumerType::envfile},
                            store(&Consumer::access_key_var,
                                  text_if(valid_env_name, "must be an environment variable name "
                                                          "([A-Za-z_][A-Za-z0-9_]*)")))},
    {"secret_key_var", only({ConsumerType::envfile},
                            store(&Consumer::secret_key_var,
                                  text_if(valid_env_name, "must be an environment variable name "
                                                          "([A-Za-z_][A-Za-z0-9_]*)")))},
    {"template",
     only({ConsumerType::template_}, store(&Consumer::template_file, path(EmptyOk::no)))},
    {"url", only({ConsumerType::cyberduck},
                 store(&Consumer::url,
                       text_if(valid_cyberduck_url, "must be the S3 endpoint as duck names it, "
                                                    "\"https://HOST\" or \"https://HOST:PORT\" (no "
                                                    "user, path or query)")))},
    {"bookmarks", only({ConsumerType::cyberduck}, read_bookmarks)},
    {"mode", read_mode},
    {"in_place", store(&Consumer::in_place, flag())},
    {"user",
     store(&Consumer::user,
           text_if([](std::string_view name) { return name.empty() || valid_user_name(name); },
                   "must be a user name like \"alice\", or \"\" for the daemon's user"))},
    {"check", store(&Consumer::check,
                    [](Reader& reader, const toml::node& node) {
                      return read_argv(reader, node,
                                       "[\"/usr/bin/s3cmd\", \"-c\", \"/home/alice/.s3cfg\", "
                                       "\"ls\"]");
                    })},
    {"check_timeout", store(&Consumer::check_timeout, duration(Positive::yes))},
    {"reload", read_reload},
    {"reload_action",
     store(&Consumer::reload_action, one<core::ReloadAction>(k_reload_action_names))},
    {"run", read_run},
    {"run_timeout", store(&Consumer::run_timeout, duration(Positive::yes))},
}};

// Required keys, keys that must differ, and keys that have no effect alone.
bool check_consumer(Reader& reader, const toml::table& table, const Where& where, Consumer& c)
{
  Diagnostics& diagnostics = reader.diagnostics();
  const std::string& section = reader.section();
  bool ok = true;
  const auto require = [&](bool missing, std::string_view what) {
    if (missing) {
      diagnostics.error(c.location, fmt::format("{}: {}", section, what));
      ok = false;
    }
  };
  const auto has = [&](std::string_view key) { return where.count(key) != 0; };
  require(!has("path"), "add path = \"/absolute/path/of/the/file\"");
  require(c.type == ConsumerType::rclone && !has("remote"),
          "add remote = \"NAME\", the [NAME] section of rclone.conf");
  require(c.type == ConsumerType::template_ && !has("template"),
          "add template = \"/etc/credrotd/templates/NAME.tmpl\"");
  require(c.type == ConsumerType::cyberduck && !has("url"),
          "add url = \"https://s3.example.org\", the endpoint of the login in duck's "
          "credentials file");
  require(c.type == ConsumerType::envfile && c.access_key_var == c.secret_key_var,
          "access_key_var and secret_key_var must differ");
  require(c.type == ConsumerType::template_ && c.template_file == c.path && !c.path.empty(),
          "template and path must be different files");
  if (c.type == ConsumerType::python) {
    reader.key = "type";
    reader.warn(*table.get("type"), "keeps the key inline in a script; credrotd rewrites it, but "
                                    "a profile in the AWS credentials file (type = "
                                    "\"aws-credentials\") read with "
                                    "boto3.Session(profile_name=...) keeps secrets out of code");
  }
  // systemd 252 reads a credential once, at unit start: a reload would keep the old key.
  if (c.type == ConsumerType::systemd_credential) {
    if (!has("reload_action")) {
      c.reload_action = core::ReloadAction::restart;
    } else if (c.reload_action == core::ReloadAction::reload ||
               c.reload_action == core::ReloadAction::reload_or_restart) {
      reader.key = "reload_action";
      reader.fail(*table.get("reload_action"),
                  "must be \"restart\" or \"try-restart\" for a systemd-credential consumer: "
                  "systemd reads credentials only when a unit starts (the default is "
                  "\"restart\")");
      ok = false;
    }
  }
  const auto unused = [&](std::string_view key, bool used, std::string_view needs) {
    if (has(key) && !used) {
      reader.key = key;
      reader.warn(*table.get(key), fmt::format("has no effect without {}", needs));
    }
  };
  unused("check_timeout", has("check"), "check");
  unused("run_timeout", has("run"), "run");
  unused("reload_action", has("reload"), "reload");
  unused("user", has("check") || has("run"), "check or run");
  return ok;
}

} // namespace

bool is_consumer_key(std::string_view key)
{
  return std::any_of(k_consumer_keys.begin(), k_consumer_keys.end(),
                     [&](const ConsumerKey& k) { return k.name == key; });
}

std::optional<Consumer> read_consumer(Diagnostics& diagnostics, const std::string& file,
                                      const std::string& profile_name, std::size_t index,
                                      const toml::node& node)
{
  const std::string section = fmt::format("[[profile.{}.consumer]] #{}", profile_name, index);
  const auto* table = node.as_table();
  if (table == nullptr) {
    diagnostics.error(location_of(file, node.source()),
                      fmt::format("consumer in [profile.{0}] must be a table: write "
                                  "[[profile.{0}.consumer]]",
                                  profile_name));
    return std::nullopt;
  }
  Reader reader(diagnostics, file, section);
  Consumer consumer;
  consumer.location = location_of(file, table->source());
  const toml::node* type = table->get("type");
  if (type == nullptr) {
    diagnostics.error(consumer.location,
                      section + ": add type = " + one_of(list(k_consumer_type_names)));
    return std::nullopt;
  }
  reader.key = "type";
  if (auto read = one<ConsumerType>(k_consumer_type_names)(reader, *type)) {
    consumer.type = *read;
  } else {
    return std::nullopt;
  }
  Where where;
  bool ok = read_keys(reader, *table, k_consumer_keys, consumer, where,
                      [&](const toml::key& key, const toml::node&) {
                        unknown_key(diagnostics, file, key, section, names_of(k_consumer_keys),
                                    is_setting_key(key.str())
                                        ? fmt::format("{} is a profile option; put it in "
                                                      "[profile.{}]",
                                                      key.str(), profile_name)
                                        : std::string());
                        return false;
                      });
  ok = check_consumer(reader, *table, where, consumer) && ok;
  if (!ok) {
    return std::nullopt;
  }
  return consumer;
}

} // namespace credrotd::config::detail
