// SPDX-License-Identifier: Apache-2.0
// Tests of duck's credentials file (java.util.Properties) and bookmarks (XML plists).
#include "consumers/consumer.hpp"
#include "consumers/cyberduck.hpp"
#include "consumers/java_properties.hpp"
#include "support.hpp"

#include <catch2/catch.hpp>

using namespace credrotd::consumers;
using namespace credrotd::consumers::test;
using credrotd::core::Errc;
using credrotd::core::Secret;

namespace {

const std::string k_a = "11111111111111111111111111111111";
const std::string k_s = "22222222222222222222222222222222";
const std::string k_header = "#Credentials\n#Sun Dec 06 19:00:00 UTC 2026\n";
const std::string k_old_line = "https\\://OLDACCESS@s3.example.org\\:443=OLDSECRET\n";
const std::string k_new_line = "https\\://" + k_a + "@s3.example.org\\:443=" + k_s + "\n";
const std::string k_other = "sftp\\://alice@files.example.org\\:22=hunter2\n";

cyberduck::Login login()
{
  return *cyberduck::parse_url("https://s3.example.org");
}

std::string render(std::string_view content, cyberduck::OtherLogins others)
{
  const auto out = cyberduck::render({"/c", content}, login(), k_a, Secret(k_s), others);
  INFO(error_of(out));
  REQUIRE(out);
  return str(*out);
}

std::string bookmark(std::string_view user, std::string_view port = "443")
{
  return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
         "<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" "
         "\"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n"
         "<plist version=\"1.0\">\n<dict>\n"
         "\t<key>Protocol</key>\n\t<string>s3</string>\n"
         "\t<key>Nickname</key>\n\t<string>Ceph &amp; co</string>\n"
         "\t<key>UUID</key>\n\t<string>0f6c4c5e-4c5e-4c5e-8c5e-0f6c4c5e4c5e</string>\n"
         "\t<key>Hostname</key>\n\t<string>s3.example.org</string>\n"
         "\t<key>Port</key>\n\t<string>" +
         std::string(port) + "</string>\n\t<key>Username</key>\n\t<string>" + std::string(user) +
         "</string>\n</dict>\n</plist>\n";
}

} // namespace

TEST_CASE("java properties: keys, escapes, continuations and comments as Java reads them",
          "[consumers][cyberduck]")
{
  const std::string in = "# comment\n! also\n  a\\:b\\=c = v1\nkey2:v2\nk3 v3\n"
                         "k4=multi\\\n    line\nk5=\\u0041\\t\\\\\nk6\n\\#k7=x\n";
  const auto parsed = java_properties::parse({"/p", in});
  REQUIRE(parsed);
  std::vector<std::pair<std::string, std::string>> got;
  for (const auto& e : parsed->entries) {
    got.emplace_back(e.key, str(e.value));
  }
  CHECK(got == std::vector<std::pair<std::string, std::string>>{{"a:b=c", "v1"},
                                                                {"key2", "v2"},
                                                                {"k3", "v3"},
                                                                {"k4", "multiline"},
                                                                {"k5", "A\t\\"},
                                                                {"k6", ""},
                                                                {"#k7", "x"}});
  CHECK(parsed->entries[3].first_line == 5);
  CHECK(parsed->entries[3].last_line == 6);

  const auto bad = java_properties::parse({"/p", "ok=1\nk=\\u00G1\n"});
  REQUIRE_FALSE(bad);
  INFO(bad.error().message);
  CHECK(bad.error().message.find("/p:2:") == 0);
  CHECK_FALSE(java_properties::parse({"/p", "a=1\rb=2\n"}));

  CHECK(str(java_properties::store_line("https://A=@h:443", "S=/+ x")) ==
        "https\\://A\\=@h\\:443=S\\=/+ x");
}

