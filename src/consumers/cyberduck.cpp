// SPDX-License-Identifier: Apache-2.0
// Cyberduck's password store and bookmarks: lookups as UnsecureHostPasswordStore does them,
// rewrites that change only the login's line and the bookmark's Username value.
#include "consumers/cyberduck.hpp"

#include "consumers/java_properties.hpp"
#include "core/text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <map>
#include <optional>
#include <utility>

namespace credrotd::consumers::cyberduck {

namespace {

bool host_char(char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '-' || c == '_';
}

core::Error url_error(std::string_view what)
{
  return core::make_error(core::Errc::config,
                          fmt::format("url {}; write the S3 endpoint as duck names it, e.g. "
                                      "\"https://s3.example.org\" or "
                                      "\"https://s3.example.org:8443\"",
                                      what));
}

// The user of a credentials key for `login`, or nullopt when the key is for another login.
std::optional<std::string_view> user_of(std::string_view key, const Login& login)
{
  const std::string prefix = login.scheme + "://";
  const std::string suffix = fmt::format("@{}:{}", login.host, login.port);
  if (key.size() <= prefix.size() + suffix.size() || !key.starts_with(prefix) ||
      !key.ends_with(suffix)) {
    return std::nullopt;
  }
  return key.substr(prefix.size(), key.size() - prefix.size() - suffix.size());
}

struct HostEntry {
  std::size_t index = 0; // into Parsed::entries
  std::string user;
};

std::vector<HostEntry> host_entries(const java_properties::Parsed& parsed, const Login& login)
{
  std::vector<HostEntry> out;
  for (std::size_t i = 0; i < parsed.entries.size(); ++i) {
    if (const auto user = user_of(parsed.entries[i].key, login)) {
      out.push_back({i, std::string(*user)});
    }
  }
  return out;
}

core::Result<std::vector<FoundKey>>
logins_parsed(const Source& source, const java_properties::Parsed& parsed, const Login& login)
{
  // Java keeps the last value of a repeated key; the order is that of first appearance.
  std::vector<std::string> order;
  std::map<std::string, std::size_t> last;
  for (const HostEntry& e : host_entries(parsed, login)) {
    if (last.count(e.user) == 0) {
      order.push_back(e.user);
    }
    last[e.user] = e.index;
  }
  std::vector<FoundKey> out;
  for (const std::string& user : order) {
    const java_properties::Entry& entry = parsed.entries[last[user]];
    if (entry.value.empty()) {
      return text::parse_error(
          source, parsed.lines[entry.first_line].begin,
          fmt::format("the login {} has an empty password: duck would send no secret", entry.key));
    }
    FoundKey key;
    key.access_id = user;
    key.secret = core::Secret(std::string_view(entry.value));
    key.line = parsed.lines[entry.first_line].number;
    out.push_back(std::move(key));
  }
  return out;
}

core::Result<std::optional<FoundKey>> pick(const Source& source, std::vector<FoundKey> found,
                                           const Login& login, std::optional<std::string_view> user)
{
  if (user) {
    for (FoundKey& key : found) {
      if (key.access_id == *user) {
        return std::optional<FoundKey>(std::move(key));
      }
    }
    return std::optional<FoundKey>{};
  }
  if (found.empty()) {
    return std::optional<FoundKey>{};
  }
  if (found.size() > 1) {
    std::vector<std::uint32_t> lines;
    for (const FoundKey& key : found) {
      lines.push_back(key.line);
    }
    return text::file_error(
        source, core::Errc::parse,
        fmt::format("{} logins for {} (lines {}): which one duck uses depends on the bookmark or "
                    "--username; list the bookmarks in the consumer, or remove the stale lines",
                    found.size(), property_key(login, "*"), fmt::join(lines, ", ")));
  }
  return std::optional<FoundKey>(std::move(found.front()));
}

// ---- bookmarks -------------------------------------------------------------------------

struct PlistValue {
  std::size_t begin = 0; // the value's bytes in the file; begin == end for <string/>
  std::size_t end = 0;
  std::size_t tag_begin = 0; // the whole <string>...</string> or <string/>
  std::size_t tag_end = 0;
  std::string value;
};

bool xml_space(char c)
{
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

// The <string> value after <key>NAME</key>; nullopt when the key is absent.
core::Result<std::optional<PlistValue>> plist_string(const Source& source, std::string_view name)
{
  const std::string_view t = source.text;
  const std::string tag = "<key>" + std::string(name) + "</key>";
  const std::size_t at = t.find(tag);
  if (at == std::string_view::npos) {
    return std::optional<PlistValue>{};
  }
  if (t.find(tag, at + 1) != std::string_view::npos) {
    return text::parse_error(
        source, t.find(tag, at + 1),
        fmt::format("a second {}: credrotd cannot tell which one duck reads", tag));
  }
  std::size_t p = at + tag.size();
  while (p < t.size() && xml_space(t[p])) {
    ++p;
  }
  PlistValue v;
  v.tag_begin = p;
  const std::string_view rest = t.substr(p);
  if (rest.starts_with("<string/>")) {
    v.begin = v.end = p;
    v.tag_end = p + 9;
    return std::optional<PlistValue>(std::move(v));
  }
  if (!rest.starts_with("<string>")) {
    return text::parse_error(source, p, tag + " is not followed by a <string> value");
  }
  v.begin = p + 8;
  v.end = t.find('<', v.begin);
  if (v.end == std::string_view::npos || t.substr(v.end).substr(0, 9) != "</string>") {
    return text::parse_error(source, v.begin, tag + "'s <string> value does not end in </string>");
  }
  v.tag_end = v.end + 9;
  const std::string_view raw = t.substr(v.begin, v.end - v.begin);
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] != '&') {
      v.value += raw[i];
      continue;
    }
    bool known = false;
    for (const auto& [entity, ch] : {std::pair<std::string_view, char>{"&amp;", '&'},
                                     {"&lt;", '<'},
                                     {"&gt;", '>'},
                                     {"&quot;", '"'},
                                     {"&apos;", '\''}}) {
      if (raw.substr(i).starts_with(entity)) {
        v.value += ch;
        i += entity.size() - 1;
        known = true;
        break;
      }
    }
    if (!known) {
      return text::parse_error(source, v.begin + i,
                               "a character reference credrotd does not decode in " + tag);
    }
  }
  return std::optional<PlistValue>(std::move(v));
}

} // namespace

