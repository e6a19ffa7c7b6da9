// SPDX-License-Identifier: Apache-2.0
// The real clients read what credrotd wrote: s3cmd, the AWS CLI, boto3, rclone, s3fs (a real
// FUSE mount), systemd's own EnvironmentFile= parser and systemd-creds, Java's Properties and
// plistlib for duck's files, each see exactly the new key. Debian binaries by full path, clean
// environments, and the consumer's own user where the client cares about file permissions.
// s3fs mounts against fake_s3.py, a loopback endpoint that logs the access key of each request:
// these tests check which line of a passwd file s3fs picks, which a real endpoint (accepting
// or refusing) cannot show. The boto3 script with the key inline runs against the real stack
// (consumers/python, test_python_stack.py).
#include "consumers/consumer.hpp"
#include "generators.hpp"
#include "process.hpp"
#include "support.hpp"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <cstdlib>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <sys/mount.h>
#include <tuple>

using namespace credrotd::consumers;
using namespace credrotd::consumers::test;
using credrotd::core::Errc;
using credrotd::core::Secret;

namespace {

const std::string k_a = "0123456789abcdef0123456789abcdef";
const std::string k_s = "fedcba9876543210fedcba9876543210";
const std::string k_tools = CREDROTD_SOURCE_DIR "/tests/integration/consumers";

// Runs `argv` as nobody:nogroup, the consumer's user in these tests.
std::vector<std::string> as_nobody(std::vector<std::string> argv)
{
  std::vector<std::string> out = {"/usr/bin/setpriv", "--reuid=" + std::to_string(nobody_uid()),
                                  "--regid=" + std::to_string(nogroup_gid()), "--clear-groups",
                                  "--"};
  out.insert(out.end(), argv.begin(), argv.end());
  return out;
}

// A home directory owned by nobody with `name` holding `content`.
std::string nobody_file(const ScratchDir& dir, const std::string& name, const std::string& content,
                        mode_t mode = 0600)
{
  const std::string home = dir / "home";
  make_dir(home, 0755);
  chown_path(home, nobody_uid(), nogroup_gid());
  write_file(home + "/" + name, content, mode);
  chown_path(home + "/" + name, nobody_uid(), nogroup_gid());
  return home + "/" + name;
}

std::vector<std::string> lines_of(const std::string& text)
{
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    out.push_back(line);
  }
  return out;
}

bool has_line(const std::string& text, const std::string& line)
{
  const auto lines = lines_of(text);
  return std::find(lines.begin(), lines.end(), line) != lines.end();
}

void apply_ok(const ConsumerSpec& spec)
{
  const auto report = apply(spec, k_a, Secret(k_s));
  INFO(error_of(report));
  REQUIRE(report);
  CHECK(report->changed);
}

} // namespace

TEST_CASE("clients: s3cmd --dump-config shows exactly the new key", "[clients][s3cmd]")
{
  require_root();
  ScratchDir dir;
  const std::string path =
      nobody_file(dir, ".s3cfg",
                  "\xEF\xBB\xBF[default]\r\n"
                  "# Ceph RGW, written by s3cmd --configure and edited by hand\r\n"
                  "access_key = AKOLDOLDOLDOLDOLDOLDOLDOLDOLDOLD\r\n"
                  "access_token = SOMETOKEN\r\n"
                  "host_base = 127.0.0.1:18081\r\n"
                  "host_bucket = 127.0.0.1:18081\r\n"
                  "secret_key = \"SKOLD/with+slash=\"\r\n"
                  "signature_v2 = False\r\n"
                  "use_https = False");
  ConsumerSpec spec;
  spec.type = ConsumerType::s3cmd;
  spec.path = path;
  apply_ok(spec);
  const auto out = run(
      as_nobody({"/usr/bin/s3cmd", "-c", path, "--dump-config"}),
      clean_env({"AWS_ACCESS_KEY_ID=__ENV_SENTINEL__", "AWS_SECRET_ACCESS_KEY=__ENV_SENTINEL__"}));
  INFO(out.err);
  REQUIRE(out.exit_code == 0);
  CHECK(has_line(out.out, "access_key = " + k_a));
  CHECK(has_line(out.out, "secret_key = " + k_s));
  CHECK(has_line(out.out, "access_token = "));
  CHECK(has_line(out.out, "host_base = 127.0.0.1:18081"));
  CHECK(has_line(out.out, "signature_v2 = False"));
}

