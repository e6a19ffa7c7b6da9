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

// A piece of a logical line: bytes of the file at [begin, end).
struct Piece {
  std::size_t begin = 0;
  std::size_t end = 0;
};

// loadConvert(): the escapes of a key or value. `pieces` are in file order.
core::Result<Content> unescape(const Source& source, const std::vector<Piece>& pieces,
                               std::size_t skip)
{
  // Flatten, remembering each byte's offset for messages.
  std::vector<std::size_t> offsets;
  Content bytes;
  for (const Piece& p : pieces) {
    for (std::size_t i = p.begin; i < p.end; ++i) {
      if (skip > 0) {
        --skip;
        continue;
      }
      bytes += source.text[i];
      offsets.push_back(i);
    }
  }
  Content out;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    const char c = bytes[i];
    if (c != '\\' || i + 1 == bytes.size()) {
      append_code_point(out, static_cast<unsigned char>(c));
      continue;
    }
    const char e = bytes[++i];
    if (e == 'u') {
      // Exactly four hex digits (from_chars takes no sign or prefix for an unsigned).
      unsigned cp = 0;
      const char* first = bytes.data() + i + 1;
      const char* last = first + std::min<std::size_t>(4, bytes.size() - i - 1);
      const auto [end, ec] = std::from_chars(first, last, cp, 16);
      if (ec != std::errc() || end != first + 4) {
        return text::parse_error(source, offsets[i],
                                 "malformed \\uXXXX escape: Java refuses the whole file");
      }
      i += 4;
      append_code_point(out, cp);
    } else if (e == 't') {
      out += '\t';
    } else if (e == 'n') {
      out += '\n';
    } else if (e == 'r') {
      out += '\r';
    } else if (e == 'f') {
      out += '\f';
    } else {
      append_code_point(out, static_cast<unsigned char>(e));
    }
  }
  return out;
}

bool odd_backslashes_at_end(std::string_view s)
{
  std::size_t n = 0;
  while (n < s.size() && s[s.size() - 1 - n] == '\\') {
    ++n;
  }
  return n % 2 == 1;
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
    std::size_t b = lines[i].begin;
    while (b < lines[i].end && is_blank(t[b])) {
      ++b;
    }
    if (b == lines[i].end || t[b] == '#' || t[b] == '!') {
      continue;
    }
    Entry entry;
    entry.first_line = i;
    std::vector<Piece> pieces{{b, lines[i].end}};
    // A line ending in an odd number of backslashes continues on the next one, whose leading
    // blanks are skipped; the backslash itself is dropped.
    while (odd_backslashes_at_end(
        t.substr(pieces.back().begin, pieces.back().end - pieces.back().begin))) {
      --pieces.back().end;
      if (i + 1 == lines.size()) {
        parsed.continued_at_end = true;
        break;
      }
      ++i;
      std::size_t nb = lines[i].begin;
      while (nb < lines[i].end && is_blank(t[nb])) {
        ++nb;
      }
      pieces.push_back({nb, lines[i].end});
    }
    entry.last_line = i;

    // The key ends at the first unescaped '=', ':' or blank.
    std::vector<Piece> key_pieces;
    std::size_t value_skip = 0; // bytes of the logical line before the value
    std::size_t consumed = 0;
    bool has_separator = false;
    bool found_end = false;
    bool escaped = false;
    for (const Piece& p : pieces) {
      for (std::size_t k = p.begin; k < p.end && !found_end; ++k) {
        const char c = t[k];
        if ((c == '=' || c == ':') && !escaped) {
          has_separator = true;
          found_end = true;
          key_pieces.push_back({p.begin, k});
          value_skip = consumed + (k - p.begin) + 1;
        } else if (is_blank(c) && !escaped) {
          found_end = true;
          key_pieces.push_back({p.begin, k});
          value_skip = consumed + (k - p.begin) + 1;
        } else {
          escaped = c == '\\' ? !escaped : false;
        }
      }
      if (found_end) {
        break;
      }
      key_pieces.push_back(p);
      consumed += p.end - p.begin;
    }
    std::size_t total = 0;
    for (const Piece& p : pieces) {
      total += p.end - p.begin;
    }
    if (!found_end) {
      value_skip = total;
    }
    // Blanks, then at most one '=' or ':' (when none ended the key), then blanks.
    const auto byte_at = [&](std::size_t n) {
      for (const Piece& p : pieces) {
        if (n < p.end - p.begin) {
          return t[p.begin + n];
        }
        n -= p.end - p.begin;
      }
      return '\0';
    };
    while (value_skip < total) {
      const char c = byte_at(value_skip);
      if (!is_blank(c)) {
        if (!has_separator && (c == '=' || c == ':')) {
          has_separator = true;
        } else {
          break;
        }
      }
      ++value_skip;
    }
    CREDROTD_TRY_ASSIGN(const Content key, unescape(source, key_pieces, 0));
    entry.key.assign(key.data(), key.size());
    CREDROTD_TRY_ASSIGN(entry.value, unescape(source, pieces, value_skip));
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
