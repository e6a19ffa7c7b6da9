// SPDX-License-Identifier: Apache-2.0
// SQLite implementation of the state store: schema, migrations, queries.
#include "store/store.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <map>
#include <mutex>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <unordered_map>
#include <utility>

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

std::int64_t to_ms(TimePoint t)
{
  return t.time_since_epoch().count();
}
TimePoint from_ms(std::int64_t ms)
{
  return TimePoint{std::chrono::milliseconds(ms)};
}

std::string join_lines(const std::vector<std::string>& items)
{
  std::string out;
  for (const auto& item : items) {
    out += item;
    out += '\n';
  }
  return out;
}

std::vector<std::string> split_lines(std::string_view text)
{
  std::vector<std::string> out;
  while (!text.empty()) {
    const auto nl = text.find('\n');
    out.emplace_back(text.substr(0, nl));
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
  }
  return out;
}

// Prepared statements kept per connection and SQL text: preparing one costs more than running
// most of the store's queries (`credrotctl status` of 100 profiles runs 400), so each is
// prepared once and reset after use. A statement still in use when the same SQL is asked for
// again (never in the store today) gets a fresh one. Finalized when the connection closes.
struct CachedStatement {
  sqlite3_stmt* stmt = nullptr;
  bool in_use = false;
};
std::mutex g_statements_mutex;
std::map<sqlite3*, std::unordered_map<std::string, CachedStatement>> g_statements;

void forget_statements(sqlite3* db) noexcept
{
  const std::lock_guard lock(g_statements_mutex);
  if (const auto it = g_statements.find(db); it != g_statements.end()) {
    for (auto& [_, cached] : it->second) {
      sqlite3_finalize(cached.stmt);
    }
    g_statements.erase(it);
  }
}

// A prepared statement (from the cache above) with positional binding helpers. Bind indexes
// start at 1.
class Statement {
public:
  Statement(sqlite3* db, const char* sql)
  {
    const std::lock_guard lock(g_statements_mutex);
    auto& cached = g_statements[db][sql];
    if (cached.stmt != nullptr && !cached.in_use) {
      m_stmt = cached.stmt;
    } else {
      m_rc = sqlite3_prepare_v3(db, sql, -1, cached.stmt == nullptr ? SQLITE_PREPARE_PERSISTENT : 0,
                                &m_stmt, nullptr);
      if (m_rc != SQLITE_OK || cached.stmt != nullptr) {
        return; // an error, or a second user of the SQL: finalized by the destructor
      }
      cached.stmt = m_stmt;
    }
    cached.in_use = true;
    m_cached = &cached; // unordered_map nodes do not move
  }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement()
  {
    if (m_cached == nullptr) {
      sqlite3_finalize(m_stmt);
      return;
    }
    sqlite3_reset(m_stmt);
    sqlite3_clear_bindings(m_stmt);
    const std::lock_guard lock(g_statements_mutex);
    m_cached->in_use = false;
  }

  bool ok() const { return m_rc == SQLITE_OK; }

