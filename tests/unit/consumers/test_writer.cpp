// SPDX-License-Identifier: Apache-2.0
// Tests of the atomic writer: metadata kept, stray temp files cleaned, the symlink/hardlink
// policy against real attacks, and faults (read-only directory and file system, full disk,
// permission denied). These run as root: they hand files to nobody and mount tmpfs.
#include "consumers/consumer.hpp"
#include "consumers/writer.hpp"
#include "support.hpp"

#include <catch2/catch.hpp>

#include <array>
#include <fcntl.h>
#include <sys/fsuid.h>
#include <sys/mount.h>
#include <sys/xattr.h>
#include <unistd.h>

using namespace credrotd::consumers;
using namespace credrotd::consumers::test;
using credrotd::core::Errc;
using credrotd::core::Secret;

namespace {

const std::string k_a = "11111111111111111111111111111111";
const std::string k_s = "22222222222222222222222222222222";
const std::string k_old = "[default]\naccess_key = OLDACCESS\nsecret_key = OLDSECRET\n";
const std::string k_new = "[default]\naccess_key = " + k_a + "\nsecret_key = " + k_s + "\n";

ConsumerSpec s3cfg(std::string path)
{
  ConsumerSpec spec;
  spec.type = ConsumerType::s3cmd;
  spec.path = std::move(path);
  return spec;
}

credrotd::core::Result<WriteReport> apply_new(const ConsumerSpec& spec)
{
  return apply(spec, k_a, Secret(k_s));
}

// A user's home: <scratch>/home owned by nobody:nogroup, mode 0700, with the file in it.
std::string make_home(const ScratchDir& dir, std::string_view content = k_old)
{
  const std::string home = dir / "home";
  make_dir(home, 0700);
  chown_path(home, nobody_uid(), nogroup_gid());
  write_file(home + "/.s3cfg", content, 0600);
  chown_path(home + "/.s3cfg", nobody_uid(), nogroup_gid());
  return home;
}

void require_fs_identity_restored()
{
  CHECK(static_cast<uid_t>(::setfsuid(static_cast<uid_t>(-1))) == ::geteuid());
  CHECK(static_cast<gid_t>(::setfsgid(static_cast<gid_t>(-1))) == ::getegid());
}

} // namespace

TEST_CASE("writer: a rewrite keeps owner, group and mode, and reports both hashes",
          "[consumers][writer]")
{
  require_root();
  ScratchDir dir;
  const std::string home = make_home(dir);
  ::chmod((home + "/.s3cfg").c_str(), 0640);
  const auto before = lstat_path(home + "/.s3cfg");
  const auto report = apply_new(s3cfg(home + "/.s3cfg"));
  INFO(error_of(report));
  REQUIRE(report);
  CHECK(read_file(home + "/.s3cfg") == k_new);
  const auto after = lstat_path(home + "/.s3cfg");
  CHECK(after.st_uid == nobody_uid());
  CHECK(after.st_gid == nogroup_gid());
  CHECK((after.st_mode & 07777) == 0640);
  CHECK(after.st_ino != before.st_ino); // replaced by rename
  CHECK(report->path == home + "/.s3cfg");
  CHECK(report->old_sha256 == sha256_hex(k_old));
  CHECK(report->new_sha256 == sha256_hex(k_new));
  CHECK(report->changed);
  CHECK_FALSE(report->created);
  CHECK(report->method == WriteMethod::rename);
  CHECK(temp_files(home).empty());
  require_fs_identity_restored();
}

TEST_CASE("writer: the same content again writes nothing", "[consumers][writer]")
{
  ScratchDir dir;
  write_file(dir / "s3cfg", k_new, 0600);
  const auto before = lstat_path(dir / "s3cfg");
  const auto report = apply_new(s3cfg(dir / "s3cfg"));
  REQUIRE(report);
  CHECK_FALSE(report->changed);
  CHECK(report->method == WriteMethod::none);
  CHECK(report->old_sha256 == report->new_sha256);
  CHECK(lstat_path(dir / "s3cfg").st_ino == before.st_ino);
}

