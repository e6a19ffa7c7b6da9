// SPDX-License-Identifier: Apache-2.0
// Discovery: unit files, passwd, the sections each file format names, a scan of a host tree
// with several users' files, and the proposal (ownership, conflicts, names, the drop-in text).
#include "config/config_file.hpp"
#include "discover/paths.hpp"
#include "discover/proposal.hpp"
#include "discover/report.hpp"
#include "discover/units.hpp"
#include "result_printer.hpp"

#include <boost/json/serialize.hpp>
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <unistd.h>

using namespace credrotd::discover;
using credrotd::consumers::ConsumerType;
namespace fs = std::filesystem;

namespace {

// A fresh directory under /tmp, removed with everything in it at the end.
class Tree {
public:
  Tree()
  {
    std::string name = "/tmp/credrotd-discover-XXXXXX";
    REQUIRE(::mkdtemp(name.data()) != nullptr);
    m_path = name;
    fs::permissions(m_path, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                fs::perms::others_read | fs::perms::others_exec);
  }
  ~Tree()
  {
    std::error_code ec;
    fs::remove_all(m_path, ec);
  }
  Tree(const Tree&) = delete;
  Tree& operator=(const Tree&) = delete;

  const std::string& path() const { return m_path; }

  // Writes `text` to root + `path` (mode 0600), its directories made first; everything below
  // `owned_from` (a root-relative directory) is given to `uid`.
  void write(const std::string& path, const std::string& text, uid_t uid = 0,
             const std::string& owned_from = "")
  {
    const fs::path full = m_path + path;
    fs::create_directories(full.parent_path());
    std::ofstream(full) << text;
    fs::permissions(full, fs::perms::owner_read | fs::perms::owner_write);
    if (!owned_from.empty()) {
      for (fs::path p = full; p.string().size() >= (m_path + owned_from).size();
           p = p.parent_path()) {
        REQUIRE(::chown(p.c_str(), uid, uid) == 0);
      }
    }
  }

private:
  std::string m_path;
};

Place place(ConsumerType type, const std::string& path, const std::string& access,
            const std::string& owner)
{
  Place p;
  p.spec.type = type;
  p.spec.path = path;
  p.access_id = access;
  p.owner = owner;
  p.line = 1;
  return p;
}

IdentityView identity()
{
  IdentityView view;
  view.cloud = "prod";
  view.user_id = "u1";
  view.user_name = "rotator";
  view.project_id = "p1";
  view.project_name = "storage";
  view.keys = {{"AAAA1111own", "p1"}, {"BBBB2222own", "p2"}, {"STALE000key", "p1"}};
  return view;
}

ProposalOptions options()
{
  ProposalOptions o;
  o.s3_endpoint = "http://127.0.0.1:8080";
  o.dropin_path = "/etc/credrotd/credrotd.d/discovered.toml";
  return o;
}

// The drop-in parsed as credrotd parses it, after a minimal main file.
credrotd::core::Result<credrotd::config::LoadedConfig> parse(const std::string& dropin)
{
  return credrotd::config::parse_config(
      {{"/etc/credrotd/credrotd.toml", "[daemon]\nstate_dir = \"/var/lib/credrotd\"\n", {}},
       {"/etc/credrotd/credrotd.d/discovered.toml", dropin, {}}});
}

} // namespace

TEST_CASE("EnvironmentFile= of the Service section is read with systemd's line rules", "[discover]")
{
  const std::string unit = "[Unit]\nEnvironmentFile=/not/service\n"
                           "[Service]\n# EnvironmentFile=/commented\n"
                           "EnvironmentFile=-/etc/a.env\n"
                           "EnvironmentFile = /etc/b.env\n"
                           "ExecStart=/bin/true \\\n  EnvironmentFile=/continued\n";
  CHECK(environment_files(unit) == std::vector<std::string>{"/etc/a.env", "/etc/b.env"});
  // A drop-in's empty assignment clears what the unit set.
  CHECK(environment_files("[Service]\nEnvironmentFile=\nEnvironmentFile=/etc/c.env\n",
                          environment_files(unit)) == std::vector<std::string>{"/etc/c.env"});
}

