#include "bay/store/sqlite_connection.hpp"

#include <fmt/format.h>

#include <utility>

namespace shipyard::bay::sqlite {

// ---------------------------------------------------------------- Stmt

Stmt::Stmt(Stmt&& other) noexcept
    : conn_(other.conn_),
      stmt_(std::exchange(other.stmt_, nullptr)),
      bind_rc_(other.bind_rc_),
      bind_index_(other.bind_index_) {}

Stmt::~Stmt() {
  if (stmt_ == nullptr) return;
  // reset() repeats the error of the last step(), which was already reported.
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

namespace {
void keep_first(int rc, int index, int& bind_rc, int& bind_index) {
  if (rc != SQLITE_OK && bind_rc == SQLITE_OK) {
    bind_rc = rc;
    bind_index = index;
  }
}
}  // namespace

Stmt& Stmt::bind(int index, std::int64_t value) {
  keep_first(sqlite3_bind_int64(stmt_, index, value), index, bind_rc_, bind_index_);
  return *this;
}

Stmt& Stmt::bind(int index, std::string_view value) {
  // SQLITE_TRANSIENT: SQLite copies, so callers may bind temporaries.
  keep_first(
      sqlite3_bind_text64(stmt_, index, value.data(), value.size(), SQLITE_TRANSIENT, SQLITE_UTF8),
      index, bind_rc_, bind_index_);
  return *this;
}

Stmt& Stmt::bind(int index, const std::optional<std::string>& value) {
  return value ? bind(index, std::string_view(*value)) : bind_null(index);
}

Stmt& Stmt::bind(int index, const std::optional<TimePoint>& value) {
  return value ? bind(index, *value) : bind_null(index);
}

Stmt& Stmt::bind_null(int index) {
  keep_first(sqlite3_bind_null(stmt_, index), index, bind_rc_, bind_index_);
  return *this;
}

Result<bool> Stmt::step() {
  if (bind_rc_ != SQLITE_OK) {
    return conn_->error(
        bind_rc_, fmt::format("binding parameter {} of [{}]", bind_index_, sqlite3_sql(stmt_)));
  }
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return conn_->error(rc, fmt::format("executing [{}]", sqlite3_sql(stmt_)));
}

Status Stmt::run() {
  for (;;) {
    auto r = step();
    if (!r) return std::move(r).error();
    if (!*r) return {};
  }
}

std::string Stmt::text(int col) const {
  // Read the pointer before the size: that is the order SQLite documents as safe.
  const auto* p = sqlite3_column_text(stmt_, col);
  auto n = sqlite3_column_bytes(stmt_, col);
  if (p == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n));
}

std::optional<std::string> Stmt::opt_text(int col) const {
  if (is_null(col)) return std::nullopt;
  return text(col);
}

std::optional<TimePoint> Stmt::opt_time(int col) const {
  if (is_null(col)) return std::nullopt;
  return time(col);
}

// ---------------------------------------------------------------- Connection

Result<std::unique_ptr<Connection>> Connection::open(const std::string& path) {
  sqlite3* db = nullptr;
  // NOMUTEX: the connection is confined to one thread at a time, SQLite's own locking
  // would only cost. EXRESCODE: extended codes tell unique violations from other ones.
  int flags =
      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
  int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    Error e(ErrorCode::kInternal, "database error");
    e.context = fmt::format("opening {}: {}", path,
                            db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    sqlite3_close_v2(db);
    return e;
  }
  return std::unique_ptr<Connection>(new Connection(db, path == ":memory:"));
}

Connection::~Connection() {
  for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
  sqlite3_close_v2(db_);
}

Result<Stmt> Connection::prepare(const std::string& sql) {
  auto it = cache_.find(sql);
  if (it == cache_.end()) {
    sqlite3_stmt* stmt = nullptr;
    const char* tail = nullptr;
    int rc = sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size()) + 1,
                                SQLITE_PREPARE_PERSISTENT, &stmt, &tail);
    if (rc != SQLITE_OK) return error(rc, fmt::format("preparing [{}]", sql));
    if (stmt == nullptr || (tail != nullptr && *tail != '\0')) {
      sqlite3_finalize(stmt);
      Error e(ErrorCode::kInternal, "database error");
      e.context = fmt::format("preparing [{}]: not exactly one statement", sql);
      return e;
    }
    it = cache_.emplace(sql, stmt).first;
  } else if (sqlite3_stmt_busy(it->second) != 0) {
    // Borrowing a statement that is still being stepped would silently reset it under its
    // first borrower: a bug in the caller, reported rather than hidden.
    Error e(ErrorCode::kInternal, "database error");
    e.context = fmt::format("statement [{}] is already in use", sql);
    return e;
  }
  return Stmt(*this, it->second);
}

std::vector<std::string> Connection::cached_statements() const {
  std::vector<std::string> out;
  out.reserve(cache_.size());
  for (const auto& [sql, stmt] : cache_) out.push_back(sql);
  return out;
}

Status Connection::exec(const std::string& sql) {
  char* msg = nullptr;
  int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &msg);
  if (rc == SQLITE_OK) return {};
  std::string text = msg != nullptr ? msg : sqlite3_errstr(rc);
  sqlite3_free(msg);
  Error e = error(rc, "executing script");
  e.context = fmt::format("executing [{}]: {}", sql.substr(0, 120), text);
  return e;
}

Result<std::string> Connection::query_text(const std::string& sql) {
  auto stmt = prepare(sql);
  if (!stmt) return std::move(stmt).error();
  auto row = stmt->step();
  if (!row) return std::move(row).error();
  if (!*row) {
    Error e(ErrorCode::kInternal, "database error");
    e.context = fmt::format("[{}] returned no row", sql);
    return e;
  }
  return stmt->text(0);
}

Error Connection::error(int rc, std::string_view what) const {
  int primary = rc & 0xff;
  const char* msg = sqlite3_errmsg(db_);
  // sqlite3_errmsg describes the most recent failure on the connection; when `rc` came from
  // elsewhere (a bind), fall back to the generic text of the code.
  if (sqlite3_extended_errcode(db_) != rc) msg = sqlite3_errstr(rc);
  Error e = (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
                ? Error(ErrorCode::kConflict, "already exists")
                : Error(ErrorCode::kInternal, "database error");
  e.context = fmt::format("{}: {} (sqlite code {}/{})", what, msg, primary, rc);
  return e;
}

// ---------------------------------------------------------------- Transaction

Result<Transaction> Transaction::begin(Connection& conn, bool write) {
  auto stmt = conn.prepare(write ? "BEGIN IMMEDIATE" : "BEGIN DEFERRED");
  if (!stmt) return std::move(stmt).error();
  if (auto s = stmt->run(); !s) return std::move(s).error();
  return Transaction(conn);
}

Transaction::~Transaction() {
  if (conn_ == nullptr) return;
  // A failed statement may already have rolled the transaction back (e.g. SQLITE_FULL).
  if (sqlite3_get_autocommit(conn_->handle()) != 0) return;
  auto stmt = conn_->prepare("ROLLBACK");
  if (stmt) (void)stmt->run();
}

Status Transaction::commit() {
  Connection* conn = std::exchange(conn_, nullptr);
  auto stmt = conn->prepare("COMMIT");
  if (!stmt) return std::move(stmt).error();
  auto s = stmt->run();
  if (!s && sqlite3_get_autocommit(conn->handle()) == 0) {
    // COMMIT can fail with SQLITE_BUSY and leave the transaction open: do not leak it.
    if (auto rb = conn->prepare("ROLLBACK")) (void)rb->run();
  }
  return s;
}

}  // namespace shipyard::bay::sqlite
