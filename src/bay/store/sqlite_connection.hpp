// Thin RAII layer over one SQLite connection: cached prepared statements, typed binds and
// column reads, transactions, and the mapping of SQLite failures to the project's Error.
//
// Internal to bay_store. Not thread-safe: a Connection and everything borrowed from it
// belong to one thread at a time (SqliteStore's database thread).
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "bay/domain/model.hpp"
#include "common/error.hpp"

namespace shipyard::bay::sqlite {

class Connection;

// A cached statement borrowed for one execution. Binds are 1-based, columns 0-based (as in
// the SQLite API). Destruction resets the statement and clears its bindings, which also
// ends any implicit read transaction it held.
class Stmt {
 public:
  Stmt(Connection& conn, sqlite3_stmt* stmt) : conn_(&conn), stmt_(stmt) {}
  Stmt(Stmt&& other) noexcept;
  Stmt& operator=(Stmt&&) = delete;
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  ~Stmt();

  // Binds never fail loudly: the first failure is kept and reported by step()/run().
  Stmt& bind(int index, std::int64_t value);
  Stmt& bind(int index, bool value) { return bind(index, std::int64_t{value ? 1 : 0}); }
  Stmt& bind(int index, std::string_view value);
  Stmt& bind(int index, const std::string& value) { return bind(index, std::string_view(value)); }
  // Without this a literal would convert to bool, not to a string.
  Stmt& bind(int index, const char* value) { return bind(index, std::string_view(value)); }
  Stmt& bind(int index, const std::optional<std::string>& value);
  Stmt& bind(int index, TimePoint value) {
    return bind(index, std::int64_t{value.time_since_epoch().count()});
  }
  Stmt& bind(int index, const std::optional<TimePoint>& value);
  Stmt& bind_null(int index);

  // Advances one row: true when a row is available, false when the statement is done.
  Result<bool> step();
  // Runs a statement that returns no rows (or whose rows are irrelevant) to completion.
  Status run();

  std::int64_t int64(int col) const { return sqlite3_column_int64(stmt_, col); }
  bool boolean(int col) const { return int64(col) != 0; }
  bool is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  std::string text(int col) const;
  std::optional<std::string> opt_text(int col) const;
  TimePoint time(int col) const { return TimePoint(Micros(int64(col))); }
  std::optional<TimePoint> opt_time(int col) const;

  sqlite3_stmt* handle() const { return stmt_; }

 private:
  Connection* conn_;
  sqlite3_stmt* stmt_;
  int bind_rc_ = SQLITE_OK;
  int bind_index_ = 0;
};

class Connection {
 public:
  // Opens (creating if needed) `path`, or a private in-memory database for ":memory:".
  static Result<std::unique_ptr<Connection>> open(const std::string& path);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // A prepared statement from the cache (prepared on first use). `sql` must be exactly one
  // statement. The statement is not re-entrant: one borrower at a time.
  Result<Stmt> prepare(const std::string& sql);
  // Runs one or more statements without caching (pragmas, migration scripts).
  Status exec(const std::string& sql);
  // Runs a single-row pragma or query and returns its first column as text.
  Result<std::string> query_text(const std::string& sql);

  // Maps a failed SQLite call to an Error: unique/primary-key violations are kConflict,
  // everything else kInternal; the SQLite message goes to the log-only context.
  Error error(int rc, std::string_view what) const;

  sqlite3* handle() const { return db_; }
  bool in_memory() const { return in_memory_; }
  // The SQL of every statement prepared so far (tests check their query plans).
  std::vector<std::string> cached_statements() const;

 private:
  Connection(sqlite3* db, bool in_memory) : db_(db), in_memory_(in_memory) {}

  sqlite3* db_;
  bool in_memory_;
  std::unordered_map<std::string, sqlite3_stmt*> cache_;
};

// A transaction that rolls back unless committed. Write transactions take the write lock up
// front (BEGIN IMMEDIATE) so that they never fail half-way on a lock upgrade.
class Transaction {
 public:
  static Result<Transaction> begin(Connection& conn, bool write);
  Transaction(Transaction&& other) noexcept : conn_(other.conn_) { other.conn_ = nullptr; }
  Transaction& operator=(Transaction&&) = delete;
  ~Transaction();
  Status commit();

 private:
  explicit Transaction(Connection& conn) : conn_(&conn) {}
  Connection* conn_;
};

}  // namespace shipyard::bay::sqlite