core::Result<Login> parse_url(std::string_view url)
{
  Login login;
  std::string_view rest;
  if (url.starts_with("https://")) {
    login.scheme = "https";
    login.port = 443;
    rest = url.substr(8);
  } else if (url.starts_with("http://")) {
    login.scheme = "http";
    login.port = 80;
    rest = url.substr(7);
  } else {
    return url_error("must start with https:// or http://");
  }
  if (rest.ends_with("/")) {
    rest.remove_suffix(1);
  }
  const std::size_t colon = rest.find(':');
  const std::string_view host = rest.substr(0, colon);
  if (host.empty() || !std::all_of(host.begin(), host.end(), host_char)) {
    return url_error("must name a host (letters, digits, '.', '-', '_'), with no user, path or "
                     "query");
  }
  login.host = std::string(host);
  if (colon != std::string_view::npos) {
    const std::string_view port = rest.substr(colon + 1);
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value == 0 ||
        value > 65535) {
      return url_error("has a port that is not a number from 1 to 65535");
    }
    login.port = static_cast<std::uint16_t>(value);
  }
  return login;
}

std::string property_key(const Login& login, std::string_view user)
{
  return fmt::format("{}://{}@{}:{}", login.scheme, user, login.host, login.port);
}

core::Result<std::vector<FoundKey>> logins(const Source& credentials, const Login& login)
{
  CREDROTD_TRY_ASSIGN(const auto parsed, java_properties::parse(credentials));
  return logins_parsed(credentials, parsed, login);
}

core::Result<std::optional<FoundKey>> read(const Source& credentials, const Login& login,
                                           std::optional<std::string_view> user)
{
  CREDROTD_TRY_ASSIGN(auto found, logins(credentials, login));
  return pick(credentials, std::move(found), login, user);
}

