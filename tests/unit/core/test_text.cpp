// SPDX-License-Identifier: Apache-2.0
// Tests of the shared text helpers: hex, base64 (RFC 4648 vectors), join, redaction, ASCII.
#include "core/text.hpp"

#include <catch2/catch.hpp>

#include <array>
#include <string>
#include <vector>

using namespace credrotd::core;

TEST_CASE("hex encodes every byte value as two lower-case digits", "[core][text]")
{
  std::string all;
  for (int b = 0; b < 256; ++b) {
    all += static_cast<char>(b);
  }
  const std::string hex = hex_encode(all);
  REQUIRE(hex.size() == 512);
  CHECK(hex.substr(0, 8) == "00010203");
  CHECK(hex.substr(2 * 0x7f, 6) == "7f8081");
  CHECK(hex.substr(504) == "fcfdfeff");
  CHECK(hex_encode(std::string_view{}).empty());
}

TEST_CASE("hex encodes in upper case when asked and appends to what is there", "[core][text]")
{
  const std::array<unsigned char, 3> bytes{0x00, 0xab, 0x5f};
  CHECK(hex_encode(bytes) == "00ab5f");
  CHECK(hex_encode(bytes, HexCase::upper) == "00AB5F");
  std::string out = "%";
  append_hex(out, std::string_view("\xc3", 1), HexCase::upper);
  CHECK(out == "%C3");
}

TEST_CASE("hex decodes either case and refuses odd lengths and non-digits", "[core][text]")
{
  CHECK(hex_decode("") == std::string());
  CHECK(hex_decode("00abCDff") == std::string("\x00\xab\xcd\xff", 4));
  CHECK_FALSE(hex_decode("abc"));
  CHECK_FALSE(hex_decode("0g"));
  CHECK_FALSE(hex_decode("0x12"));
  CHECK_FALSE(hex_decode(" 12"));
  CHECK(hex_digit('7') == 7);
  CHECK(hex_digit('a') == 10);
  CHECK(hex_digit('F') == 15);
  CHECK(hex_digit('g') == -1);
  CHECK(hex_digit('%') == -1);
}

TEST_CASE("hex decoding undoes encoding for every byte value", "[core][text]")
{
  std::string all;
  for (int b = 0; b < 256; ++b) {
    all += static_cast<char>(b);
  }
  CHECK(hex_decode(hex_encode(all)) == all);
  CHECK(hex_decode(hex_encode(all, HexCase::upper)) == all);
}

TEST_CASE("base64 matches the RFC 4648 test vectors", "[core][text]")
{
  const std::vector<std::pair<std::string, std::string>> vectors = {{"", ""},
                                                                    {"f", "Zg=="},
                                                                    {"fo", "Zm8="},
                                                                    {"foo", "Zm9v"},
                                                                    {"foob", "Zm9vYg=="},
                                                                    {"fooba", "Zm9vYmE="},
                                                                    {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, encoded] : vectors) {
    CAPTURE(plain);
    CHECK(base64_encode(plain) == encoded);
    CHECK(base64_decode(encoded) == plain);
  }
}

TEST_CASE("base64 uses the standard alphabet and round-trips every byte value", "[core][text]")
{
  CHECK(base64_encode("\xfb\xff\xbf") == "+/+/");
  CHECK(base64_encode("user:p@ss w0rd") == "dXNlcjpwQHNzIHcwcmQ=");
  std::string all;
  for (int b = 0; b < 256; ++b) {
    all += static_cast<char>(b);
  }
  CHECK(base64_decode(base64_encode(all)) == all);
  CHECK(base64_decode(base64_encode(std::string(1, '\0'))) == std::string(1, '\0'));
}

