// SPDX-License-Identifier: Apache-2.0
// Random client files with known key positions.
#include "generators.hpp"

#include <algorithm>
#include <random>
#include <utility>
#include <vector>

namespace credrotd::consumers::test {

namespace {

enum class Piece { text, access, secret };

// A generated file: pieces of literal text and the two key values.
class Doc {
public:
  explicit Doc(std::uint32_t seed) : m_rng(seed) {}

  void text(std::string s) { m_pieces.emplace_back(Piece::text, std::move(s)); }
  void access() { m_pieces.emplace_back(Piece::access, m_old_access); }
  void secret() { m_pieces.emplace_back(Piece::secret, m_old_secret); }

  std::string input() const { return join(m_old_access, m_old_secret); }
  std::string expected() const { return join(k_generated_new_access, k_generated_new_secret); }

  std::mt19937& rng() { return m_rng; }
  int pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(m_rng); }
  bool chance(int percent) { return pick(100) < percent; }
  template <class T> const T& one_of(const std::vector<T>& v)
  {
    return v[pick(static_cast<int>(v.size()))];
  }

  // An old key value: 1 to 40 characters of the key alphabet.
  std::string value()
  {
    static const std::string k_chars =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=._-";
    std::string out;
    const int n = 1 + pick(40);
    for (int i = 0; i < n; ++i) {
      out += k_chars[static_cast<std::size_t>(pick(static_cast<int>(k_chars.size())))];
    }
    return out;
  }
  void set_old(std::string access, std::string secret)
  {
    m_old_access = std::move(access);
    m_old_secret = std::move(secret);
  }
  const std::string& old_access() const { return m_old_access; }
  const std::string& old_secret() const { return m_old_secret; }

private:
  std::string join(const std::string& a, const std::string& s) const
  {
    std::string out;
    for (const auto& [kind, text] : m_pieces) {
      out += kind == Piece::text ? text : kind == Piece::access ? a : s;
    }
    return out;
  }

  std::mt19937 m_rng;
  std::vector<std::pair<Piece, std::string>> m_pieces;
  std::string m_old_access;
  std::string m_old_secret;
};

// Line endings: one style per file or mixed; the last line may lack one.
struct Eols {
  explicit Eols(Doc& doc) : m_doc(doc), m_mixed(doc.chance(20)), m_crlf(doc.chance(40)) {}
  std::string next() { return (m_mixed ? m_doc.chance(50) : m_crlf) ? "\r\n" : "\n"; }

private:
  Doc& m_doc;
  bool m_mixed;
  bool m_crlf;
};

const std::vector<std::string> k_spaces = {"", " ", "  ", "\t", " \t "};

// Ends the document: with or without a final line ending.
void finish(Doc& doc, Eols& eols)
{
  if (doc.chance(70)) {
    doc.text(eols.next());
  }
}

std::string word(Doc& doc)
{
  return doc.one_of<std::string>({"alpha", "bucket_location", "host_base", "use_https", "x1",
                                  "signature_v2", "region", "output", "type", "endpoint"});
}

} // namespace

Generated generate_s3cmd(std::uint32_t seed)
{
  Doc doc(seed);
  std::string access = doc.value();
  std::string secret = doc.value();
  if (access.front() == '$') {
    access[0] = 'A';
  }
  doc.set_old(access, secret);
  Eols eols(doc);
  if (doc.chance(15)) {
    doc.text("\xEF\xBB\xBF[default]" + eols.next());
  }
  const int lines = 2 + doc.pick(12);
  const int access_at = doc.pick(lines);
  int secret_at = doc.pick(lines);
  if (secret_at == access_at) {
    secret_at = (secret_at + 1) % lines;
  }
  bool first = true;
  bool token = false; // s3cmd refuses a second access_token
  for (int i = 0; i < lines; ++i) {
    if (!first) {
      doc.text(eols.next());
    }
    first = false;
    if (i == access_at || i == secret_at) {
      const bool quoted = doc.chance(20);
      const std::string trail = quoted ? "" : doc.one_of(k_spaces);
      doc.text(doc.one_of<std::string>({"", " ", "\t"}) +
               (i == access_at ? "access_key" : "secret_key") + doc.one_of(k_spaces) + "=" +
               doc.one_of(k_spaces) + (quoted ? "\"" : ""));
      i == access_at ? doc.access() : doc.secret();
      doc.text((quoted ? "\"" : "") + trail);
      continue;
    }
    switch (doc.pick(6)) {
    case 0:
      doc.text("# comment " + word(doc));
      break;
    case 1:
      doc.text(doc.one_of(k_spaces));
      break;
    case 2:
      doc.text("[" + word(doc) + "]");
      break;
    case 3:
      if (!token) {
        doc.text("access_token = " + std::string(doc.chance(50) ? "" : "tok"));
        token = true;
      }
      break;
    default:
      doc.text(word(doc) + doc.one_of(k_spaces) + "=" + doc.one_of(k_spaces) + doc.value());
    }
  }
  finish(doc, eols);
  Generated g{doc.input(), doc.expected(), doc.old_access(), doc.old_secret(), {}};
  return g;
}

