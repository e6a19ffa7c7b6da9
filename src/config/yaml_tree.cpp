// SPDX-License-Identifier: Apache-2.0
// yaml-cpp's parse, then PyYAML's safe_load rules on top: YAML 1.1 scalars, merge keys, tabs.
#include "config/yaml_tree.hpp"

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

namespace credrotd::config::yaml {

namespace {

// Bounds that keep an alias-bomb or a self-referencing alias from exhausting memory or stack.
constexpr int k_max_depth = 64;
constexpr std::size_t k_max_nodes = 100000;

std::string where(std::string_view file, std::uint32_t line, std::uint32_t column)
{
  std::string out(file);
  out += ':' + std::to_string(line) + ':' + std::to_string(column);
  return out;
}

core::Error parse_error(std::string_view file, std::uint32_t line, std::uint32_t column,
                        std::string_view message)
{
  return core::make_error(core::Errc::parse,
                          where(file, line, column) + ": " + std::string(message));
}

// ---- Python's str() of YAML 1.1 numbers ----------------------------------------------------

// Arbitrary-precision non-negative integer as little-endian decimal digits, because Python's
// integers have no size limit and a 40-digit project id must survive unchanged.
class Decimal {
public:
  void multiply_add(unsigned factor, unsigned addend)
  {
    unsigned carry = addend;
    for (auto& digit : m_digits) {
      const unsigned value = digit * factor + carry;
      digit = static_cast<unsigned char>(value % 10);
      carry = value / 10;
    }
    while (carry != 0) {
      m_digits.push_back(static_cast<unsigned char>(carry % 10));
      carry /= 10;
    }
  }
  std::string str() const
  {
    std::string out;
    for (auto it = m_digits.rbegin(); it != m_digits.rend(); ++it) {
      out += static_cast<char>('0' + *it);
    }
    const auto first = out.find_first_not_of('0');
    return first == std::string::npos ? "0" : out.substr(first);
  }
  bool zero() const
  {
    return std::all_of(m_digits.begin(), m_digits.end(), [](unsigned char d) { return d == 0; });
  }

private:
  std::vector<unsigned char> m_digits;
};

std::optional<Decimal> digits_in_base(std::string_view digits, unsigned base)
{
  if (digits.empty()) {
    return std::nullopt; // int("", 2) raises in Python
  }
  Decimal out;
  for (const char c : digits) {
    unsigned value = 0;
    if (c >= '0' && c <= '9') {
      value = static_cast<unsigned>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      value = static_cast<unsigned>(c - 'a' + 10);
    } else if (c >= 'A' && c <= 'F') {
      value = static_cast<unsigned>(c - 'A' + 10);
    } else {
      return std::nullopt;
    }
    if (value >= base) {
      return std::nullopt;
    }
    out.multiply_add(base, value);
  }
  return out;
}

const std::regex& int_pattern()
{
  static const std::regex pattern(R"(^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*))"
                                  R"(|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$)");
  return pattern;
}

const std::regex& float_pattern()
{
  static const std::regex pattern(
      R"(^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?)"
      R"(|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$)");
  return pattern;
}

bool is_yaml11_bool(std::string_view text, bool& value)
{
  static constexpr std::array<std::string_view, 9> truths{"yes",  "Yes", "YES", "true", "True",
                                                          "TRUE", "on",  "On",  "ON"};
  static constexpr std::array<std::string_view, 9> falses{"no",    "No",  "NO",  "false", "False",
                                                          "FALSE", "off", "Off", "OFF"};
  for (const auto word : truths) {
    if (text == word) {
      value = true;
      return true;
    }
  }
  for (const auto word : falses) {
    if (text == word) {
      value = false;
      return true;
    }
  }
  return false;
}

// repr(float) in Python 3: the shortest round-trip digits, fixed notation for exponents in
// [-4, 16), otherwise d.ddde+XX; always a ".0" on integral fixed values.
std::string python_float_repr(double value)
{
  if (std::isnan(value)) {
    return "nan";
  }
  if (std::isinf(value)) {
    return value < 0 ? "-inf" : "inf";
  }
  std::array<char, 64> buffer{};
  const auto result = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value,
                                    std::chars_format::scientific);
  std::string_view sci(buffer.data(), static_cast<std::size_t>(result.ptr - buffer.data()));
  std::string sign;
  if (!sci.empty() && sci.front() == '-') {
    sign = "-";
    sci.remove_prefix(1);
  }
  const auto e_pos = sci.find('e');
  std::string digits;
  for (const char c : sci.substr(0, e_pos)) {
    if (c != '.') {
      digits += c;
    }
  }
  int exponent = 0;
  const auto exponent_text = sci.substr(e_pos + 1);
  const char* first = exponent_text.data();
  if (*first == '+') {
    ++first;
  }
  std::from_chars(first, exponent_text.data() + exponent_text.size(), exponent);
  const int decpt = exponent + 1;
  std::string out = sign;
  if (decpt <= -4 || decpt > 16) {
    out += digits.substr(0, 1);
    if (digits.size() > 1) {
      out += '.';
      out += digits.substr(1);
    }
    const int e = decpt - 1;
    out += e < 0 ? "e-" : "e+";
    const std::string magnitude = std::to_string(e < 0 ? -e : e);
    if (magnitude.size() < 2) {
      out += '0';
    }
    out += magnitude;
  } else if (decpt <= 0) {
    out += "0.";
    out.append(static_cast<std::size_t>(-decpt), '0');
    out += digits;
  } else if (static_cast<std::size_t>(decpt) >= digits.size()) {
    out += digits;
    out.append(static_cast<std::size_t>(decpt) - digits.size(), '0');
    out += ".0";
  } else {
    out += digits.substr(0, static_cast<std::size_t>(decpt));
    out += '.';
    out += digits.substr(static_cast<std::size_t>(decpt));
  }
  return out;
}

std::optional<double> parse_double(std::string_view text)
{
  double value = 0;
  const auto result = std::from_chars(text.data(), text.data() + text.size(), value);
  if (result.ec != std::errc() || result.ptr != text.data() + text.size()) {
    return std::nullopt;
  }
  return value;
}

// ---- PyYAML's tab rule -----------------------------------------------------------------

bool is_break(char c)
{
  return c == '\n' || c == '\r';
}

bool is_blank_or_end(std::string_view text, std::size_t i)
{
  return i >= text.size() || text[i] == ' ' || text[i] == '\t' || is_break(text[i]);
}

bool is_flow_indicator(char c)
{
  return c == ',' || c == '[' || c == ']' || c == '{' || c == '}';
}

// ---- yaml-cpp → Node -------------------------------------------------------------------

class Converter {
public:
  Converter(std::string_view file, std::uint8_t origin) : m_file(file), m_origin(origin) {}

