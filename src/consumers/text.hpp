// SPDX-License-Identifier: Apache-2.0
// Byte-exact text helpers shared by the format modules: lines with their own endings,
// file:line:column errors, byte-range edits, and the whitespace rules of each client.
#pragma once

#include "core/error.hpp"
#include "core/secret.hpp"

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace credrotd::consumers {

// File content. Rewritten files hold a secret, so every buffer that held one is wiped.
using Content = core::WipingString;

// A text being parsed: `name` is the path shown in messages, `text` its bytes.
struct Source {
  std::string_view name;
  std::string_view text;
};

} // namespace credrotd::consumers

namespace credrotd::consumers::text {

inline constexpr std::string_view k_bom = "\xEF\xBB\xBF";

// One line of a file. Lines end at LF; a CR right before the LF belongs to the ending, so
// CRLF and LF lines keep their own endings when the file is rewritten.
struct Line {
  std::size_t begin = 0;    // offset of the first byte
  std::size_t end = 0;      // offset just after the content (before "\r\n" or "\n")
  std::size_t next = 0;     // offset of the next line (after the ending); == end on the last
                            // line when the file has no final newline
  std::uint32_t number = 0; // 1-based

  std::size_t size() const { return end - begin; }
  bool terminated() const { return next != end; }
};

// Every line of `text`. An empty text has no lines; a text ending in a newline has no empty
// line after it.
std::vector<Line> split_lines(std::string_view text);

// The content of a line, without its ending.
inline std::string_view content(std::string_view text, const Line& line)
{
  return text.substr(line.begin, line.size());
}

// The line ending to use for new lines: the ending of the first terminated line, "\n" when
// no line is terminated.
std::string_view preferred_eol(std::string_view text, const std::vector<Line>& lines);

struct Position {
  std::uint32_t line = 1;   // 1-based
  std::uint32_t column = 1; // 1-based, counted in bytes
};
Position position_of(std::string_view text, std::size_t offset);

// "name:line:column: what".
core::Error parse_error(const Source& source, std::size_t offset, std::string_view what);
// "name: what", for problems that concern the whole file.
core::Error file_error(const Source& source, core::Errc code, std::string_view what);
// A render() whose output its own parser refuses: a bug of ours (Errc::internal), reported
// against the original file; nothing is written.
core::Error unparsable_rewrite(const Source& source, const core::Error& error);

// Refuses a CR that is not followed by LF: Python's universal newlines and systemd treat it
// as a line break, our line model would not, so the two could disagree on what a line is.
core::Status check_no_lone_cr(const Source& source);

// Refuses bytes that are not UTF-8 (the clients that decode as UTF-8 reject such files);
// `client` names the client in the message.
core::Status check_utf8(const Source& source, std::string_view client);
bool is_utf8(std::string_view bytes);

// Whitespace as each client understands it.
enum class Spaces {
  python, // str.isspace(): ASCII \t\n\v\f\r, \x1c-\x1f, space, and Unicode spaces
  go,     // unicode.IsSpace: ASCII \t\n\v\f\r, space, and Unicode spaces (not \x1c-\x1f)
  blank,  // space and tab only
};
// Length in bytes of the whitespace character starting at `pos`, 0 if there is none.
std::size_t space_at(std::string_view s, std::size_t pos, Spaces spaces);
// Length in bytes of the whitespace character ending just before `end`, 0 if there is none.
std::size_t space_before(std::string_view s, std::size_t end, Spaces spaces);
// Offset of the first non-space byte at or after `from` (`to` if none).
std::size_t skip_spaces(std::string_view s, std::size_t from, std::size_t to, Spaces spaces);
// Offset just after the last non-space byte before `to` (`from` if none).
std::size_t trim_end(std::string_view s, std::size_t from, std::size_t to, Spaces spaces);

// A change to the original text: replace [offset, offset + length) by `replacement`.
// Insertions have length 0. Edits must not overlap; at one offset, they apply in the order
// they were added.
struct Edit {
  std::size_t offset = 0;
  std::size_t length = 0;
  Content replacement;
};
Content apply_edits(std::string_view text, std::vector<Edit> edits);

// Edits that add `new_lines` (without endings) after the last line, keeping the file's
// final-newline convention: when the original's last line is unterminated, the added last
// line is unterminated too.
void append_lines(std::string_view text, const std::vector<Line>& lines,
                  const std::vector<Content>& new_lines, std::vector<Edit>& edits);
// Edits that insert `new_lines` right after `line` (after its ending).
void insert_after(const Line& line, std::string_view eol, const std::vector<Content>& new_lines,
                  std::vector<Edit>& edits);
// Edits that insert `new_lines` right before `line`.
void insert_before(const Line& line, std::string_view eol, const std::vector<Content>& new_lines,
                   std::vector<Edit>& edits);
// An edit that removes lines [first, last] (indices into `lines`), keeping the file's
// final-newline convention when the removed block ends the file.
void remove_lines(const std::vector<Line>& lines, std::size_t first, std::size_t last,
                  std::vector<Edit>& edits);
// remove_lines() for each [first, last] range; adjacent ranges go as one block (removing the
// last line of a file without a final newline takes the previous line's ending, which a block of
// its own for the previous line would take too: overlapping edits).
using LineRange = std::pair<std::size_t, std::size_t>;
void remove_line_ranges(const std::vector<Line>& lines, std::vector<LineRange> ranges,
                        std::vector<Edit>& edits);

// Concatenation helpers that keep secrets in wiping buffers.
Content concat(std::initializer_list<std::string_view> parts);

// Checks that a new key can be written unquoted into every supported format: 1 to 256
// characters from [A-Za-z0-9+/=._-], and no '/' in the access id (SigV4 puts it in the
// '/'-separated credential scope). Errc::internal; the message never shows the secret.
core::Status check_new_key(std::string_view access_id, const core::Secret& secret);

} // namespace credrotd::consumers::text
