// SPDX-License-Identifier: Apache-2.0
// The AWS shared credentials file, tokenized as CPython 3.11's RawConfigParser._read does
// (comment_prefixes '#' ';', delimiters '=' ':', strict, empty_lines_in_values, no inline
// comments), plus botocore.configloader's nested values (a value starting with a newline is
// a block of `key = value` lines).
#include "consumers/aws_credentials.hpp"

#include "core/text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <set>
#include <tuple>

namespace credrotd::consumers::aws_credentials {

namespace {

using text::Spaces;

constexpr std::string_view k_access = "aws_access_key_id";
constexpr std::string_view k_secret = "aws_secret_access_key";
constexpr std::array<std::string_view, 2> k_tokens = {"aws_session_token", "aws_security_token"};
constexpr std::string_view k_default_section = "DEFAULT";

bool is_token(std::string_view name)
{
  return std::find(k_tokens.begin(), k_tokens.end(), name) != k_tokens.end();
}

// One of the options credrotd rotates or removes.
bool is_credential(std::string_view name)
{
  return name == k_access || name == k_secret || is_token(name);
}

struct Option {
  std::string section;
  std::string name;          // lowercased, as configparser's optionxform
  std::size_t line = 0;      // index of the option line
  std::size_t last_line = 0; // index of its last continuation line (== line when none)
  std::size_t key_begin = 0;
  std::size_t key_end = 0;
  std::size_t value_begin = 0; // the value on the option line, stripped
  std::size_t value_end = 0;
  std::vector<std::string_view> parts; // the value lines as configparser joins them
  bool has_continuation = false;       // a non-blank continuation line