TEST_CASE("clients: the AWS CLI and boto3 read exactly the new key from the profile",
          "[clients][aws]")
{
  require_root();
  ScratchDir dir;
  const std::string path = nobody_file(dir, "credentials",
                                       "# two profiles\n"
                                       "[default]\n"
                                       "aws_access_key_id = AKIDEFAULT\n"
                                       "aws_secret_access_key = defaultsecret\n"
                                       "\n"
                                       "[ceph]\n"
                                       "AWS_ACCESS_KEY_ID: AKOLD\n"
                                       "aws_secret_access_key = SKOLD\n"
                                       "aws_session_token = STALE\n"
                                       "aws_security_token = STALER\n"
                                       "region = RegionOne");
  ConsumerSpec spec;
  spec.type = ConsumerType::aws_credentials;
  spec.path = path;
  spec.profile = "ceph";
  apply_ok(spec);
  const auto env =
      clean_env({"AWS_SHARED_CREDENTIALS_FILE=" + path, "AWS_CONFIG_FILE=" + dir / "no-config"});
  const auto get = [&](const std::string& key, const std::string& profile) {
    return run(as_nobody({"/usr/bin/aws", "configure", "get", key, "--profile", profile}), env);
  };
  const auto access = get("aws_access_key_id", "ceph");
  INFO(access.err);
  REQUIRE(access.exit_code == 0);
  CHECK(access.out == k_a + "\n");
  CHECK(get("aws_secret_access_key", "ceph").out == k_s + "\n");
  CHECK(get("aws_session_token", "ceph").exit_code == 1); // gone
  CHECK(get("region", "ceph").out == "RegionOne\n");
  CHECK(get("aws_access_key_id", "default").out == "AKIDEFAULT\n");

  const auto boto3 =
      run(as_nobody({"/usr/bin/python3", k_tools + "/boto3_credentials.py", "ceph"}), env);
  INFO(boto3.err);
  REQUIRE(boto3.exit_code == 0);
  CHECK(boto3.out == "shared-credentials-file " + k_a + " " + k_s + " None\n");
}

TEST_CASE("clients: a profile credrotd creates in a new file is what the AWS CLI reads",
          "[clients][aws]")
{
  ScratchDir dir;
  ConsumerSpec spec;
  spec.type = ConsumerType::aws_credentials;
  spec.path = dir / "credentials";
  spec.profile = "ceph";
  spec.create_profile = true;
  apply_ok(spec);
  const auto env = clean_env(
      {"AWS_SHARED_CREDENTIALS_FILE=" + spec.path, "AWS_CONFIG_FILE=" + dir / "no-config"});
  const auto out = run(
      {"/usr/bin/aws", "configure", "export-credentials", "--profile", "ceph", "--format", "env"},
      env);
  INFO(out.err);
  REQUIRE(out.exit_code == 0);
  CHECK(out.out ==
        "export AWS_ACCESS_KEY_ID=" + k_a + "\nexport AWS_SECRET_ACCESS_KEY=" + k_s + "\n");
}

TEST_CASE("clients: rclone config dump shows exactly the new key", "[clients][rclone]")
{
  require_root();
  ScratchDir dir;
  const std::string path = nobody_file(dir, "rclone.conf",
                                       "\xEF\xBB\xBF# rclone config\r\n"
                                       "[gdrive]\r\n"
                                       "type = drive\r\n"
                                       "\r\n"
                                       "[ceph]\r\n"
                                       "type = s3\r\n"
                                       "provider = Ceph\r\n"
                                       "access_key_id = `AKOLD`\r\n"
                                       "  secret_access_key:SKOLD\r\n"
                                       "endpoint = http://127.0.0.1:18081\r\n"
                                       "[backup]\r\n"
                                       "type = s3\r\n"
                                       "access_key_id = OTHER\r\n");
  ConsumerSpec spec;
  spec.type = ConsumerType::rclone;
  spec.path = path;
  spec.remote = "ceph";
  apply_ok(spec);
  const auto out = run(
      as_nobody({"/usr/bin/rclone", "config", "dump", "--config", path, "--ask-password=false"}),
      clean_env());
  INFO(out.err);
  REQUIRE(out.exit_code == 0);
  const auto json = boost::json::parse(out.out).as_object();
  CHECK(json.at("ceph").at("access_key_id").as_string() == k_a);
  CHECK(json.at("ceph").at("secret_access_key").as_string() == k_s);
  CHECK(json.at("ceph").at("endpoint").as_string() == "http://127.0.0.1:18081");
  CHECK(json.at("backup").at("access_key_id").as_string() == "OTHER");
  CHECK(json.at("gdrive").at("type").as_string() == "drive");

  const auto show = run(as_nobody({"/usr/bin/rclone", "config", "show", "ceph", "--config", path,
                                   "--ask-password=false"}),
                        clean_env());
  REQUIRE(show.exit_code == 0);
  CHECK(has_line(show.out, "access_key_id = " + k_a));
}

