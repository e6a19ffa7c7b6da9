// SPDX-License-Identifier: Apache-2.0
// The redacted output tail of a command (command_output.hpp).
#include "systemd/command_output.hpp"

#include "core/secret.hpp"
#include "core/text.hpp"

#include <algorithm>
#include <cstring>

namespace credrotd::systemd {

namespace {

// Length of the valid UTF-8 sequence at `i` that touches no masked byte; 0 if none.
std::size_t utf8_length(std::string_view s, std::size_t i, const std::vector<bool>& masked)
{
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char b = byte(i);
  std::size_t length = 0;
  unsigned char low = 0x80;
  unsigned char high = 0xBF;
  if (b < 0x80) {
    return 1;
  } else if (b >= 0xC2 && b <= 0xDF) {
    length = 2;
  } else if (b >= 0xE0 && b <= 0xEF) {
    length = 3;
    low = b == 0xE0 ? 0xA0 : 0x80;
    high = b == 0xED ? 0x9F : 0xBF;
  } else if (b >= 0xF0 && b <= 0xF4) {
    length = 4;
    low = b == 0xF0 ? 0x90 : 0x80;
    high = b == 0xF4 ? 0x8F : 0xBF;
  } else {
    return 0;
  }
  if (i + length > s.size()) {
    return 0;
  }
  for (std::size_t k = 1; k < length; ++k) {
    const unsigned char lo = k == 1 ? low : 0x80;
    const unsigned char hi = k == 1 ? high : 0xBF;
    if (masked[i + k] || byte(i + k) < lo || byte(i + k) > hi) {
      return 0;
    }
  }
  return length;
}

// The lines of `text`, trimmed of spaces, the empty ones dropped, joined with " | ".
std::string join_lines(std::string_view text)
{
  std::string out;
  for (std::size_t begin = 0; begin <= text.size();) {
    const std::size_t end = std::min(text.find('\n', begin), text.size());
    const auto line = core::trim(text.substr(begin, end - begin), " ");
    if (!line.empty()) {
      out += out.empty() ? "" : " | ";
      out += line;
    }
    begin = end + 1;
  }
  return out;
}

} // namespace

OutputTail::~OutputTail()
{
  core::wipe(m_data.get(), m_capacity);
}

void OutputTail::append(const char* data, std::size_t size)
{
  if (size >= m_capacity) {
    std::memcpy(m_data.get(), data + (size - m_capacity), m_capacity);
    m_size = m_capacity;
    return;
  }
  if (m_size + size > m_capacity) {
    const std::size_t drop = m_size + size - m_capacity;
    std::memmove(m_data.get(), m_data.get() + drop, m_size - drop);
    m_size -= drop;
  }
  std::memcpy(m_data.get() + m_size, data, size);
  m_size += size;
}

std::string OutputTail::render(const std::vector<std::string_view>& redact) const
{
  const std::string_view raw(m_data.get(), m_size);
  std::vector<bool> masked(raw.size(), false);
  for (const auto needle : redact) {
    if (needle.empty()) {
      continue;
    }
    for (auto at = raw.find(needle); at != std::string_view::npos; at = raw.find(needle, at + 1)) {
      std::fill_n(masked.begin() + static_cast<std::ptrdiff_t>(at), needle.size(), true);
    }
  }

  const std::size_t start = raw.size() > m_keep ? raw.size() - m_keep : 0;
  std::string text;
  text.reserve(raw.size() - start + 16);
  std::size_t i = start;
  // A cut in the middle of a multi-byte character leaves continuation bytes at the start.
  while (i < raw.size() && !masked[i] && (static_cast<unsigned char>(raw[i]) & 0xC0) == 0x80) {
    ++i;
  }
  while (i < raw.size()) {
    if (masked[i]) {
      text += "<redacted>";
      while (i < raw.size() && masked[i]) {
        ++i;
      }
      continue;
    }
    const std::size_t length = utf8_length(raw, i, masked);
    if (length == 0) {
      text += '?';
      ++i;
      continue;
    }
    const unsigned char c = static_cast<unsigned char>(raw[i]);
    if (length == 1 && (c < 0x20 || c == 0x7F)) {
      text += c == '\n' ? '\n' : (c == '\t' || c == '\r') ? ' ' : '?';
    } else {
      text.append(raw.substr(i, length));
    }
    i += length;
  }
  return join_lines(text);
}

std::string with_output(std::string message, const OutputTail& tail,
                        const std::vector<std::string_view>& redact)
{
  const std::string text = tail.render(redact);
  if (text.empty()) {
    message += " (no output)";
  } else {
    message += ": ";
    message += text;
  }
  // argv and labels never carry a secret by contract; this pass is only a second net.
  core::redact(message, redact);
  return message;
}

} // namespace credrotd::systemd