TEST_CASE("units under a root give their environment files, drop-ins and precedence applied",
          "[discover]")
{
  Tree t;
  t.write("/lib/systemd/system/backup.service", "[Service]\nEnvironmentFile=/etc/old.env\n");
  t.write("/etc/systemd/system/backup.service", "[Service]\nEnvironmentFile=/etc/backup.env\n");
  t.write("/etc/systemd/system/sync.service.d/10-s3.conf",
          "[Service]\nEnvironmentFile=-/etc/backup.env\n");
  t.write("/lib/systemd/system/sync.service", "[Service]\nExecStart=/bin/true\n");
  t.write("/run/systemd/transient/run-u7.service", "[Service]\nEnvironmentFile=/etc/backup.env\n");
  t.write("/lib/systemd/system/inst@.service", "[Service]\nEnvironmentFile=/etc/%i.env\n");
  fs::create_directories(t.path() + "/etc/systemd/system");
  fs::create_symlink("/dev/null", t.path() + "/etc/systemd/system/masked.service");
  t.write("/lib/systemd/system/masked.service", "[Service]\nEnvironmentFile=/etc/masked.env\n");
  std::vector<std::string> problems;
  const auto files = unit_environment_files(t.path(), problems);
  CHECK(problems.empty());
  REQUIRE(files.size() == 1);
  CHECK(files[0].path == "/etc/backup.env");
  CHECK(files[0].units ==
        std::vector<std::string>{"backup.service", "run-u7.service", "sync.service"});
}

TEST_CASE("passwd lines give names, uids and homes, and malformed lines are skipped", "[discover]")
{
  const auto users = parse_passwd("root:x:0:0:root:/root:/bin/bash\n"
                                  "broken line\n"
                                  "alice:x:1000:1000:Alice,,,:/home/alice:/bin/bash\n"
                                  "bad:x:notanumber:1:x:/home/bad:/bin/sh\n");
  REQUIRE(users.size() == 2);
  CHECK(users[1].name == "alice");
  CHECK(users[1].uid == 1000);
  CHECK(users[1].home == "/home/alice");
  CHECK(under_root("/", "/etc/passwd") == "/etc/passwd");
  CHECK(under_root("/srv/host/", "/etc/passwd") == "/srv/host/etc/passwd");
}

TEST_CASE("each format's sections, remotes, buckets and logins are enumerated", "[discover]")
{
  CHECK(ini_sections("[default]\nx = 1\n [backup] \n[default]\n") ==
        std::vector<std::string>{"default", "backup"});
  CHECK(rclone_s3_remotes("[local]\ntype = local\n[ceph]\nprovider = Ceph\ntype = s3\n"
                          "[gdrive]\ntype = drive\n") == std::vector<std::string>{"ceph"});
  CHECK(s3fs_buckets("AK:SK\nmedia:AK2:SK2\n# old:AK:SK\nmedia:AK3:SK3\n") ==
        std::vector<std::string>{"", "media"});
  const auto urls =
      duck_endpoints("credentials", "https\\://AK1@s3.example.org\\:443=s1\n"
                                    "http\\://AK2@127.0.0.1\\:8080=s2\n"
                                    "https\\://AK3@s3.example.org\\:443=s3\nother=1\n");
  REQUIRE(urls);
  CHECK(*urls == std::vector<std::string>{"https://s3.example.org:443", "http://127.0.0.1:8080"});
}

