// SPDX-License-Identifier: Apache-2.0
// s3fs password files, tokenized as s3fs 1.90's parse_passwd_file(): lines split at LF and
// trimmed of " \t\r\n"; blank and '#' lines skipped; a space or tab left inside, or a leading
// '[', is fatal; "key=value" lines fill a map (first one wins); every line with ':' is split
// at its first and last ':' into [bucket:]access:secret, and two entries for one bucket are
// fatal.
#include "consumers/s3fs.hpp"

#include <fmt/format.h>

#include <map>

namespace credrotd::consumers::s3fs {

namespace {

constexpr std::string_view k_trim = " \t\r\n";
constexpr std::string_view k_kv_access = "AWSAccessKeyId";
constexpr std::string_view k_kv_secret = "AWSSecretKey";

struct Range {
  std::size_t begin = 0;
  std::size_t end = 0;
};

Range trim(std::string_view t, Range r)
{
  while (r.begin < r.end && k_trim.find(t[r.begin]) != std::string_view::npos) {
    ++r.begin;
  }
  while (r.end > r.begin && k_trim.find(t[r.end - 1]) != std::string_view::npos) {
    --r.end;
  }
  return r;
}

struct Entry {
  std::size_t line = 0; // index into lines
  Range bucket;
  Range access;
  Range secret;
};

struct KeyValue {
  std::size_t line = 0;
  Range value;
};

struct Parsed {
  std::vector<text::Line> lines;
  std::map<std::string, Entry> entries; // by bucket; "" = the default line
  std::map<std::string, KeyValue> keyvalues;
};

core::Result<Parsed> parse(const Source& source)
{
  const std::string_view t = source.text;
  if (t.starts_with(text::k_bom)) {
    return text::parse_error(source, 0,
                             "the file starts with a byte order mark, which s3fs would read as "
                             "part of the first access key; remove the first 3 bytes");
  }
  Parsed parsed;
  parsed.lines = text::split_lines(t);
  std::vector<std::pair<std::size_t, Range>> kept;
  for (std::size_t i = 0; i < parsed.lines.size(); ++i) {
    const text::Line& line = parsed.lines[i];
    // s3fs's getline() splits at LF only; the CR of CRLF is trimmed with the blanks.
    const Range r = trim(t, {line.begin, line.end});
    if (r.begin == r.end || t[r.begin] == '#') {
      continue;
    }
    const std::string_view l = t.substr(r.begin, r.end - r.begin);
    if (const std::size_t ws = l.find_first_of(" \t"); ws != std::string_view::npos) {
      return text::parse_error(source, r.begin + ws,
                               "a space or tab inside a line; s3fs refuses the whole file "
                               "(invalid line in passwd file, found whitespace character)");
    }
    if (l.front() == '[') {
      return text::parse_error(source, r.begin,
                               "a line starting with '['; s3fs refuses the whole file (invalid "
                               "line in passwd file, found a bracket)");
    }
    kept.emplace_back(i, r);
  }
  for (const auto& [i, r] : kept) {
    const std::string_view l = t.substr(r.begin, r.end - r.begin);
    if (const std::size_t eq = l.find('='); eq != std::string_view::npos) {
      const Range key = trim(t, {r.begin, r.begin + eq});
      if (key.begin != key.end) {
        // s3fs warns about a repeated key and keeps the first.
        parsed.keyvalues.try_emplace(std::string(t.substr(key.begin, key.end - key.begin)),
                                     KeyValue{i, trim(t, {r.begin + eq + 1, r.end})});
      }
    }
  }
  for (const auto& [i, r] : kept) {
    const std::string_view l = t.substr(r.begin, r.end - r.begin);
    const std::size_t first = l.find(':');
    if (first == std::string_view::npos) {
      continue;
    }
    const std::size_t last = l.rfind(':');
    Entry e;
    e.line = i;
    if (first != last) {
      e.bucket = trim(t, {r.begin, r.begin + first});
      e.access = trim(t, {r.begin + first + 1, r.begin + last});
    } else {
      e.bucket = {r.begin, r.begin};
      e.access = trim(t, {r.begin, r.begin + first});
    }
    e.secret = trim(t, {r.begin + last + 1, r.end});
    std::string bucket(t.substr(e.bucket.begin, e.bucket.end - e.bucket.begin));
    if (const auto it = parsed.entries.find(bucket); it != parsed.entries.end()) {
      return text::parse_error(
          source, r.begin,
          fmt::format("a second entry for {} (first on line {}); s3fs refuses the whole file: "
                      "keep only one",
                      bucket.empty() ? "the default (no bucket)" : "bucket " + bucket,
                      parsed.lines[it->second.line].number));
    }
    parsed.entries.emplace(std::move(bucket), e);
  }
  return parsed;
}

// What s3fs reads for a bucket: the key=value pair when present, else the bucket's own
// entry, else the default entry.
struct Effective {
  const KeyValue* kv_access = nullptr;
  const KeyValue* kv_secret = nullptr;
  const Entry* entry = nullptr;
};

core::Result<Effective> effective(const Source& source, const Parsed& parsed,
                                  std::string_view bucket)
{
  Effective e;
  if (const auto it = parsed.keyvalues.find(std::string(k_kv_access));
      it != parsed.keyvalues.end()) {
    e.kv_access = &it->second;
  }
  if (const auto it = parsed.keyvalues.find(std::string(k_kv_secret));
      it != parsed.keyvalues.end()) {
    e.kv_secret = &it->second;
  }
  if ((e.kv_access == nullptr) != (e.kv_secret == nullptr)) {
    const KeyValue* kv = e.kv_access != nullptr ? e.kv_access : e.kv_secret;
    return text::parse_error(source, parsed.lines[kv->line].begin,
                             "AWSAccessKeyId= and AWSSecretKey= must come together; s3fs "
                             "refuses the file with only one of them");
  }
  if (e.kv_access != nullptr) {
    return e;
  }
  if (const auto it = parsed.entries.find(std::string(bucket)); it != parsed.entries.end()) {
    e.entry = &it->second;
  } else if (const auto def = parsed.entries.find(""); def != parsed.entries.end()) {
    e.entry = &def->second;
  }
  return e;
}

FoundValue value_of(const Source& source, Range r)
{
  return found_value(source, r.begin, r.end, r.begin);
}

core::Result<std::optional<FoundKey>> read_parsed(const Source& source, const Parsed& parsed,
                                                  std::string_view bucket)
{
  CREDROTD_TRY_ASSIGN(const Effective e, effective(source, parsed, bucket));
  if (e.kv_access != nullptr) {
    return make_found_key(source, value_of(source, e.kv_access->value),
                          value_of(source, e.kv_secret->value), k_kv_access, k_kv_secret);
  }
  if (e.entry == nullptr) {
    return std::optional<FoundKey>{};
  }
  return make_found_key(source, value_of(source, e.entry->access),
                        value_of(source, e.entry->secret), "the access key", "the secret");
}

Content line_for(std::string_view bucket, std::string_view access_id, std::string_view secret)
{
  if (bucket.empty()) {
    return text::concat({access_id, ":", secret});
  }
  return text::concat({bucket, ":", access_id, ":", secret});
}

} // namespace

std::uint32_t forbidden_mode_bits(std::string_view path)
{
  // s3fs refuses any other bit, any group bit (but group read on /etc/passwd-s3fs) and the
  // owner's execute bit.
  return path == "/etc/passwd-s3fs" ? 0137U : 0177U;
}

core::Status check_bucket_name(std::string_view bucket)
{
  for (const char c : bucket) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7F || c == ':' || c == '=') {
      return core::make_error(core::Errc::config,
                              "bucket contains a space, a control character, ':' or '=', which "
                              "an s3fs passwd line cannot hold");
    }
  }
  if (!bucket.empty() && (bucket.front() == '#' || bucket.front() == '[')) {
    return core::make_error(core::Errc::config,
                            "bucket starts with '#' or '[', which s3fs reads as a comment or "
                            "rejects");
  }
  if (bucket.starts_with(text::k_bom)) {
    // A file starting with it is refused (see parse()): create() would write one.
    return core::make_error(core::Errc::config, "bucket starts with a byte order mark");
  }
  return {};
}

