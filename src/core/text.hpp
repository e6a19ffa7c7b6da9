// SPDX-License-Identifier: Apache-2.0
// The small text helpers every module shares: hex and base64, join, secret redaction, trimming.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace credrotd::core {

// --- hex ---

enum class HexCase { lower, upper };

// Two hex digits per byte, appended to `out` ("\x01\xab" -> "01ab").
void append_hex(std::string& out, std::span<const unsigned char> bytes,
                HexCase letters = HexCase::lower);
void append_hex(std::string& out, std::string_view bytes, HexCase letters = HexCase::lower);

// Two hex digits per byte ("\x01\xab" -> "01ab").
std::string hex_encode(std::span<const unsigned char> bytes, HexCase letters = HexCase::lower);
std::string hex_encode(std::string_view bytes, HexCase letters = HexCase::lower);

// The value of one hex digit (either case), or -1 when `c` is not one.
int hex_digit(char c) noexcept;

// The bytes of an even-length string of hex digits in either case; nullopt for an odd length
// or any character that is not a hex digit. "" decodes to "".
std::optional<std::string> hex_decode(std::string_view hex);

// --- base64 (RFC 4648 standard alphabet, with padding; OpenSSL EVP_EncodeBlock) ---

// Encodes into one exactly sized buffer (no reallocation, no temporary copy), so a secret
// (a proxy password) leaves no stray copy behind; wiping the result is the caller's job.
std::string base64_encode(std::string_view bytes);

// Decodes padded base64; nullopt when the length is not a multiple of 4 or a character is
// not in the alphabet (no whitespace is accepted). "" decodes to "".
std::optional<std::string> base64_decode(std::string_view text);

// --- join ---

// The items with `separator` between them ({"a", "b"}, ", " -> "a, b"; {} -> "").
std::string join(std::span<const std::string> items, std::string_view separator);
std::string join(std::span<const std::string_view> items, std::string_view separator);

// --- redaction ---

inline constexpr std::string_view k_redacted = "<redacted>";

// Replaces every occurrence of `secret` in `text` by "<redacted>", left to right, the search
// resuming after each replacement (so a secret that occurs in "<redacted>" cannot loop).
// A secret shorter than `min_size` is left alone: a very short secret would match ordinary
// text, and callers state how short a secret they trust (never below 1: "" matches nowhere).
void redact(std::string& text, std::string_view secret, std::size_t min_size = 1);
// The same for each secret in turn.
void redact(std::string& text, std::span<const std::string_view> secrets, std::size_t min_size = 1);

// --- durations in messages ---

// "5 s" for whole seconds, else "1500 ms": how a timeout reads in an error message.
std::string duration_text(std::chrono::milliseconds ms);

// --- ASCII ---

inline constexpr std::string_view k_ascii_spaces = " \t\r\n\f\v";

// `text` without leading and trailing characters from `chars`.
std::string_view trim(std::string_view text, std::string_view chars = k_ascii_spaces) noexcept;

// `text` with A-Z turned to a-z; every other byte unchanged (no locale).
std::string ascii_lower(std::string_view text);

// Case-insensitive equality over ASCII letters; other bytes compare exactly.
bool iequals(std::string_view a, std::string_view b) noexcept;

} // namespace credrotd::core
