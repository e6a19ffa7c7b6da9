// SPDX-License-Identifier: Apache-2.0
// Tests of credrotctl's tables and JSON documents (ctl/render.cpp), from D-Bus dictionaries
// built as credrotd sends them.
#include "ctl/render.hpp"

#include <boost/json/serialize.hpp>
#include <catch2/catch.hpp>

#include <cstdlib>
#include <ctime>

using namespace credrotd;
using ctl::Dict;

namespace {

// 2026-01-02T03:04:05Z in microseconds.
constexpr std::int64_t k_time = 1'767'323'045'000'000;

void utc()
{
  ::setenv("TZ", "UTC", 1);
  ::tzset();
}

Dict profile(const std::string& name)
{
  return Dict{{"name", sdbus::Variant(name)},
              {"enabled", sdbus::Variant(true)},
              {"current_access", sdbus::Variant(std::string("AKCUR"))},
              {"current_since", sdbus::Variant(k_time)},
              {"next_due", sdbus::Variant(k_time + 3'600'000'000)},
              {"running_rotation", sdbus::Variant(std::int64_t{0})},
              {"last_rotation", sdbus::Variant(std::int64_t{0})},
              {"unconfirmed_revocations", sdbus::Variant(std::int64_t{0})}};
}

} // namespace

TEST_CASE("times print as RFC 3339 UTC and as local time, and an unset time as a dash", "[ctl]")
{
  utc();
  CHECK(ctl::utc_time(k_time) == "2026-01-02T03:04:05Z");
  CHECK(ctl::local_time(k_time) == "2026-01-02 03:04:05");
  CHECK(ctl::local_time(0) == "-");
}

TEST_CASE("a dictionary becomes JSON with nulls for empty strings and unset times and ids", "[ctl]")
{
  const Dict d{{"name", sdbus::Variant(std::string("p"))},
               {"last_error", sdbus::Variant(std::string())},
               {"enabled", sdbus::Variant(false)},
               {"next_due", sdbus::Variant(k_time)},
               {"last_finished", sdbus::Variant(std::int64_t{0})},
               {"last_rotation", sdbus::Variant(std::int64_t{0})},
               {"id", sdbus::Variant(std::int64_t{7})},
               {"consecutive_failures", sdbus::Variant(std::int64_t{0})},
               {"count", sdbus::Variant(std::uint32_t{3})}};
  CHECK(
      boost::json::serialize(ctl::to_json(d)) ==
      R"({"consecutive_failures":0,"count":3,"enabled":false,"id":7,"last_error":null,)"
      R"("last_finished":null,"last_rotation":null,"name":"p","next_due":"2026-01-02T03:04:05Z"})");
}

TEST_CASE("a table pads each column but the last to its widest cell plus two spaces", "[ctl]")
{
  CHECK(ctl::table({{"A", "BB", "C"}, {"long", "x", "last column"}}) == "A     BB  C\n"
                                                                        "long  x   last column\n");
}

TEST_CASE("status shows each profile and then the problems of the failing ones", "[ctl]")
{
  utc();
  auto failed = profile("failing");
  failed["last_rotation"] = sdbus::Variant(std::int64_t{4});
  failed["last_outcome"] = sdbus::Variant(std::string("rolled_back"));
  failed["last_finished"] = sdbus::Variant(k_time);
  failed["last_error"] = sdbus::Variant(std::string("the new key was rejected"));
  failed["unconfirmed_revocations"] = sdbus::Variant(std::int64_t{2});
  auto rotating = profile("busy");
  rotating["running_rotation"] = sdbus::Variant(std::int64_t{9});
  rotating["running_phase"] = sdbus::Variant(std::string("verify"));
  auto disabled = profile("off");
  disabled["enabled"] = sdbus::Variant(false);
  disabled["current_access"] = sdbus::Variant(std::string());
  // Columns as the original credrotctl padded them: the widest cell plus two spaces.
  const std::string last_pad(34 - 13 + 2, ' '); // "LAST ROTATION" in a 34-wide column
  const std::string dash_pad(34 - 1 + 2, ' ');  // "-" in the same column
  CHECK(ctl::status_text({failed, rotating, disabled}) ==
        "PROFILE  STATE              CURRENT KEY  SINCE                LAST ROTATION" + last_pad +
            "NEXT DUE\n"
            "failing  idle               AKCUR        2026-01-02 03:04:05  #4 rolled_back "
            "2026-01-02 03:04:05  2026-01-02 04:04:05\n"
            "busy     rotating (verify)  AKCUR        2026-01-02 03:04:05  -" +
            dash_pad +
            "2026-01-02 04:04:05\n"
            "off      disabled           -            2026-01-02 03:04:05  -" +
            dash_pad +
            "-\n"
            "failing: rotation 4 rolled_back: the new key was rejected\n"
            "failing: 2 old key(s) deleted but not seen refused by S3 (RGW's cache, or a finding: "
            "see the journal)\n");
}

TEST_CASE("status as JSON carries the daemon's properties and the profiles", "[ctl]")
{
  const Dict properties{{"Version", sdbus::Variant(std::string("0.2.0"))},
                        {"RunningRotations", sdbus::Variant(std::uint32_t{1})},
                        {"NextDue", sdbus::Variant(std::int64_t{0})}};
  const auto doc = ctl::status_json({profile("p")}, properties);
  CHECK(doc.at("version") == "0.2.0");
  CHECK(doc.at("running_rotations") == 1);
  CHECK(doc.at("next_due").is_null());
  CHECK(doc.at("profiles").as_array().at(0).at("current_access") == "AKCUR");
}

TEST_CASE("history shows each rotation's outcome with its error code and note", "[ctl]")
{
  utc();
  CHECK(ctl::history_text("p", {}) == "no rotations of p yet\n");
  const Dict failed{{"id", sdbus::Variant(std::int64_t{2})},
                    {"started", sdbus::Variant(k_time)},
                    {"finished", sdbus::Variant(k_time)},
                    {"outcome", sdbus::Variant(std::string("failed"))},
                    {"old_access", sdbus::Variant(std::string("AKOLD"))},
                    {"new_access", sdbus::Variant(std::string())},
                    {"error", sdbus::Variant(std::string("Keystone said no"))},
                    {"error_code", sdbus::Variant(std::string("auth_rejected"))},
                    {"note", sdbus::Variant(std::string("retried"))}};
  const Dict running{{"id", sdbus::Variant(std::int64_t{3})},
                     {"started", sdbus::Variant(k_time)},
                     {"finished", sdbus::Variant(std::int64_t{0})},
                     {"outcome", sdbus::Variant(std::string("running"))},
                     {"phase", sdbus::Variant(std::string("grace"))}};
  CHECK(ctl::history_text("p", {running, failed}) ==
        "ID  STARTED              FINISHED             OUTCOME          OLD KEY  NEW KEY  DETAIL\n"
        "3   2026-01-02 03:04:05  -                    running (grace)  -        -        \n"
        "2   2026-01-02 03:04:05  2026-01-02 03:04:05  failed           AKOLD    -        "
        "auth_rejected: Keystone said no; retried\n");
}

TEST_CASE("keys shows each key's role, a key the daemon does not manage as not managed", "[ctl]")
{
  const Dict current{{"access", sdbus::Variant(std::string("AKCUR"))},
                     {"role", sdbus::Variant(std::string("current"))},
                     {"project_id", sdbus::Variant(std::string("p1"))}};
  const Dict other{{"access", sdbus::Variant(std::string("AKOTHER"))},
                   {"role", sdbus::Variant(std::string("not_managed"))},
                   {"project_id", sdbus::Variant(std::string("p1"))}};
  CHECK(ctl::keys_text({current, other}) == "ACCESS   ROLE         PROJECT\n"
                                            "AKCUR    current      p1\n"
                                            "AKOTHER  not managed  p1\n");
}
