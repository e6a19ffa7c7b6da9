// SPDX-License-Identifier: Apache-2.0
// s3cmd's ~/.s3cfg, tokenized with the regular expressions of S3/Config.py (s3cmd 2.3.0):
//   r_comment = ^\s*#.*   r_empty = ^\s*$   r_section = ^\[([^\]]+)\]
//   r_data = ^\s*(?P<key>\w+)\s*=\s*(?P<value>.*)   r_quotes = ^"(.*)"\s*$
// then value.strip(); a value starting with '$' names an environment variable.
#include "consumers/s3cmd.hpp"

#include <fmt/format.h>

#include <array>

namespace credrotd::consumers::s3cmd {

namespace {

using text::Spaces;

enum Slot : std::size_t { access_slot, secret_slot, token_slot, slot_count };
constexpr std::array<std::string_view, slot_count> k_names = {"access_key", "secret_key",
                                                              "access_token"};

struct DataLine {
  std::size_t line = 0; // index into lines
  std::size_t key_begin = 0;
  std::size_t key_end = 0;
  std::size_t value_begin = 0; // after '=' and the spaces r_data skips
  std::size_t value_end = 0;   // end of the line content
};

struct Parsed {
  std::vector<text::Line> lines;
  std::array<std::optional<DataLine>, slot_count> slots;
};

bool is_word(char c)
{
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

// Offset of the start of the last UTF-8 character in [from, to).
std::size_t last_char_start(std::string_view s, std::size_t from, std::size_t to)
{
  std::size_t i = to - 1;
  while (i > from && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) {
    --i;
  }
  return i;
}

// The value s3cmd ends up with for a data line: r_quotes strips the first and last
// characters, then read_config_file strips whitespace.
Content effective_value(std::string_view text, const DataLine& d)
{
  std::size_t b = d.value_begin;
  std::size_t e = d.value_end;
  const std::size_t trimmed = text::trim_end(text, b, e, Spaces::python);
  if (trimmed - b >= 2 && text[b] == '"' && text[trimmed - 1] == '"') {
    e = last_char_start(text, b, e);
    ++b;
  }
  b = text::skip_spaces(text, b, e, Spaces::python);
  e = text::trim_end(text, b, e, Spaces::python);
  return Content(text.substr(b, e - b));
}

core::Result<Parsed> parse(const Source& source)
{
  CREDROTD_TRY(text::check_no_lone_cr(source));
  CREDROTD_TRY(text::check_utf8(source, "s3cmd"));
  const std::string_view t = source.text;
  Parsed parsed;
  parsed.lines = text::split_lines(t);
  const bool bom = t.starts_with(text::k_bom);
  for (std::size_t i = 0; i < parsed.lines.size(); ++i) {
    const text::Line& line = parsed.lines[i];
    // s3cmd reads the byte order mark as U+FEFF, which no expression accepts: it warns
    // "Ignoring invalid line" and skips the whole first line.
    const bool hidden = i == 0 && bom;
    const std::size_t begin = hidden ? line.begin + text::k_bom.size() : line.begin;
    const std::size_t first = text::skip_spaces(t, begin, line.end, Spaces::python);
    if (first == line.end || t[first] == '#' || t[begin] == '[') {
      continue; // empty, comment or section header (section names do not matter to s3cmd)
    }
    std::size_t key_end = first;
    while (key_end < line.end && is_word(t[key_end])) {
      ++key_end;
    }
    const std::size_t eq = text::skip_spaces(t, key_end, line.end, Spaces::python);
    if (key_end == first || eq == line.end || t[eq] != '=') {
      continue; // not a data line, or a key with non-ASCII letters: not one of ours
    }
    const std::string_view key = t.substr(first, key_end - first);
    std::size_t slot = slot_count;
    for (std::size_t s = 0; s < slot_count; ++s) {
      if (key == k_names[s]) {
        slot = s;
      }
    }
    if (slot == slot_count) {
      continue;
    }
    if (hidden) {
      return text::parse_error(source, line.begin,
                               fmt::format("{} is on the line that starts with a byte order mark, "
                                           "which s3cmd ignores; remove the byte order mark (the "
                                           "first 3 bytes)",
                                           key));
    }
    DataLine d;
    d.line = i;
    d.key_begin = first;
    d.key_end = key_end;
    d.value_begin = text::skip_spaces(t, eq + 1, line.end, Spaces::python);
    d.value_end = line.end;
    if (parsed.slots[slot]) {
      return text::parse_error(source, first,
                               fmt::format("{} is set again (first on line {}); s3cmd merges all "
                                           "sections and uses the last one: keep only one",
                                           key, parsed.lines[parsed.slots[slot]->line].number));
    }
    parsed.slots[slot] = d;
  }
  return parsed;
}

// The value of access_key or secret_key; Errc::parse for one taken from the environment.
core::Result<Content> key_value(const Source& source, const DataLine& d, std::string_view name)
{
  Content value = effective_value(source.text, d);
  if (value.starts_with('$')) {
    return text::parse_error(source, d.value_begin,
                             fmt::format("{} names an environment variable ($...), which s3cmd "
                                         "reads at run time: credrotd cannot manage that key; "
                                         "write the key into the file or remove this consumer",
                                         name));
  }
  return value;
}

core::Result<std::optional<FoundKey>> read_parsed(const Source& source, const Parsed& parsed)
{
  std::array<std::optional<FoundValue>, 2> values;
  for (std::size_t s = 0; s < 2; ++s) {
    if (const auto& d = parsed.slots[s]) {
      CREDROTD_TRY_ASSIGN(Content value, key_value(source, *d, k_names[s]));
      values[s] = FoundValue{std::move(value), d->key_begin, parsed.lines[d->line].number};
    }
  }
  return make_found_key(source, std::move(values[0]), std::move(values[1]), "access_key",
                        "secret_key");
}

// The replacement of a data line's value: keeps a "..." quoting that s3cmd strips (no
// trailing blanks), keeps trailing blanks, replaces the rest.
text::Edit value_edit(std::string_view t, const DataLine& d, std::string_view value)
{
  const std::size_t trimmed = text::trim_end(t, d.value_begin, d.value_end, Spaces::python);
  if (trimmed == d.value_end && d.value_end - d.value_begin >= 2 && t[d.value_begin] == '"' &&
      t[d.value_end - 1] == '"') {
    return {d.value_begin + 1, d.value_end - 1 - (d.value_begin + 1), Content(value)};
  }
  if (trimmed == d.value_begin && !value.empty() && d.value_begin > 0 &&
      t[d.value_begin - 1] == '=' && d.key_end < d.value_begin - 1) {
    // "key =" with nothing after: write "key = value", like the spacing before '='.
    return {d.value_begin, 0, text::concat({" ", value})};
  }
  return {d.value_begin, trimmed - d.value_begin, Content(value)};
}

Content line_like(std::string_view t, const DataLine& model, const text::Line& line,
                  std::string_view key, std::string_view value)
{
  const std::string_view indent = t.substr(line.begin, model.key_begin - line.begin);
  std::string_view separator = t.substr(model.key_end, model.value_begin - model.key_end);
  if (separator.find('=') == std::string_view::npos) {
    separator = " = ";
  }
  return text::concat({indent, key, separator, value});
}

} // namespace

core::Result<std::optional<FoundKey>> read(const Source& source)
{
  CREDROTD_TRY_ASSIGN(const Parsed parsed, parse(source));
  return read_parsed(source, parsed);
}

core::Result<Content> render(const Source& source, const Options& options,
                             std::string_view access_id, const core::Secret& secret)
{
  CREDROTD_TRY(text::check_new_key(access_id, secret));
  CREDROTD_TRY_ASSIGN(const Parsed parsed, parse(source));
  for (std::size_t s = 0; s < 2; ++s) {
    if (const auto& d = parsed.slots[s]) {
      CREDROTD_TRY(key_value(source, *d, k_names[s]));
    }
  }
  const std::string_view t = source.text;
  const std::string_view eol = text::preferred_eol(t, parsed.lines);
  std::vector<text::Edit> edits;
  const auto& access = parsed.slots[access_slot];
  const auto& secret_line = parsed.slots[secret_slot];
  if (access) {
    edits.push_back(value_edit(t, *access, access_id));
  }
  if (secret_line) {
    edits.push_back(value_edit(t, *secret_line, secret.reveal()));
  }
  if (!access && secret_line) {
    const auto& line = parsed.lines[secret_line->line];
    text::insert_before(line, eol, {line_like(t, *secret_line, line, "access_key", access_id)},
                        edits);
  } else if (access && !secret_line) {
    const auto& line = parsed.lines[access->line];
    text::insert_after(line, eol, {line_like(t, *access, line, "secret_key", secret.reveal())},
                       edits);
  } else if (!access && !secret_line) {
    text::append_lines(t, parsed.lines,
                       {text::concat({"access_key = ", access_id}),
                        text::concat({"secret_key = ", secret.reveal()})},
                       edits);
  }
  const auto& token = parsed.slots[token_slot];
  if (token && options.session_token == SessionToken::remove &&
      !effective_value(t, *token).empty()) {
    const std::size_t trimmed =
        text::trim_end(t, token->value_begin, token->value_end, Spaces::python);
    edits.push_back({token->value_begin, trimmed - token->value_begin, {}});
  }
  // Read the result back the way s3cmd will: it must give exactly the new key.
  return read_back(source, text::apply_edits(t, std::move(edits)),
                   "the rewritten file would not give s3cmd the new key; nothing written",
                   [&](const Source& written) -> core::Result<bool> {
                     CREDROTD_TRY_ASSIGN(const Parsed check, parse(written));
                     const auto& kept = check.slots[token_slot];
                     return is_key(read_parsed(written, check), access_id, secret) &&
                            (options.session_token == SessionToken::keep || !kept ||
                             effective_value(written.text, *kept).empty());
                   });
}

} // namespace credrotd::consumers::s3cmd
