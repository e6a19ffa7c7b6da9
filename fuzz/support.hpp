// SPDX-License-Identifier: Apache-2.0
// Helpers shared by the fuzz targets: splitting an input into parts, and failing on a property.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <vector>

namespace credrotd::fuzz {

// Splits inputs made of several parts (options and file, template and output, clouds.yaml and
// secure.yaml, the fields of a request). The ASCII unit separator means nothing in any format
// under test, and the seeds show where it goes.
inline constexpr char k_separator = '\x1f';

inline std::string_view as_text(const std::uint8_t* data, std::size_t size)
{
  return {reinterpret_cast<const char*>(data), size};
}

// At most `max_parts` parts: the last one keeps any further separators.
inline std::vector<std::string_view> split(std::string_view data, std::size_t max_parts)
{
  std::vector<std::string_view> parts;
  while (parts.size() + 1 < max_parts) {
    const std::size_t at = data.find(k_separator);
    if (at == std::string_view::npos) {
      break;
    }
    parts.push_back(data.substr(0, at));
    data.remove_prefix(at + 1);
  }
  parts.push_back(data);
  return parts;
}

// A property that must hold for every input. On failure prints which one (never the input,
// which may look like a key) and aborts: libFuzzer saves the input as a crash artifact.
inline void require(bool holds, const char* property)
{
  if (!holds) {
    std::fprintf(stderr, "fuzz property violated: %s\n", property);
    std::abort();
  }
}

} // namespace credrotd::fuzz
