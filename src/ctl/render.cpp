// SPDX-License-Identifier: Apache-2.0
// credrotctl's tables and JSON documents, from the dictionaries of the D-Bus API.
#include "ctl/render.hpp"

#include <boost/json/array.hpp>
#include <fmt/chrono.h>
#include <fmt/format.h>

#include <algorithm>
#include <set>

namespace credrotd::ctl {

namespace json = boost::json;

namespace {

std::string or_dash(const std::string& s)
{
  return s.empty() ? "-" : s;
}

std::string state_of(const Dict& p)
{
  if (get<std::int64_t>(p, "running_rotation") != 0) {
    return "rotating (" + get<std::string>(p, "running_phase") + ")";
  }
  return get<bool>(p, "enabled", true) ? "idle" : "disabled";
}

} // namespace

std::string utc_time(std::int64_t usec)
{
  return fmt::format("{:%Y-%m-%dT%H:%M:%SZ}",
                     fmt::gmtime(static_cast<std::time_t>(usec / 1'000'000)));
}

std::string local_time(std::int64_t usec)
{
  if (usec == 0) {
    return "-";
  }
  return fmt::format("{:%Y-%m-%d %H:%M:%S}",
                     fmt::localtime(static_cast<std::time_t>(usec / 1'000'000)));
}

json::object to_json(const Dict& d)
{
  static const std::set<std::string> times = {"current_since", "next_due",     "running_since",
                                              "last_finished", "last_success", "started",
                                              "finished"};
  static const std::set<std::string> ids = {"running_rotation", "last_rotation", "id"};
  json::object out;
  for (const auto& [key, value] : d) {
    if (value.containsValueOfType<std::string>()) {
      const auto s = value.get<std::string>();
      out[key] = s.empty() ? json::value(nullptr) : json::value(s);
    } else if (value.containsValueOfType<bool>()) {
      out[key] = value.get<bool>();
    } else if (value.containsValueOfType<std::int64_t>()) {
      const auto n = value.get<std::int64_t>();
      if (times.count(key) != 0) {
        out[key] = n == 0 ? json::value(nullptr) : json::value(utc_time(n));
      } else if (ids.count(key) != 0) {
        out[key] = n == 0 ? json::value(nullptr) : json::value(n);
      } else {
        out[key] = n;
      }
    } else if (value.containsValueOfType<std::uint32_t>()) {
      out[key] = value.get<std::uint32_t>();
    }
  }
  return out;
}

json::array to_json(const std::vector<Dict>& list)
{
  json::array out;
  for (const auto& d : list) {
    out.push_back(to_json(d));
  }
  return out;
}

std::string table(const std::vector<std::vector<std::string>>& rows)
{
  std::vector<std::size_t> width;
  for (const auto& row : rows) {
    width.resize(std::max(width.size(), row.size()));
    for (std::size_t i = 0; i < row.size(); ++i) {
      width[i] = std::max(width[i], row[i].size());
    }
  }
  std::string out;
  for (const auto& row : rows) {
    for (std::size_t i = 0; i < row.size(); ++i) {
      out += row[i];
      if (i + 1 < row.size()) {
        out.append(width[i] - row[i].size() + 2, ' ');
      }
    }
    out += "\n";
  }
  return out;
}

std::string status_text(const std::vector<Dict>& profiles)
{
  std::vector<std::vector<std::string>> rows = {
      {"PROFILE", "STATE", "CURRENT KEY", "SINCE", "LAST ROTATION", "NEXT DUE"}};
  std::string problems;
  for (const auto& p : profiles) {
    const auto name = get<std::string>(p, "name");
    std::string last = "-";
    if (const auto id = get<std::int64_t>(p, "last_rotation"); id != 0) {
      const auto outcome = get<std::string>(p, "last_outcome");
      last =
          fmt::format("#{} {} {}", id, outcome, local_time(get<std::int64_t>(p, "last_finished")));
      if (outcome != "succeeded") {
        problems += fmt::format("{}: rotation {} {}: {}\n", name, id, outcome,
                                get<std::string>(p, "last_error"));
      }
    }
    if (const auto n = get<std::int64_t>(p, "unconfirmed_revocations"); n > 0) {
      problems += fmt::format("{}: {} old key(s) deleted but not seen refused by S3 (RGW's cache, "
                              "or a finding: see the journal)\n",
                              name, n);
    }
    rows.push_back(
        {name, state_of(p), or_dash(get<std::string>(p, "current_access")),
         local_time(get<std::int64_t>(p, "current_since")), last,
         get<bool>(p, "enabled", true) ? local_time(get<std::int64_t>(p, "next_due")) : "-"});
  }
  return table(rows) + problems;
}

json::object status_json(const std::vector<Dict>& profiles, const Dict& properties)
{
  const auto next_due = get<std::int64_t>(properties, "NextDue");
  json::object doc;
  doc["version"] = get<std::string>(properties, "Version");
  doc["running_rotations"] = get<std::uint32_t>(properties, "RunningRotations");
  doc["next_due"] = next_due == 0 ? json::value(nullptr) : json::value(utc_time(next_due));
  doc["profiles"] = to_json(profiles);
  return doc;
}

std::string history_text(const std::string& profile, const std::vector<Dict>& rotations)
{
  if (rotations.empty()) {
    return fmt::format("no rotations of {} yet\n", profile);
  }
  std::vector<std::vector<std::string>> rows = {
      {"ID", "STARTED", "FINISHED", "OUTCOME", "OLD KEY", "NEW KEY", "DETAIL"}};
  for (const auto& r : rotations) {
    std::string detail = get<std::string>(r, "error");
    if (const auto code = get<std::string>(r, "error_code"); !code.empty()) {
      detail = code + ": " + detail;
    }
    if (const auto note = get<std::string>(r, "note"); !note.empty()) {
      detail += (detail.empty() ? "" : "; ") + note;
    }
    std::string outcome = get<std::string>(r, "outcome");
    if (outcome == "running") {
      outcome += " (" + get<std::string>(r, "phase") + ")";
    }
    rows.push_back({std::to_string(get<std::int64_t>(r, "id")),
                    local_time(get<std::int64_t>(r, "started")),
                    local_time(get<std::int64_t>(r, "finished")), outcome,
                    or_dash(get<std::string>(r, "old_access")),
                    or_dash(get<std::string>(r, "new_access")), detail});
  }
  return table(rows);
}

std::string keys_text(const std::vector<Dict>& keys)
{
  std::vector<std::vector<std::string>> rows = {{"ACCESS", "ROLE", "PROJECT"}};
  for (const auto& k : keys) {
    const auto role = get<std::string>(k, "role");
    rows.push_back({get<std::string>(k, "access"), role == "not_managed" ? "not managed" : role,
                    get<std::string>(k, "project_id")});
  }
  return table(rows);
}

} // namespace credrotd::ctl
