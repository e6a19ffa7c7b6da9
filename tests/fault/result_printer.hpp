// SPDX-License-Identifier: Apache-2.0
// Lets Catch2 print a core::Result in REQUIRE(result): "ok" or "error: <code>: <message>".
#pragma once

#include "core/error.hpp"

#include <catch2/catch.hpp>

namespace Catch {

template <class T> struct StringMaker<boost::system::result<T, credrotd::core::Error>> {
  static std::string convert(const boost::system::result<T, credrotd::core::Error>& result)
  {
    return result ? std::string("ok") : "error: " + result.error().describe();
  }
};

} // namespace Catch
