// SPDX-License-Identifier: Apache-2.0
// The D-Bus error names and the caller check of the Manager1 API (src/service/dbus).
#include "dbus/api.hpp"
#include "dbus/manager.hpp"

#include <catch2/catch.hpp>

#include <set>
#include <string>

using namespace credrotd;
using dbus::BusMode;
using dbus::check_caller;

TEST_CASE("every error code has a stable io.github.credrotd.Error name that maps back", "[dbus]")
{
  CHECK(dbus::error_name(core::Errc::not_found) == "io.github.credrotd.Error.NotFound");
  CHECK(dbus::error_name(core::Errc::auth_rejected) == "io.github.credrotd.Error.AuthRejected");
  CHECK(dbus::error_name(core::Errc::clock_skew) == "io.github.credrotd.Error.ClockSkew");
  CHECK(dbus::error_name(core::Errc::tls) == "io.github.credrotd.Error.Tls");
  std::set<std::string> names;
  for (const auto code :
       {core::Errc::auth_rejected, core::Errc::forbidden, core::Errc::not_found,
        core::Errc::conflict, core::Errc::transient, core::Errc::timeout, core::Errc::tls,
        core::Errc::clock_skew, core::Errc::protocol, core::Errc::parse, core::Errc::io,
        core::Errc::config, core::Errc::unsafe, core::Errc::cancelled, core::Errc::internal}) {
    const auto name = dbus::error_name(code);
    names.insert(name);
    CHECK(dbus::errc_from_error_name(name) == code);
  }
  CHECK(names.size() == 15);
  CHECK_FALSE(dbus::errc_from_error_name(dbus::k_access_denied));
  CHECK_FALSE(dbus::errc_from_error_name("org.freedesktop.DBus.Error.NotFound"));
  CHECK_FALSE(dbus::errc_from_error_name("io.github.credrotd.Error."));
}

TEST_CASE("the daemon's own uid and root may change things, in user mode only the own uid",
          "[dbus]")
{
  CHECK(check_caller(4242, 4242, BusMode::system, "credrotd-test-absent").empty());
  CHECK(check_caller(0, 4242, BusMode::system, "credrotd-test-absent").empty());
  CHECK(check_caller(4242, 4242, BusMode::user, "credrotd-test-absent").empty());
  CHECK_FALSE(check_caller(0, 4242, BusMode::user, "credrotd-test-absent").empty());
  CHECK_FALSE(check_caller(65534, 4242, BusMode::user, "nogroup").empty());
}

TEST_CASE("other callers need the group, and every failed lookup refuses", "[dbus]")
{
  // Debian's base system: user daemon (uid 1) has primary group daemon; nobody is not in it.
  CHECK(check_caller(1, 4242, BusMode::system, "daemon").empty());
  const auto nobody = check_caller(65534, 4242, BusMode::system, "daemon");
  CHECK(nobody.find("not in group daemon") != std::string::npos);
  // No such group: nobody gets in.
  const auto no_group = check_caller(1, 4242, BusMode::system, "credrotd-test-absent");
  CHECK(no_group.find("does not exist") != std::string::npos);
  // A uid without a passwd entry.
  const auto no_user = check_caller(3999999, 4242, BusMode::system, "daemon");
  CHECK(no_user.find("no passwd entry") != std::string::npos);
}
