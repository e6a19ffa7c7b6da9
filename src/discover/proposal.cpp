// SPDX-License-Identifier: Apache-2.0
// Keys by access id, their owner in Keystone, proposed profiles and the drop-in text.
#include "discover/proposal.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

namespace credrotd::discover {

namespace {

using consumers::ConsumerType;

// "[default]", "remote swift", "bucket media"...: which part of the file holds the key.
std::string part_of(const consumers::ConsumerSpec& spec)
{
  switch (spec.type) {
  case ConsumerType::aws_credentials:
    return "[" + spec.profile + "]";
  case ConsumerType::rclone:
    return "remote " + spec.remote;
  case ConsumerType::s3fs:
    return spec.bucket.empty() ? "default line" : "bucket " + spec.bucket;
  case ConsumerType::cyberduck:
    return spec.url;
  default:
    return "";
  }
}

std::string where(const Place& p)
{
  std::string out = fmt::format("{}:{}", p.spec.path, p.line);
  if (const auto part = part_of(p.spec); !part.empty()) {
    out += " " + part;
  }
  return out;
}

std::string toml_list(const std::vector<std::string>& items)
{
  std::string out = "[";
  for (std::size_t i = 0; i < items.size(); ++i) {
    out += (i == 0 ? "" : ", ") + toml_string(items[i]);
  }
  return out + "]";
}

// Every line of `text` as a TOML comment.
std::string commented(const std::string& text)
{
  std::string out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const auto end = text.find('\n', pos);
    const auto line = text.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
    out += line.empty() ? "#\n" : "# " + line + "\n";
    if (end == std::string::npos) {
      break;
    }
    pos = end + 1;
  }
  return out;
}

std::string consumer_table(const std::string& profile, const Place& p, ReloadUnits reload)
{
  std::string out = "[[profile." + profile + ".consumer]]\n";
  out += "type = " + toml_string(core::to_string(p.spec.type)) + "\n";
  out += "path = " + toml_string(p.spec.path) + "\n";
  switch (p.spec.type) {
  case ConsumerType::aws_credentials:
    out += "profile = " + toml_string(p.spec.profile) + "\n";
    break;
  case ConsumerType::rclone:
    out += "remote = " + toml_string(p.spec.remote) + "\n";
    break;
  case ConsumerType::s3fs:
    if (!p.spec.bucket.empty()) {
      out += "bucket = " + toml_string(p.spec.bucket) + "\n";
    }
    break;
  case ConsumerType::cyberduck:
    out += "url = " + toml_string(p.spec.url) + "\n";
    if (!p.spec.bookmarks.empty()) {
      out += "bookmarks = " + toml_list(p.spec.bookmarks) + "\n";
    }
    break;
  default:
    break;
  }
  if (!p.units.empty()) {
    // systemd reads an EnvironmentFile= when the unit starts: a restart makes it use the key.
    if (reload == ReloadUnits::yes) {
      out += "reload = " + toml_list(p.units) + "\nreload_action = \"restart\"\n";
    } else {
      out += "# EnvironmentFile= of " + toml_list(p.units) +
             " under --root; on that host add:\n# reload = " + toml_list(p.units) +
             "\n# reload_action = \"restart\"\n";
    }
  }
  return out + "\n";
}

} // namespace