TEST_CASE("clients: a config credrotd refuses as encrypted is one rclone cannot read either",
          "[clients][rclone]")
{
  ScratchDir dir;
  // rclone's encrypted format; the payload is arbitrary: rclone must fail to decrypt it.
  const std::string encrypted = "# Encrypted rclone configuration File\n\nRCLONE_ENCRYPT_V0:\n"
                                "b5Uk6mE3cUn5Wb8xiWYnVBAxXUirAaEG1PO/GIDiO9274AOJlVIr"
                                "CKV8xsEW+Lp0nuQqUXfT2Mnq1bWMwBdGCgQwSnavDfjjGdiGwbN6"
                                "UfO0uq0RmUXmVkTi8g3ETMTbV7nUm7O4A4v5TQVo9nHnu/OvMCqM"
                                "VBEt1VZBIPRtV9lxIzLlfkJV1MwoPtAUwV==\n";
  write_file(dir / "rclone.conf", encrypted, 0600);
  ConsumerSpec spec;
  spec.type = ConsumerType::rclone;
  spec.path = dir / "rclone.conf";
  spec.remote = "ceph";
  const auto key = read_key(spec);
  REQUIRE_FALSE(key);
  CHECK(key.error().code == Errc::unsafe);
  CHECK_FALSE(apply(spec, k_a, Secret(k_s)));
  CHECK(read_file(spec.path) == encrypted);
  const auto out =
      run({"/usr/bin/rclone", "config", "dump", "--config", spec.path, "--ask-password=false"},
          clean_env());
  CHECK(out.exit_code == 1);
  CHECK(out.err.find("unable to decrypt configuration") != std::string::npos);
}

TEST_CASE("clients: s3fs mounts a bucket with exactly the new key", "[clients][s3fs]")
{
  require_root();
  ScratchDir dir;
  // 0644: s3fs would refuse the file; credrotd's rewrite leaves it 0600.
  write_file(dir / "passwd-s3fs", "# s3fs\nAKDEFAULT:SKDEFAULT\nprobe:AKOLD:SKOLD\n", 0644);
  ConsumerSpec spec;
  spec.type = ConsumerType::s3fs;
  spec.path = dir / "passwd-s3fs";
  spec.bucket = "probe";
  apply_ok(spec);
  CHECK((lstat_path(spec.path).st_mode & 07777) == 0600);

  const std::string port_file = dir / "port";
  const std::string requests = dir / "requests.log";
  Background server({"/usr/bin/python3", k_tools + "/fake_s3.py", port_file, requests}, clean_env(),
                    dir / "fake_s3.out");
  REQUIRE(wait_until([&] { return exists(port_file); }, std::chrono::seconds(20)));
  const std::string port = read_file(port_file);
  make_dir(dir / "mnt", 0755);
  dir.track_mount(dir / "mnt");
  {
    Background s3fs({"/usr/bin/s3fs", "probe", dir / "mnt", "-f", "-o", "passwd_file=" + spec.path,
                     "-o", "url=http://127.0.0.1:" + port, "-o", "use_path_request_style", "-o",
                     "dbglevel=err"},
                    clean_env(), dir / "s3fs.out");
    const bool requested = wait_until(
        [&] {
          return exists(requests) && read_file(requests).find("access_key=") != std::string::npos;
        },
        std::chrono::seconds(30));
    const std::string s3fs_out = exists(dir / "s3fs.out") ? read_file(dir / "s3fs.out") : "";
    INFO(s3fs_out);
    REQUIRE(requested);
    s3fs.stop();
  }
  ::umount2((dir / "mnt").c_str(), MNT_DETACH);
  const std::string log = read_file(requests);
  CHECK(log.find("access_key=" + k_a + " ") != std::string::npos);
  CHECK(log.find("AKOLD") == std::string::npos);
  CHECK(log.find("AKDEFAULT") == std::string::npos);
}

