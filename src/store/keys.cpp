// SPDX-License-Identifier: Apache-2.0
// The managed keys (their roles and revocation findings) and the profiles' schedule state.
#include "store/sqlite.hpp"
#include "store/store.hpp"

#include <fmt/core.h>

#include <algorithm>

namespace credrotd::store {

namespace {

using core::Errc;
using core::make_error;

std::string select_keys(std::string_view where)
{
  return fmt::format("SELECT profile, access, state, origin, rotation_id, created_at, retired_at, "
                     "retired_by, revocation, recheck_at FROM keys {}",
                     where);
}

Result<ManagedKey> read_key(const Statement& st)
{
  ManagedKey k;
  k.profile = st.text(0);
  k.access = st.text(1);
  const auto state = core::key_state_from_string(st.text(2));
  const auto origin = core::key_origin_from_string(st.text(3));
  if (!state || !origin) {
    return make_error(Errc::parse, "managed key " + k.access + " has an unknown state");
  }
  k.state = *state;
  k.origin = *origin;
  k.rotation_id = st.opt_int64(4);
  k.created_at = from_ms(st.int64(5));
  k.retired_at = st.opt_time(6);
  k.retired_by = st.opt_int64(7);
  if (!st.is_null(8)) {
    k.revocation = core::revocation_from_string(st.text(8));
    if (!k.revocation) {
      return make_error(Errc::parse, "managed key " + k.access + " has an unknown revocation");
    }
  }
  k.recheck_at = st.opt_time(9);
  return k;
}

ProfileState read_profile(const Statement& st)
{
  return ProfileState{st.text(0), st.opt_time(1), static_cast<int>(st.int64(2)), st.opt_int64(3),
                      st.opt_time(4)};
}

std::string select_profiles(std::string_view where)
{
  return fmt::format("SELECT name, next_due, consecutive_failures, last_rotation_id, "
                     "last_success_at FROM profiles {}",
                     where);
}

std::string read_text(const Statement& st)
{
  return st.text(0);
}

} // namespace

// --- managed keys ---

Result<std::vector<ManagedKey>> Store::keys(const std::string& profile) const
{
  Statement st(*m_db, select_keys("WHERE profile = ?1 ORDER BY created_at, access"));
  st.bind(1, profile);
  return read_all<ManagedKey>(*m_db, st, "cannot read managed keys", read_key);
}

Result<std::vector<ManagedKey>> Store::live_keys(const std::string& profile) const
{
  // The WHERE term is the one of the partial index keys_live: SQLite uses it only then.
  Statement st(
      *m_db, select_keys("WHERE profile = ?1 AND state <> 'retired' ORDER BY created_at, access"));
  st.bind(1, profile);
  return read_all<ManagedKey>(*m_db, st, "cannot read managed keys", read_key);
}

Result<std::vector<std::string>> Store::managed_access_ids() const
{
  Statement st(*m_db, "SELECT DISTINCT access FROM keys WHERE state <> 'retired'");
  return read_all<std::string>(*m_db, st, "cannot read managed keys", read_text);
}

Result<std::vector<std::string>> Store::candidates(const std::string& profile) const
{
  // The WHERE term is the one of the partial index rotations_with_candidates.
  Statement st(*m_db, "SELECT candidates FROM rotations WHERE profile = ?1 AND "
                      "candidates <> '' ORDER BY id");
  st.bind(1, profile);
  CREDROTD_TRY_ASSIGN(const auto lists,
                      read_all<std::string>(*m_db, st, "cannot read candidate keys", read_text));
  std::vector<std::string> out;
  for (const auto& list : lists) {
    for (auto& access : split_lines(list)) {
      if (std::find(out.begin(), out.end(), access) == out.end()) {
        out.push_back(std::move(access));
      }
    }
  }
  return out;
}

Status Store::set_key(const ManagedKey& key)
{
  Statement st(*m_db,
               "INSERT INTO keys (profile, access, state, origin, rotation_id, created_at, "
               "retired_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (profile, access) DO "
               "UPDATE SET state = excluded.state, retired_at = excluded.retired_at");
  st.bind(1, key.profile)
      .bind(2, key.access)
      .bind(3, core::to_string(key.state))
      .bind(4, core::to_string(key.origin))
      .bind(5, key.rotation_id)
      .bind(6, key.created_at)
      .bind(7, key.retired_at);
  return st.run("cannot store managed key " + key.access);
}

Status Store::set_key_state(const std::string& profile, const std::string& access,
                            core::KeyState state, TimePoint at)
{
  Statement st(*m_db, "UPDATE keys SET state = ?3, retired_at = ?4 WHERE profile = ?1 AND "
                      "access = ?2");
  st.bind(1, profile)
      .bind(2, access)
      .bind(3, core::to_string(state))
      .bind(4, state == core::KeyState::retired ? std::optional<TimePoint>(at) : std::nullopt);
  return st.run("cannot update managed key " + access);
}

Status Store::set_revocation(const std::string& profile, const std::string& access,
                             core::Revocation revocation)
{
  Statement st(*m_db, "UPDATE keys SET revocation = ?3, recheck_at = NULL WHERE profile = ?1 "
                      "AND access = ?2");
  st.bind(1, profile).bind(2, access).bind(3, core::to_string(revocation));
  return st.run("cannot record the revocation of " + access);
}

Result<std::vector<ManagedKey>> Store::pending_revocations() const
{
  Statement st(*m_db,
               select_keys("WHERE revocation = 'pending' ORDER BY recheck_at, profile, access"));
  return read_all<ManagedKey>(*m_db, st, "cannot read managed keys", read_key);
}

Result<std::size_t> Store::unconfirmed_revocations(const std::string& profile) const
{
  Statement st(*m_db,
               "SELECT count(*) FROM keys WHERE profile = ?1 AND revocation IS NOT NULL AND "
               "revocation <> 'refused' AND retired_by = (SELECT max(retired_by) FROM keys WHERE "
               "profile = ?1 AND revocation IS NOT NULL)");
  st.bind(1, profile);
  if (!st.next()) {
    return m_db->error("cannot count unconfirmed revocations");
  }
  return static_cast<std::size_t>(st.int64(0));
}

// --- profiles ---

Result<std::optional<ProfileState>> Store::profile(const std::string& name) const
{
  Statement st(*m_db, select_profiles("WHERE name = ?1"));
  st.bind(1, name);
  return read_first<ProfileState>(*m_db, st, "cannot read profile " + name, read_profile);
}

Result<std::vector<ProfileState>> Store::profiles() const
{
  Statement st(*m_db, select_profiles("ORDER BY name"));
  return read_all<ProfileState>(*m_db, st, "cannot read profiles", read_profile);
}

Status Store::save_profile(const ProfileState& p)
{
  Statement st(
      *m_db, "INSERT INTO profiles (name, next_due, consecutive_failures, last_rotation_id, "
             "last_success_at) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (name) DO UPDATE SET "
             "next_due = excluded.next_due, consecutive_failures = excluded.consecutive_failures, "
             "last_rotation_id = excluded.last_rotation_id, "
             "last_success_at = excluded.last_success_at");
  st.bind(1, p.name)
      .bind(2, p.next_due)
      .bind(3, p.consecutive_failures)
      .bind(4, p.last_rotation_id)
      .bind(5, p.last_success_at);
  return st.run("cannot store profile " + p.name);
}

} // namespace credrotd::store
