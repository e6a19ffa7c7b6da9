// SPDX-License-Identifier: Apache-2.0
// The credrotd.toml schema: every key, its type and allowed values, and the cross-field rules.
#include "config/config_file.hpp"

#include "config/duration.hpp"
#include "config/secret_file.hpp"

#include <boost/url/parse.hpp>
#include <toml++/toml.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <functional>
#include <map>
#include <set>
#include <sys/stat.h>
#include <unistd.h>

namespace credrotd::config {

namespace {

using std::chrono::seconds;

constexpr std::size_t k_max_errors = 50;

// ---- diagnostics ---------------------------------------------------------------------------

class Diagnostics {
public:
  // Messages are sorted by position at the end: files in the order given here, then line and
  // column, so the operator reads them top to bottom whatever pass found them.
  explicit Diagnostics(std::vector<std::string> file_order) : m_file_order(std::move(file_order)) {}

  void error(const core::SourceLocation& where, std::string message)
  {
    m_errors.push_back(Message{where, where.to_string() + ": " + std::move(message)});
  }
  void warning(const core::SourceLocation& where, std::string message)
  {
    m_warnings.push_back(Message{where, where.to_string() + ": " + std::move(message)});
  }
  bool failed() const { return !m_errors.empty(); }
  core::Error to_error(core::Errc code)
  {
    sort(m_errors);
    std::string message;
    for (std::size_t i = 0; i < m_errors.size() && i < k_max_errors; ++i) {
      message += (message.empty() ? "" : "\n") + m_errors[i].text;
    }
    if (m_errors.size() > k_max_errors) {
      message += "\n(" + std::to_string(m_errors.size() - k_max_errors) + " more errors)";
    }
    return core::make_error(code, std::move(message));
  }
  std::vector<std::string> take_warnings()
  {
    sort(m_warnings);
    std::vector<std::string> out;
    for (auto& warning : m_warnings) {
      out.push_back(std::move(warning.text));
    }
    return out;
  }

private:
  struct Message {
    core::SourceLocation where;
    std::string text;
  };

  void sort(std::vector<Message>& messages) const
  {
    const auto rank = [this](const std::string& file) {
      const auto it = std::find(m_file_order.begin(), m_file_order.end(), file);
      return static_cast<std::size_t>(it - m_file_order.begin());
    };
    std::stable_sort(messages.begin(), messages.end(), [&](const Message& a, const Message& b) {
      const auto ra = rank(a.where.file);
      const auto rb = rank(b.where.file);
      if (ra != rb) {
        return ra < rb;
      }
      if (a.where.line != b.where.line) {
        return a.where.line < b.where.line;
      }
      return a.where.column < b.where.column;
    });
  }

  std::vector<std::string> m_file_order;
  std::vector<Message> m_errors;
  std::vector<Message> m_warnings;
};

core::SourceLocation location_of(const std::string& file, const toml::source_region& region)
{
  return core::SourceLocation{file, region.begin.line, region.begin.column};
}

std::string type_name(const toml::node& node)
{
  switch (node.type()) {
  case toml::node_type::string:
    return "a string";
  case toml::node_type::integer:
    return "an integer";
  case toml::node_type::floating_point:
    return "a float";
  case toml::node_type::boolean:
    return "a boolean";
  case toml::node_type::table:
    return "a table";
  case toml::node_type::array:
    return "an array";
  case toml::node_type::date:
    return "a date";
  case toml::node_type::time:
    return "a time";
  case toml::node_type::date_time:
    return "a date-time";
  case toml::node_type::none:
    break;
  }
  return "nothing";
}

std::string quoted(std::string_view text)
{
  return "\"" + std::string(text) + "\"";
}

template <class List> std::string one_of(const List& names)
{
  std::string out;
  for (std::size_t i = 0; i < std::size(names); ++i) {
    if (i != 0) {
      out += i + 1 == std::size(names) ? " or " : ", ";
    }
    out += quoted(names[i]);
  }
  return out;
}

// Levenshtein distance, for "did you mean" on unknown keys.
std::size_t edit_distance(std::string_view a, std::string_view b)
{
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) {
    row[j] = j;
  }
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// ---- reading values ------------------------------------------------------------------------

// Reads the values of one table; `key` is the key being read, for messages.
class Reader {
public:
  Reader(Diagnostics& diagnostics, const std::string& file, std::string section)
      : m_diagnostics(diagnostics), m_file(file), m_section(std::move(section))
  {}

  std::string_view key;

  const std::string& file() const { return m_file; }
  const std::string& section() const { return m_section; }
  core::SourceLocation where(const toml::node& node) const
  {
    return location_of(m_file, node.source());
  }
  void fail(const toml::node& node, const std::string& message)
  {
    m_diagnostics.error(where(node), std::string(key) + " in " + m_section + ": " + message);
  }
  void warn(const toml::node& node, const std::string& message)
  {
    m_diagnostics.warning(where(node), std::string(key) + " in " + m_section + ": " + message);
  }
  Diagnostics& diagnostics() { return m_diagnostics; }

  std::optional<std::string> string(const toml::node& node)
  {
    const auto* value = node.as_string();
    if (value == nullptr) {
      fail(node, "must be a string, not " + type_name(node));
      return std::nullopt;
    }
    const std::string& text = value->get();
    if (text.find('\0') != std::string::npos) {
      fail(node, "must not contain a NUL character");
      return std::nullopt;
    }
    return text;
  }

  std::optional<bool> boolean(const toml::node& node)
  {
    const auto* value = node.as_boolean();
    if (value == nullptr) {
      fail(node, "must be true or false, not " + type_name(node));
      return std::nullopt;
    }
    return value->get();
  }

  std::optional<std::int64_t> integer(const toml::node& node, std::int64_t min, std::int64_t max)
  {
    const auto* value = node.as_integer();
    if (value == nullptr) {
      fail(node, "must be an integer from " + std::to_string(min) + " to " + std::to_string(max) +
                     ", not " + type_name(node));
      return std::nullopt;
    }
    if (value->get() < min || value->get() > max) {
      fail(node, "must be from " + std::to_string(min) + " to " + std::to_string(max) + ", not " +
                     std::to_string(value->get()));
      return std::nullopt;
    }
    return value->get();
  }

  // A duration string or an integer number of seconds. `positive`: zero is refused too.
  std::optional<seconds> duration(const toml::node& node, bool positive)
  {
    std::optional<seconds> out;
    if (const auto* number = node.as_integer()) {
      if (number->get() < 0) {
        fail(node, "must not be negative");
        return std::nullopt;
      }
      if (number->get() > k_max_duration.count()) {
        fail(node, "is too long (at most 3650d)");
        return std::nullopt;
      }
      out = seconds(number->get());
    } else if (const auto* text = node.as_string()) {
      auto parsed = parse_duration(text->get());
      if (!parsed) {
        fail(node, parsed.error().message);
        return std::nullopt;
      }
      out = *parsed;
    } else {
      fail(node, "must be a duration like \"15m\" or an integer number of seconds, not " +
                     type_name(node));
      return std::nullopt;
    }
    if (positive && out->count() == 0) {
      fail(node, "must be longer than zero");
      return std::nullopt;
    }
    return out;
  }

  // An absolute path, or "" when `allow_empty`.
  std::optional<std::string> path(const toml::node& node, bool allow_empty)
  {
    auto text = string(node);
    if (!text) {
      return std::nullopt;
    }
    if (text->empty() && allow_empty) {
      return text;
    }
    if (text->empty() || text->front() != '/') {
      fail(node, "must be an absolute path (starting with /)" +
                     std::string(allow_empty ? ", or \"\"" : "") +
                     (text->empty() ? std::string() : ", not " + quoted(*text)));
      return std::nullopt;
    }
    return text;
  }

