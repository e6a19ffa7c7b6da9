// SPDX-License-Identifier: Apache-2.0
// Durations and time windows as written in credrotd.toml.
#include "config/duration.hpp"

#include <catch2/catch.hpp>

using namespace credrotd;
using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

TEST_CASE("durations accept every unit and combinations from largest to smallest", "[config]")
{
  CHECK(config::parse_duration("90s").value() == seconds(90));
  CHECK(config::parse_duration("15m").value() == minutes(15));
  CHECK(config::parse_duration("12h").value() == hours(12));
  CHECK(config::parse_duration("30d").value() == hours(24 * 30));
  CHECK(config::parse_duration("1w").value() == hours(24 * 7));
  CHECK(config::parse_duration("1h30m").value() == minutes(90));
  CHECK(config::parse_duration("1w2d3h4m5s").value() ==
        hours(24 * 9) + hours(3) + minutes(4) + seconds(5));
  CHECK(config::parse_duration("0").value() == seconds(0));
  CHECK(config::parse_duration("0s").value() == seconds(0));
  CHECK(config::parse_duration("3650d").value() == config::k_max_duration);
}

TEST_CASE("bad durations say what is allowed", "[config]")
{
  const auto message = [](std::string_view text) {
    auto result = config::parse_duration(text);
    REQUIRE_FALSE(result.has_value());
    CHECK(result.error().code == core::Errc::config);
    return result.error().message;
  };
  CHECK_THAT(message("90"), Catch::Contains("has no unit (did you mean \"90s\"?)"));
  CHECK_THAT(message("5x"), Catch::Contains("unknown unit \"x\""));
  CHECK_THAT(message("30m1h"), Catch::Contains("largest to smallest"));
  CHECK_THAT(message("1h1h"), Catch::Contains("largest to smallest"));
  CHECK_THAT(message("-5m"), Catch::Contains("cannot be negative"));
  CHECK_THAT(message(""), Catch::Contains("empty duration"));
  CHECK_THAT(message("1h 30m"), Catch::Contains("a number is expected"));
  CHECK_THAT(message("3651d"), Catch::Contains("too long"));
  CHECK_THAT(message("99999999999999999999s"), Catch::Contains("too long"));
  CHECK_THAT(message("h"), Catch::Contains("units w d h m s"));
}

TEST_CASE("durations print canonically", "[config]")
{
  CHECK(config::format_duration(seconds(0)) == "0s");
  CHECK(config::format_duration(seconds(90)) == "1m30s");
  CHECK(config::format_duration(hours(24 * 30)) == "4w2d");
  CHECK(config::format_duration(hours(1)) == "1h");
  CHECK(config::parse_duration(config::format_duration(seconds(123456))).value() ==
        seconds(123456));
}

TEST_CASE("windows are HH:MM-HH:MM and may wrap past midnight", "[config]")
{
  const auto night = config::parse_window("02:00-05:00").value();
  CHECK(night.start == minutes(120));
  CHECK(night.end == minutes(300));
  CHECK_FALSE(night.wraps());
  CHECK(night.contains(minutes(120)));
  CHECK(night.contains(minutes(299)));
  CHECK_FALSE(night.contains(minutes(300)));
  CHECK_FALSE(night.contains(minutes(60)));

  const auto wrap = config::parse_window("22:00-04:00").value();
  CHECK(wrap.wraps());
  CHECK(wrap.contains(minutes(23 * 60)));
  CHECK(wrap.contains(minutes(0)));
  CHECK(wrap.contains(minutes(3 * 60 + 59)));
  CHECK_FALSE(wrap.contains(minutes(4 * 60)));
  CHECK_FALSE(wrap.contains(minutes(12 * 60)));

  const auto evening = config::parse_window("7:30-24:00").value();
  CHECK(evening.start == minutes(7 * 60 + 30));
  CHECK(evening.end == minutes(24 * 60));
  CHECK(evening.contains(minutes(23 * 60 + 59)));
  CHECK(config::format_window(evening) == "07:30-24:00");
  CHECK(config::format_window(wrap) == "22:00-04:00");
}

TEST_CASE("bad windows say what is allowed", "[config]")
{
  for (const auto* text : {"02:00", "2-5", "02:00-25:00", "02:60-03:00", "24:00-02:00",
                           "02:00-24:30", "aa:bb-cc:dd", "02:00-05:00-06:00", "002:00-05:00"}) {
    INFO(text);
    auto result = config::parse_window(text);
    REQUIRE_FALSE(result.has_value());
    CHECK_THAT(result.error().message, Catch::Contains("HH:MM-HH:MM"));
  }
  for (const auto* text : {"03:00-03:00", "00:00-24:00"}) {
    INFO(text);
    auto result = config::parse_window(text);
    REQUIRE_FALSE(result.has_value());
    CHECK_THAT(result.error().message, Catch::Contains("whole day; write window = \"\""));
  }
}
