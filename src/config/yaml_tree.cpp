// SPDX-License-Identifier: Apache-2.0
// yaml-cpp's parse, then the subset's rules: plain scalars that every YAML reader reads alike,
// merge keys, and the tabs and unclosed quotes PyYAML refuses.
#include "config/yaml_tree.hpp"

#include <fmt/format.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/parser.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <istream>
#include <regex>
#include <streambuf>
#include <variant>

namespace credrotd::config::yaml {

namespace {

// Bounds that keep an alias-bomb or a self-referencing alias from exhausting memory or stack.
constexpr int k_max_depth = 64;
constexpr std::size_t k_max_nodes = 100000;

core::Error parse_error(std::string_view file, std::uint32_t line, std::uint32_t column,
                        std::string_view message)
{
  return core::make_error(core::Errc::parse,
                          fmt::format("{}:{}:{}: {}", file, line, column, message));
}

// Plain scalars that YAML 1.1 (PyYAML, so the openstack CLI) or YAML 1.2 read as something
// other than the text written, checked in order, with why. Canonical integers and floats are
// accepted before this table is consulted (plain_refusal).
constexpr std::string_view k_tilde = "a plain '~' is null in YAML, not text or a home directory; "
                                     "quote it, or leave the value empty for null";

struct Ambiguity {
  std::regex pattern;
  std::string_view why;
};

const std::vector<Ambiguity>& ambiguities()
{
  static const std::vector<Ambiguity> table{
      {std::regex("yes|Yes|YES|no|No|NO|on|On|ON|off|Off|OFF"),
       "yes/no/on/off are booleans in YAML 1.1 (the openstack CLI reads True or False); write "
       "true or false, or quote it"},
      {std::regex(R"([0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(([Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2})"
                  R"((\.[0-9]*)?([ \t]*(Z|[-+][0-9]{1,2}(:[0-9]{2})?))?)?)"),
       "a plain date or timestamp is a date to the openstack CLI (YAML 1.1), not text; quote it"},
      {std::regex(R"([-+]?\.(inf|Inf|INF|nan|NaN|NAN))"),
       "a plain .inf or .nan is infinity or not-a-number in YAML, not text; quote it"},
      {std::regex(R"([-+]?[0-9][0-9_]*(:[0-5]?[0-9])+(\.[0-9_]*)?)"),
       "a plain number with ':' is base 60 in YAML 1.1 (the openstack CLI reads 1:30 as 90); "
       "quote it"},
      {std::regex(R"([-+]?(0[0-9_]+|0[bB][01_]+|0[oO][0-7_]+|0[xX][0-9a-fA-F_]+))"),
       "a plain number with a leading 0, 0x, 0o or 0b is octal, hex or binary in YAML (the "
       "openstack CLI reads 0123 as 83 and 0x1f as 31); quote it"},
      {std::regex(R"([-+]?([0-9][0-9_]*(\.[0-9_]*)?|\.[0-9][0-9_]*)([eE][-+]?[0-9]+)?)"),
       "a plain number not written the way Python prints it changes in the openstack CLI "
       "(1_000 is 1000, +5 is 5, 1.50 is 1.5, 1e5 is text there but a number in YAML 1.2); "
       "quote it"},
      {std::regex("="), "a plain '=' is a YAML 1.1 value key, which yaml.safe_load refuses; "
                        "quote it"},
  };
  return table;
}

// True when Python prints the float `text` denotes as `text` itself: repr() uses the shortest
// round-trip digits, in fixed notation for magnitudes in [1e-4, 1e16), with at least one
// decimal ("2.5", "3.0", "-0.0").
bool python_prints_float_as(const std::string& text)
{
  double value = 0;
  const auto parsed = std::from_chars(text.data(), text.data() + text.size(), value);
  if (parsed.ec != std::errc() || parsed.ptr != text.data() + text.size() ||
      (value != 0 && (std::fabs(value) < 1e-4 || std::fabs(value) >= 1e16))) {
    return false;
  }
  std::array<char, 64> buffer{};
  const auto printed =
      std::to_chars(buffer.data(), buffer.data() + buffer.size(), value, std::chars_format::fixed);
  std::string shortest(buffer.data(), printed.ptr);
  if (shortest.find('.') == std::string::npos) {
    shortest += ".0";
  }
  return shortest == text;
}

// A plain scalar: its node, or why it is refused.
std::variant<Node, std::string_view> resolve_plain(const std::string& value, Mark mark)
{
  static const std::regex k_integer("0|-?[1-9][0-9]*");
  static const std::regex k_float(R"(-?[0-9]+\.[0-9]+)");
  Node out;
  out.mark = mark;
  if (value.empty() || value == "null" || value == "Null" || value == "NULL") {
    return out;
  }
  static constexpr std::array<std::pair<std::string_view, bool>, 6> k_booleans{{{"true", true},
                                                                                {"True", true},
                                                                                {"TRUE", true},
                                                                                {"false", false},
                                                                                {"False", false},
                                                                                {"FALSE", false}}};
  for (const auto& [word, flag] : k_booleans) {
    if (value == word) {
      out.kind = Kind::boolean;
      out.boolean = flag;
      out.text = flag ? "True" : "False";
      return out;
    }
  }
  out.text.assign(value.data(), value.size());
  if (std::regex_match(value, k_integer)) {
    out.kind = Kind::integer;
    return out;
  }
  if (std::regex_match(value, k_float) && python_prints_float_as(value)) {
    out.kind = Kind::floating;
    return out;
  }
  for (const auto& ambiguity : ambiguities()) {
    if (std::regex_match(value, ambiguity.pattern)) {
      return ambiguity.why;
    }
  }
  out.kind = Kind::string;
  return out;
}

class Converter {
public:
  Converter(std::string_view text, std::string_view file, std::uint8_t origin)
      // yaml-cpp's positions do not count a UTF-8 BOM.
      : m_text(text.substr(text.substr(0, 3) == "\xEF\xBB\xBF" ? 3 : 0)), m_file(file),
        m_origin(origin)
  {}