  template <std::size_t N>
  std::optional<std::size_t> choice(const toml::node& node,
                                    const std::array<std::string_view, N>& names)
  {
    auto text = string(node);
    if (!text) {
      return std::nullopt;
    }
    for (std::size_t i = 0; i < N; ++i) {
      if (*text == names[i]) {
        return i;
      }
    }
    fail(node, quoted(*text) + " is not allowed; use " + one_of(names));
    return std::nullopt;
  }

  // An array of strings (`example` shows the expected form).
  std::optional<std::vector<std::string>> strings(const toml::node& node, std::string_view example)
  {
    const auto* array = node.as_array();
    if (array == nullptr) {
      fail(node, "must be an array of strings, e.g. " + std::string(example) + ", not " +
                     type_name(node));
      return std::nullopt;
    }
    std::vector<std::string> out;
    for (const auto& item : *array) {
      auto text = string(item);
      if (!text) {
        return std::nullopt;
      }
      out.push_back(std::move(*text));
    }
    return out;
  }

  // A subset of `names`, non-empty, without duplicates.
  template <std::size_t N>
  std::optional<std::vector<std::size_t>> subset(const toml::node& node,
                                                 const std::array<std::string_view, N>& names)
  {
    const auto* array = node.as_array();
    if (array == nullptr) {
      fail(node, "must be an array of " + one_of(names) + ", not " + type_name(node));
      return std::nullopt;
    }
    if (array->empty()) {
      fail(node, "must not be empty; use one or more of " + one_of(names));
      return std::nullopt;
    }
    std::vector<std::size_t> out;
    for (const auto& item : *array) {
      auto index = choice(item, names);
      if (!index) {
        return std::nullopt;
      }
      if (std::find(out.begin(), out.end(), *index) != out.end()) {
        fail(item, quoted(names[*index]) + " is listed twice");
        return std::nullopt;
      }
      out.push_back(*index);
    }
    return out;
  }

private:
  Diagnostics& m_diagnostics;
  const std::string& m_file;
  std::string m_section;
};

// The entries of a table in source order (toml++ keeps them sorted by name).
std::vector<std::pair<const toml::key*, const toml::node*>> ordered(const toml::table& table)
{
  std::vector<std::pair<const toml::key*, const toml::node*>> out;
  for (const auto& [key, node] : table) {
    out.emplace_back(&key, &node);
  }
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    const auto& pa = a.first->source().begin;
    const auto& pb = b.first->source().begin;
    return pa.line != pb.line ? pa.line < pb.line : pa.column < pb.column;
  });
  return out;
}

// ---- key tables ----------------------------------------------------------------------------

constexpr std::array<std::string_view, 5> k_daemon_keys{
    "state_dir", "max_concurrent", "metrics_file", "clouds_file", "secure_file"};

constexpr std::array<std::string_view, 2> k_addressing_names{"path", "virtual"};
constexpr std::array<std::string_view, 2> k_signature_names{"v2", "v4"};
constexpr std::array<std::string_view, 3> k_check_names{"list-buckets", "head-bucket", "probe"};
constexpr std::array<std::string_view, 3> k_create_names{"auto", "credentials", "os-ec2"};
constexpr std::array<std::string_view, 9> k_consumer_type_names{
    "s3cmd",  "aws-credentials",   "rclone", "s3fs", "envfile", "template", "cyberduck",
    "python", "systemd-credential"};
constexpr std::array<std::string_view, 2> k_session_token_names{"remove", "keep"};
constexpr std::array<std::string_view, 4> k_reload_action_names{"reload", "restart", "try-restart",
                                                                "reload-or-restart"};
constexpr std::array<std::string_view, 5> k_auth_type_names{
    "password", "v3password", "v3applicationcredential", "token", "v3token"};
constexpr std::array<std::string_view, 6> k_interface_names{"public",    "internal",    "admin",
                                                            "publicURL", "internalURL", "adminURL"};

bool valid_s3_endpoint(Reader& reader, const toml::node& node, const std::string& text)
{
  auto parsed = boost::urls::parse_absolute_uri(text);
  if (!parsed) {
    reader.fail(node, "is not a URL; write e.g. \"https://s3.example.org\"");
    return false;
  }
  std::string scheme(parsed->scheme());
  std::transform(scheme.begin(), scheme.end(), scheme.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (scheme != "http" && scheme != "https") {
    reader.fail(node, "must be an http:// or https:// URL");
    return false;
  }
  const auto host_type = parsed->host_type();
  if (!parsed->has_authority() || parsed->host().empty() ||
      (host_type != boost::urls::host_type::name && host_type != boost::urls::host_type::ipv4 &&
       host_type != boost::urls::host_type::ipv6)) {
    reader.fail(node, "has no host; write e.g. \"https://s3.example.org\"");
    return false;
  }
  // What the HTTP client (net::parse_url) refuses must not pass --check-config.
  if (host_type == boost::urls::host_type::name) {
    const std::string host = parsed->host_address();
    const auto name_char = [](char c) {
      return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
             std::string_view("-._~!$&'()*+,;=").find(c) != std::string_view::npos;
    };
    if (!std::all_of(host.begin(), host.end(), name_char)) {
      reader.fail(node, "has a host name with characters no host name holds (percent-encoded "
                        "bytes decode to them)");
      return false;
    }
  }
  if (parsed->has_port()) {
    const auto port = parsed->port();
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535) {
      reader.fail(node, "has a port that is not a number from 1 to 65535");
      return false;
    }
  }
  if (parsed->has_userinfo()) {
    reader.fail(node, "must not contain a user or password (user@host)");
    return false;
  }
  if (parsed->has_query() || parsed->has_fragment()) {
    reader.fail(node, "must not contain a query (?...) or fragment (#...)");
    return false;
  }
  if (scheme == "http") {
    const std::string host(parsed->host());
    const bool loopback = host == "localhost" || host.rfind("127.", 0) == 0 || host == "[::1]";
    if (!loopback) {
      reader.warn(node, "plain http: S3 traffic (object data, bucket listings) is not encrypted");
    }
  }
  return true;
}