TEST_CASE("clients: systemd's EnvironmentFile= parser and a shell read exactly the new values",
          "[clients][envfile]")
{
  ScratchDir dir;
  write_file(dir / "s3.env",
             "# restic backup job\n"
             "RESTIC_REPOSITORY=s3:http://127.0.0.1:18081/backups\n"
             "AWS_ACCESS_KEY_ID='AKOLD'\n"
             "  AWS_SECRET_ACCESS_KEY=\"SKOLD\"   \n"
             "RESTIC_PASSWORD_FILE=/etc/restic/password",
             0600);
  ConsumerSpec spec;
  spec.type = ConsumerType::envfile;
  spec.path = dir / "s3.env";
  apply_ok(spec);
  const auto out = run({"/usr/bin/python3", k_tools + "/sd_envfile.py", spec.path}, clean_env());
  INFO(out.err);
  REQUIRE(out.exit_code == 0);
  CHECK(lines_of(out.out) ==
        std::vector<std::string>{"KEEP 'RESTIC_REPOSITORY=s3:http://127.0.0.1:18081/backups'",
                                 "KEEP 'AWS_ACCESS_KEY_ID=" + k_a + "'",
                                 "KEEP 'AWS_SECRET_ACCESS_KEY=" + k_s + "'",
                                 "KEEP 'RESTIC_PASSWORD_FILE=/etc/restic/password'"});
  const auto shell =
      run({"/bin/bash", "-c",
           "set -a; . \"$1\"; set +a; echo \"$AWS_ACCESS_KEY_ID $AWS_SECRET_ACCESS_KEY\"", "bash",
           spec.path},
          clean_env());
  CHECK(shell.out == k_a + " " + k_s + "\n");
}

TEST_CASE("clients: a boto3 script and an mc config.json rendered from templates carry the key",
          "[clients][template]")
{
  ScratchDir dir;
  write_file(dir / "probe.py.tmpl",
             "import boto3\n"
             "s = boto3.Session(aws_access_key_id=\"{{access_key}}\",\n"
             "                  aws_secret_access_key=\"{{ secret_key }}\")\n"
             "c = s.get_credentials().get_frozen_credentials()\n"
             "print(c.access_key, c.secret_key)\n",
             0644);
  ConsumerSpec script;
  script.type = ConsumerType::template_;
  script.path = dir / "probe.py";
  script.template_path = dir / "probe.py.tmpl";
  apply_ok(script);
  const auto out = run({"/usr/bin/python3", script.path}, clean_env());
  INFO(out.err);
  REQUIRE(out.exit_code == 0);
  CHECK(out.out == k_a + " " + k_s + "\n");

  write_file(dir / "mc.json.tmpl",
             R"({"version":"10","aliases":{"ceph":{"url":"http://127.0.0.1:18081",)"
             R"("accessKey":"{{access_key}}","secretKey":"{{secret_key}}","api":"S3v4",)"
             R"("path":"auto"}}})"
             "\n",
             0644);
  ConsumerSpec mc;
  mc.type = ConsumerType::template_;
  mc.path = dir / "config.json";
  mc.template_path = dir / "mc.json.tmpl";
  apply_ok(mc);
  const auto json = boost::json::parse(read_file(mc.path)).as_object();
  CHECK(json.at("aliases").at("ceph").at("accessKey").as_string() == k_a);
  CHECK(json.at("aliases").at("ceph").at("secretKey").as_string() == k_s);
  const auto key = read_key(mc);
  REQUIRE(key);
  CHECK((*key)->access_id == k_a);
}

// Differential tests: many generated files (the property test's generators) are rewritten
// through apply(), and each client's own parser reads the file before and after. The
// client must read the old key before (credrotd's model of its parser agrees), the new key
// after, and everything else exactly as before.
namespace {

constexpr std::uint32_t k_differential_files = 100;

struct Batch {
  std::vector<Generated> files;
  std::vector<std::string> before;
  std::vector<std::string> after;
};

Batch rewrite_generated(
    const ScratchDir& dir, std::uint32_t count,
    const std::function<Generated(std::uint32_t)>& generate,
    const std::function<ConsumerSpec(const std::string&, const Generated&)>& spec)
{
  Batch batch;
  for (std::uint32_t seed = 1; seed <= count; ++seed) {
    Generated file = generate(seed);
    const std::string before = dir / ("before-" + std::to_string(seed));
    const std::string after = dir / ("after-" + std::to_string(seed));
    write_file(before, file.input, 0600);
    write_file(after, file.input, 0600);
    const auto report =
        apply(spec(after, file), k_generated_new_access, Secret(k_generated_new_secret));
    INFO("seed " << seed << ": " << error_of(report));
    REQUIRE(report);
    REQUIRE(read_file(after) == file.expected);
    batch.files.push_back(std::move(file));
    batch.before.push_back(before);
    batch.after.push_back(after);
  }
  return batch;
}

// What the client's parser reads from each file (dump_configs.py).
boost::json::array client_view(const std::string& format, const std::vector<std::string>& paths)
{
  std::vector<std::string> argv = {"/usr/bin/python3", k_tools + "/dump_configs.py", format};
  argv.insert(argv.end(), paths.begin(), paths.end());
  const auto out = run(argv, clean_env());
  INFO(out.err);
  REQUIRE(out.exit_code == 0);
  return boost::json::parse(out.out).as_array();
}

// The parsed view of one file; fails the test when the client refused it.
boost::json::value ok(const boost::json::value& result, const Generated& file)
{
  INFO("input:\n" << file.input);
  INFO(boost::json::serialize(result));
  REQUIRE(result.as_object().contains("ok"));
  return result.at("ok");
}

// Checks that `before` names the file's old key and `after` the new one in the two fields,
// then removes those fields from both, so that the caller can compare what is left.
void check_key_swapped(boost::json::object& before, boost::json::object& after,
                       const Generated& file, std::string_view access_field,
                       std::string_view secret_field)
{
  CHECK(before.at(access_field).as_string() == file.old_access);
  CHECK(before.at(secret_field).as_string() == file.old_secret);
  CHECK(after.at(access_field).as_string() == k_generated_new_access);
  CHECK(after.at(secret_field).as_string() == k_generated_new_secret);
  for (auto* view : {&before, &after}) {
    view->erase(access_field);
    view->erase(secret_field);
  }
}

} // namespace