TEST_CASE("writer: a new file gets the directory's owner and group and the configured mode",
          "[consumers][writer]")
{
  require_root();
  ScratchDir dir;
  const std::string home = dir / "home";
  make_dir(home, 0750);
  chown_path(home, nobody_uid(), other_gid());
  ConsumerSpec spec;
  spec.type = ConsumerType::envfile;
  spec.path = home + "/s3.env";
  spec.mode = 0640;
  const auto report = apply_new(spec);
  INFO(error_of(report));
  REQUIRE(report);
  CHECK(report->created);
  CHECK(report->old_sha256.empty());
  const auto st = lstat_path(spec.path);
  CHECK(st.st_uid == nobody_uid());
  CHECK(st.st_gid == other_gid());
  CHECK((st.st_mode & 07777) == 0640);
  CHECK(read_file(spec.path) ==
        "AWS_ACCESS_KEY_ID=" + k_a + "\nAWS_SECRET_ACCESS_KEY=" + k_s + "\n");
}

TEST_CASE("writer: s3fs files lose group and other bits", "[consumers][writer]")
{
  ScratchDir dir;
  write_file(dir / "passwd-s3fs", "AK:SK\n", 0644);
  ConsumerSpec spec;
  spec.type = ConsumerType::s3fs;
  spec.path = dir / "passwd-s3fs";
  REQUIRE(apply_new(spec));
  CHECK((lstat_path(spec.path).st_mode & 07777) == 0600);
  // The same content with a bad mode: only the mode is fixed.
  ::chmod(spec.path.c_str(), 0660);
  const auto report = apply_new(spec);
  REQUIRE(report);
  CHECK_FALSE(report->changed);
  CHECK((lstat_path(spec.path).st_mode & 07777) == 0600);
}

TEST_CASE("writer: a POSIX ACL on the file is copied to the new file", "[consumers][writer]")
{
  ScratchDir dir;
  write_file(dir / "s3cfg", k_old, 0640);
  // system.posix_acl_access: version 2; user::rw- user:1:r-- group::r-- mask::r-- other::---
  const auto entry = [](std::uint16_t tag, std::uint16_t perm, std::uint32_t id) {
    std::array<unsigned char, 8> e{};
    e[0] = static_cast<unsigned char>(tag & 0xFF);
    e[1] = static_cast<unsigned char>(tag >> 8);
    e[2] = static_cast<unsigned char>(perm & 0xFF);
    e[3] = static_cast<unsigned char>(perm >> 8);
    for (int i = 0; i < 4; ++i) {
      e[static_cast<std::size_t>(4 + i)] = static_cast<unsigned char>(id >> (8 * i));
    }
    return std::string(e.begin(), e.end());
  };
  const std::string acl = std::string("\x02\x00\x00\x00", 4) + entry(0x01, 6, 0xFFFFFFFF) +
                          entry(0x02, 4, 1) + entry(0x04, 4, 0xFFFFFFFF) +
                          entry(0x10, 4, 0xFFFFFFFF) + entry(0x20, 0, 0xFFFFFFFF);
  REQUIRE(::setxattr((dir / "s3cfg").c_str(), "system.posix_acl_access", acl.data(), acl.size(),
                     0) == 0);
  REQUIRE(apply_new(s3cfg(dir / "s3cfg")));
  std::array<char, 256> buf{};
  const ssize_t n =
      ::getxattr((dir / "s3cfg").c_str(), "system.posix_acl_access", buf.data(), buf.size());
  REQUIRE(n > 0);
  CHECK(std::string(buf.data(), static_cast<std::size_t>(n)) == acl);
}

TEST_CASE("writer: in-place mode keeps the inode", "[consumers][writer]")
{
  ScratchDir dir;
  write_file(dir / "s3cfg", k_old + "# a longer tail that the new content does not reach\n", 0600);
  const auto before = lstat_path(dir / "s3cfg");
  ConsumerSpec spec = s3cfg(dir / "s3cfg");
  spec.in_place = true;
  const auto report = apply_new(spec);
  REQUIRE(report);
  CHECK(report->method == WriteMethod::in_place);
  CHECK(lstat_path(dir / "s3cfg").st_ino == before.st_ino);
  CHECK(read_file(dir / "s3cfg") ==
        k_new + "# a longer tail that the new content does not reach\n");
}

