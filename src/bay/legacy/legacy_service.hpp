// The legacy Shipyard /ship API on Bay's core (legacy-api.md): a ship is a v1 sandbox of
// LEGACY_OWNER with an eagerly started session; sessions (X-SESSION-ID) are per-session
// workspaces and interpreters inside that one Ship runtime. This service owns allocation
// (§5: reuse, restore, attach, create under MAX_SHIP_NUM with reject or a FIFO wait), the
// lifetime model (§6: sliding session expiries, stop at expiry by its own reaper,
// independent of the v1 GC switches), the operations (§7, §8) and persistence through
// LegacyStore so that ships and sessions survive a Bay restart.
//
// The in-memory tables are authoritative for the running Bay; every change is mirrored to
// the store (in issue order). Threading: everything runs on Bay's I/O executor; each
// allocation decision (and every other state change) happens between suspension points,
// which is the "one lock" of §5 — no runtime start or Ship call happens inside it.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/http/verb.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bay/config/config.hpp"
#include "bay/domain/clock.hpp"
#include "bay/domain/sandbox_service.hpp"
#include "bay/domain/session_manager.hpp"
#include "bay/legacy/capacity_queue.hpp"
#include "bay/store/legacy_store.hpp"
#include "bay/store/store.hpp"
#include "common/async_event.hpp"
#include "common/json.hpp"

namespace shipyard::bay::legacy {

// POST /ship, validated by the caller.
struct ShipRequest {
  std::string session_id;
  std::int64_t ttl = 0;
  std::optional<double> cpus;
  std::optional<std::string> memory;  // a valid memory size (parse_memory)
  std::int64_t max_session_num = 1;
};

// A ship as the API renders it (§4).
struct ShipView {
  LegacyShip ship;
  std::int64_t current_session_num = 0;
  std::optional<std::string> container_id;
  std::optional<std::string> ip_address;
};

// How exec reaches Ship for one `type` (§8.1).
struct ShipOperation {
  boost::beast::http::verb method;
  std::string path;
};
std::optional<ShipOperation> find_operation(std::string_view type);

// The captured output of a runtime, by its v1 session id ("" when none). Runs on the I/O
// executor, so it must be quick (a bounded file read).
using LogReader = std::function<std::string(const std::string& runtime_session_id)>;
// Reads the last `max_bytes` of <sessions_dir>/<session id>/ship.log (the process driver's
// capture of Ship's stdout and stderr).
LogReader file_log_reader(std::string sessions_dir, std::size_t max_bytes);

// "Ship returned <status>: <body>" (the body made valid UTF-8 and bounded).
std::string ship_returned(unsigned status, std::string_view body);

class LegacyService {
 public:
  LegacyService(boost::asio::any_io_executor io, LegacyStore& legacy_store, Store& store,
                SandboxService& sandboxes, SessionManager& sessions, const BayConfig& config,
                const Clock& clock, LogReader logs = {});
  ~LegacyService();

  // Start-up: loads ships and sessions from the store (after SessionManager::recover) and
  // forgets ships whose sandbox is gone.
  boost::asio::awaitable<void> recover();
  // The expiry reaper: sweeps about every second (lateness ≤ 1 s, §6).
  void start_reaper();
  void stop_reaper();

  // POST /ship (§5). `abandon` (may be null) is set when the client went away: a waiting
  // request then leaves the queue. Errors: kUnavailable 503 "Maximum number of ships
  // reached", kTimeout 408 "Timeout waiting for available ship slot", kInternal 500 with
  // the reason the ship could not be started.
  boost::asio::awaitable<Result<ShipView>> allocate(ShipRequest req,
                                                    std::shared_ptr<AsyncEvent> abandon);

  // §7. kNotFound "Ship not found" for unknown ships (and stopped ones for extend).
  boost::asio::awaitable<Result<ShipView>> get(std::string id);
  boost::asio::awaitable<Result<std::vector<ShipView>>> list_running();
  boost::asio::awaitable<Status> remove(std::string id);
  boost::asio::awaitable<Result<ShipView>> extend(std::string id, std::int64_t ttl);
  boost::asio::awaitable<Result<std::string>> logs(std::string id);

  // §8.1: forwards one operation with the caller's X-SESSION-ID and returns Ship's JSON
  // answer. Every failure is kInvalidArgument (400) with the message of §8.1.
  boost::asio::awaitable<Result<json::value>> exec(std::string id, std::string session_id,
                                                   std::string type, json::object payload);

