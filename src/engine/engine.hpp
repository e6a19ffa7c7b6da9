// SPDX-License-Identifier: Apache-2.0
// The engine: schedules profiles and runs the rotation protocol through the ports.
#pragma once

#include "core/config.hpp"
#include "core/rotation.hpp"
#include "core/schedule.hpp"
#include "engine/ports.hpp"
#include "engine/recheck.hpp"
#include "engine/state_port.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/system_timer.hpp>

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace credrotd::engine {

// A profile as the engine runs it: its policies and the adapters bound to its identity,
// endpoint and files. Immutable once built; a reload builds new ones, and a running rotation
// keeps the one it started with.
struct ProfileRuntime {
  std::string name;
  core::RotationPolicy rotation;
  core::SchedulePolicy schedule;
  core::CreateMethodChoice create_method = core::CreateMethodChoice::auto_;
  bool confirm_retire = true;
  // How long after deleting a key S3 still accepts (Ceph RGW's 300 s secret cache) to check
  // it again; zero: never, it is reported accepted at once.
  core::Duration recheck_after = std::chrono::seconds(310);
  bool enabled = true;
  std::shared_ptr<KeystonePort> keystone;
  std::shared_ptr<S3Port> s3;
  std::shared_ptr<ConsumersPort> consumers;
};

enum class Severity { debug, info, notice, warning, error };

// What happened, for the journal, D-Bus signals and metrics (src/service implements it).
// Called on the loop thread; must not block. Never receives a secret.
class Observer {
public:
  virtual ~Observer() = default;
  virtual void rotation_started(const core::Rotation& /*rotation*/) {}
  virtual void phase_changed(const core::Rotation& /*rotation*/) {}
  virtual void rotation_finished(const core::Rotation& /*rotation*/) {}
  virtual void verification_failed(const core::Rotation& /*rotation*/,
                                   const std::string& /*detail*/)
  {}
  virtual void key_deleted(const core::Rotation& /*rotation*/, const std::string& /*access*/) {}
  // Anything else worth a journal line. `rotation_id` is 0 outside a rotation.
  virtual void log(Severity /*severity*/, const std::string& /*profile*/,
                   std::int64_t /*rotation_id*/, const std::string& /*message*/)
  {}
  // The schedule or a profile's state changed (for D-Bus PropertiesChanged, metrics).
  virtual void state_changed() {}
};

enum class Trigger { schedule, request, resume };

// One of the user's EC2 keys in Keystone, as `credrotctl keys` shows it. No secret.
struct KeyView {
  std::string access;
  std::string project_id;
  // current, previous, pending, retired (still in Keystone), not_managed, or candidate: a key
  // that appeared during an OS-EC2 create of unknown outcome; it may be this daemon's or
  // another host's, so it is neither adopted nor deleted: the operator decides.
  std::string role;
};

struct EngineOptions {
  int max_concurrent = 4;
};

// A profile's state as shown by `credrotctl status` and the D-Bus API.
struct ProfileStatus {
  std::string name;
  bool enabled = true;
  std::optional<std::string> current_access;
  std::optional<core::TimePoint> current_since; // when the current key was created or adopted
  std::optional<core::TimePoint> next_due;
  std::optional<core::Rotation> running; // the rotation in progress, if any
  std::optional<core::Rotation> last;    // the last finished rotation, if any
  std::optional<core::TimePoint> last_success_at;
  core::OutcomeCounts counts;
  // Keys the profile's rotations recorded as candidates (see KeyView::role), 0 normally.
  std::size_t candidate_keys = 0;
  // Old keys deleted from Keystone whose refusal by S3 is not (yet) confirmed: still accepted
  // at deletion (RGW's cache) and waiting for the re-check, or found still accepted by it.
  std::size_t unconfirmed_revocations = 0;
  // The configured schedule and rotation timings of the profile (for the metrics' alert
  // thresholds); nullopt when the profile is not configured.
  std::optional<core::SchedulePolicy> schedule;
  std::optional<core::RotationPolicy> policy;
};

// Runs on one io_context thread; every method must be called from that thread. Owns no
// adapter: profiles bring theirs, the state port and observer outlive the engine.
class Engine {
public:
  Engine(boost::asio::any_io_executor executor, StatePort& state, Observer& observer,
         EngineOptions options);
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;
  ~Engine();

  // Replaces the set of profiles (at start and on reload). New profiles are scheduled,
  // removed ones are no longer scheduled; rotations in progress go on with the runtime they
  // started with (a retire also protects the files configured now). Unfinished rotations of
  // configured profiles that are not running (left while their profile was not configured,
  // or paused after an internal error) resume.
  void set_profiles(std::vector<std::shared_ptr<const ProfileRuntime>> profiles);
  std::vector<std::string> profile_names() const;

  // Resumes the unfinished rotations found in the state that are not running (those whose
  // profile is configured; the others are reported and kept for when the profile returns).
  // set_profiles() calls it; calling it again resumes nothing twice.
  void resume();

  // Schedules due profiles until stop(). Wakes only when something is due: no polling.
  Task<void> run_scheduler();

  // Plans and records a rotation of `profile`, starts it in the background, and returns its
  // id. Errors: not_found (no such profile), conflict (a rotation of it is in progress; the
  // message gives its id), and planning failures (unreadable consumer files, consumers that
  // disagree, a key owned by another project, Keystone unreachable), which are also recorded
  // as a failed rotation so history shows them.
  Task<Result<std::int64_t>> rotate(std::string profile, Trigger trigger);

  // Waits until rotation `id` has finished (or the engine stops) and returns its final state.
  Task<Result<core::Rotation>> wait(std::int64_t id);

  // Checks that the profile's current key works (S3 checks, no rotation). not_found when the
  // profile has no current key.
  Task<Result<VerifyReport>> verify_current(std::string profile);

  // The keys Keystone holds for the profile's user, each marked with its managed role.
  Task<Result<std::vector<KeyView>>> keys(std::string profile);

  Result<ProfileStatus> status(const std::string& profile) const;
  Result<std::vector<ProfileStatus>> status_all() const;
  // The earliest next rotation of the enabled profiles (nullopt: none scheduled). One query,
  // unlike status_all(): the D-Bus NextDue property is read by every `credrotctl status`.
  Result<std::optional<core::TimePoint>> next_due() const;

  // Called when the engine cannot go on safely (the state database refuses a write, an
  // unexpected exception): the daemon logs it and exits, and the next start resumes.
  void on_fatal(std::function<void(const core::Error&)> handler)
  {
    m_on_fatal = std::move(handler);
  }

  // Stops scheduling and wakes every waiting task so it returns; rotations stay persisted in
  // their current phase and resume on the next start.
  void stop();
  bool stopping() const noexcept { return m_stopping; }
  // Number of rotations in progress (running or waiting), and their ids.
  std::size_t running_count() const noexcept { return m_running.size(); }
  std::vector<std::int64_t> running_ids() const;

  // One rotation in progress (run.hpp), shared with the actions (actions.cpp).
  struct Run;

private:
  // rotation_run.cpp: one rotation from start to finish.
  Task<void> run_rotation(std::shared_ptr<Run> run, bool fresh);
  Task<void> acquire_slot();
  void release_slot();
  void finish_run(const std::shared_ptr<Run>& run);
  core::Status persist(Run& run, const core::Step& proposed);

  void start(std::shared_ptr<Run> run, bool fresh);
  void poke_scheduler();
  void defer_after_failure(const std::string& name);
  double jitter_fraction();
  core::Duration utc_offset(core::TimePoint at) const;
  std::shared_ptr<const ProfileRuntime> find(const std::string& name) const;

  boost::asio::any_io_executor m_executor;
  StatePort& m_state;
  Observer& m_observer;
  EngineOptions m_options;
  std::map<std::string, std::shared_ptr<const ProfileRuntime>> m_profiles;
  std::map<std::string, std::shared_ptr<Run>> m_running; // by profile name
  std::set<std::string> m_planning;                      // profiles between rotate() and start
  std::set<std::int64_t> m_paused;       // rotations stopped by an internal error (see log)
  std::set<std::string> m_unschedulable; // profiles whose due time cannot be stored
  std::map<std::int64_t, std::vector<std::shared_ptr<boost::asio::steady_timer>>> m_waiters;
  int m_active = 0; // runs holding a concurrency slot
  std::deque<std::shared_ptr<boost::asio::steady_timer>> m_slot_waiters;
  boost::asio::system_timer m_scheduler_timer;
  std::mt19937_64 m_rng;
  bool m_stopping = false;
  std::function<void(const core::Error&)> m_on_fatal;
  RevocationRechecker m_rechecker;
  bool m_orphans_abandoned = false; // abandon_orphans() ran (once, at the first set_profiles)
};

// The access ids the consumers of a profile hold now (nullopt entries for files without a
// key), or the first read error.
Result<std::vector<std::optional<std::string>>> read_holders(ConsumersPort& consumers);

} // namespace credrotd::engine
