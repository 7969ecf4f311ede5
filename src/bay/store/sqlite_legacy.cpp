// SqliteStore: the legacy /ship API's ships and sessions (legacy_store.hpp) — the blocking
// SQL over the store's connection and the LegacyStore coroutines that run it on the
// database thread.
#include <fmt/format.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <utility>

#include "bay/store/sqlite_db.hpp"
#include "bay/store/sqlite_rows.hpp"
#include "bay/store/sqlite_store.hpp"

namespace shipyard::bay {

namespace sqlite::legacy {
namespace {

// Stmt has no double binds; SQLite's own calls are used, failures reported like a bind.
Status bind_real(Connection& c, Stmt& s, int index, const std::optional<double>& v) {
  int rc = v ? sqlite3_bind_double(s.handle(), index, *v) : sqlite3_bind_null(s.handle(), index);
  if (rc != SQLITE_OK) return c.error(rc, fmt::format("binding parameter {}", index));
  return {};
}

#define SHIP_COLUMNS \
  "id, status, ttl, max_session_num, expires_at, cpus, memory, created_at, updated_at"

LegacyShip read_ship(const Stmt& s) {
  LegacyShip sh;
  sh.id = s.text(0);
  sh.status = static_cast<int>(s.int64(1));
  sh.ttl = s.int64(2);
  sh.max_session_num = s.int64(3);
  sh.expires_at = s.opt_time(4);
  if (!s.is_null(5)) sh.cpus = sqlite3_column_double(s.handle(), 5);
  sh.memory = s.opt_text(6);
  sh.created_at = s.time(7);
  sh.updated_at = s.time(8);
  return sh;
}

#define SESSION_COLUMNS "id, ship_id, expires_at, initial_ttl, last_activity, attached_at"

LegacySession read_session(const Stmt& s) {
  LegacySession ls;
  ls.id = s.text(0);
  ls.ship_id = s.text(1);
  ls.expires_at = s.time(2);
  ls.initial_ttl = s.int64(3);
  ls.last_activity = s.time(4);
  ls.attached_at = s.time(5);
  return ls;
}

Status save_ship(Connection& c, const LegacyShip& ship,
                 const std::vector<LegacySession>& sessions) {
  auto tx = Transaction::begin(c, true);
  if (!tx) return std::move(tx).error();
  {
    auto s = c.prepare("INSERT INTO legacy_ships (" SHIP_COLUMNS
                       ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
                       " ON CONFLICT (id) DO UPDATE SET status = excluded.status,"
                       " ttl = excluded.ttl, max_session_num = excluded.max_session_num,"
                       " expires_at = excluded.expires_at, cpus = excluded.cpus,"
                       " memory = excluded.memory, updated_at = excluded.updated_at");
    if (!s) return std::move(s).error();
    s->bind(1, ship.id)
        .bind(2, std::int64_t{ship.status})
        .bind(3, ship.ttl)
        .bind(4, ship.max_session_num)
        .bind(5, ship.expires_at)
        .bind(7, ship.memory)
        .bind(8, ship.created_at)
        .bind(9, ship.updated_at);
    if (auto b = bind_real(c, *s, 6, ship.cpus); !b) return b;
    if (auto r = s->run(); !r) return r;
  }
  for (const auto& ls : sessions) {
    auto s = c.prepare("INSERT INTO legacy_sessions (" SESSION_COLUMNS
                       ") VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
                       " ON CONFLICT (id) DO UPDATE SET ship_id = excluded.ship_id,"
                       " expires_at = excluded.expires_at, initial_ttl = excluded.initial_ttl,"
                       " last_activity = excluded.last_activity,"
                       " attached_at = excluded.attached_at");
    if (!s) return std::move(s).error();
    s->bind(1, ls.id)
        .bind(2, ls.ship_id)
        .bind(3, ls.expires_at)
        .bind(4, ls.initial_ttl)
        .bind(5, ls.last_activity)
        .bind(6, ls.attached_at);
    if (auto r = s->run(); !r) return r;
  }
  {
    auto s = c.prepare("UPDATE sandboxes SET legacy = 1 WHERE id = ?1 AND legacy = 0");
    if (!s) return std::move(s).error();
    s->bind(1, ship.id);
    if (auto r = s->run(); !r) return r;
  }
  return tx->commit();
}

Status delete_ship(Connection& c, const std::string& id) {
  auto tx = Transaction::begin(c, true);
  if (!tx) return std::move(tx).error();
  for (const char* sql : {"DELETE FROM legacy_sessions WHERE ship_id = ?1",
                          "DELETE FROM legacy_ships WHERE id = ?1"}) {
    auto s = c.prepare(sql);
    if (!s) return std::move(s).error();
    s->bind(1, id);
    if (auto r = s->run(); !r) return r;
  }
  return tx->commit();
}

Result<std::vector<LegacyShip>> list_ships(Connection& c) {
  auto s = c.prepare("SELECT " SHIP_COLUMNS " FROM legacy_ships ORDER BY created_at, seq");
  if (!s) return std::move(s).error();
  return collect_rows<LegacyShip>(*s, read_ship);
}

Result<std::vector<LegacySession>> list_sessions(Connection& c) {
  auto s = c.prepare("SELECT " SESSION_COLUMNS " FROM legacy_sessions ORDER BY attached_at, seq");
  if (!s) return std::move(s).error();
  return collect_rows<LegacySession>(*s, read_session);
}

}  // namespace
}  // namespace sqlite::legacy

// ---------------------------------------------------------------- SqliteStore

namespace {

namespace asio = boost::asio;
using sqlite::Connection;

// As in sqlite_store.cpp: a coroutine *function* (GCC 12 corrupts moved lambda captures),
// the result wrapped in std::optional for co_spawn's default construction.
template <typename R, typename... Params, typename... Args>
asio::awaitable<std::optional<R>> run_legacy_op(Connection* conn, R (*fn)(Connection&, Params...),
                                                Args... args) {
  co_return std::optional<R>(fn(*conn, args...));
}

template <typename R, typename... Params, typename... Args>
asio::awaitable<R> on_legacy_db(asio::any_io_executor db_thread, Connection* conn,
                                R (*fn)(Connection&, Params...), Args... args) {
  auto op = run_legacy_op<R>(conn, fn, std::move(args)...);
  std::optional<R> r = co_await asio::co_spawn(db_thread, std::move(op), asio::use_awaitable);
  co_return std::move(*r);
}

}  // namespace

// Operations are built as named locals before being awaited (GCC 12, helper brief).
#define SHIPYARD_ON_LEGACY_DB(fn, ...)                                                      \
  auto op = on_legacy_db(asio::any_io_executor(thread_.get_executor()), &db_->connection(), \
                         &sqlite::legacy::fn __VA_OPT__(, ) __VA_ARGS__);                   \
  co_return co_await std::move(op)

Async<void> SqliteStore::save_legacy_ship(LegacyShip ship, std::vector<LegacySession> sessions) {
  if (auto injected = count_write()) co_return std::move(*injected);
  SHIPYARD_ON_LEGACY_DB(save_ship, std::move(ship), std::move(sessions));
}

Async<void> SqliteStore::delete_legacy_ship(std::string id) {
  if (auto injected = count_write()) co_return std::move(*injected);
  SHIPYARD_ON_LEGACY_DB(delete_ship, std::move(id));
}

Async<std::vector<LegacyShip>> SqliteStore::list_legacy_ships() {
  SHIPYARD_ON_LEGACY_DB(list_ships);
}

Async<std::vector<LegacySession>> SqliteStore::list_legacy_sessions() {
  SHIPYARD_ON_LEGACY_DB(list_sessions);
}

}  // namespace shipyard::bay