TEST_CASE("clients: botocore reads the old key before, the new key after, the rest unchanged",
          "[clients][aws][differential]")
{
  ScratchDir dir;
  const Batch batch = rewrite_generated(dir, k_differential_files, generate_aws,
                                        [](const std::string& path, const Generated&) {
                                          ConsumerSpec spec;
                                          spec.type = ConsumerType::aws_credentials;
                                          spec.path = path;
                                          spec.profile = "ceph";
                                          spec.session_token = SessionToken::keep;
                                          return spec;
                                        });
  const auto before = client_view("aws", batch.before);
  const auto after = client_view("aws", batch.after);
  for (std::size_t i = 0; i < batch.files.size(); ++i) {
    const Generated& file = batch.files[i];
    auto b = ok(before[i], file).as_object();
    auto a = ok(after[i], file).as_object();
    auto& bc = b.at("ceph").as_object();
    auto& ac = a.at("ceph").as_object();
    check_key_swapped(bc, ac, file, "aws_access_key_id", "aws_secret_access_key");
    CHECK(boost::json::serialize(b) == boost::json::serialize(a));
  }
}

TEST_CASE("clients: s3cmd reads the old key before, the new key after, the rest unchanged",
          "[clients][s3cmd][differential]")
{
  ScratchDir dir;
  const Batch batch = rewrite_generated(dir, k_differential_files, generate_s3cmd,
                                        [](const std::string& path, const Generated&) {
                                          ConsumerSpec spec;
                                          spec.type = ConsumerType::s3cmd;
                                          spec.path = path;
                                          spec.session_token = SessionToken::keep;
                                          return spec;
                                        });
  const auto before = client_view("s3cmd", batch.before);
  const auto after = client_view("s3cmd", batch.after);
  for (std::size_t i = 0; i < batch.files.size(); ++i) {
    const Generated& file = batch.files[i];
    auto b = ok(before[i], file).as_object();
    auto a = ok(after[i], file).as_object();
    check_key_swapped(b, a, file, "access_key", "secret_key");
    CHECK(boost::json::serialize(b) == boost::json::serialize(a));
  }
}

TEST_CASE("clients: systemd reads the new values after, every other assignment unchanged",
          "[clients][envfile][differential]")
{
  ScratchDir dir;
  const Batch batch = rewrite_generated(dir, k_differential_files, generate_envfile,
                                        [](const std::string& path, const Generated&) {
                                          ConsumerSpec spec;
                                          spec.type = ConsumerType::envfile;
                                          spec.path = path;
                                          return spec;
                                        });
  const auto before = client_view("envfile", batch.before);
  const auto after = client_view("envfile", batch.after);
  const auto split = [](const boost::json::value& env, std::map<std::string, std::string>& ours) {
    std::vector<std::string> rest;
    for (const auto& entry : env.as_array()) {
      const std::string s(entry.as_string());
      const std::string name = s.substr(0, s.find('='));
      if (name == "AWS_ACCESS_KEY_ID" || name == "AWS_SECRET_ACCESS_KEY") {
        ours[name] = s.substr(s.find('=') + 1);
      } else {
        rest.push_back(s);
      }
    }
    return rest;
  };
  for (std::size_t i = 0; i < batch.files.size(); ++i) {
    const Generated& file = batch.files[i];
    std::map<std::string, std::string> b_ours;
    std::map<std::string, std::string> a_ours;
    CHECK(split(ok(before[i], file), b_ours) == split(ok(after[i], file), a_ours));
    // systemd ignores "export NAME=" lines: a variable it did not see before stays unseen.
    for (const auto& [name, old_value, new_value] :
         {std::tuple{std::string("AWS_ACCESS_KEY_ID"), file.old_access, k_generated_new_access},
          std::tuple{std::string("AWS_SECRET_ACCESS_KEY"), file.old_secret,
                     k_generated_new_secret}}) {
      INFO("input:\n" << file.input);
      CHECK(b_ours.count(name) == a_ours.count(name));
      if (b_ours.count(name) != 0) {
        CHECK(b_ours[name] == old_value);
        CHECK(a_ours[name] == new_value);
      }
    }
  }
}

