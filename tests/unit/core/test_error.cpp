// SPDX-License-Identifier: Apache-2.0
// Tests of the error vocabulary and the TRY macros.
#include "core/error.hpp"

#include <catch2/catch.hpp>

#include <stdexcept>

using namespace credrotd::core;

namespace {

Result<int> parse_positive(int v)
{
  if (v <= 0) {
    return make_error(Errc::parse, "not positive");
  }
  return v;
}

Result<int> doubled(int v)
{
  CREDROTD_TRY_ASSIGN(const int x, parse_positive(v));
  return 2 * x;
}

Status check(int v)
{
  CREDROTD_TRY(parse_positive(v));
  return {};
}

} // namespace

TEST_CASE("TRY_ASSIGN passes a value on and returns an error unchanged", "[core][error]")
{
  REQUIRE(doubled(21).value() == 42);
  auto r = doubled(-1);
  REQUIRE(r.has_error());
  CHECK(r.error().code == Errc::parse);
  CHECK(r.error().message == "not positive");
  CHECK(check(1).has_value());
  CHECK(check(0).error().code == Errc::parse);
}

TEST_CASE("value() on an error throws an ErrorException carrying the error", "[core][error]")
{
  auto r = doubled(0);
  try {
    (void)r.value();
    FAIL("value() did not throw");
  } catch (const ErrorException& e) {
    CHECK(e.error().code == Errc::parse);
    CHECK(std::string(e.what()) == "parse: not positive");
  }
}

TEST_CASE("only transient and timeout errors are worth retrying", "[core][error]")
{
  CHECK(is_transient(Errc::transient));
  CHECK(is_transient(Errc::timeout));
  CHECK_FALSE(is_transient(Errc::auth_rejected));
  CHECK_FALSE(is_transient(Errc::tls));
  CHECK(to_string(Errc::clock_skew) == "clock_skew");
}

TEST_CASE("describe() gives an escaped exception's what(), or says it is unknown", "[core][error]")
{
  CHECK(describe(std::make_exception_ptr(std::runtime_error("disk on fire"))) == "disk on fire");
  CHECK(describe(std::make_exception_ptr(42)) == "unknown exception");
}
