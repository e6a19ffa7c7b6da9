// SPDX-License-Identifier: Apache-2.0
// The YAML subset: plain scalars read as written or refused, merge keys, tabs, marks.
#include "config/yaml_tree.hpp"

#include <catch2/catch.hpp>

#include <tuple>

using namespace credrotd;
using config::yaml::Kind;
using config::yaml::Node;

namespace {

Node parse_ok(std::string_view text)
{
  auto result = config::yaml::parse(text, "test.yaml", 0);
  INFO((result.has_value() ? std::string() : result.error().message));
  REQUIRE(result.has_value());
  return std::move(*result);
}

std::string parse_error(std::string_view text)
{
  auto result = config::yaml::parse(text, "test.yaml", 0);
  REQUIRE_FALSE(result.has_value());
  CHECK(result.error().code == core::Errc::parse);
  return result.error().message;
}

const Node& at(const Node& node, std::string_view key)
{
  const Node* child = node.find(key);
  INFO(key);
  REQUIRE(child != nullptr);
  return *child;
}

} // namespace

TEST_CASE("plain integers are read as written; those PyYAML would change are refused",
          "[config][yaml]")
{
  // /usr/bin/python3 -c "str(yaml.safe_load('v: ' + text)['v'])" prints the same text.
  for (const auto* text : {"42", "0", "-7", "123456789012345678901234567890"}) {
    INFO(text);
    const Node root = parse_ok(std::string("v: ") + text);
    CHECK(at(root, "v").kind == Kind::integer);
    CHECK(at(root, "v").view() == text);
  }
  // PyYAML reads these as another number (0123 is 83, 0x1F 31, 1:30 90, 1_000 1000, +5 5);
  // 0o17 and 08 are text to PyYAML but numbers to YAML 1.2.
  for (const auto* text : {"0123", "0x1F", "0b101", "1_000", "+5", "-0", "1:30", "-1:30", "00",
                           "0_7", "-0x_1", "190:20:30", "0o17", "08"}) {
    INFO(text);
    const std::string message = parse_error(std::string("v: ") + text);
    CHECK_THAT(message, Catch::StartsWith("test.yaml:1:4: a plain number"));
    CHECK_THAT(message, Catch::EndsWith("; quote it"));
  }
  // Not numbers at all: text, as written (a random hex password may start with 0b or 0o: only
  // binary digits after 0b and octal digits after 0o make a number).
  for (const auto* text : {"12a", "0x", "1_a", "abc", "0b1f3a9c", "0b2", "0o8", "0o17a"}) {
    INFO(text);
    const Node root = parse_ok(std::string("v: ") + text);
    CHECK(at(root, "v").kind == Kind::string);
    CHECK(at(root, "v").view() == text);
  }
}

TEST_CASE("plain floats are read when Python prints them as written; others are refused",
          "[config][yaml]")
{
  // repr(float(text)) == text.
  for (const auto* text : {"1.0", "0.0001", "0.1", "-0.0", "2.5", "3.0"}) {
    INFO(text);
    const Node root = parse_ok(std::string("v: ") + text);
    CHECK(at(root, "v").kind == Kind::floating);
    CHECK(at(root, "v").view() == text);
  }
  // PyYAML changes these (1.50 is 1.5, 1.0e+5 100000.0, 0.00001 1e-05, .inf inf); 1e5 and
  // 1e+16 are text to PyYAML but numbers to YAML 1.2.
  for (const auto* text :
       {"1.50", "1.", ".5", "1.0e+5", "1.0e+16", "0.00001", "1.0e-5", "1:30.5", ".inf", "-.inf",
        ".NaN", "1_0.5", "12345678901234567.0", "1e5", "1e+16"}) {
    INFO(text);
    const std::string message = parse_error(std::string("v: ") + text);
    CHECK_THAT(message, Catch::StartsWith("test.yaml:1:4: a plain "));
    CHECK_THAT(message, Catch::EndsWith("quote it"));
  }
  CHECK(at(parse_ok("v: 1.2.3\n"), "v").view() == "1.2.3");
}

