// SPDX-License-Identifier: Apache-2.0
// Tests of what credrotctl makes of D-Bus errors (ctl/client.cpp): the exit status and message.
#include "ctl/client.hpp"

#include <catch2/catch.hpp>

using namespace credrotd;

TEST_CASE("each D-Bus error maps to its exit status", "[ctl]")
{
  CHECK(ctl::status_of("org.freedesktop.DBus.Error.ServiceUnknown") == ctl::exit_unreachable);
  CHECK(ctl::status_of("org.freedesktop.DBus.Error.NoReply") == ctl::exit_unreachable);
  CHECK(ctl::status_of("org.freedesktop.DBus.Error.AccessDenied") == ctl::exit_denied);
  CHECK(ctl::status_of(dbus::k_access_denied) == ctl::exit_denied);
  CHECK(ctl::status_of(dbus::error_name(core::Errc::not_found)) == ctl::exit_not_found);
  CHECK(ctl::status_of(dbus::error_name(core::Errc::conflict)) == ctl::exit_failed);
  CHECK(ctl::status_of("org.example.Whatever") == ctl::exit_failed);
}

TEST_CASE("a bus name nobody owns is reported as credrotd not running", "[ctl]")
{
  const auto f =
      ctl::failure_of(sdbus::Error("org.freedesktop.DBus.Error.ServiceUnknown", "no owner"));
  CHECK(f.status == ctl::exit_unreachable);
  CHECK(f.message == "credrotd is not running (nobody owns io.github.credrotd on this bus): "
                     "no owner [org.freedesktop.DBus.Error.ServiceUnknown]");
  const auto denied = ctl::failure_of(sdbus::Error(dbus::k_access_denied, "not in group"));
  CHECK(denied.status == ctl::exit_denied);
  CHECK(denied.message == "not in group [io.github.credrotd.Error.AccessDenied]");
}