  // The value as configparser returns it: parts joined with '\n', trailing newlines removed
  // (the parts are stripped already). A wiping buffer: the value may be a secret.
  Content joined() const
  {
    Content out;
    for (std::size_t i = 0; i < parts.size(); ++i) {
      if (i != 0) {
        out += '\n';
      }
      out += parts[i];
    }
    while (!out.empty() && out.back() == '\n') {
      out.pop_back();
    }
    return out;
  }
};

struct Section {
  std::string name;
  std::size_t header_line = 0;
  std::vector<std::size_t> options; // indices into Parsed::options
};

struct Parsed {
  std::vector<text::Line> lines;
  std::vector<Option> options;
  std::vector<Section> sections; // in file order; [DEFAULT] blocks included
};

// Number of characters (code points) in [from, to), as Python counts an indent.
std::size_t code_points(std::string_view s, std::size_t from, std::size_t to)
{
  std::size_t n = 0;
  for (std::size_t i = from; i < to; ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) {
      ++n;
    }
  }
  return n;
}

core::Result<Parsed> parse(const Source& source)
{
  const std::string_view t = source.text;
  if (t.starts_with(text::k_bom)) {
    return text::parse_error(source, 0,
                             "the file starts with a byte order mark, which botocore does not "
                             "skip: it rejects the whole file (ConfigParseError); remove the "
                             "first 3 bytes");
  }
  CREDROTD_TRY(text::check_no_lone_cr(source));
  CREDROTD_TRY(text::check_utf8(source, "botocore"));

  Parsed parsed;
  parsed.lines = text::split_lines(t);
  std::set<std::string> sections_seen;
  std::set<std::pair<std::string, std::string>> options_seen;
  std::optional<std::string> section; // cursect
  // optname, as an index into options (a plain sentinel: g++ 12 warns falsely about an
  // optional<size_t> here)
  constexpr std::size_t k_none = static_cast<std::size_t>(-1);
  std::size_t option = k_none;
  std::size_t indent_level = 0;
  std::optional<core::Error> parsing_error; // configparser reports these after the loop

  for (std::size_t i = 0; i < parsed.lines.size(); ++i) {
    const text::Line& line = parsed.lines[i];
    const std::size_t sb = text::skip_spaces(t, line.begin, line.end, Spaces::python);
    const std::size_t se = text::trim_end(t, sb, line.end, Spaces::python);
    if (sb < se && (t[sb] == '#' || t[sb] == ';')) {
      continue; // a comment neither ends nor extends a value
    }
    if (sb == se) {
      if (option != k_none) {
        parsed.options[option].parts.push_back({}); // kept inside a multi-line value
      }
      continue;
    }
    const std::string_view stripped = t.substr(sb, se - sb);
    const std::size_t indent = code_points(t, line.begin, sb);
    if (section && option != k_none && indent > indent_level) {
      Option& o = parsed.options[option];
      o.parts.push_back(stripped);
      o.last_line = i;
      o.has_continuation = true;
      continue;
    }
    indent_level = indent;
    const std::size_t close = stripped.rfind(']');
    if (stripped.front() == '[' && close != std::string_view::npos && close >= 2) {
      std::string name(stripped.substr(1, close - 1));
      if (name != k_default_section) {
        if (!sections_seen.insert(name).second) {
          return text::parse_error(source, sb,
                                   fmt::format("section [{}] appears twice; botocore rejects the "
                                               "whole file (DuplicateSectionError): merge the two",
                                               name));
        }
      }
      parsed.sections.push_back(Section{name, i, {}});
      section = std::move(name);
      option = k_none;
      continue;
    }
    if (!section) {
      return text::parse_error(source, sb,
                               "a line before the first [section]; botocore rejects the whole "
                               "file (MissingSectionHeaderError)");
    }
    const std::size_t delim = stripped.find_first_of("=:");
    const std::size_t key_end =
        delim == std::string_view::npos ? sb : text::trim_end(t, sb, sb + delim, Spaces::python);
    if (delim == std::string_view::npos || key_end == sb) {
      if (!parsing_error) {
        parsing_error =
            text::parse_error(source, sb,
                              delim == std::string_view::npos
                                  ? "a line that is neither a [section], a comment nor key = "
                                    "value; botocore rejects the whole file (ParsingError)"
                                  : "a key = value line without a key; botocore rejects the "
                                    "whole file (ParsingError)");
      }
      option = k_none;
      continue;
    }
    Option o;
    o.section = *section;
    o.name = core::ascii_lower(t.substr(sb, key_end - sb));
    o.line = i;
    o.last_line = i;
    o.key_begin = sb;
    o.key_end = key_end;
    o.value_begin = text::skip_spaces(t, sb + delim + 1, se, Spaces::python);
    o.value_end = se;
    o.parts.push_back(t.substr(o.value_begin, o.value_end - o.value_begin));
    if (!options_seen.insert({o.section, o.name}).second) {
      return text::parse_error(source, sb,
                               fmt::format("{} appears twice in [{}]; botocore rejects the whole "
                                           "file (DuplicateOptionError): keep only one",
                                           o.name, o.section));
    }
    option = parsed.options.size();
    parsed.sections.back().options.push_back(parsed.options.size());
    parsed.options.push_back(std::move(o));
  }
  if (parsing_error) {
    return *parsing_error;
  }
  // botocore parses a value that starts with a newline as nested `key = value` lines.
  for (const auto& o : parsed.options) {
    const Content value = o.joined();
    if (!value.starts_with('\n')) {
      continue;
    }
    for (std::size_t p = 1; p < o.parts.size(); ++p) {
      if (!o.parts[p].empty() && o.parts[p].find('=') == std::string_view::npos) {
        return text::parse_error(source, o.key_begin,
                                 fmt::format("{} starts an indented block of nested settings in "
                                             "which a line has no '='; botocore rejects the whole "
                                             "file",
                                             o.name));
      }
    }
  }
  for (const auto& o : parsed.options) {
    if (o.section == k_default_section && is_credential(o.name)) {
      return text::parse_error(source, o.key_begin,
                               fmt::format("{} in [DEFAULT] is inherited by every profile of the "
                                           "file; move it into the profile that uses it",
                                           o.name));
    }
  }
  return parsed;
}

struct ProfileView {
  const Section* section = nullptr; // strict: a profile has one section at most
  const Option* access = nullptr;
  const Option* secret = nullptr;
  std::vector<const Option*> tokens;
  const Option* last = nullptr; // the section's last option
};

core::Result<ProfileView> find_profile(const Source& source, const Parsed& parsed,
                                       const Options& options)
{
  ProfileView view;
  for (const auto& s : parsed.sections) {
    if (s.name != options.profile) {
      continue;
    }
    view.section = &s;
    for (const std::size_t index : s.options) {
      const Option& o = parsed.options[index];
      view.last = &o;
      if (o.name == k_access) {
        view.access = &o;
      } else if (o.name == k_secret) {
        view.secret = &o;
      } else if (is_token(o.name)) {
        view.tokens.push_back(&o);
      }
    }
  }
  for (const Option* o : {view.access, view.secret}) {
    if (o != nullptr && o->has_continuation) {
      return text::parse_error(source, o->key_begin,
                               fmt::format("{} continues on the indented line {}, which botocore "
                                           "makes part of the key; remove the indented line(s) or "
                                           "un-indent them",
                                           o->name, parsed.lines[o->last_line].number));
    }
  }
  return view;
}

std::optional<FoundValue> found(const Source& source, const Option* o)
{
  if (o == nullptr) {
    return std::nullopt;
  }
  return found_value(source, o->value_begin, o->value_end, o->key_begin);
}

text::Edit value_edit(std::string_view t, const Option& o, std::string_view value)
{
  if (o.value_begin == o.value_end && o.value_begin > 0 &&
      (t[o.value_begin - 1] == '=' || t[o.value_begin - 1] == ':') &&
      o.key_end < o.value_begin - 1) {
    return {o.value_begin, 0, text::concat({" ", value})};
  }
  return {o.value_begin, o.value_end - o.value_begin, Content(value)};
}

// Every option outside the rotated keys of the profile, as configparser returns it: the
// rewrite must leave all of them unchanged.
std::vector<std::tuple<std::string, std::string, Content>> other_options(const Parsed& parsed,
                                                                         const Options& options)
{
  std::vector<std::tuple<std::string, std::string, Content>> out;
  for (const auto& o : parsed.options) {
    if (o.section != options.profile || !is_credential(o.name)) {
      out.emplace_back(o.section, o.name, o.joined());
    }
  }
  return out;
}

} // namespace

