// Sessions behind sandboxes (bay-api-v1.md §6.3, §6.10): started lazily by the first
// capability call, exactly one start per sandbox however many calls race, torn down by
// stop/delete/idle reclaim without waiting for a start or a running call, noticed dead
// and replaced, and re-attached after a Bay restart.
//
// The in-memory table is authoritative for the running Bay; every transition is
// mirrored to the store (in issue order, on the store's single thread) so that a
// restarted Bay can find its runtimes again.
//
// Threading: everything runs on Bay's I/O executor. State changes happen between
// suspension points, so they are atomic without locks; no lock is ever held across a
// runtime start, a health wait or a call (§6.10.2).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "bay/config/config.hpp"
#include "bay/domain/clock.hpp"
#include "bay/domain/model.hpp"
#include "bay/domain/runtime_ready.hpp"
#include "bay/drivers/driver.hpp"
#include "bay/runtime/ship_client.hpp"
#include "bay/store/store.hpp"
#include "common/async_event.hpp"

namespace shipyard::bay {

struct SessionSettings {
  std::string instance_id = "bay";
  std::chrono::milliseconds ready_timeout{120'000};  // overall wait for /health (§10.1)
  std::chrono::milliseconds probe_budget{2'000};     // one health probe
  std::chrono::milliseconds meta_budget{5'000};
};

struct SessionView {
  enum class State { kNone, kStarting, kReady, kFailed };
  State state = State::kNone;
  std::string session_id;
  std::optional<TimePoint> idle_expires_at;
  std::optional<std::string> version;             // runtime version from /meta
  std::vector<std::string> runtime_capabilities;  // capabilities /meta lists
  int inflight = 0;
};

struct Runtime;
class SessionManager;

// A runtime launched and checked ahead of time (the warm pool), ready to be parked.
struct PreparedRuntime {
  std::string session_id;
  RuntimeHandle handle;
  std::unique_ptr<ShipClient> client;
  RuntimeMeta meta;
};

// A running session lent to one capability call. While it lives the session counts an
// in-flight call (idle reclaim skips it). Must not outlive the SessionManager.
class SessionLease {
 public:
  SessionLease(std::shared_ptr<Runtime> rt, SessionManager* mgr);
  ~SessionLease();
  SessionLease(const SessionLease&) = delete;
  SessionLease& operator=(const SessionLease&) = delete;

  ShipClient& ship();
  const std::string& session_id() const;
  const std::vector<std::string>& runtime_capabilities() const;
  // The call could not reach the runtime: the next acquire re-checks it instead of
  // trusting it.
  void mark_broken();

 private:
  std::shared_ptr<Runtime> rt_;
  SessionManager* mgr_;
};

class SessionManager {
 public:
  SessionManager(boost::asio::any_io_executor io, Store& store, Driver& driver, const Clock& clock,
                 SessionSettings settings);
  ~SessionManager();

  // Ensures the sandbox has a ready session, starting one if needed, and leases it.
  // Waits for a start in progress until `wait_deadline` (then kUnavailable,
  // session_not_ready). A failed start is returned as its error; the next call retries.
  // With `max_sessions_per_owner` > 0, a start that would give the sandbox's owner more
  // running (starting or ready) sessions than that is refused with kQuotaExceeded; the
  // count and the new entry happen without a suspension point in between.
  // `cargo` (the sandbox's) is only needed to start a session; without it, it is read
  // from the store when a start is due, so a call to a running session costs no lookup.
  boost::asio::awaitable<Result<std::unique_ptr<SessionLease>>> acquire(
      const Sandbox& sandbox, const Profile& profile, std::optional<Cargo> cargo,
      std::chrono::steady_clock::time_point wait_deadline, std::int64_t max_sessions_per_owner = 0);

  // Running (starting or ready) sessions of `owner`.
  std::int64_t running_sessions(const std::string& owner) const;

  // Destroys the sandbox's session, if any. Observable at once; runtime teardown
  // finishes in the background. Never waits for a start or for in-flight calls.
  boost::asio::awaitable<Status> stop(const std::string& sandbox_id);

  // Refreshes idle expiry when a session is ready; returns whether one is.
  boost::asio::awaitable<bool> keepalive(const std::string& sandbox_id, const Profile& profile);

  SessionView view(const std::string& sandbox_id) const;

  // Live health of a ready session within `deadline` (nullopt: not ready or no answer).
  boost::asio::awaitable<std::optional<bool>> probe_health(
      const std::string& sandbox_id, std::chrono::steady_clock::time_point deadline);

  // Start-up: re-attach the sessions recorded in the store whose runtimes still live,
  // end the others, and report runtimes of this instance that no session knows.
  boost::asio::awaitable<void> recover();

  // Sandboxes with a ready session (for idle reclaim).
  std::vector<std::string> sandboxes_with_sessions() const;

  // Idle reclaim (§6.3, §13.1): destroys the session if, checked atomically now, it is
  // ready, has no call in flight and its idle deadline passed. Returns whether it did.
  boost::asio::awaitable<bool> reclaim_if_idle(const std::string& sandbox_id, TimePoint now);

  // Whether any session (starting or ready) currently uses the given runtime session id,
  // or the id is reserved (a warm runtime).
  bool knows_session(const std::string& session_id) const;
  void reserve_session_id(const std::string& session_id) { reserved_.insert(session_id); }
  void release_session_id(const std::string& session_id) { reserved_.erase(session_id); }

  // Gives a new sandbox a prepared (warm) runtime. It stays invisible — view() reads
  // kNone, keepalive and health see no session — until the first acquire() adopts it
  // without a start. Idle reclaim and stop treat it like a ready session.
  boost::asio::awaitable<void> park(const Sandbox& sandbox, const Profile& profile,
                                    PreparedRuntime prepared);

 private:
  friend class SessionLease;

  boost::asio::awaitable<void> start_runtime(std::shared_ptr<Runtime> rt, SessionSpec spec);
  boost::asio::awaitable<void> fail(std::shared_ptr<Runtime> rt, Error error);
  boost::asio::awaitable<void> retire(std::shared_ptr<Runtime> rt);
  boost::asio::awaitable<void> destroy_runtime(std::shared_ptr<Runtime> rt);
  boost::asio::awaitable<void> persist(std::shared_ptr<Runtime> rt);
  boost::asio::awaitable<void> save_idle_expiry(std::shared_ptr<Runtime> rt);
  void release(Runtime& rt);

  boost::asio::any_io_executor io_;
  Store& store_;
  Driver& driver_;
  const Clock& clock_;
  SessionSettings settings_;
  std::map<std::string, std::shared_ptr<Runtime>> runtimes_;  // by sandbox id
  std::set<std::string> reserved_;                            // warm runtime session ids
};

// The session environment handed to Ship (ship-api.md §4.1): BAY_SANDBOX_ID,
// BAY_SESSION_ID, BAY_WORKSPACE_PATH, BAY_PROFILE_ENV (JSON) and the profile's env.
std::vector<std::pair<std::string, std::string>> session_environment(const Sandbox& sandbox,
                                                                     const std::string& session_id,
                                                                     const Profile& profile);

}  // namespace shipyard::bay
