// SqliteDb: opening, sandboxes, cargos, uid allocation, sessions and settings.
// (Execution history lives in sqlite_history.cpp.)
#include "bay/store/sqlite_db.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <string_view>
#include <utility>

#include "bay/store/sqlite_rows.hpp"
#include "bay/store/sqlite_schema.hpp"

namespace shipyard::bay::sqlite {

namespace {

// How long a statement waits for another process's lock before failing with SQLITE_BUSY.
constexpr int kBusyTimeoutMs = 5000;

Error internal(std::string context) {
  Error e(ErrorCode::kInternal, "database error");
  e.context = std::move(context);
  return e;
}

// ---------------------------------------------------------------- row mapping

#define SANDBOX_COLUMNS "id, owner, profile, cargo_id, created_at, expires_at, deleted_at, legacy"

Sandbox read_sandbox(const Stmt& s) {
  Sandbox sb;
  sb.id = s.text(0);
  sb.owner = s.text(1);
  sb.profile = s.text(2);
  sb.cargo_id = s.text(3);
  sb.created_at = s.time(4);
  sb.expires_at = s.opt_time(5);
  sb.deleted_at = s.opt_time(6);
  sb.legacy = s.boolean(7);
  return sb;
}

#define CARGO_COLUMNS                                                                        \
  "id, owner, managed, managed_by_sandbox_id, size_limit_mb, created_at, last_accessed_at, " \
  "deleted_at, storage_path, host_uid"

Cargo read_cargo(const Stmt& s) {
  Cargo c;
  c.id = s.text(0);
  c.owner = s.text(1);
  c.managed = s.boolean(2);
  c.managed_by_sandbox_id = s.opt_text(3);
  c.size_limit_mb = s.int64(4);
  c.created_at = s.time(5);
  c.last_accessed_at = s.time(6);
  c.deleted_at = s.opt_time(7);
  c.storage_path = s.text(8);
  c.host_uid = static_cast<std::uint32_t>(s.int64(9));  // CHECK keeps it in range
  return c;
}

#define SESSION_COLUMNS \
  "id, sandbox_id, state, runtime_id, endpoint, instance_id, created_at, idle_expires_at, failure"

std::string_view state_name(SessionState s) {
  switch (s) {
    case SessionState::kStarting: return "starting";
    case SessionState::kReady: return "ready";
    case SessionState::kFailed: return "failed";
    case SessionState::kStopped: return "stopped";
  }
  return "stopped";
}

// The schema's CHECK admits only the four names; anything else reads as stopped so that a
// damaged row can never look like a live session.
SessionState parse_state(std::string_view s) {
  if (s == "starting") return SessionState::kStarting;
  if (s == "ready") return SessionState::kReady;
  if (s == "failed") return SessionState::kFailed;
  return SessionState::kStopped;
}

SessionRecord read_session(const Stmt& s) {
  SessionRecord r;
  r.id = s.text(0);
  r.sandbox_id = s.text(1);
  r.state = parse_state(s.text(2));
  r.runtime_id = s.text(3);
  r.endpoint = s.text(4);
  r.instance_id = s.text(5);
  r.created_at = s.time(6);
  r.idle_expires_at = s.opt_time(7);
  r.failure = s.text(8);
  return r;
}

Status insert_cargo_row(Connection& conn, const Cargo& c) {
  auto s = conn.prepare("INSERT INTO cargos (" CARGO_COLUMNS
                        ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
  if (!s) return std::move(s).error();
  s->bind(1, c.id)
      .bind(2, c.owner)
      .bind(3, c.managed)
      .bind(4, c.managed_by_sandbox_id)
      .bind(5, c.size_limit_mb)
      .bind(6, c.created_at)
      .bind(7, c.last_accessed_at)
      .bind(8, c.deleted_at)
      .bind(9, c.storage_path)
      .bind(10, std::int64_t{c.host_uid});
  return s->run();
}

}  // namespace

// ---------------------------------------------------------------- open

Result<std::unique_ptr<SqliteDb>> SqliteDb::open(const std::string& path) {
  auto conn = Connection::open(path);
  if (!conn) return std::move(conn).error();
  Connection& c = **conn;
  if (int rc = sqlite3_busy_timeout(c.handle(), kBusyTimeoutMs); rc != SQLITE_OK) {
    return c.error(rc, "setting the busy timeout");
  }
  if (!c.in_memory()) {
    // WAL: readers never block the writer and commits need no rollback journal rewrite.
    // The pragma answers with the mode actually in effect.
    auto mode = c.query_text("PRAGMA journal_mode = WAL");
    if (!mode) return std::move(mode).error().with_context(fmt::format("opening {}", path));
    if (*mode != "wal") {
      return internal(
          fmt::format("opening {}: journal_mode is {}, WAL is unavailable", path, *mode));
    }
  }
  // NORMAL is durable with WAL except for the last commits before a power loss; it never
  // corrupts the database.
  if (auto s = c.exec("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON"); !s) {
    return std::move(s).error().with_context(fmt::format("opening {}", path));
  }
  auto fk = c.query_text("PRAGMA foreign_keys");
  if (!fk) return std::move(fk).error();
  if (*fk != "1") return internal("this SQLite build does not enforce foreign keys");
  if (auto s = migrate(c, migrations()); !s) {
    return std::move(s).error().with_context(fmt::format("opening {}", path));
  }
  return std::unique_ptr<SqliteDb>(new SqliteDb(std::move(*conn)));
}

// ---------------------------------------------------------------- sandboxes

Status SqliteDb::create_sandbox(const Sandbox& sb, const std::optional<Cargo>& managed_cargo) {
  auto tx = Transaction::begin(*conn_, true);
  if (!tx) return std::move(tx).error();
  if (managed_cargo) {
    if (auto s = insert_cargo_row(*conn_, *managed_cargo); !s) return s;
  }
  {
    auto s = conn_->prepare("INSERT INTO sandboxes (" SANDBOX_COLUMNS
                            ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
    if (!s) return std::move(s).error();
    s->bind(1, sb.id)
        .bind(2, sb.owner)
        .bind(3, sb.profile)
        .bind(4, sb.cargo_id)
        .bind(5, sb.created_at)
        .bind(6, sb.expires_at)
        .bind(7, sb.deleted_at)
        .bind(8, sb.legacy);
    if (auto r = s->run(); !r) return r;
  }
  // Deferred foreign keys (sandbox -> cargo) are checked here.
  return tx->commit();
}

Result<std::optional<Sandbox>> SqliteDb::find_sandbox(const std::string& id) {
  auto s = conn_->prepare("SELECT " SANDBOX_COLUMNS " FROM sandboxes WHERE id = ?1");
  if (!s) return std::move(s).error();
  s->bind(1, id);
  return first_row<Sandbox>(*s, read_sandbox);
}

Result<std::vector<Sandbox>> SqliteDb::list_sandboxes(const std::string& owner,
                                                      const std::optional<ListCursor>& after,
                                                      std::int64_t limit) {
  if (limit <= 0) return std::vector<Sandbox>();  // SQLite reads a negative LIMIT as "all"
  auto s =
      conn_->prepare(after ? "SELECT " SANDBOX_COLUMNS
                             " FROM sandboxes WHERE owner = ?1 AND deleted_at IS NULL"
                             " AND (created_at, id) > (?3, ?4) ORDER BY created_at, id LIMIT ?2"
                           : "SELECT " SANDBOX_COLUMNS
                             " FROM sandboxes WHERE owner = ?1 AND deleted_at IS NULL"
                             " ORDER BY created_at, id LIMIT ?2");
  if (!s) return std::move(s).error();
  s->bind(1, owner).bind(2, limit);
  if (after) s->bind(3, after->created_at).bind(4, after->id);
  return collect_rows<Sandbox>(*s, read_sandbox);
}

Result<std::vector<Sandbox>> SqliteDb::list_live_sandboxes() {
  auto s = conn_->prepare("SELECT " SANDBOX_COLUMNS
                          " FROM sandboxes WHERE deleted_at IS NULL ORDER BY created_at, id");
  if (!s) return std::move(s).error();
  return collect_rows<Sandbox>(*s, read_sandbox);
}

Result<std::int64_t> SqliteDb::count_live_sandboxes(const std::string& owner) {
  auto s = conn_->prepare("SELECT count(*) FROM sandboxes WHERE owner = ?1 AND deleted_at IS NULL");
  if (!s) return std::move(s).error();
  s->bind(1, owner);
  auto row = s->step();
  if (!row) return std::move(row).error();
  return *row ? s->int64(0) : std::int64_t{0};
}

Status SqliteDb::set_sandbox_expiry(const std::string& id,
                                    const std::optional<TimePoint>& expires_at) {
  auto s = conn_->prepare("UPDATE sandboxes SET expires_at = ?2 WHERE id = ?1");
  if (!s) return std::move(s).error();
  s->bind(1, id).bind(2, expires_at);
  return s->run();
}

Result<std::optional<Cargo>> SqliteDb::delete_sandbox(const std::string& id, TimePoint now) {
  auto tx = Transaction::begin(*conn_, true);
  if (!tx) return std::move(tx).error();
  std::optional<std::string> cargo_id;
  {
    // Only a live sandbox changes: deleting twice is a no-op that reports no cargo.
    auto s = conn_->prepare(
        "UPDATE sandboxes SET deleted_at = ?2 WHERE id = ?1 AND deleted_at IS NULL"
        " RETURNING cargo_id");
    if (!s) return std::move(s).error();
    s->bind(1, id).bind(2, now);
    auto row = first_row<std::string>(*s, [](const Stmt& st) { return st.text(0); });
    if (!row) return std::move(row).error();
    cargo_id = std::move(*row);
  }
  std::optional<Cargo> deleted;
  if (cargo_id) {
    {
      auto s = conn_->prepare(
          "UPDATE cargos SET deleted_at = ?3 WHERE id = ?1 AND managed = 1"
          " AND managed_by_sandbox_id = ?2 AND deleted_at IS NULL");
      if (!s) return std::move(s).error();
      s->bind(1, *cargo_id).bind(2, id).bind(3, now);
      if (auto r = s->run(); !r) return std::move(r).error();
    }
    if (sqlite3_changes(conn_->handle()) == 1) {
      auto c = find_cargo(*cargo_id);
      if (!c) return std::move(c).error();
      deleted = std::move(*c);
    }
  }
  if (auto s = tx->commit(); !s) return std::move(s).error();
  return deleted;
}

// ---------------------------------------------------------------- cargos

Status SqliteDb::create_cargo(const Cargo& cargo) { return insert_cargo_row(*conn_, cargo); }

Result<std::optional<Cargo>> SqliteDb::find_cargo(const std::string& id) {
  auto s = conn_->prepare("SELECT " CARGO_COLUMNS " FROM cargos WHERE id = ?1");
  if (!s) return std::move(s).error();
  s->bind(1, id);
  return first_row<Cargo>(*s, read_cargo);
}

Result<std::vector<Cargo>> SqliteDb::list_cargos(const std::string& owner, bool managed,
                                                 const std::optional<ListCursor>& after,
                                                 std::int64_t limit) {
  if (limit <= 0) return std::vector<Cargo>();
  auto s =
      conn_->prepare(after ? "SELECT " CARGO_COLUMNS
                             " FROM cargos WHERE owner = ?1 AND managed = ?2 AND deleted_at IS NULL"
                             " AND (created_at, id) > (?4, ?5) ORDER BY created_at, id LIMIT ?3"
                           : "SELECT " CARGO_COLUMNS
                             " FROM cargos WHERE owner = ?1 AND managed = ?2 AND deleted_at IS NULL"
                             " ORDER BY created_at, id LIMIT ?3");
  if (!s) return std::move(s).error();
  s->bind(1, owner).bind(2, managed).bind(3, limit);
  if (after) s->bind(4, after->created_at).bind(5, after->id);
  return collect_rows<Cargo>(*s, read_cargo);
}

Result<std::vector<std::string>> SqliteDb::cargo_users(const std::string& cargo_id) {
  auto s = conn_->prepare(
      "SELECT id FROM sandboxes WHERE cargo_id = ?1 AND deleted_at IS NULL"
      " ORDER BY created_at, id");
  if (!s) return std::move(s).error();
  s->bind(1, cargo_id);
  return collect_rows<std::string>(*s, [](const Stmt& st) { return st.text(0); });
}

Status SqliteDb::touch_cargo(const std::string& id, TimePoint now) {
  auto s = conn_->prepare("UPDATE cargos SET last_accessed_at = ?2 WHERE id = ?1");
  if (!s) return std::move(s).error();
  s->bind(1, id).bind(2, now);
  return s->run();
}

Status SqliteDb::delete_cargo(const std::string& id, TimePoint now) {
  // The first deletion time is kept.
  auto s = conn_->prepare("UPDATE cargos SET deleted_at = ?2 WHERE id = ?1 AND deleted_at IS NULL");
  if (!s) return std::move(s).error();
  s->bind(1, id).bind(2, now);
  return s->run();
}

Result<std::vector<Cargo>> SqliteDb::list_orphan_cargos() {
  auto s = conn_->prepare(
      "SELECT " CARGO_COLUMNS
      " FROM cargos WHERE managed = 1 AND deleted_at IS NULL"
      " AND NOT EXISTS (SELECT 1 FROM sandboxes AS s"
      "                 WHERE s.id = cargos.managed_by_sandbox_id AND s.deleted_at IS NULL)"
      " ORDER BY created_at, id");
  if (!s) return std::move(s).error();
  return collect_rows<Cargo>(*s, read_cargo);
}

Result<std::uint32_t> SqliteDb::allocate_uid(std::uint32_t base) {
  auto tx = Transaction::begin(*conn_, true);
  if (!tx) return std::move(tx).error();
  std::int64_t uid = base;
  {
    auto s = conn_->prepare("SELECT next_uid FROM uid_sequence WHERE name = 'host_uid'");
    if (!s) return std::move(s).error();
    auto row = s->step();
    if (!row) return std::move(row).error();
    // A lowered base never hands out a uid twice; a raised one skips ahead.
    if (*row) uid = std::max(uid, s->int64(0));
  }
  // (uid_t)-1 means "no change" to chown and friends: never hand it out.
  if (uid >= std::int64_t{std::numeric_limits<std::uint32_t>::max()}) {
    return internal(fmt::format("host uid space exhausted (next uid {})", uid));
  }
  {
    auto s = conn_->prepare(
        "INSERT INTO uid_sequence (name, next_uid) VALUES ('host_uid', ?1)"
        " ON CONFLICT (name) DO UPDATE SET next_uid = excluded.next_uid");
    if (!s) return std::move(s).error();
    s->bind(1, uid + 1);
    if (auto r = s->run(); !r) return std::move(r).error();
  }
  if (auto c = tx->commit(); !c) return std::move(c).error();
  return static_cast<std::uint32_t>(uid);
}

// ---------------------------------------------------------------- sessions

Status SqliteDb::save_session(const SessionRecord& r) {
  // An upsert rather than INSERT OR REPLACE: REPLACE deletes the row and would give it a
  // new seq, reordering sessions created in the same microsecond.
  auto s = conn_->prepare(
      "INSERT INTO sessions (" SESSION_COLUMNS
      ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
      " ON CONFLICT (id) DO UPDATE SET sandbox_id = excluded.sandbox_id,"
      " state = excluded.state, runtime_id = excluded.runtime_id,"
      " endpoint = excluded.endpoint, instance_id = excluded.instance_id,"
      " created_at = excluded.created_at, idle_expires_at = excluded.idle_expires_at,"
      " failure = excluded.failure");
  if (!s) return std::move(s).error();
  s->bind(1, r.id)
      .bind(2, r.sandbox_id)
      .bind(3, state_name(r.state))
      .bind(4, r.runtime_id)
      .bind(5, r.endpoint)
      .bind(6, r.instance_id)
      .bind(7, r.created_at)
      .bind(8, r.idle_expires_at)
      .bind(9, r.failure);
  return s->run();
}

Result<std::optional<SessionRecord>> SqliteDb::active_session(const std::string& sandbox_id) {
  auto s = conn_->prepare("SELECT " SESSION_COLUMNS
                          " FROM sessions WHERE sandbox_id = ?1 AND state != 'stopped'"
                          " ORDER BY created_at DESC, seq DESC LIMIT 1");
  if (!s) return std::move(s).error();
  s->bind(1, sandbox_id);
  return first_row<SessionRecord>(*s, read_session);
}

Result<std::vector<SessionRecord>> SqliteDb::list_active_sessions() {
  auto s = conn_->prepare("SELECT " SESSION_COLUMNS
                          " FROM sessions WHERE state != 'stopped' ORDER BY created_at, seq");
  if (!s) return std::move(s).error();
  return collect_rows<SessionRecord>(*s, read_session);
}

Status SqliteDb::set_session_idle_expiry(const std::string& session_id,
                                         const std::optional<TimePoint>& idle_expires_at) {
  auto s = conn_->prepare("UPDATE sessions SET idle_expires_at = ?2 WHERE id = ?1");
  if (!s) return std::move(s).error();
  s->bind(1, session_id).bind(2, idle_expires_at);
  return s->run();
}

Status SqliteDb::end_session(const std::string& session_id) {
  auto s = conn_->prepare("UPDATE sessions SET state = 'stopped' WHERE id = ?1");
  if (!s) return std::move(s).error();
  s->bind(1, session_id);
  return s->run();
}

// ---------------------------------------------------------------- settings

Result<std::optional<std::string>> SqliteDb::get_setting(const std::string& key) {
  auto s = conn_->prepare("SELECT value FROM settings WHERE key = ?1");
  if (!s) return std::move(s).error();
  s->bind(1, key);
  return first_row<std::string>(*s, [](const Stmt& st) { return st.text(0); });
}

Status SqliteDb::put_setting(const std::string& key, const std::string& value) {
  auto s = conn_->prepare(
      "INSERT INTO settings (key, value) VALUES (?1, ?2)"
      " ON CONFLICT (key) DO UPDATE SET value = excluded.value");
  if (!s) return std::move(s).error();
  s->bind(1, key).bind(2, value);
  return s->run();
}

}  // namespace shipyard::bay::sqlite
