// SPDX-License-Identifier: Apache-2.0
// The SQLite connection, its statement cache and error mapping (see sqlite.hpp).
#include "store/sqlite.hpp"

namespace credrotd::store {

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

Connection::~Connection()
{
  for (auto& [_, cached] : m_statements) {
    sqlite3_finalize(cached.stmt);
  }
  sqlite3_close_v2(m_db);
}

core::Error Connection::error(std::string_view what) const
{
  const int rc = sqlite3_errcode(m_db);
  std::string message = std::string(what) + " in " + m_path.string() + ": " + sqlite3_errmsg(m_db);
  auto code = core::Errc::io;
  if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
    code = core::Errc::transient;
    message += " (another process holds the database: is a second credrotd running on the "
               "same state directory?)";
  } else if (rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB) {
    code = core::Errc::parse;
    message += " (the database is damaged; move it aside and restart to begin with empty state, "
               "or restore it from a backup)";
  } else if (rc == SQLITE_CONSTRAINT) {
    code = core::Errc::conflict;
  }
  return core::Error{code, std::move(message)};
}

Status Connection::exec(const char* sql, std::string_view what)
{
  if (sqlite3_exec(m_db, sql, nullptr, nullptr, nullptr) != SQLITE_OK) {
    return error(what);
  }
  return {};
}

Statement::Statement(Connection& db, const std::string& sql) : m_db(db)
{
  auto& cached = db.m_statements[sql];
  if (cached.stmt != nullptr && !cached.in_use) {
    m_stmt = cached.stmt;
  } else {
    m_rc = sqlite3_prepare_v3(db.m_db, sql.c_str(), -1,
                              cached.stmt == nullptr ? SQLITE_PREPARE_PERSISTENT : 0, &m_stmt,
                              nullptr);
    if (m_rc != SQLITE_OK || cached.stmt != nullptr) {
      m_prepared = m_rc == SQLITE_OK;
      return; // an error, or a second user of the SQL: finalized by the destructor
    }
    cached.stmt = m_stmt;
  }
  m_prepared = true;
  cached.in_use = true;
  m_cached = &cached; // unordered_map nodes do not move
}

Statement::~Statement()
{
  if (m_cached == nullptr) {
    sqlite3_finalize(m_stmt);
    return;
  }
  sqlite3_reset(m_stmt);
  sqlite3_clear_bindings(m_stmt);
  m_cached->in_use = false;
}

Statement& Statement::bind(int i, std::int64_t v)
{
  sqlite3_bind_int64(m_stmt, i, v);
  return *this;
}

Statement& Statement::bind(int i, std::string_view v)
{
  sqlite3_bind_text(m_stmt, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  return *this;
}

Status Statement::run(std::string_view what)
{
  if (!ok()) {
    return m_db.error(what);
  }
  next();
  if (!done()) {
    return m_db.error(what);
  }
  return {};
}

std::string Statement::text(int col) const
{
  const auto* p = sqlite3_column_text(m_stmt, col);
  return p == nullptr ? std::string()
                      : std::string(reinterpret_cast<const char*>(p),
                                    static_cast<std::size_t>(sqlite3_column_bytes(m_stmt, col)));
}

} // namespace credrotd::store
