// Bay's persistent state behind one interface (SQLite today, PostgreSQL later).
//
// Every method is a coroutine: implementations do their blocking work off the I/O
// threads (SqliteStore runs it on its own thread) and resume the caller on the caller's
// executor. Methods are individually atomic; the few multi-row changes that must be
// atomic together (sandbox + managed cargo, delete cascade) are single methods.
// Errors: kInternal for database failures, kConflict for unique-key violations.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bay/domain/model.hpp"
#include "common/error.hpp"

namespace shipyard::bay {

template <typename T>
using Async = boost::asio::awaitable<Result<T>>;

class Store {
 public:
  virtual ~Store() = default;

  // --- sandboxes
  // Inserts the sandbox and, when given, its new managed cargo, in one transaction.
  virtual Async<void> create_sandbox(Sandbox sandbox, std::optional<Cargo> managed_cargo) = 0;
  // Any sandbox by id, deleted ones included (the caller checks owner and deletion).
  virtual Async<std::optional<Sandbox>> find_sandbox(std::string id) = 0;
  // The owner's live sandboxes in creation order (ties by id), strictly after `after`.
  virtual Async<std::vector<Sandbox>> list_sandboxes(std::string owner,
                                                     std::optional<ListCursor> after,
                                                     std::int64_t limit) = 0;
  // Every live sandbox (all owners), for start-up recovery and GC.
  virtual Async<std::vector<Sandbox>> list_live_sandboxes() = 0;
  virtual Async<std::int64_t> count_live_sandboxes(std::string owner) = 0;
  virtual Async<void> set_sandbox_expiry(std::string id, std::optional<TimePoint> expires_at) = 0;
  // Marks the sandbox deleted and, if its cargo is managed by it, the cargo too
  // (one transaction). Returns the cargo when it was deleted with the sandbox, so the
  // caller can remove its storage.
  virtual Async<std::optional<Cargo>> delete_sandbox(std::string id, TimePoint now) = 0;

  // --- cargos
  // Inserts an external cargo (its host_uid comes from allocate_uid).
  virtual Async<void> create_cargo(Cargo cargo) = 0;
  virtual Async<std::optional<Cargo>> find_cargo(std::string id) = 0;  // deleted included
  virtual Async<std::vector<Cargo>> list_cargos(std::string owner, bool managed,
                                                std::optional<ListCursor> after,
                                                std::int64_t limit) = 0;
  // Ids of live sandboxes that use the cargo.
  virtual Async<std::vector<std::string>> cargo_users(std::string cargo_id) = 0;
  virtual Async<void> touch_cargo(std::string id, TimePoint now) = 0;
  virtual Async<void> delete_cargo(std::string id, TimePoint now) = 0;
  // Managed cargos whose sandbox is deleted or missing (orphans), not yet deleted.
  virtual Async<std::vector<Cargo>> list_orphan_cargos() = 0;
  // Next host uid for a new cargo: base, base + 1, ... — monotonic and persisted, so a
  // uid is never handed out twice, not even after its cargo was deleted.
  virtual Async<std::uint32_t> allocate_uid(std::uint32_t base) = 0;

  // --- sessions
  virtual Async<void> save_session(SessionRecord session) = 0;  // insert or replace
  // The sandbox's current session (state starting/ready/failed), if any.
  virtual Async<std::optional<SessionRecord>> active_session(std::string sandbox_id) = 0;
  virtual Async<std::vector<SessionRecord>> list_active_sessions() = 0;
  virtual Async<void> set_session_idle_expiry(std::string session_id,
                                              std::optional<TimePoint> idle_expires_at) = 0;
  // Marks the session stopped (it no longer counts as active).
  virtual Async<void> end_session(std::string session_id) = 0;

  // --- execution history
  virtual Async<void> insert_execution(Execution e) = 0;
  virtual Async<HistoryPage> query_history(HistoryQuery q) = 0;
  virtual Async<std::optional<Execution>> last_execution(std::string owner, std::string sandbox_id,
                                                         std::optional<std::string> exec_type) = 0;
  virtual Async<std::optional<Execution>> find_execution(std::string owner, std::string sandbox_id,
                                                         std::string execution_id) = 0;
  virtual Async<std::optional<Execution>> annotate_execution(std::string owner,
                                                             std::string sandbox_id,
                                                             std::string execution_id,
                                                             Annotation a) = 0;

  // --- idempotency keys (§7): only successful answers are stored
  virtual Async<std::optional<IdempotencyRecord>> find_idempotency(std::string owner,
                                                                   std::string key) = 0;
  virtual Async<void> save_idempotency(IdempotencyRecord record) = 0;  // insert or replace
  virtual Async<std::int64_t> purge_idempotency(TimePoint now) = 0;    // drops expired rows

  // --- settings (small key/value facts such as the generated API key's hash)
  virtual Async<std::optional<std::string>> get_setting(std::string key) = 0;
  virtual Async<void> put_setting(std::string key, std::string value) = 0;
};

}  // namespace shipyard::bay
