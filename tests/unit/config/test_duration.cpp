// SPDX-License-Identifier: Apache-2.0
// Durations and time windows as written in credrotd.toml.
#include "config/duration.hpp"

#include <catch2/catch.hpp>

using namespace credrotd;
using std::chrono::seconds;

TEST_CASE("durations accept every unit and combinations from largest to smallest", "[config]")
{
  CHECK(config::parse_duration("90s").value() == seconds(90));
}
