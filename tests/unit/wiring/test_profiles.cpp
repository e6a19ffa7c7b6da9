// SPDX-License-Identifier: Apache-2.0
// ProfileFactory and the policy mapping, from a credrotd.toml and a clouds.yaml in a temp dir.
#include "../config/temp_dir.hpp"
#include "config/config_file.hpp"
#include "result_printer.hpp"
#include "run_awaitable.hpp"
#include "stand_in.hpp"
#include "wiring/profiles.hpp"

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <fmt/format.h>

using namespace credrotd;
using namespace std::chrono_literals;
using credrotd::test::TempDir;
using s3::test::s3_error;
using s3::test::Scripted;
using s3::test::StandIn;

namespace {

constexpr const char* k_clouds = R"(clouds:
  lab:
    auth:
      auth_url: http://127.0.0.1:9/v3
      username: rotator
      password: clouds-password-not-logged
      user_domain_name: Users
      project_name: lab-project
      project_domain_name: Default
  nodomain:
    auth:
      auth_url: http://127.0.0.1:9/v3
      username: rotator
      password: clouds-password-not-logged
      user_domain_id: 0123456789abcdef0123456789abcdef
)";

// A configuration directory: credrotd.toml (with `profiles` appended), clouds.yaml, state.
struct ConfigDir {
  explicit ConfigDir(const std::string& profiles)
  {
    clouds_file = dir.write("clouds.yaml", k_clouds);
    dir.mkdir("state");
    main_file = dir.write("credrotd.toml",
                          fmt::format("[daemon]\nstate_dir = \"{}\"\nclouds_file = \"{}\"\n{}",
                                      dir / "state", clouds_file, profiles));
  }

  core::Config load() const
  {
    auto loaded = config::load_config({main_file, dir / "credrotd.d"});
    INFO((loaded ? std::string() : loaded.error().message));
    REQUIRE(loaded);
    return std::move(loaded->config);
  }

  config::CloudsConfig clouds() const
  {
    auto clouds = config::load_clouds({}, {clouds_file, ""});
    INFO((clouds ? std::string() : clouds.error().message));
    REQUIRE(clouds);
    return std::move(*clouds);
  }

  TempDir dir;
  std::string clouds_file;
  std::string main_file;
};

std::string s3cmd_consumer(const std::string& profile, const std::string& path)
{
  return fmt::format("[[profile.{}.consumer]]\ntype = \"s3cmd\"\npath = \"{}\"\n", profile, path);
}

const core::Profile& only_profile(const core::Config& config)
{
  REQUIRE(config.profiles.size() == 1);
  return config.profiles.front();
}

} // namespace

TEST_CASE("a profile's durations and window become its rotation and schedule policies", "[wiring]")
{
  ConfigDir cfg("[profile.p]\ncloud = \"lab\"\ns3_endpoint = \"https://s3.test\"\n"
                "interval = \"1w\"\njitter = \"6h\"\nwindow = \"22:00-04:00\"\n"
                "grace = \"20m\"\nverify_timeout = \"3m\"\n" +
                s3cmd_consumer("p", "/tmp/unused/s3cfg"));
  const auto config = cfg.load();
  const auto& profile = only_profile(config);

  const auto rotation = wiring::rotation_policy(profile);
  CHECK(rotation.grace == 20min);
  CHECK(rotation.verify_timeout == 3min);

  const auto schedule = wiring::schedule_policy(profile);
  CHECK(schedule.interval == std::chrono::hours(24 * 7));
  CHECK(schedule.jitter == 6h);
  REQUIRE(schedule.window);
  CHECK(schedule.window->start_minute == 22 * 60);
  CHECK(schedule.window->end_minute == 4 * 60);
}

TEST_CASE("a window ending at 24:00 ends at minute 0 of the schedule's day", "[wiring]")
{
  ConfigDir cfg("[profile.p]\ncloud = \"lab\"\ns3_endpoint = \"https://s3.test\"\n"
                "window = \"22:00-24:00\"\n" +
                s3cmd_consumer("p", "/tmp/unused/s3cfg"));
  const auto schedule = wiring::schedule_policy(only_profile(cfg.load()));
  REQUIRE(schedule.window);
  CHECK(schedule.window->start_minute == 22 * 60);
  CHECK(schedule.window->end_minute == 0);
}

