// SPDX-License-Identifier: Apache-2.0
// The D-Bus API and credrotctl against the real credrotd on a private system-like bus, with
// real rotations against the local Keystone + Swift (tests/stack) checked by s3cmd.
#include "dbus_rig.hpp"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>
#include <set>
#include <string>
#include <vector>

using namespace credrotd::dbus_test;
namespace json = boost::json;

namespace {

const std::string k_dest = "io.github.credrotd";
const std::string k_path = "/io/github/credrotd";
const std::string k_iface = "io.github.credrotd.Manager1";

// The keys every profile dictionary carries (docs/dbus.md, the XML).
const std::vector<std::string> k_profile_keys = {
    "name",          "enabled",          "current_access",  "current_since",
    "next_due",      "running_rotation", "running_phase",   "running_since",
    "last_rotation", "last_outcome",     "last_error_code", "last_error",
    "last_finished", "last_success",     "succeeded",       "rolled_back",
    "failed"};
const std::vector<std::string> k_rotation_keys = {"id",       "profile",    "phase",      "outcome",
                                                  "method",   "old_access", "new_access", "started",
                                                  "finished", "error_code", "error",      "note"};

std::vector<std::string> call(const std::string& method, std::vector<std::string> args = {})
{
  std::vector<std::string> argv = {"--json=short", "call", k_dest, k_path, k_iface, method};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

// busctl --json=short call output: {"type":"...","data":[...]}; returns data.
json::array reply_data(const Output& o)
{
  INFO("busctl: " << o.out << o.err);
  REQUIRE(o.exit_code == 0);
  return parse_json(o.out).as_object().at("data").as_array();
}

void require_keys(const json::object& o, const std::vector<std::string>& keys)
{
  for (const auto& k : keys) {
    INFO("key " << k << " in " << json::serialize(o));
    CHECK(o.contains(k));
  }
}

// The D-Bus form of a profile dictionary: {"key": {"type": "s", "data": ...}}.
void require_dbus_keys(const json::object& o, const std::vector<std::string>& keys)
{
  require_keys(o, keys);
  for (const auto& [k, v] : o) {
    INFO("key " << k);
    CHECK(v.as_object().contains("type"));
  }
}

std::vector<std::string> members(const std::vector<json::object>& messages, const std::string& type)
{
  std::vector<std::string> out;
  for (const auto& m : messages) {
    if (m.at("type") == json::value(type) && m.contains("member")) {
      out.push_back(json::value_to<std::string>(m.at("member")));
    }
  }
  return out;
}

// Appends to a file (the daemon's configuration).
void append(const std::filesystem::path& path, const std::string& text)
{
  std::ofstream out(path, std::ios::app);
  out << text;
}

} // namespace

TEST_CASE("busctl introspects the object and reads its properties and profiles", "[dbus]")
{
  Rig rig;
  const auto intro = rig.busctl({"introspect", k_dest, k_path});
  INFO(intro.out << intro.err);
  REQUIRE(intro.exit_code == 0);
  for (const auto* name :
       {"io.github.credrotd.Manager1", ".ListProfiles", ".GetProfile", ".Rotate", ".RotateAll",
        ".Verify", ".History", ".Keys", ".Reload", ".RotationStarted", ".PhaseChanged",
        ".RotationFinished", ".Version", ".Profiles", ".RunningRotations", ".NextDue",
        "org.freedesktop.DBus.Properties", "org.freedesktop.DBus.Introspectable"}) {
    CHECK(intro.out.find(name) != std::string::npos);
  }

  const auto props =
      rig.busctl({"get-property", k_dest, k_path, k_iface, "Profiles", "RunningRotations"});
  CHECK(props.exit_code == 0);
  CHECK(props.out == "as 1 \"demo\"\nu 0\n");
  const auto version = rig.busctl({"get-property", k_dest, k_path, k_iface, "Version"});
  CHECK(version.out == "s \"" CREDROTD_VERSION "\"\n");

  const auto list = reply_data(rig.busctl(call("ListProfiles")));
  REQUIRE(list.at(0).as_array().size() == 1);
  const auto& demo = list.at(0).as_array().at(0).as_object();
  require_dbus_keys(demo, k_profile_keys);
  CHECK(demo.at("name").at("data") == "demo");
  CHECK(demo.at("current_since").at("type") == "x");
  CHECK(demo.at("enabled").at("type") == "b");

  const auto one = reply_data(rig.busctl(call("GetProfile", {"s", "demo"})));
  require_dbus_keys(one.at(0).as_object(), k_profile_keys);
  rig.check_no_secret();
}

TEST_CASE("busctl call Rotate rotates for real and the signals and PropertiesChanged follow",
          "[dbus][rotate]")
{
  Rig rig;
  const auto file = rig.consumer("demo");
  const Key before = rig.key_in(file);
  REQUIRE(rig.s3_accepts(file));
  const auto old_file = rig.dir() / "old.s3cfg";
  std::filesystem::copy_file(file, old_file);

  rig.start_monitor();
  const auto started = reply_data(rig.busctl(call("Rotate", {"s", "demo"})));
  const auto id = started.at(0).to_number<std::int64_t>();
  CHECK(id > 0);
  const auto finished = rig.wait_finished(id, std::chrono::seconds(120));
  INFO(rig.daemon_log());
  REQUIRE(finished);
  const auto& data = finished->at("payload").at("data").as_array();
  CHECK(data.at(0) == "demo");
  CHECK(data.at(2) == "succeeded");

  // The file holds a new key, which S3 accepts; the old one was deleted (grace 0).
  const Key after = rig.key_in(file);
  CHECK(after.access != before.access);
  CHECK(rig.s3_accepts(file));
  CHECK_FALSE(rig.s3_accepts(old_file));

  // Signals: started, the phases, finished; properties announced with PropertiesChanged.
  const auto messages = rig.monitored();
  const auto signals = members(messages, "signal");
  CHECK(std::count(signals.begin(), signals.end(), "RotationStarted") == 1);
  std::set<std::string> phases;
  bool running_one = false;
  bool running_zero = false;
  for (const auto& m : messages) {
    if (m.at("type") != "signal") {
      continue;
    }
    const auto& d = m.at("payload").at("data").as_array();
    if (m.at("member") == "PhaseChanged") {
      CHECK(d.at(1).to_number<std::int64_t>() == id);
      phases.insert(json::value_to<std::string>(d.at(2)));
    }
    if (m.at("member") == "PropertiesChanged") {
      CHECK(d.at(0) == json::value(k_iface));
      const auto& changed = d.at(1).as_object();
      if (changed.contains("RunningRotations")) {
        const auto n = changed.at("RunningRotations").at("data").to_number<int>();
        running_one = running_one || n == 1;
        running_zero = running_zero || (running_one && n == 0);
      }
    }
  }
  CHECK(phases.count("write") == 1);
  CHECK(phases.count("verify") == 1);
  CHECK(phases.count("retire") == 1);
  CHECK(phases.count("done") == 1);
  CHECK(running_one);
  CHECK(running_zero);
  CHECK(rig.busctl({"get-property", k_dest, k_path, k_iface, "RunningRotations"}).out == "u 0\n");

  // History tells the same story.
  const auto history = reply_data(rig.busctl(call("History", {"su", "demo", "5"})));
  const auto& newest = history.at(0).as_array().at(0).as_object();
  require_dbus_keys(newest, k_rotation_keys);
  CHECK(newest.at("id").at("data").to_number<std::int64_t>() == id);
  CHECK(newest.at("outcome").at("data") == "succeeded");
  CHECK(newest.at("old_access").at("data") == json::value(before.access));
  CHECK(newest.at("new_access").at("data") == json::value(after.access));
  rig.check_no_secret();
}

TEST_CASE("credrotctl rotate --wait follows a rotation to its end, and status, history, keys and "
          "verify show it as tables and as JSON",
          "[dbus][credrotctl]")
{
  Rig rig;
  const auto file = rig.consumer("demo");
  const Key before = rig.key_in(file);

  const auto waited = rig.ctl({"rotate", "--wait", "demo"});
  INFO(waited.out << waited.err << rig.daemon_log());
  REQUIRE(waited.exit_code == 0);
  CHECK(waited.out.find("demo: rotation ") != std::string::npos);
  CHECK(waited.out.find(": verify\n") != std::string::npos);
  CHECK(waited.out.find(" succeeded") != std::string::npos);
  const Key middle = rig.key_in(file);
  CHECK(middle.access != before.access);

  const auto as_json = rig.ctl({"rotate", "--wait", "--json", "demo"});
  REQUIRE(as_json.exit_code == 0);
  const auto doc = parse_json(as_json.out).as_object();
  const auto& r = doc.at("rotations").as_array().at(0).as_object();
  require_keys(r, {"profile", "rotation", "result", "reason"});
  CHECK(r.at("profile") == "demo");
  CHECK(r.at("result") == "succeeded");
  const auto id = r.at("rotation").to_number<std::int64_t>();
  const Key after = rig.key_in(file);
  CHECK(after.access != middle.access);
  CHECK(rig.s3_accepts(file));

  // status
  const auto status = rig.ctl({"status", "--json"});
  REQUIRE(status.exit_code == 0);
  const auto st = parse_json(status.out).as_object();
  require_keys(st, {"version", "running_rotations", "next_due", "profiles"});
  CHECK(st.at("version") == CREDROTD_VERSION);
  CHECK(st.at("running_rotations") == 0);
  const auto& p = st.at("profiles").as_array().at(0).as_object();
  require_keys(p, k_profile_keys);
  CHECK(p.at("name") == "demo");
  CHECK(p.at("current_access") == json::value(after.access));
  CHECK(p.at("last_rotation") == id);
  CHECK(p.at("last_outcome") == "succeeded");
  CHECK(p.at("last_error").is_null());
  CHECK(p.at("running_rotation").is_null());
  CHECK(p.at("succeeded") == 2);
  CHECK(p.at("next_due").is_string()); // RFC 3339 UTC
  CHECK(json::value_to<std::string>(p.at("next_due")).back() == 'Z');
  const auto table = rig.ctl({"status"});
  CHECK(table.exit_code == 0);
  CHECK(table.out.rfind("PROFILE", 0) == 0);
  CHECK(table.out.find(after.access) != std::string::npos);
  CHECK(rig.ctl({"status", "demo", "--json"}).exit_code == 0);

  // history: newest first
  const auto history = rig.ctl({"history", "--json", "demo"});
  REQUIRE(history.exit_code == 0);
  const auto h = parse_json(history.out).as_object();
  CHECK(h.at("profile") == "demo");
  const auto& rows = h.at("rotations").as_array();
  REQUIRE(rows.size() == 2);
  require_keys(rows.at(0).as_object(), k_rotation_keys);
  CHECK(rows.at(0).at("id") == id);
  CHECK(rows.at(0).at("new_access") == json::value(after.access));
  CHECK(rows.at(1).at("new_access") == json::value(middle.access));
  CHECK(rows.at(1).at("old_access") == json::value(before.access));
  const auto history_table = rig.ctl({"history", "demo", "-n", "1"});
  CHECK(history_table.exit_code == 0);
  CHECK(history_table.out.find(middle.access) != std::string::npos); // the old key of the newest
  CHECK(history_table.out.find(before.access) == std::string::npos); // only one row

  // keys: the current key, marked so; only access ids
  const auto keys = rig.ctl({"keys", "--json", "demo"});
  REQUIRE(keys.exit_code == 0);
  const auto k = parse_json(keys.out).as_object();
  CHECK(k.at("profile") == "demo");
  bool current = false;
  for (const auto& key : k.at("keys").as_array()) {
    require_keys(key.as_object(), {"access", "project_id", "role"});
    CHECK(key.as_object().size() == 3);
    CHECK(key.at("access") != json::value(before.access)); // deleted (grace 0)
    if (key.at("access") == json::value(after.access)) {
      current = key.at("role") == "current";
    }
  }
  CHECK(current);
  const auto keys_table = rig.ctl({"keys", "demo"});
  CHECK(keys_table.out.find(after.access + "  current") != std::string::npos);

  // verify
  const auto verify = rig.ctl({"verify", "--json", "demo"});
  CHECK(verify.exit_code == 0);
  const auto v = parse_json(verify.out).as_object();
  CHECK(v.at("profile") == "demo");
  CHECK(v.at("result") == "accepted");
  CHECK(v.contains("detail"));
  CHECK(rig.ctl({"verify", "demo"}).out.rfind("demo: accepted", 0) == 0);
  rig.check_no_secret();
}

TEST_CASE("credrotctl rotate --wait exits 1 when a rotation rolls back, and the old key stays",
          "[dbus][rollback]")
{
  Rig rig(RigOptions{true, false});
  const auto file = rig.consumer("failing");
  const Key before = rig.key_in(file);

  // While a rotation runs (its check fails until verify_timeout, 2 s), a second one is a
  // Conflict, and --all starts the others and reports this one without failing.
  const auto first = rig.ctl({"rotate", "--json", "failing"});
  REQUIRE(first.exit_code == 0);
  const auto running_id = parse_json(first.out).at("rotations").at(0).at("rotation");
  CHECK(parse_json(first.out).at("rotations").at(0).at("result") == "started");
  const auto again = rig.ctl({"rotate", "failing"});
  CHECK(again.exit_code == 1);
  CHECK(again.out.find("io.github.credrotd.Error.Conflict") != std::string::npos);
  const auto during = parse_json(rig.ctl({"status", "--json", "failing"}).out);
  CHECK(during.at("profiles").at(0).at("running_rotation") == running_id);
  CHECK(during.at("profiles").at(0).at("running_phase").is_string());
  CHECK(during.at("running_rotations") == 1);
  const auto others = rig.ctl({"rotate", "--all", "--wait", "--json"});
  INFO(others.out << others.err);
  CHECK(others.exit_code == 0);
  const auto others_doc = parse_json(others.out);
  for (const auto& r : others_doc.at("rotations").as_array()) {
    if (r.at("profile") == "demo") {
      CHECK(r.at("result") == "succeeded");
    } else {
      CHECK(r.at("result") == "not_started");
      CHECK(json::value_to<std::string>(r.at("reason"))
                .rfind("io.github.credrotd.Error.Conflict", 0) == 0);
    }
  }
  const bool over = credrotd::consumers::test::wait_until(
      [&] {
        return parse_json(rig.ctl({"status", "--json", "failing"}).out)
            .at("profiles")
            .at(0)
            .at("running_rotation")
            .is_null();
      },
      std::chrono::seconds(60));
  REQUIRE(over);

  const auto failed = rig.ctl({"rotate", "--wait", "--json", "failing"});
  INFO(failed.out << failed.err << rig.daemon_log());
  CHECK(failed.exit_code == 1);
  const auto doc = parse_json(failed.out).as_object();
  const auto& r = doc.at("rotations").as_array().at(0).as_object();
  CHECK(r.at("result") == "rolled_back");
  CHECK(r.at("reason").is_string());
  CHECK(rig.key_in(file).access == before.access);
  CHECK(rig.s3_accepts(file));

  const auto status = parse_json(rig.ctl({"status", "--json", "failing"}).out).as_object();
  const auto& p = status.at("profiles").as_array().at(0).as_object();
  CHECK(p.at("last_outcome") == "rolled_back");
  CHECK(p.at("last_error_code").is_string());
  CHECK(p.at("rolled_back") == 2);

  // --all: RotateAll starts both; one succeeds, one rolls back: exit 1, both reported.
  const auto all = rig.ctl({"rotate", "--all", "--wait"});
  CHECK(all.exit_code == 1);
  CHECK(all.out.find("demo: rotation ") != std::string::npos);
  CHECK(all.out.find(" succeeded") != std::string::npos);
  CHECK(all.out.find(" rolled_back") != std::string::npos);
  rig.check_no_secret();
}

TEST_CASE("Reload re-reads the configuration and announces the new Profiles", "[dbus][reload]")
{
  Rig rig;
  rig.start_monitor();
  append(rig.config(), "\n[profile.extra]\ncloud = \"rotator\"\ns3_endpoint = "
                       "\"http://127.0.0.1:9\"\n\n[[profile.extra.consumer]]\ntype = "
                       "\"s3cmd\"\npath = \"" +
                           (rig.dir() / "extra.s3cfg").string() + "\"\n");
  const auto reloaded = rig.busctl({"call", k_dest, k_path, k_iface, "Reload"});
  INFO(reloaded.out << reloaded.err << rig.daemon_log());
  CHECK(reloaded.exit_code == 0);
  CHECK(rig.busctl({"get-property", k_dest, k_path, k_iface, "Profiles"}).out ==
        "as 2 \"demo\" \"extra\"\n");
  bool announced = false;
  for (const auto& m : rig.monitored()) {
    if (m.at("type") == "signal" && m.at("member") == "PropertiesChanged") {
      const auto& changed = m.at("payload").at("data").at(1).as_object();
      if (changed.contains("Profiles")) {
        announced = changed.at("Profiles").at("data").as_array().size() == 2;
      }
    }
  }
  CHECK(announced);
  const auto status = parse_json(rig.ctl({"status", "--json"}).out).as_object();
  CHECK(status.at("profiles").as_array().size() == 2);
  rig.check_no_secret();
}

TEST_CASE("credrotctl reload returns once the new configuration is in force, and fails on a "
          "broken one",
          "[dbus][reload]")
{
  Rig rig;
  append(rig.config(), "\n[profile.extra]\ncloud = \"rotator\"\ns3_endpoint = "
                       "\"http://127.0.0.1:9\"\n\n[[profile.extra.consumer]]\ntype = "
                       "\"s3cmd\"\npath = \"" +
                           (rig.dir() / "extra.s3cfg").string() + "\"\n");
  const auto reloaded = rig.ctl({"reload"});
  INFO(reloaded.out << reloaded.err << rig.daemon_log());
  CHECK(reloaded.exit_code == 0);
  CHECK(reloaded.out.empty());
  // No waiting: the reply came after the daemon applied the configuration.
  CHECK(rig.busctl({"get-property", k_dest, k_path, k_iface, "Profiles"}).out ==
        "as 2 \"demo\" \"extra\"\n");

  append(rig.config(), "\n[profile.broken\n");
  const auto refused = rig.ctl({"reload"});
  INFO(refused.err);
  CHECK(refused.exit_code == 1);
  CHECK(refused.err.find("credrotctl: ") == 0);
  // The daemon's own error, naming the file and line.
  CHECK(refused.err.find("credrotd.toml:22:") != std::string::npos);
  CHECK(refused.err.find("invalid TOML") != std::string::npos);
  CHECK(refused.err.find("[io.github.credrotd.Error.Parse]") != std::string::npos);
  // The previous configuration stays in force.
  CHECK(rig.busctl({"get-property", k_dest, k_path, k_iface, "Profiles"}).out ==
        "as 2 \"demo\" \"extra\"\n");
  CHECK(rig.ctl({"reload"}, "nobody").exit_code == 4);
  rig.check_no_secret();
}

TEST_CASE("callers other than root and group credrotd are refused, by the bus policy or by "
          "the daemon's own check",
          "[dbus][auth]")
{
  Rig rig;
  const auto file = rig.consumer("demo");
  const Key before = rig.key_in(file);

  // nobody: the policy denies every call to the daemon, reads included.
  const auto nobody_status = rig.ctl({"status"}, "nobody");
  CHECK(nobody_status.exit_code == 4);
  CHECK(nobody_status.err.find("org.freedesktop.DBus.Error.AccessDenied") != std::string::npos);
  CHECK(rig.ctl({"rotate", "demo"}, "nobody").exit_code == 4);
  const auto nobody_busctl = rig.busctl(call("Rotate", {"s", "demo"}), "nobody");
  CHECK(nobody_busctl.exit_code != 0);
  CHECK(rig.busctl({"introspect", k_dest, k_path}, "nobody").exit_code != 0);

  // daemon (uid 1): the test policy lets it through; reads work, changes are refused by the
  // daemon itself with io.github.credrotd.Error.AccessDenied.
  CHECK(rig.ctl({"status"}, "daemon").exit_code == 0);
  CHECK(rig.ctl({"history", "demo"}, "daemon").exit_code == 0);
  const auto denied = rig.ctl({"rotate", "--wait", "demo"}, "daemon");
  CHECK(denied.exit_code == 4);
  CHECK(denied.err.find("io.github.credrotd.Error.AccessDenied") != std::string::npos);
  CHECK(rig.ctl({"rotate", "--all"}, "daemon").exit_code == 4);
  const auto reload = rig.busctl({"call", k_dest, k_path, k_iface, "Reload"}, "daemon");
  CHECK(reload.exit_code != 0);
  CHECK(reload.err.find("needs root or membership of group credrotd") != std::string::npos);

  // Nothing happened.
  CHECK(rig.key_in(file).access == before.access);
  const auto history = parse_json(rig.ctl({"history", "--json", "demo"}).out).as_object();
  CHECK(history.at("rotations").as_array().empty());
  CHECK(rig.daemon_log().find("refused Rotate from") != std::string::npos);
  rig.check_no_secret();
}

TEST_CASE("errors have stable names and credrotctl exits with its documented codes",
          "[dbus][errors]")
{
  Rig rig;
  for (const auto& args : std::vector<std::vector<std::string>>{{"rotate", "nosuch"},
                                                                {"status", "nosuch"},
                                                                {"history", "nosuch"},
                                                                {"verify", "nosuch"},
                                                                {"keys", "nosuch"}}) {
    const auto o = rig.ctl(args);
    INFO(args.front() << ": " << o.err);
    CHECK(o.exit_code == 5);
    CHECK(o.err.find("io.github.credrotd.Error.NotFound") != std::string::npos);
  }
  CHECK(rig.busctl(call("Rotate", {"s", "nosuch"})).err.find("no profile named nosuch") !=
        std::string::npos);

  // Usage errors.
  CHECK(rig.ctl({}).exit_code == 2);
  CHECK(rig.ctl({"rotate"}).exit_code == 2);
  CHECK(rig.ctl({"rotate", "--all", "demo"}).exit_code == 2);
  CHECK(rig.ctl({"frobnicate"}).exit_code == 2);
  const auto help = rig.ctl({"--help"});
  CHECK(help.exit_code == 0);
  CHECK(help.out.find("Exit status:") != std::string::npos);

  // check-config runs credrotd --check-config.
  const auto checked = rig.ctl({"check-config", "--config", rig.config().string()});
  INFO(checked.out << checked.err);
  CHECK(checked.exit_code == 0);
  CHECK(checked.out.find("configuration OK") != std::string::npos);
  const auto broken = rig.dir() / "broken.toml";
  {
    std::ofstream out(broken);
    out << "[daemon\n";
  }
  CHECK(rig.ctl({"check-config", "--config", broken.string()}).exit_code == 1);

  // A second credrotd (another state directory) cannot take the name: it exits 69.
  auto second_config = rig.dir() / "second.toml";
  {
    std::ifstream in(rig.config());
    std::ofstream out(second_config);
    std::string line;
    while (std::getline(in, line)) {
      out << (line.rfind("state_dir", 0) == 0
                  ? "state_dir = \"" + (rig.dir() / "state2").string() + "\""
                  : line)
          << "\n";
    }
  }
  const auto second = credrotd::consumers::test::run(
      {CREDROTD_BINARY_DIR "/daemon/credrotd", "--config", second_config.string()},
      credrotd::consumers::test::clean_env(
          {"CREDROTD_LOG=stderr", "DBUS_SYSTEM_BUS_ADDRESS=" + rig.address()}),
      std::chrono::seconds(30));
  CHECK(second.exit_code == 69);
  CHECK(second.err.find("cannot own the D-Bus name io.github.credrotd") != std::string::npos);
  CHECK(rig.ctl({"status"}).exit_code == 0); // the first one still serves

  // No daemon: exit 3.
  rig.stop_daemon();
  const auto gone = rig.ctl({"status"});
  CHECK(gone.exit_code == 3);
  CHECK(gone.err.find("credrotd is not running") != std::string::npos);
  rig.check_no_secret();
}

TEST_CASE("with --user, credrotd serves the session bus and only its own uid may rotate",
          "[dbus][user]")
{
  Rig rig(RigOptions{false, true});
  const auto file = rig.consumer("demo");
  const Key before = rig.key_in(file);
  CHECK(rig.ctl({"--user", "status"}).exit_code == 0);
  const auto refused = rig.ctl({"--user", "rotate", "demo"}, "daemon");
  CHECK(refused.exit_code == 4);
  CHECK(refused.err.find("needs the daemon's own user") != std::string::npos);
  const auto waited = rig.ctl({"--user", "rotate", "--wait", "demo"});
  INFO(waited.out << waited.err << rig.daemon_log());
  CHECK(waited.exit_code == 0);
  CHECK(rig.key_in(file).access != before.access);
  CHECK(rig.s3_accepts(file));
  rig.check_no_secret();
}

TEST_CASE("bash completion offers subcommands, options and the daemon's profile names",
          "[dbus][completion]")
{
  Rig rig;
  const auto complete = [&](const std::string& words, int cword) {
    const std::string script = "source " CREDROTD_SOURCE_DIR "/completions/credrotctl.bash; "
                               "COMP_WORDS=(" +
                               words + "); COMP_CWORD=" + std::to_string(cword) +
                               "; _credrotctl; printf '%s\\n' \"${COMPREPLY[@]}\"";
    const auto o = credrotd::consumers::test::run(
        {"/bin/bash", "--norc", "--noprofile", "-c", script},
        credrotd::consumers::test::clean_env({"PATH=" + rig.dir().string() + ":/usr/bin:/bin",
                                              "DBUS_SYSTEM_BUS_ADDRESS=" + rig.address()}));
    INFO(o.err);
    CHECK(o.exit_code == 0);
    return o.out;
  };
  CHECK(complete("credrotctl ''", 1) ==
        "status\nrotate\nverify\nhistory\nkeys\nreload\ncheck-config\ndiscover\n");
  CHECK(complete("credrotctl di", 1) == "discover\n");
  CHECK(complete("credrotctl ro", 1) == "rotate\n");
  CHECK(complete("credrotctl rotate ''", 2) == "demo\n");
  CHECK(complete("credrotctl --json history d", 3) == "demo\n");
  CHECK(complete("credrotctl rotate --w", 2) == "--wait\n--wait-timeout\n");
  CHECK(complete("credrotctl --u", 1) == "--user\n");
}