core::Status check_profile_name(std::string_view profile)
{
  if (profile.empty()) {
    return core::make_error(core::Errc::config, "profile must not be empty");
  }
  if (profile == k_default_section) {
    return core::make_error(core::Errc::config,
                            "profile \"DEFAULT\" is configparser's defaults section, which every "
                            "profile inherits; name the profile otherwise");
  }
  for (const char c : profile) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) {
      return core::make_error(core::Errc::config, "profile contains a control character");
    }
  }
  if (!text::is_utf8(profile)) {
    return core::make_error(core::Errc::config, "profile is not valid UTF-8");
  }
  if (profile.front() == ' ' || profile.back() == ' ') {
    return core::make_error(core::Errc::config,
                            "profile starts or ends with a space; botocore would need it "
                            "spelled with the spaces in every --profile");
  }
  return {};
}

core::Result<std::optional<FoundKey>> read(const Source& source, const Options& options)
{
  CREDROTD_TRY(check_profile_name(options.profile));
  CREDROTD_TRY_ASSIGN(const Parsed parsed, parse(source));
  CREDROTD_TRY_ASSIGN(const ProfileView view, find_profile(source, parsed, options));
  return make_found_key(source, found(source, view.access), found(source, view.secret), k_access,
                        k_secret);
}

core::Result<Content> create(const Options& options, std::string_view access_id,
                             const core::Secret& secret)
{
  CREDROTD_TRY(check_profile_name(options.profile));
  CREDROTD_TRY(text::check_new_key(access_id, secret));
  return text::concat({"[", options.profile, "]\n", k_access, " = ", access_id, "\n", k_secret,
                       " = ", secret.reveal(), "\n"});
}