TEST_CASE("java properties: a \\u escape is exactly four hex digits, as Java requires",
          "[consumers][cyberduck]")
{
  const auto e_acute = java_properties::parse({"/p", "k=caf\\u00e9\\u00E9\n"});
  REQUIRE(e_acute);
  CHECK(str(e_acute->entries[0].value) == "caf\u00e9\u00e9");
  for (const char* in : {"k=\\u-041\n", "k=\\u+041\n", "k=\\u00\n", "k=\\u00", "k=\\u0x41\n"}) {
    INFO(in);
    const auto bad = java_properties::parse({"/p", in});
    REQUIRE_FALSE(bad);
    CHECK(bad.error().message.find("malformed \\uXXXX escape") != std::string::npos);
  }
}

TEST_CASE("cyberduck: the login is found as UnsecureHostPasswordStore looks it up",
          "[consumers][cyberduck]")
{
  const std::string in = k_header + k_other + k_old_line;
  const auto key = cyberduck::read({"/c", in}, login(), std::nullopt);
  REQUIRE(key);
  REQUIRE(*key);
  CHECK((*key)->access_id == "OLDACCESS");
  CHECK((*key)->secret.reveal() == "OLDSECRET");
  CHECK((*key)->line == 4);
  // Another port or scheme is another login.
  CHECK_FALSE(*cyberduck::read({"/c", in}, *cyberduck::parse_url("https://s3.example.org:8443"),
                               std::nullopt));
  CHECK_FALSE(
      *cyberduck::read({"/c", in}, *cyberduck::parse_url("http://s3.example.org"), std::nullopt));
  // Two logins for the host: ambiguous without a user.
  const std::string two = in + "https\\://OTHER@s3.example.org\\:443=X\n";
  const auto ambiguous = cyberduck::read({"/c", two}, login(), std::nullopt);
  REQUIRE_FALSE(ambiguous);
  CHECK(ambiguous.error().message.find("lines 4, 5") != std::string::npos);
  CHECK(ambiguous.error().message.find("OLDSECRET") == std::string::npos);
  const auto by_user = cyberduck::read({"/c", two}, login(), "OTHER");
  REQUIRE(by_user);
  CHECK((*by_user)->secret.reveal() == "X");
}

TEST_CASE("cyberduck: the login line is replaced, every other byte kept", "[consumers][cyberduck]")
{
  const std::string in = k_header + k_other + k_old_line + "k=v\n";
  CHECK(render(in, cyberduck::OtherLogins::remove) == k_header + k_other + k_new_line + "k=v\n");
  CHECK(render(in, cyberduck::OtherLogins::keep) ==
        k_header + k_other + k_old_line + k_new_line + "k=v\n");
  // Keep, then remove: the old line goes, the new one stays where it was added.
  CHECK(render(render(in, cyberduck::OtherLogins::keep), cyberduck::OtherLogins::remove) ==
        k_header + k_other + k_new_line + "k=v\n");
  // No login yet: appended; an empty file gets the one line; CRLF and no final newline kept.
  CHECK(render(k_header, cyberduck::OtherLogins::remove) == k_header + k_new_line);
  CHECK(render("", cyberduck::OtherLogins::remove) == k_new_line);
  CHECK(render("a=b\r\nhttps\\://OLD@s3.example.org\\:443=S", cyberduck::OtherLogins::remove) ==
        "a=b\r\n" + k_new_line.substr(0, k_new_line.size() - 1));
  // A login written over two lines, and a repeated key, collapse into the one line.
  CHECK(render("https\\://OLD@s3.example.org\\:443=S\\\n  ECRET\n" + k_new_line + k_new_line,
               cyberduck::OtherLogins::keep) ==
        "https\\://OLD@s3.example.org\\:443=S\\\n  ECRET\n" + k_new_line);
}