TEST_CASE("booleans, nulls, quoted and tagged scalars resolve like safe_load", "[config][yaml]")
{
  const Node root = parse_ok("a: true\nb: False\nd:\ne: null\nf: \"42\"\ng: '0123'\n"
                             "h: !!str 42\nk: |\n  block 1\n"
                             "l: True\nm: plain text\nn: 'yes'\no: \"~\"\n");
  CHECK(at(root, "a").kind == Kind::boolean);
  CHECK(at(root, "a").boolean);
  CHECK(at(root, "a").view() == "True");
  CHECK(at(root, "b").kind == Kind::boolean);
  CHECK_FALSE(at(root, "b").boolean);
  CHECK(at(root, "d").kind == Kind::null);
  CHECK(at(root, "e").kind == Kind::null);
  CHECK(at(root, "f").kind == Kind::string);
  CHECK(at(root, "f").view() == "42");
  CHECK(at(root, "g").view() == "0123");
  CHECK(at(root, "h").kind == Kind::string);
  CHECK(at(root, "k").view() == "block 1\n");
  CHECK(at(root, "l").boolean);
  CHECK(at(root, "m").view() == "plain text");
  CHECK(at(root, "n").view() == "yes");
  CHECK(at(root, "o").view() == "~");
  CHECK_FALSE(at(root, "e").truthy());
  CHECK_FALSE(at(root, "b").truthy());
  CHECK(at(root, "f").truthy());
}

TEST_CASE("plain scalars PyYAML reads as something else are refused: quote them", "[config][yaml]")
{
  // Each refused where it is written, and the message never repeats the value (it may be a
  // password in secure.yaml).
  const std::vector<std::pair<std::string, std::string>> refused{
      {"yes", "yes/no/on/off are booleans in YAML 1.1"},
      {"Off", "yes/no/on/off are booleans in YAML 1.1"},
      {"ON", "yes/no/on/off are booleans in YAML 1.1"},
      {"~", "a plain '~' is null in YAML"},
      {"2024-01-01", "a plain date or timestamp"},
      {"2001-12-14t21:59:43.10-05:00", "a plain date or timestamp"},
      {"2001-12-14 21:59:43.10 -5", "a plain date or timestamp"},
      {".NaN", "a plain .inf or .nan"},
      {"2:45", "a plain number with ':' is base 60"},
      {"0x2a", "a plain number with a leading 0, 0x, 0o or 0b"},
  };
  for (const auto& [text, why] : refused) {
    INFO(text);
    const std::string message = parse_error("clouds:\n  c:\n    password: " + text + "\n");
    CHECK_THAT(message, Catch::StartsWith("test.yaml:3:15: " + why));
    CHECK_THAT(message, Catch::EndsWith("quote it") || Catch::Contains("quote it,"));
    if (text.size() > 3) { // shorter ones are words of the message ("yes/no/on/off")
      CHECK(message.find(text, 16) == std::string::npos);
    }
  }
  // After a UTF-8 BOM too (yaml-cpp's positions do not count it).
  CHECK_THAT(parse_error("\xEF\xBB\xBF"
                         "a: 1\nb: ~\n"),
             Catch::StartsWith("test.yaml:2:4: a plain '~' is null"));
  // An empty value followed by a key that starts with '~' is no '~'.
  CHECK(parse_ok("a:\n~b: x\n").find("a")->kind == Kind::null);
  // Keys too: PyYAML would make `yes:` the key True.
  CHECK_THAT(parse_error("clouds:\n  yes: {}\n"),
             Catch::StartsWith("test.yaml:2:3: yes/no/on/off are booleans"));
  // Only !!str is read among the standard tags: the others ask for a typed value.
  CHECK_THAT(parse_error("i: !!int \"0x10\"\n"),
             Catch::StartsWith("test.yaml:1:4: credrotd reads no YAML tag but !!str"));
}

TEST_CASE("tags and keys safe_load refuses are errors with their position", "[config][yaml]")
{
  CHECK(parse_error("a: 1\nb: !custom x\n") ==
        "test.yaml:2:4: unsupported YAML tag (the openstack CLI's yaml.safe_load refuses it too)");
  CHECK_THAT(parse_error("a: =\n"), Catch::StartsWith("test.yaml:1:4: a plain '=' is a YAML 1.1"));
  CHECK_THAT(parse_error("? [a, b]\n: 1\n"), Catch::Contains("mapping keys must be plain strings"));
  CHECK_THAT(parse_error("a: 0b_\n"), Catch::StartsWith("test.yaml:1:4: a plain number"));
  CHECK_THAT(parse_error("a: 0b_\n"), Catch::EndsWith("quote it"));
}

