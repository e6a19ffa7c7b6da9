// SPDX-License-Identifier: Apache-2.0
// The places discovery looks in, each read with the consumer reader credrotd rotates it with.
#include "discover/scan.hpp"

#include "consumers/consumer.hpp"
#include "consumers/cyberduck.hpp"
#include "consumers/java_properties.hpp"
#include "consumers/writer.hpp"
#include "discover/paths.hpp"
#include "discover/units.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <sys/stat.h>

namespace credrotd::discover {

namespace {

namespace fs = std::filesystem;
using consumers::ConsumerSpec;
using consumers::ConsumerType;

template <class F> void for_each_line(std::string_view text, F&& f)
{
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto end = text.find('\n', pos);
    if (end == std::string_view::npos) {
      end = text.size();
    }
    f(trim(text.substr(pos, end - pos)));
    pos = end + 1;
  }
}

bool exists(const std::string& path)
{
  std::error_code ec;
  return fs::exists(fs::symlink_status(path, ec));
}

class Scanner {
public:
  Scanner(const ScanOptions& options, std::vector<User> users)
      : m_options(options), m_users(std::move(users))
  {
    for (const auto& u : m_users) {
      m_names.emplace(u.uid, u.name);
    }
  }

  Scan run()
  {
    std::set<std::string> homes;
    for (const auto& user : m_users) {
      if (user.home.empty() || user.home.front() != '/' || user.home == "/" ||
          !homes.insert(user.home).second) {
        continue;
      }
      home(under_root(m_options.root, user.home));
    }
    system_files();
    for (const auto& path : m_options.python_files) {
      ConsumerSpec spec;
      spec.type = ConsumerType::python;
      spec.path = path;
      if (!exists(path)) {
        m_scan.skipped.push_back({path, path + " does not exist"});
        continue;
      }
      ++m_scan.files_read;
      add(spec);
    }
    return std::move(m_scan);
  }

private:
  void home(const std::string& dir)
  {
    if (const auto path = dir + "/.s3cfg"; exists(path)) {
      ++m_scan.files_read;
      add(spec_of(ConsumerType::s3cmd, path));
    }
    sections(dir + "/.aws/credentials", ConsumerType::aws_credentials, ini_sections);
    sections(dir + "/.config/rclone/rclone.conf", ConsumerType::rclone, rclone_s3_remotes);
    sections(dir + "/.rclone.conf", ConsumerType::rclone, rclone_s3_remotes);
    sections(dir + "/.passwd-s3fs", ConsumerType::s3fs, s3fs_buckets);
    duck(dir);
  }

  void system_files()
  {
    sections(under_root(m_options.root, "/etc/passwd-s3fs"), ConsumerType::s3fs, s3fs_buckets);
    std::vector<std::string> problems;
    for (const auto& env : unit_environment_files(m_options.root, problems)) {
      const std::string path = under_root(m_options.root, env.path);
      if (!exists(path)) {
        continue;
      }
      ++m_scan.files_read;
      add(spec_of(ConsumerType::envfile, path), env.units);
    }
    for (auto& problem : problems) {
      m_scan.skipped.push_back({"", std::move(problem)});
    }
  }

  static ConsumerSpec spec_of(ConsumerType type, const std::string& path)
  {
    ConsumerSpec spec;
    spec.type = type;
    spec.path = path;
    return spec;
  }

  // Reads `path` (under the consumer policy) and hands its text to `f`; false when the file
  // does not exist or cannot be read (then listed as skipped).
  template <class F> bool with_text(const std::string& path, F&& f)
  {
    if (!exists(path)) {
      return false;
    }
    ++m_scan.files_read;
    auto file = consumers::read_file(path);
    if (!file) {
      m_scan.skipped.push_back({path, file.error().message});
      return false;
    }
    if (!*file) {
      return false;
    }
    f(std::string_view((*file)->content));
    return true;
  }

  // One consumer per section/remote/bucket the file's text names.
  void sections(const std::string& path, ConsumerType type,
                std::vector<std::string> (*names)(std::string_view))
  {
    std::vector<std::string> found;
    with_text(path, [&](std::string_view text) { found = names(text); });
    for (const auto& name : found) {
      ConsumerSpec spec = spec_of(type, path);
      if (type == ConsumerType::aws_credentials) {
        spec.profile = name;
      } else if (type == ConsumerType::rclone) {
        spec.remote = name;
      } else {
        spec.bucket = name;
      }
      add(spec);
    }
  }

  void duck(const std::string& dir)
  {
    const std::string path = dir + "/.duck/credentials";
    core::Result<std::vector<std::string>> endpoints = std::vector<std::string>{};
    with_text(path, [&](std::string_view text) { endpoints = duck_endpoints(path, text); });
    if (!endpoints) {
      m_scan.skipped.push_back({path, endpoints.error().message});
      return;
    }
    for (const auto& url : *endpoints) {
      ConsumerSpec spec = spec_of(ConsumerType::cyberduck, path);
      spec.url = url;
      const auto key = consumers::read_key(spec);
      if (!key || !*key) {
        add(spec); // reports the error, if any
        continue;
      }
      spec.bookmarks = bookmarks(dir, url, (*key)->access_id);
      add(spec);
    }
  }

