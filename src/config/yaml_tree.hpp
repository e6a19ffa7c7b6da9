// SPDX-License-Identifier: Apache-2.0
// The YAML subset credrotd reads in clouds.yaml/secure.yaml, as a small tree with marks.
#pragma once

#include "core/error.hpp"
#include "core/secret.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace credrotd::config::yaml {

// Where a node was written. `origin` indexes a table of file names kept by the caller
// (clouds.yaml, secure.yaml, the environment), so nodes from merged files stay traceable.
struct Mark {
  std::uint8_t origin = 0;
  std::uint32_t line = 0;   // 1-based; 0 = unknown
  std::uint32_t column = 0; // 1-based; 0 = unknown
};

// What a node is. A scalar keeps the text as written: parse() accepts a plain scalar only when
// Python's yaml.safe_load (which the openstack CLI uses) reads it as that same text, so
// integer 42 and float 2.5 are "42" and "2.5" for both.
enum class Kind { null, boolean, integer, floating, string, mapping, sequence };

struct Entry;

struct Node {
  Node() = default;
  Node(const Node&) = default;
  Node(Node&&) noexcept = default;
  Node& operator=(const Node&) = default;
  Node& operator=(Node&&) noexcept = default;
  // The allocator wipes heap buffers; this wipes a short text kept inside the object.
  // Defined after Entry: destroying `entries` needs the complete type (clang insists).
  ~Node();

  Kind kind = Kind::null;
  // Scalars: the text ("True"/"False" for booleans, as Python's str() prints them).
  // Wiped when freed: secure.yaml's scalars are passwords.
  core::WipingString text;
  bool boolean = false;
  Mark mark;
  std::vector<Entry> entries; // mapping: unique keys in Python dict order
  std::vector<Node> items;    // sequence

  bool is_scalar() const
  {
    return kind != Kind::mapping && kind != Kind::sequence && kind != Kind::null;
  }
  // Python's bool(value): false for None, False, "", empty mappings and sequences. Numbers are
  // never false here because the openstack loader has turned them into strings by then.
  bool truthy() const;
  std::string_view view() const { return {text.data(), text.size()}; }

  // Mapping access, with Python dict semantics.
  const Node* find(std::string_view key) const;
  Node* find(std::string_view key);
  const Entry* find_entry(std::string_view key) const;
  // d[key] = value: replaces in place (keeping the key's position) or appends.
  void set(std::string_view key, Node value, Mark key_mark = {});
  // d.pop(key, None).
  std::optional<Node> pop(std::string_view key);

  Node clone() const; // a deep copy (defined after Entry, as ~Node)
  static Node make_string(std::string_view value, Mark mark);
  static Node make_mapping(Mark mark);
};

struct Entry {
  std::string key;
  Mark key_mark;
  Node value;
};

inline Node::~Node()
{
  core::wipe(text.data(), text.capacity());
}

inline Node Node::clone() const
{
  return *this;
}

// Parses one YAML document of the subset (docs/configuration.md, "clouds.yaml"): mappings,
// sequences, anchors and aliases, merge keys `<<`, the last duplicate key winning (as PyYAML),
// quoted, block and `!!str` scalars, and plain scalars that mean the same text to every YAML
// reader. Refused, with "quote it": a plain scalar whose meaning PyYAML (YAML 1.1) would change
// or that YAML 1.2 reads differently — 0123, 0x1f, 0b1, 1_000, +5, -0, 1.50, 1e5, .inf, .nan,
// 1:30, yes/no/on/off, ~, a bare date or timestamp. Also refused as PyYAML refuses them: a tab
// where a token may start, an unclosed quote, a second document, any other tag. An empty
// document is a null node; a BOM and CRLF line ends are accepted.
// Errors: Errc::parse, "FILE:LINE:COLUMN: what is wrong"; the message never quotes a value.
// The tree's scalars are wiped when freed; yaml-cpp's internal copies made while parsing are
// not (a known limit: secure.yaml's secrets pass through them).
core::Result<Node> parse(std::string_view text, std::string_view file_name, std::uint8_t origin);

// Two things yaml-cpp accepts but PyYAML (and so the openstack CLI) refuses: a tab where a
// token may start, and a quoted string never closed. The first one found, if any, with its
// 1-based position and the message parse() reports.
struct Refusal {
  std::uint32_t line = 0;
  std::uint32_t column = 0;
  std::string message;
};
std::optional<Refusal> find_refusal(std::string_view text);

} // namespace credrotd::config::yaml
