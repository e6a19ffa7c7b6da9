// SPDX-License-Identifier: Apache-2.0
// [defaults] and [profile.NAME]: every key with its type, defaults, identity, cross-field rules.
#include "config/duration.hpp"
#include "config_toml_test.hpp"

using namespace credrotd;
using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

TEST_CASE("every profile and daemon key is read with its type", "[config][toml]")
{
  const auto loaded = parse_ok(R"([daemon]
state_dir = "/srv/credrotd"
max_concurrent = 64
metrics_file = "/var/lib/node/credrotd.prom"
clouds_file = "/etc/credrotd/clouds.yaml"
secure_file = "/etc/credrotd/secure.yaml"

[profile."ceph.prod-1_a"]
cloud = "rgw"
project = "storage"
s3_endpoint = "https://s3.example.org:8443/prefix"
region = "RegionOne"
addressing = "virtual"
signature = ["v2", "v4"]
checks = ["probe", "head-bucket", "list-buckets"]
bucket = "my-bucket"
probe_prefix = "tmp/probe-"
ca_file = "/etc/ssl/ca.pem"
insecure = false
interval = 86400
jitter = "1h30m"
window = "22:00-04:00"
grace = 0
verify_timeout = "5m"
keystone_timeout = 30
create_method = "os-ec2"
confirm_retire = false
enabled = false

[[profile."ceph.prod-1_a".consumer]]
type = "aws-credentials"
path = "/root//.aws/credentials"
profile = "ceph prod"
create_profile = true
session_token = "keep"
mode = 0o640
in_place = true
user = "backup$"
check = ["/usr/bin/aws", "s3", "ls"]
check_timeout = "1m"
reload = ["backup.service", "backup@daily.timer"]
reload_action = "try-restart"
run = [["/usr/local/bin/notify", "rotated"], ["/bin/true"]]
run_timeout = 5
)");
  const core::DaemonSettings& daemon = loaded.config.daemon;
  CHECK(daemon.state_dir == "/srv/credrotd");
  CHECK(daemon.max_concurrent == 64);
  CHECK(daemon.metrics_file == "/var/lib/node/credrotd.prom");
  CHECK(daemon.clouds_file == "/etc/credrotd/clouds.yaml");
  CHECK(daemon.secure_file == "/etc/credrotd/secure.yaml");

  const core::Profile& p = only_profile(loaded);
  CHECK(p.name == "ceph.prod-1_a");
  CHECK(p.project == "storage");
  CHECK(p.s3_endpoint == "https://s3.example.org:8443/prefix");
  CHECK(p.region == "RegionOne");
  CHECK(p.addressing == core::Addressing::virtual_);
  CHECK(p.signatures == std::vector<core::SignatureVersion>{core::SignatureVersion::v2,
                                                            core::SignatureVersion::v4});
  CHECK(p.checks == std::vector<core::VerifyCheck>{core::VerifyCheck::probe,
                                                   core::VerifyCheck::head_bucket,
                                                   core::VerifyCheck::list_buckets});
  CHECK(p.bucket == "my-bucket");
  CHECK(p.probe_prefix == "tmp/probe-");
  CHECK(p.ca_file == "/etc/ssl/ca.pem");
  CHECK(p.interval == hours(24));
  CHECK(p.jitter == minutes(90));
  REQUIRE(p.window.has_value());
  CHECK(config::format_window(*p.window) == "22:00-04:00");
  CHECK(p.grace == seconds(0));
  CHECK(p.verify_timeout == minutes(5));
  CHECK(p.keystone_timeout == seconds(30));
  CHECK(p.create_method == core::CreateMethodChoice::os_ec2);
  CHECK_FALSE(p.confirm_retire);
  CHECK_FALSE(p.enabled);

  const core::Consumer& c = p.consumers.at(0);
  CHECK(c.type == core::ConsumerType::aws_credentials);
  CHECK(c.path == "/root/.aws/credentials"); // "//" collapsed
  CHECK(c.aws_profile == "ceph prod");
  CHECK(c.create_profile);
  CHECK(c.session_token == core::SessionTokenPolicy::keep);
  CHECK(c.mode == 0640);
  CHECK(c.in_place);
  CHECK(c.user == "backup$");
  CHECK(c.check == std::vector<std::string>{"/usr/bin/aws", "s3", "ls"});
  CHECK(c.check_timeout == minutes(1));
  CHECK(c.reload == std::vector<std::string>{"backup.service", "backup@daily.timer"});
  CHECK(c.reload_action == core::ReloadAction::try_restart);
  REQUIRE(c.run.size() == 2);
  CHECK(c.run[0] == std::vector<std::string>{"/usr/local/bin/notify", "rotated"});
  CHECK(c.run[1] == std::vector<std::string>{"/bin/true"});
  CHECK(c.run_timeout == seconds(5));

  // grace = 0 is allowed, with a warning.
  REQUIRE(loaded.warnings.size() == 1);
  CHECK_THAT(loaded.warnings[0],
             Catch::StartsWith("c.toml:23:9: [profile.ceph.prod-1_a]: grace = 0"));
}