  Statement& bind(int i, std::int64_t v)
  {
    sqlite3_bind_int64(m_stmt, i, v);
    return *this;
  }
  Statement& bind(int i, int v) { return bind(i, static_cast<std::int64_t>(v)); }
  Statement& bind(int i, std::string_view v)
  {
    sqlite3_bind_text(m_stmt, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Statement& bind(int i, const std::string& v) { return bind(i, std::string_view(v)); }
  Statement& bind(int i, const char* v) { return bind(i, std::string_view(v)); }
  Statement& bind(int i, TimePoint v) { return bind(i, to_ms(v)); }
  template <class T> Statement& bind(int i, const std::optional<T>& v)
  {
    if (v) {
      return bind(i, *v);
    }
    sqlite3_bind_null(m_stmt, i);
    return *this;
  }

  // Advances to the next row: true when a row is available, false when done; errors are
  // kept in rc().
  bool next()
  {
    m_rc = sqlite3_step(m_stmt);
    return m_rc == SQLITE_ROW;
  }
  int rc() const { return m_rc; }
  bool done() const { return m_rc == SQLITE_DONE; }

  bool is_null(int col) const { return sqlite3_column_type(m_stmt, col) == SQLITE_NULL; }
  std::int64_t int64(int col) const { return sqlite3_column_int64(m_stmt, col); }
  std::string text(int col) const
  {
    const auto* p = sqlite3_column_text(m_stmt, col);
    return p == nullptr ? std::string()
                        : std::string(reinterpret_cast<const char*>(p),
                                      static_cast<std::size_t>(sqlite3_column_bytes(m_stmt, col)));
  }
  std::optional<std::string> opt_text(int col) const
  {
    return is_null(col) ? std::nullopt : std::optional<std::string>(text(col));
  }
  std::optional<TimePoint> opt_time(int col) const
  {
    return is_null(col) ? std::nullopt : std::optional<TimePoint>(from_ms(int64(col)));
  }
  std::optional<std::int64_t> opt_int64(int col) const
  {
    return is_null(col) ? std::nullopt : std::optional<std::int64_t>(int64(col));
  }

private:
  sqlite3_stmt* m_stmt = nullptr;
  CachedStatement* m_cached = nullptr;
  int m_rc = SQLITE_OK;
};

core::Error db_error(sqlite3* db, std::string_view what, const std::filesystem::path& path)
{
  const int rc = sqlite3_errcode(db);
  std::string message = std::string(what) + " in " + path.string() + ": " + sqlite3_errmsg(db);
  Errc code = Errc::io;
  if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
    code = Errc::transient;
    message += " (another process holds the database: is a second credrotd running on the "
               "same state directory?)";
  } else if (rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB) {
    code = Errc::parse;
    message += " (the database is damaged; move it aside and restart to begin with empty state, "
               "or restore it from a backup)";
  } else if (rc == SQLITE_CONSTRAINT) {
    code = Errc::conflict;
  } else if (rc == SQLITE_READONLY) {
    code = Errc::io;
  }
  return core::Error{code, std::move(message)};
}

// Runs `body` inside BEGIN IMMEDIATE ... COMMIT; rolls back on error.
template <class F> Status in_transaction(sqlite3* db, const std::filesystem::path& path, F&& body)
{
  if (sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) != SQLITE_OK) {
    return db_error(db, "cannot begin a transaction", path);
  }
  Status result = body();
  if (!result) {
    sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    return result;
  }
  if (sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) {
    auto error = db_error(db, "cannot commit", path);
    sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    return error;
  }
  return {};
}

Status exec_done(Statement& st, sqlite3* db, std::string_view what,
                 const std::filesystem::path& path)
{
  if (!st.ok()) {
    return db_error(db, what, path);
  }
  st.next();
  if (!st.done()) {
    return db_error(db, what, path);
  }
  return {};
}

constexpr const char* k_rotation_columns =
    "id, profile, phase, outcome, method, old_access, new_access, keys_before, started_at, "
    "phase_since, retry_at, verify_deadline, grace_until, finished_at, attempts, keep_new_key, "
    "error_code, error, note, candidates, create_uncertain";

Result<core::Rotation> read_rotation(const Statement& st)
{
  core::Rotation r;
  r.id = st.int64(0);
  r.profile = st.text(1);
  const auto phase = core::phase_from_string(st.text(2));
  const auto outcome = core::outcome_from_string(st.text(3));
  const auto method = core::create_method_from_string(st.text(4));
  if (!phase || !outcome || !method) {
    return make_error(Errc::parse, "rotation " + std::to_string(r.id) +
                                       " has an unknown phase, outcome or method");
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
    for (int i = 0; i <= static_cast<int>(Errc::internal); ++i) {
      if (core::to_string(static_cast<Errc>(i)) == *code) {
        r.error_code = static_cast<Errc>(i);
      }
    }
  }
  r.error = st.text(17);
  r.note = st.text(18);
  r.candidates = split_lines(st.text(19));
  r.create_uncertain = st.int64(20) != 0;
  return r;
}

} // namespace

void Store::Deleter::operator()(sqlite3* db) const noexcept
{
  forget_statements(db);
  sqlite3_close_v2(db);
}

Store::Store(std::filesystem::path path, sqlite3* db) : m_path(std::move(path)), m_db(db) {}
Store::Store(Store&&) noexcept = default;
Store& Store::operator=(Store&&) noexcept = default;
Store::~Store() = default;