core::Result<Content> render(const Source& credentials, const Login& login,
                             std::string_view access_id, const core::Secret& secret,
                             OtherLogins others)
{
  CREDROTD_TRY(text::check_new_key(access_id, secret));
  CREDROTD_TRY_ASSIGN(const auto parsed, java_properties::parse(credentials));
  if (others == OtherLogins::keep) {
    // The logins kept must stay ones duck can use: one with an empty password is refused here,
    // with its line, rather than by the check of the rewritten file.
    CREDROTD_TRY(logins_parsed(credentials, parsed, login));
  }
  const std::string_view t = credentials.text;
  const Content line = java_properties::store_line(property_key(login, access_id), secret.reveal());
  const std::vector<HostEntry> entries = host_entries(parsed, login);
  const auto same_user = std::find_if(entries.begin(), entries.end(),
                                      [&](const HostEntry& e) { return e.user == access_id; });
  const HostEntry* anchor = nullptr;
  if (same_user != entries.end()) {
    anchor = &*same_user;
  } else if (others == OtherLogins::remove && !entries.empty()) {
    anchor = &entries.front();
  }
  std::vector<text::Edit> edits;
  std::vector<text::LineRange> removed;
  for (const HostEntry& e : entries) {
    const java_properties::Entry& entry = parsed.entries[e.index];
    if (&e == anchor) {
      const std::size_t begin = parsed.lines[entry.first_line].begin;
      edits.push_back({begin, parsed.lines[entry.last_line].end - begin, line});
    } else if (e.user == access_id || others == OtherLogins::remove) {
      removed.emplace_back(entry.first_line, entry.last_line);
    }
  }
  text::remove_line_ranges(parsed.lines, std::move(removed), edits);
  const bool insert_at_end =
      anchor == nullptr && (entries.empty() || parsed.entries[entries.back().index].last_line + 1 ==
                                                   parsed.lines.size());
  if (insert_at_end && parsed.continued_at_end) {
    return text::parse_error(credentials, parsed.lines.back().end - 1,
                             "the file ends in a backslash, which continues its last line: Java "
                             "would read the login credrotd adds after it as part of that line; "
                             "remove the backslash");
  }
  if (anchor == nullptr) {
    if (entries.empty()) {
      text::append_lines(t, parsed.lines, {line}, edits);
    } else {
      const auto& last = parsed.entries[entries.back().index];
      text::insert_after(parsed.lines[last.last_line], text::preferred_eol(t, parsed.lines), {line},
                         edits);
    }
  }
  return read_back(credentials, text::apply_edits(t, std::move(edits)),
                   "the rewritten file would not give duck the new key; nothing written",
                   [&](const Source& written) -> core::Result<bool> {
                     CREDROTD_TRY_ASSIGN(const auto check, java_properties::parse(written));
                     const auto found = logins_parsed(written, check, login);
                     return found &&
                            std::any_of(found->begin(), found->end(),
                                        [&](const FoundKey& k) {
                                          return k.access_id == access_id && k.secret == secret;
                                        }) &&
                            (others == OtherLogins::keep || found->size() == 1);
                   });
}

core::Result<Bookmark> read_bookmark(const Source& bookmark)
{
  if (bookmark.text.starts_with("bplist")) {
    return text::file_error(bookmark, core::Errc::parse,
                            "a binary plist; credrotd rewrites XML bookmarks only (duck writes "
                            "XML; convert it with plistutil -f xml)");
  }
  Bookmark out;
  CREDROTD_TRY_ASSIGN(const auto host, plist_string(bookmark, "Hostname"));
  CREDROTD_TRY_ASSIGN(const auto port, plist_string(bookmark, "Port"));
  CREDROTD_TRY_ASSIGN(const auto user, plist_string(bookmark, "Username"));
  if (!host || host->value.empty()) {
    return text::file_error(bookmark, core::Errc::parse, "the bookmark has no Hostname");
  }
  if (!user) {
    return text::file_error(bookmark, core::Errc::parse,
                            "the bookmark has no <key>Username</key>; add one with a "
                            "<string> value (the access key) after <key>Hostname</key>");
  }
  out.hostname = host->value;
  out.port = port ? port->value : std::string();
  out.username = user->value;
  out.username_line = text::position_of(bookmark.text, user->begin).line;
  return out;
}

core::Result<Content> render_bookmark(const Source& bookmark, const Login& login,
                                      std::string_view access_id)
{
  CREDROTD_TRY_ASSIGN(const Bookmark current, read_bookmark(bookmark));
  if (!core::iequals(current.hostname, login.host) ||
      (!current.port.empty() && current.port != std::to_string(login.port))) {
    return text::file_error(
        bookmark, core::Errc::config,
        fmt::format("the bookmark is for {}{}, not for the consumer's url ({}:{}): fix url or "
                    "bookmarks",
                    current.hostname, current.port.empty() ? "" : ":" + current.port, login.host,
                    login.port));
  }
  CREDROTD_TRY_ASSIGN(const auto found, plist_string(bookmark, "Username"));
  if (!found) {
    return text::file_error(bookmark, core::Errc::internal, "Username vanished");
  }
  const PlistValue& user = *found;
  std::vector<text::Edit> edits;
  edits.push_back({user.tag_begin, user.tag_end - user.tag_begin,
                   text::concat({"<string>", access_id, "</string>"})});
  return read_back(bookmark, text::apply_edits(bookmark.text, std::move(edits)),
                   "the rewritten bookmark would not name the new key; nothing written",
                   [&](const Source& written) {
                     const auto check = read_bookmark(written);
                     return check && check->username == access_id;
                   });
}

} // namespace credrotd::consumers::cyberduck
