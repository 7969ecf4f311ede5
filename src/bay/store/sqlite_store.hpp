// Store on SQLite: a file in WAL mode for Bay, or ":memory:" for domain unit tests (same
// code, same schema).
//
// Threading: the store owns one database thread, the only thread that ever touches the
// SQLite connection. Every method posts its work there and resumes the awaiting coroutine
// on that coroutine's own executor, so callers never block and may call from any executor
// and thread, concurrently. Work runs in call order, one operation at a time.
// Destruction waits for the queued operations to finish, then closes the database; the
// store must outlive every coroutine awaiting it.
#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/thread_pool.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bay/store/legacy_store.hpp"
#include "bay/store/skill_store.hpp"
#include "bay/store/store.hpp"

namespace shipyard::bay {

namespace sqlite {
class SqliteDb;
}

class SqliteStore : public Store, public SkillStore, public LegacyStore {
 public:
  // Opens or creates the database at `path` (":memory:" for a private in-memory database),
  // applies pending schema migrations and refuses a database written by a newer Bay.
  // Runs synchronously on the calling thread. `io` is the executor of the store's users;
  // results are delivered on each awaiting coroutine's executor, so it is informational.
  static Result<std::unique_ptr<SqliteStore>> open(std::string path,
                                                   boost::asio::any_io_executor io);
  ~SqliteStore() override;
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  // --- sandboxes
  Async<void> create_sandbox(Sandbox sandbox, std::optional<Cargo> managed_cargo) override;
  Async<std::optional<Sandbox>> find_sandbox(std::string id) override;
  Async<std::vector<Sandbox>> list_sandboxes(std::string owner, std::optional<ListCursor> after,
                                             std::int64_t limit) override;
  Async<std::vector<Sandbox>> list_live_sandboxes() override;
  Async<std::int64_t> count_live_sandboxes(std::string owner) override;
  Async<void> set_sandbox_expiry(std::string id, std::optional<TimePoint> expires_at) override;
  Async<std::optional<Cargo>> delete_sandbox(std::string id, TimePoint now) override;

  // --- cargos
  Async<void> create_cargo(Cargo cargo) override;
  Async<std::optional<Cargo>> find_cargo(std::string id) override;
  Async<std::vector<Cargo>> list_cargos(std::string owner, bool managed,
                                        std::optional<ListCursor> after,
                                        std::int64_t limit) override;
  Async<std::vector<std::string>> cargo_users(std::string cargo_id) override;
  Async<void> touch_cargo(std::string id, TimePoint now) override;
  Async<void> delete_cargo(std::string id, TimePoint now) override;
  Async<std::vector<Cargo>> list_orphan_cargos() override;
  Async<std::uint32_t> allocate_uid(std::uint32_t base) override;

  // --- sessions
  Async<void> save_session(SessionRecord session) override;
  Async<std::optional<SessionRecord>> active_session(std::string sandbox_id) override;
  Async<std::vector<SessionRecord>> list_active_sessions() override;
  Async<void> set_session_idle_expiry(std::string session_id,
                                      std::optional<TimePoint> idle_expires_at) override;
  Async<void> end_session(std::string session_id) override;

  // --- execution history
  Async<void> insert_execution(Execution e) override;
  // Not part of Store: inserts many entries in one transaction (all or none). Exists for
  // bulk loads in tests and benchmarks, where one transaction per row would dominate.
  Async<void> insert_executions(std::vector<Execution> batch);
  Async<HistoryPage> query_history(HistoryQuery q) override;
  Async<std::optional<Execution>> last_execution(std::string owner, std::string sandbox_id,
                                                 std::optional<std::string> exec_type) override;
  Async<std::optional<Execution>> find_execution(std::string owner, std::string sandbox_id,
                                                 std::string execution_id) override;
  Async<std::optional<Execution>> annotate_execution(std::string owner, std::string sandbox_id,
                                                     std::string execution_id,
                                                     Annotation a) override;