TEST_CASE("no window in the configuration means no window in the schedule", "[wiring]")
{
  ConfigDir cfg("[profile.p]\ncloud = \"lab\"\ns3_endpoint = \"https://s3.test\"\n" +
                s3cmd_consumer("p", "/tmp/unused/s3cfg"));
  CHECK_FALSE(wiring::schedule_policy(only_profile(cfg.load())).window);
}

TEST_CASE("a profile's project replaces the cloud's project scope", "[wiring]")
{
  ConfigDir cfg("[profile.byname]\ncloud = \"lab\"\nproject = \"storage\"\n"
                "s3_endpoint = \"https://s3.test\"\n" +
                s3cmd_consumer("byname", "/tmp/unused/a") +
                "[profile.byid]\ncloud = \"lab\"\nproject = \"00112233445566778899aabbccddeeff\"\n"
                "s3_endpoint = \"https://s3.test\"\n" +
                s3cmd_consumer("byid", "/tmp/unused/b") +
                "[profile.inherit]\ncloud = \"nodomain\"\nproject = \"storage\"\n"
                "s3_endpoint = \"https://s3.test\"\n" +
                s3cmd_consumer("inherit", "/tmp/unused/c") +
                "[profile.scope]\ncloud = \"lab\"\ns3_endpoint = \"https://s3.test\"\n" +
                s3cmd_consumer("scope", "/tmp/unused/d"));
  const auto config = cfg.load();
  const auto clouds = cfg.clouds();
  REQUIRE(config.profiles.size() == 4);
  const auto auth = [&](const char* name) {
    for (const auto& p : config.profiles) {
      if (p.name == name) {
        auto resolved = wiring::resolve_auth(p, clouds);
        REQUIRE(resolved);
        return std::move(*resolved);
      }
    }
    FAIL("no profile " << name);
    throw std::logic_error("unreachable");
  };

  const auto by_name = auth("byname");
  CHECK(by_name.project_name == "storage");
  CHECK(by_name.project_id.empty());
  CHECK(by_name.project_domain_name == "Default"); // the cloud's own project domain stays

  const auto by_id = auth("byid");
  CHECK(by_id.project_id == "00112233445566778899aabbccddeeff");
  CHECK(by_id.project_name.empty());

  // A project name needs a domain: the user's, when the cloud names no project domain.
  const auto inherited = auth("inherit");
  CHECK(inherited.project_name == "storage");
  CHECK(inherited.project_domain_id == "0123456789abcdef0123456789abcdef");

  const auto scope = auth("scope");
  CHECK(scope.project_name == "lab-project");
  CHECK(scope.username == "rotator");
}

TEST_CASE("the factory builds one runtime per profile with its settings and consumers", "[wiring]")
{
  StandIn s3_server({Scripted{200, ""}});
  TempDir files;
  const std::string s3cfg = files.write(
      "s3cfg", "[default]\naccess_key = AKOLDKEY\nsecret_key = old-secret-0123456789\n");
  ConfigDir cfg(fmt::format("[profile.first]\ncloud = \"lab\"\ns3_endpoint = \"{}\"\n"
                            "region = \"RegionTwo\"\ncreate_method = \"os-ec2\"\n"
                            "confirm_retire = false\nconfirm_retire_recheck = 0\n{}"
                            "[profile.second]\ncloud = \"lab\"\ns3_endpoint = \"{}\"\n"
                            "enabled = false\n{}",
                            s3_server.endpoint(), s3cmd_consumer("first", s3cfg),
                            s3_server.endpoint(),
                            s3cmd_consumer("second", files / "second.s3cfg")));
  boost::asio::io_context io;
  wiring::ProfileFactory factory({io.get_executor(), nullptr, {}});
  const auto built = factory.build(cfg.load(), cfg.clouds());
  REQUIRE(built);
  REQUIRE(built->size() == 2);
  const auto& first = *built->at(0);
  const auto& second = *built->at(1);
  CHECK(first.name == "first");
  CHECK(second.name == "second");
  CHECK(first.enabled);
  CHECK_FALSE(second.enabled);
  CHECK(first.create_method == core::CreateMethodChoice::os_ec2);
  CHECK(second.create_method == core::CreateMethodChoice::auto_);
  CHECK_FALSE(first.confirm_retire);
  CHECK(second.confirm_retire);
  CHECK(first.recheck_after == core::Duration::zero());
  CHECK(second.recheck_after == 310s);
  CHECK(first.rotation.grace == 15min);
  REQUIRE(first.keystone);
  REQUIRE(first.s3);
  REQUIRE(first.consumers);

  // The consumers port reads the profile's file.
  REQUIRE(first.consumers->count() == 1);
  CHECK(first.consumers->path(0) == s3cfg);
  CHECK(first.consumers->describe(0) == "s3cmd " + s3cfg);
  const auto access = first.consumers->read_access(0);
  REQUIRE(access);
  CHECK(*access == std::optional<std::string>("AKOLDKEY"));

  // The S3 port signs for the profile's endpoint and region.
  const auto report =
      testfault::run(io, first.s3->verify("AKNEWKEY", core::Secret("new-secret-0123456789"),
                                          engine::Expect::accepted));
  CHECK(report.result == core::VerifyResult::accepted);
  const auto requests = s3_server.requests();
  REQUIRE(requests.size() == 1);
  CHECK(requests[0].headers.at("authorization").find("AKNEWKEY/") != std::string::npos);
  CHECK(requests[0].headers.at("authorization").find("/RegionTwo/s3/aws4_request") !=
        std::string::npos);
}