TEST_CASE("cyberduck: url and bookmarks", "[consumers][cyberduck]")
{
  CHECK(cyberduck::parse_url("https://s3.example.org:8443/")->port == 8443);
  CHECK(cyberduck::parse_url("http://h")->port == 80);
  for (const auto* bad : {"s3.example.org", "https://", "https://a@b", "https://h:0",
                          "https://h:99999", "https://h/path", "ftp://h"}) {
    INFO(bad);
    CHECK_FALSE(cyberduck::parse_url(bad));
  }
  const std::string in = bookmark("OLDACCESS");
  const auto b = cyberduck::read_bookmark({"/b.duck", in});
  REQUIRE(b);
  CHECK(b->username == "OLDACCESS");
  CHECK(b->hostname == "s3.example.org");
  CHECK(b->username_line == 16);
  const auto out = cyberduck::render_bookmark({"/b.duck", in}, login(), k_a);
  REQUIRE(out);
  CHECK(str(*out) == bookmark(k_a));
  const std::string empty_user = bookmark("");
  CHECK(str(*cyberduck::render_bookmark({"/b.duck", empty_user}, login(), k_a)) == bookmark(k_a));
  std::string self_closing = empty_user;
  self_closing.replace(self_closing.rfind("<string></string>"), 17, "<string/>");
  CHECK(str(*cyberduck::render_bookmark({"/b.duck", self_closing}, login(), k_a)) == bookmark(k_a));

  const auto other_port =
      cyberduck::render_bookmark({"/b.duck", bookmark("X", "8443")}, login(), k_a);
  REQUIRE_FALSE(other_port);
  CHECK(other_port.error().code == Errc::config);
  CHECK_FALSE(cyberduck::read_bookmark({"/b.duck", "bplist00\x01"}));
  CHECK_FALSE(cyberduck::read_bookmark({"/b.duck", in + in}));
}

TEST_CASE("cyberduck: apply rewrites the credentials file and the bookmarks",
          "[consumers][cyberduck]")
{
  ScratchDir dir;
  make_dir(dir / "bookmarks", 0700);
  write_file(dir / "credentials", k_header + k_other + k_old_line, 0600);
  write_file(dir / "bookmarks/a.duck", bookmark("OLDACCESS"), 0644);
  write_file(dir / "bookmarks/b.duck", bookmark("OLDACCESS"), 0644);
  ConsumerSpec spec;
  spec.type = ConsumerType::cyberduck;
  spec.path = dir / "credentials";
  spec.url = "https://s3.example.org";
  spec.bookmarks = {dir / "bookmarks/a.duck", dir / "bookmarks/b.duck"};
  REQUIRE(check_spec(spec));

  const auto before = read_key(spec);
  REQUIRE(before);
  REQUIRE(*before);
  CHECK((*before)->access_id == "OLDACCESS");

  const auto report = apply(spec, k_a, Secret(k_s));
  INFO(error_of(report));
  REQUIRE(report);
  CHECK(report->changed);
  CHECK(read_file(dir / "credentials") == k_header + k_other + k_new_line);
  CHECK(read_file(dir / "bookmarks/a.duck") == bookmark(k_a));
  CHECK(read_file(dir / "bookmarks/b.duck") == bookmark(k_a));
  CHECK((lstat_path(dir / "bookmarks/a.duck").st_mode & 07777) == 0644);
  const auto after = read_key(spec);
  REQUIRE(after);
  CHECK((*after)->access_id == k_a);
  CHECK((*after)->secret.reveal() == k_s);
  // Again: nothing changes.
  const auto again = apply(spec, k_a, Secret(k_s));
  REQUIRE(again);
  CHECK_FALSE(again->changed);

  // A bookmark for another host: nothing is written.
  write_file(dir / "bookmarks/b.duck", bookmark("OLDACCESS", "8443"), 0644);
  const auto refused = apply(spec, "33333333333333333333333333333333", Secret(k_s));
  REQUIRE_FALSE(refused);
  CHECK(refused.error().message.find("b.duck") != std::string::npos);
  CHECK(read_file(dir / "credentials") == k_header + k_other + k_new_line);

  // Missing url, relative bookmark.
  spec.url = "";
  CHECK_FALSE(check_spec(spec));
  spec.url = "https://s3.example.org";
  spec.bookmarks = {"bookmarks/a.duck"};
  CHECK_FALSE(check_spec(spec));
}