TEST_CASE("merge keys and duplicate keys behave as in PyYAML", "[config][yaml]")
{
  const Node root = parse_ok("base: &b {k: 1, j: 2}\n"
                             "other: &o {k: 10, z: 30}\n"
                             "one:\n  <<: *b\n  k: 3\n"
                             "many:\n  <<: [*b, *o]\n"
                             "dup: 1\ndup: 2\nlast: x\n");
  const Node& one = at(root, "one");
  CHECK(at(one, "k").view() == "3");
  CHECK(at(one, "j").view() == "2");
  // In a list of merged maps the earlier one wins.
  const Node& many = at(root, "many");
  CHECK(at(many, "k").view() == "1");
  CHECK(at(many, "z").view() == "30");
  // The last duplicate wins and keeps the first one's place (Python dict assignment).
  CHECK(at(root, "dup").view() == "2");
  REQUIRE(root.entries.size() == 6);
  CHECK(root.entries[4].key == "dup");
  CHECK(root.entries[5].key == "last");
  CHECK_THAT(parse_error("a:\n  <<: 1\n"), Catch::Contains("merge key '<<' takes a mapping"));
}

TEST_CASE("tabs are refused where PyYAML refuses them, with line and column", "[config][yaml]")
{
  const std::vector<std::tuple<std::string, std::uint32_t, std::uint32_t>> refused{
      {"clouds:\n\tc1:\n    auth: 1\n", 2, 1},   // indentation
      {"a:\n  b: 1\n\t\n", 3, 1},                // a blank line holding a tab
      {"clouds:\n  c1:\n    auth:\t1\n", 3, 10}, // after the colon
      {"a: 1 \t\nb: 2\n", 1, 6},                 // trailing
      {"a:\n  - x\n  -\ty\n", 3, 4},             // after a dash
      {"a: x\t# c\n", 1, 5},                     // before a comment
      {"a: {x: 1,\ty: 2}\n", 1, 10},             // in a flow mapping
      {"a: word\tword\n", 1, 8},                 // inside a plain scalar
      {"key: |\t\n  text\n", 1, 7},              // block scalar header
  };
  for (const auto& [text, line, column] : refused) {
    INFO(text);
    const auto position = config::yaml::find_refusal(text);
    REQUIRE(position.has_value());
    CHECK(position->line == line);
    CHECK(position->column == column);
    CHECK_THAT(parse_error(text), Catch::StartsWith("test.yaml:" + std::to_string(line) + ":" +
                                                    std::to_string(column) + ": tab character"));
  }
  const std::vector<std::string> accepted{
      "a: \"x\ty\"\n",                    // inside double quotes
      "a: 'x\ty'\n",                      // inside single quotes
      "a: 'it''s\tfine'\n",               // doubled quote inside single quotes
      "# a\tcomment\na: 1\n",             // in a comment
      "a: 1 # comment\twith tab\n",       // in a trailing comment
      "a: |\n  col1\tcol2\n  x\nb: 2\n",  // block scalar content
      "a: >-\n    x\ty\nb: 1\n",          // folded block scalar content
      "a: \"multi\n  line\twith tab\"\n", // multi-line double-quoted
      "a: x#y\tz\n",                      // '#' without a space is text... up to the tab
  };
  for (size_t i = 0; i + 1 < accepted.size(); ++i) {
    INFO(accepted[i]);
    CHECK_FALSE(config::yaml::find_refusal(accepted[i]).has_value());
    parse_ok(accepted[i]);
  }
  // ...but a tab inside the plain scalar is still refused.
  CHECK(config::yaml::find_refusal(accepted.back()).has_value());
}

TEST_CASE("a quoted string never closed is refused, as PyYAML refuses it", "[config][yaml]")
{
  CHECK(parse_error("a:\n  b: \"Pa55\n") ==
        "test.yaml:2:6: this quoted string is never closed (the openstack CLI refuses it too: "
        "\"found unexpected end of stream\")");
  CHECK_THAT(parse_error("a: 'x\n"), Catch::StartsWith("test.yaml:1:4: this quoted string"));
  parse_ok("a: 'it''s closed'\nb: \"esc \\\" aped\"\n");
}