TEST_CASE("the S3 port confirms a deleted key with refused requests", "[wiring]")
{
  StandIn s3_server({Scripted{403, s3_error("InvalidAccessKeyId")}});
  ConfigDir cfg(fmt::format("[profile.p]\ncloud = \"lab\"\ns3_endpoint = \"{}\"\n"
                            "signature = [\"v2\", \"v4\"]\n{}",
                            s3_server.endpoint(), s3cmd_consumer("p", "/tmp/unused/s3cfg")));
  boost::asio::io_context io;
  wiring::ProfileFactory factory({io.get_executor(), nullptr, {}});
  const auto built = factory.build(cfg.load(), cfg.clouds());
  REQUIRE(built);
  const auto report =
      testfault::run(io, built->at(0)->s3->verify("AKGONE", core::Secret("gone-secret-0123"),
                                                  engine::Expect::rejected));
  CHECK(report.result == core::VerifyResult::rejected);
  CHECK(report.detail == "refused: SigV4 ListBuckets: 403 InvalidAccessKeyId");
  CHECK(s3_server.requests().size() == 2); // one ListBuckets per signature version
}

TEST_CASE("a profile whose cloud does not resolve fails the build and is named", "[wiring]")
{
  ConfigDir cfg("[profile.good]\ncloud = \"lab\"\ns3_endpoint = \"https://s3.test\"\n" +
                s3cmd_consumer("good", "/tmp/unused/a") +
                "[profile.typo]\ncloud = \"lba\"\ns3_endpoint = \"https://s3.test\"\n" +
                s3cmd_consumer("typo", "/tmp/unused/b"));
  boost::asio::io_context io;
  wiring::ProfileFactory factory({io.get_executor(), nullptr, {}});
  const auto built = factory.build(cfg.load(), cfg.clouds());
  REQUIRE_FALSE(built);
  CHECK(built.error().code == core::Errc::config);
  const std::string prefix = "profile typo (" + cfg.main_file + ":";
  CHECK(built.error().message.rfind(prefix, 0) == 0);
  CHECK(built.error().message.find("clouds-password-not-logged") == std::string::npos);
}

TEST_CASE("a CA file that cannot be loaded fails the build of its profile", "[wiring]")
{
  TempDir files;
  const std::string bad_ca = files.write("ca.pem", "not a certificate\n");
  ConfigDir cfg(fmt::format("[profile.p]\ncloud = \"lab\"\ns3_endpoint = \"https://s3.test\"\n"
                            "ca_file = \"{}\"\n{}",
                            bad_ca, s3cmd_consumer("p", "/tmp/unused/s3cfg")));
  boost::asio::io_context io;
  wiring::ProfileFactory factory({io.get_executor(), nullptr, {}});
  const auto built = factory.build(cfg.load(), cfg.clouds());
  REQUIRE_FALSE(built);
  CHECK(built.error().message.rfind("profile p (", 0) == 0);
}