TEST_CASE("writer: temp files left by a crash are removed, other files are not",
          "[consumers][writer]")
{
  require_root();
  ScratchDir dir;
  const std::string home = make_home(dir);
  for (const std::string name : {"..s3cfg.credrotd-AbC123", "..s3cfg.credrotd-zzzzzz"}) {
    write_file(home + "/" + name, "half", 0600);
    chown_path(home + "/" + name, nobody_uid(), nogroup_gid());
  }
  write_file(home + "/..s3cfg.credrotd-NOTOUR", "other owner", 0600); // root's: kept
  write_file(home + "/..s3cfg.credrotd-toolong1", "wrong shape", 0600);
  chown_path(home + "/..s3cfg.credrotd-toolong1", nobody_uid(), nogroup_gid());
  ::symlink("/etc/passwd", (home + "/..s3cfg.credrotd-LINK00").c_str());
  chown_path(home + "/..s3cfg.credrotd-LINK00", nobody_uid(), nogroup_gid());
  const auto report = apply_new(s3cfg(home + "/.s3cfg"));
  INFO(error_of(report));
  REQUIRE(report);
  CHECK(report->stray_temp_files_removed == 2);
  CHECK(temp_files(home).size() == 3);
  CHECK(exists(home + "/..s3cfg.credrotd-NOTOUR"));
  CHECK(exists(home + "/..s3cfg.credrotd-LINK00"));
  CHECK(temp_file_prefix(std::string(300, 'x')).size() == 255 - 6);
}

TEST_CASE("writer: a link to a file of the same owner is followed and kept",
          "[consumers][writer][symlink]")
{
  require_root();
  ScratchDir dir;
  const std::string home = make_home(dir);
  make_dir(home + "/dotfiles", 0700);
  chown_path(home + "/dotfiles", nobody_uid(), nogroup_gid());
  ::rename((home + "/.s3cfg").c_str(), (home + "/dotfiles/s3cfg").c_str());
  REQUIRE(::symlink("dotfiles/s3cfg", (home + "/.s3cfg").c_str()) == 0);
  chown_path(home + "/.s3cfg", nobody_uid(), nogroup_gid());
  const auto report = apply_new(s3cfg(home + "/.s3cfg"));
  INFO(error_of(report));
  REQUIRE(report);
  CHECK(report->path == home + "/dotfiles/s3cfg");
  CHECK(S_ISLNK(lstat_path(home + "/.s3cfg").st_mode));
  CHECK(read_file(home + "/dotfiles/s3cfg") == k_new);
  CHECK(temp_files(home + "/dotfiles").empty());
  const auto key = read_key(s3cfg(home + "/.s3cfg"));
  REQUIRE(key);
  CHECK((*key)->access_id == k_a);
  CHECK((*key)->path == home + "/dotfiles/s3cfg");
}

TEST_CASE("writer: root's links may point anywhere, e.g. into a user's directory",
          "[consumers][writer][symlink]")
{
  require_root();
  ScratchDir dir;
  const std::string home = make_home(dir);
  REQUIRE(::symlink((home + "/.s3cfg").c_str(), (dir / "link").c_str()) == 0);
  const auto report = apply_new(s3cfg(dir / "link"));
  INFO(error_of(report));
  REQUIRE(report);
  CHECK(read_file(home + "/.s3cfg") == k_new);
  CHECK(lstat_path(home + "/.s3cfg").st_uid == nobody_uid());
}

TEST_CASE("attack: a user's symlink to a root-owned file is refused and nothing changes",
          "[consumers][writer][attack]")
{
  require_root();
  ScratchDir dir;
  const std::string home = make_home(dir);
  const std::string victim = dir / "shadow";
  const std::string victim_content = "root:$y$j9T$secret:19000:0:99999:7:::\n";
  write_file(victim, victim_content, 0600);
  for (const std::string& target : {victim, std::string("../shadow")}) {
    ::unlink((home + "/.s3cfg").c_str());
    REQUIRE(::symlink(target.c_str(), (home + "/.s3cfg").c_str()) == 0);
    chown_path(home + "/.s3cfg", nobody_uid(), nogroup_gid());
    const auto report = apply_new(s3cfg(home + "/.s3cfg"));
    REQUIRE_FALSE(report);
    CHECK(report.error().code == Errc::unsafe);
    CHECK(report.error().message.find("the symbolic link " + home + "/.s3cfg -> " + target +
                                      " belongs to uid 65534") != std::string::npos);
    CHECK(read_file(victim) == victim_content);
    CHECK(lstat_path(victim).st_uid == 0);
    CHECK(S_ISLNK(lstat_path(home + "/.s3cfg").st_mode));
    CHECK(temp_files(home).empty());
    CHECK(temp_files(dir.path()).empty());
    // Reading through the link is refused too: its content must not reach the user's file.
    const auto key = read_key(s3cfg(home + "/.s3cfg"));
    REQUIRE_FALSE(key);
    CHECK(key.error().code == Errc::unsafe);
  }
  require_fs_identity_restored();
}

