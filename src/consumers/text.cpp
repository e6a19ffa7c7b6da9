// SPDX-License-Identifier: Apache-2.0
// Byte-exact text helpers shared by the format modules.
#include "consumers/text.hpp"

#include <algorithm>
#include <stdexcept>

namespace credrotd::consumers::text {

std::vector<Line> split_lines(std::string_view text)
{
  std::vector<Line> lines;
  std::size_t begin = 0;
  std::uint32_t number = 1;
  while (begin < text.size()) {
    const std::size_t lf = text.find('\n', begin);
    Line line;
    line.begin = begin;
    line.number = number++;
    if (lf == std::string_view::npos) {
      line.end = text.size();
      line.next = text.size();
    } else {
      line.end = (lf > begin && text[lf - 1] == '\r') ? lf - 1 : lf;
      line.next = lf + 1;
    }
    lines.push_back(line);
    begin = line.next;
  }
  return lines;
}

std::string_view preferred_eol(std::string_view text, const std::vector<Line>& lines)
{
  for (const auto& line : lines) {
    if (line.terminated()) {
      return text.substr(line.end, line.next - line.end);
    }
  }
  return "\n";
}

Position position_of(std::string_view text, std::size_t offset)
{
  Position pos;
  offset = std::min(offset, text.size());
  std::size_t line_start = 0;
  for (std::size_t i = 0; i < offset; ++i) {
    if (text[i] == '\n') {
      ++pos.line;
      line_start = i + 1;
    }
  }
  pos.column = static_cast<std::uint32_t>(offset - line_start + 1);
  return pos;
}

core::Error parse_error(const Source& source, std::size_t offset, std::string_view what)
{
  const Position pos = position_of(source.text, offset);
  std::string message(source.name);
  message += ':' + std::to_string(pos.line) + ':' + std::to_string(pos.column) + ": ";
  message += what;
  return core::make_error(core::Errc::parse, std::move(message));
}

core::Error file_error(const Source& source, core::Errc code, std::string_view what)
{
  std::string message(source.name);
  message += ": ";
  message += what;
  return core::make_error(code, std::move(message));
}

core::Error unparsable_rewrite(const Source& source, const core::Error& error)
{
  return file_error(source, core::Errc::internal,
                    "the rewritten file would not parse (" + error.message + "); nothing written");
}

core::Status check_no_lone_cr(const Source& source)
{
  for (std::size_t i = 0; i < source.text.size(); ++i) {
    if (source.text[i] == '\r' && (i + 1 == source.text.size() || source.text[i + 1] != '\n')) {
      return parse_error(source, i,
                         "carriage return without a line feed: the client would see a line "
                         "break here that credrotd cannot place safely; convert the file to LF "
                         "or CRLF line endings");
    }
  }
  return {};
}

namespace {

// Length of the valid UTF-8 sequence at `pos`, 0 if it is not valid (overlong forms,
// surrogates and values above U+10FFFF are invalid, as in Python and systemd).
std::size_t utf8_sequence(std::string_view s, std::size_t pos)
{
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char c = byte(pos);
  if (c < 0x80) {
    return 1;
  }
  std::size_t len = 0;
  unsigned char lo = 0x80;
  unsigned char hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
  } else if (c == 0xE0) {
    len = 3;
    lo = 0xA0;
  } else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) {
    len = 3;
  } else if (c == 0xED) {
    len = 3;
    hi = 0x9F;
  } else if (c == 0xF0) {
    len = 4;
    lo = 0x90;
  } else if (c >= 0xF1 && c <= 0xF3) {
    len = 4;
  } else if (c == 0xF4) {
    len = 4;
    hi = 0x8F;
  } else {
    return 0;
  }
  if (pos + len > s.size()) {
    return 0;
  }
  if (byte(pos + 1) < lo || byte(pos + 1) > hi) {
    return 0;
  }
  for (std::size_t i = 2; i < len; ++i) {
    if (byte(pos + i) < 0x80 || byte(pos + i) > 0xBF) {
      return 0;
    }
  }
  return len;
}

} // namespace