  core::Result<Node> convert(const YAML::Node& node, Mark fallback, int depth)
  {
    if (depth > k_max_depth || ++m_count > k_max_nodes) {
      return parse_error(m_file, fallback.line, fallback.column,
                         "the document nests or repeats aliases too deeply");
    }
    Mark mark = to_mark(node.Mark(), fallback);
    switch (node.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null: {
      Node out;
      out.kind = Kind::null;
      out.mark = mark;
      return out;
    }
    case YAML::NodeType::Scalar:
      return scalar(node, mark);
    case YAML::NodeType::Sequence: {
      Node out;
      out.kind = Kind::sequence;
      out.mark = mark;
      for (const auto& item : node) {
        CREDROTD_TRY_ASSIGN(auto child, convert(item, mark, depth + 1));
        out.items.push_back(std::move(child));
      }
      return out;
    }
    case YAML::NodeType::Map:
      return mapping(node, mark, depth);
    }
    return parse_error(m_file, mark.line, mark.column, "unexpected YAML node");
  }

private:
  Mark to_mark(const YAML::Mark& mark, Mark fallback) const
  {
    if (mark.is_null() || mark.line < 0 || mark.column < 0) {
      return fallback;
    }
    return Mark{m_origin, static_cast<std::uint32_t>(mark.line + 1),
                static_cast<std::uint32_t>(mark.column + 1)};
  }

