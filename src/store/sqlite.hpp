// SPDX-License-Identifier: Apache-2.0
// Private to src/store: one SQLite connection with its cached prepared statements, errors
// mapped to core::Error, transactions, and the row helpers the queries share.
#pragma once

#include "core/error.hpp"
#include "core/rotation.hpp"

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace credrotd::store {

using core::Status;
using core::TimePoint;

inline std::int64_t to_ms(TimePoint t)
{
  return t.time_since_epoch().count();
}
inline TimePoint from_ms(std::int64_t ms)
{
  return TimePoint{std::chrono::milliseconds(ms)};
}

// Lists of access ids are stored one a line (access ids never hold a newline).
std::string join_lines(const std::vector<std::string>& items);
std::vector<std::string> split_lines(std::string_view text);

// The database handle of one Store. Closing it finalizes the cached statements.
class Connection {
public:
  Connection(std::filesystem::path path, sqlite3* db) : m_path(std::move(path)), m_db(db) {}
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection();

  sqlite3* handle() const noexcept { return m_db; }
  const std::filesystem::path& path() const noexcept { return m_path; }

  // "<what> in <path>: <sqlite message>", coded by SQLite's result code: transient (busy,
  // locked: a second daemon?), parse (damaged), conflict (constraint), io (anything else).
  core::Error error(std::string_view what) const;
  // sqlite3_exec of `sql` (no rows); error(what) on failure.
  Status exec(const char* sql, std::string_view what);

  // Runs `body` inside BEGIN IMMEDIATE ... COMMIT; rolls back when it or the commit fails.
  template <class F> Status transaction(F&& body)
  {
    CREDROTD_TRY(exec("BEGIN IMMEDIATE", "cannot begin a transaction"));
    Status result = body();
    if (result) {
      result = exec("COMMIT", "cannot commit");
    }
    if (!result) {
      sqlite3_exec(m_db, "ROLLBACK", nullptr, nullptr, nullptr);
    }
    return result;
  }

private:
  friend class Statement;
  // Preparing a statement costs more than running most of the store's queries
  // (`credrotctl status` of 100 profiles runs 400): each SQL text is prepared once per
  // connection and reset after use. A statement still in use when the same SQL is asked for
  // again (never in the store today) gets a fresh one.
  struct Cached {
    sqlite3_stmt* stmt = nullptr;
    bool in_use = false;
  };
  std::filesystem::path m_path;
  sqlite3* m_db;
  std::unordered_map<std::string, Cached> m_statements;
};

// A prepared statement (from the connection's cache) with positional binding helpers. Bind
// indexes start at 1.
class Statement {
public:
  Statement(Connection& db, const std::string& sql);
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  bool ok() const { return m_prepared; }

  Statement& bind(int i, std::int64_t v);
  Statement& bind(int i, int v) { return bind(i, static_cast<std::int64_t>(v)); }
  Statement& bind(int i, bool v) { return bind(i, v ? 1 : 0); }
  Statement& bind(int i, std::string_view v);
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

  // Advances to the next row: true when a row is available, false when done or on error
  // (then done() is false).
  bool next()
  {
    m_rc = sqlite3_step(m_stmt);
    return m_rc == SQLITE_ROW;
  }
  bool done() const { return m_rc == SQLITE_DONE; }
  // Runs a statement that returns no rows; db.error(what) when it cannot be prepared or fails.
  Status run(std::string_view what);

  bool is_null(int col) const { return sqlite3_column_type(m_stmt, col) == SQLITE_NULL; }
  std::int64_t int64(int col) const { return sqlite3_column_int64(m_stmt, col); }
  std::string text(int col) const;
  // nullopt for NULL.
  std::optional<std::string> opt_text(int col) const { return opt(col, text(col)); }
  std::optional<TimePoint> opt_time(int col) const { return opt(col, from_ms(int64(col))); }
  std::optional<std::int64_t> opt_int64(int col) const { return opt(col, int64(col)); }

private:
  template <class T> std::optional<T> opt(int col, T value) const
  {
    return is_null(col) ? std::nullopt : std::optional<T>(std::move(value));
  }

  Connection& m_db;
  sqlite3_stmt* m_stmt = nullptr;
  Connection::Cached* m_cached = nullptr;
  int m_rc = SQLITE_OK;
  bool m_prepared = false;
};

// Reads every row of `st` with `read(st)` (which returns T or Result<T>); db.error(what) when
// the statement failed.
template <class T, class Read>
core::Result<std::vector<T>> read_all(Connection& db, Statement& st, std::string_view what,
                                      Read read)
{
  std::vector<T> out;
  while (st.ok() && st.next()) {
    core::Result<T> row = read(st);
    if (!row) {
      return row.error();
    }
    out.push_back(std::move(*row));
  }
  if (!st.done()) {
    return db.error(what);
  }
  return out;
}

// The first row read_all() reads, or nullopt when there is none.
template <class T, class Read>
core::Result<std::optional<T>> read_first(Connection& db, Statement& st, std::string_view what,
                                          Read read)
{
  CREDROTD_TRY_ASSIGN(auto rows, read_all<T>(db, st, what, read));
  return rows.empty() ? std::optional<T>() : std::optional<T>(std::move(rows.front()));
}

} // namespace credrotd::store
