// SPDX-License-Identifier: Apache-2.0
// Private to src/engine: one rotation in progress (Engine::Run) and the helpers the engine's
// files share. Not installed, not included outside src/engine.
#pragma once

#include "engine/engine.hpp"

#include <boost/asio/system_timer.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace credrotd::engine {

struct Engine::Run {
  Run(boost::asio::any_io_executor executor, std::shared_ptr<const ProfileRuntime> p,
      core::Rotation r)
      : profile(std::move(p)), rotation(std::move(r)), timer(std::move(executor))
  {}
  std::shared_ptr<const ProfileRuntime> profile;
  core::Rotation rotation;
  std::optional<core::Secret> new_secret; // kept in memory while the rotation runs, never stored
  std::optional<core::Secret> old_secret; // read back for a restore (or for redaction)
  boost::asio::system_timer timer;        // WaitUntil
  bool resumed = false;                   // started from the state after a restart
  // Deleted keys S3 still accepted, with their secrets, for the re-check once the retire
  // that found them is stored.
  std::vector<std::pair<core::RevocationCheck, core::Secret>> rechecks;
};

inline core::TimePoint now()
{
  return std::chrono::time_point_cast<std::chrono::milliseconds>(core::Clock::now());
}

inline std::string phase_name(const core::Rotation& r)
{
  return std::string(core::to_string(r.phase));
}

// --- redaction (rotation_run.cpp) ---

// Every secret the run holds, for redaction. The views live as long as the run's secrets.
std::vector<std::string_view> held_secrets(const Engine::Run& run);
// Replaces every secret the run holds in `text`. A safety net: adapters never put a secret in
// a message, but a consumer's check command is the operator's program and may print one.
void scrub_all(std::string& text, const Engine::Run& run);

// --- the actions (actions.cpp): each carries out one core action and returns its event ---

Task<core::Event> do_create(std::shared_ptr<Engine::Run> run);
// The keys of the user in the profile's project that are not in keys_before and that no
// profile of this daemon manages: what an OS-EC2 create of unknown outcome may have made, and
// what another host sharing the user may have made at the same time.
Task<core::Event> do_find_new_keys(std::shared_ptr<Engine::Run> run, StatePort& state);
Task<core::Event> do_write(std::shared_ptr<Engine::Run> run, StatePort& state);
Task<core::Event> do_restore(std::shared_ptr<Engine::Run> run, StatePort& state);
Task<core::Event> do_verify(std::shared_ptr<Engine::Run> run);
Task<core::Event> do_reload(std::shared_ptr<Engine::Run> run);
// `current` is the profile as configured now (nullptr: no longer configured): the files it
// names are protected too.
Task<core::Event> do_retire(std::shared_ptr<Engine::Run> run, StatePort& state, Observer& observer,
                            std::shared_ptr<const ProfileRuntime> current);
Task<core::Event> do_delete_new(std::shared_ptr<Engine::Run> run,
                                std::shared_ptr<const ProfileRuntime> current);

} // namespace credrotd::engine
