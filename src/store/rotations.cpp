// SPDX-License-Identifier: Apache-2.0
// The rotation journal: rotations (with the key changes stored in the same transaction),
// their phase transitions, the outcome counts and the consumer writes.
#include "store/sqlite.hpp"
#include "store/store.hpp"

#include <fmt/core.h>

namespace credrotd::store {

namespace {

using core::Errc;
using core::make_error;

constexpr std::string_view k_rotation_columns =
    "id, profile, phase, outcome, method, old_access, new_access, keys_before, started_at, "
    "phase_since, retry_at, verify_deadline, grace_until, finished_at, attempts, keep_new_key, "
    "error_code, error, note, candidates, create_uncertain";

std::string select_rotations(std::string_view where)
{
  return fmt::format("SELECT {} FROM rotations {}", k_rotation_columns, where);
}

std::optional<Errc> errc_from_string(std::string_view name)
{
  for (int i = 0; i <= static_cast<int>(Errc::internal); ++i) {
    if (core::to_string(static_cast<Errc>(i)) == name) {
      return static_cast<Errc>(i);
    }
  }
  return std::nullopt;
}

Result<core::Rotation> read_rotation(const Statement& st)
{
  core::Rotation r;
  r.id = st.int64(0);
  r.profile = st.text(1);
  const auto phase = core::phase_from_string(st.text(2));
  const auto outcome = core::outcome_from_string(st.text(3));
  const auto method = core::create_method_from_string(st.text(4));
  if (!phase || !outcome || !method) {
    return make_error(Errc::parse,
                      fmt::format("rotation {} has an unknown phase, outcome or method", r.id));
  }
  r.phase = *phase;
  r.outcome = *outcome;
  r.method = *method;
  r.old_access = st.opt_text(5);
  r.new_access = st.opt_text(6);
  r.keys_before = split_lines(st.text(7));
  r.started_at = from_ms(st.int64(8));
  r.phase_since = from_ms(st.int64(9));
  r.retry_at = st.opt_time(10);
  r.verify_deadline = st.opt_time(11);
  r.grace_until = st.opt_time(12);
  r.finished_at = st.opt_time(13);
  r.attempts = static_cast<int>(st.int64(14));
  r.keep_new_key = st.int64(15) != 0;
  if (const auto code = st.opt_text(16)) {
    r.error_code = errc_from_string(*code);
  }
  r.error = st.text(17);
  r.note = st.text(18);
  r.candidates = split_lines(st.text(19));
  r.create_uncertain = st.int64(20) != 0;
  return r;
}

// The SQL that write_rotation() binds a whole rotation to (?19 is the id).
constexpr const char* k_insert_rotation =
    "INSERT INTO rotations (profile, phase, outcome, method, old_access, new_access, keys_before, "
    "started_at, phase_since, retry_at, verify_deadline, grace_until, finished_at, attempts, "
    "keep_new_key, error_code, error, note, candidates, create_uncertain) VALUES (?1, ?2, ?3, ?4, "
    "?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?20, ?21)";
constexpr const char* k_update_rotation =
    "UPDATE rotations SET profile=?1, phase=?2, outcome=?3, method=?4, old_access=?5, "
    "new_access=?6, keys_before=?7, started_at=?8, phase_since=?9, retry_at=?10, "
    "verify_deadline=?11, grace_until=?12, finished_at=?13, attempts=?14, keep_new_key=?15, "
    "error_code=?16, error=?17, note=?18, candidates=?20, create_uncertain=?21 WHERE id=?19";

Status write_rotation(Connection& db, const char* sql, const core::Rotation& r, std::string what)
{
  Statement st(db, sql);
  const auto error_code =
      r.error_code ? std::optional<std::string>(core::to_string(*r.error_code)) : std::nullopt;
  st.bind(1, r.profile)
      .bind(2, core::to_string(r.phase))
      .bind(3, core::to_string(r.outcome))
      .bind(4, core::to_string(r.method))
      .bind(5, r.old_access)
      .bind(6, r.new_access)
      .bind(7, join_lines(r.keys_before))
      .bind(8, r.started_at)
      .bind(9, r.phase_since)
      .bind(10, r.retry_at)
      .bind(11, r.verify_deadline)
      .bind(12, r.grace_until)
      .bind(13, r.finished_at)
      .bind(14, r.attempts)
      .bind(15, r.keep_new_key)
      .bind(16, error_code)
      .bind(17, r.error)
      .bind(18, r.note)
      .bind(19, r.id)
      .bind(20, join_lines(r.candidates))
      .bind(21, r.create_uncertain);
  return st.run(what);
}

Status apply_key_changes(Connection& db, const core::Rotation& r,
                         const std::vector<core::KeyChange>& changes, TimePoint at)
{
  for (const auto& change : changes) {
    Statement st(db, "INSERT INTO keys (profile, access, state, origin, rotation_id, created_at, "
                     "retired_at, retired_by, revocation, recheck_at) "
                     "VALUES (?1, ?2, ?3, 'created', ?4, ?5, ?6, ?7, ?8, ?9) "
                     "ON CONFLICT (profile, access) DO UPDATE SET state = excluded.state, "
                     "retired_at = excluded.retired_at, retired_by = excluded.retired_by, "
                     "revocation = excluded.revocation, recheck_at = excluded.recheck_at");
    const bool retired = change.state == core::KeyState::retired;
    const auto& revocation = change.revocation;
    st.bind(1, r.profile)
        .bind(2, change.access)
        .bind(3, core::to_string(change.state))
        .bind(4, r.id)
        .bind(5, at)
        .bind(6, retired ? std::optional<TimePoint>(at) : std::nullopt)
        .bind(7, retired ? std::optional<std::int64_t>(r.id) : std::nullopt)
        .bind(8,
              revocation ? std::optional<std::string>(to_string(revocation->state)) : std::nullopt)
        .bind(9, revocation ? revocation->recheck_at : std::nullopt);
    CREDROTD_TRY(st.run("cannot store a key change"));
  }
  return {};
}

Status log_transition(Connection& db, std::int64_t id, core::Phase phase, TimePoint at)
{
  Statement st(db, "INSERT INTO transitions (rotation_id, phase, at) VALUES (?1, ?2, ?3)");
  st.bind(1, id).bind(2, core::to_string(phase)).bind(3, at);
  return st.run("cannot log a transition");
}

} // namespace

Result<std::int64_t> Store::insert_rotation(const core::Rotation& rotation)
{
  std::int64_t id = 0;
  Connection& db = *m_db;
  CREDROTD_TRY(db.transaction([&]() -> Status {
    if (auto status =
            write_rotation(db, k_insert_rotation, rotation, "cannot record a new rotation");
        !status) {
      if (status.error().code == Errc::conflict) {
        return make_error(Errc::conflict,
                          "profile " + rotation.profile + " already has a rotation running");
      }
      return status;
    }
    id = sqlite3_last_insert_rowid(db.handle());
    core::Rotation stored = rotation;
    stored.id = id;
    core::Rotation nothing;
    nothing.phase = stored.phase;
    CREDROTD_TRY(
        apply_key_changes(db, stored, core::key_changes(nothing, stored), stored.started_at));
    CREDROTD_TRY(log_transition(db, id, stored.phase, stored.phase_since));
    Statement p(db,
                "INSERT INTO profiles (name, last_rotation_id) VALUES (?1, ?2) "
                "ON CONFLICT (name) DO UPDATE SET last_rotation_id = excluded.last_rotation_id");
    p.bind(1, rotation.profile).bind(2, id);
    return p.run("cannot update the profile");
  }));
  return id;
}

Status Store::save_rotation(const core::Rotation& rotation,
                            const std::vector<core::KeyChange>& changes)
{
  Connection& db = *m_db;
  return db.transaction([&]() -> Status {
    Statement before(db, "SELECT phase FROM rotations WHERE id = ?1");
    before.bind(1, rotation.id);
    if (!before.next()) {
      return make_error(Errc::not_found,
                        fmt::format("rotation {} is not in {}", rotation.id, path().string()));
    }
    const bool phase_changed = before.text(0) != core::to_string(rotation.phase);
    CREDROTD_TRY(write_rotation(db, k_update_rotation, rotation,
                                fmt::format("cannot store rotation {}", rotation.id)));
    CREDROTD_TRY(apply_key_changes(db, rotation, changes, rotation.phase_since));
    if (phase_changed) {
      CREDROTD_TRY(log_transition(db, rotation.id, rotation.phase, rotation.phase_since));
    }
    return {};
  });
}

Result<std::optional<core::Rotation>> Store::rotation(std::int64_t id) const
{
  Statement st(*m_db, select_rotations("WHERE id = ?1"));
  st.bind(1, id);
  return read_first<core::Rotation>(*m_db, st, "cannot read rotations", read_rotation);
}

Result<std::vector<core::Rotation>> Store::unfinished_rotations() const
{
  Statement st(*m_db, select_rotations("WHERE outcome = 'running' ORDER BY id"));
  return read_all<core::Rotation>(*m_db, st, "cannot read rotations", read_rotation);
}

Result<std::vector<core::Rotation>> Store::history(const std::string& profile, int limit) const
{
  Statement st(*m_db, select_rotations("WHERE profile = ?1 ORDER BY id DESC LIMIT ?2"));
  st.bind(1, profile).bind(2, limit);
  return read_all<core::Rotation>(*m_db, st, "cannot read rotations", read_rotation);
}

Result<std::optional<core::Rotation>> Store::running_rotation(const std::string& profile) const
{
  Statement st(*m_db, select_rotations("WHERE profile = ?1 AND outcome = 'running'"));
  st.bind(1, profile);
  return read_first<core::Rotation>(*m_db, st, "cannot read rotations", read_rotation);
}

Result<OutcomeCounts> Store::outcome_counts(const std::string& profile) const
{
  // Kept by the triggers of migration 2.
  Statement st(*m_db, "SELECT outcome, n FROM outcome_counts WHERE profile = ?1");
  st.bind(1, profile);
  OutcomeCounts counts;
  while (st.next()) {
    const auto outcome = core::outcome_from_string(st.text(0));
    if (outcome == core::Outcome::succeeded) {
      counts.succeeded = st.int64(1);
    } else if (outcome == core::Outcome::rolled_back) {
      counts.rolled_back = st.int64(1);
    } else if (outcome == core::Outcome::failed) {
      counts.failed = st.int64(1);
    }
  }
  if (!st.done()) {
    return m_db->error("cannot count rotations");
  }
  return counts;
}

Status Store::record_write(const ConsumerWrite& w)
{
  Statement st(*m_db,
               "INSERT INTO consumer_writes (rotation_id, path, kind, access, sha256_before, "
               "sha256_after, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
  st.bind(1, w.rotation_id)
      .bind(2, w.path)
      .bind(3, to_string(w.kind))
      .bind(4, w.access)
      .bind(5, w.sha256_before)
      .bind(6, w.sha256_after)
      .bind(7, w.at);
  return st.run("cannot record a write of " + w.path);
}

} // namespace credrotd::store