TEST_CASE("a BOM and CRLF line ends are accepted and do not shift positions", "[config][yaml]")
{
  const Node root = parse_ok("\xEF\xBB\xBF"
                             "clouds:\r\n  c1:\r\n    project_id: 42\r\n");
  const Node& c1 = at(at(root, "clouds"), "c1");
  const Node& id = at(c1, "project_id");
  CHECK(id.view() == "42");
  CHECK(id.mark.line == 3);
  CHECK(id.mark.column == 17);
  CHECK(at(root, "clouds").entries.front().key_mark.line == 2);
}

TEST_CASE("syntax errors and extra documents name file, line and column", "[config][yaml]")
{
  CHECK_THAT(parse_error("a: [1, 2\n"), Catch::StartsWith("test.yaml:2:1: invalid YAML: "));
  CHECK_THAT(parse_error("a: 1\n---\nb: 2\n"),
             Catch::StartsWith("test.yaml:3:1: a second YAML document"));
  const Node empty = parse_ok("");
  CHECK(empty.kind == Kind::null);
  const Node comment_only = parse_ok("# nothing here\n");
  CHECK(comment_only.kind == Kind::null);
}

TEST_CASE("a stray ',' is a syntax error instead of an endless loop in yaml-cpp", "[config][yaml]")
{
  // Found by fuzz/clouds_yaml: yaml-cpp 0.7's LoadAll() loops on these, allocating until the
  // process runs out of memory (jbeder/yaml-cpp#1040).
  CHECK_THAT(parse_error(",\n"), Catch::StartsWith("test.yaml:1:1: invalid YAML: ',' cannot "
                                                   "start a value here"));
  CHECK_THAT(parse_error(", - b\n]\n"), Catch::StartsWith("test.yaml:1:1: invalid YAML: "));
  CHECK_THAT(parse_error("\n\n  ,\n"), Catch::StartsWith("test.yaml:3:3: invalid YAML: "));
  // A ',' inside a plain scalar, even at the start of a continuation line, is text.
  CHECK(at(parse_ok("key: a\n  , b\n"), "key").view() == "a , b");
}

TEST_CASE("self-referencing aliases are refused instead of recursing forever", "[config][yaml]")
{
  CHECK_THAT(parse_error("a: &x [*x]\n"), Catch::Contains("nests or repeats aliases too deeply"));
  // A billion-laughs style expansion stops at the node limit.
  std::string bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  char previous = 'a';
  for (char name = 'b'; name <= 'h'; ++name) {
    bomb += std::string(1, name) + ": &" + name + " [";
    for (int i = 0; i < 10; ++i) {
      bomb += std::string(i == 0 ? "" : ", ") + "*" + previous;
    }
    bomb += "]\n";
    previous = name;
  }
  CHECK_THAT(parse_error(bomb), Catch::Contains("too deeply"));
}

TEST_CASE("nodes remember the origin they were parsed with", "[config][yaml]")
{
  auto result = config::yaml::parse("a:\n  b: c\n", "secure.yaml", 1);
  REQUIRE(result.has_value());
  CHECK(at(at(*result, "a"), "b").mark.origin == 1);
  CHECK(at(at(*result, "a"), "b").mark.line == 2);
  CHECK(at(at(*result, "a"), "b").mark.column == 6);
}

TEST_CASE("a block scalar with empty lines in it is read, and the lines after it checked",
          "[config][yaml]")
{
  // Found by fuzz/clouds_yaml: an empty line in a block scalar made the tab scanner loop.
  const Node root = parse_ok("a: >\n\n  folded\n\n  text\n\nb: |\n\n\n  kept\nc: x\n");
  CHECK(at(root, "a").view() == "\nfolded\ntext\n");
  CHECK(at(root, "b").view() == "\n\nkept\n");
  CHECK(at(root, "c").view() == "x");
  CHECK_THAT(parse_error("a: >\n\n  text\nb:\tx\n"), Catch::StartsWith("test.yaml:4:3: tab"));
}
