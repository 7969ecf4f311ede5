// The synchronous half of SqliteStore: one connection and one blocking method per Store
// operation. Internal to bay_store.
//
// Thread-safety: none. SqliteStore calls it only from its database thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bay/domain/model.hpp"
#include "bay/store/sqlite_connection.hpp"
#include "common/error.hpp"

namespace shipyard::bay::sqlite {

class SqliteDb {
 public:
  // Opens `path` (or ":memory:"), sets the connection pragmas and migrates the schema.
  static Result<std::unique_ptr<SqliteDb>> open(const std::string& path);

  Connection& connection() { return *conn_; }

  // --- sandboxes
  Status create_sandbox(const Sandbox& sandbox, const std::optional<Cargo>& managed_cargo);
  Result<std::optional<Sandbox>> find_sandbox(const std::string& id);
  Result<std::vector<Sandbox>> list_sandboxes(const std::string& owner,
                                              const std::optional<ListCursor>& after,
                                              std::int64_t limit);
  Result<std::vector<Sandbox>> list_live_sandboxes();
  Result<std::int64_t> count_live_sandboxes(const std::string& owner);
  Status set_sandbox_expiry(const std::string& id, const std::optional<TimePoint>& expires_at);
  Result<std::optional<Cargo>> delete_sandbox(const std::string& id, TimePoint now);

  // --- cargos
  Status create_cargo(const Cargo& cargo);
  Result<std::optional<Cargo>> find_cargo(const std::string& id);
  Result<std::vector<Cargo>> list_cargos(const std::string& owner, bool managed,
                                         const std::optional<ListCursor>& after,
                                         std::int64_t limit);
  Result<std::vector<std::string>> cargo_users(const std::string& cargo_id);
  Status touch_cargo(const std::string& id, TimePoint now);
  Status delete_cargo(const std::string& id, TimePoint now);
  Result<std::vector<Cargo>> list_orphan_cargos();
  Result<std::uint32_t> allocate_uid(std::uint32_t base);

  // --- sessions
  Status save_session(const SessionRecord& session);
  Result<std::optional<SessionRecord>> active_session(const std::string& sandbox_id);
  Result<std::vector<SessionRecord>> list_active_sessions();
  Status set_session_idle_expiry(const std::string& session_id,
                                 const std::optional<TimePoint>& idle_expires_at);
  Status end_session(const std::string& session_id);

  // --- execution history (sqlite_history.cpp)
  Status insert_execution(const Execution& e);
  Status insert_executions(const std::vector<Execution>& batch);
  Result<HistoryPage> query_history(const HistoryQuery& q);
  Result<std::optional<Execution>> last_execution(const std::string& owner,
                                                  const std::string& sandbox_id,
                                                  const std::optional<std::string>& exec_type);
  Result<std::optional<Execution>> find_execution(const std::string& owner,
                                                  const std::string& sandbox_id,
                                                  const std::string& execution_id);
  Result<std::optional<Execution>> annotate_execution(const std::string& owner,
                                                      const std::string& sandbox_id,
                                                      const std::string& execution_id,
                                                      const Annotation& a);

  // --- idempotency keys (sqlite_idempotency.cpp)
  Result<std::optional<IdempotencyRecord>> find_idempotency(const std::string& owner,
                                                            const std::string& key);
  Status save_idempotency(const IdempotencyRecord& r);
  Result<std::int64_t> purge_idempotency(TimePoint now);

  // --- settings
  Result<std::optional<std::string>> get_setting(const std::string& key);
  Status put_setting(const std::string& key, const std::string& value);

 private:
  explicit SqliteDb(std::unique_ptr<Connection> conn) : conn_(std::move(conn)) {}

  Status insert_execution_row(const Execution& e);

  std::unique_ptr<Connection> conn_;
};

}  // namespace shipyard::bay::sqlite
