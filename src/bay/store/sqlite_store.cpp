#include "bay/store/sqlite_store.hpp"

#include <fmt/format.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <utility>

#include "bay/store/sqlite_db.hpp"
#include "bay/store/sqlite_schema.hpp"

namespace shipyard::bay {

namespace asio = boost::asio;
using sqlite::SqliteDb;

namespace {

// Runs on the database thread. A coroutine *function* (not a capturing lambda): GCC 12
// corrupts lambda captures that co_spawn moves (helper brief). The result is wrapped in
// std::optional because co_spawn default-constructs it for its exception path and Result<T>
// has no default.
template <typename R, typename Fn, typename... Args>
asio::awaitable<std::optional<R>> run_on_db(SqliteDb* db, Fn fn, Args... args) {
  co_return std::optional<R>((db->*fn)(args...));
}

// Hops to the database thread, runs `fn` there and resumes on the awaiting coroutine's
// executor (co_spawn completes through the handler's associated executor).
template <typename R, typename... Params, typename... Args>
asio::awaitable<R> on_db(asio::any_io_executor db_thread, SqliteDb* db,
                         R (SqliteDb::*fn)(Params...), Args... args) {
  auto op = run_on_db<R>(db, fn, std::move(args)...);
  std::optional<R> r = co_await asio::co_spawn(db_thread, std::move(op), asio::use_awaitable);
  co_return std::move(*r);
}

}  // namespace

// Each method builds its operation as a named local before awaiting it: temporaries inside
// a co_await expression are unsafe with GCC 12 (helper brief).
#define SHIPYARD_ON_DB(method, ...)                                         \
  auto op = on_db(asio::any_io_executor(thread_.get_executor()), db_.get(), \
                  &SqliteDb::method __VA_OPT__(, ) __VA_ARGS__);            \
  co_return co_await std::move(op)

#define SHIPYARD_COUNT_WRITE() \
  if (auto injected = count_write()) co_return std::move(*injected)

Result<std::unique_ptr<SqliteStore>> SqliteStore::open(std::string path, asio::any_io_executor io) {
  (void)io;  // results reach each caller on its own executor; see the header
  auto db = SqliteDb::open(path);
  if (!db) return std::move(db).error();
  return std::unique_ptr<SqliteStore>(new SqliteStore(std::move(*db)));
}

SqliteStore::SqliteStore(std::unique_ptr<SqliteDb> db) : db_(std::move(db)) {}

SqliteStore::~SqliteStore() {
  // join() without stop(): the thread finishes every queued operation, then exits.
  thread_.join();
  db_.reset();
}

int SqliteStore::schema_version() { return sqlite::latest_schema_version(); }

void SqliteStore::fail_writes_after(int n) { fail_at_.store(n < 0 ? -1 : writes_.load() + n); }

std::optional<Error> SqliteStore::count_write() {
  const int index = writes_.fetch_add(1);
  if (index != fail_at_.load()) return std::nullopt;
  Error e(ErrorCode::kInternal, "database error");
  e.context = fmt::format("injected failure of store write #{} (test hook)", index);
  return e;
}

// ---------------------------------------------------------------- sandboxes

Async<void> SqliteStore::create_sandbox(Sandbox sandbox, std::optional<Cargo> managed_cargo) {
  SHIPYARD_COUNT_WRITE();
  SHIPYARD_ON_DB(create_sandbox, std::move(sandbox), std::move(managed_cargo));
}

Async<std::optional<Sandbox>> SqliteStore::find_sandbox(std::string id) {
  SHIPYARD_ON_DB(find_sandbox, std::move(id));
}

Async<std::vector<Sandbox>> SqliteStore::list_sandboxes(std::string owner,
                                                        std::optional<ListCursor> after,
                                                        std::int64_t limit) {
  SHIPYARD_ON_DB(list_sandboxes, std::move(owner), std::move(after), limit);
}

Async<std::vector<Sandbox>> SqliteStore::list_live_sandboxes() {
  SHIPYARD_ON_DB(list_live_sandboxes);
}

Async<std::int64_t> SqliteStore::count_live_sandboxes(std::string owner) {
  SHIPYARD_ON_DB(count_live_sandboxes, std::move(owner));
}

Async<void> SqliteStore::set_sandbox_expiry(std::string id, std::optional<TimePoint> expires_at) {
  SHIPYARD_COUNT_WRITE();
  SHIPYARD_ON_DB(set_sandbox_expiry, std::move(id), expires_at);
}

Async<std::optional<Cargo>> SqliteStore::delete_sandbox(std::string id, TimePoint now) {
  SHIPYARD_COUNT_WRITE();
  SHIPYARD_ON_DB(delete_sandbox, std::move(id), now);
}

// ---------------------------------------------------------------- cargos

Async<void> SqliteStore::create_cargo(Cargo cargo) {
  SHIPYARD_COUNT_WRITE();
  SHIPYARD_ON_DB(create_cargo, std::move(cargo));
}

Async<std::optional<Cargo>> SqliteStore::find_cargo(std::string id) {
  SHIPYARD_ON_DB(find_cargo, std::move(id));
}

Async<std::vector<Cargo>> SqliteStore::list_cargos(std::string owner, bool managed,
                                                   std::optional<ListCursor> after,
                                                   std::int64_t limit) {
  SHIPYARD_ON_DB(list_cargos, std::move(owner), managed, std::move(after), limit);
}

Async<std::vector<std::string>> SqliteStore::cargo_users(std::string cargo_id) {
  SHIPYARD_ON_DB(cargo_users, std::move(cargo_id));
}

Async<void> SqliteStore::touch_cargo(std::string id, TimePoint now) {
  SHIPYARD_COUNT_WRITE();
  SHIPYARD_ON_DB(touch_cargo, std::move(id), now);
}

Async<void> SqliteStore::delete_cargo(std::string id, TimePoint now) {
  SHIPYARD_COUNT_WRITE();
  SHIPYARD_ON_DB(delete_cargo, std::move(id), now);
}

Async<std::vector<Cargo>> SqliteStore::list_orphan_cargos() { SHIPYARD_ON_DB(list_orphan_cargos); }

Async<std::uint32_t> SqliteStore::allocate_uid(std::uint32_t base) {
  SHIPYARD_COUNT_WRITE();
  SHIPYARD_ON_DB(allocate_uid, base);
}

// ---------------------------------------------------------------- sessions

Async<void> SqliteStore::save_session(SessionRecord session) {
  SHIPYARD_COUNT_WRITE();
  SHIPYARD_ON_DB(save_session, std::move(session));
}

Async<std::optional<SessionRecord>> SqliteStore::active_session(std::string sandbox_id) {
  SHIPYARD_ON_DB(active_session, std::move(sandbox_id));
}

Async<std::vector<SessionRecord>> SqliteStore::list_active_sessions() {
  SHIPYARD_ON_DB(list_active_sessions);
}

Async<void> SqliteStore::set_session_idle_expiry(std::string session_id,
                                                 std::optional<TimePoint> idle_expires_at) {
  SHIPYARD_COUNT_WRITE();
  SHIPYARD_ON_DB(set_session_idle_expiry, std::move(session_id), idle_expires_at);
}

Async<void> SqliteStore::end_session(std::string session_id) {
  SHIPYARD_COUNT_WRITE();
  SHIPYARD_ON_DB(end_session, std::move(session_id));
}

// ---------------------------------------------------------------- execution history

Async<void> SqliteStore::insert_execution(Execution e) {
  SHIPYARD_COUNT_WRITE();
  SHIPYARD_ON_DB(insert_execution, std::move(e));
}

Async<void> SqliteStore::insert_executions(std::vector<Execution> batch) {
  SHIPYARD_COUNT_WRITE();
  SHIPYARD_ON_DB(insert_executions, std::move(batch));
}

Async<HistoryPage> SqliteStore::query_history(HistoryQuery q) {
  SHIPYARD_ON_DB(query_history, std::move(q));
}

Async<std::optional<Execution>> SqliteStore::last_execution(std::string owner,
                                                            std::string sandbox_id,
                                                            std::optional<std::string> exec_type) {
  SHIPYARD_ON_DB(last_execution, std::move(owner), std::move(sandbox_id), std::move(exec_type));
}

Async<std::optional<Execution>> SqliteStore::find_execution(std::string owner,
                                                            std::string sandbox_id,
                                                            std::string execution_id) {
  SHIPYARD_ON_DB(find_execution, std::move(owner), std::move(sandbox_id), std::move(execution_id));
}

Async<std::optional<Execution>> SqliteStore::annotate_execution(std::string owner,
                                                                std::string sandbox_id,
                                                                std::string execution_id,
                                                                Annotation a) {
  SHIPYARD_COUNT_WRITE();
  SHIPYARD_ON_DB(annotate_execution, std::move(owner), std::move(sandbox_id),
                 std::move(execution_id), std::move(a));
}

// ---------------------------------------------------------------- idempotency keys

Async<std::optional<IdempotencyRecord>> SqliteStore::find_idempotency(std::string owner,
                                                                      std::string key) {
  SHIPYARD_ON_DB(find_idempotency, std::move(owner), std::move(key));
}

Async<void> SqliteStore::save_idempotency(IdempotencyRecord record) {
  SHIPYARD_COUNT_WRITE();
  SHIPYARD_ON_DB(save_idempotency, std::move(record));
}

Async<std::int64_t> SqliteStore::purge_idempotency(TimePoint now) {
  SHIPYARD_COUNT_WRITE();
  SHIPYARD_ON_DB(purge_idempotency, now);
}

// ---------------------------------------------------------------- settings

Async<std::optional<std::string>> SqliteStore::get_setting(std::string key) {
  SHIPYARD_ON_DB(get_setting, std::move(key));
}

Async<void> SqliteStore::put_setting(std::string key, std::string value) {
  SHIPYARD_COUNT_WRITE();
  SHIPYARD_ON_DB(put_setting, std::move(key), std::move(value));
}

}  // namespace shipyard::bay