TEST_CASE("a host tree with several users' files gives every key and where it is", "[discover]")
{
  Tree t;
  t.write("/etc/passwd", "root:x:0:0:root:/root:/bin/bash\n"
                         "alice:x:20001:20001::/home/alice:/bin/bash\n"
                         "bob:x:20002:20002::/home/bob:/bin/bash\n"
                         "nobody:x:65534:65534::/nonexistent:/usr/sbin/nologin\n");
  fs::create_directories(t.path() + "/home");
  t.write("/home/alice/.s3cfg", "[default]\naccess_key = AKALICE\nsecret_key = s-alice\n", 20001,
          "/home/alice");
  t.write("/home/alice/.aws/credentials",
          "[default]\naws_access_key_id = AKALICE\naws_secret_access_key = s-alice\n"
          "[other]\naws_access_key_id = AKOTHER\naws_secret_access_key = s-other\n",
          20001, "/home/alice");
  t.write("/home/bob/.config/rclone/rclone.conf",
          "[local]\ntype = local\n[ceph]\ntype = s3\naccess_key_id = AKBOB\n"
          "secret_access_key = s-bob\n",
          20002, "/home/bob");
  t.write("/home/bob/.passwd-s3fs", "AKBOB:s-bob\n", 20002, "/home/bob");
  t.write("/home/bob/.duck/credentials", "https\\://AKBOB@s3.example.org\\:443=s-bob\n", 20002,
          "/home/bob");
  t.write("/home/bob/.s3cfg", "[default]\naccess_key = AKBOB\n", 20002, "/home/bob"); // half key
  t.write("/etc/passwd-s3fs", "media:AKROOT:s-root\n");
  t.write("/etc/restic/s3.env", "AWS_ACCESS_KEY_ID=AKROOT\nAWS_SECRET_ACCESS_KEY=s-root\n");
  t.write("/lib/systemd/system/restic.service", "[Service]\nEnvironmentFile=/etc/restic/s3.env\n");
  t.write("/srv/report.py", "import boto3\ns3 = boto3.client('s3', aws_access_key_id='AKROOT', "
                            "aws_secret_access_key='s-root')\n");

  const auto found = scan({t.path(), {t.path() + "/srv/report.py"}});
  REQUIRE(found);
  std::vector<std::string> seen;
  for (const auto& p : found->places) {
    seen.push_back(std::string(credrotd::core::to_string(p.spec.type)) + " " +
                   p.spec.path.substr(t.path().size()) + " " + p.access_id + " " + p.owner);
  }
  CHECK(seen == std::vector<std::string>{
                    "s3cmd /home/alice/.s3cfg AKALICE alice",
                    "aws-credentials /home/alice/.aws/credentials AKALICE alice",
                    "aws-credentials /home/alice/.aws/credentials AKOTHER alice",
                    "rclone /home/bob/.config/rclone/rclone.conf AKBOB bob",
                    "s3fs /home/bob/.passwd-s3fs AKBOB bob",
                    "cyberduck /home/bob/.duck/credentials AKBOB bob",
                    "s3fs /etc/passwd-s3fs AKROOT root",
                    "envfile /etc/restic/s3.env AKROOT root",
                    "python /srv/report.py AKROOT root",
                });
  CHECK(found->places[7].units == std::vector<std::string>{"restic.service"});
  CHECK(found->places[6].spec.bucket == "media");
  REQUIRE(found->skipped.size() == 1);
  CHECK(found->skipped[0].path == t.path() + "/home/bob/.s3cfg");
  CHECK(found->skipped[0].why.find("secret_key") != std::string::npos);
}

TEST_CASE("the identity's keys become profiles while others and stale keys are reported",
          "[discover]")
{
  Scan scan;
  scan.files_read = 5;
  scan.places = {
      place(ConsumerType::s3cmd, "/home/alice/.s3cfg", "AAAA1111own", "alice"),
      place(ConsumerType::aws_credentials, "/home/alice/.aws/credentials", "OTHER000key", "alice"),
      place(ConsumerType::aws_credentials, "/home/alice/.aws/credentials", "AAAA1111own", "alice"),
      place(ConsumerType::envfile, "/etc/restic/s3.env", "BBBB2222own", "root"),
      place(ConsumerType::s3fs, "/home/bob/.passwd-s3fs", "BBBB2222own", "bob"),
  };
  scan.places[1].spec.profile = "other";
  scan.places[3].units = {"restic.service"};
  const auto p = propose(scan, identity(), options());
  REQUIRE(p.keys.size() == 3);
  CHECK(p.keys[0].profile == "alice");
  CHECK(p.keys[0].places.size() == 2);
  CHECK_FALSE(p.keys[1].own);
  CHECK(p.keys[1].profile.empty());
  CHECK(p.keys[1].why_not.find("unknown to this identity") != std::string::npos);
  CHECK(p.keys[2].profile == "shared");
  REQUIRE(p.stale.size() == 1);
  CHECK(p.stale[0].access == "STALE000key");
  CHECK(p.profiles == 2);

  const auto loaded = parse(p.dropin);
  INFO(p.dropin);
  REQUIRE(loaded);
  const auto& profiles = loaded->config.profiles;
  REQUIRE(profiles.size() == 2);
  CHECK(profiles[0].name == "alice");
  CHECK(profiles[0].cloud == "prod");
  CHECK(profiles[0].s3_endpoint == "http://127.0.0.1:8080");
  REQUIRE(profiles[0].consumers.size() == 2);
  CHECK(profiles[0].consumers[1].aws_profile == "default");
  CHECK(profiles[1].project == "p2"); // the key's project is not the token's
  REQUIRE(profiles[1].consumers.size() == 2);
  CHECK(profiles[1].consumers[0].reload == std::vector<std::string>{"restic.service"});
  // The report is in the comments, access ids and paths only.
  CHECK(p.dropin.find("# Key OTHER000key: NOT PROPOSED") != std::string::npos);
  CHECK(p.dropin.find("STALE000key") != std::string::npos);
}

