// SPDX-License-Identifier: Apache-2.0
// Tests of Secret: redaction, moves that leave nothing behind, constant-time equality.
#include "core/secret.hpp"

#include <catch2/catch.hpp>

#include <sstream>
#include <type_traits>

using credrotd::core::Secret;

static_assert(!std::is_copy_constructible_v<Secret>);
static_assert(!std::is_copy_assignable_v<Secret>);
static_assert(std::is_nothrow_move_constructible_v<Secret>);

TEST_CASE("a secret prints as <redacted>", "[core][secret]")
{
  const Secret s("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
  std::ostringstream out;
  out << s;
  CHECK(out.str() == "<redacted>");
  CHECK(s.reveal() == "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
}

TEST_CASE("a moved-from secret is empty", "[core][secret]")
{
  Secret a("short");
  Secret b(std::move(a));
  CHECK(b.reveal() == "short");
  CHECK(a.empty()); // NOLINT(bugprone-use-after-move): checking the moved-from state is the point
  Secret c("another value that is longer than the small string buffer");
  c = std::move(b);
  CHECK(c.reveal() == "short");
}

TEST_CASE("take() copies the value and wipes the caller's string", "[core][secret]")
{
  std::string raw = "a secret arriving in a std::string";
  const Secret s = Secret::take(raw);
  CHECK(raw.empty());
  CHECK(s.reveal() == "a secret arriving in a std::string");
}

TEST_CASE("secrets compare by value", "[core][secret]")
{
  CHECK(Secret("abc") == Secret("abc"));
  CHECK_FALSE(Secret("abc") == Secret("abd"));
  CHECK_FALSE(Secret("abc") == Secret("abcd"));
  CHECK(Secret("abc").clone() == Secret("abc"));
}
