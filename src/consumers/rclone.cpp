// SPDX-License-Identifier: Apache-2.0
// rclone.conf, tokenized as goconfig's read() does in rclone 1.60.1: each line is
// strings.TrimSpace'd; '#'/';' start a comment; "[name]" starts a section (name trimmed);
// any other line splits at its first '=' or ':' (a key may be quoted with ", """ or `); a
// value wrapped in ` or """ loses the wrapper (up to the last closing one); keys are
// case-sensitive; keys before any section belong to DEFAULT. A UTF-8 byte order mark is
// skipped. GetValue() then expands %(name)s and falls back from "a.b" to "a".
#include "consumers/rclone.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace credrotd::consumers::rclone {

namespace {

using text::Spaces;

constexpr std::string_view k_access = "access_key_id";
constexpr std::string_view k_secret = "secret_access_key";
constexpr std::string_view k_default_section = "DEFAULT";

struct KeyLine {
  std::string section;
  std::string key;
  std::size_t line = 0; // index into lines
  std::size_t key_begin = 0;
  std::size_t value_begin = 0; // the value rclone reads: [value_begin, value_end)
  std::size_t value_end = 0;
  std::size_t delim = 0;
};

struct Header {
  std::string name;
  std::size_t line = 0;
};

struct Parsed {
  std::vector<text::Line> lines;
  std::vector<KeyLine> keys;
  std::vector<Header> headers;
};

// The line as goconfig sees it: [begin, end) after strings.TrimSpace, past a byte order mark
// at the start of the file.
std::pair<std::size_t, std::size_t> trimmed(std::string_view t, const text::Line& line)
{
  const std::size_t from =
      line.begin + (line.number == 1 && t.starts_with(text::k_bom) ? text::k_bom.size() : 0);
  const std::size_t b = text::skip_spaces(t, from, line.end, Spaces::go);
  return {b, text::trim_end(t, b, line.end, Spaces::go)};
}

bool is_comment(std::string_view t, std::size_t b, std::size_t e)
{
  return b == e || t[b] == '#' || t[b] == ';';
}

core::Status check_not_encrypted(const Source& source, const std::vector<text::Line>& lines)
{
  // rclone's Decrypt() looks at the first line that is not blank or a comment, without
  // skipping a byte order mark; credrotd also looks past one, to refuse in both readings.
  for (const auto& line : lines) {
    const auto [b, e] = trimmed(source.text, line);
    if (is_comment(source.text, b, e)) {
      continue;
    }
    if (source.text.substr(b, e - b).starts_with("RCLONE_ENCRYPT_V")) {
      return text::file_error(source, core::Errc::unsafe,
                              fmt::format("is an encrypted rclone config ({}); credrotd cannot "
                                          "rewrite it without the password: decrypt it (rclone "
                                          "config encryption remove) or remove this consumer",
                                          source.text.substr(b, e - b)));
    }
    break;
  }
  return {};
}

core::Result<Parsed> parse(const Source& source)
{
  const std::string_view t = source.text;
  Parsed parsed;
  parsed.lines = text::split_lines(t);
  CREDROTD_TRY(check_not_encrypted(source, parsed.lines));
  std::string section(k_default_section);
  for (const auto& line : parsed.lines) {
    const auto [b, e] = trimmed(t, line);
    if (is_comment(t, b, e)) {
      continue;
    }
    if (t[b] == '[' && t[e - 1] == ']') {
      const std::size_t nb = text::skip_spaces(t, b + 1, e - 1, Spaces::go);
      const std::size_t ne = text::trim_end(t, nb, e - 1, Spaces::go);
      section.assign(t.substr(nb, ne - nb));
      parsed.headers.push_back(Header{section, line.number - 1});
      continue;
    }
    if (section.empty()) {
      return text::parse_error(source, b,
                               "a key after an empty section name []; rclone refuses the whole "
                               "file (empty section name not allowed)");
    }
    const std::string_view l = t.substr(b, e - b);
    const auto cannot_parse = [&source, at = b] {
      return text::parse_error(source, at,
                               "rclone cannot parse this line (could not parse line) and "
                               "refuses the whole file");
    };
    KeyLine k;
    k.section = section;
    k.line = line.number - 1;
    k.key_begin = b;
    std::size_t i = 0;
    std::string_view key_quote;
    if (l.front() == '"') {
      key_quote = l.size() >= 6 && l.starts_with(R"(""")") ? R"(""")" : R"(")";
    } else if (l.front() == '`') {
      key_quote = "`";
    }
    if (!key_quote.empty()) {
      const std::size_t close = l.find(key_quote, key_quote.size());
      if (close == std::string_view::npos) {
        return cannot_parse();
      }
      const std::size_t d = l.find_first_of("=:", close);
      if (d == std::string_view::npos || d == close) {
        return cannot_parse();
      }
      i = d;
      k.key.assign(l.substr(key_quote.size(), close - key_quote.size()));
    } else {
      i = l.find_first_of("=:");
      if (i == std::string_view::npos || i == 0) {
        return cannot_parse();
      }
      const std::size_t ke = text::trim_end(l, 0, i, Spaces::go);
      k.key.assign(l.substr(0, ke));
    }
    k.delim = b + i;
    // lineRight = TrimSpace(line[i+1:]), then an optional ` or """ wrapper.
    const std::size_t rb = text::skip_spaces(t, b + i + 1, e, Spaces::go);
    const std::string_view right = t.substr(rb, e - rb);
    std::string_view value_quote;
    if (right.size() >= 2 && right.front() == '`') {
      value_quote = "`";
    } else if (right.size() >= 6 && right.starts_with(R"(""")")) {
      value_quote = R"(""")";
    }
    if (!value_quote.empty()) {
      const std::size_t close = right.substr(value_quote.size()).rfind(value_quote);
      if (close == std::string_view::npos) {
        return cannot_parse();
      }
      k.value_begin = rb + value_quote.size();
      k.value_end = k.value_begin + close;
    } else {
      k.value_begin = rb;
      k.value_end = e;
    }
    parsed.keys.push_back(std::move(k));
  }
  return parsed;
}

bool is_name_char(char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == '-';
}

// goconfig expands %(name)s, name matching [a-zA-Z0-9_.-]+.
bool has_interpolation(std::string_view value)
{
  for (std::size_t at = value.find("%("); at != std::string_view::npos;
       at = value.find("%(", at + 1)) {
    std::size_t i = at + 2;
    while (i < value.size() && is_name_char(value[i])) {
      ++i;
    }
    if (i > at + 2 && value.substr(i).starts_with(")s")) {
      return true;
    }
  }
  return false;
}

struct RemoteView {
  bool exists = false;
  const KeyLine* access = nullptr;
  const KeyLine* secret = nullptr;
  std::optional<std::size_t> last_line; // the remote's last header or key line
  const KeyLine* last_key = nullptr;    // the remote's last key line
};

core::Result<RemoteView> find_remote(const Source& source, const Parsed& parsed,
                                     std::string_view remote)
{
  RemoteView view;
  for (const auto& h : parsed.headers) {
    if (h.name == remote) {
      view.exists = true;
      view.last_line = std::max(view.last_line.value_or(0), h.line);
    }
  }
  for (const auto& k : parsed.keys) {
    if (k.section != remote) {
      continue;
    }
    view.last_line = std::max(view.last_line.value_or(0), k.line);
    view.last_key = &k;
    const KeyLine** slot = k.key == k_access   ? &view.access
                           : k.key == k_secret ? &view.secret
                                               : nullptr;
    if (slot == nullptr) {
      continue;
    }
    if (*slot != nullptr) {
      return text::parse_error(source, k.key_begin,
                               fmt::format("{} is set again in [{}] (first on line {}); rclone "
                                           "uses the last one: keep only one",
                                           k.key, remote, parsed.lines[(*slot)->line].number));
    }
    *slot = &k;
  }
  for (const KeyLine* k : {view.access, view.secret}) {
    if (k == nullptr) {
      continue;
    }
    const std::string_view value =
        source.text.substr(k->value_begin, k->value_end - k->value_begin);
    if (has_interpolation(value)) {
      return text::parse_error(source, k->value_begin,
                               fmt::format("{} uses %(name)s interpolation, which rclone expands "
                                           "from other keys: credrotd cannot manage that key; "
                                           "write the key itself",
                                           k->key));
    }
  }
  return view;
}

std::optional<FoundValue> found(const Source& source, const KeyLine* k)
{
  if (k == nullptr) {
    return std::nullopt;
  }
  return found_value(source, k->value_begin, k->value_end, k->key_begin);
}

text::Edit value_edit(std::string_view t, const KeyLine& k, std::string_view value)
{
  if (k.value_begin == k.value_end && k.value_begin == k.delim + 1 && k.delim > k.key_begin &&
      text::space_before(t, k.delim, Spaces::go) != 0) {
    return {k.value_begin, 0, text::concat({" ", value})};
  }
  return {k.value_begin, k.value_end - k.value_begin, Content(value)};
}

} // namespace

core::Status check_remote_name(std::string_view remote)
{
  if (remote.empty()) {
    return core::make_error(core::Errc::config, "remote is required for an rclone consumer");
  }
  if (remote == k_default_section) {
    return core::make_error(core::Errc::config,
                            "remote \"DEFAULT\" is where rclone puts keys written before the "
                            "first section; name a real remote");
  }
  for (const char c : remote) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F || c == '[' || c == ']') {
      return core::make_error(core::Errc::config,
                              "remote contains a control character or a bracket");
    }
  }
  if (text::space_at(remote, 0, Spaces::go) != 0 ||
      text::space_before(remote, remote.size(), Spaces::go) != 0) {
    return core::make_error(core::Errc::config,
                            "remote starts or ends with a space, which rclone trims");
  }
  return {};
}

