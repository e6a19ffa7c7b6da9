// SPDX-License-Identifier: Apache-2.0
// credrotd.toml: every key, every error with its position and wording, drop-ins, defaults.
#include "config/config_file.hpp"
#include "config/duration.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <fstream>
#include <regex>
#include <sstream>

using namespace credrotd;
using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

namespace {

constexpr std::string_view k_secret = "hunter2-S3cret";

// A profile that is valid on its own; tests add keys or tables after it.
const std::string k_minimal = R"([profile.p]
cloud = "c"
s3_endpoint = "https://s3.example.org"

[[profile.p.consumer]]
type = "s3cmd"
path = "/home/a/.s3cfg"
)";

config::LoadedConfig parse_ok(const std::string& text, const config::LoadOptions& options = {})
{
  auto result = config::parse_config_text(text, "c.toml", options);
  INFO((result.has_value() ? std::string() : result.error().message));
  REQUIRE(result.has_value());
  return std::move(*result);
}

std::string errors(const std::string& text)
{
  auto result = config::parse_config_text(text, "c.toml");
  REQUIRE_FALSE(result.has_value());
  CHECK(result.error().message.find(k_secret) == std::string::npos);
  return result.error().message;
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

std::string read_file(const std::string& path)
{
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

const core::Profile& only_profile(const config::LoadedConfig& loaded)
{
  REQUIRE(loaded.config.profiles.size() == 1);
  return loaded.config.profiles.front();
}

// Every key of the schema, by section, for the coverage checks on the example and the docs.
const std::vector<std::string> k_daemon_keys{"state_dir", "max_concurrent", "metrics_file",
                                             "clouds_file", "secure_file"};
const std::vector<std::string> k_profile_keys{"cloud",
                                              "project",
                                              "s3_endpoint",
                                              "region",
                                              "addressing",
                                              "signature",
                                              "checks",
                                              "bucket",
                                              "probe_prefix",
                                              "ca_file",
                                              "insecure",
                                              "interval",
                                              "jitter",
                                              "window",
                                              "grace",
                                              "verify_timeout",
                                              "keystone_timeout",
                                              "create_method",
                                              "confirm_retire",
                                              "confirm_retire_recheck",
                                              "enabled"};
const std::vector<std::string> k_consumer_keys{
    "type",       "path",          "profile",        "create_profile", "session_token",
    "remote",     "bucket",        "access_key_var", "secret_key_var", "template",
    "url",        "bookmarks",     "mode",           "in_place",       "user",
    "check",      "check_timeout", "reload",         "reload_action",  "run",
    "run_timeout"};
const std::vector<std::string> k_auth_keys{"auth_url",
                                           "auth_type",
                                           "username",
                                           "user_id",
                                           "user_domain_name",
                                           "user_domain_id",
                                           "project_name",
                                           "project_id",
                                           "project_domain_name",
                                           "project_domain_id",
                                           "application_credential_id",
                                           "application_credential_name",
                                           "region_name",
                                           "interface",
                                           "cacert",
                                           "verify",
                                           "cert",
                                           "key",
                                           "password_file",
                                           "application_credential_secret_file",
                                           "token_file"};

} // namespace

TEST_CASE("the example configuration loads cleanly and uses every option", "[config][toml]")
{
  const std::string path = std::string(CREDROTD_SOURCE_DIR) + "/etc/credrotd.toml";
  const std::string text = read_file(path);
  REQUIRE_FALSE(text.empty());
  auto result = config::parse_config_text(text, path);
  INFO((result.has_value() ? std::string() : result.error().message));
  REQUIRE(result.has_value());
  CHECK(result->warnings.empty());

  // Every key appears as an assignment (auth keys of other auth types may be named in a comment).
  for (const auto* keys : {&k_daemon_keys, &k_profile_keys, &k_consumer_keys}) {
    for (const auto& key : *keys) {
      INFO(key);
      CHECK(std::regex_search(text, std::regex("(^|\\n)\\s*" + key + " = ")));
    }
  }
  for (const auto& key : k_auth_keys) {
    INFO(key);
    CHECK(std::regex_search(text, std::regex("\\b" + key + "\\b")));
  }
  for (const auto* value : {"\"s3cmd\"", "\"aws-credentials\"", "\"rclone\"", "\"s3fs\"",
                            "\"envfile\"", "\"template\""}) {
    INFO(value);
    CHECK(text.find("type = " + std::string(value)) != std::string::npos);
  }

  const core::Config& config = result->config;
  CHECK(config.daemon.state_dir == "/var/lib/credrotd");
  CHECK(config.daemon.max_concurrent == 4);
  CHECK(config.daemon.clouds_file == "/etc/credrotd/clouds.yaml");
  REQUIRE(config.profiles.size() == 2);
  const core::Profile& backup = config.profiles[0];
  CHECK(backup.name == "backup");
  CHECK(backup.cloud == "rgw");
  CHECK(backup.window.has_value());
  CHECK(backup.consumers.size() == 2);
  const core::Profile& media = config.profiles[1];
  CHECK(media.cloud.empty());
  REQUIRE(media.inline_auth.has_value());
  CHECK(media.inline_auth->password_file == "/etc/credrotd/media.password");
  CHECK(media.consumers.size() == 6);
  CHECK(media.window->wraps());
}

TEST_CASE("the reference documentation describes every key", "[config][toml]")
{
  const std::string text = read_file(std::string(CREDROTD_SOURCE_DIR) + "/docs/configuration.md");
  REQUIRE_FALSE(text.empty());
  for (const auto* keys : {&k_daemon_keys, &k_profile_keys, &k_consumer_keys, &k_auth_keys}) {
    for (const auto& key : *keys) {
      INFO(key);
      CHECK(text.find("`" + key + "`") != std::string::npos);
    }
  }
}

TEST_CASE("built-in defaults apply when a key is not written", "[config][toml]")
{
  config::LoadOptions options;
  options.default_state_dir = "/run/state";
  const auto loaded = parse_ok(k_minimal, options);
  CHECK(loaded.warnings.empty());
  CHECK(loaded.config.files == std::vector<std::string>{"c.toml"});
  const core::DaemonSettings& daemon = loaded.config.daemon;
  CHECK(daemon.state_dir == "/run/state");
  CHECK(daemon.max_concurrent == 4);
  CHECK(daemon.metrics_file.empty());
  CHECK(daemon.clouds_file.empty());
  CHECK(daemon.secure_file.empty());

  const core::Profile& p = only_profile(loaded);
  CHECK(p.name == "p");
  CHECK(p.location.to_string() == "c.toml:1:1");
  CHECK(p.cloud == "c");
  CHECK_FALSE(p.inline_auth.has_value());
  CHECK(p.project.empty());
  CHECK(p.region == "us-east-1");
  CHECK(p.addressing == core::Addressing::path);
  CHECK(p.signatures == std::vector<core::SignatureVersion>{core::SignatureVersion::v4});
  CHECK(p.checks == std::vector<core::VerifyCheck>{core::VerifyCheck::list_buckets});
  CHECK(p.bucket.empty());
  CHECK(p.probe_prefix == ".credrotd-probe/");
  CHECK(p.ca_file.empty());
  CHECK_FALSE(p.insecure);
  CHECK(p.interval == hours(24 * 30));
  CHECK(p.jitter == hours(1));
  CHECK_FALSE(p.window.has_value());
  CHECK(p.grace == minutes(15));
  CHECK(p.verify_timeout == minutes(2));
  CHECK(p.keystone_timeout == seconds(60));
  CHECK(p.create_method == core::CreateMethodChoice::auto_);
  CHECK(p.confirm_retire);
  CHECK(p.enabled);

  REQUIRE(p.consumers.size() == 1);
  const core::Consumer& c = p.consumers[0];
  CHECK(c.type == core::ConsumerType::s3cmd);
  CHECK(c.path == "/home/a/.s3cfg");
  CHECK(c.location.to_string() == "c.toml:5:1");
  CHECK(c.aws_profile == "default");
  CHECK_FALSE(c.create_profile);
  CHECK(c.session_token == core::SessionTokenPolicy::remove);
  CHECK(c.access_key_var == "AWS_ACCESS_KEY_ID");
  CHECK(c.secret_key_var == "AWS_SECRET_ACCESS_KEY");
  CHECK(c.mode == 0600);
  CHECK_FALSE(c.in_place);
  CHECK(c.user.empty());
  CHECK(c.check.empty());
  CHECK(c.check_timeout == seconds(30));
  CHECK(c.reload.empty());
  CHECK(c.reload_action == core::ReloadAction::reload_or_restart);
  CHECK(c.run.empty());
  CHECK(c.run_timeout == seconds(30));
}

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

TEST_CASE("each consumer type takes its own options", "[config][toml]")
{
  const auto loaded = parse_ok(R"([profile.p]
cloud = "c"
s3_endpoint = "https://s3.example.org"
[[profile.p.consumer]]
type = "s3cmd"
path = "/a/s3cfg"
session_token = "keep"
[[profile.p.consumer]]
type = "rclone"
path = "/a/rclone.conf"
remote = "ceph"
[[profile.p.consumer]]
type = "s3fs"
path = "/etc/passwd-s3fs"
bucket = "media"
mode = "640"
[[profile.p.consumer]]
type = "envfile"
path = "/etc/restic/s3.env"
access_key_var = "ACCESS"
secret_key_var = "_SECRET2"
[[profile.p.consumer]]
type = "template"
path = "/etc/app/s3.conf"
template = "/etc/credrotd/templates/app.tmpl"
)");
  const auto& consumers = only_profile(loaded).consumers;
  REQUIRE(consumers.size() == 5);
  CHECK(consumers[0].session_token == core::SessionTokenPolicy::keep);
  CHECK(consumers[1].type == core::ConsumerType::rclone);
  CHECK(consumers[1].rclone_remote == "ceph");
  CHECK(consumers[2].type == core::ConsumerType::s3fs);
  CHECK(consumers[2].s3fs_bucket == "media");
  CHECK(consumers[2].mode == 0640);
  CHECK(consumers[3].type == core::ConsumerType::envfile);
  CHECK(consumers[3].access_key_var == "ACCESS");
  CHECK(consumers[3].secret_key_var == "_SECRET2");
  CHECK(consumers[4].type == core::ConsumerType::template_);
  CHECK(consumers[4].template_file == "/etc/credrotd/templates/app.tmpl");
  CHECK(consumers[4].location.to_string() == "c.toml:22:1");
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

TEST_CASE("a default cloud yields to a profile's inline auth", "[config][toml]")
{
  const auto loaded = parse_ok(R"([defaults]
cloud = "shared"
[profile.p]
s3_endpoint = "https://s3.example.org"
[profile.p.auth]
auth_url = "https://k:5000/v3"
auth_type = "v3applicationcredential"
application_credential_id = "abc"
application_credential_secret_file = "/etc/credrotd/p.secret"
interface = "internalURL"
verify = true
[[profile.p.consumer]]
type = "s3cmd"
path = "/a"
)");
  const core::Profile& p = only_profile(loaded);
  CHECK(p.cloud.empty());
  REQUIRE(p.inline_auth.has_value());
  const core::CloudAuth& auth = p.inline_auth->auth;
  CHECK(auth.name == "p");
  CHECK(auth.source == "c.toml:5:1");
  CHECK(auth.auth_type == core::AuthType::application_credential);
  CHECK(auth.auth_url == "https://k:5000/v3");
  CHECK(auth.application_credential_id == "abc");
  CHECK(auth.interface == core::Interface::internal);
  CHECK(auth.application_credential_secret.empty()); // read later by read_inline_secrets
  CHECK(p.inline_auth->application_credential_secret_file == "/etc/credrotd/p.secret");
}

TEST_CASE("inline auth reads every field and says what is missing", "[config][toml]")
{
  const std::string head = "[profile.p]\ns3_endpoint = \"https://s3.example.org\"\n"
                           "[[profile.p.consumer]]\ntype = \"s3cmd\"\npath = \"/a\"\n"
                           "[profile.p.auth]\n";
  SECTION("all password fields")
  {
    const auto loaded = parse_ok(head + R"(auth_url = "https://k/v3"
auth_type = "v3password"
username = "u"
user_id = "uid"
user_domain_name = "Default"
user_domain_id = "default"
project_name = "pn"
project_id = "pid"
project_domain_name = "Default"
project_domain_id = "default"
region_name = "RegionOne"
interface = "admin"
cacert = "/ca.pem"
cert = "/c.pem"
key = "/k.pem"
verify = false
password_file = "/etc/credrotd/p.password"
)");
    const core::CloudAuth& a = only_profile(loaded).inline_auth->auth;
    CHECK(a.auth_type == core::AuthType::password);
    CHECK(a.username == "u");
    CHECK(a.user_id == "uid");
    CHECK(a.user_domain_name == "Default");
    CHECK(a.user_domain_id == "default");
    CHECK(a.project_name == "pn");
    CHECK(a.project_id == "pid");
    CHECK(a.project_domain_name == "Default");
    CHECK(a.project_domain_id == "default");
    CHECK(a.region_name == "RegionOne");
    CHECK(a.interface == core::Interface::admin);
    CHECK(a.cacert == "/ca.pem");
    CHECK(a.cert == "/c.pem");
    CHECK(a.key == "/k.pem");
    CHECK_FALSE(a.verify);
    REQUIRE(loaded.warnings.size() == 1);
    CHECK(loaded.warnings[0] ==
          "c.toml:6:1: [profile.p.auth]: TLS verification of Keystone is off");
  }
  SECTION("nothing given")
  {
    CHECK(
        lines_of(errors(head)) ==
        std::vector<std::string>{
            "c.toml:6:1: [profile.p.auth]: add auth_url = \"https://keystone.example.org:5000/v3\"",
            "c.toml:6:1: [profile.p.auth]: add password_file = \"/etc/credrotd/p.password\" (a "
            "file holding only the password, mode 0600)",
            "c.toml:6:1: [profile.p.auth]: add username (with user_domain_name) or user_id"});
  }
  SECTION("a username and a project name need their domains")
  {
    CHECK(lines_of(errors(head + "auth_url = \"https://k/v3\"\nusername = \"u\"\n"
                                 "project_name = \"p\"\npassword_file = \"/s\"\n")) ==
          std::vector<std::string>{
              "c.toml:6:1: [profile.p.auth]: add user_domain_name (e.g. \"Default\") or "
              "user_domain_id: a username is only unique within its domain",
              "c.toml:6:1: [profile.p.auth]: add project_domain_name (e.g. \"Default\") or "
              "project_domain_id: a project name is only unique within its domain"});
  }
  SECTION("application credentials")
  {
    CHECK_THAT(errors(head + "auth_url = \"https://k/v3\"\nauth_type = "
                             "\"v3applicationcredential\"\npassword_file = \"/s\"\n"
                             "project_id = \"x\"\n"),
               Catch::Contains("add application_credential_secret_file") &&
                   Catch::Contains("add application_credential_id (or "
                                   "application_credential_name with user_id or username)") &&
                   Catch::Contains("remove project_id/project_name") &&
                   Catch::Contains("password_file does not apply to auth_type "
                                   "\"v3applicationcredential\"; remove it"));
    CHECK_THAT(errors(head + "auth_url = \"https://k/v3\"\nauth_type = "
                             "\"v3applicationcredential\"\napplication_credential_name = \"n\"\n"
                             "application_credential_secret_file = \"/s\"\n"),
               Catch::Contains("add user_id or username (with user_domain_name)"));
  }
  SECTION("tokens: token_file, and a warning that tokens expire")
  {
    CHECK_THAT(errors(head + "auth_url = \"https://k/v3\"\nauth_type = \"token\"\n"),
               Catch::Contains("add token_file = \"/etc/credrotd/p.token\""));
    const auto loaded = parse_ok(head + "auth_url = \"https://k/v3\"\nauth_type = \"v3token\"\n"
                                        "token_file = \"/etc/credrotd/t\"\nproject_id = \"p\"\n");
    CHECK(only_profile(loaded).inline_auth->auth.auth_type == core::AuthType::token);
    REQUIRE(loaded.warnings.size() == 1);
    CHECK_THAT(loaded.warnings[0], Catch::Contains("a token expires"));
  }
  SECTION("inline secrets are refused without repeating them")
  {
    const std::string message =
        errors(head + "auth_url = \"https://k/v3\"\nuser_id = \"u\"\npassword = \"" +
               std::string(k_secret) + "\"\ntoken = \"" + std::string(k_secret) + "\"\n");
    CHECK(lines_of(message) ==
          std::vector<std::string>{
              "c.toml:9:12: password in [profile.p.auth]: secrets are not written in "
              "credrotd.toml; put it in a file readable only by root and set password_file = "
              "\"/etc/credrotd/p.password\" (mode 0600), or use a clouds.yaml cloud with "
              "secure.yaml",
              "c.toml:10:9: token in [profile.p.auth]: secrets are not written in credrotd.toml; "
              "put it in a file readable only by root and set token_file = "
              "\"/etc/credrotd/p.token\" (mode 0600), or use a clouds.yaml cloud with "
              "secure.yaml"});
  }
  SECTION("bad values")
  {
    const std::string message = errors(head + "auth_url = \"https://k/v3\"\nauth_type = \"oidc\"\n"
                                              "interface = \"private\"\ncacert = \"ca.pem\"\n"
                                              "verify = \"no\"\nuser = \"x\"\nproject = \"p\"\n");
    CHECK(lines_of(message) ==
          std::vector<std::string>{
              "c.toml:8:13: auth_type in [profile.p.auth]: \"oidc\" is not allowed; use "
              "\"password\", \"v3password\", \"v3applicationcredential\", \"token\" or \"v3token\"",
              "c.toml:9:13: interface in [profile.p.auth]: \"private\" is not allowed; use "
              "\"public\", \"internal\", \"admin\", \"publicURL\", \"internalURL\" or \"adminURL\"",
              "c.toml:10:10: cacert in [profile.p.auth]: must be an absolute path (starting with "
              "/), or \"\", not \"ca.pem\"",
              "c.toml:11:10: verify in [profile.p.auth]: must be true or false, not a string",
              "c.toml:12:1: unknown key \"user\" in [profile.p.auth] (allowed: auth_url, "
              "auth_type, username, user_id, user_domain_name, "
              "user_domain_id, project_name, project_id, project_domain_name, project_domain_id, "
              "application_credential_id, application_credential_name, region_name, interface, "
              "cacert, verify, cert, key, password_file, application_credential_secret_file, "
              "token_file)",
              "c.toml:13:1: unknown key \"project\" in [profile.p.auth]; project is a profile "
              "option; put it in [profile.p]"});
  }
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

TEST_CASE("bad values say what is allowed", "[config][toml]")
{
  const auto first_error = [](const std::string& key_lines) {
    return lines_of(errors(k_minimal + key_lines)).at(0);
  };
  const std::string consumer = "[[profile.p.consumer]]\npath = \"/other\"\n";
  CHECK(first_error("[daemon]\nmax_concurrent = 65\n") ==
        "c.toml:9:18: max_concurrent in [daemon]: must be from 1 to 64, not 65");
  CHECK(first_error("[daemon]\nmetrics_file = \"m.prom\"\n") ==
        "c.toml:9:16: metrics_file in [daemon]: must be an absolute path (starting with /), or "
        "\"\", not \"m.prom\"");
  CHECK(first_error("[defaults]\nregion = \"us east\"\n") ==
        "c.toml:9:10: region in [defaults]: must be a region name like \"us-east-1\" (no spaces "
        "or /)");
  CHECK(first_error("[defaults]\ncreate_method = \"magic\"\n") ==
        "c.toml:9:17: create_method in [defaults]: \"magic\" is not allowed; use \"auto\", "
        "\"credentials\" or \"os-ec2\"");
  CHECK(first_error("[defaults]\nsignature = [\"v3\"]\n") ==
        "c.toml:9:14: signature in [defaults]: \"v3\" is not allowed; use \"v2\" or \"v4\"");
  CHECK(first_error("[defaults]\nverify_timeout = \"0s\"\n") ==
        "c.toml:9:18: verify_timeout in [defaults]: must be longer than zero");
  CHECK(first_error("[defaults]\nkeystone_timeout = 0\n") ==
        "c.toml:9:20: keystone_timeout in [defaults]: must be longer than zero");
  CHECK(first_error("[defaults]\ninterval = -60\n") ==
        "c.toml:9:12: interval in [defaults]: must not be negative");
  CHECK(first_error("[defaults]\ninterval = 999999999999\n") ==
        "c.toml:9:12: interval in [defaults]: is too long (at most 3650d)");
  CHECK(first_error("[defaults]\nprobe_prefix = \"/abs\"\n") ==
        "c.toml:9:16: probe_prefix in [defaults]: must be a non-empty object key prefix not "
        "starting with /, e.g. \".credrotd-probe/\"");
  CHECK(first_error("[defaults]\nbucket = \"a/b\"\n") ==
        "c.toml:9:10: bucket in [defaults]: must be a bucket name (no /, no spaces), or \"\"");
  CHECK(first_error("[defaults]\nwindow = \"03:00-03:00\"\n") ==
        "c.toml:9:10: window in [defaults]: the window covers the whole day; write window = \"\" "
        "for any time");
  CHECK(first_error("[defaults]\ns3_endpoint = \"s3.example.org\"\n") ==
        "c.toml:9:15: s3_endpoint in [defaults]: is not a URL; write e.g. "
        "\"https://s3.example.org\"");
  CHECK(first_error("[defaults]\ns3_endpoint = \"https://s3/?a=b\"\n") ==
        "c.toml:9:15: s3_endpoint in [defaults]: must not contain a query (?...) or fragment "
        "(#...)");
  CHECK(first_error("[defaults]\ns3_endpoint = \"https:///x\"\n") ==
        "c.toml:9:15: s3_endpoint in [defaults]: has no host; write e.g. "
        "\"https://s3.example.org\"");
  // Found by fuzz/config_toml: endpoints the HTTP client refuses passed --check-config.
  CHECK(first_error("[defaults]\ns3_endpoint = \"https://s3:99999\"\n") ==
        "c.toml:9:15: s3_endpoint in [defaults]: has a port that is not a number from 1 to "
        "65535");
  CHECK(first_error("[defaults]\ns3_endpoint = \"https://s3:0/\"\n") ==
        "c.toml:9:15: s3_endpoint in [defaults]: has a port that is not a number from 1 to "
        "65535");
  CHECK(first_error("[defaults]\ns3_endpoint = \"http://%41%00:80/\"\n") ==
        "c.toml:9:15: s3_endpoint in [defaults]: has a host name with characters no host name "
        "holds (percent-encoded bytes decode to them)");
  CHECK(first_error("[defaults]\ns3_endpoint = \"http://[v1.x]/\"\n") ==
        "c.toml:9:15: s3_endpoint in [defaults]: has no host; write e.g. "
        "\"https://s3.example.org\"");

  // Consumers.
  CHECK(first_error(consumer + "type = \"s3cmd\"\nmode = 0o1777\n") ==
        "c.toml:11:8: mode in [[profile.p.consumer]] #2: must be a permission mode from \"0000\" "
        "to \"0777\"");
  CHECK(first_error(consumer + "type = \"s3cmd\"\nmode = \"0x1\"\n") ==
        "c.toml:11:8: mode in [[profile.p.consumer]] #2: must be an octal mode like \"0600\"");
  CHECK(first_error(consumer + "type = \"s3cmd\"\npath = \"/a/\"\n") ==
        "c.toml:11:8: invalid TOML: Error while parsing key-value pair: cannot redefine existing "
        "string 'path'");
  CHECK(first_error("[[profile.p.consumer]]\ntype = \"s3cmd\"\npath = \"/a/\"\n") ==
        "c.toml:10:8: path in [[profile.p.consumer]] #2: must name a file, not a directory (no "
        "trailing /)");
  CHECK(first_error("[[profile.p.consumer]]\ntype = \"s3cmd\"\npath = \"/a/./b\"\n") ==
        "c.toml:10:8: path in [[profile.p.consumer]] #2: must not contain \".\" or \"..\" "
        "components");
  CHECK(first_error(consumer + "type = \"envfile\"\naccess_key_var = \"1BAD\"\n") ==
        "c.toml:11:18: access_key_var in [[profile.p.consumer]] #2: must be an environment "
        "variable name ([A-Za-z_][A-Za-z0-9_]*)");
  CHECK(first_error(consumer + "type = \"envfile\"\naccess_key_var = \"X\"\nsecret_key_var = "
                               "\"X\"\n") ==
        "c.toml:8:1: [[profile.p.consumer]] #2: access_key_var and secret_key_var must differ");
  CHECK(first_error(consumer + "type = \"rclone\"\nremote = \"a:b\"\n") ==
        "c.toml:11:10: remote in [[profile.p.consumer]] #2: must be an rclone remote name like "
        "\"ceph\" (no brackets, colons, or surrounding spaces)");
  CHECK(first_error(consumer + "type = \"aws-credentials\"\nprofile = \"[x]\"\n") ==
        "c.toml:11:11: profile in [[profile.p.consumer]] #2: must be an AWS profile name like "
        "\"default\" (no brackets, no surrounding spaces)");
  CHECK(first_error(consumer + "type = \"s3fs\"\nbucket = \"a:b\"\n") ==
        "c.toml:11:10: bucket in [[profile.p.consumer]] #2: must be a bucket name (no colons or "
        "spaces), or \"\" for the ACCESS:SECRET line");
  CHECK(first_error(consumer + "type = \"s3cmd\"\nreload = [\"a b.service\"]\n") ==
        "c.toml:11:10: reload in [[profile.p.consumer]] #2: \"a b.service\" contains a character "
        "systemd does not allow in unit names");
  CHECK(first_error(consumer + "type = \"s3cmd\"\nreload_action = \"stop\"\n") ==
        "c.toml:11:17: reload_action in [[profile.p.consumer]] #2: \"stop\" is not allowed; use "
        "\"reload\", \"restart\", \"try-restart\" or \"reload-or-restart\"");
  CHECK(first_error(consumer + "type = \"s3cmd\"\nrun = [[]]\n") ==
        "c.toml:11:8: run in [[profile.p.consumer]] #2: must not be empty; remove the key for no "
        "command");
  CHECK(first_error(consumer + "type = \"s3cmd\"\nrun = [[\"notify\"]]\n") ==
        "c.toml:11:8: run in [[profile.p.consumer]] #2: the program (first element) must be an "
        "absolute path; there is no shell and no PATH lookup");
  CHECK(first_error(consumer + "type = \"template\"\ntemplate = \"/other\"\n") ==
        "c.toml:8:1: [[profile.p.consumer]] #2: template and path must be different files");
  CHECK(first_error(consumer + "type = \"s3cmd\"\nuser = \"a b\"\n") ==
        "c.toml:11:8: user in [[profile.p.consumer]] #2: must be a user name like \"alice\", or "
        "\"\" for the daemon's user");
  CHECK(first_error("[[profile.p.consumer]]\n[[profile.p.consumer]]\ntype = 1\n") ==
        "c.toml:8:1: [[profile.p.consumer]] #2: add type = \"s3cmd\", \"aws-credentials\", "
        "\"rclone\", \"s3fs\", \"envfile\", \"template\", \"cyberduck\", \"python\" or "
        "\"systemd-credential\"");
  CHECK(first_error("[[profile.p.consumer]]\ntype = \"s3cmd\"\n") ==
        "c.toml:8:1: [[profile.p.consumer]] #2: add path = \"/absolute/path/of/the/file\"");
}

TEST_CASE("unit names are checked the way systemd checks them", "[config][toml]")
{
  const auto reload_error = [](const std::string& unit) {
    return errors(k_minimal + "reload = ['" + unit + "']\n");
  };
  CHECK_THAT(reload_error("backup"), Catch::EndsWith("\"backup\" needs a unit type suffix, e.g. "
                                                     "\"backup.service\""));
  CHECK_THAT(reload_error("backup.conf"), Catch::Contains("needs a unit type suffix"));
  CHECK_THAT(reload_error("x@.service"),
             Catch::EndsWith("\"x@.service\" is a template; name an instance, e.g. "
                             "\"x@NAME.service\""));
  CHECK_THAT(reload_error("@x.service"), Catch::EndsWith("is not a valid unit name"));
  for (const auto* unit : {"backup.service", "mnt-data.mount", "getty@tty1.service",
                           "a\\x2db.socket", "x.timer", "y.path", "z.target"}) {
    INFO(unit);
    parse_ok(k_minimal + "reload = ['" + std::string(unit) + "']\n");
  }
}

TEST_CASE("an option for another consumer type is an error naming the types that take it",
          "[config][toml]")
{
  CHECK(lines_of(errors(k_minimal + "remote = \"ceph\"\nprofile = \"x\"\nbucket = \"b\"\n"
                                    "template = \"/t\"\naccess_key_var = \"A\"\n")) ==
        std::vector<std::string>{
            "c.toml:8:10: remote in [[profile.p.consumer]] #1: does not apply to type \"s3cmd\"; "
            "only \"rclone\" consumers take it",
            "c.toml:9:11: profile in [[profile.p.consumer]] #1: does not apply to type \"s3cmd\"; "
            "only \"aws-credentials\" consumers take it",
            "c.toml:10:10: bucket in [[profile.p.consumer]] #1: does not apply to type "
            "\"s3cmd\"; only \"s3fs\" consumers take it",
            "c.toml:11:12: template in [[profile.p.consumer]] #1: does not apply to type "
            "\"s3cmd\"; only \"template\" consumers take it",
            "c.toml:12:18: access_key_var in [[profile.p.consumer]] #1: does not apply to type "
            "\"s3cmd\"; only \"envfile\" consumers take it"});
  CHECK_THAT(errors("[profile.p]\ncloud = \"c\"\ns3_endpoint = \"https://s3\"\n"
                    "[[profile.p.consumer]]\ntype = \"rclone\"\npath = \"/r\"\nremote = \"r\"\n"
                    "session_token = \"keep\"\n"),
             Catch::EndsWith("session_token in [[profile.p.consumer]] #1: does not apply to type "
                             "\"rclone\"; only \"aws-credentials\" and \"s3cmd\" consumers take "
                             "it"));
  CHECK(errors("[profile.p]\ncloud = \"c\"\ns3_endpoint = \"https://s3\"\n"
               "[[profile.p.consumer]]\ntype = \"rclone\"\npath = \"/r\"\n") ==
        "c.toml:4:1: [[profile.p.consumer]] #1: add remote = \"NAME\", the [NAME] section of "
        "rclone.conf");
  CHECK(errors("[profile.p]\ncloud = \"c\"\ns3_endpoint = \"https://s3\"\n"
               "[[profile.p.consumer]]\ntype = \"template\"\npath = \"/r\"\n") ==
        "c.toml:4:1: [[profile.p.consumer]] #1: add template = "
        "\"/etc/credrotd/templates/NAME.tmpl\"");
  CHECK(errors("[profile.p]\ncloud = \"c\"\ns3_endpoint = \"https://s3\"\n"
               "[[profile.p.consumer]]\ntype = \"cyberduck\"\npath = \"/r\"\n") ==
        "c.toml:4:1: [[profile.p.consumer]] #1: add url = \"https://s3.example.org\", the "
        "endpoint of the login in duck's credentials file");
  CHECK(errors("[profile.p]\ncloud = \"c\"\ns3_endpoint = \"https://s3\"\n"
               "[[profile.p.consumer]]\ntype = \"cyberduck\"\npath = \"/r\"\n"
               "url = \"https://u@s3\"\nbookmarks = [\"b.duck\"]\n") ==
        "c.toml:7:7: url in [[profile.p.consumer]] #1: must be the S3 endpoint as duck names it, "
        "\"https://HOST\" or \"https://HOST:PORT\" (no user, path or query)\n"
        "c.toml:8:13: bookmarks in [[profile.p.consumer]] #1: \"b.duck\" is not an absolute path");
  const auto credential = config::parse_config_text(
      "[profile.p]\ncloud = \"c\"\ns3_endpoint = \"https://s3\"\n"
      "[[profile.p.consumer]]\ntype = \"systemd-credential\"\n"
      "path = \"/etc/credstore.encrypted/s3\"\nreload = [\"backup.service\"]\n",
      "c.toml");
  REQUIRE(credential.has_value());
  CHECK(credential->config.profiles[0].consumers[0].reload_action == core::ReloadAction::restart);
  CHECK(errors("[profile.p]\ncloud = \"c\"\ns3_endpoint = \"https://s3\"\n"
               "[[profile.p.consumer]]\ntype = \"systemd-credential\"\npath = \"/r\"\n"
               "reload = [\"a.service\"]\nreload_action = \"reload\"\n") ==
        "c.toml:8:17: reload_action in [[profile.p.consumer]] #1: must be \"restart\" or "
        "\"try-restart\" for a systemd-credential consumer: systemd reads credentials only when "
        "a unit starts (the default is \"restart\")");
  const auto python = config::parse_config_text(
      "[profile.p]\ncloud = \"c\"\ns3_endpoint = \"https://s3\"\n"
      "[[profile.p.consumer]]\ntype = \"python\"\npath = \"/srv/app/Example.py\"\n",
      "c.toml");
  REQUIRE(python.has_value());
  REQUIRE(python->warnings.size() == 1);
  CHECK_THAT(python->warnings[0],
             Catch::StartsWith("c.toml:5:8: type in [[profile.p.consumer]] #1: "
                               "keeps the key inline in a script"));
}

TEST_CASE("unknown keys suggest the right spelling or the right table", "[config][toml]")
{
  CHECK(
      lines_of(errors(k_minimal + "chek = [\"/bin/true\"]\ninterval = \"1d\"\n"
                                  "[profile.p.x]\n[daemon]\nstatedir = \"/x\"\ngrace = \"1m\"\n"
                                  "[defaults]\nconsumer = []\nauth = {}\nmode = \"0600\"\n"
                                  "max_concurrent = 1\n[mystery]\n")) ==
      std::vector<std::string>{
          "c.toml:8:1: unknown key \"chek\" in [[profile.p.consumer]] #1; did you mean \"check\"? "
          "(allowed: type, path, profile, create_profile, session_token, remote, bucket, "
          "access_key_var, secret_key_var, template, url, bookmarks, mode, in_place, user, check, "
          "check_timeout, reload, reload_action, run, run_timeout)",
          "c.toml:9:1: unknown key \"interval\" in [[profile.p.consumer]] #1; interval is a "
          "profile option; put it in [profile.p]",
          "c.toml:10:12: unknown key \"x\" in [profile.p] (allowed: cloud, project, "
          "s3_endpoint, region, addressing, signature, checks, bucket, probe_prefix, ca_file, "
          "insecure, interval, jitter, window, grace, verify_timeout, keystone_timeout, "
          "create_method, confirm_retire, confirm_retire_recheck, enabled)",
          "c.toml:12:1: unknown key \"statedir\" in [daemon]; did you mean \"state_dir\"? "
          "(allowed: state_dir, max_concurrent, metrics_file, clouds_file, secure_file)",
          "c.toml:13:1: unknown key \"grace\" in [daemon]; grace is a profile option; put it in "
          "[defaults] or a [profile.NAME]",
          "c.toml:15:1: [defaults] cannot hold consumer; put it in each [profile.NAME]",
          "c.toml:16:1: [defaults] cannot hold auth; put it in each [profile.NAME]",
          "c.toml:17:1: unknown key \"mode\" in [defaults]; mode is a consumer option; put it in "
          "a [[profile.NAME.consumer]] table",
          "c.toml:18:1: unknown key \"max_concurrent\" in [defaults]; max_concurrent is a daemon "
          "option; put it in [daemon]",
          "c.toml:19:2: unknown key \"mystery\" in the top level (allowed: daemon, defaults, "
          "profile)"});
  CHECK_THAT(errors(k_minimal + "[profile.q]\npassword = \"" + std::string(k_secret) + "\"\n"),
             Catch::Contains("c.toml:9:1: unknown key \"password\" in [profile.q]; secrets are "
                             "not written in credrotd.toml; use password_file in "
                             "[profile.NAME.auth], or a clouds.yaml cloud with secure.yaml"));
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

TEST_CASE("TOML syntax errors name the position and never quote an inline secret", "[config][toml]")
{
  auto result = config::parse_config_text("[daemon]\nmax_concurrent = = 4\n", "c.toml");
  REQUIRE_FALSE(result.has_value());
  CHECK(result.error().code == core::Errc::parse);
  CHECK_THAT(result.error().message, Catch::StartsWith("c.toml:2:18: invalid TOML: "));

  const std::string secret_line = "[profile.p.auth]\npassword = \"" + std::string(k_secret) +
                                  "\" trailing-" + std::string(k_secret) + "\n";
  auto leaky = config::parse_config_text(secret_line, "c.toml");
  REQUIRE_FALSE(leaky.has_value());
  const std::string message = leaky.error().message;
  CHECK(message.find(k_secret.substr(0, 3)) == std::string::npos);
  CHECK(message.find("'t'") == std::string::npos); // toml++ would say "saw 't'"
  CHECK_THAT(message, Catch::StartsWith("c.toml:2:") &&
                          Catch::EndsWith("(this file sets an inline secret, which credrotd.toml "
                                          "does not allow: use password_file, "
                                          "application_credential_secret_file or token_file)"));
}

TEST_CASE("profiles and consumer paths are unique across all files", "[config][toml]")
{
  std::vector<config::ConfigDocument> documents{
      {"/etc/credrotd/credrotd.toml", k_minimal, std::nullopt},
      {"/etc/credrotd/credrotd.d/10-more.toml",
       "\n[profile.p]\ncloud = \"x\"\n\n[profile.q]\ncloud = \"c\"\ns3_endpoint = \"https://s3\"\n"
       "[[profile.q.consumer]]\ntype = \"s3cmd\"\npath = \"/home//a/.s3cfg\"\n",
       std::nullopt}};
  auto result = config::parse_config(documents);
  REQUIRE_FALSE(result.has_value());
  CHECK(lines_of(result.error().message) ==
        std::vector<std::string>{
            "/etc/credrotd/credrotd.d/10-more.toml:2:1: profile \"p\" is defined twice: here and "
            "at /etc/credrotd/credrotd.toml:1:1; profile names must be unique across all files",
            "/etc/credrotd/credrotd.d/10-more.toml:8:1: profile \"q\" consumer #1 writes "
            "/home/a/.s3cfg, which profile \"p\" consumer #1 (/etc/credrotd/credrotd.toml:5:1) "
            "writes too; two consumers must not write the same file"});
}

TEST_CASE("drop-ins may set daemon and defaults keys and the later file wins per key",
          "[config][toml]")
{
  std::vector<config::ConfigDocument> documents{
      {"main.toml",
       "[daemon]\nmax_concurrent = 2\nmetrics_file = \"/m\"\n[defaults]\ninterval = \"2d\"\n"
       "jitter = \"5m\"\n" +
           k_minimal,
       std::nullopt},
      {"10.toml", "[daemon]\nmax_concurrent = 3\n[defaults]\ninterval = \"3d\"\n", std::nullopt},
      {"20.toml", "[daemon]\nmax_concurrent = 8\n", std::nullopt}};
  auto result = config::parse_config(documents);
  INFO((result.has_value() ? std::string() : result.error().message));
  REQUIRE(result.has_value());
  CHECK(result->config.files == std::vector<std::string>{"main.toml", "10.toml", "20.toml"});
  CHECK(result->config.daemon.max_concurrent == 8);
  CHECK(result->config.daemon.metrics_file == "/m");
  // [defaults] from a later file reaches a profile of an earlier one.
  CHECK(only_profile(*result).interval == hours(72));
  CHECK(only_profile(*result).jitter == minutes(5));
}

TEST_CASE("configuration files writable by others are refused", "[config][toml]")
{
  std::vector<config::ConfigDocument> documents{{"/etc/credrotd/credrotd.toml", k_minimal, 0666}};
  auto result = config::parse_config(documents);
  REQUIRE_FALSE(result.has_value());
  CHECK(result.error().message ==
        "/etc/credrotd/credrotd.toml: writable by everyone; it names files credrotd writes and "
        "commands it runs: chmod o-w /etc/credrotd/credrotd.toml");
  documents[0].mode = 0664;
  auto group = config::parse_config(documents);
  REQUIRE(group.has_value());
  CHECK(group->warnings ==
        std::vector<std::string>{"/etc/credrotd/credrotd.toml: writable by its group; whoever can "
                                 "edit it controls which files credrotd writes and which commands "
                                 "it runs"});
}

TEST_CASE("load_config reads the main file, then the drop-ins in lexical order", "[config][toml]")
{
  test::TempDir dir;
  config::ConfigPaths paths{dir / "credrotd.toml", dir / "credrotd.d"};
  auto missing = config::load_config(paths);
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.error().code == core::Errc::io);
  CHECK(missing.error().message ==
        dir / "credrotd.toml" + ": cannot read the configuration: No such file or directory");

  dir.write("credrotd.toml", "[daemon]\nmax_concurrent = 1\n" + k_minimal, 0644);
  auto no_dropins = config::load_config(paths);
  REQUIRE(no_dropins.has_value());
  CHECK(no_dropins->config.files == std::vector<std::string>{dir / "credrotd.toml"});

  dir.write("credrotd.d/20-b.toml", "[daemon]\nmax_concurrent = 20\n", 0644);
  dir.write("credrotd.d/10-a.toml", "[daemon]\nmax_concurrent = 10\n", 0644);
  dir.write("credrotd.d/B-upper.toml", "[daemon]\nmax_concurrent = 30\n", 0644);
  dir.write("credrotd.d/.hidden.toml", "garbage = = =\n", 0644);
  dir.write("credrotd.d/notes.conf", "garbage = = =\n", 0644);
  dir.write("credrotd.d/masked.toml", "", 0644);
  auto loaded = config::load_config(paths);
  INFO((loaded.has_value() ? std::string() : loaded.error().message));
  REQUIRE(loaded.has_value());
  CHECK(loaded->config.files ==
        std::vector<std::string>{dir / "credrotd.toml", dir / "credrotd.d/10-a.toml",
                                 dir / "credrotd.d/20-b.toml", dir / "credrotd.d/B-upper.toml",
                                 dir / "credrotd.d/masked.toml"});
  CHECK(loaded->config.daemon.max_concurrent == 30); // "B" sorts after "2" in byte order

  SECTION("a drop-in linked to /dev/null masks nothing and is fine")
  {
    std::filesystem::create_symlink("/dev/null", dir / "credrotd.d/30-null.toml");
    auto masked = config::load_config(paths);
    REQUIRE(masked.has_value());
    CHECK(masked->config.files.size() == 6);
  }
  SECTION("errors name the drop-in")
  {
    dir.write("credrotd.d/40-bad.toml", "[daemon]\nmax_concurrent = 0\n", 0644);
    auto bad = config::load_config(paths);
    REQUIRE_FALSE(bad.has_value());
    CHECK(bad.error().message == dir / "credrotd.d/40-bad.toml" +
                                     ":2:18: max_concurrent in [daemon]: must be from 1 to 64, "
                                     "not 0");
  }
}

TEST_CASE("inline-auth secrets are read from files that only the owner can read", "[config][toml]")
{
  test::TempDir dir;
  const std::string secret_path = dir.write("p.password", std::string(k_secret) + "\r\n", 0600);
  dir.write("credrotd.toml",
            k_minimal.substr(0, k_minimal.find("cloud")) + k_minimal.substr(k_minimal.find("s3_")) +
                "[profile.p.auth]\nauth_url = \"https://k/v3\"\nuser_id = \"u\"\n"
                "password_file = \"" +
                secret_path + "\"\n",
            0644);
  config::ConfigPaths paths{dir / "credrotd.toml", dir / "credrotd.d"};
  auto loaded = config::load_config(paths);
  INFO((loaded.has_value() ? std::string() : loaded.error().message));
  REQUIRE(loaded.has_value());
  const core::Profile& p = only_profile(*loaded);
  CHECK(p.inline_auth->auth.password.reveal() == k_secret); // the CRLF is dropped

  // profile_auth() hands out a copy, secrets included.
  config::CloudsInput nothing;
  auto clouds = config::parse_clouds(std::move(nothing));
  REQUIRE(clouds.has_value());
  auto auth = config::profile_auth(p, *clouds);
  REQUIRE(auth.has_value());
  CHECK(auth->password.reveal() == k_secret);
  CHECK(auth->user_id == "u");
  CHECK(auth->source == dir / "credrotd.toml" + ":7:1");

  ::chmod(secret_path.c_str(), 0640);
  auto loose = config::load_config(paths);
  REQUIRE_FALSE(loose.has_value());
  CHECK(loose.error().code == core::Errc::unsafe);
  CHECK(loose.error().message == dir / "credrotd.toml" + ":7:1: [profile.p.auth]: " + secret_path +
                                     ": the secret file is readable by group or others (mode "
                                     "0640); chmod 600 " +
                                     secret_path);
}

TEST_CASE("the check-config step resolves every profile's cloud", "[config][toml][clouds]")
{
  const auto loaded = parse_ok(k_minimal + R"(
[profile.noscope]
cloud = "unscoped"
s3_endpoint = "https://s3.example.org"
[[profile.noscope.consumer]]
type = "s3cmd"
path = "/b"

[profile.withproject]
cloud = "unscoped"
project = "storage"
s3_endpoint = "https://s3.example.org"
[[profile.withproject.consumer]]
type = "s3cmd"
path = "/c"

[profile.missing]
cloud = "nosuch"
s3_endpoint = "https://s3.example.org"
[[profile.missing.consumer]]
type = "s3cmd"
path = "/d"
)");
  config::CloudsInput input;
  input.clouds = config::YamlDocument{
      "/etc/openstack/clouds.yaml",
      "clouds:\n  c:\n    auth: {auth_url: http://k/v3, user_id: u, project_id: p}\n"
      "  unscoped:\n    auth: {auth_url: http://k/v3, user_id: u}\n",
      std::nullopt};
  input.secure = config::YamlDocument{"/etc/openstack/secure.yaml",
                                      "clouds:\n  c: {auth: {password: " + std::string(k_secret) +
                                          "}}\n"
                                          "  unscoped: {auth: {password: " +
                                          std::string(k_secret) + "}}\n",
                                      std::nullopt};
  auto clouds = config::parse_clouds(std::move(input));
  REQUIRE(clouds.has_value());

  auto auth = config::profile_auth(loaded.config.profiles[0], *clouds);
  REQUIRE(auth.has_value());
  CHECK(auth->password.reveal() == k_secret);

  auto status = config::check_clouds(loaded.config, *clouds);
  REQUIRE_FALSE(status.has_value());
  CHECK(status.error().message.find(k_secret) == std::string::npos);
  CHECK(lines_of(status.error().message) ==
        std::vector<std::string>{
            "c.toml:9:1: profile \"noscope\": the identity has no project scope; set project = "
            "\"NAME-OR-ID\" in the profile, or project_name/project_id in the cloud",
            "c.toml:24:1: profile \"missing\" (cloud = \"nosuch\"): cloud 'nosuch' was not found "
            "(clouds defined: c, unscoped); clouds file: /etc/openstack/clouds.yaml, secure file: "
            "/etc/openstack/secure.yaml"});
}

TEST_CASE("a profile defined twice in one file is a TOML error at the second header",
          "[config][toml]")
{
  auto result = config::parse_config_text(k_minimal + "[profile.p]\n", "c.toml");
  REQUIRE_FALSE(result.has_value());
  CHECK(result.error().code == core::Errc::parse);
  CHECK_THAT(result.error().message,
             Catch::StartsWith("c.toml:8:1: invalid TOML: ") &&
                 Catch::Contains("cannot redefine existing table 'profile.p'"));
}

TEST_CASE("consumers may also be written as an inline array of tables", "[config][toml]")
{
  const auto loaded = parse_ok("[profile.p]\ncloud = \"c\"\ns3_endpoint = \"https://s3\"\n"
                               "consumer = [\n  { type = \"s3cmd\", path = \"/a\" },\n"
                               "  { type = \"rclone\", path = \"/b\", remote = \"r\" },\n]\n");
  const auto& consumers = only_profile(loaded).consumers;
  REQUIRE(consumers.size() == 2);
  CHECK(consumers[0].location.to_string() == "c.toml:5:3");
  CHECK(consumers[1].rclone_remote == "r");
}
