// SPDX-License-Identifier: Apache-2.0
// Python scripts with the key inline: a tokenizer for comments, strings and brackets (Python
// 3.11's rules), and the keyword arguments aws_access_key_id=/aws_secret_access_key=.
#include "consumers/python_script.hpp"

#include "core/text.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace credrotd::consumers::python_script {

namespace {

constexpr std::string_view k_access = "aws_access_key_id";
constexpr std::string_view k_secret = "aws_secret_access_key";
constexpr std::string_view k_better =
    "; better, keep the key in a profile of the AWS credentials file (credrotd type "
    "\"aws-credentials\") and call boto3.Session(profile_name=...)";

bool ident_start(char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
         static_cast<unsigned char>(c) >= 0x80;
}

bool ident_char(char c)
{
  return ident_start(c) || (c >= '0' && c <= '9');
}

// A string literal: its prefix, quote and content.
struct Literal {
  std::size_t begin = 0; // the prefix
  std::size_t quote = 0; // the opening quote
  std::size_t content = 0;
  std::size_t content_end = 0;
  std::size_t end = 0; // after the closing quote
  std::string prefix;  // lowercased
  bool triple = false;
  bool has_backslash = false;
};

// The string literal starting at `i` (prefix letters then a quote), if there is one.
core::Result<std::optional<Literal>> literal_at(const Source& source, std::size_t i)
{
  const std::string_view t = source.text;
  std::size_t q = i;
  while (q < t.size() && q - i < 2 &&
         std::string_view("rRbBuUfF").find(t[q]) != std::string_view::npos) {
    ++q;
  }
  if (q >= t.size() || (t[q] != '\'' && t[q] != '"')) {
    return std::optional<Literal>{};
  }
  Literal lit;
  lit.begin = i;
  lit.quote = q;
  lit.prefix = core::ascii_lower(t.substr(i, q - i));
  const char quote = t[q];
  lit.triple = t.substr(q, 3) == std::string(3, quote);
  const std::string closing = lit.triple ? std::string(3, quote) : std::string(1, quote);
  lit.content = q + closing.size();
  for (std::size_t k = lit.content; k < t.size(); ++k) {
    if (t[k] == '\\') {
      lit.has_backslash = true;
      ++k;
      continue;
    }
    if (!lit.triple && t[k] == '\n') {
      break;
    }
    if (t.substr(k, closing.size()) == closing) {
      lit.content_end = k;
      lit.end = k + closing.size();
      return std::optional<Literal>(lit);
    }
  }
  return text::parse_error(source, i,
                           "unterminated string literal: Python would not run this script");
}

struct Argument {
  std::string_view name;
  std::size_t name_offset = 0;
  Literal value;
};

std::size_t skip_blank(std::string_view t, std::size_t i)
{
  // Inside brackets newlines, backslash continuations and comments are blank too.
  while (i < t.size()) {
    if (t[i] == ' ' || t[i] == '\t' || t[i] == '\n' || t[i] == '\r' || t[i] == '\f') {
      ++i;
    } else if (t[i] == '\\' && i + 1 < t.size() && (t[i + 1] == '\n' || t[i + 1] == '\r')) {
      ++i;
    } else if (t[i] == '#') {
      while (i < t.size() && t[i] != '\n') {
        ++i;
      }
    } else {
      break;
    }
  }
  return i;
}

core::Error refuse(const Source& source, std::size_t offset, std::string_view name,
                   std::string_view what)
{
  return text::parse_error(source, offset,
                           fmt::format("{}= {}: credrotd rewrites only a plain '...' or \"...\" "
                                       "literal; write the key as one{}",
                                       name, what, k_better));
}

core::Result<std::vector<Argument>> arguments(const Source& source)
{
  CREDROTD_TRY(text::check_utf8(source, "Python"));
  const std::string_view t = source.text;
  std::vector<Argument> out;
  int depth = 0;
  for (std::size_t i = 0; i < t.size();) {
    const char c = t[i];
    if (c == '#') {
      while (i < t.size() && t[i] != '\n') {
        ++i;
      }
      continue;
    }
    if (c == '(' || c == '[' || c == '{') {
      ++depth;
      ++i;
      continue;
    }
    if (c == ')' || c == ']' || c == '}') {
      depth = std::max(0, depth - 1);
      ++i;
      continue;
    }
    if (c == '\'' || c == '"') {
      CREDROTD_TRY_ASSIGN(const auto lit, literal_at(source, i));
      i = lit ? lit->end : i + 1;
      continue;
    }
    if (!ident_start(c) || (i > 0 && ident_char(t[i - 1]))) {
      ++i;
      continue;
    }
    std::size_t e = i;
    while (e < t.size() && ident_char(t[e])) {
      ++e;
    }
    if (e < t.size() && (t[e] == '\'' || t[e] == '"') && e - i <= 2) {
      CREDROTD_TRY_ASSIGN(const auto lit, literal_at(source, i));
      if (lit) {
        i = lit->end;
        continue;
      }
    }
    const std::string_view name = t.substr(i, e - i);
    const std::size_t name_offset = i;
    i = e;
    if (name != k_access && name != k_secret) {
      continue;
    }
    const std::size_t eq = skip_blank(t, e);
    if (depth == 0 || eq >= t.size() || t[eq] != '=' || t.substr(eq, 2) == "==" ||
        (name_offset > 0 && t[name_offset - 1] == '.')) {
      continue; // not a keyword argument: a variable, an attribute, a comparison
    }
    const std::size_t v = skip_blank(t, eq + 1);
    CREDROTD_TRY_ASSIGN(const auto lit, v < t.size() ? literal_at(source, v)
                                                     : core::Result<std::optional<Literal>>(
                                                           std::optional<Literal>{}));
    if (!lit) {
      return refuse(source, v, name, "is not a string literal (a name, a call or an expression)");
    }
    if (lit->prefix.find('f') != std::string::npos) {
      return refuse(source, v, name, "is an f-string");
    }
    if (lit->prefix.find('b') != std::string::npos) {
      return refuse(source, v, name, "is a bytes literal");
    }
    if (lit->triple) {
      return refuse(source, v, name, "is triple-quoted");
    }
    if (lit->has_backslash) {
      return refuse(source, v, name, "holds a backslash escape");
    }
    const std::size_t after = skip_blank(t, lit->end);
    if (after >= t.size() || (t[after] != ',' && t[after] != ')')) {
      return refuse(source, v, name,
                    "is not one literal alone (a concatenation, an operator or a method call "
                    "follows)");
    }
    out.push_back({name, name_offset, *lit});
    i = lit->end;
  }
  return out;
}

struct Found {
  std::vector<Argument> args;
  std::optional<FoundValue> access;
  std::optional<FoundValue> secret;
};

core::Result<Found> find(const Source& source)
{
  CREDROTD_TRY_ASSIGN(auto args, arguments(source));
  Found found;
  for (const Argument& a : args) {
    auto& slot = a.name == k_access ? found.access : found.secret;
    const std::string_view value =
        source.text.substr(a.value.content, a.value.content_end - a.value.content);
    if (slot && std::string_view(slot->value) != value) {
      return text::parse_error(source, a.name_offset,
                               fmt::format("{}= differs from the one on line {}: the script uses "
                                           "two keys, and credrotd rotates one; split it, or give "
                                           "both calls the same key{}",
                                           a.name, slot->line, k_better));
    }
    if (!slot) {
      slot = FoundValue{Content(value), a.value.content,
                        text::position_of(source.text, a.name_offset).line};
    }
  }
  found.args = std::move(args);
  return found;
}

} // namespace