core::Result<std::optional<FoundKey>> read(const Source& source, const Options& options)
{
  CREDROTD_TRY(check_remote_name(options.remote));
  CREDROTD_TRY_ASSIGN(const Parsed parsed, parse(source));
  CREDROTD_TRY_ASSIGN(const RemoteView view, find_remote(source, parsed, options.remote));
  if (!view.exists) {
    return text::file_error(source, core::Errc::not_found,
                            fmt::format("has no [{}] remote", options.remote));
  }
  auto access = found(source, view.access);
  auto secret = found(source, view.secret);
  // A remote "a.b" without a key reads it from remote "a" (goconfig's GetValue).
  std::string parent = options.remote;
  for (auto dot = parent.rfind('.'); (!access || !secret) && dot != std::string::npos;
       dot = parent.rfind('.')) {
    parent.resize(dot);
    CREDROTD_TRY_ASSIGN(const RemoteView up, find_remote(source, parsed, parent));
    if (!access) {
      access = found(source, up.access);
    }
    if (!secret) {
      secret = found(source, up.secret);
    }
  }
  return make_found_key(source, std::move(access), std::move(secret), k_access, k_secret);
}

core::Result<Content> render(const Source& source, const Options& options,
                             std::string_view access_id, const core::Secret& secret)
{
  CREDROTD_TRY(check_remote_name(options.remote));
  CREDROTD_TRY(text::check_new_key(access_id, secret));
  CREDROTD_TRY_ASSIGN(const Parsed parsed, parse(source));
  CREDROTD_TRY_ASSIGN(const RemoteView view, find_remote(source, parsed, options.remote));
  if (!view.exists) {
    return text::file_error(
        source, core::Errc::not_found,
        fmt::format("has no [{}] remote; create it first (rclone config create)", options.remote));
  }
  const std::string_view t = source.text;
  std::vector<text::Edit> edits;
  if (view.access != nullptr) {
    edits.push_back(value_edit(t, *view.access, access_id));
  }
  if (view.secret != nullptr) {
    edits.push_back(value_edit(t, *view.secret, secret.reveal()));
  }
  std::vector<Content> missing;
  std::string_view indent;
  std::string_view separator = " = ";
  // New lines copy the indentation and separator of a key line of the remote.
  const KeyLine* model = view.access != nullptr   ? view.access
                         : view.secret != nullptr ? view.secret
                                                  : view.last_key;
  if (model != nullptr) {
    const text::Line& line = parsed.lines[model->line];
    indent = t.substr(line.begin, model->key_begin - line.begin);
    separator = t.substr(model->key_begin + model->key.size(),
                         model->value_begin - model->key_begin - model->key.size());
    if (separator.find_first_of("=:") == std::string_view::npos ||
        separator.find_first_of("`\"") != std::string_view::npos) {
      separator = " = ";
    }
  }
  if (view.access == nullptr) {
    missing.push_back(text::concat({indent, k_access, separator, access_id}));
  }
  if (view.secret == nullptr) {
    missing.push_back(text::concat({indent, k_secret, separator, secret.reveal()}));
  }
  if (!missing.empty()) {
    text::insert_after(parsed.lines[*view.last_line], text::preferred_eol(t, parsed.lines), missing,
                       edits);
  }
  // Read the result back as rclone will.
  return read_back(source, text::apply_edits(t, std::move(edits)),
                   "the rewritten file would not give rclone the new key; nothing written",
                   [&](const Source& written) -> core::Result<bool> {
                     CREDROTD_TRY_ASSIGN(const Parsed check, parse(written));
                     const auto v = find_remote(written, check, options.remote);
                     const auto value = [&](const KeyLine* k) {
                       return written.text.substr(k->value_begin, k->value_end - k->value_begin);
                     };
                     return v && v->access != nullptr && v->secret != nullptr &&
                            value(v->access) == access_id && value(v->secret) == secret.reveal() &&
                            check.keys.size() == parsed.keys.size() + missing.size();
                   });
}

} // namespace credrotd::consumers::rclone