TEST_CASE("defaults apply to every profile and a profile's own keys win", "[config][toml]")
{
  const auto loaded = parse_ok(R"([defaults]
cloud = "shared"
s3_endpoint = "https://s3.example.org"
interval = "7d"
jitter = "2h"
window = "01:00-03:00"
checks = ["head-bucket"]
bucket = "common"

[profile.a]
[[profile.a.consumer]]
type = "s3cmd"
path = "/a"

[profile.b]
cloud = "own"
interval = "1d"
window = ""
[[profile.b.consumer]]
type = "s3cmd"
path = "/b"
)");
  REQUIRE(loaded.config.profiles.size() == 2);
  const core::Profile& a = loaded.config.profiles[0];
  const core::Profile& b = loaded.config.profiles[1];
  CHECK(a.cloud == "shared");
  CHECK(a.interval == hours(24 * 7));
  CHECK(a.jitter == hours(2));
  CHECK(a.window.has_value());
  CHECK(a.bucket == "common");
  CHECK(b.cloud == "own");
  CHECK(b.interval == hours(24));
  CHECK(b.jitter == hours(2));
  CHECK_FALSE(b.window.has_value()); // "" clears the default window
  CHECK(b.s3_endpoint == "https://s3.example.org");
}

TEST_CASE("a profile needs exactly one identity, an endpoint and a consumer", "[config][toml]")
{
  CHECK(lines_of(errors("[profile.p]\nenabled = true\n")) ==
        std::vector<std::string>{
            "c.toml:1:1: [profile.p]: add cloud = \"NAME\" (a cloud in clouds.yaml) or a "
            "[profile.p.auth] table",
            "c.toml:1:1: [profile.p]: add s3_endpoint = \"https://s3.example.org\"",
            "c.toml:1:1: [profile.p]: add at least one [[profile.p.consumer]] (the file that holds "
            "the key)"});
  CHECK_THAT(errors(k_minimal + "[profile.p.auth]\nauth_url = \"https://k/v3\"\nuser_id = "
                                "\"u\"\npassword_file = \"/s\"\n"),
             Catch::Contains("c.toml:2:9: [profile.p]: set either cloud or [profile.p.auth], not "
                             "both"));
  CHECK(errors("[profile.p]\ncloud = \"c\"\ns3_endpoint = \"https://s3\"\nconsumer = []\n") ==
        "c.toml:4:12: [profile.p]: add at least one [[profile.p.consumer]]");
  CHECK(errors("[profile.p]\ncloud = \"c\"\ns3_endpoint = \"https://s3\"\nconsumer = 1\n") ==
        "c.toml:4:12: consumer in [profile.p] must be an array of tables: write "
        "[[profile.p.consumer]]");
  CHECK(errors("[profile.p]\ncloud = \"c\"\ns3_endpoint = \"https://s3\"\nauth = 1\n"
               "[[profile.p.consumer]]\ntype = \"s3cmd\"\npath = \"/a\"\n") ==
        "c.toml:4:8: auth in [profile.p] must be a table: write [profile.p.auth]");
  CHECK(errors("profile = 3\n") ==
        "c.toml:1:11: profile must be a table: write [profile] sections as [profile.NAME]");
  CHECK(errors("[profile]\np = 3\n") == "c.toml:2:5: profile.p must be a table: write [profile.p]");
}

