// SPDX-License-Identifier: Apache-2.0
// Environment files, tokenized by a byte-for-byte port of systemd 252's
// parse_env_file_internal() state machine (src/basic/env-file.c) that also records where
// each value's bytes are, so the value can be replaced without touching anything else.
#include "consumers/envfile.hpp"

#include <fmt/format.h>

namespace credrotd::consumers::envfile {

namespace {

constexpr std::string_view k_comments = "#;";
constexpr std::string_view k_whitespace = " \t\n\r";
constexpr std::string_view k_newline = "\n\r";
constexpr std::string_view k_shell_need_escape = "\"\\`$";

bool in(std::string_view set, char c)
{
  return set.find(c) != std::string_view::npos;
}

enum class Quoting { none, single, double_ };

struct Assignment {
  std::string key;           // as systemd pushes it (trailing blanks removed)
  Content value;             // decoded
  std::size_t key_begin = 0; // offset of the key's first byte
  std::size_t eq = 0;        // offset of '='
  std::size_t raw_begin = 0; // the value's bytes in the file: [raw_begin, raw_end)
  std::size_t raw_end = 0;   //   (raw_begin == raw_end == eq + 1 for an empty value)
  std::size_t segments = 0;  // quoted or unquoted runs making the value
  Quoting first_quoting = Quoting::none;
};

struct Parsed {
  std::vector<Assignment> assignments;
};

Parsed tokenize(std::string_view t)
{
  enum class State {
    pre_key,
    key,
    pre_value,
    value,
    value_escape,
    single_quote_value,
    double_quote_value,
    double_quote_value_escape,
    comment,
    comment_escape,
  };
  Parsed parsed;
  State state = State::pre_key;
  Assignment a;
  std::size_t last_key_whitespace = std::string::npos;
  std::size_t last_value_whitespace = std::string::npos;

  const auto start_segment = [&](std::size_t p, Quoting quoting) {
    if (a.segments == 0) {
      a.raw_begin = p;
      a.first_quoting = quoting;
    }
    ++a.segments;
  };
  const auto push = [&]() {
    if (last_key_whitespace != std::string::npos) {
      a.key.resize(last_key_whitespace);
    }
    if (a.segments == 0) {
      a.raw_begin = a.eq + 1;
      a.raw_end = a.eq + 1;
    }
    parsed.assignments.push_back(std::move(a));
    a = Assignment{};
  };

  for (std::size_t p = 0; p < t.size(); ++p) {
    const char c = t[p];
    switch (state) {
    case State::pre_key:
      if (in(k_comments, c)) {
        state = State::comment;
      } else if (!in(k_whitespace, c)) {
        state = State::key;
        last_key_whitespace = std::string::npos;
        a.key_begin = p;
        a.key += c;
      }
      break;
    case State::key:
      if (in(k_newline, c)) {
        state = State::pre_key;
        a = Assignment{};
      } else if (c == '=') {
        state = State::pre_value;
        a.eq = p;
        last_value_whitespace = std::string::npos;
      } else {
        if (!in(k_whitespace, c)) {
          last_key_whitespace = std::string::npos;
        } else if (last_key_whitespace == std::string::npos) {
          last_key_whitespace = a.key.size();
        }
        a.key += c;
      }
      break;
    case State::pre_value:
      if (in(k_newline, c)) {
        state = State::pre_key;
        push();
      } else if (c == '\'') {
        state = State::single_quote_value;
        start_segment(p, Quoting::single);
      } else if (c == '"') {
        state = State::double_quote_value;
        start_segment(p, Quoting::double_);
      } else if (c == '\\') {
        state = State::value_escape;
        start_segment(p, Quoting::none);
        a.raw_end = p + 1;
      } else if (!in(k_whitespace, c)) {
        state = State::value;
        start_segment(p, Quoting::none);
        a.value += c;
        a.raw_end = p + 1;
      }
      break;
    case State::value:
      if (in(k_newline, c)) {
        state = State::pre_key;
        if (last_value_whitespace != std::string::npos) {
          a.value.resize(last_value_whitespace);
        }
        push();
      } else if (c == '\\') {
        state = State::value_escape;
        last_value_whitespace = std::string::npos;
        a.raw_end = p + 1;
      } else {
        if (!in(k_whitespace, c)) {
          last_value_whitespace = std::string::npos;
          a.raw_end = p + 1;
        } else if (last_value_whitespace == std::string::npos) {
          last_value_whitespace = a.value.size();
        }
        a.value += c;
      }
      break;
    case State::value_escape:
      state = State::value;
      if (!in(k_newline, c)) {
        a.value += c; // escaped newlines are eaten up entirely
      }
      a.raw_end = p + 1;
      break;
    case State::single_quote_value:
      if (c == '\'') {
        state = State::pre_value;
        a.raw_end = p + 1;
      } else {
        a.value += c;
      }
      break;
    case State::double_quote_value:
      if (c == '"') {
        state = State::pre_value;
        a.raw_end = p + 1;
      } else if (c == '\\') {
        state = State::double_quote_value_escape;
      } else {
        a.value += c;
      }
      break;
    case State::double_quote_value_escape:
      state = State::double_quote_value;
      if (in(k_shell_need_escape, c)) {
        a.value += c;
      } else if (c != '\n') {
        a.value += '\\';
        a.value += c;
      }
      break;
    case State::comment:
      if (c == '\\') {
        state = State::comment_escape;
      } else if (in(k_newline, c)) {
        state = State::pre_key;
      }
      break;
    case State::comment_escape:
      state = State::comment;
      break;
    }
  }
  switch (state) {
  case State::value:
    if (last_value_whitespace != std::string::npos) {
      a.value.resize(last_value_whitespace);
    }
    push();
    break;
  case State::single_quote_value:
  case State::double_quote_value:
  case State::double_quote_value_escape:
    a.raw_end = t.size(); // an unterminated quote runs to the end of the file
    push();
    break;
  case State::pre_value:
  case State::value_escape:
    push();
    break;
  default:
    break;
  }
  return parsed;
}

// NAME, or NAME of "export NAME" (which systemd drops but a shell runs).
std::string_view variable_of(std::string_view key)
{
  constexpr std::string_view k_export = "export";
  if (key.starts_with(k_export) && key.size() > k_export.size() &&
      (key[k_export.size()] == ' ' || key[k_export.size()] == '\t')) {
    key.remove_prefix(k_export.size());
    while (!key.empty() && (key.front() == ' ' || key.front() == '\t')) {
      key.remove_prefix(1);
    }
  }
  return key;
}

struct Ours {
  const Assignment* access = nullptr;
  const Assignment* secret = nullptr;
};

core::Result<Parsed> parse(const Source& source)
{
  CREDROTD_TRY(text::check_no_lone_cr(source));
  Parsed parsed = tokenize(source.text);
  for (const auto& a : parsed.assignments) {
    if (!text::is_utf8(a.key) || !text::is_utf8(a.value)) {
      return text::parse_error(source, a.key_begin,
                               "an assignment that is not valid UTF-8; systemd refuses the whole "
                               "file and the unit would not start");
    }
  }
  return parsed;
}

core::Result<Ours> find_ours(const Source& source, const Parsed& parsed, const Options& options)
{
  Ours ours;
  for (const auto& a : parsed.assignments) {
    std::string_view key = a.key;
    const bool bom = a.key_begin == 0 && key.starts_with(text::k_bom);
    if (bom) {
      key.remove_prefix(text::k_bom.size());
    }
    key = variable_of(key);
    const Assignment** slot = key == options.access_key_var   ? &ours.access
                              : key == options.secret_key_var ? &ours.secret
                                                              : nullptr;
    if (slot == nullptr) {
      continue;
    }
    if (bom) {
      return text::parse_error(source, 0,
                               fmt::format("{} is assigned right after a byte order mark, which "
                                           "makes systemd drop the assignment; remove the first 3 "
                                           "bytes",
                                           key));
    }
    if (*slot != nullptr) {
      return text::parse_error(
          source, a.key_begin,
          fmt::format("{} is assigned again (first on line {}); systemd uses "
                      "the last one: keep only one",
                      key, text::position_of(source.text, (*slot)->key_begin).line));
    }
    *slot = &a;
  }
  return ours;
}

std::optional<FoundValue> found(const Source& source, const Assignment* a)
{
  if (a == nullptr) {
    return std::nullopt;
  }
  return FoundValue{a->value, a->key_begin, text::position_of(source.text, a->key_begin).line};
}

text::Edit value_edit(std::string_view t, const Assignment& a, std::string_view value)
{
  const bool whole_quoted = a.segments == 1 && a.first_quoting != Quoting::none &&
                            a.raw_end >= a.raw_begin + 2 && t[a.raw_end - 1] == t[a.raw_begin];
  if (whole_quoted) {
    return {a.raw_begin + 1, a.raw_end - 1 - (a.raw_begin + 1), Content(value)};
  }
  return {a.raw_begin, a.raw_end - a.raw_begin, Content(value)};
}

// Every assignment other than the two variables, as systemd reads it.
std::vector<std::pair<std::string, Content>> others(const Parsed& parsed, const Options& options)
{
  std::vector<std::pair<std::string, Content>> out;
  for (const auto& a : parsed.assignments) {
    const std::string_view key = variable_of(a.key);
    if (key != options.access_key_var && key != options.secret_key_var) {
      out.emplace_back(a.key, a.value);
    }
  }
  return out;
}

} // namespace

core::Status check_variable_name(std::string_view option, std::string_view name)
{
  bool ok = !name.empty() && !(name.front() >= '0' && name.front() <= '9');
  for (const char c : name) {
    ok = ok &&
         ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_');
  }
  if (!ok) {
    return core::make_error(core::Errc::config,
                            fmt::format("{} = \"{}\" is not a variable name systemd keeps "
                                        "([A-Za-z_][A-Za-z0-9_]*)",
                                        option, name));
  }
  return {};
}

core::Result<std::optional<FoundKey>> read(const Source& source, const Options& options)
{
  CREDROTD_TRY_ASSIGN(const Parsed parsed, parse(source));
  CREDROTD_TRY_ASSIGN(const Ours ours, find_ours(source, parsed, options));
  return make_found_key(source, found(source, ours.access), found(source, ours.secret),
                        options.access_key_var, options.secret_key_var);
}

core::Result<Content> create(const Options& options, std::string_view access_id,
                             const core::Secret& secret)
{
  CREDROTD_TRY(check_variable_name("access_key_var", options.access_key_var));
  CREDROTD_TRY(check_variable_name("secret_key_var", options.secret_key_var));
  CREDROTD_TRY(text::check_new_key(access_id, secret));
  return text::concat({options.access_key_var, "=", access_id, "\n", options.secret_key_var, "=",
                       secret.reveal(), "\n"});
}

core::Result<Content> render(const Source& source, const Options& options,
                             std::string_view access_id, const core::Secret& secret)
{
  CREDROTD_TRY(check_variable_name("access_key_var", options.access_key_var));
  CREDROTD_TRY(check_variable_name("secret_key_var", options.secret_key_var));
  CREDROTD_TRY(text::check_new_key(access_id, secret));
  CREDROTD_TRY_ASSIGN(const Parsed parsed, parse(source));
  CREDROTD_TRY_ASSIGN(const Ours ours, find_ours(source, parsed, options));
  const std::string_view t = source.text;
  std::vector<text::Edit> edits;
  std::vector<Content> missing;
  if (ours.access != nullptr) {
    edits.push_back(value_edit(t, *ours.access, access_id));
  } else {
    missing.push_back(text::concat({options.access_key_var, "=", access_id}));
  }
  if (ours.secret != nullptr) {
    edits.push_back(value_edit(t, *ours.secret, secret.reveal()));
  } else {
    missing.push_back(text::concat({options.secret_key_var, "=", secret.reveal()}));
  }
  text::append_lines(t, text::split_lines(t), missing, edits);
  // Read the result back as systemd will: the two variables hold the new values, and every
  // other assignment reads as before (a trailing backslash or an open quote at the end of
  // the original would swallow appended lines: this catches it).
  return read_back(source, text::apply_edits(t, std::move(edits)),
                   "the rewritten file would not give the new values with every other "
                   "assignment unchanged (is the last line an open quote or a trailing "
                   "backslash?); nothing written",
                   [&](const Source& written) -> core::Result<bool> {
                     CREDROTD_TRY_ASSIGN(const Parsed check, parse(written));
                     const auto v = find_ours(written, check, options);
                     return v && v->access != nullptr && v->secret != nullptr &&
                            v->access->value == access_id && v->secret->value == secret.reveal() &&
                            others(check, options) == others(parsed, options);
                   });
}

} // namespace credrotd::consumers::envfile