TEST_CASE("attack: a user's directory link into root's files is refused",
          "[consumers][writer][attack]")
{
  require_root();
  ScratchDir dir;
  const std::string home = make_home(dir);
  make_dir(dir / "etc", 0755);
  write_file(dir / "etc/credentials", "[default]\naws_access_key_id = ROOTS\n", 0600);
  REQUIRE(::symlink((dir / "etc").c_str(), (home + "/.aws").c_str()) == 0);
  chown_path(home + "/.aws", nobody_uid(), nogroup_gid());
  ConsumerSpec spec;
  spec.type = ConsumerType::aws_credentials;
  spec.path = home + "/.aws/credentials";
  const auto report = apply_new(spec);
  REQUIRE_FALSE(report);
  CHECK(report.error().code == Errc::unsafe);
  CHECK(read_file(dir / "etc/credentials") == "[default]\naws_access_key_id = ROOTS\n");
  CHECK(temp_files(dir / "etc").empty());
}

TEST_CASE("attack: a hard link to another file is refused", "[consumers][writer][attack]")
{
  require_root();
  ScratchDir dir;
  const std::string home = make_home(dir);
  const std::string victim = dir / "victim";
  write_file(victim, "access_key = ROOTS\nsecret_key = ROOTS\n", 0644);
  ::unlink((home + "/.s3cfg").c_str());
  // (fs.protected_hardlinks stops nobody from making this link; root makes it here to show
  // that credrotd does not rely on that setting.)
  REQUIRE(::link(victim.c_str(), (home + "/.s3cfg").c_str()) == 0);
  auto report = apply_new(s3cfg(home + "/.s3cfg"));
  REQUIRE_FALSE(report);
  CHECK(report.error().code == Errc::unsafe);
  CHECK(report.error().message.find("has 2 hard links") != std::string::npos);
  CHECK(read_file(victim) == "access_key = ROOTS\nsecret_key = ROOTS\n");
  // Two names for one of the user's own files: refused as well (a rename would split them).
  ::unlink((home + "/.s3cfg").c_str());
  write_file(home + "/.s3cfg", k_old, 0600);
  chown_path(home + "/.s3cfg", nobody_uid(), nogroup_gid());
  REQUIRE(::link((home + "/.s3cfg").c_str(), (home + "/other").c_str()) == 0);
  report = apply_new(s3cfg(home + "/.s3cfg"));
  REQUIRE_FALSE(report);
  CHECK(read_file(home + "/other") == k_old);
  CHECK(temp_files(home).empty());
}

TEST_CASE("attack: directories and files that change hands are refused",
          "[consumers][writer][attack]")
{
  require_root();
  ScratchDir dir;
  const std::string home = make_home(dir);
  SECTION("another user's directory inside the home")
  {
    make_dir(home + "/sub", 0755);
    chown_path(home + "/sub", other_uid(), other_gid());
    write_file(home + "/sub/s3cfg", k_old, 0600);
    chown_path(home + "/sub/s3cfg", other_uid(), other_gid());
    const auto report = apply_new(s3cfg(home + "/sub/s3cfg"));
    REQUIRE_FALSE(report);
    CHECK(report.error().message.find("lies inside " + home) != std::string::npos);
  }
  SECTION("a root-owned file in the user's directory")
  {
    chown_path(home + "/.s3cfg", 0, 0);
    const auto report = apply_new(s3cfg(home + "/.s3cfg"));
    REQUIRE_FALSE(report);
    CHECK(report.error().code == Errc::unsafe);
    CHECK(report.error().message.find("belongs to uid 0 but its directory belongs to uid 65534") !=
          std::string::npos);
  }
  SECTION("a world-writable directory")
  {
    make_dir(dir / "public", 0777);
    write_file(dir / "public/s3cfg", k_old, 0600);
    CHECK(apply_new(s3cfg(dir / "public/s3cfg")).error().code == Errc::unsafe);
    ::chmod((dir / "public").c_str(), 01777); // sticky, but it holds the file
    CHECK(apply_new(s3cfg(dir / "public/s3cfg")).error().code == Errc::unsafe);
    CHECK(read_file(dir / "public/s3cfg") == k_old);
  }
  CHECK(temp_files(home).empty());
}