  core::Result<Node> scalar(const YAML::Node& node, Mark mark)
  {
    const std::string& tag = node.Tag();
    const std::string& value = node.Scalar();
    Node out;
    out.mark = mark;
    static constexpr std::string_view k_core = "tag:yaml.org,2002:";
    if (tag == "!" || tag == std::string(k_core) + "str") {
      out.kind = Kind::string;
      out.text.assign(value.data(), value.size());
      return out;
    }
    if (tag == "?") {
      return resolve_plain(value, mark);
    }
    if (tag == std::string(k_core) + "int") {
      if (auto text = python_int_text(value)) {
        out.kind = Kind::integer;
        out.text.assign(text->data(), text->size());
        return out;
      }
      return parse_error(m_file, mark.line, mark.column, "!!int value is not an integer");
    }
    if (tag == std::string(k_core) + "float") {
      if (auto text = python_float_text(value)) {
        out.kind = Kind::floating;
        out.text.assign(text->data(), text->size());
        return out;
      }
      return parse_error(m_file, mark.line, mark.column, "!!float value is not a number");
    }
    if (tag == std::string(k_core) + "bool") {
      bool flag = false;
      if (is_yaml11_bool(value, flag)) {
        out.kind = Kind::boolean;
        out.boolean = flag;
        out.text = flag ? "True" : "False";
        return out;
      }
      return parse_error(m_file, mark.line, mark.column, "!!bool value is not a boolean");
    }
    if (tag == std::string(k_core) + "null") {
      out.kind = Kind::null;
      return out;
    }
    // yaml.safe_load knows no other tags: "could not determine a constructor for the tag".
    return parse_error(m_file, mark.line, mark.column,
                       "unsupported YAML tag (the openstack CLI's yaml.safe_load refuses it too)");
  }

  core::Result<Node> resolve_plain(const std::string& value, Mark mark)
  {
    Node out;
    out.mark = mark;
    bool flag = false;
    if (value.empty() || value == "~" || value == "null" || value == "Null" || value == "NULL") {
      out.kind = Kind::null;
      return out;
    }
    if (is_yaml11_bool(value, flag)) {
      out.kind = Kind::boolean;
      out.boolean = flag;
      out.text = flag ? "True" : "False";
      return out;
    }
    if (std::regex_match(value, float_pattern())) {
      if (auto text = python_float_text(value)) {
        out.kind = Kind::floating;
        out.text.assign(text->data(), text->size());
        return out;
      }
      return parse_error(m_file, mark.line, mark.column, "cannot read this number; quote it");
    }
    if (std::regex_match(value, int_pattern())) {
      if (auto text = python_int_text(value)) {
        out.kind = Kind::integer;
        out.text.assign(text->data(), text->size());
        return out;
      }
      return parse_error(m_file, mark.line, mark.column, "cannot read this number; quote it");
    }
    if (value == "=") {
      return parse_error(m_file, mark.line, mark.column,
                         "a plain '=' is a YAML 1.1 value key, which yaml.safe_load refuses; "
                         "quote it");
    }
    // Timestamps stay strings here; Python would build a date object.
    out.kind = Kind::string;
    out.text.assign(value.data(), value.size());
    return out;
  }

  core::Result<Node> mapping(const YAML::Node& node, Mark mark, int depth)
  {
    // PyYAML's flatten_mapping: merged pairs first (later maps of a `<<: [a, b]` list lose to
    // earlier ones), then the explicit pairs; construct_mapping then assigns in that order, so
    // the last duplicate wins and keeps the first one's position.
    std::vector<Entry> merged;
    std::vector<Entry> explicit_entries;
    for (const auto& pair : node) {
      // Copies: Node is a handle, and `it->first` would refer into a temporary proxy.
      const YAML::Node key = pair.first;
      const YAML::Node child = pair.second;
      const Mark key_mark = to_mark(key.Mark(), mark);
      if (!key.IsScalar()) {
        return parse_error(m_file, key_mark.line, key_mark.column,
                           "mapping keys must be plain strings");
      }
      CREDROTD_TRY_ASSIGN(auto value, convert(child, key_mark, depth + 1));
      if (key.Tag() == "?" && key.Scalar() == "<<") {
        if (value.kind == Kind::mapping) {
          for (auto& entry : value.entries) {
            merged.push_back(std::move(entry));
          }
        } else if (value.kind == Kind::sequence) {
          std::vector<std::vector<Entry>> parts;
          for (auto& item : value.items) {
            if (item.kind != Kind::mapping) {
              return parse_error(m_file, item.mark.line, item.mark.column,
                                 "a merge key '<<' takes a mapping or a list of mappings");
            }
            parts.push_back(std::move(item.entries));
          }
          for (auto part = parts.rbegin(); part != parts.rend(); ++part) {
            for (auto& entry : *part) {
              merged.push_back(std::move(entry));
            }
          }
        } else {
          return parse_error(m_file, key_mark.line, key_mark.column,
                             "a merge key '<<' takes a mapping or a list of mappings");
        }
        continue;
      }
      explicit_entries.push_back(Entry{key.Scalar(), key_mark, std::move(value)});
    }
    Node out;
    out.kind = Kind::mapping;
    out.mark = mark;
    for (auto* list : {&merged, &explicit_entries}) {
      for (auto& entry : *list) {
        out.set(entry.key, std::move(entry.value), entry.key_mark);
      }
    }
    return out;
  }

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
  case Kind::integer:
  case Kind::floating:
  case Kind::string:
    return !text.empty();
  case Kind::mapping:
    return !entries.empty();
  case Kind::sequence:
    return !items.empty();
  }
  return false;
}

