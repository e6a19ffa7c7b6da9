// SPDX-License-Identifier: Apache-2.0
// credrotd.toml files: the example and the docs, drop-ins, modes, TOML errors, unknown keys,
// inline secrets and the --check-config step.
#include "config/duration.hpp"
#include "config_toml_test.hpp"
#include "temp_dir.hpp"

#include <fstream>
#include <regex>

using namespace credrotd;
using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

namespace {

std::string read_file(const std::string& path)
{
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
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