bool valid_bucket_name(std::string_view name)
{
  return !name.empty() && name.size() <= 255 &&
         name.find_first_of("/ \t\r\n") == std::string_view::npos;
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

using SettingHandler = void (*)(Reader&, const toml::node&, core::ProfileSettings&);
struct SettingKey {
  std::string_view name;
  SettingHandler handler;
};

// Keys of [profile.NAME] that [defaults] may also set.
const std::array<SettingKey, 21> k_setting_keys{{
    {"cloud",
     [](Reader& r, const toml::node& n, core::ProfileSettings& s) {
       if (auto v = r.string(n)) {
         s.cloud = *v;
       }
     }},
    {"project",
     [](Reader& r, const toml::node& n, core::ProfileSettings& s) {
       if (auto v = r.string(n)) {
         s.project = *v;
       }
     }},
    {"s3_endpoint",
     [](Reader& r, const toml::node& n, core::ProfileSettings& s) {
       if (auto v = r.string(n); v && valid_s3_endpoint(r, n, *v)) {
         s.s3_endpoint = *v;
       }
     }},
    {"region",
     [](Reader& r, const toml::node& n, core::ProfileSettings& s) {
       if (auto v = r.string(n)) {
         if (v->empty() || v->find_first_of("/ \t\r\n") != std::string::npos) {
           r.fail(n, "must be a region name like \"us-east-1\" (no spaces or /)");
         } else {
           s.region = *v;
         }
       }
     }},
    {"addressing",
     [](Reader& r, const toml::node& n, core::ProfileSettings& s) {
       if (auto v = r.choice(n, k_addressing_names)) {
         s.addressing = static_cast<core::Addressing>(*v);
       }
     }},
    {"signature",
     [](Reader& r, const toml::node& n, core::ProfileSettings& s) {
       if (auto v = r.subset(n, k_signature_names)) {
         s.signatures.clear();
         for (const auto i : *v) {
           s.signatures.push_back(static_cast<core::SignatureVersion>(i));
         }
       }
     }},
    {"checks",
     [](Reader& r, const toml::node& n, core::ProfileSettings& s) {
       if (auto v = r.subset(n, k_check_names)) {
         s.checks.clear();
         for (const auto i : *v) {
           s.checks.push_back(static_cast<core::VerifyCheck>(i));
         }
       }
     }},
    {"bucket",
     [](Reader& r, const toml::node& n, core::ProfileSettings& s) {
       if (auto v = r.string(n)) {
         if (!v->empty() && !valid_bucket_name(*v)) {
           r.fail(n, "must be a bucket name (no /, no spaces), or \"\"");
         } else {
           s.bucket = *v;
         }
       }
     }},
    {"probe_prefix",
     [](Reader& r, const toml::node& n, core::ProfileSettings& s) {
       if (auto v = r.string(n)) {
         if (v->empty() || v->front() == '/') {
           r.fail(n, "must be a non-empty object key prefix not starting with /, e.g. "
                     "\".credrotd-probe/\"");
         } else {
           s.probe_prefix = *v;
         }
       }
     }},
    {"ca_file",
     [](Reader& r, const toml::node& n, core::ProfileSettings& s) {
       if (auto v = r.path(n, true)) {
         s.ca_file = *v;
       }
     }},
    {"insecure",
     [](Reader& r, const toml::node& n, core::ProfileSettings& s) {
       if (auto v = r.boolean(n)) {
         s.insecure = *v;
       }
     }},
    {"interval",
     [](Reader& r, const toml::node& n, core::ProfileSettings& s) {
       if (auto v = r.duration(n, true)) {
         s.interval = *v;
       }
     }},
    {"jitter",
     [](Reader& r, const toml::node& n, core::ProfileSettings& s) {
       if (auto v = r.duration(n, false)) {
         s.jitter = *v;
       }
     }},
    {"window",
     [](Reader& r, const toml::node& n, core::ProfileSettings& s) {
       if (auto v = r.string(n)) {
         if (v->empty()) {
           s.window.reset();
         } else if (auto window = parse_window(*v)) {
           s.window = *window;
         } else {
           r.fail(n, window.error().message);
         }
       }
     }},
    {"grace",
     [](Reader& r, const toml::node& n, core::ProfileSettings& s) {
       if (auto v = r.duration(n, false)) {
         s.grace = *v;
       }
     }},
    {"verify_timeout",
     [](Reader& r, const toml::node& n, core::ProfileSettings& s) {
       if (auto v = r.duration(n, true)) {
         s.verify_timeout = *v;
       }
     }},
    {"keystone_timeout",
     [](Reader& r, const toml::node& n, core::ProfileSettings& s) {
       if (auto v = r.duration(n, true)) {
         s.keystone_timeout = *v;
       }
     }},
    {"create_method",
     [](Reader& r, const toml::node& n, core::ProfileSettings& s) {
       if (auto v = r.choice(n, k_create_names)) {
         s.create_method = static_cast<core::CreateMethodChoice>(*v);
       }
     }},
    {"confirm_retire",
     [](Reader& r, const toml::node& n, core::ProfileSettings& s) {
       if (auto v = r.boolean(n)) {
         s.confirm_retire = *v;
       }
     }},
    {"confirm_retire_recheck",
     [](Reader& r, const toml::node& n, core::ProfileSettings& s) {
       if (auto v = r.duration(n, false)) {
         s.confirm_retire_recheck = *v;
       }
     }},
    {"enabled",
     [](Reader& r, const toml::node& n, core::ProfileSettings& s) {
       if (auto v = r.boolean(n)) {
         s.enabled = *v;
       }
     }},
}};

constexpr std::array<std::string_view, 21> k_consumer_keys{
    "type",       "path",          "profile",        "create_profile", "session_token",
    "remote",     "bucket",        "access_key_var", "secret_key_var", "template",
    "url",        "bookmarks",     "mode",           "in_place",       "user",
    "check",      "check_timeout", "reload",         "reload_action",  "run",
    "run_timeout"};

constexpr std::array<std::string_view, 21> k_auth_keys{"auth_url",
                                                       "auth_type",
                                                       "username",
                                                       "user_id",
                                                       "user_domain_name",
                                                       "user_domain_id",
                                                       "project_name",
                                                       "project_id",
                                                       "project_domain_name",
                                                       "project_domain_id",
                                                       "application_credential_id",
                                                       "application_credential_name",
                                                       "region_name",
                                                       "interface",
                                                       "cacert",
                                                       "verify",
                                                       "cert",
                                                       "key",
                                                       "password_file",
                                                       "application_credential_secret_file",
                                                       "token_file"};

bool is_setting_key(std::string_view key)
{
  return std::any_of(k_setting_keys.begin(), k_setting_keys.end(),
                     [&](const SettingKey& k) { return !k.name.empty() && k.name == key; });
}

template <class List> bool contains(const List& list, std::string_view key)
{
  return !key.empty() && std::find(std::begin(list), std::end(list), key) != std::end(list);
}

// "unknown key" with the allowed keys, a "did you mean" and a hint about the right table.
void unknown_key(Diagnostics& diagnostics, const std::string& file, const toml::key& key,
                 const std::string& section, const std::vector<std::string_view>& allowed,
                 const std::string& hint)
{
  std::string message = "unknown key " + quoted(key.str()) + " in " + section;
  std::string_view best;
  std::size_t best_distance = 3;
  for (const auto candidate : allowed) {
    const std::size_t distance = edit_distance(key.str(), candidate);
    if (distance < best_distance) {
      best_distance = distance;
      best = candidate;
    }
  }
  if (!hint.empty()) {
    message += "; " + hint;
  } else if (!best.empty()) {
    message += "; did you mean " + quoted(best) + "?";
  }
  if (hint.empty()) {
    message += " (allowed: ";
    for (std::size_t i = 0; i < allowed.size(); ++i) {
      message += (i == 0 ? "" : ", ") + std::string(allowed[i]);
    }
    message += ")";
  }
  diagnostics.error(location_of(file, key.source()), std::move(message));
}

template <class List> std::vector<std::string_view> names_of(const List& list)
{
  std::vector<std::string_view> out;
  for (const auto& item : list) {
    if constexpr (std::is_same_v<std::decay_t<decltype(item)>, SettingKey>) {
      if (!item.name.empty()) {
        out.push_back(item.name);
      }
    } else if (!item.empty()) {
      out.push_back(item);
    }
  }
  return out;
}

// ---- consumers -----------------------------------------------------------------------------

using core::ConsumerType;

// Which consumer types accept a type-specific key.
struct ConsumerKeyRule {
  std::string_view key;
  std::array<ConsumerType, 2> types;
  std::size_t count;
};

constexpr std::array<ConsumerKeyRule, 10> k_consumer_type_rules{{
    {"profile", {ConsumerType::aws_credentials}, 1},
    {"create_profile", {ConsumerType::aws_credentials}, 1},
    {"session_token", {ConsumerType::aws_credentials, ConsumerType::s3cmd}, 2},
    {"remote", {ConsumerType::rclone}, 1},
    {"bucket", {ConsumerType::s3fs}, 1},
    {"access_key_var", {ConsumerType::envfile}, 1},
    {"secret_key_var", {ConsumerType::envfile}, 1},
    {"template", {ConsumerType::template_}, 1},
    {"url", {ConsumerType::cyberduck}, 1},
    {"bookmarks", {ConsumerType::cyberduck}, 1},
}};

std::optional<std::string> normalized_path(const std::string& path, std::string& problem)
{
  // Collapse "//"; refuse "." and ".." components and a trailing "/": the writer resolves the
  // path component by component as the file's owner and must name exactly one file.
  std::string out;
  std::size_t i = 0;
  while (i < path.size()) {
    while (i < path.size() && path[i] == '/') {
      ++i;
    }
    if (i == path.size()) {
      break;
    }
    const auto end = std::min(path.find('/', i), path.size());
    const std::string_view component = std::string_view(path).substr(i, end - i);
    if (component == "." || component == "..") {
      problem = "must not contain \".\" or \"..\" components";
      return std::nullopt;
    }
    out += '/';
    out += component;
    i = end;
  }
  if (out.empty() || path.back() == '/') {
    problem = "must name a file, not a directory (no trailing /)";
    return std::nullopt;
  }
  return out;
}

bool valid_unit_name(std::string_view name, std::string& problem)
{
  static constexpr std::array<std::string_view, 11> k_suffixes{
      ".service", ".socket", ".target", ".mount", ".automount", ".swap",
      ".path",    ".timer",  ".slice",  ".scope", ".device"};
  if (name.empty() || name.size() > 255) {
    problem = "is not a unit name";
    return false;
  }
  const auto dot = name.rfind('.');
  if (dot == std::string_view::npos || dot == 0 ||
      std::find(k_suffixes.begin(), k_suffixes.end(), name.substr(dot)) == k_suffixes.end()) {
    problem = "needs a unit type suffix, e.g. \"" + std::string(name.substr(0, dot)) + ".service\"";
    return false;
  }
  for (const char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == ':' || c == '-' || c == '_' || c == '.' || c == '\\' || c == '@';
    if (!ok) {
      problem = "contains a character systemd does not allow in unit names";
      return false;
    }
  }
  const auto at = name.find('@');
  if (at != std::string_view::npos) {
    if (at == 0 || name.find('@', at + 1) != std::string_view::npos) {
      problem = "is not a valid unit name";
      return false;
    }
    if (at + 1 == dot) {
      problem = "is a template; name an instance, e.g. \"" + std::string(name.substr(0, at)) +
                "@NAME" + std::string(name.substr(dot)) + "\"";
      return false;
    }
  }
  return true;
}

bool valid_user_name(std::string_view name)
{
  if (name.empty() || name.size() > 32 || name.front() == '-') {
    return false;
  }
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '.' || c == '-' || (c == '$' && i + 1 == name.size());
    if (!ok) {
      return false;
    }
  }
  return true;
}