  // §8.3/§8.4: the checks before a transfer and the runtime to stream through.
  // kNotFound "Ship not found or not running", kForbidden "Session does not have access to
  // this ship"; kInternal when the runtime could not be (re)started.
  boost::asio::awaitable<Result<std::unique_ptr<SessionLease>>> open_transfer(
      std::string id, std::string session_id);
  // A transfer succeeded: slides the session's expiry (§6).
  boost::asio::awaitable<void> session_used(std::string id, std::string session_id);

  // Stops every running ship whose expiry has passed; returns how many it stopped.
  boost::asio::awaitable<int> sweep();
  // Forgets ships whose sandbox was deleted behind the legacy API's back (through /v1).
  boost::asio::awaitable<void> reconcile();

  // Introspection (tests, metrics).
  std::int64_t slots_in_use() const { return capacity_.in_use(); }
  std::size_t waiting() const { return capacity_.waiting(); }

 private:
  enum class Phase { kStarting, kRunning, kStopped };
  struct ShipState {
    explicit ShipState(boost::asio::any_io_executor ex) : settled(std::move(ex)) {}
    LegacyShip rec;
    Phase phase = Phase::kStopped;
    std::uint64_t order = 0;  // creation order
    bool holds_slot = false;
    bool gone = false;   // deleted or forgotten; coroutines holding it must stop
    AsyncEvent settled;  // set when a start (create or restore) ends
    std::string last_logs;
  };
  using ShipPtr = std::shared_ptr<ShipState>;

  enum class SlotResult { kAcquired, kRejected, kTimedOut, kAbandoned };
  boost::asio::awaitable<SlotResult> take_slot(std::chrono::steady_clock::time_point deadline,
                                               std::shared_ptr<AsyncEvent> abandon, bool first,
                                               std::string session_id);
  boost::asio::awaitable<Result<ShipView>> create(ShipRequest req);
  boost::asio::awaitable<Result<ShipView>> restore(ShipPtr ship, std::string session_id,
                                                   std::int64_t ttl);
  boost::asio::awaitable<Result<ShipView>> attach(ShipPtr ship, std::string session_id,
                                                  std::int64_t ttl);
  // Ensures the ship's runtime runs (starting it if needed) and leases it.
  boost::asio::awaitable<Result<std::unique_ptr<SessionLease>>> runtime(ShipPtr ship);
  boost::asio::awaitable<Status> prepare_session(SessionLease& lease, std::string session_id);
  boost::asio::awaitable<void> stop_ship(ShipPtr ship);
  // Removes the ship from memory at once (sessions detached, slot released, waiters woken).
  void drop(ShipPtr ship);
  // drop() and delete its rows (its sandbox is already gone).
  boost::asio::awaitable<void> forget(ShipPtr ship);
  // drop(), then delete the sandbox (runtime, managed cargo) and the rows.
  boost::asio::awaitable<Status> destroy_ship(ShipPtr ship);
  // Saves the ship and, unless `session_id` is empty, that session of it.
  boost::asio::awaitable<Status> persist(ShipPtr ship, std::string session_id);
  boost::asio::awaitable<ShipView> view(ShipPtr ship);
  boost::asio::awaitable<void> reaper_loop();

  ShipPtr find_ship(const std::string& id) const;
  std::vector<const LegacySession*> sessions_of(const std::string& ship_id) const;
  std::int64_t session_count(const std::string& ship_id) const;
  void release_slot(ShipState& ship);
  static Error slot_error(SlotResult r);
  // The 500 of a ship that could not be started (`deleted`: removed meanwhile).
  Error start_failure(const Error& e, bool deleted) const;

  boost::asio::any_io_executor io_;
  LegacyStore& legacy_store_;
  Store& store_;
  SandboxService& sandboxes_;
  SessionManager& sessions_;
  const BayConfig& config_;
  const Clock& clock_;
  LogReader logs_;
  CapacityQueue capacity_;
  std::map<std::string, ShipPtr> ships_;                           // by ship (sandbox) id
  std::map<std::string, LegacySession> attached_;                  // by session id
  std::map<std::string, std::shared_ptr<AsyncEvent>> allocating_;  // session id → in progress
  std::uint64_t next_order_ = 0;
  std::optional<boost::asio::steady_timer> reaper_timer_;
  bool reaping_ = false;
};

}  // namespace shipyard::bay::legacy
