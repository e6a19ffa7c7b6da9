// SPDX-License-Identifier: Apache-2.0
// `credrotd --once`: resume, rotate what is due or asked, wait, and report each rotation.
#include "engine/once.hpp"

#include <fmt/format.h>
#include <fmt/ostream.h>

#include <algorithm>
#include <chrono>

namespace credrotd::engine {

namespace {

bool contains(const std::vector<std::string>& names, const std::string& name)
{
  return std::find(names.begin(), names.end(), name) != names.end();
}

} // namespace

Task<OnceReport> run_once(Engine* engine, const StatePort* state, std::vector<std::string> profiles,
                          std::ostream* out)
{
  OnceReport report;
  // First finish what a previous run left unfinished.
  engine->resume();
  std::vector<std::int64_t> ids = engine->running_ids();
  std::vector<std::string> resumed;
  for (const auto id : ids) {
    if (auto r = state->rotation(id); r && *r) {
      resumed.push_back((*r)->profile);
    }
  }
  const auto names = engine->profile_names();
  for (const auto& name : profiles) {
    if (!contains(names, name)) {
      co_return OnceReport{OnceResult::unknown_profile, "no profile named " + name};
    }
  }
  if (profiles.empty()) {
    // What is due now (a profile that never rotated is due).
    const auto now = std::chrono::time_point_cast<std::chrono::milliseconds>(core::Clock::now());
    for (const auto& name : names) {
      auto s = engine->status(name);
      if (s && s->enabled && (!s->next_due || *s->next_due <= now)) {
        profiles.push_back(name);
      }
    }
  }
  for (const auto& name : profiles) {
    if (contains(resumed, name)) {
      continue; // its resumed rotation is this run's rotation
    }
    auto id = co_await engine->rotate(name, Trigger::request);
    if (!id) {
      fmt::print(*out, "{}: not rotated: {}\n", name, id.error().message);
      report.result = OnceResult::rotation_failed;
      continue;
    }
    ids.push_back(*id);
  }
  for (const auto id : ids) {
    auto r = co_await engine->wait(id);
    if (!r) {
      fmt::print(*out, "rotation {}: {}\n", id, r.error().message);
      report.result = OnceResult::rotation_failed;
      continue;
    }
    std::string line =
        fmt::format("{}: rotation {} {}", r->profile, r->id, core::to_string(r->outcome));
    if (r->outcome == core::Outcome::succeeded) {
      line += fmt::format(": {} -> {}", r->old_access.value_or("(no key)"),
                          r->new_access.value_or("?"));
    } else {
      line += ": " + r->error;
      report.result = OnceResult::rotation_failed;
    }
    if (!r->note.empty()) {
      line += fmt::format(" ({})", r->note);
    }
    *out << line << "\n";
  }
  if (ids.empty()) {
    *out << "nothing due\n";
  }
  co_return report;
}

} // namespace credrotd::engine
