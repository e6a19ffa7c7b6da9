// SPDX-License-Identifier: Apache-2.0
// Tests of `credrotd --dry-run`'s plan (engine/dry_run.cpp): what it reads and prints, on real
// SQLite state and in-memory consumer files.
#include "../config/temp_dir.hpp"
#include "engine/dry_run.hpp"
#include "memory_ports.hpp"
#include "store/store.hpp"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <ctime>
#include <sstream>

using namespace credrotd;
using core::Errc;

namespace {

// A profile whose files hold the given access ids (nullopt: no key yet) or fail to be read.
engine::DryRunProfile profile(const std::vector<core::Result<std::optional<std::string>>>& held)
{
  auto files = std::make_shared<test::MemoryFiles>(held.size(), "/home/u/.s3cfg");
  files->writable = false; // a dry run writes nothing
  for (std::size_t i = 0; i < held.size(); ++i) {
    if (held[i]) {
      files->access[i] = *held[i];
    } else {
      files->unreadable.emplace(i, held[i].error());
    }
  }
  engine::DryRunProfile p;
  p.name = "backup";
  p.location = "/etc/credrotd/credrotd.toml:3:1";
  p.identity = std::string("alice at https://keystone/v3, project demo");
  p.s3_endpoint = "https://s3.example";
  p.grace = "15m";
  p.consumers = std::move(files);
  return p;
}

std::string dry_run(const std::vector<engine::DryRunProfile>& profiles,
                    const engine::StatePort* state, bool expect_ok = true)
{
  std::ostringstream out;
  CHECK(engine::print_dry_run(profiles, state, out) == expect_ok);
  return out.str();
}

} // namespace

TEST_CASE("a dry run before the first rotation names the key it would adopt from the files",
          "[engine]")
{
  auto p = profile({std::optional<std::string>("AKOLD"), std::optional<std::string>()});
  p.unit_actions = {"reload-or-restart web.service", "restart worker.service"};
  CHECK(dry_run({p}, nullptr) ==
        "profile backup (/etc/credrotd/credrotd.toml:3:1)\n"
        "  identity: alice at https://keystone/v3, project demo\n"
        "  consumers:\n"
        "    s3cmd /home/u/.s3cfg0: holds AKOLD\n"
        "    s3cmd /home/u/.s3cfg1: no key yet (will be written)\n"
        "  first rotation: the key AKOLD in the files would be adopted if Keystone shows it "
        "belongs to the user\n"
        "  would: create a new key (/v3/credentials), write 2 file(s), verify against "
        "https://s3.example, reload-or-restart web.service, restart worker.service, wait 15m, "
        "then delete the old key\n");
}

TEST_CASE("a dry run of a profile whose files hold no key says the first rotation creates one",
          "[engine]")
{
  auto p = profile({std::optional<std::string>()});
  p.enabled = false;
  p.create_method = core::CreateMethodChoice::os_ec2;
  const auto text = dry_run({p}, nullptr);
  CHECK_THAT(text, Catch::StartsWith("profile backup (/etc/credrotd/credrotd.toml:3:1) "
                                     "[disabled]\n"));
  CHECK_THAT(text, Catch::Contains("  no key yet: the first rotation creates one\n"
                                   "  would: create a new key (OS-EC2), write 1 file(s)"));
}

TEST_CASE("a dry run names the managed key and the next due time from the state", "[engine]")
{
  test::TempDir dir;
  auto state = store::Store::open(dir / "state.db").value();
  const auto at = core::TimePoint(std::chrono::seconds(1'767'323'045)); // 2026-01-02 03:04:05 UTC
  core::ManagedKey key;
  key.profile = "backup";
  key.access = "AKMANAGED";
  key.state = core::KeyState::current;
  key.created_at = at;
  REQUIRE(state.set_key(key).has_value());
  core::ProfileState ps;
  ps.name = "backup";
  ps.next_due = at;
  REQUIRE(state.save_profile(ps).has_value());
  ::setenv("TZ", "UTC", 1);
  ::tzset();
  const auto text = dry_run({profile({std::optional<std::string>("AKMANAGED")})}, &state);
  CHECK_THAT(text, Catch::Contains("  current managed key: AKMANAGED\n"));
  CHECK_THAT(text, Catch::EndsWith("then delete the old key\n"
                                   "  next due: 2026-01-02 03:04:05 UTC\n"));
}

TEST_CASE("a dry run prints an identity or a file it cannot read as ERROR and reports it",
          "[engine]")
{
  auto p = profile({core::make_error(Errc::unsafe, "/home/u/.s3cfg0 is a symlink")});
  p.identity = core::make_error(Errc::config, "cloud 'x' was not found");
  auto other = profile({std::optional<std::string>("AKB")});
  other.name = "other";
  const auto text = dry_run({p, other}, nullptr, false);
  CHECK_THAT(text, Catch::Contains("  identity: ERROR cloud 'x' was not found\n"));
  CHECK_THAT(text, Catch::Contains("    s3cmd /home/u/.s3cfg0: ERROR /home/u/.s3cfg0 is a "
                                   "symlink\n"
                                   "  no key yet: the first rotation creates one\n"));
  // The next profile is still shown.
  CHECK_THAT(text, Catch::Contains("profile other (/etc/credrotd/credrotd.toml:3:1)\n"));
}
