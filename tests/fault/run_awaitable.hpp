// SPDX-License-Identifier: Apache-2.0
// Runs one coroutine to completion on a test's io_context and hands back its value.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <exception>
#include <optional>
#include <stdexcept>

namespace credrotd::testfault {

// Spawns `work` on `io`, runs the loop until nothing is left to do, and returns the value or
// rethrows the exception the coroutine ended with (never asio::detached: failures must show).
template <class T> T run(boost::asio::io_context& io, boost::asio::awaitable<T> work)
{
  std::optional<T> value;
  std::exception_ptr error;
  boost::asio::co_spawn(io, std::move(work), [&value, &error](std::exception_ptr e, T result) {
    error = e;
    if (!e) {
      value.emplace(std::move(result));
    }
  });
  io.restart();
  io.run();
  if (error) {
    std::rethrow_exception(error);
  }
  if (!value) {
    throw std::logic_error("the coroutine did not complete");
  }
  return std::move(*value);
}

} // namespace credrotd::testfault