TEST_CASE("base64 decoding refuses what is not canonical padded base64", "[core][text]")
{
  CHECK_FALSE(base64_decode("Zg"));       // no padding
  CHECK_FALSE(base64_decode("Zg=a"));     // padding inside
  CHECK_FALSE(base64_decode("Z==="));     // three pad characters
  CHECK_FALSE(base64_decode("===="));     // padding only
  CHECK_FALSE(base64_decode(" Zm9v"));    // whitespace OpenSSL would skip
  CHECK_FALSE(base64_decode("Zm9v\n"));   // a line break
  CHECK_FALSE(base64_decode("Zm-_"));     // the URL-safe alphabet
  CHECK_FALSE(base64_decode("Zm9v*m9v")); // a stray character
}

TEST_CASE("join puts the separator between items only", "[core][text]")
{
  CHECK(join(std::vector<std::string>{}, ", ").empty());
  CHECK(join(std::vector<std::string>{"a"}, ", ") == "a");
  CHECK(join(std::vector<std::string>{"a", "b", "c"}, ", ") == "a, b, c");
  CHECK(join(std::vector<std::string>{"", ""}, "/") == "/");
  const std::array<std::string_view, 2> views{"x", "y"};
  CHECK(join(views, "\n") == "x\ny");
}

TEST_CASE("redaction replaces every occurrence of each secret", "[core][text]")
{
  std::string text = "key=SECRETKEY token=TOKEN1234 again SECRETKEYSECRETKEY";
  const std::vector<std::string_view> secrets{"SECRETKEY", "TOKEN1234"};
  redact(text, secrets);
  CHECK(text == "key=<redacted> token=<redacted> again <redacted><redacted>");
}

TEST_CASE("redaction leaves secrets shorter than the minimum and empty ones alone", "[core][text]")
{
  std::string text = "abc abcd";
  redact(text, "");
  CHECK(text == "abc abcd");
  redact(text, "abc", 4);
  CHECK(text == "abc abcd");
  redact(text, "abcd", 4);
  CHECK(text == "abc <redacted>");
  redact(text, "abc");
  CHECK(text == "<redacted> <redacted>");
}

TEST_CASE("redaction terminates when the secret occurs inside <redacted>", "[core][text]")
{
  std::string text = "redacted redacted";
  redact(text, "redacted", 8);
  CHECK(text == "<redacted> <redacted>");
  std::string whole = "<redacted>";
  redact(whole, "<redacted>");
  CHECK(whole == "<redacted>");
  std::string angle = "a<redacted>b";
  redact(angle, "<redacted>");
  CHECK(angle == "a<redacted>b");
  std::string single = "xx";
  redact(single, "x");
  CHECK(single == "<redacted><redacted>");
}

TEST_CASE("a duration reads in whole seconds when it is one, else in milliseconds", "[core][text]")
{
  CHECK(duration_text(std::chrono::seconds(5)) == "5 s");
  CHECK(duration_text(std::chrono::milliseconds(1500)) == "1500 ms");
  CHECK(duration_text(std::chrono::milliseconds(250)) == "250 ms");
  CHECK(duration_text(std::chrono::milliseconds(0)) == "0 s");
  CHECK(duration_text(std::chrono::minutes(2)) == "120 s");
}

TEST_CASE("trim removes ASCII spaces or the given characters at both ends only", "[core][text]")
{
  CHECK(trim("  a b \t\r\n") == "a b");
  CHECK(trim("") == "");
  CHECK(trim(" \t ") == "");
  CHECK(trim("x") == "x");
  CHECK(trim("--a-b--", "-") == "a-b");
}

TEST_CASE("ASCII lower-casing and case-insensitive equality touch letters only", "[core][text]")
{
  CHECK(ascii_lower("HeLLo-World_1\xC3\x89") == "hello-world_1\xC3\x89");
  CHECK(iequals("X-Subject-Token", "x-subject-TOKEN"));
  CHECK_FALSE(iequals("abc", "abcd"));
  CHECK_FALSE(iequals("a-b", "a_b"));
  CHECK(iequals("", ""));
}