Generated generate_aws(std::uint32_t seed)
{
  Doc doc(seed);
  doc.set_old(doc.value(), doc.value());
  Eols eols(doc);
  const int sections = 1 + doc.pick(4);
  const int ours = doc.pick(sections);
  for (int s = 0; s < sections; ++s) {
    if (doc.chance(40)) {
      doc.text(doc.one_of<std::string>({"# ", "; ", "  # "}) + word(doc) + eols.next());
    }
    // Headers at column 0: an indented header after less-indented keys would be read as
    // a continuation of the last key.
    const std::string indent = doc.one_of<std::string>({"", "", "  ", "\t"});
    doc.text("[" + (s == ours ? std::string("ceph") : "p" + std::to_string(s)) + "]" + eols.next());
    std::vector<int> order = {0, 1, 2, 3};
    std::shuffle(order.begin(), order.end(), doc.rng());
    for (const int k : order) {
      if (k >= 2 && doc.chance(50)) {
        continue;
      }
      const std::string delim = doc.one_of<std::string>({"=", ":"});
      const std::string before = doc.one_of(k_spaces);
      const std::string after = doc.one_of(k_spaces);
      if (k == 0 || k == 1) {
        if (s != ours) {
          doc.text(indent + (k == 0 ? "aws_access_key_id" : "aws_secret_access_key") + before +
                   delim + after + doc.value() + eols.next());
          continue;
        }
        doc.text(
            indent +
            (k == 0 ? doc.one_of<std::string>({"aws_access_key_id", "AWS_ACCESS_KEY_ID"})
                    : doc.one_of<std::string>({"aws_secret_access_key", "Aws_Secret_Access_Key"})) +
            before + delim + after);
        k == 0 ? doc.access() : doc.secret();
        doc.text(doc.one_of(k_spaces) + eols.next());
      } else if (k == 2) {
        doc.text(indent + "region" + before + delim + after + word(doc) + eols.next());
      } else {
        doc.text(indent + "aws_session_token" + before + delim + after + doc.value() + eols.next());
      }
      if (doc.chance(20)) {
        doc.text(doc.chance(50) ? eols.next() : "# between" + eols.next());
      }
    }
  }
  if (doc.chance(30)) {
    doc.text("# trailing comment");
    finish(doc, eols);
  }
  Generated g{doc.input(), doc.expected(), doc.old_access(), doc.old_secret(), {}};
  return g;
}

