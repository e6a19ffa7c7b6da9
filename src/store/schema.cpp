// SPDX-License-Identifier: Apache-2.0
// Opening the state database: file checks, pragmas, integrity check, the schema and its
// migrations.
#include "store/sqlite.hpp"
#include "store/store.hpp"

#include <fmt/core.h>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace credrotd::store {

namespace {

using core::Errc;
using core::make_error;

// Migration n takes a database at schema version n-1 to version n. Append only: a released
// migration is never edited.
constexpr const char* k_migrations[] = {
    // 1: the initial schema.
    R"sql(
CREATE TABLE profiles (
  name TEXT PRIMARY KEY,
  next_due INTEGER,
  consecutive_failures INTEGER NOT NULL DEFAULT 0,
  last_rotation_id INTEGER,
  last_success_at INTEGER
);
CREATE TABLE rotations (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  profile TEXT NOT NULL,
  phase TEXT NOT NULL,
  outcome TEXT NOT NULL,
  method TEXT NOT NULL,
  old_access TEXT,
  new_access TEXT,
  keys_before TEXT NOT NULL DEFAULT '',
  started_at INTEGER NOT NULL,
  phase_since INTEGER NOT NULL,
  retry_at INTEGER,
  verify_deadline INTEGER,
  grace_until INTEGER,
  finished_at INTEGER,
  attempts INTEGER NOT NULL DEFAULT 0,
  keep_new_key INTEGER NOT NULL DEFAULT 0,
  error_code TEXT,
  error TEXT NOT NULL DEFAULT '',
  note TEXT NOT NULL DEFAULT ''
);
CREATE INDEX rotations_by_profile ON rotations(profile, id DESC);
CREATE UNIQUE INDEX one_running_rotation_per_profile ON rotations(profile) WHERE outcome = 'running';
CREATE TABLE transitions (
  rotation_id INTEGER NOT NULL REFERENCES rotations(id),
  phase TEXT NOT NULL,
  at INTEGER NOT NULL
);
CREATE INDEX transitions_by_rotation ON transitions(rotation_id);
CREATE TABLE keys (
  profile TEXT NOT NULL,
  access TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('pending', 'current', 'previous', 'retired')),
  origin TEXT NOT NULL CHECK (origin IN ('created', 'adopted')),
  rotation_id INTEGER REFERENCES rotations(id),
  created_at INTEGER NOT NULL,
  retired_at INTEGER,
  PRIMARY KEY (profile, access)
);
CREATE TABLE consumer_writes (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  rotation_id INTEGER NOT NULL REFERENCES rotations(id),
  path TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('write', 'restore')),
  access TEXT NOT NULL,
  sha256_before TEXT NOT NULL,
  sha256_after TEXT NOT NULL,
  at INTEGER NOT NULL
);
CREATE INDEX consumer_writes_by_rotation ON consumer_writes(rotation_id);
)sql",
    // 2: queries that stay fast with years of history (bench/store: a million rotations made
    // a profile's status take 60 ms and credrotctl status over 100 profiles 6 s). The keys a
    // rotation acts on (not retired) get an index of their own instead of being picked out of
    // every key the profile ever had, and the outcome counts are kept up to date by triggers
    // instead of being counted on every status query.
    R"sql(
CREATE INDEX keys_live ON keys(profile, created_at, access) WHERE state <> 'retired';
CREATE TABLE outcome_counts (
  profile TEXT NOT NULL,
  outcome TEXT NOT NULL,
  n INTEGER NOT NULL,
  PRIMARY KEY (profile, outcome)
) WITHOUT ROWID;
INSERT INTO outcome_counts (profile, outcome, n)
  SELECT profile, outcome, count(*) FROM rotations GROUP BY profile, outcome;
CREATE TRIGGER outcome_counts_insert AFTER INSERT ON rotations BEGIN
  INSERT INTO outcome_counts (profile, outcome, n) VALUES (NEW.profile, NEW.outcome, 1)
    ON CONFLICT (profile, outcome) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER outcome_counts_update AFTER UPDATE OF profile, outcome ON rotations
  WHEN OLD.profile IS NOT NEW.profile OR OLD.outcome IS NOT NEW.outcome BEGIN
  UPDATE outcome_counts SET n = n - 1 WHERE profile = OLD.profile AND outcome = OLD.outcome;
  INSERT INTO outcome_counts (profile, outcome, n) VALUES (NEW.profile, NEW.outcome, 1)
    ON CONFLICT (profile, outcome) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER outcome_counts_delete AFTER DELETE ON rotations BEGIN
  UPDATE outcome_counts SET n = n - 1 WHERE profile = OLD.profile AND outcome = OLD.outcome;
END;
)sql",
    // 3: OS-EC2 creates of unknown outcome. The keys that appeared meanwhile (candidates: may
    // be ours or another host's) are recorded with the rotation, never as managed keys, and
    // found for `credrotctl keys` through an index of the few rotations that have any. A
    // create of unknown outcome keeps its new key managed after the rollback.
    R"sql(
ALTER TABLE rotations ADD COLUMN candidates TEXT NOT NULL DEFAULT '';
ALTER TABLE rotations ADD COLUMN create_uncertain INTEGER NOT NULL DEFAULT 0;
CREATE INDEX rotations_with_candidates ON rotations(profile, id) WHERE candidates <> '';
)sql",
    // 4: confirm_retire's findings, per deleted key: whether S3 refused it, and when a key
    // still accepted (Ceph RGW's secret cache) is checked again. retired_by finds the keys of
    // a profile's latest retire.
    R"sql(