core::Result<std::optional<FoundKey>> read(const Source& source, const Options& options)
{
  CREDROTD_TRY(check_bucket_name(options.bucket));
  CREDROTD_TRY_ASSIGN(const Parsed parsed, parse(source));
  return read_parsed(source, parsed, options.bucket);
}

core::Result<Content> create(const Options& options, std::string_view access_id,
                             const core::Secret& secret)
{
  CREDROTD_TRY(check_bucket_name(options.bucket));
  CREDROTD_TRY(text::check_new_key(access_id, secret));
  Content out = line_for(options.bucket, access_id, secret.reveal());
  out += '\n';
  return out;
}

core::Result<Content> render(const Source& source, const Options& options,
                             std::string_view access_id, const core::Secret& secret)
{
  CREDROTD_TRY(check_bucket_name(options.bucket));
  CREDROTD_TRY(text::check_new_key(access_id, secret));
  CREDROTD_TRY_ASSIGN(const Parsed parsed, parse(source));
  CREDROTD_TRY_ASSIGN(const Effective e, effective(source, parsed, options.bucket));
  const std::string_view t = source.text;
  std::vector<text::Edit> edits;
  if (e.kv_access != nullptr) {
    if (!options.bucket.empty()) {
      return text::parse_error(source, parsed.lines[e.kv_access->line].begin,
                               fmt::format("AWSAccessKeyId=/AWSSecretKey= lines give s3fs the key "
                                           "for every bucket, so a line for bucket {} would be "
                                           "ignored: remove them, or rotate the default key (no "
                                           "bucket)",
                                           options.bucket));
    }
    const Range a = e.kv_access->value;
    const Range s = e.kv_secret->value;
    edits.push_back({a.begin, a.end - a.begin, Content(access_id)});
    edits.push_back({s.begin, s.end - s.begin, Content(secret.reveal())});
  } else if (const auto it = parsed.entries.find(options.bucket); it != parsed.entries.end()) {
    const Entry& entry = it->second;
    edits.push_back(
        {entry.access.begin, entry.access.end - entry.access.begin, Content(access_id)});
    edits.push_back(
        {entry.secret.begin, entry.secret.end - entry.secret.begin, Content(secret.reveal())});
  } else {
    text::append_lines(t, parsed.lines, {line_for(options.bucket, access_id, secret.reveal())},
                       edits);
  }
  return read_back(source, text::apply_edits(t, std::move(edits)),
                   "the rewritten file would not give s3fs the new key; nothing written",
                   [&](const Source& written) -> core::Result<bool> {
                     CREDROTD_TRY_ASSIGN(const Parsed check, parse(written));
                     return is_key(read_parsed(written, check, options.bucket), access_id, secret);
                   });
}

} // namespace credrotd::consumers::s3fs