  core::Result<Node> convert(const YAML::Node& node, Mark fallback, int depth)
  {
    if (depth > k_max_depth || ++m_count > k_max_nodes) {
      return error(fallback, "the document nests or repeats aliases too deeply");
    }
    const Mark mark = to_mark(node.Mark(), fallback);
    Node out;
    out.mark = mark;
    switch (node.Type()) {
    case YAML::NodeType::Undefined:
      return out;
    case YAML::NodeType::Null:
      // yaml-cpp makes a null of a plain '~' (the only null written with a character that
      // could be text): find it at the node's position (an empty value's position is that of
      // the next token, which may be a key such as `~b`).
      if (const auto pos = static_cast<std::size_t>(std::max(0, node.Mark().pos));
          !node.Mark().is_null() && m_text.substr(pos, 1) == "~" &&
          (pos + 1 >= m_text.size() ||
           std::string_view(" \t\r\n,]}").find(m_text[pos + 1]) != std::string_view::npos)) {
        return error(mark, k_tilde);
      }
      return out;
    case YAML::NodeType::Scalar:
      return scalar(node, mark);
    case YAML::NodeType::Sequence:
      out.kind = Kind::sequence;
      for (const auto& item : node) {
        CREDROTD_TRY_ASSIGN(auto child, convert(item, mark, depth + 1));
        out.items.push_back(std::move(child));
      }
      return out;
    case YAML::NodeType::Map:
      return mapping(node, mark, depth);
    }
    return error(mark, "unexpected YAML node");
  }

private:
  core::Error error(Mark mark, std::string_view what) const
  {
    return parse_error(m_file, mark.line, mark.column, what);
  }

  Mark to_mark(const YAML::Mark& mark, Mark fallback) const
  {
    if (mark.is_null() || mark.line < 0 || mark.column < 0) {
      return fallback;
    }
    return Mark{m_origin, static_cast<std::uint32_t>(mark.line + 1),
                static_cast<std::uint32_t>(mark.column + 1)};
  }

