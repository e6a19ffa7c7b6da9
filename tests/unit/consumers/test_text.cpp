// SPDX-License-Identifier: Apache-2.0
// Tests of the byte-exact text helpers: lines, endings, edits, UTF-8, whitespace rules.
#include "consumers/text.hpp"
#include "support.hpp"

#include <catch2/catch.hpp>

using namespace credrotd::consumers;
using credrotd::consumers::test::str;

TEST_CASE("lines keep their own endings and the final line may be unterminated", "[consumers]")
{
  const std::string_view t = "a\r\nb\nc";
  const auto lines = text::split_lines(t);
  REQUIRE(lines.size() == 3);
  CHECK(text::content(t, lines[0]) == "a");
  CHECK(t.substr(lines[0].end, lines[0].next - lines[0].end) == "\r\n");
  CHECK(text::content(t, lines[1]) == "b");
  CHECK(text::content(t, lines[2]) == "c");
  CHECK_FALSE(lines[2].terminated());
  CHECK(text::preferred_eol(t, lines) == "\r\n");
  CHECK(text::split_lines("").empty());
  CHECK(text::split_lines("x\n").size() == 1);
  CHECK(text::preferred_eol("x", text::split_lines("x")) == "\n");
}

TEST_CASE("positions are 1-based lines and byte columns", "[consumers]")
{
  const std::string_view t = "ab\ncd\n";
  CHECK(text::position_of(t, 0).line == 1);
  CHECK(text::position_of(t, 4).line == 2);
  CHECK(text::position_of(t, 4).column == 2);
  const auto error = text::parse_error({"/f", t}, 4, "bad");
  CHECK(error.message == "/f:2:2: bad");
  CHECK(error.code == credrotd::core::Errc::parse);
}

TEST_CASE("appending lines keeps the final newline or its absence", "[consumers]")
{
  const auto append = [](std::string_view t) {
    std::vector<text::Edit> edits;
    text::append_lines(t, text::split_lines(t), {Content("x=1"), Content("y=2")}, edits);
    return str(text::apply_edits(t, std::move(edits)));
  };
  CHECK(append("a\n") == "a\nx=1\ny=2\n");
  CHECK(append("a") == "a\nx=1\ny=2");
  CHECK(append("a\r\n") == "a\r\nx=1\r\ny=2\r\n");
  CHECK(append("") == "x=1\ny=2\n");
}

TEST_CASE("removing the last lines of a file without a final newline keeps it so", "[consumers]")
{
  const std::string_view t = "a\nb\nc";
  const auto lines = text::split_lines(t);
  std::vector<text::Edit> edits;
  text::remove_lines(lines, 2, 2, edits);
  CHECK(str(text::apply_edits(t, edits)) == "a\nb");
  edits.clear();
  text::remove_lines(lines, 1, 1, edits);
  CHECK(str(text::apply_edits(t, edits)) == "a\nc");
}

TEST_CASE("a carriage return without a line feed is refused with its position", "[consumers]")
{
  const auto status = text::check_no_lone_cr({"/f", "a\r\nb\rc\n"});
  REQUIRE_FALSE(status);
  CHECK(status.error().message.starts_with("/f:2:2: "));
}

TEST_CASE("invalid UTF-8 is found, valid multi-byte text passes", "[consumers]")
{
  CHECK(text::is_utf8("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"));
  CHECK_FALSE(text::is_utf8("caf\xE9"));
  CHECK_FALSE(text::is_utf8("\xC0\x80"));     // overlong
  CHECK_FALSE(text::is_utf8("\xED\xA0\x80")); // surrogate
  const auto status = text::check_utf8({"/f", "ok\n# caf\xE9\n"}, "botocore");
  REQUIRE_FALSE(status);
  CHECK(status.error().message.starts_with("/f:2:6: invalid UTF-8"));
}

TEST_CASE("whitespace follows each client's definition", "[consumers]")
{
  using text::Spaces;
  CHECK(text::space_at("\x1c", 0, Spaces::python) == 1);
  CHECK(text::space_at("\x1c", 0, Spaces::go) == 0);
  CHECK(text::space_at("\xC2\xA0", 0, Spaces::python) == 2);
  CHECK(text::space_at("\xE3\x80\x80", 0, Spaces::go) == 3);
  CHECK(text::space_at("\xC2\xA0", 0, Spaces::blank) == 0);
  CHECK(text::space_before("a\xE2\x80\x83", 4, Spaces::python) == 3);
  const std::string_view s = " \t x \xC2\xA0";
  CHECK(text::skip_spaces(s, 0, s.size(), Spaces::python) == 3);
  CHECK(text::trim_end(s, 0, s.size(), Spaces::python) == 4);
}

TEST_CASE("new key values must be writable unquoted everywhere", "[consumers]")
{
  using credrotd::core::Secret;
  CHECK(text::check_new_key("0123456789abcdef0123456789abcdef", Secret("fedcba9876543210")));
  CHECK(text::check_new_key("AKIA.x_y-z+=", Secret("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY=")));
  CHECK_FALSE(text::check_new_key("ak", Secret("")));
  CHECK_FALSE(text::check_new_key("", Secret("s")));
  const auto bad = text::check_new_key("ak", Secret("abc def"));
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message.find("abc") == std::string::npos);
  CHECK_FALSE(text::check_new_key("a/b", Secret("s"))); // SigV4 credential scope separator
  CHECK_FALSE(text::check_new_key("a:b", Secret("s")));
  CHECK_FALSE(text::check_new_key("a$b", Secret("s")));
  CHECK_FALSE(text::check_new_key("a\"b", Secret("s")));
}
