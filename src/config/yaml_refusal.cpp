// SPDX-License-Identifier: Apache-2.0
// The two things yaml-cpp accepts but PyYAML refuses: a tab where a token may start, and a
// quoted string never closed.
#include "config/yaml_tree.hpp"

#include <algorithm>

namespace credrotd::config::yaml {

std::optional<Refusal> find_refusal(std::string_view text)
{
  // A tab is content only inside a quoted scalar, a comment or a block scalar's lines; anywhere
  // else PyYAML's scanner refuses it. So walk far enough to know where those are: a quote or a
  // block header (| or >) starts one only where a token may start.
  std::size_t i = text.substr(0, 3) == "\xEF\xBB\xBF" ? 3 : 0;
  std::size_t line_start = i;
  std::uint32_t line = 1;
  bool token_start = true; // the next character may start a token
  int flow = 0;
  // Inside a block scalar: its header line's indent (npos: not in one).
  std::size_t block_indent = std::string_view::npos;
  const auto is_break = [&](std::size_t at) {
    return at < text.size() && (text[at] == '\n' || text[at] == '\r');
  };
  const auto blank = [&](std::size_t at) {
    return at >= text.size() || text[at] == ' ' || text[at] == '\t' || is_break(at);
  };
  const auto flow_indicator = [&](std::size_t at) {
    return flow > 0 && at < text.size() &&
           std::string_view(",[]{}").find(text[at]) != std::string_view::npos;
  };
  const auto indent = [&] {
    return std::min(text.find_first_not_of(' ', line_start), text.size()) - line_start;
  };
  const auto at = [&](std::size_t where, std::string_view message) {
    return Refusal{line, static_cast<std::uint32_t>(where - line_start + 1), std::string(message)};
  };
  const auto tab = [&] {
    return at(i, "tab character; YAML allows only spaces here (the openstack CLI refuses it too: "
                 "\"found character '\\t' that cannot start any token\")");
  };
  const auto skip_line = [&] {
    while (i < text.size() && !is_break(i)) {
      ++i;
    }
  };
  const auto take_break = [&] {
    i += text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n' ? 2 : 1;
    ++line;
    line_start = i;
    token_start = true;
  };
  while (i < text.size()) {
    if (block_indent != std::string_view::npos && i == line_start) {
      const auto first = std::min(text.find_first_not_of(" \t", i), text.size());
      if (first == text.size() || is_break(first) || indent() > block_indent) {
        skip_line(); // a line of the block scalar's content, perhaps empty
        if (i < text.size()) {
          take_break();
        }
        continue;
      }
      block_indent = std::string_view::npos;
    }
    const char c = text[i];
    if (c == '\t') {
      return tab();
    }
    if (is_break(i)) {
      take_break();
    } else if (c == '#' && (i == line_start || text[i - 1] == ' ')) {
      skip_line();
    } else if (token_start && (c == '\'' || c == '"')) {
      const Refusal unclosed = at(i, "this quoted string is never closed (the openstack CLI "
                                     "refuses it too: \"found unexpected end of stream\")");
      for (++i; i < text.size() && !(text[i] == c && text.substr(i, 2) != "''"); ++i) {
        if (is_break(i)) {
          take_break();
          --i;
        } else if ((c == '"' && text[i] == '\\') || (c == '\'' && text[i] == '\'')) {
          ++i; // an escape, or a doubled single quote
        }
      }
      if (i >= text.size()) {
        return unclosed;
      }
      ++i;
      token_start = false;
    } else if (token_start && flow == 0 && (c == '|' || c == '>')) {
      i = std::min(text.find_first_not_of("+-0123456789", i + 1), text.size());
      i = std::min(text.find_first_not_of(' ', i), text.size());
      if (i < text.size() && text[i] == '\t') {
        return tab();
      }
      block_indent = indent();
      skip_line();
    } else if ((c == '&' || c == '!') && token_start) {
      while (!blank(i) && !flow_indicator(i)) {
        ++i; // an anchor or a tag: a token may follow it
      }
    } else {
      flow = c == '[' || c == '{' ? flow + 1 : c == ']' || c == '}' ? std::max(0, flow - 1) : flow;
      if (c != ' ') {
        // A token may start after a flow indicator, or after - ? : followed by a blank; not
        // inside a plain scalar.
        token_start =
            c == '[' || c == '{' || (c == ',' && flow > 0) ||
            ((c == '-' || c == '?' || c == ':') && (blank(i + 1) || flow_indicator(i + 1)));
      }
      ++i;
    }
  }
  return std::nullopt;
}

} // namespace credrotd::config::yaml