TEST_CASE("fault: a read-only directory leaves the file as it was", "[consumers][writer][fault]")
{
  require_root();
  ScratchDir dir;
  const std::string home = make_home(dir);
  ::chmod(home.c_str(), 0555); // root could still write here; nobody cannot
  const auto report = apply_new(s3cfg(home + "/.s3cfg"));
  REQUIRE_FALSE(report);
  CHECK(report.error().code == Errc::io);
  CHECK(report.error().message ==
        "cannot create a temporary file in " + home + ": Permission denied");
  CHECK(read_file(home + "/.s3cfg") == k_old);
  CHECK(temp_files(home).empty());
  require_fs_identity_restored();
}

TEST_CASE("fault: permission denied on the file leaves it as it was", "[consumers][writer][fault]")
{
  require_root();
  ScratchDir dir;
  const std::string home = make_home(dir);
  ::chmod((home + "/.s3cfg").c_str(), 0200); // its owner cannot read it
  const auto report = apply_new(s3cfg(home + "/.s3cfg"));
  REQUIRE_FALSE(report);
  CHECK(report.error().message == "cannot open " + home + "/.s3cfg: Permission denied");
  CHECK(read_file(home + "/.s3cfg") == k_old);
  CHECK(temp_files(home).empty());
}

TEST_CASE("fault: a read-only file system leaves the file as it was", "[consumers][writer][fault]")
{
  require_root();
  ScratchDir dir;
  const std::string mnt = dir / "ro";
  dir.mount_tmpfs(mnt, 256);
  write_file(mnt + "/s3cfg", k_old, 0600);
  dir.remount_read_only(mnt);
  const auto report = apply_new(s3cfg(mnt + "/s3cfg"));
  REQUIRE_FALSE(report);
  CHECK(report.error().message.find("Read-only file system") != std::string::npos);
  CHECK(read_file(mnt + "/s3cfg") == k_old);
  CHECK(temp_files(mnt).empty());
}

TEST_CASE("fault: a full file system leaves the file as it was and no temp file",
          "[consumers][writer][fault]")
{
  require_root();
  ScratchDir dir;
  const std::string mnt = dir / "full";
  dir.mount_tmpfs(mnt, 64);
  const std::string padding(12000, '#');
  const std::string old = padding + "\n" + k_old;
  write_file(mnt + "/s3cfg", old, 0600);
  // Fill the rest of the file system.
  {
    const std::string chunk(4096, 'x');
    const int fd = ::open((mnt + "/filler").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    REQUIRE(fd >= 0);
    while (::write(fd, chunk.data(), chunk.size()) > 0) {
    }
    ::close(fd);
  }
  for (const bool in_place : {false, true}) {
    ConsumerSpec spec = s3cfg(mnt + "/s3cfg");
    spec.in_place = in_place;
    if (in_place) {
      // In place, the same-size rewrite needs no new blocks: it succeeds on a full disk.
      const auto report = apply_new(spec);
      INFO(error_of(report));
      CHECK(report);
      continue;
    }
    const auto report = apply_new(spec);
    REQUIRE_FALSE(report);
    CHECK(report.error().code == Errc::io);
    CHECK(report.error().message.find("No space left on device") != std::string::npos);
    CHECK(read_file(mnt + "/s3cfg") == old);
    CHECK(temp_files(mnt).empty());
  }
}

TEST_CASE("fault: a rename refused with EBUSY suggests in_place", "[consumers][writer][fault]")
{
  require_root();
  ScratchDir dir;
  // A single-file bind mount, as a container gets one.
  write_file(dir / "source", k_old, 0600);
  write_file(dir / "s3cfg", "", 0600);
  REQUIRE(::mount((dir / "source").c_str(), (dir / "s3cfg").c_str(), nullptr, MS_BIND, nullptr) ==
          0);
  struct Unmount {
    std::string path;
    ~Unmount() { ::umount2(path.c_str(), MNT_DETACH); }
  } unmount{dir / "s3cfg"};
  const auto report = apply_new(s3cfg(dir / "s3cfg"));
  REQUIRE_FALSE(report);
  CHECK(report.error().message.find("Device or resource busy (a single-file bind mount? set "
                                    "in_place = true for this consumer)") != std::string::npos);
  CHECK(temp_files(dir.path()).empty());
  ConsumerSpec spec = s3cfg(dir / "s3cfg");
  spec.in_place = true;
  REQUIRE(apply_new(spec));
  CHECK(read_file(dir / "source") == k_new);
}