TEST_CASE("clients: rclone reads the old key before, the new key after, the rest unchanged",
          "[clients][rclone][differential]")
{
  ScratchDir dir;
  const Batch batch = rewrite_generated(dir, k_differential_files, generate_rclone,
                                        [](const std::string& path, const Generated&) {
                                          ConsumerSpec spec;
                                          spec.type = ConsumerType::rclone;
                                          spec.path = path;
                                          spec.remote = "ceph";
                                          return spec;
                                        });
  const auto dump = [&](const std::string& path) {
    const auto out =
        run({"/usr/bin/rclone", "config", "dump", "--config", path, "--ask-password=false"},
            clean_env());
    INFO(out.err);
    REQUIRE(out.exit_code == 0);
    return boost::json::parse(out.out).as_object();
  };
  for (std::size_t i = 0; i < batch.files.size(); ++i) {
    const Generated& file = batch.files[i];
    INFO("input:\n" << file.input);
    auto b = dump(batch.before[i]);
    auto a = dump(batch.after[i]);
    auto& bc = b.at("ceph").as_object();
    auto& ac = a.at("ceph").as_object();
    check_key_swapped(bc, ac, file, "access_key_id", "secret_access_key");
    CHECK(boost::json::serialize(b) == boost::json::serialize(a));
  }
}

TEST_CASE("clients: s3fs mounts with the new key from generated passwd files",
          "[clients][s3fs][differential]")
{
  require_root();
  ScratchDir dir;
  const Batch batch =
      rewrite_generated(dir, 10, generate_s3fs, [](const std::string& path, const Generated& file) {
        ConsumerSpec spec;
        spec.type = ConsumerType::s3fs;
        spec.path = path;
        spec.bucket = file.bucket;
        return spec;
      });
  const std::string port_file = dir / "port";
  const std::string requests = dir / "requests.log";
  Background server({"/usr/bin/python3", k_tools + "/fake_s3.py", port_file, requests}, clean_env(),
                    dir / "fake_s3.out");
  REQUIRE(wait_until([&] { return exists(port_file); }, std::chrono::seconds(20)));
  const std::string port = read_file(port_file);
  make_dir(dir / "mnt", 0755);
  dir.track_mount(dir / "mnt");
  for (std::size_t i = 0; i < batch.files.size(); ++i) {
    const Generated& file = batch.files[i];
    INFO("input:\n" << file.input);
    for (const bool after : {false, true}) {
      ::unlink(requests.c_str());
      const std::string bucket = file.bucket.empty() ? "probe" : file.bucket;
      Background s3fs({"/usr/bin/s3fs", bucket, dir / "mnt", "-f", "-o",
                       "passwd_file=" + (after ? batch.after[i] : batch.before[i]), "-o",
                       "url=http://127.0.0.1:" + port, "-o", "use_path_request_style", "-o",
                       "dbglevel=err"},
                      clean_env(), dir / "s3fs.out");
      REQUIRE(wait_until(
          [&] {
            return exists(requests) && read_file(requests).find("access_key=") != std::string::npos;
          },
          std::chrono::seconds(30)));
      s3fs.stop();
      ::umount2((dir / "mnt").c_str(), MNT_DETACH);
      const std::string expected = after ? k_generated_new_access : file.old_access;
      CHECK(read_file(requests).find("GET /" + bucket + "/ access_key=" + expected + " ") !=
            std::string::npos);
    }
  }
}