Generated generate_rclone(std::uint32_t seed)
{
  Doc doc(seed);
  doc.set_old(doc.value(), doc.value());
  Eols eols(doc);
  if (doc.chance(15)) {
    doc.text("\xEF\xBB\xBF");
  }
  if (doc.chance(20)) {
    doc.text("top = level" + eols.next());
  }
  const int sections = 1 + doc.pick(4);
  const int ours = doc.pick(sections);
  for (int s = 0; s < sections; ++s) {
    doc.text(doc.one_of<std::string>({"", "  "}) + "[" + doc.one_of<std::string>({"", " "}) +
             (s == ours ? std::string("ceph") : "remote" + std::to_string(s)) + "]" + eols.next());
    std::vector<int> order = {0, 1, 2, 3};
    std::shuffle(order.begin(), order.end(), doc.rng());
    for (const int k : order) {
      const std::string lead = doc.one_of<std::string>({"", " ", "\t"});
      const std::string sep =
          doc.one_of(k_spaces) + doc.one_of<std::string>({"=", ":"}) + doc.one_of(k_spaces);
      if ((k == 0 || k == 1) && s == ours) {
        const int style = doc.pick(4);
        const std::string open = style == 1 ? "`" : style == 2 ? R"(""")" : "";
        doc.text(lead + (k == 0 ? "access_key_id" : "secret_access_key") + sep + open);
        k == 0 ? doc.access() : doc.secret();
        doc.text(open + (style == 1 && doc.chance(30) ? " ignored" : "") + doc.one_of(k_spaces) +
                 eols.next());
      } else if (k == 0 || k == 1) {
        doc.text(lead + (k == 0 ? "access_key_id" : "secret_access_key") + sep + doc.value() +
                 eols.next());
      } else if (k == 2) {
        doc.text(lead + "type" + sep + "s3" + eols.next());
      } else {
        doc.text(doc.one_of<std::string>({"# ", "; "}) + word(doc) + eols.next());
        doc.text(doc.chance(50) ? eols.next() : "");
      }
    }
  }
  Generated g{doc.input(), doc.expected(), doc.old_access(), doc.old_secret(), {}};
  return g;
}

Generated generate_s3fs(std::uint32_t seed)
{
  Doc doc(seed);
  doc.set_old(doc.value(), doc.value());
  Eols eols(doc);
  const bool default_line = doc.chance(50);
  const std::string bucket = default_line ? "" : "bucket" + std::to_string(doc.pick(3));
  const int lines = 1 + doc.pick(8);
  const int ours = doc.pick(lines);
  bool first = true;
  for (int i = 0; i < lines; ++i) {
    if (!first) {
      doc.text(eols.next());
    }
    first = false;
    const std::string lead = doc.one_of<std::string>({"", " ", "\t"});
    if (i == ours) {
      doc.text(lead + (default_line ? "" : bucket + ":"));
      doc.access();
      doc.text(":");
      doc.secret();
      doc.text(doc.one_of<std::string>({"", " ", "\t"}));
      continue;
    }
    switch (doc.pick(3)) {
    case 0:
      doc.text("#" + word(doc) + " with spaces");
      break;
    case 1:
      doc.text(lead);
      break;
    default:
      doc.text("other" + std::to_string(i) + ":A" + std::to_string(i) + ":S");
    }
  }
  finish(doc, eols);
  Generated g{doc.input(), doc.expected(), doc.old_access(), doc.old_secret(), bucket};
  return g;
}

Generated generate_envfile(std::uint32_t seed)
{
  Doc doc(seed);
  doc.set_old(doc.value(), doc.value());
  Eols eols(doc);
  const int lines = 2 + doc.pick(10);
  const int access_at = doc.pick(lines);
  int secret_at = doc.pick(lines);
  if (secret_at == access_at) {
    secret_at = (secret_at + 1) % lines;
  }
  bool first = true;
  for (int i = 0; i < lines; ++i) {
    if (!first) {
      doc.text(eols.next());
    }
    first = false;
    const std::string lead = doc.one_of<std::string>({"", " ", "\t"});
    if (i == access_at || i == secret_at) {
      const int style = doc.pick(3);
      const std::string quote = style == 1 ? "'" : style == 2 ? "\"" : "";
      doc.text(lead + (doc.chance(15) ? "export " : "") +
               (i == access_at ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY") +
               doc.one_of<std::string>({"", " "}) + "=" + doc.one_of<std::string>({"", " "}) +
               quote);
      i == access_at ? doc.access() : doc.secret();
      doc.text(quote + doc.one_of<std::string>({"", " ", "\t"}));
      continue;
    }
    switch (doc.pick(5)) {
    case 0:
      doc.text(doc.one_of<std::string>({"# ", "; ", "  #"}) + word(doc));
      break;
    case 1:
      doc.text(lead);
      break;
    case 2:
      doc.text("QUOTED='a b $c'");
      break;
    case 3:
      doc.text("DQ=\"x \\\" y\"");
      break;
    default:
      doc.text("VAR_" + std::to_string(i) + "=" + doc.value());
    }
  }
  finish(doc, eols);
  Generated g{doc.input(), doc.expected(), doc.old_access(), doc.old_secret(), {}};
  return g;
}

} // namespace credrotd::consumers::test