bool valid_env_name(std::string_view name)
{
  if (name.empty() || (name.front() >= '0' && name.front() <= '9')) {
    return false;
  }
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  });
}

std::optional<std::vector<std::string>> read_argv(Reader& reader, const toml::node& node,
                                                  std::string_view example)
{
  auto argv = reader.strings(node, example);
  if (!argv) {
    return std::nullopt;
  }
  if (argv->empty()) {
    reader.fail(node, "must not be empty; remove the key for no command");
    return std::nullopt;
  }
  if (argv->front().empty() || argv->front().front() != '/') {
    reader.fail(node, "the program (first element) must be an absolute path; there is no "
                      "shell and no PATH lookup");
    return std::nullopt;
  }
  return argv;
}

std::optional<std::uint32_t> read_mode(Reader& reader, const toml::node& node)
{
  std::int64_t value = -1;
  if (const auto* number = node.as_integer()) {
    if (number->flags() != toml::value_flags::format_as_octal) {
      reader.fail(node, "write the mode in octal: \"0600\" or 0o600 (" +
                            std::to_string(number->get()) + " is a decimal number)");
      return std::nullopt;
    }
    value = number->get();
  } else if (const auto* text = node.as_string()) {
    const std::string& digits = text->get();
    if (digits.empty() || digits.size() > 4 ||
        digits.find_first_not_of("01234567") != std::string::npos) {
      reader.fail(node, "must be an octal mode like \"0600\"");
      return std::nullopt;
    }
    value = std::stoll(digits, nullptr, 8);
  } else {
    reader.fail(node, "must be an octal mode like \"0600\", not " + type_name(node));
    return std::nullopt;
  }
  if (value < 0 || value > 0777) {
    reader.fail(node, "must be a permission mode from \"0000\" to \"0777\"");
    return std::nullopt;
  }
  if ((value & 0400) == 0) {
    reader.warn(node, "the owner cannot read the file with this mode");
  }
  if ((value & 0004) != 0) {
    reader.warn(node, "the file will hold a secret key and be readable by everyone");
  }
  return static_cast<std::uint32_t>(value);
}

