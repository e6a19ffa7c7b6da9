// SPDX-License-Identifier: Apache-2.0
// Private to the command runner: the tail of a command's output that error messages quote,
// kept in one wiped buffer and rendered redacted, printable and on one line.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace credrotd::systemd {

// Keeps the last `keep + overlap` bytes of a stream in one fixed buffer (never reallocated,
// wiped when destroyed: the output of a program may contain a secret). `overlap` is the
// length of the longest redacted string minus one: the first `overlap` bytes of a full
// buffer may hold the end of a secret whose beginning was dropped, so they are never shown.
class OutputTail {
public:
  OutputTail(std::size_t keep, std::size_t overlap)
      : m_keep(keep), m_capacity(keep + overlap), m_data(std::make_unique<char[]>(m_capacity))
  {}
  ~OutputTail();
  OutputTail(const OutputTail&) = delete;
  OutputTail& operator=(const OutputTail&) = delete;

  // Keeps the last bytes of `data` appended to what it holds.
  void append(const char* data, std::size_t size);

  // The last `keep` bytes, with every occurrence of a redacted string replaced by
  // "<redacted>", invalid UTF-8 and control characters replaced by '?', and lines joined
  // with " | ".
  std::string render(const std::vector<std::string_view>& redact) const;

private:
  std::size_t m_keep;
  std::size_t m_capacity;
  std::unique_ptr<char[]> m_data;
  std::size_t m_size = 0;
};

// `message` followed by ": <rendered tail>" (or " (no output)"), every redacted string of
// `redact` replaced by "<redacted>" in the whole result.
std::string with_output(std::string message, const OutputTail& tail,
                        const std::vector<std::string_view>& redact);

} // namespace credrotd::systemd