  core::Result<Node> scalar(const YAML::Node& node, Mark mark) const
  {
    const std::string& tag = node.Tag();
    if (tag == "!" || tag == "tag:yaml.org,2002:str") { // quoted, block or !!str
      return Node::make_string(node.Scalar(), mark);
    }
    if (tag == "?") {
      auto resolved = resolve_plain(node.Scalar(), mark);
      if (auto* why = std::get_if<std::string_view>(&resolved)) {
        return error(mark, *why);
      }
      return std::move(std::get<Node>(resolved));
    }
    if (tag.rfind("tag:yaml.org,2002:", 0) == 0) {
      return error(mark, "credrotd reads no YAML tag but !!str; write the value plainly or "
                         "quote it");
    }
    // yaml.safe_load knows no other tags: "could not determine a constructor for the tag".
    return error(mark, "unsupported YAML tag (the openstack CLI's yaml.safe_load refuses it too)");
  }

  core::Result<Node> mapping(const YAML::Node& node, Mark mark, int depth)
  {
    // PyYAML's flatten_mapping: merged pairs first (later maps of a `<<: [a, b]` list lose to
    // earlier ones), then the explicit pairs; construct_mapping then assigns in that order, so
    // the last duplicate wins and keeps the first one's position.
    static constexpr std::string_view k_merge_error =
        "a merge key '<<' takes a mapping or a list of mappings";
    std::vector<Entry> merged;
    std::vector<Entry> explicit_entries;
    for (const auto& pair : node) {
      // Copies: Node is a handle, and `it->first` would refer into a temporary proxy.
      const YAML::Node key = pair.first;
      const Mark key_mark = to_mark(key.Mark(), mark);
      if (!key.IsScalar()) {
        return error(key_mark, "mapping keys must be plain strings");
      }
      CREDROTD_TRY_ASSIGN(auto value, convert(pair.second, key_mark, depth + 1));
      if (key.Tag() != "?" || key.Scalar() != "<<") {
        CREDROTD_TRY_ASSIGN(auto key_node, scalar(key, key_mark));
        if (!key_node.is_scalar()) {
          return error(key_mark, "mapping keys must be plain strings");
        }
        explicit_entries.push_back(Entry{key.Scalar(), key_mark, std::move(value)});
        continue;
      }
      std::vector<Node> parts;
      if (value.kind == Kind::mapping) {
        parts.push_back(std::move(value));
      } else if (value.kind == Kind::sequence) {
        parts = std::move(value.items);
        std::reverse(parts.begin(), parts.end());
      } else {
        return error(key_mark, k_merge_error);
      }
      for (const auto& part : parts) {
        if (part.kind != Kind::mapping) {
          return error(part.mark, k_merge_error);
        }
      }
      for (auto& part : parts) {
        std::move(part.entries.begin(), part.entries.end(), std::back_inserter(merged));
      }
    }
    Node out = Node::make_mapping(mark);
    for (auto* list : {&merged, &explicit_entries}) {
      for (auto& entry : *list) {
        out.set(entry.key, std::move(entry.value), entry.key_mark);
      }
    }
    return out;
  }

  std::string_view m_text;
  std::string_view m_file;
  std::uint8_t m_origin;
  std::size_t m_count = 0;
};

// A read-only streambuf over a string_view, so yaml-cpp can read text without copying it.
class ViewBuffer : public std::streambuf {
public:
  explicit ViewBuffer(std::string_view text)
  {
    // streambuf's get area is char*, but nothing writes through it (no putback area is used).
    char* begin = const_cast<char*>(text.data());
    setg(begin, begin, begin + text.size());
  }
};

// Where each document of a stream starts, and where its first node is, without building it.
// yaml-cpp 0.7's LoadAll() never returns on some invalid streams (a ',' outside a flow
// collection, jbeder/yaml-cpp#1040): it reports the same empty document again and again,
// allocating each time. Counting with HandleNextDocument(), at most twice, sees that instead.
class DocumentMarks final : public YAML::EventHandler {
public:
  struct Document {
    YAML::Mark start;
    YAML::Mark first_node;
  };
  std::vector<Document> documents;

