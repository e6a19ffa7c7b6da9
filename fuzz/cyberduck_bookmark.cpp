// SPDX-License-Identifier: Apache-2.0
// Fuzzes cyberduck::read_bookmark() and render_bookmark() on arbitrary duck bookmarks (XML
// plists). Input: [<flags><url>\x1f]<bookmark>; flags unused. Without the first part the login
// is the bookmark's own host and port (so that most inputs get rewritten).
#include "consumer_properties.hpp"
#include "consumers/cyberduck.hpp"

using namespace credrotd;
using namespace credrotd::consumers;

namespace {

core::Result<cyberduck::Login> login_of(const fuzz::Parameters& p,
                                        const core::Result<cyberduck::Bookmark>& bookmark)
{
  if (p.given) {
    return cyberduck::parse_url(p.option);
  }
  cyberduck::Login login{"https", "s3.example.org", 443};
  if (bookmark) {
    login.host = bookmark->hostname;
    if (!bookmark->port.empty()) {
      return cyberduck::parse_url("https://" + bookmark->hostname + ":" + bookmark->port);
    }
  }
  return login;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
  const std::string_view input = fuzz::as_text(data, size);
  const auto p = fuzz::parameters(input);
  const Source source{"/fuzz/b.duck", p.text};
  const auto bookmark = cyberduck::read_bookmark(source);
  if (!bookmark) {
    fuzz::check_error(bookmark.error(), input);
  }
  const auto login = login_of(p, bookmark);
  if (!login) {
    return 0;
  }
  const auto first = cyberduck::render_bookmark(source, *login, fuzz::k_key_1.access);
  if (!first) {
    fuzz::check_error(first.error(), input);
    return 0;
  }
  fuzz::require(bookmark.has_value(),
                "render_bookmark() rewrote a bookmark read_bookmark() refuses");
  const Source written{"/fuzz/b.duck", fuzz::view(*first)};
  const auto after = cyberduck::read_bookmark(written);
  fuzz::require(after && after->username == fuzz::k_key_1.access,
                "the rewritten bookmark does not name the new access key");
  fuzz::require(after->hostname == bookmark->hostname && after->port == bookmark->port,
                "the rewrite changed the bookmark's host or port");
  // Only the Username value changed: what precedes it is kept byte for byte, and so is what
  // follows (the new file ends as the old one does after the value's </string> or <string/>).
  const std::string_view old_text = p.text;
  const std::string_view new_text = fuzz::view(*first);
  const std::string_view key = "<key>Username</key>";
  const std::size_t at = old_text.find(key);
  fuzz::require(at != std::string_view::npos &&
                    new_text.substr(0, at + key.size()) == old_text.substr(0, at + key.size()),
                "the rewrite changed bytes before the Username");
  const std::string_view new_tail = new_text.substr(new_text.find("</string>", at) + 9);
  fuzz::require(old_text.ends_with(new_tail), "the rewrite changed bytes after the Username");
  // A second rotation gives what rewriting the original with its key gives.
  const auto second = cyberduck::render_bookmark(written, *login, fuzz::k_key_2.access);
  const auto direct = cyberduck::render_bookmark(source, *login, fuzz::k_key_2.access);
  fuzz::require(second && direct && fuzz::view(*second) == fuzz::view(*direct),
                "rewriting twice differs from rewriting once");
  return 0;
}
