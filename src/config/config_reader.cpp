// SPDX-License-Identifier: Apache-2.0
// The credrotd.toml loader's diagnostics and typed value readers, shared by every section.
#include "config/config_reader.hpp"

#include "config/duration.hpp"
#include "core/text.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace credrotd::config::detail {

namespace {

constexpr std::size_t k_max_errors = 50;

// Levenshtein distance, for "did you mean" on unknown keys.
std::size_t edit_distance(std::string_view a, std::string_view b)
{
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) {
    row[j] = j;
  }
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

} // namespace

// ---- diagnostics ---------------------------------------------------------------------------

void Diagnostics::error(const core::SourceLocation& where, std::string message)
{
  m_errors.push_back(Message{where, fmt::format("{}: {}", where.to_string(), message)});
}

void Diagnostics::warning(const core::SourceLocation& where, std::string message)
{
  m_warnings.push_back(Message{where, fmt::format("{}: {}", where.to_string(), message)});
}

core::Error Diagnostics::to_error(core::Errc code)
{
  sort(m_errors);
  std::vector<std::string> lines;
  for (std::size_t i = 0; i < m_errors.size() && i < k_max_errors; ++i) {
    lines.push_back(m_errors[i].text);
  }
  if (m_errors.size() > k_max_errors) {
    lines.push_back(fmt::format("({} more errors)", m_errors.size() - k_max_errors));
  }
  return core::make_error(code, core::join(lines, "\n"));
}

std::vector<std::string> Diagnostics::take_warnings()
{
  sort(m_warnings);
  std::vector<std::string> out;
  for (auto& warning : m_warnings) {
    out.push_back(std::move(warning.text));
  }
  return out;
}

void Diagnostics::sort(std::vector<Message>& messages) const
{
  const auto rank = [this](const Message& m) {
    const auto file = std::find(m_file_order.begin(), m_file_order.end(), m.where.file);
    return std::tuple(file - m_file_order.begin(), m.where.line, m.where.column);
  };
  std::stable_sort(messages.begin(), messages.end(),
                   [&](const Message& a, const Message& b) { return rank(a) < rank(b); });
}

// ---- helpers -------------------------------------------------------------------------------

core::SourceLocation location_of(const std::string& file, const toml::source_region& region)
{
  return core::SourceLocation{file, region.begin.line, region.begin.column};
}

std::string quote(std::string_view text)
{
  return fmt::format("\"{}\"", text);
}

std::string type_name(const toml::node& node)
{
  // In the order of toml::node_type.
  static constexpr std::array<std::string_view, 10> k_names{
      "nothing", "a table",   "an array", "a string", "an integer",
      "a float", "a boolean", "a date",   "a time",   "a date-time"};
  static_assert(static_cast<std::size_t>(toml::node_type::date_time) == 9);
  return std::string(k_names.at(static_cast<std::size_t>(node.type())));
}

std::string one_of(const std::vector<std::string_view>& names)
{
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i) {
    out += i == 0 ? "" : i + 1 == names.size() ? " or " : ", ";
    out += quote(names[i]);
  }
  return out;
}

std::vector<std::pair<const toml::key*, const toml::node*>> ordered(const toml::table& table)
{
  std::vector<std::pair<const toml::key*, const toml::node*>> out;
  for (const auto& [key, node] : table) {
    out.emplace_back(&key, &node);
  }
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    const auto& pa = a.first->source().begin;
    const auto& pb = b.first->source().begin;
    return std::pair(pa.line, pa.column) < std::pair(pb.line, pb.column);
  });
  return out;
}

void unknown_key(Diagnostics& diagnostics, const std::string& file, const toml::key& key,
                 const std::string& section, const std::vector<std::string_view>& allowed,
                 const std::string& hint)
{
  std::string message = fmt::format("unknown key {} in {}", quote(key.str()), section);
  if (!hint.empty()) {
    message += "; " + hint;
  } else {
    std::string_view best;
    std::size_t best_distance = 3;
    for (const auto candidate : allowed) {
      if (const auto distance = edit_distance(key.str(), candidate); distance < best_distance) {
        best_distance = distance;
        best = candidate;
      }
    }
    if (!best.empty()) {
      message += fmt::format("; did you mean {}?", quote(best));
    }
    message += " (allowed: " + core::join(allowed, ", ") + ")";
  }
  diagnostics.error(location_of(file, key.source()), std::move(message));
}

// ---- Reader --------------------------------------------------------------------------------

core::SourceLocation Reader::where(const toml::node& node) const
{
  return location_of(m_file, node.source());
}

void Reader::fail(const toml::node& node, const std::string& message)
{
  m_diagnostics.error(where(node), fmt::format("{} in {}: {}", key, m_section, message));
}

