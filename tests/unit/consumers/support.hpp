// SPDX-License-Identifier: Apache-2.0
// Scratch directories, file helpers and users for the consumers tests.
#pragma once

#include "consumers/text.hpp"
#include "core/error.hpp"

#include <catch2/catch.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <sys/stat.h>
#include <sys/types.h>
#include <vector>

namespace credrotd::consumers::test {

// A fresh directory under /tmp (mode 0755, root's when run as root), removed with everything
// in it (unmounting what the test mounted there) when the object goes away.
class ScratchDir {
public:
  // A new directory under `parent`. systemd-creds refuses a host key on a tmpfs, which /tmp
  // may be: tests that need one on a real file system take /var/tmp.
  explicit ScratchDir(const std::string& parent = "/tmp");
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  ~ScratchDir();

  const std::string& path() const { return m_path; }
  std::string operator/(std::string_view name) const { return m_path + "/" + std::string(name); }

  // Mounts a tmpfs of `size_kib` KiB on `dir` (created), unmounted by the destructor.
  void mount_tmpfs(const std::string& dir, std::size_t size_kib);
  // Unmounts `dir` (lazily) on destruction, e.g. a FUSE mount a test started.
  void track_mount(const std::string& dir) { m_mounts.push_back(dir); }
  // Remounts a tmpfs mounted by mount_tmpfs() read-only.
  void remount_read_only(const std::string& dir);

private:
  std::string m_path;
  std::vector<std::string> m_mounts;
};

// A systemd-creds host key of the test's own: SYSTEMD_CREDENTIAL_SECRET names it (in a
// directory under /var/tmp: systemd-creds refuses a host key on a tmpfs, which /tmp may be)
// while the object lives, and is unset when it goes, even when the test fails.
class CredentialHostKey {
public:
  CredentialHostKey();
  CredentialHostKey(const CredentialHostKey&) = delete;
  CredentialHostKey& operator=(const CredentialHostKey&) = delete;
  ~CredentialHostKey();

  // "SYSTEMD_CREDENTIAL_SECRET=PATH", for the environment of a systemd-creds the test runs.
  std::string env() const { return "SYSTEMD_CREDENTIAL_SECRET=" + m_path; }

private:
  ScratchDir m_dir{"/var/tmp"};
  std::string m_path;
};

void write_file(const std::string& path, std::string_view content, mode_t mode = 0600);
std::string read_file(const std::string& path);
void make_dir(const std::string& path, mode_t mode = 0755);
void chown_path(const std::string& path, uid_t uid, gid_t gid); // lchown
struct stat lstat_path(const std::string& path);
bool exists(const std::string& path);
// Names in `dir` (no "." or "..").
std::vector<std::string> list_dir(const std::string& dir);
// Names in `dir` that contain ".credrotd-".
std::vector<std::string> temp_files(const std::string& dir);

// The unprivileged user the attack tests play: nobody/nogroup.
uid_t nobody_uid();
gid_t nogroup_gid();
// A second unprivileged identity: the uid of "daemon" (1) and its group.
uid_t other_uid();
gid_t other_gid();

// Fails the test unless it runs as root (the privileged tests need it: chown, mount).
void require_root();

// The message of an error result, "" for success.
template <class R> std::string error_of(const R& result)
{
  return result ? std::string() : result.error().message;
}

inline std::string str(const Content& c)
{
  return std::string(c.data(), c.size());
}

} // namespace credrotd::consumers::test

// Lets CHECK(result) print an error result (boost's own operator<< needs one for Error).
template <class T> struct Catch::StringMaker<boost::system::result<T, credrotd::core::Error>> {
  static std::string convert(const boost::system::result<T, credrotd::core::Error>& r)
  {
    return r ? std::string("success") : "error: " + r.error().describe();
  }
};