bool is_utf8(std::string_view bytes)
{
  for (std::size_t i = 0; i < bytes.size();) {
    const std::size_t len = utf8_sequence(bytes, i);
    if (len == 0) {
      return false;
    }
    i += len;
  }
  return true;
}

core::Status check_utf8(const Source& source, std::string_view client, std::size_t from,
                        std::size_t to)
{
  to = std::min(to, source.text.size());
  for (std::size_t i = from; i < to;) {
    const std::size_t len = utf8_sequence(source.text, i);
    if (len == 0) {
      std::string what = "invalid UTF-8 byte; ";
      what += client;
      what += " reads this file as UTF-8 and would reject it";
      return parse_error(source, i, what);
    }
    i += len;
  }
  return {};
}

namespace {

bool is_unicode_space(std::string_view seq)
{
  // The non-ASCII White_Space characters, which both Python and Go treat as spaces.
  static constexpr std::string_view k_spaces[] = {
      "\xC2\x85",     "\xC2\xA0",     "\xE1\x9A\x80", "\xE2\x80\x80", "\xE2\x80\x81",
      "\xE2\x80\x82", "\xE2\x80\x83", "\xE2\x80\x84", "\xE2\x80\x85", "\xE2\x80\x86",
      "\xE2\x80\x87", "\xE2\x80\x88", "\xE2\x80\x89", "\xE2\x80\x8A", "\xE2\x80\xA8",
      "\xE2\x80\xA9", "\xE2\x80\xAF", "\xE2\x81\x9F", "\xE3\x80\x80"};
  return std::find(std::begin(k_spaces), std::end(k_spaces), seq) != std::end(k_spaces);
}

bool is_ascii_space(unsigned char c, Spaces spaces)
{
  switch (spaces) {
  case Spaces::blank:
    return c == ' ' || c == '\t';
  case Spaces::go:
    return c == ' ' || (c >= '\t' && c <= '\r');
  case Spaces::python:
    return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1C && c <= 0x1F);
  }
  return false;
}

} // namespace

std::size_t space_at(std::string_view s, std::size_t pos, Spaces spaces)
{
  if (pos >= s.size()) {
    return 0;
  }
  const auto c = static_cast<unsigned char>(s[pos]);
  if (c < 0x80) {
    return is_ascii_space(c, spaces) ? 1 : 0;
  }
  if (spaces == Spaces::blank) {
    return 0;
  }
  for (std::size_t len = 2; len <= 3; ++len) {
    if (pos + len <= s.size() && is_unicode_space(s.substr(pos, len))) {
      return len;
    }
  }
  return 0;
}

std::size_t space_before(std::string_view s, std::size_t end, Spaces spaces)
{
  if (end == 0 || end > s.size()) {
    return 0;
  }
  const auto c = static_cast<unsigned char>(s[end - 1]);
  if (c < 0x80) {
    return is_ascii_space(c, spaces) ? 1 : 0;
  }
  if (spaces == Spaces::blank) {
    return 0;
  }
  for (std::size_t len = 2; len <= 3; ++len) {
    if (end >= len && is_unicode_space(s.substr(end - len, len))) {
      return len;
    }
  }
  return 0;
}

std::size_t skip_spaces(std::string_view s, std::size_t from, std::size_t to, Spaces spaces)
{
  while (from < to) {
    const std::size_t len = space_at(s, from, spaces);
    if (len == 0 || from + len > to) {
      break;
    }
    from += len;
  }
  return from;
}

std::size_t trim_end(std::string_view s, std::size_t from, std::size_t to, Spaces spaces)
{
  while (to > from) {
    const std::size_t len = space_before(s, to, spaces);
    if (len == 0 || to - len < from) {
      break;
    }
    to -= len;
  }
  return to;
}

Content apply_edits(std::string_view text, std::vector<Edit> edits)
{
  std::stable_sort(edits.begin(), edits.end(),
                   [](const Edit& a, const Edit& b) { return a.offset < b.offset; });
  Content out;
  std::size_t reserve = text.size();
  for (const auto& edit : edits) {
    reserve += edit.replacement.size();
  }
  out.reserve(reserve);
  std::size_t pos = 0;
  for (const auto& edit : edits) {
    if (edit.offset < pos) {
      throw std::logic_error("consumers: overlapping edits");
    }
    out.append(text.substr(pos, edit.offset - pos));
    out.append(edit.replacement);
    pos = edit.offset + edit.length;
  }
  out.append(text.substr(std::min(pos, text.size())));
  return out;
}

