// SPDX-License-Identifier: Apache-2.0
// EnvironmentFile= of installed service units, parsed from the unit files (systemd 252's
// config_parse() line rules, applied to the one setting discovery needs).
#include "discover/units.hpp"

#include "discover/paths.hpp"

#include <algorithm>
#include <filesystem>
#include <map>
#include <optional>
#include <set>

namespace credrotd::discover {

namespace {

namespace fs = std::filesystem;

// Logical lines: a line ending in a backslash continues on the next one (systemd joins them
// with a space); comment lines inside a continuation are skipped, as systemd does.
std::vector<std::string> logical_lines(std::string_view text)
{
  std::vector<std::string> out;
  std::string pending;
  bool continued = false;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    auto end = text.find('\n', pos);
    if (end == std::string_view::npos) {
      end = text.size();
    }
    const std::string_view line = trim(text.substr(pos, end - pos));
    pos = end + 1;
    if (continued && !line.empty() && (line.front() == '#' || line.front() == ';')) {
      continue;
    }
    if (!line.empty() && line.back() == '\\') {
      pending += std::string(line.substr(0, line.size() - 1)) + " ";
      continued = true;
      continue;
    }
    pending += line;
    out.push_back(std::move(pending));
    pending.clear();
    continued = false;
    if (end == text.size()) {
      break;
    }
  }
  if (!pending.empty()) {
    out.push_back(std::move(pending));
  }
  return out;
}

// The unit file `name` in `dir`, following a symbolic link inside the root; nullopt when it is
// masked (a link to /dev/null) or does not exist.
std::optional<fs::path> unit_file(const std::string& root, const fs::path& path)
{
  std::error_code ec;
  fs::path current = path;
  for (int hops = 0; hops < 8; ++hops) {
    const auto status = fs::symlink_status(current, ec);
    if (ec || !fs::exists(status)) {
      return std::nullopt;
    }
    if (!fs::is_symlink(status)) {
      return fs::is_regular_file(status) ? std::optional<fs::path>(current) : std::nullopt;
    }
    const auto target = fs::read_symlink(current, ec);
    if (ec || target == "/dev/null") {
      return std::nullopt;
    }
    current = target.is_absolute() ? fs::path(under_root(root, target.string()))
                                   : current.parent_path() / target;
  }
  return std::nullopt;
}

} // namespace

std::vector<std::string> environment_files(std::string_view text,
                                           std::vector<std::string> inherited)
{
  std::vector<std::string> files = std::move(inherited);
  std::string section;
  for (const auto& line : logical_lines(text)) {
    if (line.empty() || line.front() == '#' || line.front() == ';') {
      continue;
    }
    if (line.front() == '[') {
      section = line.back() == ']' ? line.substr(1, line.size() - 2) : std::string();
      continue;
    }
    const auto eq = line.find('=');
    if (section != "Service" || eq == std::string::npos ||
        trim(std::string_view(line).substr(0, eq)) != "EnvironmentFile") {
      continue;
    }
    std::string_view value = trim(std::string_view(line).substr(eq + 1));
    if (value.empty()) {
      files.clear();
      continue;
    }
    if (value.front() == '-') {
      value.remove_prefix(1);
    }
    files.emplace_back(value);
  }
  return files;
}

std::vector<UnitEnvironmentFile> unit_environment_files(const std::string& root,
                                                        std::vector<std::string>& problems)
{
  // systemd 252's unit search path for the system manager, in its order (lookup_paths_init):
  // runtime control and transient units and generator output included, so that units made
  // with systemd-run or changed with systemctl set-property are seen too.
  static const char* const k_dirs[] = {
      "/etc/systemd/system.control",  "/run/systemd/system.control",   "/run/systemd/transient",
      "/run/systemd/generator.early", "/etc/systemd/system",           "/run/systemd/system",
      "/run/systemd/generator",       "/usr/local/lib/systemd/system", "/usr/lib/systemd/system",
      "/lib/systemd/system",          "/run/systemd/generator.late"};
  // Unit name → its file, the first directory in precedence order wins; drop-in file name →
  // its file, likewise per unit.
  std::map<std::string, std::optional<fs::path>> units;
  std::map<std::string, std::map<std::string, fs::path>> dropins;
  for (const char* dir : k_dirs) {
    std::error_code ec;
    const fs::path base = under_root(root, dir);
    for (fs::directory_iterator it(base, ec), end; !ec && it != end; it.increment(ec)) {
      const std::string name = it->path().filename().string();
      if (name.size() > 8 && name.ends_with(".service") && name.find('@') == std::string::npos) {
        units.emplace(name, unit_file(root, it->path()));
      } else if (name.size() > 10 && name.ends_with(".service.d")) {
        const std::string unit = name.substr(0, name.size() - 2);
        std::error_code inner;
        for (fs::directory_iterator d(it->path(), inner), dend; !inner && d != dend;
             d.increment(inner)) {
          const std::string conf = d->path().filename().string();
          if (conf.ends_with(".conf")) {
            if (auto file = unit_file(root, d->path())) {
              dropins[unit].emplace(conf, *file);
            }
          }
        }
      }
    }
  }
  std::map<std::string, std::set<std::string>> by_file;
  for (const auto& [unit, file] : units) {
    if (!file) {
      continue; // masked
    }
    auto text = read_small_file(file->string());
    if (!text) {
      problems.push_back(text.error().message);
      continue;
    }
    auto files = environment_files(*text);
    for (const auto& [conf, path] : dropins[unit]) {
      auto more = read_small_file(path.string());
      if (!more) {
        problems.push_back(more.error().message);
        continue;
      }
      files = environment_files(*more, std::move(files));
    }
    for (const auto& path : files) {
      if (path.empty() || path.front() != '/' || path.find('%') != std::string::npos) {
        continue;
      }
      by_file[path].insert(unit);
    }
  }
  std::vector<UnitEnvironmentFile> out;
  for (auto& [path, names] : by_file) {
    out.push_back(UnitEnvironmentFile{path, {names.begin(), names.end()}});
  }
  return out;
}

} // namespace credrotd::discover