  // The bookmarks in ~/.duck/bookmarks that log in to `url` as `access`, sorted.
  std::vector<std::string> bookmarks(const std::string& dir, const std::string& url,
                                     const std::string& access)
  {
    const auto login = consumers::cyberduck::parse_url(url);
    std::vector<std::string> out;
    std::error_code ec;
    for (fs::directory_iterator it(dir + "/.duck/bookmarks", ec), end; login && !ec && it != end;
         it.increment(ec)) {
      const std::string path = it->path().string();
      if (!path.ends_with(".duck")) {
        continue;
      }
      with_text(path, [&](std::string_view text) {
        const auto b = consumers::cyberduck::read_bookmark({path, text});
        if (b && b->hostname == login->host && b->username == access &&
            (b->port.empty() || b->port == fmt::format("{}", login->port))) {
          out.push_back(path);
        }
      });
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  void add(const ConsumerSpec& spec, std::vector<std::string> units = {})
  {
    auto key = consumers::read_key(spec);
    if (!key) {
      m_scan.skipped.push_back({spec.path, key.error().message});
      return;
    }
    if (!*key) {
      return;
    }
    Place place{spec, (*key)->access_id, (*key)->line, owner_of((*key)->path), std::move(units)};
    const bool seen = std::any_of(m_scan.places.begin(), m_scan.places.end(), [&](const Place& p) {
      return p.spec.path == place.spec.path && p.line == place.line &&
             p.access_id == place.access_id;
    });
    if (!seen) {
      m_scan.places.push_back(std::move(place));
    }
  }

  std::string owner_of(const std::string& path) const
  {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
      return "unknown";
    }
    const auto it = m_names.find(st.st_uid);
    return it != m_names.end() ? it->second : fmt::format("uid {}", st.st_uid);
  }

  const ScanOptions& m_options;
  std::vector<User> m_users;
  std::map<uid_t, std::string> m_names;
  Scan m_scan;
};

} // namespace

std::vector<std::string> ini_sections(std::string_view text)
{
  std::vector<std::string> out;
  for_each_line(text, [&](std::string_view line) {
    if (line.size() > 2 && line.front() == '[' && line.back() == ']') {
      std::string name(trim(line.substr(1, line.size() - 2)));
      if (!name.empty() && std::find(out.begin(), out.end(), name) == out.end()) {
        out.push_back(std::move(name));
      }
    }
  });
  return out;
}

std::vector<std::string> rclone_s3_remotes(std::string_view text)
{
  std::vector<std::string> out;
  std::string section;
  for_each_line(text, [&](std::string_view line) {
    if (line.size() > 2 && line.front() == '[' && line.back() == ']') {
      section = std::string(trim(line.substr(1, line.size() - 2)));
      return;
    }
    const auto eq = line.find('=');
    if (section.empty() || eq == std::string_view::npos || trim(line.substr(0, eq)) != "type" ||
        trim(line.substr(eq + 1)) != "s3") {
      return;
    }
    if (std::find(out.begin(), out.end(), section) == out.end()) {
      out.push_back(section);
    }
  });
  return out;
}

std::vector<std::string> s3fs_buckets(std::string_view text)
{
  std::vector<std::string> out{""};
  for_each_line(text, [&](std::string_view line) {
    const auto first = line.find(':');
    if (line.empty() || line.front() == '#' || first == std::string_view::npos ||
        first == line.rfind(':')) {
      return;
    }
    std::string bucket(line.substr(0, first));
    if (!bucket.empty() && std::find(out.begin(), out.end(), bucket) == out.end()) {
      out.push_back(std::move(bucket));
    }
  });
  return out;
}

core::Result<std::vector<std::string>> duck_endpoints(std::string_view name, std::string_view text)
{
  CREDROTD_TRY_ASSIGN(const auto parsed, consumers::java_properties::parse({name, text}));
  std::vector<std::string> out;
  for (const auto& entry : parsed.entries) {
    // "scheme://user@host:port"; the user (the access id) may not hold '@' or ':'.
    const std::string_view key = entry.key;
    const auto scheme_end = key.find("://");
    const auto at = key.rfind('@');
    const auto colon = key.rfind(':');
    if (scheme_end == std::string_view::npos || at == std::string_view::npos || at < scheme_end ||
        colon < at) {
      continue;
    }
    const std::string url =
        std::string(key.substr(0, scheme_end + 3)) + std::string(key.substr(at + 1));
    if (!consumers::cyberduck::parse_url(url)) {
      continue;
    }
    if (std::find(out.begin(), out.end(), url) == out.end()) {
      out.push_back(url);
    }
  }
  return out;
}

core::Result<Scan> scan(const ScanOptions& options)
{
  CREDROTD_TRY_ASSIGN(auto list, users(options.root));
  return Scanner(options, std::move(list)).run();
}

} // namespace credrotd::discover
