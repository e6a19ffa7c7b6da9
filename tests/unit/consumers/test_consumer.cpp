// SPDX-License-Identifier: Apache-2.0
// Tests of the consumer entry points: read_key() and apply() for every type, on real files.
#include "consumers/consumer.hpp"
#include "support.hpp"

#include <catch2/catch.hpp>

using namespace credrotd::consumers;
using namespace credrotd::consumers::test;
using credrotd::core::Errc;
using credrotd::core::Secret;

namespace {

const std::string k_a = "0123456789abcdef0123456789abcdef";
const std::string k_s = "fedcba9876543210fedcba9876543210";

ConsumerSpec spec_of(ConsumerType type, std::string path)
{
  ConsumerSpec spec;
  spec.type = type;
  spec.path = std::move(path);
  return spec;
}

// apply() then read_key() gives back the new key, and apply() again changes nothing.
void round_trip(const ConsumerSpec& spec)
{
  const auto report = apply(spec, k_a, Secret(k_s));
  INFO(error_of(report));
  REQUIRE(report);
  CHECK(report->changed);
  CHECK(report->new_sha256 == sha256_hex(read_file(spec.path)));
  const auto key = read_key(spec);
  INFO(error_of(key));
  REQUIRE(key);
  REQUIRE(*key);
  CHECK((*key)->access_id == k_a);
  CHECK((*key)->secret.reveal() == k_s);
  const auto again = apply(spec, k_a, Secret(k_s));
  REQUIRE(again);
  CHECK_FALSE(again->changed);
}

} // namespace

TEST_CASE("consumer: every type round-trips through apply and read_key", "[consumers]")
{
  ScratchDir dir;
  SECTION("s3cmd")
  {
    write_file(dir / "s3cfg", "[default]\naccess_key = A\nsecret_key = S\nuse_https = True\n");
    round_trip(spec_of(ConsumerType::s3cmd, dir / "s3cfg"));
  }
  SECTION("aws-credentials, profile created with the file")
  {
    auto spec = spec_of(ConsumerType::aws_credentials, dir / "credentials");
    spec.profile = "ceph";
    spec.create_profile = true;
    round_trip(spec);
    CHECK((lstat_path(spec.path).st_mode & 07777) == 0600);
  }
  SECTION("rclone")
  {
    write_file(dir / "rclone.conf", "[ceph]\ntype = s3\nprovider = Ceph\n");
    auto spec = spec_of(ConsumerType::rclone, dir / "rclone.conf");
    spec.remote = "ceph";
    round_trip(spec);
  }
  SECTION("s3fs bucket line in a new file")
  {
    auto spec = spec_of(ConsumerType::s3fs, dir / "passwd-s3fs");
    spec.bucket = "backups";
    spec.mode = 0644; // s3fs would refuse it: credrotd clears group and other bits
    round_trip(spec);
    CHECK((lstat_path(spec.path).st_mode & 07777) == 0600);
  }
  SECTION("envfile with custom variables")
  {
    write_file(dir / "mc.env", "MC_HOST=x\n");
    auto spec = spec_of(ConsumerType::envfile, dir / "mc.env");
    spec.access_key_var = "MC_ACCESS_KEY";
    spec.secret_key_var = "MC_SECRET_KEY";
    round_trip(spec);
    CHECK(read_file(spec.path) ==
          "MC_HOST=x\nMC_ACCESS_KEY=" + k_a + "\nMC_SECRET_KEY=" + k_s + "\n");
  }
  SECTION("template")
  {
    write_file(dir / "boto.py.tmpl",
               "import boto3\ns = boto3.Session(aws_access_key_id='{{access_key}}',\n"
               "                  aws_secret_access_key='{{secret_key}}')\n");
    auto spec = spec_of(ConsumerType::template_, dir / "boto.py");
    spec.template_path = dir / "boto.py.tmpl";
    round_trip(spec);
  }
}

TEST_CASE("consumer: a missing file reads as no key, and s3cmd and rclone are not created",
          "[consumers]")
{
  ScratchDir dir;
  const auto key = read_key(spec_of(ConsumerType::s3cmd, dir / "absent"));
  REQUIRE(key);
  CHECK_FALSE(*key);
  const auto s3cmd = apply(spec_of(ConsumerType::s3cmd, dir / "absent"), k_a, Secret(k_s));
  REQUIRE_FALSE(s3cmd);
  CHECK(s3cmd.error().code == Errc::not_found);
  auto aws = spec_of(ConsumerType::aws_credentials, dir / "credentials");
  CHECK(apply(aws, k_a, Secret(k_s)).error().code == Errc::not_found);
  CHECK_FALSE(exists(dir / "absent"));
  CHECK_FALSE(exists(dir / "credentials"));
  auto missing_dir = spec_of(ConsumerType::envfile, dir / "no/such/dir/env");
  const auto error = apply(missing_dir, k_a, Secret(k_s));
  REQUIRE_FALSE(error);
  CHECK(error.error().code == Errc::not_found);
  CHECK(error.error().message.find("directory " + dir / "no" + " does not exist") !=
        std::string::npos);
}

TEST_CASE("consumer: errors name the file and never contain the secret", "[consumers]")
{
  ScratchDir dir;
  write_file(dir / "credentials", "[ceph]\naws_access_key_id = A\n[ceph]\n");
  auto spec = spec_of(ConsumerType::aws_credentials, dir / "credentials");
  spec.profile = "ceph";
  const auto report = apply(spec, k_a, Secret(k_s));
  REQUIRE_FALSE(report);
  CHECK(report.error().code == Errc::parse);
  CHECK(report.error().message.starts_with(dir / "credentials" + ":3:1: section [ceph]"));
  CHECK(report.error().message.find(k_s) == std::string::npos);
  CHECK(read_file(dir / "credentials") == "[ceph]\naws_access_key_id = A\n[ceph]\n");
  const auto bad_secret = apply(spec_of(ConsumerType::s3fs, dir / "p"), k_a, Secret("se:cret"));
  REQUIRE_FALSE(bad_secret);
  CHECK(bad_secret.error().message.find("se:cret") == std::string::npos);
}

TEST_CASE("consumer: specs are checked before any file is touched", "[consumers]")
{
  CHECK(check_spec(spec_of(ConsumerType::s3cmd, "relative/path")).error().code == Errc::config);
  auto rclone = spec_of(ConsumerType::rclone, "/x/rclone.conf");
  CHECK(check_spec(rclone).error().message ==
        "rclone consumer /x/rclone.conf: remote is required for an rclone consumer");
  auto env = spec_of(ConsumerType::envfile, "/x/env");
  env.secret_key_var = env.access_key_var;
  CHECK_FALSE(check_spec(env));
  auto tmpl = spec_of(ConsumerType::template_, "/x/out");
  CHECK_FALSE(check_spec(tmpl));
  auto mode = spec_of(ConsumerType::s3cmd, "/x/s3cfg");
  mode.mode = 04755;
  CHECK_FALSE(check_spec(mode));
  CHECK(parse_consumer_type("aws-credentials") == ConsumerType::aws_credentials);
  CHECK(parse_consumer_type("template") == ConsumerType::template_);
  CHECK_FALSE(parse_consumer_type("aws"));
}