TEST_CASE("cyberduck: without bookmarks, the only login is replaced and a new file created",
          "[consumers][cyberduck]")
{
  ScratchDir dir;
  ConsumerSpec spec;
  spec.type = ConsumerType::cyberduck;
  spec.path = dir / "credentials";
  spec.url = "https://s3.example.org";
  const auto none = read_key(spec);
  REQUIRE(none);
  CHECK_FALSE(*none);
  REQUIRE(apply(spec, k_a, Secret(k_s)));
  CHECK(read_file(dir / "credentials") == k_new_line);
  CHECK((lstat_path(dir / "credentials").st_mode & 07777) == 0600);
}

TEST_CASE("cyberduck: a file ending in a continuation is refused where the login would be added",
          "[consumers][cyberduck]")
{
  // Found by fuzz/cyberduck_credentials.cpp: Java joins a line added after a final backslash to
  // the entry it ends (java.util.Properties reads "x=va\\\nhttps\\://A@..." as x =
  // "vahttps://A@..."), so duck would find no login; credrotd's read-back check refused it as an
  // internal error.
  // The file ends in another entry, or in the login (kept beside the new one).
  const std::string old_continued = k_old_line.substr(0, k_old_line.size() - 1) + "\\";
  for (const std::string& end : {std::string("x=va\\"), std::string("x=va\\\n"), old_continued}) {
    INFO(end);
    const auto out = cyberduck::render({"/c", k_header + end}, login(), k_a, Secret(k_s),
                                       cyberduck::OtherLogins::keep);
    REQUIRE_FALSE(out);
    CHECK(out.error().code == Errc::parse);
    CHECK_THAT(out.error().message, Catch::Contains("ends in a backslash"));
  }
  // An even number of backslashes is an escaped one; a replaced login is not an added one.
  CHECK(render(k_header + "x=va\\\\", cyberduck::OtherLogins::keep) ==
        k_header + "x=va\\\\\n" + k_new_line.substr(0, k_new_line.size() - 1));
  CHECK(render(k_header + k_old_line + "x=va\\", cyberduck::OtherLogins::remove) ==
        k_header + k_new_line + "x=va\\");
}

TEST_CASE("cyberduck: a kept login with an empty password is refused with its line",
          "[consumers][cyberduck]")
{
  // Found by fuzz/cyberduck_credentials.cpp: the first step of a rewrite with bookmarks kept the
  // login, then its own check refused the file as an internal error.
  const std::string in = k_header + "https\\://A1@s3.example.org\\:443=\n";
  const auto kept =
      cyberduck::render({"/c", in}, login(), k_a, Secret(k_s), cyberduck::OtherLogins::keep);
  REQUIRE_FALSE(kept);
  CHECK(kept.error().code == Errc::parse);
  CHECK_THAT(kept.error().message, Catch::StartsWith("/c:3:") && Catch::Contains("empty password"));
  // Replacing the logins removes it.
  CHECK(render(in, cyberduck::OtherLogins::remove) == k_header + k_new_line);
}

TEST_CASE("cyberduck: adjacent logins removed at the end of a file without a final newline",
          "[consumers][cyberduck]")
{
  // Found by fuzz/cyberduck_credentials.cpp: each removed line was an edit of its own, and the
  // last one (taking the previous line's newline, as the file has no final one) overlapped the
  // one before: an exception instead of a rewrite.
  const std::string a = "https\\://A@s3.example.org\\:443=1";
  const std::string b = "https\\://B@s3.example.org\\:443=2";
  const std::string c = "https\\://C@s3.example.org\\:443=3";
  const std::string new_line = k_new_line.substr(0, k_new_line.size() - 1);
  CHECK(render("h=1\n" + a + "\n" + b + "\n" + c, cyberduck::OtherLogins::remove) ==
        "h=1\n" + new_line);
  CHECK(render(a + "\n" + b + "\n# c\n" + c, cyberduck::OtherLogins::remove) == new_line + "\n# c");
  // The new login, added by the first step, then the others removed by the second.
  const std::string kept = render(a + "\n" + b, cyberduck::OtherLogins::keep);
  CHECK(kept == a + "\n" + b + "\n" + new_line);
  CHECK(render("h=1\n" + b + "\n" + c + "\n" + kept, cyberduck::OtherLogins::remove) ==
        "h=1\n" + new_line);
}
