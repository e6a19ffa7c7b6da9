// SPDX-License-Identifier: Apache-2.0
// Scratch directories, file helpers and users for the consumers tests.
#include "support.hpp"

#include <catch2/catch.hpp>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <grp.h>
#include <pwd.h>
#include <sstream>
#include <stdexcept>
#include <sys/mount.h>
#include <unistd.h>

namespace credrotd::consumers::test {

namespace {

[[noreturn]] void fail(const std::string& what)
{
  throw std::runtime_error(what + ": " + std::strerror(errno));
}

} // namespace

ScratchDir::ScratchDir(const std::string& parent)
{
  std::string tmpl = parent + "/credrotd-consumers-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) {
    fail("mkdtemp");
  }
  m_path = tmpl;
  ::chmod(m_path.c_str(), 0755);
}

CredentialHostKey::CredentialHostKey()
{
  make_dir(m_dir / "hostkey", 0700);
  m_path = m_dir / "hostkey/credential.secret";
  if (::setenv("SYSTEMD_CREDENTIAL_SECRET", m_path.c_str(), 1) != 0) {
    fail("setenv");
  }
}

CredentialHostKey::~CredentialHostKey()
{
  ::unsetenv("SYSTEMD_CREDENTIAL_SECRET");
}

ScratchDir::~ScratchDir()
{
  for (auto it = m_mounts.rbegin(); it != m_mounts.rend(); ++it) {
    ::umount2(it->c_str(), MNT_DETACH);
  }
  std::error_code ec;
  // Permissions may have been taken away by a test; give them back before removing.
  for (auto i = std::filesystem::recursive_directory_iterator(
           m_path, std::filesystem::directory_options::skip_permission_denied, ec);
       !ec && i != std::filesystem::recursive_directory_iterator(); i.increment(ec)) {
    if (i->is_directory(ec) && !i->is_symlink(ec)) {
      ::chmod(i->path().c_str(), 0700);
    }
  }
  std::filesystem::remove_all(m_path, ec);
}

void ScratchDir::mount_tmpfs(const std::string& dir, std::size_t size_kib)
{
  make_dir(dir, 0755);
  const std::string options = "size=" + std::to_string(size_kib) + "k,mode=0755";
  if (::mount("tmpfs", dir.c_str(), "tmpfs", 0, options.c_str()) != 0) {
    fail("mount -t tmpfs " + dir);
  }
  m_mounts.push_back(dir);
}

void ScratchDir::remount_read_only(const std::string& dir)
{
  if (::mount("tmpfs", dir.c_str(), "tmpfs", MS_REMOUNT | MS_RDONLY, nullptr) != 0) {
    fail("mount -o remount,ro " + dir);
  }
}

void write_file(const std::string& path, std::string_view content, mode_t mode)
{
  ::unlink(path.c_str());
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    fail("create " + path);
  }
  if (::write(fd, content.data(), content.size()) != static_cast<ssize_t>(content.size())) {
    ::close(fd);
    fail("write " + path);
  }
  ::fchmod(fd, mode);
  ::close(fd);
}

std::string read_file(const std::string& path)
{
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw std::runtime_error("cannot read " + path);
  }
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void make_dir(const std::string& path, mode_t mode)
{
  if (::mkdir(path.c_str(), mode) != 0 && errno != EEXIST) {
    fail("mkdir " + path);
  }
  ::chmod(path.c_str(), mode);
}

void chown_path(const std::string& path, uid_t uid, gid_t gid)
{
  if (::lchown(path.c_str(), uid, gid) != 0) {
    fail("lchown " + path);
  }
}

struct stat lstat_path(const std::string& path)
{
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    fail("lstat " + path);
  }
  return st;
}

bool exists(const std::string& path)
{
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

std::vector<std::string> list_dir(const std::string& dir)
{
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) {
    fail("opendir " + dir);
  }
  while (const dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name != "." && name != "..") {
      out.push_back(name);
    }
  }
  ::closedir(d);
  return out;
}

std::vector<std::string> temp_files(const std::string& dir)
{
  std::vector<std::string> out;
  for (const auto& name : list_dir(dir)) {
    if (name.find(".credrotd-") != std::string::npos) {
      out.push_back(name);
    }
  }
  return out;
}

uid_t nobody_uid()
{
  const passwd* pw = ::getpwnam("nobody");
  REQUIRE(pw != nullptr);
  return pw->pw_uid;
}

gid_t nogroup_gid()
{
  const group* gr = ::getgrnam("nogroup");
  REQUIRE(gr != nullptr);
  return gr->gr_gid;
}

uid_t other_uid()
{
  const passwd* pw = ::getpwnam("daemon");
  REQUIRE(pw != nullptr);
  return pw->pw_uid;
}

gid_t other_gid()
{
  const passwd* pw = ::getpwnam("daemon");
  REQUIRE(pw != nullptr);
  return pw->pw_gid;
}

void require_root()
{
  INFO("this test changes file owners and mounts file systems: run the suite as root");
  REQUIRE(::geteuid() == 0);
}

} // namespace credrotd::consumers::test