TEST_CASE("clients: files credrotd refuses as broken are ones the client rejects too",
          "[clients][refusals]")
{
  ScratchDir dir;
  struct Case {
    std::string format; // dump_configs.py format
    std::string content;
  };
  for (const Case& c :
       {Case{"aws", "[ceph]\naws_access_key_id = A\n[ceph]\n"},
        Case{"aws", "[ceph]\naws_access_key_id = A\naws_access_key_id = B\n"},
        Case{"aws", "\xEF\xBB\xBF[ceph]\naws_access_key_id = A\n"},
        Case{"aws", "aws_access_key_id = A\n[ceph]\n"}, Case{"aws", "[ceph]\nno delimiter here\n"},
        Case{"aws", "[ceph]\ns3 =\n  not nested\n"}, Case{"aws", "[ceph]\n# caf\xE9\n"},
        Case{"s3cmd", "access_key = A\n# caf\xE9\n"},
        Case{"envfile", "AWS_ACCESS_KEY_ID=caf\xE9\n"}}) {
    INFO(c.format << ":\n" << c.content);
    write_file(dir / "file", c.content, 0600);
    ConsumerSpec spec;
    spec.type = c.format == "aws"     ? ConsumerType::aws_credentials
                : c.format == "s3cmd" ? ConsumerType::s3cmd
                                      : ConsumerType::envfile;
    spec.path = dir / "file";
    spec.profile = "ceph";
    const auto key = read_key(spec);
    REQUIRE_FALSE(key);
    CHECK(key.error().code == Errc::parse);
    const auto view = client_view(c.format, {spec.path});
    INFO(boost::json::serialize(view));
    CHECK(view.at(0).as_object().contains("error"));
  }

  for (const std::string& content :
       {std::string("[ceph]\nthis line has no equals\n"), std::string("[ceph]\nk = `open\n"),
        std::string("[]\nk = v\n")}) {
    INFO(content);
    write_file(dir / "rclone.conf", content, 0600);
    ConsumerSpec spec;
    spec.type = ConsumerType::rclone;
    spec.path = dir / "rclone.conf";
    spec.remote = "ceph";
    CHECK(read_key(spec).error().code == Errc::parse);
    const auto out =
        run({"/usr/bin/rclone", "config", "dump", "--config", spec.path, "--ask-password=false"},
            clean_env());
    CHECK(out.exit_code == 1);
    CHECK(out.err.find("Failed to load config file") != std::string::npos);
  }

  require_root();
  make_dir(dir / "mnt", 0755);
  for (const auto& [content, message] :
       {std::pair{std::string("AK:SK\nb:A K:S\n"), std::string("found whitespace character")},
        std::pair{std::string("[default]\nAK:SK\n"), std::string("found a bracket")},
        std::pair{std::string("b:A:S\nb:C:D\n"), std::string("multiple entries for the same")}}) {
    INFO(content);
    write_file(dir / "passwd", content, 0600);
    ConsumerSpec spec;
    spec.type = ConsumerType::s3fs;
    spec.path = dir / "passwd";
    spec.bucket = "b";
    CHECK(read_key(spec).error().code == Errc::parse);
    const auto out = run({"/usr/bin/s3fs", "b", dir / "mnt", "-f", "-o", "passwd_file=" + spec.path,
                          "-o", "url=http://127.0.0.1:9", "-o", "dbglevel=err"},
                         clean_env(), std::chrono::seconds(30));
    CHECK(out.exit_code == 1);
    CHECK(out.err.find(message) != std::string::npos);
  }
}

namespace {

// What java.util.Properties reads from duck's credentials file: the password
// UnsecureHostPasswordStore.getPassword(scheme, port, host, user) returns (nullopt for none).
std::optional<std::string> duck_password(const std::string& credentials, const std::string& user)
{
  const auto out = run({"/usr/bin/java", k_tools + "/DuckCredentials.java", "get", credentials,
                        "https", "443", "s3.example.org", user},
                       clean_env());
  INFO(out.err);
  REQUIRE((out.exit_code == 0 || out.exit_code == 3));
  if (out.exit_code == 3) {
    return std::nullopt;
  }
  return out.out.substr(0, out.out.size() - 1);
}

std::string duck_dump(const std::string& credentials)
{
  const auto out =
      run({"/usr/bin/java", k_tools + "/DuckCredentials.java", "dump", credentials}, clean_env());
  INFO(out.err);
  REQUIRE(out.exit_code == 0);
  return out.out;
}

std::string plist_json(const std::string& path)
{
  const auto out =
      run({"/usr/bin/python3", k_tools + "/duck_bookmark.py", "read", path}, clean_env());
  INFO(out.err);
  REQUIRE(out.exit_code == 0);
  return out.out;
}

} // namespace