  void OnDocumentStart(const YAML::Mark& mark) override
  {
    documents.push_back({mark, YAML::Mark::null_mark()});
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t) override { node(mark); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { node(mark); }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                const std::string&) override
  {
    node(mark);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override
  {
    node(mark);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override
  {
    node(mark);
  }
  void OnMapEnd() override {}

private:
  void node(const YAML::Mark& mark)
  {
    if (!documents.empty() && documents.back().first_node.is_null()) {
      documents.back().first_node = mark;
    }
  }
};

} // namespace

bool Node::truthy() const
{
  switch (kind) {
  case Kind::null:
    return false;
  case Kind::boolean:
    return boolean;
  case Kind::mapping:
    return !entries.empty();
  case Kind::sequence:
    return !items.empty();
  default:
    return !text.empty();
  }
}

const Entry* Node::find_entry(std::string_view key) const
{
  const auto it = std::find_if(entries.begin(), entries.end(),
                               [&](const Entry& entry) { return entry.key == key; });
  return it == entries.end() ? nullptr : &*it;
}

const Node* Node::find(std::string_view key) const
{
  const Entry* entry = find_entry(key);
  return entry != nullptr ? &entry->value : nullptr;
}

Node* Node::find(std::string_view key)
{
  return const_cast<Node*>(std::as_const(*this).find(key));
}

void Node::set(std::string_view key, Node value, Mark key_mark)
{
  if (auto* entry = const_cast<Entry*>(find_entry(key))) {
    entry->value = std::move(value);
    entry->key_mark = key_mark;
    return;
  }
  entries.push_back(Entry{std::string(key), key_mark, std::move(value)});
}

std::optional<Node> Node::pop(std::string_view key)
{
  const auto it = std::find_if(entries.begin(), entries.end(),
                               [&](const Entry& entry) { return entry.key == key; });
  if (it == entries.end()) {
    return std::nullopt;
  }
  Node value = std::move(it->value);
  entries.erase(it);
  return value;
}

Node Node::make_string(std::string_view value, Mark mark)
{
  Node out;
  out.kind = Kind::string;
  out.text.assign(value.data(), value.size());
  out.mark = mark;
  return out;
}

Node Node::make_mapping(Mark mark)
{
  Node out;
  out.kind = Kind::mapping;
  out.mark = mark;
  return out;
}

core::Result<Node> parse(std::string_view text, std::string_view file_name, std::uint8_t origin)
{
  if (const auto refusal = find_refusal(text)) {
    return parse_error(file_name, refusal->line, refusal->column, refusal->message);
  }
  const auto error_at = [&](const YAML::Mark& mark, std::string_view what) {
    return parse_error(file_name, static_cast<std::uint32_t>(mark.is_null() ? 0 : mark.line + 1),
                       static_cast<std::uint32_t>(mark.is_null() ? 0 : mark.column + 1), what);
  };
  DocumentMarks marks;
  YAML::Node document;
  try {
    // Read the caller's buffer in place rather than through another full copy of a file that
    // may hold passwords. (yaml-cpp's own scanner buffers and nodes are not wiped: a limit.)
    ViewBuffer count_buffer(text);
    std::istream count_in(&count_buffer);
    YAML::Parser parser(count_in);
    while (marks.documents.size() < 2 && parser.HandleNextDocument(marks)) {
    }
    if (marks.documents.size() == 1) {
      ViewBuffer buffer(text);
      std::istream in(&buffer);
      document = YAML::Load(in);
    }
  } catch (const YAML::Exception& error) {
    return error_at(error.mark,
                    "invalid YAML: " + (error.msg.empty() ? "syntax error" : error.msg));
  }
  if (marks.documents.empty()) {
    Node empty;
    empty.mark = Mark{origin, 1, 1};
    return empty;
  }
  if (marks.documents.size() > 1) {
    const auto& first = marks.documents[0];
    const auto& second = marks.documents[1];
    if (second.start.pos == first.start.pos) {
      // No progress: the parser is stuck on a token that cannot start a value.
      // (yaml-cpp's positions do not count a UTF-8 BOM.)
      const auto at = static_cast<std::size_t>(std::max(0, second.start.pos)) +
                      (text.substr(0, 3) == "\xEF\xBB\xBF" ? 3 : 0);
      return error_at(second.start, fmt::format("invalid YAML: '{}' cannot start a value here "
                                                "(the openstack CLI refuses it too)",
                                                text.substr(at, 1)));
    }
    return error_at(second.first_node.is_null() ? second.start : second.first_node,
                    "a second YAML document ('---'); the openstack CLI reads a single one");
  }
  return Converter(text, file_name, origin).convert(document, Mark{origin, 1, 1}, 0);
}

} // namespace credrotd::config::yaml