TEST_CASE("a key sharing a file with another key of the identity is not proposed", "[discover]")
{
  Scan scan;
  scan.places = {
      place(ConsumerType::aws_credentials, "/root/.aws/credentials", "AAAA1111own", "root"),
      place(ConsumerType::aws_credentials, "/root/.aws/credentials", "BBBB2222own", "root"),
  };
  const auto p = propose(scan, identity(), options());
  REQUIRE(p.keys.size() == 2);
  CHECK(p.keys[0].profile == "root");
  CHECK(p.keys[1].profile.empty());
  CHECK(p.keys[1].why_not.find("one consumer") != std::string::npos);
  CHECK(parse(p.dropin));
}

TEST_CASE("profile names stay valid and unique", "[discover]")
{
  CHECK(profile_name("alice") == "alice");
  CHECK(profile_name("uid 1234") == "uid_1234");
  CHECK(profile_name("") == "key");
  Scan scan;
  scan.places = {place(ConsumerType::s3cmd, "/home/a b/.s3cfg", "AAAA1111own", "a b"),
                 place(ConsumerType::s3fs, "/home/a b/.passwd-s3fs", "BBBB2222own", "a b")};
  ProposalOptions o = options();
  o.reload_units = ReloadUnits::no;
  const auto p = propose(scan, identity(), o);
  CHECK(p.keys[0].profile == "a_b-AAAA1111");
  CHECK(p.keys[1].profile == "a_b-BBBB2222");
  const auto loaded = parse(p.dropin);
  INFO(p.dropin);
  REQUIRE(loaded);
  CHECK(loaded->config.profiles[0].consumers[0].path == "/home/a b/.s3cfg");
}

TEST_CASE("units under another root are named in a comment, not reloaded", "[discover]")
{
  Scan scan;
  scan.places = {place(ConsumerType::envfile, "/srv/host/etc/s3.env", "AAAA1111own", "root")};
  scan.places[0].units = {"backup.service"};
  ProposalOptions o = options();
  o.reload_units = ReloadUnits::no;
  const auto p = propose(scan, identity(), o);
  const auto loaded = parse(p.dropin);
  REQUIRE(loaded);
  CHECK(loaded->config.profiles[0].consumers[0].reload.empty());
  CHECK(p.dropin.find("# reload = [\"backup.service\"]") != std::string::npos);
}

TEST_CASE("TOML strings escape quotes, backslashes and control characters", "[discover]")
{
  CHECK(toml_string("a\"b\\c\n") == "\"a\\\"b\\\\c\\u000A\"");
}

TEST_CASE("the JSON report holds access ids and places, never a secret", "[discover]")
{
  Scan scan;
  scan.places = {place(ConsumerType::s3cmd, "/root/.s3cfg", "AAAA1111own", "root")};
  scan.skipped = {{"/home/x/.s3cfg", "/home/x/.s3cfg:2:1: half key"}};
  const auto p = propose(scan, identity(), options());
  const auto doc = boost::json::serialize(to_json(p, identity(), options()));
  CHECK(doc.find("\"access\":\"AAAA1111own\"") != std::string::npos);
  CHECK(doc.find("\"owner\":\"identity\"") != std::string::npos);
  CHECK(doc.find("\"profile\":\"root\"") != std::string::npos);
  CHECK(doc.find("\"why\":\"/home/x/.s3cfg:2:1: half key\"") != std::string::npos);
}

TEST_CASE("a new drop-in never replaces a file", "[discover]")
{
  Tree t;
  const std::string path = t.path() + "/discovered.toml";
  REQUIRE(write_new_file(path, "[profile.a]\n"));
  const auto again = write_new_file(path, "other");
  REQUIRE_FALSE(again);
  CHECK(again.error().code == credrotd::core::Errc::conflict);
  CHECK(*read_small_file(path) == "[profile.a]\n");
  CHECK((fs::status(path).permissions() & fs::perms::all) ==
        (fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
         fs::perms::others_read));
}
