// SPDX-License-Identifier: Apache-2.0
// The capabilities the writer needs, measured: consumer_apply runs under setpriv with a
// reduced bounding set while the test prepares files with full privileges.
#include "process.hpp"
#include "support.hpp"

#include <catch2/catch.hpp>

using namespace credrotd::consumers::test;

namespace {

const std::string k_new = "[default]\naccess_key = 0123456789abcdef0123456789abcdef\n"
                          "secret_key = fedcba9876543210fedcba9876543210\n";
const std::string k_old = "[default]\naccess_key = OLD\nsecret_key = OLD\n";

// Runs consumer_apply with exactly `caps` (e.g. "+setuid,+setgid") as root.
Output apply_with(const std::string& caps, const std::string& path, bool in_place = false)
{
  std::vector<std::string> argv = {"/usr/bin/setpriv",
                                   "--inh-caps=-all",
                                   "--bounding-set=-all" + caps,
                                   "--",
                                   CONSUMER_APPLY,
                                   "s3cmd",
                                   path};
  if (in_place) {
    argv.emplace_back("in-place");
  }
  return run(argv, clean_env());
}

// nobody's home with nobody's .s3cfg.
std::string user_file(const ScratchDir& dir)
{
  make_dir(dir / "home", 0700);
  chown_path(dir / "home", nobody_uid(), nogroup_gid());
  write_file(dir / "home/.s3cfg", k_old, 0600);
  chown_path(dir / "home/.s3cfg", nobody_uid(), nogroup_gid());
  return dir / "home/.s3cfg";
}

// A file owned by nobody in a root-owned 0700 directory (like /etc/restic/s3.env owned by
// the service user).
std::string service_file(const ScratchDir& dir)
{
  make_dir(dir / "etc", 0700);
  write_file(dir / "etc/s3cfg", k_old, 0600);
  chown_path(dir / "etc/s3cfg", nobody_uid(), nogroup_gid());
  return dir / "etc/s3cfg";
}

} // namespace

TEST_CASE("capabilities: a file in a user's directory needs only CAP_SETUID and CAP_SETGID",
          "[clients][capabilities]")
{
  require_root();
  ScratchDir dir;
  const std::string path = user_file(dir);
  const auto out = apply_with(",+setuid,+setgid", path);
  INFO(out.err);
  CHECK(out.exit_code == 0);
  CHECK(read_file(path) == k_new);
  CHECK(lstat_path(path).st_uid == nobody_uid());

  // Also when the file's group is not the directory's.
  write_file(path, k_old, 0640);
  chown_path(path, nobody_uid(), other_gid());
  const auto group = apply_with(",+setuid,+setgid", path);
  INFO(group.err);
  CHECK(group.exit_code == 0);
  CHECK(lstat_path(path).st_gid == other_gid());
  CHECK((lstat_path(path).st_mode & 07777) == 0640);
}

TEST_CASE("capabilities: root's file of another group in root's directory needs only "
          "CAP_SETUID and CAP_SETGID, not CAP_CHOWN",
          "[clients][capabilities]")
{
  // An EnvironmentFile like /etc/default/app, root:app 0640: the new file is created with the
  // file's group as file-system gid, so it never needs a chown.
  require_root();
  ScratchDir dir;
  make_dir(dir / "etc", 0755);
  const std::string path = dir / "etc/s3cfg";
  write_file(path, k_old, 0640);
  chown_path(path, 0, other_gid());
  const auto out = apply_with(",+setuid,+setgid", path);
  INFO(out.err);
  CHECK(out.exit_code == 0);
  CHECK(read_file(path) == k_new);
  CHECK(lstat_path(path).st_uid == 0);
  CHECK(lstat_path(path).st_gid == other_gid());
  CHECK((lstat_path(path).st_mode & 07777) == 0640);
}

TEST_CASE("capabilities: without CAP_SETUID the writer refuses instead of acting as root",
          "[clients][capabilities]")
{
  require_root();
  ScratchDir dir;
  const std::string path = user_file(dir);
  const auto out = apply_with(",+setgid,+chown,+dac_override,+fowner", path);
  CHECK(out.exit_code == 1);
  CHECK(out.err.find("unsafe: cannot switch the file-system identity to uid 65534") !=
        std::string::npos);
  CHECK(read_file(path) == k_old);
}

TEST_CASE("capabilities: another user's file in root's directory needs CAP_DAC_READ_SEARCH "
          "and CAP_CHOWN, in place CAP_DAC_OVERRIDE",
          "[clients][capabilities]")
{
  require_root();
  ScratchDir dir;
  const std::string path = service_file(dir);
  CHECK(apply_with(",+setuid,+setgid,+chown", path).exit_code == 1);           // cannot read it
  CHECK(apply_with(",+setuid,+setgid,+dac_read_search", path).exit_code == 1); // cannot chown
  CHECK(read_file(path) == k_old);
  const auto out = apply_with(",+setuid,+setgid,+chown,+dac_read_search", path);
  INFO(out.err);
  CHECK(out.exit_code == 0);
  CHECK(read_file(path) == k_new);
  CHECK(lstat_path(path).st_uid == nobody_uid());

  // CAP_DAC_OVERRIDE covers what CAP_DAC_READ_SEARCH gave.
  write_file(path, k_old, 0600);
  chown_path(path, nobody_uid(), nogroup_gid());
  CHECK(apply_with(",+setuid,+setgid,+chown,+dac_override", path).exit_code == 0);
  CHECK(read_file(path) == k_new);

  write_file(path, k_old, 0600);
  chown_path(path, nobody_uid(), nogroup_gid());
  CHECK(apply_with(",+setuid,+setgid,+chown,+dac_read_search", path, true).exit_code == 1);
  const auto in_place = apply_with(",+setuid,+setgid,+dac_override", path, true);
  INFO(in_place.err);
  CHECK(in_place.exit_code == 0);
  CHECK(read_file(path) == k_new);
}
