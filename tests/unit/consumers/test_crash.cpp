// SPDX-License-Identifier: Apache-2.0
// Crash and race tests through the writer's crash points (builds with
// CREDROTD_FAULT_INJECTION): a child process is killed at each point, and the file must be
// the old one or the new one, with the next run removing what the crash left behind. The
// same points let a test swap the file for a symbolic link at the worst moment.
#include "consumers/consumer.hpp"
#include "consumers/crash_point.hpp"
#include "consumers/cyberduck.hpp"
#include "support.hpp"

#include <catch2/catch.hpp>

#include <functional>
#include <sys/wait.h>
#include <unistd.h>

#ifdef CREDROTD_FAULT_INJECTION

using namespace credrotd::consumers;
using namespace credrotd::consumers::test;
using credrotd::core::Errc;
using credrotd::core::Secret;

namespace {

std::function<void(std::string_view)> g_hook;

const std::string k_a = "11111111111111111111111111111111";
const std::string k_s = "22222222222222222222222222222222";
const std::string k_old = "[default]\naccess_key = OLDACCESS0000000000000000000000\n"
                          "secret_key = OLDSECRET0000000000000000000000\n";
const std::string k_new = "[default]\naccess_key = " + k_a + "\nsecret_key = " + k_s + "\n";

ConsumerSpec s3cfg(std::string path, bool in_place = false)
{
  ConsumerSpec spec;
  spec.type = ConsumerType::s3cmd;
  spec.path = std::move(path);
  spec.in_place = in_place;
  return spec;
}

// Runs apply() in a child process that dies at `point`; true when it did.
bool crash_at(const ConsumerSpec& spec, std::string_view point)
{
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    g_hook = [point](std::string_view name) {
      if (name == point) {
        ::_exit(42);
      }
    };
    static_cast<void>(apply(spec, k_a, Secret(k_s)));
    ::_exit(0);
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  return WIFEXITED(status) && WEXITSTATUS(status) == 42;
}

} // namespace

namespace credrotd::consumers {
// The strong definition that replaces the library's weak no-op in this test program.
void crash_point(std::string_view name)
{
  if (g_hook) {
    g_hook(name);
  }
}
} // namespace credrotd::consumers

TEST_CASE("crash: a rewrite passes its crash points in order", "[consumers][crash]")
{
  ScratchDir dir;
  write_file(dir / "s3cfg", k_old, 0600);
  std::vector<std::string> seen;
  g_hook = [&](std::string_view name) { seen.emplace_back(name); };
  REQUIRE(apply(s3cfg(dir / "s3cfg"), k_a, Secret(k_s)));
  CHECK(seen == std::vector<std::string>{std::string(k_crash_temp_created),
                                         std::string(k_crash_temp_synced),
                                         std::string(k_crash_checked), std::string(k_crash_renamed),
                                         std::string(k_crash_dir_synced)});
  seen.clear();
  write_file(dir / "s3cfg", k_old, 0600);
  REQUIRE(apply(s3cfg(dir / "s3cfg", true), k_a, Secret(k_s)));
  CHECK(seen == std::vector<std::string>{std::string(k_crash_in_place_written)});
  g_hook = nullptr;
}

TEST_CASE("crash: a crash anywhere leaves the old or the new file, and the next run cleans up",
          "[consumers][crash]")
{
  struct Case {
    std::string_view point;
    bool renamed; // the new content is in place
  };
  for (const Case c : {Case{k_crash_temp_created, false}, Case{k_crash_temp_synced, false},
                       Case{k_crash_checked, false}, Case{k_crash_renamed, true},
                       Case{k_crash_dir_synced, true}}) {
    INFO("crash point " << c.point);
    ScratchDir dir;
    write_file(dir / "s3cfg", k_old, 0640);
    REQUIRE(crash_at(s3cfg(dir / "s3cfg"), c.point));
    CHECK(read_file(dir / "s3cfg") == (c.renamed ? k_new : k_old));
    CHECK(temp_files(dir.path()).size() == (c.renamed ? 0U : 1U));
    // The next run: removes the stray temp file and completes the rewrite.
    const auto report = apply(s3cfg(dir / "s3cfg"), k_a, Secret(k_s));
    REQUIRE(report);
    CHECK(report->stray_temp_files_removed == (c.renamed ? 0U : 1U));
    CHECK(read_file(dir / "s3cfg") == k_new);
    CHECK((lstat_path(dir / "s3cfg").st_mode & 07777) == 0640);
    CHECK(temp_files(dir.path()).empty());
  }
}

TEST_CASE("crash: in place, a crash after the write leaves the new bytes over the old ones",
          "[consumers][crash]")
{
  ScratchDir dir;
  write_file(dir / "s3cfg", k_old, 0600);
  REQUIRE(crash_at(s3cfg(dir / "s3cfg", true), k_crash_in_place_written));
  // Keys of the same length: the file is already complete (only truncate and fsync were
  // left). With keys of different lengths it would be torn: in-place mode is opt-in.
  CHECK(read_file(dir / "s3cfg") == k_new);
  CHECK(temp_files(dir.path()).empty());
}

// A home directory owned by nobody whose .s3cfg holds k_old, and a root-only file next to it;
// at the writer's crash point `point`, .s3cfg is replaced by a link to that file, as a user
// racing credrotd could do.
struct LinkRace {
  std::string home;
  std::string victim;

