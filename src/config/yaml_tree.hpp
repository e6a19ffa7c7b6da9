// SPDX-License-Identifier: Apache-2.0
// A YAML document read the way Python's yaml.safe_load reads it, as a small tree with marks.
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

// What yaml.safe_load would have produced for a node. clouds.yaml is read by Python, so a
// plain `project_id: 0123` is an *integer* there (octal, 83), and the openstack CLI then
// uses the string "83". The tree keeps the kind and Python's str() of each scalar.
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
  // Scalars: Python's str() of the value ("83" for 0123, "1.5" for 1.50, "True" for yes).
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

  Node clone() const;
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

// Parses one YAML document as PyYAML's safe_load does (YAML 1.1 scalar resolution, merge
// keys `<<`, last duplicate key wins, tabs refused where PyYAML refuses them, one document
// only, BOM and CRLF accepted). An empty document is a null node.
// Errors: Errc::parse, "FILE:LINE:COLUMN: what is wrong"; the message never quotes a value.
// The tree's scalars are wiped when freed; yaml-cpp's internal copies made while parsing are
// not (a known limit: secure.yaml's secrets pass through them).
core::Result<Node> parse(std::string_view text, std::string_view file_name, std::uint8_t origin);

// Python's str() of the number a plain YAML 1.1 scalar denotes, or nullopt when `text`
// is not an integer (resp. float) in YAML 1.1. Exposed for tests.
std::optional<std::string> python_int_text(std::string_view text);
std::optional<std::string> python_float_text(std::string_view text);

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
