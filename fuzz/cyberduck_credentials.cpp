// SPDX-License-Identifier: Apache-2.0
// Fuzzes duck's password store: java_properties::parse(), cyberduck::read() and render() on
// arbitrary ~/.duck/credentials files, and java_properties::store_line() read back.
// Input: [<flags><url>\x1f]<file>; flags bit 0: the two-step rewrite of a consumer with
// bookmarks (the new login beside the others, then the others removed) instead of the one-step
// one. Without the first part: url "https://s3.example.org", one step.
#include "consumer_properties.hpp"
#include "consumers/cyberduck.hpp"
#include "consumers/java_properties.hpp"

#include <algorithm>

using namespace credrotd;
using namespace credrotd::consumers;

namespace {

bool printable_ascii(std::string_view s)
{
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c < 0x7F; });
}

// store_line() writes what parse() reads back as the same key and value (printable ASCII is
// all it is given: URLs, access ids and secrets).
void check_store_line(std::string_view key, std::string_view value)
{
  if (key.empty() || !printable_ascii(key) || !printable_ascii(value)) {
    return;
  }
  const Content line = java_properties::store_line(key, value);
  const auto parsed = java_properties::parse(Source{"/fuzz/line", fuzz::view(line)});
  fuzz::require(parsed.has_value(), "a line store_line() wrote does not parse");
  fuzz::require(parsed->entries.size() == 1 && parsed->entries[0].key == key &&
                    fuzz::view(parsed->entries[0].value) == value,
                "a line store_line() wrote reads back as another key or value");
}

// The two-step rewrite: after the first step duck finds the new login by its user and every
// other login still has its password; after the second, the new login is the only one.
void check_two_steps(std::string_view input, std::string_view text, const cyberduck::Login& login)
{
  const Source source{"/fuzz/file", text};
  const auto before = cyberduck::logins(source, login);
  const core::Secret secret(fuzz::k_key_1.secret);
  const auto first =
      cyberduck::render(source, login, fuzz::k_key_1.access, secret, cyberduck::OtherLogins::keep);
  if (!first) {
    fuzz::check_error(first.error(), input);
    return;
  }
  fuzz::require(before.has_value(), "render() accepted a file logins() refuses");
  const Source kept{"/fuzz/file", fuzz::view(*first)};
  fuzz::require(fuzz::holds(cyberduck::read(kept, login, fuzz::k_key_1.access), fuzz::k_key_1),
                "after the first step duck does not find the new login");
  const auto during = cyberduck::logins(kept, login);
  fuzz::require(during.has_value(), "the first step wrote a file logins() refuses");
  for (const FoundKey& old : *before) {
    if (old.access_id == fuzz::k_key_1.access) {
      continue;
    }
    const auto still = cyberduck::read(kept, login, old.access_id);
    fuzz::require(still && *still && (*still)->secret == old.secret,
                  "the first step lost another login's password");
  }
  const auto second =
      cyberduck::render(kept, login, fuzz::k_key_1.access, secret, cyberduck::OtherLogins::remove);
  fuzz::require(second.has_value(), "the second step failed after the first one passed");
  fuzz::require(
      fuzz::holds(cyberduck::read(Source{"/fuzz/file", fuzz::view(*second)}, login, std::nullopt),
                  fuzz::k_key_1),
      "after the second step the new login is not the only one");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
  const std::string_view input = fuzz::as_text(data, size);
  const auto p = fuzz::parameters(input);
  check_store_line(p.option, p.text.substr(0, 64));
  const auto login = cyberduck::parse_url(p.given ? p.option : "https://s3.example.org");
  if (!login) {
    fuzz::check_error(login.error(), input);
    (void)java_properties::parse(Source{"/fuzz/file", p.text});
    return 0;
  }
  // The URL a login's key is built from must give back that login's key.
  fuzz::require(cyberduck::property_key(*login, "u") ==
                    login->scheme + "://u@" + login->host + ":" + std::to_string(login->port),
                "property_key() is not scheme://user@host:port");
  if ((p.flags & 1) != 0) {
    check_two_steps(input, p.text, *login);
    return 0;
  }
  fuzz::check_format(
      input, p.text,
      [&](const Source& source) { return cyberduck::read(source, *login, std::nullopt); },
      [&](const Source& source, std::string_view access, const core::Secret& secret) {
        return cyberduck::render(source, *login, access, secret, cyberduck::OtherLogins::remove);
      });
  return 0;
}
