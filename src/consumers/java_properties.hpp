// SPDX-License-Identifier: Apache-2.0
// java.util.Properties text files (Properties.load/store, ISO-8859-1), as far as credrotd
// rewrites them: the logical lines with their unescaped keys and values, and one entry
// written the way Properties.store() writes it.
#pragma once

#include "consumers/text.hpp"

#include <string>
#include <vector>

namespace credrotd::consumers::java_properties {

// One key/value pair, on natural lines [first_line, last_line] (indices into `lines`; a
// trailing backslash continues a logical line).
struct Entry {
  std::string key; // unescaped (bytes read as ISO-8859-1; \uXXXX above 0xFF kept as UTF-8)
  Content value;   // unescaped
  std::size_t first_line = 0;
  std::size_t last_line = 0;
};

struct Parsed {
  std::vector<text::Line> lines;
  std::vector<Entry> entries; // in file order; a repeated key: the last one is what Java reads
  // The file ends in a continuation (a backslash ending its last key/value line): Java drops it
  // there, but would join a line added after it to that entry.
  bool continued_at_end = false;
};

// Parses `source` as Properties.load(InputStream) does. Errc::parse (file:line:column) for a
// malformed \uXXXX escape (Java refuses the whole file) and for a carriage return without a
// line feed (Java ends a line there; credrotd's line model would not).
core::Result<Parsed> parse(const Source& source);

// "key=value" as Properties.store() writes it: '\\', '=', ':', '#', '!', controls and (in
// the key) spaces escaped. Only printable ASCII is expected in either.
Content store_line(std::string_view key, std::string_view value);

} // namespace credrotd::consumers::java_properties
