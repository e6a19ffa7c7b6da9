// SPDX-License-Identifier: Apache-2.0
// The Engine itself: construction, the set of profiles, resuming unfinished rotations,
// starting a rotation in the background, waiting for one, and stopping.
#include "engine/run.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <exception>

namespace credrotd::engine {

namespace asio = boost::asio;
using core::Errc;
using core::make_error;

Engine::Engine(asio::any_io_executor executor, StatePort& state, Observer& observer,
               EngineOptions options)
    : m_executor(std::move(executor)), m_state(state), m_observer(observer), m_options(options),
      m_scheduler_timer(m_executor), m_rng(std::random_device{}()),
      m_rechecker(m_executor, state, observer)
{
  m_options.max_concurrent = std::max(1, m_options.max_concurrent);
}

Engine::~Engine() = default;

void Engine::set_profiles(std::vector<std::shared_ptr<const ProfileRuntime>> profiles)
{
  m_profiles.clear();
  for (auto& p : profiles) {
    const std::string name = p->name;
    m_profiles.emplace(name, std::move(p));
  }
  // A rotation left unfinished (its profile was not configured at start, or it was paused
  // after an internal error) resumes now that its profile is configured.
  m_paused.clear();
  m_unschedulable.clear();
  if (!m_orphans_abandoned) {
    m_orphans_abandoned = true;
    m_rechecker.abandon_orphans();
  }
  resume();
  poke_scheduler();
  m_observer.state_changed();
}

std::vector<std::string> Engine::profile_names() const
{
  std::vector<std::string> names;
  for (const auto& [name, _] : m_profiles) {
    names.push_back(name);
  }
  return names;
}

std::shared_ptr<const ProfileRuntime> Engine::find(const std::string& name) const
{
  const auto it = m_profiles.find(name);
  return it == m_profiles.end() ? nullptr : it->second;
}

void Engine::start(std::shared_ptr<Run> run, bool fresh)
{
  m_running[run->profile->name] = run;
  asio::co_spawn(m_executor, run_rotation(run, fresh),
                 [this, profile = run->profile->name, id = run->rotation.id](std::exception_ptr e) {
                   if (!e) {
                     return;
                   }
                   const std::string what = core::describe(e);
                   m_observer.log(Severity::error, profile, id,
                                  "rotation stopped, it resumes on the next start: " + what);
                   m_running.erase(profile);
                   poke_scheduler();
                   if (m_on_fatal) {
                     m_on_fatal(core::Error{core::Errc::internal, what});
                   }
                 });
}

void Engine::resume()
{
  auto unfinished = m_state.unfinished_rotations();
  if (!unfinished) {
    m_observer.log(Severity::error, "", 0,
                   "cannot read unfinished rotations: " + unfinished.error().describe());
    return;
  }
  for (auto& r : *unfinished) {
    if (m_running.count(r.profile) != 0 || m_planning.count(r.profile) != 0) {
      continue; // already running (resumed by an earlier call)
    }
    auto profile = find(r.profile);
    if (!profile) {
      m_observer.log(Severity::warning, r.profile, r.id,
                     fmt::format("rotation {} of profile {} is unfinished but the profile is no "
                                 "longer configured; it resumes when the profile is configured "
                                 "again",
                                 r.id, r.profile));
      continue;
    }
    auto run = std::make_shared<Run>(m_executor, profile, std::move(r));
    run->resumed = true;
    start(std::move(run), false);
  }
}

Task<Result<core::Rotation>> Engine::wait(std::int64_t id)
{
  for (;;) {
    auto r = m_state.rotation(id);
    if (!r) {
      co_return r.error();
    }
    if (!*r) {
      co_return make_error(Errc::not_found, fmt::format("no rotation {}", id));
    }
    const bool running = std::any_of(m_running.begin(), m_running.end(),
                                     [&](const auto& kv) { return kv.second->rotation.id == id; });
    if (core::is_final((*r)->phase) || !running || m_stopping) {
      co_return std::move(**r);
    }
    auto timer =
        std::make_shared<asio::steady_timer>(m_executor, asio::steady_timer::time_point::max());
    m_waiters[id].push_back(timer);
    boost::system::error_code ec;
    co_await timer->async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

std::vector<std::int64_t> Engine::running_ids() const
{
  std::vector<std::int64_t> ids;
  for (const auto& [_, run] : m_running) {
    ids.push_back(run->rotation.id);
  }
  return ids;
}

void Engine::stop()
{
  m_stopping = true;
  m_rechecker.stop();
  m_scheduler_timer.cancel();
  for (auto& [_, run] : m_running) {
    run->timer.cancel();
  }
  for (auto& timer : m_slot_waiters) {
    timer->cancel();
  }
  for (auto& [_, timers] : m_waiters) {
    for (auto& timer : timers) {
      timer->cancel();
    }
  }
}

} // namespace credrotd::engine
