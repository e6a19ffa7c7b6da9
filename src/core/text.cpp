// SPDX-License-Identifier: Apache-2.0
// The shared text helpers: hex by table, base64 on OpenSSL's EVP block coder, redaction.
#include "core/text.hpp"

#include <fmt/format.h>
#include <openssl/evp.h>

#include <algorithm>

namespace credrotd::core {

namespace {

const unsigned char* bytes_of(std::string_view text) noexcept
{
  return reinterpret_cast<const unsigned char*>(text.data());
}

char lower(char c) noexcept
{
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

} // namespace

void append_hex(std::string& out, std::span<const unsigned char> bytes, HexCase letters)
{
  const char* digits = letters == HexCase::lower ? "0123456789abcdef" : "0123456789ABCDEF";
  const std::size_t start = out.size();
  out.resize(start + 2 * bytes.size());
  char* p = out.data() + start;
  for (const unsigned char b : bytes) {
    *p++ = digits[b >> 4];
    *p++ = digits[b & 0x0f];
  }
}

void append_hex(std::string& out, std::string_view bytes, HexCase letters)
{
  append_hex(out, std::span(bytes_of(bytes), bytes.size()), letters);
}

std::string hex_encode(std::span<const unsigned char> bytes, HexCase letters)
{
  std::string out;
  append_hex(out, bytes, letters);
  return out;
}

std::string hex_encode(std::string_view bytes, HexCase letters)
{
  std::string out;
  append_hex(out, bytes, letters);
  return out;
}

int hex_digit(char c) noexcept
{
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

std::optional<std::string> hex_decode(std::string_view hex)
{
  if (hex.size() % 2 != 0) {
    return std::nullopt;
  }
  std::string out(hex.size() / 2, '\0');
  for (std::size_t i = 0; i < out.size(); ++i) {
    const int high = hex_digit(hex[2 * i]);
    const int low = hex_digit(hex[2 * i + 1]);
    if (high < 0 || low < 0) {
      return std::nullopt;
    }
    out[i] = static_cast<char>(high << 4 | low);
  }
  return out;
}

std::string base64_encode(std::string_view bytes)
{
  // EVP_EncodeBlock writes a terminating NUL: room for it, then cut it off (no reallocation).
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int length = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), bytes_of(bytes),
                                     static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(length));
  return out;
}

std::optional<std::string> base64_decode(std::string_view text)
{
  // EVP_DecodeBlock skips leading/trailing whitespace and ignores where '=' sits: check the
  // shape first so that only canonical padded base64 is accepted.
  if (text.size() % 4 != 0) {
    return std::nullopt;
  }
  const std::size_t padding = text.ends_with("==") ? 2 : text.ends_with('=') ? 1 : 0;
  const std::string_view body = text.substr(0, text.size() - padding);
  const bool in_alphabet = std::all_of(body.begin(), body.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
  });
  if (!in_alphabet) {
    return std::nullopt;
  }
  std::string out(text.size() / 4 * 3, '\0');
  const int length = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()), bytes_of(text),
                                     static_cast<int>(text.size()));
  if (length < 0) {
    return std::nullopt;
  }
  // EVP_DecodeBlock counts the zero bytes the padding stands for.
  out.resize(static_cast<std::size_t>(length) - padding);
  return out;
}

namespace {

template <class Item> std::string join_items(std::span<const Item> items, std::string_view sep)
{
  std::string out;
  for (const auto& item : items) {
    if (&item != &items.front()) {
      out += sep;
    }
    out += item;
  }
  return out;
}

} // namespace

std::string join(std::span<const std::string> items, std::string_view separator)
{
  return join_items(items, separator);
}

std::string join(std::span<const std::string_view> items, std::string_view separator)
{
  return join_items(items, separator);
}

void redact(std::string& text, std::string_view secret, std::size_t min_size)
{
  if (secret.empty() || secret.size() < min_size) {
    return;
  }
  for (auto at = text.find(secret); at != std::string::npos;
       at = text.find(secret, at + k_redacted.size())) {
    text.replace(at, secret.size(), k_redacted);
  }
}

void redact(std::string& text, std::span<const std::string_view> secrets, std::size_t min_size)
{
  for (const auto secret : secrets) {
    redact(text, secret, min_size);
  }
}

std::string duration_text(std::chrono::milliseconds ms)
{
  return ms.count() % 1000 == 0 ? fmt::format("{} s", ms.count() / 1000)
                                : fmt::format("{} ms", ms.count());
}

std::string_view trim(std::string_view text, std::string_view chars) noexcept
{
  const auto first = text.find_first_not_of(chars);
  if (first == std::string_view::npos) {
    return {};
  }
  return text.substr(first, text.find_last_not_of(chars) - first + 1);
}

std::string ascii_lower(std::string_view text)
{
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), lower);
  return out;
}

bool iequals(std::string_view a, std::string_view b) noexcept
{
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [](char x, char y) { return lower(x) == lower(y); });
}

} // namespace credrotd::core