Result<Store> Store::open(const std::filesystem::path& path, Mode mode)
{
  // Create the file ourselves so that it is 0600 from its first byte, and refuse a symlink.
  const int flags =
      (mode == Mode::read_write ? O_RDWR | O_CREAT : O_RDONLY) | O_NOFOLLOW | O_CLOEXEC;
  const int fd = ::open(path.c_str(), flags, 0600);
  if (fd < 0) {
    return make_error(Errc::io, "cannot open the state database " + path.string() + ": " +
                                    std::strerror(errno));
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
  Store store(path, raw);
  if (rc != SQLITE_OK) {
    return db_error(raw, "cannot open the state database", path);
  }
  sqlite3_busy_timeout(raw, 2000);
  sqlite3_extended_result_codes(raw, 0);
  if (mode == Mode::read_write) {
    if (sqlite3_exec(raw, "PRAGMA journal_mode=WAL", nullptr, nullptr, nullptr) != SQLITE_OK) {
      return db_error(raw, "cannot switch to WAL", path);
    }
  }
  // FULL: each commit (a phase transition) is on disk, WAL included, before it returns.
  // cache_size: SQLite's default page cache (2 MiB) held every page the daemon ever touched,
  // so its memory grew by the size of the history (~2.3 KiB a rotation) up to that bound; the
  // queries read a few index pages each, which the kernel's page cache serves when SQLite's
  // does not. 256 KiB bounds that growth (measured in tests/integration/soak).
  if (sqlite3_exec(raw, "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA cache_size=-256;",
                   nullptr, nullptr, nullptr) != SQLITE_OK) {
    return db_error(raw, "cannot configure the state database", path);
  }
  if (auto checked = store.check_integrity(); !checked) {
    // Leave the file exactly as found: closing the last connection would otherwise
    // checkpoint whatever the WAL holds into the damaged database (and delete the WAL).
    sqlite3_db_config(raw, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
    return checked.error();
  }
  if (mode == Mode::read_write) {
    CREDROTD_TRY(store.migrate());
  } else if (store.schema_version() != k_schema_version) {
    return make_error(Errc::config, "the state database " + path.string() + " has schema version " +
                                        std::to_string(store.schema_version()) +
                                        ", this build uses " + std::to_string(k_schema_version));
  }
  return store;
}

int Store::schema_version() const
{
  Statement st(m_db.get(), "PRAGMA user_version");
  return st.next() ? static_cast<int>(st.int64(0)) : -1;
}

Status Store::check_integrity() const
{
  Statement st(m_db.get(), "PRAGMA quick_check");
  if (!st.ok()) {
    return db_error(m_db.get(), "cannot check the state database", m_path);
  }
  std::string problems;
  while (st.next()) {
    const std::string line = st.text(0);
    if (line != "ok") {
      problems += (problems.empty() ? "" : "; ") + line;
    }
  }
  if (!st.done()) {
    return db_error(m_db.get(), "cannot check the state database", m_path);
  }
  if (!problems.empty()) {
    return make_error(Errc::parse, "the state database " + m_path.string() +
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
                      "the state database " + m_path.string() + " has schema version " +
                          std::to_string(version) + ", newer than this build's " +
                          std::to_string(k_schema_version) + ": run the newer credrotd");
  }
  for (int next = version + 1; next <= k_schema_version; ++next) {
    CREDROTD_TRY(in_transaction(m_db.get(), m_path, [&]() -> Status {
      if (sqlite3_exec(m_db.get(), k_migrations[next - 1], nullptr, nullptr, nullptr) !=
          SQLITE_OK) {
        return db_error(m_db.get(), "migration to schema " + std::to_string(next) + " failed",
                        m_path);
      }
      const std::string set_version = "PRAGMA user_version=" + std::to_string(next);
      if (sqlite3_exec(m_db.get(), set_version.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) {
        return db_error(m_db.get(), "cannot record the schema version", m_path);
      }
      return {};
    }));
  }
  return {};
}

// --- rotations ---

namespace {

Status bind_and_run_rotation(sqlite3* db, const std::filesystem::path& path, const char* sql,
                             const core::Rotation& r)
{
  Statement st(db, sql);
  if (!st.ok()) {
    return db_error(db, "cannot prepare a rotation update", path);
  }
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
      .bind(15, r.keep_new_key ? 1 : 0)
      .bind(16, r.error_code
                    ? std::optional<std::string>(std::string(core::to_string(*r.error_code)))
                    : std::nullopt)
      .bind(17, r.error)
      .bind(18, r.note)
      .bind(19, r.id)
      .bind(20, join_lines(r.candidates))
      .bind(21, r.create_uncertain ? 1 : 0);
  return exec_done(st, db, "cannot store rotation " + std::to_string(r.id), path);
}

Status apply_key_changes(sqlite3* db, const std::filesystem::path& path, const core::Rotation& r,
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
        .bind(8, revocation ? std::optional<std::string>(std::string(to_string(revocation->state)))
                            : std::nullopt)
        .bind(9, revocation ? revocation->recheck_at : std::nullopt);
    CREDROTD_TRY(exec_done(st, db, "cannot store a key change", path));
  }
  return {};
}

Status log_transition(sqlite3* db, const std::filesystem::path& path, std::int64_t id,
                      core::Phase phase, TimePoint at)
{
  Statement st(db, "INSERT INTO transitions (rotation_id, phase, at) VALUES (?1, ?2, ?3)");
  st.bind(1, id).bind(2, core::to_string(phase)).bind(3, at);
  return exec_done(st, db, "cannot log a transition", path);
}

} // namespace

Result<std::int64_t> Store::insert_rotation(const core::Rotation& rotation)
{
  std::int64_t id = 0;
  sqlite3* db = m_db.get();
  CREDROTD_TRY(in_transaction(db, m_path, [&]() -> Status {
    Statement st(db, "INSERT INTO rotations (profile, phase, outcome, method, started_at, "
                     "phase_since) VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
    st.bind(1, rotation.profile)
        .bind(2, core::to_string(rotation.phase))
        .bind(3, core::to_string(rotation.outcome))
        .bind(4, core::to_string(rotation.method))
        .bind(5, rotation.started_at)
        .bind(6, rotation.phase_since);
    if (auto status = exec_done(st, db, "cannot record a new rotation", m_path); !status) {
      if (status.error().code == Errc::conflict) {
        return make_error(Errc::conflict,
                          "profile " + rotation.profile + " already has a rotation running");
      }
      return status;
    }
    id = sqlite3_last_insert_rowid(db);
    core::Rotation stored = rotation;
    stored.id = id;
    CREDROTD_TRY(bind_and_run_rotation(
        db, m_path,
        "UPDATE rotations SET profile=?1, phase=?2, outcome=?3, method=?4, old_access=?5, "
        "new_access=?6, keys_before=?7, started_at=?8, phase_since=?9, retry_at=?10, "
        "verify_deadline=?11, grace_until=?12, finished_at=?13, attempts=?14, keep_new_key=?15, "
        "error_code=?16, error=?17, note=?18, candidates=?20, create_uncertain=?21 WHERE id=?19",
        stored));
    core::Rotation nothing;
    nothing.phase = stored.phase;
    CREDROTD_TRY(apply_key_changes(db, m_path, stored, core::key_changes(nothing, stored),
                                   stored.started_at));
    CREDROTD_TRY(log_transition(db, m_path, id, stored.phase, stored.phase_since));
    Statement p(db,
                "INSERT INTO profiles (name, last_rotation_id) VALUES (?1, ?2) "
                "ON CONFLICT (name) DO UPDATE SET last_rotation_id = excluded.last_rotation_id");
    p.bind(1, rotation.profile).bind(2, id);
    return exec_done(p, db, "cannot update the profile", m_path);
  }));
  return id;
}

Status Store::save_rotation(const core::Rotation& rotation,
                            const std::vector<core::KeyChange>& changes)
{
  sqlite3* db = m_db.get();
  return in_transaction(db, m_path, [&]() -> Status {
    Statement before(db, "SELECT phase FROM rotations WHERE id = ?1");
    before.bind(1, rotation.id);
    if (!before.next()) {
      return make_error(Errc::not_found, "rotation " + std::to_string(rotation.id) + " is not in " +
                                             m_path.string());
    }
    const bool phase_changed = before.text(0) != core::to_string(rotation.phase);
    CREDROTD_TRY(bind_and_run_rotation(
        db, m_path,
        "UPDATE rotations SET profile=?1, phase=?2, outcome=?3, method=?4, old_access=?5, "
        "new_access=?6, keys_before=?7, started_at=?8, phase_since=?9, retry_at=?10, "
        "verify_deadline=?11, grace_until=?12, finished_at=?13, attempts=?14, keep_new_key=?15, "
        "error_code=?16, error=?17, note=?18, candidates=?20, create_uncertain=?21 WHERE id=?19",
        rotation));
    CREDROTD_TRY(apply_key_changes(db, m_path, rotation, changes, rotation.phase_since));
    if (phase_changed) {
      CREDROTD_TRY(log_transition(db, m_path, rotation.id, rotation.phase, rotation.phase_since));
    }
    return {};
  });
}

namespace {

Result<std::vector<core::Rotation>> read_rotations(sqlite3* db, const std::filesystem::path& path,
                                                   Statement& st)
{
  if (!st.ok()) {
    return db_error(db, "cannot read rotations", path);
  }
  std::vector<core::Rotation> out;
  while (st.next()) {
    CREDROTD_TRY_ASSIGN(auto r, read_rotation(st));
    out.push_back(std::move(r));
  }
  if (!st.done()) {
    return db_error(db, "cannot read rotations", path);
  }
  return out;
}

} // namespace

Result<std::optional<core::Rotation>> Store::rotation(std::int64_t id) const
{
  const std::string sql =
      std::string("SELECT ") + k_rotation_columns + " FROM rotations WHERE id = ?1";
  Statement st(m_db.get(), sql.c_str());
  st.bind(1, id);
  CREDROTD_TRY_ASSIGN(auto rows, read_rotations(m_db.get(), m_path, st));
  if (rows.empty()) {
    return std::optional<core::Rotation>();
  }
  return std::optional<core::Rotation>(std::move(rows.front()));
}

Result<std::vector<core::Rotation>> Store::unfinished_rotations() const
{
  const std::string sql = std::string("SELECT ") + k_rotation_columns +
                          " FROM rotations WHERE outcome = 'running' ORDER BY id";
  Statement st(m_db.get(), sql.c_str());
  return read_rotations(m_db.get(), m_path, st);
}

Result<std::vector<core::Rotation>> Store::history(const std::string& profile, int limit) const
{
  const std::string sql = std::string("SELECT ") + k_rotation_columns +
                          " FROM rotations WHERE profile = ?1 ORDER BY id DESC LIMIT ?2";
  Statement st(m_db.get(), sql.c_str());
  st.bind(1, profile).bind(2, limit);
  return read_rotations(m_db.get(), m_path, st);
}

Result<std::optional<core::Rotation>> Store::running_rotation(const std::string& profile) const
{
  const std::string sql = std::string("SELECT ") + k_rotation_columns +
                          " FROM rotations WHERE profile = ?1 AND outcome = 'running'";
  Statement st(m_db.get(), sql.c_str());
  st.bind(1, profile);
  CREDROTD_TRY_ASSIGN(auto rows, read_rotations(m_db.get(), m_path, st));
  if (rows.empty()) {
    return std::optional<core::Rotation>();
  }
  return std::optional<core::Rotation>(std::move(rows.front()));
}

Result<OutcomeCounts> Store::outcome_counts(const std::string& profile) const
{
  // Kept by the triggers of migration 2.
  Statement st(m_db.get(), "SELECT outcome, n FROM outcome_counts WHERE profile = ?1");
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
    return db_error(m_db.get(), "cannot count rotations", m_path);
  }
  return counts;
}

Result<std::vector<Store::Transition>> Store::transitions(std::int64_t rotation_id) const
{
  Statement st(m_db.get(),
               "SELECT phase, at FROM transitions WHERE rotation_id = ?1 ORDER BY rowid");
  st.bind(1, rotation_id);
  std::vector<Transition> out;
  while (st.next()) {
    if (const auto phase = core::phase_from_string(st.text(0))) {
      out.push_back({*phase, from_ms(st.int64(1))});
    }
  }
  if (!st.done()) {
    return db_error(m_db.get(), "cannot read transitions", m_path);
  }
  return out;
}

// --- managed keys ---

namespace {

// The columns read_keys() reads, in its order.
constexpr std::string_view k_key_columns =
    "profile, access, state, origin, rotation_id, created_at, retired_at, retired_by, revocation, "
    "recheck_at";

Result<std::vector<ManagedKey>> read_keys(sqlite3* db, const std::filesystem::path& path,
                                          Statement& st)
{
  std::vector<ManagedKey> out;
  while (st.next()) {
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
    out.push_back(std::move(k));
  }
  if (!st.done()) {
    return db_error(db, "cannot read managed keys", path);
  }
  return out;
}

} // namespace

Result<std::vector<ManagedKey>> Store::keys(const std::string& profile) const
{
  static const std::string sql = "SELECT " + std::string(k_key_columns) +
                                 " FROM keys WHERE profile = ?1 ORDER BY created_at, access";
  Statement st(m_db.get(), sql.c_str());
  st.bind(1, profile);
  return read_keys(m_db.get(), m_path, st);
}

Result<std::vector<ManagedKey>> Store::live_keys(const std::string& profile) const
{
  // The WHERE term is the one of the partial index keys_live: SQLite uses it only then.
  static const std::string sql =
      "SELECT " + std::string(k_key_columns) +
      " FROM keys WHERE profile = ?1 AND state <> 'retired' ORDER BY created_at, access";
  Statement st(m_db.get(), sql.c_str());
  st.bind(1, profile);
  return read_keys(m_db.get(), m_path, st);
}

Result<std::vector<std::string>> Store::managed_access_ids() const
{
  Statement st(m_db.get(), "SELECT DISTINCT access FROM keys WHERE state <> 'retired'");
  std::vector<std::string> out;
  while (st.next()) {
    out.push_back(st.text(0));
  }
  if (!st.done()) {
    return db_error(m_db.get(), "cannot read managed keys", m_path);
  }
  return out;
}

Result<std::vector<std::string>> Store::candidates(const std::string& profile) const
{
  // The WHERE term is the one of the partial index rotations_with_candidates.
  Statement st(m_db.get(), "SELECT candidates FROM rotations WHERE profile = ?1 AND "
                           "candidates <> '' ORDER BY id");
  st.bind(1, profile);
  std::vector<std::string> out;
  while (st.next()) {
    for (auto& access : split_lines(st.text(0))) {
      if (std::find(out.begin(), out.end(), access) == out.end()) {
        out.push_back(std::move(access));
      }
    }
  }
  if (!st.done()) {
    return db_error(m_db.get(), "cannot read candidate keys", m_path);
  }
  return out;
}

Status Store::set_key(const ManagedKey& key)
{
  Statement st(m_db.get(),
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
  return exec_done(st, m_db.get(), "cannot store managed key " + key.access, m_path);
}

Status Store::set_key_state(const std::string& profile, const std::string& access,
                            core::KeyState state, TimePoint at)
{
  Statement st(m_db.get(), "UPDATE keys SET state = ?3, retired_at = ?4 WHERE profile = ?1 AND "
                           "access = ?2");
  st.bind(1, profile)
      .bind(2, access)
      .bind(3, core::to_string(state))
      .bind(4, state == core::KeyState::retired ? std::optional<TimePoint>(at) : std::nullopt);
  return exec_done(st, m_db.get(), "cannot update managed key " + access, m_path);
}

Status Store::set_revocation(const std::string& profile, const std::string& access,
                             core::Revocation revocation)
{
  Statement st(m_db.get(), "UPDATE keys SET revocation = ?3, recheck_at = NULL WHERE profile = ?1 "
                           "AND access = ?2");
  st.bind(1, profile).bind(2, access).bind(3, core::to_string(revocation));
  return exec_done(st, m_db.get(), "cannot record the revocation of " + access, m_path);
}

Result<std::vector<ManagedKey>> Store::pending_revocations() const
{
  static const std::string sql =
      "SELECT " + std::string(k_key_columns) +
      " FROM keys WHERE revocation = 'pending' ORDER BY recheck_at, profile, access";
  Statement st(m_db.get(), sql.c_str());
  return read_keys(m_db.get(), m_path, st);
}

Result<std::size_t> Store::unconfirmed_revocations(const std::string& profile) const
{
  Statement st(m_db.get(),
               "SELECT count(*) FROM keys WHERE profile = ?1 AND revocation IS NOT NULL AND "
               "revocation <> 'refused' AND retired_by = (SELECT max(retired_by) FROM keys WHERE "
               "profile = ?1 AND revocation IS NOT NULL)");
  st.bind(1, profile);
  if (!st.next()) {
    return db_error(m_db.get(), "cannot count unconfirmed revocations", m_path);
  }
  return static_cast<std::size_t>(st.int64(0));
}

// --- profiles ---

namespace {

ProfileState read_profile(const Statement& st)
{
  ProfileState p;
  p.name = st.text(0);
  p.next_due = st.opt_time(1);
  p.consecutive_failures = static_cast<int>(st.int64(2));
  p.last_rotation_id = st.opt_int64(3);
  p.last_success_at = st.opt_time(4);
  return p;
}

constexpr const char* k_profile_select =
    "SELECT name, next_due, consecutive_failures, last_rotation_id, last_success_at FROM profiles";

} // namespace

Result<std::optional<ProfileState>> Store::profile(const std::string& name) const
{
  const std::string sql = std::string(k_profile_select) + " WHERE name = ?1";
  Statement st(m_db.get(), sql.c_str());
  st.bind(1, name);
  if (st.next()) {
    return std::optional<ProfileState>(read_profile(st));
  }
  if (!st.done()) {
    return db_error(m_db.get(), "cannot read profile " + name, m_path);
  }
  return std::optional<ProfileState>();
}

Result<std::vector<ProfileState>> Store::profiles() const
{
  const std::string sql = std::string(k_profile_select) + " ORDER BY name";
  Statement st(m_db.get(), sql.c_str());
  std::vector<ProfileState> out;
  while (st.next()) {
    out.push_back(read_profile(st));
  }
  if (!st.done()) {
    return db_error(m_db.get(), "cannot read profiles", m_path);
  }
  return out;
}

Status Store::save_profile(const ProfileState& p)
{
  Statement st(
      m_db.get(),
      "INSERT INTO profiles (name, next_due, consecutive_failures, last_rotation_id, "
      "last_success_at) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (name) DO UPDATE SET "
      "next_due = excluded.next_due, consecutive_failures = excluded.consecutive_failures, "
      "last_rotation_id = excluded.last_rotation_id, "
      "last_success_at = excluded.last_success_at");
  st.bind(1, p.name)
      .bind(2, p.next_due)
      .bind(3, p.consecutive_failures)
      .bind(4, p.last_rotation_id)
      .bind(5, p.last_success_at);
  return exec_done(st, m_db.get(), "cannot store profile " + p.name, m_path);
}

// --- consumer writes ---

Status Store::record_write(const ConsumerWrite& w)
{
  Statement st(m_db.get(),
               "INSERT INTO consumer_writes (rotation_id, path, kind, access, sha256_before, "
               "sha256_after, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
  st.bind(1, w.rotation_id)
      .bind(2, w.path)
      .bind(3, to_string(w.kind))
      .bind(4, w.access)
      .bind(5, w.sha256_before)
      .bind(6, w.sha256_after)
      .bind(7, w.at);
  return exec_done(st, m_db.get(), "cannot record a write of " + w.path, m_path);
}

Result<std::vector<ConsumerWrite>> Store::writes(std::int64_t rotation_id) const
{
  Statement st(m_db.get(), "SELECT rotation_id, path, kind, access, sha256_before, sha256_after, "
                           "at FROM consumer_writes WHERE rotation_id = ?1 ORDER BY id");
  st.bind(1, rotation_id);
  std::vector<ConsumerWrite> out;
  while (st.next()) {
    ConsumerWrite w;
    w.rotation_id = st.int64(0);
    w.path = st.text(1);
    w.kind = st.text(2) == "restore" ? WriteKind::restore : WriteKind::write;
    w.access = st.text(3);
    w.sha256_before = st.text(4);
    w.sha256_after = st.text(5);
    w.at = from_ms(st.int64(6));
    out.push_back(std::move(w));
  }
  if (!st.done()) {
    return db_error(m_db.get(), "cannot read consumer writes", m_path);
  }
  return out;
}

} // namespace credrotd::store
