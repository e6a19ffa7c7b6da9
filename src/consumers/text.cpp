// SPDX-License-Identifier: Apache-2.0
// Byte-exact text helpers shared by the format modules.
#include "consumers/text.hpp"

#include <boost/locale/utf.hpp>
#include <fmt/format.h>

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
  const std::string_view before = text.substr(0, offset);
  const std::size_t line_start = before.rfind('\n') + 1; // npos + 1 == 0: the first line
  return Position{static_cast<std::uint32_t>(std::count(before.begin(), before.end(), '\n') + 1),
                  static_cast<std::uint32_t>(before.size() - line_start + 1)};
}

core::Error parse_error(const Source& source, std::size_t offset, std::string_view what)
{
  const Position pos = position_of(source.text, offset);
  return core::make_error(core::Errc::parse,
                          fmt::format("{}:{}:{}: {}", source.name, pos.line, pos.column, what));
}

core::Error file_error(const Source& source, core::Errc code, std::string_view what)
{
  return core::make_error(code, fmt::format("{}: {}", source.name, what));
}

core::Error unparsable_rewrite(const Source& source, const core::Error& error)
{
  return file_error(
      source, core::Errc::internal,
      fmt::format("the rewritten file would not parse ({}); nothing written", error.message));
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

// Offset of the first byte that does not start a valid UTF-8 sequence (overlong forms,
// surrogates and values above U+10FFFF are invalid, as in Python and systemd); npos if none.
std::size_t invalid_utf8(std::string_view s)
{
  using utf = boost::locale::utf::utf_traits<char>;
  for (auto it = s.begin(); it != s.end();) {
    const auto start = it;
    const boost::locale::utf::code_point c = utf::decode(it, s.end());
    if (c == boost::locale::utf::illegal || c == boost::locale::utf::incomplete) {
      return static_cast<std::size_t>(start - s.begin());
    }
  }
  return std::string_view::npos;
}

} // namespace

bool is_utf8(std::string_view bytes)
{
  return invalid_utf8(bytes) == std::string_view::npos;
}

core::Status check_utf8(const Source& source, std::string_view client)
{
  if (const std::size_t at = invalid_utf8(source.text); at != std::string_view::npos) {
    return parse_error(
        source, at,
        fmt::format("invalid UTF-8 byte; {} reads this file as UTF-8 and would reject it", client));
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

namespace {

// Length of the whitespace character that is `s[pos, pos + len)` for some len, or that ends at
// `pos` when `backward`; 0 if there is none.
std::size_t space_len(std::string_view s, std::size_t pos, Spaces spaces, bool backward)
{
  if (backward ? (pos == 0 || pos > s.size()) : pos >= s.size()) {
    return 0;
  }
  const auto c = static_cast<unsigned char>(s[backward ? pos - 1 : pos]);
  if (c < 0x80) {
    return is_ascii_space(c, spaces) ? 1 : 0;
  }
  for (std::size_t len = 2; spaces != Spaces::blank && len <= 3; ++len) {
    const bool fits = backward ? pos >= len : pos + len <= s.size();
    if (fits && is_unicode_space(s.substr(backward ? pos - len : pos, len))) {
      return len;
    }
  }
  return 0;
}

} // namespace

std::size_t space_at(std::string_view s, std::size_t pos, Spaces spaces)
{
  return space_len(s, pos, spaces, false);
}

std::size_t space_before(std::string_view s, std::size_t end, Spaces spaces)
{
  return space_len(s, end, spaces, true);
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

namespace {

// `lines` each followed by `eol`, or each preceded by it (`eol_first`: after a line that has no
// ending of its own, which the first added line then takes over).
Content joined(const std::vector<Content>& lines, std::string_view eol, bool eol_first)
{
  Content out;
  for (const auto& line : lines) {
    out.append(eol_first ? eol : line);
    out.append(eol_first ? line : eol);
  }
  return out;
}

} // namespace

void append_lines(std::string_view text, const std::vector<Line>& lines,
                  const std::vector<Content>& new_lines, std::vector<Edit>& edits)
{
  if (!new_lines.empty()) {
    const bool last_unterminated = !lines.empty() && !lines.back().terminated();
    edits.push_back(
        Edit{text.size(), 0, joined(new_lines, preferred_eol(text, lines), last_unterminated)});
  }
}

void insert_after(const Line& line, std::string_view eol, const std::vector<Content>& new_lines,
                  std::vector<Edit>& edits)
{
  edits.push_back(Edit{line.terminated() ? line.next : line.end, 0,
                       joined(new_lines, eol, !line.terminated())});
}

void insert_before(const Line& line, std::string_view eol, const std::vector<Content>& new_lines,
                   std::vector<Edit>& edits)
{
  edits.push_back(Edit{line.begin, 0, joined(new_lines, eol, false)});
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

void remove_line_ranges(const std::vector<Line>& lines, std::vector<LineRange> ranges,
                        std::vector<Edit>& edits)
{
  std::sort(ranges.begin(), ranges.end());
  for (std::size_t i = 0; i < ranges.size();) {
    LineRange block = ranges[i];
    for (++i; i < ranges.size() && ranges[i].first <= block.second + 1; ++i) {
      block.second = std::max(block.second, ranges[i].second);
    }
    remove_lines(lines, block.first, block.second, edits);
  }
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
                            fmt::format("{} must be 1 to 256 characters long", what));
  }
  const std::string_view allowed = slash_allowed ? "+=._-/" : "+=._-";
  for (std::size_t i = 0; i < value.size(); ++i) {
    const char c = value[i];
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    allowed.find(c) != std::string_view::npos;
    if (!ok) {
      return core::make_error(
          core::Errc::internal,
          fmt::format("{}{} has a character at position {} that cannot be written unquoted into "
                      "every client's file (allowed: A-Z a-z 0-9 + = . _ -{})",
                      what, show_value ? fmt::format(" '{}'", value) : std::string(), i + 1,
                      slash_allowed ? " /" : ""));
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

} // namespace credrotd::consumers::text
