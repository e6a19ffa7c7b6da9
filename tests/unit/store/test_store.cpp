// SPDX-License-Identifier: Apache-2.0
// Tests of the SQLite state store on real database files.
#include "store/store.hpp"

#include <catch2/catch.hpp>
#include <sqlite3.h>

#include <algorithm>
#include <fstream>
#include <random>
#include <sys/stat.h>

using namespace credrotd;
using namespace std::chrono_literals;
using store::Store;

namespace {

struct TempDir {
  std::filesystem::path path;
  TempDir()
  {
    std::random_device rd;
    path = std::filesystem::temp_directory_path() / ("credrotd-store-" + std::to_string(rd()));
    std::filesystem::create_directories(path);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

const core::TimePoint t0{std::chrono::milliseconds(1'700'000'000'000)};

core::Rotation sample(const std::string& profile)
{
  core::Rotation r;
  r.profile = profile;
  r.old_access = "OLD";
  r.new_access = "NEW";
  r.started_at = t0;
  r.phase_since = t0;
  return r;
}

std::string slurp(const std::filesystem::path& p)
{
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Rows of a query on the database file, each row's columns joined with '|' (NULL as "").
std::vector<std::string> rows(const std::filesystem::path& path, const std::string& sql)
{
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  std::vector<std::string> out;
  sqlite3_stmt* st = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK);
  while (sqlite3_step(st) == SQLITE_ROW) {
    std::string row;
    for (int i = 0; i < sqlite3_column_count(st); ++i) {
      const auto* text = sqlite3_column_text(st, i);
      row += (i == 0 ? "" : "|") + std::string(text ? reinterpret_cast<const char*>(text) : "");
    }
    out.push_back(row);
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return out;
}

} // namespace

TEST_CASE("a new state database is created 0600 at the current schema", "[store]")
{
  TempDir dir;
  auto s = Store::open(dir.path / "state.db");
  REQUIRE(s.has_value());
  CHECK(s->schema_version() == store::k_schema_version);
  struct stat st {};
  REQUIRE(::stat((dir.path / "state.db").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
}

TEST_CASE("a rotation round-trips through the database with every field", "[store]")
{
  TempDir dir;
  auto s = Store::open(dir.path / "state.db").value();
  core::Rotation r = sample("backup");
  r.method = core::CreateMethod::os_ec2;
  r.keys_before = {"A1", "B2"};
  const auto id = s.insert_rotation(r).value();
  CHECK(id > 0);
  r.id = id;
  r.phase = core::Phase::verify;
  r.phase_since = t0 + 5s;
  r.verify_deadline = t0 + 65s;
  r.retry_at = t0 + 6s;
  r.attempts = 2;
  r.error_code = core::Errc::auth_rejected;
  r.error = "rejected: 403";
  r.note = "n";
  r.keep_new_key = true;
  r.candidates = {"C1", "C2"};
  r.create_uncertain = true;
  REQUIRE(s.save_rotation(r, {}).has_value());

  // Reopen: what was saved is what comes back.
  s = Store::open(dir.path / "state.db").value();
  const auto back = s.rotation(id).value();
  REQUIRE(back);
  CHECK(back->profile == "backup");
  CHECK(back->phase == core::Phase::verify);
  CHECK(back->method == core::CreateMethod::os_ec2);
  CHECK(back->old_access == "OLD");
  CHECK(back->new_access == "NEW");
  CHECK(back->keys_before == std::vector<std::string>{"A1", "B2"});
  CHECK(back->started_at == t0);
  CHECK(back->phase_since == t0 + 5s);
  CHECK(back->verify_deadline == t0 + 65s);
  CHECK(back->retry_at == t0 + 6s);
  CHECK_FALSE(back->grace_until);
  CHECK(back->attempts == 2);
  CHECK(back->error_code == core::Errc::auth_rejected);
  CHECK(back->error == "rejected: 403");
  CHECK(back->keep_new_key);
  CHECK(back->candidates == std::vector<std::string>{"C1", "C2"});
  CHECK(back->create_uncertain);
  CHECK(s.candidates("backup").value() == std::vector<std::string>{"C1", "C2"});
  CHECK(s.candidates("other").value().empty());

  const auto log =
      rows(s.path(), "SELECT phase, at FROM transitions WHERE rotation_id = " + std::to_string(id) +
                         " ORDER BY rowid");
  REQUIRE(log.size() == 2);
  CHECK(log[0].starts_with("create|"));
  CHECK(log[1].starts_with("verify|"));
  CHECK(log[1] == "verify|" + std::to_string((t0 + 5s).time_since_epoch().count()));
}

TEST_CASE("a profile never has two running rotations", "[store]")
{
  TempDir dir;
  auto s = Store::open(dir.path / "state.db").value();
  REQUIRE(s.insert_rotation(sample("backup")).has_value());
  const auto second = s.insert_rotation(sample("backup"));
  REQUIRE(second.has_error());
  CHECK(second.error().code == core::Errc::conflict);
  CHECK(s.insert_rotation(sample("other")).has_value());
  CHECK(s.unfinished_rotations().value().size() == 2);
  CHECK(s.running_rotation("backup").value()->profile == "backup");
}

TEST_CASE("finished rotations leave the running set and show in history newest first", "[store]")
{
  TempDir dir;
  auto s = Store::open(dir.path / "state.db").value();
  for (int i = 0; i < 5; ++i) {
    core::Rotation r = sample("backup");
    r.id = s.insert_rotation(r).value();
    r.phase = core::Phase::done;
    r.outcome = i == 3 ? core::Outcome::rolled_back : core::Outcome::succeeded;
    r.finished_at = t0 + std::chrono::minutes(i);
    REQUIRE(s.save_rotation(r, {}).has_value());
  }
  CHECK(s.unfinished_rotations().value().empty());
  const auto h = s.history("backup", 3).value();
  REQUIRE(h.size() == 3);
  CHECK(h[0].id > h[1].id);
  CHECK(h[1].outcome == core::Outcome::rolled_back);
  const auto counts = s.outcome_counts("backup").value();
  CHECK(counts.succeeded == 4);
  CHECK(counts.rolled_back == 1);
  CHECK(s.profile("backup").value()->last_rotation_id == h[0].id);
}

TEST_CASE("key changes are stored with the rotation", "[store]")
{
  TempDir dir;
  auto s = Store::open(dir.path / "state.db").value();
  core::Rotation r = sample("backup");
  r.id = s.insert_rotation(r).value();
  auto keys = s.keys("backup").value();
  REQUIRE(keys.size() == 1);
  CHECK(keys[0].access == "NEW");
  CHECK(keys[0].state == core::KeyState::pending);

  REQUIRE(s.set_key({"backup", "OLD", core::KeyState::current, core::KeyOrigin::adopted,
                     std::nullopt, t0, std::nullopt})
              .has_value());
  REQUIRE(s.save_rotation(r, {{"NEW", core::KeyState::current}, {"OLD", core::KeyState::previous}})
              .has_value());
  REQUIRE(s.set_key_state("backup", "OLD", core::KeyState::retired, t0 + 1h).has_value());
  keys = s.keys("backup").value();
  REQUIRE(keys.size() == 2);
  for (const auto& k : keys) {
    if (k.access == "OLD") {
      CHECK(k.state == core::KeyState::retired);
      CHECK(k.origin == core::KeyOrigin::adopted);
      CHECK(k.retired_at == t0 + 1h);
    } else {
      CHECK(k.state == core::KeyState::current);
      CHECK(k.origin == core::KeyOrigin::created);
      CHECK(k.rotation_id == r.id);
    }
  }
}

TEST_CASE("live keys leave out the retired ones, in the order keys() gives", "[store]")
{
  TempDir dir;
  auto s = Store::open(dir.path / "state.db").value();
  for (int i = 0; i < 5; ++i) {
    REQUIRE(s.set_key({"backup", "K" + std::to_string(i),
                       i < 3 ? core::KeyState::retired : core::KeyState::previous,
                       core::KeyOrigin::created, std::nullopt, t0 + std::chrono::minutes(i),
                       std::nullopt})
                .has_value());
  }
  REQUIRE(s.set_key_state("backup", "K4", core::KeyState::current, t0).has_value());
  REQUIRE(s.set_key({"other", "K9", core::KeyState::current, core::KeyOrigin::created, std::nullopt,
                     t0, std::nullopt})
              .has_value());
  CHECK(s.keys("backup").value().size() == 5);
  const auto live = s.live_keys("backup").value();
  REQUIRE(live.size() == 2);
  CHECK(live[0].access == "K3");
  CHECK(live[0].state == core::KeyState::previous);
  CHECK(live[1].access == "K4");
  CHECK(live[1].state == core::KeyState::current);
  REQUIRE(s.set_key_state("backup", "K3", core::KeyState::retired, t0 + 1h).has_value());
  CHECK(s.live_keys("backup").value().size() == 1);
}

TEST_CASE("outcome counts follow inserts, outcome changes and deletes of rotations", "[store]")
{
  TempDir dir;
  auto s = Store::open(dir.path / "state.db").value();
  std::vector<core::Rotation> made;
  for (int i = 0; i < 6; ++i) {
    core::Rotation r = sample(i < 5 ? "backup" : "other");
    r.id = s.insert_rotation(r).value();
    r.phase = i == 1 ? core::Phase::failed : core::Phase::done;
    r.outcome = i == 1 ? core::Outcome::failed : core::Outcome::succeeded;
    REQUIRE(s.save_rotation(r, {}).has_value());
    made.push_back(r);
  }
  auto counts = s.outcome_counts("backup").value();
  CHECK(counts.succeeded == 4);
  CHECK(counts.failed == 1);
  CHECK(counts.rolled_back == 0);
  CHECK(s.outcome_counts("other").value().succeeded == 1);
  CHECK(s.outcome_counts("nobody").value().succeeded == 0);

  // A running rotation is not counted until it ends.
  core::Rotation running = sample("backup");
  running.id = s.insert_rotation(running).value();
  CHECK(s.outcome_counts("backup").value().succeeded == 4);
  running.phase = core::Phase::rolled_back;
  running.outcome = core::Outcome::rolled_back;
  REQUIRE(s.save_rotation(running, {}).has_value());
  counts = s.outcome_counts("backup").value();
  CHECK(counts.rolled_back == 1);
  CHECK(counts.succeeded == 4);

  // The same as counting the rows, whatever happened to them.
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open((dir.path / "state.db").c_str(), &db) == SQLITE_OK);
  REQUIRE(sqlite3_exec(db,
                       "PRAGMA foreign_keys=OFF; DELETE FROM rotations WHERE id = 1; "
                       "UPDATE rotations SET outcome = 'failed' WHERE id = 3",
                       nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(db);
  counts = s.outcome_counts("backup").value();
  CHECK(counts.succeeded == 2);
  CHECK(counts.failed == 2);
  CHECK(counts.rolled_back == 1);
}

TEST_CASE("a database of schema 1 is migrated with its outcome counts", "[store]")
{
  TempDir dir;
  const auto path = dir.path / "state.db";
  {
    auto s = Store::open(path).value();
    for (int i = 0; i < 3; ++i) {
      core::Rotation r = sample("backup");
      r.id = s.insert_rotation(r).value();
      r.phase = core::Phase::done;
      r.outcome = core::Outcome::succeeded;
      REQUIRE(s.save_rotation(r, {}).has_value());
    }
  }
  // Back to what schema 1 had: no counts table, no triggers, no index.
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  REQUIRE(sqlite3_exec(db,
                       "DROP TRIGGER outcome_counts_insert; DROP TRIGGER outcome_counts_update; "
                       "DROP TRIGGER outcome_counts_delete; DROP TABLE outcome_counts; "
                       "DROP INDEX keys_live; DROP INDEX rotations_with_candidates; "
                       "DROP INDEX keys_revoked; ALTER TABLE keys DROP COLUMN recheck_at; "
                       "ALTER TABLE keys DROP COLUMN revocation; "
                       "ALTER TABLE keys DROP COLUMN retired_by; "
                       "ALTER TABLE rotations DROP COLUMN candidates; "
                       "ALTER TABLE rotations DROP COLUMN create_uncertain; PRAGMA user_version=1",
                       nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(db);
  auto s = Store::open(path).value();
  CHECK(s.schema_version() == store::k_schema_version);
  CHECK(s.outcome_counts("backup").value().succeeded == 3);
  CHECK(s.live_keys("backup").value().size() == 1); // the pending NEW key
}

TEST_CASE("profiles and consumer writes are stored", "[store]")
{
  TempDir dir;
  auto s = Store::open(dir.path / "state.db").value();
  REQUIRE(s.save_profile({"backup", t0 + 30min, 2, std::nullopt, t0}).has_value());
  const auto p = s.profile("backup").value();
  REQUIRE(p);
  CHECK(p->next_due == t0 + 30min);
  CHECK(p->consecutive_failures == 2);
  CHECK_FALSE(s.profile("nope").value());

  const auto id = s.insert_rotation(sample("backup")).value();
  REQUIRE(s.record_write({id, "/home/a/.s3cfg", store::WriteKind::write, "NEW", "aa", "bb", t0})
              .has_value());
  const auto w = rows(s.path(), "SELECT path, sha256_after FROM consumer_writes WHERE "
                                "rotation_id = " +
                                    std::to_string(id) + " ORDER BY id");
  REQUIRE(w.size() == 1);
  CHECK(w[0].starts_with("/home/a/.s3cfg|"));
  CHECK(w[0] == "/home/a/.s3cfg|bb");
}

TEST_CASE("a state database readable by others is refused", "[store]")
{
  TempDir dir;
  const auto path = dir.path / "state.db";
  {
    std::ofstream(path) << "";
  }
  ::chmod(path.c_str(), 0644);
  const auto s = Store::open(path);
  REQUIRE(s.has_error());
  CHECK(s.error().code == core::Errc::unsafe);
  CHECK(s.error().message.find("chmod 600") != std::string::npos);
}

TEST_CASE("a symlinked state database is refused", "[store]")
{
  TempDir dir;
  std::filesystem::create_symlink("/etc/passwd", dir.path / "state.db");
  const auto s = Store::open(dir.path / "state.db");
  REQUIRE(s.has_error());
  CHECK(s.error().code == core::Errc::io);
}

TEST_CASE("a corrupted database gives a clear error and is not modified", "[store]")
{
  TempDir dir;
  const auto path = dir.path / "state.db";
  {
    auto s = Store::open(path).value();
    for (int i = 0; i < 200; ++i) {
      core::Rotation r = sample("p" + std::to_string(i));
      REQUIRE(s.insert_rotation(r).has_value());
    }
  }
  // Checkpointed and closed: now damage a page in the middle of the file.
  std::filesystem::remove(dir.path / "state.db-wal");
  std::string bytes = slurp(path);
  REQUIRE(bytes.size() > 3 * 4096);
  for (std::size_t i = 2 * 4096; i < 2 * 4096 + 512; ++i) {
    bytes[i] = static_cast<char>(0xA5);
  }
  {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  }
  ::chmod(path.c_str(), 0600);

  const auto s = Store::open(path);
  REQUIRE(s.has_error());
  CHECK(s.error().code == core::Errc::parse);
  CHECK(s.error().message.find(path.string()) != std::string::npos);
  CHECK(s.error().message.find("Move it aside") != std::string::npos);
  CHECK(slurp(path) == bytes);
}

TEST_CASE("a corrupted database is not checkpointed: its WAL is left as found", "[store]")
{
  TempDir dir;
  const auto path = dir.path / "state.db";
  const auto wal = dir.path / "state.db-wal";
  {
    auto s = Store::open(path).value();
    for (int i = 0; i < 200; ++i) {
      REQUIRE(s.insert_rotation(sample("p" + std::to_string(i))).has_value());
    }
  }
  // Later commits that are only in the WAL (a connection that closes without checkpointing,
  // as after a crash).
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  REQUIRE(sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_exec(db, "UPDATE rotations SET note = 'in the WAL only'", nullptr, nullptr,
                       nullptr) == SQLITE_OK);
  sqlite3_close(db);
  REQUIRE(std::filesystem::file_size(wal) > 0);
  std::string bytes = slurp(path);
  REQUIRE(bytes.size() > 3 * 4096);
  for (std::size_t i = 2 * 4096; i < 2 * 4096 + 512; ++i) {
    bytes[i] = static_cast<char>(0xA5);
  }
  {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  }
  ::chmod(path.c_str(), 0600);
  const std::string wal_bytes = slurp(wal);

  const auto s = Store::open(path);
  REQUIRE(s.has_error());
  CHECK(s.error().code == core::Errc::parse);
  CHECK(slurp(path) == bytes);
  REQUIRE(std::filesystem::exists(wal));
  CHECK(slurp(wal) == wal_bytes);
}

TEST_CASE("a database with a newer schema is refused", "[store]")
{
  TempDir dir;
  const auto path = dir.path / "state.db";
  {
    auto s = Store::open(path).value();
  }
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  REQUIRE(sqlite3_exec(db, "PRAGMA user_version=99", nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(db);
  const auto s = Store::open(path);
  REQUIRE(s.has_error());
  CHECK(s.error().code == core::Errc::config);
  CHECK(s.error().message.find("newer") != std::string::npos);
}

TEST_CASE("a database locked by another process gives a transient error, not a hang", "[store]")
{
  TempDir dir;
  const auto path = dir.path / "state.db";
  auto s = Store::open(path).value();
  sqlite3* other = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &other) == SQLITE_OK);
  REQUIRE(sqlite3_exec(other, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr) == SQLITE_OK);
  const auto start = std::chrono::steady_clock::now();
  const auto r = s.insert_rotation(sample("backup"));
  const auto waited = std::chrono::steady_clock::now() - start;
  sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(other);
  REQUIRE(r.has_error());
  CHECK(r.error().code == core::Errc::transient);
  CHECK(r.error().message.find("second credrotd") != std::string::npos);
  CHECK(waited < 5s);
  CHECK(s.insert_rotation(sample("backup")).has_value());
}

TEST_CASE("a retire's revocation findings are stored per key, re-checked, and counted for the "
          "latest retire",
          "[store][revocation]")
{
  TempDir dir;
  auto s = Store::open(dir.path / "state.db").value();
  const auto retire = [&](const std::string& access, std::optional<core::RevocationCheck> check) {
    core::Rotation r = sample("backup");
    r.old_access = access;
    r.new_access = access + "-NEXT";
    r.id = s.insert_rotation(r).value();
    r.phase = core::Phase::done;
    r.outcome = core::Outcome::succeeded;
    core::KeyChange change{access, core::KeyState::retired};
    change.revocation = std::move(check);
    REQUIRE(s.save_rotation(r, {change}).has_value());
  };
  CHECK(s.unconfirmed_revocations("backup").value() == 0);

  // RGW still accepted K1 when deleted: pending, counted, listed for the re-check.
  retire("K1", core::RevocationCheck{"K1", core::Revocation::pending, t0 + 310s});
  CHECK(s.unconfirmed_revocations("backup").value() == 1);
  auto pending = s.pending_revocations().value();
  REQUIRE(pending.size() == 1);
  CHECK(pending[0].access == "K1");
  CHECK(pending[0].recheck_at == t0 + 310s);
  CHECK(pending[0].retired_by.has_value());

  // The re-check finds it still accepted: a finding, still counted, no longer pending.
  REQUIRE(s.set_revocation("backup", "K1", core::Revocation::accepted).has_value());
  CHECK(s.pending_revocations().value().empty());
  CHECK(s.unconfirmed_revocations("backup").value() == 1);
  const auto keys = s.keys("backup").value();
  const auto k1 = std::find_if(keys.begin(), keys.end(), [](auto& k) { return k.access == "K1"; });
  REQUIRE(k1 != keys.end());
  CHECK(k1->revocation == core::Revocation::accepted);
  CHECK_FALSE(k1->recheck_at);

  // A retire without confirm_retire (no finding) does not hide it; a later confirmed one does.
  retire("K2", std::nullopt);
  CHECK(s.unconfirmed_revocations("backup").value() == 1);
  retire("K3", core::RevocationCheck{"K3", core::Revocation::refused, std::nullopt});
  CHECK(s.unconfirmed_revocations("backup").value() == 0);
  CHECK(s.unconfirmed_revocations("other").value() == 0);
}

TEST_CASE("a database of schema 3 is migrated to hold revocation findings", "[store]")
{
  TempDir dir;
  const auto path = dir.path / "state.db";
  {
    auto s = Store::open(path).value();
    REQUIRE(s.set_key({"backup", "OLD", core::KeyState::retired, core::KeyOrigin::adopted,
                       std::nullopt, t0, t0 + 1h})
                .has_value());
  }
  // Back to what 0.2.0's first releases wrote: schema 3, without migration 4's columns.
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  const char* downgrade = "DROP INDEX keys_revoked; ALTER TABLE keys DROP COLUMN recheck_at; "
                          "ALTER TABLE keys DROP COLUMN revocation; ALTER TABLE keys DROP COLUMN "
                          "retired_by; PRAGMA user_version=3;";
  REQUIRE(sqlite3_exec(db, downgrade, nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(db);

  auto s = Store::open(path).value();
  CHECK(s.schema_version() == store::k_schema_version);
  const auto keys = s.keys("backup").value();
  REQUIRE(keys.size() == 1);
  CHECK(keys[0].retired_at == t0 + 1h);
  CHECK_FALSE(keys[0].revocation);
  CHECK(s.unconfirmed_revocations("backup").value() == 0);
}