TEST_CASE("wrong types say what the key takes, at the value's position", "[config][toml]")
{
  const std::string message = errors(k_minimal + R"(
[daemon]
max_concurrent = "4"
state_dir = 1
)" + "[profile.q]\n" + R"(cloud = 1
s3_endpoint = "https://s3.example.org"
interval = 1.5
insecure = "false"
signature = "v4"
checks = "probe"
window = 2
jitter = true
[[profile.q.consumer]]
type = "s3cmd"
path = "/q"
check = "/usr/bin/s3cmd ls"
reload = "x.service"
in_place = 1
mode = true
)");
  CHECK(lines_of(message) ==
        std::vector<std::string>{
            "c.toml:10:18: max_concurrent in [daemon]: must be an integer from 1 to 64, not a "
            "string",
            "c.toml:11:13: state_dir in [daemon]: must be a string, not an integer",
            "c.toml:13:9: cloud in [profile.q]: must be a string, not an integer",
            "c.toml:15:12: interval in [profile.q]: must be a duration like \"15m\" or an integer "
            "number of seconds, not a float",
            "c.toml:16:12: insecure in [profile.q]: must be true or false, not a string",
            "c.toml:17:13: signature in [profile.q]: must be an array of \"v2\" or \"v4\", not a "
            "string",
            "c.toml:18:10: checks in [profile.q]: must be an array of \"list-buckets\", "
            "\"head-bucket\" or \"probe\", not a string",
            "c.toml:19:10: window in [profile.q]: must be a string, not an integer",
            "c.toml:20:10: jitter in [profile.q]: must be a duration like \"15m\" or an integer "
            "number of seconds, not a boolean",
            "c.toml:24:9: check in [[profile.q.consumer]] #1: must be an array of strings, e.g. "
            "[\"/usr/bin/s3cmd\", \"-c\", \"/home/alice/.s3cfg\", \"ls\"], not a string",
            "c.toml:25:10: reload in [[profile.q.consumer]] #1: must be an array of strings, e.g. "
            "[\"backup.service\"], not a string",
            "c.toml:26:12: in_place in [[profile.q.consumer]] #1: must be true or false, not an "
            "integer",
            "c.toml:27:8: mode in [[profile.q.consumer]] #1: must be an octal mode like \"0600\", "
            "not a boolean"});
}

TEST_CASE("cross-field rules: jitter, bucket, virtual addressing", "[config][toml]")
{
  CHECK(errors(k_minimal + "[defaults]\ninterval = \"1h\"\njitter = \"1h\"\n") ==
        "c.toml:10:10: [profile.p]: jitter (1h) must be shorter than interval (1h)");
  CHECK(errors(k_minimal + "[defaults]\ninterval = \"30m\"\n") ==
        "c.toml:9:12: [profile.p]: jitter (1h) must be shorter than interval (30m)");
  CHECK(errors("[profile.p]\ncloud = \"c\"\ns3_endpoint = \"https://s3\"\n"
               "checks = [\"list-buckets\", \"probe\"]\n"
               "[[profile.p.consumer]]\ntype = \"s3cmd\"\npath = \"/a\"\n") ==
        "c.toml:4:10: [profile.p]: checks has \"head-bucket\" or \"probe\"; add bucket = \"NAME\" "
        "(a bucket the key can reach)");
  CHECK(errors("[profile.p]\ncloud = \"c\"\ns3_endpoint = \"https://s3\"\naddressing = "
               "\"virtual\"\nbucket = \"My_Bucket\"\n"
               "[[profile.p.consumer]]\ntype = \"s3cmd\"\npath = \"/a\"\n") ==
        "c.toml:5:10: [profile.p]: bucket \"My_Bucket\" cannot be a host name label, which "
        "addressing = \"virtual\" needs; use addressing = \"path\" or a lower-case DNS-style name");
}

TEST_CASE("warnings: settings that work but deserve a look", "[config][toml]")
{
  const auto loaded = parse_ok(R"([profile.p]
cloud = "c"
s3_endpoint = "http://s3.example.org"
insecure = true
ca_file = "/ca.pem"
[[profile.p.consumer]]
type = "s3cmd"
path = "/a"
mode = "0644"
check_timeout = "1m"
run_timeout = "1m"
reload_action = "restart"
user = "alice"
[[profile.q.consumer]]
type = "s3cmd"
path = "/b"
)" + std::string("[profile.q]\ncloud = \"c\"\ns3_endpoint = \"http://127.0.0.1:8080\"\n"));
  CHECK(loaded.warnings ==
        std::vector<std::string>{
            "c.toml:3:15: s3_endpoint in [profile.p]: plain http: S3 traffic (object data, bucket "
            "listings) is not encrypted",
            "c.toml:4:12: [profile.p]: insecure = true: the S3 endpoint's certificate is not "
            "checked",
            "c.toml:5:11: [profile.p]: ca_file has no effect with insecure = true",
            "c.toml:9:8: mode in [[profile.p.consumer]] #1: the file will hold a secret key and be "
            "readable by everyone",
            "c.toml:10:17: check_timeout in [[profile.p.consumer]] #1: has no effect without check",
            "c.toml:11:15: run_timeout in [[profile.p.consumer]] #1: has no effect without run",
            "c.toml:12:17: reload_action in [[profile.p.consumer]] #1: has no effect without "
            "reload",
            "c.toml:13:8: user in [[profile.p.consumer]] #1: has no effect without check or run"});
  CHECK(parse_ok("[daemon]\nmax_concurrent = 2\n").warnings ==
        std::vector<std::string>{"c.toml: no [profile.NAME] is configured; credrotd has nothing "
                                 "to rotate"});
}