  // --- idempotency keys
  Async<std::optional<IdempotencyRecord>> find_idempotency(std::string owner,
                                                           std::string key) override;
  Async<void> save_idempotency(IdempotencyRecord record) override;
  Async<std::int64_t> purge_idempotency(TimePoint now) override;

  // --- settings
  Async<std::optional<std::string>> get_setting(std::string key) override;
  Async<void> put_setting(std::string key, std::string value) override;

  // --- skills lifecycle (sqlite_skills.cpp). Their writes count as mutating calls for the
  // test hooks below: insert_skill_payload, insert_candidate, record_evaluation,
  // delete_candidate, apply_skill_plan, delete_release.
  Async<void> insert_skill_payload(SkillPayload payload) override;
  Async<std::optional<SkillPayload>> find_skill_payload(std::string owner, std::string id) override;
  Async<std::vector<std::string>> missing_executions(std::string owner,
                                                     std::vector<std::string> ids) override;
  Async<void> insert_candidate(SkillCandidate candidate) override;
  Async<std::optional<SkillCandidate>> find_candidate(std::string owner, std::string id) override;
  Async<CandidatePage> list_candidates(CandidateQuery query) override;
  Async<std::optional<SkillCandidate>> record_evaluation(SkillEvaluation evaluation,
                                                         std::string status) override;
  Async<CandidateDeletion> delete_candidate(std::string owner, std::string id,
                                            Deletion deletion) override;
  Async<std::optional<SkillRelease>> find_release(std::string owner, std::string id) override;
  Async<ReleasePage> list_releases(ReleaseQuery query) override;
  Async<std::optional<SkillRelease>> previous_release(std::string owner, std::string skill_key,
                                                      std::int64_t below) override;
  Async<SkillRelease> apply_skill_plan(std::string owner, std::string skill_key,
                                       std::optional<std::string> candidate_id,
                                       SkillPlanner planner) override;
  Async<std::optional<SkillRelease>> delete_release(std::string owner, std::string id,
                                                    Deletion deletion) override;
  Async<std::vector<ExecutionSample>> release_samples(std::string owner, std::string release_id,
                                                      TimePoint from, TimePoint to) override;

  // --- legacy /ship API (sqlite_legacy.cpp). save_legacy_ship and delete_legacy_ship count
  // as mutating calls for the test hooks below.
  Async<void> save_legacy_ship(LegacyShip ship, std::vector<LegacySession> sessions) override;
  Async<void> delete_legacy_ship(std::string id) override;
  Async<std::vector<LegacyShip>> list_legacy_ships() override;
  Async<std::vector<LegacySession>> list_legacy_sessions() override;

  // --- test hooks (fault injection, STYLE.md "make the N-th store call fail")
  // Mutating methods are the ones that may change the database: create_*, set_*, delete_*,
  // touch_cargo, allocate_uid, save_session, end_session, insert_execution(s),
  // annotate_execution, put_setting.
  //
  // After fail_writes_after(n) with n >= 0, the next n mutating calls behave normally and
  // the one after them fails with kInternal "database error" without touching the
  // database; later calls succeed again (one failure per arming). n < 0 disarms.
  void fail_writes_after(int n);
  // Mutating calls made so far, including ones that failed (injected or not). Tests use the
  // difference across an operation to learn how many writes it makes.
  int write_count() const { return writes_.load(); }

  // The schema version this build creates and understands (PRAGMA user_version).
  static int schema_version();

 private:
  explicit SqliteStore(std::unique_ptr<sqlite::SqliteDb> db);

  // Counts a mutating call; returns the injected failure when this is the armed one.
  std::optional<Error> count_write();

  std::unique_ptr<sqlite::SqliteDb> db_;
  boost::asio::thread_pool thread_{1};
  std::atomic<int> writes_{0};
  std::atomic<int> fail_at_{-1};  // absolute write index to fail, -1: disarmed
};

}  // namespace shipyard::bay