core::Result<Content> render(const Source& source, const Options& options,
                             std::string_view access_id, const core::Secret& secret)
{
  CREDROTD_TRY(check_profile_name(options.profile));
  CREDROTD_TRY(text::check_new_key(access_id, secret));
  CREDROTD_TRY_ASSIGN(const Parsed parsed, parse(source));
  CREDROTD_TRY_ASSIGN(const ProfileView view, find_profile(source, parsed, options));
  const std::string_view t = source.text;
  const std::string_view eol = text::preferred_eol(t, parsed.lines);
  std::vector<text::Edit> edits;

  if (view.section == nullptr) {
    if (!options.create_profile) {
      return text::file_error(
          source, core::Errc::not_found,
          fmt::format("has no [{}] profile; add it, or set create_profile = true",
                      options.profile));
    }
    std::vector<Content> block;
    if (!parsed.lines.empty()) {
      const text::Line& last = parsed.lines.back();
      if (text::skip_spaces(t, last.begin, last.end, Spaces::python) != last.end) {
        block.emplace_back(); // a blank line between the last section and the new one
      }
    }
    block.push_back(text::concat({"[", options.profile, "]"}));
    block.push_back(text::concat({k_access, " = ", access_id}));
    block.push_back(text::concat({k_secret, " = ", secret.reveal()}));
    text::append_lines(t, parsed.lines, block, edits);
  } else {
    if (view.access != nullptr) {
      edits.push_back(value_edit(t, *view.access, access_id));
    }
    if (view.secret != nullptr) {
      edits.push_back(value_edit(t, *view.secret, secret.reveal()));
    }
    std::vector<Content> missing_lines;
    std::string_view indent;
    if (view.last != nullptr) {
      const text::Line& line = parsed.lines[view.last->line];
      indent = t.substr(line.begin, view.last->key_begin - line.begin);
    } else {
      // An empty section: indent new keys like the next line that is not blank or a
      // comment, so that line does not become a continuation of them.
      const Section& s = *view.section;
      for (std::size_t i = s.header_line + 1; i < parsed.lines.size(); ++i) {
        const text::Line& line = parsed.lines[i];
        const std::size_t first = text::skip_spaces(t, line.begin, line.end, Spaces::python);
        if (first != line.end && t[first] != '#' && t[first] != ';') {
          indent = t.substr(line.begin, first - line.begin);
          break;
        }
      }
    }
    if (view.access == nullptr) {
      missing_lines.push_back(text::concat({indent, k_access, " = ", access_id}));
    }
    if (view.secret == nullptr) {
      missing_lines.push_back(text::concat({indent, k_secret, " = ", secret.reveal()}));
    }
    if (!missing_lines.empty()) {
      const std::size_t anchor =
          view.last != nullptr ? view.last->last_line : view.section->header_line;
      text::insert_after(parsed.lines[anchor], eol, missing_lines, edits);
    }
    if (options.session_token == SessionToken::remove && !view.tokens.empty()) {
      std::vector<text::LineRange> doomed;
      for (const Option* o : view.tokens) {
        doomed.emplace_back(o->line, o->last_line);
      }
      text::remove_line_ranges(parsed.lines, std::move(doomed), edits);
    }
  }
  // Read the result back as botocore will: the profile holds exactly the new key, and every
  // other option of the file reads as before.
  return read_back(source, text::apply_edits(t, std::move(edits)),
                   "the rewritten file would not give botocore the new key with every other "
                   "setting unchanged; nothing written",
                   [&](const Source& written) -> core::Result<bool> {
                     CREDROTD_TRY_ASSIGN(const Parsed check, parse(written));
                     const auto v = find_profile(written, check, options);
                     return v && v->access != nullptr && v->secret != nullptr &&
                            v->access->joined() == access_id &&
                            v->secret->joined() == secret.reveal() &&
                            (options.session_token == SessionToken::keep || v->tokens.empty()) &&
                            other_options(check, options) == other_options(parsed, options);
                   });
}

} // namespace credrotd::consumers::aws_credentials
