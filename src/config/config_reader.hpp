// SPDX-License-Identifier: Apache-2.0
// Private to the credrotd.toml loader: diagnostics, typed value readers and key tables.
#pragma once

#include "core/config.hpp"
#include "core/error.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace credrotd::config::detail {

// Errors and warnings, each "FILE:LINE:COLUMN: text"; sorted by position at the end (files in
// the order given, then line and column) so the operator reads them top to bottom.
class Diagnostics {
public:
  explicit Diagnostics(std::vector<std::string> file_order) : m_file_order(std::move(file_order)) {}

  void error(const core::SourceLocation& where, std::string message);
  void warning(const core::SourceLocation& where, std::string message);
  bool failed() const { return !m_errors.empty(); }
  // The first 50 errors, one a line, then "(N more errors)".
  core::Error to_error(core::Errc code);
  std::vector<std::string> take_warnings();

private:
  struct Message {
    core::SourceLocation where;
    std::string text;
  };
  void sort(std::vector<Message>& messages) const;

  std::vector<std::string> m_file_order;
  std::vector<Message> m_errors;
  std::vector<Message> m_warnings;
};

core::SourceLocation location_of(const std::string& file, const toml::source_region& region);
std::string quote(std::string_view text);
std::string type_name(const toml::node& node); // "a string", "an integer"...
// "\"a\", \"b\" or \"c\""
std::string one_of(const std::vector<std::string_view>& names);

template <std::size_t N>
std::vector<std::string_view> list(const std::array<std::string_view, N>& names)
{
  return {names.begin(), names.end()};
}

enum class Positive { yes, no };   // a duration of zero is refused too
enum class EmptyOk { yes, no };    // a path may be "" (for "not set")
enum class Outcome { ok, failed }; // what a key's handler reports

// Reads the values of one table; `key` is the key being read, for messages
// ("KEY in SECTION: what is wrong").
class Reader {
public:
  Reader(Diagnostics& diagnostics, const std::string& file, std::string section)
      : m_diagnostics(diagnostics), m_file(file), m_section(std::move(section))
  {}

  std::string_view key;

  const std::string& file() const { return m_file; }
  const std::string& section() const { return m_section; }
  Diagnostics& diagnostics() { return m_diagnostics; }
  core::SourceLocation where(const toml::node& node) const;
  void fail(const toml::node& node, const std::string& message);
  void warn(const toml::node& node, const std::string& message);

  // Each returns nullopt after reporting what is wrong at the value's position.
  std::optional<std::string> string(const toml::node& node); // no NUL
  std::optional<bool> boolean(const toml::node& node);
  std::optional<std::int64_t> integer(const toml::node& node, std::int64_t min, std::int64_t max);
  // A duration string ("1h30m") or an integer number of seconds.
  std::optional<std::chrono::seconds> duration(const toml::node& node, Positive positive);
  std::optional<std::string> path(const toml::node& node, EmptyOk empty); // absolute
  // The index of the value in `names`.
  std::optional<std::size_t> choice(const toml::node& node,
                                    const std::vector<std::string_view>& names);
  // An array of strings (`example` shows the expected form in the message).
  std::optional<std::vector<std::string>> strings(const toml::node& node, std::string_view example);
  // A non-empty array of values of `names` without duplicates, as indexes.
  std::optional<std::vector<std::size_t>> subset(const toml::node& node,
                                                 const std::vector<std::string_view>& names);

private:
  Diagnostics& m_diagnostics;
  const std::string& m_file;
  std::string m_section;
};

// ---- key tables ----------------------------------------------------------------------------

// One key of a section: its name and the handler that reads its value into T (reporting what
// is wrong through the Reader). A section is a std::array of these: the one place that says
// which keys exist, their type, their allowed values and where they go.
template <class T> using Handler = std::function<Outcome(Reader&, const toml::node&, T&)>;
template <class T> struct Key {
  std::string_view name;
  Handler<T> read;
};

// Handler storing what `read(reader, node)` returns (an optional) into `member`.
template <class T, class V, class Read> Handler<T> store(V T::*member, Read read)
{
  return [member, read](Reader& reader, const toml::node& node, T& out) {
    auto value = read(reader, node);
    if (!value) {
      return Outcome::failed;
    }
    out.*member = static_cast<V>(std::move(*value));
    return Outcome::ok;
  };
}

