// SPDX-License-Identifier: Apache-2.0
// [[profile.NAME.consumer]]: each type's options, values, unit names, keys of other types.
#include "config_toml_test.hpp"

using namespace credrotd;

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