void Reader::warn(const toml::node& node, const std::string& message)
{
  m_diagnostics.warning(where(node), fmt::format("{} in {}: {}", key, m_section, message));
}

std::optional<std::string> Reader::string(const toml::node& node)
{
  const auto* value = node.as_string();
  if (value == nullptr) {
    fail(node, "must be a string, not " + type_name(node));
    return std::nullopt;
  }
  if (value->get().find('\0') != std::string::npos) {
    fail(node, "must not contain a NUL character");
    return std::nullopt;
  }
  return value->get();
}

std::optional<bool> Reader::boolean(const toml::node& node)
{
  if (const auto* value = node.as_boolean()) {
    return value->get();
  }
  fail(node, "must be true or false, not " + type_name(node));
  return std::nullopt;
}

std::optional<std::int64_t> Reader::integer(const toml::node& node, std::int64_t min,
                                            std::int64_t max)
{
  const auto* value = node.as_integer();
  if (value == nullptr) {
    fail(node, fmt::format("must be an integer from {} to {}, not {}", min, max, type_name(node)));
    return std::nullopt;
  }
  if (value->get() < min || value->get() > max) {
    fail(node, fmt::format("must be from {} to {}, not {}", min, max, value->get()));
    return std::nullopt;
  }
  return value->get();
}

std::optional<std::chrono::seconds> Reader::duration(const toml::node& node, Positive positive)
{
  std::optional<std::chrono::seconds> out;
  if (const auto* number = node.as_integer()) {
    if (number->get() < 0) {
      fail(node, "must not be negative");
      return std::nullopt;
    }
    if (number->get() > k_max_duration.count()) {
      fail(node, "is too long (at most 3650d)");
      return std::nullopt;
    }
    out = std::chrono::seconds(number->get());
  } else if (const auto* text = node.as_string()) {
    auto parsed = parse_duration(text->get());
    if (!parsed) {
      fail(node, parsed.error().message);
      return std::nullopt;
    }
    out = *parsed;
  } else {
    fail(node,
         "must be a duration like \"15m\" or an integer number of seconds, not " + type_name(node));
    return std::nullopt;
  }
  if (positive == Positive::yes && out->count() == 0) {
    fail(node, "must be longer than zero");
    return std::nullopt;
  }
  return out;
}

std::optional<std::string> Reader::path(const toml::node& node, EmptyOk empty)
{
  auto text = string(node);
  if (!text || (text->empty() && empty == EmptyOk::yes)) {
    return text;
  }
  if (text->empty() || text->front() != '/') {
    fail(node, fmt::format("must be an absolute path (starting with /){}{}",
                           empty == EmptyOk::yes ? ", or \"\"" : "",
                           text->empty() ? std::string() : ", not " + quote(*text)));
    return std::nullopt;
  }
  return text;
}

std::optional<std::size_t> Reader::choice(const toml::node& node,
                                          const std::vector<std::string_view>& names)
{
  auto text = string(node);
  if (!text) {
    return std::nullopt;
  }
  const auto found = std::find(names.begin(), names.end(), *text);
  if (found != names.end()) {
    return static_cast<std::size_t>(found - names.begin());
  }
  fail(node, fmt::format("{} is not allowed; use {}", quote(*text), one_of(names)));
  return std::nullopt;
}

std::optional<std::vector<std::string>> Reader::strings(const toml::node& node,
                                                        std::string_view example)
{
  const auto* array = node.as_array();
  if (array == nullptr) {
    fail(node,
         fmt::format("must be an array of strings, e.g. {}, not {}", example, type_name(node)));
    return std::nullopt;
  }
  std::vector<std::string> out;
  for (const auto& item : *array) {
    auto text = string(item);
    if (!text) {
      return std::nullopt;
    }
    out.push_back(std::move(*text));
  }
  return out;
}

std::optional<std::vector<std::size_t>> Reader::subset(const toml::node& node,
                                                       const std::vector<std::string_view>& names)
{
  const auto* array = node.as_array();
  if (array == nullptr) {
    fail(node, fmt::format("must be an array of {}, not {}", one_of(names), type_name(node)));
    return std::nullopt;
  }
  if (array->empty()) {
    fail(node, "must not be empty; use one or more of " + one_of(names));
    return std::nullopt;
  }
  std::vector<std::size_t> out;
  for (const auto& item : *array) {
    auto index = choice(item, names);
    if (!index) {
      return std::nullopt;
    }
    if (std::find(out.begin(), out.end(), *index) != out.end()) {
      fail(item, quote(names[*index]) + " is listed twice");
      return std::nullopt;
    }
    out.push_back(*index);
  }
  return out;
}

} // namespace credrotd::config::detail