std::string toml_string(std::string_view s)
{
  std::string out = "\"";
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u == 0x7f) {
      out += fmt::format("\\u{:04X}", u);
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string profile_name(std::string_view s)
{
  std::string out;
  for (const char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '.' || c == '-';
    out += ok ? c : '_';
  }
  return out.empty() ? "key" : out;
}

Proposal propose(const Scan& scan, const IdentityView& identity, const ProposalOptions& options)
{
  Proposal out;
  out.skipped = scan.skipped;
  std::map<std::string, const KeystoneKey*> own;
  for (const auto& k : identity.keys) {
    own.emplace(k.access, &k);
  }

  // Keys in the order first found.
  std::map<std::string, std::size_t> index;
  for (const auto& place : scan.places) {
    auto [it, inserted] = index.emplace(place.access_id, out.keys.size());
    if (inserted) {
      KeyFinding finding;
      finding.access_id = place.access_id;
      if (const auto o = own.find(place.access_id); o != own.end()) {
        finding.own = true;
        finding.project_id = o->second->project_id;
      }
      out.keys.push_back(std::move(finding));
    }
    out.keys[it->second].places.push_back(place);
  }

  // Which place writes each file: the identity's keys first, then file order.
  std::map<std::string, std::pair<std::string, const Place*>> writer; // path → (access, place)
  for (const bool own_pass : {true, false}) {
    for (const auto& key : out.keys) {
      if (key.own != own_pass) {
        continue;
      }
      for (const auto& place : key.places) {
        writer.emplace(place.spec.path, std::make_pair(key.access_id, &place));
      }
    }
  }

  for (auto& key : out.keys) {
    if (!key.own) {
      key.why_not = "unknown to this identity (another user's key, or one Keystone no longer "
                    "has): credrotd can only rotate the identity's own keys";
      continue;
    }
    for (const auto& place : key.places) {
      const auto& [access, taken] = writer.at(place.spec.path);
      if (taken != &place) {
        key.why_not = where(place) +
                      " cannot be rewritten: credrotd writes a file through one "
                      "consumer, and " +
                      where(*taken) + " (key " + access +
                      ") has it; move one of the two keys to a file of its own";
        break;
      }
    }
  }

  // Names: the files' owner, made unique with the access id.
  std::map<std::string, int> uses;
  std::vector<std::string> base(out.keys.size());
  for (std::size_t i = 0; i < out.keys.size(); ++i) {
    const auto& key = out.keys[i];
    if (!key.own || !key.why_not.empty()) {
      continue;
    }
    std::set<std::string> owners;
    for (const auto& p : key.places) {
      owners.insert(p.owner);
    }
    base[i] = profile_name(owners.size() == 1 ? *owners.begin() : "shared");
    ++uses[base[i]];
  }
  std::set<std::string> taken;
  for (std::size_t i = 0; i < out.keys.size(); ++i) {
    if (base[i].empty()) {
      continue;
    }
    std::string name = base[i];
    if (uses[base[i]] > 1) {
      name += "-" + profile_name(out.keys[i].access_id.substr(0, 8));
    }
    if (!taken.insert(name).second) {
      name = base[i] + "-" + profile_name(out.keys[i].access_id);
      taken.insert(name);
    }
    out.keys[i].profile = name;
  }

  for (const auto& k : identity.keys) {
    if (index.count(k.access) == 0) {
      out.stale.push_back(k);
    }
  }

  // The report, as comments.
  std::string report;
  report += "Proposed by `credrotctl discover` for " + options.dropin_path + ".\n";
  report += "Identity: cloud " + toml_string(identity.cloud) + ", user " + identity.user_name +
            " (" + identity.user_id + "), project " + identity.project_name + " (" +
            identity.project_id + ").\n";
  report += fmt::format("Looked at {} files; found {} keys in {} places. No secret is in this "
                        "file.\n",
                        scan.files_read, out.keys.size(), scan.places.size());
  for (const auto& key : out.keys) {
    report += "\nKey " + key.access_id + ": ";
    if (!key.profile.empty()) {
      report += "the identity's (project " + key.project_id + "), profile " + key.profile + "\n";
    } else if (key.own) {
      report +=
          "the identity's (project " + key.project_id + "), NOT PROPOSED: " + key.why_not + "\n";
    } else {
      report += "NOT PROPOSED: " + key.why_not + "\n";
    }
    for (const auto& p : key.places) {
      report += "  " + std::string(core::to_string(p.spec.type)) + " " + where(p) + " (owner " +
                p.owner + ")\n";
    }
  }
  if (!out.stale.empty()) {
    report += "\nStale keys: the identity's keys that no file found names (forgotten, or used "
              "elsewhere; credrotd never deletes them):\n";
    for (const auto& k : out.stale) {
      report += "  " + k.access + " (project " + k.project_id + ")\n";
    }
  }
  if (!out.skipped.empty()) {
    report += "\nNot read (credrotd would refuse them too):\n";
    for (const auto& s : out.skipped) {
      report += "  " + s.why + "\n";
    }
  }

  std::string text = commented(report) + "\n";
  for (const auto& key : out.keys) {
    if (key.profile.empty()) {
      continue;
    }
    ++out.profiles;
    text += "[profile." + key.profile + "]\n";
    text += "# key " + key.access_id + "\n";
    text += "cloud = " + toml_string(identity.cloud) + "\n";
    if (key.project_id != identity.project_id) {
      text += "project = " + toml_string(key.project_id) + "\n";
    }
    text += "s3_endpoint = " + toml_string(options.s3_endpoint) + "\n\n";
    for (const auto& p : key.places) {
      text += consumer_table(key.profile, p, options.reload_units);
    }
  }
  out.dropin = std::move(text);
  return out;
}

} // namespace credrotd::discover