// Value readers for store().
inline auto text()
{
  return [](Reader& r, const toml::node& n) { return r.string(n); };
}
inline auto flag()
{
  return [](Reader& r, const toml::node& n) { return r.boolean(n); };
}
inline auto duration(Positive positive)
{
  return [positive](Reader& r, const toml::node& n) { return r.duration(n, positive); };
}
inline auto path(EmptyOk empty)
{
  return [empty](Reader& r, const toml::node& n) { return r.path(n, empty); };
}
// A string that `valid` accepts, else `problem` is reported.
template <class Valid> auto text_if(Valid valid, std::string_view problem)
{
  return [valid, problem](Reader& r, const toml::node& n) {
    auto value = r.string(n);
    if (value && !valid(*value)) {
      r.fail(n, std::string(problem));
      return std::optional<std::string>();
    }
    return value;
  };
}
// One of `names`, as the enum value of the same index.
template <class Enum, std::size_t N> auto one(const std::array<std::string_view, N>& names)
{
  return [&names](Reader& r, const toml::node& n) -> std::optional<Enum> {
    if (auto index = r.choice(n, list(names))) {
      return static_cast<Enum>(*index);
    }
    return std::nullopt;
  };
}
// Several of `names`, as enum values.
template <class Enum, std::size_t N> auto several(const std::array<std::string_view, N>& names)
{
  return [&names](Reader& r, const toml::node& n) -> std::optional<std::vector<Enum>> {
    auto indexes = r.subset(n, list(names));
    if (!indexes) {
      return std::nullopt;
    }
    std::vector<Enum> out;
    for (const auto index : *indexes) {
      out.push_back(static_cast<Enum>(index));
    }
    return out;
  };
}

// Where each key of a table was written (the value's position).
using Where = std::map<std::string, core::SourceLocation, std::less<>>;

// Called for a key the table does not have; returns true when it handled the key (a
// sub-table), false after reporting it.
using Unknown = std::function<bool(const toml::key&, const toml::node&)>;

// The entries of a table in source order (toml++ keeps them sorted by name).
std::vector<std::pair<const toml::key*, const toml::node*>> ordered(const toml::table& table);

template <class T, std::size_t N>
std::vector<std::string_view> names_of(const std::array<Key<T>, N>& keys)
{
  std::vector<std::string_view> out;
  for (const auto& key : keys) {
    out.push_back(key.name);
  }
  return out;
}

// Reads every entry of `table`, in source order, with its key's handler; records where each
// known key was written. Returns false when a handler failed or `unknown` refused a key.
template <class T, std::size_t N>
bool read_keys(Reader& reader, const toml::table& table, const std::array<Key<T>, N>& keys, T& out,
               Where& where, const Unknown& unknown)
{
  bool ok = true;
  for (const auto& [key, node] : ordered(table)) {
    const std::string_view name = key->str();
    const auto* entry =
        std::find_if(keys.begin(), keys.end(), [name](const Key<T>& k) { return k.name == name; });
    if (name.empty() || entry == keys.end()) {
      ok = unknown(*key, *node) && ok;
      continue;
    }
    reader.key = entry->name;
    where[std::string(entry->name)] = reader.where(*node);
    ok = entry->read(reader, *node, out) == Outcome::ok && ok;
  }
  return ok;
}

// Reports "unknown key" with the allowed keys and a "did you mean", or with `hint` (the right
// table for a key of another section) instead.
void unknown_key(Diagnostics& diagnostics, const std::string& file, const toml::key& key,
                 const std::string& section, const std::vector<std::string_view>& allowed,
                 const std::string& hint);

// The sections' keys, for hints about the right table (each defined beside its table).
bool is_daemon_key(std::string_view key);
bool is_setting_key(std::string_view key);
bool is_auth_key(std::string_view key);
bool is_consumer_key(std::string_view key);

// The sections (config_auth.cpp, config_consumer.cpp, config_profile.cpp).
std::optional<core::InlineAuth> read_auth(Diagnostics& diagnostics, const std::string& file,
                                          const std::string& profile_name, const toml::node& node);
std::optional<core::Consumer> read_consumer(Diagnostics& diagnostics, const std::string& file,
                                            const std::string& profile_name, std::size_t index,
                                            const toml::node& node);

// [defaults] after every file, with where each key was set.
struct Defaults {
  core::ProfileSettings settings;
  Where where;
};
void read_defaults(Diagnostics& diagnostics, const std::string& file, const toml::table& table,
                   Defaults& defaults);
// A [profile.NAME] table over the final [defaults], with its auth and consumers.
core::Profile read_profile(Diagnostics& diagnostics, const Defaults& defaults,
                           const std::string& file, const std::string& name,
                           const toml::table& table);
bool valid_profile_name(std::string_view name);

} // namespace credrotd::config::detail
