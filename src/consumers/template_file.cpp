// SPDX-License-Identifier: Apache-2.0
// Template rendering and matching for the `template` consumer type.
#include "consumers/template_file.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>

namespace credrotd::consumers::template_file {

namespace {

enum class Kind { literal, access, secret };

struct Piece {
  Kind kind = Kind::literal;
  std::string_view text; // the literal, or the placeholder as written
  std::size_t offset = 0;
};

bool is_blank(char c)
{
  return c == ' ' || c == '\t';
}

core::Result<std::vector<Piece>> split(const Source& tmpl)
{
  const std::string_view t = tmpl.text;
  std::vector<Piece> pieces;
  std::size_t literal_start = 0;
  bool has_access = false;
  bool has_secret = false;
  for (std::size_t at = t.find("{{"); at != std::string_view::npos; at = t.find("{{", at + 1)) {
    std::size_t p = at + 2;
    while (p < t.size() && is_blank(t[p])) {
      ++p;
    }
    const std::size_t name_begin = p;
    while (p < t.size() && ((t[p] >= 'a' && t[p] <= 'z') || t[p] == '_')) {
      ++p;
    }
    const std::string_view name = t.substr(name_begin, p - name_begin);
    while (p < t.size() && is_blank(t[p])) {
      ++p;
    }
    if (!t.substr(p).starts_with("}}") || (name != "access_key" && name != "secret_key")) {
      continue;
    }
    const std::size_t end = p + 2;
    if (at > literal_start) {
      pieces.push_back({Kind::literal, t.substr(literal_start, at - literal_start), literal_start});
    }
    const Kind kind = name == "access_key" ? Kind::access : Kind::secret;
    (kind == Kind::access ? has_access : has_secret) = true;
    pieces.push_back({kind, t.substr(at, end - at), at});
    literal_start = end;
    at = end - 1;
  }
  if (literal_start < t.size()) {
    pieces.push_back({Kind::literal, t.substr(literal_start), literal_start});
  }
  if (!has_access || !has_secret) {
    return text::file_error(tmpl, core::Errc::config,
                            "a template needs both {{access_key}} and {{secret_key}}");
  }
  return pieces;
}

bool in_charset(char c)
{
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/' || c == '=' || c == '.' || c == '_' || c == '-';
}

struct Matcher {
  const std::vector<Piece>& pieces;
  std::string_view out;
  std::array<std::optional<std::string_view>, 2> captures; // access, secret
  std::size_t furthest = 0;
  std::size_t budget = 200000; // steps; a template that needs more is ambiguous

  bool match(std::size_t index, std::size_t pos)
  {
    furthest = std::max(furthest, pos);
    if (budget == 0) {
      return false;
    }
    --budget;
    if (index == pieces.size()) {
      return pos == out.size();
    }
    const Piece& piece = pieces[index];
    if (piece.kind == Kind::literal) {
      if (!out.substr(pos).starts_with(piece.text)) {
        std::size_t same = 0;
        while (pos + same < out.size() && same < piece.text.size() &&
               out[pos + same] == piece.text[same]) {
          ++same;
        }
        furthest = std::max(furthest, pos + same);
        return false;
      }
      return match(index + 1, pos + piece.text.size());
    }
    auto& capture = captures[piece.kind == Kind::access ? 0 : 1];
    if (capture) {
      return out.substr(pos).starts_with(*capture) && match(index + 1, pos + capture->size());
    }
    std::size_t run = 0;
    while (pos + run < out.size() && in_charset(out[pos + run])) {
      ++run;
    }
    for (std::size_t len = run; len >= 1; --len) {
      capture = out.substr(pos, len);
      if (match(index + 1, pos + len)) {
        return true;
      }
    }
    capture.reset();
    return false;
  }
};

} // namespace

core::Result<Content> render(const Source& tmpl, std::string_view access_id,
                             const core::Secret& secret)
{
  CREDROTD_TRY(text::check_new_key(access_id, secret));
  CREDROTD_TRY_ASSIGN(const auto pieces, split(tmpl));
  Content out;
  for (const auto& piece : pieces) {
    switch (piece.kind) {
    case Kind::literal:
      out.append(piece.text);
      break;
    case Kind::access:
      out.append(access_id);
      break;
    case Kind::secret:
      out.append(secret.reveal());
      break;
    }
  }

  // Read the result back as read() will: placeholders next to each other, or separated only
  // by characters a key may hold, can match another split of the text and give a wrong key.
  if (!is_key(read(Source{tmpl.name, out}, tmpl), access_id, secret)) {
    return text::file_error(tmpl, core::Errc::config,
                            "the key cannot be read back from the rendered file: separate "
                            "{{access_key}} and {{secret_key}} from each other and from the "
                            "text around them by a character no key holds (not a letter, a "
                            "digit or one of +/=._-)");
  }
  return out;
}

core::Result<std::optional<FoundKey>> read(const Source& output, const Source& tmpl)
{
  CREDROTD_TRY_ASSIGN(const auto pieces, split(tmpl));
  Matcher matcher{pieces, output.text, {}};
  if (!matcher.match(0, 0)) {
    if (matcher.budget == 0) {
      return text::file_error(output, core::Errc::parse,
                              fmt::format("cannot be matched against its template {} "
                                          "(placeholders too close together to tell apart)",
                                          tmpl.name));
    }
    return text::parse_error(output, matcher.furthest,
                             fmt::format("does not match its template {} from here on: the file "
                                         "was edited by hand or the template changed since "
                                         "credrotd wrote it",
                                         tmpl.name));
  }
  std::size_t access_offset = 0;
  for (const auto& piece : pieces) {
    if (piece.kind == Kind::access) {
      break;
    }
    access_offset += piece.kind == Kind::literal ? piece.text.size() : matcher.captures[1]->size();
  }
  return make_found_key(output,
                        FoundValue{Content(*matcher.captures[0]), access_offset,
                                   text::position_of(output.text, access_offset).line},
                        FoundValue{Content(*matcher.captures[1]), 0, 0}, "{{access_key}}",
                        "{{secret_key}}");
}

} // namespace credrotd::consumers::template_file