  LinkRace(const ScratchDir& dir, std::string_view point)
      : home(dir / "home"), victim(dir / "shadow")
  {
    make_dir(home, 0700);
    chown_path(home, nobody_uid(), nogroup_gid());
    write_file(home + "/.s3cfg", k_old, 0600);
    chown_path(home + "/.s3cfg", nobody_uid(), nogroup_gid());
    write_file(victim, "root:secret\n", 0600);
    g_hook = [this, point](std::string_view name) {
      if (name == point) {
        ::unlink((home + "/.s3cfg").c_str());
        REQUIRE(::symlink(victim.c_str(), (home + "/.s3cfg").c_str()) == 0);
        chown_path(home + "/.s3cfg", nobody_uid(), nogroup_gid());
      }
    };
  }
  LinkRace(const LinkRace&) = delete;
  LinkRace& operator=(const LinkRace&) = delete;
  ~LinkRace() { g_hook = nullptr; }
};

TEST_CASE("attack: a link swapped in after the check is replaced, not followed",
          "[consumers][crash][attack]")
{
  require_root();
  ScratchDir dir;
  const LinkRace race(dir, k_crash_checked);
  const std::string& home = race.home;
  const std::string& victim = race.victim;
  const auto report = apply(s3cfg(home + "/.s3cfg"), k_a, Secret(k_s));
  g_hook = nullptr;
  REQUIRE(report);
  CHECK(read_file(victim) == "root:secret\n");
  CHECK(S_ISREG(lstat_path(home + "/.s3cfg").st_mode));
  CHECK(lstat_path(home + "/.s3cfg").st_uid == nobody_uid());
  CHECK(read_file(home + "/.s3cfg") == k_new);
  CHECK(temp_files(home).empty());
}

TEST_CASE("attack: a file swapped for a link while it is rewritten is detected",
          "[consumers][crash][attack]")
{
  require_root();
  ScratchDir dir;
  const LinkRace race(dir, k_crash_temp_synced);
  const std::string& home = race.home;
  const std::string& victim = race.victim;
  const auto report = apply(s3cfg(home + "/.s3cfg"), k_a, Secret(k_s));
  g_hook = nullptr;
  REQUIRE_FALSE(report);
  CHECK(report.error().code == Errc::transient);
  CHECK(read_file(victim) == "root:secret\n");
  CHECK(S_ISLNK(lstat_path(home + "/.s3cfg").st_mode));
  CHECK(temp_files(home).empty());
}

TEST_CASE("crash: cyberduck, a crash between the files leaves bookmarks whose login works",
          "[consumers][crash][cyberduck]")
{
  const std::string old_line = "https\\://OLDACCESS@s3.example.org\\:443=OLDSECRET\n";
  const auto bookmark = [](std::string_view user) {
    return "<plist version=\"1.0\">\n<dict>\n\t<key>Hostname</key>\n\t<string>s3.example.org"
           "</string>\n\t<key>Username</key>\n\t<string>" +
           std::string(user) + "</string>\n</dict>\n</plist>\n";
  };
  // The writes: credentials (old + new login), bookmark a, bookmark b, credentials (new only).
  for (int crash_after = 1; crash_after <= 4; ++crash_after) {
    INFO("crash after write " << crash_after);
    ScratchDir dir;
    write_file(dir / "credentials", old_line, 0600);
    write_file(dir / "a.duck", bookmark("OLDACCESS"), 0600);
    write_file(dir / "b.duck", bookmark("OLDACCESS"), 0600);
    ConsumerSpec spec;
    spec.type = ConsumerType::cyberduck;
    spec.path = dir / "credentials";
    spec.url = "https://s3.example.org";
    spec.bookmarks = {dir / "a.duck", dir / "b.duck"};
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      int writes = 0;
      g_hook = [&writes, crash_after](std::string_view name) {
        if (name == k_crash_dir_synced && ++writes == crash_after) {
          ::_exit(42);
        }
      };
      static_cast<void>(apply(spec, k_a, Secret(k_s)));
      ::_exit(0);
    }
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    REQUIRE((WIFEXITED(status) && WEXITSTATUS(status) == 42));
    // Every bookmark names a login that has its password.
    const std::string credentials = read_file(dir / "credentials");
    const auto login = *cyberduck::parse_url(spec.url);
    for (const auto& path : spec.bookmarks) {
      const std::string b = read_file(path);
      const auto parsed = cyberduck::read_bookmark({path, b});
      REQUIRE(parsed);
      const auto key = cyberduck::read({spec.path, credentials}, login, parsed->username);
      REQUIRE(key);
      REQUIRE(*key);
      CHECK((*key)->secret.reveal() == (parsed->username == k_a ? k_s : "OLDSECRET"));
    }
    // The next run completes the rotation.
    REQUIRE(apply(spec, k_a, Secret(k_s)));
    CHECK(read_file(dir / "credentials") ==
          "https\\://" + k_a + "@s3.example.org\\:443=" + k_s + "\n");
    CHECK(read_file(dir / "b.duck") == bookmark(k_a));
  }
}

#endif // CREDROTD_FAULT_INJECTION (without it the crash points compile to nothing)