void append_lines(std::string_view text, const std::vector<Line>& lines,
                  const std::vector<Content>& new_lines, std::vector<Edit>& edits)
{
  if (new_lines.empty()) {
    return;
  }
  const std::string_view eol = preferred_eol(text, lines);
  Content added;
  const bool last_unterminated = !lines.empty() && !lines.back().terminated();
  if (last_unterminated) {
    // The new last line takes over the missing final newline.
    for (const auto& line : new_lines) {
      added.append(eol);
      added.append(line);
    }
  } else {
    for (const auto& line : new_lines) {
      added.append(line);
      added.append(eol);
    }
  }
  edits.push_back(Edit{text.size(), 0, std::move(added)});
}

void insert_after(const Line& line, std::string_view eol, const std::vector<Content>& new_lines,
                  std::vector<Edit>& edits)
{
  Content added;
  if (line.terminated()) {
    for (const auto& l : new_lines) {
      added.append(l);
      added.append(eol);
    }
    edits.push_back(Edit{line.next, 0, std::move(added)});
  } else {
    for (const auto& l : new_lines) {
      added.append(eol);
      added.append(l);
    }
    edits.push_back(Edit{line.end, 0, std::move(added)});
  }
}

void insert_before(const Line& line, std::string_view eol, const std::vector<Content>& new_lines,
                   std::vector<Edit>& edits)
{
  Content added;
  for (const auto& l : new_lines) {
    added.append(l);
    added.append(eol);
  }
  edits.push_back(Edit{line.begin, 0, std::move(added)});
}

void remove_lines(const std::vector<Line>& lines, std::size_t first, std::size_t last,
                  std::vector<Edit>& edits)
{
  const Line& a = lines[first];
  const Line& b = lines[last];
  if (!b.terminated() && first > 0) {
    // The block ends the file without a final newline: take the previous line's ending
    // instead, so the file still ends without one.
    const Line& prev = lines[first - 1];
    edits.push_back(Edit{prev.end, b.end - prev.end, {}});
    return;
  }
  edits.push_back(Edit{a.begin, b.next - a.begin, {}});
}

Content concat(std::initializer_list<std::string_view> parts)
{
  Content out;
  std::size_t n = 0;
  for (const auto part : parts) {
    n += part.size();
  }
  out.reserve(n);
  for (const auto part : parts) {
    out.append(part);
  }
  return out;
}

namespace {

core::Status check_key_value(std::string_view what, std::string_view value, bool show_value,
                             bool slash_allowed)
{
  if (value.empty() || value.size() > 256) {
    return core::make_error(core::Errc::internal,
                            std::string(what) + " must be 1 to 256 characters long");
  }
  for (std::size_t i = 0; i < value.size(); ++i) {
    const char c = value[i];
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '+' || c == '=' || c == '.' || c == '_' || c == '-' ||
                    (c == '/' && slash_allowed);
    if (!ok) {
      std::string message(what);
      if (show_value) {
        message += " '";
        message += value;
        message += "'";
      }
      message += " has a character at position " + std::to_string(i + 1) +
                 " that cannot be written unquoted into every client's file (allowed: A-Z a-z "
                 "0-9 + = . _ -" +
                 (slash_allowed ? " /)" : ")");
      return core::make_error(core::Errc::internal, std::move(message));
    }
  }
  return {};
}

} // namespace

core::Status check_new_key(std::string_view access_id, const core::Secret& secret)
{
  CREDROTD_TRY(check_key_value("the new access id", access_id, true, false));
  return check_key_value("the new secret", secret.reveal(), false, true);
}

std::string ascii_lower(std::string_view s)
{
  std::string out(s);
  for (auto& c : out) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return out;
}

} // namespace credrotd::consumers::text