TEST_CASE("clients: java.util.Properties and plistlib read the new duck login and bookmarks",
          "[clients][cyberduck]")
{
  ScratchDir dir;
  make_dir(dir / "bookmarks", 0700);
  // The files as Java and plistlib write them: duck's own Properties.store() output.
  write_file(dir / "input", "sftp://alice@files.example.org:22\thunter2 = x\n"
                            "https://OLDACCESS@s3.example.org:443\tOLDSECRET\n"
                            "https://OTHER@s3.other.org:443\tSECRET:OTHER\n");
  const auto stored =
      run({"/bin/bash", "-c", "exec /usr/bin/java \"$1\" store \"$2\" <\"$3\"", "bash",
           k_tools + "/DuckCredentials.java", dir / "credentials", dir / "input"},
          clean_env());
  INFO(stored.err);
  REQUIRE(stored.exit_code == 0);
  for (const char* name : {"a.duck", "b.duck"}) {
    REQUIRE(run({"/usr/bin/python3", k_tools + "/duck_bookmark.py", "write",
                 dir / "bookmarks" + "/" + name, "OLDACCESS"},
                clean_env())
                .exit_code == 0);
  }
  const std::string dump_before = duck_dump(dir / "credentials");
  const std::string plist_before = plist_json(dir / "bookmarks/a.duck");

  ConsumerSpec spec;
  spec.type = ConsumerType::cyberduck;
  spec.path = dir / "credentials";
  spec.url = "https://s3.example.org";
  spec.bookmarks = {dir / "bookmarks/a.duck", dir / "bookmarks/b.duck"};
  const auto before = read_key(spec);
  REQUIRE(before);
  REQUIRE(*before);
  CHECK((*before)->access_id == "OLDACCESS");
  CHECK(duck_password(spec.path, "OLDACCESS") == std::optional<std::string>("OLDSECRET"));

  // Keys with the characters Properties escapes.
  for (const auto& [access, secret] :
       {std::pair<std::string, std::string>{k_a, k_s}, {"AK=1.2_3-4", "s3cr=t/+x=="}}) {
    INFO(access);
    const auto report = apply(spec, access, Secret(secret));
    INFO(error_of(report));
    REQUIRE(report);
    CHECK(duck_password(spec.path, access) == std::optional<std::string>(secret));
    std::string expected = plist_before;
    const std::string old_user = "\"Username\": \"OLDACCESS\"";
    expected.replace(expected.find(old_user), old_user.size(), "\"Username\": \"" + access + "\"");
    for (const char* name : {"a.duck", "b.duck"}) {
      CHECK(plist_json(dir / "bookmarks" + "/" + name) == expected);
    }
  }
  CHECK_FALSE(duck_password(spec.path, "OLDACCESS"));
  CHECK_FALSE(duck_password(spec.path, k_a));
  // Every other login unchanged.
  std::string expected_dump = dump_before;
  const std::string old_entry = "https://OLDACCESS@s3.example.org:443\tOLDSECRET\n";
  expected_dump.replace(expected_dump.find(old_entry), old_entry.size(),
                        "https://AK=1.2_3-4@s3.example.org:443\ts3cr=t/+x==\n");
  const auto after = lines_of(duck_dump(spec.path));
  const auto expected = lines_of(expected_dump);
  CHECK(std::set<std::string>(after.begin(), after.end()) ==
        std::set<std::string>(expected.begin(), expected.end()));
}

TEST_CASE("clients: systemd-creds decrypts the credential and systemd's parser reads the key",
          "[clients][systemd-credential]")
{
  ScratchDir dir;
  make_dir(dir / "credstore.encrypted", 0700);
  const CredentialHostKey host_key;
  ConsumerSpec spec;
  spec.type = ConsumerType::systemd_credential;
  spec.path = dir / "credstore.encrypted/s3-backup";
  apply_ok(spec);
  // What LoadCredentialEncrypted=s3-backup does at unit start, then a service reads the file (the
  // system tier's credentials scenario runs a real unit: tests/system/test_system.py).
  const auto decrypted =
      run({"/bin/bash", "-c", "exec /usr/bin/systemd-creds decrypt --name=s3-backup \"$1\" \"$2\"",
           "bash", spec.path, dir / "plain"},
          clean_env({host_key.env()}));
  INFO(decrypted.err);
  REQUIRE(decrypted.exit_code == 0);
  const auto out =
      run({"/usr/bin/python3", k_tools + "/sd_envfile.py", dir / "plain"}, clean_env());
  INFO(out.err);
  REQUIRE(out.exit_code == 0);
  CHECK(lines_of(out.out) == std::vector<std::string>{"KEEP 'AWS_ACCESS_KEY_ID=" + k_a + "'",
                                                      "KEEP 'AWS_SECRET_ACCESS_KEY=" + k_s + "'"});
  // Under another name the credential is refused, as systemd refuses a renamed file.
  const auto renamed = run({"/usr/bin/systemd-creds", "decrypt", "--name=other", spec.path, "-"},
                           clean_env({host_key.env()}));
  CHECK(renamed.exit_code != 0);
}