const Entry* Node::find_entry(std::string_view key) const
{
  for (const auto& entry : entries) {
    if (entry.key == key) {
      return &entry;
    }
  }
  return nullptr;
}

const Node* Node::find(std::string_view key) const
{
  const Entry* entry = find_entry(key);
  return entry != nullptr ? &entry->value : nullptr;
}

Node* Node::find(std::string_view key)
{
  for (auto& entry : entries) {
    if (entry.key == key) {
      return &entry.value;
    }
  }
  return nullptr;
}

void Node::set(std::string_view key, Node value, Mark key_mark)
{
  for (auto& entry : entries) {
    if (entry.key == key) {
      entry.value = std::move(value);
      entry.key_mark = key_mark;
      return;
    }
  }
  entries.push_back(Entry{std::string(key), key_mark, std::move(value)});
}

std::optional<Node> Node::pop(std::string_view key)
{
  for (auto it = entries.begin(); it != entries.end(); ++it) {
    if (it->key == key) {
      Node value = std::move(it->value);
      entries.erase(it);
      return value;
    }
  }
  return std::nullopt;
}

Node Node::clone() const
{
  Node out;
  out.kind = kind;
  out.text = text;
  out.boolean = boolean;
  out.mark = mark;
  for (const auto& entry : entries) {
    out.entries.push_back(Entry{entry.key, entry.key_mark, entry.value.clone()});
  }
  for (const auto& item : items) {
    out.items.push_back(item.clone());
  }
  return out;
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

std::optional<std::string> python_int_text(std::string_view text)
{
  if (!std::regex_match(text.begin(), text.end(), int_pattern())) {
    return std::nullopt;
  }
  std::string value;
  for (const char c : text) {
    if (c != '_') {
      value += c;
    }
  }
  bool negative = false;
  if (!value.empty() && (value.front() == '-' || value.front() == '+')) {
    negative = value.front() == '-';
    value.erase(0, 1);
  }
  std::optional<Decimal> number;
  if (value == "0") {
    return std::string("0");
  }
  if (value.rfind("0b", 0) == 0) {
    number = digits_in_base(std::string_view(value).substr(2), 2);
  } else if (value.rfind("0x", 0) == 0) {
    number = digits_in_base(std::string_view(value).substr(2), 16);
  } else if (!value.empty() && value.front() == '0') {
    number = digits_in_base(value, 8);
  } else if (value.find(':') != std::string::npos) {
    // Sexagesimal: 1:30 is 90 in YAML 1.1.
    Decimal total;
    std::size_t start = 0;
    bool first = true;
    while (start <= value.size()) {
      const auto end = std::min(value.find(':', start), value.size());
      const std::string_view part = std::string_view(value).substr(start, end - start);
      if (first) {
        auto head = digits_in_base(part, 10);
        if (!head) {
          return std::nullopt;
        }
        total = *head;
        first = false;
      } else {
        unsigned part_value = 0;
        std::from_chars(part.data(), part.data() + part.size(), part_value);
        total.multiply_add(60, part_value);
      }
      start = end + 1;
    }
    number = total;
  } else {
    number = digits_in_base(value, 10);
  }
  if (!number) {
    return std::nullopt;
  }
  std::string out = number->str();
  if (negative && !number->zero()) {
    out.insert(0, "-");
  }
  return out;
}

std::optional<std::string> python_float_text(std::string_view text)
{
  if (!std::regex_match(text.begin(), text.end(), float_pattern())) {
    return std::nullopt;
  }
  std::string value;
  for (const char c : text) {
    if (c != '_') {
      value += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    }
  }
  double sign = 1;
  if (!value.empty() && (value.front() == '-' || value.front() == '+')) {
    sign = value.front() == '-' ? -1 : 1;
    value.erase(0, 1);
  }
  if (value == ".inf") {
    return python_float_repr(sign * HUGE_VAL);
  }
  if (value == ".nan") {
    return std::string("nan");
  }
  double number = 0;
  if (value.find(':') != std::string::npos) {
    std::vector<std::string_view> parts;
    std::size_t start = 0;
    while (true) {
      const auto colon = value.find(':', start);
      parts.push_back(std::string_view(value).substr(start, colon - start));
      if (colon == std::string::npos) {
        break;
      }
      start = colon + 1;
    }
    double base = 1;
    for (auto part = parts.rbegin(); part != parts.rend(); ++part) {
      auto digit = parse_double(*part);
      if (!digit) {
        return std::nullopt;
      }
      number += *digit * base;
      base *= 60;
    }
  } else {
    std::string_view digits = value;
    // from_chars wants a digit before an exponent ("1.e5" → "1.0e5" is equivalent).
    std::string patched;
    if (const auto dot_e = value.find(".e"); dot_e != std::string::npos) {
      patched = value.substr(0, dot_e + 1) + "0" + value.substr(dot_e + 1);
      digits = patched;
    }
    auto parsed = parse_double(digits);
    if (!parsed) {
      return std::nullopt;
    }
    number = *parsed;
  }
  return python_float_repr(sign * number);
}

std::optional<Refusal> find_refusal(std::string_view text)
{
  static constexpr std::string_view k_tab =
      "tab character; YAML allows only spaces here (the openstack CLI refuses it too: \"found "
      "character '\\t' that cannot start any token\")";
  std::size_t i = 0;
  if (text.substr(0, 3) == "\xEF\xBB\xBF") {
    i = 3;
  }
  std::uint32_t line = 1;
  std::size_t line_start = i;
  int flow = 0;
  // Inside a block scalar (| or >) every line indented deeper than the header's line is content.
  bool in_block_scalar = false;
  std::size_t block_parent_indent = 0;

  const auto tab_at = [&](std::size_t at) {
    return Refusal{line, static_cast<std::uint32_t>(at - line_start + 1), std::string(k_tab)};
  };
  const auto take_break = [&]() {
    if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
      ++i;
    }
    ++i;
    ++line;
    line_start = i;
  };
  const auto skip_to_break = [&]() {
    while (i < text.size() && !is_break(text[i])) {
      ++i;
    }
  };
  const auto line_indent = [&]() {
    std::size_t n = 0;
    while (line_start + n < text.size() && text[line_start + n] == ' ') {
      ++n;
    }
    return n;
  };

  while (i < text.size()) {
    if (in_block_scalar && i == line_start) {
      const std::size_t indent = line_indent();
      std::size_t j = line_start + indent;
      while (j < text.size() && (text[j] == ' ' || text[j] == '\t')) {
        ++j;
      }
      const bool blank = j >= text.size() || is_break(text[j]);
      if (blank || indent > block_parent_indent) {
        skip_to_break();
        if (i < text.size()) {
          take_break();
        }
        continue;
      }
      in_block_scalar = false;
    }
    const char c = text[i];
    if (c == ' ') {
      ++i;
      continue;
    }
    if (c == '\t') {
      return tab_at(i);
    }
    if (c == '#') {
      skip_to_break();
      continue;
    }
    if (is_break(c)) {
      take_break();
      continue;
    }
    // A token starts here.
    if (c == '\'' || c == '"') {
      const Refusal unclosed{line, static_cast<std::uint32_t>(i - line_start + 1),
                             "this quoted string is never closed (the openstack CLI refuses it "
                             "too: \"found unexpected end of stream\")"};
      bool closed = false;
      ++i;
      while (i < text.size()) {
        if (is_break(text[i])) {
          take_break();
          continue;
        }
        if (c == '"' && text[i] == '\\') {
          i += 2;
          continue;
        }
        if (text[i] == c) {
          if (c == '\'' && i + 1 < text.size() && text[i + 1] == '\'') {
            i += 2;
            continue;
          }
          ++i;
          closed = true;
          break;
        }
        ++i;
      }
      if (!closed) {
        return unclosed;
      }
      continue;
    }
    if (flow == 0 && (c == '|' || c == '>')) {
      ++i;
      while (i < text.size() &&
             (text[i] == '+' || text[i] == '-' || (text[i] >= '0' && text[i] <= '9'))) {
        ++i;
      }
      while (i < text.size() && text[i] == ' ') {
        ++i;
      }
      if (i < text.size() && text[i] == '\t') {
        return tab_at(i);
      }
      block_parent_indent = line_indent();
      in_block_scalar = true;
      skip_to_break();
      continue;
    }
    if (c == '[' || c == '{') {
      ++flow;
      ++i;
      continue;
    }
    if (c == ']' || c == '}') {
      flow = std::max(0, flow - 1);
      ++i;
      continue;
    }
    if (c == ',') {
      ++i;
      continue;
    }
    if ((c == '-' || c == '?' || c == ':') &&
        (is_blank_or_end(text, i + 1) ||
         (flow > 0 && i + 1 < text.size() && is_flow_indicator(text[i + 1])))) {
      ++i;
      continue;
    }
    if (i == line_start && (text.substr(i, 3) == "---" || text.substr(i, 3) == "...") &&
        is_blank_or_end(text, i + 3)) {
      i += 3;
      continue;
    }
    if (i == line_start && c == '%') {
      skip_to_break();
      continue;
    }
    if (c == '&' || c == '*' || c == '!') {
      while (!is_blank_or_end(text, i) && !(flow > 0 && is_flow_indicator(text[i]))) {
        ++i;
      }
      continue;
    }
    // A plain scalar: runs to the end of the line, to ": ", to " #", or (in flow context) to
    // a flow indicator. PyYAML ends it at a tab too, and then refuses the tab.
    while (i < text.size()) {
      const char d = text[i];
      if (is_break(d)) {
        break;
      }
      if (d == '\t') {
        return tab_at(i);
      }
      if (d == ' ' && i + 1 < text.size() && text[i + 1] == '#') {
        break;
      }
      if (d == ':' && (is_blank_or_end(text, i + 1) ||
                       (flow > 0 && i + 1 < text.size() && is_flow_indicator(text[i + 1])))) {
        break;
      }
      if (flow > 0 && is_flow_indicator(d)) {
        break;
      }
      ++i;
    }
  }
  return std::nullopt;
}

core::Result<Node> parse(std::string_view text, std::string_view file_name, std::uint8_t origin)
{
  if (const auto refusal = find_refusal(text)) {
    return parse_error(file_name, refusal->line, refusal->column, refusal->message);
  }
  const auto error_at = [&](const YAML::Mark& mark, std::string what) {
    return parse_error(file_name, static_cast<std::uint32_t>(mark.is_null() ? 0 : mark.line + 1),
                       static_cast<std::uint32_t>(mark.is_null() ? 0 : mark.column + 1),
                       std::move(what));
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
    return error_at(error.mark, "invalid YAML: " +
                                    (error.msg.empty() ? std::string("syntax error") : error.msg));
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
      const auto at = static_cast<std::size_t>(std::max(0, second.start.pos));
      return error_at(second.start,
                      "invalid YAML: '" + std::string(text.substr(at, 1)) +
                          "' cannot start a value here (the openstack CLI refuses it too)");
    }
    return error_at(second.first_node.is_null() ? second.start : second.first_node,
                    "a second YAML document ('---'); the openstack CLI reads a single one");
  }
  Converter converter(file_name, origin);
  return converter.convert(document, Mark{origin, 1, 1}, 0);
}

} // namespace credrotd::config::yaml