// A cyberduck consumer's url: "https://host[:port]" as duck's login keys name the endpoint
// (the same rules as consumers::cyberduck::parse_url()).
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
  const auto host_char = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == '_';
  };
  if (host.empty() || !std::all_of(host.begin(), host.end(), host_char)) {
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

std::optional<core::Consumer> parse_consumer(Diagnostics& diagnostics, const std::string& file,
                                             const std::string& profile_name, std::size_t index,
                                             const toml::node& node)
{
  const std::string section = "[[profile." + profile_name + ".consumer]] #" + std::to_string(index);
  const auto* table = node.as_table();
  if (table == nullptr) {
    diagnostics.error(location_of(file, node.source()), "consumer in [profile." + profile_name +
                                                            "] must be a table: write [[profile." +
                                                            profile_name + ".consumer]]");
    return std::nullopt;
  }
  Reader reader(diagnostics, file, section);
  core::Consumer consumer;
  consumer.location = location_of(file, table->source());
  bool ok = true;

  // The type decides which other keys are allowed.
  const toml::node* type_node = table->get("type");
  if (type_node == nullptr) {
    diagnostics.error(consumer.location, section + ": add type = " + one_of(k_consumer_type_names));
    return std::nullopt;
  }
  reader.key = "type";
  auto type = reader.choice(*type_node, k_consumer_type_names);
  if (!type) {
    return std::nullopt;
  }
  consumer.type = static_cast<ConsumerType>(*type);
  const std::string type_text = quoted(core::to_string(consumer.type));

  std::set<std::string, std::less<>> seen;
  for (const auto& [key_ptr, value_ptr] : ordered(*table)) {
    const std::string key(key_ptr->str());
    const toml::node& value = *value_ptr;
    reader.key = key;
    seen.insert(key);
    if (!contains(k_consumer_keys, key)) {
      std::string hint;
      if (is_setting_key(key)) {
        hint = key + " is a profile option; put it in [profile." + profile_name + "]";
      }
      unknown_key(diagnostics, file, *key_ptr, section, names_of(k_consumer_keys), hint);
      ok = false;
      continue;
    }
    bool applies = true;
    for (const auto& rule : k_consumer_type_rules) {
      if (rule.key == key &&
          std::find(rule.types.begin(),
                    rule.types.begin() + static_cast<std::ptrdiff_t>(rule.count), consumer.type) ==
              rule.types.begin() + static_cast<std::ptrdiff_t>(rule.count)) {
        std::string types;
        for (std::size_t i = 0; i < rule.count; ++i) {
          types += (i == 0 ? "" : " and ") + quoted(core::to_string(rule.types[i]));
        }
        reader.fail(value, "does not apply to type " + type_text + "; only " + types +
                               " consumers take it");
        applies = false;
      }
    }
    if (!applies) {
      ok = false;
      continue;
    }
    if (key == "type") {
      continue;
    }
    if (key == "path") {
      if (auto path = reader.path(value, false)) {
        std::string problem;
        if (auto normalized = normalized_path(*path, problem)) {
          consumer.path = *normalized;
        } else {
          reader.fail(value, problem);
          ok = false;
        }
      } else {
        ok = false;
      }
    } else if (key == "profile") {
      auto v = reader.string(value);
      if (v && (v->empty() || v->find_first_of("[]\r\n") != std::string::npos ||
                v->front() == ' ' || v->back() == ' ')) {
        reader.fail(value, "must be an AWS profile name like \"default\" (no brackets, no "
                           "surrounding spaces)");
        ok = false;
      } else if (v) {
        consumer.aws_profile = *v;
      } else {
        ok = false;
      }
    } else if (key == "create_profile") {
      if (auto v = reader.boolean(value)) {
        consumer.create_profile = *v;
      } else {
        ok = false;
      }
    } else if (key == "session_token") {
      if (auto v = reader.choice(value, k_session_token_names)) {
        consumer.session_token = static_cast<core::SessionTokenPolicy>(*v);
      } else {
        ok = false;
      }
    } else if (key == "remote") {
      auto v = reader.string(value);
      if (v && (v->empty() || v->find_first_of("[]:\r\n") != std::string::npos ||
                v->front() == ' ' || v->back() == ' ' || v->front() == '-')) {
        reader.fail(value, "must be an rclone remote name like \"ceph\" (no brackets, colons, "
                           "or surrounding spaces)");
        ok = false;
      } else if (v) {
        consumer.rclone_remote = *v;
      } else {
        ok = false;
      }
    } else if (key == "bucket") {
      auto v = reader.string(value);
      if (v && v->find_first_of(": \t\r\n") != std::string::npos) {
        reader.fail(value, "must be a bucket name (no colons or spaces), or \"\" for the "
                           "ACCESS:SECRET line");
        ok = false;
      } else if (v) {
        consumer.s3fs_bucket = *v;
      } else {
        ok = false;
      }
    } else if (key == "access_key_var" || key == "secret_key_var") {
      auto v = reader.string(value);
      if (v && !valid_env_name(*v)) {
        reader.fail(value, "must be an environment variable name ([A-Za-z_][A-Za-z0-9_]*)");
        ok = false;
      } else if (v) {
        (key == "access_key_var" ? consumer.access_key_var : consumer.secret_key_var) = *v;
      } else {
        ok = false;
      }
    } else if (key == "template") {
      if (auto v = reader.path(value, false)) {
        consumer.template_file = *v;
      } else {
        ok = false;
      }
    } else if (key == "url") {
      auto v = reader.string(value);
      if (v && !valid_cyberduck_url(*v)) {
        reader.fail(value, "must be the S3 endpoint as duck names it, \"https://HOST\" or "
                           "\"https://HOST:PORT\" (no user, path or query)");
        ok = false;
      } else if (v) {
        consumer.url = *v;
      } else {
        ok = false;
      }
    } else if (key == "bookmarks") {
      if (auto v = reader.strings(value, "[\"/home/alice/.duck/bookmarks/ceph.duck\"]")) {
        for (const auto& bookmark : *v) {
          if (bookmark.empty() || bookmark.front() != '/') {
            reader.fail(value, quoted(bookmark) + " is not an absolute path");
            ok = false;
          }
        }
        consumer.bookmarks = std::move(*v);
      } else {
        ok = false;
      }
    } else if (key == "mode") {
      if (auto v = read_mode(reader, value)) {
        consumer.mode = *v;
      } else {
        ok = false;
      }
    } else if (key == "in_place") {
      if (auto v = reader.boolean(value)) {
        consumer.in_place = *v;
      } else {
        ok = false;
      }
    } else if (key == "user") {
      auto v = reader.string(value);
      if (v && !v->empty() && !valid_user_name(*v)) {
        reader.fail(value, "must be a user name like \"alice\", or \"\" for the daemon's user");
        ok = false;
      } else if (v) {
        consumer.user = *v;
      } else {
        ok = false;
      }
    } else if (key == "check") {
      if (auto v = read_argv(reader, value,
                             "[\"/usr/bin/s3cmd\", \"-c\", \"/home/alice/.s3cfg\", "
                             "\"ls\"]")) {
        consumer.check = std::move(*v);
      } else {
        ok = false;
      }
    } else if (key == "check_timeout") {
      if (auto v = reader.duration(value, true)) {
        consumer.check_timeout = *v;
      } else {
        ok = false;
      }
    } else if (key == "reload") {
      if (auto units = reader.strings(value, "[\"backup.service\"]")) {
        std::set<std::string> unique;
        for (const auto& unit : *units) {
          std::string problem;
          if (!valid_unit_name(unit, problem)) {
            reader.fail(value, quoted(unit) + " " + problem);
            ok = false;
          } else if (!unique.insert(unit).second) {
            reader.fail(value, quoted(unit) + " is listed twice");
            ok = false;
          }
        }
        consumer.reload = std::move(*units);
      } else {
        ok = false;
      }
    } else if (key == "reload_action") {
      if (auto v = reader.choice(value, k_reload_action_names)) {
        consumer.reload_action = static_cast<core::ReloadAction>(*v);
      } else {
        ok = false;
      }
    } else if (key == "run") {
      const auto* array = value.as_array();
      if (array == nullptr || (!array->empty() && array->front().is_string())) {
        reader.fail(value, "is a list of commands, each an argv list: run = [[\"/usr/local/bin/"
                           "notify\", \"rotated\"]]");
        ok = false;
        continue;
      }
      for (const auto& command : *array) {
        if (auto argv = read_argv(reader, command, "[\"/usr/local/bin/notify\", \"rotated\"]")) {
          consumer.run.push_back(std::move(*argv));
        } else {
          ok = false;
        }
      }
    } else if (key == "run_timeout") {
      if (auto v = reader.duration(value, true)) {
        consumer.run_timeout = *v;
      } else {
        ok = false;
      }
    }
  }

  // Required keys and keys that have no effect alone.
  if (seen.count("path") == 0) {
    diagnostics.error(consumer.location, section + ": add path = \"/absolute/path/of/the/file\"");
    ok = false;
  }
  if (consumer.type == ConsumerType::rclone && seen.count("remote") == 0) {
    diagnostics.error(consumer.location,
                      section + ": add remote = \"NAME\", the [NAME] section of rclone.conf");
    ok = false;
  }
  if (consumer.type == ConsumerType::template_ && seen.count("template") == 0) {
    diagnostics.error(consumer.location,
                      section + ": add template = \"/etc/credrotd/templates/NAME.tmpl\"");
    ok = false;
  }
  if (consumer.type == ConsumerType::cyberduck && seen.count("url") == 0) {
    diagnostics.error(consumer.location,
                      section + ": add url = \"https://s3.example.org\", the endpoint of the "
                                "login in duck's credentials file");
    ok = false;
  }
  if (consumer.type == ConsumerType::envfile &&
      consumer.access_key_var == consumer.secret_key_var) {
    diagnostics.error(consumer.location,
                      section + ": access_key_var and secret_key_var must differ");
    ok = false;
  }
  if (consumer.type == ConsumerType::template_ && consumer.template_file == consumer.path &&
      !consumer.path.empty()) {
    diagnostics.error(consumer.location, section + ": template and path must be different files");
    ok = false;
  }
  if (consumer.type == ConsumerType::python) {
    reader.key = "type";
    reader.warn(*type_node, "keeps the key inline in a script; credrotd rewrites it, but a "
                            "profile in the AWS credentials file (type = \"aws-credentials\") "
                            "read with boto3.Session(profile_name=...) keeps secrets out of code");
  }
  // systemd 252 reads a credential once, at unit start: a reload would keep the old key.
  if (consumer.type == ConsumerType::systemd_credential) {
    if (seen.count("reload_action") == 0) {
      consumer.reload_action = core::ReloadAction::restart;
    } else if (consumer.reload_action == core::ReloadAction::reload ||
               consumer.reload_action == core::ReloadAction::reload_or_restart) {
      reader.key = "reload_action";
      reader.fail(*table->get("reload_action"),
                  "must be \"restart\" or \"try-restart\" for a systemd-credential consumer: "
                  "systemd reads credentials only when a unit starts (the default is "
                  "\"restart\")");
      ok = false;
    }
  }
  const auto unused = [&](std::string_view key, std::string_view needs) {
    if (seen.count(key) != 0 && seen.count(needs) == 0) {
      reader.key = key;
      reader.warn(*table->get(key), "has no effect without " + std::string(needs));
    }
  };
  unused("check_timeout", "check");
  unused("run_timeout", "run");
  unused("reload_action", "reload");
  if (seen.count("user") != 0 && seen.count("check") == 0 && seen.count("run") == 0) {
    reader.key = "user";
    reader.warn(*table->get("user"), "has no effect without check or run");
  }
  if (!ok) {
    return std::nullopt;
  }
  return consumer;
}

// ---- inline auth ---------------------------------------------------------------------------

std::optional<core::InlineAuth> parse_inline_auth(Diagnostics& diagnostics, const std::string& file,
                                                  const std::string& profile_name,
                                                  const toml::node& node)
{
  const std::string section = "[profile." + profile_name + ".auth]";
  const auto* table = node.as_table();
  if (table == nullptr) {
    diagnostics.error(location_of(file, node.source()),
                      "auth in [profile." + profile_name + "] must be a table: write " + section);
    return std::nullopt;
  }
  Reader reader(diagnostics, file, section);
  core::InlineAuth out;
  out.location = location_of(file, table->source());
  core::CloudAuth& auth = out.auth;
  auth.name = profile_name;
  auth.source = out.location.to_string();
  bool ok = true;
  std::string type_name_text = "password";
  std::set<std::string, std::less<>> seen;

  for (const auto& [key_ptr, value_ptr] : ordered(*table)) {
    const std::string key(key_ptr->str());
    const toml::node& value = *value_ptr;
    reader.key = key;
    seen.insert(key);
    if (key == "password" || key == "application_credential_secret" || key == "token") {
      // Never echo the value: it is a secret.
      reader.fail(value, "secrets are not written in credrotd.toml; put it in a file readable "
                         "only by root and set " +
                             key + "_file = \"/etc/credrotd/" + profile_name + "." + key +
                             "\" (mode 0600), or use a clouds.yaml cloud with secure.yaml");
      ok = false;
      continue;
    }
    if (!contains(k_auth_keys, key)) {
      std::string hint;
      if (is_setting_key(key)) {
        hint = key + " is a profile option; put it in [profile." + profile_name + "]";
      }
      unknown_key(diagnostics, file, *key_ptr, section, names_of(k_auth_keys), hint);
      ok = false;
      continue;
    }
    if (key == "verify") {
      if (auto v = reader.boolean(value)) {
        auth.verify = *v;
      } else {
        ok = false;
      }
      continue;
    }
    if (key == "auth_type") {
      if (auto v = reader.choice(value, k_auth_type_names)) {
        type_name_text = std::string(k_auth_type_names[*v]);
        auth.auth_type = *v <= 1   ? core::AuthType::password
                         : *v == 2 ? core::AuthType::application_credential
                                   : core::AuthType::token;
      } else {
        ok = false;
      }
      continue;
    }
    if (key == "interface") {
      if (auto v = reader.choice(value, k_interface_names)) {
        auth.interface = static_cast<core::Interface>(*v % 3);
      } else {
        ok = false;
      }
      continue;
    }
    const bool is_path = key == "cacert" || key == "cert" || key == "key" ||
                         (key.size() > 5 && key.compare(key.size() - 5, 5, "_file") == 0);
    auto text = is_path ? reader.path(value, true) : reader.string(value);
    if (!text) {
      ok = false;
      continue;
    }
    static const std::map<std::string, std::string core::CloudAuth::*, std::less<>> k_fields{
        {"auth_url", &core::CloudAuth::auth_url},
        {"username", &core::CloudAuth::username},
        {"user_id", &core::CloudAuth::user_id},
        {"user_domain_name", &core::CloudAuth::user_domain_name},
        {"user_domain_id", &core::CloudAuth::user_domain_id},
        {"project_name", &core::CloudAuth::project_name},
        {"project_id", &core::CloudAuth::project_id},
        {"project_domain_name", &core::CloudAuth::project_domain_name},
        {"project_domain_id", &core::CloudAuth::project_domain_id},
        {"application_credential_id", &core::CloudAuth::application_credential_id},
        {"application_credential_name", &core::CloudAuth::application_credential_name},
        {"region_name", &core::CloudAuth::region_name},
        {"cacert", &core::CloudAuth::cacert},
        {"cert", &core::CloudAuth::cert},
        {"key", &core::CloudAuth::key},
    };
    if (const auto field = k_fields.find(key); field != k_fields.end()) {
      auth.*(field->second) = *text;
    } else if (key == "password_file") {
      out.password_file = *text;
    } else if (key == "application_credential_secret_file") {
      out.application_credential_secret_file = *text;
    } else if (key == "token_file") {
      out.token_file = *text;
    }
  }
  if (!ok) {
    return std::nullopt;
  }

  // What the auth type needs, and secret files it does not use.
  std::vector<std::string> problems;
  const auto refuse_file = [&](const std::string& set, std::string_view key) {
    if (!set.empty()) {
      problems.push_back(std::string(key) + " does not apply to auth_type " +
                         quoted(type_name_text) + "; remove it");
    }
  };
  if (auth.auth_url.empty()) {
    problems.push_back("add auth_url = \"https://keystone.example.org:5000/v3\"");
  }
  switch (auth.auth_type) {
  case core::AuthType::password:
    if (out.password_file.empty()) {
      problems.push_back("add password_file = \"/etc/credrotd/" + profile_name +
                         ".password\" (a file holding only the password, mode 0600)");
    }
    if (auth.username.empty() && auth.user_id.empty()) {
      problems.push_back("add username (with user_domain_name) or user_id");
    }
    refuse_file(out.application_credential_secret_file, "application_credential_secret_file");
    refuse_file(out.token_file, "token_file");
    break;
  case core::AuthType::application_credential:
    if (out.application_credential_secret_file.empty()) {
      problems.push_back("add application_credential_secret_file = \"/etc/credrotd/" +
                         profile_name + ".secret\" (a file holding only the secret, mode 0600)");
    }
    if (auth.application_credential_id.empty()) {
      if (auth.application_credential_name.empty()) {
        problems.push_back("add application_credential_id (or application_credential_name with "
                           "user_id or username)");
      } else if (auth.user_id.empty() && auth.username.empty()) {
        problems.push_back("add user_id or username (with user_domain_name): "
                           "application_credential_name is only unique per user");
      }
    }
    if (!auth.project_id.empty() || !auth.project_name.empty()) {
      problems.push_back("remove project_id/project_name: an application credential's project "
                         "is fixed when it is created");
    }
    refuse_file(out.password_file, "password_file");
    refuse_file(out.token_file, "token_file");
    break;
  case core::AuthType::token:
    if (out.token_file.empty()) {
      problems.push_back("add token_file = \"/etc/credrotd/" + profile_name + ".token\"");
    }
    refuse_file(out.password_file, "password_file");
    refuse_file(out.application_credential_secret_file, "application_credential_secret_file");
    diagnostics.warning(out.location,
                        section + ": a token expires (usually after hours); use a password or "
                                  "an application credential for a long-running daemon");
    break;
  }
  const bool needs_user_domain = !auth.username.empty() && auth.user_id.empty() &&
                                 (auth.auth_type == core::AuthType::password ||
                                  (auth.auth_type == core::AuthType::application_credential &&
                                   auth.application_credential_id.empty()));
  if (needs_user_domain && auth.user_domain_name.empty() && auth.user_domain_id.empty()) {
    problems.push_back("add user_domain_name (e.g. \"Default\") or user_domain_id: a username is "
                       "only unique within its domain");
  }
  if (!auth.project_name.empty() && auth.project_id.empty() && auth.project_domain_name.empty() &&
      auth.project_domain_id.empty()) {
    problems.push_back("add project_domain_name (e.g. \"Default\") or project_domain_id: a "
                       "project name is only unique within its domain");
  }
  if (!auth.verify) {
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

// ---- profiles ------------------------------------------------------------------------------

// [defaults] after every file, with where each key was set.
struct Defaults {
  core::ProfileSettings settings;
  std::map<std::string, core::SourceLocation, std::less<>> where;
};

bool valid_profile_name(std::string_view name)
{
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-';
  });
}

// Applies the setting keys of `table` (a [defaults] or [profile.NAME] table) to `settings`.
// Other keys go to `other` when given, else they are errors.
void apply_settings(Reader& reader, const toml::table& table, core::ProfileSettings& settings,
                    std::map<std::string, core::SourceLocation, std::less<>>& where,
                    const std::function<bool(const toml::key&, const toml::node&)>& other)
{
  for (const auto& [key_ptr, value_ptr] : ordered(table)) {
    const std::string key(key_ptr->str());
    const auto handler = std::find_if(k_setting_keys.begin(), k_setting_keys.end(),
                                      [&](const SettingKey& k) { return k.name == key; });
    if (key.empty() || handler == k_setting_keys.end()) {
      if (other && other(*key_ptr, *value_ptr)) {
        continue;
      }
      std::string hint;
      if (contains(k_consumer_keys, key)) {
        hint = key + " is a consumer option; put it in a [[profile.NAME.consumer]] table";
      } else if (key == "password" || key == "token" || key == "application_credential_secret") {
        hint = "secrets are not written in credrotd.toml; use " + key +
               "_file in [profile.NAME.auth], or a clouds.yaml cloud with secure.yaml";
      } else if (contains(k_auth_keys, key)) {
        hint = key + " is an auth option; put it in [profile.NAME.auth] (or use a clouds.yaml "
                     "cloud)";
      } else if (contains(k_daemon_keys, key)) {
        hint = key + " is a daemon option; put it in [daemon]";
      }
      unknown_key(reader.diagnostics(), reader.file(), *key_ptr, reader.section(),
                  names_of(k_setting_keys), hint);
      continue;
    }
    reader.key = key;
    handler->handler(reader, *value_ptr, settings);
    where[key] = reader.where(*value_ptr);
  }
}

struct ProfileSource {
  std::string name;
  const toml::table* table;
  const ConfigDocument* document;
};

std::optional<core::Profile> build_profile(Diagnostics& diagnostics, const Defaults& defaults,
                                           const ProfileSource& source)
{
  const std::string& file = source.document->path;
  const std::string& name = source.name;
  const std::string section = "[profile." + name + "]";
  core::Profile profile;
  static_cast<core::ProfileSettings&>(profile) = defaults.settings;
  profile.name = name;
  profile.location = location_of(file, source.table->source());
  auto where = defaults.where;
  Reader reader(diagnostics, file, section);

  const toml::node* auth_node = nullptr;
  const toml::node* consumers_node = nullptr;
  bool own_cloud = false;
  apply_settings(reader, *source.table, profile, where,
                 [&](const toml::key& key, const toml::node& node) {
                   if (key.str() == "auth") {
                     auth_node = &node;
                     return true;
                   }
                   if (key.str() == "consumer") {
                     consumers_node = &node;
                     return true;
                   }
                   return false;
                 });
  own_cloud = source.table->get("cloud") != nullptr;
  const auto at = [&](std::string_view key) {
    const auto it = where.find(key);
    return it != where.end() ? it->second : profile.location;
  };

  // Identity: exactly one of cloud / [profile.NAME.auth]; a default cloud yields to inline auth.
  if (auth_node != nullptr) {
    if (own_cloud && !profile.cloud.empty() && auth_node->is_table()) {
      diagnostics.error(at("cloud"),
                        section + ": set either cloud or [profile." + name + ".auth], not both");
    }
    profile.cloud.clear();
    profile.inline_auth = parse_inline_auth(diagnostics, file, name, *auth_node);
  } else if (profile.cloud.empty() &&
             (source.table->get("cloud") == nullptr || source.table->get("cloud")->is_string())) {
    diagnostics.error(profile.location,
                      section + ": add cloud = \"NAME\" (a cloud in clouds.yaml) or a [profile." +
                          name + ".auth] table");
  }
  // An s3_endpoint that was written but invalid has been reported already.
  if (profile.s3_endpoint.empty() && where.count("s3_endpoint") == 0) {
    diagnostics.error(profile.location, section + ": add s3_endpoint = \"https://s3.example.org\"");
  }
  const bool needs_bucket = std::find(profile.checks.begin(), profile.checks.end(),
                                      core::VerifyCheck::head_bucket) != profile.checks.end() ||
                            std::find(profile.checks.begin(), profile.checks.end(),
                                      core::VerifyCheck::probe) != profile.checks.end();
  if (needs_bucket && profile.bucket.empty()) {
    diagnostics.error(at("checks"), section + ": checks has \"head-bucket\" or \"probe\"; add "
                                              "bucket = \"NAME\" (a bucket the key can reach)");
  }
  if (!profile.bucket.empty() && profile.addressing == core::Addressing::virtual_ &&
      !dns_compatible_bucket(profile.bucket)) {
    diagnostics.error(at("bucket"),
                      section + ": bucket " + quoted(profile.bucket) +
                          " cannot be a host name label, which addressing = \"virtual\" needs; "
                          "use addressing = \"path\" or a lower-case DNS-style name");
  }
  if (profile.jitter >= profile.interval) {
    // Point at the key the operator wrote: jitter if set, else interval.
    diagnostics.error(at(where.count("jitter") != 0 ? "jitter" : "interval"),
                      section + ": jitter (" + format_duration(profile.jitter) +
                          ") must be shorter than interval (" + format_duration(profile.interval) +
                          ")");
  }
  if (profile.insecure) {
    diagnostics.warning(at("insecure"),
                        section + ": insecure = true: the S3 endpoint's certificate is not "
                                  "checked");
    if (!profile.ca_file.empty()) {
      diagnostics.warning(at("ca_file"), section + ": ca_file has no effect with insecure = true");
    }
  }
  if (profile.grace.count() == 0) {
    diagnostics.warning(at("grace"), section + ": grace = 0 deletes the old key as soon as the "
                                               "new one is verified; programs that still hold "
                                               "the old key fail");
  }

  // Consumers.
  if (consumers_node == nullptr) {
    diagnostics.error(profile.location, section + ": add at least one [[profile." + name +
                                            ".consumer]] (the file that holds the key)");
  } else if (const auto* array = consumers_node->as_array()) {
    if (array->empty()) {
      diagnostics.error(location_of(file, consumers_node->source()),
                        section + ": add at least one [[profile." + name + ".consumer]]");
    }
    std::size_t index = 0;
    for (const auto& item : *array) {
      if (auto consumer = parse_consumer(diagnostics, file, name, ++index, item)) {
        profile.consumers.push_back(std::move(*consumer));
      }
    }
  } else {
    diagnostics.error(location_of(file, consumers_node->source()),
                      "consumer in " + section + " must be an array of tables: write [[profile." +
                          name + ".consumer]]");
  }
  return profile;
}

std::string sanitized_parse_error(const toml::parse_error& error, std::string_view text)
{
  std::string description(error.description());
  // toml++ quotes the character it choked on ("saw 'x'"). When the document writes an inline
  // secret anywhere, drop every quoted fragment so no part of a secret reaches a message.
  bool has_inline_secret = false;
  std::size_t start = 0;
  while (start < text.size() && !has_inline_secret) {
    const auto end = std::min(text.find('\n', start), text.size());
    std::string_view line = text.substr(start, end - start);
    const auto first = line.find_first_not_of(" \t\"'");
    if (first != std::string_view::npos) {
      line.remove_prefix(first);
      for (const std::string_view key : {"password", "token", "application_credential_secret"}) {
        if (line.substr(0, key.size()) == key) {
          const auto rest = line.substr(key.size()).find_first_not_of(" \t\"'");
          has_inline_secret = has_inline_secret ||
                              (rest != std::string_view::npos && line[key.size() + rest] == '=');
        }
      }
    }
    start = end + 1;
  }
  if (has_inline_secret) {
    std::string clean;
    bool in_quote = false;
    for (const char c : description) {
      if (c == '\'') {
        in_quote = !in_quote;
        clean += '\'';
        continue;
      }
      if (!in_quote) {
        clean += c;
      }
    }
    description = clean + " (this file sets an inline secret, which credrotd.toml does not "
                          "allow: use password_file, application_credential_secret_file or "
                          "token_file)";
  }
  return description;
}

} // namespace

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

  // Pass 1: [daemon], [defaults] and the list of profiles, file by file.
  for (std::size_t i = 0; i < documents.size(); ++i) {
    const ConfigDocument& document = documents[i];
    const std::string& file = document.path;
    config.files.push_back(file);
    if (document.mode) {
      const std::uint32_t mode = *document.mode;
      const core::SourceLocation whole{file, 0, 0};
      if ((mode & 0002) != 0) {
        diagnostics.error(whole, "writable by everyone; it names files credrotd writes and "
                                 "commands it runs: chmod o-w " +
                                     file);
      } else if ((mode & 0020) != 0) {
        diagnostics.warning(whole, "writable by its group; whoever can edit it controls which "
                                   "files credrotd writes and which commands it runs");
      }
    }
    for (const auto& [key_ptr, value_ptr] : ordered(tables[i])) {
      const std::string key(key_ptr->str());
      const toml::node& value = *value_ptr;
      if (key == "daemon" || key == "defaults" || key == "profile") {
        if (!value.is_table()) {
          diagnostics.error(
              location_of(file, value.source()),
              key + " must be a table: write [" + key + "]" +
                  (key == "profile" ? std::string(" sections as [profile.NAME]") : std::string()));
          continue;
        }
      }
      if (key == "daemon") {
        Reader reader(diagnostics, file, "[daemon]");
        for (const auto& [dkey_ptr, dvalue_ptr] : ordered(*value.as_table())) {
          const std::string dkey(dkey_ptr->str());
          reader.key = dkey;
          const toml::node& dvalue = *dvalue_ptr;
          if (dkey == "state_dir") {
            if (auto v = reader.path(dvalue, false)) {
              config.daemon.state_dir = *v;
            }
          } else if (dkey == "max_concurrent") {
            if (auto v = reader.integer(dvalue, 1, 64)) {
              config.daemon.max_concurrent = static_cast<std::uint32_t>(*v);
            }
          } else if (dkey == "metrics_file") {
            if (auto v = reader.path(dvalue, true)) {
              config.daemon.metrics_file = *v;
            }
          } else if (dkey == "clouds_file") {
            if (auto v = reader.path(dvalue, true)) {
              config.daemon.clouds_file = *v;
            }
          } else if (dkey == "secure_file") {
            if (auto v = reader.path(dvalue, true)) {
              config.daemon.secure_file = *v;
            }
          } else {
            unknown_key(diagnostics, file, *dkey_ptr, "[daemon]", names_of(k_daemon_keys),
                        is_setting_key(dkey)
                            ? dkey + " is a profile option; put it in [defaults] or a "
                                     "[profile.NAME]"
                            : std::string());
          }
        }
      } else if (key == "defaults") {
        Reader reader(diagnostics, file, "[defaults]");
        apply_settings(reader, *value.as_table(), defaults.settings, defaults.where,
                       [&](const toml::key& k, const toml::node&) {
                         if (k.str() == "auth" || k.str() == "consumer") {
                           diagnostics.error(location_of(file, k.source()),
                                             "[defaults] cannot hold " + std::string(k.str()) +
                                                 "; put it in each [profile.NAME]");
                           return true;
                         }
                         return false;
                       });
      } else if (key == "profile") {
        for (const auto& [pkey_ptr, pvalue_ptr] : ordered(*value.as_table())) {
          const std::string name(pkey_ptr->str());
          if (!valid_profile_name(name)) {
            diagnostics.error(location_of(file, pkey_ptr->source()),
                              "profile name " + quoted(name) +
                                  " may only use letters, digits, \"_\", \".\" and \"-\"");
            continue;
          }
          const auto* table = pvalue_ptr->as_table();
          if (table == nullptr) {
            diagnostics.error(location_of(file, pvalue_ptr->source()),
                              "profile." + name + " must be a table: write [profile." + name + "]");
            continue;
          }
          const auto previous =
              std::find_if(sources.begin(), sources.end(),
                           [&](const ProfileSource& s) { return s.name == name; });
          if (previous != sources.end()) {
            diagnostics.error(
                location_of(file, table->source()),
                "profile " + quoted(name) + " is defined twice: here and at " +
                    location_of(previous->document->path, previous->table->source()).to_string() +
                    "; profile names must be unique across all files");
            continue;
          }
          sources.push_back(ProfileSource{name, table, &document});
        }
      } else {
        std::string hint;
        if (is_setting_key(key)) {
          hint = key + " is a profile option; put it in [defaults] or a [profile.NAME]";
        } else if (contains(k_daemon_keys, key)) {
          hint = key + " is a daemon option; put it in [daemon]";
        }
        unknown_key(diagnostics, file, *key_ptr, "the top level", {"daemon", "defaults", "profile"},
                    hint);
      }
    }
  }

  // Pass 2: each profile over the final [defaults].
  std::map<std::string, std::pair<std::string, core::SourceLocation>> paths; // path → owner
  for (const auto& source : sources) {
    auto profile = build_profile(diagnostics, defaults, source);
    if (!profile) {
      continue;
    }
    std::size_t index = 0;
    for (const auto& consumer : profile->consumers) {
      ++index;
      const std::string owner =
          "profile " + quoted(profile->name) + " consumer #" + std::to_string(index);
      const auto [it, inserted] =
          paths.emplace(consumer.path, std::make_pair(owner, consumer.location));
      if (!inserted) {
        diagnostics.error(consumer.location,
                          owner + " writes " + consumer.path + ", which " + it->second.first +
                              " (" + it->second.second.to_string() +
                              ") writes too; two consumers must not write the same file");
      }
    }
    config.profiles.push_back(std::move(*profile));
  }
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
  std::vector<ConfigDocument> documents;
  documents.push_back(ConfigDocument{std::string(file_name), std::string(text), std::nullopt});
  return parse_config(documents, options);
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
        return core::make_error(read.error().code, inline_auth.location.to_string() +
                                                       ": [profile." + profile.name +
                                                       ".auth]: " + read.error().message);
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
  DIR* dir = ::opendir(paths.dropin_dir.c_str());
  if (dir == nullptr) {
    if (errno == ENOENT) {
      return out;
    }
    return core::make_error(core::Errc::io, paths.dropin_dir +
                                                ": cannot list the drop-in "
                                                "directory: " +
                                                std::strerror(errno));
  }
  std::vector<std::string> names;
  while (const dirent* entry = ::readdir(dir)) {
    const std::string name = entry->d_name;
    if (name.empty() || name.front() == '.' || name.size() <= 5 ||
        name.compare(name.size() - 5, 5, ".toml") != 0) {
      continue;
    }
    names.push_back(name);
  }
  ::closedir(dir);
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
    const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
      return core::make_error(core::Errc::io, file + ": cannot read: " + std::strerror(errno));
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !(S_ISREG(st.st_mode) || S_ISCHR(st.st_mode))) {
      ::close(fd);
      return core::make_error(core::Errc::io, file + ": not a regular file");
    }
    ConfigDocument document;
    document.path = file;
    // A /dev/null symlink masks a drop-in (journald.conf(5) style); its mode says nothing.
    if (S_ISREG(st.st_mode)) {
      document.mode = static_cast<std::uint32_t>(st.st_mode & 07777);
    }
    std::array<char, 8192> buffer{};
    while (true) {
      const ssize_t n = ::read(fd, buffer.data(), buffer.size());
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n < 0) {
        const int error = errno;
        ::close(fd);
        return core::make_error(core::Errc::io, file + ": cannot read: " + std::strerror(error));
      }
      if (n == 0) {
        break;
      }
      document.text.append(buffer.data(), static_cast<std::size_t>(n));
    }
    ::close(fd);
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
