// SPDX-License-Identifier: Apache-2.0
// java.util.Properties, following the rules of OpenJDK 17's Properties.LineReader,
// load0() and loadConvert()/saveConvert().
#include "consumers/java_properties.hpp"

#include <algorithm>
#include <charconv>

namespace credrotd::consumers::java_properties {

namespace {

bool is_blank(char c)
{
  return c == ' ' || c == '\t' || c == '\f';
}

void append_code_point(Content& out, unsigned cp)
{
  // Keys credrotd compares are ASCII; anything else only needs to stay distinct.
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// A logical line: its bytes (the continued lines joined, each without its leading blanks and
// continuing backslash) and the offset of each in the file, for messages.
struct Logical {
  Content bytes;
  std::vector<std::size_t> offsets;

  void append(std::string_view t, std::size_t begin, std::size_t end)
  {
    bytes.append(t.substr(begin, end - begin));
    for (std::size_t i = begin; i < end; ++i) {
      offsets.push_back(i);
    }
  }
};

// loadConvert(): the escapes of bytes [from, to) of a logical line.
core::Result<Content> unescape(const Source& source, const Logical& l, std::size_t from,
                               std::size_t to)
{
  Content out;
  for (std::size_t i = from; i < to; ++i) {
    const char c = l.bytes[i];
    if (c != '\\' || i + 1 == to) {
      append_code_point(out, static_cast<unsigned char>(c));
      continue;
    }
    const char e = l.bytes[++i];
    if (e == 'u') {
      // Exactly four hex digits (from_chars takes no sign or prefix for an unsigned).
      unsigned cp = 0;
      const char* first = l.bytes.data() + i + 1;
      const char* last = first + std::min<std::size_t>(4, to - i - 1);
      const auto [end, ec] = std::from_chars(first, last, cp, 16);
      if (ec != std::errc() || end != first + 4) {
        return text::parse_error(source, l.offsets[i],
                                 "malformed \\uXXXX escape: Java refuses the whole file");
      }
      i += 4;
      append_code_point(out, cp);
    } else {
      const char unescaped = e == 't'   ? '\t'
                             : e == 'n' ? '\n'
                             : e == 'r' ? '\r'
                             : e == 'f' ? '\f'
                                        : e;
      append_code_point(out, static_cast<unsigned char>(unescaped));
    }
  }
  return out;
}

bool odd_backslashes_at_end(std::string_view s)
{
  const std::size_t last = s.find_last_not_of('\\');
  return (s.size() - (last == std::string_view::npos ? 0 : last + 1)) % 2 == 1;
}

std::size_t skip_blanks(std::string_view t, std::size_t from, std::size_t to)
{
  while (from < to && is_blank(t[from])) {
    ++from;
  }
  return from;
}

} // namespace

core::Result<Parsed> parse(const Source& source)
{
  CREDROTD_TRY(text::check_no_lone_cr(source));
  const std::string_view t = source.text;
  Parsed parsed;
  parsed.lines = text::split_lines(t);
  const auto& lines = parsed.lines;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    std::size_t b = skip_blanks(t, lines[i].begin, lines[i].end);
    if (b == lines[i].end || t[b] == '#' || t[b] == '!') {
      continue;
    }
    Entry entry;
    entry.first_line = i;
    // A line ending in an odd number of backslashes continues on the next one, whose leading
    // blanks are skipped; the backslash itself is dropped.
    Logical l;
    for (;;) {
      const bool continued = odd_backslashes_at_end(t.substr(b, lines[i].end - b));
      l.append(t, b, continued ? lines[i].end - 1 : lines[i].end);
      if (!continued) {
        break;
      }
      if (i + 1 == lines.size()) {
        parsed.continued_at_end = true;
        break;
      }
      ++i;
      b = skip_blanks(t, lines[i].begin, lines[i].end);
    }
    entry.last_line = i;

    // The key ends at the first unescaped '=', ':' or blank; then blanks, at most one '=' or
    // ':' (when none ended the key), and blanks again before the value.
    const std::size_t n = l.bytes.size();
    std::size_t key_end = n;
    bool has_separator = false;
    bool escaped = false;
    for (std::size_t k = 0; k < n && key_end == n; ++k) {
      const char c = l.bytes[k];
      if (!escaped && (c == '=' || c == ':' || is_blank(c))) {
        key_end = k;
        has_separator = !is_blank(c);
      }
      escaped = c == '\\' && !escaped;
    }
    std::size_t value = std::min(key_end + 1, n);
    for (; value < n; ++value) {
      const char c = l.bytes[value];
      if (!is_blank(c) && (has_separator || (c != '=' && c != ':'))) {
        break;
      }
      has_separator = has_separator || !is_blank(c);
    }
    CREDROTD_TRY_ASSIGN(const Content key, unescape(source, l, 0, key_end));
    entry.key.assign(key.data(), key.size());
    CREDROTD_TRY_ASSIGN(entry.value, unescape(source, l, value, n));
    parsed.entries.push_back(std::move(entry));
  }
  return parsed;
}

namespace {

void save_convert(Content& out, std::string_view s, bool escape_space)
{
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    switch (c) {
    case '\\':
      out += "\\\\";
      break;
    case ' ':
      out += (i == 0 || escape_space) ? "\\ " : " ";
      break;
    case '\t':
      out += "\\t";
      break;
    case '\n':
      out += "\\n";
      break;
    case '\r':
      out += "\\r";
      break;
    case '\f':
      out += "\\f";
      break;
    case '=':
    case ':':
    case '#':
    case '!':
      out += '\\';
      out += c;
      break;
    default:
      out += c;
    }
  }
}

} // namespace

Content store_line(std::string_view key, std::string_view value)
{
  Content out;
  save_convert(out, key, true);
  out += '=';
  save_convert(out, value, false);
  return out;
}

} // namespace credrotd::consumers::java_properties