core::Result<std::optional<FoundKey>> read(const Source& source)
{
  CREDROTD_TRY_ASSIGN(auto found, find(source));
  return make_found_key(source, std::move(found.access), std::move(found.secret), k_access,
                        k_secret);
}

core::Result<Content> render(const Source& source, std::string_view access_id,
                             const core::Secret& secret)
{
  CREDROTD_TRY(text::check_new_key(access_id, secret));
  CREDROTD_TRY_ASSIGN(auto found, find(source));
  CREDROTD_TRY_ASSIGN(const auto key, make_found_key(source, std::move(found.access),
                                                     std::move(found.secret), k_access, k_secret));
  if (!key) {
    return text::file_error(source, core::Errc::not_found,
                            fmt::format("the script passes no aws_access_key_id=/"
                                        "aws_secret_access_key= literal; credrotd does not add "
                                        "arguments: write them in the boto3 call first{}",
                                        k_better));
  }
  std::vector<text::Edit> edits;
  for (const Argument& a : found.args) {
    edits.push_back({a.value.content, a.value.content_end - a.value.content,
                     a.name == k_access ? Content(access_id) : Content(secret.reveal())});
  }
  return read_back(source, text::apply_edits(source.text, std::move(edits)),
                   "the rewritten script would not pass the new key; nothing written",
                   [&](const Source& written) { return is_key(read(written), access_id, secret); });
}

} // namespace credrotd::consumers::python_script
