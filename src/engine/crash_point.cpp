// SPDX-License-Identifier: Apache-2.0
// The fault-injection side of crash points (test builds only).
#include "engine/crash_point.hpp"

#include "core/fd.hpp"

#include <fmt/format.h>

#ifdef CREDROTD_FAULT_INJECTION

#include <csignal>
#include <cstdlib>
#include <fcntl.h>
#include <map>
#include <string>
#include <unistd.h>

namespace credrotd::engine {

void crash_point(std::string_view name)
{
  static std::map<std::string, int, std::less<>> hits;
  const int hit = ++hits[std::string(name)];
  if (const char* log = std::getenv("CREDROTD_CRASH_LOG"); log != nullptr && *log != '\0') {
    const core::Fd fd(::open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600));
    if (fd) {
      const std::string line = fmt::format("{}#{}\n", name, hit);
      [[maybe_unused]] const auto n = ::write(fd.get(), line.data(), line.size());
    }
  }
  const char* target = std::getenv("CREDROTD_CRASH_AT");
  if (target == nullptr) {
    return;
  }
  const std::string_view want(target);
  const auto hash = want.find('#');
  const std::string_view want_name = want.substr(0, hash);
  const int want_hit = hash == std::string_view::npos ? 1 : std::atoi(target + hash + 1);
  if (want_name == name && want_hit == hit) {
    ::kill(::getpid(), SIGKILL);
  }
}

} // namespace credrotd::engine

namespace credrotd::consumers {

// Replaces the weak no-op of src/consumers (an adapter may not depend on the engine), so the
// writer's crash points (consumers.temp_created, consumers.renamed, ...) obey CREDROTD_CRASH_AT.
void crash_point(std::string_view name)
{
  engine::crash_point(name);
}

} // namespace credrotd::consumers

#endif
