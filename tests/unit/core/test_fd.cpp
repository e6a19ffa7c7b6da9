// SPDX-License-Identifier: Apache-2.0
// Tests of Fd: it closes what it owns exactly once, moves ownership and gives it up on release.
#include "core/fd.hpp"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <type_traits>
#include <unistd.h>

using credrotd::core::Fd;

static_assert(!std::is_copy_constructible_v<Fd>);
static_assert(!std::is_copy_assignable_v<Fd>);
static_assert(std::is_nothrow_move_constructible_v<Fd>);
static_assert(std::is_nothrow_move_assignable_v<Fd>);

namespace {

bool is_open(int fd)
{
  return ::fcntl(fd, F_GETFD) != -1;
}

int open_null()
{
  const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  return fd;
}

} // namespace

TEST_CASE("an fd is closed when its owner goes out of scope", "[core][fd]")
{
  int raw = -1;
  {
    Fd fd(open_null());
    raw = fd.get();
    CHECK(fd);
    CHECK(is_open(raw));
  }
  CHECK_FALSE(is_open(raw));
}

TEST_CASE("an empty fd holds -1 and closes nothing", "[core][fd]")
{
  Fd fd;
  CHECK(fd.get() == -1);
  CHECK_FALSE(fd);
  fd.reset();
  CHECK(fd.release() == -1);
}

TEST_CASE("moving an fd moves ownership and closes what the target held", "[core][fd]")
{
  Fd a(open_null());
  Fd b(open_null());
  const int raw_a = a.get();
  const int raw_b = b.get();
  b = std::move(a);
  CHECK(b.get() == raw_a);
  CHECK(a.get() == -1); // NOLINT(bugprone-use-after-move): the moved-from state is the contract
  CHECK_FALSE(is_open(raw_b));
  CHECK(is_open(raw_a));
  Fd c(std::move(b));
  CHECK(c.get() == raw_a);
  CHECK(is_open(raw_a));
}

TEST_CASE("release gives the descriptor up without closing it", "[core][fd]")
{
  Fd fd(open_null());
  const int raw = fd.release();
  CHECK(fd.get() == -1);
  CHECK(is_open(raw));
  ::close(raw);
}

TEST_CASE("reset closes the old descriptor and takes the new one", "[core][fd]")
{
  Fd fd(open_null());
  const int first = fd.get();
  const int second = open_null();
  fd.reset(second);
  CHECK(fd.get() == second);
  // first may be reused by the kernel only after it was closed
  CHECK((!is_open(first) || first == second));
}