ALTER TABLE keys ADD COLUMN retired_by INTEGER; -- rotations.id
ALTER TABLE keys ADD COLUMN revocation TEXT
  CHECK (revocation IN ('refused', 'pending', 'accepted', 'unchecked'));
ALTER TABLE keys ADD COLUMN recheck_at INTEGER;
CREATE INDEX keys_revoked ON keys(profile, retired_by) WHERE revocation IS NOT NULL;
)sql",
};

static_assert(std::size(k_migrations) == k_schema_version);

} // namespace

Store::Store(std::unique_ptr<Connection> db) : m_db(std::move(db)) {}
Store::Store(Store&&) noexcept = default;
Store& Store::operator=(Store&&) noexcept = default;
Store::~Store() = default;

const std::filesystem::path& Store::path() const noexcept
{
  return m_db->path();
}

Result<Store> Store::open(const std::filesystem::path& path, Mode mode)
{
  // Create the file ourselves so that it is 0600 from its first byte, and refuse a symlink.
  const int flags =
      (mode == Mode::read_write ? O_RDWR | O_CREAT : O_RDONLY) | O_NOFOLLOW | O_CLOEXEC;
  const int fd = ::open(path.c_str(), flags, 0600);
  if (fd < 0) {
    return make_error(Errc::io, fmt::format("cannot open the state database {}: {}", path.string(),
                                            std::strerror(errno)));
  }
  struct stat st {};
  const int stat_rc = ::fstat(fd, &st);
  ::close(fd);
  if (stat_rc != 0 || !S_ISREG(st.st_mode)) {
    return make_error(Errc::unsafe,
                      "the state database " + path.string() + " is not a regular file");
  }
  if ((st.st_mode & 077) != 0 && mode == Mode::read_write) {
    return make_error(Errc::unsafe, "the state database " + path.string() +
                                        " is accessible by group or others; run chmod 600 on it");
  }

  sqlite3* raw = nullptr;
  const int open_flags = (mode == Mode::read_write ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY) |
                         SQLITE_OPEN_NOFOLLOW | SQLITE_OPEN_FULLMUTEX;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, open_flags, nullptr);
  Store store(std::make_unique<Connection>(path, raw));
  Connection& db = *store.m_db;
  if (rc != SQLITE_OK) {
    return db.error("cannot open the state database");
  }
  sqlite3_busy_timeout(raw, 2000);
  sqlite3_extended_result_codes(raw, 0);
  if (mode == Mode::read_write) {
    CREDROTD_TRY(db.exec("PRAGMA journal_mode=WAL", "cannot switch to WAL"));
  }
  // FULL: each commit (a phase transition) is on disk, WAL included, before it returns.
  // cache_size: SQLite's default page cache (2 MiB) held every page the daemon ever touched,
  // so its memory grew by the size of the history (~2.3 KiB a rotation) up to that bound; the
  // queries read a few index pages each, which the kernel's page cache serves when SQLite's
  // does not. 256 KiB bounds that growth (measured in tests/integration/soak).
  CREDROTD_TRY(db.exec("PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA cache_size=-256;",
                       "cannot configure the state database"));
  if (auto checked = store.check_integrity(); !checked) {
    // Leave the file exactly as found: closing the last connection would otherwise
    // checkpoint whatever the WAL holds into the damaged database (and delete the WAL).
    sqlite3_db_config(raw, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
    return checked.error();
  }
  if (mode == Mode::read_write) {
    CREDROTD_TRY(store.migrate());
  } else if (store.schema_version() != k_schema_version) {
    return make_error(Errc::config,
                      fmt::format("the state database {} has schema version {}, this build uses {}",
                                  path.string(), store.schema_version(), k_schema_version));
  }
  return store;
}

int Store::schema_version() const
{
  Statement st(*m_db, "PRAGMA user_version");
  return st.next() ? static_cast<int>(st.int64(0)) : -1;
}

Status Store::check_integrity() const
{
  Statement st(*m_db, "PRAGMA quick_check");
  std::string problems;
  while (st.ok() && st.next()) {
    const std::string line = st.text(0);
    if (line != "ok") {
      problems += (problems.empty() ? "" : "; ") + line;
    }
  }
  if (!st.done()) {
    return m_db->error("cannot check the state database");
  }
  if (!problems.empty()) {
    return make_error(Errc::parse, "the state database " + path().string() +
                                       " failed its integrity check (" + problems +
                                       "); it was not modified. Move it aside and restart to begin "
                                       "with empty state, or restore it from a backup");
  }
  return {};
}

Status Store::migrate()
{
  const int version = schema_version();
  if (version > k_schema_version) {
    return make_error(Errc::config,
                      fmt::format("the state database {} has schema version {}, newer than this "
                                  "build's {}: run the newer credrotd",
                                  path().string(), version, k_schema_version));
  }
  for (int next = version + 1; next <= k_schema_version; ++next) {
    CREDROTD_TRY(m_db->transaction([&]() -> Status {
      CREDROTD_TRY(
          m_db->exec(k_migrations[next - 1], fmt::format("migration to schema {} failed", next)));
      return m_db->exec(fmt::format("PRAGMA user_version={}", next).c_str(),
                        "cannot record the schema version");
    }));
  }
  return {};
}

} // namespace credrotd::store
